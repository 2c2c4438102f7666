"""Parallel evaluation back ends beyond the local process pool.

:mod:`botorch_joint.parallel.mpi` evaluates on MPI ranks through ``mpi4py.futures``.
Nothing here imports ``mpi4py`` until it is used, because importing ``mpi4py.MPI``
initialises MPI.
"""

from __future__ import annotations

__all__ = ["MPIEvaluator", "run_on_mpi"]


def __getattr__(name: str):  # lazy: keep mpi4py unimported until asked for
    if name in __all__:
        from botorch_joint.parallel import mpi

        return getattr(mpi, name)
    raise AttributeError(f"module 'botorch_joint.parallel' has no attribute {name!r}")
