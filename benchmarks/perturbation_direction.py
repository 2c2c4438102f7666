#!/usr/bin/env python
"""Finer or coarser steps on sensitive parameters? A paired comparison on true functions.

:class:`~botorch_joint.acquisition.SensitivityWeightedPerturbation` sets each
parameter's step from its sensitivity index. This script settles the direction with
true evaluations, isolating the operator from any surrogate error:

1. draw a large uniform sample of the problem (for ``c2dtlz2``, whose feasible set
   is too small for uniform sampling, points near its Pareto set: ``x_1`` uniform,
   the rest ``0.5 + N(0, 0.05)``) and take up to ``--parents`` good feasible points
   (best by non-dominated rank and crowding) as parents;
2. compute the sensitivity indices on the *true* function with SALib's FAST (the
   same :func:`botorch_joint.sensitivity.fast` the methods use on the surrogate);
3. for every (direction, strength, step scale), perturb the same parents with the
   *same* random numbers (common random numbers: only the per-parameter scales differ)
   and evaluate the offspring;
4. score each operator by the share of offspring that are feasible, the share that
   are feasible and not dominated by any parent (they improve or extend the front),
   and the normalised hypervolume gained over the parents.

Output: ``OUT/perturbation_direction.json`` and ``.md`` (means over seeds, and the
paired win counts of ``finer`` against ``coarser``). Problems and seeds already in the
JSON file are skipped, so an interrupted sweep resumes. (``mw7`` is not used: uniform
sampling finds no feasible parent.)

Example::

    python benchmarks/perturbation_direction.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROBLEMS = ("hh-cell", "c2dtlz2", "osy", "discbrake")
#: (direction, strength) pairs compared; strength 0 would be "uniform"
OPERATORS = (
    ("finer", 1.0),
    ("finer", 0.5),
    ("uniform", 0.0),
    ("coarser", 0.5),
    ("coarser", 1.0),
)
SCALES = (0.02, 0.05, 0.1)


@dataclass
class _Pred:
    obj_mean: Any
    obj_std: Any
    feas_prob: Any


class TrueModel:
    """The problem itself behind the prediction protocol (for SALib on true values)."""

    def __init__(self, problem: Any) -> None:
        import torch

        self.problem = problem
        self.bounds = torch.as_tensor(problem.bounds)
        self.num_objectives = problem.num_objectives
        self.num_constraints = problem.num_constraints

    def predict_outcomes(self, X: Any) -> _Pred:
        import torch

        Y, C, failed = evaluate(self.problem, X.detach().numpy())
        Y = np.where(np.isfinite(Y), Y, np.nanmax(np.where(np.isfinite(Y), Y, np.nan), 0))
        P = ((C >= 0) & ~failed[:, None]).astype(float) if C.shape[1] else None
        return _Pred(torch.as_tensor(Y), None, None if P is None else torch.as_tensor(P))


def evaluate(problem: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    evs = problem.evaluate_batch(np.clip(X, problem.lower, problem.upper))
    Y = np.stack([e.y for e in evs])
    C = np.stack([e.c for e in evs]).reshape(len(evs), -1)
    failed = np.array([e.failed for e in evs])
    return Y, C, failed


def feasible_mask(C: np.ndarray, failed: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return ~failed & (np.all(C >= 0, axis=1) if C.shape[1] else True)


def candidate_pool(problem: Any, name: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if name == "c2dtlz2":
        U = np.clip(0.5 + 0.05 * rng.standard_normal((n, problem.dim)), 0, 1)
        U[:, 0] = rng.random(n)
        return U
    return rng.random((n, problem.dim))


def one_seed(name: str, seed: int, n_pool: int, n_parents: int, n_kids: int) -> list[dict]:
    import botorch_joint as bj
    from botorch_joint.acquisition import SensitivityWeightedPerturbation
    from botorch_joint.acquisition.ranking import survival
    from botorch_joint.metrics import hypervolume, non_dominated
    from botorch_joint.sensitivity import fast

    problem = bj.problems.get(name)
    rng = np.random.default_rng([seed, 17])
    U = candidate_pool(problem, name, n_pool, rng)
    Y, C, failed = evaluate(problem, problem.from_unit(U))
    feas = feasible_mask(C, failed)
    if feas.sum() < 5:
        raise RuntimeError(f"{name}: only {int(feas.sum())} feasible points in the pool")
    keep = survival(Y[feas], None, n_parents)
    parents_U, parents_Y = U[feas][keep], Y[feas][keep]
    sens = fast(TrueModel(problem), n=96, seed=seed, parameter_names=problem.parameter_names)
    ref, max_hv = np.asarray(problem.ref_point), problem.max_hv or 1.0
    hv_parents = hypervolume(parents_Y, ref) / max_hv

    # Common random numbers: one draw of parent indices and normal deviates per seed.
    P = len(parents_U)
    base = parents_U[np.arange(P).repeat(n_kids)]
    rows = []
    for scale in SCALES:
        for direction, strength in OPERATORS:
            pert = SensitivityWeightedPerturbation(
                sens.indices, scale=scale, direction=direction, strength=strength
            )
            kids = pert(base, None, np.random.default_rng([seed, 99]))
            Yk, Ck, fk = evaluate(problem, problem.from_unit(kids))
            ok = feasible_mask(Ck, fk)
            improving = 0
            if ok.any():
                both = np.vstack([parents_Y, Yk[ok]])
                nd = non_dominated(both)[P:]
                improving = int(nd.sum())
            hv = hypervolume(np.vstack([parents_Y, Yk[ok]]), ref) / max_hv
            rows.append(
                {
                    "problem": name,
                    "seed": seed,
                    "scale": scale,
                    "direction": direction,
                    "strength": strength,
                    "n_parents": P,
                    "n_offspring": len(kids),
                    "feasible_rate": float(ok.mean()),
                    "improving_rate": improving / len(kids),
                    "hv_gain": float(hv - hv_parents),
                    "sensitivity": sens.as_dict(),
                }
            )
    return rows


def summarise(rows: list[dict]) -> str:
    lines = [
        "# Perturbation direction: finer or coarser steps on sensitive parameters",
        "",
        "Means over seeds; `improving` = offspring feasible and not dominated by any parent;",
        "`HV gain` = normalised hypervolume of parents + feasible offspring minus parents'.",
        "",
    ]
    for name in dict.fromkeys(r["problem"] for r in rows):
        rs = [r for r in rows if r["problem"] == name]
        seeds = sorted({r["seed"] for r in rs})
        lines += [
            f"## {name} ({len(seeds)} seeds, {rs[0]['n_parents']} parents, "
            f"{rs[0]['n_offspring']} offspring per operator)",
            "",
            "| scale | operator | feasible | improving | HV gain |",
            "|---|---|---|---|---|",
        ]
        for scale in SCALES:
            for direction, strength in OPERATORS:
                sel = [
                    r
                    for r in rs
                    if r["scale"] == scale
                    and r["direction"] == direction
                    and r["strength"] == strength
                ]
                if not sel:
                    continue
                op = direction if direction == "uniform" else f"{direction} (s={strength})"
                lines.append(
                    f"| {scale} | {op} | {np.mean([r['feasible_rate'] for r in sel]):.3f} "
                    f"| {np.mean([r['improving_rate'] for r in sel]):.4f} "
                    f"| {np.mean([r['hv_gain'] for r in sel]):.5f} |"
                )
        lines.append("")
    # Paired wins: finer vs coarser at the same (problem, seed, scale, strength).
    wins = {"feasible_rate": [0, 0], "improving_rate": [0, 0], "hv_gain": [0, 0]}
    for r in rows:
        if r["direction"] != "finer":
            continue
        twin = [
            q
            for q in rows
            if q["direction"] == "coarser"
            and q["problem"] == r["problem"]
            and q["seed"] == r["seed"]
            and q["scale"] == r["scale"]
            and q["strength"] == r["strength"]
        ]
        for q in twin:
            for key in wins:
                if r[key] > q[key]:
                    wins[key][0] += 1
                elif r[key] < q[key]:
                    wins[key][1] += 1
    lines += [
        "## Paired comparison, finer versus coarser (same problem, seed, scale, strength)",
        "",
        "| metric | finer better | coarser better |",
        "|---|---|---|",
    ]
    for key, (a, b) in wins.items():
        lines.append(f"| {key} | {a} | {b} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--pool", type=int, default=4000, help="size of the candidate pool")
    ap.add_argument("--parents", type=int, default=40)
    ap.add_argument("--offspring", type=int, default=20, help="offspring per parent")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "perturbation_direction.json"
    rows: list[dict] = json.loads(path.read_text()) if path.exists() else []
    done = {(r["problem"], r["seed"]) for r in rows}
    for name in args.problems:
        for seed in args.seeds:
            if (name, seed) in done:  # an interrupted sweep resumes
                continue
            t0 = time.perf_counter()
            rows += one_seed(name, seed, args.pool, args.parents, args.offspring)
            print(f"{name} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
            path.write_text(json.dumps(rows, indent=1))
            (out / "perturbation_direction.md").write_text(summarise(rows))
    print(summarise(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
