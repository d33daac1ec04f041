"""Known-answer tests of eag_augment.metrics."""

import numpy as np
import pandas as pd
import pytest

from eag_augment import metrics
from eag_augment.metrics import fidelity
from eag_augment.trials import TrialSet


def poisson(mean, shape=(40, 30, 6), seed=0):
    return np.random.default_rng(seed).poisson(mean, shape)


@pytest.fixture
def pair():
    return poisson(0.4, seed=1), poisson(0.4, seed=2)


# ------------------------------------------------------------------ identities
@pytest.mark.parametrize(
    "metric",
    [
        metrics.population_count_kl,
        metrics.correlation_rmse,
        metrics.mean_isi_rmse,
        metrics.std_isi_rmse,
        metrics.mean_rate_rmse,
        metrics.rate_std_rmse,
    ],
)
def test_identical_sets_score_zero(metric, pair):
    x, _ = pair
    assert metric(x, x.copy()) == 0.0


def test_trialset_and_array_give_the_same_numbers(pair):
    x, y = pair
    tx, ty = TrialSet(x, bin_ms=5), TrialSet(y, bin_ms=5)
    assert metrics.mean_isi_rmse(tx, ty, bin_ms=5) == metrics.mean_isi_rmse(x, y, bin_ms=5)
    assert metrics.population_count_kl(tx, y) == metrics.population_count_kl(x, y)


# ------------------------------------------------------------- population KL
def test_kl_of_poisson_populations_grows_with_the_rate_difference():
    data = poisson(0.5, seed=3)
    kls = [metrics.population_count_kl(poisson(m, seed=4), data) for m in (0.5, 0.6, 0.8, 1.2)]
    assert kls[0] < 0.02
    assert kls[1] > 0.05
    assert np.all(np.diff(kls) > 0)


