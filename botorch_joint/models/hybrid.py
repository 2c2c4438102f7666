"""A mixture of two fitted surrogates: a network and a Gaussian process.

At a few dozen evaluations a GP generalises from far less data than a network; with
hundreds, or where constraint values jump, the network may do better. A
:class:`MixtureSurrogate` predicts with the two-component mixture
``w * network + (1 - w) * GP``: objective means and variances by the law of total
variance, feasibility probabilities as the mixture's probability.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from botorch_joint.models.prediction import Prediction, predict

__all__ = ["MixtureSurrogate", "stacking_weights"]


class MixtureSurrogate:
    """``w * first + (1 - w) * second``, for the prediction protocol of the search.

    Args:
        first: a fitted surrogate (e.g. a :class:`~botorch_joint.models.JointSurrogate`).
        second: a fitted surrogate with the same objectives and constraints.
        weight: the first component's weight ``w`` in ``[0, 1]`` for the objectives.
        feasibility_weight: its weight for the feasibility probabilities (default
            ``weight``).
    """

    def __init__(
        self, first: object, second: object, weight: float, feasibility_weight: float | None = None
    ) -> None:
        feasibility_weight = weight if feasibility_weight is None else feasibility_weight
        for name, w in (("weight", weight), ("feasibility_weight", feasibility_weight)):
            if not 0.0 <= float(w) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {w!r}")
        self.first, self.second = first, second
        self.weight, self.feasibility_weight = float(weight), float(feasibility_weight)
        self.num_objectives = int(first.num_objectives)
        self.num_constraints = int(getattr(first, "num_constraints", 0))
        self.bounds = first.bounds

    @property
    def feasibility_mask(self) -> Tensor | None:
        """Constraints either component informs (``None``: all)."""
        masks = [getattr(m, "feasibility_mask", None) for m in (self.first, self.second)]
        if any(mask is None for mask in masks):
            return None
        return masks[0] | masks[1]

    def predict_outcomes(self, X: Tensor) -> Prediction:
        """The mixture's :class:`Prediction` at ``X`` (differentiable)."""
        w, v = self.weight, self.feasibility_weight
        a = predict(self.first, X) if w > 0 or v > 0 else None
        b = predict(self.second, X) if w < 1 or v < 1 else None
        mean, std = _mix_objectives(a, b, w)
        pa = None if a is None else a.feas_prob
        pb = None if b is None else b.feas_prob
        if (pa is None and v > 0) or (pb is None and v < 1):
            return Prediction(mean, std, None)
        if v == 1.0:
            log_feas = _log_feas(a)
        elif v == 0.0:
            log_feas = _log_feas(b)
        else:
            log_feas = torch.logaddexp(
                _log_feas(a) + math.log(v), _log_feas(b) + math.log(1 - v)
            )
        return Prediction(mean, std, log_feas.exp(), log_feas)


def _mix_objectives(
    a: Prediction | None, b: Prediction | None, w: float
) -> tuple[Tensor, Tensor | None]:
    if w == 1.0:
        return a.obj_mean, a.obj_std
    if w == 0.0:
        return b.obj_mean, b.obj_std
    mean = w * a.obj_mean + (1 - w) * b.obj_mean
    second_moment = w * (_var(a) + a.obj_mean**2) + (1 - w) * (_var(b) + b.obj_mean**2)
    return mean, (second_moment - mean**2).clamp_min(1e-24).sqrt()


def stacking_weights(network: object, gp: object) -> dict[str, float | int]:
    """Mixture weights of ``network`` from cross-validation against ``gp`` (stacking).

    Both models predict the same held-out folds (the network's members each left one
    out in training; the GP conditions on the other folds exactly). The objective
    weight minimises the squared error of the mixture's mean (standardised objectives,
    closed form); the feasibility weight the log loss of its probability of each
    constraint, against the observed labels (grid of 1/20).

    Args:
        network: a :class:`~botorch_joint.models.JointSurrogate` fitted with
            ``holdout_folds=True``.
        gp: a fitted :class:`~botorch_joint.models.GPR` on the same data.

    Returns:
        ``{"weight", "feasibility_weight", "rows"}``; weights 0 (the GP alone) when the
        network has no folds (fewer than two rows per member).
    """
    cv = network.holdout_predictions()
    if cv is None:
        return {"weight": 0.0, "feasibility_weight": 0.0, "rows": 0}
    rows, obj_net, logp_net = cv
    mu, var = gp.holdout_predictions(rows.reshape(network.ensemble_size, -1))
    m = network.num_objectives
    Y = network.train_Y[rows]
    ok = torch.isfinite(Y).all(-1) & torch.isfinite(mu[:, :m]).all(-1)
    weight = 0.0
    if ok.any():
        s = network.y_std.to(Y)
        r = ((Y - mu[:, :m]) / s)[ok]
        d = ((obj_net - mu[:, :m]) / s)[ok]
        denom = float((d * d).sum())
        weight = 1.0 if denom <= 0 else min(1.0, max(0.0, float((r * d).sum()) / denom))
    feasibility_weight = weight
    if logp_net is not None and mu.shape[-1] > m:
        labels = network._labels[rows].to(Y)
        logp_gp = torch.special.log_ndtr(mu[:, m:] / var[:, m:].sqrt())
        best = None
        for v in torch.linspace(0.0, 1.0, 21).tolist():
            logp = _log_mix(logp_net, logp_gp, v)
            log1m = torch.log(-torch.expm1(logp.clamp_max(-1e-12)))
            loss = -float((labels * logp + (1 - labels) * log1m).sum())
            if best is None or loss < best[0] - 1e-9:
                best = (loss, v)
        feasibility_weight = best[1]
    return {"weight": weight, "feasibility_weight": feasibility_weight, "rows": int(len(rows))}


def _log_mix(log_a: Tensor, log_b: Tensor, v: float) -> Tensor:
    if v <= 0.0:
        return log_b
    if v >= 1.0:
        return log_a
    return torch.logaddexp(log_a + math.log(v), log_b + math.log(1 - v))


def _var(p: Prediction) -> Tensor:
    return torch.zeros_like(p.obj_mean) if p.obj_std is None else p.obj_std**2


def _log_feas(p: Prediction) -> Tensor:
    if p.feas_log_prob is not None:
        return p.feas_log_prob
    return torch.log(p.feas_prob.clamp_min(torch.finfo(p.feas_prob.dtype).tiny))
