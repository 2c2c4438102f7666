"""Sphinx configuration of the botorch-joint documentation.

Build (warnings are errors, nothing is fetched from the network; the tutorials are
executed so that their pages show their figures, at the test suite's small budgets with
``SMOKE_TEST=1``, in a few minutes):

    SMOKE_TEST=1 sphinx-build -W -b html docs docs/_build/html

Without ``SMOKE_TEST`` the tutorials run at full size (much longer);
``-D nb_execution_mode=off`` renders them without running them (no figures).

The tutorial notebooks live in ``tutorials/<name>/<name>.ipynb`` at the repository root;
they are copied into ``docs/tutorials/`` (git-ignored) at configuration time so that
Sphinx, which only reads files under its source directory, can render them.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
if importlib.util.find_spec("matplotlib") is not None:
    # Agg for this process only: an MPLBACKEND variable would reach the kernels that
    # execute the tutorials and keep their figures out of the pages, which need the
    # kernel's inline backend.
    import matplotlib

    matplotlib.use("Agg")

# The tutorials, in reading order; docs/tutorials.md lists the same names.
TUTORIALS = ["quickstart", "botorch_dropin", "ax_client", "neuron_fitting", "hpc", "from_bluepyopt"]


def _copy_tutorials() -> None:
    """Copy ``tutorials/<name>/<name>.ipynb`` to ``docs/tutorials/<name>.ipynb``."""
    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    for name in TUTORIALS:
        src = ROOT / "tutorials" / name / f"{name}.ipynb"
        dst = target / f"{name}.ipynb"
        if src.exists() and (not dst.exists() or dst.read_bytes() != src.read_bytes()):
            shutil.copyfile(src, dst)


_copy_tutorials()

# -- project -------------------------------------------------------------------------
project = "botorch-joint"
author = "botorch-joint developers"
copyright = "the botorch-joint developers"  # noqa: A001 - Sphinx's name
try:
    from botorch_joint import __version__ as release
except ImportError:  # pragma: no cover - building the docs without the package
    release = "0.1.0"
version = release

# -- extensions ----------------------------------------------------------------------
extensions = [
    "myst_nb",  # Markdown pages (MyST) and the tutorial notebooks, executed
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
# search.md is rendered through surrogate_search.md: a page named "search" would be
# overwritten by Sphinx's own search page (search.html) without any warning.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store", "search.md"]

# MyST: $...$ / $$...$$ maths, ::: fences, definition lists, heading anchors.
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# The notebooks are stored without outputs (built from tutorials/<name>/<name>.py); the
# build executes them so that the rendered pages show their figures. The tutorial that
# needs BluePyOpt is rendered without running where BluePyOpt is not installed.
nb_execution_mode = "force"
nb_execution_excludepatterns = [
    f"tutorials/{name}.ipynb"
    for name, package in {"from_bluepyopt": "bluepyopt"}.items()
    if importlib.util.find_spec(package) is None
]
nb_execution_timeout = 3600  # seconds per cell, for full-size runs
nb_execution_in_temp = True  # the tutorials write run directories and scripts
nb_execution_raise_on_error = True
nb_merge_streams = True

# -- API reference -------------------------------------------------------------------
autosummary_generate = False
# Pages under docs/api/ list :members: explicitly; re-exporting packages show only their
# docstring, so every object is documented once, where it is defined.
autodoc_default_options = {"show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
autodoc_inherit_docstrings = False  # BoTorch's own docstrings are not ours to render
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# Optional simulators: document their modules even where they are not installed.
autodoc_mock_imports = [
    name for name in ("neuron", "efel") if importlib.util.find_spec(name) is None
]

# Third-party docstrings inherited by our subclasses are not ours to fix; unresolved
# references to BoTorch / PyTorch types are expected without intersphinx (no network).
nitpicky = False

# -- HTML ----------------------------------------------------------------------------
html_theme = "sphinx_rtd_theme" if importlib.util.find_spec("sphinx_rtd_theme") else "alabaster"
html_title = f"botorch-joint {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
