"""Continuous recordings in MATLAB ``.mat`` files -> windows in a :class:`TrialSet`.

Made for binned recordings such as ``m1_stevenson_2011.mat`` (Stevenson et al. 2011, as
published in KordingLab/spykesML): ``spikes`` (neurons, time bins) counts per bin, ``handVel``
(channels, time bins) and ``time`` (1, time bins) in seconds. The recording is chopped into
windows with :meth:`TrialSet.from_continuous`, which keeps each window's start time so that
train/test splits can be made by time (:meth:`TrialSet.time_split`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from eag_augment._validation import check_params, positive_int, positive_real
from eag_augment.trials import TrialSet

__all__ = ["load_mat"]

# Bin times in such files are rounded (to 1 ms in the M1 file): tolerate that much jitter.
_STEP_RTOL = 0.05
_MAT_CONSTRAINTS = {
    "bin_ms": [positive_real, None], "window_bins": [positive_int],
    "stride_bins": [positive_int, None], "spikes_key": [str], "velocity_key": [str, None],
    "time_key": [str, None], "drop_zero_channels": ["boolean"],
}


def check_mat_args(args: dict) -> None:
    """Check the arguments of :func:`load_mat` but ``path`` (name -> value), reading nothing."""
    check_params(_MAT_CONSTRAINTS, args, "load_mat")


def _read_variables(path: Path) -> dict[str, np.ndarray]:
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    if not path.exists():
        raise FileNotFoundError(f"no MATLAB file at {path}")
    if path.is_dir():
        raise ValueError(f"path must be a .mat file, got the directory {path}")
    try:
        data = loadmat(path)
    except NotImplementedError as err:
        raise ValueError(
            f"{path} is a MATLAB v7.3 (HDF5) file, which is not supported: save it with -v7"
        ) from err
    except (MatReadError, ValueError, TypeError, OSError) as err:
        raise ValueError(f"{path} is not a readable MATLAB .mat file: {err}") from err
    return {k: v for k, v in data.items() if not k.startswith("__")}


def _get(variables: dict, key: str, path: Path, what: str) -> np.ndarray:
    if key not in variables:
        raise ValueError(
            f"{path} has no variable {key!r} ({what}); variables: {sorted(variables)}"
        )
    value = np.asarray(variables[key])
    if value.dtype.kind not in "biuf":
        raise TypeError(f"variable {key!r} ({what}) must be numeric, got dtype {value.dtype}")
    return value


def _time_major(arr: np.ndarray, n_time: int | None, key: str) -> np.ndarray:
    """Return ``arr`` as (time, channels); the time axis has ``n_time`` entries if known."""
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"variable {key!r} must be 2-D (channels x time), got shape {arr.shape}")
    if n_time is None:
        # Recordings hold more time bins than channels.
        return arr.T if arr.shape[1] > arr.shape[0] else arr
    if arr.shape[1] == n_time:
        return arr.T
    if arr.shape[0] == n_time:
        return arr
    raise ValueError(f"variable {key!r} has shape {arr.shape}, with no axis of {n_time} time bins")


def load_mat(
    path: str | os.PathLike,
    *,
    bin_ms: float | None = None,
    window_bins: int = 20,
    stride_bins: int | None = None,
    spikes_key: str = "spikes",
    velocity_key: str | None = "handVel",
    time_key: str | None = "time",
    drop_zero_channels: bool = True,
) -> TrialSet:
    """Read a binned continuous recording from a ``.mat`` file and chop it into windows.

    Parameters
    ----------
    path : MATLAB v4-v7.2 file (read with ``scipy.io.loadmat``).
    bin_ms : float, optional
        Bin width in ms. Inferred from the time vector when None (needed if there is none);
        when both are there they must agree within 5 %.
    window_bins : int
        Window (trial) length in bins (default 20, i.e. 1 s at 50 ms).
    stride_bins : int, optional
        Step between window starts in bins; default ``window_bins`` (no overlap).
    spikes_key : str
        Spike counts per bin, (neurons, time) or (time, neurons).
    velocity_key : str or None
        Velocity (channels, time) or (time, channels); rows are named x, y, z, ... None: no
        behaviour.
    time_key : str or None
        Bin times in seconds (the recording clock); None: no time vector, windows start at 0.
    drop_zero_channels : bool
        Drop velocity channels that are zero throughout (e.g. ``z`` in a planar task).

    Returns
    -------
    TrialSet
        spikes (windows, window_bins, neurons) counts per bin; behavior (windows, window_bins,
        channels) in the file's units; conditions ``start_ms`` (window start on the recording
        clock, ms) and ``start_bin``.
    """
    check_mat_args(dict(bin_ms=bin_ms, window_bins=window_bins, stride_bins=stride_bins,
                        spikes_key=spikes_key, velocity_key=velocity_key, time_key=time_key,
                        drop_zero_channels=drop_zero_channels))
    path = Path(path)
    variables = _read_variables(path)
    spikes = _get(variables, spikes_key, path, "spike counts")

    n_time, t_start_ms, step_ms = None, 0.0, None
    if time_key is not None:
        times = _get(variables, time_key, path, "bin times in s").astype(float)
        if times.ndim > 2 or min(times.shape, default=0) > 1:
            raise ValueError(f"variable {time_key!r} must be a vector, got shape {times.shape}")
        times = times.ravel()
        if times.size < 2 or not np.all(np.isfinite(times)):
            raise ValueError(f"variable {time_key!r} needs at least 2 finite times")
        n_time = times.size
        steps = np.diff(times) * 1000.0
        step_ms = (times[-1] - times[0]) * 1000.0 / (n_time - 1)
        if step_ms <= 0 or np.any(np.abs(steps - step_ms) > _STEP_RTOL * step_ms):
            raise ValueError(
                f"variable {time_key!r} is not evenly spaced and increasing: steps range "
                f"{steps.min():g}..{steps.max():g} ms around {step_ms:g} ms (gaps?)"
            )
        t_start_ms = round(float(times[0]) * 1000.0, 6)  # s -> ms without float residue
    spikes = _time_major(spikes, n_time, spikes_key)
    n_time = spikes.shape[0]

    if bin_ms is None:
        if step_ms is None:
            raise ValueError("bin_ms is required when the file has no time vector (time_key)")
        bin_ms = round(step_ms, 3)
    else:
        bin_ms = float(bin_ms)
        if step_ms is not None and abs(step_ms - bin_ms) > _STEP_RTOL * bin_ms:
            raise ValueError(
                f"bin_ms={bin_ms:g} does not match the time vector {time_key!r}, "
                f"whose steps are {step_ms:g} ms"
            )

    behavior, names = None, None
    if velocity_key is not None:
        velocity = _time_major(
            _get(variables, velocity_key, path, "velocity").astype(float), n_time, velocity_key
        )
        names = list("xyzw"[: velocity.shape[1]]) if velocity.shape[1] <= 4 else [
            f"v{i}" for i in range(velocity.shape[1])
        ]
        if drop_zero_channels:
            live = np.any(velocity != 0, axis=0)
            if not live.any():
                raise ValueError(f"variable {velocity_key!r} is zero throughout")
            velocity, names = velocity[:, live], [n for n, k in zip(names, live) if k]
        behavior = velocity
    return TrialSet.from_continuous(
        spikes,
        behavior,
        bin_ms=bin_ms,
        window=window_bins,
        stride=stride_bins,
        t_start_ms=t_start_ms,
        behavior_names=names,
    )
