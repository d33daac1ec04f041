"""Pickles of fitted torch estimators that load on any machine, a CPU-only one included.

torch pickles a CUDA tensor as a CUDA tensor, and unpickling it without CUDA fails
("Attempting to deserialize object on a CUDA device"). :class:`PortableTorchState` makes an
estimator pickle its tensors and modules from the CPU, and on unpickling moves them to the
device it was fitted on when that device exists here, else keeps them on the CPU and says so
in ``device_``. Checkpoints (:mod:`eag_augment.checkpoint`) are portable the same way: they
are written from the CPU and read with ``map_location="cpu"``.
"""

from __future__ import annotations

import copy
from typing import Any

import torch

__all__ = ["PortableTorchState", "to_device"]


def _available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return True


def _ours(value: Any) -> bool:
    """A plain object of this package (e.g. a noise schedule) whose attributes may be tensors."""
    return type(value).__module__.startswith("eag_augment.") and hasattr(value, "__dict__")


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor and torch module inside it on ``device``.

    Walks dicts, lists, tuples and this package's objects; ``device_`` attributes found on
    the way are set to ``device``. Returns a new object wherever something moved, and never
    changes ``value`` itself.
    """
    if isinstance(value, torch.Tensor):
        return value if value.device == device else value.detach().to(device)
    if isinstance(value, torch.nn.Module):
        tensors = [*value.parameters(), *value.buffers()]
        if all(t.device == device for t in tensors):
            return value
        # A copy made on the module's own device, then moved: the fitted model stays usable.
        return copy.deepcopy(value).to(device)
    if isinstance(value, dict):
        moved = {k: to_device(v, device) for k, v in value.items()}
        return value if all(moved[k] is value[k] for k in value) else type(value)(moved)
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        moved = [to_device(v, device) for v in value]
        return value if all(a is b for a, b in zip(moved, value)) else type(value)(moved)
    if _ours(value):
        state = {k: (device if k == "device_" and isinstance(v, torch.device)
                     else to_device(v, device)) for k, v in vars(value).items()}
        if all(state[k] is v for k, v in vars(value).items()):
            return value
        clone = copy.copy(value)
        vars(clone).update(state)
        return clone
    return value


class PortableTorchState:
    """Mixin (before ``BaseEstimator``) for estimators holding torch state in attributes."""

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        cpu = torch.device("cpu")
        return {k: v if k == "device_" else to_device(v, cpu) for k, v in state.items()}

    def __setstate__(self, state: dict) -> None:
        fitted_on = state.get("device_")
        if isinstance(fitted_on, torch.device) and fitted_on.type != "cpu":
            target = fitted_on if _available(fitted_on) else torch.device("cpu")
            state = {k: to_device(v, target) for k, v in state.items()}
            state["device_"] = target
        super().__setstate__(state)
