"""Fidelity of generated spikes: the LDNS/EAG spike-statistics table on Lorenz and synthetic reach.

For each dataset the generators are fitted on the training split and asked for as many trials as
it has (conditioned on the training trials' own velocities where the data have behaviour); their
population-count KL, correlation RMSE, mean/std ISI RMSE and firing-rate RMSEs against the
training split (5 bootstraps) are compared with the train/train ceiling (two random halves of
the real data). EAG and latent diffusion share one fitted autoencoder, so the table compares
their priors; diffusion samples with DDIM-200 here (DDPM-1000 on the reach data is in
benchmarks/latency.py). Writes benchmarks/results/fidelity_<dataset>.{json,png} and
fidelity.md, the table of every dataset with a result file (so datasets can run separately).

    python benchmarks/fidelity.py                               # both datasets, full sizes
    python benchmarks/fidelity.py --datasets synthetic_reach    # one of them
    python benchmarks/fidelity.py --quick                       # a smoke test of the script
"""

from __future__ import annotations

import json
import time

import _common
import numpy as np

from eag_augment import metrics, plots
from eag_augment.datasets import load_lorenz, make_synthetic_reach
from eag_augment.generators import (EAGGenerator, LangevinFlowGenerator, LatentAutoencoder,
                                    LatentDiffusionGenerator, OracleGenerator,
                                    PSTHPoissonGenerator, load_generator)

COLORS = {"EAG": "tab:red", "latent diffusion": "tab:blue", "LangevinFlow": "tab:purple",
          "PSTH-Poisson": "tab:gray", "oracle": "tab:green"}


def datasets(names: list[str], quick: bool) -> dict:
    """name -> (train TrialSet, settings) for ``names``; Lorenz as in LDNS, reach as the demo
    data. Only the datasets asked for are simulated (Lorenz takes minutes to integrate)."""
    out = {}
    if "lorenz" in names:
        # 2000 of the benchmark's 5000 trials (1400 for training): the full set takes hours
        # to fit and sample on a 2-core CPU; every trial is generated exactly as in LDNS.
        lorenz = load_lorenz(300 if quick else 2000, n_bins=64 if quick else 256,
                             n_neurons=32 if quick else 128)
        out["lorenz"] = dict(
            train=lorenz.split("train"), bin_ms=None, condition=None, simulator=None,
            # LDNS's Lorenz settings: d = 8, coordinated dropout 0.2, b_L2 = b_td = 0.01.
            autoencoder=dict(latent_dim=8, cd_rate=0.2, l2=0.01, smoothness=0.01),
            eag=dict(patch_size=8), diffusion=dict(sampler="ddim", n_steps=200),
            langevin=dict(epochs=40),
        )
    if "synthetic_reach" in names:
        reach, simulator = make_synthetic_reach(200 if quick else 1000, random_state=0,
                                                n_neurons=40 if quick else 182,
                                                n_heldout=10 if quick else 45,
                                                return_simulator=True)
        out["synthetic_reach"] = dict(
            train=reach.split("train"), bin_ms=5.0, condition="velocity", simulator=simulator,
            autoencoder=dict(latent_dim=16), eag=dict(patch_size=5),
            # DDPM-1000 would take about 40 min of this CPU for 700 trials.
            diffusion=dict(sampler="ddim", n_steps=200), langevin={},
        )
    return out


def quick_sizes(quick: bool) -> dict:
    if not quick:
        return {"autoencoder": {}, "prior": {}, "langevin": {}}
    return {"autoencoder": dict(channels=16, n_blocks=1, state_dim=8, steps=20),
            "prior": dict(steps=20),
            "langevin": dict(epochs=2, latent_dim=8, encoder_hidden=16, d_model=16, ff_dim=32)}


