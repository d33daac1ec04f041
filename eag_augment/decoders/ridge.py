"""Ridge regression on lagged spike counts."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from eag_augment._validation import non_negative_real
from eag_augment.decoders._base import LinearTrialDecoder

__all__ = ["RidgeDecoder"]


class RidgeDecoder(LinearTrialDecoder):
    """L2-regularised linear decoder of velocity from recent spike counts.

    Minimises ``||y - F w - b||^2 + alpha ||w||^2`` summed over all bins of all training
    trials, where ``F`` holds the lagged spike counts (standardised first when
    ``standardize``); the same objective and ``alpha`` scale as ``sklearn.linear_model.Ridge``
    (after ``StandardScaler``). Solved in closed form from feature covariances, so it is
    fast to refit in ``GridSearchCV(RidgeDecoder(), {"alpha": np.logspace(-4, 4, 9)})``;
    cross-validation folds are whole trials.

    Parameters
    ----------
    alpha : float, default=1.0
        Penalty strength (>= 0; 0 gives least squares, like :class:`WienerFilterDecoder`).
    lags : int, default=1
        Bins of spike history per prediction, the current bin included. History before a
        trial's first bin is zero-padded.
    fit_intercept : bool, default=True
        Fit a constant velocity offset (features and targets are centred first).
    standardize : bool, default=True
        Scale every lagged feature to unit variance before penalising, so that ``alpha``
        weighs neurons alike whatever their firing rate (features with zero variance are
        left unscaled). Without ``fit_intercept`` the scale is the root mean square.

    Attributes
    ----------
    coef_ : array (lags, n_neurons, dims)
        ``coef_[k]`` maps spike counts ``k`` bins back to velocity (velocity units per
        spike), in the units of the raw counts.
    intercept_ : array (dims,)
    n_neurons_in_ : int
    n_outputs_ : int
    """

    _parameter_constraints: dict = {**LinearTrialDecoder._parameter_constraints,
                                    "alpha": [non_negative_real], "standardize": ["boolean"]}
    _solver_params = ("alpha", "standardize")

    def __init__(self, alpha: float = 1.0, lags: int = 1, fit_intercept: bool = True,
                 standardize: bool = True) -> None:
        self.alpha = alpha
        self.lags = lags
        self.fit_intercept = fit_intercept
        self.standardize = standardize

    def _solve(self, cff: np.ndarray, cfy: np.ndarray, n_samples: int) -> np.ndarray:
        scale = np.ones(cff.shape[0])
        if self.standardize:
            scale = np.sqrt(np.diag(cff))
            # A constant feature has a variance of round-off size, not zero: scaling it up
            # by 1/sqrt(round-off) would amplify noise, so it is left as is.
            scale[scale <= 1e-10 * max(1.0, scale.max())] = 1.0
        gram = cff / np.outer(scale, scale)
        rhs = cfy / scale[:, None]
        if self.alpha == 0:
            weights = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        else:
            # cff and cfy are per-sample averages; alpha penalises the summed squared error.
            gram[np.diag_indices_from(gram)] += self.alpha / n_samples
            weights = scipy.linalg.solve(gram, rhs, assume_a="pos")
        return weights / scale[:, None]
