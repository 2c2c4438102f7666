"""Setting up a run of :func:`~botorch_joint.loop.optimize` before its first batch.

The checks of its integer arguments (:func:`check_int`) and the warning about an
initial design that the budget shrank (:func:`warn_small_budget`); the settings a run
records, in JSON types (:func:`json_form`), and what a resume must not change
(:data:`RESUME_KEYS`, :func:`settings_diff`); and :func:`start_run`, which starts a
fresh run or resumes the checkpointed one in a run directory.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.errors import RunDirectoryError, SettingsError
from botorch_joint.persistence import JOURNAL, CheckpointError, load_checkpoint, save_checkpoint
from botorch_joint.problems.base import Problem
from botorch_joint.result import Result

__all__ = [
    "RESUME_KEYS",
    "RESUME_KEYS_IF_SAVED",
    "check_int",
    "json_form",
    "settings_diff",
    "start_run",
    "warn_small_budget",
]

logger = logging.getLogger("botorch_joint")

#: settings that must match for ``resume=True`` to continue a run
RESUME_KEYS = ("method", "budget", "n_initial", "batch_size", "initial_design", "seed")
#: compared too, when the checkpoint records them (older checkpoints may not)
RESUME_KEYS_IF_SAVED = ("sensitivity", "bounds", "method_options")


def warn_small_budget(dim: int, budget: int, batch_size: int, n_initial: int, method: str) -> None:
    """Warn when the budget shrank the default initial design (a model on few points).

    Called by :func:`~botorch_joint.loop.optimize` itself: the warning names its caller.
    """
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


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an ``int``, refused (:class:`~botorch_joint.errors.SettingsError`,
    naming ``name``) unless it is an integer, not a bool, of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SettingsError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def start_run(
    problem: Problem,
    method: str,
    settings: dict[str, Any],
    run_dir: str | os.PathLike | None,
    resume: bool,
) -> tuple[Result, dict[str, Any] | None]:
    """The run's result so far and its batch in flight (``None``: none).

    Without ``run_dir`` an empty result. Else a fresh run writes its first checkpoint
    there, and ``resume`` continues the checkpointed run, refused for another problem
    or other settings (:func:`settings_diff`); a checkpoint without ``resume``, or a
    journal without a checkpoint, is refused.

    Args:
        problem: the problem of the run.
        method: the method's name.
        settings: the run's settings (as recorded in the result).
        run_dir: the run directory, or ``None``.
        resume: continue the checkpointed run in ``run_dir``.
    """
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
        diff = settings_diff(result.settings, settings)
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


def settings_diff(saved: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """What differs between a checkpoint's settings and this call's, one item each."""
    keys = list(RESUME_KEYS) + [k for k in RESUME_KEYS_IF_SAVED if k in saved]
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


def json_form(value: Any) -> Any:
    """``value`` as JSON types, to record and compare ``method_options``.

    Objects without a JSON form are named by their type or qualified name (never by a
    memory address, which would differ in every process).
    """
    if isinstance(value, dict):
        return {str(k): json_form(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_form(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    name = getattr(value, "__qualname__", None)
    if isinstance(name, str):
        return f"<{getattr(value, '__module__', '')}.{name}>"
    text = repr(value)
    return f"<{type(value).__qualname__}>" if " at 0x" in text else text
