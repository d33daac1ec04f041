"""Tuned decoders, with or without augmentation: the fair comparison every gain is made against.

A gain from synthetic trials only counts if it survives the best the user could do without
them: the same decoder, its hyperparameters searched the same way on the same real trials.
:class:`TunedPipeline` (built by :func:`tuned_pipeline`) does that search, and treats the
augmentation ratio as one more hyperparameter, 0 included, so that an augmented pipeline can
decide not to augment.
"""

from __future__ import annotations

import inspect
import logging
import math
import numbers
import time

import joblib
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import ParameterGrid, check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from eag_augment._validation import HasMethods, positive_int
from eag_augment.decoders._base import check_trials
from eag_augment.metrics import velocity_r2

__all__ = ["TunedPipeline", "default_search_space", "tuned_pipeline"]

log = logging.getLogger(__name__)

#: Search spaces used when ``param_grid`` is None, per decoder of eag_augment.decoders
#: (by class name, so that looking one up does not import torch for the GRU).
DEFAULT_SEARCH_SPACES: dict[str, dict[str, list]] = {
    # Half-decade steps: M1 at 50 ms bins picks 1e3, the simulated reach 1e1..1e2.
    "RidgeDecoder": {"alpha": [float(a) for a in np.logspace(-1, 5, 13)]},
    # Least squares has no penalty to tune; how much history it reads is what overfits.
    "WienerFilterDecoder": {"lags": [1, 2, 3, 5, 10]},
    "KalmanFilterDecoder": {"sqrt_counts": [False, True], "observation_lag": [0, 1, 2, 4],
                            "ridge": [1e-3, 1e-1]},
    "GRUDecoder": {"hidden_size": [32, 64], "dropout": [0.0, 0.3],
                   "weight_decay": [0.0, 1e-2], "patience": [10, 30]},
}


def default_search_space(decoder) -> dict[str, list]:
    """The hyperparameter grid :func:`tuned_pipeline` searches for ``decoder`` by default.

    ======================  ===============================================================
    RidgeDecoder            alpha in 13 half-decade steps from 0.1 to 1e5
    WienerFilterDecoder     lags in (1, 2, 3, 5, 10)
    KalmanFilterDecoder     sqrt_counts (False, True) x observation_lag (0, 1, 2, 4) x
                            ridge (1e-3, 0.1)
    GRUDecoder              hidden_size (32, 64) x dropout (0, 0.3) x weight_decay (0, 0.01)
                            x patience (10, 30)
    ======================  ===============================================================

    Raises ValueError for other decoders: give them a ``param_grid``.
    """
    klass = type(decoder)
    space = DEFAULT_SEARCH_SPACES.get(klass.__name__)
    if space is not None and klass.__module__.startswith("eag_augment.decoders"):
        return {k: list(v) for k, v in space.items()}
    raise ValueError(f"no default search space for {type(decoder).__name__}: pass param_grid= "
                     "(a dict of lists, as for GridSearchCV; {} searches nothing)")


def _takes_mask(decoder) -> bool:
    return "is_synthetic" in inspect.signature(decoder.fit).parameters


def _seeded(estimator, seed: int):
    """A clone with ``random_state`` = seed where it is unset (so refits are reproducible)."""
    est = clone(estimator)
    if est.get_params(deep=False).get("random_state", 0) is None:
        est.set_params(random_state=seed)
    return est


def _fit_decoders(decoder, settings: list[dict], seed: int, X, y, is_synthetic) -> list:
    """One fitted decoder per setting (through ``fit_path`` where the decoder shares work)."""
    est = _seeded(decoder, seed)
    if hasattr(est, "fit_path"):
        return est.fit_path(X, y, settings, is_synthetic=is_synthetic)
    fitted = []
    for setting in settings:
        one = clone(est).set_params(**setting)
        fitted.append(one.fit(X, y, is_synthetic=is_synthetic) if _takes_mask(one)
                      else one.fit(X, y))
    return fitted


