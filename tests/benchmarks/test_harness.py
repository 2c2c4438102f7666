"""The benchmark harness: the CI smoke sweep, its report, resumption, crash records, peers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import peers  # noqa: E402
from benchmarks import run as bench_run  # noqa: E402

RUN = str(ROOT / "benchmarks" / "run.py")
REPORT = str(ROOT / "benchmarks" / "report.py")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
        timeout=600,
    )


def _toy(name: str = "toy", evaluate=None) -> bj.Problem:
    def f(p: dict[str, float]) -> dict[str, float]:
        x, y = p["x"], p["y"]
        return {"f1": x, "f2": (1.0 - x) ** 2 + y, "c1": 0.5 - y}

    return bj.Problem(
        name,
        {"x": (0.0, 1.0), "y": (0.0, 2.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=evaluate or f,
        ref_point=[1.1, 2.1],
    )


def test_smoke_sweep_resume_and_report(tmp_path):
    out = tmp_path / "smoke"
    first = _cli(RUN, "--smoke", "--out", str(out), "--jobs", "2", "--progress-every", "5")
    assert first.returncode == 0, first.stdout + first.stderr
    sweep = json.loads((out / "sweep.json").read_text())
    problems, methods = sweep["problems"], sweep["methods"]
    assert len(problems) == 2 and "sobol" in methods
    if any(peers.peer_missing(p) is None for p in peers.PEERS):
        assert any(m in peers.PEERS for m in methods)
    for problem in problems:
        info = json.loads((out / "problems" / f"{problem}.json").read_text())
        assert info["ref_point"] is not None
        for method in methods:
            rec = json.loads((out / "records" / problem / method / "seed0.json").read_text())
            assert rec["status"] == "ok" and rec["complete"], rec.get("error")
            res = rec["result"]
            assert rec["n_evaluations"] == len(res["X"]) == 20
            # 10 initial points, then batches of 5
            assert res["epoch"] == [0] * 10 + [1] * 5 + [2] * 5
            assert len(res["feasible"]) == len(res["failed"]) == 20
            assert len(rec["hv_history"]) == 20
            assert np.all(np.diff(rec["hv_history"]) >= 0)
            t = rec["timing"]
            assert t["evaluation_seconds"] > 0 and t["wall_seconds"] > 0
            if method in peers.PEERS:
                assert t["search_seconds"] > 0
            assert rec["versions"]["numpy"] == np.__version__
            assert rec["machine"]["cpu_count"] >= 1
            assert not (out / "work" / problem / method / "seed0").exists()

    # A second sweep finds every run done and starts nothing.
    records = sorted((out / "records").rglob("*.json"))
    stamps = [p.stat().st_mtime_ns for p in records]
    again = _cli(RUN, "--smoke", "--out", str(out))
    assert again.returncode == 0, again.stdout + again.stderr
    n = len(problems) * len(methods)
    assert f"{n} already done, 0 to run" in again.stdout
    assert [p.stat().st_mtime_ns for p in records] == stamps

    # A different budget in the same directory is refused, not mixed in.
    other = _cli(RUN, "--out", str(out), "--problems", problems[0], "--methods", "sobol",
                 "--seeds", "0", "--budget", "30", "--dry-run")  # fmt: skip
    assert other.returncode == 0
    assert "made with other settings" in other.stdout and "budget: stored 20" in other.stdout

    rep = _cli(REPORT, str(out))
    assert rep.returncode == 0, rep.stdout + rep.stderr
    text = (out / "report" / "report.md").read_text()
    for method in methods:
        assert f"`{method}`" in text
    for problem in problems:
        assert f"### {problem}" in text
    assert "## Ranking across problems" in text
    for png in ("hv.png", "feasible.png", "compute.png"):
        data = (out / "report" / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    rows = (out / "report" / "summary.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + n


CRASHY = """
import os
import botorch_joint as bj

def _die(p):
    os._exit(3)  # a simulator that takes the whole process down

def _ok(p):
    return {"f1": p["x"], "f2": 1.0 - p["x"] + p["y"]}

crash = bj.Problem("crash", {"x": (0, 1), "y": (0, 1)}, ["f1", "f2"], evaluate=_die,
                   ref_point=[2.0, 2.0])
fine = bj.Problem("fine", {"x": (0, 1), "y": (0, 1)}, ["f1", "f2"], evaluate=_ok,
                  ref_point=[2.0, 2.0])
