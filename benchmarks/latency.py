"""Latency against quality: EAG-8/16/32 against latent diffusion with 50/200/1000 steps.

Each sampler generates the same 2000 MC_Maze-shaped trials (182 neurons x 140 bins of 5 ms,
conditioned on velocity trajectories of the training set) in one call, timed on the wall clock
after a small warm-up call; the spikes are then scored with the fidelity metrics against the
training trials. EAG samples in bfloat16 where the CPU has it (``--precision``, recorded; the
"fp32" row is the reproducible setting). DDPM-1000 would take most of an hour of a 2-core CPU
for 2000 trials: it generates the first ``DDPM_TRIALS`` in one call and its time is scaled to
2000 (a step's cost is linear in the trials at these batch sizes); its fidelity is that of
those trials. EAG and diffusion are the "cpu" presets fitted by benchmarks/fidelity.py (their
cached checkpoints; run fidelity.py first). The faithful LDNS denoiser (C = 256 x 6 blocks,
DDPM-1000) cannot be trained on this CPU: its sampling time is measured with untrained weights
(time does not depend on them) and has no fidelity.

The script also times fitting generators from scratch: ``make_generator("eag")`` (the default
EAGGenerator) on the default reach data, and the "quick" preset on the README's quick-start
data (``--skip-fit-cost`` leaves that out). Writes benchmarks/results/latency.{json,md,png}.

    python benchmarks/latency.py --threads 2
    python benchmarks/latency.py --quick
"""

from __future__ import annotations

import os
import time

import _common
import matplotlib.pyplot as plt
import numpy as np
import torch

from eag_augment import metrics
from eag_augment._torch import uses_bf16
from eag_augment.datasets import make_synthetic_reach
from eag_augment.generators import load_generator, make_generator

N_TRIALS = 2000
DDPM_TRIALS = 250
LDNS_TRIALS = 16


def configs(quick: bool, precision: str) -> list[dict]:
    eag = [dict(model="EAG", label=f"EAG-{k}", n_steps=k, precision=precision)
           for k in (8, 16, 32)]
    eag.append(dict(model="EAG", label="EAG-16 fp32", n_steps=16, precision="fp32"))
    diffusion = [dict(model="latent diffusion", label=f"DDIM-{k}", sampler="ddim", n_steps=k,
                      precision=precision) for k in (50, 200)]
    diffusion.append(dict(model="latent diffusion", label="DDPM-1000", sampler="ddpm",
                          n_trials=DDPM_TRIALS, precision=precision))
    ldns = [dict(model="LDNS size (untrained)", label="LDNS DDPM-1000", sampler="ddpm",
                 n_trials=LDNS_TRIALS, precision=precision, timing_only=True)]
    if quick:
        return eag + diffusion[:1] + [{**ldns[0], "n_trials": 2}]
    return eag + diffusion + ldns


def timed_sample(gen, velocity, cfg: dict):
    """(generated trials, seconds) for ``cfg``'s sampler, on its ``n_trials`` first trials."""
    velocity = velocity[:cfg.get("n_trials", len(velocity))]
    kwargs = {k: cfg[k] for k in ("n_steps", "sampler") if k in cfg}
    gen.set_params(precision=cfg["precision"])
    gen.sample(2, velocity=velocity[:2], random_state=0, **kwargs)  # warm-up
    start = time.perf_counter()
    out = gen.sample(len(velocity), velocity=velocity, random_state=1, **kwargs)
    return out, time.perf_counter() - start


def ldns_sized(train, quick: bool):
    """The LDNS-preset latent diffusion generator after one epoch: for timing only."""
    tiny = dict(channels=16, n_blocks=1, state_dim=8, n_timesteps=50) if quick else {}
    return make_generator("latent_diffusion", "ldns", epochs=1, autoencoder__epochs=1,
                          random_state=0, **tiny).fit(train[np.arange(64)])


