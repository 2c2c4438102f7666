#!/usr/bin/env python
"""The acquisition issue's acceptance comparisons: surrogate search versus baselines.

Two suites, each ``problem x method x seed`` runs of :func:`botorch_joint.optimize`:

* ``hh-cell`` (random feasibility <= 1 %), budget 300, batch 20: the share of feasible
  evaluations after the initial design, for ``c+o-ftt``, ``gpr`` and ``sobol``;
* ``c2dtlz2`` (d = 12), budget 200, batch 20: the final normalised hypervolume, for
  ``c+o-ftt``, ``megp`` and ``sobol``.

Results are written after every run to ``OUT/search_methods.json`` (a run already
there is skipped, so an interrupted sweep resumes) and summarised, medians over
seeds, in ``OUT/search_methods.md``. Also recorded per run: the mean and maximum
training and search seconds per epoch.

Examples::

    python benchmarks/search_methods.py                      # both suites, 3 seeds
    python benchmarks/search_methods.py --suite hh-cell --methods c+o-ftt --seeds 0
    nohup python benchmarks/search_methods.py > benchmarks/results/search_methods.log &
    python benchmarks/search_methods.py --epoch-timing       # one epoch at n = 300, d = 12
    python benchmarks/search_methods.py --epoch-timing --epoch-n 500 1000 2000 \
        --epoch-problem hh-cell --methods c+o-ftt gpr --mixture-gp-max-rows default none
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SUITES: dict[str, dict[str, Any]] = {
    "hh-cell": {
        "problem": "hh-cell",
        "kwargs": {},
        "budget": 300,
        "batch_size": 20,
        "methods": ["c+o-ftt", "gpr", "sobol"],
    },
    # hh-cell with its constraints reduced to pass/fail (+1 / -1): the case the joint
    # classifier is for, where a GP of the constraint values learns no margins.
    "hh-cell-passfail": {
        "problem": "hh-cell",
        "kwargs": {},
        "pass_fail": True,
        "budget": 300,
        "batch_size": 20,
        "methods": ["c+o-ftt", "gpr"],
    },
    "c2dtlz2": {
        "problem": "c2dtlz2",
        "kwargs": {"dim": 12},
        "budget": 200,
        "batch_size": 20,
        "methods": ["c+o-ftt", "megp", "sobol"],
    },
}


def pass_fail(problem: Any) -> Any:
    """``problem`` with every constraint value replaced by +1 (satisfied) or -1."""
    import botorch_joint as bj

    def batch(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        evaluations = problem.evaluate_batch(X)
        Y = np.stack([e.y for e in evaluations])
        with np.errstate(invalid="ignore"):
            C = np.where(np.stack([e.c for e in evaluations]) >= 0, 1.0, -1.0)
        return Y, C

    return bj.Problem(
        f"{problem.name}-passfail",
        problem.parameters,
        problem.objective_names,
        problem.constraint_names,
        batch_evaluate=batch,
        ref_point=problem.ref_point,
        max_hv=problem.max_hv,
    )


def run_one(
    suite: dict[str, Any], method: str, seed: int, method_options: dict[str, Any]
) -> dict[str, Any]:
    """One optimisation run and its summary numbers."""
    import botorch_joint as bj
    from botorch_joint.metrics import normalized_hypervolume

    problem = bj.problems.get(suite["problem"], **suite["kwargs"])
    if suite.get("pass_fail"):
        problem = pass_fail(problem)
    t0 = time.perf_counter()
    opts = method_options if method not in ("sobol", "lh", "slh", "mc") else None
    res = bj.optimize(
        problem,
        method=method,
        budget=suite["budget"],
        batch_size=suite["batch_size"],
        seed=seed,
        progress=False,
        method_options=opts,
    )
    wall = time.perf_counter() - t0
    post = res.epoch > 0
    feas = res.feasible
    n_init = int((res.epoch == 0).sum())
    nhv = None
    if problem.ref_point is not None and problem.max_hv:
        Yf = res.Y[feas]
        nhv = normalized_hypervolume(Yf, problem.ref_point, problem.max_hv) if len(Yf) else 0.0
    timings = [t for t in res.timings if t["epoch"] > 0]
    train = [t["train_seconds"] for t in timings]
    search = [t["search_seconds"] for t in timings]
    return {
        "suite": suite.get("name", suite["problem"]),
        "method": method,
        "seed": seed,
        "budget": suite["budget"],
        "n_initial": n_init,
        "n_feasible": int(feas.sum()),
        "n_failed": int(res.failed.sum()),
        "feasible_share_post_initial": float(feas[post].mean()) if post.any() else None,
        "feasible_share_initial": float(feas[~post].mean()) if (~post).any() else None,
        "normalized_hv": nhv,
        "wall_seconds": wall,
        "train_seconds_mean": float(np.mean(train)) if train else 0.0,
        "train_seconds_max": float(np.max(train)) if train else 0.0,
        "search_seconds_mean": float(np.mean(search)) if search else 0.0,
        "search_seconds_max": float(np.max(search)) if search else 0.0,
        "method_options": opts,
    }


def summarise(records: list[dict[str, Any]]) -> str:
    """Markdown tables of the medians (and per-seed values) per suite and method."""
    lines = ["# Surrogate search versus baselines", ""]
    for name, suite in SUITES.items():
        recs = [r for r in records if r["suite"] == name]
        if not recs:
            continue
        lines += [
            f"## {name} (budget {suite['budget']}, batch {suite['batch_size']})",
            "",
            "| method | seeds | feasible share after initial design: median (per seed) "
            "| normalised HV: median (per seed) | train s/epoch (mean) "
            "| search s/epoch (mean) | wall s (median) |",
            "|---|---|---|---|---|---|---|",
        ]
        methods = list(dict.fromkeys(r["method"] for r in recs))
        for m in methods:
            rs = sorted((r for r in recs if r["method"] == m), key=lambda r: r["seed"])
            fs = [r["feasible_share_post_initial"] for r in rs]
            hv = [r["normalized_hv"] for r in rs]

            def fmt(vals: list[float | None], pct: bool) -> str:
                v = [x for x in vals if x is not None]
                if not v:
                    return "-"
                f = (lambda x: f"{100 * x:.1f}%") if pct else (lambda x: f"{x:.4f}")
                return f"{f(float(np.median(v)))} ({', '.join(f(x) for x in v)})"

            lines.append(
                f"| {m} | {len(rs)} | {fmt(fs, True)} | {fmt(hv, False)} "
                f"| {np.mean([r['train_seconds_mean'] for r in rs]):.1f} "
                f"| {np.mean([r['search_seconds_mean'] for r in rs]):.1f} "
                f"| {np.median([r['wall_seconds'] for r in rs]):.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


_EPOCH_DATA: dict[tuple[str, int, int], Any] = {}


def epoch_timing(
    seed: int,
    method: str,
    method_options: dict[str, Any],
    n: int = 300,
    problem_name: str = "c2dtlz2",
    mixture_gp_max_rows: int | None = -1,
) -> dict[str, Any]:
    """Time one epoch (fit + sensitivity + search) at ``n`` Sobol points of a problem.

    ``mixture_gp_max_rows``: the network methods' mixture GP row cap for this epoch
    (``None``: uncapped, as before the cap; -1: the library's default).
    """
    import botorch_joint as bj
    import botorch_joint.strategies.surrogate as surrogate
    from botorch_joint.designs import sample
    from botorch_joint.strategies import make_strategy

    options = {"dim": 12} if problem_name == "c2dtlz2" else {}
    problem = bj.problems.get(problem_name, **options)
    key = (problem_name, n, seed)
    if key not in _EPOCH_DATA:  # the same points for every method timed in this process
        res = bj.Result.empty(problem)
        X = problem.from_unit(sample("sobol", n, problem.dim, seed))
        res.append(X, problem.evaluate_batch(X), 0)
        _EPOCH_DATA[key] = res
    res = _EPOCH_DATA[key]
    default = surrogate.MIXTURE_GP_MAX_ROWS
    cap = default if mixture_gp_max_rows == -1 else mixture_gp_max_rows
    surrogate.MIXTURE_GP_MAX_ROWS = cap  # type: ignore[assignment]
    try:
        strategy = make_strategy(method, problem, budget=n + 20, seed=seed, options=method_options)
        t0 = time.perf_counter()
        prop = strategy.propose(res, 20, 1)
        total = time.perf_counter() - t0
    finally:
        surrogate.MIXTURE_GP_MAX_ROWS = default
    return {
        "method": method,
        "problem": problem_name,
        "n": n,
        "d": problem.dim,
        "mixture_gp_max_rows": cap if getattr(strategy, "gp_mixture", False) else None,
        "total_seconds": total,
        "train_seconds": prop.train_seconds,
        "search_seconds": prop.search_seconds,
        "sensitivity_seconds": prop.info.get("sensitivity_seconds"),
        "evolution_seconds": prop.info.get("seconds_evolution"),
        "cgd_seconds": prop.info.get("seconds_cgd"),
        "selection_seconds": prop.info.get("seconds_selection"),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    ap.add_argument("--methods", nargs="*", default=None, help="override the suite's methods")
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on shared CPUs)")
    ap.add_argument("--method-options", default="{}", help="JSON dict for the surrogate strategies")
    ap.add_argument("--tag", default="", help="suffix of the output files")
    ap.add_argument("--epoch-timing", action="store_true", help="only time one epoch")
    ap.add_argument("--epoch-n", nargs="+", type=int, default=[300], help="epoch-timing sizes")
    ap.add_argument("--epoch-problem", default="c2dtlz2", help="epoch-timing problem")
    ap.add_argument(
        "--mixture-gp-max-rows",
        nargs="+",
        default=["default"],
        help="epoch timing: the mixture GP's row caps to time ('default', 'none' or a number)",
    )
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    method_options = json.loads(args.method_options)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"_{args.tag}" if args.tag else ""

    if args.epoch_timing:
        caps = [{"default": -1, "none": None}.get(c, c) for c in args.mixture_gp_max_rows]
        caps = [c if c in (-1, None) else int(c) for c in caps]
        rows = []
        for n in args.epoch_n:
            for m in args.methods or ["c+o-ftt"]:
                for cap in caps if m.startswith("c+o-") else [-1]:
                    for s in args.seeds:
                        rows.append(epoch_timing(s, m, method_options, n, args.epoch_problem, cap))
                        print(json.dumps(rows[-1]), flush=True)
                        (out / f"epoch_timing{tag}.json").write_text(json.dumps(rows, indent=1))
        return 0

    path = out / f"search_methods{tag}.json"
    state = json.loads(path.read_text()) if path.exists() else {"records": []}
    state["machine"] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch_threads": args.threads,
    }
    done = {(r["suite"], r["method"], r["seed"]) for r in state["records"]}
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    for name in suites:
        suite = {**SUITES[name], "name": name}
        for method in args.methods or suite["methods"]:
            for seed in args.seeds:
                if (name, method, seed) in done:
                    continue
                print(f"[{time.strftime('%H:%M:%S')}] {name} {method} seed {seed}", flush=True)
                rec = run_one(suite, method, seed, method_options)
                print("   ", json.dumps(rec), flush=True)
                state["records"].append(rec)
                path.write_text(json.dumps(state, indent=1))
                (out / f"search_methods{tag}.md").write_text(summarise(state["records"]))
    print(summarise(state["records"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
