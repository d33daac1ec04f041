"""Matplotlib figures: rasters, PSTHs, LDNS-style spike-statistics comparison, hand paths.

Every function returns the :class:`matplotlib.figure.Figure` it drew and, when ``path`` is
given, also writes it as a PNG (dpi 120, tight bounding box). Callers own the figure: close
it with ``matplotlib.pyplot.close(fig)`` when done. Importing this module leaves the
matplotlib backend alone: scripts choose it (the ``eag-augment`` command uses Agg), and
matplotlib itself falls back to Agg on a machine without a display.

Spike inputs are :class:`~eag_augment.trials.TrialSet` objects (time axis in ms from
``bin_times_ms``) or arrays (trials, bins, neurons) of counts (time axis in bins).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from scipy.ndimage import gaussian_filter1d

from eag_augment import metrics
from eag_augment._arrays import as_finite_array, validate_spikes
from eag_augment.angles import angle_of_reach
from eag_augment.trials import TrialSet

__all__ = [
    "add_angle_colorbar",
    "condition_psths",
    "hand_trajectories",
    "raster",
    "real_vs_generated_rasters",
    "statistics_comparison",
]

_DPI = 120
_REAL_COLOR = "0.2"


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    return fig


def _spikes_and_times(
    trials: TrialSet | np.ndarray, name: str
) -> tuple[np.ndarray, np.ndarray, float, str]:
    """(spikes, bin centres, bin width, axis label) in ms for a TrialSet, in bins otherwise."""
    if isinstance(trials, TrialSet):
        return trials.spikes, trials.bin_times_ms, trials.bin_ms, "time (ms)"
    spikes = validate_spikes(trials, name)
    return spikes, np.arange(spikes.shape[1]) + 0.5, 1.0, "time (bins)"


def _generated_dict(
    generated: TrialSet | np.ndarray | Mapping[str, TrialSet | np.ndarray],
) -> dict[str, TrialSet | np.ndarray]:
    """A name -> set mapping; a single set is named 'generated'."""
    if isinstance(generated, Mapping):
        if not generated:
            raise ValueError("generated is an empty mapping: give at least one generated set")
        return {str(k): v for k, v in generated.items()}
    return {"generated": generated}


def _colors(names: Sequence[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    chosen = {name: cycle[i % len(cycle)] for i, name in enumerate(names)}
    chosen.update(colors or {})
    return chosen


def _check_trial(trial: int, n_trials: int, name: str) -> int:
    if not isinstance(trial, (int, np.integer)) or not -n_trials <= trial < n_trials:
        raise ValueError(f"trial must be an integer in [0, {n_trials}) for {name}, got {trial!r}")
    return int(trial) % n_trials


def raster(
    trials: TrialSet | np.ndarray,
    trial: int = 0,
    *,
    ax: Axes | None = None,
    show_behavior: bool | None = None,
    color: str = "k",
    title: str | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Spike raster of one trial: neurons (rows) against time.

    Parameters
    ----------
    trials : TrialSet or array (trials, bins, neurons)
        Spike counts per bin; a bin with several spikes shows one tick.
    trial : int
        Which trial to draw.
    ax : matplotlib Axes, optional
        Draw the raster there (then no behaviour panel is added).
    show_behavior : bool, optional
        Add the trial's behaviour trace in a panel below. Default: when the TrialSet has
        behaviour and no ``ax`` is given.
    path : path, optional
        Also save the figure as PNG there.

    Returns
    -------
    Figure
        One axes, or two with the behaviour panel.
    """
    spikes, times, width, xlabel = _spikes_and_times(trials, "trials")
    trial = _check_trial(trial, spikes.shape[0], "trials")
    behavior = trials.behavior if isinstance(trials, TrialSet) else None
    if show_behavior is None:
        show_behavior = behavior is not None and ax is None
    if show_behavior and behavior is None:
        raise ValueError("show_behavior=True but trials has no behavior")
    if show_behavior and ax is not None:
        raise ValueError("show_behavior=True needs ax=None: the behaviour panel gets its own axes")

    if ax is not None:
        fig, beh_ax = ax.figure, None
    elif show_behavior:
        fig, (ax, beh_ax) = plt.subplots(
            2, 1, sharex=True, figsize=(7, 5), gridspec_kw={"height_ratios": [3, 1]}
        )
    else:
        fig, ax = plt.subplots(figsize=(7, 4))
        beh_ax = None

    bins, neurons = np.nonzero(spikes[trial])
    n_neurons = spikes.shape[2]
    ax.scatter(times[bins], neurons, marker="|", s=max(4.0, 800.0 / n_neurons), c=color,
               linewidths=0.8)
    ax.set_xlim(times[0] - width / 2, times[-1] + width / 2)
    ax.set_ylim(-0.5, n_neurons - 0.5)
    ax.set_ylabel("neuron")
    ax.set_title(title if title is not None else f"trial {trial}")
    if beh_ax is None:
        ax.set_xlabel(xlabel)
    else:
        for channel, name in zip(behavior[trial].T, trials.behavior_names):
            beh_ax.plot(times, channel, label=name, lw=1)
        beh_ax.set_xlabel(xlabel)
        beh_ax.set_ylabel("behaviour")
        beh_ax.legend(loc="upper right", fontsize="small", frameon=False)
    return _finish(fig, path)


