"""The interface every evaluator implements, and what the back ends share.

An :class:`Evaluator` turns a batch of points into :class:`~botorch_joint.problems.Evaluation`
objects, never raising for a failed simulation: an exception, a timeout, a dead worker
or a non-finite objective comes back as a failed evaluation with its message kept
(:func:`failed_evaluation`). It reports through callbacks as it goes:
``on_dispatch(i)`` when row ``i`` is handed to a worker, ``on_started()`` once the batch
is under way, ``on_result(i, evaluation)`` when row ``i`` is done. An exception raised
by a callback (a journal that cannot be written) stops the batch and propagates: it is
never taken for a failed simulation.

This module also holds the checks of the settings every back end takes
(:func:`check_timeout`, :func:`check_n_workers`), the default grace periods, the two
exceptions of the family, :func:`run_evaluator`, which calls an evaluator written
before a callback existed, and :class:`Batch`, the bookkeeping of a batch that the back
ends with workers share.
"""

from __future__ import annotations

import collections
import inspect
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from botorch_joint.problems.base import Evaluation, Problem

__all__ = [
    "Batch",
    "EvaluationTimeout",
    "Evaluator",
    "HungEvaluationsError",
    "OnDispatch",
    "OnResult",
    "OnStarted",
    "check_n_workers",
    "check_timeout",
    "default_grace",
    "default_stuck_wait",
    "failed_evaluation",
    "grace_period",
    "run_evaluator",
    "timeout_message",
]

OnResult = Callable[[int, Evaluation], None]
OnDispatch = Callable[[int], None]
OnStarted = Callable[[], None]


class EvaluationTimeout(TimeoutError):
    """Raised inside a simulation that ran past the per-evaluation time limit."""


class HungEvaluationsError(RuntimeError):
    """Every worker is stuck in an evaluation past its time limit, for too long.

    The stuck evaluations were recorded as timed out; the points that never ran were
    not recorded, so a resumed run (``resume=True``) evaluates them. The message names
    the hung points.

    Attributes:
        hung: the hung points, as ``name -> value`` dicts.
    """

    def __init__(self, message: str, hung: list[dict[str, float]]) -> None:
        super().__init__(message)
        self.hung = hung


# ----------------------------------------------------------------- helpers
def failed_evaluation(problem: Problem, message: str, seconds: float = 0.0) -> Evaluation:
    """A failed :class:`Evaluation` for ``problem`` (NaN objectives and constraints)."""
    return Evaluation(
        np.full(problem.num_objectives, np.nan),
        np.full(problem.num_constraints, np.nan),
        True,
        message,
        float(seconds),
    )


def timeout_message(timeout: float) -> str:
    """The error recorded for an evaluation that ran past ``timeout`` seconds."""
    return f"EvaluationTimeout: evaluation exceeded the time limit of {timeout:g} s"


def check_timeout(timeout: float | None) -> float | None:
    """``timeout`` as a float, or ``None`` (no limit).

    Raises:
        ValueError: zero, negative, NaN or infinite (every evaluation would time out at
            once, or the limit means nothing; ``None`` is "no limit").
    """
    if timeout is None:
        return None
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(timeout, bool) or not (value > 0 and math.isfinite(value)):
        raise ValueError(
            f"timeout must be a positive number of seconds, got {timeout!r} (None means no limit)"
        )
    return value


def check_n_workers(n_workers: int | None) -> int | None:
    """``n_workers`` as an int, or ``None`` (the back end's default).

    Raises:
        ValueError: not an integer >= 1 (``0`` does not mean "the default").
    """
    if n_workers is None:
        return None
    if isinstance(n_workers, bool) or not isinstance(n_workers, int | np.integer) or n_workers < 1:
        raise ValueError(
            f"n_workers must be an integer >= 1, got {n_workers!r} (None: the default)"
        )
    return int(n_workers)


def default_grace(timeout: float) -> float:
    """Seconds to wait past ``timeout`` before a worker that has not answered is given up."""
    return max(1.0, 0.25 * timeout)


def default_stuck_wait(timeout: float, grace: float) -> float:
    """How long points wait for a worker when all are stuck: ``max(60, 10 (timeout + grace))``."""
    return max(60.0, 10.0 * (timeout + grace))


def grace_period(timeout: float | None, grace: float | None) -> float:
    """The grace period of an evaluator given ``timeout`` and its ``grace`` argument.

    ``grace`` if given, else :func:`default_grace` of the timeout; 0 without a timeout.
    """
    return default_grace(timeout) if grace is None and timeout else (grace or 0.0)


