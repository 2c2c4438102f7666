"""Evaluation on MPI ranks through ``mpi4py.futures``.

Two ways to run:

* **under mpiexec** (``mpiexec -n N botorch-joint run ... --evaluator mpi``, or a script
  calling ``optimize(..., evaluator="mpi")``): rank 0 runs the optimisation loop and
  ranks ``1..N-1`` evaluate, through an ``MPICommExecutor``. :func:`run_on_mpi` sets this
  up; ``optimize`` calls it for you.
* **singleton** (``evaluator="mpi"`` in a plain ``python`` process): an
  ``MPIPoolExecutor`` spawns the worker processes with ``MPI_Comm_spawn``.

``mpi4py`` is imported only inside functions: importing ``mpi4py.MPI`` initialises MPI,
which must not happen to users who never asked for it.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from botorch_joint.parallel.base import HungEvaluationsError, check_n_workers
from botorch_joint.parallel.executor import ExecutorEvaluator

T = TypeVar("T")

__all__ = ["MPIEvaluator", "mpi_world_size", "run_on_mpi"]


def _mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "evaluator='mpi' needs mpi4py and an MPI library: pip install 'botorch-joint[mpi]' "
            "(mpi4py and the mpich wheel) or build mpi4py against your cluster's MPI"
        ) from exc
    return MPI


def mpi_world_size() -> int:
    """Number of ranks in ``MPI.COMM_WORLD`` (initialises MPI). 1 outside ``mpiexec``."""
    return int(_mpi().COMM_WORLD.Get_size())


def _default_spawn_workers() -> int:
    env = os.environ.get("MPI4PY_FUTURES_MAX_WORKERS")
    if env:
        return max(1, int(env))
    return max(1, os.cpu_count() or 1)


def _spawn_pool(n_workers: int) -> Any:
    from mpi4py.futures import MPIPoolExecutor

    pool = MPIPoolExecutor(max_workers=n_workers)
    try:
        pool.bootup(wait=True)
    except Exception as exc:
        pool.shutdown(wait=False, cancel_futures=True)
        raise RuntimeError(
            f"could not spawn {n_workers} MPI worker processes ({type(exc).__name__}: {exc}). "
            "This MPI may not support MPI_Comm_spawn from a singleton process: launch the "
            "run under mpiexec instead, e.g. `mpiexec -n 8 botorch-joint run PROBLEM "
            "--evaluator mpi` (rank 0 runs the loop, the other ranks evaluate)"
        ) from exc
    return pool


class MPIEvaluator(ExecutorEvaluator):
    """Evaluates points on MPI worker processes via ``mpi4py.futures``.

    Without ``executor`` it spawns ``n_workers`` workers with an ``MPIPoolExecutor``
    (singleton mode, outside ``mpiexec``). Under ``mpiexec`` use :func:`run_on_mpi`, which
    passes the ``MPICommExecutor`` of the world communicator here.

    Args:
        n_workers: number of workers (spawned workers default to
            ``$MPI4PY_FUTURES_MAX_WORKERS`` or the number of CPUs; with ``executor`` the
            number of worker ranks).
        timeout: per-evaluation time limit in seconds. A simulation stuck in Python code
            is interrupted on its rank, which then takes new work; one stuck in C code
            is recorded as failed after a grace period and its rank is not used again
            until it returns.
        executor: an existing ``mpi4py.futures`` executor to use (not shut down by
            :meth:`close`).
        grace: see :class:`~botorch_joint.parallel.executor.ExecutorEvaluator`.
        stuck_wait: how long points wait for a rank when every rank is stuck in an
            evaluation past its time limit, before
            :class:`~botorch_joint.parallel.base.HungEvaluationsError` stops the run
            resumably (see :class:`~botorch_joint.parallel.executor.ExecutorEvaluator`).

    Raises:
        RuntimeError: when started under ``mpiexec`` with more than one rank and no
            ``executor`` (use :func:`run_on_mpi`), or when workers cannot be spawned.
    """

    def __init__(
        self,
        n_workers: int | None = None,
        timeout: float | None = None,
        executor: Any | None = None,
        grace: float | None = None,
        stuck_wait: float | None = None,
    ) -> None:
        n_workers = check_n_workers(n_workers)
        owns = executor is None
        if executor is None:
            size = mpi_world_size()
            if size > 1:
                raise RuntimeError(
                    f"this process is one of {size} MPI ranks started by mpiexec: run the "
                    "loop through botorch_joint.parallel.mpi.run_on_mpi (optimize(..., "
                    "evaluator='mpi') does this) so that rank 0 optimises and the other "
                    "ranks evaluate"
                )
            n_workers = int(n_workers or _default_spawn_workers())
            executor = _spawn_pool(n_workers)
        elif n_workers is None:
            n_workers = max(1, mpi_world_size() - 1)
        super().__init__(
            executor,
            n_workers=n_workers,
            timeout=timeout,
            owns_executor=owns,
            grace=grace,
            stuck_wait=stuck_wait,
        )

    def close(self) -> None:
        if self.owns_executor:
            # Let idle workers exit cleanly; abandoned (hung) tasks are not waited for.
            self.executor.shutdown(wait=not self._stuck, cancel_futures=True)


def run_on_mpi(
    fn: Callable[[MPIEvaluator], T],
    *,
    n_workers: int | None = None,
    timeout: float | None = None,
    broadcast: bool = True,
) -> T:
    """Run ``fn(evaluator)`` with an MPI evaluator, on every rank of an ``mpiexec`` job.

    Under ``mpiexec -n N`` (N > 1) rank 0 calls ``fn`` with an evaluator whose workers
    are ranks ``1..N-1``; those ranks serve evaluations until ``fn`` returns. Outside
    ``mpiexec`` (one rank) ``fn`` gets an evaluator with spawned workers.

    Args:
        fn: ``fn(evaluator) -> value``; runs on rank 0 only.
        n_workers: spawned workers in singleton mode (ignored under ``mpiexec``).
        timeout: per-evaluation time limit in seconds.
        broadcast: send ``fn``'s return value from rank 0 to every rank, so that code
            after the call sees the same value everywhere (``None`` on the workers
            otherwise, and if the value cannot be pickled).

    Returns:
        ``fn``'s return value.

    Raises:
        SystemExit: on worker ranks when ``fn`` raised on rank 0 (which re-raises it).
    """
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        with MPIEvaluator(n_workers=n_workers, timeout=timeout) as ev:
            return fn(ev)  # type: ignore[arg-type]

    from mpi4py.futures import MPICommExecutor

    rank = comm.Get_rank()
    value: Any = None
    error: BaseException | None = None
    with MPICommExecutor(comm, root=0) as executor:
        if executor is not None:  # rank 0: run the loop; the others serve until it ends
            ev = MPIEvaluator(executor=executor, n_workers=comm.Get_size() - 1, timeout=timeout)
            try:
                value = fn(ev)
            except HungEvaluationsError as exc:
                # The stuck ranks may never return, and the end of the job would wait for
                # them: end the job now. Everything recorded is on disk; it resumes.
                sys.stderr.write(
                    f"botorch-joint (MPI rank 0): {type(exc).__name__}: {exc}\n"
                    "botorch-joint: aborting the MPI job (resume it with --resume)\n"
                )
                sys.stderr.flush()
                comm.Abort(3)
            except BaseException as exc:  # re-raised below, after the workers are told
                error = exc
    message = None
    if rank == 0:
        message = None if error is None else f"{type(error).__name__}: {error}"
        sent = value if broadcast else None
        try:
            pickle.dumps(sent)
        except Exception:
            sent = None
        message, value_all = comm.bcast((message, sent), root=0)
        if error is not None:
            raise error
        return value
    message, value_all = comm.bcast(None, root=0)
    if message is not None:
        sys.stderr.flush()
        raise SystemExit(f"botorch-joint (MPI rank {rank}): rank 0 failed with {message}")
    return value_all
