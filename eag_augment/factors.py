"""FactorDecoder: a decoder on the (log) rates a Poisson autoencoder infers, which learns
from unlabelled spikes too.

Neural data is cheap where behavioural labels are not: a session often has far more spikes
than calibrated velocity. A generator can learn the structure of those unlabelled spikes
(``EAGGenerator.fit(trials, unlabelled=...)``), and so can a decoder that reads latent
factors. :class:`FactorDecoder` is that decoder, and the fair baseline for label-scarce
augmentation: it gets the same unlabelled spikes as the generator, through the same
autoencoder (EAG's stage 1), without generating anything.
"""

from __future__ import annotations

import hashlib
import numbers
from collections import OrderedDict

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.validation import check_is_fitted

from eag_augment._validation import HasMethods, StrOptions
from eag_augment.decoders import RidgeDecoder
from eag_augment.decoders._base import check_non_negative, check_trials
from eag_augment.generators.autoencoder import LatentAutoencoder, unlabelled_behavior
from eag_augment.metrics import velocity_r2
from eag_augment.provenance import synthetic_mask

__all__ = ["FactorDecoder"]

# Seeded autoencoders already fitted in this process, by what decides them. A search fits a
# FactorDecoder on several augmentations of the same real trials (every ratio and guidance
# scale of every inner fold), and its autoencoder leaves synthetic trials out, so without
# this it would fit the same autoencoder again for each.
_FITTED: OrderedDict[str, LatentAutoencoder] = OrderedDict()
_FITTED_MAX = 4


def _fit_once(ae: LatentAutoencoder, spikes: np.ndarray, behavior: np.ndarray | None
              ) -> LatentAutoencoder:
    """``ae`` fitted on ``spikes`` and ``behavior``, or the same fit made earlier in this
    process (a seeded fit gives the same model, so only the time differs)."""
    if not isinstance(ae.random_state, numbers.Integral):
        return ae.fit(spikes, behavior)
    digest = hashlib.sha256(repr(sorted(ae.get_params(deep=False).items())).encode())
    for part in (spikes, behavior):
        digest.update(b"-" if part is None else
                      f"{part.shape}{part.dtype}".encode() + np.ascontiguousarray(part).tobytes())
    key = digest.hexdigest()
    if key not in _FITTED:
        _FITTED[key] = ae.fit(spikes, behavior)
        while len(_FITTED) > _FITTED_MAX:
            _FITTED.popitem(last=False)
    _FITTED.move_to_end(key)
    return _FITTED[key]