def test_pmf_is_normalised_and_degenerate_counts_are_a_point_mass():
    pmf = metrics.population_count_pmf(np.array([1, 2, 2, 3, 5]), 8)
    assert pmf.shape == (9,) and np.isclose(pmf.sum(), 1.0)
    point = metrics.population_count_pmf(np.array([2, 2, 2]), 4)
    np.testing.assert_array_equal(point, [0, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="maxval"):
        metrics.population_count_pmf(np.array([1, 9]), 4)


def test_kl_handles_constant_population_counts():
    const = np.ones((5, 4, 3), dtype=int)
    assert metrics.population_count_kl(const, const) == 0.0
    varied = poisson(1.0, shape=(5, 4, 3))
    # The model is a point mass: KL = -log p_data(3), finite and positive.
    assert 0 < metrics.population_count_kl(const, varied) < np.inf
    # The data is a point mass and the model spreads mass elsewhere: infinite divergence.
    assert metrics.population_count_kl(varied, const) == np.inf


# --------------------------------------------------------------- correlations
def test_pairwise_correlations_match_corrcoef_in_the_reference_convention():
    x = poisson(1.0, shape=(20, 15, 5))
    x[:, :, 1] += x[:, :, 0]
    expected = np.corrcoef(x.reshape(-1, 5), rowvar=False)
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(metrics.pairwise_correlations(x), np.tril(expected), atol=1e-12)


def test_correlation_rmse_known_value_and_both_conventions():
    rng = np.random.default_rng(0)
    base = rng.poisson(2.0, size=(50, 40, 1))
    # Neurons 0 and 1 identical (corr 1) in the data, independent in the model: the model's
    # correlation for that pair is about 0, the only pair with a large error.
    data = np.concatenate([base, base, rng.poisson(2.0, (50, 40, 1))], axis=2)
    model = rng.poisson(2.0, size=(50, 40, 3))
    c_model = metrics.pairwise_correlations(model)
    c_data = metrics.pairwise_correlations(data)
    assert c_data[1, 0] == pytest.approx(1.0)
    all_entries = np.sqrt(np.sum((c_model - c_data) ** 2) / 9)
    pairs = np.sqrt(np.sum((c_model - c_data)[np.tril_indices(3, -1)] ** 2) / 3)
    assert metrics.correlation_rmse(model, data) == pytest.approx(all_entries)
    assert metrics.correlation_rmse(model, data, pairs_only=True) == pytest.approx(pairs)
    assert all_entries == pytest.approx(pairs * np.sqrt(3 / 9))
    assert all_entries > 0.3


def test_silent_neuron_gives_nan_correlations_that_rmse_ignores():
    x = poisson(1.0, shape=(10, 8, 3))
    x[:, :, 2] = 0
    c = metrics.pairwise_correlations(x)
    assert np.isnan(c[2, :2]).all() and np.isfinite(c[1, 0])
    assert metrics.correlation_rmse(x, x) == 0.0


# ------------------------------------------------------------------------ ISIs
def test_isi_of_two_spikes_in_one_bin_is_a_third_of_the_bin():
    counts = np.zeros((1, 3, 1), dtype=int)
    counts[0, 1, 0] = 2  # spikes at 1 + 1/3 and 1 + 2/3 bins
    mean, std = metrics.isi_statistics(counts)
    assert mean[0] == pytest.approx(1 / 3) and std[0] == pytest.approx(0.0)
    mean_s, _ = metrics.isi_statistics(counts, bin_ms=6.0)
    assert mean_s[0] == pytest.approx(0.002)


def test_isi_hand_computed_pooling_within_trials_only():
    counts = np.zeros((2, 4, 2), dtype=int)
    counts[0, 0, 0], counts[0, 1, 0] = 2, 1  # spikes at 1/3, 2/3, 1.5 -> ISIs 1/3, 5/6
    counts[1, 3, 0] = 1  # single spike in trial 1: no ISI, and none across the trial boundary
    counts[1, 0, 1] = 1  # neuron 1 never has two spikes in one trial
    counts[0, 3, 1] = 1
    mean, std = metrics.isi_statistics(counts)
    isis = np.array([1 / 3, 5 / 6])
    assert mean[0] == pytest.approx(isis.mean()) and std[0] == pytest.approx(isis.std())
    assert np.isnan(mean[1]) and np.isnan(std[1])


def test_isi_of_regular_trains():
    counts = np.zeros((3, 12, 1), dtype=int)
    counts[:, ::3, 0] = 1
    mean, std = metrics.isi_statistics(counts)
    assert mean[0] == pytest.approx(3.0) and std[0] == pytest.approx(0.0, abs=1e-12)


def test_isi_rmse_ignores_neurons_without_isis():
    x = poisson(1.0, shape=(5, 10, 3))
    y = x.copy()
    y[:, :, 0] *= 2
    x[:, :, 2] = 0
    expected = abs(metrics.isi_statistics(y)[0][0] - metrics.isi_statistics(x)[0][0]) / np.sqrt(2)
    assert metrics.mean_isi_rmse(y, x) == pytest.approx(expected)


# ------------------------------------------------------------------------ rates
def test_rate_statistics_in_hz():
    counts = np.zeros((2, 4, 1), dtype=int)
    counts[:, ::2, 0] = 2  # counts 2, 0, 2, 0: mean 1, std 1 per 10 ms bin
    mean, std = metrics.rate_statistics(counts, bin_ms=10)
    assert mean[0] == pytest.approx(100.0) and std[0] == pytest.approx(100.0)
    other = counts * 2
    assert metrics.mean_rate_rmse(other, counts, bin_ms=10) == pytest.approx(100.0)
    assert metrics.rate_std_rmse(other, counts) == pytest.approx(1.0)


# -------------------------------------------------------------- bootstrap
def test_spike_statistics_keys_determinism_and_spread(pair):
    x, y = pair
    a = metrics.spike_statistics(x, y, bin_ms=5, n_bootstrap=3, random_state=7)
    b = metrics.spike_statistics(x, y, bin_ms=5, n_bootstrap=3, random_state=7)
    c = metrics.spike_statistics(x, y, bin_ms=5, n_bootstrap=3, random_state=8)
    assert set(a) == set(metrics.METRICS)
    assert a == b and a != c
    assert all(v["std"] > 0 for v in a.values())


def test_resampling_by_weights_equals_resampling_by_copy(pair):
    x, y = pair
    n = len(x)
    idx = np.random.default_rng(0).integers(0, n, n)
    reference = fidelity._Prepared(y, 1.0).statistics()
    by_weights = fidelity._compare(
        fidelity._Prepared(x, 1.0).statistics(np.bincount(idx, minlength=n)), reference
    )
    by_copy = fidelity._compare(fidelity._Prepared(x[idx], 1.0).statistics(), reference)
    for name in metrics.METRICS:
        assert by_weights[name] == pytest.approx(by_copy[name], rel=1e-9)


def test_train_train_ceiling_is_small_for_a_homogeneous_set():
    data = poisson(0.5, shape=(60, 30, 6), seed=5)
    ceiling = metrics.train_train_ceiling(data, n_bootstrap=3, random_state=0)
    assert ceiling == metrics.train_train_ceiling(data, n_bootstrap=3, random_state=0)
    model = poisson(1.0, shape=(60, 30, 6), seed=6)
    worse = metrics.spike_statistics(model, data, n_bootstrap=3, random_state=0)
    for name in ("population_count_kl", "mean_isi_rmse", "mean_rate_rmse"):
        assert ceiling[name]["mean"] < worse[name]["mean"]
    with pytest.raises(ValueError, match="at least 2 trials"):
        metrics.train_train_ceiling(data[:1])


# ---------------------------------------------------------------------- errors
def test_spike_metric_input_errors(pair):
    x, y = pair
    with pytest.raises(ValueError, match="same \\(bins, neurons\\)"):
        metrics.correlation_rmse(x, y[:, :, :5])
    with pytest.raises(ValueError, match="3 dimensions"):
        metrics.population_count_kl(x[0], y)
    nan = x.astype(float)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.mean_isi_rmse(nan, y)
    with pytest.raises(ValueError, match="non-negative"):
        metrics.mean_rate_rmse(-x, y)
    with pytest.raises(ValueError, match="bin_ms is 5 but model has bins of 10"):
        metrics.spike_statistics(TrialSet(x, bin_ms=10), y, bin_ms=5)
    with pytest.raises(ValueError, match="model has 10 ms bins but data has 5"):
        metrics.population_count_kl(TrialSet(x, bin_ms=10), TrialSet(y, bin_ms=5))
    with pytest.raises(ValueError, match="bin_ms must be a positive"):
        metrics.isi_statistics(x, bin_ms=0)
    with pytest.raises(ValueError, match="n_bootstrap"):
        metrics.spike_statistics(x, y, n_bootstrap=0)


# ---------------------------------------------------------------------- decoding
def test_velocity_r2_perfect_mean_and_shapes():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(6, 10, 2)) * np.array([1.0, 5.0])
    assert metrics.velocity_r2(y, y) == pytest.approx(1.0)
    mean = np.broadcast_to(y.reshape(-1, 2).mean(axis=0), y.shape)
    assert metrics.velocity_r2(y, mean) == pytest.approx(0.0, abs=1e-12)
    assert metrics.velocity_r2(y.reshape(-1, 2), y.reshape(-1, 2)) == pytest.approx(1.0)
    # Variance weighting: the error sits on the low-variance x, so R^2 stays high.
    noisy = y + np.stack([rng.normal(size=y.shape[:2]), np.zeros(y.shape[:2])], axis=-1)
    assert 0.9 < metrics.velocity_r2(y, noisy) < 1.0
    with pytest.raises(ValueError, match="shape of y_true"):
        metrics.velocity_r2(y, y[:, :5])
    with pytest.raises(ValueError, match="\\(trials, bins, dims\\) or \\(samples, dims\\)"):
        metrics.velocity_r2(y.ravel(), y.ravel())
    bad = y.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.velocity_r2(y, bad)