def condition_psths(
    trials: TrialSet,
    neurons: Sequence[int] | None = None,
    *,
    condition_column: str = "condition",
    n_neurons: int = 4,
    smooth_ms: float | None = None,
    cmap: str = "viridis",
    path: str | os.PathLike | None = None,
) -> Figure:
    """Condition-averaged firing rates (Hz) of a few neurons, one line per condition.

    Parameters
    ----------
    trials : TrialSet
        Needs the ``condition_column`` condition.
    neurons : sequence of int, optional
        Neuron indices (columns of ``spikes``); default: the ``n_neurons`` most active.
    smooth_ms : float, optional
        Standard deviation of a Gaussian smoothing of the PSTHs over time (ms).
    cmap : str
        Colour map over the sorted conditions.

    Returns
    -------
    Figure
        One axes per neuron.
    """
    if not isinstance(trials, TrialSet):
        raise TypeError(f"trials must be a TrialSet (with conditions), got {type(trials).__name__}")
    if condition_column not in trials.conditions:
        raise ValueError(
            f"trials has no condition column {condition_column!r}; "
            f"columns: {list(trials.conditions)}"
        )
    if neurons is None:
        rates = trials.spikes.mean(axis=(0, 1))
        neurons = np.argsort(rates)[::-1][: min(n_neurons, trials.n_neurons)]
    neurons = np.atleast_1d(np.asarray(neurons))
    if (
        neurons.ndim != 1
        or neurons.size == 0
        or neurons.dtype.kind not in "iu"
        or neurons.min() < 0
        or neurons.max() >= trials.n_neurons
    ):
        raise ValueError(
            f"neurons must be indices in [0, {trials.n_neurons}), got {neurons.tolist()}"
        )

    conditions, means = metrics.psth(trials, trials.conditions[condition_column].to_numpy())
    rates_hz = means[:, :, neurons] * (1000.0 / trials.bin_ms)
    if smooth_ms:
        rates_hz = gaussian_filter1d(rates_hz, smooth_ms / trials.bin_ms, axis=1)
    colors = plt.get_cmap(cmap)(np.linspace(0, 1, conditions.size))

    n_cols = min(4, neurons.size)
    n_rows = -(-neurons.size // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.2 * n_cols, 2.6 * n_rows), sharex=True, squeeze=False
    )
    for ax in axes.ravel()[neurons.size :]:
        ax.remove()
    for i, (ax, neuron) in enumerate(zip(axes.ravel(), neurons)):
        for c, label in enumerate(conditions):
            ax.plot(trials.bin_times_ms, rates_hz[c, :, i], color=colors[c], lw=1,
                    label=str(label))
        ax.set_title(f"neuron {trials.neuron_ids[neuron]}")
        ax.set_xlabel("time (ms)")
        ax.set_ylabel("rate (Hz)")
    if conditions.size <= 10:
        axes[0, 0].legend(title=condition_column, fontsize="small", frameon=False)
    fig.tight_layout()
    return _finish(fig, path)


