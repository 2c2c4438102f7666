"""Acquisition and search on a fitted surrogate.

* :class:`UnifiedLossAcquisition`: the unified loss (scalarised objectives plus
  ``-sum_j log P_j(feasible)``) as a BoTorch acquisition function, with a registered
  input constructor for ``optimize_acqf`` and Ax.
* :class:`ConstraintGradientDescent`: projected gradient descent on that loss from many
  starts, recording every iterate (trace samples) and selecting a diverse,
  predicted-feasible batch from them.
* :class:`SensitivityWeightedPerturbation`: offspring whose per-parameter step sizes
  follow sensitivity indices.
* :class:`SurrogateSearch`: the per-epoch population search that combines them, tuned
  by :class:`SearchOptions`.
"""

from botorch_joint.acquisition.descent import ConstraintGradientDescent, Trace, ray_weights
from botorch_joint.acquisition.loss import (
    Outcomes,
    UnifiedLossAcquisition,
    feasibility_loss,
    outcomes,
    predict,
    scalarize,
    unified_loss,
)
from botorch_joint.acquisition.options import SearchOptions
from botorch_joint.acquisition.perturbation import (
    SensitivityWeightedPerturbation,
    perturbation_scales,
)
from botorch_joint.acquisition.ranking import (
    constrained_ranks,
    crowding_distance,
    non_dominated_ranks,
    select_batch,
)
from botorch_joint.acquisition.search import SearchResult, SurrogateSearch

__all__ = [
    "ConstraintGradientDescent",
    "Outcomes",
    "SearchOptions",
    "SearchResult",
    "SensitivityWeightedPerturbation",
    "SurrogateSearch",
    "Trace",
    "UnifiedLossAcquisition",
    "constrained_ranks",
    "crowding_distance",
    "feasibility_loss",
    "non_dominated_ranks",
    "outcomes",
    "perturbation_scales",
    "predict",
    "ray_weights",
    "scalarize",
    "select_batch",
    "unified_loss",
]
