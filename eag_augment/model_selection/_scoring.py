"""The velocity-R^2 scorer, for ``scoring=`` in scikit-learn's search and validation tools."""

from __future__ import annotations

from sklearn.metrics import make_scorer

from eag_augment.metrics import velocity_r2

__all__ = ["velocity_r2_scorer"]

#: ``scorer(estimator, X, y)``: velocity R^2 of ``estimator.predict(X)`` against y, both
#: (trials, bins, dims), bins of all trials concatenated and variance-weighted over dims
#: (:func:`eag_augment.metrics.velocity_r2`). Greater is better. Use it as ``scoring=`` in
#: ``cross_val_score``, ``GridSearchCV`` and friends, where scikit-learn's ``"r2"`` would
#: reject 3-D targets.
velocity_r2_scorer = make_scorer(velocity_r2)
