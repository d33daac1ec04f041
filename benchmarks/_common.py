"""Shared plumbing of the benchmark scripts: arguments, machine info, result files, model cache,
decoders fitted without augmentation, bar charts with intervals."""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from eag_augment._progress import duration
from eag_augment.pipelines import RunSpec, load_spec
from eag_augment.pipelines.environment import machine_info, source_revision

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPECS = ROOT / "benchmarks" / "specs"
CACHE = ROOT / "runs" / "benchmark_models"
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_MAT = SHARED_DATA / "m1_stevenson_2011.mat"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes: checks that the script runs (results are not meaningful)")
    p.add_argument("--refit", action="store_true", help="ignore cached fitted models")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for JSON and PNG results")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    return p


def sweep_parser(description: str, datasets: tuple[str, ...] = ("synthetic", "m1")
                 ) -> argparse.ArgumentParser:
    """:func:`parser` plus the options of the benchmarks driven by a run spec; the first of
    ``datasets`` is the default."""
    p = parser(description)
    p.add_argument("--dataset", choices=datasets, default=datasets[0])
    p.add_argument("--mat", type=Path, default=DEFAULT_MAT,
                   help="the M1 recording (m1_stevenson_2011.mat; see ../shared/data/README.md)")
    p.add_argument("--profile", choices=("medium",),
                   help="a [profiles.NAME] of the spec (--quick selects 'quick')")
    p.add_argument("--n-jobs", type=int, help="jobs in parallel (default: the spec's, 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec entry, e.g. sweep.seeds=3 (repeatable)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild tables and figures from the last run's rows without rerunning")
    p.add_argument("--resume", action="store_true",
                   help="reuse the jobs an earlier run of the same settings finished (the run "
                        "folder's jobs/) and run only the rest: a stopped run goes on")
    p.add_argument("--variant", type=file_name_part, metavar="NAME",
                   help="a run with other settings (--set) beside the standard one: NAME is "
                        "appended to its run folder and result files, which it leaves alone")
    return p


def add_redraw(p: argparse.ArgumentParser, results: str) -> None:
    """The --redraw option of a script that can draw its figures from its published JSON."""
    p.add_argument("--redraw", type=Path, metavar="RESULT_JSON",
                   help=f"redraw the figures of a published result ({results}) from its "
                        "tables, beside it, and stop: no run folder needed")


def published(path: Path, benchmark: str) -> dict:
    """A result file ``benchmark`` wrote (benchmarks/results/<stem>.json), for --redraw."""
    saved = json.loads(path.read_text())
    if saved.get("benchmark") != benchmark:
        raise SystemExit(f"--redraw {path}: not a {benchmark} result")
    return saved


def print_redrawn(drawn: dict[str, Path]) -> None:
    """Say which figures --redraw wrote (none when the result augmented nothing)."""
    print("wrote " + ", ".join(shown(p) for p in drawn.values()) if drawn
          else "nothing augmented: no figure to draw")


