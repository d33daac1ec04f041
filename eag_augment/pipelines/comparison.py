"""Every pipeline of a run against the baseline to beat, with bootstrap confidence intervals.

The baseline to beat is the best the user could do without augmentation: each decoder tuned
by inner cross-validation on the real training trials ("none", mode "tuned"). For every test
set and training fraction, :func:`compare` reports each pipeline's mean R^2 over seeds
(training segments or outer folds) with a 95 % two-level bootstrap interval, its paired
difference to the same decoder's tuned baseline, and its difference to the best tuned
decoder without augmentation (:func:`eag_augment.model_selection.bootstrap_r2`).
"""

from __future__ import annotations

import pandas as pd

from eag_augment.model_selection import bootstrap_r2

__all__ = ["compare", "comparison_markdown"]

_KEY = "{decoder}|{augmenter}|{mode}"


def compare(rows: pd.DataFrame, predictions: dict, targets: dict, *,
            baseline: tuple[str, str] = ("none", "tuned"), shared_test: bool = False,
            n_boot: int = 2000, random_state=0) -> pd.DataFrame:
    """Bootstrap comparison of every (decoder, augmenter, mode) with the tuned baselines.

    Parameters
    ----------
    rows : DataFrame
        The run's rows (test_set, train_fraction, seed, augmenter, decoder, mode).
    predictions : dict
        (fraction, seed, augmenter, decoder, mode, test set) -> predicted velocity
        (trials, bins, dims), as :func:`eag_augment.pipelines.run` collects them.
    targets : dict
        (seed, test set) -> true velocity of that seed's test trials.
    baseline : (augmenter, mode)
        The pipelines without augmentation that the others are measured against.
    shared_test : bool
        Whether every seed is scored on the same test trials (see ``bootstrap_r2``).
    n_boot, random_state
        Bootstrap replicates and seed; the same seed gives every call the same resamples.

    Returns
    -------
    DataFrame, one row per (test_set, train_fraction, decoder, augmenter, mode)
        r2, r2_low, r2_high, n_segments; diff, diff_low, diff_high, p_not_above against the
        same decoder's baseline; best_decoder (the decoder whose baseline scores highest)
        and diff_best, diff_best_low, diff_best_high against that baseline.
    """
    if "mode" not in rows:
        rows = rows.assign(mode="fixed")
    base_aug, base_mode = baseline
    out = []
    for (test_set, fraction), part in rows.groupby(["test_set", "train_fraction"], sort=False):
        seeds = sorted(part["seed"].unique())
        y_true = [targets[(s, test_set)] for s in seeds]
        preds = {}
        for dec, aug, mode in part[["decoder", "augmenter", "mode"]].drop_duplicates() \
                .itertuples(index=False):
            keys = [(fraction, s, aug, dec, mode, test_set) for s in seeds]
            if all(k in predictions for k in keys):
                preds[_KEY.format(decoder=dec, augmenter=aug, mode=mode)] = \
                    [predictions[k] for k in keys]
        decoders = list(dict.fromkeys(part["decoder"]))
        bases = {d: _KEY.format(decoder=d, augmenter=base_aug, mode=base_mode)
                 for d in decoders}
        bases = {d: k for d, k in bases.items() if k in preds}
        if not bases:
            continue
        per_decoder = []
        for dec, base in bases.items():
            mine = {k: v for k, v in preds.items() if k.startswith(f"{dec}|")}
            per_decoder.append(bootstrap_r2(y_true, mine, baseline=base, n_boot=n_boot,
                                            shared_test=shared_test,
                                            random_state=random_state))
        table = pd.concat(per_decoder, ignore_index=True)
        best_dec = max(bases, key=lambda d: table.set_index("pipeline").loc[bases[d], "r2"])
        versus_best = bootstrap_r2(y_true, preds, baseline=bases[best_dec], n_boot=n_boot,
                                   shared_test=shared_test, random_state=random_state)
        versus_best = versus_best.set_index("pipeline")[["diff", "diff_low", "diff_high"]]
        table = table.join(versus_best.rename(columns=lambda c: c.replace("diff", "diff_best")),
                           on="pipeline")
        parts = table["pipeline"].str.split("|", expand=True)
        table = table.assign(test_set=test_set, train_fraction=fraction, decoder=parts[0],
                             augmenter=parts[1], mode=parts[2], best_decoder=best_dec)
        out.append(table.drop(columns=["pipeline", "segment_r2"]))
    columns = ["test_set", "train_fraction", "decoder", "augmenter", "mode", "r2", "r2_low",
               "r2_high", "n_segments", "diff", "diff_low", "diff_high", "p_not_above",
               "best_decoder", "diff_best", "diff_best_low", "diff_best_high"]
    if not out:
        return pd.DataFrame(columns=columns)
    return pd.concat(out, ignore_index=True)[columns]


