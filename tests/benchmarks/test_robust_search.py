"""benchmarks/robust_search.py: tables and target checks from run records."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import robust_search  # noqa: E402


def test_tables_and_targets(tmp_path: Path, capsys, run_record) -> None:
    n = 12
    for seed in (10, 11, 12):
        ours = np.linspace(0.0, 1.8, n).tolist()  # normalised 0.9 at the end
        run_record(tmp_path, "p", "c+o-ftt", seed, ours, [False] * 5 + [True] * 7)
        run_record(tmp_path, "p", "gpr", seed, np.linspace(0, 1.6, n).tolist(), [True] * n)
        # megp never feasible on seed 12
        megp_feasible = [False] * n if seed == 12 else [True] * n
        run_record(tmp_path, "p", "megp", seed, np.linspace(0, 1.0, n).tolist(), megp_feasible)
    out = tmp_path / "table.md"
    assert (
        robust_search.main(
            [
                "--runs",
                f"final={tmp_path}",
                "--budgets",
                "6",
                "12",
                "--check",
                "final",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    # c+o-ftt: HV 1.8 / max 2 at 12 evaluations; gpr 0.8; 6th value at budget 6
    assert "| final:c+o-ftt | 3 | " in text and "0.900 (0.900, 0.900, 0.900)" in text
    assert "| final:megp | 3 |" in text and "| 1 |" in text  # one seed without feasibility
    assert "| p | 12 | 0.900 | 0.800 | +0.100 | 10, 11, 12 |" in text
    assert "0.05 or more ahead at some budget: 1 problems (p; target: 3)" in text
    assert "minus 0.02: met" in text
    # a label that names no sweep is an error, not an empty check that reads "met"
    with pytest.raises(SystemExit, match="no runs with that label"):
        robust_search.main(["--runs", f"final={tmp_path}", "--check", "c+o-ftt"])
    # first feasible evaluation after the 4-point design: the 6th evaluation
    assert "| 6 |" in text
