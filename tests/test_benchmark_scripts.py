"""The pure pieces of benchmarks/unseen_conditions.py, benchmarks/train_on_synthetic.py,
benchmarks/seed_spread.py, benchmarks/decoding_gain.py, benchmarks/selection_rule.py,
benchmarks/variability.py, benchmarks/paper_preset.py, benchmarks/hardware_spread.py and
benchmarks/stronger_baseline.py on tiny inputs (seconds; one quick-profile sweep of the
baseline alone)."""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eag_augment.pipelines import bind_augmenter, load_spec, save_predictions
from eag_augment.pipelines.environment import source_revision

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _common  # noqa: E402
import decoding_gain  # noqa: E402
import hardware_spread  # noqa: E402
import label_scarce  # noqa: E402
import seed_spread  # noqa: E402
import selection_rule  # noqa: E402
import stronger_baseline  # noqa: E402
import variability  # noqa: E402
import train_on_synthetic as tos  # noqa: E402
import unseen_conditions as uc  # noqa: E402

HOLDOUT = {"holdout_angles_deg": [90, 225], "angle_tolerance_deg": 10}


def _spec(augmenters: dict, tuning=None, **split):
    """A validated spec on the tiny reach set's shape (the dataset entry is not loaded)."""
    raw = {
        "name": "tiny", "output": "unused", "torch_threads": 1,
        "dataset": {"kind": "synthetic_reach", "n_trials": 48},
        "split": {"kind": "blocked", "n_folds": 4, **split},
        "generators": {"psth": {"class": "PSTHPoissonGenerator"},
                       "jitter": {"class": "PoissonJitterGenerator"}},
        "augmenters": augmenters,
        "decoders": {"ridge": {"class": "RidgeDecoder", "alpha": 10.0, "lags": 2}},
        "sweep": {"train_fraction": [1.0], "seeds": 2},
    }
    if tuning is not None:
        raw["tuning"] = tuning
    return load_spec(raw)


# ------------------------------------------------------------------ unseen conditions
def test_direction_counts_add_up_and_leave_both_test_sets_non_empty(tiny_reach):
    counts = uc.direction_counts(tiny_reach, {"kind": "blocked", "n_folds": 4, "gap": 0,
                                          "subset": "leading", **HOLDOUT}, [0, 1, 2, 3])
    assert list(counts.fold) == [0, 1, 2, 3]
    assert (counts.test_heldout > 0).all() and (counts.test_seen > 0).all()
    # 2 of 8 directions leave the pool; each test block has 12 trials, a quarter held out.
    assert (counts.pool_all == 36).all() and (counts.pool_seen == 27).all()
    assert (counts.test_heldout == 3).all() and (counts.test_seen == 9).all()


def test_angle_error_is_the_distance_to_the_nearest_requested_angle():
    angles = np.radians([80.0, 100.0, 230.0])
    velocity = np.stack([np.cos(angles), np.sin(angles)], axis=-1)[:, None, :].repeat(5, 1)
    requested = np.radians([90.0, 225.0])
    assert uc.angle_error_deg(velocity, requested) == pytest.approx((10 + 10 + 5) / 3)


def test_paper_check_scores_real_and_generated_trials_of_each_source(tiny_reach):
    spec = _spec({"none": {"ratio": 0},
                  "psth": {"generator": "psth", "condition": "velocity",
                           "conditions_deg": [90, 225], "ratio": 0.5},
                  "jitter": {"generator": "jitter", "condition": "velocity",
                             "conditions_deg": [90, 225], "ratio": 0.5}}, **HOLDOUT)
    done = uc.paper_check_fold(spec, 1, tiny_reach, None)
    rows = pd.DataFrame(done["rows"])
    assert set(zip(rows.test_set, rows.source)) == {
        (t, s) for t in ("heldout", "seen") for s in ("real", "psth", "jitter")}
    generated = rows[(rows.source != "real") & (rows.test_set == "heldout")]
    assert (generated.n_trials == uc.N_CHECK_PER_DIRECTION * 2).all()
    # Velocity-conditioned trials carry the requested (rotated) velocity exactly.
    assert np.allclose(generated.angle_error_deg.astype(float), 0.0, atol=1e-6)
    assert rows["mode"].unique().tolist() == ["fixed"]          # no [tuning] table
    summary = uc.check_summary([done, uc.paper_check_fold(spec, 2, tiny_reach, None)])
    assert len(summary) == 6 and (summary.n_folds == 2).all()
    assert (summary.r2_low <= summary.r2).all() and (summary.r2 <= summary.r2_high).all()


def test_a_baseline_only_unseen_page_leaves_out_the_sections_it_has_nothing_for():
    saved = json.loads((_common.RESULTS /
                        "unseen_conditions_synthetic_medium_ridge_lags.json").read_text())
    frames = [pd.DataFrame(saved[k]) for k in ("comparison", "eag_versus", "ratio_choices",
                                                "counts", "paper_check")]
    md = uc.report_markdown("ridge_lags", "synthetic", *frames, saved["targets"],
                            saved["machine"], saved["wall_s"])
    assert "### 100% of the training data, heldout test set" in md
    assert "chose to augment" not in md and "paper's check" not in md


def _comparison(diff_best_low: float, diff_best: float) -> pd.DataFrame:
    return pd.DataFrame([{"test_set": "heldout", "train_fraction": 1.0, "decoder": "ridge",
                          "augmenter": "eag", "mode": "tuned", "best_decoder": "gru",
                          "diff_best": diff_best, "diff_best_low": diff_best_low,
                          "diff_best_high": diff_best + 0.05}])


