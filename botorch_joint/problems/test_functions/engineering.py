"""Design problems with several constraints: disc brake, welded beam and OSY.

The welded beam and OSY (Osyczka & Kundu 1995) are defined as in pymoo 0.6.2, with
``C = -G``; the disc brake, which pymoo lacks, follows BoTorch 0.18.1 (checked against
its paper).

Deliberate differences from BoTorch 0.18.1's ``multi_objective`` test functions:

* ``WeldedBeam``: BoTorch returns pymoo's ``G`` as its slack, i.e. the constraint signs
  are flipped (0.56 % of uniform points count as feasible instead of 31.74 %). Here
  ``C = -G``.
* ``OSY``: pymoo scales each constraint by a positive constant (e.g. ``g1 / 2``); we
  keep pymoo's scaling, so values differ from BoTorch's unscaled ones by those factors
  while feasibility is identical.
"""

from __future__ import annotations

import math

import numpy as np

from botorch_joint.problems.base import Problem
from botorch_joint.problems.test_functions._common import (
    _as_2d,
    _memoised,
    _pareto_set_2d,
    _problem,
)

__all__ = [
    "discbrake",
    "discbrake_eval",
    "discbrake_pareto_set",
    "osy",
    "osy_eval",
    "osy_pareto_set",
    "weldedbeam",
    "weldedbeam_eval",
    "weldedbeam_pareto_set",
]


# ----------------------------------------------------------------------- Disc brake
_DISCBRAKE_BOUNDS = {
    "inner_radius": (55.0, 80.0),
    "outer_radius": (75.0, 110.0),
    "engaging_force": (1000.0, 3000.0),
    "num_friction_surfaces": (11.0, 20.0),
}


