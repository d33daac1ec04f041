"""Decoding gain from synthetic trials, measured against the tuned baselines.

    python benchmarks/decoding_gain.py                      # simulated reach, learning curve
    python benchmarks/decoding_gain.py --dataset m1 [--mat PATH]
    python benchmarks/decoding_gain.py --profile medium     # fewer fractions (see the spec)
    python benchmarks/decoding_gain.py --quick              # end-to-end check, numbers meaningless
    python benchmarks/decoding_gain.py --dataset m1 --report-only   # tables from the last run
    python benchmarks/decoding_gain.py --redraw benchmarks/results/decoding_gain_m1.json

The sweep is declared in benchmarks/specs/decoding_gain_<dataset>.toml and run by
:func:`eag_augment.pipelines.run`: five outer folds (blocked: each fold tests on one fifth of
the data and trains on the segment that follows it, so segments of up to a fifth do not
overlap), training fractions, augmenters, and every decoder both with the spec's fixed
settings and tuned by inner blocked cross-validation on the real training trials, the
augmentation ratio (0 included) and, for guided generators, the guidance scale searched
with it. The baseline to beat is the decoder tuned without augmentation.

This script adds: EAG against every other augmenter (paired, tuned), the share of the
oracle's gain EAG captures (simulated data), how often the tuned pipelines chose to augment,
the targets of issues 9 and 13 judged by their 95 % intervals, and the figures. Writes
benchmarks/results/decoding_gain_<dataset>[_<profile>].json / .md and _curves.png (tuned
R^2 learning curves), _gains.png (each tuned pipeline minus the best decoder tuned without
augmentation), _statistics.png / _rasters.png (real vs generated trials). ``--redraw``
redraws the curves and gains of a published result from its JSON alone.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (add_redraw, augmenter_colours, duration, measured_on,  # noqa: E402
                     print_redrawn, published, run_machine, shown, sweep_parser, sweep_spec,
                     write_json)

from eag_augment.model_selection import bootstrap_r2  # noqa: E402
from eag_augment.pipelines import (compare, comparison_markdown, load_predictions,  # noqa: E402
                                   run)

MIN_GAIN = 0.02           # issue 13: >= +0.02 R^2 with the interval above 0
TARGET_FRACTIONS = {"m1": (0.05, 0.1), "synthetic": (0.1,)}
TARGET_DECODERS = ("ridge", "gru")


def _interval(mid: float, low: float, high: float) -> str:
    return f"{mid:+.3f} [{low:+.3f}, {high:+.3f}]"


def head_to_head(rows: pd.DataFrame, predictions: dict, targets: dict, shared_test: bool,
                 champion: str = "eag", mode: str = "tuned") -> pd.DataFrame:
    """``champion`` minus every other augmenter, same decoder and mode, paired by seed and
    test trial, with 95 % bootstrap intervals."""
    out = []
    part = rows[rows["mode"] == mode]
    for (test_set, fraction, decoder), group in part.groupby(
            ["test_set", "train_fraction", "decoder"], sort=False):
        seeds = sorted(group["seed"].unique())
        preds = {aug: [predictions[(fraction, s, aug, decoder, mode, test_set)] for s in seeds]
                 for aug in dict.fromkeys(group["augmenter"])}
        if champion not in preds:
            continue
        y = [targets[(s, test_set)] for s in seeds]
        for rival in preds:
            if rival == champion:
                continue
            t = bootstrap_r2(y, {champion: preds[champion], rival: preds[rival]},
                             baseline=rival, shared_test=shared_test, random_state=0)
            r = t.set_index("pipeline").loc[champion]
            out.append({"test_set": test_set, "train_fraction": fraction, "decoder": decoder,
                        "versus": rival, "diff": r["diff"], "diff_low": r.diff_low,
                        "diff_high": r.diff_high, "n_seeds": len(seeds)})
    return pd.DataFrame(out)


def oracle_capture(comparison: pd.DataFrame, champion: str = "eag") -> pd.DataFrame:
    """The champion's gain over the tuned baseline as a share of the oracle's, where the
    oracle's interval excludes 0 and its gain is at least 0.01 (a ratio over a small
    denominator says nothing)."""
    tuned = comparison[comparison["mode"] == "tuned"].set_index(
        ["test_set", "train_fraction", "decoder", "augmenter"])
    out = []
    for (test_set, fraction, decoder), _ in tuned.groupby(level=[0, 1, 2], sort=False):
        try:
            orc = tuned.loc[(test_set, fraction, decoder, "oracle")]
            mine = tuned.loc[(test_set, fraction, decoder, champion)]
        except KeyError:
            continue
        clear = orc.diff_low > 0 and orc["diff"] >= 0.01
        out.append({"test_set": test_set, "train_fraction": fraction, "decoder": decoder,
                    "gain": mine["diff"], "oracle_gain": orc["diff"],
                    "oracle_low": orc.diff_low,
                    "captured": mine["diff"] / orc["diff"] if clear else math.nan})
    return pd.DataFrame(out)


def ratio_choices(rows: pd.DataFrame) -> pd.DataFrame:
    """How often the tuned pipelines chose to augment, and the mean ratio they chose."""
    tuned = rows[(rows["mode"] == "tuned") & (rows["augmenter"] != "none")]
    first = tuned[tuned["test_set"] == tuned["test_set"].iloc[0]] if len(tuned) else tuned
    return first.groupby(["train_fraction", "decoder", "augmenter"], sort=False).agg(
        augmented=("ratio", lambda r: float(np.mean(np.asarray(r) > 0))),
        mean_ratio=("ratio", "mean"), n_seeds=("seed", "nunique")).reset_index()


def check_targets(comparison: pd.DataFrame, versus: pd.DataFrame,
                  capture: pd.DataFrame | None, dataset: str) -> list[dict]:
    """The issues' targets, each met only where its 95 % interval says so."""
    out = []

    def add(what: str, measured: str, met: bool) -> None:
        out.append({"target": what, "measured": measured, "met": bool(met)})

    tuned = comparison[(comparison["mode"] == "tuned") & (comparison.augmenter == "eag")
                       & (comparison.test_set == comparison.test_set.iloc[0])]
    for fraction in TARGET_FRACTIONS[dataset]:
        for dec in TARGET_DECODERS:
            sel = tuned[(tuned.train_fraction == fraction) & (tuned.decoder == dec)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            add(f"tuned EAG-{dec} beats tuned {dec} without augmentation by >= +{MIN_GAIN} "
                f"({fraction:.0%})", _interval(r["diff"], r.diff_low, r.diff_high),
                r["diff"] >= MIN_GAIN and r.diff_low > 0)
            add(f"tuned EAG-{dec} beats the best tuned decoder without augmentation "
                f"({r.best_decoder}) by >= +{MIN_GAIN} ({fraction:.0%})",
                _interval(r.diff_best, r.diff_best_low, r.diff_best_high),
                r.diff_best >= MIN_GAIN and r.diff_best_low > 0)
            rivals = ("jitter", "encoding") if dataset == "m1" else ("psth", "jitter")
            v = versus[(versus.train_fraction == fraction) & (versus.decoder == dec)
                       & versus.versus.isin(rivals)]
            for x in v.itertuples():
                add(f"tuned EAG-{dec} beats tuned {x.versus}-{dec} ({fraction:.0%})",
                    _interval(x.diff, x.diff_low, x.diff_high), x.diff_low > 0)
    if capture is not None and not capture.empty:
        for r in capture[capture.train_fraction.isin(TARGET_FRACTIONS[dataset])].itertuples():
            add(f"EAG captures >= 60 % of the oracle's gain ({r.decoder}, "
                f"{r.train_fraction:.0%}, tuned)",
                "n/a: the oracle's gain is not clear" if math.isnan(r.captured)
                else f"{r.captured:.0%} ({r.gain:+.3f} of {r.oracle_gain:+.3f})",
                not math.isnan(r.captured) and r.captured >= 0.6)
    return out


# ------------------------------------------------------------------------------ figures
# Relative step between augmenters drawn side by side, centred on their fraction.
_DODGE = 0.03


def _panels(comparison: pd.DataFrame, value: str, low: str, high: str, path: Path,
            ylabel: str, title: str, zero_line: bool) -> Path:
    """One panel per decoder: ``value`` of the tuned pipelines against the training fraction,
    one line per augmenter, 95 % intervals as bars; without ``zero_line``, a dashed line marks
    the best decoder tuned without augmentation at each fraction."""
    import matplotlib.pyplot as plt

    part = comparison[(comparison["mode"] == "tuned")
                      & (comparison.test_set == comparison.test_set.iloc[0])]
    decoders = list(dict.fromkeys(part.decoder))
    augmenters = list(dict.fromkeys(part.augmenter))
    fractions = sorted(part.train_fraction.unique())
    colours = augmenter_colours(augmenters)
    fig, axes = plt.subplots(1, len(decoders), figsize=(3.4 * len(decoders) + 1.8, 3.4),
                             squeeze=False, sharey=zero_line)
    for ax, dec in zip(axes[0], decoders):
        for k, aug in enumerate(augmenters):
            sub = part[(part.decoder == dec) & (part.augmenter == aug)].sort_values(
                "train_fraction")
            x = sub.train_fraction.to_numpy() * 100 * (
                1 + _DODGE * (k - (len(augmenters) - 1) / 2))
            style = dict(lw=2.2, zorder=5) if aug == "none" else {}
            ax.errorbar(x, sub[value], yerr=[sub[value] - sub[low], sub[high] - sub[value]],
                        marker="o", ms=3.5, capsize=2, label=aug, color=colours[aug], **style)
        if zero_line:
            ax.axhline(0.0, color="0.4", lw=0.8)
        else:
            # The baseline to beat: at each fraction, the best decoder tuned without augmentation.
            best = part[part.augmenter == "none"].groupby("train_fraction")[value].max()
            line = dict(color="0.45", ls="--", lw=1.2, zorder=6,
                        label="best decoder,\nno augmentation")
            if len(fractions) > 1:
                ax.plot(best.index * 100, best.to_numpy(), **line)
            else:  # a line through one point would be invisible
                ax.axhline(best.iloc[0], **line)
        if len(fractions) > 1:
            ax.set_xscale("log")
        else:  # autoscaling would push a single fraction's few points to the panel's edges
            half = _DODGE * (len(augmenters) + 1) / 2
            ax.set_xlim(fractions[0] * 100 * (1 - half), fractions[0] * 100 * (1 + half))
        # Augmenters sit side by side around each fraction; the ticks name the fractions.
        ax.set_xticks([f * 100 for f in fractions], [f"{f:.0%}" for f in fractions])
        ax.minorticks_off()
        ax.set_xlabel("real training data")
        ax.set_title(f"{dec}, tuned")
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize="small", frameon=False, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0), title="augmenter")
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ report
def choices_section(choices: pd.DataFrame, what: str, ratio_format: str) -> list[str]:
    """The report's "How often the tuned pipelines chose to augment" section: a table of the
    share of folds that augmented (``what`` says which folds) and the mean ratio, per
    fraction and decoder (rows) and augmenter (columns); none for a run without augmenters."""
    if choices.empty:
        return []
    ch = choices.copy()
    ch["fraction"] = ch.train_fraction.map("{:.0%}".format)
    ch["cell"] = [f"{a:.0%} (mean ratio {ratio_format.format(r)})"
                  for a, r in zip(ch.augmented, ch.mean_ratio)]
    wide = ch.pivot_table(index=["fraction", "decoder"], columns="augmenter", values="cell",
                          aggfunc="first", sort=False).reset_index()
    cols = {"fraction": "real data", "decoder": "decoder"}
    cols.update({a: a for a in ch.augmenter.unique()})
    return ["\n## How often the tuned pipelines chose to augment\n", what + "\n",
            md_table(wide, cols) + "\n"]


