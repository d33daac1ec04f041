"""One EAG-augmented fit to run on each machine: how far a generator's result moves with the
hardware at one seed.

On the simulated reaching session (decoding_gain_synthetic's medium spec), outer fold 0, 10 %
of the training pool: the spec's EAG is fitted with seed 0 and adds its fixed augmentation
(ratio 4, at the training trials' velocities, float32 sampling); the spec's fixed ridge and a
GRU with seed 0 are trained with and without those trials and scored on the fold's 200 test
trials. The two results are saved as jobs ("none", "eag") under keys that do not depend on
the machine, so ``hardware_spread.py`` pairs the folders two machines wrote:

    python benchmarks/hardware_probe.py --out runs/probe_A --threads 1 [--device cpu|cuda]
    python benchmarks/hardware_spread.py runs/probe_A/jobs runs/probe_B/jobs --name NAME
    python benchmarks/hardware_probe.py --quick --out DIR        # tiny models, seconds
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import _common
import torch
from sklearn.base import clone

from eag_augment.pipelines import fold_split, load_dataset, load_spec, training_subset
from eag_augment.pipelines.job_store import JobStore
from eag_augment.pipelines.runner import Job, bind_augmenter

SPEC = _common.SPECS / "decoding_gain_synthetic.toml"
FRACTION, FOLD, SEED = 0.1, 0, 0


def scores(train_X, train_y, test, ridge, gru) -> list[dict]:
    """Test R^2 of the fixed ridge and GRU trained on (train_X, train_y)."""
    return [{"decoder": name, "mode": "fixed", "test_set": "test", "params": None,
             "r2": clone(decoder).fit(train_X, train_y).score(test.spikes, test.behavior)}
            for name, decoder in (("ridge", ridge), ("gru", gru))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="run folder: its jobs/ are written")
    p.add_argument("--device", default="auto", help="torch device of EAG and the GRU")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--quick", action="store_true", help="tiny models: checks that it runs")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = load_spec(SPEC, profile="quick" if args.quick else "medium")
    trials, simulator = load_dataset(spec.dataset, _common.CACHE)
    pool, tests = fold_split(trials, spec.split, FOLD)
    train = training_subset(pool, FRACTION, SEED, spec.split["subset"])
    test = next(iter(tests.values()))
    ridge = spec.decoders["ridge"]
    gru = clone(spec.decoders["gru"]).set_params(random_state=SEED, device=args.device)
    # The key hashes the spec without the device: both machines' jobs pair up.
    store = JobStore(args.out / "jobs", {**spec.raw, "probe": [FRACTION, FOLD, SEED]})
    start = time.perf_counter()
    rows = scores(train.spikes, train.behavior, test, ridge, gru)
    store.save({"job": Job(FRACTION, FOLD, "none"), "wall_s": time.perf_counter() - start,
                "rows": [{"train_fraction": FRACTION, "seed": FOLD, "augmenter": "none", **r}
                         for r in rows]})
    start = time.perf_counter()
    aug = bind_augmenter(spec, "eag", train.bin_ms, simulator).set_params(
        random_state=SEED, generator__random_state=SEED, generator__device=args.device)
    X, y = aug.fit_resample(train.spikes, train.behavior)
    rows = scores(X, y, test, ridge, gru)
    store.save({"job": Job(FRACTION, FOLD, "eag"), "wall_s": time.perf_counter() - start,
                "rows": [{"train_fraction": FRACTION, "seed": FOLD, "augmenter": "eag", **r}
                         for r in rows]})
    print(f"{train.n_trials} training trials, {test.n_trials} test trials; wrote "
          f"{_common.shown(store.folder)}")


if __name__ == "__main__":
    main()
