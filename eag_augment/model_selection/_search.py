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

__all__ = ["TunedPipeline", "default_search_space", "tune_decoders", "tuned_pipeline"]

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

    ``FactorDecoder``: its decoder's space, as ``decoder__<name>``. Raises ValueError for
    other decoders: give them a ``param_grid``.
    """
    klass = type(decoder)
    if klass.__name__ == "FactorDecoder" and klass.__module__ == "eag_augment.factors":
        inner = default_search_space(decoder.decoder if decoder.decoder is not None
                                     else decoder._decoder())
        return {f"decoder__{k}": v for k, v in inner.items()}
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


def _takes_unlabelled(estimator) -> bool:
    return "unlabelled" in inspect.signature(estimator.fit).parameters


def _learns_unlabelled(augmenter) -> bool:
    """Whether the augmenter's generator learns from unlabelled spikes."""
    generator = augmenter.get_params(deep=False).get("generator")
    return getattr(type(generator), "supports_unlabelled", False)


def _takes_unlabelled_path(estimator) -> bool:
    return "unlabelled" in inspect.signature(estimator.fit_path).parameters


def _fit_decoders(decoder, settings: list[dict], seed: int, X, y, is_synthetic,
                  unlabelled=None) -> list:
    """One fitted decoder per setting (through ``fit_path`` where the decoder shares work);
    decoders that take unlabelled spikes get them."""
    est = _seeded(decoder, seed)
    extra = {"unlabelled": unlabelled} if unlabelled is not None and _takes_unlabelled(est) \
        else {}
    if hasattr(est, "fit_path") and (not extra or _takes_unlabelled_path(est)):
        return est.fit_path(X, y, settings, is_synthetic=is_synthetic, **extra)
    fitted = []
    for setting in settings:
        one = clone(est).set_params(**setting)
        fitted.append(one.fit(X, y, is_synthetic=is_synthetic, **extra) if _takes_mask(one)
                      else one.fit(X, y, **extra))
    return fitted


# ----------------------------------------------------------------------- candidates
def _decoder_settings(decoder, param_grid, n_iter: int | None, random_state) -> list[dict]:
    """The decoder settings to score: the grid, or ``n_iter`` of them drawn at random."""
    grid = param_grid if param_grid is not None else default_search_space(decoder)
    try:
        settings = list(ParameterGrid(grid))
    except (TypeError, ValueError) as err:
        raise ValueError(f"param_grid must be a dict of lists (or a list of such dicts), "
                         f"as for GridSearchCV: {err}") from err
    valid = decoder.get_params(deep=True)
    for setting in settings:
        unknown = sorted(set(setting) - set(valid))
        if unknown:
            raise ValueError(f"param_grid names {unknown}, which {type(decoder).__name__} "
                             f"does not take; its parameters: {sorted(valid)}")
    if n_iter is not None and n_iter < len(settings):
        rng = check_random_state(random_state)
        keep = np.sort(rng.choice(len(settings), n_iter, replace=False))
        settings = [settings[i] for i in keep]
    return settings


def _augmentations(augmenter, ratios, guidance_scales) -> list[tuple[float, float | None]]:
    """(ratio, guidance scale) pairs to score, ratio 0 first (it wins ties)."""
    if augmenter is None:
        return [(0.0, None)]
    ratios = np.asarray(ratios, dtype=float).ravel()
    if ratios.size == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios < 0):
        raise ValueError(f"ratios must be finite numbers >= 0, got {ratios.tolist()!r}")
    if getattr(augmenter, "prefit", False):
        raise ValueError("the augmenter's generator is prefit, so it is not refit per inner "
                         "fold and its trials may come from the validation trials: use "
                         "prefit=False")
    scales = [None]
    if guidance_scales is not None:
        scales = np.asarray(guidance_scales, dtype=float).ravel()
        if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise ValueError(f"guidance_scales must be finite numbers >= 0, got "
                             f"{scales.tolist()!r}")
        scales = sorted({float(g) for g in scales})
    ratios = sorted({float(r) for r in ratios})
    if ratios[0] != 0:
        log.warning("ratios %s leave out 0: the search cannot choose not to augment", ratios)
    return [(r, None if r == 0 else g) for r in ratios for g in (scales if r > 0 else [None])]


