"""Random-feasibility rate and evaluation cost of the population-level problems.

For each problem: evaluate ``--draws`` points drawn uniformly from the parameter box
(seeded), report the fraction that is feasible (with a 95% Wilson interval) and the
fraction satisfying each constraint; then time ``--timing-evals`` single evaluations
(``Problem.evaluate_point``, one point at a time, as the serial evaluator runs them) and
report the median wall and CPU time, plus the per-point cost of vectorised batches.

    python benchmarks/network_feasibility.py                     # 1000 draws each
    python benchmarks/network_feasibility.py --draws 200 --jobs 4

The output is recorded in ``docs/problems/networks.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import botorch_joint as bj

PROBLEMS = ("ei-network", "mean-field")
_CHUNK = 8  # points per vectorised call


def _evaluate_chunk(args: tuple[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    name, X = args
    problem = bj.problems.get(name)
    t0 = time.perf_counter()
    evs = problem.evaluate_batch(X)
    seconds = time.perf_counter() - t0
    failed = np.array([e.failed for e in evs])
    C = np.array([e.c for e in evs]).reshape(len(evs), problem.num_constraints)
    return failed, C, seconds


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion ``k / n``."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


def feasibility(name: str, draws: int, seed: int, jobs: int) -> dict[str, object]:
    problem = bj.problems.get(name)
    U = np.random.default_rng(seed).uniform(size=(draws, problem.dim))
    X = problem.from_unit(U)
    tasks = [(name, X[i : i + _CHUNK]) for i in range(0, draws, _CHUNK)]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            parts = list(pool.map(_evaluate_chunk, tasks))
    else:
        parts = [_evaluate_chunk(t) for t in tasks]
    failed = np.concatenate([p[0] for p in parts])
    C = np.concatenate([p[1] for p in parts])
    ok = ~failed & np.all(C >= 0, axis=1)
    return {
        "problem": problem,
        "feasible": int(ok.sum()),
        "failed": int(failed.sum()),
        "per_constraint": (C[~failed] >= 0).mean(axis=0),
        "batch_seconds_per_point": sum(p[2] for p in parts) / draws,
    }


def timing(name: str, n: int, seed: int) -> tuple[float, float, float]:
    """Median wall and CPU seconds of single evaluations, and problem build seconds."""
    t0 = time.perf_counter()
    problem = bj.problems.get(name)
    build = time.perf_counter() - t0
    X = problem.from_unit(np.random.default_rng(seed + 1).uniform(size=(n + 1, problem.dim)))
    problem.evaluate_point(X[0])  # warm caches (tables, lazy imports)
    wall, cpu = [], []
    for x in X[1:]:
        w0, c0 = time.perf_counter(), time.process_time()
        problem.evaluate_point(x)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu)), build


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=1000, help="uniform draws per problem")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timing-evals", type=int, default=20, help="single evaluations timed")
    ap.add_argument("--jobs", type=int, default=1, help="processes for the draws")
    ap.add_argument("--problems", nargs="+", default=list(PROBLEMS))
    args = ap.parse_args(argv)

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, NumPy {np.__version__}; "
        f"{args.draws} uniform draws per problem, seed {args.seed}"
    )
    for name in args.problems:
        # Timing first, so that the build time includes anything cached per process.
        wall, cpu, build = timing(name, args.timing_evals, args.seed)
        res = feasibility(name, args.draws, args.seed, args.jobs)
        problem = res["problem"]
        k, n = res["feasible"], args.draws
        lo, hi = wilson(k, n)
        print(f"\n{name} (d={problem.dim}, {problem.num_objectives} objectives)")
        print(f"  random feasibility: {k}/{n} = {k / n:.1%} (95% CI {lo:.1%}-{hi:.1%})")
        print(f"  failed evaluations: {res['failed']}")
        for cname, frac in zip(problem.constraint_names, res["per_constraint"]):
            print(f"  {cname:>15}: satisfied by {frac:.1%}")
        print(
            f"  one evaluation: median {wall:.3f} s wall, {cpu:.3f} s CPU "
            f"({args.timing_evals} single points); batched: {res['batch_seconds_per_point']:.3f}"
            f" s wall per point; building the problem: {build:.2f} s"
        )


if __name__ == "__main__":
    main()
