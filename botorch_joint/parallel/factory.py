"""From what ``evaluator=`` names to a running evaluator.

:func:`make_evaluator` builds an :class:`~botorch_joint.parallel.base.Evaluator` from
the ``evaluator=`` argument of :func:`botorch_joint.optimize`. :func:`run_with_evaluator`
is how a caller (``optimize``, the command line) runs code with an evaluator it names:
it builds the evaluator, calls the code with it and closes it. It is also the single
entry point of MPI: under ``mpiexec`` every rank makes the call, rank 0 runs the code
while the other ranks evaluate, and every rank gets its value
(:func:`botorch_joint.parallel.mpi.run_on_mpi`). ``mpi4py`` is imported only when MPI
is asked for.
"""

from __future__ import annotations

import concurrent.futures as cf
import warnings
from collections.abc import Callable
from typing import Protocol, TypeVar

from botorch_joint.errors import SettingsError
from botorch_joint.parallel.base import Evaluator, check_n_workers, check_timeout
from botorch_joint.parallel.executor import ExecutorEvaluator
from botorch_joint.parallel.process import ProcessEvaluator
from botorch_joint.parallel.serial import SerialEvaluator

__all__ = [
    "BACKENDS",
    "EvaluatorSpec",
    "Launcher",
    "launcher",
    "make_evaluator",
    "run_with_evaluator",
]

T = TypeVar("T")

#: what ``evaluator=`` accepts: ``None`` (serial), a back end's name, an executor or an
#: evaluator
EvaluatorSpec = None | str | cf.Executor | Evaluator


def _serial(n_workers: int | None, timeout: float | None) -> Evaluator:
    return SerialEvaluator(timeout=timeout)


def _process(n_workers: int | None, timeout: float | None) -> Evaluator:
    return ProcessEvaluator(n_workers=n_workers, timeout=timeout)


def _mpi(n_workers: int | None, timeout: float | None) -> Evaluator:
    from botorch_joint.parallel.mpi import MPIEvaluator  # imports mpi4py when used only

    return MPIEvaluator(n_workers=n_workers, timeout=timeout)


#: the back ends ``evaluator=`` names: ``name -> build(n_workers, timeout)``
BACKENDS: dict[str, Callable[[int | None, float | None], Evaluator]] = {
    "serial": _serial,
    "process": _process,
    "mpi": _mpi,
}


class Launcher(Protocol):
    """Runs ``fn(evaluator)`` where a back end needs it run, and returns its value.

    Under ``mpiexec`` every rank starts the same program; the launcher
    (:func:`~botorch_joint.parallel.mpi.run_on_mpi`) runs ``fn`` on rank 0 while the
    other ranks serve evaluations, and returns ``fn``'s value on every rank.
    """

    def __call__(
        self,
        fn: Callable[[Evaluator], T],
        *,
        n_workers: int | None = None,
        timeout: float | None = None,
    ) -> T: ...


def _mpi_launcher() -> Launcher | None:
    from botorch_joint.parallel.mpi import mpi_world_size, run_on_mpi

    return run_on_mpi if mpi_world_size() > 1 else None


#: back ends that may have to run the caller's code themselves: ``name -> () -> launcher``
_LAUNCHERS: dict[str, Callable[[], Launcher | None]] = {"mpi": _mpi_launcher}


def launcher(spec: EvaluatorSpec) -> Launcher | None:
    """The launcher that must run code with the evaluator ``spec`` names, or ``None``.

    ``None`` (every back end but MPI under ``mpiexec``) means that
    :func:`make_evaluator` builds a ready evaluator in this process. Asking about
    ``"mpi"`` initialises MPI (to count the ranks); nothing else imports ``mpi4py``.
    """
    get = _LAUNCHERS.get(spec) if isinstance(spec, str) else None
    return None if get is None else get()


def _checked(n_workers: int | None, timeout: float | None) -> tuple[int | None, float | None]:
    try:
        return check_n_workers(n_workers), check_timeout(timeout)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _unknown(spec: object) -> SettingsError:
    names = ", ".join(repr(name) for name in BACKENDS)
    return SettingsError(
        f"unknown evaluator {spec!r}; use None, {names}, a concurrent.futures.Executor "
        "or an Evaluator"
    )


def make_evaluator(
    spec: EvaluatorSpec,
    n_workers: int | None = None,
    timeout: float | None = None,
) -> Evaluator:
    """Build an evaluator from ``evaluator=`` as accepted by :func:`botorch_joint.optimize`.

    Args:
        spec: ``None`` or ``"serial"``
            (:class:`~botorch_joint.parallel.serial.SerialEvaluator`); ``"process"`` (a
            supervised local process pool,
            :class:`~botorch_joint.parallel.process.ProcessEvaluator`); ``"mpi"`` (an
            ``mpi4py.futures`` pool, :class:`~botorch_joint.parallel.mpi.MPIEvaluator`;
            under ``mpiexec`` use :func:`run_with_evaluator`); any
            ``concurrent.futures.Executor``
            (:class:`~botorch_joint.parallel.executor.ExecutorEvaluator`); or an
            :class:`~botorch_joint.parallel.base.Evaluator` (used as is, with its own
            timeout).
        n_workers: pool size for ``"process"`` and ``"mpi"`` (spawned workers).
        timeout: per-evaluation time limit in seconds.

    Raises:
        botorch_joint.errors.SettingsError: an unknown name, ``n_workers`` below 1 or
            a timeout that is not a positive number of seconds (a ``ValueError``).
    """
    n_workers, timeout = _checked(n_workers, timeout)
    if spec is None:
        spec = "serial"
    if isinstance(spec, str):
        build = BACKENDS.get(spec)
        if build is None:
            raise _unknown(spec)
        return build(n_workers, timeout)
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
    raise _unknown(spec)


def run_with_evaluator(
    spec: EvaluatorSpec,
    fn: Callable[[Evaluator], T],
    *,
    n_workers: int | None = None,
    timeout: float | None = None,
) -> T:
    """Call ``fn(evaluator)`` with the evaluator ``spec`` names; close it if built here.

    With ``spec="mpi"`` every rank of an ``mpiexec -n N`` job must make this call: rank
    0 calls ``fn`` with an evaluator whose workers are ranks ``1..N-1``, which serve
    evaluations until ``fn`` returns, and every rank returns ``fn``'s value (see
    :func:`~botorch_joint.parallel.mpi.run_on_mpi`). Outside ``mpiexec``, ``"mpi"``
    spawns its workers.

    Args:
        spec: as for :func:`make_evaluator`.
        fn: ``fn(evaluator) -> value``.
        n_workers: pool size for ``"process"`` and spawned MPI workers.
        timeout: per-evaluation time limit in seconds.

    Returns:
        ``fn``'s return value.

    Raises:
        botorch_joint.errors.SettingsError: as for :func:`make_evaluator`.
    """
    n_workers, timeout = _checked(n_workers, timeout)
    launch = launcher(spec)
    if launch is not None:
        return launch(fn, n_workers=n_workers, timeout=timeout)
    ev = make_evaluator(spec, n_workers=n_workers, timeout=timeout)
    try:
        return fn(ev)
    finally:
        if ev is not spec:
            ev.close()
