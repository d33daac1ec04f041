"""The paper-sized EAG on the real M1 recording, and what a GPU does for the package's models.

    python benchmarks/paper_preset.py fit --out DIR [--budget-s 240]   # on a GPU machine
    python benchmarks/paper_preset.py report DIR [DIR ...]              # here, on the CPU
    python benchmarks/paper_preset.py fit --out DIR --quick             # end-to-end check

``fit`` (GPU-sized; needs ``../shared/data/m1_stevenson_2011.mat`` or ``--mat``):

1. Calibration: the "paper" EAG preset (``make_generator("eag", "paper")``) is fitted for a
   few steps on fold 0's training windows; its steps per second set how many steps each fold
   can afford in ``--budget-s`` with the five folds fitted at once (one process each). The
   preset's 40 000 steps are used when they fit; fewer are recorded when they do not.
2. For each outer fold of benchmarks/specs/decoding_gain_m1.toml at 10 % of the pool (62
   windows of 1 s, the fold's training segment), the preset is fitted on the training
   windows and generates the spec's fixed augmentation (ratio 4, conditioned on the training
   windows' own velocity) at guidance scales 1, 1.5, 2 and 3, saved to ``fold<k>.npz``, with
   its variability (benchmarks/variability.py's rate dispersion and copy index).
3. With the time left: training steps per second and sampling times of the default and the
   paper-sized models on MC_Maze-shaped simulated trials (182 neurons, 140 bins of 5 ms).

``report`` fits the M1 spec's fixed-setting decoders on the real training windows plus those
synthetic trials, here, with the code and seeds of benchmarks/decoding_gain.py, and compares
them, paired by fold and test window (95 % two-level bootstrap), with the tuned baselines and
the spec's EAG of the run ``--against`` (default: the 10 % run with the spec's current
settings). No guidance scale is chosen: 1 is the spec's fixed setting, the others are shown
for ridge only and none of them was selected on validation data. Writes
benchmarks/results/paper_preset_m1.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (DEFAULT_MAT, RESULTS, ROOT, SPECS, machine, shown,  # noqa: E402
                     write_json)

FRACTION = 0.1
SCALES = (1.0, 1.5, 2.0, 3.0)
PRESET_STEPS = 40_000
CALIBRATION_STEPS = 200
AGAINST = ROOT / "runs" / "benchmarks" / "decoding_gain_m1_medium_ae3k_p6k"


def _spec(mat: Path):
    from eag_augment.pipelines import load_spec
    return load_spec(SPECS / "decoding_gain_m1.toml", overrides=[f'dataset.path="{mat}"'])


def _fold_data(spec, trials, fold: int):
    """(pool, training windows, test windows) of outer fold ``fold`` at ``FRACTION``, as the
    decoding-gain runner cuts them."""
    from eag_augment.pipelines import fold_split, training_subset
    pool, tests = fold_split(trials, spec.split, fold)
    return pool, training_subset(pool, FRACTION, fold, spec.split["subset"]), tests["test"]


def _load(mat: Path, workdir: Path):
    from eag_augment.pipelines import load_dataset
    spec = _spec(mat)
    return spec, load_dataset(spec.dataset, workdir)[0]


def _paper_generator(steps: int, seed: int, quick: bool):
    from eag_augment.generators import make_generator
    if quick:   # seconds on a CPU: the code path, not the model
        return make_generator("eag", "paper", steps=steps, random_state=seed, width=32,
                              depth=1, heads=2, head_width=32, head_blocks=1,
                              autoencoder__channels=16, autoencoder__n_blocks=1,
                              autoencoder__state_dim=8, autoencoder__epochs=3)
    return make_generator("eag", "paper", steps=steps, random_state=seed)


def _stage_rate(history, n_fit: int, batch_size: int) -> float:
    """Optimiser steps per second of one fitted stage."""
    from eag_augment.generators._training import steps_per_epoch
    return len(history.train) * steps_per_epoch(n_fit, batch_size) / history.seconds


# ------------------------------------------------------------------------------ fit (GPU)
def fit_fold(fold: int, steps: int, out: Path, mat: Path, quick: bool) -> dict:
    """Fit the paper preset on ``fold``'s training windows; save its synthetic trials."""
    import torch
    from variability import MIN_RATE, dispersion, rate_measures

    from eag_augment._torch import uses_bf16
    from eag_augment.pipelines import bind_augmenter

    spec, trials = _load(mat, out)
    pool, train, test = _fold_data(spec, trials, fold)
    aug = bind_augmenter(spec, "eag", pool.bin_ms, None)
    aug.set_params(generator=_paper_generator(steps, fold, quick), random_state=fold)
    start = time.perf_counter()
    X, y = aug.fit_resample(train.spikes, train.behavior)
    fit_s = time.perf_counter() - start
    gen = aug.generator_
    arrays = {"train_start_ms": train.conditions["start_ms"].to_numpy(),
              "test_start_ms": test.conditions["start_ms"].to_numpy()}
    n = train.n_trials
    for scale in SCALES:
        if scale != 1.0:
            aug.set_params(generator=gen, prefit=True, guidance_scale=scale)
            X, y = aug.fit_resample(train.spikes, train.behavior)
        # Counts of 50 ms bins fit 16 bits; the saved files stay small.
        arrays[f"spikes_g{scale:g}"] = np.minimum(np.asarray(X)[n:], 2 ** 16 - 1).astype(np.uint16)
        arrays[f"velocity_g{scale:g}"] = np.asarray(y)[n:].astype(np.float32)
        if scale == 1.0:
            rates, velocity = aug.synthetic_.rates, np.asarray(y)[n:]
    np.savez_compressed(out / f"fold{fold}.npz", **arrays)
    aug.set_params(guidance_scale=None)
    keep = train.spikes.mean(axis=(0, 1)) >= MIN_RATE
    ae = gen.autoencoder_
    rate_residual, real_rate_residual, copied = rate_measures(
        rates, velocity, ae.predict_rates(train.spikes), train, keep)
    row = {
        "fold": fold, "n_train": n, "steps": steps, "fit_s": fit_s,
        "device": str(gen.device_), "bf16": uses_bf16(gen.device_, gen.precision),
        "autoencoder_epochs": len(ae.history_.train), "autoencoder_s": ae.history_.seconds,
        "autoencoder_best_val": float(min(ae.history_.val)),
        "prior_epochs": len(gen.history_.train), "prior_s": gen.history_.seconds,
        "prior_steps_per_s": _stage_rate(gen.history_, n, gen.batch_size),
        "prior_final_loss": float(gen.history_.train[-1]),
        "dispersion_train": dispersion(aug, train, keep, fold),
        "dispersion_test": dispersion(aug, test, keep, fold),
        "rate_residual": rate_residual, "real_rate_residual": real_rate_residual,
        "copy_index": copied,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }
    (out / f"fold{fold}.json").write_text(json.dumps(row, indent=1))
    return row


