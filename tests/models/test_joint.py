"""JointSurrogate: the shared model properties plus the network-specific behaviour."""

from __future__ import annotations

import math

import pytest
import torch
from model_cases import BOUNDS, M, SurrogateCases, sample_points, toy_data, toy_outcomes

from botorch_joint.models import JointSurrogate, fit_model, predict

# Tiny networks and short training keep the whole file to a few seconds.
TINY = {
    "resnet": {"width": 16, "hidden": 32, "n_blocks": 1},
    "ftt": {"dim": 8, "heads": 2, "n_blocks": 2},
}


def tiny(backbone: str = "resnet", **kwargs) -> dict:
    options = {
        "backbone": backbone,
        "ensemble_size": 3,
        "max_epochs": 150,
        "patience": 150,
        "network_options": TINY[backbone],
        "seed": 0,
    }
    options.update(kwargs)
    return options


class TestJointResNet(SurrogateCases):
    feasibility_outputs = "probability"

    def make_model(self, X, Y, C, **kwargs):
        return JointSurrogate(X, Y, C, **tiny("resnet", **kwargs))


class TestJointFTT(SurrogateCases):
    feasibility_outputs = "probability"

    def make_model(self, X, Y, C, **kwargs):
        return JointSurrogate(X, Y, C, **tiny("ftt", **kwargs))


# ------------------------------------------------------------------ network specifics
def fit_tiny(X, Y, C, backbone: str = "resnet", **kwargs) -> JointSurrogate:
    return fit_model(JointSurrogate(X, Y, C, **tiny(backbone, bounds=BOUNDS, **kwargs)))


@pytest.mark.parametrize("backbone", ["resnet", "ftt"])
def test_seeded_fits_are_reproducible(backbone: str) -> None:
    X, Y, C = toy_data(20)
    Xt = sample_points(8)
    torch.manual_seed(123)
    a = fit_tiny(X, Y, C, backbone, max_epochs=10).posterior(Xt).mean
    torch.manual_seed(456)  # the global RNG state must not matter
    b = fit_tiny(X, Y, C, backbone, max_epochs=10).posterior(Xt).mean
    c = fit_tiny(X, Y, C, backbone, max_epochs=10, seed=1).posterior(Xt).mean
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.allclose(a, c)


def test_fit_leaves_global_rng_untouched() -> None:
    X, Y, C = toy_data(12)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    fit_tiny(X, Y, C, max_epochs=3)
    torch.testing.assert_close(torch.rand(3), expected)


def test_refit_gives_the_same_model() -> None:
    X, Y, C = toy_data(16)
    model = fit_tiny(X, Y, C, max_epochs=5)
    first = model.posterior(sample_points(4)).mean
    second = fit_model(model).posterior(sample_points(4)).mean
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_ensemble_posterior_holds_one_sample_per_member() -> None:
    from botorch.posteriors.ensemble import EnsemblePosterior

    X, Y, C = toy_data(16)
    model = fit_tiny(X, Y, C, max_epochs=5, ensemble_size=4)
    post = model.posterior(sample_points(2, 3))
    assert isinstance(post, EnsemblePosterior)
    assert post.values.shape == (2, 4, 3, M + 2)
    assert post.variance[..., :M].min() > 0  # members disagree
    # All members' weights live in single stacked tensors (one vectorised pass).
    assert model.net.regression_head.out.weight.shape[0] == 4


@pytest.mark.parametrize("feasible", [True, False])
def test_single_class_labels(feasible: bool) -> None:
    X, Y, C = toy_data(20)
    C = C.abs() + 0.1 if feasible else -C.abs() - 0.1
    model = fit_tiny(X, Y, C)
    pred = predict(model, sample_points(30))
    assert torch.isfinite(pred.obj_mean).all() and torch.isfinite(pred.feas_prob).all()
    # Leaning clearly towards the only class seen (tiny net, short training).
    if feasible:
        assert pred.feas_prob.mean() > 0.6
    else:
        assert pred.feas_prob.mean() < 0.4


