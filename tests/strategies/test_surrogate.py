"""The six surrogate methods through ``bj.optimize`` (tiny models, small budgets)."""

from __future__ import annotations

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.strategies import make_strategy
from botorch_joint.strategies.surrogate import SurrogateStrategy

SEARCH = {"pop_size": 16, "generations": 2, "cgd_starts": 6, "cgd_steps": 5}
NET = {"ensemble_size": 2, "max_epochs": 8, "patience": 4}
MODEL_OPTIONS = {
    "c+o-ftt": {**NET, "network_options": {"dim": 8, "heads": 2, "n_blocks": 1}},
    "o-ftt": {**NET, "network_options": {"dim": 8, "heads": 2, "n_blocks": 1}},
    "c+o-resnet": {**NET, "network_options": {"width": 16, "n_blocks": 1}},
    "o-resnet": {**NET, "network_options": {"width": 16, "n_blocks": 1}},
    "gpr": {},
    "megp": {},
}


GP_FIT = {"optimizer_kwargs": {"options": {"maxiter": 20}}}


def _options(method: str, **extra) -> dict:
    return {
        "model_options": MODEL_OPTIONS[method],
        "fit_options": GP_FIT if method in ("gpr", "megp") else {},
        "search_options": SEARCH,
        "sensitivity_options": {"n": 32},
        "num_threads": 1,
        **extra,
    }


@pytest.mark.parametrize("method", list(MODEL_OPTIONS))
def test_every_surrogate_method_runs_in_optimize(toy_problem, method):
    res = bj.optimize(
        toy_problem,
        method=method,
        budget=11,
        n_initial=8,
        batch_size=3,
        seed=0,
        progress=False,
        method_options=_options(method),
    )
    assert len(res) == 11 and res.method == method
    assert set(res.epoch.tolist()) == {0, 1}
    lo, hi = toy_problem.bounds
    assert np.all(res.X >= lo) and np.all(res.X <= hi)
    new = res.X[res.epoch == 1]
    old = res.X[res.epoch == 0]
    assert np.min(np.linalg.norm(new[:, None] - old[None], axis=-1)) > 0
    t = res.timings[-1]
    assert t["train_seconds"] > 0 and t["search_seconds"] > 0


def test_proposal_info_and_reproducibility(toy_problem):
    data = bj.optimize(
        toy_problem, method="sobol", budget=12, seed=1, progress=False
    )  # any data will do
    a = SurrogateStrategy(toy_problem, "c+o-ftt", 30, seed=5, **_options("c+o-ftt"))
    b = SurrogateStrategy(toy_problem, "c+o-ftt", 30, seed=5, **_options("c+o-ftt"))
    pa, pb = a.propose(data, 4, 1), b.propose(data, 4, 1)
    # a fresh strategy (as after a resume) proposes the same batch for the same epoch
    np.testing.assert_array_equal(pa.X, pb.X)
    assert pa.X.shape == (4, 2)
    info = pa.info
    assert len(info["predicted_p_feasible"]) == 4
    assert set(info["sensitivity"]) == {"x", "y"}
    assert info["trace_samples"] == SEARCH["cgd_starts"] * (SEARCH["cgd_steps"] + 1)
    # another epoch draws another stream
    assert not np.array_equal(a.propose(data, 4, 2).X, pa.X)


def test_objective_only_has_no_feasibility(toy_problem):
    data = bj.optimize(toy_problem, method="sobol", budget=10, seed=0, progress=False)
    s = SurrogateStrategy(toy_problem, "o-resnet", 30, sensitivity=None, **_options("o-resnet"))
    prop = s.propose(data, 3, 1)
    assert "predicted_p_feasible" not in prop.info and "sensitivity" not in prop.info
    assert prop.X.shape == (3, 2)


@pytest.mark.parametrize("sensitivity", ["fast", "dgsm"])
def test_sensitivity_choice(toy_problem, sensitivity):
    data = bj.optimize(toy_problem, method="sobol", budget=10, seed=0, progress=False)
    s = make_strategy(
        "gpr", toy_problem, budget=20, sensitivity=sensitivity, options=_options("gpr")
    )
    prop = s.propose(data, 2, 1)
    assert abs(sum(prop.info["sensitivity"].values()) - 1.0) < 1e-3


def test_failed_rows_and_fallback(flaky_problem):
    res = bj.optimize(
        flaky_problem,
        method="c+o-resnet",
        budget=14,
        n_initial=10,
        batch_size=4,
        seed=3,
        progress=False,
        method_options=_options("c+o-resnet"),
    )
    assert len(res) == 14 and res.failed.any()
    # nothing usable at all: the strategy falls back to uniform samples
    empty = bj.Result.empty(flaky_problem)
    X = np.array([[0.9, 0.1], [0.95, 0.2]])
    empty.append(X, flaky_problem.evaluate_batch(X), 0)
    s = SurrogateStrategy(flaky_problem, "gpr", 20, **_options("gpr"))
    prop = s.propose(empty, 3, 1)
    assert prop.X.shape == (3, 2) and "fallback" in prop.info


def test_unknown_method(toy_problem):
    with pytest.raises(ValueError, match="unknown surrogate method"):
        SurrogateStrategy(toy_problem, "nope", 10)


