#!/usr/bin/env python
"""botorch-joint against BluePyOpt's own optimisers on BluePyOpt cell models, equal budgets.

Methods, each given the same number of true evaluations (``--budgets``):

* ``c+o-ftt``, ``gpr``: ``bj.optimize`` on ``bj.problems.from_bluepyopt(evaluator,
  threshold=T)``, batches of ``--batch-size``, serial evaluator.
* ``ibea``: BluePyOpt's ``bluepyopt.deapext.optimisations.DEAPOptimisation`` (IBEA
  selector, its default), ``offspring_size = --batch-size``.
* ``cma-es``: BluePyOpt's ``bluepyopt.deapext.optimisationsCMA.DEAPOptimisationCMA``
  (its default ``single_objective`` selector on the sum of the scores, sigma 0.4),
  ``offspring_size = --batch-size``.

BluePyOpt's optimisers run through their own API (``run(max_ngen=...)``) with their own
evaluator calls; a ``map_function`` counts and times every evaluation and stops the run
(by raising) once the budget is spent, so every method sees exactly ``budget``
evaluations (CMA-ES may also end earlier by its own stopping rules: the record
says ``stopped_early`` and the report names such runs). The evaluator is the same
object type for everyone and runs its protocols in the calling process. Their scores
are then read the way ``from_bluepyopt`` reads them
(:class:`~botorch_joint.problems.neuro.bluepyopt.BluePyOptEvaluate`): a score at or
above BluePyOpt's penalty (eFEL could not compute a feature) makes a failed evaluation.

Per run the record holds every evaluation and:

* ``hv``: hypervolume of the feasible points (every objective ``<= T``, nothing
  failed) with reference point ``T`` per objective; ``hv_norm = hv / T**m``;
* ``best_ws``: the best weighted-sum score (sum of the objective scores, how BluePyOpt
  users pick a model from the hall of fame) over non-failed evaluations;
* ``simulation_seconds`` (sum of the evaluations' wall times) and ``proposal_seconds``
  (everything else of the run's wall time: training, search, the optimiser's own work).

The report adds, per (model, budget, seed), the evaluations each method needed to reach
the final best weighted-sum score of IBEA with the same seed and budget.

Records are ``OUT/<model>/<method>/budget<B>-seed<S>.json``; a run whose record is
complete is skipped, so an interrupted sweep continues with the same command
(``bj.optimize`` runs also resume from their checkpoint in ``OUT/work/``)::

    python benchmarks/bluepyopt_compare.py --smoke              # tiny budgets, seconds
    python benchmarks/bluepyopt_compare.py --smoke --models ballstick   # a minute
    python benchmarks/bluepyopt_compare.py --models simplecell --methods c+o-ftt ibea \\
        --budgets 100 --seeds 0                                 # one small real run
    python benchmarks/bluepyopt_compare.py --jobs 2             # the full comparison
    python benchmarks/bluepyopt_compare.py --report             # the table from the records
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RECORD_FORMAT = "botorch_joint.bluepyopt_compare/1"
OUT = ROOT / "benchmarks" / "results" / "bluepyopt"
SMOKE_OUT = ROOT / "benchmarks" / "results" / "smoke" / "bluepyopt"
#: model -> importable factory of its BluePyOpt evaluator
MODELS = {
    "simplecell": "botorch_joint.problems.neuro.bluepyopt_models:simplecell_evaluator",
    "ballstick": "botorch_joint.problems.neuro.bluepyopt_models:ballstick_evaluator",
}
BJ_METHODS = ("c+o-ftt", "gpr")
BPO_METHODS = ("ibea", "cma-es")
METHODS = BJ_METHODS + BPO_METHODS
REFERENCE = "ibea"  # "evaluations to reach IBEA's final best"
#: settings that must match between a stored record and a request
MATCH = ("budget", "batch_size", "threshold", "options")
_SMOKE_SEARCH = {"pop_size": 16, "generations": 2, "cgd_starts": 4, "cgd_steps": 4}
SMOKE_OPTIONS: dict[str, dict[str, Any]] = {
    "c+o-ftt": {
        "model_options": {"ensemble_size": 1, "max_epochs": 10},
        "search_options": _SMOKE_SEARCH,
    },
    "gpr": {"search_options": _SMOKE_SEARCH},
}
PACKAGES = ("botorch-joint", "bluepyopt", "deap", "efel", "neuron", "torch", "botorch", "numpy")


class BudgetSpent(Exception):
    """Raised by the counting map function when the budget is spent."""


# ------------------------------------------------------------------ provenance
def versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        if rev.returncode == 0:
            out["git"] = rev.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "platform": platform.platform()}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def _nan_to_none(a: np.ndarray) -> list:
    return [[None if not math.isfinite(v) else float(v) for v in row] for row in a.tolist()]


# ----------------------------------------------------------------------- runs
def record_path(out: Path, model: str, method: str, budget: int, seed: int) -> Path:
    return out / model / method / f"budget{budget}-seed{seed}.json"


def state(path: Path, task: dict[str, Any]) -> str:
    """``"done"``, ``"conflict"`` (stored with other settings) or ``"todo"``."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return "todo"
    if rec.get("status") != "ok":
        return "todo"
    if any(rec["settings"].get(k) != task[k] for k in MATCH):
        return "conflict"
    return "done"


