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
