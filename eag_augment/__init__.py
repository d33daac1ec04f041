"""eag_augment: synthetic neural-population trials to augment BCI velocity decoders."""

from eag_augment.trials import TrialSet

__version__ = "0.1.0"

__all__ = ["TrialSet", "SyntheticAugmenter", "__version__"]


def __getattr__(name: str):
    # The augmenter pulls in torch and the generators: import it only when asked for.
    if name == "SyntheticAugmenter":
        from eag_augment.augment import SyntheticAugmenter

        return SyntheticAugmenter
    raise AttributeError(f"module 'eag_augment' has no attribute {name!r}")
