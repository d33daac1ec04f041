"""The Lorenz spiking benchmark of LDNS/EAG: Poisson neurons driven by Lorenz trajectories.

Recipe (as generated for LDNS and reused by EAG): Lorenz system (sigma 10, rho 28, beta 2.667)
from ``ic + N(0, 2^2)`` initial conditions, integrated with scipy's Radau solver on a grid of
spacing 0.01505, 100 burn-in samples dropped, each trajectory z-scored per dimension, read
out by 128 unit-norm rows with bias log(0.3) through a softplus (beta 2), Poisson spikes.
Integrating 5000 trajectories takes 2-3 minutes on one CPU core (25-35 ms each), so the
integrated trajectories are cached as ``.npz`` under ``$EAG_AUGMENT_CACHE``
(default ``~/.cache/eag_augment``).
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from eag_augment._files import atomic_write
from eag_augment._memory import check_memory
from eag_augment._progress import progress
from eag_augment._validation import Interval, check_params, non_negative_int, positive_int
from eag_augment.trials import TrialSet

__all__ = ["load_lorenz", "cache_dir"]

SIGMA, RHO, BETA = 10.0, 28.0, 2.667
BASE_IC = np.array([-9.7869288, -15.03852, 20.533978])
IC_STD = 2.0
# The reference integrates linspace(0, 1.5008 * 356 / 100, 356): 355 steps of this size.
DT = 1.5008 * 356 / 100 / 355
FIRST_STEP = 1.801e-4
N_BURN_IN = 100
BIAS = float(np.log(0.3))
SOFTPLUS_BETA = 2.0
# The reference draws initial conditions for 5000 trials at once; drawing at least that many
# keeps trial i the same trajectory whatever n_trials is asked for.
N_REFERENCE_TRIALS = 5000
SPLIT_FRACTIONS = {"train": 0.7, "val": 0.1}  # the rest is test: 3500 / 500 / 1000 of 5000
_CACHE_VERSION = 1
# Peak bytes per (trial, bin, neuron): float64 rates and their temporaries, int64 spikes.
_BYTES_PER_ENTRY = 32
_LORENZ_CONSTRAINTS = {
    "n_trials": [positive_int], "n_neurons": [positive_int],
    "n_bins": [Interval(numbers.Integral, 2, None, closed="left")],
    # An int, not a Generator: it names the cache file.
    "random_state": [non_negative_int, None],
    "cache": ["boolean"], "return_latents": ["boolean"], "verbose": ["verbose"],
}


def cache_dir() -> Path:
    """Directory for cached simulations: ``$EAG_AUGMENT_CACHE`` or ``~/.cache/eag_augment``."""
    env = os.environ.get("EAG_AUGMENT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "eag_augment"


def _lorenz_rhs(t: float, state: np.ndarray) -> list[float]:
    x, y, z = state
    return [SIGMA * (y - x), x * (RHO - z) - y, x * y - BETA * z]


def _initial_conditions(n_trials: int, random_state: int | None) -> np.ndarray:
    # Legacy RandomState: the reference seeds numpy's global generator with 42.
    noise = np.random.RandomState(random_state).normal(
        0.0, IC_STD, size=(max(n_trials, N_REFERENCE_TRIALS), 3)
    )
    return BASE_IC + noise[:n_trials]


def _integrate(ics: np.ndarray, n_bins: int, verbose: int) -> np.ndarray:
    """Radau trajectories (trials, n_bins, 3) after dropping the burn-in samples."""
    t_eval = DT * np.arange(n_bins + N_BURN_IN)
    out = np.empty((len(ics), n_bins, 3))
    for i, ic in enumerate(progress(ics, desc="integrating Lorenz", disable=not verbose)):
        sol = solve_ivp(_lorenz_rhs, (0.0, t_eval[-1]), ic, method="Radau", t_eval=t_eval,
                        first_step=FIRST_STEP)
        if not sol.success:
            raise RuntimeError(f"Radau failed on Lorenz trial {i} (ic {ic}): {sol.message}")
        out[i] = sol.y[:, N_BURN_IN:].T
    return out


def _cache_prefix(random_state: int, n_bins: int) -> str:
    return f"lorenz_v{_CACHE_VERSION}_seed{random_state}_bins{n_bins}_trials"


def _read_cached(ics: np.ndarray, n_bins: int, random_state: int) -> np.ndarray | None:
    """Trajectories for ``ics`` from the smallest cache file holding at least as many trials."""
    n_trials = len(ics)
    prefix = _cache_prefix(random_state, n_bins)
    candidates = []
    for path in cache_dir().glob(f"{prefix}*.npz"):
        n_cached = path.stem[len(prefix):]
        if n_cached.isdigit() and int(n_cached) >= n_trials:
            candidates.append((int(n_cached), path))
    for n_cached, path in sorted(candidates):
        try:
            with np.load(path, allow_pickle=False) as f:
                cached_ics, traj = f["ics"], f["trajectories"]
        except (OSError, ValueError, KeyError, EOFError):
            continue  # a damaged file is recomputed (and overwritten when its size is asked for)
        if traj.shape == (n_cached, n_bins, 3) and np.array_equal(cached_ics[:n_trials], ics):
            return traj[:n_trials]
    return None


def _write_cache(path: Path, ics: np.ndarray, trajectories: np.ndarray) -> None:
    atomic_write(path, lambda tmp: np.savez(tmp, ics=ics, trajectories=trajectories),
                 ".tmp.npz")


def _trajectories(n_trials: int, n_bins: int, random_state: int | None, cache: bool,
                  verbose: int) -> np.ndarray:
    ics = _initial_conditions(n_trials, random_state)
    use_cache = cache and random_state is not None
    if use_cache:
        cached = _read_cached(ics, n_bins, random_state)
        if cached is not None:
            return cached
    traj = _integrate(ics, n_bins, verbose)
    if use_cache:
        path = cache_dir() / f"{_cache_prefix(random_state, n_bins)}{n_trials}.npz"
        try:
            _write_cache(path, ics, traj)
        except OSError as err:  # a read-only or full disk costs speed next time, not this result
            warnings.warn(f"could not cache Lorenz trajectories at {path}: {err}", stacklevel=3)
    return traj


def _softplus(x: np.ndarray, beta: float) -> np.ndarray:
    return np.logaddexp(0.0, beta * x) / beta


def _split_labels(n_trials: int, rng: np.random.Generator) -> np.ndarray:
    """'train'/'val'/'test' in the reference's 70/10/20 proportions, randomly assigned."""
    n_train = round(SPLIT_FRACTIONS["train"] * n_trials)
    n_val = round(SPLIT_FRACTIONS["val"] * n_trials)
    labels = np.array(["test"] * n_trials, dtype=object)
    order = rng.permutation(n_trials)
    labels[order[:n_train]] = "train"
    labels[order[n_train:n_train + n_val]] = "val"
    return labels


