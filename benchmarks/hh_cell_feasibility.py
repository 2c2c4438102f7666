"""How hard is ``hh-cell`` to satisfy? Uniform random draws over the parameter box.

Prints the feasible share, each constraint's satisfaction rate, the failed share and
the evaluation throughput::

    python benchmarks/hh_cell_feasibility.py            # 10,000 draws, seed 0
    python benchmarks/hh_cell_feasibility.py --n 2000 --seed 1
    python benchmarks/hh_cell_feasibility.py --problem hh-neuron --n 200   # NEURON, slow

Draws are ``problem.from_unit(np.random.default_rng(seed).random((n, d)))``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import botorch_joint as bj


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of uniform draws")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy's default_rng")
    parser.add_argument("--problem", default="hh-cell", choices=["hh-cell", "hh-neuron"])
    args = parser.parse_args(argv)

    problem = bj.problems.get(args.problem)
    rng = np.random.default_rng(args.seed)
    X = problem.from_unit(rng.random((args.n, problem.dim)))

    t0, c0 = time.perf_counter(), time.process_time()
    evaluations = problem.evaluate_batch(X)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    failed = np.array([e.failed for e in evaluations])
    C = np.array([e.c for e in evaluations])  # (n, k); failed rows are NaN
    satisfied = np.where(failed[:, None], False, C >= 0)
    feasible = ~failed & satisfied.all(axis=1)

    truth = problem.evaluate(problem.metadata["ground_truth"])
    truth_feasible = all(truth[c] >= 0 for c in problem.constraint_names)

    print(f"{args.problem}: {args.n} uniform draws over the box, seed {args.seed}")
    print(
        f"  d = {problem.dim}, objectives = {problem.num_objectives}, "
        f"constraints = {problem.num_constraints}"
    )
    print(f"  feasible: {feasible.mean():.2%} ({int(feasible.sum())} of {args.n})")
    print(f"  failed:   {failed.mean():.2%} ({int(failed.sum())} of {args.n})")
    print("  per-constraint satisfaction:")
    width = max(len(c) for c in problem.constraint_names)
    for j, name in enumerate(problem.constraint_names):
        others = np.delete(satisfied, j, axis=1).all(axis=1) & ~failed
        print(
            f"    {name:<{width}}  {satisfied[:, j].mean():7.2%}"
            f"   (feasible if dropped: {others.mean():.2%})"
        )
    # CPU time as well: on a shared machine the wall clock mostly measures the neighbours.
    print(
        f"  throughput: {args.n / seconds:.3g} points/s wall, {args.n / cpu_seconds:.3g} "
        f"points/s CPU ({seconds:.1f} s wall, {cpu_seconds:.1f} s CPU for {args.n} points, "
        f"{len(problem.metadata['currents_na'])} sweeps each, one thread)"
    )
    print(
        f"  ground truth feasible: {truth_feasible}; objectives at the ground truth: "
        + ", ".join(f"{o}={truth[o]:.2g}" for o in problem.objective_names)
    )


if __name__ == "__main__":
    main()