def test_bits_per_spike_true_rates_positive_mean_rate_zero():
    rng = np.random.default_rng(0)
    rates = rng.gamma(2.0, 0.5, size=(30, 20, 4))
    spikes = rng.poisson(rates)
    assert metrics.bits_per_spike(rates, spikes) > 0.1
    null = np.broadcast_to(spikes.mean(axis=(0, 1)), spikes.shape)
    assert metrics.bits_per_spike(null, spikes) == 0.0
    assert metrics.bits_per_spike(rates, TrialSet(spikes, bin_ms=5)) == metrics.bits_per_spike(
        rates, spikes
    )
    with pytest.raises(ValueError, match="shape of spikes"):
        metrics.bits_per_spike(rates[:, :5], spikes)
    with pytest.raises(ValueError, match="rates must be non-negative"):
        metrics.bits_per_spike(-rates, spikes)
    with pytest.raises(ValueError, match="no spike"):
        metrics.bits_per_spike(rates, np.zeros_like(spikes))


def test_psth_and_psth_r2():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 30)
    profile = rng.uniform(0.5, 4.0, size=(3, 10, 4))
    rates = profile[labels]
    data = TrialSet(rng.poisson(rates), bin_ms=5, conditions=pd.DataFrame({"condition": labels}))
    conds, means = metrics.psth(rates, labels)
    np.testing.assert_array_equal(conds, [0, 1, 2])
    np.testing.assert_allclose(means, profile)
    assert metrics.psth_r2(rates, data, model_labels=labels) > 0.8
    assert metrics.psth_r2(data, data) == pytest.approx(1.0)
    shuffled = rates[:, rng.permutation(10)]
    assert metrics.psth_r2(shuffled, data, model_labels=labels) < 0.5
    with pytest.raises(ValueError, match="no condition column 'angle'"):
        metrics.psth_r2(data, data, condition_column="angle")
    with pytest.raises(ValueError, match="share no condition"):
        metrics.psth_r2(rates, data, model_labels=labels + 10)
    with pytest.raises(ValueError, match="pass its condition labels"):
        metrics.psth_r2(rates, data)
