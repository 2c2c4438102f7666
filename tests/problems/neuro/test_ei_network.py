"""The ``ei-network`` built-in: a spiking E/I network of adaptive LIF neurons."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems.neuro import ei_network as ei

REF = ei.REFERENCE_PARAMETERS


def vec(problem: bj.Problem, params: dict[str, float]) -> np.ndarray:
    return np.array([params[k] for k in problem.parameter_names])


@pytest.fixture(scope="module")
def problem() -> bj.Problem:
    return bj.problems.get("ei-network")


def test_shapes_and_reference_regime(problem: bj.Problem) -> None:
    assert problem.dim == 17
    assert problem.objective_names == ["rate_error", "cv_error", "synchrony_error"]
    assert problem.constraint_names == ["not_silent", "no_runaway", "ei_balance", "stable"]
    assert problem.ref_point is not None and problem.ref_point.shape == (3,)
    assert problem.metadata["reference_parameters"] == REF
    t0 = time.process_time()
    out = problem.evaluate(REF)
    cpu = time.process_time() - t0
    assert cpu < 2.0, f"one network took {cpu:.2f} s of CPU"
    # The reference is an asynchronous-irregular regime: rates in band, feasible.
    assert out["rate_error"] == 0.0
    assert out["cv_error"] < 0.5 and out["synchrony_error"] < 0.1
    assert all(out[c] > 0 for c in problem.constraint_names)
    assert all(out[k] < r for k, r in zip(problem.objective_names, problem.ref_point))


def test_deterministic_and_batch_equals_single() -> None:
    problem = ei.ei_network(n_exc=80, n_inh=20, duration=300.0)
    rng = np.random.default_rng(0)
    X = np.r_[vec(problem, REF)[None], problem.from_unit(rng.uniform(size=(2, 17)))]
    Y, C = problem._batch_evaluate(X)
    assert Y.shape == (3, 3) and C.shape == (3, 4)
    assert np.all(np.isfinite(Y)) and np.all(np.isfinite(C))
    again = ei.ei_network(n_exc=80, n_inh=20, duration=300.0)
    for i, x in enumerate(X):
        out = again.evaluate(x)
        np.testing.assert_array_equal([out[k] for k in problem.objective_names], Y[i])
        np.testing.assert_array_equal([out[k] for k in problem.constraint_names], C[i])
    other = ei.ei_network(n_exc=80, n_inh=20, duration=300.0, seed=1)
    assert not np.array_equal(other._batch_evaluate(X[:1])[0], Y[:1])


def test_pickles_by_name_and_directly(problem: bj.Problem) -> None:
    x = vec(problem, REF)
    clone = pickle.loads(pickle.dumps(problem))
    assert clone.evaluate(x) == problem.evaluate(x)
    small = ei.ei_network(n_exc=40, n_inh=10, duration=200.0)
    first = small.evaluate(x)
    blob = pickle.dumps(small)
    assert len(blob) < 50_000  # the seeded realisation is regenerated, not shipped
    assert pickle.loads(blob).evaluate(x) == first


def test_silent_and_runaway_regimes_violate_constraints() -> None:
    problem = ei.ei_network(n_exc=80, n_inh=20, duration=300.0)
    names = problem.parameter_names
    silent = vec(problem, REF)
    silent[names.index("nu_ext_e")] = silent[names.index("nu_ext_i")] = 2.0
    silent[names.index("w_ext")] = 0.05
    runaway = vec(problem, REF)
    runaway[names.index("w_e_to_e")] = 1.5
    runaway[names.index("p_e_to_e")] = 0.4
    runaway[names.index("w_i_to_e")] = 0.2
    runaway[names.index("w_e_to_i")] = 0.05
    feats = problem._batch_evaluate.features(np.stack([silent, runaway]))
    assert feats["rate_e"][0] == 0.0 and feats["rate_i"][0] == 0.0
    assert feats["rate_e"][1] > 100.0
    _, C = problem._batch_evaluate(np.stack([silent, runaway]))
    assert C[0, 0] < 0  # not_silent
    assert C[1, 1] < 0  # no_runaway
    assert C[0, 1] > 0 and C[1, 0] > 0


def test_connectivity_is_nested_in_probability() -> None:
    net = ei.EINetwork(n_exc=40, n_inh=10, seed=2)
    x = vec(bj.problems.get("ei-network"), REF)
    names = list(ei.PARAMETERS)
    lo = x.copy()
    lo[names.index("p_e_to_e")] = 0.1
    hi = x.copy()
    hi[names.index("p_e_to_e")] = 0.3
    W_lo = net.weights(lo)[:40, :40] > 0
    W_hi = net.weights(hi)[:40, :40] > 0
    assert np.all(W_hi[W_lo]) and W_hi.sum() > W_lo.sum()
    assert not np.any(np.diag(net.weights(hi)[:, :50]))  # no autapses
    assert W_hi.mean() == pytest.approx(0.3, abs=0.06)
    # E rows drive only excitatory currents, I rows only inhibitory ones.
    W = net.weights(x)
    assert not W[:40, 50:].any() and not W[40:, :50].any()


def test_spike_statistics_known_rasters() -> None:
    rng = np.random.default_rng(0)
    dt, T, n = 0.25, 40_000, 100  # 10 s
    poisson = rng.uniform(size=(1, T, n)) < 10.0 * dt * 1e-3
    locked = np.zeros((1, T, n), dtype=bool)
    locked[0, ::400, :] = True  # every neuron at 10 Hz, all together
    stats = ei.spike_statistics(np.concatenate([poisson, locked]), n_exc=80, dt=dt)
    np.testing.assert_allclose(stats["rate_e"], [10.0, 10.0], rtol=0.05)
    assert stats["cv"][0] == pytest.approx(1.0, abs=0.1)
    assert stats["cv"][1] == pytest.approx(0.0, abs=1e-9)
    assert stats["synchrony"][0] < 0.2 and stats["synchrony"][1] == pytest.approx(1.0)
    assert stats["rate_first"][0] == pytest.approx(stats["rate_last"][0], rel=0.1)
    silent = ei.spike_statistics(np.zeros((1, 400, 10), dtype=bool), n_exc=8, dt=dt)
    assert silent["cv"][0] == 0.0 and silent["synchrony"][0] == 0.0


def test_poisson_drive_matches_its_rate() -> None:
    lam = np.array([0.2, 1.5, 4.0])
    cdf = ei._poisson_cdf(lam, 40)
    u = np.random.default_rng(1).uniform(size=200_000)
    for k in range(3):
        counts = np.searchsorted(cdf[k], u)
        assert counts.mean() == pytest.approx(lam[k], rel=0.02)
        assert counts.var() == pytest.approx(lam[k], rel=0.05)
