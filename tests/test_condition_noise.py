"""EAG's condition_noise: validated, inert at 0, kept by clone and checkpoints, and it stops
the prior from replaying each training trial at its own velocity."""

import numpy as np
import pytest
from sklearn.base import clone

from eag_augment._validation import InvalidParameterError
from eag_augment.datasets import make_synthetic_reach
from eag_augment.generators import EAGGenerator, LatentAutoencoder
from eag_augment.metrics.variability import conditional_rate_dispersion

TINY_EAG = dict(width=16, depth=1, heads=2, n_buffer=2, head_width=16, head_blocks=1,
                noise_dim=12, epochs=2, batch_size=16, patch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def noisy_eag(tiny_reach, tiny_autoencoder):
    gen = EAGGenerator(condition="velocity", condition_noise=0.5, **TINY_EAG)
    return gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)


def test_negative_noise_is_refused_before_training(tiny_reach):
    gen = EAGGenerator(condition_noise=-0.1, **TINY_EAG)
    with pytest.raises(InvalidParameterError, match="'condition_noise' parameter of EAGGenerator"):
        gen.fit(tiny_reach)
    assert not hasattr(gen, "autoencoder_")


@pytest.mark.parametrize("condition", ["velocity", "angle"])
def test_zero_noise_is_the_plain_fit_and_noise_changes_it(condition, tiny_reach,
                                                          tiny_autoencoder):
    def rates(**kw):
        gen = EAGGenerator(condition=condition, **TINY_EAG, **kw)
        gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
        return gen.sample(4, random_state=1).rates

    plain = rates()
    np.testing.assert_array_equal(plain, rates(condition_noise=0.0))
    assert not np.array_equal(plain, rates(condition_noise=0.5))


def test_clone_set_params_and_checkpoints_keep_the_noise(noisy_eag, tmp_path):
    assert clone(noisy_eag).condition_noise == 0.5
    assert clone(noisy_eag).set_params(condition_noise=1.5).get_params()["condition_noise"] == 1.5
    again = EAGGenerator.load(noisy_eag.save(tmp_path / "noisy.pt"), device="cpu")
    assert again.get_params()["condition_noise"] == 0.5
    np.testing.assert_array_equal(again.sample(3, random_state=2).rates,
                                  noisy_eag.sample(3, random_state=2).rates)


def dispersions(seed: int) -> tuple[float, float]:
    """Conditional rate dispersion (mean over neurons) of EAG without and with
    condition_noise=2, 16 samples at each of 4 training trials' velocities."""
    reach = make_synthetic_reach(32, n_neurons=48, n_heldout=4, random_state=seed).rebin(25)
    # Stage 1 learns from all 32 trials (fewer leave its rates nearly flat); the prior from 12.
    ae = LatentAutoencoder(latent_dim=4, channels=16, n_blocks=1, state_dim=8, epochs=100,
                           patience=100, batch_size=8, lr=5e-3, random_state=seed,
                           device="cpu").fit(reach)
    train = reach[:12]
    velocity = np.repeat(train.behavior[:4], 16, axis=0)

    def dispersion(noise: float) -> float:
        gen = EAGGenerator(condition="velocity", condition_noise=noise, width=32, depth=1,
                           heads=2, n_buffer=2, head_width=32, head_blocks=1, noise_dim=56,
                           patch_size=7, steps=1000, batch_size=16, lr=5e-3, precision="fp32",
                           device="cpu", random_state=seed)
        gen.fit(train, fitted_autoencoder=ae)
        rates = gen.sample(64, velocity=velocity, random_state=seed).rates
        return float(np.nanmean(conditional_rate_dispersion(
            rates.reshape(4, 16, *rates.shape[1:]))))

    return dispersion(0.0), dispersion(2.0)


def test_noise_lets_samples_at_one_training_velocity_vary():
    """12 trials, each with its own velocity trajectory: without noise the prior learns to
    replay the trial its velocity names, so samples there barely vary (the memorisation seen
    on M1 recordings); with noise they vary like the trials near it. Measured with seeds 0, 1
    and 2: 0.0005, 0.0005, 0.0010 without noise; 0.0106, 0.0126, 0.0103 with it."""
    exact, noisy = dispersions(seed=0)
    assert noisy > 4 * exact, (exact, noisy)
