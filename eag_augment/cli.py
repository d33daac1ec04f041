"""The ``eag-augment`` command: run specs, fit and sample generators, and the demo.

    eag-augment run SPEC [--profile NAME] [--set KEY=VALUE ...] [--output DIR]
                         [--allow-import MODULE ...]
    eag-augment fit DATA -o MODEL [--generator eag|diffusion|psth] [--condition ...]
    eag-augment sample MODEL -n N [--angle DEG ...] [--guidance-scale G] -o OUT.nwb|OUT.npz
    eag-augment demo [--output DIR] [--quick]

Every argument is checked before any data is read or any model trained: option values when
the command line is parsed, then output paths, generator parameters and run specs. Bad input
(a missing or damaged file, a wrong spec, a bad option value, an output that exists already,
a request too large for memory) ends with one line on stderr and exit status 2. Anything else
is a bug of eag-augment: a short message says so, and exit status is 70 (``-v`` adds the
traceback, in both cases). Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np

from eag_augment import __version__
from eag_augment._files import check_output_path

__all__ = ["main", "build_parser", "EXIT_USER_ERROR", "EXIT_BUG", "EXIT_INTERRUPTED"]

log = logging.getLogger("eag_augment")

GENERATORS = ("eag", "diffusion", "langevin", "psth")
DATA_SUFFIXES = (".nwb", ".npz", ".mat")
SAMPLE_SUFFIXES = (".nwb", ".npz")
#: Exit statuses: bad input, a bug of eag-augment (BSD's EX_SOFTWARE), Ctrl-C (128 + SIGINT).
EXIT_USER_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 2, 70, 130


class UserError(ValueError):
    """Bad input from the command line."""


# ------------------------------------------------------------------- option types
def _number(kind: type, test, what: str):
    """An argparse ``type`` that parses ``kind`` and refuses values failing ``test``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some messages
    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive number (an integer >= 1)")
_seed = _number(int, lambda v: 0 <= v < 2**32, "a seed: an integer in [0, 2**32)")
_positive_ms = _number(float, lambda v: v > 0, "a positive number of milliseconds")
_angle_deg = _number(float, lambda v: True, "a finite angle in degrees")
_guidance = _number(float, lambda v: v >= 0, "a finite number >= 0")
_jobs = _number(int, lambda v: v >= 1 or v == -1, "a positive integer or -1 (all cores)")


