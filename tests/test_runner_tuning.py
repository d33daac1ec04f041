"""Runs with tuned pipelines: blocked outer folds, [tuning], saved predictions, the comparison."""

import json

import numpy as np
import pandas as pd
import pytest

from eag_augment.pipelines import (SpecError, compare, fold_split, load_predictions, load_spec,
                                   run, training_subset)
from eag_augment.trials import TrialSet


def _spec(tmp_path, **changes) -> dict:
    spec = {
        "name": "tuned", "output": str(tmp_path / "out"), "n_jobs": 1,
        "dataset": {"kind": "synthetic_reach", "n_trials": 120, "n_neurons": 16, "n_heldout": 2,
                    "random_state": 0, "rebin_ms": 20},
        "split": {"kind": "blocked", "n_folds": 4},
        "generators": {"psth": {"class": "PSTHPoissonGenerator"}},
        "augmenters": {"none": {"ratio": 0}, "psth": {"generator": "psth", "ratio": 2}},
        "decoders": {"ridge": {"class": "RidgeDecoder", "alpha": 100.0, "lags": 2}},
        "sweep": {"train_fraction": [0.3], "seeds": 2},
        "tuning": {"cv_folds": 2, "ratios": [0, 1, 2],
                   "param_grids": {"ridge": {"alpha": [1.0, 100.0]}}},
        "figures": {"rasters": False, "statistics": False, "trajectories": False,
                    "scores": False},
    }
    for key, value in changes.items():
        spec[key] = value
    return spec


def _windows(n=50) -> TrialSet:
    rng = np.random.default_rng(0)
    return TrialSet(rng.poisson(1.0, (n, 4, 3)), rng.normal(size=(n, 4, 2)),
                    pd.DataFrame({"start_ms": 200.0 * np.arange(n)[::-1]}), bin_ms=50)


def test_blocked_folds_test_on_disjoint_blocks_and_train_on_what_follows():
    trials = _windows()
    config = {"kind": "blocked", "n_folds": 5, "gap": 1}
    tested = []
    for fold in range(5):
        pool, tests = fold_split(trials, config, fold)
        test_t = tests["test"].conditions["start_ms"].to_numpy()
        pool_t = pool.conditions["start_ms"].to_numpy()
        assert np.all(np.diff(np.sort(test_t)) == 200)                 # one contiguous block
        assert np.abs(pool_t[:, None] - test_t[None, :]).min() > 200    # a window of gap
        segment = training_subset(pool, 0.2, fold, "leading")
        seg_t = segment.conditions["start_ms"].to_numpy()
        if fold < 4:     # the segment starts right after the test block (and the gap)
            assert seg_t.min() == test_t.max() + 2 * 200
        tested.extend(test_t)
    assert sorted(tested) == sorted(trials.conditions["start_ms"])


def test_segments_of_different_folds_do_not_overlap_up_to_one_block():
    trials = _windows()
    config = {"kind": "blocked", "n_folds": 5, "gap": 1}
    segments = [set(training_subset(fold_split(trials, config, k)[0], 0.2, k, "leading")
                    .conditions["start_ms"]) for k in range(5)]
    for i in range(5):
        for j in range(i + 1, 5):
            assert not segments[i] & segments[j]


