"""Problem definitions that used to be accepted and go wrong later (issue 18, items 8, 10)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.problems import ProblemDefinitionError


def _outputs(p: dict[str, float]) -> dict[str, float]:
    return {"f1": p["x"], "f2": 1.0 - p["x"], "c1": 0.5 - p["x"]}


@pytest.mark.parametrize(
    "parameters, objectives, constraints, reserved",
    [
        ({"x": (0, 1)}, ["error", "f2"], ["c1"], "error"),
        ({"epoch": (0, 1)}, ["f1"], [], "epoch"),
        ({"x": (0, 1)}, ["f1"], ["feasible"], "feasible"),
        ({"x": (0, 1)}, ["failed"], [], "failed"),
        ({"x": (0, 1)}, ["f1"], ["eval_seconds"], "eval_seconds"),
    ],
)
def test_names_of_bookkeeping_columns_are_refused(parameters, objectives, constraints, reserved):
    with pytest.raises(ProblemDefinitionError, match=f"'{reserved}'.*reserved"):
        bj.Problem("p", parameters, objectives, constraints, evaluate=_outputs)


def test_to_dataframe_never_overwrites_a_column():
    problem = bj.Problem("p", {"x": (0, 1)}, ["f1", "f2"], ["c1"], evaluate=_outputs)
    result = bj.optimize(problem, method="sobol", budget=4, batch_size=2)
    result.objective_names = ["error", "f2"]  # a record built elsewhere
    with pytest.raises(ValueError, match="'error'"):
        result.to_dataframe()


def test_a_single_name_given_as_a_string_is_one_name():
    problem = bj.Problem(
        "p", {"x": (0, 1)}, "f1", "c1", evaluate=lambda p: {"f1": p["x"], "c1": 1.0}
    )
    assert problem.objective_names == ["f1"] and problem.constraint_names == ["c1"]
    assert problem.evaluate({"x": 0.25}) == {"f1": 0.25, "c1": 1.0}


def test_a_plus_infinite_constraint_stays_satisfied():
    def outputs(p):
        return {"f": 1.0, "up": math.inf, "down": -math.inf, "unknown": math.nan}

    problem = bj.Problem("p", {"x": (0, 1)}, ["f"], ["up", "down", "unknown"], evaluate=outputs)
    ev = problem.evaluate_point(np.array([0.5]))
    assert not ev.failed
    assert ev.c.tolist() == [math.inf, -math.inf, -math.inf]  # NaN counts as violated
    batch = bj.Problem(
        "q",
        {"x": (0, 1)},
        ["f"],
        ["up"],
        batch_evaluate=lambda X: (X, np.full((len(X), 1), np.inf)),
    )
    assert batch.evaluate_batch(np.array([[0.5]]))[0].c.tolist() == [math.inf]
    result = bj.optimize(problem, method="sobol", budget=2, batch_size=2)
    assert not result.feasible.any()  # 'down' is violated
    only_up = bj.Problem(
        "r", {"x": (0, 1)}, ["f"], ["up"], evaluate=lambda p: {"f": 1.0, "up": math.inf}
    )
    assert bj.optimize(only_up, method="sobol", budget=2, batch_size=2).feasible.all()


def test_a_non_finite_objective_is_named():
    problem = bj.Problem(
        "p",
        {"x": (0, 1)},
        ["f1", "f2"],
        evaluate=lambda p: {"f1": 1.0, "f2": math.nan if p["x"] > 0.5 else math.inf},
    )
    for x, value in ((0.7, "nan"), (0.2, "inf")):
        ev = problem.evaluate_point(np.array([x]))
        assert ev.failed and "non-finite objective" in ev.error
        assert f"'f2' = {value}" in ev.error and "'f1'" not in ev.error
    batch = bj.Problem(
        "q",
        {"x": (0, 1)},
        ["f1", "f2"],
        batch_evaluate=lambda X: (np.column_stack([X[:, 0], np.full(len(X), np.nan)]), None),
    )
    (ev,) = batch.evaluate_batch(np.array([[0.5]]))
    assert ev.failed and "'f2' = nan" in ev.error


@pytest.mark.parametrize("bounds", [(-1e308, 1e308), (-1.7e308, 0.5e308)])
def test_bounds_whose_span_overflows_are_refused(bounds):
    with pytest.raises(ProblemDefinitionError, match="'x': bounds .* span"):
        bj.Problem("p", {"x": bounds}, ["f1"], evaluate=_outputs)
    wide = bj.Problem("p", {"x": (0.0, 1.7e308)}, ["f1"], evaluate=_outputs)
    np.testing.assert_allclose(wide.to_unit(wide.from_unit(np.array([[0.5]]))), [[0.5]])
