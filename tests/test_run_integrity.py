"""A run directory never loses, repeats or misattributes an evaluation (issue 18).

Faults are injected the way a cluster user meets them: two runs started on one
directory, a journal write that fails (disk full), a journal whose last line was torn,
a point that kills the process (``os._exit``), corrupted or deleted checkpoints, and a
resume with settings that change what the run means.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.errors import SettingsError
from botorch_joint.persistence import CheckpointError, load_checkpoint, save_checkpoint
from botorch_joint.persistence import journal as journal_module
from botorch_joint.run_lock import RunDirectoryLockedError

HELPERS = Path(__file__).parent / "parallel"
sys.path.insert(0, str(HELPERS))
import bj_fault_helpers as h  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs fcntl and SIGKILL")

SETTINGS = dict(method="sobol", budget=14, batch_size=4, n_initial=4, seed=3)

RUN = """
import sys
sys.path.insert(0, {helpers!r})
import bj_fault_helpers as h
import botorch_joint as bj
bj.optimize(h.logged_problem(), run_dir={run_dir!r}, resume=True, progress=False,
            **{settings!r})
"""

# A run of fixed points of the faulty problem; its fifth point calls os._exit(3).
CRASH_MODES = [h.OK, h.OK, h.OK, h.OK, h.OK, h.EXIT, h.OK, h.OK, h.OK, h.OK]
CRASH_RUN = """
import sys
sys.path.insert(0, {helpers!r})
import bj_fault_helpers as h
import botorch_joint as bj
problem = h.faulty_problem()
X = h.fixed_run_points({modes!r})
bj.optimize(problem, budget=len(X), n_initial=4, batch_size=4, run_dir={run_dir!r},
            strategy=h.FixedPoints(problem, X), resume=True, progress=False, **{kwargs!r})
"""


def result_lines(run_dir: Path) -> list[dict]:
    """The journal's finished-evaluation records (not its markers or a torn line)."""
    try:  # the run deletes the journal whenever it checkpoints a batch
        text = (run_dir / "journal.jsonl").read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("kind", "result") == "result":
            out.append(rec)
    return out


def start_run(tmp_path: Path, delay: float) -> subprocess.Popen:
    env = dict(os.environ, BJ_TEST_DELAY=str(delay), BJ_TEST_LOG=str(tmp_path / "evaluated.log"))
    code = RUN.format(helpers=str(HELPERS), run_dir=str(tmp_path / "run"), settings=SETTINGS)
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True
    )


