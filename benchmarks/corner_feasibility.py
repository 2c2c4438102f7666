#!/usr/bin/env python
"""What a surrogate believes about the unexplored ends of the ``c2dtlz2`` front.

C2-DTLZ2 (d = 12, two objectives) is feasible on three disconnected arcs of its front:
one around 45 degrees and one at each end (``x_0`` near 0 or 1 with the ten distance
variables at 0.5). A search usually finds the central arc first; whether it ever tries
the ends depends on what the surrogate predicts there. This script fits ``c+o-ftt``
and ``megp`` to the first 126 evaluations of a seeded ``megp`` run (the central arc
found, no end point evaluated), predicts at points on the true front (``x_0`` from 0
to 1, distance variables 0.5) and records, per point, the true constraint value, the
predicted P(feasible) (per ensemble member for the network), the predicted objectives
and their spread, and the network's P(feasible) as the exploration stage sees it
(tempered by the objective spread, ``explore_tempering = 0.1``).

Output: ``OUT/corner_feasibility.json`` and ``OUT/corner_feasibility.md``.

Example::

    python benchmarks/corner_feasibility.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

X0 = [0.0, 0.03, 0.07, 0.3, 0.5, 0.93, 1.0]


def measure(
    seed: int, epoch: int, model_seed: int, tempering: float, batch: int = 20, smoke: bool = False
) -> dict[str, Any]:
    """Predictions of both surrogates on the true front, after ``epoch`` epochs of megp."""
    import torch
    from scipy.stats import norm

    import botorch_joint as bj
    from benchmarks.optimum_precision import snapshots
    from botorch_joint.acquisition.search import exploration_log_p, objective_scaling
    from botorch_joint.strategies import make_strategy

    problem = bj.problems.get("c2dtlz2", dim=12)
    data = snapshots([seed], [epoch], batch)[f"megp{seed}:{epoch}"]
    U = np.full((len(X0), problem.dim), 0.5)
    U[:, 0] = X0
    X = problem.from_unit(U)
    truth = problem.evaluate_batch(X)
    ok = np.all(np.isfinite(data.Y), axis=1)
    _, scale = objective_scaling(data.Y, data.feasible & ok)
    out: dict[str, Any] = {
        "snapshot": f"megp{seed}:{epoch}",
        "n": len(data),
        "n_feasible": int(data.feasible.sum()),
        "x0": X0,
        "true_objectives": np.stack([e.y for e in truth]).round(4).tolist(),
        "true_constraint": [float(e.c[0]) for e in truth],
        "objective_scale": scale.tolist(),
        "explore_tempering": tempering,
    }
    tiny = {"model_options": {"ensemble_size": 2, "max_epochs": 3}} if smoke else None
    net = make_strategy("c+o-ftt", problem, budget=1000, seed=model_seed, options=tiny)
    net = net.fit(data, epoch + 1)
    with torch.no_grad():
        obj, prob = net.member_outputs(torch.as_tensor(X))
    p_members = prob[..., 0].numpy()  # (E, points)
    std = obj.std(0).numpy()
    p_mean = p_members.mean(axis=0)
    p_tempered = np.exp(exploration_log_p(np.log(p_mean), std, scale, tempering))
    out["c+o-ftt"] = {
        "p_members": p_members.round(4).tolist(),
        "p_mean": p_mean.round(4).tolist(),
        "p_tempered": p_tempered.round(4).tolist(),
        "objective_mean": obj.mean(0).numpy().round(4).tolist(),
        "objective_std": std.round(4).tolist(),
    }
    gp = make_strategy("megp", problem, budget=1000, seed=model_seed).fit(data, epoch + 1)
    with torch.no_grad():
        post = gp.posterior(torch.as_tensor(X))
    mu, sd = post.mean.numpy(), post.variance.sqrt().numpy()
    out["megp"] = {
        "p": norm.cdf(mu[:, 2] / sd[:, 2]).round(4).tolist(),
        "objective_mean": mu[:, :2].round(4).tolist(),
        "objective_std": sd[:, :2].round(4).tolist(),
    }
    return out


def table(r: dict[str, Any]) -> str:
    net, gp = r["c+o-ftt"], r["megp"]
    lines = [
        "# The unexplored ends of the c2dtlz2 front, as the surrogates see them",
        "",
        f"Snapshot `{r['snapshot']}`: {r['n']} evaluations, {r['n_feasible']} feasible "
        "(all on the central arc). Points on the true front (distance variables 0.5); "
        "a constraint value >= 0 is feasible. Network: mean P over the members (min-max "
        "over members; raw, before the search's calibration), P as the exploration "
        f"stage sees it (`explore_tempering = {r['explore_tempering']}`), mean objective "
        "spread; `megp`: `Phi(mu / sigma)` and mean posterior standard deviation of the "
        "objectives.",
        "",
        "| x0 | true f | true c | c+o-ftt P (members) | tempered P | c+o-ftt spread "
        "| megp P | megp sd |",
        "|---|---|---|---|---|---|---|---|",
    ]
    pm = np.asarray(net["p_members"])
    for i, x0 in enumerate(r["x0"]):
        f = r["true_objectives"][i]
        lines.append(
            f"| {x0:.2f} | ({f[0]:.2f}, {f[1]:.2f}) | {r['true_constraint'][i]:+.3f} "
            f"| {net['p_mean'][i]:.3f} ({pm[:, i].min():.3f}-{pm[:, i].max():.3f}) "
            f"| {net['p_tempered'][i]:.3f} | {np.mean(net['objective_std'][i]):.3f} "
            f"| {gp['p'][i]:.3f} | {np.mean(gp['objective_std'][i]):.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="the megp run of the snapshot")
    ap.add_argument("--epoch", type=int, default=5, help="snapshot epoch")
    ap.add_argument("--model-seed", type=int, default=100)
    ap.add_argument("--tempering", type=float, default=0.1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "corner_feasibility"))
    ap.add_argument("--smoke", action="store_true", help="a tiny snapshot and network")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    if args.smoke:
        r = measure(args.seed, 1, args.model_seed, args.tempering, batch=4, smoke=True)
    else:
        r = measure(args.seed, args.epoch, args.model_seed, args.tempering)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "corner_feasibility.json").write_text(json.dumps(r, indent=1))
    md = table(r)
    (out / "corner_feasibility.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
