"""Results of a run: the summary table (mean +- s.e.m. over seeds, gain over a baseline),
its Markdown form, and the figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["summarize", "markdown_table", "make_figures", "figure_trials"]

_GROUP = ["test_set", "train_fraction", "decoder", "augmenter"]


def _sem(values: pd.Series) -> float:
    values = values.dropna()
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def summarize(rows: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One row per (test set, training fraction, decoder, augmenter) over seeds.

    Parameters
    ----------
    rows : DataFrame
        One row per run with columns test_set, train_fraction, decoder, augmenter, seed, r2,
        augment_s, fit_s.
    baseline : str, optional
        Augmenter the gains are measured against (paired by seed).

    Returns
    -------
    DataFrame with r2_mean, r2_sem (NaN for a single seed), n_seeds, mean timings and, with a
    baseline, gain_mean / gain_sem (R^2 minus the baseline's R^2 of the same seed).
    """
    rows = rows.copy()
    if baseline is not None:
        base = rows[rows["augmenter"] == baseline].set_index(
            ["test_set", "train_fraction", "decoder", "seed"])["r2"]
        keys = pd.MultiIndex.from_frame(rows[["test_set", "train_fraction", "decoder", "seed"]])
        rows["gain"] = rows["r2"].to_numpy() - base.reindex(keys).to_numpy()
    agg = {"r2_mean": ("r2", "mean"), "r2_sem": ("r2", _sem), "n_seeds": ("seed", "nunique"),
           "augment_s": ("augment_s", "mean"), "fit_s": ("fit_s", "mean")}
    if baseline is not None:
        agg.update(gain_mean=("gain", "mean"), gain_sem=("gain", _sem))
    return rows.groupby(_GROUP, sort=False).agg(**agg).reset_index()


def _cell(row: pd.Series, baseline: str | None) -> str:
    text = f"{row.r2_mean:.3f}"
    if not math.isnan(row.r2_sem):
        text += f" ± {row.r2_sem:.3f}"
    if baseline is not None and row.augmenter != baseline and not math.isnan(row.gain_mean):
        text += f" ({row.gain_mean:+.3f})"
    return text


def markdown_table(summary: pd.DataFrame, baseline: str | None = None) -> str:
    """Test R^2 as a Markdown table: a row per (test set, fraction, decoder), a column per
    augmenter; cells "mean ± s.e.m. (gain over the baseline)"."""
    augmenters = list(dict.fromkeys(summary["augmenter"]))
    several_sets = summary["test_set"].nunique() > 1
    head = (["test set"] if several_sets else []) + ["decoder", "real trials"] + augmenters
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for (test_set, fraction, decoder), group in summary.groupby(
            ["test_set", "train_fraction", "decoder"], sort=False):
        cells = {r.augmenter: _cell(r, baseline) for r in group.itertuples()}
        row = ([test_set] if several_sets else []) + [decoder, f"{fraction:.0%}"]
        lines.append("| " + " | ".join(row + [cells.get(a, "") for a in augmenters]) + " |")
    lo, hi = summary["n_seeds"].min(), summary["n_seeds"].max()
    if hi == 1:
        note = "Test R^2 (one seed)"
    else:
        seeds = f"{lo} seeds" if lo == hi else f"{lo}-{hi} seeds"
        note = f"Test R^2, mean ± s.e.m. over {seeds}"
    note += f"; in brackets: gain over {baseline!r}." if baseline is not None else "."
    return "\n".join(lines) + "\n\n" + note + "\n"


# -------------------------------------------------------------------------- figures
def _seeds_note(summary: pd.DataFrame) -> str:
    lo, hi = int(summary["n_seeds"].min()), int(summary["n_seeds"].max())
    if hi == 1:
        return "one seed, no error bars"
    seeds = f"{lo} seeds" if lo == hi else f"{lo}-{hi} seeds"
    return f"mean ± s.e.m. over {seeds}"


