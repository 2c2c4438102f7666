"""Checkpoint and resume: a run killed with SIGKILL mid-batch loses and repeats nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj

HELPERS = Path(__file__).parent / "parallel"
sys.path.insert(0, str(HELPERS))
import bj_fault_helpers as h  # noqa: E402

SETTINGS = dict(method="sobol", budget=14, batch_size=4, n_initial=4, seed=3)

RUN = """
import sys
sys.path.insert(0, {helpers!r})
import bj_fault_helpers as h
import botorch_joint as bj
bj.optimize(h.logged_problem(), run_dir={run_dir!r}, evaluator={evaluator!r}, n_workers=2,
            progress=False, **{settings!r})
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")


def journal_epochs(run_dir: Path) -> list[int]:
    """Epochs of the finished evaluations in the journal (not its "started" lines)."""
    try:  # the run deletes the journal whenever it checkpoints a batch
        text = (run_dir / "journal.jsonl").read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
            if rec.get("kind", "result") == "result":
                out.append(int(rec["epoch"]))
        except (ValueError, KeyError, AttributeError):
            pass  # a line being written
    return out


def start_and_kill(tmp_path: Path, evaluator: str, delay: float, min_lines: int) -> Path:
    """Start a run in a subprocess and SIGKILL it once a later batch is partly journaled."""
    run_dir, log = tmp_path / "run", tmp_path / "evaluated.log"
    env = dict(os.environ, BJ_TEST_DELAY=str(delay), BJ_TEST_LOG=str(log))
    code = RUN.format(
        helpers=str(HELPERS), run_dir=str(run_dir), evaluator=evaluator, settings=SETTINGS
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            epochs = journal_epochs(run_dir)
            later = [e for e in epochs if e >= 1]
            if later and later.count(later[-1]) >= min_lines:
                break
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.005)
        else:
            raise AssertionError("the run never reached a second batch")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return run_dir


def reference_run() -> bj.Result:
    return bj.optimize(h.logged_problem(), progress=False, **SETTINGS)


def check_resumed(pre: bj.Result, final: bj.Result) -> None:
    """Every evaluation saved before the kill is in ``final``, unchanged."""
    assert len(final) == SETTINGS["budget"] and final.complete
    for i in range(len(pre)):
        match = np.flatnonzero(np.all(final.X == pre.X[i], axis=1))
        assert len(match) == 1, f"pre-kill row {i} appears {len(match)} times"
        j = match[0]
        np.testing.assert_array_equal(final.Y[j], pre.Y[i])
        np.testing.assert_array_equal(final.C[j], pre.C[i])
        assert final.failed[j] == pre.failed[i] and final.epoch[j] == pre.epoch[i]
        assert final.eval_seconds[j] == pre.eval_seconds[i]  # the very same record
    # completed batches keep their order
    n_done = int(np.sum(pre.epoch < pre.epoch.max()))
    np.testing.assert_array_equal(final.X[:n_done], pre.X[:n_done])


def test_sigkill_mid_batch_then_resume_serial(tmp_path, monkeypatch):
    run_dir = start_and_kill(tmp_path, "serial", delay=0.4, min_lines=2)
    pre = bj.load_result(run_dir)
    state = json.loads((run_dir / "checkpoint.json").read_text())
    assert state["pending"] is not None  # killed mid-batch
    assert 0 < len(pre) < SETTINGS["budget"] and len(pre) % SETTINGS["batch_size"] != 0
    log = tmp_path / "evaluated.log"
    # the evaluation in progress when killed never finished; everything finished is saved
    assert len(h.read_log(str(log))) == len(pre)

    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    monkeypatch.setenv("BJ_TEST_DELAY", "0")
    final = bj.optimize(
        h.logged_problem(), run_dir=run_dir, resume=True, progress=False, **SETTINGS
    )
    check_resumed(pre, final)
    evaluated = h.read_log(str(log))
    assert len(evaluated) == SETTINGS["budget"]  # each point evaluated exactly once...
    assert len(np.unique(evaluated, axis=0)) == len(evaluated)  # ...and none twice
    # the same seed stream: identical to a run that was never interrupted
    monkeypatch.delenv("BJ_TEST_LOG")
    ref = reference_run()
    np.testing.assert_array_equal(final.X, ref.X)
    np.testing.assert_array_equal(final.Y, ref.Y)
    np.testing.assert_array_equal(final.epoch, ref.epoch)
    assert bj.load_result(run_dir).complete


def test_sigkill_mid_batch_then_resume_process_pool(tmp_path, monkeypatch):
    run_dir = start_and_kill(tmp_path, "process", delay=0.3, min_lines=1)
    log = tmp_path / "evaluated.log"
    logged_at_kill = len(h.read_log(str(log)))
    time.sleep(1.0)  # workers mid-evaluation would log within 0.3 s if they outlived the run
    assert len(h.read_log(str(log))) == logged_at_kill, "workers outlived the killed run"
    pre = bj.load_result(run_dir)
    assert 0 < len(pre) < SETTINGS["budget"]

    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    monkeypatch.setenv("BJ_TEST_DELAY", "0")
    final = bj.optimize(
        h.logged_problem(),
        run_dir=run_dir,
        resume=True,
        evaluator="process",
        n_workers=2,
        progress=False,
        **SETTINGS,
    )
    check_resumed(pre, final)
    evaluated = h.read_log(str(log))
    # no saved evaluation was repeated; every point of the run was evaluated
    for x in pre.X:
        assert np.sum(np.all(evaluated == x, axis=1)) == 1
    for x in final.X:
        assert np.any(np.all(evaluated == x, axis=1))
    ref = reference_run()
    np.testing.assert_array_equal(final.X, ref.X)
    np.testing.assert_array_equal(final.Y, ref.Y)


def test_resume_of_a_finished_run_evaluates_nothing(tmp_path, monkeypatch):
    log = tmp_path / "evaluated.log"
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    run_dir = tmp_path / "run"
    first = bj.optimize(h.logged_problem(), run_dir=run_dir, progress=False, **SETTINGS)
    n = len(h.read_log(str(log)))
    again = bj.optimize(
        h.logged_problem(), run_dir=run_dir, resume=True, progress=False, **SETTINGS
    )
    assert len(h.read_log(str(log))) == n == SETTINGS["budget"]
    np.testing.assert_array_equal(again.X, first.X)
    np.testing.assert_array_equal(again.Y, first.Y)


def test_a_torn_journal_line_is_ignored(tmp_path):
    run_dir = start_and_kill(tmp_path, "serial", delay=0.2, min_lines=1)
    with open(run_dir / "journal.jsonl", "a") as fh:
        fh.write('{"epoch": 1, "index": 3, "y": [0.1')  # died mid-write
    pre = bj.load_result(run_dir)
    final = bj.optimize(
        h.logged_problem(), run_dir=run_dir, resume=True, progress=False, **SETTINGS
    )
    check_resumed(pre, final)
