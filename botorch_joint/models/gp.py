"""Gaussian-process baselines with the same data conventions as the joint surrogate.

* :class:`GPR`: one exact GP per outcome (every objective and every constraint value),
  a BoTorch :class:`~botorch.models.ModelListGP` of
  :class:`~botorch.models.SingleTaskGP` models.
* :class:`MEGP`: one multi-output exact GP over all outcomes with a shared Matern-5/2
  kernel on the inputs and a low-rank-plus-diagonal task covariance, a BoTorch
  :class:`~botorch.models.KroneckerMultiTaskGP`.

Both posteriors have ``m`` objective outputs followed by ``k`` constraint-value outputs
(a constraint is satisfied iff its value is ``>= 0``), so ``P(feasible)`` follows from
the Gaussian posterior as ``Phi(mu / sigma)``.

Failed evaluations (non-finite objective rows) carry no objective information; for the
constraint outputs they, and constraint values that are NaN or ``-inf``, are imputed as
clearly violated values (below the smallest observed value) so that the GP learns that
those regions are infeasible. ``+inf`` (satisfied, magnitude unknown) is imputed above
the largest observed value.
"""

from __future__ import annotations

import warnings
from typing import Any, cast

import torch
from botorch.models import KroneckerMultiTaskGP, ModelListGP, SingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import Normalize
from botorch.models.transforms.outcome import Standardize
from botorch.models.utils.gpytorch_modules import (
    MIN_INFERRED_NOISE_LEVEL,
    get_covar_module_with_dim_scaled_prior,
)
from botorch.utils.multi_objective.pareto import is_non_dominated
from gpytorch.constraints import GreaterThan
from gpytorch.likelihoods import MultitaskGaussianLikelihood
from gpytorch.priors import LogNormalPrior
from torch import Tensor

__all__ = ["GPR", "MEGP", "impute_constraints"]


def impute_constraints(C: Tensor, failed: Tensor, margin: float = 0.1) -> Tensor:
    """Replace unknown constraint values by clearly violated (or satisfied) ones.

    Args:
        C: ``(n, k)`` constraint values (satisfied iff ``>= 0``); may hold NaN and
            ``+-inf``.
        failed: ``(n,)`` bool, rows whose evaluation failed (imputed as violated).
        margin: distance beyond the observed range, as a fraction of that range (at
            least ``margin`` in absolute terms).

    Returns:
        ``(n, k)`` finite constraint values. Failed rows, NaN and ``-inf`` become
        ``min(lowest observed value, 0) - margin * range``; ``+inf`` becomes
        ``max(highest observed value, 0) + margin * range``.
    """
    out = C.clone()
    for j in range(C.shape[-1]):
        c = C[:, j]
        ok = torch.isfinite(c) & ~failed
        if ok.any():
            lo, hi = c[ok].min(), c[ok].max()
        else:
            lo = hi = torch.zeros((), dtype=C.dtype, device=C.device)
        gap = torch.clamp(margin * (hi - lo), min=margin)
        violated = torch.clamp(lo, max=0.0) - gap
        satisfied = torch.clamp(hi, min=0.0) + gap
        positive = (c == float("inf")) & ~failed
        out[:, j] = torch.where(ok, c, torch.where(positive, satisfied, violated))
    return out


