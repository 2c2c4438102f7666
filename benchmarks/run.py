#!/usr/bin/env python
"""Run the benchmark sweep: problems x methods x seeds, one JSON record per run.

Every run is one :func:`botorch_joint.optimize` call (peers included, as strategies in
the same loop) executed in its own subprocess, so a crash, a hang (``--run-timeout``) or
a memory blow-up of one run is recorded and the sweep goes on. Each run checkpoints
after every batch into ``OUT/work/...``; an interrupted sweep started again with the
same command resumes every unfinished run from its last batch and skips every finished
one (its record exists and is complete).

Output layout::

    OUT/records/PROBLEM/METHOD/seedS.json  one record per run (see ``docs/benchmarks.md``)
    OUT/problems/PROBLEM.json              reference point, max HV, Pareto-front sample
    OUT/logs/PROBLEM/METHOD/seedS.log      the run's stdout and stderr
    OUT/work/PROBLEM/METHOD/seedS/         the checkpoint of an unfinished run
    OUT/sweep.json                         settings and machine of the last invocation
    OUT/sweeps.jsonl                       the same for every invocation

Examples::

    python benchmarks/run.py --smoke --out /tmp/smoke
    python benchmarks/run.py --problems c2dtlz2 mw7 --methods sobol nsga2 cma-es \\
        --seeds 0 1 2 3 4 --budget 200 --batch-size 20 --jobs 2 --out benchmarks/results
    python benchmarks/report.py benchmarks/results

Proposal cap (``--proposal-cap SECONDS``): every method gets the same wall-clock limit per
proposal. A proposal still running at the cap is interrupted there (by ``SIGALRM`` in the
run's worker process; where no alarm can be set, not on Unix or not in the main thread,
the proposal runs to its end and is judged afterwards). Its points are never evaluated:
the run stops with the evaluations it had, and its record is complete (``status`` ``ok``,
``complete`` true, so a resumed sweep does not run it again) with ``stopped`` =
``"proposal cap"``, ``stopped_at_n`` (the evaluations it had when that proposal was
asked), ``stopped_epoch``, ``stopped_proposal_seconds`` and ``stopped_how``
(``"interrupted"`` or ``"finished after the cap"``); a run that spends its budget has
``stopped`` = ``None``. The cap is one of the settings a stored record must match
(``settings.proposal_cap``). Initial designs are not capped; peers are capped like the
library's methods.

The HPC regime (issue: budget 2,000 in batches of 100 on ``hh-cell``; where do the GPs
stop being able to propose?), then its report (an HPC section with ``hpc_*.png``). The
cap is wall-clock time, so run it on a quiet machine: two runs at a time get half the
cores each (``--threads`` defaults to cores / jobs); at most 19 proposals of 600 s per run,
hence the 4-hour ``--run-timeout``::

    python benchmarks/run.py --problems hh-cell --methods c+o-ftt c+o-resnet gpr megp \\
        --seeds 10 11 12 --budget 2000 --batch-size 100 --proposal-cap 600 \\
        --jobs 2 --run-timeout 14400 --out benchmarks/results/hpc_regime
    python benchmarks/report.py benchmarks/results/hpc_regime
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as _dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from botorch_joint.result import Result

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from botorch_joint.strategies.base import Proposal, Strategy  # noqa: E402 - light: no torch

RECORD_FORMAT = "botorch_joint.benchmark/1"

#: problems of the full comparison, in this order; those not registered are left out
DEFAULT_PROBLEMS = (
    "hh-cell",
    "c2dtlz2",
    "mw7",
    "discbrake",
    "osy",
    "weldedbeam",
    "hh-neuron",
    "ei-network",
    "mean-field",
)
#: keyword arguments for bj.problems.get
PROBLEM_OPTIONS: dict[str, dict[str, Any]] = {"c2dtlz2": {"dim": 12}}
#: the GP baselines the paper measures "epochs saved" against
GP_BASELINES = ("gpr", "megp")
#: the smoke configuration: cheap problems (the first two available) and tiny budgets
SMOKE_PROBLEMS = ("weldedbeam", "c2dtlz2", "discbrake", "mw7", "constrained-branincurrin")
SMOKE_SURROGATES = ("c+o-resnet", "gpr")
SMOKE_PEERS = ("nsga2", "cma-es", "optuna-gp")
_SMOKE_SEARCH = {"pop_size": 16, "generations": 2, "cgd_starts": 4, "cgd_steps": 5}
SMOKE_OPTIONS: dict[str, dict[str, Any]] = {
    "c+o-resnet": {
        "model_options": {"ensemble_size": 1, "max_epochs": 20},
        "search_options": _SMOKE_SEARCH,
    },
    "gpr": {"search_options": _SMOKE_SEARCH},
}
FRONT_POINTS = 1000
#: distributions whose versions go into every record
PACKAGES = (
    "botorch-joint",
    "numpy",
    "scipy",
    "torch",
    "botorch",
    "gpytorch",
    "ax-platform",
    "optuna",
    "pymoo",
    "cma",
    "neuron",
    "matplotlib",
)

_print_lock = threading.Lock()


def say(msg: str) -> None:
    """Print one progress line with a timestamp (safe from several threads)."""
    with _print_lock:
        print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


# --------------------------------------------------------------------- methods
def all_methods() -> list[str]:
    """Every registered method: the library's, then the peers (registered on import)."""
    import benchmarks.peers  # noqa: F401 - registers the peers as methods
    from botorch_joint.strategies import method_names

    return method_names()


