"""Non-dominated sorting, crowding, Deb's rule and batch selection."""

from __future__ import annotations

import numpy as np

from botorch_joint.acquisition.ranking import (
    constrained_ranks,
    crowding_distance,
    non_dominated_ranks,
    observed_violation,
    select_batch,
    survival,
)


def test_non_dominated_ranks_hand_case():
    Y = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0], [2.0, 2.0], [0.5, 0.5]])
    np.testing.assert_array_equal(non_dominated_ranks(Y), [0, 0, 0, 1, 2, 0])


def _peeling_ranks(Y: np.ndarray) -> np.ndarray:
    """Reference: iterated front peeling on the full dominance matrix (NaN compares
    false, so a row with a NaN neither dominates nor is dominated)."""
    n = len(Y)
    with np.errstate(invalid="ignore"):
        le = np.all(Y[:, None, :] <= Y[None, :, :], axis=-1)
        lt = np.any(Y[:, None, :] < Y[None, :, :], axis=-1)
    dom = le & lt
    count, ranks, left, r = dom.sum(axis=0), np.full(n, -1), np.ones(n, bool), 0
    while left.any():
        front = left & (count == 0)
        ranks[front] = r
        left &= ~front
        count = count - dom[front].sum(axis=0)
        r += 1
    return ranks


def test_non_dominated_ranks_match_front_peeling_with_ties_infinities_and_nan():
    rng = np.random.default_rng(0)
    for t in range(300):
        n, m = int(rng.integers(1, 40)), int(rng.integers(1, 5))
        Y = rng.integers(0, 4, (n, m)).astype(float)  # many ties and duplicate rows
        Y[rng.random((n, m)) < 0.1] = np.inf  # failed rows are inf in the search
        Y[rng.random((n, m)) < 0.05] = -np.inf
        if t % 3 == 0:
            Y[rng.random((n, m)) < 0.05] = np.nan
        np.testing.assert_array_equal(non_dominated_ranks(Y), _peeling_ranks(Y))
    assert non_dominated_ranks(np.empty((0, 2))).shape == (0,)
    np.testing.assert_array_equal(non_dominated_ranks(np.ones((3, 0))), [0, 0, 0])


def test_crowding_boundary_infinite_and_interior_ordered():
    Y = np.array([[0.0, 1.0], [0.1, 0.9], [0.5, 0.5], [1.0, 0.0]])
    cd = crowding_distance(Y)
    assert np.isinf(cd[0]) and np.isinf(cd[3])
    assert cd[2] > cd[1]  # the middle point has more room around it


def test_constrained_ranks_feasible_before_infeasible():
    Y = np.array([[5.0, 5.0], [0.0, 0.0], [1.0, 1.0], [np.nan, np.nan]])
    v = np.array([0.0, 2.0, 1.0, np.inf])
    r = constrained_ranks(Y, v)
    # the dominated but feasible point beats both infeasible ones; failed is last
    assert r[0] == 0 and r[2] == 1 and r[1] == 2 and r[3] == 3


def test_survival_keeps_front_and_extremes():
    rng = np.random.default_rng(0)
    Y = rng.random((40, 2))
    keep = survival(Y, None, 5)
    ranks = non_dominated_ranks(Y)
    assert len(keep) == 5
    n_front = int((ranks == 0).sum())
    assert np.all(ranks[keep[: min(5, n_front)]] == 0)


def test_observed_violation_zero_for_feasible_inf_for_failed():
    C = np.array([[1.0, 2.0], [-1.0, 2.0], [-1.0, -20.0], [np.nan, np.nan], [-np.inf, 1.0]])
    failed = np.array([False, False, False, True, False])
    v = observed_violation(C, failed)
    assert v[0] == 0 and 0 < v[1] < v[2] and np.isinf(v[3])
    assert np.isfinite(v[4]) and v[4] > v[1]


def test_select_batch_distinct_feasible_diverse():
    rng = np.random.default_rng(1)
    N, d = 400, 3
    U = rng.random((N, d))
    t = rng.random(N)
    obj = np.stack([t, 1 - t], axis=1) + 0.01 * rng.random((N, 2))  # a front
    logp = np.where(U[:, 0] < 0.5, np.log(0.9), np.log(0.01))
    U_avoid = U[:5]
    idx, pf = select_batch(U, obj, logp, 10, U_avoid=U_avoid)
    assert len(idx) == 10 and len(set(idx.tolist())) == 10
    assert np.all(pf) and np.all(U[idx, 0] < 0.5)  # all predicted feasible
    assert not set(idx.tolist()) & set(range(5))  # evaluated points are not repeated
    # spread across the front: both ends are covered
    assert obj[idx, 0].min() < 0.1 and obj[idx, 0].max() > 0.9


def test_select_batch_fill_by_feasibility_when_none_feasible():
    rng = np.random.default_rng(2)
    U = rng.random((200, 2))
    obj = rng.random((200, 2))
    logp = -10.0 * np.linalg.norm(U - 0.7, axis=1) - 5.0  # all below log 0.5
    idx, pf = select_batch(U, obj, logp, 5, fill_radius=0.05)
    assert len(idx) == 5 and not pf.any()
    # the fill takes the most-likely-feasible region first
    assert np.linalg.norm(U[idx] - 0.7, axis=1).max() < 0.3
    dist = np.linalg.norm(U[idx][:, None] - U[idx][None], axis=-1) + np.eye(5)
    assert dist.min() > 1e-3