def md_table(df: pd.DataFrame, columns: dict[str, str]) -> str:
    head = list(columns.values())
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    # Plain tuples: named ones rename columns that are not identifiers ("eag (labelled only)").
    for values in df[list(columns)].itertuples(index=False, name=None):
        # An augmenter absent at one training fraction (runs joined with --merge): blank.
        cells = ("" if pd.isna(v) else str(v) for v in values)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(name: str, comparison: pd.DataFrame, versus: pd.DataFrame,
                    capture: pd.DataFrame | None, choices: pd.DataFrame, checks: list[dict],
                    info: dict, wall_s: float) -> str:
    parts = [f"# {name}\n",
             measured_on(info, wall_s),
             "## Against the tuned baselines\n", comparison_markdown(comparison)]
    if not versus.empty:
        v = versus.copy()
        v["fraction"] = v.train_fraction.map("{:.0%}".format)
        v["cell"] = [_interval(m, lo, hi) for m, lo, hi in zip(v["diff"], v.diff_low,
                                                               v.diff_high)]
        wide = v.pivot_table(index=["fraction", "decoder"], columns="versus", values="cell",
                             aggfunc="first", sort=False).reset_index()
        cols = {"fraction": "real data", "decoder": "decoder"}
        cols.update({a: f"EAG − {a}" for a in v.versus.unique()})
        parts += ["\n## EAG against the other augmenters (tuned pipelines)\n",
                  "R^2 of the tuned EAG pipeline minus that of the tuned pipeline with the "
                  "other augmenter, same decoder, paired by seed and test trial (95 % CI).\n",
                  md_table(wide, cols) + "\n"]
    if capture is not None and not capture.empty:
        c = capture.copy()
        c["fraction"] = c.train_fraction.map("{:.0%}".format)
        c["cap"] = [f"{x:.0%}" if not math.isnan(x) else "n/a" for x in c.captured]
        c["g"] = c.gain.map("{:+.3f}".format)
        c["o"] = [f"{g:+.3f} (low {lo:+.3f})" for g, lo in zip(c.oracle_gain, c.oracle_low)]
        parts += ["\n## Share of the oracle's gain captured (tuned pipelines)\n",
                  "EAG's gain over the tuned baseline / the oracle's; n/a where the oracle's "
                  "interval includes 0 or its gain is under 0.01.\n",
                  md_table(c, {"fraction": "real data", "decoder": "decoder", "g": "EAG gain",
                               "o": "oracle gain", "cap": "captured"}) + "\n"]
    parts += choices_section(choices, "Share of seeds whose inner cross-validation chose a "
                             "ratio above 0.", "{:.1f}")
    if checks:
        parts += ["\n## Targets\n", md_table(pd.DataFrame(checks).assign(
            met=lambda d: d.met.map({True: "met", False: "**not met**"})),
            {"target": "target", "measured": "measured (95 % CI)", "met": "status"}) + "\n"]
    return "\n".join(parts)


