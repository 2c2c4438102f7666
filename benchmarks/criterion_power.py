#!/usr/bin/env python
"""How often would the robust-search issue's targets pass by chance? A bootstrap.

The issue asks, on every problem at budgets 100 and 200, that the median over five
seeds of ``c+o-ftt``'s normalised hypervolume be at least the better of the medians of
``gpr`` and ``megp`` minus 0.02, and 0.05 above it on three problems. Medians of five
runs move between seed sets; and "the better of two medians" is biased upwards, since
the larger of two noisy medians tends to exceed either's typical value. This script
estimates, from finished runs, how likely each target is to pass in one fresh
acceptance of five seeds:

- ``as measured``: five runs drawn with replacement from each method's own runs;
- ``equal to the better``: ``c+o-ftt``'s five drawn from the runs of whichever GP
  baseline has the higher median on that problem at that budget (a method exactly as
  good as the better baseline, run for run), against freshly drawn baseline runs.

Runs of several sweeps (``--runs LABEL=DIR``, e.g. the acceptance sweeps of successive
search versions on the same seeds) are pooled per problem and method; the runs of one
draw are read at every budget, so the budgets of one draw stay paired. Problems are
drawn independently of each other, so "every problem" is the product of the problems'
probabilities.

Example::

    R=benchmarks/results
    python benchmarks/criterion_power.py --runs a=$R/unc_b200 b=$R/polish_b200 \\
        c=$R/robust_search_b200 d=$R/unc_hh_b300 e=$R/polish_hh_b300 \\
        f=$R/robust_search_hh_b300 --out $R/criterion_power.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.robust_search import hv_at, load_runs  # noqa: E402

OURS, BASELINES = "c+o-ftt", ("gpr", "megp")  # the issue names these
TOLERANCE, AHEAD, AHEAD_PROBLEMS = 0.02, 0.05, 3


def pools(
    rows: list[dict[str, Any]], budgets: list[int], ours: str = OURS
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``{problem: {method: ((runs, budgets) HV, (runs,) feasible by the first
    budget)}}`` for the problems with runs of ``ours`` and both baselines."""
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    for problem in sorted({r["problem"] for r in rows}):
        by = {}
        for method in (ours, *BASELINES):
            runs = [r for r in rows if r["problem"] == problem and r["method"] == method]
            if runs:
                hv = np.array([[hv_at(r, b) for b in budgets] for r in runs])
                found = np.array([_found_by(r, budgets[0]) for r in runs])
                by[method] = (hv, found)
        if len(by) == 3:
            out[problem] = by
    return out


def _found_by(row: dict[str, Any], budget: int) -> bool:
    if row["design_feasible"]:
        return True
    return row["first_feasible"] is not None and row["first_feasible"] <= budget


def simulate(
    pool: dict[str, np.ndarray],
    seeds: int,
    draws: int,
    rng: np.random.Generator,
    ours: str = OURS,
) -> dict[str, np.ndarray]:
    """Per draw and budget: our median minus the better baseline median, both nulls.

    Args:
        pool: ``{method: (runs, budgets) HV}`` for ``ours``, ``gpr`` and ``megp``.

    Returns:
        ``{"as measured": (draws, B), "equal to the better": (draws, B)}``.
    """

    def medians(runs: np.ndarray) -> np.ndarray:  # (draws, B)
        pick = rng.integers(len(runs), size=(draws, seeds))
        return np.median(runs[pick], axis=1)

    base = np.maximum(medians(pool[BASELINES[0]]), medians(pool[BASELINES[1]]))
    better = [
        max(BASELINES, key=lambda m: float(np.median(pool[m][:, b])))
        for b in range(pool[ours].shape[1])
    ]
    equal = np.stack([medians(pool[m][:, [b]])[:, 0] for b, m in enumerate(better)], axis=1)
    return {"as measured": medians(pool[ours]) - base, "equal to the better": equal - base}


def report(
    rows: list[dict[str, Any]],
    budgets: list[int],
    seeds: int,
    draws: int,
    seed: int,
    ours: str = OURS,
) -> str:
    """The tables: per problem and null, P(within 0.02 at every budget), P(0.05 ahead),
    and per method P(a feasible point by the first budget on every seed)."""
    rng = np.random.default_rng(seed)
    by_problem = pools(rows, budgets, ours)
    if not by_problem:
        raise SystemExit(f"no problem has finished runs of {ours}, gpr and megp")
    nulls = ("as measured", "equal to the better")
    methods = (ours, *BASELINES)
    lines = [
        f"Bootstrap of {draws} acceptances of {seeds} seeds each (budgets "
        f"{', '.join(map(str, budgets))}; runs pooled per problem and method; "
        f"scored: {ours}).",
        "",
        f"| problem | runs ({' / '.join(methods)}) | "
        + " | ".join(f"{n}: P(within {TOLERANCE}) / P({AHEAD} ahead)" for n in nulls)
        + f" | P(feasible by {budgets[0]} on every seed): "
        + " / ".join(methods)
        + " |",
        "|---|---|" + "---|" * (len(nulls) + 1),
    ]
    within_all = {n: np.ones(draws, bool) for n in nulls}
    ahead_count = {n: np.zeros(draws, int) for n in nulls}
    for problem, pool in by_problem.items():
        diff = simulate({m: hv for m, (hv, _) in pool.items()}, seeds, draws, rng, ours)
        cells = []
        for n in nulls:
            within = (diff[n] >= -TOLERANCE).all(axis=1)
            ahead = (diff[n] >= AHEAD).any(axis=1)
            within_all[n] &= within
            ahead_count[n] += ahead
            cells.append(f"{within.mean():.2f} / {ahead.mean():.2f}")
        # every one of `seeds` independent runs finds one: p ** seeds
        found = " / ".join(f"{pool[m][1].mean() ** seeds:.2f}" for m in methods)
        sizes = " / ".join(str(len(pool[m][0])) for m in methods)
        lines.append(f"| {problem} | {sizes} | {' | '.join(cells)} | {found} |")
    lines += [
        "",
        f"| over the {len(by_problem)} problems | " + " | ".join(nulls) + " |",
        "|---|" + "---|" * len(nulls),
        f"| within {TOLERANCE} on every problem (one acceptance, problems drawn "
        "independently) | " + " | ".join(f"{within_all[n].mean():.3f}" for n in nulls) + " |",
        f"| {AHEAD} ahead on {AHEAD_PROBLEMS} or more problems | "
        + " | ".join(f"{(ahead_count[n] >= AHEAD_PROBLEMS).mean():.3f}" for n in nulls)
        + " |",
        "| both | "
        + " | ".join(
            f"{(within_all[n] & (ahead_count[n] >= AHEAD_PROBLEMS)).mean():.3f}" for n in nulls
        )
        + " |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True, help="LABEL=DIR of a run.py sweep")
    ap.add_argument("--budgets", nargs="+", type=int, default=[100, 200])
    ap.add_argument("--seeds", type=int, default=5, help="runs per median (default 5)")
    ap.add_argument("--draws", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0, help="the bootstrap's random seed")
    ap.add_argument("--method", default=OURS, help=f"the method scored (default {OURS})")
    ap.add_argument("--out", default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)
    if args.seeds < 1 or args.draws < 1:
        ap.error("--seeds and --draws must be positive")
    if args.method in BASELINES:
        ap.error(f"--method {args.method!r} is a baseline; score another method against them")
    rows = load_runs(args.runs, ap)
    text = report(rows, args.budgets, args.seeds, args.draws, args.seed, args.method)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
