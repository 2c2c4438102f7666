#!/usr/bin/env python
"""Does the polish deliver what it promises? Epochs of finished runs, replayed.

For each record (problem, method, seed) and each epoch ``e`` of ``--epochs``: the
``n`` evaluations the run had before epoch ``e``, the method's model fitted from them
exactly as the run fitted it at that epoch (same seeds), and two batches proposed from
it: the search as released, and the same with the polish off (``POLISH_STEPS = 0``).
Both batches are evaluated on the true problem. Per batch the script records the
hypervolume of the feasible evaluations after adding it (normalised by the problem's
maximum where known, else by the HV before the batch), its feasible picks, how many
picks the polish moved, its proposal seconds (the second batch reuses the first's
fitted models), and whether the released search proposed the batch the run
evaluated (it must, when the records were made by the same code).

The question it answers: on a problem where the polish lowers the final HV (``mw7``,
``ei-network`` in ``docs/robust_search.md``), does a polished batch realise less than
the unpolished batch from the same model and data, one epoch at a time?

Usage::

    T=benchmarks/results/robust_search_tuning
    python benchmarks/polish_realised.py --runs $T/polish_unc_b100 \\
        --problems ei-network mw7 osy --methods c+o-ftt --seeds 0 1 2 3 4 --epochs 2 3 \\
        --out benchmarks/results/polish_realised.jsonl
    python benchmarks/polish_realised.py --report benchmarks/results/polish_realised.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def first_rows(result: Any, n: int) -> Any:
    """The result as it stood after its first ``n`` evaluations."""
    return dataclasses.replace(
        result,
        X=result.X[:n],
        Y=result.Y[:n],
        C=result.C[:n],
        failed=result.failed[:n],
        epoch=result.epoch[:n],
        errors=list(result.errors)[:n],
        eval_seconds=None if result.eval_seconds is None else result.eval_seconds[:n],
        timings=[],
        complete=False,
    )


def feasible_hv(Y: np.ndarray, C: np.ndarray, failed: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of the feasible, successful rows of ``Y`` (minimised) at ``ref``."""
    from botorch_joint.metrics import hypervolume

    ok = ~failed & np.all(np.isfinite(Y), axis=1)
    if C.shape[1]:
        ok &= np.all(C >= 0, axis=1)
    return float(hypervolume(Y[ok], ref)) if ok.any() else 0.0


@dataclasses.dataclass
class Replay:
    """A run as it stood after ``n`` evaluations, with its method's strategy rebuilt.

    ``strategy.fit`` is wrapped to fit each model once (the fit is seeded from the
    epoch, so refitting would only repeat it): every proposal made through it shares
    the models, and ``fit_seconds`` is the time those fits took.
    """

    result: Any
    problem: Any
    data: Any
    epoch: int
    strategy: Any
    fit_seconds: float = 0.0


def replay_at(record: dict[str, Any], n: int, batch: int) -> Replay:
    """The run of ``record`` after its first ``n`` evaluations, its strategy built for
    batches of ``batch`` with the run's settings and seed."""
    import botorch_joint as bj
    from botorch_joint.result import Result
    from botorch_joint.strategies.registry import make_strategy

    result = Result.from_json_dict(record["result"])
    problem = bj.problems.get(record["problem"], **(record.get("problem_options") or {}))
    settings = record.get("settings") or {}
    data = first_rows(result, n)
    strategy = make_strategy(
        record["method"],
        problem,
        budget=int(settings.get("budget") or len(result.X)),
        seed=int(record["seed"]),
        initial_design=settings.get("initial_design") or "slh",
        sensitivity=settings.get("sensitivity", "sgrad"),
        batch_size=batch,
        options=settings.get("options") or None,
    )
    rep = Replay(result, problem, data, int(data.epoch.max()) + 1, strategy)
    fit = getattr(strategy, "fit", None)
    if fit is None:
        return rep
    fitted: dict[str | None, Any] = {}

    def fit_once(data: Any, epoch: int, kind: str | None = None) -> Any:
        if kind not in fitted:
            t0 = time.perf_counter()
            fitted[kind] = fit(data, epoch, kind)
            rep.fit_seconds += time.perf_counter() - t0
        return fitted[kind]

    strategy.fit = fit_once
    return rep


def row_for(record: dict[str, Any], n: int, **fields: Any) -> dict[str, Any]:
    """The columns that name a replayed run at ``n`` evaluations, then ``fields``."""
    return {
        "problem": record["problem"],
        "method": record["method"],
        "seed": int(record["seed"]),
        "n": n,
        **fields,
    }


