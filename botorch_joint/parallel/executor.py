"""The executor back end: each point one task on any ``concurrent.futures.Executor``.

It serves a user's own pool (threads, processes, ``mpi4py.futures``) and is the base of
:class:`~botorch_joint.parallel.mpi.MPIEvaluator`. An executor cannot kill a running
task, so a task stuck past its time limit is recorded as timed out and its worker is
not counted as free until it returns. A point that never ran is never recorded: when
every worker is stuck, the next points wait (with a warning) and, if no worker comes
back in time, :class:`~botorch_joint.parallel.base.HungEvaluationsError` stops the run
resumably.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from botorch_joint.parallel.base import (
    Batch,
    Evaluator,
    HungEvaluationsError,
    OnDispatch,
    OnResult,
    OnStarted,
    check_n_workers,
    check_timeout,
    default_stuck_wait,
    failed_evaluation,
    grace_period,
    timeout_message,
)
from botorch_joint.parallel.task import evaluate_point, problem_name, unsendable
from botorch_joint.problems.base import Evaluation, Problem

__all__ = ["ExecutorEvaluator"]


class ExecutorEvaluator(Evaluator):
    """Evaluates each point as one task on a ``concurrent.futures.Executor``.

    At most ``n_workers`` tasks are in flight at once, so a task starts when it is
    submitted and its time limit is measured from then. A task past ``timeout + grace``
    is recorded as failed and its worker is not counted as free until it returns (an
    executor cannot kill a running task; the worker-side limit of
    :func:`~botorch_joint.parallel.task.evaluate_point` normally ends it at ``timeout``).

    When every worker is held by such a stuck task, the points still to run wait for one
    to come back, with a warning; they are never recorded as failures, having never run.
    If none comes back within ``stuck_wait`` seconds,
    :class:`~botorch_joint.parallel.base.HungEvaluationsError` stops the evaluation:
    everything recorded so far stays recorded, and a resumed run evaluates the rest.

    Before the first batch of a problem, one small task sends the problem to a worker,
    so that a problem the executor cannot send (pickle) or its workers cannot load
    fails at once with a clear error, whatever the back end, instead of every
    evaluation failing one by one.

    Args:
        executor: any executor (``mpi4py.futures`` pool, a user's own pool). Optional
            when ``factory`` is given.
        n_workers: how many tasks it runs at once (read from the executor if omitted).
        timeout: per-evaluation wall-time limit in seconds; ``None`` waits forever.
        owns_executor: shut the executor down in :meth:`close`.
        factory: ``factory() -> Executor``; if given, an executor that breaks (e.g. a
            ``ProcessPoolExecutor`` whose worker died) is replaced by a new one and the
            run continues. Without it a broken executor raises ``RuntimeError``.
        grace: extra seconds before a task past ``timeout`` is given up
            (default :func:`~botorch_joint.parallel.base.default_grace`).
        stuck_wait: how long the points wait for a worker when every worker is stuck
            (default :func:`~botorch_joint.parallel.base.default_stuck_wait`); ``None``
            with no timeout.

    Raises:
        ValueError: ``n_workers`` below 1 or a timeout that is not a positive number.
    """

    def __init__(
        self,
        executor: cf.Executor | None = None,
        n_workers: int | None = None,
        timeout: float | None = None,
        owns_executor: bool = False,
        factory: Callable[[], cf.Executor] | None = None,
        grace: float | None = None,
        stuck_wait: float | None = None,
    ) -> None:
        n_workers = check_n_workers(n_workers)
        timeout = check_timeout(timeout)
        if executor is None:
            if factory is None:
                raise ValueError("give an executor or a factory")
            executor, owns_executor = factory(), True
        self.executor = executor
        self.n_workers = int(
            n_workers or getattr(executor, "_max_workers", 0) or os.cpu_count() or 1
        )
        self.timeout = timeout
        self.grace = grace_period(timeout, grace)
        if stuck_wait is None and timeout is not None:
            stuck_wait = default_stuck_wait(timeout, self.grace)
        self.stuck_wait = stuck_wait
        self.owns_executor = owns_executor
        self.factory = factory
        # tasks given up after a timeout that still hold a worker -> (point, submitted)
        self._stuck: dict[cf.Future[Any], tuple[dict[str, float], float]] = {}
        self._sent: Problem | None = None  # the problem proven to reach the workers

    def _renew(self, exc: BaseException) -> None:
        if self.factory is None:
            raise RuntimeError(
                f"the executor is broken ({type(exc).__name__}: {exc}) and cannot run more "
                "evaluations; pass factory= to ExecutorEvaluator so it can be replaced, or "
                "use evaluator='process', which replaces dead workers. Finished evaluations "
                "are in the run directory: continue with resume=True"
            ) from exc
        with contextlib.suppress(Exception):
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.executor = self.factory()
        self.owns_executor = True
        self._stuck.clear()
        self._sent = None

    def _check_sendable(self, problem: Problem) -> None:
        """Send ``problem`` to a worker once; raise ``TypeError`` if it cannot get there.

        A thread pool shares the problem and needs no check; any other executor
        serialises it its own way (pickle, cloudpickle...), so the check is a real task.
        """
        if self._sent is problem or isinstance(self.executor, cf.ThreadPoolExecutor):
            return
        try:
            fut = self.executor.submit(problem_name, problem)
            fut.result()
        except (cf.BrokenExecutor, cf.CancelledError):
            return  # not the problem's fault: the evaluation loop renews the executor
        except Exception as exc:
            raise unsendable(problem, exc) from exc
        self._sent = problem

    def evaluate(
        self,
        problem: Problem,
        X: np.ndarray,
        on_result: OnResult | None = None,
        on_started: OnStarted | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        X = problem.check_X(X)
        self._check_sendable(problem)
        batch = Batch(len(X), on_result, on_started, on_dispatch)
        running: dict[cf.Future[Any], tuple[int, float]] = {}
        limit = None if self.timeout is None else self.timeout + self.grace
        while batch.queue or running:
            self._stuck = {f: v for f, v in self._stuck.items() if not f.done()}
            while batch.queue and len(running) + len(self._stuck) < self.n_workers:
                i = batch.dispatch()
                try:
                    fut = self.executor.submit(evaluate_point, problem, X[i], self.timeout)
                except (cf.BrokenExecutor, RuntimeError) as exc:
                    batch.retry(i)
                    self._renew(exc)
                    continue
                running[fut] = (i, time.monotonic())
            batch.started()
            if not running:
                self._wait_for_a_worker(len(batch.queue))
                continue
            wait_s = None
            if limit is not None:
                now = time.monotonic()
                wait_s = max(0.0, min(t + limit - now for _, t in running.values()))
            done, _ = cf.wait(running, timeout=wait_s, return_when=cf.FIRST_COMPLETED)
            broken: BaseException | None = None
            for fut in done:
                i, t0 = running.pop(fut)
                try:
                    ev = fut.result()
                except cf.BrokenExecutor as exc:  # a worker died: this point is lost
                    broken = exc
                    ev = failed_evaluation(
                        problem,
                        f"WorkerDied: {type(exc).__name__}: {exc}",
                        time.monotonic() - t0,
                    )
                except Exception as exc:  # e.g. an unpicklable result
                    ev = failed_evaluation(
                        problem, f"{type(exc).__name__}: {exc}", time.monotonic() - t0
                    )
                batch.record(i, ev)
            if limit is not None:
                assert self.timeout is not None  # a limit means a timeout
                now = time.monotonic()
                for fut, (i, t0) in list(running.items()):
                    if now - t0 >= limit:
                        del running[fut]
                        if not fut.cancel():
                            self._stuck[fut] = (problem.to_dict(X[i]), t0)
                        batch.record(
                            i, failed_evaluation(problem, timeout_message(self.timeout), now - t0)
                        )
            if broken is not None and not running:
                self._renew(broken)
        return batch.evaluations()

    def _wait_for_a_worker(self, waiting: int) -> None:
        """Every worker is stuck in a given-up task: wait for one, or stop resumably.

        The ``waiting`` points never ran, so they are not recorded as anything.

        Raises:
            HungEvaluationsError: no worker came back within ``stuck_wait`` seconds.
        """
        hung = list(self._stuck.values())
        now = time.monotonic()
        listing = "; ".join(f"{_point_text(p)} (running for {now - t0:.0f} s)" for p, t0 in hung)
        wait = "" if self.stuck_wait is None else f" up to {self.stuck_wait:g} s"
        warnings.warn(
            f"all {self.n_workers} workers are still busy with evaluations that exceeded "
            f"the time limit of {self.timeout:g} s and ignore the interruption: {listing}. "
            f"{waiting} point(s) are waiting for a worker{wait}; they are evaluated when "
            "one comes back (and are not recorded as failures)",
            RuntimeWarning,
            stacklevel=4,
        )
        done, _ = cf.wait(self._stuck, timeout=self.stuck_wait, return_when=cf.FIRST_COMPLETED)
        if done:
            return
        now = time.monotonic()
        listing = "; ".join(f"{_point_text(p)} for {now - t0:.0f} s" for p, t0 in hung)
        raise HungEvaluationsError(
            f"every worker ({self.n_workers}) hangs in an evaluation past its time limit "
            f"of {self.timeout:g} s: {listing}; none came back within {self.stuck_wait:g} "
            f"s. The run stops here so that the {waiting} point(s) not yet run are not "
            "recorded as failures. Everything finished is recorded (the hung evaluations "
            "as timed out): continue with resume=True once the workers are free (under "
            "MPI, restart the job). Simulations that ignore the time limit are best run "
            "as external programs (Problem.from_command kills them on time) or with "
            "evaluator='process', which kills and replaces stuck workers",
            [p for p, _ in hung],
        )

    def close(self) -> None:
        if self.owns_executor:
            self.executor.shutdown(wait=False, cancel_futures=True)


def _point_text(point: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}={v:.6g}" for k, v in point.items()) + "}"
