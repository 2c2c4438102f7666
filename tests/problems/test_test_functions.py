"""The built-in constrained multi-objective test functions.

Checked against pymoo 0.6.2 (``C == -G``) where pymoo has the problem and against
BoTorch otherwise; the Pareto-front samples are checked for feasibility,
non-dominance, their hypervolume against ``max_hv`` and local optimality.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import botorch_joint.problems as problems
from botorch_joint.problems import test_functions as tf

# name -> (d, objective names, constraint names, pareto-set sampler, eval function)
SPECS = {
    "c2dtlz2": (12, ["f1", "f2"], ["c1"], tf.c2dtlz2_pareto_set, tf.c2dtlz2_eval),
    "mw7": (15, ["f1", "f2"], ["c1", "c2"], tf.mw7_pareto_set, tf.mw7_eval),
    "discbrake": (
        4,
        ["mass", "stopping_time"],
        ["radius_gap", "pressure", "temperature", "torque"],
        tf.discbrake_pareto_set,
        tf.discbrake_eval,
    ),
    "weldedbeam": (
        4,
        ["cost", "deflection"],
        ["shear_stress", "normal_stress", "weld_thinner_than_bar", "buckling_load"],
        tf.weldedbeam_pareto_set,
        tf.weldedbeam_eval,
    ),
    "osy": (6, ["f1", "f2"], [f"c{i}" for i in range(1, 7)], tf.osy_pareto_set, tf.osy_eval),
    "constrained-branincurrin": (
        2,
        ["branin", "currin"],
        ["disk"],
        tf.constrained_branincurrin_pareto_set,
        tf.constrained_branincurrin_eval,
    ),
}
NAMES = list(SPECS)

# Uniform random feasibility documented in the docstrings (10^6 draws, seed 0).
DOCUMENTED_FEASIBILITY = {
    "c2dtlz2": 0.00006,
    "mw7": 0.0,
    "discbrake": 0.6425,
    "weldedbeam": 0.3174,
    "osy": 0.0324,
    "constrained-branincurrin": 0.6979,
}

# pymoo's name and options for the same problem, and the dimension to compare at.
PYMOO = {
    "c2dtlz2": [("c2dtlz2", {"n_var": 12, "n_obj": 2}), ("c2dtlz2", {"n_var": 3, "n_obj": 2})],
    "mw7": [("mw7", {"n_var": 15}), ("mw7", {"n_var": 3})],
    "weldedbeam": [("welded_beam", {})],
    "osy": [("osy", {})],
}


def _kwargs(pymoo_kwargs: dict) -> dict:
    return {"dim": pymoo_kwargs["n_var"]} if "n_var" in pymoo_kwargs else {}


def _uniform(problem: problems.Problem, n: int, seed: int = 0) -> np.ndarray:
    return problem.from_unit(np.random.default_rng(seed).random((n, problem.dim)))


def _hv2d(Y: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of minimised points ``Y (n, 2)`` w.r.t. ``ref``."""
    Y = Y[np.all(Y < ref, axis=1)]
    if len(Y) == 0:
        return 0.0
    Y = Y[np.lexsort((Y[:, 1], Y[:, 0]))]
    Y = Y[Y[:, 1] < np.minimum.accumulate(np.r_[np.inf, Y[:-1, 1]])]
    widths = np.r_[Y[1:, 0], ref[0]] - Y[:, 0]
    return float(np.sum(widths * (ref[1] - Y[:, 1])))


def test_registered():
    assert set(NAMES) <= set(problems.names())


@pytest.mark.parametrize("name", NAMES)
def test_shapes_names_and_both_evaluation_paths(name):
    d, objectives, constraints, _, _ = SPECS[name]
    problem = problems.get(name)
    assert problem.dim == d
    assert problem.objective_names == objectives
    assert problem.constraint_names == constraints
    assert problem.ref_point is not None and problem.ref_point.shape == (2,)
    assert problem.max_hv is not None and problem.max_hv > 0
    assert problem.has_batch_evaluate

    X = _uniform(problem, 5, seed=1)
    Y, C = problem._batch_evaluate(X)
    assert Y.shape == (5, len(objectives)) and C.shape == (5, len(constraints))
    for x, y, c in zip(X, Y, C):
        out = problem.evaluate(problem.to_dict(x))
        np.testing.assert_allclose([out[k] for k in objectives], y, rtol=1e-12)
        np.testing.assert_allclose([out[k] for k in constraints], c, rtol=1e-12)
    evals = problem.evaluate_batch(X)
    np.testing.assert_allclose(np.stack([e.y for e in evals]), Y, rtol=1e-12)
    np.testing.assert_allclose(np.stack([e.c for e in evals]), C, rtol=1e-12)
    assert not any(e.failed for e in evals)


