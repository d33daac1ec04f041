"""Train on synthetic, test on real: decoders trained only on generated trials, against the
same decoders trained on the real trials the generator was fitted on (the EAG paper's protocol).

    python benchmarks/train_on_synthetic.py                   # simulated reach
    python benchmarks/train_on_synthetic.py --dataset m1 [--mat PATH]
    python benchmarks/train_on_synthetic.py --profile medium  # 100 % of the pool only
    python benchmarks/train_on_synthetic.py --quick           # end-to-end check only
    python benchmarks/train_on_synthetic.py --dataset m1 --report-only   # tables from the last run

For each outer fold (blocked, five folds, as decoding_gain: fold k tests on block k and trains
on the segment that follows it) and training fraction, every generator of the spec
(benchmarks/specs/train_on_synthetic[_m1].toml) is fitted on the real training trials and makes
as many synthetic trials as there are real ones, each at a training trial's own velocity
trajectory (a SyntheticAugmenter with ratio 1 and conditions "match"). Decoders are trained on
the synthetic trials only, once on their spike counts and once on their rates (the expected
counts the spikes were drawn from), and tested on the real test trials. The real arm trains the
same decoders on the real training trials. The real and the synthetic-spikes arms tune every
decoder by inner blocked cross-validation on their own training set, on the same grids; a
rates arm's inner folds train on the rates and validate on the real counts of the same
trials (synthetic trial i is generated at real training trial i's velocity), because inner
folds of noise-free rates choose settings that fail on counts, and its ridge decoder also
searches ``standardize`` (:func:`rates_tuning`). With ``[tuning] fixed = true`` the spec's
fixed settings are scored as well.

Paired differences to the real arm (same fold, decoder and mode, same test trials) come with
95 % two-level bootstrap intervals (:func:`eag_augment.model_selection.bootstrap_r2`: folds and
test trials resampled). Issue 13's target, train-on-EAG within 0.05 R^2 of train-on-real at
100 %, counts as met when the whole interval of (EAG minus real) lies above -0.05.

Writes runs/benchmarks/train_on_synthetic[_m1][_<profile>]/results.json and predictions.npz,
and benchmarks/results/train_on_synthetic_<dataset>[_<profile>].json / .md / .png.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (fit_decoders, interval_bars, measured_on, run_machine, shown,  # noqa: E402
                     sweep_parser, sweep_spec, write_json)
from decoding_gain import _interval, md_table, records  # noqa: E402

from eag_augment.metrics import velocity_r2  # noqa: E402
from eag_augment.pipelines import (bind_augmenter, compare, comparison_markdown,  # noqa: E402
                                   fold_split, load_dataset, load_predictions, run_jobs,
                                   save_predictions, training_subset)
from eag_augment.pipelines.job_store import JobStore  # noqa: E402
from eag_augment.trials import TrialSet  # noqa: E402

log = logging.getLogger("eag_augment")
SPEC_FILES = {"synthetic": "train_on_synthetic.toml", "m1": "train_on_synthetic_m1.toml"}
REAL = "real"
INPUTS = ("spikes", "rates")
MAX_LOSS = 0.05           # issue 13: train-on-EAG within 0.05 R^2 of train-on-real at 100 %
TARGET_FRACTION = 1.0
FAILURE_COLUMNS = ["train_fraction", "seed", "augmenter", "decoder", "error"]


@dataclass(frozen=True)
class Job:
    """One training set's decoders: the real trials (``source`` = "real") or one augmenter's
    generated trials, for one training fraction and outer fold."""

    train_fraction: float
    fold: int
    source: str

    def describe(self) -> str:
        return f"fraction {self.train_fraction:g}, fold {self.fold}, {self.source}"


def arm(source: str, inputs: str) -> str:
    """The name of a generator's arm: "eag (spikes)", "eag (rates)"."""
    return f"{source} ({inputs})"


def split_arm(name: str) -> tuple[str, str]:
    """(generator, inputs) of an arm's name; ("real", "spikes") for the real arm."""
    if name == REAL:
        return REAL, "spikes"
    source, _, inputs = name.rpartition(" (")
    return source, inputs.rstrip(")")


