"""Poisson latent autoencoder (stage 1 of LDNS and EAG).

Spike counts (batch, bins, neurons) -> S4 encoder -> latents z (batch, bins, latent_dim)
-> per-bin decoder -> firing rates (expected spikes per bin, softplus). All temporal structure
lives in z: the decoder sees one bin at a time, so a generator only has to produce latents.
An optional linear read-out of behaviour from z serves only as a training loss.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from eag_augment.nn.s4 import S4Block

__all__ = ["PoissonAutoencoder", "behavior_loss", "coordinated_dropout_loss",
           "latent_regularizer"]


class PoissonAutoencoder(nn.Module):
    """Encoder of S4 blocks over time, linear bottleneck, per-bin MLP decoder to rates.

    Parameters
    ----------
    n_neurons : int
    latent_dim : int
        Size of the latent vector per bin (d = 8 for Lorenz, 16 for MC_Maze in the papers).
    channels : int
        Width C of the encoder and decoder (256 in the papers; smaller runs fast on a CPU).
    n_blocks : int
        Number of S4 residual blocks in the encoder.
    state_dim : int
        SSM state size per channel.
    bidirectional : bool
        Non-causal encoder (True) or causal (False, as LDNS uses for MC_Maze).
    dropout : float
        Dropout inside the encoder blocks.
    n_inputs : int, optional
        Neurons the encoder reads, when fewer than the ``n_neurons`` it predicts (co-smoothing:
        held-in in, all out); default ``n_neurons``.
    n_behavior : int
        Dimensions of a linear read-out ``readout`` of behaviour from z (0: none); only
        :func:`behavior_loss` uses it.
    """

    def __init__(
        self,
        n_neurons: int,
        latent_dim: int = 16,
        channels: int = 64,
        n_blocks: int = 3,
        state_dim: int = 32,
        bidirectional: bool = True,
        dropout: float = 0.0,
        n_inputs: int | None = None,
        n_behavior: int = 0,
    ) -> None:
        super().__init__()
        n_inputs = n_neurons if n_inputs is None else n_inputs
        self.register_buffer("input_scale", torch.ones(n_inputs))
        self.inp = nn.Linear(n_inputs, channels)
        self.blocks = nn.ModuleList(
            S4Block(channels, state_dim, bidirectional, dropout) for _ in range(n_blocks)
        )
        self.norm = nn.LayerNorm(channels)
        self.bottleneck = nn.Linear(channels, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, channels), nn.GELU(), nn.Linear(channels, n_neurons)
        )
        self.readout = nn.Linear(latent_dim, n_behavior) if n_behavior else None

    def encode(self, spikes: torch.Tensor) -> torch.Tensor:
        """Spike counts (batch, bins, n_inputs) -> latents (batch, bins, latent_dim)."""
        # The input scale folded into the weights: (neurons, C) work instead of a pass over
        # every count.
        h = F.linear(spikes, self.inp.weight * self.input_scale, self.inp.bias)
        for block in self.blocks:
            h = block(h)
        return self.bottleneck(self.norm(h))

    @torch.no_grad()
    def init_from_mean_counts(self, mean_counts: torch.Tensor, input_index=None) -> None:
        """Start at each neuron's mean rate and feed inputs on a common scale.

        mean_counts (neurons,): mean spike count per bin. The decoder's output bias becomes
        softplus^-1(mean), so training starts from the mean-rate model instead of spending
        its first epochs finding baselines; inputs are divided by sqrt(mean) so that rare
        and frequent neurons reach the encoder with similar variance.
        """
        mean = mean_counts.clamp_min(1e-4)
        self.decoder[-1].bias.copy_(torch.log(torch.expm1(mean)))
        inputs = mean if input_index is None else mean[input_index]
        self.input_scale.copy_(inputs.rsqrt())

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents (..., latent_dim) -> rates (..., neurons), expected spikes per bin."""
        return F.softplus(self.decoder(z))

    def forward(self, spikes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(spikes)
        return self.decode(z), z


def coordinated_dropout_loss(
    model: PoissonAutoencoder, spikes: torch.Tensor, p: float,
    generator: torch.Generator | None = None, heldout: torch.Tensor | None = None,
    full: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Poisson NLL on the entries hidden from the encoder (coordinated dropout).

    Each count is kept with probability 1 - p and scaled by 1 / (1 - p); the loss counts only
    the dropped entries, so the model cannot learn the identity map. With ``heldout`` (bool
    (neurons,)) the encoder reads only the other neurons and the loss also counts every
    held-out entry (co-smoothing). ``full=False`` leaves out the Stirling term of log(x!),
    which depends on the counts only: the same gradient at an eighth of the loss's cost.
    Returns (loss, latents).
    """
    inputs = spikes if heldout is None else spikes[..., ~heldout]
    keep = torch.rand(inputs.shape, generator=generator, device=spikes.device) >= p
    rates, z = model(inputs * keep / (1.0 - p))
    nll = F.poisson_nll_loss(rates.float(), spikes, log_input=False, full=full,
                             reduction="none")
    counted = (~keep).float()
    if heldout is not None:
        full = torch.ones_like(spikes)
        full[..., ~heldout] = counted
        counted = full
    return (nll * counted).sum() / counted.sum().clamp_min(1.0), z


def behavior_loss(model: PoissonAutoencoder, z: torch.Tensor,
                  behavior: torch.Tensor) -> torch.Tensor:
    """Mean squared error of the linear read-out of ``behavior`` (batch, bins, dims; standardised,
    NaN for trials without labels) from latents z (batch, bins, latent_dim); 0 without labels."""
    labelled = ~torch.isnan(behavior[:, 0, 0])
    if not labelled.any():
        return z.new_zeros(())
    pred = model.readout(z[labelled].float())
    return F.mse_loss(pred, behavior[labelled])


def latent_regularizer(z: torch.Tensor, n_entries: int, l2: float, smooth: float,
                       max_lag: int = 5) -> torch.Tensor:
    """L2 + temporal-smoothness penalty on latents (batch, bins, d), per spike entry.

    l2 * sum z^2 + smooth * sum_{k=1..max_lag} sum_t (z_t - z_{t+k})^2 / (1 + k), divided by
    ``n_entries`` (the number of spike counts in the batch) as in LDNS.
    """
    z = z.float()
    penalty = l2 * z.pow(2).sum()
    for k in range(1, min(max_lag, z.shape[1] - 1) + 1):
        penalty = penalty + smooth * (z[:, k:] - z[:, :-k]).pow(2).sum() / (1 + k)
    return penalty / n_entries
