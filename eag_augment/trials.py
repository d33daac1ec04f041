"""TrialSet: a validated container for trial-aligned spike counts and behaviour.

Every dataset loader and every generator returns a :class:`TrialSet`; every generator
consumes one. Arrays are trial-major: ``spikes`` has shape (trials, bins, neurons) and holds
spike counts per bin, ``behavior`` has shape (trials, bins, dims) (hand velocity in the
data's units), and ``conditions`` is a pandas table with one row per trial.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["TrialSet", "angle_of_reach", "as_finite_array", "rotate_xy", "validate_spikes",
           "wrap_angle"]

_FORMAT_VERSION = 1


def as_finite_array(value, name: str, ndim: int, dtype=None) -> np.ndarray:
    """``value`` as a non-empty numeric array of ``ndim`` dims without NaN/inf, else a clear error."""
    if value is None:
        raise TypeError(f"{name} is required, got None")
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric array-like, got {type(value).__name__}") from err
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
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
    arr = as_finite_array(spikes, name, 3)
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


class TrialSet:
    """Trial-aligned neural recording.

    Parameters
    ----------
    spikes : array (n_trials, n_bins, n_neurons)
        Non-negative integer spike counts per bin.
    behavior : array (n_trials, n_bins, n_dims), optional
        Behavioural signal per bin, typically hand velocity (x, y) in the data's units.
    conditions : pandas.DataFrame, optional
        One row per trial: e.g. ``angle`` (radians), ``condition`` id, ``split``.
    bin_ms : float
        Bin width in milliseconds.
    neuron_ids : array (n_neurons,), optional
        Identifier per neuron (defaults to 0..n_neurons-1).
    rates : array (n_trials, n_bins, n_neurons), optional
        Firing rates (expected spikes per bin): ground truth of a simulator, or the rates a
        generator drew its spikes from.
    heldout : bool array (n_neurons,), optional
        Which neurons are held out (NLB co-smoothing); all False by default.
    behavior_names : sequence of str, optional
        Names of the behaviour channels (defaults to ``x``, ``y``, ... ).
    t_start_ms : float
        Time of the left edge of the first bin relative to the alignment event (ms).
    """

    def __init__(
        self,
        spikes,
        behavior=None,
        conditions: pd.DataFrame | None = None,
        *,
        bin_ms: float,
        neuron_ids=None,
        rates=None,
        heldout=None,
        behavior_names: Sequence[str] | None = None,
        t_start_ms: float = 0.0,
    ) -> None:
        self.spikes = validate_spikes(spikes)
        n_trials, n_bins, n_neurons = self.spikes.shape

        try:
            bin_ms = float(bin_ms)
        except (TypeError, ValueError) as err:
            raise TypeError(f"bin_ms must be a number, got {bin_ms!r}") from err
        if not np.isfinite(bin_ms) or bin_ms <= 0:
            raise ValueError(f"bin_ms must be a positive number of milliseconds, got {bin_ms}")
        self.bin_ms = bin_ms
        self.t_start_ms = float(t_start_ms)

        if behavior is not None:
            behavior = as_finite_array(behavior, "behavior", 3).astype(np.float64, copy=False)
            if behavior.shape[:2] != (n_trials, n_bins):
                raise ValueError(
                    f"behavior must have shape ({n_trials}, {n_bins}, dims) to match spikes "
                    f"{self.spikes.shape}, got {behavior.shape}"
                )
        self.behavior = behavior

        if behavior_names is None and behavior is not None:
            behavior_names = "xyzw"[: behavior.shape[2]] if behavior.shape[2] <= 4 else [
                f"b{i}" for i in range(behavior.shape[2])
            ]
        if behavior_names is not None:
            behavior_names = [str(n) for n in behavior_names]
            if behavior is None or len(behavior_names) != behavior.shape[2]:
                got = None if behavior is None else behavior.shape[2]
                raise ValueError(
                    f"behavior_names has {len(behavior_names)} names but behavior has {got} dims"
                )
        self.behavior_names = behavior_names

        if conditions is None:
            conditions = pd.DataFrame(index=pd.RangeIndex(n_trials))
        if not isinstance(conditions, pd.DataFrame):
            raise TypeError(f"conditions must be a pandas DataFrame, got {type(conditions).__name__}")
        if len(conditions) != n_trials:
            raise ValueError(
                f"conditions must have one row per trial ({n_trials}), got {len(conditions)} rows"
            )
        self.conditions = conditions.reset_index(drop=True)

        if neuron_ids is None:
            neuron_ids = np.arange(n_neurons)
        neuron_ids = np.asarray(neuron_ids)
        if neuron_ids.shape != (n_neurons,):
            raise ValueError(
                f"neuron_ids must have shape ({n_neurons},) to match spikes, got {neuron_ids.shape}"
            )
        self.neuron_ids = neuron_ids

        if heldout is None:
            heldout = np.zeros(n_neurons, dtype=bool)
        heldout = np.asarray(heldout)
        if heldout.shape != (n_neurons,) or heldout.dtype != bool:
            raise ValueError(
                f"heldout must be a boolean array of shape ({n_neurons},), "
                f"got dtype {heldout.dtype} shape {heldout.shape}"
            )
        self.heldout = heldout

        if rates is not None:
            rates = as_finite_array(rates, "rates", 3).astype(np.float32, copy=False)
            if rates.shape != self.spikes.shape:
                raise ValueError(
                    f"rates must have the shape of spikes {self.spikes.shape}, got {rates.shape}"
                )
            if np.any(rates < 0):
                raise ValueError(f"rates must be non-negative; minimum is {rates.min()}")
        self.rates = rates

    # ------------------------------------------------------------------ shape
    @property
    def n_trials(self) -> int:
        return self.spikes.shape[0]

    @property
    def n_bins(self) -> int:
        return self.spikes.shape[1]

    @property
    def n_neurons(self) -> int:
        return self.spikes.shape[2]

    @property
    def duration_ms(self) -> float:
        """Length of one trial in ms."""
        return self.n_bins * self.bin_ms

    @property
    def bin_times_ms(self) -> np.ndarray:
        """Centre of each bin relative to the alignment event, ms (n_bins,)."""
        return self.t_start_ms + (np.arange(self.n_bins) + 0.5) * self.bin_ms

    @property
    def angles(self) -> np.ndarray:
        """Reach angle per trial (radians): the ``angle`` column, else derived from behaviour."""
        if "angle" in self.conditions:
            return self.conditions["angle"].to_numpy(dtype=float)
        if self.behavior is None:
            raise ValueError("this TrialSet has neither an 'angle' condition nor behavior")
        return angle_of_reach(self.behavior)

    def __len__(self) -> int:
        return self.n_trials

    def __repr__(self) -> str:
        beh = "none" if self.behavior is None else f"{self.behavior.shape[2]} dims"
        cols = ", ".join(map(str, self.conditions.columns)) or "none"
        return (
            f"TrialSet({self.n_trials} trials x {self.n_bins} bins x {self.n_neurons} neurons, "
            f"bin {self.bin_ms:g} ms, behavior: {beh}, conditions: {cols}"
            f"{', rates' if self.rates is not None else ''})"
        )

    # ------------------------------------------------------------ manipulate
    def _replace(self, **changes) -> TrialSet:
        fields = dict(
            spikes=self.spikes,
            behavior=self.behavior,
            conditions=self.conditions,
            bin_ms=self.bin_ms,
            neuron_ids=self.neuron_ids,
            rates=self.rates,
            heldout=self.heldout,
            behavior_names=self.behavior_names,
            t_start_ms=self.t_start_ms,
        )
        fields.update(changes)
        return TrialSet(**fields)

    def __getitem__(self, index) -> TrialSet:
        """Select trials by int, slice, integer array or boolean mask; returns a TrialSet."""
        if isinstance(index, (int, np.integer)):
            if not -self.n_trials <= index < self.n_trials:
                raise IndexError(f"trial index {index} out of range for {self.n_trials} trials")
            index = [int(index) % self.n_trials]
        elif not isinstance(index, slice):
            index = np.asarray(index)
            if index.dtype == bool:
                if index.shape != (self.n_trials,):
                    raise IndexError(
                        f"boolean trial mask must have shape ({self.n_trials},), got {index.shape}"
                    )
                index = np.flatnonzero(index)
            elif index.dtype.kind not in "iu":
                raise IndexError(f"trial index must be int, slice, ints or bools; got {index.dtype}")
            if index.size and (index.max() >= self.n_trials or index.min() < -self.n_trials):
                raise IndexError(f"trial index out of range for {self.n_trials} trials")
        rows = np.arange(self.n_trials)[index]
        if rows.size == 0:
            raise IndexError("selection holds no trials")
        return self._replace(
            spikes=self.spikes[rows],
            behavior=None if self.behavior is None else self.behavior[rows],
            conditions=self.conditions.iloc[rows],
            rates=None if self.rates is None else self.rates[rows],
        )

    def select_neurons(self, mask_or_index) -> TrialSet:
        """Keep a subset of neurons (boolean mask or integer indices)."""
        idx = np.arange(self.n_neurons)[np.asarray(mask_or_index)]
        return self._replace(
            spikes=self.spikes[:, :, idx],
            neuron_ids=self.neuron_ids[idx],
            rates=None if self.rates is None else self.rates[:, :, idx],
            heldout=self.heldout[idx],
        )

    @classmethod
    def concatenate(cls, sets: Sequence[TrialSet]) -> TrialSet:
        """Stack trial sets with equal bins, neurons and bin width along the trial axis."""
        sets = list(sets)
        if not sets:
            raise ValueError("concatenate needs at least one TrialSet")
        for i, s in enumerate(sets):
            if not isinstance(s, TrialSet):
                raise TypeError(f"item {i} is a {type(s).__name__}, not a TrialSet")
        first = sets[0]
        for i, s in enumerate(sets[1:], start=1):
            if s.spikes.shape[1:] != first.spikes.shape[1:]:
                raise ValueError(
                    f"item {i} has (bins, neurons) {s.spikes.shape[1:]}, "
                    f"item 0 has {first.spikes.shape[1:]}"
                )
            if s.bin_ms != first.bin_ms:
                raise ValueError(f"item {i} has bin_ms {s.bin_ms}, item 0 has {first.bin_ms}")
            if (s.behavior is None) != (first.behavior is None) or (
                s.behavior is not None and s.behavior.shape[2] != first.behavior.shape[2]
            ):
                raise ValueError(f"item {i} has behavior of a different presence or width")
        has_rates = all(s.rates is not None for s in sets)
        return first._replace(
            spikes=np.concatenate([s.spikes for s in sets]),
            behavior=None
            if first.behavior is None
            else np.concatenate([s.behavior for s in sets]),
            conditions=pd.concat([s.conditions for s in sets], ignore_index=True),
            rates=np.concatenate([s.rates for s in sets]) if has_rates else None,
        )

    def rebin(self, bin_ms: float) -> TrialSet:
        """Merge ``k`` consecutive bins into one coarser bin.

        ``bin_ms`` must be an integer multiple of the current bin width; trailing bins that
        do not fill a whole new bin are dropped. Rates are summed (expected counts per new
        bin); behaviour is averaged.
        """
        factor = float(bin_ms) / self.bin_ms
        k = int(round(factor))
        if k < 1 or abs(factor - k) > 1e-9:
            raise ValueError(
                f"bin_ms must be an integer multiple of the current {self.bin_ms:g} ms, got {bin_ms}"
            )
        n_new = self.n_bins // k
        if n_new == 0:
            raise ValueError(f"bin_ms {bin_ms} is longer than the trial ({self.duration_ms:g} ms)")

        def fold(a: np.ndarray) -> np.ndarray:
            return a[:, : n_new * k].reshape(a.shape[0], n_new, k, a.shape[2])

        return self._replace(
            spikes=fold(self.spikes).sum(axis=2),
            behavior=None if self.behavior is None else fold(self.behavior).mean(axis=2),
            rates=None if self.rates is None else fold(self.rates).sum(axis=2),
            bin_ms=self.bin_ms * k,
        )

    def train_test_split(
        self, test_size: float | int = 0.2, *, random_state: int | None = None, stratify=None
    ) -> tuple[TrialSet, TrialSet]:
        """Random split of trials into (train, test); ``stratify`` is a condition column name."""
        from sklearn.model_selection import train_test_split

        labels = None
        if stratify is not None:
            if stratify not in self.conditions:
                raise ValueError(
                    f"stratify column {stratify!r} not in conditions {list(self.conditions)}"
                )
            labels = self.conditions[stratify].to_numpy()
        train_idx, test_idx = train_test_split(
            np.arange(self.n_trials), test_size=test_size, random_state=random_state,
            stratify=labels,
        )
        return self[np.sort(train_idx)], self[np.sort(test_idx)]

    def split(self, name: str) -> TrialSet:
        """Trials whose ``split`` condition equals ``name`` (e.g. 'train', 'val', 'test')."""
        if "split" not in self.conditions:
            raise ValueError("this TrialSet has no 'split' column in its conditions")
        mask = (self.conditions["split"] == name).to_numpy()
        if not mask.any():
            have = sorted(map(str, self.conditions["split"].unique()))
            raise ValueError(f"no trials with split {name!r}; splits present: {have}")
        return self[mask]

    def time_split(self, test_fraction: float = 0.2) -> tuple[TrialSet, TrialSet]:
        """Split windows chopped from a continuous recording by time, with no overlap.

        Windows that start before the cut go to train, windows starting after it to test;
        a window that would straddle the cut is dropped, so no bin is in both sets.
        Needs the ``start_ms`` column written by :meth:`from_continuous`.
        """
        if "start_ms" not in self.conditions:
            raise ValueError("time_split needs a 'start_ms' condition (see from_continuous)")
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        start = self.conditions["start_ms"].to_numpy(dtype=float)
        end = start + self.duration_ms
        t0, t1 = start.min(), end.max()
        cut = t1 - test_fraction * (t1 - t0)
        train, test = end <= cut, start >= cut
        if not train.any() or not test.any():
            raise ValueError(f"test_fraction {test_fraction} leaves an empty train or test set")
        return self[train], self[test]

    @classmethod
    def from_continuous(
        cls,
        spikes,
        behavior=None,
        *,
        bin_ms: float,
        window: int,
        stride: int | None = None,
        t_start_ms: float = 0.0,
        neuron_ids=None,
        behavior_names: Sequence[str] | None = None,
    ) -> TrialSet:
        """Chop a continuous recording into windows (as NLB does for MC_RTT).

        Parameters
        ----------
        spikes : array (n_time_bins, n_neurons)
            Spike counts per bin.
        behavior : array (n_time_bins, n_dims), optional
        window : int
            Window length in bins.
        stride : int, optional
            Step between window starts in bins (default: ``window``, no overlap).
        t_start_ms : float
            Time of the first bin of the recording (ms); window start times are kept in the
            ``start_ms`` condition so that :meth:`time_split` can split by time.
        """
        spikes = validate_spikes(np.asarray(spikes)[None], "spikes")[0]
        n_time = spikes.shape[0]
        stride = window if stride is None else stride
        for name, v in (("window", window), ("stride", stride)):
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer number of bins, got {v!r}")
        if window > n_time:
            raise ValueError(f"window ({window} bins) is longer than the recording ({n_time} bins)")
        if behavior is not None:
            behavior = as_finite_array(behavior, "behavior", 2, dtype=float)
            if behavior.shape[0] != n_time:
                raise ValueError(
                    f"behavior must have {n_time} time bins like spikes, got shape {behavior.shape}"
                )
        starts = np.arange(0, n_time - window + 1, stride)
        idx = starts[:, None] + np.arange(window)[None, :]
        conditions = pd.DataFrame(
            {"start_ms": t_start_ms + starts * float(bin_ms), "start_bin": starts}
        )
        return cls(
            spikes[idx],
            None if behavior is None else behavior[idx],
            conditions,
            bin_ms=bin_ms,
            neuron_ids=neuron_ids,
            behavior_names=behavior_names,
        )

    # ------------------------------------------------------------- save/load
    def save(self, path: str | os.PathLike) -> Path:
        """Write to a compressed ``.npz`` file (atomically); returns the path."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays: dict[str, np.ndarray] = {"spikes": self.spikes, "neuron_ids": self.neuron_ids,
                                         "heldout": self.heldout}
        if self.behavior is not None:
            arrays["behavior"] = self.behavior
        if self.rates is not None:
            arrays["rates"] = self.rates
        columns = []
        for i, col in enumerate(self.conditions.columns):
            values = self.conditions[col].to_numpy()
            if values.dtype == object:
                values = values.astype(str)
            arrays[f"cond_{i}"] = values
            columns.append(str(col))
        meta = {
            "format_version": _FORMAT_VERSION,
            "bin_ms": self.bin_ms,
            "t_start_ms": self.t_start_ms,
            "behavior_names": self.behavior_names,
            "condition_columns": columns,
        }
        arrays["meta"] = np.array(json.dumps(meta))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrialSet:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no TrialSet file at {path}")
        try:
            with np.load(path, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except (ValueError, OSError, EOFError) as err:
            raise ValueError(f"{path} is not a readable TrialSet .npz file: {err}") from err
        if "meta" not in data or "spikes" not in data:
            raise ValueError(f"{path} is not a TrialSet file (no 'meta' or 'spikes' entry)")
        meta = json.loads(str(data["meta"]))
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"{path} has TrialSet format {meta.get('format_version')}, "
                             f"this version reads {_FORMAT_VERSION}")
        conditions = pd.DataFrame(
            {col: data[f"cond_{i}"] for i, col in enumerate(meta["condition_columns"])},
            index=pd.RangeIndex(data["spikes"].shape[0]),
        )
        return cls(
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
