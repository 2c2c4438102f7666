"""Quality indicators for sets of minimised objective vectors.

Every function takes objective-space arrays of *minimised* objectives, ``(n, m)``;
dropping infeasible or failed rows is the caller's job.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "epsilon_indicator",
    "hv_auc",
    "hypervolume",
    "hypervolume_history",
    "igd",
    "non_dominated",
    "normalized_hypervolume",
    "nrmse",
]


def _as_points(Y: np.ndarray, name: str = "Y") -> np.ndarray:
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[None, :] if Y.size else Y.reshape(0, 0)
    if Y.ndim != 2:
        raise ValueError(
            f"{name} must be an (n, m) array of objective vectors, got shape {Y.shape}"
        )
    if Y.size and not np.all(np.isfinite(Y)):
        raise ValueError(f"{name} contains non-finite values; drop failed rows first")
    return Y


def _with_reference(Y: np.ndarray, Y_ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``Y`` and ``Y_ref`` checked as ``(n, m)`` and ``(r, m)`` points; ``Y`` may be empty.

    Raises:
        ValueError: ``Y_ref`` is empty, or the two have different numbers of objectives.
    """
    Y = _as_points(Y)
    R = _as_points(Y_ref, "Y_ref")
    if R.shape[0] == 0:
        raise ValueError("Y_ref must hold at least one point")
    if Y.shape[0] and Y.shape[1] != R.shape[1]:
        raise ValueError(f"Y has {Y.shape[1]} objectives but Y_ref has {R.shape[1]}")
    return Y, R


def non_dominated(Y: np.ndarray) -> np.ndarray:
    """Boolean mask ``(n,)`` of the rows of ``Y`` (minimised) that no other row dominates.

    Duplicated points are all kept.
    """
    Y = _as_points(Y)
    n = Y.shape[0]
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated_by = np.all(Y <= Y[i], axis=1) & np.any(Y < Y[i], axis=1)
        if dominated_by.any():
            mask[i] = False
    return mask


def hypervolume(Y: np.ndarray, ref_point: Sequence[float] | np.ndarray) -> float:
    """Hypervolume dominated by ``Y`` (minimised) and bounded by ``ref_point``.

    Uses BoTorch's exact box decomposition. Points that do not strictly dominate the
    reference point contribute nothing.

    Args:
        Y: ``(n, m)`` objective vectors.
        ref_point: ``(m,)`` reference point.
    """
    ref = np.asarray(ref_point, dtype=float).reshape(-1)
    Y = _as_points(Y)
    if Y.shape[0] == 0:
        return 0.0
    if Y.shape[1] != ref.size:
        raise ValueError(f"Y has {Y.shape[1]} objectives but ref_point has {ref.size}")
    Y = Y[np.all(Y < ref, axis=1)]
    if Y.shape[0] == 0:
        return 0.0
    Y = Y[non_dominated(Y)]
    if Y.shape[1] == 1:
        return float(ref[0] - Y.min())
    import torch

    # BoTorch maximises: negate objectives and reference point. Its box decomposition is
    # fastest in 2-D; for 3+ objectives its exact recursive algorithm is several times
    # faster than the general partitioning on fronts of this size.
    ref_t = torch.as_tensor(-ref, dtype=torch.double)
    Y_t = torch.as_tensor(-Y, dtype=torch.double)
    if Y.shape[1] == 2:
        from botorch.utils.multi_objective.box_decompositions.dominated import (
            DominatedPartitioning,
        )

        return float(DominatedPartitioning(ref_point=ref_t, Y=Y_t).compute_hypervolume())
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    return float(Hypervolume(ref_t).compute(Y_t))


def normalized_hypervolume(
    Y: np.ndarray, ref_point: Sequence[float] | np.ndarray, max_hv: float
) -> float:
    """Hypervolume of ``Y`` divided by ``max_hv``; in ``[0, 1]`` when ``max_hv`` is exact."""
    if not (np.isfinite(max_hv) and max_hv > 0):
        raise ValueError(f"max_hv must be a positive number, got {max_hv!r}")
    return hypervolume(Y, ref_point) / float(max_hv)