def check_lorenz_args(args: dict) -> None:
    """Check all arguments of :func:`load_lorenz` (name -> value) without simulating."""
    check_params(_LORENZ_CONSTRAINTS, args, "load_lorenz")
    check_memory(float(args["n_trials"]) * args["n_bins"] * args["n_neurons"] * _BYTES_PER_ENTRY,
                 f"load_lorenz(n_trials={args['n_trials']}, n_neurons={args['n_neurons']}, "
                 f"n_bins={args['n_bins']})", "simulate fewer trials or neurons")


def load_lorenz(
    n_trials: int = 5000,
    n_neurons: int = 128,
    n_bins: int = 256,
    *,
    random_state: int | None = 42,
    cache: bool = True,
    return_latents: bool = False,
    verbose: int = 1,
) -> TrialSet | tuple[TrialSet, np.ndarray]:
    """Simulate the Lorenz spiking benchmark (LDNS/EAG recipe).

    Lorenz bins have no physical width: the returned TrialSet uses ``bin_ms=1.0`` as a
    placeholder, so "per bin" and "per ms" coincide and ISIs come out in bins.

    Parameters
    ----------
    n_trials : int
        Number of trials; trial ``i`` is the same trajectory for every ``n_trials``
        (the first trials of the reference 5000).
    n_neurons : int
        Number of Poisson neurons (128 in the reference).
    n_bins : int
        Bins kept per trial after the 100-sample burn-in (256 in the reference).
    random_state : int or None
        Seed of the initial conditions (numpy legacy seed), the readout, the spikes and the
        split. The reference uses 42. None draws fresh randomness and skips the cache.
    cache : bool
        Read/write the integrated trajectories from/to ``cache_dir()`` (keyed by
        ``random_state``, ``n_bins`` and ``n_trials``; a file with more trials of the same
        seed is reused). Written atomically.
    return_latents : bool
        Also return the z-scored Lorenz trajectories.
    verbose : int
        Show a progress bar while integrating (0 silences it).

    Returns
    -------
    trials : TrialSet
        ``spikes`` (n_trials, n_bins, n_neurons) Poisson counts per bin, ``rates`` (same
        shape, expected counts per bin, about 0.14 on average), ``conditions['split']`` in
        {'train', 'val', 'test'} (3500 / 500 / 1000 for 5000 trials, proportional otherwise),
        no behaviour.
    latents : array (n_trials, n_bins, 3)
        Only with ``return_latents``: each trajectory z-scored per dimension.
    """
    check_lorenz_args(dict(n_trials=n_trials, n_neurons=n_neurons, n_bins=n_bins,
                           random_state=random_state, cache=cache,
                           return_latents=return_latents, verbose=verbose))

    traj = _trajectories(n_trials, n_bins, random_state, cache, verbose)
    mean = traj.mean(axis=1, keepdims=True)
    std = traj.std(axis=1, keepdims=True)
    latents = (traj - mean) / np.where(std > 0, std, 1.0)

    readout_seed, spike_seed, split_seed = np.random.SeedSequence(random_state).spawn(3)
    readout = np.random.default_rng(readout_seed).normal(size=(n_neurons, 3))
    readout /= np.linalg.norm(readout, axis=1, keepdims=True)
    readout = readout[np.argsort(readout[:, 0])]
    rates = _softplus(latents @ readout.T + BIAS, SOFTPLUS_BETA)
    spikes = np.random.default_rng(spike_seed).poisson(rates)
    conditions = pd.DataFrame({"split": _split_labels(n_trials, np.random.default_rng(split_seed))})

    trials = TrialSet(spikes, conditions=conditions, bin_ms=1.0, rates=rates)
    return (trials, latents) if return_latents else trials
