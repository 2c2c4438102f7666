"""The record of a run: :class:`Result`, every evaluation in order, and its JSON form.

The record is written to disk, and read back, by :mod:`botorch_joint.persistence` (the
checkpoint and the journal of a run directory). Its JSON form (:meth:`Result.to_json_dict`)
is strict JSON: JSON has no NaN or infinity, so non-finite numbers are encoded
(:func:`encode_array`, :func:`encode_value`) and read back exactly (:func:`decode_value`).

The names of the persistence layer (:func:`~botorch_joint.persistence.load_result`,
:func:`~botorch_joint.persistence.save_checkpoint`, ``CheckpointError``...) were once
defined here and are still importable from here.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from botorch_joint.problems.base import RESERVED_NAMES, Evaluation

__all__ = ["FORMAT_VERSION", "Result", "decode_value", "encode_array", "encode_value"]

#: version of the JSON form of a :class:`Result` (the checkpoint's ``format_version``)
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
        """The result as strict JSON types; :meth:`from_json_dict` reads it back exactly.

        Non-finite numbers are encoded: see :func:`encode_array` and :func:`encode_value`.
        """
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


# ------------------------------------------------- names that moved to persistence
#: where the names once defined here live now: every name of its ``__all__``
_MOVED_TO = "botorch_joint.persistence"


def __getattr__(name: str) -> Any:
    """The persistence names once defined here, loaded from where they live now."""
    if not name.startswith("_"):  # a probe for a private name or dunder loads nothing
        persistence = importlib.import_module(_MOVED_TO)
        if name in persistence.__all__:
            return getattr(persistence, name)
    raise AttributeError(f"module 'botorch_joint.result' has no attribute {name!r}")
