"""The evaluators' former home, kept so that older imports work.

The evaluators live in :mod:`botorch_joint.parallel`, one module per back end; every
name that was importable from here still is, and is the same object.
"""

from __future__ import annotations

from botorch_joint.parallel.base import (
    EvaluationTimeout,
    Evaluator,
    HungEvaluationsError,
    OnDispatch,
    OnResult,
    check_n_workers,
    check_timeout,
    default_grace,
    default_stuck_wait,
    failed_evaluation,
    run_evaluator,
)
from botorch_joint.parallel.executor import ExecutorEvaluator
from botorch_joint.parallel.factory import make_evaluator
from botorch_joint.parallel.process import ProcessEvaluator
from botorch_joint.parallel.serial import SerialEvaluator
from botorch_joint.parallel.task import evaluate_point

__all__ = [
    "EvaluationTimeout",
    "Evaluator",
    "ExecutorEvaluator",
    "HungEvaluationsError",
    "OnDispatch",
    "OnResult",
    "ProcessEvaluator",
    "SerialEvaluator",
    "check_n_workers",
    "check_timeout",
    "default_grace",
    "default_stuck_wait",
    "evaluate_point",
    "failed_evaluation",
    "make_evaluator",
    "run_evaluator",
]
