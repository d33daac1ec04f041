"""PoissonJitterGenerator: noise augmentation, Poisson-resampled copies of training trials."""

from __future__ import annotations

import numpy as np
import torch

from eag_augment._validation import non_negative_int
from eag_augment.generators.base import BaseGenerator
from eag_augment.trials import TrialSet

__all__ = ["PoissonJitterGenerator", "nearest_trials"]


def nearest_trials(requested: np.ndarray, stored: np.ndarray) -> np.ndarray:
    """Index of the stored trajectory nearest to each requested one (squared distance).

    Parameters
    ----------
    requested : array (n, bins, dims)
    stored : array (trials, bins, dims)

    Returns
    -------
    array (n,) of int: an exact match where there is one (ties: the first stored trial).
    """
    a = np.asarray(requested, dtype=np.float64).reshape(len(requested), -1)
    b = np.asarray(stored, dtype=np.float64).reshape(len(stored), -1)
    # One common scale: squares of very large velocities would overflow to inf (and inf -
    # inf to NaN), which would pick an arbitrary trial; the nearest one does not change.
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    if scale > 0:
        a, b = a / scale, b / scale
    # ||a - b||^2 without the (n, trials, bins * dims) temporary.
    dist = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.argmin(dist, axis=1)


def _shift_bins(counts: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """``counts`` (n, bins, neurons) read ``shifts`` (n,) bins later, edge bins repeated."""
    n_bins = counts.shape[1]
    src = np.clip(np.arange(n_bins)[None, :] + shifts[:, None], 0, n_bins - 1)
    return np.take_along_axis(counts, src[:, :, None], axis=1)


class PoissonJitterGenerator(BaseGenerator):
    """Noise augmentation: Poisson draws around the counts of a matching training trial.

    For each requested velocity trajectory the training trial with that trajectory (exact
    match, else the nearest one in squared distance over all bins) is taken, and a synthetic
    trial is drawn as ``spikes ~ Poisson(counts)`` bin by bin, so every bin keeps its count in
    expectation. With ``max_shift > 0`` the counts are first moved by a random whole number
    of bins in ``[-max_shift, max_shift]`` (edge bins repeated) while the behaviour stays
    the requested one: a small jitter of spike timing against the movement.

    Nothing is learned beyond storing the training trials; the synthetic trials' ``rates``
    are the (shifted) source counts.

    Parameters
    ----------
    condition : {"velocity", None}
        "velocity": ``sample(velocity=...)`` picks the matching trials; None: random
        training trials, returned with their own velocity.
    max_shift : int
        Largest time shift in bins (0: none).
    random_state : accepted for interface symmetry (fitting is deterministic).
    """

    supported_conditions = ("velocity", None)
    _parameter_constraints: dict = {"max_shift": [non_negative_int],
                                    "random_state": ["random_state"]}

    def __init__(self, condition: str | None = "velocity", max_shift: int = 0,
                 random_state: int | None = None) -> None:
        self.condition = condition
        self.max_shift = max_shift
        self.random_state = random_state

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        if self.max_shift >= trials.n_bins:
            raise ValueError(f"max_shift must be an integer in [0, {trials.n_bins - 1}] (bins), "
                             f"got {self.max_shift!r}")
        self.counts_ = np.asarray(trials.spikes, dtype=np.int32)
        self.velocity_ = (None if trials.behavior is None
                          else np.asarray(trials.behavior, dtype=np.float32))

    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator):
        if velocity is not None:
            source = nearest_trials(velocity, self.velocity_)
            behavior = None  # the base class returns the requested velocity
        else:
            source = torch.randint(len(self.counts_), (n_trials,), generator=generator).numpy()
            behavior = None if self.velocity_ is None else self.velocity_[source].astype(
                np.float64)
        counts = self.counts_[source]
        if self.max_shift > 0:
            shifts = torch.randint(-self.max_shift, self.max_shift + 1, (n_trials,),
                                   generator=generator).numpy()
            counts = _shift_bins(counts, shifts)
        return counts.astype(np.float32), behavior

    def _get_fitted(self):
        state = {"counts_": self.counts_}
        if self.velocity_ is not None:
            state["velocity_"] = self.velocity_
        return {}, state

    def _set_fitted(self, config, state):
        self.counts_ = state["counts_"].numpy()
        velocity = state.get("velocity_")
        self.velocity_ = None if velocity is None else velocity.numpy()