def test_unseen_target_is_met_only_when_the_interval_clears_zero_and_the_gain():
    versus = pd.DataFrame([{"test_set": "heldout", "train_fraction": 1.0, "decoder": "ridge",
                            "mode": "tuned", "versus": v, "diff": 0.02, "diff_low": low,
                            "diff_high": 0.04} for v, low in (("psth", 0.01),
                                                               ("encoding", -0.01),
                                                               ("jitter", 0.01))])
    met = {r["target"].split(" beats ")[1].split(" on ")[0]: r["met"]
           for r in uc.check_targets(_comparison(0.01, 0.06), versus, 1.0)}
    assert met == {"the best tuned decoder without augmentation (gru) by >= +0.05": True,
                   "psth-ridge (tuned)": True, "encoding-ridge (tuned)": False}
    assert not uc.check_targets(_comparison(-0.01, 0.06), versus, 1.0)[0]["met"]
    assert not uc.check_targets(_comparison(0.01, 0.04), versus, 1.0)[0]["met"]


# ----------------------------------------------------------------- train on synthetic
def test_arm_names_round_trip():
    assert tos.split_arm(tos.arm("eag_angle", "rates")) == ("eag_angle", "rates")
    assert tos.split_arm(tos.REAL) == (tos.REAL, "spikes")


def test_synthetic_sets_hold_spikes_and_rates_at_the_training_velocity(tiny_reach):
    spec = _spec({"psth": {"generator": "psth", "condition": "velocity", "ratio": 1},
                  "jitter": {"generator": "jitter", "condition": "velocity", "ratio": 1}})
    train = tiny_reach[:24]
    for source in ("psth", "jitter"):
        aug = bind_augmenter(spec, source, train.bin_ms, None)
        sets, seconds = tos.synthetic_sets(source, aug, train, 0)
        assert set(sets) == {f"{source} (spikes)", f"{source} (rates)"} and seconds >= 0
        (X, y), (R, y_r) = sets[f"{source} (spikes)"], sets[f"{source} (rates)"]
        assert X.shape == R.shape == train.spikes.shape and R.dtype == np.float64
        assert np.array_equal(y, train.behavior) and np.array_equal(y_r, train.behavior)
    # Jitter's rates are counts of training trials with the requested velocity (here several
    # trials share one: the first is taken).
    assert all(any(np.array_equal(r, x) for x in train.spikes) for r in R)


def test_train_on_synthetic_job_scores_both_arms_on_the_real_test_trials(tiny_reach):
    spec = _spec({"psth": {"generator": "psth", "condition": "velocity", "ratio": 1}},
                 tuning={"cv_folds": 2, "ratios": [0],
                         "param_grids": {"ridge": {"alpha": [1.0, 100.0]}}})
    real = tos.run_job(spec, tos.Job(1.0, 0, tos.REAL), tiny_reach, None)
    psth = tos.run_job(spec, tos.Job(1.0, 0, "psth"), tiny_reach, None)
    rows = pd.DataFrame(real["rows"] + psth["rows"])
    assert set(zip(rows.augmenter, rows["mode"])) == {
        (a, m) for a in ("real", "psth (spikes)", "psth (rates)") for m in ("tuned", "fixed")}
    assert set(real["predictions"]) | set(psth["predictions"]) == {
        (1.0, 0, a, "ridge", m, "test") for a, m in zip(rows.augmenter, rows["mode"])}
    assert real["targets"].keys() == {(0, "test")}
    assert (rows.n_train == 36).all()


def test_train_on_synthetic_target_reads_the_interval_of_the_difference():
    comparison = pd.DataFrame([{"mode": "tuned", "train_fraction": 1.0, "decoder": "ridge",
                                "augmenter": tos.arm("eag", i), "diff": -0.02,
                                "diff_low": low, "diff_high": 0.0, "best_decoder": "ridge"}
                               for i, low in (("spikes", -0.04), ("rates", -0.06))])
    checks = tos.check_targets(comparison)
    assert [c["met"] for c in checks] == [True, False]
    assert "(the best decoder on real trials)" in checks[0]["target"]


def test_decoding_targets_are_judged_only_where_eag_ran():
    row = {"mode": "tuned", "train_fraction": 0.1, "decoder": "ridge", "test_set": "test",
           "diff": 0.03, "diff_low": 0.01, "diff_high": 0.05, "best_decoder": "ridge",
           "diff_best": 0.03, "diff_best_low": 0.01, "diff_best_high": 0.05}
    no_rival = pd.DataFrame(columns=["train_fraction", "decoder", "versus"])
    baseline_only = pd.DataFrame([{**row, "augmenter": "none"}])
    assert decoding_gain.check_targets(baseline_only, no_rival, None, "m1") == []
    checks = decoding_gain.check_targets(pd.DataFrame([{**row, "augmenter": "eag"}]),
                                         no_rival, None, "m1")
    assert [c["met"] for c in checks] == [True, True]


