"""Small analytic models that follow the botorch_joint prediction protocol (test helpers)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Pred:
    obj_mean: Tensor
    obj_std: Tensor | None
    feas_prob: Tensor | None


class DiscModel:
    """Two objectives and one known classifier on a box ``[lo, hi]^d``.

    ``f1 = u0``, ``f2 = 1 - u0 + sum_{i>=1} (u_i - 0.5)^2`` in unit coordinates ``u``;
    feasible inside the disc of radius ``radius`` around ``centre`` (unit coordinates,
    first two parameters), ``P = sigmoid(sharpness * (radius - distance))``.
    """

    def __init__(
        self,
        d: int = 3,
        lo: float = -2.0,
        hi: float = 2.0,
        centre: tuple[float, float] = (0.8, 0.8),
        radius: float = 0.15,
        sharpness: float = 20.0,
        feasibility: bool = True,
    ) -> None:
        self.bounds = torch.tensor([[lo] * d, [hi] * d], dtype=torch.float64)
        self.num_objectives = 2
        self.num_constraints = 1 if feasibility else 0
        self.centre = torch.tensor(centre, dtype=torch.float64)
        self.radius = radius
        self.sharpness = sharpness
        self.feasibility = feasibility

    def unit(self, X: Tensor) -> Tensor:
        return (X - self.bounds[0]) / (self.bounds[1] - self.bounds[0])

    def p_feasible(self, X: Tensor) -> Tensor:
        u = self.unit(X)
        dist = (u[..., :2] - self.centre.to(u)).norm(dim=-1)
        return torch.sigmoid(self.sharpness * (self.radius - dist))

    def predict_outcomes(self, X: Tensor) -> Pred:
        u = self.unit(X)
        f1 = u[..., 0]
        f2 = 1.0 - u[..., 0] + ((u[..., 1:] - 0.5) ** 2).sum(-1)
        obj = torch.stack([f1, f2], dim=-1)
        P = self.p_feasible(X).unsqueeze(-1) if self.feasibility else None
        return Pred(obj, 0.1 * torch.ones_like(obj), P)
