"""The benchmark report: runs of a smaller budget beside the main comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import report as bench_report  # noqa: E402

RUN = str(ROOT / "benchmarks" / "run.py")
REPORT = str(ROOT / "benchmarks" / "report.py")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=600,
    )


def _sweep(out: Path, method: str, seeds: list[str], budget: int) -> None:
    done = _cli(RUN, "--problems", "weldedbeam", "--methods", method, "--seeds", *seeds,
                "--budget", str(budget), "--batch-size", "5", "--n-initial", "10",
                "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_smaller_budget_is_compared_with_the_main_runs_first_evaluations(tmp_path):
    main, short = tmp_path / "main", tmp_path / "short"
    _sweep(main, "sobol", ["0", "1"], 30)
    _sweep(short, "mc", ["1"], 20)

    rep = _cli(REPORT, str(main), "--short", str(short))
    assert rep.returncode == 0, rep.stdout + rep.stderr
    text = (main / "report" / "report.md").read_text()
    assert f"## At a smaller budget: `{short}`" in text
    matrix = text.split("## Final normalised HV")[1].split("\n## ")[0]
    assert "| weldedbeam | **" in matrix and "(2)" in matrix  # one method, two seeds: the best
    section = text.split("## At a smaller budget")[1].split("\n## ")[0]
    assert "### weldedbeam, N = 20" in section
    rows = {line.split("|")[1].strip(): line for line in section.splitlines() if "| `" in line}
    assert set(rows) == {"`sobol`", "`mc`"}

    # the main runs are read at 20 evaluations, normalised like the main tables
    max_hv = json.loads((main / "problems" / "weldedbeam.json").read_text())["max_hv"]
    hv = {
        s: json.loads((main / "records/weldedbeam/sobol" / f"seed{s}.json").read_text())[
            "hv_history"
        ][19]
        / max_hv
        for s in (0, 1)
    }
    cells = [c.strip() for c in rows["`sobol`"].split("|")[1:-1]]
    assert cells[1] == f"{hv[1]:.3f} [{hv[1]:.3f}, {hv[1]:.3f}] (1)"  # seed 1 only
    both = np.array([hv[0], hv[1]])
    assert cells[2] == f"{np.median(both):.3f} [{both.min():.3f}, {both.max():.3f}] (2)"
    mc = json.loads((short / "records/weldedbeam/mc/seed1.json").read_text())["hv_history"]
    assert [c.strip() for c in rows["`mc`"].split("|")[1:-1]][1].startswith(
        f"{mc[-1] / max_hv:.3f}"
    )


def test_short_dir_without_records_is_a_clear_error(tmp_path):
    main = tmp_path / "main"
    _sweep(main, "sobol", ["0"], 20)
    rep = _cli(REPORT, str(main), "--short", str(tmp_path / "nothing"))
    assert rep.returncode == 1
    assert "no records under" in rep.stderr and "--short" in rep.stderr
    assert "Traceback" not in rep.stderr
    assert bench_report.short_budget_section({}, tmp_path / "nothing")[-1].startswith("No finished")


def test_runs_of_a_larger_budget_join_at_the_main_budget(tmp_path):
    main, more = tmp_path / "main", tmp_path / "more"
    _sweep(main, "sobol", ["0"], 20)
    _sweep(more, "mc", ["0"], 30)

    rep = _cli(REPORT, str(main), "--also", str(more), "--budget", "20")
    assert rep.returncode == 0, rep.stdout + rep.stderr
    text = (main / "report" / "report.md").read_text()
    assert (
        "read at its first 20 evaluations (runs of a larger budget: `mc` on `weldedbeam`)" in text
    )
    max_hv = json.loads((main / "problems" / "weldedbeam.json").read_text())["max_hv"]
    rec = json.loads((more / "records/weldedbeam/mc/seed0.json").read_text())
    at_20 = rec["hv_history"][19] / max_hv
    matrix = text.split("## Final normalised HV")[1].split("\n## ")[0]
    row = next(line for line in matrix.splitlines() if line.startswith("| weldedbeam"))
    assert f"{at_20:.3f} (1)" in row

    # the kept epochs' seconds only
    run = bench_report.truncate(bench_report._to_run(rec), 20)
    assert len(run.epoch) == 20 and len(run.hv) == 20
    kept = {int(e) for e in set(run.epoch)}
    for key in ("evaluation_seconds", "propose_seconds"):
        kept_sum = sum(t[key] for t in rec["result"]["timings"] if t["epoch"] in kept)
        assert run.timing[key] == kept_sum
    assert 0 < run.timing["evaluation_seconds"] < rec["timing"]["evaluation_seconds"]


def test_report_refuses_a_budget_below_one(tmp_path):
    main = tmp_path / "main"
    _sweep(main, "sobol", ["0"], 20)
    rep = _cli(REPORT, str(main), "--budget", "0")
    assert rep.returncode == 1 and "--budget" in rep.stderr
