"""Wiener filter: unregularised least squares on lagged spike counts."""

from __future__ import annotations

import numpy as np

from eag_augment.decoders._base import LinearTrialDecoder

__all__ = ["WienerFilterDecoder"]


class WienerFilterDecoder(LinearTrialDecoder):
    """The classic BCI Wiener filter: velocity as a linear function of recent spike counts.

    ``y[t] = sum_{k < lags} X[t-k] @ coef_[k] + intercept_``, fitted by ordinary least
    squares over all bins of all training trials. No regularisation: this is the field's
    standard baseline, and with many neurons x lags and few trials it overfits (use
    :class:`RidgeDecoder` then). Rank-deficient problems (silent neurons, more features
    than bins) get the minimum-norm solution.

    Parameters
    ----------
    lags : int, default=10
        Bins of spike history per prediction, the current bin included (10 bins = 200 ms
        at 20 ms bins). History before a trial's first bin is zero-padded.
    fit_intercept : bool, default=True
        Fit a constant velocity offset.

    Attributes
    ----------
    coef_ : array (lags, n_neurons, dims)
        ``coef_[k]`` maps spike counts ``k`` bins back to velocity (velocity units per spike).
    intercept_ : array (dims,)
    n_neurons_in_ : int
    n_outputs_ : int
    """

    def __init__(self, lags: int = 10, fit_intercept: bool = True) -> None:
        self.lags = lags
        self.fit_intercept = fit_intercept

    def _solve(self, cff: np.ndarray, cfy: np.ndarray, n_samples: int,
               power: np.ndarray) -> np.ndarray:
        return np.linalg.lstsq(cff, cfy, rcond=None)[0]