"""


def test_a_dying_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    (tmp_path / "crashy.py").write_text(CRASHY)
    out = tmp_path / "out"
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    res = _cli(RUN, "--problems", "crashy:crash", "crashy:fine", "--methods", "sobol",
               "--seeds", "0", "--budget", "6", "--batch-size", "3", "--jobs", "2",
               "--out", str(out), env=env)  # fmt: skip
    assert res.returncode == 2, res.stdout + res.stderr
    assert "1 runs succeeded, 1 failed" in res.stdout
    dead = json.loads((out / "records" / "crashy_crash" / "sobol" / "seed0.json").read_text())
    assert dead["status"] == "error" and dead["error"]["type"] == "WorkerDied"
    assert "code 3" in dead["error"]["message"]
    ok = json.loads((out / "records" / "crashy_fine" / "sobol" / "seed0.json").read_text())
    assert ok["status"] == "ok" and ok["n_evaluations"] == 6
    # The failure shows up in the report, it is not hidden.
    assert _cli(REPORT, str(out)).returncode == 0
    text = (out / "report" / "report.md").read_text()
    assert "Failed or unfinished runs" in text and "WorkerDied" in text


def _task(tmp_path: Path, method: str, options: dict | None = None) -> dict:
    paths = bench_run.task_paths(tmp_path, "weldedbeam", method, 0)
    return {
        "problem": "weldedbeam",
        "problem_options": {},
        "method": method,
        "kind": bench_run.method_kind(method),
        "seed": 0,
        "budget": 12,
        "batch_size": 4,
        "n_initial": 4,
        "initial_design": "slh",
        "sensitivity": None,
        "options": options or {},
        "threads": 1,
        **{k: str(v) for k, v in paths.items()},
    }


def test_execute_records_an_exception_with_its_traceback(tmp_path):
    task = _task(tmp_path, "nsga2", {"no_such_option": 1})
    rec = bench_run.execute(task, {"versions": {}, "machine": {}})
    assert rec["status"] == "error" and not rec["complete"]
    assert rec["error"]["type"] == "TypeError" and "no_such_option" in rec["error"]["message"]
    assert "Traceback" in rec["error"]["traceback"]
    stored = json.loads(Path(task["record"]).read_text())
    assert stored["status"] == "error"
    state, why = bench_run.record_state(Path(task["record"]), task)
    assert state == "todo" and "error" in why


def test_execute_resumes_an_interrupted_run(tmp_path):
    task = _task(tmp_path, "sobol")
    problem = bj.problems.get("weldedbeam")

    from botorch_joint.strategies import make_strategy

    inner = make_strategy("sobol", problem, budget=12, seed=0)

    class Interrupted(type(inner)):
        def propose(self, data, n, epoch):
            if epoch == 2:
                raise KeyboardInterrupt  # the machine went away mid-run
            return super().propose(data, n, epoch)

    strat = Interrupted(problem, 12, 0, design="sobol")
    with pytest.raises(KeyboardInterrupt):
        bj.optimize(problem, "sobol", budget=12, n_initial=4, batch_size=4, sensitivity=None,
                    run_dir=task["run_dir"], seed=0, strategy=strat, progress=False)  # fmt: skip
    partial = bj.load_result(task["run_dir"])
    assert len(partial) == 8
    rec = bench_run.execute(task, {"versions": {}, "machine": {}})
    assert rec["status"] == "ok" and rec["timing"]["resumed"]
    X = np.asarray(rec["result"]["X"])
    assert X.shape == (12, 4)
    np.testing.assert_array_equal(X[:8], partial.X)
    full = bj.optimize(problem, "sobol", budget=12, n_initial=4, batch_size=4, seed=0)
    np.testing.assert_allclose(X, full.X)


def test_a_run_is_claimed_by_one_sweep_at_a_time(tmp_path):
    lock = tmp_path / "work" / "p" / "m" / "seed0.lock"
    assert bench_run.acquire_lock(lock) is None
    assert bench_run.acquire_lock(lock) == f"pid {os.getpid()}"  # held by a live sweep
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    lock.write_text(f"{os.uname().nodename} {dead}")
    assert bench_run.acquire_lock(lock) is None  # a dead sweep's lock is taken over
    assert lock.read_text().split()[1] == str(os.getpid())


def test_execute_sets_aside_a_checkpoint_made_with_other_settings(tmp_path):
    task = _task(tmp_path, "sobol")
    problem = bj.problems.get("weldedbeam")
    bj.optimize(problem, "sobol", budget=8, n_initial=4, batch_size=4, seed=0,
                run_dir=task["run_dir"], progress=False)  # fmt: skip
    rec = bench_run.execute(task, {"versions": {}, "machine": {}})
    assert rec["status"] == "ok" and not rec["timing"]["resumed"]
    assert rec["n_evaluations"] == 12
    stale = list(Path(task["run_dir"]).parent.glob("seed0.stale-*"))
    assert len(stale) == 1 and (stale[0] / "checkpoint.json").exists()


@pytest.mark.parametrize("name", ["nsga2", "cma-es", "optuna-gp"])
def test_peer_runs_in_the_loop(name):
    if peers.peer_missing(name):
        pytest.skip(peers.peer_missing(name))
    problem = _toy()
    budget = 8 if name == "optuna-gp" else 20
    strat = peers.make_peer(name, problem, budget=budget, seed=1, batch_size=2)
    res = bj.optimize(problem, budget=budget, n_initial=4, batch_size=2, strategy=strat,
                      progress=False, seed=1)  # fmt: skip
    assert res.method == name and len(res) == budget
    assert np.all(res.X >= problem.lower) and np.all(res.X <= problem.upper)
    # the same initial design as the library's surrogate methods
    slh = problem.from_unit(bj.designs.sample("slh", 4, 2, 1))
    np.testing.assert_allclose(res.X[:4], slh)
    # every batch is new points, not copies of old ones
    assert len(np.unique(np.round(res.X, 9), axis=0)) == budget
    assert all(t["search_seconds"] > 0 for t in res.timings[1:])


def test_peers_resume_by_replaying_the_record(tmp_path):
    problem = _toy()
    for name in ("nsga2", "cma-es"):
        if peers.peer_missing(name):
            continue
        run_dir = tmp_path / name
        strat = peers.make_peer(name, problem, budget=16, seed=0, batch_size=4)
        calls = {"n": 0}
        ask = strat._ask

        def flaky_ask(n, ask=ask, calls=calls):
            calls["n"] += 1
            if calls["n"] == 2:
                raise KeyboardInterrupt
            return ask(n)

        strat._ask = flaky_ask
        with pytest.raises(KeyboardInterrupt):
            bj.optimize(problem, budget=16, n_initial=4, batch_size=4, strategy=strat,
                        run_dir=run_dir, progress=False)  # fmt: skip
        partial = bj.load_result(run_dir)
        assert len(partial) == 8
        fresh = peers.make_peer(name, problem, budget=16, seed=0, batch_size=4)
        res = bj.optimize(problem, budget=16, n_initial=4, batch_size=4, strategy=fresh,
                          run_dir=run_dir, resume=True, progress=False)  # fmt: skip
        assert len(res) == 16
        np.testing.assert_array_equal(res.X[:8], partial.X)
        assert fresh._told == 12  # the 8 recorded rows were replayed, then the new batch


def test_deb_fitness_orders_feasible_infeasible_failed():
    Y = np.array([[1.0, 1.0], [0.1, 0.1], [5.0, 5.0], [np.nan, np.nan], [0.0, 0.0]])
    C = np.array([[0.1], [-0.5], [0.0], [np.nan], [-0.1]])
    failed = np.array([False, False, False, True, False])
    f = peers.deb_fitness(Y, C, failed)
    # feasible by objective sum (2, 10), then infeasible by violation (0.1, 0.5), then failed
    assert list(np.argsort(f)) == [0, 2, 4, 1, 3]
    assert np.all(np.isfinite(f))


def test_unknown_peer_and_missing_package_messages(monkeypatch):
    with pytest.raises(KeyError, match="unknown peer"):
        peers.make_peer("nope", _toy(), budget=4)
    monkeypatch.setattr(peers.NSGA2Peer, "package", "surely_not_installed_pkg")
    msg = peers.peer_missing("nsga2")
    assert msg and "pip install surely_not_installed_pkg" in msg
    with pytest.raises(ImportError, match="surely_not_installed_pkg"):
        peers.make_peer("nsga2", _toy(), budget=4)


def test_the_harness_reads_the_method_registry(monkeypatch):
    from botorch_joint.strategies import get_method, register_method, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_method("my-sobol", "botorch_joint.strategies.space_filling:make_space_filling")
    methods = bench_run.all_methods()
    assert methods[: len(bj.strategies.METHODS)] == list(bj.strategies.METHODS)
    assert set(peers.PEERS) <= set(methods) and "my-sobol" in methods
    assert {bench_run.method_kind(p) for p in peers.PEERS} == {"peer"}
    assert bench_run.method_kind("my-sobol") == "custom"
    assert bench_run.method_kind("gpr") == "surrogate"
    assert get_method("nsga2").why_unavailable() == peers.peer_missing("nsga2")
    assert "unknown method 'nope'" in bench_run.method_missing("nope")
