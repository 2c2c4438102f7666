"""Evaluators: how a batch of parameter vectors becomes simulator results.

One small interface, :class:`Evaluator`, with three backends:

* :class:`SerialEvaluator` evaluates in this process;
* :class:`ProcessEvaluator` runs a pool of local worker processes that it supervises
  itself, so that a worker that hangs past the timeout is killed and a worker that dies
  (``os._exit``, a segfault) is replaced, failing only the evaluation it was running;
* :class:`ExecutorEvaluator` wraps any ``concurrent.futures.Executor`` (``mpi4py.futures``
  pools, a user's own pool); :class:`botorch_joint.parallel.mpi.MPIEvaluator` builds on it.

Evaluators never raise for a failed simulation: an exception, a timeout, a dead worker
or a non-finite objective comes back as a failed
:class:`~botorch_joint.problems.Evaluation` with its message kept.

Timeouts are enforced twice. Inside the worker a ``SIGALRM`` timer interrupts a
simulation stuck in Python code (``time.sleep``, a Python loop) so that the worker
reports the timeout itself and stays usable. If the worker does not answer within a
grace period after that (a simulation stuck in C code, or one that swallows the
exception), the supervising side gives up on it: :class:`ProcessEvaluator` kills and
replaces the worker; :class:`ExecutorEvaluator` records the failure and stops counting
that worker as free until it returns. A point that never ran is never recorded: when
every worker of an executor is stuck, the next points wait (with a warning) and, if no
worker comes back in time, :class:`HungEvaluationsError` stops the run resumably.

Each evaluator reports through callbacks: ``on_dispatch(i)`` when row ``i`` is handed
to a worker, ``on_started()`` once the batch is under way, ``on_result(i, evaluation)``
when row ``i`` is done. An exception raised by a callback (a journal that cannot be
written) stops the batch and propagates: it is never taken for a failed simulation.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import math
import os
import pickle
import signal
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from botorch_joint.problems.base import Evaluation, Problem

OnResult = Callable[[int, Evaluation], None]
OnDispatch = Callable[[int], None]


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


def _timeout_message(timeout: float) -> str:
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


def _alarm_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise :class:`EvaluationTimeout` in this (main) thread after ``seconds``."""

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
    if timeout is None or not _alarm_usable():
        return problem.evaluate_point(x)
    t0 = time.perf_counter()
    ev: Evaluation | None = None
    try:
        with _alarm(timeout):
            ev = problem.evaluate_point(x)
    except EvaluationTimeout:
        pass  # fired between the simulation's return and the timer's cancellation
    if ev is None:
        ev = failed_evaluation(problem, _timeout_message(timeout), time.perf_counter() - t0)
    return ev


def _unsendable(problem: Problem, exc: BaseException) -> TypeError:
    return TypeError(
        f"problem {problem.name!r} cannot be sent to worker processes "
        f"({type(exc).__name__}: {exc}); define its evaluate function at the top level "
        "of an importable module (not a lambda or a nested function), or use the serial "
        "evaluator"
    )


def _check_picklable(problem: Problem) -> bytes:
    try:
        return pickle.dumps(problem)
    except Exception as exc:
        raise _unsendable(problem, exc) from exc


def _problem_name(problem: Problem) -> str:
    """A task that only proves the problem reached a worker and loaded there."""
    return problem.name


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
        on_started: Callable[[], None] | None = None,
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
        if timeout is not None and not _alarm_usable():
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
        on_started: Callable[[], None] | None = None,
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


