"""Decoding gain from synthetic trials: learning curves of velocity R^2 with and without
augmentation, on the simulated reaching session and on the real M1 recording.

    python benchmarks/decoding_gain.py                     # synthetic reach, full run
    python benchmarks/decoding_gain.py --profile medium    # the 10 % point only, 3 seeds
    python benchmarks/decoding_gain.py --quick             # end-to-end check, numbers meaningless
    python benchmarks/decoding_gain.py --dataset m1 [--mat PATH]

The sweep (fractions x seeds x augmenters, every decoder in every job, generators refit per
job on that job's training subset) is declared in benchmarks/specs/decoding_gain_<dataset>.toml
and run by :func:`eag_augment.pipelines.run`; this script adds what a learning curve alone does
not say: the gain of each augmenter over none (paired by seed), the fraction of the oracle's
gain each one captures (simulated data), head-to-head comparisons with EAG, and the targets of
issue 4. Writes benchmarks/results/decoding_gain_<dataset>[_<profile>].json / .md and
_curves.png (R^2 learning curves per decoder), _gains.png (gains over none at 10 %),
_statistics.png / _rasters.png (real vs generated trials at the smallest fraction).
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, SHARED_DATA, machine, setup, shown, spec_overrides,  # noqa: E402
                     sweep_parser, write_json)

from eag_augment.pipelines import (load_spec, markdown_table, run, scores_figure,  # noqa: E402
                                   summarize)

SPECS = ROOT / "benchmarks" / "specs"
DEFAULT_MAT = SHARED_DATA / "m1_stevenson_2011.mat"
TARGET_FRACTION = 0.1
KEYS = ["test_set", "train_fraction", "decoder"]
TARGET_DECODERS = ("ridge", "wiener", "gru")
# The share of the oracle's gain is only read where the oracle gains by this many s.e.m.
CLEAR_ORACLE_GAIN = 2.0
# ... and is at least this large in R^2: a ratio over a tiny denominator says nothing.
MIN_ORACLE_GAIN = 0.01


def _sem(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=float)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def paired(rows: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """R^2 of augmenter ``a`` minus that of ``b``, paired by seed: mean, s.e.m., seeds."""
    index = KEYS + ["seed"]
    ra = rows[rows.augmenter == a].set_index(index)["r2"]
    rb = rows[rows.augmenter == b].set_index(index)["r2"]
    diff = (ra - rb).dropna().rename("diff").reset_index()
    out = diff.groupby(KEYS, sort=False)["diff"].agg(
        diff_mean="mean", diff_sem=_sem, n_seeds="count").reset_index()
    return out.assign(augmenter=a, versus=b)


def oracle_capture(summary: pd.DataFrame, oracle: str = "oracle") -> pd.DataFrame:
    """Fraction of the oracle's mean gain over none that each augmenter's mean gain reaches.

    ``oracle_gain_over_sem`` says how clearly the oracle gains at all (the ratio is
    meaningless where it does not: a small denominator).
    """
    orc = summary[summary.augmenter == oracle].set_index(KEYS)
    rows = []
    for r in summary[~summary.augmenter.isin([oracle, "none"])].itertuples():
        o = orc.loc[(r.test_set, r.train_fraction, r.decoder)]
        rows.append({"test_set": r.test_set, "train_fraction": r.train_fraction,
                     "decoder": r.decoder, "augmenter": r.augmenter,
                     "gain_mean": r.gain_mean, "oracle_gain_mean": o.gain_mean,
                     "captured": r.gain_mean / o.gain_mean if o.gain_mean > 0 else math.nan,
                     "oracle_gain_over_sem": o.gain_mean / o.gain_sem if o.gain_sem > 0
                     else math.nan})
    return pd.DataFrame(rows)


def harmful(summary: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Configurations whose mean gain over none is below minus the seed-to-seed spread.

    The spread is the larger s.d. over seeds of the decoder's R^2 without augmentation and
    with the augmenter (at 100 % every seed trains on the same trials, so a deterministic
    decoder's R^2 varies only through the generator's seed).
    """
    sd = rows.groupby(KEYS + ["augmenter"])["r2"].std(ddof=1).rename("sd").reset_index()
    none_sd = sd[sd.augmenter == "none"].drop(columns="augmenter").rename(
        columns={"sd": "none_sd"})
    merged = summary[summary.augmenter != "none"].merge(none_sd, on=KEYS).merge(
        sd, on=KEYS + ["augmenter"])
    merged["spread"] = np.fmax(merged.none_sd, merged.sd)
    return merged[merged.gain_mean < -merged.spread][
        KEYS + ["augmenter", "gain_mean", "gain_sem", "spread"]]


