"""Velocity decoders on trial tensors: accuracy on known relations, sklearn contract, errors."""

from __future__ import annotations

import ast
import math
import pickle
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest
import scipy.sparse
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import eag_augment.decoders as decoders_pkg
from eag_augment.decoders import (
    GRUDecoder,
    KalmanFilterDecoder,
    RidgeDecoder,
    WienerFilterDecoder,
)
from eag_augment.decoders._base import lag_trials
from eag_augment.provenance import mark_synthetic

LEAD = 5  # bins by which spikes lead velocity: 100 ms at 20 ms bins
N_NEURONS = 24
N_BINS = 40
_PREFERRED = np.random.default_rng(1234).uniform(-np.pi, np.pi, N_NEURONS)


def simulate_reaches(n_trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Centre-out reaches; Poisson spikes cosine-tuned to the velocity LEAD bins later."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_BINS + LEAD)
    angle = rng.uniform(-np.pi, np.pi, n_trials)
    onset = rng.uniform(6, 14, n_trials)
    speed = 30 * np.exp(-0.5 * ((t[None] - onset[:, None] - 10) / 4.0) ** 2)
    velocity = speed[..., None] * np.stack([np.cos(angle), np.sin(angle)], axis=-1)[:, None]
    tuning = np.stack([np.cos(_PREFERRED), np.sin(_PREFERRED)])
    rate = np.clip(2.0 + 0.08 * velocity[:, LEAD:] @ tuning, 0.0, None)
    return rng.poisson(rate), velocity[:, :N_BINS]


@pytest.fixture(scope="module")
def reaches():
    X, y = simulate_reaches(48, seed=0)
    X_test, y_test = simulate_reaches(24, seed=1)
    return X, y, X_test, y_test


def _gru(**kwargs) -> GRUDecoder:
    params = dict(hidden_size=16, lr=1e-2, max_epochs=15, batch_size=16, patience=5,
                  validation_fraction=0.2, device="cpu", random_state=0)
    params.update(kwargs)
    return GRUDecoder(**params)


DECODERS = {
    "ridge": lambda: RidgeDecoder(alpha=1.0, lags=8),
    "wiener": lambda: WienerFilterDecoder(lags=8),
    "kalman": lambda: KalmanFilterDecoder(observation_lag=LEAD, sqrt_counts=True),
    "gru": _gru,
}
MIN_R2 = {"ridge": 0.8, "wiener": 0.8, "kalman": 0.6, "gru": 0.6}


@pytest.fixture(scope="module")
def fitted(reaches):
    X, y, _, _ = reaches
    return {name: make().fit(X, y) for name, make in DECODERS.items()}


# ---------------------------------------------------------------- accuracy on known relations
@pytest.mark.parametrize("name", DECODERS)
def test_recovers_velocity_from_leading_spikes(name, fitted, reaches):
    _, _, X_test, y_test = reaches
    assert fitted[name].score(X_test, y_test) > MIN_R2[name]


def test_ridge_matches_sklearn_ridge_on_lagged_features(reaches):
    X, y, X_test, _ = reaches
    lags, alpha = 4, 30.0
    ours = RidgeDecoder(alpha=alpha, lags=lags).fit(X, y)
    flat = lag_trials(X, lags).reshape(-1, lags * N_NEURONS)
    ref = make_pipeline(StandardScaler(), Ridge(alpha=alpha)).fit(flat, y.reshape(-1, 2))
    expected = ref.predict(lag_trials(X_test, lags).reshape(-1, lags * N_NEURONS))
    np.testing.assert_allclose(ours.predict(X_test).reshape(-1, 2), expected, atol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wiener_is_least_squares_on_lagged_features(reaches, fit_intercept):
    X, y, X_test, _ = reaches
    ours = WienerFilterDecoder(lags=3, fit_intercept=fit_intercept).fit(X, y)
    flat = lag_trials(X, 3).reshape(-1, 3 * N_NEURONS)
    ref = LinearRegression(fit_intercept=fit_intercept).fit(flat, y.reshape(-1, 2))
    expected = ref.predict(lag_trials(X_test, 3).reshape(-1, 3 * N_NEURONS))
    np.testing.assert_allclose(ours.predict(X_test).reshape(-1, 2), expected, atol=1e-8)
    assert ours.coef_.shape == (3, N_NEURONS, 2)


def test_lags_zero_pad_the_start_of_each_trial():
    X = np.arange(1, 13, dtype=float).reshape(2, 3, 2)  # 2 trials, 3 bins, 2 neurons
    lagged = lag_trials(X, 2)
    np.testing.assert_array_equal(lagged[0, 0], [1, 2, 0, 0])
    np.testing.assert_array_equal(lagged[0, 2], [5, 6, 3, 4])
    np.testing.assert_array_equal(lagged[1, 0], [7, 8, 0, 0])  # nothing from trial 0


def test_kalman_recovers_linear_gaussian_system():
    rng = np.random.default_rng(3)
    n_trials, n_bins, n_obs = 40, 100, 12
    theta = 0.1
    A = 0.95 * np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    W = np.diag([0.05, 0.08])
    H = rng.normal(size=(n_obs, 2))
    b = rng.normal(size=n_obs)
    Q = np.diag(rng.uniform(2.0, 5.0, n_obs))
    x = np.empty((n_trials, n_bins, 2))
    x[:, 0] = rng.normal(size=(n_trials, 2))
    for t in range(1, n_bins):
        x[:, t] = x[:, t - 1] @ A.T + rng.multivariate_normal(np.zeros(2), W, n_trials)
    z = x @ H.T + b + rng.normal(size=(n_trials, n_bins, n_obs)) * np.sqrt(np.diag(Q))

    kf = KalmanFilterDecoder().fit(z, x)
    np.testing.assert_allclose(kf.A_, A, atol=0.03)
    np.testing.assert_allclose(kf.H_, H, atol=0.2)
    np.testing.assert_allclose(kf.observation_offset_, b, atol=0.2)
    np.testing.assert_allclose(np.diag(kf.W_), np.diag(W), rtol=0.1)
    np.testing.assert_allclose(np.diag(kf.Q_), np.diag(Q), rtol=0.15)
    # Noisy observations of smooth dynamics: filtering beats a per-bin linear readout of z.
    ridge = RidgeDecoder(alpha=1e-3).fit(z, x)
    assert kf.score(z, x) > ridge.score(z, x) + 0.1


def test_kalman_leaves_bins_before_the_first_observation_to_the_dynamics(reaches):
    X, y, X_test, _ = reaches
    kf = KalmanFilterDecoder(observation_lag=2).fit(X, y)
    pred = kf.predict(X_test)
    rollout = [kf.initial_mean_, kf.A_ @ kf.initial_mean_ + kf.state_offset_]
    np.testing.assert_allclose(pred[:, 0], np.broadcast_to(rollout[0], (len(X_test), 2)))
    np.testing.assert_allclose(pred[:, 1], np.broadcast_to(rollout[1], (len(X_test), 2)))
    # The last two bins' spikes would observe velocity beyond the trial: never used.
    changed = X_test.copy()
    changed[:, -2:] += 5
    np.testing.assert_allclose(kf.predict(changed), pred)


# ----------------------------------------------------------------------- sklearn contract
@pytest.mark.parametrize("name", DECODERS)
def test_predict_shape_and_trials_do_not_share_history(name, fitted, reaches):
    _, _, X_test, _ = reaches
    decoder = fitted[name]
    short = X_test[:5, :30]
    pred = decoder.predict(short)
    assert pred.shape == (5, 30, 2) and pred.dtype == np.float64
    # float32 GRU batches of other sizes round differently: compare to 1e-5.
    np.testing.assert_allclose(decoder.predict(short[2:3])[0], pred[2], rtol=1e-5, atol=1e-5)
    order = np.array([3, 0, 4, 1, 2])
    np.testing.assert_allclose(decoder.predict(short[order]), pred[order], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DECODERS)
def test_score_is_variance_weighted_r2_over_concatenated_bins(name, fitted, reaches):
    _, _, X_test, y_test = reaches
    decoder = fitted[name]
    pred = decoder.predict(X_test)
    residual = ((y_test - pred) ** 2).sum(axis=(0, 1))
    total = ((y_test - y_test.mean(axis=(0, 1))) ** 2).sum(axis=(0, 1))
    by_hand = 1 - residual.sum() / total.sum()
    assert decoder.score(X_test, y_test) == pytest.approx(by_hand, rel=1e-10)
    weights = np.arange(len(X_test)) % 3
    expected = r2_score(y_test.reshape(-1, 2), pred.reshape(-1, 2),
                        sample_weight=np.repeat(weights, N_BINS), multioutput="variance_weighted")
    assert decoder.score(X_test, y_test, sample_weight=weights) == pytest.approx(expected)


@pytest.mark.parametrize("name", DECODERS)
def test_clone_pickle_and_joblib_round_trips(name, fitted, reaches, tmp_path):
    X, y, X_test, _ = reaches
    decoder = fitted[name]
    pred = decoder.predict(X_test)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(decoder)).predict(X_test), pred)
    joblib.dump(decoder, tmp_path / "decoder.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "decoder.joblib").predict(X_test), pred)

    fresh = clone(decoder)
    assert fresh.get_params() == decoder.get_params()
    assert not hasattr(fresh, "n_neurons_in_")
    # Refitting a clone reproduces the fit exactly: the GRU is seeded by random_state.
    np.testing.assert_array_equal(fresh.fit(X, y).predict(X_test), pred)


@pytest.mark.parametrize("name", DECODERS)
def test_fit_keeps_params_and_predict_keeps_state(name, reaches):
    X, y, X_test, _ = reaches
    decoder = DECODERS[name]()
    if name == "gru":
        decoder.set_params(max_epochs=2)
    params = decoder.get_params()
    assert decoder.fit(X, y) is decoder
    assert decoder.get_params() == params
    assert decoder.n_neurons_in_ == N_NEURONS and decoder.n_outputs_ == 2
    state = pickle.dumps(decoder.__dict__)
    pred = decoder.predict(X_test)
    assert pickle.dumps(decoder.__dict__) == state
    # int, float32 and read-only input decode alike.
    readonly = X_test.astype(np.float64)
    readonly.flags.writeable = False
    for variant in (X_test.astype(np.int32), X_test.astype(np.float32), readonly):
        np.testing.assert_allclose(decoder.predict(variant), pred, rtol=1e-5, atol=1e-5)


def test_gru_is_deterministic_per_random_state(reaches):
    X, y, X_test, _ = reaches
    global_rng = torch.get_rng_state()
    a = _gru(max_epochs=2, random_state=1).fit(X, y).predict(X_test)
    b = _gru(max_epochs=2, random_state=1).fit(X, y).predict(X_test)
    c = _gru(max_epochs=2, random_state=2).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert torch.equal(torch.get_rng_state(), global_rng)  # seeding stays private


def test_ridge_alpha_is_grid_searchable_over_trial_folds(reaches):
    X, y, _, _ = reaches
    search = GridSearchCV(RidgeDecoder(lags=8), {"alpha": [1e-2, 1e1, 1e5]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] != 1e5  # a huge penalty shrinks velocity to its mean
    assert search.best_estimator_.predict(X[:2]).shape == (2, N_BINS, 2)
    scores = cross_val_score(WienerFilterDecoder(lags=8), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)


# The estimators take 3-D trial tensors, so every check that feeds them 2-D X is expected to
# fail; the checks of the parameter API, cloning, unfitted use, sparse and complex input,
# and a missing y pass. Our 3-D analogues of the failing ones are the tests above.
_NEEDS_3D = "decoders take 3-D trial tensors (trials, bins, neurons); the check passes 2-D X"
EXPECTED_FAILED_CHECKS = dict.fromkeys(
    [
        "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
        "check_estimators_dtypes", "check_estimators_fit_returns_self",
        "check_estimators_nan_inf", "check_estimators_overwrite_params",
        "check_estimators_pickle", "check_f_contiguous_array_estimator",
        "check_fit2d_predict1d", "check_fit_check_is_fitted", "check_fit_idempotent",
        "check_fit_score_takes_y", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_n_features_in",
        "check_n_features_in_after_fitting", "check_pipeline_consistency",
        "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
        "check_regressor_data_not_an_array", "check_regressor_multioutput",
        "check_regressors_int", "check_regressors_no_decision_function",
        "check_regressors_train",
    ],
    _NEEDS_3D,
)
EXPECTED_FAILED_CHECKS.update({
    "check_estimators_empty_data_messages": "looks for 2-D wording ('0 feature(s) (shape=(n, 0))')",
    "check_fit2d_1sample": "looks for 2-D wording ('1 sample') on a 2-D X we reject as not 3-D",
    "check_fit2d_1feature": "looks for 2-D wording ('1 feature(s)') on a 2-D X we reject",
})


@pytest.mark.parametrize("name", DECODERS)
def test_sklearn_estimator_checks(name):
    # The decoders declare two_d_array=False, and sklearn skips every check of such an
    # estimator; a subclass that claims 2-D input makes it run them.
    class Checked(type(DECODERS[name]())):
        def __sklearn_tags__(self):
            tags = super().__sklearn_tags__()
            tags.input_tags.two_d_array = True
            return tags

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(Checked(**DECODERS[name]().get_params()),
                                  expected_failed_checks=EXPECTED_FAILED_CHECKS, on_skip=None)
    status = {r["check_name"]: r["status"] for r in results}
    assert {n for n, s in status.items() if s == "xfail"} == set(EXPECTED_FAILED_CHECKS)
    for passing in ("check_estimators_unfitted", "check_estimator_sparse_array",
                    "check_complex_data", "check_requires_y_none", "check_get_params_invariance"):
        assert status[passing] == "passed"


# -------------------------------------------------------------------- GRU training details
def test_gru_validation_split_takes_real_trials_only(reaches):
    X, y = reaches[0][:, :8], reaches[1][:, :8]  # the split, not the fit, is under test
    is_synthetic = np.zeros(len(X), dtype=bool)
    is_synthetic[10:] = True
    gru = _gru(max_epochs=1, validation_fraction=0.5).fit(mark_synthetic(X, is_synthetic), y)
    assert len(gru.validation_trials_) == math.ceil(0.5 * 10)
    assert not is_synthetic[gru.validation_trials_].any()

    unmarked = _gru(max_epochs=1, validation_fraction=0.5).fit(X, y)
    assert len(unmarked.validation_trials_) == len(X) // 2

    with pytest.raises(ValueError, match="validation_fraction=0.5 needs at least 2 real"):
        _gru(validation_fraction=0.5).fit(mark_synthetic(X, np.ones(len(X), bool)), y)


def test_gru_stops_early_and_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.poisson(1.0, size=(24, 12, 6))
    y = rng.normal(size=(24, 12, 2))  # pure noise: validation loss soon stops improving
    gru = GRUDecoder(hidden_size=8, lr=3e-2, max_epochs=100, patience=3, batch_size=8,
                     validation_fraction=0.25, device="cpu", random_state=0).fit(X, y)
    curve = gru.validation_loss_curve_
    assert gru.n_epochs_ < 100
    assert gru.best_epoch_ == int(np.argmin(curve))
    assert gru.n_epochs_ == gru.best_epoch_ + 3 + 1
    val = gru.validation_trials_
    z_pred = (gru.predict(X[val]) - gru.target_mean_) / gru.target_scale_
    z_true = (y[val] - gru.target_mean_) / gru.target_scale_
    assert np.mean((z_pred - z_true) ** 2) == pytest.approx(curve[gru.best_epoch_], rel=1e-4)


def test_gru_without_validation_trains_all_epochs(reaches):
    X, y, _, _ = reaches
    gru = _gru(max_epochs=3, validation_fraction=0.0).fit(X, y)
    assert gru.n_epochs_ == 3 and gru.best_epoch_ == 2
    assert gru.validation_loss_curve_ == [] and len(gru.validation_trials_) == 0


# ------------------------------------------------------------------------------- errors
X_OK = np.ones((4, 6, 3))
Y_OK = np.zeros((4, 6, 2))


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (X_OK[0], Y_OK, ValueError, r"X must be a 3-D array .* got shape \(6, 3\)"),
        (X_OK, Y_OK[..., 0], ValueError, r"y must be a 3-D array .* got shape \(4, 6\)"),
        (X_OK, Y_OK[:3], ValueError, r"y must have shape \(4, 6, dims\) .* got \(3, 6, 2\)"),
        (X_OK, Y_OK[:, :5], ValueError, r"y must have shape \(4, 6, dims\)"),
        (np.where(np.eye(6, 3)[None] > 0, np.nan, X_OK), Y_OK, ValueError, "X contains 12 NaN"),
        (X_OK, np.full((4, 6, 2), np.inf), ValueError, "y contains 48 NaN or infinite"),
        (X_OK[:, :2], Y_OK[:, :2], ValueError, "X has 2 bins per trial; .*lags=3 needs"),
        (np.ones((0, 6, 3)), Y_OK[:0], ValueError, "X must not be empty"),
        (X_OK.astype(complex), Y_OK, ValueError, "Complex data not supported"),
        (X_OK.astype(str), Y_OK, TypeError, "X must hold real numbers"),
        (scipy.sparse.csr_matrix(X_OK[0]), Y_OK, TypeError, "sparse input is not supported"),
        (X_OK, None, ValueError, "requires y to be passed"),
    ],
)
def test_fit_rejects_bad_data(X, y, error, match):
    with pytest.raises(error, match=match):
        RidgeDecoder(lags=3).fit(X, y)