# --------------------------------------------------------------- interface
class Evaluator(ABC):
    """Evaluates batches of points of a :class:`Problem`.

    Attributes:
        n_workers: how many evaluations can run at once.
        timeout: per-evaluation time limit in seconds (``None``: no limit).
    """

    n_workers: int = 1
    timeout: float | None = None

    @abstractmethod
    def evaluate(
        self,
        problem: Problem,
        X: np.ndarray,
        on_result: OnResult | None = None,
        on_started: OnStarted | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        """Evaluate the ``(n, d)`` points ``X``.

        Args:
            problem: the problem to evaluate.
            X: ``(n, d)`` points in the problem's units.
            on_result: called as ``on_result(i, evaluation)`` as soon as row ``i`` is done
                (in completion order, exactly once per row), so callers can checkpoint
                finished work.
            on_started: called once, in the calling thread, after the first points are
                handed to the workers and before any ``on_result``: callers use it to
                checkpoint while the workers compute.
            on_dispatch: called as ``on_dispatch(i)`` in the calling thread just before
                row ``i`` is handed to a worker (possibly more than once, if handing it
                over fails and is retried): callers record which points were running,
                in case the work takes the whole process down.

        An exception raised by a callback stops the evaluation and propagates.

        Returns:
            ``n`` evaluations in the order of ``X``.
        """

    def close(self) -> None:
        """Release workers (a no-op for evaluators that own none)."""

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_evaluator(
    ev: Evaluator,
    problem: Problem,
    X: np.ndarray,
    on_result: OnResult | None = None,
    on_started: OnStarted | None = None,
    on_dispatch: OnDispatch | None = None,
) -> list[Evaluation]:
    """``ev.evaluate(...)``, also for evaluators written before a callback existed.

    Without ``on_started`` support it is called first; without ``on_dispatch`` support
    every row counts as dispatched when the evaluation begins.
    """
    params = inspect.signature(ev.evaluate).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs: dict[str, Any] = {"on_result": on_result}
    if on_dispatch is not None:
        if takes_all or "on_dispatch" in params:
            kwargs["on_dispatch"] = on_dispatch
        else:
            for i in range(len(X)):
                on_dispatch(i)
    if on_started is not None:
        if takes_all or "on_started" in params:
            kwargs["on_started"] = on_started
        else:
            on_started()
    return ev.evaluate(problem, X, **kwargs)


# ------------------------------------------------------ what back ends share
class Batch:
    """The bookkeeping of one :meth:`Evaluator.evaluate` call that hands rows to workers.

    It holds the rows not yet handed out and the evaluations recorded so far, and calls
    the callbacks as :meth:`Evaluator.evaluate` promises: ``on_dispatch`` as a row is
    taken (:meth:`dispatch`), ``on_started`` once (:meth:`started`), ``on_result`` as a
    row is recorded (:meth:`record`).

    Args:
        n: number of rows of the batch.
        on_result: as for :meth:`Evaluator.evaluate`.
        on_started: as for :meth:`Evaluator.evaluate`.
        on_dispatch: as for :meth:`Evaluator.evaluate`.

    Attributes:
        queue: the rows not yet handed to a worker, in order.
    """

    def __init__(
        self,
        n: int,
        on_result: OnResult | None = None,
        on_started: OnStarted | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> None:
        self.queue = collections.deque(range(n))
        self._out: list[Evaluation | None] = [None] * n
        self._on_result = on_result
        self._on_started = on_started
        self._on_dispatch = on_dispatch

    def dispatch(self) -> int:
        """Take the next row off the queue, calling ``on_dispatch(row)``; return the row."""
        i = self.queue.popleft()
        if self._on_dispatch is not None:
            self._on_dispatch(i)
        return i

    def retry(self, i: int) -> None:
        """Put row ``i`` back at the head of the queue (handing it over failed)."""
        self.queue.appendleft(i)

    def started(self) -> None:
        """Call ``on_started()``, the first time only."""
        if self._on_started is not None:
            self._on_started()
            self._on_started = None

    def record(self, i: int, ev: Evaluation) -> None:
        """Record the evaluation of row ``i`` and call ``on_result(i, ev)``."""
        self._out[i] = ev
        if self._on_result is not None:
            self._on_result(i, ev)

    def evaluations(self) -> list[Evaluation]:
        """The evaluations recorded, in the order of the rows."""
        return [ev for ev in self._out if ev is not None]
