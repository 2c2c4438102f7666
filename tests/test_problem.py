import pickle

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems import InvalidResultError, ProblemDefinitionError


def _ok(p):
    return {"a": p["x"], "c": 1.0}


def test_properties(toy_problem):
    assert toy_problem.dim == 2
    assert toy_problem.num_objectives == 2 and toy_problem.num_constraints == 1
    assert toy_problem.bounds.shape == (2, 2)
    assert toy_problem.parameters == {"x": (0.0, 1.0), "y": (0.0, 1.0)}
    U = np.array([[0.0, 1.0], [0.5, 0.25]])
    np.testing.assert_allclose(toy_problem.to_unit(toy_problem.from_unit(U)), U)


@pytest.mark.parametrize(
    "bounds, fragment",
    [
        ({"x": (1.0, 0.0)}, "'x': lower bound 1.0 must be below upper bound 0.0"),
        ({"x": (0.0, 0.0)}, "'x': lower bound"),
        ({"x": (0.0, float("inf"))}, "'x': bounds must be finite"),
        ({"x": (float("nan"), 1.0)}, "'x': bounds must be finite"),
        ({"x": (0.0,)}, "'x': bounds must be a pair"),
        ({"x": "ab"}, "'x': bounds must be a pair"),
    ],
)
def test_bad_bounds_name_the_parameter(bounds, fragment):
    with pytest.raises(ProblemDefinitionError, match=fragment.replace("(", r"\(")):
        bj.Problem("p", bounds, ["a"], evaluate=_ok)


def test_duplicate_and_clashing_names():
    with pytest.raises(ProblemDefinitionError, match="duplicate objective name 'a'"):
        bj.Problem("p", {"x": (0, 1)}, ["a", "a"], evaluate=_ok)
    with pytest.raises(ProblemDefinitionError, match="more than one role"):
        bj.Problem("p", {"x": (0, 1)}, ["a"], ["a"], evaluate=_ok)
    with pytest.raises(ProblemDefinitionError, match="at least one objective"):
        bj.Problem("p", {"x": (0, 1)}, [], evaluate=_ok)
    with pytest.raises(ProblemDefinitionError, match="evaluate"):
        bj.Problem("p", {"x": (0, 1)}, ["a"])
    with pytest.raises(ProblemDefinitionError, match="ref_point has 2 entries"):
        bj.Problem("p", {"x": (0, 1)}, ["a"], evaluate=_ok, ref_point=[1, 2])


def test_missing_output_is_named():
    p = bj.Problem("p", {"x": (0, 1)}, ["a", "b"], ["c"], evaluate=_ok)
    with pytest.raises(InvalidResultError, match=r"missing declared output\(s\) \['b'\]"):
        p.evaluate({"x": 0.5})
    ev = p.evaluate_point(np.array([0.5]))
    assert ev.failed and "'b'" in ev.error
    bad = bj.Problem("p", {"x": (0, 1)}, ["a"], evaluate=lambda q: {"a": "high"})
    with pytest.raises(InvalidResultError, match="output 'a' must be a number"):
        bad.evaluate({"x": 0.5})


def test_wrong_shapes():
    def batch(X):
        return X[:, :1], np.zeros((len(X), 2))

    p = bj.Problem("p", {"x": (0, 1), "y": (0, 1)}, ["a"], ["c"], batch_evaluate=batch)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        p.check_X(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="parameter 'y' outside its bounds"):
        p.check_X(np.array([[0.5, 2.0]]))
    with pytest.raises(InvalidResultError, match=r"C of shape \(1, 2\), expected \(1, 1\)"):
        p.evaluate({"x": 0.1, "y": 0.2})


def test_evaluate_point_and_failures(flaky_problem):
    ok = flaky_problem.evaluate_point(np.array([0.2, 0.3]))
    assert not ok.failed and ok.error is None
    np.testing.assert_allclose(ok.y, [0.2, 0.64 + 0.3])
    np.testing.assert_allclose(ok.c, [0.2])
    boom = flaky_problem.evaluate_point(np.array([0.9, 0.3]))
    assert boom.failed and "simulator crashed" in boom.error and np.isnan(boom.y).all()
    nan = flaky_problem.evaluate_point(np.array([0.2, 0.95]))
    assert nan.failed and "non-finite" in nan.error


def test_batch_evaluate_falls_back_point_by_point():
    def batch(X):
        if np.any(X[:, 0] > 0.5):
            raise RuntimeError("vector call failed")
        return X.copy(), np.zeros((len(X), 0))

    p = bj.Problem("p", {"x": (0, 1)}, ["a"], batch_evaluate=batch)
    evs = p.evaluate_batch(np.array([[0.1], [0.9], [0.3]]))
    assert [e.failed for e in evs] == [False, True, False]
    assert evs[0].y[0] == pytest.approx(0.1)


def test_nonfinite_constraint_counts_as_violated():
    p = bj.Problem(
        "p", {"x": (0, 1)}, ["a"], ["c"], evaluate=lambda q: {"a": 1.0, "c": float("nan")}
    )
    ev = p.evaluate_point(np.array([0.5]))
    assert not ev.failed and ev.c[0] < 0


def test_registry():
    names = bj.problems.names()
    for required in [
        "c2dtlz2",
        "mw7",
        "discbrake",
        "weldedbeam",
        "osy",
        "constrained-branincurrin",
        "hh-cell",
        "hh-neuron",
    ]:
        assert required in names
    with pytest.raises(KeyError, match="unknown problem 'nope'"):
        bj.problems.get("nope")


def test_builtin_pickles_by_name():
    p = bj.problems.get("c2dtlz2")
    q = pickle.loads(pickle.dumps(p))
    assert q.name == p.name and q.parameter_names == p.parameter_names
    X = p.from_unit(np.random.default_rng(0).random((4, p.dim)))
    a, b = p.evaluate_batch(X), q.evaluate_batch(X)
    np.testing.assert_allclose([e.y for e in a], [e.y for e in b])