def _prepare(
    train_X: Tensor, train_Y: Tensor, train_C: Tensor | None, bounds: Tensor | None
) -> tuple[Tensor, Tensor, Tensor | None, Tensor, Tensor]:
    """Validate shapes and return ``(X, Y, C_imputed, failed, bounds)``."""
    if train_X.dim() != 2:
        raise ValueError(f"train_X must have shape (n, d), got {tuple(train_X.shape)}")
    n, d = train_X.shape
    if train_Y.dim() == 1:
        train_Y = train_Y.unsqueeze(-1)
    if train_Y.shape[0] != n:
        raise ValueError(f"train_Y must have shape ({n}, m), got {tuple(train_Y.shape)}")
    train_Y = train_Y.to(train_X)
    if train_C is not None:
        if train_C.dim() == 1:
            train_C = train_C.unsqueeze(-1)
        if train_C.shape[0] != n:
            raise ValueError(f"train_C must have shape ({n}, k), got {tuple(train_C.shape)}")
        train_C = train_C.to(train_X) if train_C.shape[-1] else None
    keep = torch.isfinite(train_X).all(dim=-1)
    if not keep.all():
        train_X, train_Y = train_X[keep], train_Y[keep]
        train_C = None if train_C is None else train_C[keep]
    failed = ~torch.isfinite(train_Y).all(dim=-1)
    C = None if train_C is None else impute_constraints(train_C, failed)
    if bounds is None:
        if train_X.shape[0] == 0:
            raise ValueError("no training rows with finite inputs")
        bounds = torch.stack([train_X.min(dim=0).values, train_X.max(dim=0).values])
    bounds = torch.as_tensor(bounds).to(train_X)
    if bounds.shape != (2, d):
        raise ValueError(f"bounds must have shape (2, {d}), got {tuple(bounds.shape)}")
    # A degenerate range (one distinct value) would make Normalize divide by zero.
    bounds = bounds.clone()
    flat = bounds[1] <= bounds[0]
    bounds[1] = torch.where(flat, bounds[0] + 1.0, bounds[1])
    return train_X, train_Y, C, failed, bounds