def test_factor_gain_pairs_the_factor_decoder_with_ridge_fold_by_fold():
    rng = np.random.default_rng(0)
    targets = {(s, "test"): rng.normal(size=(6, 4, 2)) for s in (0, 1)}
    noise = {d: {s: rng.normal(scale=sd, size=(6, 4, 2)) for s in (0, 1)}
             for d, sd in (("ridge", 1.0), ("factor_ridge", 0.1))}
    predictions = {(0.1, s, "none", d, "tuned", "test"): targets[(s, "test")] + noise[d][s]
                   for d in noise for s in (0, 1)}
    rows = pd.DataFrame([{"train_fraction": 0.1, "seed": s, "augmenter": "none", "decoder": d,
                          "mode": "tuned", "test_set": "test", "r2": 0.5 + 0.1 * s + 0.2 * (
                              d == "factor_ridge")} for s in (0, 1) for d in noise])
    gain = label_scarce.factor_gain(rows, predictions, targets).iloc[0]
    assert gain["diff_low"] > 0.5 and gain["n_seeds"] == 2
    assert gain["ridge_per_fold"] == [0.5, 0.6] and gain["factor_per_fold"] == [0.7, 0.8]
    assert "| 10% | +" in label_scarce.factor_markdown(pd.DataFrame([gain]), True)


# --------------------------------------------------------------------------- common
@pytest.mark.parametrize("name", ["RidgeDecoder", "WienerFilterDecoder", "KalmanFilterDecoder",
                                  "GRUDecoder"])
def test_every_decoder_fits_expected_counts_as_well_as_spike_counts(name, tiny_reach):
    from eag_augment import decoders

    trials = tiny_reach
    proto = getattr(decoders, name)()
    if name == "GRUDecoder":
        proto.set_params(hidden_size=4, max_epochs=2)
    fitted = _common.fit_decoders(trials.rates.astype(np.float64), trials.behavior,
                                  {"d": proto}, None, 0)
    pred = fitted[("d", "fixed")].predict(trials.spikes)
    assert pred.shape == trials.behavior.shape and np.isfinite(pred).all()


def test_fit_decoders_tunes_and_keeps_the_fixed_settings(tiny_reach):
    from eag_augment.decoders import RidgeDecoder

    trials = tiny_reach
    tuning = {"cv_folds": 2, "cv_gap": 0, "n_iter": None, "fixed": True,
              "param_grids": {"r": {"alpha": [1.0, 1e4]}}}
    fitted = _common.fit_decoders(trials.spikes, trials.behavior,
                                  {"r": RidgeDecoder(alpha=3.0, lags=2)}, tuning, 0)
    assert set(fitted) == {("r", "tuned"), ("r", "fixed")}
    assert fitted[("r", "tuned")].best_params_["alpha"] in (1.0, 1e4)
    assert fitted[("r", "fixed")].alpha == 3.0
    fitted = _common.fit_decoders(trials.spikes, trials.behavior,
                                  {"r": RidgeDecoder(lags=2)}, {**tuning, "fixed": False}, 0)
    assert set(fitted) == {("r", "tuned")}


def test_select_on_validates_noise_free_rates_on_the_counts_they_stand_for(tiny_reach):
    from eag_augment.decoders import RidgeDecoder
    from eag_augment.model_selection import BlockedKFold

    trials = tiny_reach
    rates, counts, y = trials.rates.astype(np.float64), trials.spikes, trials.behavior
    grid = {"alpha": [1e-6, 1e3]}
    cv = BlockedKFold(3)
    on_counts = _common.select_on(RidgeDecoder(lags=2), rates, y, counts, cv, grid, None, 0)
    on_rates = _common.select_on(RidgeDecoder(lags=2), rates, y, rates, cv, grid, None, 0)
    # Validated on themselves, noise-free rates choose no penalty; validated on the counts
    # a decoder of them will read, the penalty that survives the noise.
    assert on_rates.best_params_ == {"alpha": 1e-6}
    assert on_counts.best_params_ == {"alpha": 1e3}
    # The chosen setting is refitted on the rates alone.
    alone = RidgeDecoder(lags=2, alpha=1e3).fit(rates, y)
    assert np.allclose(on_counts.predict(counts), alone.predict(counts))
    # With the counts as their own validation it is the inner CV a real arm gets.
    tuning = {"cv_folds": 3, "cv_gap": 0, "n_iter": None, "fixed": False,
              "param_grids": {"r": grid}}
    real = _common.fit_decoders(counts, y, {"r": RidgeDecoder(lags=2)}, tuning, 0)
    same = _common.fit_decoders(counts, y, {"r": RidgeDecoder(lags=2)}, tuning, 0,
                                validation=counts)
    same, real = same[("r", "tuned")], real[("r", "tuned")]
    assert same.best_params_["alpha"] == real.best_params_["alpha"]
    assert np.allclose(same.predict(counts), real.predict(counts))


def test_rates_arms_of_ridge_also_search_standardize():
    from eag_augment.decoders import KalmanFilterDecoder, RidgeDecoder

    tuning = {"cv_folds": 3, "param_grids": {"gru": {"dropout": [0.0]}}}
    ridge = tos.rates_tuning(tuning, "ridge", RidgeDecoder())["param_grids"]["ridge"]
    assert ridge["standardize"] == [True, False] and len(ridge["alpha"]) == 13
    assert tos.rates_tuning(tuning, "kalman", KalmanFilterDecoder()) is tuning
    assert tos.rates_tuning(None, "ridge", RidgeDecoder()) is None
    assert "standardize" not in tuning["param_grids"].get("ridge", {})


def test_interval_bars_draws_every_panel(tmp_path):
    table = pd.DataFrame({"decoder": ["ridge", "ridge", "gru", "gru"],
                          "augmenter": ["eag", "psth", "eag", "psth"],
                          "diff": [0.1, -0.1, 0.0, 0.05], "diff_low": [0.0, -0.2, -0.1, 0.0],
                          "diff_high": [0.2, 0.0, 0.1, 0.1]})
    path = _common.interval_bars({"a": table, "b": table.iloc[:2]}, tmp_path / "f.png",
                                 x="decoder", hue="augmenter", xlabel="decoder",
                                 ylabel="gain", title="t", hlines={"target": 0.05},
                                 ylim=(-0.15, 1.0))
    assert path.stat().st_size > 0


