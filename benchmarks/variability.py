"""Trial-to-trial variability beyond the velocity: real trials against every generator's.

    python benchmarks/variability.py --dataset m1 [--mat PATH]   # fold 0, 10 % and 100 %
    python benchmarks/variability.py                             # simulated reaching
    python benchmarks/variability.py --quick                     # end-to-end check only
    python benchmarks/variability.py --dataset m1 --report-only  # tables and figure again

A generator's trials can teach a decoder something only if they vary, at a given velocity,
the way real trials do. For outer fold 0 (``--folds N``: the first N) of the train-on-synthetic
spec (benchmarks/specs/train_on_synthetic[_m1].toml: its generators, fractions and folds),
every generator is fitted on the real training trials and makes one trial at each training
trial's velocity. Two measures (:mod:`eag_augment.metrics.variability`):

- residual Fano factor: counts minus their cross-validated linear prediction from the velocity
  around each bin, squared, over the counts; the same estimator on the real training trials,
  the real test trials and each generator's trials (median over neurons firing at least
  0.02 spikes per bin in the real training trials). 1 is Poisson around a velocity-tuned rate;
  the real value bounds the real variability at fixed velocity from above.
- rate dispersion: for 20 training velocities, 8 samples each, the variance of the generator's
  rates across samples over the mean rate; counts from them have a Fano factor of 1 plus this
  at fixed velocity. 0: every sample at a velocity has the same rates. Measured again at 20
  test velocities: a generator that memorised its training trials varies at those it never
  saw, one that maps velocity to a single rate trajectory does not vary at either.
- residual rate dispersion: the first measure applied to rates: the generator's rates (one
  trial per training velocity) against the rates the generator's own autoencoder infers
  from the real training trials (latent generators only). Both are upper bounds on the rate
  variability at fixed velocity, by the same estimator, in the units of the rate dispersion.
- copy index: the correlation between the velocity residuals of each generated trial's rates
  and those of the inferred rates of the training trial whose velocity it was generated at
  (pooled over trials, bins and neurons). Near 1: a generated trial repeats what its source
  trial does beyond the velocity; near 0: it varies on its own.

Writes benchmarks/results/variability_<dataset>[_<profile>].json / .md / .png.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import matplotlib
import numpy as np
import torch

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (machine, measured_on, shown, sweep_parser, sweep_spec,  # noqa: E402
                     write_json)
from train_on_synthetic import SPEC_FILES  # noqa: E402

from eag_augment.metrics import (conditional_rate_dispersion, residual_fano_factor,  # noqa: E402
                                 residual_rate_dispersion, velocity_residuals)
from eag_augment.pipelines import (bind_augmenter, fold_split, load_dataset,  # noqa: E402
                                   training_subset)

MIN_RATE = 0.02            # spikes per bin in the real training trials
N_CONDITIONS, N_SAMPLES = 20, 8


def dispersion(aug, trials, keep: np.ndarray, seed: int) -> float | None:
    """Median over the ``keep`` neurons of the rate dispersion of ``aug``'s fitted generator,
    ``N_SAMPLES`` at each of ``N_CONDITIONS`` velocities of ``trials``; None for a generator
    without rates."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(trials.n_trials, min(N_CONDITIONS, trials.n_trials), replace=False)
    scale = aug.get_params()["guidance_scale"]
    kwargs = {} if scale is None else {"guidance_scale": scale}
    rates = []
    for k, i in enumerate(picks):
        velocity = np.repeat(trials.behavior[i][None].astype(np.float64), N_SAMPLES, axis=0)
        out = aug.generator_.sample(N_SAMPLES, velocity=velocity, random_state=seed + k,
                                    **kwargs)
        if out.rates is None:
            return None
        rates.append(out.rates)
    return float(np.nanmedian(conditional_rate_dispersion(np.stack(rates))[keep]))


def copy_index(generated, velocity, inferred, train, keep: np.ndarray) -> float:
    """Correlation of the velocity residuals of ``generated`` rates (trials, bins, neurons) at
    ``velocity`` with those of ``inferred`` (the training trials' rates) of the training trial
    with that velocity, over the ``keep`` neurons."""
    source = {v.tobytes(): i for i, v in enumerate(train.behavior.astype(np.float64))}
    idx = np.array([source[v.astype(np.float64).tobytes()] for v in velocity])
    mine = velocity_residuals(generated, velocity)[..., keep]
    theirs = velocity_residuals(inferred, train.behavior)[idx][..., keep]
    return float(np.corrcoef(mine.ravel(), theirs.ravel())[0, 1])


