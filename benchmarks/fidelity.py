"""Fidelity of generated spikes against training and held-out real trials, one estimator for all.

The generators are fitted on the training split of each dataset (Lorenz as in LDNS; synthetic
reach as the demo data). Every number then compares a candidate set of m trials with a
reference set, m being the number of held-out real trials (validation + test splits):

- against the training trials: the model generates m trials conditioned on the behaviour of m
  random training trials; the real/real ceiling is the m held-out real trials;
- against the held-out trials: the model generates m trials conditioned on their behaviour; the
  ceiling is those m training trials.

Models and ceilings go through the same ``metrics.spike_statistics`` at the same sizes (5
bootstrap resamples), so model / ceiling near 1 means as close as independent real data, and a
model that memorised its training trials would look good against them only. EAG and latent
diffusion share one fitted autoencoder, so their rows compare priors; diffusion samples with
DDIM-200 here (DDPM-1000 is timed in benchmarks/latency.py). Sampling runs in float32 unless
``--precision`` says otherwise; the JSON records threads, precisions and the machine.
Writes benchmarks/results/fidelity_<dataset>.{json,png} and fidelity.md (every dataset with a
result file, so datasets can run separately).

    python benchmarks/fidelity.py --threads 2                    # both datasets, "cpu" presets
    python benchmarks/fidelity.py --datasets synthetic_reach
    python benchmarks/fidelity.py --quick                        # a smoke test of the script
"""

from __future__ import annotations

import json
import time

import _common
import numpy as np

from eag_augment import TrialSet, metrics, plots
from eag_augment._torch import uses_bf16
from eag_augment.datasets import load_lorenz, make_synthetic_reach
from eag_augment.generators import (LatentAutoencoder, OracleGenerator, PSTHPoissonGenerator,
                                    load_generator, make_generator)
from eag_augment.generators.presets import PRESETS

COLORS = {"EAG": "tab:red", "latent diffusion": "tab:blue", "LangevinFlow": "tab:purple",
          "PSTH-Poisson": "tab:gray", "oracle": "tab:green"}
DATASETS = ("lorenz", "synthetic_reach")
REFERENCES = ("train", "heldout")


def heldout_of(data: TrialSet) -> TrialSet:
    """The trials of every split but 'train'."""
    return data[np.flatnonzero(data.conditions["split"].to_numpy() != "train")]


def datasets(names: list[str], quick: bool) -> dict:
    """name -> settings: train and held-out TrialSets, condition, per-model overrides."""
    out = {}
    if "lorenz" in names:
        # 2000 of the benchmark's 5000 trials (1400 for training, 600 held out): the full set
        # takes hours to fit and sample on a 2-core CPU; every trial is made as in LDNS.
        lorenz = load_lorenz(300 if quick else 2000, n_bins=64 if quick else 256,
                             n_neurons=32 if quick else 128)
        out["lorenz"] = dict(
            train=lorenz.split("train"), heldout=heldout_of(lorenz), bin_ms=None,
            condition=None, simulator=None,
            # LDNS's Lorenz settings: d = 8, coordinated dropout 0.2, b_L2 = b_td = 0.01.
            autoencoder=dict(latent_dim=8, cd_rate=0.2, l2=0.01, smoothness=0.01),
            eag=dict(patch_size=8), diffusion={}, langevin=dict(epochs=40),
        )
    if "synthetic_reach" in names:
        reach, simulator = make_synthetic_reach(200 if quick else 1000, random_state=0,
                                                n_neurons=40 if quick else 182,
                                                n_heldout=10 if quick else 45,
                                                return_simulator=True)
        out["synthetic_reach"] = dict(
            train=reach.split("train"), heldout=heldout_of(reach), bin_ms=5.0,
            condition="velocity", simulator=simulator, autoencoder=dict(latent_dim=16),
            eag={}, diffusion={}, langevin={},
        )
    return out


QUICK = {"autoencoder": dict(channels=16, n_blocks=1, state_dim=8, steps=20),
         "eag": dict(steps=20), "diffusion": dict(steps=20),
         "langevin": dict(epochs=2, latent_dim=8, encoder_hidden=16, d_model=16, ff_dim=32)}