def scores_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Test R^2 per decoder and augmenter: bars for one training fraction (labelled with
    their values), learning curves for several; error bars (s.e.m.) only over several seeds.
    """
    import matplotlib.pyplot as plt

    test_sets = list(dict.fromkeys(summary["test_set"]))
    decoders = list(dict.fromkeys(summary["decoder"]))
    augmenters = list(dict.fromkeys(summary["augmenter"]))
    fractions = sorted(summary["train_fraction"].unique())
    bars = len(fractions) == 1
    fig, axes = plt.subplots(len(test_sets), len(decoders), squeeze=False, sharey="row",
                             figsize=(max(3.6, 0.7 * len(augmenters) + 1.2) * len(decoders),
                                      3.4 * len(test_sets) + 0.6),
                             layout="constrained")
    for i, test_set in enumerate(test_sets):
        for j, decoder in enumerate(decoders):
            ax = axes[i, j]
            for k, aug in enumerate(augmenters):
                part = summary[(summary["test_set"] == test_set)
                               & (summary["decoder"] == decoder)
                               & (summary["augmenter"] == aug)].sort_values("train_fraction")
                # One seed has no spread: no error bar rather than a zero-width one.
                err = part["r2_sem"] if part["r2_sem"].notna().any() else None
                if bars:
                    drawn = ax.bar(k, part["r2_mean"], 0.7, yerr=err, color=f"C{k}",
                                   capsize=3)
                    ax.bar_label(drawn, fmt="%.3f", fontsize="small", padding=2)
                else:
                    ax.errorbar(part["train_fraction"] * 100, part["r2_mean"], yerr=err,
                                marker="o", color=f"C{k}", label=aug, capsize=3)
            if bars:
                ax.set_xticks(range(len(augmenters)), augmenters, rotation=30, ha="right")
                ax.set_xlabel("augmenter")
                ax.margins(y=0.12)  # room for the value labels
            else:
                ax.set_xscale("log")
                ax.set_xticks([100 * f for f in fractions], [f"{f:.0%}" for f in fractions])
                ax.minorticks_off()
                ax.set_xlabel("real training trials used")
            ax.set_title(decoder if len(test_sets) == 1 else f"{decoder} ({test_set} trials)")
            ax.set_ylabel("test R^2 of velocity" if j == 0 else "")
    scope = f"{fractions[0]:.0%} of the real training trials" if bars else "learning curves"
    fig.suptitle(f"Decoding with and without synthetic trials: {scope} "
                 f"({_seeds_note(summary)})", fontsize="medium")
    if not bars:
        # Outside the axes, so that no curve is hidden behind it.
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 6),
                   frameon=False, title="augmenter")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _velocity_unit(pool) -> str | None:
    """The behaviour unit recorded by load_nwb for data read from an NWB file, if any."""
    return pool.conditions.attrs.get("nwb_metadata", {}).get("behavior_unit")


def _trajectories_figure(artifacts: dict[str, dict], decoder: str, bin_ms: float, path: Path,
                         velocity_unit: str | None = None):
    import matplotlib.pyplot as plt

    from eag_augment import plots

    first = next(iter(artifacts.values()))
    panels = [("true", None)] + [(name, art["predicted"]) for name, art in artifacts.items()]
    # Shared axes: the decoded paths are read against the true ones at the same scale.
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1, 4.6),
                             squeeze=False, sharex=True, sharey=True, layout="constrained")
    for ax, (name, predicted) in zip(axes[0], panels):
        velocity = first["velocity"] if predicted is None else predicted
        plots.hand_trajectories(velocity, bin_ms, angles=first["angles"],
                                velocity_unit=velocity_unit, ax=ax)
        ax.set_title("true hand paths" if predicted is None else f"decoded by {decoder}, "
                     f"trained with {'real trials only' if name == 'none' else name}")
    for ax in axes[0, 1:]:
        ax.set_ylabel("")
    plots.add_angle_colorbar(fig, list(axes[0]))
    fig.suptitle(f"Hand paths of {len(first['angles'])} test trials (integrated velocity), "
                 "coloured by reach direction", fontsize="medium")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def make_figures(out: Path, figures: dict, summary: pd.DataFrame, pool,
                 artifacts: dict) -> list[Path]:
    """Write the figures a ``[figures]`` table asks for; returns their paths.

    ``artifacts`` maps augmenter name -> what its figure job kept: ``synthetic`` (TrialSet or
    None), ``velocity`` / ``angles`` of the plotted test trials and ``predicted`` (the figure
    decoder's decoded velocity of them). ``pool`` is the real training pool the generated
    trials are compared with.
    """
    import matplotlib.pyplot as plt

    from eag_augment import plots

    written = []
    if figures["scores"]:
        written.append(out / "scores.png")
        scores_figure(summary, written[-1])
    generated = {name: art["synthetic"] for name, art in artifacts.items()
                 if art.get("synthetic") is not None}
    if generated and figures["rasters"]:
        written.append(out / "rasters.png")
        plt.close(plots.real_vs_generated_rasters(pool, generated, path=written[-1]))
    if generated and figures["statistics"]:
        written.append(out / "statistics.png")
        plt.close(plots.statistics_comparison(pool, generated, bin_ms=pool.bin_ms,
                                              path=written[-1]))
    if artifacts and figures["trajectories"] and pool.behavior.shape[2] >= 2:
        written.append(out / "trajectories.png")
        _trajectories_figure(artifacts, figures["decoder"], pool.bin_ms, written[-1],
                             _velocity_unit(pool))
    return written


def figure_trials(angles: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` trial indices spread evenly over the trials sorted by reach angle."""
    order = np.argsort(angles, kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int))
    return np.sort(order[picks])