class _Parser(argparse.ArgumentParser):
    """argparse, with errors on one line (usage is one ``--help`` away)."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------------- helpers
def _verbosity(args) -> int:
    return 0 if getattr(args, "quiet", False) else 1 + getattr(args, "verbose", 0)


def _configure_logging(level: int) -> None:
    # Only our logger: third-party INFO logging (pynwb, nlb_tools) stays quiet.
    log.handlers.clear()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[eag-augment] %(message)s"))
    log.addHandler(handler)
    log.setLevel({0: logging.WARNING, 1: logging.INFO}.get(level, logging.DEBUG))
    log.propagate = False


def _parse_value(raw: str):
    import tomllib

    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _check_device(device: str) -> None:
    from eag_augment._torch import resolve_device

    try:
        resolve_device(device)
    except ValueError as err:
        raise UserError(f"--device: {err}") from err


def _load_trials(path: Path, *, bin_ms: float | None, split: list[str] | None):
    from eag_augment import TrialSet
    from eag_augment.datasets import load_mat, load_nwb

    log.info("reading %s", path)
    if path.suffix == ".nwb":
        trials = load_nwb(path, bin_ms=bin_ms, split=split)
    elif path.suffix == ".mat":
        trials = load_mat(path, bin_ms=bin_ms)
    else:
        trials = TrialSet.load(path)
        if bin_ms is not None:
            trials = trials.rebin(bin_ms)
    if split is not None and path.suffix != ".nwb":
        if "split" not in trials.conditions:
            raise UserError(f"--split given but {path} has no 'split' condition column")
        mask = trials.conditions["split"].astype(str).isin(split).to_numpy()
        if not mask.any():
            raise UserError(f"no trials of split {split} in {path}")
        trials = trials[mask]
    return trials


def _validate_tree(estimator) -> None:
    """An estimator's parameters and those of the estimators nested in it, against their
    declared constraints (no fitting)."""
    from sklearn.base import BaseEstimator

    if hasattr(estimator, "_parameter_constraints"):
        estimator._validate_params()
    for value in estimator.get_params(deep=False).values():
        if isinstance(value, BaseEstimator):
            _validate_tree(value)


def _make_generator(args):
    from eag_augment.generators import (EAGGenerator, LangevinFlowGenerator, LatentAutoencoder,
                                        LatentDiffusionGenerator, PSTHPoissonGenerator)

    condition = None if args.condition == "none" else args.condition
    if args.generator == "psth":
        gen = PSTHPoissonGenerator(condition=condition, random_state=args.seed)
        if args.epochs is not None:
            raise UserError("--epochs: the psth generator is not trained by epochs")
    else:
        verbose = int(_verbosity(args) >= 1)
        common = dict(condition=condition, device=args.device, verbose=verbose,
                      random_state=args.seed)
        if args.generator == "langevin":
            gen = LangevinFlowGenerator(encode_heldout=True, **common)
        else:
            klass = EAGGenerator if args.generator == "eag" else LatentDiffusionGenerator
            gen = klass(autoencoder=LatentAutoencoder(device=args.device), **common)
        if args.epochs is not None:
            nested = {} if args.generator == "langevin" else {"autoencoder__epochs": args.epochs}
            gen.set_params(epochs=args.epochs, **nested)
    for text in args.param:
        key, sep, raw = text.partition("=")
        if not sep:
            raise UserError(f"--param {text!r} must look like KEY=VALUE (e.g. width=64 or "
                            "autoencoder.latent_dim=8)")
        name = key.strip().replace(".", "__")
        valid = gen.get_params(deep=True)
        if name not in valid:
            raise UserError(f"--param: {type(gen).__name__} has no parameter {key!r}; "
                            f"parameters: {', '.join(sorted(valid))}")
        gen.set_params(**{name: _parse_value(raw)})
    try:
        _validate_tree(gen)
    except (TypeError, ValueError) as err:
        raise UserError(f"--param: {err}") from err
    return gen


# ------------------------------------------------------------------------ commands
def cmd_run(args) -> int:
    from eag_augment.pipelines import load_spec, run

    overrides = list(args.set)
    for key in ("n_jobs", "backend", "scheduler"):
        value = getattr(args, key)
        if value is not None:
            overrides.append(f"{key}={value!r}" if isinstance(value, str) else
                             f"{key}={value}")
    spec = load_spec(args.spec, profile=args.profile, overrides=overrides, output=args.output,
                     allow_imports=args.allow_import)
    result = run(spec, verbose=int(_verbosity(args) >= 1), resume=args.resume)
    print(result.table)
    return 0


def cmd_demo(args) -> int:
    spec_path = Path(args.spec) if args.spec else (
        Path(__file__).resolve().parent.parent / "pipelines" / "demo.toml")
    if not spec_path.is_file():
        raise UserError(f"the demo spec is not at {spec_path} (it ships in the source "
                        "checkout's pipelines/ folder); pass --spec PATH")
    args.spec, args.profile = str(spec_path), "quick" if args.quick else None
    args.set, args.n_jobs, args.backend, args.scheduler = [], None, None, None
    args.resume = False
    args.allow_import = []
    log.info("demo: %s%s", spec_path, " (quick profile)" if args.quick else "")
    return cmd_run(args)


def cmd_fit(args) -> int:
    # Everything that can be checked is checked before the data is read.
    data = Path(args.data)
    if data.suffix not in DATA_SUFFIXES:
        raise UserError(f"DATA must be a {', '.join(DATA_SUFFIXES[:-1])} or "
                        f"{DATA_SUFFIXES[-1]} file, got {data}")
    if not data.is_file():
        raise UserError(f"no data file at {data}")
    out = check_output_path(args.output, "-o", overwrite=args.overwrite)
    _check_device(args.device)
    generator = _make_generator(args)
    trials = _load_trials(data, bin_ms=args.bin_ms, split=args.split)
    log.info("fitting %s on %s", type(generator).__name__, trials)
    start = time.perf_counter()
    generator.fit(trials)
    path = generator.save(out)
    log.info("fitted in %.1f s; wrote %s", time.perf_counter() - start, path)
    print(path)
    return 0


def cmd_sample(args) -> int:
    if Path(args.output).suffix not in SAMPLE_SUFFIXES:
        raise UserError(f"-o must end in .nwb or .npz, got {args.output}")
    out = check_output_path(args.output, "-o", overwrite=args.overwrite)
    if not Path(args.model).is_file():
        raise UserError(f"no model file at {args.model}")
    _check_device(args.device)
    from eag_augment.augment import trajectories_at
    from eag_augment.datasets import save_nwb
    from eag_augment.generators import load_generator

    generator = load_generator(args.model, device=args.device)
    generator.check_sample_size(args.n)
    kwargs = {}
    if args.angle:
        angles = np.resize(np.radians(args.angle), args.n)
        if generator.condition_ == "angle":
            kwargs["angle"] = angles
        elif generator.condition_ == "velocity":
            # A velocity model reaches towards an angle along a training trajectory rotated
            # onto it.
            kwargs["velocity"] = trajectories_at(angles, generator.train_velocity_)
        else:
            raise UserError(f"{args.model} was fitted without conditions (condition=None) "
                            "and takes no --angle")
    log.info("sampling %d trials from %s", args.n, type(generator).__name__)
    start = time.perf_counter()
    trials = generator.sample(args.n, guidance_scale=args.guidance_scale,
                              random_state=args.seed, **kwargs)
    path = (save_nwb(trials, out, overwrite=args.overwrite, generator=generator,
                     random_state=args.seed) if out.suffix == ".nwb"
            else trials.save(out))
    log.info("sampled in %.1f s; wrote %s", time.perf_counter() - start, path)
    print(path)
    return 0


# -------------------------------------------------------------------------- parser
def _add_verbosity(parser: argparse.ArgumentParser, top: bool) -> None:
    # The sub-commands repeat the flags (so they work after the command too) without
    # defaults of their own, which would overwrite the top-level ones.
    default = {} if top else {"default": argparse.SUPPRESS}
    group = parser.add_mutually_exclusive_group()
    group.add_argument("-v", "--verbose", action="count",
                       help="more output (repeat for debug logging and tracebacks)",
                       **({"default": 0} if top else default))
    group.add_argument("-q", "--quiet", action="store_true",
                       help="only warnings and errors; no progress bars", **default)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eag-augment",
        description="Synthetic neural-population trials to augment BCI velocity decoders.",
        epilog="Run 'eag-augment COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_verbosity(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("run", help="run a TOML spec (pipelines/*.toml)",
                       description="Run a spec's sweep and write results.json, summary.md "
                       "and figures into its output folder.")
    p.add_argument("spec", help="TOML run spec, e.g. pipelines/demo.toml")
    p.add_argument("-o", "--output", help="output folder (default: the spec's 'output')")
    p.add_argument("--profile", help="merge the spec's [profiles.NAME] table (e.g. quick)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec value, e.g. --set dataset.path=/data/mc_maze.nwb "
                   "or --set 'sweep.seeds=[0,1,2]' (repeatable; VALUE is read as TOML)")
    p.add_argument("--n-jobs", type=_jobs, help="parallel jobs (overrides the spec)")
    p.add_argument("--backend", choices=("loky", "threading", "dask", "ray"),
                   help="joblib backend (overrides the spec)")
    p.add_argument("--scheduler", help="dask scheduler / ray address (dask, ray backends)")
    p.add_argument("--resume", action="store_true",
                   help="reuse the jobs an earlier run of the same settings finished (its "
                   "output's jobs/ folder) and run only the rest")
    p.add_argument("--allow-import", action="append", default=[], metavar="MODULE",
                   help="let the spec name estimator classes of MODULE (and its submodules) "
                   "as 'MODULE:Class'; importing a module runs its code, so grant only "
                   "modules you trust (repeatable; eag_augment, sklearn and imblearn need "
                   "no grant)")
    _add_verbosity(p, top=False)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("fit", help="fit a generator on recorded trials",
                       description="Fit a generator on DATA (.nwb via load_nwb, .npz TrialSet, "
                       ".mat via load_mat) and save it as a checkpoint.")
    p.add_argument("data", help="trials: .nwb (NLB layout), .npz (TrialSet.save) or .mat")
    p.add_argument("-o", "--output", required=True, help="checkpoint file to write")
    p.add_argument("--generator", choices=GENERATORS, default="eag",
                   help="eag (default), diffusion (latent diffusion, LDNS), langevin "
                   "(LangevinFlow) or psth (PSTH-Poisson baseline)")
    p.add_argument("--condition", choices=("velocity", "angle", "none"), default="velocity",
                   help="what sampling is conditioned on (default velocity)")
    p.add_argument("--epochs", type=_positive_int,
                   help="training epochs of the generator and of its autoencoder")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any generator parameter, e.g. --param width=64 --param "
                   "autoencoder.latent_dim=8 (repeatable)")
    p.add_argument("--split", nargs="+", metavar="NAME",
                   help="use only trials of these splits (e.g. train)")
    p.add_argument("--bin-ms", type=_positive_ms,
                   help="bin width to load or rebin the data to (ms)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--overwrite", action="store_true",
                   help="replace MODEL if it exists (by default an existing file is an error)")
    _add_verbosity(p, top=False)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("sample", help="generate synthetic trials from a fitted generator",
                       description="Draw N synthetic trials and write them as NWB (save_nwb) "
                       "or as a TrialSet .npz.")
    p.add_argument("model", help="checkpoint written by 'eag-augment fit'")
    p.add_argument("-n", type=_positive_int, required=True, help="number of trials")
    p.add_argument("--angle", type=_angle_deg, nargs="+", metavar="DEG",
                   help="reach angles in degrees, cycled over the trials (default: the "
                   "training conditions); unseen angles are allowed")
    p.add_argument("--guidance-scale", type=_guidance,
                   help="classifier-free guidance strength (default: the model's)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("-o", "--output", required=True, help="output file: .nwb or .npz")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the output file if it exists (by default an error)")
    _add_verbosity(p, top=False)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("demo", help="the end-to-end demo (what 'make demo' runs)",
                       description="Simulated reaching -> NWB -> 10 % of the training "
                       "trials -> EAG -> augmented ridge, Wiener and GRU decoders: a table of "
                       "test R^2 and figures.")
    p.add_argument("-o", "--output", help="output folder (default ./demo_output)")
    p.add_argument("--quick", action="store_true",
                   help="toy sizes, seconds instead of minutes (for tests)")
    p.add_argument("--spec", help="demo spec to use (default: pipelines/demo.toml)")
    _add_verbosity(p, top=False)
    p.set_defaults(func=cmd_demo)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """What bad input or the machine (files, memory, missing packages) raises: not bugs.

    FloatingPointError: a training run that diverged (too high a learning rate).
    """
    import torch
    from sklearn.exceptions import NotFittedError

    return (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, ImportError,
            NotFittedError, MemoryError, torch.OutOfMemoryError, FloatingPointError)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    if isinstance(err, MemoryError) and "memory" not in text.lower():
        text = f"out of memory{': ' + text if text else ''}; try smaller sizes"
    text = text or type(err).__name__
    notes = "".join(f" ({' '.join(note.split())})" for note in getattr(err, "__notes__", []))
    return text + notes


def _report_url() -> str:
    """Where to report bugs: the package's issue tracker URL from its metadata if it has one."""
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        urls = metadata("eag_augment").get_all("Project-URL") or []
    except PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if any(word in label.lower() for word in ("issue", "bug", "tracker")):
            return url.strip()
    return "the eag_augment issue tracker (see the README)"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``eag-augment``; returns the exit status.

    0 success; 2 bad input (one line on stderr); 70 a bug of eag-augment (a short message
    saying so; ``-v`` adds the traceback); 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    level = _verbosity(args)
    # The command writes figures to files only; MPLBACKEND set by the user still wins.
    os.environ.setdefault("MPLBACKEND", "Agg")
    _configure_logging(level)
    prog = f"eag-augment {args.command}"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _user_errors() as err:
        if level >= 2:
            traceback.print_exc()
        print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as err:  # noqa: BLE001 - whatever is left is a bug, reported as one
        if level >= 2:
            traceback.print_exc()
        print(f"{prog}: internal error: {type(err).__name__}: {_one_line(err)}. This is a bug "
              f"in eag-augment, not a problem with your input: please report it at "
              f"{_report_url()} with the command line"
              f"{' and the output of the same command with -v' if level < 2 else ''}.",
              file=sys.stderr)
        return EXIT_BUG
