"""The run loop: initial design, then batches proposed by a strategy, evaluated, recorded.

Data flows one way: problem -> design -> evaluation -> data -> model -> candidates ->
evaluation -> checkpoint. The loop owns evaluation and checkpoints; strategies only
propose points (:mod:`botorch_joint.strategies`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import inspect
import logging
import math
import os
import secrets
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.designs import default_n_initial  # also bj.loop.default_n_initial
from botorch_joint.errors import RunDirectoryError, SettingsError
from botorch_joint.parallel import (
    Evaluator,
    check_n_workers,
    check_timeout,
    failed_evaluation,
    launcher,
    make_evaluator,
    run_evaluator,
)
from botorch_joint.persistence import (
    INTERRUPTED,
    JOURNAL,
    STARTED,
    CheckpointError,
    append_journal,
    batch_id,
    load_checkpoint,
    load_result,
    mark_journal,
    read_journal,
    restart_journal,
    save_checkpoint,
)
from botorch_joint.problems.base import Evaluation, Problem
from botorch_joint.result import Result
from botorch_joint.run_lock import RunLock
from botorch_joint.strategies import Strategy, get_method, make_strategy
from botorch_joint.strategies.registry import spans_budget

logger = logging.getLogger("botorch_joint")

#: settings that must match for ``resume=True`` to continue a run
_RESUME_KEYS = ("method", "budget", "n_initial", "batch_size", "initial_design", "seed")
#: compared too, when the checkpoint records them (older checkpoints may not)
_RESUME_KEYS_IF_SAVED = ("sensitivity", "bounds", "method_options")


def _warn_small_budget(dim: int, budget: int, batch_size: int, n_initial: int, method: str) -> None:
    """Warn when the budget shrank the default initial design (a model on few points)."""
    full = max(2 * (dim + 1), batch_size)
    if n_initial >= full:
        return
    warnings.warn(
        f"budget {budget} leaves room for an initial design of {n_initial} points, not "
        f"the default {full} (max(2 (d + 1), batch_size) with d={dim}): using "
        f"n_initial={n_initial}, then {budget - n_initial} evaluations proposed by "
        f"{method}; raise the budget to {2 * full} or more, or set n_initial",
        stacklevel=3,
    )


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SettingsError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def optimize(
    problem: Problem,
    method: str = "c+o-ftt",
    budget: int = 200,
    n_initial: int | None = None,
    batch_size: int = 20,
    initial_design: str = "slh",
    sensitivity: str | None = "sgrad",
    evaluator: None | str | cf.Executor | Evaluator = None,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    seed: int = 0,
    *,
    timeout: float | None = None,
    n_workers: int | None = None,
    progress: bool | None = None,
    method_options: dict[str, Any] | None = None,
    strategy: Strategy | None = None,
    callback: Callable[[Result], None] | None = None,
    max_crashes: int = 2,
) -> Result:
    """Optimise ``problem`` within ``budget`` true evaluations.

    Args:
        problem: the problem to optimise.
        method: a registered method
            (:func:`~botorch_joint.strategies.registry.method_names`; add one with
            :func:`~botorch_joint.strategies.registry.register_method`).
        budget: total true evaluations, initial design included.
        n_initial: initial design size (default :func:`default_n_initial`).
        batch_size: evaluations per epoch after the initial design.
        initial_design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"`` (surrogate methods).
        sensitivity: ``"sgrad"``, ``"fast"``, ``"dgsm"`` or ``None`` (surrogate methods).
        evaluator: ``None`` (serial), ``"process"``, ``"mpi"``, any
            ``concurrent.futures.Executor`` or an
            :class:`~botorch_joint.parallel.base.Evaluator`.
        run_dir: directory for the checkpoint (rewritten as each batch starts, with
            every earlier evaluation) and the journal (appended after every evaluation).
        resume: continue the checkpointed run in ``run_dir``: nothing finished is lost
            or evaluated again; evaluations in flight at the interruption are redone.
        seed: base seed of every random stream of the run.
        timeout: per-evaluation time limit in seconds (pooled evaluators).
        n_workers: pool size for ``evaluator="process"``.
        progress: show a progress bar (default: when stderr is a terminal).
        method_options: extra keyword arguments for the method's strategy.
        strategy: a ready-made :class:`~botorch_joint.strategies.Strategy` (overrides
            ``method``).
        callback: called with the run's :class:`~botorch_joint.result.Result` after
            every batch is recorded (its ``timings[-1]`` is that epoch's); for
            logging, it must not modify the result.
        max_crashes: a point that was being evaluated when the run died this many
            times (the simulator calls ``os._exit``, segfaults, exhausts memory...) is
            recorded as failed on the next resume, so that the run can finish.

    Returns:
        The :class:`~botorch_joint.result.Result` with every evaluation.

    Raises:
        botorch_joint.errors.SettingsError: an invalid setting, or ``resume`` into a
            run of another problem or other settings (a ``ValueError``).
        botorch_joint.errors.RunDirectoryError: ``run_dir`` holds a run and
            ``resume`` is false (a ``FileExistsError``).
        botorch_joint.run_lock.RunDirectoryLockedError: another run is using
            ``run_dir``; the message names it (host, pid, start time).
        botorch_joint.persistence.checkpoint.CheckpointError: the checkpoint is not consistent, or
            is missing while a journal of finished evaluations is there.
        OSError: the journal or checkpoint could not be written (disk full...): the
            run stops rather than go on without recording; resume it later.
        botorch_joint.parallel.base.HungEvaluationsError: every worker of an executor
            hangs in an evaluation past its time limit (the run resumes).
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a botorch_joint.Problem, got {type(problem).__name__}")
    budget = _check_int("budget", budget, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    max_crashes = _check_int("max_crashes", max_crashes, 1)
    try:  # checked before the run directory is touched
        timeout = check_timeout(timeout)
        n_workers = check_n_workers(n_workers)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
    launch = launcher(evaluator)
    if launch is not None:
        # The back end runs this call itself: under mpiexec every rank makes it, rank 0
        # runs the loop, the others evaluate, and every rank returns rank 0's result.
        given = dict(locals())
        kwargs = {k: given[k] for k in _OPTIMIZE_ARGS if k != "evaluator"}
        return launch(
            lambda ev: optimize(evaluator=ev, **kwargs), n_workers=n_workers, timeout=timeout
        )
    if strategy is None:
        get_method(method)  # an unknown name raises UnknownMethodError (a SettingsError)
    from botorch_joint.designs import DESIGNS

    if initial_design not in DESIGNS:
        raise SettingsError(
            f"unknown initial_design {initial_design!r}; choose one of {list(DESIGNS)}"
        )
    if sensitivity not in (None, "sgrad", "fast", "dgsm"):
        raise SettingsError(
            f"unknown sensitivity {sensitivity!r}; choose 'sgrad', 'fast', 'dgsm' or None"
        )
    method_name = strategy.name if strategy is not None else method
    if n_initial is None:
        n_initial = default_n_initial(problem.dim, budget, batch_size)
        if not spans_budget(method_name):  # a space-filling design has no surrogate
            _warn_small_budget(problem.dim, budget, batch_size, n_initial, method_name)
    n_initial = _check_int("n_initial", n_initial, 1)
    if n_initial > budget:
        raise SettingsError(f"n_initial ({n_initial}) exceeds budget ({budget})")
    if resume and run_dir is None:
        raise SettingsError("resume=True needs run_dir")
    if spans_budget(method_name):
        initial_design = method_name  # the method's own design is the initial design too
    settings = {
        "method": method_name,
        "budget": budget,
        "n_initial": n_initial,
        "batch_size": batch_size,
        "initial_design": initial_design,
        "sensitivity": sensitivity,
        "seed": seed,
        # the search space and the method's options: a resume must not change them
        "bounds": {n: [lo, hi] for n, (lo, hi) in problem.parameters.items()},
        "method_options": _plain(method_options or {}),
    }

    attempt = secrets.token_hex(6)  # names this attempt's journal records
    # One run per directory: a second run (say a requeued job while this one still
    # runs) is refused here, before it reads or writes anything there.
    lock = None if run_dir is None else RunLock.acquire(run_dir, attempt)
    try:
        result, pending = _start(problem, method_name, settings, run_dir, resume)
        if strategy is None:
            strategy = make_strategy(
                method,
                problem,
                budget=budget,
                seed=seed,
                initial_design=initial_design,
                sensitivity=sensitivity,
                batch_size=batch_size,
                options=method_options,
            )
        ev = make_evaluator(evaluator, n_workers=n_workers, timeout=timeout)
        if ev.n_workers > batch_size and budget > max(n_initial, len(result)):
            warnings.warn(
                f"the evaluator has {ev.n_workers} workers but batch_size is {batch_size}: "
                f"{ev.n_workers - batch_size} workers will idle; raise batch_size",
                stacklevel=2,
            )
        done = len(result)
        if pending is not None and run_dir is not None:
            # Evaluations journaled before an interruption count as done from the start,
            # so the bar's rate does not jump as if they had just finished.
            done = len(load_result(run_dir))
        bar = _progress(budget, done, problem.name, method_name, progress)
        try:
            if pending is not None:
                _run_batch(problem, ev, result, pending, run_dir, bar, attempt, max_crashes, True)
                _warn_if_all_failed(result, pending)
                if callback is not None:
                    callback(result)
            while len(result) < budget:
                epoch = int(result.epoch.max()) + 1 if len(result) else 0
                t0 = time.perf_counter()
                if epoch == 0:
                    X = strategy.initial(n_initial)
                    train_s = search_s = 0.0
                    info: dict[str, Any] = {}
                else:
                    q = min(batch_size, budget - len(result))
                    prop = strategy.propose(result, q, epoch)
                    X, train_s, search_s, info = (
                        prop.X,
                        prop.train_seconds,
                        prop.search_seconds,
                        prop.info,
                    )
                    X = _top_up(problem, X, q, seed, epoch)
                propose_s = time.perf_counter() - t0
                X = problem.check_X(X)
                batch = {
                    "epoch": epoch,
                    "id": batch_id(epoch, X),  # journal records name their batch
                    "X": X.tolist(),
                    "train_seconds": train_s,
                    "search_seconds": search_s,
                    "propose_seconds": propose_s,
                    "info": info,
                }
                _run_batch(problem, ev, result, batch, run_dir, bar, attempt, max_crashes)
                _warn_if_all_failed(result, batch)
                if callback is not None:
                    callback(result)
        finally:
            bar.close()
            if ev is not evaluator:
                ev.close()
        result.complete = True
        if run_dir is not None:
            save_checkpoint(run_dir, result)
        return result
    finally:
        if lock is not None:
            lock.release()


def _start(
    problem: Problem,
    method: str,
    settings: dict[str, Any],
    run_dir: str | os.PathLike | None,
    resume: bool,
) -> tuple[Result, dict[str, Any] | None]:
    if run_dir is None:
        return Result.empty(problem, method, settings), None
    ckpt = Path(run_dir) / "checkpoint.json"
    journal = Path(run_dir) / JOURNAL
    if not ckpt.exists() and journal.exists():
        # A run writes its checkpoint before its first journal line: the checkpoint was
        # deleted or lost. Starting afresh would throw the journaled evaluations away.
        raise CheckpointError(
            f"{ckpt} is missing, but {journal} from a run in this directory is there: "
            "the checkpoint was deleted or lost, and starting from zero would discard "
            "what the journal holds. Restore checkpoint.json (e.g. from a backup), or "
            "move the run directory aside to start a new run"
        )
    if resume and ckpt.exists():
        result, pending = load_checkpoint(run_dir)
        if result.problem_name != problem.name or (
            result.parameter_names != problem.parameter_names
            or result.objective_names != problem.objective_names
            or result.constraint_names != problem.constraint_names
        ):
            raise SettingsError(
                f"{ckpt}: checkpoint is for problem {result.problem_name!r} with different "
                f"parameters or outputs; cannot resume {problem.name!r} there"
            )
        diff = _settings_diff(result.settings, settings)
        if diff:
            # anything that changes what the run means is refused, never mixed
            raise SettingsError(f"{ckpt}: cannot resume with different settings " + ", ".join(diff))
        result.complete = False
        logger.info("resuming %s at %d evaluations", run_dir, len(result))
        return result, pending
    if ckpt.exists() and not resume:
        raise RunDirectoryError(
            f"{ckpt} exists: pass resume=True (--resume) to continue that run, "
            "or choose another run_dir"
        )
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    result = Result.empty(problem, method, settings)
    save_checkpoint(run_dir, result)
    return result, None


def _settings_diff(saved: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's settings and this call's, one item each."""
    keys = list(_RESUME_KEYS) + [k for k in _RESUME_KEYS_IF_SAVED if k in saved]
    out = []
    for k in keys:
        a, b = saved.get(k), asked[k]
        if a == b:
            continue
        if k == "bounds" and isinstance(a, dict):  # list only the parameters that moved
            out += [
                f"bounds of {n!r}: saved {tuple(a.get(n, ()))}, asked {tuple(b[n])}"
                for n in b
                if a.get(n) != b[n]
            ]
        else:
            out.append(f"{k}: saved {a!r}, asked {b!r}")
    return out


def _plain(value: Any) -> Any:
    """``value`` as JSON types, to record and compare ``method_options``.

    Objects without a JSON form are named by their type or qualified name (never by a
    memory address, which would differ in every process).
    """
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    name = getattr(value, "__qualname__", None)
    if isinstance(name, str):
        return f"<{getattr(value, '__module__', '')}.{name}>"
    text = repr(value)
    return f"<{type(value).__qualname__}>" if " at 0x" in text else text


def _warn_if_all_failed(result: Result, batch: dict[str, Any]) -> None:
    """After the run's first batch, say at once if every evaluation failed."""
    if not len(result) or int(batch["epoch"]) != int(result.epoch.min()):
        return
    if not result.failed.all():
        return
    import collections

    (error, count), *_ = collections.Counter(str(e) for e in result.errors).most_common(1)
    if len(error) > 600:
        error = error[:600] + " ..."
    warnings.warn(
        f"every evaluation so far failed (all {len(result)} evaluations of the first "
        f"batch); the most common error ({count} of {len(result)}): {error}. Check the "
        "simulator on one point (problem.evaluate({...})) before spending the budget",
        stacklevel=3,
    )


def _crash_message(deaths: int, solo: int, max_crashes: int) -> str:
    return (
        f"RunCrashed: the run died {deaths} times while this point was being evaluated, "
        f"{solo} of them with no other point running (the simulator may call os._exit, "
        "crash with a segfault or exhaust memory here); it is recorded as failed so "
        f"that the run can go on (max_crashes={max_crashes})"
    )


def _top_up(problem: Problem, X: np.ndarray, q: int, seed: int, epoch: int) -> np.ndarray:
    """Fill a short proposal with uniform points so the budget is always spent."""
    X = np.asarray(X, dtype=float).reshape(-1, problem.dim)
    if len(X) > q:
        return X[:q]
    if len(X) < q:
        warnings.warn(
            f"the method proposed {len(X)} of {q} points; filling with uniform samples",
            stacklevel=3,
        )
        rng = np.random.default_rng([seed, epoch, 7919])
        X = np.vstack([X, problem.from_unit(rng.random((q - len(X), problem.dim)))])
    return X


def _run_batch(
    problem: Problem,
    ev: Evaluator,
    result: Result,
    batch: dict[str, Any],
    run_dir: str | os.PathLike | None,
    bar: Any,
    attempt: str = "",
    max_crashes: int = 2,
    on_disk: bool = False,
) -> None:
    """Evaluate one batch (skipping rows the journal already has) and record it.

    A new batch (``on_disk`` false) is checkpointed once, while the workers compute:
    the checkpoint then holds every earlier batch and this one as pending, and the
    journal keeps only this batch's lines. Until the next checkpoint the batch lives in
    the journal: a "started" line for each point written before it goes to a worker
    and, fsynced, each finished evaluation, so a kill at any moment loses none.
    Finished rows found in the journal are not evaluated again. Rows that were running
    when an earlier attempt died (a kill from outside, or one of them took the process
    down) run after the others, together while they have fewer than ``max_crashes``
    deaths and then one at a time, so that a further death is the row's own. A row
    with ``max_crashes`` deaths, one at least with no other row running, is recorded as
    failed instead of run again.
    """
    epoch = int(batch["epoch"])
    X = np.asarray(batch["X"], dtype=float).reshape(-1, problem.dim)
    journal = read_journal(run_dir, batch) if run_dir is not None else None
    done: dict[int, Evaluation] = {} if journal is None else dict(journal.done)
    crashes: dict[int, int] = {} if journal is None else journal.crashes
    solo: dict[int, int] = {} if journal is None else journal.solo
    if journal is not None and run_dir is not None and journal.ignored:
        warnings.warn(
            f"{Path(run_dir) / JOURNAL}: {journal.ignored} record(s) of epoch {epoch} do "
            "not match this run's batch in flight (written by another run in this "
            "directory, or by an older version); they were ignored, and their points "
            "are evaluated here",
            stacklevel=3,
        )
    for i, deaths in sorted(crashes.items()):
        if deaths >= max_crashes and solo.get(i, 0):
            failed = failed_evaluation(problem, _crash_message(deaths, solo[i], max_crashes))
            warnings.warn(
                f"{problem.to_dict(X[i])} (row {i} of epoch {epoch}): {failed.error}",
                stacklevel=3,
            )
            assert run_dir is not None
            _journal(run_dir, batch, i, failed, attempt)
            done[i] = failed
            bar.update(1)
    todo = [i for i in range(len(X)) if i not in done]
    need_checkpoint = run_dir is not None and not on_disk
    running: set[int] = set()

    def checkpoint() -> None:
        nonlocal need_checkpoint
        if not need_checkpoint:
            return
        assert run_dir is not None
        need_checkpoint = False
        save_checkpoint(run_dir, result, pending=batch)
        # earlier batches are in the checkpoint now: the journal keeps only this one
        restart_journal(run_dir, batch)

    def evaluate(rows: list[int]) -> None:
        def on_dispatch(j: int) -> None:
            running.add(rows[j])
            if run_dir is not None:
                # Before the work starts: if the point takes the process down, this
                # line is what tells the next attempt (it matches the re-proposed
                # batch even before this batch's checkpoint is written).
                mark_journal(run_dir, batch, [rows[j]], STARTED, attempt)

        def on_result(j: int, evaluation: Evaluation) -> None:
            i = rows[j]
            if run_dir is not None:
                _journal(run_dir, batch, i, evaluation, attempt)
            done[i] = evaluation
            running.discard(i)
            bar.update(1)

        try:
            run_evaluator(
                ev,
                problem,
                X[rows],
                on_result=on_result,
                on_started=checkpoint,
                on_dispatch=on_dispatch,
            )
        except BaseException as exc:
            # The attempt stops in an orderly way (Ctrl-C, a journal write that failed,
            # hung workers): the points running now did not take the run down and must
            # not count as its crashes. (A simulator's sys.exit() does count.)
            if running and run_dir is not None and not isinstance(exc, SystemExit):
                with contextlib.suppress(OSError):
                    mark_journal(run_dir, batch, sorted(running), INTERRUPTED, attempt)
            raise

    t0 = time.perf_counter()
    first = [i for i in todo if i not in crashes]
    again = [i for i in todo if 0 < crashes.get(i, 0) < max_crashes]
    for rows in (first, again):
        if rows:
            evaluate(rows)
    for i in todo:
        if crashes.get(i, 0) >= max_crashes:  # alone: a death now is its own
            evaluate([i])
    eval_s = time.perf_counter() - t0
    result.append(X, [done[i] for i in range(len(X))], epoch)
    result.timings.append(
        {
            "epoch": epoch,
            "n": len(X),
            "evaluation_seconds": eval_s,
            "train_seconds": float(batch.get("train_seconds", 0.0)),
            "search_seconds": float(batch.get("search_seconds", 0.0)),
            "propose_seconds": float(batch.get("propose_seconds", 0.0)),
        }
    )
    feas = result.feasible
    bar.set_postfix(epoch=epoch, feasible=f"{feas.mean():.0%}" if len(feas) else "-")


def _journal(
    run_dir: str | os.PathLike, batch: dict[str, Any], i: int, ev: Evaluation, attempt: str
) -> None:
    """Journal one evaluation; a failure stops the run (it must never go unrecorded)."""
    try:
        append_journal(run_dir, batch, i, ev, attempt)
    except OSError as exc:
        path = Path(run_dir) / JOURNAL
        raise OSError(
            exc.errno,
            f"could not record the evaluation of row {i} of epoch {batch['epoch']} in "
            f"{path}: {exc.strerror or exc}. The run stops rather than go on without "
            "recording it; everything recorded so far is kept: free the disk (or fix "
            "the directory's permissions) and continue with resume=True",
        ) from exc


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def close(self) -> None: ...


def _progress(total: int, initial: int, problem: str, method: str, show: bool | None) -> Any:
    import sys

    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=f"{problem} [{method}]",
        unit="eval",
        dynamic_ncols=True,
        mininterval=0.5,
    )


#: argument names of :func:`optimize`, to forward a call unchanged
_OPTIMIZE_ARGS = tuple(inspect.signature(optimize).parameters)


def hypervolume_of(result: Result) -> float:
    """Final hypervolume of ``result``'s feasible points (NaN without a reference point)."""
    if result.ref_point is None or len(result) == 0:
        return math.nan
    return float(result.hypervolume_history()[-1])
