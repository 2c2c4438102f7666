"""The joint objective + feasibility network surrogate as a BoTorch ensemble model.

One network per ensemble member learns the objectives (regression head) and the
feasibility of every constraint (classification head, one logit per constraint) from a
shared representation. The ensemble's spread is the model's uncertainty; its members
are the samples of BoTorch's :class:`~botorch.posteriors.ensemble.EnsemblePosterior`, so
the Monte-Carlo acquisition functions that sample the posterior work with it unchanged
(tested: qLogNEHVI, qNEHVI, qLogNParEGO, qLogNEI with constraints, qUCB, and a
``ScalarizedPosteriorTransform``); those that fantasize (the knowledge gradients) raise
``UnsupportedError`` (:class:`~botorch_joint.models.ensemble.EnsembleSurrogate`).

The constructor prepares its data with :mod:`~botorch_joint.models.joint_data`;
:meth:`JointSurrogate.fit` trains the members with
:mod:`~botorch_joint.models.joint_training`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from botorch.exceptions.errors import UnsupportedError
from botorch.models.transforms.input import InputTransform
from botorch.models.transforms.outcome import OutcomeTransform
from botorch.utils.datasets import SupervisedDataset
from torch import Tensor

from botorch_joint.models.ensemble import EnsembleSurrogate
from botorch_joint.models.joint_data import data_bounds, split_columns, value_targets
from botorch_joint.models.joint_training import member_rows, train_members
from botorch_joint.models.networks import build_network

__all__ = ["JointSurrogate"]

#: Rows per network call in :meth:`JointSurrogate.member_outputs`.
PREDICT_CHUNK = 4096

#: Smallest residual scale of the value head (``asinh`` units): where the members agree
#: exactly, a value 0.1 past the boundary still leaves P(c >= 0) at 2 %, not 0.
VALUE_NOISE_FLOOR = 0.05


class JointSurrogate(EnsembleSurrogate):
    """Deep-ensemble network with an objective head and a constraint-feasibility head.

    The posterior at ``X`` (``batch_shape x n x d``, problem units) has ``m + k``
    outputs: the ``m`` predicted objectives (original units, minimised) followed by the
    ``k`` predicted probabilities that each constraint is satisfied (``c >= 0``). Its
    ensemble dimension holds one prediction per member, so in Monte-Carlo acquisition
    functions each sample is one member's prediction. Gradients flow to ``X``. A posterior
    transform is applied to each member's prediction; ``fantasize`` and
    ``condition_on_observations`` raise ``UnsupportedError`` (a network ensemble cannot
    be conditioned without retraining), so the knowledge-gradient acquisitions do not
    work with it.

    Feasibility outputs are probabilities; with BoTorch's constraint convention
    (feasible iff the callable is ``<= 0``) use ``lambda Z: 0.5 - Z[..., m + j]``, or pass
    ``lambda Z: Z[..., m + j]`` with ``fat=[None] * k`` to use the probability directly
    as the feasibility weight.

    Training data: rows with a non-finite objective are failed evaluations; they are left
    out of the regression loss and labelled infeasible for every constraint. Constraint
    values that are NaN or ``-inf`` count as violated. Nothing non-finite reaches a loss.

    Args:
        train_X: ``(n, d)`` inputs in the problem's own units.
        train_Y: ``(n, m)`` objectives (NaN rows for failed evaluations).
        train_C: ``(n, k)`` constraint values (satisfied iff ``>= 0``), or ``None`` for
            the objective-only (``o-``) variant.
        backbone: ``"ftt"`` (FT-Transformer) or ``"resnet"``.
        bounds: ``(2, d)`` input bounds used to normalise inputs; defaults to the range
            of ``train_X`` (after ``input_transform``, if one is given).
        input_transform: optional BoTorch input transform (as passed by Ax); applied to
            training and test inputs before the model's own normalisation to ``bounds``.
        outcome_transform: optional BoTorch outcome transform (as passed by Ax) applied to
            the objectives before training and undone in the posterior. Only supported
            without constraint outputs; objectives are standardised internally anyway.
        ensemble_size: number of members ``E``.
        constraint_weight: weight of the classification (BCE) loss relative to the
            regression (MSE on standardised objectives) loss.
        max_epochs: passes over the training rows (the most, with a hold-out).
        patience: with a hold-out, epochs without validation improvement before a
            member stops improving (training ends when every member has run out of
            patience).
        batch_size: minibatch size; ``None`` picks about 8 minibatches per epoch
            (at least 32 rows), so the cost of a fit grows linearly with ``n``.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        validation_fraction: fraction of rows held out (a different random subset for
            each member) for early stopping; no hold-out below 5 rows. 0 (the
            default) trains every member on every row for ``max_epochs``: with a few
            hundred rows, each row held out costs the optimiser precision near the
            optimum more than early stopping saves (``docs/search.md``).
        bootstrap: additionally train each member on a bootstrap resample of its rows.
        num_threads: torch intra-op threads while training on the CPU (restored
            afterwards); ``None`` leaves the setting alone. The default of one thread is
            the fastest for these small layers, and much faster on a busy machine.
        seed: seed of every random choice in construction and :meth:`fit` (initial
            weights, hold-out split, minibatches, dropout). The global RNG is untouched.
        dtype: floating type of the network weights (inputs and outputs keep their own).
        network_options: keyword arguments for the backbone (e.g. ``{"n_blocks": 3}``).
        constraint_values: also regress every constraint's value, on the robust scale
            ``asinh(c / s_j)`` (``s_j`` the median ``|c_j|`` observed, so huge or
            saturated values do not dominate), with the regression head. A member's
            probability that constraint ``j`` holds then pools its classifier and its
            value prediction, ``log P = (log sigmoid(l) + log Phi(v / r_j)) / 2`` (``r_j``
            the value head's training residual), and uses the value alone while the
            classifier has seen one class only: a graded constraint tells how far a point
            is from feasibility, and its gradient leads there before any evaluation is
            feasible. Labels keep what values cannot: failed rows and NaN values teach
            the classifier only.
        holdout_folds: train member ``e`` without the ``e``-th of ``E`` random folds of
            the rows (without a validation hold-out), so that
            :meth:`holdout_predictions` gives a cross-validated prediction of every
            fold's rows at no extra training cost.
        constraint_columns: for use through Ax, which passes every metric as a column
            of ``train_Y``: indices of the columns that are constraint values. Those
            columns train the classification head (label ``value >= threshold``) and
            the posterior reports ``threshold + P(feasible) - 0.5`` in their place, so
            an Ax outcome constraint ``value >= threshold`` holds iff ``P >= 0.5``.
        constraint_thresholds: one threshold per constraint column (default 0).
    """

    #: Capability read by the surrogate search (``getattr(model, ..., False)``): the
    #: feasibility probabilities come from an ensemble of classifiers, which is
    #: confident away from its data and whose product over correlated constraints is
    #: too low, so the search recalibrates it and tempers it when exploring
    #: (``docs/search.md``). Gaussian-process models leave it unset.
    classifier_feasibility: bool = True

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        train_C: Tensor | None = None,
        backbone: str = "ftt",
        bounds: Tensor | None = None,
        input_transform: InputTransform | None = None,
        outcome_transform: OutcomeTransform | None = None,
        ensemble_size: int = 5,
        constraint_weight: float = 1.0,
        max_epochs: int = 200,
        patience: int = 30,
        batch_size: int | None = None,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        validation_fraction: float = 0.0,
        bootstrap: bool = False,
        num_threads: int | None = 1,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
        network_options: dict[str, Any] | None = None,
        constraint_values: bool = True,
        holdout_folds: bool = False,
        constraint_columns: Sequence[int] | None = None,
        constraint_thresholds: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        train_X, train_Y, train_C, self._column_order, thresholds = split_columns(
            train_X, train_Y, train_C, constraint_columns, constraint_thresholds
        )
        if outcome_transform is not None and train_C is not None:
            raise UnsupportedError(
                "JointSurrogate supports an outcome_transform only without constraint "
                "outputs (objectives are standardised internally anyway)."
            )
        if ensemble_size < 1:
            raise ValueError(f"ensemble_size must be >= 1, got {ensemble_size}")
        n, d = train_X.shape
        m = train_Y.shape[-1]
        k = 0 if train_C is None else train_C.shape[-1]
        self.backbone_name = backbone
        self.num_objectives = m
        self.num_constraints = k
        self.ensemble_size = ensemble_size
        self._num_outputs = m + k
        self.seed = int(seed)
        self.options = {
            "constraint_weight": float(constraint_weight),
            "max_epochs": int(max_epochs),
            "patience": int(patience),
            "batch_size": batch_size,
            "lr": float(lr),
            "weight_decay": float(weight_decay),
            "validation_fraction": float(validation_fraction),
            "bootstrap": bool(bootstrap),
            "num_threads": num_threads,
            "holdout_folds": bool(holdout_folds),
        }
        # Raw training data, kept for refits and for Ax/BoTorch utilities.
        self.train_X = train_X
        self.train_Y = train_Y
        self.train_C = train_C

        if input_transform is not None:
            self.input_transform = input_transform.to(train_X)
            with torch.no_grad():
                input_transform.train()
                X_model = input_transform(train_X)
                input_transform.eval()
        else:
            X_model = train_X
        Y_model = train_Y
        if outcome_transform is not None:
            self.outcome_transform = outcome_transform.to(train_Y)
            with torch.no_grad():
                outcome_transform.train()
                Y_model, _ = outcome_transform(train_Y)
                outcome_transform.eval()

        if bounds is None:
            bounds = data_bounds(X_model)
        bounds = torch.as_tensor(bounds).to(train_X)
        if bounds.shape != (2, d):
            raise ValueError(f"bounds must have shape (2, {d}), got {tuple(bounds.shape)}")
        self.register_buffer("bounds", bounds)
        span = bounds[1] - bounds[0]
        self.register_buffer("_span", torch.where(span > 0, span, torch.ones_like(span)))

        # Objective standardisation from the observed (finite) values only.
        finite = torch.isfinite(Y_model)
        count = finite.sum(0)
        Y0 = torch.where(finite, Y_model, torch.zeros_like(Y_model))
        mean = Y0.sum(0) / count.clamp_min(1)
        var = (torch.where(finite, Y_model - mean, torch.zeros_like(Y0)) ** 2).sum(0) / (
            (count - 1).clamp_min(1)
        )
        std = var.sqrt()
        std = torch.where((count > 1) & (std > 1e-8 * mean.abs().clamp_min(1.0)), std, 1.0)
        self.register_buffer("y_mean", mean)
        self.register_buffer("y_std", std)
        self.register_buffer("thresholds", thresholds.to(train_X))

        # Network-ready tensors: nothing non-finite survives past this point.
        self._net_dtype = dtype
        failed = ~torch.isfinite(Y_model).all(dim=-1)
        self._X_fit = self._normalise(X_model).to(dtype)
        self._Y_fit = ((Y0 - mean) / std).to(dtype)
        self._Y_mask = finite.to(dtype)
        self.constraint_values = bool(constraint_values and k)
        if k:
            C = train_C - self.thresholds
            labels = (C >= 0) & ~failed.unsqueeze(-1)  # NaN >= 0 is False: violated
            self._labels = labels.to(dtype)
            # A classifier that has seen one class only says nothing about where the
            # constraint holds (see ``feasibility_mask``).
            both = labels.any(dim=0) & (~labels).any(dim=0)
            observed = (torch.isfinite(C) & ~failed.unsqueeze(-1)).any(dim=0)
        else:
            self._labels = None
            both = observed = torch.zeros(0, dtype=torch.bool)
        self.register_buffer("_classifier_informative", both)
        self.register_buffer("_value_informative", observed & self.constraint_values)
        n_values = k if self.constraint_values else 0
        if n_values:
            values, value_mask, value_scale = value_targets(C, failed)
            self._Y_fit = torch.cat([self._Y_fit, values.to(dtype)], dim=-1)
            self._Y_mask = torch.cat([self._Y_mask, value_mask.to(dtype)], dim=-1)
        else:
            value_scale = torch.ones(k).to(train_X)
        self.register_buffer("value_scale", value_scale.to(train_X))
        # Residual scale of the value head, set after each fit.
        self.register_buffer("value_noise", torch.full((k,), VALUE_NOISE_FLOOR).to(train_X))

        devices = [train_X.device] if train_X.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            self.net = build_network(
                backbone, ensemble_size, d, m + n_values, k, **dict(network_options or {})
            ).to(device=train_X.device, dtype=dtype)
        self.fit_seconds: float | None = None
        self.epochs_trained: int | None = None
        self._folds: Tensor | None = None
        self.eval()

    # ------------------------------------------------------------------ BoTorch
    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size([])

    def _set_transformed_inputs(self) -> None:
        # Training inputs are transformed once in __init__; nothing to swap in and out.
        pass

    def _revert_to_original_inputs(self) -> None:
        pass

    @classmethod
    def construct_inputs(
        cls, training_data: SupervisedDataset, **model_options: Any
    ) -> dict[str, Any]:
        """Model keyword arguments from an Ax/BoTorch dataset (plus ``model_options``).

        Called by Ax's ``Surrogate``. Ax's ``BOTORCH_MODULAR`` generator fits the model
        through its ``fit_botorch_model`` dispatcher, which learns about
        ``JointSurrogate`` when :mod:`botorch_joint.ax` is imported.
        """
        inputs = super().construct_inputs(training_data=training_data)
        inputs.pop("train_Yvar", None)  # the network ignores observation noise
        inputs.update(model_options)
        return inputs

    def forward(self, X: Tensor) -> Tensor:
        """Member predictions at ``X``.

        Args:
            X: ``batch_shape x n x d`` inputs (after any ``input_transform``).

        Returns:
            ``batch_shape x E x n x (m + k)``: objectives (original units) then
            feasibility probabilities, in ``train_Y``'s column order when the model was
            built with ``constraint_columns``.
        """
        obj, prob = self.member_outputs(X)
        if self._column_order is not None:
            # Ax mode: constraint columns report threshold + P - 0.5 in their own place.
            shifted = prob + (self.thresholds - 0.5).to(prob)
            return torch.cat([obj, shifted], dim=-1)[..., self._column_order]
        return obj if prob is None else torch.cat([obj, prob], dim=-1)

    @property
    def train_labels(self) -> Tensor | None:
        """``(n, k)`` 1.0 where a training row satisfied the constraint, else 0.0
        (failed rows and NaN values count as violated); ``None`` without constraints."""
        return self._labels

    @property
    def feasibility_mask(self) -> Tensor:
        """``(k,)`` bool: constraints whose predicted feasibility carries information.

        A constraint is informative once its value head has a finite observed value, or
        its classifier has seen both classes; the others predict P = 1/2 from an
        untrained head and are best left out of a search.
        """
        return self._classifier_informative | self._value_informative

    def member_outputs(self, X: Tensor) -> tuple[Tensor, Tensor | None]:
        """Per-member objectives and feasibility probabilities.

        Args:
            X: ``batch_shape x n x d`` inputs (after any ``input_transform``).

        Returns:
            ``(objectives, probabilities)`` of shapes ``batch_shape x E x n x m`` and
            ``batch_shape x E x n x k`` (``None`` when ``k == 0``), in ``X``'s dtype.
        """
        obj, log_prob = self.member_predictions(X)
        return obj, None if log_prob is None else log_prob.exp()

    def member_predictions(self, X: Tensor) -> tuple[Tensor, Tensor | None]:
        """Per-member objectives and log probabilities that each constraint holds.

        Args:
            X: ``batch_shape x n x d`` inputs (after any ``input_transform``).

        Returns:
            ``(objectives, log_probabilities)`` of shapes ``batch_shape x E x n x m`` and
            ``batch_shape x E x n x k`` (``None`` when ``k == 0``), in ``X``'s dtype.
            The log probabilities stay finite (with useful gradients) far from
            feasibility, where the probabilities themselves underflow.
        """
        batch, d = X.shape[:-1], X.shape[-1]
        flat = self._normalise(X).reshape(-1, d).to(self._net_dtype)
        # Row chunks bound the activation memory (the FT-Transformer keeps d + 1 tokens
        # per row and member) when predicting at many points.
        outputs = [
            self.net(chunk.unsqueeze(0).expand(self.ensemble_size, *chunk.shape))
            for chunk in flat.split(PREDICT_CHUNK)
        ]
        reg = torch.cat([o[0] for o in outputs], dim=1)
        logits = None if outputs[0][1] is None else torch.cat([o[1] for o in outputs], dim=1)

        def unflatten(t: Tensor) -> Tensor:
            t = t.to(X.dtype).reshape(self.ensemble_size, *batch, t.shape[-1])
            return t.movedim(0, -3)

        return self._heads(unflatten(reg), None if logits is None else unflatten(logits))

    def _heads(self, reg: Tensor, logits: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Objectives and log P(feasible) from raw head outputs (any shape ``... x c``)."""
        m = self.num_objectives
        obj = reg[..., :m] * self.y_std.to(reg) + self.y_mean.to(reg)
        if logits is None:
            return obj, None
        # In the caller's (double) precision log sigmoid is exact for any logit.
        log_cls = F.logsigmoid(logits)
        if not self.constraint_values:
            return obj, log_cls
        log_val = torch.special.log_ndtr(reg[..., m:] / self.value_noise.to(reg))
        both = self._classifier_informative & self._value_informative
        pooled = torch.where(both, 0.5 * (log_cls + log_val), log_val)
        return obj, torch.where(self._value_informative, pooled, log_cls)

    def holdout_predictions(self) -> tuple[Tensor, Tensor, Tensor | None] | None:
        """Each fold's rows as predicted by the member that did not train on them.

        Only after a fit with ``holdout_folds=True`` (and at least two rows per member).

        Returns:
            ``(rows, objectives, log_probabilities)``: ``(N,)`` training-row indices,
            ``(N, m)`` objectives and ``(N, k)`` log P(feasible) (``None`` if ``k == 0``),
            in ``train_X``'s dtype; or ``None`` without folds.
        """
        if self._folds is None:
            return None
        dtype = self.train_X.dtype
        with torch.no_grad():
            reg, logits = self.net(self._X_fit[self._folds])
        obj, log_prob = self._heads(reg.to(dtype), None if logits is None else logits.to(dtype))
        rows = self._folds.reshape(-1)
        obj = obj.reshape(-1, obj.shape[-1])
        return rows, obj, None if log_prob is None else log_prob.reshape(-1, log_prob.shape[-1])

    # ----------------------------------------------------------------- training
    def fit(self, verbose: bool = False, **overrides: Any) -> JointSurrogate:
        """Train the ensemble (re-initialising it first, so repeated fits agree).

        Args:
            verbose: print the validation loss every 10 epochs.
            **overrides: training options for this fit only (any of ``max_epochs``,
                ``patience``, ``batch_size``, ``lr``, ``weight_decay``,
                ``validation_fraction``, ``bootstrap``, ``constraint_weight``,
                ``num_threads``).

        Returns:
            The model itself, in eval mode.
        """
        unknown = set(overrides) - set(self.options)
        if unknown:
            raise TypeError(f"unknown training option(s) {sorted(unknown)}")
        opts = {**self.options, **overrides}
        device = self._X_fit.device
        devices = [device] if device.type == "cuda" else []
        threads = torch.get_num_threads()
        if opts["num_threads"] and device.type == "cpu":
            torch.set_num_threads(int(opts["num_threads"]))
        t0 = time.perf_counter()
        try:
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                self.epochs_trained = self._train(opts, verbose)
        finally:
            torch.set_num_threads(threads)
        self.eval()
        if self.constraint_values:
            self._set_value_noise()
        self.fit_seconds = time.perf_counter() - t0
        return self

    def _set_value_noise(self) -> None:
        """``value_noise``: RMS training residual of the members' mean value prediction."""
        m, k = self.num_objectives, self.num_constraints
        with torch.no_grad():
            X = self._X_fit.unsqueeze(0).expand(self.ensemble_size, *self._X_fit.shape)
            pred = self.net(X)[0][..., m:].mean(dim=0)
            target, mask = self._Y_fit[:, m : m + k], self._Y_mask[:, m : m + k]
            sq = ((pred - target) ** 2 * mask).sum(dim=0) / mask.sum(dim=0).clamp_min(1.0)
        self.value_noise = sq.sqrt().clamp_min(VALUE_NOISE_FLOOR).to(self.value_noise)

    def _train(self, opts: dict[str, Any], verbose: bool) -> int:
        """Train every member from fresh weights (:mod:`~botorch_joint.models.joint_training`).

        Returns:
            The number of epochs run.
        """
        net = self.net
        net.reset_parameters()
        net.train()
        X = self._X_fit
        val_idx, tr_idx, self._folds = member_rows(self.ensemble_size, X.shape[0], opts, X.device)
        return train_members(
            net, X, self._Y_fit, self._Y_mask, self._labels, val_idx, tr_idx, opts, verbose
        )

    # ------------------------------------------------------------------ helpers
    def _normalise(self, X: Tensor) -> Tensor:
        # To [-1, 1] over the bounds: centred inputs suit both backbones' tokenisers.
        return 2.0 * (X - self.bounds[0].to(X)) / self._span.to(X) - 1.0

    def __repr__(self) -> str:
        return (
            f"JointSurrogate(backbone={self.backbone_name!r}, d={self.bounds.shape[-1]}, "
            f"m={self.num_objectives}, k={self.num_constraints}, E={self.ensemble_size})"
        )
