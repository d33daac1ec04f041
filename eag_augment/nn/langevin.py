"""LangevinFlow (Song et al., arXiv 2507.11531): a sequential VAE with underdamped Langevin latents.

Spike counts of the encoder's input neurons (batch, bins, n_inputs) -> GRU -> Gaussian
posteriors over the initial position z0 and velocity v0 (batch, latent_dim each) and a context
vector per bin (the GRU's outputs). The latent then evolves by the discretised underdamped
Langevin equation in a learned coupled-oscillator potential, and one transformer encoder layer
over the per-bin tokens [z_t, v_t, context_t (, external input u_t)] reads out log firing rates
of all neurons (expected counts per bin, log scale) and, optionally, behaviour.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["CoupledOscillatorPotential", "LangevinFlow", "gaussian_kl"]


class CoupledOscillatorPotential(nn.Module):
    """Quadratic potential of ``n_groups`` oscillator chains coupled by 1-D convolutions.

    ``z`` (..., dim) is split into ``n_groups`` groups of ``dim / n_groups`` coordinates.
    ``(W * z)_g = sum_g' W[g, g'] * z_g'`` convolves every group along its coordinate axis with
    the 3-tap kernel of the pair (zero padding, same length), and
    ``U(z) = sum_g < (W * z)_g , z_g >``: a sum over all pairs (g, g') of the coupling
    ``< W[g, g'] * z_g', z_g >``. ``W`` (groups x groups x kernel_size) starts at zero, so an
    untrained model has a flat potential. U is a quadratic form, so its gradient is linear:
    ``grad U(z) = (C + C^T) z = K z`` with C the convolution, C^T its adjoint and K symmetric.
    """

    def __init__(self, dim: int, n_groups: int = 4, kernel_size: int = 3) -> None:
        super().__init__()
        if n_groups < 1 or dim % n_groups:
            raise ValueError(f"dim must be a positive multiple of n_groups={n_groups}, got {dim}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size}")
        self.dim, self.n_groups = dim, n_groups
        self.weight = nn.Parameter(torch.zeros(n_groups, n_groups, kernel_size))

    def _groups(self, z: torch.Tensor) -> torch.Tensor:
        return z.reshape(-1, self.n_groups, self.dim // self.n_groups)

    def _coupled(self, z: torch.Tensor) -> torch.Tensor:
        """(W * z) as (-1, groups, group size)."""
        return F.conv1d(self._groups(z), self.weight, padding=self.weight.shape[-1] // 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """U(z): z (..., dim) -> (...)."""
        return (self._coupled(z) * self._groups(z)).sum((-2, -1)).reshape(z.shape[:-1])

    def grad(self, z: torch.Tensor) -> torch.Tensor:
        """grad U(z) (..., dim), analytically."""
        pad = self.weight.shape[-1] // 2
        x = self._groups(z)
        g = F.conv1d(x, self.weight, padding=pad) + F.conv_transpose1d(x, self.weight, padding=pad)
        return g.reshape(z.shape)

    def hessian(self) -> torch.Tensor:
        """K (dim, dim), symmetric, with grad U(z) = z @ K for row vectors z."""
        return self.grad(torch.eye(self.dim, device=self.weight.device,
                                   dtype=self.weight.dtype))


def gaussian_kl(mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor,
                logvar_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, e^logvar_q) || N(mu_p, e^logvar_p)) of diagonal Gaussians, summed over the
    last axis."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp()
                  - 1.0).sum(-1)


class LangevinFlow(nn.Module):
    """Encoder, Langevin latent dynamics and transformer decoder of LangevinFlow.

    Parameters
    ----------
    n_inputs : int
        Neurons the encoder reads (the held-in ones for co-smoothing).
    n_neurons : int
        Neurons the decoder predicts (held-in + held-out).
    n_bins : int
        Bins per trial (learned positional embeddings of the decoder).
    latent_dim : int
        Size of z and of v (280 in the paper).
    n_groups, kernel_size : int
        Oscillator groups of the potential and the coupling kernel's taps (4 and 3 in the paper).
    encoder_hidden : int
        GRU width; the context per bin has this size times the number of directions.
    bidirectional : bool
        Read the trial both ways (the posterior over z0, v0 then sees the whole trial from
        both ends).
    d_model, n_heads, ff_dim, dropout
        The decoder's transformer encoder layer.
    step_size, damping : float
        h and g of the Langevin step (0.01 and 0.55 in the paper).
    condition_dim : int
        Width of the vector a conditional prior over (z0, v0) reads (0: prior N(0, I)).
    input_dim : int
        External input channels per bin added to the decoder tokens (e.g. velocity), 0 for none.
    behavior_dim : int
        Behaviour channels read out per bin next to the rates, 0 for none.
    """

    def __init__(
        self,
        n_inputs: int,
        n_neurons: int,
        n_bins: int,
        latent_dim: int = 32,
        n_groups: int = 4,
        kernel_size: int = 3,
        encoder_hidden: int = 64,
        bidirectional: bool = True,
        d_model: int = 64,
        n_heads: int = 4,
        ff_dim: int = 128,
        dropout: float = 0.0,
        step_size: float = 0.01,
        damping: float = 0.55,
        condition_dim: int = 0,
        input_dim: int = 0,
        behavior_dim: int = 0,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.step_size, self.damping = step_size, damping
        self.encoder = nn.GRU(n_inputs, encoder_hidden, batch_first=True,
                              bidirectional=bidirectional)
        context_dim = encoder_hidden * (2 if bidirectional else 1)
        self.posterior = nn.Linear(context_dim, 4 * latent_dim)
        self.prior = (
            nn.Sequential(nn.Linear(condition_dim, d_model), nn.SiLU(),
                          nn.Linear(d_model, 4 * latent_dim))
            if condition_dim else None
        )
        if self.prior is not None:
            # Starts as N(0, I) for every condition.
            nn.init.zeros_(self.prior[-1].weight)
            nn.init.zeros_(self.prior[-1].bias)
        self.potential = CoupledOscillatorPotential(latent_dim, n_groups, kernel_size)
        # Stands in for the encoder's context where there are no spikes to read (generation).
        self.null_context = nn.Parameter(torch.zeros(context_dim))
        self.token = nn.Linear(2 * latent_dim + context_dim + input_dim, d_model)
        self.pos = nn.Parameter(torch.randn(n_bins, d_model) * 0.02)
        self.layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout,
                                                batch_first=True, norm_first=True)
        self.norm = nn.LayerNorm(d_model)
        self.readout = nn.Linear(d_model, n_neurons)
        self.behavior_head = nn.Linear(d_model, behavior_dim) if behavior_dim else None

    # ----------------------------------------------------------------- pieces
    def encode(self, spikes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Spikes (batch, bins, n_inputs) -> posterior mean and log-variance of [z0, v0]
        (batch, 2 * latent_dim each) and the context (batch, bins, context_dim)."""
        context, last = self.encoder(spikes)
        summary = last.transpose(0, 1).reshape(len(spikes), -1)
        mu, logvar = self.posterior(summary).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 5.0), context

    def prior_params(self, condition: torch.Tensor | None, n: int, device) -> tuple[torch.Tensor,
                                                                                    torch.Tensor]:
        """Prior mean and log-variance of [z0, v0] (n, 2 * latent_dim), given the condition."""
        if self.prior is None:
            zeros = torch.zeros(n, 2 * self.latent_dim, device=device)
            return zeros, zeros
        mu, logvar = self.prior(condition).chunk(2, dim=-1)
        return mu, logvar.clamp(-10.0, 5.0)

    def transition(self) -> torch.Tensor:
        """M (2 latent_dim, 2 latent_dim): one noiseless Langevin step is [z, v] @ M.

        The step (step h, damping g) is ``z_t = z + h v``, ``v' = v - h grad U(z)``,
        ``v_t = (1 - g) v' + sqrt(2 g) eps``; U is quadratic (grad U(z) = z K), so the step is
        linear in [z, v]: ``z_t = z + h v`` and ``v_t = -(1 - g) h z K + (1 - g) v`` (+ noise).
        """
        h, g, d = self.step_size, self.damping, self.latent_dim
        eye = torch.eye(d, device=self.potential.weight.device)
        return torch.cat([
            torch.cat([eye, -(1.0 - g) * h * self.potential.hessian()], 1),
            torch.cat([h * eye, (1.0 - g) * eye], 1),
        ], 0)

    def roll(self, z0: torch.Tensor, v0: torch.Tensor, noise: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Positions and velocities (batch, bins, latent_dim) from (z0, v0) at the first bin and
        the standard normal Langevin noise eps (batch, bins - 1, latent_dim) of the later steps."""
        m = self.transition()
        # The noise enters v only: sqrt(2 g) eps.
        kick = torch.cat([torch.zeros_like(noise), math.sqrt(2.0 * self.damping) * noise], -1)
        state = torch.cat([z0, v0], -1)
        states = [state]
        # One fused matmul per step: the dynamics are linear, and per-op overhead dominates.
        for t in range(noise.shape[1]):
            state = torch.addmm(kick[:, t], state, m)
            states.append(state)
        return torch.stack(states, 1).chunk(2, dim=-1)

    def decode(self, z: torch.Tensor, v: torch.Tensor, context: torch.Tensor | None,
               inputs: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log-rates (batch, bins, n_neurons) and behaviour (batch, bins, behavior_dim) or None.

        ``context`` None uses the learned null context (no spikes read).
        """
        if context is None:
            context = self.null_context.expand(z.shape[0], z.shape[1], -1)
        parts = [z, v, context] + ([inputs] if inputs is not None else [])
        h = self.token(torch.cat(parts, -1)) + self.pos[: z.shape[1]]
        h = self.norm(self.layer(h))
        # exp(7) ~ 1100 spikes per bin: a ceiling far above any real rate that keeps exp finite.
        log_rates = self.readout(h).clamp(max=7.0)
        behavior = self.behavior_head(h) if self.behavior_head is not None else None
        return log_rates, behavior
