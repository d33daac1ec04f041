"""EAGGenerator: energy-based autoregressive generation of latent trajectories (arXiv 2511.17606)."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from scipy.stats import truncnorm

from eag_augment._torch import uses_bf16
from eag_augment._validation import non_negative_real, positive_int, positive_real, unit_interval
from eag_augment.generators._training import TrainingHistory, fit_module, resolve_epochs
from eag_augment.generators.latent import LatentGenerator
from eag_augment.nn.energy import EnergyTransformer, cosine_mask_schedule, energy_score

__all__ = ["EAGGenerator"]


def _patch(x: torch.Tensor, patch: int) -> torch.Tensor:
    """(n, bins, c) -> (n, tokens, patch * c), zero-padding bins to a multiple of patch."""
    n, t, c = x.shape
    pad = (-t) % patch
    if pad:
        x = torch.cat([x, x.new_zeros(n, pad, c)], dim=1)
    return x.reshape(n, (t + pad) // patch, patch * c)


def _unpatch(tokens: torch.Tensor, patch: int, n_bins: int) -> torch.Tensor:
    n, length, pc = tokens.shape
    return tokens.reshape(n, length * patch, pc // patch)[:, :n_bins]


def _with_unlabelled(x, angle, velocity, unlabelled):
    """The prior's training set with the unlabelled latents appended, and which of its
    trials always get the null condition. The labelled trials are repeated so that they are
    drawn about as often as the unlabelled ones: otherwise a few labelled trials among many
    unlabelled ones would leave the conditional branch almost no gradient."""
    if unlabelled is None:
        return x, angle, velocity, np.zeros(len(x), dtype=bool)
    reps = max(1, round(len(unlabelled) / len(x)))
    n = len(unlabelled)

    def stack(a):
        return None if a is None else np.concatenate(
            [np.tile(a, (reps,) + (1,) * (a.ndim - 1)), np.zeros((n,) + a.shape[1:], a.dtype)])

    always_null = np.repeat([False, True], [reps * len(x), n])
    return (np.concatenate([np.tile(x, (reps, 1, 1)), unlabelled]), stack(angle),
            stack(velocity), always_null)


def guidance_ramp(scale: float, n_tokens: int, left: int) -> float:
    """Guidance weight of a sampling step that leaves ``left`` of ``n_tokens`` masked.

    Linear from 1 to ``scale`` in the share of tokens revealed after the step (as MAR/EAG do):
    the first step is already guided, the last (left = 0) uses the full scale.
    """
    return 1.0 + (scale - 1.0) * (n_tokens - left) / n_tokens


class EAGGenerator(LatentGenerator):
    """Energy-based autoregressive generator of spiking trials with classifier-free guidance.

    Stage 1 is a :class:`LatentAutoencoder`; stage 2 a masked-autoregressive bidirectional
    transformer over latent tokens whose MLP head (noise injected by adaLN) is trained with
    the energy score. Sampling reveals tokens in ``n_steps`` parallel steps (cosine schedule).

    Parameters
    ----------
    autoencoder : LatentAutoencoder, optional
        Stage-1 settings (a default one when None); cloned and fitted in :meth:`fit`.
    condition : {"velocity", "angle", None}
        What sampling is conditioned on: per-bin velocity trajectories, reach angle, or nothing.
    generate_behavior : bool
        With condition "angle" or None, also generate the velocity (as extra latent channels),
        so synthetic trials come with behaviour.
    patch_size : int
        Bins per token (a speed choice: fewer tokens per trial; the paper uses 1).
    width, depth, heads, n_buffer : int
        Transformer size and number of condition-carrying buffer tokens.
    head_width, head_blocks : int
        MLP generator head size.
    noise_dim : int or None
        Dimension of the head's noise. It must be at least the token size, patch_size x
        channels (latent_dim, plus the behaviour channels when they are generated), or
        every token's samples would lie on a manifold of lower dimension than the token.
        None: max(64, token size) (the paper: 64 for tokens of 16 values).
    p_uncond : float
        Probability of replacing the condition with the null embedding during training.
    condition_noise : float
        Standard deviation of Gaussian noise added to the condition of each training example
        at each step of stage-2 training, never at sampling: for "velocity" in units of the
        z-scored velocity (each velocity dimension standardised over the training trials and
        bins; the noise is drawn independently per bin and dimension), for "angle" in radians;
        ignored with condition None. 0 (the default) trains on the exact conditions. With few
        trials, each with its own continuous velocity trajectory, the transformer can identify
        a training trial from its exact condition and replay it, so samples at one condition
        barely vary; the noise makes nearby conditions share training trials, like a kernel
        bandwidth in condition space.
    prior_unlabelled : bool
        With ``fit(trials, unlabelled=U)``, the transformer learns from U's latents as well,
        as unconditional examples (their condition is always the null embedding), so the
        dynamics are learned from all spikes and guidance steers them with what the labelled
        trials teach. The labelled trials are repeated so that the two kinds are drawn about
        equally often. False: U trains the autoencoder only.
    epochs, steps : int
        Training length: ``epochs`` passes over the data, or (``epochs=None``) about
        ``steps`` optimiser steps whatever the number of trials.
    batch_size, lr, head_lr_scale, weight_decay, grad_clip, ema_decay
        Optimisation (AdamW betas (0.9, 0.95); the head learns at lr * head_lr_scale).
    n_steps : int
        Default number of sampling steps K (capped at the number of tokens).
    guidance_scale : float
        Default classifier-free guidance scale.
    precision : {"auto", "fp32", "bf16"}
        Arithmetic. "fp32": float32 throughout, the same model and trials on any machine for
        a seed. "bf16": bfloat16 autocast in training and sampling. "auto": "bf16" where it is
        native (CPUs with AVX512-BF16 or AMX, CUDA GPUs), "fp32" elsewhere; on CPUs the
        transformer trains in float32 and only the head in bf16 (docs/training.md).
    n_threads : int or None
        Torch threads during fit and sample (None: torch's current setting).
    device, verbose, random_state
    """

    #: Classifier-free guidance changes its samples (``guidance_scale`` is worth searching).
    supports_guidance = True
    sample_options = ("n_steps", "batch_size")

    _parameter_constraints: dict = {
        **LatentGenerator._parameter_constraints,
        "patch_size": [positive_int], "width": [positive_int], "depth": [positive_int],
        "heads": [positive_int], "n_buffer": [positive_int], "head_width": [positive_int],
        "head_blocks": [positive_int], "noise_dim": [positive_int, None],
        "p_uncond": [unit_interval], "condition_noise": [non_negative_real],
        "prior_unlabelled": ["boolean"],
        "head_lr_scale": [positive_real]}

    def __init__(
        self,
        autoencoder=None,
        condition: str | None = "velocity",
        generate_behavior: bool = True,
        patch_size: int = 5,
        width: int = 64,
        depth: int = 3,
        heads: int = 4,
        n_buffer: int = 4,
        head_width: int = 128,
        head_blocks: int = 2,
        noise_dim: int | None = None,
        p_uncond: float = 0.1,
        condition_noise: float = 0.0,
        prior_unlabelled: bool = False,
        epochs: int | None = None,
        steps: int = 1500,
        batch_size: int = 64,
        lr: float = 1e-3,
        head_lr_scale: float = 0.5,
        weight_decay: float = 0.02,
        grad_clip: float = 3.0,
        ema_decay: float = 0.995,
        n_steps: int = 16,
        guidance_scale: float = 1.0,
        precision: str = "auto",
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.autoencoder = autoencoder
        self.condition = condition
        self.generate_behavior = generate_behavior
        self.patch_size = patch_size
        self.width = width
        self.depth = depth
        self.heads = heads
        self.n_buffer = n_buffer
        self.head_width = head_width
        self.head_blocks = head_blocks
        self.noise_dim = noise_dim
        self.p_uncond = p_uncond
        self.condition_noise = condition_noise
        self.prior_unlabelled = prior_unlabelled
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.head_lr_scale = head_lr_scale
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.ema_decay = ema_decay
        self.n_steps = n_steps
        self.guidance_scale = guidance_scale
        self.precision = precision
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ----------------------------------------------------------------- model
    def _validate_params(self) -> None:
        super()._validate_params()
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be a multiple of heads ({self.heads})")

    def _check_prior(self, n_bins: int, n_channels: int) -> None:
        if self.patch_size > n_bins:
            raise ValueError(f"patch_size must be in [1, {n_bins}] (the bins per trial), got "
                             f"{self.patch_size}")
        token = self.patch_size * n_channels
        if self.noise_dim is not None and self.noise_dim < token:
            raise ValueError(
                f"noise_dim={self.noise_dim} is smaller than a token, patch_size "
                f"{self.patch_size} x {n_channels} channels = {token} values, so each token's "
                f"samples would lie on a {self.noise_dim}-dimensional manifold: set "
                f"noise_dim >= {token}, or None (max(64, token size)), or a smaller patch_size")

    def _build(self) -> EnergyTransformer:
        token_dim = self.patch_size * self.n_channels_
        return EnergyTransformer(
            n_tokens=self.n_tokens_, token_dim=token_dim,
            width=self.width, depth=self.depth, heads=self.heads, n_buffer=self.n_buffer,
            angle_condition=self.condition_ == "angle",
            velocity_dim=self.patch_size * self.n_behavior_ if self.condition_ == "velocity" else 0,
            head_width=self.head_width, head_blocks=self.head_blocks,
            noise_dim=max(64, token_dim) if self.noise_dim is None else self.noise_dim,
        ).to(self.device_)

    def _fit_prior(self, x, angle, velocity, rng, unlabelled=None) -> None:
        dev = self.device_
        x, angle, velocity, always_null = _with_unlabelled(x, angle, velocity, unlabelled)
        always_null = torch.as_tensor(always_null, device=dev)
        tokens = _patch(torch.as_tensor(x, device=dev), self.patch_size)
        self.n_channels_ = x.shape[2]
        self.n_tokens_ = tokens.shape[1]
        vel = None if velocity is None else _patch(torch.as_tensor(velocity, device=dev),
                                                   self.patch_size)
        ang = None if angle is None else torch.as_tensor(angle, dtype=torch.float32, device=dev)
        model = self._build()
        length = self.n_tokens_
        # Mask ratio ~ normal(1.0, 0.25) truncated to [0.7, 1.0], as in MAR/EAG.
        ratio_dist = truncnorm((0.7 - 1.0) / 0.25, 0.0, loc=1.0, scale=0.25)
        bf16 = uses_bf16(dev, self.precision)
        # On CPUs bf16 attention over these short sequences was measured slower than float32,
        # while the head's matrix products run 1.7x faster: there only the head uses bf16.
        trunk = (torch.autocast("cpu", enabled=False) if bf16 and dev.type == "cpu"
                 else contextlib.nullcontext())

        def step_loss(idx):
            b = len(idx)
            target = tokens[idx]
            n_mask = math.ceil(length * ratio_dist.rvs(random_state=rng))
            # The first n_mask tokens of a random order per trial are hidden. Every trial
            # hides as many, so they are gathered by index: no data-dependent shapes and no
            # host synchronisation (as boolean indexing would need on a GPU).
            hidden = torch.rand(b, length, device=dev).argsort(1)[:, :n_mask]
            mask = torch.zeros(b, length, dtype=torch.bool, device=dev).scatter_(1, hidden, True)
            drop = (torch.rand(b, device=dev) < self.p_uncond) | always_null[idx]
            a = None if ang is None else ang[idx]
            v = None if vel is None else vel[idx]
            # Only when asked: at 0 the random stream, hence the fit, stays what it was.
            if self.condition_noise > 0:
                a = None if a is None else a + self.condition_noise * torch.randn_like(a)
                v = None if v is None else v + self.condition_noise * torch.randn_like(v)
            with trunk:
                feats = model.features(
                    target, mask, angle=a, velocity=v,
                    drop_angle=drop if ang is not None else None,
                    drop_velocity=drop if vel is not None else None,
                )
            f = feats.gather(1, hidden[..., None].expand(-1, -1, feats.shape[-1]))
            y = target.gather(1, hidden[..., None].expand(-1, -1, target.shape[-1]))
            noise = model.head.sample_noise((2, b, n_mask), None, dev)
            s = model.head(f, noise).float()
            return energy_score(s[0], s[1], y)

        head_params = list(model.head.parameters())
        head_ids = {id(p) for p in head_params}
        groups = [{"params": [p for p in model.parameters() if id(p) not in head_ids]},
                  {"params": head_params, "lr": self.lr * self.head_lr_scale}]
        self.module_, self.history_ = fit_module(
            model, step_loss, len(tokens),
            epochs=resolve_epochs(self.epochs, self.steps, len(tokens), self.batch_size),
            batch_size=self.batch_size,
            lr=self.lr, betas=(0.9, 0.95), weight_decay=self.weight_decay,
            grad_clip=self.grad_clip, param_groups=groups, ema_decay=self.ema_decay,
            bf16=bf16, rng=rng, verbose=self.verbose, stage="EAG transformer",
        )

    # -------------------------------------------------------------- sampling
    def _sampling_plan(self, n_steps: int | None = None) -> int:
        """``n_steps`` overrides the constructor's K (capped at the number of tokens)."""
        n_steps = self.n_steps if n_steps is None else n_steps
        if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
            raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
        return int(n_steps)

    def _sample_chunk(self, n, ang, vel, guidance_scale, generator, n_steps) -> torch.Tensor:
        """Masked-autoregressive sampling of n trials in ``n_steps`` parallel steps."""
        model, dev, length = self.module_, self.device_, self.n_tokens_
        vel = None if vel is None else _patch(vel, self.patch_size)
        tokens = torch.zeros(n, length, self.patch_size * self.n_channels_, device=dev)
        mask = torch.ones(n, length, dtype=torch.bool, device=dev)
        order = torch.rand(n, length, generator=generator, device=dev).argsort(1)
        rows = torch.arange(n, device=dev)[:, None]
        guided = self.condition_ is not None and guidance_scale != 1.0
        if guided:
            both = lambda t: None if t is None else torch.cat([t, t])  # noqa: E731
            drop = torch.cat([torch.zeros(n, dtype=torch.bool, device=dev),
                              torch.ones(n, dtype=torch.bool, device=dev)])
        previous = length
        for left in cosine_mask_schedule(length, n_steps):
            reveal = order[:, left:previous]
            if guided:
                f_both = model.features(both(tokens), both(mask), both(ang), both(vel),
                                        drop if ang is not None else None,
                                        drop if vel is not None else None, query=both(reveal))
                g = guidance_ramp(guidance_scale, length, left)
                f = g * f_both[:n] + (1.0 - g) * f_both[n:]
            else:
                f = model.features(tokens, mask, ang, vel, query=reveal)
            noise = model.head.sample_noise(tuple(f.shape[:2]), generator, dev)
            tokens[rows, reveal] = model.head(f, noise).to(tokens.dtype)
            mask[rows, reveal] = False
            previous = left
        return _unpatch(tokens, self.patch_size, self.n_bins_)

    # ------------------------------------------------------------ persistence
    def _prior_state(self) -> tuple[dict, dict]:
        return ({"n_tokens_": self.n_tokens_, "n_channels_": self.n_channels_,
                 "history_": self.history_.as_dict()}, self.module_.state_dict())

    def _load_prior(self, config: dict, state: dict) -> None:
        self.n_tokens_, self.n_channels_ = config["n_tokens_"], config["n_channels_"]
        self.history_ = TrainingHistory(**config["history_"])
        module = self._build()
        module.load_state_dict(state)
        self.module_ = module.eval()
