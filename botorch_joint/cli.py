"""The ``botorch-joint`` command line.

``botorch-joint run PROBLEM [options]`` optimises a built-in problem (or a
``module:attribute`` naming a :class:`~botorch_joint.Problem`), printing progress and a
summary and writing ``results.csv``, ``hv.png`` and the checkpoint into the run dir.

Mistakes in the settings (a budget below the initial design, a run directory that
holds another run, ...) print one line starting with ``botorch-joint:`` and exit with a
non-zero status, without a traceback. On a terminal a progress bar shows the run; in a
log (stdout not a terminal, or ``--no-progress``) every epoch prints one line. Ctrl-C
writes ``results.csv`` and ``hv.png`` for what finished and prints how to resume.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import shlex
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from botorch_joint.strategies import method_names

#: exit status of a run stopped with Ctrl-C (128 + SIGINT, as shells report it)
EXIT_INTERRUPTED = 130

#: variables an MPI launcher sets in every process it starts: the job's size, the rank
_WORLD_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS")
_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "MPI_LOCALRANKID")


def load_problem(spec: str):  # -> Problem
    """A built-in problem by name, or ``module:attribute`` naming a Problem (or a factory).

    Raises:
        SystemExit: with a one-line message when ``spec`` names nothing loadable, or
            something that is not a :class:`~botorch_joint.Problem` (such as the
            simulator function itself).
    """
    from botorch_joint import problems
    from botorch_joint.problems.base import Problem, ProblemDefinitionError

    if ":" in spec and spec not in problems.names():
        module, _, attr = spec.rpartition(":")
        _importable_from_cwd()
        try:
            if module.endswith(".py"):
                obj = getattr(_import_file(Path(module)), attr)
            else:
                obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ProblemDefinitionError) as exc:
            raise SystemExit(f"botorch-joint: cannot load problem {spec!r}: {exc}") from None
        if callable(obj) and not isinstance(obj, Problem):
            needs = _required_arguments(obj)
            if needs:
                raise SystemExit(
                    f"botorch-joint: {spec!r} is a function of ({', '.join(needs)}), not a "
                    "botorch_joint.Problem: if it is your simulator, wrap it as "
                    f"problem = bj.Problem(name, parameters, objectives, constraints, "
                    f"evaluate={attr}) and give {module}:problem"
                )
            try:
                obj = obj()
            except ProblemDefinitionError as exc:
                raise SystemExit(f"botorch-joint: cannot load problem {spec!r}: {exc}") from None
            if not isinstance(obj, Problem):
                raise SystemExit(
                    f"botorch-joint: {spec!r} returned {_a(type(obj).__name__)}, "
                    "not a botorch_joint.Problem"
                )
        if not isinstance(obj, Problem):
            raise SystemExit(
                f"botorch-joint: {spec!r} is {_a(type(obj).__name__)}, not a botorch_joint.Problem"
            )
        return obj
    try:
        return problems.get(spec)
    except KeyError:
        raise SystemExit(
            f"botorch-joint: unknown problem {spec!r}; built-ins are "
            f"{', '.join(problems.names())}, or give module:attribute"
        ) from None


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _required_arguments(fn: Any) -> list[str]:
    """Names of the arguments ``fn`` cannot be called without (none if unknown)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # some builtins and extension types have none
        return []
    return [
        p.name
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


def _importable_from_cwd() -> None:
    # A console script, unlike ``python -m``, does not put the working directory on
    # sys.path; users expect ``botorch-joint run mymodel:problem`` to find ./mymodel.py.
    _add_import_path(os.getcwd())


def _import_file(path: Path):  # -> module
    if not path.is_file():
        raise ImportError(f"no file {str(path)!r}")
    # Import by module name from its folder, so that pickling the problem for worker
    # processes refers to an importable module.
    _add_import_path(str(path.resolve().parent))
    return importlib.import_module(path.stem)


def _add_import_path(folder: str) -> None:
    """Put ``folder`` on sys.path here and on PYTHONPATH for worker processes."""
    if folder not in sys.path:
        sys.path.insert(0, folder)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if folder not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [folder, *paths] if p)