def fit_models(name: str, cfg: dict, args) -> dict:
    """name -> (fitted generator, fit seconds; None where unknown)."""
    train, quick = cfg["train"], args.quick
    sizes = quick_sizes(quick)
    tag = f"{name}{'_quick' if quick else ''}"
    ae, ae_s = _common.cached(
        f"{tag}_autoencoder.pt",
        lambda: LatentAutoencoder(**cfg["autoencoder"], **sizes["autoencoder"], random_state=0,
                                  verbose=1).fit(train),
        LatentAutoencoder.load, args.refit)
    common = dict(condition=cfg["condition"], random_state=0, verbose=1)
    models = {}
    for label, klass, extra in (("EAG", EAGGenerator, cfg["eag"]),
                                ("latent diffusion", LatentDiffusionGenerator, cfg["diffusion"])):
        models[label] = _common.cached(
            f"{tag}_{klass.__name__}.pt",
            lambda klass=klass, extra=extra: klass(**common, **extra, **sizes["prior"]).fit(
                train, fitted_autoencoder=ae),
            load_generator, args.refit)
        if models[label][1] is not None and ae_s is not None:
            # Each prior's cost includes the autoencoder it needs.
            models[label] = (models[label][0], models[label][1] + ae_s)
    models["LangevinFlow"] = _common.cached(
        f"{tag}_LangevinFlowGenerator.pt",
        lambda: LangevinFlowGenerator(encode_heldout=True, **common,
                                      **{**cfg["langevin"], **sizes["langevin"]}).fit(train),
        load_generator, args.refit)
    start = time.perf_counter()
    psth = PSTHPoissonGenerator(condition="velocity" if cfg["condition"] else None).fit(train)
    models["PSTH-Poisson"] = (psth, time.perf_counter() - start)
    if cfg["simulator"] is not None:
        models["oracle"] = (OracleGenerator(cfg["simulator"], condition="velocity").fit(train), 0.0)
    return models


DATASETS = ("lorenz", "synthetic_reach")


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    args = p.parse_args()
    _common.setup(args)
    suffix = "_quick" if args.quick else ""
    for name, cfg in datasets(args.datasets, args.quick).items():
        train, bin_ms = cfg["train"], cfg["bin_ms"]
        print(f"== {name}: {train}")
        models = fit_models(name, cfg, args)
        ceiling = metrics.train_train_ceiling(train, bin_ms=bin_ms, n_bootstrap=5, random_state=0)
        rows, samples = {}, {}
        for label, (gen, fit_s) in models.items():
            velocity = train.behavior if cfg["condition"] == "velocity" else None
            start = time.perf_counter()
            sample = gen.sample(train.n_trials, velocity=velocity, random_state=1)
            sample_s = time.perf_counter() - start
            stats = metrics.spike_statistics(sample, train, bin_ms=bin_ms, n_bootstrap=5,
                                             random_state=0)
            rows[label] = {"fit_s": fit_s, "sample_s": sample_s, "metrics": stats,
                           "params": {k: v for k, v in gen.get_params(deep=False).items()
                                      if isinstance(v, (int, float, str, bool, type(None)))}}
            samples[label] = sample
            print(f"  {label:17s} " + "  ".join(f"{k} {v['mean']:.4g}" for k, v in stats.items()))
        _common.write_json(args.out / f"fidelity_{name}{suffix}.json", {
            "machine": _common.machine(), "dataset": name, "n_reference": train.n_trials,
            "shape": list(train.spikes.shape), "bin_ms": bin_ms, "ceiling": ceiling,
            "models": rows})
        plots.statistics_comparison(train, {k: samples[k] for k in samples}, bin_ms=bin_ms,
                                    colors=COLORS, path=args.out / f"fidelity_{name}{suffix}.png")
    lines = ["# Fidelity of generated spikes", ""]
    for name in DATASETS:
        path = args.out / f"fidelity_{name}{suffix}.json"
        if path.exists():
            lines += table(json.loads(path.read_text()))
    (args.out / f"fidelity{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def table(result: dict) -> list[str]:
    """A Markdown table of one dataset's result: metric means +- bootstrap s.d., ceiling last."""
    names = list(metrics.METRICS)
    rows, ceiling = result["models"], result["ceiling"]
    n_trials, n_bins, n_neurons = result["shape"]
    out = [f"## {result['dataset']} ({n_trials} reference trials, {n_bins} bins x "
           f"{n_neurons} neurons; {result['machine']['date']}, commit "
           f"{result['machine']['commit']})", "",
           "| model | " + " | ".join(names) + " | fit s | sample s |",
           "| --- |" + " --- |" * (len(names) + 2)]

    def cell(s: dict) -> str:
        return f"{s['mean']:.4g} ± {s['std']:.2g}"

    for label, row in rows.items():
        fit = "?" if row["fit_s"] is None else f"{row['fit_s']:.0f}"
        out.append(f"| {label} | " + " | ".join(cell(row["metrics"][m]) for m in names)
                   + f" | {fit} | {row['sample_s']:.1f} |")
    out.append("| train/train ceiling | " + " | ".join(cell(ceiling[m]) for m in names) + " | | |")
    out.append("")
    return out


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
