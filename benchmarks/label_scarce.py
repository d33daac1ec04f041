"""Label-scarce learning on the real M1 recording: few labelled windows, many unlabelled ones.

    python benchmarks/label_scarce.py [--mat PATH]        # 2, 5, 10 % labelled, five folds
    python benchmarks/label_scarce.py --quick             # end-to-end check, numbers meaningless
    python benchmarks/label_scarce.py --report-only       # tables from the last run
    python benchmarks/label_scarce.py --redraw benchmarks/results/label_scarce_m1.json

Each outer fold of decoding_gain_m1 (blocked, five folds) labels only the leading part of its
training pool and gives the rest of the pool's spikes without velocity
(benchmarks/specs/label_scarce_m1.toml, ``[sweep] unlabelled = true``; never the test block).
EAG learns its autoencoder from labelled and unlabelled spikes; FactorDecoder, the fair
baseline, decodes from the log-rates the same autoencoder infers after learning from the same
spikes, without generating anything. When the M1 decoding-gain runs of the same commit exist
(runs/benchmarks/decoding_gain_m1[_medium]), their EAG pipelines, fitted on the labelled windows only,
join the comparison as "eag (labelled only)": same folds, segments and test windows.
Writes benchmarks/results/label_scarce_m1[_quick].json / .md / _gains.png (each tuned augmented
pipeline minus the best decoder tuned without augmentation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, print_redrawn, published, run_machine, shown,  # noqa: E402
                     sweep_spec, write_json)
from decoding_gain import (_panels, build_parser,  # noqa: E402
                           check_targets, head_to_head, merge_runs, ratio_choices, records,
                           report_markdown)

from eag_augment.model_selection import bootstrap_r2  # noqa: E402
from eag_augment.pipelines import compare, load_predictions, run  # noqa: E402

LABELLED_ONLY = "eag (labelled only)"


def labelled_only(rows: pd.DataFrame, predictions: dict, run_dir: Path
                  ) -> tuple[pd.DataFrame, dict]:
    """The EAG pipelines of the decoding-gain run at this run's fractions, folds and decoders,
    renamed ``LABELLED_ONLY``; nothing when that run is absent."""
    results = run_dir / "results.json"
    if not results.exists():
        return rows, predictions
    other = pd.DataFrame(json.loads(results.read_text())["rows"])
    have = rows[rows.augmenter == LABELLED_ONLY].train_fraction
    keep = other[(other.augmenter == "eag") & other.train_fraction.isin(rows.train_fraction)
                 & ~other.train_fraction.isin(have)
                 & other.seed.isin(rows.seed) & other.decoder.isin(rows.decoder)]
    if keep.empty:
        return rows, predictions
    theirs, _ = load_predictions(run_dir / "predictions.npz")
    added = {(f, s, LABELLED_ONLY, d, m, t): v for (f, s, a, d, m, t), v in theirs.items()
             if a == "eag" and ((keep.train_fraction == f) & (keep.seed == s)
                                & (keep.decoder == d)).any()}
    return (pd.concat([rows, keep.assign(augmenter=LABELLED_ONLY)], ignore_index=True),
            {**predictions, **added})


def factor_gain(rows: pd.DataFrame, predictions: dict, targets: dict) -> pd.DataFrame:
    """What the unlabelled spikes give without generating: the tuned factor decoder minus
    the tuned ridge on the labelled windows, neither augmented, paired by fold and test
    window (95 % CI), with the per-fold R^2 of both."""
    out = []
    base = rows[(rows["mode"] == "tuned") & (rows.augmenter == "none")]
    for fraction, part in base.groupby("train_fraction"):
        seeds = sorted(part.seed.unique())
        if not {"ridge", "factor_ridge"} <= set(part.decoder):
            continue
        preds = {d: [predictions[(fraction, s, "none", d, "tuned", "test")] for s in seeds]
                 for d in ("factor_ridge", "ridge")}
        t = bootstrap_r2([targets[(s, "test")] for s in seeds], preds, baseline="ridge",
                         random_state=0).set_index("pipeline").loc["factor_ridge"]
        per_fold = part.pivot_table(index="seed", columns="decoder", values="r2")
        out.append({"train_fraction": fraction, "diff": t["diff"], "diff_low": t.diff_low,
                    "diff_high": t.diff_high, "n_seeds": len(seeds),
                    "ridge_per_fold": per_fold["ridge"].round(3).tolist(),
                    "factor_per_fold": per_fold["factor_ridge"].round(3).tolist()})
    return pd.DataFrame(out)


def factor_markdown(gain: pd.DataFrame, unlabelled: bool) -> str:
    title = ("The unlabelled spikes without generating" if unlabelled else
             "The factor decoder on the labelled windows alone (no unlabelled spikes)")
    lines = [f"\n## {title}: factor_ridge minus ridge\n",
             "Both tuned, neither augmented; paired by fold and test window (95 % CI). "
             "Per fold: R^2 of ridge -> factor_ridge.\n",
             "| labelled | factor_ridge − ridge | per fold |", "| --- | --- | --- |"]
    for r in gain.itertuples():
        folds = ", ".join(f"{a:.3f} -> {b:.3f}" for a, b in zip(r.ridge_per_fold,
                                                                r.factor_per_fold))
        lines.append(f"| {r.train_fraction:.0%} | {r.diff:+.3f} [{r.diff_low:+.3f}, "
                     f"{r.diff_high:+.3f}] | {folds} |")
    return "\n".join(lines) + "\n"


def gains_figure(comparison: pd.DataFrame, path: Path) -> Path | None:
    """Each tuned augmented pipeline minus the best decoder tuned without augmentation (the
    factor decoder among them), or None when nothing was augmented."""
    augmented = comparison[comparison.augmenter != "none"]
    return None if augmented.empty else _panels(
        augmented, "diff_best", "diff_best_low", "diff_best_high", path,
        "R^2 minus the best decoder\ntuned without augmentation (95 % CI)",
        "M1, labelled fraction + unlabelled rest of the training pool: gain over the best "
        "decoder tuned without augmentation (the factor decoder included)", zero_line=True)


def redraw(path: Path) -> dict[str, Path]:
    """Redraw a published result's figure beside it, from the tables in its JSON."""
    saved = published(path, "label_scarce")
    gains = gains_figure(pd.DataFrame(saved["comparison"]), path.parent / f"{path.stem}_gains.png")
    return {"gains": gains} if gains else {}


