"""Offspring by Gaussian perturbation with per-parameter step sizes set by sensitivity.

Sensitive parameters change the outputs (and feasibility) a lot per unit step, so the
search takes *finer* steps on them and coarser ones on parameters the outputs hardly
depend on. That direction is the default because it won the comparison in
``benchmarks/perturbation_direction.py`` (evidence in ``docs/search.md``); ``"coarser"``
and ``"uniform"`` remain available for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["DIRECTIONS", "SensitivityWeightedPerturbation", "perturbation_scales"]

DIRECTIONS = ("finer", "coarser", "uniform")


def perturbation_scales(
    sensitivity: Sequence[float] | np.ndarray | None,
    scale: float = 0.1,
    direction: str = "finer",
    strength: float = 0.5,
    ratio_limits: tuple[float, float] = (0.25, 4.0),
    dim: int | None = None,
) -> np.ndarray:
    """Per-parameter perturbation standard deviations in the unit cube.

    With sensitivities ``s`` normalised to mean 1, the ratio of parameter ``j`` is
    ``s_j ** -strength`` (``"finer"``) or ``s_j ** strength`` (``"coarser"``), divided
    by the ratios' geometric mean (so the overall step size stays ``scale``) and clipped
    to ``ratio_limits``.

    Args:
        sensitivity: ``(d,)`` non-negative sensitivity indices, or ``None`` (uniform).
        scale: geometric-mean step (standard deviation, unit-cube units).
        direction: ``"finer"``, ``"coarser"`` or ``"uniform"``.
        strength: exponent applied to the normalised sensitivities.
        ratio_limits: ``(low, high)`` clip on the per-parameter ratio.
        dim: ``d`` when ``sensitivity`` is ``None``.

    Returns:
        ``(d,)`` standard deviations.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; choose one of {DIRECTIONS}")
    if sensitivity is None:
        if dim is None:
            raise ValueError("give sensitivity or dim")
        return np.full(int(dim), float(scale))
    s = np.asarray(sensitivity, dtype=float).reshape(-1)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError("sensitivity indices must be finite and non-negative")
    if direction == "uniform" or s.max() <= 0:
        return np.full(s.size, float(scale))
    s = np.maximum(s / s.mean(), 1e-3)  # a parameter with no effect still gets a finite step
    ratio = s ** (-strength if direction == "finer" else strength)
    ratio = ratio / np.exp(np.log(ratio).mean())
    return float(scale) * np.clip(ratio, *ratio_limits)


class SensitivityWeightedPerturbation:
    """Gaussian perturbation of parent points, per-parameter scales from sensitivities.

    Works in the unit cube; points leaving it are mirrored back in (``boundary=
    "reflect"``) or put on its faces (``"clip"``, which lets a parent on a bound keep
    children there; the search measured it and kept mirroring, ``docs/search.md``,
    "Offspring on the faces of the box"). Each offspring
    multiplies the step by its own log-normal factor (``step_spread``) so one batch
    holds both small local moves and larger jumps, and perturbs each coordinate with
    probability ``mutation_rate`` (at least one coordinate always moves).

    Args:
        sensitivity: ``(d,)`` sensitivity indices (e.g.
            :func:`botorch_joint.sensitivity.sgrad`'s ``indices``), or ``None``.
        scale: geometric-mean step size (standard deviation in the unit cube).
        direction: ``"finer"`` (smaller steps on sensitive parameters), ``"coarser"``
            or ``"uniform"``.
        strength: how strongly sensitivities set the steps (0 = uniform).
        ratio_limits: clip on a parameter's step relative to the mean step.
        mutation_rate: probability that a coordinate is perturbed (``None``: all).
        step_spread: standard deviation of the per-offspring log step factor.
        dim: ``d``, needed only when ``sensitivity`` is ``None``.
        boundary: ``"clip"`` or ``"reflect"``, what happens to a coordinate that
            leaves the cube.
    """

    def __init__(
        self,
        sensitivity: Sequence[float] | np.ndarray | None = None,
        scale: float = 0.1,
        direction: str = "finer",
        strength: float = 0.5,
        ratio_limits: tuple[float, float] = (0.25, 4.0),
        mutation_rate: float | None = None,
        step_spread: float = 0.5,
        dim: int | None = None,
        boundary: str = "reflect",
    ) -> None:
        if boundary not in ("clip", "reflect"):
            raise ValueError(f"unknown boundary {boundary!r}; choose 'clip' or 'reflect'")
        self.boundary = boundary
        self.direction = direction
        self.scales = perturbation_scales(
            sensitivity, scale, direction, strength, ratio_limits, dim
        )
        self.mutation_rate = mutation_rate
        self.step_spread = float(step_spread)

    @property
    def dim(self) -> int:
        return int(self.scales.size)

    def __call__(
        self,
        parents: np.ndarray,
        n: int | None = None,
        rng: np.random.Generator | int | None = None,
    ) -> np.ndarray:
        """Offspring of ``parents``.

        Args:
            parents: ``(p, d)`` points in the unit cube.
            n: number of offspring (parents drawn uniformly with replacement); ``None``
                gives one offspring per parent, in order.
            rng: random generator or seed.

        Returns:
            ``(n, d)`` offspring in the unit cube.
        """
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        parents = np.asarray(parents, dtype=float).reshape(-1, self.dim)
        if parents.shape[0] == 0:
            raise ValueError("need at least one parent")
        base = parents if n is None else parents[rng.integers(parents.shape[0], size=int(n))]
        q = base.shape[0]
        factor = np.exp(self.step_spread * rng.standard_normal((q, 1)))
        step = rng.standard_normal((q, self.dim)) * self.scales * factor
        if self.mutation_rate is not None and self.mutation_rate < 1:
            mask = rng.random((q, self.dim)) < self.mutation_rate
            mask[np.arange(q), rng.integers(self.dim, size=q)] = True
            step = step * mask
        if self.boundary == "clip":
            return np.clip(base + step, 0.0, 1.0)
        return reflect(base + step)


def reflect(U: np.ndarray) -> np.ndarray:
    """Fold points back into the unit cube (mirror at the faces, then clip)."""
    U = np.abs(U)
    U = np.where(U > 1.0, 2.0 - U, U)
    return np.clip(U, 0.0, 1.0)
