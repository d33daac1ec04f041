"""Model selection for trial tensors: splitters, the velocity-R^2 scorer, tuned baselines.

- :class:`BlockedKFold`: contiguous folds with a gap, for windows of a continuous recording.
- :data:`velocity_r2_scorer`: ``scoring=`` for scikit-learn's search and validation tools.
- :func:`tuned_pipeline`: a decoder tuned by inner cross-validation, with or without an
  augmenter whose ratio (0 included) is searched too: the fair comparison every gain from
  synthetic trials is measured against; :func:`tune_decoders` tunes several decoders on
  the same folds and generator fits.
- :func:`bootstrap_r2`: mean R^2 over training segments with two-level bootstrap intervals,
  and paired differences to a baseline, for pipelines scored on the same test trials.
"""

from eag_augment.model_selection._scoring import velocity_r2_scorer
from eag_augment.model_selection._search import (TunedPipeline, default_search_space,
                                                 tune_decoders, tuned_pipeline)
from eag_augment.model_selection._split import BlockedKFold
from eag_augment.model_selection._statistics import bootstrap_r2

__all__ = ["BlockedKFold", "TunedPipeline", "bootstrap_r2", "default_search_space",
           "tune_decoders", "tuned_pipeline",
           "velocity_r2_scorer"]
