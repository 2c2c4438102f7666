"""Candidate-generation methods by name, as accepted by ``optimize(method=...)``.

Every method, built-in or not, is registered with :func:`register_method`
(:mod:`botorch_joint.strategies.registry`); the built-ins below register themselves the
same way. Surrogate methods live in modules that import torch and BoTorch, and
``ax-default`` in one that imports Ax: they are named as ``"module:attribute"`` and
imported only when asked for.
"""

from __future__ import annotations

from typing import Any

from botorch_joint.strategies.base import Proposal, Strategy, epoch_rng
from botorch_joint.strategies.registry import (
    MethodSpec,
    UnknownMethodError,
    get_method,
    make_strategy,
    method_names,
    register_method,
)

__all__ = [
    "METHODS",
    "MethodSpec",
    "Proposal",
    "Strategy",
    "UnknownMethodError",
    "epoch_rng",
    "get_method",
    "make_strategy",
    "method_names",
    "register_method",
]

#: the built-in space-filling methods (their design spans the whole budget)
SPACE_FILLING = ("sobol", "lh", "slh", "mc")
#: the built-in surrogate methods
SURROGATE = ("c+o-ftt", "c+o-resnet", "o-ftt", "o-resnet", "gpr", "megp")

for _name in SURROGATE:
    register_method(_name, "botorch_joint.strategies.surrogate:SurrogateStrategy", kind="surrogate")
register_method("ax-default", "botorch_joint.strategies.ax_default:AxDefaultStrategy", kind="ax")
for _name in SPACE_FILLING:
    register_method(
        _name,
        "botorch_joint.strategies.space_filling:make_space_filling",
        kind="space-filling",
        whole_budget=True,
    )
del _name


def __getattr__(name: str) -> Any:
    # METHODS follows the registry: every method name optimize accepts right now.
    if name == "METHODS":
        return tuple(method_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
