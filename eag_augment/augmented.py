"""AugmentedDecoder: augment, then fit a decoder told explicitly which trials are synthetic.

imbalanced-learn's Pipeline lets a resampler return only ``(X, y)`` (0.14; its issue #457
on returning resampled metadata is open), so inside it the augmenter can only mark the arrays
it returns (:mod:`eag_augment.provenance`). This wrapper is the explicit alternative: it
calls the augmenter, then the decoder's ``fit(X_aug, y_aug, is_synthetic=mask)``. The
decoder may be a scikit-learn Pipeline of transformers ending in a decoder; the mask then
goes to its last step (``step__is_synthetic`` without metadata routing; with routing, to
the steps that asked with ``set_fit_request(is_synthetic=True)``).
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.utils.metadata_routing import get_routing_for_object
from sklearn.utils.validation import check_is_fitted

from eag_augment._validation import HasMethods

__all__ = ["AugmentedDecoder"]


def _last_step(decoder) -> tuple[list[str], object]:
    """(step names down to the last step of nested Pipelines, that step)."""
    names, step = [], decoder
    while getattr(step, "steps", None):
        name, step = step.steps[-1]
        names.append(name)
    return names, step


def _takes_mask(estimator) -> bool:
    fit = getattr(estimator, "fit", None)
    return fit is not None and "is_synthetic" in inspect.signature(fit).parameters


def _mask_arguments(decoder, mask: np.ndarray) -> dict:
    """The keyword arguments that hand ``mask`` to ``decoder.fit`` (none if nothing takes it)."""
    names, last = _last_step(decoder)
    takes = _takes_mask(last)
    if get_config()["enable_metadata_routing"]:
        # A step that takes the mask without having requested it makes scikit-learn raise an
        # error that says to call set_fit_request(is_synthetic=True): better than dropping it.
        routed = get_routing_for_object(decoder).consumes("fit", ["is_synthetic"])
        return {"is_synthetic": mask} if routed or takes else {}
    if not takes:
        return {}
    # Without routing a Pipeline hands step__param to that step (nested: chained prefixes).
    return {"__".join([*names, "is_synthetic"]): mask}


class AugmentedDecoder(RegressorMixin, BaseEstimator):
    """A decoder fitted on real plus synthetic trials, with the synthetic ones named.

    ``fit`` runs ``augmenter.fit_resample(X, y)`` and then ``decoder.fit`` on the result
    with ``is_synthetic=augmenter.is_synthetic_``; ``predict`` and ``score`` are the
    decoder's (no augmentation at prediction time). Under ``cross_val_score`` or
    ``GridSearchCV`` both are cloned and refit per training fold, and parameters are
    searched as ``augmenter__ratio``, ``decoder__alpha``, ...

    Parameters
    ----------
    augmenter : SyntheticAugmenter or any object with ``fit_resample`` and ``is_synthetic_``
    decoder : trial-tensor decoder, or a scikit-learn Pipeline ending in one
        Gets the mask through ``fit(..., is_synthetic=)`` when it (its last step) takes it.

    Attributes
    ----------
    augmenter_ : the fitted augmenter (its ``synthetic_`` holds the generated trials).
    decoder_ : the fitted decoder.
    is_synthetic_ : bool array (trials + synthetic trials,)
        The mask handed to the decoder.
    """

    _parameter_constraints: dict = {
        "augmenter": [HasMethods(["fit_resample"])],
        "decoder": [HasMethods(["fit", "predict"])],
    }

    def __init__(self, augmenter, decoder) -> None:
        self.augmenter = augmenter
        self.decoder = decoder

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.target_tags.single_output = False
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X, y, *, angles=None) -> AugmentedDecoder:
        """Augment spike counts ``X`` (trials, bins, neurons) and velocity ``y`` (trials,
        bins, dims), then fit the decoder on the result; ``angles`` (trials,) go to the
        augmenter."""
        self._validate_params()
        self.augmenter_ = clone(self.augmenter)
        extra = {} if angles is None else {"angles": angles}
        X_aug, y_aug = self.augmenter_.fit_resample(X, y, **extra)
        self.is_synthetic_ = np.asarray(self.augmenter_.is_synthetic_, dtype=bool)
        self.decoder_ = clone(self.decoder)
        # Plain arrays: the decoder learns which trials are synthetic from the argument only.
        self.decoder_.fit(np.asarray(X_aug), np.asarray(y_aug),
                          **_mask_arguments(self.decoder_, self.is_synthetic_))
        return self

    def predict(self, X) -> np.ndarray:
        """The decoder's velocity (trials, bins, dims) for spike counts ``X``."""
        check_is_fitted(self)
        return self.decoder_.predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """The decoder's score (velocity R^2 for this package's decoders)."""
        check_is_fitted(self)
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.decoder_.score(X, y, **extra)