class FactorDecoder(RegressorMixin, BaseEstimator):
    """Decode velocity from the smoothed log-rates an autoencoder infers from the spikes.

    ``fit`` trains the autoencoder on the real training spikes plus, when given, unlabelled
    spike counts of the same neurons (synthetic trials marked by ``is_synthetic`` are left
    out of it), then fits ``decoder`` on the log-rates it infers for every training trial.
    ``predict`` infers the log-rates of new trials and decodes them.

    Parameters
    ----------
    decoder : trial-tensor decoder, default=None
        Fitted on the inferred features (trials, bins, neurons); cloned.
        None: ``RidgeDecoder(lags=5)``.
    autoencoder : LatentAutoencoder, default=None
        Stage-1 settings (None: the defaults); cloned.
    features : {"log_rates", "rates"}, default="log_rates"
        What the decoder reads: the natural log of the inferred rates, or the rates
        (expected counts per bin). Rates are exponentials: a window unlike the training ones
        can push a few neurons' inferred rates far past anything the decoder was fitted on,
        and a linear decoder turns that into huge velocities. On one fold of the label-scarce
        M1 benchmark, test rates reached 13.6x the training maximum and ridge scored R^2
        0.49 on rates against 0.77 on log-rates (0.74 on both in a fold without outliers).
    random_state : int or None, default=None
        Seeds the autoencoder when its own ``random_state`` is None, so that a benchmark's
        per-fold seed reaches it.

    Attributes
    ----------
    autoencoder_ : LatentAutoencoder
        Fitted on the real training and the unlabelled spikes.
    decoder_ : decoder
        Fitted on the inferred features.
    n_unlabelled_ : int
        Unlabelled trials the autoencoder learned from.

    Notes
    -----
    A seeded autoencoder fitted on the same spikes with the same settings is fitted once per
    process and shared (the last few are kept): a search over augmentations of the same real
    trials, whose synthetic trials the autoencoder leaves out, then fits it once per inner
    fold instead of once per candidate. The results are those of separate fits.

    Hyperparameters of the decoder are searched as ``decoder__<name>``
    (:func:`eag_augment.model_selection.tuned_pipeline` does so by default).
    """

    _parameter_constraints: dict = {
        "decoder": [HasMethods(["fit", "predict"]), None],
        "autoencoder": [LatentAutoencoder, None],
        "features": [StrOptions({"log_rates", "rates"})],
        "random_state": ["random_state"],
    }

    def __init__(self, decoder=None, autoencoder=None, features: str = "log_rates",
                 random_state: int | None = None) -> None:
        self.decoder = decoder
        self.autoencoder = autoencoder
        self.features = features
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags

    def _fit_autoencoder(self, X, y, is_synthetic, unlabelled):
        """Validated X and the autoencoder fitted on its real trials and ``unlabelled`` (with
        the real trials' ``y`` as its behaviour where its ``behavior_weight`` > 0)."""
        self._validate_params()
        if is_synthetic is None:
            is_synthetic = synthetic_mask(X)
        X = check_trials(X, "X", "(trials, bins, neurons)")
        check_non_negative(X, "the autoencoder")
        real = slice(None) if is_synthetic is None else ~np.asarray(is_synthetic, dtype=bool)
        ae = clone(self.autoencoder) if self.autoencoder is not None else LatentAutoencoder()
        if ae.random_state is None:
            ae.set_params(random_state=self.random_state)
        spikes = X[real]
        behavior = check_trials(y, "y", "(trials, bins, dims)")[real] \
            if ae.behavior_weight > 0 else None
        self.n_unlabelled_ = 0
        if unlabelled is not None:
            unlabelled = check_trials(unlabelled, "unlabelled", "(trials, bins, neurons)")
            if unlabelled.shape[1:] != X.shape[1:]:
                raise ValueError(f"unlabelled must have (bins, neurons) {X.shape[1:]} like X, "
                                 f"got {unlabelled.shape[1:]}")
            check_non_negative(unlabelled, "the autoencoder")
            spikes = np.concatenate([spikes, unlabelled])
            behavior = unlabelled_behavior(behavior, len(unlabelled))
            self.n_unlabelled_ = len(unlabelled)
        self.autoencoder_ = _fit_once(ae, np.round(spikes).astype(np.int32), behavior)
        return X

    def _features(self, X: np.ndarray) -> np.ndarray:
        rates = self.autoencoder_.predict_rates(np.round(X).astype(np.int32)).astype(np.float64)
        return np.log(rates) if self.features == "log_rates" else rates

    def _decoder(self):
        return clone(self.decoder) if self.decoder is not None else RidgeDecoder(lags=5)

    def fit(self, X, y, is_synthetic=None, unlabelled=None) -> FactorDecoder:
        """Fit on spike counts ``X`` (trials, bins, neurons) and velocity ``y`` (trials, bins,
        dims), with optional unlabelled spike counts (trials, bins, neurons).

        Never pass spikes of the test period as ``unlabelled``.
        """
        X = self._fit_autoencoder(X, y, is_synthetic, unlabelled)
        self.decoder_ = self._decoder().fit(self._features(X), y, is_synthetic=is_synthetic)
        return self

    def fit_path(self, X, y, settings: list[dict], is_synthetic=None, unlabelled=None) -> list:
        """One fitted clone per ``decoder__`` setting, sharing the autoencoder fit."""
        if any(not k.startswith("decoder__") for s in settings for k in s):
            return [clone(self).set_params(**s).fit(X, y, is_synthetic, unlabelled)
                    for s in settings]
        X = self._fit_autoencoder(X, y, is_synthetic, unlabelled)
        features = self._features(X)
        inner = [{k.removeprefix("decoder__"): v for k, v in s.items()} for s in settings]
        fitted = []
        for setting, dec in zip(settings, self._decoder().fit_path(features, y, inner,
                                                                     is_synthetic)):
            one = clone(self).set_params(**setting)
            one.autoencoder_, one.n_unlabelled_, one.decoder_ = \
                self.autoencoder_, self.n_unlabelled_, dec
            fitted.append(one)
        return fitted

    def predict(self, X) -> np.ndarray:
        """Velocity (trials, bins, dims) decoded from the inferred (log) rates of ``X``."""
        check_is_fitted(self, "decoder_")
        X = check_trials(X, "X", "(trials, bins, neurons)")
        return self.decoder_.predict(self._features(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Velocity R^2 of :meth:`predict` (see :func:`eag_augment.metrics.velocity_r2`)."""
        return velocity_r2(y, self.predict(X), sample_weight)
