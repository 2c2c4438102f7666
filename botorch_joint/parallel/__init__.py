"""Evaluators: how a batch of parameter vectors becomes simulator results.

One interface, :class:`~botorch_joint.parallel.base.Evaluator`, one module per back end
and one factory:

* :mod:`~botorch_joint.parallel.base`: the interface, its callbacks and exceptions, the
  checks of ``timeout`` and ``n_workers``, and the bookkeeping of a batch that the back
  ends share;
* :mod:`~botorch_joint.parallel.task`: what a worker runs, one evaluation under a
  ``SIGALRM`` time limit;
* :mod:`~botorch_joint.parallel.serial`: ``"serial"``, in this process;
* :mod:`~botorch_joint.parallel.process`: ``"process"``, a supervised pool of local
  worker processes (stuck workers are killed, dead ones replaced);
* :mod:`~botorch_joint.parallel.executor`: any ``concurrent.futures.Executor``;
* :mod:`~botorch_joint.parallel.mpi`: ``"mpi"``, MPI ranks through ``mpi4py.futures``;
* :mod:`~botorch_joint.parallel.factory`: ``evaluator=`` to an evaluator
  (:func:`~botorch_joint.parallel.factory.make_evaluator`), and code run with one
  (:func:`~botorch_joint.parallel.factory.run_with_evaluator`, the single entry point
  of MPI).

Evaluators never raise for a failed simulation: an exception, a timeout, a dead worker
or a non-finite objective comes back as a failed
:class:`~botorch_joint.problems.Evaluation` with its message kept.

Nothing here imports ``mpi4py`` until MPI is used (importing ``mpi4py.MPI``
initialises MPI): the MPI names below load :mod:`botorch_joint.parallel.mpi` when
first asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from botorch_joint.parallel.base import (
    EvaluationTimeout,
    Evaluator,
    HungEvaluationsError,
    OnDispatch,
    OnResult,
    OnStarted,
    check_n_workers,
    check_timeout,
    default_grace,
    default_stuck_wait,
    failed_evaluation,
    run_evaluator,
)
from botorch_joint.parallel.executor import ExecutorEvaluator
from botorch_joint.parallel.factory import (
    BACKENDS,
    EvaluatorSpec,
    Launcher,
    launcher,
    make_evaluator,
    run_with_evaluator,
)
from botorch_joint.parallel.process import ProcessEvaluator
from botorch_joint.parallel.serial import SerialEvaluator
from botorch_joint.parallel.task import evaluate_point

if TYPE_CHECKING:
    from botorch_joint.parallel.mpi import MPIEvaluator, mpi_world_size, run_on_mpi

_MPI_NAMES = ("MPIEvaluator", "mpi_world_size", "run_on_mpi")

__all__ = [
    "BACKENDS",
    "EvaluationTimeout",
    "Evaluator",
    "EvaluatorSpec",
    "ExecutorEvaluator",
    "HungEvaluationsError",
    "Launcher",
    "MPIEvaluator",
    "OnDispatch",
    "OnResult",
    "OnStarted",
    "ProcessEvaluator",
    "SerialEvaluator",
    "check_n_workers",
    "check_timeout",
    "default_grace",
    "default_stuck_wait",
    "evaluate_point",
    "failed_evaluation",
    "launcher",
    "make_evaluator",
    "mpi_world_size",
    "run_evaluator",
    "run_on_mpi",
    "run_with_evaluator",
]


def __getattr__(name: str) -> Any:  # lazy: keep mpi4py unimported until asked for
    if name in _MPI_NAMES:
        return getattr(importlib.import_module("botorch_joint.parallel.mpi"), name)
    raise AttributeError(f"module 'botorch_joint.parallel' has no attribute {name!r}")
