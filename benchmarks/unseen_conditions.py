"""Unseen reach directions: generate trials at directions absent from training, through the
generator's conditioning, and see whether they help decoders there.

    python benchmarks/unseen_conditions.py                   # full run
    python benchmarks/unseen_conditions.py --profile medium  # 100 % only, 2 seeds
    python benchmarks/unseen_conditions.py --quick           # end-to-end check

Two of the eight directions of the simulated reaching session (90 and 225 degrees) are removed
from the training pool of generators and decoders (benchmarks/specs/unseen_conditions.toml).
Generators fitted on the seen directions are asked for exactly the held-out directions
(explicit ``conditions``): EAG by its angle label with several classifier-free guidance
scales, and by velocity (training trajectories rotated onto the held-out angles); PSTH-Poisson
by interpolation between neighbouring directions; the velocity GLM; the oracle. Decoders
trained on real + synthetic trials are scored on test trials at the held-out directions
("heldout") and at the seen ones ("seen").

The EAG paper's check: decoders trained on the real seen-direction trials only are applied
to generated trials at the held-out angles (scored against the velocity the trials were
generated with) and to the real test trials at those angles; similar R^2 means the generated
trials carry the held-out directions' spike-velocity relation.

Each generator is fitted once per (fraction, seed) on that training subset and shared, prefit,
by the augmenters that differ only in sampling settings. Writes
benchmarks/results/unseen_conditions[_<profile>].json / .md / _scores.png / _check.png.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (ROOT, machine, setup, shown, spec_overrides, sweep_parser,  # noqa: E402
                     write_json)
from decoding_gain import gains_figure, harmful, md_table, paired, records  # noqa: E402

from eag_augment.metrics import velocity_r2  # noqa: E402
from eag_augment.pipelines import (Job, load_dataset, load_spec, markdown_table,  # noqa: E402
                                   run_job, scores_figure, split_dataset, summarize,
                                   training_subset)
from eag_augment.trials import TrialSet, angle_of_reach  # noqa: E402

log = logging.getLogger("eag_augment")
SPECS = ROOT / "benchmarks" / "specs"
# Generated trials per held-out direction in the paper's check.
N_CHECK_PER_ANGLE = 100


def _wrap_deg(a: np.ndarray) -> np.ndarray:
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def generator_groups(spec) -> dict[tuple[str, str], list[str]]:
    """(generator name, condition) -> the augmenters sampling from that one fitted model."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name in spec.augmenter_names:
        entry = spec.augmenters[name]
        if entry["generator"] is not None:
            key = (entry["generator"], entry["estimator"].condition)
            groups.setdefault(key, []).append(name)
    return groups


def fit_generator(spec, gen_name: str, condition: str, train: TrialSet, simulator, seed: int):
    """The spec's generator, conditioned as asked, fitted on ``train`` as the augmenter would
    fit it (spikes, velocity, the trials' reach angles); returns (generator, seconds)."""
    gen = clone(spec.generators[gen_name])
    params = gen.get_params(deep=False)
    if "simulator" in params and params["simulator"] is None:
        gen.set_params(simulator=simulator)
    if "condition" in params:
        gen.set_params(condition=condition)
    if params.get("random_state", 0) is None:
        gen.set_params(random_state=seed)
    trials = TrialSet(train.spikes, train.behavior,
                      pd.DataFrame({"angle": train.conditions["angle"].to_numpy(dtype=float)}),
                      bin_ms=train.bin_ms)
    start = time.perf_counter()
    gen.fit(trials)
    return gen, time.perf_counter() - start


