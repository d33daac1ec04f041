"""The shared training loop: batches, EMA, clipping, schedule, early stopping, divergence."""

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from eag_augment.generators import EAGGenerator, LatentAutoencoder
from eag_augment.generators import eag as eag_module
from eag_augment.generators._training import TrainingDivergedError, fit_module, resolve_epochs


def regression(n: int = 40, seed: int = 0):
    """A linear model and its mean-squared-error step on a fixed random problem."""
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g)
    torch.manual_seed(seed)
    model = nn.Linear(3, 1)
    return model, lambda idx: ((model(x[idx]) - y[idx]) ** 2).mean()


def fit(model, step_loss, n=40, **kw):
    opts = dict(epochs=3, batch_size=8, lr=0.05, rng=np.random.default_rng(0))
    return fit_module(model, step_loss, n, **{**opts, **kw})


@pytest.fixture
def optimizer_steps():
    """Every AdamW step of the block: (learning rates, global gradient norm) before it."""
    seen = []

    def hook(opt, args, kwargs):
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        seen.append(([g["lr"] for g in opt.param_groups],
                     float(torch.linalg.vector_norm(torch.stack([v.norm() for v in grads])))))

    handle = register_optimizer_step_pre_hook(hook)
    yield seen
    handle.remove()


def test_epochs_shuffle_every_item_once_and_losses_are_their_mean():
    model, loss = regression()
    batches, losses = [], []

    def step_loss(idx):
        batches.append(idx.clone())
        value = loss(idx)
        losses.append(value.item())
        return value

    _, history = fit(model, step_loss, epochs=2, batch_size=16)
    assert len(batches) == 2 * (40 // 16) and all(len(b) == 16 for b in batches)
    for epoch in (batches[:2], batches[2:]):
        seen = torch.cat(epoch)
        assert len(seen.unique()) == 32 and seen.min() >= 0 and seen.max() < 40
    assert not torch.equal(batches[0], batches[2])
    np.testing.assert_allclose(history.train, [np.mean(losses[:2]), np.mean(losses[2:])],
                               rtol=1e-6)
    assert resolve_epochs(None, steps=10, n_train=40, batch_size=16) == 5


def test_same_seed_same_weights():
    a, b = (fit(*regression())[0] for _ in range(2))
    torch.testing.assert_close(a.state_dict(), b.state_dict(), rtol=0, atol=0)


def test_ema_is_the_exponential_average_of_the_trajectory():
    decay = 0.8
    trajectory = []
    model, loss = regression()

    def step_loss(idx):
        trajectory.append(model.weight.detach().clone())
        return loss(idx)

    last = fit(model, step_loss)[0].weight.detach().clone()
    trajectory.append(last)
    ema_model, ema_loss = regression()
    ema = fit(ema_model, ema_loss, ema_decay=decay)[0].weight.detach()
    expected = trajectory[0]
    for w in trajectory[1:]:
        expected = decay * expected + (1 - decay) * w
    torch.testing.assert_close(ema, expected)
    assert not torch.allclose(ema, last)


def test_gradients_are_clipped_to_the_global_norm(optimizer_steps):
    model, loss = regression()
    fit(model, lambda idx: 100 * loss(idx), epochs=1)
    unclipped = [norm for _, norm in optimizer_steps]
    optimizer_steps.clear()
    model, loss = regression()
    fit(model, lambda idx: 100 * loss(idx), epochs=1, grad_clip=1.0)
    assert min(unclipped) > 1.0
    assert max(norm for _, norm in optimizer_steps) <= 1.0 + 1e-4


def test_warmup_then_cosine_with_a_lower_rate_for_a_group(optimizer_steps):
    model, loss = regression()
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.01}]
    fit(model, loss, epochs=20, batch_size=8, lr=0.1, param_groups=groups,
        warmup_fraction=0.1)
    lrs = np.array([lr for lr, _ in optimizer_steps])
    total, warmup = 20 * 5, 10
    step = np.arange(total)
    expected = np.where(step < warmup, (step + 1) / warmup,
                        0.5 * (1 + np.cos(np.pi * (step - warmup) / (total - warmup))))
    np.testing.assert_allclose(lrs[:, 0], 0.1 * expected, rtol=1e-6)
    np.testing.assert_allclose(lrs[:, 1], 0.01 * expected, rtol=1e-6)
    assert lrs[warmup - 1, 0] == pytest.approx(0.1) and lrs[-1, 0] < 1e-3


def test_early_stopping_keeps_the_best_epoch():
    model, loss = regression()
    scores = iter([3.0, 2.0, 1.0, 1.5, 2.5, 0.5])
    states = []

    def val_loss(module):
        states.append({k: v.clone() for k, v in module.state_dict().items()})
        return next(scores)

    model, history = fit(model, loss, epochs=6, val_loss=val_loss, patience=2)
    assert history.val == [3.0, 2.0, 1.0, 1.5, 2.5]
    assert history.best_epoch == 2 and history.stopped_early
    torch.testing.assert_close(model.state_dict(), states[2])
    assert not model.training


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_diverging_loss_stops_with_the_stage_epoch_and_step(bad):
    model, loss = regression()
    calls = []

    def step_loss(idx):
        calls.append(1)
        value = loss(idx)
        return value * bad if len(calls) == 8 else value

    with pytest.raises(TrainingDivergedError, match=r"toy model: the training loss became "
                       rf"{bad} at epoch 2 of 3, step 3,.*lower lr \(now 0.05\)"):
        fit(model, step_loss, stage="toy model")


def test_a_nan_validation_loss_is_an_error_not_an_early_stop():
    model, loss = regression()
    scores = iter([1.0, math.nan, 0.5])
    with pytest.raises(TrainingDivergedError, match="validation loss became nan at epoch 2"):
        fit(model, loss, val_loss=lambda m: next(scores), patience=5)


def test_a_diverged_generator_fit_names_its_stage_and_keeps_nothing(tiny_reach, tiny_autoencoder,
                                                                    monkeypatch):
    monkeypatch.setattr(eag_module, "energy_score", lambda s1, s2, y: (s1 - y).sum() * math.nan)
    gen = EAGGenerator(width=16, depth=1, heads=2, head_width=16, head_blocks=1, epochs=2,
                       batch_size=16, patch_size=2, device="cpu", random_state=0)
    with pytest.raises(TrainingDivergedError, match="EAG transformer: the training loss"):
        gen.fit(tiny_reach, fitted_autoencoder=tiny_autoencoder)
    assert not hasattr(gen, "module_")
    # One step per epoch here, so the validation after it sees the blown-up weights first.
    with pytest.raises(TrainingDivergedError, match="autoencoder: the validation loss became"):
        LatentAutoencoder(latent_dim=4, channels=8, n_blocks=1, state_dim=8, epochs=2,
                          lr=1e30, device="cpu", random_state=0).fit(tiny_reach)
