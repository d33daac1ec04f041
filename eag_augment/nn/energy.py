"""EAG stage 2: masked-autoregressive energy transformer over latent tokens.

A bidirectional transformer reads all tokens of a trial (masked ones replaced by a learned mask
token, condition carried by prepended buffer tokens and, for velocity, added to every token) and
gives a feature per token. A small MLP "generator" head turns a feature plus noise into a token
sample; noise enters every residual block through adaptive LayerNorm. The head is trained with
the energy score, a strictly proper scoring rule, so no likelihood or diffusion is needed and
one transformer pass serves a whole sampling step.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["AdaLNNoiseHead", "EnergyTransformer", "cosine_mask_schedule", "energy_score"]


class _AdaLNBlock(nn.Module):
    def __init__(self, width: int, noise_width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(noise_width, 3 * width))
        nn.init.zeros_(self.ada[1].weight)
        nn.init.zeros_(self.ada[1].bias)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        shift, scale, gate = self.ada(e).chunk(3, dim=-1)
        return h + gate * self.mlp((1 + scale) * self.norm(h) + shift)


class AdaLNNoiseHead(nn.Module):
    """MLP generator: (feature, noise) -> token sample.

    h = in(feature); per block h += gate(eps) * MLP((1 + scale(eps)) * LN(h) + shift(eps));
    out = Linear(LN(h)). adaLN projections and the output layer start at zero.

    For a fixed feature the head maps the noise onto token space, so ``noise_dim`` must be at
    least ``token_dim``: with less, every token's samples would lie on a lower-dimensional
    manifold.
    """

    def __init__(self, feature_dim: int, token_dim: int, width: int = 256, n_blocks: int = 3,
                 noise_dim: int = 64) -> None:
        super().__init__()
        if noise_dim < token_dim:
            raise ValueError(f"noise_dim ({noise_dim}) must be at least token_dim ({token_dim})")
        self.noise_dim = noise_dim
        self.inp = nn.Linear(feature_dim, width)
        self.noise_embed = nn.Linear(noise_dim, width)
        self.blocks = nn.ModuleList(_AdaLNBlock(width, width) for _ in range(n_blocks))
        self.out_norm = nn.LayerNorm(width, elementwise_affine=False)
        self.out = nn.Linear(width, token_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, feature: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Token samples (*noise.shape[:-1], token_dim).

        feature (..., feature_dim); noise (..., noise_dim) or (samples, ..., noise_dim): the
        feature's projection is computed once and broadcast over leading sample axes.
        """
        h = self.inp(feature)
        e = self.noise_embed(noise)
        for block in self.blocks:
            h = block(h, e)
        return self.out(self.out_norm(h))

    def sample_noise(self, shape: tuple[int, ...], generator: torch.Generator | None,
                     device: torch.device) -> torch.Tensor:
        """Noise eps ~ Uniform(-0.5, 0.5) of shape (*shape, noise_dim), as in the reference."""
        return torch.rand(*shape, self.noise_dim, generator=generator, device=device) - 0.5


def energy_score(s1: torch.Tensor, s2: torch.Tensor, target: torch.Tensor,
                 weight: torch.Tensor | None = None, lam: float = 1.0) -> torch.Tensor:
    """Energy-score loss ||s1 - y|| + ||s2 - y|| - lam * ||s1 - s2|| (alpha = 1).

    s1, s2: two samples drawn with independent noise, target y; all (..., token_dim).
    ``weight`` (...) selects the tokens that count (the masked ones); returns their mean.
    """
    def norm(x: torch.Tensor) -> torch.Tensor:
        # The epsilon keeps the gradient finite when two vectors coincide.
        return torch.sqrt(x.pow(2).sum(-1) + 1e-8)

    score = norm(s1 - target) + norm(s2 - target) - lam * norm(s1 - s2)
    if weight is None:
        return score.mean()
    return (score * weight).sum() / weight.sum().clamp_min(1.0)


