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
# # From BluePyOpt to botorch-joint
#
# You have a cell model set up in BluePyOpt: a NEURON cell, step protocols, eFEL
# features scored in standard deviations from their targets, and a `CellEvaluator`
# that DEAP's IBEA or CMA-ES would optimise. This notebook hands that evaluator to
# botorch-joint in one line, runs the joint surrogate on it, looks at the Pareto set
# and draws the voltage traces of the chosen model against the target. The last
# section runs the same script on MPI ranks.
#
# Needs the `bluepyopt` extra: `pip install "botorch-joint[bluepyopt]"` (BluePyOpt,
# NEURON and eFEL; NEURON's built-in `hh` mechanism, nothing to compile).

# %%
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")

# %% [markdown]
# ## A BluePyOpt evaluator
#
# BluePyOpt ships a small example, `bluepyopt.ephys.examples.simplecell`: one
# compartment with the `hh` mechanism, two free conductances (`gnabar_hh`,
# `gkbar_hh`) and a 0.01 nA current step scored by eFEL's spike count.

# %%
import matplotlib.pyplot as plt
import numpy as np
from bluepyopt.ephys.examples.simplecell import SimpleCell

import botorch_joint as bj

shipped = SimpleCell().cell_evaluator
print([(p.name, p.bounds) for p in shipped.params])
print([o.name for o in shipped.objectives])

# %% [markdown]
# One line makes it a botorch-joint `Problem`: the evaluator's free parameters and
# their bounds become the parameters, its objectives (feature scores, minimised) the
# objectives.

# %%
problem = bj.problems.from_bluepyopt(shipped)
print(problem)
print(problem.parameters)
print(problem.evaluate({"gnabar_hh": 0.1, "gkbar_hh": 0.03}))  # the example's own cell

# %% [markdown]
# ## A richer evaluator, and what a modeller asks for
#
# The example scores one step. `bluepyopt_models.simplecell_evaluator` builds the
# evaluator BluePyOpt's simplecell tutorial uses, from the same cell: spike counts on
# two steps (0.01 and 0.05 nA, targets 1 and 5 spikes); `ap_amplitude=True` adds
# eFEL's `AP_amplitude` on both steps, with targets from the example's parameters.
# Any `CellEvaluator` of yours goes in the same way.
#
# `threshold=3.0` adds the constraint a modeller would state: every feature within 3
# standard deviations, one constraint `c = 3 - score` per objective (`c >= 0`
# passes). It also sets the hypervolume reference point to 3 per objective.

# %%
from botorch_joint.problems.neuro import bluepyopt as bpo
from botorch_joint.problems.neuro import bluepyopt_models

evaluator = bluepyopt_models.simplecell_evaluator(ap_amplitude=True)
problem = bj.problems.from_bluepyopt(evaluator, threshold=3.0)
print(problem)

target = {"gnabar_hh": 0.1, "gkbar_hh": 0.03}  # the cell the targets came from
print(problem.evaluate(target))

# %% [markdown]
# ### When eFEL cannot compute a feature
#
# A cell that stays silent at 0.01 nA has no action potential, so eFEL has no AP
# amplitude for it. BluePyOpt then scores the feature 250 (its penalty), and an
# optimiser that regresses the scores would learn a cliff of height 250. Here such an
# evaluation is a *failed evaluation* (`on_failure="fail"`, the default): recorded,
# counted as infeasible, never a regression target. With `on_failure="infeasible"`
# it is kept instead, with a moderate value for the failed objectives and a violated
# constraint `features_computed`.

# %%
silent = {"gnabar_hh": 0.07, "gkbar_hh": 0.05}
print("BluePyOpt:", evaluator.evaluate_with_dicts(dict(silent)))

ev = problem.evaluate_point(np.array([silent[n] for n in problem.parameter_names]))
print("failed:", ev.failed, "|", ev.error)

kept = bj.problems.from_bluepyopt(evaluator, threshold=3.0, on_failure="infeasible")
print(kept.evaluate(silent))

# %% [markdown]
# ## Optimise
#
# `method="c+o-ftt"` is the joint network surrogate: one network predicts the scores
# and whether each constraint passes, and its search moves candidates towards
# feasible, low-score cells. Each epoch evaluates `batch_size` cells (BluePyOpt's
# `offspring_size`).

# %%
BUDGET = 16 if SMOKE_TEST else 120
BATCH_SIZE = 4 if SMOKE_TEST else 12
# Smoke mode: smaller networks and a shorter surrogate search (default: None).
SMALL = (
    {
        "model_options": {"ensemble_size": 1, "max_epochs": 10},
        "search_options": {"pop_size": 16, "generations": 2, "cgd_starts": 4, "cgd_steps": 4},
    }
    if SMOKE_TEST
    else None
)

result = bj.optimize(
    problem,
    method="c+o-ftt",
    budget=BUDGET,
    n_initial=8 if SMOKE_TEST else None,
    batch_size=BATCH_SIZE,
    seed=0,
    method_options=SMALL,
)
print(result.summary())

# %% [markdown]
# ## The Pareto set
#
# `result.pareto()` holds the feasible cells that no other feasible cell beats on
# every score. BluePyOpt users usually pick one by the sum of the scores (the
# hall of fame's order); that sum is one more column here.

