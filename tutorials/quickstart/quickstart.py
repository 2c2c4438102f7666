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
# # Quickstart: a constrained multi-objective run
#
# This notebook optimises a built-in constrained two-objective problem with
# `bj.optimize`, then looks at the result: the evaluations as a table, the feasible
# Pareto front and the hypervolume as the run went on, next to a space-filling
# baseline with the same budget.

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %% [markdown]
# ## A built-in problem
#
# A `Problem` bundles parameters with box bounds, **minimised** objectives,
# constraints (a value `c` is satisfied iff `c >= 0`) and the simulator. The
# built-ins are listed by `bj.problems.names()`. `constrained-branincurrin` has two
# parameters, two objectives and one constraint, and evaluates in microseconds.

# %%
import matplotlib.pyplot as plt
import numpy as np

import botorch_joint as bj

print(bj.problems.names())
problem = bj.problems.get("constrained-branincurrin")
print(problem)
print("bounds:", problem.parameters)
print("reference point for the hypervolume:", problem.ref_point)

# %% [markdown]
# ## Optimise
#
# `method="c+o-ftt"` is the joint network surrogate (an FT-Transformer trunk with an
# objective head and a constraint head). `budget` counts every true evaluation,
# initial design included; each epoch after the initial design evaluates
# `batch_size` new points. `method_options` passes settings to the method; here it
# only shrinks the networks and the search in smoke mode.

# %%
BUDGET = 24 if SMOKE_TEST else 100
BATCH_SIZE = 8 if SMOKE_TEST else 10
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
print(result.summary())

# %% [markdown]
# Every evaluation is kept, in order: `result.X` `(n, d)`, `result.Y` `(n, m)`,
# `result.C` `(n, k)`, with `result.feasible`, `result.failed` and `result.epoch`
# (`0` for the initial design). `to_dataframe()` puts them in one table with the
# problem's names as columns.

# %%
df = result.to_dataframe()
df.head()

# %%
df.groupby("epoch")[["feasible", "failed"]].mean()

# %% [markdown]
# ## The Pareto front
#
# `result.pareto()` returns the feasible non-dominated points `(X, Y)`. The grey
# points violate the constraint; the black line is a sample of the true Pareto front,
# which this problem knows.

# %%
X_front, Y_front = result.pareto()
ok = ~result.failed

fig, ax = plt.subplots(figsize=(5.5, 4))
ax.scatter(*result.Y[ok & ~result.feasible].T, s=10, c="0.75", label="infeasible")
ax.scatter(*result.Y[result.feasible].T, s=14, c="C0", label="feasible")
order = np.argsort(Y_front[:, 0])
ax.plot(*Y_front[order].T, "o-", c="C1", ms=5, label="found Pareto front")
# A sample of the true front (computed once: it takes a few seconds).
true_front = problem.pareto_front(200) if problem.pareto_front is not None else None
if true_front is not None:
    true_front = true_front[np.argsort(true_front[:, 0])]
    ax.plot(*true_front.T, c="k", lw=1, label="true Pareto front")
ax.set_xlabel(problem.objective_names[0])
ax.set_ylabel(problem.objective_names[1])
ax.legend()
plt.show()

# %% [markdown]
# ## Hypervolume over evaluations
#
# The hypervolume of the feasible points, relative to the problem's reference point,
# after every evaluation. For comparison, the same budget spent on a scrambled Sobol'
# design (`method="sobol"`, no surrogate).

# %%
baseline = bj.optimize(problem, method="sobol", budget=BUDGET, batch_size=BATCH_SIZE, seed=0)

fig, ax = plt.subplots(figsize=(5.5, 3.5))
for run in (result, baseline):
    hv = run.hypervolume_history()
    ax.plot(np.arange(1, len(hv) + 1), hv, label=run.method)
n0 = int(np.sum(result.epoch == 0))
ax.axvline(n0 + 0.5, c="0.7", ls="--", lw=1, label="end of initial design")
ax.set_xlabel("evaluations")
ax.set_ylabel("feasible hypervolume")
ax.legend()
plt.show()

# %% [markdown]
# The same three views (hypervolume, feasible and failed share per epoch, objective
# space) are one call away; the command line writes this figure as `hv.png`.

# %%
fig = bj.plotting.plot_run(result)
plt.show()

# %% [markdown]
# ## Metrics
#
# `bj.metrics` works on arrays of minimised objectives; dropping infeasible rows is
# the caller's job (`result.pareto()` already did).

# %%
ref = problem.ref_point
print("hypervolume  c+o-ftt:", bj.metrics.hypervolume(Y_front, ref))
print("hypervolume  sobol:  ", bj.metrics.hypervolume(baseline.pareto()[1], ref))
if true_front is not None:
    print("IGD          c+o-ftt:", bj.metrics.igd(Y_front, true_front))
    print("IGD          sobol:  ", bj.metrics.igd(baseline.pareto()[1], true_front))

# %% [markdown]
# ## Next steps
#
# * Your own simulator: build a `bj.Problem(...)` (see the user guide and the HPC
#   tutorial).
# * Longer runs: pass `run_dir=` to checkpoint after every batch and `resume=True`
#   to continue after an interruption.
# * The same model inside BoTorch or Ax: the `botorch_dropin` and `ax_client`
#   tutorials.
