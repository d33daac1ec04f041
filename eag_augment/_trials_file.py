"""The TrialSet file: a compressed ``.npz`` of the arrays plus a JSON metadata entry, read
without pickle and checked entry by entry (:meth:`TrialSet.save` / :meth:`TrialSet.load`)."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from eag_augment._files import atomic_write, check_output_path

if TYPE_CHECKING:
    from eag_augment.trials import TrialSet

_FORMAT_VERSION = 1


def write_trialset(trials: TrialSet, path: str | os.PathLike) -> Path:
    """Write ``trials`` to ``path`` (``.npz`` appended if missing), atomically; returns the path."""
    path = check_output_path(path, "path")
    if path.suffix != ".npz":
        path = check_output_path(path.with_name(path.name + ".npz"), "path")
    arrays: dict[str, np.ndarray] = {"spikes": trials.spikes, "neuron_ids": trials.neuron_ids,
                                     "heldout": trials.heldout}
    if trials.behavior is not None:
        arrays["behavior"] = trials.behavior
    if trials.rates is not None:
        arrays["rates"] = trials.rates
    for i, col in enumerate(trials.conditions.columns):
        values = trials.conditions[col].to_numpy()
        if values.dtype == object:
            odd = [v for v in values if not isinstance(v, str)]
            if odd:
                raise TypeError(f"conditions column {col!r} holds {odd[0]!r} "
                                f"({type(odd[0]).__name__}); save() writes numbers, booleans "
                                "and strings only")
            values = values.astype(str)
        arrays[f"cond_{i}"] = values
    meta = {
        "format_version": _FORMAT_VERSION,
        "bin_ms": trials.bin_ms,
        "t_start_ms": trials.t_start_ms,
        "behavior_names": trials.behavior_names,
        "condition_columns": list(trials.conditions.columns),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    return atomic_write(path, lambda tmp: np.savez_compressed(tmp, **arrays), ".tmp.npz")


def read_trialset(path: str | os.PathLike, build: Callable[..., TrialSet]) -> TrialSet:
    """The trial set in a file written by :func:`write_trialset`, made by ``build`` (the class)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no TrialSet file at {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a TrialSet .npz file")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path} is not a readable TrialSet .npz file (truncated or not "
                         f"written by TrialSet.save?): {err}") from err
    if "meta" not in data or "spikes" not in data:
        raise ValueError(f"{path} is not a TrialSet file (no 'meta' or 'spikes' entry)")
    meta = _read_meta(data["meta"], path)
    columns = meta["condition_columns"]
    missing = [f"cond_{i}" for i in range(len(columns)) if f"cond_{i}" not in data]
    missing += [k for k in ("neuron_ids", "heldout") if k not in data]
    if missing:
        raise ValueError(f"{path} lacks the entries {missing} that its metadata lists")
    n_rows = data["spikes"].shape[0] if data["spikes"].ndim else 0
    try:
        conditions = pd.DataFrame({col: data[f"cond_{i}"] for i, col in enumerate(columns)},
                                  index=pd.RangeIndex(n_rows))
        return build(
            data["spikes"],
            data.get("behavior"),
            conditions,
            bin_ms=meta["bin_ms"],
            neuron_ids=data["neuron_ids"],
            rates=data.get("rates"),
            heldout=data["heldout"],
            behavior_names=meta["behavior_names"],
            t_start_ms=meta["t_start_ms"],
        )
    except (TypeError, ValueError) as err:
        raise type(err)(f"{path} holds an invalid TrialSet: {err}") from err


def _read_meta(raw: np.ndarray, path: Path) -> dict:
    """The JSON metadata entry of a TrialSet file, with its keys and their types checked."""
    try:
        meta = json.loads(str(raw))
    except ValueError as err:
        raise ValueError(f"{path}: the 'meta' entry is not JSON ({err})") from err
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: the 'meta' entry must be a JSON object, got "
                         f"{type(meta).__name__}")
    if meta.get("format_version") != _FORMAT_VERSION:
        raise ValueError(f"{path} has TrialSet format {meta.get('format_version')!r}, "
                         f"this version reads {_FORMAT_VERSION}")
    expected = {"bin_ms": (int, float), "t_start_ms": (int, float),
                "behavior_names": (list, type(None)), "condition_columns": list}
    for key, types in expected.items():
        if key not in meta:
            raise ValueError(f"{path}: the 'meta' entry lacks {key!r}")
        if not isinstance(meta[key], types) or isinstance(meta[key], bool):
            raise ValueError(f"{path}: meta {key!r} has the wrong type: {meta[key]!r}")
    if not all(isinstance(c, str) for c in meta["condition_columns"]):
        raise ValueError(f"{path}: meta 'condition_columns' must be strings, got "
                         f"{meta['condition_columns']!r}")
    return meta
