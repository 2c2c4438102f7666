"""C2-DTLZ2 (Jain & Deb 2014) as a :class:`~botorch_joint.problems.base.Problem`.

Defined as pymoo 0.6.2's ``C2DTLZ2``, with ``C = -G``.

Deliberate difference from BoTorch 0.18.1's ``C2DTLZ2``: BoTorch subtracts ``r**2`` once
per objective in the "centre" term, which widens the central feasible disc to radius
``r * sqrt(m)`` (its ``max_hv`` 0.3996 belongs to that variant). Here the disc has radius
``r`` as in Jain & Deb (2014) and pymoo, giving a maximum hypervolume of 0.38233 at
``(1.1, 1.1)``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from botorch_joint.problems.base import Problem
from botorch_joint.problems.test_functions._common import _memoised, _pareto_set_2d, _problem

__all__ = ["c2dtlz2", "c2dtlz2_eval", "c2dtlz2_pareto_set"]


def c2dtlz2_eval(
    X: np.ndarray, num_objectives: int = 2, r: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """C2-DTLZ2 objectives and constraint (pymoo's ``C2DTLZ2``, ``C = -G``).

    Args:
        X: ``(n, d)`` points in ``[0, 1]^d``, ``d >= num_objectives``.
        num_objectives: ``m``.
        r: radius of the feasible discs around the ``m`` corners and the centre.

    Returns:
        ``Y (n, m)`` DTLZ2 objectives and ``C (n, 1)``: ``r**2`` minus the squared
        distance from ``Y`` to the nearest of ``e_1, ..., e_m`` and ``(1, ..., 1)/sqrt(m)``.
    """
    X = np.atleast_2d(np.asarray(X, dtype=float))
    m = num_objectives
    g = np.sum((X[:, m - 1 :] - 0.5) ** 2, axis=1)
    angles = X[:, : m - 1] * (np.pi / 2)
    Y = np.empty((X.shape[0], m))
    for i in range(m):
        f = (1.0 + g) * np.prod(np.cos(angles[:, : m - 1 - i]), axis=1)
        if i > 0:
            f = f * np.sin(angles[:, m - 1 - i])
        Y[:, i] = f
    sq = np.sum(Y**2, axis=1)
    # ||Y - e_i||^2 = sum(Y^2) - 2 Y_i + 1
    to_corner = np.min(sq[:, None] - 2.0 * Y + 1.0, axis=1)
    to_centre = np.sum((Y - 1.0 / math.sqrt(m)) ** 2, axis=1)
    C = r**2 - np.minimum(to_corner, to_centre)
    return Y, C[:, None]


@_memoised
def c2dtlz2_pareto_set(
    n: int, dim: int = 12, num_objectives: int = 2, r: float = 0.2, seed: int = 0
) -> np.ndarray:
    """About ``n`` points of the C2-DTLZ2 Pareto set, ``(n', dim)``.

    The front is the part of the unit sphere within ``r`` of a corner or the centre
    (``x_i = 0.5`` for the distance variables). For two objectives the three arcs are
    sampled evenly; for more, angles are drawn at random (``seed``) and filtered.
    """
    m = num_objectives
    if m == 2:
        half = 2.0 * math.asin(min(r / 2.0, 1.0)) * (1.0 - 1e-9)  # arc half-angle
        phi = np.linspace(0.0, np.pi / 2, max(8 * n, 20001))
        near = np.minimum(np.minimum(phi, np.pi / 2 - phi), np.abs(phi - np.pi / 4))
        phi = phi[near <= half]
        X = np.full((phi.size, dim), 0.5)
        X[:, 0] = phi / (np.pi / 2)
        return _pareto_set_2d(functools.partial(c2dtlz2_eval, num_objectives=2, r=r), X, n)
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        X = np.full((4 * n, dim), 0.5)
        X[:, : m - 1] = rng.random((4 * n, m - 1))
        _, C = c2dtlz2_eval(X, m, r)
        X = X[C[:, 0] >= 0]
        out.append(X)
        got += X.shape[0]
    return np.concatenate(out)[:n]


def _c2dtlz2_max_hv_2d(r: float, ref: float) -> float:
    """Exact hypervolume of the 2-objective C2-DTLZ2 front for the reference ``(ref, ref)``.

    The front is the union of unit-circle arcs ``phi in [a, b]`` (``f = (cos phi, sin phi)``);
    each arc contributes the area between ``ref`` and the circle, and each gap the
    rectangle below the last arc's end.
    """
    half = 2.0 * math.asin(min(r / 2.0, 1.0))
    arcs = [
        (max(c - half, 0.0), min(c + half, math.pi / 2)) for c in (math.pi / 2, math.pi / 4, 0.0)
    ]
    merged: list[list[float]] = []
    for a, b in sorted(arcs, key=lambda ab: -ab[1]):  # by f1 increasing
        if merged and b >= merged[-1][0]:
            merged[-1][0] = min(merged[-1][0], a)
        else:
            merged.append([a, b])

    def under_circle(x: float) -> float:  # integral of sqrt(1 - x^2)
        return 0.5 * (x * math.sqrt(max(1.0 - x * x, 0.0)) + math.asin(x))

    hv = 0.0
    for j, (a, b) in enumerate(merged):
        x0, x1 = math.cos(b), math.cos(a)
        hv += ref * (x1 - x0) - (under_circle(x1) - under_circle(x0))
        x_next = math.cos(merged[j + 1][1]) if j + 1 < len(merged) else ref
        hv += (ref - math.sin(a)) * (x_next - x1)
    return hv


def c2dtlz2(dim: int = 12, num_objectives: int = 2, r: float | None = None) -> Problem:
    """C2-DTLZ2 (Jain & Deb 2014), as defined by pymoo's ``C2DTLZ2``.

    DTLZ2 objectives on ``[0, 1]^dim`` with one constraint that is satisfied only within
    distance ``r`` of the ``m`` corner points ``e_i`` of the unit sphere or of its centre
    point ``(1, ..., 1)/sqrt(m)``, so the front is three disconnected arcs for ``m = 2``.

    * ``r``: pymoo's default, 0.2 for ``m = 2``, 0.4 for ``m = 3``, 0.5 otherwise.
    * Reference point ``(1.1, ..., 1.1)`` (as in BoTorch).
    * ``max_hv`` (``m = 2`` only): exact, by integrating under the three arcs:
      0.38233359 for ``r = 0.2`` (BoTorch's variant, with its wider centre disc, has
      0.40006; BoTorch's NSGA-II estimate for it is 0.39964). ``None`` for ``m > 2``.
    * ``pareto_front``: for ``m = 2`` the three arcs; for ``m > 2`` random points of
      the sphere caps inside the discs (pymoo's reference front).
    * Uniform random feasibility (``dim = 12, m = 2``, 10^6 draws, seed 0): 0.006 %,
      identical to pymoo (BoTorch's wider centre disc: 0.031 %). The 11 distance
      variables put ``g`` near 0.9, far outside the discs.

    Args:
        dim: number of variables ``x1..x{dim}`` (``>= num_objectives``).
        num_objectives: ``m >= 2``.
        r: disc radius; ``None`` for pymoo's default.
    """
    m = int(num_objectives)
    if m < 2 or dim < m:
        raise ValueError(
            f"c2dtlz2 needs num_objectives >= 2 and dim >= num_objectives, got {dim=}, {m=}"
        )
    if r is None:
        r = 0.2 if m == 2 else 0.4 if m == 3 else 0.5
    fn = functools.partial(c2dtlz2_eval, num_objectives=m, r=float(r))
    pset = functools.partial(c2dtlz2_pareto_set, dim=dim, num_objectives=m, r=float(r))
    return _problem(
        "c2dtlz2",
        {f"x{i + 1}": (0.0, 1.0) for i in range(dim)},
        [f"f{i + 1}" for i in range(m)],
        ["c1"],
        fn,
        pset,
        [1.1] * m,
        _c2dtlz2_max_hv_2d(float(r), 1.1) if m == 2 else None,
        f"C2-DTLZ2, {dim} variables, {m} objectives, 1 constraint (r={r})",
        {"r": float(r)},
    )
