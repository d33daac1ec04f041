"""Label-scarce learning: unlabelled spikes reach the generator and FactorDecoder, never labels."""

import numpy as np
import pytest
from sklearn.base import clone

from eag_augment import SyntheticAugmenter
from eag_augment.decoders import RidgeDecoder
from eag_augment.factors import FactorDecoder
from eag_augment.generators import (EAGGenerator, LatentAutoencoder, PSTHPoissonGenerator)
from eag_augment.generators.eag import _with_unlabelled
from eag_augment.model_selection import default_search_space, tuned_pipeline
from eag_augment.trials import TrialSet

AE = dict(latent_dim=4, channels=8, n_blocks=1, state_dim=8, epochs=3, device="cpu",
          random_state=0)


@pytest.fixture
def split(tiny_reach):
    return tiny_reach[:16], tiny_reach[16:40], tiny_reach[40:]


def test_factor_decoder_learns_its_autoencoder_from_real_and_unlabelled_spikes(split):
    labelled, unlabelled, test = split
    dec = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE))
    dec.fit(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    assert dec.n_unlabelled_ == unlabelled.n_trials
    # The autoencoder saw 16 + 24 trials: 10 % held out for its early stopping.
    assert dec.autoencoder_.n_neurons_ == labelled.n_neurons
    pred = dec.predict(test.spikes)
    assert pred.shape == test.behavior.shape and np.isfinite(pred).all()
    assert np.isfinite(dec.score(test.spikes, test.behavior))


def test_factor_decoder_keeps_synthetic_trials_out_of_its_autoencoder(split):
    labelled, _, _ = split
    X = np.concatenate([labelled.spikes, labelled.spikes * 50])
    y = np.concatenate([labelled.behavior, labelled.behavior])
    mask = np.arange(len(X)) >= labelled.n_trials
    a = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE)).fit(X, y, is_synthetic=mask)
    b = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE)).fit(
        labelled.spikes, labelled.behavior)
    z = labelled.spikes[:3]
    np.testing.assert_allclose(a.autoencoder_.encode(z), b.autoencoder_.encode(z), rtol=1e-5)


def test_factor_decoder_path_shares_the_autoencoder_and_matches_separate_fits(split):
    labelled, unlabelled, test = split
    proto = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE))
    settings = [{"decoder__alpha": 1.0}, {"decoder__alpha": 100.0}]
    path = proto.fit_path(labelled.spikes, labelled.behavior, settings,
                          unlabelled=unlabelled.spikes)
    assert path[0].autoencoder_ is path[1].autoencoder_
    for setting, fitted in zip(settings, path):
        alone = clone(proto).set_params(**setting).fit(labelled.spikes, labelled.behavior,
                                                       unlabelled=unlabelled.spikes)
        np.testing.assert_allclose(fitted.predict(test.spikes), alone.predict(test.spikes),
                                   rtol=1e-6, atol=1e-9)
    assert default_search_space(proto) == {f"decoder__{name}": grid for name, grid in
                                           default_search_space(RidgeDecoder()).items()}


def test_tuned_factor_decoder_gets_the_unlabelled_spikes(split):
    labelled, unlabelled, _ = split
    pipe = tuned_pipeline(FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE)),
                          param_grid={"decoder__alpha": [1.0, 100.0]}, cv=2, random_state=0)
    pipe.fit(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    assert pipe.best_estimator_.n_unlabelled_ == unlabelled.n_trials


def test_unlabelled_spikes_with_nothing_to_learn_from_them_are_refused(split):
    labelled, unlabelled, _ = split
    with pytest.raises(ValueError, match="nothing here learns from them"):
        tuned_pipeline(RidgeDecoder(), cv=2).fit(labelled.spikes, labelled.behavior,
                                                 unlabelled=unlabelled.spikes)


@pytest.mark.parametrize(("make", "match"), [
    (lambda u: u[:, :3], r"unlabelled must have \(bins, neurons\)"),
    (lambda u: -u - 1, "non-negative"),
])
def test_bad_unlabelled_spikes_are_refused(split, make, match):
    labelled, unlabelled, _ = split
    with pytest.raises(ValueError, match=match):
        FactorDecoder(RidgeDecoder(), LatentAutoencoder(**AE)).fit(
            labelled.spikes, labelled.behavior, unlabelled=make(unlabelled.spikes))


def test_generators_without_an_autoencoder_refuse_unlabelled_spikes(split):
    labelled, unlabelled, _ = split
    aug = SyntheticAugmenter(PSTHPoissonGenerator(), ratio=1, bin_ms=10)
    with pytest.raises(ValueError, match="PSTHPoissonGenerator cannot learn from unlabelled"):
        aug.fit_resample(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)


def test_the_augmenter_passes_unlabelled_spikes_to_the_generators_autoencoder(split):
    labelled, unlabelled, _ = split
    gen = EAGGenerator(autoencoder=LatentAutoencoder(**AE), width=8, depth=1, heads=2,
                       n_buffer=1, head_width=8, head_blocks=1, epochs=1, device="cpu")
    aug = SyntheticAugmenter(gen, ratio=1, bin_ms=10, random_state=0)
    aug.fit_resample(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    assert aug.generator_.n_unlabelled_ == unlabelled.n_trials
    with pytest.raises(ValueError, match="prefit"):
        clone(aug).set_params(generator=aug.generator_, prefit=True).fit_resample(
            labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)


@pytest.mark.parametrize("features", ["log_rates", "rates"])
def test_factor_decoder_decodes_the_log_rates_or_the_rates_it_infers(split, features):
    labelled, _, test = split
    dec = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE), features=features)
    dec.fit(labelled.spikes, labelled.behavior)
    rates = dec.autoencoder_.predict_rates(test.spikes.astype(np.int32)).astype(np.float64)
    expected = np.log(rates) if features == "log_rates" else rates
    np.testing.assert_allclose(dec.predict(test.spikes), dec.decoder_.predict(expected))


