"""Built-in problems and the :class:`Problem` class.

``names()`` lists the built-ins, ``get(name)`` builds one. Built-ins are registered
lazily so that ``import botorch_joint`` stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from botorch_joint.problems.base import (
    Evaluation,
    InvalidResultError,
    Problem,
    ProblemDefinitionError,
)

__all__ = [
    "Evaluation",
    "InvalidResultError",
    "Problem",
    "ProblemDefinitionError",
    "from_bluepyopt",
    "get",
    "names",
    "register",
]

# name -> "module:factory"; the factory is called with get()'s keyword arguments.
_BUILTINS: dict[str, str] = {
    "c2dtlz2": "botorch_joint.problems.test_functions:c2dtlz2",
    "mw7": "botorch_joint.problems.test_functions:mw7",
    "discbrake": "botorch_joint.problems.test_functions:discbrake",
    "weldedbeam": "botorch_joint.problems.test_functions:weldedbeam",
    "osy": "botorch_joint.problems.test_functions:osy",
    "constrained-branincurrin": "botorch_joint.problems.test_functions:constrained_branincurrin",
    "hh-cell": "botorch_joint.problems.neuro.hh_cell:hh_cell",
    "hh-cell-passfail": "botorch_joint.problems.neuro.hh_cell:hh_cell_passfail",
    "hh-neuron": "botorch_joint.problems.neuro.hh_neuron:hh_neuron",
    "ei-network": "botorch_joint.problems.neuro.ei_network:ei_network",
    "mean-field": "botorch_joint.problems.neuro.mean_field:mean_field",
    "bluepyopt-simplecell": "botorch_joint.problems.neuro.bluepyopt_models:simplecell",
    "bluepyopt-ballstick": "botorch_joint.problems.neuro.bluepyopt_models:ballstick",
}
_USER: dict[str, Callable[..., Problem]] = {}


def from_bluepyopt(evaluator: Any = None, **kwargs: Any) -> Problem:
    """A :class:`Problem` from a BluePyOpt evaluator (extra ``bluepyopt``).

    See :func:`botorch_joint.problems.neuro.bluepyopt.from_bluepyopt` for the arguments;
    BluePyOpt is imported only when the evaluator is used.
    """
    from botorch_joint.problems.neuro.bluepyopt import from_bluepyopt as build

    kwargs.setdefault("problem_cls", Problem)
    return build(evaluator, **kwargs)


def register(name: str, factory: Callable[..., Problem]) -> None:
    """Register a problem factory under ``name`` so that ``get(name)`` builds it."""
    if name in _BUILTINS or name in _USER:
        raise ValueError(f"a problem named {name!r} is already registered")
    _USER[name] = factory


def names() -> list[str]:
    """Names of every registered problem, built-ins first."""
    return list(_BUILTINS) + list(_USER)


def get(name: str, **kwargs: Any) -> Problem:
    """Build the built-in (or registered) problem ``name``.

    Args:
        name: one of :func:`names`.
        **kwargs: problem options (e.g. ``dim=12`` for ``c2dtlz2``).

    Raises:
        KeyError: for an unknown name (the message lists the known ones).
    """
    if name in _USER:
        factory = _USER[name]
    elif name in _BUILTINS:
        module, attr = _BUILTINS[name].split(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        raise KeyError(f"unknown problem {name!r}; built-in problems are {names()}")
    problem = factory(**kwargs)
    problem.metadata["_builtin"] = (name, dict(kwargs))
    # How Problem.__reduce__ sends a built-in to a worker: by name, not by closure.
    problem._rebuild = (_rebuild, (name, dict(kwargs)))
    return problem


def _rebuild(name: str, kwargs: dict[str, Any]) -> Problem:
    return get(name, **kwargs)
