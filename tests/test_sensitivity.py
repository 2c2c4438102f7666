"""Sensitivity indices of a surrogate: sgrad, FAST and DGSM."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import numpy as np
import pytest
import torch

from botorch_joint.sensitivity import compute, dgsm, fast, plot_sensitivity, sgrad

matplotlib.use("Agg")


@dataclass
class _Pred:
    obj_mean: torch.Tensor
    obj_std: torch.Tensor | None
    feas_prob: torch.Tensor | None


class IgnoresX2:
    """Outputs depend strongly on x0, weakly on x1 and not at all on x2."""

    num_objectives = 2
    num_constraints = 1

    def __init__(self) -> None:
        self.bounds = torch.tensor([[0.0, -1.0, 10.0], [2.0, 1.0, 20.0]], dtype=torch.float64)

    def predict_outcomes(self, X: torch.Tensor) -> _Pred:
        u = (X - self.bounds[0]) / (self.bounds[1] - self.bounds[0])
        f1 = 3.0 * u[..., 0] ** 2 + 0.3 * u[..., 1]
        f2 = torch.sin(3.0 * u[..., 0]) + 0.2 * u[..., 1] ** 2
        p = torch.sigmoid(6.0 * (u[..., 0] - 0.5) + 0.5 * u[..., 1])
        return _Pred(torch.stack([f1, f2], -1), None, p.unsqueeze(-1))


NAMES = ["gna", "gk", "unused"]


@pytest.mark.parametrize("method", ["sgrad", "fast", "dgsm"])
def test_ignored_parameter_ranks_last(method):
    res = compute(method, IgnoresX2(), parameter_names=NAMES, n=128)
    assert res.names == NAMES and res.method == method
    assert res.ranking() == ["gna", "gk", "unused"]
    assert res.indices[2] < 0.02
    assert res.indices.sum() == pytest.approx(1.0)
    assert res.per_output.shape == (3, 3)  # two objectives and one feasibility head
    assert set(res.as_dict()) == set(NAMES)


def test_sgrad_without_feasibility_and_default_names():
    res = sgrad(IgnoresX2(), n=64, include_feasibility=False)
    assert res.per_output.shape == (2, 3)
    assert res.names == ["x0", "x1", "x2"]
    assert res.output_names == ["objective_0", "objective_1"]


def test_constant_model_gives_zero_indices():
    class Flat(IgnoresX2):
        def predict_outcomes(self, X):
            return _Pred(torch.zeros(*X.shape[:-1], 2, dtype=X.dtype) + 0 * X[..., :2], None, None)

    for fn in (sgrad, fast, dgsm):
        res = fn(Flat(), n=70)
        assert np.all(res.indices == 0)


def test_plot_bars():
    model = IgnoresX2()
    results = [sgrad(model, n=64, parameter_names=NAMES), dgsm(model, n=32, parameter_names=NAMES)]
    ax = plot_sensitivity(results, sort=True)
    assert len(ax.patches) == 6
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "gna"
    ax2 = results[0].plot()
    assert len(ax2.patches) == 3