# ------------------------------------------------------------------- arguments
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` except where there is nothing to show (None, flags)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def _bounded(kind: type, minimum: float, strict: bool = False) -> Any:
    """An argparse type: ``kind`` values ``>= minimum`` (``> minimum`` if ``strict``)."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {_a(kind.__name__)}") from None
        if value < minimum or (strict and value == minimum):
            bound = f"> {minimum}" if strict else f">= {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _parser() -> argparse.ArgumentParser:
    from botorch_joint import __version__

    p = argparse.ArgumentParser(
        prog="botorch-joint",
        description="Constrained multi-objective optimisation with joint network surrogates.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="optimise a problem",
        description="Optimise PROBLEM; writes results.csv, hv.png and a checkpoint "
        "into the run directory.",
        formatter_class=_HelpFormatter,
    )
    run.add_argument("problem", help="built-in problem name or module:attribute")
    run.add_argument("--method", default="c+o-ftt", choices=method_names(), help="method")
    run.add_argument("--budget", type=_bounded(int, 1), default=200, help="total true evaluations")
    run.add_argument(
        "--batch-size", type=_bounded(int, 1), default=20, help="evaluations per epoch"
    )
    run.add_argument(
        "--n-initial",
        type=_bounded(int, 1),
        default=None,
        help="initial design size (default: max(2 (d + 1), batch size), at most budget / 2)",
    )
    run.add_argument(
        "--initial-design",
        default="slh",
        choices=["slh", "lh", "mc", "sobol"],
        help="initial design of the surrogate methods",
    )
    run.add_argument(
        "--sensitivity",
        default="sgrad",
        choices=["sgrad", "fast", "dgsm", "none"],
        help="parameter sensitivities that scale the search's perturbations",
    )
    run.add_argument(
        "--evaluator",
        default="serial",
        choices=["serial", "process", "mpi"],
        help="where evaluations run (mpi: under mpiexec)",
    )
    run.add_argument(
        "--workers",
        type=_bounded(int, 1),
        default=None,
        help="process pool size (default: one per core)",
    )
    run.add_argument(
        "--timeout",
        type=_bounded(float, 0.0, strict=True),
        default=None,
        help="seconds per evaluation before it counts as failed (default: no limit)",
    )
    run.add_argument("--run-dir", default=None, help="default: runs/PROBLEM-METHOD-sSEED")
    run.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    run.add_argument("--seed", type=_bounded(int, 0), default=0, help="random seed")
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar on a terminal: print one line per epoch, as in a log",
    )
    sub.add_parser("problems", help="list the built-in problems (d, objectives, constraints)")
    return p


# ------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser().parse_args(argv)
    with warnings.catch_warnings():
        # A warning is advice to the user: one line, without the source line Python adds.
        warnings.showwarning = _show_warning
        if args.command == "problems":
            return _list_problems()
        return _run(args, argv)


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"botorch-joint: warning: {message}", file=sys.stderr, flush=True)


def _list_problems() -> int:
    from botorch_joint import problems

    rows: list[tuple[Any, ...]] = []
    for name in problems.names():
        try:
            p = problems.get(name)
        except Exception as exc:  # an optional simulator may be missing
            rows.append((name, "-", "-", "-", f"unavailable: {exc}".splitlines()[0]))
            continue
        rows.append(
            (name, p.dim, p.num_objectives, p.num_constraints, p.description.splitlines()[0])
            if p.description
            else (name, p.dim, p.num_objectives, p.num_constraints, "")
        )
    width = max(len(r[0]) for r in rows)
    print(f"{'name':<{width}}   d   m   k  description")
    for name, d, m, k, text in rows:
        print(f"{name:<{width}} {d:>3} {m:>3} {k:>3}  {text}")
    print("d parameters, m objectives, k constraints")
    return 0


def launcher_ranks() -> tuple[int, int]:
    """``(size, rank)`` of the MPI job this process was started in; ``(1, 0)`` outside one.

    Read from the variables that ``mpiexec``/``srun`` set (Open MPI, MPICH/Hydra, PMI,
    PMIx), not from ``mpi4py``: importing ``mpi4py.MPI`` would initialise MPI.
    """
    size = 1
    for var in _WORLD_SIZE_VARS:
        size = max(size, _env_int(var, 1))
    rank = next((_env_int(v, 0) for v in _RANK_VARS if v in os.environ), 0)
    return max(size, rank + 1), rank


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _check_launcher(args: argparse.Namespace) -> None:
    size, rank = launcher_ranks()
    if args.evaluator == "mpi" or size == 1:
        return
    if rank != 0:
        raise SystemExit(2)  # rank 0 says why; N copies of the message help no one
    raise SystemExit(
        f"botorch-joint: started as {size} MPI processes without --evaluator mpi: each "
        "would run its own optimisation in the same run directory. Add --evaluator mpi "
        "(rank 0 optimises, the other ranks evaluate), or start one process without "
        "mpiexec (--evaluator process for a local pool)"
    )


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    from botorch_joint.errors import UsageError
    from botorch_joint.problems.base import ProblemDefinitionError

    _check_launcher(args)
    problem = load_problem(args.problem)
    run_dir = Path(args.run_dir or f"runs/{problem.name}-{args.method}-s{args.seed}")
    try:
        from botorch_joint.parallel import run_with_evaluator

        # under mpiexec (--evaluator mpi) rank 0 optimises and reports, the others evaluate
        return run_with_evaluator(
            args.evaluator,
            lambda ev: _optimize_and_report(args, argv, problem, run_dir, ev),
            n_workers=args.workers,
            timeout=args.timeout,
        )
    except (UsageError, ProblemDefinitionError) as exc:
        raise SystemExit(f"botorch-joint: {exc}") from None


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _optimize_and_report(
    args: argparse.Namespace, argv: list[str], problem, run_dir: Path, evaluator
) -> int:
    from botorch_joint.loop import optimize

    print(
        f"botorch-joint: {problem.name} (d={problem.dim}, "
        f"{_plural(problem.num_objectives, 'objective')}, "
        f"{_plural(problem.num_constraints, 'constraint')}), method {args.method}, "
        f"budget {args.budget}, run dir {run_dir}",
        flush=True,
    )
    bar = not args.no_progress and sys.stdout.isatty() and sys.stderr.isatty()
    t0 = time.perf_counter()
    try:
        result = optimize(
            problem,
            method=args.method,
            budget=args.budget,
            n_initial=args.n_initial,
            batch_size=args.batch_size,
            initial_design=args.initial_design,
            sensitivity=None if args.sensitivity == "none" else args.sensitivity,
            evaluator=evaluator,
            run_dir=run_dir,
            resume=args.resume,
            seed=args.seed,
            timeout=args.timeout,
            n_workers=args.workers,
            progress=bar,
            callback=None if bar else _EpochLines(args.budget),
        )
        elapsed = time.perf_counter() - t0
        csv, png = _write_outputs(result, run_dir)
    except KeyboardInterrupt:  # also while writing the outputs of a finished run
        return _interrupted(args, argv, run_dir)
    print(result.summary())
    print(f"wall time {elapsed:.1f} s; wrote {csv} and {png}")
    return 0


def _write_outputs(result, run_dir: Path) -> tuple[Path, Path]:
    from botorch_joint.plotting import plot_run

    csv = run_dir / "results.csv"
    result.to_dataframe().to_csv(csv, index=False)
    png = run_dir / "hv.png"
    plot_run(result, png)
    return csv, png


class _EpochLines:
    """One line per epoch on stdout: the progress bar of a log file."""

    def __init__(self, budget: int) -> None:
        self.budget = budget

    def __call__(self, result) -> None:
        from botorch_joint.metrics import hypervolume

        t = result.timings[-1]
        n, feasible = len(result), int(result.feasible.sum())
        text = (
            f"epoch {t['epoch']}: {n}/{self.budget} evaluations, "
            f"{feasible} feasible ({feasible / max(n, 1):.1%}), {int(result.failed.sum())} failed"
        )
        if result.ref_point is not None:
            hv = hypervolume(result.pareto()[1], result.ref_point)
            text += f", best hypervolume {hv:.6g}"
            if result.max_hv and result.max_hv != 1.0:
                text += f" (normalised {hv / result.max_hv:.4f})"
        text += (
            f"; seconds: {t['evaluation_seconds']:.1f} evaluation, "
            f"{t['train_seconds']:.1f} training, {t['search_seconds']:.1f} search"
        )
        print(text, flush=True)


def _interrupted(args: argparse.Namespace, argv: list[str], run_dir: Path) -> int:
    """After Ctrl-C: save what finished and say how to continue."""
    from botorch_joint.persistence import CHECKPOINT, load_result

    resume = ["botorch-joint", *argv] + ([] if args.resume else ["--resume"])
    size, _ = launcher_ranks()
    if args.evaluator == "mpi" and size > 1:
        resume = ["mpiexec", "-n", str(size), *resume]
    print(file=sys.stderr)
    if not (run_dir / CHECKPOINT).exists():
        print("botorch-joint: interrupted before the run started", file=sys.stderr)
        return EXIT_INTERRUPTED
    result = load_result(run_dir)  # the checkpoint and the evaluations journaled since
    csv, png = _write_outputs(result, run_dir)
    print(
        f"botorch-joint: interrupted after {len(result)} of {args.budget} evaluations; "
        f"wrote {csv} and {png}. Continue with:\n  {shlex.join(resume)}",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
