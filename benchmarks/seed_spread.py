"""How far one M1 result moves when only the random stream or the arithmetic changes.

The same seed gives other numbers on another CPU: float32 sums are reordered, and over a few
thousand optimiser steps a generator's training then follows another path, as it does with
another random seed. This project has one kind of CPU, so it cannot measure a generator's
CPU-to-CPU spread here (hardware_probe.py measured one fit against another machine); this
script measures what bounds it on the job behind the README's M1 headline (decoding_gain_m1's spec, 10 % of the training time, outer fold 0):

- EAG fitted with 5 random seeds (float32, the benchmarks' setting), each augmenting
  (ratio 4, velocity-matched) the spec's fixed ridge and a GRU with a fixed seed;
- EAG once more in bfloat16 (what ``precision="auto"`` picks on CPUs with native bf16);
- the GRU alone (no augmentation) with 5 seeds: the decoder's own spread.

Writes benchmarks/results/seed_spread.{json,md}.

    python benchmarks/seed_spread.py --threads 1 [--mat PATH] [--seeds 5]
    python benchmarks/seed_spread.py --quick      # a smoke test on tiny models
"""

from __future__ import annotations

import time
from pathlib import Path

import _common
import pandas as pd
from decoding_gain import md_table
from sklearn.base import clone

from eag_augment.pipelines import fold_split, load_dataset, load_spec, training_subset
from eag_augment.pipelines.runner import bind_augmenter

SPEC = Path(__file__).parent / "specs" / "decoding_gain_m1.toml"
FRACTION, FOLD = 0.1, 0
COLUMNS = {"arm": "arm", "decoder": "decoder", "n": "runs", "mean": "mean", "sd": "s.d.",
           "min": "min", "max": "max"}


def spread(rows: list[dict]) -> pd.DataFrame:
    """Mean, s.d. (NaN for a single run), min and max of R^2 per arm and decoder."""
    # Row order (ridge before GRU within an arm) is the table's order.
    long = (pd.DataFrame(rows).melt(id_vars=["arm", "seed"], value_vars=["ridge", "gru"],
                                    var_name="decoder", value_name="r2", ignore_index=False)
            .sort_index(kind="stable").dropna(subset="r2"))
    return (long.groupby(["arm", "decoder"], sort=False).r2
            .agg(n="size", mean="mean", sd="std", min="min", max="max").reset_index())


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--mat", type=Path, default=_common.SHARED_DATA / "m1_stevenson_2011.mat")
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    _common.setup(args)
    spec = load_spec(SPEC, profile="quick" if args.quick else None,
                     overrides=[f'dataset.path="{args.mat.resolve()}"'])
    trials, _ = load_dataset(spec.dataset, _common.CACHE)
    pool, tests = fold_split(trials, spec.split, FOLD)
    train = training_subset(pool, FRACTION, FOLD, spec.split["subset"])
    test = next(iter(tests.values()))
    ridge, gru = spec.decoders["ridge"], spec.decoders["gru"]
    if args.quick:
        gru = clone(gru).set_params(max_epochs=3)
    print(f"M1, fold {FOLD}, {train.n_trials} training windows, {test.n_trials} test windows")

    def scores(X, y, gru_seed: int) -> dict:
        return {"ridge": clone(ridge).fit(X, y).score(test.spikes, test.behavior),
                "gru": clone(gru).set_params(random_state=gru_seed).fit(X, y)
                .score(test.spikes, test.behavior)}

    rows = []
    for seed in range(args.seeds):
        rows.append({"arm": "GRU alone", "seed": seed,
                     "gru": scores(train.spikes, train.behavior, seed)["gru"]})
        print(rows[-1])
    for precision, seeds in (("fp32", range(args.seeds)), ("bf16", [0])):
        for seed in seeds:
            aug = bind_augmenter(spec, "eag", train.bin_ms, None)
            aug.set_params(random_state=seed, generator__random_state=seed,
                           generator__precision=precision)
            start = time.perf_counter()
            X, y = aug.fit_resample(train.spikes, train.behavior)
            rows.append({"arm": f"EAG {precision}", "seed": seed,
                         "fit_s": time.perf_counter() - start, **scores(X, y, 0)})
            print(rows[-1])

    summary = spread(rows)
    lines = ["# Spread of one M1 result across seeds and arithmetic", "",
             f"M1 (Stevenson 2011), decoding_gain_m1 spec, {FRACTION:.0%} of the training time "
             f"({train.n_trials} windows), outer fold {FOLD}, {test.n_trials} test windows; "
             "test R^2 of the spec's fixed ridge and GRU.", "",
             md_table(summary.assign(**{c: summary[c].map("{:.3f}".format, na_action="ignore")
                                        for c in ("mean", "sd", "min", "max")}), COLUMNS)]
    machine = _common.machine()
    lines += ["", f"{machine['cpu']}, {machine['torch_threads']} torch thread(s), "
              f"commit {machine['commit']}, {machine['date']}."]
    suffix = "_quick" if args.quick else ""
    _common.write_json(args.out / f"seed_spread{suffix}.json",
                       {"machine": machine, "rows": rows,
                        "summary": summary.to_dict(orient="records")})
    (args.out / f"seed_spread{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
