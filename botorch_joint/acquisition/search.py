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
   (``explore_fraction``) is chosen first the same way but on optimistic objectives
   ``mu - explore_weight * sigma``, from a pool that also holds *probes* (the best
   evaluated points with one coordinate redrawn): exploration where the surrogate has
   no data. There a classifier's P(feasible) is tempered towards 1/2 by the
   ensemble's objective spread (``explore_tempering``). While no evaluation is
   feasible (``feasibility_first``), half the descents and half of the rest of the
   batch seek feasibility alone.
5. **Polish.** Each exploitation pick climbs ``log HVI + log P(feasible)`` of its own
   (against the front it was chosen for) by :data:`POLISH_STEPS` projected Adam steps:
   the pool only samples the space, and fronts on constraint boundaries or faces of
   the box lie between its samples.

Each step is a private method of :class:`SurrogateSearch` (``_parents``, ``_evolve``,
``_descend``, ``_probe``, ``_select``, ``_polish``, whose stages are in
:mod:`~botorch_joint.acquisition.selection`), passing on the containers of
:mod:`~botorch_joint.acquisition.candidates`; the tuning options are a
:class:`~botorch_joint.acquisition.options.SearchOptions`.

Without feasibility information (``o-`` models, or ``use_feasibility=False``) every
candidate counts as feasible: candidates are chosen on objectives alone, and
constraints act only through step 1, which starts the search from the evaluated
points that were observed feasible (or least infeasible).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from botorch.utils.transforms import normalize, unnormalize

from botorch_joint.acquisition.candidates import (
    CandidatePool,
    Observations,
    Predictions,
    SearchResult,
)
from botorch_joint.acquisition.descent import ConstraintGradientDescent
from botorch_joint.acquisition.loss import outcomes
from botorch_joint.acquisition.options import (
    CGD_LR,
    CGD_LR_FINAL,
    CROSSOVER_RATE,
    EXPLORE_PARENTS,
    EXPLORE_PROBES,
    FEASIBILITY_ONLY,
    FEASIBILITY_THRESHOLD,
    MIN_DISTANCE,
    PERTURBATION_DIRECTION,
    PERTURBATION_STRENGTH,
    POLISH_LR,
    POLISH_SPREAD_PENALTY,
    POLISH_STEPS,
    RANDOM_FRACTION,
    SearchOptions,
)
from botorch_joint.acquisition.perturbation import SensitivityWeightedPerturbation
from botorch_joint.acquisition.ranking import (
    dominated_volume,
    greedy_hvi,
    hypervolume_cells,
    observed_violation,
    reuse_hypervolume_cells,
    survival,
)
from botorch_joint.acquisition.selection import (
    exploration_log_p,
    objective_scaling,
    select_in_stages,
    tempered_log_p,
)
from botorch_joint.models.prediction import Surrogate

# Predictions, SearchResult and the selection's helpers have their own modules now
# (candidates, selection); they are still importable from here.
__all__ = [
    "Predictions",
    "SearchOptions",
    "SearchResult",
    "SurrogateSearch",
    "exploration_log_p",
    "objective_scaling",
    "tempered_log_p",
]

