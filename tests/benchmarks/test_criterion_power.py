"""benchmarks/criterion_power.py: how often the issue's targets pass by chance."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import criterion_power  # noqa: E402


def _record(run_record, out: Path, problem: str, method: str, seed: int, final: float, first: int):
    n = 12
    hv = np.linspace(0.0, 2 * final, n).tolist()  # max HV 2: normalised `final` at n
    run_record(out, problem, method, seed, hv, [i + 1 >= first for i in range(n)])


def test_identical_runs_pass_and_a_clear_loss_fails(tmp_path: Path, run_record) -> None:
    for seed in range(5):
        # "same": every method the same runs; "loss": ours 0.1 below on every seed
        for method in ("c+o-ftt", "gpr", "megp"):
            _record(run_record, tmp_path, "same", method, seed, 0.5, first=5)
            # the same spread of runs for all three: the better of two medians is
            # above ours by chance more often than not
            _record(run_record, tmp_path, "noisy", method, seed, 0.3 + 0.05 * seed, first=5)
        _record(run_record, tmp_path, "loss", "c+o-ftt", seed, 0.4, first=13 if seed == 0 else 5)
        _record(run_record, tmp_path, "loss", "gpr", seed, 0.5, first=5)
        _record(run_record, tmp_path, "loss", "megp", seed, 0.45, first=5)
        _record(run_record, tmp_path, "loss", "c+o-resnet", seed, 0.5, first=5)
        _record(run_record, tmp_path, "loss", "c+o-resnet", seed, 0.5, first=5)
    out = tmp_path / "power.md"
    args = ["--runs", f"a={tmp_path}", "--budgets", "6", "12", "--draws", "500"]
    assert criterion_power.main([*args, "--out", str(out)]) == 0
    text = out.read_text()
    assert "| same | 5 / 5 / 5 | 1.00 / 0.00 | 1.00 / 0.00 | 1.00 / 1.00 / 1.00 |" in text
    # ours: always 0.1 behind; equal to the better (gpr): always within; one run of
    # five finds no feasible point by 6 evaluations, so 0.8 ** 5 of the acceptances pass
    assert f"| loss | 5 / 5 / 5 | 0.00 / 0.00 | 1.00 / 0.00 | {0.8**5:.2f} / 1.00 / 1.00 |" in text
    noisy = next(line for line in text.splitlines() if line.startswith("| noisy |"))
    p_within = float(noisy.split("|")[3].split("/")[0])
    assert 0.2 < p_within < 0.8
    # every problem at once: the "loss" problem fails every draw as measured
    assert "problems drawn independently) | 0.000 |" in text
    # another method scored against the same baselines (it ran "loss" only, level with gpr)
    assert criterion_power.main([*args, "--method", "c+o-resnet", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| loss | 5 / 5 / 5 | 1.00 / 0.00 | 1.00 / 0.00 | 1.00 / 1.00 / 1.00 |" in text
    assert "| same |" not in text
    with pytest.raises(SystemExit, match="runs of nope, gpr and megp"):
        criterion_power.main([*args, "--method", "nope"])
    with pytest.raises(SystemExit):
        criterion_power.main([*args, "--method", "gpr"])  # a baseline against itself


def test_bad_input_is_named(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        criterion_power.main(["--runs", str(tmp_path)])  # no LABEL=
    with pytest.raises(SystemExit):
        criterion_power.main(["--runs", f"a={tmp_path / 'missing'}"])
    with pytest.raises(SystemExit, match="no problem has finished runs"):
        criterion_power.main(["--runs", f"a={tmp_path}"])
