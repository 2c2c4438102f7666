"""The process back end: a pool of local worker processes that this process supervises.

Each worker evaluates one point at a time, talking to the supervising side over a pipe
(messages ``("problem", pickled)``, ``("task", i, x, timeout)`` and ``("stop",)`` one
way; ``("start", i, None)``, ``("result", i, evaluation)`` and ``("error", i, message)``
the other). Because the supervisor owns its workers, it can do what a generic
``concurrent.futures`` pool cannot: a worker that hangs past ``timeout + grace`` is
killed and replaced, a worker that dies (``os._exit``, a segfault) is replaced, and in
both cases only the point it was running fails. Workers die with this process (Linux
``PR_SET_PDEATHSIG``), so a killed batch job leaves no simulation running.

Why not a maintained pool such as ``pebble`` (considered for issue 17): its
``ProcessPool`` also cancels a task past its timeout and replaces a worker that died,
but it queues every scheduled task and does not say when a worker picks one up. The run
journal marks a point as running just before it is handed to a worker (``on_dispatch``),
so that after a crash the next attempt knows which points were in flight; behind
pebble's queue every scheduled point would look in flight. Here a point is handed to a
worker only when that worker is free. A pool with the ``concurrent.futures`` interface
still works through :mod:`~botorch_joint.parallel.executor`.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from botorch_joint.parallel.base import (
    Batch,
    Evaluator,
    OnDispatch,
    OnResult,
    OnStarted,
    check_n_workers,
    check_timeout,
    failed_evaluation,
    grace_period,
    timeout_message,
)
from botorch_joint.parallel.task import check_picklable, evaluate_point
from botorch_joint.problems.base import Evaluation, Problem

__all__ = ["ProcessEvaluator"]


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (a killed batch job)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: orphans exit at their next receive instead
        pass


def _worker_main(conn: Any, parent_pid: int) -> None:
    """A :class:`ProcessEvaluator` worker: load problems, evaluate points, report back."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        return
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    problem: Problem | None = None
    load_error: str | None = None
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        kind = msg[0]
        if kind == "problem":
            try:
                problem, load_error = pickle.loads(msg[1]), None
            except Exception as exc:
                problem, load_error = None, f"{type(exc).__name__}: {exc}"
        elif kind == "task":
            _, i, x, timeout = msg
            if problem is None:
                conn.send(("error", i, f"the worker could not load the problem: {load_error}"))
                continue
            conn.send(("start", i, None))
            conn.send(("result", i, evaluate_point(problem, x, timeout)))
        else:
            return


class _Worker:
    def __init__(self, ctx: Any) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.problem_token: int | None = None
        self.task: int | None = None
        self.started: float | None = None  # when the current evaluation began

    def stop(self, kill: bool = False) -> None:
        if not kill:
            with contextlib.suppress(Exception):
                self.conn.send(("stop",))
            self.process.join(timeout=2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5.0)
        with contextlib.suppress(Exception):
            self.conn.close()


