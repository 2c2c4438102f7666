"""The HPC regime: the harness's per-proposal cap and the report's HPC section."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report as bench_report  # noqa: E402
from benchmarks import run as bench_run  # noqa: E402
from botorch_joint.strategies.base import Proposal, Strategy  # noqa: E402


class _Sleepy(Strategy):
    """Sobol points, each proposal sleeping ``step * epoch`` seconds first."""

    name = "sleepy"

    def __init__(self, problem: bj.Problem, budget: int, seed: int = 0, step: float = 0.2):
        super().__init__(problem, budget, seed)
        self.step = step

    def initial(self, n: int) -> np.ndarray:
        return self.problem.from_unit(bj.designs.sample("sobol", n, self.problem.dim, self.seed))

    def propose(self, data, n: int, epoch: int) -> Proposal:
        time.sleep(self.step * epoch)
        rng = np.random.default_rng([self.seed, epoch])
        return Proposal(self.problem.from_unit(rng.random((n, self.problem.dim))))


def _sleepy_factory(problem, *, method, budget, seed, initial_design, sensitivity, batch_size,
                    **options):  # fmt: skip
    return _Sleepy(problem, budget, seed, **options)


def _task(out: Path, method: str, cap: float | None, budget: int = 40) -> dict:
    paths = bench_run.task_paths(out, "weldedbeam", method, 0)
    return {
        "problem": "weldedbeam",
        "problem_options": {},
        "method": method,
        "kind": "custom",
        "seed": 0,
        "budget": budget,
        "batch_size": 4,
        "n_initial": 4,
        "initial_design": "slh",
        "sensitivity": None,
        "options": {},
        "proposal_cap": cap,
        "threads": 1,
        **{k: str(v) for k, v in paths.items()},
    }


@pytest.fixture
def sleepy(monkeypatch):
    from botorch_joint.strategies import register_method, registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_method("sleepy", _sleepy_factory)
    return "sleepy"


def test_the_cap_stops_a_run_and_the_record_says_so(tmp_path, sleepy):
    # proposals sleep 0.2, 0.4, 0.6 s...: the third one (epoch 3, at n = 4 + 2 * 4) is
    # interrupted at the cap of 0.5 s and its points are not evaluated
    task = _task(tmp_path, sleepy, cap=0.5)
    t0 = time.perf_counter()
    rec = bench_run.execute(task, {"versions": {}, "machine": {}})
    assert time.perf_counter() - t0 < 10
    assert rec["status"] == "ok" and rec["complete"], rec.get("error")
    assert rec["stopped"] == bench_run.STOPPED_BY_CAP == "proposal cap"
    assert rec["stopped_at_n"] == 12 and rec["stopped_epoch"] == 3
    assert rec["stopped_how"] == "interrupted"
    assert 0.5 <= rec["stopped_proposal_seconds"] < 0.59  # cut at the cap, not at 0.6 s
    assert rec["n_evaluations"] == 12 and len(rec["result"]["X"]) == 12
    assert rec["result"]["epoch"] == [0] * 4 + [1] * 4 + [2] * 4
    assert len(rec["hv_history"]) == 12  # the history up to the stop is kept
    assert rec["settings"]["proposal_cap"] == 0.5
    assert [t["epoch"] for t in rec["result"]["timings"]] == [0, 1, 2]
    assert not Path(task["run_dir"]).exists()  # the record holds everything
    # complete: a resumed sweep does not run it again; another cap is another experiment
    assert bench_run.record_state(Path(task["record"]), task) == ("done", "")
    state, why = bench_run.record_state(Path(task["record"]), {**task, "proposal_cap": None})
    assert state == "conflict" and "proposal_cap: stored 0.5, asked None" in why
    assert "STOPPED by the proposal cap at n = 12" in bench_run._record_summary(
        Path(task["record"])
    )


def test_a_run_within_the_cap_spends_its_budget(tmp_path, sleepy):
    task = _task(tmp_path, sleepy, cap=5.0, budget=12)
    rec = bench_run.execute(task, {"versions": {}, "machine": {}})
    assert rec["status"] == "ok" and rec["complete"]
    assert rec["stopped"] is None and rec["stopped_at_n"] is None
    assert rec["n_evaluations"] == 12
    # the same points as without the harness's wrapper
    res = bj.optimize(bj.problems.get("weldedbeam"), "sleepy", budget=12, n_initial=4,
                      batch_size=4, sensitivity=None, progress=False)  # fmt: skip
    np.testing.assert_allclose(np.asarray(rec["result"]["X"]), res.X)


def test_without_an_alarm_the_finished_proposal_is_judged():
    problem = bj.problems.get("weldedbeam")
    data = bj.Result.empty(problem)
    slow = bench_run.CappedStrategy(_Sleepy(problem, 20, step=0.15), cap=0.1, name="sleepy")
    fast = bench_run.CappedStrategy(_Sleepy(problem, 20, step=0.0), cap=0.1, name="sleepy")
    caught: dict = {}

    def in_a_thread() -> None:  # SIGALRM cannot interrupt a thread: judged at the end
        caught["fast"] = fast.propose(data, 3, 1)
        try:
            slow.propose(data, 3, 1)
        except bench_run.ProposalCapReached as exc:
            caught["slow"] = exc

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert caught["fast"].X.shape == (3, problem.dim) and fast.stop is None
    assert "over the cap of 0.1 s" in str(caught["slow"])
    assert slow.stop is not None and slow.stop["how"] == "finished after the cap"
    assert slow.stop["seconds"] >= 0.15 and slow.stop["n"] == 0
    assert not isinstance(caught["slow"], Exception)  # no `except Exception` swallows it
    with pytest.raises(ValueError, match="positive"):
        bench_run.CappedStrategy(_Sleepy(problem, 20), cap=0, name="sleepy")


def test_the_cli_interrupts_a_gp_proposal_in_its_worker(tmp_path):
    out = tmp_path / "out"
    res = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--problems", "weldedbeam",
         "--methods", "gpr", "--seeds", "0", "--budget", "12", "--batch-size", "4",
         "--n-initial", "4", "--sensitivity", "none", "--proposal-cap", "0.05",
         "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "proposal cap 0.05 s" in res.stdout and "STOPPED by the proposal cap" in res.stdout
    rec = json.loads((out / "records" / "weldedbeam" / "gpr" / "seed0.json").read_text())
    assert rec["status"] == "ok" and rec["complete"] and rec["stopped"] == "proposal cap"
    assert rec["stopped_at_n"] == 4 and rec["stopped_how"] == "interrupted"
    assert json.loads((out / "sweep.json").read_text())["proposal_cap"] == 0.05
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"),
                          "--proposal-cap", "-1", "--dry-run", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert bad.returncode != 0 and "--proposal-cap" in bad.stderr


# ------------------------------------------------------------------ the report
def test_loglog_slope_of_a_power_law():
    n = np.arange(100, 2000, 100, dtype=float)
    fit = bench_report.loglog_slope(np.tile(n, 3), np.tile(2e-7 * n**3, 3))
    assert fit is not None
    assert fit.slope == pytest.approx(3.0, abs=1e-9)
    assert fit.intercept == pytest.approx(np.log(2e-7))
    assert fit.from_n == 200 and fit.n_max == 1900 and fit.points == 3 * 18
    np.testing.assert_allclose(fit.seconds(n), 2e-7 * n**3)
    # below n = 200 the proposals cost a constant overhead: left out of the fit
    secs = np.where(n < 200, 50.0, 1e-6 * n**2)
    assert bench_report.loglog_slope(n, secs).slope == pytest.approx(2.0)
    # too few n >= 200: every point is used
    small = np.array([20.0, 40.0, 80.0, 200.0])
    fit = bench_report.loglog_slope(small, 3 * small**1.5)
    assert fit.slope == pytest.approx(1.5) and fit.from_n == 20 and fit.points == 4
    assert bench_report.loglog_slope([300.0, 300.0], [1.0, 2.0]) is None
    assert bench_report.loglog_slope([], []) is None


def _record(method: str, seed: int, budget: int, stop: int | None, a: float) -> dict:
    """A run of ``budget`` on a 2-objective toy in batches of 100 after 100 initial points,
    proposals costing ``a * n**3`` seconds; stopped by the cap at ``stop`` if given."""
    n = budget if stop is None else stop
    rng = np.random.default_rng(seed)
    epoch = np.repeat(np.arange(n // 100), 100)
    Y = rng.random((n, 2))
    hv = np.minimum(1.0, 0.2 + 0.8 * np.arange(1, n + 1) / 2000) * (0.9 + 0.02 * (seed % 5))
    timings = [
        {"epoch": int(e), "n": 100, "evaluation_seconds": 1.0, "train_seconds": 0.0,
         "search_seconds": 0.0, "propose_seconds": 0.01 if e == 0 else a * (100.0 * e) ** 3}
        for e in range(n // 100)
    ]  # fmt: skip
    result = {
        "problem_name": "toy", "parameter_names": ["x", "y"],
        "objective_names": ["f1", "f2"], "constraint_names": [],
        "X": rng.random((n, 2)).tolist(), "Y": Y.tolist(), "C": [[] for _ in range(n)],
        "failed": [False] * n, "feasible": [True] * n, "epoch": epoch.tolist(),
        "errors": [None] * n, "eval_seconds": None, "ref_point": [1.0, 1.0], "max_hv": 1.0,
        "method": method, "settings": {}, "timings": timings, "complete": stop is None,
    }  # fmt: skip
    rec = {
        "format": bench_run.RECORD_FORMAT, "problem": "toy", "problem_options": {},
        "method": method, "kind": "surrogate", "seed": seed,
        "settings": {"budget": budget, "batch_size": 100, "n_initial": 100,
                     "initial_design": "slh", "sensitivity": None, "options": {},
                     "proposal_cap": 600.0, "threads": 1},
        "result": result, "hv_history": hv.tolist(), "n_evaluations": n,
        "timing": {"evaluation_seconds": 1.0, "train_seconds": 0.0, "search_seconds": 0.0,
                   "propose_seconds": sum(t["propose_seconds"] for t in timings),
                   "other_proposal_seconds": 0.0, "wall_seconds": 1.0},
        "status": "ok", "complete": True, "stopped": None, "stopped_at_n": None,
    }  # fmt: skip
    if stop is not None:
        rec |= {"stopped": "proposal cap", "stopped_at_n": stop, "stopped_epoch": stop // 100,
                "stopped_proposal_seconds": 600.2, "stopped_how": "interrupted"}  # fmt: skip
    return rec


def _write(out: Path, recs: list[dict]) -> None:
    for rec in recs:
        path = out / "records" / rec["problem"] / rec["method"] / f"seed{rec['seed']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rec))


def test_the_hpc_section_renders_from_records(tmp_path):
    out = tmp_path / "hpc"
    # gpr: proposals cubic in n, stopped by the cap at n = 900 and 1100 on two seeds of
    # three; c+o-ftt: linear and cheap, spends the budget on every seed
    recs = [_record("c+o-ftt", s, 1200, None, 0.0) for s in (10, 11, 12)]
    for r in recs:
        for t in r["result"]["timings"][1:]:
            t["propose_seconds"] = 0.05 * 100 * t["epoch"]  # 0.05 s * n
    recs += [_record("gpr", 10, 1200, 900, 2e-7), _record("gpr", 11, 1200, 1100, 2e-7)]
    recs += [_record("gpr", 12, 1200, None, 2e-7)]
    _write(out, recs)

    runs, bad, infos = bench_report.load(out)
    assert len(runs) == 6 and not bad
    data = bench_report.group(runs, infos)
    assert bench_report.hpc_problems(data) == ["toy"]
    st = bench_report.hpc_stats(data["toy"], "gpr")
    assert [n for _, n in st["stops"]] == [900, 1100, None]
    assert st["fit"].slope == pytest.approx(3.0) and st["fit"].from_n == 200
    assert st["cap"] == 600.0
    # a stopped seed's proposal time includes the proposal the cap stopped
    n, secs = bench_report.proposal_points(runs[3])
    assert list(n) == [100.0 * e for e in range(1, 9)]
    assert st["proposal_per_seed"][0] == pytest.approx(secs.sum() + 600.2)
    assert st["proposal_total"][0] == pytest.approx(np.median(st["proposal_per_seed"]))
    t, hv = bench_report.cumulative_proposal(runs[3])
    assert len(t) == 9 + 1 and t[-1] - t[-2] == pytest.approx(600.2) and hv[-1] == hv[-2]
    ftt = bench_report.hpc_stats(data["toy"], "c+o-ftt")
    assert ftt["fit"].slope == pytest.approx(1.0)

    assert bench_report.main([str(out)]) == 0
    text = (out / "report" / "report.md").read_text()
    assert "## HPC regime" in text and "### toy (HPC regime)" in text
    assert "cap of 600 s per proposal" in text
    ftt_row = [line for line in text.splitlines() if "budget reached" in line]
    assert len(ftt_row) == 1 and ftt_row[0].startswith("| `c+o-ftt` | 3 | budget reached |")
    assert ftt_row[0].endswith("| 1.00 (200-1100, 30 pts) |")
    gpr_row = [line for line in text.splitlines() if "| 900, 1100, budget |" in line]
    assert len(gpr_row) == 1 and gpr_row[0].startswith("| `gpr` | 3 |")
    assert gpr_row[0].endswith("| 3.00 (200-1100, 26 pts) |")
    for png in ("hpc_hv.png", "hpc_hv_time.png", "hpc_proposal_seconds.png"):
        blob = (out / "report" / png).read_bytes()
        assert blob[:8] == b"\x89PNG\r\n\x1a\n" and len(blob) > 5000
        assert f"]({png})" in text
    csv = (out / "report" / "summary.csv").read_text().splitlines()
    assert csv[0].endswith(",stopped_at_n") and csv[4].endswith(",900")

    # off on request; auto leaves out a small sweep without stops
    assert bench_report.main([str(out), "--hpc", "off"]) == 0
    assert "HPC regime" not in (out / "report" / "report.md").read_text()
    small = tmp_path / "small"
    _write(small, [_record("gpr", 0, 300, None, 1e-6)])
    assert bench_report.main([str(small)]) == 0
    assert "HPC regime" not in (small / "report" / "report.md").read_text()
    assert bench_report.main([str(small), "--hpc", "on"]) == 0
    assert "### toy (HPC regime)" in (small / "report" / "report.md").read_text()