# -------------------------------------------------------------------------- the core
def _synthetic_pools(augmenter, X, y, angles, ratio: float, scales: list, seed: int,
                     unlabelled=None):
    """Synthetic (X, y) per guidance scale, ``ceil(ratio)`` rounds of len(X) trials each, from
    one generator fitted on (X, y) (and ``unlabelled`` spikes, if any); rounds are permuted
    inside, so prefixes stay balanced.

    Returns ({scale: (X_syn, y_syn)}, the fitted augmenter of the first scale).
    """
    n = len(X)
    kwargs = {} if angles is None else {"angles": angles}
    rounds = max(1, math.ceil(ratio))
    pools, first = {}, None
    for scale in scales:
        if first is None:
            aug = clone(augmenter).set_params(ratio=rounds, n_synthetic=None, random_state=seed)
            if scale is not None:
                aug.set_params(guidance_scale=scale)
            first = aug
            if unlabelled is not None and _learns_unlabelled(augmenter):
                kwargs["unlabelled"] = unlabelled
        else:
            # The same fitted generator, sampled with the same seed at another scale.
            aug = clone(first).set_params(generator=first.generator_, prefit=True,
                                          guidance_scale=scale)
        X_aug, y_aug = aug.fit_resample(X, y, **kwargs)
        kwargs.pop("unlabelled", None)     # the later scales sample the fitted generator
        X_syn, y_syn = np.asarray(X_aug)[n:], np.asarray(y_aug)[n:]
        rng = np.random.RandomState(seed)
        order = np.concatenate([start + rng.permutation(min(n, len(X_syn) - start))
                                for start in range(0, len(X_syn), n)])
        pools[scale] = (X_syn[order], y_syn[order])
    return pools, first


def _with_synthetic(X, y, pools, ratio: float, scale):
    """(X, y, is_synthetic) of the real trials plus the first ratio * len(X) synthetic ones."""
    n_syn = int(round(ratio * len(X)))
    if n_syn == 0:
        return X, y, np.zeros(len(X), dtype=bool)
    X_syn, y_syn = pools[scale]
    return (np.concatenate([X, X_syn[:n_syn]]), np.concatenate([y, y_syn[:n_syn]]),
            np.arange(len(X) + n_syn) >= len(X))


def _score_fold(k: int, train, val, X, y, angles, augmenter, augmentations, searches, seed,
                say, unlabelled=None) -> dict[str, np.ndarray]:
    """Validation R^2 (augmentations, settings) of every decoder on one inner fold."""
    start = time.perf_counter()
    X_tr, y_tr = X[train], y[train]
    pools = {}
    if augmentations[-1][0] > 0:
        scales = list(dict.fromkeys(g for r, g in augmentations if r > 0))
        pools, _ = _synthetic_pools(augmenter, X_tr, y_tr,
                                    None if angles is None else angles[train],
                                    augmentations[-1][0], scales, seed + k, unlabelled)
    scores = {name: np.empty((len(augmentations), len(settings)))
              for name, (_, settings) in searches.items()}
    for i, (ratio, scale) in enumerate(augmentations):
        X_fit, y_fit, mask = _with_synthetic(X_tr, y_tr, pools, ratio, scale)
        for name, (decoder, settings) in searches.items():
            for j, est in enumerate(_fit_decoders(decoder, settings, seed, X_fit, y_fit, mask,
                                                  unlabelled)):
                scores[name][i, j] = velocity_r2(y[val], est.predict(X[val]))
    say("fold %d: %d augmentation settings x %s scored in %.1f s", k + 1, len(augmentations),
        " + ".join(f"{len(s)} {type(d).__name__} settings" for d, s in searches.values()),
        time.perf_counter() - start)
    return scores