# ------------------------------------------------------------ process pool
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
            killed (default :func:`default_grace`).
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
        self.grace = default_grace(timeout) if grace is None and timeout else (grace or 0.0)
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
        on_started: Callable[[], None] | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        from multiprocessing.connection import wait

        X = problem.check_X(X)
        payload = _check_picklable(problem)
        self._token += 1
        token = self._token
        out: list[Evaluation | None] = [None] * len(X)
        queue = collections.deque(range(len(X)))
        busy: list[_Worker] = []

        def record(i: int, ev: Evaluation) -> None:
            out[i] = ev
            if on_result is not None:
                on_result(i, ev)

        try:
            while queue or busy:
                while queue and len(busy) < self.n_workers:
                    w = self._idle_worker()
                    i = queue.popleft()
                    if on_dispatch is not None:
                        on_dispatch(i)
                    try:
                        if w.problem_token != token:
                            w.conn.send(("problem", payload))
                            w.problem_token = token
                        w.conn.send(("task", i, X[i], self.timeout))
                    except (BrokenPipeError, OSError):
                        # died while idle: replace it and try again
                        queue.appendleft(i)
                        self._retire(w, kill=True)
                        continue
                    w.task, w.started = i, None
                    busy.append(w)
                if on_started is not None:
                    on_started()
                    on_started = None
                wait_s = None
                started = [w.started for w in busy if w.started is not None]
                if self.timeout is not None and started:
                    limit = self.timeout + self.grace
                    wait_s = max(0.0, min(started) + limit - time.monotonic())
                handles = [w.conn for w in busy] + [w.process.sentinel for w in busy]
                ready = set(wait(handles, timeout=wait_s))
                for w in list(busy):
                    if w.conn in ready or w.process.sentinel in ready:
                        self._collect(w, busy, problem, record)
                    now = time.monotonic()
                    if (
                        w in busy
                        and self.timeout is not None
                        and w.started is not None
                        and now - w.started >= self.timeout + self.grace
                    ):
                        i = w.task
                        assert i is not None
                        busy.remove(w)
                        self._retire(w, kill=True)
                        msg = _timeout_message(self.timeout)
                        record(i, failed_evaluation(problem, msg, now - w.started))
        except BaseException:
            # An interrupted batch leaves workers mid-task: do not reuse them.
            for w in busy:
                self._retire(w, kill=True)
            raise
        return [ev for ev in out if ev is not None]

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


