"""Execute one notebook with nbclient and save it with its outputs.

``tests/test_tutorials.py`` runs this script in a subprocess per notebook, so that a
hung cell or a kernel that dies (and leaves nbclient waiting) can be killed with a hard
wall-clock limit instead of stalling the test run.

    python tests/tutorials/run_notebook.py NOTEBOOK OUTPUT [--cwd DIR] [--cell-timeout S]

Exit status 0 when every cell ran, 1 when a cell raised or the kernel died (the
message goes to stderr); the executed notebook is written to ``OUTPUT`` either way.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbclient
import nbformat
from jupyter_client.manager import KernelManager

_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colour codes in IPython tracebacks


class ThisPythonKernelManager(KernelManager):
    """Launches ipykernel with this interpreter, not whichever one a kernelspec names."""

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        return [sys.executable, *cmd[1:]] if cmd and "python" in Path(cmd[0]).name else cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="kernel working dir")
    parser.add_argument("--cell-timeout", type=float, default=600.0, help="seconds per cell")
    args = parser.parse_args(argv)

    nb = nbformat.read(args.notebook, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=args.cell_timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(args.cwd)}},
        kernel_manager_class=ThisPythonKernelManager,
    )
    status = 0
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        print(f"{args.notebook.name}: a cell failed\n{_ANSI.sub('', str(exc))}", file=sys.stderr)
        status = 1
    except (nbclient.exceptions.DeadKernelError, nbclient.exceptions.CellTimeoutError) as exc:
        print(f"{args.notebook.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    nbformat.write(nb, args.output)
    return status


if __name__ == "__main__":
    sys.exit(main())
