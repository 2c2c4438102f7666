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
    """Hypervolume (or best objective sum) vs evaluations, and feasible share per epoch.

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
        ax = axes[2]
        ok = ~result.failed
        ax.scatter(*result.Y[ok & ~result.feasible][:, :2].T, s=6, c="0.75", label="infeasible")
        ax.scatter(*result.Y[result.feasible][:, :2].T, s=10, c="C0", label="feasible")
        _, P = result.pareto()
        if len(P):
            P = P[np.argsort(P[:, 0])]
            ax.plot(P[:, 0], P[:, 1], "o-", color="C1", ms=4, label="Pareto front")
        ax.set_xlabel(result.objective_names[0])
        ax.set_ylabel(result.objective_names[1])
        ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
