"""Which rows of an augmented training set are synthetic.

imbalanced-learn's Pipeline passes only ``(X, y)`` from a resampler to the next step, so the
augmenter marks its output array itself: :func:`mark_synthetic` returns a view of ``X`` that
carries a boolean ``is_synthetic`` per trial, and decoders read it with
:func:`synthetic_mask` (e.g. to keep synthetic trials out of an early-stopping split).
Any numpy operation that makes a new array drops the mark, so it never leaks further.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mark_synthetic", "synthetic_mask"]


class _MarkedTrials(np.ndarray):
    is_synthetic: np.ndarray

    def __array_finalize__(self, obj) -> None:
        # Views and slices lose the mark: a per-trial mask is meaningless after reindexing.
        self.is_synthetic = None

    def __reduce__(self):
        # Pickle as a plain array (joblib workers): the mark is transient by design.
        return np.asarray(self).__reduce__()


def mark_synthetic(X: np.ndarray, is_synthetic: np.ndarray) -> np.ndarray:
    """Return ``X`` (trials, ...) as a view that records which trials are synthetic."""
    X = np.asarray(X)
    mask = np.asarray(is_synthetic, dtype=bool)
    if mask.shape != (X.shape[0],):
        raise ValueError(f"is_synthetic must have shape ({X.shape[0]},), got {mask.shape}")
    marked = X.view(_MarkedTrials)
    marked.is_synthetic = mask
    return marked


def synthetic_mask(X) -> np.ndarray | None:
    """The per-trial synthetic mask recorded by :func:`mark_synthetic`, or None."""
    mask = getattr(X, "is_synthetic", None)
    if mask is None or np.shape(mask) != (np.shape(X)[0],):
        return None
    return np.asarray(mask, dtype=bool)
