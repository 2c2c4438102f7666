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
# # Ax: a `Client` with `joint_generation_strategy()`
#
# Ax users keep their own loop: configure an experiment, ask for trials, run them,
# report results. `joint_generation_strategy()` swaps Ax's default models for the
# joint surrogate; it reads the objectives and constraints from the experiment's
# optimisation config, so nothing else in the script changes.

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %%
import logging

import matplotlib.pyplot as plt
import numpy as np
from ax import Client, RangeParameterConfig
from ax.utils.common.logger import set_stderr_log_level

import botorch_joint as bj
from botorch_joint.ax import joint_generation_strategy

set_stderr_log_level(logging.WARNING)  # Ax logs every trial at INFO

# %% [markdown]
# ## The experiment
#
# The simulator here is the built-in `constrained-branincurrin` problem, called as a
# plain function `params -> dict of outputs`; any function of that shape works.
# Objectives are minimised (`-name` in Ax's objective string). Ax outcome
# constraints on objectives are objective thresholds, so the problem's reference
# point becomes `name <= value`; constraints are `name >= 0`.

# %%
problem = bj.problems.get("constrained-branincurrin")


def simulate(params: dict[str, float]) -> dict[str, float]:
    return problem.evaluate(params)


client = Client(random_seed=0)
client.configure_experiment(
    parameters=[
        RangeParameterConfig(name=name, parameter_type="float", bounds=(low, high))
        for name, (low, high) in problem.parameters.items()
    ],
    name="branincurrin-demo",
)
client.configure_optimization(
    objective=", ".join(f"-{name}" for name in problem.objective_names),
    outcome_constraints=[
        *(f"{name} <= {ref}" for name, ref in zip(problem.objective_names, problem.ref_point)),
        *(f"{name} >= 0" for name in problem.constraint_names),
    ],
)

# %% [markdown]
# ## The generation strategy
#
# Every argument of `joint_generation_strategy` is optional. The first `n_initial`
# trials come from a space-filling design, the rest from the joint surrogate's
# search, `batch_size` points per search (ask for that many trials at a time).
# `method` picks the surrogate (`"c+o-ftt"` by default; `"gpr"`, `"c+o-resnet"`, ...)
# and `method_options` passes model and search settings, as in `bj.optimize`.

# %%
N_INITIAL = 8 if SMOKE_TEST else 12
BATCH_SIZE = 4 if SMOKE_TEST else 6
N_BATCHES = 2 if SMOKE_TEST else 8

# Smoke mode: smaller networks and a shorter surrogate search (default: None).
SMALL = (
    {
        "model_options": {"ensemble_size": 2, "max_epochs": 20},
        "search_options": {"pop_size": 32, "generations": 3, "cgd_starts": 8, "cgd_steps": 10},
    }
    if SMOKE_TEST
    else None
)

strategy = joint_generation_strategy(
    n_initial=N_INITIAL, batch_size=BATCH_SIZE, seed=0, method_options=SMALL
)
client.set_generation_strategy(strategy)
print(strategy)

# %% [markdown]
# ## The loop
#
# Ask for a batch, evaluate it (here serially; in practice on your cluster), report.
# A simulator that fails is reported with `mark_trial_failed`.


# %%
def run_batch(n: int) -> None:
    for index, params in client.get_next_trials(max_trials=n).items():
        try:
            outputs = simulate(params)
        except Exception:
            client.mark_trial_failed(index)
            continue
        client.complete_trial(index, raw_data=outputs)


run_batch(N_INITIAL)
for _ in range(N_BATCHES):
    run_batch(BATCH_SIZE)

df = client.summarize()
df.tail()

# %% [markdown]
# ## Results
#
# Feasibility per trial batch, and the observed feasible Pareto front.

# %%
done = df[df["trial_status"] == "COMPLETED"]
Y = done[problem.objective_names].to_numpy(dtype=float)
C = done[problem.constraint_names].to_numpy(dtype=float)
feasible = (C >= 0).all(axis=1)
print(f"{len(done)} trials, {feasible.sum()} feasible")

front = Y[feasible][bj.metrics.non_dominated(Y[feasible])] if feasible.any() else Y[:0]
print("feasible hypervolume:", bj.metrics.hypervolume(front, problem.ref_point))

fig, ax = plt.subplots(figsize=(5.5, 4))
ax.scatter(*Y[~feasible].T, s=10, c="0.75", label="infeasible")
ax.scatter(*Y[feasible].T, s=14, c="C0", label="feasible")
if len(front):
    front = front[np.argsort(front[:, 0])]
    ax.plot(*front.T, "o-", c="C1", ms=5, label="Pareto front")
ax.set_xlabel(problem.objective_names[0])
ax.set_ylabel(problem.objective_names[1])
ax.legend()
plt.show()

# %% [markdown]
# `result_from_client` reads the client's experiment with the package's conventions and
# returns the same `Result` that `bj.optimize` returns, so its summary, hypervolume
# history and plots work on an Ax run too. (`result_from_experiment` does the same for
# an Ax `Experiment`, e.g. one loaded from a file.)

# %%
from botorch_joint.ax import result_from_client

result = result_from_client(client)
print(result.summary())
fig = bj.plotting.plot_run(result)
plt.show()

# %% [markdown]
# Ax's own view of the front (here from the observed data rather than the model):

# %%
for _params, outcomes, index, _arm in client.get_pareto_frontier(use_model_predictions=False):
    print(
        index,
        {k: round(float(v[0] if isinstance(v, tuple) else v), 3) for k, v in outcomes.items()},
    )
