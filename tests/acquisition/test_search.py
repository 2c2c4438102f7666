"""The population search on the surrogate, end to end on an analytic model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from acq_models import DiscModel

from botorch_joint.acquisition import SearchOptions, SurrogateSearch

SMALL = dict(pop_size=32, generations=4, cgd_starts=12, cgd_steps=15)


def _data(model: DiscModel, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    lo, hi = model.bounds.numpy()
    U = rng.random((n, 3))
    X = lo + U * (hi - lo)
    pred = model.predict_outcomes(torch.as_tensor(X))
    Y = pred.obj_mean.numpy()
    C = (0.15 - np.linalg.norm(U[:, :2] - 0.8, axis=1))[:, None]
    failed = np.zeros(n, bool)
    failed[0] = True
    Y[0] = np.nan
    C[0] = np.nan
    return X, Y, C, failed


def _hidden(model: DiscModel, res) -> int:
    """How many chosen points lie in the unexplored region ``u0 < 0.2``."""
    lo, hi = model.bounds.numpy()
    return int(((res.X[:, 0] - lo[0]) / (hi[0] - lo[0]) < 0.2).sum())


def test_search_returns_distinct_feasible_points_in_bounds(disc_model):
    X, Y, C, failed = _data(disc_model, 30)
    search = SurrogateSearch(disc_model, disc_model.bounds.numpy(), options=SMALL)
    res = search.propose(X, Y, C, failed, 8, np.random.default_rng(0))
    assert res.X.shape == (8, 3)
    lo, hi = disc_model.bounds.numpy()
    assert np.all(res.X >= lo) and np.all(res.X <= hi)
    assert len({tuple(x) for x in np.round(res.X, 9)}) == 8
    dist = np.linalg.norm(res.X[:, None] - X[None], axis=-1)
    assert dist.min() > 1e-6  # no evaluated point repeated
    P = disc_model.p_feasible(torch.as_tensor(res.X)).numpy()
    assert np.all(P >= 0.5) and res.predicted_feasible.all()
    np.testing.assert_allclose(res.p_feasible, P, rtol=1e-6)
    assert res.info["trace_samples"] == 12 * 16
    assert res.info["batch_predicted_feasible"] == 8


def test_search_is_reproducible(disc_model):
    X, Y, C, failed = _data(disc_model, 20)
    search = SurrogateSearch(disc_model, disc_model.bounds.numpy(), options=SMALL)
    a = search.propose(X, Y, C, failed, 5, np.random.default_rng(3)).X
    b = search.propose(X, Y, C, failed, 5, np.random.default_rng(3)).X
    np.testing.assert_array_equal(a, b)


def test_objective_only_search_ignores_classifier():
    model = DiscModel(feasibility=False)
    X, Y, C, failed = _data(model, 25)
    search = SurrogateSearch(model, model.bounds.numpy(), use_feasibility=False, options=SMALL)
    res = search.propose(X, Y, C, failed, 6, np.random.default_rng(0))
    assert res.p_feasible is None and res.X.shape == (6, 3)
    # chosen on objectives alone: close to the predicted front f2 = 1 - f1
    # (the extra coordinates near 0.5)
    U = (res.X - model.bounds[0].numpy()) / (model.bounds[1] - model.bounds[0]).numpy()
    assert np.all(np.abs(U[:, 1:] - 0.5) < 0.25)


def test_feasibility_mask_all_off_means_objectives_only(disc_model):
    X, Y, C, failed = _data(disc_model, 20)
    search = SurrogateSearch(
        disc_model, disc_model.bounds.numpy(), feasibility_mask=[False], options=SMALL
    )
    res = search.propose(X, Y, C, failed, 4, np.random.default_rng(0))
    assert res.p_feasible is None


class _Underconfident(DiscModel):
    """Ranks points right but never says more than 0.3 (like a product of several
    correlated, individually cautious constraint classifiers)."""

    def p_feasible(self, X):
        return 0.3 * super().p_feasible(X)


def test_calibration_needs_two_points_of_each_class(disc_model):
    search = SurrogateSearch(
        disc_model, disc_model.bounds.numpy(), options={"calibrate_feasibility": True}
    )
    U = np.random.default_rng(0).random((10, 3))
    assert search.fit_calibration(U, np.array([True] + [False] * 9)) is None
    assert search.calibration is None


def test_calibration_rescues_an_underconfident_classifier():
    model = _Underconfident()
    X, Y, C, failed = _data(model, 120, seed=1)
    feasible = (C[:, 0] >= 0) & ~failed
    assert feasible.sum() >= 2
    plain = SurrogateSearch(
        model, model.bounds.numpy(), options={**SMALL, "calibrate_feasibility": False}
    )
    res = plain.propose(X, Y, C, failed, 6, np.random.default_rng(0))
    assert res.info["pool_predicted_feasible"] == 0 and not res.predicted_feasible.any()

    search = SurrogateSearch(
        model, model.bounds.numpy(), options={**SMALL, "calibrate_feasibility": True}
    )
    res = search.propose(X, Y, C, failed, 6, np.random.default_rng(0))
    a, b = res.info["feasibility_calibration"]
    assert a > 0  # monotone: a higher raw probability stays higher
    assert res.predicted_feasible.all() and res.p_feasible.min() >= 0.5
    # and the chosen points really are in the feasible disc
    assert (model.p_feasible(torch.as_tensor(res.X)).numpy() / 0.3 >= 0.5).all()
    lo, hi = model.bounds.numpy()
    U = (X - lo) / (hi - lo)
    p_cal = np.exp(search.evaluate(U).log_p)
    assert np.median(p_cal[feasible]) > 0.5 > np.median(p_cal[~feasible])


def test_calibration_default_follows_the_model(disc_model):
    from botorch_joint.models import GPR

    assert not SurrogateSearch(disc_model, disc_model.bounds.numpy()).options.calibrate_feasibility
    X = torch.rand(8, 2, dtype=torch.float64)
    gp = GPR(X, X.sum(-1, keepdim=True), X[:, :1] - 0.5)
    assert not SurrogateSearch(gp, np.array([[0.0, 0.0], [1.0, 1.0]])).options.calibrate_feasibility


def test_classifier_defaults_follow_a_capability_not_a_type(disc_model):
    class _Classifier(DiscModel):
        classifier_feasibility = True

    model = _Classifier()
    search = SurrogateSearch(model, model.bounds.numpy())
    assert search.options.calibrate_feasibility and search.options.explore_tempering == 0.1


def test_calibration_is_on_by_default_for_joint_networks():
    from botorch_joint.models import JointSurrogate

    X = torch.rand(8, 2, dtype=torch.float64)
    net = JointSurrogate(X, X.sum(-1, keepdim=True), X[:, :1] - 0.5, backbone="resnet")
    assert SurrogateSearch(net, np.array([[0.0, 0.0], [1.0, 1.0]])).options.calibrate_feasibility


class _UnexploredCorner(DiscModel):
    """The disc model plus a region without data (``u0 < 0.2``) where the mean is
    pessimistic (``f1`` predicted 0.5 too high), the spread is large and the classifier
    is unsure (P = 0.3): a surrogate's view of a part of the front it has never seen."""

    def p_feasible(self, X):
        u0 = self.unit(X)[..., 0]
        return torch.where(u0 < 0.2, torch.full_like(u0, 0.3), super().p_feasible(X))

    def predict_outcomes(self, X):
        pred = super().predict_outcomes(X)
        hidden = (self.unit(X)[..., 0] < 0.2).unsqueeze(-1)
        shift = torch.tensor([0.5, 0.0], dtype=pred.obj_mean.dtype)
        obj = pred.obj_mean + hidden * shift
        std = torch.where(hidden, torch.full_like(obj, 0.6), torch.full_like(obj, 0.02))
        return type(pred)(obj, std, self.p_feasible(X).unsqueeze(-1))


