"""model_selection: blocked folds, the velocity-R^2 scorer, tuned pipelines, bootstrap intervals."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from eag_augment import SyntheticAugmenter
from eag_augment.datasets import make_synthetic_reach
from eag_augment.decoders import GRUDecoder, KalmanFilterDecoder, RidgeDecoder
from eag_augment.generators import PSTHPoissonGenerator
from eag_augment.metrics import velocity_r2
from eag_augment.model_selection._tuning import _choose, _synthetic_pools
from eag_augment.model_selection import (BlockedKFold, TunedPipeline, bootstrap_r2,
                                         default_search_space, tune_decoders, tuned_pipeline,
                                         velocity_r2_scorer)

FITTED: list[set] = []  # the trials every SpyGenerator was fitted on


class SpyGenerator(PSTHPoissonGenerator):
    """PSTH-Poisson generator that records the trials it is fitted on."""

    def _fit(self, trials, rng):
        FITTED.append({t.tobytes() for t in trials.spikes})
        super()._fit(trials, rng)


class NoiseGenerator(PSTHPoissonGenerator):
    """Trials of pure noise: Poisson spikes at random rates, unrelated to the velocity."""

    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator, **kw):
        rates = torch.rand(n_trials, self.n_bins_, self.n_neurons_, generator=generator) * 3
        return rates.numpy(), None


@pytest.fixture
def reach(tiny_reach):
    return tiny_reach[:32], tiny_reach[32:]


# ----------------------------------------------------------------------- BlockedKFold
def test_blocked_folds_are_contiguous_cover_every_sample_once_and_keep_the_gap():
    X = np.zeros((23, 5, 2))
    seen = []
    for train, val in BlockedKFold(n_splits=4, gap=2).split(X):
        assert np.array_equal(val, np.arange(val[0], val[-1] + 1))
        distance = np.abs(train[:, None] - val[None, :]).min()
        assert distance > 2
        assert set(train) | set(val) | set(range(val[0] - 2, val[-1] + 3)) >= set(range(23))
        seen.extend(val)
    assert sorted(seen) == list(range(23))


def test_blocked_kfold_with_no_gap_is_unshuffled_kfold():
    X = np.zeros((17, 3))
    ours = [(tuple(a), tuple(b)) for a, b in BlockedKFold(5, gap=0).split(X)]
    theirs = [(tuple(a), tuple(b)) for a, b in KFold(5).split(X)]
    assert ours == theirs


@pytest.mark.parametrize(("splitter", "match"), [
    (BlockedKFold(n_splits=1), r"'n_splits' parameter of BlockedKFold .* Got 1"),
    (BlockedKFold(gap=-1), r"'gap' parameter of BlockedKFold .* Got -1"),
    (BlockedKFold(n_splits=2.5), r"'n_splits' parameter .* Got 2.5"),
    (BlockedKFold(n_splits=8), "cannot make n_splits=8 folds of 5 samples"),
    (BlockedKFold(n_splits=2, gap=3), "gap=3 leaves no training sample"),
])
def test_blocked_kfold_rejects_bad_settings(splitter, match):
    with pytest.raises(ValueError, match=match):
        list(splitter.split(np.zeros((5, 2))))


# ------------------------------------------------------------------------------ scorer
def test_scorer_is_the_decoders_velocity_r2_and_works_in_sklearn_tools(reach):
    train, test = reach
    dec = RidgeDecoder(alpha=10.0, lags=2).fit(train.spikes, train.behavior)
    assert velocity_r2_scorer(dec, test.spikes, test.behavior) == pytest.approx(
        dec.score(test.spikes, test.behavior))
    scores = cross_val_score(RidgeDecoder(lags=2), train.spikes, train.behavior,
                             cv=BlockedKFold(4), scoring=velocity_r2_scorer)
    assert scores.shape == (4,) and np.all(scores < 1)


# ---------------------------------------------------------------------- tuned pipeline
def test_tuned_baseline_chooses_what_grid_search_chooses(reach):
    train, test = reach
    grid = {"alpha": [0.1, 10.0, 1000.0, 1e5]}
    ours = tuned_pipeline(RidgeDecoder(lags=2), param_grid=grid, cv=4).fit(
        train.spikes, train.behavior)
    theirs = GridSearchCV(RidgeDecoder(lags=2), grid, cv=KFold(4),
                          scoring=velocity_r2_scorer).fit(train.spikes, train.behavior)
    assert ours.best_params_ == {"ratio": 0.0, **theirs.best_params_}
    assert ours.best_score_ == pytest.approx(theirs.best_score_)
    assert ours.score(test.spikes, test.behavior) == pytest.approx(
        theirs.score(test.spikes, test.behavior))
    assert ours.n_synthetic_ == 0 and ours.augmenter_ is None


def test_useless_synthetic_trials_leave_the_pipeline_at_ratio_zero(reach):
    train, test = reach
    baseline = tuned_pipeline(RidgeDecoder(lags=2), cv=4, random_state=0).fit(
        train.spikes, train.behavior)
    noisy = tuned_pipeline(RidgeDecoder(lags=2),
                           SyntheticAugmenter(NoiseGenerator(), bin_ms=10), ratios=(0, 1, 4),
                           cv=4, random_state=0).fit(train.spikes, train.behavior)
    assert noisy.best_params_ == baseline.best_params_
    assert noisy.score(test.spikes, test.behavior) == baseline.score(test.spikes, test.behavior)
    by_ratio = {r: noisy.cv_results_["mean_test_score"][noisy.cv_results_["ratio"] == r].max()
                for r in (0.0, 1.0, 4.0)}
    assert by_ratio[0.0] > by_ratio[1.0] > by_ratio[4.0]   # noise hurts, more of it more


AUGMENTATIONS = [(0.0, None), (1.0, None), (4.0, None)]


@pytest.mark.parametrize(("augmented", "one_se_augments"), [
    ([0.62, 0.58, 0.63], False),   # +0.01 on average, but one fold lost 0.04: noise
    ([0.61, 0.61, 0.61], True),    # +0.01 in every fold: the standard error is 0
])
def test_one_se_selection_augments_only_for_a_gain_beyond_fold_noise(augmented,
                                                                     one_se_augments):
    # (folds, augmentations, settings): ratio 0 scores 0.60 in every fold at its best setting.
    scores = np.full((3, 3, 2), 0.50)
    scores[:, 0, 1] = 0.60
    scores[:, 2, 0] = augmented
    assert _choose(scores, AUGMENTATIONS, "best") == (2, 0)
    assert _choose(scores, AUGMENTATIONS, "one_se") == ((2, 0) if one_se_augments else (0, 1))


def test_one_se_pipeline_stays_the_baseline_when_augmentation_wins_by_fold_noise(reach):
    train, test = reach
    kwargs = dict(param_grid={"alpha": [1.0, 100.0, 1e4]}, ratios=(0, 1, 4), cv=4,
                  random_state=2)
    aug = SyntheticAugmenter(PSTHPoissonGenerator(), bin_ms=10)
    best = tuned_pipeline(RidgeDecoder(lags=2), aug, **kwargs).fit(train.spikes, train.behavior)
    safe = tuned_pipeline(RidgeDecoder(lags=2), aug, selection="one_se", **kwargs).fit(
        train.spikes, train.behavior)
    alone = tuned_pipeline(RidgeDecoder(lags=2), **kwargs).fit(train.spikes, train.behavior)
    # On these trials the PSTH trials gain less in validation than the folds scatter.
    gain, se = safe.augmentation_gain_
    assert (gain, se) == best.augmentation_gain_ and 0 < gain < se
    assert best.best_params_["ratio"] > 0
    assert safe.best_params_ == alone.best_params_ and safe.n_synthetic_ == 0
    assert safe.cv_results_["params"][safe.best_index_] == safe.best_params_
    np.testing.assert_array_equal(safe.predict(test.spikes), alone.predict(test.spikes))
    assert np.isnan(alone.augmentation_gain_).all()


def test_generators_never_see_the_validation_trials_they_are_scored_on(reach):
    train, _ = reach
    FITTED.clear()
    cv = BlockedKFold(3, gap=0)
    pipe = tuned_pipeline(RidgeDecoder(lags=2), SyntheticAugmenter(SpyGenerator(), bin_ms=10),
                          param_grid={"alpha": [1.0, 100.0]}, ratios=(0, 1, 2), cv=cv,
                          random_state=0)
    pipe.fit(train.spikes, train.behavior)
    prints = [t.tobytes() for t in train.spikes]
    folds = list(cv.split(train.spikes))
    refit = 1 if pipe.best_params_["ratio"] > 0 else 0
    assert len(FITTED) == len(folds) + refit
    for fitted, (tr, va) in zip(FITTED, folds):
        assert fitted == {prints[i] for i in tr}
        assert not fitted & {prints[i] for i in va}
    if refit:
        assert FITTED[-1] == set(prints)


def test_smaller_ratios_use_balanced_nested_subsets_of_the_synthetic_trials(reach):
    train, _ = reach
    pipe = tuned_pipeline(RidgeDecoder(), SyntheticAugmenter(PSTHPoissonGenerator(), bin_ms=10))
    n = train.n_trials
    pools, _ = _synthetic_pools(pipe.augmenter, train.spikes, train.behavior, None, 2.5, [None], seed=0)
    X_syn, y_syn = pools[None]
    assert len(X_syn) == 3 * n
    # Conditions "match": every round of n synthetic trials uses each training trajectory once.
    for start in (0, n):
        rows = {r.tobytes() for r in y_syn[start:start + n]}
        assert rows == {r.tobytes() for r in train.behavior}


def test_search_results_are_reproducible_and_shaped_like_grid_search(reach):
    train, _ = reach
    make = lambda: tuned_pipeline(  # noqa: E731
        KalmanFilterDecoder(), SyntheticAugmenter(PSTHPoissonGenerator(), bin_ms=10),
        ratios=(0, 1), cv=3, n_iter=3, random_state=7)
    a = make().fit(train.spikes, train.behavior)
    b = clone(make()).fit(train.spikes, train.behavior)
    assert a.best_params_ == b.best_params_
    np.testing.assert_array_equal(a.cv_results_["mean_test_score"],
                                  b.cv_results_["mean_test_score"])
    res = a.cv_results_
    assert len(res["params"]) == 2 * 3 == len(res["mean_test_score"])
    assert sorted(res["rank_test_score"]) == list(range(1, 7))
    assert {"split0_test_score", "split2_test_score", "std_test_score"} <= set(res)
    best = res["params"][int(np.argmin(res["rank_test_score"]))]
    assert best == a.best_params_


def test_decoders_tuned_together_match_decoders_tuned_alone_with_fewer_generator_fits(reach):
    train, test = reach
    decoders = {"ridge": RidgeDecoder(lags=2), "kalman": KalmanFilterDecoder()}
    grids = {"ridge": {"alpha": [1.0, 100.0]}, "kalman": {"sqrt_counts": [False, True]}}
    aug = SyntheticAugmenter(SpyGenerator(), bin_ms=10)
    FITTED.clear()
    together = tune_decoders(decoders, aug, train.spikes, train.behavior, param_grids=grids,
                             ratios=(0, 1), cv=3, random_state=4)
    n_together = len(FITTED)
    for name, dec in decoders.items():
        alone = tuned_pipeline(dec, aug, param_grid=grids[name], ratios=(0, 1), cv=3,
                               random_state=4).fit(train.spikes, train.behavior)
        assert together[name].best_params_ == alone.best_params_
        np.testing.assert_allclose(together[name].predict(test.spikes),
                                   alone.predict(test.spikes))
    assert n_together <= 3 + 1 and len(FITTED) - n_together >= 2 * 3   # 3 inner folds


def test_guidance_scales_are_searched_for_ratios_above_zero(reach):
    train, _ = reach
    pipe = tuned_pipeline(RidgeDecoder(lags=2), SyntheticAugmenter(PSTHPoissonGenerator(),
                                                                   bin_ms=10),
                          param_grid={"alpha": [10.0]}, ratios=(0, 1), guidance_scales=(1, 2),
                          cv=2, random_state=0).fit(train.spikes, train.behavior)
    params = pipe.cv_results_["params"]
    assert params == [{"ratio": 0.0, "guidance_scale": None, "alpha": 10.0},
                      {"ratio": 1.0, "guidance_scale": 1.0, "alpha": 10.0},
                      {"ratio": 1.0, "guidance_scale": 2.0, "alpha": 10.0}]
    assert "guidance_scale" in pipe.best_params_


def test_the_gru_search_space_trains_and_reaches_the_decoder(reach):
    train, test = reach
    pipe = tuned_pipeline(GRUDecoder(max_epochs=3, hidden_size=8, device="cpu"),
                          param_grid={"dropout": [0.0, 0.3], "weight_decay": [0.0, 0.01]},
                          cv=2, random_state=0).fit(train.spikes, train.behavior)
    assert set(pipe.best_params_) == {"ratio", "dropout", "weight_decay"}
    assert pipe.best_estimator_.dropout == pipe.best_params_["dropout"]
    assert np.isfinite(pipe.score(test.spikes, test.behavior))


def test_default_search_spaces():
    ridge = default_search_space(RidgeDecoder())
    assert len(ridge["alpha"]) == 13 and ridge["lags"] == [1, 2, 3, 5, 10]
    assert set(default_search_space(GRUDecoder())) == {"hidden_size", "dropout",
                                                       "weight_decay", "patience"}
    with pytest.raises(ValueError, match="no default search space for GridSearchCV"):
        default_search_space(GridSearchCV(RidgeDecoder(), {}))


def test_the_default_ridge_search_finds_the_history_a_fixed_lag_misses():
    # Simulated reach at 20 ms: velocity depends on more spiking history than ridge's own
    # lags=1 sees; the default space must not leave that to the user.
    trials = make_synthetic_reach(120, random_state=0).rebin(20)
    train, test = trials[:40], trials[40:]
    default = tuned_pipeline(RidgeDecoder(), cv=3).fit(train.spikes, train.behavior)
    alpha_only = tuned_pipeline(RidgeDecoder(), param_grid={
        "alpha": default_search_space(RidgeDecoder())["alpha"]}, cv=3).fit(
        train.spikes, train.behavior)
    assert default.best_params_["lags"] > 1
    assert (default.score(test.spikes, test.behavior)
            > alpha_only.score(test.spikes, test.behavior) + 0.05)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"param_grid": {"alfa": [1.0]}}, ValueError, r"param_grid names \['alfa'\]"),
    ({"ratios": (0, -1)}, ValueError, "ratios must be finite numbers >= 0"),
    ({"cv": "five"}, ValueError, r"'cv' parameter of TunedPipeline"),
    ({"n_iter": 0}, ValueError, r"'n_iter' parameter of TunedPipeline .* Got 0"),
    ({"selection": "1se"}, ValueError, r"'selection' parameter of TunedPipeline .*'one_se'"),
    ({"augmenter": SyntheticAugmenter(PSTHPoissonGenerator(), prefit=True)}, ValueError,
     "prefit"),
    ({"decoder": "ridge"}, TypeError, r"'decoder' parameter of TunedPipeline"),
])
def test_bad_settings_are_refused_before_any_fit(reach, kwargs, error, match):
    train, _ = reach
    kwargs = {"decoder": RidgeDecoder(), **kwargs}
    pipe = TunedPipeline(kwargs.pop("decoder"), kwargs.pop("augmenter", None), **kwargs)
    if "ratios" in kwargs:
        pipe.set_params(augmenter=SyntheticAugmenter(PSTHPoissonGenerator()))
    with pytest.raises(error, match=match):
        pipe.fit(train.spikes, train.behavior)


# ----------------------------------------------------------------------------- bootstrap
def _segments(seed=0, n=3):
    rng = np.random.default_rng(seed)
    ys = [rng.normal(size=(25 + 5 * s, 8, 2)) for s in range(n)]
    good = [y + 0.5 * rng.normal(size=y.shape) for y in ys]
    bad = [y + 0.8 * rng.normal(size=y.shape) for y in ys]
    return ys, good, bad


def test_bootstrap_point_estimates_are_mean_segment_r2_and_intervals_cover_them():
    ys, good, bad = _segments()
    table = bootstrap_r2(ys, {"good": good, "bad": bad}, baseline="bad",
                         random_state=0).set_index("pipeline")
    expected = np.mean([velocity_r2(y, p) for y, p in zip(ys, good)])
    assert table.loc["good", "r2"] == pytest.approx(expected)
    for name in ("good", "bad"):
        assert table.loc[name, "r2_low"] < table.loc[name, "r2"] < table.loc[name, "r2_high"]
    assert table.loc["good", "diff_low"] > 0 and table.loc["good", "p_not_above"] == 0.0
    assert table.loc["bad", "diff"] == 0 and table.loc["bad", "diff_high"] == 0


def test_paired_differences_of_identical_predictions_are_zero_and_seeds_reproduce():
    ys, good, _ = _segments()
    a = bootstrap_r2(ys, {"a": good, "b": [g.copy() for g in good]}, baseline="b",
                     random_state=1)
    b = bootstrap_r2(ys, {"a": good, "b": good}, baseline="b", random_state=1)
    assert (a.diff_low == 0).all() and (a.diff_high == 0).all()
    np.testing.assert_array_equal(a.r2_low, b.r2_low)


def test_more_test_trials_narrow_the_interval():
    rng = np.random.default_rng(2)
    widths = []
    for n in (20, 500):
        ys = [rng.normal(size=(n, 8, 2)) for _ in range(3)]
        preds = [y + 0.7 * rng.normal(size=y.shape) for y in ys]
        t = bootstrap_r2(ys, {"p": preds}, shared_test=False, random_state=0)
        widths.append(float(t.r2_high[0] - t.r2_low[0]))
    assert widths[1] < widths[0] / 2


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda ys, p: bootstrap_r2(ys[0], {"p": p}), TypeError, "one test array"),
    (lambda ys, p: bootstrap_r2(ys, {"p": p[:2]}), ValueError, "has 2 segments, y_true has 3"),
    (lambda ys, p: bootstrap_r2(ys, {"p": p}, baseline="q"), ValueError, "baseline 'q'"),
    (lambda ys, p: bootstrap_r2(ys, {"p": p}, n_boot=0), ValueError, "'n_boot' parameter"),
    (lambda ys, p: bootstrap_r2(ys, {"p": p}, shared_test=True), ValueError,
     "same test trials"),
    (lambda ys, p: bootstrap_r2(ys, {"p": [q * np.nan for q in p]}), ValueError, "NaN"),
])
def test_bootstrap_rejects_bad_input(call, error, match):
    ys, good, _ = _segments()
    with pytest.raises(error, match=match):
        call(ys, good)
