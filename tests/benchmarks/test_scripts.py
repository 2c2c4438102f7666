"""The acceptance scripts of the models and search issues: helpers and smoke runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import (  # noqa: E402
    corner_feasibility,
    optimum_precision,
    search_methods,
    surrogate_accuracy,
)


def test_pass_fail_keeps_objectives_and_signs_constraints() -> None:
    base = bj.problems.get("hh-cell")
    wrapped = search_methods.pass_fail(base)
    assert wrapped.parameter_names == base.parameter_names
    assert wrapped.constraint_names == base.constraint_names
    X = base.from_unit(np.random.default_rng(0).random((6, base.dim)))
    ours, theirs = wrapped.evaluate_batch(X), base.evaluate_batch(X)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.y, b.y)
        np.testing.assert_array_equal(a.c, np.where(b.c >= 0, 1.0, -1.0))


def test_surrogate_accuracy_smoke(tmp_path: Path) -> None:
    surrogate_accuracy.main(
        [
            "--smoke",
            "--problems",
            "c2dtlz2",
            "--models",
            "c+o-resnet",
            "gpr",
            "--out",
            str(tmp_path),
        ]
    )
    rows = surrogate_accuracy.load_rows(tmp_path / "results.jsonl")
    assert {(r["n"], r["model"]) for r in rows} == {
        (30, "c+o-resnet"), (60, "c+o-resnet"), (30, "gpr"), (60, "gpr")
    }  # fmt: skip
    assert all(np.isfinite(r["nrmse"]) and r["fit_s"] > 0 for r in rows)
    table = (tmp_path / "table.md").read_text()
    assert "| c2dtlz2 | 60 | gpr |" in table
    assert (tmp_path / "surrogate_accuracy.png").stat().st_size > 1000


def test_surrogate_accuracy_labelled_variant(tmp_path: Path) -> None:
    args = ["--smoke", "--problems", "c2dtlz2", "--models", "c+o-resnet", "--out", str(tmp_path)]
    surrogate_accuracy.main(args)
    surrogate_accuracy.main(
        [*args, "--resume", "--joint-options", '{"constraint_weight": 0}', "--label", "[cw=0]"]
    )
    rows = surrogate_accuracy.load_rows(tmp_path / "results.jsonl")
    assert sorted({r["model"] for r in rows}) == ["c+o-resnet", "c+o-resnet[cw=0]"]
    assert len(rows) == 4  # both sizes of each; the first run's rows were kept
    assert "| c2dtlz2 | 60 | c+o-resnet[cw=0] |" in (tmp_path / "table.md").read_text()


def test_optimum_precision_smoke(tmp_path: Path) -> None:
    variants = ["old-defaults", "megp"]
    optimum_precision.main(["--smoke", "--variants", *variants, "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "optimum_precision.json").read_text())
    assert [r["variant"] for r in rows] == variants
    # a radius below 1 is impossible on C2-DTLZ2: the truth was evaluated
    assert all(r["true_radius"] >= 1.0 and 0 <= r["distance_error"] <= 0.5 for r in rows)
    assert "| megp |" in (tmp_path / "optimum_precision.md").read_text()


def test_corner_feasibility_smoke(tmp_path: Path) -> None:
    corner_feasibility.main(["--smoke", "--out", str(tmp_path)])
    r = json.loads((tmp_path / "corner_feasibility.json").read_text())
    x0 = corner_feasibility.X0
    # the points lie on the true front: radius 1, feasible at the ends and the centre
    np.testing.assert_allclose(np.linalg.norm(r["true_objectives"], axis=1), 1.0, atol=1e-3)
    assert r["true_constraint"][0] > 0 and r["true_constraint"][x0.index(0.5)] > 0
    p, pt = np.array(r["c+o-ftt"]["p_mean"]), np.array(r["c+o-ftt"]["p_tempered"])
    assert np.all(np.abs(pt - 0.5) <= np.abs(p - 0.5) + 1e-3)  # tempering pulls to 1/2
    assert np.array(r["c+o-ftt"]["p_members"]).shape == (2, len(x0))
    assert "| 0.50 |" in (tmp_path / "corner_feasibility.md").read_text()


def _small_gpr_run(tmp_path: Path, problem: str) -> Path:
    """A finished ``run.py`` sweep: ``gpr`` on ``problem``, seed 0, 25 evaluations in
    batches of 5 after 10 initial points."""
    import subprocess

    out = tmp_path / "runs"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--problems", problem,
         "--methods", "gpr", "--seeds", "0", "--budget", "25", "--batch-size", "5",
         "--n-initial", "10", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_polish_realised_replays_the_run_exactly(tmp_path: Path) -> None:
    from benchmarks import polish_realised

    out = _small_gpr_run(tmp_path, "weldedbeam")
    rows = tmp_path / "rows.jsonl"
    args = ["--runs", str(out), "--problems", "weldedbeam", "--methods", "gpr"]
    args += ["--seeds", "0", "--epochs", "2", "--batch-size", "5", "--out", str(rows)]
    assert polish_realised.main(args) == 0
    (row,) = [json.loads(line) for line in rows.read_text().splitlines()]
    assert row["n"] == 15 and row["epoch"] == 2
    assert row["replays_run"]  # same code, same seeds: the batch the run evaluated
    assert row["hv_polish"] >= row["hv_before"] and row["hv_off"] >= row["hv_before"]
    assert polish_realised.main(args) == 0  # resumes: nothing to do
    assert len(rows.read_text().splitlines()) == 1
    assert "| weldedbeam | gpr | 15 | 1 |" in polish_realised.report(rows)


def test_search_seconds_shared_partitions_change_no_batch(tmp_path: Path) -> None:
    from benchmarks import search_seconds

    out = _small_gpr_run(tmp_path, "c2dtlz2")
    record = out / "records" / "c2dtlz2" / "gpr" / "seed0.json"
    md = tmp_path / "seconds.md"
    args = ["--record", str(record), "--n", "15", "--batch-sizes", "5", "3", "--out", str(md)]
    assert search_seconds.main(args) == 0
    text = md.read_text()
    rows = [json.loads(line) for line in text.split("```json\n")[1].split("\n```")[0].splitlines()]
    assert [r["batch"] for r in rows] == [5, 3]
    assert all(r["identical"] for r in rows)  # three objectives: the column-wise cells
    assert rows[0]["replays_run"] and "replays_run" not in rows[1]
    assert "| 15 | 5 |" in text
    with pytest.raises(SystemExit):
        search_seconds.main(["--record", str(record), "--n", "25"])
