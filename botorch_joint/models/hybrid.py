"""A network and a Gaussian process mixed by cross-validation (stacking).

At a few dozen evaluations a GP generalises from far less data than a network; with
hundreds, or where constraint values saturate or jump, the network may do better. No
rule fixed in advance knows which case a problem is. :class:`MixtureSurrogate`
predicts each output with the two-component mixture ``w * network + (1 - w) * GP``,
and :func:`stacking_weights` chooses ``w`` per output from how well each model predicts
evaluations it was not trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from botorch_joint.models.prediction import Prediction, predict

__all__ = ["MixtureSurrogate", "stacking_weights"]


class MixtureSurrogate:
    """``w * first + (1 - w) * second`` per output, for the search's prediction protocol.

    Objective means and variances are the mixture's (law of total variance); the
    probability that constraint ``j`` holds is ``v_j P_first + (1 - v_j) P_second``.

    Args:
        first: a fitted surrogate (e.g. a :class:`~botorch_joint.models.JointSurrogate`).
        second: a fitted surrogate with the same objectives and constraints.
        weight: the first component's weight for the objectives: a number in ``[0, 1]``
            or one per objective.
        feasibility_weight: its weight for the feasibility probabilities, a number or
            one per constraint (default ``weight`` if that is a number).
    """

    def __init__(
        self,
        first: Any,
        second: Any,
        weight: float | Sequence[float],
        feasibility_weight: float | Sequence[float] | None = None,
    ) -> None:
        if feasibility_weight is None:
            if not isinstance(weight, (int, float)):
                raise ValueError("give feasibility_weight when weight is one per objective")
            feasibility_weight = weight
        self.first, self.second = first, second
        self.num_objectives = int(first.num_objectives)
        self.num_constraints = int(getattr(first, "num_constraints", 0))
        self.bounds = first.bounds
        self.weight = _weights(weight, self.num_objectives, "weight")
        self.feasibility_weight = _weights(
            feasibility_weight, self.num_constraints, "feasibility_weight"
        )

    @property
    def feasibility_mask(self) -> Tensor | None:
        """Constraints either component informs (``None``: all)."""
        masks = [getattr(m, "feasibility_mask", None) for m in (self.first, self.second)]
        if any(mask is None for mask in masks):
            return None
        return masks[0] | masks[1]

    def predict_outcomes(self, X: Tensor) -> Prediction:
        """The mixture's :class:`Prediction` at ``X`` (differentiable)."""
        weights = torch.cat([self.weight, self.feasibility_weight])
        a = predict(self.first, X) if (weights > 0).any() else None
        b = predict(self.second, X) if (weights < 1).any() else None
        w = self.weight.to(X)
        if a is None or b is None:
            only = a if b is None else b
            mean, std = only.obj_mean, only.obj_std
        else:
            mean = w * a.obj_mean + (1 - w) * b.obj_mean
            second_moment = w * (_var(a) + a.obj_mean**2) + (1 - w) * (_var(b) + b.obj_mean**2)
            std = (second_moment - mean**2).clamp_min(1e-24).sqrt()
        if self.num_constraints == 0 or any(p is not None and p.feas_prob is None for p in (a, b)):
            return Prediction(mean, std, None)
        v = self.feasibility_weight.to(X)
        log_a = None if a is None else _log_feas(a)
        log_b = None if b is None else _log_feas(b)
        log_feas = _log_mix(log_a, log_b, v)
        return Prediction(mean, std, log_feas.exp(), log_feas)


def stacking_weights(network: Any, gp: Any) -> dict[str, list[float] | int]:
    """Per-output mixture weights of ``network`` against ``gp`` by cross-validation.

    Both models predict the same held-out folds: each network member left one fold out
    in training, and the GP conditions on the other folds exactly. For objective ``i``
    the weight minimises the squared error of the mixture's mean (closed form). For
    constraint ``j`` it minimises the log loss of the mixture's probability against the
    observed labels (grid of 1/20); while the held-out rows have one label only, which
    makes the most pessimistic model look best, it is instead 1 or 0 for the model whose
    predicted log probability ranks the held-out constraint *values* better (Spearman),
    as the search then needs the way towards feasibility. A GP conditioned on some of
    the rows only (``GPR(max_rows=...)``) is judged on the rows it conditions on.

    Args:
        network: a :class:`~botorch_joint.models.JointSurrogate` fitted with
            ``holdout_folds=True``.
        gp: a fitted :class:`~botorch_joint.models.GPR` on the same data.

    Returns:
        ``{"weight": [m], "feasibility_weight": [k], "rows": N}``; all weights 0 (the
        GP alone) when the network has no folds (fewer than two rows per member).
    """
    m = int(network.num_objectives)
    k = int(getattr(network, "num_constraints", 0))
    cv = network.holdout_predictions()
    if cv is None:
        return {"weight": [0.0] * m, "feasibility_weight": [0.0] * k, "rows": 0}
    rows, obj_net, logp_net = cv
    mu, var = gp.holdout_predictions(rows.reshape(network.ensemble_size, -1))
    Y = network.train_Y[rows]
    s = network.y_std.to(Y)
    weight = []
    for i in range(m):
        ok = torch.isfinite(Y[:, i]) & torch.isfinite(mu[:, i])
        r = ((Y[ok, i] - mu[ok, i]) / s[i]).double()
        d = ((obj_net[ok, i] - mu[ok, i]) / s[i]).double()
        denom = float((d * d).sum())
        w = 0.0 if denom <= 0 else min(1.0, max(0.0, float((r * d).sum()) / denom))
        weight.append(w if _clearly_positive(r**2 - (r - w * d) ** 2) else 0.0)
    feasibility_weight = []
    if k and logp_net is not None:
        labels = network.train_labels[rows].to(Y)
        values = network.train_C[rows] - network.thresholds.to(Y)
        logp_gp = torch.special.log_ndtr(mu[:, m:] / var[:, m:].sqrt())
        seen = torch.isfinite(mu[:, m:]).all(dim=-1)
        if not seen.all():  # a GP on a subset of the rows (GPR's max_rows)
            labels, values, logp_gp = labels[seen], values[seen], logp_gp[seen]
            logp_net = logp_net[seen]
        for j in range(k):
            both = 0 < float(labels[:, j].sum()) < len(labels)
            if both:
                v, gain = _log_loss_weight(logp_net[:, j], logp_gp[:, j], labels[:, j])
                feasibility_weight.append(v if _clearly_positive(gain) else 0.0)
            else:
                gain = _spearman_gain(logp_net[:, j], logp_gp[:, j], values[:, j])
                feasibility_weight.append(1.0 if _clearly_positive(gain) else 0.0)
    else:
        feasibility_weight = [0.0] * k
    return {"weight": weight, "feasibility_weight": feasibility_weight, "rows": int(len(rows))}


