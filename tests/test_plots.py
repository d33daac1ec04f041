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
    assert len(fig.axes) == 2  # the paths and their colour key
    real_paths, decoded = fig.axes[0].collections
    assert len(real_paths.get_paths()) == reach.n_trials
    # Integrated path: end point = sum of velocity x bin seconds.
    end = real_paths.get_segments()[0][-1]
    np.testing.assert_allclose(end, reach.behavior[0].sum(axis=0) * 0.01)
    assert_png(tmp_path / "h.png")
    assert len(plots.hand_trajectories(reach.behavior, 10).axes) == 2
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


def test_hand_trajectories_read_without_the_text(reach):
    fig = plots.hand_trajectories(reach, velocity_unit="mm/s")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x position (mm)" and ax.get_ylabel() == "y position (mm)"
    assert fig.axes[1].get_ylabel() == "reach angle (deg)"  # the colour key
    _, given = plt.subplots()
    assert len(plots.hand_trajectories(reach, ax=given).axes) == 1  # the caller adds the key
    assert "velocity unit x s" in given.get_xlabel()


def _summary(n_seeds: int, fractions=(0.1,)) -> pd.DataFrame:
    rows = [dict(test_set="test", train_fraction=f, decoder=d, augmenter=a, seed=s,
                 r2=0.5 + 0.1 * (a == "eag") + 0.01 * s + f, augment_s=0.0, fit_s=0.0)
            for f in fractions for d in ("ridge", "gru") for a in ("none", "eag")
            for s in range(n_seeds)]
    from eag_augment.pipelines import summarize

    return summarize(pd.DataFrame(rows), "none")


def _drawn(summary, png, monkeypatch):
    """The figure scores_figure draws, caught before it is closed."""
    from eag_augment.pipelines import scores_figure

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    scores_figure(summary, png)
    return figures[0]


@pytest.mark.parametrize("n_seeds", [1, 3])
def test_scores_bars_are_labelled_and_only_spread_gets_error_bars(n_seeds, tmp_path,
                                                                 monkeypatch):
    fig = _drawn(_summary(n_seeds), tmp_path / "s.png", monkeypatch)
    assert_png(tmp_path / "s.png")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["none", "eag"]  # no legend needed
    assert ax.get_legend() is None and not fig.legends
    values = [t.get_text() for t in ax.texts]
    assert len(values) == 2 and all(v.startswith("0.") for v in values)
    error_bars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert bool(error_bars) == (n_seeds > 1)
    assert ("one seed" in fig.get_suptitle()) == (n_seeds == 1)


def test_learning_curves_keep_the_legend_outside_the_axes(tmp_path, monkeypatch):
    fig = _drawn(_summary(2, (0.05, 0.1, 0.5)), tmp_path / "c.png", monkeypatch)
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["5%", "10%", "50%"]


def test_trajectories_figure_shares_axes_and_has_a_colour_key(reach, tmp_path, monkeypatch):
    from eag_augment.pipelines.report import _trajectories_figure

    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    artifacts = {name: {"velocity": reach.behavior, "angles": reach.angles,
                        "predicted": 0.8 * reach.behavior} for name in ("none", "eag")}
    _trajectories_figure(artifacts, "gru", reach.bin_ms, tmp_path / "t.png", "mm/s")
    fig = figures[0]
    panels, key = fig.axes[:3], fig.axes[3]
    assert key.get_ylabel() == "reach angle (deg)"
    assert all(ax.get_shared_x_axes().joined(panels[0], ax) for ax in panels)
    assert panels[0].get_xlabel() == "x position (mm)"
    assert panels[1].get_title() == "decoded by gru, trained with real trials only"
