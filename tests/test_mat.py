"""Binned continuous recordings from MATLAB files -> windows in a TrialSet."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import loadmat, savemat

from eag_augment.datasets.mat import load_mat

M1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "m1_stevenson_2011.mat"


@pytest.fixture(scope="module")
def m1():
    if not M1.exists():
        pytest.skip(f"M1 recording not found at {M1} (see shared/data/README.md)")
    return loadmat(M1)


def test_real_m1_recording(m1):
    ts = load_mat(M1)
    assert ts.bin_ms == 50
    assert ts.spikes.shape == (15536 // 20, 20, 171)
    assert ts.behavior.shape == (776, 20, 2) and ts.behavior_names == ["x", "y"]  # z is all 0
    start = ts.conditions["start_ms"].to_numpy()
    np.testing.assert_allclose(start[:2], [12591.0, 13591.0])
    assert np.all(np.diff(start) == 1000.0)
    w = 37
    np.testing.assert_array_equal(ts.spikes[w], m1["spikes"][:, w * 20 : (w + 1) * 20].T)
    np.testing.assert_array_equal(ts.behavior[w], m1["handVel"][:2, w * 20 : (w + 1) * 20].T)
    train, test = ts.time_split(0.2)
    train_end = train.conditions["start_ms"].max() + train.duration_ms
    assert train_end <= test.conditions["start_ms"].min()
    assert 0.15 < test.n_trials / ts.n_trials < 0.25


def test_real_m1_overlapping_windows(m1):
    ts = load_mat(M1, window_bins=10, stride_bins=5, bin_ms=50)
    assert ts.spikes.shape == ((15536 - 10) // 5 + 1, 10, 171)
    np.testing.assert_array_equal(ts.spikes[1, :5], ts.spikes[0, 5:])


def _write(path: Path, **variables) -> Path:
    savemat(path, variables)
    return path


@pytest.fixture
def tiny(tmp_path):
    """(neurons, time) counts, (channels, time) velocity with a zero z row, time in s."""
    rng = np.random.default_rng(0)
    n_time = 40
    vel = rng.normal(size=(3, n_time))
    vel[2] = 0.0
    return {
        "spikes": rng.poisson(1.0, (4, n_time)).astype(np.uint8),
        "handVel": vel,
        "time": (1.5 + 0.02 * np.arange(n_time))[None, :],
        "dir": tmp_path,
    }


def test_synthetic_layouts_and_options(tiny, tmp_path):
    path = _write(tmp_path / "a.mat", spikes=tiny["spikes"], handVel=tiny["handVel"],
                  time=tiny["time"])
    ts = load_mat(path, window_bins=8)
    assert ts.bin_ms == 20 and ts.spikes.shape == (5, 8, 4) and ts.behavior_names == ["x", "y"]
    np.testing.assert_allclose(ts.conditions["start_ms"], 1500.0 + 160.0 * np.arange(5))
    # (time, channels) layout and custom names give the same windows
    flipped = _write(tmp_path / "b.mat", counts=tiny["spikes"].T, vel=tiny["handVel"].T,
                     t=tiny["time"].T)
    other = load_mat(flipped, window_bins=8, spikes_key="counts", velocity_key="vel",
                     time_key="t")
    np.testing.assert_array_equal(other.spikes, ts.spikes)
    np.testing.assert_array_equal(other.behavior, ts.behavior)
    kept = load_mat(path, window_bins=8, drop_zero_channels=False)
    assert kept.behavior_names == ["x", "y", "z"] and not kept.behavior[..., 2].any()
    bare = load_mat(path, window_bins=8, velocity_key=None, time_key=None, bin_ms=20)
    assert bare.behavior is None and bare.conditions["start_ms"].iloc[0] == 0.0


def test_errors(tiny, tmp_path):
    good = dict(spikes=tiny["spikes"], handVel=tiny["handVel"], time=tiny["time"])
    path = _write(tmp_path / "good.mat", **good)
    with pytest.raises(FileNotFoundError, match="no MATLAB file"):
        load_mat(tmp_path / "absent.mat")
    text = tmp_path / "text.mat"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable MATLAB .mat file"):
        load_mat(text)
    v73 = tmp_path / "v73.mat"
    with h5py.File(v73, "w", userblock_size=512) as f:
        f["spikes"] = tiny["spikes"]
    with open(v73, "r+b") as fh:  # the header MATLAB writes in front of a v7.3 (HDF5) file
        fh.write(b"MATLAB 7.3 MAT-file".ljust(116) + b"\0" * 8 + b"\0\2IM")
    with pytest.raises(ValueError, match="v7.3"):
        load_mat(v73)
    with pytest.raises(ValueError, match=r"no variable 'rates' \(spike counts\); variables: "
                                         r"\['handVel', 'spikes', 'time'\]"):
        load_mat(path, spikes_key="rates")
    with pytest.raises(ValueError, match="bin_ms=50 does not match .* 20 ms"):
        load_mat(path, bin_ms=50)
    with pytest.raises(ValueError, match="bin_ms is required"):
        load_mat(path, time_key=None)
    with pytest.raises(ValueError, match="'bin_ms' parameter of load_mat.*Got -20"):
        load_mat(path, bin_ms=-20)
    with pytest.raises(ValueError, match="window .* longer than the recording"):
        load_mat(path, window_bins=100)
    with pytest.raises(ValueError, match="'window_bins' parameter of load_mat.*Got 2.5"):
        load_mat(path, window_bins=2.5)

    gap = tiny["time"].copy()
    gap[0, 20:] += 1.0
    with pytest.raises(ValueError, match="not evenly spaced"):
        load_mat(_write(tmp_path / "gap.mat", **{**good, "time": gap}))
    with pytest.raises(ValueError, match=r"'handVel' has shape \(3, 39\), with no axis of 40"):
        load_mat(_write(tmp_path / "short.mat", **{**good, "handVel": tiny["handVel"][:, :-1]}))
    with pytest.raises(ValueError, match=r"'handVel' has shape \(3, 30\), with no axis of 40"):
        load_mat(_write(tmp_path / "nt.mat", spikes=tiny["spikes"],
                        handVel=tiny["handVel"][:, :30]), time_key=None, bin_ms=20)
    with pytest.raises(TypeError, match="'spikes' .* must be numeric"):
        load_mat(_write(tmp_path / "str.mat", **{**good, "spikes": "abc"}))
    with pytest.raises(ValueError, match="integer spike counts"):
        load_mat(_write(tmp_path / "frac.mat", **{**good, "spikes": tiny["spikes"] + 0.5}))
    with pytest.raises(ValueError, match="zero throughout"):
        load_mat(_write(tmp_path / "still.mat", **{**good, "handVel": 0 * tiny["handVel"]}))
