"""The tutorial notebooks: built from their percent-format scripts, runnable in smoke mode.

Every ``tutorials/<name>/<name>.ipynb`` is executed with nbclient in a fresh kernel with
``SMOKE_TEST=1``, in a temporary working directory, under a per-notebook time limit
(in a subprocess, ``tests/tutorials/run_notebook.py``, that is killed at the limit).
Select or skip them with ``-m tutorials`` / ``-m "not tutorials"``.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
RUNNER = Path(__file__).resolve().parent / "tutorials" / "run_notebook.py"
NOTEBOOKS = sorted(TUTORIALS.glob("*/*.ipynb"))
EXPECTED = ["ax_client", "botorch_dropin", "from_bluepyopt", "hpc", "neuron_fitting", "quickstart"]
#: notebooks that cannot run at all without an optional package (skipped without it)
REQUIRES = {"from_bluepyopt": "bluepyopt"}

# Wall-clock limit for one whole notebook in smoke mode (seconds). Each takes well under
# a minute on two idle CPU cores; the limit is generous and only catches a hang.
NOTEBOOK_TIMEOUT = float(os.environ.get("BJ_NOTEBOOK_TIMEOUT", "240"))

pytestmark = pytest.mark.tutorials
NEEDS_NEURON = "needs-neuron"  # cell tag, see tutorials/make_notebooks.py
HAVE_NEURON = importlib.util.find_spec("neuron") is not None


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", TUTORIALS / "make_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_tutorial_is_stored() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        assert path.parent.name == path.stem, f"{path} must live in tutorials/<name>/<name>.ipynb"


def test_every_tutorial_is_built_from_a_percent_script() -> None:
    for path in NOTEBOOKS:
        source = path.with_suffix(".py")
        assert source.exists(), f"{path.name} needs its source {source.name} beside it"
        lines = source.read_text().splitlines()
        assert lines[0] == "# ---" and "#     formats: py:percent" in lines, source.name
        assert any(line.startswith("# %% [markdown]") for line in lines), source.name


def test_notebooks_match_their_generator() -> None:
    pytest.importorskip("nbformat")
    make = _generator()
    assert sorted(make.NOTEBOOKS) == EXPECTED
    stale = [n for n in make.NOTEBOOKS if make.path_of(n).read_text() != make.render(n)]
    assert not stale, f"run `python tutorials/make_notebooks.py`: {stale} are out of date"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_opens_with_smoke_switch(path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    assert 'SMOKE_TEST = os.environ.get("SMOKE_TEST")' in code[0].source
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, (
            f"{path.name}: notebooks are stored without outputs"
        )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert "SMOKE_TEST" in "".join(c.source for c in code[1:]), "smoke mode must shrink something"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_smoke_mode(path: Path, tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    if path.stem in REQUIRES:
        pytest.importorskip(REQUIRES[path.stem])
    env = dict(os.environ)
    # Smoke mode and the repo importable. No MPLBACKEND (conftest sets Agg), so the
    # kernel draws inline and figures become outputs. One BLAS/OpenMP thread: on a small
    # shared CI machine oversubscription costs more than it gains for these tiny models.
    env.pop("MPLBACKEND", None)
    env.update(
        SMOKE_TEST="1",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    executed = tmp_path / "executed.ipynb"
    work = tmp_path / "work"
    work.mkdir()
    cmd = [sys.executable, str(RUNNER), str(path), str(executed), "--cwd", str(work)]
    # A subprocess in its own session: the whole run is killed at the limit, even if the
    # kernel hangs or dies in a way that leaves nbclient waiting.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=NOTEBOOK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"{path.name} did not finish within {NOTEBOOK_TIMEOUT:.0f} s")
    assert proc.returncode == 0, stderr[-8000:]
    nb = nbformat.read(executed, as_version=4)
    # Every cell that shows a figure must have drawn one inline (cells for NEURON draw
    # nothing when it is not installed).
    blank = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        and "plt.show()" in cell.source
        and (HAVE_NEURON or NEEDS_NEURON not in cell.metadata.get("tags", []))
        and not any("image/png" in out.get("data", {}) for out in cell.outputs)
    ]
    assert not blank, f"{path.name}: cells {blank} call plt.show() but show no figure"