#: Floating type of the candidates fed to the model.
DTYPE = torch.float64


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
        model: Surrogate,
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
        self._box = torch.as_tensor(self.bounds)  # for BoTorch's (un)normalize
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
        return normalize(torch.as_tensor(np.asarray(X, float)), self._box).numpy()

    def _from_unit(self, U: np.ndarray) -> np.ndarray:
        return unnormalize(torch.as_tensor(np.asarray(U, float)), self._box).numpy()

    def evaluate(self, U: np.ndarray, chunk: int = 2048) -> Predictions:
        """Surrogate predictions at ``(N, d)`` unit-cube points.

        Returns:
            :class:`Predictions` (``log_p`` calibrated once :meth:`fit_calibration` ran).
        """
        objs, stds, lps = [], [], []
        with torch.no_grad():
            for s in range(0, U.shape[0], chunk):
                X = torch.as_tensor(self._from_unit(U[s : s + chunk]), dtype=self.dtype)
                out = outcomes(self.model, X, self.use_feasibility, self.feasibility_mask)
                objs.append(out.obj.cpu().numpy())
                if out.obj_std is not None:
                    stds.append(out.obj_std.cpu().numpy())
                log_p = out.log_pfeas_total
                if log_p is not None:
                    lps.append(log_p.cpu().numpy())
        return Predictions(
            obj=np.concatenate(objs),
            obj_std=np.concatenate(stds) if stds else None,
            log_p=self._calibrated(np.concatenate(lps)) if lps else None,
        )

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
        raw = self.evaluate(U).log_p
        if raw is None:  # no feasibility prediction: nothing to calibrate
            return None
        lp = np.clip(raw, -50.0, 0.0)
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

    def _violation(self, pred: Predictions) -> np.ndarray | None:
        lp = pred.log_p
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
            rng: the epoch's random generator (every stage draws from it in turn).
        """
        t_start = time.perf_counter()
        obs = self._observe(X, Y, C, failed)
        if self.options.calibrate_feasibility and self.use_feasibility:
            self.fit_calibration(obs.U, obs.feasible)
        # No evaluation feasible yet: part of the descents and of the batch seek
        # feasibility alone (see ``feasibility_first``).
        seek = self.options.feasibility_first and self.use_feasibility and not obs.feasible.any()
        pool = CandidatePool()

        parents = self._parents(obs)
        pop_U = np.vstack(
            [obs.U[parents], rng.random((self.options.pop_size - len(parents), self.dim))]
        )
        pop = self.evaluate(pop_U)
        pool.add(pop_U, pop)
        t_evo = time.perf_counter()
        pop_U = self._evolve(pop_U, pop, pool, rng)
        t_cgd = time.perf_counter()
        n_trace = self._descend(pop_U, obs, parents, seek, pool, rng)
        n_explore = int(round(self.options.explore_fraction * n))
        if n_explore and len(parents):
            self._probe(obs, parents, pool, rng)
        t_sel = time.perf_counter()

        pool_U, pred = pool.U, pool.pred
        # The polish partitions the fronts the selection built again.
        with reuse_hypervolume_cells():
            picks = self._select(pool_U, pred, obs, n, n_explore, seek, rng)
            t_pol = time.perf_counter()
            n_polished = 0
            if POLISH_STEPS > 0 and len(picks[-1][0]):
                pool_U, pred, exploit, n_polished = self._polish(pool_U, pred, obs, picks[-1])
                picks[-1] = exploit
            t_pol = time.perf_counter() - t_pol
        idx = np.concatenate([p[0] for p in picks]).astype(int)
        pred_feas = np.concatenate([p[1] for p in picks]).astype(bool)
        if len(idx) < n:  # only when the pool is degenerate: fill uniformly
            extra = rng.random((n - len(idx), self.dim))
            pool_U = np.vstack([pool_U, extra])
            pred = Predictions.cat([pred, self.evaluate(extra)])
            idx = np.concatenate([idx, np.arange(len(pool_U) - len(extra), len(pool_U))])
            pred_feas = np.concatenate([pred_feas, np.zeros(len(extra), bool)])
        chosen = pred.take(idx)
        t_end = time.perf_counter()

        p_feas = None if chosen.log_p is None else np.exp(chosen.log_p)
        n_pool_feas = (
            len(pool_U)
            if pred.log_p is None
            else int((pred.log_p >= np.log(FEASIBILITY_THRESHOLD)).sum())
        )
        info = {
            "pool_size": int(len(pool_U)),
            "pool_predicted_feasible": n_pool_feas,
            "trace_samples": n_trace,
            "batch_explore": int(len(picks[0][0])),
            "batch_predicted_feasible": int(pred_feas.sum()),
            "batch_mean_p_feasible": None if p_feas is None else float(p_feas.mean()),
            "parents_observed_feasible": int(obs.feasible[parents].sum()) if len(parents) else 0,
            "seconds_evolution": t_cgd - t_evo,
            "seconds_cgd": t_sel - t_cgd,
            "seconds_selection": t_end - t_sel,
            "seconds_polish": t_pol,
            "batch_polished": n_polished,
            "seconds_total": t_end - t_start,
            "feasibility_calibration": self.calibration,
            "feasibility_first": bool(seek),
        }
        return SearchResult(
            X=np.clip(self._from_unit(pool_U[idx]), self.bounds[0], self.bounds[1]),
            obj=chosen.obj,
            obj_std=chosen.obj_std,
            p_feasible=p_feas,
            predicted_feasible=pred_feas,
            info=info,
        )

    # ----------------------------------------------------------------- stages
    def _observe(
        self, X: np.ndarray, Y: np.ndarray, C: np.ndarray, failed: np.ndarray
    ) -> Observations:
        """What the evaluations say: unit-cube points, feasibility, violation, scaling."""
        Y = np.asarray(Y, float)
        ok = np.all(np.isfinite(Y), axis=1)
        failed = np.asarray(failed, bool) | ~ok
        C = np.asarray(C, float).reshape(len(X), -1)
        violation = observed_violation(C, failed) if C.shape[1] else np.where(failed, np.inf, 0.0)
        feasible = violation <= 0
        ideal, scale = objective_scaling(Y, feasible)
        return Observations(
            U=np.clip(self._to_unit(X), 0.0, 1.0),
            Y=Y,
            ok=ok,
            failed=failed,
            violation=violation,
            feasible=feasible,
            ideal=ideal,
            scale=scale,
        )

    def _parents(self, obs: Observations) -> np.ndarray:
        """Indices of the evaluations that seed the population, best first.

        Deb's rule on the *observed* values (feasible by Pareto rank and crowding, then
        infeasible by violation; failed rows never), at most ``(1 - RANDOM_FRACTION)``
        of the population: the rest are fresh uniform samples.
        """
        pop_size = self.options.pop_size
        n_rand = max(1, int(round(RANDOM_FRACTION * pop_size)))
        n_par = min(pop_size - n_rand, int((~obs.failed).sum()))
        if n_par <= 0:
            return np.empty(0, int)
        Y_rank = np.where(np.isfinite(obs.Y), obs.Y, np.inf)
        par = survival(Y_rank, obs.violation, n_par)
        return par[np.isfinite(obs.violation[par])]

    def _evolve(
        self, pop_U: np.ndarray, pop: Predictions, pool: CandidatePool, rng: np.random.Generator
    ) -> np.ndarray:
        """NSGA-II generations on the surrogate; every offspring joins ``pool``.

        Returns:
            The final population, best first.
        """
        size, d = self.options.pop_size, self.dim
        for _ in range(self.options.generations):
            P = pop_U.shape[0]
            # The population is kept best-first, so a lower index wins a tournament.
            a = rng.integers(P, size=(2, size)).min(axis=0)
            b = rng.integers(P, size=(2, size)).min(axis=0)
            cross = (rng.random(size) < CROSSOVER_RATE)[:, None]
            mask = rng.random((size, d)) < 0.5
            child = np.where(cross & mask, pop_U[b], pop_U[a])
            child = self.perturbation(child, None, rng)
            cpred = self.evaluate(child)
            pool.add(child, cpred)
            pop_U = np.vstack([pop_U, child])
            pop = Predictions.cat([pop, cpred])
            keep = survival(pop.obj, self._violation(pop), size)
            pop_U, pop = pop_U[keep], pop.take(keep)
        return pop_U

    def _descend(
        self,
        pop_U: np.ndarray,
        obs: Observations,
        parents: np.ndarray,
        seek: bool,
        pool: CandidatePool,
        rng: np.random.Generator,
    ) -> int:
        """Constraint-gradient descent; every iterate joins ``pool``.

        Starts: half from the population's best, a quarter from the best evaluations,
        the rest fresh. While ``seek``, half the starts instead minimise the predicted
        violation alone (weight :data:`FEASIBILITY_ONLY`), a quarter from the
        population and half from the least-violating evaluations: a surrogate fitted
        to violations only extrapolates its feasibility badly, and on many problems
        good objectives lie near the feasible set, so the other half is searched as
        usual.

        Returns:
            The number of trace samples.
        """
        opt = self.options
        if opt.cgd_starts <= 0 or opt.cgd_steps <= 0:
            return 0
        # (starts, feasibility weight, share of the starts from the evaluations)
        runs = [(opt.cgd_starts, opt.feasibility_weight, 4)]
        if seek:
            half = opt.cgd_starts // 2
            runs = [
                (opt.cgd_starts - half, opt.feasibility_weight, 4),
                (half, FEASIBILITY_ONLY, 2),
            ]
        n_trace = 0
        for n_starts, weight, obs_share in runs:
            n_pop = min(n_starts // 2 if obs_share == 4 else n_starts // 4, pop_U.shape[0])
            n_obs = min(n_starts // obs_share, len(parents))
            n_new = max(0, n_starts - n_pop - n_obs)
            starts = np.vstack(
                [pop_U[:n_pop], obs.U[parents[:n_obs]], rng.random((n_new, self.dim))]
            )
            cgd = ConstraintGradientDescent(
                self.model,
                bounds=self.bounds,
                steps=opt.cgd_steps,
                lr=CGD_LR,
                lr_final=CGD_LR_FINAL,
                feasibility_weight=weight,
                ideal=obs.ideal,
                scale=obs.scale,
                use_feasibility=self.use_feasibility,
                feasibility_mask=self.feasibility_mask,
                dtype=self.dtype,
            )
            flat = cgd.run(self._from_unit(starts)).flat()
            U_trace, obj, lp = flat["U"], flat["obj"], flat["log_pfeas_total"]
            assert U_trace is not None and obj is not None  # a descent always has both
            pool.add(
                U_trace,
                Predictions(obj, flat["obj_std"], None if lp is None else self._calibrated(lp)),
            )
            n_trace += len(U_trace)
        return n_trace

    def _probe(
        self, obs: Observations, parents: np.ndarray, pool: CandidatePool, rng: np.random.Generator
    ) -> None:
        """Exploration probes join ``pool``: the best evaluations, one coordinate redrawn.

        When every good evaluation shares a value of some parameter the surrogate
        cannot tell that parameter's effect from the others', and the population and
        the descent never leave that value; these points can.
        """
        base = obs.U[parents[: max(1, min(len(parents), EXPLORE_PARENTS))]]
        probe = np.repeat(base, max(1, EXPLORE_PROBES // len(base)), axis=0)
        coord = rng.integers(self.dim, size=len(probe))
        probe[np.arange(len(probe)), coord] = rng.random(len(probe))
        pool.add(probe, self.evaluate(probe))

    def _polish(
        self,
        U: np.ndarray,
        pred: Predictions,
        obs: Observations,
        picks: tuple[np.ndarray, np.ndarray],
    ) -> tuple[np.ndarray, Predictions, tuple[np.ndarray, np.ndarray], int]:
        """Refine the exploitation picks by gradient ascent on what chose them.

        Pick ``i`` was taken for ``P(feasible) x HVI`` of its predicted objectives over
        the observed front and the picks before it. The pool only samples the space, so
        the pick is rarely where that product peaks: on a front that lies on constraint
        boundaries and faces of the box (as ``osy``'s) the picks stay short of both.
        Each pick with a positive improvement climbs ``log HVI + log P`` (calibrated)
        for :data:`POLISH_STEPS` projected Adam steps in the unit cube, against its
        own fixed front; its best iterate is kept when it scores higher and stays
        predicted feasible. The picks climbed alone, so two may have climbed to the
        same place: the kept iterates and the original picks then compete in one more
        greedy selection by ``P x HVI`` (:func:`~botorch_joint.acquisition.ranking.
        greedy_hvi`), which counts an improvement two candidates share once and repeats
        no evaluated or chosen point.

        Returns:
            The pool and predictions with the refined points appended, the stage's
            ``(indices, predicted_feasible)`` pointing at them, and how many moved.
        """
        idx, feas = picks
        ref = self._reference_point(obs)
        if ref is None:
            return U, pred, picks, 0
        front = obs.Y[obs.ok & obs.feasible]
        rows, cells = [], []
        believed = front
        scale = np.asarray(obs.scale, dtype=float)
        for j, i in enumerate(idx):
            if not feas[j]:
                continue
            lo, hi = hypervolume_cells(believed, ref)
            mean = pred.obj[i]
            vol = float(dominated_volume(mean[None], (lo, hi))[0])
            if vol > 0:
                rows.append(j)
                cells.append((torch.as_tensor(lo), torch.as_tensor(hi)))
            # A believed point that another dominates leaves the partition as it was
            # (the same front, in the same order), and the selection's fronts never
            # hold one: leaving it out lets the next pick reuse the selection's cells.
            beaten = np.all(believed <= mean, axis=1) & np.any(believed < mean, axis=1)
            if not beaten.any():
                believed = np.vstack([believed, mean])
        if not rows:
            return U, pred, picks, 0
        start = torch.as_tensor(U[idx[rows]], dtype=self.dtype)
        u = start.clone().requires_grad_(True)
        opt = torch.optim.Adam([u], lr=POLISH_LR)
        best_u = start.clone()
        # The first step scores the starts themselves (u == start before any update).
        best = torch.full((len(rows),), -torch.inf, dtype=self.dtype)
        for _ in range(POLISH_STEPS):
            opt.zero_grad()
            score = self._polish_score(u, cells, scale)
            with torch.no_grad():
                better = score > best
                best = torch.where(better, score, best)
                best_u[better] = u[better]
            (-score.clamp_min(-700.0).sum()).backward()
            opt.step()
            with torch.no_grad():
                u.clamp_(0.0, 1.0)
        with torch.no_grad():
            score = self._polish_score(u, cells, scale)
            better = score > best
            best_u[better] = u[better]
        new_U = best_u.numpy()
        new_pred = self.evaluate(new_U)
        lp = np.zeros(len(new_U)) if new_pred.log_p is None else new_pred.log_p
        moved_rows = [
            r
            for r, j in enumerate(rows)
            if not np.allclose(new_U[r], U[idx[j]]) and lp[r] >= np.log(FEASIBILITY_THRESHOLD)
        ]
        base = len(U)
        U = np.vstack([U, new_U])
        pred = Predictions.cat([pred, new_pred])
        if not moved_rows:
            return U, pred, picks, 0
        # Each pick climbed alone, so picks chosen apart may have climbed together: the
        # polished points and the originals compete again in the same greedy selection,
        # where overlapping improvements count once.
        slots = [idx[j] for j in rows] + [base + r for r in moved_rows]
        cand = np.asarray(slots, dtype=int)
        lp_all = np.zeros(len(U)) if pred.log_p is None else pred.log_p
        dup = MIN_DISTANCE * np.sqrt(self.dim)
        fixed = np.delete(U[idx], rows, axis=0)  # the stage's picks not polished
        taken: list[int] = []

        def accept(i: int) -> bool:
            x = U[cand[i]]
            near = np.vstack([obs.U, fixed, U[cand[taken]]]) if taken else np.vstack([obs.U, fixed])
            if np.sqrt(((near - x) ** 2).sum(-1)).min() <= dup:
                return False
            taken.append(i)
            return True

        greedy_hvi(
            pred.obj[cand],
            np.exp(lp_all[cand]),
            front,
            ref,
            len(rows),
            np.random.default_rng(0),
            accept=accept,
        )
        for i in range(len(rows)):  # too few add volume: keep originals in order
            if len(taken) >= len(rows):
                break
            if i not in taken:
                taken.append(i)
        out_idx = idx.copy()
        for j, t in zip(rows, taken, strict=True):
            out_idx[j] = cand[t]
        moved = int(sum(t >= len(rows) for t in taken))
        return U, pred, (out_idx, feas), moved

    def _polish_score(
        self, u: torch.Tensor, cells: list[tuple[torch.Tensor, torch.Tensor]], scale: np.ndarray
    ) -> torch.Tensor:
        """``(q,)`` polish score of ``(q, d)`` unit-cube points.

        ``log(HVI / prod(scale)) + log P(feasible) - POLISH_SPREAD_PENALTY *
        sum_j sigma_j / scale_j``: the last term (where the model has a spread) keeps
        the climb where the surrogate has data, since a gradient follows the mean
        into regions where it extrapolates.
        """
        X = unnormalize(u, self._box.to(u))
        out = outcomes(self.model, X, self.use_feasibility, self.feasibility_mask)
        vols = []
        for r, (lo, hi) in enumerate(cells):
            side = torch.clamp(torch.minimum(-out.obj[r], hi) - lo, min=0.0)
            vols.append(side.prod(dim=-1).sum())
        score = torch.log(torch.stack(vols) / float(np.prod(scale)) + 1e-300)
        if out.obj_std is not None and POLISH_SPREAD_PENALTY > 0:
            spread = out.obj_std / torch.as_tensor(scale).to(out.obj_std)
            score = score - POLISH_SPREAD_PENALTY * spread.sum(dim=-1)
        lp = out.log_pfeas_total
        if lp is not None:
            if self.calibration is not None:
                a, b = self.calibration
                lp = torch.nn.functional.logsigmoid(a * lp.clamp(-50.0, 0.0) + b)
            score = score + lp
        return score

    def _reference_point(self, obs: Observations) -> np.ndarray | None:
        """The given reference point, else the observed feasible (else successful)
        maximum plus 10 % of the range; ``None`` while nothing succeeded."""
        if self.ref_point is not None:
            return self.ref_point
        front = obs.Y[obs.ok & obs.feasible]
        base = front if len(front) else obs.Y[obs.ok]
        if not len(base):
            return None
        return base.max(axis=0) + 0.1 * np.maximum(np.ptp(base, axis=0), 1e-9)

    def _select(
        self,
        U: np.ndarray,
        pred: Predictions,
        obs: Observations,
        n: int,
        n_explore: int,
        seek: bool,
        rng: np.random.Generator,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """The batch from the pool: :func:`~botorch_joint.acquisition.selection.select_in_stages`
        with this search's reference point and options.

        Returns:
            ``(indices, predicted_feasible)`` of each stage, in order.
        """
        ref = self._reference_point(obs)
        return select_in_stages(U, pred, obs, ref, n, n_explore, seek, self.options, rng)
