"""Generators that model the autoencoder's latents: the part EAG and latent diffusion share.

Fitting trains (or reuses) a :class:`LatentAutoencoder`, encodes the training trials, appends
the behaviour channels when the model should generate behaviour jointly, and z-scores every
channel with training statistics (clamped to +-5). A subclass then fits its prior on those
normalised sequences (trials, bins, channels). Sampling inverts the chain: prior sample ->
de-normalise -> per-bin decoder -> rates; the base class draws Poisson spikes.
"""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np
import torch

from eag_augment._torch import PRECISIONS, autocast_context, resolve_device, threads
from eag_augment._validation import (DEVICE, Interval, StrOptions, non_negative_real,
                                     positive_int, positive_real)
from eag_augment.generators.autoencoder import (LatentAutoencoder, fit_autoencoder,
                                                 unlabelled_behavior)
from eag_augment.generators.base import BaseGenerator
from eag_augment.trials import TrialSet

__all__ = ["LatentGenerator"]

_CLAMP = 5.0


def _zscore_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = x.reshape(-1, x.shape[-1])
    return flat.mean(0).astype(np.float32), np.maximum(flat.std(0), 1e-6).astype(np.float32)


class LatentGenerator(BaseGenerator):
    """Base for generators of autoencoder latents. Subclasses implement the prior:

    ``_fit_prior(x, angle, velocity, rng)`` with x (trials, bins, channels) normalised,
    angle (trials,) or None, velocity (trials, bins, dims) normalised or None;
    ``_sampling_plan(**kw)`` (validated sampling options, e.g. the number of steps) and
    ``_sample_chunk(n, angle, velocity, guidance_scale, generator, plan) -> tensor (n, bins,
    channels)``; plus ``_prior_state()`` / ``_load_prior(config, state)`` for checkpoints.
    Subclasses have a ``precision`` hyperparameter ("auto", "fp32", "bf16") for training
    and sampling, and ``n_threads`` (torch threads during fit and sample; None leaves torch's
    setting alone). ``_check_prior(n_bins, n_channels)`` may refuse a configuration before any
    training starts.

    Unlabelled spikes (``fit(trials, unlabelled=...)``) train the autoencoder beside the
    trials' own spikes; the prior, which models latents with their behaviour, learns from the
    labelled trials only, unless it can learn unconditionally from their latents too (EAG's
    ``prior_unlabelled``: ``_fit_prior`` then gets them as ``unlabelled``, normalised).
    """

    supports_unlabelled = True
    sample_options = ("batch_size",)

    #: Hyperparameters every latent generator has (subclasses add their own).
    _parameter_constraints: ClassVar[dict] = {
        "autoencoder": [LatentAutoencoder, None], "generate_behavior": ["boolean"],
        "epochs": [positive_int, None], "steps": [positive_int], "batch_size": [positive_int],
        "lr": [positive_real], "weight_decay": [non_negative_real],
        "grad_clip": [positive_real, None],
        "ema_decay": [Interval(numbers.Real, 0, 1, closed="left"), None],
        "n_steps": [positive_int], "guidance_scale": [non_negative_real],
        "precision": [StrOptions(set(PRECISIONS))], "n_threads": [positive_int, None],
        "device": DEVICE, "verbose": ["verbose"], "random_state": ["random_state"]}

    def _validate_params(self) -> None:
        super()._validate_params()
        resolve_device(self.device)
        if self.autoencoder is not None:
            self.autoencoder._validate_params()

    def _check_prior(self, n_bins: int, n_channels: int) -> None:
        """Raise ValueError for a prior that cannot model (trials, n_bins, n_channels)."""

    def _fit(self, trials: TrialSet, rng: np.random.Generator,
             fitted_autoencoder: LatentAutoencoder | None = None,
             unlabelled: np.ndarray | None = None) -> None:
        with threads(self.n_threads):
            self._fit_stages(trials, rng, fitted_autoencoder, unlabelled)

    def _fit_stages(self, trials: TrialSet, rng: np.random.Generator,
                    fitted_autoencoder: LatentAutoencoder | None,
                    unlabelled: np.ndarray | None) -> None:
        if fitted_autoencoder is not None and (
                getattr(fitted_autoencoder, "n_neurons_", None) != trials.n_neurons):
            raise ValueError("fitted_autoencoder must be a LatentAutoencoder fitted on "
                             f"{trials.n_neurons} neurons")
        if fitted_autoencoder is not None and unlabelled is not None:
            raise ValueError("unlabelled spikes train the autoencoder, and fitted_autoencoder "
                             "is fitted already: fit it with them, or drop one of the two")
        ae = fitted_autoencoder
        if ae is None:  # still unfitted: only its latent_dim is read before training
            ae = self.autoencoder if self.autoencoder is not None else LatentAutoencoder()
        self.generates_behavior_ = bool(
            getattr(self, "generate_behavior", True) and self.condition_ != "velocity"
            and trials.behavior is not None
        )
        n_behavior = trials.behavior.shape[2] if self.generates_behavior_ else 0
        self._check_prior(trials.n_bins, ae.latent_dim + n_behavior)
        prior_unlabelled = unlabelled is not None and getattr(self, "prior_unlabelled", False)
        if prior_unlabelled and self.generates_behavior_:
            raise ValueError("prior_unlabelled=True needs a prior of latents alone, but this "
                             "one also generates the behaviour, which unlabelled trials lack: "
                             "set generate_behavior=False or condition='velocity'")
        if fitted_autoencoder is None:
            fit_on, behavior = trials, None
            if unlabelled is not None:
                fit_on = TrialSet(np.concatenate([trials.spikes, unlabelled]),
                                  bin_ms=trials.bin_ms, neuron_ids=trials.neuron_ids,
                                  heldout=trials.heldout)
                behavior = unlabelled_behavior(trials.behavior, len(unlabelled))
            ae = fit_autoencoder(self.autoencoder, fit_on, rng, self.device, self.verbose,
                                 behavior)
        self.autoencoder_ = ae
        self.n_unlabelled_ = 0 if unlabelled is None else len(unlabelled)
        z = ae.encode(trials)
        x = np.concatenate([z, trials.behavior], axis=2) if self.generates_behavior_ else z
        # Unlabelled latents the prior learns from too: the z-scoring covers them as well.
        x_u = None if not prior_unlabelled else ae.encode(
            TrialSet(unlabelled, bin_ms=trials.bin_ms, neuron_ids=trials.neuron_ids))
        self.x_mean_, self.x_std_ = _zscore_stats(x if x_u is None else np.concatenate([x, x_u]))
        x = self._normalise_latents(x)
        velocity = None
        if self.condition_ == "velocity":
            self.v_mean_, self.v_std_ = _zscore_stats(trials.behavior)
            velocity = self._normalise_velocity(trials.behavior)
        angle = np.array(trials.angles) if self.condition_ == "angle" else None
        extra = {} if x_u is None else {"unlabelled": self._normalise_latents(x_u)}
        self._fit_prior(x, angle, velocity, rng, **extra)

    def _normalise_latents(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.x_mean_) / self.x_std_, -_CLAMP, _CLAMP).astype(np.float32)

    def _normalise_velocity(self, velocity: np.ndarray) -> np.ndarray:
        return ((velocity - self.v_mean_) / self.v_std_).astype(np.float32)

    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator, **kw):
        with threads(self.n_threads):
            return self._decode_prior_sample(n_trials, angle, velocity, guidance_scale,
                                             generator, **kw)

    def _decode_prior_sample(self, n_trials, angle, velocity, guidance_scale, generator, **kw):
        v = None if velocity is None else self._normalise_velocity(velocity)
        x = self._sample_prior(n_trials, angle, v, guidance_scale, generator, **kw)
        x = x * torch.as_tensor(self.x_std_, device=x.device) + torch.as_tensor(
            self.x_mean_, device=x.device)
        d = self.autoencoder_.latent_dim
        rates = self.autoencoder_.decode_tensor(x[..., :d]).cpu().numpy()
        behavior = x[..., d:].cpu().numpy().astype(np.float64) if self.generates_behavior_ else None
        return rates, behavior

    # ------------------------------------------------------------ persistence
    def _get_fitted(self) -> tuple[dict, dict]:
        ae_config, ae_state = self.autoencoder_.get_state()
        prior_config, prior_state = self._prior_state()
        ae_params = self.autoencoder_.get_params(deep=False)
        config = {"autoencoder_params": {k: v for k, v in ae_params.items()},
                  "autoencoder": ae_config, "generates_behavior_": self.generates_behavior_,
                  "prior": prior_config}
        state = {"autoencoder": ae_state, "x_mean_": self.x_mean_, "x_std_": self.x_std_,
                 "prior": prior_state}
        if self.condition_ == "velocity":
            state.update(v_mean_=self.v_mean_, v_std_=self.v_std_)
        return config, state

    def _set_fitted(self, config: dict, state: dict) -> None:
        ae = LatentAutoencoder(**config["autoencoder_params"])
        ae.set_state(config["autoencoder"], state["autoencoder"], self.device_)
        self.autoencoder_ = ae
        self.generates_behavior_ = config["generates_behavior_"]
        self.x_mean_, self.x_std_ = state["x_mean_"].numpy(), state["x_std_"].numpy()
        if "v_mean_" in state:
            self.v_mean_, self.v_std_ = state["v_mean_"].numpy(), state["v_std_"].numpy()
        self._load_prior(config["prior"], state["prior"])

    @torch.no_grad()
    def _sample_prior(self, n_trials, angle, velocity, guidance_scale, generator,
                      batch_size: int = 4096, **kw) -> torch.Tensor:
        """Normalised latents (n, bins, channels), generated ``batch_size`` trials at a time."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        plan = self._sampling_plan(**kw)
        dev = self.device_
        ang = None if angle is None else torch.as_tensor(angle, dtype=torch.float32, device=dev)
        vel = None if velocity is None else torch.as_tensor(velocity, device=dev)
        self.module_.eval()
        chunks = []
        with autocast_context(dev, self.precision):
            for start in range(0, n_trials, batch_size):
                sl = slice(start, min(n_trials, start + batch_size))
                chunks.append(self._sample_chunk(
                    sl.stop - sl.start, None if ang is None else ang[sl],
                    None if vel is None else vel[sl], guidance_scale, generator, plan).float())
        return torch.cat(chunks)

    def _fit_prior(self, x, angle, velocity, rng) -> None:
        raise NotImplementedError

    def _sampling_plan(self, **kw):
        raise NotImplementedError

    def _sample_chunk(self, n, angle, velocity, guidance_scale, generator, plan) -> torch.Tensor:
        raise NotImplementedError

    def _prior_state(self) -> tuple[dict, dict]:
        raise NotImplementedError

    def _load_prior(self, config: dict, state: dict) -> None:
        raise NotImplementedError
