"""Neural Latents Benchmark (NLB) NWB files -> :class:`~eag_augment.trials.TrialSet`.

:func:`load_nwb` reads an NLB-layout NWB file (MC_Maze and its scaled versions, Area2_Bump,
MC_RTT) through ``nlb_tools.nwb_interface.NWBDataset`` and cuts the benchmark's windows
(``nlb_tools.make_tensors.PARAMS``: alignment field, window, velocity lag) into a TrialSet.
:func:`~eag_augment.datasets.save_nwb` (:mod:`~eag_augment.datasets.nwb_save`) writes any
TrialSet in that layout, and ``load_nwb(save_nwb(trials))`` gives back the same TrialSet.
Spikes are rebinned by :func:`~eag_augment.datasets.nwb_resample.resample_dataset`.

Windows follow ``NWBDataset.make_trial_data``: on the resampled grid (bin ``j`` covers
``[j * bin_ms, (j + 1) * bin_ms)`` ms of the recording) a window starts at the first bin whose
left edge is at or after ``align + start``; behaviour uses the window shifted by the lag.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from eag_augment._optional import import_nlb_tools
from eag_augment.angles import angle_of_reach
from eag_augment.datasets import _nwb_metadata
from eag_augment.datasets._nwb_layout import (ALIGN_FIELD, FORMAT_VERSION, RATES, SCRATCH,
                                              WRITER, whole_ms)
from eag_augment.datasets.nwb_resample import resample_dataset
from eag_augment.trials import TrialSet

__all__ = ["load_nwb", "check_nwb_args", "SUPPORTED_DATASETS"]

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


# --------------------------------------------------------------------------- validation
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
        out["bin_ms"] = whole_ms(out["bin_ms"], "bin_ms", positive=True)
    if out["lag_ms"] is not None:
        out["lag_ms"] = whole_ms(out["lag_ms"], "lag_ms", positive=False)
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
        if SCRATCH in nwbfile.scratch:
            try:
                meta = json.loads(str(nwbfile.get_scratch(SCRATCH)))
            except ValueError as err:
                raise ValueError(f"{path}: its {SCRATCH!r} scratch entry is not JSON "
                                 f"({err})") from err
            if not isinstance(meta, dict):
                raise ValueError(f"{path}: its {SCRATCH!r} scratch entry must be a JSON "
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
        ds = NWBDataset(nwbfile, split_heldout=has_heldout, skip_fields=[RATES])
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
    saved = dataset is None and meta is not None and meta.get("writer") == WRITER
    if saved:
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path} was written by save_nwb format {meta.get('format_version')}, "
                f"this version reads {FORMAT_VERSION}"
            )
        try:
            return _load_saved(ds, meta, info, bin_ms, lag_ms, align_range_ms, include_heldout,
                               splits)
        except (KeyError, IndexError, TypeError) as err:
            raise ValueError(f"{path}: its {SCRATCH!r} layout entry does not match the file "
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
        ds, info, bin_ms=written, align_field=ALIGN_FIELD, start_ms=align_range_ms[0],
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