def records(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in row.items()} for row in df.to_dict(orient="records")]


# -------------------------------------------------------------------------------- main
def build_parser(description: str | None = None,
                 datasets: tuple[str, ...] = ("synthetic", "m1"),
                 benchmark: str = "decoding_gain"):
    """This script's options; another script reusing them (label_scarce) names itself as
    ``benchmark``: its result files are the ones --redraw takes, and --join stays ours."""
    p = sweep_parser(description or __doc__.split("\n\n")[0], datasets)
    p.add_argument("--merge", type=merge_source, action="append", default=[],
                   metavar="RUN_DIR[:AUG=NAME,...]",
                   help="add the rows and predictions of another run of the same spec (its "
                        "output folder, e.g. with other --set sweep.train_fraction or "
                        "sweep.augmenters) at the (fraction, augmenter) pairs this run lacks "
                        "(repeatable); ':eag=eag_spec' renames that run's augmenter eag first, "
                        "so that a variant's EAG is compared with the standard run's")
    if benchmark == "decoding_gain":
        p.add_argument("--join", type=Path, action="append", default=[],
                       metavar="RESULT_JSON",
                       help="add the tables of a published result of the same dataset and "
                            "folds (benchmarks/results/decoding_gain_*.json) at the (fraction, "
                            "augmenter) pairs this run lacks, each from the first file that "
                            "has it; their intervals are taken as published, nothing is "
                            "recomputed (repeatable; for runs whose folders are gone)")
    add_redraw(p, f"benchmarks/results/{benchmark}_*.json")
    return p