def test_exploration_slots_try_the_region_the_mean_dismisses():
    model = _UnexploredCorner()
    X, Y, C, failed = _data(model, 60, seed=2)

    def hidden(res):
        return _hidden(model, res)

    ref = np.array([1.1, 1.1])
    plain = SurrogateSearch(
        model, model.bounds.numpy(), ref_point=ref, options={**SMALL, "explore_fraction": 0.0}
    )
    res = plain.propose(X, Y, C, failed, 8, np.random.default_rng(0))
    assert res.info["batch_explore"] == 0 and hidden(res) == 0

    explore = SurrogateSearch(
        model, model.bounds.numpy(), ref_point=ref, options={**SMALL, "explore_fraction": 0.25}
    )
    res = explore.propose(X, Y, C, failed, 8, np.random.default_rng(0))
    assert res.X.shape == (8, 3)
    assert 1 <= res.info["batch_explore"] <= 2
    assert hidden(res) >= 1  # the optimistic stage looked where the mean would not
    assert res.predicted_feasible.sum() >= 6  # the rest of the batch still exploits


def test_exploration_share_must_be_a_fraction(disc_model):
    with pytest.raises(ValueError, match="explore_fraction"):
        SurrogateSearch(disc_model, disc_model.bounds.numpy(), options={"explore_fraction": 1.5})


