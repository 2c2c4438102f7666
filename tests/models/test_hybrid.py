"""Mixtures of a network and a GP, cross-validated GP predictions, stacking weights."""

from __future__ import annotations

import copy
import math
from types import SimpleNamespace

import pytest
import torch
from botorch.models import SingleTaskGP
from model_cases import BOUNDS, M, sample_points, toy_data

from botorch_joint.models import GPR, fit_model
from botorch_joint.models.hybrid import MixtureSurrogate, stacking_weights
from botorch_joint.models.prediction import Prediction

GP_FIT = {"optimizer_kwargs": {"options": {"maxiter": 30}}}


@pytest.fixture(scope="module")
def gp_and_data():
    X, Y, C = toy_data(30)
    Y[4] = math.nan  # a failed evaluation: objective GPs leave the row out
    C[4] = math.nan
    return fit_model(GPR(X, Y, C, bounds=BOUNDS), **GP_FIT), (X, Y, C)


def test_gp_holdout_matches_conditioning_on_the_other_rows(gp_and_data) -> None:
    gp, (X, _, _) = gp_and_data
    folds = torch.randperm(30, generator=torch.Generator().manual_seed(0)).reshape(3, 10)
    mean, var = gp.holdout_predictions(folds)
    assert mean.shape == var.shape == (30, gp.num_outputs)
    flat = folds.reshape(-1)
    assert torch.isnan(mean[flat == 4, :M]).all() and torch.isfinite(mean[flat != 4]).all()
    for j, sub in enumerate(gp.models):
        if j < M:
            continue  # constraint GPs hold every row, so positions are plain indices
        for i, block in enumerate(folds):
            keep = torch.ones(30, dtype=torch.bool)
            keep[block] = False
            other = SingleTaskGP(
                X[keep],
                sub.train_targets[keep].unsqueeze(-1),
                input_transform=copy.deepcopy(sub.input_transform),
                outcome_transform=None,  # the targets are already standardised
            )
            state = {k: v for k, v in sub.state_dict().items() if "outcome_transform" not in k}
            other.load_state_dict(state, strict=False)
            other.eval()
            post = other.posterior(X[block], observation_noise=True)
            s, mu = sub.outcome_transform.stdvs.squeeze(), sub.outcome_transform.means.squeeze()
            rows = slice(10 * i, 10 * (i + 1))
            torch.testing.assert_close(
                post.mean.squeeze(-1).detach() * s + mu, mean[rows, j], atol=1e-6, rtol=1e-5
            )
            torch.testing.assert_close(
                post.variance.squeeze(-1).detach() * s**2, var[rows, j], atol=1e-6, rtol=1e-5
            )


def _fake_network(rows, obj, log_p, Y, C):
    return SimpleNamespace(
        holdout_predictions=lambda: (rows, obj, log_p),
        ensemble_size=3,
        num_objectives=Y.shape[-1],
        num_constraints=C.shape[-1],
        train_Y=Y,
        train_C=C,
        thresholds=torch.zeros(C.shape[-1], dtype=C.dtype),
        y_std=Y.std(dim=0),
        train_labels=(C >= 0).to(C),
    )


def _fake_gp(mean, var):
    return SimpleNamespace(holdout_predictions=lambda folds: (mean, var))


@pytest.mark.parametrize("better", ["network", "gp"])
def test_stacking_prefers_the_component_that_predicts_held_out_rows(better: str) -> None:
    g = torch.Generator().manual_seed(0)
    n = 30
    Y = torch.randn(n, 2, generator=g, dtype=torch.double)
    C = torch.randn(n, 1, generator=g, dtype=torch.double)
    good_obj, bad_obj = Y + 0.01 * torch.randn_like(Y), torch.randn_like(Y)
    good_c, bad_c = 3 * C, -3 * C  # confidently right / confidently wrong values
    sure = torch.special.log_ndtr(good_c)
    wrong = torch.special.log_ndtr(bad_c)
    if better == "network":
        net = _fake_network(torch.arange(n), good_obj, sure, Y, C)
        gp = _fake_gp(torch.cat([bad_obj, bad_c], -1), torch.ones(n, 3, dtype=torch.double))
    else:
        net = _fake_network(torch.arange(n), bad_obj, wrong, Y, C)
        gp = _fake_gp(torch.cat([good_obj, good_c], -1), torch.ones(n, 3, dtype=torch.double))
    w = stacking_weights(net, gp)
    expected = 1.0 if better == "network" else 0.0
    assert w["weight"] == pytest.approx([expected, expected], abs=0.05)
    assert w["feasibility_weight"] == pytest.approx([expected], abs=0.05)
    assert w["rows"] == n
    # With one class of labels only, the model that ranks the violations right wins.
    violated = -C.abs() - 0.1
    net.train_C, net.train_labels = violated, torch.zeros_like(C)
    ranks_right = torch.special.log_ndtr(violated)
    ranks_wrong = torch.special.log_ndtr(-violated - 3)
    if better == "network":
        net.holdout_predictions = lambda: (torch.arange(n), good_obj, ranks_right)
        gp.holdout_predictions = lambda folds: (
            torch.cat([bad_obj, -violated - 3], -1),
            torch.ones(n, 3, dtype=torch.double),
        )
    else:
        net.holdout_predictions = lambda: (torch.arange(n), bad_obj, ranks_wrong)
        gp.holdout_predictions = lambda folds: (
            torch.cat([good_obj, violated], -1),
            torch.ones(n, 3, dtype=torch.double),
        )
    assert stacking_weights(net, gp)["feasibility_weight"] == [expected]