# %%
import pandas as pd

X_front, Y_front = result.pareto()
front = pd.DataFrame(
    np.hstack([X_front, Y_front]), columns=problem.parameter_names + problem.objective_names
)
front["score_sum"] = Y_front.sum(axis=1)
print(f"{int(result.feasible.sum())} feasible of {len(result)}; {len(front)} on the Pareto set")
front.sort_values("score_sum")

# %%
fig, ax = plt.subplots(figsize=(5, 3.6))
ok = ~result.failed
ax.scatter(
    result.Y[ok, 0] + result.Y[ok, 1],
    result.Y[ok, 2] + result.Y[ok, 3],
    s=12,
    c=np.where(result.feasible[ok], "C0", "0.7"),
    label="evaluated (blue: feasible)",
)
if len(Y_front):
    ax.scatter(
        Y_front[:, 0] + Y_front[:, 1],
        Y_front[:, 2] + Y_front[:, 3],
        s=40,
        facecolors="none",
        edgecolors="C3",
        label="Pareto set",
    )
ax.set_xlabel("spike-count scores (SD)")
ax.set_ylabel("AP-amplitude scores (SD)")
ax.set_xscale("symlog")
ax.set_yscale("symlog")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The chosen model against the target
#
# The chosen cell is the feasible one with the lowest score sum (or the best
# non-failed one if the run found nothing feasible, as a smoke-test run may).
# `bpo.run_protocols` simulates a parameter set through the same BluePyOpt protocols
# and returns BluePyOpt's responses, keyed by recording name.

# %%
score_sum = np.where(result.failed, np.inf, np.nansum(result.Y, axis=1))
pool = result.feasible if result.feasible.any() else ~result.failed
best = int(np.argmin(np.where(pool, score_sum, np.inf))) if pool.any() else 0
chosen = problem.to_dict(result.X[best])
print("chosen:", {k: round(v, 4) for k, v in chosen.items()}, "score sum", score_sum[best])

target_traces = bpo.run_protocols(problem, target)
chosen_traces = bpo.run_protocols(problem, chosen)
fig, axes = plt.subplots(1, len(target_traces), figsize=(10, 3.2), sharey=True)
for ax, name in zip(axes, sorted(target_traces)):
    ref, fit = target_traces[name], chosen_traces[name]
    ax.plot(ref["time"], ref["voltage"], c="k", lw=1.2, label="target")
    ax.plot(fit["time"], fit["voltage"], c="C0", lw=0.9, label=f"chosen (eval {best})")
    ax.set_title(name)
    ax.set_xlabel("t (ms)")
axes[0].set_ylabel("V (mV)")
axes[-1].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The same script on MPI ranks
#
# On a cluster the evaluations run on MPI ranks: rank 0 runs the optimisation, the
# other ranks simulate. The problem travels to the ranks by pickling; a BluePyOpt
# evaluator that cannot be pickled is rebuilt there from `factory=` (an importable
# `"module:function"` that returns it), once per rank. Save the script and start it
# with `mpiexec`:
#
# ```bash
# mpiexec -n 8 python fit_simplecell.py
# ```
#
# Every rank runs the script; `bj.optimize(..., evaluator="mpi")` returns rank 0's
# result on every rank. The cell below writes the script and, when `mpiexec` and
# `mpi4py` are installed (`pip install "botorch-joint[mpi]"`), runs it on 3 ranks.

# %%
import importlib.util
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

script = textwrap.dedent(f"""
    import botorch_joint as bj

    problem = bj.problems.from_bluepyopt(
        factory="botorch_joint.problems.neuro.bluepyopt_models:simplecell_ap_evaluator",
        threshold=3.0,
    )
    result = bj.optimize(problem, method="{"sobol" if SMOKE_TEST else "c+o-ftt"}",
                         budget={8 if SMOKE_TEST else BUDGET}, batch_size={BATCH_SIZE},
                         evaluator="mpi", seed=0, progress=False)
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_rank() == 0:
        print(MPI.COMM_WORLD.Get_size(), "ranks:", result.summary())
""")
work = Path(tempfile.mkdtemp(prefix="bj-bluepyopt-"))
(work / "fit_simplecell.py").write_text(script)
print(script)

mpiexec = shutil.which(
    "mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
)
if mpiexec and importlib.util.find_spec("mpi4py"):
    out = subprocess.run(
        [mpiexec, "-n", "3", sys.executable, "fit_simplecell.py"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(out.stdout[-2000:] if out.returncode == 0 else out.stderr[-2000:])
else:
    print("mpiexec or mpi4py is not installed: not running it here")
shutil.rmtree(work)

# %% [markdown]
# ## Next
#
# * Your own evaluator: `bj.problems.from_bluepyopt(my_evaluator, threshold=3.0,
#   constraints={"rest_ok": fn})`, where `fn(responses)` returns a number that is
#   `>= 0` when the check passes (see the user guide's BluePyOpt page).
# * A larger model: the built-in `bluepyopt-ballstick` problem (soma and dendrite, 10
#   parameters, 20 eFEL features on four steps).
# * botorch-joint against BluePyOpt's IBEA and CMA-ES at equal budgets:
#   `benchmarks/bluepyopt_compare.py`.
