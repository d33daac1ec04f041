"""LatentDiffusionGenerator and its modules (DDPM schedule, S4 denoiser) on tiny data."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from eag_augment._torch import torch_generator
from eag_augment.generators.base import load_generator
from eag_augment.generators.diffusion import LatentDiffusionGenerator
from eag_augment.nn.diffusion import DDPMSchedule, DiffusionDenoiser

TINY = dict(channels=16, n_blocks=2, state_dim=8, n_timesteps=50, n_steps=10, epochs=2,
            batch_size=20, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def models(tiny_reach, tiny_autoencoder) -> dict:
    return {cond: LatentDiffusionGenerator(condition=cond, **TINY).fit(
                tiny_reach, fitted_autoencoder=tiny_autoencoder)
            for cond in ("velocity", "angle", None)}


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("n_timesteps", [1000, 50])
def test_schedule_ends_in_noise_and_ddim_steps_are_even(n_timesteps):
    s = DDPMSchedule(n_timesteps)
    assert s.betas[0] == pytest.approx(1e-4 * 1000 / n_timesteps)
    assert s.alpha_bars[-1] < 1e-3
    steps = s.ddim_timesteps(5)
    assert steps[0] == n_timesteps - 1 and len(steps) == 5
    assert len(set(np.diff(steps))) <= 2  # evenly spaced up to rounding
    assert s.ddim_timesteps(n_timesteps) == list(range(n_timesteps - 1, -1, -1))
    with pytest.raises(ValueError, match="n_steps"):
        s.ddim_timesteps(n_timesteps + 1)


def test_samplers_invert_the_forward_process_given_the_true_noise():
    s = DDPMSchedule(100)
    x0, eps = torch.randn(3, 7, 2), torch.randn(3, 7, 2)
    t = torch.full((3,), 60)
    x_t = s.q_sample(x0, t, eps)
    torch.testing.assert_close(s.ddim_step(x_t, eps, 60, -1), x0, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(s.ddim_step(x_t, eps, 60, 20),
                               s.q_sample(x0, torch.full((3,), 20), eps), atol=1e-4, rtol=1e-4)
    x_1 = s.q_sample(x0, torch.full((3,), 0), eps)
    torch.testing.assert_close(s.ddpm_step(x_1, eps, 0), x0, atol=1e-4, rtol=1e-4)


def test_denoiser_starts_at_zero_and_needs_its_conditions():
    net = DiffusionDenoiser(5, channels=16, n_blocks=2, state_dim=8, velocity_dim=2,
                            angle_condition=True)
    x, t = torch.randn(4, 9, 5), torch.randint(0, 1000, (4,))
    out = net(x, t, angle=torch.zeros(4), velocity=torch.randn(4, 9, 2))
    assert out.shape == (4, 9, 5) and torch.all(out == 0)
    with pytest.raises(ValueError, match="velocity"):
        net(x, t, angle=torch.zeros(4))
    with pytest.raises(ValueError, match="angle"):
        net(x, t, velocity=torch.randn(4, 9, 2))


# --------------------------------------------------------------- generator
@pytest.mark.parametrize("condition", ["velocity", "angle", None])
def test_sample_shapes(models, tiny_reach, condition):
    kwargs = {"velocity": tiny_reach.behavior[:5]} if condition == "velocity" else \
        {"angle": 0.3} if condition == "angle" else {}
    out = models[condition].sample(5, random_state=0, **kwargs)
    assert out.spikes.shape == out.rates.shape == (5, tiny_reach.n_bins, tiny_reach.n_neurons)
    assert np.all(np.isfinite(out.rates)) and np.all(out.rates >= 0)
    assert out.behavior.shape == (5, tiny_reach.n_bins, 2)
    if condition == "velocity":
        np.testing.assert_allclose(out.behavior, tiny_reach.behavior[:5], rtol=1e-6)
    if condition == "angle":
        np.testing.assert_allclose(out.conditions["angle"], 0.3)


def test_same_seed_same_trials_and_guidance_is_ignored(models):
    model = models["angle"]
    a = model.sample(4, angle=1.0, random_state=7)
    b = model.sample(4, angle=1.0, random_state=7, guidance_scale=3.0)
    c = model.sample(4, angle=1.0, random_state=8)
    np.testing.assert_array_equal(a.rates, b.rates)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert not np.array_equal(a.rates, c.rates)


def test_ddim_with_few_steps_is_deterministic_and_differs_from_ddpm(models):
    model = models["velocity"]
    ddim = model.sample(6, random_state=1, sampler="ddim", n_steps=3)
    again = model.sample(6, random_state=1, sampler="ddim", n_steps=3)
    ddpm = model.sample(6, random_state=1, sampler="ddpm")
    assert np.all(np.isfinite(ddim.rates))
    np.testing.assert_array_equal(ddim.rates, again.rates)
    assert not np.allclose(ddim.rates, ddpm.rates)


def test_sampling_in_chunks(models, tiny_reach):
    out = models[None].sample(7, random_state=0, batch_size=3)
    assert out.rates.shape == (7, tiny_reach.n_bins, tiny_reach.n_neurons)


def test_save_load_round_trip(models, tmp_path):
    model = models["velocity"]
    path = model.save(tmp_path / "ldns.ckpt")
    loaded = LatentDiffusionGenerator.load(path, device="cpu")
    assert type(load_generator(path, device="cpu")) is LatentDiffusionGenerator
    assert loaded.get_params()["n_timesteps"] == model.n_timesteps
    for sampler in ("ddpm", "ddim"):
        a = model.sample(3, random_state=5, sampler=sampler)
        b = loaded.sample(3, random_state=5, sampler=sampler)
        np.testing.assert_array_equal(a.rates, b.rates)
        np.testing.assert_array_equal(a.spikes, b.spikes)


def test_errors(models, tiny_reach, tiny_autoencoder):
    with pytest.raises(NotFittedError):
        LatentDiffusionGenerator().sample(2)
    velocity_model = models["velocity"]
    expected = rf"velocity must have shape \(2, {tiny_reach.n_bins}, 2\)"
    with pytest.raises(ValueError, match=expected):
        velocity_model.sample(2, velocity=np.zeros((2, tiny_reach.n_bins + 1, 2)))
    with pytest.raises(ValueError, match="angle"):
        velocity_model.sample(2, angle=0.5)
    with pytest.raises(ValueError, match="n_timesteps=50"):
        velocity_model.sample(2, sampler="ddpm", n_steps=10)
    with pytest.raises(ValueError, match=r"n_steps must be an integer in \[1, 50\]"):
        velocity_model.sample(2, sampler="ddim", n_steps=51)
    with pytest.raises(ValueError, match="sampler"):
        velocity_model.sample(2, sampler="euler")
    with pytest.raises(ValueError, match="'loss' parameter of LatentDiffusionGenerator"):
        LatentDiffusionGenerator(**{**TINY, "loss": "l1"}).fit(
            tiny_reach, fitted_autoencoder=tiny_autoencoder)
    with pytest.raises(ValueError, match="n_steps"):
        LatentDiffusionGenerator(**{**TINY, "sampler": "ddim", "n_steps": 500}).fit(
            tiny_reach, fitted_autoencoder=tiny_autoencoder)


MU = np.array([1.5, -1.0, 0.5], dtype=np.float32)


@pytest.fixture(scope="module")
def narrow_prior() -> LatentDiffusionGenerator:
    """The prior alone, fitted on N(MU, 0.1^2) sequences (normalised-latent space)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = (MU + 0.1 * rng.standard_normal((128, 12, 3))).astype(np.float32)
    gen = LatentDiffusionGenerator(condition=None, channels=16, n_blocks=2, state_dim=8,
                                   n_timesteps=100, n_steps=20, epochs=40, batch_size=32,
                                   lr=1e-2, ema_decay=None, device="cpu")
    gen.condition_, gen.device_, gen.n_bins_, gen.n_behavior_ = None, torch.device("cpu"), 12, 0
    gen._fit_prior(x, None, None, rng)
    return gen


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_learns_a_narrow_latent_distribution(narrow_prior, sampler):
    """Untrained, samples would be noise of spread >= 1; trained, they recover MU and 0.1."""
    gen = torch_generator(0, narrow_prior.device_)
    samples = narrow_prior._sample_prior(300, None, None, 1.0, gen, sampler=sampler).numpy()
    np.testing.assert_allclose(samples.mean(axis=(0, 1)), MU, atol=0.1)
    assert samples.std(axis=0).mean() < 0.25