def method_kind(method: str) -> str:
    """The registered kind: ``"surrogate"``, ``"ax"``, ``"space-filling"``, ``"peer"``..."""
    import benchmarks.peers  # noqa: F401 - registers the peers as methods
    from botorch_joint.strategies import get_method

    return get_method(method).kind


def method_missing(method: str) -> str | None:
    """Why ``method`` cannot run in this installation, or ``None`` if it can."""
    import benchmarks.peers  # noqa: F401 - registers the peers as methods
    from botorch_joint.strategies import UnknownMethodError, get_method

    try:
        return get_method(method).why_unavailable()
    except UnknownMethodError as exc:
        return str(exc)


# -------------------------------------------------------------------- problems
def problem_options(name: str) -> dict[str, Any]:
    return dict(PROBLEM_OPTIONS.get(name, {}))


def build_problem(name: str, options: dict[str, Any] | None = None) -> Any:
    """A registered problem (with ``options``), or ``module:attribute`` naming one."""
    import botorch_joint as bj

    if name in bj.problems.names():
        return bj.problems.get(name, **(options or {}))
    if ":" in name:
        from botorch_joint.cli import load_problem

        try:
            return load_problem(name)
        except SystemExit as exc:  # the CLI's loader exits; here it is an error like others
            raise ValueError(str(exc)) from None
    raise KeyError(f"unknown problem {name!r}; registered: {bj.problems.names()}")


