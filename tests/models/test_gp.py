"""GPR and MEGP: the shared model properties plus GP-specific behaviour."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from botorch.utils.multi_objective.pareto import is_non_dominated
from model_cases import BOUNDS, K, M, SurrogateCases, sample_points, toy_data, toy_outcomes

from botorch_joint.models import GPR, MEGP, fit_model, predict
from botorch_joint.models.gp import impute_constraints


class TestGPR(SurrogateCases):
    feasibility_outputs = "value"

    def make_model(self, X, Y, C, **kwargs):
        return GPR(X, Y, C, **kwargs)


# MEGP's likelihood is flat along the task covariance, so L-BFGS runs to its cap; a
# lower cap keeps the tests quick without changing what they check.
FAST_MEGP = {"optimizer_kwargs": {"options": {"maxiter": 60}}}


class TestMEGP(SurrogateCases):
    feasibility_outputs = "value"
    fit_kwargs = FAST_MEGP

    def make_model(self, X, Y, C, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # failed rows left out
            return MEGP(X, Y, C, **kwargs)


@pytest.mark.parametrize("cls", [GPR, MEGP])
def test_accurate_on_a_smooth_function(cls) -> None:
    X, Y, C = toy_data(40, seed=2)
    model = fit_model(cls(X, Y, C, bounds=BOUNDS), **(FAST_MEGP if cls is MEGP else {}))
    Xt = sample_points(200, seed=9)
    Yt, Ct = toy_outcomes(Xt)
    with torch.no_grad():
        pred = predict(model, Xt)
        mean = model.posterior(Xt).mean
    nrmse = ((pred.obj_mean - Yt) ** 2).mean(0).sqrt() / Yt.std(0)
    assert (nrmse < 0.1).all(), nrmse
    # Constraint outputs are values: compare with the truth directly.
    c_nrmse = ((mean[:, M:] - Ct) ** 2).mean(0).sqrt() / Ct.std(0)
    assert (c_nrmse < 0.1).all(), c_nrmse
    accuracy = ((pred.feas_prob >= 0.5) == (Ct >= 0)).double().mean(0)
    assert (accuracy > 0.9).all(), accuracy


@pytest.mark.parametrize("cls", [GPR, MEGP])
def test_feasibility_probability_is_gaussian_tail(cls) -> None:
    X, Y, C = toy_data(20)
    model = fit_model(cls(X, Y, C, bounds=BOUNDS), **(FAST_MEGP if cls is MEGP else {}))
    Xt = sample_points(7)
    with torch.no_grad():
        post = model.posterior(Xt)
        pred = predict(model, Xt)
    mu, sd = post.mean[:, M:], post.variance[:, M:].sqrt()
    expected = torch.distributions.Normal(0.0, 1.0).cdf(mu / sd)
    torch.testing.assert_close(pred.feas_prob, expected)
    torch.testing.assert_close(pred.obj_std, post.variance[:, :M].sqrt())


def test_predict_in_chunks_matches_one_call(monkeypatch) -> None:
    import botorch_joint.models.prediction as prediction

    X, Y, C = toy_data(20)
    model = fit_model(GPR(X, Y, C, bounds=BOUNDS))
    Xt = sample_points(2, 5)
    whole = predict(model, Xt)
    monkeypatch.setattr(prediction, "GP_CHUNK", 3)
    chunked = predict(model, Xt)
    torch.testing.assert_close(chunked.obj_mean, whole.obj_mean)
    torch.testing.assert_close(chunked.obj_std, whole.obj_std)
    torch.testing.assert_close(chunked.feas_prob, whole.feas_prob)


def test_impute_constraints() -> None:
    C = torch.tensor(
        [[0.5, 1.0], [-1.0, math.nan], [2.0, -math.inf], [math.nan, math.inf], [1.0, 3.0]],
        dtype=torch.double,
    )
    failed = torch.tensor([False, False, False, True, False])
    out = impute_constraints(C, failed)
    assert torch.isfinite(out).all()
    # Observed values stay; unknown / violated ones go below the observed minimum.
    torch.testing.assert_close(out[[0, 1, 2, 4], 0], C[[0, 1, 2, 4], 0])
    assert out[3, 0] < -1.0  # failed row
    assert out[1, 1] < 0 and out[2, 1] < 0 and out[3, 1] < 0
    assert out[1, 1] < 1.0 - 0.1 * 2.0 + 1e-12


def test_gpr_failed_rows_impute_violated_constraints() -> None:
    """A region where evaluations fail is learnt as infeasible by the constraint GPs."""
    X, Y, C = toy_data(40)
    C = C.abs() + 0.5  # every successful evaluation is feasible
    u0 = (X[:, 0] - BOUNDS[0, 0]) / (BOUNDS[1, 0] - BOUNDS[0, 0])
    failed = u0 > 0.7
    Y[failed] = math.nan
    C[failed] = math.nan
    model = fit_model(GPR(X, Y, C, bounds=BOUNDS))
    # The objective GPs saw only the successful rows.
    assert model.models[0].train_inputs[0].shape[0] == int((~failed).sum())
    assert model.models[M].train_inputs[0].shape[0] == X.shape[0]
    Xt = sample_points(200, seed=4)
    ut = (Xt[:, 0] - BOUNDS[0, 0]) / (BOUNDS[1, 0] - BOUNDS[0, 0])
    p = predict(model, Xt).feas_prob.detach()
    assert p[ut > 0.85].mean() < 0.2
    assert p[ut < 0.5].mean() > 0.8


def test_megp_leaves_out_failed_rows() -> None:
    X, Y, C = toy_data(20)
    Y[3] = math.nan
    with pytest.warns(RuntimeWarning, match="failed row"):
        model = MEGP(X, Y, C, bounds=BOUNDS)
    assert model.train_inputs[0].shape[-2] == 19


def test_megp_rank_and_single_output() -> None:
    X, Y, C = toy_data(16)
    model = fit_model(MEGP(X, Y[:, :1], None, bounds=BOUNDS, rank=5), **FAST_MEGP)
    assert model.num_outputs == 1
    assert predict(model, sample_points(3)).obj_mean.shape == (3, 1)
    model = MEGP(X, Y, C, bounds=BOUNDS, rank=1)
    assert model.covar_module.task_covar_module.covar_factor.shape == (M + K, 1)


def test_gpr_subset_output_and_fantasize() -> None:
    from botorch.models import ModelListGP, SingleTaskGP

    X, Y, C = toy_data(12)
    model = fit_model(GPR(X, Y, C, bounds=BOUNDS))
    sub = model.subset_output([0, 2])
    assert isinstance(sub, ModelListGP) and sub.num_outputs == 2
    assert isinstance(model.subset_output([1]), SingleTaskGP)
    from botorch.sampling import SobolQMCNormalSampler

    fantasy = model.fantasize(sample_points(2), SobolQMCNormalSampler(torch.Size([2])))
    assert fantasy.num_outputs == M + K


def test_fit_model_rejects_unknown_models() -> None:
    with pytest.raises(TypeError, match="fit_model does not know"):
        fit_model(torch.nn.Linear(2, 2))


def test_gpr_max_rows_keeps_the_feasible_front_and_a_seeded_draw() -> None:
    X, Y, C = toy_data(60)
    Y[5] = math.nan  # a failed row may be drawn: the constraint GPs learn it as violated
    C[5] = math.nan
    full = GPR(X, Y, C, bounds=BOUNDS)
    same = GPR(X, Y, C, bounds=BOUNDS, max_rows=60, seed=3)
    for a, b in zip(full.models, same.models):  # at or under the cap: every row
        torch.testing.assert_close(a.train_inputs[0], b.train_inputs[0])

    capped = GPR(X, Y, C, bounds=BOUNDS, max_rows=25, seed=3)
    k = C.shape[-1]
    for j in range(M, M + k):
        assert capped.models[j].train_inputs[0].shape[0] == 25
    feasible = torch.isfinite(Y).all(-1) & (C >= 0).all(-1)
    idx = feasible.nonzero().reshape(-1)
    front = idx[is_non_dominated(-Y[idx], deduplicate=False)]
    kept = capped._rows[M]
    assert kept[front].all()
    # the draw is the seed's: the same seed, the same rows; another seed, others
    assert torch.equal(GPR(X, Y, C, bounds=BOUNDS, max_rows=25, seed=3)._rows[M], kept)
    assert not torch.equal(GPR(X, Y, C, bounds=BOUNDS, max_rows=25, seed=4)._rows[M], kept)
    # rows the GP does not condition on have no held-out prediction
    folds = torch.arange(60).reshape(3, 20)
    mean, var = fit_model(
        capped, optimizer_kwargs={"options": {"maxiter": 20}}
    ).holdout_predictions(folds)
    assert torch.isnan(mean[~kept, M:]).all() and torch.isfinite(mean[kept, M:]).all()
    with pytest.raises(ValueError, match="max_rows"):
        GPR(X, Y, C, bounds=BOUNDS, max_rows=0)