def paper_check(generators: dict, train: TrialSet, tests: dict[str, TrialSet], decoders: dict,
                heldout_deg: list[float], seed: int) -> list[dict]:
    """Decoders fitted on the real training trials, scored on real test trials and on
    generated trials at the held-out angles (and at the seen angles, as a control)."""
    fitted = {}
    for name, proto in decoders.items():
        dec = clone(proto)
        if "random_state" in dec.get_params(deep=False):
            dec.set_params(random_state=seed)
        fitted[name] = dec.fit(train.spikes, train.behavior)
    seen_deg = sorted(set(np.round(np.degrees(tests["seen"].conditions["angle"]), 6)))
    rows = []

    def score(source: str, test_set: str, spikes, velocity, error_deg=math.nan) -> None:
        for name, dec in fitted.items():
            rows.append({"seed": seed, "source": source, "test_set": test_set, "decoder": name,
                         "r2": velocity_r2(velocity, dec.predict(spikes)),
                         "angle_error_deg": error_deg})

    for test_set, test in tests.items():
        score("real", test_set, test.spikes, test.behavior)
    for source, (gen, sample_kw) in generators.items():
        for test_set, angles_deg in (("heldout", heldout_deg), ("seen", seen_deg)):
            target = np.radians(np.repeat(angles_deg, N_CHECK_PER_ANGLE))
            out = gen.sample(len(target), angle=target, random_state=seed, **sample_kw)
            error = np.abs(_wrap_deg(np.degrees(angle_of_reach(out.behavior) - target)))
            score(source, test_set, out.spikes, out.behavior, float(np.mean(error)))
    return rows


def run_cell(spec, fraction: float, seed: int, pool: TrialSet, tests: dict[str, TrialSet],
             simulator, check_sources: dict[str, tuple[str, dict]]) -> dict:
    """One (fraction, seed): fit every generator once, score every augmenter, run the check."""
    import torch

    if spec.torch_threads:
        torch.set_num_threads(spec.torch_threads)
    train = training_subset(pool, fraction, seed, spec.split["subset"])
    decoders = {name: spec.decoders[name] for name in spec.decoder_names}
    rows, fit_s, fitted = [], {}, {}
    for (gen_name, condition), names in generator_groups(spec).items():
        gen, fit_s[f"{gen_name}/{condition}"] = fit_generator(spec, gen_name, condition, train,
                                                              simulator, seed)
        fitted[(gen_name, condition)] = gen
        for name in names:
            aug = clone(spec.augmenters[name]["estimator"]).set_params(
                generator=gen, prefit=True, bin_ms=pool.bin_ms)
            done = run_job(Job(fraction, seed, name), pool, tests, aug, decoders,
                           subset=spec.split["subset"], torch_threads=spec.torch_threads)
            rows += done["rows"]
    none = [n for n in spec.augmenter_names if spec.augmenters[n]["generator"] is None]
    for name in none:
        rows += run_job(Job(fraction, seed, name), pool, tests, spec.augmenters[name]["estimator"],
                        decoders, subset=spec.split["subset"],
                        torch_threads=spec.torch_threads)["rows"]
    check = []
    if fraction == max(spec.train_fractions):
        sources = {label: (fitted[key], kw) for label, (key, kw) in check_sources.items()
                   if key in fitted}
        check = paper_check(sources, train, tests, decoders,
                            list(spec.split["holdout_angles_deg"]), seed)
    return {"fraction": fraction, "seed": seed, "rows": rows, "check": check, "fit_s": fit_s}


def check_sources(spec) -> dict[str, tuple[tuple[str, str], dict]]:
    """Generators of the paper's check: every angle-conditioned one, EAG at each guidance
    scale of its augmenters."""
    sources = {}
    for name in spec.augmenter_names:
        entry = spec.augmenters[name]
        est = entry["estimator"]
        if entry["generator"] is None or est.condition != "angle":
            continue
        kw = {} if est.guidance_scale is None else {"guidance_scale": est.guidance_scale}
        sources[name] = ((entry["generator"], "angle"), kw)
    return sources


