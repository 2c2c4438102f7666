"""The tutorial notebooks: stored in sync with their generator, and runnable in smoke mode.

Every ``tutorials/<name>/<name>.ipynb`` is executed with nbclient in a fresh kernel with
``SMOKE_TEST=1``, in a temporary working directory, under a per-notebook time limit.
Select or skip them with ``-m tutorials`` / ``-m "not tutorials"``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*/*.ipynb"))
EXPECTED = ["ax_client", "botorch_dropin", "hpc", "neuron_fitting", "quickstart"]

# Wall-clock limit for one whole notebook in smoke mode (seconds). Each takes well under
# a minute on two idle CPU cores; the limit is generous and only catches a hang.
NOTEBOOK_TIMEOUT = float(os.environ.get("BJ_NOTEBOOK_TIMEOUT", "240"))

pytestmark = pytest.mark.tutorials
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in IPython tracebacks
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
def test_notebook_runs_in_smoke_mode(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    # The kernel inherits this environment: smoke mode and the repo importable. No
    # MPLBACKEND (conftest sets Agg), so the kernel draws inline and figures are outputs.
    monkeypatch.setenv("SMOKE_TEST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    # One BLAS/OpenMP thread: on a small shared CI machine oversubscription costs more
    # than the parallelism gains for these tiny models.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    deadline = time.monotonic() + NOTEBOOK_TIMEOUT

    def remaining(cell: object) -> int:
        # nbclient applies this per cell; spending the notebook's budget bounds the whole.
        return max(1, int(deadline - time.monotonic()))

    client = nbclient.NotebookClient(
        nb,
        timeout_func=remaining,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        # The venv's interpreter, not whichever "python3" a Jupyter kernelspec names.
        kernel_manager_class=_kernel_manager(),
    )
    t0 = time.monotonic()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell failed\n{_ANSI.sub('', str(exc))}")
    except (TimeoutError, nbclient.exceptions.CellTimeoutError):
        pytest.fail(f"{path.name} did not finish within {NOTEBOOK_TIMEOUT:.0f} s")
    elapsed = time.monotonic() - t0
    assert elapsed < NOTEBOOK_TIMEOUT
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


def _kernel_manager():
    from jupyter_client.manager import KernelManager

    class ThisPythonKernelManager(KernelManager):
        """Launches ipykernel with the interpreter running the tests."""

        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            cmd = super().format_kernel_cmd(extra_arguments)
            return [sys.executable, *cmd[1:]] if cmd and "python" in Path(cmd[0]).name else cmd

    return ThisPythonKernelManager