def test_factor_decoder_seeds_an_unseeded_autoencoder(split):
    labelled, _, test = split
    unseeded = {**AE, "random_state": None}

    def predict(seed):
        return FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**unseeded),
                             random_state=seed).fit(labelled.spikes, labelled.behavior
                                                    ).predict(test.spikes)

    np.testing.assert_array_equal(predict(3), predict(3))
    assert not np.allclose(predict(3), predict(4))
    with pytest.raises(ValueError, match="'features' parameter of FactorDecoder must be"):
        FactorDecoder(features="latents").fit(labelled.spikes, labelled.behavior)


def _prior_unlabelled_generator(prior_unlabelled, **params):
    ae = LatentAutoencoder(latent_dim=2, channels=8, n_blocks=1, state_dim=8, steps=300, lr=0.01,
                           device="cpu", random_state=0)
    return EAGGenerator(autoencoder=ae, width=16, depth=1, heads=2, n_buffer=1, head_width=16,
                        head_blocks=1, steps=300, patch_size=2, noise_dim=4, lr=3e-3,
                        device="cpu", random_state=0, prior_unlabelled=prior_unlabelled,
                        **params)


def test_prior_unlabelled_lets_the_transformer_learn_the_unlabelled_trials_too():
    # Labelled trials fire at 0.3 spikes/bin, unlabelled ones at 1.5: an unconditional prior
    # that learns from both samples many high-rate trials, one that learns from the labelled
    # trials alone samples none.
    rng = np.random.default_rng(0)
    labelled = TrialSet(rng.poisson(0.3, (16, 10, 8)), rng.normal(size=(16, 10, 2)), bin_ms=10)
    unlabelled = rng.poisson(1.5, (64, 10, 8))
    rates = {}
    for flag in (False, True):
        gen = _prior_unlabelled_generator(flag, condition=None, generate_behavior=False)
        gen.fit(labelled, unlabelled=unlabelled)
        rates[flag] = gen.sample(100, random_state=0).spikes.mean(axis=(1, 2))
    assert rates[False].mean() < 0.45 and (rates[False] > 0.9).mean() == 0
    assert rates[True].mean() > 0.6 and (rates[True] > 0.9).mean() > 0.1


def test_prior_unlabelled_refuses_a_prior_that_generates_behaviour(split):
    labelled, unlabelled, _ = split
    gen = _prior_unlabelled_generator(True, condition="angle").set_params(noise_dim=None)
    with pytest.raises(ValueError, match="prior_unlabelled=True needs a prior of latents alone"):
        gen.fit(labelled, unlabelled=unlabelled.spikes)
    assert not hasattr(gen, "autoencoder_")  # refused before any training


def test_prior_unlabelled_repeats_the_labelled_trials_and_nulls_the_unlabelled_condition():
    x, u = np.ones((4, 6, 2), np.float32), np.zeros((10, 6, 2), np.float32)
    velocity = np.full((4, 6, 2), 7.0, np.float32)
    xs, angle, vel, null = _with_unlabelled(x, None, velocity, u)
    assert xs.shape == (18, 6, 2) and angle is None and vel.shape == (18, 6, 2)
    assert null.tolist() == [False] * 8 + [True] * 10  # labelled repeated round(10 / 4) = 2x
    np.testing.assert_array_equal(vel[:8], 7.0)
    assert not _with_unlabelled(x, None, velocity, None)[3].any()


def test_factor_decoder_fits_a_seeded_autoencoder_once_per_set_of_real_spikes(split):
    from eag_augment import factors

    labelled, unlabelled, test = split
    proto = FactorDecoder(RidgeDecoder(lags=2), LatentAutoencoder(**AE))
    factors._FITTED.clear()
    first = clone(proto).fit(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    # Other synthetic trials (left out of the autoencoder): the same autoencoder, reused.
    X = np.concatenate([labelled.spikes, labelled.spikes[:4] + 1])
    y = np.concatenate([labelled.behavior, labelled.behavior[:4]])
    mask = np.arange(len(X)) >= labelled.n_trials
    again = clone(proto).fit(X, y, is_synthetic=mask, unlabelled=unlabelled.spikes)
    assert again.autoencoder_ is first.autoencoder_
    # ... and what a separate fit would have made.
    factors._FITTED.clear()
    alone = clone(proto).fit(X, y, is_synthetic=mask, unlabelled=unlabelled.spikes)
    assert alone.autoencoder_ is not first.autoencoder_
    np.testing.assert_array_equal(alone.predict(test.spikes), again.predict(test.spikes))
    # Other unlabelled spikes, another seed, or an unseeded autoencoder: fitted anew.
    other = clone(proto).fit(labelled.spikes, labelled.behavior,
                             unlabelled=unlabelled.spikes[:10])
    assert other.autoencoder_ is not alone.autoencoder_
    reseeded = clone(proto).set_params(autoencoder__random_state=1).fit(
        X, y, is_synthetic=mask, unlabelled=unlabelled.spikes)
    assert reseeded.autoencoder_ is not alone.autoencoder_
    unseeded = clone(proto).set_params(autoencoder__random_state=None)
    assert unseeded.fit(labelled.spikes, labelled.behavior).autoencoder_ is not \
        unseeded.fit(labelled.spikes, labelled.behavior).autoencoder_
