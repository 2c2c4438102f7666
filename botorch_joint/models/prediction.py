"""One prediction protocol for every surrogate: objectives, their spread, P(feasible).

The surrogate search codes against :func:`predict` and :class:`Prediction` only, so the
joint network and the Gaussian-process baselines are interchangeable there. Every model
also exposes ``num_objectives``, ``num_constraints`` (0 for objective-only models) and
``bounds`` (``(2, d)``, problem units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, cast, runtime_checkable

import torch
from botorch.models.model import Model
from torch import Tensor

__all__ = ["OutcomePredictor", "Prediction", "Surrogate", "predict"]

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
        feas_log_prob: ``(..., n, k)`` its logarithm, computed without underflow
            (``None`` when only ``feas_prob`` is known). Far from feasibility the
            probability rounds to 0 while its logarithm still has a gradient.
    """

    obj_mean: Tensor
    obj_std: Tensor | None
    feas_prob: Tensor | None
    feas_log_prob: Tensor | None = None


@runtime_checkable
class OutcomePredictor(Protocol):
    """A surrogate that is not a BoTorch ``Model`` but predicts for itself.

    :class:`~botorch_joint.models.MixtureSurrogate` is one: a mixture of an ensemble
    and a GP has no single BoTorch posterior, but it has a :class:`Prediction`.
    """

    num_objectives: int
    num_constraints: int
    #: ``(2, d)`` box of the inputs, problem units
    bounds: Tensor

    def predict_outcomes(self, X: Tensor) -> Prediction:
        """The :class:`Prediction` at ``X`` (``(..., n, d)``, problem units)."""
        ...


#: What the search, the constraint-gradient descent and the sensitivities accept: a
#: BoTorch ``Model`` with ``num_objectives`` / ``num_constraints`` (the joint network,
#: the GPs) or an :class:`OutcomePredictor`.
Surrogate: TypeAlias = Model | OutcomePredictor


def predict(model: Surrogate, X: Tensor) -> Prediction:
    """Predict objectives and feasibility at ``X``, differentiably w.r.t. ``X``.

    A model with a ``predict_outcomes(X)`` method gives its own prediction. For an
    ensemble with ``member_predictions(X)`` (per-member objectives and log
    probabilities, as :class:`~botorch_joint.models.JointSurrogate`): the ensemble mean
    and standard deviation (across members) of the objectives and the members' mean
    feasibility probability. For :class:`~botorch_joint.models.GPR` /
    :class:`~botorch_joint.models.MEGP` (or any model whose posterior has ``m``
    objectives followed by ``k`` constraint values): the posterior mean and standard
    deviation of the objectives and ``Phi(mu_c / sigma_c)`` per constraint.

    Args:
        model: a fitted surrogate with ``num_objectives`` and ``num_constraints``.
        X: ``(..., n, d)`` inputs in problem units.

    Returns:
        The :class:`Prediction`; its tensors keep the autograd graph to ``X``.
    """
    hook = getattr(model, "predict_outcomes", None)
    if callable(hook):  # composite and analytic test models predict for themselves
        return hook(X)
    model = cast(Model, model)  # what is left is a BoTorch model
    num_objectives = getattr(model, "num_objectives", None)
    if num_objectives is None:
        raise TypeError(
            f"predict needs a model that declares num_objectives (and num_constraints), "
            f"as JointSurrogate, GPR and MEGP do; got {type(model).__name__}"
        )
    m = int(num_objectives)
    k = int(getattr(model, "num_constraints", 0))
    member_predictions = getattr(model, "member_predictions", None)
    if callable(member_predictions):  # a deep ensemble
        model.eval()
        obj, log_prob = member_predictions(model.transform_inputs(X))
        mean = obj.mean(dim=-3)
        std = None
        if obj.shape[-3] > 1:
            # Unbiased across members, as EnsemblePosterior.variance; the clamp keeps the
            # square root's gradient finite where all members agree exactly.
            var = obj.var(dim=-3, correction=1)
            std = var.clamp_min(1e-24).sqrt()
        if log_prob is None:
            return Prediction(mean, std, None)
        # The members' mean probability, in log space.
        log_feas = torch.logsumexp(log_prob, dim=-3) - math.log(log_prob.shape[-3])
        return Prediction(mean, std, log_feas.exp(), log_feas)

    # Only marginals are needed: predict in row chunks so that no joint covariance over
    # all the points is ever formed (that is quadratic in the number of points).
    d = X.shape[-1]
    flat = X.reshape(-1, d)
    means, variances = [], []
    for chunk in flat.split(GP_CHUNK):
        # BoTorch's Posterior base class declares no moments; a GP's posterior has them
        posterior = cast(Any, model.posterior(chunk))
        means.append(posterior.mean)
        variances.append(posterior.variance)
    t = means[0].shape[-1]
    mean = torch.cat(means).reshape(*X.shape[:-1], t)
    var = torch.cat(variances).reshape(*X.shape[:-1], t)
    std = var.clamp_min(1e-24).sqrt()
    if not k:
        return Prediction(mean[..., :m], std[..., :m], None)
    # Only the probability, not its exact logarithm: where Phi(mu / sigma) underflows
    # (mu < -37 sigma) the search's feasibility term is then flat, and the objectives
    # lead. The exact logarithm, -z^2 / 2 there, pulls a search towards wherever sigma
    # is largest, away from the data; on mw7 and c2dtlz2 that cost the GP baseline
    # feasibility on more seeds (docs/robust_search.md).
    z = mean[..., m : m + k] / std[..., m : m + k]
    return Prediction(mean[..., :m], std[..., :m], 0.5 * torch.erfc(-z / math.sqrt(2.0)))
