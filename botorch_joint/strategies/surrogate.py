"""The six surrogate methods of ``bj.optimize``: fit a model, then search it.

Every epoch the strategy fits the method's model to all evaluations so far (seeded
from ``(seed, epoch)``, so a resumed run proposes exactly what the original would
have), computes parameter sensitivities on the model, and runs
:class:`~botorch_joint.acquisition.search.SurrogateSearch`:

========================  =================================  ==========================
method                    model                              feasibility in the search
========================  =================================  ==========================
``c+o-ftt``/``-resnet``   ``JointSurrogate`` with             classification and value
                          constraint heads, mixed with a      heads pooled, mixed with
                          ``GPR`` per output by               ``Phi(mu_j / sigma_j)``
                          cross-validation
``o-ftt``/``-resnet``     ``JointSurrogate``, objectives      none: ranking of parents
                          only                                by observed feasibility
``gpr``                   ``GPR`` (one GP per outcome)        ``Phi(mu_j / sigma_j)``
``megp``                  ``MEGP`` (multi-output GP)          ``Phi(mu_j / sigma_j)``
========================  =================================  ==========================
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from botorch_joint.designs import sample
from botorch_joint.strategies.base import Proposal, Strategy, epoch_rng

if TYPE_CHECKING:
    from botorch_joint.problems.base import Problem
    from botorch_joint.result import Result

__all__ = ["SurrogateStrategy"]

#: method -> (model kind, backbone, uses constraints)
MODELS: dict[str, tuple[str, str | None, bool]] = {
    "c+o-ftt": ("joint", "ftt", True),
    "c+o-resnet": ("joint", "resnet", True),
    "o-ftt": ("joint", "ftt", False),
    "o-resnet": ("joint", "resnet", False),
    "gpr": ("gpr", None, True),
    "megp": ("megp", None, True),
}

#: Rows the GP of a network method's mixture conditions on at most. The GP is there for
#: the first few hundred evaluations (``docs/robust_search.md``); its exact fit grows
#: with the cube of the rows and would make the network method as slow as ``gpr`` on
#: thousands of evaluations. No proposal at 500 evaluations or fewer is affected
#: (``docs/benchmarks.md``, "HPC regime", has the timings behind the number).
MIXTURE_GP_MAX_ROWS = 500


class SurrogateStrategy(Strategy):
    """Fit the method's surrogate each epoch and search it for the next batch.

    Args:
        problem: the problem.
        method: one of :data:`MODELS`.
        budget: total evaluations.
        seed: base seed (epoch ``e`` uses ``(seed, e)``).
        initial_design: ``"slh"``, ``"lh"``, ``"mc"`` or ``"sobol"``.
        sensitivity: ``"sgrad"``, ``"fast"``, ``"dgsm"`` or ``None`` (uniform steps).
        batch_size: evaluations per epoch (informational; ``propose`` gets ``n``).
        model_options: keyword arguments for the model constructor (e.g.
            ``{"ensemble_size": 3, "max_epochs": 50}`` for the networks).
        search_options: tuning options of the search, a dict of
            :class:`~botorch_joint.acquisition.options.SearchOptions` field names (e.g.
            ``{"pop_size": 32, "explore_fraction": 0.1}``); an unknown or removed name
            is refused here, with a message that says what became of it.
        sensitivity_options: keyword arguments for the sensitivity estimator.
        fit_options: keyword arguments for :func:`~botorch_joint.models.fit_model`
            (training overrides such as ``{"max_epochs": 50}`` for the networks,
            ``fit_gpytorch_mll`` arguments for the GPs).
        num_threads: torch threads while proposing (``None``: leave torch's setting).
        gp_mixture: search a mixture of the network and a GP of every output, weighed
            per output by cross-validation (:func:`~botorch_joint.models.hybrid.
            stacking_weights`; the network's members each leave out one fold). ``None``
            (default): on for the joint methods with constraints (``c+o-``), off
            otherwise. At a few dozen evaluations the GP generalises better; the network
            takes over an output where held-out evaluations show it predicts better
            (``docs/robust_search.md``).
    """

    def __init__(
        self,
        problem: Problem,
        method: str,
        budget: int,
        seed: int = 0,
        initial_design: str = "slh",
        sensitivity: str | None = "sgrad",
        batch_size: int = 20,
        model_options: dict[str, Any] | None = None,
        search_options: dict[str, Any] | None = None,
        sensitivity_options: dict[str, Any] | None = None,
        fit_options: dict[str, Any] | None = None,
        num_threads: int | None = None,
        gp_mixture: bool | None = None,
    ) -> None:
        super().__init__(problem, budget, seed)
        if method not in MODELS:
            raise ValueError(f"unknown surrogate method {method!r}; choose one of {list(MODELS)}")
        if sensitivity not in (None, "sgrad", "fast", "dgsm"):
            raise ValueError(
                f"unknown sensitivity {sensitivity!r}; choose 'sgrad', 'fast', 'dgsm' or None"
            )
        self.name = method
        self.kind, self.backbone, self.uses_constraints = MODELS[method]
        self.initial_design = initial_design
        self.sensitivity = sensitivity
        self.batch_size = int(batch_size)
        self.model_options = dict(model_options or {})
        from botorch_joint.acquisition.options import SearchOptions

        SearchOptions.coerce(search_options)  # refuse unknown names before the run starts
        self.search_options = dict(search_options or {})
        self.sensitivity_options = dict(sensitivity_options or {})
        self.fit_options = dict(fit_options or {})
        self.num_threads = num_threads
        if gp_mixture is None:
            gp_mixture = self.kind == "joint" and self.uses_constraints
        if gp_mixture and self.kind != "joint":
            raise ValueError(f"gp_mixture applies to the network methods, not {method!r}")
        self.gp_mixture = bool(gp_mixture)
        self.last_model: Any = None

    # ----------------------------------------------------------------- design
    def initial(self, n: int) -> np.ndarray:
        return self.problem.from_unit(sample(self.initial_design, n, self.problem.dim, self.seed))

    # ------------------------------------------------------------------ model
    def fit(self, data: Result, epoch: int, kind: str | None = None) -> Any:
        """Fit this method's model to ``data``, seeded from ``(seed, epoch)``."""
        from botorch_joint.models import GPR, MEGP, JointSurrogate, fit_model

        kind = kind or self.kind
        model_seed = int(epoch_rng(self.seed, epoch).integers(2**31 - 1))
        # Options belong to the method's own model, not to the mixture's GP.
        own = kind == self.kind
        model_options = self.model_options if own else {}
        fit_options = self.fit_options if own else {}
        if not own:
            model_options = {"max_rows": MIXTURE_GP_MAX_ROWS, "seed": model_seed}
        X = torch.as_tensor(data.X, dtype=torch.float64)
        Y = torch.as_tensor(data.Y, dtype=torch.float64)
        C = torch.as_tensor(data.C, dtype=torch.float64) if self.problem.num_constraints else None
        bounds = torch.as_tensor(self.problem.bounds, dtype=torch.float64)
        with torch.random.fork_rng():
            torch.manual_seed(model_seed)
            if kind == "joint":
                # Failed rows stay: they teach the feasibility head where runs fail.
                model = JointSurrogate(
                    X,
                    Y,
                    C if self.uses_constraints else None,
                    backbone=self.backbone,
                    bounds=bounds,
                    seed=model_seed,
                    **({"holdout_folds": True} if self.gp_mixture else {}),
                    **model_options,
                )
            elif kind == "gpr":
                # Constraint GPs learn failed rows as violated (imputed values).
                model = GPR(X, Y, C, bounds=bounds, **model_options)
            else:
                # The Kronecker structure needs every output on every row.
                ok = torch.isfinite(Y).all(dim=-1)
                model = MEGP(
                    X[ok], Y[ok], None if C is None else C[ok], bounds=bounds, **model_options
                )
            model = fit_model(model, **fit_options)
        return model

    def _n_usable(self, data: Result) -> int:
        ok = ~data.failed & np.all(np.isfinite(data.Y), axis=1)
        if self.kind == "joint" and self.uses_constraints and self.problem.num_constraints:
            return len(data)  # failed rows still teach the feasibility head
        return int(ok.sum())

    # --------------------------------------------------------------- proposal
    def propose(self, data: Result, n: int, epoch: int) -> Proposal:
        rng = epoch_rng(self.seed, epoch)
        if self._n_usable(data) < 2:
            # Nothing to learn from yet: spend the batch on fresh uniform samples.
            X = self.problem.from_unit(rng.random((n, self.problem.dim)))
            return Proposal(X, info={"fallback": "too few successful evaluations"})
        threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        try:
            t0 = time.perf_counter()
            model = self.fit(data, epoch)
            ok = ~data.failed & np.all(np.isfinite(data.Y), axis=1)
            # The GP needs two successful rows; the network learns from failed ones too.
            gp = self.fit(data, epoch, "gpr") if self.gp_mixture and ok.sum() >= 2 else None
            mix: dict[str, Any] = {}
            search_model = model
            if gp is not None:
                from botorch_joint.models.hybrid import MixtureSurrogate, stacking_weights

                mix = stacking_weights(model, gp)
                search_model = MixtureSurrogate(model, gp, mix["weight"], mix["feasibility_weight"])
            self.last_model = model
            t1 = time.perf_counter()
            sens = None
            if self.sensitivity is not None:
                from botorch_joint.sensitivity import compute

                opts = {"seed": int(rng.integers(2**31 - 1)), **self.sensitivity_options}
                # The sensitivities of the model the search runs on: with a GP mixture
                # that is mostly the GP while data are few.
                sens = compute(
                    self.sensitivity,
                    search_model,
                    self.problem.bounds,
                    parameter_names=self.problem.parameter_names,
                    include_feasibility=self.uses_constraints,
                    **opts,
                )
            t2 = time.perf_counter()
            from botorch_joint.acquisition.search import SurrogateSearch

            use_feas = self.uses_constraints and self.problem.num_constraints > 0

            # Models say which constraints their feasibility predictions inform.
            informative = getattr(search_model, "feasibility_mask", None) if use_feas else None
            mask = None if informative is None else np.asarray(informative.cpu(), dtype=bool)
            search = SurrogateSearch(
                search_model,
                self.problem.bounds,
                sensitivity=None if sens is None else sens.indices,
                use_feasibility=use_feas,
                feasibility_mask=mask,
                ref_point=self.problem.ref_point,
                options=self.search_options,
            )
            res = search.propose(data.X, data.Y, data.C, data.failed, n, rng)
            t3 = time.perf_counter()
        finally:
            torch.set_num_threads(threads)
        info: dict[str, Any] = {
            "model": self.kind if self.backbone is None else f"{self.kind}-{self.backbone}",
            "sensitivity_seconds": t2 - t1,
            **res.info,
            **{f"mixture_{k}": v for k, v in mix.items()},
        }
        if mask is not None:
            info["constraints_used"] = int(mask.sum())
        if res.p_feasible is not None:
            info["predicted_p_feasible"] = [float(p) for p in res.p_feasible]
        if sens is not None:
            info["sensitivity"] = {k: round(v, 6) for k, v in sens.as_dict().items()}
        return Proposal(res.X, train_seconds=t1 - t0, search_seconds=t3 - t1, info=info)