def test_a_tuned_run_reports_fixed_and_tuned_rows_predictions_and_intervals(tmp_path):
    result = run(load_spec(_spec(tmp_path)), verbose=0)
    rows = result.rows
    assert set(rows["mode"]) == {"fixed", "tuned"}
    assert len(rows) == 2 * 2 * 2                     # seeds x augmenters x modes
    tuned = rows[rows["mode"] == "tuned"]
    assert all(json.loads(p)["alpha"] in (1.0, 100.0) for p in tuned["params"])
    assert set(tuned[tuned.augmenter == "none"]["ratio"]) == {0.0}
    assert tuned[tuned.augmenter == "none"]["inner_gain"].isna().all()
    psth = tuned[tuned.augmenter == "psth"]
    assert np.isfinite(psth[["inner_r2", "inner_gain", "inner_gain_se"]].to_numpy()).all()
    assert ((psth["ratio"] > 0) == (psth["inner_gain"] > 0)).all()
    predictions, targets = load_predictions(result.output / "predictions.npz")
    assert len(predictions) == len(rows) and set(targets) == {(0, "test"), (1, "test")}
    # The comparison's point estimates are the rows' R^2 averaged over seeds.
    comp = result.comparison.set_index(["augmenter", "mode"])
    for (aug, mode), group in rows.groupby(["augmenter", "mode"]):
        assert comp.loc[(aug, mode), "r2"] == pytest.approx(group["r2"].mean())
    assert comp.loc[("none", "tuned"), "diff"] == 0
    assert (comp.r2_low <= comp.r2).all() and (comp.r2 <= comp.r2_high).all()
    saved = json.loads((result.output / "results.json").read_text())
    assert saved["machine"]["cpu"] and saved["machine"]["torch_threads"] >= 1
    assert "Baseline to beat: ridge tuned" in (result.output / "summary.md").read_text()


def test_one_se_selection_augments_only_where_the_inner_gain_clears_its_standard_error(tmp_path):
    tuning = {**_spec(tmp_path)["tuning"], "selection": "one_se"}
    rows = run(load_spec(_spec(tmp_path, tuning=tuning)), verbose=0).rows
    psth = rows[(rows["mode"] == "tuned") & (rows.augmenter == "psth")]
    assert ((psth["ratio"] > 0) == (psth["inner_gain"] > psth["inner_gain_se"])).all()


def test_compare_recomputes_the_same_table_from_saved_predictions(tmp_path):
    result = run(load_spec(_spec(tmp_path)), verbose=0)
    predictions, targets = load_predictions(result.output / "predictions.npz")
    again = compare(result.rows, predictions, targets)
    pd.testing.assert_frame_equal(again, result.comparison)


@pytest.mark.parametrize(("changes", "match"), [
    ({"split": {"kind": "blocked", "n_folds": 1}}, "n_folds must be >= 2"),
    ({"split": {"kind": "blocked", "subset": "random"}}, 'subset = "leading"'),
    ({"split": {"kind": "random", "gap": 1}}, "belong to kind"),
    ({"sweep": {"seeds": 6}}, "seeds are the outer folds 0..3"),
    ({"tuning": {"cv_folds": 1}}, "cv_folds must be >= 2"),
    ({"tuning": {"ratios": [0, -1]}}, "ratios must be a non-empty list of numbers >= 0"),
    ({"tuning": {"param_grids": {"ridge": {"alfa": [1.0]}}}}, "no parameter 'alfa'"),
    ({"tuning": {"param_grids": {"gru": {"dropout": [0.1]}}}}, r"\['gru'\] are not decoders"),
    ({"tuning": {"n_iter": 0}}, "n_iter must be >= 1"),
    ({"tuning": {"speed": 1}}, "unknown key 'speed'"),
    ({"tuning": {"selection": "1se"}}, "selection must be one of 'best', 'one_se'"),
])
def test_bad_blocked_or_tuning_settings_are_refused_at_load(tmp_path, changes, match):
    with pytest.raises(SpecError, match=match):
        load_spec(_spec(tmp_path, **changes))


def test_narrowing_the_swept_decoders_keeps_the_grids_of_the_others_valid(tmp_path):
    spec = _spec(tmp_path, decoders={
        "ridge": {"class": "RidgeDecoder", "alpha": 100.0, "lags": 2},
        "gru": {"class": "GRUDecoder", "hidden_size": 8}})
    spec["tuning"]["param_grids"]["gru"] = {"dropout": [0.0, 0.3]}
    spec["sweep"]["decoders"] = ["ridge"]
    loaded = load_spec(spec)
    assert loaded.decoder_names == ["ridge"]
    assert loaded.tuning["param_grids"] == {"ridge": {"alpha": [1.0, 100.0]}}
    # A misspelt parameter of an unswept decoder is still an error.
    spec["tuning"]["param_grids"]["gru"] = {"dropuot": [0.0]}
    with pytest.raises(SpecError, match="no parameter 'dropuot'"):
        load_spec(spec)
