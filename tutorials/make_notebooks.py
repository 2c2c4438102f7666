"""Build the tutorial notebooks ``tutorials/<name>/<name>.ipynb`` from their sources.

Every tutorial is written as a Python script in jupytext's percent format,
``tutorials/<name>/<name>.py``, linted and formatted like the package. Edit the script,
then run

    python tutorials/make_notebooks.py           # rewrite every notebook
    python tutorials/make_notebooks.py --check   # exit 1 if a stored notebook is stale

(``jupytext --to ipynb`` reads the same scripts; this builder needs nothing beyond
``nbformat`` and writes byte-stable notebooks.) Notebooks are stored without outputs and
with fixed cell ids, so rebuilding an unchanged script rewrites the same bytes. Every
notebook opens with ``SMOKE_TEST = os.environ.get("SMOKE_TEST")``; with ``SMOKE_TEST=1``
budgets and model sizes shrink so that the test suite (``tests/test_tutorials.py``) and
the documentation build can run them all in a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

#: tag of code cells that do nothing (and draw nothing) without NEURON
NEEDS_NEURON = "needs-neuron"

#: ``(kind, source, tags)`` of one cell, ``kind`` being ``"code"`` or ``"markdown"``
Cell = tuple[str, str, tuple[str, ...]]


def percent_cells(path: Path) -> list[Cell]:
    """The cells of a notebook written as a jupytext percent-format script.

    ``# %%`` starts a code cell (``# %% tags=["a", "b"]`` tags it), ``# %% [markdown]``
    a markdown cell whose lines are comments (``# text``, ``#`` for an empty line);
    lines before the first marker (jupytext's header) are skipped. This is the subset
    of the format the tutorials use.
    """
    cells: list[Cell] = []
    kind: str | None = None
    tags: tuple[str, ...] = ()
    lines: list[str] = []

    def flush() -> None:
        if kind is not None:
            cells.append((kind, "\n".join(lines).strip("\n"), tags))

    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            flush()
            rest = line[4:].strip()
            kind = "markdown" if rest.startswith("[markdown]") else "code"
            found = re.search(r"tags=\[([^\]]*)\]", rest)
            tags = tuple(re.findall(r'"([^"]+)"', found.group(1))) if found else ()
            lines = []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


def source_of(name: str) -> Path:
    return HERE / name / f"{name}.py"


def path_of(name: str) -> Path:
    return HERE / name / f"{name}.ipynb"


#: every tutorial: a directory ``tutorials/<name>/`` holding ``<name>.py``
NOTEBOOKS: list[str] = sorted(p.parent.name for p in HERE.glob("*/*.py") if p.stem == p.parent.name)


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (one of :data:`NOTEBOOKS`), without outputs."""
    cells = []
    for i, (kind, source, tags) in enumerate(percent_cells(source_of(name))):
        cell = new_markdown_cell(source) if kind == "markdown" else new_code_cell(source)
        cell["id"] = f"{name}-{i:02d}"  # fixed ids: regeneration is byte-stable
        if tags:
            cell["metadata"]["tags"] = list(tags)
        cells.append(cell)
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
    )


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    parser.add_argument("names", nargs="*", default=NOTEBOOKS, help="notebooks to write")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(NOTEBOOKS))
    if unknown:
        parser.error(f"no tutorial source for {unknown}; tutorials are {NOTEBOOKS}")
    stale = []
    for name in args.names:
        path, text = path_of(name), render(name)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if args.check and stale:
        print(f"stale notebooks (run python tutorials/make_notebooks.py): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
