"""PSTHPoissonGenerator: condition-averaged rates plus Poisson noise (the simple baseline)."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from eag_augment._validation import non_negative_real, positive_int
from eag_augment.angles import angle_of_reach, rotate_xy, wrap_angle
from eag_augment.generators.base import BaseGenerator
from eag_augment.trials import TrialSet

__all__ = ["PSTHPoissonGenerator"]


class PSTHPoissonGenerator(BaseGenerator):
    """Per-condition mean firing rates (PSTHs) with Poisson spikes.

    Training trials are grouped by reach direction (the ``condition`` column when present,
    else the angle rounded to ``n_angle_bins`` sectors). A requested angle gets the rates
    interpolated linearly between the two groups whose mean angles flank it (so unseen
    directions get a blend, not a new pattern: this is what makes the baseline simple), and
    the behaviour of the nearest group rotated onto the requested angle. Velocity conditioning
    uses the angle of the given velocity and returns the given velocity as behaviour.
    Single-trial variability beyond Poisson noise is not modelled.

    Parameters
    ----------
    condition : {"angle", "velocity", None}
        None draws groups in proportion to their training trials.
    n_angle_bins : int
        Direction sectors used when the trials have no ``condition`` column.
    smooth_ms : float
        Gaussian smoothing (s.d., ms) of the PSTHs over time; 0 for none.
    random_state : accepted for interface symmetry (fitting is deterministic).
    """

    _parameter_constraints: dict = {"n_angle_bins": [positive_int],
                                    "smooth_ms": [non_negative_real],
                                    "random_state": ["random_state"]}

    def __init__(self, condition: str | None = "angle", n_angle_bins: int = 8,
                 smooth_ms: float = 10.0, random_state: int | None = None) -> None:
        self.condition = condition
        self.n_angle_bins = n_angle_bins
        self.smooth_ms = smooth_ms
        self.random_state = random_state

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        has_angle = "angle" in trials.conditions or trials.behavior is not None
        angles = np.asarray(trials.angles) if has_angle else np.zeros(trials.n_trials)
        if "condition" in trials.conditions:
            labels = trials.conditions["condition"].to_numpy()
        else:
            width = 2 * np.pi / self.n_angle_bins
            labels = np.round(wrap_angle(angles) / width).astype(int) % self.n_angle_bins
        groups = np.unique(labels)
        rates = np.stack([trials.spikes[labels == g].mean(axis=0) for g in groups])
        if self.smooth_ms > 0:
            rates = gaussian_filter1d(rates, self.smooth_ms / trials.bin_ms, axis=1, mode="nearest")
        self.psths_ = rates.astype(np.float32)
        self.group_angles_ = np.array([
            np.arctan2(np.sin(angles[labels == g]).mean(), np.cos(angles[labels == g]).mean())
            for g in groups])
        self.group_weights_ = np.array([(labels == g).mean() for g in groups])
        self.group_behavior_ = None if trials.behavior is None else np.stack(
            [trials.behavior[labels == g].mean(axis=0) for g in groups])

    def _interpolate(self, angle: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        order = np.argsort(self.group_angles_)
        ga, psths = self.group_angles_[order], self.psths_[order]
        # Position of each requested angle between consecutive groups on the circle.
        hi = np.searchsorted(ga, wrap_angle(angle)) % len(ga)
        lo = (hi - 1) % len(ga)
        gap = wrap_angle(ga[hi] - ga[lo])
        gap = np.where(np.abs(gap) < 1e-12, 2 * np.pi, gap % (2 * np.pi))
        w = np.clip((wrap_angle(angle - ga[lo]) % (2 * np.pi)) / gap, 0.0, 1.0)
        rates = (1 - w)[:, None, None] * psths[lo] + w[:, None, None] * psths[hi]
        behavior = None
        if self.group_behavior_ is not None:
            nearest = np.where(w < 0.5, lo, hi)
            beh = self.group_behavior_[order][nearest]
            behavior = rotate_xy(beh, wrap_angle(angle - ga[nearest])) if beh.shape[2] >= 2 else beh
        return rates, behavior

    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator):
        if velocity is not None:
            angle = angle_of_reach(velocity)
        if angle is None:
            pick = torch.multinomial(torch.as_tensor(self.group_weights_), n_trials, True,
                                     generator=generator).numpy()
            angle = self.group_angles_[pick]
        rates, behavior = self._interpolate(np.asarray(angle, dtype=float))
        return rates.astype(np.float32), behavior

    def _get_fitted(self):
        state = {"psths_": self.psths_, "group_angles_": self.group_angles_,
                 "group_weights_": self.group_weights_}
        if self.group_behavior_ is not None:
            state["group_behavior_"] = self.group_behavior_
        return {}, state

    def _set_fitted(self, config, state):
        for key in ("psths_", "group_angles_", "group_weights_"):
            setattr(self, key, state[key].numpy())
        gb = state.get("group_behavior_")
        self.group_behavior_ = None if gb is None else gb.numpy()
