"""Which rows of an augmented training set are synthetic, when nothing passes it explicitly.

The explicit ways are ``decoder.fit(X, y, is_synthetic=mask)`` (routable with
``set_fit_request(is_synthetic=True)`` under scikit-learn metadata routing) and
:class:`eag_augment.AugmentedDecoder`. Inside an :class:`imblearn.pipeline.Pipeline`, whose
resamplers can return only ``(X, y)`` (imbalanced-learn 0.14), the augmenter marks both
arrays it returns: :func:`mark_synthetic` gives a view that carries a boolean
``is_synthetic`` per trial, and decoders read it with :func:`synthetic_mask` (e.g. to keep
synthetic trials out of an early-stopping split). The mark on ``y`` is what reaches the
decoder when transformers sit in between: they make a new ``X`` but pass ``y`` on as it is.

Any numpy operation that makes a new array drops the mark, so it never leaks further; a
new array computed from a marked one (``np.sqrt(X_aug)``) remembers that it lost it, which
:func:`mark_lost` reports so that a decoder that needs the mark can warn.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mark_lost", "mark_synthetic", "synthetic_mask"]


class _MarkedTrials(np.ndarray):
    is_synthetic: np.ndarray | None
    mark_lost: bool

    def __array_finalize__(self, obj) -> None:
        # Views, slices and results lose the mark: a per-trial mask is meaningless after
        # reindexing or computing.
        self.is_synthetic = None
        self.mark_lost = getattr(obj, "is_synthetic", None) is not None or getattr(
            obj, "mark_lost", False)

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


def synthetic_mask(*arrays) -> np.ndarray | None:
    """The per-trial mask recorded by :func:`mark_synthetic` on the first marked array, or
    None (e.g. ``synthetic_mask(X, y)``)."""
    for arr in arrays:
        mask = getattr(arr, "is_synthetic", None)
        if mask is not None and np.shape(mask) == (np.shape(arr)[0],):
            return np.asarray(mask, dtype=bool)
    return None


def mark_lost(*arrays) -> bool:
    """Whether one of ``arrays`` was computed from a marked array, dropping its mark."""
    return any(getattr(arr, "mark_lost", False) for arr in arrays)
