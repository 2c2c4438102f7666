import numpy as np
import pytest

from botorch_joint import designs


@pytest.mark.parametrize("name", ["slh", "lh", "mc", "sobol"])
def test_shape_range_and_seed(name):
    a = designs.sample(name, 17, 5, seed=3)
    b = designs.sample(name, 17, 5, seed=3)
    c = designs.sample(name, 17, 5, seed=4)
    assert a.shape == (17, 5)
    assert np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("name", ["slh", "lh"])
@pytest.mark.parametrize("n", [1, 8, 9])
def test_latin_property(name, n):
    U = designs.sample(name, n, 4, seed=0)
    strata = np.floor(U * n).astype(int)
    for j in range(4):
        assert sorted(strata[:, j]) == list(range(n))


@pytest.mark.parametrize("n", [8, 9])
def test_slh_symmetric(n):
    U = designs.slh(n, 3, seed=1)
    mirrored = {tuple(np.round(1 - u, 9)) for u in U}
    assert mirrored == {tuple(np.round(u, 9)) for u in U}


def test_sobol_is_balanced():
    U = designs.sobol(64, 2, seed=0)
    counts = np.histogram2d(U[:, 0], U[:, 1], bins=4, range=[[0, 1], [0, 1]])[0]
    assert np.all(counts == 4)


def test_errors():
    with pytest.raises(ValueError, match="unknown initial design 'grid'"):
        designs.sample("grid", 4, 2)
    with pytest.raises(ValueError, match="positive integer"):
        designs.lh(0, 2)