class GPR(ModelListGP):
    """One exact GP per outcome: ``m`` objectives then ``k`` constraint values.

    Each output is a :class:`~botorch.models.SingleTaskGP` (BoTorch's default kernel and
    priors) with inputs normalised to ``bounds`` and a standardised outcome. An
    objective's GP is trained on the rows where that objective is finite; a constraint's
    GP on every row, with failed or unknown values imputed as violated (see
    :func:`impute_constraints`).

    Args:
        train_X: ``(n, d)`` inputs in problem units.
        train_Y: ``(n, m)`` objectives (minimised; NaN rows for failed evaluations).
        train_C: ``(n, k)`` constraint values (satisfied iff ``>= 0``) or ``None``.
        bounds: ``(2, d)`` input bounds; defaults to the range of ``train_X``.
        max_rows: condition on at most this many rows (``None``: all): the feasible
            non-dominated rows and a uniform random draw of the others. An exact GP's fit
            grows with the cube of the rows, so a cap keeps its cost fixed as data grow;
            rows left out are predicted, not conditioned on (NaN in
            :meth:`holdout_predictions`).
        seed: seeds the random draw of ``max_rows``.
    """

    bounds: Tensor  # a buffer, declared for the type checker

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        train_C: Tensor | None = None,
        bounds: Tensor | None = None,
        max_rows: int | None = None,
        seed: int = 0,
    ) -> None:
        X, Y, C, _, bounds = _prepare(train_X, train_Y, train_C, bounds)
        d = X.shape[-1]
        used = _row_subset(Y, C, max_rows, seed)
        models, self._rows = [], []
        for i in range(Y.shape[-1]):
            rows = torch.isfinite(Y[:, i]) & used
            if not rows.any():
                raise ValueError(f"objective {i} has no finite training value")
            models.append(_single_gp(X[rows], Y[rows, i : i + 1], bounds))
            self._rows.append(rows)
        for j in range(0 if C is None else C.shape[-1]):
            assert C is not None
            models.append(_single_gp(X[used], C[used, j : j + 1], bounds))
            self._rows.append(used)
        super().__init__(*models)
        self.num_objectives = Y.shape[-1]
        self.num_constraints = 0 if C is None else C.shape[-1]
        self.register_buffer("bounds", bounds)
        self._dim = d

    def holdout_predictions(self, folds: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-validated predictions at the training rows, without refitting.

        Each fold's rows are predicted by every output's GP conditioned on the other
        rows, with the hyperparameters fitted on all of them (the exact block formula:
        ``mu_B = y_B - (K^-1)_BB^-1 (K^-1 y)_B``, ``Sigma_B = (K^-1)_BB^-1``).

        Args:
            folds: ``(F, f)`` row indices of the training data, one fold per row.

        Returns:
            ``(mean, variance)``, each ``(F * f, m + k)`` in original units, for the
            rows ``folds.reshape(-1)``; NaN where an objective's GP did not have the row
            (a failed evaluation).
        """
        flat = folds.reshape(-1)
        means, variances = [], []
        for gp, rows in zip(self.models, self._rows):
            mean = torch.full((flat.numel(),), float("nan"), dtype=self.bounds.dtype)
            var = mean.clone()
            local = torch.cumsum(rows.long(), 0) - 1  # global row -> the GP's own row
            blocks = [local[b][rows[b]] for b in folds]
            size = folds.shape[1]
            for i, (mu, v) in enumerate(zip(*_block_holdout(cast(SingleTaskGP, gp), blocks))):
                keep = rows[folds[i]]
                positions = torch.arange(size) + i * size
                mean[positions[keep]], var[positions[keep]] = mu, v
            means.append(mean)
            variances.append(var)
        return torch.stack(means, dim=-1), torch.stack(variances, dim=-1)

    def _as_model_list(self) -> ModelListGP:
        return ModelListGP(*self.models)

    # ModelList builds new lists with ``self.__class__(*models)``, which GPR's
    # data-taking constructor cannot serve; these return plain ModelListGPs instead.
    def subset_output(self, idcs: list[int]) -> Model:
        return self._as_model_list().subset_output(idcs)

    def fantasize(self, *args: Any, **kwargs: Any) -> Model:
        return self._as_model_list().fantasize(*args, **kwargs)

    # BoTorch's own bases disagree on this signature (ModelListGP takes a list of X)
    def condition_on_observations(self, *args: Any, **kwargs: Any) -> Model:  # type: ignore[override]
        return self._as_model_list().condition_on_observations(*args, **kwargs)


def _block_holdout(gp: SingleTaskGP, blocks: list[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    """Held-out means and variances (original units) of each block of ``gp``'s rows."""
    gp.eval()
    with torch.no_grad():
        X, y = gp.train_inputs[0], gp.train_targets
        prior = gp.forward(X)
        K = prior.covariance_matrix + gp.likelihood.noise * torch.eye(len(y)).to(y)
        L, _ = torch.linalg.cholesky_ex(K + 1e-8 * torch.eye(len(y)).to(y))
        K_inv = torch.cholesky_inverse(L)
        alpha = K_inv @ (y - prior.mean)
        standardize = cast(Standardize, gp.outcome_transform)  # as _single_gp builds it
        stdv = standardize.stdvs.reshape(()).to(y)
        shift = standardize.means.reshape(()).to(y)
        means, variances = [], []
        for b in blocks:
            if b.numel() == 0:
                means.append(y[:0])
                variances.append(y[:0])
                continue
            A_inv = torch.linalg.inv(K_inv[b][:, b])
            means.append((y[b] - A_inv @ alpha[b]) * stdv + shift)
            variances.append(torch.diagonal(A_inv).clamp_min(1e-12) * stdv**2)
    return means, variances


def _row_subset(Y: Tensor, C: Tensor | None, max_rows: int | None, seed: int) -> Tensor:
    """``(n,)`` bool: every row, or at most ``max_rows`` of them (see :class:`GPR`)."""
    n = Y.shape[0]
    used = torch.ones(n, dtype=torch.bool)
    if max_rows is None or n <= max_rows:
        return used
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    used[:] = False
    ok = torch.isfinite(Y).all(dim=-1)
    if C is not None:
        ok &= (C >= 0).all(dim=-1)
    g = torch.Generator().manual_seed(int(seed))
    feasible = ok.nonzero().reshape(-1)
    if feasible.numel():
        front = feasible[is_non_dominated(-Y[feasible], deduplicate=False)]
        used[front[torch.randperm(front.numel(), generator=g)[:max_rows]]] = True
    rest = (~used).nonzero().reshape(-1)
    take = max_rows - int(used.sum())
    used[rest[torch.randperm(rest.numel(), generator=g)[:take]]] = True
    return used


def _single_gp(X: Tensor, y: Tensor, bounds: Tensor) -> SingleTaskGP:
    return SingleTaskGP(
        X,
        y,
        input_transform=Normalize(X.shape[-1], bounds=bounds),
        outcome_transform=Standardize(m=1),
    )


class MEGP(KroneckerMultiTaskGP):
    """Multi-output exact GP over the ``m`` objectives and ``k`` constraint values.

    A shared Matern-5/2 kernel (ARD, BoTorch's dimension-scaled lengthscale prior) on
    inputs normalised to ``bounds``, times a task covariance ``B B^T + diag(v)`` of rank
    ``rank``; outcomes are standardised per output.

    The Kronecker structure needs every output at every training input, so rows whose
    evaluation failed (no objective values) are left out of this model; unknown
    constraint values of successful rows are imputed as in :class:`GPR`.

    Args:
        train_X: ``(n, d)`` inputs in problem units.
        train_Y: ``(n, m)`` objectives (minimised; NaN rows for failed evaluations).
        train_C: ``(n, k)`` constraint values (satisfied iff ``>= 0``) or ``None``.
        bounds: ``(2, d)`` input bounds; defaults to the range of ``train_X``.
        rank: rank of the low-rank part of the task covariance (capped at ``m + k``).
    """

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        train_C: Tensor | None = None,
        bounds: Tensor | None = None,
        rank: int = 2,
    ) -> None:
        X, Y, C, failed, bounds = _prepare(train_X, train_Y, train_C, bounds)
        if failed.any():
            warnings.warn(
                f"MEGP leaves out {int(failed.sum())} failed row(s): its Kronecker "
                "structure needs every output at every training input.",
                RuntimeWarning,
                stacklevel=2,
            )
            X, Y = X[~failed], Y[~failed]
            C = None if C is None else C[~failed]
        if X.shape[0] == 0:
            raise ValueError("MEGP needs at least one successful evaluation")
        outcomes = Y if C is None else torch.cat([Y, C], dim=-1)
        t, d = outcomes.shape[-1], X.shape[-1]
        super().__init__(
            X,
            outcomes,
            data_covar_module=get_covar_module_with_dim_scaled_prior(
                ard_num_dims=d, use_rbf_kernel=False
            ),
            likelihood=_shared_noise_likelihood(t),
            # BoTorch's default LKJ prior needs two or more tasks; with a single output
            # the "task covariance" is just the signal variance.
            task_covar_prior=LogNormalPrior(0.0, 1.0) if t == 1 else None,
            rank=max(1, min(int(rank), t)),
            input_transform=Normalize(d, bounds=bounds),
            outcome_transform=Standardize(m=t),
        )
        self.num_objectives = Y.shape[-1]
        self.num_constraints = 0 if C is None else C.shape[-1]
        self.register_buffer("bounds", bounds)


def _shared_noise_likelihood(num_tasks: int) -> MultitaskGaussianLikelihood:
    """One noise level shared by all (standardised) outputs.

    ``sigma^2 I`` keeps the training covariance ``K_x (x) K_t + sigma^2 I`` solvable
    through eigendecompositions of the ``n x n`` and ``t x t`` factors alone; per-task
    noise makes GPyTorch fall back to dense ``(n t) x (n t)`` algebra (about 100 times
    slower at ``n = 300, t = 4``). Outputs are standardised and the task covariance has
    its own per-output variances, so one shared nugget costs little flexibility.
    """
    prior = LogNormalPrior(loc=-4.0, scale=1.0)
    return MultitaskGaussianLikelihood(
        num_tasks=num_tasks,
        rank=0,
        has_task_noise=False,
        noise_prior=prior,
        noise_constraint=GreaterThan(
            MIN_INFERRED_NOISE_LEVEL, transform=None, initial_value=prior.mode
        ),
    )
