"""Helpers shared by the analytic test functions (private to the package).

:func:`_problem` turns a vectorised evaluation function into a
:class:`~botorch_joint.problems.base.Problem` (with :class:`BatchAsDict` as its point-wise
``evaluate``); the rest check inputs and sample two-objective Pareto sets: non-dominated
filtering, thinning by arc length and caching of the deterministic samplers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from botorch_joint.problems.base import Problem

#: A vectorised evaluation function, ``fn(X (n, d)) -> (Y (n, m), C (n, k))``.
BatchFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


class BatchAsDict:
    """Point-wise ``evaluate`` (``dict -> dict``) built on a vectorised function.

    Args:
        batch_fn: ``fn(X (n, d)) -> (Y (n, m), C (n, k))``.
        parameter_names: the ``d`` parameter names, in column order.
        objective_names: the ``m`` objective names.
        constraint_names: the ``k`` constraint names.
    """

    def __init__(
        self,
        batch_fn: BatchFn,
        parameter_names: Sequence[str],
        objective_names: Sequence[str],
        constraint_names: Sequence[str],
    ) -> None:
        self.batch_fn = batch_fn
        self.parameter_names = list(parameter_names)
        self.objective_names = list(objective_names)
        self.constraint_names = list(constraint_names)

    def __call__(self, params: Mapping[str, float]) -> dict[str, float]:
        x = np.array([[float(params[n]) for n in self.parameter_names]])
        Y, C = self.batch_fn(x)
        out = dict(zip(self.objective_names, Y[0].tolist()))
        out.update(zip(self.constraint_names, C[0].tolist()))
        return out


def _as_2d(X: np.ndarray, d: int) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n, {d}), got {X.shape}")
    return X


def _front_order(Y: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of a 2-objective ``Y`` (n, 2), sorted by f1."""
    order = np.lexsort((Y[:, 1], Y[:, 0]))
    f2 = Y[order, 1]
    best_before = np.minimum.accumulate(np.r_[np.inf, f2[:-1]])
    return order[f2 < best_before]


def _thin(Y: np.ndarray, n: int) -> np.ndarray:
    """Pick ``<= n`` indices of a sorted 2-D front ``Y`` (N, 2), evenly by arc length.

    Jumps between disconnected pieces carry no length, so every piece gets points in
    proportion to its own length.
    """
    N = Y.shape[0]
    if n >= N:
        return np.arange(N)
    if n <= 1:
        return np.arange(min(n, N))
    span = np.ptp(Y, axis=0)
    step = np.linalg.norm(np.diff(Y, axis=0) / np.where(span > 0, span, 1.0), axis=1)
    # A step far above the typical one is a gap between pieces of the front.
    step = np.where(step > 50.0 * max(np.median(step), 1e-15), 0.0, step)
    s = np.r_[0.0, np.cumsum(step)]
    idx = np.searchsorted(s, np.linspace(0.0, s[-1], n))
    idx = np.unique(np.clip(idx, 0, N - 1))
    if idx.size < n:  # fill up with evenly spaced indices not yet taken
        rest = np.setdiff1d(np.arange(N), idx)
        extra = rest[np.linspace(0, rest.size - 1, n - idx.size).round().astype(int)]
        idx = np.unique(np.r_[idx, extra])
    return idx


def _pareto_set_2d(eval_fn: BatchFn, X: np.ndarray, n: int) -> np.ndarray:
    """Keep the feasible non-dominated rows of candidates ``X`` and thin them to ``n``."""
    Y, C = eval_fn(X)
    ok = np.all(C >= 0, axis=1) & np.all(np.isfinite(Y), axis=1)
    X, Y = X[ok], Y[ok]
    keep = _front_order(Y)
    return X[keep][_thin(Y[keep], n)]


def _memoised(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """Cache a Pareto-set sampler (they are deterministic); callers get a fresh copy."""
    cached = functools.lru_cache(maxsize=8)(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> np.ndarray:
        return cached(*args, **kwargs).copy()

    return wrapper


def _front_from_set(set_fn: Callable[[int], np.ndarray], eval_fn: BatchFn, n: int) -> np.ndarray:
    """Objective vectors ``(n', m)`` of the Pareto-set sample ``set_fn(n)``."""
    return eval_fn(set_fn(n))[0]


def _problem(
    name: str,
    parameters: dict[str, tuple[float, float]],
    objectives: list[str],
    constraints: list[str],
    batch_fn: BatchFn,
    pareto_set: Callable[[int], np.ndarray] | None,
    ref_point: Sequence[float],
    max_hv: float | None,
    description: str,
    metadata: dict | None = None,
) -> Problem:
    front = None if pareto_set is None else functools.partial(_front_from_set, pareto_set, batch_fn)
    return Problem(
        name=name,
        parameters=parameters,
        objectives=objectives,
        constraints=constraints,
        evaluate=BatchAsDict(batch_fn, list(parameters), objectives, constraints),
        batch_evaluate=batch_fn,
        ref_point=ref_point,
        max_hv=max_hv,
        pareto_front=front,
        description=description,
        metadata=metadata,
    )
