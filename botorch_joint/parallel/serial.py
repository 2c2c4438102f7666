"""The serial back end: evaluations in this process, one after the other."""

from __future__ import annotations

import warnings

import numpy as np

from botorch_joint.parallel.base import (
    Evaluator,
    OnDispatch,
    OnResult,
    OnStarted,
    check_timeout,
)
from botorch_joint.parallel.task import alarm_usable, evaluate_point
from botorch_joint.problems.base import Evaluation, Problem

__all__ = ["SerialEvaluator"]


class SerialEvaluator(Evaluator):
    """Evaluates in this process, using the problem's vectorised path when it has one.

    Args:
        timeout: per-evaluation time limit in seconds, enforced with ``SIGALRM`` (main
            thread only). With a limit, points are evaluated one at a time even if the
            problem has ``batch_evaluate``.

    Raises:
        ValueError: a timeout that is not a positive number of seconds.
    """

    n_workers = 1

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = timeout = check_timeout(timeout)
        if timeout is not None and not alarm_usable():
            warnings.warn(
                "the serial evaluator can only enforce timeout= in the main thread; "
                "evaluations will run without a time limit",
                stacklevel=2,
            )

    def evaluate(
        self,
        problem: Problem,
        X: np.ndarray,
        on_result: OnResult | None = None,
        on_started: OnStarted | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        X = problem.check_X(X)
        vectorised = problem.has_batch_evaluate and self.timeout is None
        if on_dispatch is not None and vectorised:
            for i in range(len(X)):  # one call evaluates them all
                on_dispatch(i)
        if on_started is not None:
            on_started()
        if vectorised:
            out = problem.evaluate_batch(X)
            if on_result is not None:
                for i, ev in enumerate(out):
                    on_result(i, ev)
            return out
        out = []
        for i, x in enumerate(X):
            if on_dispatch is not None:
                on_dispatch(i)
            ev = evaluate_point(problem, x, self.timeout)
            out.append(ev)
            if on_result is not None:
                on_result(i, ev)
        return out
