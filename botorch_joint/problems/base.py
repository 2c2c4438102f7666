"""The :class:`Problem`: parameters with bounds, objectives, constraints and a simulator.

Conventions (see ``API.md``): objectives are minimised; a constraint value ``c`` is
satisfied iff ``c >= 0``; an evaluation that raises or returns a non-finite objective is
a *failed* evaluation, recorded as such and never dropped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from botorch_joint.errors import InvalidResultError, ProblemDefinitionError

EvaluateFn = Callable[[dict[str, float]], Mapping[str, float]]
#: columns that ``Result.to_dataframe()`` and ``results.csv`` add after the problem's
#: own names; a parameter or output may not take one of them
RESERVED_NAMES = ("epoch", "feasible", "failed", "error", "eval_seconds")
BatchEvaluateFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Evaluation:
    """The outcome of evaluating one parameter vector.

    Attributes:
        y: ``(m,)`` objective values (NaN where the evaluation failed).
        c: ``(k,)`` constraint values (NaN where the evaluation failed).
        failed: whether the evaluation failed.
        error: the failure's message, ``None`` on success.
        seconds: wall time of the evaluation.
    """

    y: np.ndarray
    c: np.ndarray
    failed: bool
    error: str | None = None
    seconds: float = 0.0


def _check_names(kind: str, names: Sequence[str]) -> list[str]:
    # list("f1") would be ["f", "1"]: a lone string is one name
    names = [names] if isinstance(names, str) else list(names)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ProblemDefinitionError(f"{kind} names must be non-empty strings, got {name!r}")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ProblemDefinitionError(f"duplicate {kind[:-1]} name {name!r}")
        seen.add(name)
    return names


class Problem:
    """An expensive constrained multi-objective problem.

    Args:
        name: a short identifier, used in file names and plots.
        parameters: ``name -> (low, high)`` box bounds, in the simulator's own units.
        objectives: names of the objectives (minimised); a single string is one name.
        constraints: names of the constraints (satisfied iff value ``>= 0``).
        evaluate: ``fn(params: dict[str, float]) -> dict[str, float]`` returning every
            objective and constraint by name. Optional if ``batch_evaluate`` is given.
        batch_evaluate: optional vectorised simulator ``fn(X) -> (Y, C)`` with ``X`` of
            shape ``(n, d)``, ``Y`` of shape ``(n, m)`` and ``C`` of shape ``(n, k)``.
            Non-finite objective rows count as failed evaluations.
        ref_point: ``(m,)`` reference point for the hypervolume, in objective space.
        max_hv: the known (or best estimated) maximum hypervolume w.r.t. ``ref_point``.
        pareto_front: optional callable ``fn(n) -> (n', m)`` array sampling the true
            Pareto front, for IGD and the epsilon indicator.
        description: one line shown by the CLI.
        metadata: free-form extra information (e.g. ground-truth parameters).

    Raises:
        ProblemDefinitionError: for empty or duplicate names, a name reserved for a
            bookkeeping column (:data:`RESERVED_NAMES`), inverted or non-finite bounds
            or bounds whose span overflows, or a reference point of the wrong length.
            The message names the offending parameter or output.
    """

    #: ``(callable, args)`` that rebuilds a built-in problem by name (set by the
    #: registry, :func:`botorch_joint.problems.get`); ``None`` pickles the object itself
    _rebuild: tuple[Callable[..., Problem], tuple[Any, ...]] | None = None

    def __init__(
        self,
        name: str,
        parameters: Mapping[str, tuple[float, float]],
        objectives: Sequence[str],
        constraints: Sequence[str] = (),
        evaluate: EvaluateFn | None = None,
        batch_evaluate: BatchEvaluateFn | None = None,
        ref_point: Sequence[float] | None = None,
        max_hv: float | None = None,
        pareto_front: Callable[[int], np.ndarray] | None = None,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ProblemDefinitionError(f"problem name must be a non-empty string, got {name!r}")
        if not isinstance(parameters, Mapping) or len(parameters) == 0:
            raise ProblemDefinitionError(
                "parameters must be a non-empty mapping name -> (low, high)"
            )
        param_names = _check_names("parameters", list(parameters))
        objectives = _check_names("objectives", objectives)
        constraints = _check_names("constraints", constraints)
        if not objectives:
            raise ProblemDefinitionError("a problem needs at least one objective")
        reserved = [n for n in param_names + objectives + constraints if n in RESERVED_NAMES]
        if reserved:
            raise ProblemDefinitionError(
                f"name {reserved[0]!r} is reserved for a bookkeeping column of "
                f"Result.to_dataframe() and results.csv ({', '.join(RESERVED_NAMES)}); "
                "rename the parameter or output"
            )
        clash = set(param_names) & set(objectives + constraints)
        clash |= set(objectives) & set(constraints)
        if clash:
            raise ProblemDefinitionError(f"names used for more than one role: {sorted(clash)}")
        lower, upper = [], []
        for pname in param_names:
            bound = parameters[pname]
            try:
                lo, hi = (float(b) for b in bound)
            except (TypeError, ValueError):
                raise ProblemDefinitionError(
                    f"parameter {pname!r}: bounds must be a pair (low, high) of numbers, "
                    f"got {bound!r}"
                ) from None
            if not (math.isfinite(lo) and math.isfinite(hi)):
                raise ProblemDefinitionError(
                    f"parameter {pname!r}: bounds must be finite, got ({lo}, {hi})"
                )
            if not lo < hi:
                raise ProblemDefinitionError(
                    f"parameter {pname!r}: lower bound {lo} must be below upper bound {hi}"
                )
            if not math.isfinite(hi - lo):  # the unit-cube mapping would give inf/NaN
                raise ProblemDefinitionError(
                    f"parameter {pname!r}: bounds ({lo:g}, {hi:g}) span more than the "
                    "largest float; rescale the parameter (e.g. search its logarithm)"
                )
            lower.append(lo)
            upper.append(hi)
        if evaluate is None and batch_evaluate is None:
            raise ProblemDefinitionError("give evaluate= or batch_evaluate= (or both)")
        if evaluate is not None and not callable(evaluate):
            raise ProblemDefinitionError("evaluate must be callable")
        if batch_evaluate is not None and not callable(batch_evaluate):
            raise ProblemDefinitionError("batch_evaluate must be callable")

        self.name = name
        self.parameter_names = param_names
        self.objective_names = objectives
        self.constraint_names = constraints
        self.lower = np.asarray(lower, dtype=float)
        self.upper = np.asarray(upper, dtype=float)
        self._evaluate = evaluate
        self._batch_evaluate = batch_evaluate
        if ref_point is not None:
            ref = np.asarray(ref_point, dtype=float).reshape(-1)
            if ref.shape != (len(objectives),):
                raise ProblemDefinitionError(
                    f"ref_point has {ref.size} entries but the problem has "
                    f"{len(objectives)} objectives {objectives}"
                )
            if not np.all(np.isfinite(ref)):
                raise ProblemDefinitionError(f"ref_point must be finite, got {ref.tolist()}")
            self.ref_point: np.ndarray | None = ref
        else:
            self.ref_point = None
        if max_hv is not None and not (math.isfinite(max_hv) and max_hv > 0):
            raise ProblemDefinitionError(f"max_hv must be a positive number, got {max_hv!r}")
        self.max_hv = None if max_hv is None else float(max_hv)
        self.pareto_front = pareto_front
        self.description = description
        self.metadata: dict[str, Any] = dict(metadata or {})

    @classmethod
    def from_command(
        cls,
        command: str | Sequence[str],
        parameters: Mapping[str, tuple[float, float]],
        objectives: Sequence[str],
        constraints: Sequence[str] = (),
        timeout: float | None = None,
        workdir: str | None = None,
        keep_workdirs: bool | str = False,
        **kwargs: Any,
    ) -> Problem:
        """A problem whose every evaluation runs an external program.

        The parameters are written as ``params.json`` into a fresh working directory;
        ``{params}``, ``{output}`` and ``{workdir}`` in ``command`` (a string or a list of
        arguments) are replaced by its paths; the program writes every objective and
        constraint to ``output.json``. A non-zero exit, a timeout or missing outputs is a
        failed evaluation whose message keeps the program's stderr tail. See
        :mod:`botorch_joint.problems.command`.

        Args:
            command: the program and its arguments.
            parameters: ``name -> (low, high)``.
            objectives: objective names (minimised).
            constraints: constraint names (satisfied iff ``>= 0``).
            timeout: seconds before a run is killed; ``None`` for no limit.
            workdir: parent of the per-evaluation directories (default: system temp).
            keep_workdirs: keep the directories (``True``, or ``"failed"`` for failures).
            **kwargs: ``env`` (``name -> value`` sets a variable for the program,
                ``name -> None`` unsets one), ``name``, and :class:`Problem` arguments
                (``ref_point``, ``description``...).
        """
        from botorch_joint.problems.command import problem_from_command

        return problem_from_command(
            command,
            parameters,
            objectives,
            constraints,
            timeout=timeout,
            workdir=workdir,
            keep_workdirs=keep_workdirs,
            problem_cls=cls,
            **kwargs,
        )

    @classmethod
    def from_bluepyopt(cls, evaluator: Any = None, **kwargs: Any) -> Problem:
        """A problem from a BluePyOpt evaluator (extra ``bluepyopt``).

        The same as :func:`botorch_joint.problems.from_bluepyopt`, whose docstring lists
        the arguments (``threshold``, ``constraints``, ``on_failure``, ``factory``...).
        BluePyOpt is imported only when the evaluator is used.
        """
        from botorch_joint.problems.neuro.bluepyopt import from_bluepyopt

        return from_bluepyopt(evaluator, problem_cls=cls, **kwargs)

    # ------------------------------------------------------------------ shape
    @property
    def parameters(self) -> dict[str, tuple[float, float]]:
        """``name -> (low, high)`` in declaration order."""
        return {
            n: (float(lo), float(hi))
            for n, lo, hi in zip(self.parameter_names, self.lower, self.upper)
        }

    @property
    def dim(self) -> int:
        return len(self.parameter_names)

    @property
    def num_objectives(self) -> int:
        return len(self.objective_names)

    @property
    def num_constraints(self) -> int:
        return len(self.constraint_names)

    @property
    def bounds(self) -> np.ndarray:
        """``(2, d)`` array: first row lower bounds, second row upper bounds."""
        return np.stack([self.lower, self.upper])

    @property
    def has_batch_evaluate(self) -> bool:
        return self._batch_evaluate is not None

    def __repr__(self) -> str:
        return (
            f"Problem({self.name!r}, d={self.dim}, objectives={self.objective_names}, "
            f"constraints={self.constraint_names})"
        )

    # ------------------------------------------------------------- conversion
    def from_unit(self, U: np.ndarray) -> np.ndarray:
        """Map ``(n, d)`` points from the unit cube to the parameter box."""
        U = np.asarray(U, dtype=float)
        return self.lower + U * (self.upper - self.lower)

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        """Map ``(n, d)`` points from the parameter box to the unit cube."""
        X = np.asarray(X, dtype=float)
        return (X - self.lower) / (self.upper - self.lower)

    def check_X(self, X: np.ndarray, *, clip_tol: float = 1e-9) -> np.ndarray:
        """Validate a ``(n, d)`` array of parameter vectors and return it as floats.

        Raises:
            ValueError: wrong shape, non-finite entries, or a point outside the bounds
                (naming the parameter).
        """
        X = np.asarray(X, dtype=float)
        if X.ndim == 1 and X.shape[0] == self.dim:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(
                f"{self.name}: X must have shape (n, {self.dim}) for parameters "
                f"{self.parameter_names}, got {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            j = int(np.where(~np.isfinite(X))[1][0])
            raise ValueError(f"{self.name}: parameter {self.parameter_names[j]!r} is not finite")
        span = self.upper - self.lower
        low_bad = X < self.lower - clip_tol * span
        high_bad = X > self.upper + clip_tol * span
        if np.any(low_bad | high_bad):
            j = int(np.where(low_bad | high_bad)[1][0])
            raise ValueError(
                f"{self.name}: parameter {self.parameter_names[j]!r} outside its bounds "
                f"[{self.lower[j]}, {self.upper[j]}]"
            )
        return np.clip(X, self.lower, self.upper)

    def to_dict(self, x: np.ndarray) -> dict[str, float]:
        """One ``(d,)`` parameter vector as ``name -> value``."""
        return {n: float(v) for n, v in zip(self.parameter_names, np.asarray(x).reshape(-1))}

    # ------------------------------------------------------------- evaluation
    def parse_result(self, result: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Turn a simulator's ``dict`` into ``(y (m,), c (k,))``.

        Raises:
            InvalidResultError: if the result is not a mapping, lacks a declared output,
                or holds a non-numeric value; the message names the output.
        """
        if not isinstance(result, Mapping):
            raise InvalidResultError(
                f"{self.name}: evaluate must return a dict of outputs, got {type(result).__name__}"
            )
        missing = [n for n in self.objective_names + self.constraint_names if n not in result]
        if missing:
            raise InvalidResultError(
                f"{self.name}: result is missing declared output(s) {missing}; "
                f"got keys {sorted(map(str, result))}"
            )

        def number(key: str) -> float:
            try:
                return float(result[key])
            except (TypeError, ValueError):
                raise InvalidResultError(
                    f"{self.name}: output {key!r} must be a number, got {result[key]!r}"
                ) from None

        y = np.array([number(n) for n in self.objective_names], dtype=float)
        c = np.array([number(n) for n in self.constraint_names], dtype=float)
        return y, c

    def evaluate(self, params: Mapping[str, float] | np.ndarray) -> dict[str, float]:
        """Run the simulator on one point and return every output by name.

        Exceptions from the simulator propagate; malformed results raise
        :class:`InvalidResultError`.
        """
        x = (
            np.array([params[n] for n in self.parameter_names], dtype=float)
            if isinstance(params, Mapping)
            else np.asarray(params, dtype=float)
        )
        x = self.check_X(x)[0]
        if self._evaluate is not None:
            raw = self._evaluate(self.to_dict(x))
            y, c = self.parse_result(raw)
        else:
            Y, C = self._call_batch(x[None, :])
            y, c = Y[0], C[0]
        out = dict(zip(self.objective_names, y.tolist()))
        out.update(zip(self.constraint_names, c.tolist()))
        return out

    def _call_batch(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self._batch_evaluate is not None
        out = self._batch_evaluate(X)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise InvalidResultError(
                f"{self.name}: batch_evaluate must return a tuple (Y, C), got {type(out).__name__}"
            )
        n, m, k = X.shape[0], self.num_objectives, self.num_constraints
        Y = np.asarray(out[0], dtype=float)
        C = np.asarray(out[1], dtype=float) if out[1] is not None else np.zeros((n, 0))
        if Y.shape != (n, m):
            raise InvalidResultError(
                f"{self.name}: batch_evaluate returned Y of shape {Y.shape}, expected {(n, m)} "
                f"for objectives {self.objective_names}"
            )
        if C.shape != (n, k):
            raise InvalidResultError(
                f"{self.name}: batch_evaluate returned C of shape {C.shape}, expected {(n, k)} "
                f"for constraints {self.constraint_names}"
            )
        return Y, C

    def evaluate_point(self, x: np.ndarray) -> Evaluation:
        """Evaluate one ``(d,)`` point, turning any failure into a failed :class:`Evaluation`."""
        import time

        t0 = time.perf_counter()
        m, k = self.num_objectives, self.num_constraints
        try:
            if self._evaluate is not None:
                y, c = self.parse_result(self._evaluate(self.to_dict(x)))
            else:
                Y, C = self._call_batch(np.asarray(x, dtype=float)[None, :])
                y, c = Y[0], C[0]
        except Exception as exc:  # a simulator failure is data, not a crash
            return Evaluation(
                np.full(m, np.nan),
                np.full(k, np.nan),
                True,
                f"{type(exc).__name__}: {exc}",
                time.perf_counter() - t0,
            )
        return _finish(y, c, time.perf_counter() - t0, self.objective_names)

    def evaluate_batch(self, X: np.ndarray) -> list[Evaluation]:
        """Evaluate ``(n, d)`` points in this process.

        Uses ``batch_evaluate`` when the problem has one (falling back to point-wise
        evaluation if the vectorised call raises), else ``evaluate`` point by point.
        """
        import time

        X = self.check_X(X)
        if self._batch_evaluate is not None:
            t0 = time.perf_counter()
            try:
                Y, C = self._call_batch(X)
            except Exception:
                # One bad point must not fail its neighbours: retry one by one.
                return [self.evaluate_point(x) for x in X]
            per = (time.perf_counter() - t0) / max(len(X), 1)
            return [_finish(y, c, per, self.objective_names) for y, c in zip(Y, C)]
        return [self.evaluate_point(x) for x in X]

    def sample(
        self, n: int, seed: int | None = 0, design: str = "slh"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Evaluate ``n`` space-filling points: training data for a model of your own.

        The points come from :func:`botorch_joint.designs.sample` (the design a run
        starts with) and are evaluated in this process, like :meth:`evaluate_batch`.

        Args:
            n: number of points.
            seed: seed of the design (``None`` for fresh randomness).
            design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"``.

        Returns:
            ``(X (n, d), Y (n, m), C (n, k))`` NumPy arrays, ``X`` in the problem's
            units. A failed evaluation (see :meth:`evaluate_point`) has a non-finite
            objective in its row of ``Y`` (NaN everywhere when the simulator raised),
            as in a :class:`~botorch_joint.result.Result`.
        """
        from botorch_joint.designs import sample

        X = self.from_unit(sample(design, n, self.dim, seed))
        evaluations = self.evaluate_batch(X)
        Y = np.stack([e.y for e in evaluations]).reshape(n, self.num_objectives)
        C = np.stack([e.c for e in evaluations]).reshape(n, self.num_constraints)
        return X, Y, C

    # --------------------------------------------------------------- pickling
    def __reduce__(self):
        # Built-in problems travel to worker processes by name, not by closure.
        # The registry that built the problem leaves its rebuild recipe here, so this
        # module needs no import of the registry (which imports it).
        rebuild = getattr(self, "_rebuild", None)
        if rebuild is not None:
            return rebuild
        return super().__reduce__()


def _finish(
    y: np.ndarray, c: np.ndarray, seconds: float, objective_names: Sequence[str] = ()
) -> Evaluation:
    y = np.asarray(y, dtype=float).reshape(-1)
    c = np.asarray(c, dtype=float).reshape(-1)
    bad = [i for i in range(y.size) if not np.isfinite(y[i])]
    if bad:
        names = list(objective_names) or [f"objective {i}" for i in range(y.size)]
        what = ", ".join(f"{names[i]!r} = {y[i]}" for i in bad)
        return Evaluation(y, c, True, f"non-finite objective value(s): {what}", seconds)
    # A constraint the simulator could not compute (NaN) counts as violated; +-inf are
    # clear answers (satisfied / violated by any margin) and stay as they are.
    c = np.where(np.isnan(c), -np.inf, c)
    return Evaluation(y, c, False, None, seconds)
