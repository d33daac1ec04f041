"""Run specs: TOML files (or dicts) that declare a dataset, a split, generators, augmenters,
decoders and a sweep. :func:`load_spec` reads, merges and validates one into a :class:`RunSpec`.

Validation happens before any data is touched: unknown keys and class names, estimator
parameters that a class does not take or whose values break the class's declared constraints,
dataset arguments, missing files and unknown parallel backends are reported with the place in
the spec they come from.

A spec is data, not code (docs/security.md). ``class`` names an estimator class of
eag_augment, scikit-learn or imbalanced-learn; a class of any other module is imported only
when the caller grants that module (``load_spec(..., allow_imports=[...])``, on the command
line ``--allow-import``): a spec file cannot grant it to itself. Whatever its module, the
class must be an estimator (a ``sklearn.base.BaseEstimator``); functions and other callables
are refused before anything is called.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sklearn.base import BaseEstimator

from eag_augment.pipelines.estimators import build_estimator, check_allow_imports
from eag_augment.pipelines.spec_checks import (SpecError, _as_list, _check_keys, _expect,
                                               _finite_list, _suggest)


__all__ = ["RunSpec", "load_spec", "parse_override"]

BACKENDS = ("loky", "threading", "dask", "ray")
DATASET_KINDS = ("synthetic_reach", "lorenz", "nwb", "mat", "npz")
SPLIT_KINDS = ("named", "random", "time", "blocked")
SUBSET_KINDS = ("random", "contiguous", "leading")
FIGURES = ("rasters", "statistics", "trajectories", "scores")

_TOP_KEYS = ("name", "description", "output", "n_jobs", "backend", "scheduler", "torch_threads",
             "dataset", "split", "generators", "augmenters", "decoders", "sweep", "figures",
             "tuning", "profiles")
_DATASET_KEYS = ("kind", "path", "via_nwb", "rebin_ms")
_SPLIT_KEYS = ("kind", "train", "test", "test_fraction", "stratify", "random_state", "subset",
               "holdout_angles_deg", "angle_tolerance_deg", "n_folds", "gap")
_TUNING_KEYS = ("cv_folds", "cv_gap", "ratios", "guidance_scales", "n_iter", "param_grids",
                "fixed", "selection")
_SWEEP_KEYS = ("train_fraction", "seeds", "augmenters", "decoders", "baseline", "unlabelled")
_FIGURE_KEYS = FIGURES + ("decoder", "n_trajectories")


# ------------------------------------------------------------------------ overrides
def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b.c=VALUE"`` -> (["a", "b", "c"], value), VALUE read as TOML (else a string)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise SpecError(f"override {text!r} must look like KEY=VALUE, e.g. dataset.path=x.nwb")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return [part.strip() for part in key.split(".")], value


def _merge(base: dict, overlay: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _set_path(table: dict, path: list[str], value) -> None:
    for part in path[:-1]:
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            raise SpecError(f"override {'.'.join(path)}: {part!r} is not a table")
    table[path[-1]] = value


# ----------------------------------------------------------------------------- spec
@dataclass
class RunSpec:
    """A validated run spec.

    ``raw`` is the merged spec as a plain dict (written into results.json); the other
    fields are its validated parts, with estimators built (unfitted prototypes that every
    job clones).
    """

    name: str
    output: Path
    n_jobs: int
    backend: str
    scheduler: str | None
    torch_threads: int | None
    dataset: dict
    split: dict
    generators: dict[str, BaseEstimator]
    augmenters: dict[str, dict]
    decoders: dict[str, BaseEstimator]
    train_fractions: list[float]
    seeds: list[int]
    augmenter_names: list[str]
    decoder_names: list[str]
    baseline: str | None
    figures: dict
    tuning: dict | None
    unlabelled: bool
    raw: dict = field(repr=False)
    source: str = "<dict>"


def _read(spec: str | os.PathLike | dict) -> tuple[dict, str]:
    if isinstance(spec, dict):
        return copy.deepcopy(spec), "<dict>"
    path = Path(spec)
    if not path.is_file():
        raise SpecError(f"no spec file at {path}")
    try:
        with path.open("rb") as f:
            return tomllib.load(f), str(path)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{path} is not valid TOML: {err}") from err


def load_spec(spec: str | os.PathLike | dict, *, profile: str | None = None,
              overrides: list[str] | dict | None = None, output: str | os.PathLike | None = None,
              allow_imports: Sequence[str] = ()) -> RunSpec:
    """Read and validate a run spec.

    Parameters
    ----------
    spec : path to a TOML file, or the same structure as a dict
    profile : str, optional
        Name of a ``[profiles.NAME]`` table, merged over the spec (e.g. ``quick``).
    overrides : list of "dotted.key=VALUE" strings or a dict, optional
        Applied last (VALUE is read as TOML, else as a string), e.g.
        ``["dataset.path=/data/mc_maze.nwb", "sweep.seeds=[0, 1]"]``.
    output : path, optional
        Output folder; overrides the spec's ``output``.
    allow_imports : list of module names, optional
        Modules (and their submodules) outside eag_augment, scikit-learn and
        imbalanced-learn whose estimator classes the spec may name as
        ``"module:Class"``. Importing a module runs its code: grant only modules you trust.
        There is no spec key for this, so that a shared spec cannot grant itself imports.

    Returns
    -------
    RunSpec
        Relative paths (dataset, output) are taken relative to the current directory.
    """
    allow_imports = check_allow_imports(allow_imports)
    raw, source = _read(spec)
    where = source
    _expect(raw, dict, where, "a table")
    profiles = raw.pop("profiles", {})
    _expect(profiles, dict, f"{where} [profiles]", "a table of named profiles")
    if profile is not None:
        if profile not in profiles:
            raise SpecError(f"{where}: no profile {profile!r}{_suggest(profile, profiles)} "
                            f"(profiles: {', '.join(profiles) or 'none'})")
        raw = _merge(raw, _expect(profiles[profile], dict, f"{where} [profiles.{profile}]",
                                  "a table"))
    if isinstance(overrides, dict):
        raw = _merge(raw, overrides)
    else:
        for text in overrides or []:
            _set_path(raw, *parse_override(text))
    if output is not None:
        raw["output"] = str(output)
    _check_keys(raw, _TOP_KEYS, where)

    name = _expect(raw.get("name", Path(source).stem if source != "<dict>" else "run"), str,
                   f"{where}: name", "a string")
    out = Path(_expect(raw.get("output", f"results/{name}"), str, f"{where}: output",
                       "a folder path")).expanduser()
    if out.exists() and not out.is_dir():
        raise SpecError(f"{where}: output {str(out)!r} is an existing file, not a folder")
    n_jobs = _expect(raw.get("n_jobs", 1), int, f"{where}: n_jobs", "an integer")
    if n_jobs == 0 or n_jobs < -1:
        raise SpecError(f"{where}: n_jobs must be a positive integer or -1 (all cores), "
                        f"got {n_jobs}")
    backend = _expect(raw.get("backend", "loky"), str, f"{where}: backend", "a string")
    if backend not in BACKENDS:
        raise SpecError(f"{where}: backend must be one of {BACKENDS}, got {backend!r}"
                        f"{_suggest(backend, BACKENDS)}")
    scheduler = raw.get("scheduler")
    if scheduler is not None:
        _expect(scheduler, str, f"{where}: scheduler", "an address string")
        if backend not in ("dask", "ray"):
            raise SpecError(f"{where}: scheduler is only used by the dask and ray backends, "
                            f"backend is {backend!r}")
    _check_backend_installed(backend, where)
    torch_threads = raw.get("torch_threads")
    if torch_threads is not None and (_expect(torch_threads, int, f"{where}: torch_threads",
                                              "a positive integer") < 1):
        raise SpecError(f"{where}: torch_threads must be >= 1, got {torch_threads}")

    dataset = _check_dataset(raw.get("dataset"), f"{where} [dataset]")
    split = _check_split(raw.get("split", {}), f"{where} [split]")
    generators = {
        gname: build_estimator(table, f"{where} [generators.{gname}]",
                               allow_imports=allow_imports)
        for gname, table in _expect(raw.get("generators", {}), dict, f"{where} [generators]",
                                    "a table of named generators").items()
    }
    augmenters = _check_augmenters(raw.get("augmenters", {"none": {"ratio": 0}}), generators,
                                   dataset, f"{where} [augmenters]", allow_imports)
    decoders = {
        dname: build_estimator(table, f"{where} [decoders.{dname}]",
                               allow_imports=allow_imports)
        for dname, table in _expect(raw.get("decoders"), dict, f"{where} [decoders]",
                                    "a table of named decoders (required)").items()
    }
    if not decoders:
        raise SpecError(f"{where} [decoders]: define at least one decoder")
    for gname, generator in generators.items():
        if not all(callable(getattr(generator, m, None)) for m in ("fit", "sample")):
            raise SpecError(f"{where} [generators.{gname}]: {type(generator).__name__} is not a "
                            "generator (it has no fit(trials) and sample(n))")
    for dname, decoder in decoders.items():
        if not _takes_trial_tensors(decoder):
            raise SpecError(
                f"{where} [decoders.{dname}]: {type(decoder).__name__} does not take trial "
                "tensors (trials, bins, neurons); wrap a scikit-learn regressor: class = "
                f"\"SklearnDecoder\", estimator = {{ class = \"{type(decoder).__module__}:"
                f"{type(decoder).__name__}\" }}")
    sweep = raw.get("sweep", {})
    _expect(sweep, dict, f"{where} [sweep]", "a table")
    _check_keys(sweep, _SWEEP_KEYS, f"{where} [sweep]")
    fractions = _as_list(sweep.get("train_fraction", [1.0]), f"{where} [sweep] train_fraction",
                         (int, float), "a number in (0, 1] or a list of them")
    for frac in fractions:
        if not 0 < frac <= 1 or not math.isfinite(frac):
            raise SpecError(f"{where} [sweep] train_fraction values must be in (0, 1], "
                            f"got {frac}")
    seeds = sweep.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SpecError(f"{where} [sweep] seeds: a count must be >= 1, got {seeds}")
        seeds = list(range(seeds))
    seeds = _as_list(seeds, f"{where} [sweep] seeds", int, "a count or a list of integer seeds")
    for seed in seeds:
        if not 0 <= seed < 2**32:
            raise SpecError(f"{where} [sweep] seeds must be integers in [0, 2**32), got {seed}")
    aug_names = _names(sweep.get("augmenters", list(augmenters)), augmenters,
                       f"{where} [sweep] augmenters")
    dec_names = _names(sweep.get("decoders", list(decoders)), decoders,
                       f"{where} [sweep] decoders")
    baseline = sweep.get("baseline", "none" if "none" in aug_names else None)
    unlabelled = _expect(sweep.get("unlabelled", False), bool, f"{where} [sweep] unlabelled",
                         "true or false")
    if baseline is not None and baseline not in aug_names:
        raise SpecError(f"{where} [sweep] baseline {baseline!r} is not among the swept "
                        f"augmenters {aug_names}")
    figures = _check_figures(raw.get("figures", {}), dec_names, f"{where} [figures]")
    # Grids are checked against every declared decoder, so narrowing [sweep] decoders (e.g.
    # with --set) keeps a spec valid; only the swept decoders are tuned.
    tuning = _check_tuning(raw.get("tuning"), decoders, split, f"{where} [tuning]")
    if tuning is not None:
        tuning["param_grids"] = {n: tuning["param_grids"][n] for n in dec_names}
    if split["kind"] == "blocked" and max(seeds) >= split["n_folds"]:
        raise SpecError(f"{where} [sweep] seeds: with split kind 'blocked' the seeds are the "
                        f"outer folds 0..{split['n_folds'] - 1}, got {seeds}")
    return RunSpec(
        name=name, output=out, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
        torch_threads=torch_threads, dataset=dataset, split=split, generators=generators,
        augmenters=augmenters, decoders=decoders, train_fractions=[float(f) for f in fractions],
        seeds=[int(s) for s in seeds], augmenter_names=aug_names, decoder_names=dec_names,
        baseline=baseline, figures=figures, tuning=tuning, unlabelled=unlabelled, raw=raw,
        source=source,
    )


def _takes_trial_tensors(estimator) -> bool:
    """Whether an estimator declares 3-D input (the decoders of eag_augment do)."""
    try:
        return bool(estimator.__sklearn_tags__().input_tags.three_d_array)
    except AttributeError:
        return False


def _names(value, defined: dict, where: str) -> list[str]:
    names = _as_list(value, where, str, "a list of names")
    for n in names:
        if n not in defined:
            raise SpecError(f"{where}: {n!r} is not defined{_suggest(n, defined)} "
                            f"(defined: {', '.join(defined)})")
    if not names:
        raise SpecError(f"{where}: the list is empty")
    return names


def _check_backend_installed(backend: str, where: str) -> None:
    module = {"dask": "distributed", "ray": "ray"}.get(backend)
    if module is None:
        return
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise SpecError(f"{where}: backend {backend!r} needs the {module!r} package "
                        f"(pip install 'eag_augment[{backend}]')") from err


def _dataset_loader(kind: str):
    from eag_augment.datasets import (load_lorenz, load_mat, load_nwb,
                                      make_synthetic_reach)

    return {"synthetic_reach": make_synthetic_reach, "lorenz": load_lorenz, "nwb": load_nwb,
            "mat": load_mat, "npz": None}[kind]


def _check_loader_args(kind: str, loader, table: dict, where: str) -> None:
    """The loader's own argument checks on the table's values (defaults filled in)."""
    from eag_augment.datasets.lorenz import check_lorenz_args
    from eag_augment.datasets.mat import check_mat_args
    from eag_augment.datasets.nwb import check_nwb_args
    from eag_augment.datasets.reach import check_synthetic_reach_args

    check = {"synthetic_reach": check_synthetic_reach_args, "lorenz": check_lorenz_args,
             "nwb": check_nwb_args, "mat": check_mat_args}[kind]
    args = {k: p.default for k, p in inspect.signature(loader).parameters.items()
            if k != "path" and p.default is not inspect.Parameter.empty}
    args.update({k: v for k, v in table.items() if k not in _DATASET_KEYS})
    try:
        check(args)
    except (TypeError, ValueError) as err:
        raise SpecError(f"{where}: {err}") from err


def _check_dataset(table, where: str) -> dict:
    if table is None:
        raise SpecError(f"{where}: missing (the data to run on)")
    _expect(table, dict, where, "a table")
    kind = table.get("kind")
    if kind not in DATASET_KINDS:
        raise SpecError(f"{where}: kind must be one of {DATASET_KINDS}, got {kind!r}"
                        f"{_suggest(str(kind), DATASET_KINDS)}")
    loader = _dataset_loader(kind)
    if loader is None:
        loader_args = []
    else:
        loader_args = [p for p in inspect.signature(loader).parameters
                       if p not in ("path", "return_simulator", "return_latents")]
    _check_keys(table, _DATASET_KEYS + tuple(loader_args), where)
    if kind in ("nwb", "mat", "npz"):
        path = table.get("path")
        if not isinstance(path, str) or not path:
            raise SpecError(f"{where}: kind {kind!r} needs path = \"...\" (the {kind} file); "
                            f"on the command line: --set dataset.path=FILE")
        if not Path(path).expanduser().is_file():
            raise SpecError(f"{where}: path {path!r} does not exist (relative paths are taken "
                            f"from the current directory {os.getcwd()})")
    elif "path" in table:
        raise SpecError(f"{where}: kind {kind!r} is simulated and takes no path")
    if loader is not None:
        _check_loader_args(kind, loader, table, where)
    if "rebin_ms" in table:
        rebin = _expect(table["rebin_ms"], (int, float), f"{where} rebin_ms", "a bin width in ms")
        if not (math.isfinite(rebin) and rebin > 0):
            raise SpecError(f"{where} rebin_ms must be a positive bin width in ms, got {rebin}")
    if "via_nwb" in table:
        _expect(table["via_nwb"], bool, f"{where} via_nwb", "true or false")
        if kind == "nwb" and table["via_nwb"]:
            raise SpecError(f"{where}: via_nwb is for data that is not NWB already")
    return dict(table)


def _check_split(table, where: str) -> dict:
    _expect(table, dict, where, "a table")
    _check_keys(table, _SPLIT_KEYS, where)
    kind = table.get("kind", "named")
    if kind not in SPLIT_KINDS:
        raise SpecError(f"{where}: kind must be one of {SPLIT_KINDS}, got {kind!r}")
    if kind == "named":
        for key in ("train", "test"):
            _as_list(table.get(key, key), f"{where} {key}", str, "a split name or list of names")
    elif "train" in table or "test" in table:
        raise SpecError(f"{where}: train/test name splits, which only kind = \"named\" uses")
    frac = table.get("test_fraction", 0.2)
    _expect(frac, (int, float), f"{where} test_fraction", "a number in (0, 1)")
    if not 0 < frac < 1:
        raise SpecError(f"{where} test_fraction must be in (0, 1), got {frac}")
    subset = table.get("subset", "leading" if kind == "blocked" else "random")
    if subset not in SUBSET_KINDS:
        raise SpecError(f"{where}: subset must be one of {SUBSET_KINDS}, got {subset!r}")
    blocked = {}
    if kind == "blocked":
        if subset != "leading":
            raise SpecError(f"{where}: kind = \"blocked\" trains on the segment that follows "
                            f"each test block (subset = \"leading\"), got subset = {subset!r}")
        for key, default, low in (("n_folds", 5, 2), ("gap", 0, 0)):
            value = _expect(table.get(key, default), int, f"{where} {key}", "an integer")
            if value < low:
                raise SpecError(f"{where} {key} must be >= {low}, got {value}")
            blocked[key] = value
    elif "n_folds" in table or "gap" in table:
        raise SpecError(f"{where}: n_folds and gap belong to kind = \"blocked\"")
    if "holdout_angles_deg" in table:
        _finite_list(table["holdout_angles_deg"], f"{where} holdout_angles_deg",
                     "a list of reach directions in degrees")
    if "stratify" in table:
        _expect(table["stratify"], str, f"{where} stratify", "the name of a condition column")
    if "random_state" in table and not 0 <= _expect(
            table["random_state"], int, f"{where} random_state", "an integer seed") < 2**32:
        raise SpecError(f"{where} random_state must be in [0, 2**32), got "
                        f"{table['random_state']}")
    tol = table.get("angle_tolerance_deg", 10.0)
    _expect(tol, (int, float), f"{where} angle_tolerance_deg", "a number of degrees")
    if not 0 <= tol <= 180:
        raise SpecError(f"{where} angle_tolerance_deg must be in [0, 180] degrees, got {tol}")
    return {**table, **blocked, "kind": kind, "subset": subset, "test_fraction": float(frac),
            "angle_tolerance_deg": float(tol)}


def _check_tuning(table, decoders: dict, split: dict, where: str) -> dict | None:
    """The ``[tuning]`` table: decoders (and augmentation ratio) tuned by inner CV in every
    job, beside the fixed settings (``fixed = false`` drops those). None when absent."""
    if table is None:
        return None
    _expect(table, dict, where, "a table")
    _check_keys(table, _TUNING_KEYS, where)
    out = {"fixed": _expect(table.get("fixed", True), bool, f"{where} fixed", "true or false")}
    for key, default, low in (("cv_folds", 3, 2),
                              ("cv_gap", split.get("gap", 0), 0)):
        value = _expect(table.get(key, default), int, f"{where} {key}", "an integer")
        if value < low:
            raise SpecError(f"{where} {key} must be >= {low}, got {value}")
        out[key] = value
    for key, default in (("ratios", [0, 1, 2, 4]), ("guidance_scales", None)):
        value = table.get(key, default)
        if value is not None:
            value = _as_list(value, f"{where} {key}", (int, float), "a list of numbers >= 0")
            if not value or any(v < 0 or not math.isfinite(v) for v in value):
                raise SpecError(f"{where} {key} must be a non-empty list of numbers >= 0, "
                                f"got {value}")
        out[key] = value
    n_iter = table.get("n_iter")
    if n_iter is not None and _expect(n_iter, int, f"{where} n_iter", "an integer") < 1:
        raise SpecError(f"{where} n_iter must be >= 1, got {n_iter}")
    out["n_iter"] = n_iter
    from eag_augment.model_selection._tuning import SELECTIONS

    out["selection"] = table.get("selection", "best")
    if out["selection"] not in SELECTIONS:
        raise SpecError(f"{where} selection must be one of {', '.join(map(repr, SELECTIONS))}, "
                        f"got {out['selection']!r}")
    grids = _expect(table.get("param_grids", {}), dict, f"{where} param_grids",
                    "a table of decoder name -> {parameter = [values]}")
    from eag_augment.model_selection import default_search_space

    out["param_grids"] = {}
    for name, decoder in decoders.items():
        grid = grids.get(name)
        if grid is None:
            try:
                out["param_grids"][name] = default_search_space(decoder)
            except ValueError as err:
                raise SpecError(f"{where}: decoder {name!r}: {err}") from err
            continue
        here = f"{where} param_grids.{name}"
        _expect(grid, dict, here, "a table of parameter = [values]")
        valid = decoder.get_params(deep=True)
        for key, values in grid.items():
            if key not in valid:
                raise SpecError(f"{here}: {type(decoder).__name__} has no parameter {key!r}"
                                f"{_suggest(key, valid)}")
            _expect(values, list, f"{here}.{key}", "a list of values")
        out["param_grids"][name] = grid
    unknown = sorted(set(grids) - set(decoders))
    if unknown:
        raise SpecError(f"{where} param_grids: {unknown} are not decoders of the spec "
                        f"(decoders: {', '.join(decoders)})")
    return out


def _check_augmenters(tables, generators: dict, dataset: dict, where: str,
                      allow_imports: Sequence[str] = ()) -> dict[str, dict]:
    """name -> {"estimator": prototype, "generator": name or None, "given": keys set}."""
    _expect(tables, dict, where, "a table of named augmenters")
    out = {}
    for aname, table in tables.items():
        here = f"{where[:-1]}.{aname}]" if where.endswith("]") else f"{where}.{aname}"
        _expect(table, dict, here, "a table")
        table = dict(table)
        gen_name = table.pop("generator", None)
        if "conditions_deg" in table:
            if "conditions" in table:
                raise SpecError(f"{here}: give conditions or conditions_deg, not both")
            degrees = _finite_list(table.pop("conditions_deg"), f"{here} conditions_deg",
                                   "a list of reach angles in degrees")
            table["conditions"] = [math.radians(d) for d in degrees]
        estimator = build_estimator(table, here, default_class="SyntheticAugmenter",
                                    allow_imports=allow_imports)
        params = estimator.get_params(deep=False)
        if gen_name is not None:
            _expect(gen_name, str, f"{here} generator", "the name of a [generators] entry")
            if gen_name not in generators:
                raise SpecError(f"{here}: generator {gen_name!r} is not defined"
                                f"{_suggest(gen_name, generators)} (defined: "
                                f"{', '.join(generators) or 'none'})")
            if "generator" not in params:
                raise SpecError(f"{here}: {type(estimator).__name__} takes no generator")
            if (type(generators[gen_name]).__name__ == "OracleGenerator"
                    and dataset["kind"] != "synthetic_reach"):
                raise SpecError(f"{here}: the oracle generator needs the simulator of a "
                                "synthetic_reach dataset")
            supported = getattr(generators[gen_name], "supported_conditions", None)
            if supported is not None and params.get("condition") not in supported:
                raise SpecError(f"{here}: generator {gen_name!r} "
                                f"({type(generators[gen_name]).__name__}) supports conditions "
                                f"{supported}, not condition = {params.get('condition')!r}")
        if params.get("prefit"):
            raise SpecError(f"{here}: prefit = true needs a generator fitted beforehand, which "
                            "a spec cannot hold (every job fits its own)")
        if not callable(getattr(estimator, "fit_resample", None)):
            raise SpecError(f"{here}: {type(estimator).__name__} has no fit_resample(X, y)")
        out[aname] = {"estimator": estimator, "generator": gen_name, "given": set(table)}
    if not out:
        raise SpecError(f"{where}: define at least one augmenter (e.g. none = {{ ratio = 0 }})")
    return out


def _check_figures(table, decoders: list[str], where: str) -> dict:
    _expect(table, dict, where, "a table")
    _check_keys(table, _FIGURE_KEYS, where)
    out = {name: bool(_expect(table.get(name, True), bool, f"{where} {name}", "true or false"))
           for name in FIGURES}
    decoder = table.get("decoder", decoders[-1])
    if decoder not in decoders:
        raise SpecError(f"{where} decoder {decoder!r} is not among the swept decoders {decoders}")
    out["decoder"] = decoder
    n = _expect(table.get("n_trajectories", 16), int, f"{where} n_trajectories", "an integer")
    if n < 1:
        raise SpecError(f"{where} n_trajectories must be >= 1, got {n}")
    out["n_trajectories"] = n
    return out
