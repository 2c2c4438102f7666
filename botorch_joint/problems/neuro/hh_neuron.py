"""``hh-neuron``: fit a Hodgkin-Huxley soma in the NEURON simulator, with eFEL features.

Needs the ``neuron`` extra (``pip install -e '.[neuron]'``: NEURON and eFEL); both
are imported lazily, so this module itself imports without them.

The cell is one ``56.42 um x 56.42 um`` cylinder (area ``1e-4 cm^2``) with NEURON's
built-in ``hh`` mechanism at 6.3 degC. One evaluation runs three current-clamp sweeps
(0.7, 1.0 and 1.5 nA; 200 ms delay, 400 ms step, 650 ms in all, fixed ``dt`` of
0.025 ms) and extracts eFEL features from each trace after the first 100 ms (which
only let the cell settle from ``v_init``). Targets are the features of the ground
truth, the textbook squid-axon parameters.

Objectives (minimised, 0 at the ground truth, ``~1`` = bad):

* ``spike_count_err``: mean over sweeps of ``|log2((N+1)/(N*+1))|`` with eFEL
  ``Spikecount_stimint``.
* ``latency_err``: mean over sweeps of ``|log2((L+1 ms)/(L*+1 ms))|``, ``L`` = time from
  the step onset to the first eFEL ``peak_time`` during the step (the step length when
  there is none).
* ``ap_shape_err``: strongest sweep, mean of ``|amp-amp*| / 10 mV``,
  ``|log2(width/width*)|`` and ``|ahp-ahp*| / 5 mV`` with the per-sweep means of eFEL
  ``AP_amplitude``, ``spike_half_width`` and ``AHP_depth_abs``; ``NO_SPIKE_ERR`` when
  that sweep has no spike.

Constraints (satisfied iff ``>= 0``; windows are ``1 - |x - centre| / half_width``):

* ``rest_in_range``: eFEL ``voltage_base`` of the first sweep in a window.
* ``silent_at_rest``: ``(-20 mV - max V in the 100 ms before the step) / 10 mV``.
* ``spike_count_in_range``: spike count of the middle sweep in a window.
* ``fi_monotonic``: ``min_s (N_{s+1} - N_s) - 0.5`` (strictly increasing counts).
* ``first_isi_in_range`` (log window): first inter-spike interval of the strongest sweep
  (with fewer than two spikes: the time from the spike, or the onset, to the step end).
* ``ap_width_in_range`` (log window), ``ahp_in_range``: mean eFEL ``spike_half_width``
  and ``AHP_depth_abs`` of the strongest sweep; ``-1`` when it has no spike.

About 1.5 % of uniform random draws are feasible (3 of 200, seed 0); the squid-axon
kinetics fire in a narrow band of rates, so the AP-shape windows do most of the work.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from botorch_joint.problems.base import Problem

__all__ = [
    "CONSTRAINTS",
    "GROUND_TRUTH",
    "OBJECTIVES",
    "PARAMETERS",
    "HHNeuronEvaluate",
    "hh_neuron",
    "simulate",
]

INSTALL_HINT = (
    "hh-neuron needs NEURON and eFEL: pip install -e '.[neuron]' in a clone of botorch-joint "
    "(or pip install neuron efel)"
)

# name -> (low, high, ground truth, unit); the ground truth is NEURON's hh default.
PARAMETERS: dict[str, tuple[float, float, float, str]] = {
    "gnabar": (0.05, 0.25, 0.12, "S/cm^2"),
    "gkbar": (0.01, 0.08, 0.036, "S/cm^2"),
    "gl": (1e-4, 1e-3, 3e-4, "S/cm^2"),
    "el": (-70.0, -45.0, -54.3, "mV"),
    "cm": (0.5, 2.0, 1.0, "uF/cm^2"),
    "ek": (-90.0, -65.0, -77.0, "mV"),
}
GROUND_TRUTH: dict[str, float] = {k: v[2] for k, v in PARAMETERS.items()}
OBJECTIVES = ["spike_count_err", "latency_err", "ap_shape_err"]
CONSTRAINTS = [
    "rest_in_range",
    "silent_at_rest",
    "spike_count_in_range",
    "fi_monotonic",
    "first_isi_in_range",
    "ap_width_in_range",
    "ahp_in_range",
]

DIAMETER_UM = 56.42  # L = diam, area = pi * d^2 = 1e4 um^2 = 1e-4 cm^2
CURRENTS_NA = (0.7, 1.0, 1.5)
T_SETTLE, DELAY, DURATION, T_STOP = 100.0, 200.0, 400.0, 650.0  # ms
V_INIT, CELSIUS = -65.0, 6.3
SPIKE_THRESHOLD = -20.0  # mV, eFEL "Threshold"
NO_SPIKE_ERR = 2.0
# Feature windows of the constraints; the ground truth sits well inside each.
WINDOWS: dict[str, tuple[float, float]] = {
    "rest_mv": (-67.0, -63.0),
    "spike_count": (25.0, 31.0),
    "first_isi_ms": (12.0, 14.5),
    "ap_width_ms": (1.35, 1.75),
    "ahp_mv": (-78.0, -70.0),
}
_FEATURES = [
    "Spikecount_stimint",
    "AP_amplitude",
    "spike_half_width",
    "AHP_depth_abs",
    "voltage_base",
    "peak_time",
]


def _require() -> tuple[Any, Any]:
    """Import NEURON's ``h`` (with the standard run system) and eFEL, or explain how."""
    # Without a display NEURON prints a two-line warning on import; nothing here draws.
    os.environ.setdefault("NEURON_MODULE_OPTIONS", "-nogui")
    try:
        import efel
        from neuron import h
    except ImportError as exc:
        raise ImportError(f"{INSTALL_HINT} ({exc})") from exc
    h.load_file("stdrun.hoc")
    return h, efel