#: Standard errors by which the network's held-out gain must beat zero (one-sided,
#: about 2 % by chance): each weight is fitted to the same rows it is tested on, and a
#: problem has up to a dozen outputs, so one standard error would let chance pick the
#: network for several of them.
EVIDENCE = 2.0


def _clearly_positive(gain: Tensor) -> bool:
    """Whether per-row gains beat zero by ``EVIDENCE`` standard errors of their mean.

    The network enters the mixture only when held-out rows show it helps by more than
    chance would, so a few lucky folds at small ``n`` do not replace a GP that
    generalises better.
    """
    gain = gain[torch.isfinite(gain)].double()
    if gain.numel() < 3:
        return False
    return float(gain.mean()) > EVIDENCE * float(gain.std()) / gain.numel() ** 0.5


def _log_loss_weight(log_a: Tensor, log_b: Tensor, labels: Tensor) -> tuple[float, Tensor]:
    """The mixture weight of ``a`` with the least log loss (grid of 1/20), and the
    per-row gain in log likelihood of that mixture over ``b`` alone."""

    def rows(v: float) -> Tensor:
        logp = _log_mix(log_a, log_b, torch.tensor(v, dtype=log_a.dtype))
        log1m = torch.log(-torch.expm1(logp.clamp_max(-1e-12)))
        return labels * logp + (1 - labels) * log1m

    best = max(torch.linspace(0.0, 1.0, 21).tolist(), key=lambda v: float(rows(v).sum()))
    return best, rows(best) - rows(0.0)


def _spearman_gain(log_a: Tensor, log_b: Tensor, values: Tensor) -> Tensor:
    """Bootstrap replicates of how much better ``a`` than ``b`` ranks ``values``.

    The replicates stand in for per-row gains in :func:`_clearly_positive` (their
    standard deviation is the standard error of the difference, so they are scaled by
    the square root of their number); the resamples are fixed, so equal data give
    equal weights.
    """
    ok = torch.isfinite(log_a) & torch.isfinite(log_b) & torch.isfinite(values)
    a, b, c = log_a[ok], log_b[ok], values[ok]
    if a.numel() < 3:
        return torch.zeros(0)
    g = torch.Generator().manual_seed(0)
    reps = 200
    idx = torch.randint(0, a.numel(), (reps, a.numel()), generator=g)
    diffs = torch.tensor([_spearman(a[i], c[i]) - _spearman(b[i], c[i]) for i in idx])
    # mean +- std of the replicates is the estimate +- its standard error; rescale
    # so that _clearly_positive's std / sqrt(n) recovers that standard error
    centre = diffs.mean()
    return centre + (diffs - centre) * reps**0.5


def _spearman(a: Tensor, b: Tensor) -> float:
    """Rank correlation over the rows where both are finite (0 with fewer than 3)."""
    ok = torch.isfinite(a) & torch.isfinite(b)
    if int(ok.sum()) < 3:
        return 0.0
    ra = a[ok].argsort().argsort().double()
    rb = b[ok].argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = float(ra.norm() * rb.norm())
    return 0.0 if denom == 0 else float((ra * rb).sum()) / denom


def _weights(w: float | Sequence[float], n: int, name: str) -> Tensor:
    t = torch.as_tensor(w, dtype=torch.float64).reshape(-1)
    if t.numel() == 1:
        t = t.expand(n).clone()
    if t.numel() != n:
        raise ValueError(f"{name} needs 1 or {n} values, got {t.numel()}")
    if not ((t >= 0) & (t <= 1)).all():
        raise ValueError(f"{name} must be in [0, 1], got {t.tolist()}")
    return t


def _log_mix(log_a: Tensor | None, log_b: Tensor | None, v: Tensor) -> Tensor:
    """``log(v exp(log_a) + (1 - v) exp(log_b))``, exact at ``v`` of 0 or 1."""
    if log_a is None:
        return log_b
    if log_b is None:
        return log_a
    v = v.to(log_a)
    a = torch.where(
        v > 0, log_a + torch.log(v.clamp_min(1e-300)), torch.full_like(log_a, -torch.inf)
    )
    b = torch.where(
        v < 1, log_b + torch.log((1 - v).clamp_min(1e-300)), torch.full_like(log_b, -torch.inf)
    )
    return torch.logaddexp(a, b)


def _var(p: Prediction) -> Tensor:
    return torch.zeros_like(p.obj_mean) if p.obj_std is None else p.obj_std**2


def _log_feas(p: Prediction) -> Tensor:
    if p.feas_log_prob is not None:
        return p.feas_log_prob
    return torch.log(p.feas_prob.clamp_min(torch.finfo(p.feas_prob.dtype).tiny))