@pytest.mark.parametrize("name", NAMES)
def test_pickles_for_worker_processes(name):
    factory = getattr(tf, name.replace("-", "_"))
    x = _uniform(problems.get(name), 1, seed=2)[0]
    for problem in (problems.get(name), factory()):  # by registry name and by value
        clone = pickle.loads(pickle.dumps(problem))
        assert clone.evaluate(clone.to_dict(x)) == problem.evaluate(problem.to_dict(x))
        np.testing.assert_array_equal(clone.pareto_front(20), problem.pareto_front(20))


@pytest.mark.parametrize("name", list(PYMOO))
def test_agrees_with_pymoo(name):
    pytest.importorskip("pymoo")
    from pymoo.problems import get_problem

    for pymoo_name, kwargs in PYMOO[name]:
        problem = problems.get(name, **_kwargs(kwargs))
        reference = get_problem(pymoo_name, **kwargs)
        np.testing.assert_allclose(reference.xl, problem.lower)
        np.testing.assert_allclose(reference.xu, problem.upper)
        X = _uniform(problem, 2000, seed=3)
        Y, C = problem._batch_evaluate(X)
        F, G = reference.evaluate(X, return_values_of=["F", "G"])
        np.testing.assert_allclose(Y, F, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(C, -G, rtol=1e-10, atol=1e-10)


def test_c2dtlz2_three_objectives_agrees_with_pymoo():
    pytest.importorskip("pymoo")
    from pymoo.problems import get_problem

    problem = problems.get("c2dtlz2", dim=7, num_objectives=3)
    assert problem.num_objectives == 3 and problem.max_hv is None
    X = _uniform(problem, 2000, seed=4)
    Y, C = problem._batch_evaluate(X)
    F, G = get_problem("c2dtlz2", n_var=7, n_obj=3).evaluate(X, return_values_of=["F", "G"])
    np.testing.assert_allclose(Y, F, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(C, -G, rtol=1e-10, atol=1e-10)
    front = problem.pareto_front(200)
    assert front.shape == (200, 3)
    np.testing.assert_allclose(np.linalg.norm(front, axis=1), 1.0, atol=1e-9)
    _, C_set = tf.c2dtlz2_eval(tf.c2dtlz2_pareto_set(200, dim=7, num_objectives=3, r=0.4), 3, 0.4)
    assert np.all(C_set >= 0)


@pytest.mark.parametrize(
    "name, cls, kwargs",
    [
        ("discbrake", "DiscBrake", {}),
        ("constrained-branincurrin", "ConstrainedBraninCurrin", {}),
        ("mw7", "MW7", {"dim": 15}),
    ],
)
def test_agrees_with_botorch(name, cls, kwargs):
    torch = pytest.importorskip("torch")
    from botorch.test_functions import multi_objective

    reference = getattr(multi_objective, cls)(**kwargs)
    problem = problems.get(name)
    np.testing.assert_allclose(reference.bounds.numpy(), problem.bounds)
    np.testing.assert_allclose(reference.ref_point.numpy(), problem.ref_point)
    X = _uniform(problem, 2000, seed=5)
    Y, C = problem._batch_evaluate(X)
    with torch.no_grad():
        Xt = torch.tensor(X, dtype=torch.float64)
        F = reference.evaluate_true(Xt).numpy()
        S = reference.evaluate_slack_true(Xt).numpy()
    np.testing.assert_allclose(Y, F, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(C, S, rtol=1e-9, atol=1e-9)


def test_c2dtlz2_objectives_agree_with_botorch_but_not_its_centre_disc():
    torch = pytest.importorskip("torch")
    from botorch.test_functions.multi_objective import C2DTLZ2

    problem = problems.get("c2dtlz2")
    X = _uniform(problem, 500, seed=6)
    Y, C = problem._batch_evaluate(X)
    with torch.no_grad():
        F = C2DTLZ2(dim=12, num_objectives=2).evaluate_true(torch.tensor(X)).numpy()
    np.testing.assert_allclose(Y, F, rtol=1e-10, atol=1e-12)
    # The centre disc has radius r = 0.2 (pymoo / Deb & Jain), not r * sqrt(2) (BoTorch):
    # a point on the unit circle at distance 0.25 from the centre point is infeasible.
    phi = np.pi / 4 + 2 * np.arcsin(0.25 / 2)
    x = np.full((1, 12), 0.5)
    x[0, 0] = phi / (np.pi / 2)
    assert problem._batch_evaluate(x)[1][0, 0] < 0


@pytest.mark.parametrize("name", NAMES)
def test_random_feasibility_rate(name):
    """20,000 uniform draws, seed 0: same rate as the reference and as documented."""
    problem = problems.get(name)
    X = _uniform(problem, 20_000, seed=0)
    _, C = problem._batch_evaluate(X)
    rate = float(np.mean(np.all(C >= 0, axis=1)))
    documented = DOCUMENTED_FEASIBILITY[name]
    sigma = np.sqrt(max(documented * (1 - documented), 1e-4) / X.shape[0])
    assert abs(rate - documented) < 4 * sigma, (name, rate, documented)

    if name in PYMOO:
        pytest.importorskip("pymoo")
        from pymoo.problems import get_problem

        for pymoo_name, kwargs in PYMOO[name]:
            small = problems.get(name, **_kwargs(kwargs))
            Xs = _uniform(small, 20_000, seed=0)
            ours = np.mean(np.all(small._batch_evaluate(Xs)[1] >= 0, axis=1))
            G = get_problem(pymoo_name, **kwargs).evaluate(Xs, return_values_of=["G"])
            assert ours == pytest.approx(np.mean(np.all(G <= 0, axis=1)), abs=1e-4)


def test_low_dimensional_variants_have_feasible_random_points():
    # At their default sizes C2-DTLZ2 and MW7 have (almost) no feasible uniform points,
    # so the pymoo comparison above also runs at 3 variables, where they have some.
    for name in ("c2dtlz2", "mw7"):
        problem = problems.get(name, dim=3)
        _, C = problem._batch_evaluate(_uniform(problem, 20_000, seed=0))
        assert 0.01 < np.mean(np.all(C >= 0, axis=1)) < 0.9


@pytest.mark.parametrize("name", NAMES)
def test_pareto_front_is_feasible_non_dominated_and_reaches_max_hv(name):
    _, _, _, pareto_set, eval_fn = SPECS[name]
    problem = problems.get(name)
    X = pareto_set(1000)
    assert X.shape[1] == problem.dim and 900 <= X.shape[0] <= 1000
    assert np.all((X >= problem.lower) & (X <= problem.upper))
    Y, C = eval_fn(X)
    assert np.all(C >= 0), "front sample must be feasible"
    np.testing.assert_allclose(problem.pareto_front(1000), Y)
    # Non-dominated: sorted by f1, f2 strictly decreases.
    order = np.argsort(Y[:, 0])
    assert np.all(np.diff(Y[order, 0]) > 0) and np.all(np.diff(Y[order, 1]) < 0)
    ref = problem.ref_point
    hv = _hv2d(Y, ref)
    assert hv <= problem.max_hv * (1 + 1e-6)
    assert hv == pytest.approx(problem.max_hv, rel=2e-3)


@pytest.mark.parametrize("name", NAMES)
def test_nothing_nearby_beats_the_front(name):
    """Uniform points and perturbed Pareto-set points add (almost) no hypervolume."""
    _, _, _, pareto_set, eval_fn = SPECS[name]
    problem = problems.get(name)
    rng = np.random.default_rng(7)
    X_front = pareto_set(1000)
    span = problem.upper - problem.lower
    local = X_front[rng.integers(len(X_front), size=20_000)]
    local = local + rng.normal(size=local.shape) * span * rng.choice([1e-3, 1e-2], (20_000, 1))
    X = np.concatenate(
        [_uniform(problem, 20_000, seed=8), np.clip(local, problem.lower, problem.upper)]
    )
    Y, C = eval_fn(X)
    Y_feasible = Y[np.all(C >= 0, axis=1)]
    assert len(Y_feasible) > 1000
    ref = problem.ref_point
    Y_front = eval_fn(X_front)[0]
    gain = _hv2d(np.concatenate([Y_front, Y_feasible]), ref) - _hv2d(Y_front, ref)
    # The 1000-point front is a staircase; a denser front would leave even less room.
    assert gain < 2e-3 * problem.max_hv
    assert _hv2d(Y_feasible, ref) < problem.max_hv


def test_c2dtlz2_max_hv_is_exact():
    assert problems.get("c2dtlz2").max_hv == pytest.approx(0.3823335944, abs=1e-9)
    # pymoo's 3-variable version has the same front and hence the same max_hv.
    assert problems.get("c2dtlz2", dim=3).max_hv == problems.get("c2dtlz2").max_hv
    # A finer front converges to it from below.
    Y = tf.c2dtlz2_eval(tf.c2dtlz2_pareto_set(20_000))[0]
    hv = _hv2d(Y, np.array([1.1, 1.1]))
    assert 0 < 0.3823335944 - hv < 5e-5


def test_max_hv_agrees_with_botorch_hypervolume():
    torch = pytest.importorskip("torch")
    from botorch.utils.multi_objective.hypervolume import Hypervolume

    for name in ("c2dtlz2", "discbrake"):
        problem = problems.get(name)
        Y = problem.pareto_front(300)
        ref = torch.tensor(problem.ref_point)
        hv = Hypervolume(-ref).compute(-torch.tensor(Y[np.all(Y < problem.ref_point, axis=1)]))
        assert hv == pytest.approx(_hv2d(Y, problem.ref_point), rel=1e-10)
        assert hv == pytest.approx(problem.max_hv, rel=2e-2)


def test_invalid_sizes():
    with pytest.raises(ValueError, match="dim"):
        tf.c2dtlz2(dim=1)
    with pytest.raises(ValueError, match="dim"):
        tf.mw7(dim=1)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        tf.discbrake_eval(np.zeros((3, 5)))
