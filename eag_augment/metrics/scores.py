"""How well a model predicts behaviour or spikes: velocity R^2 (decoders), bits per spike and
PSTH R^2 (latent models, NLB conventions).

Inputs are arrays of shape (trials, bins, channels) or (samples, channels), or
:class:`~eag_augment.trials.TrialSet` objects where stated.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import r2_score

from eag_augment._arrays import as_finite_array
from eag_augment.trials import TrialSet

__all__ = [
    "bits_per_spike",
    "psth",
    "psth_r2",
    "velocity_r2",
]


def _trial_or_sample_array(value, name: str) -> np.ndarray:
    """Finite float array of shape (trials, bins, channels) or (samples, channels)."""
    arr = np.asarray(value)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"{name} must have shape (trials, bins, dims) or (samples, dims), got {arr.shape}"
        )
    return as_finite_array(arr, name, arr.ndim, dtype=float)


def velocity_r2(y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
    """Velocity decoding R^2, variance-weighted over dimensions (NLB's convention).

    Parameters
    ----------
    y_true, y_pred : arrays (trials, bins, dims) or (samples, dims)
        Behaviour and its prediction, same shape; bins of all trials are concatenated.
    sample_weight : array (trials,) or (samples,), optional
        One weight per trial (applied to all its bins) or per sample.

    Returns
    -------
    float
        ``sklearn.metrics.r2_score(..., multioutput="variance_weighted")``: 1 for a perfect
        prediction, 0 for predicting the mean of each dimension.
    """
    yt = _trial_or_sample_array(y_true, "y_true")
    yp = _trial_or_sample_array(y_pred, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_pred must have the shape of y_true {yt.shape}, got {yp.shape}")
    dims = yt.shape[-1]
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != (yt.shape[0],):
            raise ValueError(f"sample_weight must have one weight per trial, shape "
                             f"({yt.shape[0]},), got {sample_weight.shape}")
        if yt.ndim == 3:
            sample_weight = np.repeat(sample_weight, yt.shape[1])
    return float(r2_score(yt.reshape(-1, dims), yp.reshape(-1, dims),
                          sample_weight=sample_weight, multioutput="variance_weighted"))


def bits_per_spike(rates: np.ndarray, spikes: TrialSet | np.ndarray) -> float:
    """NLB co-smoothing bits per spike of predicted rates.

    The Poisson log-likelihood of ``spikes`` under ``rates`` minus that under the mean-rate
    model (each neuron's mean count over all trials and bins, from the same spikes), divided
    by the total number of spikes and by log 2. Zero rates are replaced by 1e-9 as NLB does.

    Parameters
    ----------
    rates : array (trials, bins, neurons) or (samples, neurons)
        Predicted expected counts per bin (non-negative).
    spikes : TrialSet or array of the same shape
        Observed counts per bin (typically of held-out neurons).

    Returns
    -------
    float
        Positive when the rates beat the mean-rate model; exactly 0 for the mean-rate model.
    """
    if isinstance(spikes, TrialSet):
        spikes = spikes.spikes
    counts = _trial_or_sample_array(spikes, "spikes")
    rates = _trial_or_sample_array(rates, "rates")
    if rates.shape != counts.shape:
        raise ValueError(f"rates must have the shape of spikes {counts.shape}, got {rates.shape}")
    if np.any(counts < 0):
        raise ValueError(f"spikes must be non-negative counts; minimum is {counts.min()}")
    if np.any(rates < 0):
        raise ValueError(f"rates must be non-negative; minimum is {rates.min()}")
    total = counts.sum()
    if total == 0:
        raise ValueError("spikes holds no spike at all: bits per spike is undefined")
    mean_rate = counts.mean(axis=tuple(range(counts.ndim - 1)), keepdims=True)
    null = np.broadcast_to(mean_rate, counts.shape)

    # The log(n!) terms are the same for both models and cancel in the difference.
    def log_likelihood(r: np.ndarray) -> float:
        r = np.where(r == 0, 1e-9, r)
        return float(np.sum(counts * np.log(r) - r))

    return (log_likelihood(rates) - log_likelihood(null)) / total / np.log(2)


def _values(value: TrialSet | np.ndarray, name: str) -> np.ndarray:
    """Counts of a TrialSet, or a (trials, bins, neurons) array of counts or rates."""
    if isinstance(value, TrialSet):
        return value.spikes
    arr = as_finite_array(value, name, 3, dtype=float)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative counts or rates; minimum is {arr.min()}")
    return arr


def _labels(value: TrialSet | np.ndarray, labels, column: str, name: str) -> np.ndarray:
    n_trials = value.n_trials if isinstance(value, TrialSet) else len(value)
    if labels is None:
        if not isinstance(value, TrialSet):
            raise ValueError(f"{name} is an array: pass its condition labels explicitly")
        if column not in value.conditions:
            raise ValueError(
                f"{name} has no condition column {column!r}; columns: {list(value.conditions)}"
            )
        labels = value.conditions[column].to_numpy()
    labels = np.asarray(labels)
    if labels.shape != (n_trials,):
        raise ValueError(
            f"condition labels of {name} must have shape ({n_trials},), got {labels.shape}"
        )
    return labels


def psth(values: TrialSet | np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Condition-averaged responses (peri-stimulus time histograms).

    Parameters
    ----------
    values : TrialSet or array (trials, bins, neurons)
        Spike counts (or rates) per bin.
    labels : array (trials,)
        Condition of each trial.

    Returns
    -------
    conditions : array (conditions,)
        Sorted unique labels.
    psths : array (conditions, bins, neurons)
        Mean count (or rate) per bin of the trials of each condition.
    """
    arr = _values(values, "values")
    labels = np.asarray(labels)
    if labels.shape != (arr.shape[0],):
        raise ValueError(f"labels must have shape ({arr.shape[0]},), got {labels.shape}")
    conditions, index = np.unique(labels, return_inverse=True)
    # One vectorised mean per condition: much faster than np.add.at over trials.
    means = np.stack(
        [arr[index == c].mean(axis=0, dtype=np.float64) for c in range(conditions.size)]
    )
    return conditions, means


def psth_r2(
    model: TrialSet | np.ndarray,
    data: TrialSet | np.ndarray,
    *,
    model_labels: np.ndarray | None = None,
    data_labels: np.ndarray | None = None,
    condition_column: str = "condition",
) -> float:
    """R^2 of the model's condition-averaged PSTHs against the data's, averaged over neurons.

    PSTHs (:func:`psth`, no smoothing) are compared over the conditions present in both sets,
    bins of all conditions concatenated, with ``r2_score(..., multioutput="uniform_average")``
    across neurons (as NLB's ``eval_psth``).

    Parameters
    ----------
    model, data : TrialSet or array (trials, bins, neurons)
        Counts of a TrialSet, or arrays of counts or rates per bin; equal (bins, neurons).
    model_labels, data_labels : arrays (trials,), optional
        Condition labels; default: the ``condition_column`` of each TrialSet.
    """
    m, d = _values(model, "model"), _values(data, "data")
    if m.shape[1:] != d.shape[1:]:
        raise ValueError(
            f"model and data must have the same (bins, neurons); got {m.shape} and {d.shape}"
        )
    cm, pm = psth(m, _labels(model, model_labels, condition_column, "model"))
    cd, pd_ = psth(d, _labels(data, data_labels, condition_column, "data"))
    shared, im, idd = np.intersect1d(cm, cd, return_indices=True)
    if shared.size == 0:
        raise ValueError("model and data share no condition label")
    n_neurons = m.shape[2]
    return float(r2_score(pd_[idd].reshape(-1, n_neurons), pm[im].reshape(-1, n_neurons)))