def calibrate(out: Path, mat: Path, quick: bool) -> dict:
    """Steps per second of the paper preset's transformer on fold 0 (one process)."""
    spec, trials = _load(mat, out)
    _, train, _ = _fold_data(spec, trials, 0)
    steps = 10 if quick else CALIBRATION_STEPS
    gen = _paper_generator(steps, 0, quick)
    gen.set_params(autoencoder__epochs=2)
    gen.fit(train)
    return {"steps": steps, "prior_s": gen.history_.seconds,
            "prior_steps_per_s": _stage_rate(gen.history_, train.n_trials, gen.batch_size)}


def _synchronize(torch) -> None:
    """Wait for queued GPU work, so that a timer read after it counts it."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def profile(deadline: float, quick: bool, save) -> list[dict]:
    """Training steps per second and sampling seconds on MC_Maze-shaped simulated trials,
    each measured only while ``deadline`` (time.perf_counter) is ahead; ``save(rows)`` after
    each, so a run stopped from outside keeps what it measured."""
    import torch

    from eag_augment.datasets import make_synthetic_reach
    from eag_augment.generators import make_generator

    trials = make_synthetic_reach(100 if quick else 1000, random_state=0)
    steps = 5 if quick else 200
    n_samples = 20 if quick else 2000
    cases = [
        ("eag", "cpu", dict(steps=steps, autoencoder__steps=steps), dict(n_steps=16)),
        ("eag", "paper", dict(steps=steps, autoencoder__epochs=3), dict(n_steps=32)),
        ("latent_diffusion", "cpu", dict(steps=steps, autoencoder__steps=steps, sampler="ddim",
                                         n_steps=50), {}),
        ("latent_diffusion", "ldns", dict(steps=steps, autoencoder__epochs=3), {}),
    ]
    rows = []
    for kind, preset, overrides, sample_kw in cases:
        if time.perf_counter() > deadline:
            break
        gen = make_generator(kind, preset, random_state=0, **overrides)
        if quick:
            gen.set_params(autoencoder__channels=8, autoencoder__n_blocks=1)
            if kind == "latent_diffusion":
                gen.set_params(n_timesteps=20, n_steps=20 if preset == "ldns" else 5)
        gen.fit(trials)
        ae = gen.autoencoder_
        n_ae = trials.n_trials - max(1, int(round(ae.validation_fraction * trials.n_trials)))
        full = make_generator(kind, preset).get_params()["steps"]
        row = {"kind": kind, "preset": preset, "n_trials": trials.n_trials,
               "autoencoder_steps_per_s": _stage_rate(ae.history_, n_ae, ae.batch_size),
               "prior_steps_per_s": _stage_rate(gen.history_, trials.n_trials, gen.batch_size),
               "preset_prior_steps": full}
        if time.perf_counter() < deadline:
            velocity = np.resize(trials.behavior, (n_samples,) + trials.behavior.shape[1:])
            gen.sample(8, velocity=velocity[:8], random_state=0, **sample_kw)   # warm-up
            _synchronize(torch)
            start = time.perf_counter()
            gen.sample(n_samples, velocity=velocity, random_state=1, **sample_kw)
            _synchronize(torch)
            row.update(sample_trials=n_samples, sample_s=time.perf_counter() - start,
                       sampler=sample_kw or {"sampler": gen.sampler, "n_steps": gen.n_steps})
        print(json.dumps(row), flush=True)
        rows.append(row)
        save(rows)
    return rows


def fit_all(args: argparse.Namespace) -> int:
    import torch
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    begin = time.perf_counter()
    info = {"machine": {**machine(), "commit": os.environ.get("EAG_COMMIT")
                        or machine()["commit"]}, "gpu": torch.cuda.get_device_name()
            if torch.cuda.is_available() else None, "budget_s": args.budget_s,
            "fraction": FRACTION, "scales": SCALES}
    if args.steps:
        steps = args.steps
    else:
        info["calibration"] = calibrate(out, args.mat, args.quick)
        rate = info["calibration"]["prior_steps_per_s"]
        # Five processes share the GPU. Assume each gets half of one process's speed: on an
        # H200 each got nearly all of it, so this errs on the side of finishing in time.
        steps = int(min(PRESET_STEPS, max(CALIBRATION_STEPS, rate * args.budget_s * 0.5)))
        steps = 10 if args.quick else steps // 1000 * 1000 or CALIBRATION_STEPS
        print(f"calibration: {rate:.1f} steps/s on one process", flush=True)
    info["steps"] = steps
    print(f"{steps} steps per fold", flush=True)
    procs = [subprocess.Popen([sys.executable, __file__, "fold", str(k), "--steps", str(steps),
                               "--out", str(out), "--mat", str(args.mat)]
                              + (["--quick"] if args.quick else []))
             for k in range(5)]
    limit = begin + args.budget_s * 1.6
    for p in procs:
        try:
            p.wait(timeout=max(1.0, limit - time.perf_counter()))
        except subprocess.TimeoutExpired:
            p.kill()
    info["folds"] = [json.loads((out / f"fold{k}.json").read_text())
                     for k in range(5) if (out / f"fold{k}.json").exists()]
    info["folds_s"] = time.perf_counter() - begin
    write_json(out / "paper_preset_gpu.json", info)

    def save(rows: list[dict]) -> None:
        info.update(profile=rows, wall_s=time.perf_counter() - begin)
        write_json(out / "paper_preset_gpu.json", info)

    profile(begin + args.total_s, args.quick, save)
    return 0


# ------------------------------------------------------------------------ report (CPU)
def score_folds(run: Path, label: str, mat: Path, folds: list[int]) -> tuple[dict, list]:
    """Predictions of the spec's fixed decoders trained on each fold's real windows plus the
    GPU's synthetic ones: {(label, guidance scale, decoder): [per-fold test predictions]},
    and the test velocities."""
    from eag_augment.model_selection._tuning import _seeded

    spec, trials = _load(mat, run)
    predictions, targets = {}, []
    for fold in folds:
        _, train, test = _fold_data(spec, trials, fold)
        with np.load(run / f"fold{fold}.npz") as saved:
            data = {key: saved[key] for key in saved.files}
        # The GPU machine must have cut the same windows, or the pairing below would be wrong.
        for part, trials_ in (("train", train), ("test", test)):
            if not np.array_equal(data[f"{part}_start_ms"],
                                  trials_.conditions["start_ms"].to_numpy()):
                raise ValueError(f"{run}/fold{fold}.npz: its {part} windows are not the "
                                 f"spec's fold {fold} at {FRACTION:.0%}")
        targets.append(test.behavior)
        for scale in SCALES:
            synthetic = data[f"spikes_g{scale:g}"].astype(train.spikes.dtype)
            X = np.concatenate([train.spikes, synthetic])
            y = np.concatenate([train.behavior, data[f"velocity_g{scale:g}"]])
            mask = np.arange(len(X)) >= train.n_trials
            for name, proto in spec.decoders.items():
                if scale != 1.0 and name != "ridge":
                    continue
                decoder = _seeded(proto, fold)
                decoder.fit(X, y, is_synthetic=mask)
                predictions.setdefault((label, scale, name), []).append(
                    decoder.predict(test.spikes).astype(np.float32))
        print(f"{label}, fold {fold}: scored", flush=True)
    return predictions, targets


def _against(against: Path, folds: list[int], targets: list) -> dict:
    """{(pipeline, decoder): per-fold predictions} of the earlier run's tuned baselines
    ("none tuned"), fixed baselines ("none fixed") and the spec's EAG ("eag fixed")."""
    from eag_augment.pipelines import load_predictions
    theirs, their_y = load_predictions(against / "predictions.npz")
    for fold, y in zip(folds, targets):
        if not np.allclose(their_y[(fold, "test")], y, atol=1e-5):
            raise ValueError(f"{against}: fold {fold} tested on other windows")
    out = {}
    for (fraction, fold, aug, dec, mode, test), pred in theirs.items():
        if fraction == FRACTION and test == "test" and aug in ("none", "eag") and fold in folds:
            out.setdefault((f"{aug} {mode}", dec), {})[fold] = pred
    return {key: [by_fold[f] for f in folds] for key, by_fold in out.items()
            if set(by_fold) == set(folds)}


