"""Shared helpers for the tests of the benchmark scripts."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest


def write_run_record(
    out: Path, problem: str, method: str, seed: int, hv: list[float], feasible: list[bool]
) -> None:
    """A finished ``benchmarks/run.py`` record: 4 design rows, then batches of 4; max HV 2."""
    n = len(hv)
    epoch = [0] * 4 + [1 + i // 4 for i in range(n - 4)]
    rec = {
        "problem": problem,
        "method": method,
        "seed": seed,
        "complete": True,
        "hv_history": hv,
        "timing": {"train_seconds": 2.0, "search_seconds": 1.0},
        "result": {"max_hv": 2.0, "epoch": epoch, "feasible": feasible},
    }
    path = out / "records" / problem / method / f"seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rec))


@pytest.fixture
def run_record() -> Callable[..., None]:
    """:func:`write_run_record`, for tests that write sweep directories."""
    return write_run_record
