"""Ridge regression on lagged spike counts."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from eag_augment._validation import non_negative_real
from eag_augment.decoders._base import LinearTrialDecoder

__all__ = ["RidgeDecoder"]

# Relative variance below which a feature counts as constant (its standard deviation is under
# 1e-5 of its size: float32 rates cannot resolve more, and the centred float64 variance of
# such a feature is mostly cancellation error).
_ROUND_OFF = 1e-10


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
        weighs neurons alike whatever their firing rate. Without ``fit_intercept`` the
        scale is the root mean square. Either way, a feature whose standard deviation is
        under 1e-5 of its size (a silent neuron; a generated rate that barely moves) is
        constant to round-off and gets no weight.

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

    def _solve(self, cff: np.ndarray, cfy: np.ndarray, n_samples: int,
               power: np.ndarray) -> np.ndarray:
        var = np.clip(np.diag(cff), 0.0, None)
        # A feature whose variance is below round-off of its own size (a silent neuron, or a
        # generator's rate that barely moves) is constant: its centred values are noise,
        # which standardising would blow up into a singular system. It gets no weight.
        used = var > _ROUND_OFF * np.maximum(power, np.finfo(np.float64).tiny)
        weights = np.zeros_like(cfy)
        if not used.any():
            return weights
        scale = np.sqrt(var[used]) if self.standardize else np.ones(int(used.sum()))
        gram = cff[np.ix_(used, used)] / np.outer(scale, scale)
        rhs = cfy[used] / scale[:, None]
        # cff and cfy are per-sample averages; alpha penalises the summed squared error.
        gram[np.diag_indices_from(gram)] += self.alpha / n_samples
        try:
            if self.alpha == 0:
                raise np.linalg.LinAlgError
            solved = scipy.linalg.solve(gram, rhs, assume_a="pos")
        except np.linalg.LinAlgError:
            # Least squares (alpha = 0) or a system round-off made indefinite.
            solved = np.linalg.lstsq(gram, rhs, rcond=None)[0]
        weights[used] = solved / scale[:, None]
        return weights