@pytest.mark.parametrize("spec_file", ["unseen_conditions.toml", "unseen_conditions_m1.toml",
                                       "train_on_synthetic.toml", "train_on_synthetic_m1.toml"])
@pytest.mark.parametrize("profile", [None, "medium", "quick"])
def test_the_benchmark_specs_load_in_every_profile(spec_file, profile):
    # A .mat spec needs an existing path; nothing is read while loading a spec.
    overrides = [f'dataset.path="{__file__}"'] if "m1" in spec_file else []
    spec = load_spec(_common.ROOT / "benchmarks" / "specs" / spec_file, profile=profile,
                     overrides=overrides)
    assert spec.split["kind"] == "blocked" and spec.tuning is not None
    assert spec.torch_threads == 1
    if spec_file.startswith("unseen"):
        assert spec.baseline == "none" and "eag" in spec.augmenter_names
        # Every generator is asked for explicit (held-out) angles, not "match".
        assert all(not isinstance(spec.augmenters[n]["estimator"].conditions, str)
                   for n in uc.check_sources(spec))


def test_a_variant_run_gets_its_own_run_folder_and_result_files(tmp_path):
    parser = _common.sweep_parser("d")
    standard = _common.sweep_spec(parser.parse_args(["--quick", "--out", str(tmp_path)]),
                                  "unseen_conditions", "unseen_conditions.toml")
    spec, profile, stem = _common.sweep_spec(
        parser.parse_args(["--quick", "--out", str(tmp_path), "--variant", "g2",
                           "--set", "sweep.seeds=1"]),
        "unseen_conditions", "unseen_conditions.toml")
    assert (profile, stem) == ("quick", standard[2] + "_g2")
    assert spec.output == standard[0].output.with_name(standard[0].output.name + "_g2")
    assert spec.seeds == [0]
    with pytest.raises(SystemExit):
        parser.parse_args(["--variant", "../elsewhere"])


# ------------------------------------------------------------------ seed spread
def test_seed_spread_keeps_the_row_order_and_gives_a_single_run_no_sd():
    rows = [{"arm": "GRU alone", "seed": 0, "gru": 0.5},
            {"arm": "GRU alone", "seed": 1, "gru": 0.7},
            {"arm": "EAG bf16", "seed": 0, "ridge": 0.4, "gru": 0.3}]
    table = seed_spread.spread(rows)
    assert list(zip(table.arm, table.decoder)) == [("GRU alone", "gru"), ("EAG bf16", "ridge"),
                                                   ("EAG bf16", "gru")]
    assert table.n.tolist() == [2, 1, 1]
    assert table["mean"][0] == pytest.approx(0.6)
    assert table.sd[0] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert np.isnan(table.sd[1]) and table["min"][2] == table["max"][2] == 0.3


# ------------------------------------------------------------------ decoding gain --merge
def _run_dir(path: Path, pairs: list[tuple[float, str]], value: float, wall_s: float) -> Path:
    """A run folder holding one row and one prediction per (fraction, augmenter)."""
    path.mkdir()
    rows = [{"train_fraction": f, "seed": 0, "augmenter": a, "decoder": "ridge",
             "mode": "tuned", "test_set": "test", "r2": value} for f, a in pairs]
    (path / "results.json").write_text(json.dumps({"rows": rows, "wall_s": wall_s}))
    save_predictions(path / "predictions.npz",
                     {(f, 0, a, "ridge", "tuned", "test"): np.full((2, 3, 2), value)
                      for f, a in pairs}, {(0, "test"): np.zeros((2, 3, 2))})
    return path


def test_merge_adds_only_the_fraction_augmenter_pairs_a_run_lacks(tmp_path):
    mine = [(0.05, "none"), (0.05, "psth")]
    rows = pd.DataFrame([{"train_fraction": f, "seed": 0, "augmenter": a, "decoder": "ridge",
                          "mode": "tuned", "test_set": "test", "r2": 1.0} for f, a in mine])
    predictions = {(f, 0, a, "ridge", "tuned", "test"): np.ones((2, 3, 2)) for f, a in mine}
    other = _run_dir(tmp_path / "other", [(0.05, "none"), (0.05, "eag"), (0.1, "none")], 2.0,
                     60.0)
    merged, preds, wall_s = decoding_gain.merge_runs(rows, predictions, 30.0, [other])
    pairs = sorted(zip(merged.train_fraction, merged.augmenter))
    assert pairs == [(0.05, "eag"), (0.05, "none"), (0.05, "psth"), (0.1, "none")]
    # The pair both runs have comes from this run, rows and predictions alike.
    both = merged[(merged.train_fraction == 0.05) & (merged.augmenter == "none")]
    assert both.r2.tolist() == [1.0]
    assert preds[(0.05, 0, "none", "ridge", "tuned", "test")].max() == 1.0
    assert preds[(0.05, 0, "eag", "ridge", "tuned", "test")].max() == 2.0
    assert len(preds) == 4 and wall_s == 90.0