def hypervolume_history(
    Y: np.ndarray, ref_point: Sequence[float] | np.ndarray, valid: np.ndarray | None = None
) -> np.ndarray:
    """Hypervolume of the first ``i + 1`` rows of ``Y``, for every ``i``; shape ``(n,)``.

    Args:
        Y: ``(n, m)`` objective vectors in evaluation order (may hold NaN rows).
        ref_point: ``(m,)`` reference point.
        valid: ``(n,)`` mask of rows that count (e.g. feasible ones); default all finite.
    """
    Y = np.asarray(Y, dtype=float)
    ref = np.asarray(ref_point, dtype=float).reshape(-1)
    ok = np.all(np.isfinite(Y), axis=1) if Y.size else np.zeros(len(Y), bool)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    ok &= np.all(Y < ref, axis=1) if Y.size else ok
    out = np.zeros(len(Y))
    front = np.empty((0, ref.size))
    hv = 0.0
    for i in range(len(Y)):
        if ok[i]:
            y = Y[i]
            if not np.any(np.all(front <= y, axis=1)):
                front = np.vstack([front[~np.all(y <= front, axis=1)], y])
                hv = hypervolume(front, ref)
        out[i] = hv
    return out


def igd(Y: np.ndarray, Y_ref: np.ndarray) -> float:
    """Inverted generational distance: mean over ``Y_ref`` rows of the distance to ``Y``.

    Args:
        Y: ``(n, m)`` approximation set.
        Y_ref: ``(r, m)`` reference (true Pareto front) sample.

    Returns:
        ``inf`` when ``Y`` is empty.
    """
    Y, R = _with_reference(Y, Y_ref)
    if Y.shape[0] == 0:
        return float("inf")
    d = np.linalg.norm(R[:, None, :] - Y[None, :, :], axis=-1)
    return float(d.min(axis=1).mean())


def epsilon_indicator(Y: np.ndarray, Y_ref: np.ndarray) -> float:
    """Additive epsilon indicator ``I_eps+(Y, Y_ref)`` for minimisation.

    The smallest ``eps`` such that every point of ``Y_ref`` is weakly dominated by some
    point of ``Y`` shifted by ``-eps``: ``max_r min_y max_j (y_j - r_j)``. Zero when ``Y``
    covers ``Y_ref``; ``inf`` when ``Y`` is empty.
    """
    Y, R = _with_reference(Y, Y_ref)
    if Y.shape[0] == 0:
        return float("inf")
    diff = (Y[None, :, :] - R[:, None, :]).max(axis=-1)  # (r, n)
    return float(diff.min(axis=1).max())


def nrmse(pred: np.ndarray, true: np.ndarray) -> np.ndarray | float:
    """Root-mean-square error normalised by the range of ``true``, per output column.

    Args:
        pred: ``(n,)`` or ``(n, m)`` predictions.
        true: same shape, observed values.

    Returns:
        A float for 1-D input, else an ``(m,)`` array. Columns whose ``true`` range is
        zero are normalised by 1.
    """
    p = np.asarray(pred, dtype=float)
    t = np.asarray(true, dtype=float)
    if p.shape != t.shape:
        raise ValueError(f"pred shape {p.shape} differs from true shape {t.shape}")
    if p.shape[0] == 0:
        raise ValueError("nrmse needs at least one value")
    one_d = p.ndim == 1
    p2, t2 = (p[:, None], t[:, None]) if one_d else (p, t)
    rmse = np.sqrt(np.mean((p2 - t2) ** 2, axis=0))
    span = t2.max(axis=0) - t2.min(axis=0)
    span = np.where(span > 0, span, 1.0)
    out = rmse / span
    return float(out[0]) if one_d else out


def hv_auc(hv_history: Sequence[float] | np.ndarray, normalize: bool = True) -> float:
    """Area under a hypervolume-vs-evaluations curve.

    Uses the step rule (each evaluation holds the HV reached after it). With
    ``normalize=True`` the area is divided by the number of evaluations, so a run at HV
    ``h`` from the first evaluation scores ``h``.
    """
    h = np.asarray(hv_history, dtype=float).reshape(-1)
    if h.size == 0:
        raise ValueError("hv_history is empty")
    if not np.all(np.isfinite(h)):
        raise ValueError("hv_history contains non-finite values")
    area = float(h.sum())
    return area / h.size if normalize else area
