#!/usr/bin/env python
"""Figures and tables from the records written by ``benchmarks/run.py``.

For every problem: normalised hypervolume against evaluations (median and interquartile
band over seeds), feasible share per epoch, and a table with the final normalised HV,
HV-AUC, the evaluations needed to reach the best GP baseline's final median HV (the
paper's "epochs saved"), feasibility, IGD and the additive epsilon indicator where the
problem has a reference front, and the compute time per run. Across problems: the
compute breakdown (evaluation vs surrogate training vs search, like the paper's Fig. 5B)
and a ranking by the mean rank of the median final HV.

Normalisation: HV / ``max_hv`` when the problem knows its maximum hypervolume, else HV /
the best final HV seen in any run of that problem (marked "best observed" in the tables).

HPC regime (``--hpc auto``, the default: for the problems with a run of budget >= 1000 or a
run that ``run.py --proposal-cap`` stopped; ``--hpc on``: every problem; ``--hpc off``:
none): a section "HPC regime" with (a) normalised HV against evaluations, median and
interquartile band over the seeds still running, a cross where the cap stopped a seed
(``hpc_hv.png``); (b) the same against cumulative proposal seconds, log axis
(``hpc_hv_time.png``); (c) the seconds of each proposal against the evaluations it was made
from, log-log, one line per method, with the least-squares slope of log(seconds) on log(n)
over the proposals at n >= 200 (all of them when fewer than three distinct n reach 200)
in the legend (``hpc_proposal_seconds.png``); (d) a table per problem: per method, where
each seed stopped (n, or "budget"), final HV, proposal seconds per run, longest proposal,
slope. The figures are PNGs beside the others in the report directory; for
``docs/benchmarks.md`` copy them to ``docs/benchmarks/`` as with ``hv.png``.

Usage::

    python benchmarks/report.py OUT [--report-dir OUT/report] [--baselines gpr megp]
        [--hpc auto|on|off] [--short DIR ...] [--also DIR ...] [--budget N]

More runs (``--also DIR``: other ``run.py`` outputs, e.g. an acceptance sweep of the
same methods) join the main ones; ``--budget N`` reads every run at its first ``N``
evaluations, so runs of a larger budget compare at equal budget.

Runs at a smaller budget (``--short DIR``: another ``run.py`` output, e.g. ``ax-default``
at 3 seeds and budget 100): a section per such directory compares every method at that
budget, the main runs read from their first evaluations on the seeds both have.

The HPC-regime sweep (see ``benchmarks/run.py``) and its report::

    python benchmarks/run.py --problems hh-cell --methods c+o-ftt c+o-resnet gpr megp \\
        --seeds 10 11 12 --budget 2000 --batch-size 100 --proposal-cap 600 \\
        --jobs 2 --run-timeout 14400 --out benchmarks/results/hpc_regime
    python benchmarks/report.py benchmarks/results/hpc_regime
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: the order methods appear in tables and legends (unknown names go last)
METHOD_ORDER = (
    "c+o-ftt",
    "c+o-resnet",
    "o-ftt",
    "o-resnet",
    "gpr",
    "megp",
    "ax-default",
    "optuna-gp",
    "nsga2",
    "cma-es",
    "sobol",
    "slh",
    "lh",
    "mc",
)
DEFAULT_BASELINES = ("gpr", "megp")


# ---------------------------------------------------------------------- loading
@dataclass
class Run:
    """One finished run, reduced to what the report needs.

    Attributes:
        hv: ``(n,)`` hypervolume of the feasible points after each evaluation (or None).
        feasible: ``(n,)`` feasibility of each evaluation.
        epoch: ``(n,)`` epoch of each evaluation.
        Y: ``(n, m)`` objectives.
    """

    problem: str
    method: str
    seed: int
    hv: np.ndarray | None
    feasible: np.ndarray
    failed: np.ndarray
    epoch: np.ndarray
    Y: np.ndarray
    timing: dict[str, float]
    n_initial: int
    record: dict[str, Any] = field(repr=False, default_factory=dict)


def load(
    out: Path, budget: int | None = None
) -> tuple[list[Run], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(finished runs, failed or unfinished records, problem infos)`` under ``out``.

    Args:
        out: a ``run.py`` output directory.
        budget: read each run at its first ``budget`` evaluations (:func:`truncate`);
            ``None``: whole runs.
    """
    runs, bad = [], []
    for path in sorted((out / "records").glob("*/*/seed*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            bad.append({"path": str(path), "error": {"type": "unreadable", "message": str(exc)}})
            continue
        if rec.get("status") != "ok" or not rec.get("complete"):
            rec["path"] = str(path)
            bad.append(rec)
            continue
        run = _to_run(rec)
        runs.append(run if budget is None else truncate(run, budget))
    infos = {}
    for path in sorted((out / "problems").glob("*.json")):
        info = json.loads(path.read_text())
        infos[info["name"]] = info
    return runs, bad, infos


def _to_run(rec: dict[str, Any]) -> Run:
    res = rec["result"]
    m = len(res["objective_names"])
    Y = np.asarray(res["Y"], dtype=float).reshape(-1, m)
    failed = np.asarray(res["failed"], dtype=bool)
    if "feasible" in res:
        feasible = np.asarray(res["feasible"], dtype=bool)
    else:
        from botorch_joint.result import Result

        feasible = Result.from_json_dict(res).feasible
    hv = rec.get("hv_history")
    if hv is None and res.get("ref_point") is not None:
        from botorch_joint.result import Result

        hv = Result.from_json_dict(res).hypervolume_history()
    epoch = np.asarray(res["epoch"], dtype=int)
    return Run(
        problem=rec["problem"],
        method=rec["method"],
        seed=int(rec["seed"]),
        hv=None if hv is None else np.asarray(hv, dtype=float),
        feasible=feasible,
        failed=failed,
        epoch=epoch,
        Y=Y,
        timing=dict(rec.get("timing", {})),
        n_initial=int(np.sum(epoch == 0)),
        record=rec,
    )


def truncate(run: Run, n: int) -> Run:
    """The run as it stood after its first ``n`` evaluations (unchanged if it has fewer).

    Comparisons at equal budget can then take runs of a larger one, e.g. an acceptance
    sweep at 300 beside a comparison at 200. Its timing becomes the sums over the epochs
    it kept (the wall time: evaluation plus proposal seconds), and its record says the
    budget it is read at.
    """
    if len(run.epoch) <= n:
        return run
    from botorch_joint.result import decode_value

    epoch = run.epoch[:n]
    kept = {int(e) for e in np.unique(epoch) if np.sum(run.epoch == e) == np.sum(epoch == e)}
    timings = decode_value(run.record.get("result", {}).get("timings", []))
    keys = ("evaluation_seconds", "train_seconds", "search_seconds", "propose_seconds")
    timing = {k: 0.0 for k in keys}
    for t in timings:
        if int(t.get("epoch", -1)) in kept:
            for k in keys:
                timing[k] += float(t.get(k, 0.0) or 0.0)
    timing["wall_seconds"] = timing["evaluation_seconds"] + timing["propose_seconds"]
    settings = dict(run.record.get("settings") or {})
    settings["read_from_budget"] = settings.get("budget")
    settings["budget"] = n
    result = dict(run.record.get("result", {}))
    result["timings"] = [t for t in timings if int(t.get("epoch", -1)) in kept]
    record = {**run.record, "settings": settings, "result": result}
    return Run(
        problem=run.problem,
        method=run.method,
        seed=run.seed,
        hv=None if run.hv is None else run.hv[:n],
        feasible=run.feasible[:n],
        failed=run.failed[:n],
        epoch=epoch,
        Y=run.Y[:n],
        timing=timing,
        n_initial=run.n_initial,
        record=record,
    )


def load_all(
    outs: list[Path], budget: int | None = None
) -> tuple[list[Run], list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """:func:`load` of several output directories, merged: a problem, method and seed
    found in more than one is taken from the first that has it finished."""
    runs: list[Run] = []
    bad: list[dict[str, Any]] = []
    infos: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, str, int]] = set()
    for out in outs:
        r, b, i = load(out, budget)
        for run in r:
            key = (run.problem, run.method, run.seed)
            if key not in seen:
                seen.add(key)
                runs.append(run)
        bad += b
        for name, info in i.items():
            infos.setdefault(name, info)
    bad = [
        rec for rec in bad if (rec.get("problem"), rec.get("method"), rec.get("seed")) not in seen
    ]
    return runs, bad, infos


def method_sort_key(method: str) -> tuple[int, str]:
    return (METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER), method)