def test_exploration_slots_never_overfill_the_batch():
    model = _UnexploredCorner()
    X, Y, C, failed = _data(model, 80, seed=1)
    search = SurrogateSearch(
        model,
        model.bounds.numpy(),
        ref_point=np.array([1.1, 1.1]),
        options={**SMALL, "explore_fraction": 1.0},
    )
    res = search.propose(X, Y, C, failed, 4, np.random.default_rng(0))
    assert res.X.shape == (4, 3)
    assert res.info["batch_explore"] <= 4


class _ConfidentlyWrongCorner(_UnexploredCorner):
    """As :class:`_UnexploredCorner`, but the classifier is sure the unexplored region
    is infeasible (P = 0.002), as a neural classifier is away from its data."""

    def p_feasible(self, X):
        u0 = self.unit(X)[..., 0]
        base = DiscModel.p_feasible(self, X)
        return torch.where(u0 < 0.2, torch.full_like(u0, 0.002), base)


def test_tempering_lets_exploration_doubt_a_confident_classifier():
    model = _ConfidentlyWrongCorner()
    X, Y, C, failed = _data(model, 60, seed=2)

    def hidden(res):
        return _hidden(model, res)

    ref = np.array([1.1, 1.1])
    common = {**SMALL, "explore_fraction": 0.25}
    sure = SurrogateSearch(
        model, model.bounds.numpy(), ref_point=ref, options={**common, "explore_tempering": 0.0}
    )
    res = sure.propose(X, Y, C, failed, 8, np.random.default_rng(0))
    assert hidden(res) == 0  # P = 0.002 is below the exploration threshold

    doubting = SurrogateSearch(
        model, model.bounds.numpy(), ref_point=ref, options={**common, "explore_tempering": 0.1}
    )
    res = doubting.propose(X, Y, C, failed, 8, np.random.default_rng(0))
    assert 1 <= res.info["batch_explore"] <= 2
    assert hidden(res) >= 1
    # only the exploration slots doubt: the rest of the batch is predicted feasible
    assert res.predicted_feasible.sum() >= 6


def test_tempered_probability_is_the_probit_mean_of_a_gaussian_logit():
    from botorch_joint.acquisition.search import tempered_log_p

    p = np.array([1e-4, 0.01, 0.3, 0.5, 0.9, 0.999])
    np.testing.assert_allclose(np.exp(tempered_log_p(np.log(p), np.zeros(6))), p, rtol=1e-9)
    sigma = 2.0
    pt = np.exp(tempered_log_p(np.log(p), np.full(6, np.sqrt(np.pi / 8) * sigma)))
    # pulled towards 1/2, order kept
    assert np.all(np.abs(pt - 0.5) <= np.abs(p - 0.5) + 1e-12) and np.all(np.diff(pt) > 0)
    logit = np.log(p / (1 - p))
    z = np.random.default_rng(0).standard_normal(200_000)
    mc = (1 / (1 + np.exp(-(logit[:, None] + sigma * z[None])))).mean(axis=1)
    np.testing.assert_allclose(pt, mc, atol=0.02)


def test_tempering_default_follows_the_model(disc_model):
    from botorch_joint.models import GPR, JointSurrogate

    assert SurrogateSearch(disc_model, disc_model.bounds.numpy()).options.explore_tempering == 0.0
    X = torch.rand(8, 2, dtype=torch.float64)
    box = np.array([[0.0, 0.0], [1.0, 1.0]])
    gp = GPR(X, X.sum(-1, keepdim=True), X[:, :1] - 0.5)
    assert SurrogateSearch(gp, box).options.explore_tempering == 0.0
    net = JointSurrogate(X, X.sum(-1, keepdim=True), X[:, :1] - 0.5, backbone="resnet")
    assert SurrogateSearch(net, box).options.explore_tempering == 0.1
    with pytest.raises(ValueError, match="explore_tempering"):
        SurrogateSearch(net, box, options={"explore_tempering": -1.0})


