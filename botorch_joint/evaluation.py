"""Evaluators: how a batch of parameter vectors becomes simulator results.

One small interface, :class:`Evaluator`, with a serial backend and one that wraps any
``concurrent.futures.Executor`` (local processes, MPI, a user's own pool). Evaluators
never raise for a failed simulation: failures come back as failed
:class:`~botorch_joint.problems.Evaluation` objects with the message kept.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from botorch_joint.problems.base import Evaluation, Problem

OnResult = Callable[[int, Evaluation], None]


class Evaluator(ABC):
    """Evaluates batches of points of a :class:`Problem`."""

    #: how many evaluations can run at once
    n_workers: int = 1

    @abstractmethod
    def evaluate(
        self, problem: Problem, X: np.ndarray, on_result: OnResult | None = None
    ) -> list[Evaluation]:
        """Evaluate the ``(n, d)`` points ``X``.

        Args:
            problem: the problem to evaluate.
            X: ``(n, d)`` points in the problem's units.
            on_result: called as ``on_result(i, evaluation)`` as soon as row ``i`` is done
                (in completion order), so callers can checkpoint finished work.

        Returns:
            ``n`` evaluations in the order of ``X``.
        """

    def close(self) -> None:
        """Release workers (a no-op for evaluators that own none)."""

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialEvaluator(Evaluator):
    """Evaluates in this process, using the problem's vectorised path when it has one."""

    n_workers = 1

    def evaluate(
        self, problem: Problem, X: np.ndarray, on_result: OnResult | None = None
    ) -> list[Evaluation]:
        X = problem.check_X(X)
        if problem.has_batch_evaluate:
            out = problem.evaluate_batch(X)
            if on_result is not None:
                for i, ev in enumerate(out):
                    on_result(i, ev)
            return out
        out = []
        for i, x in enumerate(X):
            ev = problem.evaluate_point(x)
            out.append(ev)
            if on_result is not None:
                on_result(i, ev)
        return out


def _evaluate_one(problem: Problem, x: np.ndarray) -> Evaluation:
    return problem.evaluate_point(x)


def _failed(problem: Problem, message: str, seconds: float = 0.0) -> Evaluation:
    return Evaluation(
        np.full(problem.num_objectives, np.nan),
        np.full(problem.num_constraints, np.nan),
        True,
        message,
        seconds,
    )


class ExecutorEvaluator(Evaluator):
    """Evaluates each point as one task on a ``concurrent.futures.Executor``.

    Args:
        executor: any executor (process pool, ``mpi4py.futures`` pool, a user's own).
        n_workers: how many tasks it runs at once (read from the executor if omitted).
        timeout: per-evaluation wall-time limit in seconds; an evaluation still running
            then becomes a failed evaluation. ``None`` waits forever.
        owns_executor: shut the executor down in :meth:`close`.
    """

    def __init__(
        self,
        executor: cf.Executor,
        n_workers: int | None = None,
        timeout: float | None = None,
        owns_executor: bool = False,
    ) -> None:
        self.executor = executor
        self.n_workers = int(
            n_workers or getattr(executor, "_max_workers", 0) or os.cpu_count() or 1
        )
        self.timeout = timeout
        self.owns_executor = owns_executor

    def evaluate(
        self, problem: Problem, X: np.ndarray, on_result: OnResult | None = None
    ) -> list[Evaluation]:
        X = problem.check_X(X)
        out: list[Evaluation | None] = [None] * len(X)
        start: dict[cf.Future[Any], float] = {}
        index: dict[cf.Future[Any], int] = {}
        for i, x in enumerate(X):
            fut = self.executor.submit(_evaluate_one, problem, x)
            index[fut] = i
            start[fut] = time.monotonic()
        pending = set(index)
        while pending:
            wait = None
            if self.timeout is not None:
                now = time.monotonic()
                wait = max(0.0, min(start[f] + self.timeout - now for f in pending))
            done, pending = cf.wait(pending, timeout=wait, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                i = index[fut]
                try:
                    ev = fut.result()
                except Exception as exc:  # a dead worker or an unpicklable result
                    ev = _failed(problem, f"{type(exc).__name__}: {exc}")
                out[i] = ev
                if on_result is not None:
                    on_result(i, ev)
            if self.timeout is not None:
                now = time.monotonic()
                for fut in [f for f in pending if now - start[f] >= self.timeout]:
                    fut.cancel()
                    pending.discard(fut)
                    i = index[fut]
                    out[i] = _failed(
                        problem, f"TimeoutError: evaluation exceeded {self.timeout} s", self.timeout
                    )
                    if on_result is not None:
                        on_result(i, out[i])
        return [ev for ev in out if ev is not None]

    def close(self) -> None:
        if self.owns_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)


def make_evaluator(
    spec: None | str | cf.Executor | Evaluator,
    n_workers: int | None = None,
    timeout: float | None = None,
) -> Evaluator:
    """Build an evaluator from ``evaluator=`` as accepted by :func:`botorch_joint.optimize`.

    Args:
        spec: ``None`` or ``"serial"``; ``"process"`` (a local process pool); ``"mpi"``
            (an ``mpi4py.futures`` pool); any ``concurrent.futures.Executor``; or an
            :class:`Evaluator`.
        n_workers: pool size for ``"process"``.
        timeout: per-evaluation time limit in seconds for pooled evaluators.
    """
    if spec is None or spec == "serial":
        return SerialEvaluator()
    if isinstance(spec, Evaluator):
        return spec
    if isinstance(spec, cf.Executor):
        return ExecutorEvaluator(spec, n_workers=n_workers, timeout=timeout)
    if spec == "process":
        import multiprocessing as mp

        n = n_workers or os.cpu_count() or 1
        pool = cf.ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn"))
        return ExecutorEvaluator(pool, n_workers=n, timeout=timeout, owns_executor=True)
    if spec == "mpi":
        from botorch_joint.parallel.mpi import MPIEvaluator

        return MPIEvaluator(timeout=timeout)
    raise ValueError(
        f"unknown evaluator {spec!r}; use None, 'serial', 'process', 'mpi', "
        "a concurrent.futures.Executor or an Evaluator"
    )
