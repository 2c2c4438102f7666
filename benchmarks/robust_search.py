#!/usr/bin/env python
"""Tables of the robust-search issue from ``benchmarks/run.py`` sweeps.

Each sweep directory (``--runs LABEL=DIR``) holds run records
(``DIR/records/PROBLEM/METHOD/seedS.json``). For every problem the script prints, per
``label:method``, the median normalised hypervolume of the feasible points at each
requested budget (read from the run's hypervolume history, so a budget-200 run also
gives its budget-100 figure), the per-seed values, how many seeds found no feasible
point, the median evaluation of the first feasible point after the initial design, and
the share of feasible evaluations after the design. With ``--check LABEL`` it also
checks the issue's targets for that sweep: ``c+o-ftt`` against the better of ``gpr``
and ``megp``.

Examples::

    python benchmarks/robust_search.py --runs final=benchmarks/results/robust_search_b200
    python benchmarks/robust_search.py --runs final=benchmarks/results/robust_search_b200 \\
        --budgets 100 200 --check final --out benchmarks/results/robust_search_b200.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load(label: str, path: Path) -> list[dict[str, Any]]:
    """One summary row per finished run record under ``path``."""
    rows = []
    for f in sorted(path.glob("records/*/*/seed*.json")):
        d = json.loads(f.read_text())
        if not d.get("complete"):
            continue
        r = d["result"]
        max_hv = r.get("max_hv") or 1.0
        epoch = np.asarray(r["epoch"])
        feasible = np.asarray(r.get("feasible") or _feasible(r), bool)
        after = epoch > 0
        first = np.flatnonzero(feasible & after)
        rows.append(
            {
                "label": label,
                "problem": d["problem"],
                "method": d["method"],
                "seed": int(d["seed"]),
                "hv": np.asarray(d["hv_history"], float) / max_hv,
                "any_feasible": bool(feasible.any()),
                "design_feasible": bool(feasible[~after].any()),
                "first_feasible": int(first[0]) + 1 if first.size else None,
                "n_initial": int((~after).sum()),
                "share_after_design": float(feasible[after].mean()) if after.any() else np.nan,
                "train_s": float(d["timing"].get("train_seconds", 0.0)),
                "search_s": float(d["timing"].get("search_seconds", 0.0)),
                "epochs": int(epoch.max()),
            }
        )
    return rows


def load_runs(specs: list[str], ap: argparse.ArgumentParser) -> list[dict[str, Any]]:
    """The rows of every ``LABEL=DIR`` in ``specs``; a bad spec is a usage error."""
    rows: list[dict[str, Any]] = []
    for spec in specs:
        label, _, path = spec.partition("=")
        if not path:
            ap.error(f"--runs wants LABEL=DIR, got {spec!r}")
        if not Path(path).is_dir():
            ap.error(f"--runs {spec!r}: no such directory")
        found = load(label, Path(path))
        if not found:
            print(f"note: no finished run records under {path}", file=sys.stderr)
        rows += found
    return rows


def _feasible(r: dict[str, Any]) -> np.ndarray:
    C = np.asarray(r["C"], float).reshape(len(r["failed"]), -1)
    with np.errstate(invalid="ignore"):
        return ~np.asarray(r["failed"], bool) & np.all(np.nan_to_num(C, nan=-1.0) >= 0, axis=1)


def hv_at(row: dict[str, Any], budget: int) -> float:
    h = row["hv"]
    return float(h[min(budget, len(h)) - 1]) if len(h) else float("nan")


def table(rows: list[dict[str, Any]], budgets: list[int]) -> str:
    out = []
    for problem in sorted({r["problem"] for r in rows}):
        sub = [r for r in rows if r["problem"] == problem]
        out.append(f"\n### {problem}\n")
        head = " | ".join(f"HV@{b}: median (per seed)" for b in budgets)
        out.append(
            f"| run | seeds | {head} | no feasible point | first feasible eval "
            "(median) | feasible after design | train / search s per epoch |"
        )
        out.append("|---" * (6 + len(budgets)) + "|")
        for key in sorted({(r["label"], r["method"]) for r in sub}):
            runs = sorted((r for r in sub if (r["label"], r["method"]) == key), key=_seed)
            cells = []
            for b in budgets:
                v = [hv_at(r, b) for r in runs]
                cells.append(f"{np.median(v):.3f} ({', '.join(f'{x:.3f}' for x in v)})")
            firsts = [r["first_feasible"] for r in runs if r["first_feasible"] is not None]
            first = f"{np.median(firsts):.0f}" if firsts else "-"
            share = np.median([r["share_after_design"] for r in runs])
            epochs = sum(r["epochs"] for r in runs) or 1
            t = sum(r["train_s"] for r in runs) / epochs
            s = sum(r["search_s"] for r in runs) / epochs
            out.append(
                f"| {key[0]}:{key[1]} | {len(runs)} | {' | '.join(cells)} | "
                f"{sum(not r['any_feasible'] for r in runs)} | {first} | {share:.1%} | "
                f"{t:.1f} / {s:.1f} |"
            )
    return "\n".join(out)


def _seed(r: dict[str, Any]) -> int:
    return r["seed"]


def check(rows: list[dict[str, Any]], label: str, budgets: list[int]) -> str:
    """The issue's targets for ``label``: c+o-ftt against the better GP baseline."""
    sub = [r for r in rows if r["label"] == label]
    if not sub:
        labels = sorted({r["label"] for r in rows})
        raise SystemExit(f"--check {label!r}: no runs with that label; labels are {labels}")
    out = [
        "\n### Targets\n",
        "| problem | budget | c+o-ftt | best of gpr, megp | difference | seeds |",
    ]
    out.append("|---|---|---|---|---|---|")
    ahead: set[str] = set()
    behind, missing_feasible = [], []
    for problem in sorted({r["problem"] for r in sub}):
        by = {
            m: sorted((r for r in sub if r["problem"] == problem and r["method"] == m), key=_seed)
            for m in ("c+o-ftt", "gpr", "megp")
        }
        seeds = sorted(set.intersection(*({r["seed"] for r in v} for v in by.values())))
        if not seeds:
            continue
        for m in by:
            by[m] = [r for r in by[m] if r["seed"] in seeds]
        for b in budgets:
            ours = float(np.median([hv_at(r, b) for r in by["c+o-ftt"]]))
            best = max(float(np.median([hv_at(r, b) for r in by[m]])) for m in ("gpr", "megp"))
            diff = ours - best
            if diff >= 0.05:
                ahead.add(problem)
            if diff < -0.02:
                behind.append(f"{problem}@{b} ({diff:+.3f})")
            out.append(
                f"| {problem} | {b} | {ours:.3f} | {best:.3f} | {diff:+.3f} | "
                f"{', '.join(map(str, seeds))} |"
            )
        others_found = any(r["any_feasible"] for m in ("gpr", "megp") for r in by[m])
        ours_missed = [r["seed"] for r in by["c+o-ftt"] if not r["any_feasible"]]
        if others_found and ours_missed:
            missing_feasible.append(f"{problem} (seeds {ours_missed})")
    out.append("")
    met = "met" if not behind else "missed: " + ", ".join(behind)
    out.append(f"- at least the better GP baseline minus 0.02: {met}")
    listed = ", ".join(sorted(ahead)) or "none"
    out.append(f"- 0.05 or more ahead at some budget: {len(ahead)} problems ({listed}; target: 3)")
    met = "met" if not missing_feasible else "missed: " + ", ".join(missing_feasible)
    out.append(f"- a feasible point on every seed where a baseline found one: {met}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True, help="LABEL=DIR of a run.py sweep")
    ap.add_argument("--budgets", nargs="+", type=int, default=[100, 200])
    ap.add_argument("--problems", nargs="*", default=None)
    ap.add_argument("--check", default=None, help="label whose targets to check")
    ap.add_argument("--out", default=None, help="also write the tables to this file")
    args = ap.parse_args(argv)
    rows = load_runs(args.runs, ap)
    if args.problems:
        rows = [r for r in rows if r["problem"] in args.problems]
    text = table(rows, args.budgets)
    if args.check:
        text += "\n" + check(rows, args.check, args.budgets)
    print(text)
    if args.out:
        Path(args.out).write_text(text.lstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
