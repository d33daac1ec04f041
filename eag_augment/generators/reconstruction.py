"""AutoencoderReconstructionGenerator: the ceiling of the latent generators (a diagnostic)."""

from __future__ import annotations

import numpy as np

from eag_augment._torch import resolve_device
from eag_augment._validation import DEVICE
from eag_augment.generators.autoencoder import LatentAutoencoder, fit_autoencoder
from eag_augment.generators.jitter import PoissonJitterGenerator
from eag_augment.trials import TrialSet

__all__ = ["AutoencoderReconstructionGenerator"]


class AutoencoderReconstructionGenerator(PoissonJitterGenerator):
    """Poisson draws around the stage-1 autoencoder's reconstruction of a matching trial.

    A diagnostic, not an augmenter to use: these are the trials EAG or latent diffusion
    would make if their prior reproduced the latents of the training trials exactly. So what
    a decoder learns from them bounds what it can learn from any latent generator built on
    the same autoencoder: where train-on-synthetic scores are low, this generator tells
    whether the autoencoder (stage 1) lost the spike-velocity relation or the prior over its
    latents (stage 2) did.

    Fitting trains a clone of ``autoencoder`` on the training trials and stores its
    reconstructed rates (expected counts per bin, the decoder's output for the encoded
    trial). Sampling picks, as :class:`PoissonJitterGenerator` does, the training trial
    whose velocity trajectory matches the requested one (exact, else nearest) and draws
    ``spikes ~ Poisson(reconstructed rates)``; the synthetic trials' ``rates`` are those
    reconstructed rates.

    Parameters
    ----------
    autoencoder : LatentAutoencoder, optional
        Stage-1 settings (give a latent generator's ``autoencoder`` to bound that generator);
        ``LatentAutoencoder()`` when None.
    condition : {"velocity", None}
        As :class:`PoissonJitterGenerator`.
    max_shift : int
        As :class:`PoissonJitterGenerator` (0: none).
    device : {"auto", "cpu", "cuda", ...}
        Where the autoencoder trains.
    verbose : int
    random_state : int, RandomState or None
        Seeds the autoencoder's training when its own ``random_state`` is None.

    Attributes
    ----------
    autoencoder_ : LatentAutoencoder
        The fitted autoencoder (not saved with :meth:`save`: a loaded generator only samples).
    counts_ : ndarray (trials, bins, neurons), float32
        The reconstructed rates of the training trials, in expected counts per bin.
    """

    _parameter_constraints: dict = {
        **PoissonJitterGenerator._parameter_constraints,
        "autoencoder": [LatentAutoencoder, None], "device": DEVICE, "verbose": ["verbose"]}

    def __init__(self, autoencoder: LatentAutoencoder | None = None,
                 condition: str | None = "velocity", max_shift: int = 0, device: str = "auto",
                 verbose: int = 0, random_state: int | None = None) -> None:
        super().__init__(condition=condition, max_shift=max_shift, random_state=random_state)
        self.autoencoder = autoencoder
        self.device = device
        self.verbose = verbose

    def _validate_params(self) -> None:
        super()._validate_params()
        resolve_device(self.device)
        if self.autoencoder is not None:
            self.autoencoder._validate_params()

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        super()._fit(trials, rng)
        self.autoencoder_ = fit_autoencoder(self.autoencoder, trials, rng, self.device,
                                            self.verbose)
        self.counts_ = self.autoencoder_.predict_rates(trials).astype(np.float32)
