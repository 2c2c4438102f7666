"""The unified loss and its BoTorch acquisition function."""

from __future__ import annotations

import pytest
import torch
from acq_models import DiscModel

from botorch_joint.acquisition import (
    Outcomes,
    UnifiedLossAcquisition,
    scalarize,
    unified_loss,
)


def test_scalarize_hand_values():
    z = torch.tensor([[0.2, 0.8], [0.5, 0.5]])
    w = torch.tensor([0.5, 0.5])
    cheb = scalarize(z, w, "chebyshev", rho=0.0)
    torch.testing.assert_close(cheb, torch.tensor([0.4, 0.25]))
    ws = scalarize(z, w, "weighted_sum")
    torch.testing.assert_close(ws, torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError):
        scalarize(z, w, "nope")


def test_unified_loss_terms():
    out = Outcomes(
        obj=torch.tensor([[1.0, 3.0]]),
        obj_std=torch.tensor([[1.0, 1.0]]),
        log_pfeas=torch.log(torch.tensor([[0.5, 0.25]])),
    )
    ideal, scale = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0])
    w = torch.tensor([0.5, 0.5])
    loss = unified_loss(out, w, ideal, scale, feasibility_weight=1.0, rho=0.0)
    expected = 0.5 * 1.5 - torch.log(torch.tensor(0.125))
    torch.testing.assert_close(loss, expected.reshape(1))
    # the uncertainty bonus lowers the loss; feasibility weight 0 drops that term
    bonus = unified_loss(out, w, ideal, scale, uncertainty_weight=1.0, rho=0.0)
    assert bonus < loss
    no_feas = unified_loss(out, w, ideal, scale, feasibility_weight=0.0, rho=0.0)
    torch.testing.assert_close(no_feas, torch.tensor([0.75]))


def _acqf(model: DiscModel, **kw) -> UnifiedLossAcquisition:
    return UnifiedLossAcquisition(model, ideal=torch.zeros(2), scale=torch.ones(2), **kw)


def test_acquisition_is_batch_aware_and_prefers_feasible(disc_model):
    acqf = _acqf(disc_model)
    lo, hi = disc_model.bounds
    inside = lo + torch.tensor([0.8, 0.8, 0.5], dtype=torch.float64) * (hi - lo)
    outside = lo + torch.tensor([0.1, 0.1, 0.5], dtype=torch.float64) * (hi - lo)
    vals = acqf(torch.stack([inside, outside]).unsqueeze(1))  # b=2, q=1
    assert vals.shape == (2,) and vals[0] > vals[1]
    q = acqf(torch.stack([inside, outside]).unsqueeze(0))  # b=1, q=2: mean over q
    torch.testing.assert_close(q, vals.mean().reshape(1))
    # per-point weights must match q
    acq_w = _acqf(disc_model, weights=torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert acq_w(torch.stack([inside, outside]).unsqueeze(0)).shape == (1,)
    with pytest.raises(ValueError):
        acq_w(torch.stack([inside, inside, outside]).unsqueeze(0))


def test_optimize_acqf_finds_feasible_point(disc_model):
    from botorch.optim import optimize_acqf

    acqf = _acqf(disc_model)
    X, val = optimize_acqf(
        acqf,
        bounds=disc_model.bounds,
        q=1,
        num_restarts=4,
        raw_samples=64,
        options={"maxiter": 50},
    )
    assert disc_model.p_feasible(X).item() > 0.5


def test_input_constructor_registered(disc_model):
    from botorch.acquisition.input_constructors import get_acqf_input_constructor
    from botorch.utils.datasets import SupervisedDataset

    X = torch.rand(10, 3, dtype=torch.float64)
    Y = torch.stack([torch.linspace(1, 3, 10), torch.linspace(5, 0, 10)], -1).double()
    ds = SupervisedDataset(X, Y, feature_names=["a", "b", "c"], outcome_names=["f1", "f2"])
    ctor = get_acqf_input_constructor(UnifiedLossAcquisition)
    kw = ctor(model=disc_model, training_data=ds, bounds=disc_model.bounds, X_baseline=X)
    torch.testing.assert_close(kw["ideal"], torch.tensor([1.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(kw["scale"], torch.tensor([2.0, 5.0], dtype=torch.float64))
    acqf = UnifiedLossAcquisition(**kw)
    assert acqf(X.unsqueeze(1)).shape == (10,)


def test_generic_mode_with_objective_and_constraints():
    """Ax-style use: posterior mean, a maximisation objective and constraint callables."""
    from botorch.acquisition.multi_objective.objective import (
        WeightedMCMultiOutputObjective,
    )
    from botorch.models import SingleTaskGP

    X = torch.rand(12, 2, dtype=torch.float64)
    Y = torch.stack([X[:, 0], 1 - X[:, 0], X[:, 1] - 0.5], dim=-1)
    gp = SingleTaskGP(X, Y)
    obj = WeightedMCMultiOutputObjective(
        weights=torch.tensor([-1.0, -1.0], dtype=torch.float64), outcomes=[0, 1]
    )
    acqf = UnifiedLossAcquisition(
        gp,
        ideal=torch.zeros(2),
        scale=torch.ones(2),
        objective=obj,
        constraints=[lambda Z: -Z[..., 2]],  # feasible iff Z_2 >= 0
    )
    good = torch.tensor([[[0.5, 0.9]]], dtype=torch.float64)
    bad = torch.tensor([[[0.5, 0.1]]], dtype=torch.float64)
    assert acqf(good) > acqf(bad)


def test_with_joint_surrogate_and_optimize_acqf():
    """The acquisition runs on the package's own network inside optimize_acqf."""
    from botorch.optim import optimize_acqf

    from botorch_joint.models import JointSurrogate, fit_model

    g = torch.Generator().manual_seed(0)
    X = torch.rand(30, 2, generator=g, dtype=torch.float64)
    Y = torch.stack([X[:, 0], 1 - X[:, 0] + X[:, 1]], dim=-1)
    C = (0.5 - X[:, 1:]).clone()
    model = JointSurrogate(
        X,
        Y,
        C,
        backbone="resnet",
        bounds=torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64),
        ensemble_size=2,
        max_epochs=5,
        network_options={"width": 8, "n_blocks": 1},
    )
    fit_model(model)
    acqf = UnifiedLossAcquisition(
        model, ideal=Y.min(0).values, scale=Y.max(0).values - Y.min(0).values
    )
    x, val = optimize_acqf(
        acqf, bounds=model.bounds, q=2, num_restarts=2, raw_samples=16, options={"maxiter": 10}
    )
    assert x.shape == (2, 2) and torch.isfinite(val)
    assert torch.all(x >= 0) and torch.all(x <= 1)
