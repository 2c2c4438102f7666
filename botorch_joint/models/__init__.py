"""Surrogate models, all native BoTorch models with one prediction protocol.

* :class:`JointSurrogate`: deep-ensemble network (ResNet or FT-Transformer backbone)
  with an objective head and a constraint-feasibility head;
* :class:`GPR`: one exact GP per outcome; :class:`MEGP`: a multi-output exact GP;
* :func:`fit_model`: fits any of them;
* :func:`predict` / :class:`Prediction`: objectives, their spread and P(feasible).
"""

from botorch_joint.models.fit import fit_model, register_with_ax
from botorch_joint.models.gp import GPR, MEGP
from botorch_joint.models.joint import JointSurrogate
from botorch_joint.models.prediction import Prediction, predict

__all__ = [
    "GPR",
    "MEGP",
    "JointSurrogate",
    "Prediction",
    "fit_model",
    "predict",
    "register_with_ax",
]