def file_name_part(text: str) -> str:
    """An argparse type for a name appended to run folders and result files."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9_]*", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: a name for result files is lower-case letters, digits and underscores")
    return text


def spec_overrides(args: argparse.Namespace) -> list[str]:
    """The spec overrides that --set, --n-jobs and --threads ask for."""
    overrides = list(args.set)
    if args.n_jobs is not None:
        overrides.append(f"n_jobs={args.n_jobs}")
    if args.threads:
        overrides.append(f"torch_threads={args.threads}")
    return overrides


def setup(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)


def sweep_spec(args: argparse.Namespace, benchmark: str, spec_file: str
               ) -> tuple[RunSpec, str | None, str] | None:
    """Set up a spec-driven benchmark: (spec, profile, stem of its result files).

    Applies --quick/--profile and the overrides, points an M1 spec at --mat and turns on the
    package's progress log. None, after saying why, when the M1 recording is missing: a
    machine without the recording skips the benchmark instead of failing.
    """
    setup(args)
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("eag_augment").setLevel(logging.INFO)
    overrides = spec_overrides(args)
    if args.dataset == "m1":
        if not args.mat.is_file():
            print(f"{benchmark}: skipping the M1 benchmark: no recording at {args.mat}. It is "
                  f"{DEFAULT_MAT.name} from the MIT-licensed KordingLab/spykesML repository "
                  "(data/); pass its path with --mat.")
            return None
        overrides.append(f'dataset.path="{args.mat.resolve()}"')
    profile = "quick" if args.quick else args.profile
    spec = load_spec(SPECS / spec_file, profile=profile, overrides=overrides)
    suffix = f"_{args.variant}" if args.variant else ""
    spec.output = ROOT / f"{spec.output}{suffix}"
    return spec, profile, (f"{benchmark}_{args.dataset}" + (f"_{profile}" if profile else "")
                           + suffix)


# Read at import, as the package's: a run's page names the commit it started from, even when
# main moves on before the run writes it.
_REVISION = source_revision(ROOT)


def machine() -> dict:
    """What the numbers were measured on (the package's record plus the benchmarks' commit,
    date and command)."""
    return {**machine_info(), "date": time.strftime("%Y-%m-%d %H:%M"),
            "commit": _REVISION or "",
            "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}


def run_machine(spec: RunSpec, resumed: list[dict]) -> dict:
    """:func:`machine` for a spec-driven run, with the torch threads each job used and the
    jobs it resumed from earlier runs (``RunResult.resumed``: job, wall time, date, CPU)."""
    info = machine()
    return {**info, "torch_threads": spec.torch_threads or info["torch_threads"],
            "resumed_jobs": resumed}


def measured_on(info: dict, wall_s: float) -> str:
    """The line that opens a result page: hardware, commit, date, command, wall time and the
    jobs resumed from earlier runs, whose own time the wall time leaves out."""
    # Results saved before the version was shown have it in their machine record.
    version = f" (eag_augment {info['eag_augment']})" if info.get("eag_augment") else ""
    text = (f"Measured on {info['cpu']} ({info['cores']} cores, {info['torch_threads']} torch "
            f"thread(s) per job, native bf16: {info['native_bf16']}), commit {info['commit']}"
            f"{version}, "
            f"{info['date']}; command `{info['command']}`; wall time {duration(wall_s)}")
    if resumed := info.get("resumed_jobs"):
        dates = sorted(r["date"] for r in resumed)
        cpus = ", ".join(sorted({r["cpu"] for r in resumed}))
        # Jobs saved before commits were recorded say nothing of theirs.
        commits = sorted({c for r in resumed if (c := r.get("commit"))})
        text += (f", besides {len(resumed)} jobs resumed from earlier runs of the same settings "
                 f"({sum(r['wall_s'] for r in resumed) / 3600:.1f} h of job time, "
                 f"{dates[0]} to {dates[-1]}, on {cpus}"
                 + (f"; computed at commit {', '.join(commits)}" if commits else "") + ")")
    return text + ".\n"


def shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it."""
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def write_json(path: Path, payload: dict) -> Path:
    def default(o):
        if isinstance(o, (np.integer, np.floating)):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")

    path.write_text(json.dumps(payload, indent=2, default=default) + "\n")
    print(f"wrote {shown(path)}")
    return path


@contextmanager
def timed(store: dict, key: str):
    """Wall-clock seconds of the block into ``store[key]``."""
    start = time.perf_counter()
    yield
    store[key] = time.perf_counter() - start


def cached(name: str, fit: Callable[[], object], load: Callable[[Path], object],
           refit: bool, save: Callable[[object, Path], object] | None = None):
    """A fitted model from ``runs/benchmark_models/<name>``, fitting and saving it if absent.

    Returns (model, fit seconds): the seconds of this fit, or those recorded next to the
    cached model when it was fitted (None when no record exists).
    """
    path = CACHE / name
    record = path.with_name(path.name + ".json")
    if path.exists() and not refit:
        print(f"loading cached {name}")
        seconds = json.loads(record.read_text())["fit_s"] if record.exists() else None
        return load(path), seconds
    start = time.perf_counter()
    model = fit()
    seconds = time.perf_counter() - start
    path.parent.mkdir(parents=True, exist_ok=True)
    (save or (lambda m, p: m.save(p)))(model, path)
    record.write_text(json.dumps({"fit_s": seconds, "machine": machine()}) + "\n")
    return model, seconds


def summary(stats: dict[str, dict]) -> dict[str, float]:
    """{metric: mean} of a spike_statistics result."""
    return {k: v["mean"] for k, v in stats.items()}


