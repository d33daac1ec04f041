"""Latency against quality: EAG-8/16/32 against latent diffusion with 50/200/1000 steps.

Each sampler generates the same 2000 MC_Maze-shaped trials (182 neurons x 140 bins of 5 ms,
conditioned on velocity trajectories of the training set) in one call, timed on the wall clock
after a small warm-up call; the spikes are then scored with the fidelity metrics against the
training trials. DDPM-1000 would take most of an hour of a 2-core CPU for 2000 trials: it
generates the first ``DDPM_TRIALS`` of them in one call and its time is scaled to 2000 (the
cost of a step is linear in the trials at these batch sizes); its fidelity is that of those
trials (fewer trials bias the count KL upwards). EAG and diffusion share the autoencoder
fitted by benchmarks/fidelity.py (their cached checkpoints are reused; run fidelity.py
first). The script also times fitting the default generator, ``EAGGenerator()`` with its
default autoencoder, from scratch on the default synthetic reach data (``--skip-fit-cost``
leaves that out).
Writes benchmarks/results/latency.{json,md,png}.

    python benchmarks/latency.py
    python benchmarks/latency.py --quick
"""

from __future__ import annotations

import time

import _common
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from eag_augment import metrics  # noqa: E402
from eag_augment.datasets import make_synthetic_reach  # noqa: E402
from eag_augment.generators import EAGGenerator, LatentAutoencoder, load_generator  # noqa: E402

N_TRIALS = 2000
DDPM_TRIALS = 250


def configs(quick: bool) -> list[dict]:
    eag = [dict(model="EAG", label=f"EAG-{k}", n_steps=k) for k in (8, 16, 32)]
    eag.append(dict(model="EAG", label="EAG-16 fp32", n_steps=16, precision="fp32"))
    diffusion = [dict(model="latent diffusion", label=f"DDIM-{k}", sampler="ddim", n_steps=k)
                 for k in (50, 200)]
    diffusion.append(dict(model="latent diffusion", label="DDPM-1000", sampler="ddpm",
                          n_trials=DDPM_TRIALS))
    if quick:
        diffusion = diffusion[:1]
    return eag + diffusion


def timed_sample(gen, velocity, cfg: dict):
    """(generated trials, seconds) for ``cfg``'s sampler, on its ``n_trials`` first trials."""
    velocity = velocity[:cfg.get("n_trials", len(velocity))]
    kwargs = {k: cfg[k] for k in ("n_steps", "sampler") if k in cfg}
    if "precision" in cfg:
        gen = gen.set_params(precision=cfg["precision"])
    gen.sample(8, velocity=velocity[:8], random_state=0, **kwargs)  # warm-up
    start = time.perf_counter()
    out = gen.sample(len(velocity), velocity=velocity, random_state=1, **kwargs)
    seconds = time.perf_counter() - start
    if "precision" in cfg:
        gen.set_params(precision="auto")
    return out, seconds


def fit_cost(quick: bool) -> dict:
    """Wall time of fitting the default EAGGenerator on the default synthetic reach data."""
    data = make_synthetic_reach(200 if quick else 1000, random_state=0)
    train = data.split("train")
    params = dict(steps=20, autoencoder=LatentAutoencoder(steps=20)) if quick else {}
    start = time.perf_counter()
    gen = EAGGenerator(random_state=0, **params).fit(train)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "n_trials": train.n_trials, "shape": list(train.spikes.shape),
            "autoencoder_epochs": len(gen.autoencoder_.history_.train),
            "transformer_epochs": len(gen.history_.train)}


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--skip-fit-cost", action="store_true", help="do not time a fresh fit")
    args = p.parse_args()
    _common.setup(args)
    tag = "synthetic_reach" + ("_quick" if args.quick else "")
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
    n = 64 if args.quick else N_TRIALS
    velocity = np.resize(train.behavior, (n,) + train.behavior.shape[1:])
    rows = []
    for cfg in configs(args.quick):
        sample, measured = timed_sample(models[cfg["model"]], velocity, cfg)
        stats = metrics.spike_statistics(sample, train, bin_ms=5.0, n_bootstrap=5, random_state=0)
        seconds = measured * n / sample.n_trials
        rows.append({**cfg, "n_trials": sample.n_trials, "measured_seconds": measured,
                     "seconds": seconds, "trials_per_second": n / seconds, "metrics": stats})
        print(f"{cfg['label']:12s} {seconds:8.2f} s   KL {stats['population_count_kl']['mean']:.4g}"
              f"   corr RMSE {stats['correlation_rmse']['mean']:.4g}")
    ceiling = metrics.train_train_ceiling(train, bin_ms=5.0, n_bootstrap=5, random_state=0)
    ddpm = next((r for r in rows if r["label"] == "DDPM-1000"), None)
    for r in rows:
        r["speedup_vs_ddpm1000"] = None if ddpm is None else ddpm["seconds"] / r["seconds"]
    report = {"machine": _common.machine(), "n_trials": n, "shape": [n, train.n_bins,
              train.n_neurons], "rows": rows, "ceiling": ceiling}
    if not args.skip_fit_cost:
        report["fit_default_eag"] = fit_cost(args.quick)
        print(f"fitting the default EAGGenerator: {report['fit_default_eag']['seconds']:.0f} s")
    _common.write_json(args.out / "latency.json", report)
    (args.out / "latency.md").write_text(table(report) + "\n")
    figure(rows, ceiling, args.out / "latency.png", n)
    print(table(report))


def table(report: dict) -> str:
    lines = [f"Generating {report['n_trials']} trials of {report['shape'][1]} bins x "
             f"{report['shape'][2]} neurons in one call; fidelity against the "
             "training trials.", "",
             "| sampler | seconds | trials/s | x faster than DDPM-1000 | pop. count KL | "
             "corr RMSE | mean ISI RMSE | std ISI RMSE |", "| --- |" + " --- |" * 7]
    scaled = []
    for r in report["rows"]:
        m = r["metrics"]
        speed = "" if r["speedup_vs_ddpm1000"] is None else f"{r['speedup_vs_ddpm1000']:.1f}"
        label = r["label"]
        if r["n_trials"] != report["n_trials"]:
            scaled.append(f"{label}: {r['measured_seconds']:.1f} s measured for the first "
                          f"{r['n_trials']} trials, scaled to {report['n_trials']}; its "
                          f"statistics are of those {r['n_trials']} trials.")
            label += " *"
        lines.append(f"| {label} | {r['seconds']:.2f} | {r['trials_per_second']:.0f} | "
                     f"{speed} | " + " | ".join(f"{m[k]['mean']:.4g}" for k in (
                         "population_count_kl", "correlation_rmse", "mean_isi_rmse",
                         "std_isi_rmse")) + " |")
    c = report["ceiling"]
    lines.append("| train/train ceiling | | | | " + " | ".join(f"{c[k]['mean']:.4g}" for k in (
        "population_count_kl", "correlation_rmse", "mean_isi_rmse", "std_isi_rmse")) + " |")
    if scaled:
        lines += [""] + [f"\\* {note}" for note in scaled]
    if "fit_default_eag" in report:
        f = report["fit_default_eag"]
        lines += ["", f"Fitting the default `EAGGenerator()` (autoencoder + transformer) on "
                  f"{f['n_trials']} trials: {f['seconds']:.0f} s."]
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
                    label="train/train ceiling")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("seconds")
    axes[1].set_ylabel("population count KL (lower is better)")
    axes[1].legend(fontsize=8)
    fig.suptitle("EAG vs latent diffusion: sampling latency and fidelity (CPU)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
