"""``ei-network``: a recurrent spiking network of excitatory and inhibitory neurons.

``n_exc`` excitatory and ``n_inh`` inhibitory adaptive leaky integrate-and-fire neurons
with current-based exponential synapses, random sparse connectivity, transmission delays
and Poisson external drive, simulated with vectorised NumPy (several parameter sets side
by side in :meth:`EINetwork.simulate`).

Every realisation of randomness is fixed per problem instance (``seed``): the uniform
numbers that decide which connections exist (a connection ``j -> i`` exists iff
``U[j, i] < p``, so raising ``p`` only adds connections), the uniforms turned into
Poisson external input counts by inverse transform (so the drive grows monotonically with
the rate), and the initial membrane potentials. Equal parameters give equal outputs.

Neuron model (mV, ms)::

    tau_m dv/dt = -v + I_E - I_I - a_w          (reset to 10 mV at 20 mV, 2 ms refractory)
    tau_X dI_X/dt = -I_X, I_X += w tau_m / tau_X on each arriving spike of type X
    tau_adaptation da_w/dt = -a_w,   a_w += adaptation on each own spike (E cells only)

and each external input spike adds ``w_ext`` to ``v``. A PSP weight ``w`` is thus the
integral of the synaptic drive, roughly the PSP peak for fast synapses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from botorch_joint.problems.base import Problem

PARAMETERS: dict[str, tuple[float, float]] = {
    "w_e_to_e": (0.05, 1.5),  # mV
    "w_e_to_i": (0.05, 2.0),
    "w_i_to_e": (0.2, 6.0),
    "w_i_to_i": (0.2, 6.0),
    "p_e_to_e": (0.02, 0.4),
    "p_e_to_i": (0.02, 0.4),
    "p_i_to_e": (0.02, 0.4),
    "p_i_to_i": (0.02, 0.4),
    "nu_ext_e": (2.0, 30.0),  # Hz per external synapse
    "nu_ext_i": (2.0, 30.0),
    "w_ext": (0.05, 0.5),  # mV per external spike
    "tau_syn_e": (1.0, 8.0),  # ms
    "tau_syn_i": (2.0, 15.0),
    "delay_e": (0.5, 4.0),  # ms
    "delay_i": (0.5, 4.0),
    "adaptation": (0.0, 4.0),  # mV per spike
    "tau_adaptation": (30.0, 300.0),  # ms
}
# A hand-checked asynchronous-irregular regime (feasible for seeds 0-2): a known-good
# starting point and a test fixture, not the optimum.
REFERENCE_PARAMETERS: dict[str, float] = {
    "w_e_to_e": 0.16,
    "w_e_to_i": 1.35,
    "w_i_to_e": 5.7,
    "w_i_to_i": 4.7,
    "p_e_to_e": 0.4,
    "p_e_to_i": 0.24,
    "p_i_to_e": 0.38,
    "p_i_to_i": 0.33,
    "nu_ext_e": 23.7,
    "nu_ext_i": 24.1,
    "w_ext": 0.29,
    "tau_syn_e": 3.3,
    "tau_syn_i": 6.6,
    "delay_e": 1.6,
    "delay_i": 2.8,
    "adaptation": 0.33,
    "tau_adaptation": 190.0,
}
OBJECTIVES = ["rate_error", "cv_error", "synchrony_error"]
CONSTRAINTS = ["not_silent", "no_runaway", "ei_balance", "stable"]

_V_TH, _V_RESET, _T_REF = 20.0, 10.0, 2.0  # mV, mV, ms
_TAU_M_E, _TAU_M_I = 20.0, 10.0  # ms
_K_EXT = 400  # external synapses per neuron
_BIN = 5.0  # ms, spike-count bins for the synchrony measure
_CHUNK = 8  # networks simulated side by side


class EINetwork:
    """The network simulator, with its random realisation fixed by ``seed``.

    Args:
        n_exc: excitatory neurons.
        n_inh: inhibitory neurons.
        duration: recorded time (ms).
        warmup: simulated and discarded before recording (ms).
        dt: time step (ms).
        seed: seed of the network realisation (connectivity, drive, initial state).
    """

    parameter_names = tuple(PARAMETERS)

    def __init__(
        self,
        n_exc: int = 200,
        n_inh: int = 50,
        duration: float = 900.0,
        warmup: float = 100.0,
        dt: float = 0.25,
        seed: int = 0,
    ) -> None:
        if n_exc < 2 or n_inh < 2:
            raise ValueError(f"need at least 2 neurons per population, got {n_exc}, {n_inh}")
        self.n_exc, self.n_inh = int(n_exc), int(n_inh)
        self.duration, self.warmup, self.dt = float(duration), float(warmup), float(dt)
        self.seed = int(seed)
        self._realisation: dict[str, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # The realisation is regenerated from the seed in the receiving process.
        state = dict(self.__dict__)
        state["_realisation"] = None
        return state

    @property
    def n(self) -> int:
        return self.n_exc + self.n_inh

    @property
    def n_steps(self) -> int:
        return int(round((self.warmup + self.duration) / self.dt))

    @property
    def n_warmup(self) -> int:
        return int(round(self.warmup / self.dt))

    def realisation(self) -> dict[str, np.ndarray]:
        """Seeded random numbers: ``U`` ``(N, N)`` connection uniforms (no self-links),
        ``ext`` ``(steps, N)`` drive uniforms, ``v0`` ``(N,)`` initial potentials."""
        if self._realisation is None:
            rng = np.random.default_rng(self.seed)
            U = rng.uniform(size=(self.n, self.n))
            np.fill_diagonal(U, 2.0)  # never below a probability: no autapses
            self._realisation = {
                "U": U,
                "ext": rng.uniform(size=(self.n_steps, self.n)),
                "v0": rng.uniform(0.0, _V_TH, size=self.n),
            }
        return self._realisation

    def weights(self, x: np.ndarray) -> np.ndarray:
        """Weight matrix of one parameter vector, split by synapse type.

        Args:
            x: ``(17,)`` parameters.

        Returns:
            ``(N, 2N)``: row ``j`` (presynaptic) holds its jumps onto every neuron's
            excitatory current in columns ``[0, N)`` (E rows) or inhibitory current in
            columns ``[N, 2N)`` (I rows); jumps are already scaled by ``tau_m / tau_syn``.
        """
        p = dict(zip(self.parameter_names, x))
        U, ne, n = self.realisation()["U"], self.n_exc, self.n
        tau_m = np.r_[np.full(ne, _TAU_M_E), np.full(self.n_inh, _TAU_M_I)]
        W = np.zeros((n, 2 * n))
        for pre, post, key in (
            (slice(0, ne), slice(0, ne), "e_to_e"),
            (slice(0, ne), slice(ne, n), "e_to_i"),
            (slice(ne, n), slice(0, ne), "i_to_e"),
            (slice(ne, n), slice(ne, n), "i_to_i"),
        ):
            inh = key.startswith("i")
            cols = slice(post.start + n * inh, post.stop + n * inh)
            tau_syn = p["tau_syn_i"] if inh else p["tau_syn_e"]
            jump = p["w_" + key] * tau_m[post] / tau_syn
            W[pre, cols] = np.where(U[pre, post] < p["p_" + key], jump, 0.0)
        return W

    def simulate(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Simulate one network per row of ``X``.

        Args:
            X: ``(b, 17)`` parameter vectors.

        Returns:
            ``spikes`` ``(b, T, N)`` bool raster of the recorded period (T steps), and
            ``drive`` ``(b, N, 2)``, the mean excitatory (recurrent + external) and
            inhibitory synaptic drive onto every neuron (mV/ms).
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        outs = [self._simulate_chunk(X[i : i + _CHUNK]) for i in range(0, len(X), _CHUNK)]
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}

    def _simulate_chunk(self, X: np.ndarray) -> dict[str, np.ndarray]:
        b, n, ne, dt = X.shape[0], self.n, self.n_exc, self.dt
        real = self.realisation()
        P = {k: X[:, i] for i, k in enumerate(self.parameter_names)}
        W = np.stack([self.weights(x) for x in X])  # (b, N, 2N)
        exc = np.arange(n) < ne
        tau_m = np.where(exc, _TAU_M_E, _TAU_M_I)
        leak = dt / tau_m  # forward Euler; dt << tau_m
        dec_e = np.exp(-dt / P["tau_syn_e"])[:, None]
        dec_i = np.exp(-dt / P["tau_syn_i"])[:, None]
        dec_a = np.exp(-dt / P["tau_adaptation"])[:, None]
        jump_a = np.where(exc, 1.0, 0.0) * P["adaptation"][:, None]  # (b, N)
        d_e = np.maximum(np.rint(P["delay_e"] / dt).astype(int), 1)
        d_i = np.maximum(np.rint(P["delay_i"] / dt).astype(int), 1)
        L = int(max(d_e.max(), d_i.max())) + 1
        buf = np.zeros((L, b, 2 * n))  # pending arrivals: [E currents | I currents]
        n_ref = int(round(_T_REF / dt))
        # Inverse-transform Poisson counts: the same uniforms for every parameter set.
        lam = _K_EXT * dt * 1e-3 * np.where(exc, P["nu_ext_e"][:, None], P["nu_ext_i"][:, None])
        kmax = int(np.ceil(lam.max() + 10.0 * np.sqrt(lam.max()) + 10.0))
        cdf = _poisson_cdf(lam[:, [0, -1]], kmax)  # (b, 2, kmax): the E and I rates
        w_ext = P["w_ext"][:, None]

        v = np.broadcast_to(real["v0"], (b, n)).copy()
        cur_e = np.zeros((b, n))
        cur_i = np.zeros((b, n))
        adapt = np.zeros((b, n))
        ref = np.full((b, n), -1, dtype=np.int64)  # refractory up to this step
        n_warm = self.n_warmup
        T = self.n_steps - n_warm
        spikes = np.zeros((b, T, n), dtype=bool)
        ext_sum = np.zeros((b, n))
        block = 400
        for start in range(0, self.n_steps, block):
            u = real["ext"][start : start + block]  # (s, N)
            kick = np.empty((u.shape[0], b, n))
            for k in range(b):
                kick[:, k, :ne] = np.searchsorted(cdf[k, 0], u[:, :ne])
                kick[:, k, ne:] = np.searchsorted(cdf[k, 1], u[:, ne:])
            ext_sum += kick.sum(axis=0)
            kick *= w_ext
            for j in range(u.shape[0]):
                t = start + j
                slot = t % L
                cur_e += buf[slot, :, :n]
                cur_i += buf[slot, :, n:]
                buf[slot] = 0.0
                dv = cur_e - cur_i
                dv -= v
                dv -= adapt
                dv *= leak
                v += dv
                v += kick[j]
                np.copyto(v, _V_RESET, where=ref >= t)
                fired = v >= _V_TH
                if fired.any():
                    v[fired] = _V_RESET
                    ref[fired] = t + n_ref
                    adapt += fired * jump_a
                    if t >= n_warm:
                        spikes[:, t - n_warm] = fired
                    for k in np.flatnonzero(fired.any(axis=1)).tolist():
                        # Gather only the rows of neurons that fired: spikes are sparse.
                        arrivals = W[k, fired[k]].sum(axis=0)
                        buf[(t + d_e[k]) % L, k, :n] += arrivals[:n]
                        buf[(t + d_i[k]) % L, k, n:] += arrivals[n:]
                cur_e *= dec_e
                cur_i *= dec_i
                adapt *= dec_a
        # Mean drive in mV/ms: a current jump J = w tau_m / tau_syn decays with tau_syn,
        # so one spike moves v by J tau_syn / tau_m = w in total.
        rates = spikes.mean(axis=1) / dt  # spikes per ms, (b, N)
        jumps = np.einsum("bj,bjc->bc", rates, W)  # current jumps per ms, (b, 2N)
        drive_e = jumps[:, :n] * P["tau_syn_e"][:, None] / tau_m
        drive_e += ext_sum * w_ext / (self.n_steps * dt)
        drive_i = jumps[:, n:] * P["tau_syn_i"][:, None] / tau_m
        return {"spikes": spikes, "drive": np.stack([drive_e, drive_i], axis=-1)}


def _poisson_cdf(lam: np.ndarray, kmax: int) -> np.ndarray:
    """CDF of Poisson(lam) at ``0..kmax-1`` for an array of rates: ``lam.shape + (kmax,)``."""
    k = np.arange(kmax)
    logpmf = k * np.log(np.maximum(lam, 1e-300))[..., None] - lam[..., None]
    logpmf -= np.array([math.lgamma(i + 1) for i in k])
    cdf = np.cumsum(np.exp(logpmf), axis=-1)
    cdf[..., -1] = 1.0
    return cdf


# ------------------------------------------------------------------ features
def spike_statistics(spikes: np.ndarray, n_exc: int, dt: float) -> dict[str, np.ndarray]:
    """Population statistics of recorded rasters.

    Args:
        spikes: ``(b, T, N)`` bool rasters, excitatory neurons first.
        n_exc: number of excitatory neurons.
        dt: time step (ms).

    Returns:
        ``(b,)`` arrays: ``rate_e``, ``rate_i`` (Hz); ``rate_first``, ``rate_last``
        (Hz, whole network, first and last third of the record); ``peak_rate`` (Hz, the
        highest whole-network rate in 50 ms bins); ``cv`` (mean CV of the inter-spike
        intervals of excitatory neurons with at least 3 spikes, 0 if none);
        ``synchrony`` (Golomb's chi of excitatory spike counts in 5 ms bins, 0 if
        silent).
    """
    b, T, N = spikes.shape
    to_hz = 1e3 / dt
    rate_e = spikes[:, :, :n_exc].mean(axis=(1, 2)) * to_hz
    rate_i = spikes[:, :, n_exc:].mean(axis=(1, 2)) * to_hz
    third = T // 3
    rate_first = spikes[:, :third].mean(axis=(1, 2)) * to_hz
    rate_last = spikes[:, T - third :].mean(axis=(1, 2)) * to_hz
    per50 = max(int(round(50.0 / dt)), 1)
    n50 = T // per50
    pop50 = spikes[:, : n50 * per50].reshape(b, n50, per50, N).mean(axis=(2, 3)) * to_hz
    per_bin = max(int(round(_BIN / dt)), 1)
    nbins = T // per_bin
    counts = spikes[:, : nbins * per_bin, :n_exc].reshape(b, nbins, per_bin, n_exc).sum(axis=2)
    var_each = counts.var(axis=1).mean(axis=1)  # mean single-neuron variance
    var_pop = counts.mean(axis=2).var(axis=1)  # variance of the population mean
    synchrony = np.sqrt(np.divide(var_pop, var_each, out=np.zeros(b), where=var_each > 0))
    cv = np.array([_mean_cv(s[:, :n_exc]) for s in spikes])
    return {
        "rate_e": rate_e,
        "rate_i": rate_i,
        "rate_first": rate_first,
        "rate_last": rate_last,
        "peak_rate": pop50.max(axis=1),
        "cv": cv,
        "synchrony": synchrony,
    }


def _mean_cv(raster: np.ndarray) -> float:
    """Mean ISI coefficient of variation over neurons with >= 3 spikes; 0 if none."""
    neuron, t = np.nonzero(raster.T)  # sorted by neuron, then by time
    if neuron.size < 3:
        return 0.0
    same = neuron[1:] == neuron[:-1]
    isi = np.diff(t)[same].astype(float)
    owner = neuron[1:][same]
    n = np.bincount(owner, minlength=raster.shape[1])
    s1 = np.bincount(owner, isi, minlength=raster.shape[1])
    s2 = np.bincount(owner, isi * isi, minlength=raster.shape[1])
    ok = n >= 2
    if not ok.any():
        return 0.0
    mean = s1[ok] / n[ok]
    sd = np.sqrt(np.maximum(s2[ok] / n[ok] - mean**2, 0.0))
    return float(np.mean(sd / mean))


# ------------------------------------------------------------------- problem
def _band_deviation(rate: np.ndarray, band: tuple[float, ...]) -> np.ndarray:
    """Log-distance of ``rate`` (Hz) to the band ``[lo, hi]``; 0 inside."""
    r = np.maximum(rate, 0.01)
    return np.maximum(0.0, np.maximum(np.log(band[0] / r), np.log(r / band[1])))


class EINetworkObjectives:
    """Vectorised ``(n, 17) -> (Y (n, 3), C (n, 4))`` for :func:`ei_network`.

    Objectives (minimised):
        ``rate_error``: log-distance of the E rate to ``rate_band_e`` plus that of the I
        rate to ``rate_band_i`` (0 when both are inside their bands).
        ``cv_error``: ``|mean CV of E inter-spike intervals - cv_target|``.
        ``synchrony_error``: ``|chi - synchrony_target|``, Golomb's synchrony measure of
        the E population (about ``1/sqrt(n_exc)`` when asynchronous, 1 when locked).

    Constraints (satisfied iff ``>= 0``; log-ratio margins):
        ``not_silent``: ``min(ln(r_E / min_rate_e), ln(r_I / min_rate_i))``.
        ``no_runaway``: ``min(ln(max_rate_e / r_E), ln(max_rate_i / r_I))``.
        ``ei_balance``: the ratio of mean inhibitory to mean excitatory (recurrent plus
        external) drive onto E cells lies in ``balance_range``.
        ``stable``: the network rate of the last third of the record is within a factor
        ``max_drift`` of the first third's (1 Hz added to both against 0/0).
    """

    def __init__(
        self,
        network: EINetwork,
        rate_band_e: tuple[float, float] = (2.0, 10.0),
        rate_band_i: tuple[float, float] = (10.0, 40.0),
        cv_target: float = 1.0,
        synchrony_target: float = 0.2,
        min_rates: tuple[float, float] = (0.5, 1.0),
        max_rates: tuple[float, float] = (30.0, 80.0),
        balance_range: tuple[float, float] = (0.5, 1.2),
        max_drift: float = 1.5,
    ) -> None:
        self.network = network
        self.rate_band_e = tuple(map(float, rate_band_e))
        self.rate_band_i = tuple(map(float, rate_band_i))
        self.cv_target = float(cv_target)
        self.synchrony_target = float(synchrony_target)
        self.min_rates = tuple(map(float, min_rates))
        self.max_rates = tuple(map(float, max_rates))
        self.balance_range = tuple(map(float, balance_range))
        self.max_drift = float(max_drift)

    def features(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Simulate ``(n, 17)`` parameter vectors; :func:`spike_statistics` plus
        ``balance`` ``(n,)``."""
        net = self.network
        out = net.simulate(X)
        stats = spike_statistics(out["spikes"], net.n_exc, net.dt)
        drive = out["drive"][:, : net.n_exc].mean(axis=1)  # (n, 2) onto E cells
        stats["balance"] = drive[:, 1] / np.maximum(drive[:, 0], 1e-12)
        return stats

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.features(X)
        tiny = 0.01  # Hz; keeps the log margins finite for silent populations
        rate_e, rate_i = s["rate_e"] + tiny, s["rate_i"] + tiny
        Y = np.stack(
            [
                _band_deviation(s["rate_e"], self.rate_band_e)
                + _band_deviation(s["rate_i"], self.rate_band_i),
                np.abs(s["cv"] - self.cv_target),
                np.abs(s["synchrony"] - self.synchrony_target),
            ],
            axis=1,
        )
        lo, hi = self.balance_range
        bal = np.maximum(s["balance"], 1e-12)
        C = np.stack(
            [
                np.minimum(np.log(rate_e / self.min_rates[0]), np.log(rate_i / self.min_rates[1])),
                np.minimum(np.log(self.max_rates[0] / rate_e), np.log(self.max_rates[1] / rate_i)),
                np.minimum(np.log(bal / lo), np.log(hi / bal)),
                np.log(self.max_drift)
                - np.abs(np.log((s["rate_last"] + 1.0) / (s["rate_first"] + 1.0))),
            ],
            axis=1,
        )
        return Y, C


