"""Shared plumbing of the benchmark scripts: arguments, machine info, result files, model cache."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from eag_augment.pipelines.environment import machine_info

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "runs" / "benchmark_models"
SHARED_DATA = ROOT.parent / "shared" / "data"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes: checks that the script runs (results are not meaningful)")
    p.add_argument("--refit", action="store_true", help="ignore cached fitted models")
    p.add_argument("--out", type=Path, default=RESULTS, help="folder for JSON and PNG results")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    return p


def sweep_parser(description: str) -> argparse.ArgumentParser:
    """:func:`parser` plus the options of the benchmarks driven by a run spec."""
    p = parser(description)
    p.add_argument("--profile", choices=("medium",),
                   help="a [profiles.NAME] of the spec (--quick selects 'quick')")
    p.add_argument("--n-jobs", type=int, help="jobs in parallel (default: the spec's, 2)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec entry, e.g. sweep.seeds=3 (repeatable)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild tables and figures from the last run's rows without rerunning")
    return p


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


def machine() -> dict:
    """What the numbers were measured on (the package's record plus commit, date, command)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "commit": commit, **machine_info(),
            "command": " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])}


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