MODELS = ("EAG", "latent diffusion", "LangevinFlow", "PSTH-Poisson", "oracle")


def fit_models(name: str, cfg: dict, args) -> dict:
    """label -> (fitted generator, fit seconds or None where unknown), for ``args.models``."""
    train = cfg["train"]
    sizes = QUICK if args.quick else {k: {} for k in QUICK}
    tag = f"{name}_{args.preset}{'_quick' if args.quick else ''}"
    eag_preset = PRESETS["eag"][args.preset]
    ae, ae_s = _common.cached(
        f"{tag}_autoencoder.pt",
        lambda: LatentAutoencoder(**{**eag_preset.get("autoencoder", {}), **cfg["autoencoder"],
                                     **sizes["autoencoder"]}, random_state=0,
                                  verbose=1).fit(train),
        LatentAutoencoder.load, args.refit)
    common = dict(condition=cfg["condition"], random_state=0, verbose=1)
    diffusion_preset = "ldns" if args.preset == "paper" else args.preset
    models = {}
    for label, kind, preset, extra in (
            ("EAG", "eag", args.preset, {**cfg["eag"], **sizes["eag"]}),
            ("latent diffusion", "latent_diffusion", diffusion_preset,
             {**cfg["diffusion"], **sizes["diffusion"], "sampler": "ddim", "n_steps": 200})):
        if label not in args.models:
            continue
        gen = make_generator(kind, preset, **common, **extra)
        models[label] = _common.cached(
            f"{tag}_{type(gen).__name__}.pt",
            lambda gen=gen: gen.fit(train, fitted_autoencoder=ae), load_generator, args.refit)
        if models[label][1] is not None and ae_s is not None:
            # Each prior's cost includes the autoencoder it needs.
            models[label] = (models[label][0], models[label][1] + ae_s)
    if "LangevinFlow" in args.models:
        models["LangevinFlow"] = _common.cached(
            f"{tag}_LangevinFlowGenerator.pt",
            lambda: make_generator("langevin", args.preset, encode_heldout=True, **common,
                                   **{**cfg["langevin"], **sizes["langevin"]}).fit(train),
            load_generator, args.refit)
    if "PSTH-Poisson" in args.models:
        start = time.perf_counter()
        psth = PSTHPoissonGenerator(condition="velocity" if cfg["condition"] else None).fit(train)
        models["PSTH-Poisson"] = (psth, time.perf_counter() - start)
    if cfg["simulator"] is not None and "oracle" in args.models:
        models["oracle"] = (OracleGenerator(cfg["simulator"], condition="velocity").fit(train), 0.0)
    return models


def comparison_sets(cfg: dict, seed: int = 0) -> dict:
    """reference name -> (reference trials, trials whose behaviour conditions the model,
    independent real trials of the same size: the ceiling's candidate)."""
    train, held = cfg["train"], cfg["heldout"]
    m = min(held.n_trials, train.n_trials)
    rows = np.sort(np.random.default_rng(seed).choice(train.n_trials, m, replace=False))
    held = held[np.arange(m)]
    return {"train": (train, train[rows], held), "heldout": (held, held, train[rows])}


def score(candidate: TrialSet, reference: TrialSet, bin_ms) -> dict:
    return metrics.spike_statistics(candidate, reference, bin_ms=bin_ms, n_bootstrap=5,
                                    random_state=0)


def arithmetic(gen, precision: str) -> dict:
    """What the generator trained and samples in ("bf16"/"fp32"; None where not applicable)."""
    if not hasattr(gen, "precision"):
        return {"training": "fp32" if hasattr(gen, "module_") else None, "sampling": None}
    bf16 = uses_bf16(gen.device_, gen.precision)
    return {"training": "bf16" if bf16 else "fp32",
            "sampling": "bf16" if uses_bf16(gen.device_, precision) else "fp32"}