def targets(summary: pd.DataFrame, versus: pd.DataFrame, capture: pd.DataFrame | None,
            dataset: str) -> list[dict]:
    """Issue 4's targets at 10 % of the training data, each with its measured numbers."""
    at = summary[(summary.train_fraction == TARGET_FRACTION) & (summary.augmenter == "eag")]
    if at.empty:
        return []
    gain = at.set_index("decoder")
    out = []

    def add(what: str, measured: str, met: bool) -> None:
        out.append({"target": what, "measured": measured, "met": bool(met)})

    for dec in TARGET_DECODERS:
        if dec in gain.index:
            g = gain.loc[dec]
            add(f"EAG raises the {dec} R^2 at 10 %", f"gain {g.gain_mean:+.3f} ± {g.gain_sem:.3f}",
                g.gain_mean > 0)
    if dataset == "synthetic" and "gru" in gain.index:
        g = gain.loc["gru"]
        add("GRU gains >= +0.05 with EAG at 10 %", f"{g.gain_mean:+.3f} ± {g.gain_sem:.3f}",
            g.gain_mean >= 0.05)
    if capture is not None and not capture.empty:
        c = capture[(capture.train_fraction == TARGET_FRACTION) & (capture.augmenter == "eag")
                    & capture.decoder.isin(TARGET_DECODERS)]
        for r in c.itertuples():
            add(f"EAG captures >= 60 % of the oracle's gain ({r.decoder}, 10 %)",
                f"{r.captured:.0%} ({r.gain_mean:+.3f} of {r.oracle_gain_mean:+.3f})",
                r.captured >= 0.6)
    rivals = ("psth", "jitter") if dataset == "synthetic" else ("jitter",)
    v = versus[(versus.train_fraction == TARGET_FRACTION) & versus.versus.isin(rivals)]
    for r in v[v.decoder.isin(TARGET_DECODERS)].itertuples():
        add(f"EAG beats {r.versus} ({r.decoder}, 10 %)",
            f"EAG - {r.versus} = {r.diff_mean:+.3f} ± {r.diff_sem:.3f}", r.diff_mean > 0)
    return out