def test_train_on_synthetic_resumes_the_jobs_a_stopped_run_finished(tmp_path):
    spec = _spec({"psth": {"generator": "psth", "condition": "velocity", "ratio": 1}})
    spec.output, spec.n_jobs = tmp_path / "run", 1
    spec.dataset.update(n_neurons=12, n_heldout=2)
    first = tos.compute(spec)
    assert first[-1] == [] and len(list((tmp_path / "run" / "jobs").glob("*.joblib"))) == 4
    again = tos.compute(spec, resume=True)
    pd.testing.assert_frame_equal(again[0], first[0])
    assert sorted(r["job"] for r in again[-1]) == sorted(
        tos.Job(1.0, f, s).describe() for f in (0, 1) for s in (tos.REAL, "psth"))
    line = _common.measured_on(_common.run_machine(spec, again[-1]), 30.0)
    assert "wall time 0.5 min, besides 4 jobs resumed from earlier runs" in line
    commit = source_revision()
    assert (f"computed at commit {commit})" in line) if commit else (
        "computed at" not in line)


def test_one_se_choices_read_from_a_run_are_those_of_a_run_with_the_rule(tmp_path):
    from eag_augment.pipelines import load_predictions, run

    raw = {"name": "rule", "n_jobs": 1,
           "dataset": {"kind": "synthetic_reach", "n_trials": 120, "n_neurons": 16,
                       "n_heldout": 2, "random_state": 0, "rebin_ms": 20},
           "split": {"kind": "blocked", "n_folds": 4},
           "generators": {"psth": {"class": "PSTHPoissonGenerator"}},
           "augmenters": {"none": {"ratio": 0}, "psth": {"generator": "psth", "ratio": 2}},
           "decoders": {"ridge": {"class": "RidgeDecoder", "alpha": 100.0, "lags": 2}},
           "sweep": {"train_fraction": [0.3], "seeds": 3},
           "tuning": {"cv_folds": 2, "ratios": [0, 1, 2], "fixed": False,
                      "param_grids": {"ridge": {"alpha": [1.0, 100.0]}}},
           "figures": {"rasters": False, "statistics": False, "trajectories": False,
                       "scores": False}}
    best = run(load_spec({**raw, "output": str(tmp_path / "best")}), verbose=0)
    rule = run(load_spec({**raw, "output": str(tmp_path / "rule"),
                          "tuning": {**raw["tuning"], "selection": "one_se"}}), verbose=0)
    predictions, _ = load_predictions(best.output / "predictions.npz")
    derived, added, left_out = selection_rule.one_se_pipelines(best.rows, predictions)
    ran = rule.rows[rule.rows.augmenter == "psth"].sort_values("seed")
    derived = derived.sort_values("seed")
    assert left_out == 0 and len(derived) == 3
    np.testing.assert_array_equal(derived["ratio"], ran["ratio"])
    np.testing.assert_array_equal(derived["r2"], ran["r2"])
    # This run has a fold where the run's rule augments and the one-SE rule does not.
    assert (derived["ratio"].to_numpy() < best.rows[best.rows.augmenter == "psth"]
            .sort_values("seed")["ratio"].to_numpy()).any()
    assert len(added) == 3


def test_variability_rows_of_real_and_generated_trials(tiny_reach, tmp_path):
    spec = _spec({"psth": {"generator": "psth", "ratio": 1, "condition": "velocity"},
                  "jitter": {"generator": "jitter", "ratio": 1, "condition": "velocity"}})
    rows = variability.measure(spec, tiny_reach, None, 1.0, 0)
    by_set = {r["set"]: r for r in rows}
    assert list(by_set) == ["real (training)", "real (test)", "psth", "jitter"]
    # Poisson draws around real counts add the counts' mean to their variance.
    assert by_set["jitter"]["fano_median"] > by_set["real (training)"]["fano_median"] + 0.5
    assert by_set["psth"]["dispersion_median"] == pytest.approx(0, abs=1e-12)
    assert by_set["psth"]["dispersion_test_median"] == pytest.approx(0, abs=1e-12)
    assert variability.figure(rows, tmp_path / "v.png").stat().st_size > 0
    assert "| 100% | 0 | jitter |" in variability.markdown("v", rows, _common.machine(), 1.0)


def test_copy_index_is_one_for_copies_of_the_source_trials_and_near_zero_for_fresh_ones():
    from eag_augment.trials import TrialSet

    rng = np.random.default_rng(0)
    velocity = rng.normal(size=(40, 10, 2))
    train = TrialSet(rng.poisson(1.0, (40, 10, 6)), velocity, bin_ms=50)
    inferred = rng.gamma(2.0, 0.5, size=(40, 10, 6))
    order = rng.permutation(40)
    keep = np.ones(6, dtype=bool)
    assert variability.copy_index(inferred[order], velocity[order], inferred, train,
                                  keep) > 0.97   # not 1: the shuffled set's CV folds differ
    fresh = rng.gamma(2.0, 0.5, size=(40, 10, 6))
    assert abs(variability.copy_index(fresh, velocity[order], inferred, train, keep)) < 0.1


def test_markdown_tables_take_column_names_that_are_not_identifiers():
    df = pd.DataFrame({"decoder": ["ridge", "gru"], "eag (labelled only)": ["+0.010", None]})
    table = decoding_gain.md_table(df, {"decoder": "decoder",
                                        "eag (labelled only)": "EAG (labelled only)"})
    assert table.splitlines()[2:] == ["| ridge | +0.010 |", "| gru |  |"]


