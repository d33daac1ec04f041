"""What ``selection="one_se"`` would have chosen in a finished tuned run, and how it scores.

    python benchmarks/selection_rule.py runs/benchmarks/label_scarce_m1
    python benchmarks/selection_rule.py RUN_DIR --name NAME   # results/selection_rule_NAME.*

The run's tuned rows must carry ``inner_gain`` and ``inner_gain_se`` (runs since the rows
gained them; older resumed jobs lack them and are left out, with the count said). Its tuned
augmented pipelines chose by the highest mean validation R^2 ("best"). The one-standard-error
rule (``TunedPipeline(selection="one_se")``) keeps such a pipeline where
``inner_gain > inner_gain_se`` and otherwise refits the best un-augmented candidate: the
same decoder's tuned baseline ("none", tuned) of the same fold, because the runner scores
the un-augmented candidates of both jobs on the same inner folds with the same seed. So the
rule's test predictions are read from the run, nothing is refitted, and both rules are
compared with the run's two-level bootstrap. Writes
benchmarks/results/selection_rule_NAME.json / .md (NAME: the run folder's name).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, shown, write_json  # noqa: E402
from decoding_gain import records  # noqa: E402

from eag_augment.model_selection._tuning import clears_one_se  # noqa: E402
from eag_augment.pipelines import compare, load_predictions  # noqa: E402
from eag_augment.pipelines.comparison import comparison_markdown  # noqa: E402

RULE = "tuned_one_se"


def one_se_pipelines(rows: pd.DataFrame, predictions: dict) -> tuple[pd.DataFrame, dict, int]:
    """Rows and predictions of mode ``RULE`` for every tuned augmented row that has its inner
    gain, on (fraction, decoder, augmenter) groups complete over seeds; and the count of
    tuned augmented rows left out for lacking it."""
    tuned = rows[(rows["mode"] == "tuned") & (rows.augmenter != "none")].copy()
    if "inner_gain" not in tuned:
        return rows.iloc[:0], {}, len(tuned)
    has = tuned["inner_gain"].notna()
    groups = ["train_fraction", "decoder", "augmenter"]
    seeds = rows.groupby("train_fraction")["seed"].nunique()
    complete = tuned[has].groupby(groups)["seed"].transform("nunique") \
        == tuned[has].train_fraction.map(seeds)
    keep = tuned[has][complete]
    baseline = {(r.train_fraction, r.seed, r.decoder, r.test_set): r.r2
                for r in rows[(rows["mode"] == "tuned") & (rows.augmenter == "none")].itertuples()}
    out, added = [], {}
    for r in keep.itertuples():
        augments = r.ratio > 0 and clears_one_se(r.inner_gain, r.inner_gain_se)
        source = (r.train_fraction, r.seed, r.augmenter if augments else "none", r.decoder,
                  "tuned", r.test_set)
        added[(r.train_fraction, r.seed, r.augmenter, r.decoder, RULE, r.test_set)] = \
            predictions[source]
        out.append({**r._asdict(), "mode": RULE, "ratio": r.ratio if augments else 0.0,
                    "r2": r.r2 if augments else baseline[(r.train_fraction, r.seed, r.decoder,
                                                          r.test_set)]})
    frame = pd.DataFrame(out).drop(columns="Index", errors="ignore")
    return frame, added, len(tuned) - len(keep)


def choices(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (fraction, decoder, augmenter): folds each rule augmented, and the inner gains."""
    both = rows[rows["mode"].isin(["tuned", RULE]) & (rows.augmenter != "none")
                & (rows.test_set == rows.test_set.iloc[0])]
    both = both[both.set_index(["train_fraction", "seed", "decoder", "augmenter"]).index.isin(
        both[both["mode"] == RULE].set_index(["train_fraction", "seed", "decoder",
                                              "augmenter"]).index)]
    wide = both.pivot_table(index=["train_fraction", "decoder", "augmenter", "seed"],
                            columns="mode", values="ratio").reset_index()
    inner = both[both["mode"] == "tuned"].set_index(
        ["train_fraction", "decoder", "augmenter", "seed"])[["inner_gain", "inner_gain_se"]]
    wide = wide.join(inner, on=["train_fraction", "decoder", "augmenter", "seed"])
    return wide.rename(columns={"tuned": "ratio_best", RULE: "ratio_one_se"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="a finished run folder (results.json, "
                   "predictions.npz)")
    p.add_argument("--name", help="results/selection_rule_NAME.*; default: the folder's name")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and markdown")
    args = p.parse_args()
    saved = json.loads((args.run_dir / "results.json").read_text())
    rows = pd.DataFrame(saved["rows"])
    predictions, targets = load_predictions(args.run_dir / "predictions.npz")
    extra, added, left_out = one_se_pipelines(rows, predictions)
    if extra.empty:
        sys.exit(f"selection_rule: no tuned augmented pipeline of {args.run_dir} has its inner "
                 f"gain ({left_out} without): re-run it with this version of the runner")
    fractions = extra.train_fraction.unique()
    rows = rows[rows.train_fraction.isin(fractions) & rows["mode"].eq("tuned")]
    both = pd.concat([rows, extra], ignore_index=True)
    table = compare(both, {**predictions, **added}, targets)
    picks = choices(both)
    name = args.name or args.run_dir.name
    info = {**machine(), "run": shown(args.run_dir), "run_machine": saved.get("machine")}
    lines = [f"# One-standard-error selection on {name}\n",
             f"Read from `{shown(args.run_dir)}` (run on {saved['machine']['cpu']}); command "
             f"`{info['command']}`, commit {info['commit']}. Mode 'tuned': the run's rule, the "
             f"highest mean validation R^2; '{RULE}': augment only where the paired inner-CV "
             "gain over the best un-augmented candidate exceeds one standard error, else the "
             "tuned baseline's predictions (see the script's docstring). "
             f"{left_out} tuned augmented rows lacked their inner gain and are left out.\n",
             comparison_markdown(table),
             "## Choices per fold\n",
             "| fraction | decoder | augmenter | fold | ratio (best) | ratio (one_se) | "
             "inner gain ± s.e. |", "|" + " --- |" * 7]
    for r in picks.itertuples():
        lines.append(f"| {r.train_fraction:.0%} | {r.decoder} | {r.augmenter} | {r.seed} | "
                     f"{r.ratio_best:g} | {r.ratio_one_se:g} | "
                     f"{r.inner_gain:+.4f} ± {r.inner_gain_se:.4f} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"selection_rule_{name}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {shown(args.out / f'selection_rule_{name}.md')}")
    write_json(args.out / f"selection_rule_{name}.json",
               {"machine": info, "left_out": left_out, "comparison": records(table),
                "choices": records(picks.astype({"seed": int})),
                "inner_gain_clears_se": float(np.mean(picks.inner_gain > picks.inner_gain_se))})


if __name__ == "__main__":
    main()