def rate_measures(rates, velocity, inferred, train, keep: np.ndarray
                  ) -> tuple[float, float, float]:
    """(residual rate dispersion of the generated ``rates`` at ``velocity``, that of the rates
    ``inferred`` from the training trials, copy index), medians over the ``keep`` neurons."""
    def median(values) -> float:
        return float(np.nanmedian(values[keep]))

    return (median(residual_rate_dispersion(rates, velocity)),
            median(residual_rate_dispersion(inferred, train.behavior)),
            copy_index(rates, velocity, inferred, train, keep))


def measure(spec, trials, simulator, fraction: float, fold: int) -> list[dict]:
    """Rows (set, fraction, fold, residual Fano median and quartiles, dispersion, seconds)
    for the real sets and every augmenter of the spec."""
    pool, tests = fold_split(trials, spec.split, fold)
    train = training_subset(pool, fraction, fold, spec.split["subset"])
    keep = train.spikes.mean(axis=(0, 1)) >= MIN_RATE
    rows = []

    def row(name: str, spikes, velocity, disp=(None, None), rates=(None, None, None),
            seconds=None) -> None:
        fano = residual_fano_factor(spikes, velocity)[keep]
        q1, med, q3 = np.nanpercentile(fano, [25, 50, 75])
        rows.append({"set": name, "train_fraction": fraction, "fold": fold,
                     "n_trials": len(spikes), "fano_median": med, "fano_q1": q1,
                     "fano_q3": q3, "dispersion_median": disp[0],
                     "dispersion_test_median": disp[1], "rate_residual_median": rates[0],
                     "real_rate_residual_median": rates[1], "copy_index": rates[2],
                     "fit_sample_s": seconds})
        said = "" if disp[0] is None else \
            f", rate dispersion {disp[0]:.3f} (test velocities {disp[1]:.3f})"
        if rates[1] is not None:
            said += (f", residual rates {rates[0]:.3f} (real, inferred: {rates[1]:.3f}), "
                     f"copy index {rates[2]:.2f}")
        print(f"  {name:22s} residual Fano {med:.3f} [{q1:.3f}, {q3:.3f}]{said}")

    print(f"fraction {fraction:g}, fold {fold}: {train.n_trials} training trials, "
          f"{int(keep.sum())} neurons")
    row("real (training)", train.spikes, train.behavior)
    row("real (test)", tests["test"].spikes, tests["test"].behavior)
    for name in spec.augmenter_names:
        if name == "none":
            continue
        aug = bind_augmenter(spec, name, pool.bin_ms, simulator)
        aug.set_params(random_state=fold)
        start = time.perf_counter()
        _, y = aug.fit_resample(train.spikes, train.behavior)
        disp = (dispersion(aug, train, keep, fold), dispersion(aug, tests["test"], keep, fold))
        seconds = time.perf_counter() - start
        y = np.asarray(y)[train.n_trials:]
        rates = (None, None, None)
        ae = getattr(aug.generator_, "autoencoder_", None)
        if disp[0] is not None and ae is not None:
            rates = rate_measures(aug.synthetic_.rates, y, ae.predict_rates(train.spikes),
                                  train, keep)
        row(name, aug.synthetic_.spikes, y, disp, rates, seconds)
    return rows