def synthetic_sets(source: str, aug, train: TrialSet, seed: int
                   ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """Fit the generator of ``aug`` (the spec's augmenter ``source``, unfitted) on ``train``
    and return its arms' training sets,
    {arm name: (X (trials, bins, neurons), velocity (trials, bins, dims))}: the synthetic
    spike counts and their rates (expected counts per bin, float), both with the velocity the
    trials were generated at; and the seconds the fit and sampling took."""
    if aug.get_params()["random_state"] is None:
        aug.set_params(random_state=seed)
    angles = train.conditions["angle"].to_numpy(dtype=float) \
        if "angle" in train.conditions else None
    start = time.perf_counter()
    _, y_aug = aug.fit_resample(train.spikes, train.behavior, angles=angles)
    seconds = time.perf_counter() - start
    synthetic = aug.synthetic_
    name = type(aug.generator_).__name__
    if synthetic is None or synthetic.rates is None:
        raise ValueError(f"{name} returned no rates with its synthetic trials")
    y = np.asarray(y_aug)[train.n_trials:]
    return {arm(source, "spikes"): (synthetic.spikes, y),
            arm(source, "rates"): (synthetic.rates.astype(np.float64), y)}, seconds


def rates_tuning(tuning: dict | None, name: str, decoder) -> dict | None:
    """The ``[tuning]`` table for a rates arm's ``decoder`` (the spec's ``name``): a ridge
    decoder also searches ``standardize`` in (True, False). Standardising divides each
    feature by its spread, and a generated rate that barely moves has a tiny one, so its
    weight per real spike is huge however large alpha is; unstandardised, alpha bounds it."""
    from eag_augment.decoders import RidgeDecoder
    from eag_augment.model_selection import default_search_space

    if tuning is None or not isinstance(decoder, RidgeDecoder):
        return tuning
    grid = tuning["param_grids"].get(name) or default_search_space(decoder)
    return {**tuning, "param_grids": {**tuning["param_grids"],
                                      name: {**grid, "standardize": [True, False]}}}


def run_job(spec, job: Job, trials: TrialSet, simulator) -> dict:
    """Fit the job's training set(s) and score every decoder on the fold's real test trials.

    Returns {"job", "rows", "predictions": {(fraction, fold, arm, decoder, mode, test set):
    predicted velocity}, "failures": [{fraction, fold, arm, decoder, error}] (decoders that
    could not be fitted on a training set, or predicted non-finite values), "targets":
    {(fold, test set): real test velocity}, "wall_s"}.
    """
    import torch

    start = time.perf_counter()
    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)
    pool, tests = fold_split(trials, spec.split, job.fold)
    train = training_subset(pool, job.train_fraction, job.fold, spec.split["subset"])
    if job.source == REAL:
        sets, generate_s = {REAL: (train.spikes, train.behavior)}, None
    else:
        aug = bind_augmenter(spec, job.source, pool.bin_ms, simulator)
        sets, generate_s = synthetic_sets(job.source, aug, train, job.fold)
    rows, predictions, failures = [], {}, []
    for name, (X, y) in sets.items():
        generator, inputs = split_arm(name)
        rates = inputs == "rates"
        if rates and not np.array_equal(y, train.behavior):
            raise ValueError(f"{name}: the synthetic trials are not at the training trials' "
                             "velocities, in their order, so real counts cannot validate them")
        for decoder in spec.decoder_names:
            where = {"train_fraction": job.train_fraction, "seed": job.fold, "augmenter": name,
                     "decoder": decoder}
            t = time.perf_counter()
            try:
                # One decoder at a time (what tuning them together gives, see
                # tune_decoders), so that one that cannot fit a training set leaves the
                # others: e.g. least squares on rates that are constant in some neurons.
                # Inner folds of noise-free rates reward settings (ridge alpha near 0) that
                # extrapolate wildly on spike counts, so a rates arm's inner folds validate
                # on the real counts of their trials (synthetic trial i is generated at
                # real training trial i's velocity).
                proto = spec.decoders[decoder]
                tuning = rates_tuning(spec.tuning, decoder, proto) if rates else spec.tuning
                fitted = fit_decoders(X, y, {decoder: proto}, tuning, job.fold,
                                      validation=train.spikes if rates else None)
                scored = {(mode, test_name): dec.predict(test.spikes)
                          for (_, mode), dec in fitted.items()
                          for test_name, test in tests.items()}
            except (np.linalg.LinAlgError, ValueError) as err:
                failures.append({**where, "error": f"{type(err).__name__}: {err}"})
                continue
            decode_s = time.perf_counter() - t
            if not all(np.isfinite(pred).all() for pred in scored.values()):
                failures.append({**where, "error": "non-finite predictions"})
                continue
            for (mode, test_name), pred in scored.items():
                test = tests[test_name]
                predictions[(job.train_fraction, job.fold, name, decoder, mode, test_name)] = \
                    pred.astype(np.float32)
                rows.append({**where, "generator": generator, "inputs": inputs, "mode": mode,
                             "test_set": test_name, "r2": velocity_r2(test.behavior, pred),
                             "n_train": train.n_trials, "generate_s": generate_s,
                             "decoders_s": decode_s})
    return {"job": job, "rows": rows, "predictions": predictions, "failures": failures,
            "targets": {(job.fold, k): v.behavior for k, v in tests.items()},
            "wall_s": time.perf_counter() - start}