def test_paper_preset_comparison_pairs_each_pipeline_with_every_rival():
    import paper_preset
    rng = np.random.default_rng(0)
    targets = [rng.normal(size=(30, 20, 2)) for _ in range(5)]
    noisy = [y + rng.normal(scale=0.5, size=y.shape) for y in targets]
    worse = [y + rng.normal(scale=1.0, size=y.shape) for y in targets]
    rivals = {("none tuned", "ridge"): noisy, ("none tuned", "gru"): worse,
              ("none fixed", "ridge"): worse, ("eag fixed", "ridge"): noisy}
    rows = paper_preset.comparisons({("4000 steps", 1.0, "ridge"): targets}, rivals, targets)
    by = {r["versus"]: r for r in rows}
    assert set(by) == {"tuned baseline (same decoder)", "best tuned baseline (ridge)",
                       "fixed baseline (same decoder)", "spec EAG, fixed (same decoder)"}
    assert all(r["r2"] == pytest.approx(1.0) for r in rows)
    # A perfect pipeline beats every rival, most of all the worse one.
    assert all(r["diff_low"] > 0 for r in rows)
    assert by["fixed baseline (same decoder)"]["diff"] > by["tuned baseline (same decoder)"]["diff"]


def test_merge_renames_an_augmenter_so_a_variant_meets_the_standard_run(tmp_path):
    rows = pd.DataFrame([{"train_fraction": 0.1, "seed": 0, "augmenter": "eag",
                          "decoder": "ridge", "mode": "tuned", "test_set": "test", "r2": 1.0}])
    predictions = {(0.1, 0, "eag", "ridge", "tuned", "test"): np.ones((2, 3, 2))}
    other = _run_dir(tmp_path / "other", [(0.1, "none"), (0.1, "eag")], 2.0, 60.0)
    source = decoding_gain.merge_source(f"{other}:eag=eag_spec")
    merged, preds, _ = decoding_gain.merge_runs(rows, predictions, 30.0, [source])
    assert sorted(merged.augmenter) == ["eag", "eag_spec", "none"]
    assert preds[(0.1, 0, "eag", "ridge", "tuned", "test")].max() == 1.0
    assert preds[(0.1, 0, "eag_spec", "ridge", "tuned", "test")].max() == 2.0
    with pytest.raises(argparse.ArgumentTypeError, match="AUG=NAME"):
        decoding_gain.merge_source(f"{other}:eag")


# ------------------------------------------------------------------ decoding gain --join
def _published(path: Path, pairs: list[tuple[float, str]], value: float, dataset: str = "m1",
               split: dict | None = None) -> Path:
    """A result file as decoding_gain.py writes it: a comparison and a row per (fraction,
    augmenter), EAG against each rival at each fraction."""
    comp = [{"test_set": "test", "train_fraction": f, "decoder": "ridge", "augmenter": a,
             "mode": "tuned", "r2": value, "diff": value} for f, a in pairs]
    rows = [{"train_fraction": f, "seed": 0, "augmenter": a, "decoder": "ridge",
             "mode": "tuned", "test_set": "test", "r2": value, "ratio": 4.0} for f, a in pairs]
    versus = [{"train_fraction": f, "decoder": "ridge", "versus": a, "diff": value}
              for f, a in pairs if a != "eag"]
    path.write_text(json.dumps({
        "benchmark": "decoding_gain", "dataset": dataset,
        "spec": {"split": split or {"kind": "blocked", "n_folds": 5, "gap": 1}},
        "machine": {"commit": "abc1234", "date": "2026-11-27 10:00", "command": "x"},
        "wall_s": 3600.0 * value, "comparison": comp, "eag_versus": versus, "rows": rows}))
    return path


def test_join_adds_the_pairs_a_run_lacks_and_pairs_eag_only_within_one_file(tmp_path):
    split = {"kind": "blocked", "n_folds": 5, "gap": 1}
    mine = [(0.25, "none"), (0.25, "diffusion"), (1.0, "eag")]
    rows = pd.DataFrame([{"train_fraction": f, "seed": 0, "augmenter": a, "decoder": "ridge",
                          "mode": "tuned", "test_set": "test", "r2": 0.9} for f, a in mine])
    comparison = rows.assign(diff=0.9)[["test_set", "train_fraction", "decoder", "augmenter",
                                        "mode", "r2", "diff"]]
    first = _published(tmp_path / "a.json", [(0.05, "none"), (0.05, "eag"),
                                             (0.25, "none"), (0.25, "eag"), (1.0, "eag")], 0.5)
    second = _published(tmp_path / "b.json", [(0.05, "eag"), (0.05, "jitter")], 0.7)
    tables, joined_rows, joined = decoding_gain.join_results(
        {"comparison": comparison, "eag_versus": pd.DataFrame()}, rows, split, "m1",
        [first, second])
    comp = tables["comparison"].set_index(["train_fraction", "augmenter"]).r2.to_dict()
    # This run keeps its pairs; the first file gives 5 % none and EAG and 25 % EAG; the
    # second only 5 % jitter.
    assert comp == {(0.05, "none"): 0.5, (0.05, "eag"): 0.5, (0.05, "jitter"): 0.7,
                    (0.25, "none"): 0.9, (0.25, "diffusion"): 0.9, (0.25, "eag"): 0.5,
                    (1.0, "eag"): 0.9}
    assert len(joined_rows) == len(comp)
    # EAG against a rival only where one file holds both: 5 % none (the first file); not
    # 25 % none (this run's), not 5 % jitter (EAG came from the first file).
    versus = tables["eag_versus"]
    assert list(zip(versus.train_fraction, versus.versus)) == [(0.05, "none")]
    assert joined[0]["pairs"] == [[0.05, "eag"], [0.05, "none"], [0.25, "eag"]]
    assert joined[1]["pairs"] == [[0.05, "jitter"]]
    # The first file's 25 % baseline is not this run's: the page says so.
    assert (joined[0]["reproduced"], joined[0]["differs"]) == ([], [[0.25, "none"]])
    # Each source's own wall time travels with it: the page's covers only its own runs.
    assert [j["wall_s"] for j in joined] == [1800.0, 2520.0]
    assert decoding_gain._pairs_text(joined[0]["pairs"]) == "5%: eag, none; 25%: eag"