def figure(rows: list[dict], path: Path) -> Path:
    """Per training fraction (columns): residual Fano factors, rate dispersions at training and
    test velocities, and copy indices (rows of panels), fold 0."""
    fractions = sorted({r["train_fraction"] for r in rows})
    fig, axes = plt.subplots(3, len(fractions), figsize=(5 * len(fractions), 10),
                             squeeze=False, sharey="row")
    for col, fraction in enumerate(fractions):
        mine = [r for r in rows if r["train_fraction"] == fraction and r["fold"] == 0]
        x = np.arange(len(mine))
        names = [r["set"] for r in mine]
        ax = axes[0][col]
        med = np.array([r["fano_median"] for r in mine])
        err = np.array([[r["fano_median"] - r["fano_q1"], r["fano_q3"] - r["fano_median"]]
                        for r in mine]).T
        ax.bar(x, med, yerr=err, capsize=3,
               color=["0.3" if n.startswith("real") else "C0" for n in names])
        ax.axhline(1, color="k", lw=0.8, ls=":")
        ax.set_title(f"{fraction:.0%} of the training pool, fold 0")
        ax = axes[1][col]
        for shift, key, colour, where in ((-0.2, "dispersion_median", "C3", "training"),
                                          (0.2, "dispersion_test_median", "C1", "test")):
            ax.bar(x + shift, [r[key] or 0.0 for r in mine], width=0.4, color=colour,
                   label=f"at {where} velocities")
        ax = axes[2][col]
        ax.bar(x, [np.nan if r["copy_index"] is None else r["copy_index"] for r in mine],
               color="C2")
        ax.set_ylim(0, 1.05)
        for ax in axes[:, col]:
            ax.set_xticks(x, names if ax is axes[2][col] else [""] * len(x),
                          rotation=45, ha="right")
    axes[0][0].set_ylabel("residual Fano factor\n(median, quartiles over neurons)")
    axes[1][0].set_ylabel("rate dispersion at one velocity\n(median over neurons)")
    axes[2][0].set_ylabel("copy index\n(1: repeats its source trial)")
    axes[1][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {shown(path)}")
    return path


def markdown(stem: str, rows: list[dict], info: dict, wall_s: float) -> str:
    lines = [f"# {stem}\n", measured_on(info, wall_s),
             "Residual Fano factor: counts minus their cross-validated linear prediction from "
             "the velocity (3 bins either side), squared, over the counts; median [quartiles] "
             f"over neurons firing >= {MIN_RATE} spikes per bin in the real training trials. "
             "1: Poisson around a velocity-tuned rate. Rate dispersion: across-sample "
             f"variance of a generator's rates at one velocity ({N_CONDITIONS} velocities of "
             f"the training trials, or of the test trials, x {N_SAMPLES} samples) over the "
             "mean rate, median over the same neurons; 0: every sample at a velocity has the "
             "same rates.\n",
             "Residual rates: the residual estimator applied to the generator's rates (one "
             "trial per training velocity), and to the rates the generator's own autoencoder "
             "infers from the real training trials. Copy index: correlation of the velocity "
             "residuals of each generated trial's rates with those of the inferred rates of "
             "the training trial whose velocity it was generated at (1: a copy beyond the "
             "velocity).\n",
             "| fraction | fold | set | trials | residual Fano | rate dispersion, training "
             "velocities | test velocities | residual rates | real, inferred | copy index | "
             "fit + sample (s) |",
             "|" + " --- |" * 11]
    for r in rows:
        cells = ["" if r[k] is None else f"{r[k]:.3f}"
                 for k in ("dispersion_median", "dispersion_test_median",
                           "rate_residual_median", "real_rate_residual_median",
                           "copy_index")]
        secs = "" if r["fit_sample_s"] is None else f"{r['fit_sample_s']:.0f}"
        lines.append(f"| {r['train_fraction']:.0%} | {r['fold']} | {r['set']} | {r['n_trials']} "
                     f"| {r['fano_median']:.3f} [{r['fano_q1']:.3f}, {r['fano_q3']:.3f}] | "
                     + " | ".join(cells) + f" | {secs} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = sweep_parser(__doc__.split("\n\n")[0])
    p.add_argument("--folds", type=int, default=1, help="outer folds measured (from fold 0)")
    args = p.parse_args(argv)
    made = sweep_spec(args, "variability", SPEC_FILES[args.dataset])
    if made is None:
        return 0
    spec, _, stem = made
    if args.report_only:
        saved = json.loads((args.out / f"{stem}.json").read_text())
        (args.out / f"{stem}.md").write_text(markdown(stem, saved["rows"], saved["machine"],
                                                      saved["wall_s"]))
        print(f"wrote {shown(args.out / f'{stem}.md')}")
        figure(saved["rows"], args.out / f"{stem}.png")
        return 0
    if args.quick:
        torch.set_num_threads(1)
    start = time.perf_counter()
    trials, simulator = load_dataset(spec.dataset, spec.output)
    rows = []
    for fraction in spec.train_fractions:
        for fold in range(min(args.folds, spec.split["n_folds"])):
            rows.extend(measure(spec, trials, simulator, fraction, fold))
    wall_s = time.perf_counter() - start
    info = machine()
    (args.out / f"{stem}.md").write_text(markdown(stem, rows, info, wall_s))
    print(f"wrote {shown(args.out / f'{stem}.md')}")
    write_json(args.out / f"{stem}.json", {"machine": info, "wall_s": wall_s, "rows": rows})
    figure(rows, args.out / f"{stem}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
