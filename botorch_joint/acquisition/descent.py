"""Constraint-gradient descent (CGD): projected gradient steps on the unified loss.

From a set of start points, every start descends its own unified loss (its own
scalarisation weights, so starts spread along the predicted front) with Adam in the
normalised unit cube, projected back into the bounds after each step. Every iterate is
kept: the **trace samples**. A batch is then chosen from all traces by maximum predicted
diversity across objectives among the predicted-feasible samples (see
:func:`botorch_joint.acquisition.ranking.select_batch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from botorch.utils.transforms import normalize, unnormalize
from torch import Tensor

from botorch_joint.acquisition.loss import Outcomes, outcomes, unified_loss
from botorch_joint.acquisition.ranking import select_batch
from botorch_joint.models.prediction import Surrogate

__all__ = ["ConstraintGradientDescent", "Trace", "ray_weights"]


@dataclass
class Trace:
    """Every iterate of a descent: ``T + 1`` records (the starts, then each step) of
    ``s`` starts.

    Attributes:
        U: ``(T + 1, s, d)`` iterates in the unit cube.
        X: ``(T + 1, s, d)`` the same in the problem's units.
        obj: ``(T + 1, s, m)`` predicted objectives.
        obj_std: ``(T + 1, s, m)`` predictive standard deviations, or ``None``.
        log_pfeas: ``(T + 1, s, k)`` log P(constraint holds), or ``None``.
        loss: ``(T + 1, s)`` unified loss.
    """

    U: Tensor
    X: Tensor
    obj: Tensor
    obj_std: Tensor | None
    log_pfeas: Tensor | None
    loss: Tensor

    @property
    def num_samples(self) -> int:
        return int(self.U.shape[0] * self.U.shape[1])

    def flat(self) -> dict[str, np.ndarray | None]:
        """Every sample as NumPy rows: ``U``, ``X``, ``obj``, ``obj_std``, ``log_pfeas``
        (per constraint), ``log_pfeas_total``, ``loss``, ``step`` and ``start``."""
        T1, s = self.U.shape[:2]

        def rows(t: Tensor | None) -> np.ndarray | None:
            return None if t is None else t.reshape(T1 * s, -1).cpu().numpy()

        lp = rows(self.log_pfeas)
        return {
            "U": rows(self.U),
            "X": rows(self.X),
            "obj": rows(self.obj),
            "obj_std": rows(self.obj_std),
            "log_pfeas": lp,
            "log_pfeas_total": None if lp is None else lp.sum(-1),
            "loss": self.loss.reshape(-1).cpu().numpy(),
            "step": np.repeat(np.arange(T1), s),
            "start": np.tile(np.arange(s), T1),
        }


def ray_weights(obj: Tensor, ideal: Tensor, scale: Tensor, floor: float = 0.05) -> Tensor:
    """Chebyshev weights whose optimum lies along each point's own ray from the ideal.

    ``w_i ∝ 1 / (z_i - min z_i + floor)`` for normalised objectives ``z``: a start that
    is already good on objective ``i`` keeps that trade-off, so starts taken from a
    front stay spread along it.

    Args:
        obj: ``(s, m)`` objectives of the starts.
        ideal: ``(m,)`` offsets.
        scale: ``(m,)`` scales.
        floor: keeps weights finite.

    Returns:
        ``(s, m)`` weights, rows summing to 1.
    """
    z = (obj - ideal.to(obj)) / scale.to(obj)
    z = z - z.min(dim=0).values + floor
    w = 1.0 / z.clamp_min(floor)
    return w / w.sum(dim=-1, keepdim=True)


class ConstraintGradientDescent:
    """Projected gradient descent on the unified loss, recording trace samples.

    Args:
        model: a fitted surrogate following the prediction protocol (``JointSurrogate``,
            ``GPR``, ``MEGP`` or anything :func:`~botorch_joint.acquisition.loss.predict`
            accepts).
        bounds: ``(2, d)`` search box in the problem's units (default ``model.bounds``).
        steps: gradient steps per start.
        lr: Adam step size in the unit cube at the first step.
        lr_final: step size at the last step, as a fraction of ``lr`` (geometric decay):
            early steps travel, late ones settle instead of oscillating at the optimum.
        feasibility_weight: weight of ``-sum_j log P_j`` in the loss.
        uncertainty_weight: optimism bonus on the objectives (models with a spread).
        scalarization: ``"chebyshev"`` or ``"weighted_sum"``.
        rho: Chebyshev augmentation.
        ideal: ``(m,)`` objective offsets (default: the starts' predicted minimum).
        scale: ``(m,)`` objective scales (default: the starts' predicted range).
        use_feasibility: ignore the feasibility head when ``False`` (``o-`` methods).
        feasibility_mask: ``(k,)`` which constraints' predictions to use (default all).
        feasibility_threshold: P(feasible) above which a sample counts as feasible
            in :meth:`select`.
        min_distance: duplicate radius for :meth:`select`, relative to the cube's
            diagonal.
    """

    def __init__(
        self,
        model: Surrogate,
        bounds: Tensor | np.ndarray | None = None,
        steps: int = 30,
        lr: float = 0.05,
        lr_final: float = 0.1,
        feasibility_weight: float = 1.0,
        uncertainty_weight: float = 0.0,
        scalarization: str = "chebyshev",
        rho: float = 0.05,
        ideal: Tensor | np.ndarray | None = None,
        scale: Tensor | np.ndarray | None = None,
        use_feasibility: bool = True,
        feasibility_mask: Sequence[bool] | None = None,
        feasibility_threshold: float = 0.5,
        min_distance: float = 1e-3,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.model = model
        if bounds is None:
            bounds = getattr(model, "bounds", None)
            if bounds is None:
                raise ValueError(
                    f"{type(model).__name__} has no bounds attribute: pass bounds=(2, d)"
                )
        b = bounds.detach().cpu().numpy() if isinstance(bounds, Tensor) else np.asarray(bounds)
        self.bounds = torch.as_tensor(b, dtype=dtype)
        self.steps = int(steps)
        self.lr = float(lr)
        self.lr_final = float(lr_final)
        self.feasibility_weight = float(feasibility_weight)
        self.uncertainty_weight = float(uncertainty_weight)
        self.scalarization = scalarization
        self.rho = float(rho)
        self.ideal = None if ideal is None else torch.as_tensor(ideal, dtype=dtype)
        self.scale = None if scale is None else torch.as_tensor(scale, dtype=dtype)
        self.use_feasibility = bool(use_feasibility)
        self.feasibility_mask = None if feasibility_mask is None else list(feasibility_mask)
        self.feasibility_threshold = float(feasibility_threshold)
        self.min_distance = float(min_distance)
        self.dtype = dtype

    # ------------------------------------------------------------------ units
    def to_unit(self, X: Tensor) -> Tensor:
        return normalize(X, self.bounds.to(X))

    def from_unit(self, U: Tensor) -> Tensor:
        return unnormalize(U, self.bounds.to(U))

    def _outcomes(self, U: Tensor) -> Outcomes:
        return outcomes(self.model, self.from_unit(U), self.use_feasibility, self.feasibility_mask)

    # ---------------------------------------------------------------- descent
    def run(self, X0: Tensor | np.ndarray, weights: Tensor | np.ndarray | None = None) -> Trace:
        """Descend from ``s`` starts and record every iterate.

        Args:
            X0: ``(s, d)`` start points in the problem's units.
            weights: ``(s, m)`` or ``(m,)`` scalarisation weights; default
                :func:`ray_weights` of the starts.

        Returns:
            The :class:`Trace` (``steps + 1`` records per start).
        """
        X0 = torch.as_tensor(np.asarray(X0) if not isinstance(X0, Tensor) else X0)
        X0 = X0.to(self.dtype).reshape(-1, self.bounds.shape[-1])
        u = self.to_unit(X0).clamp(0.0, 1.0).detach().clone().requires_grad_(True)
        with torch.no_grad():
            first = self._outcomes(u)
        ideal, scale = self.ideal, self.scale
        if ideal is None or scale is None:
            lo = first.obj.min(dim=0).values
            span = first.obj.max(dim=0).values - lo
            ideal = lo if ideal is None else ideal
            scale = torch.where(span > 0, span, torch.ones_like(span)) if scale is None else scale
        if weights is None:
            w = ray_weights(first.obj, ideal, scale)
        else:
            w = torch.as_tensor(np.asarray(weights) if not isinstance(weights, Tensor) else weights)
            w = w.to(self.dtype)
            w = w / w.sum(dim=-1, keepdim=True)

        opt = torch.optim.Adam([u], lr=self.lr)
        gamma = self.lr_final ** (1.0 / max(self.steps - 1, 1))
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
        records: list[tuple[Tensor, Outcomes, Tensor]] = []
        for step in range(self.steps + 1):
            last = step == self.steps
            with torch.set_grad_enabled(not last):
                out = self._outcomes(u)
                loss = unified_loss(
                    out,
                    w,
                    ideal,
                    scale,
                    self.feasibility_weight,
                    self.uncertainty_weight,
                    self.scalarization,
                    self.rho,
                )
            records.append((u.detach().clone(), _detach(out), loss.detach()))
            if last:
                break
            opt.zero_grad(set_to_none=True)
            # Starts are independent, so the sum's gradient is each start's own gradient.
            loss.sum().backward()
            if u.grad is not None:
                u.grad.nan_to_num_(0.0, 0.0, 0.0)
            opt.step()
            sched.step()
            with torch.no_grad():
                u.clamp_(0.0, 1.0)
        U = torch.stack([r[0] for r in records])
        return Trace(
            U=U,
            X=self.from_unit(U),
            obj=torch.stack([r[1].obj for r in records]),
            obj_std=_stack_or_none([r[1].obj_std for r in records]),
            log_pfeas=_stack_or_none([r[1].log_pfeas for r in records]),
            loss=torch.stack([r[2] for r in records]),
        )

    # -------------------------------------------------------------- selection
    def select(
        self, trace: Trace, n: int, X_avoid: Tensor | np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Choose ``n`` trace samples: max predicted diversity among predicted-feasible.

        Args:
            trace: the output of :meth:`run`.
            n: how many points.
            X_avoid: ``(n_a, d)`` evaluated points (problem units) not to repeat.

        Returns:
            ``(X (q, d) in problem units, indices (q,) into trace.flat() rows)``.
        """
        flat = trace.flat()
        U_avoid = None
        if X_avoid is not None and len(X_avoid):
            Xa = torch.as_tensor(np.asarray(X_avoid), dtype=self.dtype)
            U_avoid = self.to_unit(Xa).cpu().numpy()
        U, obj, X = flat["U"], flat["obj"], flat["X"]
        assert U is not None and obj is not None and X is not None  # always recorded
        idx, _ = select_batch(
            U,
            obj,
            flat["log_pfeas_total"],
            n,
            U_avoid=U_avoid,
            feasibility_threshold=self.feasibility_threshold,
            min_distance=self.min_distance,
        )
        return X[idx], idx

    def __call__(
        self,
        X0: Tensor | np.ndarray,
        n: int,
        weights: Tensor | np.ndarray | None = None,
        X_avoid: Tensor | np.ndarray | None = None,
    ) -> np.ndarray:
        """Descend from ``X0`` and return ``n`` selected trace samples ``(q, d)``."""
        return self.select(self.run(X0, weights), n, X_avoid)[0]


def _stack_or_none(parts: list[Tensor | None]) -> Tensor | None:
    """``torch.stack`` of per-step records that are all tensors or all ``None``."""
    tensors = [t for t in parts if t is not None]
    return torch.stack(tensors) if len(tensors) == len(parts) else None


def _detach(out: Outcomes) -> Outcomes:
    def d(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.detach()

    return Outcomes(out.obj.detach(), d(out.obj_std), d(out.log_pfeas))
