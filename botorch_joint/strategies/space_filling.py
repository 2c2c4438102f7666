"""Methods that spend the whole budget on one space-filling design (no surrogate)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from botorch_joint.designs import sample
from botorch_joint.strategies.base import Proposal, Strategy

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result


class SpaceFilling(Strategy):
    """Evaluates one design of ``budget`` points (``sobol``, ``lh``, ``slh`` or ``mc``) in order.

    The design is drawn once from the seed, so a resumed run continues the same design.
    """

    def __init__(self, problem: Problem, budget: int, seed: int = 0, design: str = "sobol") -> None:
        super().__init__(problem, budget, seed)
        self.name = design
        self._X = problem.from_unit(sample(design, self.budget, problem.dim, seed))

    def initial(self, n: int) -> np.ndarray:
        return self._X[:n].copy()

    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        start = len(data)
        return Proposal(self._X[start : start + n].copy())


def make_space_filling(
    problem: Problem,
    *,
    method: str,
    budget: int,
    seed: int = 0,
    initial_design: str = "slh",
    sensitivity: str | None = None,
    batch_size: int = 20,
    **options: Any,
) -> SpaceFilling:
    """The registry's factory for ``sobol``, ``lh``, ``slh`` and ``mc``.

    The method's own design is the run's initial design too, so ``initial_design``,
    ``sensitivity`` and ``batch_size`` do not change the points.

    Raises:
        TypeError: any method option (these methods take none).
    """
    if options:
        raise TypeError(f"method {method!r} takes no method_options, got {sorted(options)}")
    return SpaceFilling(problem, budget, seed, design=method)