# ------------------------------------------------------------------------------ figures
def check_figure(check: pd.DataFrame, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    decoders = list(dict.fromkeys(check.decoder))
    sources = list(dict.fromkeys(check.source))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    width = 0.8 / len(sources)
    for ax, test_set in zip(axes, ("heldout", "seen")):
        part = check[check.test_set == test_set]
        for k, source in enumerate(sources):
            sub = part[part.source == source].set_index("decoder").reindex(decoders)
            x = np.arange(len(decoders)) + (k - (len(sources) - 1) / 2) * width
            ax.bar(x, sub.r2_mean, width, yerr=sub.r2_sem.fillna(0.0), capsize=2,
                   label=source, color=f"C{k}")
        ax.set_xticks(np.arange(len(decoders)), decoders)
        ax.set_title(f"decoders trained on real seen-direction trials,\napplied to "
                     f"{'held-out' if test_set == 'heldout' else 'seen'} directions")
        ax.axhline(0.0, color="k", lw=0.8)
    axes[0].set_ylabel("R^2 (real test trials or generated trials)")
    axes[1].legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


# -------------------------------------------------------------------------------- main
def build_parser():
    return sweep_parser(__doc__.split("\n\n")[0])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup(args)
    logging.basicConfig(format="[%(name)s] %(message)s")
    log.setLevel(logging.INFO)
    overrides = spec_overrides(args)
    profile = "quick" if args.quick else args.profile
    spec = load_spec(SPECS / "unseen_conditions.toml", profile=profile, overrides=overrides)
    spec.output = ROOT / spec.output
    spec.output.mkdir(parents=True, exist_ok=True)
    stem = "unseen_conditions" + (f"_{profile}" if profile else "")
    out = args.out
    if args.report_only:
        saved = json.loads((out / f"{stem}.json").read_text())
        rows, check = pd.DataFrame(saved["rows"]), pd.DataFrame(saved["paper_check_rows"])
        fit_s, wall_s = saved["generator_fit_s"], saved["wall_s"]
    else:
        rows, check, fit_s, wall_s = compute(spec)
    write_report(args, spec, stem, profile, rows, check, fit_s, wall_s)
    return 0


def compute(spec) -> tuple[pd.DataFrame, pd.DataFrame, list[dict], float]:
    """Run every (fraction, seed) cell: (rows, paper-check rows, fit times, wall seconds)."""
    start = time.perf_counter()
    trials, simulator = load_dataset(spec.dataset, spec.output)
    pool, tests = split_dataset(trials, spec.split)
    log.info("training pool %d trials (seen directions); test: %s", pool.n_trials,
             ", ".join(f"{k} {v.n_trials}" for k, v in tests.items()))
    sources = check_sources(spec)
    cells = [(f, s) for f in spec.train_fractions for s in spec.seeds]
    results = []
    parallel = joblib.Parallel(n_jobs=spec.n_jobs, return_as="generator_unordered")
    for done in parallel(joblib.delayed(run_cell)(spec, f, s, pool, tests, simulator, sources)
                         for f, s in cells):
        results.append(done)
        held = [r for r in done["rows"] if r["test_set"] == "heldout" and r["decoder"] == "gru"]
        log.info("[%d/%d] fraction %g seed %d: GRU on held-out directions %s", len(results),
                 len(cells), done["fraction"], done["seed"],
                 ", ".join(f"{r['augmenter']} {r['r2']:.3f}" for r in held))
    results.sort(key=lambda d: (d["fraction"], d["seed"]))
    rows = pd.DataFrame([r for d in results for r in d["rows"]])
    check = pd.DataFrame([r for d in results for r in d["check"]])
    fit_s = [{"fraction": d["fraction"], "seed": d["seed"], **d["fit_s"]} for d in results]
    return rows, check, fit_s, time.perf_counter() - start


def write_report(args, spec, stem: str, profile: str | None, rows: pd.DataFrame,
                 check: pd.DataFrame, fit_s: list[dict], wall_s: float) -> None:
    """Summaries, the Markdown report, figures and the JSON of a run."""
    out = args.out
    order = {name: i for i, name in enumerate(spec.augmenter_names)}
    rows = rows.sort_values(["test_set", "train_fraction", "seed", "augmenter"],
                            key=lambda c: c.map(order) if c.name == "augmenter" else c,
                            kind="stable").reset_index(drop=True)
    summary = summarize(rows, "none")
    summary = summary.sort_values(
        ["test_set", "train_fraction", "augmenter"],
        key=lambda c: c.map(order) if c.name == "augmenter" else c.map(
            {"heldout": 0, "seen": 1}) if c.name == "test_set" else c,
        kind="stable").reset_index(drop=True)
    versus = pd.concat([paired(rows, a, "none") for a in spec.augmenter_names if a != "none"],
                       ignore_index=True)
    harm = harmful(summary, rows)
    check_summary = check.groupby(["test_set", "source", "decoder"], sort=False).agg(
        r2_mean=("r2", "mean"), r2_sem=("r2", lambda v: v.std(ddof=1) / math.sqrt(len(v))
                                        if len(v) > 1 else math.nan),
        angle_error_deg=("angle_error_deg", "mean"), n_seeds=("seed", "nunique")).reset_index()

    top = max(spec.train_fractions)
    scores_png = scores_figure(summary, out / f"{stem}_scores.png")
    gains_png = gains_figure(summary[summary.test_set == "heldout"], top,
                             out / f"{stem}_gains.png",
                             title=f"gain on the held-out directions ({top:.0%} of the pool)")
    check_png = check_figure(check_summary, out / f"{stem}_check.png")

    best = summary[(summary.test_set == "heldout") & (summary.augmenter != "none")]
    targets = []
    for dec in spec.decoder_names:
        sub = best[(best.decoder == dec) & (best.train_fraction == top)
                   & best.augmenter.str.startswith("eag")]
        if not sub.empty:
            r = sub.loc[sub.gain_mean.idxmax()]
            targets.append({"target": f"augmentation raises held-out R^2 by >= +0.05 ({dec}, "
                                      f"EAG, {top:.0%})",
                            "measured": f"{r.augmenter}: {r.gain_mean:+.3f} ± {r.gain_sem:.3f}",
                            "met": bool(r.gain_mean >= 0.05)})

    cs = check_summary.copy()
    cs["cell"] = [f"{m:.3f} ± {s:.3f}" if not math.isnan(s) else f"{m:.3f}"
                  for m, s in zip(cs.r2_mean, cs.r2_sem)]
    wide = cs.pivot_table(index=["test_set", "decoder"], columns="source", values="cell",
                          aggfunc="first", sort=False).reset_index()
    cols = {"test_set": "directions", "decoder": "decoder"}
    cols.update({s: s for s in cs.source.unique()})
    err = cs[cs.source != "real"].groupby(["test_set", "source"], sort=False)[
        "angle_error_deg"].first().reset_index()
    err["err"] = err.angle_error_deg.map("{:.1f}".format)
    md = "\n".join([
        f"# {stem}\n", "## Test R^2 on held-out and seen directions\n",
        "Augmenters generate only the held-out directions (90 and 225 degrees); 'heldout': "
        "test trials at those directions, 'seen': the others.\n",
        markdown_table(summary, "none"),
        "\n## Where augmentation hurts\n",
        md_table(harm.assign(fraction=harm.train_fraction.map("{:.0%}".format),
                             gain=[f"{m:+.3f} ± {s:.3f}" for m, s in
                                   zip(harm.gain_mean, harm.gain_sem)],
                             sd=harm.spread.map("{:.3f}".format)),
                 {"test_set": "test set", "fraction": "real trials", "decoder": "decoder",
                  "augmenter": "augmenter", "gain": "gain", "sd": "spread (s.d.)"})
        if not harm.empty else "No configuration lowers a decoder's mean R^2 by more than its "
        "seed-to-seed spread.",
        "\n## The EAG paper's check\n",
        f"Decoders trained on the real seen-direction trials ({top:.0%} of the pool) only; R^2 "
        "on real test trials ('real') and on generated trials (each generator, "
        f"{N_CHECK_PER_ANGLE} per direction, scored against the velocity generated with them)."
        "\n",
        md_table(wide, cols) + "\n",
        "Mean absolute error (degrees) between the requested angle and the reach angle of the "
        "generated velocity:\n",
        md_table(err, {"test_set": "directions", "source": "generator", "err": "error (deg)"})
        + "\n",
        "\n## Target (issue 4)\n",
        md_table(pd.DataFrame(targets).assign(
            met=lambda d: d.met.map({True: "met", False: "not met"})),
            {"target": "target", "measured": "measured", "met": "status"}) + "\n",
        f"\nWall time of the run: {wall_s / 60:.1f} min.\n",
    ])
    (out / f"{stem}.md").write_text(md)
    write_json(out / f"{stem}.json", {
        "benchmark": "unseen_conditions", "profile": profile,
        "rebuilt_from_rows": bool(args.report_only), "machine": machine(),
        "wall_s": wall_s, "spec": spec.raw, "summary": records(summary),
        "gains": records(versus), "harmful": records(harm), "targets": targets,
        "paper_check": records(check_summary), "paper_check_rows": records(check),
        "generator_fit_s": fit_s,
        "figures": {"scores": shown(scores_png), "gains": shown(gains_png),
                    "check": shown(check_png)},
        "rows": records(rows),
    })
    print(md)


if __name__ == "__main__":
    sys.exit(main())