def test_greedy_hvi_hand_case():
    from botorch_joint.acquisition.ranking import greedy_hvi

    front = np.array([[0.5, 0.5]])
    obj = np.array([[0.6, 0.6], [0.1, 0.9], [0.2, 0.2]])
    w = np.ones(3)
    picks = greedy_hvi(obj, w, front, np.array([1.0, 1.0]), 3, np.random.default_rng(0))
    # the dominating point first, then the one extending the front; the dominated one
    # adds nothing and is never taken
    assert picks == [2, 1]
    # a low P(feasible) weight demotes a candidate
    picks = greedy_hvi(
        obj, np.array([1.0, 1.0, 0.01]), front, np.array([1.0, 1.0]), 1, np.random.default_rng(0)
    )
    assert picks == [1]


def test_select_batch_hvi_stage_prefers_improvement():
    rng = np.random.default_rng(3)
    U = rng.random((50, 2))
    obj = np.column_stack([U[:, 0], 1.0 - U[:, 0] + U[:, 1]])  # front along U[:, 1] = 0
    idx, pf = select_batch(
        U, obj, None, 3, ref_point=np.array([1.1, 2.1]), front=np.empty((0, 2)), rng=rng
    )
    assert pf.all() and len(set(idx.tolist())) == 3
    ranks = non_dominated_ranks(obj)
    assert np.all(ranks[idx] == 0)


def test_hypervolume_improvement_is_exact():
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    from botorch_joint.acquisition.ranking import hypervolume_improvement

    rng = np.random.default_rng(0)
    ref = np.array([1.0, 1.0, 1.0])
    front = rng.random((12, 3))
    points = rng.random((20, 3))

    def hv(Y: np.ndarray) -> float:
        # BoTorch maximises: negate both
        return Hypervolume(torch.as_tensor(-ref)).compute(torch.as_tensor(-Y))

    expected = [hv(np.vstack([front, p])) - hv(front) for p in points]
    np.testing.assert_allclose(hypervolume_improvement(points, front, ref), expected, atol=1e-12)
    # beyond the reference point or dominated: nothing
    assert hypervolume_improvement(np.array([[1.5, 0.0, 0.0]]), front, ref)[0] == 0.0
    assert hypervolume_improvement(front[:1] + 0.01, front, ref)[0] == 0.0


def test_lazy_greedy_matches_recomputing_every_gain():
    from botorch_joint.acquisition.ranking import greedy_hvi, hypervolume_improvement

    rng = np.random.default_rng(1)
    ref = np.ones(2)
    front = rng.random((5, 2)) * 0.5 + 0.5
    obj = rng.random((60, 2))
    w = rng.random(60)
    picks = greedy_hvi(obj, w, front, ref, 6, rng)
    naive, F = [], front.copy()
    for _ in range(6):
        gain = w * hypervolume_improvement(obj, F, ref)
        gain[naive] = 0.0
        j = int(np.argmax(gain))
        naive.append(j)
        F = np.vstack([F, obj[j]])
    assert picks == naive


def test_expected_improvement_credits_an_uncertain_candidate():
    from botorch_joint.acquisition.ranking import greedy_hvi

    front = np.array([[0.5, 0.5]])
    # both means are dominated by the front; only the second is uncertain
    obj = np.array([[0.6, 0.6], [0.6, 0.6]])
    std = np.array([[0.0, 0.0], [0.3, 0.3]])
    ref = np.array([1.0, 1.0])
    rng = np.random.default_rng(0)
    assert greedy_hvi(obj, np.ones(2), front, ref, 2, rng) == []
    assert greedy_hvi(obj, np.ones(2), front, ref, 2, rng, obj_std=std) == [1]


def test_reused_cells_are_the_same_arrays_only_inside_the_block():
    from botorch_joint.acquisition.ranking import hypervolume_cells, reuse_hypervolume_cells

    rng = np.random.default_rng(2)
    ref = np.ones(4)
    front = rng.random((30, 4))
    beyond = np.vstack([front, [[2.0, 0.1, 0.1, 0.1]]])  # not below ref: ignored
    with reuse_hypervolume_cells():
        first = hypervolume_cells(front, ref)
        again = hypervolume_cells(beyond.copy(), ref)
        assert again[0] is first[0] and again[1] is first[1]
        other = hypervolume_cells(front, ref * 1.1)
        assert other[0] is not first[0]
    fresh = hypervolume_cells(front, ref)
    assert fresh[0] is not first[0]
    np.testing.assert_array_equal(fresh[0], first[0])
    np.testing.assert_array_equal(fresh[1], first[1])


def test_a_dominated_point_leaves_the_cells_bit_for_bit():
    # The polish relies on this to skip partitioning again after a dominated pick.
    from botorch_joint.acquisition.ranking import hypervolume_cells

    rng = np.random.default_rng(3)
    ref = np.ones(4)
    front = rng.random((40, 4)) * 0.8
    beaten = front[5] + np.array([0.0, 0.01, 0.0, 0.02])
    base = hypervolume_cells(front, ref)
    more = hypervolume_cells(np.vstack([front, beaten]), ref)
    np.testing.assert_array_equal(base[0], more[0])
    np.testing.assert_array_equal(base[1], more[1])


def test_cells_match_botorch_partitioning_bit_for_bit():
    import torch
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    from botorch_joint.acquisition.ranking import hypervolume_cells

    rng = np.random.default_rng(4)
    for m, n in [(3, 1), (3, 25), (4, 60), (5, 30)]:
        ref = np.ones(m) * 1.2
        front = rng.random((n, m))
        front[::7] += 0.5  # some rows beyond the reference point
        lower, upper = hypervolume_cells(front, ref)
        kept = front[np.all(front < ref, axis=1)]
        part = FastNondominatedPartitioning(
            ref_point=torch.as_tensor(-ref), Y=torch.as_tensor(-kept)
        )
        expected = part.get_hypercell_bounds().numpy()
        np.testing.assert_array_equal(lower, expected[0])
        np.testing.assert_array_equal(upper, expected[1])
