"""Per-parameter sensitivity of a fitted surrogate (no true evaluations).

Three estimators, each returning :class:`SensitivityIndices` (indices per parameter,
with the parameter names):

* :func:`sgrad`: mean absolute input gradient of every model output over a
  space-filling sample of the box (unit-cube inputs), normalised per output;
* :func:`fast`: SALib's extended FAST total-order indices computed on the surrogate;
* :func:`dgsm`: SALib's derivative-based global sensitivity measure on the surrogate.

The outputs analysed are the predicted objectives and, for models with a feasibility
head, the log-odds of each constraint's predicted feasibility. Every output is
normalised to sum 1 over the parameters before the outputs are averaged, so objectives
and constraints in different units weigh alike. :func:`plot_sensitivity` draws the
indices as bars.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    from botorch_joint.models.prediction import Surrogate

__all__ = [
    "METHODS",
    "SensitivityIndices",
    "compute",
    "dgsm",
    "fast",
    "plot_sensitivity",
    "sgrad",
]

METHODS = ("sgrad", "fast", "dgsm")
_P_CLIP = 1e-6  # feasibility log-odds live in [-13.8, 13.8]


@dataclass
class SensitivityIndices:
    """Sensitivity of the model outputs to each parameter.

    Attributes:
        method: ``"sgrad"``, ``"fast"`` or ``"dgsm"``.
        names: the ``d`` parameter names.
        indices: ``(d,)`` non-negative overall indices summing to 1 (all zero when no
            output varies).
        per_output: ``(o, d)`` indices of each output, rows normalised to sum 1.
        output_names: the ``o`` output names.
    """

    method: str
    names: list[str]
    indices: np.ndarray
    per_output: np.ndarray
    output_names: list[str]

    def as_dict(self) -> dict[str, float]:
        """``parameter name -> index``."""
        return {n: float(v) for n, v in zip(self.names, self.indices)}

    def ranking(self) -> list[str]:
        """Parameter names, most sensitive first."""
        return [self.names[i] for i in np.argsort(-self.indices, kind="stable")]

    def plot(self, ax: Any = None) -> Any:
        """Bar chart of the indices (see :func:`plot_sensitivity`)."""
        return plot_sensitivity(self, ax=ax)


# ---------------------------------------------------------------- model access
def _bounds(model: Surrogate, bounds: Any) -> np.ndarray:
    b = model.bounds if bounds is None else bounds
    if isinstance(b, Tensor):
        b = b.detach().cpu().numpy()
    b = np.asarray(b, dtype=float)
    if b.ndim != 2 or b.shape[0] != 2:
        raise ValueError(f"bounds must have shape (2, d), got {b.shape}")
    return b


def _output_fn(model: Surrogate, bounds: np.ndarray, include_feasibility: bool):
    """``U (N, d) tensor -> (N, o)`` outputs: objectives, then feasibility log-odds."""
    from botorch_joint.acquisition.loss import predict

    lo = torch.as_tensor(bounds[0], dtype=torch.float64)
    span = torch.as_tensor(bounds[1] - bounds[0], dtype=torch.float64)

    def fn(U: Tensor) -> Tensor:
        pred = predict(model, lo + U * span)
        outs = [pred.obj_mean]
        P = getattr(pred, "feas_prob", None)
        if include_feasibility and P is not None and P.shape[-1]:
            P = P.clamp(_P_CLIP, 1.0 - _P_CLIP)
            outs.append(torch.log(P) - torch.log1p(-P))
        return torch.cat(outs, dim=-1)

    return fn


def _names(d: int, parameter_names: Sequence[str] | None) -> list[str]:
    names = list(parameter_names) if parameter_names is not None else [f"x{i}" for i in range(d)]
    if len(names) != d:
        raise ValueError(f"{len(names)} parameter names for {d} parameters")
    return names


def _output_names(model: Surrogate, o: int, output_names: Sequence[str] | None) -> list[str]:
    if output_names is not None and len(output_names) == o:
        return list(output_names)
    m = int(getattr(model, "num_objectives", o))
    return [f"objective_{i}" for i in range(min(m, o))] + [
        f"feasibility_{j}" for j in range(o - min(m, o))
    ]


def _finish(
    method: str,
    raw: np.ndarray,
    names: list[str],
    output_names: list[str],
) -> SensitivityIndices:
    raw = np.nan_to_num(np.maximum(np.asarray(raw, float), 0.0), nan=0.0, posinf=0.0)
    tot = raw.sum(axis=1, keepdims=True)
    live = tot[:, 0] > 0
    per = np.where(tot > 0, raw / np.where(tot > 0, tot, 1.0), 0.0)
    idx = per[live].mean(axis=0) if live.any() else np.zeros(raw.shape[1])
    return SensitivityIndices(method, names, idx, per, output_names)


# ------------------------------------------------------------------ estimators
def sgrad(
    model: Surrogate,
    bounds: Any = None,
    n: int = 256,
    seed: int = 0,
    parameter_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    include_feasibility: bool = True,
) -> SensitivityIndices:
    """Gradient-based sensitivity of the surrogate.

    For each output, the mean absolute derivative with respect to each parameter
    (in unit-cube coordinates, so parameters of different ranges compare) over ``n``
    scrambled-Sobol' points of the box.

    Args:
        model: fitted surrogate (prediction protocol).
        bounds: ``(2, d)`` box in the problem's units (default ``model.bounds``).
        n: number of sample points.
        seed: seed of the sample.
        parameter_names: ``d`` names (default ``x0, x1, ...``).
        output_names: names of the outputs (objectives then feasibility heads).
        include_feasibility: also analyse the feasibility head.
    """
    from botorch_joint.designs import sobol

    b = _bounds(model, bounds)
    d = b.shape[1]
    fn = _output_fn(model, b, include_feasibility)
    U = torch.as_tensor(sobol(int(n), d, seed), dtype=torch.float64).requires_grad_(True)
    out = fn(U)
    o = out.shape[-1]
    raw = np.zeros((o, d))
    for j in range(o):
        (g,) = torch.autograd.grad(out[:, j].sum(), U, retain_graph=j < o - 1)
        raw[j] = g.abs().mean(dim=0).detach().numpy()
    return _finish("sgrad", raw, _names(d, parameter_names), _output_names(model, o, output_names))


def _salib_problem(d: int) -> dict[str, Any]:
    return {"num_vars": d, "names": [f"x{i}" for i in range(d)], "bounds": [[0.0, 1.0]] * d}


def _predict_np(fn: Any, U: np.ndarray, chunk: int = 4096) -> np.ndarray:
    with torch.no_grad():
        parts = [
            fn(torch.as_tensor(U[s : s + chunk], dtype=torch.float64)).numpy()
            for s in range(0, U.shape[0], chunk)
        ]
    return np.concatenate(parts)


def _salib(
    method: str,
    sample: Callable[[dict[str, Any]], np.ndarray],
    analyze: Callable[[dict[str, Any], np.ndarray, np.ndarray], Any],
    model: Surrogate,
    bounds: Any,
    include_feasibility: bool,
    parameter_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
) -> SensitivityIndices:
    """A SALib method run on the surrogate's outputs over the unit cube of ``bounds``.

    Args:
        method: the name the result carries.
        sample: ``sample(problem) -> U``, the ``(N, d)`` unit-cube points to predict at,
            for the SALib ``problem`` of the box.
        analyze: ``analyze(problem, U, y) -> (d,)`` indices of one output ``y`` (``(N,)``
            predictions at ``U``); outputs that do not vary are not analysed (all zero).
        model: fitted surrogate.
        bounds: ``(2, d)`` box (default ``model.bounds``).
        include_feasibility: also analyse the feasibility head.
        parameter_names: ``d`` names.
        output_names: names of the outputs.
    """
    b = _bounds(model, bounds)
    d = b.shape[1]
    problem = _salib_problem(d)
    U = sample(problem)
    Yo = _predict_np(_output_fn(model, b, include_feasibility), U)
    raw = np.zeros((Yo.shape[1], d))
    # SALib divides by zero for an output without variance where it looks (FAST's
    # frequencies, DGSM's finite differences)
    with np.errstate(all="ignore"):
        for j in range(Yo.shape[1]):
            if np.ptp(Yo[:, j]) > 0:
                raw[j] = np.asarray(analyze(problem, U, Yo[:, j]), dtype=float)
    return _finish(
        method, raw, _names(d, parameter_names), _output_names(model, Yo.shape[1], output_names)
    )


def fast(
    model: Surrogate,
    bounds: Any = None,
    n: int = 128,
    seed: int = 0,
    parameter_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    include_feasibility: bool = True,
    M: int = 4,
) -> SensitivityIndices:
    """SALib extended-FAST total-order indices of the surrogate's outputs.

    Args:
        model: fitted surrogate.
        bounds: ``(2, d)`` box (default ``model.bounds``).
        n: samples per parameter (at least ``4 M^2 + 1``); ``n * d`` model calls.
        seed: sampler seed.
        parameter_names: ``d`` names.
        output_names: names of the outputs.
        include_feasibility: also analyse the feasibility head.
        M: interference parameter of FAST.
    """
    from SALib.analyze import fast as fast_analyze
    from SALib.sample import fast_sampler

    n = max(int(n), 4 * M * M + 1)

    def sample(problem: dict[str, Any]) -> np.ndarray:
        return fast_sampler.sample(problem, n, M=M, seed=seed)

    def analyze(problem: dict[str, Any], U: np.ndarray, y: np.ndarray) -> Any:
        with warnings.catch_warnings():
            # Only ST is used; SALib warns about its bootstrap confidence intervals.
            warnings.simplefilter("ignore", UserWarning)
            res = fast_analyze.analyze(
                problem, y, M=M, num_resamples=2, seed=seed, print_to_console=False
            )
        return res["ST"]

    return _salib(
        "fast", sample, analyze, model, bounds, include_feasibility, parameter_names, output_names
    )


def dgsm(
    model: Surrogate,
    bounds: Any = None,
    n: int = 128,
    seed: int = 0,
    parameter_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    include_feasibility: bool = True,
    delta: float = 0.01,
) -> SensitivityIndices:
    """SALib derivative-based global sensitivity measure (``vi``) of the surrogate.

    Args:
        model: fitted surrogate.
        bounds: ``(2, d)`` box (default ``model.bounds``).
        n: base samples; ``n * (d + 1)`` model calls.
        seed: sampler seed.
        parameter_names: ``d`` names.
        output_names: names of the outputs.
        include_feasibility: also analyse the feasibility head.
        delta: finite-difference step (unit cube).
    """
    from SALib.analyze import dgsm as dgsm_analyze
    from SALib.sample import finite_diff

    def sample(problem: dict[str, Any]) -> np.ndarray:
        return np.clip(finite_diff.sample(problem, int(n), delta=delta, seed=seed), 0.0, 1.0)

    def analyze(problem: dict[str, Any], U: np.ndarray, y: np.ndarray) -> Any:
        res = dgsm_analyze.analyze(
            problem, U, y, num_resamples=2, seed=seed, print_to_console=False
        )
        return res["vi"]

    return _salib(
        "dgsm", sample, analyze, model, bounds, include_feasibility, parameter_names, output_names
    )


def compute(method: str, model: Surrogate, bounds: Any = None, **kwargs: Any) -> SensitivityIndices:
    """Run the estimator called ``method`` (``"sgrad"``, ``"fast"`` or ``"dgsm"``)."""
    funcs = {"sgrad": sgrad, "fast": fast, "dgsm": dgsm}
    if method not in funcs:
        raise ValueError(f"unknown sensitivity method {method!r}; choose one of {METHODS}")
    return funcs[method](model, bounds, **kwargs)


def plot_sensitivity(
    results: SensitivityIndices | Sequence[SensitivityIndices],
    ax: Any = None,
    sort: bool = False,
) -> Any:
    """Bar chart of sensitivity indices, one group of bars per parameter.

    Args:
        results: one result or several (e.g. sgrad, fast and dgsm side by side); all
            must share the parameter names.
        ax: matplotlib axes (default: a new figure).
        sort: order parameters by the first result's index, largest first.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    res = [results] if isinstance(results, SensitivityIndices) else list(results)
    if not res:
        raise ValueError("nothing to plot")
    names = res[0].names
    if any(r.names != names for r in res):
        raise ValueError("all results must have the same parameter names")
    order = np.argsort(-res[0].indices, kind="stable") if sort else np.arange(len(names))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 1.5), 3.5))
    width = 0.8 / len(res)
    x = np.arange(len(names))
    for i, r in enumerate(res):
        ax.bar(x + (i - (len(res) - 1) / 2) * width, r.indices[order], width, label=r.method)
    ax.set_xticks(x)
    ax.set_xticklabels([names[i] for i in order], rotation=45, ha="right")
    ax.set_ylabel("sensitivity index (sums to 1)")
    if len(res) > 1:
        ax.legend()
    ax.figure.tight_layout()
    return ax
