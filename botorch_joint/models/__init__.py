"""Surrogate models: native BoTorch models, and a mixture, with one prediction protocol.

* :class:`JointSurrogate`: deep-ensemble network (ResNet or FT-Transformer backbone)
  with an objective head and a constraint-feasibility head;
* :class:`GPR`: one exact GP per outcome; :class:`MEGP`: a multi-output exact GP;
* :func:`fit_model`: fits any of them;
* :class:`MixtureSurrogate`: the network and a GP mixed per output by cross-validation
  (not a BoTorch model: an :class:`OutcomePredictor`);
* :func:`predict` / :class:`Prediction`: objectives, their spread and P(feasible), for
  any :data:`Surrogate`.
"""

from botorch_joint.models.fit import fit_model, register_with_ax
from botorch_joint.models.gp import GPR, MEGP
from botorch_joint.models.hybrid import MixtureSurrogate
from botorch_joint.models.joint import JointSurrogate
from botorch_joint.models.prediction import OutcomePredictor, Prediction, Surrogate, predict

__all__ = [
    "GPR",
    "MEGP",
    "JointSurrogate",
    "MixtureSurrogate",
    "OutcomePredictor",
    "Prediction",
    "Surrogate",
    "fit_model",
    "predict",
    "register_with_ax",
]
