"""The data side of a run: load the spec's dataset, split it, draw training subsets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eag_augment.angles import wrap_angle
from eag_augment.pipelines.spec_checks import SpecError
from eag_augment.trials import TrialSet

__all__ = ["fold_split", "load_dataset", "split_dataset", "subset_indices", "training_subset"]

_NOT_LOADER_ARGS = ("kind", "path", "via_nwb", "rebin_ms")
# What save_nwb cannot know about a simulated dataset (``via_nwb``).
_NWB_METADATA = {"synthetic_reach": {
    "behavior_unit": "mm/s",
    "session_description": "Simulated MC_Maze-like reaching session "
                           "(eag_augment.datasets.make_synthetic_reach); no animal"}}


def load_dataset(config: dict, workdir: Path) -> tuple[TrialSet, object | None]:
    """The TrialSet a ``[dataset]`` table describes, and the simulator for simulated reach.

    ``synthetic_reach`` -> :func:`~eag_augment.datasets.make_synthetic_reach`; ``lorenz`` ->
    :func:`~eag_augment.datasets.load_lorenz`, whose z-scored latent trajectories (3 dims)
    stand in for behaviour; ``nwb`` / ``mat`` -> ``load_nwb`` / ``load_mat`` of ``path``;
    ``npz`` -> :meth:`TrialSet.load`. Other keys of the table are the loader's arguments.
    ``via_nwb`` writes the data to ``workdir/dataset.nwb`` with ``save_nwb`` and reads it
    back with ``load_nwb``; ``rebin_ms`` then merges bins (:meth:`TrialSet.rebin`), and the
    simulator of simulated reach is rebuilt at that bin width.
    """
    from eag_augment.datasets import (load_lorenz, load_mat, load_nwb, make_synthetic_reach,
                                      save_nwb)

    kind = config["kind"]
    args = {k: v for k, v in config.items() if k not in _NOT_LOADER_ARGS}
    if "align_range_ms" in args:
        args["align_range_ms"] = tuple(args["align_range_ms"])
    path = Path(config["path"]).expanduser() if "path" in config else None
    simulator = None
    if kind == "synthetic_reach":
        trials, simulator = make_synthetic_reach(**args, return_simulator=True)
    elif kind == "lorenz":
        lorenz, latents = load_lorenz(**args, return_latents=True)
        trials = TrialSet(lorenz.spikes, latents, lorenz.conditions, bin_ms=lorenz.bin_ms,
                          rates=lorenz.rates, behavior_names=["z1", "z2", "z3"])
    elif kind == "nwb":
        trials = load_nwb(path, **args)
    elif kind == "mat":
        trials = load_mat(path, **args)
    else:
        trials = TrialSet.load(path)
    if config.get("via_nwb"):
        # It stays in the output folder: the dataset as an NWB file any NWB tool opens.
        trials = load_nwb(save_nwb(trials, workdir / "dataset.nwb", overwrite=True,
                                   **_NWB_METADATA.get(kind, {})))
    if "rebin_ms" in config:
        trials = trials.rebin(config["rebin_ms"])
        if simulator is not None:
            # The same neurons and latent process discretised at the coarser bins (the
            # neuron parameters do not depend on bin_ms), so the oracle makes trials of the
            # rebinned data's shape and can be conditioned on its velocity.
            simulator = type(simulator)(**{**simulator.get_params(), "bin_ms": trials.bin_ms})
    if trials.behavior is None:
        raise SpecError(f"the {kind} dataset has no behaviour (velocity) to decode")
    return trials, simulator



def split_dataset(trials: TrialSet, config: dict) -> tuple[TrialSet, dict[str, TrialSet]]:
    """(training pool, {test set name: TrialSet}) as a ``[split]`` table says.

    ``kind = "named"``: the ``split`` condition column (``train`` / ``test`` name one split
    or a list); ``"random"``: a seeded random split of ``test_fraction`` (``stratify``: a
    condition column); ``"time"``: :meth:`TrialSet.time_split` for windows of a continuous
    recording. With ``holdout_angles_deg``, trials whose reach angle lies within
    ``angle_tolerance_deg`` of a listed direction leave the training pool, and the test
    trials form two sets: ``heldout`` (those directions) and ``seen`` (the others).
    """
    kind = config["kind"]
    if kind == "named":
        if "split" not in trials.conditions:
            raise SpecError("split kind 'named' needs a 'split' condition column; this dataset "
                            "has none: use kind = \"random\" or \"time\"")
        labels = trials.conditions["split"].astype(str).to_numpy()

        def pick(key: str) -> TrialSet:
            names = config.get(key, key)
            names = names if isinstance(names, list) else [names]
            mask = np.isin(labels, names)
            if not mask.any():
                raise SpecError(f"split {key} = {names}: no trials; the dataset's splits are "
                                f"{sorted(set(labels))}")
            return trials[mask]

        pool, test = pick("train"), pick("test")
    elif kind == "random":
        pool, test = trials.train_test_split(config["test_fraction"],
                                             random_state=config.get("random_state", 0),
                                             stratify=config.get("stratify"))
    else:
        pool, test = trials.time_split(config["test_fraction"])
    return _hold_out_directions(pool, test, config)


def _hold_out_directions(pool: TrialSet, test: TrialSet, config: dict
                         ) -> tuple[TrialSet, dict[str, TrialSet]]:
    """(pool, {"test": test}), or with ``holdout_angles_deg`` the pool without those
    directions and the test trials split into ``heldout`` and ``seen``."""
    if "holdout_angles_deg" not in config:
        return pool, {"test": test}
    held = np.radians(np.atleast_1d(np.asarray(config["holdout_angles_deg"], dtype=float)))
    tol = np.radians(config["angle_tolerance_deg"])

    def near(ts: TrialSet) -> np.ndarray:
        return (np.abs(wrap_angle(ts.angles[:, None] - held[None, :])) <= tol).any(axis=1)

    pool_near, test_near = near(pool), near(test)
    for what, mask in (("training pool", ~pool_near), ("held-out test set", test_near),
                       ("seen test set", ~test_near)):
        if not mask.any():
            raise SpecError(f"holdout_angles_deg {config['holdout_angles_deg']} "
                            f"(tolerance {config['angle_tolerance_deg']} deg) leaves the {what} "
                            "empty")
    return pool[~pool_near], {"heldout": test[test_near], "seen": test[~test_near]}


def _time_order(trials: TrialSet) -> np.ndarray:
    if "start_ms" in trials.conditions:
        return np.argsort(trials.conditions["start_ms"].to_numpy(), kind="stable")
    return np.arange(trials.n_trials)


def fold_split(trials: TrialSet, config: dict, fold: int
               ) -> tuple[TrialSet, dict[str, TrialSet]]:
    """(training pool, {test set name: TrialSet}) of one outer fold.

    ``kind = "blocked"``: the trials, in time order (``start_ms`` when present), are cut into
    ``n_folds`` contiguous blocks; fold ``k`` tests on block ``k`` and its pool is the other
    trials in time order starting right after the test block and wrapping round to the
    start, without the ``gap`` trials on each side of the test block. The leading part of
    that pool (:func:`training_subset` with ``mode="leading"``) is the training segment: up to
    one block long, the segments of different folds do not overlap. Other kinds: the one
    split of :func:`split_dataset`, whatever the fold.
    """
    if config["kind"] != "blocked":
        return split_dataset(trials, config)
    n_folds, gap = config["n_folds"], config["gap"]
    order = _time_order(trials)
    blocks = np.array_split(np.arange(trials.n_trials), n_folds)
    if not 0 <= fold < n_folds:
        raise SpecError(f"split kind 'blocked' has n_folds = {n_folds}: fold {fold} does not "
                        f"exist (the sweep's seeds are the folds: use seeds <= {n_folds})")
    test = blocks[fold]
    after = np.roll(np.arange(trials.n_trials), -(test[-1] + 1))   # starts after the block
    keep = after[gap:len(after) - len(test) - gap]
    if keep.size == 0:
        raise SpecError(f"split kind 'blocked': n_folds = {n_folds} and gap = {gap} leave no "
                        f"training trial of {trials.n_trials}")
    return _hold_out_directions(trials[order[keep]], trials[order[test]], config)


def subset_indices(pool: TrialSet, fraction: float, seed: int, mode: str = "random"
                   ) -> np.ndarray:
    """Sorted indices into ``pool`` of :func:`training_subset`'s trials."""
    n_pool = pool.n_trials
    n = min(n_pool, max(2, int(round(fraction * n_pool))))
    if n == n_pool:
        return np.arange(n_pool)
    if mode == "leading":
        return np.arange(n)
    rng = np.random.default_rng([seed, 7])
    if mode == "contiguous":
        order = _time_order(pool)
        start = int(rng.integers(0, n_pool - n + 1))
        return np.sort(order[start:start + n])
    perm = rng.permutation(n_pool)
    if "condition" in pool.conditions:
        labels = pool.conditions["condition"].astype(str).to_numpy()[perm]
        rank = np.zeros(n_pool, dtype=int)
        for label in np.unique(labels):
            members = labels == label
            rank[members] = np.arange(members.sum())
        perm = perm[np.argsort(rank, kind="stable")]
    return np.sort(perm[:n])


def training_subset(pool: TrialSet, fraction: float, seed: int, mode: str = "random"
                    ) -> TrialSet:
    """``round(fraction * len(pool))`` trials (at least 2) of the pool, drawn by ``seed``.

    ``mode="random"``: a random subset, balanced across the ``condition`` column when there
    is one (conditions take turns, so each gets its share +-1); ``"contiguous"``: a block of
    consecutive trials (by ``start_ms`` when present) at a random offset, for windows of a
    continuous recording; ``"leading"``: the first trials of the pool in its order (the
    training segment of a blocked fold, see :func:`fold_split`). Trials keep their order in
    the pool.
    """
    index = subset_indices(pool, fraction, seed, mode)
    return pool if len(index) == pool.n_trials else pool[index]
