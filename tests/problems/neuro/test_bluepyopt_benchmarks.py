"""The BluePyOpt benchmark scripts: metric helpers, and smoke runs (skipped without BluePyOpt)."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import bluepyopt_compare as compare  # noqa: E402


def installed(*modules: str) -> bool:
    """Whether every module imports (a missing one skips; a broken one errors loudly)."""
    try:
        for m in modules:
            importlib.import_module(m)
    except ModuleNotFoundError:
        return False
    return True


def test_evals_to_reach() -> None:
    ws = [None, 9.0, 4.0, None, 2.5, 2.0]
    assert compare.evals_to_reach(ws, 4.0) == 3
    assert compare.evals_to_reach(ws, 2.0) == 6
    assert compare.evals_to_reach(ws, 1.0) is None


def _record(out: Path, method: str, seed: int, ws: list[float], stopped: bool) -> None:
    settings = {"model": "m", "method": method, "seed": seed, "budget": 4, "threshold": 3.0}
    path = compare.record_path(out, "m", method, 4, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {
        "format": compare.RECORD_FORMAT,
        "status": "ok",
        "settings": settings,
        "hv_norm": 0.5,
        "best_ws": min(ws),
        "weighted_sum": ws,
        "n": len(ws),
        "n_feasible": 1,
        "n_failed": 0,
        "simulation_seconds": 1.0,
        "proposal_seconds": 0.0,
        "stopped_early": stopped,
    }
    path.write_text(json.dumps(rec))


def test_report_names_runs_the_optimiser_stopped_early(tmp_path: Path) -> None:
    _record(tmp_path, "ibea", 0, [5.0, 4.0, 3.0, 2.0], stopped=False)
    _record(tmp_path, "cma-es", 0, [6.0, 2.0], stopped=True)
    text = compare.report(tmp_path)
    assert "| m | 4 | cma-es | 1 |" in text
    assert "before the budget" in text and "m cma-es budget 4 seed 0 (2 evaluations)" in text
    _record(tmp_path, "cma-es", 0, [6.0, 2.0, 2.0, 2.0], stopped=False)
    assert "before the budget" not in compare.report(tmp_path)


def test_summarise_counts_feasible_hv_and_weighted_sum() -> None:
    Y = np.array([[1.0, 2.0], [0.5, 4.0], [np.nan, np.nan], [2.5, 0.5], [9.0, 0.0]])
    failed = np.array([False, False, True, False, False])
    s = compare.summarise(Y, failed, threshold=3.0)
    assert s["n_feasible"] == 2 and s["n_failed"] == 1  # rows 0 and 3
    # HV of {(1, 2), (2.5, 0.5)} below (3, 3): the union of two boxes
    assert s["hv"] == pytest.approx((3 - 1) * (3 - 2) + (3 - 2.5) * (2 - 0.5))
    assert s["hv_norm"] == pytest.approx(s["hv"] / 9.0)
    assert s["best_ws"] == 3.0  # rows 0 and 3; the failed row is skipped
    assert s["weighted_sum"][2] is None and s["weighted_sum"][0] == 3.0


needs_bluepyopt = pytest.mark.skipif(
    not installed("bluepyopt", "deap", "neuron", "efel"),
    reason="needs the bluepyopt extra",
)


@needs_bluepyopt
def test_compare_smoke_records_and_resumes(tmp_path: Path, capsys) -> None:
    args = ["--smoke", "--methods", "gpr", "ibea", "cma-es", "--out", str(tmp_path)]
    assert compare.main(args) == 0
    recs = compare.load_records(tmp_path)
    assert sorted(r["settings"]["method"] for r in recs) == ["cma-es", "gpr", "ibea"]
    for r in recs:
        assert r["n"] == 12 and len(r["X"]) == 12 and len(r["weighted_sum"]) == 12
        assert r["simulation_seconds"] > 0 and r["wall_seconds"] >= r["simulation_seconds"]
        ws = [v for v in r["weighted_sum"] if v is not None]
        assert r["best_ws"] == min(ws)
    ibea = next(r for r in recs if r["settings"]["method"] == "ibea")
    # BluePyOpt's raw scores are kept, and read as from_bluepyopt reads them
    for raw, y, bad in zip(ibea["raw_scores"], ibea["Y"], ibea["failed"]):
        if not bad:
            assert raw == pytest.approx(y)
        else:
            assert max(raw) >= 250.0
    table = (tmp_path / "report.md").read_text()
    assert "| simplecell | 12 | ibea | 1 |" in table
    # IBEA reaches its own final best, at the evaluation where it found it
    first = compare.evals_to_reach(ibea["weighted_sum"], ibea["best_ws"])
    assert f"| {first} (1/1) |" in table.split("| ibea |")[1].splitlines()[0]
    capsys.readouterr()
    assert compare.main(args) == 0  # finished runs are skipped
    assert "0 runs to do, 3 already done" in capsys.readouterr().out


@needs_bluepyopt
def test_feasibility_script_smoke(tmp_path: Path) -> None:
    from benchmarks import bluepyopt_feasibility as feas

    assert feas.main(["--model", "simplecell", "--n", "8", "--workers", "1",
                      "--out", str(tmp_path)]) == 0  # fmt: skip
    rec = json.loads((tmp_path / "simplecell.json").read_text())
    assert rec["n"] == 8 and [t["threshold"] for t in rec["thresholds"]] == [3.0, 5.0]
    shares = [t["feasible_share"] for t in rec["thresholds"]]
    assert shares[0] <= shares[1] and all(0 <= s <= 1 for s in shares)
    assert all(math.isfinite(v) for v in rec["truth_objectives"].values())
    assert "| 3 |" in (tmp_path / "simplecell.md").read_text()
