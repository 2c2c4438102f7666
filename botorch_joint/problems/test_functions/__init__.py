"""Constrained multi-objective benchmark functions as :class:`Problem` objects.

Every factory returns a :class:`~botorch_joint.problems.base.Problem` with a vectorised
``batch_evaluate`` (``(n, d) -> (Y (n, m), C (n, k))``) and a point-wise ``evaluate``
(``dict -> dict``, a thin wrapper around the batch function), a reference point, the
maximum hypervolume for that reference point and a sampler of the true Pareto front.

Conventions (see ``API.md``): objectives are minimised and a constraint value ``c`` is
satisfied iff ``c >= 0``. Definitions follow pymoo 0.6.2 wherever pymoo has the
problem; pymoo writes constraints as ``G <= 0``, here ``C = -G`` exactly. The disc
brake and the constrained Branin-Currin problems, which pymoo lacks, follow BoTorch
0.18.1 (checked against their papers).

One module per family, each with its ``<name>_eval`` (the vectorised function),
``<name>_pareto_set`` (a sampler of the Pareto set) and ``<name>`` (the factory); all
of them are importable from this package:

* :mod:`~botorch_joint.problems.test_functions.dtlz`: C2-DTLZ2 (``c2dtlz2``);
* :mod:`~botorch_joint.problems.test_functions.mw`: MW7 (``mw7``);
* :mod:`~botorch_joint.problems.test_functions.engineering`: disc brake
  (``discbrake``), welded beam (``weldedbeam``) and OSY (``osy``);
* :mod:`~botorch_joint.problems.test_functions.branincurrin`: constrained Branin-Currin
  (``constrained_branincurrin``).

The deliberate differences from BoTorch 0.18.1's ``multi_objective`` test functions
(``C2DTLZ2``, ``WeldedBeam``, ``OSY``) are listed in the docstrings of the modules that
define them.

Every object handed to :class:`Problem` is a module-level function or a
:func:`functools.partial` of one, so problems pickle for worker processes.
"""

from __future__ import annotations

# Public before the split into modules (not in __all__); kept importable from here.
from botorch_joint.problems.test_functions._common import BatchAsDict as BatchAsDict
from botorch_joint.problems.test_functions._common import BatchFn as BatchFn
from botorch_joint.problems.test_functions.branincurrin import (
    constrained_branincurrin,
    constrained_branincurrin_eval,
    constrained_branincurrin_pareto_set,
)
from botorch_joint.problems.test_functions.dtlz import (
    c2dtlz2,
    c2dtlz2_eval,
    c2dtlz2_pareto_set,
)
from botorch_joint.problems.test_functions.engineering import (
    discbrake,
    discbrake_eval,
    discbrake_pareto_set,
    osy,
    osy_eval,
    osy_pareto_set,
    weldedbeam,
    weldedbeam_eval,
    weldedbeam_pareto_set,
)
from botorch_joint.problems.test_functions.mw import mw7, mw7_eval, mw7_pareto_set

__all__ = [
    "c2dtlz2",
    "c2dtlz2_eval",
    "c2dtlz2_pareto_set",
    "constrained_branincurrin",
    "constrained_branincurrin_eval",
    "constrained_branincurrin_pareto_set",
    "discbrake",
    "discbrake_eval",
    "discbrake_pareto_set",
    "mw7",
    "mw7_eval",
    "mw7_pareto_set",
    "osy",
    "osy_eval",
    "osy_pareto_set",
    "weldedbeam",
    "weldedbeam_eval",
    "weldedbeam_pareto_set",
]
