"""Importable test problems for the evaluator, MPI and resume tests.

Worker processes (spawned pools, MPI ranks, a killed-and-resumed run in a subprocess)
must import the simulator by name, so these live in a module rather than in the tests.
Put this directory on ``sys.path`` (or ``PYTHONPATH``) to import it as
``bj_fault_helpers``.
"""

from __future__ import annotations

import math
import os
import signal
import time

import numpy as np

import botorch_joint as bj
from botorch_joint.strategies import Proposal, Strategy

#: ``mode`` parameter values (the integer part selects the behaviour)
OK, RAISE, HANG, NAN, EXIT, SEGFAULT, STUBBORN = range(7)


def faulty_evaluate(p: dict[str, float]) -> dict[str, float]:
    """A simulator whose failure mode is chosen by ``int(p["mode"])``."""
    mode = int(math.floor(p["mode"]))
    x = p["x"]
    if mode == RAISE:
        raise ValueError(f"simulator blew up at x={x:.3f}")
    if mode == HANG:
        time.sleep(float(os.environ.get("BJ_TEST_HANG", "60")))
    if mode == NAN:
        return {"f1": float("nan"), "f2": x, "c1": 1.0}
    if mode == EXIT:
        os._exit(3)
    if mode == SEGFAULT:
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == STUBBORN:
        # a hang that swallows the worker's own timeout: only killing the worker ends it
        deadline = time.monotonic() + float(os.environ.get("BJ_TEST_STUBBORN", "60"))
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except BaseException:
                pass
    log = os.environ.get("BJ_TEST_FAULTY_LOG")
    if log:  # a point that finished, as (mode, x): compare with the run's X
        with open(log, "a") as fh:
            fh.write(f"{p['mode']!r} {x!r}\n")
    return {"f1": x, "f2": 1.0 - x, "c1": 0.5 - x}


def faulty_problem() -> bj.Problem:
    return bj.Problem(
        "faulty",
        {"mode": (0.0, 6.999), "x": (0.0, 1.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=faulty_evaluate,
    )


def point(mode: int, x: float = 0.25) -> list[float]:
    return [mode + 0.5, x]


def logged_evaluate(p: dict[str, float]) -> dict[str, float]:
    """Sleeps ``$BJ_TEST_DELAY`` s, then appends its point to ``$BJ_TEST_LOG``."""
    time.sleep(float(os.environ.get("BJ_TEST_DELAY", "0.0")))
    x, y = p["x"], p["y"]
    log = os.environ.get("BJ_TEST_LOG")
    if log:
        with open(log, "a") as fh:
            fh.write(f"{x!r} {y!r}\n")
            fh.flush()
    return {"f1": x, "f2": (1.0 - x) ** 2 + y, "c1": 0.6 - y}


def logged_problem() -> bj.Problem:
    return bj.Problem(
        "logged",
        {"x": (0.0, 1.0), "y": (0.0, 1.0)},
        ["f1", "f2"],
        ["c1"],
        evaluate=logged_evaluate,
        ref_point=[1.1, 2.1],
    )


def read_log(path: str) -> np.ndarray:
    """``(n, 2)`` points that finished evaluating, in completion order."""
    if not os.path.exists(path):
        return np.empty((0, 2))
    rows = [tuple(map(float, line.split())) for line in open(path) if line.strip()]
    return np.asarray(rows, dtype=float).reshape(-1, 2)


class FixedPoints(Strategy):
    """Proposes a fixed list of points in order (initial design first)."""

    name = "fixed"

    def __init__(self, problem: bj.Problem, X: np.ndarray) -> None:
        super().__init__(problem, len(X), 0)
        self.X = np.asarray(X, dtype=float)

    def initial(self, n: int) -> np.ndarray:
        return self.X[:n]

    def propose(self, data, n: int, epoch: int) -> Proposal:
        return Proposal(self.X[len(data) : len(data) + n])


def fixed_run_points(modes: list[int]) -> np.ndarray:
    """``(n, 2)`` points of :func:`faulty_problem`, one per mode, with distinct ``x``."""
    return np.array([point(m, x=0.1 + 0.8 * i / len(modes)) for i, m in enumerate(modes)])
