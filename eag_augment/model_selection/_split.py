"""Cross-validation splitters for windows chopped from one continuous recording."""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils.validation import _num_samples

from eag_augment._validation import Interval, check_params, non_negative_int

__all__ = ["BlockedKFold"]


class BlockedKFold(BaseCrossValidator):
    """K folds of contiguous blocks, with a gap between training and validation blocks.

    Windows cut from a continuous recording are not independent: neighbouring windows share
    slow drifts of the neurons and of the behaviour, and a window's spike history reaches into
    the one before it. Shuffled folds therefore validate on windows whose neighbours were in
    training, and overstate scores. Here the samples (in time order) are cut into
    ``n_splits`` contiguous blocks; each block is the validation set once, and the ``gap``
    samples on each side of it are left out of that fold's training set.

    For trials of a task (independent by design), plain ``KFold`` already gives whole-trial
    folds; ``BlockedKFold(gap=0)`` is unshuffled ``KFold``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds (>= 2).
    gap : int, default=1
        Samples (windows) dropped from training on each side of the validation block (>= 0).

    Examples
    --------
    >>> import numpy as np
    >>> from eag_augment.model_selection import BlockedKFold
    >>> for train, val in BlockedKFold(n_splits=3, gap=1).split(np.zeros((9, 20, 4))):
    ...     print(train, val)
    [4 5 6 7 8] [0 1 2]
    [0 1 7 8] [3 4 5]
    [0 1 2 3 4] [6 7 8]
    """

    _parameter_constraints: dict = {
        "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
        "gap": [non_negative_int],
    }

    def __init__(self, n_splits: int = 5, gap: int = 1) -> None:
        self.n_splits = n_splits
        self.gap = gap

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """The number of folds, ``n_splits``."""
        return self.n_splits

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(train indices, validation indices) for each fold, in time order.

        Parameters
        ----------
        X : array (n_samples, ...)
            Samples in time order (e.g. windows (windows, bins, neurons)); only its length
            is used.
        y, groups : ignored
        """
        check_params(self._parameter_constraints, {"n_splits": self.n_splits, "gap": self.gap},
                     type(self).__name__)
        n = _num_samples(X)
        if n < self.n_splits:
            raise ValueError(f"BlockedKFold: cannot make n_splits={self.n_splits} folds of "
                             f"{n} samples")
        index = np.arange(n)
        for block in np.array_split(index, self.n_splits):
            keep = (index < block[0] - self.gap) | (index > block[-1] + self.gap)
            if not keep.any():
                raise ValueError(f"BlockedKFold: gap={self.gap} leaves no training sample "
                                 f"for the validation block {block[0]}..{block[-1]} of {n}")
            yield index[keep], block
