import numpy as np
import pandas as pd
import pytest

from eag_augment import TrialSet
from eag_augment.trials import angle_of_reach


def make_set(n_trials=6, n_bins=10, n_neurons=4, seed=0, **kw):
    rng = np.random.default_rng(seed)
    return TrialSet(
        rng.poisson(1.0, (n_trials, n_bins, n_neurons)),
        rng.normal(size=(n_trials, n_bins, 2)),
        pd.DataFrame({"angle": rng.uniform(-np.pi, np.pi, n_trials),
                      "condition": np.arange(n_trials) % 3,
                      "label": [f"c{i}" for i in range(n_trials)]}),
        bin_ms=5,
        rates=rng.uniform(0, 2, (n_trials, n_bins, n_neurons)),
        **kw,
    )


def test_shapes_and_repr():
    t = make_set()
    assert (t.n_trials, t.n_bins, t.n_neurons) == (6, 10, 4)
    assert len(t) == 6 and t.spikes.dtype == np.int32
    assert t.behavior_names == ["x", "y"]
    assert "6 trials x 10 bins x 4 neurons" in repr(t)
    np.testing.assert_allclose(t.bin_times_ms[:2], [2.5, 7.5])


@pytest.mark.parametrize(
    "spikes, match",
    [
        (np.full((2, 3, 4), np.nan), "NaN or infinite"),
        (np.full((2, 3, 4), np.inf), "NaN or infinite"),
        (-np.ones((2, 3, 4)), "non-negative"),
        (np.full((2, 3, 4), 0.5), "integer spike counts; found value 0.5"),
        (np.ones((3, 4)), r"3 dimensions, got shape \(3, 4\)"),
        (np.ones((0, 3, 4)), "empty"),
        (np.array([[["a"]]]), "must hold numbers"),
    ],
)
def test_bad_spikes_raise(spikes, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TrialSet(spikes, bin_ms=5)


def test_bad_fields_raise():
    spikes = np.ones((2, 3, 4), dtype=int)
    with pytest.raises(ValueError, match=r"behavior must have shape \(2, 3, dims\).*got \(2, 4, 2\)"):
        TrialSet(spikes, np.zeros((2, 4, 2)), bin_ms=5)
    with pytest.raises(ValueError, match="behavior contains 1 NaN"):
        b = np.zeros((2, 3, 2))
        b[0, 0, 0] = np.nan
        TrialSet(spikes, b, bin_ms=5)
    with pytest.raises(ValueError, match="one row per trial"):
        TrialSet(spikes, conditions=pd.DataFrame({"a": [1, 2, 3]}), bin_ms=5)
    with pytest.raises(TypeError, match="conditions must be a pandas DataFrame"):
        TrialSet(spikes, conditions={"a": [1, 2]}, bin_ms=5)
    with pytest.raises(ValueError, match="'bin_ms' parameter of TrialSet .* Got 0"):
        TrialSet(spikes, bin_ms=0)
    with pytest.raises(ValueError, match="neuron_ids"):
        TrialSet(spikes, bin_ms=5, neuron_ids=[1, 2])
    with pytest.raises(ValueError, match="rates must have the shape"):
        TrialSet(spikes, bin_ms=5, rates=np.ones((2, 3, 5)))
    with pytest.raises(ValueError, match="heldout"):
        TrialSet(spikes, bin_ms=5, heldout=[0, 1, 0, 1])


def test_indexing():
    t = make_set()
    assert t[2].n_trials == 1
    sub = t[[4, 1]]
    np.testing.assert_array_equal(sub.spikes, t.spikes[[4, 1]])
    np.testing.assert_array_equal(sub.conditions["label"], ["c4", "c1"])
    assert list(sub.conditions.index) == [0, 1]
    mask = np.arange(6) % 2 == 0
    np.testing.assert_array_equal(t[mask].rates, t.rates[mask])
    assert t[1:3].n_trials == 2
    with pytest.raises(IndexError):
        t[6]
    with pytest.raises(IndexError, match="boolean trial mask"):
        t[np.ones(3, bool)]
    with pytest.raises(IndexError, match="no trials"):
        t[3:3]


def test_concatenate_and_errors():
    a, b = make_set(seed=0), make_set(n_trials=3, seed=1)
    c = TrialSet.concatenate([a, b])
    assert c.n_trials == 9
    np.testing.assert_array_equal(c.spikes[6:], b.spikes)
    np.testing.assert_array_equal(c.conditions["label"].iloc[6:], b.conditions["label"])
    with pytest.raises(ValueError, match=r"\(bins, neurons\)"):
        TrialSet.concatenate([a, make_set(n_neurons=5)])
    with pytest.raises(TypeError, match="not a TrialSet"):
        TrialSet.concatenate([a, a.spikes])
    with pytest.raises(ValueError, match="at least one"):
        TrialSet.concatenate([])


def test_rebin_sums_counts_and_averages_behaviour():
    t = make_set(n_bins=10)
    r = t.rebin(10)
    assert r.bin_ms == 10 and r.n_bins == 5
    np.testing.assert_array_equal(r.spikes[:, 0], t.spikes[:, 0] + t.spikes[:, 1])
    np.testing.assert_allclose(r.behavior[:, 0], t.behavior[:, :2].mean(axis=1))
    np.testing.assert_allclose(r.rates.sum(), t.rates.sum(), rtol=1e-5)
    assert t.rebin(15).n_bins == 3  # the trailing partial bin is dropped
    with pytest.raises(ValueError, match="integer multiple"):
        t.rebin(7)


def test_train_test_split_is_seeded_and_disjoint():
    t = make_set(n_trials=30)
    tr1, te1 = t.train_test_split(0.2, random_state=3)
    tr2, te2 = t.train_test_split(0.2, random_state=3)
    np.testing.assert_array_equal(te1.spikes, te2.spikes)
    assert tr1.n_trials == 24 and te1.n_trials == 6
    labels = set(tr1.conditions["label"]) | set(te1.conditions["label"])
    assert len(labels) == 30
    _, te3 = t.train_test_split(0.2, random_state=4)
    assert not np.array_equal(te1.spikes, te3.spikes)
    tr, te = t.train_test_split(0.5, random_state=0, stratify="condition")
    assert sorted(te.conditions["condition"].value_counts()) == [5, 5, 5]


def test_named_split():
    t = make_set()
    t.conditions["split"] = ["train"] * 4 + ["test"] * 2
    assert t.split("test").n_trials == 2
    with pytest.raises(ValueError, match="splits present"):
        t.split("val")


def test_save_load_roundtrip(tmp_path):
    t = make_set(heldout=np.array([False, True, False, True]), t_start_ms=-250)
    path = t.save(tmp_path / "set")
    assert path.suffix == ".npz"
    u = TrialSet.load(path)
    np.testing.assert_array_equal(u.spikes, t.spikes)
    np.testing.assert_array_equal(u.behavior, t.behavior)
    np.testing.assert_array_equal(u.rates, t.rates)
    np.testing.assert_array_equal(u.heldout, t.heldout)
    pd.testing.assert_frame_equal(u.conditions, t.conditions)
    assert (u.bin_ms, u.t_start_ms, u.behavior_names) == (5, -250, ["x", "y"])


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        TrialSet.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="not a readable TrialSet"):
        TrialSet.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match="not a TrialSet file"):
        TrialSet.load(other)


