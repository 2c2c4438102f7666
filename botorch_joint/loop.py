"""The run loop: initial design, then batches proposed by a strategy, evaluated, recorded.

Data flows one way: problem -> design -> evaluation -> data -> model -> candidates ->
evaluation -> checkpoint. The loop owns evaluation and checkpoints; strategies only
propose points (:mod:`botorch_joint.strategies`). Checking the settings and starting or
resuming a run directory is :mod:`botorch_joint.run_setup`; evaluating and recording
one batch is :mod:`botorch_joint.run_batch`.
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import math
import os
import secrets
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from botorch_joint.designs import default_n_initial  # also bj.loop.default_n_initial
from botorch_joint.errors import SettingsError
from botorch_joint.parallel import (
    Evaluator,
    check_n_workers,
    check_timeout,
    launcher,
    make_evaluator,
)
from botorch_joint.persistence import batch_id, load_result, save_checkpoint
from botorch_joint.problems.base import Problem
from botorch_joint.result import Result
from botorch_joint.run_batch import run_batch
from botorch_joint.run_lock import RunLock
from botorch_joint.run_setup import check_int, json_form, start_run, warn_small_budget
from botorch_joint.strategies import Strategy, get_method, make_strategy
from botorch_joint.strategies.registry import initial_design_for, spans_budget


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
    budget = check_int("budget", budget, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    max_crashes = check_int("max_crashes", max_crashes, 1)
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
            warn_small_budget(problem.dim, budget, batch_size, n_initial, method_name)
    n_initial = check_int("n_initial", n_initial, 1)
    if n_initial > budget:
        raise SettingsError(f"n_initial ({n_initial}) exceeds budget ({budget})")
    if resume and run_dir is None:
        raise SettingsError("resume=True needs run_dir")
    initial_design = initial_design_for(method_name, initial_design)
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
        "method_options": json_form(method_options or {}),
    }

    attempt = secrets.token_hex(6)  # names this attempt's journal records
    # One run per directory: a second run (say a requeued job while this one still
    # runs) is refused here, before it reads or writes anything there.
    lock = None if run_dir is None else RunLock.acquire(run_dir, attempt)
    try:
        result, pending = start_run(problem, method_name, settings, run_dir, resume)
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
                run_batch(problem, ev, result, pending, run_dir, bar, attempt, max_crashes, True)
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
                run_batch(problem, ev, result, batch, run_dir, bar, attempt, max_crashes)
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
