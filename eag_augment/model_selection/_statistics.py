"""Confidence intervals for velocity R^2 and for paired differences between pipelines.

The unit of replication is a training segment (or an outer fold): each pipeline is trained on
the segment's trials and predicts the same test trials. A pipeline's score is the mean over
segments of its R^2 on the segment's test trials. A bootstrap replicate resamples segments
with replacement and, within each, the test trials with replacement (a two-level bootstrap),
so the interval covers both the luck of the training segment and that of the test trials.
Differences between pipelines are paired: every replicate uses the same resampled segments
and trials for all of them.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from eag_augment._validation import Interval, check_params, positive_int

__all__ = ["bootstrap_r2"]


def _parts(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Per-trial sums (trials, 3, dims): squared error, y and y^2 over the trial's bins."""
    return np.stack([((y - pred) ** 2).sum(axis=1), y.sum(axis=1), (y**2).sum(axis=1)], axis=1)


def _r2(weights: np.ndarray, parts: np.ndarray, n_bins: int) -> np.ndarray:
    """Variance-weighted R^2 for each row of trial weights (replicates, trials) -> (replicates,).

    Equal to ``velocity_r2(y, pred, sample_weight=w)`` for every row ``w``.
    """
    sse = weights @ parts[:, 0]                       # (replicates, dims)
    s1, s2 = weights @ parts[:, 1], weights @ parts[:, 2]
    n = weights.sum(axis=1, keepdims=True) * n_bins
    sst = s2 - s1**2 / n
    return 1.0 - sse.sum(axis=1) / sst.sum(axis=1)


def _check_segments(y_true, predictions) -> tuple[list[np.ndarray], dict[str, list]]:
    if isinstance(y_true, np.ndarray):
        raise TypeError("y_true must be a list with one test array (trials, bins, dims) per "
                        "segment; wrap a single test set as [y_test]")
    y_true = [np.asarray(y, dtype=np.float64) for y in y_true]
    if not y_true:
        raise ValueError("y_true holds no segment")
    if not isinstance(predictions, Mapping) or not predictions:
        raise TypeError("predictions must be a non-empty dict: pipeline name -> list of "
                        "predictions, one per segment")
    out = {}
    for name, preds in predictions.items():
        preds = [np.asarray(p, dtype=np.float64) for p in preds]
        if len(preds) != len(y_true):
            raise ValueError(f"predictions[{name!r}] has {len(preds)} segments, y_true has "
                             f"{len(y_true)}")
        for s, (y, p) in enumerate(zip(y_true, preds)):
            if y.ndim != 3 or p.shape != y.shape:
                raise ValueError(f"segment {s}: predictions[{name!r}] must have the shape of "
                                 f"y_true {y.shape} (trials, bins, dims), got {p.shape}")
            if not (np.isfinite(y).all() and np.isfinite(p).all()):
                raise ValueError(f"segment {s}: y_true or predictions[{name!r}] holds NaN or "
                                 "infinite values")
        out[name] = preds
    return y_true, out


def bootstrap_r2(
    y_true: Sequence[np.ndarray],
    predictions: Mapping[str, Sequence[np.ndarray]],
    *,
    baseline: str | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    shared_test: bool = False,
    random_state=None,
) -> pd.DataFrame:
    """Mean velocity R^2 over segments with bootstrap intervals, and paired differences.

    Parameters
    ----------
    y_true : list of arrays (trials, bins, dims)
        The test velocity of each segment (training segment or outer fold).
    predictions : dict of name -> list of arrays
        Each pipeline's predictions of every segment's test trials, shaped like ``y_true``.
    baseline : str, optional
        A key of ``predictions``: every pipeline's difference to it is reported.
    n_boot : int, default=2000
        Bootstrap replicates.
    confidence : float, default=0.95
        Coverage of the percentile intervals.
    shared_test : bool, default=False
        True when all segments are scored on the same test trials (e.g. several training
        segments and one held-out test period): a replicate then resamples those trials
        once for all segments, since their luck is common to every segment.
    random_state : int, RandomState or None

    Returns
    -------
    pandas.DataFrame, one row per pipeline
        ``r2`` (mean over segments), ``r2_low``, ``r2_high``, ``n_segments``; with a
        baseline also ``diff`` (mean paired difference to it), ``diff_low``, ``diff_high``
        and ``p_not_above`` (share of replicates in which the difference is <= 0, a
        one-sided bootstrap p-value for "the pipeline beats the baseline").
    """
    check_params({"n_boot": [positive_int],
                  "confidence": [Interval(numbers.Real, 0, 1, closed="neither")],
                  "shared_test": ["boolean"]},
                 {"n_boot": n_boot, "confidence": confidence, "shared_test": shared_test},
                 "bootstrap_r2")
    y_true, predictions = _check_segments(y_true, predictions)
    if baseline is not None and baseline not in predictions:
        raise ValueError(f"baseline {baseline!r} is not among the pipelines "
                         f"{list(predictions)}")
    n_trials = [len(y) for y in y_true]
    if shared_test and len(set(n_trials)) > 1:
        raise ValueError(f"shared_test=True needs the same test trials in every segment; the "
                         f"segments have {n_trials} trials")
    rng = check_random_state(random_state)
    n_seg = len(y_true)
    picks = rng.randint(0, n_seg, size=(n_boot, n_seg))   # segments of each replicate
    weights = []
    for s, n in enumerate(n_trials):
        # Trial weights of segment s in each replicate: how often each trial is drawn.
        if shared_test and s > 0:
            weights.append(weights[0])
        else:
            weights.append(np.stack([np.bincount(rng.randint(0, n, n), minlength=n)
                                     for _ in range(n_boot)]).astype(np.float64))
    ones = [np.ones((1, n)) for n in n_trials]
    rows, replicates = [], {}
    for name, preds in predictions.items():
        point = np.empty(n_seg)
        per_seg = np.empty((n_boot, n_seg))
        for s, (y, p) in enumerate(zip(y_true, preds)):
            parts = _parts(y, p)
            point[s] = _r2(ones[s], parts, y.shape[1])[0]
            per_seg[:, s] = _r2(weights[s], parts, y.shape[1])
        # Replicate b averages the segments it drew, each with its own resampled trials.
        replicates[name] = np.take_along_axis(per_seg, picks, axis=1).mean(axis=1)
        rows.append({"pipeline": name, "r2": point.mean(), "n_segments": n_seg,
                     "segment_r2": point})
    alpha = (1 - confidence) / 2
    table = pd.DataFrame(rows)
    table["r2_low"] = [np.quantile(replicates[n], alpha) for n in table.pipeline]
    table["r2_high"] = [np.quantile(replicates[n], 1 - alpha) for n in table.pipeline]
    if baseline is not None:
        base_point = table.set_index("pipeline").loc[baseline, "segment_r2"]
        diffs = {n: replicates[n] - replicates[baseline] for n in predictions}
        table["diff"] = [np.mean(p - base_point) for p in table.segment_r2]
        table["diff_low"] = [np.quantile(diffs[n], alpha) for n in table.pipeline]
        table["diff_high"] = [np.quantile(diffs[n], 1 - alpha) for n in table.pipeline]
        table["p_not_above"] = [float(np.mean(diffs[n] <= 0)) if n != baseline else np.nan
                                for n in table.pipeline]
    return table
