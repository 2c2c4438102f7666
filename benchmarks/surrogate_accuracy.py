"""Surrogate accuracy and cost: the joint networks against GPR and MEGP.

For each problem (``hh-cell``, ``c2dtlz2``), training size ``n`` and seed, a training
set and a held-out test set are drawn from the same distribution: half uniform over
the box, half near the feasible region so that both classes of every constraint occur
(``hh-cell``: Gaussian perturbations, sd 0.1 of the box, of the ground-truth parameters;
``c2dtlz2``: uniform position variable, distance variables ``0.5 + N(0, 0.05)``). Each
model is fitted on the training set and scored on the test set:

* objective NRMSE (RMSE / range of the true test values, :func:`botorch_joint.metrics.nrmse`),
  averaged over objectives;
* per-constraint balanced accuracy and Brier score of ``P(c_j >= 0)`` (GP models:
  ``Phi(mu / sigma)``), averaged over constraints (per-constraint values are in the
  JSON lines);
* fit time and inference time of :func:`botorch_joint.models.predict` at 10,000 points.

Examples::

    python benchmarks/surrogate_accuracy.py --smoke
    python benchmarks/surrogate_accuracy.py --sizes 100 300 1000 3000 --seeds 0
    python benchmarks/surrogate_accuracy.py --problems c2dtlz2 --models gpr c+o-ftt --resume
    python benchmarks/surrogate_accuracy.py --problems c2dtlz2 --models c+o-ftt \
        --joint-options '{"constraint_weight": 0}' --label "[cw=0]" --out DIR

``--joint-options`` passes keyword arguments to every ``JointSurrogate`` of the run and
``--label`` is appended to those models' names in the rows and the table, so variants
can share a results directory.

Every finished (problem, n, seed, model) row is appended to ``results.jsonl`` in the
results directory at once (``--resume`` skips rows already there); ``table.md`` and
``surrogate_accuracy.png`` are rewritten from all rows at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import botorch_joint as bj

MODELS = ("c+o-ftt", "c+o-resnet", "gpr", "megp")
PROBLEMS = ("hh-cell", "c2dtlz2")
DEFAULT_DIR = Path(__file__).resolve().parent / "results" / "surrogate_accuracy"


# ----------------------------------------------------------------------------- data
def sample_inputs(problem: bj.Problem, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, d)`` inputs: half uniform, half near the feasible region."""
    d = problem.dim
    n_near = n // 2
    U = rng.random((n, d))
    if problem.name == "hh-cell":
        truth = problem.metadata["ground_truth"]
        centre = problem.to_unit(np.array([truth[p] for p in problem.parameter_names]))
        U[:n_near] = np.clip(centre + 0.1 * rng.standard_normal((n_near, d)), 0.0, 1.0)
    elif problem.name == "c2dtlz2":
        m = problem.num_objectives
        U[:n_near, m - 1 :] = np.clip(
            0.5 + 0.05 * rng.standard_normal((n_near, d - m + 1)), 0.0, 1.0
        )
    else:
        raise ValueError(f"no near-feasible sampler for {problem.name!r}")
    return problem.from_unit(rng.permutation(U))


