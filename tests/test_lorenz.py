"""The Lorenz spiking benchmark (LDNS/EAG recipe) and its trajectory cache."""

import numpy as np
import pytest

from eag_augment.datasets import lorenz
from eag_augment.datasets.lorenz import load_lorenz
from eag_augment.trials import TrialSet


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private cache directory for the whole module (integration is the slow part)."""
    path = tmp_path_factory.mktemp("eag_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EAG_AUGMENT_CACHE", str(path))
        yield path


@pytest.fixture(scope="module")
def small(cache):
    return load_lorenz(24, return_latents=True, verbose=0)


def test_layout(small):
    trials, latents = small
    assert isinstance(trials, TrialSet)
    assert trials.spikes.shape == (24, 256, 128) and trials.spikes.dtype == np.int32
    assert trials.rates.shape == trials.spikes.shape
    assert trials.behavior is None and trials.bin_ms == 1.0
    assert latents.shape == (24, 256, 3)


def test_trajectories_are_z_scored_per_trial(small):
    _, latents = small
    np.testing.assert_allclose(latents.mean(axis=1), 0, atol=1e-10)
    np.testing.assert_allclose(latents.std(axis=1), 1, atol=1e-10)


def test_statistics_match_the_reference(small):
    trials, latents = small
    # Mean rate ~0.14 spikes per bin, population count ~18 per bin (lorenz.md).
    assert trials.rates.mean() == pytest.approx(0.14, abs=0.015)
    assert trials.spikes.mean() == pytest.approx(0.14, abs=0.015)
    assert trials.spikes.sum(axis=2).mean() == pytest.approx(18, abs=2)
    # rates = softplus_2(C z + log 0.3) with unit-norm rows sorted by their first entry.
    x = np.log(np.expm1(2 * trials.rates.astype(float))) / 2 - np.log(0.3)
    readout, *_ = np.linalg.lstsq(latents.reshape(-1, 3), x.reshape(-1, 128), rcond=None)
    np.testing.assert_allclose(np.linalg.norm(readout, axis=0), 1, atol=1e-3)
    assert np.all(np.diff(readout[0]) >= -1e-4)


def test_initial_conditions_follow_the_recipe():
    ics = lorenz._initial_conditions(3, 42)
    expected = lorenz.BASE_IC + np.random.RandomState(42).normal(0, 2, size=(5000, 3))[:3]
    np.testing.assert_array_equal(ics, expected)


def test_fewer_trials_are_the_first_trials_and_the_cache_is_reused(small, cache):
    trials, latents = small
    files = sorted(p.name for p in cache.iterdir())
    assert files == ["lorenz_v1_seed42_bins256_trials24.npz"]  # no temporary files left
    head, head_latents = load_lorenz(10, return_latents=True, verbose=0)
    assert sorted(p.name for p in cache.iterdir()) == files  # served from the 24-trial file
    np.testing.assert_array_equal(head_latents, latents[:10])
    np.testing.assert_array_equal(head.spikes, trials.spikes[:10])
    fresh, fresh_latents = load_lorenz(10, cache=False, return_latents=True, verbose=0)
    np.testing.assert_array_equal(fresh_latents, head_latents)
    np.testing.assert_array_equal(fresh.spikes, head.spikes)


def test_damaged_cache_file_is_recomputed(cache):
    path = cache / "lorenz_v1_seed5_bins8_trials3.npz"
    path.write_bytes(b"not a zip file")
    trials = load_lorenz(3, n_neurons=4, n_bins=8, random_state=5, verbose=0)
    assert trials.spikes.shape == (3, 8, 4)
    with np.load(path) as f:
        assert f["trajectories"].shape == (3, 8, 3)


def test_unwritable_cache_warns_and_still_returns(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("EAG_AUGMENT_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="could not cache"):
        trials = load_lorenz(2, n_neurons=4, n_bins=8, verbose=0)
    assert trials.spikes.shape == (2, 8, 4)


def test_seeds_change_the_data(cache):
    a = load_lorenz(4, n_neurons=16, n_bins=32, random_state=1, verbose=0)
    b = load_lorenz(4, n_neurons=16, n_bins=32, random_state=1, verbose=0)
    c = load_lorenz(4, n_neurons=16, n_bins=32, random_state=2, cache=False, verbose=0)
    np.testing.assert_array_equal(a.spikes, b.spikes)
    assert not np.array_equal(a.rates, c.rates)


def test_splits(small):
    trials, _ = small
    assert trials.conditions["split"].value_counts().to_dict() == {"train": 17, "test": 5,
                                                                   "val": 2}
    full = lorenz._split_labels(5000, np.random.default_rng(0))
    values, counts = np.unique(full, return_counts=True)
    assert dict(zip(values, counts)) == {"train": 3500, "val": 500, "test": 1000}


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(n_trials=0), ValueError, "n_trials"),
        (dict(n_neurons=2.5), TypeError, "n_neurons"),
        (dict(n_bins=1), ValueError, "n_bins"),
        (dict(random_state="42"), TypeError, "random_state"),
        (dict(random_state=-1), ValueError, "random_state"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_lorenz(**kwargs)