def test_unknown_or_removed_search_option_is_refused_before_the_run(toy_problem):
    with pytest.raises(ValueError, match="'local_fraction': removed with the local slots"):
        SurrogateStrategy(toy_problem, "gpr", 10, search_options={"local_fraction": 0.3})
    with pytest.raises(ValueError, match="'pop_sise': not a search option"):
        bj.optimize(
            toy_problem, method="gpr", budget=10, progress=False,
            method_options={"search_options": {"pop_sise": 8}},
        )  # fmt: skip


def _corner_only(p: dict) -> dict:
    """Fails everywhere except in a small corner (a simulator that rarely runs)."""
    if p["x"] < 0.9 or p["y"] < 0.9:
        raise RuntimeError("simulation diverged")
    return {"f1": p["x"], "f2": 1.0 - p["y"], "c1": p["x"] - 0.95}


@pytest.mark.parametrize("method", list(MODEL_OPTIONS))
def test_no_successful_design_point_does_not_stop_the_run(method):
    problem = bj.Problem(
        "corner",
        {"x": (0.0, 1.0), "y": (0.0, 1.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=_corner_only,
    )  # fmt: skip  (no ref_point: the search derives one from the data)
    X0 = problem.from_unit(np.random.default_rng(0).random((6, 2)) * 0.8)
    data = bj.Result.empty(problem)
    data.append(X0, problem.evaluate_batch(X0), 0)
    # one success, in the corner: two methods can fit nothing to it yet
    X1 = np.array([[0.97, 0.95]])
    data.append(X1, problem.evaluate_batch(X1), 1)
    assert data.failed.sum() == 6
    strategy = SurrogateStrategy(problem, method, 20, **_options(method))
    for epoch, batch in ((1, data.copy()), (2, data)):
        if epoch == 1:  # nothing succeeded at all
            batch = bj.Result.empty(problem)
            batch.append(X0, problem.evaluate_batch(X0), 0)
        prop = strategy.propose(batch, 4, epoch + 1)
        assert prop.X.shape == (4, 2) and np.isfinite(prop.X).all()
    res = bj.optimize(
        problem, method=method, budget=14, n_initial=6, batch_size=4, seed=0,
        progress=False, method_options=_options(method),
    )  # fmt: skip
    assert len(res) == 14 and res.failed.sum() >= 6


def test_joint_methods_search_a_gp_mixture_that_starts_as_the_gp(toy_problem):
    """c+o- methods mix in a GP per output; with too few rows for folds, the GP alone."""
    data = bj.Result.empty(toy_problem)
    X = toy_problem.from_unit(np.random.default_rng(0).random((8, 2)))
    data.append(X, toy_problem.evaluate_batch(X), 0)
    options = _options("c+o-ftt", model_options={**MODEL_OPTIONS["c+o-ftt"], "ensemble_size": 5})
    strategy = SurrogateStrategy(toy_problem, "c+o-ftt", 40, **options)
    assert strategy.gp_mixture
    info = strategy.propose(data, 3, 1).info
    assert info["mixture_rows"] == 0  # 8 rows < 2 per member: no folds
    assert info["mixture_weight"] == [0.0, 0.0] and info["mixture_feasibility_weight"] == [0.0]
    X2 = toy_problem.from_unit(np.random.default_rng(1).random((22, 2)))
    data.append(X2, toy_problem.evaluate_batch(X2), 1)
    info = strategy.propose(data, 3, 2).info
    assert info["mixture_rows"] == 30  # five folds of six rows, each predicted held out
    assert all(0.0 <= w <= 1.0 for w in info["mixture_weight"] + info["mixture_feasibility_weight"])
    # the GP-only and network-only variants stay available
    assert not SurrogateStrategy(toy_problem, "gpr", 40).gp_mixture
    assert not SurrogateStrategy(toy_problem, "o-ftt", 40).gp_mixture
    assert not SurrogateStrategy(toy_problem, "c+o-ftt", 40, gp_mixture=False).gp_mixture
    with pytest.raises(ValueError, match="gp_mixture applies to the network methods"):
        SurrogateStrategy(toy_problem, "megp", 40, gp_mixture=True)


def test_the_mixtures_gp_conditions_on_at_most_the_cap(toy_problem, monkeypatch):
    """Past MIXTURE_GP_MAX_ROWS rows the mixture's GP keeps a fixed size; gpr stays exact."""
    import botorch_joint.strategies.surrogate as surrogate

    monkeypatch.setattr(surrogate, "MIXTURE_GP_MAX_ROWS", 20)
    data = bj.Result.empty(toy_problem)
    X = toy_problem.from_unit(np.random.default_rng(0).random((30, 2)))
    data.append(X, toy_problem.evaluate_batch(X), 0)
    strategy = SurrogateStrategy(toy_problem, "c+o-ftt", 40, **_options("c+o-ftt"))
    gp = strategy.fit(data, 1, "gpr")
    assert all(len(rows) == 30 and int(rows.sum()) <= 20 for rows in gp._rows)
    assert max(m.train_inputs[0].shape[0] for m in gp.models) <= 20
    info = strategy.propose(data, 3, 1).info
    assert all(0.0 <= w <= 1.0 for w in info["mixture_weight"] + info["mixture_feasibility_weight"])
    exact = SurrogateStrategy(toy_problem, "gpr", 40, **_options("gpr")).fit(data, 1)
    assert exact.models[-1].train_inputs[0].shape[0] == 30
