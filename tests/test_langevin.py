"""LangevinFlow: Langevin steps, the coupled-oscillator potential, the generator (tiny sizes)."""

import math

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from eag_augment import TrialSet
from eag_augment.generators import LangevinFlowGenerator, load_generator
from eag_augment.nn.langevin import CoupledOscillatorPotential, LangevinFlow, gaussian_kl

H, G = 0.01, 0.55
TINY = dict(latent_dim=4, n_groups=2, encoder_hidden=8, d_model=8, n_heads=2, ff_dim=16,
            epochs=2, batch_size=16, kl_warmup_epochs=1, device="cpu", random_state=0)


def tiny_module(latent_dim=4, n_groups=2, **kw) -> LangevinFlow:
    torch.manual_seed(0)
    return LangevinFlow(n_inputs=3, n_neurons=5, n_bins=6, latent_dim=latent_dim,
                        n_groups=n_groups, encoder_hidden=4, d_model=8, n_heads=2, ff_dim=8, **kw)


def with_heldout(trials: TrialSet, n_out: int = 2) -> TrialSet:
    heldout = np.arange(trials.n_neurons) >= trials.n_neurons - n_out
    return TrialSet(trials.spikes, trials.behavior, trials.conditions, bin_ms=trials.bin_ms,
                    rates=trials.rates, heldout=heldout)


@pytest.fixture(scope="module")
def cosmooth_reach(tiny_reach) -> TrialSet:
    return with_heldout(tiny_reach)


@pytest.fixture(scope="module", params=["angle", "velocity", None])
def fitted(request, cosmooth_reach):
    return LangevinFlowGenerator(condition=request.param, **TINY).fit(cosmooth_reach)


# ------------------------------------------------------------------ dynamics
def test_zero_potential_steps_follow_the_equations_by_hand():
    model = tiny_module(latent_dim=2, n_groups=1)
    z0, v0 = torch.tensor([[1.0, -2.0]]), torch.tensor([[2.0, 0.5]])
    eps = torch.tensor([[[0.5, -1.0], [0.0, 2.0]]])
    with torch.no_grad():
        z, v = model.roll(z0, v0, eps)
    k = math.sqrt(2 * G)
    v1 = [(1 - G) * 2.0 + k * 0.5, (1 - G) * 0.5 - k * 1.0]
    z1 = [1.0 + H * 2.0, -2.0 + H * 0.5]
    v2 = [(1 - G) * v1[0], (1 - G) * v1[1] + k * 2.0]
    z2 = [z1[0] + H * v1[0], z1[1] + H * v1[1]]
    torch.testing.assert_close(z[0], torch.tensor([[1.0, -2.0], z1, z2]))
    torch.testing.assert_close(v[0], torch.tensor([[2.0, 0.5], v1, v2]))


def test_full_damping_forgets_the_velocity_and_the_potential_pushes_downhill():
    model = tiny_module(damping=1.0)
    z0, v0 = torch.randn(3, 4), torch.randn(3, 4)
    eps = torch.randn(3, 1, 4)
    with torch.no_grad():
        model.potential.weight.normal_()
        z, v = model.roll(z0, v0, eps)
    torch.testing.assert_close(v[:, 1], math.sqrt(2.0) * eps[:, 0])
    torch.testing.assert_close(z[:, 1], z0 + H * v0)

    model = tiny_module()
    with torch.no_grad():
        model.potential.weight.normal_()
        z, v = model.roll(z0, v0, torch.zeros(3, 1, 4))
        expected = (1 - G) * (v0 - H * model.potential.grad(z0))
    torch.testing.assert_close(v[:, 1], expected)