# ------------------------------------------------------------- decoders and figures
def fit_decoders(X: np.ndarray, y: np.ndarray, decoders: dict, tuning: dict | None,
                 seed: int, validation: np.ndarray | None = None
                 ) -> dict[tuple[str, str], object]:
    """Every decoder fitted on (X, y) alone, as the runner fits the baselines.

    Parameters
    ----------
    X : array (trials, bins, neurons)
        Spike counts, or expected counts (floats), of the training trials.
    y : array (trials, bins, dims)
        Their velocity.
    decoders : dict of name -> unfitted decoder
    tuning : a spec's validated ``[tuning]`` table, or None
        With it, each decoder is tuned by inner blocked cross-validation on (X, y) over the
        table's grids (:func:`eag_augment.model_selection.tune_decoders`, no augmentation),
        and also fitted with its fixed settings unless ``tuning["fixed"]`` is false.
    seed : int
        For decoders whose ``random_state`` is None (and the tuning's draws).
    validation : array (trials, bins, neurons), optional
        What each trial of X stands for, read by the inner validation folds instead of X
        (:func:`select_on`): for training sets unlike the trials decoded later, e.g.
        noise-free rates, whose own inner folds reward settings that fail on counts.

    Returns
    -------
    dict (name, mode) -> fitted decoder, mode "tuned" or "fixed".
    """
    from eag_augment.model_selection import BlockedKFold, tune_decoders
    from eag_augment.model_selection._tuning import _seeded

    fitted = {}
    cv = BlockedKFold(tuning["cv_folds"], gap=tuning["cv_gap"]) if tuning is not None else None
    if tuning is not None and validation is not None:
        fitted.update({(name, "tuned"): select_on(dec, X, y, validation, cv,
                                                  tuning["param_grids"].get(name),
                                                  tuning["n_iter"], seed)
                       for name, dec in decoders.items()})
    elif tuning is not None:
        pipes = tune_decoders(decoders, None, X, y, param_grids=tuning["param_grids"],
                              ratios=(0,), cv=cv, n_iter=tuning["n_iter"], random_state=seed)
        fitted.update({(name, "tuned"): pipe for name, pipe in pipes.items()})
    if tuning is None or tuning["fixed"]:
        fitted.update({(name, "fixed"): _seeded(proto, seed).fit(X, y)
                       for name, proto in decoders.items()})
    return fitted


def select_on(decoder, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, cv,
              param_grid: dict | list | None, n_iter: int | None, seed: int):
    """``decoder`` tuned on (X, y) by cross-validation whose validation folds read ``X_val``.

    ``X_val[i]`` is what ``X[i]`` stands for (the real counts of the trial whose velocity
    synthetic trial i was generated at): each setting of ``param_grid`` is fitted on X of the
    ``cv`` splitter's training folds and scored by velocity R^2 on X_val of its validation
    folds; the setting with the highest mean (the first on ties) is refitted on all of
    (X, y). The settings are those :func:`~eag_augment.model_selection.tune_decoders` scores
    for the same ``param_grid``, ``n_iter`` and seed (None: the decoder's default search
    space). The result has seen X only; its ``best_params_`` and ``validation_r2_`` say what
    was chosen and how it scored. Raises ValueError when no setting predicts finite values on
    every validation fold.
    """
    from sklearn.base import clone

    from eag_augment.metrics import velocity_r2
    from eag_augment.model_selection._tuning import _decoder_settings, _seeded

    settings = _decoder_settings(decoder, param_grid, n_iter, seed)
    seeded = _seeded(decoder, seed)
    folds = list(cv.split(X))
    scores = []
    for setting in settings:
        fold_r2 = []
        for train, val in folds:
            pred = clone(seeded).set_params(**setting).fit(X[train], y[train]).predict(X_val[val])
            fold_r2.append(velocity_r2(y[val], pred) if np.isfinite(pred).all() else -np.inf)
        scores.append(np.mean(fold_r2))
    if not np.isfinite(np.max(scores)):
        raise ValueError(f"no setting of {type(decoder).__name__} predicts finite values on "
                         "every validation fold")
    best = int(np.argmax(scores))
    fitted = clone(seeded).set_params(**settings[best]).fit(X, y)
    fitted.best_params_, fitted.validation_r2_ = settings[best], float(scores[best])
    return fitted


