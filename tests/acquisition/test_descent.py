"""Constraint-gradient descent on a known analytic classifier."""

from __future__ import annotations

import numpy as np
import torch
from acq_models import DiscModel

from botorch_joint.acquisition import ConstraintGradientDescent


def _starts(model: DiscModel, n: int, seed: int = 0) -> torch.Tensor:
    # Far from the feasible disc around (0.8, 0.8): the lower-left part of the cube.
    U = torch.as_tensor(np.random.default_rng(seed).random((n, 3)) * 0.4)
    return model.bounds[0] + U * (model.bounds[1] - model.bounds[0])


def test_cgd_moves_toward_feasibility_and_stays_in_bounds(disc_model):
    X0 = _starts(disc_model, 12)
    cgd = ConstraintGradientDescent(disc_model, steps=40, lr=0.06)
    trace = cgd.run(X0)
    p0 = disc_model.p_feasible(trace.X[0])
    p1 = disc_model.p_feasible(trace.X[-1])
    assert p0.max() < 0.01
    assert p1.mean() > 0.5 and torch.all(p1 > p0)
    # the loss decreases along every trace
    assert torch.all(trace.loss[-1] < trace.loss[0])
    lo, hi = disc_model.bounds
    assert torch.all(trace.X >= lo - 1e-12) and torch.all(trace.X <= hi + 1e-12)


def test_trace_records_every_step(disc_model):
    cgd = ConstraintGradientDescent(disc_model, steps=7, lr=0.05)
    trace = cgd.run(_starts(disc_model, 5))
    assert trace.U.shape == (8, 5, 3) and trace.obj.shape == (8, 5, 2)
    assert trace.log_pfeas.shape == (8, 5, 1) and trace.loss.shape == (8, 5)
    flat = trace.flat()
    assert flat["X"].shape == (40, 3) and trace.num_samples == 40
    # consecutive iterates differ: each step is a new sample
    assert torch.all((trace.U[1:] - trace.U[:-1]).abs().sum(-1) > 0)


def test_projection_keeps_points_in_bounds_when_pushed_out():
    # Feasible disc centred outside the box: the gradient pushes against the faces.
    model = DiscModel(centre=(1.3, 1.3), radius=0.1)
    cgd = ConstraintGradientDescent(model, steps=30, lr=0.1)
    trace = cgd.run(_starts(model, 6))
    assert torch.all(trace.U >= 0) and torch.all(trace.U <= 1)
    assert torch.all(trace.U[-1, :, :2] > 0.9)  # pressed into the nearest corner


def test_select_distinct_feasible_and_avoids_evaluated(disc_model):
    X0 = _starts(disc_model, 16)
    cgd = ConstraintGradientDescent(disc_model, steps=40, lr=0.06)
    trace = cgd.run(X0)
    X, idx = cgd.select(trace, 8, X_avoid=trace.X[-1, :2].numpy())
    assert X.shape == (8, 3)
    assert len({tuple(np.round(x, 9)) for x in X}) == 8
    P = disc_model.p_feasible(torch.as_tensor(X))
    assert torch.all(P >= 0.5)
    flat = trace.flat()
    assert np.all(np.exp(flat["log_pfeas_total"][idx]) >= 0.5)
    avoid = trace.X[-1, :2].numpy()
    assert np.min(np.linalg.norm(X[:, None] - avoid[None], axis=-1)) > 0
    # diversity across objectives: the batch spans a range of f1
    obj = flat["obj"][idx]
    assert obj[:, 0].max() - obj[:, 0].min() > 0.1


def test_without_feasibility_ignores_classifier(disc_model):
    X0 = _starts(disc_model, 6)
    cgd = ConstraintGradientDescent(disc_model, steps=10, lr=0.03, use_feasibility=False)
    trace = cgd.run(X0, weights=torch.tensor([1.0, 0.0]))
    assert trace.log_pfeas is None
    # weight on f1 = u0 only: u0 decreases, whatever the classifier says
    assert torch.all(trace.U[-1, :, 0] <= trace.U[0, :, 0])