def replay(record: dict[str, Any], n: int, batch: int) -> dict[str, Any]:
    """Both batches proposed at ``n`` evaluations of ``record``'s run, evaluated."""
    import botorch_joint.acquisition.search as search_module

    rep = replay_at(record, n, batch)
    result, problem, data, epoch, strategy = (
        rep.result, rep.problem, rep.data, rep.epoch, rep.strategy,
    )  # fmt: skip
    ref = np.asarray(problem.ref_point, dtype=float)
    hv0 = feasible_hv(data.Y, data.C, data.failed, ref)
    norm = problem.max_hv or hv0 or 1.0
    row = row_for(record, n, epoch=epoch, hv_before=hv0 / norm)
    # Both batches come from the same fitted models: only the polish differs.
    steps = search_module.POLISH_STEPS
    for name, polish_steps in (("polish", steps), ("off", 0)):
        search_module.POLISH_STEPS = polish_steps
        try:
            t0 = time.perf_counter()
            prop = strategy.propose(data, batch, epoch)
            seconds = time.perf_counter() - t0
        finally:
            search_module.POLISH_STEPS = steps
        if name == "polish":  # same code and seeds as the run: the same batch
            ran = result.X[n : n + batch]
            row["replays_run"] = bool(len(ran) == len(prop.X) and np.allclose(ran, prop.X))
        evals = problem.evaluate_batch(prop.X)
        Y = np.vstack([data.Y, np.stack([e.y for e in evals])])
        C = np.vstack([data.C, np.stack([e.c for e in evals]).reshape(len(evals), -1)])
        failed = np.concatenate([data.failed, [e.failed for e in evals]]).astype(bool)
        pred = prop.info.get("predicted_p_feasible")
        row[f"hv_{name}"] = feasible_hv(Y, C, failed, ref) / norm
        row[f"moved_{name}"] = int(prop.info.get("batch_polished", 0))
        row[f"feasible_{name}"] = int(np.sum(np.all(C[n:] >= 0, axis=1) & ~failed[n:]))
        row[f"predicted_feasible_{name}"] = (
            None if pred is None else int(np.sum(np.asarray(pred) >= 0.5))
        )
        row[f"seconds_{name}"] = seconds
    return row


def report(path: Path) -> str:
    """Per problem and method: median HV gain of each batch, polish against off."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["problem"], r["method"], r["n"]), []).append(r)
    lines = [
        "| problem | method | n | seeds | HV before | HV gain, polish | HV gain, off | "
        "polish - off (per seed) | picks moved | feasible picks, polish / off |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (problem, method, n), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        gain_p = np.array([r["hv_polish"] - r["hv_before"] for r in rs])
        gain_o = np.array([r["hv_off"] - r["hv_before"] for r in rs])
        diff = ", ".join(f"{d:+.3f}" for d in gain_p - gain_o)
        lines.append(
            f"| {problem} | {method} | {n} | {len(rs)} | "
            f"{np.median([r['hv_before'] for r in rs]):.3f} | {np.median(gain_p):.3f} | "
            f"{np.median(gain_o):.3f} | {np.median(gain_p - gain_o):+.3f} ({diff}) | "
            f"{np.median([r['moved_polish'] for r in rs]):.0f} | "
            f"{np.median([r['feasible_polish'] for r in rs]):.0f} / "
            f"{np.median([r['feasible_off'] for r in rs]):.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, help="a run.py output directory")
    p.add_argument("--problems", nargs="+", default=[])
    p.add_argument("--methods", nargs="+", default=["c+o-ftt"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument(
        "--epochs", nargs="+", type=int, default=[2, 3], help="epochs replayed (1: the first)"
    )
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--out", type=Path, default=None, help="JSON lines, appended")
    p.add_argument("--report", type=Path, default=None, help="print the table of a --out file")
    args = p.parse_args(argv)
    if args.report is not None:
        if not args.report.exists():
            print(f"polish_realised.py: no file {args.report}", file=sys.stderr)
            return 1
        print(report(args.report))
        return 0
    if args.runs is None or args.out is None or not args.problems:
        p.error("give --runs, --problems and --out (or --report FILE)")
    import torch

    torch.set_num_threads(1)
    done = set()
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            r = json.loads(line)
            done.add((r["problem"], r["method"], r["seed"], r["n"]))
    for problem in args.problems:
        for method in args.methods:
            for seed in args.seeds:
                path = args.runs / "records" / problem / method / f"seed{seed}.json"
                if not path.exists():
                    print(f"skip {path}: no record", file=sys.stderr)
                    continue
                record = json.loads(path.read_text())
                epochs = np.asarray(record["result"]["epoch"], dtype=int)
                for e in args.epochs:
                    n = int(np.sum(epochs < e))
                    if (problem, method, seed, n) in done:
                        continue
                    if not np.any(epochs == e):
                        print(f"skip {path} at epoch {e}: the run has none", file=sys.stderr)
                        continue
                    row = replay(record, n, args.batch_size)
                    with args.out.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