def comparisons(ours: dict, rivals: dict, targets: list) -> list[dict]:
    """Each paper-EAG pipeline of ``ours`` against the tuned baseline of its decoder, the best
    tuned baseline, the fixed baseline and the spec's EAG at the fixed setting (``rivals``),
    paired by fold and test window, 95 % intervals."""
    from eag_augment.model_selection import bootstrap_r2
    tuned = {dec: pred for (pipeline, dec), pred in rivals.items() if pipeline == "none tuned"}
    best = bootstrap_r2(targets, tuned, random_state=0).sort_values("r2").iloc[-1]["pipeline"]
    rows = []
    for (label, scale, dec), pred in ours.items():
        versus = {"tuned baseline (same decoder)": ("none tuned", dec),
                  f"best tuned baseline ({best})": ("none tuned", best),
                  "fixed baseline (same decoder)": ("none fixed", dec),
                  "spec EAG, fixed (same decoder)": ("eag fixed", dec)}
        for name, key in versus.items():
            t = bootstrap_r2(targets, {"paper": pred, "rival": rivals[key]},
                             baseline="rival", random_state=0).set_index("pipeline")
            rows.append({"run": label, "guidance_scale": scale, "decoder": dec, "versus": name,
                         "r2": t.loc["paper", "r2"], "r2_low": t.loc["paper", "r2_low"],
                         "r2_high": t.loc["paper", "r2_high"], "rival_r2": t.loc["rival", "r2"],
                         "diff": t.loc["paper", "diff"], "diff_low": t.loc["paper", "diff_low"],
                         "diff_high": t.loc["paper", "diff_high"]})
    return rows