class ProcessEvaluator(Evaluator):
    """A pool of local worker processes, supervised point by point.

    Each worker evaluates one point at a time. A worker that runs past
    ``timeout + grace`` is killed and replaced; a worker that dies is replaced; in both
    cases only the point it was running fails. Workers live across batches and die with
    this process.

    Args:
        n_workers: pool size (default: the number of CPUs).
        timeout: per-evaluation time limit in seconds (``None``: no limit).
        grace: extra seconds a worker gets to report its own timeout before it is
            killed (default :func:`~botorch_joint.parallel.base.default_grace`).
        start_method: ``multiprocessing`` start method; ``"spawn"`` (the default) is
            safe with threads and torch.

    Raises:
        ValueError: ``n_workers`` below 1 or a timeout that is not a positive number.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        timeout: float | None = None,
        grace: float | None = None,
        start_method: str = "spawn",
    ) -> None:
        import multiprocessing as mp

        n = check_n_workers(n_workers) or os.cpu_count() or 1
        self.n_workers = n
        self.timeout = timeout = check_timeout(timeout)
        self.grace = grace_period(timeout, grace)
        self._ctx = mp.get_context(start_method)
        self._workers: list[_Worker] = []
        self._token = 0
        self.replaced = 0  # workers killed or found dead, for diagnostics

    def _idle_worker(self) -> _Worker:
        for w in list(self._workers):
            if w.task is None:
                if w.process.is_alive():
                    return w
                self._retire(w, kill=True)  # died between batches
        w = _Worker(self._ctx)
        self._workers.append(w)
        return w

    def _retire(self, w: _Worker, kill: bool) -> None:
        self._workers.remove(w)
        self.replaced += 1
        w.stop(kill=kill)

    def evaluate(
        self,
        problem: Problem,
        X: np.ndarray,
        on_result: OnResult | None = None,
        on_started: OnStarted | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        from multiprocessing.connection import wait

        X = problem.check_X(X)
        payload = check_picklable(problem)
        self._token += 1
        token = self._token
        batch = Batch(len(X), on_result, on_started, on_dispatch)
        busy: list[_Worker] = []
        try:
            while batch.queue or busy:
                while batch.queue and len(busy) < self.n_workers:
                    w = self._idle_worker()
                    i = batch.dispatch()
                    try:
                        if w.problem_token != token:
                            w.conn.send(("problem", payload))
                            w.problem_token = token
                        w.conn.send(("task", i, X[i], self.timeout))
                    except (BrokenPipeError, OSError):
                        # died while idle: replace it and try again
                        batch.retry(i)
                        self._retire(w, kill=True)
                        continue
                    w.task, w.started = i, None
                    busy.append(w)
                batch.started()
                wait_s = None
                started = [w.started for w in busy if w.started is not None]
                if self.timeout is not None and started:
                    limit = self.timeout + self.grace
                    wait_s = max(0.0, min(started) + limit - time.monotonic())
                handles = [w.conn for w in busy] + [w.process.sentinel for w in busy]
                ready = set(wait(handles, timeout=wait_s))
                for w in list(busy):
                    if w.conn in ready or w.process.sentinel in ready:
                        self._collect(w, busy, problem, batch.record)
                    now = time.monotonic()
                    if (
                        w in busy
                        and self.timeout is not None
                        and w.started is not None
                        and now - w.started >= self.timeout + self.grace
                    ):
                        row = w.task
                        assert row is not None
                        busy.remove(w)
                        self._retire(w, kill=True)
                        msg = timeout_message(self.timeout)
                        batch.record(row, failed_evaluation(problem, msg, now - w.started))
        except BaseException:
            # An interrupted batch leaves workers mid-task: do not reuse them.
            for w in busy:
                self._retire(w, kill=True)
            raise
        return batch.evaluations()

    def _collect(
        self,
        w: _Worker,
        busy: list[_Worker],
        problem: Problem,
        record: Callable[[int, Evaluation], None],
    ) -> None:
        """Read what worker ``w`` sent; handle its result or its death."""
        i = w.task
        assert i is not None
        while True:
            # Only the pipe's errors mean the worker is gone: an error of ``record`` (the
            # journal could not be written) must reach the caller, never be swallowed.
            try:
                if not w.conn.poll():
                    break
                kind, j, value = w.conn.recv()
            except (EOFError, OSError):
                break
            if kind == "start":
                # time the evaluation from its start, not from the worker's boot
                w.started = time.monotonic()
            elif kind == "error":
                raise RuntimeError(
                    f"{value}. Define the problem's functions in a module the worker "
                    "processes can import (those defined in a notebook or with "
                    "`python -c` cannot be), or use the serial evaluator"
                )
            else:
                busy.remove(w)
                w.task = None
                record(j, value)
                return
        if w.process.is_alive():
            return
        w.process.join(timeout=5.0)
        busy.remove(w)
        self._retire(w, kill=True)
        seconds = 0.0 if w.started is None else time.monotonic() - w.started
        record(
            i,
            failed_evaluation(
                problem,
                "WorkerDied: the worker process died while evaluating this point "
                f"({_describe_exit(w.process.exitcode)})",
                seconds,
            ),
        )

    def close(self) -> None:
        for w in self._workers:
            w.stop()
        self._workers = []

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            for w in self._workers:
                w.stop(kill=True)


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
