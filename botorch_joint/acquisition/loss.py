"""The unified loss: a scalarisation of the predicted objectives plus a feasibility term.

For a point ``x`` with predicted objectives ``mu(x)`` (minimised), predictive standard
deviations ``sigma(x)`` and predicted probabilities ``P_j(x)`` that constraint ``j``
holds, the loss is ::

    z(x)    = (mu(x) - beta * sigma(x) - ideal) / scale
    L(x; w) = max_i w_i z_i(x) + rho * sum_i w_i z_i(x)     (augmented Chebyshev)
              - lambda * sum_j log P_j(x)

with per-point weights ``w`` (``w >= 0``, ``sum w = 1``). ``ideal`` and ``scale`` put
the objectives on a common scale (the observed minimum and range). The feasibility term
is about 0 where the surrogate is sure the point is feasible and grows without bound
away from feasibility, so far from the feasible region it dominates the gradient and
pulls points there first; near it, the objectives take over. ``beta > 0`` is an
optimism bonus for uncertain points.

:class:`UnifiedLossAcquisition` wraps the negated loss as a BoTorch acquisition
function (maximised, as every BoTorch acquisition), usable by ``optimize_acqf`` and by
Ax's modular ``Acquisition`` through its registered input constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.input_constructors import acqf_input_constructor
from botorch.acquisition.multi_objective.objective import MCMultiOutputObjective
from botorch.models.model import Model
from botorch.utils.datasets import SupervisedDataset
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor

from botorch_joint.models.prediction import Prediction, Surrogate
from botorch_joint.models.prediction import predict as model_predict

__all__ = [
    "Outcomes",
    "UnifiedLossAcquisition",
    "feasibility_loss",
    "outcomes",
    "predict",
    "scalarize",
    "unified_loss",
]

SCALARIZATIONS = ("chebyshev", "weighted_sum")


def predict(model: Surrogate, X: Tensor) -> Prediction:
    """The model's :class:`~botorch_joint.models.prediction.Prediction` at ``X``.

    Models may provide their own ``predict_outcomes(X)`` (analytic test models do);
    every other model goes through :func:`botorch_joint.models.prediction.predict`.

    Args:
        model: a fitted surrogate.
        X: ``(..., n, d)`` points in the problem's units.
    """
    return model_predict(model, X)  # which honours a model's own predict_outcomes


@dataclass
class Outcomes:
    """What the loss needs at a set of points.

    Attributes:
        obj: ``(..., n, m)`` predicted objectives, minimised.
        obj_std: ``(..., n, m)`` predictive standard deviations, or ``None``.
        log_pfeas: ``(..., n, k)`` log probability that each constraint holds, or
            ``None`` (no feasibility information: ``o-`` models, ``k == 0``).
    """

    obj: Tensor
    obj_std: Tensor | None = None
    log_pfeas: Tensor | None = None

    @property
    def log_pfeas_total(self) -> Tensor | None:
        """``(..., n)`` log probability that every constraint holds (independence)."""
        return None if self.log_pfeas is None else self.log_pfeas.sum(-1)


def _safe_log(p: Tensor) -> Tensor:
    return torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))


def outcomes(
    model: Surrogate,
    X: Tensor,
    use_feasibility: bool = True,
    feasibility_mask: Sequence[bool] | None = None,
) -> Outcomes:
    """Evaluate ``model`` at ``X`` (differentiably) and collect :class:`Outcomes`.

    Args:
        model: a BoTorch model following the prediction protocol
            (:func:`~botorch_joint.models.prediction.predict`).
        X: ``(..., n, d)`` points in the problem's units.
        use_feasibility: ignore the feasibility head when ``False``.
        feasibility_mask: ``(k,)`` which constraints' feasibility predictions to use
            (default all); e.g. a classifier that has only ever seen one class of a
            constraint carries no information about where it holds.
    """
    pred = predict(model, X)
    log_p = None
    if use_feasibility:
        # a model's own predict_outcomes may return a prediction without log P
        log_p = getattr(pred, "feas_log_prob", None)
        if log_p is None and pred.feas_prob is not None:
            log_p = _safe_log(pred.feas_prob)
        if log_p is not None and feasibility_mask is not None:
            mask = torch.as_tensor(list(feasibility_mask), dtype=torch.bool, device=log_p.device)
            log_p = log_p[..., mask]
        if log_p is not None and log_p.shape[-1] == 0:
            log_p = None
    return Outcomes(pred.obj_mean, getattr(pred, "obj_std", None), log_p)


def scalarize(z: Tensor, weights: Tensor, kind: str = "chebyshev", rho: float = 0.05) -> Tensor:
    """Scalarise normalised objectives.

    Args:
        z: ``(..., n, m)`` normalised objectives (minimised).
        weights: ``(..., n, m)`` or ``(m,)`` non-negative weights, each row summing to 1.
        kind: ``"chebyshev"`` (augmented Chebyshev, reaches non-convex fronts) or
            ``"weighted_sum"``.
        rho: augmentation of the Chebyshev form (keeps it strictly monotone).

    Returns:
        ``(..., n)`` scalarised values.
    """
    wz = weights * z
    if kind == "chebyshev":
        return wz.max(dim=-1).values + rho * wz.sum(dim=-1)
    if kind == "weighted_sum":
        return wz.sum(dim=-1)
    raise ValueError(f"unknown scalarization {kind!r}; choose one of {SCALARIZATIONS}")


def feasibility_loss(log_pfeas: Tensor) -> Tensor:
    """``-sum_j log P_j``: ``(..., n, k) -> (..., n)``."""
    return -log_pfeas.sum(dim=-1)


def unified_loss(
    out: Outcomes,
    weights: Tensor,
    ideal: Tensor,
    scale: Tensor,
    feasibility_weight: float = 1.0,
    uncertainty_weight: float = 0.0,
    scalarization: str = "chebyshev",
    rho: float = 0.05,
) -> Tensor:
    """The unified loss (see the module docstring); smaller is better.

    Args:
        out: predictions at ``(..., n)`` points.
        weights: ``(..., n, m)`` or ``(m,)`` scalarisation weights.
        ideal: ``(m,)`` objective offsets.
        scale: ``(m,)`` positive objective scales.
        feasibility_weight: ``lambda``, the weight of ``-sum_j log P_j``.
        uncertainty_weight: ``beta``, the optimism bonus on the objectives.
        scalarization: ``"chebyshev"`` or ``"weighted_sum"``.
        rho: Chebyshev augmentation.

    Returns:
        ``(..., n)`` loss values.
    """
    mu = out.obj
    if uncertainty_weight and out.obj_std is not None:
        mu = mu - uncertainty_weight * out.obj_std
    z = (mu - ideal.to(mu)) / scale.to(mu)
    loss = scalarize(z, weights.to(mu), scalarization, rho)
    if feasibility_weight and out.log_pfeas is not None:
        loss = loss + feasibility_weight * feasibility_loss(out.log_pfeas)
    return loss


class UnifiedLossAcquisition(AcquisitionFunction):
    """The negated unified loss as a (batch) BoTorch acquisition function.

    The value of a ``q``-batch is minus the mean loss of its points. ``weights`` may give
    each of the ``q`` points its own scalarisation weights, so a jointly optimised batch
    spreads along the predicted front instead of collapsing onto one point.

    Two ways of reading the model:

    * native (default): the model follows the botorch_joint prediction protocol
      (:func:`predict`): objectives, their spread and P(feasible) per constraint.
    * generic (``objective`` and/or ``constraints`` given, as Ax passes them): the
      posterior mean goes through ``objective`` (maximisation-aligned outputs, negated
      here) and each BoTorch constraint callable ``c`` (feasible iff ``c <= 0``) gives
      ``P = sigmoid(-c / eta)``.

    Args:
        model: a fitted model.
        ideal: ``(m,)`` objective offsets (e.g. the best observed value of each).
        scale: ``(m,)`` objective scales (e.g. the observed range).
        weights: ``(m,)`` or ``(q, m)`` scalarisation weights (default equal).
        feasibility_weight: weight of ``-sum_j log P_j``.
        uncertainty_weight: optimism bonus ``beta`` (native mode, models with a spread).
        scalarization: ``"chebyshev"`` or ``"weighted_sum"``.
        rho: Chebyshev augmentation.
        objective: optional multi-output objective (generic mode).
        constraints: optional BoTorch constraint callables (generic mode).
        eta: temperature of the generic-mode feasibility sigmoid.
        use_feasibility: ignore feasibility information when ``False`` (``o-`` search).
    """

    # buffers, declared for the type checker (nn.Module would type them Tensor | Module)
    ideal: Tensor
    scale: Tensor
    weights: Tensor

    def __init__(
        self,
        model: Model,
        ideal: Tensor,
        scale: Tensor,
        weights: Tensor | None = None,
        feasibility_weight: float = 1.0,
        uncertainty_weight: float = 0.0,
        scalarization: str = "chebyshev",
        rho: float = 0.05,
        objective: MCMultiOutputObjective | None = None,
        constraints: list[Callable[[Tensor], Tensor]] | None = None,
        eta: float = 0.1,
        use_feasibility: bool = True,
    ) -> None:
        super().__init__(model=model)
        if scalarization not in SCALARIZATIONS:
            raise ValueError(
                f"unknown scalarization {scalarization!r}; choose one of {SCALARIZATIONS}"
            )
        ideal = torch.as_tensor(ideal, dtype=torch.float64).reshape(-1)
        scale = torch.as_tensor(scale, dtype=torch.float64).reshape(-1)
        if torch.any(scale <= 0):
            raise ValueError("scale must be positive")
        m = ideal.numel()
        if weights is None:
            weights = torch.full((m,), 1.0 / m, dtype=torch.float64)
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape[-1] != m or weights.dim() > 2 or torch.any(weights < 0):
            raise ValueError(f"weights must be non-negative of shape (m,) or (q, m), m = {m}")
        weights = weights / weights.sum(-1, keepdim=True)
        self.register_buffer("ideal", ideal)
        self.register_buffer("scale", scale)
        self.register_buffer("weights", weights)
        self.feasibility_weight = float(feasibility_weight)
        self.uncertainty_weight = float(uncertainty_weight)
        self.scalarization = scalarization
        self.rho = float(rho)
        self.objective = objective
        self.constraints = constraints
        self.eta = float(eta)
        self.use_feasibility = bool(use_feasibility)

    def _outcomes(self, X: Tensor) -> Outcomes:
        if self.objective is None and self.constraints is None:
            return outcomes(self.model, X, self.use_feasibility)
        # (b, q, outputs); BoTorch's Posterior base class declares no mean, ours all have one
        mean: Tensor = cast(Any, self.model.posterior(X)).mean
        if self.objective is not None:
            obj = -self.objective(mean.unsqueeze(0), X=X).squeeze(0)
        else:
            obj = mean[..., : self.ideal.numel()]
        log_p = None
        if self.constraints and self.use_feasibility:
            vals = torch.stack([c(mean) for c in self.constraints], dim=-1)
            log_p = torch.nn.functional.logsigmoid(-vals / self.eta)
        return Outcomes(obj, None, log_p)

    # BoTorch types the decorator for methods of AcquisitionFunction itself
    @t_batch_mode_transform()  # type: ignore[arg-type]
    def forward(self, X: Tensor) -> Tensor:
        """Acquisition value of ``b x q x d`` batches: ``(b,)``, larger is better."""
        out = self._outcomes(X)
        q = X.shape[-2]
        w = self.weights
        if w.dim() == 2:
            if w.shape[0] != q:
                raise ValueError(f"{w.shape[0]} weight rows given for q = {q} points")
        loss = unified_loss(
            out,
            w,
            self.ideal,
            self.scale,
            self.feasibility_weight,
            self.uncertainty_weight,
            self.scalarization,
            self.rho,
        )
        return -loss.mean(dim=-1)


def objective_ranges(Y: Tensor) -> tuple[Tensor, Tensor]:
    """``(ideal, scale)`` of observed objectives: the minimum and range of finite rows.

    Args:
        Y: ``(n, m)`` objectives (rows with non-finite values are ignored).
    """
    Y = torch.as_tensor(Y, dtype=torch.float64)
    finite = torch.isfinite(Y).all(dim=-1)
    Yf = Y[finite]
    if Yf.shape[0] == 0:
        m = Y.shape[-1]
        return torch.zeros(m, dtype=torch.float64), torch.ones(m, dtype=torch.float64)
    ideal = Yf.min(dim=0).values
    span = Yf.max(dim=0).values - ideal
    scale = torch.where(span > 0, span, torch.ones_like(span))
    return ideal, scale


@acqf_input_constructor(UnifiedLossAcquisition)
def construct_inputs_unified_loss(
    model: Model,
    training_data: SupervisedDataset | dict[Any, SupervisedDataset],
    objective: MCMultiOutputObjective | None = None,
    constraints: list[Callable[[Tensor], Tensor]] | None = None,
    weights: Tensor | None = None,
    ideal: Tensor | None = None,
    scale: Tensor | None = None,
    feasibility_weight: float = 1.0,
    uncertainty_weight: float = 0.0,
    scalarization: str = "chebyshev",
    rho: float = 0.05,
    eta: float = 0.1,
) -> dict[str, Any]:
    """Keyword arguments of :class:`UnifiedLossAcquisition` from training data.

    ``ideal`` and ``scale`` default to the minimum and range of the training objectives:
    ``objective`` applied to the training outcomes when given (Ax), else the first
    ``model.num_objectives`` columns (all columns if the model does not say).
    """
    if isinstance(training_data, dict):
        Ys = [ds.Y for ds in training_data.values()]
        Y = torch.cat(Ys, dim=-1)
    else:
        Y = training_data.Y
    if objective is not None:
        Y = -objective(Y.unsqueeze(0)).squeeze(0)
    else:
        Y = Y[..., : getattr(model, "num_objectives", Y.shape[-1])]
    lo, span = objective_ranges(Y.detach())
    return {
        "model": model,
        "ideal": lo if ideal is None else ideal,
        "scale": span if scale is None else scale,
        "weights": weights,
        "feasibility_weight": feasibility_weight,
        "uncertainty_weight": uncertainty_weight,
        "scalarization": scalarization,
        "rho": rho,
        "objective": objective,
        "constraints": constraints,
        "eta": eta,
    }
