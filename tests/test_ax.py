"""The Ax generation strategy, the experiment view and the ``ax-default`` method."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ax")

from ax.api.client import Client  # noqa: E402
from ax.api.configs import RangeParameterConfig  # noqa: E402

import botorch_joint as bj  # noqa: E402
from botorch_joint.ax import (  # noqa: E402
    EPOCH_KEY,
    INITIAL_NODE,
    SURROGATE_NODE,
    experiment_view,
    joint_generation_strategy,
    result_from_client,
    result_from_experiment,
)

#: small search settings so a surrogate proposal takes seconds, not minutes
TINY_SEARCH = {"pop_size": 16, "generations": 2, "cgd_starts": 4, "cgd_steps": 5}


def simulate(p: dict[str, float]) -> dict[str, float]:
    """f1 minimised, gain maximised (= -f2), two outcome constraints."""
    x, y = p["x"], p["y"]
    return {"f1": x, "gain": -((1.0 - x) ** 2 + y), "slack": 0.6 - y, "load": x + y}


def make_client(gs, seed: int = 0) -> Client:
    client = Client(random_seed=seed)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
            RangeParameterConfig(name="y", parameter_type="float", bounds=(0.0, 2.0)),
        ],
        name="toy-ax",
    )
    client.configure_optimization(
        objective="-f1, gain",
        outcome_constraints=["slack >= 0.1", "load <= 1.5", "f1 <= 1.1", "gain >= -3"],
    )
    client.set_generation_strategy(gs)
    return client


def run_batches(client: Client, sizes: list[int], fail: tuple[int, ...] = ()) -> list[dict]:
    batches = []
    for q in sizes:
        trials = client.get_next_trials(max_trials=q)
        assert len(trials) == q
        for index, params in trials.items():
            if index in fail:
                client.mark_trial_failed(index)
            else:
                client.complete_trial(index, raw_data=simulate(params))
        batches.append(trials)
    return batches


def test_client_runs_batches_and_the_view_follows_the_conventions():
    gs = joint_generation_strategy(method="sobol", n_initial=4, batch_size=3, seed=5, budget=13)
    client = make_client(gs)
    batches = run_batches(client, [4, 3, 3, 3], fail=(2, 6))
    experiment = client._experiment  # noqa: SLF001 - the experiment the client holds

    # the first node is our initial design, the same points bj.optimize starts with
    X = np.array([[p["x"], p["y"]] for batch in batches for p in batch.values()])
    same = bj.Problem(
        "same",
        {"x": (0.0, 1.0), "y": (0.0, 2.0)},
        ["f1", "gain"],
        evaluate=lambda p: {"f1": 0.0, "gain": 0.0},
    )
    ref = bj.optimize(same, method="sobol", budget=13, n_initial=4, batch_size=3, seed=5)
    np.testing.assert_allclose(X, ref.X)
    nodes = [t.generator_runs[0]._generation_node_name for t in experiment.trials.values()]  # noqa: SLF001
    assert nodes == [INITIAL_NODE] * 4 + [SURROGATE_NODE] * 9
    epochs = [t.generator_runs[0].gen_metadata[EPOCH_KEY] for t in experiment.trials.values()]
    assert epochs == [0] * 4 + [1] * 3 + [2] * 3 + [3] * 3

    result = result_from_experiment(experiment)
    assert isinstance(result, bj.Result) and len(result) == 13
    assert result.objective_names == ["f1", "gain"]
    assert result.constraint_names == ["slack >= 0.1", "load <= 1.5"]
    np.testing.assert_array_equal(result.epoch, epochs)
    np.testing.assert_allclose(result.ref_point, [1.1, 3.0])  # thresholds, minimised
    assert result.failed.tolist() == [i in (2, 6) for i in range(13)]
    assert np.isnan(result.Y[2]).all() and not result.feasible[[2, 6]].any()
    assert "failed" in result.errors[2]
    for i in np.flatnonzero(~result.failed):
        raw = simulate(dict(zip(["x", "y"], result.X[i])))
        # maximised metrics are negated; m >= b -> m - b; m <= b -> b - m
        np.testing.assert_allclose(result.Y[i], [raw["f1"], -raw["gain"]])
        np.testing.assert_allclose(result.C[i], [raw["slack"] - 0.1, 1.5 - raw["load"]])
    df = result.to_dataframe()
    assert list(df.columns[:4]) == ["x", "y", "f1", "gain"]
    assert result.pareto()[1].shape[1] == 2


def test_view_of_pending_and_missing_data():
    gs = joint_generation_strategy(method="sobol", n_initial=3, batch_size=2)
    client = make_client(gs)
    trials = client.get_next_trials(max_trials=3)
    first, second, third = trials
    client.complete_trial(first, raw_data=simulate(trials[first]))
    client.complete_trial(second, raw_data={"f1": 0.3, "slack": 0.2})  # gain missing
    view = experiment_view(client._experiment)  # noqa: SLF001
    assert len(view.result) == 2  # the running trial is not data yet
    assert not view.result.failed[0] and view.result.failed[1]
    assert "gain" in view.result.errors[1]
    assert view.arms[0][0] == first
    assert view.to_parameters(np.array([0.5, 3.0])) == {"x": 0.5, "y": 2.0}  # clipped


def test_initial_node_waits_for_its_design_then_hands_over():
    gs = joint_generation_strategy(method="sobol", n_initial=5, batch_size=4)
    client = make_client(gs)
    # asking past the design before it is evaluated yields only the design
    assert len(client.get_next_trials(max_trials=8)) == 5
    for index, trial in client._experiment.trials.items():  # noqa: SLF001
        client.complete_trial(index, raw_data=simulate(trial.arm.parameters))
    assert len(client.get_next_trials(max_trials=4)) == 4  # the surrogate node, in full


def test_default_n_initial_is_resolved_from_the_search_space():
    client = make_client(joint_generation_strategy(method="sobol", batch_size=2))
    # d = 2: max(2 (d + 1), batch_size) = 6 design points
    assert len(client.get_next_trials(max_trials=10)) == 6


def test_default_n_initial_is_a_whole_number_of_batches():
    # d = 2, batch_size 4: 2 (d + 1) = 6 design points would leave the second batch with
    # 2 trials; the default rounds the design up to 8 so every batch is full.
    client = make_client(joint_generation_strategy(method="sobol", batch_size=4))
    sizes = run_batches(client, [4, 4, 4])
    assert [len(b) for b in sizes] == [4, 4, 4]
    nodes = [t.generator_runs[0]._generation_node_name for t in client._experiment.trials.values()]  # noqa: SLF001
    assert nodes == [INITIAL_NODE] * 8 + [SURROGATE_NODE] * 4


def test_a_nameless_experiment_works_everywhere():
    # Client.configure_experiment without name= is legal; Experiment.name then raises.
    client = Client(random_seed=0)
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name="x", parameter_type="float", bounds=(0.0, 1.0)),
            RangeParameterConfig(name="y", parameter_type="float", bounds=(0.0, 2.0)),
        ]
    )
    client.configure_optimization(objective="-f1, gain", outcome_constraints=["slack >= 0.1"])
    client.set_generation_strategy(
        joint_generation_strategy(method="sobol", n_initial=2, batch_size=2)
    )
    run_batches(client, [2, 2])  # the surrogate node builds a view of the experiment
    experiment = client._experiment  # noqa: SLF001
    assert experiment_view(experiment).problem.name == "ax-experiment"
    result = result_from_experiment(experiment)
    assert len(result) == 4 and result.problem_name == "ax-experiment"


def test_a_saved_experiment_continues_with_the_same_stream(tmp_path):
    from ax.storage.json_store.load import load_experiment
    from ax.storage.json_store.save import save_experiment

    def gs():
        return joint_generation_strategy(method="sobol", n_initial=4, batch_size=3)

    straight = make_client(gs())
    expected = run_batches(straight, [4, 3, 3])[-1]

    first = make_client(gs())
    run_batches(first, [4, 3])
    save_experiment(first._experiment, str(tmp_path / "exp.json"))  # noqa: SLF001
    again = Client(random_seed=0)
    again.set_experiment(load_experiment(str(tmp_path / "exp.json")))
    again.set_generation_strategy(gs())
    assert run_batches(again, [3])[-1] == expected
    result = result_from_experiment(again._experiment)  # noqa: SLF001
    assert list(result.epoch) == [0] * 4 + [1] * 3 + [2] * 3


def test_joint_network_surrogate_node_proposes_batches():
    gs = joint_generation_strategy(
        method="c+o-ftt",
        n_initial=4,
        batch_size=2,
        method_options={
            "model_options": {"ensemble_size": 1, "max_epochs": 20},
            "search_options": TINY_SEARCH,
        },
    )
    client = make_client(gs)
    run_batches(client, [4, 2, 2], fail=(1,))
    result = result_from_client(client)
    assert len(result) == 8 and list(result.epoch) == [0] * 4 + [1, 1, 2, 2]
    assert result.failed.tolist() == [i == 1 for i in range(8)]
    info = gs.nodes_by_name[SURROGATE_NODE].last_proposal_info
    assert info["model"] == "joint-ftt" and info["epoch"] == 2 and info["train_seconds"] > 0
    assert len(np.unique(result.X, axis=0)) == 8
    assert np.all((result.X >= 0) & (result.X <= [1.0, 2.0]))


@pytest.mark.slow
def test_gpr_surrogate_node():
    gs = joint_generation_strategy(
        method="gpr",
        n_initial=4,
        batch_size=2,
        sensitivity=None,
        method_options={"search_options": TINY_SEARCH},
    )
    client = make_client(gs)
    run_batches(client, [4, 2])
    result = result_from_client(client)
    assert len(result) == 6 and list(result.epoch) == [0] * 4 + [1, 1]
    assert gs.nodes_by_name[SURROGATE_NODE].last_proposal_info["model"] == "gpr"


def test_ax_default_method_through_optimize():
    calls = []

    def evaluate(p: dict[str, float]) -> dict[str, float]:
        calls.append(p)
        if p["x"] > 0.95:
            raise RuntimeError("out of range")
        return {"f": (p["x"] - 0.3) ** 2 + p["y"], "c": 0.8 - p["x"] - p["y"]}

    problem = bj.Problem("so", {"x": (0.0, 1.0), "y": (0.0, 1.0)}, ["f"], ["c"], evaluate=evaluate)
    result = bj.optimize(
        problem, method="ax-default", budget=5, n_initial=4, batch_size=1, seed=1, progress=False
    )
    assert len(result) == 5 == len(calls) and result.complete
    assert result.method == "ax-default"
    assert list(result.epoch) == [0, 0, 0, 0, 1]
    assert np.all((result.X >= 0) & (result.X <= 1))


def test_result_from_client_is_the_result_of_its_experiment():
    client = make_client(joint_generation_strategy(method="sobol", n_initial=3, batch_size=3))
    run_batches(client, [3, 3], fail=(4,))
    result = result_from_client(client)
    same = result_from_experiment(client._experiment)  # noqa: SLF001 - the reference
    assert len(result) == 6 and result.complete
    np.testing.assert_array_equal(result.X, same.X)
    np.testing.assert_array_equal(result.epoch, [0, 0, 0, 1, 1, 1])
    assert result.failed.tolist() == [i == 4 for i in range(6)]
    with pytest.raises(ValueError, match="configure_experiment"):
        result_from_client(Client())


def test_importing_botorch_joint_ax_registers_the_joint_surrogate_fit():
    from ax.generators.torch.botorch_modular.utils import fit_botorch_model

    from botorch_joint.models import JointSurrogate

    assert fit_botorch_model.dispatch(JointSurrogate) is not fit_botorch_model.dispatch(object)


def _ax_node_private_names() -> set[str]:
    """Private attributes and methods of Ax's generation nodes (``self._name`` in their source)."""
    import inspect
    import re

    from ax.generation_strategy import external_generation_node, generation_node

    source = inspect.getsource(generation_node) + inspect.getsource(external_generation_node)
    return set(re.findall(r"self\.(_[a-z]\w*)", source)) | set(
        re.findall(r"def (_[a-z]\w*)", source)
    )


