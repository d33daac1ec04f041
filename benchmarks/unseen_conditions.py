"""Unseen reach directions: generate trials at directions absent from training and see
whether they help decoders there, measured against the tuned baselines.

    python benchmarks/unseen_conditions.py                      # simulated reach (8 directions)
    python benchmarks/unseen_conditions.py --dataset m1 [--mat PATH]
    python benchmarks/unseen_conditions.py --profile medium     # the whole pool only
    python benchmarks/unseen_conditions.py --quick              # end-to-end check only
    python benchmarks/unseen_conditions.py --dataset m1 --report-only   # tables from the last run
    python benchmarks/unseen_conditions.py --redraw benchmarks/results/unseen_conditions_m1_medium.json

Reach directions near two held-out angles (90 and 225 degrees) leave the training pool of
generators and decoders: on the simulator the two of its eight directions, on the real M1
recording two 45-degree sectors of the 1 s windows' directions of net displacement. The sweep
(benchmarks/specs/unseen_conditions[_m1].toml) is run by :func:`eag_augment.pipelines.run`:
five blocked outer folds, every decoder with fixed settings and tuned by inner cross-validation
with the augmentation ratio (0 included) and EAG's guidance scale searched. The inner
validation folds hold seen directions only: that is all a user without data at the held-out
directions can choose with. Generators are asked for the held-out angles (explicit
``conditions``): velocity-conditioned ones get, for each angle, the training trajectory whose
reach angle is nearest, rotated onto it; EAG on the simulator also by its angle label. Decoders
are scored on test trials at the held-out directions ("heldout") and at the others ("seen").

The EAG paper's check, once per outer fold at the largest training fraction: decoders trained
on the real seen-direction training trials only (tuned like the baseline) are applied to
generated trials at the held-out angles, scored against the velocity the trials were generated
with, and to the real held-out test trials; similar R^2 means the generated trials carry the
held-out directions' spike-velocity relation. Generated trials at the training trials' own
conditions ("seen") are the control. Each generator is refit for the check on the fold's
training trials (one fit more per generator and fold).

Writes benchmarks/results/unseen_conditions_<dataset>[_<profile>].json / .md, _gains.png
(differences to the best decoder tuned without augmentation) and _check.png (the paper's
check); ``--redraw`` redraws both figures of a published result from its JSON alone.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (add_redraw, augmenter_colours, fit_decoders,  # noqa: E402
                     interval_bars, measured_on, print_redrawn, published, run_machine, shown,
                     sweep_parser, sweep_spec, write_json)
from decoding_gain import (TARGET_DECODERS, _interval, choices_section,  # noqa: E402
                           head_to_head, md_table, ratio_choices, records)

from eag_augment.metrics import velocity_r2  # noqa: E402
from eag_augment.model_selection import bootstrap_r2  # noqa: E402
from eag_augment.pipelines import (bind_augmenter, compare, comparison_markdown,  # noqa: E402
                                   fold_split, load_dataset, load_predictions, run,
                                   training_subset)
from eag_augment.trials import TrialSet, angle_of_reach, wrap_angle  # noqa: E402

log = logging.getLogger("eag_augment")
SPEC_FILES = {"synthetic": "unseen_conditions.toml", "m1": "unseen_conditions_m1.toml"}
# Generated trials per held-out direction in the paper's check.
N_CHECK_PER_DIRECTION = 100
MIN_GAIN = 0.05           # issue 13: >= +0.05 R^2 on held-out M1 directions, interval above 0
RIVALS = ("psth", "encoding")
TEST_SETS = {"heldout": "held-out directions", "seen": "seen directions"}


# --------------------------------------------------------------------------- the data
def direction_counts(trials: TrialSet, split: dict, folds: list[int]) -> pd.DataFrame:
    """Trials per outer fold: the training pool before and after the held-out directions
    leave it, and the test trials at held-out and seen directions (:func:`fold_split`
    raises when one of these is empty)."""
    everything = {k: v for k, v in split.items()
                  if k not in ("holdout_angles_deg", "angle_tolerance_deg")}
    out = []
    for fold in folds:
        pool_all, _ = fold_split(trials, everything, fold)
        pool, tests = fold_split(trials, split, fold)
        out.append({"fold": fold, "pool_all": pool_all.n_trials, "pool_seen": pool.n_trials,
                    "test_heldout": tests["heldout"].n_trials,
                    "test_seen": tests["seen"].n_trials})
    return pd.DataFrame(out)


# ---------------------------------------------------------------------- the paper's check
def check_sources(spec) -> list[str]:
    """The augmenters of the check: every one with a generator."""
    return [n for n in spec.augmenter_names if spec.augmenters[n]["generator"] is not None]


def angle_error_deg(velocity: np.ndarray, requested_rad: np.ndarray) -> float:
    """Mean absolute angle (degrees) between each trial's reach angle (net displacement of
    ``velocity`` (trials, bins, >= 2)) and the nearest of the requested angles (radians)."""
    gap = wrap_angle(angle_of_reach(velocity)[:, None] - np.asarray(requested_rad)[None, :])
    return float(np.degrees(np.abs(gap).min(axis=1)).mean())


def _generated(aug, train: TrialSet, n: int, conditions, fold: int):
    """(spikes, velocity) of ``n`` trials from ``aug`` at ``conditions``; with ``aug``
    already fitted (``generator_``) its generator is sampled again, not refit."""
    fitted = getattr(aug, "generator_", None)
    one = clone(aug).set_params(n_synthetic=n, conditions=conditions, random_state=fold)
    if fitted is not None:
        one.set_params(generator=fitted, prefit=True)
    angles = train.conditions["angle"].to_numpy(dtype=float) \
        if "angle" in train.conditions else None
    X_aug, y_aug = one.fit_resample(train.spikes, train.behavior, angles=angles)
    return one, np.asarray(X_aug)[train.n_trials:], np.asarray(y_aug)[train.n_trials:]


def paper_check_fold(spec, fold: int, trials: TrialSet, simulator) -> dict:
    """The check on one outer fold at the largest training fraction.

    Returns {"fold", "rows": [...], "y": {(test set, source): velocity}, "pred":
    {(test set, source, decoder): predicted velocity}}; source "real" is the fold's real
    test trials, any other an augmenter's generated trials (test set "heldout": at its
    held-out conditions; "seen": at the training trials' own conditions).
    """
    import torch

    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)
    pool, tests = fold_split(trials, spec.split, fold)
    train = training_subset(pool, max(spec.train_fractions), fold, spec.split["subset"])
    tuning = None if spec.tuning is None else {**spec.tuning, "fixed": False}
    decoders = fit_decoders(train.spikes, train.behavior,
                            {n: spec.decoders[n] for n in spec.decoder_names}, tuning, fold)
    n_check = N_CHECK_PER_DIRECTION * len(spec.split["holdout_angles_deg"])
    data = {(name, "real"): (test.spikes, test.behavior) for name, test in tests.items()}
    errors = {}
    for source in check_sources(spec):
        aug = bind_augmenter(spec, source, pool.bin_ms, simulator)
        requested = np.asarray(aug.get_params()["conditions"], dtype=float)
        aug, X, y = _generated(aug, train, n_check, requested, fold)
        data[("heldout", source)] = (X, y)
        errors[source] = angle_error_deg(y, requested)
        _, X, y = _generated(aug, train, n_check, "match", fold)
        data[("seen", source)] = (X, y)
    rows, ys, preds = [], {}, {}
    for (test_set, source), (X, y) in data.items():
        ys[(test_set, source)] = y.astype(np.float32)
        for (name, mode), dec in decoders.items():
            pred = dec.predict(X)
            preds[(test_set, source, name)] = pred.astype(np.float32)
            rows.append({"fold": fold, "test_set": test_set, "source": source, "decoder": name,
                         "mode": mode, "r2": velocity_r2(y, pred), "n_trials": len(X),
                         "angle_error_deg": errors.get(source) if test_set == "heldout"
                         and source != "real" else None})
    return {"fold": fold, "rows": rows, "y": ys, "pred": preds}


def check_summary(results: list[dict]) -> pd.DataFrame:
    """Per (test set, source, decoder): mean R^2 over folds with a 95 % two-level bootstrap
    interval (folds and trials resampled), and the mean angle error of generated trials."""
    rows = pd.DataFrame([r for d in results for r in d["rows"]])
    out = []
    for (test_set, source, decoder), part in rows.groupby(["test_set", "source", "decoder"],
                                                          sort=False):
        ys = [d["y"][(test_set, source)] for d in results]
        preds = [d["pred"][(test_set, source, decoder)] for d in results]
        b = bootstrap_r2(ys, {"p": preds}, random_state=0).iloc[0]
        out.append({"test_set": test_set, "source": source, "decoder": decoder,
                    "mode": part["mode"].iloc[0], "r2": b.r2, "r2_low": b.r2_low,
                    "r2_high": b.r2_high, "n_folds": int(b.n_segments),
                    "angle_error_deg": part["angle_error_deg"].mean()})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- targets
def check_targets(comparison: pd.DataFrame, versus: pd.DataFrame, top: float) -> list[dict]:
    """Issue 13's target on the held-out directions at the largest fraction, for EAG with
    each target decoder, tuned and fixed: >= +MIN_GAIN over the best tuned decoder without
    augmentation and above each rival, each met only where its 95 % interval says so."""
    out = []
    part = comparison[(comparison.test_set == "heldout") & (comparison.train_fraction == top)
                      & (comparison.augmenter == "eag")]
    for mode in ("tuned", "fixed"):
        for dec in TARGET_DECODERS:
            sel = part[(part.decoder == dec) & (part["mode"] == mode)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            out.append({"target": f"EAG-{dec} ({mode}) beats the best tuned decoder without "
                                  f"augmentation ({r.best_decoder}) by >= +{MIN_GAIN} on "
                                  "held-out directions",
                        "measured": _interval(r.diff_best, r.diff_best_low, r.diff_best_high),
                        "met": bool(r.diff_best >= MIN_GAIN and r.diff_best_low > 0)})
            v = versus[(versus["mode"] == mode) & (versus.test_set == "heldout")
                       & (versus.train_fraction == top) & (versus.decoder == dec)
                       & versus.versus.isin(RIVALS)]
            for x in v.itertuples():
                out.append({"target": f"EAG-{dec} ({mode}) beats {x.versus}-{dec} ({mode}) on "
                                      "held-out directions",
                            "measured": _interval(x.diff, x.diff_low, x.diff_high),
                            "met": bool(x.diff_low > 0)})
    return out


# --------------------------------------------------------------------------- figures
def gains_figure(comparison: pd.DataFrame, top: float, path: Path, dataset: str) -> Path:
    """Each pipeline minus the best decoder tuned without augmentation on that test set (the
    baseline to beat; 95 % CI), per test set and mode, at the largest training fraction. The
    other decoders tuned without augmentation appear as 'none': how far each starts below."""
    part = comparison[comparison.train_fraction == top]
    panels = {f"{TEST_SETS[t]}, {m}": part[(part.test_set == t) & (part["mode"] == m)]
              for m in ("tuned", "fixed") for t in TEST_SETS}
    return interval_bars(
        {k: v for k, v in panels.items() if not v.empty}, path, x="decoder", hue="augmenter",
        value="diff_best", low="diff_best_low", high="diff_best_high", xlabel="decoder",
        ylabel="R^2 minus the best decoder\ntuned without augmentation (95 % CI)",
        title=f"{dataset}: gain over the best decoder tuned without augmentation, at held-out "
              f"and seen reach directions ({top:.0%} of the seen-direction pool, "
              f"{int(part.n_segments.max())} folds)",
        hlines={f"target on held-out directions (+{MIN_GAIN})": MIN_GAIN},
        palette=augmenter_colours)


def check_figure(summary: pd.DataFrame, path: Path, dataset: str) -> Path:
    """R^2 of decoders trained on real seen-direction trials, on real test trials and on
    generated trials (95 % CI)."""
    panels = {f"trials at {TEST_SETS[t]}": summary[summary.test_set == t] for t in TEST_SETS}
    return interval_bars(
        panels, path, x="decoder", hue="source", value="r2", low="r2_low", high="r2_high",
        xlabel="decoder",
        ylabel="R^2 of decoders trained on real\nseen-direction trials (95 % CI)",
        title=f"{dataset}, the EAG paper's check: 'real' = the real test trials, others = "
              "generated trials scored against\nthe velocity they were generated with "
              "(axis clipped at -1; lower values written at the edge)",
        ylim=(-1.0, 1.0))


# ---------------------------------------------------------------------------- report
def report_markdown(stem: str, dataset: str, comparison: pd.DataFrame, versus: pd.DataFrame,
                    choices: pd.DataFrame, counts: pd.DataFrame, check: pd.DataFrame,
                    checks: list[dict], info: dict, wall_s: float) -> str:
    c = counts.copy()
    parts = [f"# {stem}\n",
             measured_on(info, wall_s),
             "Reach directions within the tolerance of the held-out angles leave the training "
             "pool of generators and decoders. The tuned pipelines choose decoder settings, "
             "augmentation ratio (0 included) and guidance scale on inner validation folds "
             "that hold **seen directions only** (all a user without data at the held-out "
             "directions can choose with); 'fixed' pipelines use the spec's settings. "
             "Velocity-conditioned generators get, for each requested angle, the training "
             "trajectory whose reach angle is nearest, rotated onto it, so each requested "
             "angle carries one velocity profile.\n",
             "## Trials per outer fold\n",
             md_table(c, {"fold": "fold", "pool_all": "training pool",
                          "pool_seen": "pool without held-out directions",
                          "test_heldout": "test: held-out directions",
                          "test_seen": "test: seen directions"}) + "\n",
             "## Against the tuned baselines\n", comparison_markdown(comparison)]
    if not versus.empty:
        v = versus.copy()
        v["cell"] = [_interval(m, lo, hi) for m, lo, hi in zip(v["diff"], v.diff_low,
                                                               v.diff_high)]
        v["fraction"] = v.train_fraction.map("{:.0%}".format)
        wide = v.pivot_table(index=["test_set", "fraction", "mode", "decoder"],
                             columns="versus", values="cell", aggfunc="first",
                             sort=False).reset_index()
        cols = {"test_set": "test set", "fraction": "real data", "mode": "mode",
                "decoder": "decoder"}
        cols.update({a: f"EAG − {a}" for a in v.versus.unique()})
        parts += ["\n## EAG against the other augmenters\n",
                  "R^2 of the EAG pipeline minus that of the pipeline with the other "
                  "augmenter, same decoder and mode, paired by fold and test trial (95 % CI).\n",
                  md_table(wide, cols) + "\n"]
    parts += choices_section(choices, "Share of folds whose inner cross-validation (seen "
                             "directions only) chose a ratio above 0.", "{:.2f}")
    # A run without generators has only the real trials' scores: no check to show.
    if not check.empty and (check.source != "real").any():
        k = check.copy()
        k["cell"] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in zip(k.r2, k.r2_low,
                                                                           k.r2_high)]
        wide = k.pivot_table(index=["test_set", "decoder"], columns="source", values="cell",
                             aggfunc="first", sort=False).reset_index()
        cols = {"test_set": "trials at", "decoder": "decoder"}
        cols.update({s: s for s in k.source.unique()})
        err = k[(k.test_set == "heldout") & (k.source != "real")].groupby(
            "source", sort=False)["angle_error_deg"].first().reset_index()
        err["err"] = err.angle_error_deg.map("{:.1f}".format)
        parts += ["\n## The EAG paper's check\n",
                  f"Decoders trained on the real seen-direction training trials only "
                  f"({k['mode'].iloc[0]} as the baseline), at the largest training fraction. "
                  "R^2 (95 % CI over folds and trials) on the real test trials ('real') and on "
                  f"{N_CHECK_PER_DIRECTION} generated trials per held-out direction from each "
                  "generator, scored against the velocity they were generated with; 'seen': "
                  "generated at the training trials' own conditions (the control). The "
                  "generators sample with the fixed settings (guidance scale: the "
                  "augmenter's).\n",
                  md_table(wide, cols) + "\n",
                  "Mean absolute angle (degrees) between each generated trial's reach angle "
                  "and the nearest requested one (0 for velocity-conditioned generators, "
                  "whose velocity is the requested one):\n",
                  md_table(err, {"source": "generator", "err": "error (deg)"}) + "\n"]
    if checks:
        what = "issue 13's target" if dataset == "m1" else \
            "issue 13's M1 target, applied to the simulator"
        parts += [f"\n## Targets ({what})\n", md_table(pd.DataFrame(checks).assign(
            met=lambda d: d.met.map({True: "met", False: "**not met**"})),
            {"target": "target", "measured": "measured (95 % CI)", "met": "status"}) + "\n"]
    return "\n".join(parts)


# ------------------------------------------------------------------------------ main
def build_parser():
    p = sweep_parser(__doc__.split("\n\n")[0], tuple(SPEC_FILES))
    add_redraw(p, "benchmarks/results/unseen_conditions_*.json")
    return p


def redraw(path: Path) -> dict[str, Path]:
    """Redraw a published result's figures beside it, from the tables in its JSON."""
    saved = published(path, "unseen_conditions")
    comparison = pd.DataFrame(saved["comparison"])
    return {"gains": gains_figure(comparison, comparison.train_fraction.max(),
                                  path.parent / f"{path.stem}_gains.png", saved["dataset"]),
            "check": check_figure(pd.DataFrame(saved["paper_check"]),
                                  path.parent / f"{path.stem}_check.png", saved["dataset"])}