# ------------------------------------------------------------------------------ figures
def gains_figure(summary: pd.DataFrame, fraction: float, path: Path,
                 title: str | None = None) -> Path:
    """Gain over none (mean ± s.e.m. over seeds) per decoder and augmenter at ``fraction``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = summary[(summary.train_fraction == fraction) & (summary.augmenter != "none")]
    decoders = list(dict.fromkeys(part.decoder))
    augmenters = list(dict.fromkeys(part.augmenter))
    width = 0.8 / len(augmenters)
    fig, ax = plt.subplots(figsize=(1.2 + 1.6 * len(decoders), 3.6))
    for k, aug in enumerate(augmenters):
        sub = part[part.augmenter == aug].set_index("decoder").reindex(decoders)
        x = np.arange(len(decoders)) + (k - (len(augmenters) - 1) / 2) * width
        ax.bar(x, sub.gain_mean, width, yerr=sub.gain_sem.fillna(0.0), capsize=2,
               label=aug, color=f"C{k + 1}")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(decoders)), decoders)
    ax.set_ylabel("test R^2 gain over none")
    ax.set_title(title or f"gain from augmentation at {fraction:.0%} of the real training data")
    ax.legend(fontsize="small", frameon=False, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ report
def md_table(df: pd.DataFrame, columns: dict[str, str]) -> str:
    head = list(columns.values())
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in df.itertuples():
        lines.append("| " + " | ".join(str(getattr(r, k)) for k in columns) + " |")
    return "\n".join(lines)


def report_markdown(name: str, summary: pd.DataFrame, capture: pd.DataFrame | None,
                    versus: pd.DataFrame, harm: pd.DataFrame, checks: list[dict],
                    wall_s: float) -> str:
    parts = [f"# {name}\n", "## Test R^2 (learning curve)\n", markdown_table(summary, "none")]
    if capture is not None and not capture.empty:
        c = capture.copy()
        c["fraction"] = c.train_fraction.map("{:.0%}".format)
        c["captured_"] = [f"{v:.0%}" if z >= CLEAR_ORACLE_GAIN and g >= MIN_ORACLE_GAIN
                          else "n/a" for v, z, g in zip(c.captured, c.oracle_gain_over_sem,
                                                        c.oracle_gain_mean)]
        c["gain_"] = c.gain_mean.map("{:+.3f}".format)
        c["oracle_"] = [f"{g:+.3f} ({z:.1f} s.e.m.)" for g, z in
                        zip(c.oracle_gain_mean, c.oracle_gain_over_sem)]
        wide = c.pivot_table(index=["fraction", "decoder", "oracle_"], columns="augmenter",
                             values="captured_", aggfunc="first", sort=False).reset_index()
        cols = {"fraction": "real trials", "decoder": "decoder", "oracle_": "oracle gain"}
        cols.update({a: a for a in c.augmenter.unique()})
        parts += ["\n## Share of the oracle's gain captured\n",
                  "Mean gain of the augmenter over none / mean gain of the oracle over none; "
                  f"n/a where the oracle's gain is under {CLEAR_ORACLE_GAIN} s.e.m. or under "
                  f"{MIN_ORACLE_GAIN} R^2.\n",
                  md_table(wide.rename(columns=lambda s: s), cols) + "\n"]
    v = versus.copy()
    v["fraction"] = v.train_fraction.map("{:.0%}".format)
    v["cell"] = [f"{m:+.3f} ± {s:.3f}" for m, s in zip(v.diff_mean, v.diff_sem)]
    wide = v.pivot_table(index=["fraction", "decoder"], columns="versus", values="cell",
                         aggfunc="first", sort=False).reset_index()
    cols = {"fraction": "real trials", "decoder": "decoder"}
    cols.update({a: f"EAG − {a}" for a in v.versus.unique()})
    parts += ["\n## EAG against the other augmenters\n",
              "R^2 of EAG minus that of the other augmenter, paired by seed (mean ± s.e.m.).\n",
              md_table(wide, cols) + "\n"]
    parts.append("\n## Where augmentation hurts\n")
    if harm.empty:
        parts.append("No configuration lowers a decoder's mean R^2 by more than its "
                     "seed-to-seed spread.\n")
    else:
        h = harm.copy()
        h["fraction"] = h.train_fraction.map("{:.0%}".format)
        h["gain"] = [f"{m:+.3f} ± {s:.3f}" for m, s in zip(h.gain_mean, h.gain_sem)]
        h["sd"] = h.spread.map("{:.3f}".format)
        parts += ["Mean gain below minus the seed-to-seed spread (the larger s.d. over seeds "
                  "of the decoder's R^2 without and with the augmenter):\n",
                  md_table(h, {"fraction": "real trials", "decoder": "decoder",
                             "augmenter": "augmenter", "gain": "gain", "sd": "spread (s.d.)"})
                  + "\n"]
    if checks:
        parts += ["\n## Targets (issue 4) at 10 %\n",
                  md_table(pd.DataFrame(checks).assign(
                      met=lambda d: d.met.map({True: "met", False: "not met"})),
                      {"target": "target", "measured": "measured", "met": "status"}) + "\n"]
    parts.append(f"\nWall time of the run: {wall_s / 60:.1f} min.\n")
    return "\n".join(parts)


def records(df: pd.DataFrame | None) -> list[dict]:
    if df is None:
        return []
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in row.items()} for row in df.to_dict(orient="records")]


# -------------------------------------------------------------------------------- main
def build_parser():
    p = sweep_parser(__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("synthetic", "m1"), default="synthetic")
    p.add_argument("--mat", type=Path, default=DEFAULT_MAT,
                   help="the M1 recording (m1_stevenson_2011.mat; see ../shared/data/README.md)")
    p.add_argument("--merge", type=Path, action="append", default=[], metavar="JSON",
                   help="add the rows of an earlier run of the same spec (a JSON this script "
                        "wrote) at the training fractions this run lacks (repeatable)")
    return p


def merge_rows(rows: pd.DataFrame, wall_s: float, paths: list[Path]) -> tuple[pd.DataFrame, float]:
    """``rows`` plus, from each earlier result JSON, the rows at fractions ``rows`` lacks;
    wall times add up."""
    for path in paths:
        saved = json.loads(path.read_text())
        earlier = pd.DataFrame(saved["rows"])
        rows = pd.concat([rows, earlier[~earlier.train_fraction.isin(rows.train_fraction)]],
                         ignore_index=True)
        wall_s += saved["wall_s"]
    return rows.sort_values("train_fraction", kind="stable", ignore_index=True), wall_s


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup(args)
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("eag_augment").setLevel(logging.INFO)
    overrides = spec_overrides(args)
    if args.dataset == "m1":
        if not args.mat.is_file():
            print(f"decoding_gain: skipping the M1 benchmark: no recording at {args.mat}. It "
                  "is m1_stevenson_2011.mat from the MIT-licensed KordingLab/spykesML repository "
                  "(data/); pass its path with --mat.")
            return 0
        overrides.append(f'dataset.path="{args.mat.resolve()}"')
    profile = "quick" if args.quick else args.profile
    spec = load_spec(SPECS / f"decoding_gain_{args.dataset}.toml", profile=profile,
                     overrides=overrides)
    spec.output = ROOT / spec.output
    if args.report_only:
        saved = json.loads((spec.output / "results.json").read_text())
        rows, wall_s = pd.DataFrame(saved["rows"]), saved["wall_s"]
    else:
        result = run(spec, verbose=1)
        rows, wall_s = result.rows, result.wall_s
    rows, wall_s = merge_rows(rows, wall_s, args.merge)
    summary = summarize(rows, spec.baseline)
    has_oracle = "oracle" in spec.augmenter_names
    capture = oracle_capture(summary) if has_oracle else None
    versus = pd.concat([paired(rows, "eag", other) for other in spec.augmenter_names
                        if other not in ("eag", "none")], ignore_index=True)
    harm = harmful(summary, rows)
    checks = targets(summary, versus, capture, args.dataset)

    stem = f"decoding_gain_{args.dataset}" + (f"_{profile}" if profile else "")
    out = args.out
    written = {"curves": scores_figure(summary, out / f"{stem}_curves.png")}
    for key in ("statistics", "rasters"):
        src = spec.output / f"{key}.png"
        if src.exists():
            written[key] = out / f"{stem}_{key}.png"
            shutil.copyfile(src, written[key])
    fractions = set(rows.train_fraction)
    fraction = TARGET_FRACTION if TARGET_FRACTION in fractions else min(fractions)
    written["gains"] = gains_figure(summary, fraction, out / f"{stem}_gains.png")
    md = report_markdown(stem, summary, capture, versus, harm, checks, wall_s)
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "decoding_gain", "dataset": args.dataset, "profile": profile,
        "rebuilt_from": str(spec.output / "results.json") if args.report_only else None,
        "merged_from": [str(p) for p in args.merge],
        "machine": machine(), "wall_s": wall_s, "spec": spec.raw,
        "summary": records(summary), "oracle_capture": records(capture),
        "eag_versus": records(versus), "harmful": records(harm), "targets": checks,
        "figures": {k: shown(v) for k, v in written.items()},
        "rows": records(rows),
    })
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
