"""What a worker runs: one evaluation under a time limit, and the checks that the
problem can reach the worker at all.

Timeouts are enforced twice. Inside the worker (:func:`evaluate_point`) a ``SIGALRM``
timer interrupts a simulation stuck in Python code (``time.sleep``, a Python loop), so
that the worker reports the timeout itself and stays usable. If the worker does not
answer within a grace period after that (a simulation stuck in C code, or one that
swallows the exception), the supervising evaluator gives up on it: see
:class:`~botorch_joint.parallel.process.ProcessEvaluator` and
:class:`~botorch_joint.parallel.executor.ExecutorEvaluator`.
"""

from __future__ import annotations

import contextlib
import pickle
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from botorch_joint.parallel.base import EvaluationTimeout, failed_evaluation, timeout_message
from botorch_joint.problems.base import Evaluation, Problem

__all__ = ["alarm_usable", "check_picklable", "evaluate_point", "problem_name", "unsendable"]


def alarm_usable() -> bool:
    """Whether :func:`evaluate_point` can time a simulation here (``SIGALRM``, main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`~botorch_joint.parallel.base.EvaluationTimeout` here after ``seconds``.

    Only in the main thread, where ``SIGALRM`` is delivered.
    """

    def handler(signum: int, frame: Any) -> None:
        raise EvaluationTimeout(f"evaluation exceeded the time limit of {seconds:g} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def evaluate_point(problem: Problem, x: np.ndarray, timeout: float | None = None) -> Evaluation:
    """Evaluate one ``(d,)`` point, failing it if it runs past ``timeout`` seconds.

    This is the task a worker runs. The time limit uses ``SIGALRM`` and so applies only
    in a process's main thread (worker processes and MPI ranks run tasks there); elsewhere
    the limit is left to the supervising evaluator.
    """
    if timeout is None or not alarm_usable():
        return problem.evaluate_point(x)
    t0 = time.perf_counter()
    ev: Evaluation | None = None
    try:
        with _alarm(timeout):
            ev = problem.evaluate_point(x)
    except EvaluationTimeout:
        pass  # fired between the simulation's return and the timer's cancellation
    if ev is None:
        ev = failed_evaluation(problem, timeout_message(timeout), time.perf_counter() - t0)
    return ev


def unsendable(problem: Problem, exc: BaseException) -> TypeError:
    """The error for a problem that cannot be sent to worker processes."""
    return TypeError(
        f"problem {problem.name!r} cannot be sent to worker processes "
        f"({type(exc).__name__}: {exc}); define its evaluate function at the top level "
        "of an importable module (not a lambda or a nested function), or use the serial "
        "evaluator"
    )


def check_picklable(problem: Problem) -> bytes:
    """``problem`` pickled, to send to workers.

    Raises:
        TypeError: it cannot be pickled (a lambda or a nested function inside).
    """
    try:
        return pickle.dumps(problem)
    except Exception as exc:
        raise unsendable(problem, exc) from exc


def problem_name(problem: Problem) -> str:
    """A task that only proves the problem reached a worker and loaded there."""
    return problem.name
