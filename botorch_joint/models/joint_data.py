"""The training data of :class:`~botorch_joint.models.joint.JointSurrogate`.

What the constructor does to its arguments before any network sees them:
:func:`split_columns` checks the shapes, drops rows with non-finite inputs and splits
Ax's constraint columns off the objectives; :func:`data_bounds` is the default input
box; :func:`value_targets` turns constraint values into the value head's targets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from botorch_joint.models.gp import impute_constraints

__all__ = ["data_bounds", "split_columns", "value_targets"]


def split_columns(
    train_X: Tensor,
    train_Y: Tensor,
    train_C: Tensor | None,
    constraint_columns: Sequence[int] | None,
    constraint_thresholds: Sequence[float] | None,
) -> tuple[Tensor, Tensor, Tensor | None, list[int] | None, Tensor]:
    """Validate shapes, drop rows with non-finite inputs, split Ax constraint columns.

    Returns:
        ``(X, Y, C, column_order, thresholds)``; ``column_order`` maps the model's
        ``[objectives, constraints]`` outputs back to ``train_Y``'s column order (``None``
        when no ``constraint_columns`` were given).
    """
    if train_X.dim() != 2:
        raise ValueError(f"train_X must have shape (n, d), got {tuple(train_X.shape)}")
    if train_Y.dim() == 1:
        train_Y = train_Y.unsqueeze(-1)
    if train_Y.dim() != 2 or train_Y.shape[0] != train_X.shape[0]:
        raise ValueError(
            f"train_Y must have shape ({train_X.shape[0]}, m), got {tuple(train_Y.shape)}"
        )
    if train_C is not None:
        if train_C.dim() == 1:
            train_C = train_C.unsqueeze(-1)
        if train_C.dim() != 2 or train_C.shape[0] != train_X.shape[0]:
            raise ValueError(
                f"train_C must have shape ({train_X.shape[0]}, k), got {tuple(train_C.shape)}"
            )
        train_C = train_C.to(train_X)
        if train_C.shape[-1] == 0:
            train_C = None
    train_Y = train_Y.to(train_X)
    keep = torch.isfinite(train_X).all(dim=-1)
    if not keep.all():
        train_X, train_Y = train_X[keep], train_Y[keep]
        train_C = None if train_C is None else train_C[keep]
    if train_X.shape[0] == 0:
        raise ValueError("JointSurrogate needs at least one training row with finite inputs")

    order = None
    k = 0 if train_C is None else train_C.shape[-1]
    if constraint_columns is not None and len(constraint_columns) > 0:
        if train_C is not None:
            raise ValueError("give constraint values either as train_C or as constraint_columns")
        total = train_Y.shape[-1]
        cons = [int(c) % total for c in constraint_columns]
        objs = [c for c in range(total) if c not in cons]
        train_C = train_Y[:, cons]
        train_Y = train_Y[:, objs]
        k = len(cons)
        position = objs + cons  # model output j is train_Y column position[j]
        order = [position.index(c) for c in range(total)]
    if constraint_thresholds is None:
        thresholds = torch.zeros(k)
    else:
        thresholds = torch.as_tensor(list(constraint_thresholds), dtype=torch.float64)
        if thresholds.shape != (k,):
            raise ValueError(f"need {k} constraint_thresholds, got {thresholds.numel()}")
    return train_X, train_Y, train_C, order, thresholds


def data_bounds(X: Tensor) -> Tensor:
    """``(2, d)`` range of the finite rows of ``X``."""
    finite = torch.isfinite(X).all(dim=-1)
    Xf = X[finite] if finite.any() else torch.zeros(1, X.shape[-1]).to(X)
    return torch.stack([Xf.min(dim=0).values, Xf.max(dim=0).values])


def value_targets(C: Tensor, failed: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Regression targets of the value head.

    Args:
        C: ``(n, k)`` constraint values less their thresholds (feasible iff ``>= 0``).
        failed: ``(n,)`` failed evaluations.

    Returns:
        ``(values, mask, scale)``: ``asinh(C / scale)`` with unknown values imputed as
        violated (:func:`~botorch_joint.models.gp.impute_constraints`), ``(n, k)``
        whether each value is a target (every one), and the ``(k,)`` median ``|c|`` of
        the finite values of successful rows (1 where there are none or it is 0).
    """
    ok = torch.isfinite(C) & ~failed.unsqueeze(-1)
    magnitude = torch.where(ok, C.abs(), torch.full_like(C, math.nan))
    scale = torch.nanmedian(magnitude, dim=0).values
    scale = torch.where(torch.isfinite(scale) & (scale > 0), scale, torch.ones_like(scale))
    # Failed rows and NaN values become clearly violated targets, as for the GPs: left
    # out, the value head would extrapolate feasibility into a region where runs fail.
    values = torch.asinh(impute_constraints(C, failed) / scale)
    return values, torch.ones_like(ok), scale