def compute(spec, resume: bool = False
            ) -> tuple[pd.DataFrame, pd.DataFrame, dict, dict, float, list[dict]]:
    """Every job of the sweep: (rows, failures, predictions, targets, wall seconds, the jobs
    resumed from an earlier run). Each finished job is saved in the run folder's jobs/;
    ``resume`` loads those of the same settings instead of running them again."""
    start = time.perf_counter()
    trials, simulator = load_dataset(spec.dataset, spec.output)
    sources = [REAL] + [n for n in spec.augmenter_names
                        if spec.augmenters[n]["generator"] is not None]
    jobs = [Job(f, s, src) for f in spec.train_fractions for s in spec.seeds for src in sources]
    log.info("%d jobs (%d fractions x %d folds x %d training sets); data %s", len(jobs),
             len(spec.train_fractions), len(spec.seeds), len(sources), trials)
    def report(done: dict, n_done: int, n_jobs: int, left: str) -> None:
        for f in done["failures"]:
            log.warning("%s: %s failed: %s", done["job"].describe(), f["decoder"], f["error"])
        tuned = ", ".join(f"{r['augmenter']}/{r['decoder']} {r['r2']:.3f}"
                          for r in done["rows"] if r["mode"] == "tuned")
        log.info("[%d/%d] %s: tuned R^2 %s (%.1f s%s)", n_done, n_jobs, done["job"].describe(),
                 tuned, done["wall_s"], left)

    results, resumed = run_jobs(
        spec, jobs, lambda job: joblib.delayed(run_job)(spec, job, trials, simulator),
        JobStore(spec.output / "jobs", spec.raw, augmenter_of=lambda job: job.source),
        resume=resume, say=log.info, report=report)
    rows = pd.DataFrame([r for d in results for r in d["rows"]])
    failures = pd.DataFrame([f for d in results for f in d["failures"]],
                            columns=FAILURE_COLUMNS)
    predictions = {k: v for d in results for k, v in d["predictions"].items()}
    targets = {k: v for d in results for k, v in d["targets"].items()}
    return rows, failures, predictions, targets, time.perf_counter() - start, resumed