def _figure(rows: list[dict], labels: list[str], path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, versus in zip(axes, ("tuned baseline (same decoder)",
                                 "spec EAG, fixed (same decoder)")):
        for k, label in enumerate(labels):
            part = [r for r in rows if r["versus"] == versus and r["run"] == label
                    and r["guidance_scale"] == 1.0]
            x = np.arange(len(part)) + 0.15 * (k - (len(labels) - 1) / 2)
            diff = np.array([r["diff"] for r in part])
            err = np.array([[r["diff"] - r["diff_low"] for r in part],
                            [r["diff_high"] - r["diff"] for r in part]])
            ax.errorbar(x, diff, yerr=err, fmt="o", capsize=4, label=label)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(np.arange(len(part)), [r["decoder"] for r in part])
        ax.set_ylabel("R^2 difference (95 % CI)")
        ax.set_title(f"paper-sized EAG (fixed, ratio 4) minus\n{versus}", fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("M1, 10 % of the training pool (62 windows), 5 blocked folds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _fmt(mid: float, low: float, high: float, sign: str = "+") -> str:
    return f"{mid:{sign}.3f} [{low:{sign}.3f}, {high:{sign}.3f}]"


def report_markdown(runs: dict[str, dict], rows: list[dict], info: dict) -> str:
    first = next(iter(runs.values()))
    commits = ", ".join(f"{label}: {g['machine'].get('commit') or '?'}"
                        for label, g in runs.items())
    lines = [
        "# The paper-sized EAG on real M1 (10 % of the training pool)", "",
        f"Generators fitted on an {first['gpu']} (bfloat16 autocast; commits {commits}); "
        f"decoders fitted and scored on {info['cpu']} ({info['torch_threads']} torch threads), "
        f"commit {info['commit']}, {info['date']}.", "",
        "Commands: " + "; ".join(f"`{g['machine']['command']}`" for g in runs.values())
        + f" on the GPU machine, then `{info['command']}` here.", "",
        "The `paper` preset (one bin per token, transformer 256 x 6, head 256 x 3, 64 noise "
        "dimensions, LDNS's autoencoder) is trained for "
        + " and ".join(f"{g['steps']}" for g in runs.values())
        + f" steps, not the preset's {PRESET_STEPS}: the 15-minute GPU lease held no more "
        "(the five folds trained at once, about 40 steps/s each). Decoders use the spec's "
        "fixed settings on the real training windows plus 4 synthetic windows per real one, "
        "at the training windows' own velocities; the rivals come from the decoding-gain run "
        "of the spec's current EAG (same folds, same test windows). Differences are paired by "
        "fold and test window, 95 % two-level bootstrap.", "",
        "## Guidance scale 1 (the spec's fixed setting)", "",
        "| training | decoder | versus | paper EAG R^2 | rival R^2 | difference |",
        "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        if r["guidance_scale"] == 1.0:
            lines.append(f"| {r['run']} | {r['decoder']} | {r['versus']} | "
                         f"{_fmt(r['r2'], r['r2_low'], r['r2_high'], '')} | "
                         f"{r['rival_r2']:.3f} | {_fmt(r['diff'], r['diff_low'], r['diff_high'])} |")
    lines += ["", "## Other guidance scales, ridge only (none chosen on validation data)", "",
              "| training | guidance | paper EAG-ridge R^2 | minus the tuned ridge |",
              "| --- | --- | --- | --- |"]
    for r in rows:
        if r["decoder"] == "ridge" and r["versus"] == "tuned baseline (same decoder)":
            lines.append(f"| {r['run']} | {r['guidance_scale']:g} | "
                         f"{_fmt(r['r2'], r['r2_low'], r['r2_high'], '')} | "
                         f"{_fmt(r['diff'], r['diff_low'], r['diff_high'])} |")
    lines += ["", "## Variability of its trials (benchmarks/variability.py's measures)", "",
              "| training | fold | fit s | final loss | rate dispersion (train / test "
              "velocities) | residual rates (real, inferred) | copy index |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, g in runs.items():
        for f in g["folds"]:
            lines.append(f"| {label} | {f['fold']} | {f['fit_s']:.0f} | "
                         f"{f['prior_final_loss']:.3f} | {f['dispersion_train']:.4f} / "
                         f"{f['dispersion_test']:.4f} | {f['rate_residual']:.3f} "
                         f"({f['real_rate_residual']:.3f}) | {f['copy_index']:.2f} |")
    lines += ["", "The spec's EAG on fold 0 at 10 %: rate dispersion 0.001 / 0.002, copy index "
              "0.996 ([variability](docs/benchmarks/variability.md))."]
    profiled = [g for g in runs.values() if g.get("profile")]
    if profiled:
        lines += ["", f"## Training and sampling speed on an {profiled[0]['gpu']}", "",
                  "MC_Maze-shaped simulated trials (1000 trials, 182 neurons, 140 bins of "
                  "5 ms); steps per second of each stage from fits of 200 steps (the "
                  "autoencoders of the GPU presets: 3 epochs); sampling 2000 trials in one "
                  "call after a warm-up call. One process alone on the GPU.", "",
                  "| model | autoencoder steps/s | prior steps/s | prior at its preset's "
                  "steps (extrapolated) | sampling | seconds for 2000 trials |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for p in profiled[0]["profile"]:
            sampler = ", ".join(f"{k} {v}" for k, v in p.get("sampler", {}).items())
            lines.append(
                f"| {p['kind']} `{p['preset']}` | {p['autoencoder_steps_per_s']:.0f} | "
                f"{p['prior_steps_per_s']:.0f} | "
                f"{p['preset_prior_steps'] / p['prior_steps_per_s']:.0f} s | {sampler} | "
                + (f"{p['sample_s']:.2f} |" if "sample_s" in p else "not measured |"))
    return "\n".join(lines) + "\n"


def report(args: argparse.Namespace) -> int:
    runs = {}
    for run in args.runs:
        gpu = json.loads((run / "paper_preset_gpu.json").read_text())
        if not gpu["folds"]:
            raise SystemExit(f"{run}: no fold finished on the GPU machine")
        runs[f"{gpu['steps']} steps"] = gpu
    folds = sorted({f["fold"] for g in runs.values() for f in g["folds"]})
    ours, targets = {}, None
    for run, (label, gpu) in zip(args.runs, runs.items()):
        if [f["fold"] for f in gpu["folds"]] != folds:
            raise SystemExit(f"{run}: folds {[f['fold'] for f in gpu['folds']]}, others {folds}")
        predictions, targets = score_folds(run, label, args.mat, folds)
        ours.update(predictions)
    rows = comparisons(ours, _against(args.against, folds, targets), targets)
    stem = args.results / "paper_preset_m1"
    info = machine()
    md = report_markdown(runs, rows, info)
    stem.with_suffix(".md").write_text(md)
    write_json(stem.with_suffix(".json"), {
        "benchmark": "paper_preset", "gpu_runs": runs, "machine": info,
        "against": shown(args.against), "comparisons": rows,
        "figure": shown(_figure(rows, list(runs), stem.with_suffix(".png")))})
    print(md)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="GPU: calibrate, fit the five folds, profile")
    f.add_argument("--out", type=Path, required=True)
    f.add_argument("--mat", type=Path, default=DEFAULT_MAT)
    f.add_argument("--budget-s", type=float, default=240.0,
                   help="seconds of training the fold fits may take together")
    f.add_argument("--total-s", type=float, default=420.0,
                   help="seconds after which the profile stops starting measurements")
    f.add_argument("--steps", type=int, help="training steps per fold (default: calibrated)")
    f.add_argument("--quick", action="store_true", help="tiny models: checks the code only")
    k = sub.add_parser("fold", help="(internal) fit one fold")
    k.add_argument("fold", type=int)
    k.add_argument("--steps", type=int, required=True)
    k.add_argument("--out", type=Path, required=True)
    k.add_argument("--mat", type=Path, default=DEFAULT_MAT)
    k.add_argument("--quick", action="store_true")
    r = sub.add_parser("report", help="CPU: decoders on the GPU's synthetic trials")
    r.add_argument("runs", type=Path, nargs="+", help="folders ``fit --out`` wrote")
    r.add_argument("--against", type=Path, default=AGAINST)
    r.add_argument("--mat", type=Path, default=DEFAULT_MAT)
    r.add_argument("--results", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.command == "fit":
        return fit_all(args)
    if args.command == "fold":
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        import torch
        torch.set_num_threads(2)
        fit_fold(args.fold, args.steps, args.out, args.mat, args.quick)
        return 0
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