def _problem(task: dict[str, Any]) -> Any:
    import botorch_joint as bj

    return bj.problems.from_bluepyopt(
        factory=MODELS[task["model"]], threshold=task["threshold"], name=task["model"]
    )


def run_bj(task: dict[str, Any], problem: Any) -> dict[str, Any]:
    import botorch_joint as bj

    out = Path(task["out"])
    run_dir = out / "work" / task["model"] / task["method"] / f"b{task['budget']}-s{task['seed']}"
    t0 = time.perf_counter()
    result = bj.optimize(
        problem,
        method=task["method"],
        budget=task["budget"],
        batch_size=task["batch_size"],
        seed=task["seed"],
        run_dir=run_dir,
        resume=True,
        progress=False,
        method_options=task["options"] or None,
    )
    wall = time.perf_counter() - t0
    secs = np.asarray(result.eval_seconds, dtype=float)
    return {
        "X": result.X,
        "Y": np.asarray(result.Y, dtype=float),
        "failed": np.asarray(result.failed, dtype=bool),
        "errors": list(result.errors),
        "eval_seconds": secs,
        "wall_seconds": wall,  # of this call; a resumed run counts its last leg only
        "bj_timings": {
            k: float(sum(t.get(k, 0.0) for t in result.timings))
            for k in ("train_seconds", "search_seconds", "propose_seconds")
        },
        "n_initial": int((np.asarray(result.epoch) == 0).sum()),
    }


