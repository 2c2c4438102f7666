"""What optimize says about its settings: errors by kind, the small-budget warning, the
per-batch callback and the design a space-filling run records."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.errors import RunDirectoryError, SettingsError, UsageError
from botorch_joint.strategies import Proposal, Strategy


class Corners(Strategy):
    """Proposes the lower corner: a cheap non-space-filling strategy."""

    name = "corners"

    def initial(self, n: int) -> np.ndarray:
        return np.tile(self.problem.lower, (n, 1))

    def propose(self, data, n: int, epoch: int) -> Proposal:
        return Proposal(np.tile(self.problem.upper, (n, 1)), train_seconds=0.5)


def test_a_budget_below_the_default_initial_design_warns(toy_problem):
    strategy = Corners(toy_problem, budget=5)
    with pytest.warns(UserWarning) as record:
        result = bj.optimize(toy_problem, budget=5, strategy=strategy, progress=False)
    (w,) = [w for w in record if "initial design" in str(w.message)]
    assert str(w.message) == (
        "budget 5 leaves room for an initial design of 2 points, not the default 20 "
        "(max(2 (d + 1), batch_size) with d=2): using n_initial=2, then 3 evaluations "
        "proposed by corners; raise the budget to 40 or more, or set n_initial"
    )
    assert w.filename == __file__  # points at the call, not into the package
    assert result.settings["n_initial"] == 2 and list(result.epoch) == [0, 0, 1, 1, 1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"budget": 40},  # room for the default design
        {"budget": 5, "n_initial": 2},  # the user chose
        {"budget": 5, "method": "sobol"},  # a space-filling design spans the whole budget
    ],
)
def test_no_warning_when_nothing_was_shrunk_silently(toy_problem, kwargs):
    if "method" not in kwargs:
        kwargs = {**kwargs, "strategy": Corners(toy_problem, budget=kwargs["budget"])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bj.optimize(toy_problem, progress=False, **kwargs)


def test_settings_mistakes_are_usage_errors(tmp_path, toy_problem):
    cases = [
        ({"budget": 0}, "budget must be an integer >= 1"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"budget": 10, "n_initial": 20}, r"n_initial \(20\) exceeds budget \(10\)"),
        ({"method": "magic"}, "unknown method 'magic'"),
        ({"initial_design": "grid"}, "unknown initial_design 'grid'"),
        ({"resume": True}, "resume=True needs run_dir"),
    ]
    for kwargs, message in cases:
        with pytest.raises(SettingsError, match=message) as info:
            bj.optimize(toy_problem, progress=False, **kwargs)
        assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)
    run = tmp_path / "r"
    bj.optimize(toy_problem, method="sobol", budget=4, batch_size=2, run_dir=run)
    with pytest.raises(RunDirectoryError, match="--resume") as info:
        bj.optimize(toy_problem, method="sobol", budget=4, batch_size=2, run_dir=run)
    assert isinstance(info.value, FileExistsError)
    with pytest.raises(SettingsError, match="saved 4, asked 6"):
        bj.optimize(toy_problem, method="sobol", budget=6, batch_size=2, run_dir=run, resume=True)


def test_callback_sees_every_batch_with_its_timings(toy_problem):
    seen = []

    def callback(result: bj.Result) -> None:
        seen.append((len(result), result.timings[-1]["epoch"], result.timings[-1]["train_seconds"]))

    strategy = Corners(toy_problem, budget=10)
    bj.optimize(
        toy_problem, budget=10, n_initial=4, batch_size=3, strategy=strategy, callback=callback
    )
    assert seen == [(4, 0, 0.0), (7, 1, 0.5), (10, 2, 0.5)]


def test_a_space_filling_run_records_its_own_design(toy_problem):
    from botorch_joint.strategies import make_strategy

    for method in ("sobol", "lh"):
        result = bj.optimize(toy_problem, method=method, budget=6, batch_size=3)
        assert result.settings["initial_design"] == method
        # the same when the strategy object is given (resuming either way must agree)
        strategy = make_strategy(method, toy_problem, budget=6)
        result = bj.optimize(toy_problem, budget=6, batch_size=3, strategy=strategy)
        assert result.settings["initial_design"] == method
