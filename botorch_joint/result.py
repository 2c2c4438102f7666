"""The record of a run (:class:`Result`) and its checkpoint on disk.

A run directory holds ``checkpoint.json``, rewritten atomically (temporary file, fsync,
rename) after every batch, and ``journal.jsonl``, to which each evaluation of the batch
in flight is appended the moment it finishes. Together they lose no finished
evaluation whenever the process is killed.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.problems.base import Evaluation

CHECKPOINT = "checkpoint.json"
JOURNAL = "journal.jsonl"
FORMAT_VERSION = 1


@dataclass
class Result:
    """Every evaluation of a run, in order, with the problem's names.

    Attributes:
        X: ``(n, d)`` evaluated points in the problem's units.
        Y: ``(n, m)`` objectives (NaN rows for failed evaluations).
        C: ``(n, k)`` constraint values (satisfied iff ``>= 0``).
        failed: ``(n,)`` whether each evaluation failed.
        epoch: ``(n,)`` epoch of each evaluation; 0 for the initial design.
        errors: ``n`` failure messages (``None`` for successes).
        eval_seconds: ``(n,)`` wall time of each evaluation.
    """

    problem_name: str
    parameter_names: list[str]
    objective_names: list[str]
    constraint_names: list[str]
    X: np.ndarray
    Y: np.ndarray
    C: np.ndarray
    failed: np.ndarray
    epoch: np.ndarray
    errors: list[str | None] = field(default_factory=list)
    eval_seconds: np.ndarray | None = None
    ref_point: np.ndarray | None = None
    max_hv: float | None = None
    method: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    timings: list[dict[str, float]] = field(default_factory=list)
    complete: bool = False

    @classmethod
    def empty(cls, problem: Any, method: str = "", settings: dict | None = None) -> Result:
        """A result with no evaluations for ``problem``."""
        d, m, k = problem.dim, problem.num_objectives, problem.num_constraints
        return cls(
            problem_name=problem.name,
            parameter_names=list(problem.parameter_names),
            objective_names=list(problem.objective_names),
            constraint_names=list(problem.constraint_names),
            X=np.empty((0, d)),
            Y=np.empty((0, m)),
            C=np.empty((0, k)),
            failed=np.empty(0, dtype=bool),
            epoch=np.empty(0, dtype=int),
            errors=[],
            eval_seconds=np.empty(0),
            ref_point=None if problem.ref_point is None else np.asarray(problem.ref_point),
            max_hv=problem.max_hv,
            method=method,
            settings=dict(settings or {}),
        )

    # ----------------------------------------------------------------- access
    def __len__(self) -> int:
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        # The dataclass default prints every array: thousands of lines for a real run.
        hv = self._final_hypervolume()
        return (
            f"Result(problem={self.problem_name!r}, method={self.method!r}, n={len(self)}, "
            f"feasible={int(self.feasible.sum())}, failed={int(self.failed.sum())}"
            + ("" if hv is None else f", hypervolume={hv:.6g}")
            + ("" if self.complete else ", complete=False")
            + ")"
        )

    def _final_hypervolume(self) -> float | None:
        """Hypervolume of the feasible front; ``None`` without a reference point or data."""
        if self.ref_point is None or len(self) == 0:
            return None
        from botorch_joint.metrics import hypervolume

        return hypervolume(self.pareto()[1], self.ref_point)

    @property
    def feasible(self) -> np.ndarray:
        """``(n,)``: succeeded and every constraint satisfied."""
        if len(self) == 0:
            return np.empty(0, dtype=bool)
        ok = ~self.failed
        if self.C.shape[1]:
            with np.errstate(invalid="ignore"):
                ok &= np.all(self.C >= 0, axis=1)
        return ok

    def pareto(self) -> tuple[np.ndarray, np.ndarray]:
        """Feasible non-dominated points: ``(X (p, d), Y (p, m))``."""
        from botorch_joint.metrics import non_dominated

        feas = self.feasible
        X, Y = self.X[feas], self.Y[feas]
        if len(Y) == 0:
            return X, Y
        mask = non_dominated(Y)
        return X[mask], Y[mask]

    def hypervolume_history(self, ref_point: np.ndarray | None = None) -> np.ndarray:
        """``(n,)`` hypervolume of the feasible points after each evaluation."""
        from botorch_joint.metrics import hypervolume_history

        ref = self.ref_point if ref_point is None else np.asarray(ref_point)
        if ref is None:
            raise ValueError(
                f"problem {self.problem_name!r} has no ref_point; pass ref_point= explicitly"
            )
        return hypervolume_history(self.Y, ref, valid=self.feasible)

    def to_dataframe(self) -> Any:
        """One row per evaluation: parameters, objectives, constraints and bookkeeping."""
        import pandas as pd

        cols: dict[str, Any] = {}
        for j, n in enumerate(self.parameter_names):
            cols[n] = self.X[:, j]
        for j, n in enumerate(self.objective_names):
            cols[n] = self.Y[:, j]
        for j, n in enumerate(self.constraint_names):
            cols[n] = self.C[:, j]
        cols["epoch"] = self.epoch
        cols["feasible"] = self.feasible
        cols["failed"] = self.failed
        cols["error"] = list(self.errors) if self.errors else [None] * len(self)
        if self.eval_seconds is not None and len(self.eval_seconds) == len(self):
            cols["eval_seconds"] = self.eval_seconds
        return pd.DataFrame(cols)

    def summary(self) -> str:
        """A few lines: evaluations, feasible share, failures, best HV."""
        n = len(self)
        feas = int(self.feasible.sum())
        lines = [
            f"{self.problem_name} / {self.method}: {n} evaluations, "
            f"{feas} feasible ({feas / max(n, 1):.1%}), {int(self.failed.sum())} failed"
        ]
        hv = self._final_hypervolume()
        if hv is not None:
            txt = f"hypervolume {hv:.6g}"
            if self.max_hv == 1.0:
                txt = f"normalised hypervolume {hv:.4f}"  # the same number twice otherwise
            elif self.max_hv:
                txt += f" (normalised {hv / self.max_hv:.4f})"
            lines.append(txt)
        return "\n".join(lines)

    # --------------------------------------------------------------- building
    def append(self, X: np.ndarray, evals: list[Evaluation], epoch: int) -> None:
        """Add ``(b, d)`` points and their evaluations as epoch ``epoch``."""
        if len(evals) == 0:
            return
        self.X = np.vstack([self.X, np.asarray(X, dtype=float).reshape(len(evals), -1)])
        self.Y = np.vstack([self.Y, np.stack([e.y for e in evals])])
        self.C = np.vstack(
            [self.C, np.stack([e.c for e in evals]).reshape(len(evals), self.C.shape[1])]
        )
        self.failed = np.concatenate([self.failed, [e.failed for e in evals]]).astype(bool)
        self.epoch = np.concatenate([self.epoch, np.full(len(evals), epoch)]).astype(int)
        self.errors = list(self.errors) + [e.error for e in evals]
        secs = np.array([e.seconds for e in evals], dtype=float)
        base = (
            self.eval_seconds if self.eval_seconds is not None else np.zeros(len(self) - len(evals))
        )
        self.eval_seconds = np.concatenate([base, secs])

    # ---------------------------------------------------------- serialisation
    def to_json_dict(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "problem_name": self.problem_name,
            "parameter_names": self.parameter_names,
            "objective_names": self.objective_names,
            "constraint_names": self.constraint_names,
            "X": self.X.tolist(),
            "Y": self.Y.tolist(),
            "C": self.C.tolist(),
            "failed": self.failed.tolist(),
            "epoch": self.epoch.tolist(),
            "errors": list(self.errors),
            "eval_seconds": None if self.eval_seconds is None else self.eval_seconds.tolist(),
            "ref_point": None if self.ref_point is None else np.asarray(self.ref_point).tolist(),
            "max_hv": self.max_hv,
            "method": self.method,
            "settings": self.settings,
            "timings": self.timings,
            "complete": self.complete,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Result:
        d = len(data["parameter_names"])
        m = len(data["objective_names"])
        k = len(data["constraint_names"])
        return cls(
            problem_name=data["problem_name"],
            parameter_names=list(data["parameter_names"]),
            objective_names=list(data["objective_names"]),
            constraint_names=list(data["constraint_names"]),
            X=np.asarray(data["X"], dtype=float).reshape(-1, d),
            Y=np.asarray(data["Y"], dtype=float).reshape(-1, m),
            C=np.asarray(data["C"], dtype=float).reshape(-1, k),
            failed=np.asarray(data["failed"], dtype=bool),
            epoch=np.asarray(data["epoch"], dtype=int),
            errors=list(data["errors"]),
            eval_seconds=None
            if data.get("eval_seconds") is None
            else np.asarray(data["eval_seconds"], dtype=float),
            ref_point=None if data.get("ref_point") is None else np.asarray(data["ref_point"]),
            max_hv=data.get("max_hv"),
            method=data.get("method", ""),
            settings=dict(data.get("settings", {})),
            timings=list(data.get("timings", [])),
            complete=bool(data.get("complete", False)),
        )

    def copy(self) -> Result:
        return Result.from_json_dict(json.loads(json.dumps(self.to_json_dict())))


# ---------------------------------------------------------------- checkpoints
def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for every other
    # file of the run (mkstemp would make the checkpoint private to its owner).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(
    run_dir: str | os.PathLike, result: Result, pending: dict[str, Any] | None = None
) -> None:
    """Atomically write ``result`` (and the batch in flight, if any) to ``run_dir``."""
    run_dir = Path(run_dir)
    state = result.to_json_dict()
    state["pending"] = pending
    write_atomic(run_dir / CHECKPOINT, json.dumps(state))
    journal = run_dir / JOURNAL
    if pending is None and journal.exists():
        journal.unlink()


def append_journal(run_dir: str | os.PathLike, epoch: int, index: int, ev: Evaluation) -> None:
    """Durably record one finished evaluation of the batch in flight."""
    rec = {
        "epoch": epoch,
        "index": index,
        "y": ev.y.tolist(),
        "c": ev.c.tolist(),
        "failed": ev.failed,
        "error": ev.error,
        "seconds": ev.seconds,
    }
    with open(Path(run_dir) / JOURNAL, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def read_journal(run_dir: str | os.PathLike, epoch: int) -> dict[int, Evaluation]:
    """Finished evaluations of the batch ``epoch`` in flight; a torn last line is ignored."""
    out: dict[int, Evaluation] = {}
    try:
        # A live run deletes its journal when it checkpoints the batch, perhaps just now.
        text = (Path(run_dir) / JOURNAL).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # the process died mid-write
        if rec.get("epoch") != epoch:
            continue
        out[int(rec["index"])] = Evaluation(
            np.asarray(rec["y"], dtype=float),
            np.asarray(rec["c"], dtype=float),
            bool(rec["failed"]),
            rec["error"],
            float(rec["seconds"]),
        )
    return out


def load_checkpoint(run_dir: str | os.PathLike) -> tuple[Result, dict[str, Any] | None]:
    """Read ``run_dir``'s checkpoint: the result so far and the batch in flight (or ``None``)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = json.loads(path.read_text())
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path}: checkpoint format {data.get('format_version')} is not {FORMAT_VERSION}"
        )
    return Result.from_json_dict(data), data.get("pending")


def load_result(run_dir: str | os.PathLike, include_in_flight: bool = True) -> Result:
    """Rebuild the :class:`Result` of a (possibly unfinished) run from its ``run_dir``.

    Args:
        run_dir: the run directory given to :func:`botorch_joint.optimize`.
        include_in_flight: also include evaluations of an interrupted batch that finished
            before the interruption (recorded in the journal).
    """
    result, pending = load_checkpoint(run_dir)
    if include_in_flight and pending is not None:
        done = read_journal(run_dir, pending["epoch"])
        if done:
            idx = sorted(done)
            X = np.asarray(pending["X"], dtype=float)[idx]
            result.append(X, [done[i] for i in idx], pending["epoch"])
    return result
