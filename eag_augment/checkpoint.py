"""Checkpoint files: a JSON config plus state dicts of tensors, in one torch zip file.

Written atomically (temporary file in the same folder, then rename), read back with
``torch.load(weights_only=True)`` so a checkpoint can never run code on load. What is read is
then checked before anything is built from it: the config must be a JSON object and the state
nested dicts of tensors only, so a crafted file fails with a message naming the bad entry.
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eag_augment._files import atomic_write, check_output_path

__all__ = ["save_checkpoint", "load_checkpoint", "read_config"]

_MAGIC = "eag_augment-checkpoint"
_VERSION = 1


def _to_tensors(state: Any) -> Any:
    if isinstance(state, dict):
        return {str(k): _to_tensors(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(state))
    if isinstance(state, torch.Tensor):
        return state.detach().cpu()
    raise TypeError(f"checkpoint state must hold tensors or arrays, got {type(state).__name__}")


def save_checkpoint(path: str | os.PathLike, *, kind: str, config: dict, state: dict) -> Path:
    """Write ``config`` (JSON-serialisable) and ``state`` (nested dicts of tensors/arrays).

    ``kind`` names what is stored (the generator's class) so that loading into the wrong
    class fails clearly. Returns the path written.
    """
    path = check_output_path(path, "path")
    payload = {
        "magic": _MAGIC,
        "version": _VERSION,
        "kind": kind,
        "config": json.dumps(config),
        "state": _to_tensors(state),
    }
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _check_state(state: Any, where: str) -> None:
    """Raise ValueError unless ``state`` is nested dicts (str keys) of tensors."""
    if isinstance(state, torch.Tensor):
        return
    if not isinstance(state, dict):
        raise ValueError(f"{where} holds a value of type {type(state).__name__!r}, not a "
                         "tensor or a dict of tensors")
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"{where} has a key {key!r} that is not a string")
        _check_state(value, f"{where}[{key!r}]")


def load_checkpoint(path: str | os.PathLike, expected_kind: str | None = None) -> tuple[str, dict, dict]:
    """Read a checkpoint; returns (kind, config, state). Raises ValueError on a bad file."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a checkpoint file")
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile,
            ValueError) as err:
        raise ValueError(f"{path} is not a readable eag_augment checkpoint "
                         f"(corrupt or truncated?): {err}") from err
    if not isinstance(payload, dict) or payload.get("magic") != _MAGIC:
        raise ValueError(f"{path} is a torch file but not an eag_augment checkpoint")
    if payload.get("version") != _VERSION:
        raise ValueError(f"{path} has checkpoint version {payload.get('version')}; "
                         f"this eag_augment reads version {_VERSION}")
    missing = [k for k in ("kind", "config", "state") if k not in payload]
    if missing:
        raise ValueError(f"{path}: the checkpoint lacks the entries {missing}")
    kind, config, state = (payload[k] for k in ("kind", "config", "state"))
    if not isinstance(kind, str):
        raise ValueError(f"{path}: the checkpoint's 'kind' must be a class name, got {kind!r}")
    if expected_kind is not None and kind != expected_kind:
        raise ValueError(f"{path} holds a {kind}, not a {expected_kind}")
    if not isinstance(config, str):
        raise ValueError(f"{path}: the checkpoint's 'config' must be JSON text, got "
                         f"{type(config).__name__}")
    try:
        config = json.loads(config)
    except ValueError as err:
        raise ValueError(f"{path}: the checkpoint's 'config' is not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise ValueError(f"{path}: the checkpoint's 'config' must be a JSON object, got "
                         f"{type(config).__name__}")
    _check_state(state, f"{path}: the checkpoint's state")
    return kind, config, state


def read_config(path: str | os.PathLike) -> dict:
    """The JSON config of a checkpoint (with its ``kind``), without building the model."""
    kind, config, _ = load_checkpoint(path)
    return {"kind": kind, **config}
