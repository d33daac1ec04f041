"""A causal GRU decoder, sequence to sequence over each trial, in torch."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from eag_augment._progress import progress
from eag_augment._torch import resolve_device
from eag_augment._validation import (DEVICE, non_negative_int, non_negative_real, positive_int,
                                     positive_real, unit_interval)
from eag_augment.decoders._base import TrialDecoder, check_non_negative, lag_trials

__all__ = ["GRUDecoder"]


class _GRUNet(nn.Module):
    def __init__(self, n_inputs: int, hidden_size: int, n_layers: int, dropout: float,
                 n_outputs: int) -> None:
        super().__init__()
        # torch applies GRU dropout between layers only; the extra dropout before the
        # readout makes ``dropout`` act with a single layer too.
        self.gru = nn.GRU(n_inputs, hidden_size, num_layers=n_layers, batch_first=True,
                          dropout=dropout if n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.readout = nn.Linear(hidden_size, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.gru(x)
        return self.readout(self.dropout(hidden))


class GRUDecoder(TrialDecoder):
    """Gated recurrent network decoding velocity bin by bin, causally, over each trial.

    The network reads a trial's bins in order (a unidirectional GRU, so the prediction at
    bin ``t`` uses spikes up to ``t`` only) and a linear readout maps its hidden state to
    velocity. Inputs are ``log1p`` spike counts, z-scored per neuron; targets are z-scored
    per dim and the predictions mapped back to velocity units. Training minimises the mean
    squared error with Adam over shuffled mini-batches of trials.

    Early stopping: ``validation_fraction`` of the *real* trials is held out (trials marked
    synthetic by :func:`eag_augment.provenance.mark_synthetic` always stay in training), and
    training stops once the validation loss has not improved for ``patience`` epochs; the
    weights of the best epoch are restored.

    Parameters
    ----------
    hidden_size : int, default=64
        GRU units per layer.
    lags : int, default=1
        Bins of spike history stacked into the input of each step (zero-padded before the
        trial start). The recurrence carries longer history, so 1 usually suffices.
    n_layers : int, default=1
    dropout : float, default=0.0
        Dropout on the GRU outputs (and between layers).
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW); 0 is plain Adam.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=200
    batch_size : int, default=32
        Trials per gradient step.
    patience : int, default=10
        Epochs without improvement of the validation loss before stopping.
    validation_fraction : float, default=0.1
        Fraction of real trials held out for early stopping (at least one trial); 0 trains
        for ``max_epochs`` and keeps the last weights.
    device : str, default="auto"
        "auto" (CUDA when available, else CPU), "cpu" or "cuda[:i]"; used by fit and predict.
    random_state : int, RandomState or None, default=None
        Seeds the validation split, the batch order, weight initialisation and dropout;
        fits on CPU are then reproducible.
    verbose : int, default=0
        > 0 shows a progress bar over epochs.

    Attributes
    ----------
    state_dict_ : dict of str -> numpy array
        Weights of the restored epoch (numpy, so the fitted decoder pickles anywhere).
    input_mean_, input_scale_ : arrays (n_neurons,)
        Statistics of log1p spike counts of the training split.
    target_mean_, target_scale_ : arrays (dims,)
    validation_trials_ : array of int
        Indices of the trials of X held out for early stopping (empty without).
    train_loss_curve_, validation_loss_curve_ : lists of float
        Mean squared error (in z-scored velocity) per epoch.
    best_epoch_ : int
        Index in the loss curves of the restored weights.
    n_epochs_ : int
        Epochs run.
    n_neurons_in_ : int
    n_outputs_ : int
    """

    _parameter_constraints: dict = {
        **TrialDecoder._parameter_constraints,
        "hidden_size": [positive_int], "n_layers": [positive_int], "dropout": [unit_interval],
        "weight_decay": [non_negative_real], "lr": [positive_real], "max_epochs": [positive_int],
        "batch_size": [positive_int], "patience": [positive_int],
        "validation_fraction": [unit_interval], "device": DEVICE,
        "random_state": ["random_state"], "verbose": [non_negative_int]}

    def __init__(self, hidden_size: int = 64, lags: int = 1, n_layers: int = 1,
                 dropout: float = 0.0, weight_decay: float = 0.0, lr: float = 1e-3,
                 max_epochs: int = 200,
                 batch_size: int = 32, patience: int = 10, validation_fraction: float = 0.1,
                 device: str = "auto", random_state=None, verbose: int = 0) -> None:
        self.hidden_size = hidden_size
        self.lags = lags
        self.n_layers = n_layers
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _validate_params(self) -> None:
        super()._validate_params()
        resolve_device(self.device)

    def _needs_synthetic_mask(self) -> bool:
        return self.validation_fraction > 0

    # ------------------------------------------------------------------ data
    def _validation_split(self, n_trials: int, is_synthetic: np.ndarray | None,
                          rng: np.random.RandomState) -> np.ndarray:
        if self.validation_fraction == 0:
            return np.array([], dtype=np.intp)
        real = np.arange(n_trials) if is_synthetic is None else np.flatnonzero(~is_synthetic)
        if real.size < 2:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} needs at least 2 real trials "
                f"for early stopping, got {real.size} of {n_trials}; "
                "set validation_fraction=0 to train without it"
            )
        n_val = min(math.ceil(self.validation_fraction * real.size), real.size - 1)
        return np.sort(rng.choice(real, size=n_val, replace=False))

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        inputs = lag_trials(np.log1p(X, dtype=np.float32), self.lags)
        inputs -= np.tile(self.input_mean_, self.lags)
        inputs /= np.tile(self.input_scale_, self.lags)
        return inputs

    @staticmethod
    def _scale_of(values: np.ndarray) -> np.ndarray:
        scale = values.std(axis=0)
        return np.where(scale > 0, scale, 1.0).astype(np.float32)

    # --------------------------------------------------------------- network
    def _new_net(self) -> _GRUNet:
        return _GRUNet(self.lags * self.n_neurons_in_, self.hidden_size, self.n_layers,
                       self.dropout, self.n_outputs_)

    def _fitted_net(self, device: torch.device) -> _GRUNet:
        # Built on the meta device: a random initialisation would be overwritten anyway, and
        # would draw from (and so change) the caller's global torch RNG.
        with torch.device("meta"):
            net = self._new_net()
        state = {k: torch.tensor(v) for k, v in self.state_dict_.items()}
        net.load_state_dict(state, assign=True)
        return net.to(device).eval()

    def _forward(self, net: _GRUNet, inputs: torch.Tensor) -> torch.Tensor:
        """Network output for all trials of ``inputs``, ``batch_size`` trials at a time."""
        with torch.no_grad():
            return torch.cat([net(inputs[i : i + self.batch_size])
                              for i in range(0, inputs.shape[0], self.batch_size)])

    # ------------------------------------------------------------------- fit
    def _fit(self, X, y, is_synthetic) -> None:
        check_non_negative(X, "the GRU's log1p input")
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        val = self._validation_split(X.shape[0], is_synthetic, rng)
        train = np.setdiff1d(np.arange(X.shape[0]), val)

        log_counts = np.log1p(np.asarray(X[train], dtype=np.float32))
        self.input_mean_ = log_counts.mean(axis=(0, 1))
        self.input_scale_ = self._scale_of(log_counts.reshape(-1, X.shape[2]))
        flat_y = y[train].reshape(-1, y.shape[2])
        self.target_mean_ = flat_y.mean(axis=0).astype(np.float32)
        self.target_scale_ = self._scale_of(flat_y)

        inputs = torch.from_numpy(self._inputs(X)).to(device)
        targets = torch.from_numpy(
            ((y - self.target_mean_) / self.target_scale_).astype(np.float32)).to(device)
        val_idx = torch.from_numpy(val).to(device)

        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        # A private RNG stream: seeding must not disturb the caller's global torch state.
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(seed)
            self._train(inputs, targets, train, val_idx, rng)

    def _train(self, inputs: torch.Tensor, targets: torch.Tensor, train: np.ndarray,
               val_idx: torch.Tensor, rng: np.random.RandomState) -> None:
        net = self._new_net().to(inputs.device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr,
                                      weight_decay=self.weight_decay)
        train_curve: list[float] = []
        val_curve: list[float] = []
        best_loss, best_epoch, best_state = math.inf, 0, None

        epochs = progress(range(self.max_epochs), desc=type(self).__name__, unit="epoch",
                          disable=self.verbose <= 0)
        for epoch in epochs:
            net.train()
            order = rng.permutation(train)
            total = 0.0
            for start in range(0, order.size, self.batch_size):
                batch = torch.from_numpy(order[start : start + self.batch_size]).to(inputs.device)
                loss = torch.mean((net(inputs[batch]) - targets[batch]) ** 2)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * batch.numel()
            train_curve.append(total / order.size)

            if val_idx.numel() == 0:
                epochs.set_postfix(train=f"{train_curve[-1]:.4f}")
                continue
            net.eval()
            residual = self._forward(net, inputs[val_idx]) - targets[val_idx]
            val_curve.append(float(torch.mean(residual**2)))
            epochs.set_postfix(train=f"{train_curve[-1]:.4f}", val=f"{val_curve[-1]:.4f}")
            if val_curve[-1] < best_loss:
                best_loss, best_epoch = val_curve[-1], epoch
                best_state = copy.deepcopy(net.state_dict())
            elif epoch - best_epoch >= self.patience:
                break
        epochs.close()

        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            best_epoch = len(train_curve) - 1
        self.state_dict_ = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
        self.validation_trials_ = val_idx.cpu().numpy()
        self.train_loss_curve_ = train_curve
        self.validation_loss_curve_ = val_curve
        self.best_epoch_ = best_epoch
        self.n_epochs_ = len(train_curve)

    # --------------------------------------------------------------- predict
    def _predict(self, X) -> np.ndarray:
        check_non_negative(X, "the GRU's log1p input")
        device = resolve_device(self.device)
        net = self._fitted_net(device)
        out = self._forward(net, torch.from_numpy(self._inputs(X)).to(device)).cpu().numpy()
        return out.astype(np.float64) * self.target_scale_ + self.target_mean_
