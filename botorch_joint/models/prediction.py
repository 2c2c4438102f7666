"""One prediction protocol for every surrogate: objectives, their spread, P(feasible).

The surrogate search codes against :func:`predict` and :class:`Prediction` only, so the
joint network and the Gaussian-process baselines are interchangeable there. Every model
also exposes ``num_objectives``, ``num_constraints`` (0 for objective-only models) and
``bounds`` (``(2, d)``, problem units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from botorch.models.model import Model
from torch import Tensor

__all__ = ["Prediction", "predict"]

#: Rows per posterior call when predicting with a Gaussian-process model.
GP_CHUNK = 1024


@dataclass
class Prediction:
    """A surrogate's prediction at ``(..., n)`` points.

    Attributes:
        obj_mean: ``(..., n, m)`` predicted objectives, original units (minimised).
        obj_std: ``(..., n, m)`` predictive standard deviations (ensemble spread or GP
            posterior), ``None`` if the model has none.
        feas_prob: ``(..., n, k)`` probability that each constraint is satisfied;
            ``None`` for objective-only models or ``k == 0``.
    """

    obj_mean: Tensor
    obj_std: Tensor | None
    feas_prob: Tensor | None


def predict(model: Model, X: Tensor) -> Prediction:
    """Predict objectives and feasibility at ``X``, differentiably w.r.t. ``X``.

    For a :class:`~botorch_joint.models.JointSurrogate`: the ensemble mean and standard
    deviation (across members) of the objectives and the members' mean feasibility
    probability. For :class:`~botorch_joint.models.GPR` /
    :class:`~botorch_joint.models.MEGP` (or any model whose posterior has ``m``
    objectives followed by ``k`` constraint values): the posterior mean and standard
    deviation of the objectives and ``Phi(mu_c / sigma_c)`` per constraint.

    Args:
        model: a fitted surrogate with ``num_objectives`` and ``num_constraints``.
        X: ``(..., n, d)`` inputs in problem units.

    Returns:
        The :class:`Prediction`; its tensors keep the autograd graph to ``X``.
    """
    from botorch_joint.models.joint import JointSurrogate

    m = int(model.num_objectives)
    k = int(getattr(model, "num_constraints", 0))
    if isinstance(model, JointSurrogate):
        model.eval()
        obj, prob = model.member_outputs(model.transform_inputs(X))
        mean = obj.mean(dim=-3)
        std = None
        if obj.shape[-3] > 1:
            # Unbiased across members, as EnsemblePosterior.variance; the clamp keeps the
            # square root's gradient finite where all members agree exactly.
            var = obj.var(dim=-3, correction=1)
            std = var.clamp_min(1e-24).sqrt()
        feas = None if prob is None else prob.mean(dim=-3)
        return Prediction(mean, std, feas)

    # Only marginals are needed: predict in row chunks so that no joint covariance over
    # all the points is ever formed (that is quadratic in the number of points).
    d = X.shape[-1]
    flat = X.reshape(-1, d)
    means, variances = [], []
    for chunk in flat.split(GP_CHUNK):
        posterior = model.posterior(chunk)
        means.append(posterior.mean)
        variances.append(posterior.variance)
    t = means[0].shape[-1]
    mean = torch.cat(means).reshape(*X.shape[:-1], t)
    var = torch.cat(variances).reshape(*X.shape[:-1], t)
    std = var.clamp_min(1e-24).sqrt()
    feas = None
    if k:
        z = mean[..., m : m + k] / std[..., m : m + k]
        feas = 0.5 * torch.erfc(-z / math.sqrt(2.0))
    return Prediction(mean[..., :m], std[..., :m], feas)
