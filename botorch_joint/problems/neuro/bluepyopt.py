"""BluePyOpt evaluators as problems: :func:`from_bluepyopt`.

A modeller who has built a BluePyOpt ``CellEvaluator`` (NEURON + eFEL, one score per
objective, in standard deviations from the target) gets a :class:`Problem` in one line::

    problem = bj.problems.from_bluepyopt(evaluator, threshold=3.0)

* **parameters** are the evaluator's free parameters with their bounds, in its order;
* **objectives** are its objectives (feature scores, minimised), with their names;
* **constraints** are optional: ``threshold=T`` adds one per objective,
  ``c = T - score`` ("every feature within ``T`` standard deviations"; with BluePyOpt's
  ``MaxObjective`` that holds for every feature in the objective), and
  ``constraints={name: fn}`` adds any function ``fn(responses) -> float`` of the
  simulated responses (``c >= 0`` passes).

**eFEL failures.** When eFEL cannot compute a feature (no spike, so no AP amplitude;
fewer than three spikes, so no ISI CV; a protocol whose simulation broke), BluePyOpt
scores it with a large penalty (the feature's ``max_score``, 250 by default). A score
at or above that penalty is never used as a regression target here: with
``on_failure="fail"`` (the default) the evaluation is a *failed evaluation* whose
message names the objectives; with ``on_failure="infeasible"`` the affected objectives
get the moderate value ``failure_value`` and a constraint ``features_computed`` (``+1``
when every feature was computed, minus the number of failed objectives otherwise)
marks the point infeasible.

**Worker processes and MPI ranks.** The problem pickles. A BluePyOpt evaluator built
from its own classes usually pickles too and travels as is; one that does not (it holds
a lambda, an open file, a live NEURON object) is rebuilt on the other side from
``factory``: a picklable zero-argument callable or an importable ``"module:function"``
path that returns the evaluator. A rebuilt evaluator is kept per process, so each
worker or rank builds it once.

**Protocol isolation.** BluePyOpt runs every protocol in a forked child process by
default. Here protocols run in the calling process (``isolate=False``): the process and
MPI evaluators already keep simulations in their own processes, a daemonic pool worker
may not fork, forking an MPI rank is unsafe, and a fork per protocol costs more than a
small simulation. Pass ``isolate=None`` to use the evaluator's own setting.

BluePyOpt, NEURON and eFEL are imported only when an evaluator is used: importing this
module needs none of them (``pip install "botorch-joint[bluepyopt]"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from botorch_joint.errors import ProblemDefinitionError
from botorch_joint.problems.neuro.bluepyopt_evaluate import (
    FEATURES_COMPUTED,
    INSTALL_HINT,
    ON_FAILURE,
    BluePyOptEvaluate,
    ConstraintFn,
    EvaluatorSource,
    FeatureFailure,
    _cached_build,
    _is_evaluator,
    load_evaluator,
)

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem

__all__ = [
    "FEATURES_COMPUTED",
    "INSTALL_HINT",
    "BluePyOptEvaluate",
    "FeatureFailure",
    "from_bluepyopt",
    "get_evaluator",
    "load_evaluator",
    "run_protocols",
]


# ------------------------------------------------------------------- builder
def _thresholds(threshold: Any, objectives: Sequence[str]) -> dict[str, float]:
    if threshold is None:
        return {}
    if isinstance(threshold, Mapping):
        unknown = sorted(set(map(str, threshold)) - set(objectives))
        if unknown:
            raise ProblemDefinitionError(
                f"threshold names unknown objective(s) {unknown}; objectives are {objectives}"
            )
        out = {str(k): float(v) for k, v in threshold.items()}
    else:
        out = dict.fromkeys(objectives, float(threshold))
    bad = {k: v for k, v in out.items() if not (math.isfinite(v) and v > 0)}
    if bad:
        raise ProblemDefinitionError(f"thresholds must be positive numbers, got {bad}")
    return out


def from_bluepyopt(
    evaluator: EvaluatorSource = None,
    *,
    factory: EvaluatorSource | None = None,
    threshold: float | Mapping[str, float] | None = None,
    constraints: Mapping[str, ConstraintFn] | None = None,
    on_failure: str = "fail",
    failure_value: float = 10.0,
    isolate: bool | None = False,
    failure_score: Mapping[str, float] | None = None,
    name: str | None = None,
    ref_point: Sequence[float] | None = None,
    description: str | None = None,
    problem_cls: type[Problem] | None = None,
) -> Problem:
    """A :class:`Problem` from a BluePyOpt evaluator.

    Args:
        evaluator: a BluePyOpt evaluator (e.g. ``bluepyopt.ephys.evaluators.CellEvaluator``),
            a zero-argument callable returning one, or an importable ``"module:attr"``
            naming either. May be omitted when ``factory`` is given.
        factory: how worker processes and MPI ranks rebuild the evaluator (a picklable
            zero-argument callable or ``"module:attr"``). Needed only when the evaluator
            itself cannot be pickled; given, it is always used there (and here when
            ``evaluator`` is omitted). A callable or path passed as ``evaluator`` is
            used as the factory too.
        threshold: ``T`` (or ``{objective: T}``): one constraint per objective,
            ``c = T - score``, named ``"<objective>_le_<T>sd"``; also the default
            reference point (``T`` per objective).
        constraints: ``{name: fn}`` with ``fn(responses) -> float`` (``>= 0`` passes);
            ``responses`` maps recording names to BluePyOpt responses (``r["time"]``,
            ``r["voltage"]``). Must be picklable (top-level functions) for the process
            and MPI evaluators.
        on_failure: what an objective scored with BluePyOpt's penalty (eFEL could not
            compute a feature) does: ``"fail"`` fails the evaluation (its message names
            the objectives); ``"infeasible"`` keeps it, with ``failure_value`` for those
            objectives and the constraint ``features_computed`` violated.
        failure_value: objective value of a failed objective with ``"infeasible"``.
        isolate: run each protocol in a forked child as BluePyOpt does by default
            (``True``), in the evaluating process (``False``, the default), or as the
            evaluator's ``isolate_protocols`` says (``None``).
        failure_score: ``{objective: score}`` at or above which an objective counts as
            failed (default: the penalty BluePyOpt gives it, the ``max_score`` of its
            features, 250 unless set).
        name: problem name (default ``"bluepyopt-<cell model name>"``).
        ref_point: hypervolume reference point (default: the thresholds, if given for
            every objective).
        description: one line for the CLI.
        problem_cls: the class to build: :class:`Problem` or a subclass, passed by
            :func:`botorch_joint.problems.from_bluepyopt` and
            :meth:`Problem.from_bluepyopt` (this adapter sits below ``Problem`` and
            does not import it, so that the two import no cycle).

    Returns:
        A problem whose ``evaluate`` is a :class:`BluePyOptEvaluate`;
        ``metadata["bluepyopt"]`` records the settings.

    Raises:
        ProblemDefinitionError: unknown objective names in ``threshold``, non-positive
            thresholds, a constraint name that clashes, bad ``on_failure``.
        TypeError: ``evaluator`` is not a BluePyOpt evaluator.
    """
    if problem_cls is None:
        raise TypeError(
            "from_bluepyopt needs problem_cls; call bj.problems.from_bluepyopt(...) or "
            "Problem.from_bluepyopt(...) instead"
        )
    if evaluator is None and factory is None:
        raise ProblemDefinitionError("give evaluator= (or factory=) to from_bluepyopt")
    if on_failure not in ON_FAILURE:
        raise ProblemDefinitionError(f"on_failure must be one of {ON_FAILURE}, got {on_failure!r}")
    if not math.isfinite(float(failure_value)):
        raise ProblemDefinitionError(f"failure_value must be finite, got {failure_value!r}")
    source = evaluator if evaluator is not None else factory
    if factory is None and not _is_evaluator(source):
        factory = source  # a callable or path rebuilds the evaluator anywhere
    ev = _cached_build(factory) if not _is_evaluator(source) else source
    ev = load_evaluator(ev)
    objectives = [str(o.name) for o in ev.objectives]
    thresholds = _thresholds(threshold, objectives)
    fn = BluePyOptEvaluate(
        ev,
        factory=factory,
        threshold=thresholds,
        constraints=constraints,
        on_failure=on_failure,
        failure_value=failure_value,
        isolate=isolate,
        failure_score=failure_score,
    )
    parameters: dict[str, tuple[float, float]] = {}
    for p in ev.params:
        bounds = getattr(p, "bounds", None)
        if bounds is None:
            raise ProblemDefinitionError(f"BluePyOpt parameter {p.name!r} has no bounds")
        parameters[str(p.name)] = (float(bounds[0]), float(bounds[1]))
    if ref_point is None and thresholds and len(thresholds) == len(objectives):
        ref_point = [thresholds[o] for o in objectives]
    cell = getattr(getattr(ev, "cell_model", None), "name", None)
    return problem_cls(
        name=name or (f"bluepyopt-{cell}" if cell else "bluepyopt"),
        parameters=parameters,
        objectives=objectives,
        constraints=fn.constraint_names,
        evaluate=fn,
        ref_point=ref_point,
        description=description
        or f"BluePyOpt evaluator{f' of {cell}' if cell else ''}: {len(objectives)} feature scores",
        metadata={
            "bluepyopt": {
                "threshold": thresholds,
                "on_failure": on_failure,
                "failure_value": float(failure_value),
                "failure_score": dict(fn.failure_score),
                "factory": factory if isinstance(factory, str) else None,
            }
        },
    )


# ------------------------------------------------------------------- helpers
def _wrapper(problem: Problem) -> BluePyOptEvaluate:
    fn = getattr(problem, "_evaluate", None)
    if not isinstance(fn, BluePyOptEvaluate):
        raise TypeError(f"{problem.name!r} was not built by from_bluepyopt")
    return fn


def get_evaluator(problem: Problem) -> Any:
    """The BluePyOpt evaluator behind a problem built by :func:`from_bluepyopt`."""
    return _wrapper(problem).evaluator


def run_protocols(problem: Problem, params: Mapping[str, float] | np.ndarray) -> dict[str, Any]:
    """Simulate ``params`` (a dict or a ``(d,)`` vector) and return BluePyOpt's responses.

    Handy for plotting the voltage traces of a chosen model:
    ``r = run_protocols(problem, x); plt.plot(r["Step1.soma.v"]["time"], r[...]["voltage"])``.
    """
    if not isinstance(params, Mapping):
        params = problem.to_dict(np.asarray(params, dtype=float))
    return _wrapper(problem).responses(params)
