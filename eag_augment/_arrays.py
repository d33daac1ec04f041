"""Checks of the arrays users hand in: numeric, finite, of the right rank; spike counts."""

from __future__ import annotations

import numpy as np

__all__ = ["as_finite_array", "validate_spikes"]


def as_finite_array(value, name: str, ndim: int, dtype=None, *,
                    allow_bool: bool = False) -> np.ndarray:
    """``value`` as a non-empty numeric array of ``ndim`` dims without NaN/inf, else a clear error.

    Booleans are refused unless ``allow_bool`` (binary spike trains): a boolean velocity
    or rate is a mistake, not a 0/1 quantity.
    """
    if value is None:
        raise TypeError(f"{name} is required, got None")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric array-like, got {type(value).__name__}") from err
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if arr.dtype.kind == "b" and not allow_bool:
        raise TypeError(f"{name} must hold numbers, got booleans (dtype bool); convert "
                        "them explicitly if 0/1 is really meant")
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    return arr


def validate_spikes(spikes, name: str = "spikes") -> np.ndarray:
    """Check spike counts (trials, bins, neurons): finite, non-negative integers.

    Returns an int32 copy-free view where possible.
    """
    arr = as_finite_array(spikes, name, 3, allow_bool=True)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int32)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative spike counts; minimum is {arr.min()}")
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            bad = arr[arr != np.round(arr)].ravel()[0]
            raise ValueError(f"{name} must be integer spike counts; found value {bad}")
    if arr.max() > np.iinfo(np.int32).max:
        raise ValueError(f"{name} has counts too large for int32: {arr.max()}")
    return arr.astype(np.int32, copy=False)
