"""The training loop the generators share: AdamW, warm-up + cosine, EMA, early stopping."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from eag_augment._progress import progress

__all__ = ["fit_module", "TrainingHistory", "batches", "resolve_epochs"]


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
    return max(1, math.ceil(steps / math.ceil(n_train / batch_size)))


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterable[np.ndarray]:
    """Shuffled index batches covering 0..n-1 once."""
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


@dataclass
class TrainingHistory:
    """Per-epoch training (and validation) losses, the best epoch and the epochs run."""

    train: list[float] = field(default_factory=list)
    val: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False

    def as_dict(self) -> dict:
        return {"train": self.train, "val": self.val, "best_epoch": self.best_epoch,
                "stopped_early": self.stopped_early}


def fit_module(
    model: nn.Module,
    step_loss: Callable[[np.ndarray], torch.Tensor],
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
    verbose: int = 0,
    desc: str = "training",
) -> tuple[nn.Module, TrainingHistory]:
    """Train ``model`` with AdamW, linear warm-up then cosine decay, optional EMA/early stop.

    ``step_loss(indices)`` returns the loss of one batch of training items. ``val_loss(module)``
    evaluates a module of the model's architecture; with it, the weights of the epoch with the
    lowest validation loss are kept (``patience`` epochs without improvement stop training).
    With ``ema_decay`` the exponential moving average of the weights is what is validated and
    returned. Returns (model with the kept weights, history).
    """
    groups = param_groups if param_groups is not None else [{"params": list(model.parameters())}]
    opt = torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay)
    steps_per_epoch = math.ceil(n_train / batch_size)
    total = max(1, epochs * steps_per_epoch)
    warmup = max(1, int(warmup_fraction * total))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    ema = copy.deepcopy(model).eval() if ema_decay else None
    if ema is not None:
        ema.requires_grad_(False)
    history = TrainingHistory()
    best_state, best_val, bad_epochs = None, math.inf, 0
    bar = progress(range(epochs), desc=desc, disable=not verbose, unit="epoch")
    for epoch in bar:
        model.train()
        total_loss, n_seen = 0.0, 0
        for idx in batches(n_train, batch_size, rng):
            loss = step_loss(idx)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            opt.step()
            sched.step()
            if ema is not None:
                with torch.no_grad():
                    for p_ema, p in zip(ema.parameters(), model.parameters()):
                        p_ema.lerp_(p, 1.0 - ema_decay)
            total_loss += loss.item() * len(idx)
            n_seen += len(idx)
        history.train.append(total_loss / n_seen)
        postfix = {"loss": f"{history.train[-1]:.4f}"}
        if val_loss is not None:
            kept = ema if ema is not None else model
            kept.eval()
            with torch.no_grad():
                v = float(val_loss(kept))
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
    model.eval()
    return model, history

