"""Standardized pixels against scikit-learn's StandardScaler fitted on the training part: the
same numbers, bit for bit (runs keep the numbers StandardScaler gave them)."""

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from regui.core.scaling import SQUARED_ROWS, standardize


@pytest.mark.parametrize("rows", [5, SQUARED_ROWS, 2 * SQUARED_ROWS + 17, 1800])
def test_standardize_gives_standard_scalers_numbers_bit_for_bit(rows):
    rng = np.random.default_rng(rows)
    train = rng.integers(0, 256, (rows, 40)).astype(np.float64)  # pixels
    train[:, 3] = 7.0  # a constant pixel: centred, not divided
    train[:, 5] = 0.1  # constant, its mean not exactly 0.1: its variance is only rounding
    train[:, 8] = 1e6 + rng.standard_normal(rows)  # a large mean, a small spread
    train[:, 9] = rng.standard_normal(rows) / 255.0  # not whole numbers
    test = rng.integers(0, 256, (50, 40)).astype(np.float64)
    val = np.empty((0, 40))
    scaler = StandardScaler().fit(train)
    expected_train, expected_test = scaler.transform(train), scaler.transform(test)

    mean, scale = standardize(train, val, test)

    np.testing.assert_array_equal(mean, scaler.mean_)
    np.testing.assert_array_equal(scale, scaler.scale_)
    np.testing.assert_array_equal(train, expected_train)
    np.testing.assert_array_equal(test, expected_test)
    assert scale[3] == scale[5] == 1.0
    assert np.all(train[:, 3] == 0.0) and np.abs(train[:, 5]).max() < 1e-12
    assert val.shape == (0, 40)
    # And what standardizing means, computed independently: mean 0 and deviation 1 per varying column.
    varying = [c for c in range(40) if c not in (3, 5)]
    np.testing.assert_allclose(train[:, varying].mean(axis=0), 0, atol=1e-7)
    np.testing.assert_allclose(train[:, varying].std(axis=0), 1, rtol=1e-9)
