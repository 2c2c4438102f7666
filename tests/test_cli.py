import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import botorch_joint as bj
from botorch_joint.cli import EXIT_INTERRUPTED, launcher_ranks, main

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
    with pytest.raises(SystemExit, match="is an int, not a botorch_joint.Problem"):
        main(["run", "notaproblem:x", "--method", "sobol"])


# ------------------------------------------------------------ user mistakes (one line)
def _mine(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "my_problem.py").write_text(PROBLEM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))


def _fails_with(argv: list[str], pattern: str) -> str:
    """``main(argv)`` must stop with a one-line message matching ``pattern``."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    message = info.value.code
    assert isinstance(message, str) and "\n" not in message, message
    assert message.startswith("botorch-joint: ") and re.search(pattern, message), message
    return message


def test_settings_mistakes_are_one_line_messages(tmp_path, monkeypatch):
    _mine(tmp_path, monkeypatch)
    run = ["run", "my_problem:problem", "--method", "sobol", "--no-progress"]
    out = str(tmp_path / "out")
    _fails_with(run + ["--budget", "10", "--n-initial", "20"], r"n_initial \(20\) exceeds budget")
    assert main(run + ["--budget", "4", "--batch-size", "2", "--run-dir", out]) == 0
    # the run directory holds a run and --resume was not given
    _fails_with(run + ["--budget", "4", "--batch-size", "2", "--run-dir", out], "--resume")
    # --resume with other settings, and into another problem's directory
    _fails_with(
        run + ["--budget", "6", "--batch-size", "2", "--run-dir", out, "--resume"],
        "cannot resume with different settings budget: saved 4, asked 6",
    )
    _fails_with(
        ["run", "c2dtlz2", "--method", "sobol", "--budget", "4", "--batch-size", "2"]
        + ["--run-dir", out, "--resume"],
        "checkpoint is for problem 'mine'.*cannot resume 'c2dtlz2'",
    )


def test_out_of_range_numbers_are_refused_by_the_parser(capsys):
    for flag, value in [("--batch-size", "0"), ("--budget", "-3"), ("--workers", "0")]:
        with pytest.raises(SystemExit) as info:
            main(["run", "c2dtlz2", flag, value])
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: must be >= 1, got {value}" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["run", "c2dtlz2", "--timeout", "0"])
    assert "argument --timeout: must be > 0.0, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run", "c2dtlz2", "--budget", "ten"])
    assert "argument --budget: 'ten' is not an int" in capsys.readouterr().err


FUNCTIONS_MODULE = """
def simulate(p):
    return {"f1": p["a"]}

def make_dict():
    return {"not": "a problem"}
