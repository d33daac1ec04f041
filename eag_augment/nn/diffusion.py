"""Latent diffusion (LDNS): an S4 denoiser with adaLN-Zero conditioning and a DDPM schedule.

The denoiser reads noisy latent sequences (batch, bins, channels), optionally with velocity
channels concatenated to its input, and predicts the noise epsilon. The diffusion timestep
(sinusoidal embedding -> MLP, plus an angle embedding when angle-conditioned) modulates every
S4 block through adaLN-Zero shift/scale/gate, zero-initialised so that each block starts as
the identity and the untrained network predicts zero noise.
"""

from __future__ import annotations

import math
from numbers import Integral

import torch
from torch import nn

from eag_augment.nn.s4 import S4Block

__all__ = ["DiffusionDenoiser", "DDPMSchedule", "timestep_embedding"]


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal embedding (batch, dim) of timesteps t (batch,), as in DDPM/DiT."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([args.cos(), args.sin()], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, emb.new_zeros(len(emb), 1)], dim=-1)
    return emb


class DiffusionDenoiser(nn.Module):
    """Epsilon-prediction network over latent sequences.

    Parameters
    ----------
    latent_channels : int
        Channels of the sequences being diffused (latents, plus behaviour when generated).
    channels : int
        Width C of the S4 blocks (64 Lorenz, 256 MC_Maze in LDNS).
    n_blocks : int
        Number of S4 blocks (4 Lorenz, 6 MC_Maze in LDNS).
    state_dim : int
        SSM state size per channel.
    velocity_dim : int
        Velocity channels concatenated to the input (0: not velocity-conditioned).
    angle_condition : bool
        Reach angle embedded from (cos, sin) and added to the timestep embedding.
    """

    def __init__(
        self,
        latent_channels: int,
        channels: int = 64,
        n_blocks: int = 4,
        state_dim: int = 32,
        velocity_dim: int = 0,
        angle_condition: bool = False,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.velocity_dim = velocity_dim
        self.inp = nn.Linear(latent_channels + velocity_dim, channels)
        self.time_embed = nn.Sequential(
            nn.Linear(channels, channels), nn.SiLU(), nn.Linear(channels, channels))
        self.angle_embed = (
            nn.Sequential(nn.Linear(2, channels), nn.SiLU(), nn.Linear(channels, channels))
            if angle_condition else None
        )
        self.blocks = nn.ModuleList(
            S4Block(channels, state_dim, bidirectional=True) for _ in range(n_blocks))
        self.modulations = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Linear(channels, 6 * channels)) for _ in range(n_blocks))
        self.out_norm = nn.LayerNorm(channels, elementwise_affine=False)
        self.out_modulation = nn.Sequential(nn.SiLU(), nn.Linear(channels, 2 * channels))
        self.out = nn.Linear(channels, latent_channels)
        for layer in [m[1] for m in self.modulations] + [self.out_modulation[1], self.out]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        angle: torch.Tensor | None = None,
        velocity: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicted noise (batch, bins, latent_channels).

        x (batch, bins, latent_channels) noisy sequences; t (batch,) integer timesteps;
        angle (batch,) radians; velocity (batch, bins, velocity_dim).
        """
        if self.velocity_dim:
            if velocity is None:
                raise ValueError("this denoiser is conditioned on velocity; none was given")
            x = torch.cat([x, velocity], dim=-1)
        c = self.time_embed(timestep_embedding(t, self.channels))
        if self.angle_embed is not None:
            if angle is None:
                raise ValueError("this denoiser is conditioned on angle; none was given")
            c = c + self.angle_embed(torch.stack([angle.cos(), angle.sin()], dim=-1))
        h = self.inp(x)
        for block, modulation in zip(self.blocks, self.modulations):
            h = block(h, modulation(c))
        shift, scale = self.out_modulation(c)[:, None, :].chunk(2, dim=-1)
        return self.out(self.out_norm(h) * (1 + scale) + shift)


def _check_int(value, name: str, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low or (
            high is not None and value > high):
        expected = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {expected}, got {value!r}")
    return int(value)


class DDPMSchedule:
    """Linear-beta DDPM noise schedule with the forward process and two reverse samplers.

    Betas run linearly from 1e-4 to 0.02 for T = 1000 steps (LDNS, Ho et al. 2020); for other
    T both ends are scaled by 1000 / T (capped at 0.999) so that the total noise, and thus the
    end of the forward process, stays that of the 1000-step schedule.

    Parameters
    ----------
    n_timesteps : int
        Number of diffusion steps T.
    device : torch.device, optional
    """

    def __init__(self, n_timesteps: int = 1000, device: torch.device | str | None = None) -> None:
        n_timesteps = _check_int(n_timesteps, "n_timesteps", 2, None)
        self.n_timesteps = n_timesteps
        scale = 1000.0 / n_timesteps
        betas = torch.linspace(1e-4 * scale, 0.02 * scale, n_timesteps,
                               dtype=torch.float64).clamp(max=0.999)
        alpha_bars = torch.cumprod(1.0 - betas, 0)
        # alpha_bar of the step before each t; 1 before t = 0 (clean data).
        prev = torch.cat([alpha_bars.new_ones(1), alpha_bars[:-1]])
        self.betas = betas.float().to(device)
        self.alpha_bars = alpha_bars.float().to(device)
        self.alpha_bars_prev = prev.float().to(device)
        # "fixed small" posterior variance of q(x_{t-1} | x_t, x_0).
        self.posterior_var = (betas * (1.0 - prev) / (1.0 - alpha_bars)).float().to(device)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noisy x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; x0 (batch, ...), t (batch,)."""
        ab = self.alpha_bars[t].view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * noise

    def _x0(self, x_t: torch.Tensor, eps: torch.Tensor, alpha_bar: torch.Tensor,
            clip: float | None) -> torch.Tensor:
        x0 = (x_t - (1.0 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()
        return x0 if clip is None else x0.clamp(-clip, clip)

    def ddpm_step(self, x_t: torch.Tensor, eps: torch.Tensor, t: int,
                  generator: torch.Generator | None = None, clip: float | None = None
                  ) -> torch.Tensor:
        """Ancestral step x_t -> x_{t-1} from predicted noise ``eps`` (no noise at t = 0).

        ``clip`` bounds the implied clean-data estimate x0 to [-clip, clip] (data range).
        """
        ab, ab_prev, beta = self.alpha_bars[t], self.alpha_bars_prev[t], self.betas[t]
        x0 = self._x0(x_t, eps, ab, clip)
        # Posterior mean of q(x_{t-1} | x_t, x0); equals the epsilon form when x0 is unclipped.
        mean = (ab_prev.sqrt() * beta * x0
                + (1.0 - beta).sqrt() * (1.0 - ab_prev) * x_t) / (1.0 - ab)
        if t == 0:
            return mean
        noise = torch.randn(x_t.shape, generator=generator, device=x_t.device, dtype=x_t.dtype)
        return mean + self.posterior_var[t].sqrt() * noise

    def ddim_timesteps(self, n_steps: int) -> list[int]:
        """``n_steps`` evenly spaced timesteps, descending from T - 1 ("trailing" spacing)."""
        n_steps = _check_int(n_steps, "n_steps", 1, self.n_timesteps)
        return [k * self.n_timesteps // n_steps - 1 for k in range(n_steps, 0, -1)]

    def ddim_step(self, x_t: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int,
                  clip: float | None = None) -> torch.Tensor:
        """Deterministic DDIM step (eta = 0) x_t -> x_{t_prev}; t_prev = -1 gives x0."""
        ab = self.alpha_bars[t]
        x0 = self._x0(x_t, eps, ab, clip)
        if t_prev < 0:
            return x0
        ab_prev = self.alpha_bars[t_prev]
        return ab_prev.sqrt() * x0 + (1.0 - ab_prev).sqrt() * eps
