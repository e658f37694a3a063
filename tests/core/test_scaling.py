"""Standardized pixels against scikit-learn's StandardScaler, fitted on the training part."""

import numpy as np
from sklearn.preprocessing import StandardScaler

from regui.core.scaling import SQUARED_ROWS, standardize


def test_standardize_matches_standard_scaler_fitted_on_the_training_part():
    rng = np.random.default_rng(3)
    rows = 2 * SQUARED_ROWS + 17  # several blocks of squares, the last one short
    train = rng.integers(0, 256, (rows, 40)).astype(np.float64)
    train[:, 3] = 7.0  # a constant pixel: centred, not divided
    train[:, 5] = 0.1  # constant, its mean not exactly 0.1: its variance is only rounding
    train[:, 8] = 1e6 + rng.standard_normal(rows)  # large mean, small spread
    test = rng.integers(0, 256, (50, 40)).astype(np.float64)
    val = np.empty((0, 40))
    scaler = StandardScaler().fit(train)
    expected_train, expected_test = scaler.transform(train), scaler.transform(test)

    mean, scale = standardize(train, val, test)

    np.testing.assert_allclose(mean, scaler.mean_, rtol=1e-15)
    np.testing.assert_allclose(scale, scaler.scale_, rtol=1e-12)
    np.testing.assert_allclose(train, expected_train, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(test, expected_test, rtol=1e-12, atol=1e-12)
    assert scale[3] == scale[5] == 1.0
    assert np.all(train[:, 3] == 0.0) and np.abs(train[:, 5]).max() < 1e-15
    assert val.shape == (0, 40)