def wait_for(cond, proc: subprocess.Popen, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert proc.poll() is None, f"the run ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def killed_mid_batch(tmp_path: Path, delay: float = 0.2) -> Path:
    """A run SIGKILLed once a batch after the first has journaled one evaluation."""
    run_dir = tmp_path / "run"
    proc = start_run(tmp_path, delay)
    try:
        wait_for(
            lambda: any(r.get("epoch", 0) >= 1 for r in result_lines(run_dir)),
            proc,
            "a journaled evaluation of the second batch",
        )
    finally:
        kill(proc)
    return run_dir


def reference() -> bj.Result:
    """The same run, never interrupted (and not logged)."""
    log = os.environ.pop("BJ_TEST_LOG", None)
    try:
        return bj.optimize(h.logged_problem(), progress=False, **SETTINGS)
    finally:
        if log is not None:
            os.environ["BJ_TEST_LOG"] = log


def resume(run_dir: Path, **kw) -> bj.Result:
    return bj.optimize(
        h.logged_problem(), run_dir=run_dir, resume=True, progress=False, **{**SETTINGS, **kw}
    )


def assert_each_point_evaluated_once(log: Path, final: bj.Result) -> None:
    evaluated = h.read_log(str(log))
    assert len(evaluated) == len(final) == SETTINGS["budget"]
    assert len(np.unique(evaluated, axis=0)) == len(evaluated)


# ------------------------------------------------------------------- 1: lock
def test_a_second_run_on_the_same_directory_is_refused_while_the_first_runs(tmp_path, monkeypatch):
    # A requeued job started while the old one still runs: the second must not run.
    log = tmp_path / "evaluated.log"
    first = start_run(tmp_path, delay=1.0)
    second = None
    try:
        wait_for(lambda: (tmp_path / "run" / "checkpoint.json").exists(), first, "a checkpoint")
        second = start_run(tmp_path, delay=1.0)
        _, err = second.communicate(timeout=120)
        assert second.returncode != 0
        assert "RunDirectoryLockedError" in err
        assert f"pid {first.pid}" in err and socket.gethostname() in err
        assert first.poll() is None  # the holder is not disturbed
    finally:
        kill(first)
        if second is not None:
            kill(second)
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    final = resume(tmp_path / "run")
    assert_each_point_evaluated_once(log, final)
    np.testing.assert_array_equal(final.Y, reference().Y)


def test_the_lock_names_its_holder_and_dies_with_it(tmp_path, monkeypatch):
    log = tmp_path / "evaluated.log"
    proc = start_run(tmp_path, delay=0.2)
    try:
        wait_for(lambda: (tmp_path / "run" / "checkpoint.json").exists(), proc, "a checkpoint")
        with pytest.raises(RunDirectoryLockedError) as info:
            resume(tmp_path / "run")
        message = str(info.value)
        assert f"pid {proc.pid}" in message and socket.gethostname() in message
        assert "started" in message and str(tmp_path / "run") in message
    finally:
        kill(proc)  # SIGKILL: the operating system releases the lock
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    final = resume(tmp_path / "run")
    assert final.complete
    assert_each_point_evaluated_once(log, final)


def test_the_lock_is_released_when_a_run_ends_or_fails(tmp_path, toy_problem):
    run_dir = tmp_path / "run"
    bj.optimize(toy_problem, method="sobol", budget=4, batch_size=2, run_dir=run_dir)
    with pytest.raises(SettingsError):  # refused after taking the lock
        bj.optimize(
            toy_problem, method="sobol", budget=4, batch_size=2, run_dir=run_dir, resume=True,
            seed=1,
        )  # fmt: skip
    again = bj.optimize(
        toy_problem, method="sobol", budget=6, batch_size=2, run_dir=tmp_path / "other"
    )
    assert len(again) == 6
    bj.optimize(toy_problem, method="sobol", budget=4, batch_size=2, run_dir=run_dir, resume=True)


def test_a_foreign_journal_record_is_never_applied(tmp_path, monkeypatch):
    log = tmp_path / "evaluated.log"
    run_dir = killed_mid_batch(tmp_path)
    pre = bj.load_result(run_dir)
    pending = load_checkpoint(run_dir)[1]
    mine = result_lines(run_dir)
    assert mine
    done = {r["index"] for r in mine}
    free = [i for i in range(len(pending["X"])) if i not in done]
    assert free
    # Records another run wrote here: the same epoch and a free index, but the values
    # of another point (a copy of a genuine record moved to that index), and one with
    # the right point but from another batch.
    forged = []
    for i in free:
        rec = dict(mine[0], index=i, y=[9.0, 9.0], c=[1.0])
        forged.append(rec)
        if "x" in rec:
            other = dict(rec, x=pending["X"][i])
            other["batch"] = "another-run"
            forged.append(other)
    with open(run_dir / "journal.jsonl", "a") as fh:
        for rec in forged:
            fh.write(json.dumps(rec) + "\n")
    assert len(bj.load_result(run_dir)) == len(pre)  # nothing foreign is read
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    final = resume(run_dir)
    assert not np.any(final.Y == 9.0)
    ref = reference()
    np.testing.assert_array_equal(final.X, ref.X)
    np.testing.assert_array_equal(final.Y, ref.Y)


# ------------------------------------------------------ 2: failing journal writes
def _thread_pool():
    import concurrent.futures as cf

    return cf.ThreadPoolExecutor(max_workers=2)


@pytest.mark.parametrize("kind", ["serial", "process", "executor"])
def test_a_failing_journal_write_stops_the_run_and_loses_nothing(tmp_path, monkeypatch, kind):
    log = tmp_path / "evaluated.log"
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    run_dir = tmp_path / "run"
    real = journal_module._append_record
    results_written = []

    def disk_full_after_six(path, rec, durable):
        # the disk fills up after six finished evaluations were journaled
        if rec.get("kind", "result") == "result":
            if len(results_written) >= 6:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            results_written.append(rec)
        real(path, rec, durable)

    monkeypatch.setattr(journal_module, "_append_record", disk_full_after_six)
    pool = _thread_pool() if kind == "executor" else None
    evaluator = pool if kind == "executor" else kind
    try:
        with pytest.raises(OSError, match="No space left") as info:
            bj.optimize(
                h.logged_problem(),
                run_dir=run_dir,
                evaluator=evaluator,
                n_workers=2 if kind == "process" else None,
                progress=False,
                **SETTINGS,
            )
    finally:
        if pool is not None:
            pool.shutdown()
    assert "journal.jsonl" in str(info.value)
    # every evaluation that was reported as recorded is on disk
    on_disk = bj.load_result(run_dir)
    assert len(on_disk) == 6
    monkeypatch.setattr(journal_module, "_append_record", real)
    final = resume(run_dir)
    evaluated = h.read_log(str(log))
    for x in on_disk.X:  # what was recorded was not evaluated again
        assert np.sum(np.all(evaluated == x, axis=1)) == 1
    ref = reference()
    np.testing.assert_array_equal(final.X, ref.X)
    np.testing.assert_array_equal(final.Y, ref.Y)


# ------------------------------------------------------- 3: torn journal tail
def like(problem: bj.Problem, evaluate) -> bj.Problem:
    """The same problem (name, bounds, outputs) with another simulator."""
    return bj.Problem(
        problem.name,
        problem.parameters,
        problem.objective_names,
        problem.constraint_names,
        evaluate=evaluate,
        ref_point=problem.ref_point,
    )


class Crash(BaseException):
    """Stands in for the process dying (not an Exception: nothing may catch it)."""


def test_a_record_appended_after_a_torn_line_survives(tmp_path, monkeypatch):
    log = tmp_path / "evaluated.log"
    run_dir = killed_mid_batch(tmp_path)
    with open(run_dir / "journal.jsonl", "a") as fh:
        fh.write('{"kind": "result", "epoch": 1, "index": 3, "y": [0.1')  # disk full
    pre = bj.load_result(run_dir)
    n_logged = len(h.read_log(str(log)))

    # Resume, and crash again right after one more evaluation is journaled.
    calls = []

    def evaluate_then_crash(p):
        if calls:
            raise Crash
        calls.append(p)
        return h.logged_evaluate(p)

    crashing = like(h.logged_problem(), evaluate_then_crash)
    monkeypatch.setenv("BJ_TEST_LOG", str(log))
    with pytest.raises(Crash):
        bj.optimize(crashing, run_dir=run_dir, resume=True, progress=False, **SETTINGS)
    assert len(h.read_log(str(log))) == n_logged + 1
    middle = bj.load_result(run_dir)
    assert len(middle) == len(pre) + 1  # the record written after the torn line is read

    final = resume(run_dir)
    evaluated = h.read_log(str(log))
    assert len(np.unique(evaluated, axis=0)) == len(evaluated)  # nothing evaluated twice
    np.testing.assert_array_equal(final.Y, reference().Y)


# ------------------------------------------------------------ 4: crash loops
def crash_run(tmp_path: Path, **kwargs) -> subprocess.CompletedProcess:
    code = CRASH_RUN.format(
        helpers=str(HELPERS), modes=CRASH_MODES, run_dir=str(tmp_path / "run"), kwargs=kwargs
    )
    env = dict(os.environ, BJ_TEST_FAULTY_LOG=str(tmp_path / "evaluated.log"))
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def test_a_point_that_kills_the_run_twice_is_recorded_failed_and_the_run_goes_on(tmp_path):
    for attempt in range(2):  # the point's os._exit(3) takes the whole run down
        proc = crash_run(tmp_path)
        assert proc.returncode == 3, (attempt, proc.stderr[-3000:])
    proc = crash_run(tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = bj.load_result(tmp_path / "run")
    assert final.complete and len(final) == len(CRASH_MODES)
    crashed = CRASH_MODES.index(h.EXIT)
    assert final.failed.tolist() == [i == crashed for i in range(len(CRASH_MODES))]
    assert "RunCrashed" in final.errors[crashed] and "2 times" in final.errors[crashed]
    assert np.isnan(final.Y[crashed]).all() and not final.feasible[crashed]
    # every other point was evaluated exactly once, the crashing one never finished
    evaluated = h.read_log(str(tmp_path / "evaluated.log"))
    ok = np.delete(final.X, crashed, axis=0)
    assert len(evaluated) == len(ok)
    for x in ok:
        assert np.sum(np.all(evaluated == x, axis=1)) == 1


def test_max_crashes_sets_how_often_a_crashing_point_is_retried(tmp_path):
    for attempt in range(3):
        proc = crash_run(tmp_path, max_crashes=3)
        assert proc.returncode == 3, (attempt, proc.stderr[-3000:])
    proc = crash_run(tmp_path, max_crashes=3)
    assert proc.returncode == 0, proc.stderr[-3000:]
    final = bj.load_result(tmp_path / "run")
    assert "3 times" in final.errors[CRASH_MODES.index(h.EXIT)]
    assert int(final.failed.sum()) == 1


GROUP_CRASH_RUN = """
import concurrent.futures as cf, sys
sys.path.insert(0, {helpers!r})
import bj_fault_helpers as h
import botorch_joint as bj
problem = h.faulty_problem()
X = h.fixed_run_points({modes!r})
with cf.ThreadPoolExecutor(2) as pool:  # os._exit in a thread ends the whole process
    bj.optimize(problem, budget=len(X), n_initial=2, batch_size=4, run_dir={run_dir!r},
                strategy=h.FixedPoints(problem, X), resume=True, progress=False,
                evaluator=pool)
"""


def test_a_point_that_kills_the_run_beside_another_is_told_apart_from_it(tmp_path):
    # The killer dies with a slow, innocent point in flight. Both are retried together,
    # then one at a time: the innocent one finishes, the killer alone is failed.
    modes = [h.OK, h.OK, h.HANG, h.EXIT, h.OK, h.OK]
    code = GROUP_CRASH_RUN.format(helpers=str(HELPERS), modes=modes, run_dir=str(tmp_path / "run"))
    env = dict(os.environ, BJ_TEST_HANG="2", BJ_TEST_FAULTY_LOG=str(tmp_path / "evaluated.log"))
    codes = []
    for _ in range(5):  # resubmitted until it finishes
        proc = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
        )
        codes.append(proc.returncode)
        if proc.returncode == 0:
            break
    assert codes == [3, 3, 3, 0], proc.stderr[-3000:]
    final = bj.load_result(tmp_path / "run")
    assert final.failed.tolist() == [m == h.EXIT for m in modes]
    assert "1 of them with no other point running" in final.errors[modes.index(h.EXIT)]
    evaluated = h.read_log(str(tmp_path / "evaluated.log"))
    hang = final.X[modes.index(h.HANG)]
    assert np.sum(np.all(evaluated == hang, axis=1)) == 1  # finished once, alone


def test_interrupting_a_run_is_not_a_crash(tmp_path):
    # Ctrl-C three times while the same point runs: it is evaluated, not failed.
    problem = h.faulty_problem()
    X = h.fixed_run_points([h.OK] * 6)
    interrupts = []

    def interrupted(p):
        if p["x"] == X[4, 1] and len(interrupts) < 3:
            interrupts.append(p)
            raise KeyboardInterrupt
        return h.faulty_evaluate(p)

    problem = like(problem, interrupted)
    kw = dict(budget=6, n_initial=3, batch_size=3, run_dir=tmp_path / "run", progress=False)
    for _ in range(3):
        with pytest.raises(KeyboardInterrupt):
            bj.optimize(problem, strategy=h.FixedPoints(problem, X), resume=True, **kw)
    final = bj.optimize(problem, strategy=h.FixedPoints(problem, X), resume=True, **kw)
    assert not final.failed.any() and len(final) == 6


# --------------------------------------------------------- 6: checkpoints
@pytest.fixture
def finished_run(tmp_path, flaky_problem):
    run_dir = tmp_path / "run"
    bj.optimize(flaky_problem, method="sobol", budget=12, batch_size=4, run_dir=run_dir)
    return run_dir


def _edit(run_dir: Path, change) -> None:
    path = run_dir / "checkpoint.json"
    state = json.loads(path.read_text())
    change(state)
    path.write_text(json.dumps(state))


CORRUPTIONS = {
    "Y one row short": (lambda s: s.update(Y=s["Y"][:-1]), "'Y'"),
    "failed one row short": (lambda s: s.update(failed=s["failed"][:-1]), "'failed'"),
    "errors one row short": (lambda s: s.update(errors=s["errors"][:-1]), "'errors'"),
    "a missing field": (lambda s: s.pop("epoch"), "'epoch'"),
    "a row of the wrong width": (lambda s: s["X"][2].append(0.5), "'X'"),
    "text for numbers": (lambda s: s.update(C="lots"), "'C'"),
    "a pending batch of other points": (
        lambda s: s.update(pending={"epoch": 9, "X": [[0.5]]}),
        "'pending'",
    ),
    "names that are not strings": (lambda s: s.update(objective_names=[1, 2]), "'objective_names'"),
}


@pytest.mark.parametrize("case", list(CORRUPTIONS))
def test_an_inconsistent_checkpoint_is_refused_naming_file_and_field(
    finished_run, flaky_problem, case
):
    change, field = CORRUPTIONS[case]
    _edit(finished_run, change)
    path = str(finished_run / "checkpoint.json")
    with pytest.raises(CheckpointError) as info:
        bj.load_result(finished_run)
    assert path in str(info.value) and field in str(info.value)
    with pytest.raises(CheckpointError, match=field):
        bj.optimize(
            flaky_problem, method="sobol", budget=12, batch_size=4, run_dir=finished_run,
            resume=True,
        )  # fmt: skip


@pytest.mark.parametrize(
    "content, what",
    [
        (lambda text: text[: len(text) // 2], "truncated or not JSON"),
        (lambda text: b"\x89PNG\r\n\x1a\n\xff\xfe" + bytes(range(256)), "not UTF-8 text"),
        (lambda text: "", "empty"),
        (lambda text: "[1, 2, 3]", "not a JSON object"),
    ],
)
def test_a_truncated_or_binary_checkpoint_is_refused_naming_the_file(finished_run, content, what):
    path = finished_run / "checkpoint.json"
    new = content(path.read_text())
    path.write_bytes(new if isinstance(new, bytes) else new.encode())
    with pytest.raises(CheckpointError) as info:
        bj.load_result(finished_run)
    assert str(path) in str(info.value) and what in str(info.value)


def test_a_deleted_checkpoint_with_a_journal_does_not_restart_from_zero(tmp_path, monkeypatch):
    run_dir = killed_mid_batch(tmp_path)
    (run_dir / "checkpoint.json").unlink()
    with pytest.raises(CheckpointError, match="journal.jsonl") as info:
        resume(run_dir)
    assert "checkpoint.json" in str(info.value)
    with pytest.raises(CheckpointError, match="journal.jsonl"):
        bj.optimize(h.logged_problem(), run_dir=run_dir, progress=False, **SETTINGS)
    assert (run_dir / "journal.jsonl").exists()  # the evidence is kept


def test_checkpoint_and_journal_are_strict_json_and_read_back_exactly(tmp_path):
    def outputs(p):
        x = p["x"]
        if x > 0.7:
            raise RuntimeError("crashed")
        c2 = math.inf if x < 0.3 else (math.nan if x < 0.5 else x - 0.6)
        return {"f": x, "c1": -math.inf if x > 0.6 else 1.0, "c2": c2}

    problem = bj.Problem("nonfinite", {"x": (0.0, 1.0)}, ["f"], ["c1", "c2"], evaluate=outputs)
    run_dir = tmp_path / "run"
    result = bj.optimize(problem, method="sobol", budget=12, batch_size=4, run_dir=run_dir)
    assert result.failed.any() and np.isinf(result.C).any() and np.isnan(result.Y).any()

    def strict(token):
        raise AssertionError(f"checkpoint holds the non-JSON token {token}")

    text = (run_dir / "checkpoint.json").read_text()
    json.loads(text, parse_constant=strict)
    loaded = bj.load_result(run_dir)
    for name in ("X", "Y", "C", "failed", "epoch", "eval_seconds"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.errors == result.errors

    # non-finite values anywhere (the batch in flight, its info, the timings) round-trip
    pending = {
        "epoch": 3,
        "id": "b",
        "X": [[0.25]],
        "info": {"p": [math.nan, 0.5], "best": -math.inf, "text": "NaN", "none": None},
    }
    result.timings.append({"epoch": 3, "evaluation_seconds": math.nan})
    result.complete = False  # as while a batch is in flight
    save_checkpoint(run_dir, result, pending=pending)
    text = (run_dir / "checkpoint.json").read_text()
    json.loads(text, parse_constant=strict)
    again, back = load_checkpoint(run_dir)
    assert math.isnan(back["info"]["p"][0]) and back["info"]["p"][1] == 0.5
    assert back["info"]["best"] == -math.inf and back["info"]["text"] == "NaN"
    assert back["info"]["none"] is None
    assert math.isnan(again.timings[-1]["evaluation_seconds"])
    np.testing.assert_array_equal(again.C, result.C)

    # journal records are strict JSON too
    bad = {"epoch": 3, "id": "b", "X": [[0.9]]}
    save_checkpoint(run_dir, result, pending=bad)
    ev = problem.evaluate_point(np.array([0.9]))
    journal_module.append_journal(run_dir, bad, 0, ev)
    for line in (run_dir / "journal.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=strict)
    assert bj.load_result(run_dir).failed[-1]


# ----------------------------------------------------- 7: resume settings
def _toy(p: dict[str, float]) -> dict[str, float]:
    return {"f1": p["x"], "f2": 1.0 - p["x"] + p["y"], "c1": 0.5 - p["y"]}


@pytest.mark.parametrize(
    "change, listed",
    [
        (dict(parameters={"x": (0.0, 2.0), "y": (0.0, 1.0)}), "bounds"),
        (dict(parameters={"x": (0.0, 0.5), "y": (0.0, 1.0)}), "bounds"),
        (dict(sensitivity="fast"), "sensitivity"),
    ],
)
def test_resume_refuses_changes_that_alter_the_run(tmp_path, change, listed):
    def problem(parameters=None):
        return bj.Problem(
            "toy", parameters or {"x": (0.0, 1.0), "y": (0.0, 1.0)}, ["f1", "f2"], ["c1"],
            evaluate=_toy,
        )  # fmt: skip

    run_dir = tmp_path / "run"
    kw = dict(method="sobol", budget=8, batch_size=4, run_dir=run_dir)
    bj.optimize(problem(), **kw)
    p = problem(change.get("parameters"))
    sens = change.get("sensitivity", "sgrad")
    with pytest.raises(SettingsError) as info:
        bj.optimize(p, resume=True, sensitivity=sens, **kw)
    message = str(info.value)
    assert listed in message and "checkpoint.json" in message
    if listed == "bounds":
        assert "'x'" in message and "'y'" not in message  # only what changed is listed
