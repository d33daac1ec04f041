"""LatentDiffusionGenerator: DDPM on autoencoder latents, as in LDNS (Kapoor et al., 2024)."""

from __future__ import annotations

import numbers

import torch
from torch.nn import functional as F

from eag_augment._progress import progress
from eag_augment._torch import uses_bf16
from eag_augment._validation import Interval, StrOptions, positive_int
from eag_augment.generators._training import TrainingHistory, fit_module, resolve_epochs
from eag_augment.generators.latent import _CLAMP, LatentGenerator
from eag_augment.nn.diffusion import DDPMSchedule, DiffusionDenoiser

__all__ = ["LatentDiffusionGenerator"]

_LOSSES = {"smooth_l1": F.smooth_l1_loss, "mse": F.mse_loss}
_SAMPLERS = ("ddpm", "ddim")


def _check_sampler(sampler: str) -> None:
    if sampler not in _SAMPLERS:
        raise ValueError(f"sampler must be one of {_SAMPLERS}, got {sampler!r}")


class LatentDiffusionGenerator(LatentGenerator):
    """Latent diffusion generator of spiking trials (the LDNS baseline).

    Stage 1 is a :class:`LatentAutoencoder` (shared with EAG); stage 2 a DDPM over the
    normalised latent sequences whose denoiser is a stack of S4 blocks with adaLN-Zero timestep
    conditioning, trained to predict the noise, with EMA weights. Reach angle is embedded and
    added to the timestep embedding; velocity trajectories are concatenated to the denoiser's
    input channels. LDNS has no classifier-free guidance, so neither has this model.

    Sampling cost is one denoiser pass per step: "ddpm" walks all ``n_timesteps`` ancestral
    steps (as LDNS does); "ddim" takes ``n_steps`` evenly spaced deterministic steps.

    Parameters
    ----------
    autoencoder : LatentAutoencoder, optional
        Stage-1 settings (a default one when None); cloned and fitted in :meth:`fit`.
    condition : {"velocity", "angle", None}
        What sampling is conditioned on: per-bin velocity trajectories, reach angle, or nothing.
    generate_behavior : bool
        With condition "angle" or None, also generate the velocity (as extra latent channels),
        so synthetic trials come with behaviour.
    channels, n_blocks, state_dim : int
        Denoiser width, number of S4 blocks, SSM state size (LDNS: 64 x 4 Lorenz, 256 x 6
        MC_Maze; the defaults are the small Lorenz size, which trains on a CPU).
    n_timesteps : int
        Diffusion steps T (linear betas 1e-4..0.02 at T = 1000, rescaled for other T).
    loss : {"smooth_l1", "mse"}
        Loss between predicted and true noise (LDNS uses smooth L1 on MC_Maze).
    epochs, steps : int
        Training length: ``epochs`` passes over the data, or (``epochs=None``) about
        ``steps`` optimiser steps whatever the number of trials. The default 12 000 is what
        the small denoiser needs on the default reach data: at 1500 steps its samples got
        worse with more DDIM steps (population-count KL 0.012 at DDIM-50, 0.021 at DDIM-200,
        0.009 at DDPM-1000, against held-out trials), at 6000 they improve monotonically
        (0.0050, 0.0050, 0.0040) (docs/training.md).
    batch_size, lr, weight_decay, grad_clip, ema_decay
        Optimisation (AdamW, warm-up then cosine decay; EMA weights are kept).
    n_steps : int
        Default number of DDIM sampling steps (1..n_timesteps); DDPM always takes n_timesteps.
    sampler : {"ddpm", "ddim"}
        Default reverse sampler.
    guidance_scale : float
        Accepted for interface compatibility and ignored: LDNS has no guidance.
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of the denoiser in training and sampling, as for EAGGenerator (the S4
        layers always compute in float32).
    n_threads : int or None
        Torch threads during fit and sample (None: torch's current setting).
    device, verbose, random_state
    """

    sample_options = ("n_steps", "sampler", "batch_size")

    _parameter_constraints: dict = {
        **LatentGenerator._parameter_constraints,
        "channels": [positive_int], "n_blocks": [positive_int], "state_dim": [positive_int],
        "n_timesteps": [Interval(numbers.Integral, 2, None, closed="left")],
        "loss": [StrOptions(set(_LOSSES))], "sampler": [StrOptions(set(_SAMPLERS))]}

    def __init__(
        self,
        autoencoder=None,
        condition: str | None = "velocity",
        generate_behavior: bool = True,
        channels: int = 64,
        n_blocks: int = 4,
        state_dim: int = 32,
        n_timesteps: int = 1000,
        loss: str = "smooth_l1",
        epochs: int | None = None,
        steps: int = 12_000,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 0.02,
        grad_clip: float = 3.0,
        ema_decay: float = 0.995,
        n_steps: int = 1000,
        sampler: str = "ddpm",
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
        self.channels = channels
        self.n_blocks = n_blocks
        self.state_dim = state_dim
        self.n_timesteps = n_timesteps
        self.loss = loss
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.ema_decay = ema_decay
        self.n_steps = n_steps
        self.sampler = sampler
        self.guidance_scale = guidance_scale
        self.precision = precision
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ----------------------------------------------------------------- model
    def _validate_params(self) -> None:
        super()._validate_params()
        if self.state_dim % 2:
            raise ValueError(f"state_dim must be even (complex-conjugate pairs), got "
                             f"{self.state_dim}")
        if self.sampler == "ddim" and self.n_steps > self.n_timesteps:
            raise ValueError(f"n_steps ({self.n_steps}) of the ddim sampler must be at most "
                             f"n_timesteps ({self.n_timesteps})")

    def _build(self) -> DiffusionDenoiser:
        return DiffusionDenoiser(
            self.n_channels_, channels=self.channels, n_blocks=self.n_blocks,
            state_dim=self.state_dim,
            velocity_dim=self.n_behavior_ if self.condition_ == "velocity" else 0,
            angle_condition=self.condition_ == "angle",
        ).to(self.device_)

    def _fit_prior(self, x, angle, velocity, rng) -> None:
        dev = self.device_
        data = torch.as_tensor(x, device=dev)
        self.n_channels_ = x.shape[2]
        self.schedule_ = DDPMSchedule(self.n_timesteps, device=dev)
        vel = None if velocity is None else torch.as_tensor(velocity, device=dev)
        ang = None if angle is None else torch.as_tensor(angle, dtype=torch.float32, device=dev)
        model = self._build()
        loss_fn = _LOSSES[self.loss]

        def step_loss(idx):
            x0 = data[idx]
            t = torch.randint(0, self.n_timesteps, (len(idx),), device=dev)
            noise = torch.randn_like(x0)
            pred = model(self.schedule_.q_sample(x0, t, noise), t,
                         angle=None if ang is None else ang[idx],
                         velocity=None if vel is None else vel[idx])
            return loss_fn(pred, noise)

        self.module_, self.history_ = fit_module(
            model, step_loss, len(data),
            epochs=resolve_epochs(self.epochs, self.steps, len(data), self.batch_size),
            batch_size=self.batch_size,
            lr=self.lr, weight_decay=self.weight_decay, grad_clip=self.grad_clip,
            ema_decay=self.ema_decay, bf16=uses_bf16(dev, self.precision),
            rng=rng, verbose=self.verbose, stage="latent diffusion",
        )

    # -------------------------------------------------------------- sampling
    def _sampling_plan(self, n_steps: int | None = None, sampler: str | None = None):
        """(sampler, timesteps): ``sampler`` and ``n_steps`` override the constructor's.

        "ddpm" takes all n_timesteps steps (``n_steps`` must then be None or n_timesteps),
        "ddim" takes ``n_steps`` deterministic steps. ``guidance_scale`` is ignored (no
        guidance in LDNS).
        """
        sampler = self.sampler if sampler is None else sampler
        _check_sampler(sampler)
        if sampler == "ddpm":
            if n_steps is not None and n_steps != self.n_timesteps:
                raise ValueError(f"the ddpm sampler walks all n_timesteps={self.n_timesteps} "
                                 f"steps; got n_steps={n_steps!r} (use sampler='ddim' for "
                                 "fewer steps)")
            return sampler, list(range(self.n_timesteps - 1, -1, -1))
        return sampler, self.schedule_.ddim_timesteps(self.n_steps if n_steps is None else n_steps)

    def _sample_chunk(self, n, ang, vel, guidance_scale, generator, plan) -> torch.Tensor:
        """Reverse diffusion of n trials from Gaussian noise."""
        sampler, steps = plan
        model, schedule, dev = self.module_, self.schedule_, self.device_
        x = torch.randn(n, self.n_bins_, self.n_channels_, generator=generator, device=dev)
        for i, t in enumerate(progress(steps, desc=f"diffusion sampling ({sampler})",
                                       disable=not self.verbose)):
            eps = model(x, torch.full((n,), t, device=dev), angle=ang, velocity=vel).float()
            if sampler == "ddpm":
                x = schedule.ddpm_step(x, eps, t, generator, clip=_CLAMP)
            else:
                t_prev = steps[i + 1] if i + 1 < len(steps) else -1
                x = schedule.ddim_step(x, eps, t, t_prev, clip=_CLAMP)
        return x

    # ------------------------------------------------------------ persistence
    def _prior_state(self) -> tuple[dict, dict]:
        return ({"n_channels_": self.n_channels_, "history_": self.history_.as_dict()},
                self.module_.state_dict())

    def _load_prior(self, config: dict, state: dict) -> None:
        self.n_channels_ = config["n_channels_"]
        self.history_ = TrainingHistory(**config["history_"])
        self.schedule_ = DDPMSchedule(self.n_timesteps, device=self.device_)
        module = self._build()
        module.load_state_dict(state)
        self.module_ = module.eval()
