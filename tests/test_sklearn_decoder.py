"""SklearnDecoder: any scikit-learn regressor as a trial-tensor decoder on lagged counts."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.multioutput import MultiOutputRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR

from eag_augment._validation import InvalidParameterError
from eag_augment.decoders import RidgeDecoder, SklearnDecoder
from eag_augment.decoders._base import lag_trials


@pytest.fixture
def data(tiny_reach):
    return tiny_reach.spikes, tiny_reach.behavior


def test_matches_sklearn_ridge_on_the_lagged_rows(data):
    X, y = data
    decoder = SklearnDecoder(Ridge(alpha=3.0), lags=4).fit(X, y)
    rows = lag_trials(X, 4).reshape(-1, 4 * X.shape[2])
    direct = Ridge(alpha=3.0).fit(rows, y.reshape(-1, 2))
    np.testing.assert_allclose(decoder.predict(X), direct.predict(rows).reshape(y.shape),
                               rtol=1e-12, atol=1e-12)
    # The package's own ridge minimises the same objective (without standardising).
    ridge = RidgeDecoder(alpha=3.0, lags=4, standardize=False).fit(X, y)
    np.testing.assert_allclose(decoder.predict(X), ridge.predict(X), rtol=1e-7, atol=1e-7)
    assert decoder.score(X, y) == pytest.approx(ridge.score(X, y), abs=1e-9)


def test_single_output_regressors_are_fitted_per_dim(data):
    X, y = data
    decoder = SklearnDecoder(make_pipeline(StandardScaler(), SVR(C=100.0)), lags=2).fit(X, y)
    assert isinstance(decoder.estimator_, MultiOutputRegressor)
    assert decoder.predict(X).shape == y.shape and decoder.score(X, y) > 0.5
    one_dim = SklearnDecoder(SVR(), lags=2).fit(X, y[:, :, :1])
    assert isinstance(one_dim.estimator_, SVR) and one_dim.predict(X).shape == y[:, :, :1].shape


def test_grid_search_over_the_inner_estimator(data):
    X, y = data
    search = GridSearchCV(SklearnDecoder(Ridge()),
                          {"estimator__alpha": [0.1, 1e6], "lags": [1, 3]},
                          cv=KFold(3, shuffle=True, random_state=0)).fit(X, y)
    assert search.best_params_["estimator__alpha"] == 0.1  # 1e6 flattens every prediction
    assert search.best_estimator_.estimator_.alpha == 0.1
    assert set(search.cv_results_["params"][0]) == {"estimator__alpha", "lags"}


def test_clone_pickle_and_defaults(data):
    X, y = data
    decoder = SklearnDecoder(HistGradientBoostingRegressor(max_iter=5, random_state=0), lags=2)
    twin = clone(decoder)
    assert twin.estimator is not decoder.estimator and twin.get_params()["lags"] == 2
    decoder.fit(X, y)
    again = pickle.loads(pickle.dumps(decoder))
    np.testing.assert_array_equal(again.predict(X), decoder.predict(X))
    default = SklearnDecoder().fit(X, y)
    assert isinstance(default.estimator_, Ridge) and default.estimator is None


def test_bad_parameters_are_named_before_fitting(data):
    X, y = data
    with pytest.raises(InvalidParameterError, match="'estimator' parameter of SklearnDecoder"):
        SklearnDecoder(estimator="svr").fit(X, y)
    with pytest.raises(InvalidParameterError, match="'lags' parameter"):
        SklearnDecoder(lags=0).fit(X, y)
    with pytest.raises(ValueError, match="neurons"):
        SklearnDecoder().fit(X, y).predict(X[:, :, :3])
