"""The interface every candidate-generation method implements.

A :class:`Strategy` turns the data so far into the next batch of points. The run loop
(:func:`botorch_joint.optimize`) owns evaluation, recording and checkpoints; a strategy
only proposes, which keeps models and acquisition testable on their own.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result


@dataclass
class Proposal:
    """A batch of candidates and what it cost to find them.

    Attributes:
        X: ``(q, d)`` candidates in the problem's units.
        train_seconds: time spent fitting surrogates.
        search_seconds: time spent searching the surrogate.
        info: free-form diagnostics (predicted feasibility, ...), JSON-serialisable.
    """

    X: np.ndarray
    train_seconds: float = 0.0
    search_seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random stream of one epoch: the same on a resumed run as on the original."""
    return np.random.default_rng([int(seed), int(epoch)])


class Strategy(ABC):
    """Proposes the points to evaluate.

    Args:
        problem: the problem being optimised.
        budget: total number of evaluations, initial design included.
        seed: base seed; epoch ``e`` draws from :func:`epoch_rng` ``(seed, e)``.
    """

    name: str = ""

    def __init__(self, problem: Problem, budget: int, seed: int = 0) -> None:
        self.problem = problem
        self.budget = int(budget)
        self.seed = int(seed)

    @abstractmethod
    def initial(self, n: int) -> np.ndarray:
        """The ``(n, d)`` initial design (epoch 0), in the problem's units."""

    @abstractmethod
    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        """Up to ``n`` new points given every evaluation so far.

        Args:
            data: the run's record so far (failed rows included).
            n: how many points to propose.
            epoch: the epoch the points will belong to (``>= 1``).
        """
