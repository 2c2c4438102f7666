"""Evaluating one batch of a run and recording every evaluation as it finishes.

:func:`run_batch` is the part of :func:`~botorch_joint.loop.optimize` that talks to the
evaluator and the run directory: it checkpoints a new batch once, journals each
evaluation (:func:`journal_evaluation`), skips what the journal already holds, and
reruns the points that were being evaluated when an earlier attempt died, alone once
they took it down often enough, then recorded as failed (:func:`crash_message`).
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.parallel import Evaluator, failed_evaluation, run_evaluator
from botorch_joint.persistence import (
    INTERRUPTED,
    JOURNAL,
    STARTED,
    append_journal,
    mark_journal,
    read_journal,
    restart_journal,
    save_checkpoint,
)
from botorch_joint.problems.base import Evaluation, Problem
from botorch_joint.result import Result

__all__ = ["crash_message", "journal_evaluation", "run_batch"]


def crash_message(deaths: int, solo: int, max_crashes: int) -> str:
    """The error recorded for a point that took the run down ``deaths`` times."""
    return (
        f"RunCrashed: the run died {deaths} times while this point was being evaluated, "
        f"{solo} of them with no other point running (the simulator may call os._exit, "
        "crash with a segfault or exhaust memory here); it is recorded as failed so "
        f"that the run can go on (max_crashes={max_crashes})"
    )


def run_batch(
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

    Called by :func:`~botorch_joint.loop.optimize` itself: its warnings name the caller
    of ``optimize``.
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
            failed = failed_evaluation(problem, crash_message(deaths, solo[i], max_crashes))
            warnings.warn(
                f"{problem.to_dict(X[i])} (row {i} of epoch {epoch}): {failed.error}",
                stacklevel=3,
            )
            assert run_dir is not None
            journal_evaluation(run_dir, batch, i, failed, attempt)
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
                journal_evaluation(run_dir, batch, i, evaluation, attempt)
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


def journal_evaluation(
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
