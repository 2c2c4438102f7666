"""MPI evaluation through mpi4py.futures, launched with ``mpiexec`` in subprocesses.

The pytest process itself never imports ``mpi4py.MPI`` (that would initialise MPI here).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HELPERS = Path(__file__).parent
sys.path.insert(0, str(HELPERS))
import bj_fault_helpers as h  # noqa: E402

MPIEXEC = shutil.which(
    "mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
pytestmark = [
    pytest.mark.mpi,
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec"),
]

SCRIPT = """
import json, sys
import numpy as np
import bj_fault_helpers as h
import botorch_joint as bj

def main(out):
    problem = h.faulty_problem()
    modes = [h.OK, h.RAISE, h.HANG, h.NAN, h.OK, h.OK, h.OK, h.OK]
    X = h.fixed_run_points(modes)
    faulty = bj.optimize(problem, budget=len(X), n_initial=4, batch_size=4, evaluator="mpi",
                         strategy=h.FixedPoints(problem, X), timeout=1.0, progress=False)
    logged = bj.optimize(h.logged_problem(), method="sobol", budget=12, batch_size=4,
                         n_initial=4, evaluator="mpi", run_dir=out + "/run", progress=False)
    from mpi4py import MPI
    rank = MPI.COMM_WORLD.Get_rank()
    with open(f"{out}/rank{rank}.json", "w") as fh:
        json.dump({"size": MPI.COMM_WORLD.Get_size(), "errors": faulty.errors,
                   "failed": faulty.failed.tolist(), "X": logged.X.tolist(),
                   "Y": logged.Y.tolist()}, fh)

if __name__ == "__main__":  # spawned MPI workers import this module too
    main(sys.argv[1])
"""


def run(cmd: list[str], tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]),
        BJ_TEST_LOG=str(tmp_path / "evaluated.log"),
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def check_outputs(tmp_path: Path, ranks: int) -> None:
    outs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(ranks)]
    for out in outs[1:]:  # every rank returns rank 0's result
        assert out == outs[0]
    out = outs[0]
    assert out["size"] == ranks
    modes = [h.OK, h.RAISE, h.HANG, h.NAN, h.OK, h.OK, h.OK, h.OK]
    assert out["failed"] == [m != h.OK for m in modes]
    assert "ValueError: simulator blew up" in out["errors"][1]
    assert "EvaluationTimeout" in out["errors"][2]  # interrupted on its rank
    assert "non-finite" in out["errors"][3]
    X = np.asarray(out["X"])
    assert X.shape == (12, 2) and np.isfinite(out["Y"]).all()
    evaluated = h.read_log(str(tmp_path / "evaluated.log"))
    assert len(evaluated) == 12 and len(np.unique(evaluated, axis=0)) == 12
    assert (tmp_path / "run" / "checkpoint.json").exists()


def test_optimize_under_mpiexec(tmp_path):
    (tmp_path / "script.py").write_text(SCRIPT)
    run([MPIEXEC, "-n", "3", sys.executable, "script.py", str(tmp_path)], tmp_path)
    check_outputs(tmp_path, ranks=3)


def test_singleton_mode_spawns_workers(tmp_path, monkeypatch):
    # without mpiexec, evaluator="mpi" spawns its workers with MPIPoolExecutor
    monkeypatch.setenv("MPI4PY_FUTURES_MAX_WORKERS", "2")
    (tmp_path / "script.py").write_text(SCRIPT)
    run([sys.executable, "script.py", str(tmp_path)], tmp_path)
    check_outputs(tmp_path, ranks=1)


def test_cli_under_mpiexec(tmp_path):
    exe = shutil.which("botorch-joint", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = run(
        [
            MPIEXEC, "-n", "3", exe, "run", "bj_fault_helpers:logged_problem",
            "--evaluator", "mpi", "--method", "sobol", "--budget", "10", "--batch-size", "2",
            "--run-dir", "cli-run", "--no-progress",
        ],
        tmp_path,
    )  # fmt: skip
    # only rank 0 reports: one summary line (the per-epoch lines read "k/10 evaluations")
    assert proc.stdout.count(": 10 evaluations") == 1
    import pandas as pd

    df = pd.read_csv(tmp_path / "cli-run" / "results.csv")
    assert len(df) == 10 and not df["failed"].any()
    evaluated = h.read_log(str(tmp_path / "evaluated.log"))
    assert len(evaluated) == 10


# A point whose simulator calls os._exit kills its rank, and mpiexec then ends the job.
CRASH_SCRIPT = """
import sys
import bj_fault_helpers as h
import botorch_joint as bj

