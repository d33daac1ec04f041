"""Old training loop against new: does a default EAG fit reach the same losses and fidelity?

Runs the same default fit (``EAGGenerator(random_state=seed)`` on the default synthetic reach
data) in two checkouts of the package, each in its own process, and compares what both can
report: fit time, the autoencoder's best validation loss (coordinated-dropout Poisson NLL on a
fixed mask, the same definition in both), the EAG prior's energy score on held-out trials
(fixed masks and noise), and the spike statistics of generated trials against the training
and the held-out real trials (benchmarks/fidelity.py's estimator, float32 sampling). The old
checkout is a git worktree of the commit before the new loop:

    git worktree add /tmp/old802 802dd95
    python benchmarks/loop_comparison.py --old /tmp/old802 --threads 1
    git worktree remove /tmp/old802

Besides the old default, the new code runs in float32 (as the old one trained) and at its default
(precision "auto": bf16 where the CPU has it). Both have the new default noise_dim (the token
size, 80, instead of 64: the old value is now refused as smaller than a token).
Writes benchmarks/results/loop_comparison.{json,md}.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUNS = {"old loop (802dd95)": ("old", {}),
        "new loop, fp32": ("new", {"precision": "fp32", "autoencoder_precision": "fp32"}),
        "new loop, defaults": ("new", {})}


def worker(seed: int, params: dict) -> dict:
    """One default fit with ``params`` in whatever package is importable; its measurements."""
    import torch

    from eag_augment import metrics
    from eag_augment.datasets import make_synthetic_reach
    from eag_augment.generators import EAGGenerator, LatentAutoencoder
    from eag_augment.generators.eag import _patch

    data = make_synthetic_reach(random_state=0)
    train = data.split("train")
    held = data[np.flatnonzero(data.conditions["split"].to_numpy() != "train")]
    ae_precision = params.pop("autoencoder_precision", None)
    ae = LatentAutoencoder() if ae_precision is None else LatentAutoencoder(precision=ae_precision)
    start = time.perf_counter()
    gen = EAGGenerator(autoencoder=ae, random_state=seed, **params).fit(train)
    fit_s = time.perf_counter() - start
    gen.set_params(precision="fp32")
    out = {"fit_s": fit_s, "load_after_fit": os.getloadavg()[0],
           "torch_threads": torch.get_num_threads(),
           "autoencoder_epochs": len(gen.autoencoder_.history_.train),
           "autoencoder_best_val": float(min(gen.autoencoder_.history_.val)),
           "eag_epochs": len(gen.history_.train), "eag_last_train": gen.history_.train[-1],
           "eag_heldout_energy": heldout_energy(gen, held, _patch)}
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(train.n_trials, held.n_trials, replace=False))
    for name, reference, velocity in (("train", train, train.behavior[rows]),
                                      ("heldout", held, held.behavior)):
        fake = gen.sample(held.n_trials, velocity=velocity, random_state=1)
        stats = metrics.spike_statistics(fake, reference, bin_ms=5.0, n_bootstrap=5,
                                         random_state=0)
        out[f"vs_{name}"] = {k: v["mean"] for k, v in stats.items()}
    return out


def heldout_energy(gen, held, patch, n_masks: int = 4) -> float:
    """Mean energy score of the prior on held-out trials' latent tokens (fixed masks, noise)."""
    import torch

    x = (gen.autoencoder_.encode(held) - gen.x_mean_[: gen.autoencoder_.latent_dim]) \
        / gen.x_std_[: gen.autoencoder_.latent_dim]
    tokens = patch(torch.as_tensor(np.clip(x, -5, 5), dtype=torch.float32), gen.patch_size)
    vel = patch(torch.as_tensor(gen._normalise_velocity(held.behavior)), gen.patch_size)
    model, (n, length, _) = gen.module_.eval(), tokens.shape
    gen_ = torch.Generator().manual_seed(0)
    scores = []
    with torch.no_grad():
        for ratio in np.linspace(0.7, 1.0, n_masks):
            hidden = torch.rand(n, length, generator=gen_).argsort(1)[:, :int(np.ceil(ratio * length))]
            mask = torch.zeros(n, length, dtype=torch.bool).scatter_(1, hidden, True)
            f = model.features(tokens, mask, velocity=vel)[mask]
            y = tokens[mask]
            noise = [torch.rand(len(f), model.head.noise_dim, generator=gen_) - 0.5
                     for _ in range(2)]
            s1, s2 = model.head(f, noise[0]), model.head(f, noise[1])
            norm = lambda v: v.pow(2).sum(-1).add(1e-8).sqrt()  # noqa: E731
            scores.append(float((norm(s1 - y) + norm(s2 - y) - norm(s1 - s2)).mean()))
    return float(np.mean(scores))


def run(tree: Path, seed: int, params: dict, threads: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--worker", json.dumps({"seed": seed, "params": params})]
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        job = json.loads(sys.argv[2])
        print(json.dumps(worker(job["seed"], job["params"])))
        return
    sys.path.insert(0, str(HERE))
    import _common

    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--old", type=Path, required=True, help="a checkout of the old code")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = p.parse_args()
    _common.setup(args)
    threads = args.threads or 1
    trees = {"old": args.old.resolve(), "new": _common.ROOT}
    rows = []
    for seed in args.seeds:
        for label, (tree, params) in RUNS.items():
            result = run(trees[tree], seed, dict(params), threads)
            rows.append({"run": label, "seed": seed, "params": params, **result})
            print(f"{label} seed {seed}: fit {result['fit_s']:.0f} s, autoencoder val "
                  f"{result['autoencoder_best_val']:.4f}, held-out energy "
                  f"{result['eag_heldout_energy']:.4f}", flush=True)
    report = {"machine": _common.machine(), "threads": threads, "sampling_precision": "fp32",
              "rows": rows}
    _common.write_json(args.out / "loop_comparison.json", report)
    (args.out / "loop_comparison.md").write_text(table(report) + "\n")
    print(table(report))


def table(report: dict) -> str:
    keys = ("population_count_kl", "correlation_rmse", "mean_isi_rmse", "std_isi_rmse")
    lines = [f"Default EAG fit on the default synthetic reach data, {report['threads']} torch "
             f"thread(s), {report['machine']['cpu']}; fidelity of {len(keys)} statistics "
             "against the training and the held-out real trials (float32 sampling).", "",
             "| run | seed | fit s | load | AE epochs | AE best val | held-out energy | "
             + " | ".join(f"{k} (train / held-out)" for k in keys) + " |",
             "| --- |" + " --- |" * (6 + len(keys))]
    for r in report["rows"]:
        lines.append(
            f"| {r['run']} | {r['seed']} | {r['fit_s']:.0f} | {r['load_after_fit']:.1f} | "
            f"{r['autoencoder_epochs']} | {r['autoencoder_best_val']:.5f} | "
            f"{r['eag_heldout_energy']:.4f} | "
            + " | ".join(f"{r['vs_train'][k]:.4g} / {r['vs_heldout'][k]:.4g}" for k in keys)
            + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
