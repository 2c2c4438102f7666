"""The last stage of the surrogate search: choosing the batch from the candidate pool.

:func:`select_in_stages` splits the batch into exploration, feasibility-seeking and
exploitation picks, each made by :func:`~botorch_joint.acquisition.ranking.select_batch`
(the greedy hypervolume, diversity and fill rules live there). The helpers say what
those picks read: :func:`objective_scaling` the scale of the objectives, and
:func:`exploration_log_p` (through :func:`tempered_log_p`) the P(feasible) of the
exploration stage, pulled towards 1/2 where the ensemble disagrees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from botorch_joint.acquisition.candidates import Observations, Predictions
from botorch_joint.acquisition.options import (
    EXPLORE_MIN_PROBABILITY,
    FEASIBILITY_THRESHOLD,
    MIN_DISTANCE,
    SearchOptions,
)
from botorch_joint.acquisition.ranking import select_batch

__all__ = [
    "exploration_log_p",
    "objective_scaling",
    "select_in_stages",
    "tempered_log_p",
]


def objective_scaling(Y: np.ndarray, feasible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ideal, scale)`` for the loss: minimum and range of the observed objectives.

    Uses the feasible rows when there are at least two, else every successful row. The
    range runs to the 90th percentile, so a few huge errors do not flatten the rest.

    Args:
        Y: ``(n, m)`` observed objectives (NaN rows for failed evaluations).
        feasible: ``(n,)`` observed feasibility.
    """
    ok = np.all(np.isfinite(Y), axis=1)
    rows = Y[ok & feasible] if (ok & feasible).sum() >= 2 else Y[ok]
    m = Y.shape[1]
    if rows.shape[0] == 0:
        return np.zeros(m), np.ones(m)
    lo = rows.min(axis=0)
    span = np.percentile(rows, 90, axis=0) - lo
    span = np.where(span > 0, span, rows.max(axis=0) - lo)
    return lo, np.where(span > 0, span, 1.0)


def select_in_stages(
    U: np.ndarray,
    pred: Predictions,
    obs: Observations,
    ref: np.ndarray | None,
    n: int,
    n_explore: int,
    seek: bool,
    options: SearchOptions,
    rng: np.random.Generator,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The batch from the pool, in three stages that each avoid what came before.

    1. exploration: up to ``n_explore`` picks by optimistic hypervolume improvement
       over the observed front (models with a predictive spread only);
    2. while ``seek``: half of what is left by P(feasible) alone;
    3. the rest: hypervolume improvement times P(feasible), then diversity, then
       the unified loss with equal weights.

    Args:
        U: ``(N, d)`` the pool's candidates in the unit cube.
        pred: their predictions.
        obs: the evaluations (never repeated; their front is the baseline).
        ref: ``(m,)`` reference point of the hypervolume stages, or ``None`` (nothing
            succeeded yet: no exploration stage).
        n: batch size.
        n_explore: the most exploration picks.
        seek: no evaluation is feasible yet (``feasibility_first``).
        options: the search's resolved options (``explore_tempering`` not ``None``).
        rng: random generator of the selection.

    Returns:
        ``(indices, predicted_feasible)`` of each stage, in order.
    """
    front = obs.Y[obs.ok & obs.feasible]
    tempering = options.explore_tempering or 0.0  # resolved: never None here
    common: dict[str, Any] = {
        "feasibility_threshold": FEASIBILITY_THRESHOLD,
        "min_distance": MIN_DISTANCE,
        "ref_point": ref,
        "rng": rng,
    }
    none = (np.empty(0, dtype=int), np.empty(0, dtype=bool))
    explore = none
    U_avoid = obs.U
    if n_explore and ref is not None and pred.obj_std is not None:
        # Optimistic objectives against the observed front only.
        explore = select_batch(
            U,
            pred.obj - options.explore_weight * pred.obj_std,
            exploration_log_p(pred.log_p, pred.obj_std, obs.scale, tempering),
            n_explore,
            U_avoid=U_avoid,
            fill=False,
            diversify=False,
            **common,
            hvi_min_probability=EXPLORE_MIN_PROBABILITY,
        )
        U_avoid = np.vstack([U_avoid, U[explore[0]]])
    seeking = none
    if seek:
        seeking = select_batch(
            U,
            pred.obj,
            pred.log_p,
            (n - len(explore[0])) // 2,
            U_avoid=U_avoid,
            fill_score=None if pred.log_p is None else -pred.log_p,
            front=front,
            **common,
        )
        U_avoid = np.vstack([U_avoid, U[seeking[0]]])
    # Too few predicted-feasible candidates: top up by the unified loss with equal
    # weights, so the feasibility term leads far from feasibility and the
    # objectives decide between candidates that are about equally likely feasible.
    fill = ((pred.obj - obs.ideal) / obs.scale).mean(axis=1)
    if pred.log_p is not None:
        fill = fill - options.feasibility_weight * pred.log_p
    exploit = select_batch(
        U,
        pred.obj,
        pred.log_p,
        n - len(explore[0]) - len(seeking[0]),
        U_avoid=U_avoid,
        fill_score=fill,
        front=front,
        **common,
    )
    return [explore, seeking, exploit]


def exploration_log_p(
    log_p: np.ndarray | None, obj_std: np.ndarray, scale: np.ndarray, tempering: float
) -> np.ndarray | None:
    """The log P(feasible) the exploration stage uses (see ``explore_tempering``).

    Args:
        log_p: ``(N,)`` log P(feasible), or ``None`` (no feasibility prediction).
        obj_std: ``(N, m)`` predictive standard deviations of the objectives.
        scale: ``(m,)`` objective scale (as from :func:`objective_scaling`).
        tempering: ``explore_tempering``; 0 returns ``log_p`` unchanged.

    Returns:
        ``(N,)`` log P pulled towards 1/2 by the mean normalised spread, or ``None``.
    """
    if log_p is None or tempering <= 0:
        return log_p
    spread = (np.asarray(obj_std, float) / np.asarray(scale, float)).mean(axis=1)
    return tempered_log_p(log_p, spread / tempering)


def tempered_log_p(log_p: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """``log sigmoid(logit(p) / sqrt(1 + ratio^2))``: P(feasible) pulled towards 1/2.

    With ``ratio = sqrt(pi / 8) * sigma``, this is the probit approximation of
    ``E[sigmoid(l)]`` for a logit ``l ~ N(logit(p), sigma^2)``.

    Args:
        log_p: ``(N,)`` log probabilities.
        ratio: ``(N,)`` non-negative; 0 leaves ``p`` unchanged.

    Returns:
        ``(N,)`` tempered log probabilities (monotone in ``log_p`` for a fixed ratio).
    """
    lp = np.minimum(np.asarray(log_p, float), -1e-12)
    logit = lp - np.log(-np.expm1(lp))
    z = logit / np.sqrt(1.0 + np.asarray(ratio, float) ** 2)
    return -np.logaddexp(0.0, -z)
