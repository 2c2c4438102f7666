"""The per-epoch search on the surrogate: evolve, refine by CGD, select a batch.

One call of :meth:`SurrogateSearch.propose` runs entirely on the surrogate (no true
evaluations):

1. **Parents.** Evaluated points ranked by their *observed* feasibility (Deb's rule:
   feasible points by Pareto rank, then infeasible ones by aggregate violation, failed
   ones last), plus a share of fresh uniform samples.
2. **Evolution.** A few generations of NSGA-II on the surrogate: binary tournaments,
   uniform crossover, :class:`SensitivityWeightedPerturbation` offspring, and
   survival by *predicted*-feasibility-aware non-dominated sorting (a candidate counts
   as feasible when ``P(all constraints) >= threshold``; infeasible ones rank by
   ``log threshold - log P``) with crowding.
3. **Refinement.** :class:`ConstraintGradientDescent` from the population's best, the
   best evaluated points and fresh samples; every iterate is a trace sample.
4. **Selection.** From everything predicted on the way (population archive and trace
   samples) :func:`~botorch_joint.acquisition.ranking.select_batch` picks the batch,
   never repeating an evaluated point: first, greedily, the predicted-feasible
   candidates with the largest predicted hypervolume improvement times P(feasible)
   (quality and spread), then the rest of the predicted Pareto fronts thinned by
   maximum diversity across objectives; too few predicted-feasible candidates are
   topped up by the unified loss, spread out in the input space. A share of the batch
   (``explore_fraction``) is chosen first
   the same way but on optimistic objectives ``mu - explore_weight * sigma``, from a
   pool that also holds *probes* (the best evaluated points with one coordinate
   redrawn): exploration where the surrogate has no data. There a classifier's
   P(feasible) is tempered towards 1/2 by the ensemble's objective spread
   (``explore_tempering``).

Without feasibility information (``o-`` models, or ``use_feasibility=False``) every
candidate counts as feasible: candidates are chosen on objectives alone, and
constraints act only through step 1, which starts the search from the evaluated
points that were observed feasible (or least infeasible).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from botorch_joint.acquisition.descent import ConstraintGradientDescent
from botorch_joint.acquisition.loss import outcomes
from botorch_joint.acquisition.options import (
    CGD_LR,
    CGD_LR_FINAL,
    CROSSOVER_RATE,
    EXPLORE_MIN_PROBABILITY,
    EXPLORE_PARENTS,
    EXPLORE_PROBES,
    FEASIBILITY_ONLY,
    FEASIBILITY_THRESHOLD,
    MIN_DISTANCE,
    PERTURBATION_DIRECTION,
    PERTURBATION_STRENGTH,
    RANDOM_FRACTION,
    SearchOptions,
)
from botorch_joint.acquisition.perturbation import SensitivityWeightedPerturbation
from botorch_joint.acquisition.ranking import (
    observed_violation,
    select_batch,
    survival,
)

__all__ = [
    "SearchOptions",
    "SearchResult",
    "SurrogateSearch",
    "exploration_log_p",
    "objective_scaling",
    "tempered_log_p",
]

#: Floating type of the candidates fed to the model.
DTYPE = torch.float64


@dataclass
class SearchResult:
    """A proposed batch and what the surrogate predicts for it.

    Attributes:
        X: ``(q, d)`` points in the problem's units.
        obj: ``(q, m)`` predicted objectives.
        obj_std: ``(q, m)`` predictive standard deviations, or ``None``.
        p_feasible: ``(q,)`` predicted P(all constraints hold), or ``None``.
        predicted_feasible: ``(q,)`` chosen as predicted feasible.
        info: counts and timings (JSON-serialisable).
    """

    X: np.ndarray
    obj: np.ndarray
    obj_std: np.ndarray | None
    p_feasible: np.ndarray | None
    predicted_feasible: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


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


class SurrogateSearch:
    """Population search plus constraint-gradient refinement on a fitted surrogate.

    Args:
        model: fitted surrogate (prediction protocol of :mod:`botorch_joint.models`). A
            true ``classifier_feasibility`` attribute (as on
            :class:`~botorch_joint.models.JointSurrogate`) says its feasibility comes
            from classifiers, which sets the ``None`` defaults of ``options``.
        bounds: ``(2, d)`` box in the problem's units.
        sensitivity: ``(d,)`` sensitivity indices for the perturbation (``None``:
            uniform steps).
        use_feasibility: use the model's feasibility predictions (``False`` for ``o-``).
        feasibility_mask: ``(k,)`` which constraints' predictions to use (default all).
        ref_point: ``(m,)`` reference point of the hypervolume stage (default: the
            observed feasible, else successful, objectives' maximum plus 10 % of their
            range).
        options: the tuning options, a :class:`SearchOptions` or a dict of its field
            names (default: every default; see :class:`SearchOptions` for each one
            and the measurement behind it). Unknown and removed names are refused.
    """

    def __init__(
        self,
        model: Any,
        bounds: np.ndarray,
        sensitivity: np.ndarray | None = None,
        use_feasibility: bool = True,
        feasibility_mask: np.ndarray | None = None,
        ref_point: np.ndarray | None = None,
        options: SearchOptions | Mapping[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.options = SearchOptions.coerce(options).resolve(model)
        self.calibration: tuple[float, float] | None = None
        self.bounds = np.asarray(bounds, dtype=float)
        self.dim = self.bounds.shape[1]
        self.sensitivity = None if sensitivity is None else np.asarray(sensitivity, float)
        self.use_feasibility = bool(use_feasibility)
        self.feasibility_mask = (
            None if feasibility_mask is None else [bool(b) for b in feasibility_mask]
        )
        if self.feasibility_mask is not None and not any(self.feasibility_mask):
            self.use_feasibility = False
        self.perturbation = SensitivityWeightedPerturbation(
            self.sensitivity,
            scale=self.options.perturbation_scale,
            direction=PERTURBATION_DIRECTION,
            strength=PERTURBATION_STRENGTH,
            dim=self.dim,
        )
        self.ref_point = None if ref_point is None else np.asarray(ref_point, float)
        self.dtype = DTYPE

    # ---------------------------------------------------------------- helpers
    def _to_unit(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, float) - self.bounds[0]) / (self.bounds[1] - self.bounds[0])

    def _from_unit(self, U: np.ndarray) -> np.ndarray:
        return self.bounds[0] + np.asarray(U, float) * (self.bounds[1] - self.bounds[0])

    def evaluate(self, U: np.ndarray, chunk: int = 2048) -> dict[str, np.ndarray | None]:
        """Surrogate predictions at ``(N, d)`` unit-cube points.

        Returns:
            ``obj (N, m)``, ``obj_std (N, m) | None``, ``log_p (N,) | None`` (log
            P(all constraints hold)).
        """
        objs, stds, lps = [], [], []
        with torch.no_grad():
            for s in range(0, U.shape[0], chunk):
                X = torch.as_tensor(self._from_unit(U[s : s + chunk]), dtype=self.dtype)
                out = outcomes(self.model, X, self.use_feasibility, self.feasibility_mask)
                objs.append(out.obj.cpu().numpy())
                if out.obj_std is not None:
                    stds.append(out.obj_std.cpu().numpy())
                if out.log_pfeas is not None:
                    lps.append(out.log_pfeas_total.cpu().numpy())
        return {
            "obj": np.concatenate(objs),
            "obj_std": np.concatenate(stds) if stds else None,
            "log_p": self._calibrated(np.concatenate(lps)) if lps else None,
        }

    def _calibrated(self, log_p: np.ndarray) -> np.ndarray:
        if self.calibration is None:
            return log_p
        a, b = self.calibration
        z = a * np.clip(log_p, -50.0, 0.0) + b
        return -np.logaddexp(0.0, -z)  # log sigmoid(z)

    def fit_calibration(self, U: np.ndarray, feasible: np.ndarray) -> tuple[float, float] | None:
        """Fit ``P(feasible) = sigmoid(a log p + b)`` (``a >= 0``) on evaluated points.

        Args:
            U: ``(N, d)`` evaluated points in the unit cube.
            feasible: ``(N,)`` whether each evaluation satisfied every constraint.

        Returns:
            ``(a, b)``, also stored and applied by every later prediction, or ``None``
            (no calibration) with fewer than two points of either class.
        """
        from scipy.optimize import minimize

        self.calibration = None
        feasible = np.asarray(feasible, bool)
        if feasible.sum() < 2 or (~feasible).sum() < 2:
            return None
        lp = np.clip(self.evaluate(U)["log_p"], -50.0, 0.0)
        y = feasible.astype(float)

        def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
            z = theta[0] * lp + theta[1]
            q = 1.0 / (1.0 + np.exp(-z))
            # a weak pull towards (1, 0) keeps a separable sample finite
            loss = np.sum(np.logaddexp(0.0, z) - y * z) + 1e-2 * (
                (theta[0] - 1) ** 2 + theta[1] ** 2
            )
            g = np.array([np.sum((q - y) * lp), np.sum(q - y)])
            g += 2e-2 * np.array([theta[0] - 1, theta[1]])
            return float(loss), g

        res = minimize(nll, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B",
                       bounds=[(0.0, 50.0), (-50.0, 50.0)])  # fmt: skip
        self.calibration = (float(res.x[0]), float(res.x[1]))
        return self.calibration

    def _violation(self, pred: dict[str, np.ndarray | None]) -> np.ndarray | None:
        lp = pred["log_p"]
        if lp is None:
            return None
        return np.maximum(0.0, np.log(FEASIBILITY_THRESHOLD) - lp)

    # ------------------------------------------------------------------- main
    def propose(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        C: np.ndarray,
        failed: np.ndarray,
        n: int,
        rng: np.random.Generator,
    ) -> SearchResult:
        """Search the surrogate and return ``n`` new points.

        Args:
            X: ``(N, d)`` evaluated points (problem units).
            Y: ``(N, m)`` their objectives (NaN rows for failed evaluations).
            C: ``(N, k)`` their constraint values.
            failed: ``(N,)`` failed evaluations.
            n: batch size.
            rng: the epoch's random generator.
        """
        t_start = time.perf_counter()
        opt = self.options
        d = self.dim
        U_eval = np.clip(self._to_unit(X), 0.0, 1.0)
        failed = np.asarray(failed, bool) | ~np.all(np.isfinite(Y), axis=1)
        C = np.asarray(C, float).reshape(len(X), -1)
        viol_obs = observed_violation(C, failed) if C.shape[1] else np.where(failed, np.inf, 0.0)
        feasible_obs = viol_obs <= 0
        ideal, scale = objective_scaling(Y, feasible_obs)
        Y_rank = np.where(np.isfinite(Y), Y, np.inf)
        if opt.calibrate_feasibility and self.use_feasibility:
            self.fit_calibration(U_eval, feasible_obs)

        # 1. parents: evaluated points by observed feasibility and rank, plus fresh samples
        n_rand = max(1, int(round(RANDOM_FRACTION * opt.pop_size)))
        n_par = min(opt.pop_size - n_rand, int((~failed).sum()))
        par = survival(Y_rank, viol_obs, n_par) if n_par > 0 else np.empty(0, int)
        par = par[np.isfinite(viol_obs[par])]
        pop_U = np.vstack([U_eval[par], rng.random((opt.pop_size - len(par), d))])
        pop = self.evaluate(pop_U)
        archive_U, archive = [pop_U], [pop]

        # 2. evolution on the surrogate
        t_evo = time.perf_counter()
        for _ in range(opt.generations):
            P = pop_U.shape[0]
            # The population is kept best-first, so a lower index wins a tournament.
            a = rng.integers(P, size=(2, opt.pop_size)).min(axis=0)
            b = rng.integers(P, size=(2, opt.pop_size)).min(axis=0)
            cross = (rng.random(opt.pop_size) < CROSSOVER_RATE)[:, None]
            mask = rng.random((opt.pop_size, d)) < 0.5
            child = np.where(cross & mask, pop_U[b], pop_U[a])
            child = self.perturbation(child, None, rng)
            cpred = self.evaluate(child)
            archive_U.append(child)
            archive.append(cpred)
            pop_U = np.vstack([pop_U, child])
            pop = _cat([pop, cpred])
            keep = survival(pop["obj"], self._violation(pop), opt.pop_size)
            pop_U, pop = pop_U[keep], _take(pop, keep)
        t_cgd = time.perf_counter()

        # 3. constraint-gradient descent from the best candidates, evaluated and fresh
        trace_U: np.ndarray | None = None
        # No evaluation feasible yet: half the descents seek feasibility alone, from the
        # least-violating evaluations, and half the batch is chosen by P(feasible)
        # alone; the other half is searched as usual, because a surrogate fitted to
        # violations only extrapolates its feasibility badly, and on many problems
        # good objectives lie near the feasible set.
        seek = opt.feasibility_first and self.use_feasibility and not feasible_obs.any()
        if opt.cgd_starts > 0 and opt.cgd_steps > 0:
            runs = [(opt.cgd_starts, opt.feasibility_weight, 4)]
            if seek:
                half = opt.cgd_starts // 2
                runs = [
                    (opt.cgd_starts - half, opt.feasibility_weight, 4),
                    (half, FEASIBILITY_ONLY, 2),
                ]
            for n_starts, weight, obs_share in runs:
                n_pop = min(n_starts // 2 if obs_share == 4 else n_starts // 4, pop_U.shape[0])
                n_obs = min(n_starts // obs_share, len(par))
                n_new = max(0, n_starts - n_pop - n_obs)
                starts = np.vstack([pop_U[:n_pop], U_eval[par[:n_obs]], rng.random((n_new, d))])
                cgd = ConstraintGradientDescent(
                    self.model,
                    bounds=self.bounds,
                    steps=opt.cgd_steps,
                    lr=CGD_LR,
                    lr_final=CGD_LR_FINAL,
                    feasibility_weight=weight,
                    ideal=ideal,
                    scale=scale,
                    use_feasibility=self.use_feasibility,
                    feasibility_mask=self.feasibility_mask,
                    dtype=self.dtype,
                )
                flat = cgd.run(self._from_unit(starts)).flat()
                trace_U = flat["U"] if trace_U is None else np.vstack([trace_U, flat["U"]])
                archive_U.append(flat["U"])
                archive.append(
                    {
                        "obj": flat["obj"],
                        "obj_std": flat["obj_std"],
                        "log_p": self._calibrated(flat["log_pfeas_total"]),
                    }
                )
        ok_obs = np.all(np.isfinite(Y), axis=1)
        # 3b. exploration candidates: the best evaluated points with one coordinate
        # redrawn uniformly. When every good evaluation shares a value of some parameter
        # the surrogate cannot tell that parameter's effect from the others', and the
        # population and the descent never leave that value; these points can.
        n_explore = int(round(opt.explore_fraction * n))
        if n_explore and len(par):
            base = U_eval[par[: max(1, min(len(par), EXPLORE_PARENTS))]]
            reps = max(1, EXPLORE_PROBES // len(base))
            probe = np.repeat(base, reps, axis=0)
            coord = rng.integers(d, size=len(probe))
            probe[np.arange(len(probe)), coord] = rng.random(len(probe))
            archive_U.append(probe)
            archive.append(self.evaluate(probe))
        t_sel = time.perf_counter()

        # 4. batch selection from everything predicted
        pool_U = np.vstack(archive_U)
        pool = _cat(archive)
        rank_obj = pool["obj"]
        # Too few predicted-feasible candidates: top up by the unified loss with equal
        # weights, so the feasibility term leads far from feasibility and the
        # objectives decide between candidates that are about equally likely feasible.
        fill = ((rank_obj - ideal) / scale).mean(axis=1)
        if pool["log_p"] is not None:
            fill = fill - opt.feasibility_weight * pool["log_p"]
        ref, front = None, None
        front = Y[ok_obs & feasible_obs]
        ref = self.ref_point
        base = front if len(front) else Y[ok_obs]
        if ref is None and len(base):  # no success yet: nothing to improve on
            ref = base.max(axis=0) + 0.1 * np.maximum(np.ptp(base, axis=0), 1e-9)
        select = {
            "feasibility_threshold": FEASIBILITY_THRESHOLD,
            "min_distance": MIN_DISTANCE,
            "ref_point": ref,
            "rng": rng,
        }
        U_avoid = U_eval
        eidx, efeas = np.empty(0, dtype=int), np.empty(0, dtype=bool)
        if n_explore and ref is not None and pool["obj_std"] is not None:
            # Exploration first: optimistic objectives against the observed front only.
            optimistic = pool["obj"] - opt.explore_weight * pool["obj_std"]
            explore_lp = exploration_log_p(
                pool["log_p"], pool["obj_std"], scale, opt.explore_tempering
            )
            eidx, efeas = select_batch(
                pool_U,
                optimistic,
                explore_lp,
                n_explore,
                U_avoid=U_eval,
                fill=False,
                diversify=False,
                **select,
                hvi_min_probability=EXPLORE_MIN_PROBABILITY,
            )
            U_avoid = np.vstack([U_avoid, pool_U[eidx]])
        sidx, sfeas = np.empty(0, dtype=int), np.empty(0, dtype=bool)
        if seek:
            sidx, sfeas = select_batch(
                pool_U,
                rank_obj,
                pool["log_p"],
                (n - len(eidx)) // 2,
                U_avoid=U_avoid,
                fill_score=-pool["log_p"],
                front=front,
                **select,
            )
            U_avoid = np.vstack([U_avoid, pool_U[sidx]])
        gidx, gfeas = select_batch(
            pool_U,
            rank_obj,
            pool["log_p"],
            n - len(eidx) - len(sidx),
            U_avoid=U_avoid,
            fill_score=fill,
            front=front,
            **select,
        )
        # The batch lists exploration first, then the rest.
        idx = np.concatenate([eidx, sidx, gidx]).astype(int)
        pred_feas = np.concatenate([efeas, sfeas, gfeas]).astype(bool)
        if len(idx) < n:  # only when the pool is degenerate: fill uniformly
            extra = rng.random((n - len(idx), d))
            pool_U = np.vstack([pool_U, extra])
            pool = _cat([pool, self.evaluate(extra)])
            idx = np.concatenate([idx, np.arange(len(pool_U) - len(extra), len(pool_U))])
            pred_feas = np.concatenate([pred_feas, np.zeros(len(extra), bool)])
        chosen = _take(pool, idx)
        t_end = time.perf_counter()
        p_feas = None if chosen["log_p"] is None else np.exp(chosen["log_p"])
        n_pool_feas = (
            len(pool_U)
            if pool["log_p"] is None
            else int((pool["log_p"] >= np.log(FEASIBILITY_THRESHOLD)).sum())
        )
        info = {
            "pool_size": int(len(pool_U)),
            "pool_predicted_feasible": n_pool_feas,
            "trace_samples": 0 if trace_U is None else int(len(trace_U)),
            "batch_explore": int(len(eidx)),
            "batch_predicted_feasible": int(pred_feas.sum()),
            "batch_mean_p_feasible": None if p_feas is None else float(p_feas.mean()),
            "parents_observed_feasible": int(feasible_obs[par].sum()) if len(par) else 0,
            "seconds_evolution": t_cgd - t_evo,
            "seconds_cgd": t_sel - t_cgd,
            "seconds_selection": t_end - t_sel,
            "seconds_total": t_end - t_start,
            "feasibility_calibration": self.calibration,
            "feasibility_first": bool(seek),
        }
        return SearchResult(
            X=np.clip(self._from_unit(pool_U[idx]), self.bounds[0], self.bounds[1]),
            obj=chosen["obj"],
            obj_std=chosen["obj_std"],
            p_feasible=p_feas,
            predicted_feasible=pred_feas,
            info=info,
        )


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


def _cat(preds: list[dict[str, np.ndarray | None]]) -> dict[str, np.ndarray | None]:
    out: dict[str, np.ndarray | None] = {}
    for key in preds[0]:
        vals = [p[key] for p in preds]
        out[key] = None if any(v is None for v in vals) else np.concatenate(vals)
    return out


def _take(pred: dict[str, np.ndarray | None], idx: np.ndarray) -> dict[str, np.ndarray | None]:
    return {k: None if v is None else v[idx] for k, v in pred.items()}
