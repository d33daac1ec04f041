"""Shared fixtures: tiny trial sets and a tiny fitted autoencoder (CPU, seconds)."""

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_limits

from eag_augment import TrialSet

# Tests use tiny tensors: thread hand-offs would cost more than the arithmetic.
torch.set_num_threads(1)
threadpool_limits(1)


def make_tiny_reach(n_trials=48, n_bins=20, n_neurons=8, seed=0) -> TrialSet:
    """Velocity-tuned Poisson neurons: 8 directions, bell-shaped speed, spikes lead velocity."""
    rng = np.random.default_rng(seed)
    angle = np.linspace(-np.pi, np.pi, 8, endpoint=False)[np.arange(n_trials) % 8]
    t = np.arange(n_bins)
    speed = 200 * np.exp(-0.5 * ((t - n_bins / 2) / (n_bins / 8)) ** 2)
    vel = np.stack([np.cos(angle)[:, None] * speed, np.sin(angle)[:, None] * speed], -1)
    tuning = rng.normal(size=(n_neurons, 2)) * 0.006
    lead = np.roll(vel, -2, axis=1)
    rates = np.exp(np.log(0.3) + np.einsum("nd,ktd->ktn", tuning, lead))
    return TrialSet(
        rng.poisson(rates), vel,
        pd.DataFrame({"angle": angle, "condition": np.arange(n_trials) % 8}),
        bin_ms=10, rates=rates,
    )


@pytest.fixture(scope="session")
def tiny_reach() -> TrialSet:
    return make_tiny_reach()


@pytest.fixture(scope="session")
def tiny_autoencoder(tiny_reach):
    from eag_augment.generators import LatentAutoencoder

    return LatentAutoencoder(latent_dim=4, channels=16, n_blocks=1, state_dim=8, epochs=3,
                             random_state=0, device="cpu").fit(tiny_reach)
