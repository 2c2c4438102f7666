"""What a Result shows of itself: a short repr, a summary, and files others can read."""

from __future__ import annotations

import os
import stat

import numpy as np

import botorch_joint as bj
from botorch_joint.persistence import CHECKPOINT, write_atomic
from botorch_joint.result import Result


def test_repr_is_a_one_line_summary(toy_problem):
    result = bj.optimize(toy_problem, method="sobol", budget=400, batch_size=100, progress=False)
    text = repr(result)
    assert "\n" not in text and len(text) < 200
    feasible, failed = int(result.feasible.sum()), int(result.failed.sum())
    hv = bj.metrics.hypervolume(result.pareto()[1], toy_problem.ref_point)
    assert text == (
        f"Result(problem='toy', method='sobol', n=400, feasible={feasible}, "
        f"failed={failed}, hypervolume={hv:.6g})"
    )
    assert hv > 0 and np.isclose(hv, result.hypervolume_history()[-1])


def test_repr_of_an_empty_unfinished_result_without_reference_point(toy_problem):
    problem = bj.Problem("bare", toy_problem.parameters, ["f1", "f2"], evaluate=lambda p: {})
    result = Result.empty(problem, method="gpr")
    assert repr(result) == (
        "Result(problem='bare', method='gpr', n=0, feasible=0, failed=0, complete=False)"
    )


def test_summary_does_not_repeat_a_hypervolume_whose_maximum_is_one(toy_problem):
    result = bj.optimize(toy_problem, method="sobol", budget=40, batch_size=20, progress=False)
    hv = result.hypervolume_history()[-1]
    result.max_hv = 1.0
    line = result.summary().splitlines()[1]
    assert line == f"normalised hypervolume {hv:.4f}"
    result.max_hv = 2.0
    assert result.summary().splitlines()[1] == f"hypervolume {hv:.6g} (normalised {hv / 2:.4f})"


def test_checkpoint_permissions_follow_the_umask(tmp_path, toy_problem):
    old = os.umask(0o022)
    try:
        bj.optimize(toy_problem, method="sobol", budget=4, batch_size=2, run_dir=tmp_path / "run")
        write_atomic(tmp_path / "other.json", "{}")
    finally:
        os.umask(old)
    for path in (tmp_path / "run" / CHECKPOINT, tmp_path / "other.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert not list(tmp_path.glob(".*.tmp")) and not list((tmp_path / "run").glob(".*.tmp"))
