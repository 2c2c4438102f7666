"""The checkpoint of a run: ``checkpoint.json`` in a run directory, and loading a run.

The checkpoint is rewritten atomically (temporary file, fsync, rename) as every batch
starts; it holds every earlier evaluation and the batch in flight, whose finished
evaluations are in the journal (:mod:`botorch_joint.persistence.journal`). Together
they lose no finished evaluation whenever the process is killed. The file is strict
JSON: non-finite numbers are encoded and read back exactly.
:func:`load_checkpoint` checks a checkpoint before it is used and names the file and
the field of any inconsistency (:class:`CheckpointError`); :func:`load_result` rebuilds
a run's :class:`~botorch_joint.result.Result` from its directory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.errors import UsageError
from botorch_joint.persistence.atomic import write_atomic
from botorch_joint.persistence.journal import JOURNAL, read_journal
from botorch_joint.result import FORMAT_VERSION, Result, decode_value, encode_value

__all__ = [
    "CHECKPOINT",
    "CheckpointError",
    "check_checkpoint",
    "load_checkpoint",
    "load_result",
    "save_checkpoint",
]

CHECKPOINT = "checkpoint.json"


def save_checkpoint(
    run_dir: str | os.PathLike, result: Result, pending: dict[str, Any] | None = None
) -> None:
    """Atomically write ``result`` (and the batch in flight, if any) to ``run_dir``.

    The file is strict JSON: non-finite numbers are encoded (see
    :func:`~botorch_joint.result.encode_array` and
    :func:`~botorch_joint.result.encode_value`) and read back exactly by
    :func:`load_checkpoint`.
    """
    run_dir = Path(run_dir)
    state = result.to_json_dict()
    state["pending"] = None if pending is None else encode_value(pending)
    write_atomic(run_dir / CHECKPOINT, json.dumps(state, allow_nan=False))
    journal = run_dir / JOURNAL
    if pending is None and journal.exists():
        journal.unlink()


# -------------------------------------------------------------- validation
class CheckpointError(UsageError, ValueError):
    """A checkpoint (or the files beside it) cannot be read back as a consistent run.

    The message names the file and the field at fault.
    """


_FIX = "restore the file from a backup, or move the run directory aside and start a new run"


def _read_json_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc})") from exc
    if not raw.strip():
        raise CheckpointError(f"{path} is empty: not a checkpoint; {_FIX}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointError(
            f"{path} is not UTF-8 text (byte {exc.start} of {len(raw)}): not a checkpoint, "
            f"or overwritten; {_FIX}"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"{path} is truncated or not JSON ({exc.msg} at line {exc.lineno}, column "
            f"{exc.colno}, of {len(text)} characters); {_FIX}"
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path} is not a JSON object but a {type(data).__name__}: not a checkpoint; {_FIX}"
        )
    return data


def _field_error(path: Path, name: str, why: str) -> CheckpointError:
    return CheckpointError(f"{path}: field {name!r} {why}; {_FIX}")


def _numbers(path: Path, data: dict[str, Any], name: str, shape: tuple[int | None, ...]) -> Any:
    """``data[name]`` as a float array of ``shape`` (``None``: any length)."""
    value = data[name]
    if not isinstance(value, list):
        raise _field_error(path, name, f"must be a list of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise _field_error(path, name, f"is not an array of numbers ({exc})") from None
    if arr.size == 0:
        arr = arr.reshape(tuple(0 if s is None else s for s in shape))
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        want = " x ".join("n" if s is None else str(s) for s in shape)
        raise _field_error(path, name, f"has shape {arr.shape}, expected ({want})")
    return arr


def _check_rows(path: Path, name: str, got: int, n: int) -> None:
    if got != n:
        raise _field_error(
            path, name, f"has {got} rows, expected {n} (one per evaluation, as in 'X')"
        )


def check_checkpoint(data: dict[str, Any], path: Path) -> None:
    """Check a checkpoint's fields against each other, naming ``path`` and the field at fault.

    Raises:
        CheckpointError: a missing field, a wrong type, or arrays whose shapes or lengths
            disagree (say ``Y`` one row shorter than ``X``).
    """
    if data.get("format_version") != FORMAT_VERSION:
        raise _field_error(
            path, "format_version", f"is {data.get('format_version')!r}, not {FORMAT_VERSION}"
        )
    required = ["problem_name", "parameter_names", "objective_names", "constraint_names"]
    required += ["X", "Y", "C", "failed", "epoch", "errors"]
    for name in required:
        if name not in data:
            raise _field_error(path, name, "is missing")
    if not isinstance(data["problem_name"], str):
        raise _field_error(path, "problem_name", "must be a string")
    dims = []
    for name in ("parameter_names", "objective_names", "constraint_names"):
        names = data[name]
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise _field_error(path, name, f"must be a list of strings, got {names!r}")
        dims.append(len(names))
    d, m, k = dims
    X = _numbers(path, data, "X", (None, d))
    n = len(X)
    if not np.all(np.isfinite(X)):
        raise _field_error(path, "X", "holds non-finite parameter values")
    _check_rows(path, "Y", len(_numbers(path, data, "Y", (None, m))), n)
    _check_rows(path, "C", len(_numbers(path, data, "C", (None, k))), n)
    for name, kinds in (("failed", (bool,)), ("epoch", (int,))):
        values = data[name]
        if not isinstance(values, list) or not all(
            isinstance(v, kinds) and (name == "failed" or not isinstance(v, bool)) for v in values
        ):
            kind = "true/false" if name == "failed" else "integers"
            raise _field_error(path, name, f"must be a list of {kind}")
        _check_rows(path, name, len(values), n)
    epochs = data["epoch"]
    if any(b < a for a, b in zip(epochs, epochs[1:])) or any(e < 0 for e in epochs):
        raise _field_error(path, "epoch", "must count up from 0 in the order of 'X'")
    errors = data["errors"]
    if not isinstance(errors, list) or not all(e is None or isinstance(e, str) for e in errors):
        raise _field_error(path, "errors", "must be a list of strings or nulls")
    _check_rows(path, "errors", len(errors), n)
    if data.get("eval_seconds") is not None:
        _check_rows(path, "eval_seconds", len(_numbers(path, data, "eval_seconds", (None,))), n)
    if data.get("ref_point") is not None:
        _numbers(path, data, "ref_point", (m,))
    wanted: tuple[tuple[str, type], ...] = (
        ("settings", dict),
        ("timings", list),
        ("complete", bool),
    )
    for name, want in wanted:
        if name in data and not isinstance(data[name], want):
            raise _field_error(path, name, f"must be a {want.__name__}")
    pending = data.get("pending")
    if pending is not None:
        if not isinstance(pending, dict) or "epoch" not in pending or "X" not in pending:
            raise _field_error(path, "pending", "must be null or a batch with 'epoch' and 'X'")
        epoch = pending["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise _field_error(path, "pending", f"has epoch {epoch!r}, not an integer >= 0")
        if epochs and epoch <= epochs[-1]:
            raise _field_error(
                path, "pending", f"is epoch {epoch}, but epoch {epochs[-1]} is already recorded"
            )
        try:
            bx = _numbers(path, pending, "X", (None, d))
        except CheckpointError as exc:
            raise _field_error(path, "pending", f"has bad points: {exc}") from None
        if not len(bx) or not np.all(np.isfinite(bx)):
            raise _field_error(path, "pending", "must hold at least one finite point")
        if data.get("complete"):
            raise _field_error(path, "pending", "is set, but the run is marked complete")


# -------------------------------------------------------------- loading
def load_checkpoint(run_dir: str | os.PathLike) -> tuple[Result, dict[str, Any] | None]:
    """Read ``run_dir``'s checkpoint: the result so far and the batch in flight (or ``None``).

    Raises:
        FileNotFoundError: there is no checkpoint.
        CheckpointError: the file is not a consistent checkpoint (truncated, binary,
            a missing field, arrays of different lengths...); the message names the
            file and the field.
    """
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    data = _read_json_file(path)
    check_checkpoint(data, path)
    pending = data.get("pending")
    return Result.from_json_dict(data), None if pending is None else decode_value(pending)


def load_result(run_dir: str | os.PathLike, include_in_flight: bool = True) -> Result:
    """Rebuild the :class:`~botorch_joint.result.Result` of a (possibly unfinished) run.

    Args:
        run_dir: the run directory given to :func:`botorch_joint.optimize`.
        include_in_flight: also include evaluations of an interrupted batch that finished
            before the interruption (recorded in the journal).

    Raises:
        FileNotFoundError: ``run_dir`` holds no checkpoint.
        CheckpointError: its checkpoint is not consistent (see :func:`load_checkpoint`).
    """
    result, pending = load_checkpoint(run_dir)
    if include_in_flight and pending is not None:
        done = read_journal(run_dir, pending).done
        if done:
            idx = sorted(done)
            X = np.asarray(pending["X"], dtype=float)[idx]
            result.append(X, [done[i] for i in idx], pending["epoch"])
    return result
