"""The ``hh-cell`` built-in problem: a vectorised Hodgkin-Huxley cell fitting task."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems.neuro import hh_cell as hh


@pytest.fixture(scope="module")
def problem() -> bj.Problem:
    return bj.problems.get("hh-cell")


@pytest.fixture(scope="module")
def random_draws(problem: bj.Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2000 uniform draws (seed 0, the first 2000 of the documented 10,000) and outputs."""
    X = problem.from_unit(np.random.default_rng(0).random((2000, problem.dim)))
    Y, C = problem._call_batch(X)
    return X, Y, C


def _as_row(out: dict[str, float], names: list[str]) -> np.ndarray:
    return np.array([out[n] for n in names])


def test_registered_shapes_and_names(problem: bj.Problem) -> None:
    assert "hh-cell" in bj.problems.names()
    assert problem.dim == 11
    assert problem.parameter_names == list(hh.PARAMETERS)
    assert problem.objective_names == hh.OBJECTIVES
    assert problem.constraint_names == hh.CONSTRAINTS
    assert problem.has_batch_evaluate
    np.testing.assert_array_equal(problem.ref_point, np.ones(4))
    assert problem.max_hv == 1.0
    truth = problem.metadata["ground_truth"]
    assert list(truth) == problem.parameter_names
    x = np.array([truth[n] for n in problem.parameter_names])
    assert np.all((problem.lower < x) & (x < problem.upper))
    Y, C = problem._call_batch(problem.from_unit(np.full((3, problem.dim), 0.5)))
    assert Y.shape == (3, 4) and C.shape == (3, 7)


def test_ground_truth_feasible_with_zero_objectives(problem: bj.Problem) -> None:
    out = problem.evaluate(problem.metadata["ground_truth"])
    np.testing.assert_allclose(_as_row(out, problem.objective_names), 0.0, atol=1e-12)
    # Inside every window with a margin, not on an edge.
    assert np.all(_as_row(out, problem.constraint_names) > 0.3)
    targets = problem.metadata["targets"]
    counts = targets["spike_count"]
    assert all(b > a for a, b in zip(counts, counts[1:]))  # the F-I curve is increasing
    assert 80 < targets["ap_amp"] < 110 and 0.3 < targets["ap_width"] < 1.5


