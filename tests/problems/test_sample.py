"""Problem.sample: training data as NumPy arrays for a model used outside bj.optimize."""

from __future__ import annotations

import numpy as np
import pytest

import botorch_joint as bj


def test_sample_returns_the_design_and_its_outputs(toy_problem):
    X, Y, C = toy_problem.sample(12, seed=3)
    assert X.shape == (12, 2) and Y.shape == (12, 2) and C.shape == (12, 1)
    design = toy_problem.from_unit(bj.designs.sample("slh", 12, 2, 3))
    np.testing.assert_allclose(X, design)
    np.testing.assert_allclose(Y[:, 0], X[:, 0])  # f1 = x
    np.testing.assert_allclose(Y[:, 1], (1 - X[:, 0]) ** 2 + X[:, 1])
    np.testing.assert_allclose(C[:, 0], 0.5 - X[:, 1])
    X2, _, _ = toy_problem.sample(12, seed=3)
    np.testing.assert_array_equal(X, X2)  # seeded
    Xs, _, _ = toy_problem.sample(8, seed=3, design="sobol")
    np.testing.assert_allclose(Xs, toy_problem.from_unit(bj.designs.sample("sobol", 8, 2, 3)))


def test_sample_keeps_failed_rows(flaky_problem):
    X, Y, C = flaky_problem.sample(40, seed=0)
    crashed = X[:, 0] > 0.8
    assert crashed.any() and np.isnan(Y[crashed]).all() and np.isnan(C[crashed]).all()
    assert np.isfinite(Y[~crashed & (X[:, 1] <= 0.9)]).all()


def test_sample_of_a_vectorised_problem_without_constraints():
    problem = bj.Problem(
        "vec",
        {"a": (-1.0, 1.0), "b": (0.0, 2.0), "c": (0.0, 1.0)},
        ["s"],
        batch_evaluate=lambda X: (X.sum(axis=1, keepdims=True), None),
    )
    X, Y, C = problem.sample(5, seed=None, design="mc")
    assert C.shape == (5, 0)
    np.testing.assert_allclose(Y[:, 0], X.sum(axis=1))
    assert np.all((X >= problem.lower) & (X <= problem.upper))


def test_sample_names_an_unknown_design(toy_problem):
    with pytest.raises(ValueError, match="unknown initial design 'grid'"):
        toy_problem.sample(4, design="grid")
