"""Write the tutorial notebooks ``tutorials/<name>/<name>.ipynb`` from the cells below.

The notebooks are generated so that they stay easy to review and to keep in sync with
the library: edit the cell sources here, then run

    python tutorials/make_notebooks.py           # rewrite every notebook
    python tutorials/make_notebooks.py --check   # exit 1 if a stored notebook is stale

Notebooks named in ``PERCENT_SOURCES`` are written as jupytext percent-format scripts,
``tutorials/<name>/<name>.py``, and read from there (see :func:`percent_cells`).

Notebooks are stored without outputs and with fixed cell ids, so regenerating an
unchanged notebook rewrites the same bytes. Every notebook opens with
``SMOKE_TEST = os.environ.get("SMOKE_TEST")``; with ``SMOKE_TEST=1`` budgets and model
sizes shrink so that the test suite (``tests/test_tutorials.py``) can run them all in
a few minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SMOKE = """
import os

# Set SMOKE_TEST=1 in the environment for a fast run with tiny budgets (used by the tests).
SMOKE_TEST = os.environ.get("SMOKE_TEST")
"""


#: tag of code cells that do nothing (and draw nothing) without NEURON
NEEDS_NEURON = "needs-neuron"

Cell = tuple[str, str, tuple[str, ...]]


def md(text: str) -> Cell:
    return ("markdown", text, ())


def code(text: str, *tags: str) -> Cell:
    return ("code", text, tags)


# --------------------------------------------------------------------------- quickstart
QUICKSTART = [
    md("""
    # Quickstart: a constrained multi-objective run

    This notebook optimises a built-in constrained two-objective problem with
    `bj.optimize`, then looks at the result: the evaluations as a table, the feasible
    Pareto front and the hypervolume as the run went on, next to a space-filling
    baseline with the same budget.
    """),
    code(SMOKE),
    md("""
    ## A built-in problem

    A `Problem` bundles parameters with box bounds, **minimised** objectives,
    constraints (a value `c` is satisfied iff `c >= 0`) and the simulator. The
    built-ins are listed by `bj.problems.names()`. `constrained-branincurrin` has two
    parameters, two objectives and one constraint, and evaluates in microseconds.
    """),
    code("""
    import matplotlib.pyplot as plt
    import numpy as np

    import botorch_joint as bj

    print(bj.problems.names())
    problem = bj.problems.get("constrained-branincurrin")
    print(problem)
    print("bounds:", problem.parameters)
    print("reference point for the hypervolume:", problem.ref_point)
    """),
    md("""
    ## Optimise

    `method="c+o-ftt"` is the joint network surrogate (an FT-Transformer trunk with an
    objective head and a constraint head). `budget` counts every true evaluation,
    initial design included; each epoch after the initial design evaluates
    `batch_size` new points. `method_options` passes settings to the method; here it
    only shrinks the networks and the search in smoke mode.
    """),
    code("""
    BUDGET = 24 if SMOKE_TEST else 100
    BATCH_SIZE = 8 if SMOKE_TEST else 10
    # Smoke mode: smaller networks and a shorter surrogate search (default: None).
    SMALL = {
        "model_options": {"ensemble_size": 2, "max_epochs": 20},
        "search_options": {"pop_size": 32, "generations": 3, "cgd_starts": 8, "cgd_steps": 10},
    } if SMOKE_TEST else None

    result = bj.optimize(
        problem,
        method="c+o-ftt",
        budget=BUDGET,
        batch_size=BATCH_SIZE,
        seed=0,
        method_options=SMALL,
    )
    print(result.summary())
    """),
    md("""
    Every evaluation is kept, in order: `result.X` `(n, d)`, `result.Y` `(n, m)`,
    `result.C` `(n, k)`, with `result.feasible`, `result.failed` and `result.epoch`
    (`0` for the initial design). `to_dataframe()` puts them in one table with the
    problem's names as columns.
    """),
    code("""
    df = result.to_dataframe()
    df.head()
    """),
    code("""
    df.groupby("epoch")[["feasible", "failed"]].mean()
    """),
    md("""
    ## The Pareto front

    `result.pareto()` returns the feasible non-dominated points `(X, Y)`. The grey
    points violate the constraint; the black line is a sample of the true Pareto front,
    which this problem knows.
    """),
    code("""
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
    """),
    md("""
    ## Hypervolume over evaluations

    The hypervolume of the feasible points, relative to the problem's reference point,
    after every evaluation. For comparison, the same budget spent on a scrambled Sobol'
    design (`method="sobol"`, no surrogate).
    """),
    code("""
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
    """),
    md("""
    The same three views (hypervolume, feasible and failed share per epoch, objective
    space) are one call away; the command line writes this figure as `hv.png`.
    """),
    code("""
    fig = bj.plotting.plot_run(result)
    plt.show()
    """),
    md("""
    ## Metrics

    `bj.metrics` works on arrays of minimised objectives; dropping infeasible rows is
    the caller's job (`result.pareto()` already did).
    """),
    code("""
    ref = problem.ref_point
    print("hypervolume  c+o-ftt:", bj.metrics.hypervolume(Y_front, ref))
    print("hypervolume  sobol:  ", bj.metrics.hypervolume(baseline.pareto()[1], ref))
    if true_front is not None:
        print("IGD          c+o-ftt:", bj.metrics.igd(Y_front, true_front))
        print("IGD          sobol:  ", bj.metrics.igd(baseline.pareto()[1], true_front))
    """),
    md("""
    ## Next steps

    * Your own simulator: build a `bj.Problem(...)` (see the user guide and the HPC
      tutorial).
    * Longer runs: pass `run_dir=` to checkpoint after every batch and `resume=True`
      to continue after an interruption.
    * The same model inside BoTorch or Ax: the `botorch_dropin` and `ax_client`
      tutorials.
    """),
]

# ----------------------------------------------------------------------- botorch_dropin
BOTORCH_DROPIN = [
    md("""
    # Drop-in BoTorch model: `JointSurrogate` with qLogNEHVI

    `JointSurrogate` is an ordinary `botorch.models.model.Model`: its posterior has the
    `m` predicted objectives followed by the `k` predicted probabilities that each
    constraint is satisfied. This notebook fits it on a design, uses it unchanged in
    BoTorch's `qLogNoisyExpectedHypervolumeImprovement` with `optimize_acqf` (the
    feasibility outputs act as the constraints), and compares its predictions with
    those of `GPR`, one Gaussian process per outcome.
    """),
    code(SMOKE),
    code("""
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
    """),
    md("""
    ## Training data

    A space-filling design on `constrained-branincurrin` (2 parameters, objectives
    `branin` and `currin`, one constraint `disk`): `problem.sample(n, seed)` evaluates
    a symmetric Latin hypercube and returns `X` `(n, d)`, `Y` `(n, m)` and `C` `(n, k)`
    as NumPy arrays. Inputs stay in the problem's own units; `bounds` (`2 x d`) tells
    the model the box.
    """),
    code("""
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
    """),
    md("""
    ## Fit the joint surrogate

    `fit_model` trains any of the package's models and returns it. The ensemble's
    members are the posterior's samples, so the spread between members is the model's
    uncertainty.
    """),
    code("""
    SMALL = dict(ensemble_size=2, max_epochs=30) if SMOKE_TEST else {}
    model = fit_model(
        JointSurrogate(train_X, train_Y, train_C, backbone="ftt", bounds=bounds, seed=0, **SMALL)
    )
    print(model)

    with torch.no_grad():
        posterior = model.posterior(train_X[:4])
    print("posterior mean shape:", tuple(posterior.mean.shape), "= (n, m + k)")
    print("objectives:\\n", posterior.mean[:, :m])
    print("P(disk >= 0):\\n", posterior.mean[:, m:])
    """),
    md("""
    ## qLogNEHVI + `optimize_acqf`

    BoTorch maximises, our objectives are minimised: the multi-output objective negates
    them, and so does the reference point. BoTorch's outcome constraints are callables
    that are feasible when `<= 0`, so `0.5 - P(feasible)` asks for a predicted
    feasibility of at least one half.
    """),
    code("""
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
    print("candidates (problem units):\\n", candidates)
    """),
    md("""
    Evaluate the candidates with the true simulator and compare with what the model
    predicted.
    """),
    code("""
    new = problem.evaluate_batch(candidates.numpy())
    with torch.no_grad():
        predicted = model.posterior(candidates).mean
    for i, e in enumerate(new):
        print(
            f"candidate {i}: true Y {np.round(e.y, 2)}, feasible {bool((e.c >= 0).all())}; "
            f"predicted Y {np.round(predicted[i, :m].numpy(), 2)}, "
            f"P(feasible) {np.round(predicted[i, m:].numpy(), 2)}"
        )
    """),
    md("""
    ## Compare predictions with a GP

    `GPR` fits one Gaussian process per outcome; its posterior has the `m` objectives
    followed by the `k` constraint *values* (feasible iff `>= 0`), not probabilities.
    Both models predict a held-out Sobol' set: objectives by normalised RMSE,
    feasibility by the share of points classified correctly.
    """),
    code("""
    gp = fit_model(GPR(train_X, train_Y, train_C, bounds=bounds))

    N_TEST = 64 if SMOKE_TEST else 256
    X_test, Y_test, C_test = problem.sample(N_TEST, seed=1, design="sobol")
    feasible_test = (C_test >= 0).all(axis=1)

    with torch.no_grad():
        joint_mean = model.posterior(torch.tensor(X_test)).mean.numpy()
        gp_mean = gp.posterior(torch.tensor(X_test)).mean.numpy()

    joint_feasible = (joint_mean[:, m:] >= 0.5).all(axis=1)
    gp_feasible = (gp_mean[:, m:] >= 0.0).all(axis=1)
    for name, mean, feas in (("JointSurrogate", joint_mean, joint_feasible),
                             ("GPR", gp_mean, gp_feasible)):
        err = bj.metrics.nrmse(mean[:, :m], Y_test)
        print(f"{name:15s} NRMSE per objective {np.round(err, 3)}, "
              f"feasibility accuracy {np.mean(feas == feasible_test):.0%}")
    """),
    code("""
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
    """),
    md("""
    On a smooth two-parameter problem with a few dozen points a Gaussian process is hard
    to beat, and in smoke mode the networks are tiny. The networks pay off with more
    parameters, more data and pass/fail constraints whose feasible region has sharp
    edges; the surrogate-accuracy page of the documentation has the measurements.

    The same recipe works with `MEGP` (a multi-output GP) and with
    `backbone="resnet"`; `bj.optimize(problem, method="c+o-ftt")` runs this model
    inside the package's own search (constraint-gradient descent and
    sensitivity-weighted perturbation) instead of qLogNEHVI.
    """),
]

# ---------------------------------------------------------------------------- ax_client
AX_CLIENT = [
    md("""
    # Ax: a `Client` with `joint_generation_strategy()`

    Ax users keep their own loop: configure an experiment, ask for trials, run them,
    report results. `joint_generation_strategy()` swaps Ax's default models for the
    joint surrogate; it reads the objectives and constraints from the experiment's
    optimisation config, so nothing else in the script changes.
    """),
    code(SMOKE),
    code("""
    import logging

    import matplotlib.pyplot as plt
    import numpy as np
    from ax import Client, RangeParameterConfig
    from ax.utils.common.logger import set_stderr_log_level

    import botorch_joint as bj
    from botorch_joint.ax import joint_generation_strategy

    set_stderr_log_level(logging.WARNING)  # Ax logs every trial at INFO
    """),
    md("""
    ## The experiment

    The simulator here is the built-in `constrained-branincurrin` problem, called as a
    plain function `params -> dict of outputs`; any function of that shape works.
    Objectives are minimised (`-name` in Ax's objective string). Ax outcome
    constraints on objectives are objective thresholds, so the problem's reference
    point becomes `name <= value`; constraints are `name >= 0`.
    """),
    code("""
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
    """),
    md("""
    ## The generation strategy

    Every argument of `joint_generation_strategy` is optional. The first `n_initial`
    trials come from a space-filling design, the rest from the joint surrogate's
    search, `batch_size` points per search (ask for that many trials at a time).
    `method` picks the surrogate (`"c+o-ftt"` by default; `"gpr"`, `"c+o-resnet"`, ...)
    and `method_options` passes model and search settings, as in `bj.optimize`.
    """),
    code("""
    N_INITIAL = 8 if SMOKE_TEST else 12
    BATCH_SIZE = 4 if SMOKE_TEST else 6
    N_BATCHES = 2 if SMOKE_TEST else 8

    # Smoke mode: smaller networks and a shorter surrogate search (default: None).
    SMALL = {
        "model_options": {"ensemble_size": 2, "max_epochs": 20},
        "search_options": {"pop_size": 32, "generations": 3, "cgd_starts": 8, "cgd_steps": 10},
    } if SMOKE_TEST else None

    strategy = joint_generation_strategy(
        n_initial=N_INITIAL, batch_size=BATCH_SIZE, seed=0, method_options=SMALL
    )
    client.set_generation_strategy(strategy)
    print(strategy)
    """),
    md("""
    ## The loop

    Ask for a batch, evaluate it (here serially; in practice on your cluster), report.
    A simulator that fails is reported with `mark_trial_failed`.
    """),
    code("""
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
    """),
    md("""
    ## Results

    Feasibility per trial batch, and the observed feasible Pareto front.
    """),
    code("""
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
    """),
    md("""
    `result_from_experiment` reads the experiment with the package's conventions and
    returns the same `Result` that `bj.optimize` returns, so its summary, hypervolume
    history and plots work on an Ax run too. (A `Client` keeps its Ax `Experiment` as
    `client._experiment`.)
    """),
    code("""
    from botorch_joint.ax import result_from_experiment

    result = result_from_experiment(client._experiment)
    print(result.summary())
    fig = bj.plotting.plot_run(result)
    plt.show()
    """),
    md("""
    Ax's own view of the front (here from the observed data rather than the model):
    """),
    code("""
    for params, outcomes, index, arm in client.get_pareto_frontier(use_model_predictions=False):
        print(index, {k: round(float(v[0] if isinstance(v, tuple) else v), 3)
                      for k, v in outcomes.items()})
    """),
]

# ----------------------------------------------------------------------- neuron_fitting
NEURON_FITTING = [
    md("""
    # Neuron fitting: a Hodgkin-Huxley cell with constraints

    `hh-cell` fits 11 conductances, reversal potentials and kinetic parameters of a
    single-compartment Hodgkin-Huxley neuron to current-clamp features of a reference
    cell. The objectives are feature errors (spike count, latency, AP shape, AHP
    depth); the constraints are electrophysiological sanity checks (resting potential,
    input resistance, membrane time constant, silent at rest, monotonic F-I curve,
    first ISI, adaptation). Fewer than one random parameter set in a hundred passes
    them all, so finding feasible cells at all is the hard part.
    """),
    code(SMOKE),
    code("""
    import importlib.util

    import matplotlib.pyplot as plt
    import numpy as np

    import botorch_joint as bj
    from botorch_joint.problems import hh_cell

    problem = bj.problems.get("hh-cell")
    print(problem)
    print("objectives: ", problem.objective_names)
    print("constraints:", problem.constraint_names)
    """),
    md("""
    ## The reference cell

    `hh_cell.simulate` returns the voltage traces of the protocol: a baseline, then one
    step per current (a hyperpolarising step and increasing depolarising steps).
    """),
    code("""
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
    """),
    md("""
    ## Optimise with the joint surrogate

    The same budget is spent twice: on the joint network (`c+o-ftt`) and on a
    stratified Latin hypercube (`slh`, no model).
    """),
    code("""
    BUDGET = 40 if SMOKE_TEST else 400
    BATCH_SIZE = 10 if SMOKE_TEST else 40
    # Smoke mode: smaller networks and a shorter surrogate search (default: None).
    SMALL = {
        "model_options": {"ensemble_size": 2, "max_epochs": 20},
        "search_options": {"pop_size": 32, "generations": 3, "cgd_starts": 8, "cgd_steps": 10},
    } if SMOKE_TEST else None

    result = bj.optimize(
        problem, method="c+o-ftt", budget=BUDGET, batch_size=BATCH_SIZE, seed=0,
        method_options=SMALL,
    )
    baseline = bj.optimize(problem, method="slh", budget=BUDGET, batch_size=BATCH_SIZE, seed=0)
    print(result.summary())
    print(baseline.summary())
    """),
    md("""
    ## Feasibility over epochs

    Epoch 0 is the initial design, so both methods start alike; after that the joint
    surrogate's constraint head steers the search into the feasible region.
    """),
    code("""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for shift, run in ((-0.2, result), (0.2, baseline)):
        epochs = np.unique(run.epoch)
        share = [run.feasible[run.epoch == e].mean() for e in epochs]
        ax.bar(epochs + shift, share, width=0.4, label=run.method)
    ax.set_xlabel("epoch")
    ax.set_ylabel("feasible share of the batch")
    ax.legend()
    plt.show()
    """),
    md("""
    ## Voltage traces before and after

    "Before" is the best point of the initial design, "after" the best point of the
    whole run, both by the sum of the objectives among feasible points (or among all
    points if none is feasible).
    """),
    code("""
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
    """),
    md("""
    ## Parameter sensitivities

    The joint surrogate's input gradients give a sensitivity for every parameter; the
    search scales its perturbations by them. Here a surrogate is fitted on the run's
    data and the sensitivities are drawn as bars.
    """),
    code("""
    import torch

    from botorch_joint.models import JointSurrogate, fit_model
    from botorch_joint.sensitivity import dgsm, fast, plot_sensitivity, sgrad

    bounds = torch.tensor(problem.bounds)
    SMALL_MODEL = dict(ensemble_size=2, max_epochs=20) if SMOKE_TEST else {}
    model = fit_model(
        JointSurrogate(
            torch.tensor(result.X), torch.tensor(result.Y), torch.tensor(result.C),
            bounds=bounds, seed=0, **SMALL_MODEL,
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
    """),
    md("""
    The overall index averages one row per model output (each row normalised to sum
    one), so objectives and constraints weigh alike. The rows show which parameters
    matter for which feature:
    """),
    code("""
    sg = indices[0]
    fig, ax = plt.subplots(figsize=(8, 4))
    image = ax.imshow(sg.per_output, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(sg.names)), sg.names, rotation=45, ha="right")
    ax.set_yticks(range(len(sg.output_names)), sg.output_names)
    fig.colorbar(image, label="share of the output's sensitivity")
    fig.tight_layout()
    plt.show()
    """),
    md("""
    ## `hh-neuron` (if NEURON is installed)

    `hh-neuron` is the same kind of fit on a Hodgkin-Huxley soma simulated by NEURON,
    with features extracted by eFEL (`pip install -e ".[neuron]"`). Each
    evaluation runs NEURON, so the run is shorter. The cells below are skipped when
    NEURON is not installed.
    """),
    code(
        """
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
    """,
        NEEDS_NEURON,
    ),
    code(
        """
    if HAVE_NEURON:
        from botorch_joint.problems import hh_neuron

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
    """,
        NEEDS_NEURON,
    ),
]

# ---------------------------------------------------------------------------------- hpc
HPC = [
    md("""
    # HPC: your simulator, the command line, MPI and resuming a killed run

    This notebook wraps an existing simulator as a `Problem` (a Python function and an
    external command), runs it from the `botorch-joint` command line, shows the MPI
    command line, and kills a run half-way to show that `--resume` loses and repeats
    nothing. It works in a scratch directory.
    """),
    code(SMOKE),
    code("""
    import json
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import textwrap
    import time
    from pathlib import Path

    import numpy as np

    import botorch_joint as bj

    start_dir = Path.cwd()
    work = Path(tempfile.mkdtemp(prefix="bj-hpc-"))  # scratch directory, removed at the end
    os.chdir(work)
    print("working in", work)
    """),
    md("""
    ## Wrapping a Python simulator

    A simulator is any function `params: dict[str, float] -> dict[str, float]` that
    returns every declared objective and constraint by name. Exceptions, time-outs and
    non-finite objectives become *failed evaluations*: recorded, counted as infeasible,
    never a crash. A vectorised simulator can be given as `batch_evaluate`
    (`(n, d) array -> (Y (n, m), C (n, k))`) instead or as well.

    The module below is what a user would keep next to their own simulator. Its
    `time.sleep` stands in for an expensive simulation.
    """),
    code('''
    DELAY = 0.1 if SMOKE_TEST else 0.5  # seconds per "simulation"

    Path("my_problem.py").write_text(textwrap.dedent(f"""
        import math
        import time

        import botorch_joint as bj


        def simulate(p):
            time.sleep({DELAY})  # the expensive part
            x, y = p["x"], p["y"]
            if x > 0.95:
                raise RuntimeError("solver diverged")  # becomes a failed evaluation
            return {{
                "f1": x,
                "f2": (1 + y) * (1 - math.sqrt(x / (1 + y))),
                "c1": 0.8 - x * x - y,  # satisfied iff >= 0
            }}


        problem = bj.Problem(
            name="toy",
            parameters={{"x": (0.0, 1.0), "y": (0.0, 1.0)}},
            objectives=["f1", "f2"],
            constraints=["c1"],
            evaluate=simulate,
            ref_point=[1.1, 2.1],
        )
    """))

    sys.path.insert(0, str(work))
    from my_problem import problem

    print(problem)
    print(problem.evaluate({"x": 0.3, "y": 0.2}))
    '''),
    md("""
    ## Wrapping an external command

    A simulator that is a program rather than a Python function is wrapped with
    `Problem.from_command`. Every evaluation runs the program once in a fresh working
    directory: the parameters are written to `params.json`, the placeholders
    `{params}`, `{output}` and `{workdir}` in the command are replaced by the paths,
    and the program writes every objective and constraint to `output.json`. A
    non-zero exit status, a time-out or a missing output is a failed evaluation whose
    message keeps the tail of the program's stderr.
    """),
    code('''
    Path("external_sim.py").write_text(textwrap.dedent("""
        import json
        import sys

        params_file, output_file = sys.argv[1], sys.argv[2]
        with open(params_file) as fh:
            p = json.load(fh)
        if p["y"] > 0.9:
            sys.exit("mesh generation failed")  # non-zero exit: a failed evaluation
        with open(output_file, "w") as fh:
            json.dump({"f1": p["x"], "f2": (1 - p["x"]) ** 2 + p["y"], "c1": 0.5 - p["y"]}, fh)
    """))

    external = bj.Problem.from_command(
        [sys.executable, str(work / "external_sim.py"), "{params}", "{output}"],
        parameters={"x": (0.0, 1.0), "y": (0.0, 1.0)},
        objectives=["f1", "f2"],
        constraints=["c1"],
        timeout=60,
        name="external",
        ref_point=[1.1, 2.1],
    )
    print(external.evaluate({"x": 0.25, "y": 0.1}))
    for e in external.evaluate_batch(np.array([[0.5, 0.2], [0.5, 0.95]])):
        print("failed:" if e.failed else "ok:", e.error.splitlines()[0] if e.failed else e.y)
    '''),
    md("""
    Such a problem runs in `bj.optimize` and on the command line like any other; with
    `evaluator="process"` or `"mpi"` the program runs on many workers at once.
    """),
    md("""
    ## The command line

    `botorch-joint run PROBLEM` takes a built-in name or `module:attribute` naming a
    `Problem` (here `my_problem:problem`). It prints progress and a summary and writes
    `results.csv`, `hv.png` and the checkpoint into `--run-dir`. In a terminal you
    would type `botorch-joint run ...`; the notebook calls the same entry point as
    `python -m botorch_joint.cli run ...`.
    """),
    code("""
    BUDGET = 24 if SMOKE_TEST else 60
    BATCH_SIZE = 6 if SMOKE_TEST else 10
    cli = [sys.executable, "-m", "botorch_joint.cli"]
    env = {**os.environ, "PYTHONPATH": str(work)}

    args = ["run", "my_problem:problem", "--method", "slh", "--budget", str(BUDGET),
            "--batch-size", str(BATCH_SIZE), "--run-dir", "runs/cli", "--no-progress"]
    print("$ botorch-joint", " ".join(args))
    out = subprocess.run(cli + args, env=env, capture_output=True, text=True, check=True)
    print(out.stdout)
    print(sorted(p.name for p in Path("runs/cli").iterdir()))
    """),
    md("""
    ## On a cluster: MPI

    With `--evaluator mpi` rank 0 runs the optimiser and every other rank evaluates
    points, so `mpiexec -n 9` gives eight simulator workers. Make `--batch-size` a
    multiple of the number of workers so that none idles:

    ```bash
    mpiexec -n 9 botorch-joint run my_problem:problem --evaluator mpi \\
        --method c+o-ftt --budget 2000 --batch-size 64 --run-dir runs/big
    ```

    A SLURM job script is the same line under `srun`:

    ```bash
    #!/bin/bash
    #SBATCH --ntasks=65 --time=12:00:00
    srun botorch-joint run my_problem:problem --evaluator mpi \\
        --method c+o-ftt --budget 5000 --batch-size 64 --run-dir runs/big --resume
    ```

    `--resume` in the job script makes resubmitting the same script after a time-out
    continue the run. From Python, `bj.optimize(..., evaluator="mpi")` does the same,
    and `evaluator=` also accepts any `concurrent.futures.Executor` (for instance a
    Dask or `mpi4py.futures` pool you already have).

    If `mpiexec` is available, a small MPI run:
    """),
    code("""
    # mpiexec on PATH, or the one installed next to this Python (the mpich wheel)
    here = os.path.dirname(sys.executable)
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=here)
    if mpiexec is None:
        print("mpiexec not found: skipping the MPI run")
    else:
        args = ["run", "my_problem:problem", "--evaluator", "mpi", "--method", "slh",
                "--budget", "12", "--batch-size", "6", "--run-dir", "runs/mpi", "--no-progress"]
        print("$ mpiexec -n 2 botorch-joint", " ".join(args))
        out = subprocess.run([mpiexec, "-n", "2", *cli, *args], env=env,
                             capture_output=True, text=True, timeout=120)
        print(out.stdout[-2000:] or out.stderr[-2000:])
    """),
    md("""
    ## Resume after a kill

    Runs are checkpointed after every batch, and every finished evaluation of the batch
    in flight is journalled the moment it finishes. Here a run is killed with `SIGKILL`
    part-way through, then continued with `--resume`.
    """),
    code("""
    args = ["run", "my_problem:problem", "--method", "slh", "--budget", str(BUDGET),
            "--batch-size", str(BATCH_SIZE), "--run-dir", "runs/killed", "--no-progress"]
    proc = subprocess.Popen(cli + args, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # Kill the run in the middle of its second batch: after the first batch is
    # checkpointed and two evaluations of the next one are journalled.
    ckpt, journal = Path("runs/killed/checkpoint.json"), Path("runs/killed/journal.jsonl")

    def journalled():
        try:  # the run deletes the journal whenever it checkpoints a batch
            lines = journal.read_text().splitlines()
        except FileNotFoundError:
            return 0
        # finished evaluations (the journal also notes each point as it starts)
        return sum('"kind": "result"' in line for line in lines)

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (
            ckpt.exists()
            and len(json.loads(ckpt.read_text())["X"]) >= BATCH_SIZE
            and journalled() >= 2
        ):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    partial = bj.load_result("runs/killed")
    batches = bj.load_result("runs/killed", include_in_flight=False)
    print(f"killed after {len(partial)} finished evaluations: {len(batches)} in completed "
          f"batches, {len(partial) - len(batches)} journalled from the interrupted batch")
    """),
    code("""
    out = subprocess.run(cli + args + ["--resume"], env=env, capture_output=True, text=True,
                         check=True)
    print(out.stdout)

    final = bj.load_result("runs/killed")
    n = len(partial)
    print(f"{len(final)} evaluations after the resume (budget {BUDGET})")
    kept = np.array_equal(final.X[:n], partial.X[:n]) and np.array_equal(
        final.Y[:n], partial.Y[:n], equal_nan=True
    )
    print("the evaluations from before the kill are kept unchanged:", kept)
    print("no point was evaluated twice:", len(np.unique(final.X, axis=0)) == len(final))
    """),
    md("""
    The same from Python: `bj.optimize(problem, ..., run_dir="runs/killed",
    resume=True)`. Resuming with different settings (method, budget, batch size,
    seed, ...) is refused rather than silently mixing two runs.
    """),
    code("""
    os.chdir(start_dir)
    shutil.rmtree(work)  # comment this out to look at the run directories
    """),
]


# ------------------------------------------------------------ percent-format sources
def percent_cells(path: Path) -> list[Cell]:
    """The cells of a notebook written as a jupytext percent-format script.

    ``# %%`` starts a code cell (``# %% tags=["a", "b"]`` tags it), ``# %% [markdown]``
    a markdown cell whose lines are comments (``# text``); lines before the first
    marker (jupytext's header) are skipped. This is the subset of the format the
    sources here use, read without jupytext so that regenerating needs nothing new.
    """
    cells: list[Cell] = []
    kind: str | None = None
    tags: tuple[str, ...] = ()
    lines: list[str] = []

    def flush() -> None:
        if kind is not None:
            cells.append((kind, "\n".join(lines).strip("\n"), tags))

    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            flush()
            rest = line[4:].strip()
            kind = "markdown" if rest.startswith("[markdown]") else "code"
            found = re.search(r"tags=\[([^\]]*)\]", rest)
            tags = tuple(re.findall(r'"([^"]+)"', found.group(1))) if found else ()
            lines = []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind == "code":
            lines.append(line)
    flush()
    return cells


#: notebooks whose source is ``tutorials/<name>/<name>.py`` (jupytext percent format)
PERCENT_SOURCES = ["from_bluepyopt"]

NOTEBOOKS: dict[str, list[Cell]] = {
    "quickstart": QUICKSTART,
    "botorch_dropin": BOTORCH_DROPIN,
    "ax_client": AX_CLIENT,
    "neuron_fitting": NEURON_FITTING,
    "hpc": HPC,
    **{name: percent_cells(HERE / name / f"{name}.py") for name in PERCENT_SOURCES},
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` (a key of :data:`NOTEBOOKS`), without outputs."""
    cells = []
    for i, (kind, source, tags) in enumerate(NOTEBOOKS[name]):
        text = textwrap.dedent(source).strip("\n")
        cell = new_markdown_cell(text) if kind == "markdown" else new_code_cell(text)
        cell["id"] = f"{name}-{i:02d}"  # fixed ids: regeneration is byte-stable
        if tags:
            cell["metadata"]["tags"] = list(tags)
        cells.append(cell)
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python", "pygments_lexer": "ipython3"},
        },
    )


def path_of(name: str) -> Path:
    return HERE / name / f"{name}.ipynb"


def render(name: str) -> str:
    return nbformat.writes(build(name)) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale notebooks")
    parser.add_argument("names", nargs="*", default=list(NOTEBOOKS), help="notebooks to write")
    args = parser.parse_args(argv)
    stale = []
    for name in args.names:
        path, text = path_of(name), render(name)
        if path.exists() and path.read_text() == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if args.check and stale:
        print(f"stale notebooks (run python tutorials/make_notebooks.py): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
