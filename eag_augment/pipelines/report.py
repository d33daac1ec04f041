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
def scores_figure(summary: pd.DataFrame, path: Path) -> Path:
    """Test R^2 (mean ± s.e.m.) per decoder: learning curves, or bars for one fraction."""
    import matplotlib.pyplot as plt

    test_sets = list(dict.fromkeys(summary["test_set"]))
    decoders = list(dict.fromkeys(summary["decoder"]))
    augmenters = list(dict.fromkeys(summary["augmenter"]))
    fractions = sorted(summary["train_fraction"].unique())
    fig, axes = plt.subplots(len(test_sets), len(decoders), squeeze=False,
                             figsize=(3.6 * len(decoders), 3.2 * len(test_sets)))
    width = 0.8 / len(augmenters)
    for i, test_set in enumerate(test_sets):
        for j, decoder in enumerate(decoders):
            ax = axes[i, j]
            for k, aug in enumerate(augmenters):
                part = summary[(summary["test_set"] == test_set)
                               & (summary["decoder"] == decoder)
                               & (summary["augmenter"] == aug)].sort_values("train_fraction")
                err = part["r2_sem"].fillna(0.0)
                if len(fractions) == 1:
                    ax.bar(k * width, part["r2_mean"], width, yerr=err, color=f"C{k}",
                           label=aug, capsize=3)
                else:
                    ax.errorbar(part["train_fraction"] * 100, part["r2_mean"], yerr=err,
                                marker="o", color=f"C{k}", label=aug, capsize=3)
            if len(fractions) == 1:
                ax.set_xticks([])
                ax.set_xlabel(f"{fractions[0]:.0%} of the real training trials")
            else:
                ax.set_xscale("log")
                ax.set_xlabel("real training trials (%)")
            ax.set_title(decoder if len(test_sets) == 1 else f"{decoder} ({test_set})")
            ax.set_ylabel("test R^2")
    axes[0, 0].legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _trajectories_figure(artifacts: dict[str, dict], decoder: str, bin_ms: float, path: Path):
    import matplotlib.pyplot as plt

    from eag_augment import plots

    first = next(iter(artifacts.values()))
    panels = [("true", None)] + [(name, art["predicted"]) for name, art in artifacts.items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2), squeeze=False)
    for ax, (name, predicted) in zip(axes[0], panels):
        velocity = first["velocity"] if predicted is None else predicted
        plots.hand_trajectories(velocity, bin_ms, angles=first["angles"], ax=ax)
        ax.set_title("true hand paths" if predicted is None else f"{decoder}, trained with {name}")
    fig.tight_layout()
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
        _trajectories_figure(artifacts, figures["decoder"], pool.bin_ms, written[-1])
    return written


def figure_trials(angles: np.ndarray, n: int) -> np.ndarray:
    """Up to ``n`` trial indices spread evenly over the trials sorted by reach angle."""
    order = np.argsort(angles, kind="stable")
    picks = np.unique(np.linspace(0, len(order) - 1, min(n, len(order))).round().astype(int))
    return np.sort(order[picks])