@pytest.mark.parametrize("backbone", ["resnet", "ftt"])
def test_ten_points(backbone: str) -> None:
    X, Y, C = toy_data(10)
    model = fit_tiny(X, Y, C, backbone)
    pred = predict(model, sample_points(5))
    assert torch.isfinite(pred.obj_mean).all()
    assert torch.isfinite(pred.obj_std).all()
    assert torch.isfinite(pred.feas_prob).all()


@pytest.mark.parametrize("n", [1, 2, 4])
def test_tiny_data_without_validation(n: int) -> None:
    X, Y, C = toy_data(n)
    model = fit_tiny(X, Y, C, max_epochs=5)
    assert torch.isfinite(model.posterior(sample_points(3)).mean).all()


def test_failed_rows_teach_infeasibility() -> None:
    """Rows with NaN objectives count as infeasible for every constraint."""
    X, Y, C = toy_data(48)
    C = C.abs() + 0.5  # every successful evaluation satisfies every constraint
    u0 = (X[:, 0] - BOUNDS[0, 0]) / (BOUNDS[1, 0] - BOUNDS[0, 0])
    failed = u0 > 0.6
    Y[failed] = math.nan
    C[failed] = math.nan
    model = fit_tiny(X, Y, C, max_epochs=150, patience=150)
    Xt = sample_points(200, seed=5)
    ut = (Xt[:, 0] - BOUNDS[0, 0]) / (BOUNDS[1, 0] - BOUNDS[0, 0])
    p = predict(model, Xt).feas_prob.detach()
    assert p[ut > 0.75].mean() < 0.3
    assert p[ut < 0.45].mean() > 0.7


def test_minus_inf_constraint_is_violated() -> None:
    X, Y, C = toy_data(32)
    C = C.abs() + 0.5
    u1 = (X[:, 1] - BOUNDS[0, 1]) / (BOUNDS[1, 1] - BOUNDS[0, 1])
    C[u1 > 0.5, 1] = -math.inf
    model = fit_tiny(X, Y, C, max_epochs=150, patience=150)
    Xt = sample_points(200, seed=6)
    ut = (Xt[:, 1] - BOUNDS[0, 1]) / (BOUNDS[1, 1] - BOUNDS[0, 1])
    p = predict(model, Xt).feas_prob.detach()[:, 1]
    assert p[ut > 0.7].mean() < p[ut < 0.3].mean() - 0.4


def test_all_failed_objectives_still_fit() -> None:
    X, Y, C = toy_data(12)
    Y[:] = math.nan
    model = fit_tiny(X, Y, C, max_epochs=30)
    pred = predict(model, sample_points(4))
    assert torch.isfinite(pred.obj_mean).all()
    assert pred.feas_prob.max() < 0.5  # every row counts as infeasible


def test_units_do_not_matter() -> None:
    """Inputs are normalised to bounds and objectives standardised internally."""
    X, Y, C = toy_data(20)
    base = fit_tiny(X, Y, C, max_epochs=10)
    scale_x = torch.tensor([1e3, 1e-3, 7.0], dtype=torch.double)
    scaled = fit_model(
        JointSurrogate(
            X * scale_x, Y * 1e4 - 3.0, C, **tiny(bounds=BOUNDS * scale_x, max_epochs=10)
        )
    )
    Xt = sample_points(6)
    a = predict(base, Xt)
    b = predict(scaled, Xt * scale_x)
    torch.testing.assert_close(b.obj_mean, a.obj_mean * 1e4 - 3.0, rtol=1e-4, atol=1e-2)
    torch.testing.assert_close(b.feas_prob, a.feas_prob, rtol=1e-4, atol=1e-5)


def test_learns_a_smooth_function() -> None:
    X, Y, C = toy_data(96, seed=4)
    model = fit_tiny(X, Y, C, max_epochs=200, patience=30)
    Xt = sample_points(300, seed=8)
    Yt, Ct = toy_outcomes(Xt)
    pred = predict(model, Xt)
    nrmse = ((pred.obj_mean - Yt) ** 2).mean(0).sqrt() / Yt.std(0)
    assert (nrmse < 0.35).all(), nrmse
    accuracy = ((pred.feas_prob >= 0.5) == (Ct >= 0)).double().mean(0)
    assert (accuracy > 0.85).all(), accuracy


