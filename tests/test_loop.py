import json

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.persistence import load_checkpoint


@pytest.mark.parametrize("method", ["sobol", "lh", "slh", "mc"])
def test_space_filling_end_to_end(toy_problem, method):
    r = bj.optimize(toy_problem, method=method, budget=23, batch_size=5, seed=2)
    assert len(r) == 23
    assert r.X.shape == (23, 2) and r.Y.shape == (23, 2) and r.C.shape == (23, 1)
    n0 = bj.loop.default_n_initial(2, 23, 5)
    assert (r.epoch == 0).sum() == n0
    # epochs count up in batches of 5, the last one short
    _, counts = np.unique(r.epoch[r.epoch > 0], return_counts=True)
    assert counts[:-1].tolist() == [5] * (len(counts) - 1) and counts[-1] <= 5
    np.testing.assert_array_equal(r.feasible, r.C[:, 0] >= 0)
    again = bj.optimize(toy_problem, method=method, budget=23, batch_size=5, seed=2)
    np.testing.assert_array_equal(r.X, again.X)


def test_failed_evaluations_are_recorded(flaky_problem):
    r = bj.optimize(flaky_problem, method="sobol", budget=40, batch_size=10, seed=0)
    assert len(r) == 40
    crashed = r.X[:, 0] > 0.8
    nan = (r.X[:, 1] > 0.9) & ~crashed
    assert crashed.any() and nan.any()
    np.testing.assert_array_equal(r.failed, crashed | nan)
    assert all("simulator crashed" in r.errors[i] for i in np.where(crashed)[0])
    assert not r.feasible[r.failed].any()
    df = r.to_dataframe()
    assert list(df.columns[:5]) == ["x", "y", "f1", "f2", "c1"]
    assert df["failed"].sum() == r.failed.sum()


def test_all_failed_run_finishes():
    def always_fails(p):
        raise ValueError("no")

    p = bj.Problem("bad", {"x": (0, 1)}, ["a"], evaluate=always_fails, ref_point=[1.0])
    r = bj.optimize(p, method="mc", budget=6, batch_size=2)
    assert r.failed.all() and len(r) == 6
    assert r.pareto()[1].shape == (0, 1)
    assert "0 feasible" in r.summary()


def test_pareto(toy_problem):
    r = bj.optimize(toy_problem, method="sobol", budget=64, batch_size=16)
    X, Y = r.pareto()
    assert len(Y) > 0
    assert np.all(r.feasible[np.isin(r.Y[:, 0], Y[:, 0])])
    for y in Y:
        assert not np.any(np.all(Y <= y, axis=1) & np.any(Y < y, axis=1))
    hv = r.hypervolume_history()
    assert np.all(np.diff(hv) >= -1e-12) and hv[-1] > 0


def test_checkpoint_and_load(toy_problem, tmp_path):
    run = tmp_path / "run"
    r = bj.optimize(toy_problem, method="slh", budget=20, batch_size=6, run_dir=run, seed=5)
    loaded = bj.load_result(run)
    for a in ("X", "Y", "C", "failed", "epoch"):
        np.testing.assert_array_equal(getattr(r, a), getattr(loaded, a))
    assert loaded.complete and loaded.settings["seed"] == 5
    assert not (run / "journal.jsonl").exists()
    assert not list(run.glob(".checkpoint.json.*"))  # no temporary files left
    with pytest.raises(FileExistsError, match="resume"):
        bj.optimize(toy_problem, method="slh", budget=20, batch_size=6, run_dir=run)
    # resuming a finished run evaluates nothing more
    again = bj.optimize(
        toy_problem, method="slh", budget=20, batch_size=6, run_dir=run, seed=5, resume=True
    )
    np.testing.assert_array_equal(again.X, r.X)
    with pytest.raises(ValueError, match="seed: saved 5, asked 6"):
        bj.optimize(
            toy_problem, method="slh", budget=20, batch_size=6, run_dir=run, seed=6, resume=True
        )


def test_resume_continues_and_extends_budget_identically(toy_problem, tmp_path):
    full = bj.optimize(toy_problem, method="sobol", budget=30, batch_size=7, seed=1)
    run = tmp_path / "r"
    bj.optimize(toy_problem, method="sobol", budget=30, batch_size=7, run_dir=run, seed=1)
    state = json.loads((run / "checkpoint.json").read_text())
    # Pretend the job died after two batches, with the third in flight.
    keep = int(np.searchsorted(np.asarray(state["epoch"]), 2, side="right"))
    pending_X = state["X"][keep : keep + 7]
    for key in ("X", "Y", "C", "failed", "epoch", "errors", "eval_seconds"):
        state[key] = state[key][:keep]
    state["complete"] = False
    state["pending"] = {"epoch": 3, "X": pending_X}
    (run / "checkpoint.json").write_text(json.dumps(state))
    res = bj.optimize(
        toy_problem, method="sobol", budget=30, batch_size=7, run_dir=run, seed=1, resume=True
    )
    np.testing.assert_allclose(res.X, full.X)
    np.testing.assert_allclose(res.Y, full.Y)
    np.testing.assert_array_equal(res.epoch, full.epoch)
    _, pending = load_checkpoint(run)
    assert pending is None


def test_argument_errors(toy_problem):
    with pytest.raises(ValueError, match="unknown method 'magic'"):
        bj.optimize(toy_problem, method="magic")
    with pytest.raises(ValueError, match="budget must be an integer >= 1"):
        bj.optimize(toy_problem, method="sobol", budget=0)
    with pytest.raises(ValueError, match="unknown initial_design"):
        bj.optimize(toy_problem, method="sobol", initial_design="grid")
    with pytest.raises(ValueError, match="n_initial .* exceeds budget"):
        bj.optimize(toy_problem, method="sobol", budget=5, n_initial=6)
    with pytest.raises(ValueError, match="resume=True needs run_dir"):
        bj.optimize(toy_problem, method="sobol", resume=True)
    with pytest.raises(TypeError, match="Problem"):
        bj.optimize("toy", method="sobol")


def test_executor_evaluator(flaky_problem):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        r = bj.optimize(flaky_problem, method="sobol", budget=12, batch_size=4, evaluator=pool)
    serial = bj.optimize(flaky_problem, method="sobol", budget=12, batch_size=4)
    np.testing.assert_array_equal(r.X, serial.X)
    np.testing.assert_array_equal(r.failed, serial.failed)
    np.testing.assert_allclose(r.Y[~r.failed], serial.Y[~serial.failed])
