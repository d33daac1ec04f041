"""Trial-to-trial variability that behaviour does not explain, in real and generated trials.

A generator that adds information to decoder training has to vary its trials the way real
trials vary at the same behaviour, not only by Poisson noise around one rate per condition.
Three views of that variability, all as ratios to the mean (for counts, 1 is Poisson around a
rate that the behaviour fixes; for rates, 0 is no variability at fixed behaviour):

- :func:`residual_fano_factor` works on any set of trials, real or generated, with the same
  estimator: spike counts minus their cross-validated linear prediction from the velocity
  around each bin, squared, summed, over the summed counts. It is an upper bound on the
  Fano factor at fixed behaviour (what the linear model misses counts as variability), and
  the same bound for every set it is applied to.
- :func:`conditional_rate_dispersion` works on a generator's rates, several samples per
  condition: the variance of the rates across samples at one condition over the mean rate.
  Counts drawn from them have a Fano factor of 1 plus this at fixed condition.
- :func:`residual_rate_dispersion` is the first estimator applied to rates instead of counts:
  to a generator's rates (one trial per condition) and to the rates an autoencoder infers
  from real trials, so the two can be compared in the same units as the second.

:func:`velocity_residuals` gives the residuals the first and third square.
"""

from __future__ import annotations

import numpy as np

from eag_augment._arrays import validate_spikes

__all__ = ["conditional_rate_dispersion", "residual_fano_factor", "residual_rate_dispersion",
           "velocity_residuals"]


def _lagged(behavior: np.ndarray, lags: int) -> np.ndarray:
    """Features (trials, bins, (2 * lags + 1) * (dims + 1) + 1): the behaviour and its norm at
    bin offsets -lags..lags inside each trial (edges repeated), and a constant."""
    b = np.concatenate([behavior, np.linalg.norm(behavior, axis=-1, keepdims=True)], axis=-1)
    n_bins = b.shape[1]
    idx = np.clip(np.arange(n_bins)[:, None] + np.arange(-lags, lags + 1)[None, :], 0,
                  n_bins - 1)                                      # (bins, offsets)
    shifted = b[:, idx, :].reshape(b.shape[0], n_bins, -1)
    return np.concatenate([shifted, np.ones(shifted.shape[:2] + (1,))], axis=-1)


def velocity_residuals(values, behavior, *, lags: int = 3, alpha: float = 1.0,
                       n_splits: int = 5) -> np.ndarray:
    """``values`` (trials, bins, neurons: counts or rates) minus their cross-validated ridge
    prediction from the behaviour around each bin: what the residual measures square.

    ``lags``, ``alpha`` and ``n_splits`` are those of :func:`residual_fano_factor`. Returns
    an array of the shape of ``values``.
    """
    X = np.asarray(values, dtype=np.float64)
    if X.ndim != 3:
        raise ValueError(f"values must be (trials, bins, neurons), got shape {X.shape}")
    b = np.asarray(behavior, dtype=np.float64)
    if b.ndim != 3 or b.shape[:2] != X.shape[:2]:
        raise ValueError(f"behavior must be (trials, bins, dims) with the trials and bins of "
                         f"the counts or rates {X.shape[:2]}, got shape {b.shape}")
    if not np.isfinite(b).all():
        raise ValueError("behavior contains NaN or infinite values")
    if int(lags) != lags or lags < 0:
        raise ValueError(f"lags must be an integer >= 0, got {lags!r}")
    if not alpha >= 0:
        raise ValueError(f"alpha must be >= 0, got {alpha!r}")
    if int(n_splits) != n_splits or not 2 <= n_splits <= len(X):
        raise ValueError(f"n_splits must be an integer in [2, {len(X)}] (the trials), got "
                         f"{n_splits!r}")
    scale = b.reshape(-1, b.shape[-1]).std(axis=0)
    F = _lagged(b / np.where(scale > 0, scale, 1.0), int(lags))
    penalty = alpha * np.eye(F.shape[-1])
    penalty[-1, -1] = 0.0
    residual = np.empty_like(X)
    for test in np.array_split(np.arange(len(X)), int(n_splits)):
        train = np.setdiff1d(np.arange(len(X)), test)
        Ft, Xt = F[train].reshape(-1, F.shape[-1]), X[train].reshape(-1, X.shape[-1])
        W = np.linalg.solve(Ft.T @ Ft + penalty, Ft.T @ Xt)
        residual[test] = X[test] - F[test] @ W
    return residual