# --------------------------------------------------------------------------- targets
def check_targets(comparison: pd.DataFrame) -> list[dict]:
    """Train-on-EAG within MAX_LOSS of train-on-real at TARGET_FRACTION, per decoder and
    input (tuned arms): met when the 95 % interval of (EAG minus real, same decoder) lies
    above -MAX_LOSS. The decoder that scores best trained on real trials is marked: for a
    decoder that decodes poorly from real trials, "within 0.05" says little."""
    out = []
    part = comparison[(comparison["mode"] == "tuned")
                      & (comparison.train_fraction == TARGET_FRACTION)]
    for inputs in INPUTS:
        for r in part[part.augmenter == arm("eag", inputs)].itertuples():
            best = " (the best decoder on real trials)" if r.decoder == r.best_decoder else ""
            out.append({"target": f"{r.decoder}{best} trained on EAG {inputs} within "
                                  f"{MAX_LOSS} R^2 of {r.decoder} trained on real trials "
                                  f"({TARGET_FRACTION:.0%}, tuned)",
                        "measured": _interval(r.diff, r.diff_low, r.diff_high),
                        "met": bool(r.diff_low > -MAX_LOSS)})
    return out


# --------------------------------------------------------------------------- report
def gap_figure(comparison: pd.DataFrame, path: Path, dataset: str) -> Path:
    """Tuned decoders trained on each generator's trials minus the same decoders trained on
    the real trials (95 % CI), per training fraction and input."""
    part = comparison[(comparison["mode"] == "tuned") & (comparison.augmenter != REAL)]
    parts = pd.DataFrame([split_arm(a) for a in part.augmenter], columns=["generator", "inputs"],
                         index=part.index)
    part = part.join(parts)
    panels = {f"{f:.0%} of the pool, synthetic {i}":
              part[(part.train_fraction == f) & (part.inputs == i)]
              for f in sorted(part.train_fraction.unique()) for i in INPUTS}
    return interval_bars(
        panels, path, x="generator", hue="decoder", xlabel="generator",
        ylabel="R^2 minus the same decoder\ntrained on real trials (95 % CI)",
        title=f"{dataset}: decoders trained on synthetic trials only (spike counts or rates), "
              f"tested on real test trials ({int(part.n_segments.max())} folds, tuned);\n"
              "axis clipped at -1, lower values written at the edge; no bar: the decoder "
              "could not be fitted (see the report)",
        hlines={f"target: within {MAX_LOSS} of real": -MAX_LOSS}, ylim=(-1.0, 0.3))


def timings(rows: pd.DataFrame) -> pd.DataFrame:
    """Seconds per (fraction, training set), mean over folds: the generator's fit and
    sampling (``generate_s``) and all decoders' fits and tuning (``decoders_s``)."""
    per_decoder = rows.drop_duplicates(["train_fraction", "seed", "augmenter", "decoder"])
    per_job = per_decoder.groupby(["train_fraction", "seed", "augmenter"], sort=False).agg(
        generate_s=("generate_s", "first"), decoders_s=("decoders_s", "sum"))
    return per_job.groupby(["train_fraction", "augmenter"], sort=False).mean().reset_index()


def failure_table(failures: pd.DataFrame) -> str:
    """Markdown: which decoders could not be trained on which training sets, on how many
    folds, and the first error."""
    if failures.empty:
        return "Every decoder was fitted on every training set.\n"
    f = failures.groupby(["train_fraction", "augmenter", "decoder"], sort=False).agg(
        n=("seed", "nunique"), error=("error", "first")).reset_index()
    f["fraction"] = f.train_fraction.map("{:.0%}".format)
    f["error"] = f.error.str.slice(0, 120)
    return ("Such a pipeline is left out of the comparison at that fraction (its R^2 is not "
            "defined on every fold).\n\n"
            + md_table(f, {"fraction": "real data", "augmenter": "training set",
                           "decoder": "decoder", "n": "folds", "error": "error"}) + "\n")