def run_bpo(task: dict[str, Any], problem: Any) -> dict[str, Any]:
    from botorch_joint.problems.neuro.bluepyopt import BluePyOptEvaluate, get_evaluator

    evaluator = get_evaluator(problem)
    reader = BluePyOptEvaluate(evaluator, threshold=problem.metadata["bluepyopt"]["threshold"])
    budget, names = task["budget"], reader.objective_names
    rows: list[tuple[list[float], list[float], float]] = []

    def counting_map(fn: Any, individuals: Any) -> list[Any]:
        scores = []
        for ind in individuals:
            if len(rows) >= budget:
                raise BudgetSpent
            t = time.perf_counter()
            s = fn(ind)
            rows.append(([float(v) for v in ind], [float(v) for v in s], time.perf_counter() - t))
            scores.append(s)
        return scores

    lam = task["batch_size"]
    max_ngen = budget // lam + 2  # more than enough: the map function stops the run
    if task["method"] == "ibea":
        from bluepyopt.deapext.optimisations import DEAPOptimisation

        opt = DEAPOptimisation(
            evaluator=evaluator, seed=task["seed"], offspring_size=lam,
            map_function=counting_map, selector_name="IBEA",
        )  # fmt: skip
    else:
        from bluepyopt.deapext.optimisationsCMA import DEAPOptimisationCMA

        opt = DEAPOptimisationCMA(
            evaluator=evaluator, seed=task["seed"], offspring_size=lam,
            map_function=counting_map, selector_name="single_objective",
        )  # fmt: skip
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # CMA-ES's statistics take means of empty slices on some generations
            warnings.simplefilter("ignore", RuntimeWarning)
            opt.run(max_ngen=max_ngen)
    except BudgetSpent:
        pass
    wall = time.perf_counter() - t0
    # CMA-ES may end before the budget by its own stopping rules (BluePyOpt's: equal
    # function values, stagnation, a collapsed step size); that is how it behaves for
    # its users too, so the run keeps the evaluations it made and says so.
    n = len(rows)
    m = len(names)
    Y = np.full((n, m), np.nan)
    failed = np.zeros(n, dtype=bool)
    errors: list[str | None] = []
    for i, (_, s, _) in enumerate(rows):
        try:
            outs = reader.outputs(dict(zip(names, s)))
        except Exception as exc:  # FeatureFailure: as bj records it
            failed[i] = True
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        Y[i] = [outs[n] for n in names]
        errors.append(None)
    return {
        "X": np.array([r[0] for r in rows]),
        "Y": Y,
        "failed": failed,
        "errors": errors,
        "raw_scores": [r[1] for r in rows],
        "eval_seconds": np.array([r[2] for r in rows]),
        "wall_seconds": wall,
        "n_initial": lam,
        "stopped_early": n < budget,
    }


def summarise(Y: np.ndarray, failed: np.ndarray, threshold: float) -> dict[str, Any]:
    import botorch_joint as bj

    m = Y.shape[1]
    ok = ~failed
    feasible = ok & np.all(np.nan_to_num(Y, nan=np.inf) <= threshold, axis=1)
    ref = np.full(m, float(threshold))
    hv = bj.metrics.hypervolume(Y[feasible], ref) if feasible.any() else 0.0
    ws = np.where(ok, np.nansum(Y, axis=1), np.inf)
    return {
        "n_feasible": int(feasible.sum()),
        "n_failed": int(failed.sum()),
        "hv": float(hv),
        "hv_norm": float(hv / threshold**m),
        "best_ws": float(ws.min()) if np.isfinite(ws).any() else None,
        "weighted_sum": [None if not math.isfinite(v) else float(v) for v in ws],
    }


