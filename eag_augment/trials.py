"""TrialSet: a validated container for trial-aligned spike counts and behaviour.

Every dataset loader and every generator returns a :class:`TrialSet`; every generator
consumes one. Arrays are trial-major: ``spikes`` has shape (trials, bins, neurons) and holds
spike counts per bin, ``behavior`` has shape (trials, bins, dims) (hand velocity in the
data's units), and ``conditions`` is a pandas table with one row per trial.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eag_augment._arrays import as_finite_array, validate_spikes
from eag_augment._memory import check_memory
from eag_augment._trials_file import read_trialset, write_trialset
from eag_augment._validation import Interval, check_params, positive_int, positive_real
from eag_augment.angles import angle_of_reach, check_angles, rotate_xy, wrap_angle

# The array and angle helpers live in _arrays and angles; they stay importable from here,
# where they were first published.
__all__ = ["TrialSet", "angle_of_reach", "as_finite_array", "check_angles", "rotate_xy",
           "validate_spikes", "wrap_angle"]

#: Any finite number (NaN and +-inf refused).
finite_real = Interval(numbers.Real, None, None, closed="neither")
# Condition columns the package reads, and what each must hold.
_NUMERIC_CONDITIONS = ("angle", "start_ms")
_LABEL_CONDITIONS = ("condition", "split")


def _check_conditions(conditions, n_trials: int) -> pd.DataFrame:
    """The per-trial table, with the columns the package reads checked."""
    if conditions is None:
        return pd.DataFrame(index=pd.RangeIndex(n_trials))
    if not isinstance(conditions, pd.DataFrame):
        raise TypeError(f"conditions must be a pandas DataFrame, got {type(conditions).__name__}")
    if len(conditions) != n_trials:
        raise ValueError(
            f"conditions must have one row per trial ({n_trials}), got {len(conditions)} rows"
        )
    names = list(conditions.columns)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"conditions column names must be strings, got {name!r}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"conditions has duplicate columns {duplicated}")
    for name in _NUMERIC_CONDITIONS:
        if name in conditions:
            values = conditions[name].to_numpy()
            if name == "angle":
                check_angles(values, "conditions column 'angle'")
            elif values.dtype.kind not in "iuf" or not np.all(np.isfinite(values)):
                raise ValueError(f"conditions column {name!r} must hold finite numbers (ms), "
                                 f"got dtype {values.dtype} with values {values[:3].tolist()}"
                                 f"{' ...' if len(values) > 3 else ''}")
    for name in _LABEL_CONDITIONS:
        if name in conditions and conditions[name].isna().any():
            row = int(np.flatnonzero(conditions[name].isna().to_numpy())[0])
            raise ValueError(f"conditions column {name!r} has a missing value (trial {row}); "
                             "every trial needs a label")
    return conditions.reset_index(drop=True)


def _check_neuron_ids(neuron_ids, n_neurons: int) -> np.ndarray:
    """Unique integer or string ids, one per neuron."""
    if neuron_ids is None:
        return np.arange(n_neurons)
    ids = np.asarray(neuron_ids)
    if ids.shape != (n_neurons,):
        raise ValueError(
            f"neuron_ids must have shape ({n_neurons},) to match spikes, got {ids.shape}"
        )
    if ids.dtype == object and all(isinstance(i, str) for i in ids):
        ids = ids.astype(str)
    if ids.dtype.kind == "f" and np.all(np.isfinite(ids)) and np.all(ids == np.round(ids)):
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iuU":
        raise TypeError(f"neuron_ids must be integers or strings, got dtype {ids.dtype} "
                        f"(first value {ids.tolist()[0]!r})")
    unique, counts = np.unique(ids, return_counts=True)
    if len(unique) != len(ids):
        raise ValueError(f"neuron_ids must be unique; duplicated: "
                         f"{unique[counts > 1][:5].tolist()}")
    return ids


def _layout(trials: TrialSet) -> dict:
    """What trial sets must share to be concatenated, as comparable Python values."""
    return {
        "(bins, neurons)": trials.spikes.shape[1:],
        "bin_ms": trials.bin_ms,
        "t_start_ms": trials.t_start_ms,
        "neuron_ids": trials.neuron_ids.tolist(),
        "heldout": trials.heldout.tolist(),
        "behavior dims": None if trials.behavior is None else trials.behavior.shape[2],
        "behavior_names": trials.behavior_names,
        "condition columns": sorted(trials.conditions.columns),
        "rates present": trials.rates is not None,
    }


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ...]"


def _positions(index, size: int, what: str) -> np.ndarray:
    """Integer positions (n,) in ``range(size)`` from an int, slice, integers or a bool mask.

    Raises IndexError naming ``what`` ("trial", "neuron") for anything else.
    """
    if isinstance(index, (bool, np.bool_)):
        raise IndexError(f"{what} index must be an int, slice, integers or a boolean mask; "
                         f"got {index!r}")
    if isinstance(index, (int, np.integer)):
        if not -size <= index < size:
            raise IndexError(f"{what} index {index} out of range for {size} {what}s")
        return np.array([int(index) % size])
    if isinstance(index, slice):
        return np.arange(size)[index]
    arr = np.asarray(index)
    if arr.dtype == bool:
        if arr.shape != (size,):
            raise IndexError(f"boolean {what} mask must have shape ({size},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.size == 0:
        return arr.astype(np.intp).ravel()
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        raise IndexError(f"{what} index must be an int, slice, integers or a boolean mask; "
                         f"got dtype {arr.dtype} shape {arr.shape}")
    if arr.max() >= size or arr.min() < -size:
        bad = arr[(arr >= size) | (arr < -size)][0]
        raise IndexError(f"{what} index {bad} out of range for {size} {what}s")
    return arr % size


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
        check_params({"bin_ms": [positive_real], "t_start_ms": [finite_real]},
                     {"bin_ms": bin_ms, "t_start_ms": t_start_ms}, "TrialSet")
        self.spikes = validate_spikes(spikes)
        n_trials, n_bins, n_neurons = self.spikes.shape
        self.bin_ms = float(bin_ms)
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
            behavior_names = list("xyzw"[: behavior.shape[2]]) if behavior.shape[2] <= 4 else [
                f"b{i}" for i in range(behavior.shape[2])
            ]
        if behavior_names is not None:
            if isinstance(behavior_names, str) or not isinstance(behavior_names, Sequence) \
                    or not all(isinstance(n, str) and n for n in behavior_names):
                raise TypeError(f"behavior_names must be a list of non-empty strings, got "
                                f"{behavior_names!r}")
            behavior_names = list(behavior_names)
            if behavior is None or len(behavior_names) != behavior.shape[2]:
                got = None if behavior is None else behavior.shape[2]
                raise ValueError(
                    f"behavior_names has {len(behavior_names)} names but behavior has {got} dims"
                )
            if len(set(behavior_names)) != len(behavior_names):
                raise ValueError(f"behavior_names must be unique, got {behavior_names}")
        self.behavior_names = behavior_names
        self.conditions = _check_conditions(conditions, n_trials)
        self.neuron_ids = _check_neuron_ids(neuron_ids, n_neurons)

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
            # Checked again: the table may have been edited since construction.
            return check_angles(self.conditions["angle"].to_numpy(), "conditions column 'angle'")
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
        rows = _positions(index, self.n_trials, "trial")
        if rows.size == 0:
            raise IndexError("selection holds no trials")
        return self._replace(
            spikes=self.spikes[rows],
            behavior=None if self.behavior is None else self.behavior[rows],
            conditions=self.conditions.iloc[rows],
            rates=None if self.rates is None else self.rates[rows],
        )

    def select_neurons(self, mask_or_index) -> TrialSet:
        """Keep a subset of neurons (boolean mask or integer indices, each neuron once)."""
        idx = _positions(mask_or_index, self.n_neurons, "neuron")
        if idx.size == 0:
            raise ValueError(f"select_neurons needs at least one neuron, got an empty "
                             f"selection {mask_or_index!r}")
        if len(np.unique(idx)) != len(idx):
            raise ValueError(f"select_neurons got neuron {idx[np.argmax(np.bincount(idx))]} "
                             "more than once; each neuron can be kept once")
        return self._replace(
            spikes=self.spikes[:, :, idx],
            neuron_ids=self.neuron_ids[idx],
            rates=None if self.rates is None else self.rates[:, :, idx],
            heldout=self.heldout[idx],
        )

    @classmethod
    def concatenate(cls, sets: Sequence[TrialSet]) -> TrialSet:
        """Stack trial sets of one recording layout along the trial axis.

        The sets must agree on everything but their trials: bins, bin width and start
        time, neurons (ids in the same order, held-out marks), behaviour channels (names),
        condition columns and whether rates are present. Sets that differ would be merged
        into a mislabelled recording, so they are refused, naming what differs.
        """
        sets = list(sets)
        if not sets:
            raise ValueError("concatenate needs at least one TrialSet")
        for i, s in enumerate(sets):
            if not isinstance(s, TrialSet):
                raise TypeError(f"item {i} is a {type(s).__name__}, not a TrialSet")
        layouts = [_layout(s) for s in sets]
        for i, layout in enumerate(layouts[1:], start=1):
            for field, value in layout.items():
                if value != layouts[0][field]:
                    raise ValueError(f"item {i} differs from item 0 in {field}: "
                                     f"{_short(value)} vs {_short(layouts[0][field])}")
        first = sets[0]
        has_rates = first.rates is not None
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
        check_params({"bin_ms": [positive_real]}, {"bin_ms": bin_ms}, "TrialSet.rebin")
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
        check_params({"test_fraction": [Interval(numbers.Real, 0, 1, closed="neither")]},
                     {"test_fraction": test_fraction}, "TrialSet.time_split")
        if "start_ms" not in self.conditions:
            raise ValueError("time_split needs a 'start_ms' condition (see from_continuous)")
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
        stride = window if stride is None else stride
        check_params({"bin_ms": [positive_real], "window": [positive_int],
                      "stride": [positive_int], "t_start_ms": [finite_real]},
                     {"bin_ms": bin_ms, "window": window, "stride": stride,
                      "t_start_ms": t_start_ms}, "TrialSet.from_continuous")
        spikes = np.asarray(spikes)
        if spikes.ndim != 2:
            raise ValueError(f"spikes must have 2 dimensions (time bins, neurons), got shape "
                             f"{spikes.shape}")
        n_time = spikes.shape[0]
        if window > n_time:
            raise ValueError(f"window ({window} bins) is longer than the recording ({n_time} bins)")
        if behavior is not None:
            behavior = as_finite_array(behavior, "behavior", 2).astype(float, copy=False)
            if behavior.shape[0] != n_time:
                raise ValueError(
                    f"behavior must have {n_time} time bins like spikes, got shape {behavior.shape}"
                )
        # Windows overlap when stride < window: the trials can be far larger than the input.
        n_windows = (n_time - window) // stride + 1
        n_channels = spikes.shape[1] + (0 if behavior is None else behavior.shape[1])
        check_memory(8.0 * n_windows * window * n_channels,
                     f"from_continuous(window={window}, stride={stride})",
                     "use a larger stride")
        spikes = validate_spikes(spikes[None], "spikes")[0]
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
        """Write to a compressed ``.npz`` file (atomically); returns the path.

        ``.npz`` is appended to a path without it. An existing file is replaced; an
        existing folder is refused. Condition columns must hold numbers, booleans or
        strings (other objects would not read back as written).
        """
        return write_trialset(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> TrialSet:
        """Read a file written by :meth:`save`.

        A file that is not one (truncated, another .npz, edited metadata) raises ValueError
        naming the file and what is wrong; arrays are read without pickle.
        """
        return read_trialset(path, cls)
