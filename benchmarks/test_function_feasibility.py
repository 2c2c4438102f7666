"""Built-in test functions against their reference implementations.

For every constrained test function prints the share of uniform random draws that is
feasible here and in the reference implementation (pymoo 0.6.2 where it has the
problem, ``G <= 0``; BoTorch 0.18.1's slack ``>= 0`` otherwise and, for comparison,
everywhere), the largest deviation of objectives and constraints from the reference,
and the hypervolume of a dense Pareto-front sample against ``max_hv``::

    python benchmarks/test_function_feasibility.py                # 20,000 draws, seed 0
    python benchmarks/test_function_feasibility.py --n 1000000 --front 20000

Draws are ``problem.from_unit(np.random.default_rng(seed).random((n, d)))``.
BoTorch's numbers show its known differences: ``WeldedBeam`` with flipped constraint
signs, ``C2DTLZ2`` with a wider centre disc, ``OSY`` without pymoo's constraint scaling
(feasibility unchanged).
"""

from __future__ import annotations

import argparse

import numpy as np

import botorch_joint as bj

# name -> (pymoo name and options or None, BoTorch class name and options)
REFERENCES = {
    "c2dtlz2": (("c2dtlz2", {"n_var": 12, "n_obj": 2}), ("C2DTLZ2", {"dim": 12})),
    "mw7": (("mw7", {"n_var": 15}), ("MW7", {"dim": 15})),
    "discbrake": (None, ("DiscBrake", {})),
    "weldedbeam": (("welded_beam", {}), ("WeldedBeam", {})),
    "osy": (("osy", {}), ("OSY", {})),
    "constrained-branincurrin": (None, ("ConstrainedBraninCurrin", {})),
}


def _hv2d(Y: np.ndarray, ref: np.ndarray) -> float:
    """Exact 2-D hypervolume of minimised points ``Y (n, 2)`` w.r.t. ``ref``."""
    Y = Y[np.all(Y < ref, axis=1)]
    if len(Y) == 0:
        return 0.0
    Y = Y[np.lexsort((Y[:, 1], Y[:, 0]))]
    Y = Y[Y[:, 1] < np.minimum.accumulate(np.r_[np.inf, Y[:-1, 1]])]
    return float(np.sum((np.r_[Y[1:, 0], ref[0]] - Y[:, 0]) * (ref[1] - Y[:, 1])))


def _pymoo(spec: tuple[str, dict] | None, X: np.ndarray):
    if spec is None:
        return None
    try:
        from pymoo.problems import get_problem
    except ImportError:
        return None
    F, G = get_problem(spec[0], **spec[1]).evaluate(X, return_values_of=["F", "G"])
    return F, -G


def _botorch(spec: tuple[str, dict], X: np.ndarray):
    import torch
    from botorch.test_functions import multi_objective

    fn = getattr(multi_objective, spec[0])(**spec[1])
    F, S = [], []
    with torch.no_grad():
        for chunk in np.array_split(X, max(1, len(X) // 10_000)):
            Xt = torch.tensor(chunk, dtype=torch.float64)
            F.append(fn.evaluate_true(Xt).numpy())
            S.append(fn.evaluate_slack_true(Xt).numpy())
    return np.concatenate(F), np.concatenate(S)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="number of uniform draws")
    parser.add_argument("--seed", type=int, default=0, help="seed of numpy's default_rng")
    parser.add_argument("--front", type=int, default=5000, help="Pareto-front sample size")
    args = parser.parse_args(argv)

    header = (
        f"{'problem':26s} {'ours':>8s} {'pymoo':>8s} {'botorch':>8s} "
        f"{'max|dY| ref':>12s} {'max|dC| ref':>12s} {'HV(front)':>12s} {'max_hv':>12s}"
    )
    print(f"uniform draws: {args.n}, seed {args.seed}; front sample: {args.front} points")
    print(header)
    for name, (pymoo_spec, botorch_spec) in REFERENCES.items():
        problem = bj.problems.get(name)
        X = problem.from_unit(np.random.default_rng(args.seed).random((args.n, problem.dim)))
        Y, C = problem._batch_evaluate(X)
        ours = np.mean(np.all(C >= 0, axis=1))
        pm = _pymoo(pymoo_spec, X)
        bt = _botorch(botorch_spec, X)
        reference = pm if pm is not None else bt
        dY = np.max(np.abs(Y - reference[0]))
        dC = np.max(np.abs(C - reference[1]))
        pm_rate = (
            f"{100 * np.mean(np.all(pm[1] >= 0, axis=1)):7.3f}%" if pm is not None else "     n/a"
        )
        bt_rate = f"{100 * np.mean(np.all(bt[1] >= 0, axis=1)):7.3f}%"
        hv = _hv2d(problem.pareto_front(args.front), problem.ref_point)
        print(
            f"{name:26s} {100 * ours:7.3f}% {pm_rate} {bt_rate} "
            f"{dY:12.2e} {dC:12.2e} {hv:12.7g} {problem.max_hv:12.7g}"
        )


if __name__ == "__main__":
    main()
