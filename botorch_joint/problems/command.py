"""External simulators as problems: :meth:`Problem.from_command`.

One evaluation = one run of an external program:

1. a fresh working directory is made with :func:`tempfile.mkdtemp` (unique across
   threads, processes and MPI ranks) under ``workdir``;
2. the parameters are written there as ``params.json`` (``{"name": value, ...}``);
3. the command runs with that directory as its current directory; the placeholders
   ``{params}``, ``{output}`` and ``{workdir}`` in its arguments are replaced by the
   absolute paths of ``params.json``, ``output.json`` and the directory (the same paths
   are also in the environment as ``BOTORCH_JOINT_PARAMS``, ``BOTORCH_JOINT_OUTPUT``
   and ``BOTORCH_JOINT_WORKDIR``). Any other ``{name}`` is refused when the problem is
   defined (a typo such as ``{outputs}`` would fail every evaluation); ``{{name}}``
   stands for a literal ``{name}``, and ``${name}`` (a shell variable) is left alone;
4. the program writes every declared objective and constraint to ``output.json`` as
   ``{"name": number, ...}`` and exits with status 0.

A non-zero exit, a timeout (the program's whole process group is killed) or a missing,
malformed or incomplete ``output.json`` raises :class:`CommandError`, whose message ends
with the tail of the program's stderr (of its stdout when stderr is empty); the
optimisation loop records that as a failed evaluation with the message kept.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PLACEHOLDERS = ("{params}", "{output}", "{workdir}")
# "{name}" is a placeholder unless doubled ("{{name}}": a literal "{name}") or a shell
# variable ("${name}"); braces around anything but a bare name (JSON, awk) are text.
_BRACED = re.compile(r"\{\{[A-Za-z_]\w*\}\}|(?<!\$)\{[A-Za-z_]\w*\}")
PARAMS_FILE = "params.json"
OUTPUT_FILE = "output.json"
_TAIL_LINES = 20


class CommandError(RuntimeError):
    """An external evaluation failed (exit status, timeout or outputs).

    Attributes:
        returncode: the exit status (``None`` after a timeout or if it never started).
        stderr_tail: the last lines of the program's stderr.
        stdout_tail: the last lines of its stdout, shown only when stderr is empty.
        workdir: the evaluation's working directory (it may have been removed).
    """

    def __init__(
        self,
        message: str,
        returncode: int | None = None,
        stderr_tail: str = "",
        workdir: str | None = None,
        stdout_tail: str = "",
    ) -> None:
        full = message
        if stderr_tail:
            full += f"\n--- stderr (last {_TAIL_LINES} lines) ---\n{stderr_tail}"
        elif stdout_tail:  # some programs report their errors on stdout
            full += f"\n--- stderr empty; stdout (last {_TAIL_LINES} lines) ---\n{stdout_tail}"
        super().__init__(full)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.stdout_tail = stdout_tail
        self.workdir = workdir


class CommandTimeoutError(CommandError):
    """The external program ran longer than the timeout and was killed."""


def _tail(data: bytes | str | None, lines: int = _TAIL_LINES) -> str:
    if not data:
        return ""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill the program and everything it started (it leads its own session)."""
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - no process groups
            proc.kill()
    except ProcessLookupError:
        pass


