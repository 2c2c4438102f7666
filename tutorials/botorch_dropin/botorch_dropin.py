# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Drop-in BoTorch model: `JointSurrogate` with qLogNEHVI
#
# `JointSurrogate` is an ordinary `botorch.models.model.Model`: its posterior has the
# `m` predicted objectives followed by the `k` predicted probabilities that each
# constraint is satisfied. This notebook fits it on a design, uses it unchanged in
# BoTorch's `qLogNoisyExpectedHypervolumeImprovement` with `optimize_acqf` (the
# feasibility outputs act as the constraints), and compares its predictions with
# those of `GPR`, one Gaussian process per outcome.

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from botorch.acquisition.multi_objective.logei import (
    qLogNoisyExpectedHypervolumeImprovement,
)
from botorch.acquisition.multi_objective.objective import GenericMCMultiOutputObjective
from botorch.optim import optimize_acqf

import botorch_joint as bj
from botorch_joint.models import GPR, JointSurrogate, fit_model

_ = torch.manual_seed(0)  # optimize_acqf draws its random restarts from torch's RNG

# %% [markdown]
# ## Training data
#
# A space-filling design on `constrained-branincurrin` (2 parameters, objectives
# `branin` and `currin`, one constraint `disk`): `problem.sample(n, seed)` evaluates
# a symmetric Latin hypercube and returns `X` `(n, d)`, `Y` `(n, m)` and `C` `(n, k)`
# as NumPy arrays. Inputs stay in the problem's own units; `bounds` (`2 x d`) tells
# the model the box.

# %%
problem = bj.problems.get("constrained-branincurrin")
m, k = problem.num_objectives, problem.num_constraints

N_TRAIN = 24 if SMOKE_TEST else 60
# Y: objectives (minimised); C: constraint values (feasible iff >= 0)
X, Y, C = problem.sample(N_TRAIN, seed=0)

train_X = torch.tensor(X, dtype=torch.double)
train_Y = torch.tensor(Y, dtype=torch.double)
train_C = torch.tensor(C, dtype=torch.double)
bounds = torch.tensor(problem.bounds, dtype=torch.double)
print(f"{N_TRAIN} points, {int((C >= 0).all(axis=1).sum())} feasible")

# %% [markdown]
# ## Fit the joint surrogate
#
# `fit_model` trains any of the package's models and returns it. The ensemble's
# members are the posterior's samples, so the spread between members is the model's
# uncertainty.

# %%
SMALL = dict(ensemble_size=2, max_epochs=30) if SMOKE_TEST else {}
model = fit_model(
    JointSurrogate(train_X, train_Y, train_C, backbone="ftt", bounds=bounds, seed=0, **SMALL)
)
print(model)

with torch.no_grad():
    posterior = model.posterior(train_X[:4])
print("posterior mean shape:", tuple(posterior.mean.shape), "= (n, m + k)")
print("objectives:\n", posterior.mean[:, :m])
print("P(disk >= 0):\n", posterior.mean[:, m:])

# %% [markdown]
# ## qLogNEHVI + `optimize_acqf`
#
# BoTorch maximises, our objectives are minimised: the multi-output objective negates
# them, and so does the reference point. BoTorch's outcome constraints are callables
# that are feasible when `<= 0`, so `0.5 - P(feasible)` asks for a predicted
# feasibility of at least one half.

# %%
objective = GenericMCMultiOutputObjective(lambda Z, X=None: -Z[..., :m])
constraints = [lambda Z, j=j: 0.5 - Z[..., m + j] for j in range(k)]
ref_point = (-torch.tensor(problem.ref_point, dtype=torch.double)).tolist()

acqf = qLogNoisyExpectedHypervolumeImprovement(
    model=model,
    ref_point=ref_point,
    X_baseline=train_X,
    objective=objective,
    constraints=constraints,
    prune_baseline=True,
)
Q = 4
candidates, value = optimize_acqf(
    acqf,
    bounds=bounds,
    q=Q,
    num_restarts=2 if SMOKE_TEST else 10,
    raw_samples=32 if SMOKE_TEST else 256,
)
print("candidates (problem units):\n", candidates)

# %% [markdown]
# Evaluate the candidates with the true simulator and compare with what the model
# predicted.

# %%
new = problem.evaluate_batch(candidates.numpy())
with torch.no_grad():
    predicted = model.posterior(candidates).mean
for i, e in enumerate(new):
    print(
        f"candidate {i}: true Y {np.round(e.y, 2)}, feasible {bool((e.c >= 0).all())}; "
        f"predicted Y {np.round(predicted[i, :m].numpy(), 2)}, "
        f"P(feasible) {np.round(predicted[i, m:].numpy(), 2)}"
    )

# %% [markdown]
# ## Compare predictions with a GP
#
# `GPR` fits one Gaussian process per outcome; its posterior has the `m` objectives
# followed by the `k` constraint *values* (feasible iff `>= 0`), not probabilities.
# Both models predict a held-out Sobol' set: objectives by normalised RMSE,
# feasibility by the share of points classified correctly.

# %%
gp = fit_model(GPR(train_X, train_Y, train_C, bounds=bounds))

N_TEST = 64 if SMOKE_TEST else 256
X_test, Y_test, C_test = problem.sample(N_TEST, seed=1, design="sobol")
feasible_test = (C_test >= 0).all(axis=1)

with torch.no_grad():
    joint_mean = model.posterior(torch.tensor(X_test)).mean.numpy()
    gp_mean = gp.posterior(torch.tensor(X_test)).mean.numpy()

joint_feasible = (joint_mean[:, m:] >= 0.5).all(axis=1)
gp_feasible = (gp_mean[:, m:] >= 0.0).all(axis=1)
for name, mean, feas in (
    ("JointSurrogate", joint_mean, joint_feasible),
    ("GPR", gp_mean, gp_feasible),
):
    err = bj.metrics.nrmse(mean[:, :m], Y_test)
    print(
        f"{name:15s} NRMSE per objective {np.round(err, 3)}, "
        f"feasibility accuracy {np.mean(feas == feasible_test):.0%}"
    )

# %%
fig, axes = plt.subplots(1, m, figsize=(4.5 * m, 4))
for j, ax in enumerate(np.atleast_1d(axes)):
    ax.scatter(Y_test[:, j], joint_mean[:, j], s=10, label="JointSurrogate")
    ax.scatter(Y_test[:, j], gp_mean[:, j], s=10, marker="x", label="GPR")
    lims = [Y_test[:, j].min(), Y_test[:, j].max()]
    ax.plot(lims, lims, c="k", lw=1)
    ax.set_xlabel(f"true {problem.objective_names[j]}")
    ax.set_ylabel("predicted")
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# On a smooth two-parameter problem with a few dozen points a Gaussian process is hard
# to beat, and in smoke mode the networks are tiny. The networks pay off with more
# parameters, more data and pass/fail constraints whose feasible region has sharp
# edges; the surrogate-accuracy page of the documentation has the measurements.
#
# The same recipe works with `MEGP` (a multi-output GP) and with
# `backbone="resnet"`; `bj.optimize(problem, method="c+o-ftt")` runs this model
# inside the package's own search (constraint-gradient descent and
# sensitivity-weighted perturbation) instead of qLogNEHVI.