def discbrake_eval(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disc brake design (Ray & Liew 2002; RE3-4-3 of Tanabe & Ishibuchi 2020).

    Args:
        X: ``(n, 4)`` inner radius [mm], outer radius [mm], engaging force [N] and
            number of friction surfaces (continuous here, as in BoTorch).

    Returns:
        ``Y (n, 2)`` brake mass and stopping time; ``C (n, 4)``: minimum radius gap,
        pressure, temperature and torque constraints (BoTorch's ``DiscBrake`` slack).
    """
    X = _as_2d(X, 4)
    x1, x2, x3, x4 = X.T
    sq = x2**2 - x1**2
    cu = x2**3 - x1**3
    Y = np.column_stack([4.9e-5 * sq * (x4 - 1.0), 9.82e6 * sq / (x3 * x4 * cu)])
    C = np.column_stack(
        [
            x2 - x1 - 20.0,
            0.4 - x3 / (3.14 * sq),
            1.0 - 2.22e-3 * x3 * cu / sq**2,
            2.66e-2 * x3 * x4 * cu / sq - 900.0,
        ]
    )
    return Y, C


@_memoised
def discbrake_pareto_set(n: int) -> np.ndarray:
    """About ``n`` points of the disc-brake Pareto set, ``(n', 4)``.

    Found by inspection and checked with multi-start SLSQP (epsilon-constraint): the
    force is always at its maximum 3000 and the front has three segments, (1) the
    radius-gap constraint active (``outer = inner + 20``, 11 surfaces) for inner radius
    55..80, (2) radii 80/100 with 11..20 surfaces, (3) inner 80, 20 surfaces, outer
    100..110.
    """
    k = max(4 * n, 4001)
    t = np.linspace(0.0, 1.0, k)
    one = np.ones(k)
    inner = 55.0 + 25.0 * t
    seg1 = np.column_stack([inner, inner + 20.0 + 1e-9, 3000.0 * one, 11.0 * one])
    seg2 = np.column_stack([80.0 * one, (100.0 + 1e-9) * one, 3000.0 * one, 11.0 + 9.0 * t])
    seg3 = np.column_stack([80.0 * one, 100.0 + 1e-9 + 10.0 * t, 3000.0 * one, 20.0 * one])
    X = np.clip(np.concatenate([seg1, seg2, seg3]), 0.0, [80.0, 110.0, 3000.0, 20.0])
    return _pareto_set_2d(discbrake_eval, X, n)


# Hypervolume of the three-segment front at BoTorch's reference point: the 2-D
# staircase sum over 10^7 points per segment lies in [11.2231141, 11.2231143].
_DISCBRAKE_MAX_HV = 11.2231142


def discbrake() -> Problem:
    """Disc brake design: 4 variables, 2 objectives (mass, stopping time), 4 constraints.

    Not in pymoo; definition of Ray & Liew (2002) as in Tanabe & Ishibuchi's RE33
    (without its third, constraint-violation objective) and BoTorch's ``DiscBrake``.

    * Reference point ``(5.7771, 3.9651)`` (BoTorch's).
    * ``max_hv`` = 11.2231142: no published value; computed from the exact
      three-segment front of :func:`discbrake_pareto_set` (10^7 points per segment).
    * Uniform random feasibility (10^6 draws, seed 0): 64.25 % (BoTorch: identical
      values).
    """
    return _problem(
        "discbrake",
        dict(_DISCBRAKE_BOUNDS),
        ["mass", "stopping_time"],
        ["radius_gap", "pressure", "temperature", "torque"],
        discbrake_eval,
        discbrake_pareto_set,
        [5.7771, 3.9651],
        _DISCBRAKE_MAX_HV,
        "Disc brake design: 4 variables, 2 objectives, 4 constraints",
    )


# ---------------------------------------------------------------------- Welded beam
_WB_P, _WB_L, _WB_TMAX, _WB_SMAX = 6000.0, 14.0, 13600.0, 30000.0


def _wb_shear(x1: np.ndarray, x2: np.ndarray, x3: np.ndarray) -> np.ndarray:
    """Shear stress in the weld (pymoo's expression)."""
    R = np.sqrt(0.25 * (x2**2 + (x1 + x3) ** 2))
    M = _WB_P * (_WB_L + x2 / 2.0)
    J = 2.0 * math.sqrt(0.5) * x1 * x2 * (x2**2 / 12.0 + 0.25 * (x1 + x3) ** 2)
    t1 = _WB_P / (math.sqrt(2.0) * x1 * x2)
    t2 = M * R / J
    return np.sqrt(t1**2 + t2**2 + t1 * t2 * x2 / R)


def _wb_buckling(x3: np.ndarray, x4: np.ndarray) -> np.ndarray:
    return 64746.022 * (1.0 - 0.0282346 * x3) * x3 * x4**3


def weldedbeam_eval(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welded beam design, pymoo's ``WeldedBeam`` with ``C = -G``.

    Args:
        X: ``(n, 4)`` weld thickness ``h``, weld length ``l``, bar height ``t`` and
            bar thickness ``b``.

    Returns:
        ``Y (n, 2)`` cost and end deflection; ``C (n, 4)`` normalised slacks of the
        shear stress, normal stress, ``h <= b`` and buckling-load constraints.
    """
    X = _as_2d(X, 4)
    x1, x2, x3, x4 = X.T
    f1 = 1.10471 * x1**2 * x2 + 0.04811 * x3 * x4 * (14.0 + x2)
    f2 = 2.1952 / (x4 * x3**3)
    s = 6.0 * _WB_P * _WB_L / (x4 * x3**2)
    C = np.column_stack(
        [
            (_WB_TMAX - _wb_shear(x1, x2, x3)) / _WB_TMAX,
            (_WB_SMAX - s) / _WB_SMAX,
            (x4 - x1) / (5.0 - 0.125),
            (_wb_buckling(x3, x4) - _WB_P) / _WB_P,
        ]
    )
    return np.column_stack([f1, f2]), C


def _wb_min_weld_length(x1: np.ndarray, x3: np.ndarray) -> np.ndarray:
    """Shortest weld length in [0.1, 10] meeting the shear limit (NaN where none does).

    The shear stress decreases monotonically with the weld length, so bisect; the
    returned end of the bracket is on the feasible side.
    """
    lo = np.full(x1.shape, 0.1)
    hi = np.full(x1.shape, 10.0)
    ok_lo = _wb_shear(x1, lo, x3) <= _WB_TMAX
    ok_hi = _wb_shear(x1, hi, x3) <= _WB_TMAX
    for _ in range(46):  # 9.9 / 2**46 ~ 1e-13
        mid = 0.5 * (lo + hi)
        good = _wb_shear(x1, mid, x3) <= _WB_TMAX
        hi = np.where(good, mid, hi)
        lo = np.where(good, lo, mid)
    return np.where(ok_lo, 0.1, np.where(ok_hi, hi, np.nan))


def _wb_weld_cost(h: np.ndarray, t: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cost with the shortest admissible weld for thickness ``h`` (inf if none)."""
    length = _wb_min_weld_length(h, t)
    cost = 1.10471 * h**2 * length + 0.04811 * t * b * (14.0 + length)
    return np.where(np.isnan(cost), np.inf, cost)


def _wb_best_weld(x3: np.ndarray, x4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest weld ``(h, l)`` for given bar dimensions ``(t, b)`` (arrays ``(k,)``).

    Minimises the cost over ``h in [0.125, b]`` (33-point grid, then golden section
    around the best grid point) with ``l`` the shortest weld meeting the shear limit;
    the other constraints do not involve the weld.
    """
    G = 33
    hmax = np.maximum(x4, 0.125)
    H = 0.125 + (hmax - 0.125)[:, None] * np.linspace(0.0, 1.0, G)[None, :]
    grid_cost = _wb_weld_cost(
        H, np.broadcast_to(x3[:, None], H.shape), np.broadcast_to(x4[:, None], H.shape)
    )
    rows = np.arange(x3.size)
    j = np.argmin(grid_cost, axis=1)
    a = H[rows, np.maximum(j - 1, 0)]
    b = H[rows, np.minimum(j + 1, G - 1)]
    invphi = (math.sqrt(5.0) - 1.0) / 2.0
    c1, c2 = b - invphi * (b - a), a + invphi * (b - a)
    f1, f2 = _wb_weld_cost(c1, x3, x4), _wb_weld_cost(c2, x3, x4)
    for _ in range(40):  # bracket shrinks to 0.618**40 ~ 4e-9 of a grid cell
        left = f1 <= f2
        b = np.where(left, c2, b)
        a = np.where(left, a, c1)
        new = np.where(left, b - invphi * (b - a), a + invphi * (b - a))
        f_new = _wb_weld_cost(new, x3, x4)
        c2, f2 = np.where(left, c1, new), np.where(left, f1, f_new)
        c1, f1 = np.where(left, new, c1), np.where(left, f_new, f1)
    # The golden-section result, unless the best grid point (e.g. h = b) is cheaper.
    h = np.where(np.minimum(f1, f2) <= grid_cost[rows, j], np.where(f1 <= f2, c1, c2), H[rows, j])
    return h, _wb_min_weld_length(h, x3)


@_memoised
def weldedbeam_pareto_set(n: int) -> np.ndarray:
    """About ``n`` points of the welded-beam Pareto set, ``(n', 4)``.

    For bar dimensions ``(t, b)`` the deflection is fixed and the cheapest weld is a
    1-D problem (:func:`_wb_best_weld`). Along the front (checked by brute force over
    ``t`` for fixed deflection, and by multi-start SLSQP) the bar is either as thin as
    buckling and bending allow for its height ``t`` (``t`` from the minimum-cost design
    at 8.29 up to 10) or at full height ``t = 10`` with thickness ``b`` from the
    buckling limit up to 5.
    """
    k = max(2 * n, 1001)
    t = np.linspace(7.5, 10.0, k)
    b_min = np.maximum(
        (_WB_P / (64746.022 * (1.0 - 0.0282346 * t) * t)) ** (1.0 / 3.0) * (1.0 + 1e-12),
        6.0 * _WB_P * _WB_L / (_WB_SMAX * t**2) * (1.0 + 1e-12),
    )
    b_full = np.geomspace(b_min[-1], 5.0, k)
    T = np.r_[t, np.full(k, 10.0)]
    B = np.minimum(np.r_[b_min, b_full], 5.0)
    h, length = _wb_best_weld(T, B)
    X = np.column_stack([h, length, T, B])
    return _pareto_set_2d(weldedbeam_eval, X[np.all(np.isfinite(X), axis=1)], n)


# Hypervolume of the front of weldedbeam_pareto_set at (40, 0.015): the staircase sums
# below and above the curve at 5000 and 20000 points (0.5130596 / 0.5131068 and
# 0.5130773 / 0.5130891) both extrapolate (error ~ 1/N) to 0.513083.
_WELDEDBEAM_MAX_HV = 0.513083


def weldedbeam() -> Problem:
    """Two-objective welded beam design, as defined by pymoo's ``WeldedBeam``.

    4 variables (``h, l, t, b``), 2 objectives (cost, deflection), 4 constraints.
    BoTorch 0.18.1's ``WeldedBeam`` has the constraint signs flipped; this one does not.

    * Reference point ``(40, 0.015)`` (BoTorch's).
    * ``max_hv`` = 0.513083: pymoo's front file is downloaded at runtime and BoTorch
      gives none; computed from the front of :func:`weldedbeam_pareto_set` (densely
      sampled, extrapolated in the sample size).
    * Uniform random feasibility (10^6 draws, seed 0): 31.74 %, identical to pymoo
      (BoTorch 0.18.1, with flipped signs: 0.56 %).
    """
    return _problem(
        "weldedbeam",
        {
            "weld_thickness": (0.125, 5.0),
            "weld_length": (0.1, 10.0),
            "bar_height": (0.1, 10.0),
            "bar_thickness": (0.125, 5.0),
        },
        ["cost", "deflection"],
        ["shear_stress", "normal_stress", "weld_thinner_than_bar", "buckling_load"],
        weldedbeam_eval,
        weldedbeam_pareto_set,
        [40.0, 0.015],
        _WELDEDBEAM_MAX_HV,
        "Welded beam design: 4 variables, 2 objectives, 4 constraints",
    )


# ----------------------------------------------------------------------------- OSY
_OSY_LOWER = np.array([0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
_OSY_UPPER = np.array([10.0, 10.0, 5.0, 6.0, 5.0, 10.0])


def osy_eval(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OSY (Osyczka & Kundu 1995), pymoo's ``OSY`` with ``C = -G`` (pymoo's scaling).

    Args:
        X: ``(n, 6)`` points in pymoo's box.

    Returns:
        ``Y (n, 2)`` and ``C (n, 6)``.
    """
    x = _as_2d(X, 6)
    f1 = -(
        25.0 * (x[:, 0] - 2.0) ** 2
        + (x[:, 1] - 2.0) ** 2
        + (x[:, 2] - 1.0) ** 2
        + (x[:, 3] - 4.0) ** 2
        + (x[:, 4] - 1.0) ** 2
    )
    f2 = np.sum(x**2, axis=1)
    C = np.column_stack(
        [
            (x[:, 0] + x[:, 1] - 2.0) / 2.0,
            (6.0 - x[:, 0] - x[:, 1]) / 6.0,
            (2.0 - x[:, 1] + x[:, 0]) / 2.0,
            (2.0 - x[:, 0] + 3.0 * x[:, 1]) / 2.0,
            (4.0 - (x[:, 2] - 3.0) ** 2 - x[:, 3]) / 4.0,
            ((x[:, 4] - 3.0) ** 2 + x[:, 5] - 4.0) / 4.0,
        ]
    )
    return np.column_stack([f1, f2]), C


@_memoised
def osy_pareto_set(n: int) -> np.ndarray:
    """About ``n`` points of the OSY Pareto set, ``(n', 6)``.

    The five segments given by Deb (2001), each with ``x4 = x6 = 0``:
    ``x = (5, 1, x3, 0, 5|1, 0)`` for ``x3 in [1, 5]``; ``x2 = (x1 - 2)/3``, ``x3 = x5 = 1``;
    ``x = (0, 2, x3, 0, 1, 0)``; and ``x2 = 2 - x1``, ``x3 = x5 = 1``. Sampled densely and
    filtered to the non-dominated part (checked by multi-start SLSQP).
    """
    k = max(4 * n, 4001)
    t = np.linspace(0.0, 1.0, k)
    zero, one = np.zeros(k), np.ones(k)
    x3 = 1.0 + 4.0 * t
    ab = np.column_stack([5 * one, one, x3, zero, 5 * one, zero])
    bc = np.column_stack([5 * one, one, x3, zero, one, zero])
    x1 = 2.0 + 3.0 * t
    cd = np.column_stack([x1, (x1 - 2.0) / 3.0 + 1e-12, one, zero, one, zero])
    de = np.column_stack([zero, 2 * one, x3, zero, one, zero])
    x1 = 2.0 * t
    ef = np.column_stack([x1, 2.0 - x1 + 1e-12, one, zero, one, zero])
    X = np.clip(np.concatenate([ab, bc, cd, de, ef]), _OSY_LOWER, _OSY_UPPER)
    return _pareto_set_2d(osy_eval, X, n)


# Hypervolume of the five-segment front at (-75, 75): the staircase sums below and
# above the curve at 4 x 10^6 points per segment are 10108.4105 and 10108.4117.
_OSY_MAX_HV = 10108.411


def osy() -> Problem:
    """OSY (Osyczka & Kundu 1995), as defined by pymoo's ``OSY``.

    6 variables, 2 objectives, 6 constraints (pymoo's scaling: ``g1/2, g2/6, ...``).

    * Reference point ``(-75, 75)`` (BoTorch's); it cuts off the front's ends
      ``f1 > -75`` and ``f2 > 75``.
    * ``max_hv`` = 10108.411: computed from the analytic five-segment front of
      :func:`osy_pareto_set` (4 x 10^6 points per segment).
    * Uniform random feasibility (10^6 draws, seed 0): 3.24 %, identical to pymoo.
    """
    return _problem(
        "osy",
        {
            f"x{i + 1}": (float(lo), float(hi))
            for i, (lo, hi) in enumerate(zip(_OSY_LOWER, _OSY_UPPER))
        },
        ["f1", "f2"],
        [f"c{i + 1}" for i in range(6)],
        osy_eval,
        osy_pareto_set,
        [-75.0, 75.0],
        _OSY_MAX_HV,
        "OSY: 6 variables, 2 objectives, 6 constraints",
    )