def simulate(
    params: Mapping[str, float],
    currents: Sequence[float] = CURRENTS_NA,
    dt: float = 0.025,
) -> tuple[np.ndarray, np.ndarray]:
    """Run the protocol in NEURON.

    Every call builds its own section and stimulus and sets every global it relies on
    (``dt``, ``celsius``, fixed-step integration), so calls are independent of each
    other and of whatever else the process did with NEURON.

    Args:
        params: ``name -> value`` for every entry of :data:`PARAMETERS`.
        currents: step amplitudes (nA), one sweep each.
        dt: fixed time step (ms).

    Returns:
        ``t`` of shape ``(T,)`` (ms) and ``V`` of shape ``(len(currents), T)`` (mV).
    """
    h, _ = _require()
    soma = h.Section(name="hh_neuron_soma")
    try:
        soma.L = soma.diam = DIAMETER_UM
        soma.nseg = 1
        soma.insert("hh")
        soma.gnabar_hh = float(params["gnabar"])
        soma.gkbar_hh = float(params["gkbar"])
        soma.gl_hh = float(params["gl"])
        soma.el_hh = float(params["el"])
        soma.cm = float(params["cm"])
        soma.ek = float(params["ek"])
        soma.ena = 50.0
        stim = h.IClamp(soma(0.5))
        stim.delay, stim.dur = DELAY, DURATION
        t_vec = h.Vector().record(h._ref_t)
        v_vec = h.Vector().record(soma(0.5)._ref_v)
        h.cvode_active(0)
        h.celsius = CELSIUS
        h.dt = dt
        h.steps_per_ms = 1.0 / dt
        traces = []
        for amp in currents:
            stim.amp = float(amp)
            h.finitialize(V_INIT)
            h.continuerun(T_STOP)
            traces.append(np.array(v_vec))
        t = np.array(t_vec)
    finally:
        # Drop every NEURON object of this call so that the next one starts clean.
        stim = t_vec = v_vec = None
        soma = None
    return t, np.stack(traces)


def _sweep_features(efel: Any, t: np.ndarray, v: np.ndarray) -> dict[str, Any]:
    """eFEL features of one sweep (after the settling period), plus our own extras."""
    keep = t >= T_SETTLE
    trace = {"T": t[keep], "V": v[keep], "stim_start": [DELAY], "stim_end": [DELAY + DURATION]}
    raw = efel.get_feature_values([trace], _FEATURES, raise_warnings=False)[0]

    def first(name: str, default: float) -> float:
        val = raw.get(name)
        return float(val[0]) if val is not None and len(val) else default

    def mean(name: str) -> float:
        val = raw.get(name)
        return float(np.mean(val)) if val is not None and len(val) else math.nan

    peaks = raw.get("peak_time")
    peaks = np.asarray([] if peaks is None else peaks, dtype=float)
    peaks = peaks[(peaks >= DELAY) & (peaks <= DELAY + DURATION)]
    count = int(first("Spikecount_stimint", 0.0))
    pre = (t >= T_SETTLE) & (t < DELAY)
    return {
        "count": count,
        # Not eFEL's time_to_first_spike: that counts spontaneous spikes before the step.
        "latency": float(peaks[0] - DELAY) if peaks.size else DURATION,
        "rest": first("voltage_base", math.nan),
        "baseline_max": float(np.max(v[pre])),
        "ap_amp": mean("AP_amplitude"),
        "ap_width": mean("spike_half_width"),
        "ahp": mean("AHP_depth_abs"),
        "first_isi": (
            float(peaks[1] - peaks[0])
            if peaks.size >= 2
            else DELAY + DURATION - (peaks[0] if peaks.size else DELAY)
        ),
    }


