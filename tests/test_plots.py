"""Figures of eag_augment.plots: axes counts, PNG output, input errors."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from eag_augment import plots
from eag_augment.trials import TrialSet


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def reach():
    rng = np.random.default_rng(0)
    n_trials, n_bins = 8, 20
    angles = np.linspace(-np.pi, np.pi, n_trials, endpoint=False)
    speed = np.sin(np.linspace(0, np.pi, n_bins))
    velocity = speed[None, :, None] * np.stack([np.cos(angles), np.sin(angles)], -1)[:, None]
    spikes = rng.poisson(0.5, size=(n_trials, n_bins, 6))
    conditions = pd.DataFrame({"condition": np.arange(n_trials) % 4, "angle": angles})
    return TrialSet(spikes, 100 * velocity, conditions, bin_ms=10, t_start_ms=-50)


def assert_png(path):
    assert path.exists() and path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_raster_with_and_without_behaviour(reach, tmp_path):
    fig = plots.raster(reach, trial=2, path=tmp_path / "raster.png")
    assert len(fig.axes) == 2
    assert_png(tmp_path / "raster.png")
    assert len(plots.raster(reach, show_behavior=False).axes) == 1
    fig = plots.raster(reach.spikes, path=tmp_path / "sub" / "array.png")
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "time (bins)"
    assert_png(tmp_path / "sub" / "array.png")
    # Spike ticks sit at the bin centres in ms.
    offsets = plots.raster(reach, show_behavior=False).axes[0].collections[0].get_offsets()
    assert np.isin(offsets[:, 0], reach.bin_times_ms).all()


def test_raster_errors(reach):
    with pytest.raises(ValueError, match="trial must be an integer in \\[0, 8\\)"):
        plots.raster(reach, trial=8)
    with pytest.raises(ValueError, match="no behavior"):
        plots.raster(reach.spikes, show_behavior=True)
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match="ax=None"):
        plots.raster(reach, ax=ax, show_behavior=True)
    with pytest.raises(ValueError, match="3 dimensions"):
        plots.raster(reach.spikes[0])


def test_condition_psths(reach, tmp_path):
    fig = plots.condition_psths(reach, neurons=[0, 3, 5], smooth_ms=20, path=tmp_path / "p.png")
    assert len(fig.axes) == 3
    assert len(fig.axes[0].lines) == 4  # one line per condition
    assert_png(tmp_path / "p.png")
    assert len(plots.condition_psths(reach, n_neurons=6).axes) == 6
    with pytest.raises(ValueError, match="no condition column 'direction'"):
        plots.condition_psths(reach, condition_column="direction")
    with pytest.raises(ValueError, match="neurons must be indices in \\[0, 6\\)"):
        plots.condition_psths(reach, neurons=[7])
    with pytest.raises(TypeError, match="TrialSet"):
        plots.condition_psths(reach.spikes)


def test_statistics_comparison(reach, tmp_path):
    rng = np.random.default_rng(1)
    generated = {"eag": rng.poisson(0.5, reach.spikes.shape), "psth": reach[::-1]}
    fig = plots.statistics_comparison(reach, generated, bin_ms=10, path=tmp_path / "s.png")
    assert len(fig.axes) == 4
    n_pairs = 6 * 5 // 2
    assert [len(c.get_offsets()) for c in fig.axes[1].collections] == [n_pairs, n_pairs]
    assert fig.axes[2].get_title() == "mean ISI (s)"
    assert_png(tmp_path / "s.png")
    assert len(plots.statistics_comparison(reach.spikes, reach.spikes).axes) == 4
    with pytest.raises(ValueError, match="'eag' has 5 neurons, real has 6"):
        plots.statistics_comparison(reach, {"eag": reach.spikes[:, :, :5]})
    with pytest.raises(ValueError, match="empty mapping"):
        plots.statistics_comparison(reach, {})
    with pytest.raises(ValueError, match="bin_ms is 5 but"):
        plots.statistics_comparison(reach, reach, bin_ms=5)


def test_hand_trajectories(reach, tmp_path):
    fig = plots.hand_trajectories(reach, predicted=0.9 * reach.behavior, path=tmp_path / "h.png")
    assert len(fig.axes) == 1
    real_paths, decoded = fig.axes[0].collections
    assert len(real_paths.get_paths()) == reach.n_trials
    # Integrated path: end point = sum of velocity x bin seconds.
    end = real_paths.get_segments()[0][-1]
    np.testing.assert_allclose(end, reach.behavior[0].sum(axis=0) * 0.01)
    assert_png(tmp_path / "h.png")
    assert len(plots.hand_trajectories(reach.behavior, 10).axes) == 1
    with pytest.raises(ValueError, match="bin_ms is required"):
        plots.hand_trajectories(reach.behavior)
    with pytest.raises(ValueError, match="predicted must have shape"):
        plots.hand_trajectories(reach, predicted=reach.behavior[:, :5])
    with pytest.raises(ValueError, match="angles must be finite with shape \\(8,\\)"):
        plots.hand_trajectories(reach, angles=np.zeros(3))
    with pytest.raises(ValueError, match="x and y"):
        plots.hand_trajectories(reach.behavior[:, :, :1], 10)


def test_real_vs_generated_rasters(reach, tmp_path):
    fig = plots.real_vs_generated_rasters(
        reach, {"a": reach[::-1], "b": reach.spikes}, trial=1, path=tmp_path / "r.png"
    )
    assert len(fig.axes) == 3
    assert_png(tmp_path / "r.png")
    assert len(plots.real_vs_generated_rasters(reach, reach).axes) == 2
    with pytest.raises(ValueError, match="same number of neurons"):
        plots.real_vs_generated_rasters(reach, reach.spikes[:, :, :3])
