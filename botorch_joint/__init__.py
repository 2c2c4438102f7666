"""botorch_joint: joint constraint-and-objective surrogates for expensive constrained
multi-objective optimisation, as a BoTorch/Ax plugin.

The top-level names load lazily so that ``import botorch_joint`` stays cheap (no torch,
BoTorch or Ax until a model or method needs them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from botorch_joint import metrics, problems
    from botorch_joint.loop import optimize
    from botorch_joint.persistence import load_result
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result

_LAZY = {
    "Problem": ("botorch_joint.problems.base", "Problem"),
    "optimize": ("botorch_joint.loop", "optimize"),
    "Result": ("botorch_joint.result", "Result"),
    "load_result": ("botorch_joint.persistence", "load_result"),
    "problems": ("botorch_joint.problems", None),
    "metrics": ("botorch_joint.metrics", None),
    "designs": ("botorch_joint.designs", None),
    "models": ("botorch_joint.models", None),
    "acquisition": ("botorch_joint.acquisition", None),
    "sensitivity": ("botorch_joint.sensitivity", None),
    "strategies": ("botorch_joint.strategies", None),
    "evaluation": ("botorch_joint.evaluation", None),  # the older name of parallel
    "parallel": ("botorch_joint.parallel", None),
    "plotting": ("botorch_joint.plotting", None),
}

__all__ = ["Problem", "Result", "load_result", "metrics", "optimize", "problems", "__version__"]


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'botorch_joint' has no attribute {name!r}") from None
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