def test_options_are_few_and_a_dict_or_the_object_alike(disc_model):
    assert len(SearchOptions.names()) <= 12
    X, Y, C, failed = _data(disc_model, 20)
    box = disc_model.bounds.numpy()
    a = SurrogateSearch(disc_model, box, options=SMALL).propose(
        X, Y, C, failed, 4, np.random.default_rng(1)
    )
    b = SurrogateSearch(disc_model, box, options=SearchOptions(**SMALL)).propose(
        X, Y, C, failed, 4, np.random.default_rng(1)
    )
    np.testing.assert_array_equal(a.X, b.X)
    # the None defaults are derived from the model; an explicit value wins
    assert SearchOptions().resolve(disc_model).explore_tempering == 0.0
    assert SearchOptions(calibrate_feasibility=True).resolve(disc_model).calibrate_feasibility


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("local_fraction", "local slots"),
        ("uncertainty_weight", "removed"),
        ("selection", "hypervolume"),
        ("cgd_lr", "CGD_LR"),
        ("direction", "PERTURBATION_DIRECTION"),
        ("ref_point", "Problem"),
        ("pop_sise", "not a search option"),
    ],
)
def test_unknown_and_removed_options_are_refused_by_name(disc_model, name, says):
    from botorch_joint.errors import SettingsError

    with pytest.raises(SettingsError, match=says) as err:
        SurrogateSearch(disc_model, disc_model.bounds.numpy(), options={name: 1})
    assert repr(name) in str(err.value) and "pop_size" in str(err.value)


@pytest.mark.parametrize(
    "bad",
    [{"pop_size": 0}, {"cgd_steps": -1}, {"feasibility_weight": float("nan")}],
)
def test_options_refuse_impossible_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        SearchOptions(**bad)


def test_polishing_moves_the_picks_onto_the_predicted_front(monkeypatch):
    import botorch_joint.acquisition.search as search_module

    # No feasibility: the front is u1 = u2 = 0.5, which the pool only samples.
    model = DiscModel(feasibility=False)
    X, Y, _, failed = _data(model, 30)
    C = np.empty((30, 0))
    lo, hi = model.bounds.numpy()

    def off_front(steps: int) -> tuple[float, int]:
        monkeypatch.setattr(search_module, "POLISH_STEPS", steps)
        search = SurrogateSearch(model, model.bounds.numpy(), options=SMALL)
        res = search.propose(X, Y, C, failed, 8, np.random.default_rng(0))
        U = (res.X - lo) / (hi - lo)
        exploit = U[res.info["batch_explore"] :]
        return float(((exploit[:, 1:] - 0.5) ** 2).sum(axis=1).mean()), res.info["batch_polished"]

    rough, none = off_front(0)
    polished, moved = off_front(30)
    assert none == 0 and moved > 0
    assert polished < 0.5 * rough


class _SpreadAtFront(DiscModel):
    """The front (u1 = 0.5) is where the model's spread is largest."""

    def predict_outcomes(self, X: torch.Tensor):
        pred = super().predict_outcomes(X)
        u1 = self.unit(X)[..., 1:2]
        pred.obj_std = 0.05 + 4.0 * (0.25 - (u1 - 0.5).abs()).clamp_min(0.0) ** 2 * (
            torch.ones_like(pred.obj_mean)
        )
        return pred


def test_polishing_is_held_back_where_the_spread_is_large(monkeypatch):
    import botorch_joint.acquisition.search as search_module

    model = _SpreadAtFront(feasibility=False)
    X, Y, _, failed = _data(model, 30)
    C = np.empty((30, 0))
    lo, hi = model.bounds.numpy()

    def distance_to_front(penalty: float) -> float:
        monkeypatch.setattr(search_module, "POLISH_SPREAD_PENALTY", penalty)
        res = SurrogateSearch(model, model.bounds.numpy(), options=SMALL).propose(
            X, Y, C, failed, 8, np.random.default_rng(0)
        )
        U = (res.X - lo) / (hi - lo)
        exploit = U[res.info["batch_explore"] :]
        return float(np.abs(exploit[:, 1] - 0.5).mean())

    far, near = distance_to_front(20.0), distance_to_front(0.0)
    assert far > near


def test_polishing_keeps_the_picks_predicted_feasible(disc_model):
    X, Y, C, failed = _data(disc_model, 30)
    search = SurrogateSearch(disc_model, disc_model.bounds.numpy(), options=SMALL)
    res = search.propose(X, Y, C, failed, 8, np.random.default_rng(1))
    assert res.info["batch_polished"] > 0
    P = disc_model.p_feasible(torch.as_tensor(res.X)).numpy()
    assert np.all(P >= 0.5)