"""


def test_a_plain_function_is_not_a_problem(tmp_path, monkeypatch):
    (tmp_path / "funcs.py").write_text(FUNCTIONS_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    message = _fails_with(
        ["run", "funcs:simulate"], r"'funcs:simulate' is a function of \(p\), not a botorch_j"
    )
    assert "evaluate=simulate" in message and "funcs:problem" in message
    _fails_with(["run", "funcs:make_dict"], "'funcs:make_dict' returned a dict, not a botorch")


def test_a_mistake_exits_without_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "botorch_joint.cli", "run", "c2dtlz2", "--method", "sobol"]
        + ["--budget", "10", "--n-initial", "20", "--run-dir", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    assert proc.stderr.strip() == "botorch-joint: n_initial (20) exceeds budget (10)"


# --------------------------------------------------------------- a small budget
def test_a_budget_below_the_initial_design_warns_in_one_line(tmp_path, monkeypatch, capsys):
    _mine(tmp_path, monkeypatch)
    argv = ["run", "my_problem:problem", "--method", "c+o-ftt", "--budget", "4"]
    argv += ["--batch-size", "2", "--sensitivity", "none", "--run-dir", str(tmp_path / "o")]
    assert main(argv) == 0
    err = capsys.readouterr().err
    warning = [line for line in err.splitlines() if "initial design" in line]
    assert warning == [
        "botorch-joint: warning: budget 4 leaves room for an initial design of 2 points, "
        "not the default 6 (max(2 (d + 1), batch_size) with d=2): using n_initial=2, then "
        "2 evaluations proposed by c+o-ftt; raise the budget to 12 or more, or set n_initial"
    ]
    assert bj.load_result(tmp_path / "o").settings["n_initial"] == 2


def test_the_idle_workers_warning_is_one_line(tmp_path, monkeypatch, capsys):
    _mine(tmp_path, monkeypatch)
    argv = ["run", "my_problem:problem", "--method", "sobol", "--budget", "4"]
    argv += ["--batch-size", "1", "--evaluator", "process", "--workers", "2"]
    assert main(argv + ["--run-dir", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "botorch-joint: warning: the evaluator has 2 workers but batch_size is 1" in err
    assert "warnings.warn" not in err and "UserWarning" not in err


# ------------------------------------------------------------------- MPI launch
def test_launcher_ranks_read_the_environment(monkeypatch):
    for var in ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMI_SIZE", "PMI_RANK"):
        monkeypatch.delenv(var, raising=False)
    for var in ("PMIX_RANK", "MPI_LOCALNRANKS", "MPI_LOCALRANKID"):
        monkeypatch.delenv(var, raising=False)
    assert launcher_ranks() == (1, 0)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "2")
    assert launcher_ranks() == (4, 2)
    monkeypatch.delenv("OMPI_COMM_WORLD_SIZE")
    monkeypatch.delenv("OMPI_COMM_WORLD_RANK")
    monkeypatch.setenv("PMIX_RANK", "3")  # PMIx gives the rank only
    assert launcher_ranks() == (4, 3)


def test_several_ranks_without_the_mpi_evaluator_stop(tmp_path, monkeypatch, capsys):
    for var in ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PMI_SIZE", "3")
    monkeypatch.setenv("PMI_RANK", "0")
    run = tmp_path / "r"
    argv = ["run", "c2dtlz2", "--method", "sobol", "--budget", "4", "--run-dir", str(run)]
    message = _fails_with(argv, "started as 3 MPI processes without --evaluator mpi")
    assert "Add --evaluator mpi" in message
    monkeypatch.setenv("PMI_RANK", "2")
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2  # the other ranks stop quietly
    assert not run.exists()


MPIEXEC = shutil.which(
    "mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)


@pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec")
def test_under_mpiexec_without_the_mpi_evaluator(tmp_path):
    run = tmp_path / "r"
    cmd = [MPIEXEC, "-n", "2", sys.executable, "-m", "botorch_joint.cli", "run", "c2dtlz2"]
    cmd += ["--method", "sobol", "--budget", "4", "--run-dir", str(run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode != 0
    assert proc.stderr.count("without --evaluator mpi") == 1, proc.stderr
    assert "Traceback" not in proc.stderr and not run.exists()


# --------------------------------------------------------------- logs, not bars
def _env_with_path(folder: Path) -> dict[str, str]:
    """The environment with ``folder`` first on PYTHONPATH (for a problem module there)."""
    paths = [str(folder), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


EPOCH_LINE = re.compile(
    r"^epoch (\d+): (\d+)/12 evaluations, \d+ feasible \(\d+\.\d%\), 0 failed, "
    r"best hypervolume [\d.e+-]+; seconds: [\d.]+ evaluation, [\d.]+ training, [\d.]+ search$"
)


def test_a_log_gets_one_line_per_epoch(tmp_path):
    (tmp_path / "my_problem.py").write_text(PROBLEM_MODULE)
    argv = ["run", "my_problem:problem", "--method", "sobol", "--budget", "12"]
    argv += ["--batch-size", "4", "--run-dir", str(tmp_path / "r")]
    env = _env_with_path(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "botorch_joint.cli", *argv],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stdout + proc.stderr  # no progress bar in a pipe
    lines = [m for m in map(EPOCH_LINE.match, proc.stdout.splitlines()) if m]
    assert [(m[1], m[2]) for m in lines] == [("0", "6"), ("1", "10"), ("2", "12")]


def test_no_progress_prints_epoch_lines(tmp_path, monkeypatch, capsys):
    _mine(tmp_path, monkeypatch)
    argv = ["run", "my_problem:problem", "--method", "lh", "--budget", "12", "--batch-size"]
    assert main(argv + ["6", "--no-progress", "--run-dir", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert len([line for line in out.splitlines() if EPOCH_LINE.match(line)]) == 2


# ------------------------------------------------------------------------ Ctrl-C
SLOW_MODULE = """
import os
import time
from pathlib import Path

