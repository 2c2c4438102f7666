"""Sensitivity-weighted perturbation."""

from __future__ import annotations

import numpy as np
import pytest

from botorch_joint.acquisition import SensitivityWeightedPerturbation, perturbation_scales


def test_scales_follow_sensitivities():
    s = np.array([0.6, 0.3, 0.1, 0.0])
    finer = perturbation_scales(s, scale=0.1, direction="finer")
    coarser = perturbation_scales(s, scale=0.1, direction="coarser")
    assert np.all(np.diff(finer) >= 0)  # more sensitive -> smaller step
    assert np.all(np.diff(coarser) <= 0)
    assert finer[0] < 0.1 < finer[-1]
    np.testing.assert_allclose(perturbation_scales(s, 0.1, "uniform"), 0.1)
    # the overall (geometric-mean) step is kept before clipping
    mid = perturbation_scales(np.array([1.0, 2.0]), 0.1, "finer", ratio_limits=(0.01, 100))
    assert np.exp(np.log(mid).mean()) == pytest.approx(0.1)


def test_offspring_steps_follow_scales_and_stay_in_cube():
    s = np.array([0.7, 0.2, 0.1])
    pert = SensitivityWeightedPerturbation(s, scale=0.05, direction="finer", step_spread=0.0)
    parents = np.full((1, 3), 0.5)
    kids = pert(parents, 4000, np.random.default_rng(0))
    assert kids.shape == (4000, 3)
    assert np.all((kids >= 0) & (kids <= 1))
    spread = np.std(kids - 0.5, axis=0)
    np.testing.assert_allclose(spread, pert.scales, rtol=0.1)
    assert spread[0] < spread[1] < spread[2]


def test_clipping_keeps_children_on_a_bound():
    pert = SensitivityWeightedPerturbation(None, scale=0.1, dim=3, boundary="clip")
    kids = pert(np.zeros((400, 3)), None, 0)
    assert np.all((kids >= 0) & (kids <= 1))
    # every coordinate moves, and about half the steps point out of the cube
    on_face = (kids == 0).mean()
    assert 0.4 < on_face < 0.6
    with pytest.raises(ValueError, match="boundary"):
        SensitivityWeightedPerturbation(None, dim=3, boundary="wrap")


def test_reflection_and_mutation_rate():
    pert = SensitivityWeightedPerturbation(
        None, scale=0.3, dim=5, mutation_rate=0.2, boundary="reflect"
    )
    parents = np.zeros((50, 5))
    kids = pert(parents, None, 0)
    assert kids.shape == (50, 5)
    assert np.all((kids >= 0) & (kids <= 1))
    moved = kids > 0
    assert np.all(moved.sum(axis=1) >= 1)  # at least one coordinate always moves
    assert moved.mean() < 0.6


def test_bad_direction():
    with pytest.raises(ValueError, match="direction"):
        perturbation_scales([1.0], direction="sideways")
