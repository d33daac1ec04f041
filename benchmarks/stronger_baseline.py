"""Is the baseline to beat the best the user could do? A more broadly tuned decoder without
augmentation, set against published decoding-gain runs on the same folds and test trials.

Before version 0.2 the decoding-gain specs tuned ridge over ``alpha`` at a fixed history
(``lags``), the Wiener filter over ``lags`` only; a user would search ridge's history too (the
default since 0.2). Run the baseline with a wider search as a decoding-gain variant, e.g.

    python benchmarks/decoding_gain.py --profile medium --variant ridge_lags \\
        --set 'sweep.augmenters=["none"]' --set 'sweep.decoders=["ridge","wiener"]' \\
        --set 'figures.decoder="ridge"' --set 'tuning.param_grids.ridge.lags=[1, 2, 3, 5, 10]' \\
        --set 'tuning.param_grids.ridge.alpha=[0.1, 0.316, ..., 100000.0]'

then set its tuned ridge, renamed "ridge (lags searched)", beside every tuned pipeline of the
published runs (their run folders: rows and test predictions), at the training fractions
both hold:

    python benchmarks/stronger_baseline.py runs/benchmarks/decoding_gain_synthetic_medium_ridge_lags \\
        runs/benchmarks/decoding_gain_synthetic_medium_f05 [...] --name synthetic

Each pipeline's difference to the new baseline is paired by fold and test trial (95 %
two-level bootstrap). Writes benchmarks/results/stronger_baseline_<name>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import _common
import pandas as pd
from decoding_gain import md_table

from eag_augment.pipelines import compare, load_predictions

NEW = "ridge (lags searched)"


def load_run(run_dir: Path) -> tuple[pd.DataFrame, dict, dict]:
    """(rows, predictions, targets) of a run folder."""
    saved = json.loads((run_dir / "results.json").read_text())
    predictions, targets = load_predictions(run_dir / "predictions.npz")
    return pd.DataFrame(saved["rows"]), predictions, targets


def against(baseline_dir: Path, runs: list[Path]) -> pd.DataFrame:
    """Every tuned pipeline of ``runs`` and the baseline run's tuned ridge (renamed), compared
    per training fraction both hold; the baseline to beat is the best of them all."""
    base_rows, base_preds, base_targets = load_run(baseline_dir)
    base_rows = base_rows[(base_rows.augmenter == "none") & (base_rows["mode"] == "tuned")
                          & (base_rows.decoder == "ridge")].assign(decoder=NEW)
    base_preds = {(*k[:3], NEW, *k[4:]): v for k, v in base_preds.items()
                  if k[2] == "none" and k[3] == "ridge" and k[4] == "tuned"}
    tables = []
    for run_dir in runs:
        rows, preds, targets = load_run(run_dir)
        shared = {(s, t) for s, t in targets} & set(base_targets)
        if any((targets[k] != base_targets[k]).any() for k in shared) or not shared:
            raise SystemExit(f"stronger_baseline: {run_dir} and {baseline_dir} do not share "
                             "their folds' test trials")
        fractions = set(rows.train_fraction) & set(base_rows.train_fraction)
        rows = rows[rows.train_fraction.isin(fractions) & (rows["mode"] == "tuned")]
        both = pd.concat([rows, base_rows[base_rows.train_fraction.isin(fractions)]],
                         ignore_index=True)
        tables.append(compare(both, {**preds, **base_preds}, targets))
    return pd.concat(tables, ignore_index=True)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per test set and fraction: the best decoder without augmentation before (the
    published runs' decoders) and now, and each augmenter's best tuned pipeline against it."""
    out = []
    for (test_set, fraction), part in table.groupby(["test_set", "train_fraction"]):
        none = part[part.augmenter == "none"].set_index("decoder")
        old = none.drop(index=NEW).r2.idxmax()
        best = part.best_decoder.iloc[0]
        row = {"test_set": test_set, "train_fraction": fraction,
               "old": f"{old} {none.r2[old]:.3f}", "new": f"{NEW} {none.r2[NEW]:.3f}",
               "best": best}
        for aug, sub in part[part.augmenter != "none"].groupby("augmenter", sort=False):
            top = sub.loc[sub.r2.idxmax()]
            bold = "**" if top.diff_best_low > 0 or top.diff_best_high < 0 else ""
            row[aug] = (f"{top.decoder} {top.r2:.3f}: {bold}{top.diff_best:+.3f} "
                        f"[{top.diff_best_low:+.3f}, {top.diff_best_high:+.3f}]{bold}")
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("baseline", type=Path, help="the run folder of the wider-searched baseline")
    p.add_argument("runs", type=Path, nargs="+", help="published runs' folders, same folds")
    p.add_argument("--name", required=True, type=_common.file_name_part)
    p.add_argument("--out", type=Path, default=_common.RESULTS)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    table = against(args.baseline, args.runs)
    short = summary(table)
    augmenters = [c for c in short.columns
                  if c not in ("test_set", "train_fraction", "old", "new", "best")]
    columns = {"train_fraction": "real data", "old": "best decoder before",
               "new": "ridge, lags searched", "best": "baseline to beat now",
               **{a: f"best {a} pipeline minus it" for a in augmenters}}
    lines = [f"# The baseline with ridge's history searched: {args.name}", "",
             f"Baseline run: `{_common.shown(args.baseline)}`; pipelines from "
             + ", ".join(f"`{_common.shown(r)}`" for r in args.runs) + ". Tuned pipelines "
             "only; R^2 means over the outer folds; differences paired by fold and test trial "
             "(95 % two-level bootstrap), **bold** where the interval excludes 0.", ""]
    for test_set, part in short.groupby("test_set", sort=False):
        lines += [f"## Test set: {test_set}", "",
                  md_table(part.assign(train_fraction=part.train_fraction.map("{:.0%}".format))
                           .fillna(""), columns), ""]
    lines.append(f"Measured by {_common.machine()['cpu']}; command: `python "
                 f"benchmarks/stronger_baseline.py {_common.shown(args.baseline)} "
                 + " ".join(_common.shown(r) for r in args.runs) + f" --name {args.name}`.")
    _common.write_json(args.out / f"stronger_baseline_{args.name}.json",
                       {"machine": _common.machine(), "baseline": _common.shown(args.baseline),
                        "runs": [_common.shown(r) for r in args.runs],
                        "comparison": table.to_dict(orient="records"),
                        "summary": short.to_dict(orient="records")})
    (args.out / f"stronger_baseline_{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