def main(argv: list[str] | None = None) -> int:
    args = build_parser(__doc__.splitlines()[0], datasets=("m1",),
                        benchmark="label_scarce").parse_args(argv)
    if args.redraw:
        print_redrawn(redraw(args.redraw))
        return 0
    if (setting := sweep_spec(args, "label_scarce", "label_scarce_m1.toml")) is None:
        return 0
    spec, profile, stem = setting
    out = args.out
    if args.report_only:
        saved = json.loads((spec.output / "results.json").read_text())
        rows, wall_s = pd.DataFrame(saved["rows"]), saved["wall_s"]
        info = json.loads((out / f"{stem}.json").read_text())["machine"]
    else:
        result = run(spec, verbose=1, resume=args.resume)
        rows, wall_s = result.rows, result.wall_s
        info = run_machine(spec, result.resumed)
    predictions, targets = load_predictions(spec.output / "predictions.npz")
    rows, predictions, wall_s = merge_runs(rows, predictions, wall_s, args.merge)
    if profile is None:
        for run_dir in ("decoding_gain_m1", "decoding_gain_m1_medium"):
            rows, predictions = labelled_only(rows, predictions,
                                              ROOT / "runs" / "benchmarks" / run_dir)
    comparison = compare(rows, predictions, targets)
    versus = head_to_head(rows, predictions, targets, shared_test=False)
    choices = ratio_choices(rows)
    checks = check_targets(comparison, versus, None, "m1")
    gains = gains_figure(comparison, out / f"{stem}_gains.png")
    factors = factor_gain(rows, predictions, targets)
    md = report_markdown(stem, comparison, versus, None, choices, checks, info, wall_s)
    if not factors.empty:
        md += factor_markdown(factors, spec.unlabelled)
    md += ("\nDecoders: `factor_ridge` is FactorDecoder (ridge on the log-rates an autoencoder "
           "infers after learning from the labelled and unlabelled spikes): the baseline that "
           "gets the unlabelled spikes without generating. 'eag' learns its autoencoder from "
           f"the same spikes; '{LABELLED_ONLY}' is decoding_gain_m1's EAG, fitted on the "
           "labelled windows only (same folds and test windows).\n")
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "label_scarce", "dataset": "m1", "profile": profile,
        "machine": info, "wall_s": wall_s, "spec": spec.raw,
        "comparison": records(comparison), "eag_versus": records(versus),
        "ratio_choices": records(choices), "targets": checks,
        "factor_gain": records(factors),
        "figures": {"gains": None if gains is None else shown(gains)}, "rows": records(rows),
    })
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