def problem_info(problem: Any, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """What the report needs about a problem: shapes, reference point, max HV, front."""
    import numpy as np

    front = None
    if problem.pareto_front is not None:
        try:
            F = np.asarray(problem.pareto_front(FRONT_POINTS), dtype=float)
            if F.ndim == 2 and F.shape[1] == problem.num_objectives and len(F):
                front = F.tolist()
        except Exception as exc:  # a front we cannot sample means no IGD, not no benchmark
            say(f"warning: {name}: pareto_front({FRONT_POINTS}) failed ({exc}); no IGD/epsilon")
    return {
        "name": name,
        "problem_name": problem.name,
        "options": options,
        "dim": problem.dim,
        "parameter_names": list(problem.parameter_names),
        "objective_names": list(problem.objective_names),
        "constraint_names": list(problem.constraint_names),
        "ref_point": None if problem.ref_point is None else problem.ref_point.tolist(),
        "max_hv": problem.max_hv,
        "pareto_front": front,
        "description": getattr(problem, "description", ""),
    }


# ------------------------------------------------------------------ provenance
def versions() -> dict[str, str | None]:
    """Installed versions of the packages that matter (``None`` when absent)."""
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
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if rev.returncode == 0:
            out["git"] = rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def machine() -> dict[str, Any]:
    """CPU model, core count, memory and OS of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "hostname": platform.node(),
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------------- tasks
def run_key(task: dict[str, Any]) -> str:
    return f"{task['problem']}/{task['method']}/seed {task['seed']}"


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "+-_." else "_" for ch in name)


def task_paths(out: Path, problem: str, method: str, seed: int) -> dict[str, Path]:
    p, m = _safe(problem), _safe(method)
    return {
        "record": out / "records" / p / m / f"seed{seed}.json",
        "log": out / "logs" / p / m / f"seed{seed}.log",
        "run_dir": out / "work" / p / m / f"seed{seed}",
    }


#: settings that must match between a stored record and the request
_MATCH_KEYS = (
    "budget",
    "batch_size",
    "n_initial",
    "initial_design",
    "sensitivity",
    "options",
    "proposal_cap",
)


def _settings(task: dict[str, Any]) -> dict[str, Any]:
    """The settings of ``task`` a stored record must match (absent ones are ``None``)."""
    return {k: task.get(k) for k in _MATCH_KEYS}


def record_state(path: Path, task: dict[str, Any]) -> tuple[str, str]:
    """``("done" | "conflict" | "todo", why)`` for the run ``task`` stored at ``path``."""
    if not path.exists():
        return "todo", "no record"
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        return "todo", f"unreadable record ({exc})"
    if rec.get("status") != "ok" or not rec.get("complete"):
        return "todo", f"previous attempt {rec.get('status', '?')}"
    saved = rec.get("settings", {})
    asked = _settings(task)
    diff = [
        f"{k}: stored {saved.get(k)!r}, asked {asked[k]!r}"
        for k in _MATCH_KEYS
        if saved.get(k) != asked[k]
    ]
    if diff:
        return "conflict", "; ".join(diff)
    return "done", ""


def make_tasks(args: argparse.Namespace, out: Path) -> list[dict[str, Any]]:
    """One task per (seed, problem, method), seeds outermost so early seeds finish first."""
    tasks = []
    for seed in args.seeds:
        for problem in args.problems:
            for method in args.methods:
                paths = task_paths(out, problem, method, seed)
                tasks.append(
                    {
                        "problem": problem,
                        "problem_options": problem_options(problem),
                        "method": method,
                        "kind": method_kind(method),
                        "seed": int(seed),
                        "budget": args.budget,
                        "batch_size": args.batch_size,
                        "n_initial": args.n_initial,
                        "initial_design": args.initial_design,
                        "sensitivity": args.sensitivity,
                        "options": dict(args.method_options.get(method, {})),
                        "proposal_cap": args.proposal_cap,
                        "threads": args.threads,
                        "record": str(paths["record"]),
                        "log": str(paths["log"]),
                        "run_dir": str(paths["run_dir"]),
                    }
                )
    return tasks


# ---------------------------------------------------------------- proposal cap
#: the value of a record's ``stopped`` field for a run ended by ``--proposal-cap``
STOPPED_BY_CAP = "proposal cap"


class ProposalCapReached(BaseException):
    """A proposal ran past the per-proposal wall-clock cap.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that no ``except Exception`` in a
    method's fitting or search code takes it for a failure of its own and carries on.
    """


class CappedStrategy(Strategy):
    """A strategy whose every proposal must finish within ``cap`` seconds.

    It hands every call to ``inner``. A proposal still running at the cap is interrupted
    with :class:`ProposalCapReached` by a ``SIGALRM`` timer when one can be set (Unix,
    main thread), else it runs to its end; either way a proposal that took longer than
    the cap raises :class:`ProposalCapReached` and its points are not returned, so the
    loop never evaluates them. :attr:`data` is then the run's record so far and
    :attr:`stop` says where and how it stopped.

    Args:
        inner: the method's own strategy.
        cap: seconds one proposal may take.
        name: the method's name (the run's recorded method).
        interrupt: interrupt a proposal at the cap where possible; ``False`` always lets
            it finish first (then it is judged).

    Attributes:
        data: the :class:`~botorch_joint.result.Result` last handed to :meth:`propose`.
        stop: ``None``, or after a stop ``{"n", "epoch", "seconds", "how"}``.
    """

    def __init__(self, inner: Strategy, cap: float, name: str, interrupt: bool = True) -> None:
        if not cap > 0:
            raise ValueError(f"the proposal cap must be positive seconds, got {cap!r}")
        super().__init__(inner.problem, inner.budget, inner.seed)
        self.inner = inner
        self.cap = float(cap)
        self.name = name
        self.interrupt = interrupt
        self.data: Result | None = None
        self.stop: dict[str, Any] | None = None

    def initial(self, n: int) -> np.ndarray:
        """The inner strategy's initial design (not capped: it is not a proposal)."""
        return self.inner.initial(n)

    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        """The inner strategy's proposal, or :class:`ProposalCapReached` past the cap."""
        self.data = data
        n_before = len(data)
        t0 = time.perf_counter()

        def reached(how: str) -> ProposalCapReached:
            secs = time.perf_counter() - t0
            self.stop = {"n": n_before, "epoch": int(epoch), "seconds": secs, "how": how}
            return ProposalCapReached(
                f"the proposal of epoch {epoch} at n = {n_before} took {secs:.1f} s, "
                f"over the cap of {self.cap:g} s ({how})"
            )

        def on_alarm(signum: int, frame: Any) -> None:
            raise reached("interrupted")

        timer = self.interrupt and _alarm_usable()
        old = signal.signal(signal.SIGALRM, on_alarm) if timer else None
        try:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, self.cap)
            prop = self.inner.propose(data, n, epoch)
        finally:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)
        if time.perf_counter() - t0 > self.cap:
            raise reached("finished after the cap")
        return prop