@pytest.mark.parametrize("eag_r2, versus, reproduced, differs", [
    (0.5, [(0.05, "jitter")], [[0.05, "eag"], [0.05, "none"]], []),
    (0.6, [], [[0.05, "none"]], [[0.05, "eag"]])])
def test_join_pairs_eag_with_a_joined_rival_only_where_this_run_reproduces_the_files_eag(
        tmp_path, eag_r2, versus, reproduced, differs):
    split = {"kind": "blocked", "n_folds": 5, "gap": 1}
    rows = pd.DataFrame([{"train_fraction": 0.05, "seed": 0, "augmenter": a, "decoder": "ridge",
                          "mode": "tuned", "test_set": "test", "r2": r2}
                         for a, r2 in (("none", 0.5), ("eag", eag_r2))])
    comparison = rows.assign(diff=0.0)[["test_set", "train_fraction", "decoder", "augmenter",
                                        "mode", "r2", "diff"]]
    source = _published(tmp_path / "a.json", [(0.05, "none"), (0.05, "eag"),
                                              (0.05, "jitter")], 0.5)
    tables, _, joined = decoding_gain.join_results(
        {"comparison": comparison, "eag_versus": pd.DataFrame()}, rows, split, "m1", [source])
    # EAG - none: both pipelines are this run's, so the file's row is not needed.
    got = tables["eag_versus"]
    assert list(zip(got.train_fraction, got.versus)) == versus
    assert (joined[0]["reproduced"], joined[0]["differs"]) == (reproduced, differs)


@pytest.mark.parametrize("kwargs, message", [({"dataset": "synthetic"}, "not a decoding_gain"),
                                             ({"split": {"kind": "kfold"}}, "other folds")])
def test_join_refuses_results_of_another_dataset_or_other_folds(tmp_path, kwargs, message):
    rows = pd.DataFrame({"train_fraction": [1.0], "augmenter": ["none"]})
    source = _published(tmp_path / "a.json", [(0.1, "none")], 0.5, **kwargs)
    with pytest.raises(SystemExit, match=message):
        decoding_gain.join_results({"comparison": pd.DataFrame(),
                                    "eag_versus": pd.DataFrame()}, rows,
                                   {"kind": "blocked", "n_folds": 5, "gap": 1}, "m1", [source])


def test_an_augmenter_keeps_its_colour_on_every_page_and_new_names_get_distinct_ones():
    first = _common.augmenter_colours(["none", "eag", "jitter"])
    second = _common.augmenter_colours(["eag_angle", "jitter", "oracle", "eag", "eag_spec"])
    assert first["eag"] == second["eag"] and first["jitter"] == second["jitter"]
    assert first["none"] == "k"
    many = _common.augmenter_colours(["eag", *[f"variant{k}" for k in range(12)]])
    assert len({str(c) for c in many.values()}) == len(many)


# ------------------------------------------------------------------ hardware spread
def test_hardware_spread_pairs_only_the_jobs_both_machines_saved(tmp_path, monkeypatch):
    from eag_augment.pipelines.job_store import JobStore
    from eag_augment.pipelines.runner import Job

    raw = {"name": "tiny", "sweep": {"seeds": 3}}

    def save(folder, seed, r2, alpha=1):
        rows = [{"train_fraction": 1.0, "seed": seed, "augmenter": "none", "decoder": "gru",
                 "mode": mode, "test_set": "test", "r2": r2 + shift,
                 "params": params}
                for mode, shift, params in (("tuned", 0.0, f'{{"alpha": {alpha}}}'),
                                            ("fixed", -0.1, None))]
        JobStore(folder, raw).save({"job": Job(1.0, seed, "none"), "rows": rows, "wall_s": 1.0})

    for seed in (0, 1):
        save(tmp_path / "a", seed, 0.80)
    save(tmp_path / "b", 0, 0.81, alpha=10)  # tuning chose another setting on machine B
    save(tmp_path / "b", 1, 0.83)
    save(tmp_path / "b", 2, 0.5)  # ran on machine B only
    pairs = hardware_spread.paired_jobs(tmp_path / "a", tmp_path / "b")
    summary = hardware_spread.summarise(hardware_spread.differences(pairs))
    assert [(r.augmenter, r.mode, r.n) for r in summary.itertuples()] == [
        ("none", "tuned", 2), ("none", "fixed", 2)]
    tuned = summary.set_index("mode").loc["tuned"]
    assert tuned.mean_b == pytest.approx(0.82) and tuned.mean_diff == pytest.approx(0.02)
    assert tuned.max_abs == pytest.approx(0.03)
    assert tuned.same == 1 and np.isnan(summary.set_index("mode").same["fixed"])
    (tmp_path / "c").mkdir()
    with pytest.raises(SystemExit, match="share no job"):
        hardware_spread.paired_jobs(tmp_path / "a", tmp_path / "c")
    monkeypatch.setattr(sys, "argv", ["hardware_spread.py", *(str(tmp_path / m) for m in "abb"),
                                      "--name", "t", "--out", str(tmp_path / "out")])
    hardware_spread.main()
    page = (tmp_path / "out" / "hardware_spread_t.md").read_text()
    assert "- B: " in page and "- C: " in page and "| C | none | gru | tuned | 2 |" in page


