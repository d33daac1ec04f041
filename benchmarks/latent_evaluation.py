"""NLB-style evaluation of the latent models: co-smoothing bits/spike, velocity R^2, PSTH R^2.

The default synthetic reach session is written as an NLB-layout NWB file and read back with
``load_nwb`` (the path real NLB data takes); each model is fitted on the ``train`` split with the
45 held-out neurons hidden from its encoder and scored on the ``test`` split with nlb_tools'
evaluation functions (``eag_augment.evaluation.evaluate_latent_model``). The simulator's true
rates and the flat mean-rate model bracket the scores. Writes
benchmarks/results/latent_evaluation.{json,md}.

    python benchmarks/latent_evaluation.py [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import _common
import numpy as np

from eag_augment.datasets import load_nwb, make_synthetic_reach, save_nwb
from eag_augment.evaluation import evaluate_latent_model
from eag_augment.generators import LangevinFlowGenerator, LatentAutoencoder

LAG_MS = 100.0  # the simulator's neural lead over the hand


class _Fixed:
    """A "model" that returns given rates: the bounds of the scale (true rates, flat)."""

    encode_heldout = False

    def __init__(self, rates_of):
        self.rates_of = rates_of

    def fit(self, trials):
        self.n_neurons_ = trials.n_neurons
        return self

    def predict_rates(self, trials):
        return self.rates_of(trials)


def main() -> None:
    args = _common.parser(__doc__.splitlines()[0]).parse_args()
    _common.setup(args)
    sizes = dict(n_neurons=40, n_heldout=10) if args.quick else {}
    data = make_synthetic_reach(200 if args.quick else 1000, random_state=0, **sizes)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_nwb(data, Path(tmp) / "reach.nwb")
        trials = load_nwb(path)
    train, test = trials.split("train"), trials.split("test")
    # Trials are recognised by their held-in counts: the evaluation zeroes the held-out ones.
    truth = {data.spikes[i][:, ~data.heldout].tobytes(): data.rates[i]
             for i in range(data.n_trials)}
    quick_ae = dict(channels=16, n_blocks=1, state_dim=8, steps=20) if args.quick else {}
    quick_lf = dict(epochs=2, latent_dim=8, encoder_hidden=16, d_model=16, ff_dim=32) \
        if args.quick else {}
    models = {
        "EAG autoencoder (LatentAutoencoder, encode_heldout=False)":
            LatentAutoencoder(encode_heldout=False, random_state=0, **quick_ae),
        "LangevinFlow (condition=None)":
            LangevinFlowGenerator(condition=None, random_state=0, **quick_lf),
        "true rates of the simulator":
            _Fixed(lambda t: np.stack([truth[x[:, ~t.heldout].tobytes()] for x in t.spikes])),
        "flat (training mean rate per neuron)":
            _Fixed(lambda t: np.broadcast_to(train.spikes.mean(axis=(0, 1)),
                                             t.spikes.shape).astype(float)),
    }
    rows = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - start
        scores = evaluate_latent_model(model, train, test, lag_ms=LAG_MS)
        rows[name] = {"fit_s": fit_s, **{k: scores[k] for k in ("co-bps", "vel R2", "psth R2")},
                      "functions": scores["functions"]}
        print(f"{name}: co-bps {scores['co-bps']:.3f}  vel R2 {scores['vel R2']:.3f}  "
              f"psth R2 {scores['psth R2']:.3f}  (fit {fit_s:.0f} s)")
    if "LangevinFlow (condition=None)" in rows:
        gen_path = evaluate_latent_model(models["LangevinFlow (condition=None)"], train, test,
                                         lag_ms=LAG_MS, use_context=False)
        rows["LangevinFlow, generation path (use_context=False)"] = {
            "fit_s": None, **{k: gen_path[k] for k in ("co-bps", "vel R2", "psth R2")},
            "functions": gen_path["functions"]}
    report = {"machine": _common.machine(), "n_train": train.n_trials, "n_eval": test.n_trials,
              "n_heldout": int(train.heldout.sum()), "n_neurons": train.n_neurons,
              "lag_ms": LAG_MS, "rows": rows}
    _common.write_json(args.out / "latent_evaluation.json", report)
    lines = [f"NLB-style scores on the synthetic reach ({train.n_trials} train / {test.n_trials} "
             f"test trials, {report['n_heldout']} of {train.n_neurons} neurons held out, "
             f"5 ms bins, velocity lag {LAG_MS:.0f} ms).", "",
             "| model | co-bps | vel R2 | psth R2 | fit s |", "| --- | --- | --- | --- | --- |"]
    for name, r in rows.items():
        fit = "" if r["fit_s"] is None or name.startswith(("true", "flat")) else f"{r['fit_s']:.0f}"
        lines.append(f"| {name} | {r['co-bps']:.3f} | {r['vel R2']:.3f} | {r['psth R2']:.3f} "
                     f"| {fit} |")
    (args.out / "latent_evaluation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
