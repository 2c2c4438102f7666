"""A run directory on disk: the checkpoint, the journal, and loading a run back.

A run directory holds ``checkpoint.json``, rewritten atomically as every batch starts
(:mod:`~botorch_joint.persistence.checkpoint`), and ``journal.jsonl``, to which each
evaluation of the batch in flight is appended and fsynced the moment it finishes
(:mod:`~botorch_joint.persistence.journal`). Together they lose no finished evaluation
whenever the process is killed, and a record is only ever applied to the point it was
computed for. Both files are strict JSON. Writes that must never be seen half done go
through :func:`~botorch_joint.persistence.atomic.write_atomic`. The lock that keeps a
second run out of the directory is :mod:`botorch_joint.run_lock`.

The record itself, :class:`~botorch_joint.result.Result`, and its JSON form are in
:mod:`botorch_joint.result`.
"""

from __future__ import annotations

from botorch_joint.persistence.atomic import write_atomic
from botorch_joint.persistence.checkpoint import (
    CHECKPOINT,
    CheckpointError,
    check_checkpoint,
    load_checkpoint,
    load_result,
    save_checkpoint,
)
from botorch_joint.persistence.journal import (
    INTERRUPTED,
    JOURNAL,
    RESULT,
    STARTED,
    BatchJournal,
    append_journal,
    batch_id,
    mark_journal,
    read_journal,
    restart_journal,
)

__all__ = [
    "CHECKPOINT",
    "INTERRUPTED",
    "JOURNAL",
    "RESULT",
    "STARTED",
    "BatchJournal",
    "CheckpointError",
    "append_journal",
    "batch_id",
    "check_checkpoint",
    "load_checkpoint",
    "load_result",
    "mark_journal",
    "read_journal",
    "restart_journal",
    "save_checkpoint",
    "write_atomic",
]
