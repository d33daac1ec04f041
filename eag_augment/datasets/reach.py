"""Simulated delayed-reach recording (MC_Maze-like) with known ground truth and an oracle.

Every trial is a reach with a minimum-jerk (bell-shaped) speed profile, straight towards a
target angle or along a curved, maze-like path. A 9-dimensional latent state drives the
log firing rates of every neuron: a preparatory component (tonic and target-specific, rising
after target onset and collapsing as the movement starts), a condition-invariant transient
at movement, and movement components equal to the hand velocity and acceleration
``lag_ms`` in the future, plus smooth (Ornstein-Uhlenbeck) latent noise. Because the latent
mean is a deterministic function of the velocity trajectory and the planned path, the
simulator can draw fresh trials at any angle or conditioned exactly on a given velocity.
The generative model, its parameter values and its measured statistics are written up in
the project README ("Synthetic reach simulator").
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from eag_augment._memory import check_memory
from eag_augment._validation import (Interval, check_params, non_negative_int,
                                     non_negative_real, positive_int, positive_real)
from eag_augment.angles import angle_of_reach, check_angles, wrap_angle
from eag_augment.trials import TrialSet

__all__ = ["ReachSimulator", "make_synthetic_reach"]

# Reach kinematics (mm, ms): nominal peak speed 1.875 * 120 mm / 0.33 s = 682 mm/s; the
# longest, latest reach (330 ms * e^0.2 from +40 ms) ends at +443 ms, inside the window.
REACH_DISTANCE_MM = 120.0
REACH_DURATION_MS = 330.0
SPEED_GAIN_SD = 0.15  # log-normal trial-to-trial gain on distance, hence on speed
DURATION_SD = 0.10  # log-normal variability of the reach duration, clipped at 2 SD
ONSET_JITTER_MS = 15.0  # true onset vs. the alignment event (imperfect onset detection)
ONSET_JITTER_MAX_MS = 40.0
TARGET_LEAD_MS = (250.0, 1000.0)  # target onset precedes the alignment by U(250, 1000) ms
CURVATURE = 2.0 * np.pi / 3.0  # total heading change along a curved ("maze") path, rad

# Latent dynamics.
PREP_RISE_MS = 60.0  # time constant of the preparatory rise after target onset
PREP_COLLAPSE_POWER = 4  # prep ~ (1 - progress)^4: mostly gone by 15 % of the path
NOISE_TAU_MS = 50.0
NOISE_SD = 0.2
LATENT_NAMES = ("prep_cos", "prep_sin", "prep_curv", "prep_tonic", "cis",
                "vel_x", "vel_y", "acc_x", "acc_y")
# Log-rate loadings of every neuron on each latent ~ N(mean, sd). Most neurons rise with the
# condition-invariant transient, as in motor cortex: that gives positive mean correlations.
LOADING_MEAN = np.array([0.0, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0])
LOADING_SD = np.array([0.5, 0.5, 0.3, 0.4, 0.5, 0.7, 0.7, 0.4, 0.4])

# Neurons.
BASELINE_HZ = (1.0, 18.0)  # log-uniform baseline rate range
REFRACTORY_MS = 2.0  # minimum inter-spike interval with ``refractory=True``
_ANGLE_TOL = 1e-3  # rad: angles this close to a grid direction count as that condition
_CHUNK_TRIALS = 256
# Peak bytes per simulated (trial, bin): rates and spikes per neuron, then the latents, the
# velocity and their temporaries.
_BYTES_PER_NEURON_BIN = 8
_BYTES_PER_BIN = 1024
# The trial layout of make_synthetic_reach (the simulator's defaults): 140 bins of 5 ms.
BIN_MS = 5.0
WINDOW_MS = (-250, 450)
#: A seed as numpy's default_rng takes it: None, a non-negative int or a Generator.
SEED = [Interval(numbers.Integral, 0, None, closed="left"), np.random.Generator, None]


def _advance(signal: np.ndarray, shift_bins: float) -> np.ndarray:
    """``signal`` (trials, bins, ...) read ``shift_bins`` later in time, edges held."""
    n_bins = signal.shape[1]
    pos = np.clip(np.arange(n_bins) + shift_bins, 0, n_bins - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_bins - 1)
    frac = (pos - lo).reshape((1, n_bins) + (1,) * (signal.ndim - 2))
    return (1.0 - frac) * signal[:, lo] + frac * signal[:, hi]


def _path_progress(velocity: np.ndarray, bin_s: float) -> np.ndarray:
    """Fraction of the path length travelled by each bin centre (trials, bins), in [0, 1]."""
    step = np.linalg.norm(velocity, axis=2) * bin_s
    travelled = np.cumsum(step, axis=1) - 0.5 * step
    total = travelled[:, -1:] + 0.5 * step[:, -1:]
    return np.divide(travelled, total, out=np.zeros_like(travelled), where=total > 0)


def _path_curvature(velocity: np.ndarray, bin_s: float) -> np.ndarray:
    """Total heading change (rad) of each path, from the chords of its two halves.

    For a path whose heading turns uniformly with distance by ``kappa``, the chords of its
    first and second halves differ in direction by exactly ``kappa / 2``.
    """
    second_half = _path_progress(velocity, bin_s) >= 0.5
    chord2 = np.sum(velocity * second_half[..., None], axis=1)
    chord1 = velocity.sum(axis=1) - chord2
    turn = np.arctan2(chord2[:, 1], chord2[:, 0]) - np.arctan2(chord1[:, 1], chord1[:, 0])
    return 2.0 * wrap_angle(turn)


def _check_simulation_memory(n_trials: int, n_bins: int, n_neurons: int, what: str) -> None:
    check_memory(float(n_trials) * n_bins * (n_neurons * _BYTES_PER_NEURON_BIN + _BYTES_PER_BIN),
                 what, "simulate fewer trials")


def _check_heldout(n_heldout: int, n_neurons: int) -> None:
    if n_heldout >= n_neurons:
        raise ValueError(f"n_heldout must be smaller than n_neurons={n_neurons}, "
                         f"got {n_heldout}")


def _as_trial_vector(value, name: str, n_trials: int) -> np.ndarray | None:
    """None, or a finite float array (n_trials,) from a scalar or a per-trial sequence."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number or an array of numbers, got "
                        f"{type(value).__name__}") from err
    if arr.ndim == 0:
        arr = np.full(n_trials, float(arr))
    if arr.shape != (n_trials,):
        raise ValueError(f"{name} must be a scalar or have shape ({n_trials},) (one per trial), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr[~np.isfinite(arr)][0]}")
    return arr