def make_data(problem: bj.Problem, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample and evaluate ``n`` points; failed rows keep NaN objectives."""
    rng = np.random.default_rng(seed)
    X = sample_inputs(problem, n, rng)
    evaluations = problem.evaluate_batch(X)
    Y = np.stack([e.y for e in evaluations])
    C = np.stack([e.c for e in evaluations])
    return X, Y, C


# ---------------------------------------------------------------------------- models
def is_network(name: str) -> bool:
    """Whether ``name`` is one of the joint networks (``c+o-*`` or ``o-*``)."""
    return name.startswith(("c+o-", "o-"))


def row_name(name: str, label: str) -> str:
    """The model's name in the rows: networks carry ``--label``, GPs do not."""
    return name + label if is_network(name) else name


def build_model(
    name: str,
    X: Any,
    Y: Any,
    C: Any,
    bounds: Any,
    seed: int,
    smoke: bool,
    joint_options: dict[str, Any] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """The model called ``name`` and the keyword arguments for ``fit_model``."""
    from botorch_joint.models import GPR, MEGP, JointSurrogate

    if is_network(name):
        backbone = name.split("-", 1)[1]
        options: dict[str, Any] = {"ensemble_size": 2, "max_epochs": 10} if smoke else {}
        options.update(joint_options or {})
        train_C = C if name.startswith("c+o-") else None
        return JointSurrogate(X, Y, train_C, backbone, bounds, seed=seed, **options), {}
    fit_kwargs: dict[str, Any] = {"optimizer_kwargs": {"options": {"maxiter": 20}}} if smoke else {}
    if name == "gpr":
        return GPR(X, Y, C, bounds=bounds), fit_kwargs
    if name == "megp":
        return MEGP(X, Y, C, bounds=bounds), fit_kwargs
    raise ValueError(f"unknown model {name!r}; choose from {MODELS}")


def score(
    model: Any, X: Any, Y: np.ndarray, C: np.ndarray, n_infer: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Accuracy on the test set and inference time at ``n_infer`` points."""
    import torch

    from botorch_joint.models import predict

    ok = np.all(np.isfinite(Y), axis=1)
    with torch.no_grad():
        pred = predict(model, X)
    mu = pred.obj_mean.numpy()
    nrmse = bj.metrics.nrmse(mu[ok], Y[ok])
    out: dict[str, Any] = {
        "nrmse": float(np.mean(nrmse)),
        "nrmse_per_objective": [float(v) for v in nrmse],
    }
    if pred.feas_prob is not None:
        p = pred.feas_prob.numpy()
        labels = ok[:, None] & (np.nan_to_num(C, nan=-1.0) >= 0)
        bal, brier = [], []
        for j in range(p.shape[1]):
            y, q = labels[:, j], p[:, j]
            hit = q >= 0.5
            tpr = hit[y].mean() if y.any() else math.nan
            tnr = (~hit[~y]).mean() if (~y).any() else math.nan
            bal.append(float(np.nanmean([tpr, tnr])))
            brier.append(float(np.mean((q - y) ** 2)))
        out.update(
            balanced_accuracy=float(np.mean(bal)),
            brier=float(np.mean(brier)),
            balanced_accuracy_per_constraint=bal,
            brier_per_constraint=brier,
        )
    lo, hi = model.bounds[0], model.bounds[1]
    Xi = lo + (hi - lo) * torch.as_tensor(rng.random((n_infer, X.shape[-1]))).to(lo)
    t0 = time.perf_counter()
    with torch.no_grad():
        predict(model, Xi)
    out["infer_s"] = time.perf_counter() - t0
    return out


def run_one(
    problem_name: str, n: int, seed: int, model_name: str, args: argparse.Namespace
) -> dict[str, Any]:
    import torch

    from botorch_joint.models import fit_model

    problem = bj.problems.get(problem_name)
    X, Y, C = make_data(problem, n, seed)
    Xt, Yt, Ct = make_data(problem, args.n_test, 10_000 + seed)
    tX, tY, tC = (torch.as_tensor(a, dtype=torch.float64) for a in (X, Y, C))
    bounds = torch.as_tensor(problem.bounds, dtype=torch.float64)
    model, fit_kwargs = build_model(
        model_name, tX, tY, tC, bounds, seed, args.smoke, args.joint_options
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_model(model, **fit_kwargs)
    fit_s = time.perf_counter() - t0
    row: dict[str, Any] = {
        "problem": problem_name,
        "n": n,
        "seed": seed,
        "model": row_name(model_name, args.label),
        "fit_s": fit_s,
        "train_feasible": float(np.mean(np.all(C >= 0, axis=1))),
        "test_feasible": float(np.mean(np.all(Ct >= 0, axis=1))),
        "threads": torch.get_num_threads(),
    }
    if getattr(model, "epochs_trained", None) is not None:
        row["epochs"] = model.epochs_trained
    row.update(score(model, torch.as_tensor(Xt), Yt, Ct, args.n_infer, np.random.default_rng(seed)))
    return row


# --------------------------------------------------------------------------- reports
def load_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def aggregate(rows: list[dict[str, Any]]) -> dict[tuple[str, int, str], dict[str, float]]:
    """Mean of each metric over seeds, keyed by ``(problem, n, model)``."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["problem"], r["n"], r["model"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        agg: dict[str, float] = {"seeds": len(rs)}
        for metric in ("nrmse", "balanced_accuracy", "brier", "fit_s", "infer_s"):
            vals = [r[metric] for r in rs if metric in r]
            agg[metric] = float(np.mean(vals)) if vals else math.nan
        out[key] = agg
    return out


def _model_order(agg: dict[tuple[str, int, str], Any]) -> list[str]:
    """Models in :data:`MODELS` order, each followed by its labelled variants."""
    names = {k[2] for k in agg}
    base = {m: i for i, m in enumerate(MODELS)}

    def key(name: str) -> tuple[int, str]:
        root = next((m for m in MODELS if name.startswith(m)), name)
        return base.get(root, len(MODELS)), name

    return sorted(names, key=key)


def write_table(rows: list[dict[str, Any]], path: Path) -> str:
    agg = aggregate(rows)
    lines = [
        "| problem | n | model | seeds | NRMSE | bal. acc. | Brier | fit [s] | predict 10k [s] |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    rank = {m: i for i, m in enumerate(_model_order(agg))}
    for (problem, n, model), a in sorted(agg.items(), key=lambda kv: (kv[0][:2], rank[kv[0][2]])):
        lines.append(
            f"| {problem} | {n} | {model} | {a['seeds']} | {a['nrmse']:.4f} | "
            f"{a['balanced_accuracy']:.3f} | {a['brier']:.4f} | {a['fit_s']:.1f} | "
            f"{a['infer_s']:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def write_plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(rows)
    problems = sorted({k[0] for k in agg})
    metrics = [
        ("nrmse", "objective NRMSE"),
        ("balanced_accuracy", "balanced accuracy"),
        ("fit_s", "fit time [s]"),
    ]
    fig, axes = plt.subplots(
        len(problems), len(metrics), figsize=(4 * len(metrics), 3.2 * len(problems)), squeeze=False
    )
    for i, problem in enumerate(problems):
        for j, (metric, label) in enumerate(metrics):
            ax = axes[i, j]
            for model in _model_order(agg):
                pts = sorted(
                    (k[1], a[metric]) for k, a in agg.items() if k[0] == problem and k[2] == model
                )
                if pts:
                    ax.plot(*zip(*pts), marker="o", label=model)
            ax.set_xscale("log")
            if metric in ("nrmse", "fit_s"):
                ax.set_yscale("log")
            ax.set_xlabel("training points n")
            ax.set_title(f"{problem}: {label}")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--sizes", nargs="+", type=int, default=[100, 300, 1000, 3000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n-test", type=int, default=2000, help="held-out test points")
    parser.add_argument("--n-infer", type=int, default=10_000, help="points for inference time")
    parser.add_argument(
        "--max-n",
        nargs="*",
        default=["megp=1000"],
        metavar="MODEL=N",
        help="skip MODEL above N training points (default: megp=1000)",
    )
    parser.add_argument(
        "--joint-options",
        type=json.loads,
        default={},
        help="JSON dict of JointSurrogate keyword arguments for the network models",
    )
    parser.add_argument("--label", default="", help="suffix of the network models' names")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help="results directory")
    parser.add_argument("--resume", action="store_true", help="skip rows already in results")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes and models, to check the script runs"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.seeds = [30, 60], [0]
        args.n_test, args.n_infer = 200, 1000
        if args.out == DEFAULT_DIR:
            args.out = DEFAULT_DIR / "smoke"

    import torch

    torch.set_num_threads(args.threads)
    limits = {k: int(v) for k, v in (item.split("=") for item in args.max_n)}
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    if not args.resume and results.exists():
        results.unlink()
    done = {(r["problem"], r["n"], r["seed"], r["model"]) for r in load_rows(results)}
    for problem in args.problems:
        for n in args.sizes:
            for seed in args.seeds:
                for model in args.models:
                    if n > limits.get(model, math.inf):
                        print(f"skip {problem} n={n} {model}: above --max-n", flush=True)
                        continue
                    if (problem, n, seed, row_name(model, args.label)) in done:
                        continue
                    row = run_one(problem, n, seed, model, args)
                    with results.open("a") as fh:
                        fh.write(json.dumps(row) + "\n")
                    print(
                        f"{problem} n={n} seed={seed} {model}: NRMSE {row['nrmse']:.4f} "
                        f"bal.acc {row.get('balanced_accuracy', math.nan):.3f} "
                        f"Brier {row.get('brier', math.nan):.4f} fit {row['fit_s']:.1f}s "
                        f"predict {row['infer_s']:.2f}s",
                        flush=True,
                    )
    rows = load_rows(results)
    print(write_table(rows, args.out / "table.md"))
    write_plot(rows, args.out / "surrogate_accuracy.png")
    print(f"wrote {args.out / 'table.md'} and {args.out / 'surrogate_accuracy.png'}")


if __name__ == "__main__":
    main()