def _residual_ratio(values: np.ndarray, behavior, lags: int, alpha: float,
                    n_splits: int) -> np.ndarray:
    """Per neuron: squared velocity residuals of ``values`` (trials, bins, neurons), summed,
    over the summed values."""
    residual = velocity_residuals(values, behavior, lags=lags, alpha=alpha, n_splits=n_splits)
    total = np.asarray(values, dtype=np.float64).sum(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (residual ** 2).sum(axis=(0, 1)) / total, np.nan)


def residual_fano_factor(spikes, behavior, *, lags: int = 3, alpha: float = 1.0,
                         n_splits: int = 5) -> np.ndarray:
    """Per neuron: squared residuals of a cross-validated linear encoding model over counts.

    Parameters
    ----------
    spikes : array (trials, bins, neurons)
        Spike counts per bin.
    behavior : array (trials, bins, dims)
        The behaviour of each bin (e.g. velocity), in any fixed units.
    lags : int, default=3
        Bins of behaviour on each side of a bin that predict its counts.
    alpha : float, default=1.0
        Ridge penalty on the features (behaviour standardised first; the constant is not
        penalised).
    n_splits : int, default=5
        Folds of whole, consecutive trials: each trial's counts are predicted by a model
        fitted on the other folds.

    Returns
    -------
    array (neurons,)
        ``sum((counts - prediction)^2) / sum(counts)`` over trials and bins; NaN for a neuron
        without spikes. Poisson counts around rates that are linear in the features give
        about 1.
    """
    return _residual_ratio(validate_spikes(spikes, "spikes"), behavior, lags, alpha, n_splits)


def residual_rate_dispersion(rates, behavior, *, lags: int = 3, alpha: float = 1.0,
                             n_splits: int = 5) -> np.ndarray:
    """Per neuron: variance of rates around their cross-validated linear prediction from the
    velocity, over the mean rate.

    :func:`residual_fano_factor` applied to rates (expected counts per bin, e.g. a generator's
    ``rates`` or :meth:`~eag_augment.generators.LatentAutoencoder.predict_rates` of real
    trials) instead of counts, with the same parameters. It bounds from above the rate
    variability at fixed behaviour, in the units of :func:`conditional_rate_dispersion`.

    Returns
    -------
    array (neurons,)
        ``sum((rates - prediction)^2) / sum(rates)``; NaN for a neuron whose rates are all 0.
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim != 3:
        raise ValueError(f"rates must be (trials, bins, neurons), got shape {r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ValueError("rates must be finite and >= 0")
    return _residual_ratio(r, behavior, lags, alpha, n_splits)


def conditional_rate_dispersion(rates) -> np.ndarray:
    """Per neuron: variance of a generator's rates across samples at one condition, over the
    mean rate.

    Parameters
    ----------
    rates : array (conditions, samples, bins, neurons)
        Expected counts per bin of ``samples`` >= 2 generated trials at each condition.

    Returns
    -------
    array (neurons,)
        Across-sample variance averaged over conditions and bins, over the mean rate; NaN for a
        neuron whose rate is 0. Counts drawn from these rates have a Fano factor at fixed
        condition of 1 plus this; 0 means every sample at a condition has the same rates.
    """
    r = np.asarray(rates, dtype=np.float64)
    if r.ndim != 4 or r.shape[1] < 2:
        raise ValueError(f"rates must be (conditions, samples >= 2, bins, neurons), got shape "
                         f"{r.shape}")
    if not np.isfinite(r).all() or (r < 0).any():
        raise ValueError("rates must be finite and >= 0")
    mean = r.mean(axis=(0, 1, 2))
    spread = r.var(axis=1, ddof=1).mean(axis=(0, 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, spread / mean, np.nan)
