#!/usr/bin/env python
"""Where the surrogate search spends its time at a batch of 100, and what the shared
partitions save. Epochs of a finished run, replayed.

For each ``n`` of ``--n``: the run's first ``n`` evaluations, the method's models fitted
from them exactly as the run fitted them (same seeds, fitted once), and one batch of each
size in ``--batch-sizes`` proposed twice from the same models: by the search as released,
and by the same search with every hypervolume partition computed afresh by BoTorch's
``FastNondominatedPartitioning`` (the search before the partitions were shared and
their last step vectorised). The record says, per proposal, the seconds of each stage,
whether the two batches are identical, and, at the run's own batch size, whether the
released search proposed the batch the run evaluated.

Timings are measured in one process with one torch thread, the two searches one after
the other on the same models: compare them as a ratio.

Usage::

    python benchmarks/search_seconds.py \\
        --record benchmarks/results/hpc_regime/records/hh-cell/c+o-ftt/seed10.json \\
        --n 1100 1900 --batch-sizes 100 20 --out benchmarks/results/search_seconds.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.polish_realised import replay_at, row_for  # noqa: E402

STAGES = ("seconds_evolution", "seconds_cgd", "seconds_selection", "seconds_polish")


def fresh_cells(front: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every partition from scratch, by BoTorch's class (the search as it was)."""
    import torch
    from botorch.utils.multi_objective.box_decompositions.non_dominated import (
        FastNondominatedPartitioning,
    )

    ref = np.asarray(ref, dtype=float).reshape(-1)
    front = np.asarray(front, dtype=float).reshape(-1, ref.size)
    front = front[np.all(front < ref, axis=1)]
    part = FastNondominatedPartitioning(
        ref_point=torch.as_tensor(-ref), Y=torch.as_tensor(-front).reshape(-1, ref.size)
    )
    lower, upper = part.get_hypercell_bounds().numpy()
    return lower, upper


def replay(record: dict[str, Any], n: int, batches: list[int]) -> list[dict[str, Any]]:
    """Both searches at ``n`` evaluations of ``record``'s run, for every batch size."""
    import botorch_joint.acquisition.ranking as ranking
    import botorch_joint.acquisition.search as search_module

    run_batch = int((record.get("settings") or {}).get("batch_size") or 20)
    rep = replay_at(record, n, run_batch)
    result, data, epoch, strategy = rep.result, rep.data, rep.epoch, rep.strategy
    released = (ranking.hypervolume_cells, search_module.hypervolume_cells)
    rows = []
    for batch in batches:
        row = row_for(record, n, batch=batch)
        X = {}
        for name in ("released", "fresh"):
            if name == "fresh":
                ranking.hypervolume_cells = search_module.hypervolume_cells = fresh_cells
            try:
                t0 = time.perf_counter()
                prop = strategy.propose(data, batch, epoch)
                row[f"propose_{name}"] = time.perf_counter() - t0
            finally:
                ranking.hypervolume_cells, search_module.hypervolume_cells = released
            X[name] = prop.X
            for stage in STAGES:
                row[f"{stage}_{name}"] = float(prop.info.get(stage, 0.0))
            row[f"search_{name}"] = float(prop.info.get("seconds_total", 0.0))
        row["fit_seconds"] = rep.fit_seconds
        row["identical"] = bool(np.array_equal(X["released"], X["fresh"]))
        if batch == run_batch:
            ran = result.X[n : n + batch]
            row["replays_run"] = bool(
                len(ran) == len(X["released"]) and np.array_equal(ran, X["released"])
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The Markdown table of ``rows``."""
    lines = [
        "| n | batch | search s, fresh partitions | search s, released | ratio | "
        "selection s (fresh / released) | polish s (fresh / released) | identical batch | "
        "replays the run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rep = r.get("replays_run")
        lines.append(
            f"| {r['n']} | {r['batch']} | {r['search_fresh']:.1f} | {r['search_released']:.1f} | "
            f"{r['search_fresh'] / max(r['search_released'], 1e-9):.2f} | "
            f"{r['seconds_selection_fresh']:.1f} / {r['seconds_selection_released']:.1f} | "
            f"{r['seconds_polish_fresh']:.1f} / {r['seconds_polish_released']:.1f} | "
            f"{'yes' if r['identical'] else 'NO'} | "
            f"{'-' if rep is None else ('yes' if rep else 'NO')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--record", type=Path, required=True, help="a run.py record (JSON)")
    p.add_argument("--n", nargs="+", type=int, required=True, help="evaluations replayed")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[100, 20])
    p.add_argument("--out", type=Path, default=None, help="Markdown report (else printed)")
    args = p.parse_args(argv)
    if not args.record.exists():
        p.error(f"no record {args.record}")
    record = json.loads(args.record.read_text())
    total = len(record["result"]["X"])
    bad = [n for n in args.n if not 0 < n < total]
    if bad:
        p.error(f"--n must lie between 1 and {total - 1} (the record's evaluations): {bad}")
    import platform

    import torch

    torch.set_num_threads(1)
    rows = [row for n in args.n for row in replay(record, n, args.batch_sizes)]
    command = "python benchmarks/search_seconds.py " + " ".join(sys.argv[1:])
    text = "\n".join(
        [
            "# Search seconds: shared partitions against fresh ones",
            "",
            f"Record: `{args.record}` ({record['problem']}, {record['method']}, seed "
            f"{record['seed']}). Command: `{command}`. One process, one torch thread, "
            f"{platform.processor() or platform.machine()}, torch {torch.__version__}.",
            "",
            table(rows),
            "",
            "```json",
            *[json.dumps(r) for r in rows],
            "```",
            "",
        ]
    )
    if args.out is None:
        print(text)
    else:
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
