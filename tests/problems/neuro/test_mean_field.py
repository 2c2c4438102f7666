"""The ``mean-field`` built-in: FIC mean-field model on a synthetic connectome."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest
from scipy.sparse.csgraph import connected_components
from scipy.stats import ks_2samp

import botorch_joint as bj
from botorch_joint.problems.neuro import mean_field as mf

SMALL = {"n_sessions": 4, "session_seconds": 40.0}


@pytest.fixture(scope="module")
def small() -> bj.Problem:
    return mf.mean_field(**SMALL)


def truth(problem: bj.Problem) -> np.ndarray:
    return np.array([problem.metadata["ground_truth"][k] for k in problem.parameter_names])


def test_shipped_connectome_is_the_generated_one() -> None:
    shipped = mf.load_connectome()
    sc = shipped["sc"]
    assert sc.shape == (68, 68)
    np.testing.assert_array_equal(sc, sc.T)
    assert np.all(np.diag(sc) == 0) and np.all(sc >= 0)
    assert connected_components(sc > 0)[0] == 1
    assert sc.sum(axis=1).mean() == pytest.approx(1.0)
    assert 0.05 < (sc > 0).mean() < 0.5
    for name in ("myelin", "gradient"):
        assert shipped[name].shape == (68,)
        assert shipped[name].min() == pytest.approx(-1) and shipped[name].max() == pytest.approx(1)
    regenerated = mf.make_synthetic_connectome()
    for key, value in regenerated.items():
        np.testing.assert_allclose(shipped[key], value, rtol=0, atol=1e-12, err_msg=key)


def test_registry_shapes_and_ground_truth_optimum() -> None:
    assert "mean-field" in bj.problems.names()
    problem = bj.problems.get("mean-field")
    assert problem.dim == 10
    assert problem.objective_names == ["fc_mismatch", "fcd_ks"]
    assert problem.constraint_names == ["rate_in_range"]
    np.testing.assert_allclose(problem.ref_point, [1.0, 1.0])
    assert problem.max_hv == 1.0
    x = truth(problem)
    assert np.all((problem.lower < x) & (x < problem.upper))
    t0 = time.process_time()
    out = problem.evaluate(x)
    cpu = time.process_time() - t0
    # Same noise realisation as the targets: the ground truth reproduces them exactly,
    # with every region near the 3 Hz FIC set point.
    assert out["fc_mismatch"] == pytest.approx(0.0, abs=1e-12)
    assert out["fcd_ks"] == 0.0
    assert 0.25 < out["rate_in_range"] <= 0.3
    rates = np.array(problem.metadata["ground_truth_rates"])
    assert np.all(np.abs(rates - 3.0) < 0.05)
    assert cpu < 3.0, f"one evaluation took {cpu:.2f} s of CPU"


def test_objectives_grow_away_from_the_truth(small: bj.Problem) -> None:
    x = truth(small)
    X = np.repeat(x[None], 3, axis=0)
    X[1, 0] += 0.05  # G
    X[2, 0] += 0.25
    Y, C = small._batch_evaluate(X)
    assert Y[0, 0] == pytest.approx(0.0, abs=1e-12) and Y[0, 1] == 0.0
    assert 0 < Y[1, 0] < Y[2, 0]
    assert np.all(C >= 0)


def test_rate_window_constraint(small: bj.Problem) -> None:
    x = truth(small)
    X = np.repeat(x[None], 2, axis=0)
    X[1, small.parameter_names.index("w_ee")] = 0.95  # strong recurrence: unstable set point
    model = small._batch_evaluate.model
    _, rates = model.simulate(X)
    assert np.all(np.abs(rates[0] - 3.0) < 0.05)
    assert rates[1].max() > 3.3
    _, C = small._batch_evaluate(X)
    assert C[0, 0] > 0 > C[1, 0]
    np.testing.assert_allclose(C[1, 0], np.minimum(rates[1] - 2.7, 3.3 - rates[1]).min())


def test_fic_weights_and_regional_maps(small: bj.Problem) -> None:
    model = small._batch_evaluate.model
    x = truth(small)
    reg = model.regional(x[None])
    p = small.metadata["ground_truth"]
    expected_wee = p["w_ee"] * (
        1 + p["w_ee_myelin"] * model.myelin + p["w_ee_gradient"] * model.gradient
    )
    np.testing.assert_allclose(reg["w_ee"][0], expected_wee)
    assert np.all(reg["w_ie"] > 0)
    # More global coupling needs more feedback inhibition to hold 3 Hz.
    x2 = x.copy()
    x2[0] += 1.0
    assert np.all(model.regional(x2[None])["w_ie"] > reg["w_ie"])


def test_deterministic_batch_equals_single_and_pickles(small: bj.Problem) -> None:
    rng = np.random.default_rng(3)
    X = small.from_unit(rng.uniform(size=(3, small.dim)))
    Y, C = small._batch_evaluate(X)
    assert Y.shape == (3, 2) and C.shape == (3, 1)
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(C))
    single = small.evaluate(X[1])
    np.testing.assert_allclose([single["fc_mismatch"], single["fcd_ks"]], Y[1], rtol=1e-10)
    clone = pickle.loads(pickle.dumps(small))
    Y2, C2 = clone._batch_evaluate(X)
    np.testing.assert_array_equal(Y, Y2)
    np.testing.assert_array_equal(C, C2)


def test_independent_target_noise_keeps_truth_feasible() -> None:
    problem = mf.mean_field(target_noise_seed=7, **SMALL)
    assert problem.max_hv is None
    out = problem.evaluate(truth(problem))
    assert out["rate_in_range"] > 0
    assert 0 < out["fc_mismatch"] < 1 and 0 < out["fcd_ks"] < 0.5


def test_readout_helpers() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.normal(0.3, 1.0, size=200)
    assert mf.ks_distance(a, b) == pytest.approx(ks_2samp(a, b).statistic)
    assert mf.ks_distance(a, a) == 0.0
    fc = rng.normal(size=50)
    assert mf.fc_mismatch(fc, fc) == pytest.approx(0.0, abs=1e-12)
    assert mf.fc_mismatch(-fc, fc) == pytest.approx(2.0)
    assert mf.fc_mismatch(np.ones(50), fc) == 1.0
    # Two regions sharing a common signal, a third independent.
    common = rng.normal(size=(1, 2, 400, 1))
    bold = np.concatenate(
        [common + 0.5 * rng.normal(size=(1, 2, 400, 2)), rng.normal(size=(1, 2, 400, 1))], -1
    )
    fc = mf.functional_connectivity(bold)[0]  # pairs (0,1), (0,2), (1,2)
    assert fc[0] == pytest.approx(0.8, abs=0.06)
    assert abs(fc[1]) < 0.12 and abs(fc[2]) < 0.12
    fcd = mf.fcd_values(bold, window=50)
    assert fcd.shape == (1, 2 * (351 * 350 // 2))
    hrf = mf.canonical_hrf(0.25)
    assert 4.0 < hrf.argmax() * 0.25 < 6.0 and hrf.min() < 0
