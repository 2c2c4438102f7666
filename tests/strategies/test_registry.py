"""The method registry: built-ins registered like user methods, one place that checks names."""

from __future__ import annotations

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint import strategies
from botorch_joint.errors import SettingsError
from botorch_joint.strategies import (
    Proposal,
    Strategy,
    UnknownMethodError,
    epoch_rng,
    get_method,
    make_strategy,
    method_names,
    register_method,
)
from botorch_joint.strategies import registry as registry_module

BUILT_INS = [
    "c+o-ftt", "c+o-resnet", "o-ftt", "o-resnet", "gpr", "megp",
    "ax-default", "sobol", "lh", "slh", "mc",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Methods registered by a test vanish after it."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))


class Corners(Strategy):
    """Proposes corners of the box in a seeded random order (a minimal user method)."""

    name = "corners"

    def __init__(self, problem: bj.Problem, budget: int, seed: int, scale: float) -> None:
        super().__init__(problem, budget, seed)
        self.scale = scale

    def initial(self, n: int) -> np.ndarray:
        return self.problem.from_unit(epoch_rng(self.seed, 0).random((n, self.problem.dim)))

    def propose(self, data, n: int, epoch: int) -> Proposal:
        corners = epoch_rng(self.seed, epoch).integers(0, 2, (n, self.problem.dim))
        return Proposal(self.problem.from_unit(self.scale * corners), info={"scale": self.scale})


def corners_factory(problem, *, method, budget, seed, scale=1.0, **settings) -> Corners:
    return Corners(problem, budget, seed, scale)


def toy() -> bj.Problem:
    return bj.Problem(
        "toy",
        {"x": (0.0, 1.0), "y": (-1.0, 1.0)},
        ["f"],
        ["c"],
        evaluate=lambda p: {"f": p["x"] ** 2 + p["y"], "c": 0.5 - p["x"]},
    )


def test_built_ins_are_registered_in_order_with_their_kinds() -> None:
    # first: anything registered later (the benchmark's peers, say) comes after them
    assert method_names()[: len(BUILT_INS)] == BUILT_INS
    assert strategies.METHODS == tuple(method_names())
    kinds = {name: get_method(name).kind for name in BUILT_INS}
    assert {n for n, k in kinds.items() if k == "surrogate"} == set(strategies.SURROGATE)
    assert {n for n, k in kinds.items() if k == "space-filling"} == set(strategies.SPACE_FILLING)
    assert kinds["ax-default"] == "ax"
    assert [n for n in BUILT_INS if get_method(n).whole_budget] == list(strategies.SPACE_FILLING)
    assert all(get_method(n).why_unavailable() is None for n in BUILT_INS)


def test_a_registered_method_runs_in_optimize_and_is_listed() -> None:
    spec = register_method("corners", corners_factory)
    assert spec.kind == "custom" and not spec.whole_budget
    assert method_names()[-1] == "corners" and "corners" in strategies.METHODS
    result = bj.optimize(
        toy(), method="corners", budget=6, n_initial=2, batch_size=2, seed=3,
        method_options={"scale": 0.5}, progress=False,
    )  # fmt: skip
    assert len(result) == 6 and result.method == "corners"
    unit = (result.X[2:] - [0.0, -1.0]) / [1.0, 2.0]
    assert set(np.unique(unit)) <= {0.0, 0.5}  # the method's options reached it


def test_the_command_line_offers_registered_methods() -> None:
    from botorch_joint.cli import _parser

    register_method("corners", corners_factory)
    parser = _parser()
    args = parser.parse_args(["run", "toy", "--method", "corners"])
    assert args.method == "corners"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "toy", "--method", "magic"])


def test_an_unknown_method_is_refused_in_one_way_everywhere() -> None:
    with pytest.raises(UnknownMethodError, match=r"unknown method 'magic'; choose one of \["):
        get_method("magic")
    with pytest.raises(UnknownMethodError, match="unknown method 'magic'"):
        make_strategy("magic", toy(), budget=4)
    with pytest.raises(UnknownMethodError, match="unknown method 'magic'"):
        bj.optimize(toy(), method="magic", budget=4)
    assert issubclass(UnknownMethodError, SettingsError)
    assert issubclass(UnknownMethodError, ValueError)


@pytest.mark.parametrize("name", ["", "two words", "a/b", "-lead", 3, None])
def test_invalid_names_are_refused(name) -> None:
    with pytest.raises(ValueError, match="invalid method name"):
        register_method(name, corners_factory)


def test_duplicates_need_replace_and_factories_must_be_callable() -> None:
    with pytest.raises(ValueError, match="already registered; pass replace=True"):
        register_method("sobol", corners_factory)
    register_method("corners", corners_factory)
    register_method("corners", corners_factory, kind="mine", replace=True)
    assert get_method("corners").kind == "mine"
    with pytest.raises(ValueError, match="callable or 'module:attribute'"):
        register_method("bad", "not a reference")


def test_a_lazy_factory_is_checked_without_importing_it() -> None:
    register_method("ghost", "surely_not_a_module.strategies:Ghost")
    why = get_method("ghost").why_unavailable()
    assert why is not None and "surely_not_a_module.strategies" in why
    register_method("needs-pkg", corners_factory, missing=lambda: "needs pkg: pip install pkg")
    assert get_method("needs-pkg").why_unavailable() == "needs pkg: pip install pkg"


def test_a_whole_budget_method_is_its_own_initial_design() -> None:
    def design(problem, *, method, budget, seed, **settings):
        return make_strategy("lh", problem, budget=budget, seed=seed)

    register_method("my-lh", design, kind="space-filling", whole_budget=True)
    result = bj.optimize(toy(), method="my-lh", budget=5, batch_size=2, progress=False)
    assert result.settings["initial_design"] == "my-lh"


def test_space_filling_methods_take_no_options() -> None:
    with pytest.raises(TypeError, match="'sobol' takes no method_options"):
        make_strategy("sobol", toy(), budget=4, options={"scale": 2})
