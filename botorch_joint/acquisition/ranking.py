"""Ranking and batch selection on (predicted or observed) objective vectors.

Everything here is NumPy on small arrays (a few thousand rows at most): non-dominated
sorting (pymoo's) with Deb's feasibility rule, NSGA-II crowding, and the greedy
selection of a diverse, likely-feasible batch that ends every search epoch. Objectives
are minimised.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

__all__ = [
    "constrained_ranks",
    "crowding_distance",
    "dominated_volume",
    "greedy_hvi",
    "hypervolume_cells",
    "hypervolume_improvement",
    "non_dominated_ranks",
    "observed_violation",
    "reuse_hypervolume_cells",
    "select_batch",
    "survival",
]


def non_dominated_ranks(Y: np.ndarray) -> np.ndarray:
    """Pareto rank of every row of ``Y`` (0 = non-dominated), by pymoo's sorting.

    Row ``i`` dominates row ``j`` when it is no worse in every objective and better in
    one; equal rows share a rank. A row with a NaN is compared with no other row, so it
    ranks 0 and leaves the others' ranks alone; ``inf`` and ``-inf`` compare as
    numbers.

    Args:
        Y: ``(n, m)`` objective vectors (minimised).

    Returns:
        ``(n,)`` integer ranks.
    """
    Y = np.asarray(Y, dtype=float)
    n = Y.shape[0]
    if n == 0:
        return np.full(0, -1, dtype=int)
    ranks = np.zeros(n, dtype=int)
    valid = ~np.isnan(Y).any(axis=1)
    if valid.any() and Y.shape[1]:
        # Dominance depends only on each column's order, so sort the columns' ranks:
        # exact for ties, and pymoo never sees an infinite value.
        order = np.column_stack(
            [np.unique(col, return_inverse=True)[1] for col in Y[valid].T]
        ).astype(float)
        ranks[valid] = NonDominatedSorting().do(order, return_rank=True)[1]
    return ranks


def crowding_distance(Y: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of ``Y`` within its set (boundary = inf).

    Not pymoo's ``calc_crowding_distance``: that one divides by ``m`` and sums the two
    gaps separately (other rounding, so near-equal distances can swap their order in
    survival), and gives an objective that is constant over the set no boundary
    points, where this one marks its first and last row (stable order) as boundaries.

    Args:
        Y: ``(n, m)`` objective vectors of one front.

    Returns:
        ``(n,)`` distances; larger means less crowded.
    """
    Y = np.asarray(Y, dtype=float)
    n, m = Y.shape
    if n <= 2:
        return np.full(n, np.inf)
    dist = np.zeros(n)
    for j in range(m):
        order = np.argsort(Y[:, j], kind="stable")
        col = Y[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist


def constrained_ranks(Y: np.ndarray, violation: np.ndarray | None = None) -> np.ndarray:
    """Ranks under Deb's feasibility rule.

    Rows with ``violation <= 0`` are feasible and ranked by non-dominated sorting of
    ``Y``; every infeasible row ranks after every feasible one, in order of increasing
    violation (each infeasible row gets its own rank).

    Args:
        Y: ``(n, m)`` objectives (rows of infeasible points may be non-finite).
        violation: ``(n,)`` non-negative violation (``inf`` for failed points), or
            ``None`` when every row is feasible.

    Returns:
        ``(n,)`` integer ranks, 0 best.
    """
    Y = np.asarray(Y, dtype=float)
    n = Y.shape[0]
    v = np.zeros(n) if violation is None else np.asarray(violation, dtype=float)
    feas = (v <= 0) & np.all(np.isfinite(Y), axis=1)
    ranks = np.empty(n, dtype=int)
    fr = non_dominated_ranks(Y[feas]) if feas.any() else np.empty(0, dtype=int)
    ranks[feas] = fr
    base = int(fr.max()) + 1 if fr.size else 0
    inf_idx = np.flatnonzero(~feas)
    order = inf_idx[np.argsort(v[inf_idx], kind="stable")]
    ranks[order] = base + np.arange(order.size)
    return ranks


def survival(Y: np.ndarray, violation: np.ndarray | None, n_keep: int) -> np.ndarray:
    """NSGA-II environmental selection: the ``n_keep`` best rows by rank, then crowding.

    Args:
        Y: ``(n, m)`` objectives.
        violation: ``(n,)`` violation (see :func:`constrained_ranks`) or ``None``.
        n_keep: how many rows survive.

    Returns:
        ``(min(n, n_keep),)`` indices of the survivors, best first.
    """
    ranks = constrained_ranks(Y, violation)
    crowd = np.zeros(len(ranks))
    for r in np.unique(ranks):
        idx = np.flatnonzero(ranks == r)
        if idx.size > 1 and np.all(np.isfinite(Y[idx])):
            crowd[idx] = crowding_distance(Y[idx])
    order = np.lexsort((-crowd, ranks))
    return order[: int(n_keep)]


def observed_violation(C: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """Aggregate constraint violation of evaluated points (0 = feasible, inf = failed).

    Each constraint's shortfall ``max(0, -c_j)`` is divided by a robust scale of that
    constraint (the median absolute value of its finite observations), so constraints
    in different units weigh alike; a non-finite value counts as the worst observed.

    Args:
        C: ``(n, k)`` constraint values (satisfied iff ``>= 0``).
        failed: ``(n,)`` failed evaluations.

    Returns:
        ``(n,)`` violations.
    """
    C = np.asarray(C, dtype=float)
    failed = np.asarray(failed, dtype=bool)
    n, k = C.shape
    v = np.zeros(n)
    for j in range(k):
        col = C[:, j]
        fin = np.isfinite(col) & ~failed
        scale = np.median(np.abs(col[fin])) if fin.any() else 1.0
        scale = scale if scale > 0 else 1.0
        short = np.maximum(0.0, -col) / scale
        worst = short[fin].max() if fin.any() else 1.0
        v += np.where(np.isfinite(short), short, 2.0 * worst + 1.0)
    v[failed] = np.inf
    return v


def _min_dist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``(len(A),)`` Euclidean distance from each row of ``A`` to its nearest row of ``B``."""
    if B.shape[0] == 0:
        return np.full(A.shape[0], np.inf)
    out = np.empty(A.shape[0])
    for s in range(0, A.shape[0], 1024):  # bounded memory for large pools
        diff = A[s : s + 1024, None, :] - B[None, :, :]
        out[s : s + 1024] = np.sqrt((diff**2).sum(-1)).min(axis=1)
    return out


_CELLS: ContextVar[dict[tuple[bytes, ...], tuple[np.ndarray, np.ndarray]] | None] = ContextVar(
    "hypervolume_cells", default=None
)


@contextmanager
def reuse_hypervolume_cells() -> Iterator[None]:
    """Within the block, :func:`hypervolume_cells` keeps what it computes and returns it
    again for the same front and reference point.

    One search partitions the same fronts several times (the greedy selection, then
    the polish against the fronts the selection built, then a second greedy from the
    observed front); with four objectives and a front of a few hundred points each
    partition costs a fifth of a second, and a batch of 100 needs hundreds of them.
    The cached arrays are returned as they are: callers must not modify them.
    """
    token = _CELLS.set({})
    try:
        yield
    finally:
        _CELLS.reset(token)


def hypervolume_cells(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes of the region below ``ref`` that ``front`` (minimised) does not dominate.

    In BoTorch's maximisation convention: a point ``y`` adds
    ``sum_c prod_j clip(min(-y_j, upper_cj) - lower_cj, 0)``. Inside
    :func:`reuse_hypervolume_cells`, a front and reference point seen before return the
    same arrays as before.

    Args:
        front: ``(F, m)`` objectives (rows not below ``ref`` everywhere are ignored).
        ref: ``(m,)`` reference point.

    Returns:
        ``(lower, upper)``, each ``(cells, m)`` (``upper`` may be ``inf``).
    """
    ref = np.asarray(ref, dtype=float).reshape(-1)
    front = np.asarray(front, dtype=float).reshape(-1, ref.size)
    import torch

    m = ref.size
    front = np.ascontiguousarray(front[np.all(front < ref, axis=1)])
    cache = _CELLS.get()
    key = (ref.tobytes(), front.tobytes())
    if cache is not None and key in cache:
        return cache[key]
    if m <= 2 or not len(front):
        from botorch.utils.multi_objective.box_decompositions.non_dominated import (
            FastNondominatedPartitioning,
        )

        part = FastNondominatedPartitioning(
            ref_point=torch.as_tensor(-ref), Y=torch.as_tensor(-front).reshape(-1, m)
        )
        lower, upper = part.get_hypercell_bounds().numpy()
    else:
        lower, upper = _nondominated_cells(torch.as_tensor(front), torch.as_tensor(ref))
    if cache is not None:
        cache[key] = (lower, upper)
    return lower, upper


def _nondominated_cells(front: Any, ref: Any) -> tuple[np.ndarray, np.ndarray]:
    """BoTorch's ``FastNondominatedPartitioning`` cells for ``m >= 3``, the same arrays
    bit for bit, with the last step (equation 2 of Lacour et al. 2017) done on whole
    columns instead of cell by cell: that step was a third of a partition's time.

    Args:
        front: ``(F, m)`` tensor of minimised objectives, every row below ``ref``.
        ref: ``(m,)`` tensor, the reference point.
    """
    import torch
    from botorch.utils.multi_objective.box_decompositions.utils import (
        update_local_upper_bounds_incremental,
    )
    from botorch.utils.multi_objective.pareto import is_non_dominated

    m = ref.shape[-1]
    pareto = front[is_non_dominated(-front)]
    # The local upper bounds of the minimisation problem (Algorithm 1)...
    upper = ref.unsqueeze(0).clone()
    defining = torch.zeros(1, m, m, dtype=front.dtype)
    for j in range(m):
        defining[0, j] = -torch.inf
        defining[0, j, j] = upper[0, j]
    upper, defining = update_local_upper_bounds_incremental(pareto, upper, defining)
    # ... are the front of a second minimisation problem with an infinite reference
    # point, whose dominated boxes are the region the front does not dominate.
    upper2 = torch.full((1, m), torch.inf, dtype=front.dtype)
    defining2 = (-ref).expand(1, m, m).clone()
    for j in range(m):
        defining2[0, j, j] = upper2[0, j]
    upper2, defining2 = update_local_upper_bounds_incremental(-upper, upper2, defining2)
    lower = torch.empty_like(upper2)
    lower[:, 0] = defining2[:, 0, 0]
    for j in range(1, m):
        lower[:, j] = defining2[:, :j, j].max(dim=-1).values
    upper2 = upper2.clone()
    upper2[:, 0] = torch.inf
    keep = ~(upper2 <= lower).any(dim=-1)
    return lower[keep].numpy(), upper2[keep].numpy()


def dominated_volume(points: np.ndarray, cells: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """``(n,)`` volume each of ``(n, m)`` minimised points dominates inside ``cells``
    (the boxes of :func:`hypervolume_cells`)."""
    lower, upper = cells
    P = -points
    out = np.zeros(P.shape[0])
    step = max(1, 2**21 // max(1, lower.shape[0] * P.shape[1]))  # bounded memory
    for s in range(0, P.shape[0], step):
        x = P[s : s + step, None, :]
        side = np.clip(np.minimum(x, upper[None]) - lower[None], 0.0, None)
        out[s : s + step] = np.prod(side, axis=-1).sum(axis=-1)
    return np.where(np.all(np.isfinite(P), axis=1), out, 0.0)


def hypervolume_improvement(
    points: np.ndarray, front: np.ndarray, ref_point: np.ndarray
) -> np.ndarray:
    """Exact hypervolume each point adds to ``front`` alone (minimised objectives).

    The region that ``front`` does not dominate, below ``ref_point``, is split into
    boxes by BoTorch's :class:`~botorch.utils.multi_objective.box_decompositions.
    non_dominated.FastNondominatedPartitioning`; a point's improvement is the volume it
    dominates in those boxes.

    Args:
        points: ``(..., m)`` objective vectors.
        front: ``(F, m)`` objectives already achieved (may be empty).
        ref_point: ``(m,)`` reference point.

    Returns:
        ``(...)`` improvements (0 for a point that is dominated or not below the
        reference point in every objective).
    """
    ref = np.asarray(ref_point, dtype=float).reshape(-1)
    front = np.asarray(front, dtype=float).reshape(-1, ref.size)
    P = np.asarray(points, dtype=float)
    out = dominated_volume(P.reshape(-1, ref.size), hypervolume_cells(front, ref))
    return out.reshape(P.shape[:-1])


def greedy_hvi(
    obj: np.ndarray,
    weight: np.ndarray,
    front: np.ndarray,
    ref_point: np.ndarray,
    n: int,
    rng: np.random.Generator,
    n_samples: int = 32,
    accept: Any = None,
    obj_std: np.ndarray | None = None,
) -> list[int]:
    """Greedy batch by weighted (expected) hypervolume improvement, computed exactly.

    Each step takes the candidate with the largest ``weight_i * HVI_i``, where
    ``HVI_i`` (:func:`hypervolume_improvement`) is the volume below ``ref_point`` that
    candidate ``i`` dominates and that neither ``front`` nor the candidates already
    taken dominate: the chosen points are "believed" at their predicted means, so the
    next pick goes where the front gains most, which balances quality and spread. With
    ``obj_std``, ``HVI_i`` is the expectation over independent normal predictions,
    estimated on ``n_samples`` draws shared by all candidates (the expected
    hypervolume improvement): an uncertain candidate near the front can add volume
    where its mean does not. Stops early when no candidate adds volume.

    An improvement never grows when the front does, so only the leading candidate's is
    brought up to date at each step (lazy greedy: the same picks as recomputing all),
    and candidates that even three standard deviations better would not improve the
    front are never scored.

    Args:
        obj: ``(N, m)`` candidate objectives (minimised).
        weight: ``(N,)`` non-negative weights (e.g. P(feasible)); 0 excludes.
        front: ``(F, m)`` objectives already achieved (may be empty).
        ref_point: ``(m,)`` reference point.
        n: at most this many picks.
        rng: random generator of the draws.
        n_samples: draws of the expectation (with ``obj_std`` only; before exact
            volumes this was the number of Monte-Carlo points).
        accept: optional callable ``i -> bool`` vetoing a pick (e.g. a duplicate).
        obj_std: ``(N, m)`` predictive standard deviations, or ``None`` (improvement
            of the means).

    Returns:
        Indices into ``obj``, in the order taken.
    """
    import heapq

    obj = np.asarray(obj, dtype=float)
    m = obj.shape[1]
    ref = np.asarray(ref_point, dtype=float).reshape(-1)
    front = np.asarray(front, dtype=float).reshape(-1, m)
    front = front[np.all(front < ref, axis=1)]
    weight = np.asarray(weight, dtype=float)
    if obj_std is None:
        std = np.zeros_like(obj)
        draws = np.zeros((1, 1, m))
    else:
        std = np.clip(np.nan_to_num(np.asarray(obj_std, dtype=float), nan=0.0), 0.0, None)
        std = np.where(np.isfinite(std), std, 0.0)
        draws = rng.standard_normal((max(1, int(n_samples)), 1, m))
    best = obj - 3.0 * std
    keep = (weight > 0) & np.all(np.isfinite(obj), axis=1) & np.all(best < ref, axis=1)
    if len(front):
        dominated = np.zeros(len(obj), dtype=bool)
        for s in range(0, len(front), 64):
            dominated |= np.all(front[s : s + 64, None, :] <= best[None], axis=-1).any(axis=0)
        keep &= ~dominated
    cand = np.flatnonzero(keep)
    if cand.size == 0 or n <= 0:
        return []
    points = obj[cand][None] + std[cand][None] * draws  # (S, c, m)

    def gain(rows: np.ndarray, cells: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        sub = points[:, rows].reshape(-1, m)
        return dominated_volume(sub, cells).reshape(points.shape[0], len(rows)).mean(axis=0)

    cells = hypervolume_cells(front, ref)
    w = weight[cand]
    first = w * gain(np.arange(cand.size), cells)
    version = 0  # how many picks the front holds
    heap = [(-float(v), int(j), 0) for j, v in enumerate(first) if v > 0]
    heapq.heapify(heap)
    picks: list[int] = []
    while heap and len(picks) < n:
        neg, j, seen = heapq.heappop(heap)
        if seen != version:  # stale: bring up to date and put back
            v = float(w[j] * gain(np.array([j]), cells)[0])
            if v > 0:
                heapq.heappush(heap, (-v, j, version))
            continue
        if accept is not None and not accept(int(cand[j])):
            continue
        picks.append(int(cand[j]))
        front = np.vstack([front, obj[cand[j]]])
        version += 1
        if len(picks) < n:
            cells = hypervolume_cells(front, ref)
    return picks


def select_batch(
    U: np.ndarray,
    obj: np.ndarray,
    log_pfeas: np.ndarray | None,
    n: int,
    U_avoid: np.ndarray | None = None,
    feasibility_threshold: float = 0.5,
    min_distance: float = 1e-3,
    fill_radius: float = 0.1,
    fill_score: np.ndarray | None = None,
    ref_point: np.ndarray | None = None,
    front: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    hvi_min_probability: float | None = None,
    fill: bool = True,
    diversify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Choose ``n`` diverse, likely-feasible candidates from a pool.

    Candidates closer than ``min_distance * sqrt(d)`` (unit-cube distance) to an
    avoided point (already evaluated) are dropped. With a ``ref_point``, the batch
    starts with :func:`greedy_hvi` picks among the candidates with
    ``P(feasible) >= hvi_min_probability`` (hypervolume improvement over ``front``
    times P(feasible)) for as long as some
    candidate still adds volume. Then, among the remaining predicted-feasible ones
    (``P(feasible) >= feasibility_threshold``), whole predicted Pareto fronts are taken
    in order; the front that does not fit is thinned by greedy max-min distance in the
    normalised objective space (maximum predicted diversity across objectives). When
    fewer than ``n`` are predicted feasible, the rest are the candidates with the
    lowest ``fill_score`` (default: the most likely feasible), kept at least
    ``fill_radius * sqrt(d)`` apart in the input space (the radius halves until the
    batch fills).

    Args:
        U: ``(N, d)`` candidates in the unit cube.
        obj: ``(N, m)`` predicted objectives (minimised).
        log_pfeas: ``(N,)`` log predicted probability of feasibility, or ``None``
            (every candidate feasible).
        n: batch size.
        U_avoid: ``(n_a, d)`` points not to repeat.
        feasibility_threshold: probability above which a candidate counts as feasible.
        min_distance: duplicate radius, relative to the cube's diagonal.
        fill_radius: initial input-space spacing of the fill, relative to the diagonal.
        fill_score: ``(N,)`` order of the fill, lower first (default ``-log_pfeas``).
        ref_point: ``(m,)`` reference point enabling the hypervolume stage.
        front: ``(F, m)`` observed feasible objectives for the hypervolume stage.
        rng: random generator of the hypervolume stage's draws.
        hvi_min_probability: P(feasible) a candidate needs to enter the hypervolume
            stage (default ``feasibility_threshold``); lower values let a large
            improvement outweigh a lower probability (the weight is P times HVI).
        fill: top the batch up with predicted-infeasible candidates (else return
            fewer than ``n``).
        diversify: after the hypervolume stage, take the remaining predicted-feasible
            candidates by diversity (else stop after the hypervolume stage).

    Returns:
        ``(indices (q,), predicted_feasible (q,) bool)``, ``q <= n`` (smaller only when
        the pool has fewer distinct candidates).
    """
    U = np.asarray(U, dtype=float)
    obj = np.asarray(obj, dtype=float)
    N, d = U.shape
    diag = np.sqrt(d)
    dup = min_distance * diag
    ok = np.all(np.isfinite(obj), axis=1) & np.all(np.isfinite(U), axis=1)
    if U_avoid is not None and len(U_avoid):
        ok &= _min_dist(U, np.asarray(U_avoid, dtype=float)) > dup
    lp = np.zeros(N) if log_pfeas is None else np.asarray(log_pfeas, dtype=float)
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    feas = ok & (lp >= np.log(feasibility_threshold))

    chosen: list[int] = []

    def far_enough(i: int, radius: float) -> bool:
        if not chosen:
            return True
        return float(np.sqrt(((U[chosen] - U[i]) ** 2).sum(-1)).min()) > radius

    f_idx = np.flatnonzero(feas)
    p_min = feasibility_threshold if hvi_min_probability is None else hvi_min_probability
    eligible = ok & (lp >= np.log(max(p_min, 1e-300)))
    if eligible.any() and ref_point is not None:
        weight = np.where(eligible, np.exp(lp), 0.0)
        rng = rng if rng is not None else np.random.default_rng(0)

        def accept(i: int) -> bool:
            if far_enough(i, dup):
                chosen.append(i)
                return True
            return False

        greedy_hvi(
            obj,
            weight,
            np.empty((0, obj.shape[1])) if front is None else front,
            ref_point,
            n,
            rng,
            accept=accept,
        )
    if diversify and f_idx.size and len(chosen) < n:
        Z = obj[f_idx]
        lo, hi = Z.min(axis=0), Z.max(axis=0)
        Z = (Z - lo) / np.where(hi > lo, hi - lo, 1.0)
        ranks = non_dominated_ranks(Z)
        taken = set(chosen)
        # Candidates already taken count for the spread but are not taken twice.
        sel_Z: list[np.ndarray] = [Z[np.searchsorted(f_idx, c)] for c in chosen if feas[c]]
        for r in range(int(ranks.max()) + 1):
            if len(chosen) >= n:
                break
            members = [int(i) for i in np.flatnonzero(ranks == r) if f_idx[i] not in taken]
            # Greedy max-min in objective space, starting from the best-balanced point.
            while members and len(chosen) < n:
                mz = Z[members]
                if sel_Z:
                    dist = np.sqrt(((mz[:, None, :] - np.asarray(sel_Z)[None]) ** 2).sum(-1))
                    score = dist.min(axis=1)
                    pick = int(np.argmax(score))
                else:
                    pick = int(np.argmin(mz.sum(axis=1)))
                i = members.pop(pick)
                if far_enough(int(f_idx[i]), dup):
                    chosen.append(int(f_idx[i]))
                    sel_Z.append(Z[i])
    if fill and len(chosen) < n:
        rest = np.flatnonzero(ok & ~np.isin(np.arange(N), chosen))
        score = -lp if fill_score is None else np.asarray(fill_score, dtype=float)
        score = np.where(np.isnan(score), np.inf, score)
        rest = rest[np.argsort(score[rest], kind="stable")]
        radius = fill_radius * diag
        while len(chosen) < n and rest.size:
            took = []
            for row in rest:
                if len(chosen) >= n:
                    break
                if far_enough(int(row), max(radius, dup)):
                    chosen.append(int(row))
                    took.append(row)
            rest = rest[~np.isin(rest, took)]
            if radius <= dup:
                break
            radius /= 2.0
    idx = np.asarray(chosen, dtype=int)
    pred_feas = feas[idx] if idx.size else np.zeros(0, dtype=bool)
    return idx, pred_feas
