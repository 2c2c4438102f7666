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
# # Neuron fitting: a Hodgkin-Huxley cell with constraints
#
# `hh-cell` fits 11 conductances, reversal potentials and kinetic parameters of a
# single-compartment Hodgkin-Huxley neuron to current-clamp features of a reference
# cell. The objectives are feature errors (spike count, latency, AP shape, AHP
# depth); the constraints are electrophysiological sanity checks (resting potential,
# input resistance, membrane time constant, silent at rest, monotonic F-I curve,
# first ISI, adaptation). Fewer than one random parameter set in a hundred passes
# them all, so finding feasible cells at all is the hard part.

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %%
import importlib.util

import matplotlib.pyplot as plt
import numpy as np

import botorch_joint as bj
from botorch_joint.problems.neuro import hh_cell

problem = bj.problems.get("hh-cell")
print(problem)
print("objectives: ", problem.objective_names)
print("constraints:", problem.constraint_names)

# %% [markdown]
# ## The reference cell
#
# `hh_cell.simulate` returns the voltage traces of the protocol: a baseline, then one
# step per current (a hyperpolarising step and increasing depolarising steps).

# %%
truth = problem.metadata["ground_truth"]
currents = problem.metadata["currents_na"]
t, V_truth = hh_cell.simulate(truth, currents)

fig, axes = plt.subplots(1, len(currents), figsize=(3 * len(currents), 2.6), sharey=True)
for s, ax in enumerate(axes):
    ax.plot(t, V_truth[0, s], c="k", lw=0.8)
    ax.set_title(f"{currents[s]:+.2f} nA")
    ax.set_xlabel("t (ms)")
axes[0].set_ylabel("V (mV)")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Optimise with the joint surrogate
#
# The same budget is spent twice: on the joint network (`c+o-ftt`) and on a
# stratified Latin hypercube (`slh`, no model).

# %%
BUDGET = 40 if SMOKE_TEST else 400
BATCH_SIZE = 10 if SMOKE_TEST else 40
# Smoke mode: smaller networks and a shorter surrogate search (default: None).
SMALL = (
    {
        "model_options": {"ensemble_size": 2, "max_epochs": 20},
        "search_options": {"pop_size": 32, "generations": 3, "cgd_starts": 8, "cgd_steps": 10},
    }
    if SMOKE_TEST
    else None
)

result = bj.optimize(
    problem,
    method="c+o-ftt",
    budget=BUDGET,
    batch_size=BATCH_SIZE,
    seed=0,
    method_options=SMALL,
)
baseline = bj.optimize(problem, method="slh", budget=BUDGET, batch_size=BATCH_SIZE, seed=0)
print(result.summary())
print(baseline.summary())

# %% [markdown]
# ## Feasibility over epochs
#
# Epoch 0 is the initial design, so both methods start alike; after that the joint
# surrogate's constraint head steers the search into the feasible region.

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
for shift, run in ((-0.2, result), (0.2, baseline)):
    epochs = np.unique(run.epoch)
    share = [run.feasible[run.epoch == e].mean() for e in epochs]
    ax.bar(epochs + shift, share, width=0.4, label=run.method)
ax.set_xlabel("epoch")
ax.set_ylabel("feasible share of the batch")
ax.legend()
plt.show()

# %% [markdown]
# ## Voltage traces before and after
#
# "Before" is the best point of the initial design, "after" the best point of the
# whole run, both by the sum of the objectives among feasible points (or among all
# points if none is feasible).


# %%
def best_index(run, mask):
    score = np.where(~run.failed, np.nansum(run.Y, axis=1), np.inf)
    feasible = run.feasible & mask
    pool = feasible if feasible.any() else mask
    return int(np.argmin(np.where(pool, score, np.inf)))


before = best_index(result, result.epoch == 0)
after = best_index(result, np.ones(len(result), bool))
_, V_before = hh_cell.simulate(result.X[before], currents)
_, V_after = hh_cell.simulate(result.X[after], currents)

shown = [0, len(currents) - 1]  # the hyperpolarising and the strongest step
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
for ax, s in zip(axes, shown):
    ax.plot(t, V_truth[0, s], c="k", lw=1.2, label="reference")
    ax.plot(t, V_before[0, s], c="C3", lw=0.8, label=f"before (eval {before})")
    ax.plot(t, V_after[0, s], c="C0", lw=0.8, label=f"after (eval {after})")
    ax.set_title(f"{currents[s]:+.2f} nA step")
    ax.set_xlabel("t (ms)")