@pytest.mark.parametrize(
    ("decoder", "error", "match"),
    [
        (RidgeDecoder(lags=0), ValueError,
         r"'lags' parameter of RidgeDecoder must be an int in the range \[1, inf\)\. Got 0"),
        (WienerFilterDecoder(lags=2.5), TypeError, "'lags' parameter of WienerFilterDecoder .* Got 2.5"),
        (RidgeDecoder(lags=True), TypeError, "'lags' parameter of RidgeDecoder .* Got True"),
        (RidgeDecoder(alpha=-1.0), ValueError, r"'alpha' parameter .* range \[0.0, inf\)\. Got -1.0"),
        (RidgeDecoder(standardize="yes"), TypeError, "'standardize' parameter .* Got 'yes'"),
        (KalmanFilterDecoder(ridge=0.0), ValueError, r"'ridge' parameter .* range \(0.0, inf\)"),
        (KalmanFilterDecoder(observation_lag=-1), ValueError, "'observation_lag' parameter"),
        (KalmanFilterDecoder(observation_lag=6), ValueError, "needs at least 7"),
        (GRUDecoder(validation_fraction=1.0), ValueError, r"'validation_fraction' parameter .* \[0.0, 1.0\)"),
        (GRUDecoder(dropout=-0.1), ValueError, r"'dropout' parameter .* \[0.0, 1.0\)\. Got -0.1"),
        (GRUDecoder(weight_decay=-1), ValueError, r"'weight_decay' parameter .* Got -1"),
        (GRUDecoder(device="tpu"), ValueError, "device must be 'auto', 'cpu' or 'cuda"),
        (GRUDecoder(batch_size=0), ValueError, "'batch_size' parameter of GRUDecoder .* Got 0"),
    ],
)
def test_fit_rejects_bad_hyperparameters(decoder, error, match):
    with pytest.raises(error, match=match):
        decoder.fit(X_OK, Y_OK)


