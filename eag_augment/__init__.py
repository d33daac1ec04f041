"""eag_augment: synthetic neural-population trials to augment BCI velocity decoders."""

import logging

from eag_augment._progress import FallbackHandler
from eag_augment.trials import TrialSet

__version__ = "0.2.0"

__all__ = ["AugmentedDecoder", "TrialSet", "SyntheticAugmenter", "show_versions", "__version__"]

# Stage messages of estimators with verbose > 0 are INFO records of loggers under
# "eag_augment"; they reach stderr without any set-up (see eag_augment._progress).
_logger = logging.getLogger(__name__)
if _logger.level == logging.NOTSET:
    _logger.setLevel(logging.INFO)
if not any(isinstance(h, FallbackHandler) for h in _logger.handlers):
    _logger.addHandler(FallbackHandler())


def __getattr__(name: str):
    # The augmenter pulls in torch and the generators: import it only when asked for.
    if name == "SyntheticAugmenter":
        from eag_augment.augment import SyntheticAugmenter

        return SyntheticAugmenter
    if name == "AugmentedDecoder":
        from eag_augment.augmented import AugmentedDecoder

        return AugmentedDecoder
    if name == "show_versions":
        from eag_augment._show_versions import show_versions

        return show_versions
    raise AttributeError(f"module 'eag_augment' has no attribute {name!r}")
