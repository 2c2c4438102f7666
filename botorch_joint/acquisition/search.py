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
   (quality and spread; ``selection="hvi"``), then the rest of the predicted Pareto
   fronts thinned by maximum diversity across objectives; too few predicted-feasible
   candidates are topped up by the unified loss, spread out in the input space. With
   an uncertainty bonus ``beta``, objectives enter ranking and selection as
   ``mu - beta * sigma``. A share of the batch (``explore_fraction``) is chosen first
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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from botorch_joint.acquisition.descent import ConstraintGradientDescent
from botorch_joint.acquisition.loss import outcomes
from botorch_joint.acquisition.perturbation import SensitivityWeightedPerturbation
from botorch_joint.acquisition.ranking import (
    non_dominated_ranks,
    observed_violation,
    select_batch,
    survival,
)

__all__ = [
    "SearchResult",
    "SurrogateSearch",
    "exploration_log_p",
    "objective_scaling",
    "tempered_log_p",
]

#: ``explore_tempering`` of classifier feasibility (``JointSurrogate``): at a normalised
#: objective spread of 0.1 the logit counts as uncertain by about 1.6 (``sqrt(8 / pi)``).
DEFAULT_EXPLORE_TEMPERING = 0.1

#: Feasibility weight of the descent while no evaluation is feasible: the objective
#: term stays only to break ties.
FEASIBILITY_ONLY = 1e4


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
        model: fitted surrogate (prediction protocol of :mod:`botorch_joint.models`).
        bounds: ``(2, d)`` box in the problem's units.
        sensitivity: ``(d,)`` sensitivity indices for the perturbation (``None``:
            uniform steps).
        use_feasibility: use the model's feasibility predictions (``False`` for ``o-``).
        feasibility_mask: ``(k,)`` which constraints' predictions to use (default all).
        pop_size: population size of the evolutionary stage.
        generations: generations of the evolutionary stage.
        crossover_rate: share of offspring made by uniform crossover before perturbing.
        random_fraction: share of the first population drawn uniformly at random.
        perturbation_scale: geometric-mean perturbation step (unit cube).
        direction: ``"finer"``, ``"coarser"`` or ``"uniform"`` (see
            :class:`SensitivityWeightedPerturbation`).
        strength: how strongly sensitivities shape the steps.
        cgd_starts: number of constraint-gradient-descent starts.
        cgd_steps: gradient steps per start.
        cgd_lr: Adam step size (unit cube) at the first step.
        cgd_lr_final: last step size as a fraction of ``cgd_lr``.
        feasibility_weight: weight of the feasibility term of the unified loss (4 by
            default: over 1 it raised the feasible share on ``hh-cell`` and the
            hypervolume on ``c2dtlz2``, at some cost in ``hh-cell`` hypervolume; see
            ``docs/search.md``).
        uncertainty_weight: optimism ``beta`` for models with a predictive spread.
        feasibility_threshold: P(feasible) above which a candidate counts as feasible.
        min_distance: duplicate radius (relative to the cube's diagonal).
        selection: ``"hvi"`` (greedy predicted hypervolume improvement times
            P(feasible), then maximum diversity) or ``"diversity"`` (maximum predicted
            diversity across objectives only).
        hvi_min_probability: P(feasible) a candidate needs for the hypervolume stage
            of the selection (default ``feasibility_threshold``).
        local_fraction: share of the batch reserved for *local* candidates: small
            sensitivity-weighted steps (``local_scale``) around the observed feasible
            Pareto points, selected the same way (only when some evaluation is
            feasible; unused slots go to the global pool).
        local_scale: geometric-mean step of the local candidates (unit cube).
        local_samples: number of local candidates.
        explore_fraction: share of the batch reserved for *exploration* (default
            0.2, 4 of 20): greedy hypervolume improvement (times P(feasible)) of the
            optimistic objectives ``mu - explore_weight * sigma`` over the observed
            feasible front, among candidates with ``P(feasible) >=
            explore_min_probability``; the pool then also holds *probes*, the best
            evaluated points with one coordinate redrawn uniformly. A surrogate
            extrapolates badly where it has no data (on ``c2dtlz2`` the network
            predicts the far ends of the front 0.25 too high) and cannot tell the
            effect of a parameter that every good evaluation shares (on one
            ``c2dtlz2`` run all proposals kept one distance variable at its bound for
            six epochs); exploitation alone never looks there. Needs a hypervolume
            selection and a model with a predictive spread; unused slots go to the
            exploitation stage. Measured in ``docs/search.md``.
        explore_weight: optimism ``beta`` of the exploration stage.
        explore_min_probability: P(feasible) an exploration candidate needs.
        explore_parents: how many of the best evaluated points (Deb's rule) seed the
            probes (``local_samples`` probes in all).
        explore_tempering: in the exploration stage only, treat the logit of
            P(feasible) as uncertain where the ensemble's objective predictions
            disagree: ``P = sigmoid(logit / sqrt(1 + (s / explore_tempering)^2))``, ``s``
            the mean over objectives of the predictive spread divided by the objective
            scale (the probit approximation of a Gaussian logit, pulled towards 1/2).
            A neural classifier is confidently wrong away from its data (on
            ``c2dtlz2`` five members gave the unexplored feasible ends of the front
            P(feasible) of at most 0.012), but its shared trunk is out of its depth
            there too, and the regression members show it (objective spread 0.14-0.18
            there against 0.009 near the data; ``benchmarks/corner_feasibility.py``).
            ``None`` (default): 0.1 for
            :class:`~botorch_joint.models.JointSurrogate`, 0 (off) for GPs, whose
            ``Phi(mu / sigma)`` already widens away from the data.
        feasibility_first: while no evaluation is feasible, half the descents minimise
            the predicted violation (``-sum_j log P_j``) alone, half of their starts the
            least-violating evaluations, and half the batch (after exploration) is
            chosen by P(feasible) alone.
        ref_point: ``(m,)`` reference point of the hypervolume stage (default: the
            observed feasible, else successful, objectives' maximum plus 10 % of their
            range).
        calibrate_feasibility: recalibrate the predicted P(all constraints hold) on the
            evaluations so far (a logistic fit of the observed all-feasible labels on
            the predicted log-probability, monotone, once two feasible and two
            infeasible evaluations exist) before it is compared with
            ``feasibility_threshold`` and weighs the selection. ``None`` (default):
            for ensemble classifiers (:class:`~botorch_joint.models.JointSurrogate`),
            whose product of per-constraint probabilities is far too low when the
            constraints are correlated (on ``hh-cell`` no candidate ever reached 0.5,
            so the selection never saw a predicted-feasible point), and not for GPs.
        dtype: floating type of the candidates fed to the model.
    """

    def __init__(
        self,
        model: Any,
        bounds: np.ndarray,
        sensitivity: np.ndarray | None = None,
        use_feasibility: bool = True,
        feasibility_mask: np.ndarray | None = None,
        pop_size: int = 96,
        generations: int = 10,
        crossover_rate: float = 0.5,
        random_fraction: float = 0.25,
        perturbation_scale: float = 0.08,
        direction: str = "finer",
        strength: float = 0.5,
        cgd_starts: int = 32,
        cgd_steps: int = 25,
        cgd_lr: float = 0.05,
        cgd_lr_final: float = 0.1,
        feasibility_weight: float = 4.0,
        uncertainty_weight: float = 0.0,
        feasibility_threshold: float = 0.5,
        min_distance: float = 1e-3,
        selection: str = "hvi",
        hvi_min_probability: float | None = None,
        local_fraction: float = 0.0,
        local_scale: float = 0.02,
        local_samples: int = 256,
        explore_fraction: float = 0.2,
        explore_weight: float = 2.0,
        explore_min_probability: float = 0.1,
        explore_parents: int = 16,
        explore_tempering: float | None = None,
        feasibility_first: bool = True,
        ref_point: np.ndarray | None = None,
        calibrate_feasibility: bool | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        self.model = model
        # A capability, not a type: ensembles of classifiers say so (JointSurrogate).
        classifier = bool(getattr(model, "classifier_feasibility", False))
        if calibrate_feasibility is None:
            calibrate_feasibility = classifier
        self.calibrate_feasibility = bool(calibrate_feasibility)
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
        self.pop_size = int(pop_size)
        self.generations = int(generations)
        self.crossover_rate = float(crossover_rate)
        self.random_fraction = float(random_fraction)
        self.perturbation = SensitivityWeightedPerturbation(
            self.sensitivity,
            scale=perturbation_scale,
            direction=direction,
            strength=strength,
            dim=self.dim,
        )
        self.cgd_starts = int(cgd_starts)
        self.cgd_steps = int(cgd_steps)
        self.cgd_lr = float(cgd_lr)
        self.cgd_lr_final = float(cgd_lr_final)
        self.feasibility_weight = float(feasibility_weight)
        self.uncertainty_weight = float(uncertainty_weight)
        self.feasibility_threshold = float(feasibility_threshold)
        self.min_distance = float(min_distance)
        if selection not in ("hvi", "diversity"):
            raise ValueError(f"unknown selection {selection!r}; choose 'hvi' or 'diversity'")
        self.selection = selection
        self.hvi_min_probability = hvi_min_probability
        self.local_fraction = float(local_fraction)
        self.local_samples = int(local_samples)
        self.local_perturbation = SensitivityWeightedPerturbation(
            self.sensitivity,
            scale=local_scale,
            direction=direction,
            strength=strength,
            dim=self.dim,
        )
        if not 0.0 <= float(explore_fraction) <= 1.0:
            raise ValueError(f"explore_fraction must be in [0, 1], got {explore_fraction!r}")
        self.explore_fraction = float(explore_fraction)
        self.explore_weight = float(explore_weight)
        self.explore_min_probability = float(explore_min_probability)
        self.explore_parents = int(explore_parents)
        if explore_tempering is None:
            explore_tempering = DEFAULT_EXPLORE_TEMPERING if classifier else 0.0
        if not explore_tempering >= 0:  # also rejects NaN
            raise ValueError(f"explore_tempering must be >= 0, got {explore_tempering!r}")
        self.explore_tempering = float(explore_tempering)
        self.feasibility_first = bool(feasibility_first)
        self.ref_point = None if ref_point is None else np.asarray(ref_point, float)
        self.dtype = dtype

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

    def _rank_objectives(self, pred: dict[str, np.ndarray | None]) -> np.ndarray:
        obj = pred["obj"]
        if self.uncertainty_weight and pred["obj_std"] is not None:
            obj = obj - self.uncertainty_weight * pred["obj_std"]
        return obj

    def _violation(self, pred: dict[str, np.ndarray | None]) -> np.ndarray | None:
        lp = pred["log_p"]
        if lp is None:
            return None
        return np.maximum(0.0, np.log(self.feasibility_threshold) - lp)

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
        d = self.dim
        U_eval = np.clip(self._to_unit(X), 0.0, 1.0)
        failed = np.asarray(failed, bool) | ~np.all(np.isfinite(Y), axis=1)
        C = np.asarray(C, float).reshape(len(X), -1)
        viol_obs = observed_violation(C, failed) if C.shape[1] else np.where(failed, np.inf, 0.0)
        feasible_obs = viol_obs <= 0
        ideal, scale = objective_scaling(Y, feasible_obs)
        Y_rank = np.where(np.isfinite(Y), Y, np.inf)
        if self.calibrate_feasibility and self.use_feasibility:
            self.fit_calibration(U_eval, feasible_obs)

        # 1. parents: evaluated points by observed feasibility and rank, plus fresh samples
        n_rand = max(1, int(round(self.random_fraction * self.pop_size)))
        n_par = min(self.pop_size - n_rand, int((~failed).sum()))
        par = survival(Y_rank, viol_obs, n_par) if n_par > 0 else np.empty(0, int)
        par = par[np.isfinite(viol_obs[par])]
        pop_U = np.vstack([U_eval[par], rng.random((self.pop_size - len(par), d))])
        pop = self.evaluate(pop_U)
        archive_U, archive = [pop_U], [pop]

        # 2. evolution on the surrogate
        t_evo = time.perf_counter()
        for _ in range(self.generations):
            P = pop_U.shape[0]
            # The population is kept best-first, so a lower index wins a tournament.
            a = rng.integers(P, size=(2, self.pop_size)).min(axis=0)
            b = rng.integers(P, size=(2, self.pop_size)).min(axis=0)
            cross = (rng.random(self.pop_size) < self.crossover_rate)[:, None]
            mask = rng.random((self.pop_size, d)) < 0.5
            child = np.where(cross & mask, pop_U[b], pop_U[a])
            child = self.perturbation(child, None, rng)
            cpred = self.evaluate(child)
            archive_U.append(child)
            archive.append(cpred)
            pop_U = np.vstack([pop_U, child])
            pop = _cat([pop, cpred])
            keep = survival(self._rank_objectives(pop), self._violation(pop), self.pop_size)
            pop_U, pop = pop_U[keep], _take(pop, keep)
        t_cgd = time.perf_counter()

        # 3. constraint-gradient descent from the best candidates, evaluated and fresh
        trace_U: np.ndarray | None = None
        # No evaluation feasible yet: half the descents seek feasibility alone, from the
        # least-violating evaluations, and half the batch is chosen by P(feasible)
        # alone; the other half is searched as usual, because a surrogate fitted to
        # violations only extrapolates its feasibility badly, and on many problems
        # good objectives lie near the feasible set.
        seek = self.feasibility_first and self.use_feasibility and not feasible_obs.any()
        if self.cgd_starts > 0 and self.cgd_steps > 0:
            runs = [(self.cgd_starts, self.feasibility_weight, 4)]
            if seek:
                half = self.cgd_starts // 2
                runs = [
                    (self.cgd_starts - half, self.feasibility_weight, 4),
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
                    steps=self.cgd_steps,
                    lr=self.cgd_lr,
                    lr_final=self.cgd_lr_final,
                    feasibility_weight=weight,
                    uncertainty_weight=self.uncertainty_weight,
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
        # 3b. local candidates: small steps around the observed feasible Pareto points
        ok_obs = np.all(np.isfinite(Y), axis=1)
        elite = np.flatnonzero(ok_obs & feasible_obs)
        if elite.size:
            elite = elite[non_dominated_ranks(Y[elite]) == 0]
        n_local = min(n, int(round(self.local_fraction * n))) if elite.size else 0
        local_start = sum(len(a) for a in archive_U)
        if n_local:
            local_U = self.local_perturbation(U_eval[elite], self.local_samples, rng)
            archive_U.append(local_U)
            archive.append(self.evaluate(local_U))
        local_end = sum(len(a) for a in archive_U)
        # 3c. exploration candidates: the best evaluated points with one coordinate
        # redrawn uniformly. When every good evaluation shares a value of some parameter
        # the surrogate cannot tell that parameter's effect from the others', and the
        # population and the descent never leave that value; these points can.
        n_explore = int(round(self.explore_fraction * n))
        if n_explore and len(par):
            base = U_eval[par[: max(1, min(len(par), self.explore_parents))]]
            reps = max(1, self.local_samples // len(base))
            probe = np.repeat(base, reps, axis=0)
            coord = rng.integers(d, size=len(probe))
            probe[np.arange(len(probe)), coord] = rng.random(len(probe))
            archive_U.append(probe)
            archive.append(self.evaluate(probe))
        t_sel = time.perf_counter()

        # 4. batch selection from everything predicted
        pool_U = np.vstack(archive_U)
        pool = _cat(archive)
        rank_obj = self._rank_objectives(pool)
        # Too few predicted-feasible candidates: top up by the unified loss with equal
        # weights, so the feasibility term leads far from feasibility and the
        # objectives decide between candidates that are about equally likely feasible.
        fill = ((rank_obj - ideal) / scale).mean(axis=1)
        if pool["log_p"] is not None:
            fill = fill - self.feasibility_weight * pool["log_p"]
        ref, front = None, None
        if self.selection == "hvi":
            front = Y[ok_obs & feasible_obs]
            ref = self.ref_point
            base = front if len(front) else Y[ok_obs]
            if ref is None and len(base):  # no success yet: nothing to improve on
                ref = base.max(axis=0) + 0.1 * np.maximum(np.ptp(base, axis=0), 1e-9)
        select = {
            "feasibility_threshold": self.feasibility_threshold,
            "min_distance": self.min_distance,
            "ref_point": ref,
            "rng": rng,
            "hvi_min_probability": self.hvi_min_probability,
        }
        U_avoid = U_eval
        eidx, efeas = np.empty(0, dtype=int), np.empty(0, dtype=bool)
        lidx, lfeas = np.empty(0, dtype=int), np.empty(0, dtype=bool)
        if n_explore and ref is not None and pool["obj_std"] is not None:
            # Exploration first: optimistic objectives against the observed front only.
            optimistic = pool["obj"] - self.explore_weight * pool["obj_std"]
            explore_lp = exploration_log_p(
                pool["log_p"], pool["obj_std"], scale, self.explore_tempering
            )
            eidx, efeas = select_batch(
                pool_U,
                optimistic,
                explore_lp,
                n_explore,
                U_avoid=U_eval,
                fill=False,
                diversify=False,
                **{**select, "hvi_min_probability": self.explore_min_probability},
            )
            U_avoid = np.vstack([U_avoid, pool_U[eidx]])
        if n_local:
            # Local slots (predicted-feasible only); they count as taken for the rest.
            local = slice(local_start, local_end)
            lp = None if pool["log_p"] is None else pool["log_p"][local]
            lidx, lfeas = select_batch(
                pool_U[local],
                rank_obj[local],
                lp,
                min(n_local, n - len(eidx)),  # exploration may have taken slots
                U_avoid=U_avoid,
                front=front,
                fill=False,
                **select,
            )
            lidx = lidx + local_start
            U_avoid = np.vstack([U_avoid, pool_U[lidx]])
            if front is not None:
                front = np.vstack([front, rank_obj[lidx][lfeas]])
        sidx, sfeas = np.empty(0, dtype=int), np.empty(0, dtype=bool)
        if seek:
            sidx, sfeas = select_batch(
                pool_U,
                rank_obj,
                pool["log_p"],
                (n - len(eidx) - len(lidx)) // 2,
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
            n - len(eidx) - len(lidx) - len(sidx),
            U_avoid=U_avoid,
            fill_score=fill,
            front=front,
            **select,
        )
        # The batch lists local slots first, then exploration, then the rest.
        idx = np.concatenate([lidx, eidx, sidx, gidx]).astype(int)
        pred_feas = np.concatenate([lfeas, efeas, sfeas, gfeas]).astype(bool)
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
            else int((pool["log_p"] >= np.log(self.feasibility_threshold)).sum())
        )
        info = {
            "pool_size": int(len(pool_U)),
            "pool_predicted_feasible": n_pool_feas,
            "trace_samples": 0 if trace_U is None else int(len(trace_U)),
            "batch_local": int(len(lidx)),
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
