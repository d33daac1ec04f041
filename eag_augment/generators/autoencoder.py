"""LatentAutoencoder: fit/encode/decode around the Poisson autoencoder (stage 1 of EAG and LDNS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError

from eag_augment._arrays import validate_spikes
from eag_augment._portable import PortableTorchState
from eag_augment._torch import (PRECISIONS, resolve_device, seed_from, threads, torch_generator,
                                uses_bf16)
from eag_augment._validation import (DEVICE, StrOptions, non_negative_real, positive_int,
                                     positive_real, unit_interval)
from eag_augment.checkpoint import load_checkpoint, save_checkpoint
from eag_augment.generators._training import TrainingHistory, fit_module, resolve_epochs
from eag_augment.generators.base import encode_param, register
from eag_augment.nn.autoencoder import (PoissonAutoencoder, behavior_loss,
                                        coordinated_dropout_loss, latent_regularizer)
from eag_augment.trials import TrialSet

__all__ = ["LatentAutoencoder", "fit_autoencoder", "unlabelled_behavior"]

_ARCH = ("latent_dim", "channels", "n_blocks", "state_dim", "bidirectional", "dropout")


def _spikes_of(X) -> np.ndarray:
    return X.spikes if isinstance(X, TrialSet) else validate_spikes(X, "X")


@register
class LatentAutoencoder(PortableTorchState, BaseEstimator):
    """Compress spike counts (trials, bins, neurons) into smooth latents (trials, bins, d).

    Trained with coordinated dropout and Poisson NLL, an L2 and a temporal-smoothness penalty
    on the latents, AdamW with warm-up + cosine decay and gradient clipping; early stopping on
    the coordinated-dropout loss of an internal validation split (it overfits otherwise).

    Parameters
    ----------
    latent_dim : int
        Latent channels per bin.
    channels, n_blocks, state_dim, bidirectional, dropout
        Encoder size (see :class:`eag_augment.nn.autoencoder.PoissonAutoencoder`).
    cd_rate : float
        Coordinated-dropout probability p (0.2 Lorenz, 0.5 MC_Maze in LDNS).
    l2, smoothness : float
        Latent penalties b_L2 and b_td, per spike entry.
    behavior_weight : float
        Weight of an auxiliary loss that keeps behaviour linearly decodable from the latents:
        the mean squared error of a linear read-out of the standardised behaviour from each
        bin's latents, added to the Poisson loss (early stopping watches the sum).
        0 (default): unsupervised, as in LDNS and EAG. Above 0, ``fit`` needs the
        behaviour (``y``, or a TrialSet's ``behavior``).
    lr, weight_decay, batch_size, grad_clip
        Optimisation.
    epochs, steps : int
        Maximum training length: ``epochs`` passes over the data, or (``epochs=None``)
        about ``steps`` optimiser steps whatever the number of trials.
    patience : int or None
        Epochs without validation improvement before stopping (None: a quarter of the
        maximum epochs, at least 10).
    validation_fraction : float
        Share of the training trials held out for early stopping.
    precision : {"auto", "fp32", "bf16"}
        Arithmetic of training: "auto" is bfloat16 autocast where it is native (CPUs with
        AVX512-BF16 or AMX, CUDA GPUs), float32 elsewhere; the S4 layers always compute in
        float32, and encoding and decoding after the fit run in float32.
    n_threads : int or None
        Torch threads during fit (None: torch's current setting).
    device : str
        "auto" (CUDA if available), "cpu" or "cuda".
    verbose : int
        0 silent, 1 progress bar.
    random_state : int or None
    encode_heldout : bool
        True: the encoder reads every neuron. False (co-smoothing, NLB): it reads only the
        neurons not marked held out in ``TrialSet.heldout`` and the decoder predicts all of
        them; the loss counts every held-out entry. ``fit`` then needs a TrialSet.
    """

    _parameter_constraints: dict = {
        "latent_dim": [positive_int], "channels": [positive_int], "n_blocks": [positive_int],
        "state_dim": [positive_int], "bidirectional": ["boolean"], "dropout": [unit_interval],
        "cd_rate": [unit_interval], "l2": [non_negative_real], "smoothness": [non_negative_real],
        "behavior_weight": [non_negative_real],
        "lr": [positive_real], "weight_decay": [non_negative_real],
        "epochs": [positive_int, None], "steps": [positive_int], "batch_size": [positive_int],
        "patience": [positive_int, None], "grad_clip": [positive_real, None],
        "validation_fraction": [unit_interval], "precision": [StrOptions(set(PRECISIONS))],
        "n_threads": [positive_int, None], "device": DEVICE, "verbose": ["verbose"],
        "random_state": ["random_state"], "encode_heldout": ["boolean"]}

    def __init__(
        self,
        latent_dim: int = 16,
        channels: int = 64,
        n_blocks: int = 3,
        state_dim: int = 32,
        bidirectional: bool = True,
        dropout: float = 0.0,
        cd_rate: float = 0.3,
        l2: float = 1e-3,
        smoothness: float = 0.1,
        behavior_weight: float = 0.0,
        lr: float = 3e-3,
        weight_decay: float = 0.01,
        epochs: int | None = None,
        steps: int = 1000,
        batch_size: int = 32,
        patience: int | None = None,
        grad_clip: float = 2.0,
        validation_fraction: float = 0.1,
        precision: str = "auto",
        n_threads: int | None = None,
        device: str = "auto",
        verbose: int = 0,
        random_state: int | None = None,
        encode_heldout: bool = True,
    ) -> None:
        self.latent_dim = latent_dim
        self.channels = channels
        self.n_blocks = n_blocks
        self.state_dim = state_dim
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.cd_rate = cd_rate
        self.l2 = l2
        self.smoothness = smoothness
        self.behavior_weight = behavior_weight
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.steps = steps
        self.batch_size = batch_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.validation_fraction = validation_fraction
        self.precision = precision
        self.n_threads = n_threads
        self.device = device
        self.verbose = verbose
        self.random_state = random_state
        self.encode_heldout = encode_heldout

    def _build(self, n_neurons: int, heldout: np.ndarray | None = None,
               n_behavior: int = 0) -> PoissonAutoencoder:
        n_inputs = None if heldout is None else int((~heldout).sum())
        return PoissonAutoencoder(n_neurons, **{k: getattr(self, k) for k in _ARCH},
                                  n_inputs=n_inputs, n_behavior=n_behavior)

    def _behavior_of(self, X, y, spikes: np.ndarray) -> np.ndarray | None:
        """The standardised behaviour (trials, bins, dims) of the auxiliary loss, NaN for
        trials without labels; None when ``behavior_weight`` is 0."""
        if self.behavior_weight == 0:
            return None
        if y is None and isinstance(X, TrialSet):
            y = X.behavior
        if y is None:
            raise ValueError("behavior_weight > 0 needs the behaviour: fit(X, y) with y of "
                             "shape (trials, bins, dims), or a TrialSet with behavior")
        y = np.asarray(y, dtype=np.float64)
        if y.ndim != 3 or y.shape[:2] != spikes.shape[:2]:
            raise ValueError(f"y must have shape {spikes.shape[:2] + ('dims',)} to match X, "
                             f"got {y.shape}")
        unlabelled = np.isnan(y).all(axis=(1, 2))
        if not np.isfinite(y[~unlabelled]).all():
            raise ValueError("y must be finite, except whole trials of NaN (no labels)")
        if unlabelled.all():
            raise ValueError("behavior_weight > 0 needs at least one labelled trial in y")
        labelled = y[~unlabelled]
        scale = labelled.std(axis=(0, 1))
        return (y - labelled.mean(axis=(0, 1))) / np.where(scale > 0, scale, 1.0)

    def _heldout_of(self, X) -> np.ndarray | None:
        """The neurons the encoder must not read (encode_heldout=False), else None."""
        if self.encode_heldout:
            return None
        if not isinstance(X, TrialSet):
            raise TypeError("encode_heldout=False needs a TrialSet whose heldout marks the "
                            f"held-out neurons, got {type(X).__name__}")
        if not X.heldout.any() or X.heldout.all():
            raise ValueError("encode_heldout=False needs some but not all neurons marked held "
                             f"out in TrialSet.heldout; got {int(X.heldout.sum())} of "
                             f"{X.n_neurons}")
        return X.heldout.copy()

    def _validate_params(self) -> None:
        super()._validate_params()
        resolve_device(self.device)
        if self.state_dim % 2:
            raise ValueError(f"state_dim must be even (complex-conjugate pairs), got "
                             f"{self.state_dim}")
        if self.validation_fraction == 0:
            raise ValueError("validation_fraction must be in (0, 1): the autoencoder stops "
                             "early on its validation loss")

    def fit(self, X, y=None) -> LatentAutoencoder:
        """Fit on spike counts: a TrialSet or an array (trials, bins, neurons).

        ``y`` (trials, bins, dims), the behaviour, is read only when ``behavior_weight`` > 0
        (default: a TrialSet's ``behavior``); trials whose ``y`` is all NaN count as
        unlabelled and train the Poisson loss alone.
        """
        self._validate_params()
        spikes = _spikes_of(X)
        heldout = self._heldout_of(X)
        behavior = self._behavior_of(X, y, spikes)
        with threads(self.n_threads):
            return self._fit(spikes, heldout, behavior)

    def _fit(self, spikes: np.ndarray, heldout: np.ndarray | None,
             behavior: np.ndarray | None) -> LatentAutoencoder:
        n = spikes.shape[0]
        n_val = max(1, int(round(self.validation_fraction * n)))
        if n - n_val < 1:
            raise ValueError(f"need at least 2 trials to fit the autoencoder, got {n}")
        seed = seed_from(self.random_state)
        rng = np.random.default_rng(seed)
        self.device_ = resolve_device(self.device)
        order = rng.permutation(n)
        x = torch.as_tensor(spikes, dtype=torch.float32, device=self.device_)
        x_train, x_val = x[order[n_val:]], x[order[:n_val]]
        n_behavior = 0 if behavior is None else behavior.shape[2]
        if behavior is not None:
            b_train, b_val = (torch.as_tensor(behavior[part], dtype=torch.float32,
                                              device=self.device_)
                              for part in (order[n_val:], order[:n_val]))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = self._build(spikes.shape[2], heldout, n_behavior).to(self.device_)
            model.init_from_mean_counts(x_train.mean(dim=(0, 1)),
                                        None if heldout is None else torch.as_tensor(~heldout))
        epochs = resolve_epochs(self.epochs, self.steps, len(x_train), self.batch_size)
        patience = max(10, epochs // 4) if self.patience is None else self.patience
        heldout_t = None if heldout is None else torch.as_tensor(heldout, device=self.device_)

        def step_loss(idx):
            batch = x_train[idx]
            loss, z = coordinated_dropout_loss(model, batch, self.cd_rate, heldout=heldout_t,
                                               full=False)
            if behavior is not None:
                loss = loss + self.behavior_weight * behavior_loss(model, z, b_train[idx])
            return loss + latent_regularizer(z, batch.numel(), self.l2, self.smoothness)

        val_gen_seed = seed + 1

        def val_loss(module):
            # A fixed dropout mask, so that epochs are compared on the same held-out entries.
            gen = torch_generator(val_gen_seed, self.device_)
            loss, z = coordinated_dropout_loss(module, x_val, max(self.cd_rate, 0.2), gen,
                                               heldout_t)
            if behavior is not None:
                loss = loss + self.behavior_weight * behavior_loss(module, z, b_val)
            return loss.item()

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.module_, self.history_ = fit_module(
                model, step_loss, len(x_train), epochs=epochs, batch_size=self.batch_size,
                lr=self.lr, weight_decay=self.weight_decay, grad_clip=self.grad_clip, rng=rng,
                val_loss=val_loss, patience=patience,
                bf16=uses_bf16(self.device_, self.precision),
                verbose=self.verbose, stage="autoencoder",
            )
        self.n_neurons_ = spikes.shape[2]
        self.n_behavior_ = n_behavior
        self.heldout_ = heldout
        return self

    def _check(self, n_neurons: int | None = None) -> None:
        if not hasattr(self, "module_"):
            raise NotFittedError("this LatentAutoencoder is not fitted yet: call fit first")
        if n_neurons is not None and n_neurons != self.n_neurons_:
            raise ValueError(f"X has {n_neurons} neurons, the autoencoder was fitted on "
                             f"{self.n_neurons_}")

    @torch.no_grad()
    def encode(self, X, batch_size: int = 256) -> np.ndarray:
        """Latents (trials, bins, latent_dim) of spike counts (TrialSet or array).

        With ``encode_heldout=False`` only the held-in neurons' counts are read.
        """
        spikes = _spikes_of(X)
        self._check(spikes.shape[2])
        if getattr(self, "heldout_", None) is not None:
            spikes = spikes[:, :, ~self.heldout_]
        self.module_.eval()
        out = [self.module_.encode(torch.as_tensor(spikes[i:i + batch_size], dtype=torch.float32,
                                                   device=self.device_)).cpu()
               for i in range(0, len(spikes), batch_size)]
        return torch.cat(out).numpy()

    @torch.no_grad()
    def decode_tensor(self, z: torch.Tensor) -> torch.Tensor:
        """Rates (..., neurons) from latents (..., latent_dim) on the model's device."""
        self._check()
        self.module_.eval()
        return self.module_.decode(z.to(self.device_))

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Rates (trials, bins, neurons), expected counts per bin, from latents."""
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 3 or z.shape[2] != self.latent_dim:
            raise ValueError(f"z must have shape (trials, bins, {self.latent_dim}), got {z.shape}")
        return self.decode_tensor(torch.from_numpy(z)).cpu().numpy()

    def predict_rates(self, X) -> np.ndarray:
        """Smoothed rates (trials, bins, neurons) inferred from spike counts."""
        return self.decode(self.encode(X))

    # Used by the generators that embed an autoencoder in their checkpoint.
    def get_state(self) -> tuple[dict, dict]:
        self._check()
        config = {"n_neurons_": self.n_neurons_, "n_behavior_": getattr(self, "n_behavior_", 0),
                  "history_": self.history_.as_dict()}
        if getattr(self, "heldout_", None) is not None:
            config["heldout_"] = self.heldout_.tolist()
        return config, self.module_.state_dict()

    def set_state(self, config: dict, state: dict, device: torch.device) -> None:
        self.n_neurons_ = config["n_neurons_"]
        self.n_behavior_ = config.get("n_behavior_", 0)
        self.history_ = TrainingHistory(**config["history_"])
        self.device_ = device
        heldout = config.get("heldout_")
        self.heldout_ = None if heldout is None else np.array(heldout, dtype=bool)
        module = self._build(self.n_neurons_, self.heldout_, self.n_behavior_)
        module.load_state_dict(state)
        self.module_ = module.to(device).eval()

    def save(self, path) -> Path:
        """Write the fitted autoencoder (atomic; JSON config + state dict)."""
        config, state = self.get_state()
        params = {k: encode_param(v) for k, v in self.get_params(deep=False).items()}
        return save_checkpoint(path, kind=type(self).__name__,
                               config={"params": params, "fitted": config}, state=state)

    @classmethod
    def load(cls, path, device: str = "auto") -> LatentAutoencoder:
        """Read an autoencoder written by :meth:`save`."""
        _, config, state = load_checkpoint(path, cls.__name__)
        ae = cls(**config["params"])
        try:
            ae.set_state(config["fitted"], state, resolve_device(device))
        except (KeyError, RuntimeError) as err:
            raise ValueError(f"{path} does not match LatentAutoencoder's expected contents: "
                             f"{err}") from err
        return ae


def unlabelled_behavior(behavior: np.ndarray | None, n_unlabelled: int) -> np.ndarray | None:
    """``behavior`` (trials, bins, dims) followed by ``n_unlabelled`` trials of NaN, the
    autoencoder's mark of trials without labels; None stays None."""
    if behavior is None:
        return None
    return np.concatenate([behavior, np.full((n_unlabelled,) + behavior.shape[1:], np.nan)])


def fit_autoencoder(prototype: LatentAutoencoder | None, trials: TrialSet,
                    rng: np.random.Generator, device: str, verbose: int,
                    behavior: np.ndarray | None = None) -> LatentAutoencoder:
    """A clone of ``prototype`` (``LatentAutoencoder()`` when None) fitted on ``trials`` on
    ``device``: stage 1 of the generators built on an autoencoder. Its training is seeded
    from ``rng`` unless the prototype sets its own ``random_state``; ``behavior`` (default
    ``trials.behavior``) is its ``y``."""
    ae = clone(prototype) if prototype is not None else LatentAutoencoder()
    if ae.random_state is None:
        ae.set_params(random_state=int(rng.integers(2**31)))
    ae.set_params(device=device, verbose=verbose)
    return ae.fit(trials, behavior)
