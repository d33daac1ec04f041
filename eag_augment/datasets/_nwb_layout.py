"""What the NWB reader (:mod:`~eag_augment.datasets.nwb`) and writer
(:mod:`~eag_augment.datasets.nwb_save`) agree on: the scratch entries of a file that
:func:`~eag_augment.datasets.save_nwb` wrote, the alignment field, and times in whole ms."""

from __future__ import annotations

import math

import numpy as np

SCRATCH = "eag_augment_layout"
RATES = "expected_rates"
# The format's name, stored in every file and checked on reading: it stays what the first
# version wrote, when save_nwb lived in eag_augment.datasets.nwb.
WRITER = "eag_augment.datasets.nwb.save_nwb"
FORMAT_VERSION = 1
ALIGN_FIELD = "move_onset_time"


def whole_ms(value, name: str, *, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number of milliseconds, got {value!r}")
    if not math.isfinite(value) or abs(value - round(value)) > 1e-9:
        raise ValueError(
            f"{name} must be a whole number of milliseconds (nlb_tools bins at 1 ms), got {value}"
        )
    if positive and round(value) < 1:
        raise ValueError(f"{name} must be a positive number of milliseconds, got {value}")
    return int(round(value))
