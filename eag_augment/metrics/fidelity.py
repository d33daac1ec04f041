"""Spike statistics of generated against real trials (LDNS/EAG conventions).

Spike-count inputs are arrays of shape (trials, bins, neurons) holding counts per bin, or
:class:`~eag_augment.trials.TrialSet` objects (their ``spikes`` are used). A model (generated)
set is always compared with a data (real, reference) set of the same (bins, neurons); the
number of trials may differ.

Units follow ``bin_ms``: when it is given, ISIs are in seconds and rates in spikes/s (the
monkey-data convention); when it is ``None``, ISIs are in bins and rates in spikes/bin (the
Lorenz convention). ``bin_ms`` is never read from a TrialSet implicitly, but it must agree
with the TrialSet's own bin width when both are given.

The spike statistics follow /reference/metrics.md:

- population spike-count KL: KL(model || data) of Gaussian-KDE (Scott) densities of the
  per-(trial, bin) population count, evaluated at the integers ``0..maxval`` and normalised;
- correlation RMSE: N x N Pearson correlations over trials x bins, diagonal set to 0, strict
  lower triangle kept, RMSE over all N^2 entries (the reference convention, about sqrt(2)
  smaller than the RMSE over the N(N-1)/2 pairs, which ``pairs_only=True`` gives);
- mean / std ISI RMSE: ``c`` spikes in bin ``[s, s + dt)`` sit at
  ``linspace(s, s + dt, c + 2)[1:-1]``, ISIs are taken within trials and pooled per neuron;
- mean-rate / rate-std RMSE across neurons.

RMSEs across neurons or pairs ignore NaN entries (silent neurons, neurons with fewer than two
spikes in any trial).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.stats import gaussian_kde

from eag_augment._arrays import validate_spikes
from eag_augment.trials import TrialSet

__all__ = [
    "METRICS",
    "correlation_rmse",
    "isi_statistics",
    "mean_isi_rmse",
    "mean_rate_rmse",
    "pairwise_correlations",
    "population_count_kl",
    "population_count_pmf",
    "population_counts",
    "rate_statistics",
    "rate_std_rmse",
    "spike_statistics",
    "std_isi_rmse",
    "train_train_ceiling",
]

#: Names of the metrics returned by :func:`spike_statistics` and :func:`train_train_ceiling`.
METRICS: tuple[str, ...] = (
    "population_count_kl",
    "correlation_rmse",
    "mean_isi_rmse",
    "std_isi_rmse",
    "mean_rate_rmse",
    "rate_std_rmse",
)

# Trials per block when accumulating the covariance: bounds the float64 temporaries to
# about this many elements whatever the size of the set.
_BLOCK_ELEMENTS = 4_000_000


# --------------------------------------------------------------------------- inputs
def _spikes(value: TrialSet | np.ndarray, name: str) -> np.ndarray:
    """Spike counts (trials, bins, neurons) of a TrialSet or a validated array."""
    if isinstance(value, TrialSet):
        return value.spikes
    return validate_spikes(value, name)


def _check_bin_ms(bin_ms: float | None, *sets: tuple[str, TrialSet | np.ndarray]) -> float:
    """Validate ``bin_ms`` against any TrialSet given; return the bin in ISI units (s or 1)."""
    if bin_ms is None:
        return 1.0
    try:
        bin_ms = float(bin_ms)
    except (TypeError, ValueError) as err:
        raise TypeError(f"bin_ms must be a number of milliseconds or None, got {bin_ms!r}") from err
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms must be a positive number of milliseconds, got {bin_ms}")
    for name, value in sets:
        if isinstance(value, TrialSet) and not np.isclose(value.bin_ms, bin_ms):
            raise ValueError(f"bin_ms is {bin_ms:g} but {name} has bins of {value.bin_ms:g} ms")
    return bin_ms / 1000.0


def _pair(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, bin_ms: float | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Validated (model spikes, data spikes, bin width in s or 1) with equal (bins, neurons)."""
    dt = _check_bin_ms(bin_ms, ("model", model), ("data", data))
    if isinstance(model, TrialSet) and isinstance(data, TrialSet):
        if not np.isclose(model.bin_ms, data.bin_ms):
            raise ValueError(
                f"model has {model.bin_ms:g} ms bins but data has {data.bin_ms:g} ms bins"
            )
    m, d = _spikes(model, "model"), _spikes(data, "data")
    if m.shape[1:] != d.shape[1:]:
        raise ValueError(
            f"model and data must have the same (bins, neurons); model has shape {m.shape}, "
            f"data has shape {d.shape}"
        )
    return m, d, dt


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    """Root mean square of ``a - b`` over the entries where both are finite (NaN if none)."""
    sq = (np.asarray(a, float) - np.asarray(b, float)) ** 2
    sq = sq[np.isfinite(sq)]
    return float(np.sqrt(sq.mean())) if sq.size else float("nan")


