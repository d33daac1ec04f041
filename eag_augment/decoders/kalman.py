"""The standard BCI Kalman filter (Wu et al. 2003) with velocity as the state."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from eag_augment._validation import non_negative_int, positive_real
from eag_augment.decoders._base import (
    Moments,
    TrialDecoder,
    apply_lagged_filter,
    check_non_negative,
    lagged_moments,
)

__all__ = ["KalmanFilterDecoder"]


def _regress(mean_in, mean_out, c_in, c_in_out, c_out):
    """Least squares of outputs on inputs from their moments (see ``Moments.second_moments``).

    Returns ``(B, offset, residual covariance)`` with ``output ~ B @ input + offset``;
    rank-deficient inputs get the minimum-norm B.
    """
    B = np.linalg.lstsq(c_in, c_in_out, rcond=None)[0].T
    residual = c_out - B @ c_in_out
    # A covariance of nearly deterministic outputs (e.g. rates rather than counts) comes out
    # of the subtraction with negative round-off eigenvalues: keep its PSD part.
    w, V = np.linalg.eigh((residual + residual.T) / 2)
    return B, mean_out - B @ mean_in, (V * np.clip(w, 0.0, None)) @ V.T


def _add_ridge(cov: np.ndarray, ridge: float) -> np.ndarray:
    scale = max(float(np.trace(cov)) / cov.shape[0], np.finfo(np.float64).tiny)
    return cov + ridge * scale * np.eye(cov.shape[0])


class KalmanFilterDecoder(TrialDecoder):
    """Linear-Gaussian state-space decoder: velocity is the hidden state, spikes observe it.

    Model, per trial and bin ``t`` (state ``x`` = velocity, dims):

    - dynamics ``x[t+1] = A_ x[t] + state_offset_ + w``, ``w ~ N(0, W_)``;
    - observation ``z[t - observation_lag] = H_ x[t] + observation_offset_ + q``,
      ``q ~ N(0, Q_)``, where ``z`` is the spike count vector (square-rooted when
      ``sqrt_counts``), stacked over ``lags`` bins of history.

    All parameters are least-squares fits on the training trials (Wu et al. 2003): ``A_``,
    ``W_`` from consecutive bins within trials, ``H_``, ``Q_`` from velocity/spike pairs.
    ``predict`` filters every trial forward from the training mean (``initial_mean_``,
    ``initial_cov_``) of velocity at the first bin. A bin whose observation window would
    reach before the trial start (the first ``observation_lag + lags - 1`` bins) is treated
    as unobserved: it gets the dynamics' prediction, with no zero-padded update; such bins
    are also left out of the fit of ``H_`` and ``Q_``.

    The gain is computed through ``H' Q^-1 H`` (dims x dims), so filtering costs little
    even with hundreds of neurons, and all trials are filtered at once.

    Parameters
    ----------
    lags : int, default=1
        Bins of spike history stacked into one observation (1 = the classic filter).
    observation_lag : int, default=0
        Bins by which spikes lead velocity: the spikes of bin ``t - observation_lag``
        observe the velocity of bin ``t`` (e.g. 5 at 20 ms bins for a 100 ms lead).
    sqrt_counts : bool, default=False
        Observe square-rooted counts, which makes Poisson noise closer to Gaussian with
        constant variance; X must then be non-negative.
    fit_intercept : bool, default=True
        Fit the constant offsets of dynamics and observations (equivalently, a state
        component fixed at 1). Without it they are zero.
    ridge : float, default=1e-3
        Added to the diagonals of ``Q_`` and ``W_``, as a fraction of their mean diagonal,
        so they stay invertible when neurons are silent, outnumber the training bins, or
        velocity is constant.

    Attributes
    ----------
    A_ : array (dims, dims)
    state_offset_ : array (dims,)
    W_ : array (dims, dims)
        Process noise covariance (velocity units squared), ridge included.
    H_ : array (lags * n_neurons, dims)
        Rows ``k * n_neurons : (k + 1) * n_neurons`` belong to spikes ``k`` bins before the
        observation bin.
    observation_offset_ : array (lags * n_neurons,)
    Q_ : array (lags * n_neurons, lags * n_neurons)
        Observation noise covariance, ridge included.
    initial_mean_ : array (dims,)
    initial_cov_ : array (dims, dims)
    n_neurons_in_ : int
    n_outputs_ : int
    """

    _parameter_constraints: dict = {
        **TrialDecoder._parameter_constraints, "observation_lag": [non_negative_int],
        "sqrt_counts": ["boolean"], "fit_intercept": ["boolean"], "ridge": [positive_real]}

    def __init__(self, lags: int = 1, observation_lag: int = 0, sqrt_counts: bool = False,
                 fit_intercept: bool = True, ridge: float = 1e-3) -> None:
        self.lags = lags
        self.observation_lag = observation_lag
        self.sqrt_counts = sqrt_counts
        self.fit_intercept = fit_intercept
        self.ridge = ridge

    def _first_observed_bin(self) -> int:
        return self.observation_lag + self.lags - 1

    def _min_fit_bins(self) -> int:
        # One complete observation window, and two bins for the dynamics.
        return max(2, self._first_observed_bin() + 1)

    def _describe_history(self) -> str:
        return f"lags={self.lags}, observation_lag={self.observation_lag}"

    def _observations(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.sqrt_counts:
            check_non_negative(X, "sqrt_counts=True")
            return np.sqrt(X)
        return X

    def _fit(self, X, y, is_synthetic) -> None:
        center = bool(self.fit_intercept)
        Z = self._observations(X)
        n_dims = y.shape[2]

        dynamics = Moments(n_dims, n_dims)
        dynamics.add(y[:, :-1].reshape(-1, n_dims), y[:, 1:].reshape(-1, n_dims))
        dynamics.require_finite(y=y)
        A, c, W = _regress(*dynamics.second_moments(center))

        pairs = lagged_moments(Z, y, self.lags, lead=self.observation_lag, complete_only=True)
        mean_z, mean_x, czz, czx, cxx = pairs.second_moments(center)
        H, b, Q = _regress(mean_x, mean_z, cxx, czx.T, czz)

        self.A_, self.state_offset_, self.W_ = A, c, _add_ridge(W, self.ridge)
        self.H_, self.observation_offset_, self.Q_ = H, b, _add_ridge(Q, self.ridge)
        self.initial_mean_ = y[:, 0].mean(axis=0)
        self.initial_cov_ = np.atleast_2d(np.cov(y[:, 0], rowvar=False, bias=True))

    def _predict(self, X) -> np.ndarray:
        Z = self._observations(X)
        n_trials, n_bins, _ = Z.shape
        n_dims = self.A_.shape[0]
        # M = H' Q^-1 projects observations onto the state; G = H' Q^-1 H.
        M = scipy.linalg.solve(self.Q_, self.H_, assume_a="pos").T
        G = M @ self.H_
        projected = apply_lagged_filter(Z, M.T.reshape(self.lags, -1, n_dims))
        projected -= M @ self.observation_offset_
        eye = np.eye(n_dims)
        first, lead = self._first_observed_bin(), self.observation_lag

        out = np.empty((n_trials, n_bins, n_dims))
        x = np.broadcast_to(self.initial_mean_, (n_trials, n_dims)).copy()
        P = self.initial_cov_.copy()
        for t in range(n_bins):
            if t > 0:
                x = x @ self.A_.T + self.state_offset_
                P = self.A_ @ P @ self.A_.T + self.W_
            if t >= first:
                # Kalman update x += K (z - H x - b) with K = (I + P G)^-1 P H' Q^-1: the
                # matrix inverted is dims x dims, and P may be singular (e.g. at t = 0).
                gain = np.linalg.solve(eye + P @ G, P)
                x = x + (projected[:, t - lead] - x @ G) @ gain.T
                P = P - gain @ G @ P
                P = (P + P.T) / 2
            out[:, t] = x
        return out
