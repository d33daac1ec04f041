"""Reach angles (radians): wrapping, rotating velocity, the direction of a reach, and a check
that refuses angles given in degrees."""

from __future__ import annotations

import numpy as np

from eag_augment._arrays import as_finite_array

__all__ = ["angle_of_reach", "check_angles", "rotate_xy", "wrap_angle"]

# Reach angles are radians: a value beyond two turns either way (4 pi, about 12.6) is almost
# surely in degrees, since reach directions in degrees are mostly tens of degrees or more.
_MAX_ANGLE = 4 * np.pi + 1e-6


def wrap_angle(angle) -> np.ndarray:
    """Angles (radians) mapped to (-pi, pi], the range of ``np.arctan2``."""
    return np.pi - np.mod(np.pi - np.asarray(angle, dtype=float), 2.0 * np.pi)


def rotate_xy(velocity: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Rotate the x/y channels of velocity (n, bins, dims >= 2) by angles (n,) in radians.

    Other channels are kept; returns a new float array.
    """
    c, s = np.cos(by)[:, None], np.sin(by)[:, None]
    out = np.array(velocity, dtype=float)
    out[..., 0] = c * velocity[..., 0] - s * velocity[..., 1]
    out[..., 1] = s * velocity[..., 0] + c * velocity[..., 1]
    return out


def angle_of_reach(velocity: np.ndarray) -> np.ndarray:
    """Reach angle (radians, in (-pi, pi]) of each trial from its velocity (trials, bins, >=2).

    The angle of the summed x/y velocity, i.e. the direction of net hand displacement.
    """
    velocity = as_finite_array(velocity, "velocity", 3, dtype=float)
    if velocity.shape[2] < 2:
        raise ValueError(f"velocity needs x and y channels, got shape {velocity.shape}")
    disp = velocity[:, :, :2].sum(axis=1)
    return np.arctan2(disp[:, 1], disp[:, 0])


def check_angles(angles, name: str = "angle") -> np.ndarray:
    """Reach angles as a finite float array (any shape), refusing values in degrees.

    Angles are radians; any value up to two full turns either way (|angle| <= 4 pi) is
    allowed. A larger one (e.g. 45 or 270) is taken for degrees and refused: wrapped
    silently it would be a wrong direction.
    """
    try:
        arr = np.asarray(angles)
    except (TypeError, ValueError) as err:  # ragged sequences
        raise TypeError(f"{name} must be reach angles in radians (numbers), got "
                        f"{angles!r}") from err
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be reach angles in radians (numbers), got "
                        f"{'booleans' if arr.dtype.kind == 'b' else f'dtype {arr.dtype}'}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite reach angles in radians, got "
                         f"{arr[~np.isfinite(arr)].ravel()[0]}")
    if arr.size and np.abs(arr).max() > _MAX_ANGLE:
        raise ValueError(f"{name} must be reach angles in radians, got a value of "
                         f"{arr.flat[np.abs(arr).argmax()]:g}: degrees? convert with "
                         "np.radians")
    return arr