def execute(task: dict[str, Any]) -> dict[str, Any]:
    """Run one task in this process and write its record."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    path = Path(task["record"])
    header = {
        "format": RECORD_FORMAT,
        "settings": {k: task[k] for k in ("model", "method", "seed", *MATCH)},
        "started": _now(),
        "versions": versions(),
        "machine": machine(),
    }
    try:
        import torch

        torch.set_num_threads(1)
        problem = _problem(task)
        run = run_bj(task, problem) if task["method"] in BJ_METHODS else run_bpo(task, problem)
        summary = summarise(run["Y"], run["failed"], task["threshold"])
        sim = float(np.sum(run["eval_seconds"]))
        rec = {
            **header,
            "status": "ok",
            "finished": _now(),
            "problem": {
                "objectives": problem.objective_names,
                "parameters": problem.parameter_names,
                "ref_point": problem.ref_point.tolist(),
            },
            **summary,
            "n": int(len(run["X"])),
            "stopped_early": bool(run.get("stopped_early", False)),
            "n_initial": run["n_initial"],
            "wall_seconds": run["wall_seconds"],
            "simulation_seconds": sim,
            "proposal_seconds": max(0.0, run["wall_seconds"] - sim),
            "bj_timings": run.get("bj_timings"),
            "X": run["X"].tolist(),
            "Y": _nan_to_none(run["Y"]),
            "failed": run["failed"].tolist(),
            "errors": run["errors"],
            "eval_seconds": run["eval_seconds"].tolist(),
            "raw_scores": run.get("raw_scores"),
        }
    except Exception as exc:
        rec = {
            **header,
            "status": "error",
            "finished": _now(),
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc()[-4000:],
        }
    _write(path, rec)
    return rec


def _subprocess(task: dict[str, Any]) -> dict[str, Any]:
    log = Path(task["record"]).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with open(log, "w") as fh:
        subprocess.run(
            [sys.executable, __file__, "--task", json.dumps(task)],
            stdout=fh, stderr=subprocess.STDOUT, env=env, check=False,
        )  # fmt: skip
    try:
        return json.loads(Path(task["record"]).read_text())
    except (OSError, json.JSONDecodeError):
        return {"status": "error", "error": f"no record (see {log})"}


# --------------------------------------------------------------------- report
def load_records(out: Path) -> list[dict[str, Any]]:
    recs = []
    for path in sorted(out.glob("*/*/budget*-seed*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if rec.get("status") == "ok" and rec.get("format") == RECORD_FORMAT:
            recs.append(rec)
    return recs


def evals_to_reach(ws: list[float | None], target: float) -> int | None:
    """1-based index of the first evaluation whose weighted sum is ``<= target``."""
    for i, v in enumerate(ws):
        if v is not None and v <= target + 1e-12:
            return i + 1
    return None


def _med(values: list[float]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    med = float(np.median(vals))
    return f"{med:.3g}" if len(vals) == 1 else f"{med:.3g} [{min(vals):.3g}, {max(vals):.3g}]"


def report(out: Path) -> str:
    recs = load_records(out)
    if not recs:
        return f"no finished records under {out}\n"
    by: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in recs:
        s = r["settings"]
        by.setdefault((s["model"], s["budget"], s["method"]), []).append(r)
    ref = {
        (r["settings"]["model"], r["settings"]["budget"], r["settings"]["seed"]): r["best_ws"]
        for r in recs
        if r["settings"]["method"] == REFERENCE
    }
    lines = [
        "| model | budget | method | seeds | HV / T^m (median [min, max]) | best weighted sum "
        "| evals to IBEA's best (reached) | feasible evals % | failed evals % "
        "| simulation s | proposal s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(METHODS)}
    for (model, budget, method), rs in sorted(
        by.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 99))
    ):
        rs = sorted(rs, key=lambda r: r["settings"]["seed"])
        reach, reached = [], 0
        for r in rs:
            target = ref.get((model, budget, r["settings"]["seed"]))
            if target is None:
                continue
            k = evals_to_reach(r["weighted_sum"], target)
            reached += k is not None
            if k is not None:
                reach.append(k)
        n_ref = sum((model, budget, r["settings"]["seed"]) in ref for r in rs)
        reach_txt = f"{_med(reach)} ({reached}/{n_ref})" if n_ref else "-"
        lines.append(
            f"| {model} | {budget} | {method} | {len(rs)} "
            f"| {_med([r['hv_norm'] for r in rs])} | {_med([r['best_ws'] for r in rs])} "
            f"| {reach_txt} | {_med([100 * r['n_feasible'] / r['n'] for r in rs])} "
            f"| {_med([100 * r['n_failed'] / r['n'] for r in rs])} "
            f"| {_med([r['simulation_seconds'] for r in rs])} "
            f"| {_med([r['proposal_seconds'] for r in rs])} |"
        )
    early = [
        f"{r['settings']['model']} {r['settings']['method']} budget {r['settings']['budget']} "
        f"seed {r['settings']['seed']} ({r['n']} evaluations)"
        for r in sorted(recs, key=lambda r: tuple(str(v) for v in r["settings"].values()))
        if r.get("stopped_early")
    ]
    thresholds = sorted({r["settings"]["threshold"] for r in recs})
    notes = [
        "",
        f"Feasible: nothing failed and every objective <= T = {', '.join(map(str, thresholds))} "
        "(SD); HV of the feasible points with reference point T per objective, divided "
        "by T^m. Best weighted sum: the smallest sum of objective scores over non-failed "
        "evaluations. Evals to IBEA's best: the first evaluation at or below the final best "
        "weighted sum of IBEA with the same seed and budget (median over the seeds that "
        "reached it; reached/seeds in brackets). Seconds are per run (median [min, max]); "
        "proposal = wall time - simulation.",
    ]
    if early:
        notes.append(
            "\nStopped by the optimiser's own rules before the budget (its figures are "
            "those of the evaluations it made): " + "; ".join(early) + "."
        )
    return "\n".join(lines + notes) + "\n"


# ----------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=list(MODELS), help="default: both")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--budgets", nargs="+", type=int, default=[200, 500])
    # reported figures use seeds no default was tuned on (10-14)
    p.add_argument("--seeds", nargs="+", type=int, default=[10, 11, 12, 13, 14])
    p.add_argument("--batch-size", type=int, default=20, help="batch size / offspring size")
    p.add_argument("--threshold", type=float, default=3.0, help="feasible: every score <= T")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one process each)")
    p.add_argument("--out", type=Path, default=None, help=f"records (default {OUT})")
    p.add_argument("--smoke", action="store_true", help="tiny budgets and models, seconds")
    p.add_argument("--report", action="store_true", help="only print the table")
    p.add_argument("--task", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.task:
        rec = execute(json.loads(args.task))
        return 0 if rec["status"] == "ok" else 1
    if args.smoke:
        args.models = args.models or ["simplecell"]
        args.budgets, args.seeds, args.batch_size = [12], [0], 4
    args.models = args.models or list(MODELS)
    out = args.out or (SMOKE_OUT if args.smoke else OUT)
    if args.report:
        print(report(out), end="")
        return 0
    tasks, skipped = [], 0
    for budget in args.budgets:
        for seed in args.seeds:
            for model in args.models:
                for method in args.methods:
                    task = {
                        "model": model,
                        "method": method,
                        "seed": seed,
                        "budget": budget,
                        "batch_size": args.batch_size,
                        "threshold": args.threshold,
                        "options": SMOKE_OPTIONS.get(method, {}) if args.smoke else {},
                        "out": str(out),
                        "record": str(record_path(out, model, method, budget, seed)),
                    }
                    st = state(Path(task["record"]), task)
                    if st == "conflict" and not args.smoke:  # smoke records are redone
                        raise SystemExit(
                            f"{task['record']} holds a run with other settings: move it away "
                            "or pick another --out"
                        )
                    if st == "done":
                        skipped += 1
                        continue
                    tasks.append(task)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / ".gitignore").exists():  # checkpoints and logs stay out of git
        (out / ".gitignore").write_text("work/\n*.log\n")
    if args.smoke and tasks:  # smoke runs start afresh (their settings may have changed)
        shutil.rmtree(out / "work", ignore_errors=True)
    print(f"{len(tasks)} runs to do, {skipped} already done; records in {out}", flush=True)
    t0, failed = time.perf_counter(), 0

    def done(task: dict[str, Any], rec: dict[str, Any]) -> None:
        nonlocal failed
        key = f"{task['model']}/{task['method']}/budget {task['budget']}/seed {task['seed']}"
        if rec.get("status") == "ok":
            print(
                f"  {key}: HV/T^m {rec['hv_norm']:.3g}, best weighted sum "
                f"{rec['best_ws'] if rec['best_ws'] is None else round(rec['best_ws'], 3)}, "
                f"{rec['n_feasible']} feasible, {rec['simulation_seconds']:.0f} s simulation "
                f"+ {rec['proposal_seconds']:.0f} s proposal",
                flush=True,
            )
        else:
            failed += 1
            print(f"  {key}: FAILED {rec.get('error')}", flush=True)

    if args.jobs <= 1:
        for task in tasks:
            done(task, execute(task))
    else:
        with cf.ThreadPoolExecutor(args.jobs) as pool:
            futs = {pool.submit(_subprocess, t): t for t in tasks}
            for fut in cf.as_completed(futs):
                done(futs[fut], fut.result())
    print(f"finished in {time.perf_counter() - t0:.0f} s ({failed} failed)\n", flush=True)
    text = report(out)
    (out / "report.md").write_text(text)
    print(text, end="")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
