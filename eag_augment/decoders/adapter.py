"""Any scikit-learn regressor as a trial-tensor decoder, on lagged spike counts.

Neural_Decoding's menu (SVR, XGBoost, random forests, dense networks over a window of bins)
is a scikit-learn regressor fed one row per bin: the bin's spike counts and those of the
``lags - 1`` bins before it. :class:`SklearnDecoder` builds those rows from trial tensors
(zero-padded before each trial's first bin, as every decoder here) and maps predictions back
to (trials, bins, dims).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import Ridge
from sklearn.multioutput import MultiOutputRegressor
from sklearn.utils import get_tags

from eag_augment._validation import HasMethods
from eag_augment.decoders._base import TrialDecoder, lag_trials

__all__ = ["SklearnDecoder"]


class SklearnDecoder(TrialDecoder):
    """A scikit-learn regressor decoding each bin's velocity from recent spike counts.

    Each bin of each trial is one sample whose features are the spike counts of that bin and
    of the ``lags - 1`` bins before it (``lags * neurons`` features; zeros before the trial
    start), and whose targets are that bin's velocity. A regressor that predicts one output
    only (SVR, for instance; its tags say ``multi_output=False``) is fitted once per velocity
    dim through :class:`sklearn.multioutput.MultiOutputRegressor`.

    Parameters
    ----------
    estimator : scikit-learn regressor, default=None
        Cloned before fitting; ``sklearn.linear_model.Ridge()`` when None. Features are raw
        counts: put scaling in the estimator, e.g.
        ``make_pipeline(StandardScaler(), SVR())``. Its hyperparameters are searched as
        ``estimator__<name>`` (``estimator__svr__C`` inside such a pipeline).
    lags : int, default=1
        Bins of spike history per prediction, the current bin included.

    Attributes
    ----------
    estimator_ : the fitted regressor (a MultiOutputRegressor around a clone of
        ``estimator`` when it predicts one output and y has several dims).
    n_neurons_in_ : int
    n_outputs_ : int

    Examples
    --------
    >>> from sklearn.svm import SVR
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> decoder = SklearnDecoder(make_pipeline(StandardScaler(), SVR(C=3.0)), lags=5)
    """

    _parameter_constraints: dict = {**TrialDecoder._parameter_constraints,
                                    "estimator": [HasMethods(["fit", "predict"]), None]}

    def __init__(self, estimator=None, lags: int = 1) -> None:
        self.estimator = estimator
        self.lags = lags

    def _features(self, X: np.ndarray) -> np.ndarray:
        """(trials * bins, lags * neurons) rows, bins of a trial consecutive."""
        lagged = lag_trials(X, self.lags)
        return lagged.reshape(-1, lagged.shape[2])

    def _fit(self, X, y, is_synthetic) -> None:
        est = Ridge() if self.estimator is None else clone(self.estimator)
        targets = y.reshape(-1, y.shape[2])
        if not get_tags(est).target_tags.multi_output:
            if y.shape[2] > 1:
                est = MultiOutputRegressor(est)
            else:
                targets = targets.ravel()  # what single-output regressors expect
        self.estimator_ = est.fit(self._features(X), targets)

    def _predict(self, X) -> np.ndarray:
        out = np.asarray(self.estimator_.predict(self._features(X)), dtype=np.float64)
        return out.reshape(X.shape[0], X.shape[1], self.n_outputs_)
