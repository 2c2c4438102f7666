"""The evaluator family and the persistence layer: one factory, lazy MPI, old paths kept."""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import sys
from pathlib import Path

import pytest

import botorch_joint as bj
from botorch_joint import parallel, persistence, result
from botorch_joint.errors import SettingsError
from botorch_joint.parallel import (
    BACKENDS,
    Evaluator,
    ExecutorEvaluator,
    ProcessEvaluator,
    SerialEvaluator,
    launcher,
    make_evaluator,
    run_with_evaluator,
)

PACKAGE = Path(bj.__file__).parent


def test_old_evaluation_names_are_the_new_objects():
    from botorch_joint import evaluation

    for name in evaluation.__all__:
        assert getattr(evaluation, name) is getattr(parallel, name), name
    assert bj.evaluation is evaluation and bj.parallel is parallel


def test_old_result_names_are_the_persistence_objects():
    for name in persistence.__all__:
        assert getattr(result, name) is getattr(persistence, name), name
    assert bj.load_result is persistence.load_result and bj.Result is result.Result
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        result.nothing  # noqa: B018


def test_every_back_end_is_an_evaluator_built_by_name():
    assert set(BACKENDS) == {"serial", "process", "mpi"}
    for name, cls in (("serial", SerialEvaluator), ("process", ProcessEvaluator)):
        ev = make_evaluator(name, n_workers=2, timeout=3.0)
        assert type(ev) is cls and isinstance(ev, Evaluator) and ev.timeout == 3.0
        ev.close()
    assert issubclass(ExecutorEvaluator, Evaluator)
    with pytest.raises(SettingsError, match="unknown evaluator 'gpu'.*'serial', 'process'"):
        make_evaluator("gpu")
    with pytest.raises(SettingsError, match="timeout must be a positive"):
        run_with_evaluator("serial", lambda ev: None, timeout=-1)


def test_only_mpi_may_need_a_launcher():
    # asking about the local back ends neither launches anything nor touches MPI
    with cf.ThreadPoolExecutor(1) as pool:
        for spec in (None, "serial", "process", pool, SerialEvaluator()):
            assert launcher(spec) is None


def test_run_with_evaluator_closes_only_what_it_built():
    closed: list[str] = []

    class Mine(SerialEvaluator):
        def close(self) -> None:
            closed.append("mine")

    mine = Mine()
    assert run_with_evaluator(mine, lambda ev: ev) is mine
    assert closed == []
    built: list[Evaluator] = []
    assert run_with_evaluator("process", lambda ev: built.append(ev) or 7, n_workers=1) == 7
    assert isinstance(built[0], ProcessEvaluator) and built[0]._workers == []


def test_importing_the_evaluators_imports_no_mpi4py():
    code = (
        "import sys, botorch_joint as bj\n"
        "from botorch_joint import evaluation, parallel, persistence, result\n"
        "from botorch_joint.parallel import launcher, make_evaluator\n"
        "make_evaluator('serial'); launcher('process')\n"
        "assert 'mpi4py' not in sys.modules, 'mpi4py imported'\n"
        "assert 'botorch_joint.parallel.mpi' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("folder", ["parallel", "persistence"])
def test_modules_stay_small(folder):
    for path in [*(PACKAGE / folder).glob("*.py"), PACKAGE / "result.py"]:
        lines = len(path.read_text().splitlines())
        assert lines <= 500, f"{path.name} has {lines} lines"
