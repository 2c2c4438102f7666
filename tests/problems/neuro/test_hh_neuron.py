"""The ``hh-neuron`` built-in problem (NEURON + eFEL); skipped when they are missing.

Each evaluation is three NEURON sweeps plus eFEL, so these tests keep to a handful.
"""

from __future__ import annotations

import multiprocessing
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems.neuro import hh_neuron as hn


@pytest.fixture(scope="module")
def problem() -> bj.Problem:
    pytest.importorskip("neuron")
    pytest.importorskip("efel")
    return bj.problems.get("hh-neuron")


@pytest.fixture(scope="module")
def truth_outputs(problem: bj.Problem) -> dict[str, float]:
    return problem.evaluate(problem.metadata["ground_truth"])


def test_missing_simulator_raises_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail, as if NEURON were not installed.
    monkeypatch.setitem(sys.modules, "neuron", None)
    with pytest.raises(ImportError, match=r"pip install -e '\.\[neuron\]'"):
        hn.hh_neuron()


def test_shapes_and_names(problem: bj.Problem) -> None:
    assert "hh-neuron" in bj.problems.names()
    assert problem.parameter_names == list(hn.PARAMETERS)
    assert 5 <= problem.dim <= 8
    assert problem.objective_names == hn.OBJECTIVES
    assert problem.constraint_names == hn.CONSTRAINTS
    np.testing.assert_array_equal(problem.ref_point, np.ones(problem.num_objectives))
    targets = problem.metadata["targets"]
    assert len(targets) == len(problem.metadata["currents_na"])
    counts = [tg["count"] for tg in targets]
    assert counts[0] > 0 and all(b > a for a, b in zip(counts, counts[1:]))


def test_ground_truth_feasible_with_zero_objectives(
    problem: bj.Problem, truth_outputs: dict[str, float]
) -> None:
    y = np.array([truth_outputs[o] for o in problem.objective_names])
    c = np.array([truth_outputs[k] for k in problem.constraint_names])
    np.testing.assert_allclose(y, 0.0, atol=1e-9)
    assert np.all(c > 0.2), dict(zip(problem.constraint_names, c))


def test_independent_of_neuron_and_efel_global_state(
    problem: bj.Problem, truth_outputs: dict[str, float]
) -> None:
    import efel
    from neuron import h

    # Leave NEURON and eFEL in a state that would change the result if it leaked in.
    stray = h.Section(name="stray")
    stray.insert("hh")
    h.dt, h.celsius = 0.1, 37.0
    h.cvode_active(1)
    efel.set_setting("Threshold", 10.0)
    try:
        again = problem.evaluate(problem.metadata["ground_truth"])
    finally:
        h.cvode_active(0)
        efel.reset()
        del stray
    assert again == truth_outputs


def test_worker_process_matches_and_non_spiking_is_not_failed(problem: bj.Problem) -> None:
    # A weak Na / strong K cell: no spikes at all, which is bad but not a failure.
    x = dict(problem.metadata["ground_truth"], gnabar=0.05, gkbar=0.08, gl=1e-3)
    x_arr = np.array([x[n] for n in problem.parameter_names])
    ev = problem.evaluate_point(x_arr)
    assert not ev.failed
    assert np.all(np.isfinite(ev.y)) and ev.y[2] == hn.NO_SPIKE_ERR
    c = dict(zip(problem.constraint_names, ev.c))
    assert c["spike_count_in_range"] < 0 and c["fi_monotonic"] < 0
    # The same evaluation in a fresh (spawned) worker process, the problem sent by pickle.
    clone = pickle.loads(pickle.dumps(problem))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        remote = pool.submit(clone.evaluate_point, x_arr).result(timeout=120)
    assert not remote.failed
    np.testing.assert_array_equal(remote.y, ev.y)
    np.testing.assert_array_equal(remote.c, ev.c)
