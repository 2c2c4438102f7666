"""Properties every surrogate shares, as a reusable test-case mixin (GPyTorch style).

A test class inherits :class:`SurrogateCases`, sets ``feasibility_outputs`` and
implements :meth:`SurrogateCases.make_model`; it then runs every shared test on a
model fitted once per class.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from botorch_joint.models import Prediction, fit_model, predict

D, M, K = 3, 2, 2
LOWER = torch.tensor([0.0, -5.0, 10.0], dtype=torch.double)
UPPER = torch.tensor([1.0, 5.0, 30.0], dtype=torch.double)
BOUNDS = torch.stack([LOWER, UPPER])


def to_unit(X: Tensor) -> Tensor:
    return (X - LOWER) / (UPPER - LOWER)


def toy_outcomes(X: Tensor) -> tuple[Tensor, Tensor]:
    """Smooth ``(n, 2)`` objectives and ``(n, 2)`` constraints on the box ``BOUNDS``."""
    U = to_unit(X)
    f1 = (U**2).sum(-1)
    f2 = ((U - 1.0) ** 2).sum(-1) + 0.2 * torch.sin(3.0 * U[:, 0])
    c1 = 0.6 - U[:, 0]  # satisfied for u0 <= 0.6
    c2 = U[:, 1] + U[:, 2] - 0.5  # satisfied above the diagonal
    return torch.stack([f1, f2], -1), torch.stack([c1, c2], -1)


def toy_data(n: int = 32, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = LOWER + (UPPER - LOWER) * torch.rand(n, D, generator=g, dtype=torch.double)
    Y, C = toy_outcomes(X)
    return X, Y, C


def sample_points(*batch: int, seed: int = 1) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    return LOWER + (UPPER - LOWER) * torch.rand(*batch, D, generator=g, dtype=torch.double)


class SurrogateCases:
    """Shared tests. Subclasses set ``feasibility_outputs`` and ``make_model``."""

    #: ``"probability"`` if the last k outputs are P(feasible), ``"value"`` if they are
    #: predicted constraint values (feasible iff >= 0).
    feasibility_outputs: str = "probability"
    #: keyword arguments for ``fit_model`` (e.g. to cap GP optimiser iterations).
    fit_kwargs: dict = {}

    def make_model(self, X: Tensor, Y: Tensor, C: Tensor | None, **kwargs):  # pragma: no cover
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def fitted(self):
        X, Y, C = toy_data()
        return fit_model(self.make_model(X, Y, C, bounds=BOUNDS), **self.fit_kwargs)

    # ---------------------------------------------------------------- attributes
    def test_attributes(self, fitted) -> None:
        assert fitted.num_objectives == M
        assert fitted.num_constraints == K
        assert fitted.num_outputs == M + K
        assert fitted.bounds.shape == (2, D)
        torch.testing.assert_close(fitted.bounds, BOUNDS)

    # ------------------------------------------------------------ posterior shapes
    @pytest.mark.parametrize("batch", [(5,), (4, 3), (2, 3, 1)])
    def test_posterior_shapes(self, fitted, batch: tuple[int, ...]) -> None:
        X = sample_points(*batch)
        post = fitted.posterior(X)
        assert post.mean.shape == (*batch, M + K)
        assert post.variance.shape == (*batch, M + K)
        samples = post.rsample(torch.Size([7]))
        assert samples.shape == (7, *batch, M + K)
        assert torch.isfinite(samples).all()
        if self.feasibility_outputs == "probability":
            p = post.mean[..., M:]
            assert ((p >= 0) & (p <= 1)).all()

    def test_gradients_flow_to_inputs(self, fitted) -> None:
        X = sample_points(5).requires_grad_(True)
        fitted.posterior(X).mean.sum().backward()
        assert X.grad is not None
        assert torch.isfinite(X.grad).all()
        assert X.grad.abs().sum() > 0
        # Batched samples, as Monte-Carlo acquisition functions draw them.
        Xb = sample_points(4, 2).requires_grad_(True)
        fitted.posterior(Xb).rsample(torch.Size([3])).sum().backward()
        assert torch.isfinite(Xb.grad).all()
        assert Xb.grad.abs().sum() > 0

    # -------------------------------------------------------------- prediction
    @pytest.mark.parametrize("batch", [(6,), (3, 2)])
    def test_predict_protocol(self, fitted, batch: tuple[int, ...]) -> None:
        X = sample_points(*batch).requires_grad_(True)
        pred = predict(fitted, X)
        assert isinstance(pred, Prediction)
        assert pred.obj_mean.shape == (*batch, M)
        assert pred.obj_std is not None and pred.obj_std.shape == (*batch, M)
        assert (pred.obj_std > 0).all()
        assert pred.feas_prob is not None and pred.feas_prob.shape == (*batch, K)
        assert ((pred.feas_prob >= 0) & (pred.feas_prob <= 1)).all()
        (pred.obj_mean.sum() + pred.feas_prob.sum() + pred.obj_std.sum()).backward()
        assert torch.isfinite(X.grad).all() and X.grad.abs().sum() > 0
        # The protocol's mean is the posterior mean of the objective outputs.
        with torch.no_grad():
            mean = fitted.posterior(X.detach()).mean[..., :M]
        torch.testing.assert_close(pred.obj_mean.detach(), mean)

    def test_predictions_are_informative(self, fitted) -> None:
        """Better than the training mean on held-out points; feasibility mostly right."""
        X = sample_points(200, seed=3)
        Y, C = toy_outcomes(X)
        with torch.no_grad():
            pred = predict(fitted, X)
        nrmse = ((pred.obj_mean - Y) ** 2).mean(0).sqrt() / Y.std(0)
        assert (nrmse < 0.8).all(), nrmse
        acc = ((pred.feas_prob >= 0.5) == (C >= 0)).double().mean(0)
        assert (acc > 0.7).all(), acc

    # ---------------------------------------------------------------- variants
    def test_objective_only(self) -> None:
        X, Y, _ = toy_data(16)
        model = fit_model(self.make_model(X, Y, None, bounds=BOUNDS), **self.fit_kwargs)
        assert model.num_constraints == 0
        assert model.num_outputs == M
        pred = predict(model, sample_points(5))
        assert pred.feas_prob is None
        assert model.posterior(sample_points(5)).mean.shape == (5, M)

    def test_default_bounds_are_data_range(self) -> None:
        X, Y, C = toy_data(16)
        model = self.make_model(X, Y, C)
        torch.testing.assert_close(model.bounds[0], X.min(0).values)
        torch.testing.assert_close(model.bounds[1], X.max(0).values)

    def test_failed_rows(self) -> None:
        """NaN objective rows (and NaN / -inf constraints) fit and predict finitely."""
        X, Y, C = toy_data(24)
        Y[[2, 7, 11]] = math.nan
        C[[2, 7, 11]] = math.nan
        C[5, 0] = -math.inf
        model = fit_model(self.make_model(X, Y, C, bounds=BOUNDS), **self.fit_kwargs)
        pred = predict(model, sample_points(10))
        assert torch.isfinite(pred.obj_mean).all()
        assert torch.isfinite(pred.feas_prob).all()
        assert torch.isfinite(model.posterior(sample_points(10)).mean).all()

    # ----------------------------------------------------------------- BoTorch
    def test_qlognehvi_optimize_acqf(self, fitted) -> None:
        """Drop-in use in qLogNEHVI + optimize_acqf with the constraint outputs."""
        from botorch.acquisition.multi_objective.logei import (
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.acquisition.multi_objective.objective import (
            GenericMCMultiOutputObjective,
        )
        from botorch.optim import optimize_acqf

        X, Y, _ = toy_data()
        # BoTorch maximises: negate the (minimised) objectives.
        objective = GenericMCMultiOutputObjective(lambda Z, X=None: -Z[..., :M])
        ref_point = -(Y.max(0).values + 0.1)
        if self.feasibility_outputs == "probability":
            # The outputs are P(feasible): use them directly as feasibility weights.
            constraints = [lambda Z, j=j: Z[..., M + j] for j in range(K)]
            extra = {"fat": [None] * K}
        else:
            constraints = [lambda Z, j=j: -Z[..., M + j] for j in range(K)]
            extra = {}
        acqf = qLogNoisyExpectedHypervolumeImprovement(
            model=fitted,
            ref_point=ref_point,
            X_baseline=X,
            objective=objective,
            constraints=constraints,
            prune_baseline=True,
            **extra,
        )
        candidates, value = optimize_acqf(
            acqf, bounds=BOUNDS, q=2, num_restarts=2, raw_samples=16, options={"maxiter": 10}
        )
        assert candidates.shape == (2, D)
        assert ((candidates >= LOWER - 1e-9) & (candidates <= UPPER + 1e-9)).all()
        assert torch.isfinite(value).all()