def _alarm_usable() -> bool:
    """Whether a ``SIGALRM`` timer can interrupt this thread (Unix, main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def capped_strategy(task: dict[str, Any], problem: Any) -> CappedStrategy:
    """The strategy :func:`botorch_joint.optimize` would build for ``task``, capped.

    Built with the same arguments as the loop's own (a space-filling method's initial
    design is the method itself), so that a capped run proposes what an uncapped one
    does, and a checkpoint of either resumes as the other.
    """
    from botorch_joint.strategies import make_strategy
    from botorch_joint.strategies.registry import initial_design_for

    method = task["method"]
    inner = make_strategy(
        method,
        problem,
        budget=task["budget"],
        seed=task["seed"],
        initial_design=initial_design_for(method, task["initial_design"]),
        sensitivity=task["sensitivity"],
        batch_size=task["batch_size"],
        options=task["options"],
    )
    return CappedStrategy(inner, float(task["proposal_cap"]), name=method)


# --------------------------------------------------------------------- worker
def execute(task: dict[str, Any], provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one task in this process and write its record; never raises for a failed run.

    Returns:
        The record written to ``task["record"]``.
    """
    from botorch_joint.result import write_atomic

    started, wall_from = _now(), time.perf_counter()
    run_dir = Path(task["run_dir"])
    rec: dict[str, Any] = {
        **_record_header(task),
        "started": started,
        "log": task["log"],
        **(provenance or {"versions": versions(), "machine": machine()}),
    }
    try:
        import benchmarks.peers  # noqa: F401 - registers the peers as methods
        import botorch_joint as bj

        # Thread counts come from OMP_NUM_THREADS & co., set by the parent before torch loads.
        problem = build_problem(task["problem"], task["problem_options"])
        resume = _usable_checkpoint(run_dir, task, task["method"], problem.dim)
        if resume:
            print(f"resuming from {run_dir}", flush=True)
        capped = capped_strategy(task, problem) if task.get("proposal_cap") else None
        wall_from = time.perf_counter()
        stop = None
        try:
            result = bj.optimize(
                problem,
                method=task["method"],
                budget=task["budget"],
                n_initial=task["n_initial"],
                batch_size=task["batch_size"],
                initial_design=task["initial_design"],
                sensitivity=task["sensitivity"],
                run_dir=run_dir,
                resume=resume,
                seed=task["seed"],
                progress=False,
                method_options=task["options"],
                strategy=capped,
            )
        except ProposalCapReached as exc:
            if capped is None or capped.stop is None:  # not our cap: nothing to keep
                raise RuntimeError(f"unexpected {exc!r}") from None
            print(f"stopped: {exc}; it was stopped in:", flush=True)
            traceback.print_exc()  # the log says where (fitting, search...) it was
            result, stop = capped.data, capped.stop
        wall = time.perf_counter() - wall_from
        data = result.to_json_dict()
        data["feasible"] = result.feasible.tolist()
        rec["result"] = data
        rec["n_evaluations"] = len(result)
        rec["n_feasible"] = int(result.feasible.sum())
        rec["n_failed"] = int(result.failed.sum())
        if result.ref_point is not None:
            th = time.perf_counter()
            rec["hv_history"] = result.hypervolume_history().tolist()
            rec["hv_seconds"] = time.perf_counter() - th
        else:
            rec["hv_history"] = None
        rec["timing"] = timing_totals(result.timings) | {
            "wall_seconds": wall,  # of this attempt only, when the run was resumed
            "resumed": resume,
        }
        rec["stopped"] = None if stop is None else STOPPED_BY_CAP
        rec["stopped_at_n"] = None if stop is None else stop["n"]
        if stop is not None:
            rec["stopped_epoch"] = stop["epoch"]
            rec["stopped_proposal_seconds"] = stop["seconds"]
            rec["stopped_how"] = stop["how"]
        # A run the cap stopped is finished: running it again would stop there again.
        rec["status"], rec["complete"] = "ok", bool(result.complete) or stop is not None
        rec["error"] = None
    except Exception as exc:  # a failed run is data: record it and let the sweep go on
        rec["status"], rec["complete"] = "error", False
        rec["error"] = {
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
        rec["timing"] = {"wall_seconds": time.perf_counter() - wall_from}
        rec["evaluations_checkpointed"] = _evaluations_so_far(run_dir)
        traceback.print_exc()
    rec["finished"] = _now()
    path = Path(task["record"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(rec))
    if rec["status"] == "ok":
        shutil.rmtree(run_dir, ignore_errors=True)  # the record holds every evaluation
    return rec


def _usable_checkpoint(run_dir: Path, task: dict[str, Any], method: str, dim: int) -> bool:
    """Whether ``run_dir`` holds a checkpoint of this very run to resume.

    A checkpoint made with other settings (say, an earlier sweep with another
    ``--n-initial``) is moved aside to ``seedS.stale-TIME`` rather than deleted.
    """
    path = run_dir / "checkpoint.json"
    if not path.exists():
        return False
    try:
        saved = json.loads(path.read_text()).get("settings", {})
    except (OSError, ValueError):
        saved = {}
    from botorch_joint.designs import default_n_initial
    from botorch_joint.strategies.registry import spans_budget

    n0 = task["n_initial"] or default_n_initial(dim, task["budget"], task["batch_size"])
    wanted = {
        "method": method,
        "budget": task["budget"],
        "batch_size": task["batch_size"],
        # a space-filling run records its own design as its initial design
        "initial_design": method if spans_budget(method) else task["initial_design"],
        "seed": task["seed"],
        "n_initial": n0,
    }
    if all(saved.get(k) == v for k, v in wanted.items()):
        return True
    stale = run_dir.with_name(f"{run_dir.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"checkpoint in {run_dir} has other settings; moved to {stale}", flush=True)
    os.replace(run_dir, stale)
    return False


def timing_totals(timings: list[dict[str, float]]) -> dict[str, float]:
    """Seconds of a run by kind, summed over its epochs.

    ``other_proposal_seconds`` is proposal time a method did not attribute to training or
    search (its own bookkeeping, the loop's top-up).
    """
    tot = {
        key: float(sum(t.get(key, 0.0) for t in timings))
        for key in ("evaluation_seconds", "train_seconds", "search_seconds", "propose_seconds")
    }
    tot["other_proposal_seconds"] = float(
        sum(
            max(
                0.0,
                t.get("propose_seconds", 0.0)
                - t.get("train_seconds", 0.0)
                - t.get("search_seconds", 0.0),
            )
            for t in timings
        )
    )
    return tot


def _worker_main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    rec = execute(spec["task"], spec.get("provenance"))
    return 0 if rec["status"] == "ok" else 1


def _record_header(task: dict[str, Any]) -> dict[str, Any]:
    """The fields that identify a run, shared by normal and crash records."""
    return {
        "format": RECORD_FORMAT,
        "problem": task["problem"],
        "problem_options": task["problem_options"],
        "method": task["method"],
        "kind": task["kind"],
        "seed": task["seed"],
        "settings": _settings(task) | {"threads": task["threads"]},
    }


# --------------------------------------------------------------------- parent
def _evaluations_so_far(run_dir: Path) -> int | None:
    try:
        return len(json.loads((run_dir / "checkpoint.json").read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return None


def _write_crash_record(task: dict[str, Any], provenance: dict[str, Any], why: str) -> None:
    from botorch_joint.result import write_atomic

    log_tail = ""
    try:
        log_tail = Path(task["log"]).read_text()[-4000:]
    except OSError:
        pass
    rec = {
        **_record_header(task),
        "status": "error",
        "complete": False,
        "error": {"type": "WorkerDied", "message": why, "traceback": log_tail},
        "evaluations_checkpointed": _evaluations_so_far(Path(task["run_dir"])),
        "log": task["log"],
        "finished": _now(),
        **provenance,
    }
    path = Path(task["record"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(rec))


class Sweep:
    """Runs tasks in subprocesses (``jobs`` at a time) and reports progress."""

    def __init__(
        self,
        tasks: list[dict[str, Any]],
        provenance: dict[str, Any],
        jobs: int = 1,
        run_timeout: float | None = None,
        progress_every: float = 60.0,
        inline: bool = False,
    ) -> None:
        self.tasks = tasks
        self.provenance = provenance
        self.jobs = max(1, int(jobs))
        self.run_timeout = run_timeout
        self.progress_every = progress_every
        self.inline = inline
        self.done = self.failed = self.skipped = 0
        self.t0 = time.perf_counter()
        self._lock = threading.Lock()
        self._running: dict[str, tuple[dict[str, Any], float]] = {}
        self._stop = threading.Event()
        self._interrupted = threading.Event()
        self._procs: dict[str, subprocess.Popen] = {}

    def run(self) -> tuple[int, int]:
        """Run every task; returns ``(succeeded, failed)``.

        On Ctrl-C the running workers are ended (their checkpoints stay, so the next
        sweep continues them) and ``KeyboardInterrupt`` propagates.
        """
        if not self.tasks:
            return 0, 0
        ticker = threading.Thread(target=self._tick, daemon=True)
        ticker.start()
        try:
            if self.inline or self.jobs == 1:
                for i, task in enumerate(self.tasks):
                    self._one(i, task)
            else:
                pool = cf.ThreadPoolExecutor(self.jobs)
                try:
                    futures = [pool.submit(self._one, i, t) for i, t in enumerate(self.tasks)]
                    for f in cf.as_completed(futures):
                        f.result()
                finally:
                    pool.shutdown(wait=False, cancel_futures=True)
        except KeyboardInterrupt:
            self._interrupted.set()
            self._end_workers()
            say("interrupted: running workers ended; run the same command again to continue")
            raise
        finally:
            self._stop.set()
        return self.done, self.failed

    def _end_workers(self) -> None:
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def _tick(self) -> None:
        while not self._stop.wait(self.progress_every):
            with self._lock:
                running = list(self._running.values())
            for task, t_start in running:
                n = _evaluations_so_far(Path(task["run_dir"]))
                at = "starting" if n is None else f"{n}/{task['budget']} evaluations"
                mins = (time.perf_counter() - t_start) / 60
                say(f"  running {run_key(task)}: {at}, {mins:.1f} min")

    def _one(self, i: int, task: dict[str, Any]) -> None:
        key, total = run_key(task), len(self.tasks)
        if self._interrupted.is_set():
            return
        lock = Path(task["run_dir"]).with_suffix(".lock")
        holder = acquire_lock(lock)
        if holder is not None:
            say(f"[{i + 1}/{total}] skip  {key}: another sweep runs it ({holder}; lock {lock})")
            with self._lock:
                self.skipped += 1
            return
        if record_state(Path(task["record"]), task)[0] != "todo":
            lock.unlink(missing_ok=True)  # another sweep finished it meanwhile
            with self._lock:
                self.skipped += 1
            return
        say(f"[{i + 1}/{total}] start {key}")
        t_start = time.perf_counter()
        with self._lock:
            self._running[key] = (task, t_start)
        try:
            if self.inline:
                rec = execute(task, self.provenance)
                ok = rec["status"] == "ok"
                why = "" if ok else f"{rec['error']['type']}: {rec['error']['message']}"
            else:
                ok, why = self._subprocess(task)
        finally:
            with self._lock:
                self._running.pop(key, None)
            lock.unlink(missing_ok=True)
            _prune_empty(lock.parent, levels=3)
        secs = time.perf_counter() - t_start
        with self._lock:
            if ok:
                self.done += 1
            else:
                self.failed += 1
            finished = self.done + self.failed
            left = total - finished - self.skipped
            elapsed = time.perf_counter() - self.t0
        eta = elapsed / finished * left if finished else float("nan")
        if ok:
            summary = _record_summary(Path(task["record"]))
            say(
                f"[{i + 1}/{total}] done  {key} in {secs:.0f} s: {summary} "
                f"| {finished}/{total} finished, ETA {eta / 60:.0f} min"
            )
        else:
            say(
                f"[{i + 1}/{total}] FAILED {key} after {secs:.0f} s: {why} (log: {task['log']}) "
                f"| {finished}/{total} finished, ETA {eta / 60:.0f} min"
            )

    def _subprocess(self, task: dict[str, Any]) -> tuple[bool, str]:
        log = Path(task["log"])
        log.parent.mkdir(parents=True, exist_ok=True)
        spec = log.with_suffix(".task.json")
        spec.write_text(json.dumps({"task": task, "provenance": self.provenance}))
        env = dict(os.environ)
        if task["threads"]:
            for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
                env[var] = str(task["threads"])
        env.setdefault("MPLBACKEND", "Agg")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec)]
        rec_path = Path(task["record"])
        before = rec_path.stat().st_mtime_ns if rec_path.exists() else None
        with open(log, "a") as fh:
            fh.write(f"\n===== {_now()} {run_key(task)}\n")
            fh.flush()
            proc = subprocess.Popen(
                cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
            with self._lock:
                self._procs[run_key(task)] = proc
            try:
                rc = proc.wait(timeout=self.run_timeout)
            except subprocess.TimeoutExpired:
                # The worker leads its own process group: end it and its children only.
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                why = (
                    f"timed out after {self.run_timeout:.0f} s; its checkpoint is kept, "
                    "so running the sweep again continues it"
                )
                _write_crash_record(task, self.provenance, why)
                return False, why
            except BaseException:
                os.killpg(proc.pid, signal.SIGTERM)
                raise
            finally:
                with self._lock:
                    self._procs.pop(run_key(task), None)
        spec.unlink(missing_ok=True)
        try:
            rec = json.loads(rec_path.read_text())
            fresh = rec_path.stat().st_mtime_ns != before
        except (OSError, ValueError):
            rec, fresh = None, False
        if rc == 0 and rec is not None and fresh and rec.get("status") == "ok":
            return True, ""
        if rec is not None and fresh and rec.get("status") == "error":
            err = rec.get("error") or {}
            return False, f"{err.get('type')}: {err.get('message')}"
        if self._interrupted.is_set():
            return False, "interrupted"
        why = f"worker exited with code {rc} without a record (crash, signal or out of memory)"
        _write_crash_record(task, self.provenance, why)
        return False, why


def acquire_lock(path: Path) -> str | None:
    """Claim a run for this sweep; ``None`` on success, else who holds it.

    The lock file holds ``host pid``; a lock left by a dead process on this host is taken
    over. A lock from another host (shared file system) is respected: delete it by hand
    if that sweep is gone.
    """
    for _ in range(3):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileNotFoundError:  # a finishing run pruned the empty folder just now
            continue
        except FileExistsError:
            try:
                host, pid_txt = path.read_text().split()
                pid = int(pid_txt)
            except (OSError, ValueError):
                time.sleep(0.2)  # being written (or just removed): look again
                continue
            if host != platform.node():
                return f"{host} pid {pid}"
            if pid > 0 and _alive(pid):
                return f"pid {pid}"
            path.unlink(missing_ok=True)  # stale: its sweep is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{platform.node()} {os.getpid()}")
        return None
    return "lock contention"


def _prune_empty(folder: Path, levels: int) -> None:
    """Remove ``folder`` and up to ``levels - 1`` parents while they are empty."""
    for _ in range(levels):
        try:
            folder.rmdir()
        except OSError:  # not empty (another run's files) or already gone
            return
        folder = folder.parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _record_summary(path: Path) -> str:
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return "(record unreadable)"
    n, feas = rec.get("n_evaluations", 0), rec.get("n_feasible", 0)
    txt = f"{n} evaluations, {feas} feasible"
    hv = rec.get("hv_history")
    max_hv = (rec.get("result") or {}).get("max_hv")
    if hv:
        txt += f", HV {hv[-1]:.4g}" + (f" ({hv[-1] / max_hv:.3f} of max)" if max_hv else "")
    if rec.get("stopped"):
        txt += (
            f"; STOPPED by the {rec['stopped']} at n = {rec.get('stopped_at_n')} "
            f"(that proposal: {rec.get('stopped_proposal_seconds', float('nan')):.1f} s, "
            f"{rec.get('stopped_how')})"
        )
    return txt


# ------------------------------------------------------------------------ CLI
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Benchmark sweep: problems x methods x seeds, one JSON record per run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--problems", nargs="+", default=None, help="default: every available one")
    p.add_argument(
        "--methods", nargs="+", default=None, help="library methods and peers; default: all"
    )
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: 0..n_seeds-1")
    p.add_argument("--n-seeds", type=int, default=5)
    p.add_argument("--budget", type=int, default=200, help="evaluations per run")
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--n-initial", type=int, default=None, help="default: the library's rule")
    p.add_argument("--initial-design", default="slh", choices=["slh", "lh", "mc", "sobol"])
    p.add_argument("--sensitivity", default="sgrad", choices=["sgrad", "fast", "dgsm", "none"])
    p.add_argument(
        "--method-options",
        default="{}",
        help='JSON: method -> options, e.g. \'{"c+o-ftt": {"num_threads": 1}}\'',
    )
    p.add_argument("--out", default="benchmarks/results", help="output directory")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (one process each)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch/BLAS threads per run (default: cores/jobs)"
    )
    p.add_argument("--run-timeout", type=float, default=None, help="seconds before a run is killed")
    p.add_argument(
        "--proposal-cap",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit of one proposal: a run whose proposal takes longer stops "
        "there, keeps what it has, and is recorded as complete with stopped='proposal cap'",
    )
    p.add_argument("--progress-every", type=float, default=60.0, help="seconds between updates")
    p.add_argument("--skip-failed", action="store_true", help="do not retry runs that failed")
    p.add_argument("--inline", action="store_true", help="run in this process (debugging)")
    p.add_argument("--dry-run", action="store_true", help="show the plan and stop")
    p.add_argument("--list", action="store_true", help="list problems and methods and stop")
    p.add_argument("--smoke", action="store_true", help="tiny configuration for CI")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    return p


def _available_problems(names: list[str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """The problems that can be built here, and their info (others are reported and left out)."""
    ok, infos = [], {}
    for name in names:
        try:
            problem = build_problem(name, problem_options(name))
        except Exception as exc:  # e.g. NEURON missing for hh-neuron
            say(f"skipping problem {name}: {type(exc).__name__}: {exc}")
            continue
        ok.append(name)
        infos[name] = problem_info(problem, name, problem_options(name))
    return ok, infos


def _apply_smoke(args: argparse.Namespace) -> None:
    import botorch_joint as bj

    registered = bj.problems.names()
    args.problems = args.problems or [p for p in SMOKE_PROBLEMS if p in registered][:2]
    if args.methods is None:
        methods = ["sobol"]
        methods += [m for m in SMOKE_SURROGATES if method_missing(m) is None][:1]
        methods += [m for m in SMOKE_PEERS if method_missing(m) is None][:1]
        args.methods = methods
    args.seeds = args.seeds or [0]
    args.budget, args.batch_size = 20, 5
    args.n_initial = args.n_initial or 10
    for method, opts in SMOKE_OPTIONS.items():
        args.method_options.setdefault(method, opts)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return _worker_main(args.worker)
    import botorch_joint as bj

    try:
        args.method_options = json.loads(args.method_options)
        if not isinstance(args.method_options, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise SystemExit(f"--method-options: {exc}") from None
    if args.list:
        print("problems:")
        for name in bj.problems.names():
            print(f"  {name}{' (default)' if name in DEFAULT_PROBLEMS else ''}")
        print("methods:")
        for m in all_methods():
            why = method_missing(m)
            print(f"  {m:12s} [{method_kind(m)}]{'  unavailable: ' + why if why else ''}")
        return 0
    if args.smoke:
        _apply_smoke(args)
    registered = bj.problems.names()
    problems = args.problems or [p for p in DEFAULT_PROBLEMS if p in registered]
    methods = args.methods or all_methods()
    bad = [m for m in methods if m not in all_methods()]
    if bad:
        raise SystemExit(f"unknown method(s) {bad}; choose from {all_methods()}")
    args.methods = []
    for m in methods:
        why = method_missing(m)
        if why:
            say(f"skipping method {m}: {why}")
        else:
            args.methods.append(m)
    args.seeds = args.seeds if args.seeds is not None else list(range(args.n_seeds))
    if args.proposal_cap is not None and not args.proposal_cap > 0:
        raise SystemExit(f"--proposal-cap: must be positive seconds, got {args.proposal_cap}")
    args.sensitivity = None if args.sensitivity == "none" else args.sensitivity
    if args.threads is None:
        args.threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))

    out = Path(args.out)
    args.problems, infos = _available_problems(problems)
    if not args.problems or not args.methods:
        say("nothing to run: no available problem or method")
        return 1
    tasks = make_tasks(args, out)
    todo, n_done, conflicts = [], 0, []
    for task in tasks:
        state, why = record_state(Path(task["record"]), task)
        if state == "done":
            n_done += 1
        elif state == "conflict":
            conflicts.append(f"{run_key(task)}: {why}")
        elif args.skip_failed and why.startswith("previous attempt error"):
            continue
        else:
            todo.append(task)
    cap = f", proposal cap {args.proposal_cap:g} s" if args.proposal_cap else ""
    say(
        f"{len(tasks)} runs ({len(args.problems)} problems x {len(args.methods)} methods x "
        f"{len(args.seeds)} seeds), budget {args.budget}, batch {args.batch_size}{cap}: "
        f"{n_done} already done, {len(todo)} to run, {args.jobs} at a time, "
        f"{args.threads} thread(s) each; output {out}"
    )
    if conflicts:
        say(
            f"{len(conflicts)} stored record(s) were made with other settings and are left "
            "alone (use another --out):\n  " + "\n  ".join(conflicts[:10])
        )
    if args.dry_run:
        for task in todo:
            print(f"  would run {run_key(task)}")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    from botorch_joint.result import write_atomic

    for name, info in infos.items():
        write_atomic(out / "problems" / f"{_safe(name)}.json", json.dumps(info))
    provenance = {"versions": versions(), "machine": machine()}
    sweep_info = {
        "command": [sys.executable, *sys.argv] if argv is None else ["benchmarks/run.py", *argv],
        "problems": args.problems,
        "methods": args.methods,
        "seeds": args.seeds,
        "budget": args.budget,
        "batch_size": args.batch_size,
        "n_initial": args.n_initial,
        "initial_design": args.initial_design,
        "sensitivity": args.sensitivity,
        "method_options": args.method_options,
        "proposal_cap": args.proposal_cap,
        "jobs": args.jobs,
        "threads": args.threads,
        "smoke": args.smoke,
        "runs_total": len(tasks),
        "runs_to_run": len(todo),
        "started": _now(),
        **provenance,
    }
    write_atomic(out / "sweep.json", json.dumps(sweep_info, indent=1))
    with open(out / "sweeps.jsonl", "a") as fh:  # every invocation, for the report
        fh.write(json.dumps(sweep_info) + "\n")
    sweep = Sweep(
        todo,
        provenance,
        jobs=args.jobs,
        run_timeout=args.run_timeout,
        progress_every=args.progress_every,
        inline=args.inline,
    )
    ok, failed = sweep.run()
    also = f", {sweep.skipped} left to another sweep" if sweep.skipped else ""
    say(
        f"finished: {ok} runs succeeded, {failed} failed{also}, {n_done} were already done "
        f"({(time.perf_counter() - sweep.t0) / 60:.1f} min). Report: "
        f"python benchmarks/report.py {out}"
    )
    return 0 if failed == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
