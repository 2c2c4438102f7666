"""fit_model, the package boundary, and JointSurrogate through Ax's BOTORCH_MODULAR."""

from __future__ import annotations

import subprocess
import sys

import torch
from model_cases import BOUNDS, toy_data

from botorch_joint.models import GPR, JointSurrogate, fit_model


def test_fit_model_returns_the_model_in_eval_mode() -> None:
    X, Y, C = toy_data(12)
    for model in (
        JointSurrogate(X, Y, C, backbone="resnet", bounds=BOUNDS, ensemble_size=2, max_epochs=2),
        GPR(X, Y, C, bounds=BOUNDS),
    ):
        assert fit_model(model) is model
        assert not model.training


def test_importing_models_does_not_import_ax() -> None:
    code = (
        "import sys, botorch_joint, botorch_joint.models; "
        "print(any(m == 'ax' or m.startswith('ax.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_joint_surrogate_in_ax_botorch_modular() -> None:
    """Ax builds, fits (via the registered dispatcher) and optimises with the model."""
    from ax.adapter.registry import Generators
    from ax.api.client import Client
    from ax.api.configs import RangeParameterConfig
    from ax.generation_strategy.generation_node import GenerationStep
    from ax.generation_strategy.generation_strategy import GenerationStrategy
    from ax.generators.torch.botorch_modular.surrogate import SurrogateSpec
    from ax.generators.torch.botorch_modular.utils import ModelConfig

    import botorch_joint.ax  # noqa: F401 - registers JointSurrogate's fit with Ax

    tiny = {"ensemble_size": 2, "max_epochs": 5, "backbone": "resnet"}
    spec = SurrogateSpec(
        model_configs=[ModelConfig(botorch_model_class=JointSurrogate, model_options=tiny)],
        # The constraint metric gets a classification-only joint model (label c >= 0).
        metric_to_model_configs={
            "c": [
                ModelConfig(
                    botorch_model_class=JointSurrogate,
                    model_options={**tiny, "constraint_columns": [0]},
                    input_transform_classes=None,
                )
            ]
        },
    )
    client = Client()
    client.configure_experiment(
        parameters=[
            RangeParameterConfig(name=f"x{i}", parameter_type="float", bounds=(0.0, 10.0))
            for i in range(3)
        ]
    )
    client.configure_optimization(objective="-f1, -f2", outcome_constraints=["c >= 0.0"])
    client.set_generation_strategy(
        GenerationStrategy(
            nodes=[
                GenerationStep(generator=Generators.SOBOL, num_trials=6),
                GenerationStep(
                    generator=Generators.BOTORCH_MODULAR,
                    num_trials=-1,
                    generator_kwargs={"surrogate_spec": spec},
                ),
            ]
        )
    )

    def evaluate(p: dict[str, float]) -> dict[str, float]:
        x = [p[f"x{i}"] / 10.0 for i in range(3)]
        return {"f1": x[0] ** 2 + x[1], "f2": (1.0 - x[0]) ** 2 + x[2], "c": 0.7 - x[1]}

    for _ in range(3):
        for index, params in client.get_next_trials(max_trials=3).items():
            client.complete_trial(index, raw_data=evaluate(params))
    adapter = client._generation_strategy.adapter
    models = adapter.generator.surrogate.model.models
    assert all(isinstance(m, JointSurrogate) for m in models)
    assert sorted(m.num_constraints for m in models) == [0, 0, 1]
    assert all(m.epochs_trained is not None for m in models)  # fitted through Ax
    assert len(client._experiment.trials) >= 7
    assert torch.isfinite(models[0].posterior(torch.rand(2, 3)).mean).all()
