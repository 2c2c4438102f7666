"""Evaluators: failures of every kind become recorded failed evaluations, and runs finish."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import botorch_joint as bj
from botorch_joint.parallel import (
    ExecutorEvaluator,
    ProcessEvaluator,
    SerialEvaluator,
    make_evaluator,
)

sys.path.insert(0, str(Path(__file__).parent))
import bj_fault_helpers as h  # noqa: E402

OK, RAISE, HANG, NAN, EXIT, SEGFAULT, STUBBORN = (
    h.OK,
    h.RAISE,
    h.HANG,
    h.NAN,
    h.EXIT,
    h.SEGFAULT,
    h.STUBBORN,
)


def modes_of(result) -> list[int]:
    return [int(m) for m in np.floor(result.X[:, 0])]


def run_fixed(modes: list[int], evaluator, n_initial: int, batch_size: int, **kw):
    problem = h.faulty_problem()
    X = h.fixed_run_points(modes)
    return bj.optimize(
        problem,
        budget=len(X),
        n_initial=n_initial,
        batch_size=batch_size,
        evaluator=evaluator,
        strategy=h.FixedPoints(problem, X),
        progress=False,
        **kw,
    )


def check_failures(result, expected: dict[int, str]) -> None:
    """Each mode in ``expected`` failed with a message containing its text; others passed."""
    for mode, failed, error, y in zip(modes_of(result), result.failed, result.errors, result.Y):
        if mode in expected:
            assert failed, mode
            assert expected[mode] in error, (mode, error)
            assert not result.feasible[modes_of(result).index(mode)]
        else:
            assert not failed, (mode, error)
            assert error is None and np.all(np.isfinite(y))


# -------------------------------------------------------------------- serial
def test_serial_run_records_raise_hang_and_nan_as_failed():
    t0 = time.monotonic()
    result = run_fixed([OK, RAISE, HANG, NAN, OK, OK], None, n_initial=3, batch_size=3, timeout=0.5)
    assert time.monotonic() - t0 < 10  # the 60 s hang was cut at the time limit
    assert len(result) == 6 and result.complete
    check_failures(
        result,
        {
            RAISE: "ValueError: simulator blew up",
            HANG: "EvaluationTimeout",
            NAN: "non-finite objective",
        },
    )
    df = result.to_dataframe()
    assert df["error"].notna().sum() == 3


def test_serial_all_failed_batches_finish():
    result = run_fixed([RAISE] * 6, "serial", n_initial=3, batch_size=3)
    assert len(result) == 6 and result.complete
    assert result.failed.all() and not result.feasible.any()
    assert np.isnan(result.Y).all() and np.isnan(result.C).all()
    assert list(result.epoch) == [0, 0, 0, 1, 1, 1]


def test_serial_timeout_keeps_batch_path_off_and_evaluates_all():
    problem = h.faulty_problem()
    X = np.array([h.point(OK, 0.2), h.point(HANG), h.point(OK, 0.4)])
    seen = []
    out = SerialEvaluator(timeout=0.3).evaluate(problem, X, on_result=lambda i, e: seen.append(i))
    assert seen == [0, 1, 2]
    assert [e.failed for e in out] == [False, True, False]
    assert out[1].seconds == pytest.approx(0.3, abs=0.2)


# ---------------------------------------------------------- process pool
def test_process_evaluator_survives_every_failure_mode():
    modes = [OK, RAISE, HANG, NAN, EXIT, SEGFAULT, STUBBORN, OK, OK]
    problem = h.faulty_problem()
    X = np.array([h.point(m, x=0.1 * (i + 1)) for i, m in enumerate(modes)])
    calls: list[int] = []
    t0 = time.monotonic()
    with ProcessEvaluator(n_workers=2, timeout=1.0, grace=0.5) as ev:
        out = ev.evaluate(problem, X, on_result=lambda i, e: calls.append(i))
        elapsed = time.monotonic() - t0
        # killed (hang past grace) and dead workers were replaced
        assert ev.replaced >= 3
        # and the pool still works afterwards
        again = ev.evaluate(problem, X[[0, 7]])
    assert sorted(calls) == list(range(len(X)))  # every row reported exactly once
    assert elapsed < 20
    errors = {m: e.error for m, e in zip(modes, out)}
    assert [e.failed for e in out] == [m not in (OK,) for m in modes]
    assert "ValueError: simulator blew up" in errors[RAISE]
    assert "EvaluationTimeout" in errors[HANG]  # the worker interrupted itself
    assert "non-finite" in errors[NAN]
    assert "WorkerDied" in errors[EXIT] and "exit code 3" in errors[EXIT]
    assert "WorkerDied" in errors[SEGFAULT] and "SIGSEGV" in errors[SEGFAULT]
    assert "EvaluationTimeout" in errors[STUBBORN]  # killed by the supervisor
    assert out[0].y.tolist() == pytest.approx([0.1, 0.9])
    assert [e.failed for e in again] == [False, False]


def test_process_run_records_each_failure_and_finishes():
    result = run_fixed(
        [OK, RAISE, NAN, EXIT, OK, HANG, OK, OK],
        "process",
        n_initial=4,
        batch_size=4,
        timeout=1.0,
        n_workers=2,
    )
    assert len(result) == 8 and result.complete
    check_failures(
        result,
        {RAISE: "ValueError", NAN: "non-finite", EXIT: "WorkerDied", HANG: "EvaluationTimeout"},
    )


def test_process_all_failed_batch_finishes():
    result = run_fixed([EXIT, EXIT, RAISE, RAISE], "process", 2, 2, n_workers=2)
    assert len(result) == 4 and result.failed.all() and result.complete


def test_process_evaluator_needs_a_picklable_problem():
    problem = bj.Problem("closure", {"x": (0.0, 1.0)}, ["f"], evaluate=lambda p: {"f": p["x"]})
    with ProcessEvaluator(n_workers=1) as ev, pytest.raises(TypeError, match="top level"):
        ev.evaluate(problem, np.array([[0.5]]))


# -------------------------------------------------------- user executors
def _spawn_pool() -> cf.ProcessPoolExecutor:
    return cf.ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn"))


def test_executor_evaluator_replaces_a_broken_pool_from_its_factory():
    # One task in flight at a time, so the dead worker takes only its own point.
    problem = h.faulty_problem()
    modes = [EXIT, OK, OK, RAISE, OK]
    X = np.array([h.point(m, x=0.1 * (i + 1)) for i, m in enumerate(modes)])
    ev = ExecutorEvaluator(factory=_spawn_pool, n_workers=1)
    try:
        first_pool = ev.executor
        out = ev.evaluate(problem, X)
        assert ev.executor is not first_pool  # recreated after BrokenProcessPool
    finally:
        ev.close()
    assert out[0].failed and "WorkerDied" in out[0].error
    assert out[3].failed and "ValueError" in out[3].error
    assert not any(out[i].failed for i in (1, 2, 4))


def test_executor_evaluator_with_tasks_in_flight_when_the_pool_breaks():
    # ProcessPoolExecutor fails every task in flight when a worker dies; which ones
    # were in flight depends on timing, so each row is its own result or WorkerDied.
    problem = h.faulty_problem()
    modes = [EXIT, OK, OK, OK, RAISE, OK]
    X = np.array([h.point(m, x=0.1 * (i + 1)) for i, m in enumerate(modes)])
    ev = ExecutorEvaluator(factory=_spawn_pool, n_workers=2)
    try:
        first_pool = ev.executor
        out = ev.evaluate(problem, X)
        assert ev.executor is not first_pool
    finally:
        ev.close()
    assert len(out) == len(modes)
    assert out[0].failed and "WorkerDied" in out[0].error
    for e, mode in zip(out[1:], modes[1:], strict=True):
        if e.failed and "WorkerDied" in e.error:
            continue
        if mode == RAISE:
            assert e.failed and "ValueError" in e.error
        else:
            assert not e.failed and np.all(np.isfinite(e.y))


def test_executor_evaluator_without_factory_says_how_to_continue():
    problem = h.faulty_problem()
    X = np.array([h.point(EXIT), h.point(OK), h.point(OK), h.point(OK)])
    with _spawn_pool() as pool:
        ev = ExecutorEvaluator(pool, n_workers=1)
        with pytest.raises(RuntimeError, match="resume=True"):
            ev.evaluate(problem, X)


def test_thread_executor_timeout_gives_up_and_frees_nothing_it_cannot(monkeypatch):
    # In a thread the worker-side alarm cannot fire: the supervisor gives up instead.
    monkeypatch.setenv("BJ_TEST_HANG", "2.0")
    problem = h.faulty_problem()
    X = np.array([h.point(HANG), h.point(OK, 0.2), h.point(OK, 0.3)])
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        ev = ExecutorEvaluator(pool, timeout=0.3, grace=0.2)
        t0 = time.monotonic()
        out = ev.evaluate(problem, X)
        assert time.monotonic() - t0 < 1.9  # did not wait for the 2 s hang
    assert out[0].failed and "EvaluationTimeout" in out[0].error
    assert not out[1].failed and not out[2].failed


def test_user_executor_through_optimize(toy_problem):
    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        result = bj.optimize(
            toy_problem, method="sobol", budget=9, batch_size=3, evaluator=pool, progress=False
        )
    assert len(result) == 9 and not result.failed.any()


# ----------------------------------------------------------------- plumbing
def test_make_evaluator_kinds():
    assert isinstance(make_evaluator(None), SerialEvaluator)
    assert make_evaluator("serial", timeout=2.0).timeout == 2.0
    ev = make_evaluator("process", n_workers=3, timeout=5.0)
    assert isinstance(ev, ProcessEvaluator) and ev.n_workers == 3 and ev.timeout == 5.0
    ev.close()
    own = SerialEvaluator()
    assert make_evaluator(own) is own
    with pytest.warns(UserWarning, match="ignored"):
        assert make_evaluator(own, timeout=3.0) is own
    with cf.ThreadPoolExecutor(max_workers=4) as pool:
        wrapped = make_evaluator(pool)
        assert isinstance(wrapped, ExecutorEvaluator) and wrapped.n_workers == 4
    with pytest.raises(ValueError, match="unknown evaluator"):
        make_evaluator("gpu")


def test_idle_workers_are_reported(toy_problem):
    with cf.ThreadPoolExecutor(max_workers=8) as pool, pytest.warns(UserWarning, match="idle"):
        bj.optimize(
            toy_problem, method="sobol", budget=8, batch_size=2, evaluator=pool, progress=False
        )


# ------------------------------------------------ stuck workers (issue 18, item 5)
def test_stuck_workers_never_turn_unrun_points_into_failures(monkeypatch):
    # Both workers hang past timeout + grace in evaluations that ignore the interrupt
    # (a thread cannot be interrupted at all): the points behind them wait for a worker.
    monkeypatch.setenv("BJ_TEST_HANG", "2.5")
    problem = h.faulty_problem()
    modes = [HANG, HANG, OK, OK, OK]
    X = np.array([h.point(m, x=0.1 * (i + 1)) for i, m in enumerate(modes)])
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        ev = ExecutorEvaluator(pool, timeout=0.3, grace=0.2)
        with pytest.warns(RuntimeWarning, match="waiting for a worker") as record:
            out = ev.evaluate(problem, X)
    message = str(record[0].message)
    assert "2 workers" in message and "0.1" in message and "0.2" in message
    assert [e.failed for e in out] == [True, True, False, False, False]
    assert all("EvaluationTimeout" in e.error for e in out[:2])
    assert [e.y[0] for e in out[2:]] == pytest.approx([0.3, 0.4, 0.5])


def test_evaluations_that_hang_too_long_stop_the_run_resumably(tmp_path, monkeypatch):
    from botorch_joint.parallel import HungEvaluationsError

    monkeypatch.setenv("BJ_TEST_HANG", "3.0")
    problem = h.faulty_problem()
    modes = [OK, OK, HANG, HANG, OK, OK]
    X = h.fixed_run_points(modes)
    kw = dict(budget=6, n_initial=2, batch_size=4, run_dir=tmp_path / "run", progress=False)
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        ev = ExecutorEvaluator(pool, timeout=0.3, grace=0.2, stuck_wait=0.5)
        with pytest.raises(HungEvaluationsError) as info, pytest.warns(RuntimeWarning):
            bj.optimize(problem, evaluator=ev, strategy=h.FixedPoints(problem, X), **kw)
        message = str(info.value)
        assert "resume=True" in message
        for x in X[2:4]:  # the hung points are named
            assert f"{x[1]:.6g}" in message
        on_disk = bj.load_result(tmp_path / "run")
        # the hung ones are recorded (timed out), the two that never ran are not
        assert modes_of(on_disk) == [OK, OK, HANG, HANG]
        assert on_disk.failed.tolist() == [False, False, True, True]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        final = bj.optimize(
            problem, evaluator=pool, strategy=h.FixedPoints(problem, X), resume=True, **kw
        )
    assert modes_of(final) == modes
    assert final.failed.tolist() == [m == HANG for m in modes]


# ----------------------------------------- sending the problem (issue 18, item 9)
def _closure_problem() -> bj.Problem:
    return bj.Problem("closure", {"x": (0.0, 1.0)}, ["f"], evaluate=lambda p: {"f": p["x"]})


def test_an_unpicklable_problem_is_refused_before_any_evaluation_on_any_executor(tmp_path):
    problem = _closure_problem()
    with _spawn_pool() as pool, pytest.raises(TypeError, match="cannot be sent"):
        bj.optimize(
            problem, method="sobol", budget=4, batch_size=2, evaluator=pool,
            run_dir=tmp_path / "run", progress=False,
        )  # fmt: skip
    assert len(bj.load_result(tmp_path / "run")) == 0  # nothing recorded as failed
    # the MPI evaluator checks the same way (here over a local pool standing in for ranks)
    from botorch_joint.parallel.mpi import MPIEvaluator

    with _spawn_pool() as pool, pytest.raises(TypeError, match="cannot be sent"):
        MPIEvaluator(executor=pool, n_workers=2).evaluate(problem, np.array([[0.5]]))
    # threads share the problem without pickling: no false alarm
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        result = bj.optimize(
            problem, method="sobol", budget=4, batch_size=2, evaluator=pool, progress=False
        )
    assert not result.failed.any()


# ------------------------------------------------ settings (issue 18, item 10)
@pytest.mark.parametrize("timeout", [0, -1.0, float("nan"), float("inf")])
def test_a_timeout_must_be_a_positive_number_of_seconds(toy_problem, timeout):
    for make in (
        lambda: SerialEvaluator(timeout=timeout),
        lambda: ProcessEvaluator(n_workers=1, timeout=timeout),
        lambda: ExecutorEvaluator(cf.ThreadPoolExecutor(1), timeout=timeout),
    ):
        with pytest.raises(ValueError, match="timeout must be a positive"):
            make()
    with pytest.raises(ValueError, match="timeout must be a positive"):
        bj.optimize(toy_problem, method="sobol", budget=2, batch_size=2, timeout=timeout)


def test_n_workers_zero_is_refused(toy_problem):
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1, got 0"):
        ProcessEvaluator(n_workers=0)
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1, got 0"):
        ExecutorEvaluator(cf.ThreadPoolExecutor(1), n_workers=0)
    with pytest.raises(ValueError, match="n_workers must be an integer >= 1, got 0"):
        bj.optimize(toy_problem, method="sobol", budget=2, evaluator="process", n_workers=0)


def test_a_run_where_every_evaluation_fails_warns_after_its_first_batch():
    import warnings

    seen: list[int] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_fixed(
            [RAISE] * 9,
            "serial",
            n_initial=3,
            batch_size=3,
            callback=lambda r: seen.append(
                sum("every evaluation" in str(w.message) for w in caught)
            ),
        )
    assert result.failed.all()
    assert seen == [1, 1, 1]  # once, right after the first batch
    message = next(str(w.message) for w in caught if "every evaluation" in str(w.message))
    assert "3 evaluations" in message and "ValueError: simulator blew up" in message