def _interval(mid: float, low: float, high: float) -> str:
    return f"{mid:+.3f} [{low:+.3f}, {high:+.3f}]"


def comparison_markdown(table: pd.DataFrame, *,
                        baseline: tuple[str, str] = ("none", "tuned")) -> str:
    """Markdown of :func:`compare`: per test set and fraction, a row per (decoder, mode), a
    column per augmenter; cells "R^2 (difference to the decoder's baseline [95 % CI])",
    then the gains of the pipelines of the baseline's mode over the best baseline."""
    base_aug, base_mode = baseline
    what = "tuned" if base_mode == "tuned" else "with the spec's fixed settings"
    if table.empty:
        return "No pipeline had a baseline to compare with.\n"
    lines = []
    several = table["test_set"].nunique() > 1
    augmenters = list(dict.fromkeys(table["augmenter"]))
    for (test_set, fraction), part in table.groupby(["test_set", "train_fraction"], sort=False):
        n = int(part["n_segments"].max())
        best = part["best_decoder"].iloc[0]
        base = part[(part.decoder == best) & (part.augmenter == base_aug)
                    & (part["mode"] == base_mode)].iloc[0]
        title = f"### {fraction:.0%} of the training data" + (f", {test_set} test set"
                                                              if several else "")
        lines += [title, "",
                  f"Baseline to beat: {best} {what}, without augmentation: R^2 {base.r2:.3f} "
                  f"[{base.r2_low:.3f}, {base.r2_high:.3f}] (95 % CI, {n} seeds).", "",
                  "| decoder | mode | " + " | ".join(augmenters) + " |",
                  "|" + " --- |" * (2 + len(augmenters))]
        for (dec, mode), group in part.groupby(["decoder", "mode"], sort=False):
            cells = {}
            for r in group.itertuples():
                cell = f"{r.r2:.3f}"
                if not (r.augmenter == base_aug and r.mode == base_mode):
                    cell += f" ({_interval(r.diff, r.diff_low, r.diff_high)})"
                cells[r.augmenter] = cell
            lines.append(f"| {dec} | {mode} | " + " | ".join(cells.get(a, "")
                                                            for a in augmenters) + " |")
        tuned = part[(part["mode"] == base_mode) & (part.augmenter != base_aug)]
        if not tuned.empty:
            lines += ["", f"Pipelines ({base_mode}) minus {best} {what} without augmentation "
                      "(95 % CI); **bold**: the interval excludes 0.", "",
                      "| augmenter | " + " | ".join(dict.fromkeys(tuned.decoder)) + " |",
                      "|" + " --- |" * (1 + tuned.decoder.nunique())]
            for aug, group in tuned.groupby("augmenter", sort=False):
                cells = []
                for r in group.itertuples():
                    text = _interval(r.diff_best, r.diff_best_low, r.diff_best_high)
                    cells.append(f"**{text}**" if r.diff_best_low > 0 or r.diff_best_high < 0
                                 else text)
                lines.append(f"| {aug} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("Cells: test R^2, mean over seeds (training segments or outer folds); in "
                 f"brackets the paired difference to the same decoder {what} without "
                 "augmentation, with its 95 % two-level bootstrap interval (seeds and test "
                 "trials resampled). 'fixed': the spec's settings; 'tuned': decoder "
                 "hyperparameters and augmentation ratio (0 included) chosen by inner "
                 "cross-validation on the real training trials.")
    return "\n".join(lines) + "\n"