class CommandEvaluator:
    """``evaluate`` callable running an external program once per evaluation.

    Picklable (plain attributes), so it travels to process-pool and MPI workers.

    Args:
        command: a string (split with :func:`shlex.split`) or a list of arguments, with
            optional placeholders ``{params}``, ``{output}``, ``{workdir}``.
        outputs: names that the program must write (objectives then constraints).
        timeout: seconds before the run is killed and counted as failed; ``None``: none.
        workdir: parent of the per-evaluation directories (created if missing);
            ``None``: the system temporary directory.
        keep_workdirs: ``False`` removes each directory after its evaluation, ``True``
            keeps all, ``"failed"`` keeps those of failed evaluations (for debugging).
        env: environment changes for the program: ``name -> value`` sets a variable,
            ``name -> None`` removes an inherited one (e.g. an MPI launcher's variables
            when the program is itself an MPI code).

    Raises:
        ValueError: an empty command, an unknown ``{placeholder}``, a timeout that is
            not a positive number, or a bad ``keep_workdirs``.
    """

    def __init__(
        self,
        command: str | Sequence[str],
        outputs: Sequence[str],
        timeout: float | None = None,
        workdir: str | os.PathLike[str] | None = None,
        keep_workdirs: bool | str = False,
        env: Mapping[str, str | None] | None = None,
    ) -> None:
        if isinstance(command, str):
            argv = shlex.split(command)
        else:
            argv = [os.fspath(a) for a in command]
        if not argv:
            raise ValueError("command is empty")
        unknown = [
            m.group(0)
            for arg in argv
            for m in _BRACED.finditer(arg)
            if not m.group(0).startswith("{{") and m.group(0) not in PLACEHOLDERS
        ]
        if unknown:
            # it would run and fail every evaluation with "wrote no output.json"
            raise ValueError(
                f"unknown placeholder {unknown[0]!r} in the command; the placeholders are "
                f"{', '.join(PLACEHOLDERS)} (write {{{{name}}}} for a literal {{name}})"
            )
        if timeout is not None and not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if keep_workdirs not in (True, False, "failed"):
            raise ValueError(
                f"keep_workdirs must be True, False or 'failed', got {keep_workdirs!r}"
            )
        self.argv = argv
        self.outputs = list(outputs)
        self.timeout = None if timeout is None else float(timeout)
        self.workdir = None if workdir is None else os.path.abspath(os.fspath(workdir))
        self.keep_workdirs = keep_workdirs if keep_workdirs == "failed" else bool(keep_workdirs)
        self.env = dict(env or {})

    def __repr__(self) -> str:
        return f"CommandEvaluator({shlex.join(self.argv)!r}, timeout={self.timeout})"

    def arguments(self, params_path: str, output_path: str, workdir: str) -> list[str]:
        """The command's arguments with the placeholders filled in."""
        subs = {"{params}": params_path, "{output}": output_path, "{workdir}": workdir}

        def fill(m: re.Match[str]) -> str:
            text = m.group(0)
            return text[1:-1] if text.startswith("{{") else subs.get(text, text)

        return [_BRACED.sub(fill, arg) for arg in self.argv]

    def __call__(self, params: Mapping[str, float]) -> dict[str, float]:
        if self.workdir is not None:
            os.makedirs(self.workdir, exist_ok=True)
        run_dir = tempfile.mkdtemp(prefix="eval-", dir=self.workdir)
        ok = False
        try:
            result = self._run(params, run_dir)
            ok = True
            return result
        finally:
            if self.keep_workdirs is False or (self.keep_workdirs == "failed" and ok):
                shutil.rmtree(run_dir, ignore_errors=True)

    def _run(self, params: Mapping[str, float], run_dir: str) -> dict[str, float]:
        params_path = os.path.join(run_dir, PARAMS_FILE)
        output_path = os.path.join(run_dir, OUTPUT_FILE)
        with open(params_path, "w") as fh:
            json.dump({k: float(v) for k, v in params.items()}, fh, indent=1)
        argv = self.arguments(params_path, output_path, run_dir)
        env = dict(os.environ)
        for key, value in self.env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = str(value)
        env.update(
            BOTORCH_JOINT_PARAMS=params_path,
            BOTORCH_JOINT_OUTPUT=output_path,
            BOTORCH_JOINT_WORKDIR=run_dir,
        )
        where = f" (workdir {run_dir})" if self.keep_workdirs else ""
        try:
            proc = subprocess.Popen(
                argv,
                cwd=run_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # Own session = own process group, so a timeout kills its children too.
                start_new_session=os.name == "posix",
            )
        except OSError as exc:
            raise CommandError(
                f"could not start {shlex.join(argv)!r}: {exc}", workdir=run_dir
            ) from None
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            try:
                stdout, stderr = proc.communicate(timeout=10.0)
            except subprocess.TimeoutExpired:  # a descendant left the group, pipes open
                stdout, stderr = b"", b""
            raise CommandTimeoutError(
                f"{shlex.join(argv)!r} timed out after {self.timeout:g} s and was killed{where}",
                None,
                _tail(stderr),
                run_dir,
                _tail(stdout),
            ) from None
        finally:
            if proc.poll() is None:  # interrupted (e.g. KeyboardInterrupt): leave nothing
                _kill_group(proc)
                proc.wait()
        tails = _tail(stderr), _tail(stdout)
        if proc.returncode != 0:
            raise CommandError(
                f"{shlex.join(argv)!r} exited with status {proc.returncode}{where}",
                proc.returncode,
                tails[0],
                run_dir,
                tails[1],
            )
        return self._read_outputs(output_path, tails, run_dir, where)

    def _read_outputs(
        self, output_path: str, tails: tuple[str, str], run_dir: str, where: str
    ) -> dict[str, float]:
        def fail(why: str) -> CommandError:
            return CommandError(f"{why}{where}", 0, tails[0], run_dir, tails[1])

        if not os.path.exists(output_path):
            raise fail(f"the program exited normally but wrote no {OUTPUT_FILE}")
        try:
            with open(output_path) as fh:
                raw = json.load(fh)
        except (OSError, ValueError) as exc:
            raise fail(f"{OUTPUT_FILE} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise fail(f"{OUTPUT_FILE} must hold a JSON object, got {type(raw).__name__}")
        missing = [k for k in self.outputs if k not in raw]
        if missing:
            raise fail(f"{OUTPUT_FILE} lacks declared output(s) {missing}; got {sorted(raw)}")
        out: dict[str, float] = {}
        for k in self.outputs:
            value = raw[k]
            if value is None:  # JSON has no NaN; null means "could not be computed"
                out[k] = math.nan
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise fail(f"{OUTPUT_FILE}: output {k!r} must be a number, got {value!r}")
            out[k] = float(value)
        return out


def problem_from_command(
    command: str | Sequence[str],
    parameters: Mapping[str, tuple[float, float]],
    objectives: Sequence[str],
    constraints: Sequence[str] = (),
    timeout: float | None = None,
    workdir: str | os.PathLike[str] | None = None,
    keep_workdirs: bool | str = False,
    env: Mapping[str, str | None] | None = None,
    name: str | None = None,
    problem_cls: type | None = None,
    **problem_kwargs: Any,
) -> Any:
    """Build a :class:`~botorch_joint.problems.Problem` that runs ``command``.

    Args:
        command: see :class:`CommandEvaluator`.
        parameters: ``name -> (low, high)``.
        objectives: names of the objectives (minimised) the program writes.
        constraints: names of the constraints (``>= 0`` satisfied) the program writes.
        timeout, workdir, keep_workdirs, env: see :class:`CommandEvaluator`.
        name: the problem's name; defaults to the program's file name.
        problem_cls: the class to build (``Problem`` or a subclass; required).
        **problem_kwargs: passed on (``ref_point``, ``description``, ``metadata``...).

    Returns:
        The problem; its ``evaluate`` is a :class:`CommandEvaluator`.
    """
    if problem_cls is None:
        # This module is the adapter below Problem and never imports it (no cycle with
        # problems.base); Problem.from_command passes its own class.
        raise TypeError(
            "problem_from_command needs problem_cls, the Problem class to build; "
            "call Problem.from_command(...) instead"
        )
    evaluator = CommandEvaluator(
        command,
        list(objectives) + list(constraints),
        timeout=timeout,
        workdir=workdir,
        keep_workdirs=keep_workdirs,
        env=env,
    )
    if name is None:
        program = evaluator.argv[0]
        # "python script.py ..." is better named after the script.
        if Path(program).name.startswith("python") and len(evaluator.argv) > 1:
            program = evaluator.argv[1]
        name = Path(program).stem or "external"
    problem_kwargs.setdefault("description", f"external program: {shlex.join(evaluator.argv)}")
    return problem_cls(
        name=name,
        parameters=parameters,
        objectives=objectives,
        constraints=constraints,
        evaluate=evaluator,
        **problem_kwargs,
    )
