"""The record of a run (:class:`Result`) and its checkpoint on disk.

A run directory holds ``checkpoint.json``, rewritten atomically (temporary file, fsync,
rename) as every batch starts, and ``journal.jsonl``, to which each evaluation of the
batch in flight is appended (and fsynced) the moment it finishes. Together they lose no
finished evaluation whenever the process is killed. Journal records carry their batch
and point, so that a record is only ever applied to the point it was computed for, and
"started" lines tell a resumed run which point was running when the process died (see
:func:`read_journal`). Both files are strict JSON: non-finite numbers are encoded and
read back exactly. :func:`load_checkpoint` checks a checkpoint before it is used and
names the file and the field of any inconsistency (:class:`CheckpointError`).
"""

from __future__ import annotations

import json
import math
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.errors import UsageError
from botorch_joint.problems.base import RESERVED_NAMES, Evaluation

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

        clash = [
            n
            for n in self.parameter_names + self.objective_names + self.constraint_names
            if n in RESERVED_NAMES
        ]
        if clash:  # a column would silently overwrite another
            raise ValueError(
                f"names {clash} clash with the bookkeeping columns {list(RESERVED_NAMES)} "
                "of to_dataframe(); rename them"
            )
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
        """The result as strict JSON types (non-finite numbers encoded, see
        :func:`save_checkpoint`); :meth:`from_json_dict` reads it back exactly."""
        return {
            "format_version": FORMAT_VERSION,
            "problem_name": self.problem_name,
            "parameter_names": self.parameter_names,
            "objective_names": self.objective_names,
            "constraint_names": self.constraint_names,
            "X": encode_array(self.X),
            "Y": encode_array(self.Y),
            "C": encode_array(self.C),
            "failed": self.failed.tolist(),
            "epoch": self.epoch.tolist(),
            "errors": list(self.errors),
            "eval_seconds": None if self.eval_seconds is None else encode_array(self.eval_seconds),
            "ref_point": None if self.ref_point is None else encode_array(self.ref_point),
            "max_hv": encode_value(self.max_hv),
            "method": self.method,
            "settings": encode_value(self.settings),
            "timings": encode_value(self.timings),
            "complete": self.complete,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> Result:
        d = len(data["parameter_names"])
        m = len(data["objective_names"])
        k = len(data["constraint_names"])
        n = len(data["X"])  # not reshape(-1, 0): no rows and no constraints is ambiguous
        return cls(
            problem_name=data["problem_name"],
            parameter_names=list(data["parameter_names"]),
            objective_names=list(data["objective_names"]),
            constraint_names=list(data["constraint_names"]),
            X=np.asarray(data["X"], dtype=float).reshape(n, d),
            Y=np.asarray(data["Y"], dtype=float).reshape(n, m),
            C=np.asarray(data["C"], dtype=float).reshape(n, k),
            failed=np.asarray(data["failed"], dtype=bool),
            epoch=np.asarray(data["epoch"], dtype=int),
            errors=list(data["errors"]),
            eval_seconds=None
            if data.get("eval_seconds") is None
            else np.asarray(data["eval_seconds"], dtype=float),
            ref_point=None if data.get("ref_point") is None else np.asarray(data["ref_point"]),
            max_hv=decode_value(data.get("max_hv")),
            method=data.get("method", ""),
            settings=dict(decode_value(data.get("settings", {}))),
            timings=list(decode_value(data.get("timings", []))),
            complete=bool(data.get("complete", False)),
        )

    def copy(self) -> Result:
        return Result.from_json_dict(json.loads(json.dumps(self.to_json_dict(), allow_nan=False)))


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
    """Atomically write ``result`` (and the batch in flight, if any) to ``run_dir``.

    The file is strict JSON: non-finite numbers are encoded (see :func:`encode_array`
    and :func:`encode_value`) and read back exactly by :func:`load_checkpoint`.
    """
    run_dir = Path(run_dir)
    state = result.to_json_dict()
    state["pending"] = None if pending is None else encode_value(pending)
    write_atomic(run_dir / CHECKPOINT, json.dumps(state, allow_nan=False))
    journal = run_dir / JOURNAL
    if pending is None and journal.exists():
        journal.unlink()


# ------------------------------------------------------------ strict JSON
# JSON has no NaN or infinity. Numeric arrays (X, Y, C, ...) write NaN as null and
# infinities as the strings "inf" / "-inf", which np.asarray(..., dtype=float) reads
# back as they were. Free-form values (settings, timings, a batch's info) may hold
# None and strings too, so there a non-finite float becomes {"$nonfinite": "nan"}.
_NONFINITE = "$nonfinite"


def _float_token(v: float) -> Any:
    return None if math.isnan(v) else ("inf" if v > 0 else "-inf")


def encode_array(a: Any) -> Any:
    """An array as nested lists of JSON numbers: NaN -> ``null``, +-inf -> ``"inf"``/``"-inf"``."""
    arr = np.asarray(a, dtype=float)
    if np.all(np.isfinite(arr)):
        return arr.tolist()
    obj = arr.astype(object)
    bad = ~np.isfinite(arr)
    obj[bad] = [_float_token(v) for v in arr[bad]]
    return obj.tolist()


def encode_value(obj: Any) -> Any:
    """``obj`` with every non-finite float replaced by ``{"$nonfinite": "nan"|"inf"|"-inf"}``."""
    if isinstance(obj, bool | None | str | int):
        return obj
    if isinstance(obj, float | np.floating):
        v = float(obj)
        if math.isfinite(v):
            return v
        return {_NONFINITE: "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(obj, np.integer | np.bool_):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode_value(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [encode_value(v) for v in obj]
    return obj  # json.dumps says what it cannot write


def decode_value(obj: Any) -> Any:
    """The inverse of :func:`encode_value` (bare NaN/Infinity of older files pass through)."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _NONFINITE in obj:
            return float(obj[_NONFINITE])
        return {k: decode_value(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_value(v) for v in obj]
    return obj


# -------------------------------------------------------------- validation
class CheckpointError(UsageError, ValueError):
    """A checkpoint (or the files beside it) cannot be read back as a consistent run.

    The message names the file and the field at fault.
    """


_FIX = "restore the file from a backup, or move the run directory aside and start a new run"


def _read_json_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    if not raw.strip():
        raise CheckpointError(f"{path} is empty: not a checkpoint; {_FIX}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(
            f"{path} is not UTF-8 text (byte {exc.start} of {len(raw)}): not a checkpoint, "
            f"or overwritten; {_FIX}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path} is truncated or not JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}, of {len(text)} characters); {_FIX}"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path} is not a JSON object but a {type(data).__name__}: not a checkpoint; {_FIX}"
        )
    return data


def _field_error(path: Path, name: str, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: field {name!r} {why}; {_FIX}")


def _numbers(path: Path, data: dict[str, Any], name: str, shape: tuple[int | None, ...]) -> Any:
    """``data[name]`` as a float array of ``shape`` (``None``: any length)."""
    value = data[name]
    if not isinstance(value, list):
        raise _field_error(path, name, f"must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise _field_error(path, name, f"is not an array of numbers ({exc})") from None
    if arr.size == 0:
        arr = arr.reshape(tuple(0 if s is None else s for s in shape))
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = " x ".join("n" if s is None else str(s) for s in shape)
        raise _field_error(path, name, f"has shape {arr.shape}, expected ({want})")
    return arr


def _check_rows(path: Path, name: str, got: int, n: int) -> None:
    if got != n:
        raise _field_error(
            path, name, f"has {got} rows, expected {n} (one per evaluation, as in 'X')"
        )


def check_checkpoint(data: dict[str, Any], path: Path) -> None:
    """Check a checkpoint's fields against each other, naming ``path`` and the field at fault.

    Raises:
        CheckpointError: a missing field, a wrong type, or arrays whose shapes or lengths
            disagree (say ``Y`` one row shorter than ``X``).
    """
    if data.get("format_version") != FORMAT_VERSION:
        raise _field_error(
            path, "format_version", f"is {data.get('format_version')!r}, not {FORMAT_VERSION}"
        )
    required = ["problem_name", "parameter_names", "objective_names", "constraint_names"]
    required += ["X", "Y", "C", "failed", "epoch", "errors"]
    for name in required:
        if name not in data:
            raise _field_error(path, name, "is missing")
    if not isinstance(data["problem_name"], str):
        raise _field_error(path, "problem_name", "must be a string")
    dims = []
    for name in ("parameter_names", "objective_names", "constraint_names"):
        names = data[name]
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise _field_error(path, name, f"must be a list of strings, got {names!r}")
        dims.append(len(names))
    d, m, k = dims
    X = _numbers(path, data, "X", (None, d))
    n = len(X)
    if not np.all(np.isfinite(X)):
        raise _field_error(path, "X", "holds non-finite parameter values")
    _check_rows(path, "Y", len(_numbers(path, data, "Y", (None, m))), n)
    _check_rows(path, "C", len(_numbers(path, data, "C", (None, k))), n)
    for name, kinds in (("failed", (bool,)), ("epoch", (int,))):
        values = data[name]
        if not isinstance(values, list) or not all(
            isinstance(v, kinds) and (name == "failed" or not isinstance(v, bool)) for v in values
        ):
            kind = "true/false" if name == "failed" else "integers"
            raise _field_error(path, name, f"must be a list of {kind}")
        _check_rows(path, name, len(values), n)
    epochs = data["epoch"]
    if any(b < a for a, b in zip(epochs, epochs[1:])) or any(e < 0 for e in epochs):
        raise _field_error(path, "epoch", "must count up from 0 in the order of 'X'")
    errors = data["errors"]
    if not isinstance(errors, list) or not all(e is None or isinstance(e, str) for e in errors):
        raise _field_error(path, "errors", "must be a list of strings or nulls")
    _check_rows(path, "errors", len(errors), n)
    if data.get("eval_seconds") is not None:
        _check_rows(path, "eval_seconds", len(_numbers(path, data, "eval_seconds", (None,))), n)
    if data.get("ref_point") is not None:
        _numbers(path, data, "ref_point", (m,))
    for name, kind in (("settings", dict), ("timings", list), ("complete", bool)):
        if name in data and not isinstance(data[name], kind):
            raise _field_error(path, name, f"must be a {kind.__name__}")
    pending = data.get("pending")
    if pending is not None:
        if not isinstance(pending, dict) or "epoch" not in pending or "X" not in pending:
            raise _field_error(path, "pending", "must be null or a batch with 'epoch' and 'X'")
        epoch = pending["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise _field_error(path, "pending", f"has epoch {epoch!r}, not an integer >= 0")
        if epochs and epoch <= epochs[-1]:
            raise _field_error(
                path, "pending", f"is epoch {epoch}, but epoch {epochs[-1]} is already recorded"
            )
        try:
            bx = _numbers(path, pending, "X", (None, d))
        except CheckpointError as exc:
            raise _field_error(path, "pending", f"has bad points: {exc}") from None
        if not len(bx) or not np.all(np.isfinite(bx)):
            raise _field_error(path, "pending", "must hold at least one finite point")
        if data.get("complete"):
            raise _field_error(path, "pending", "is set, but the run is marked complete")


# ------------------------------------------------------------------ journal
# One JSON object per line, for the batch in flight (when the next batch is
# checkpointed, the journal keeps only that batch's lines). Each record names its batch
# ("batch": batch_id, a digest of the batch's epoch and points) and carries its row and
# point ("index", "x"), so a record of another batch or another run is never applied.
#   {"kind": "started", ...}: the point is about to go to a worker; a point started
#       by an earlier attempt of the run that neither finished nor was interrupted
#       was running when that attempt died (see BatchJournal.crashes);
#   {"kind": "interrupted", ...}: the attempt stopped in an orderly way (Ctrl-C, an
#       error of the loop) while the point was running: not the point's fault;
#   {"kind": "result", ...}: the point's evaluation, fsynced before it counts as done.
STARTED, INTERRUPTED, RESULT = "started", "interrupted", "result"


def batch_id(epoch: int, X: Any) -> str:
    """The id of a batch: a digest of its epoch and points.

    A resumed run proposes the same points for an epoch (the same seed stream), so
    the id is the same in every attempt, and records written before the batch's
    checkpoint (say by an attempt that died at once) still count for it.
    """
    import hashlib

    data = f"{int(epoch)}:".encode() + np.ascontiguousarray(X, dtype=float).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class BatchJournal:
    """What the journal says about the batch in flight.

    An attempt of the run *died* with a row in flight if it wrote the row's "started"
    line but neither its result nor an "interrupted" line. When a death leaves one row
    in flight, it is that row's own doing (*solo*); with several in flight, any one of
    them may have caused it.

    Attributes:
        done: finished evaluations by row of the batch.
        crashes: for rows not done, how many earlier attempts died with the row in
            flight.
        solo: for rows not done, how many of those deaths had no other row in flight.
        ignored: records with this batch's epoch that belong to another batch or
            another point (written by another run in this directory): never applied.
    """

    done: dict[int, Evaluation] = field(default_factory=dict)
    crashes: dict[int, int] = field(default_factory=dict)
    solo: dict[int, int] = field(default_factory=dict)
    ignored: int = 0


def _record(batch: dict[str, Any], index: int, kind: str, attempt: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "batch": batch.get("id"),
        "epoch": int(batch["epoch"]),
        "index": int(index),
        "x": [float(v) for v in batch["X"][index]],
        "attempt": attempt,
    }


def _append_record(path: Path, rec: dict[str, Any], durable: bool) -> None:
    """Append one JSON line to ``path``; ``durable`` waits until it is on disk (fsync).

    A line torn by an earlier failure (the disk was full, the process died mid-write)
    has no final newline: it is fenced off with one first, so that this record starts
    a line of its own instead of being glued to the fragment and lost with it.
    """
    line = json.dumps(rec, allow_nan=False).encode() + b"\n"
    with open(path, "ab+") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":
                line = b"\n" + line
        fh.write(line)
        fh.flush()
        if durable:
            os.fsync(fh.fileno())


def append_journal(
    run_dir: str | os.PathLike,
    batch: dict[str, Any],
    index: int,
    ev: Evaluation,
    attempt: str = "",
) -> None:
    """Durably record the evaluation of row ``index`` of ``batch``, the batch in flight.

    Raises:
        OSError: the record could not be written (disk full, read-only directory...);
            the caller must stop: the evaluation is not recorded.
    """
    rec = _record(batch, index, RESULT, attempt)
    rec.update(
        y=encode_array(ev.y),
        c=encode_array(ev.c),
        failed=bool(ev.failed),
        error=ev.error,
        seconds=encode_value(float(ev.seconds)),
    )
    _append_record(Path(run_dir) / JOURNAL, rec, durable=True)


def mark_journal(
    run_dir: str | os.PathLike,
    batch: dict[str, Any],
    indices: list[int],
    kind: str,
    attempt: str,
) -> None:
    """Record that rows ``indices`` of ``batch`` were ``"started"`` or ``"interrupted"``.

    Not fsynced: these lines must survive the death of this process (the kernel keeps
    them), not of the machine, where losing one only costs a retry.
    """
    path = Path(run_dir) / JOURNAL
    for i in indices:
        _append_record(path, _record(batch, i, kind, attempt), durable=False)


def _belongs(rec: Any, batch: dict[str, Any]) -> bool:
    """Whether a parsed journal line is a record of ``batch`` (its id and epoch)."""
    return (
        isinstance(rec, dict)
        and rec.get("epoch") == int(batch["epoch"])
        and rec.get("batch") == batch.get("id")
    )


def restart_journal(run_dir: str | os.PathLike, batch: dict[str, Any]) -> None:
    """Keep only ``batch``'s lines in the journal (its predecessors are checkpointed).

    The new journal replaces the old one by a rename, so a kill at any moment leaves
    one or the other, each holding every line of ``batch`` written so far.
    """
    path = Path(run_dir) / JOURNAL
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return
    keep, results = [], False
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if _belongs(rec, batch):
            keep.append(line + "\n")
            results = results or rec.get("kind") == RESULT
    if not keep:
        path.unlink(missing_ok=True)
    elif results:  # finished evaluations must stay on disk through a power cut too
        write_atomic(path, "".join(keep))
    else:  # "started" lines only need to outlive this process
        tmp = path.with_name(f".{JOURNAL}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.write_text("".join(keep))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def read_journal(run_dir: str | os.PathLike, batch: dict[str, Any]) -> BatchJournal:
    """What the journal holds for ``batch`` (the checkpoint's batch in flight).

    A record counts only if it carries this batch's id and epoch, a row of the batch
    and exactly that row's point; anything else (a torn line, a record of another run
    or batch) is skipped.
    """
    out = BatchJournal()
    try:
        # A live run deletes its journal when it checkpoints the batch, perhaps just now.
        text = (Path(run_dir) / JOURNAL).read_text(errors="replace")
    except FileNotFoundError:
        return out
    epoch, batch_id = int(batch["epoch"]), batch.get("id")
    X = [[float(v) for v in row] for row in batch["X"]]
    # per attempt: rows it started, finished, and left when it stopped in order
    started: dict[Any, set[int]] = {}
    ended: dict[Any, set[int]] = {}
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # torn by a failed write
        if not isinstance(rec, dict) or rec.get("epoch") != epoch:
            continue  # an older batch's, deleted with it normally
        i = rec.get("index")
        if (
            rec.get("batch") != batch_id
            or isinstance(i, bool)
            or not isinstance(i, int)
            or not 0 <= i < len(X)
            or rec.get("x") != X[i]
        ):
            out.ignored += 1
            continue
        kind, attempt = rec.get("kind"), rec.get("attempt")
        if kind == STARTED:
            started.setdefault(attempt, set()).add(i)
        elif kind == INTERRUPTED:
            ended.setdefault(attempt, set()).add(i)
        elif kind == RESULT:
            try:
                ev = Evaluation(
                    np.asarray(rec["y"], dtype=float).reshape(-1),
                    np.asarray(rec["c"], dtype=float).reshape(-1),
                    bool(rec["failed"]),
                    rec["error"],
                    float(decode_value(rec["seconds"])),
                )
            except (KeyError, TypeError, ValueError):
                out.ignored += 1
                continue
            out.done.setdefault(i, ev)
            ended.setdefault(attempt, set()).add(i)
    for attempt, rows in started.items():
        in_flight = rows - ended.get(attempt, set())  # when that attempt died
        for i in in_flight - out.done.keys():
            out.crashes[i] = out.crashes.get(i, 0) + 1
            if len(in_flight) == 1:
                out.solo[i] = out.solo.get(i, 0) + 1
    return out


# -------------------------------------------------------------- loading
def load_checkpoint(run_dir: str | os.PathLike) -> tuple[Result, dict[str, Any] | None]:
    """Read ``run_dir``'s checkpoint: the result so far and the batch in flight (or ``None``).

    Raises:
        FileNotFoundError: there is no checkpoint.
        CheckpointError: the file is not a consistent checkpoint (truncated, binary,
            a missing field, arrays of different lengths...); the message names the
            file and the field.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = _read_json_file(path)
    check_checkpoint(data, path)
    pending = data.get("pending")
    return Result.from_json_dict(data), None if pending is None else decode_value(pending)


def load_result(run_dir: str | os.PathLike, include_in_flight: bool = True) -> Result:
    """Rebuild the :class:`Result` of a (possibly unfinished) run from its ``run_dir``.

    Args:
        run_dir: the run directory given to :func:`botorch_joint.optimize`.
        include_in_flight: also include evaluations of an interrupted batch that finished
            before the interruption (recorded in the journal).

    Raises:
        FileNotFoundError: ``run_dir`` holds no checkpoint.
        CheckpointError: its checkpoint is not consistent (see :func:`load_checkpoint`).
    """
    result, pending = load_checkpoint(run_dir)
    if include_in_flight and pending is not None:
        done = read_journal(run_dir, pending).done
        if done:
            idx = sorted(done)
            X = np.asarray(pending["X"], dtype=float)[idx]
            result.append(X, [done[i] for i in idx], pending["epoch"])
    return result