# ------------------------------------------------------------- population counts
def population_counts(spikes: TrialSet | np.ndarray) -> np.ndarray:
    """Population spike count of every (trial, bin): counts summed over neurons.

    Returns
    -------
    array (trials * bins,) of int
    """
    return _spikes(spikes, "spikes").sum(axis=2, dtype=np.int64).ravel()


def population_count_pmf(counts: np.ndarray, maxval: int) -> np.ndarray:
    """Gaussian-KDE (Scott bandwidth) probabilities of population counts ``0..maxval``.

    Parameters
    ----------
    counts : array (samples,)
        Population counts, e.g. from :func:`population_counts`.
    maxval : int
        Largest count to evaluate (the largest count of all the sets being compared).

    Returns
    -------
    array (maxval + 1,)
        The KDE evaluated at the integers, normalised to sum 1. When all counts are equal
        (or there is a single sample) the KDE is undefined (singular bandwidth); the
        distribution is then the point mass at that count.
    """
    counts = np.asarray(counts, dtype=float).ravel()
    if counts.size == 0 or not np.all(np.isfinite(counts)):
        raise ValueError(f"counts must be a non-empty finite array, got shape {counts.shape}")
    if int(maxval) < counts.max():
        raise ValueError(f"maxval ({maxval}) is smaller than the largest count ({counts.max():g})")
    grid = np.arange(int(maxval) + 1)
    if np.ptp(counts) == 0:
        return (grid == counts[0]).astype(float)
    density = gaussian_kde(counts, bw_method="scott")(grid)
    return density / density.sum()


def _kl(model_counts: np.ndarray, data_counts: np.ndarray) -> float:
    maxval = int(max(model_counts.max(), data_counts.max()))
    p_m = population_count_pmf(model_counts, maxval)
    p_d = population_count_pmf(data_counts, maxval)
    # 0 * log(0 / q) is NaN here and contributes nothing (nan-sum); p > 0 where q == 0 is a
    # genuine infinite divergence and stays inf.
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.nansum(p_m * np.log(p_m / p_d)))


def population_count_kl(model: TrialSet | np.ndarray, data: TrialSet | np.ndarray) -> float:
    """KL(model || data) of the population spike-count distributions (nats).

    Both distributions are :func:`population_count_pmf` at ``0..maxval``, with ``maxval`` the
    largest population count in either set. Zero for identical sets; ``inf`` when the model
    puts mass where the data's density underflows to 0 (e.g. data with a single repeated
    count, treated as a point mass, against a model that varies).
    """
    m, d, _ = _pair(model, data)
    return _kl(population_counts(m), population_counts(d))


