"""``hh-cell``: fit a single-compartment Hodgkin-Huxley neuron to current-clamp features.

The cell is the cortical regular-spiking model of Pospischil et al. (2008, Biol.
Cybern. 99:427): a transient Na current (``m^3 h``), a delayed-rectifier K current
(``n^4``), a slow non-inactivating M-type K current (``p``, spike-frequency
adaptation) and a leak, on a soma of area ``1e-4 cm^2`` (so ``0.1 nA`` is
``1 uA/cm^2`` and ``R_in [MOhm] = 10 / g_in [mS/cm^2]``). Everything is vectorised
NumPy: all parameter sets and all current steps are integrated at once.

Integration is exponential Euler on every state variable, the membrane potential
included (with the gates frozen over a step the membrane equation is linear in ``V``).
That is stable for any ``dt`` and keeps ``V`` a convex combination of the reversal
potentials and ``I / G``, so nothing in the parameter box can blow up; a lane that
still turns non-finite or leaves ``|V| <= V_LIMIT`` (parameters outside the box) yields
NaN objectives and constraints, i.e. a failed evaluation. Gate rates come from tables
on a ``0.02 mV`` grid, as simulators do.

Protocol: a 100 ms zero-current baseline (started at the resting equilibrium with a
+1 mV kick, so an unstable rest shows up as spiking), then one 300 ms step per entry
of ``currents``: a hyperpolarising step (passive properties) and depolarising steps
(F-I curve). Objectives (all ``>= 0``, ``0`` at the ground truth, ``~1`` = bad):

* ``spike_count_err``: mean over the depolarising steps of ``|log2((N+1)/(N*+1))|``.
* ``latency_err``: mean over the depolarising steps of
  ``|log2((L+1 ms)/(L*+1 ms))|``; a step without spikes has latency = step length.
* ``ap_shape_err``: first AP of the strongest step, mean of
  ``|amp-amp*| / 10 mV`` and ``|log2(width/width*)|`` (amplitude from the dV/dt =
  10 mV/ms threshold to the peak, width at half amplitude).
* ``ahp_depth_err``: same AP, ``|ahp-ahp*| / 5 mV`` (AHP depth = threshold minus the
  trough before the next spike, within 50 ms).

A cell without any spike on the strongest step gets the finite penalty
``NO_SPIKE_ERR`` for both AP-shape objectives; such cells are bad, not failed.

Constraints (satisfied iff ``>= 0``). "Window" constraints are
``1 - |x - centre| / half_width`` (on a log scale where noted): 1 at the centre, 0 at
an edge, negative outside, graded by the distance. The windows (:data:`WINDOWS`) hold
the ground truth and leave about 0.5 % of uniform random draws feasible.

* ``rest_in_range``: resting potential (end of baseline) in a window.
* ``input_resistance_in_range`` (log): ``dV / I`` at the end of the hyperpolarising step.
* ``time_constant_in_range`` (log): time to 63.2 % of that deflection.
* ``silent_at_rest``: ``(-20 mV - max V over the baseline) / 10 mV``.
* ``fi_monotonic``: ``min_s (N_{s+1} - N_s) - 0.5``, i.e. the spike count strictly
  increases from each depolarising step to the next.
* ``first_isi_in_range`` (log): first inter-spike interval on the strongest step (with
  fewer than two spikes, the time from the last spike, or the onset, to the step end).
* ``adaptation_in_range`` (log): last ISI / first ISI on the strongest step; ``-1``
  with fewer than three spikes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from botorch_joint.problems.base import Problem

__all__ = [
    "CONSTRAINTS",
    "GROUND_TRUTH",
    "OBJECTIVES",
    "PARAMETERS",
    "NO_SPIKE_ERR",
    "WINDOWS",
    "HHCellEvaluate",
    "HHCellSimulator",
    "features",
    "hh_cell",
    "simulate",
]

# name -> (low, high, ground truth, unit). Ground truth = Pospischil et al. (2008) RS cell.
PARAMETERS: dict[str, tuple[float, float, float, str]] = {
    "g_na": (20.0, 150.0, 56.0, "mS/cm^2"),
    "g_kd": (1.0, 20.0, 6.0, "mS/cm^2"),
    "g_m": (0.0, 0.3, 0.075, "mS/cm^2"),
    "g_leak": (0.005, 0.1, 0.0205, "mS/cm^2"),
    "e_na": (40.0, 65.0, 50.0, "mV"),
    "e_k": (-100.0, -75.0, -90.0, "mV"),
    "e_leak": (-85.0, -55.0, -70.3, "mV"),
    "c_m": (0.5, 2.0, 1.0, "uF/cm^2"),
    "v_t": (-65.0, -45.0, -56.2, "mV"),
    "h_shift": (-10.0, 10.0, 0.0, "mV"),
    "tau_max_m": (200.0, 2000.0, 608.0, "ms"),
}
GROUND_TRUTH: dict[str, float] = {k: v[2] for k, v in PARAMETERS.items()}
OBJECTIVES = ["spike_count_err", "latency_err", "ap_shape_err", "ahp_depth_err"]
CONSTRAINTS = [
    "rest_in_range",
    "input_resistance_in_range",
    "time_constant_in_range",
    "silent_at_rest",
    "fi_monotonic",
    "first_isi_in_range",
    "adaptation_in_range",
]

AREA_CM2 = 1e-4  # soma area; converts nA to uA/cm^2 (x 10)
DEFAULT_CURRENTS_NA = (-0.05, 0.1, 0.15, 0.2, 0.3)  # first: passive step; rest: F-I steps
SPIKE_THRESHOLD = -20.0  # mV, upward crossing = one spike
DVDT_THRESHOLD = 10.0  # mV/ms, AP onset
NO_SPIKE_ERR = 2.0  # AP-shape objectives when the strongest step has no spike
KICK_MV = 1.0  # initial perturbation away from the resting equilibrium
V_LIMIT = 500.0  # mV; beyond this a lane has blown up (only reachable outside the box)

# Feature windows (low, high) of the constraints; the ground truth sits inside them all.
WINDOWS: dict[str, tuple[float, float]] = {
    "rest_mv": (-75.0, -67.0),
    "rin_mohm": (300.0, 700.0),
    "tau_ms": (32.0, 65.0),
    "first_isi_ms": (8.0, 16.0),
    "adaptation": (1.3, 2.0),
}

_U_MIN, _U_MAX, _DU = -200.0, 150.0, 0.02  # rate-table grid (mV)


# ---------------------------------------------------------------------- kinetics
def _xexp(x: np.ndarray, k: float) -> np.ndarray:
    """``x / (1 - exp(-x / k))``, continuous through its removable singularity at 0."""
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, x)
    return np.where(small, k + x / 2.0, xs / -np.expm1(-xs / k))


@functools.lru_cache(maxsize=8)
def _tables(dt: float) -> dict[str, np.ndarray]:
    """Steady states and one-step decay factors of the gates on the voltage grid.

    ``m``, ``n`` are indexed by ``V - v_t``, ``h`` by ``V - v_t - h_shift``, ``p`` by ``V``.
    Returns arrays of shape ``(n_grid,)``; ``p_rate`` is ``tau_max_m / tau_p(V)``.
    """
    u = np.arange(_U_MIN, _U_MAX + _DU / 2, _DU)
    am = 0.32 * _xexp(u - 13.0, 4.0)
    bm = 0.28 * _xexp(-(u - 40.0), 5.0)
    ah = 0.128 * np.exp(-(u - 17.0) / 18.0)
    bh = 4.0 / (1.0 + np.exp(-(u - 40.0) / 5.0))
    an = 0.032 * _xexp(u - 15.0, 5.0)
    bn = 0.5 * np.exp(-(u - 10.0) / 40.0)
    tables = {
        "m_inf": am / (am + bm),
        "m_dec": np.exp(-dt * (am + bm)),
        "h_inf": ah / (ah + bh),
        "h_dec": np.exp(-dt * (ah + bh)),
        "n_inf": an / (an + bn),
        "n_dec": np.exp(-dt * (an + bn)),
        "p_inf": 1.0 / (1.0 + np.exp(-(u + 35.0) / 10.0)),
        "p_rate": 3.3 * np.exp((u + 35.0) / 20.0) + np.exp(-(u + 35.0) / 20.0),
    }
    for arr in tables.values():
        arr.setflags(write=False)
    return tables


_N_GRID = int(round((_U_MAX - _U_MIN) / _DU)) + 1


def _index(u: np.ndarray) -> np.ndarray:
    """Nearest table row for voltages ``u``; out-of-grid (and NaN) voltages are clamped."""
    x = (u - _U_MIN) * (1.0 / _DU) + 0.5
    # fmax/fmin (not clip) are cheap ufuncs and send NaN to a valid row instead of garbage.
    np.fmax(x, 0.0, out=x)
    np.fmin(x, _N_GRID - 1, out=x)
    return x.astype(np.intp)


@dataclass
class _Cell:
    """Per-lane parameters, each an ``(L,)`` array."""

    g_na: np.ndarray
    g_kd: np.ndarray
    g_m: np.ndarray
    g_leak: np.ndarray
    e_na: np.ndarray
    e_k: np.ndarray
    e_leak: np.ndarray
    c_m: np.ndarray
    v_t: np.ndarray
    h_shift: np.ndarray
    tau_max_m: np.ndarray

    @classmethod
    def from_array(cls, X: np.ndarray) -> _Cell:
        return cls(*(np.ascontiguousarray(X[:, j], dtype=float) for j in range(X.shape[1])))

    def repeat(self, times: int) -> _Cell:
        """Each lane repeated ``times`` times in a row (point-major lane order)."""
        return _Cell(*(np.repeat(getattr(self, f), times) for f in PARAMETERS))


@dataclass
class _State:
    """Membrane potential and gates, each an ``(L,)`` array."""

    V: np.ndarray
    m: np.ndarray
    h: np.ndarray
    n: np.ndarray
    p: np.ndarray

    def repeat(self, times: int) -> _State:
        return _State(*(np.repeat(a, times) for a in (self.V, self.m, self.h, self.n, self.p)))


def _resting_state(cell: _Cell, dt: float) -> _State:
    """The most hyperpolarised zero-current equilibrium, found by scan + bisection."""
    tab = _tables(dt)

    def steady_current(V: np.ndarray) -> np.ndarray:
        u = V - cell.v_t
        i = _index(u)
        m, n = tab["m_inf"][i], tab["n_inf"][i]
        h = tab["h_inf"][_index(u - cell.h_shift)]
        p = tab["p_inf"][_index(V)]
        return (
            cell.g_na * m**3 * h * (V - cell.e_na)
            + (cell.g_kd * n**4 + cell.g_m * p) * (V - cell.e_k)
            + cell.g_leak * (V - cell.e_leak)
        )

    lanes = cell.g_na.shape[0]
    # Below every reversal potential the steady current is negative, above them all it is
    # positive, so the scan brackets a root for any cell in the box.
    grid = np.arange(-120.0, 80.0 + 1e-9, 1.0)
    lo = np.full(lanes, grid[0])
    hi = np.full(lanes, grid[-1])
    found = np.zeros(lanes, dtype=bool)
    for v in grid[1:]:
        pos = steady_current(np.full(lanes, v)) > 0
        new = pos & ~found
        hi[new] = v
        lo[new] = v - 1.0
        found |= pos
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        pos = steady_current(mid) > 0
        hi = np.where(pos, mid, hi)
        lo = np.where(pos, lo, mid)
    V = 0.5 * (lo + hi)
    u = V - cell.v_t
    i = _index(u)
    return _State(
        V=V.copy(),
        m=tab["m_inf"][i],
        h=tab["h_inf"][_index(u - cell.h_shift)],
        n=tab["n_inf"][i],
        p=tab["p_inf"][_index(V)],
    )


def _integrate(
    cell: _Cell,
    state: _State,
    current: np.ndarray | float,
    n_steps: int,
    dt: float,
    record: bool,
) -> tuple[_State, np.ndarray | None, np.ndarray]:
    """Advance every lane ``n_steps`` steps of exponential Euler at constant current.

    Args:
        cell: per-lane parameters, ``(L,)`` arrays.
        state: initial state, ``(L,)`` arrays (not modified).
        current: injected current density in uA/cm^2, scalar or ``(L,)``.
        n_steps: number of time steps.
        dt: time step (ms).
        record: whether to keep the trace.

    Returns:
        The final state, the ``(n_steps + 1, L)`` float32 voltage trace (initial value
        first) or ``None``, and the ``(L,)`` maximum voltage reached, NaN for a lane that
        blew up (non-finite, or ``|V| > V_LIMIT`` at some step).
    """
    tab = _tables(dt)
    m_inf, m_dec, h_inf, h_dec = tab["m_inf"], tab["m_dec"], tab["h_inf"], tab["h_dec"]
    n_inf, n_dec, p_inf, p_rate = tab["n_inf"], tab["n_dec"], tab["p_inf"], tab["p_rate"]
    V, m, h, n, p = (np.array(getattr(state, f), dtype=float) for f in ("V", "m", "h", "n", "p"))
    g_na, g_kd, g_m, g_leak, e_k = cell.g_na, cell.g_kd, cell.g_m, cell.g_leak, cell.e_k
    na_drive = g_na * cell.e_na
    # Leak reversal and injected current enter the membrane equation the same way.
    fixed_drive = g_leak * cell.e_leak + current
    minus_dt_over_cm = -dt / cell.c_m
    minus_dt_over_tau = -dt / cell.tau_max_m
    # Table row of V for each gate: V / du + offset (as in _index, folded per lane).
    inv_du = 1.0 / _DU
    off_p = -_U_MIN * inv_du + 0.5
    off_mn = off_p - cell.v_t * inv_du
    off_h = off_mn - cell.h_shift * inv_du
    top = float(_N_GRID - 1)
    lanes = V.shape[0]
    x, tmp, gate, G = (np.empty(lanes) for _ in range(4))
    trace = np.empty((n_steps + 1, lanes), dtype=np.float32) if record else None
    if trace is not None:
        trace[0] = V
    v_max = V.copy()
    v_min = V.copy()

    def rows(offset: np.ndarray | float) -> np.ndarray:
        np.multiply(V, inv_du, out=x)
        np.add(x, offset, out=x)
        # fmax/fmin send NaN to a valid row instead of an undefined integer cast.
        np.fmax(x, 0.0, out=x)
        np.fmin(x, top, out=x)
        return x.astype(np.intp)

    def relax(y: np.ndarray, inf: np.ndarray, dec: np.ndarray, i: np.ndarray) -> None:
        # y <- inf + (y - inf) * dec, in place
        np.take(inf, i, out=gate)
        y -= gate
        y *= np.take(dec, i, out=tmp)
        y += gate

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k in range(n_steps):
            i = rows(off_mn)
            relax(m, m_inf, m_dec, i)
            relax(n, n_inf, n_dec, i)
            relax(h, h_inf, h_dec, rows(off_h))
            i = rows(off_p)
            np.take(p_rate, i, out=tmp)
            tmp *= minus_dt_over_tau
            np.exp(tmp, out=tmp)
            np.take(p_inf, i, out=gate)
            p -= gate
            p *= tmp
            p += gate
            m3h = m * m
            m3h *= m
            m3h *= h
            g_k_total = n * n
            g_k_total *= g_k_total
            g_k_total *= g_kd
            g_k_total += np.multiply(g_m, p, out=tmp)
            np.multiply(g_na, m3h, out=G)
            G += g_k_total
            G += g_leak
            # V <- v_inf + (V - v_inf) * exp(-dt G / C), v_inf = (sum g E + I) / G
            v_inf = np.multiply(na_drive, m3h, out=m3h)
            v_inf += np.multiply(g_k_total, e_k, out=tmp)
            v_inf += fixed_drive
            v_inf /= G
            G *= minus_dt_over_cm
            np.exp(G, out=G)
            V -= v_inf
            V *= G
            V += v_inf
            np.fmax(v_max, V, out=v_max)
            np.fmin(v_min, V, out=v_min)
            if trace is not None:
                trace[k + 1] = V
        # fmax skips NaN, so a lane that went non-finite is flagged explicitly, and so is
        # one that left any physical range (possible only outside the box).
        blown = ~np.isfinite(V) | (v_max > V_LIMIT) | (v_min < -V_LIMIT)
        v_max[blown] = np.nan
    return _State(V, m, h, n, p), trace, v_max


# ------------------------------------------------------------------ simulation
def _as_matrix(
    params: np.ndarray | Mapping[str, float] | Sequence[Mapping[str, float]],
) -> np.ndarray:
    """Parameters as an ``(n, 11)`` array in :data:`PARAMETERS` order."""
    if isinstance(params, Mapping):
        params = [params]
    if isinstance(params, Sequence) and params and isinstance(params[0], Mapping):
        return np.array([[float(p[k]) for k in PARAMETERS] for p in params], dtype=float)
    X = np.asarray(params, dtype=float)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != len(PARAMETERS):
        raise ValueError(
            f"params must have shape (n, {len(PARAMETERS)}) in the order {list(PARAMETERS)}, "
            f"got {X.shape}"
        )
    return X


def simulate(
    params: np.ndarray | Mapping[str, float] | Sequence[Mapping[str, float]],
    currents: Sequence[float] = DEFAULT_CURRENTS_NA,
    *,
    dt: float = 0.05,
    t_baseline: float = 100.0,
    t_step: float = 300.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Voltage traces of the protocol, for plotting.

    Args:
        params: an ``(n, 11)`` array in :data:`PARAMETERS` order, one ``(11,)`` vector,
            or a dict (or list of dicts) ``name -> value``.
        currents: step amplitudes in nA.
        dt: time step (ms).
        t_baseline: zero-current baseline before the step (ms).
        t_step: step duration (ms).

    Returns:
        ``t`` of shape ``(T,)`` in ms (0 = start of the baseline, step onset at
        ``t_baseline``) and ``V`` of shape ``(n, len(currents), T)`` in mV.
    """
    X = _as_matrix(params)
    n, s = X.shape[0], len(currents)
    n_base, n_step = int(round(t_baseline / dt)), int(round(t_step / dt))
    cell = _Cell.from_array(X)
    state = _resting_state(cell, dt)
    state.V = state.V + KICK_MV
    state, base, _ = _integrate(cell, state, 0.0, n_base, dt, record=True)
    density = np.tile(np.asarray(currents, dtype=float) * 1e-3 / AREA_CM2, n)
    _, step, _ = _integrate(cell.repeat(s), state.repeat(s), density, n_step, dt, record=True)
    assert base is not None and step is not None
    V = np.concatenate([np.repeat(base, s, axis=1), step[1:]], axis=0)  # (T, n * s)
    t = np.arange(V.shape[0]) * dt
    return t, V.T.reshape(n, s, -1).astype(float)


