"""The evaluators' former home, kept so that older imports work.

The evaluators live in :mod:`botorch_joint.parallel`, one module per back end; every
name that was importable from here still is, and is the same object: the names of
:mod:`botorch_joint.parallel` but those it gained after the move. The MPI names are
among those, so that ``from botorch_joint.evaluation import *`` never imports
``mpi4py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from botorch_joint import parallel as _parallel

if TYPE_CHECKING:  # the static types of the names bound below
    from botorch_joint.parallel import *  # noqa: F403

#: the names :mod:`botorch_joint.parallel` gained after the move, not exported from here
_NEWER = frozenset(
    {
        "BACKENDS",
        "EvaluatorSpec",
        "Launcher",
        "MPIEvaluator",
        "OnStarted",
        "launcher",
        "mpi_world_size",
        "run_on_mpi",
        "run_with_evaluator",
    }
)

__all__ = [name for name in _parallel.__all__ if name not in _NEWER]

globals().update({name: getattr(_parallel, name) for name in __all__})
