"""Checkpoint files: a JSON config plus state dicts of tensors, in one torch zip file.

Written atomically (temporary file in the same folder, then rename), read back with
``torch.load(weights_only=True)`` so a checkpoint can never run code on load.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

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
    path = Path(path)
    payload = {
        "magic": _MAGIC,
        "version": _VERSION,
        "kind": kind,
        "config": json.dumps(config),
        "state": _to_tensors(state),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, expected_kind: str | None = None) -> tuple[str, dict, dict]:
    """Read a checkpoint; returns (kind, config, state). Raises ValueError on a bad file."""
    path = Path(path)
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
    kind = payload["kind"]
    if expected_kind is not None and kind != expected_kind:
        raise ValueError(f"{path} holds a {kind}, not a {expected_kind}")
    return kind, json.loads(payload["config"]), payload["state"]


def read_config(path: str | os.PathLike) -> dict:
    """The JSON config of a checkpoint (with its ``kind``), without building the model."""
    kind, config, _ = load_checkpoint(path)
    return {"kind": kind, **config}
