"""The simulated reaching dataset and its oracle sampler."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from eag_augment.datasets.reach import ReachSimulator, make_synthetic_reach
from eag_augment.trials import TrialSet, angle_of_reach


def angle_error(a, b):
    return np.abs(np.angle(np.exp(1j * (np.asarray(a) - np.asarray(b)))))


@pytest.fixture(scope="module")
def reach():
    return make_synthetic_reach(160, random_state=3, return_simulator=True)


def test_default_dataset_layout(reach):
    trials, sim = reach
    assert isinstance(trials, TrialSet)
    assert trials.spikes.shape == (160, 140, 182) and trials.spikes.dtype == np.int32
    assert trials.behavior.shape == (160, 140, 2)
    assert trials.rates.shape == trials.spikes.shape and trials.rates.dtype == np.float32
    assert trials.bin_ms == 5.0 and trials.t_start_ms == -250.0
    assert trials.bin_times_ms[0] == -247.5 and trials.bin_times_ms[-1] == 447.5
    assert trials.heldout.sum() == 45 and trials.heldout[-45:].all()
    cond = trials.conditions
    assert set(cond["condition"]) == set(range(8))
    # Balanced conditions; splits of 70/10/20 % that are stratified by condition.
    assert cond["condition"].value_counts().nunique() == 1
    assert cond["split"].value_counts().to_dict() == {"train": 112, "test": 32, "val": 16}
    per_condition = cond.groupby("condition")["split"].value_counts().unstack(fill_value=0)
    assert per_condition["test"].between(3, 5).all() and per_condition["val"].between(1, 3).all()
    np.testing.assert_allclose(cond["angle"], sim.condition_angles_[cond["condition"]])


def test_heterogeneous_motor_cortex_like_rates(reach):
    trials, _ = reach
    mean_hz = trials.rates.mean(axis=(0, 1)) / (trials.bin_ms / 1000)
    assert mean_hz.min() > 0.5 and mean_hz.max() < 60.0
    assert mean_hz.max() / mean_hz.min() > 5
    # Spikes are drawn at the ground-truth rates.
    assert trials.spikes.mean() == pytest.approx(trials.rates.mean(), rel=0.02)
    # Rates are modulated around the movement, not flat.
    assert np.median(trials.rates.std(axis=1).mean(axis=0) / trials.rates.mean(axis=(0, 1))) > 0.2


def test_speed_profile_is_bell_shaped(reach):
    trials, _ = reach
    cond = trials.conditions
    speed = np.linalg.norm(trials.behavior, axis=2)
    t = trials.bin_times_ms
    peak_t = t[speed.argmax(axis=1)]
    np.testing.assert_allclose(peak_t, cond["onset_ms"] + cond["duration_ms"] / 2, atol=2.5)
    assert np.all(speed[:, t < cond["onset_ms"].min()] == 0)
    assert 200 < np.median(speed.max(axis=1)) < 1000  # mm/s
    for s, peak in zip(speed, speed.argmax(axis=1)):
        assert np.all(np.diff(s[: peak + 1]) >= 0) and np.all(np.diff(s[peak:]) <= 0)


def test_reaches_go_towards_the_condition_angle(reach):
    trials, _ = reach
    assert angle_error(angle_of_reach(trials.behavior), trials.conditions["angle"]).max() < 1e-6


def lagged_r2(trials, lags):
    """R^2 of a linear decoder from log-rates at t to velocity at t + lag (same t for all)."""
    x_all, y_all = np.log(trials.rates), trials.behavior
    t = np.arange(-min(lags), trials.n_bins - max(lags))
    scores = []
    for lag in lags:
        x = x_all[:, t].reshape(-1, trials.n_neurons)
        y = y_all[:, t + lag].reshape(-1, 2)
        half = len(x) // 2
        scores.append(Ridge(alpha=1.0).fit(x[:half], y[:half]).score(x[half:], y[half:]))
    return np.array(scores)


def test_neural_activity_leads_velocity_by_about_100_ms(reach):
    trials, sim = reach
    lags = np.arange(-8, 41, 4)  # bins of 5 ms
    r2 = lagged_r2(trials, lags)
    # The latent holds velocity and acceleration 100 ms ahead, so decoding plateaus
    # around that lead rather than peaking sharply.
    assert 50 <= lags[r2.argmax()] * trials.bin_ms <= 160
    at_100_ms, at_0_ms = r2[lags == 20][0], r2[lags == 0][0]
    assert at_100_ms > r2.max() - 0.02 and at_100_ms > at_0_ms + 0.1
    # By construction, the velocity latents are the velocity 100 ms (20 bins) ahead.
    cond = trials.conditions
    latent = sim.latent_mean(trials.behavior, cond["angle"].to_numpy(),
                             cond["curvature"].to_numpy(), cond["target_onset_ms"].to_numpy())
    velocity_latent = latent[:, :-20, 5:7]
    ratio = trials.behavior[:, 20:] / np.where(velocity_latent == 0, np.nan, velocity_latent)
    assert np.nanstd(ratio) < 1e-9 * np.nanmean(ratio)


def test_curved_variant_has_maze_like_paths():
    trials, sim = make_synthetic_reach(64, curved=True, random_state=1, return_simulator=True)
    assert sim.n_conditions == 16
    cond = trials.conditions
    assert set(np.round(np.abs(cond["curvature"]), 6)) == {round(2 * np.pi / 3, 6)}
    assert angle_error(angle_of_reach(trials.behavior), cond["angle"]).max() < 1e-4
    vel = trials.behavior
    path = np.linalg.norm(vel, axis=2).sum(axis=1)
    chord = np.linalg.norm(vel.sum(axis=1), axis=1)
    assert np.all(chord / path < 0.9)  # a 120-degree arc: chord / length = 0.83
    heading = np.arctan2(vel[..., 1], vel[..., 0])
    moving = np.linalg.norm(vel, axis=2) > 50
    first = np.array([h[m][0] for h, m in zip(heading, moving)])
    assert np.all(angle_error(first, cond["angle"]) > 0.5)
    straight = make_synthetic_reach(64, random_state=1)
    chord_s = np.linalg.norm(straight.behavior.sum(axis=1), axis=1)
    np.testing.assert_allclose(chord_s / np.linalg.norm(straight.behavior, axis=2).sum(axis=1), 1)


def test_oracle_at_unseen_angles():
    sim = ReachSimulator(random_state=2)
    trials = sim.sample(12, angle=0.3, random_state=0)
    assert np.all(trials.conditions["condition"] == -1)
    assert angle_error(angle_of_reach(trials.behavior), 0.3).max() < 1e-6
    angles = np.linspace(-3, 3, 12)
    trials = sim.sample(12, angle=angles, random_state=0)
    assert angle_error(angle_of_reach(trials.behavior), angles).max() < 1e-6
    on_grid = sim.sample(4, angle=np.pi / 2 + 2 * np.pi, random_state=0)
    assert np.all(on_grid.conditions["condition"] == 2)
    np.testing.assert_allclose(on_grid.conditions["angle"], np.pi / 2)


def test_oracle_conditioned_on_velocity(reach):
    trials, sim = reach
    velocity = trials.behavior[:40] * 1.3
    conditioned = sim.sample(40, velocity=velocity, random_state=5)
    np.testing.assert_array_equal(conditioned.behavior, velocity)
    np.testing.assert_allclose(conditioned.conditions["angle"], trials.conditions["angle"][:40],
                               atol=1e-6)
    np.testing.assert_array_equal(conditioned.conditions["condition"],
                                  trials.conditions["condition"][:40])
    # The rates follow the given velocity: the same process as unconditioned sampling.
    redrawn = sim.sample(40, velocity=trials.behavior[:40], random_state=5)
    psth = [t.rates.mean(axis=(0, 2)) for t in (trials[:40], redrawn)]
    assert np.corrcoef(*psth)[0, 1] > 0.95
    # A curved path given to the oracle is recognised as curved.
    curved_sim = ReachSimulator(curved=True, random_state=2)
    curved = curved_sim.sample(8, random_state=1)
    again = curved_sim.sample(8, velocity=curved.behavior, random_state=1)
    np.testing.assert_allclose(again.conditions["curvature"], curved.conditions["curvature"],
                               atol=0.01)
    np.testing.assert_array_equal(again.conditions["condition"], curved.conditions["condition"])


def test_determinism_and_seeds():
    a = make_synthetic_reach(20, random_state=7)
    b = make_synthetic_reach(20, random_state=7)
    c = make_synthetic_reach(20, random_state=8)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.rates, b.rates)
    assert a.conditions.equals(b.conditions)
    assert not np.array_equal(a.spikes, c.spikes)
    sim = ReachSimulator(random_state=1)
    np.testing.assert_array_equal(sim.sample(5, random_state=4).spikes,
                                  sim.sample(5, random_state=4).spikes)
    assert not np.array_equal(sim.loadings_, ReachSimulator(random_state=2).loadings_)


def test_refractory_spikes_keep_the_rates():
    plain = make_synthetic_reach(100, n_neurons=40, n_heldout=10, random_state=0)
    refr = make_synthetic_reach(100, n_neurons=40, n_heldout=10, refractory=True,
                                random_state=0)
    np.testing.assert_array_equal(plain.rates, refr.rates)
    assert refr.spikes.mean() == pytest.approx(refr.rates.mean(), rel=0.05)
    # At most 3 spikes fit in 5 ms with a 2 ms minimum interval.
    assert refr.spikes.max() <= 3
    assert (refr.spikes >= 2).mean() < (plain.spikes >= 2).mean()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_trials=0), ValueError, "n_trials"),
        (dict(n_trials=2.5), TypeError, "n_trials"),
        (dict(n_trials=3, angle=[0.1, 0.2]), ValueError, r"angle .*\(3,\)"),
        (dict(n_trials=2, angle=["a", "b"]), TypeError, "angle"),
        (dict(n_trials=2, angle=[0.0, np.nan]), ValueError, "angle must be finite"),
        (dict(n_trials=2, velocity=np.zeros((2, 100, 2))), ValueError, r"\(2, 140, 2\)"),
        (dict(n_trials=3, velocity=np.zeros((2, 140, 2))), ValueError, "velocity"),
        (dict(n_trials=1, velocity=np.full((1, 140, 2), np.nan)), ValueError, "NaN"),
        (dict(n_trials=2, curvature=np.zeros(3)), ValueError, "curvature"),
    ],
)
def test_sample_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ReachSimulator(n_neurons=5, n_heldout=1).sample(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_heldout=10, n_neurons=10), ValueError, "n_heldout"),
        (dict(n_directions=0), ValueError, "n_directions"),
        (dict(bin_ms=0), ValueError, "bin_ms"),
        (dict(bin_ms=3.0), ValueError, "whole number"),
        (dict(window_ms=(100, -100)), ValueError, "window_ms"),
        (dict(window_ms=None), TypeError, "window_ms"),
        (dict(lag_ms=-5), ValueError, "lag_ms"),
    ],
)
def test_simulator_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        ReachSimulator(**kwargs)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_trials=0), ValueError, "n_trials"),
        (dict(test_size=0.6, val_size=0.5), ValueError, "test_size \\+ val_size"),
        (dict(test_size=-0.1), ValueError, "test_size"),
        (dict(random_state="seed"), TypeError, "random_state"),
    ],
)
def test_make_synthetic_reach_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_synthetic_reach(**kwargs)
