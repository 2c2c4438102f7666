"""An Ax experiment seen with this package's conventions, as a Problem and a Result.

The view follows :func:`botorch_joint.optimize`'s conventions: objectives are minimised
(maximised Ax metrics are negated), an outcome constraint ``metric >= b`` becomes
``c = metric - b`` and ``metric <= b`` becomes ``c = b - metric`` (satisfied iff
``c >= 0``), objective thresholds become the hypervolume reference point, and failed or
abandoned trials are failed (infeasible) evaluations. :func:`result_from_experiment` and
:func:`result_from_client` return it as a :class:`~botorch_joint.Result`, so an Ax run
and a ``bj.optimize`` run leave the same kind of record.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from ax.core.data import Data
from ax.core.experiment import Experiment
from ax.core.parameter import FixedParameter, ParameterType, RangeParameter
from ax.core.trial_status import TrialStatus
from ax.core.types import ComparisonOp
from ax.exceptions.core import UnsupportedError

from botorch_joint.ax._compat import read_client_experiment
from botorch_joint.problems.base import Evaluation, Problem
from botorch_joint.result import Result

if TYPE_CHECKING:
    from ax.api.client import Client

__all__ = [
    "EPOCH_KEY",
    "ExperimentView",
    "client_experiment",
    "experiment_view",
    "result_from_client",
    "result_from_experiment",
]

#: key of the epoch number in the ``gen_metadata`` of generator runs made here
EPOCH_KEY = "botorch_joint_epoch"
#: trial statuses whose trials are data (failed and abandoned ones as failed rows)
FINISHED = (
    TrialStatus.COMPLETED,
    TrialStatus.EARLY_STOPPED,
    TrialStatus.FAILED,
    TrialStatus.ABANDONED,
)


# ------------------------------------------------------------------- the view
def _not_evaluable(params: dict[str, float]) -> dict[str, float]:
    raise RuntimeError("this problem is a view of an Ax experiment; Ax runs its trials")


@dataclass
class ExperimentView:
    """An Ax experiment seen as a :class:`Problem` and the :class:`Result` so far.

    Attributes:
        problem: parameters (range parameters), minimised objectives, constraints
            (satisfied iff ``>= 0``) and the reference point from the thresholds.
        result: one row per arm of every finished trial, in trial order.
        fixed: fixed parameters, added to every candidate.
        int_params: names of integer parameters (candidates are rounded).
        arms: ``(trial_index, arm_name)`` of each row of ``result``.
    """

    problem: Problem
    result: Result
    fixed: dict[str, Any] = field(default_factory=dict)
    int_params: set[str] = field(default_factory=set)
    arms: list[tuple[int, str]] = field(default_factory=list)

    def to_parameters(self, x: np.ndarray) -> dict[str, Any]:
        """A ``(d,)`` point as an Ax parameterization (fixed parameters included)."""
        x = np.clip(np.asarray(x, dtype=float).reshape(-1), self.problem.lower, self.problem.upper)
        out: dict[str, Any] = {}
        for name, value in zip(self.problem.parameter_names, x):
            out[name] = int(round(value)) if name in self.int_params else float(value)
        out.update(self.fixed)
        return out


def _sub_objective_count(expression: str) -> int:
    depth, count = 0, 1
    for ch in expression:
        depth += ch == "("
        depth -= ch == ")"
        count += ch == "," and depth == 0
    return count


def _objectives(config: Any) -> list[tuple[str, list[tuple[str, float]]]]:
    """``(name, [(metric, weight)])`` per minimised objective ``-sum(weight * metric)``."""
    objective = config.objective
    names = list(objective.metric_names)
    weights = [w for _, w in objective.metric_weights]
    if objective.is_multi_objective:
        if _sub_objective_count(objective.expression) != len(names):
            raise UnsupportedError(
                "botorch_joint needs each objective of a multi-objective to be one metric; "
                f"got {objective.expression!r}"
            )
        return [(n, [(n, w)]) for n, w in zip(names, weights)]
    if len(names) == 1:
        return [(names[0], [(names[0], weights[0])])]
    return [(objective.expression, list(zip(names, weights)))]


def _experiment_name(experiment: Experiment) -> str:
    """The experiment's name, or ``"ax-experiment"`` for a nameless one.

    ``Client.configure_experiment`` leaves the name unset unless given one, and then
    ``Experiment.name`` raises instead of returning ``None``.
    """
    return (experiment.name if experiment.has_name else "") or "ax-experiment"


def _build_problem(experiment: Experiment) -> tuple[Problem, dict[str, Any], set[str], list]:
    config = experiment.optimization_config
    if config is None:
        raise UnsupportedError("the Ax experiment has no optimization config")
    if experiment.search_space.parameter_constraints:
        raise UnsupportedError(
            "botorch_joint's Ax node does not support parameter constraints; express them "
            "as outcome constraints instead"
        )
    params: dict[str, tuple[float, float]] = {}
    fixed: dict[str, Any] = {}
    ints: set[str] = set()
    for name, p in experiment.search_space.parameters.items():
        if isinstance(p, FixedParameter):
            fixed[name] = p.value
        elif isinstance(p, RangeParameter):
            params[name] = (float(p.lower), float(p.upper))
            if p.parameter_type == ParameterType.INT:
                ints.add(name)
        else:
            raise UnsupportedError(
                f"parameter {name!r} is a {type(p).__name__}; botorch_joint's Ax node "
                "supports range (float or int) and fixed parameters"
            )
    objectives = _objectives(config)
    ref_values: list[float] = []
    thresholds = {t.metric_names[0]: t for t in config.objective_thresholds}
    for name, terms in objectives:
        t = thresholds.get(name)
        if t is None or len(terms) != 1 or t.relative:
            break  # no reference point unless every objective has a threshold
        (_, w), b = terms[0], float(t.bound)
        # y = -w * metric, so the threshold maps to -w * b
        ref_values.append(-w * b)
    ref = ref_values if len(ref_values) == len(objectives) else None
    constraints = [oc for oc in config.outcome_constraints if oc not in config.objective_thresholds]
    names: list[str] = []
    for oc in constraints:
        if oc.relative:
            warnings.warn(
                f"outcome constraint {oc.expression!r} is relative to a status-quo arm; "
                "botorch_joint's Ax node ignores relative constraints",
                stacklevel=3,
            )
            continue
        names.append(oc.expression)
    problem = Problem(
        name=_experiment_name(experiment),
        parameters=params,
        objectives=[n for n, _ in objectives],
        constraints=names,
        evaluate=_not_evaluable,
        ref_point=ref,
        description="a view of an Ax experiment",
    )
    problem.metadata["ax_objectives"] = objectives
    problem.metadata["ax_constraints"] = [
        (
            [(n, w) for n, w in zip(oc.metric_names, [w for _, w in oc.metric_weights])],
            oc.op,
            float(oc.bound),
        )
        for oc in constraints
        if not oc.relative
    ]
    return problem, fixed, ints, objectives


def experiment_view(experiment: Experiment, data: Data | None = None) -> ExperimentView:
    """The :class:`ExperimentView` of ``experiment`` (finished trials only).

    Args:
        experiment: the Ax experiment.
        data: its data (default ``experiment.lookup_data()``); the last reported value
            of each metric is used.
    """
    problem, fixed, ints, objectives = _build_problem(experiment)
    data = experiment.lookup_data() if data is None else data
    means: dict[tuple[int, str, str], float] = {}
    df = data.df
    if len(df):
        for t, a, m, v in zip(df["trial_index"], df["arm_name"], df["metric_name"], df["mean"]):
            means[(int(t), str(a), str(m))] = float(v)
    result = Result.empty(problem, method="ax", settings={"source": "ax"})
    arms: list[tuple[int, str]] = []
    rows: list[np.ndarray] = []
    evals: list[Evaluation] = []
    epochs: list[int] = []
    m, k = problem.num_objectives, problem.num_constraints
    constraint_terms = problem.metadata["ax_constraints"]
    for index in sorted(experiment.trials):
        trial = experiment.trials[index]
        if trial.status not in FINISHED:
            continue
        epoch = 0
        for gr in trial.generator_runs:
            meta = gr.gen_metadata or {}
            if EPOCH_KEY in meta:
                epoch = int(meta[EPOCH_KEY])
        for arm in trial.arms:
            # range parameters only (the view's parameters), so every value is a number
            values = [cast(float, arm.parameters[n]) for n in problem.parameter_names]
            x = np.asarray(values, dtype=float)
            rows.append(x)
            arms.append((index, arm.name))
            epochs.append(epoch)
            if trial.status in (TrialStatus.FAILED, TrialStatus.ABANDONED):
                reason = trial.status_reason
                msg = f"Ax trial {index} {trial.status.name.lower()}"
                evals.append(
                    Evaluation(
                        np.full(m, np.nan),
                        np.full(k, np.nan),
                        True,
                        f"{msg}: {reason}" if reason else msg,
                    )
                )
                continue

            def value(metric: str, index: int = index, arm_name: str = arm.name) -> float:
                return means.get((index, arm_name, metric), math.nan)

            y = np.array(
                [-sum(w * value(n) for n, w in terms) for _, terms in objectives], dtype=float
            )
            c = np.empty(k)
            for j, (terms, op, bound) in enumerate(constraint_terms):
                lhs = sum(w * value(n) for n, w in terms)
                c[j] = lhs - bound if op == ComparisonOp.GEQ else bound - lhs
            if not np.all(np.isfinite(y)):
                missing = [n for (n, _), v in zip(objectives, y) if not np.isfinite(v)]
                evals.append(
                    Evaluation(
                        np.full(m, np.nan),
                        np.full(k, np.nan),
                        True,
                        f"Ax trial {index}: no finite value for objective(s) {missing}",
                    )
                )
                continue
            # a constraint without data counts as violated, as in Problem.evaluate_point
            c = np.where(np.isfinite(c), c, -np.inf)
            evals.append(Evaluation(y, c, False, None))
    start = 0
    for i in range(1, len(rows) + 1):  # one append per run of equal epochs, in trial order
        if i == len(rows) or epochs[i] != epochs[start]:
            result.append(np.array(rows[start:i]), evals[start:i], epochs[start])
            start = i
    return ExperimentView(problem, result, fixed, ints, arms)


def result_from_experiment(experiment: Experiment) -> Result:
    """Every finished trial of an Ax experiment as a :class:`~botorch_joint.Result`.

    Objectives are minimised, constraints satisfied iff ``>= 0``, and failed or
    abandoned trials are failed rows, exactly as in a :func:`botorch_joint.optimize` run.
    """
    view = experiment_view(experiment)
    view.result.complete = True
    return view.result


def result_from_client(client: Client) -> Result:
    """Every finished trial of an Ax ``Client``'s experiment as a :class:`~botorch_joint.Result`.

    The same as :func:`result_from_experiment` on the experiment the client holds::

        result = result_from_client(client)
        result.pareto()

    Raises:
        ValueError: the client has no experiment yet (``configure_experiment`` first).
    """
    return result_from_experiment(client_experiment(client))


def client_experiment(client: Client) -> Experiment:
    """The Ax ``Experiment`` an Ax ``Client`` holds, e.g. to save it after each batch::

        from ax.storage.json_store.save import save_experiment
        save_experiment(client_experiment(client), "experiment.json")

    Raises:
        ValueError: the client has no experiment yet (``configure_experiment`` first).
    """
    return read_client_experiment(client)