import botorch_joint as bj

CALLS = 0

def _f(p):
    # After 12 evaluations the simulator marks the moment and slows down, so the test's
    # Ctrl-C lands mid-run however loaded the machine is (and a resumed run, a new
    # process, starts the count afresh).
    global CALLS
    CALLS += 1
    if CALLS == 13:
        Path(os.environ["SLOW_MARKER"]).write_text("12 done")
    time.sleep(0.15 if CALLS <= 12 or "SLOW_RESUMED" in os.environ else 2.0)
    return {"f1": p["a"], "f2": 1 - p["a"] + p["b"], "ok": 0.8 - p["b"]}

problem = bj.Problem("slow", {"a": (0, 1), "b": (0, 1)}, ["f1", "f2"], ["ok"],
                     evaluate=_f, ref_point=[1.1, 2.1])
"""


def test_ctrl_c_saves_what_finished_and_says_how_to_resume(tmp_path):
    (tmp_path / "slow_problem.py").write_text(SLOW_MODULE)
    run = tmp_path / "r"
    argv = ["run", "slow_problem:problem", "--method", "sobol", "--budget", "40"]
    argv += ["--batch-size", "8", "--run-dir", str(run)]
    env = _env_with_path(tmp_path)
    marker = tmp_path / "twelve_done"
    env["SLOW_MARKER"] = str(marker)
    proc = subprocess.Popen(
        [sys.executable, "-m", "botorch_joint.cli", *argv],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a test suite started in the background (`cmd &`) inherits SIGINT ignored,
        # and Python then never raises KeyboardInterrupt: give the run Ctrl-C back
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists() and proc.poll() is None, "the run ended before its 13th evaluation"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    finished = bj.load_result(run)
    assert 11 <= len(finished) < 40
    assert f"interrupted after {len(finished)} of 40 evaluations" in err
    df = pd.read_csv(run / "results.csv")
    assert len(df) == len(finished)  # the in-flight batch's finished evaluations included
    assert (run / "hv.png").stat().st_size > 1000
    # the printed command continues the run to the end
    command = shlex.split(err.split("Continue with:")[1].strip().splitlines()[0])
    assert command[0] == "botorch-joint" and command[-1] == "--resume"
    again = subprocess.run(
        [sys.executable, "-m", "botorch_joint.cli", *command[1:]],
        cwd=tmp_path, env={**env, "SLOW_RESUMED": "1"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    result = bj.load_result(run)
    assert len(result) == 40 and result.complete
    np.testing.assert_array_equal(result.X[: len(finished)], finished.X)


# ------------------------------------------------------------------- cosmetics
def test_version_help_defaults_and_problem_table(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"botorch-joint {bj.__version__}\n"
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for default in ("(default: c+o-ftt)", "(default: 200)", "(default: 20)", "(default: slh)"):
        assert default in help_text
    assert "(default: None)" not in help_text and "(default: False)" not in help_text
    assert main(["problems"]) == 0
    rows = {line.split()[0]: line.split()[1:4] for line in capsys.readouterr().out.splitlines()}
    assert rows["name"] == ["d", "m", "k"]
    assert rows["hh-cell"] == ["11", "4", "7"] and rows["c2dtlz2"] == ["12", "2", "1"]
    assert set(bj.problems.names()) <= set(rows)


def test_the_header_counts_in_the_singular(tmp_path, monkeypatch, capsys):
    _mine(tmp_path, monkeypatch)
    argv = ["run", "my_problem:problem", "--method", "sobol", "--budget", "2", "--batch-size"]
    assert main(argv + ["1", "--run-dir", str(tmp_path / "r")]) == 0
    assert "(d=2, 2 objectives, 1 constraint)" in capsys.readouterr().out
