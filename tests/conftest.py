"""Shared fixtures: small analytic problems that run in microseconds."""

from __future__ import annotations

import numpy as np
import pytest


def toy_evaluate(p: dict[str, float]) -> dict[str, float]:
    x, y = p["x"], p["y"]
    return {"f1": x, "f2": (1.0 - x) ** 2 + y, "c1": 0.5 - y}


def flaky_evaluate(p: dict[str, float]) -> dict[str, float]:
    """Raises for x > 0.8, returns NaN for y > 0.9, otherwise the toy problem."""
    if p["x"] > 0.8:
        raise RuntimeError(f"simulator crashed at x={p['x']:.3f}")
    out = toy_evaluate(p)
    if p["y"] > 0.9:
        out["f2"] = float("nan")
    return out


@pytest.fixture
def toy_problem():
    import botorch_joint as bj

    return bj.Problem(
        "toy",
        {"x": (0.0, 1.0), "y": (0.0, 1.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=toy_evaluate,
        ref_point=[1.1, 2.1],
    )


@pytest.fixture
def flaky_problem():
    import botorch_joint as bj

    return bj.Problem(
        "flaky",
        {"x": (0.0, 1.0), "y": (0.0, 1.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=flaky_evaluate,
        ref_point=[1.1, 2.1],
    )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    """End multiprocessing children that a test left running.

    A process-pool worker still alive at exit makes the interpreter wait for it (one CI
    run on 2026-12-07 hung after every test had passed, on a spawned worker from the
    third minute of the run); the leak itself is still to be found.
    """
    import multiprocessing

    for child in multiprocessing.active_children():
        child.terminate()
        child.join(timeout=5)
