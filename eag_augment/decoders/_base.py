"""What every trial-tensor decoder shares: input checks, spike-history lags and R^2 scoring.

A decoder maps spike counts ``X`` (trials, bins, neurons) to velocity ``y`` (trials, bins,
dims). ``lags`` bins of spike history, the current bin included, feed each prediction; within
a trial the history before the first bin is zero-padded (no spikes), so every bin gets a
prediction and trials never borrow history from one another.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from eag_augment._validation import positive_int
from eag_augment.metrics import velocity_r2
from eag_augment.provenance import mark_lost, synthetic_mask

__all__ = ["TrialDecoder", "lag_trials"]

# Lagged features are built a block of trials at a time, at most this many numbers per block
# (32 MB in float64), so that long recordings with many lags never need the full lagged tensor.
_BLOCK_ELEMENTS = 1 << 22


# ------------------------------------------------------------------------ array checks
def check_trials(value, name: str, description: str) -> np.ndarray:
    """A finite, real, non-empty 3-D array (no copy where possible)."""
    if value is None:
        raise TypeError(f"{name} is required, got None")
    if scipy.sparse.issparse(value):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense 3-D array "
                        f"{description}")
    arr = np.asarray(value)
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must hold real numbers, got objects of other types") from err
    if arr.dtype.kind == "c":
        raise ValueError(f"{name}: Complex data not supported, got dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(f"{name} must be a 3-D array {description}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        n_bad = arr.size - int(np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    return arr


def check_non_negative(X: np.ndarray, why: str) -> None:
    """Raise if spike counts ``X`` hold a negative value (``why`` says what needs them)."""
    if X.min() < 0:
        raise ValueError(f"X must be non-negative spike counts for {why}; minimum is {X.min()}")


# ------------------------------------------------------------------------------- lags
def lag_trials(X: np.ndarray, lags: int) -> np.ndarray:
    """Stack each bin with its ``lags - 1`` predecessors in the same trial.

    Parameters
    ----------
    X : array (trials, bins, neurons)
    lags : int
        Bins of history, the current one included.

    Returns
    -------
    array (trials, bins, lags * neurons), dtype of ``X`` (float64 for integer input)
        Columns ``k * neurons : (k + 1) * neurons`` hold bin ``t - k``; bins before the start
        of the trial are zeros.
    """
    n_trials, n_bins, n_neurons = X.shape
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    out = np.zeros((n_trials, n_bins, lags, n_neurons), dtype=dtype)
    for k in range(min(lags, n_bins)):
        out[:, k:, k] = X[:, : n_bins - k]
    return out.reshape(n_trials, n_bins, lags * n_neurons)


def apply_lagged_filter(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``lag_trials(X, lags) @ weights.reshape(-1, dims)`` without building the lagged tensor.

    ``X`` is (trials, bins, neurons), ``weights`` (lags, neurons, dims); returns
    (trials, bins, dims) float64.
    """
    X = np.asarray(X, dtype=np.float64)
    n_bins = X.shape[1]
    out = np.zeros(X.shape[:2] + weights.shape[2:], dtype=np.float64)
    for k in range(min(weights.shape[0], n_bins)):
        out[:, k:] += X[:, : n_bins - k] @ weights[k]
    return out