# ---------------------------------------------------------- any executor
class ExecutorEvaluator(Evaluator):
    """Evaluates each point as one task on a ``concurrent.futures.Executor``.

    At most ``n_workers`` tasks are in flight at once, so a task starts when it is
    submitted and its time limit is measured from then. A task past ``timeout + grace``
    is recorded as failed and its worker is not counted as free until it returns (an
    executor cannot kill a running task; the worker-side limit of
    :func:`evaluate_point` normally ends it at ``timeout``).

    When every worker is held by such a stuck task, the points still to run wait for one
    to come back, with a warning; they are never recorded as failures, having never run.
    If none comes back within ``stuck_wait`` seconds, :class:`HungEvaluationsError`
    stops the evaluation: everything recorded so far stays recorded, and a resumed run
    evaluates the rest.

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
            (default :func:`default_grace`).
        stuck_wait: how long the points wait for a worker when every worker is stuck
            (default :func:`default_stuck_wait`); ``None`` with no timeout.

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
        self.grace = default_grace(timeout) if grace is None and timeout else (grace or 0.0)
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
            fut = self.executor.submit(_problem_name, problem)
            fut.result()
        except (cf.BrokenExecutor, cf.CancelledError):
            return  # not the problem's fault: the evaluation loop renews the executor
        except Exception as exc:
            raise _unsendable(problem, exc) from exc
        self._sent = problem

    def evaluate(
        self,
        problem: Problem,
        X: np.ndarray,
        on_result: OnResult | None = None,
        on_started: Callable[[], None] | None = None,
        on_dispatch: OnDispatch | None = None,
    ) -> list[Evaluation]:
        X = problem.check_X(X)
        self._check_sendable(problem)
        out: list[Evaluation | None] = [None] * len(X)
        queue = collections.deque(range(len(X)))
        running: dict[cf.Future[Any], tuple[int, float]] = {}
        limit = None if self.timeout is None else self.timeout + self.grace

        def record(i: int, ev: Evaluation) -> None:
            out[i] = ev
            if on_result is not None:
                on_result(i, ev)

        while queue or running:
            self._stuck = {f: v for f, v in self._stuck.items() if not f.done()}
            while queue and len(running) + len(self._stuck) < self.n_workers:
                i = queue.popleft()
                if on_dispatch is not None:
                    on_dispatch(i)
                try:
                    fut = self.executor.submit(evaluate_point, problem, X[i], self.timeout)
                except (cf.BrokenExecutor, RuntimeError) as exc:
                    queue.appendleft(i)
                    self._renew(exc)
                    continue
                running[fut] = (i, time.monotonic())
            if on_started is not None:
                on_started()
                on_started = None
            if not running:
                self._wait_for_a_worker(len(queue))
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
                record(i, ev)
            if limit is not None:
                now = time.monotonic()
                for fut, (i, t0) in list(running.items()):
                    if now - t0 >= limit:
                        del running[fut]
                        if not fut.cancel():
                            self._stuck[fut] = (problem.to_dict(X[i]), t0)
                        record(
                            i, failed_evaluation(problem, _timeout_message(self.timeout), now - t0)
                        )
            if broken is not None and not running:
                self._renew(broken)
        return [ev for ev in out if ev is not None]

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


def default_stuck_wait(timeout: float, grace: float) -> float:
    """How long points wait for a worker when all are stuck: ``max(60, 10 (timeout + grace))``."""
    return max(60.0, 10.0 * (timeout + grace))


def _point_text(point: dict[str, float]) -> str:
    return "{" + ", ".join(f"{k}={v:.6g}" for k, v in point.items()) + "}"


def run_evaluator(
    ev: Evaluator,
    problem: Problem,
    X: np.ndarray,
    on_result: OnResult | None = None,
    on_started: Callable[[], None] | None = None,
    on_dispatch: OnDispatch | None = None,
) -> list[Evaluation]:
    """``ev.evaluate(...)``, also for evaluators written before a callback existed.

    Without ``on_started`` support it is called first; without ``on_dispatch`` support
    every row counts as dispatched when the evaluation begins.
    """
    import inspect

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


def make_evaluator(
    spec: None | str | cf.Executor | Evaluator,
    n_workers: int | None = None,
    timeout: float | None = None,
) -> Evaluator:
    """Build an evaluator from ``evaluator=`` as accepted by :func:`botorch_joint.optimize`.

    Args:
        spec: ``None`` or ``"serial"``; ``"process"`` (a supervised local process pool,
            :class:`ProcessEvaluator`); ``"mpi"`` (an ``mpi4py.futures`` pool,
            :class:`~botorch_joint.parallel.mpi.MPIEvaluator`); any
            ``concurrent.futures.Executor``; or an :class:`Evaluator` (used as is, with
            its own timeout).
        n_workers: pool size for ``"process"`` and ``"mpi"`` (spawned workers).
        timeout: per-evaluation time limit in seconds.
    """
    n_workers = check_n_workers(n_workers)
    timeout = check_timeout(timeout)
    if spec is None or (isinstance(spec, str) and spec == "serial"):
        return SerialEvaluator(timeout=timeout)
    if isinstance(spec, Evaluator):
        if timeout is not None and spec.timeout != timeout:
            warnings.warn(
                f"timeout={timeout} is ignored for a ready-made {type(spec).__name__}, "
                f"which has timeout={spec.timeout}; set the timeout on the evaluator",
                stacklevel=3,
            )
        return spec
    if isinstance(spec, cf.Executor):
        return ExecutorEvaluator(spec, n_workers=n_workers, timeout=timeout)
    if isinstance(spec, str) and spec == "process":
        return ProcessEvaluator(n_workers=n_workers, timeout=timeout)
    if isinstance(spec, str) and spec == "mpi":
        from botorch_joint.parallel.mpi import MPIEvaluator

        return MPIEvaluator(n_workers=n_workers, timeout=timeout)
    raise ValueError(
        f"unknown evaluator {spec!r}; use None, 'serial', 'process', 'mpi', "
        "a concurrent.futures.Executor or an Evaluator"
    )
