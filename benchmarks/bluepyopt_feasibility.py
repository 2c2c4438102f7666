#!/usr/bin/env python
"""How often does a random parameter set of a BluePyOpt model pass "every feature within T SD"?

A scrambled Sobol sample over the parameter box of ``bluepyopt-ballstick`` (or
``bluepyopt-simplecell``), evaluated with the process evaluator through
``bj.optimize(method="sobol")``, then read at each threshold ``T``: a point is feasible
when every feature was computed and every objective score (a ``MaxObjective`` over its
features) is at most ``T``. The run is checkpointed in ``OUT/work/`` and resumes when
started again::

    python benchmarks/bluepyopt_feasibility.py                          # ballstick, 1000 points
    python benchmarks/bluepyopt_feasibility.py --model simplecell --n 1024
    python benchmarks/bluepyopt_feasibility.py --n 64 --out /tmp/feas   # a quick look

Writes ``OUT/<model>.json`` (the numbers and every evaluation) and ``OUT/<model>.md``
(the table) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import botorch_joint as bj  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "bluepyopt_feasibility"


def measure(
    model: str, n: int, seed: int, thresholds: list[float], workers: int, out: Path
) -> dict[str, Any]:
    """Evaluate the Sobol sample (resuming a checkpoint) and summarise it."""
    name = f"bluepyopt-{model}"
    problem = bj.problems.get(name, threshold=max(thresholds))
    run_dir = out / "work" / f"{model}-n{n}-seed{seed}"
    t0 = time.perf_counter()
    result = bj.optimize(
        problem,
        method="sobol",
        budget=n,
        batch_size=max(workers, 1) * 8,
        evaluator="process",
        n_workers=workers,
        run_dir=run_dir,
        resume=True,
        seed=seed,
        progress=False,
    )
    wall = time.perf_counter() - t0
    failed = np.asarray(result.failed, dtype=bool)
    Y = np.asarray(result.Y, dtype=float)
    ok = ~failed
    rows = []
    for T in thresholds:
        within = ok[:, None] & (np.nan_to_num(Y, nan=np.inf) <= T)
        feasible = within.all(axis=1)
        rows.append(
            {
                "threshold": T,
                "feasible": int(feasible.sum()),
                "feasible_share": float(feasible.mean()),
                "per_objective_share": {
                    o: float(within[:, j].mean()) for j, o in enumerate(problem.objective_names)
                },
            }
        )
    truth = problem.evaluate(problem.metadata["ground_truth"])
    secs = np.asarray(result.eval_seconds if result.eval_seconds is not None else [], float)
    reasons: dict[str, int] = {}
    for err in np.asarray(result.errors, dtype=object)[failed]:
        key = str(err).split(" (BluePyOpt")[0]
        reasons[key] = reasons.get(key, 0) + 1
    return {
        "model": model,
        "problem": name,
        "n": int(len(result)),
        "seed": seed,
        "design": "scrambled Sobol (bj.optimize method='sobol')",
        "d": problem.dim,
        "objectives": problem.objective_names,
        "failed": int(failed.sum()),
        "failed_share": float(failed.mean()),
        "failure_reasons": reasons,
        "thresholds": rows,
        "truth_objectives": {o: truth[o] for o in problem.objective_names},
        "mean_eval_seconds": float(secs.mean()) if secs.size else None,
        "workers": workers,
        "wall_seconds_this_call": wall,
        "X": result.X.tolist(),
        "Y": np.where(np.isfinite(Y), Y, None).tolist(),
        "failed_mask": failed.tolist(),
    }


def table(rec: dict[str, Any]) -> str:
    objs = rec["objectives"]
    lines = [
        f"### {rec['problem']}: {rec['n']} Sobol points (seed {rec['seed']}), "
        f"d = {rec['d']}, {len(objs)} objectives",
        "",
        "| T (SD) | feasible | share | " + " | ".join(f"{o} <= T" for o in objs) + " |",
        "|---|---|---|" + "---|" * len(objs),
    ]
    for row in rec["thresholds"]:
        per = " | ".join(f"{row['per_objective_share'][o]:.1%}" for o in objs)
        lines.append(
            f"| {row['threshold']:g} | {row['feasible']} / {rec['n']} | "
            f"{row['feasible_share']:.2%} | {per} |"
        )
    lines += [
        "",
        f"Failed evaluations (eFEL could not compute a feature): {rec['failed']} "
        f"({rec['failed_share']:.1%}).",
        "Objectives of the known parameter set: "
        + ", ".join(f"{o} = {v:.2f}" for o, v in rec["truth_objectives"].items())
        + ".",
    ]
    if rec.get("mean_eval_seconds"):
        lines.append(
            f"Mean wall time of one evaluation: {rec['mean_eval_seconds']:.2f} s "
            f"({rec['workers']} worker processes on a shared machine)."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ballstick", choices=["ballstick", "simplecell"])
    parser.add_argument("--n", type=int, default=1000, help="Sobol points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[3.0, 5.0])
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    args.out.mkdir(parents=True, exist_ok=True)
    rec = measure(args.model, args.n, args.seed, sorted(args.thresholds), args.workers, args.out)
    text = table(rec)
    (args.out / f"{args.model}.json").write_text(json.dumps(rec, indent=1) + "\n")
    (args.out / f"{args.model}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
