import subprocess
import sys

import pandas as pd

import botorch_joint as bj
from botorch_joint.cli import main

PROBLEM_MODULE = """
import botorch_joint as bj

def _f(p):
    return {"f1": p["a"], "f2": 1 - p["a"] + p["b"], "ok": 0.8 - p["b"]}

problem = bj.Problem("mine", {"a": (0, 1), "b": (0, 1)}, ["f1", "f2"], ["ok"],
                     evaluate=_f, ref_point=[1.1, 2.1])
"""


def test_run_module_attribute(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_problem.py").write_text(PROBLEM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    run = tmp_path / "out"
    code = main(
        [
            "run",
            "my_problem:problem",
            "--method",
            "sobol",
            "--budget",
            "12",
            "--batch-size",
            "4",
            "--run-dir",
            str(run),
            "--no-progress",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "12 evaluations" in out and "feasible" in out and "hypervolume" in out
    df = pd.read_csv(run / "results.csv")
    assert len(df) == 12 and {"a", "b", "f1", "f2", "ok", "epoch"} <= set(df.columns)
    assert (run / "hv.png").stat().st_size > 1000
    assert len(bj.load_result(run)) == 12


def test_console_script_builtin(tmp_path):
    exe = [sys.executable, "-m", "botorch_joint.cli"]
    run = tmp_path / "c2"
    proc = subprocess.run(
        exe
        + [
            "run",
            "c2dtlz2",
            "--method",
            "lh",
            "--budget",
            "10",
            "--batch-size",
            "5",
            "--run-dir",
            str(run),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "c2dtlz2 / lh: 10 evaluations" in proc.stdout
    assert (run / "results.csv").exists()


def test_unknown_problem_message(capsys):
    import pytest

    with pytest.raises(SystemExit, match="unknown problem 'nope'"):
        main(["run", "nope", "--method", "sobol"])