def _pairs(table: pd.DataFrame) -> list[tuple[float, str]]:
    """The (training fraction, augmenter) of each row."""
    return list(zip(table.train_fraction, table.augmenter))


def _at(table: pd.DataFrame, pairs: set[tuple[float, str]]) -> pd.DataFrame:
    """The rows of ``table`` whose (training fraction, augmenter) is one of ``pairs``."""
    return table[[pair in pairs for pair in _pairs(table)]]


def merge_source(text: str) -> tuple[Path, dict[str, str]]:
    """``RUN_DIR[:AUG=NAME,...]`` -> (run folder, {augmenter: new name})."""
    folder, _, renames = text.partition(":")
    pairs = [item.split("=") for item in renames.split(",") if item]
    if any(len(pair) != 2 or not all(pair) for pair in pairs):
        raise argparse.ArgumentTypeError(
            f"{text!r}: renames are AUG=NAME pairs separated by commas, e.g. RUN_DIR:eag=eag_spec")
    return Path(folder), dict(pairs)


def merge_runs(rows: pd.DataFrame, predictions: dict, wall_s: float,
               sources: list[Path | tuple[Path, dict[str, str]]]
               ) -> tuple[pd.DataFrame, dict, float]:
    """``rows`` and ``predictions`` plus, from each other run folder, the (training fraction,
    augmenter) pairs that ``rows`` lacks; wall times add up. A source is a run folder or
    (run folder, {augmenter: new name}): its augmenters are renamed first. The runs must
    share the spec's folds. A pair present in several runs comes from the first that has it."""
    for source in sources:
        run_dir, renames = source if isinstance(source, tuple) else (source, {})
        saved = json.loads((run_dir / "results.json").read_text())
        other = pd.DataFrame(saved["rows"])
        other["augmenter"] = other["augmenter"].replace(renames)
        added = set(_pairs(other)) - set(_pairs(rows))
        other = _at(other, added)
        theirs, _ = load_predictions(run_dir / "predictions.npz")
        # Keys: (fraction, seed, augmenter, decoder, mode, test set).
        theirs = {(k[0], k[1], renames.get(k[2], k[2]), *k[3:]): v for k, v in theirs.items()}
        predictions = {**predictions, **{k: v for k, v in theirs.items()
                                         if (k[0], k[2]) in added}}
        rows = pd.concat([rows, other], ignore_index=True)
        wall_s += saved["wall_s"]
    return rows.sort_values("train_fraction", kind="stable", ignore_index=True), predictions, wall_s


