"""The ``botorch-joint`` command line.

``botorch-joint run PROBLEM [options]`` optimises a built-in problem (or a
``module:attribute`` naming a :class:`~botorch_joint.Problem`), printing progress and a
summary and writing ``results.csv``, ``hv.png`` and the checkpoint into the run dir.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

from botorch_joint.strategies import METHODS


def load_problem(spec: str):  # -> Problem
    """A built-in problem by name, or ``module:attribute`` naming a Problem (or a factory)."""
    from botorch_joint import problems
    from botorch_joint.problems.base import Problem

    if ":" in spec and spec not in problems.names():
        module, _, attr = spec.rpartition(":")
        _importable_from_cwd()
        try:
            if module.endswith(".py"):
                obj = getattr(_import_file(Path(module)), attr)
            else:
                obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise SystemExit(f"botorch-joint: cannot load problem {spec!r}: {exc}") from None
        if callable(obj) and not isinstance(obj, Problem):
            obj = obj()
        if not isinstance(obj, Problem):
            raise SystemExit(
                f"botorch-joint: {spec!r} is a {type(obj).__name__}, not a botorch_joint.Problem"
            )
        return obj
    try:
        return problems.get(spec)
    except KeyError:
        raise SystemExit(
            f"botorch-joint: unknown problem {spec!r}; built-ins are "
            f"{', '.join(problems.names())}, or give module:attribute"
        ) from None


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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="botorch-joint",
        description="Constrained multi-objective optimisation with joint network surrogates.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="optimise a problem")
    run.add_argument("problem", help="built-in problem name or module:attribute")
    run.add_argument("--method", default="c+o-ftt", choices=list(METHODS))
    run.add_argument("--budget", type=int, default=200, help="total true evaluations")
    run.add_argument("--batch-size", type=int, default=20, help="evaluations per epoch")
    run.add_argument("--n-initial", type=int, default=None, help="initial design size")
    run.add_argument("--initial-design", default="slh", choices=["slh", "lh", "mc", "sobol"])
    run.add_argument("--sensitivity", default="sgrad", choices=["sgrad", "fast", "dgsm", "none"])
    run.add_argument("--evaluator", default="serial", choices=["serial", "process", "mpi"])
    run.add_argument("--workers", type=int, default=None, help="process pool size")
    run.add_argument("--timeout", type=float, default=None, help="seconds per evaluation")
    run.add_argument("--run-dir", default=None, help="default: runs/PROBLEM-METHOD-sSEED")
    run.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sub.add_parser("problems", help="list the built-in problems")
    return p


def _is_mpi_worker(args: argparse.Namespace) -> bool:
    return args.command == "run" and args.evaluator == "mpi"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "problems":
        from botorch_joint import problems

        for name in problems.names():
            print(name)
        return 0
    return _run(args)


def _run(args: argparse.Namespace) -> int:

    problem = load_problem(args.problem)
    run_dir = Path(args.run_dir or f"runs/{problem.name}-{args.method}-s{args.seed}")
    if args.evaluator == "mpi":
        from botorch_joint.parallel.mpi import run_on_mpi

        return run_on_mpi(
            lambda ev: _optimize_and_report(args, problem, run_dir, ev),
            n_workers=args.workers,
            timeout=args.timeout,
        )
    return _optimize_and_report(args, problem, run_dir, args.evaluator)


def _optimize_and_report(args: argparse.Namespace, problem, run_dir: Path, evaluator) -> int:
    from botorch_joint.loop import optimize
    from botorch_joint.plotting import plot_run

    print(
        f"botorch-joint: {problem.name} (d={problem.dim}, {problem.num_objectives} objectives, "
        f"{problem.num_constraints} constraints), method {args.method}, budget {args.budget}, "
        f"run dir {run_dir}",
        flush=True,
    )
    t0 = time.perf_counter()
    result = optimize(
        problem,
        method=args.method,
        budget=args.budget,
        n_initial=args.n_initial,
        batch_size=args.batch_size,
        initial_design=args.initial_design,
        sensitivity=None if args.sensitivity == "none" else args.sensitivity,
        evaluator=None if evaluator == "serial" else evaluator,
        run_dir=run_dir,
        resume=args.resume,
        seed=args.seed,
        timeout=args.timeout,
        n_workers=args.workers,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - t0
    csv = run_dir / "results.csv"
    result.to_dataframe().to_csv(csv, index=False)
    png = run_dir / "hv.png"
    plot_run(result, png)
    print(result.summary())
    print(f"wall time {elapsed:.1f} s; wrote {csv} and {png}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