def paper_check(spec, trials: TrialSet, simulator) -> pd.DataFrame:
    """The check on every outer fold (in parallel, ``spec.n_jobs``), summarised."""
    results = joblib.Parallel(n_jobs=spec.n_jobs)(
        joblib.delayed(paper_check_fold)(spec, fold, trials, simulator) for fold in spec.seeds)
    log.info("paper check done on %d folds", len(results))
    return check_summary(sorted(results, key=lambda d: d["fold"]))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.redraw:
        print_redrawn(redraw(args.redraw))
        return 0
    if (setting := sweep_spec(args, "unseen_conditions", SPEC_FILES[args.dataset])) is None:
        return 0
    spec, profile, stem = setting
    out = args.out
    if args.report_only:
        rows = pd.DataFrame(json.loads((spec.output / "results.json").read_text())["rows"])
        # The machine, counts and check of the run, not of this rebuild.
        previous = json.loads((out / f"{stem}.json").read_text())
        info, wall_s = previous["machine"], previous["wall_s"]
        counts, check = pd.DataFrame(previous["counts"]), pd.DataFrame(previous["paper_check"])
    else:
        start = time.perf_counter()
        trials, simulator = load_dataset(spec.dataset, spec.output)
        counts = direction_counts(trials, spec.split, spec.seeds)
        log.info("trials per fold:\n%s", counts.to_string(index=False))
        result = run(spec, verbose=1, resume=args.resume)
        check = paper_check(spec, trials, simulator)
        rows, wall_s = result.rows, time.perf_counter() - start
        info = run_machine(spec, result.resumed)
    predictions, targets = load_predictions(spec.output / "predictions.npz")
    comparison = compare(rows, predictions, targets, shared_test=False)
    versus = pd.concat([head_to_head(rows, predictions, targets, False, mode=m).assign(mode=m)
                        for m in ("tuned", "fixed")], ignore_index=True)
    choices = ratio_choices(rows)
    top = max(spec.train_fractions)
    checks = check_targets(comparison, versus, top)
    written = {"gains": gains_figure(comparison, top, out / f"{stem}_gains.png", args.dataset),
               "check": check_figure(check, out / f"{stem}_check.png", args.dataset)}
    md = report_markdown(stem, args.dataset, comparison, versus, choices, counts, check, checks,
                         info, wall_s)
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "unseen_conditions", "dataset": args.dataset, "profile": profile,
        "rebuilt_from": shown(spec.output / "results.json") if args.report_only else None,
        "machine": info, "wall_s": wall_s, "spec": spec.raw, "counts": records(counts),
        "comparison": records(comparison), "eag_versus": records(versus),
        "ratio_choices": records(choices), "paper_check": records(check), "targets": checks,
        "figures": {k: shown(v) for k, v in written.items()}, "rows": records(rows),
    })
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
