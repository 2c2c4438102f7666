"""``fit_model``: one entry point that fits any of the package's surrogates.

Also defines :func:`register_with_ax`, which teaches Ax's ``fit_botorch_model``
dispatcher to fit a :class:`~botorch_joint.models.JointSurrogate`. Importing
:mod:`botorch_joint.ax` calls it; Ax is imported only then, never by
``import botorch_joint`` or ``import botorch_joint.models``. The models know nothing of
Ax: the dependency points from the Ax glue down to the models, not back.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

import gpytorch
from botorch.exceptions.errors import ModelFittingError
from botorch.exceptions.warnings import OptimizationWarning
from botorch.fit import DEFAULT_WARNING_HANDLER, fit_gpytorch_mll
from botorch.models.model import Model
from gpytorch.mlls import ExactMarginalLogLikelihood, SumMarginalLogLikelihood

from botorch_joint.models.gp import GPR, MEGP
from botorch_joint.models.joint import JointSurrogate

__all__ = ["fit_model", "register_with_ax"]

M = TypeVar("M", bound=Model)
#: Default L-BFGS iteration cap for :class:`MEGP` hyperparameter fitting.
MEGP_MAXITER = 300
# Per GP of a GPR. Measured on hh-cell (n = 300, 11 outputs): 100 iterations fit in 17 s
# with the same held-out NRMSE (0.082 vs 0.085) as running L-BFGS to convergence (64 s);
# some imputed constraint outputs otherwise take thousands of iterations.
GPR_MAXITER = 100
_AX_REGISTERED = False


def fit_model(model: M, **kwargs: Any) -> M:
    """Fit a :class:`JointSurrogate`, :class:`GPR` or :class:`MEGP` and return it.

    Args:
        model: the model to fit (in place).
        **kwargs: for a ``JointSurrogate``, training options for this fit (see
            :meth:`JointSurrogate.fit`, e.g. ``max_epochs=50``); for the GPs, keyword
            arguments of :func:`botorch.fit.fit_gpytorch_mll` (at most
            ``GPR_MAXITER`` L-BFGS iterations per GP of a ``GPR``; for ``MEGP`` one
            attempt of at most ``MEGP_MAXITER``; override with
            ``optimizer_kwargs={"options": {"maxiter": ...}}``).

    Returns:
        The same model, fitted and in eval mode. A GP whose hyperparameter
        optimisation fails keeps its initial hyperparameters (with a warning) rather
        than stopping an optimisation run.

    Raises:
        TypeError: for a model type this function does not know.
    """
    if isinstance(model, JointSurrogate):
        return model.fit(**kwargs)  # type: ignore[return-value]
    if isinstance(model, GPR):
        mll: Any = SumMarginalLogLikelihood(model.likelihood, model)
    elif isinstance(model, MEGP):
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
    else:
        raise TypeError(
            f"fit_model does not know how to fit {type(model).__name__}; "
            "expected JointSurrogate, GPR or MEGP"
        )
    try:
        if isinstance(model, MEGP):
            # An LKJ task-covariance prior cannot be sampled, so BoTorch's restarts from
            # prior samples are unavailable: one attempt, and a line search that ends
            # "ABNORMAL" (common near an optimum) is accepted rather than retried.
            kwargs.setdefault("max_attempts", 1)
            kwargs.setdefault("warning_handler", _accept_abnormal_line_search)
            # The likelihood is flat along the task covariance: L-BFGS creeps on for
            # thousands of iterations for ~1e-2 in NRMSE; cap it.
            _default_maxiter(kwargs, MEGP_MAXITER)
            # BoTorch turns GPyTorch's structured solves off globally, which makes the
            # Kronecker likelihood a dense (n t) x (n t) Cholesky. With them on,
            # K_x (x) K_t + sigma^2 I is solved exactly through the eigendecompositions
            # of its factors (identical values and gradients, ~15x faster at n = 300).
            with (
                gpytorch.settings.fast_computations(log_prob=True, solves=True),
                gpytorch.settings.max_cholesky_size(0),
            ):
                fit_gpytorch_mll(mll, **kwargs)
        else:
            _default_maxiter(kwargs, GPR_MAXITER)
            fit_gpytorch_mll(mll, **kwargs)
    except ModelFittingError as exc:
        warnings.warn(
            f"{type(model).__name__}: hyperparameter fitting failed ({exc}); "
            "keeping the initial hyperparameters",
            RuntimeWarning,
            stacklevel=2,
        )
    model.eval()
    return model


def _default_maxiter(kwargs: dict[str, Any], maxiter: int) -> None:
    """Cap L-BFGS at ``maxiter`` unless the caller passed optimizer options."""
    optimizer_kwargs = dict(kwargs.get("optimizer_kwargs") or {})
    optimizer_kwargs.setdefault("options", {"maxiter": maxiter})
    kwargs["optimizer_kwargs"] = optimizer_kwargs


def _accept_abnormal_line_search(w: warnings.WarningMessage) -> bool:
    if issubclass(w.category, OptimizationWarning) and "ABNORMAL" in str(w.message):
        return True
    return DEFAULT_WARNING_HANDLER(w)


def register_with_ax() -> None:
    """Teach Ax's ``fit_botorch_model`` dispatcher to fit a :class:`JointSurrogate`.

    Idempotent. Ax's ``mll_options`` (from its ``ModelConfig``) are passed to
    :meth:`JointSurrogate.fit` as training options; ``mll_class`` is ignored.
    """
    global _AX_REGISTERED
    if _AX_REGISTERED:
        return
    from ax.generators.torch.botorch_modular.utils import fit_botorch_model

    @fit_botorch_model.register(JointSurrogate)
    def _fit_joint_surrogate(
        model: JointSurrogate,
        mll_class: Any = None,
        mll_options: dict[str, Any] | None = None,
    ) -> None:
        model.fit(**(mll_options or {}))

    _AX_REGISTERED = True