def test_from_continuous_and_time_split():
    rng = np.random.default_rng(0)
    spikes = rng.poisson(1.0, (100, 3))
    vel = rng.normal(size=(100, 2))
    t = TrialSet.from_continuous(spikes, vel, bin_ms=50, window=10, stride=5, t_start_ms=1000)
    assert t.n_trials == 19 and t.n_bins == 10
    np.testing.assert_array_equal(t.spikes[1], spikes[5:15])
    np.testing.assert_array_equal(t.behavior[2], vel[10:20])
    assert t.conditions["start_ms"].iloc[1] == 1250
    train, test = t.time_split(0.25)
    train_end = train.conditions["start_ms"].max() + train.duration_ms
    assert train_end <= test.conditions["start_ms"].min()
    with pytest.raises(ValueError, match="longer than the recording"):
        TrialSet.from_continuous(spikes, bin_ms=50, window=200)
    with pytest.raises(ValueError, match="behavior must have 100 time bins"):
        TrialSet.from_continuous(spikes, vel[:50], bin_ms=50, window=10)
    with pytest.raises(ValueError, match="'stride' parameter .* Got 0"):
        TrialSet.from_continuous(spikes, bin_ms=50, window=10, stride=0)


def test_angles_from_column_or_behaviour():
    t = make_set()
    np.testing.assert_allclose(t.angles, t.conditions["angle"])
    vel = np.zeros((2, 5, 2))
    vel[0, :, 0] = 1.0  # rightwards
    vel[1, :, 1] = -1.0  # downwards
    np.testing.assert_allclose(angle_of_reach(vel), [0.0, -np.pi / 2])
    u = TrialSet(np.zeros((2, 5, 1), int), vel, bin_ms=5)
    np.testing.assert_allclose(u.angles, [0.0, -np.pi / 2])
    with pytest.raises(ValueError, match="neither"):
        TrialSet(np.zeros((2, 5, 1), int), bin_ms=5).angles


def test_wrap_and_rotate():
    from eag_augment.trials import rotate_xy, wrap_angle

    np.testing.assert_allclose(wrap_angle([3 * np.pi, -np.pi, 0.5, -4.0]),
                               [np.pi, np.pi, 0.5, -4.0 + 2 * np.pi])
    v = np.zeros((1, 3, 3))
    v[0, :, 0], v[0, :, 2] = 1.0, 7.0
    r = rotate_xy(v, np.array([np.pi / 2]))
    np.testing.assert_allclose(r[0, :, :2], [[0.0, 1.0]] * 3, atol=1e-12)
    np.testing.assert_array_equal(r[0, :, 2], 7.0)