def _tune(searches: dict, augmenter, augmentations, X, y, angles, splits, seed: int,
          n_jobs, say, refit_generator: bool = False, unlabelled=None
          ) -> tuple[dict[str, dict], object]:
    """Search every decoder of ``searches`` (name -> (decoder, settings)) on the same folds and
    synthetic trials, then refit each one's best candidate on all of X.

    Returns (name -> fitted attributes of a :class:`TunedPipeline`, the augmenter fitted on
    all of X or None). ``refit_generator`` fits that augmenter even when every decoder
    chose ratio 0 (for callers that sample more from it).
    """
    folds = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_score_fold)(k, tr, va, X, y, angles, augmenter, augmentations,
                                    searches, seed, say, unlabelled)
        for k, (tr, va) in enumerate(splits))
    chosen = {}
    for name, (_, settings) in searches.items():
        scores = np.stack([fold[name] for fold in folds])   # (folds, augmentations, settings)
        mean = scores.mean(axis=0)
        # Flattened augmentation-major, so the first maximum is at the smallest ratio.
        a, s = np.unravel_index(int(np.argmax(mean.ravel())), mean.shape)
        chosen[name] = (a, s, float(mean[a, s]), scores)

    start = time.perf_counter()
    best_augmentations = {augmentations[a] for a, *_ in chosen.values() if augmentations[a][0]}
    pools, fitted_aug = {}, None
    if best_augmentations or (refit_generator and augmenter is not None):
        scales = list(dict.fromkeys(g for _, g in best_augmentations)) or [augmentations[-1][1]]
        pools, fitted_aug = _synthetic_pools(augmenter, X, y, angles, augmentations[-1][0],
                                             scales, seed + len(splits), unlabelled)
    pool_s = time.perf_counter() - start
    results = {}
    for name, (decoder, settings) in searches.items():
        a, s, best_score, scores = chosen[name]
        ratio, scale = augmentations[a]
        t = time.perf_counter()
        X_fit, y_fit, mask = _with_synthetic(X, y, pools, ratio, scale)
        best = _fit_decoders(decoder, [settings[s]], seed, X_fit, y_fit, mask, unlabelled)[0]
        params = {"ratio": ratio}
        if len({g for _, g in augmentations if g is not None}) > 0:
            params["guidance_scale"] = scale
        results[name] = {
            "best_params_": {**params, **settings[s]}, "best_score_": best_score,
            "cv_results_": _results(scores, augmentations, settings),
            "best_estimator_": best, "augmenter_": fitted_aug if ratio > 0 else None,
            "n_synthetic_": int(mask.sum()),
            "refit_time_": time.perf_counter() - t + (pool_s if ratio > 0 else 0.0),
        }
        say("%s: chose %s (validation R^2 %.3f)", name, results[name]["best_params_"],
            best_score)
    return results, fitted_aug


def _results(scores: np.ndarray, augmentations, settings: list[dict]) -> dict:
    """``cv_results_`` in GridSearchCV's layout from scores (folds, augmentations, settings)."""
    n_folds = scores.shape[0]
    flat = scores.reshape(n_folds, -1)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    order = np.argsort(-mean, kind="stable")
    rank = np.empty(len(mean), dtype=int)
    rank[order] = np.arange(1, len(mean) + 1)
    guided = any(g is not None for _, g in augmentations)
    params = []
    for ratio, scale in augmentations:
        extra = {"guidance_scale": scale} if guided else {}
        params.extend({"ratio": ratio, **extra, **s} for s in settings)
    results = {"params": params,
               "ratio": np.repeat([r for r, _ in augmentations], len(settings)),
               "mean_test_score": mean, "std_test_score": std, "rank_test_score": rank}
    for k in range(n_folds):
        results[f"split{k}_test_score"] = flat[k]
    return results


def _check_xy(X, y, angles, unlabelled=None):
    X = check_trials(X, "X", "(trials, bins, neurons)")
    y = check_trials(y, "y", "(trials, bins, dims)")
    if y.shape[:2] != X.shape[:2]:
        raise ValueError(f"y must have shape ({X.shape[0]}, {X.shape[1]}, dims) to match X "
                         f"{X.shape}, got {y.shape}")
    if angles is not None:
        angles = np.asarray(angles, dtype=float)
        if angles.shape != (len(X),):
            raise ValueError(f"angles must have shape ({len(X)},), got {angles.shape}")
    if unlabelled is not None:
        unlabelled = check_trials(unlabelled, "unlabelled", "(trials, bins, neurons)")
        if unlabelled.shape[1:] != X.shape[1:]:
            raise ValueError(f"unlabelled must have (bins, neurons) {X.shape[1:]} like X, got "
                             f"{unlabelled.shape[1:]}")
    return X, y, angles, unlabelled


