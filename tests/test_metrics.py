import numpy as np
import pytest

from botorch_joint import metrics


def test_hypervolume_hand_computed():
    Y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0]])
    # Staircase under ref (4, 4): 3*1 + 2*1 + 1*1 ... = areas 1x3 + 1x2 + 1x1
    assert metrics.hypervolume(Y, [4, 4]) == pytest.approx(6.0)
    # Dominated and out-of-box points change nothing.
    Y2 = np.vstack([Y, [[3.5, 3.5], [5.0, 0.0]]])
    assert metrics.hypervolume(Y2, [4, 4]) == pytest.approx(6.0)
    assert metrics.hypervolume(np.empty((0, 2)), [4, 4]) == 0.0
    assert metrics.hypervolume(np.array([[0.0, 0.0, 0.0]]), [1, 2, 3]) == pytest.approx(6.0)
    assert metrics.hypervolume(np.array([[0.5], [0.2]]), [1.0]) == pytest.approx(0.8)


def test_normalized_and_history():
    Y = np.array([[2.0, 2.0], [np.nan, np.nan], [1.0, 3.0], [3.0, 1.0]])
    assert metrics.normalized_hypervolume(Y[[0]], [4, 4], 8.0) == pytest.approx(0.5)
    h = metrics.hypervolume_history(Y, [4, 4])
    np.testing.assert_allclose(h, [4.0, 4.0, 5.0, 6.0])
    h2 = metrics.hypervolume_history(Y, [4, 4], valid=np.array([True, True, False, True]))
    np.testing.assert_allclose(h2, [4.0, 4.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="max_hv"):
        metrics.normalized_hypervolume(Y[[0]], [4, 4], 0.0)


def test_igd_and_epsilon():
    ref = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert metrics.igd(ref, ref) == 0.0
    Y = np.array([[0.0, 2.0]])
    # distances: to (0,1) = 1; to (1,0) = sqrt(1 + 4)
    assert metrics.igd(Y, ref) == pytest.approx((1 + np.sqrt(5)) / 2)
    # eps: for (0,1): max(0-0, 2-1)=1; for (1,0): max(0-1, 2-0)=2 -> 2
    assert metrics.epsilon_indicator(Y, ref) == pytest.approx(2.0)
    assert metrics.epsilon_indicator(ref - 0.5, ref) == pytest.approx(-0.5)
    assert metrics.igd(np.empty((0, 2)), ref) == float("inf")


def test_nrmse_and_auc():
    true = np.array([0.0, 1.0, 2.0, 3.0])
    pred = true + np.array([1.0, -1.0, 1.0, -1.0])
    assert metrics.nrmse(pred, true) == pytest.approx(1.0 / 3.0)
    out = metrics.nrmse(np.c_[pred, true], np.c_[true, true])
    np.testing.assert_allclose(out, [1 / 3, 0.0])
    assert metrics.hv_auc([0.0, 0.5, 1.0, 1.0]) == pytest.approx(0.625)
    assert metrics.hv_auc([0.0, 0.5, 1.0, 1.0], normalize=False) == pytest.approx(2.5)
    with pytest.raises(ValueError, match="shape"):
        metrics.nrmse(np.zeros(3), np.zeros(4))


def test_non_dominated():
    Y = np.array([[1, 2], [2, 1], [2, 2], [1, 2]], dtype=float)
    np.testing.assert_array_equal(metrics.non_dominated(Y), [True, True, False, True])
    with pytest.raises(ValueError, match="non-finite"):
        metrics.hypervolume(np.array([[np.nan, 1.0]]), [2, 2])
