#!/usr/bin/env python
"""How precisely does a fitted surrogate locate the optimum? (``c2dtlz2``, d = 12)

On C2-DTLZ2 every Pareto-optimal point has its eleven distance variables at 0.5
(``g = 0``, radius 1 in objective space), so the error of a surrogate's predicted
optimum can be read off directly. For each data snapshot (the evaluations of a
``megp`` run after epoch 3 and after epoch 5, seeds 0 and 2: 86 and 126 points) and
each surrogate variant (two model seeds each), this script

1. fits the surrogate to the snapshot,
2. descends its predicted objectives (Chebyshev weights from 0.2/0.8 to 0.8/0.2, no
   feasibility term, 60 Adam steps) from the snapshot's feasible points and 32 uniform
   points,
3. evaluates the end points on the true function and records the median true radius
   ``1 + g`` and the mean distance ``|x_i - 0.5|`` of the distance variables.

The snapshots isolate the model from the search: every variant sees the same data.
Output: ``OUT/optimum_precision.json`` and ``OUT/optimum_precision.md``.

Examples::

    python benchmarks/optimum_precision.py
    python benchmarks/optimum_precision.py --variants new-defaults megp --smoke
    python benchmarks/optimum_precision.py --variants resnet "ftt 1 block" "ftt 3 blocks" \
        "ftt dim 64" "ftt dim 16" --out benchmarks/results/optimum_precision_architectures
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

OLD_NETWORK = {"activation": "relu", "final_norm": True, "ffn_dropout": 0.1}
#: name -> (method, model_options)
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "old-defaults": ("c+o-ftt", {"validation_fraction": 0.15, "network_options": OLD_NETWORK}),
    "old + no hold-out": ("c+o-ftt", {"validation_fraction": 0.0, "network_options": OLD_NETWORK}),
    "old + smooth network": ("c+o-ftt", {"validation_fraction": 0.15}),
    "new-defaults": ("c+o-ftt", {}),
    "new-defaults, 10 members": ("c+o-ftt", {"ensemble_size": 10}),
    "new-defaults, 600 epochs": ("c+o-ftt", {"max_epochs": 600}),
    "resnet": ("c+o-resnet", {}),
    "ftt 1 block": ("c+o-ftt", {"network_options": {"n_blocks": 1}}),
    "ftt 3 blocks": ("c+o-ftt", {"network_options": {"n_blocks": 3}}),
    "ftt dim 64": ("c+o-ftt", {"network_options": {"dim": 64, "heads": 8}}),
    "ftt dim 16": ("c+o-ftt", {"network_options": {"dim": 16, "heads": 2}}),
    "megp": ("megp", {}),
}


def snapshots(seeds: list[int], epochs: list[int], batch: int) -> dict[str, Any]:
    """``{"megp<seed>:<epoch>": Result}``: prefixes of seeded ``megp`` runs."""
    import botorch_joint as bj

    problem = bj.problems.get("c2dtlz2", dim=12)
    n_initial = max(2 * (problem.dim + 1), batch)  # as in the budget-200 acceptance runs
    out = {}
    for seed in seeds:
        res = bj.optimize(
            problem,
            method="megp",
            budget=n_initial + max(epochs) * batch,
            n_initial=n_initial,
            batch_size=batch,
            seed=seed,
            progress=False,
            # The search settings of the recorded snapshots: two exploration slots, the
            # default until the exploration tempering (later defaults give other data).
            method_options={"search_options": {"explore_fraction": 0.1}},
        )
        for ep in epochs:
            keep = res.epoch <= ep
            data = res.to_json_dict()
            for key in ("X", "Y", "C", "failed", "epoch", "errors", "eval_seconds"):
                data[key] = [v for v, k in zip(data[key], keep) if k]
            out[f"megp{seed}:{ep}"] = bj.Result.from_json_dict(data)
    return out


def precision(
    method: str, model_options: dict[str, Any], data: Any, epoch: int, model_seed: int, steps: int
) -> dict[str, float]:
    """Fit one surrogate on ``data`` and measure its predicted optima on the truth."""
    import botorch_joint as bj
    from botorch_joint.acquisition import ConstraintGradientDescent
    from botorch_joint.strategies import make_strategy

    problem = bj.problems.get("c2dtlz2", dim=12)
    strategy = make_strategy(
        method, problem, budget=1000, seed=model_seed, options={"model_options": model_options}
    )
    t0 = time.perf_counter()
    model = strategy.fit(data, epoch + 1)
    fit_seconds = time.perf_counter() - t0
    rng = np.random.default_rng(model_seed)
    feasible = data.X[data.feasible][:16]
    X0 = np.vstack([feasible, problem.from_unit(rng.random((32, problem.dim)))])
    a = np.linspace(0.2, 0.8, len(X0))
    cgd = ConstraintGradientDescent(
        model,
        bounds=problem.bounds,
        steps=steps,
        lr=0.05,
        lr_final=0.05,
        feasibility_weight=0.0,
        ideal=np.zeros(2),
        scale=np.ones(2),
        use_feasibility=False,
    )
    X = cgd.run(X0, weights=np.stack([a, 1 - a], axis=1)).X[-1].numpy()
    Y = np.stack([e.y for e in problem.evaluate_batch(X)])
    U = problem.to_unit(X)
    return {
        "true_radius": float(np.median(np.linalg.norm(Y, axis=1))),
        "distance_error": float(np.abs(U[:, 1:] - 0.5).mean()),
        "fit_seconds": fit_seconds,
    }


def table(rows: list[dict[str, Any]], snaps: list[str]) -> str:
    lines = [
        "# Precision of the predicted optimum on c2dtlz2 (d = 12)",
        "",
        "Median true radius `1 + g` of the surrogate's predicted optima (1 is exact), and",
        "in brackets the mean `|x_i - 0.5|` of the distance variables; mean over two",
        "model seeds per snapshot (`megp<seed>:<epoch>`: that run's first evaluations).",
        "",
        "| variant | " + " | ".join(snaps) + " | fit s (mean) |",
        "|---|" + "---|" * (len(snaps) + 1),
    ]
    for name in dict.fromkeys(r["variant"] for r in rows):
        cells = []
        for s in snaps:
            rs = [r for r in rows if r["variant"] == name and r["snapshot"] == s]
            if not rs:
                cells.append("-")
                continue
            rad = np.mean([r["true_radius"] for r in rs])
            err = np.mean([r["distance_error"] for r in rs])
            cells.append(f"{rad:.3f} ({err:.3f})")
        fit = np.mean([r["fit_seconds"] for r in rows if r["variant"] == name])
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fit:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", nargs="*", type=int, default=[0, 2], help="megp runs")
    ap.add_argument("--epochs", nargs="*", type=int, default=[3, 5], help="snapshot epochs")
    ap.add_argument("--model-seeds", nargs="*", type=int, default=[100, 101])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "optimum_precision"))
    ap.add_argument("--smoke", action="store_true", help="one tiny snapshot, few steps")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    seeds, epochs, model_seeds, batch, steps = args.seeds, args.epochs, args.model_seeds, 20, 60
    if args.smoke:
        seeds, epochs, model_seeds, batch, steps = [0], [1], [0], 4, 3
    snaps = snapshots(seeds, epochs, batch)
    rows = []
    for name in args.variants:
        method, model_options = VARIANTS[name]
        if args.smoke and method != "megp":
            model_options = {**model_options, "max_epochs": 3, "ensemble_size": 2}
        for snap, data in snaps.items():
            epoch = int(snap.split(":")[1])
            for ms in model_seeds:
                row = {"variant": name, "snapshot": snap, "model_seed": ms}
                row.update(precision(method, model_options, data, epoch, ms, steps))
                print(json.dumps(row), flush=True)
                rows.append(row)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "optimum_precision.json").write_text(json.dumps(rows, indent=1))
    md = table(rows, list(snaps))
    (out / "optimum_precision.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