def features(params: Mapping[str, float], dt: float = 0.025) -> list[dict[str, Any]]:
    """Simulate the protocol and return one feature dict per sweep."""
    _, efel = _require()
    t, V = simulate(params, CURRENTS_NA, dt)
    # eFEL settings are process-global: reset them so no earlier caller leaks in.
    efel.reset()
    efel.set_setting("Threshold", SPIKE_THRESHOLD)
    return [_sweep_features(efel, t, v) for v in V]


def _window(x: float, low: float, high: float, log: bool = False) -> float:
    if not (math.isfinite(x) and (x > 0 or not log)):
        return -1.0
    if log:
        x, low, high = math.log(x), math.log(low), math.log(high)
    return 1.0 - abs(x - 0.5 * (low + high)) / (0.5 * (high - low))


class HHNeuronEvaluate:
    """``evaluate(params: dict) -> dict`` of ``hh-neuron``; plain data, so it pickles.

    Args:
        targets: per-sweep features of the ground truth (from :func:`features`).
        dt: fixed time step (ms).
    """

    def __init__(self, targets: Sequence[Mapping[str, Any]], dt: float = 0.025) -> None:
        self.targets = [dict(tg) for tg in targets]
        self.dt = float(dt)

    def __call__(self, params: Mapping[str, float]) -> dict[str, float]:
        f = features(params, self.dt)
        tg = self.targets
        count_err = np.mean(
            [abs(math.log2((a["count"] + 1.0) / (b["count"] + 1.0))) for a, b in zip(f, tg)]
        )
        latency_err = np.mean(
            [abs(math.log2((a["latency"] + 1.0) / (b["latency"] + 1.0))) for a, b in zip(f, tg)]
        )
        top, top_t = f[-1], tg[-1]
        if top["count"] == 0:
            shape_err = NO_SPIKE_ERR
        else:
            parts = [
                abs(top["ap_amp"] - top_t["ap_amp"]) / 10.0,
                abs(math.log2(top["ap_width"] / top_t["ap_width"]))
                if top["ap_width"] > 0
                else math.nan,
                abs(top["ahp"] - top_t["ahp"]) / 5.0,
            ]
            shape_err = float(np.mean(parts))
            if not math.isfinite(shape_err):  # eFEL could not measure the AP: a bad cell
                shape_err = NO_SPIKE_ERR
        counts = [s["count"] for s in f]
        w = WINDOWS
        return {
            "spike_count_err": float(count_err),
            "latency_err": float(latency_err),
            "ap_shape_err": float(shape_err),
            "rest_in_range": _window(f[0]["rest"], *w["rest_mv"]),
            "silent_at_rest": (SPIKE_THRESHOLD - max(s["baseline_max"] for s in f)) / 10.0,
            "spike_count_in_range": _window(float(counts[len(counts) // 2]), *w["spike_count"]),
            "fi_monotonic": float(min(b - a for a, b in zip(counts, counts[1:])) - 0.5),
            "first_isi_in_range": _window(top["first_isi"], *w["first_isi_ms"], log=True),
            "ap_width_in_range": _window(top["ap_width"], *w["ap_width_ms"], log=True),
            "ahp_in_range": _window(top["ahp"], *w["ahp_mv"]),
        }


@functools.lru_cache(maxsize=4)
def _targets(dt: float) -> tuple[dict[str, Any], ...]:
    return tuple(features(GROUND_TRUTH, dt))


def hh_neuron(dt: float = 0.025) -> Problem:
    """The ``hh-neuron`` problem: 6 parameters, 3 objectives, 7 constraints, NEURON + eFEL.

    Args:
        dt: fixed integration time step (ms); targets are recomputed at this ``dt``.

    Returns:
        A :class:`Problem` with a point-wise ``evaluate`` (three NEURON sweeps and eFEL
        per call), ``ref_point`` of ones and ``max_hv = 1`` (the feasible ground truth
        has all objectives 0). ``metadata["ground_truth"]`` holds its parameters.

    Raises:
        ImportError: if NEURON or eFEL is missing, with the install command.
    """
    _require()
    targets = _targets(float(dt))
    return Problem(
        name="hh-neuron",
        parameters={k: (lo, hi) for k, (lo, hi, _, _) in PARAMETERS.items()},
        objectives=OBJECTIVES,
        constraints=CONSTRAINTS,
        evaluate=HHNeuronEvaluate(targets, dt),
        ref_point=[1.0] * len(OBJECTIVES),
        max_hv=1.0,
        description="Hodgkin-Huxley soma in NEURON fitted to eFEL features",
        metadata={
            "ground_truth": dict(GROUND_TRUTH),
            "targets": [dict(tg) for tg in targets],
            "units": {k: v[3] for k, v in PARAMETERS.items()},
            "currents_na": list(CURRENTS_NA),
            "windows": dict(WINDOWS),
            "dt": float(dt),
        },
    )
