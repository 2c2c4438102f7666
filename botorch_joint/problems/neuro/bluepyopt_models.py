"""Two BluePyOpt cell models, and the built-in problems made from them.

Both are put together from BluePyOpt's own building blocks (morphology, locations,
NEURON mechanisms, parameters, step protocols, eFEL features, objectives, a
``CellEvaluator``) with only NEURON's built-in mechanisms (``hh``, ``pas``): nothing to
compile. BluePyOpt, NEURON and eFEL are imported when a model is built.

``simplecell``
    BluePyOpt's example cell (``bluepyopt.ephys.examples.simplecell``: one compartment
    with ``hh``, ``gnabar_hh`` and ``gkbar_hh`` free) with both current steps of its
    feature table: eFEL ``Spikecount`` at 0.01 nA (target 1) and 0.05 nA (target 5),
    standard deviation 5 % of the target. The example package itself scores only the
    first step; :func:`simplecell_evaluator` adds the second, as BluePyOpt's simplecell
    tutorial does. ``ap_amplitude=True`` adds eFEL ``AP_amplitude`` on both steps
    (targets from the example's default parameters, standard deviation 10 %), which
    eFEL cannot compute for a cell that stays silent.

``ballstick``
    A soma (20 um sphere, ``hh``) and a 400 um passive dendrite (``pas``), 10 free
    parameters (:data:`BALLSTICK_PARAMETERS`), a hyperpolarising step and three
    depolarising steps, and the eFEL features modellers fit (spike count, time to
    first spike, ISI CV, AP amplitude, AP half-width, AHP depth, voltage base, voltage
    deflection), 20 in all, grouped into 5 ``MaxObjective`` s (:data:`BALLSTICK_OBJECTIVES`):
    an objective's score is its worst feature's, so "objective <= T" means "every
    feature within T standard deviations". Targets are the features of
    :data:`BALLSTICK_TRUTH`, computed when the model is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from typing import Any

from botorch_joint.problems.base import Problem

__all__ = [
    "BALLSTICK_OBJECTIVES",
    "BALLSTICK_PARAMETERS",
    "BALLSTICK_STEPS_NA",
    "BALLSTICK_TRUTH",
    "SIMPLECELL_TRUTH",
    "ballstick",
    "ballstick_evaluator",
    "simplecell",
    "simplecell_evaluator",
]

# ------------------------------------------------------------------ simplecell
#: the example's default parameters (its "known" cell)
SIMPLECELL_TRUTH = {"gnabar_hh": 0.1, "gkbar_hh": 0.03}
SIMPLECELL_STEPS_NA = {"step1": 0.01, "step2": 0.05}
SIMPLECELL_DELAY, SIMPLECELL_DURATION, SIMPLECELL_TOTAL = 100.0, 50.0, 200.0  # ms


def _bluepyopt() -> Any:
    # Without a display NEURON prints a two-line warning on import; nothing here draws.
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    try:
        import bluepyopt.ephys as ephys
    except ImportError as exc:
        from botorch_joint.problems.neuro.bluepyopt import INSTALL_HINT

        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    return ephys


def _feature(ephys: Any, protocol: str, efel_name: str, start: float, end: float) -> Any:
    return ephys.efeatures.eFELFeature(
        f"{protocol}.{efel_name}",
        efel_feature_name=efel_name,
        recording_names={"": f"{protocol}.soma.v"},
        stim_start=start,
        stim_end=end,
        exp_mean=0.0,  # set from the known cell below
        exp_std=1.0,
    )


def _set_targets(evaluator: Any, features: list[Any], truth: Mapping[str, float], std: Any) -> None:
    """Target every feature at its value for ``truth``, with ``std(feature, mean)``."""
    responses = evaluator.run_protocols(evaluator.fitness_protocols.values(), dict(truth))
    for f in features:
        value = f.calculate_feature(responses)
        if value is None:
            raise RuntimeError(f"eFEL cannot compute {f.name} for the known parameters")
        f.exp_mean = float(value)
        f.exp_std = float(std(f, float(value)))


def _protocol(ephys: Any, name: str, amp: float, delay: float, dur: float, total: float, loc: Any):
    stim = ephys.stimuli.NrnSquarePulse(
        step_amplitude=amp,
        step_delay=delay,
        step_duration=dur,
        location=loc,
        total_duration=total,
    )
    rec = ephys.recordings.CompRecording(name=f"{name}.soma.v", location=loc, variable="v")
    return ephys.protocols.SweepProtocol(name, [stim], [rec])


def simplecell_evaluator(ap_amplitude: bool = False) -> Any:
    """BluePyOpt's simplecell with both steps of its feature table (see the module doc).

    Args:
        ap_amplitude: also score eFEL ``AP_amplitude`` on each step (eFEL cannot
            compute it for a silent cell; BluePyOpt then scores 250).

    Returns:
        A ``CellEvaluator`` with objectives ``step1.Spikecount``, ``step2.Spikecount``
        (then ``step1.AP_amplitude``, ``step2.AP_amplitude``) and free parameters
        ``gnabar_hh`` and ``gkbar_hh``. It runs protocols in-process
        (``isolate_protocols=False``) and pickles.
    """
    ephys = _bluepyopt()
    from bluepyopt.ephys.examples.simplecell import SimpleCell

    cell = SimpleCell()
    protocols = {
        name: _protocol(
            ephys,
            name,
            amp,
            SIMPLECELL_DELAY,
            SIMPLECELL_DURATION,
            SIMPLECELL_TOTAL,
            cell.soma_loc,
        )  # fmt: skip
        for name, amp in SIMPLECELL_STEPS_NA.items()
    }
    end = SIMPLECELL_DELAY + SIMPLECELL_DURATION
    counts = []
    for name in protocols:
        f = _feature(ephys, name, "Spikecount", SIMPLECELL_DELAY, end)
        f.exp_mean = float(cell.efel_feature_means[name]["Spikecount"])
        f.exp_std = 0.05 * f.exp_mean
        counts.append(f)
    amps = [_feature(ephys, name, "AP_amplitude", SIMPLECELL_DELAY, end) for name in protocols]
    features = counts + (amps if ap_amplitude else [])
    objectives = [ephys.objectives.SingletonObjective(f.name, f) for f in features]
    evaluator = ephys.evaluators.CellEvaluator(
        cell_model=cell.cell_model,
        param_names=list(SIMPLECELL_TRUTH),
        fitness_protocols=protocols,
        fitness_calculator=ephys.objectivescalculators.ObjectivesCalculator(objectives),
        sim=ephys.simulators.NrnSimulator(),
        isolate_protocols=False,
    )
    if ap_amplitude:
        _set_targets(evaluator, amps, SIMPLECELL_TRUTH, lambda f, mean: 0.1 * abs(mean))
    return evaluator


def simplecell_ap_evaluator() -> Any:
    """:func:`simplecell_evaluator` with ``ap_amplitude=True`` (an importable factory)."""
    return simplecell_evaluator(ap_amplitude=True)


# ------------------------------------------------------------------- ballstick
#: name -> (NEURON name, section list, low, high, known value, unit)
BALLSTICK_PARAMETERS: dict[str, tuple[str, str, float, float, float, str]] = {
    "gnabar_soma": ("gnabar_hh", "somatic", 0.05, 0.25, 0.12, "S/cm2"),
    "gkbar_soma": ("gkbar_hh", "somatic", 0.01, 0.08, 0.036, "S/cm2"),
    "gl_soma": ("gl_hh", "somatic", 1e-4, 1e-3, 3e-4, "S/cm2"),
    "el_soma": ("el_hh", "somatic", -70.0, -45.0, -54.3, "mV"),
    "ek_soma": ("ek", "somatic", -90.0, -65.0, -77.0, "mV"),
    "cm_soma": ("cm", "somatic", 0.5, 2.0, 1.0, "uF/cm2"),
    "g_pas_dend": ("g_pas", "basal", 1e-5, 2e-4, 5e-5, "S/cm2"),
    "e_pas_dend": ("e_pas", "basal", -80.0, -55.0, -65.0, "mV"),
    "cm_dend": ("cm", "basal", 0.5, 3.0, 1.5, "uF/cm2"),
    "ra": ("Ra", "all", 50.0, 300.0, 150.0, "ohm cm"),
}
BALLSTICK_TRUTH = {k: v[4] for k, v in BALLSTICK_PARAMETERS.items()}
#: protocol name -> step amplitude (nA)
BALLSTICK_STEPS_NA = {"hyper": -0.05, "step1": 0.2, "step2": 0.3, "step3": 0.45}
BALLSTICK_DELAY, BALLSTICK_DURATION, BALLSTICK_TOTAL = 100.0, 200.0, 350.0  # ms
#: objective -> eFEL features, on every depolarising step or on ``hyper``
BALLSTICK_OBJECTIVES: dict[str, tuple[str, ...]] = {
    "spike_count": ("Spikecount",),
    "spike_timing": ("time_to_first_spike", "ISI_CV"),
    "ap_shape": ("AP_amplitude", "spike_half_width"),
    "ahp": ("AHP_depth",),
    "passive": ("voltage_base", "voltage_deflection"),  # on the hyperpolarising step
}
#: eFEL feature -> (relative std, absolute floor): std = max(rel * |target|, floor)
BALLSTICK_STD: dict[str, tuple[float, float]] = {
    "Spikecount": (0.1, 1.0),
    "time_to_first_spike": (0.1, 0.5),
    "ISI_CV": (0.0, 0.05),
    "AP_amplitude": (0.1, 2.0),
    "spike_half_width": (0.1, 0.1),
    "AHP_depth": (0.1, 2.0),
    "voltage_base": (0.0, 3.0),
    "voltage_deflection": (0.1, 1.0),
}


def _swc() -> str:
    return str(resources.files("botorch_joint.problems.neuro") / "data" / "ballstick.swc")


def ballstick_evaluator() -> Any:
    """The ``ballstick`` cell model as a BluePyOpt ``CellEvaluator`` (see the module doc).

    Returns:
        A ``CellEvaluator`` with 10 free parameters, 4 protocols and 5 ``MaxObjective`` s
        over 20 eFEL features; NEURON's variable-step integrator (BluePyOpt's default);
        protocols run in-process (``isolate_protocols=False``). Building it simulates the
        known cell once to set the targets. It pickles.
    """
    ephys = _bluepyopt()
    loc = {
        name: ephys.locations.NrnSeclistLocation(name, seclist_name=name)
        for name in ("somatic", "basal", "all")
    }
    soma = ephys.locations.NrnSeclistCompLocation(
        "soma", seclist_name="somatic", sec_index=0, comp_x=0.5
    )
    mechs = [
        ephys.mechanisms.NrnMODMechanism("hh", suffix="hh", locations=[loc["somatic"]]),
        ephys.mechanisms.NrnMODMechanism("pas", suffix="pas", locations=[loc["basal"]]),
    ]
    section = ephys.parameters.NrnSectionParameter
    glob = ephys.parameters.NrnGlobalParameter
    params = [
        glob("celsius", param_name="celsius", value=6.3, frozen=True),
        glob("v_init", param_name="v_init", value=-65.0, frozen=True),
        section("ena_soma", param_name="ena", value=50.0, frozen=True, locations=[loc["somatic"]]),
    ]
    for name, (nrn, where, lo, hi, _, _) in BALLSTICK_PARAMETERS.items():
        params.append(section(name, param_name=nrn, bounds=[lo, hi], locations=[loc[where]]))
    cell = ephys.models.CellModel(
        "ballstick",
        morph=ephys.morphologies.NrnFileMorphology(_swc()),
        mechs=mechs,
        params=params,
    )
    protocols = {
        name: _protocol(
            ephys, name, amp, BALLSTICK_DELAY, BALLSTICK_DURATION, BALLSTICK_TOTAL, soma
        )
        for name, amp in BALLSTICK_STEPS_NA.items()
    }
    end = BALLSTICK_DELAY + BALLSTICK_DURATION
    features: list[Any] = []
    objectives = []
    for objective, efel_names in BALLSTICK_OBJECTIVES.items():
        steps = ["hyper"] if objective == "passive" else [p for p in protocols if p != "hyper"]
        group = [
            _feature(ephys, step, efel_name, BALLSTICK_DELAY, end)
            for efel_name in efel_names
            for step in steps
        ]
        features += group
        objectives.append(ephys.objectives.MaxObjective(objective, group))
    evaluator = ephys.evaluators.CellEvaluator(
        cell_model=cell,
        param_names=list(BALLSTICK_PARAMETERS),
        fitness_protocols=protocols,
        fitness_calculator=ephys.objectivescalculators.ObjectivesCalculator(objectives),
        sim=ephys.simulators.NrnSimulator(),
        isolate_protocols=False,
    )

    def std(feature: Any, mean: float) -> float:
        rel, floor = BALLSTICK_STD[feature.efel_feature_name]
        return max(rel * abs(mean), floor)

    _set_targets(evaluator, features, BALLSTICK_TRUTH, std)
    return evaluator


# -------------------------------------------------------------------- problems
def _problem(
    name: str,
    factory: str,
    threshold: float,
    on_failure: str,
    truth: Mapping[str, float],
    description: str,
) -> Problem:
    from botorch_joint.problems.neuro.bluepyopt import from_bluepyopt

    problem = from_bluepyopt(
        factory=f"botorch_joint.problems.neuro.bluepyopt_models:{factory}",
        threshold=threshold,
        on_failure=on_failure,
        name=name,
        description=f"{description}; every score <= {threshold:g} SD",
        problem_cls=Problem,
    )
    problem.metadata["ground_truth"] = dict(truth)
    return problem


def simplecell(
    threshold: float = 3.0, on_failure: str = "fail", ap_amplitude: bool = False
) -> Problem:
    """``bluepyopt-simplecell``: :func:`simplecell_evaluator` through :func:`from_bluepyopt`.

    Args:
        threshold: every objective at most this many standard deviations (a constraint
            each; also the reference point).
        on_failure: ``"fail"`` or ``"infeasible"`` (see :func:`from_bluepyopt`).
        ap_amplitude: add the ``AP_amplitude`` objectives.
    """
    factory = "simplecell_ap_evaluator" if ap_amplitude else "simplecell_evaluator"
    return _problem(
        "bluepyopt-simplecell", factory, threshold, on_failure, SIMPLECELL_TRUTH,
        "BluePyOpt's simplecell (1 compartment, hh) on two steps, eFEL spike counts"
        + (" and AP amplitudes" if ap_amplitude else ""),
    )  # fmt: skip


def ballstick(threshold: float = 3.0, on_failure: str = "fail") -> Problem:
    """``bluepyopt-ballstick``: :func:`ballstick_evaluator` through :func:`from_bluepyopt`.

    Args:
        threshold: every feature at most this many standard deviations (one
            constraint per objective; also the reference point).
        on_failure: ``"fail"`` or ``"infeasible"`` (see :func:`from_bluepyopt`).
    """
    return _problem(
        "bluepyopt-ballstick", "ballstick_evaluator", threshold, on_failure, BALLSTICK_TRUTH,
        "BluePyOpt soma + dendrite (hh, pas), 4 steps, 20 eFEL features in 5 max-objectives",
    )  # fmt: skip