# ---------------------------------------------------------------------- metrics
@dataclass
class ProblemData:
    """Runs of one problem grouped by method, with the HV normaliser."""

    name: str
    info: dict[str, Any]
    by_method: dict[str, list[Run]]
    normaliser: float | None
    normaliser_kind: str  # "max_hv", "best observed" or "none"
    front: np.ndarray | None

    @property
    def methods(self) -> list[str]:
        return sorted(self.by_method, key=method_sort_key)

    def curves(self, method: str) -> np.ndarray | None:
        """``(seeds, n)`` normalised HV after each evaluation (runs cut to the shortest)."""
        hvs = [r.hv for r in self.by_method[method] if r.hv is not None]
        if not hvs or not self.normaliser:
            return None
        n = min(len(h) for h in hvs)
        return np.stack([h[:n] for h in hvs]) / self.normaliser


def group(runs: list[Run], infos: dict[str, dict[str, Any]]) -> dict[str, ProblemData]:
    """Group runs by problem and choose each problem's HV normaliser."""
    by_problem: dict[str, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by_problem[r.problem][r.method].append(r)
    out = {}
    for name in sorted(by_problem):
        methods = {m: sorted(rs, key=lambda r: r.seed) for m, rs in by_problem[name].items()}
        info = dict(infos.get(name, {}))
        if not info:  # run.py writes problems/NAME.json; fall back to a record's copy
            res = next(iter(methods.values()))[0].record["result"]
            info = {"name": name, "ref_point": res.get("ref_point"), "max_hv": res.get("max_hv")}
        _align_reference(name, info, methods)
        best = max(
            (float(r.hv[-1]) for rs in methods.values() for r in rs if r.hv is not None),
            default=0.0,
        )
        if info.get("max_hv"):
            norm, kind = float(info["max_hv"]), "max_hv"
        elif best > 0:
            norm, kind = best, "best observed"
        else:
            norm, kind = None, "none"
        front = info.get("pareto_front")
        out[name] = ProblemData(
            name=name,
            info=info,
            by_method=methods,
            normaliser=norm,
            normaliser_kind=kind,
            front=None if not front else np.asarray(front, dtype=float),
        )
    return out


def _align_reference(name: str, info: dict[str, Any], methods: dict[str, list[Run]]) -> None:
    """Make every run's HV use the problem's current reference point and max HV.

    ``problems/NAME.json`` is rewritten by every sweep, so it holds the latest problem
    definition; a record made with another reference point gets its HV history
    recomputed, and a max HV known only to some records is adopted.
    """
    ref = info.get("ref_point")
    if not info.get("max_hv"):
        known = [r.record["result"].get("max_hv") for rs in methods.values() for r in rs]
        known = [k for k in known if k]
        if known:
            info["max_hv"] = known[-1]
    if ref is None:
        return
    for rs in methods.values():
        for r in rs:
            res = r.record["result"]
            if res.get("ref_point") is not None and np.allclose(res["ref_point"], ref):
                continue
            from botorch_joint.result import Result

            print(f"report.py: {name}: recomputing HV of {r.method}/seed {r.seed} with {ref}")
            hv = Result.from_json_dict(res).hypervolume_history(ref_point=np.asarray(ref))
            r.hv = np.asarray(hv, dtype=float)[: len(r.epoch)]  # a truncated run stays so


def _q(values: np.ndarray | list[float]) -> tuple[float, float, float]:
    """``(median, q25, q75)`` of finite-or-inf values (NaN when empty)."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return (math.nan, math.nan, math.nan)
    if np.isinf(v).any():  # percentiles of inf are fine; of inf - inf are not
        s = np.sort(v)
        return tuple(float(s[int(round(p * (len(s) - 1)))]) for p in (0.5, 0.25, 0.75))
    return tuple(float(x) for x in np.percentile(v, [50, 25, 75]))


def first_reach(curve: np.ndarray, target: float) -> int | None:
    """Evaluations (1-based) at which ``curve`` first reaches ``target``, or ``None``."""
    hit = np.flatnonzero(curve >= target - 1e-12)
    return int(hit[0]) + 1 if hit.size else None


def final_front(run: Run) -> np.ndarray:
    """``(p, m)`` feasible non-dominated objective vectors of ``run``."""
    from botorch_joint.metrics import non_dominated

    Y = run.Y[run.feasible & np.all(np.isfinite(run.Y), axis=1)]
    return Y[non_dominated(Y)] if len(Y) else Y


def method_stats(pd_: ProblemData, method: str) -> dict[str, Any]:
    """Every per-(problem, method) number of the report."""
    from botorch_joint.metrics import epsilon_indicator, hv_auc, igd

    runs = pd_.by_method[method]
    curves = pd_.curves(method)
    st: dict[str, Any] = {"seeds": len(runs), "budget": min(len(r.epoch) for r in runs)}
    if curves is not None:
        st["final"] = _q(curves[:, -1])
        st["auc"] = _q([hv_auc(c) for c in curves])
        st["median_curve"] = np.median(curves, axis=0)
    feas_share = [float(r.feasible.mean()) if len(r.feasible) else 0.0 for r in runs]
    st["feasible_share"] = _q(feas_share)
    firsts = [int(np.argmax(r.feasible)) + 1 if r.feasible.any() else math.inf for r in runs]
    st["first_feasible"] = _q(firsts)
    st["seeds_feasible"] = int(sum(r.feasible.any() for r in runs))
    st["failed_share"] = _q([float(r.failed.mean()) for r in runs])
    if pd_.front is not None:
        fronts = [final_front(r) for r in runs]
        st["igd"] = _q([igd(F, pd_.front) for F in fronts])
        st["eps"] = _q([epsilon_indicator(F, pd_.front) for F in fronts])
    keys = ("evaluation_seconds", "train_seconds", "search_seconds", "other_proposal_seconds")
    st["seconds"] = {k: float(np.mean([r.timing.get(k, 0.0) for r in runs])) for k in keys}
    return st


def epochs_saved(
    pd_: ProblemData, stats: dict[str, dict[str, Any]], baselines: tuple[str, ...]
) -> dict[str, Any] | None:
    """Evaluations each method needs to reach the best baseline's final median HV.

    The target is the highest final median normalised HV among the ``baselines``
    present; a method reaches it when its median curve (over seeds) first gets there.
    ``baseline_evals`` is when the best baseline's own median curve first did.
    """
    present = [b for b in baselines if b in stats and "final" in stats[b]]
    if not present:
        return None
    best = max(present, key=lambda b: stats[b]["final"][0])
    target = stats[best]["final"][0]
    if not target > 0:
        return {"baseline": best, "target": target, "reach": {}, "baseline_evals": None}
    reach = {
        m: first_reach(st["median_curve"], target)
        for m, st in stats.items()
        if "median_curve" in st
    }
    return {
        "baseline": best,
        "target": target,
        "reach": reach,
        "baseline_evals": reach.get(best),
    }


def ranking(stats: dict[str, dict[str, dict[str, Any]]], key: str = "final") -> list[tuple]:
    """Mean rank (1 = best) of each method's median ``key`` over the problems it ran on.

    Ties share their mean rank. Returns ``(method, mean rank, problems, ranks)`` rows,
    best first.
    """
    from scipy.stats import rankdata

    ranks: dict[str, list[float]] = defaultdict(list)
    per: dict[str, dict[str, float]] = defaultdict(dict)
    for problem, by_m in stats.items():
        ms = [m for m in by_m if key in by_m[m]]
        if len(ms) < 2:
            continue
        vals = np.array([by_m[m][key][0] for m in ms])
        r = rankdata(-vals, method="average")
        for m, ri in zip(ms, r):
            ranks[m].append(float(ri))
            per[m][problem] = float(ri)
    rows = [(m, float(np.mean(v)), len(v), per[m]) for m, v in ranks.items()]
    return sorted(rows, key=lambda t: (t[1], method_sort_key(t[0])))


# ------------------------------------------------------------------------ plots
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig: Any, path: Path) -> Path:
    """Lay out, write and close ``fig``; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


#: a fixed colour per method: ours warm, GP baselines blue, Ax black, peers green/purple/
#: brown, space-filling grey
COLOURS = {
    "c+o-ftt": "#d62728",
    "c+o-resnet": "#ff7f0e",
    "o-ftt": "#e377c2",
    "o-resnet": "#bcbd22",
    "gpr": "#1f77b4",
    "megp": "#17becf",
    "ax-default": "#000000",
    "optuna-gp": "#2ca02c",
    "nsga2": "#9467bd",
    "cma-es": "#8c564b",
    "sobol": "#7f7f7f",
    "slh": "#b0b0b0",
    "lh": "#505050",
    "mc": "#d0d0d0",
}
_STYLES = {"sobol": ":", "slh": ":", "lh": ":", "mc": ":", "optuna-gp": "--", "nsga2": "--"}
_STYLES["cma-es"] = "--"


def colours(methods: list[str]) -> dict[str, Any]:
    """A fixed colour per method, the same in every figure."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab10")
    extra = sorted(m for m in set(methods) if m not in COLOURS)
    return {**COLOURS, **{m: cmap(i % 10) for i, m in enumerate(extra)}}


def _grid(n: int, width: float = 4.6, height: float = 3.4) -> tuple[Any, np.ndarray]:
    plt = _pyplot()
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_hv(data: dict[str, ProblemData], path: Path, col: dict[str, Any]) -> Path | None:
    """Median normalised HV vs evaluations with the interquartile band, one panel per problem."""
    probs = [p for p in data.values() if p.normaliser]
    if not probs:
        return None
    fig, axes = _grid(len(probs))
    for ax, pd_ in zip(axes, probs):
        for m in pd_.methods:
            c = pd_.curves(m)
            if c is None:
                continue
            x = np.arange(1, c.shape[1] + 1)
            med, lo, hi = (np.percentile(c, q, axis=0) for q in (50, 25, 75))
            ls = _STYLES.get(m, "-")
            ax.plot(x, med, color=col[m], ls=ls, label=f"{m} ({c.shape[0]})", lw=1.6)
            ax.fill_between(x, lo, hi, color=col[m], alpha=0.18, lw=0)
        n0 = pd_.by_method[pd_.methods[0]][0].n_initial
        ax.axvline(n0 + 0.5, color="0.7", ls=":", lw=1)
        ax.set_title(pd_.name)
        ax.set_xlabel("evaluations")
        norm = "max HV" if pd_.normaliser_kind == "max_hv" else "best observed HV"
        ax.set_ylabel(f"HV / {norm}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("Normalised hypervolume: median over seeds, band = interquartile range")
    return _save_figure(fig, path)


def plot_feasible(data: dict[str, ProblemData], path: Path, col: dict[str, Any]) -> Path:
    """Share of feasible evaluations per epoch (median over seeds), one panel per problem."""
    fig, axes = _grid(len(data))
    for ax, pd_ in zip(axes, data.values()):
        for m in pd_.methods:
            per_seed = []
            for r in pd_.by_method[m]:
                eps = np.unique(r.epoch)
                ends = np.array([np.flatnonzero(r.epoch == e)[-1] + 1 for e in eps])
                share = np.array([r.feasible[r.epoch == e].mean() for e in eps])
                per_seed.append((ends, share))
            n = min(len(s) for _, s in per_seed)
            ends = per_seed[0][0][:n]
            shares = np.stack([s[:n] for _, s in per_seed])
            ax.plot(
                ends,
                np.median(shares, axis=0),
                marker="o",
                ls=_STYLES.get(m, "-"),
                ms=2.5,
                color=col[m],
                label=m,
                lw=1.3,
            )
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(pd_.name)
        ax.set_xlabel("evaluations (end of epoch)")
        ax.set_ylabel("feasible share of the epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Feasible share per epoch: median over seeds (epoch 0 = initial design)")
    return _save_figure(fig, path)


_PARTS = (
    ("evaluation_seconds", "evaluation"),
    ("train_seconds", "surrogate training"),
    ("search_seconds", "search / acquisition"),
    ("other_proposal_seconds", "other proposal"),
)


def plot_compute(
    stats: dict[str, dict[str, dict[str, Any]]], path: Path, log: bool = False
) -> Path:
    """Mean seconds per run split by kind, stacked, one panel per problem (cf. paper Fig. 5B)."""
    fig, axes = _grid(len(stats), width=5.2)
    colours_ = ("#4c72b0", "#dd8452", "#55a868", "#bbbbbb")
    for ax, (problem, by_m) in zip(axes, stats.items()):
        ms = sorted(by_m, key=method_sort_key)
        bottom = np.zeros(len(ms))
        for (key, label), c in zip(_PARTS, colours_):
            v = np.array([by_m[m]["seconds"][key] for m in ms])
            ax.bar(range(len(ms)), v, bottom=bottom, color=c, label=label)
            bottom += v
        ax.set_xticks(range(len(ms)), ms, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("seconds per run (mean over seeds)")
        if log:
            ax.set_yscale("log")
        ax.set_title(problem)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Where the time goes: evaluation vs surrogate training vs search")
    return _save_figure(fig, path)


# ----------------------------------------------------------------------- tables
def _f(x: float, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}f}"


def _qf(q: tuple[float, float, float], digits: int = 3) -> str:
    med, lo, hi = q
    if math.isnan(med):
        return "-"
    return f"{_f(med, digits)} [{_f(lo, digits)}, {_f(hi, digits)}]"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def problem_table(pd_: ProblemData, stats: dict[str, dict[str, Any]], saved: Any) -> str:
    has_front = pd_.front is not None
    header = ["method", "seeds", "final norm. HV", "HV-AUC", "evals to target"]
    header += ["feasible share", "1st feasible", "seeds w/ feasible"]
    if has_front:
        header += ["IGD", "eps+"]
    header += ["s/run"]
    rows = []
    for m in pd_.methods:
        st = stats[m]
        reach = "-"
        if saved is not None and saved["reach"]:
            r = saved["reach"].get(m)
            reach = f"> {st['budget']}" if r is None else str(r)
        row = [
            f"`{m}`",
            str(st["seeds"]),
            _qf(st["final"]) if "final" in st else "-",
            _qf(st["auc"]) if "auc" in st else "-",
            reach,
            _qf(st["feasible_share"], 2),
            _f(st["first_feasible"][0], 0),
            f"{st['seeds_feasible']}/{st['seeds']}",
        ]
        if has_front:
            row += [_qf(st["igd"]) if "igd" in st else "-", _qf(st["eps"]) if "eps" in st else "-"]
        row.append(_f(sum(st["seconds"].values()), 1))
        rows.append(row)
    return _table(header, rows)


def saved_table(all_saved: dict[str, Any], stats: dict[str, Any]) -> str:
    """Evaluations to reach the best baseline's final median HV, as a share of the baseline's."""
    methods = sorted({m for s in stats.values() for m in s}, key=method_sort_key)
    header = ["problem", "baseline (target)"] + [f"`{m}`" for m in methods]
    rows = []
    for problem, sv in all_saved.items():
        if sv is None:
            continue
        if not sv["reach"]:
            rows.append([problem, f"{sv['baseline']} (HV 0: no target)"] + ["-"] * len(methods))
            continue
        base = sv["baseline_evals"]
        row = [problem, f"`{sv['baseline']}` ({sv['target']:.3f} at {base})"]
        for m in methods:
            if m not in stats[problem] or "median_curve" not in stats[problem][m]:
                row.append("-")
                continue
            r = sv["reach"].get(m)
            if r is None:
                row.append(f"not reached ({stats[problem][m]['budget']})")
            else:
                row.append(f"{r} ({r / base:.0%})" if base else str(r))
        rows.append(row)
    return _table(header, rows)


def compute_table(stats: dict[str, dict[str, dict[str, Any]]]) -> str:
    tot: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for by_m in stats.values():
        for m, st in by_m.items():
            for key, _ in _PARTS:
                tot[m][key].append(st["seconds"][key])
    header = ["method", "problems"] + [label for _, label in _PARTS] + ["total", "eval share"]
    rows = []
    for m in sorted(tot, key=method_sort_key):
        means = {k: float(np.mean(v)) for k, v in tot[m].items()}
        total = sum(means.values())
        share = means["evaluation_seconds"] / total if total > 0 else math.nan
        rows.append(
            [f"`{m}`", str(len(tot[m]["train_seconds"]))]
            + [_f(means[k], 2) for k, _ in _PARTS]
            + [_f(total, 2), f"{share:.0%}" if not math.isnan(share) else "-"]
        )
    return _table(header, rows)


def final_hv_matrix(stats: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Problems x methods: median final normalised HV (seeds); the best per row in bold,
    and within 0.02 of it marked tied."""
    methods = sorted({m for by_m in stats.values() for m in by_m}, key=method_sort_key)
    rows = []
    for problem, by_m in stats.items():
        finals = {m: st["final"][0] for m, st in by_m.items() if "final" in st}
        best = max((v for v in finals.values() if not math.isnan(v)), default=math.nan)
        row = [problem]
        for m in methods:
            if m not in finals:
                row.append("-")
                continue
            cell = f"{_f(finals[m])} ({by_m[m]['seeds']})"
            if finals[m] == best:
                cell = f"**{cell}**"
            elif finals[m] >= best - 0.02:
                cell += " ~"
            row.append(cell)
        rows.append(row)
    return _table(["problem"] + [f"`{m}`" for m in methods], rows)


def ranking_table(rows: list[tuple], problems: list[str]) -> str:
    header = ["rank", "method", "mean rank", "problems"] + problems
    out = []
    for m, mean, n, per in rows:
        rank = 1 + sum(1 for r in rows if r[1] < mean - 1e-9)  # tied means share a place
        out.append(
            [str(rank), f"`{m}`", f"{mean:.2f}", str(n)]
            + [_f(per.get(p, math.nan), 1) for p in problems]
        )
    return _table(header, out)


def failures_table(bad: list[dict[str, Any]]) -> str:
    rows = []
    for rec in bad:
        err = rec.get("error") or {}
        msg = str(err.get("message", "")).replace("|", "/").replace("\n", " ")[:160]
        rows.append(
            [
                str(rec.get("problem", "?")),
                f"`{rec.get('method', '?')}`",
                str(rec.get("seed", "?")),
                str(rec.get("status", "?")),
                f"{err.get('type', '')}: {msg}",
            ]
        )
    return _table(["problem", "method", "seed", "status", "error"], rows)


# ------------------------------------------------------- runs of a smaller budget
def short_budget_section(data: dict[str, ProblemData], short: Path) -> list[str]:
    """Runs of a smaller budget (another ``run.py`` output) against the main runs' start.

    A method too expensive for the main budget (``ax-default``) runs with fewer seeds and
    a smaller budget ``N`` in its own directory. Per problem it ran on, every method is
    compared at ``N`` evaluations: the main runs read from their first ``N`` evaluations,
    on the seeds the short runs share with them and on all their seeds, normalised as in
    the main tables.
    """
    runs, bad, infos = load(short)
    if not runs:
        return ["", f"## At a smaller budget (`{short}`)", "", "No finished runs there yet."]
    lines = ["", f"## At a smaller budget: `{short}`", ""]
    lines.append(
        "Median normalised HV at N evaluations [min, max] (N: the short runs' budget). "
        "The main runs are read from their first N evaluations; `common seeds` uses only the "
        "seeds the short runs have, `all seeds` every seed of the main runs. `proposal s`: "
        "median seconds per proposal after the initial design."
    )
    short_data = group(runs, {**infos, **{k: v.info for k, v in data.items()}})
    for name, spd in short_data.items():
        main = data.get(name)
        norm = main.normaliser if main is not None else spd.normaliser
        n = min(len(r.epoch) for rs in spd.by_method.values() for r in rs)
        seeds = sorted({r.seed for rs in spd.by_method.values() for r in rs})
        rows = []
        by_method = dict(spd.by_method)
        if main is not None:
            by_method = {**main.by_method, **by_method}
        for m in sorted(by_method, key=method_sort_key):
            rs = [r for r in by_method[m] if len(r.epoch) >= n and r.hv is not None]
            common = [r for r in rs if r.seed in seeds]

            secs = [s for r in common for s in _proposal_seconds_before(r, n)]
            feas = sum(bool(r.feasible[:n].any()) for r in common)
            rows.append(
                [
                    f"`{m}`",
                    _hv_at(common, n, norm),
                    _hv_at(rs, n, norm),
                    f"{feas}/{len(common)}" if common else "-",
                    _f(float(np.median(secs)), 1) if secs else "-",
                ]
            )
        header = ["method", f"common seeds {seeds}", "all seeds", "seeds w/ feasible"]
        lines += ["", f"### {name}, N = {n}", "", _table(header + ["proposal s"], rows)]
    if bad:
        lines += ["", "Failed or unfinished there:", "", failures_table(bad)]
    return lines


def _hv_at(runs: list[Run], n: int, norm: float | None) -> str:
    """Median [min, max] (seeds) normalised HV after ``n`` evaluations."""
    if not runs or not norm:
        return "-"
    v = np.array([r.hv[n - 1] for r in runs if r.hv is not None]) / norm
    return f"{np.median(v):.3f} [{v.min():.3f}, {v.max():.3f}] ({len(v)})"


def _proposal_seconds_before(run: Run, n: int) -> np.ndarray:
    """Seconds of the run's proposals made from fewer than ``n`` evaluations."""
    made_at, seconds = proposal_points(run)
    return seconds[made_at < n]


# ------------------------------------------------------------------- HPC regime
#: ``--hpc auto`` adds the HPC section for problems with a run of at least this budget
HPC_BUDGET = 1000
#: the slope of log(proposal seconds) on log(n) is fitted over the proposals at n >= this
HPC_SLOPE_FROM_N = 200
#: ... when at least this many distinct n qualify; otherwise over every proposal
HPC_SLOPE_MIN_N_VALUES = 3


def run_budget(run: Run) -> int:
    """The budget the run was asked for (its length when the record does not say)."""
    budget = (run.record.get("settings") or {}).get("budget")
    return int(budget) if budget else len(run.epoch)


def stopped_at(run: Run) -> int | None:
    """Evaluations at which ``--proposal-cap`` stopped the run, ``None`` if it did not."""
    if not run.record.get("stopped"):
        return None
    n = run.record.get("stopped_at_n")
    return len(run.epoch) if n is None else int(n)


def proposal_cap(run: Run) -> float | None:
    """The run's per-proposal cap in seconds (``None``: uncapped)."""
    cap = (run.record.get("settings") or {}).get("proposal_cap")
    return None if cap is None else float(cap)


def _epoch_seconds(run: Run) -> dict[int, float]:
    """Proposal seconds of each epoch the run recorded (epoch 0: the initial design)."""
    from botorch_joint.result import decode_value

    out: dict[int, float] = defaultdict(float)
    for t in decode_value(run.record.get("result", {}).get("timings", [])):
        if "epoch" in t:
            out[int(t["epoch"])] += float(t.get("propose_seconds", 0.0) or 0.0)
    return dict(out)


def proposal_points(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """``(n, seconds)`` of every proposal after the initial design.

    ``n`` is the number of evaluations the method had when it proposed (all of them,
    failed ones included); a proposal the cap stopped is not among them.
    """
    secs = _epoch_seconds(run)
    epochs = sorted(e for e in np.unique(run.epoch) if e > 0 and e in secs)
    n = np.array([int(np.sum(run.epoch < e)) for e in epochs], dtype=float)
    return n, np.array([secs[e] for e in epochs], dtype=float)


def cumulative_proposal(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """``(seconds, hv)``: cumulative proposal seconds at the end of each epoch, and the HV
    after that epoch's evaluations (not normalised).

    A run the cap stopped gets one more point: the seconds of the stopped proposal
    added, at the HV it had (the time it spent without getting further).
    """
    if run.hv is None:
        return np.zeros(0), np.zeros(0)
    secs = _epoch_seconds(run)
    epochs = [int(e) for e in np.unique(run.epoch)]
    t = np.cumsum([secs.get(e, 0.0) for e in epochs])
    hv = np.array([run.hv[int(np.sum(run.epoch <= e)) - 1] for e in epochs], dtype=float)
    if stopped_at(run) is not None and len(t):
        extra = float(run.record.get("stopped_proposal_seconds") or 0.0)
        t, hv = np.append(t, t[-1] + extra), np.append(hv, hv[-1])
    return t, hv


@dataclass
class SlopeFit:
    """Least-squares fit of ``log(seconds) = slope * log(n) + intercept``.

    Attributes:
        slope: the exponent (3 for cubic growth).
        intercept: natural log of the seconds at ``n = 1``.
        points: how many proposals the fit used.
        from_n: the smallest ``n`` it used (``HPC_SLOPE_FROM_N``, or the smallest of all
            when too few proposals reach that).
        n_max: the largest ``n`` it used.
    """

    slope: float
    intercept: float
    points: int
    from_n: float
    n_max: float

    def seconds(self, n: np.ndarray) -> np.ndarray:
        """The fitted seconds at ``n``."""
        return np.exp(self.intercept) * np.asarray(n, dtype=float) ** self.slope


def loglog_slope(
    n: np.ndarray,
    seconds: np.ndarray,
    from_n: float = HPC_SLOPE_FROM_N,
    min_n_values: int = HPC_SLOPE_MIN_N_VALUES,
) -> SlopeFit | None:
    """Slope of ``log(seconds)`` on ``log(n)`` over the points with ``n >= from_n``.

    Over every point instead when fewer than ``min_n_values`` distinct ``n`` reach
    ``from_n``. Points with non-positive or non-finite ``n`` or seconds are left out.

    Returns:
        The fit, or ``None`` with fewer than two distinct ``n``.
    """
    n, s = np.asarray(n, dtype=float).ravel(), np.asarray(seconds, dtype=float).ravel()
    ok = np.isfinite(n) & np.isfinite(s) & (n > 0) & (s > 0)
    n, s = n[ok], s[ok]
    high = n >= from_n
    if len(np.unique(n[high])) >= min_n_values:
        n, s = n[high], s[high]
    if len(np.unique(n)) < 2:
        return None
    slope, intercept = np.polyfit(np.log(n), np.log(s), 1)
    return SlopeFit(float(slope), float(intercept), len(n), float(n.min()), float(n.max()))


def hpc_problems(data: dict[str, ProblemData], mode: str = "auto") -> list[str]:
    """The problems of the HPC section.

    ``mode`` ``"on"``: every problem; ``"off"``: none; ``"auto"``: those with a run of
    budget at least :data:`HPC_BUDGET` or a run the proposal cap stopped.
    """
    if mode == "off":
        return []
    return [
        name
        for name, pd_ in data.items()
        if mode == "on"
        or any(
            run_budget(r) >= HPC_BUDGET or stopped_at(r) is not None
            for rs in pd_.by_method.values()
            for r in rs
        )
    ]


def hpc_stats(pd_: ProblemData, method: str) -> dict[str, Any]:
    """Per (problem, method): where the seeds stopped, final HV, proposal time, slope."""
    runs = pd_.by_method[method]
    st: dict[str, Any] = {"seeds": len(runs), "budget": max(run_budget(r) for r in runs)}
    st["stops"] = [(r.seed, stopped_at(r)) for r in runs]
    caps = {proposal_cap(r) for r in runs}
    st["cap"] = caps.pop() if len(caps) == 1 else None
    if pd_.normaliser:
        st["final"] = _q([r.hv[-1] / pd_.normaliser for r in runs if r.hv is not None])
    totals, longest, ns, secs = [], [], [], []
    for r in runs:
        n, s = proposal_points(r)
        ns.append(n)
        secs.append(s)
        extra = float(r.record.get("stopped_proposal_seconds") or 0.0)
        totals.append(float(s.sum()) + extra)
        longest.append(max(float(s.max()) if len(s) else 0.0, extra))
    st["proposal_per_seed"] = totals
    st["proposal_total"] = _q(totals)
    st["proposal_longest"] = _q(longest)
    st["fit"] = loglog_slope(np.concatenate(ns), np.concatenate(secs)) if ns else None
    return st


def _padded(pd_: ProblemData, method: str) -> np.ndarray | None:
    """``(seeds, longest)`` normalised HV after each evaluation, NaN after a run's end."""
    hvs = [r.hv for r in pd_.by_method[method] if r.hv is not None and len(r.hv)]
    if not hvs or not pd_.normaliser:
        return None
    out = np.full((len(hvs), max(len(h) for h in hvs)), np.nan)
    for i, h in enumerate(hvs):
        out[i, : len(h)] = h
    return out / pd_.normaliser


def _band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, 25th and 75th percentile over axis 0, ignoring NaN."""
    med, lo, hi = (np.nanpercentile(values, q, axis=0) for q in (50, 25, 75))
    return med, lo, hi


def _hpc_axes(n: int) -> tuple[Any, np.ndarray]:
    return _grid(n, width=5.4, height=3.9)


def _hpc_title(fig: Any, text: str) -> None:
    """A figure title wrapped to the figure's width."""
    import textwrap

    fig.suptitle(textwrap.fill(text, width=int(fig.get_figwidth() * 13)), fontsize=9)


def _norm_label(pd_: ProblemData) -> str:
    return "HV / " + ("max HV" if pd_.normaliser_kind == "max_hv" else "best observed HV")


def plot_hpc_hv(
    data: dict[str, ProblemData], problems: list[str], path: Path, col: dict[str, Any]
) -> Path | None:
    """(a) Normalised HV against evaluations: median and IQR over the seeds still running,
    a cross where the cap stopped a seed."""
    probs = [data[p] for p in problems if data[p].normaliser]
    if not probs:
        return None
    fig, axes = _hpc_axes(len(probs))
    for ax, pd_ in zip(axes, probs):
        for m in pd_.methods:
            c = _padded(pd_, m)
            if c is None:
                continue
            x = np.arange(1, c.shape[1] + 1)
            med, lo, hi = _band(c)
            ax.plot(x, med, color=col[m], ls=_STYLES.get(m, "-"), lw=1.6, label=f"{m} ({len(c)})")
            ax.fill_between(x, lo, hi, color=col[m], alpha=0.18, lw=0)
            for r in pd_.by_method[m]:
                n = stopped_at(r)
                if n is not None and r.hv is not None and len(r.hv):
                    y = r.hv[min(n, len(r.hv)) - 1] / pd_.normaliser
                    ax.plot([n], [y], "x", color=col[m], ms=8, mew=2)
        ax.axvline(pd_.by_method[pd_.methods[0]][0].n_initial + 0.5, color="0.7", ls=":", lw=1)
        ax.set_title(pd_.name)
        ax.set_xlabel("evaluations")
        ax.set_ylabel(_norm_label(pd_))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    _hpc_title(
        fig,
        "HPC regime: HV vs evaluations (median, IQR over the seeds still running; "
        "x = stopped by the proposal cap)",
    )
    return _save_figure(fig, path)


def plot_hpc_hv_time(
    data: dict[str, ProblemData], problems: list[str], path: Path, col: dict[str, Any]
) -> Path | None:
    """(b) Normalised HV against cumulative proposal seconds (log axis): median and IQR
    over seeds, a seed that ended keeping its last HV; a cross where the cap stopped one."""
    probs = [data[p] for p in problems if data[p].normaliser]
    if not probs:
        return None
    fig, axes = _hpc_axes(len(probs))
    for ax, pd_ in zip(axes, probs):
        series = {
            m: [cumulative_proposal(r) for r in pd_.by_method[m] if r.hv is not None]
            for m in pd_.methods
        }
        starts = [t[1] for ss in series.values() for t, _ in ss if len(t) > 1 and t[1] > 0]
        ends = [t[-1] for ss in series.values() for t, _ in ss if len(t)]
        if not starts or not ends:
            ax.set_visible(False)
            continue
        lo_t, hi_t = min(starts), max(max(ends), min(starts) * 1.01)
        for m, ss in series.items():
            ss = [(t, h) for t, h in ss if len(t)]
            if not ss:
                continue
            end = max(t[-1] for t, _ in ss)
            grid = np.geomspace(lo_t, hi_t, 400)
            grid = grid[grid <= end]
            if not len(grid):
                continue
            vals = np.stack(
                [h[np.maximum(np.searchsorted(t, grid, side="right") - 1, 0)] for t, h in ss]
            )
            med, lo, hi = _band(vals / pd_.normaliser)
            ax.plot(grid, med, color=col[m], ls=_STYLES.get(m, "-"), lw=1.6, label=m)
            ax.fill_between(grid, lo, hi, color=col[m], alpha=0.18, lw=0)
            for r in pd_.by_method[m]:
                if stopped_at(r) is not None and r.hv is not None:
                    t, h = cumulative_proposal(r)
                    ax.plot([t[-1]], [h[-1] / pd_.normaliser], "x", color=col[m], ms=8, mew=2)
        ax.set_xscale("log")
        ax.set_title(pd_.name)
        ax.set_xlabel("cumulative proposal seconds")
        ax.set_ylabel(_norm_label(pd_))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="lower right")
    _hpc_title(
        fig,
        "HPC regime: HV vs cumulative proposal time (median, IQR over seeds; "
        "x = stopped by the proposal cap)",
    )
    return _save_figure(fig, path)


def plot_hpc_proposal_seconds(
    data: dict[str, ProblemData],
    problems: list[str],
    hstats: dict[str, dict[str, dict[str, Any]]],
    path: Path,
    col: dict[str, Any],
) -> Path | None:
    """(c) Seconds of each proposal against the evaluations it was made from, log-log.

    Per method: the median over seeds at each n (markers and line), the least-squares
    power law (dashed, over the points it was fitted to; its slope in the legend), the
    stopped proposals as open circles (a lower bound: they were cut at the cap), and the
    cap as a dotted line.
    """
    if not problems:
        return None
    fig, axes = _hpc_axes(len(problems))
    drew = False
    for ax, name in zip(axes, problems):
        pd_ = data[name]
        caps = set()
        for m in pd_.methods:
            pts = [proposal_points(r) for r in pd_.by_method[m]]
            n_all = np.concatenate([n for n, _ in pts]) if pts else np.zeros(0)
            s_all = np.concatenate([s for _, s in pts]) if pts else np.zeros(0)
            keep = (n_all > 0) & (s_all > 0)
            if not keep.any():
                continue
            n_all, s_all = n_all[keep], s_all[keep]
            xs = np.unique(n_all)
            med = np.array([np.median(s_all[n_all == x]) for x in xs])
            fit = hstats[name][m]["fit"]
            label = m + ("" if fit is None else f" (slope {fit.slope:.2f})")
            ax.plot(xs, med, "o-", color=col[m], ms=3, lw=1.3, label=label)
            if fit is not None:
                xf = np.geomspace(fit.from_n, fit.n_max, 50)
                ax.plot(xf, fit.seconds(xf), "--", color=col[m], lw=1)
            for r in pd_.by_method[m]:
                if stopped_at(r) is not None:
                    secs = float(r.record.get("stopped_proposal_seconds") or 0.0)
                    if secs > 0:
                        ax.plot([stopped_at(r)], [secs], "o", mfc="none", mec=col[m], ms=8)
                caps.add(proposal_cap(r))
            drew = True
        for cap in sorted(c for c in caps if c):
            ax.axhline(cap, color="0.4", ls=":", lw=1)
            ax.annotate(f"cap {cap:g} s", (0.99, cap), xycoords=("axes fraction", "data"),
                        fontsize=7, ha="right", va="bottom", color="0.3")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("evaluations when proposing (n)")
        ax.set_ylabel("proposal seconds")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, loc="best")
    if not drew:
        _pyplot().close(fig)
        return None
    _hpc_title(
        fig,
        f"HPC regime: seconds per proposal vs n (median over seeds; dashed: least-squares "
        f"fit over n >= {HPC_SLOPE_FROM_N}; open circle: stopped at the cap)",
    )
    return _save_figure(fig, path)


def hpc_table(pd_: ProblemData, hst: dict[str, dict[str, Any]]) -> str:
    """Per method: where each seed stopped, final HV, proposal time, the fitted slope."""
    header = ["method", "seeds", "stopped at n (per seed)", "final norm. HV"]
    header += ["proposal s per run", "longest proposal s", "slope (fit over n)"]
    rows = []
    for m in pd_.methods:
        st = hst[m]
        stops = [n for _, n in sorted(st["stops"])]
        if all(n is None for n in stops):
            where = "budget reached"
        else:
            where = ", ".join("budget" if n is None else str(n) for n in stops)
        fit = st["fit"]
        slope = "-"
        if fit is not None:
            slope = f"{fit.slope:.2f} ({fit.from_n:.0f}-{fit.n_max:.0f}, {fit.points} pts)"
        rows.append(
            [
                f"`{m}`",
                str(st["seeds"]),
                where,
                _qf(st["final"]) if "final" in st else "-",
                _qf(st["proposal_total"], 0),
                _qf(st["proposal_longest"], 1),
                slope,
            ]
        )
    return _table(header, rows)


def hpc_section(
    data: dict[str, ProblemData],
    problems: list[str],
    report_dir: Path,
    col: dict[str, Any],
) -> list[str]:
    """The report's HPC-regime section (markdown lines) and its three figures."""
    hst = {p: {m: hpc_stats(data[p], m) for m in data[p].methods} for p in problems}
    caps = sorted({st["cap"] for by_m in hst.values() for st in by_m.values() if st["cap"]})
    cap_txt = (
        f"Every run had a cap of {', '.join(f'{c:g}' for c in caps)} s per proposal"
        if caps
        else "No run had a proposal cap"
    )
    lines = ["", "## HPC regime", ""]
    lines.append(
        f"{cap_txt}: a run whose proposal took longer stopped there, without evaluating "
        "that proposal, and kept its evaluations (`benchmarks/run.py --proposal-cap`). "
        "HV against evaluations is the median and interquartile range over the seeds "
        "still running at that evaluation (a cross marks where the cap stopped a seed); "
        "against cumulative proposal seconds a seed that ended keeps its last HV, and a "
        "stopped seed's line includes the seconds of the proposal it was stopped in. "
        "Proposal seconds against n: the median over seeds, and the least-squares slope "
        f"of log(seconds) on log(n) over every proposal at n >= {HPC_SLOPE_FROM_N} (over "
        f"all of them when fewer than {HPC_SLOPE_MIN_N_VALUES} distinct n reach that); a "
        "stopped proposal (open circle) is a lower bound and is not fitted. The other "
        "sections of this report cut each method to its shortest run, so there a stopped "
        "seed shortens the method's other seeds too."
    )
    figs = [
        (
            "HPC regime: HV vs evaluations",
            plot_hpc_hv(data, problems, report_dir / "hpc_hv.png", col),
        ),
        (
            "HPC regime: HV vs cumulative proposal seconds",
            plot_hpc_hv_time(data, problems, report_dir / "hpc_hv_time.png", col),
        ),
        (
            "HPC regime: proposal seconds vs n",
            plot_hpc_proposal_seconds(
                data, problems, hst, report_dir / "hpc_proposal_seconds.png", col
            ),
        ),
    ]
    for title, p in figs:
        if p is not None:
            lines += ["", f"![{title}]({os.path.relpath(p, report_dir)})"]
    lines += [
        "",
        "Per method: where each seed stopped (`budget`: it spent the whole budget), the "
        "final normalised HV (median [25th, 75th percentile] over seeds, at the stop), the "
        "proposal seconds per run (the stopped proposal included) and the longest single "
        "proposal, and the fitted slope with the n range and number of proposals it used.",
    ]
    for name in problems:
        lines += ["", f"### {name} (HPC regime)", "", hpc_table(data[name], hst[name])]
    return lines


# ----------------------------------------------------------------------- report
def build_report(
    out: Path,
    report_dir: Path | None = None,
    baselines: tuple[str, ...] = DEFAULT_BASELINES,
    hpc: str = "auto",
    short: tuple[Path, ...] = (),
    also: tuple[Path, ...] = (),
    budget: int | None = None,
) -> Path:
    """Write ``report.md``, ``summary.csv`` and the PNG figures; returns the report path.

    Args:
        out: ``benchmarks/run.py``'s output directory.
        report_dir: where to write (default ``out/report``).
        baselines: the methods whose best final median HV is the "evals to target" target.
        hpc: ``"auto"``, ``"on"`` or ``"off"``: which problems get the HPC-regime section
            (:func:`hpc_problems`).
        short: output directories of runs at a smaller budget, each compared with the
            main runs' first evaluations (:func:`short_budget_section`).
        also: more ``run.py`` output directories whose finished runs join ``out``'s (a
            run in both is taken from ``out``).
        budget: read every main run at its first ``budget`` evaluations
            (:func:`truncate`); ``None``: whole runs.
    """
    if hpc not in ("auto", "on", "off"):
        raise ValueError(f"hpc must be 'auto', 'on' or 'off', got {hpc!r}")
    out = Path(out)
    report_dir = Path(report_dir) if report_dir is not None else out / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    dirs = [out, *map(Path, also)]
    runs, bad, infos = load_all(dirs, budget)
    data = group(runs, infos)
    stats = {p: {m: method_stats(pd_, m) for m in pd_.methods} for p, pd_ in data.items()}
    saved = {p: epochs_saved(data[p], stats[p], baselines) for p in data}
    col = colours([r.method for r in runs])
    sweep = {}
    if (out / "sweep.json").exists():
        sweep = json.loads((out / "sweep.json").read_text())

    lines = ["# Benchmark report", ""]
    where = ", ".join(f"`{d}`" for d in dirs)
    lines.append(f"Records: {where} ({len(runs)} finished runs, {len(bad)} failed or unfinished).")
    if budget is not None:
        longer = sorted(
            {
                f"`{r.method}` on `{r.problem}`"
                for r in runs
                if (r.record.get("settings") or {}).get("read_from_budget")
            }
        )
        lines.append(
            f"Every run is read at its first {budget} evaluations"
            + (f" (runs of a larger budget: {', '.join(longer)})." if longer else ".")
        )
    if sweep:
        commands = []
        for d in dirs:
            if not (d / "sweeps.jsonl").exists():
                continue
            for line in (d / "sweeps.jsonl").read_text().splitlines():
                try:
                    info = json.loads(line)
                except json.JSONDecodeError:
                    continue
                cmd = " ".join(info.get("command", []))
                if info.get("runs_to_run", 1) and cmd not in commands:
                    commands.append(cmd)
        commands = commands or [" ".join(sweep.get("command", []))]
        lines += ["", "Sweep command(s):", ""] + [f"    {c}" for c in commands] + [""]
        vers = sweep.get("versions", {})
        lines.append(
            "Versions: " + ", ".join(f"{k} {v}" for k, v in vers.items() if v is not None) + "."
        )
        mach = sweep.get("machine", {})
        lines.append(
            f"Machine: {mach.get('cpu')}, {mach.get('cpu_count')} cores, "
            f"{mach.get('memory_gb')} GB, {mach.get('platform')}; "
            f"{sweep.get('jobs')} run(s) at a time, {sweep.get('threads')} thread(s) each."
        )
    if not runs:
        lines += ["", "No finished runs yet."]
    figs = []
    if runs:
        p = plot_hv(data, report_dir / "hv.png", col)
        if p:
            figs.append(("Normalised hypervolume vs evaluations", p))
        figs.append(
            ("Feasible share per epoch", plot_feasible(data, report_dir / "feasible.png", col))
        )
        figs.append(("Compute breakdown", plot_compute(stats, report_dir / "compute.png")))
        for title, p in figs:
            lines += ["", f"![{title}]({os.path.relpath(p, report_dir)})"]

        lines += ["", "## Final normalised HV", ""]
        lines.append(
            "Median over seeds (seeds in brackets) after the whole budget; bold: the best on "
            "the problem; `~`: within 0.02 of it."
        )
        lines += ["", final_hv_matrix(stats)]

        lines += ["", "## Ranking across problems", ""]
        lines.append(
            "Mean rank of the median final normalised HV (1 = best; ties share their mean "
            "rank), and by median HV-AUC (rewards getting there early)."
        )
        names = list(data)
        lines += ["", ranking_table(ranking(stats, "final"), names)]
        lines += ["", "By HV-AUC:", "", ranking_table(ranking(stats, "auc"), names)]

        lines += ["", "## Evaluations to reach the best GP baseline's final HV", ""]
        lines.append(
            f"Target: the highest final median normalised HV among the baselines "
            f"{', '.join(f'`{b}`' for b in baselines)} present on the problem. Each cell: the "
            "evaluations at which the method's median curve first reaches it, and that as a "
            'share of the evaluations the baseline itself needed (the paper\'s "epochs saved" '
            "is 100% minus that share)."
        )
        if any(sv is not None for sv in saved.values()):
            lines += ["", saved_table(saved, stats)]
        else:
            lines += ["", "No baseline method in these records: nothing to compare against."]

        lines += ["", "## Compute", ""]
        lines.append(
            "Mean seconds per run, averaged over problems. `other proposal` is proposal time "
            "a method did not attribute to training or search. Peers (`optuna-gp`, `nsga2`, "
            "`cma-es`) fit inside their libraries' ask/tell, so all of it counts as search."
        )
        lines += ["", compute_table(stats)]

        hpc_names = hpc_problems(data, hpc)
        if hpc_names:
            lines += hpc_section(data, hpc_names, report_dir, col)
        for extra in short:
            lines += short_budget_section(data, Path(extra))

        lines += ["", "## Per problem", ""]
        lines.append(
            "Cells are median [25th, 75th percentile] over seeds. `final norm. HV`: HV of the "
            "feasible points after the whole budget over the normaliser; `HV-AUC`: mean of the "
            "normalised HV curve over evaluations; `evals to target`: see above; "
            "`1st feasible`: median evaluation of the first feasible point (inf: none); IGD "
            "and additive epsilon of the final feasible front against the problem's reference "
            "front (inf: no feasible point); `s/run`: wall seconds per run."
        )
        for name, pd_ in data.items():
            info = pd_.info
            dims = ""
            if "dim" in info:
                m, k = len(info["objective_names"]), len(info["constraint_names"])
                dims = (
                    f"d = {info['dim']}, {m} objective{'s' * (m != 1)}, "
                    f"{k} constraint{'s' * (k != 1)}; "
                )
            norm = {
                "max_hv": f"normalised by the known max HV {pd_.normaliser:.6g}",
                "best observed": f"normalised by the **best HV observed in any run** "
                f"({pd_.normaliser:.6g}): the problem has no known max HV",
                "none": "no feasible point in any run, or no reference point: HV not normalised",
            }[pd_.normaliser_kind]
            sv = saved[name]
            tgt = ""
            if sv is not None and sv["reach"]:
                tgt = f" Target for `evals to target`: `{sv['baseline']}`'s {sv['target']:.3f}."
            lines += ["", f"### {name}", "", f"{dims}{norm}.{tgt}", ""]
            lines.append(problem_table(pd_, stats[name], sv))
    if bad:
        lines += ["", "## Failed or unfinished runs", "", failures_table(bad)]
    report = report_dir / "report.md"
    report.write_text("\n".join(lines) + "\n")
    _write_summary(runs, data, report_dir / "summary.csv")
    return report


def _write_summary(runs: list[Run], data: dict[str, ProblemData], path: Path) -> None:
    """One CSV row per finished run."""
    import csv

    keys = [
        "problem",
        "method",
        "seed",
        "evaluations",
        "feasible",
        "failed",
        "final_hv",
        "final_norm_hv",
        "hv_auc",
    ]
    keys += [k for k, _ in _PARTS] + ["wall_seconds", "stopped_at_n"]
    from botorch_joint.metrics import hv_auc

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for r in sorted(runs, key=lambda r: (r.problem, method_sort_key(r.method), r.seed)):
            norm = data[r.problem].normaliser
            hv = r.hv[-1] if r.hv is not None and len(r.hv) else math.nan
            row = [r.problem, r.method, r.seed, len(r.epoch), int(r.feasible.sum())]
            row += [int(r.failed.sum()), hv, hv / norm if norm else math.nan]
            row.append(hv_auc(r.hv / norm) if norm and r.hv is not None and len(r.hv) else math.nan)
            row += [r.timing.get(k, math.nan) for k, _ in _PARTS]
            row.append(r.timing.get("wall_seconds", math.nan))
            row.append("" if stopped_at(r) is None else stopped_at(r))
            w.writerow(row)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", nargs="?", default="benchmarks/results", help="run.py's output dir")
    p.add_argument("--report-dir", default=None, help="default: OUT/report")
    p.add_argument(
        "--baselines",
        nargs="+",
        default=list(DEFAULT_BASELINES),
        help="methods whose best final median HV is the 'evals to target' target",
    )
    p.add_argument(
        "--hpc",
        choices=["auto", "on", "off"],
        default="auto",
        help="HPC-regime section: auto = for problems with a run of budget >= "
        f"{HPC_BUDGET} or one the proposal cap stopped; on = every problem; off = none",
    )
    p.add_argument(
        "--short",
        nargs="+",
        type=Path,
        default=[],
        help="output dirs of runs at a smaller budget (e.g. ax-default), compared with the "
        "main runs' first evaluations",
    )
    p.add_argument(
        "--also",
        nargs="+",
        type=Path,
        default=[],
        help="more run.py output dirs whose finished runs join OUT's (OUT's run wins where "
        "both have one)",
    )
    p.add_argument(
        "--budget",
        type=int,
        default=None,
        help="read every run at its first BUDGET evaluations (runs of a larger budget "
        "then compare at equal budget)",
    )
    args = p.parse_args(argv)
    out = Path(args.out)
    if not (out / "records").is_dir():
        print(
            f"report.py: no records under {out}/records; run benchmarks/run.py first",
            file=sys.stderr,
        )
        return 1
    for flag, dirs in (("--short", args.short), ("--also", args.also)):
        for extra in dirs:
            if not (extra / "records").is_dir():
                print(f"report.py: no records under {extra}/records ({flag})", file=sys.stderr)
                return 1
    if args.budget is not None and args.budget < 1:
        print(f"report.py: --budget must be at least 1, got {args.budget}", file=sys.stderr)
        return 1
    path = build_report(
        out,
        args.report_dir,
        tuple(args.baselines),
        args.hpc,
        tuple(args.short),
        tuple(args.also),
        args.budget,
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