class TunedPipeline(RegressorMixin, BaseEstimator):
    """A trial-tensor decoder tuned by inner cross-validation, optionally with augmentation.

    ``fit(X, y)`` scores every candidate (augmentation ratio x decoder hyperparameters) by
    velocity R^2 on the validation folds of ``cv`` (real trials only), keeps the best, and
    refits it on all of X: with a generator fitted on all of X when the chosen ratio is above
    0, and the decoder alone otherwise. Without an augmenter the search is over the decoder's
    hyperparameters only: the tuned baseline.

    Leakage: the generator is refit inside every inner fold on that fold's training trials
    (``n_splits + 1`` generator fits in all), so no synthetic trial used to score a
    candidate comes from a generator that saw the trials it is scored on. A single held-out
    split would cost two fits; it is available as ``cv=[(train_idx, val_idx)]`` or any
    one-split splitter, at the price of a noisier choice. The synthetic trials of the
    largest ratio are generated once per fold; smaller ratios use nested subsets of them
    (whole rounds of one synthetic trial per training trial, then a random part of the
    next round), so ratios are compared on the same draws.

    Ties go to the smaller ratio, so a generator whose trials do not help leaves the
    pipeline at ratio 0, where it is the tuned baseline.

    Parameters
    ----------
    decoder : estimator
        A trial-tensor decoder (``fit(X, y[, is_synthetic])``, ``predict``); cloned.
    augmenter : SyntheticAugmenter, optional
        Its generator, condition and guidance settings are used; its ``ratio`` and
        ``n_synthetic`` are set by the search. None: no augmentation (the tuned baseline).
    param_grid : dict of lists, or list of such dicts, optional
        Decoder hyperparameters to search (unprefixed names, as for ``GridSearchCV`` on
        the decoder). None: :func:`default_search_space`.
    ratios : sequence of float, default=(0, 1, 2, 4)
        Synthetic trials per real trial to search (with an augmenter; keep 0 in it).
    cv : int, splitter or iterable of (train, val) index pairs, default=5
        Inner folds over the trials of X; an int is unshuffled ``KFold`` (whole trials).
        For windows of one continuous recording use
        :class:`~eag_augment.model_selection.BlockedKFold`.
    n_iter : int, optional
        Score only this many decoder settings, drawn at random from the grid (every ratio
        is still scored with each). None: the whole grid.
    n_jobs : int, optional
        Folds scored in parallel (joblib).
    random_state : int, RandomState or None
        Seeds the settings drawn by ``n_iter``, the generator fits and samples, the
        subsets of synthetic trials, and decoders whose own ``random_state`` is None.
    verbose : int, default=0
        >= 1 logs a line per fold and for the refit (logger ``eag_augment``).

    Attributes
    ----------
    best_params_ : dict
        ``{"ratio": r, **decoder_params}`` of the chosen candidate.
    best_score_ : float
        Its mean validation R^2.
    cv_results_ : dict of arrays
        Per candidate: ``params``, ``ratio``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score`` and ``split{k}_test_score``, as in ``GridSearchCV``.
    best_estimator_ : decoder
        The chosen decoder refitted on X (plus synthetic trials when the ratio is above 0).
    augmenter_ : SyntheticAugmenter or None
        The augmenter of the refit (None at ratio 0).
    n_synthetic_ : int
        Synthetic trials in the refit.
    refit_time_ : float
        Seconds of the refit.
    """

    _parameter_constraints: dict = {
        "decoder": [HasMethods(["fit", "predict"])],
        "augmenter": [HasMethods(["fit_resample"]), None],
        "param_grid": [dict, list, None],
        "ratios": ["array-like"],
        "cv": ["cv_object"],
        "n_iter": [positive_int, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4), cv=5,
                 n_iter: int | None = None, n_jobs: int | None = None, random_state=None,
                 verbose: int = 0) -> None:
        self.decoder = decoder
        self.augmenter = augmenter
        self.param_grid = param_grid
        self.ratios = ratios
        self.cv = cv
        self.n_iter = n_iter
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        tags.non_deterministic = self.random_state is None
        return tags

    # ---------------------------------------------------------------- checks
    def _candidates(self, rng: np.random.RandomState) -> tuple[list[float], list[dict]]:
        """(ratios, decoder settings) to score, validated before any fit."""
        ratios = [0.0]
        if self.augmenter is not None:
            ratios = np.asarray(self.ratios, dtype=float).ravel()
            if ratios.size == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios < 0):
                raise ValueError(f"ratios must be finite numbers >= 0, got {self.ratios!r}")
            ratios = sorted({float(r) for r in ratios})
            if getattr(self.augmenter, "prefit", False):
                raise ValueError("the augmenter's generator is prefit, so it is not refit per "
                                 "inner fold and its trials may come from the validation "
                                 "trials: use prefit=False")
            if ratios[0] != 0:
                log.warning("ratios %s leave out 0: the search cannot choose not to augment",
                            ratios)
        grid = self.param_grid if self.param_grid is not None else \
            default_search_space(self.decoder)
        try:
            settings = list(ParameterGrid(grid))
        except (TypeError, ValueError) as err:
            raise ValueError(f"param_grid must be a dict of lists (or a list of such dicts), "
                             f"as for GridSearchCV: {err}") from err
        valid = self.decoder.get_params(deep=True)
        for setting in settings:
            unknown = sorted(set(setting) - set(valid))
            if unknown:
                raise ValueError(f"param_grid names {unknown}, which "
                                 f"{type(self.decoder).__name__} does not take; its "
                                 f"parameters: {sorted(valid)}")
        if self.n_iter is not None and self.n_iter < len(settings):
            keep = np.sort(rng.choice(len(settings), self.n_iter, replace=False))
            settings = [settings[i] for i in keep]
        return ratios, settings

    def _synthetic(self, X, y, angles, n_real: int, ratio: float, seed: int):
        """Synthetic (X, y) for ``ratio`` x ``n_real`` trials from an augmenter fitted on (X, y),
        ordered in rounds of ``n_real`` permuted within each round (prefixes stay balanced)."""
        rounds = math.ceil(ratio)
        aug = clone(self.augmenter).set_params(ratio=rounds, n_synthetic=None, random_state=seed)
        kwargs = {} if angles is None else {"angles": angles}
        X_aug, y_aug = aug.fit_resample(X, y, **kwargs)
        X_syn, y_syn = np.asarray(X_aug)[n_real:], np.asarray(y_aug)[n_real:]
        rng = np.random.RandomState(seed)
        order = np.concatenate([start + rng.permutation(min(n_real, len(X_syn) - start))
                                for start in range(0, len(X_syn), n_real)])
        return X_syn[order], y_syn[order]

    # ------------------------------------------------------------------ fit
    def _score_fold(self, k: int, train, val, X, y, angles, ratios, settings, seed: int):
        """Validation R^2 (ratios, settings) of one fold."""
        start = time.perf_counter()
        X_tr, y_tr = X[train], y[train]
        n = len(train)
        X_syn = y_syn = None
        if ratios[-1] > 0:
            X_syn, y_syn = self._synthetic(X_tr, y_tr, None if angles is None else angles[train],
                                           n, ratios[-1], seed + k)
        scores = np.empty((len(ratios), len(settings)))
        for i, ratio in enumerate(ratios):
            n_syn = int(round(ratio * n))
            X_fit = X_tr if n_syn == 0 else np.concatenate([X_tr, X_syn[:n_syn]])
            y_fit = y_tr if n_syn == 0 else np.concatenate([y_tr, y_syn[:n_syn]])
            mask = np.arange(n + n_syn) >= n
            for j, est in enumerate(_fit_decoders(self.decoder, settings, seed, X_fit, y_fit,
                                                  mask)):
                scores[i, j] = velocity_r2(y[val], est.predict(X[val]))
        self._say("fold %d: %d ratios x %d settings scored in %.1f s", k + 1, len(ratios),
                  len(settings), time.perf_counter() - start)
        return scores

    def _say(self, message: str, *args) -> None:
        (log.info if self.verbose else log.debug)(message, *args)

    def fit(self, X, y, *, angles=None) -> TunedPipeline:
        """Search on (X, y) by inner cross-validation, then refit the best candidate on all of it.

        Parameters
        ----------
        X : array (trials, bins, neurons)
            Spike counts of the real training trials.
        y : array (trials, bins, dims)
            Velocity, in the data's units.
        angles : array (trials,), optional
            Reach angle of each trial (radians), passed to the augmenter.

        Returns
        -------
        self
        """
        self._validate_params()
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(2**31 - 1 - 1000))
        ratios, settings = self._candidates(rng)
        X = check_trials(X, "X", "(trials, bins, neurons)")
        y = check_trials(y, "y", "(trials, bins, dims)")
        if y.shape[:2] != X.shape[:2]:
            raise ValueError(f"y must have shape ({X.shape[0]}, {X.shape[1]}, dims) to match X "
                             f"{X.shape}, got {y.shape}")
        if angles is not None:
            angles = np.asarray(angles, dtype=float)
            if angles.shape != (len(X),):
                raise ValueError(f"angles must have shape ({len(X)},), got {angles.shape}")
        splits = list(check_cv(self.cv).split(X, y))
        self._say("%s: %d folds x %d ratios x %d decoder settings", type(self.decoder).__name__,
                  len(splits), len(ratios), len(settings))
        folds = joblib.Parallel(n_jobs=self.n_jobs)(
            joblib.delayed(self._score_fold)(k, tr, va, X, y, angles, ratios, settings, seed)
            for k, (tr, va) in enumerate(splits))
        scores = np.stack(folds)                       # (folds, ratios, settings)
        mean = scores.mean(axis=0)
        # Flattened ratio-major, so the first maximum is at the smallest ratio.
        best = int(np.argmax(mean.ravel()))
        best_ratio, best_setting = np.unravel_index(best, mean.shape)
        self.best_params_ = {"ratio": ratios[best_ratio], **settings[best_setting]}
        self.best_score_ = float(mean[best_ratio, best_setting])
        self.cv_results_ = self._results(scores, ratios, settings)

        start = time.perf_counter()
        n_syn, X_fit, y_fit, self.augmenter_ = 0, X, y, None
        if ratios[best_ratio] > 0:
            self.augmenter_ = clone(self.augmenter).set_params(
                ratio=ratios[best_ratio], n_synthetic=None, random_state=seed + len(splits))
            X_fit, y_fit = self.augmenter_.fit_resample(
                X, y, **({} if angles is None else {"angles": angles}))
            X_fit = np.asarray(X_fit)
            n_syn = len(X_fit) - len(X)
        self.best_estimator_ = _fit_decoders(self.decoder, [settings[best_setting]], seed, X_fit,
                                             y_fit, np.arange(len(X_fit)) >= len(X))[0]
        self.n_synthetic_ = n_syn
        self.refit_time_ = time.perf_counter() - start
        self._say("chose %s (validation R^2 %.3f); refit with %d synthetic trials in %.1f s",
                  self.best_params_, self.best_score_, n_syn, self.refit_time_)
        return self

    @staticmethod
    def _results(scores: np.ndarray, ratios: list[float], settings: list[dict]) -> dict:
        n_folds = scores.shape[0]
        flat = scores.reshape(n_folds, -1)
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        order = np.argsort(-mean, kind="stable")
        rank = np.empty(len(mean), dtype=int)
        rank[order] = np.arange(1, len(mean) + 1)
        results = {
            "params": [{"ratio": r, **s} for r in ratios for s in settings],
            "ratio": np.repeat(ratios, len(settings)),
            "mean_test_score": mean, "std_test_score": std, "rank_test_score": rank,
        }
        for k in range(n_folds):
            results[f"split{k}_test_score"] = flat[k]
        return results

    # -------------------------------------------------------------- predict
    def predict(self, X) -> np.ndarray:
        """Velocity (trials, bins, dims) predicted by the refitted decoder."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """Velocity R^2 of :meth:`predict` (see :func:`eag_augment.metrics.velocity_r2`)."""
        return velocity_r2(y, self.predict(X), sample_weight)


def tuned_pipeline(decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4), cv=5,
                   n_iter: int | None = None, n_jobs: int | None = None, random_state=None,
                   verbose: int = 0) -> TunedPipeline:
    """The fair comparison in one estimator: ``decoder`` tuned by inner CV, with or without
    ``augmenter`` (its ratio searched, 0 included).

    ``tuned_pipeline(RidgeDecoder(lags=5))`` is the baseline to beat;
    ``tuned_pipeline(RidgeDecoder(lags=5), SyntheticAugmenter(EAGGenerator()))`` the
    augmented pipeline, tuned the same way on the same folds. See :class:`TunedPipeline` for
    the parameters and for how leakage is avoided.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from eag_augment.datasets import make_synthetic_reach
    >>> from eag_augment.decoders import RidgeDecoder
    >>> from eag_augment.model_selection import tuned_pipeline
    >>> trials = make_synthetic_reach(60, n_neurons=20, random_state=0).rebin(20)
    >>> baseline = tuned_pipeline(RidgeDecoder(lags=3), cv=3)
    >>> baseline.fit(trials.spikes, trials.behavior).best_params_  # doctest: +SKIP
    {'ratio': 0.0, 'alpha': 10.0}
    """
    return TunedPipeline(decoder, augmenter, param_grid=param_grid, ratios=ratios, cv=cv,
                         n_iter=n_iter, n_jobs=n_jobs, random_state=random_state,
                         verbose=verbose)