# ------------------------------------------------------------ second moments
def _moments(
    spikes: np.ndarray, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and N x N covariance (ddof 0) of counts over trials x bins.

    ``weights`` (trials,) are integer trial multiplicities (a bootstrap resample); the result
    equals that of the set with every trial repeated that many times. Accumulated in blocks
    of trials so that no float copy of the whole set is made.
    """
    n_trials, n_bins, n_neurons = spikes.shape
    w = np.ones(n_trials) if weights is None else np.asarray(weights, dtype=float)
    total = w.sum() * n_bins
    mean = w @ spikes.sum(axis=1, dtype=np.float64) / total
    cov = np.zeros((n_neurons, n_neurons))
    rows = np.flatnonzero(w)
    step = max(1, _BLOCK_ELEMENTS // (n_bins * n_neurons))
    for start in range(0, rows.size, step):
        block = rows[start : start + step]
        x = spikes[block].astype(np.float64) - mean
        x *= np.sqrt(w[block])[:, None, None]
        x = x.reshape(-1, n_neurons)
        cov += x.T @ x
    return mean, cov / total


def _correlations(cov: np.ndarray) -> np.ndarray:
    """Reference-convention correlation matrix from a covariance (see pairwise_correlations)."""
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.clip(cov / np.outer(sd, sd), -1.0, 1.0)
    silent = sd == 0
    corr[silent, :] = np.nan
    corr[:, silent] = np.nan
    return np.tril(corr, k=-1)


def pairwise_correlations(spikes: TrialSet | np.ndarray) -> np.ndarray:
    """Pairwise Pearson correlations of neurons, trials x bins concatenated.

    Equal to ``np.corrcoef`` of the (trials * bins, neurons) matrix, with the reference
    convention applied: diagonal and upper triangle set to 0, strict lower triangle kept.
    Entries involving a neuron whose count never varies are NaN.

    Returns
    -------
    array (neurons, neurons)
    """
    return _correlations(_moments(_spikes(spikes, "spikes"))[1])


def _correlation_rmse(c_model: np.ndarray, c_data: np.ndarray, pairs_only: bool) -> float:
    if pairs_only:
        lower = np.tril_indices(c_model.shape[0], k=-1)
        return _rmse(c_model[lower], c_data[lower])
    return _rmse(c_model, c_data)


def correlation_rmse(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, *, pairs_only: bool = False
) -> float:
    """RMSE between the model's and the data's pairwise correlations.

    With ``pairs_only=False`` (the reference convention, the number LDNS and EAG report) the
    RMSE runs over all N^2 entries of the :func:`pairwise_correlations` matrices, whose
    diagonal and upper triangle are 0; this is about sqrt(2) smaller than the RMSE over the
    N(N-1)/2 distinct pairs, which ``pairs_only=True`` returns. NaN entries are ignored.
    """
    m, d, _ = _pair(model, data)
    return _correlation_rmse(pairwise_correlations(m), pairwise_correlations(d), pairs_only)


def rate_statistics(
    spikes: TrialSet | np.ndarray, bin_ms: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean firing rate and its standard deviation.

    The std is that of the count of single bins across all trials x bins (ddof 0), i.e. the
    bin-to-bin variability of the rate, not the spread of trial-averaged rates.

    Returns
    -------
    mean_rate, rate_std : arrays (neurons,)
        In spikes/s when ``bin_ms`` is given, else in spikes/bin.
    """
    dt = _check_bin_ms(bin_ms, ("spikes", spikes))
    mean, cov = _moments(_spikes(spikes, "spikes"))
    return mean / dt, np.sqrt(np.clip(np.diag(cov), 0.0, None)) / dt


def mean_rate_rmse(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, bin_ms: float | None = None
) -> float:
    """RMSE across neurons of the mean firing rate (spikes/s with ``bin_ms``, else spikes/bin)."""
    m, d, _ = _pair(model, data, bin_ms)
    return _rmse(rate_statistics(m, bin_ms)[0], rate_statistics(d, bin_ms)[0])


def rate_std_rmse(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, bin_ms: float | None = None
) -> float:
    """RMSE across neurons of the rate std of :func:`rate_statistics` (same units)."""
    m, d, _ = _pair(model, data, bin_ms)
    return _rmse(rate_statistics(m, bin_ms)[1], rate_statistics(d, bin_ms)[1])


# --------------------------------------------------------------------------- ISIs
def _isis(spikes: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All within-trial ISIs: (isi, neuron, trial) arrays of equal length.

    A count ``c`` in bin ``b`` becomes spikes at ``(b + k / (c + 1)) * dt``, k = 1..c (the
    interior points of ``linspace(b*dt, (b+1)*dt, c+2)``).
    """
    n_neurons = spikes.shape[2]
    # Nonzero entries in (trial, neuron, bin) order: each neuron's spikes in a trial are then
    # contiguous and already sorted in time.
    trial, neuron, b = np.nonzero(spikes.transpose(0, 2, 1))
    c = spikes[trial, b, neuron].astype(np.int64)
    owner = np.repeat(np.arange(c.size), c)
    first = np.cumsum(c) - c
    k = np.arange(owner.size) - first[owner] + 1
    times = (b[owner] + k / (c[owner] + 1.0)) * dt
    train = trial[owner] * n_neurons + neuron[owner]
    same = train[1:] == train[:-1]
    return np.diff(times)[same], neuron[owner][1:][same], trial[owner][1:][same]


def _isi_moments(
    isi: np.ndarray,
    neuron: np.ndarray,
    trial: np.ndarray,
    n_neurons: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    w = np.ones(isi.size) if weights is None else np.asarray(weights, float)[trial]
    n = np.bincount(neuron, weights=w, minlength=n_neurons)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(neuron, weights=w * isi, minlength=n_neurons) / n
        dev2 = w * (isi - mean[neuron]) ** 2
        std = np.sqrt(np.bincount(neuron, weights=dev2, minlength=n_neurons) / n)
    return mean, std


def isi_statistics(
    spikes: TrialSet | np.ndarray, bin_ms: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and std (ddof 0) of inter-spike intervals.

    ``c`` spikes in a bin are spread evenly inside it (``linspace(s, s + dt, c + 2)[1:-1]``);
    ISIs are taken within each trial and pooled across trials per neuron.

    Returns
    -------
    mean_isi, std_isi : arrays (neurons,)
        In seconds when ``bin_ms`` is given, else in bins. NaN for a neuron with no ISI
        (fewer than two spikes in every trial).
    """
    dt = _check_bin_ms(bin_ms, ("spikes", spikes))
    arr = _spikes(spikes, "spikes")
    return _isi_moments(*_isis(arr, dt), arr.shape[2])


def mean_isi_rmse(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, bin_ms: float | None = None
) -> float:
    """RMSE across neurons of the mean ISI (s with ``bin_ms``, else bins); NaN neurons ignored."""
    m, d, _ = _pair(model, data, bin_ms)
    return _rmse(isi_statistics(m, bin_ms)[0], isi_statistics(d, bin_ms)[0])


def std_isi_rmse(
    model: TrialSet | np.ndarray, data: TrialSet | np.ndarray, bin_ms: float | None = None
) -> float:
    """RMSE across neurons of the ISI std (s with ``bin_ms``, else bins); NaN neurons ignored."""
    m, d, _ = _pair(model, data, bin_ms)
    return _rmse(isi_statistics(m, bin_ms)[1], isi_statistics(d, bin_ms)[1])


# ---------------------------------------------------------------- all at once
@dataclass(frozen=True)
class _Statistics:
    population_counts: np.ndarray
    correlations: np.ndarray
    mean_isi: np.ndarray
    std_isi: np.ndarray
    mean_rate: np.ndarray
    rate_std: np.ndarray


class _Prepared:
    """A spike set whose trial resamples are summarised without copying the set.

    Population counts and ISIs are computed once; a resample is given as integer trial
    multiplicities, which reweight them (identical to repeating those trials).
    """

    def __init__(self, spikes: np.ndarray, dt: float) -> None:
        self.spikes = spikes
        self.dt = dt
        self.population = spikes.sum(axis=2, dtype=np.int64)
        self.isis = _isis(spikes, dt)

    def statistics(self, weights: np.ndarray | None = None) -> _Statistics:
        n_trials, _, n_neurons = self.spikes.shape
        rows = np.arange(n_trials) if weights is None else np.repeat(np.arange(n_trials), weights)
        mean, cov = _moments(self.spikes, weights)
        mean_isi, std_isi = _isi_moments(*self.isis, n_neurons, weights)
        return _Statistics(
            population_counts=self.population[rows].ravel(),
            correlations=_correlations(cov),
            mean_isi=mean_isi,
            std_isi=std_isi,
            mean_rate=mean / self.dt,
            rate_std=np.sqrt(np.clip(np.diag(cov), 0.0, None)) / self.dt,
        )


def _compare(model: _Statistics, data: _Statistics) -> dict[str, float]:
    return {
        "population_count_kl": _kl(model.population_counts, data.population_counts),
        "correlation_rmse": _correlation_rmse(model.correlations, data.correlations, False),
        "mean_isi_rmse": _rmse(model.mean_isi, data.mean_isi),
        "std_isi_rmse": _rmse(model.std_isi, data.std_isi),
        "mean_rate_rmse": _rmse(model.mean_rate, data.mean_rate),
        "rate_std_rmse": _rmse(model.rate_std, data.rate_std),
    }


def _check_n_bootstrap(n_bootstrap: int) -> int:
    is_int = isinstance(n_bootstrap, (int, np.integer)) and not isinstance(n_bootstrap, bool)
    if not is_int or n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be a positive integer, got {n_bootstrap!r}")
    return int(n_bootstrap)


def _summarise(
    n_bootstrap: int, draw: Callable[[], dict[str, float]]
) -> dict[str, dict[str, float]]:
    runs = [draw() for _ in range(n_bootstrap)]
    return {
        name: {
            "mean": float(np.mean([r[name] for r in runs])),
            "std": float(np.std([r[name] for r in runs])),
        }
        for name in METRICS
    }


def spike_statistics(
    model: TrialSet | np.ndarray,
    data: TrialSet | np.ndarray,
    *,
    bin_ms: float | None = None,
    n_bootstrap: int = 5,
    random_state: int | np.random.Generator | None = None,
) -> dict[str, dict[str, float]]:
    """All spike-statistics metrics of a model set against a data set, with bootstrap spread.

    Each of ``n_bootstrap`` resamples draws the model's trial indices with replacement
    (as many as it has) and compares the resample with the full data set.

    Parameters
    ----------
    model, data : TrialSet or array (trials, bins, neurons)
        Generated and reference spike counts per bin; equal (bins, neurons).
    bin_ms : float, optional
        Bin width in ms: ISIs in seconds and rates in spikes/s. ``None``: ISIs in bins and
        rates in spikes/bin (Lorenz).
    n_bootstrap : int
        Number of resamples.
    random_state : int, numpy Generator or None
        Seed of the resampling.

    Returns
    -------
    dict
        ``{metric: {"mean": float, "std": float}}`` for every name in :data:`METRICS`;
        ``std`` is the spread (ddof 0) across resamples. ``correlation_rmse`` uses the
        reference all-N^2-entries convention.
    """
    m, d, dt = _pair(model, data, bin_ms)
    n_bootstrap = _check_n_bootstrap(n_bootstrap)
    rng = np.random.default_rng(random_state)
    reference = _Prepared(d, dt).statistics()
    prepared = _Prepared(m, dt)
    n = m.shape[0]

    def draw() -> dict[str, float]:
        weights = np.bincount(rng.integers(0, n, size=n), minlength=n)
        return _compare(prepared.statistics(weights), reference)

    return _summarise(n_bootstrap, draw)


def train_train_ceiling(
    data: TrialSet | np.ndarray,
    *,
    bin_ms: float | None = None,
    n_bootstrap: int = 5,
    random_state: int | np.random.Generator | None = None,
) -> dict[str, dict[str, float]]:
    """The metrics of :func:`spike_statistics` between two random halves of the real data.

    Each of ``n_bootstrap`` repeats splits the trials at random into two disjoint halves of
    ``trials // 2`` each and compares the first with the second: the floor that a perfect
    generator would reach at half the sample size (so slightly pessimistic for a model
    compared against the full set). Same return format as :func:`spike_statistics`.
    """
    dt = _check_bin_ms(bin_ms, ("data", data))
    d = _spikes(data, "data")
    n_bootstrap = _check_n_bootstrap(n_bootstrap)
    n = d.shape[0]
    if n < 2:
        raise ValueError(f"data needs at least 2 trials to split in halves, got {n}")
    rng = np.random.default_rng(random_state)
    prepared = _Prepared(d, dt)
    half = n // 2

    def draw() -> dict[str, float]:
        order = rng.permutation(n)
        first, second = np.zeros(n, np.int64), np.zeros(n, np.int64)
        first[order[:half]] = 1
        second[order[half : 2 * half]] = 1
        return _compare(prepared.statistics(first), prepared.statistics(second))

    return _summarise(n_bootstrap, draw)
