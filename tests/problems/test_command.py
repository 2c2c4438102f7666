"""``Problem.from_command``: external programs as problems."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems import Problem
from botorch_joint.problems.command import CommandError, CommandEvaluator, CommandTimeoutError

# A stand-in simulator: fails for x > 0.8, hangs for y > 0.85, otherwise answers.
SIMULATOR = textwrap.dedent(
    """
    import json, os, sys, time
    params_path, output_path = sys.argv[1], sys.argv[2]
    p = json.load(open(params_path))
    x, y = p["x"], p["y"]
    mode = os.environ.get("SIM_MODE", "")
    for i in range(30):
        print(f"log line {i}", file=sys.stderr)
    if x > 0.8:
        print(f"diverged at x={x:.4f}", file=sys.stderr)
        sys.exit(3)
    if y > 0.85 or mode == "hang":
        if mode == "hang":
            import subprocess
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
            open("child.pid", "w").write(str(child.pid))
        print(f"hanging at y={y:.4f}", file=sys.stderr, flush=True)
        time.sleep(120)
    out = {"f1": x**2 + y, "f2": (x - 1) ** 2 + y, "c": 1 - x - y}
    if mode == "missing-key":
        del out["c"]
    if mode == "not-a-number":
        out["f2"] = "high"
    if mode == "null":
        out["c"] = None
    if mode == "no-output":
        sys.exit(0)
    with open(output_path, "w") as fh:
        if mode == "malformed":
            fh.write("{not json")
        else:
            json.dump(out, fh)
    """
)
BOUNDS = {"x": (0.0, 1.0), "y": (0.0, 1.0)}


def expected(x: float, y: float) -> tuple[list[float], list[float]]:
    return [x**2 + y, (x - 1) ** 2 + y], [1 - x - y]


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "sim.py"
    path.write_text(SIMULATOR)
    return path


def make(script: Path, tmp_path: Path, **kwargs) -> Problem:
    kwargs.setdefault("timeout", 1.5)
    kwargs.setdefault("workdir", tmp_path / "runs")
    return Problem.from_command(
        [sys.executable, str(script), "{params}", "{output}"], BOUNDS, ["f1", "f2"], ["c"], **kwargs
    )


def test_success_writes_params_and_reads_outputs(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, keep_workdirs=True)
    assert problem.name == "sim"
    ev = problem.evaluate_point(np.array([0.25, 0.5]))
    assert not ev.failed, ev.error
    y, c = expected(0.25, 0.5)
    np.testing.assert_allclose(ev.y, y)
    np.testing.assert_allclose(ev.c, c)
    (run,) = list((tmp_path / "runs").iterdir())
    assert json.loads((run / "params.json").read_text()) == {"x": 0.25, "y": 0.5}
    assert (run / "output.json").exists()


def test_string_command_and_paths_with_spaces(script: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "dir with space"
    spaced.mkdir()
    shutil.copy(script, spaced / "sim.py")
    command = f'"{sys.executable}" "{spaced / "sim.py"}" {{params}} {{output}}'
    problem = Problem.from_command(
        command, BOUNDS, ["f1", "f2"], ["c"], workdir=spaced / "runs", timeout=5
    )
    assert problem.evaluate({"x": 0.5, "y": 0.1}) == pytest.approx(
        {"f1": 0.35, "f2": 0.35, "c": 0.4}
    )


def test_environment_variables_instead_of_placeholders(tmp_path: Path) -> None:
    prog = tmp_path / "env_sim.py"
    prog.write_text(
        "import json, os\n"
        "p = json.load(open(os.environ['BOTORCH_JOINT_PARAMS']))\n"
        "assert os.getcwd() == os.environ['BOTORCH_JOINT_WORKDIR']\n"
        "json.dump({'f': p['a'] * 2 + float(os.environ['OFFSET'])}, open('output.json', 'w'))\n"
    )
    problem = Problem.from_command(
        [sys.executable, str(prog)], {"a": (0, 1)}, ["f"], env={"OFFSET": "1"}, workdir=tmp_path
    )
    assert problem.evaluate({"a": 0.25})["f"] == pytest.approx(1.5)
    assert problem.constraint_names == []


def test_env_none_removes_an_inherited_variable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PMI_RANK", "3")
    prog = tmp_path / "check_env.py"
    prog.write_text(
        "import json, os\n"
        "json.dump({'f': float('PMI_RANK' in os.environ)}, open('output.json', 'w'))\n"
    )
    command = [sys.executable, str(prog)]
    inherited = Problem.from_command(command, {"a": (0, 1)}, ["f"], workdir=tmp_path)
    cleaned = Problem.from_command(
        command, {"a": (0, 1)}, ["f"], workdir=tmp_path, env={"PMI_RANK": None}
    )
    assert inherited.evaluate({"a": 0.5})["f"] == 1.0
    assert cleaned.evaluate({"a": 0.5})["f"] == 0.0


def test_nonzero_exit_keeps_stderr_tail(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path)
    ev = problem.evaluate_point(np.array([0.9, 0.1]))
    assert ev.failed and np.all(np.isnan(ev.y)) and np.all(np.isnan(ev.c))
    assert "exited with status 3" in ev.error
    assert "diverged at x=0.9000" in ev.error
    # Only the tail: the last 20 stderr lines, not the whole log.
    assert "log line 29" in ev.error and "log line 11" in ev.error
    assert "log line 10\n" not in ev.error
    with pytest.raises(CommandError) as info:
        problem.evaluate({"x": 0.9, "y": 0.1})
    assert info.value.returncode == 3
    assert info.value.stderr_tail.splitlines()[-1] == "diverged at x=0.9000"


def test_timeout_kills_the_whole_process_group(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, timeout=1.0, keep_workdirs="failed", env={"SIM_MODE": "hang"})
    t0 = time.perf_counter()
    ev = problem.evaluate_point(np.array([0.2, 0.2]))
    elapsed = time.perf_counter() - t0
    assert ev.failed
    assert "timed out after 1 s" in ev.error and "hanging at y=0.2000" in ev.error
    assert elapsed < 15.0
    (run,) = list((tmp_path / "runs").iterdir())
    pid = int((run / "child.pid").read_text())
    # The grandchild the program started was killed with it.
    deadline = time.time() + 5.0
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        pytest.fail("the program's child survived the timeout")
    with pytest.raises(CommandTimeoutError):
        problem._evaluate({"x": 0.2, "y": 0.2})


@pytest.mark.parametrize(
    "mode, message",
    [
        ("no-output", "wrote no output.json"),
        ("malformed", "not valid JSON"),
        ("missing-key", "lacks declared output(s) ['c']"),
        ("not-a-number", "output 'f2' must be a number"),
    ],
)
def test_bad_outputs_fail_with_stderr_tail(
    script: Path, tmp_path: Path, mode: str, message: str
) -> None:
    problem = make(script, tmp_path, env={"SIM_MODE": mode})
    ev = problem.evaluate_point(np.array([0.1, 0.1]))
    assert ev.failed
    assert message in ev.error
    assert "log line 29" in ev.error


def test_stdout_tail_when_stderr_is_empty(tmp_path: Path) -> None:
    prog = tmp_path / "quiet.py"
    prog.write_text("import sys\nprint('Error: mesh too coarse')\nsys.exit(1)\n")
    problem = Problem.from_command([sys.executable, str(prog)], BOUNDS, ["f"], workdir=tmp_path)
    ev = problem.evaluate_point(np.array([0.5, 0.5]))
    assert ev.failed and "stdout (last 20 lines)" in ev.error
    assert ev.error.endswith("Error: mesh too coarse")


def test_null_constraint_counts_as_violated(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, env={"SIM_MODE": "null"})
    ev = problem.evaluate_point(np.array([0.1, 0.1]))
    assert not ev.failed
    assert ev.c[0] == -np.inf


def test_workdirs_are_unique_and_cleaned(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path)
    problem.evaluate_batch(np.array([[0.1, 0.1], [0.9, 0.1]]))
    assert list((tmp_path / "runs").iterdir()) == []
    keep_failed = make(script, tmp_path, keep_workdirs="failed")
    evs = keep_failed.evaluate_batch(np.array([[0.1, 0.1], [0.9, 0.1], [0.95, 0.2]]))
    assert [e.failed for e in evs] == [False, True, True]
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all((r / "params.json").exists() for r in runs)
    # A kept directory is named in its evaluation's error message.
    assert {str(r) for r in runs} == {e.error.split("(workdir ")[1].split(")")[0] for e in evs[1:]}


def test_pickles_and_evaluates_after_unpickling(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, ref_point=[2.0, 2.0])
    clone = pickle.loads(pickle.dumps(problem))
    assert isinstance(clone._evaluate, CommandEvaluator)
    assert clone.evaluate({"x": 0.5, "y": 0.25}) == problem.evaluate({"x": 0.5, "y": 0.25})
    np.testing.assert_allclose(clone.ref_point, [2.0, 2.0])


def test_definition_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        Problem.from_command("", BOUNDS, ["f"])
    with pytest.raises(ValueError, match="timeout"):
        Problem.from_command("prog", BOUNDS, ["f"], timeout=0)
    with pytest.raises(ValueError, match="keep_workdirs"):
        Problem.from_command("prog", BOUNDS, ["f"], keep_workdirs="sometimes")
    ev = Problem.from_command(
        [str(tmp_path / "no-such-program")], BOUNDS, ["f"], workdir=tmp_path
    ).evaluate_point(np.array([0.5, 0.5]))
    assert ev.failed and "could not start" in ev.error


def test_optimisation_through_an_external_program(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, timeout=1.0)
    result = bj.optimize(problem, method="sobol", budget=12, batch_size=4, seed=0)
    assert len(result.X) == 12
    crash = result.X[:, 0] > 0.8
    hang = ~crash & (result.X[:, 1] > 0.85)
    assert crash.any() and hang.any(), "the design must exercise both failure modes"
    np.testing.assert_array_equal(result.failed, crash | hang)
    for x, y, c, failed, err in zip(result.X, result.Y, result.C, result.failed, result.errors):
        if failed:
            assert np.all(np.isnan(y))
            tail = "diverged at x=" if x[0] > 0.8 else "hanging at y="
            assert tail in err
            assert ("timed out" in err) == (x[0] <= 0.8)
        else:
            ye, ce = expected(*x)
            np.testing.assert_allclose(y, ye)
            np.testing.assert_allclose(c, ce)
            assert err is None
    assert not result.feasible[result.failed].any()
    assert list((tmp_path / "runs").iterdir()) == []


def test_process_evaluator(script: Path, tmp_path: Path) -> None:
    problem = make(script, tmp_path, timeout=5.0)
    result = bj.optimize(
        problem, method="sobol", budget=4, batch_size=2, seed=1, evaluator="process", n_workers=2
    )
    assert len(result.X) == 4
    for x, y, failed in zip(result.X, result.Y, result.failed):
        if x[0] <= 0.8 and x[1] <= 0.85:
            assert not failed
            np.testing.assert_allclose(y, expected(*x)[0])


MPI_DRIVER = textwrap.dedent(
    """
    import sys, json
    import numpy as np
    import botorch_joint as bj
    from botorch_joint.problems import Problem
    script, runs, out = sys.argv[1:4]
    problem = Problem.from_command(
        [sys.executable, script, "{params}", "{output}"],
        {"x": (0.0, 0.8), "y": (0.0, 0.8)}, ["f1", "f2"], ["c"], timeout=20, workdir=runs,
    )
    result = bj.optimize(problem, method="sobol", budget=6, batch_size=3, evaluator="mpi")
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        json.dump({"X": result.X.tolist(), "Y": result.Y.tolist(),
                   "failed": result.failed.tolist()}, open(out, "w"))
    """
)


@pytest.mark.mpi
def test_mpi_evaluator(script: Path, tmp_path: Path) -> None:
    mpiexec = shutil.which("mpiexec") or str(Path(sys.executable).with_name("mpiexec"))
    if not Path(mpiexec).exists():
        pytest.skip("no mpiexec")
    pytest.importorskip("mpi4py")
    driver = tmp_path / "driver.py"
    driver.write_text(MPI_DRIVER)
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [
            mpiexec,
            "-n",
            "3",
            sys.executable,
            str(driver),
            str(script),
            str(tmp_path / "r"),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert not any(data["failed"])
    for x, y in zip(data["X"], data["Y"]):
        np.testing.assert_allclose(y, expected(*x)[0])


def test_unknown_placeholders_are_refused(tmp_path: Path) -> None:
    # "{outputs}" for "{output}" would run and fail every evaluation; refuse the command
    with pytest.raises(ValueError, match=r"unknown placeholder '\{outputs\}'") as info:
        Problem.from_command("sim {params} {outputs}", BOUNDS, ["f1"], ["c"])
    assert "{params}, {output}, {workdir}" in str(info.value)
    with pytest.raises(ValueError, match=r"'\{param\}'"):
        CommandEvaluator(["sim", "--in={param}"], ["f1"])
    # shell variables, JSON and format strings that are not placeholders are left alone;
    # a doubled placeholder is a literal one
    ev = CommandEvaluator(
        ["sh", "-c", 'echo ${HOME} {"a": 1} {{output}} {output}', "{ not a placeholder }"],
        ["f1"],
    )
    args = ev.arguments("/p.json", "/o.json", "/w")
    assert args[2] == 'echo ${HOME} {"a": 1} {output} /o.json'
    assert args[3] == "{ not a placeholder }"