class TunedPipeline(RegressorMixin, BaseEstimator):
    """A trial-tensor decoder tuned by inner cross-validation, optionally with augmentation.

    ``fit(X, y)`` scores every candidate (augmentation ratio [x guidance scale] x decoder
    hyperparameters) by velocity R^2 on the validation folds of ``cv`` (real trials only),
    keeps the best, and refits it on all of X: with a generator fitted on all of X when the
    chosen ratio is above 0, and the decoder alone otherwise. Without an augmenter the search
    is over the decoder's hyperparameters only: the tuned baseline.

    Leakage: the generator is refit inside every inner fold on that fold's training trials
    (``n_splits + 1`` generator fits in all), so no synthetic trial used to score a
    candidate comes from a generator that saw the trials it is scored on. A single held-out
    split would cost two fits; it is available as ``cv=[(train_idx, val_idx)]`` or any
    one-split splitter, at the price of a noisier choice. The synthetic trials of the
    largest ratio are generated once per fold (and guidance scale); smaller ratios use nested
    subsets of them (whole rounds of one synthetic trial per training trial, then a random
    part of the next round), so ratios are compared on the same draws.

    Ties go to the smaller ratio, so a generator whose trials do not help leaves the
    pipeline at ratio 0, where it is the tuned baseline.

    Parameters
    ----------
    decoder : estimator
        A trial-tensor decoder (``fit(X, y[, is_synthetic])``, ``predict``); cloned.
    augmenter : SyntheticAugmenter, optional
        Its generator, condition and conditions are used; its ``ratio``, ``n_synthetic``
        (and ``guidance_scale`` when ``guidance_scales`` is given) are set by the search.
        None: no augmentation (the tuned baseline).
    param_grid : dict of lists, or list of such dicts, optional
        Decoder hyperparameters to search (unprefixed names, as for ``GridSearchCV`` on
        the decoder). None: :func:`default_search_space`.
    ratios : sequence of float, default=(0, 1, 2, 4)
        Synthetic trials per real trial to search (with an augmenter; keep 0 in it).
    guidance_scales : sequence of float, optional
        Classifier-free guidance scales to search (e.g. (1, 1.5, 2, 3)); each is sampled
        from the same fitted generator with the same seed. None: the augmenter's own.
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
        ``{"ratio": r, **decoder_params}`` of the chosen candidate (and ``guidance_scale``
        when scales are searched; None at ratio 0).
    best_score_ : float
        Its mean validation R^2.
    cv_results_ : dict of arrays
        Per candidate: ``params``, ``ratio``, ``mean_test_score``, ``std_test_score``,
        ``rank_test_score`` and ``split{k}_test_score``, as in ``GridSearchCV``.
    best_estimator_ : decoder
        The chosen decoder refitted on X (plus synthetic trials when the ratio is above 0).
    augmenter_ : SyntheticAugmenter or None
        The augmenter whose generator made the refit's synthetic trials (None at ratio 0).
    n_synthetic_ : int
        Synthetic trials in the refit.
    refit_time_ : float
        Seconds of the refit (generator fit and sampling included).

    See Also
    --------
    tune_decoders : several decoders tuned on the same folds and the same generator fits.
    """

    _parameter_constraints: dict = {
        "decoder": [HasMethods(["fit", "predict"])],
        "augmenter": [HasMethods(["fit_resample"]), None],
        "param_grid": [dict, list, None],
        "ratios": ["array-like"],
        "guidance_scales": ["array-like", None],
        "cv": ["cv_object"],
        "n_iter": [positive_int, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4),
                 guidance_scales=None, cv=5, n_iter: int | None = None,
                 n_jobs: int | None = None, random_state=None, verbose: int = 0) -> None:
        self.decoder = decoder
        self.augmenter = augmenter
        self.param_grid = param_grid
        self.ratios = ratios
        self.guidance_scales = guidance_scales
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

    def fit(self, X, y, *, angles=None, unlabelled=None) -> TunedPipeline:
        """Search on (X, y) by inner cross-validation, then refit the best candidate on all of it.

        Parameters
        ----------
        X : array (trials, bins, neurons)
            Spike counts of the real training trials.
        y : array (trials, bins, dims)
            Velocity, in the data's units.
        angles : array (trials,), optional
            Reach angle of each trial (radians), passed to the augmenter.
        unlabelled : array (trials, bins, neurons), optional
            Spike counts of the same neurons without velocity (never test-period spikes):
            given to the generator of every fit if it learns from them
            (``supports_unlabelled``) and to decoders whose ``fit`` takes ``unlabelled``.
            They are the same in every inner fold: they carry no label to leak.

        Returns
        -------
        self
        """
        _fit_pipelines({type(self.decoder).__name__: self}, X, y, angles, unlabelled)
        return self

    def predict(self, X) -> np.ndarray:
        """Velocity (trials, bins, dims) predicted by the refitted decoder."""
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """Velocity R^2 of :meth:`predict` (see :func:`eag_augment.metrics.velocity_r2`)."""
        return velocity_r2(y, self.predict(X), sample_weight)


