"""The method registry: every name ``optimize(method=...)`` accepts, and how to build it.

A method is a name bound to a *factory* that builds a
:class:`~botorch_joint.strategies.base.Strategy`. The built-in methods register
themselves here exactly as a user's method would (see
:mod:`botorch_joint.strategies`), so the run loop, the command line, the Ax nodes and
the benchmark harness all read one table::

    from botorch_joint.strategies import Strategy, register_method

    def my_factory(problem, *, method, budget, seed, initial_design, sensitivity,
                   batch_size, **options) -> Strategy:
        ...

    register_method("my-method", my_factory)
    bj.optimize(problem, method="my-method")

A factory may also be given as ``"module:attribute"``, imported only when the method is
first built, which keeps this module (and ``import botorch_joint``) free of torch and Ax.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botorch_joint.errors import SettingsError

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.strategies.base import Strategy

__all__ = [
    "MethodSpec",
    "UnknownMethodError",
    "get_method",
    "initial_design_for",
    "make_strategy",
    "method_names",
    "register_method",
]

#: ``factory(problem, *, method, budget, seed, initial_design, sensitivity, batch_size,
#: **options) -> Strategy``
MethodFactory = Callable[..., "Strategy"]

# Names end up in run-directory and record paths, file names and command lines.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


class UnknownMethodError(SettingsError):
    """``method`` names no registered method (the message lists the registered ones)."""


@dataclass(frozen=True)
class MethodSpec:
    """One registered method.

    Attributes:
        name: the name ``optimize(method=...)`` accepts.
        factory: the callable that builds its strategy, or ``"module:attribute"``
            naming it (imported on first use).
        kind: a label for listings and reports: ``"surrogate"``, ``"ax"``,
            ``"space-filling"`` for the built-ins, anything for others (the benchmark
            harness registers its ``"peer"`` methods).
        whole_budget: the method spends the whole budget on its own space-filling
            design: the run's initial design is that design, and the warning about a
            budget too small for a surrogate is not given.
        missing: returns why the method cannot run in this installation (a missing
            package, say), or ``None`` if it can; ``None`` means it always can, apart
            from a ``"module:attribute"`` factory whose module is absent.
    """

    name: str
    factory: MethodFactory | str
    kind: str = "custom"
    whole_budget: bool = False
    missing: Callable[[], str | None] | None = None

    def load(self) -> MethodFactory:
        """The factory itself (importing its module for a ``"module:attribute"``)."""
        if callable(self.factory):
            return self.factory
        module, _, attr = self.factory.partition(":")
        return getattr(importlib.import_module(module), attr)

    def why_unavailable(self) -> str | None:
        """Why the method cannot run here, or ``None`` if it can (nothing is imported)."""
        if isinstance(self.factory, str):
            module = self.factory.partition(":")[0]
            try:
                found = importlib.util.find_spec(module) is not None
            except ImportError:  # a parent package is missing
                found = False
            if not found:
                return f"method {self.name!r} needs module {module!r}, which is not installed"
        return None if self.missing is None else self.missing()


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    factory: MethodFactory | str,
    *,
    kind: str = "custom",
    whole_budget: bool = False,
    missing: Callable[[], str | None] | None = None,
    replace: bool = False,
) -> MethodSpec:
    """Register ``factory`` as the method ``name`` of :func:`botorch_joint.optimize`.

    The factory is called as ``factory(problem, method=name, budget=..., seed=...,
    initial_design=..., sensitivity=..., batch_size=..., **method_options)`` and returns
    a :class:`~botorch_joint.strategies.base.Strategy`. For resumable runs it must
    propose the same points given the same data (draw from
    :func:`~botorch_joint.strategies.base.epoch_rng`).

    Args:
        name: the method's name: letters, digits and ``_ . + -``, starting with a letter
            or digit (it becomes part of file and directory names).
        factory: a callable, or ``"module:attribute"`` naming one (imported on first use).
        kind: a label for listings (see :class:`MethodSpec`).
        whole_budget: the method's own design spans the whole budget.
        missing: a check that says why the method cannot run here, or ``None``.
        replace: replace a method registered under ``name`` instead of refusing.

    Returns:
        The registered :class:`MethodSpec`.

    Raises:
        ValueError: an invalid name, a factory that is neither callable nor
            ``"module:attribute"``, or a name already registered (without ``replace``).
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(
            f"invalid method name {name!r}: use letters, digits and '_.+-', starting "
            "with a letter or digit"
        )
    if not callable(factory) and not (
        isinstance(factory, str) and re.fullmatch(r"[\w.]+:\w+", factory)
    ):
        raise ValueError(
            f"the factory of method {name!r} must be callable or 'module:attribute', "
            f"got {factory!r}"
        )
    if name in _REGISTRY and not replace:
        raise ValueError(
            f"a method named {name!r} is already registered; pass replace=True to replace it"
        )
    spec = MethodSpec(name, factory, str(kind), bool(whole_budget), missing)
    _REGISTRY[name] = spec
    return spec


def method_names() -> list[str]:
    """Every registered method name, in registration order (the built-ins first)."""
    return list(_REGISTRY)


def get_method(name: str) -> MethodSpec:
    """The registered method ``name``; the one place a method name is checked.

    Raises:
        UnknownMethodError: no method of that name (a :class:`SettingsError`, so a
            ``ValueError`` too).
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):  # TypeError: an unhashable "name"
        raise UnknownMethodError(
            f"unknown method {name!r}; choose one of {method_names()}"
        ) from None


def spans_budget(name: str) -> bool:
    """Whether ``name`` is a registered method whose own design spans the budget."""
    spec = _REGISTRY.get(name)
    return spec is not None and spec.whole_budget


def initial_design_for(method: str, initial_design: str) -> str:
    """The initial design a run of ``method`` uses: its own, if its design spans the budget."""
    return method if spans_budget(method) else initial_design


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
    """Build the strategy of the registered method ``method`` for ``problem``.

    Args:
        method: a name of :func:`method_names`.
        problem: the problem.
        budget: total evaluations, initial design included.
        seed: base seed.
        initial_design: the initial design's name.
        sensitivity: the sensitivity estimator's name, or ``None``.
        batch_size: evaluations per epoch.
        options: the method's own keyword arguments (``method_options``).

    Raises:
        UnknownMethodError: ``method`` is not registered.
    """
    factory = get_method(method).load()
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