@pytest.mark.parametrize("decoder", [GRUDecoder(device="cpu"),
                                     KalmanFilterDecoder(sqrt_counts=True)])
def test_transforms_of_counts_reject_negative_counts(decoder):
    with pytest.raises(ValueError, match="X must be non-negative spike counts"):
        decoder.fit(-X_OK, Y_OK)


def test_predict_and_score_check_against_the_fit():
    decoder = RidgeDecoder(lags=3)
    with pytest.raises(NotFittedError):
        decoder.predict(X_OK)
    decoder.fit(X_OK, Y_OK)
    with pytest.raises(ValueError, match="X has 5 neurons but RidgeDecoder was fitted with 3"):
        decoder.predict(np.ones((4, 6, 5)))
    with pytest.raises(ValueError, match="X has 2 bins per trial, fewer than lags=3"):
        decoder.predict(X_OK[:, :2])
    with pytest.raises(ValueError, match="y has 3 dims but RidgeDecoder was fitted on 2"):
        decoder.score(X_OK, np.zeros((4, 6, 3)))
    with pytest.raises(ValueError, match=r"sample_weight must have one weight per trial"):
        decoder.score(X_OK, Y_OK, sample_weight=np.ones(24))


# ------------------------------------------------------------------------------ packaging
def test_decoders_know_nothing_of_generators_or_augmentation():
    for path in Path(decoders_pkg.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith(("eag_augment.generators", "eag_augment.augment")), path


def _rates_like_a_generator(rng, y):
    """Float32 rates as a generator's decoder makes them: silent neurons sit near 1e-4 and move
    by a few float32 steps, all with the same few latent directions (collinear)."""
    quiet = (1e-4 + 5e-10 * (y @ rng.normal(size=(2, 20)))).astype(np.float32)
    active = (0.5 + 0.01 * (y @ rng.normal(size=(2, 5)))).astype(np.float32)
    return np.concatenate([quiet, active], axis=2).astype(np.float64)


@pytest.mark.parametrize("decoder", [RidgeDecoder(alpha=0.1, lags=5), RidgeDecoder(alpha=0.0),
                                     WienerFilterDecoder(lags=3), KalmanFilterDecoder()])
def test_generated_rates_with_nearly_constant_features_do_not_break_the_linear_algebra(decoder):
    # Such features have a centred variance made of round-off, negative at times: the
    # standardised ridge system and the Kalman noise covariance used to be singular.
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(size=(40, 20, 2)), axis=1)
    X = _rates_like_a_generator(rng, y)
    fitted = clone(decoder).fit(X, y)
    assert np.isfinite(fitted.predict(X)).all()
    assert fitted.score(X, y) > 0.9


@pytest.mark.parametrize("klass", [RidgeDecoder, WienerFilterDecoder])
def test_fit_path_over_lags_and_penalties_equals_separate_fits(klass):
    rng = np.random.default_rng(1)
    X = rng.poisson(2.0, size=(12, 15, 6))
    y = rng.normal(size=(12, 15, 2)) + X[..., :2]
    settings = [{"lags": 1}, {"lags": 4}, {"lags": 2}]
    if klass is RidgeDecoder:
        settings = [{**s, "alpha": a} for s in settings for a in (0.5, 50.0)]
    path = klass().fit_path(X, y, settings)
    for setting, fitted in zip(settings, path):
        alone = klass(**setting).fit(X, y)
        np.testing.assert_allclose(fitted.coef_, alone.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fitted.intercept_, alone.intercept_, rtol=1e-8, atol=1e-10)
