"""MW7 (Ma & Wang 2019) as a :class:`~botorch_joint.problems.base.Problem`.

Defined as pymoo 0.6.2's ``MW7``, with ``C = -G``.
"""

from __future__ import annotations

import functools

import numpy as np

from botorch_joint.problems.base import Problem
from botorch_joint.problems.test_functions._common import _memoised, _pareto_set_2d, _problem

__all__ = ["mw7", "mw7_eval", "mw7_pareto_set"]


def _mw7_radius_bounds(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feasible objective-space radius ``[low, high]`` of MW7 along the angle ``theta``."""
    s = np.sin(4.0 * theta)
    return 1.15 - 0.2 * s**8, 1.2 + 0.4 * s**16


def mw7_eval(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MW7 (Ma & Wang 2019) objectives and constraints, pymoo's ``MW7`` with ``C = -G``.

    Args:
        X: ``(n, d)`` points in ``[0, 1]^d``, ``d >= 2``.

    Returns:
        ``Y (n, 2)`` and ``C (n, 2)``: with ``rho = |Y|`` and ``theta = atan(f2 / f1)``,
        ``c1 = hi(theta)^2 - rho^2`` and ``c2 = rho^2 - lo(theta)^2`` where
        ``hi = 1.2 + 0.4 sin(4 theta)^16`` and ``lo = 1.15 - 0.2 sin(4 theta)^8``.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    g = 1.0 + np.sum(2.0 * (X[:, 1:] + (X[:, :-1] - 0.5) ** 2 - 1.0) ** 2, axis=1)
    f1 = g * X[:, 0]
    f2 = g * np.sqrt(1.0 - X[:, 0] ** 2)
    theta = np.arctan2(f2, f1)  # = arctan(f2 / f1) on the positive quadrant, pi/2 at f1 = 0
    lo, hi = _mw7_radius_bounds(theta)
    rho2 = f1**2 + f2**2
    return np.column_stack([f1, f2]), np.column_stack([hi**2 - rho2, rho2 - lo**2])


@_memoised
def mw7_pareto_set(n: int, dim: int = 15) -> np.ndarray:
    """About ``n`` points of the MW7 Pareto set, ``(n', dim)``.

    Every radius ``rho >= 1`` is attainable along every angle, so the attainable
    feasible set's lower boundary is ``rho = max(1, lo(theta))``; its non-dominated
    part (three pieces) is the front. ``x1 = cos(theta)``, and ``x2`` sets
    ``g = rho`` while ``x3..`` follow the chain ``x_{i+1} = 1 - (x_i - 0.5)^2``
    that keeps their terms of ``g`` at zero.
    """
    theta = np.linspace(0.0, np.pi / 2, max(8 * n, 40001))
    lo, _ = _mw7_radius_bounds(theta)
    rho = np.maximum(1.0, lo * (1.0 + 1e-12))
    X = np.empty((theta.size, dim))
    X[:, 0] = np.cos(theta)
    X[:, 1] = 1.0 - (X[:, 0] - 0.5) ** 2 - np.sqrt((rho - 1.0) / 2.0)
    for i in range(2, dim):
        X[:, i] = 1.0 - (X[:, i - 1] - 0.5) ** 2
    return _pareto_set_2d(mw7_eval, X, n)


# Hypervolume of the exact MW7 front at (1.2, 1.2): the staircase sums below and above
# the non-dominated part of rho = max(1, lo(theta)) at 10^7 angles are 0.50440471 and
# 0.50440479.
_MW7_MAX_HV = 0.5044048


def mw7(dim: int = 15) -> Problem:
    """MW7 (Ma & Wang 2019), as defined by pymoo's ``MW7`` (default 15 variables).

    Two objectives, two constraints; the front has three disconnected pieces.

    * Reference point ``(1.2, 1.2)`` (BoTorch's).
    * ``max_hv`` = 0.5044048: no published value; computed from the exact front
      (see :func:`mw7_pareto_set`) sampled at 10^7 angles.
    * Uniform random feasibility (``dim = 15``, 10^6 draws, seed 0): 0 %, as in pymoo:
      the 14 distance terms put ``|Y| = g`` far outside the feasible annulus.

    Args:
        dim: number of variables ``x1..x{dim}`` (``>= 2``).
    """
    if dim < 2:
        raise ValueError(f"mw7 needs dim >= 2, got {dim}")
    return _problem(
        "mw7",
        {f"x{i + 1}": (0.0, 1.0) for i in range(dim)},
        ["f1", "f2"],
        ["c1", "c2"],
        mw7_eval,
        functools.partial(mw7_pareto_set, dim=dim),
        [1.2, 1.2],
        _MW7_MAX_HV,
        f"MW7, {dim} variables, 2 objectives, 2 constraints",
    )
