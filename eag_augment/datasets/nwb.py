"""Neural Latents Benchmark (NLB) NWB files <-> :class:`~eag_augment.trials.TrialSet`.

:func:`load_nwb` reads an NLB-layout NWB file (MC_Maze and its scaled versions, Area2_Bump,
MC_RTT) through ``nlb_tools.nwb_interface.NWBDataset`` and cuts the benchmark's windows
(``nlb_tools.make_tensors.PARAMS``: alignment field, window, velocity lag) into a TrialSet.
:func:`save_nwb` writes any TrialSet as an NWB file in that layout, so that synthetic data opens
in every NWB tool and ``load_nwb(save_nwb(trials))`` gives back the same TrialSet.

Resampling policy
-----------------
``NWBDataset`` bins spikes at 1 ms. ``NWBDataset.resample`` fails on pandas 3 (it writes into a
read-only copy-on-write array), so :func:`resample_dataset` re-implements it: spike counts are
summed over ``bin_ms`` slots and non-spike signals go through the same 500-tap FIR decimation as
NLB (``behavior="fir"``), which reproduces NLB's tensors. Files written by :func:`save_nwb` hold
behaviour that is constant over each bin, which FIR decimation would smear; they are resampled
with ``behavior="hold"`` (the first 1 ms sample of each bin), which is exact.

Windows follow ``NWBDataset.make_trial_data``: on the resampled grid (bin ``j`` covers
``[j * bin_ms, (j + 1) * bin_ms)`` ms of the recording) a window starts at the first bin whose
left edge is at or after ``align + start``; behaviour uses the window shifted by the lag.
"""

from __future__ import annotations

import json
import math
import os
import uuid
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eag_augment import __version__
from eag_augment._files import atomic_write, check_output_path
from eag_augment._memory import check_memory
from eag_augment._optional import import_nlb_tools
from eag_augment.datasets import _nwb_metadata
from eag_augment.trials import TrialSet, angle_of_reach

__all__ = ["load_nwb", "read_nwb_metadata", "save_nwb", "resample_dataset", "SUPPORTED_DATASETS"]

#: NLB datasets (keys of ``nlb_tools.make_tensors.PARAMS``) that load into fixed windows.
SUPPORTED_DATASETS = (
    "mc_maze",
    "mc_maze_large",
    "mc_maze_medium",
    "mc_maze_small",
    "area2_bump",
    "mc_rtt",
)
_UNSUPPORTED = {
    "dmfc_rsg": "its trials have variable length and its behaviour is per trial, not velocity"
}
_MAZE_UNITS = {162: "mc_maze_large", 152: "mc_maze_medium", 142: "mc_maze_small"}
_SCRATCH = "eag_augment_layout"
_PROVENANCE = "eag_augment_provenance"
_RATES = "expected_rates"
_WRITER = "eag_augment.datasets.nwb.save_nwb"
_FORMAT_VERSION = 1
_ALIGN_FIELD = "move_onset_time"
# nlb_tools stores 1 ms spike counts as float16, whose integers are exact up to 2048.
_MAX_SPIKES_PER_MS = 2048
# Trial-table names that NWB or nlb_tools reserve or rename; "*_time" columns are also renamed
# on writing, since nlb_tools converts them to timedeltas (nanosecond rounding).
_RESERVED_COLUMNS = frozenset(
    {"id", "trial_id", "start_time", "stop_time", "end_time", "timeseries", "tags", "split",
     "synthetic"}
)


# --------------------------------------------------------------------------- validation
def _whole_ms(value, name: str, *, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of milliseconds, got {value!r}")
    if not math.isfinite(value) or abs(value - round(value)) > 1e-9:
        raise ValueError(
            f"{name} must be a whole number of milliseconds (nlb_tools bins at 1 ms), got {value}"
        )
    if positive and round(value) < 1:
        raise ValueError(f"{name} must be a positive number of milliseconds, got {value}")
    return int(round(value))


def _check_split(split) -> list[str] | None:
    if split is None:
        return None
    names = [split] if isinstance(split, str) else split
    if not isinstance(names, Sequence) or not names or not all(isinstance(s, str) for s in names):
        raise TypeError(f"split must be a string or a sequence of strings, got {split!r}")
    return list(names)


def _check_align_range(align_range_ms) -> tuple[float, float]:
    try:
        start, end = (float(v) for v in align_range_ms)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"align_range_ms must be a pair (start, end) of ms, got {align_range_ms!r}"
        ) from err
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise ValueError(f"align_range_ms must satisfy start < end, got {align_range_ms!r}")
    return start, end


def _n_bins(align_range: tuple[float, float], bin_ms: int) -> int:
    start, end = align_range
    n_bins = (end - start) / bin_ms
    if abs(n_bins - round(n_bins)) > 1e-9:
        raise ValueError(
            f"align_range_ms ({start:g}, {end:g}) spans {end - start:g} ms, not a multiple of "
            f"bin_ms {bin_ms}"
        )
    return int(round(n_bins))


def check_nwb_args(args: dict) -> dict:
    """Check the arguments of :func:`load_nwb` but ``path`` (name -> value), reading nothing.

    Returns them normalised (whole ms as ints, ``align_range_ms`` a float pair, ``split`` a
    list). Run specs call it while they are validated.
    """
    out = dict(args)
    if out["bin_ms"] is not None:
        out["bin_ms"] = _whole_ms(out["bin_ms"], "bin_ms", positive=True)
    if out["lag_ms"] is not None:
        out["lag_ms"] = _whole_ms(out["lag_ms"], "lag_ms", positive=False)
    dataset = out["dataset"]
    if dataset is not None:
        if not isinstance(dataset, str):
            raise TypeError(f"dataset must be a string or None, got {dataset!r}")
        if dataset in _UNSUPPORTED:
            raise ValueError(f"dataset {dataset!r} is not supported: {_UNSUPPORTED[dataset]}")
        if dataset not in SUPPORTED_DATASETS:
            raise ValueError(
                f"unknown dataset {dataset!r}; expected one of {list(SUPPORTED_DATASETS)}"
            )
    if not isinstance(out["include_heldout"], (bool, np.bool_)):
        raise TypeError(f"include_heldout must be True or False, got {out['include_heldout']!r}")
    out["split"] = _check_split(out["split"])
    if out["align_range_ms"] is not None:
        out["align_range_ms"] = _check_align_range(out["align_range_ms"])
        if dataset is not None:
            _n_bins(out["align_range_ms"], 5 if out["bin_ms"] is None else out["bin_ms"])
    return out


