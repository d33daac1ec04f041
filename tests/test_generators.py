"""The shared generator interface, EAG and the PSTH-Poisson baseline (tiny CPU models)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from eag_augment import TrialSet
from eag_augment.checkpoint import read_config
from eag_augment.generators import (GENERATORS, EAGGenerator, LatentAutoencoder,
                                    PSTHPoissonGenerator, load_generator, make_generator)
from eag_augment.generators.eag import _patch, _unpatch, guidance_ramp
from eag_augment.nn.energy import (AdaLNNoiseHead, EnergyTransformer, cosine_mask_schedule,
                                   energy_score)
from eag_augment.nn.s4 import S4D

TINY_EAG = dict(width=16, depth=1, heads=2, n_buffer=2, head_width=16, head_blocks=1,
                noise_dim=12, epochs=2, batch_size=16, patch_size=2, device="cpu", random_state=0)


@pytest.fixture(scope="module", params=["angle", "velocity", None])
def fitted_eag(request, tiny_reach, tiny_autoencoder):
    gen = EAGGenerator(condition=request.param, **TINY_EAG)
    return gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)


# ------------------------------------------------------------------ nn pieces
def test_causal_s4_ignores_the_future():
    torch.manual_seed(0)
    layer = S4D(4, state_dim=8, bidirectional=False)
    u = torch.randn(2, 30, 4)
    v = u.clone()
    v[:, 20:] += torch.randn(2, 10, 4)
    with torch.no_grad():
        a, b = layer(u), layer(v)
    torch.testing.assert_close(a[:, :20], b[:, :20])
    assert not torch.allclose(a[:, 20:], b[:, 20:])
    bi = S4D(4, state_dim=8, bidirectional=True)
    with torch.no_grad():
        assert not torch.allclose(bi(u)[:, :20], bi(v)[:, :20])


def test_energy_score_is_minimised_by_the_true_distribution():
    torch.manual_seed(0)
    y = torch.randn(20000, 3)
    exact = energy_score(torch.randn(20000, 3), torch.randn(20000, 3), y)
    too_narrow = energy_score(0.3 * torch.randn(20000, 3), 0.3 * torch.randn(20000, 3), y)
    shifted = energy_score(torch.randn(20000, 3) + 1, torch.randn(20000, 3) + 1, y)
    assert exact < too_narrow and exact < shifted
    point = torch.zeros(5, 3)
    assert energy_score(point, point, point).item() == pytest.approx(0.0, abs=1e-3)


def test_features_at_queried_tokens_equal_the_full_pass():
    torch.manual_seed(0)
    model = EnergyTransformer(12, 6, width=32, depth=2, heads=4, n_buffer=3, velocity_dim=4,
                              angle_condition=True, head_width=16, head_blocks=1,
                              noise_dim=8).eval()
    tokens, velocity, angle = torch.randn(5, 12, 6), torch.randn(5, 12, 4), torch.randn(5)
    mask = torch.rand(5, 12) < 0.5
    query = torch.rand(5, 12).argsort(1)[:, :3]
    with torch.no_grad():
        full = model.features(tokens, mask, angle, velocity)
        part = model.features(tokens, mask, angle, velocity, query=query)
    torch.testing.assert_close(part, full.gather(1, query[..., None].expand(-1, -1, 32)))


def test_head_noise_must_cover_the_token(tiny_reach, tiny_autoencoder):
    with pytest.raises(ValueError, match="noise_dim .8. must be at least token_dim .12."):
        AdaLNNoiseHead(16, 12, noise_dim=8)
    gen = EAGGenerator(**{**TINY_EAG, "noise_dim": 11, "condition": "angle"})
    with pytest.raises(ValueError, match=r"noise_dim=11 is smaller than a token, patch_size 2 "
                       r"x 6 channels = 12 values"):
        gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
    gen = EAGGenerator(**{**TINY_EAG, "noise_dim": None, "condition": "angle"})
    assert gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder).module_.head.noise_dim == 64


@pytest.mark.parametrize("length, steps", [(28, 16), (28, 32), (140, 8), (5, 1), (3, 3)])
def test_cosine_schedule_reveals_every_token(length, steps):
    left = cosine_mask_schedule(length, steps)
    assert len(left) == min(length, steps) and left[-1] == 0
    assert all(b < a for a, b in zip([length] + left, left))


def test_guidance_is_on_from_the_first_step_and_full_at_the_last():
    left = cosine_mask_schedule(28, 16)
    weights = [guidance_ramp(3.0, 28, k) for k in left]
    assert 1.0 < weights[0] < 1.2 and weights[-1] == 3.0
    assert all(b > a for a, b in zip(weights, weights[1:]))
    assert guidance_ramp(1.0, 28, 5) == 1.0


def test_patch_roundtrip_with_padding():
    x = torch.randn(3, 11, 2)
    tokens = _patch(x, 4)
    assert tokens.shape == (3, 3, 8)
    torch.testing.assert_close(_unpatch(tokens, 4, 11), x)


# --------------------------------------------------------------- the interface
def test_sample_shapes_and_conditions(fitted_eag, tiny_reach):
    n = 6
    if fitted_eag.condition_ == "angle":
        out = fitted_eag.sample(n, angle=0.3, random_state=0)
        np.testing.assert_allclose(out.conditions["angle"], 0.3)
    elif fitted_eag.condition_ == "velocity":
        vel = tiny_reach.behavior[:n]
        out = fitted_eag.sample(n, velocity=vel, random_state=0)
        np.testing.assert_allclose(out.behavior, vel, rtol=1e-6)
    else:
        out = fitted_eag.sample(n, random_state=0)
    assert isinstance(out, TrialSet)
    assert out.spikes.shape == (n, tiny_reach.n_bins, tiny_reach.n_neurons)
    assert out.rates.shape == out.spikes.shape and np.all(out.rates >= 0)
    assert out.behavior.shape == (n, tiny_reach.n_bins, 2)  # generated or given
    assert out.bin_ms == tiny_reach.bin_ms


def test_same_seed_same_trials(fitted_eag):
    a = fitted_eag.sample(5, random_state=7)
    b = fitted_eag.sample(5, random_state=7)
    c = fitted_eag.sample(5, random_state=8)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.rates, b.rates)
    assert not np.array_equal(a.rates, c.rates)


def test_fit_is_deterministic(tiny_reach, tiny_autoencoder):
    a = EAGGenerator(condition="angle", **TINY_EAG).fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
    b = EAGGenerator(condition="angle", **TINY_EAG).fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
    np.testing.assert_array_equal(a.sample(4, random_state=1).rates, b.sample(4, random_state=1).rates)


def test_guidance_and_steps_change_samples(tiny_reach, tiny_autoencoder):
    gen = EAGGenerator(condition="angle", **TINY_EAG).fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
    base = gen.sample(4, angle=1.0, random_state=0).rates
    assert not np.array_equal(base, gen.sample(4, angle=1.0, guidance_scale=3.0, random_state=0).rates)
    assert not np.array_equal(base, gen.sample(4, angle=1.0, n_steps=2, random_state=0).rates)


def test_condition_errors(fitted_eag, tiny_reach):
    cond = fitted_eag.condition_
    if cond is None:
        with pytest.raises(ValueError, match="without conditions"):
            fitted_eag.sample(2, angle=0.0)
    if cond == "angle":
        with pytest.raises(ValueError, match=r"angle must be a scalar or have shape \(3,\)"):
            fitted_eag.sample(3, angle=[0.0, 1.0])
        with pytest.raises(ValueError, match="conditioned on reach angle"):
            fitted_eag.sample(2, velocity=tiny_reach.behavior[:2])
    if cond == "velocity":
        with pytest.raises(ValueError, match=r"velocity must have shape \(2, 20, 2\)"):
            fitted_eag.sample(2, velocity=tiny_reach.behavior[:2, :10])
        with pytest.raises(ValueError, match="not angle="):
            fitted_eag.sample(2, angle=0.0)
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        fitted_eag.sample(0)
    with pytest.raises(ValueError, match="guidance_scale"):
        fitted_eag.sample(2, guidance_scale=float("nan"))
    with pytest.raises(ValueError, match="n_steps"):
        fitted_eag.sample(2, n_steps=0)
    with pytest.raises(TypeError, match=r"\['sampler'\]; .* it takes n_steps, batch_size$"):
        fitted_eag.sample(2, sampler="ddim")  # a latent-diffusion option, not EAG's


def test_sampling_before_fit_and_bad_fit_inputs(tiny_reach):
    with pytest.raises(NotFittedError, match="not fitted"):
        EAGGenerator().sample(3)
    with pytest.raises(TypeError, match="must be a TrialSet"):
        EAGGenerator().fit(tiny_reach.spikes)
    with pytest.raises(ValueError, match="condition must be one of"):
        EAGGenerator(condition="speed").fit(tiny_reach)
    no_behavior = TrialSet(tiny_reach.spikes, bin_ms=10)
    with pytest.raises(ValueError, match="needs trials with behavior"):
        EAGGenerator(condition="velocity").fit(no_behavior)


def test_clone_keeps_hyperparameters_only(fitted_eag):
    c = clone(fitted_eag)
    assert c.get_params()["width"] == 16 and not hasattr(c, "module_")


# ------------------------------------------------------------------ checkpoints
def test_save_load_gives_identical_samples(fitted_eag, tmp_path):
    path = fitted_eag.save(tmp_path / "model.pt")
    assert read_config(path)["kind"] == "EAGGenerator"
    again = EAGGenerator.load(path, device="cpu")
    also = load_generator(path, device="cpu")
    a = fitted_eag.sample(4, random_state=3)
    np.testing.assert_array_equal(a.spikes, again.sample(4, random_state=3).spikes)
    np.testing.assert_array_equal(a.rates, also.sample(4, random_state=3).rates)
    assert again.get_params()["autoencoder"] is None


def test_checkpoint_errors(fitted_eag, tiny_reach, tmp_path):
    path = fitted_eag.save(tmp_path / "model.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        EAGGenerator.load(truncated)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a readable"):
        load_generator(garbage)
    with pytest.raises(FileNotFoundError):
        load_generator(tmp_path / "missing.pt")
    psth = PSTHPoissonGenerator().fit(tiny_reach).save(tmp_path / "psth.pt")
    with pytest.raises(ValueError, match="holds a PSTHPoissonGenerator, not a EAGGenerator"):
        EAGGenerator.load(psth)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not an eag_augment checkpoint"):
        load_generator(other)


def test_no_partial_file_left_on_failed_save(tiny_reach, tmp_path, monkeypatch):
    gen = PSTHPoissonGenerator().fit(tiny_reach)
    target = tmp_path / "psth.pt"
    gen.save(target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        gen.save(target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["psth.pt"]


# ------------------------------------------------------------------ learning
def test_eag_prior_learns_a_simple_distribution():
    """On latents drawn from a known Gaussian, samples match its mean and spread."""
    rng = np.random.default_rng(0)
    n, bins, ch = 256, 8, 2
    mean = np.array([1.0, -0.5], dtype=np.float32)
    x = (mean + 0.3 * rng.standard_normal((n, 1, ch))).repeat(bins, 1).astype(np.float32)
    gen = EAGGenerator(condition=None, width=32, depth=1, heads=2, n_buffer=1, head_width=32,
                       head_blocks=2, noise_dim=8, patch_size=2, epochs=150, batch_size=64,
                       lr=3e-3, ema_decay=0.9, device="cpu")
    gen.device_, gen.condition_, gen.n_behavior_, gen.n_bins_ = torch.device("cpu"), None, 0, bins
    torch.manual_seed(0)
    gen._fit_prior(x, None, None, rng)
    with torch.no_grad():
        samples = gen._sample_prior(2000, None, None, 1.0, torch.Generator().manual_seed(1)).numpy()
    np.testing.assert_allclose(samples.mean(axis=(0, 1)), mean, atol=0.1)
    assert 0.15 < samples[:, 0].std(axis=0).mean() < 0.45
    # Tokens of a trial share their value in the data: the transformer must carry it across.
    assert np.corrcoef(samples[:, 0, 0], samples[:, -1, 0])[0, 1] > 0.5


def test_autoencoder_reconstructs_rates(tiny_reach):
    ae = LatentAutoencoder(latent_dim=4, channels=16, n_blocks=1, state_dim=8, epochs=80,
                           patience=80, batch_size=8, lr=5e-3, random_state=0,
                           device="cpu").fit(tiny_reach)
    rates = ae.predict_rates(tiny_reach)
    assert rates.shape == tiny_reach.spikes.shape
    mean_model = tiny_reach.spikes.mean()
    err_model = np.mean((rates - tiny_reach.rates) ** 2)
    err_flat = np.mean((mean_model - tiny_reach.rates) ** 2)
    assert err_model < 0.7 * err_flat
    with pytest.raises(ValueError, match="neurons"):
        ae.encode(tiny_reach.spikes[:, :, :3])
    assert ae.history_.best_epoch >= 0


# ------------------------------------------------------------------ PSTH baseline
def test_psth_generator_follows_condition_means(tiny_reach):
    gen = PSTHPoissonGenerator(smooth_ms=0).fit(tiny_reach)
    target = tiny_reach.conditions["angle"].iloc[0]
    out = gen.sample(400, angle=target, random_state=0)
    group = tiny_reach.spikes[tiny_reach.conditions["angle"] == target].mean(axis=0)
    np.testing.assert_allclose(out.rates[0], group, atol=1e-6)
    assert abs(out.spikes.mean() - group.mean()) < 0.05
    unseen = gen.sample(3, angle=target + np.pi / 8, random_state=0)  # halfway to the next one
    assert np.all(unseen.rates >= 0)
    np.testing.assert_allclose(unseen.angles, target + np.pi / 8, atol=1e-9)
    beh_angle = np.arctan2(unseen.behavior[0, :, 1].sum(), unseen.behavior[0, :, 0].sum())
    assert beh_angle == pytest.approx(target + np.pi / 8, abs=1e-6)


def test_autoencoder_save_load(tiny_autoencoder, tiny_reach, tmp_path):
    path = tiny_autoencoder.save(tmp_path / "ae.pt")
    again = LatentAutoencoder.load(path, device="cpu")
    np.testing.assert_array_equal(again.encode(tiny_reach), tiny_autoencoder.encode(tiny_reach))
    assert again.get_params() == tiny_autoencoder.get_params()
    with pytest.raises(ValueError, match="not a LatentAutoencoder"):
        LatentAutoencoder.load(PSTHPoissonGenerator().fit(tiny_reach).save(tmp_path / "p.pt"))


# ------------------------------------------------------------------ presets
def test_cpu_presets_are_the_class_defaults_and_overrides_apply():
    for kind, klass in GENERATORS.items():
        gen = make_generator(kind)
        default = klass(autoencoder=LatentAutoencoder()) if "autoencoder" in \
            klass().get_params() else klass()
        params = {k: v for k, v in gen.get_params().items() if k != "autoencoder"}
        assert params == {k: v for k, v in default.get_params().items() if k != "autoencoder"}
    gen = make_generator("eag", "quick", steps=5, autoencoder__latent_dim=4)
    assert gen.steps == 5 and gen.autoencoder.latent_dim == 4 and gen.width == 32
    with pytest.raises(ValueError, match="kind must be one of"):
        make_generator("gan")
    with pytest.raises(ValueError, match="preset of 'eag' must be one of"):
        make_generator("eag", "ldns")


@pytest.mark.parametrize("kind, preset", [("eag", "paper"), ("latent_diffusion", "ldns"),
                                          ("langevin", "paper")])
def test_gpu_presets_build_and_train_a_step_on_tiny_data(kind, preset, tiny_reach):
    """Paper sizes are not trained here (a GPU's work): one epoch on 48 tiny trials."""
    short = {"epochs": 1} if kind == "langevin" else {"epochs": 1, "autoencoder__epochs": 1}
    gen = make_generator(kind, preset, device="cpu", random_state=0, **short)
    gen.fit(tiny_reach)
    fast = {"sampler": "ddim", "n_steps": 2} if kind == "latent_diffusion" else {}
    out = gen.sample(2, random_state=0, **fast)
    assert out.spikes.shape == (2, tiny_reach.n_bins, tiny_reach.n_neurons)
    if kind == "eag":
        assert gen.module_.n_tokens == tiny_reach.n_bins  # one bin per token, as in the paper