axes[0].set_ylabel("V (mV)")
axes[1].legend(fontsize=8)
fig.tight_layout()
plt.show()

print("objectives before:", np.round(result.Y[before], 3), "feasible:", result.feasible[before])
print("objectives after: ", np.round(result.Y[after], 3), "feasible:", result.feasible[after])

# %% [markdown]
# ## Parameter sensitivities
#
# The joint surrogate's input gradients give a sensitivity for every parameter; the
# search scales its perturbations by them. Here a surrogate is fitted on the run's
# data and the sensitivities are drawn as bars.

# %%
import torch

from botorch_joint.models import JointSurrogate, fit_model
from botorch_joint.sensitivity import dgsm, fast, plot_sensitivity, sgrad

bounds = torch.tensor(problem.bounds)
SMALL_MODEL = dict(ensemble_size=2, max_epochs=20) if SMOKE_TEST else {}
model = fit_model(
    JointSurrogate(
        torch.tensor(result.X),
        torch.tensor(result.Y),
        torch.tensor(result.C),
        bounds=bounds,
        seed=0,
        **SMALL_MODEL,
    )
)
names = problem.parameter_names
outputs = problem.objective_names + problem.constraint_names
indices = [sgrad(model, bounds, parameter_names=names, output_names=outputs)]
if not SMOKE_TEST:  # SALib's estimators need many more surrogate calls
    indices += [
        fast(model, bounds, parameter_names=names, output_names=outputs),
        dgsm(model, bounds, parameter_names=names, output_names=outputs),
    ]
for res in indices:
    print(f"{res.method:6s}", {name: round(v, 3) for name, v in res.as_dict().items()})

ax = plot_sensitivity(indices, sort=True)
plt.show()

# %% [markdown]
# The overall index averages one row per model output (each row normalised to sum
# one), so objectives and constraints weigh alike. The rows show which parameters
# matter for which feature:

# %%
sg = indices[0]
fig, ax = plt.subplots(figsize=(8, 4))
image = ax.imshow(sg.per_output, cmap="viridis", aspect="auto")
ax.set_xticks(range(len(sg.names)), sg.names, rotation=45, ha="right")
ax.set_yticks(range(len(sg.output_names)), sg.output_names)
fig.colorbar(image, label="share of the output's sensitivity")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## `hh-neuron` (if NEURON is installed)
#
# `hh-neuron` is the same kind of fit on a Hodgkin-Huxley soma simulated by NEURON,
# with features extracted by eFEL (`pip install -e ".[neuron]"`). Each
# evaluation runs NEURON, so the run is shorter. The cells below are skipped when
# NEURON is not installed.

# %% tags=["needs-neuron"]
HAVE_NEURON = importlib.util.find_spec("neuron") is not None
if not HAVE_NEURON:
    print("NEURON is not installed: skipping hh-neuron")
else:
    neuron_problem = bj.problems.get("hh-neuron")
    print(neuron_problem)
    neuron_result = bj.optimize(
        neuron_problem,
        method="c+o-ftt",
        budget=8 if SMOKE_TEST else 120,
        batch_size=4 if SMOKE_TEST else 12,
        seed=0,
        method_options=SMALL,
    )
    print(neuron_result.summary())
    fig = bj.plotting.plot_run(neuron_result)
    plt.show()

# %% tags=["needs-neuron"]
if HAVE_NEURON:
    from botorch_joint.problems.neuro import hh_neuron

    best = best_index(neuron_result, np.ones(len(neuron_result), bool))
    sweeps = neuron_problem.metadata["currents_na"]
    t_n, V_ref = hh_neuron.simulate(neuron_problem.metadata["ground_truth"], sweeps)
    _, V_best = hh_neuron.simulate(neuron_problem.to_dict(neuron_result.X[best]), sweeps)
    fig, axes = plt.subplots(1, len(sweeps), figsize=(4 * len(sweeps), 2.8), sharey=True)
    for s, ax in enumerate(axes):
        ax.plot(t_n, V_ref[s], c="k", lw=1.2, label="reference")
        ax.plot(t_n, V_best[s], c="C0", lw=0.8, label=f"best (eval {best})")
        ax.set_title(f"{sweeps[s]:.1f} nA")
        ax.set_xlabel("t (ms)")
    axes[0].set_ylabel("V (mV)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    plt.show()
