"""metrics.variability: trial-to-trial variability beyond the behaviour, real and generated."""

import numpy as np
import pytest

from eag_augment.generators import PSTHPoissonGenerator
from eag_augment.metrics import (conditional_rate_dispersion, residual_fano_factor,
                                 residual_rate_dispersion)


def _reach(gain_shape=None, n=200, seed=0):
    """Poisson counts at rates linear in a random-walk velocity, optionally times a gamma
    trial gain of mean 1 (extra variability the velocity does not explain)."""
    rng = np.random.default_rng(seed)
    v = np.cumsum(rng.normal(size=(n, 20, 2)), axis=1) * 0.3
    rate = np.clip(0.5 + v @ rng.normal(size=(2, 30)) * 0.06, 0.01, None)
    if gain_shape is not None:
        rate = rate * rng.gamma(gain_shape, 1 / gain_shape, size=(n, 1, 30))
    return rng.poisson(rate), v


def test_poisson_counts_around_a_velocity_tuned_rate_have_a_residual_fano_near_one():
    spikes, v = _reach()
    fano = residual_fano_factor(spikes, v)
    assert fano.shape == (30,)
    assert 0.97 < np.median(fano) < 1.05


def test_a_trial_gain_the_velocity_does_not_explain_raises_the_residual_fano():
    # A gamma gain of shape 2 adds variance rate^2 / 2: at rates near 0.5, about +0.25.
    fano = np.median(residual_fano_factor(*_reach(gain_shape=2.0)))
    assert 1.15 < fano < 1.4


def test_residual_rate_dispersion_measures_rate_variability_the_velocity_does_not_explain():
    rng = np.random.default_rng(2)
    v = np.cumsum(rng.normal(size=(300, 20, 2)), axis=1) * 0.3
    rate = 1.0 + v @ rng.normal(size=(2, 5)) * 0.05
    assert np.all(residual_rate_dispersion(np.clip(rate, 0, None), v) < 0.01)
    # A trial gain of s.d. 0.2 adds variance 0.04 * rate^2 at a mean rate near 1.
    gained = np.clip(rate * (1 + 0.2 * rng.normal(size=(300, 1, 5))), 0, None)
    np.testing.assert_allclose(residual_rate_dispersion(gained, v), 0.04, rtol=0.25)


def test_dispersion_is_zero_for_identical_samples_and_the_added_variance_otherwise():
    rng = np.random.default_rng(1)
    base = rng.uniform(1.0, 2.0, size=(6, 1, 10, 4))
    assert np.all(conditional_rate_dispersion(np.repeat(base, 5, axis=1)) < 1e-12)
    noisy = base + rng.normal(scale=0.1, size=(6, 400, 10, 4))
    expected = 0.01 / noisy.mean(axis=(0, 1, 2))
    np.testing.assert_allclose(conditional_rate_dispersion(noisy), expected, rtol=0.05)


def test_psth_samples_at_one_direction_share_their_rates(tiny_reach):
    gen = PSTHPoissonGenerator(random_state=0).fit(tiny_reach)
    rates = np.stack([gen.sample(4, angle=a, random_state=k).rates
                      for k, a in enumerate((0.0, 1.5, 3.0))])
    assert np.nanmax(conditional_rate_dispersion(rates)) < 1e-12


@pytest.mark.parametrize(("call", "match"), [
    (lambda: residual_fano_factor(np.ones((5, 4, 3)), np.ones((5, 3, 2))), "trials and bins"),
    (lambda: residual_fano_factor(np.ones((5, 4, 3)), np.full((5, 4, 2), np.nan)), "NaN"),
    (lambda: residual_fano_factor(-np.ones((5, 4, 3)), np.ones((5, 4, 2))), "non-negative"),
    (lambda: residual_fano_factor(np.ones((5, 4, 3)), np.ones((5, 4, 2)), n_splits=9),
     r"n_splits must be an integer in \[2, 5\]"),
    (lambda: residual_fano_factor(np.ones((5, 4, 3)), np.ones((5, 4, 2)), lags=-1), "lags"),
    (lambda: conditional_rate_dispersion(np.ones((3, 1, 4, 2))), "samples >= 2"),
    (lambda: residual_rate_dispersion(-np.ones((5, 4, 3)), np.ones((5, 4, 2))), ">= 0"),
    (lambda: residual_rate_dispersion(np.ones((5, 4)), np.ones((5, 4, 2))), r"\(trials, bins"),
    (lambda: conditional_rate_dispersion(-np.ones((3, 2, 4, 2))), ">= 0"),
])
def test_bad_input_is_refused_with_a_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()
