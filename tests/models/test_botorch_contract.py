"""Which BoTorch acquisition functions work with ``JointSurrogate``, in both dtypes.

The contract the docs state, tested as BoTorch tests its own models
(``BotorchTestCase``, a loop over ``float32`` and ``float64``):

* work: qLogNEHVI, qNEHVI, qLogNParEGO (constrained, multi-objective), qLogNEI with
  constraints, qUCB, and a ``ScalarizedPosteriorTransform`` (applied to every member);
* raise ``UnsupportedError``: ``fantasize`` / ``condition_on_observations`` and so
  qKnowledgeGradient and qHypervolumeKnowledgeGradient.

"Work" means: the acquisition value has the batch shape and the model's dtype, is
finite, and its gradient with respect to ``X`` is finite and not all zero.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.knowledge_gradient import qKnowledgeGradient
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.acquisition.multi_objective.hypervolume_knowledge_gradient import (
    qHypervolumeKnowledgeGradient,
)
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.monte_carlo import qNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import (
    GenericMCObjective,
    PosteriorTransform,
    ScalarizedPosteriorTransform,
)
from botorch.exceptions.errors import UnsupportedError
from botorch.exceptions.warnings import NumericsWarning
from botorch.models.model import ModelList
from botorch.optim import optimize_acqf
from botorch.posteriors.ensemble import EnsemblePosterior
from botorch.sampling.normal import SobolQMCNormalSampler
from botorch.utils.testing import BotorchTestCase
from model_cases import BOUNDS, K, M, toy_data
from torch import Tensor

from botorch_joint.models import JointSurrogate, fit_model

DTYPES = (torch.float32, torch.float64)
#: reference point of the negated objectives (BoTorch maximises)
REF_POINT = [-3.0, -4.0]


def fitted_model(dtype: torch.dtype) -> JointSurrogate:
    X, Y, C = (t.to(dtype) for t in toy_data(24))
    model = JointSurrogate(
        X, Y, C, backbone="resnet", bounds=BOUNDS.to(dtype), ensemble_size=3,
        max_epochs=30, dtype=dtype, seed=0,
    )  # fmt: skip
    return fit_model(model)


def negated_objectives() -> GenericMCMultiOutputObjective:
    return GenericMCMultiOutputObjective(lambda Z, X=None: -Z[..., :M])


def feasibility_constraints() -> list[Callable[[Tensor], Tensor]]:
    """BoTorch's convention (feasible iff <= 0) on the P(feasible) outputs."""
    return [lambda Z, j=j: 0.5 - Z[..., M + j] for j in range(K)]


def working_acquisitions(model: JointSurrogate) -> dict[str, AcquisitionFunction]:
    X_baseline = model.train_X
    dtype = X_baseline.dtype
    scalarize = ScalarizedPosteriorTransform(torch.tensor([-1.0, -0.5, 0.0, 0.0], dtype=dtype))
    with warnings.catch_warnings():
        # qNEHVI is tested for compatibility, not recommended: BoTorch warns so.
        warnings.simplefilter("ignore", NumericsWarning)
        qnehvi = qNoisyExpectedHypervolumeImprovement(
            model, ref_point=REF_POINT, X_baseline=X_baseline,
            objective=negated_objectives(), constraints=feasibility_constraints(),
        )  # fmt: skip
    return {
        "qLogNEHVI": qLogNoisyExpectedHypervolumeImprovement(
            model, ref_point=REF_POINT, X_baseline=X_baseline,
            objective=negated_objectives(), constraints=feasibility_constraints(),
        ),
        "qNEHVI": qnehvi,
        "qLogNParEGO": qLogNParEGO(
            model, X_baseline=X_baseline, objective=negated_objectives(),
            constraints=feasibility_constraints(),
        ),
        "qLogNEI+constraints": qLogNoisyExpectedImprovement(
            model, X_baseline=X_baseline,
            objective=GenericMCObjective(lambda Z, X=None: -Z[..., 0]),
            constraints=feasibility_constraints(),
        ),
        "qUCB": qUpperConfidenceBound(
            model, beta=0.5, objective=GenericMCObjective(lambda Z, X=None: -Z[..., 1])
        ),
        "qUCB+ScalarizedPosteriorTransform": qUpperConfidenceBound(
            model, beta=0.5, posterior_transform=scalarize
        ),
        "qLogNEI+ScalarizedPosteriorTransform": qLogNoisyExpectedImprovement(
            model, X_baseline=X_baseline, posterior_transform=scalarize
        ),
    }  # fmt: skip