def ei_network(
    n_exc: int = 200,
    n_inh: int = 50,
    duration: float = 900.0,
    seed: int = 0,
    **targets: Any,
) -> Problem:
    """The ``ei-network`` problem: tune a spiking E/I network into a plausible regime.

    17 parameters (synaptic weights, connection probabilities, external rates and weight,
    synaptic time constants, delays, adaptation), 3 objectives and 4 constraints as in
    :class:`EINetworkObjectives`. About 9% of uniform random parameter vectors are
    feasible (``benchmarks/network_feasibility.py``).

    Args:
        n_exc: excitatory neurons.
        n_inh: inhibitory neurons.
        duration: recorded time per evaluation (ms), after a 100 ms warm-up.
        seed: the network realisation (connectivity, drive, initial state).
        **targets: target bands and constraint windows, passed to
            :class:`EINetworkObjectives` (e.g. ``rate_band_e=(2, 10)``).
    """
    network = EINetwork(n_exc, n_inh, duration=duration, seed=seed)
    objectives = EINetworkObjectives(network, **targets)
    return Problem(
        name="ei-network",
        parameters=PARAMETERS,
        objectives=OBJECTIVES,
        constraints=CONSTRAINTS,
        batch_evaluate=objectives,
        ref_point=[2.0, 1.0, 1.0],
        description=(
            f"spiking E/I network ({n_exc} E + {n_inh} I adaptive LIF): "
            "rates in band, irregular, weakly synchronous"
        ),
        metadata={
            "n_exc": n_exc,
            "n_inh": n_inh,
            "duration_ms": duration,
            "seed": seed,
            "reference_parameters": dict(REFERENCE_PARAMETERS),
        },
    )
