"""The training loop the generators share: AdamW, warm-up + cosine, EMA, early stopping.

Built for small models whose steps cost little: the training data stay on the device for the
whole fit and batches are index tensors drawn there; the loss is accumulated on the device and
read once per epoch (no host synchronisation per step); the optimiser, gradient clipping and
the EMA update are foreach (fused on CUDA) operations over all parameters at once. A loss or
validation loss that turns NaN or infinite stops the fit with :class:`TrainingDivergedError`.

torch.compile is not offered: on a 2-core AVX512 CPU it took 25-50 s to compile a step of the
default autoencoder or EAG prior and made no step faster (docs/training.md).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from eag_augment._progress import progress
from eag_augment._torch import torch_generator, training_autocast

__all__ = ["TrainingDivergedError", "TrainingHistory", "fit_module", "resolve_epochs"]


class TrainingDivergedError(FloatingPointError):
    """A training or validation loss became NaN or infinite; the fit was abandoned."""


def resolve_epochs(epochs: int | None, steps: int, n_train: int, batch_size: int) -> int:
    """``epochs`` when given, else as many epochs as make about ``steps`` optimiser steps.

    Counting steps keeps the training time of a default model about the same whether it
    is fitted on 50 trials or on 5000.
    """
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if epochs is not None:
        if not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
        return int(epochs)
    return max(1, math.ceil(steps / steps_per_epoch(n_train, batch_size)))


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Full batches per epoch (the remainder of a shuffle is dropped; one batch at least)."""
    return max(1, n_train // batch_size)


@dataclass
class TrainingHistory:
    """Per-epoch training (and validation) losses, the best epoch, the epochs run and time."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"train": self.train, "val": self.val, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early, "seconds": self.seconds}


def _diverged(stage: str, what: str, value: float, epoch: int, epochs: int, step: int | None,
              lr: float, grad_clip: float | None) -> TrainingDivergedError:
    where = f"epoch {epoch + 1} of {epochs}" + ("" if step is None else f", step {step + 1}")
    clip = f"a smaller grad_clip (now {grad_clip})" if grad_clip else "gradient clipping (grad_clip)"
    return TrainingDivergedError(
        f"{stage}: the {what} became {value} at {where}, so training stopped and no model was "
        f"kept. Try a lower lr (now {lr:g}), {clip}, or fewer/smaller layers, and check the "
        "trials for extreme values.")


def fit_module(
    model: nn.Module,
    step_loss: Callable[[torch.Tensor], torch.Tensor],
    n_train: int,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    weight_decay: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    grad_clip: float | None = None,
    warmup_fraction: float = 0.05,
    param_groups: list[dict] | None = None,
    val_loss: Callable[[nn.Module], float] | None = None,
    patience: int | None = None,
    ema_decay: float | None = None,
    bf16: bool = False,
    verbose: int = 0,
    stage: str = "training",
) -> tuple[nn.Module, TrainingHistory]:
    """Train ``model`` with AdamW, linear warm-up then cosine decay, optional EMA/early stop.

    Parameters
    ----------
    model : nn.Module
        On its training device; ``step_loss`` closes over it.
    step_loss : callable
        ``step_loss(indices)`` -> scalar loss of one batch, ``indices`` a LongTensor (batch,)
        of training items on the model's device. Epochs shuffle 0..n_train-1 and drop the
        remainder, so every batch has ``min(batch_size, n_train)`` items.
    n_train : int
        Number of training items.
    epochs, batch_size, lr, weight_decay, betas, grad_clip, warmup_fraction
        Optimisation; ``grad_clip`` bounds the global gradient norm.
    rng : numpy Generator
        Seeds the batch order (drawn on the device with a torch generator).
    param_groups : list of dict, optional
        AdamW parameter groups (e.g. a lower lr for a part of the model).
    val_loss : callable, optional
        ``val_loss(module)`` -> float on held-out data, evaluated after every epoch on the
        EMA module when there is one; the weights of the epoch with the lowest value are
        kept, and ``patience`` epochs without improvement stop training.
    ema_decay : float, optional
        Keep an exponential moving average of the weights; it is what is validated and
        returned.
    bf16 : bool
        Autocast the forward pass (``step_loss``) to bfloat16; the optimiser state, weights and
        gradients stay float32.
    verbose : int
        > 0: a progress bar over epochs.
    stage : str
        Name of what is trained, for progress and errors ("autoencoder", "EAG transformer").

    Returns
    -------
    (model with the kept weights, in eval mode; TrainingHistory)

    Raises
    ------
    TrainingDivergedError
        When a training loss (checked per epoch, naming the first bad step) or a validation
        loss is NaN or infinite, or the final weights are not finite.
    """
    start_time = time.perf_counter()
    device = next(model.parameters()).device
    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    params = [p for g in groups for p in g["params"]]
    fast = {"fused": True} if device.type == "cuda" else {"foreach": True}
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay, **fast)
    per_epoch = steps_per_epoch(n_train, batch_size)
    batch = min(batch_size, n_train)
    total = max(1, epochs * per_epoch)
    warmup = max(1, int(warmup_fraction * total))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    ema = copy.deepcopy(model).eval() if ema_decay else None
    if ema is not None:
        ema.requires_grad_(False)
        ema_params = list(ema.parameters())
        live_params = list(model.parameters())
    autocast = training_autocast(device) if bf16 else contextlib.nullcontext()
    gen = torch_generator(int(rng.integers(2**63)), device)
    losses = torch.zeros(per_epoch, device=device)
    history = TrainingHistory()
    best_state, best_val, bad_epochs = None, math.inf, 0
    bar = progress(range(epochs), desc=stage, disable=not verbose, unit="epoch")
    for epoch in bar:
        model.train()
        order = torch.randperm(n_train, generator=gen, device=device)
        for i in range(per_epoch):
            with autocast:
                loss = step_loss(order[i * batch:(i + 1) * batch])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
            opt.step()
            sched.step()
            if ema is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(ema_params, live_params, 1.0 - ema_decay)
            losses[i] = loss.detach()
        epoch_losses = losses.tolist()  # the one host synchronisation of an epoch
        mean_loss = sum(epoch_losses) / per_epoch
        if not math.isfinite(mean_loss):
            step = next(i for i, v in enumerate(epoch_losses) if not math.isfinite(v))
            raise _diverged(stage, "training loss", epoch_losses[step], epoch, epochs, step,
                            lr, grad_clip)
        history.train.append(mean_loss)
        postfix = {"loss": f"{mean_loss:.4f}"}
        if val_loss is not None:
            kept = ema if ema is not None else model
            kept.eval()
            with torch.no_grad():
                v = float(val_loss(kept))
            if not math.isfinite(v):
                raise _diverged(stage, "validation loss", v, epoch, epochs, None, lr, grad_clip)
            history.val.append(v)
            postfix["val"] = f"{v:.4f}"
            if v < best_val - 1e-6:
                best_val, bad_epochs, history.best_epoch = v, 0, epoch
                best_state = copy.deepcopy(kept.state_dict())
            else:
                bad_epochs += 1
                if patience is not None and bad_epochs >= patience:
                    history.stopped_early = True
                    break
        bar.set_postfix(postfix)
    bar.close()
    kept = ema if ema is not None else model
    if best_state is not None:
        kept.load_state_dict(best_state)
    elif val_loss is None:
        history.best_epoch = len(history.train) - 1
    if ema is not None:
        model.load_state_dict(ema.state_dict())
    norms = torch.stack(torch._foreach_norm([p.detach() for p in model.parameters()]))
    if not bool(torch.isfinite(norms).all()):
        raise _diverged(stage, "weights", math.nan, len(history.train) - 1, epochs, None, lr,
                        grad_clip)
    model.eval()
    history.seconds = time.perf_counter() - start_time
    return model, history