def test_a_sweep_of_the_baseline_alone_reports_without_a_gains_figure(tmp_path):
    assert decoding_gain.main([
        "--quick", "--out", str(tmp_path), "--threads", "1", "--set", "sweep.seeds=2",
        "--set", 'sweep.augmenters=["none"]', "--set", f'output="{tmp_path / "run"}"']) == 0
    written = json.loads((tmp_path / "decoding_gain_synthetic_quick.json").read_text())
    assert set(written["figures"]) == {"curves"}
    assert {r["augmenter"] for r in written["rows"]} == {"none"}


def _one_fraction_panel(tmp_path, monkeypatch, values: dict[str, float], zero_line: bool):
    """The GRU panel that ``_panels`` draws for one fraction (100 %), the figure closed."""
    import matplotlib.pyplot as plt

    drawn = []
    with monkeypatch.context() as m:
        m.setattr(plt, "close", drawn.append)
        decoding_gain._panels(
            pd.DataFrame({"mode": "tuned", "test_set": "test", "decoder": "gru",
                          "train_fraction": 1.0, "augmenter": list(values),
                          "v": list(values.values())}).assign(
                lo=lambda d: d.v - 0.01, hi=lambda d: d.v + 0.01),
            "v", "lo", "hi", tmp_path / "panel.png", "R^2", "t", zero_line=zero_line)
    plt.close(drawn[0])
    return drawn[0].axes[0]


def test_gains_of_one_fraction_sit_around_its_tick(tmp_path, monkeypatch):
    ax = _one_fraction_panel(tmp_path, monkeypatch, {"eag": 0.03, "jitter": 0.05}, True)
    xs = [bars.lines[0].get_xdata()[0] for bars in ax.containers]
    low, high = ax.get_xlim()
    assert np.mean(xs) == pytest.approx(100.0)
    assert low < min(xs) - 1 and max(xs) + 1 < high


def test_best_decoder_line_is_visible_in_a_single_fraction_curve(tmp_path, monkeypatch):
    ax = _one_fraction_panel(tmp_path, monkeypatch, {"none": 0.89, "eag": 0.92}, False)
    [best] = [ln for ln in ax.lines if ln.get_label().startswith("best decoder")]
    assert len(set(best.get_xdata())) > 1
    assert set(best.get_ydata()) == {0.89}


@pytest.mark.parametrize("module, name, figures", [
    (decoding_gain, "decoding_gain_synthetic_medium_f50", ["curves", "gains"]),
    (uc, "unseen_conditions_synthetic_medium", ["check", "gains"]),
    (label_scarce, "label_scarce_m1", ["gains"])])
def test_redraw_draws_a_published_result_beside_its_json_and_refuses_another(
        tmp_path, capsys, module, name, figures):
    published = tmp_path / f"{name}.json"
    published.write_text((_common.RESULTS / f"{name}.json").read_text())
    assert module.main(["--redraw", str(published)]) == 0
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"{name}_{f}.png" for f in figures]
    said = capsys.readouterr().out
    assert said.startswith("wrote ") and all(f"{name}_{f}.png" in said for f in figures)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"benchmark": "seed_spread"}))
    with pytest.raises(SystemExit, match="not a"):
        module.main(["--redraw", str(other)])


def test_label_scarce_redraw_of_a_result_without_augmentation_draws_nothing(tmp_path, capsys):
    saved = json.loads((_common.RESULTS / "label_scarce_m1.json").read_text())
    saved["comparison"] = [r for r in saved["comparison"] if r["augmenter"] == "none"]
    published = tmp_path / "label_scarce_none.json"
    published.write_text(json.dumps(saved))
    assert label_scarce.main(["--redraw", str(published)]) == 0
    assert not list(tmp_path.glob("*.png"))
    assert capsys.readouterr().out.strip() == "nothing augmented: no figure to draw"


def test_label_scarce_offers_no_join_it_would_ignore(tmp_path, capsys):
    with pytest.raises(SystemExit):
        label_scarce.main(["--join", str(tmp_path / "decoding_gain_m1.json")])
    assert "unrecognized arguments: --join" in capsys.readouterr().err


def test_stronger_baseline_names_the_old_and_new_baselines_and_each_augmenters_best():
    new = stronger_baseline.NEW

    def row(decoder, augmenter, r2, diff_best=0.0, low=0.0, high=0.0):
        return {"test_set": "test", "train_fraction": 0.1, "decoder": decoder,
                "augmenter": augmenter, "mode": "tuned", "r2": r2, "best_decoder": new,
                "diff_best": diff_best, "diff_best_low": low, "diff_best_high": high}

    table = pd.DataFrame([row("kalman", "none", 0.70), row("gru", "none", 0.65),
                          row(new, "none", 0.84), row("gru", "eag", 0.82, -0.02, -0.04, -0.01),
                          row("ridge", "eag", 0.60, -0.24, -0.30, -0.20),
                          row("gru", "jitter", 0.83, -0.01, -0.03, +0.01)])
    short = stronger_baseline.summary(table).iloc[0]
    assert short.old == "kalman 0.700" and short.new == f"{new} 0.840" and short.best == new
    assert short.eag == "gru 0.820: **-0.020 [-0.040, -0.010]**"  # the interval excludes 0
    assert short.jitter == "gru 0.830: -0.010 [-0.030, +0.010]"