def fit_cost(quick: bool) -> dict:
    """Wall time of fitting the default EAG on the default reach data and the "quick" preset
    on the README's quick-start data (30 trials of 35 bins of 20 ms)."""
    out = {}
    reach = make_synthetic_reach(200 if quick else 1000, random_state=0)
    readme = make_synthetic_reach(300, random_state=0).rebin(20)
    runs = {"cpu": (reach.split("train"), {}),
            "quick": (readme[np.arange(30)], {})}
    for preset, (trials, extra) in runs.items():
        if quick:
            extra = dict(steps=20, autoencoder__steps=20)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        gen = make_generator("eag", preset, random_state=0, **extra).fit(trials)
        seconds = time.perf_counter() - start
        out[preset] = {
            "seconds": seconds, "shape": list(trials.spikes.shape),
            "autoencoder_seconds": gen.autoencoder_.history_.seconds,
            "prior_seconds": gen.history_.seconds,
            "autoencoder_epochs": len(gen.autoencoder_.history_.train),
            "prior_epochs": len(gen.history_.train),
            "training_precision": "bf16" if uses_bf16(gen.device_, gen.precision) else "fp32",
            "load_before": load, "load_after": os.getloadavg()[0]}
        print(f"fitting make_generator('eag', {preset!r}) on {trials}: {seconds:.0f} s")
    return out


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--skip-fit-cost", action="store_true", help="do not time fresh fits")
    p.add_argument("--precision", choices=("bf16", "fp32", "auto"), default="bf16",
                   help="sampling arithmetic of the main rows (an EAG-16 fp32 row is added)")
    args = p.parse_args()
    _common.setup(args)
    tag = "synthetic_reach_cpu" + ("_quick" if args.quick else "")
    paths = {m: _common.CACHE / f"{tag}_{c}.pt" for m, c in
             (("EAG", "EAGGenerator"), ("latent diffusion", "LatentDiffusionGenerator"))}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SystemExit(f"fitted models missing ({', '.join(missing)}): run "
                         f"benchmarks/fidelity.py{' --quick' if args.quick else ''} first")
    models = {m: load_generator(p) for m, p in paths.items()}
    data = make_synthetic_reach(200 if args.quick else 1000, random_state=0,
                                n_neurons=40 if args.quick else 182,
                                n_heldout=10 if args.quick else 45)
    train = data.split("train")
    models["LDNS size (untrained)"] = ldns_sized(train, args.quick)
    n = 64 if args.quick else N_TRIALS
    velocity = np.resize(train.behavior, (n,) + train.behavior.shape[1:])
    rows = []
    for cfg in configs(args.quick, args.precision):
        gen = models[cfg["model"]]
        sample, measured = timed_sample(gen, velocity, cfg)
        stats = None if cfg.get("timing_only") else metrics.spike_statistics(
            sample, train, bin_ms=5.0, n_bootstrap=5, random_state=0)
        seconds = measured * n / sample.n_trials
        rows.append({**cfg, "n_trials": sample.n_trials, "measured_seconds": measured,
                     "seconds": seconds, "trials_per_second": n / seconds, "metrics": stats,
                     "arithmetic": "bf16" if uses_bf16(gen.device_, cfg["precision"]) else "fp32",
                     "load": os.getloadavg()[0]})
        kl = "" if stats is None else f"   KL {stats['population_count_kl']['mean']:.4g}"
        print(f"{cfg['label']:15s} {seconds:8.2f} s{kl}", flush=True)
    ceiling = metrics.train_train_ceiling(train, bin_ms=5.0, n_bootstrap=5, random_state=0)
    ddpm = {r["label"]: r["seconds"] for r in rows if r.get("sampler") == "ddpm"}
    for r in rows:
        r["speedup_vs_ddpm1000"] = {k: v / r["seconds"] for k, v in ddpm.items()}
    report = {"machine": _common.machine(), "n_trials": n,
              "shape": [n, train.n_bins, train.n_neurons], "rows": rows, "ceiling": ceiling,
              "torch_threads": torch.get_num_threads()}
    if not args.skip_fit_cost:
        report["fit"] = fit_cost(args.quick)
    _common.write_json(args.out / f"latency{'_quick' if args.quick else ''}.json", report)
    (args.out / f"latency{'_quick' if args.quick else ''}.md").write_text(table(report) + "\n")
    figure([r for r in rows if r["metrics"] is not None], ceiling,
           args.out / f"latency{'_quick' if args.quick else ''}.png", n)
    print(table(report))