def _fit_pipelines(pipes: dict[str, TunedPipeline], X, y, angles, unlabelled=None) -> None:
    """Fit TunedPipelines that differ only in decoder and param_grid, sharing folds and
    generator fits; every check runs before the first fit."""
    first = next(iter(pipes.values()))
    for pipe in pipes.values():
        pipe._validate_params()
    augmentations = _augmentations(first.augmenter, first.ratios, first.guidance_scales)
    searches = {name: (pipe.decoder, _decoder_settings(pipe.decoder, pipe.param_grid,
                                                        pipe.n_iter, pipe.random_state))
                for name, pipe in pipes.items()}
    X, y, angles, unlabelled = _check_xy(X, y, angles, unlabelled)
    if unlabelled is not None and not (
            first.augmenter is not None and _learns_unlabelled(first.augmenter)) and not any(
            _takes_unlabelled(p.decoder) for p in pipes.values()):
        raise ValueError("unlabelled spikes were given, but nothing here learns from them: "
                         "no generator that supports_unlabelled, and no decoder whose fit "
                         "takes unlabelled")
    splits = list(check_cv(first.cv).split(X, y))
    say = log.info if first.verbose else log.debug
    say("tuning %s: %d folds x %d augmentation settings", ", ".join(searches), len(splits),
        len(augmentations))
    seed = int(check_random_state(first.random_state).randint(2**31 - 1 - 1000))
    results, _ = _tune(searches, first.augmenter, augmentations, X, y, angles, splits, seed,
                       first.n_jobs, say, unlabelled=unlabelled)
    for name, pipe in pipes.items():
        pipe.__dict__.update(results[name])


def tune_decoders(decoders: dict, augmenter, X, y, *, angles=None, unlabelled=None,
                  param_grids=None, ratios=(0, 1, 2, 4), guidance_scales=None, cv=5,
                  n_iter=None, n_jobs=None, random_state=None, verbose: int = 0
                  ) -> dict[str, TunedPipeline]:
    """Tune several decoders on the same inner folds and the same synthetic trials.

    What ``TunedPipeline(decoder, augmenter, ...).fit(X, y)`` does for one decoder, for each
    decoder of ``decoders`` (name -> decoder), with the generator fitted once per inner fold
    (and once for the refit) for all of them. With an int ``random_state`` every result is
    the one a separate :class:`TunedPipeline` with that ``random_state`` gives.

    Parameters
    ----------
    decoders : dict of name -> decoder
    augmenter, X, y, angles, unlabelled, ratios, guidance_scales, cv, n_iter, n_jobs,
    random_state, verbose
        As for :class:`TunedPipeline`.
    param_grids : dict of name -> param_grid, optional
        Missing names (or None) get :func:`default_search_space`.

    Returns
    -------
    dict of name -> fitted TunedPipeline
    """
    if not isinstance(decoders, dict) or not decoders:
        raise TypeError("decoders must be a non-empty dict: name -> decoder")
    param_grids = param_grids or {}
    pipes = {name: TunedPipeline(dec, augmenter, param_grid=param_grids.get(name),
                                 ratios=ratios, guidance_scales=guidance_scales, cv=cv,
                                 n_iter=n_iter, n_jobs=n_jobs, random_state=random_state,
                                 verbose=verbose)
             for name, dec in decoders.items()}
    _fit_pipelines(pipes, X, y, angles, unlabelled)
    return pipes


def tuned_pipeline(decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4),
                   guidance_scales=None, cv=5, n_iter: int | None = None,
                   n_jobs: int | None = None, random_state=None,
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
    return TunedPipeline(decoder, augmenter, param_grid=param_grid, ratios=ratios,
                         guidance_scales=guidance_scales, cv=cv, n_iter=n_iter, n_jobs=n_jobs,
                         random_state=random_state, verbose=verbose)
