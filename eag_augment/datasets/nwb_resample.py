"""A pandas-3-safe ``NWBDataset.resample``: NLB's rebinning of a 1 ms dataset.

``NWBDataset`` bins spikes at 1 ms. ``NWBDataset.resample`` fails on pandas 3 (it writes into a
read-only copy-on-write array), so :func:`resample_dataset` re-implements it: spike counts are
summed over ``bin_ms`` slots and non-spike signals go through the same 500-tap FIR decimation as
NLB (``behavior="fir"``), which reproduces NLB's tensors. Files written by :func:`~eag_augment.datasets.save_nwb` hold
behaviour that is constant over each bin, which FIR decimation would smear; they are resampled
with ``behavior="hold"`` (the first 1 ms sample of each bin), which is exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["resample_dataset"]


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
    :func:`~eag_augment.datasets.save_nwb`. ``target_pos`` is always subsampled, as in NLB.

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
