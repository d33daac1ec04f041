"""LatentAutoencoder(behavior_weight > 0): latents that keep the behaviour linearly decodable."""

import numpy as np
import pytest

from eag_augment import SyntheticAugmenter
from eag_augment.decoders import RidgeDecoder
from eag_augment.factors import FactorDecoder
from eag_augment.generators import (AutoencoderReconstructionGenerator, EAGGenerator,
                                    LatentAutoencoder)

AE = dict(latent_dim=4, channels=16, n_blocks=1, state_dim=8, epochs=150, patience=150,
          batch_size=8, lr=5e-3, device="cpu", random_state=0)


def _linear_r2(z: np.ndarray, y: np.ndarray) -> float:
    """R^2 of the least-squares read-out of y (trials, bins, dims) from z (trials, bins, d)."""
    Z = np.c_[z.reshape(-1, z.shape[2]), np.ones(z.shape[0] * z.shape[1])]
    Y = y.reshape(-1, y.shape[2])
    resid = Y - Z @ np.linalg.lstsq(Z, Y, rcond=None)[0]
    return 1 - resid.var(axis=0).sum() / Y.var(axis=0).sum()


def test_the_behaviour_loss_makes_velocity_readable_from_the_latents(tiny_reach):
    plain = LatentAutoencoder(**AE).fit(tiny_reach)
    guided = LatentAutoencoder(**AE, behavior_weight=1.0).fit(tiny_reach)
    r2_plain = _linear_r2(plain.encode(tiny_reach), tiny_reach.behavior)
    r2_guided = _linear_r2(guided.encode(tiny_reach), tiny_reach.behavior)
    assert r2_guided > 0.8
    assert r2_guided > r2_plain + 0.1
    assert guided.n_behavior_ == 2 and plain.n_behavior_ == 0
    assert guided.predict_rates(tiny_reach).shape == tiny_reach.spikes.shape


def test_y_overrides_the_trialsets_behaviour_and_nan_trials_count_as_unlabelled(tiny_reach):
    y = tiny_reach.behavior.copy()
    y[::2] = np.nan
    half = LatentAutoencoder(**{**AE, "epochs": 2}, behavior_weight=1.0).fit(tiny_reach, y)
    full = LatentAutoencoder(**{**AE, "epochs": 2}, behavior_weight=1.0).fit(tiny_reach)
    assert not np.allclose(half.encode(tiny_reach), full.encode(tiny_reach))
    # Without the weight, y is not read at all.
    assert np.array_equal(
        LatentAutoencoder(**{**AE, "epochs": 2}).fit(tiny_reach, y).encode(tiny_reach),
        LatentAutoencoder(**{**AE, "epochs": 2}).fit(tiny_reach).encode(tiny_reach))


@pytest.mark.parametrize("y, match", [
    (None, "needs the behaviour"),
    (np.zeros((3, 20, 2)), "shape"),
    (np.full((48, 20, 2), np.nan), "at least one labelled"),
    (np.where(np.arange(20)[None, :, None] == 3, np.nan, 1.0) * np.ones((48, 20, 2)),
     "finite"),
])
def test_bad_behaviour_is_refused_before_training(tiny_reach, y, match):
    ae = LatentAutoencoder(**AE, behavior_weight=1.0)
    with pytest.raises(ValueError, match=match):
        ae.fit(tiny_reach.spikes, y)
    assert not hasattr(ae, "module_")
    with pytest.raises(ValueError, match="behavior_weight"):
        LatentAutoencoder(behavior_weight=-1.0).fit(tiny_reach)


def test_save_load_keeps_the_readout(tiny_reach, tmp_path):
    ae = LatentAutoencoder(**{**AE, "epochs": 2}, behavior_weight=0.5).fit(tiny_reach)
    again = LatentAutoencoder.load(ae.save(tmp_path / "ae.pt"), device="cpu")
    np.testing.assert_array_equal(again.predict_rates(tiny_reach), ae.predict_rates(tiny_reach))
    assert again.n_behavior_ == 2 and again.behavior_weight == 0.5


def test_generators_and_the_factor_decoder_give_their_autoencoder_the_labels(tiny_reach):
    ae = LatentAutoencoder(**{**AE, "epochs": 2}, behavior_weight=1.0)
    labelled, unlabelled = tiny_reach[:24], tiny_reach[24:]
    recon = AutoencoderReconstructionGenerator(ae, device="cpu", random_state=0).fit(labelled)
    assert recon.autoencoder_.n_behavior_ == 2
    gen = EAGGenerator(autoencoder=ae, width=8, depth=1, heads=2, n_buffer=1, head_width=8,
                       head_blocks=1, epochs=1, device="cpu")
    aug = SyntheticAugmenter(gen, ratio=1, bin_ms=10, random_state=0)
    aug.fit_resample(labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    assert aug.generator_.n_unlabelled_ == 24 and aug.generator_.autoencoder_.n_behavior_ == 2
    dec = FactorDecoder(RidgeDecoder(lags=2), ae).fit(
        labelled.spikes, labelled.behavior, unlabelled=unlabelled.spikes)
    assert dec.autoencoder_.n_behavior_ == 2 and dec.n_unlabelled_ == 24
