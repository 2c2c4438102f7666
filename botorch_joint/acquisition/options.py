"""The options of the surrogate search, and the settings that are not options.

:class:`SearchOptions` holds what a user may tune, each default with the measurement
behind it (the sections of ``docs/search.md`` named there). Everything else the search
needs is a module constant below, with the reason for its value: none of them was
varied by a measurement that asked for a different value, so none is an option.
``SurrogateStrategy(search_options={...})`` and ``optimize(method_options=
{"search_options": {...}})`` take a dict of option names; :meth:`SearchOptions.coerce`
refuses an unknown or removed name and says what became of it.

This module imports neither torch nor BoTorch, so settings can be checked cheaply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botorch_joint.errors import SettingsError

__all__ = [
    "CGD_LR",
    "CGD_LR_FINAL",
    "CLASSIFIER_EXPLORE_TEMPERING",
    "CROSSOVER_RATE",
    "EXPLORE_MIN_PROBABILITY",
    "EXPLORE_PARENTS",
    "EXPLORE_PROBES",
    "FEASIBILITY_ONLY",
    "FEASIBILITY_THRESHOLD",
    "MIN_DISTANCE",
    "PERTURBATION_DIRECTION",
    "POLISH_LR",
    "POLISH_SPREAD_PENALTY",
    "POLISH_STEPS",
    "PERTURBATION_STRENGTH",
    "RANDOM_FRACTION",
    "REMOVED_OPTIONS",
    "SearchOptions",
]

# --------------------------------------------------------------- fixed settings
#: Share of the offspring made by uniform crossover (each coordinate from either
#: parent) before perturbing: the usual even split of NSGA-II-style searches. Never
#: varied; the perturbation, not the crossover, is what the sensitivities shape.
CROSSOVER_RATE = 0.5

#: Share of the first population drawn uniformly at random (24 of 96); the rest are the
#: best evaluated points by Deb's rule. Keeps some members away from the data.
RANDOM_FRACTION = 0.25

#: Perturbation steps: finer on sensitive parameters, strength 0.5. Measured on true
#: functions (``docs/search.md``, "Evidence for finer"): "finer" beat "coarser" on the
#: feasible share of the offspring in 71 of 72 paired comparisons.
PERTURBATION_DIRECTION = "finer"
PERTURBATION_STRENGTH = 0.5

#: Adam step size of the constraint-gradient descent in the unit cube at the first
#: step, and the last step as a fraction of it (0.05 decaying to 0.005): early steps
#: travel, late ones settle instead of oscillating (``docs/search.md``,
#: "Constraint-gradient descent and trace samples").
CGD_LR = 0.05
CGD_LR_FINAL = 0.1

#: P(feasible) from which a candidate counts as predicted feasible, and enters the
#: hypervolume stage of the selection: even odds of a calibrated probability.
FEASIBILITY_THRESHOLD = 0.5

#: Duplicate radius, relative to the unit cube's diagonal: a candidate this close to an
#: evaluated or already chosen point repeats it.
MIN_DISTANCE = 1e-3

#: P(feasible) (after tempering) an exploration candidate needs; an optimistic
#: hypervolume improvement decides above it (``docs/search.md``, "Exploration slots").
EXPLORE_MIN_PROBABILITY = 0.1

#: The best evaluated points (Deb's rule) that seed the exploration probes, and the
#: number of probes (each a seed with one coordinate redrawn uniformly).
EXPLORE_PARENTS = 16
EXPLORE_PROBES = 256

#: ``explore_tempering`` of a model whose feasibility comes from classifiers: at a
#: normalised objective spread of 0.1 the logit counts as uncertain by about 1.6
#: (``sqrt(8 / pi)``). Measured on ``c2dtlz2`` (``docs/search.md``,
#: "Tempering a confident classifier"): median normalised HV 0.753 with it against
#: 0.632 without (four slots, five seeds).
CLASSIFIER_EXPLORE_TEMPERING = 0.1

#: Feasibility weight of the descents that seek feasibility alone (``feasibility_first``
#: while no evaluation is feasible): the objective term stays only to break ties.
FEASIBILITY_ONLY = 1e4

#: Projected Adam steps, and their size in the unit cube, that refine each exploitation
#: pick on ``log HVI + log P(feasible)`` (0 steps: no refinement). See
#: ``docs/search.md``, "Polishing the picks".
POLISH_STEPS = 30
POLISH_LR = 0.01

#: Weight of the predicted objective spread (``sum_j sigma_j / scale_j``) subtracted
#: from the polish score, so a pick does not climb the mean into a region the surrogate
#: only extrapolates. Tuning on seeds 0-4, budget 100 (``docs/search.md``, "Polishing
#: the picks"): median HV on mw7 0.324 with it against 0.245 without, osy 0.926 against
#: 0.914, c2dtlz2 0.583 against 0.573.
POLISH_SPREAD_PENALTY = 2.0

#: Former options: what became of each (the message of a refused name).
REMOVED_OPTIONS: dict[str, str] = {
    **{
        name: f"fixed at {value!r} (botorch_joint.acquisition.options.{const})"
        for name, const, value in [
            ("crossover_rate", "CROSSOVER_RATE", CROSSOVER_RATE),
            ("random_fraction", "RANDOM_FRACTION", RANDOM_FRACTION),
            ("direction", "PERTURBATION_DIRECTION", PERTURBATION_DIRECTION),
            ("strength", "PERTURBATION_STRENGTH", PERTURBATION_STRENGTH),
            ("cgd_lr", "CGD_LR", CGD_LR),
            ("cgd_lr_final", "CGD_LR_FINAL", CGD_LR_FINAL),
            ("feasibility_threshold", "FEASIBILITY_THRESHOLD", FEASIBILITY_THRESHOLD),
            ("hvi_min_probability", "FEASIBILITY_THRESHOLD", FEASIBILITY_THRESHOLD),
            ("min_distance", "MIN_DISTANCE", MIN_DISTANCE),
            ("explore_min_probability", "EXPLORE_MIN_PROBABILITY", EXPLORE_MIN_PROBABILITY),
            ("explore_parents", "EXPLORE_PARENTS", EXPLORE_PARENTS),
        ]
    },
    "dtype": "fixed at torch.float64",
    **{
        name: "removed with the local slots: reserving part of the batch for small "
        "steps around the observed front did not raise the c2dtlz2 hypervolume "
        "(docs/search.md)"
        for name in ("local_fraction", "local_scale", "local_samples")
    },
    "uncertainty_weight": "removed: an optimism bonus on every candidate lowered the "
    "c2dtlz2 hypervolume (docs/search.md); the exploration slots are the optimistic "
    "stage (explore_fraction, explore_weight)",
    "selection": "removed: the batch is always chosen by greedy hypervolume improvement, "
    "which beat selection by diversity alone (docs/search.md)",
    "ref_point": "not an option: the search takes the problem's ref_point (set it on the Problem)",
}


@dataclass(frozen=True)
class SearchOptions:
    """What a user may tune in :class:`~botorch_joint.acquisition.search.SurrogateSearch`.

    ``None`` means "derived from the model": the model's ``classifier_feasibility``
    capability (``True`` on :class:`~botorch_joint.models.JointSurrogate`, absent on
    the Gaussian processes) decides, see :meth:`resolve`. Sections cited are those of
    ``docs/search.md``.

    Attributes:
        pop_size: population of the evolutionary stage. With ``generations``,
            ``cgd_starts`` and ``cgd_steps`` it sets the cost of a search: sensitivity
            plus search took 1.2-1.4 s of a 27-28 s ``c+o-ftt`` epoch at ``n = 300``,
            ``d = 12`` ("Acceptance measurements", one epoch), so the search is not
            what to save on. The four were not tuned for quality; tests and tutorials
            shrink them for speed.
        generations: NSGA-II generations on the surrogate (see ``pop_size``).
        cgd_starts: constraint-gradient-descent starts (see ``pop_size``).
        cgd_steps: gradient steps per start (see ``pop_size``).
        perturbation_scale: geometric-mean perturbation step in the unit cube. Its
            loop default has not been tuned; on true functions smaller steps keep more
            offspring feasible (``hh-cell``: 76 % at 0.02, 50 % at 0.05, 27 % at 0.1)
            and larger ones reach the extremes of the front more often ("Evidence for
            finer", ``benchmarks/results/perturbation_direction.md``).
        feasibility_weight: ``lambda``, weight of ``-sum_j log P_j`` in the unified
            loss of the descent and of the fallback of the selection. 4 against 1:
            ``c2dtlz2`` median HV 0.556 against 0.492, ``hh-cell`` feasible share
            34.4 % against 29.7 % at a lower HV (0.684 against 0.803). After the
            gradient fix, 1.2 gave a lower HV on both (``hh-cell`` 0.738 against
            0.802, ``c2dtlz2`` 0.546 against 0.561) ("Calibrating the joint network's
            feasibility", "The gradient fix").
        explore_fraction: share of the batch chosen by optimistic hypervolume
            improvement among probes and all candidates ("Exploration slots"). 0.2
            (4 of 20) against 0.1: ``c2dtlz2`` median HV 0.753 against 0.607 with
            tempering (five seeds), at a cost on ``hh-cell`` (58.0 % feasible and HV
            0.953 against 60.9 % and 0.961). Use 0.1 where the front is connected.
        explore_weight: ``beta`` of the optimistic objectives ``mu - beta * sigma`` of
            the exploration slots. Not tuned: the exploration measurements above ran
            with 2.
        explore_tempering: in the exploration slots only, pull P(feasible) towards 1/2
            where the objective spread is large
            (:func:`~botorch_joint.acquisition.search.exploration_log_p`); 0 is off.
            ``None``:
            :data:`CLASSIFIER_EXPLORE_TEMPERING` (0.1) for classifier feasibility
            (0.753 against 0.632 on ``c2dtlz2``, "Tempering a confident classifier"),
            0 for GPs, whose ``Phi(mu / sigma)`` already widens away from the data.
        calibrate_feasibility: refit P(feasible) on the evaluations (a monotone
            logistic fit) before it is thresholded or weighs the selection. ``None``:
            on for classifier feasibility, whose product over correlated constraints is
            far too low (on ``hh-cell`` no candidate reached 0.5; the code before the
            calibration gave 35.5 % feasible and HV 0.532, the next measured state
            43.5 % and 0.690: "Calibrating the joint network's feasibility",
            "Acceptance measurements"), off for GPs.
        feasibility_first: while no evaluation is feasible, half the descents minimise
            the predicted violation alone from the least-violating evaluations, and
            half the batch (after exploration) is chosen by P(feasible) alone. Off,
            ``gpr`` found no feasible ``mw7`` point in 100 evaluations on 4 of 5 tuning
            seeds against 2 of 5 on (``docs/robust_search.md``, "Tuning evidence");
            ``c+o-ftt`` with it was feasible by evaluation 100 on all five acceptance
            seeds, by two batches after the design on three.
    """

    pop_size: int = 96
    generations: int = 10
    cgd_starts: int = 32
    cgd_steps: int = 25
    perturbation_scale: float = 0.08
    feasibility_weight: float = 4.0
    explore_fraction: float = 0.2
    explore_weight: float = 2.0
    explore_tempering: float | None = None
    calibrate_feasibility: bool | None = None
    feasibility_first: bool = True

    def __post_init__(self) -> None:
        cast: dict[str, Any] = {
            "pop_size": int,
            "generations": int,
            "cgd_starts": int,
            "cgd_steps": int,
            "perturbation_scale": float,
            "feasibility_weight": float,
            "explore_fraction": float,
            "explore_weight": float,
            "feasibility_first": bool,
        }
        for name, kind in cast.items():
            object.__setattr__(self, name, kind(getattr(self, name)))
        for name in ("explore_tempering",):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.calibrate_feasibility is not None:
            object.__setattr__(self, "calibrate_feasibility", bool(self.calibrate_feasibility))
        if self.pop_size < 1:
            raise SettingsError(f"pop_size must be >= 1, got {self.pop_size}")
        for name in ("generations", "cgd_starts", "cgd_steps"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("perturbation_scale", "feasibility_weight", "explore_weight"):
            if not getattr(self, name) >= 0:  # also rejects NaN
                raise SettingsError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.explore_fraction <= 1.0:
            raise SettingsError(
                f"explore_fraction must be in [0, 1], got {self.explore_fraction!r}"
            )
        if self.explore_tempering is not None and not self.explore_tempering >= 0:
            raise SettingsError(f"explore_tempering must be >= 0, got {self.explore_tempering!r}")

    @classmethod
    def names(cls) -> list[str]:
        """The option names, in declaration order."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def coerce(cls, options: SearchOptions | Mapping[str, Any] | None) -> SearchOptions:
        """``options`` as a :class:`SearchOptions` (``None``: every default).

        Raises:
            SettingsError: a name that is not an option; the message says, for a former
                option, what became of it, and lists the options.
        """
        if options is None:
            return cls()
        if isinstance(options, SearchOptions):
            return options
        if not isinstance(options, Mapping):
            raise SettingsError(
                f"search options must be a SearchOptions or a dict, got {type(options)}"
            )
        unknown = [k for k in options if k not in cls.names()]
        if unknown:
            lines = [f"{k!r}: {REMOVED_OPTIONS.get(k, 'not a search option')}" for k in unknown]
            raise SettingsError(
                "unknown search option(s): "
                + "; ".join(lines)
                + f". The search options are: {', '.join(cls.names())}"
            )
        return cls(**dict(options))

    def resolve(self, model: object) -> SearchOptions:
        """These options with the ``None`` defaults derived from ``model``.

        A model whose feasibility comes from classifiers says so with a true
        ``classifier_feasibility`` attribute; others (GPs, mixtures) leave it unset.
        """
        classifier = bool(getattr(model, "classifier_feasibility", False))
        tempering = self.explore_tempering
        if tempering is None:
            tempering = CLASSIFIER_EXPLORE_TEMPERING if classifier else 0.0
        calibrate = self.calibrate_feasibility
        if calibrate is None:
            calibrate = classifier
        return dataclasses.replace(
            self, explore_tempering=tempering, calibrate_feasibility=calibrate
        )

    def as_dict(self) -> dict[str, Any]:
        """The options as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)
