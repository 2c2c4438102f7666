"""Method ``"ax-default"``: Ax's own default generation strategy, for comparison.

The strategy keeps an Ax ``Client`` whose experiment mirrors the problem (minimised
objectives, ``constraint >= 0`` outcome constraints, the reference point as objective
thresholds) and whose generation strategy is the one Ax chooses itself
(``Client.configure_generation_strategy``: a Sobol initialisation, then Ax's modular
BoTorch model). Each proposal first reports the finished evaluations to Ax, then asks
for a batch with ``Client.get_next_trials``. Only Ax's public ``Client`` API is used.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from botorch_joint.designs import default_n_initial
from botorch_joint.strategies.base import Proposal, Strategy

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result


def _metric_names(problem: Problem) -> dict[str, str]:
    """Output name -> Ax metric name (names Ax's expression parser cannot read are aliased)."""
    out: dict[str, str] = {}
    for j, name in enumerate(problem.objective_names):
        out[name] = name if name.isidentifier() else f"objective_{j}"
    for j, name in enumerate(problem.constraint_names):
        out[name] = name if name.isidentifier() else f"constraint_{j}"
    return out


class AxDefaultStrategy(Strategy):
    """Ax's default generation strategy behind our :class:`Strategy` interface.

    Args:
        problem: the problem.
        method: must be ``"ax-default"``.
        budget: total evaluations (used for the default initialisation size).
        seed: seeds Ax (``Client(random_seed=seed)`` and the Sobol initialisation).
        initial_design: ignored (Ax initialises with its own Sobol design).
        sensitivity: ignored.
        batch_size: evaluations per epoch.
        generation_method: ``"fast"`` (default), ``"quality"`` or ``"random_search"``,
            passed to ``Client.configure_generation_strategy``.
        torch_device: passed to ``Client.configure_generation_strategy``.
    """

    name = "ax-default"

    def __init__(
        self,
        problem: Problem,
        method: str = "ax-default",
        budget: int = 100,
        seed: int = 0,
        initial_design: str = "slh",
        sensitivity: str | None = None,
        batch_size: int = 20,
        generation_method: str = "fast",
        torch_device: str | None = None,
    ) -> None:
        if method != "ax-default":
            raise ValueError(f"AxDefaultStrategy implements 'ax-default', not {method!r}")
        super().__init__(problem, budget, seed)
        self.batch_size = int(batch_size)
        self.generation_method = generation_method
        self.torch_device = torch_device
        self._metrics = _metric_names(problem)
        self._client: Any = None
        # trial index -> parameter vector of trials Ax proposed and we have not reported
        self._open: dict[int, np.ndarray] = {}
        self._reported = 0  # rows of the run's data already given to Ax

    # ------------------------------------------------------------------ Ax side
    def _make_client(self, n_initial: int) -> Any:
        from ax.api.client import Client
        from ax.api.configs import RangeParameterConfig

        p = self.problem
        client = Client(random_seed=self.seed)
        client.configure_experiment(
            parameters=[
                RangeParameterConfig(name=n, parameter_type="float", bounds=(float(lo), float(hi)))
                for n, lo, hi in zip(p.parameter_names, p.lower, p.upper)
            ],
            name=p.name,
        )
        objective = ", ".join(f"-{self._metrics[n]}" for n in p.objective_names)
        constraints = [f"{self._metrics[n]} >= 0" for n in p.constraint_names]
        if p.ref_point is not None and p.num_objectives > 1:
            constraints += [
                f"{self._metrics[n]} <= {float(r)!r}"
                for n, r in zip(p.objective_names, p.ref_point)
            ]
        client.configure_optimization(objective=objective, outcome_constraints=constraints or None)
        client.configure_generation_strategy(
            method=self.generation_method,  # type: ignore[arg-type]
            initialization_budget=n_initial,
            initialization_random_seed=self.seed,
            torch_device=self.torch_device,
        )
        return client

    def _ensure_client(self, n_initial: int | None = None) -> Any:
        if self._client is None:
            if n_initial is None:
                n_initial = default_n_initial(self.problem.dim, self.budget, self.batch_size)
            self._client = self._make_client(n_initial)
        return self._client

    def _ask(self, n: int) -> np.ndarray:
        # One get_next_trials call can stop short where Ax moves between its nodes
        # (e.g. from initialisation to modelling): ask again for the rest.
        X: list[np.ndarray] = []
        for _ in range(4):
            trials = self._client.get_next_trials(max_trials=n - len(X))
            for index, params in trials.items():
                x = np.array([float(params[name]) for name in self.problem.parameter_names])
                self._open[index] = x
                X.append(x)
            if not trials or len(X) >= n:
                break
        return np.asarray(X, dtype=float).reshape(-1, self.problem.dim)

    def _report(self, data: Result) -> None:
        """Tell Ax about every row of ``data`` it has not seen yet."""
        client = self._client
        C = data.C
        for i in range(self._reported, len(data)):
            x = data.X[i]
            index = next(
                (t for t, xo in self._open.items() if np.allclose(xo, x, rtol=1e-12, atol=1e-12)),
                None,
            )
            if index is None:  # evaluated outside this strategy (e.g. before a resume)
                params = {n: float(v) for n, v in zip(self.problem.parameter_names, x)}
                index = client.attach_trial(parameters=params)
            else:
                del self._open[index]
            if data.failed[i]:
                client.mark_trial_failed(index)
                continue
            raw = {self._metrics[n]: float(v) for n, v in zip(data.objective_names, data.Y[i])}
            for j, n in enumerate(data.constraint_names):
                c = float(C[i, j])
                if not np.isfinite(c):
                    # a constraint the simulator could not compute counts as violated;
                    # Ax needs a finite number, so use the worst value seen, minus one
                    col = C[: len(data), j]
                    finite = col[np.isfinite(col)]
                    c = float(min(finite.min(), 0.0) - 1.0) if finite.size else -1.0
                raw[self._metrics[n]] = c
            client.complete_trial(index, raw_data=raw)
        self._reported = len(data)
        # proposals the run did not evaluate (a shortened batch) will never report back
        for index in list(self._open):
            client.mark_trial_abandoned(index)
            del self._open[index]

    # --------------------------------------------------------- Strategy API
    def initial(self, n: int) -> np.ndarray:
        self._ensure_client(n)
        return self._ask(n)

    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        t0 = time.perf_counter()
        self._ensure_client()
        self._report(data)
        X = self._ask(n)
        return Proposal(X, search_seconds=time.perf_counter() - t0)