# ----------------------------------------------------------------------------- resample
def _sum_bins(values: np.ndarray, factor: int, chunk_rows: int = 1 << 16) -> np.ndarray:
    """Sum consecutive groups of ``factor`` rows of ``values`` (rows, channels), NaN as 0.

    The last group may be partial, as in NLB. Works in chunks so that a session-long float16
    array is never copied whole; sums are float32 (exact for counts up to 2**24).
    """
    n_rows, n_chan = values.shape
    out = np.empty((-(-n_rows // factor), n_chan), dtype=np.float32)
    step = chunk_rows * factor
    for first in range(0, n_rows, step):
        chunk = values[first : first + step].astype(np.float32)
        chunk[np.isnan(chunk)] = 0.0
        short = -len(chunk) % factor
        if short:
            chunk = np.vstack([chunk, np.zeros((short, n_chan), np.float32)])
        out[first // factor : first // factor + len(chunk) // factor] = chunk.reshape(
            -1, factor, n_chan
        ).sum(axis=1)
    return out


def resample_dataset(dataset, bin_ms: int, *, behavior: str = "fir") -> None:
    """Rebin an ``NWBDataset`` in place to ``bin_ms``: a pandas-3-safe ``resample``.

    ``NWBDataset.resample`` fails on pandas 3 ("assignment destination is read-only"); this
    does the same work without writing into pandas' arrays. Spike counts (every signal whose
    name contains ``spikes``) are summed per bin, keeping NaN where the bin's first 1 ms sample
    is NaN (outside ``obs_intervals``). Other signals: ``behavior="fir"`` applies NLB's
    anti-aliasing FIR decimation (``scipy.signal.decimate``, 500 taps, NaN gaps interpolated
    first and restored after), giving NLB's exact values; ``behavior="hold"`` keeps the first
    1 ms sample of each bin, exact for piecewise-constant signals such as those written by
    :func:`save_nwb`. ``target_pos`` is always subsampled, as in NLB.

    Parameters
    ----------
    dataset : nlb_tools.nwb_interface.NWBDataset
    bin_ms : int
        Target bin width in ms, an integer multiple of ``dataset.bin_width``.
    behavior : {"fir", "hold"}
    """
    from scipy import signal

    if behavior not in ("fir", "hold"):
        raise ValueError(f"behavior must be 'fir' or 'hold', got {behavior!r}")
    factor = bin_ms / dataset.bin_width
    if factor < 1 or abs(factor - round(factor)) > 1e-9:
        raise ValueError(
            f"bin_ms must be an integer multiple of the dataset's {dataset.bin_width} ms, "
            f"got {bin_ms}"
        )
    factor = int(round(factor))
    if factor == 1:
        return
    data = dataset.data
    index = data.index[::factor]
    parts = []
    for signal_type in data.columns.get_level_values(0).unique():
        block = data[signal_type]
        values = block.to_numpy()
        if "spikes" in signal_type:
            out = _sum_bins(values, factor)
            out[np.isnan(values[::factor])] = np.nan
        elif signal_type == "target_pos" or behavior == "hold":
            out = values[::factor].copy()
        else:
            sampled_nan = np.isnan(values[::factor].astype(float))
            if np.isnan(values.astype(float)).any():
                values = block.interpolate(limit_direction="both").to_numpy()
            out = signal.decimate(values, factor, axis=0, n=500, ftype="fir")
            out[sampled_nan] = np.nan
            out = out.astype(block.dtypes.iloc[0], copy=False)
        parts.append(
            pd.DataFrame(
                out,
                index=index,
                columns=pd.MultiIndex.from_product(
                    [[signal_type], block.columns], names=("signal_type", "channel")
                ),
            )
        )
    dataset.data = pd.concat(parts, axis=1)
    dataset.data.index.freq = f"{bin_ms}ms"
    dataset.bin_width = bin_ms


# -------------------------------------------------------------------------------- load
def _open_dataset(path: Path):
    """Read ``path`` with pynwb and nlb_tools: (NWBDataset, layout metadata or None, file info)."""
    import h5py
    from pynwb import NWBHDF5IO, TimeSeries

    NWBDataset = import_nlb_tools("nlb_tools.nwb_interface", "load_nwb").NWBDataset

    if not path.exists():
        raise FileNotFoundError(f"no NWB file at {path}")
    if path.is_dir():
        raise ValueError(f"path must be an NWB file, got the directory {path}")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an NWB file (not an HDF5 file)")
    try:
        io = NWBHDF5IO(str(path), "r")
    except Exception as err:  # pynwb/hdmf raise many types for foreign HDF5 layouts
        raise ValueError(f"{path} is not a readable NWB file: {err}") from err
    with io:
        try:
            nwbfile = io.read()
        except Exception as err:
            raise ValueError(f"{path} is not a readable NWB file: {err}") from err
        if nwbfile.units is None or len(nwbfile.units) == 0:
            raise ValueError(f"{path} has no units table: an NLB-layout file needs spike times")
        if nwbfile.trials is None or len(nwbfile.trials) == 0:
            raise ValueError(f"{path} has no trials table: nlb_tools needs trials to load a file")
        meta = None
        if _SCRATCH in nwbfile.scratch:
            try:
                meta = json.loads(str(nwbfile.get_scratch(_SCRATCH)))
            except ValueError as err:
                raise ValueError(f"{path}: its {_SCRATCH!r} scratch entry is not JSON "
                                 f"({err})") from err
            if not isinstance(meta, dict):
                raise ValueError(f"{path}: its {_SCRATCH!r} scratch entry must be a JSON "
                                 f"object, got {type(meta).__name__}")
        has_heldout = "heldout" in nwbfile.units.colnames
        info = {
            "unit_ids": np.asarray(nwbfile.units.id[:]),
            "heldout": np.asarray(nwbfile.units["heldout"][:], dtype=bool)
            if has_heldout
            else np.zeros(len(nwbfile.units), dtype=bool),
            "trial_columns": set(nwbfile.trials.colnames),
            "series": {o.name for o in nwbfile.objects.values() if isinstance(o, TimeSeries)},
            "text": " ".join(
                [path.name, nwbfile.identifier or "", nwbfile.session_description or ""]
            ).lower(),
            "metadata": _nwb_metadata.read_metadata(nwbfile),
        }
        # save_nwb's optional rates are not needed here, and would fill nlb_tools' 1 ms table.
        ds = NWBDataset(nwbfile, split_heldout=has_heldout, skip_fields=[_RATES])
    return ds, meta, info


def _carried_metadata(trials: TrialSet, info: dict, behavior_field: str | None) -> TrialSet:
    """``trials`` with the file's metadata in ``conditions.attrs["nwb_metadata"]``, where
    save_nwb finds it again (pandas keeps attrs through indexing and rebinning)."""
    meta = dict(info["metadata"])
    units = meta.pop("series_units", {})
    if behavior_field in units:
        meta["behavior_unit"] = units[behavior_field]
    trials.conditions.attrs["nwb_metadata"] = meta
    return trials


def _detect_dataset(info: dict, path: Path) -> str:
    cols = info["trial_columns"]
    if {"cond_dir", "ctr_hold_bump"} <= cols:
        return "area2_bump"
    if "finger_vel" in info["series"]:
        return "mc_rtt"
    if {"is_eye", "theta"} <= cols or "set_time" in cols:
        return "dmfc_rsg"
    if {"trial_type", "trial_version"} <= cols:
        for size in ("large", "medium", "small"):
            if f"ses-{size}" in info["text"] or f"mc_maze_{size}" in info["text"]:
                return f"mc_maze_{size}"
        return _MAZE_UNITS.get(len(info["unit_ids"]), "mc_maze")
    raise ValueError(
        f"could not recognise the NLB dataset in {path} (trial columns {sorted(cols)}); "
        f"pass dataset= one of {list(SUPPORTED_DATASETS)}"
    )


def _window_starts(trial_info: pd.DataFrame, align_field: str, offset_ms: float, bin_ms: int):
    """First grid row of each trial's window as ``make_trial_data`` picks it (NaN: unaligned)."""
    align_ms = (trial_info[align_field] / pd.Timedelta(milliseconds=1)).to_numpy(dtype=float)
    # Rounding to 1e-6 bins absorbs float error of second-valued times read into nanoseconds.
    return np.ceil(np.round((align_ms + offset_ms) / bin_ms, 6))


def _windows(values: np.ndarray, starts: np.ndarray, n_bins: int) -> np.ndarray:
    """(rows, channels) float -> (trials, n_bins, channels); NaN outside the data or unaligned."""
    idx = np.nan_to_num(starts, nan=-n_bins).astype(np.int64)[:, None] + np.arange(n_bins)
    out = values[np.clip(idx, 0, len(values) - 1)]
    out[(idx < 0) | (idx >= len(values))] = np.nan
    return out


def _scalar_columns(trial_info: pd.DataFrame) -> pd.DataFrame:
    """Trial-table columns that hold one scalar per trial; times become float seconds."""
    cols = {}
    for name in trial_info.columns:
        col = trial_info[name]
        if pd.api.types.is_timedelta64_dtype(col):
            cols[name] = col.dt.total_seconds()
        elif col.dtype != object or col.map(lambda v: v is None or np.ndim(v) == 0).all():
            cols[name] = col
    return pd.DataFrame(cols, index=trial_info.index)


def _label(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _drop_incomplete(keep, bad, what: str, splits: pd.Series, hint: str = "") -> None:
    bad = bad & keep
    if bad.any():
        where = sorted(map(str, splits[bad].unique()))
        warnings.warn(
            f"load_nwb: dropped {int(bad.sum())} of {int(keep.sum())} trials {what} "
            f"(splits {where}).{' ' + hint if hint else ''}",
            UserWarning,
            stacklevel=3,
        )
        keep &= ~bad


def load_nwb(
    path: str | os.PathLike,
    *,
    dataset: str | None = None,
    bin_ms: int | None = None,
    lag_ms: int | None = None,
    align_range_ms: tuple[float, float] | None = None,
    include_heldout: bool = True,
    split: str | Sequence[str] | None = None,
) -> TrialSet:
    """Read an NLB-layout NWB file into a TrialSet of the benchmark's windows.

    Parameters
    ----------
    path : path to one ``.nwb`` file (e.g. ``sub-Jenkins_ses-full_desc-train_behavior+ecephys.nwb``)
    dataset : str, optional
        Key of ``nlb_tools.make_tensors.PARAMS`` (``'mc_maze'``, ``'mc_maze_small'``,
        ``'area2_bump'``, ``'mc_rtt'``, ...): sets the alignment field, window and velocity
        lag. Detected from the trial columns, behaviour and file name when None; a file written
        by :func:`save_nwb` is recognised and loads back as written.
    bin_ms : int, optional
        Bin width in whole ms. Default: 5 ms (NLB's primary) for NLB files, the written bin
        width for :func:`save_nwb` files (loadable at its multiples only).
    lag_ms : int, optional
        Behaviour lag in ms (behaviour window = spike window shifted by ``lag_ms``). Default:
        the dataset's NLB lag (MC_Maze 100, scaled MC_Maze 120, Area2_Bump -20, MC_RTT 140),
        the written lag for :func:`save_nwb` files.
    align_range_ms : (start, end), optional
        Window around the alignment event in ms (default: NLB's, e.g. (-250, 450) for MC_Maze,
        i.e. 140 bins at 5 ms); ``end - start`` must be a multiple of ``bin_ms``.
    include_heldout : bool
        Keep the held-out neurons (marked in ``TrialSet.heldout``).
    split : str or sequence of str, optional
        Keep trials of these NLB splits ('train', 'val', 'test', 'none'); all when None.

    Returns
    -------
    TrialSet
        spikes (trials, bins, neurons) counts per bin, neurons in the file's unit order with
        unit ids as ``neuron_ids``; behavior (trials, bins, 2): the dataset's velocity
        (``hand_vel``, MC_RTT ``finger_vel``) in the file's units, FIR-decimated as in NLB;
        ``t_start_ms`` = window start relative to the alignment event. Conditions: the trial
        table's scalar columns (``*_time`` in s), ``start_ms`` (window start on the recording
        clock, for :meth:`TrialSet.time_split`), ``angle`` (radians in (-pi, pi]: from
        ``cond_dir`` for Area2_Bump, else the direction of the summed velocity) and
        ``condition`` (NLB's PSTH condition, e.g. ``"<trial_type>_<trial_version>"`` for MC_Maze,
        ``"<cond_dir>_<ctr_hold_bump>"`` for Area2_Bump). ``conditions.attrs["nwb_metadata"]``
        holds the file's session and subject metadata, the behaviour's unit and the trial
        columns' descriptions, which :func:`save_nwb` writes again into files made from these
        trials.

    Notes
    -----
    MC_RTT is continuous; its NLB file chops it into consecutive 600 ms "trials", which are
    kept as windows with their start times and splits.
    Missing data: NLB test trials carry no behaviour and no held-out spikes (NaN), and spikes
    are NaN outside ``obs_intervals``. Trials whose window lacks held-in spikes or an
    alignment time are dropped. If some selected trials lack behaviour (or held-out spikes)
    they are dropped with a warning; if all of them do, behaviour is left out (``behavior``
    None) or the held-out neurons are, with a warning. Pass ``split='train'`` (or
    ``['train', 'val']``) to select labelled trials only.
    """
    path = Path(path)
    args = check_nwb_args(dict(dataset=dataset, bin_ms=bin_ms, lag_ms=lag_ms,
                               align_range_ms=align_range_ms, include_heldout=include_heldout,
                               split=split))
    bin_ms, lag_ms, align_range_ms = args["bin_ms"], args["lag_ms"], args["align_range_ms"]
    splits = args["split"]

    ds, meta, info = _open_dataset(path)
    saved = dataset is None and meta is not None and meta.get("writer") == _WRITER
    if saved:
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(
                f"{path} was written by save_nwb format {meta.get('format_version')}, "
                f"this version reads {_FORMAT_VERSION}"
            )
        try:
            return _load_saved(ds, meta, info, bin_ms, lag_ms, align_range_ms, include_heldout,
                               splits)
        except (KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{path}: its {_SCRATCH!r} layout entry does not match the file "
                             f"(edited, or written by another version?): {err!r}") from err

    if dataset is None:
        dataset = _detect_dataset(info, path)
        if dataset in _UNSUPPORTED:
            raise ValueError(
                f"{path} looks like {dataset!r}, which is not supported: {_UNSUPPORTED[dataset]}"
            )
    params = import_nlb_tools("nlb_tools.make_tensors", "load_nwb").PARAMS[dataset]
    bin_ms = 5 if bin_ms is None else bin_ms
    make = params["make_params"]
    window = make["align_range"] if align_range_ms is None else align_range_ms
    n_bins = _n_bins(window, bin_ms)
    resample_dataset(ds, bin_ms, behavior="fir")
    trials = _cut_windows(
        ds, info, bin_ms=bin_ms, align_field=make["align_field"], start_ms=window[0],
        n_bins=n_bins, lag_ms=params.get("lag", 0) if lag_ms is None else lag_ms,
        behavior_field=params["behavior_field"], include_heldout=include_heldout,
        splits=splits,
    )
    cond_fields = params.get("psth_params", {}).get("cond_fields", [])
    conditions = trials.conditions
    if "cond_dir" in conditions:
        radians = np.deg2rad(conditions["cond_dir"].to_numpy(dtype=float))
        conditions["angle"] = np.angle(np.exp(1j * radians))
    elif trials.behavior is not None:
        conditions["angle"] = angle_of_reach(trials.behavior)
    if cond_fields and set(cond_fields) <= set(conditions):
        conditions["condition"] = [
            "_".join(_label(v) for v in row)
            for row in conditions[cond_fields].itertuples(index=False)
        ]
    return _carried_metadata(trials._replace(conditions=conditions), info,
                             params["behavior_field"])


def _cut_windows(
    ds,
    info: dict,
    *,
    bin_ms: int,
    align_field: str,
    start_ms: float,
    n_bins: int,
    lag_ms: int,
    behavior_field: str | None,
    include_heldout: bool,
    splits: list[str] | None,
) -> TrialSet:
    """Windows of a resampled NWBDataset as a TrialSet with the trial table's scalar columns."""
    trial_info = ds.trial_info.reset_index(drop=True)
    if align_field not in trial_info:
        raise ValueError(
            f"the trials table has no alignment column {align_field!r}; "
            f"columns: {list(trial_info.columns)}"
        )
    split_col = (
        trial_info["split"].astype(str)
        if "split" in trial_info
        else pd.Series("none", index=trial_info.index)
    )
    keep = np.ones(len(trial_info), dtype=bool)
    if splits is not None:
        keep = split_col.isin(splits).to_numpy()
        if not keep.any():
            raise ValueError(
                f"no trials with split {splits}; splits present: {sorted(split_col.unique())}"
            )
    heldout_file = info["heldout"]
    unit_ids = info["unit_ids"]
    if len(np.unique(unit_ids)) != len(unit_ids):
        raise ValueError("the units table has duplicate unit ids; cannot map spikes to units")
    row_starts = _window_starts(trial_info, align_field, start_ms, bin_ms)
    _drop_incomplete(keep, np.isnan(row_starts), f"without {align_field}", split_col)
    n_rows = len(ds.data)
    outside = (row_starts < 0) | (row_starts + n_bins > n_rows)
    _drop_incomplete(keep, outside, "whose window lies outside the recording", split_col)
    neuron_mask = np.ones(len(unit_ids), dtype=bool) if include_heldout else ~heldout_file
    if not neuron_mask.any():
        raise ValueError("every unit is held out: include_heldout=False leaves no neurons")

    groups = {"spikes": ~heldout_file, "heldout_spikes": heldout_file}
    windows = {}
    for field, mask in groups.items():
        if mask.any():
            block = ds.data[field]
            order = pd.Index(block.columns).get_indexer(unit_ids[mask])
            windows[field] = _windows(block.to_numpy(), row_starts, n_bins)[:, :, order]
    if "spikes" in windows:
        _drop_incomplete(keep, np.isnan(windows["spikes"]).any(axis=(1, 2)),
                         "without held-in spikes (outside obs_intervals)", split_col)
    if not keep.any():
        raise ValueError("no selected trial has a complete window of spikes")
    hint = ("NLB test trials have no behaviour or held-out spikes; pass split='train' or "
            "['train', 'val'] to load labelled trials only.")
    use_heldout = include_heldout and "heldout_spikes" in windows
    if use_heldout:
        missing = np.isnan(windows["heldout_spikes"]).any(axis=(1, 2))
        if missing[keep].all():
            warnings.warn(
                "load_nwb: no selected trial has held-out spikes: held-out neurons left out",
                UserWarning, stacklevel=3,
            )
            use_heldout = False
        else:
            _drop_incomplete(keep, missing, "without held-out spikes", split_col, hint)

    behavior, names = None, None
    if behavior_field is not None and behavior_field in ds.data.columns.get_level_values(0):
        block = ds.data[behavior_field]
        beh_starts = _window_starts(trial_info, align_field, start_ms + lag_ms, bin_ms)
        behavior = _windows(block.to_numpy(), beh_starts, n_bins)
        missing = np.isnan(behavior).any(axis=(1, 2))
        if missing[keep].all():
            warnings.warn(
                f"load_nwb: no selected trial has {behavior_field}: behaviour left out",
                UserWarning, stacklevel=3,
            )
            behavior = None
        else:
            _drop_incomplete(keep, missing, f"without {behavior_field}", split_col, hint)
            names = [str(c).strip() for c in block.columns]

    if not use_heldout:
        neuron_mask &= ~heldout_file
    spikes = np.empty((int(keep.sum()), n_bins, len(unit_ids)), dtype=np.int32)
    if "spikes" in windows:
        spikes[:, :, ~heldout_file] = np.rint(windows["spikes"][keep])
    if use_heldout:
        spikes[:, :, heldout_file] = np.rint(windows["heldout_spikes"][keep])
    conditions = _scalar_columns(trial_info)
    conditions["start_ms"] = np.nan_to_num(row_starts) * bin_ms
    return TrialSet(
        spikes[:, :, neuron_mask],
        None if behavior is None else behavior[keep],
        conditions[keep],
        bin_ms=bin_ms,
        neuron_ids=unit_ids[neuron_mask],
        heldout=heldout_file[neuron_mask],
        behavior_names=names,
        t_start_ms=start_ms,
    )


def _load_saved(ds, meta, info, bin_ms, lag_ms, align_range_ms, include_heldout, splits):
    """Load a file written by :func:`save_nwb` back into the TrialSet it was written from."""
    written = int(meta["bin_ms"])
    target = written if bin_ms is None else bin_ms
    if target % written:
        raise ValueError(
            f"this file was written at {written} ms bins: bin_ms must be a multiple of "
            f"{written}, got {bin_ms}"
        )
    if align_range_ms is None:
        align_range_ms = (meta["t_start_ms"], meta["t_start_ms"] + meta["n_bins"] * written)
    n_bins = _n_bins(align_range_ms, written)
    resample_dataset(ds, written, behavior="hold")
    trials = _cut_windows(
        ds, info, bin_ms=written, align_field=_ALIGN_FIELD, start_ms=align_range_ms[0],
        n_bins=n_bins,
        lag_ms=meta["lag_ms"] if lag_ms is None else lag_ms,
        behavior_field=meta["behavior_field"], include_heldout=include_heldout, splits=splits,
    )
    raw = trials.conditions
    conditions = pd.DataFrame(index=raw.index)
    for col in meta["conditions"]:
        dtype = col["dtype"]
        if dtype == "category":
            dtype = pd.CategoricalDtype(col["categories"], ordered=col["ordered"])
        conditions[col["name"]] = raw[col["column"]].astype(dtype)
    ids = np.asarray(meta["neuron_ids"], dtype=np.dtype(meta["neuron_ids_dtype"]))
    position = {uid: i for i, uid in enumerate(info["unit_ids"].tolist())}
    ids = ids[[position[u] for u in trials.neuron_ids.tolist()]]
    names = meta["behavior_names"] if trials.behavior is not None else None
    trials = trials._replace(conditions=conditions, neuron_ids=ids, behavior_names=names)
    trials = _carried_metadata(trials, info, meta["behavior_field"])
    return trials if target == written else trials.rebin(target)


# -------------------------------------------------------------------------------- save
def _condition_columns(conditions: pd.DataFrame) -> tuple[dict[str, Any], list[dict]]:
    """Trial-table columns for the conditions, and the metadata that restores them exactly."""
    from pynwb.epoch import TimeIntervals

    # nlb_tools reads each column as an attribute of the table: names that clash are renamed.
    table = TimeIntervals(name="trials", description="")
    columns, meta = {}, []
    for name in conditions.columns:
        if not isinstance(name, str):
            raise TypeError(f"condition column names must be strings, got {name!r}")
        col = conditions[name]
        entry: dict[str, Any] = {"name": name, "dtype": str(col.dtype)}
        if isinstance(col.dtype, pd.CategoricalDtype):
            entry["categories"] = col.cat.categories.tolist()
            entry["ordered"] = bool(col.cat.ordered)
            col = col.astype(col.cat.categories.dtype)
        kind = col.dtype.kind if isinstance(col.dtype, np.dtype) else None
        if kind in ("b", "i", "u", "f"):
            values = col.to_numpy()
        elif kind == "O" or pd.api.types.is_string_dtype(col.dtype):
            values = col.to_numpy(dtype=object)
            if not all(isinstance(v, str) for v in values):
                raise TypeError(
                    f"condition {name!r} must hold numbers, booleans or strings without "
                    f"missing values; found {next(v for v in values if not isinstance(v, str))!r}"
                )
        else:
            raise TypeError(
                f"condition {name!r} has unsupported dtype {col.dtype}; use numbers, booleans "
                "or strings"
            )
        string_split = name == "split" and values.dtype == object
        column = name
        if not string_split and (
            name in _RESERVED_COLUMNS
            or name == _ALIGN_FIELD
            or name.endswith("_time")
            or hasattr(table, name)
        ):
            column = f"{name}_cond"
        if column in columns:
            raise ValueError(f"conditions {name!r} and another column both map to {column!r}")
        entry["column"] = column
        columns[column] = values
        meta.append(entry)
    return columns, meta


def _spike_times_s(counts: np.ndarray, bin_starts_ms: np.ndarray, bin_ms: int) -> np.ndarray:
    """Spike times (s) that nlb_tools' 1 ms binning turns back into ``counts``.

    A bin's count is spread over its ``bin_ms`` slots of 1 ms (slot ``j`` gets
    ``count // bin_ms + (j < count % bin_ms)``); ``q`` spikes in one slot sit at
    ``slot + (r + 1) / (q + 1)`` ms, strictly inside it and distinct.
    """
    nz = counts > 0
    c, t0 = counts[nz].astype(np.int64), bin_starts_ms[nz]
    slot = np.arange(bin_ms)
    per_slot = c[:, None] // bin_ms + (slot[None, :] < (c[:, None] % bin_ms))
    slot_ms = t0[:, None] + slot[None, :]
    filled = per_slot > 0
    q, slot_ms = per_slot[filled], slot_ms[filled]
    rank = np.arange(q.sum()) - np.repeat(np.cumsum(q) - q, q)
    return (np.repeat(slot_ms, q) + (rank + 1) / (np.repeat(q, q) + 1)) / 1000.0


def _synthetic_mask(is_synthetic, generator, n_trials: int) -> np.ndarray:
    if is_synthetic is None:
        return np.full(n_trials, generator is not None)
    mask = np.asarray(is_synthetic)
    if mask.dtype != bool or mask.shape != (n_trials,):
        raise ValueError(f"is_synthetic must be a boolean array of shape ({n_trials},), one per "
                         f"trial; got dtype {mask.dtype}, shape {mask.shape}")
    return mask


def read_nwb_metadata(path: str | os.PathLike) -> dict:
    """The metadata of an NWB file that :func:`save_nwb` carries over (its ``source=``):
    session fields, ``subject`` (dict), ``series_units``, ``column_descriptions``."""
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(path), "r") as io:
        return _nwb_metadata.read_metadata(io.read())


def save_nwb(
    trials: TrialSet,
    path: str | os.PathLike,
    *,
    lag_ms: int = 0,
    behavior_field: str = "hand_vel",
    behavior_unit: str | None = None,
    gap_ms: int = 100,
    session_description: str | None = None,
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    experiment_description: str | None = None,
    experimenter: str | Sequence[str] | None = None,
    institution: str | None = None,
    lab: str | None = None,
    keywords: Sequence[str] | None = None,
    related_publications: str | Sequence[str] | None = None,
    subject=None,
    source: str | os.PathLike | None = None,
    generator=None,
    random_state=None,
    is_synthetic=None,
    include_rates: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a TrialSet as an NLB-layout NWB file (atomically); returns the path.

    Layout: trials laid end to end on one clock with ``gap_ms`` between them; a ``units``
    table with ``spike_times``, ``obs_intervals`` and a boolean ``heldout`` column (unit ids =
    ``neuron_ids`` when they are unique integers); behaviour as a 1 kHz TimeSeries
    ``behavior_field`` in processing module ``behavior`` with ``comments="columns=[x,y]"``
    (the behaviour names), constant over each bin, held at its first/last value to the
    trial's edges and NaN between trials; a trials table with
    ``start_time``, ``stop_time``, ``move_onset_time`` (the alignment event, ``-t_start_ms``
    from the window start), ``split`` (the ``split`` condition, else ``'train'``) and one
    column per condition (a name that NWB or nlb_tools reserves, or that ends in ``_time``,
    gets a ``_cond`` suffix), plus ``synthetic`` (bool per trial). ``load_nwb`` restores the
    TrialSet exactly (rates are not read back).

    Metadata: what DANDI's upload check (``nwbinspector --config dandi``) requires and
    suggests. Each field comes from its argument, else from the NWB file the trials were
    loaded from (``load_nwb`` keeps it in ``trials.conditions.attrs``) or from ``source``,
    else a default: the session start is then the time of writing, the behaviour unit
    "unknown", and there is no subject, which DANDI rejects (pass ``subject=``). Generated
    trials are described in the file: the per-trial ``synthetic`` column, ``data_collection``
    (a sentence), and ``scratch/eag_augment_provenance`` (JSON: generator class and
    parameters, seed, eag_augment version); ``was_generated_by`` names the package version.

    Parameters
    ----------
    trials : TrialSet
        ``bin_ms`` must be a whole number of ms; at most 2048 spikes per ms of bin (nlb_tools
        holds 1 ms counts in float16).
    path : output file (``.nwb``); written through a temporary file and renamed.
    lag_ms : int
        Lag of ``trials.behavior`` behind the spikes, a multiple of ``bin_ms``: bin ``b``'s
        behaviour is written ``lag_ms`` later than its spikes, so NLB-style loading with this
        lag gives it back.
    behavior_field, behavior_unit : name and unit of the behaviour TimeSeries (e.g. "mm/s").
    gap_ms : int
        Time between consecutive trials (ms).
    session_description, identifier, session_start_time, experiment_description, \
experimenter, institution, lab, keywords, related_publications
        NWBFile fields (``identifier`` defaults to a new UUID; ``session_start_time`` must
        be timezone-aware).
    subject : pynwb.file.Subject or dict, optional
        The animal, e.g. ``{"subject_id": "J", "species": "Macaca mulatta", "sex": "M",
        "age": "P8Y"}`` (DANDI needs id, species, sex and age). For generated trials, the
        subject whose recording the generator was fitted on.
    source : path, optional
        NWB file to take the metadata above from (instead of the one the trials came from),
        e.g. the recording a generator was fitted on.
    generator : fitted generator, optional
        What generated the synthetic trials: its class and parameters are recorded.
    random_state : int, optional
        The seed the synthetic trials were sampled with, recorded with the generator.
    is_synthetic : bool array (trials,), optional
        Which trials are synthetic; all of them when ``generator`` is given, else none.
    include_rates : bool
        Also write ``trials.rates`` (expected spike counts per bin, e.g. of a generator or
        simulator) as the TimeSeries ``expected_rates`` (Hz, one row per bin, timestamps at
        bin starts) in processing module ``ecephys``.
    overwrite : bool
        Replace ``path`` when it exists already (by default an existing file is kept and
        FileExistsError raised, before any work).
    """
    from hdmf.backends.hdf5 import H5DataIO
    from hdmf.common import VectorData, VectorIndex
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals
    from pynwb.misc import Units

    if not isinstance(trials, TrialSet):
        raise TypeError(f"trials must be a TrialSet, got {type(trials).__name__}")
    path = check_output_path(path, "path", overwrite=overwrite)
    for name, value in (("behavior_field", behavior_field), ("behavior_unit", behavior_unit),
                        ("session_description", session_description),
                        ("identifier", identifier)):
        if not (isinstance(value, str) and value) and not (name != "behavior_field"
                                                           and value is None):
            raise TypeError(f"{name} must be a non-empty string, got {value!r}")
    synthetic = _synthetic_mask(is_synthetic, generator, trials.n_trials)
    if include_rates and trials.rates is None:
        raise ValueError("include_rates=True but trials has no rates (TrialSet.rates)")
    carried = trials.conditions.attrs.get("nwb_metadata", {}) if source is None else (
        read_nwb_metadata(source))
    prov = _nwb_metadata.provenance(generator, random_state, trials.n_trials,
                                    int(synthetic.sum()), __version__)
    file_meta = _nwb_metadata.file_metadata(
        dict(session_description=session_description, session_start_time=session_start_time,
             experiment_description=experiment_description, experimenter=experimenter,
             institution=institution, lab=lab, keywords=keywords,
             related_publications=related_publications, subject=subject),
        carried, prov)
    behavior_unit = (behavior_unit or carried.get("behavior_unit")
                     or carried.get("series_units", {}).get(behavior_field) or "unknown")
    k = _whole_ms(trials.bin_ms, "trials.bin_ms", positive=True)
    lag = _whole_ms(lag_ms, "lag_ms", positive=False)
    if lag % k:
        raise ValueError(f"lag_ms must be a multiple of the bin width {k} ms, got {lag_ms}")
    gap = _whole_ms(gap_ms, "gap_ms", positive=False)
    if gap < 0:
        raise ValueError(f"gap_ms must be >= 0, got {gap_ms}")
    peak = int(trials.spikes.max())
    if peak > _MAX_SPIKES_PER_MS * k:
        raise ValueError(
            f"a bin holds {peak} spikes; nlb_tools counts at most {_MAX_SPIKES_PER_MS} per 1 ms "
            f"slot exactly, i.e. {_MAX_SPIKES_PER_MS * k} per {k} ms bin"
        )
    names = trials.behavior_names or []
    for name in names:
        if not name or any(ch in name for ch in ",[] "):
            raise ValueError(
                f"behavior name {name!r} cannot be written as 'columns=[...]': use non-empty "
                "names without commas, brackets or spaces"
            )
    columns, cond_meta = _condition_columns(trials.conditions)
    ids = trials.neuron_ids
    try:
        ids_json = json.loads(json.dumps(ids.tolist()))
    except TypeError as err:
        raise TypeError(f"neuron_ids must be numbers or strings, got dtype {ids.dtype}") from err
    unique_ints = ids.dtype.kind in "iu" and len(np.unique(ids)) == len(ids)
    unit_ids = ids.astype(np.int64) if unique_ints else np.arange(trials.n_neurons)

    # Timeline in ms relative to each window start: window [0, D), behaviour [lag, D + lag),
    # alignment event at -t_start_ms; the trial spans [lo, hi). Window starts sit on the bin
    # grid of the recording clock.
    n_bins, duration = trials.n_bins, trials.n_bins * k
    event = -trials.t_start_ms
    lo = math.floor(min(0, lag, event))
    hi = math.ceil(max(duration, duration + lag, event))
    stride = k * math.ceil((hi - lo + gap) / k)
    first_start = k * math.ceil((gap - lo) / k)
    end_ms = first_start + stride * (trials.n_trials - 1) + hi + gap
    if trials.behavior is not None:
        # Behaviour is written at 1 kHz over the whole session, gaps included.
        check_memory(8.0 * end_ms * trials.behavior.shape[2],
                     f"save_nwb(gap_ms={gap_ms}) of {trials.n_trials} trials of "
                     f"{duration} ms starting at {trials.t_start_ms:g} ms",
                     "use a smaller gap_ms")
    win_start = first_start + stride * np.arange(trials.n_trials)

    nwbfile = NWBFile(identifier=identifier or uuid.uuid4().hex, **file_meta)
    bin_starts = win_start[:, None] + k * np.arange(n_bins)[None, :]
    per_unit = [_spike_times_s(trials.spikes[:, :, n], bin_starts, k)
                for n in range(trials.n_neurons)]
    # Whole columns at once: add_unit row by row makes hdmf convert every spike time singly.
    spike_times = VectorData(name="spike_times", description="spike times (s)",
                             data=np.concatenate(per_unit))
    obs = VectorData(name="obs_intervals", description="observed intervals (s)",
                     data=np.tile([[0.0, end_ms / 1000.0]], (trials.n_neurons, 1)))
    nwbfile.units = Units(
        name="units",
        description=f"spike times re-expanded from spike counts per {k} ms bin (each bin's "
                    "spikes spread over its 1 ms slots): times are known to the bin",
        id=unit_ids,
        resolution=k / 1000.0,
        columns=[
            spike_times,
            VectorIndex(name="spike_times_index", target=spike_times,
                        data=np.cumsum([len(t) for t in per_unit])),
            obs,
            VectorIndex(name="obs_intervals_index", target=obs,
                        data=np.arange(1, trials.n_neurons + 1)),
            VectorData(name="heldout", description="held-out neuron (NLB co-smoothing)",
                       data=trials.heldout.copy()),
        ],
    )
    if trials.behavior is not None:
        # Each bin's value fills its bin_ms samples; the first and last values are held over
        # the rest of the trial, so that nlb_tools (which drops every time step where any
        # signal is NaN) keeps the whole spike window when lag_ms != 0.
        series = np.full((end_ms, trials.behavior.shape[2]), np.nan)
        offsets = np.arange(lo, hi)
        which_bin = np.clip((offsets - lag) // k, 0, n_bins - 1)
        series[win_start[:, None] + offsets[None, :]] = trials.behavior[:, which_bin]
        module = nwbfile.create_processing_module("behavior", "behavioural signals at 1 kHz")
        module.add(
            TimeSeries(
                name=behavior_field,
                data=H5DataIO(series, compression="gzip"),
                unit=behavior_unit,
                rate=1000.0,
                starting_time=0.0,
                comments=f"columns=[{','.join(names)}]",
                description=f"behaviour, constant over each {k} ms bin, NaN between trials",
            )
        )
    table = {
        "start_time": (win_start + lo) / 1000.0,
        "stop_time": (win_start + hi) / 1000.0,
        _ALIGN_FIELD: (win_start + event) / 1000.0,
    }
    if "split" not in columns:
        table["split"] = np.array(["train"] * trials.n_trials, dtype=object)
    table.update(columns)
    table["synthetic"] = synthetic
    described = [c for c in table if c not in ("start_time", "stop_time")]
    nwbfile.trials = TimeIntervals.from_dataframe(
        pd.DataFrame(table), name="trials",
        table_description="one row per trial window of the TrialSet",
        columns=_nwb_metadata.column_descriptions(
            described, carried.get("column_descriptions", {})),
    )
    if include_rates:
        nwbfile.create_processing_module("ecephys", "processed spiking data").add(TimeSeries(
            name=_RATES,
            data=H5DataIO((trials.rates * (1000.0 / k)).reshape(-1, trials.n_neurons)
                          .astype(np.float32), compression="gzip"),
            unit="Hz",
            timestamps=bin_starts.ravel() / 1000.0,
            description=f"expected firing rate of each unit in each {k} ms bin (the model's or "
                        "simulator's rates the spikes were drawn from); a row per bin, "
                        "timestamps at bin starts",
        ))
    nwbfile.add_scratch(json.dumps(prov), name=_PROVENANCE,
                        description="eag_augment provenance: which trials are synthetic and "
                                    "what generated them (JSON)")
    meta = {
        "writer": _WRITER,
        "format_version": _FORMAT_VERSION,
        "bin_ms": k,
        "n_bins": n_bins,
        "t_start_ms": trials.t_start_ms,
        "lag_ms": lag,
        "behavior_field": behavior_field if trials.behavior is not None else None,
        "behavior_names": names or None,
        "neuron_ids": ids_json,
        "neuron_ids_dtype": ids.dtype.str,
        "conditions": cond_meta,
    }
    nwbfile.add_scratch(json.dumps(meta), name=_SCRATCH,
                        description="eag_augment layout: how load_nwb restores the TrialSet")

    def write(tmp: str) -> None:
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwbfile)

    return atomic_write(path, write, ".tmp.nwb")