def test_potential_starts_flat_and_its_gradient_matches_autograd_and_the_formula():
    pot = CoupledOscillatorPotential(12, n_groups=3)
    assert pot.weight.shape == (3, 3, 3) and torch.all(pot.weight == 0)
    z = torch.randn(5, 12, dtype=torch.float64, requires_grad=True)
    assert torch.all(pot.double()(z) == 0) and torch.all(pot.grad(z) == 0)

    torch.manual_seed(1)
    pot = CoupledOscillatorPotential(12, n_groups=3).double()
    with torch.no_grad():
        pot.weight.normal_()
    u = pot(z)
    (auto,) = torch.autograd.grad(u.sum(), z)
    torch.testing.assert_close(pot.grad(z), auto)
    hess = pot.hessian()
    torch.testing.assert_close(hess, hess.T)
    torch.testing.assert_close(z @ hess, auto)
    # U = sum over group pairs (g, g') of < W[g, g'] (cross-)correlated with z_g', z_g >.
    w, zz = pot.weight.detach().numpy(), z.detach().numpy().reshape(5, 3, 4)
    by_hand = np.zeros(5)
    for n in range(5):
        for g in range(3):
            for gp in range(3):
                padded = np.pad(zz[n, gp], 1)
                conv = np.array([padded[i:i + 3] @ w[g, gp] for i in range(4)])
                by_hand[n] += conv @ zz[n, g]
    np.testing.assert_allclose(u.detach().numpy(), by_hand, rtol=1e-10)


def test_gaussian_kl_matches_torch_distributions():
    mu_q, mu_p = torch.randn(4, 3), torch.randn(4, 3)
    lv_q, lv_p = torch.randn(4, 3), torch.randn(4, 3)
    q = torch.distributions.Normal(mu_q, (0.5 * lv_q).exp())
    p = torch.distributions.Normal(mu_p, (0.5 * lv_p).exp())
    torch.testing.assert_close(gaussian_kl(mu_q, lv_q, mu_p, lv_p),
                               torch.distributions.kl_divergence(q, p).sum(-1))


def test_module_shapes_and_null_context():
    model = tiny_module(condition_dim=2, input_dim=2, behavior_dim=2)
    mu, logvar, context = model.encode(torch.rand(3, 6, 3))
    assert mu.shape == logvar.shape == (3, 8) and context.shape == (3, 6, 8)
    z, v = model.roll(*mu.chunk(2, -1), torch.randn(3, 5, 4))
    log_rates, beh = model.decode(z, v, None, torch.randn(3, 6, 2))
    assert log_rates.shape == (3, 6, 5) and beh.shape == (3, 6, 2)
    p_mu, p_logvar = model.prior_params(torch.randn(3, 2), 3, "cpu")
    assert torch.all(p_mu == 0) and torch.all(p_logvar == 0)  # zero-initialised: N(0, I)


# ----------------------------------------------------------------- generator
def test_sample_shapes_for_each_condition(fitted, cosmooth_reach):
    n, bins, neurons = 5, cosmooth_reach.n_bins, cosmooth_reach.n_neurons
    if fitted.condition_ == "angle":
        out = fitted.sample(n, angle=2.9, random_state=0)  # an angle absent from training
        np.testing.assert_allclose(out.conditions["angle"], 2.9)
    elif fitted.condition_ == "velocity":
        vel = cosmooth_reach.behavior[:n]
        out = fitted.sample(n, velocity=vel, random_state=0)
        np.testing.assert_allclose(out.behavior, vel, rtol=1e-6)
    else:
        out = fitted.sample(n, random_state=0)
    assert out.spikes.shape == out.rates.shape == (n, bins, neurons)
    assert out.behavior.shape == (n, bins, 2)  # generated for angle / None
    assert np.all(np.isfinite(out.rates)) and np.all(out.rates > 0)
    np.testing.assert_array_equal(out.heldout, cosmooth_reach.heldout)
    assert out.bin_ms == cosmooth_reach.bin_ms


def test_sampling_is_deterministic_and_seed_dependent(fitted):
    a, b = fitted.sample(4, random_state=3), fitted.sample(4, random_state=3)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.rates, b.rates)
    assert not np.array_equal(a.rates, fitted.sample(4, random_state=4).rates)


def test_fit_is_deterministic(cosmooth_reach):
    a = LangevinFlowGenerator(condition=None, **TINY).fit(cosmooth_reach)
    b = LangevinFlowGenerator(condition=None, **TINY).fit(cosmooth_reach)
    for (name, x), y in zip(a.module_.state_dict().items(), b.module_.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)
    assert a.history_.val == b.history_.val and len(a.history_.val) == TINY["epochs"]