def join_results(tables: dict[str, pd.DataFrame], rows: pd.DataFrame, split: dict,
                 dataset: str, sources: list[Path]
                 ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[dict]]:
    """``tables`` (``comparison``, ``eag_versus``) and ``rows`` plus, from each published
    result file, the (training fraction, augmenter) pairs none of them has yet.

    Intervals are the file's, as published: the predictions they were drawn from are not in
    it. So an EAG-against-rival row is taken only where both pipelines come from that file,
    or one does and the other is a pair this run also measured and reproduces score for
    score (then the file's pipeline is this run's); and a pipeline's difference to the tuned
    baseline is the one its own run measured: join only runs whose folds, seeds and decoder
    settings give the same baseline. Returns the joined tables, the joined rows and, per
    source, the pairs it gave, the shared pairs it reproduces and those it does not, with
    its commit, date and command. A file of another dataset or other folds is refused."""
    joined, own = [], rows
    for path in sources:
        saved = json.loads(path.read_text())
        if saved.get("benchmark") != "decoding_gain" or saved.get("dataset") != dataset:
            raise SystemExit(f"--join {path}: not a decoding_gain result of dataset {dataset!r}")
        if saved["spec"]["split"] != split:
            raise SystemExit(f"--join {path}: other folds ({saved['spec']['split']} against "
                             f"this run's {split}); intervals would not be comparable")
        theirs = pd.DataFrame(saved["rows"])
        new = set(_pairs(theirs)) - set(_pairs(rows))
        if not new:
            continue
        # This run's own pairs at the fractions the file adds to: the ones that vouch for it.
        shared = {(f, a) for f, a in set(_pairs(theirs)) & set(_pairs(own))
                  if f in {f for f, _ in new}}
        same = {pair for pair in shared if _same_scores(_at(own, {pair}), _at(theirs, {pair}))}
        rows = pd.concat([rows, _at(theirs, new)], ignore_index=True)
        versus = pd.DataFrame(saved.get("eag_versus") or {"train_fraction": [], "versus": []})
        tables["comparison"] = pd.concat(
            [tables["comparison"], _at(pd.DataFrame(saved["comparison"]), new)],
            ignore_index=True)
        # Where both pipelines are reproduced, this run measured the row itself.
        tables["eag_versus"] = pd.concat(
            [tables["eag_versus"],
             versus[[{(f, "eag"), (f, v)} <= new | same and not {(f, "eag"), (f, v)} <= same
                     for f, v in zip(versus.train_fraction, versus.versus)]]],
            ignore_index=True)
        info = saved["machine"]
        joined.append({"file": shown(path.resolve()),
                       "pairs": sorted([float(f), a] for f, a in new),
                       "reproduced": sorted([float(f), a] for f, a in same),
                       "differs": sorted([float(f), a] for f, a in shared - same),
                       "commit": info["commit"], "date": info["date"],
                       "command": info["command"], "wall_s": saved.get("wall_s")})
    tables = {name: t.sort_values("train_fraction", kind="stable", ignore_index=True)
              if len(t) else t for name, t in tables.items()}
    return tables, rows.sort_values("train_fraction", kind="stable", ignore_index=True), joined