# Each augmenter keeps its colour on every page, so that pages can be compared at a glance.
AUGMENTER_COLOURS = {"none": "k", "jitter": "C1", "encoding": "C2", "eag": "C3",
                     "oracle": "C4", "psth": "C5", "diffusion": "C6", "langevin": "C7"}


def augmenter_colours(names: list[str]) -> dict[str, object]:
    """A matplotlib colour per augmenter name: the fixed one where it has one, else the next
    spare colour (the rest of matplotlib's cycle, then the lighter halves of its tab20
    pairs), distinct within ``names``."""
    import matplotlib

    spares = ["C0", "C8", "C9", *matplotlib.colormaps["tab20"].colors[1::2]]
    spare = iter(spares * (1 + len(names) // len(spares)))
    return {name: AUGMENTER_COLOURS[name] if name in AUGMENTER_COLOURS else next(spare)
            for name in names}


def interval_bars(panels: dict[str, pd.DataFrame], path: Path, *, x: str, hue: str,
                  xlabel: str, ylabel: str, title: str, value: str = "diff",
                  low: str = "diff_low", high: str = "diff_high",
                  hlines: dict[str, float] | None = None,
                  ylim: tuple[float, float] | None = None,
                  palette: Callable[[list[str]], dict[str, object]] | None = None) -> Path:
    """Grouped bars with 95 % interval whiskers, one panel per entry of ``panels``.

    Each panel's table has a row per bar: ``x`` names the group along the axis, ``hue`` the
    bar within it (one colour per hue value across panels), ``value`` its height, ``low`` /
    ``high`` its interval. ``hlines``: label -> y of dashed reference lines (0 is always
    drawn). ``ylim``: the y range shown; a bar that ends outside it has its value written at
    the edge. ``palette``: hue values -> their colours (:func:`augmenter_colours` where hues
    are augmenters); by default matplotlib's cycle in order. The legend sits outside the axes,
    right of the last panel.
    """
    import matplotlib.pyplot as plt

    # Groups and colours in the same places in every panel.
    groups = list(dict.fromkeys(g for t in panels.values() for g in t[x]))
    hues = list(dict.fromkeys(h for t in panels.values() for h in t[hue]))
    colours = palette(hues) if palette else {h: f"C{k % 10}" for k, h in enumerate(hues)}
    panel_w = max(3.6, 0.12 * len(groups) * len(hues) + 1.0)
    fig, axes = plt.subplots(1, len(panels), figsize=(1.2 + panel_w * len(panels), 3.6),
                             squeeze=False, sharey=True)
    width = 0.8 / max(1, len(hues))
    for ax, (name, table) in zip(axes[0], panels.items()):
        for k, h in enumerate(hues):
            sub = table[table[hue] == h].set_index(x).reindex(groups)
            pos = np.arange(len(groups)) + (k - (len(hues) - 1) / 2) * width
            err = np.vstack([sub[value] - sub[low], sub[high] - sub[value]])
            ax.bar(pos, sub[value], width, yerr=err, capsize=2, color=colours[h], label=h,
                   error_kw={"lw": 0.8})
            if ylim is not None:
                for p, v in zip(pos, sub[value]):
                    if v < ylim[0] or v > ylim[1]:
                        edge = ylim[0] if v < ylim[0] else ylim[1]
                        ax.text(p, edge, f"{v:.3g}", rotation=90, fontsize="x-small",
                                ha="center", va="bottom" if v < ylim[0] else "top")
        ax.axhline(0.0, color="k", lw=0.8)
        for k, (label, level) in enumerate((hlines or {}).items()):
            ax.axhline(level, color="0.3", lw=0.9, ls=(0, (4, 2 + k)), label=label)
        ax.set_xticks(np.arange(len(groups)), groups,
                      rotation=30 if len(groups) > 4 else 0,
                      ha="right" if len(groups) > 4 else "center")
        ax.set_xlabel(xlabel)
        ax.set_title(name, fontsize="medium")
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(ylabel)
    handles, labels = axes[0, -1].get_legend_handles_labels()
    axes[0, -1].legend(handles, labels, fontsize="small", frameon=False, loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
