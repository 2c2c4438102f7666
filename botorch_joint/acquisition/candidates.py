"""Candidates and evaluations as the stages of the surrogate search pass them on.

* :class:`Predictions`: the surrogate's predictions at a set of candidates;
* :class:`CandidatePool`: every candidate predicted during one search, in order;
* :class:`Observations`: the evaluations as the search reads them;
* :class:`SearchResult`: the proposed batch, what
  :meth:`~botorch_joint.acquisition.search.SurrogateSearch.propose` returns.

Plain NumPy containers: no torch, no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CandidatePool", "Observations", "Predictions", "SearchResult"]


@dataclass
class SearchResult:
    """A proposed batch and what the surrogate predicts for it.

    Attributes:
        X: ``(q, d)`` points in the problem's units.
        obj: ``(q, m)`` predicted objectives.
        obj_std: ``(q, m)`` predictive standard deviations, or ``None``.
        p_feasible: ``(q,)`` predicted P(all constraints hold), or ``None``.
        predicted_feasible: ``(q,)`` chosen as predicted feasible.
        info: counts and timings (JSON-serialisable).
    """

    X: np.ndarray
    obj: np.ndarray
    obj_std: np.ndarray | None
    p_feasible: np.ndarray | None
    predicted_feasible: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Predictions:
    """The surrogate's predictions at ``N`` candidates (:meth:`SurrogateSearch.evaluate`).

    Attributes:
        obj: ``(N, m)`` predicted objectives.
        obj_std: ``(N, m)`` predictive spread, or ``None`` (the model has none).
        log_p: ``(N,)`` log P(all constraints hold), calibrated when the search
            calibrates; ``None`` without feasibility predictions.
    """

    obj: np.ndarray
    obj_std: np.ndarray | None
    log_p: np.ndarray | None

    def take(self, idx: np.ndarray) -> Predictions:
        return Predictions(self.obj[idx], _rows(self.obj_std, idx), _rows(self.log_p, idx))

    @staticmethod
    def cat(preds: list[Predictions]) -> Predictions:
        def join(values: list[np.ndarray | None]) -> np.ndarray | None:
            arrays = [v for v in values if v is not None]
            return np.concatenate(arrays) if len(arrays) == len(values) else None

        obj = np.concatenate([p.obj for p in preds])
        return Predictions(obj, join([p.obj_std for p in preds]), join([p.log_p for p in preds]))


def _rows(a: np.ndarray | None, idx: np.ndarray) -> np.ndarray | None:
    return None if a is None else a[idx]


@dataclass
class Observations:
    """The evaluations as the search reads them (see ``SurrogateSearch._observe``).

    Attributes:
        U: ``(N, d)`` evaluated points in the unit cube.
        Y: ``(N, m)`` objectives, NaN rows for failed evaluations.
        ok: ``(N,)`` every objective finite.
        failed: ``(N,)`` failed or a non-finite objective.
        violation: ``(N,)`` observed aggregate violation (inf: failed).
        feasible: ``(N,)`` violation <= 0.
        ideal: ``(m,)`` objective offset of the loss (as from
            :func:`~botorch_joint.acquisition.selection.objective_scaling`).
        scale: ``(m,)`` objective scale of the loss.
    """

    U: np.ndarray
    Y: np.ndarray
    ok: np.ndarray
    failed: np.ndarray
    violation: np.ndarray
    feasible: np.ndarray
    ideal: np.ndarray
    scale: np.ndarray


class CandidatePool:
    """Every candidate predicted during one search, in the order predicted."""

    def __init__(self) -> None:
        self._U: list[np.ndarray] = []
        self._pred: list[Predictions] = []

    def add(self, U: np.ndarray, pred: Predictions) -> None:
        """Add ``(n, d)`` unit-cube candidates ``U`` and their predictions."""
        self._U.append(U)
        self._pred.append(pred)

    @property
    def U(self) -> np.ndarray:
        """``(N, d)`` every candidate so far, in the unit cube."""
        return np.vstack(self._U)

    @property
    def pred(self) -> Predictions:
        """The predictions at :attr:`U`, row for row."""
        return Predictions.cat(self._pred)
