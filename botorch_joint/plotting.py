"""Plots of a run: hypervolume over evaluations, feasibility over epochs, Pareto front."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from botorch_joint.result import Result


def _pyplot() -> Any:
    # matplotlib falls back to Agg by itself on a headless machine; forcing it here
    # would stop notebooks from drawing inline.
    import matplotlib.pyplot as plt

    return plt


def plot_run(result: Result, path: str | os.PathLike | None = None) -> Any:
    """Hypervolume (or best objective sum) vs evaluations, feasible share per epoch, and
    the objectives: a scatter of two, parallel coordinates of three or more.

    Args:
        result: the run to draw.
        path: where to save a PNG; the figure is returned either way.
    """
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3 if result.Y.shape[1] >= 2 else 2, figsize=(13, 3.8))
    n = np.arange(1, len(result) + 1)
    ax = axes[0]
    if result.ref_point is not None and len(result):
        hv = result.hypervolume_history()
        if result.max_hv:
            ax.plot(n, hv / result.max_hv, color="C0")
            ax.set_ylabel("normalised hypervolume")
        else:
            ax.plot(n, hv, color="C0")
            ax.set_ylabel("hypervolume")
    else:
        best = np.full(len(result), np.nan)
        s = np.where(result.feasible, np.nansum(result.Y, axis=1), np.inf)
        if len(s):
            best = np.minimum.accumulate(s)
        ax.plot(n, np.where(np.isfinite(best), best, np.nan), color="C0")
        ax.set_ylabel("best feasible sum of objectives")
    ax.set_xlabel("evaluations")
    ax.set_title(f"{result.problem_name} [{result.method}]")
    for e in np.unique(result.epoch)[1:]:
        ax.axvline(np.argmax(result.epoch == e) + 0.5, color="0.85", lw=0.6, zorder=0)

    ax = axes[1]
    epochs = np.unique(result.epoch)
    share = [result.feasible[result.epoch == e].mean() for e in epochs]
    fail = [result.failed[result.epoch == e].mean() for e in epochs]
    ax.bar(epochs, share, color="C2", label="feasible")
    ax.bar(epochs, fail, bottom=share, color="C3", label="failed")
    ax.set_xlabel("epoch")
    ax.set_ylabel("share of batch")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", fontsize=8)

    if len(axes) > 2:
        if result.Y.shape[1] == 2:
            _objective_scatter(axes[2], result)
        else:
            _objective_parallel(axes[2], result)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig


def _objective_scatter(ax: Any, result: Result) -> None:
    """Two objectives: every successful point and the front as a line."""
    ok = ~result.failed
    ax.scatter(*result.Y[ok & ~result.feasible].T, s=6, c="0.75", label="infeasible")
    ax.scatter(*result.Y[result.feasible].T, s=10, c="C0", label="feasible")
    _, P = result.pareto()
    if len(P):
        P = P[np.argsort(P[:, 0])]
        ax.plot(P[:, 0], P[:, 1], "o-", color="C1", ms=4, label="Pareto front")
    ax.set_xlabel(result.objective_names[0])
    ax.set_ylabel(result.objective_names[1])
    ax.legend(fontsize=8)


#: at most this many lines per group in the parallel-coordinates panel
_MAX_LINES = 300


def _objective_parallel(ax: Any, result: Result) -> None:
    """Three or more objectives: parallel coordinates, one line per point.

    A front of ``m > 2`` objectives joined as a curve in the first two is a tangle;
    here each objective is an axis, scaled to the range of the successful points.
    """
    m = result.Y.shape[1]
    ok = ~result.failed & np.all(np.isfinite(result.Y), axis=1)
    Y = result.Y[ok]
    x = np.arange(m)
    if len(Y):
        lo, hi = Y.min(axis=0), Y.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        _, P = result.pareto()
        groups = [
            (result.Y[ok & ~result.feasible], "0.8", 0.4, 0.6, "infeasible"),
            (result.Y[result.feasible], "C0", 0.35, 0.8, "feasible"),
            (P, "C1", 0.9, 1.4, "Pareto front"),
        ]
        rng = np.random.default_rng(0)
        for rows, color, alpha, lw, label in groups:
            if len(rows) > _MAX_LINES:  # a readable sample of a large run
                rows = rows[rng.choice(len(rows), _MAX_LINES, replace=False)]
            for i, row in enumerate((rows - lo) / span):
                ax.plot(x, row, color=color, alpha=alpha, lw=lw, label=label if i == 0 else None)
        ax.legend(fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels(result.objective_names, rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.2, m - 0.8)
    ax.set_ylabel("objective, scaled to the observed range")
    ax.set_title("objectives (lower is better)", fontsize=9)
