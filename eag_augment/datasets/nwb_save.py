"""TrialSet -> NWB file in the Neural Latents Benchmark layout.

:func:`save_nwb` writes any TrialSet (recorded or generated) so that it opens in every NWB
tool and :func:`~eag_augment.datasets.load_nwb` gives back the same TrialSet;
:func:`read_nwb_metadata` reads the metadata it carries over from a recording.
"""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eag_augment import __version__
from eag_augment._files import atomic_write, check_output_path
from eag_augment._memory import check_memory
from eag_augment.datasets import _nwb_metadata
from eag_augment.datasets._nwb_layout import (ALIGN_FIELD, FORMAT_VERSION, RATES, SCRATCH,
                                              WRITER, whole_ms)
from eag_augment.trials import TrialSet

__all__ = ["read_nwb_metadata", "save_nwb"]

_PROVENANCE = "eag_augment_provenance"
# nlb_tools stores 1 ms spike counts as float16, whose integers are exact up to 2048.
_MAX_SPIKES_PER_MS = 2048
# Trial-table names that NWB or nlb_tools reserve or rename; "*_time" columns are also renamed
# on writing, since nlb_tools converts them to timedeltas (nanosecond rounding).
_RESERVED_COLUMNS = frozenset(
    {"id", "trial_id", "start_time", "stop_time", "end_time", "timeseries", "tags", "split",
     "synthetic"}
)


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
            or name == ALIGN_FIELD
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
    k = whole_ms(trials.bin_ms, "trials.bin_ms", positive=True)
    lag = whole_ms(lag_ms, "lag_ms", positive=False)
    if lag % k:
        raise ValueError(f"lag_ms must be a multiple of the bin width {k} ms, got {lag_ms}")
    gap = whole_ms(gap_ms, "gap_ms", positive=False)
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
        ALIGN_FIELD: (win_start + event) / 1000.0,
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
            name=RATES,
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
        "writer": WRITER,
        "format_version": FORMAT_VERSION,
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
    nwbfile.add_scratch(json.dumps(meta), name=SCRATCH,
                        description="eag_augment layout: how load_nwb restores the TrialSet")

    def write(tmp: str) -> None:
        with NWBHDF5IO(tmp, "w") as io:
            io.write(nwbfile)

    return atomic_write(path, write, ".tmp.nwb")
