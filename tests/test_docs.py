"""The documentation: the API reference covers every public module, and Sphinx builds.

The build test runs ``sphinx-build -W`` (warnings are errors) when Sphinx and MyST-NB
are installed (the ``docs`` extra) and is skipped otherwise. Select it with ``-m docs``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "botorch_joint"

pytestmark = pytest.mark.docs


def public_modules() -> list[str]:
    """Dotted names of every module and package of botorch_joint without a ``_`` part."""
    names = []
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return sorted(names)


def documented_modules() -> set[str]:
    pattern = re.compile(r"^\.\. automodule::\s+(\S+)", re.MULTILINE)
    found: set[str] = set()
    for page in (DOCS / "api").glob("*.rst"):
        found.update(pattern.findall(page.read_text()))
    return found


def test_public_modules_are_found() -> None:
    modules = public_modules()
    for name in ("botorch_joint", "botorch_joint.loop", "botorch_joint.problems.base"):
        assert name in modules
    assert not any(part.startswith("_") for m in modules for part in m.split("."))


def test_every_public_module_is_in_the_api_reference() -> None:
    missing = sorted(set(public_modules()) - documented_modules())
    assert not missing, f"add these modules to a page in docs/api/: {missing}"


def test_api_reference_names_only_existing_modules() -> None:
    stale = sorted(documented_modules() - set(public_modules()))
    assert not stale, f"docs/api/ documents modules that do not exist: {stale}"


def test_every_api_page_is_in_the_toctree() -> None:
    index = (DOCS / "api" / "index.rst").read_text()
    for page in (DOCS / "api").glob("*.rst"):
        if page.stem != "index":
            assert re.search(rf"^\s+{page.stem}\s*$", index, re.MULTILINE), page.name


@pytest.mark.skipif(
    not all(importlib.util.find_spec(m) for m in ("sphinx", "myst_nb")),
    reason="needs the docs extra (sphinx, myst-nb)",
)
def test_sphinx_build_has_no_warnings_and_shows_the_tutorials_figures(tmp_path: Path) -> None:
    cmd = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html"),
    ]  # fmt: skip
    # The build executes the tutorials (docs/conf.py): at the small budgets here, one
    # thread each, and with the kernels' inline backend (no MPLBACKEND) so figures show.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(SMOKE_TEST="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=1200, env=env)
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stderr[-6000:]}"
    html = tmp_path / "html"
    assert (html / "index.html").exists() and (html / "api" / "index.html").exists()
    # the tutorials the build renders, and those it leaves unexecuted here
    spec = importlib.util.spec_from_file_location("bj_docs_conf", DOCS / "conf.py")
    assert spec is not None and spec.loader is not None
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    for name in conf.TUTORIALS:
        page = (html / "tutorials" / f"{name}.html").read_text()
        if f"tutorials/{name}.ipynb" in conf.nb_execution_excludepatterns:
            continue  # its optional package is missing here
        assert "cell_output" in page, f"the rendered tutorial {name} shows no output"
        if "plt.show()" in (ROOT / "tutorials" / name / f"{name}.py").read_text():
            figures = re.findall(r'<img [^>]*src="[^"]*\.png"', page)
            assert figures, f"the rendered tutorial {name} shows no figure"