def _same_scores(mine: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """Whether two runs' rows of one pipeline hold the same R^2 for every seed, decoder, mode
    and test set (to rounding: the same code on the same CPU repeats itself exactly)."""
    keys = ["seed", "decoder", "mode", "test_set"]
    both = mine.merge(theirs, on=keys, suffixes=("_mine", "_theirs"))
    return (len(both) == len(mine) == len(theirs)
            and np.allclose(both.r2_mine, both.r2_theirs, rtol=0, atol=1e-9, equal_nan=True))


def _pairs_text(pairs: list[list]) -> str:
    """[[0.05, "eag"], [0.05, "none"]] -> '5%: eag, none'."""
    by_fraction: dict[float, list[str]] = {}
    for fraction, augmenter in pairs:
        by_fraction.setdefault(fraction, []).append(augmenter)
    return "; ".join(f"{f:.0%}: {', '.join(a)}" for f, a in by_fraction.items())


def draw(comparison: pd.DataFrame, out: Path, stem: str, dataset: str) -> dict[str, Path]:
    """The learning curves of the tuned pipelines and their gains over the best decoder tuned
    without augmentation (the baseline to beat), as ``out/<stem>_{curves,gains}.png``."""
    written = {
        "curves": _panels(comparison, "r2", "r2_low", "r2_high", out / f"{stem}_curves.png",
                          "test R^2 (95 % CI)", f"{dataset}: tuned pipelines "
                          "(black: the decoder tuned without augmentation)", zero_line=False)}
    augmented = comparison[comparison.augmenter != "none"]
    if len(augmented):  # a sweep of the baseline alone has no gains to draw
        written["gains"] = _panels(
            augmented, "diff_best", "diff_best_low", "diff_best_high", out / f"{stem}_gains.png",
            "R^2 minus the best decoder\ntuned without augmentation (95 % CI)",
            f"{dataset}: gain over the best decoder tuned without augmentation (0: the "
            "baseline to beat; a gain counts where the interval lies above it)", zero_line=True)
    return written


def redraw(path: Path) -> dict[str, Path]:
    """Redraw a published result's figures beside it, from the tables in its JSON."""
    saved = published(path, "decoding_gain")
    return draw(pd.DataFrame(saved["comparison"]), path.parent, path.stem, saved["dataset"])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.redraw:
        print_redrawn(redraw(args.redraw))
        return 0
    if (setting := sweep_spec(args, "decoding_gain", f"decoding_gain_{args.dataset}.toml")) is None:
        return 0
    spec, profile, stem = setting
    out = args.out
    if args.report_only:
        saved = json.loads((spec.output / "results.json").read_text())
        rows, wall_s = pd.DataFrame(saved["rows"]), saved["wall_s"]
        # The machine of the run, not of this rebuild.
        info = json.loads((out / f"{stem}.json").read_text())["machine"]
    else:
        result = run(spec, verbose=1, resume=args.resume)
        rows, wall_s = result.rows, result.wall_s
        info = run_machine(spec, result.resumed)
    predictions, targets = load_predictions(spec.output / "predictions.npz")
    rows, predictions, wall_s = merge_runs(rows, predictions, wall_s, args.merge)
    shared = spec.split["kind"] != "blocked"
    comparison = compare(rows, predictions, targets, shared_test=shared)
    versus = head_to_head(rows, predictions, targets, shared)
    tables, rows, joined = join_results({"comparison": comparison, "eag_versus": versus},
                                        rows, spec.raw["split"], args.dataset, args.join)
    comparison, versus = tables["comparison"], tables["eag_versus"]
    capture = oracle_capture(comparison) if "oracle" in spec.augmenter_names else None
    choices = ratio_choices(rows)
    checks = check_targets(comparison, versus, capture, args.dataset)
    written = draw(comparison, out, stem, args.dataset)
    for key in ("statistics", "rasters"):
        src = spec.output / f"{key}.png"
        if src.exists():
            written[key] = out / f"{stem}_{key}.png"
            shutil.copyfile(src, written[key])
    md = report_markdown(stem, comparison, versus, capture, choices, checks, info, wall_s)
    if joined:
        md += "\n## Pipelines joined from published results\n\n" + "".join(
            f"- {_pairs_text(j['pairs'])}: `{j['file']}` (commit {j['commit']}, {j['date']}; "
            f"`{j['command']}`"
            + (f"; wall time {duration(j['wall_s'])}" if j.get("wall_s") else "")
            + "), its intervals as published"
            + (f"; it reproduces this run's {_pairs_text(j['reproduced'])} score for score"
               if j.get("reproduced") else "")
            + (f"; **its {_pairs_text(j['differs'])} differ from this run's**"
               if j.get("differs") else "") + "\n" for j in joined)
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "decoding_gain", "dataset": args.dataset, "profile": profile,
        "rebuilt_from": shown(spec.output / "results.json") if args.report_only else None,
        "machine": info, "wall_s": wall_s, "spec": spec.raw, "joined": joined,
        "comparison": records(comparison), "eag_versus": records(versus),
        "oracle_capture": records(capture), "ratio_choices": records(choices),
        "targets": checks, "figures": {k: shown(v) for k, v in written.items()},
        "rows": records(rows),
    })
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
