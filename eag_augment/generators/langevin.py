"""LangevinFlowGenerator: a sequential VAE with underdamped Langevin latents (arXiv 2507.11531)."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from torch.nn import functional as F

from eag_augment._arrays import validate_spikes
from eag_augment._progress import progress
from eag_augment._torch import resolve_device, seed_from, threads, torch_generator
from eag_augment._validation import (DEVICE, Interval, non_negative_int, non_negative_real,
                                     positive_int, positive_real, unit_interval)
from eag_augment.angles import angle_of_reach
from eag_augment.generators._training import TrainingHistory, fit_module
from eag_augment.generators.base import BaseGenerator
from eag_augment.nn.langevin import LangevinFlow, gaussian_kl
from eag_augment.trials import TrialSet

__all__ = ["LangevinFlowGenerator"]

_ARCH = ("latent_dim", "n_groups", "kernel_size", "encoder_hidden", "bidirectional", "d_model",
         "n_heads", "ff_dim", "dropout", "step_size", "damping")


def _angle_features(angle: np.ndarray) -> np.ndarray:
    """(n,) radians -> (n, 2) [cos, sin]: continuous across the circle, so unseen angles work."""
    angle = np.asarray(angle, dtype=np.float32)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1)


class LangevinFlowGenerator(BaseGenerator):
    """LangevinFlow: GRU encoder, Langevin latent dynamics, one-layer transformer decoder.

    Model. A GRU reads the spike counts of the held-in neurons (all neurons with
    ``encode_heldout=True`` or when none is held out) and gives Gaussian posteriors over the
    initial latent position z0 and velocity v0, plus a context vector per bin (its outputs).
    The latent evolves by the underdamped Langevin step (``step_size`` h, ``damping`` g):
    ``z_t = z_{t-1} + h v_{t-1}``, ``v' = v_{t-1} - h grad U(z_{t-1})``,
    ``v_t = (1 - g) v' + sqrt(2 g) eps`` in the coupled-oscillator potential U (``n_groups``
    groups coupled by a learned, zero-initialised ``n_groups x n_groups x kernel_size``
    convolution kernel; see :class:`eag_augment.nn.langevin.CoupledOscillatorPotential`).
    One transformer encoder layer over the tokens [z_t, v_t, context_t] (+ learned position
    embeddings) reads out the log-rates of every neuron (held-in and held-out). Training
    minimises the Poisson NLL of the entries hidden from the encoder (coordinated dropout on
    held-in entries, every held-out entry) plus the KL of the posterior to the prior, its
    weight ramped linearly to ``kl_weight`` over ``kl_warmup_epochs``, with early stopping on
    an internal validation split.

    Generation. There are no spikes to read when generating, so the decoder then gets a
    learned null context; to train that path, the context is replaced by the null one for a
    random ``context_dropout`` share of the training trials. Sampling draws (z0, v0) from the
    prior, rolls the Langevin SDE forward, decodes the rates with the null context, and the
    base class draws Poisson spikes. :meth:`predict_rates` (co-smoothing, NLB) uses the
    encoder's context.

    Conditioning (so that it can serve the augmenter):

    - ``condition="angle"``: a conditional prior N(mu(angle), sigma(angle)^2) over (z0, v0),
      an MLP of [cos, sin] of the reach angle (zero-initialised, so it starts at N(0, I));
      the KL is taken to it. Any angle can be sampled, also ones absent from training.
    - ``condition="velocity"``: the velocity trajectory, z-scored with training statistics,
      is an external input concatenated to every decoder token (training and sampling alike),
      and the prior over (z0, v0) is conditioned on the angle of the reach it describes.
    - ``condition=None``: prior N(0, I).

    With ``generate_behavior`` (conditions "angle" and None, trials with behaviour), a linear
    head on the decoder's output reads out the z-scored velocity per bin (MSE, weight
    ``behavior_weight``), so synthetic trials come with velocity consistent with their rates.

    Parameters
    ----------
    condition : {"velocity", "angle", None}
        What sampling is conditioned on.
    generate_behavior : bool
        Read out velocity next to the rates (conditions "angle" and None).
    latent_dim : int
        Size of z and of v (the paper's 280 is GPU-sized; 32 fits on a CPU in minutes).
    n_groups, kernel_size : int
        Oscillator groups (must divide ``latent_dim``) and coupling taps (paper: 4, 3).
    step_size, damping : float
        h and g of the Langevin step (paper: 0.01, 0.55).
    encoder_hidden, bidirectional : GRU width and direction(s).
    d_model, n_heads, ff_dim, dropout : the decoder's transformer layer.
    encode_heldout : bool
        False (the paper, NLB co-smoothing): the encoder reads only the neurons not marked in
        ``TrialSet.heldout``. True: it reads every neuron.
    cd_rate : float
        Coordinated-dropout probability of a held-in entry (0 turns it off; the decoder can
        then copy held-in counts through the context).
    context_dropout : float
        Share of training trials decoded with the null context (the generation path).
    kl_weight, kl_warmup_epochs : final KL weight and the epochs of its linear ramp
        (paper: 0.1 over 500 epochs).
    behavior_weight : float
        Weight of the velocity readout's MSE (z-scored units).
    epochs, batch_size, lr, weight_decay, grad_clip, ema_decay, patience
        Optimisation (AdamW, warm-up then cosine decay; the paper uses Adam, lr 3e-3,
        ReduceLROnPlateau).
    validation_fraction : float
        Share of the trials held out for early stopping.
    guidance_scale : float
        Accepted for a common interface and ignored: LangevinFlow has no guidance.
    n_threads : int or None
        Torch threads during fit and sample (None: torch's current setting).
    device, verbose, random_state
    """

    sample_options = ("batch_size",)

    _parameter_constraints: dict = {
        "generate_behavior": ["boolean"], "latent_dim": [positive_int],
        "n_groups": [positive_int], "kernel_size": [positive_int],
        "step_size": [positive_real], "damping": [Interval(numbers.Real, 0, 1, closed="right")],
        "encoder_hidden": [positive_int], "bidirectional": ["boolean"],
        "d_model": [positive_int], "n_heads": [positive_int], "ff_dim": [positive_int],
        "dropout": [unit_interval], "encode_heldout": ["boolean"], "cd_rate": [unit_interval],
        "context_dropout": [unit_interval], "kl_weight": [non_negative_real],
        "kl_warmup_epochs": [non_negative_int], "behavior_weight": [non_negative_real],
        "epochs": [positive_int], "batch_size": [positive_int], "lr": [positive_real],
        "weight_decay": [non_negative_real], "grad_clip": [positive_real, None],
        "ema_decay": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "patience": [positive_int, None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "guidance_scale": [non_negative_real], "n_threads": [positive_int, None],
        "device": DEVICE, "verbose": ["verbose"], "random_state": ["random_state"]}

    def __init__(
        self,
        condition: str | None = "velocity",
        generate_behavior: bool = True,
        latent_dim: int = 32,
        n_groups: int = 4,
        kernel_size: int = 3,
        step_size: float = 0.01,
        damping: float = 0.55,
        encoder_hidden: int = 64,
        bidirectional: bool = True,
        d_model: int = 64,
        n_heads: int = 4,
        ff_dim: int = 128,
        dropout: float = 0.0,
        encode_heldout: bool = False,
        cd_rate: float = 0.3,
        context_dropout: float = 0.5,
        kl_weight: float = 0.1,
        kl_warmup_epochs: int = 50,
        behavior_weight: float = 1.0,
        epochs: int = 100,
        batch_size: int = 64,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        grad_clip: float = 5.0,
        ema_decay: float | None = None,
        patience: int = 20,
        validation_fraction: float = 0.1,
        guidance_scale: float = 1.0,
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        random_state: int | None = None,
    ) -> None:
        self.condition = condition
        self.generate_behavior = generate_behavior
        self.latent_dim = latent_dim
        self.n_groups = n_groups
        self.kernel_size = kernel_size
        self.step_size = step_size
        self.damping = damping
        self.encoder_hidden = encoder_hidden
        self.bidirectional = bidirectional
        self.d_model = d_model
        self.n_heads = n_heads
        self.ff_dim = ff_dim
        self.dropout = dropout
        self.encode_heldout = encode_heldout
        self.cd_rate = cd_rate
        self.context_dropout = context_dropout
        self.kl_weight = kl_weight
        self.kl_warmup_epochs = kl_warmup_epochs
        self.behavior_weight = behavior_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.ema_decay = ema_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.guidance_scale = guidance_scale
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    # ------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        super()._validate_params()
        resolve_device(self.device)
        if self.latent_dim % self.n_groups:
            raise ValueError(f"latent_dim must be a multiple of n_groups={self.n_groups}, "
                             f"got latent_dim={self.latent_dim}")
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model must be a multiple of n_heads={self.n_heads}, "
                             f"got {self.d_model}")

    # ------------------------------------------------------------- model
    def _build(self) -> LangevinFlow:
        return LangevinFlow(
            n_inputs=int(self.input_mask_.sum()), n_neurons=self.n_neurons_, n_bins=self.n_bins_,
            **{k: getattr(self, k) for k in _ARCH},
            condition_dim=2 if self.condition_ is not None else 0,
            input_dim=self.n_behavior_ if self.condition_ == "velocity" else 0,
            behavior_dim=self.n_behavior_ if self.generates_behavior_ else 0,
        ).to(self.device_)

    def _condition_features(self, angle: np.ndarray | None, velocity: np.ndarray | None
                            ) -> torch.Tensor | None:
        """[cos, sin] of the angle (condition "angle") or of the velocity's reach angle."""
        if self.condition_ == "angle":
            return torch.as_tensor(_angle_features(angle), device=self.device_)
        if self.condition_ == "velocity":
            return torch.as_tensor(_angle_features(angle_of_reach(velocity)), device=self.device_)
        return None

    def _normalised_velocity(self, velocity: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(((velocity - self.v_mean_) / self.v_std_).astype(np.float32),
                               device=self.device_)

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        n = trials.n_trials
        if n - max(1, round(self.validation_fraction * n)) < 1:
            raise ValueError(f"need at least 2 trials to fit LangevinFlow, got {n}")
        with threads(self.n_threads):
            self._fit_model(trials, rng)

    def _fit_model(self, trials: TrialSet, rng: np.random.Generator) -> None:
        self.input_mask_ = (np.ones(trials.n_neurons, dtype=bool)
                            if self.encode_heldout or trials.heldout.all() else ~trials.heldout)
        self.generates_behavior_ = bool(self.generate_behavior and self.condition_ != "velocity"
                                        and trials.behavior is not None)
        uses_velocity = self.condition_ == "velocity" or self.generates_behavior_
        if uses_velocity:
            flat = trials.behavior.reshape(-1, trials.behavior.shape[2])
            self.v_mean_ = flat.mean(0).astype(np.float32)
            self.v_std_ = np.maximum(flat.std(0), 1e-6).astype(np.float32)
        dev = self.device_
        spikes = torch.as_tensor(trials.spikes, dtype=torch.float32, device=dev)
        velocity = self._normalised_velocity(trials.behavior) if uses_velocity else None
        cond = self._condition_features(
            trials.angles if self.condition_ == "angle" else None,
            trials.behavior if self.condition_ == "velocity" else None)
        n = trials.n_trials
        n_val = max(1, round(self.validation_fraction * n))
        order = rng.permutation(n)
        val_idx, train_idx = order[:n_val], order[n_val:]
        model = self._build()
        with torch.no_grad():
            # Start every neuron at its mean rate: the first epochs then learn modulation.
            mean = spikes[train_idx].mean((0, 1))
            model.readout.bias.copy_(torch.log(mean.clamp_min(1e-3)))
        inputs = torch.as_tensor(self.input_mask_, device=dev)
        steps_per_epoch = -(-len(train_idx) // self.batch_size)
        warmup_steps = max(1, self.kl_warmup_epochs * steps_per_epoch)
        step = [0]

        def losses(module, idx, gen, context_dropped) -> tuple[torch.Tensor, torch.Tensor,
                                                                torch.Tensor]:
            """(reconstruction NLL per counted entry, KL per entry, behaviour MSE)."""
            x = spikes[idx]
            b = len(idx)
            keep = torch.rand(x[..., inputs].shape, generator=gen, device=dev) >= self.cd_rate
            mu, logvar, context = module.encode(x[..., inputs] * keep / (1.0 - self.cd_rate))
            state = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen, device=dev)
            z0, v0 = state.chunk(2, dim=-1)
            noise = torch.randn(b, x.shape[1] - 1, self.latent_dim, generator=gen, device=dev)
            z, v = module.roll(z0, v0, noise)
            null = module.null_context.expand_as(context)
            context = torch.where(context_dropped[:, None, None], null, context)
            vel = None if velocity is None else velocity[idx]
            log_rates, beh = module.decode(z, v, context,
                                           vel if self.condition_ == "velocity" else None)
            nll = F.poisson_nll_loss(log_rates, x, log_input=True, full=False, reduction="none")
            counted = torch.ones_like(x)
            if self.cd_rate > 0:
                counted[..., inputs] = (~keep).float()
            recon = (nll * counted).sum() / counted.sum().clamp_min(1.0)
            p_mu, p_logvar = module.prior_params(None if cond is None else cond[idx], b, dev)
            kl = gaussian_kl(mu, logvar, p_mu, p_logvar).sum() / x.numel()
            mse = F.mse_loss(beh, vel) if beh is not None else recon.new_zeros(())
            return recon, kl, mse

        train_rows = torch.as_tensor(train_idx, device=dev)

        def step_loss(idx):
            idx = train_rows[idx]
            dropped = torch.rand(len(idx), device=dev) < self.context_dropout
            recon, kl, mse = losses(model, idx, None, dropped)
            ramp = min(1.0, step[0] / warmup_steps) if self.kl_warmup_epochs else 1.0
            step[0] += 1
            return recon + self.kl_weight * ramp * kl + self.behavior_weight * mse

        val_seed = int(rng.integers(2**31))

        def val_loss(module):
            # Fixed masks and noise, both decoding paths and the full KL weight, so that
            # epochs are compared on the same objective.
            total = 0.0
            for share, dropped in ((1.0 - self.context_dropout, False),
                                   (self.context_dropout, True)):
                if share == 0:
                    continue
                gen = torch_generator(val_seed, dev)
                flags = torch.full((n_val,), dropped, device=dev)
                recon, kl, mse = losses(module, val_idx, gen, flags)
                total += share * (recon + self.kl_weight * kl
                                  + self.behavior_weight * mse).item()
            return total

        self.module_, self.history_ = fit_module(
            model, step_loss, len(train_idx), epochs=self.epochs, batch_size=self.batch_size,
            lr=self.lr, weight_decay=self.weight_decay, grad_clip=self.grad_clip,
            ema_decay=self.ema_decay, val_loss=val_loss, patience=self.patience, rng=rng,
            verbose=self.verbose, stage="LangevinFlow",
        )

    # ---------------------------------------------------------- sampling
    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator,
                      batch_size: int = 1024):
        """Prior (z0, v0) -> Langevin roll -> decoder with the null context: rates, behaviour.

        ``guidance_scale`` is ignored (no guidance). Trials are made ``batch_size`` at a time.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        with threads(self.n_threads):
            return self._roll_rates(n_trials, angle, velocity, generator, batch_size)

    def _roll_rates(self, n_trials, angle, velocity, generator, batch_size):
        model, dev = self.module_, self.device_
        model.eval()
        cond = self._condition_features(angle, velocity)
        vel = None if velocity is None else self._normalised_velocity(velocity)
        rates, behavior = [], []
        for start in progress(range(0, n_trials, batch_size), desc="LangevinFlow sampling",
                              disable=not self.verbose or n_trials <= batch_size):
            sl = slice(start, min(n_trials, start + batch_size))
            b = sl.stop - sl.start
            mu, logvar = model.prior_params(None if cond is None else cond[sl], b, dev)
            state = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator,
                                                            device=dev)
            z0, v0 = state.chunk(2, dim=-1)
            noise = torch.randn(b, self.n_bins_ - 1, self.latent_dim, generator=generator,
                                device=dev)
            z, v = model.roll(z0, v0, noise)
            log_rates, beh = model.decode(z, v, None, None if vel is None else vel[sl])
            rates.append(log_rates.exp().cpu())
            if beh is not None:
                behavior.append(beh.cpu())
        beh = None
        if behavior:
            beh = torch.cat(behavior).numpy().astype(np.float64) * self.v_std_ + self.v_mean_
        return torch.cat(rates).numpy(), beh

    # ---------------------------------------------------------- inference
    @torch.no_grad()
    def predict_rates(self, X, *, n_samples: int = 10, use_context: bool = True,
                      random_state=0, batch_size: int = 256) -> np.ndarray:
        """Firing rates (trials, bins, neurons) of every neuron inferred from spike counts.

        The encoder reads only its input neurons (the held-in ones unless
        ``encode_heldout``), so the held-out neurons' rates are co-smoothed predictions.
        Rates (expected counts per bin) are averaged over ``n_samples`` draws of the posterior
        and of the Langevin noise.

        Parameters
        ----------
        X : TrialSet or array (trials, bins, neurons)
            Spike counts of all the neurons the model was fitted on (held-out columns are
            ignored). A model conditioned on velocity needs a TrialSet with behaviour.
        n_samples : int
            Posterior samples averaged.
        use_context : bool
            Decode with the encoder's per-bin context (True), or with the null context of the
            generation path (False: rates from (z0, v0) and the Langevin dynamics alone).
        random_state : int, numpy Generator or None
            Seed of the posterior and Langevin noise.
        """
        self._check_fitted()
        spikes = X.spikes if isinstance(X, TrialSet) else validate_spikes(X, "X")
        if spikes.shape[1:] != (self.n_bins_, self.n_neurons_):
            raise ValueError(f"X must have shape (trials, {self.n_bins_}, {self.n_neurons_}), "
                             f"got {spikes.shape}")
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) \
                or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
        velocity = None
        if self.condition_ == "velocity":
            if not isinstance(X, TrialSet) or X.behavior is None:
                raise ValueError("this LangevinFlowGenerator is conditioned on velocity: pass a "
                                 "TrialSet with behavior to predict_rates")
            velocity = X.behavior
        dev, model = self.device_, self.module_
        model.eval()
        gen = torch_generator(seed_from(random_state), dev)
        inputs = torch.as_tensor(self.input_mask_, device=dev)
        out = []
        for start in range(0, len(spikes), batch_size):
            x = torch.as_tensor(spikes[start:start + batch_size], dtype=torch.float32,
                                device=dev)[..., inputs]
            vel = None if velocity is None else self._normalised_velocity(
                velocity[start:start + batch_size])
            mu, logvar, context = model.encode(x)
            total = torch.zeros(len(x), self.n_bins_, self.n_neurons_, device=dev)
            for _ in range(n_samples):
                state = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen,
                                                                device=dev)
                z0, v0 = state.chunk(2, dim=-1)
                noise = torch.randn(len(x), self.n_bins_ - 1, self.latent_dim, generator=gen,
                                    device=dev)
                z, v = model.roll(z0, v0, noise)
                total += model.decode(z, v, context if use_context else None, vel)[0].exp()
            out.append((total / n_samples).cpu())
        return torch.cat(out).numpy()

    # -------------------------------------------------------- persistence
    def _get_fitted(self) -> tuple[dict, dict]:
        config = {"input_mask_": self.input_mask_.tolist(),
                  "generates_behavior_": self.generates_behavior_,
                  "history_": self.history_.as_dict()}
        state = {"module": self.module_.state_dict()}
        if hasattr(self, "v_mean_"):
            state.update(v_mean_=self.v_mean_, v_std_=self.v_std_)
        return config, state

    def _set_fitted(self, config: dict, state: dict) -> None:
        self.input_mask_ = np.array(config["input_mask_"], dtype=bool)
        self.generates_behavior_ = config["generates_behavior_"]
        self.history_ = TrainingHistory(**config["history_"])
        if "v_mean_" in state:
            self.v_mean_, self.v_std_ = state["v_mean_"].numpy(), state["v_std_"].numpy()
        module = self._build()
        module.load_state_dict(state["module"])
        self.module_ = module.eval()