def _identity(ax: Axes, *arrays: np.ndarray) -> None:
    """Dashed y = x line over the range of the finite values given."""
    values = np.concatenate([np.ravel(a) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size:
        lo, hi = values.min(), values.max()
        ax.plot([lo, hi], [lo, hi], ls="--", color="0.6", lw=1, zorder=0)


def statistics_comparison(
    real: TrialSet | np.ndarray,
    generated: TrialSet | np.ndarray | Mapping[str, TrialSet | np.ndarray],
    *,
    bin_ms: float | None = None,
    colors: Mapping[str, str] | None = None,
    path: str | os.PathLike | None = None,
) -> Figure:
    """LDNS-style four-panel comparison of spike statistics, one colour per generator.

    Panels: population spike-count distribution (:func:`metrics.population_count_pmf`),
    pairwise correlations real vs generated (strict lower triangle of
    :func:`metrics.pairwise_correlations`), mean ISI and std ISI per neuron real vs generated
    (:func:`metrics.isi_statistics`; seconds with ``bin_ms``, else bins).

    Parameters
    ----------
    real : TrialSet or array (trials, bins, neurons)
    generated : TrialSet, array, or mapping name -> TrialSet/array
        Sets with the same number of neurons as ``real``.
    colors : mapping name -> colour, optional

    Returns
    -------
    Figure
        Four axes.
    """
    sets = _generated_dict(generated)
    real_spikes = real.spikes if isinstance(real, TrialSet) else validate_spikes(real, "real")
    gen_spikes = {}
    for name, value in sets.items():
        arr = value.spikes if isinstance(value, TrialSet) else validate_spikes(value, name)
        if arr.shape[2] != real_spikes.shape[2]:
            raise ValueError(
                f"generated set {name!r} has {arr.shape[2]} neurons, real has "
                f"{real_spikes.shape[2]}"
            )
        gen_spikes[name] = arr
    palette = _colors(list(sets), colors)
    unit = "bins" if bin_ms is None else "s"

    counts = {name: metrics.population_counts(arr) for name, arr in gen_spikes.items()}
    real_counts = metrics.population_counts(real_spikes)
    maxval = int(max(real_counts.max(), *(c.max() for c in counts.values())))
    lower = np.tril_indices(real_spikes.shape[2], k=-1)
    real_corr = metrics.pairwise_correlations(real_spikes)[lower]
    real_isi = metrics.isi_statistics(real, bin_ms)

    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    grid = np.arange(maxval + 1)
    axes[0].fill_between(grid, metrics.population_count_pmf(real_counts, maxval),
                         color=_REAL_COLOR, alpha=0.3, step="mid", label="real")
    for name, arr in gen_spikes.items():
        axes[0].step(grid, metrics.population_count_pmf(counts[name], maxval), where="mid",
                     color=palette[name], label=name)
        isi = metrics.isi_statistics(sets[name], bin_ms)
        gen_corr = metrics.pairwise_correlations(arr)[lower]
        scatter = dict(s=6, alpha=0.6, color=palette[name], label=name)
        axes[1].scatter(real_corr, gen_corr, **scatter)
        axes[2].scatter(real_isi[0], isi[0], **scatter)
        axes[3].scatter(real_isi[1], isi[1], **scatter)
    for ax, title in zip(axes[1:], ["pairwise correlation", f"mean ISI ({unit})",
                                    f"std ISI ({unit})"]):
        _identity(ax, *(points.get_offsets() for points in ax.collections))
        ax.set_title(title)
        ax.set_xlabel("real")
        ax.set_ylabel("generated")
    axes[0].set_title("population spike count")
    axes[0].set_xlabel("spikes per bin (all neurons)")
    axes[0].set_ylabel("probability")
    axes[0].legend(fontsize="small", frameon=False)
    fig.suptitle("Spike statistics of generated trials against real ones (dashed: equal)",
                 fontsize="medium")
    fig.tight_layout()
    return _finish(fig, path)


def add_angle_colorbar(fig: Figure, ax: Axes | Sequence[Axes], cmap: str = "hsv") -> None:
    """The colour key of :func:`hand_trajectories`: reach angle in degrees, -180 to 180."""
    mappable = ScalarMappable(Normalize(-180, 180), plt.get_cmap(cmap))
    bar = fig.colorbar(mappable, ax=ax, fraction=0.046, pad=0.04, ticks=[-180, -90, 0, 90, 180])
    bar.set_label("reach angle (deg)")


def _position_label(axis: str, velocity_unit: str | None) -> str:
    if velocity_unit is None:
        return f"{axis} position (velocity unit x s)"
    if velocity_unit.endswith("/s"):
        return f"{axis} position ({velocity_unit[:-2]})"
    return f"{axis} position ({velocity_unit} x s)"


def hand_trajectories(
    velocity: TrialSet | np.ndarray,
    bin_ms: float | None = None,
    *,
    angles: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    velocity_unit: str | None = None,
    ax: Axes | None = None,
    cmap: str = "hsv",
    path: str | os.PathLike | None = None,
) -> Figure:
    """Hand paths integrated from velocity, coloured by reach angle.

    Positions are the cumulative sum of velocity x bin seconds, starting at the origin.
    A figure of its own gets a colour bar of reach angle; with ``ax`` the caller adds one
    (:func:`add_angle_colorbar`), e.g. once for several panels.

    Parameters
    ----------
    velocity : TrialSet or array (trials, bins, >=2)
        Hand velocity (x, y first) in the data's units per second; for a TrialSet its
        ``behavior``, bin width and ``angles`` are used.
    bin_ms : float
        Bin width in ms; required for an array, checked against a TrialSet.
    angles : array (trials,), optional
        Reach angle (radians) per trial for the colours; default: the TrialSet's angles, else
        the direction of net displacement.
    predicted : array like ``velocity``, optional
        Decoded velocity of the same trials, drawn dashed in the same colours.
    velocity_unit : str, optional
        Unit of the velocity, e.g. "mm/s": the axes are then labelled in "mm".
    cmap : str
        Colour map over angle in [-pi, pi] (a cyclic one by default).

    Returns
    -------
    Figure
        One axes (and a colour bar when the function made the figure).
    """
    if isinstance(velocity, TrialSet):
        if velocity.behavior is None:
            raise ValueError("velocity is a TrialSet without behavior")
        if bin_ms is not None and not np.isclose(bin_ms, velocity.bin_ms):
            raise ValueError(
                f"bin_ms is {bin_ms:g} but velocity has bins of {velocity.bin_ms:g} ms"
            )
        if angles is None:
            angles = velocity.angles
        bin_ms, velocity = velocity.bin_ms, velocity.behavior
    elif bin_ms is None:
        raise ValueError("bin_ms is required when velocity is an array")
    bin_ms = float(bin_ms)
    velocity = as_finite_array(velocity, "velocity", 3, dtype=float)
    if velocity.shape[2] < 2:
        raise ValueError(f"velocity needs x and y channels, got shape {velocity.shape}")
    if not np.isfinite(bin_ms) or bin_ms <= 0:
        raise ValueError(f"bin_ms must be a positive number of milliseconds, got {bin_ms}")
    angles = angle_of_reach(velocity) if angles is None else np.asarray(angles, dtype=float)
    if angles.shape != (velocity.shape[0],) or not np.all(np.isfinite(angles)):
        raise ValueError(
            f"angles must be finite with shape ({velocity.shape[0]},), got shape {angles.shape}"
        )
    if predicted is not None:
        predicted = as_finite_array(predicted, "predicted", 3, dtype=float)
        if predicted.shape[:2] != velocity.shape[:2] or predicted.shape[2] < 2:
            raise ValueError(
                f"predicted must have shape {velocity.shape[:2]} + (>=2,) like velocity, "
                f"got {predicted.shape}"
            )

    def paths(v: np.ndarray) -> np.ndarray:
        steps = v[:, :, :2] * (bin_ms / 1000.0)
        return np.concatenate([np.zeros((len(v), 1, 2)), np.cumsum(steps, axis=1)], axis=1)

    colors = plt.get_cmap(cmap)((np.angle(np.exp(1j * angles)) + np.pi) / (2 * np.pi))
    own_figure = ax is None
    fig, ax = plt.subplots(figsize=(5.6, 5)) if own_figure else (ax.figure, ax)
    ax.add_collection(LineCollection(paths(velocity), colors=colors, lw=1.2))
    if predicted is not None:
        ax.add_collection(LineCollection(paths(predicted), colors=colors, lw=1.2, linestyles="--"))
    ax.autoscale_view()
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(_position_label("x", velocity_unit))
    ax.set_ylabel(_position_label("y", velocity_unit))
    ax.set_title("hand paths" + (" (dashed: decoded)" if predicted is not None else ""))
    if own_figure:
        add_angle_colorbar(fig, ax, cmap)
    return _finish(fig, path)


def real_vs_generated_rasters(
    real: TrialSet | np.ndarray,
    generated: TrialSet | np.ndarray | Mapping[str, TrialSet | np.ndarray],
    *,
    trial: int = 0,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Side-by-side rasters of one trial of the real set and of each generated set.

    A generated trial ``trial`` is not a copy of the real one: the panels compare what
    single trials look like, not spike for spike.

    Returns
    -------
    Figure
        ``1 + len(generated)`` axes sharing the neuron axis.
    """
    sets = {"real": real, **_generated_dict(generated)}
    n_neurons = {name: _spikes_and_times(s, name)[0].shape[2] for name, s in sets.items()}
    if len(set(n_neurons.values())) > 1:
        raise ValueError(f"all sets must have the same number of neurons, got {n_neurons}")
    fig, axes = plt.subplots(1, len(sets), figsize=(4.5 * len(sets), 4), sharey=True,
                             squeeze=False)
    for ax, (name, value) in zip(axes[0], sets.items()):
        title = f"real trial {trial}" if name == "real" else f"generated by {name}, trial {trial}"
        raster(value, trial, ax=ax, title=title, color=_REAL_COLOR if name == "real" else "C0")
    for ax in axes[0, 1:]:
        ax.set_ylabel("")
    fig.suptitle("One trial each: a tick per bin with spikes (real training trials vs generated)",
                 fontsize="medium")
    fig.tight_layout()
    return _finish(fig, path)
