"""BoTorch's ``Model`` contract for deep ensembles, made exact.

A deep ensemble's posterior is its members' predictions
(:class:`~botorch.posteriors.ensemble.EnsemblePosterior`): Monte-Carlo acquisition
functions draw those predictions as samples, so they work unchanged. Two parts of the
contract need more than BoTorch's ``EnsembleModel`` gives:

* **Posterior transforms.** A transform such as ``ScalarizedPosteriorTransform`` maps a
  Gaussian posterior in closed form; for an ensemble the natural equivalent is to apply
  it to every member's prediction, which :class:`EnsembleSurrogate` does
  (``EnsembleModel`` hands the ensemble posterior to the transform, which cannot read
  it).
* **Fantasies.** A network ensemble cannot be conditioned on new observations without
  retraining, so ``fantasize`` and ``condition_on_observations`` raise
  :class:`~botorch.exceptions.errors.UnsupportedError` naming the acquisition functions
  that need them (knowledge gradients), rather than an ``AttributeError`` from deep
  inside BoTorch.
"""

from __future__ import annotations

from typing import Any

from botorch.acquisition.objective import PosteriorTransform
from botorch.exceptions.errors import UnsupportedError
from botorch.models.ensemble import EnsembleModel
from botorch.posteriors.ensemble import EnsemblePosterior
from torch import Tensor

__all__ = ["EnsembleSurrogate", "transform_members"]

_NO_FANTASIES = (
    "{cls} is a deep ensemble of networks: it cannot be conditioned on new observations "
    "without retraining, so {what} is not supported. Acquisition functions that "
    "fantasize (qKnowledgeGradient, qHypervolumeKnowledgeGradient, qMultiFidelity"
    "KnowledgeGradient) do not work with it; use one that samples the posterior, such "
    "as qLogNoisyExpectedHypervolumeImprovement, qLogNoisyExpectedImprovement, "
    "qLogNParEGO or qUpperConfidenceBound."
)


def transform_members(
    posterior: EnsemblePosterior, transform: PosteriorTransform, X: Tensor
) -> EnsemblePosterior:
    """Apply ``transform`` to each member's prediction of an ensemble posterior.

    Args:
        posterior: values ``batch_shape x E x q x m``.
        transform: a posterior transform whose ``evaluate`` maps outcomes
            ``... x q x m`` to ``... x q`` (``scalarize``) or ``... x q x m'``.
        X: the ``batch_shape x q x d`` inputs (for transforms that depend on them).

    Returns:
        An ensemble posterior with values ``batch_shape x E x q x 1`` (scalarized) or
        ``batch_shape x E x q x m'``, with the same member weights.

    Raises:
        UnsupportedError: the transform works on a posterior's distribution only (its
            ``evaluate`` is not implemented), which an ensemble does not have.
    """
    try:
        values = transform.evaluate(posterior.values, X=X.unsqueeze(-3))
    except NotImplementedError:
        raise UnsupportedError(
            f"{type(transform).__name__} transforms a posterior's distribution, which an "
            "ensemble posterior does not have; an ensemble supports transforms that can "
            "be applied to each member's prediction (evaluate), such as "
            "ScalarizedPosteriorTransform"
        ) from None
    if getattr(transform, "scalarize", False):
        values = values.unsqueeze(-1)
    return EnsemblePosterior(values=values, weights=posterior.weights)


class EnsembleSurrogate(EnsembleModel):
    """An ``EnsembleModel`` with posterior transforms and a clear no to fantasies.

    Subclasses implement ``forward`` (``batch_shape x E x q x outputs`` member
    predictions) as for BoTorch's ``EnsembleModel``.
    """

    # Model's signature (EnsembleModel's own drops observation_noise, which BoTorch's
    # acquisition functions may pass by keyword)
    def posterior(  # type: ignore[override]
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: PosteriorTransform | None = None,
        **kwargs: Any,
    ) -> EnsemblePosterior:
        """The ensemble posterior at ``X``, optionally transformed member by member.

        Args:
            X: ``batch_shape x q x d`` inputs.
            output_indices: the outputs to keep (default: all).
            observation_noise: ``True`` is ignored (the members' spread is the
                uncertainty); a tensor of noise levels is not supported.
            posterior_transform: applied to each member's prediction (see
                :func:`transform_members`), e.g. ``ScalarizedPosteriorTransform``.
            **kwargs: passed to ``EnsembleModel.posterior``.

        Returns:
            Values ``batch_shape x E x q x outputs`` (``x 1`` after a scalarizing
            transform).
        """
        posterior = super().posterior(
            X, output_indices=output_indices, observation_noise=observation_noise, **kwargs
        )
        if posterior_transform is None:
            return posterior
        return transform_members(posterior, posterior_transform, X)

    def fantasize(self, X: Tensor, sampler: Any, **kwargs: Any) -> EnsembleSurrogate:
        """Not supported: raises :class:`~botorch.exceptions.errors.UnsupportedError`."""
        raise UnsupportedError(_NO_FANTASIES.format(cls=type(self).__name__, what="fantasize"))

    def condition_on_observations(self, X: Tensor, Y: Tensor, **kwargs: Any) -> EnsembleSurrogate:
        """Not supported: raises :class:`~botorch.exceptions.errors.UnsupportedError`."""
        raise UnsupportedError(
            _NO_FANTASIES.format(cls=type(self).__name__, what="condition_on_observations")
        )
