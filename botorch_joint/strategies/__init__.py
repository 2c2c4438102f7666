"""Candidate-generation methods by name, as accepted by ``optimize(method=...)``.

Surrogate methods live in modules that import torch and BoTorch; they are only imported
when asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from botorch_joint.strategies.base import Proposal, Strategy, epoch_rng

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem

__all__ = ["METHODS", "Proposal", "Strategy", "epoch_rng", "make_strategy"]

SPACE_FILLING = ("sobol", "lh", "slh", "mc")
SURROGATE = ("c+o-ftt", "c+o-resnet", "o-ftt", "o-resnet", "gpr", "megp")
#: every method name ``optimize`` accepts
METHODS = SURROGATE + ("ax-default",) + SPACE_FILLING

_FACTORIES = {
    **{name: "botorch_joint.strategies.surrogate:SurrogateStrategy" for name in SURROGATE},
    "ax-default": "botorch_joint.strategies.ax_default:AxDefaultStrategy",
}


def make_strategy(
    method: str,
    problem: Problem,
    *,
    budget: int,
    seed: int = 0,
    initial_design: str = "slh",
    sensitivity: str | None = "sgrad",
    batch_size: int = 20,
    options: dict[str, Any] | None = None,
) -> Strategy:
    """Build the strategy for ``method`` (see :data:`METHODS`)."""
    if method in SPACE_FILLING:
        from botorch_joint.strategies.space_filling import SpaceFilling

        return SpaceFilling(problem, budget, seed, design=method)
    if method not in _FACTORIES:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    module, attr = _FACTORIES[method].split(":")
    factory = getattr(importlib.import_module(module), attr)
    return factory(
        problem,
        method=method,
        budget=budget,
        seed=seed,
        initial_design=initial_design,
        sensitivity=sensitivity,
        batch_size=batch_size,
        **(options or {}),
    )