def main() -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--preset", choices=("cpu", "quick", "paper"), default="cpu",
                   help="size preset of EAG and LangevinFlow (latent diffusion: 'ldns' "
                        "with 'paper')")
    p.add_argument("--precision", choices=("fp32", "bf16", "auto"), default="fp32",
                   help="sampling arithmetic of EAG and latent diffusion")
    p.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    args = p.parse_args()
    _common.setup(args)
    suffix = "_quick" if args.quick else ""
    for name, cfg in datasets(args.datasets, args.quick).items():
        bin_ms = cfg["bin_ms"]
        print(f"== {name}: train {cfg['train']}, held out {cfg['heldout'].n_trials} trials")
        models = fit_models(name, cfg, args)
        sets = comparison_sets(cfg)
        ceiling = {ref: score(real, reference, bin_ms)
                   for ref, (reference, _, real) in sets.items()}
        rows, samples = {}, {}
        for label, (gen, fit_s) in models.items():
            row = {"fit_s": fit_s, "params": {k: v for k, v in gen.get_params(deep=False).items()
                                              if isinstance(v, (int, float, str, bool,
                                                                type(None)))}}
            if hasattr(gen, "precision"):
                gen.set_params(precision=args.precision)
            row["arithmetic"] = arithmetic(gen, args.precision)
            for ref, (reference, conditions, _) in sets.items():
                velocity = conditions.behavior if cfg["condition"] == "velocity" else None
                start = time.perf_counter()
                fake = gen.sample(conditions.n_trials, velocity=velocity, random_state=1)
                row[f"sample_s_{ref}"] = time.perf_counter() - start
                row[ref] = score(fake, reference, bin_ms)
                samples.setdefault(label, fake)
            rows[label] = row
            print(f"  {label:17s} " + "  ".join(
                f"{k} {row['heldout'][k]['mean'] / ceiling['heldout'][k]['mean']:.2f}x"
                for k in ("population_count_kl", "correlation_rmse", "mean_isi_rmse")))
        reference, _, _ = sets["train"]
        _common.write_json(args.out / f"fidelity_{name}{suffix}.json", {
            "machine": _common.machine(), "dataset": name, "preset": args.preset,
            "sampling_precision": args.precision, "n_train": cfg["train"].n_trials,
            "n_compared": sets["heldout"][0].n_trials, "shape": list(reference.spikes.shape),
            "bin_ms": bin_ms, "ceiling": ceiling, "models": rows})
        plots.statistics_comparison(sets["train"][0], samples, bin_ms=bin_ms, colors=COLORS,
                                    path=args.out / f"fidelity_{name}{suffix}.png")
    lines = ["# Fidelity of generated spikes", ""]
    for name in DATASETS:
        path = args.out / f"fidelity_{name}{suffix}.json"
        if path.exists():
            lines += table(json.loads(path.read_text()))
    (args.out / f"fidelity{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def table(result: dict) -> list[str]:
    """Markdown: per reference set, each model's metric means +- bootstrap s.d., with the
    ratio to the real/real ceiling, and the ceiling last."""
    names = list(metrics.METRICS)
    machine = result["machine"]
    out = [f"## {result['dataset']} ({result['n_train']} training trials; {result['n_compared']} "
           f"trials per compared set; preset {result.get('preset', 'cpu')}; sampling "
           f"{result.get('sampling_precision', '?')}; {machine.get('torch_threads', '?')} torch "
           f"threads; {machine['date']}, commit {machine['commit']})", ""]

    def cell(s: dict, ceiling: dict) -> str:
        return f"{s['mean']:.4g} ± {s['std']:.2g} ({s['mean'] / ceiling['mean']:.2f}x)"

    for ref in REFERENCES:
        ceiling = result["ceiling"][ref]
        out += [f"Against the {'training' if ref == 'train' else 'held-out'} trials "
                "(value ± bootstrap s.d., ratio to the ceiling):", "",
                "| model | " + " | ".join(names) + " | fit s | sample s |",
                "| --- |" + " --- |" * (len(names) + 2)]
        for label, row in result["models"].items():
            fit = "?" if row["fit_s"] is None else f"{row['fit_s']:.0f}"
            out.append(f"| {label} | " + " | ".join(cell(row[ref][m], ceiling[m]) for m in names)
                       + f" | {fit} | {row[f'sample_s_{ref}']:.1f} |")
        out.append("| real/real ceiling | " + " | ".join(
            f"{ceiling[m]['mean']:.4g} ± {ceiling[m]['std']:.2g}" for m in names) + " | | |")
        out.append("")
    return out


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
