"""The run loop: initial design, then batches proposed by a strategy, evaluated, recorded.

Data flows one way: problem -> design -> evaluation -> data -> model -> candidates ->
evaluation -> checkpoint. The loop owns evaluation and checkpoints; strategies only
propose points (:mod:`botorch_joint.strategies`).
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import logging
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.errors import RunDirectoryError, SettingsError
from botorch_joint.evaluation import Evaluator, make_evaluator, run_evaluator
from botorch_joint.problems.base import Evaluation, Problem
from botorch_joint.result import (
    JOURNAL,
    Result,
    append_journal,
    load_checkpoint,
    read_journal,
    save_checkpoint,
)
from botorch_joint.strategies import METHODS, SPACE_FILLING, Strategy, make_strategy

logger = logging.getLogger("botorch_joint")

#: settings that must match for ``resume=True`` to continue a run
_RESUME_KEYS = ("method", "budget", "n_initial", "batch_size", "initial_design", "seed")


def default_n_initial(dim: int, budget: int, batch_size: int) -> int:
    """Initial design size: ``max(2 (d + 1), batch_size)``, at most half the budget."""
    n = max(2 * (dim + 1), batch_size)
    return int(max(1, min(n, budget // 2 if budget >= 2 else budget)))


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
) -> Result:
    """Optimise ``problem`` within ``budget`` true evaluations.

    Args:
        problem: the problem to optimise.
        method: one of :data:`botorch_joint.strategies.METHODS`.
        budget: total true evaluations, initial design included.
        n_initial: initial design size (default :func:`default_n_initial`).
        batch_size: evaluations per epoch after the initial design.
        initial_design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"`` (surrogate methods).
        sensitivity: ``"sgrad"``, ``"fast"``, ``"dgsm"`` or ``None`` (surrogate methods).
        evaluator: ``None`` (serial), ``"process"``, ``"mpi"``, any
            ``concurrent.futures.Executor`` or an :class:`~botorch_joint.evaluation.Evaluator`.
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

    Returns:
        The :class:`~botorch_joint.result.Result` with every evaluation.

    Raises:
        botorch_joint.errors.SettingsError: an invalid setting, or ``resume`` into a
            run of another problem or other settings (a ``ValueError``).
        botorch_joint.errors.RunDirectoryError: ``run_dir`` holds a run and
            ``resume`` is false (a ``FileExistsError``).
    """
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a botorch_joint.Problem, got {type(problem).__name__}")
    if isinstance(evaluator, str) and evaluator == "mpi":
        from botorch_joint.parallel.mpi import mpi_world_size, run_on_mpi

        if mpi_world_size() > 1:
            # Under mpiexec every rank makes this call: rank 0 runs the loop, the others
            # evaluate, and every rank returns rank 0's result.
            given = dict(locals())
            kwargs = {k: given[k] for k in _OPTIMIZE_ARGS if k != "evaluator"}
            return run_on_mpi(lambda ev: optimize(evaluator=ev, **kwargs), timeout=timeout)
    budget = _check_int("budget", budget, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    seed = _check_int("seed", seed, 0)
    if strategy is None and method not in METHODS:
        raise SettingsError(f"unknown method {method!r}; choose one of {list(METHODS)}")
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
        if method_name not in SPACE_FILLING:  # their design spans the whole budget
            _warn_small_budget(problem.dim, budget, batch_size, n_initial, method_name)
    n_initial = _check_int("n_initial", n_initial, 1)
    if n_initial > budget:
        raise SettingsError(f"n_initial ({n_initial}) exceeds budget ({budget})")
    if resume and run_dir is None:
        raise SettingsError("resume=True needs run_dir")
    if strategy is None and method in SPACE_FILLING:
        initial_design = method  # the method's own design is the initial design too
    settings = {
        "method": method_name,
        "budget": budget,
        "n_initial": n_initial,
        "batch_size": batch_size,
        "initial_design": initial_design,
        "sensitivity": sensitivity,
        "seed": seed,
    }

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
        from botorch_joint.result import load_result

        # Evaluations journaled before an interruption count as done from the start,
        # so the bar's rate does not jump as if they had just finished.
        done = len(load_result(run_dir))
    bar = _progress(budget, done, problem.name, method_name, progress)
    try:
        if pending is not None:
            _run_batch(problem, ev, result, pending, run_dir, bar)
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
                "X": X.tolist(),
                "train_seconds": train_s,
                "search_seconds": search_s,
                "propose_seconds": propose_s,
                "info": info,
            }
            _run_batch(problem, ev, result, batch, run_dir, bar)
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
    if resume and ckpt.exists():
        result, pending = load_checkpoint(run_dir)
        if result.problem_name != problem.name or (
            result.parameter_names != problem.parameter_names
            or result.objective_names != problem.objective_names
            or result.constraint_names != problem.constraint_names
        ):
            raise SettingsError(
                f"{run_dir}: checkpoint is for problem {result.problem_name!r} with different "
                f"parameters or outputs; cannot resume {problem.name!r} there"
            )
        diff = {
            k: (result.settings.get(k), settings[k])
            for k in _RESUME_KEYS
            if result.settings.get(k) != settings[k]
        }
        if diff:
            raise SettingsError(
                f"{run_dir}: cannot resume with different settings "
                + ", ".join(f"{k}: saved {a!r}, asked {b!r}" for k, (a, b) in diff.items())
            )
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
) -> None:
    """Evaluate one batch (skipping rows the journal already has) and record it.

    The checkpoint is written once per batch, while the workers compute: it holds every
    earlier batch and this one as pending. Until the next batch's checkpoint, this
    batch's evaluations live in the journal, so a kill at any moment loses none.
    """
    epoch = int(batch["epoch"])
    X = np.asarray(batch["X"], dtype=float).reshape(-1, problem.dim)
    done: dict[int, Evaluation] = read_journal(run_dir, epoch) if run_dir is not None else {}
    todo = [i for i in range(len(X)) if i not in done]

    def checkpoint() -> None:
        # A resumed batch with journaled results is already the checkpoint's pending one.
        if run_dir is None or done:
            return
        save_checkpoint(run_dir, result, pending=batch)
        # earlier batches are in the checkpoint now; this batch has not journaled yet
        (Path(run_dir) / JOURNAL).unlink(missing_ok=True)

    def on_result(j: int, evaluation: Evaluation) -> None:
        i = todo[j]
        done[i] = evaluation
        if run_dir is not None:
            append_journal(run_dir, epoch, i, evaluation)
        bar.update(1)

    t0 = time.perf_counter()
    if todo:
        run_evaluator(ev, problem, X[todo], on_result=on_result, on_started=checkpoint)
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