class Moments:
    """Running sums from which means and (co)variances of paired samples F, Y follow.

    F is (samples, p), Y (samples, d); sums are float64 and accumulate block by block.
    """

    def __init__(self, p: int, d: int) -> None:
        self.n = 0
        self.sum_f = np.zeros(p)
        self.sum_y = np.zeros(d)
        self.ff = np.zeros((p, p))
        self.fy = np.zeros((p, d))
        self.yy = np.zeros((d, d))

    def add(self, F: np.ndarray, Y: np.ndarray) -> None:
        F = np.asarray(F, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        self.n += F.shape[0]
        # Overflow is reported once, clearly, by require_finite, not as numpy warnings.
        with np.errstate(over="ignore", invalid="ignore"):
            self.sum_f += F.sum(axis=0)
            self.sum_y += Y.sum(axis=0)
            self.ff += F.T @ F
            self.fy += F.T @ Y
            self.yy += Y.T @ Y

    def leading(self, p: int) -> Moments:
        """The moments of the first ``p`` features only (the same samples)."""
        out = Moments(p, self.sum_y.shape[0])
        out.n, out.sum_y, out.yy = self.n, self.sum_y, self.yy
        out.sum_f, out.ff, out.fy = self.sum_f[:p], self.ff[:p, :p], self.fy[:p]
        return out

    def require_finite(self, **arrays: np.ndarray) -> None:
        """Raise if a sum overflowed: values this large cannot be fitted (nor given LAPACK)."""
        if all(np.isfinite(m).all() for m in (self.sum_f, self.sum_y, self.ff, self.fy,
                                               self.yy)):
            return
        sizes = ", ".join(f"largest |{name}| = {np.abs(a).max():.3g}" for name, a in
                          arrays.items())
        raise ValueError(f"{', '.join(arrays)} hold values too large to fit ({sizes}): their "
                         "products overflow float64; rescale them (spike counts per bin and "
                         "velocity in the data's units are expected)")

    def second_moments(self, center: bool):
        """``(mean_f, mean_y, C_ff, C_fy, C_yy)``, divided by the sample count.

        Centred (covariances) when ``center``; otherwise raw second moments about zero and
        zero means, which is what a model without intercept fits.
        """
        n = self.n
        mean_f, mean_y = self.sum_f / n, self.sum_y / n
        cff, cfy, cyy = self.ff / n, self.fy / n, self.yy / n
        if not center:
            return np.zeros_like(mean_f), np.zeros_like(mean_y), cff, cfy, cyy
        return (mean_f, mean_y, cff - np.outer(mean_f, mean_f), cfy - np.outer(mean_f, mean_y),
                cyy - np.outer(mean_y, mean_y))


def lagged_blocks(X: np.ndarray, lags: int) -> Iterator[tuple[slice, np.ndarray]]:
    """``(trial_slice, lag_trials(X[trial_slice], lags))`` over blocks of whole trials."""
    n_trials, n_bins, n_neurons = X.shape
    per_block = max(1, _BLOCK_ELEMENTS // (n_bins * lags * n_neurons))
    for start in range(0, n_trials, per_block):
        rows = slice(start, min(start + per_block, n_trials))
        yield rows, lag_trials(np.asarray(X[rows], dtype=np.float64), lags)


def lagged_moments(X: np.ndarray, y: np.ndarray, lags: int, *, lead: int = 0,
                   complete_only: bool = False) -> Moments:
    """Moments of the pairs (lagged spikes at bin ``t - lead``, ``y`` at bin ``t``).

    All bins ``t >= lead`` are paired; with ``complete_only`` only those whose whole history
    window lies inside the trial (no zero padding), ``t >= lead + lags - 1``.
    """
    first = lead + (lags - 1 if complete_only else 0)
    n_bins = X.shape[1]
    moments = Moments(lags * X.shape[2], y.shape[2])
    for rows, F in lagged_blocks(X, lags):
        F = F[:, first - lead : n_bins - lead]
        Y = y[rows, first:]
        moments.add(F.reshape(-1, F.shape[2]), Y.reshape(-1, Y.shape[2]))
    moments.require_finite(X=X, y=y)
    return moments


# ------------------------------------------------------------------------- base class
class TrialDecoder(RegressorMixin, BaseEstimator):
    """Base of the velocity decoders: fit/predict/score on trial tensors.

    Subclasses implement ``_fit(X, y, is_synthetic)`` and ``_predict(X)`` on validated
    arrays, and declare their hyperparameters in ``_parameter_constraints`` (merged with
    the base's; see :mod:`eag_augment._validation`), checked at the top of ``fit`` before any
    data is touched. ``lags`` is a hyperparameter of every decoder.

    Fitted attributes set here: ``n_neurons_in_`` (neurons seen in fit) and ``n_outputs_``
    (velocity dims). ``n_features_in_`` is deliberately not set: scikit-learn defines it
    as axis 1 of X, which here is time.
    """

    lags: int
    _parameter_constraints: dict = {"lags": [positive_int]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags

    # Hooks -------------------------------------------------------------------------
    def _needs_synthetic_mask(self) -> bool:
        """Whether fit treats synthetic trials differently (and so must know them)."""
        return False

    def _min_fit_bins(self) -> int:
        """The fewest bins per trial ``fit`` accepts."""
        return self.lags

    def _fit(self, X: np.ndarray, y: np.ndarray, is_synthetic: np.ndarray | None) -> None:
        raise NotImplementedError

    def _predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # Public API --------------------------------------------------------------------
    def fit(self, X, y, is_synthetic=None):
        """Fit on spike counts ``X`` (trials, bins, neurons), velocity ``y`` (trials, bins, dims).

        ``is_synthetic`` (trials,) bool marks generated trials; decoders that hold out
        validation trials take them from the real trials only. When it is None, the mark
        :func:`eag_augment.provenance.mark_synthetic` left on ``X`` or ``y`` is used, if any;
        a decoder that needs it warns when a transformer dropped it. Under scikit-learn
        metadata routing, ``set_fit_request(is_synthetic=True)`` lets a Pipeline or
        :class:`eag_augment.AugmentedDecoder` pass it.

        Returns
        -------
        self
        """
        X, y, is_synthetic = self._check_fit_data(X, y, is_synthetic)
        self._fit(X, y, is_synthetic)
        return self

    def fit_path(self, X, y, settings: list[dict], is_synthetic=None) -> list:
        """One fitted clone of this decoder per hyperparameter setting, sharing work.

        ``settings`` is a list of ``set_params`` dicts; the result is in the same order.
        Decoders whose fit has a part that some hyperparameters do not change (a linear
        filter's covariances do not depend on its penalty) compute that part once; this
        is what makes searching a penalty grid cheap.
        """
        return [clone(self).set_params(**setting).fit(X, y, is_synthetic) for setting in settings]

    def _check_fit_data(self, X, y, is_synthetic):
        """Validated (X, y float64, is_synthetic or None) for fit; sets n_neurons_in_/n_outputs_."""
        if y is None:
            # sklearn's wording, which its estimator checks look for.
            raise ValueError(f"{type(self).__name__} requires y to be passed, "
                             "but the target y is None")
        lost = is_synthetic is None and mark_lost(X, y)
        if is_synthetic is None:
            is_synthetic = synthetic_mask(X, y)
        self._validate_params()
        if is_synthetic is None and lost and self._needs_synthetic_mask():
            warnings.warn(
                f"{type(self).__name__}: X and y came from a SyntheticAugmenter, but the mark "
                "of which trials are synthetic was lost on the way (an operation made new "
                "arrays), so synthetic trials may be used for validation. Pass is_synthetic= "
                "(the augmenter's is_synthetic_) or use eag_augment.AugmentedDecoder.",
                UserWarning, stacklevel=3)
        X = check_trials(X, "X", "(trials, bins, neurons)")
        y = self._check_y(y, X)
        if is_synthetic is not None:
            is_synthetic = np.asarray(is_synthetic)
            if is_synthetic.dtype != bool or is_synthetic.shape != (X.shape[0],):
                raise ValueError(f"is_synthetic must be a boolean array of shape "
                                 f"({X.shape[0]},), one per trial of X; got dtype "
                                 f"{is_synthetic.dtype}, shape {is_synthetic.shape}")
        min_bins = self._min_fit_bins()
        if X.shape[1] < min_bins:
            raise ValueError(
                f"X has {X.shape[1]} bins per trial; {type(self).__name__} with "
                f"{self._describe_history()} needs at least {min_bins} to fit"
            )
        self.n_neurons_in_ = X.shape[2]
        self.n_outputs_ = y.shape[2]
        return X, np.asarray(y, dtype=np.float64), is_synthetic

    def predict(self, X) -> np.ndarray:
        """Predict velocity (trials, bins, dims) from spike counts ``X`` (trials, bins, neurons)."""
        X = self._check_X_fitted(X)
        return self._predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """Velocity R^2 of ``predict(X)`` against ``y`` (trials, bins, dims).

        Bins of all trials are concatenated and R^2 is variance-weighted over dims
        (``sklearn.metrics.r2_score(..., multioutput="variance_weighted")``);
        ``sample_weight`` (trials,) weighs whole trials.
        """
        X = self._check_X_fitted(X)
        y = self._check_y(y, X)
        if y.shape[2] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[2]} dims but {type(self).__name__} was fitted on "
                f"{self.n_outputs_}"
            )
        return velocity_r2(y, self._predict(X), sample_weight)

    # Shared checks -----------------------------------------------------------------
    def _describe_history(self) -> str:
        return f"lags={self.lags}"

    @staticmethod
    def _check_y(y, X: np.ndarray) -> np.ndarray:
        y = check_trials(y, "y", "(trials, bins, dims)")
        if y.shape[:2] != X.shape[:2]:
            raise ValueError(
                f"y must have shape ({X.shape[0]}, {X.shape[1]}, dims) to match X {X.shape}, "
                f"got {y.shape}"
            )
        return y

    def _check_X_fitted(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = check_trials(X, "X", "(trials, bins, neurons)")
        if X.shape[2] != self.n_neurons_in_:
            raise ValueError(
                f"X has {X.shape[2]} neurons but {type(self).__name__} was fitted with "
                f"{self.n_neurons_in_}"
            )
        if X.shape[1] < self.lags:
            raise ValueError(f"X has {X.shape[1]} bins per trial, fewer than lags={self.lags}")
        return X


class LinearTrialDecoder(TrialDecoder):
    """A linear filter on lagged spike counts: ``y[t] = sum_k X[t-k] @ coef_[k] + intercept_``.

    Fitted from the (co)variances of lagged spikes and velocity, accumulated over blocks of
    trials. Subclasses choose how to solve the normal equations.

    Fitted attributes: ``coef_`` (lags, neurons, dims) with ``coef_[k]`` weighting the
    spikes ``k`` bins before the predicted bin, ``intercept_`` (dims,).
    """

    fit_intercept: bool
    _parameter_constraints: dict = {**TrialDecoder._parameter_constraints,
                                    "fit_intercept": ["boolean"]}
    #: Hyperparameters used by ``_solve`` only: settings that differ in nothing else share
    #: their covariances in :meth:`fit_path`.
    _solver_params: tuple[str, ...] = ()

    def _solve(self, cff: np.ndarray, cfy: np.ndarray, n_samples: int,
               power: np.ndarray) -> np.ndarray:
        """Weights (p, dims) from feature covariance ``cff`` (p, p) and ``cfy`` (p, dims);
        ``power`` (p,) is each feature's mean square (its size, against which round-off in
        its variance is judged)."""
        raise NotImplementedError

    def _fit(self, X, y, is_synthetic) -> None:
        self._fit_moments(lagged_moments(X, y, self.lags))

    def _fit_moments(self, moments: Moments) -> None:
        mean_f, mean_y, cff, cfy, _ = moments.second_moments(center=bool(self.fit_intercept))
        weights = self._solve(cff, cfy, moments.n, np.diag(cff) + mean_f**2)
        self.coef_ = weights.reshape(self.lags, self.n_neurons_in_, self.n_outputs_)
        self.intercept_ = mean_y - mean_f @ weights

    def fit_path(self, X, y, settings: list[dict], is_synthetic=None) -> list:
        # Settings that differ only in solver parameters and in lags share one set of
        # covariances: those of fewer lags are the leading block of those of the most.
        groups: dict[tuple, list[int]] = {}
        ests = [clone(self).set_params(**setting) for setting in settings]
        for i, est in enumerate(ests):
            params = est.get_params(deep=False)
            key = tuple(sorted((k, repr(v)) for k, v in params.items()
                               if k not in self._solver_params + ("lags",)))
            groups.setdefault(key, []).append(i)
        for members in groups.values():
            most = max(members, key=lambda i: ests[i].lags)
            X_ok, y_ok, _ = ests[most]._check_fit_data(X, y, is_synthetic)
            moments = lagged_moments(X_ok, y_ok, ests[most].lags)
            for i in members:
                ests[i]._check_fit_data(X, y, is_synthetic)
                ests[i]._fit_moments(moments.leading(ests[i].lags * X_ok.shape[2]))
        return ests

    def _predict(self, X) -> np.ndarray:
        return apply_lagged_filter(X, self.coef_) + self.intercept_
