"""A BluePyOpt problem evaluated on MPI ranks (mpiexec in a subprocess, as tests/parallel).

The pytest process never imports ``mpi4py.MPI``. Skipped without BluePyOpt, mpi4py or
mpiexec.
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

MPIEXEC = shutil.which(
    "mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
pytestmark = [
    pytest.mark.mpi,
    pytest.mark.skipif(importlib.util.find_spec("mpi4py") is None, reason="needs mpi4py"),
    pytest.mark.skipif(MPIEXEC is None, reason="needs mpiexec"),
]
pytest.importorskip("bluepyopt")

FACTORY = "botorch_joint.problems.neuro.bluepyopt_models:simplecell_ap_evaluator"

SCRIPT = f"""
import json, sys
import botorch_joint as bj
from botorch_joint.problems.neuro import bluepyopt_models

def main(out):
    runs = {{
        # rebuilt on every rank from the importable factory
        "factory": bj.problems.from_bluepyopt(factory="{FACTORY}", threshold=5.0),
        # the evaluator object itself travels with every task
        "object": bj.problems.from_bluepyopt(
            bluepyopt_models.simplecell_ap_evaluator(), threshold=5.0),
    }}
    record = {{}}
    for key, problem in runs.items():
        res = bj.optimize(problem, method="sobol", budget=8, batch_size=4, evaluator="mpi",
                          progress=False, seed=0)
        record[key] = {{"X": res.X.tolist(), "Y": [[None if y != y else y for y in row]
                       for row in res.Y.tolist()], "failed": res.failed.tolist(),
                       "errors": list(res.errors)}}
    from mpi4py import MPI
    record["size"] = MPI.COMM_WORLD.Get_size()
    with open(f"{{out}}/rank{{MPI.COMM_WORLD.Get_rank()}}.json", "w") as fh:
        json.dump(record, fh)

if __name__ == "__main__":  # spawned MPI workers import this module too
    main(sys.argv[1])
"""


def run(cmd: list[str], tmp_path: Path, env_extra: dict[str, str] | None = None) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def check(tmp_path: Path, ranks: int) -> None:
    import botorch_joint as bj

    outs = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(ranks)]
    for out in outs[1:]:  # every rank returns rank 0's result
        assert out == outs[0]
    out = outs[0]
    assert out["size"] == ranks
    problem = bj.problems.from_bluepyopt(factory=FACTORY, threshold=5.0)
    for key in ("factory", "object"):
        run_ = out[key]
        failed = np.array(run_["failed"])
        assert len(failed) == 8 and failed.any() and not failed.all()
        for err, bad in zip(run_["errors"], failed):
            assert (err is not None and "FeatureFailure" in err) == bad
        # every success is what this process computes for the same point
        for x, y, bad in zip(run_["X"], run_["Y"], failed):
            if not bad:
                here = problem.evaluate(np.array(x))
                np.testing.assert_allclose(y, [here[o] for o in problem.objective_names])
    assert out["factory"]["X"] == out["object"]["X"]


def test_bluepyopt_problem_under_mpiexec(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(SCRIPT)
    run([MPIEXEC, "-n", "3", sys.executable, "script.py", str(tmp_path)], tmp_path)
    check(tmp_path, ranks=1 + 2)


def test_bluepyopt_problem_on_spawned_workers(tmp_path: Path) -> None:
    # without mpiexec, evaluator="mpi" spawns workers, which rebuild or unpickle the evaluator
    (tmp_path / "script.py").write_text(SCRIPT)
    run([sys.executable, "script.py", str(tmp_path)], tmp_path, {"MPI4PY_FUTURES_MAX_WORKERS": "2"})
    check(tmp_path, ranks=1)
