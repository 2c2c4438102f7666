"""The callable behind a BluePyOpt problem: :class:`BluePyOptEvaluate`.

It loads (or, in a worker process or MPI rank, rebuilds) the evaluator, runs its
protocols, turns BluePyOpt's penalty scores into failed or infeasible evaluations, and
adds the threshold and user constraints. Build one with
:func:`~botorch_joint.problems.neuro.bluepyopt.from_bluepyopt`, whose module docstring
explains the behaviour.
"""

from __future__ import annotations

import importlib
import math
import multiprocessing
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from botorch_joint.errors import ProblemDefinitionError

INSTALL_HINT = (
    'BluePyOpt problems need BluePyOpt, NEURON and eFEL: pip install "botorch-joint[bluepyopt]"'
)
#: the penalty BluePyOpt's eFEL features give a feature eFEL could not compute
DEFAULT_MAX_SCORE = 250.0
#: name of the constraint that ``on_failure="infeasible"`` adds
FEATURES_COMPUTED = "features_computed"
ON_FAILURE = ("fail", "infeasible")

ConstraintFn = Callable[[Mapping[str, Any]], float]
EvaluatorSource = Any  # an evaluator, a zero-argument callable, or "module:attr"


class FeatureFailure(RuntimeError):
    """eFEL could not compute a feature: the evaluation fails (``on_failure="fail"``).

    Attributes:
        objectives: names of the objectives whose score was BluePyOpt's penalty.
    """

    def __init__(self, message: str, objectives: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.objectives = list(objectives)


# ----------------------------------------------------------------- evaluators
_CACHE: dict[Any, Any] = {}  # factory key -> evaluator built in this process


def _import_attr(spec: str) -> Any:
    module, sep, attr = spec.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"an evaluator path must look like 'package.module:name', got {spec!r}")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"cannot import {module!r} for the evaluator {spec!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"{module!r} has no attribute {attr!r} (evaluator {spec!r})") from None
    return obj


def _is_evaluator(obj: Any) -> bool:
    return hasattr(obj, "objectives") and hasattr(obj, "params") and not isinstance(obj, type)


def load_evaluator(source: EvaluatorSource) -> Any:
    """Resolve ``source`` into a BluePyOpt evaluator.

    Args:
        source: an evaluator (returned as is); a zero-argument callable returning one;
            or ``"module:attr"`` naming either of them (``attr`` may be dotted,
            e.g. ``"mymodel:SimpleCell.build"``).

    Returns:
        The evaluator: an object with ``objectives`` and ``params`` (a
        ``bluepyopt.evaluators.Evaluator``).

    Raises:
        ImportError, ValueError: an unimportable path.
        TypeError: ``source`` (or what it returns) is not an evaluator.
    """
    obj = _import_attr(source) if isinstance(source, str) else source
    if not _is_evaluator(obj) and callable(obj):
        obj = obj()
    if not _is_evaluator(obj):
        raise TypeError(
            f"expected a BluePyOpt evaluator (an object with .objectives and .params, e.g. "
            f"bluepyopt.ephys.evaluators.CellEvaluator), got {type(obj).__name__} "
            f"from {source!r}"
        )
    return obj


def _factory_key(factory: Any) -> Any:
    if isinstance(factory, str):
        return factory
    try:
        return pickle.dumps(factory)
    except Exception:
        return id(factory)


def _cached_build(factory: Any) -> Any:
    key = _factory_key(factory)
    if key not in _CACHE:
        # NEURON warns about the missing display on import unless told there is no GUI
        os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
        _CACHE[key] = load_evaluator(factory)
    return _CACHE[key]


def _failure_score(objective: Any) -> float:
    """The smallest score ``objective`` gets when one of its features cannot be computed."""
    features = list(getattr(objective, "features", None) or [])
    if not features:
        return DEFAULT_MAX_SCORE
    pen = [float(getattr(f, "max_score", DEFAULT_MAX_SCORE)) for f in features]
    weights = getattr(objective, "weights", None)
    if weights is not None and len(weights) == len(pen):  # WeightedSumObjective
        pen = [w * p for w, p in zip(weights, pen) if w > 0] or pen
    weight = getattr(objective, "weight", None)
    if weight is not None and weight > 0:  # SingletonWeightObjective
        pen = [weight * p for p in pen]
    return float(min(pen))