def _crossings(trace: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Upward crossings of :data:`SPIKE_THRESHOLD` in a ``(T, L)`` trace.

    Returns:
        ``lane`` and ``k`` (sample before the crossing) of every crossing, sorted by lane
        then time, and the interpolated crossing times ``t`` (ms from the first sample).
    """
    above = trace >= SPIKE_THRESHOLD
    up = ~above[:-1] & above[1:]
    lane, k = np.nonzero(up.T)
    v0 = trace[k, lane].astype(float)
    v1 = trace[k + 1, lane].astype(float)
    t = (k + (SPIKE_THRESHOLD - v0) / (v1 - v0)) * dt
    return lane, k, t


def _ap_shape(
    trace: np.ndarray, lanes: np.ndarray, k1: np.ndarray, k2: np.ndarray, dt: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amplitude, half-width and AHP depth of the AP crossing threshold after sample ``k1``.

    Args:
        trace: ``(T, L)`` voltage trace.
        lanes: ``(q,)`` lanes to measure.
        k1: ``(q,)`` sample index of each lane's spike crossing.
        k2: ``(q,)`` sample index of the next crossing (or ``T - 1``); bounds the AHP.
        dt: time step (ms).

    Returns:
        ``(q,)`` arrays: amplitude (mV), width (ms), AHP depth (mV).
    """
    n_pre, n_peak, n_post = int(round(5.0 / dt)), int(round(3.0 / dt)), int(round(50.0 / dt))
    last = trace.shape[0] - 1
    offsets = np.arange(-n_pre, n_post + 1)
    idx = np.clip(k1[:, None] + offsets[None, :], 0, last)
    w = trace[idx, lanes[:, None]].astype(float)  # (q, W), column n_pre = crossing sample
    cols = np.arange(w.shape[1])[None, :]
    # AP onset: first sample of the last run with dV/dt >= threshold before the crossing.
    slow = np.diff(w[:, : n_pre + 1], axis=1) / dt < DVDT_THRESHOLD  # (q, n_pre)
    has_slow = slow.any(axis=1)
    last_slow = n_pre - 1 - np.argmax(slow[:, ::-1], axis=1)
    onset = np.where(has_slow, last_slow + 1, 0)
    rows = np.arange(w.shape[0])
    v_thr = w[rows, onset]
    peak = n_pre + np.argmax(w[:, n_pre : n_pre + n_peak + 1], axis=1)
    v_peak = w[rows, peak]
    amplitude = v_peak - v_thr
    half = v_thr + amplitude / 2.0
    # Rising half-crossing (onset..peak), interpolated on the sample before.
    rising = (cols >= onset[:, None]) & (cols <= peak[:, None]) & (w >= half[:, None])
    j_up = np.argmax(rising, axis=1)
    j_up_prev = np.maximum(j_up - 1, 0)
    a, b = w[rows, j_up_prev], w[rows, j_up]
    t_up = j_up_prev + np.where(b > a, (half - a) / np.where(b > a, b - a, 1.0), 1.0)
    falling = (cols > peak[:, None]) & (w < half[:, None])
    has_fall = falling.any(axis=1)
    j_dn = np.argmax(falling, axis=1)
    a, b = w[rows, j_dn - 1], w[rows, j_dn]
    t_dn = np.where(has_fall, j_dn - 1 + (a - half) / np.where(a > b, a - b, 1.0), w.shape[1])
    width = (t_dn - t_up) * dt
    # Trough between the peak and the next spike (or the end of the window/trace).
    stop = np.minimum(k2 - k1 + n_pre, w.shape[1] - 1)
    in_ahp = (cols > peak[:, None]) & (cols <= stop[:, None])
    trough = np.where(in_ahp, w, np.inf).min(axis=1)
    trough = np.where(np.isfinite(trough), trough, v_peak)
    return amplitude, width, v_thr - trough


def features(
    X: np.ndarray,
    currents: Sequence[float] = DEFAULT_CURRENTS_NA,
    *,
    dt: float = 0.05,
    t_baseline: float = 100.0,
    t_step: float = 300.0,
    chunk_size: int = 512,
) -> dict[str, np.ndarray]:
    """Simulate the protocol and extract current-clamp features.

    Args:
        X: ``(n, 11)`` parameters in :data:`PARAMETERS` order.
        currents: step amplitudes (nA); the first must be hyperpolarising, the others
            depolarising in increasing order.
        dt: time step (ms).
        t_baseline: zero-current baseline (ms).
        t_step: step duration (ms).
        chunk_size: points simulated together (bounds memory: traces are
            ``chunk_size * len(currents) * t_step / dt`` float32 values).

    Returns:
        ``name -> array``: ``(n,)`` ``rest``, ``baseline_max``, ``rin`` (MOhm), ``tau``
        (ms), ``first_isi`` (ms), ``adaptation`` (ratio, NaN with < 3 spikes), ``ap_amp``,
        ``ap_width``, ``ahp_depth`` (NaN without a spike on the strongest step), ``finite``
        (bool); ``(n, s-1)`` ``spike_count`` and ``latency`` (ms) per depolarising step.
    """
    X = _as_matrix(X)
    steps = np.asarray(currents, dtype=float)
    if steps.size < 3 or steps[0] >= 0 or np.any(np.diff(steps[1:]) <= 0):
        raise ValueError(
            "currents must be one hyperpolarising step followed by >= 2 increasing "
            f"depolarising steps, got {steps.tolist()}"
        )
    # Parameters outside the box may divide by zero or overflow; those lanes end up
    # non-finite and are reported through ``finite``, not as warnings.
    with np.errstate(all="ignore"):
        parts = [
            _features_chunk(X[i : i + chunk_size], steps, dt, t_baseline, t_step)
            for i in range(0, X.shape[0], chunk_size)
        ]
        if not parts:
            parts = [_features_chunk(X, steps, dt, t_baseline, t_step)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _features_chunk(
    X: np.ndarray, currents: np.ndarray, dt: float, t_baseline: float, t_step: float
) -> dict[str, np.ndarray]:
    n, s = X.shape[0], currents.size
    n_base, n_step = int(round(t_baseline / dt)), int(round(t_step / dt))
    cell = _Cell.from_array(X)
    state = _resting_state(cell, dt)
    state.V = state.V + KICK_MV
    state, _, base_max = _integrate(cell, state, 0.0, n_base, dt, record=False)
    rest = state.V.copy()
    density = np.tile(currents * 1e-3 / AREA_CM2, n)
    _, trace, step_max = _integrate(
        cell.repeat(s), state.repeat(s), density, n_step, dt, record=True
    )
    assert trace is not None
    finite = np.isfinite(base_max) & np.isfinite(step_max).reshape(n, s).all(axis=1)

    # Passive response to the hyperpolarising step (lanes 0, s, 2s, ...).
    hyp = trace[:, ::s].astype(float)  # (T, n)
    n_tail = max(int(round(10.0 / dt)), 1)
    deflection = hyp[-n_tail:].mean(axis=0) - hyp[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        rin = deflection / currents[0]  # mV / nA = MOhm
        frac = (hyp - hyp[0]) / deflection  # rises 0 -> 1
    reached = frac >= 1.0 - np.exp(-1.0)
    has_tau = reached.any(axis=0) & (deflection < 0)
    j = np.argmax(reached, axis=0)
    cols = np.arange(n)
    f1 = frac[j, cols]
    f0 = frac[np.maximum(j - 1, 0), cols]
    step_frac = np.where(f1 > f0, (1.0 - np.exp(-1.0) - f0) / np.where(f1 > f0, f1 - f0, 1.0), 0)
    tau = np.where(has_tau, (j - 1 + step_frac) * dt, t_step)

    # Spikes on the depolarising steps.
    lane, k, t = _crossings(trace, dt)
    counts = np.bincount(lane, minlength=n * s)
    first = np.searchsorted(lane, np.arange(n * s))  # index of each lane's first crossing
    safe = np.minimum(first, max(t.size - 1, 0))
    latency = np.where(counts > 0, t[safe] if t.size else 0.0, t_step)
    spike_count = counts.reshape(n, s)[:, 1:]
    latency = latency.reshape(n, s)[:, 1:]

    top = np.arange(n) * s + (s - 1)  # strongest step of each point
    c_top = counts[top]
    i0 = first[top]

    def spike_time(offset: int) -> np.ndarray:
        if t.size == 0:
            return np.zeros(n)
        return t[np.minimum(i0 + offset, t.size - 1)]

    def spike_sample(offset: int) -> np.ndarray:
        if k.size == 0:
            return np.zeros(n, dtype=np.intp)
        return k[np.minimum(i0 + offset, k.size - 1)]

    t_first, t_second = spike_time(0), spike_time(1)
    first_isi = np.where(c_top >= 2, t_second - t_first, t_step - np.where(c_top == 1, t_first, 0))
    last_idx = np.maximum(c_top - 1, 0)
    if t.size:
        t_last = t[np.minimum(i0 + last_idx, t.size - 1)]
        t_penult = t[np.minimum(i0 + np.maximum(last_idx - 1, 0), t.size - 1)]
    else:
        t_last = t_penult = np.zeros(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        adaptation = np.where(c_top >= 3, (t_last - t_penult) / (t_second - t_first), np.nan)

    ap_amp = np.full(n, np.nan)
    ap_width = np.full(n, np.nan)
    ahp = np.full(n, np.nan)
    spiking = np.nonzero(c_top >= 1)[0]
    if spiking.size:
        k1 = spike_sample(0)[spiking]
        k2 = np.where(c_top[spiking] >= 2, spike_sample(1)[spiking], trace.shape[0] - 1)
        amp, width, depth = _ap_shape(trace, top[spiking], k1, k2, dt)
        ap_amp[spiking], ap_width[spiking], ahp[spiking] = amp, width, depth
    return {
        "rest": rest,
        "baseline_max": base_max,
        "rin": rin,
        "tau": tau,
        "spike_count": spike_count.astype(float),
        "latency": latency,
        "first_isi": first_isi,
        "adaptation": adaptation,
        "ap_amp": ap_amp,
        "ap_width": ap_width,
        "ahp_depth": ahp,
        "finite": finite,
    }


# ------------------------------------------------------------------ the problem
def _window(x: np.ndarray, low: float, high: float, log: bool = False) -> np.ndarray:
    """``1 - |x - centre| / half_width``: >= 0 iff ``low <= x <= high``; NaN -> -inf-free -1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            x = np.log(np.where(x > 0, x, np.nan))
            low, high = np.log(low), np.log(high)
        c = 1.0 - np.abs(x - 0.5 * (low + high)) / (0.5 * (high - low))
    # An undefined feature (non-positive where a log is taken) is a plain violation.
    return np.where(np.isnan(c), -1.0, c)


class HHCellSimulator:
    """Vectorised objectives and constraints of ``hh-cell``: ``(n, 11) -> (Y, C)``.

    Module-level and holding only arrays, so it pickles for worker processes.

    Args:
        currents: step amplitudes (nA), hyperpolarising first.
        dt: time step (ms).
        ground_truth: parameters whose features are the targets.
        windows: feature windows of the constraints (see :data:`WINDOWS`).
        chunk_size: points simulated together.
    """

    def __init__(
        self,
        currents: Sequence[float] = DEFAULT_CURRENTS_NA,
        dt: float = 0.05,
        ground_truth: Mapping[str, float] | None = None,
        windows: Mapping[str, tuple[float, float]] | None = None,
        chunk_size: int = 512,
    ) -> None:
        self.currents = tuple(float(c) for c in currents)
        self.dt = float(dt)
        self.chunk_size = int(chunk_size)
        self.ground_truth = dict(GROUND_TRUTH if ground_truth is None else ground_truth)
        self.windows = dict(WINDOWS if windows is None else windows)
        self.targets = self._features(np.array([[self.ground_truth[k] for k in PARAMETERS]]))
        if not np.all(self.targets["spike_count"] > 0):
            raise ValueError("the ground truth must spike on every depolarising step")

    def _features(self, X: np.ndarray) -> dict[str, np.ndarray]:
        return features(X, self.currents, dt=self.dt, chunk_size=self.chunk_size)

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objectives ``(n, 4)`` and constraints ``(n, 7)`` of ``(n, 11)`` parameters."""
        return self.outputs(self._features(X))

    def outputs(self, f: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Objectives ``(n, 4)`` and constraints ``(n, 7)`` from :func:`features` output."""
        tg = self.targets
        with np.errstate(divide="ignore", invalid="ignore"):
            count_err = np.abs(np.log2((f["spike_count"] + 1.0) / (tg["spike_count"] + 1.0))).mean(
                axis=1
            )
            latency_err = np.abs(np.log2((f["latency"] + 1.0) / (tg["latency"] + 1.0))).mean(axis=1)
            amp_err = np.abs(f["ap_amp"] - tg["ap_amp"]) / 10.0
            width_err = np.abs(np.log2(f["ap_width"] / tg["ap_width"]))
            shape_err = 0.5 * (amp_err + width_err)
            ahp_err = np.abs(f["ahp_depth"] - tg["ahp_depth"]) / 5.0
        no_spike = f["spike_count"][:, -1] == 0
        shape_err = np.where(no_spike, NO_SPIKE_ERR, shape_err)
        ahp_err = np.where(no_spike, NO_SPIKE_ERR, ahp_err)
        # A pathological AP (zero width, ...) is a bad cell, not a failed run.
        shape_err = np.where(np.isnan(shape_err) | np.isinf(shape_err), NO_SPIKE_ERR, shape_err)
        ahp_err = np.where(np.isnan(ahp_err), NO_SPIKE_ERR, ahp_err)
        Y = np.stack([count_err, latency_err, shape_err, ahp_err], axis=1)

        w = self.windows
        adaptation_c = np.where(
            np.isnan(f["adaptation"]), -1.0, _window(f["adaptation"], *w["adaptation"], log=True)
        )
        C = np.stack(
            [
                _window(f["rest"], *w["rest_mv"]),
                _window(f["rin"], *w["rin_mohm"], log=True),
                _window(f["tau"], *w["tau_ms"], log=True),
                (SPIKE_THRESHOLD - f["baseline_max"]) / 10.0,
                np.diff(f["spike_count"], axis=1).min(axis=1) - 0.5,
                _window(f["first_isi"], *w["first_isi_ms"], log=True),
                adaptation_c,
            ],
            axis=1,
        )
        # The integration left finite values: NaN marks the whole point as failed.
        Y[~f["finite"]] = np.nan
        C[~f["finite"]] = np.nan
        return Y, C


class PassFail:
    """A simulator whose constraint values are reduced to +1 (satisfied) or -1.

    The case a classifier is for: a GP of such values learns no margins. Failed points
    keep NaN.
    """

    def __init__(self, simulator: HHCellSimulator) -> None:
        self.simulator = simulator

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Y, C = self.simulator(X)
        with np.errstate(invalid="ignore"):
            return Y, np.where(np.isnan(C), np.nan, np.where(C >= 0, 1.0, -1.0))


class HHCellEvaluate:
    """``evaluate(params: dict) -> dict`` wrapper around a :class:`HHCellSimulator`."""

    def __init__(self, simulator: HHCellSimulator | PassFail) -> None:
        self.simulator = simulator

    def __call__(self, params: Mapping[str, float]) -> dict[str, float]:
        Y, C = self.simulator(_as_matrix(params))
        out = dict(zip(OBJECTIVES, Y[0].tolist()))
        out.update(zip(CONSTRAINTS, C[0].tolist()))
        return out


def hh_cell(
    dt: float = 0.05,
    currents: Sequence[float] = DEFAULT_CURRENTS_NA,
    chunk_size: int = 512,
    pass_fail: bool = False,
) -> Problem:
    """The ``hh-cell`` problem: 11 parameters, 4 objectives, 7 constraints.

    Args:
        dt: integration time step (ms). Targets are recomputed at this ``dt``.
        currents: step amplitudes (nA): one hyperpolarising step, then increasing
            depolarising steps on which the ground truth spikes.
        chunk_size: points simulated together by ``batch_evaluate``.
        pass_fail: report each constraint as +1 (satisfied) or -1 only (the
            ``hh-cell-passfail`` problem).

    Returns:
        A :class:`Problem` with ``batch_evaluate`` and ``evaluate``, ``ref_point`` of
        ones and ``max_hv = 1`` (the ground truth is feasible with all objectives 0, so
        the Pareto front is the single ideal point and the maximum hypervolume is the
        product of the reference point). ``metadata["ground_truth"]`` holds the
        ground-truth parameters and ``metadata["targets"]`` their features.
    """
    sim = HHCellSimulator(currents=currents, dt=dt, chunk_size=chunk_size)
    targets: dict[str, Any] = {k: v[0].tolist() for k, v in sim.targets.items()}
    batch: HHCellSimulator | PassFail = PassFail(sim) if pass_fail else sim
    return Problem(
        name="hh-cell-passfail" if pass_fail else "hh-cell",
        parameters={k: (lo, hi) for k, (lo, hi, _, _) in PARAMETERS.items()},
        objectives=OBJECTIVES,
        constraints=CONSTRAINTS,
        evaluate=HHCellEvaluate(batch),
        batch_evaluate=batch,
        ref_point=[1.0] * len(OBJECTIVES),
        max_hv=1.0,
        description="Hodgkin-Huxley RS cell (Na, Kd, M, leak) fitted to current-clamp "
        + ("features, constraints as pass/fail only" if pass_fail else "features")
        + "; vectorised NumPy",
        metadata={
            "ground_truth": dict(GROUND_TRUTH),
            "targets": targets,
            "units": {k: v[3] for k, v in PARAMETERS.items()},
            "currents_na": list(sim.currents),
            "windows": dict(sim.windows),
            "dt": sim.dt,
        },
    )


def hh_cell_passfail(**kwargs: Any) -> Problem:
    """``hh-cell`` with every constraint reported as +1 / -1 (see :func:`hh_cell`)."""
    return hh_cell(pass_fail=True, **kwargs)