def report_markdown(stem: str, comparison: pd.DataFrame, checks: list[dict], info: dict,
                    wall_s: float, times: pd.DataFrame, failures: pd.DataFrame) -> str:
    t = times.copy()
    t["fraction"] = t.train_fraction.map("{:.0%}".format)
    t["gen"] = t.generate_s.map(lambda s: "" if pd.isna(s) else f"{s:.1f}")
    t["dec"] = t.decoders_s.map("{:.1f}".format)
    return "\n".join([
        f"# {stem}\n",
        measured_on(info, wall_s),
        "Decoders trained only on synthetic trials (one per real training trial, generated at "
        "its velocity trajectory by a generator fitted on the real training trials), as spike "
        "counts '(spikes)' or as the rates they were drawn from '(rates)', tested on the real "
        "test trials. The baseline, 'real', is the same decoder trained on the real training "
        "trials. The real and '(spikes)' arms are tuned by inner cross-validation on their "
        "own training set, on the same grids; a '(rates)' arm's inner folds train on the "
        "rates and validate on the real counts of the same training trials (inner folds of "
        "noise-free rates choose settings that fail on spike counts), and its ridge also "
        "searches standardize (True, False): standardised, a rate that barely moves gets a "
        "huge weight per real spike whatever alpha. The footnote of the table below speaks "
        "of augmentation: nothing is augmented here. Jitter's rates are the counts of the "
        "training trial with the requested velocity, so where no two trials share a "
        "trajectory 'jitter (rates)' trains on the real training set itself (its ridge with "
        "standardize searched too): a check of the protocol.\n",
        "## Against training on the real trials\n",
        comparison_markdown(comparison, baseline=(REAL, "tuned")),
        "\n## Decoders that could not be trained\n",
        failure_table(failures),
        f"\n## Target (issue 13): within {MAX_LOSS} R^2 of train-on-real\n",
        f"Met when the whole 95 % interval of (trained on EAG minus trained on real, same "
        f"decoder, paired by fold and test trial) lies above -{MAX_LOSS}.\n",
        md_table(pd.DataFrame(checks).assign(
            met=lambda d: d.met.map({True: "met", False: "**not met**"})),
            {"target": "target", "measured": "measured (95 % CI)", "met": "status"}) + "\n"
        if checks else "No EAG arm in this run.\n",
        "\n## Time per training set (mean over folds, s)\n",
        md_table(t, {"fraction": "real data", "augmenter": "training set",
                     "gen": "generator fit + sampling", "dec": "decoders (fit + tuning)"})
        + "\n",
    ])


# ------------------------------------------------------------------------------ main
def build_parser():
    return sweep_parser(__doc__.split("\n\n")[0], tuple(SPEC_FILES))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if (setting := sweep_spec(args, "train_on_synthetic", SPEC_FILES[args.dataset])) is None:
        return 0
    spec, profile, stem = setting
    spec.output.mkdir(parents=True, exist_ok=True)
    out = args.out
    if args.report_only:
        saved = json.loads((spec.output / "results.json").read_text())
        rows, wall_s, info = pd.DataFrame(saved["rows"]), saved["wall_s"], saved["machine"]
        failures = pd.DataFrame(saved["failures"], columns=FAILURE_COLUMNS)
        predictions, targets = load_predictions(spec.output / "predictions.npz")
    else:
        rows, failures, predictions, targets, wall_s, resumed = compute(spec, args.resume)
        info = run_machine(spec, resumed)
        save_predictions(spec.output / "predictions.npz", predictions, targets)
        write_json(spec.output / "results.json", {
            "spec": spec.raw, "machine": info, "wall_s": wall_s, "rows": records(rows),
            "failures": records(failures)})
    comparison = compare(rows, predictions, targets, baseline=(REAL, "tuned"),
                         shared_test=False)
    checks = check_targets(comparison)
    times = timings(rows)
    figure = gap_figure(comparison, out / f"{stem}.png", args.dataset)
    md = report_markdown(stem, comparison, checks, info, wall_s, times, failures)
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "train_on_synthetic", "dataset": args.dataset, "profile": profile,
        "rebuilt_from": shown(spec.output / "results.json") if args.report_only else None,
        "machine": info, "wall_s": wall_s, "spec": spec.raw,
        "comparison": records(comparison), "targets": checks, "timings": records(times),
        "failures": records(failures),
        "figure": shown(figure), "rows": records(rows),
    })
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