def _constraint_name(objective: str, threshold: float) -> str:
    return f"{objective}_le_{threshold:g}sd"


# ------------------------------------------------------------------ callable
class BluePyOptEvaluate:
    """``evaluate(params) -> dict`` of a problem built by :func:`from_bluepyopt`.

    Holds the evaluator (or the factory that rebuilds it) and turns its scores into the
    problem's objectives and constraints. It pickles; see the module docstring.

    Args:
        evaluator: the BluePyOpt evaluator (``None`` to build it from ``factory``).
        factory: how another process rebuilds the evaluator (see :func:`load_evaluator`).
        threshold: ``objective -> T``: adds ``c = T - score`` per listed objective.
        constraints: ``name -> fn(responses)``, constraints on the responses.
        on_failure: ``"fail"`` or ``"infeasible"``.
        failure_value: objective value of a failed objective with ``"infeasible"``.
        isolate: run each protocol in a forked child (``True``), in this process
            (``False``), or as the evaluator says (``None``).
        failure_score: ``objective -> score`` at or above which an objective counts
            as failed (default: BluePyOpt's penalty of its features).
    """

    def __init__(
        self,
        evaluator: Any = None,
        factory: EvaluatorSource | None = None,
        threshold: Mapping[str, float] | None = None,
        constraints: Mapping[str, ConstraintFn] | None = None,
        on_failure: str = "fail",
        failure_value: float = 10.0,
        isolate: bool | None = False,
        failure_score: Mapping[str, float] | None = None,
    ) -> None:
        if evaluator is None and factory is None:
            raise ValueError("give a BluePyOpt evaluator or a factory that builds one")
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
        self.factory = factory
        self._evaluator = evaluator if evaluator is not None else _cached_build(factory)
        ev = self._evaluator
        self.parameter_names = [str(p.name) for p in ev.params]
        self.objective_names = [str(o.name) for o in ev.objectives]
        self.threshold = {str(k): float(v) for k, v in (threshold or {}).items()}
        self.user_constraints = dict(constraints or {})
        self.on_failure = on_failure
        self.failure_value = float(failure_value)
        self.isolate = isolate
        default_fail = {str(o.name): _failure_score(o) for o in ev.objectives}
        default_fail.update({str(k): float(v) for k, v in (failure_score or {}).items()})
        self.failure_score = default_fail
        if self.user_constraints and not self.has_responses:
            raise ProblemDefinitionError(
                "constraints on the responses need an evaluator that runs protocols "
                "(a CellEvaluator with fitness_protocols and fitness_calculator)"
            )

    # -------------------------------------------------------------- names
    @property
    def evaluator(self) -> Any:
        """The BluePyOpt evaluator (rebuilt from the factory after unpickling)."""
        if self._evaluator is None:
            self._evaluator = _cached_build(self.factory)
        return self._evaluator

    @property
    def has_responses(self) -> bool:
        ev = self.evaluator
        return (
            getattr(ev, "fitness_protocols", None) is not None
            and getattr(ev, "fitness_calculator", None) is not None
            and hasattr(ev, "run_protocols")
        )

    @property
    def constraint_names(self) -> list[str]:
        names = [_constraint_name(o, self.threshold[o]) for o in self.objective_names
                 if o in self.threshold]  # fmt: skip
        names += list(self.user_constraints)
        if self.on_failure == "infeasible":
            names.append(FEATURES_COMPUTED)
        return names

    # ---------------------------------------------------------- simulation
    def responses(self, params: Mapping[str, float]) -> dict[str, Any]:
        """Run every fitness protocol at ``params`` and return BluePyOpt's responses.

        Returns:
            ``recording name -> response`` (a ``TimeVoltageResponse``: ``["time"]``,
            ``["voltage"]``), ``None`` for a recording whose simulation broke.
        """
        ev = self.evaluator
        if not self.has_responses:
            raise TypeError(f"{type(ev).__name__} does not run protocols")
        values = {n: float(params[n]) for n in self.parameter_names}
        # BluePyOpt isolates (forks) unless told not to; its default of None means True
        isolate = self.isolate
        if isolate is None:
            isolate = getattr(ev, "isolate_protocols", None) in (None, True)
        if isolate and multiprocessing.current_process().daemon:
            raise RuntimeError(
                "isolated protocols run in a forked child process, which a daemonic "
                "worker (evaluator='process') may not start: build the problem with "
                "isolate=False (the default; the worker already isolates the simulation)"
            )
        if not hasattr(ev, "run_protocol"):
            return dict(ev.run_protocols(ev.fitness_protocols.values(), values))
        out: dict[str, Any] = {}
        for protocol in ev.fitness_protocols.values():
            out.update(
                ev.run_protocol(
                    protocol,
                    param_values=values,
                    isolate=bool(isolate),
                    timeout=getattr(ev, "timeout", None),
                )
            )
        return out

    def scores(self, params: Mapping[str, float]) -> tuple[dict[str, float], dict[str, Any] | None]:
        """BluePyOpt's objective scores at ``params`` and the responses they came from.

        The scores are what ``evaluator.evaluate_with_dicts`` returns (penalties
        included); the responses are ``None`` for an evaluator that does not run
        protocols.
        """
        ev = self.evaluator
        if self.has_responses:
            resp = self.responses(params)
            raw = ev.fitness_calculator.calculate_scores(resp)
        else:
            values = [float(params[n]) for n in self.parameter_names]
            raw = dict(zip(self.objective_names, ev.evaluate_with_lists(values)))
            resp = None
        return {n: float(raw[n]) for n in self.objective_names}, resp

    def failed_objectives(self, scores: Mapping[str, float]) -> list[str]:
        """Objectives whose score is BluePyOpt's penalty (or not a finite number)."""
        return [
            n
            for n in self.objective_names
            if not math.isfinite(scores[n]) or scores[n] >= self.failure_score[n]
        ]

    def outputs(
        self, scores: Mapping[str, float], responses: Mapping[str, Any] | None = None
    ) -> dict[str, float]:
        """The problem's objectives and constraints from BluePyOpt's scores.

        Raises:
            FeatureFailure: with ``on_failure="fail"``, when an objective failed.
        """
        failed = self.failed_objectives(scores)
        if failed and self.on_failure == "fail":
            pen = sorted({self.failure_score[n] for n in failed})
            raise FeatureFailure(
                f"eFEL could not compute the feature(s) of {failed} (BluePyOpt penalty "
                f"score {', '.join(f'{p:g}' for p in pen)})",
                failed,
            )
        out: dict[str, float] = {}
        for n in self.objective_names:
            out[n] = self.failure_value if n in failed else float(scores[n])
        for n in self.objective_names:
            if n in self.threshold:
                out[_constraint_name(n, self.threshold[n])] = self.threshold[n] - out[n]
        for name, fn in self.user_constraints.items():
            if responses is None:
                raise TypeError("constraints on the responses need the responses")
            out[name] = float(fn(responses))
        if self.on_failure == "infeasible":
            out[FEATURES_COMPUTED] = 1.0 if not failed else -float(len(failed))
        return out

    def __call__(self, params: Mapping[str, float]) -> dict[str, float]:
        scores, resp = self.scores(params)
        return self.outputs(scores, resp)

    # ------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.factory is not None:
            state["_evaluator"] = None  # rebuilt (once per process) from the factory
            return state
        try:
            pickle.dumps(self._evaluator)
        except Exception as exc:
            raise TypeError(
                f"the BluePyOpt evaluator cannot be pickled ({type(exc).__name__}: {exc}), "
                "so it cannot reach worker processes or MPI ranks: pass "
                "factory='package.module:function' (or a picklable zero-argument "
                "callable) that builds it, to from_bluepyopt"
            ) from exc
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
