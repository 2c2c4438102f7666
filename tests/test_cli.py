import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
    with pytest.raises(SystemExit, match="unknown problem 'nope'"):
        main(["run", "nope", "--method", "sobol"])


def _console_script() -> str:
    exe = Path(sys.executable).with_name("botorch-joint")
    return str(exe) if exe.exists() else (shutil.which("botorch-joint") or "")


def test_console_script_finds_module_in_working_directory(tmp_path):
    script = _console_script()
    if not script:
        pytest.skip("botorch-joint console script not installed")
    (tmp_path / "my_problem.py").write_text(PROBLEM_MODULE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for spec in ["my_problem:problem", "sub/other.py:problem"]:
        if spec.startswith("sub/"):
            (tmp_path / "sub").mkdir()
            (tmp_path / "sub" / "other.py").write_text(PROBLEM_MODULE)
        run = tmp_path / ("out-" + spec.split(":")[0].replace("/", "-"))
        args = ["run", spec, "--method", "sobol", "--budget", "6", "--batch-size", "3"]
        proc = subprocess.run(
            [script, *args, "--evaluator", "process", "--workers", "2", "--run-dir", str(run)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "6 evaluations" in proc.stdout
        assert len(pd.read_csv(run / "results.csv")) == 6


def test_module_attribute_errors_name_the_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notaproblem.py").write_text("x = 3\n")
    with pytest.raises(SystemExit, match="cannot load problem 'missing_mod:problem'"):
        main(["run", "missing_mod:problem", "--method", "sobol"])
    with pytest.raises(SystemExit, match="cannot load problem 'nofile.py:problem'"):
        main(["run", "nofile.py:problem", "--method", "sobol"])
    with pytest.raises(SystemExit, match="is a int, not a botorch_joint.Problem"):
        main(["run", "notaproblem:x", "--method", "sobol"])
