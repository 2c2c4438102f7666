"""Peer methods a user might pick instead of ours, as :class:`~botorch_joint.strategies.Strategy`.

Each peer runs inside the same :func:`botorch_joint.optimize` loop as our methods, with the
same budget, batch size, initial design and evaluation record; only the way the next batch
is chosen differs. Every peer drives its library through its ask/tell interface:

* ``optuna-gp``: optuna's ``GPSampler`` (log-EHVI for several objectives, log-EI for one),
  constrained through ``Trial.set_constraint`` (optuna >= 5; the older ``constraints_func``
  on optuna 4). A batch is asked trial by trial; the sampler conditions on the trials still
  running, so the points of one batch differ.
* ``nsga2``: pymoo's NSGA-II; the initial design is its first population (population size
  = initial design size), each batch is one generation of ``batch_size`` offspring, and
  constraints are handled by pymoo's constraint-domination.
* ``cma-es``: ``cma``'s CMA-ES on the equally weighted sum of the objectives, with Deb's
  feasibility rules (feasible before infeasible; infeasible ranked by total violation;
  failed last), population size = ``batch_size``, started at the best point of the
  initial design with step size ``sigma0`` in the unit cube.

Importing this module registers every peer as a method of
:func:`botorch_joint.strategies.register_method` (kind ``"peer"``), so the harness and
``bj.optimize(problem, method="nsga2")`` build them like the library's own methods.

Failed evaluations are told as failures (optuna: ``TrialState.FAIL``) or as the worst
infeasible points (pymoo, CMA-ES). Every library is imported lazily; :func:`peer_missing`
says which package a peer lacks.

A peer keeps the library's state in memory. On a resumed run (a fresh strategy given data
it has not seen) it replays the recorded evaluations into a new optimiser epoch by epoch,
so the run continues from the same data, though not bit-for-bit the same random stream.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from botorch_joint.designs import sample
from botorch_joint.strategies import register_method
from botorch_joint.strategies.base import Proposal, Strategy

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result

__all__ = [
    "PEERS",
    "CMAESPeer",
    "NSGA2Peer",
    "OptunaGPPeer",
    "PeerStrategy",
    "deb_fitness",
    "make_peer",
    "peer_missing",
    "register_peers",
]


class PeerStrategy(Strategy):
    """Common bookkeeping of the peers: initial design and telling new evaluations.

    Args:
        problem: the problem being optimised.
        budget: total evaluations, initial design included.
        seed: base seed (initial design and the library's own random stream).
        batch_size: evaluations per epoch after the initial design.
        initial_design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"``, drawn as
            ``designs.sample(initial_design, n, d, seed)`` in the unit cube.
    """

    #: the package the peer needs
    package: str = ""

    def __init__(
        self,
        problem: Problem,
        budget: int,
        seed: int = 0,
        *,
        batch_size: int = 20,
        initial_design: str = "slh",
    ) -> None:
        super().__init__(problem, budget, seed)
        self.batch_size = int(batch_size)
        self.initial_design = initial_design
        self._told = 0  # rows of the run's record already given to the library

    def initial(self, n: int) -> np.ndarray:
        return self.problem.from_unit(sample(self.initial_design, n, self.problem.dim, self.seed))

    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        t0 = time.perf_counter()
        for e in np.unique(data.epoch[self._told :]):
            rows = np.flatnonzero(data.epoch == e)
            rows = rows[rows >= self._told]
            self._tell(data, rows, int(e))
            self._told = int(rows[-1]) + 1
        X = np.asarray(self._ask(n), dtype=float).reshape(-1, self.problem.dim)
        X = np.clip(X, self.problem.lower, self.problem.upper)
        # The libraries fit their models inside ask/tell, so all of it counts as search.
        return Proposal(X[:n], search_seconds=time.perf_counter() - t0)

    def _tell(self, data: Result, rows: np.ndarray, epoch: int) -> None:
        """Give the library the evaluations ``rows`` (all of epoch ``epoch``) of ``data``."""
        raise NotImplementedError

    def _ask(self, n: int) -> np.ndarray:
        """``(<= n, d)`` new points in the problem's units."""
        raise NotImplementedError


def _violation(C: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """``(n,)`` total constraint violation ``sum max(0, -c)``; ``inf`` for failed rows."""
    if C.shape[1] == 0:
        v = np.zeros(len(C))
    else:
        with np.errstate(invalid="ignore"):
            v = np.sum(np.maximum(0.0, -np.where(np.isnan(C), -np.inf, C)), axis=1)
    return np.where(failed, np.inf, v)


def deb_fitness(Y: np.ndarray, C: np.ndarray, failed: np.ndarray) -> np.ndarray:
    """Scalar fitness (minimised) that orders points by Deb's feasibility rules.

    Feasible points are ranked by the sum of their objectives, all of them before any
    infeasible point; infeasible points by their total constraint violation; failed
    points (and points with infinite violation) last. Only the order matters to
    rank-based optimisers such as CMA-ES.

    Args:
        Y: ``(n, m)`` objectives (NaN rows for failures).
        C: ``(n, k)`` constraint values (satisfied iff ``>= 0``).
        failed: ``(n,)`` failure flags.

    Returns:
        ``(n,)`` finite fitness values.
    """
    failed = np.asarray(failed, dtype=bool) | ~np.all(np.isfinite(Y), axis=1)
    viol = _violation(C, failed)
    feasible = viol == 0
    f = np.where(failed, 0.0, np.nansum(np.where(np.isfinite(Y), Y, 0.0), axis=1))
    out = np.empty(len(Y))
    top = float(f[feasible].max()) if feasible.any() else 0.0
    out[feasible] = f[feasible]
    finite_viol = ~feasible & np.isfinite(viol)
    out[finite_viol] = top + 1.0 + viol[finite_viol]
    worst = float(out[finite_viol].max()) if finite_viol.any() else top + 1.0
    out[~feasible & ~np.isfinite(viol)] = worst + 1.0
    return out


# ------------------------------------------------------------------------- optuna
class OptunaGPPeer(PeerStrategy):
    """optuna's ``GPSampler`` driven by ``study.ask()`` / ``study.tell()``.

    The initial design is told as enqueued trials (fixed parameters), and
    ``n_startup_trials`` is the initial design size, so the GP proposes every later batch.

    Args:
        deterministic_objective: passed to ``GPSampler`` (our test problems are noiseless).
    """

    name = "optuna-gp"
    package = "optuna"

    def __init__(
        self,
        problem: Problem,
        budget: int,
        seed: int = 0,
        *,
        batch_size: int = 20,
        initial_design: str = "slh",
        deterministic_objective: bool = False,
    ) -> None:
        super().__init__(
            problem, budget, seed, batch_size=batch_size, initial_design=initial_design
        )
        self.deterministic_objective = deterministic_objective
        self._study: Any = None
        self._asked: list[tuple[Any, np.ndarray]] = []  # trials of the last proposal

    def _setup(self, n_startup: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self._set_constraint = hasattr(optuna.trial.Trial, "set_constraint")
        constraints_func = None
        if not self._set_constraint and self.problem.num_constraints:
            # optuna 4: constraints are read from the trial after tell().
            def constraints_func(trial: Any) -> list[float]:
                return list(trial.user_attrs["neg_c"])

        kwargs: dict[str, Any] = {
            "seed": self.seed,
            "n_startup_trials": max(1, n_startup),
            "deterministic_objective": self.deterministic_objective,
        }
        if constraints_func is not None:
            kwargs["constraints_func"] = constraints_func
        with _quiet():
            sampler = optuna.samplers.GPSampler(**kwargs)
        self._study = optuna.create_study(
            directions=["minimize"] * self.problem.num_objectives, sampler=sampler
        )
        p = self.problem
        self._dists = {
            name: optuna.distributions.FloatDistribution(float(lo), float(hi))
            for name, lo, hi in zip(p.parameter_names, p.lower, p.upper)
        }

    def _finish(self, trial: Any, y: np.ndarray, c: np.ndarray, failed: bool) -> None:
        state = self._optuna.trial.TrialState
        if failed or not np.all(np.isfinite(y)):
            self._study.tell(trial, state=state.FAIL)
            return
        # optuna: feasible iff value <= 0; ours: feasible iff c >= 0.
        neg_c = -np.asarray(c, dtype=float)
        finite = neg_c[np.isfinite(neg_c)]
        big = 1e3 * (1.0 + (np.abs(finite).max() if finite.size else 1.0))
        neg_c = np.nan_to_num(neg_c, nan=big, posinf=big, neginf=-big)
        if self._set_constraint:
            for name, v in zip(self.problem.constraint_names, neg_c):
                trial.set_constraint(name, float(v))
        else:
            trial.set_user_attr("neg_c", neg_c.tolist())
        self._study.tell(trial, [float(v) for v in y])

    def _tell(self, data: Result, rows: np.ndarray, epoch: int) -> None:
        if self._study is None:
            self._setup(int(np.sum(data.epoch == 0)))
        asked, self._asked = self._asked, []
        X = data.X[rows]
        match = len(asked) <= len(rows) and all(
            np.allclose(x, X[i], rtol=1e-9, atol=1e-12) for i, (_, x) in enumerate(asked)
        )
        if not match:
            for trial, _ in asked:  # cannot happen with the run loop; keep the study sane
                self._study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
            asked = []
        for i, r in enumerate(rows):
            if i < len(asked):
                trial = asked[i][0]
            else:  # initial design, top-ups and replays: trials with fixed parameters
                with _quiet():
                    params = self.problem.to_dict(data.X[r])
                    self._study.enqueue_trial(params, skip_if_exists=False)
                    trial = self._study.ask(self._dists)
            self._finish(trial, data.Y[r], data.C[r], bool(data.failed[r]))

    def _ask(self, n: int) -> np.ndarray:
        out = []
        with _quiet():
            for _ in range(n):
                trial = self._study.ask(self._dists)
                x = np.array([trial.params[p] for p in self.problem.parameter_names])
                self._asked.append((trial, x))
                out.append(x)
        return np.array(out)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence optuna's experimental/deprecation warnings (they are about its API, not us)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -------------------------------------------------------------------------- pymoo
class NSGA2Peer(PeerStrategy):
    """pymoo's NSGA-II driven by ``algorithm.ask()`` / ``algorithm.tell()`` in the unit cube.

    Args:
        pop_size: surviving population size (default: the initial design size).
    """

    name = "nsga2"
    package = "pymoo"

    def __init__(
        self,
        problem: Problem,
        budget: int,
        seed: int = 0,
        *,
        batch_size: int = 20,
        initial_design: str = "slh",
        pop_size: int | None = None,
    ) -> None:
        super().__init__(
            problem, budget, seed, batch_size=batch_size, initial_design=initial_design
        )
        self.pop_size = pop_size
        self._algo: Any = None

    def _setup(self, X0: np.ndarray) -> None:
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem as PymooProblem

        p = self.problem
        self._pproblem = PymooProblem(
            n_var=p.dim, n_obj=p.num_objectives, n_ieq_constr=p.num_constraints, xl=0.0, xu=1.0
        )
        pop = self.pop_size or max(len(X0), 2)
        self._algo = NSGA2(
            pop_size=pop, n_offsprings=self.batch_size, sampling=X0, eliminate_duplicates=True
        )
        self._algo.setup(self._pproblem, termination=("n_gen", 10**9), seed=self.seed)
        self._algo.ask()  # the initial population: the design we already evaluated

    def _tell(self, data: Result, rows: np.ndarray, epoch: int) -> None:
        from pymoo.core.evaluator import Evaluator
        from pymoo.core.population import Population
        from pymoo.problems.static import StaticProblem

        U = np.clip(self.problem.to_unit(data.X[rows]), 0.0, 1.0)
        if self._algo is None:
            self._setup(U)
        Y, C, failed = data.Y[rows], data.C[rows], data.failed[rows]
        failed = failed | ~np.all(np.isfinite(Y), axis=1)
        # pymoo: feasible iff G <= 0. Failed rows become the worst, most infeasible points.
        F = np.where(failed[:, None], 1e12, np.nan_to_num(Y, nan=1e12, posinf=1e12))
        out: dict[str, np.ndarray] = {"F": F}
        if C.shape[1]:
            G = np.nan_to_num(-C, nan=1e12, posinf=1e12, neginf=-1e12)
            out["G"] = np.where(failed[:, None], 1e12, G)
        pop = Population.new("X", U)
        Evaluator().eval(StaticProblem(self._pproblem, **out), pop)
        self._algo.tell(infills=pop)

    def _ask(self, n: int) -> np.ndarray:
        off = self._algo.ask()
        U = np.asarray(off.get("X"), dtype=float).reshape(-1, self.problem.dim)
        return self.problem.from_unit(np.clip(U[:n], 0.0, 1.0))


# ---------------------------------------------------------------------------- cma
class CMAESPeer(PeerStrategy):
    """CMA-ES (``cma``) on the sum of objectives with Deb's feasibility rules, in the unit cube.

    Args:
        sigma0: initial step size in the unit cube.
    """

    name = "cma-es"
    package = "cma"

    def __init__(
        self,
        problem: Problem,
        budget: int,
        seed: int = 0,
        *,
        batch_size: int = 20,
        initial_design: str = "slh",
        sigma0: float = 0.2,
    ) -> None:
        super().__init__(
            problem, budget, seed, batch_size=batch_size, initial_design=initial_design
        )
        self.sigma0 = float(sigma0)
        self._es: Any = None
        self._needs_ask = True

    def _tell(self, data: Result, rows: np.ndarray, epoch: int) -> None:
        U = np.clip(self.problem.to_unit(data.X[rows]), 0.0, 1.0)
        fit = deb_fitness(data.Y[rows], data.C[rows], data.failed[rows])
        if self._es is None:
            import cma

            x0 = U[int(np.argmin(fit))]
            opts = {
                "popsize": max(2, self.batch_size),
                "bounds": [0.0, 1.0],
                # cma seeds with 0 mean "random": keep runs reproducible
                "seed": self.seed + 1,
                "verbose": -9,
            }
            self._es = cma.CMAEvolutionStrategy(x0, self.sigma0, opts)
            self._needs_ask = True
            if epoch == 0:
                return  # the initial design only places the start
        if self._needs_ask:
            # cma alternates ask and tell; a replayed epoch (on resume) had no ask here.
            self._es.ask()
        self._es.tell([u for u in U], fit.tolist())
        self._needs_ask = True

    def _ask(self, n: int) -> np.ndarray:
        U = np.array(self._es.ask(), dtype=float)
        self._needs_ask = False
        return self.problem.from_unit(np.clip(U[:n], 0.0, 1.0))


# ----------------------------------------------------------------------- registry
PEERS: dict[str, type[PeerStrategy]] = {
    OptunaGPPeer.name: OptunaGPPeer,
    NSGA2Peer.name: NSGA2Peer,
    CMAESPeer.name: CMAESPeer,
}


def peer_missing(name: str) -> str | None:
    """Why the peer ``name`` cannot run here (a missing package), or ``None`` if it can."""
    cls = PEERS[name]
    if importlib.util.find_spec(cls.package) is None:
        return (
            f"peer {name!r} needs the {cls.package!r} package: "
            f"pip install {cls.package} (or the 'benchmarks' extra)"
        )
    return None


def make_peer(
    name: str,
    problem: Problem,
    *,
    budget: int,
    seed: int = 0,
    batch_size: int = 20,
    initial_design: str = "slh",
    options: dict[str, Any] | None = None,
) -> PeerStrategy:
    """Build the peer ``name`` (one of :data:`PEERS`) for ``problem``.

    Raises:
        KeyError: unknown peer.
        ImportError: its package is missing (the message says what to install).
    """
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; peers are {list(PEERS)}")
    why = peer_missing(name)
    if why is not None:
        raise ImportError(why)
    return PEERS[name](
        problem,
        budget,
        seed,
        batch_size=batch_size,
        initial_design=initial_design,
        **(options or {}),
    )


def _method_factory(name: str) -> Any:
    """A registry factory for the peer ``name`` (the run's sensitivity does not apply)."""

    def build(
        problem: Problem,
        *,
        method: str,
        budget: int,
        seed: int = 0,
        initial_design: str = "slh",
        sensitivity: str | None = None,
        batch_size: int = 20,
        **options: Any,
    ) -> PeerStrategy:
        return make_peer(
            name,
            problem,
            budget=budget,
            seed=seed,
            batch_size=batch_size,
            initial_design=initial_design,
            options=options,
        )

    return build


def register_peers() -> None:
    """Register every peer as a method (kind ``"peer"``); repeated calls change nothing."""
    for name in PEERS:
        register_method(
            name,
            _method_factory(name),
            kind="peer",
            missing=lambda name=name: peer_missing(name),
            replace=True,
        )


register_peers()
