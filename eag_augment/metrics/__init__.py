"""Fidelity and decoding metrics.

:mod:`~eag_augment.metrics.fidelity`: statistics of generated against real spikes
(population-count KL, correlations, ISIs, rates) and the real/real ceiling.
:mod:`~eag_augment.metrics.variability`: trial-to-trial variability that behaviour does not
explain (residual Fano factor of any trials, rate dispersion of a generator's samples).
:mod:`~eag_augment.metrics.scores`: velocity R^2, bits per spike, PSTH R^2.
"""

from eag_augment.metrics.fidelity import (
    METRICS,
    correlation_rmse,
    isi_statistics,
    mean_isi_rmse,
    mean_rate_rmse,
    pairwise_correlations,
    population_count_kl,
    population_count_pmf,
    population_counts,
    rate_statistics,
    rate_std_rmse,
    spike_statistics,
    std_isi_rmse,
    train_train_ceiling,
)
from eag_augment.metrics.scores import bits_per_spike, psth, psth_r2, velocity_r2
from eag_augment.metrics.variability import (conditional_rate_dispersion, residual_fano_factor,
                                             residual_rate_dispersion, velocity_residuals)

__all__ = [
    "METRICS",
    "bits_per_spike",
    "conditional_rate_dispersion",
    "correlation_rmse",
    "isi_statistics",
    "mean_isi_rmse",
    "mean_rate_rmse",
    "pairwise_correlations",
    "population_count_kl",
    "population_count_pmf",
    "population_counts",
    "psth",
    "psth_r2",
    "rate_statistics",
    "rate_std_rmse",
    "residual_fano_factor",
    "residual_rate_dispersion",
    "spike_statistics",
    "std_isi_rmse",
    "train_train_ceiling",
    "velocity_r2",
    "velocity_residuals",
]