def test_stacking_without_folds_uses_the_gp() -> None:
    net = SimpleNamespace(holdout_predictions=lambda: None, num_objectives=2, num_constraints=1)
    w = stacking_weights(net, None)
    assert w == {"weight": [0.0, 0.0], "feasibility_weight": [0.0], "rows": 0}


class _Constant:
    """A stand-in surrogate with a fixed prediction everywhere."""

    def __init__(self, mean: float, std: float, p: float) -> None:
        self.num_objectives, self.num_constraints = 1, 1
        self.bounds = BOUNDS
        self.value = (mean, std, p)

    def predict_outcomes(self, X):
        mean, std, p = self.value
        shape = (*X.shape[:-1], 1)
        full = torch.full(shape, 1.0, dtype=X.dtype)
        return Prediction(mean * full, std * full, p * full, math.log(p) * full)


def test_mixture_moments_and_feasibility() -> None:
    a, b = _Constant(0.0, 1.0, 0.9), _Constant(2.0, 0.0, 0.1)
    X = sample_points(4)
    mix = MixtureSurrogate(a, b, 0.25, 0.5).predict_outcomes(X)
    # mean 0.25 * 0 + 0.75 * 2; variance 0.25 * 1 + 0.25 * 0.75 * 2^2
    torch.testing.assert_close(mix.obj_mean, torch.full((4, 1), 1.5, dtype=X.dtype))
    torch.testing.assert_close(mix.obj_std**2, torch.full((4, 1), 1.0, dtype=X.dtype))
    torch.testing.assert_close(mix.feas_prob, torch.full((4, 1), 0.5, dtype=X.dtype))
    only_b = MixtureSurrogate(a, b, 0.0).predict_outcomes(X)
    torch.testing.assert_close(only_b.obj_mean, torch.full((4, 1), 2.0, dtype=X.dtype))
    with pytest.raises(ValueError, match="weight must be in"):
        MixtureSurrogate(a, b, 1.5)
    with pytest.raises(ValueError, match="needs 1 or 1 values"):
        MixtureSurrogate(a, b, [0.5, 0.5], [0.5])


def test_stacking_needs_more_than_chance_to_trust_the_network() -> None:
    """A network that only adds noise to the GP's predictions rarely gets weight.

    Under this null each of the 15 weights passes the two-standard-error rule with
    probability about 2 %, so one in 15 is the most chance should give.
    """
    n, nonzero = 30, 0
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        Y = torch.randn(n, 2, generator=g, dtype=torch.double)
        C = torch.randn(n, 1, generator=g, dtype=torch.double)
        gp_pred = torch.cat([Y, C], -1) + torch.randn(n, 3, generator=g, dtype=torch.double)
        net_pred = gp_pred + 0.3 * torch.randn(n, 3, generator=g, dtype=torch.double)
        net = _fake_network(
            torch.arange(n), net_pred[:, :2], torch.special.log_ndtr(net_pred[:, 2:]), Y, C
        )
        w = stacking_weights(net, _fake_gp(gp_pred, torch.ones(n, 3, dtype=torch.double)))
        nonzero += sum(v > 0 for v in w["weight"] + w["feasibility_weight"])
    assert nonzero <= 1


def test_stacking_judges_a_capped_gp_on_the_rows_it_conditions_on() -> None:
    """Rows a ``max_rows`` GP left out carry no held-out GP prediction (NaN) and are
    skipped; on the rest the weights are those of the uncapped case."""
    g = torch.Generator().manual_seed(1)
    n = 30
    Y = torch.randn(n, 2, generator=g, dtype=torch.double)
    C = torch.randn(n, 1, generator=g, dtype=torch.double)
    net = _fake_network(
        torch.arange(n), Y + 0.01 * torch.randn_like(Y), torch.special.log_ndtr(3 * C), Y, C
    )
    mean = torch.cat([torch.randn_like(Y), -3 * C], -1)
    mean[::3] = math.nan  # a third of the rows were not in the GP's subset
    gp = _fake_gp(mean, torch.ones(n, 3, dtype=torch.double))
    w = stacking_weights(net, gp)
    assert w["weight"] == pytest.approx([1.0, 1.0], abs=0.05)
    assert w["feasibility_weight"] == pytest.approx([1.0], abs=0.05)
    assert all(math.isfinite(v) for v in w["weight"] + w["feasibility_weight"])