class _DistributionOnly(PosteriorTransform):
    """A transform that only knows how to map a posterior's distribution."""

    scalarize = True

    def evaluate(self, Y: Tensor, X: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def forward(self, posterior, X: Tensor | None = None):  # pragma: no cover
        raise AssertionError("never reached for an ensemble")


class TestJointSurrogateInBoTorchAcquisitions(BotorchTestCase):
    models: dict[torch.dtype, JointSurrogate]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.models = {dtype: fitted_model(dtype) for dtype in DTYPES}

    def candidates(self, dtype: torch.dtype, b: int = 3, q: int = 2) -> Tensor:
        g = torch.Generator().manual_seed(7)
        U = torch.rand(b, q, BOUNDS.shape[-1], generator=g, dtype=torch.float64)
        X = BOUNDS[0] + (BOUNDS[1] - BOUNDS[0]) * U
        return X.to(dtype).requires_grad_(True)

    def test_sampling_acquisitions_work(self) -> None:
        for dtype in DTYPES:
            for name, acqf in working_acquisitions(self.models[dtype]).items():
                with self.subTest(dtype=dtype, acquisition=name):
                    X = self.candidates(dtype)
                    value = acqf(X)
                    self.assertEqual(value.shape, torch.Size([3]))
                    self.assertEqual(value.dtype, dtype)
                    self.assertTrue(torch.isfinite(value).all())
                    value.sum().backward()
                    self.assertTrue(torch.isfinite(X.grad).all())
                    self.assertGreater(X.grad.abs().sum().item(), 0.0)

    def test_optimize_acqf_returns_candidates_in_the_box(self) -> None:
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                acqf = working_acquisitions(self.models[dtype])["qLogNEHVI"]
                bounds = BOUNDS.to(dtype)
                X, value = optimize_acqf(acqf, bounds=bounds, q=2, num_restarts=2, raw_samples=16)
                self.assertEqual(X.shape, torch.Size([2, BOUNDS.shape[-1]]))
                self.assertEqual(X.dtype, dtype)
                self.assertTrue(((X >= bounds[0]) & (X <= bounds[1])).all())
                self.assertTrue(torch.isfinite(value).all())

    def test_a_scalarized_posterior_is_the_members_scalarized(self) -> None:
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                model = self.models[dtype]
                X = self.candidates(dtype).detach()
                weights = torch.tensor([2.0, -1.0, 0.5, 0.25], dtype=dtype)
                transform = ScalarizedPosteriorTransform(weights, offset=1.5)
                plain = model.posterior(X)
                scalar = model.posterior(X, posterior_transform=transform)
                self.assertIsInstance(scalar, EnsemblePosterior)
                self.assertEqual(scalar.values.shape, plain.values.shape[:-1] + (1,))
                expected = 1.5 + plain.values @ weights
                self.assertAllClose(scalar.values.squeeze(-1), expected)
                self.assertAllClose(scalar.mean.squeeze(-1), 1.5 + plain.mean @ weights)
                # the member spread survives: the transform is not applied to the mean only
                self.assertTrue((scalar.variance > 0).all())

    def test_a_transform_without_evaluate_is_unsupported(self) -> None:
        model = self.models[torch.float64]
        with self.assertRaisesRegex(UnsupportedError, "_DistributionOnly transforms a posterior"):
            model.posterior(self.candidates(torch.float64), posterior_transform=_DistributionOnly())

    def test_fantasies_are_unsupported(self) -> None:
        for dtype in DTYPES:
            with self.subTest(dtype=dtype):
                model = self.models[dtype]
                X = self.candidates(dtype).detach()
                sampler = SobolQMCNormalSampler(torch.Size([2]))
                with self.assertRaisesRegex(UnsupportedError, "cannot be conditioned"):
                    model.fantasize(X, sampler)
                with self.assertRaisesRegex(UnsupportedError, "condition_on_observations"):
                    model.condition_on_observations(X, torch.zeros(3, 2, M + K, dtype=dtype))

    def test_knowledge_gradients_raise_unsupported_error(self) -> None:
        for dtype in DTYPES:
            with self.subTest(dtype=dtype, acquisition="qKnowledgeGradient"):
                model = self.models[dtype]
                first = GenericMCObjective(lambda Z, X=None: -Z[..., 0])
                kg = qKnowledgeGradient(model, num_fantasies=2, objective=first)
                X = self.candidates(dtype, q=1 + 2).detach()  # q = 1 plus the fantasies
                with self.assertRaisesRegex(UnsupportedError, "qKnowledgeGradient"):
                    kg(X)
            with self.subTest(dtype=dtype, acquisition="qHypervolumeKnowledgeGradient"):
                hvkg = qHypervolumeKnowledgeGradient(
                    ModelList(model), ref_point=torch.tensor(REF_POINT, dtype=dtype),
                    num_fantasies=2, num_pareto=2, objective=negated_objectives(),
                )  # fmt: skip
                X = self.candidates(dtype, q=1 + 2 * 2).detach()
                with self.assertRaisesRegex(UnsupportedError, "fantasize is not supported"):
                    hvkg(X)
