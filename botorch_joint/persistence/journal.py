"""The journal of the batch in flight: ``journal.jsonl`` in a run directory.

Each evaluation of the batch in flight is appended (and fsynced) the moment it
finishes, so that a process killed at any moment loses no finished evaluation. Records
carry their batch and point, so that a record is only ever applied to the point it was
computed for, and "started" lines tell a resumed run which point was running when the
process died (see :func:`read_journal`). Lines are strict JSON (non-finite numbers
encoded as in :mod:`botorch_joint.result`).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from botorch_joint.persistence.atomic import write_atomic
from botorch_joint.problems.base import Evaluation
from botorch_joint.result import decode_value, encode_array, encode_value

__all__ = [
    "INTERRUPTED",
    "JOURNAL",
    "RESULT",
    "STARTED",
    "BatchJournal",
    "append_journal",
    "batch_id",
    "mark_journal",
    "read_journal",
    "restart_journal",
]

JOURNAL = "journal.jsonl"

# One JSON object per line, for the batch in flight (when the next batch is
# checkpointed, the journal keeps only that batch's lines). Each record names its batch
# ("batch": batch_id, a digest of the batch's epoch and points) and carries its row and
# point ("index", "x"), so a record of another batch or another run is never applied.
#   {"kind": "started", ...}: the point is about to go to a worker; a point started
#       by an earlier attempt of the run that neither finished nor was interrupted
#       was running when that attempt died (see BatchJournal.crashes);
#   {"kind": "interrupted", ...}: the attempt stopped in an orderly way (Ctrl-C, an
#       error of the loop) while the point was running: not the point's fault;
#   {"kind": "result", ...}: the point's evaluation, fsynced before it counts as done.
STARTED, INTERRUPTED, RESULT = "started", "interrupted", "result"


def batch_id(epoch: int, X: Any) -> str:
    """The id of a batch: a digest of its epoch and points.

    A resumed run proposes the same points for an epoch (the same seed stream), so
    the id is the same in every attempt, and records written before the batch's
    checkpoint (say by an attempt that died at once) still count for it.
    """
    import hashlib

    data = f"{int(epoch)}:".encode() + np.ascontiguousarray(X, dtype=float).tobytes()
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class BatchJournal:
    """What the journal says about the batch in flight.

    An attempt of the run *died* with a row in flight if it wrote the row's "started"
    line but neither its result nor an "interrupted" line. When a death leaves one row
    in flight, it is that row's own doing (*solo*); with several in flight, any one of
    them may have caused it.

    Attributes:
        done: finished evaluations by row of the batch.
        crashes: for rows not done, how many earlier attempts died with the row in
            flight.
        solo: for rows not done, how many of those deaths had no other row in flight.
        ignored: records with this batch's epoch that belong to another batch or
            another point (written by another run in this directory): never applied.
    """

    done: dict[int, Evaluation] = field(default_factory=dict)
    crashes: dict[int, int] = field(default_factory=dict)
    solo: dict[int, int] = field(default_factory=dict)
    ignored: int = 0


def _record(batch: dict[str, Any], index: int, kind: str, attempt: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "batch": batch.get("id"),
        "epoch": int(batch["epoch"]),
        "index": int(index),
        "x": [float(v) for v in batch["X"][index]],
        "attempt": attempt,
    }


def _append_record(path: Path, rec: dict[str, Any], durable: bool) -> None:
    """Append one JSON line to ``path``; ``durable`` waits until it is on disk (fsync).

    A line torn by an earlier failure (the disk was full, the process died mid-write)
    has no final newline: it is fenced off with one first, so that this record starts
    a line of its own instead of being glued to the fragment and lost with it.
    """
    line = json.dumps(rec, allow_nan=False).encode() + b"\n"
    with open(path, "ab+") as fh:
        end = fh.seek(0, os.SEEK_END)
        if end:
            fh.seek(end - 1)
            if fh.read(1) != b"\n":
                line = b"\n" + line
        fh.write(line)
        fh.flush()
        if durable:
            os.fsync(fh.fileno())


def append_journal(
    run_dir: str | os.PathLike,
    batch: dict[str, Any],
    index: int,
    ev: Evaluation,
    attempt: str = "",
) -> None:
    """Durably record the evaluation of row ``index`` of ``batch``, the batch in flight.

    Raises:
        OSError: the record could not be written (disk full, read-only directory...);
            the caller must stop: the evaluation is not recorded.
    """
    rec = _record(batch, index, RESULT, attempt)
    rec.update(
        y=encode_array(ev.y),
        c=encode_array(ev.c),
        failed=bool(ev.failed),
        error=ev.error,
        seconds=encode_value(float(ev.seconds)),
    )
    _append_record(Path(run_dir) / JOURNAL, rec, durable=True)


def mark_journal(
    run_dir: str | os.PathLike,
    batch: dict[str, Any],
    indices: list[int],
    kind: str,
    attempt: str,
) -> None:
    """Record that rows ``indices`` of ``batch`` were ``"started"`` or ``"interrupted"``.

    Not fsynced: these lines must survive the death of this process (the kernel keeps
    them), not of the machine, where losing one only costs a retry.
    """
    path = Path(run_dir) / JOURNAL
    for i in indices:
        _append_record(path, _record(batch, i, kind, attempt), durable=False)


def _belongs(rec: Any, batch: dict[str, Any]) -> bool:
    """Whether a parsed journal line is a record of ``batch`` (its id and epoch)."""
    return (
        isinstance(rec, dict)
        and rec.get("epoch") == int(batch["epoch"])
        and rec.get("batch") == batch.get("id")
    )


def restart_journal(run_dir: str | os.PathLike, batch: dict[str, Any]) -> None:
    """Keep only ``batch``'s lines in the journal (its predecessors are checkpointed).

    The new journal replaces the old one by a rename, so a kill at any moment leaves
    one or the other, each holding every line of ``batch`` written so far.
    """
    path = Path(run_dir) / JOURNAL
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return
    keep, results = [], False
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if _belongs(rec, batch):
            keep.append(line + "\n")
            results = results or rec.get("kind") == RESULT
    if not keep:
        path.unlink(missing_ok=True)
    elif results:  # finished evaluations must stay on disk through a power cut too
        write_atomic(path, "".join(keep))
    else:  # "started" lines only need to outlive this process
        tmp = path.with_name(f".{JOURNAL}.{secrets.token_hex(6)}.tmp")
        try:
            tmp.write_text("".join(keep))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def read_journal(run_dir: str | os.PathLike, batch: dict[str, Any]) -> BatchJournal:
    """What the journal holds for ``batch`` (the checkpoint's batch in flight).

    A record counts only if it carries this batch's id and epoch, a row of the batch
    and exactly that row's point; anything else (a torn line, a record of another run
    or batch) is skipped.
    """
    out = BatchJournal()
    try:
        # A live run deletes its journal when it checkpoints the batch, perhaps just now.
        text = (Path(run_dir) / JOURNAL).read_text(errors="replace")
    except FileNotFoundError:
        return out
    epoch, batch_id = int(batch["epoch"]), batch.get("id")
    X = [[float(v) for v in row] for row in batch["X"]]
    # per attempt: rows it started, finished, and left when it stopped in order
    started: dict[Any, set[int]] = {}
    ended: dict[Any, set[int]] = {}
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # torn by a failed write
        if not isinstance(rec, dict) or rec.get("epoch") != epoch:
            continue  # an older batch's, deleted with it normally
        i = rec.get("index")
        if (
            rec.get("batch") != batch_id
            or isinstance(i, bool)
            or not isinstance(i, int)
            or not 0 <= i < len(X)
            or rec.get("x") != X[i]
        ):
            out.ignored += 1
            continue
        kind, attempt = rec.get("kind"), rec.get("attempt")
        if kind == STARTED:
            started.setdefault(attempt, set()).add(i)
        elif kind == INTERRUPTED:
            ended.setdefault(attempt, set()).add(i)
        elif kind == RESULT:
            try:
                ev = Evaluation(
                    np.asarray(rec["y"], dtype=float).reshape(-1),
                    np.asarray(rec["c"], dtype=float).reshape(-1),
                    bool(rec["failed"]),
                    rec["error"],
                    float(decode_value(rec["seconds"])),
                )
            except (KeyError, TypeError, ValueError):
                out.ignored += 1
                continue
            out.done.setdefault(i, ev)
            ended.setdefault(attempt, set()).add(i)
    for attempt, rows in started.items():
        in_flight = rows - ended.get(attempt, set())  # when that attempt died
        for i in in_flight - out.done.keys():
            out.crashes[i] = out.crashes.get(i, 0) + 1
            if len(in_flight) == 1:
                out.solo[i] = out.solo.get(i, 0) + 1
    return out