def test_save_load_gives_identical_samples(fitted, tmp_path):
    path = fitted.save(tmp_path / "lf.pt")
    back = load_generator(path, device="cpu")
    assert isinstance(back, LangevinFlowGenerator)
    a, b = fitted.sample(3, random_state=1), back.sample(3, random_state=1)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_allclose(a.rates, b.rates)
    if a.behavior is not None:
        np.testing.assert_allclose(a.behavior, b.behavior)
    assert back.get_params() == fitted.get_params()


def test_predict_rates_reads_held_in_neurons_only(fitted, cosmooth_reach):
    rates = fitted.predict_rates(cosmooth_reach, n_samples=2)
    assert rates.shape == cosmooth_reach.spikes.shape and np.all(rates > 0)
    spikes = cosmooth_reach.spikes.copy()
    spikes[:, :, cosmooth_reach.heldout] += 7
    changed = TrialSet(spikes, cosmooth_reach.behavior, cosmooth_reach.conditions,
                       bin_ms=cosmooth_reach.bin_ms, heldout=cosmooth_reach.heldout)
    np.testing.assert_allclose(fitted.predict_rates(changed, n_samples=2), rates)
    without = fitted.predict_rates(cosmooth_reach, n_samples=2, use_context=False)
    assert not np.allclose(without, rates)
    np.testing.assert_allclose(fitted.predict_rates(cosmooth_reach, n_samples=2), rates)


def test_encode_heldout_reads_every_neuron(cosmooth_reach, tiny_reach):
    gen = LangevinFlowGenerator(condition=None, encode_heldout=True, **TINY).fit(cosmooth_reach)
    assert gen.input_mask_.all()
    # Without any held-out neuron, every neuron is an input anyway.
    gen = LangevinFlowGenerator(condition=None, **TINY).fit(tiny_reach)
    assert gen.input_mask_.all()


def test_paper_sizes_are_reachable():
    gen = LangevinFlowGenerator(latent_dim=280, n_groups=4, kernel_size=3, step_size=0.01,
                                damping=0.55, kl_weight=0.1, kl_warmup_epochs=500, lr=3e-3)
    model = LangevinFlow(n_inputs=137, n_neurons=182, n_bins=140,
                         **{k: gen.get_params()[k] for k in ("latent_dim", "n_groups")})
    assert model.potential.weight.shape == (4, 4, 3)
    assert model.transition().shape == (560, 560)
    assert clone(gen).get_params() == gen.get_params()


@pytest.mark.parametrize("params, match", [
    (dict(latent_dim=6, n_groups=4), "latent_dim"),
    (dict(kernel_size=2), "kernel_size"),
    (dict(d_model=10, n_heads=4), "d_model"),
    (dict(damping=0.0), "damping"),
    (dict(step_size=-1.0), "step_size"),
    (dict(cd_rate=1.0), "cd_rate"),
    (dict(context_dropout=-0.1), "context_dropout"),
    (dict(kl_weight=-1.0), "kl_weight"),
    (dict(validation_fraction=0.0), "validation_fraction"),
    (dict(condition="speed"), "condition"),
])
def test_bad_parameters_fail_before_training(params, match, tiny_reach):
    with pytest.raises(ValueError, match=match):
        LangevinFlowGenerator(**{**TINY, **params}).fit(tiny_reach)


def test_clear_errors(fitted, cosmooth_reach, tiny_reach):
    with pytest.raises(NotFittedError):
        LangevinFlowGenerator().sample(2)
    with pytest.raises(NotFittedError):
        LangevinFlowGenerator().predict_rates(tiny_reach)
    no_behavior = TrialSet(tiny_reach.spikes, bin_ms=10)
    with pytest.raises(ValueError, match="behavior"):
        LangevinFlowGenerator(condition="velocity", **TINY).fit(no_behavior)
    with pytest.raises(ValueError, match="shape"):
        fitted.predict_rates(cosmooth_reach.spikes[:, :5])
    with pytest.raises(ValueError, match="n_samples"):
        fitted.predict_rates(cosmooth_reach, n_samples=0)
    if fitted.condition_ is None:
        with pytest.raises(ValueError, match="condition=None"):
            fitted.sample(2, angle=0.1)
    if fitted.condition_ == "velocity":
        with pytest.raises(ValueError, match="behavior"):
            fitted.predict_rates(cosmooth_reach.spikes)
        with pytest.raises(ValueError, match="velocity must have shape"):
            fitted.sample(2, velocity=np.zeros((2, 3, 2)))