class ReachSimulator(BaseEstimator):
    """Ground-truth generative process of a simulated MC_Maze-like reaching session.

    All neuron parameters (baselines, loadings) are drawn from ``random_state`` when the
    simulator is built; :meth:`sample` then draws trials from the same process.

    Parameters
    ----------
    n_neurons : int
        Number of neurons (182 as in MC_Maze).
    n_heldout : int
        How many of them (the last ones) are marked held out (45 as in MC_Maze).
    n_directions : int
        Target directions, evenly spaced on the circle starting at angle 0.
    curved : bool
        Maze-like variant: each direction is reached along two curved paths whose heading
        turns by +/- 120 degrees (so ``2 * n_directions`` conditions); the net displacement
        still points at the target angle.
    bin_ms : float
        Bin width in ms; must divide the window.
    window_ms : (float, float)
        Trial window around the alignment (movement onset), ms.
    lag_ms : float
        How far neural activity leads the hand velocity, ms.
    refractory : bool
        Draw spikes at 1 ms resolution with a 2 ms absolute refractory period, at the same
        expected counts as the Poisson model (rates are unchanged).
    random_state : int, numpy Generator or None
        Seed of the neuron parameters.

    Attributes
    ----------
    condition_angles_ : array (n_conditions,)
        Target angle of each condition, radians in (-pi, pi].
    condition_curvatures_ : array (n_conditions,)
        Total heading change of each condition's path (0 for straight reaches), radians.
    log_baseline_ : array (n_neurons,)
        Log of each neuron's baseline rate in spikes per second.
    loadings_ : array (n_neurons, 9)
        Log-rate loading of each neuron on each latent (see ``LATENT_NAMES``).
    n_bins_ : int
        Bins per trial (140 for the defaults).
    """

    _parameter_constraints: dict = {
        "n_neurons": [positive_int], "n_heldout": [non_negative_int],
        "n_directions": [positive_int], "curved": ["boolean"], "bin_ms": [positive_real],
        "window_ms": [tuple, list], "lag_ms": [non_negative_real], "refractory": ["boolean"],
        "random_state": SEED,
    }

    def __init__(
        self,
        n_neurons: int = 182,
        n_heldout: int = 45,
        n_directions: int = 8,
        curved: bool = False,
        bin_ms: float = BIN_MS,
        window_ms: tuple[float, float] = WINDOW_MS,
        lag_ms: float = 100.0,
        refractory: bool = False,
        random_state=0,
    ) -> None:
        self.n_neurons = n_neurons
        self.n_heldout = n_heldout
        self.n_directions = n_directions
        self.curved = curved
        self.bin_ms = bin_ms
        self.window_ms = window_ms
        self.lag_ms = lag_ms
        self.refractory = refractory
        self.random_state = random_state

        # The neuron parameters are drawn here, so the arguments are checked here.
        self._validate_params()
        _check_heldout(n_heldout, n_neurons)
        try:
            start, stop = (float(w) for w in window_ms)
        except (TypeError, ValueError) as err:
            raise TypeError(f"window_ms must be a pair of numbers (ms), got {window_ms!r}") from err
        n_bins = (stop - start) / bin_ms
        if not (math.isfinite(start) and math.isfinite(stop)) or stop <= start \
                or abs(n_bins - round(n_bins)) > 1e-9:
            raise ValueError(f"window_ms must be an increasing pair spanning a whole number of "
                             f"{bin_ms:g} ms bins, got {window_ms!r}")
        self.n_bins_ = int(round(n_bins))

        directions = wrap_angle(2.0 * np.pi * np.arange(n_directions) / n_directions)
        if curved:
            self.condition_angles_ = np.repeat(directions, 2)
            self.condition_curvatures_ = np.tile([CURVATURE, -CURVATURE], n_directions)
        else:
            self.condition_angles_ = directions
            self.condition_curvatures_ = np.zeros(n_directions)

        rng = np.random.default_rng(random_state)
        self.log_baseline_ = rng.uniform(*np.log(BASELINE_HZ), size=n_neurons)
        self.loadings_ = LOADING_MEAN + LOADING_SD * rng.normal(
            size=(n_neurons, len(LATENT_NAMES)))

    # ---------------------------------------------------------------- helpers
    @property
    def n_conditions(self) -> int:
        return len(self.condition_angles_)

    @property
    def bin_times_ms(self) -> np.ndarray:
        """Bin centres relative to the alignment, ms (n_bins,)."""
        return self.window_ms[0] + (np.arange(self.n_bins_) + 0.5) * self.bin_ms

    def condition_of(self, angle, curvature=None) -> np.ndarray:
        """Condition id (n,) of each (angle, curvature): -1 where the angle is off the grid.

        The path is the training path of that direction with the nearest curvature.
        """
        angle = np.atleast_1d(np.asarray(angle, dtype=float))
        curvature = np.zeros_like(angle) if curvature is None else np.broadcast_to(
            np.asarray(curvature, dtype=float), angle.shape)
        angle_gap = np.abs(wrap_angle(angle[:, None] - self.condition_angles_[None, :]))
        curv_gap = np.abs(curvature[:, None] - self.condition_curvatures_[None, :])
        on_grid = angle_gap.min(axis=1) <= _ANGLE_TOL
        cost = np.where(angle_gap <= _ANGLE_TOL, curv_gap, np.inf)
        return np.where(on_grid, np.argmin(cost, axis=1), -1)

    def reach_velocity(self, angle, curvature, speed_gain, duration_ms, onset_ms) -> np.ndarray:
        """Minimum-jerk hand velocity (n, n_bins, 2) in mm/s; all arguments are (n,) arrays.

        Speed ``g D / T * 30 s^2 (1 - s)^2`` with ``s = (t - onset) / T`` in [0, 1], heading
        ``angle + curvature * (q(s) - 1/2)`` where ``q`` is the minimum-jerk path fraction.
        """
        duration_s = np.asarray(duration_ms, dtype=float)[:, None] / 1000.0
        s = np.clip((self.bin_times_ms[None, :] - np.asarray(onset_ms)[:, None])
                    / (duration_s * 1000.0), 0.0, 1.0)
        speed = (np.asarray(speed_gain)[:, None] * REACH_DISTANCE_MM / duration_s
                 * 30.0 * s**2 * (1.0 - s) ** 2)
        fraction = s**3 * (10.0 - 15.0 * s + 6.0 * s**2)
        heading = (np.asarray(angle)[:, None]
                   + np.asarray(curvature)[:, None] * (fraction - 0.5))
        return np.stack([speed * np.cos(heading), speed * np.sin(heading)], axis=-1)

    def latent_mean(self, velocity: np.ndarray, angle: np.ndarray, curvature: np.ndarray,
                    target_onset_ms: np.ndarray) -> np.ndarray:
        """Noise-free latent state (n, n_bins, 9) from velocity (n, n_bins, 2) and the plan.

        ``progress`` p(t) is the fraction of the path travelled; with ``t' = t + lag``:
        prep P(t) = (1 - exp(-(t - target_onset)_+ / 60 ms)) (1 - p(t'))^4 times
        (cos angle, sin angle, curvature / 120 deg, 1); transient sin(pi p(t')); velocity
        v(t') / 682 mm/s; acceleration a(t') / 6.36 m/s^2 (the nominal reach's peaks).
        """
        bin_s = self.bin_ms / 1000.0
        lead = self.lag_ms / self.bin_ms
        progress_ahead = _advance(_path_progress(velocity, bin_s), lead)
        since_target = np.maximum(self.bin_times_ms[None, :] - target_onset_ms[:, None], 0.0)
        prep = ((1.0 - np.exp(-since_target / PREP_RISE_MS))
                * (1.0 - progress_ahead) ** PREP_COLLAPSE_POWER)
        plan = np.stack([np.cos(angle), np.sin(angle), curvature / CURVATURE,
                         np.ones_like(angle)], axis=1)
        duration_s = REACH_DURATION_MS / 1000.0
        peak_speed = 1.875 * REACH_DISTANCE_MM / duration_s
        peak_accel = 10.0 / np.sqrt(3.0) * REACH_DISTANCE_MM / duration_s**2
        accel = np.gradient(velocity, bin_s, axis=1)
        return np.concatenate([
            prep[..., None] * plan[:, None, :],
            np.sin(np.pi * progress_ahead)[..., None],
            _advance(velocity, lead) / peak_speed,
            _advance(accel, lead) / peak_accel,
        ], axis=-1)

    def _latent_noise(self, n_trials: int, rng: np.random.Generator) -> np.ndarray:
        """Stationary Ornstein-Uhlenbeck noise (n, n_bins, 9) with SD ``NOISE_SD``."""
        decay = np.exp(-self.bin_ms / NOISE_TAU_MS)
        innov = rng.standard_normal((n_trials, self.n_bins_, len(LATENT_NAMES))) * NOISE_SD
        noise = np.empty_like(innov)
        noise[:, 0] = innov[:, 0]
        scale = np.sqrt(1.0 - decay**2)
        for k in range(1, self.n_bins_):
            noise[:, k] = decay * noise[:, k - 1] + scale * innov[:, k]
        return noise

    def _spikes(self, rates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not self.refractory:
            return rng.poisson(rates)
        # Bernoulli steps of ~1 ms; after a spike, `blocked` steps are silent. A renewal
        # process with hazard p and b dead steps fires at rate p / (1 + b p) per step, so
        # p = r / (1 - b r) keeps the expected count at the given rate r.
        n_sub = max(1, int(round(self.bin_ms)))
        blocked = int(np.ceil(REFRACTORY_MS / (self.bin_ms / n_sub) - 1e-9)) - 1
        per_step = np.minimum(rates / n_sub, 0.9 / (1 + blocked))
        hazard = per_step / (1.0 - blocked * per_step)
        wait = np.zeros(rates.shape[::2], dtype=np.int64)
        spikes = np.zeros(rates.shape, dtype=np.int32)
        for k in range(rates.shape[1]):
            draws = rng.random((n_sub,) + wait.shape) < hazard[:, k]
            for fire in draws:
                fire &= wait == 0
                spikes[:, k] += fire
                wait = np.where(fire, blocked, np.maximum(wait - 1, 0))
        return spikes

    # ----------------------------------------------------------------- sample
    def sample(self, n_trials: int, *, angle=None, velocity=None, curvature=None,
               random_state=None) -> TrialSet:
        """Draw fresh trials from the true process.

        Parameters
        ----------
        n_trials : int
            Number of trials.
        angle : float or array (n_trials,), optional
            Target angles in radians (any value, unseen ones too). None draws the condition
            of each trial uniformly from the simulator's condition set.
        velocity : array (n_trials, n_bins, 2), optional
            Hand velocity (mm/s) to condition on exactly: it is returned as the behaviour and
            drives the latent. The angle is then derived from it (direction of net
            displacement) unless given, and so is the curvature.
        curvature : float or array (n_trials,), optional
            Total heading change of the path (radians). Default: for given angles, a random
            choice among the simulator's curvatures (0 unless ``curved``).
        random_state : int, numpy Generator or None
            Seed of the trial-to-trial randomness (None: fresh entropy).

        Returns
        -------
        TrialSet
            ``spikes`` (n_trials, n_bins, n_neurons), ``behavior`` hand velocity (mm/s),
            ``rates`` (expected counts per bin), ``conditions`` with ``angle``, ``curvature``,
            ``condition`` (-1 off the grid), ``speed_gain``, ``duration_ms``, ``onset_ms``
            (NaN when conditioned on velocity), ``target_onset_ms``.
        """
        check_params({"n_trials": [positive_int], "random_state": SEED},
                     {"n_trials": n_trials, "random_state": random_state},
                     "ReachSimulator.sample")
        _check_simulation_memory(n_trials, self.n_bins_, self.n_neurons,
                                 f"ReachSimulator.sample(n_trials={n_trials})")
        angle = _as_trial_vector(angle, "angle", n_trials)
        if angle is not None:
            check_angles(angle, "angle")
        curvature = _as_trial_vector(curvature, "curvature", n_trials)
        if velocity is not None:
            try:
                velocity = np.array(velocity, dtype=float)  # a copy: the TrialSet keeps it
            except (TypeError, ValueError) as err:
                raise TypeError(f"velocity must be a numeric array, got "
                                f"{type(velocity).__name__}") from err
            expected = (n_trials, self.n_bins_, 2)
            if velocity.shape != expected:
                raise ValueError(f"velocity must have shape {expected} (trials, bins, x/y), "
                                 f"got {velocity.shape}")
            if not np.all(np.isfinite(velocity)):
                raise ValueError("velocity contains NaN or infinite values")
        rng = np.random.default_rng(random_state)

        nan = np.full(n_trials, np.nan)
        gain = duration = onset = nan
        if velocity is None:
            if angle is None:
                cond = rng.integers(self.n_conditions, size=n_trials)
                angle = self.condition_angles_[cond]
                curvature = self.condition_curvatures_[cond] if curvature is None else curvature
            elif curvature is None:
                curvature = rng.choice(np.unique(self.condition_curvatures_), size=n_trials)
            gain = np.exp(SPEED_GAIN_SD * rng.standard_normal(n_trials))
            duration = REACH_DURATION_MS * np.exp(
                DURATION_SD * np.clip(rng.standard_normal(n_trials), -2.0, 2.0))
            onset = np.clip(ONSET_JITTER_MS * rng.standard_normal(n_trials),
                            -ONSET_JITTER_MAX_MS, ONSET_JITTER_MAX_MS)
            velocity = self.reach_velocity(angle, curvature, gain, duration, onset)
        else:
            angle = angle_of_reach(velocity) if angle is None else angle
            curvature = (_path_curvature(velocity, self.bin_ms / 1000.0)
                         if curvature is None else curvature)
        angle = wrap_angle(angle)
        target_onset = -rng.uniform(*TARGET_LEAD_MS, size=n_trials)

        latent = (self.latent_mean(velocity, angle, curvature, target_onset)
                  + self._latent_noise(n_trials, rng)).astype(np.float32)
        loadings = self.loadings_.T.astype(np.float32)
        log_offset = (self.log_baseline_ + np.log(self.bin_ms / 1000.0)).astype(np.float32)
        rates = np.empty((n_trials, self.n_bins_, self.n_neurons), dtype=np.float32)
        spikes = np.empty(rates.shape, dtype=np.int32)
        # Chunks of trials keep the temporaries small: allocating whole-size float64
        # temporaries dominated the run time.
        for start in range(0, n_trials, _CHUNK_TRIALS):
            chunk = slice(start, start + _CHUNK_TRIALS)
            log_rate = np.matmul(latent[chunk], loadings, out=rates[chunk])
            log_rate += log_offset
            np.exp(log_rate, out=log_rate)
            spikes[chunk] = self._spikes(log_rate, rng)

        conditions = pd.DataFrame({
            "angle": angle,
            "curvature": curvature,
            "condition": self.condition_of(angle, curvature),
            "speed_gain": gain,
            "duration_ms": duration,
            "onset_ms": onset,
            "target_onset_ms": target_onset,
        })
        heldout = np.arange(self.n_neurons) >= self.n_neurons - self.n_heldout
        return TrialSet(spikes, velocity, conditions, bin_ms=self.bin_ms, rates=rates,
                        heldout=heldout, t_start_ms=self.window_ms[0])


def _stratified_splits(labels: np.ndarray, test_size: float, val_size: float,
                       rng: np.random.Generator) -> np.ndarray:
    """'train'/'val'/'test' per trial, each label's share within +-1 trial of proportional.

    Systematic sampling along the trials ordered by label (random order within a label):
    every contiguous run of m trials gets floor or ceil of m * fraction of each split.
    """
    n = len(labels)
    order = np.lexsort((rng.random(n), labels))

    def every(fraction: float, count: int) -> np.ndarray:
        ticks = np.floor(np.arange(count + 1) * fraction + rng.random())
        return np.diff(ticks) > 0

    split = np.full(n, "train", dtype=object)
    is_test = every(test_size, n)
    split[order[is_test]] = "test"
    rest = order[~is_test]
    if len(rest) and val_size > 0:
        split[rest[every(val_size / (1.0 - test_size), len(rest))]] = "val"
    return split


_SYNTHETIC_REACH_CONSTRAINTS = {
    **{k: ReachSimulator._parameter_constraints[k]
       for k in ("n_neurons", "n_heldout", "n_directions", "curved", "refractory")},
    "n_trials": [positive_int],
    "test_size": [Interval(numbers.Real, 0, 1, closed="left")],
    "val_size": [Interval(numbers.Real, 0, 1, closed="left")],
    # An int, not a Generator: the trials get a seed of their own derived from it.
    "random_state": [Interval(numbers.Integral, 0, None, closed="left"), None],
    "return_simulator": ["boolean"],
}


def check_synthetic_reach_args(args: dict) -> None:
    """Check all arguments of :func:`make_synthetic_reach` (name -> value) without simulating.

    Run specs call it while they are validated, so that a bad value is reported before any
    work; ``make_synthetic_reach`` calls it first.
    """
    check_params(_SYNTHETIC_REACH_CONSTRAINTS, args, "make_synthetic_reach")
    if args["test_size"] + args["val_size"] >= 1:
        raise ValueError(f"test_size + val_size must be < 1, got {args['test_size']} + "
                         f"{args['val_size']}")
    _check_heldout(args["n_heldout"], args["n_neurons"])
    n_bins = round((WINDOW_MS[1] - WINDOW_MS[0]) / BIN_MS)
    _check_simulation_memory(args["n_trials"], n_bins, args["n_neurons"],
                             f"make_synthetic_reach(n_trials={args['n_trials']}, "
                             f"n_neurons={args['n_neurons']})")


def make_synthetic_reach(
    n_trials: int = 1000,
    *,
    n_neurons: int = 182,
    n_heldout: int = 45,
    n_directions: int = 8,
    curved: bool = False,
    refractory: bool = False,
    test_size: float = 0.2,
    val_size: float = 0.1,
    random_state: int | None = 0,
    return_simulator: bool = False,
) -> TrialSet | tuple[TrialSet, ReachSimulator]:
    """A simulated MC_Maze-like dataset: 140 bins of 5 ms from -250 to +450 ms around movement.

    Conditions are balanced (each appears equally often, +-1) in random order; splits are
    stratified by condition. See :class:`ReachSimulator` for the model.

    Parameters
    ----------
    n_trials : int
        Number of trials.
    n_neurons, n_heldout, n_directions, curved, refractory
        Passed to :class:`ReachSimulator`.
    test_size, val_size : float
        Fractions of trials in the 'test' and 'val' splits (the rest is 'train').
    random_state : int or None
        Seed of the simulator's neuron parameters and, independently, of the trials.
    return_simulator : bool
        Also return the :class:`ReachSimulator` (the oracle).

    Returns
    -------
    trials : TrialSet
        As :meth:`ReachSimulator.sample`, plus ``conditions['split']``.
    simulator : ReachSimulator
        Only with ``return_simulator``.
    """
    check_synthetic_reach_args(dict(
        n_trials=n_trials, n_neurons=n_neurons, n_heldout=n_heldout, n_directions=n_directions,
        curved=curved, refractory=refractory, test_size=test_size, val_size=val_size,
        random_state=random_state, return_simulator=return_simulator))

    simulator = ReachSimulator(n_neurons=n_neurons, n_heldout=n_heldout,
                               n_directions=n_directions, curved=curved,
                               refractory=refractory, random_state=random_state)
    # A seed of its own, so that trial noise is independent of the neuron parameters.
    rng = np.random.default_rng(None if random_state is None else [random_state, 1])
    cond = rng.permutation(np.resize(np.arange(simulator.n_conditions), n_trials))
    trials = simulator.sample(n_trials, angle=simulator.condition_angles_[cond],
                              curvature=simulator.condition_curvatures_[cond], random_state=rng)
    trials.conditions["split"] = _stratified_splits(cond, test_size, val_size, rng)
    return (trials, simulator) if return_simulator else trials
