#!/usr/bin/env python
"""MPI scaling of the batch loop: throughput, parallel efficiency and loop overhead.

A problem whose evaluation sleeps ``--eval-seconds`` (0.5 s) is optimised with the
``sobol`` method (no surrogate, so the loop itself is measured) under
``mpiexec -n R`` for each ``R`` of ``--ranks`` (2, 4, 8): rank 0 runs the loop, ranks
``1..R-1`` evaluate, each batch has ``R - 1`` points so every worker is busy, and the
run checkpoints into a run directory after every batch and journals every evaluation,
as an HPC job would. Sleeping workers do not need a core each, so 8 ranks on a small
machine measure the loop, not the machine.

Reported per rank count:

* ``throughput``: evaluations per second of wall time;
* ``efficiency``: throughput over the ideal ``(R - 1) / eval_seconds``;
* ``overhead_ms_per_eval``: wall time beyond the ideal (``batches * eval_seconds``) and
  beyond surrogate time (zero here), divided by the number of evaluations;
* ``dispatch_ms_per_eval`` / ``between_batches_ms_per_eval``: that overhead split into
  time inside batches (sending tasks, collecting results, journaling) and time between
  batches (proposing, recording, checkpointing);
* ``startup_seconds``: one-off cost of a first run (imports on every rank, executor
  start-up), measured with a one-batch warm-up run and excluded from the above.

Examples::

    python benchmarks/mpi_scaling.py                      # 2, 4, 8 ranks, 10 batches each
    python benchmarks/mpi_scaling.py --ranks 2 4 8 16 --batches 20 --json scaling.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import botorch_joint as bj


def sleep_evaluate(p: dict[str, float]) -> dict[str, float]:
    time.sleep(float(os.environ.get("BJ_SCALING_EVAL_SECONDS", "0.5")))
    return {"f1": p["x0"], "f2": 1.0 - p["x0"] + p["x1"], "c1": 0.5 - p["x1"]}


def sleep_problem() -> bj.Problem:
    return bj.Problem(
        "sleep",
        {f"x{i}": (0.0, 1.0) for i in range(4)},
        ["f1", "f2"],
        ["c1"],
        evaluate=sleep_evaluate,
    )


def child(args: argparse.Namespace) -> None:
    """One measurement; every rank of the mpiexec job runs this."""
    from mpi4py import MPI

    size = MPI.COMM_WORLD.Get_size()
    workers = size - 1
    budget = workers * args.batches
    run_dir = Path(args.run_dir)
    # A one-batch warm-up run pays the one-off costs (imports on every rank, the
    # executor's start-up) so that the measured run sees the loop's steady state.
    t0 = time.perf_counter()
    bj.optimize(
        sleep_problem(),
        method="sobol",
        budget=workers,
        n_initial=workers,
        batch_size=workers,
        evaluator="mpi",
        run_dir=run_dir.with_name("warm-up"),
        progress=False,
    )
    startup = time.perf_counter() - t0 - args.eval_seconds
    MPI.COMM_WORLD.Barrier()  # start the measured run on every rank at once
    t0 = time.perf_counter()
    result = bj.optimize(
        sleep_problem(),
        method="sobol",
        budget=budget,
        n_initial=workers,
        batch_size=workers,
        evaluator="mpi",
        run_dir=run_dir,
        progress=False,
    )
    wall = time.perf_counter() - t0
    if MPI.COMM_WORLD.Get_rank() != 0:
        return
    t_eval = args.eval_seconds
    surrogate = sum(t["train_seconds"] + t["search_seconds"] for t in result.timings)
    in_batches = sum(t["evaluation_seconds"] for t in result.timings)
    ideal = len(result.timings) * t_eval  # one full round of workers per batch
    n = len(result)
    record = {
        "ranks": size,
        "workers": workers,
        "evaluations": n,
        "batches": len(result.timings),
        "eval_seconds": t_eval,
        "mean_measured_eval_seconds": float(result.eval_seconds.mean()),
        "failed": int(result.failed.sum()),
        "wall_seconds": wall,
        "startup_seconds": startup,
        "surrogate_seconds": surrogate,
        "throughput": n / wall,
        "ideal_throughput": workers / t_eval,
        "efficiency": n * t_eval / (workers * wall),
        "overhead_ms_per_eval": 1000 * (wall - surrogate - ideal) / n,
        "dispatch_ms_per_eval": 1000 * (in_batches - ideal) / n,
        "between_batches_ms_per_eval": 1000 * (wall - in_batches - surrogate) / n,
    }
    Path(args.out).write_text(json.dumps(record))


def measure(ranks: int, args: argparse.Namespace, mpiexec: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bj-mpi-scaling-") as tmp:
        out = Path(tmp) / "record.json"
        cmd = [
            mpiexec,
            "-n",
            str(ranks),
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "--batches",
            str(args.batches),
            "--eval-seconds",
            str(args.eval_seconds),
            "--run-dir",
            str(Path(tmp) / "run"),
            "--out",
            str(out),
        ]
        env = dict(os.environ, BJ_SCALING_EVAL_SECONDS=str(args.eval_seconds))
        subprocess.run(cmd, check=True, env=env)
        return json.loads(out.read_text())


def table(records: list[dict]) -> str:
    head = (
        "| ranks | workers | evals | wall s | throughput /s | ideal /s | efficiency "
        "| overhead ms/eval | dispatch ms/eval | between batches ms/eval |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in records:
        lines.append(
            f"| {r['ranks']} | {r['workers']} | {r['evaluations']} | {r['wall_seconds']:.2f} "
            f"| {r['throughput']:.2f} | {r['ideal_throughput']:.2f} | {r['efficiency']:.1%} "
            f"| {r['overhead_ms_per_eval']:.1f} | {r['dispatch_ms_per_eval']:.1f} "
            f"| {r['between_batches_ms_per_eval']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--batches", type=int, default=10, help="batches per measurement")
    p.add_argument("--eval-seconds", type=float, default=0.5)
    p.add_argument("--json", default=None, help="also write the records to this file")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--run-dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args)
        return 0
    here = str(Path(sys.executable).parent)
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if mpiexec is None:
        raise SystemExit("mpi_scaling: mpiexec not found (pip install -e '.[mpi]')")
    records = []
    for ranks in args.ranks:
        if ranks < 2:
            raise SystemExit("mpi_scaling: every measurement needs at least 2 ranks")
        rec = measure(ranks, args, mpiexec)
        records.append(rec)
        print(
            f"{ranks} ranks: {rec['efficiency']:.1%} efficient, "
            f"{rec['overhead_ms_per_eval']:.1f} ms/eval overhead",
            flush=True,
        )
    print()
    print(
        f"{args.eval_seconds:g} s evaluations, {args.batches} batches of (ranks - 1) points, "
        f"method sobol, checkpoint + journal on; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(table(records))
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
