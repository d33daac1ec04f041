"""Fidelity and decoding metrics.

:mod:`~eag_augment.metrics.fidelity`: statistics of generated against real spikes
(population-count KL, correlations, ISIs, rates) and the real/real ceiling.
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

__all__ = [
    "METRICS",
    "bits_per_spike",
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
    "spike_statistics",
    "std_isi_rmse",
    "train_train_ceiling",
    "velocity_r2",
]