def _private_ax_uses(path, ax_private: set[str]) -> list[str]:
    """Private Ax names read, written or overridden in ``path``.

    ``obj._name`` on anything but ``self``/``cls`` is Ax's (our own modules' private
    names are not reached from outside); ``self._name`` and ``def _name`` count where
    ``_name`` is also a private name of Ax's generation nodes.
    """
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            if node.attr.startswith("__"):
                continue
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            if not on_self or node.attr in ax_private:
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.FunctionDef) and node.name in ax_private:
            found.append(f"{path.name}:{node.lineno} def {node.name}")
    return found


def test_private_ax_internals_are_used_in_one_module_only():
    from pathlib import Path

    import botorch_joint.ax

    package = Path(botorch_joint.ax.__file__).parent
    files = [p for p in sorted(package.glob("*.py")) if p.name != "_compat.py"]
    files.append(package.parent / "strategies" / "ax_default.py")
    ax_private = _ax_node_private_names()
    assert {"_gen", "_pausing_criteria"} <= ax_private  # the scan sees Ax's internals
    found = [use for path in files for use in _private_ax_uses(path, ax_private)]
    assert not found, f"reach Ax internals only through botorch_joint/ax/_compat.py: {found}"
    compat = (package / "_compat.py").read_text()
    assert "ax-platform 1.3.1" in compat  # the version the workarounds were checked on
