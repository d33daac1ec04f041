"""Malformed input to the decoders: refused up front with the argument named."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from eag_augment.decoders import (GRUDecoder, KalmanFilterDecoder, RidgeDecoder,
                                  WienerFilterDecoder)

LINEAR = [RidgeDecoder, WienerFilterDecoder, KalmanFilterDecoder]


@pytest.fixture
def data(tiny_reach):
    return tiny_reach.spikes.astype(float), tiny_reach.behavior


@pytest.mark.parametrize("decoder, error, match", [
    (RidgeDecoder(alpha=-1.0), ValueError, r"'alpha' parameter of RidgeDecoder.*-1.0"),
    (RidgeDecoder(alpha="abc"), TypeError, r"'alpha' parameter of RidgeDecoder.*'abc'"),
    (RidgeDecoder(lags=0), ValueError, r"'lags' parameter of RidgeDecoder.*Got 0"),
    (RidgeDecoder(lags=2.5), TypeError, r"'lags' parameter.*2.5"),
    (RidgeDecoder(standardize="yes"), TypeError, r"'standardize' parameter.*'yes'"),
    (WienerFilterDecoder(fit_intercept=None), TypeError, r"'fit_intercept' parameter.*None"),
    (KalmanFilterDecoder(ridge=0.0), ValueError, r"'ridge' parameter of KalmanFilterDecoder"),
    (KalmanFilterDecoder(observation_lag=-1), ValueError, r"'observation_lag' parameter.*-1"),
    (GRUDecoder(hidden_size="big"), TypeError, r"'hidden_size' parameter of GRUDecoder.*'big'"),
    (GRUDecoder(lr=float("nan")), ValueError, r"'lr' parameter of GRUDecoder.*nan"),
])
def test_bad_hyperparameters(data, decoder, error, match):
    with pytest.raises(error, match=match):
        decoder.fit(*data)


@pytest.mark.parametrize("change, error, match", [
    (lambda X, y: (X[0], y), ValueError, r"X must be a 3-D array .* got shape"),
    (lambda X, y: (X, y[:-1]), ValueError, "y must have shape"),
    (lambda X, y: (np.where(X > 2, np.nan, X), y), ValueError, "X contains .* NaN"),
    (lambda X, y: (X.astype(str), y), TypeError, "X must hold real numbers, got dtype <U"),
    (lambda X, y: (X + 1j, y), ValueError, "X: Complex data not supported"),
    (lambda X, y: (X[:, :0], y[:, :0]), ValueError, "X must not be empty"),
    (lambda X, y: (X, None), ValueError, "requires y to be passed"),
])
@pytest.mark.parametrize("klass", LINEAR)
def test_bad_data(data, klass, change, error, match):
    with pytest.raises(error, match=match):
        klass().fit(*change(*data))


@pytest.mark.parametrize("klass", LINEAR)
def test_predict_checks_its_input(data, klass):
    X, y = data
    with pytest.raises(NotFittedError):
        klass().predict(X)
    decoder = klass().fit(X, y)
    with pytest.raises(ValueError, match="X has 3 neurons but .* was fitted with 8"):
        decoder.predict(X[:, :, :3])


@pytest.mark.parametrize("klass", LINEAR)
@pytest.mark.parametrize("scaled", ["X", "y"])
def test_extreme_but_finite_values_get_a_clear_error(data, klass, scaled):
    X, y = data
    X, y = (X * 1e160, y) if scaled == "X" else (X, y * 1e160)
    with pytest.raises(ValueError,
                       match=rf"too large to fit .*largest \|{scaled}\| = [\d.]+e\+16\d"):
        klass().fit(X, y)
