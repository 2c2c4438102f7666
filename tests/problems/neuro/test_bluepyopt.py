"""``from_bluepyopt``: BluePyOpt evaluators as problems (skipped without BluePyOpt).

Evaluations run NEURON and eFEL (about 0.1-0.5 s each for simplecell), so the tests keep
to a few dozen of them.
"""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems.neuro import bluepyopt as bpo
from botorch_joint.problems.neuro import bluepyopt_evaluate as bpo_evaluate
from botorch_joint.problems.neuro import bluepyopt_models as models


def installed(*modules: str) -> bool:
    """Whether every module imports (a missing one skips; a broken one errors loudly)."""
    try:
        for m in modules:
            importlib.import_module(m)
    except ModuleNotFoundError:
        return False
    return True


def test_importing_botorch_joint_does_not_import_bluepyopt_or_neuron() -> None:
    code = (
        "import sys, botorch_joint as bj\n"
        "bj.problems.names(); bj.Problem; bj.problems.from_bluepyopt\n"
        "import botorch_joint.problems.neuro.bluepyopt\n"
        "import botorch_joint.problems.neuro.bluepyopt_models\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('bluepyopt', 'neuron', 'efel')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_missing_bluepyopt_raises_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes the import fail, as if BluePyOpt were not installed
    monkeypatch.setitem(sys.modules, "bluepyopt", None)
    monkeypatch.setitem(sys.modules, "bluepyopt.ephys", None)
    monkeypatch.setattr(bpo_evaluate, "_CACHE", {})  # nothing built earlier in this process
    with pytest.raises(ImportError, match=r"botorch-joint\[bluepyopt\]"):
        bj.problems.get("bluepyopt-simplecell")


needs_bluepyopt = pytest.mark.skipif(
    not installed("bluepyopt", "neuron", "efel"),
    reason="needs the bluepyopt extra (BluePyOpt, NEURON, eFEL)",
)

AP_FACTORY = "botorch_joint.problems.neuro.bluepyopt_models:simplecell_ap_evaluator"
DEFAULT = {"gnabar_hh": 0.1, "gkbar_hh": 0.03}  # simplecell's own parameters
SILENT = {"gnabar_hh": 0.07, "gkbar_hh": 0.05}  # no spike at 0.01 nA: no AP amplitude
BUSY = {"gnabar_hh": 0.125, "gkbar_hh": 0.01}  # 13 spikes at 0.01 nA
SMALL = {
    "model_options": {"ensemble_size": 1, "max_epochs": 10},
    "search_options": {"pop_size": 16, "generations": 2, "cgd_starts": 4, "cgd_steps": 4},
}


@pytest.fixture(scope="module")
def shipped():
    """The evaluator BluePyOpt ships as its example (one objective, Step1.Spikecount)."""
    from bluepyopt.ephys.examples.simplecell import SimpleCell

    return SimpleCell().cell_evaluator


@pytest.fixture(scope="module")
def ap_evaluator():
    return models.simplecell_ap_evaluator()


def rest_potential(responses) -> float:
    """A user constraint on the responses: resting potential before the step above -75 mV."""
    r = responses["step1.soma.v"]
    t, v = np.asarray(r["time"]), np.asarray(r["voltage"])
    return float(np.mean(v[(t > 50) & (t < 100)]) + 75.0)


class Unpicklable:
    """Wraps an evaluator and holds a lambda, as a user's evaluator might."""

    def __init__(self, ev):
        self.__dict__.update(ev.__dict__)
        self._ev = ev
        self.hook = lambda: None

    def __getattr__(self, name):
        return getattr(self.__dict__["_ev"], name)


# --------------------------------------------------------------------- wrapping
@needs_bluepyopt
def test_wraps_simplecell_evaluator(shipped) -> None:
    problem = bj.problems.from_bluepyopt(shipped)
    assert problem.parameters == {"gnabar_hh": (0.05, 0.125), "gkbar_hh": (0.01, 0.075)}
    assert problem.objective_names == ["Step1.Spikecount"]
    assert problem.constraint_names == [] and problem.ref_point is None
    assert problem.name == "bluepyopt-simple_cell"
    for params in (DEFAULT, SILENT, BUSY):
        ours = problem.evaluate(params)
        theirs = shipped.evaluate_with_dicts(dict(params))  # BluePyOpt's own, isolated run
        assert ours == pytest.approx({k: float(v) for k, v in theirs.items()})
    assert problem.evaluate(DEFAULT)["Step1.Spikecount"] == 0.0  # 1 spike, the target
    assert problem.evaluate(BUSY)["Step1.Spikecount"] > 3.0


@needs_bluepyopt
def test_problem_alias_and_thresholds(shipped) -> None:
    problem = bj.Problem.from_bluepyopt(shipped, threshold=3.0)
    assert problem.constraint_names == ["Step1.Spikecount_le_3sd"]
    np.testing.assert_array_equal(problem.ref_point, [3.0])
    out = problem.evaluate(BUSY)
    assert out["Step1.Spikecount_le_3sd"] == pytest.approx(3.0 - out["Step1.Spikecount"])
    assert problem.evaluate(DEFAULT)["Step1.Spikecount_le_3sd"] == 3.0
    with pytest.raises(bj.problems.ProblemDefinitionError, match="unknown objective"):
        bj.problems.from_bluepyopt(shipped, threshold={"nope": 3.0})
    with pytest.raises(bj.problems.ProblemDefinitionError, match="positive"):
        bj.problems.from_bluepyopt(shipped, threshold=0.0)
    with pytest.raises(bj.problems.ProblemDefinitionError, match="on_failure"):
        bj.problems.from_bluepyopt(shipped, on_failure="ignore")
    with pytest.raises(TypeError, match="BluePyOpt evaluator"):
        bj.problems.from_bluepyopt(object())


@needs_bluepyopt
def test_efel_failure_fails_the_evaluation(ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(ap_evaluator, threshold=5.0)
    # BluePyOpt itself gives the silent cell its 250 penalty ...
    raw = ap_evaluator.evaluate_with_dicts(dict(SILENT))
    assert raw["step1.AP_amplitude"] == 250.0
    # ... which here is a failed evaluation naming the feature, not a regression target.
    ev = problem.evaluate_point(np.array([SILENT[n] for n in problem.parameter_names]))
    assert ev.failed and "FeatureFailure" in ev.error and "step1.AP_amplitude" in ev.error
    assert np.all(np.isnan(ev.y))
    good = problem.evaluate_point(np.array([DEFAULT[n] for n in problem.parameter_names]))
    assert not good.failed and np.all(good.c > 0)
    # eFEL scores per-spike features by the mean deviation over the spikes, so the known
    # cell's five spikes of different heights score above 0 on step2.AP_amplitude
    np.testing.assert_allclose(good.y[:3], 0.0, atol=1e-9)
    assert 0.0 < good.y[3] < 3.0


@needs_bluepyopt
def test_efel_failure_as_infeasible(ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(
        ap_evaluator, threshold=5.0, on_failure="infeasible", failure_value=12.0
    )
    assert problem.constraint_names[-1] == bpo.FEATURES_COMPUTED
    out = problem.evaluate(SILENT)
    assert out["step1.AP_amplitude"] == 12.0  # not 250
    assert out["step1.AP_amplitude_le_5sd"] == -7.0
    assert out[bpo.FEATURES_COMPUTED] == -1.0
    assert out["step2.AP_amplitude"] < 250.0  # the second step spikes: computed
    ok = problem.evaluate(DEFAULT)
    assert ok[bpo.FEATURES_COMPUTED] == 1.0
    ev = problem.evaluate_point(np.array([SILENT[n] for n in problem.parameter_names]))
    assert not ev.failed and np.all(np.isfinite(ev.y)) and ev.c.min() < 0


@needs_bluepyopt
def test_user_constraint_on_responses(ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(
        ap_evaluator, threshold=3.0, constraints={"rest_above_-75mV": rest_potential}
    )
    assert problem.constraint_names[-1] == "rest_above_-75mV"
    out = problem.evaluate(DEFAULT)
    assert 5.0 < out["rest_above_-75mV"] < 15.0  # rests near -65 mV
    responses = bpo.run_protocols(problem, DEFAULT)
    assert set(responses) == {"step1.soma.v", "step2.soma.v"}
    assert bpo.get_evaluator(problem) is ap_evaluator


@needs_bluepyopt
def test_isolated_protocols_match_and_refuse_daemonic_workers(ap_evaluator) -> None:
    here = bj.problems.from_bluepyopt(ap_evaluator, threshold=3.0)
    forked = bj.problems.from_bluepyopt(ap_evaluator, threshold=3.0, isolate=True)
    assert forked.evaluate(BUSY) == here.evaluate(BUSY)
    result = bj.optimize(
        forked, method="sobol", budget=2, batch_size=2, evaluator="process", n_workers=1,
        progress=False,
    )  # fmt: skip
    assert result.failed.all() and "isolate=False" in result.errors[0]


# --------------------------------------------------------------------- pickling
@needs_bluepyopt
def test_pickles_with_the_evaluator(ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(ap_evaluator, threshold=3.0)
    clone = pickle.loads(pickle.dumps(problem))
    assert clone.evaluate(BUSY) == problem.evaluate(BUSY)


@needs_bluepyopt
def test_unpicklable_evaluator_needs_a_factory(ap_evaluator) -> None:
    wrapped = Unpicklable(ap_evaluator)
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for a lambda
        pickle.dumps(wrapped)
    problem = bj.problems.from_bluepyopt(wrapped, threshold=3.0)
    assert problem.evaluate(DEFAULT)["step1.Spikecount"] == 0.0  # usable in this process
    with pytest.raises(TypeError, match="factory="):
        pickle.dumps(problem)
    rebuilt = bj.problems.from_bluepyopt(wrapped, factory=AP_FACTORY, threshold=3.0)
    blob = pickle.dumps(rebuilt)
    assert b"Unpicklable" not in blob and AP_FACTORY.encode() in blob
    clone = pickle.loads(blob)
    assert clone.evaluate(BUSY) == pytest.approx(problem.evaluate(BUSY))


@needs_bluepyopt
def test_factory_path_alone() -> None:
    problem = bj.problems.from_bluepyopt(AP_FACTORY, threshold=3.0)
    assert len(problem.objective_names) == 4
    assert problem.metadata["bluepyopt"]["factory"] == AP_FACTORY
    with pytest.raises(ValueError, match="module:name|package.module:name"):
        bj.problems.from_bluepyopt("no_colon_here")


# ------------------------------------------------------------------ optimising
@needs_bluepyopt
@pytest.mark.parametrize("evaluator", [None, "process"])
def test_optimize_serial_and_process(evaluator, ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(ap_evaluator, threshold=5.0)
    kwargs = {"n_workers": 2} if evaluator == "process" else {}
    result = bj.optimize(
        problem, method="sobol", budget=12, batch_size=6, evaluator=evaluator,
        progress=False, seed=0, **kwargs,
    )  # fmt: skip
    assert len(result) == 12
    # simplecell's box has silent cells: some evaluations fail, by eFEL, and are kept
    assert result.failed.any() and not result.failed.all()
    for err in np.asarray(result.errors, dtype=object)[result.failed]:
        assert "FeatureFailure" in err and "AP_amplitude" in err
    # the successes are exactly what the evaluator scores in this process
    i = int(np.flatnonzero(~result.failed)[0])
    direct = problem.evaluate(result.X[i])
    np.testing.assert_allclose(result.Y[i], [direct[o] for o in problem.objective_names])


@needs_bluepyopt
def test_surrogate_method_runs_through_it(ap_evaluator) -> None:
    problem = bj.problems.from_bluepyopt(ap_evaluator, threshold=5.0)
    result = bj.optimize(
        problem, method="c+o-ftt", budget=12, n_initial=8, batch_size=4,
        method_options=SMALL, progress=False, seed=1,
    )  # fmt: skip
    assert len(result) == 12 and (result.epoch == 1).sum() == 4
    assert np.all(np.isfinite(result.Y[~result.failed]))


# ------------------------------------------------------------------ built-ins
@needs_bluepyopt
def test_builtin_simplecell() -> None:
    problem = bj.problems.get("bluepyopt-simplecell")
    assert problem.objective_names == ["step1.Spikecount", "step2.Spikecount"]
    out = problem.evaluate(problem.metadata["ground_truth"])
    assert all(out[o] == 0.0 for o in problem.objective_names)  # 1 and 5 spikes
    clone = pickle.loads(pickle.dumps(problem))  # by name
    assert clone.metadata["_builtin"][0] == "bluepyopt-simplecell"


@needs_bluepyopt
def test_builtin_ballstick_truth_is_feasible() -> None:
    problem = bj.problems.get("bluepyopt-ballstick", threshold=3.0)
    assert problem.dim == 10 and problem.num_objectives == 5
    ev = bpo.get_evaluator(problem)
    n_features = sum(len(o.features) for o in ev.objectives)
    assert n_features == 20
    truth = problem.metadata["ground_truth"]
    y = problem.evaluate_point(np.array([truth[n] for n in problem.parameter_names]))
    assert not y.failed and np.all(y.c >= 0), (y.y, y.error)
    # counts, timing and the passive response are matched exactly at the known cell
    np.testing.assert_allclose(y.y[[0, 1, 4]], 0.0, atol=1e-9)
    # weak sodium, strong potassium: no repetitive firing, so no ISI CV; eFEL fails
    silent = dict(truth, gnabar_soma=0.05, gkbar_soma=0.08)
    bad = problem.evaluate_point(np.array([silent[n] for n in problem.parameter_names]))
    assert bad.failed and "FeatureFailure" in bad.error
