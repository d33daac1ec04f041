"""Tuned decoders, with or without augmentation: the fair comparison every gain is made against.

A gain from synthetic trials only counts if it survives the best the user could do without
them: the same decoder, its hyperparameters searched the same way on the same real trials.
:class:`TunedPipeline` (built by :func:`tuned_pipeline`) does that search, and treats the
augmentation ratio as one more hyperparameter, 0 included, so that an augmented pipeline can
decide not to augment.
"""

from __future__ import annotations

import logging
import numbers

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from eag_augment._validation import HasMethods, StrOptions, positive_int
from eag_augment.metrics import velocity_r2
from eag_augment.model_selection._spaces import default_search_space
from eag_augment.model_selection._tuning import (SELECTIONS, _augmentations, _check_xy,
                                                 _decoder_settings, _learns_unlabelled,
                                                 _takes_unlabelled, _tune)

__all__ = ["TunedPipeline", "default_search_space", "tune_decoders", "tuned_pipeline"]

log = logging.getLogger(__name__)


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
    pipeline at ratio 0, where it is the tuned baseline. With few or small inner folds the
    highest mean can still be an augmented candidate by chance, and its test score then
    falls below the baseline's: ``selection="one_se"`` augments only when the paired gain
    over the best un-augmented candidate exceeds one standard error across inner folds.

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
    selection : {"best", "one_se"}, default="best"
        "best": the candidate with the highest mean validation R^2. "one_se": the same,
        unless it augments and its gain over the best un-augmented candidate (paired by
        inner fold) is not above one standard error of that gain; then the best
        un-augmented candidate. It trades a small expected gain for protection against
        augmentation chosen by validation noise (the standard error of 3-5 folds is itself
        rough).
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
    best_index_ : int
        Its row in ``cv_results_``.
    augmentation_gain_ : tuple of float
        (mean, standard error) over inner folds of the validation R^2 gain of the best
        augmented candidate over the best un-augmented one, paired by fold; NaN without an
        augmenter (or without ratio 0 among ``ratios``).
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
        "selection": [StrOptions(set(SELECTIONS))],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4),
                 guidance_scales=None, cv=5, n_iter: int | None = None,
                 selection: str = "best", n_jobs: int | None = None, random_state=None,
                 verbose: int = 0) -> None:
        self.decoder = decoder
        self.augmenter = augmenter
        self.param_grid = param_grid
        self.ratios = ratios
        self.guidance_scales = guidance_scales
        self.cv = cv
        self.n_iter = n_iter
        self.selection = selection
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
                       first.n_jobs, say, unlabelled=unlabelled, selection=first.selection)
    for name, pipe in pipes.items():
        pipe.__dict__.update(results[name])


def tune_decoders(decoders: dict, augmenter, X, y, *, angles=None, unlabelled=None,
                  param_grids=None, ratios=(0, 1, 2, 4), guidance_scales=None, cv=5,
                  n_iter=None, selection="best", n_jobs=None, random_state=None,
                  verbose: int = 0) -> dict[str, TunedPipeline]:
    """Tune several decoders on the same inner folds and the same synthetic trials.

    What ``TunedPipeline(decoder, augmenter, ...).fit(X, y)`` does for one decoder, for each
    decoder of ``decoders`` (name -> decoder), with the generator fitted once per inner fold
    (and once for the refit) for all of them. With an int ``random_state`` every result is
    the one a separate :class:`TunedPipeline` with that ``random_state`` gives.

    Parameters
    ----------
    decoders : dict of name -> decoder
    augmenter, X, y, angles, unlabelled, ratios, guidance_scales, cv, n_iter, selection,
    n_jobs, random_state, verbose
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
                                 n_iter=n_iter, selection=selection, n_jobs=n_jobs,
                                 random_state=random_state, verbose=verbose)
             for name, dec in decoders.items()}
    _fit_pipelines(pipes, X, y, angles, unlabelled)
    return pipes


def tuned_pipeline(decoder, augmenter=None, *, param_grid=None, ratios=(0, 1, 2, 4),
                   guidance_scales=None, cv=5, n_iter: int | None = None,
                   selection: str = "best", n_jobs: int | None = None, random_state=None,
                   verbose: int = 0) -> TunedPipeline:
    """The fair comparison in one estimator: ``decoder`` tuned by inner CV, with or without
    ``augmenter`` (its ratio searched, 0 included).

    ``tuned_pipeline(RidgeDecoder())`` is the baseline to beat;
    ``tuned_pipeline(RidgeDecoder(), SyntheticAugmenter(EAGGenerator()))`` the
    augmented pipeline, tuned the same way on the same folds. See :class:`TunedPipeline` for
    the parameters and for how leakage is avoided.

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from eag_augment.datasets import make_synthetic_reach
    >>> from eag_augment.decoders import RidgeDecoder
    >>> from eag_augment.model_selection import tuned_pipeline
    >>> trials = make_synthetic_reach(60, random_state=0).rebin(20)
    >>> baseline = tuned_pipeline(RidgeDecoder(), cv=3)
    >>> sorted(baseline.fit(trials.spikes, trials.behavior).best_params_)
    ['alpha', 'lags', 'ratio']
    >>> baseline.best_params_["lags"]  # bins of 20 ms: ridge reads 200 ms of spiking
    10
    """
    return TunedPipeline(decoder, augmenter, param_grid=param_grid, ratios=ratios,
                         guidance_scales=guidance_scales, cv=cv, n_iter=n_iter,
                         selection=selection, n_jobs=n_jobs, random_state=random_state,
                         verbose=verbose)