def table(report: dict) -> str:
    m = report["machine"]
    lines = [f"Generating {report['n_trials']} trials of {report['shape'][1]} bins x "
             f"{report['shape'][2]} neurons in one call on {m['cpu']} with "
             f"{report['torch_threads']} torch threads ({m['date']}, commit {m['commit']}); "
             "fidelity against the training trials (the real/real ceiling of this table "
             "compares two halves of them).", "",
             "| sampler | arithmetic | seconds | trials/s | x faster than DDPM-1000 | "
             "x faster than LDNS DDPM-1000 | pop. count KL | corr RMSE | mean ISI RMSE | "
             "std ISI RMSE |", "| --- |" + " --- |" * 9]
    keys = ("population_count_kl", "correlation_rmse", "mean_isi_rmse", "std_isi_rmse")
    notes = []
    for r in report["rows"]:
        label = r["label"]
        if r["n_trials"] != report["n_trials"]:
            what = "" if r["metrics"] is None else (f"; its statistics are of those "
                                                    f"{r['n_trials']} trials")
            notes.append(f"{label}: {r['measured_seconds']:.1f} s measured for the first "
                         f"{r['n_trials']} trials, scaled to {report['n_trials']}{what}.")
            label += " *"
        speeds = " | ".join("" if r["speedup_vs_ddpm1000"].get(k) is None else
                            f"{r['speedup_vs_ddpm1000'][k]:.1f}"
                            for k in ("DDPM-1000", "LDNS DDPM-1000"))
        stats = (" | ".join(f"{r['metrics'][k]['mean']:.4g}" for k in keys)
                 if r["metrics"] is not None else " | ".join(["n/a"] * len(keys)))
        lines.append(f"| {label} | {r['arithmetic']} | {r['seconds']:.2f} | "
                     f"{r['trials_per_second']:.0f} | {speeds} | {stats} |")
    c = report["ceiling"]
    lines.append("| real/real ceiling (halves) | | | | | | "
                 + " | ".join(f"{c[k]['mean']:.4g}" for k in keys) + " |")
    lines += [""] + [f"\\* {note}" for note in notes]
    lines.append("LDNS size (untrained): the LDNS MC_Maze denoiser (C = 256 x 6 S4 blocks) "
                 "with untrained weights, timed only.")
    for preset, f in report.get("fit", {}).items():
        lines.append(f"Fitting `make_generator('eag', '{preset}')` on {f['shape'][0]} trials of "
                     f"{f['shape'][1]} bins x {f['shape'][2]} neurons: {f['seconds']:.0f} s "
                     f"(autoencoder {f['autoencoder_seconds']:.0f} s, {f['autoencoder_epochs']} "
                     f"epochs; prior {f['prior_seconds']:.0f} s, {f['prior_epochs']} epochs; "
                     f"{f['training_precision']} training; load {f['load_before']:.1f} -> "
                     f"{f['load_after']:.1f}).")
    return "\n".join(lines)


def figure(rows: list[dict], ceiling: dict, path, n: int) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    colors = ["tab:red" if r["model"] == "EAG" else "tab:blue" for r in rows]
    labels = [r["label"] for r in rows]
    secs = [r["seconds"] for r in rows]
    axes[0].bar(labels, secs, color=colors)
    axes[0].set_yscale("log")
    axes[0].set_ylabel(f"seconds for {n} trials")
    axes[0].tick_params(axis="x", rotation=45)
    for i, s in enumerate(secs):
        axes[0].text(i, s, f"{s:.1f}", ha="center", va="bottom", fontsize=8)
    kl = [r["metrics"]["population_count_kl"]["mean"] for r in rows]
    err = [r["metrics"]["population_count_kl"]["std"] for r in rows]
    axes[1].errorbar(secs, kl, yerr=err, fmt="none", ecolor="0.6")
    axes[1].scatter(secs, kl, c=colors)
    for s, k, lab in zip(secs, kl, labels):
        axes[1].annotate(lab, (s, k), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axes[1].axhline(ceiling["population_count_kl"]["mean"], color="k", ls=":",
                    label="real/real ceiling (halves)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("seconds")
    axes[1].set_ylabel("population count KL (lower is better)")
    axes[1].legend(fontsize=8)
    fig.suptitle("EAG vs latent diffusion: sampling latency and fidelity (CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {_common.shown(path)}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