class EnergyTransformer(nn.Module):
    """Bidirectional transformer over latent tokens with buffer tokens for the condition.

    Parameters
    ----------
    n_tokens : int
        Tokens per trial (bins / patch).
    token_dim : int
        Values per token (patch * channels).
    width : int
        Transformer width D.
    depth, heads : int
        Transformer layers and attention heads.
    n_buffer : int
        Buffer tokens prepended to the sequence; they carry the condition embedding.
    angle_condition : bool
        Reach angle embedded from (cos, sin).
    velocity_dim : int
        Per-token velocity conditioning width (patch * velocity channels), 0 for none.
    head_width, head_blocks, noise_dim : int
        Size of the MLP generator head.
    """

    def __init__(
        self,
        n_tokens: int,
        token_dim: int,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        n_buffer: int = 4,
        angle_condition: bool = False,
        velocity_dim: int = 0,
        head_width: int = 256,
        head_blocks: int = 3,
        noise_dim: int = 64,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.n_tokens = n_tokens
        self.n_buffer = n_buffer
        self.token_in = nn.Linear(token_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(width))
        self.pos = nn.Parameter(torch.randn(n_buffer + n_tokens, width) * 0.02)
        self.buffer = nn.Parameter(torch.randn(n_buffer, width) * 0.02)
        self.angle_embed = (
            nn.Sequential(nn.Linear(2, width), nn.SiLU(), nn.Linear(width, width))
            if angle_condition else None
        )
        self.velocity_embed = (
            nn.Sequential(nn.Linear(velocity_dim, width), nn.SiLU(), nn.Linear(width, width))
            if velocity_dim else None
        )
        # Learned "no condition" embeddings for classifier-free guidance.
        self.null_angle = nn.Parameter(torch.zeros(width)) if angle_condition else None
        self.null_velocity = nn.Parameter(torch.zeros(width)) if velocity_dim else None
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=4 * width, dropout=dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = AdaLNNoiseHead(width, token_dim, head_width, head_blocks, noise_dim)

    def features(
        self,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        angle: torch.Tensor | None = None,
        velocity: torch.Tensor | None = None,
        drop_angle: torch.Tensor | None = None,
        drop_velocity: torch.Tensor | None = None,
        query: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Transformer feature per token (batch, n_tokens, width).

        tokens (batch, n_tokens, token_dim); mask (batch, n_tokens) True where the token is
        hidden; angle (batch,) radians; velocity (batch, n_tokens, velocity_dim);
        drop_* (batch,) True where the condition is replaced by its null embedding.
        query (batch, k), optional: the token positions whose features are wanted, returned
        as (batch, k, width); the last layer then computes queries, attention output and MLP
        at those positions only (a sampling step needs the k tokens it reveals).
        """
        batch = tokens.shape[0]
        x = self.token_in(tokens)
        x = torch.where(mask[..., None], self.mask_token.to(x.dtype), x)
        if self.velocity_embed is not None:
            if velocity is None:
                raise ValueError("this transformer is conditioned on velocity; none was given")
            v = self.velocity_embed(velocity)
            if drop_velocity is not None:
                v = torch.where(drop_velocity[:, None, None], self.null_velocity, v)
            x = x + v
        buf = self.buffer.expand(batch, -1, -1)
        if self.angle_embed is not None:
            if angle is None:
                raise ValueError("this transformer is conditioned on angle; none was given")
            a = self.angle_embed(torch.stack([angle.cos(), angle.sin()], dim=-1))
            if drop_angle is not None:
                a = torch.where(drop_angle[:, None], self.null_angle, a)
            buf = buf + a[:, None, :]
        h = torch.cat([buf, x], dim=1) + self.pos
        if query is None:
            return self.norm(self.encoder(h)[:, self.n_buffer:])
        *first, last = self.encoder.layers
        for layer in first:
            h = layer(h)
        return self.norm(_layer_at(last, h, query + self.n_buffer))


def _layer_at(layer: nn.TransformerEncoderLayer, h: torch.Tensor,
              rows: torch.Tensor) -> torch.Tensor:
    """``layer(h)`` at positions ``rows`` (batch, k) of a norm-first encoder layer (eval mode):
    keys and values from every position, everything else at the k positions only."""
    attn, c = layer.self_attn, h.shape[-1]
    w_q, w_kv = attn.in_proj_weight.split([c, 2 * c])
    b_q, b_kv = attn.in_proj_bias.split([c, 2 * c])
    y = layer.norm1(h)
    at = rows[..., None].expand(-1, -1, c)
    heads = lambda t: t.unflatten(-1, (attn.num_heads, -1)).transpose(1, 2)  # noqa: E731
    q = F.linear(y.gather(1, at), w_q, b_q)
    k, v = F.linear(y, w_kv, b_kv).chunk(2, dim=-1)
    a = F.scaled_dot_product_attention(heads(q), heads(k), heads(v))
    x = h.gather(1, at) + attn.out_proj(a.transpose(1, 2).flatten(2))
    return x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))


def cosine_mask_schedule(n_tokens: int, n_steps: int) -> list[int]:
    """Number of tokens still masked after each of ``n_steps`` sampling steps.

    floor(L * cos(pi/2 * (k+1)/K)), revealing at least one token per step and all on the
    last; ``n_steps`` is capped at ``n_tokens`` (each step must reveal a token).
    """
    n_steps = max(1, min(n_steps, n_tokens))
    remaining, left = [], n_tokens
    for k in range(n_steps):
        target = int(math.floor(n_tokens * math.cos(math.pi / 2 * (k + 1) / n_steps)))
        must_leave = n_steps - k - 1  # keep one token for each later step
        left = 0 if k == n_steps - 1 else max(must_leave, min(left - 1, target))
        remaining.append(left)
    return remaining
