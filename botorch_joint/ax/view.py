"""Ax integration: the joint-surrogate search as an Ax ``GenerationStrategy``.

:func:`joint_generation_strategy` returns a two-node strategy that an Ax ``Client``
accepts with ``client.set_generation_strategy(...)``:

1. ``InitialDesignNode`` proposes our space-filling initial design (``slh`` by default),
   the same points :func:`botorch_joint.optimize` would evaluate first;
2. ``JointSurrogateNode``, an ``ExternalGenerationNode``, turns the experiment into a
   :class:`~botorch_joint.Problem`-shaped view and asks one of our strategies (by default
   ``"c+o-ftt"``: one joint network over every objective and constraint, trained on raw
   pass/fail labels) for each batch.

The view follows this package's conventions: objectives are minimised (maximised Ax
metrics are negated), an outcome constraint ``metric >= b`` becomes ``c = metric - b``
and ``metric <= b`` becomes ``c = b - metric`` (satisfied iff ``c >= 0``), objective
thresholds become the hypervolume reference point, and failed or abandoned trials are
failed (infeasible) evaluations. :func:`result_from_experiment` returns the same view as
a :class:`~botorch_joint.Result`, so an Ax run and a ``bj.optimize`` run leave the same
kind of record.

Importing this module imports Ax.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ax.core.data import Data
from ax.core.experiment import Experiment
from ax.core.parameter import FixedParameter, ParameterType, RangeParameter
from ax.core.trial_status import TrialStatus
from ax.core.types import ComparisonOp
from ax.exceptions.core import UnsupportedError
from ax.generation_strategy.external_generation_node import ExternalGenerationNode
from ax.generation_strategy.generation_strategy import GenerationStrategy
from ax.generation_strategy.transition_criterion import MaxTrialsAwaitingData, MinTrials

from botorch_joint.problems.base import Evaluation, Problem
from botorch_joint.result import Result
from botorch_joint.strategies import Strategy, epoch_rng, make_strategy

__all__ = [
    "ExperimentView",
    "InitialDesignNode",
    "JointSurrogateNode",
    "experiment_view",
    "joint_generation_strategy",
    "result_from_experiment",
]

#: key of the epoch number in the ``gen_metadata`` of generator runs made here
EPOCH_KEY = "botorch_joint_epoch"
_FINISHED = (
    TrialStatus.COMPLETED,
    TrialStatus.EARLY_STOPPED,
    TrialStatus.FAILED,
    TrialStatus.ABANDONED,
)
INITIAL_NODE = "botorch_joint_initial_design"
SURROGATE_NODE = "botorch_joint_surrogate"


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
    ref: list[float] | None = []
    thresholds = {t.metric_names[0]: t for t in config.objective_thresholds}
    for name, terms in objectives:
        t = thresholds.get(name)
        if t is None or len(terms) != 1 or t.relative:
            ref = None
            break
        (_, w), b = terms[0], float(t.bound)
        # y = -w * metric, so the threshold maps to -w * b
        ref.append(-w * b)
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
        if trial.status not in _FINISHED:
            continue
        epoch = 0
        for gr in trial.generator_runs:
            meta = gr.gen_metadata or {}
            if EPOCH_KEY in meta:
                epoch = int(meta[EPOCH_KEY])
        for arm in trial.arms:
            x = np.array([float(arm.parameters[n]) for n in problem.parameter_names], dtype=float)
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


# ------------------------------------------------------------------ the nodes
class _Shared:
    """Configuration and lazily built strategy shared by the two nodes."""

    def __init__(
        self,
        method: str,
        n_initial: int | None,
        batch_size: int,
        initial_design: str,
        sensitivity: str | None,
        budget: int | None,
        seed: int,
        method_options: dict[str, Any] | None,
    ) -> None:
        self.method = method
        self.n_initial = n_initial
        self.batch_size = batch_size
        self.initial_design = initial_design
        self.sensitivity = sensitivity
        self.budget = budget
        self.seed = seed
        self.method_options = dict(method_options or {})
        self._strategy: Strategy | None = None
        self._key: Any = None

    def resolve_n_initial(self, dim: int) -> int:
        if self.n_initial is None:
            from botorch_joint.loop import default_n_initial

            budget, b = self.planned_budget(dim), self.batch_size
            n = default_n_initial(dim, budget, b)
            # Ax users ask for batch_size trials at a time; a design that ends mid-batch
            # would return a short batch at the hand-over (the surrogate needs the whole
            # design evaluated first), so the default is a whole number of batches.
            up = -(-n // b) * b
            self.n_initial = up if up <= budget or n < b else n - n % b
        return self.n_initial

    def planned_budget(self, dim: int) -> int:
        if self.budget is not None:
            return self.budget
        return max(100, 10 * (dim + 1))

    def strategy(self, problem: Problem) -> Strategy:
        key = (
            tuple(problem.parameter_names),
            tuple(map(tuple, problem.bounds.tolist())),
            tuple(problem.objective_names),
            tuple(problem.constraint_names),
        )
        if self._strategy is None or key != self._key:
            self._strategy = make_strategy(
                self.method,
                problem,
                budget=self.planned_budget(problem.dim),
                seed=self.seed,
                initial_design=self.initial_design,
                sensitivity=self.sensitivity,
                batch_size=self.batch_size,
                options=self.method_options,
            )
            self._key = key
        return self._strategy


def _with_epoch(gr: Any, epoch: int, name: str) -> Any:
    from ax.core.generator_run import GeneratorRun

    meta = dict(gr.gen_metadata or {})
    meta[EPOCH_KEY] = int(epoch)
    return GeneratorRun(
        arms=gr.arms,
        fit_time=gr.fit_time,
        gen_time=gr.gen_time,
        generator_key=name,
        gen_metadata=meta,
    )


class InitialDesignNode(ExternalGenerationNode):
    """Proposes the strategy's initial design (epoch 0), one point per trial.

    Hands over to ``transition_to`` once ``n_initial`` trials have finished (any terminal
    status: failed evaluations are data here). Until then it proposes at most
    ``n_initial`` trials; asking for more raises Ax's ``DataRequiredError``.
    """

    def __init__(self, shared: _Shared, transition_to: str, name: str = INITIAL_NODE) -> None:
        t0 = time.monotonic()
        n = shared.n_initial or 1  # the real value is set once the search space is known
        super().__init__(
            name=name,
            should_deduplicate=False,
            transition_criteria=[
                MinTrials(
                    threshold=n,
                    transition_to=transition_to,
                    only_in_statuses=list(_FINISHED),
                    use_all_trials_in_exp=True,
                )
            ],
        )
        # A pausing criterion keeps the node from proposing past its design; the
        # ExternalGenerationNode constructor has no argument for it.
        self._pausing_criteria = [
            MaxTrialsAwaitingData(threshold=n, not_in_statuses=[], use_all_trials_in_exp=True)
        ]
        self.shared = shared
        self._design: np.ndarray | None = None
        self._view: ExperimentView | None = None
        self._next = 0
        self.fit_time_since_gen = time.monotonic() - t0

    def _resolve(self) -> None:
        if self.shared.n_initial is not None and self._design is not None:
            return
        try:
            experiment = self.experiment
        except Exception:  # not attached to an experiment yet
            return
        dim = sum(
            isinstance(p, RangeParameter) for p in experiment.search_space.parameters.values()
        )
        n = self.shared.resolve_n_initial(max(dim, 1))
        for c in list(self.transition_criteria) + list(self.pausing_criteria):
            c.threshold = n  # type: ignore[attr-defined]

    def should_transition_to_next_node(
        self, raise_data_required_error: bool = True
    ) -> tuple[bool, str]:
        self._resolve()
        return super().should_transition_to_next_node(raise_data_required_error)

    def new_trial_limit(self, raise_generation_errors: bool = False) -> int:
        self._resolve()
        if super().should_transition_to_next_node(raise_data_required_error=False)[0]:
            # Ax asks the current node for the limit before it moves on: the design is
            # done, so let the (unlimited) surrogate node fill the whole request.
            return -1
        return super().new_trial_limit(raise_generation_errors)

    def update_generator_state(self, experiment: Experiment, data: Data) -> None:
        self._view = experiment_view(experiment, data)
        problem = self._view.problem
        n = self.shared.resolve_n_initial(problem.dim)
        self._design = problem.check_X(self.shared.strategy(problem).initial(n))
        self._next = len(self.trials_from_node)

    def get_next_candidate(self, pending_parameters: list[dict[str, Any]]) -> dict[str, Any]:
        assert self._view is not None and self._design is not None
        problem = self._view.problem
        if self._next < len(self._design):
            x = self._design[self._next]
        else:  # more than the design was asked for: uniform samples
            rng = epoch_rng(self.shared.seed, 0)
            x = problem.from_unit(rng.random((self._next + 1, problem.dim))[-1])
        self._next += 1
        return self._view.to_parameters(x)

    def _gen(self, *args: Any, **kwargs: Any) -> Any:
        return _with_epoch(super()._gen(*args, **kwargs), 0, self.name)


class JointSurrogateNode(ExternalGenerationNode):
    """Proposes batches with one of our strategies, fitted to the experiment's view.

    The strategy proposes ``batch_size`` points at a time; Ax takes one per trial, so
    set ``batch_size`` to the ``max_trials`` you pass to ``Client.get_next_trials``.
    Points left over when new data arrive are dropped and the strategy is asked again.
    Trials still running are not seen by the strategy.
    """

    def __init__(self, shared: _Shared, name: str = SURROGATE_NODE) -> None:
        t0 = time.monotonic()
        super().__init__(name=name, should_deduplicate=True)
        self.shared = shared
        self._view: ExperimentView | None = None
        self._queue: list[np.ndarray] = []
        self._epoch = 1
        self._queue_epoch = 1
        self.last_proposal_info: dict[str, Any] = {}
        self.fit_time_since_gen = time.monotonic() - t0

    def update_generator_state(self, experiment: Experiment, data: Data) -> None:
        self._view = experiment_view(experiment, data)
        self._queue = []
        # continue the epoch count from the experiment so a reloaded run keeps its stream
        latest = 0
        for trial in experiment.trials.values():
            for gr in trial.generator_runs:
                latest = max(latest, int((gr.gen_metadata or {}).get(EPOCH_KEY, 0)))
        self._epoch = latest + 1

    def get_next_candidate(self, pending_parameters: list[dict[str, Any]]) -> dict[str, Any]:
        assert self._view is not None
        if not self._queue:
            self._propose()
        return self._view.to_parameters(self._queue.pop(0))

    def _propose(self) -> None:
        assert self._view is not None
        problem, data = self._view.problem, self._view.result
        strategy = self.shared.strategy(problem)
        q = self.shared.batch_size
        t0 = time.perf_counter()
        prop = strategy.propose(data, q, self._epoch)
        X = np.asarray(prop.X, dtype=float).reshape(-1, problem.dim)[:q]
        if len(X) < q:  # top up a short proposal so that Ax always gets its trials
            rng = np.random.default_rng([self.shared.seed, self._epoch, 7919])
            X = np.vstack([X, problem.from_unit(rng.random((q - len(X), problem.dim)))])
        X = problem.check_X(X)
        self.last_proposal_info = {
            "epoch": self._epoch,
            "train_seconds": prop.train_seconds,
            "search_seconds": prop.search_seconds,
            "propose_seconds": time.perf_counter() - t0,
            **prop.info,
        }
        self._queue = list(X)
        self._queue_epoch = self._epoch
        self._epoch += 1

    def _gen(self, *args: Any, **kwargs: Any) -> Any:
        gr = super()._gen(*args, **kwargs)
        return _with_epoch(gr, self._queue_epoch, self.name)


def joint_generation_strategy(
    method: str = "c+o-ftt",
    n_initial: int | None = None,
    batch_size: int = 4,
    initial_design: str = "slh",
    sensitivity: str | None = "sgrad",
    budget: int | None = None,
    seed: int = 0,
    method_options: dict[str, Any] | None = None,
    name: str | None = None,
) -> GenerationStrategy:
    """An Ax ``GenerationStrategy``: our initial design, then our joint-surrogate search.

    Every argument is optional. Use it with an Ax ``Client``::

        client.set_generation_strategy(joint_generation_strategy(batch_size=4))
        trials = client.get_next_trials(max_trials=4)

    Args:
        method: a surrogate method of :data:`botorch_joint.strategies.METHODS` (also a
            space-filling one, e.g. for testing).
        n_initial: initial design size (default: ``max(2 (d + 1), batch_size)``, at most
            half the budget, once the search space is known, rounded to a whole number
            of batches so that every ``get_next_trials(max_trials=batch_size)`` call
            returns a full batch). An ``n_initial`` that is not a multiple of
            ``batch_size`` makes the batch at the hand-over short: the surrogate waits
            for the whole design.
        batch_size: points proposed per surrogate search (ask Ax for this many trials
            at a time).
        initial_design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"``.
        sensitivity: ``"sgrad"``, ``"fast"``, ``"dgsm"`` or ``None``.
        budget: the total number of evaluations planned (strategies use it to plan;
            default ``max(100, 10 (d + 1))``). It does not stop the strategy.
        seed: base seed of every random stream.
        method_options: extra keyword arguments for the method's strategy.
        name: the strategy's name (default ``"botorch_joint[METHOD]"``).

    Returns:
        The ``GenerationStrategy``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if n_initial is not None and n_initial < 1:
        raise ValueError(f"n_initial must be >= 1, got {n_initial!r}")
    shared = _Shared(
        method, n_initial, batch_size, initial_design, sensitivity, budget, seed, method_options
    )
    return GenerationStrategy(
        nodes=[
            InitialDesignNode(shared, transition_to=SURROGATE_NODE),
            JointSurrogateNode(shared),
        ],
        name=name or f"botorch_joint[{method}]",
    )
