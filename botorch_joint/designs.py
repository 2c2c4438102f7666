"""Space-filling initial designs on the unit cube.

Every design is a function ``(n, d, seed) -> (n, d)`` array in ``[0, 1]^d``; map it to a
problem's box with :meth:`botorch_joint.Problem.from_unit`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import qmc

Design = Callable[[int, int, int | np.random.Generator | None], np.ndarray]


def _rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check(n: int, d: int) -> None:
    if int(n) != n or n < 1:
        raise ValueError(f"design size n must be a positive integer, got {n!r}")
    if int(d) != d or d < 1:
        raise ValueError(f"design dimension d must be a positive integer, got {d!r}")


def mc(n: int, d: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Independent uniform (Monte Carlo) samples, ``(n, d)``."""
    _check(n, d)
    return _rng(seed).random((n, d))


def lh(n: int, d: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Latin hypercube: one point in each of ``n`` equal slices of every axis, ``(n, d)``."""
    _check(n, d)
    return qmc.LatinHypercube(d=d, seed=_rng(seed)).random(n)


def slh(n: int, d: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Symmetric Latin hypercube, ``(n, d)``.

    A Latin hypercube whose points come in pairs mirrored through the centre of the cube
    (``x`` and ``1 - x``), which balances main effects. Strata are cell centres, as in
    Ye, Li and Sudjianto (2000). For odd ``n`` the centre point is included.
    """
    _check(n, d)
    rng = _rng(seed)
    half = n // 2
    levels = np.empty((n, d))
    for j in range(d):
        # Rows i < half take one level of each mirrored pair {l, n-1-l}; row n-1-i the other.
        low = rng.permutation(half).astype(float)
        first = np.where(rng.random(half) < 0.5, n - 1 - low, low)
        levels[:half, j] = first
        levels[n - half :, j] = (n - 1 - first)[::-1]
        if n % 2:
            levels[half, j] = (n - 1) / 2
    return ((levels + 0.5) / n)[rng.permutation(n)]


def sobol(n: int, d: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Scrambled Sobol' sequence, ``(n, d)``; the first ``n`` points of one sequence."""
    _check(n, d)
    import warnings

    engine = qmc.Sobol(d=d, scramble=True, seed=_rng(seed))
    with warnings.catch_warnings():
        # Sobol' balance needs powers of two; prefixes of other lengths are still valid.
        warnings.simplefilter("ignore", UserWarning)
        return engine.random(n)


DESIGNS: dict[str, Design] = {"slh": slh, "lh": lh, "mc": mc, "sobol": sobol}


def get_design(name: str) -> Design:
    """The design function called ``name`` (one of ``slh``, ``lh``, ``mc``, ``sobol``)."""
    try:
        return DESIGNS[name]
    except KeyError:
        raise ValueError(
            f"unknown initial design {name!r}; choose one of {list(DESIGNS)}"
        ) from None


def sample(name: str, n: int, d: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """``n`` points of design ``name`` in ``[0, 1]^d``, shape ``(n, d)``."""
    return get_design(name)(n, d, seed)


def default_n_initial(dim: int, budget: int, batch_size: int) -> int:
    """Initial design size: ``max(2 (d + 1), batch_size)``, at most half the budget.

    The one rule that the run loop, the strategies and the Ax nodes share; it lives with
    the designs so that none of them imports another for it.
    """
    n = max(2 * (dim + 1), batch_size)
    return int(max(1, min(n, budget // 2 if budget >= 2 else budget)))
