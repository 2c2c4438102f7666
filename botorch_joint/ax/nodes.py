"""The two Ax generation nodes and :func:`joint_generation_strategy`.

:func:`joint_generation_strategy` returns a two-node strategy that an Ax ``Client``
accepts with ``client.set_generation_strategy(...)``:

1. :class:`InitialDesignNode` proposes our space-filling initial design (``slh`` by
   default), the same points :func:`botorch_joint.optimize` would evaluate first;
2. :class:`JointSurrogateNode` turns the experiment into a
   :class:`~botorch_joint.Problem`-shaped view (:mod:`botorch_joint.ax.view`) and asks one
   of our strategies (by default ``"c+o-ftt"``: one joint network over every objective
   and constraint) for each batch.

Both are ``ExternalGenerationNode`` s that implement Ax's public hooks
(``update_generator_state``, ``get_next_candidate``); what those hooks do not cover is
isolated in :mod:`botorch_joint.ax._compat`.
"""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
from ax.core.data import Data
from ax.core.experiment import Experiment
from ax.core.parameter import RangeParameter
from ax.generation_strategy.generation_strategy import GenerationStrategy
from ax.generation_strategy.transition_criterion import MaxTrialsAwaitingData, MinTrials

from botorch_joint.ax._compat import ExternalNode
from botorch_joint.ax.view import EPOCH_KEY, FINISHED, ExperimentView, experiment_view
from botorch_joint.designs import default_n_initial
from botorch_joint.problems.base import Problem
from botorch_joint.strategies import Strategy, epoch_rng, make_strategy

__all__ = [
    "INITIAL_NODE",
    "SURROGATE_NODE",
    "InitialDesignNode",
    "JointSurrogateNode",
    "joint_generation_strategy",
]

INITIAL_NODE = "botorch_joint_initial_design"
SURROGATE_NODE = "botorch_joint_surrogate"


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


class InitialDesignNode(ExternalNode):
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
                    only_in_statuses=list(FINISHED),
                    use_all_trials_in_exp=True,
                )
            ],
            # keeps the node from proposing past its design before it is evaluated
            pausing_criteria=[
                MaxTrialsAwaitingData(threshold=n, not_in_statuses=[], use_all_trials_in_exp=True)
            ],
        )
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
        # both criteria (MinTrials, MaxTrialsAwaitingData) count trials up to threshold
        for c in [*self.transition_criteria, *self.pausing_criteria]:
            cast(Any, c).threshold = n

    def should_transition_to_next_node(
        self, raise_data_required_error: bool = True
    ) -> tuple[bool, str]:
        self._resolve()
        return super().should_transition_to_next_node(raise_data_required_error)

    def new_trial_limit(self, raise_generation_errors: bool = False) -> int:
        self._resolve()
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

    def generator_run_metadata(self) -> dict[str, Any]:
        return {EPOCH_KEY: 0}


class JointSurrogateNode(ExternalNode):
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

    def generator_run_metadata(self) -> dict[str, Any]:
        return {EPOCH_KEY: self._queue_epoch}


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
