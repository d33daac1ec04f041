"""The simple augmentation baselines (Poisson jitter, the Poisson encoding GLM) and the
autoencoder-reconstruction diagnostic built on jitter."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone

from eag_augment import SyntheticAugmenter, TrialSet
from eag_augment.generators import (AutoencoderReconstructionGenerator, LatentAutoencoder,
                                    PoissonEncodingGenerator, PoissonJitterGenerator,
                                    load_generator)
from eag_augment.generators.encoding import fit_poisson_glm, velocity_features
from eag_augment.generators.jitter import nearest_trials

TINY_AE = LatentAutoencoder(latent_dim=2, channels=4, n_blocks=1, state_dim=4, steps=5,
                            device="cpu")
GENERATORS = [PoissonJitterGenerator(max_shift=1), PoissonEncodingGenerator(lags=(0, 2)),
              AutoencoderReconstructionGenerator(TINY_AE, device="cpu", random_state=0)]


@pytest.fixture(scope="module", params=GENERATORS, ids=lambda g: type(g).__name__)
def fitted(request, tiny_reach):
    return clone(request.param).fit(tiny_reach)


def test_shapes_and_conditioning(fitted, tiny_reach):
    vel = tiny_reach.behavior[5:11]
    out = fitted.sample(6, velocity=vel, random_state=0)
    assert isinstance(out, TrialSet)
    assert out.spikes.shape == (6, tiny_reach.n_bins, tiny_reach.n_neurons)
    assert out.spikes.dtype == np.int32 and out.spikes.min() >= 0
    assert out.rates.shape == out.spikes.shape and np.all(out.rates >= 0)
    np.testing.assert_allclose(out.behavior, vel, rtol=1e-6)
    assert out.bin_ms == tiny_reach.bin_ms


def test_same_seed_same_trials(fitted, tiny_reach):
    vel = tiny_reach.behavior[:4]
    a = fitted.sample(4, velocity=vel, random_state=3)
    b = fitted.sample(4, velocity=vel, random_state=3)
    c = fitted.sample(4, velocity=vel, random_state=4)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert not np.array_equal(a.spikes, c.spikes)


def test_save_load_round_trip(fitted, tiny_reach, tmp_path):
    path = fitted.save(tmp_path / "gen.ckpt")
    loaded = load_generator(path, device="cpu")
    assert type(loaded) is type(fitted)
    # Nested estimators compare by their parameters (deep=True), tuples as lists.
    as_lists = lambda params: {k: list(v) if isinstance(v, tuple) else v  # noqa: E731
                               for k, v in params.items() if not isinstance(v, BaseEstimator)}
    assert as_lists(loaded.get_params(deep=True)) == as_lists(fitted.get_params(deep=True))
    vel = tiny_reach.behavior[:5]
    a = fitted.sample(5, velocity=vel, random_state=1)
    b = loaded.sample(5, velocity=vel, random_state=1)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_allclose(a.rates, b.rates)


@pytest.mark.parametrize("generator", GENERATORS, ids=lambda g: type(g).__name__)
def test_augmenter_match_conditions(generator, tiny_reach):
    aug = SyntheticAugmenter(generator, ratio=2, bin_ms=tiny_reach.bin_ms, random_state=0)
    X, y = aug.fit_resample(tiny_reach.spikes, tiny_reach.behavior)
    n = tiny_reach.n_trials
    assert X.shape == (3 * n, tiny_reach.n_bins, tiny_reach.n_neurons)
    np.testing.assert_array_equal(X[:n], tiny_reach.spikes)
    # "match": every training trajectory is used twice.
    np.testing.assert_allclose(np.sort(y[n:].sum(axis=(1, 2))),
                               np.sort(np.repeat(tiny_reach.behavior.sum(axis=(1, 2)), 2)))


# ------------------------------------------------------------------------------ jitter
def test_nearest_trials_prefers_exact_match():
    rng = np.random.default_rng(0)
    stored = rng.normal(size=(10, 6, 2))
    requested = np.concatenate([stored[[7, 2]], stored[[4]] + 0.01])
    np.testing.assert_array_equal(nearest_trials(requested, stored), [7, 2, 4])


def test_jitter_preserves_counts_in_expectation(tiny_reach):
    gen = PoissonJitterGenerator().fit(tiny_reach)
    k = 3
    vel = np.repeat(tiny_reach.behavior[k:k + 1], 4000, axis=0)
    out = gen.sample(4000, velocity=vel, random_state=0)
    np.testing.assert_array_equal(out.rates[0], tiny_reach.spikes[k])
    mean = out.spikes.mean(axis=0)
    sem = np.sqrt(np.maximum(tiny_reach.spikes[k], 1) / 4000)
    assert np.all(np.abs(mean - tiny_reach.spikes[k]) < 5 * sem)
    # Poisson resampling: variance equals the source count.
    np.testing.assert_allclose(out.spikes.var(axis=0).mean(), tiny_reach.spikes[k].mean(),
                               rtol=0.1)


def test_jitter_shifts_counts_by_whole_bins(tiny_reach):
    gen = PoissonJitterGenerator(max_shift=2).fit(tiny_reach)
    vel = np.repeat(tiny_reach.behavior[:1], 200, axis=0)
    rates = gen.sample(200, velocity=vel, random_state=0).rates
    src = tiny_reach.spikes[0].astype(np.float32)
    n_bins = src.shape[0]
    shifted = {s: src[np.clip(np.arange(n_bins) + s, 0, n_bins - 1)] for s in range(-2, 3)}
    found = [next(s for s, v in shifted.items() if np.array_equal(r, v)) for r in rates]
    assert set(found) == {-2, -1, 0, 1, 2}


def test_jitter_unconditional_returns_training_velocity(tiny_reach):
    gen = PoissonJitterGenerator(condition=None).fit(tiny_reach)
    out = gen.sample(5, random_state=0)
    idx = nearest_trials(out.behavior, tiny_reach.behavior)
    np.testing.assert_allclose(out.behavior, tiny_reach.behavior[idx], rtol=1e-6)


@pytest.mark.parametrize("bad", [-1, 1.5, True, 20])
def test_jitter_rejects_bad_max_shift(tiny_reach, bad):
    with pytest.raises(ValueError, match="max_shift"):
        PoissonJitterGenerator(max_shift=bad).fit(tiny_reach)


def test_jitter_rejects_angle_condition(tiny_reach):
    with pytest.raises(ValueError, match="condition"):
        PoissonJitterGenerator(condition="angle").fit(tiny_reach)


# ---------------------------------------------------------------------- encoding GLM
def test_glm_solver_matches_known_weights():
    rng = np.random.default_rng(0)
    F = rng.normal(size=(20000, 3))
    W_true = np.array([[0.5, -1.0], [0.4, 0.0], [-0.3, 0.6], [0.2, -0.5]])
    Y = rng.poisson(np.exp(W_true[0] + F @ W_true[1:]))
    W = fit_poisson_glm(F, Y, alpha=0.0)
    np.testing.assert_allclose(W, W_true, atol=0.03)


def test_glm_handles_a_silent_neuron():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(500, 2))
    Y = np.stack([rng.poisson(np.exp(F[:, 0])), np.zeros(500)], axis=1)
    W = fit_poisson_glm(F, Y, alpha=1e-3)
    assert np.all(np.isfinite(W)) and np.exp(W[0, 1]) < 1e-3


def test_encoding_generator_recovers_a_known_tuning():
    rng = np.random.default_rng(0)
    n_trials, n_bins, lag = 200, 30, 2
    t = np.arange(n_bins)
    # Velocity that changes from bin to bin, so that the lags are identifiable.
    vel = rng.normal(scale=60.0, size=(n_trials, n_bins, 2))
    tuning = np.array([[0.01, 0.0], [0.0, -0.01], [0.007, 0.007]])
    ahead = vel[:, np.clip(t + lag, 0, n_bins - 1)]
    rates = np.exp(np.log(0.5) + ahead @ tuning.T)
    trials = TrialSet(rng.poisson(rates), vel, pd.DataFrame(index=range(n_trials)), bin_ms=20)
    gen = PoissonEncodingGenerator(lags=(0, lag), alpha=0.0).fit(trials)
    # Weights back in velocity units: the lag-2 velocity block carries the tuning.
    per_unit = gen.coef_ / gen.feature_std_[:, None]
    np.testing.assert_allclose(per_unit[3:5].T, tuning, atol=1e-3)
    assert np.all(np.abs(per_unit[0:3]) < 1e-3) and np.all(np.abs(per_unit[5]) < 1e-3)
    new = gen.sample(50, velocity=vel[:50], random_state=0).rates
    np.testing.assert_allclose(np.log(new), np.log(rates[:50]), atol=0.2)


def test_velocity_features_reads_later_bins():
    vel = np.arange(10, dtype=float).reshape(1, 5, 2)
    f = velocity_features(vel, (0, 1))
    assert f.shape == (1, 5, 6)
    np.testing.assert_array_equal(f[0, :, 3:5], vel[0, [1, 2, 3, 4, 4]])
    np.testing.assert_allclose(f[0, :, 2], np.linalg.norm(vel[0], axis=1))


@pytest.mark.parametrize("params, match", [
    (dict(lags=()), "lags"), (dict(lags=(0, 99)), "lags"), (dict(lags=3), "lags"),
    (dict(alpha=-1.0), "alpha"), (dict(max_iter=0), "max_iter"),
])
def test_encoding_rejects_bad_parameters(tiny_reach, params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        PoissonEncodingGenerator(**params).fit(tiny_reach)


def test_encoding_needs_velocity_condition(tiny_reach):
    with pytest.raises(ValueError, match="condition"):
        PoissonEncodingGenerator(condition="angle").fit(tiny_reach)


# ------------------------------------------------------------ autoencoder reconstruction
def test_reconstruction_draws_around_the_autoencoders_rates_of_the_matching_trial(tiny_reach):
    gen = AutoencoderReconstructionGenerator(TINY_AE, device="cpu", random_state=0)
    gen.fit(tiny_reach)
    k = 4
    out = gen.sample(3, velocity=np.repeat(tiny_reach.behavior[k:k + 1], 3, axis=0),
                     random_state=0)
    expected = gen.autoencoder_.predict_rates(tiny_reach[k:k + 1])[0]
    for rates in out.rates:
        np.testing.assert_allclose(rates, expected, rtol=1e-5)
    # Smoothed rates, not the trial's own counts (what jitter would give).
    assert not np.allclose(out.rates[0], tiny_reach.spikes[k])
    # The autoencoder given is cloned, not trained in place.
    assert not hasattr(TINY_AE, "n_neurons_")


def test_reconstruction_refuses_a_bad_autoencoder_before_training(tiny_reach):
    with pytest.raises(ValueError, match="autoencoder"):
        AutoencoderReconstructionGenerator(autoencoder="big").fit(tiny_reach)