def test_float32_inputs_and_dtype_preserved() -> None:
    X, Y, C = toy_data(16)
    model = fit_model(
        JointSurrogate(X.float(), Y.float(), C.float(), **tiny(bounds=BOUNDS.float(), max_epochs=3))
    )
    assert model.posterior(sample_points(3).float()).mean.dtype == torch.float32
    assert model.posterior(sample_points(3)).mean.dtype == torch.double


def test_fit_options() -> None:
    X, Y, C = toy_data(16)
    model = JointSurrogate(X, Y, C, **tiny(max_epochs=50))
    fit_model(model, max_epochs=2, patience=1000)
    assert model.epochs_trained == 2
    with pytest.raises(TypeError, match="unknown training option"):
        model.fit(epochs=3)


def test_input_validation() -> None:
    X, Y, C = toy_data(8)
    with pytest.raises(ValueError, match="bounds"):
        JointSurrogate(X, Y, C, bounds=BOUNDS[:, :2])
    with pytest.raises(ValueError, match="train_Y"):
        JointSurrogate(X, Y[:5], C)
    with pytest.raises(ValueError, match="backbone"):
        JointSurrogate(X, Y, C, backbone="mlp")


def test_constraint_columns_for_ax() -> None:
    """Constraint metrics passed as columns of train_Y: classified, reported in place."""
    X, Y, C = toy_data(24)
    stacked = torch.cat([C[:, :1], Y, C[:, 1:]], dim=-1)  # c1, f1, f2, c2
    model = fit_model(
        JointSurrogate(
            X,
            stacked,
            constraint_columns=[0, 3],
            constraint_thresholds=[0.0, 0.2],
            **tiny(bounds=BOUNDS, max_epochs=20),
        )
    )
    assert model.num_objectives == 2 and model.num_constraints == 2
    Xt = sample_points(5)
    out = model.posterior(Xt).mean
    assert out.shape == (5, 4)
    obj, prob = model.member_outputs(Xt)
    torch.testing.assert_close(out[:, 1:3], obj.mean(-3))
    torch.testing.assert_close(out[:, 0], prob.mean(-3)[:, 0] - 0.5)
    torch.testing.assert_close(out[:, 3], prob.mean(-3)[:, 1] - 0.3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda() -> None:
    X, Y, C = (t.cuda() for t in toy_data(16))
    model = fit_model(JointSurrogate(X, Y, C, **tiny(bounds=BOUNDS.cuda(), max_epochs=5)))
    out = model.posterior(sample_points(4).cuda()).mean
    assert out.is_cuda and torch.isfinite(out).all()


def test_prediction_in_row_chunks(monkeypatch) -> None:
    import botorch_joint.models.joint as joint

    X, Y, C = toy_data(16)
    model = fit_tiny(X, Y, C, backbone="ftt", max_epochs=3)
    Xt = sample_points(3, 7)
    whole = model.posterior(Xt).mean
    monkeypatch.setattr(joint, "PREDICT_CHUNK", 4)
    torch.testing.assert_close(model.posterior(Xt).mean, whole, rtol=1e-5, atol=1e-6)


def test_qlognehvi_with_probability_threshold_constraints() -> None:
    """The other BoTorch convention: callables feasible iff <= 0, i.e. 0.5 - P."""
    from botorch.acquisition.multi_objective.logei import (
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
    from botorch.optim import optimize_acqf

    X, Y, C = toy_data(24)
    model = fit_tiny(X, Y, C, max_epochs=30)
    acqf = qLogNoisyExpectedHypervolumeImprovement(
        model=model,
        ref_point=-(Y.max(0).values + 0.1),
        X_baseline=X,
        objective=GenericMCMultiOutputObjective(lambda Z, X=None: -Z[..., :M]),
        constraints=[lambda Z, j=j: 0.5 - Z[..., M + j] for j in range(2)],
        eta=0.05,
    )
    Xq = sample_points(4, 1).requires_grad_(True)
    value = acqf(Xq)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(Xq.grad).all()
    candidate, _ = optimize_acqf(
        acqf, bounds=BOUNDS, q=1, num_restarts=2, raw_samples=16, options={"maxiter": 10}
    )
    assert candidate.shape == (1, 3)


# ------------------------------------------------------------------ constraint values
def _far_violation_data(n: int = 40):
    """Every evaluation violates c1 = u0 - 0.9 (graded), feasible only for u0 >= 0.9."""
    X, Y, C = toy_data(n)
    u0 = (X[:, 0] - BOUNDS[0, 0]) / (BOUNDS[1, 0] - BOUNDS[0, 0])
    keep = u0 < 0.8
    X, Y, C = X[keep], Y[keep], C[keep]
    u0 = u0[keep]
    C = torch.stack([u0 - 0.9, C[:, 1]], -1)
    return X, Y, C


def test_value_head_leads_towards_feasibility_before_any_success() -> None:
    """With one class of labels only, the value head still grades the violation."""
    X, Y, C = _far_violation_data()
    assert (C[:, 0] < 0).all()
    model = fit_tiny(X, Y, C, max_epochs=150)
    assert bool(model.feasibility_mask[0])  # informative from its values alone
    labels_only = fit_tiny(X, Y, C, max_epochs=150, constraint_values=False)
    assert not bool(labels_only.feasibility_mask[0])
    # log P(c1 holds) rises along u0 towards the feasible side, with a useful gradient
    Xt = sample_points(64, seed=3)
    Xt.requires_grad_(True)
    log_p = predict(model, Xt).feas_log_prob[:, 0]
    (grad,) = torch.autograd.grad(log_p.sum(), Xt)
    assert (grad[:, 0] > 0).float().mean() > 0.9
    lo = Xt.detach().clone()
    hi = Xt.detach().clone()
    lo[:, 0], hi[:, 0] = 0.1, 0.75
    assert (predict(model, hi).feas_log_prob[:, 0] > predict(model, lo).feas_log_prob[:, 0]).all()


def test_log_probability_stays_finite_far_from_feasibility() -> None:
    X, Y, C = _far_violation_data()
    C[:, 0] = C[:, 0] * 1e6  # huge graded values: the asinh scale keeps them tame
    model = fit_tiny(X, Y, C, max_epochs=150)
    pred = predict(model, sample_points(32, seed=4))
    assert torch.isfinite(pred.feas_log_prob).all()
    assert torch.isfinite(model.value_scale).all() and model.value_scale[0] > 1e4


@pytest.mark.parametrize("kind", ["pass_fail", "saturated"])
def test_pass_fail_and_saturated_values_still_classify(kind: str) -> None:
    X, Y, C = toy_data(48)
    if kind == "pass_fail":
        C = torch.where(C >= 0, 1.0, -1.0).to(C)
    else:  # a value that is a fixed penalty wherever it is violated
        C = torch.where(C >= 0, C, torch.full_like(C, -1e3))
    model = fit_tiny(X, Y, C, max_epochs=150)
    Xt = sample_points(200, seed=7)
    _, Ct = toy_outcomes(Xt)
    p = predict(model, Xt).feas_prob.detach()
    accuracy = ((p >= 0.5) == (Ct >= 0)).float().mean()
    assert accuracy > 0.85


def test_holdout_folds_predict_unseen_rows() -> None:
    X, Y, C = toy_data(40)
    model = fit_tiny(X, Y, C, max_epochs=100, holdout_folds=True)
    rows, obj, log_p = model.holdout_predictions()
    assert rows.shape == (39,) and len(set(rows.tolist())) == 39  # 3 folds of 13
    assert obj.shape == (39, M) and log_p.shape == (39, 2)
    assert torch.isfinite(obj).all() and (log_p <= 0).all()
    # held out: worse than the same members at rows they trained on, but informative
    err = ((obj - Y[rows]) ** 2).mean()
    assert err < Y.var(dim=0).mean()
    assert fit_tiny(X, Y, C, max_epochs=5).holdout_predictions() is None