def test_random_feasibility_is_rare_but_not_zero(
    problem: bj.Problem, random_draws: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, Y, C = random_draws
    failed = ~np.all(np.isfinite(Y), axis=1)
    assert not failed.any()  # nothing in the box breaks the simulator
    feasible = ~failed & np.all(C >= 0, axis=1)
    assert 0 < feasible.mean() <= 0.01
    # Every constraint bites somewhere and is satisfiable somewhere.
    rates = (C >= 0).mean(axis=0)
    assert np.all((rates > 0.0) & (rates < 1.0)), dict(zip(problem.constraint_names, rates))


def test_objectives_finite_and_graded(
    problem: bj.Problem, random_draws: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> None:
    _, Y, C = random_draws
    assert np.all(Y >= 0)
    # Not just +/-1: constraint values spread over many levels on both sides of 0
    # (fi_monotonic counts spikes, so its levels are half-integers).
    for j, name in enumerate(problem.constraint_names):
        levels = np.unique(np.round(C[:, j], 6))
        assert levels.size > (10 if name == "fi_monotonic" else 100), name
        assert levels.min() < -0.4 and levels.max() > 0.4, name
    # The ground truth's objectives (0) dominate random draws: most are above ~0.1.
    assert np.median(Y, axis=0).min() > 0.1


def test_batch_matches_pointwise_and_chunks(problem: bj.Problem) -> None:
    X = problem.from_unit(np.random.default_rng(3).random((3, problem.dim)))
    Y, C = problem._call_batch(X)
    for x, y, c in zip(X, Y, C):
        out = problem.evaluate(problem.to_dict(x))  # the dict -> dict path, one point
        np.testing.assert_allclose(_as_row(out, problem.objective_names), y, rtol=1e-9)
        np.testing.assert_allclose(_as_row(out, problem.constraint_names), c, rtol=1e-9)
    f_split = hh.features(X, chunk_size=2)
    f_one = hh.features(X)
    for key in f_one:
        np.testing.assert_array_equal(f_split[key], f_one[key])


def test_deterministic(problem: bj.Problem) -> None:
    X = problem.from_unit(np.random.default_rng(4).random((5, problem.dim)))
    Y1, C1 = problem._call_batch(X)
    Y2, C2 = bj.problems.get("hh-cell")._call_batch(X)
    np.testing.assert_array_equal(Y1, Y2)
    np.testing.assert_array_equal(C1, C2)


def test_speed_sanity(problem: bj.Problem) -> None:
    X = problem.from_unit(np.random.default_rng(5).random((200, problem.dim)))
    t0 = time.process_time()
    problem._call_batch(X)
    # ~0.5 s of CPU on one core; loose for shared CI machines.
    assert time.process_time() - t0 < 5.0


def test_non_spiking_cell_is_bad_not_failed(problem: bj.Problem) -> None:
    x = dict(problem.metadata["ground_truth"], g_na=20.0, v_t=-45.0, g_kd=20.0, g_leak=0.1)
    f = hh.features(np.array([[x[n] for n in problem.parameter_names]]))
    assert f["spike_count"].sum() == 0
    ev = problem.evaluate_point(np.array([x[n] for n in problem.parameter_names]))
    assert not ev.failed
    assert np.all(np.isfinite(ev.y)) and np.all(ev.y >= 1.0)
    assert ev.y[2] == hh.NO_SPIKE_ERR and ev.y[3] == hh.NO_SPIKE_ERR
    c = dict(zip(problem.constraint_names, ev.c))
    assert c["fi_monotonic"] < 0 and c["adaptation_in_range"] == -1.0


def test_blow_up_is_a_failed_evaluation_not_an_exception(problem: bj.Problem) -> None:
    truth = np.array([problem.metadata["ground_truth"][n] for n in problem.parameter_names])
    bad = np.tile(truth, (4, 1))
    bad[0, 0] = np.nan  # g_na
    bad[1, 7] = -1.0  # negative capacitance: the membrane equation diverges
    bad[2, :4] = 0.0  # no conductance at all: V is undefined
    Y, C = hh.HHCellSimulator()(bad)
    assert np.all(np.isnan(Y[:3])) and np.all(np.isnan(C[:3]))
    assert np.all(np.isfinite(Y[3])) and np.all(Y[3] == 0.0)  # the untouched row
    # Through the Problem (no bounds check on this path): recorded as failed.
    ev = problem.evaluate_point(bad[1])
    assert ev.failed and np.all(np.isnan(ev.y))


def test_simulate_traces(problem: bj.Problem) -> None:
    truth = problem.metadata["ground_truth"]
    t, V = hh.simulate(truth, dt=0.05)
    n_sweeps = len(problem.metadata["currents_na"])
    assert V.shape == (1, n_sweeps, t.size)
    assert t[0] == 0.0 and np.isclose(t[1] - t[0], 0.05) and np.isclose(t[-1], 400.0)
    assert np.all(np.isfinite(V))
    onset = int(round(100.0 / 0.05))
    np.testing.assert_allclose(V[0, :, :onset], V[0, :1, :onset].repeat(n_sweeps, axis=0))
    assert V[0, 0, -1] < V[0, 0, onset] - 10.0  # the hyperpolarising step hyperpolarises
    above = V[0, 1:, onset:] >= hh.SPIKE_THRESHOLD
    counts = (~above[:, :-1] & above[:, 1:]).sum(axis=1)
    np.testing.assert_array_equal(counts, problem.metadata["targets"]["spike_count"])
    # Several parameter sets at once, as an array.
    X = np.stack([[truth[n] for n in problem.parameter_names]] * 2)
    t2, V2 = hh.simulate(X, currents=[0.2], t_baseline=20.0, t_step=50.0)
    assert V2.shape == (2, 1, t2.size) and np.array_equal(V2[0], V2[1])


def test_picklable(problem: bj.Problem) -> None:
    x = problem.metadata["ground_truth"]
    expected = problem.evaluate(x)
    # By registry name (from get) and by value (a factory-built problem).
    for p in (problem, hh.hh_cell()):
        clone = pickle.loads(pickle.dumps(p))
        assert clone.evaluate(x) == expected


def test_features_rejects_bad_protocol() -> None:
    with pytest.raises(ValueError, match="hyperpolarising"):
        hh.features(np.zeros((1, 11)), currents=[0.1, 0.2, 0.3])


def test_passfail_variant_reports_signs_only():
    import botorch_joint as bj

    graded, passfail = bj.problems.get("hh-cell"), bj.problems.get("hh-cell-passfail")
    assert "hh-cell-passfail" in bj.problems.names() and passfail.name == "hh-cell-passfail"
    X = graded.from_unit(np.random.default_rng(0).random((40, graded.dim)))
    C = np.stack([e.c for e in graded.evaluate_batch(X)])
    Cp = np.stack([e.c for e in passfail.evaluate_batch(X)])
    ok = np.isfinite(C)
    np.testing.assert_array_equal(Cp[ok], np.where(C[ok] >= 0, 1.0, -1.0))
    assert np.isnan(Cp[~ok]).all()