def main(run_dir):
    problem = h.faulty_problem()
    X = h.fixed_run_points([h.OK] * 5 + [h.EXIT] + [h.OK] * 4)
    bj.optimize(problem, budget=len(X), n_initial=4, batch_size=4, evaluator="mpi",
                strategy=h.FixedPoints(problem, X), run_dir=run_dir, resume=True,
                progress=False)

if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_a_point_that_kills_its_rank_is_failed_and_the_requeued_job_finishes(tmp_path):
    import botorch_joint as bj

    (tmp_path / "crash.py").write_text(CRASH_SCRIPT)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]),
        BJ_TEST_FAULTY_LOG=str(tmp_path / "evaluated.log"),
    )
    cmd = [MPIEXEC, "-n", "3", sys.executable, "crash.py", str(tmp_path / "run")]
    # Resubmitted until it finishes, as with `sbatch --requeue`. The job dies each time
    # the point runs: twice if the other rank's point had finished at the first death,
    # three times if it was still running (then both are retried together, and after a
    # second death one at a time, so that the last death is the point's own).
    crashed = 0
    for _ in range(4):
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
        if proc.returncode == 0:
            break
        crashed += 1
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert crashed in (2, 3)
    final = bj.load_result(tmp_path / "run")
    assert final.complete and final.failed.tolist() == [i == 5 for i in range(10)]
    assert "RunCrashed" in final.errors[5]
    # every other point was evaluated; one that was running on another rank when the
    # job died may have been evaluated again (its result never reached rank 0)
    evaluated = h.read_log(str(tmp_path / "evaluated.log"))
    ok = np.delete(final.X, 5, axis=0)
    for x in ok:
        assert np.any(np.all(evaluated == x, axis=1))
    assert len(evaluated) <= len(ok) + 2


STUCK_SCRIPT = """
import json, sys
import bj_fault_helpers as h
import botorch_joint as bj

def main(out):
    problem = h.faulty_problem()
    modes = [h.OK, h.OK, h.STUBBORN, h.STUBBORN, h.OK, h.OK]
    X = h.fixed_run_points(modes)
    r = bj.optimize(problem, budget=len(X), n_initial=2, batch_size=4, evaluator="mpi",
                    strategy=h.FixedPoints(problem, X), timeout=0.5, progress=False)
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        with open(out, "w") as fh:
            json.dump({"failed": r.failed.tolist(), "errors": r.errors}, fh)

if __name__ == "__main__":
    main(sys.argv[1])
"""


def test_ranks_stuck_past_their_time_limit_delay_the_next_points_but_never_fail_them(
    tmp_path,
):
    # Both worker ranks hang in evaluations that swallow the interruption; the two
    # points behind them must wait for a rank, not be recorded as failures.
    (tmp_path / "stuck.py").write_text(STUCK_SCRIPT)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(HELPERS), os.environ.get("PYTHONPATH", "")]),
        BJ_TEST_STUBBORN="5",
    )
    out = tmp_path / "out.json"
    proc = subprocess.run(
        [MPIEXEC, "-n", "3", sys.executable, "stuck.py", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "waiting for a worker" in proc.stderr
    result = json.loads(out.read_text())
    assert result["failed"] == [False, False, True, True, False, False]
    assert all("EvaluationTimeout" in e for e in result["errors"][2:4])
    assert not any("NoFreeWorker" in (e or "") for e in result["errors"])
