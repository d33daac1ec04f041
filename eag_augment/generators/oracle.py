"""OracleGenerator: samples the true process of a simulator (the ceiling for augmentation)."""

from __future__ import annotations

import numpy as np

from eag_augment.datasets.reach import ReachSimulator
from eag_augment.generators.base import BaseGenerator, register
from eag_augment.trials import TrialSet

__all__ = ["OracleGenerator"]

register(ReachSimulator)


class OracleGenerator(BaseGenerator):
    """Draw synthetic trials from the simulator that made the data: nothing is learned.

    On simulated data this is the best any generator could do, so augmentation with it
    bounds what augmentation can buy. ``fit`` only checks that the trials have the
    simulator's shape.

    Parameters
    ----------
    simulator : ReachSimulator
        The ground-truth process (``make_synthetic_reach(..., return_simulator=True)``).
    condition : {"velocity", "angle", None}
        With "velocity" the simulator conditions exactly on the given trajectories; with
        "angle" it draws fresh reaches at the given angles.
    """

    # None until set: run specs bind the simulator of their dataset after validation.
    _parameter_constraints: dict = {"simulator": [ReachSimulator, None]}

    def __init__(self, simulator: ReachSimulator | None = None,
                 condition: str | None = "velocity") -> None:
        self.simulator = simulator
        self.condition = condition

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        if self.simulator is None:
            raise ValueError("OracleGenerator needs simulator= the ReachSimulator that made the "
                             "data (make_synthetic_reach(..., return_simulator=True))")
        expected = (self.simulator.n_bins_, self.simulator.n_neurons)
        if (trials.n_bins, trials.n_neurons) != expected:
            raise ValueError(f"trials have (bins, neurons) {(trials.n_bins, trials.n_neurons)}, "
                             f"the simulator makes {expected}")

    def _generate(self, n_trials, angle, velocity, guidance_scale, seed) -> TrialSet:
        return self.simulator.sample(n_trials, angle=angle, velocity=velocity, random_state=seed)
