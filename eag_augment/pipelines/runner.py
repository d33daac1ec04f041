"""Run a spec's sweep through joblib and write results.json, the summary and the figures.

One job is one (training fraction, seed, augmenter): it draws the training subset, fits the
augmenter (hence its generator) once, and trains and scores every decoder on the augmented
set, so a generator is fitted once per job whatever the number of decoders. Jobs run through
``joblib.Parallel`` under the spec's backend: "loky" (processes, the default), "threading",
"dask" (a ``distributed`` cluster: the one at ``scheduler``, else a local one) or "ray".
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

from eag_augment._progress import duration
from eag_augment.metrics import velocity_r2
from eag_augment.model_selection import BlockedKFold
from eag_augment.model_selection._tuning import (_augmentations, _decoder_settings,
                                                 _learns_unlabelled, _seeded, _takes_unlabelled,
                                                 _tune)
from eag_augment.pipelines.comparison import compare, comparison_markdown
from eag_augment.pipelines.data import fold_split, load_dataset, subset_indices
from eag_augment.pipelines.environment import machine_info
from eag_augment.pipelines.job_store import JobStore
from eag_augment.pipelines.report import figure_trials, make_figures, markdown_table, summarize
from eag_augment.pipelines.spec import RunSpec, load_spec
from eag_augment.trials import TrialSet

__all__ = ["Job", "RunResult", "bind_augmenter", "load_predictions", "run", "run_job",
           "parallel_backend", "save_predictions"]

log = logging.getLogger(__name__)
_MAX_PLOTTED_SYNTHETIC = 200


@dataclass(frozen=True)
class Job:
    """One unit of a sweep; ``artifacts``: keep what the figures need."""

    train_fraction: float
    seed: int
    augmenter: str
    artifacts: bool = False

    def describe(self) -> str:
        return f"fraction {self.train_fraction:g}, seed {self.seed}, augmenter {self.augmenter}"


@dataclass
class RunResult:
    """What :func:`run` produced: per-run rows, the summary, and the files written.

    ``wall_s`` is this call's wall time; ``resumed`` describes the jobs loaded from an
    earlier run instead (job, its own wall time ``wall_s``, when and on which CPU it ran).
    """

    rows: pd.DataFrame
    summary: pd.DataFrame
    table: str
    output: Path
    files: list[Path]
    wall_s: float
    comparison: pd.DataFrame | None = None
    resumed: list[dict] = field(default_factory=list)


# --------------------------------------------------------------------------- one job
@contextlib.contextmanager
def _torch_threads(n: int | None):
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_job(job: Job, pool: TrialSet, tests: dict[str, TrialSet], augmenter,
            decoders: dict, *, subset: str = "random", tuning: dict | None = None,
            unlabelled: bool = False, torch_threads: int | None = None,
            figure_decoder: str | None = None, n_trajectories: int = 16,
            progress: bool = False) -> dict:
    """Run one job: returns ``{"job", "rows", "predictions", "artifacts", "wall_s"}``.

    With ``tuning`` (a validated ``[tuning]`` table) every decoder is also tuned by inner
    cross-validation (:func:`eag_augment.model_selection.tune_decoders`, the augmentation
    ratio searched, 0 included; the "none" augmenter gives the tuned baselines), and the
    fixed-setting pipelines reuse the generator of the tuned refit (one generator fit fewer).
    With ``unlabelled``, the pool's trials outside the training subset are given, without
    their velocity, to generators that learn from unlabelled spikes and to decoders whose
    ``fit`` takes them (label-scarce learning; the test trials are never among them).

    Each row: train_fraction, seed, augmenter, decoder, mode ("fixed" or "tuned"), test_set,
    r2 (velocity R^2 on the test set), n_train_real, n_synthetic, ratio, guidance_scale,
    params (JSON of the tuned choice), in tuned mode inner_r2 (its mean validation R^2) and
    inner_gain, inner_gain_se (``TunedPipeline.augmentation_gain_``), and timings in s:
    augment_s (generator fits and sampling, the whole search in tuned mode), fit_s (decoder
    fit), score_s.
    ``predictions`` maps (decoder, mode, test set) -> predicted velocity (float32).
    """
    try:
        with _torch_threads(torch_threads):
            return _run_job(job, pool, tests, augmenter, decoders, subset, tuning, unlabelled,
                            figure_decoder, n_trajectories, progress)
    except Exception as err:
        err.add_note(f"in the job with {job.describe()}")
        raise


def _is_none(augmenter) -> bool:
    """An augmenter that adds nothing: the baseline."""
    params = augmenter.get_params(deep=False)
    return params.get("generator") is None and params.get("ratio") == 0 \
        and not params.get("n_synthetic")


def _guidance_scales(augmenter, tuning: dict):
    """The tuning's guidance scales, for generators that are guided (else None)."""
    generator = augmenter.get_params(deep=False).get("generator")
    if tuning["guidance_scales"] is None or generator is None \
            or not getattr(type(generator), "supports_guidance", False) \
            or augmenter.get_params(deep=False).get("condition") is None:
        return None
    return tuning["guidance_scales"]


def _tuned(train: TrialSet, angles, augmenter, decoders: dict, tuning: dict, seed: int,
           keep_generator: bool, unlabelled):
    """(name -> fitted TunedPipeline attributes, the fitted augmenter or None, seconds)."""
    augmenter = None if _is_none(augmenter) else augmenter
    augmentations = _augmentations(augmenter, tuning["ratios"],
                                   None if augmenter is None else _guidance_scales(augmenter,
                                                                                   tuning))
    searches = {name: (dec, _decoder_settings(dec, tuning["param_grids"][name],
                                              tuning["n_iter"], seed))
                for name, dec in decoders.items()}
    cv = BlockedKFold(tuning["cv_folds"], gap=tuning["cv_gap"])
    splits = list(cv.split(train.spikes))
    start = time.perf_counter()
    results, fitted = _tune(searches, augmenter, augmentations, train.spikes, train.behavior,
                            angles, splits, seed, 1, log.debug, refit_generator=keep_generator,
                            unlabelled=unlabelled, selection=tuning["selection"])
    return results, fitted, time.perf_counter() - start


def _run_job(job, pool, tests, augmenter, decoders, subset, tuning, unlabelled,
             figure_decoder, n_trajectories, progress) -> dict:
    start = time.perf_counter()
    index = subset_indices(pool, job.train_fraction, job.seed, subset)
    train = pool[index]
    rest = np.setdiff1d(np.arange(pool.n_trials), index)
    spikes_only = pool.spikes[rest] if unlabelled and rest.size else None
    aug = _seeded(augmenter, job.seed, progress)
    angles = None
    if "angle" in train.conditions and "angles" in inspect.signature(aug.fit_resample).parameters:
        angles = train.conditions["angle"].to_numpy(dtype=float)
    common = {"train_fraction": job.train_fraction, "seed": job.seed,
              "augmenter": job.augmenter, "n_train_real": train.n_trials,
              "n_unlabelled": 0 if spikes_only is None else len(spikes_only)}
    rows, predictions = [], {}

    def score(name: str, mode: str, decoder, extra: dict) -> None:
        for test_name, test in tests.items():
            t = time.perf_counter()
            pred = decoder.predict(test.spikes)
            predictions[(name, mode, test_name)] = pred.astype(np.float32)
            rows.append({**common, "decoder": name, "mode": mode, "test_set": test_name,
                         "r2": velocity_r2(test.behavior, pred), **extra,
                         "score_s": time.perf_counter() - t})

    fixed = tuning is None or tuning["fixed"]
    fitted_aug = None
    if tuning is not None:
        results, fitted_aug, tune_s = _tuned(train, angles, aug, decoders, tuning, job.seed,
                                             fixed and not _is_none(aug), spikes_only)
        for name, res in results.items():
            params = res["best_params_"]
            gain, gain_se = res["augmentation_gain_"]
            score(name, "tuned", res["best_estimator_"], {
                "n_synthetic": res["n_synthetic_"], "ratio": params["ratio"],
                "guidance_scale": params.get("guidance_scale"),
                "params": json.dumps(_jsonable(params)), "inner_r2": res["best_score_"],
                "inner_gain": gain, "inner_gain_se": gain_se,
                "augment_s": tune_s, "fit_s": None})
    if fixed:
        if fitted_aug is not None:
            # The generator the tuned refit fitted on the same trials: sample it, do not refit.
            aug.set_params(generator=fitted_aug.generator_, prefit=True)
        t = time.perf_counter()
        kwargs = {} if angles is None else {"angles": angles}
        if spikes_only is not None and fitted_aug is None and _learns_unlabelled(aug):
            kwargs["unlabelled"] = spikes_only
        X_aug, y_aug = aug.fit_resample(train.spikes, train.behavior, **kwargs)
        augment_s = time.perf_counter() - t
        mask = np.arange(len(X_aug)) >= train.n_trials
        for name, proto in decoders.items():
            # Decoders take seconds: the job's log line is progress enough, bars would be noise.
            decoder = _seeded(proto, job.seed)
            t = time.perf_counter()
            extra = {"unlabelled": spikes_only} if spikes_only is not None \
                and _takes_unlabelled(decoder) else {}
            decoder.fit(X_aug, y_aug, is_synthetic=mask, **extra)
            score(name, "fixed", decoder, {
                "n_synthetic": int(mask.sum()), "ratio": aug.get_params()["ratio"],
                "guidance_scale": aug.get_params()["guidance_scale"], "params": None,
                "augment_s": augment_s, "fit_s": time.perf_counter() - t})
    artifacts = None
    if job.artifacts:
        first_test = next(iter(tests))
        test = tests[first_test]
        shown = figure_trials(test.angles, n_trajectories)
        mode = "fixed" if fixed else "tuned"
        synthetic = getattr(aug, "synthetic_", None) if fixed else None
        if isinstance(synthetic, TrialSet):
            # Arrays carry no time base: plot the synthetic trials on the real trials' clock.
            synthetic = synthetic[:_MAX_PLOTTED_SYNTHETIC]._replace(t_start_ms=train.t_start_ms)
        predicted = predictions.get((figure_decoder, mode, first_test))
        artifacts = {"synthetic": synthetic, "velocity": test.behavior[shown],
                     "angles": test.angles[shown],
                     "predicted": None if predicted is None else predicted[shown]}
    return {"job": job, "rows": rows, "predictions": predictions, "artifacts": artifacts,
            "wall_s": time.perf_counter() - start}


# ---------------------------------------------------------------------- backends
@contextlib.contextmanager
def parallel_backend(backend: str, n_jobs: int, scheduler: str | None = None):
    """joblib's configuration for a backend; yields the ``n_jobs`` to give ``Parallel``.

    "dask": connects a ``distributed.Client`` to ``scheduler`` (e.g. "tcp://host:8786"), or
    starts a local cluster of ``n_jobs`` single-threaded worker processes, and runs joblib
    on it. "ray": ``ray.init(address=scheduler)`` and Ray's joblib backend.
    """
    if backend in ("loky", "threading"):
        with joblib.parallel_config(backend=backend):
            yield n_jobs
        return
    if backend == "dask":
        from distributed import Client, LocalCluster

        cluster = None
        if scheduler is None:
            workers = n_jobs if n_jobs > 0 else os.cpu_count()
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                   dashboard_address=":0")
        client = Client(scheduler if scheduler is not None else cluster)
        log.info("dask cluster: %s", client.scheduler.address)
        try:
            with joblib.parallel_config(backend="dask"):
                yield -1
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if backend == "ray":
        import ray
        from ray.util.joblib import register_ray

        register_ray()
        started = not ray.is_initialized()
        if started:
            ray.init(address=scheduler)
        try:
            with joblib.parallel_config(backend="ray"):
                yield n_jobs
        finally:
            if started:
                ray.shutdown()
        return
    raise ValueError(f"unknown backend {backend!r}")


# ------------------------------------------------------------------------- a run
def time_left(finished: list[dict], pending: list, workers: int,
              cost_key: Callable | None = None) -> float | None:
    """Seconds the ``pending`` jobs should take on ``workers`` workers: each at the mean wall
    time of the ``finished`` jobs (dicts with ``"job"`` and ``"wall_s"``) of its
    ``cost_key(job)`` (e.g. its augmenter: an EAG job costs ten of a baseline's), or of all
    of them for a key not seen yet. None before any job has finished."""
    if not finished:
        return None
    key = cost_key or (lambda job: None)
    by_key: dict = {}
    for done in finished:
        by_key.setdefault(key(done["job"]), []).append(done["wall_s"])
    overall = float(np.mean([done["wall_s"] for done in finished]))
    total = sum(np.mean(by_key[key(job)]) if key(job) in by_key else overall for job in pending)
    return float(total) / max(1, workers)


def left_text(finished: list[dict], pending: list, workers: int, cost_key: Callable) -> str:
    """'; about 1.2 h left' (:func:`time_left`), naming the keys not timed yet, whose jobs
    are priced at the mean of all (EAG after the baseline: too short); '' when none pend.
    Jobs still running count in full, so the estimate errs long there."""
    left = time_left(finished, pending, workers, cost_key) if pending else None
    if left is None:
        return ""
    timed = {cost_key(done["job"]) for done in finished}
    untimed = sorted({str(cost_key(job)) for job in pending if cost_key(job) not in timed})
    return f"; about {duration(left)} left" + (
        f" (not timed yet: {', '.join(untimed)})" if untimed else "")


def run_jobs(spec: RunSpec, jobs: list, call: Callable, store: JobStore, *, resume: bool,
             say: Callable, report: Callable[[dict, int, int, str], None]
             ) -> tuple[list[dict], list[dict]]:
    """Run the jobs that ``store`` has not finished (all of them without ``resume``) on the
    spec's backend, saving each as it ends, so that a stopped run can go on.

    ``call(job)`` is the ``joblib.delayed`` call that runs one job and returns its dict (with
    ``"job"`` and ``"wall_s"``); ``report(done, n_done, n_jobs, left)`` logs each as it
    ends, ``left`` being "; about 1.2 h left" (:func:`left_text`: jobs of one augmenter, the
    store's ``augmenter_of``, cost alike) or "" after the last.
    Returns (every job's dict in the order of ``jobs``, what the report says of the resumed
    ones: :meth:`JobStore.describe`).
    """
    results, todo = store.finished(jobs) if resume else ([], jobs)
    resumed = store.describe(results)
    if resume:
        say("resuming: %d of %d jobs loaded from %s", len(results), len(jobs), store.folder)
    pending = {store.path(job): job for job in todo}
    with parallel_backend(spec.backend, spec.n_jobs, spec.scheduler) as n_jobs:
        workers = n_jobs if n_jobs > 0 else os.cpu_count() or 1
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for done in parallel(call(job) for job in todo):
            store.save(done)
            results.append(done)
            pending.pop(store.path(done["job"]), None)
            report(done, len(results), len(jobs),
                   left_text(results, list(pending.values()), min(workers, len(pending)),
                             store.augmenter_of))
    # A resumed job may differ from the one asked for in what does not change its results
    # (its figure material): order by the store's key, which leaves that out.
    order = {store.path(job): i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda d: order[store.path(d["job"])]), resumed


def bind_augmenter(spec: RunSpec, name: str, bin_ms: float, simulator):
    """The spec's augmenter ``name``, unfitted: a clone with a fresh clone of its generator
    (the dataset's ``simulator`` bound to an oracle that has none) and the data's bin width
    (ms) set unless the spec gives one."""
    entry = spec.augmenters[name]
    aug = clone(entry["estimator"])
    params = aug.get_params(deep=False)
    if entry["generator"] is not None:
        generator = clone(spec.generators[entry["generator"]])
        if "simulator" in generator.get_params(deep=False) \
                and generator.get_params(deep=False)["simulator"] is None:
            generator.set_params(simulator=simulator)
        aug.set_params(generator=generator)
    if "bin_ms" in params and "bin_ms" not in entry["given"]:
        aug.set_params(bin_ms=bin_ms)
    return aug


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _write_json(path: Path, payload) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(payload), indent=1, allow_nan=False))
    os.replace(tmp, path)


def _label(row) -> str:
    return row["augmenter"] if row.get("mode", "fixed") == "fixed" else \
        f"{row['augmenter']} (tuned)"


def run(spec: RunSpec | str | os.PathLike | dict, *, verbose: int = 1,
        resume: bool = False) -> RunResult:
    """Run a spec (a :class:`RunSpec`, a TOML path or a dict) and write its outputs.

    Writes into the spec's output folder: ``results.json`` (the spec, one row per run,
    the summary, the comparison, the machine and wall time), ``predictions.npz`` (every
    pipeline's predicted test velocity, for later statistics), ``summary.md`` (Markdown
    tables), ``summary.json`` and the figures (``scores.png``, ``rasters.png``,
    ``statistics.png``, ``trajectories.png``; real vs generated figures use the first seed at
    the smallest training fraction). With a ``[tuning]`` table, ``summary.md`` leads with
    the comparison against the tuned baseline (:func:`eag_augment.pipelines.comparison
    .compare`: bootstrap intervals over seeds and test trials). ``verbose``: 0 silent, 1 a
    log line per stage and per job (logger "eag_augment"), plus the generators' and
    decoders' progress when jobs run one at a time in this process.

    Every finished job is also saved in the output's ``jobs/`` folder
    (:mod:`eag_augment.pipelines.job_store`). ``resume=True`` loads the jobs saved there
    under the same settings instead of running them again: a stopped sweep goes on where it
    stopped, and a sweep extended by fractions or augmenters runs only the new jobs.
    results.json lists the resumed jobs with the date and CPU each ran on.
    """
    spec = spec if isinstance(spec, RunSpec) else load_spec(spec)
    start = time.perf_counter()
    out = spec.output
    out.mkdir(parents=True, exist_ok=True)
    say = log.info if verbose else log.debug
    say("loading %s data", spec.dataset["kind"])
    try:
        trials, simulator = load_dataset(spec.dataset, out)
    except (ValueError, TypeError) as err:
        err.add_note(f"while loading the [dataset] of {spec.source}")
        raise
    splits = {seed: fold_split(trials, spec.split, seed) for seed in spec.seeds}
    pool, tests = splits[spec.seeds[0]]
    say("data: %s; training pool %d trials; scored on %s%s", trials, pool.n_trials,
        ", ".join(f"{v.n_trials} {k} trials" for k, v in tests.items()),
        f" (outer fold {spec.seeds[0]} of {spec.split['n_folds']})"
        if spec.split["kind"] == "blocked" else "")
    augmenters = {name: bind_augmenter(spec, name, pool.bin_ms, simulator)
                  for name in spec.augmenter_names}
    decoders = {name: spec.decoders[name] for name in spec.decoder_names}
    plotted_fraction = min(spec.train_fractions)
    jobs = [Job(f, s, a, artifacts=(f == plotted_fraction and s == spec.seeds[0]))
            for f in spec.train_fractions for s in spec.seeds for a in spec.augmenter_names]
    in_process = spec.n_jobs == 1 and spec.backend in ("loky", "threading")
    options = dict(subset=spec.split["subset"], tuning=spec.tuning, unlabelled=spec.unlabelled,
                   torch_threads=spec.torch_threads, figure_decoder=spec.figures["decoder"],
                   n_trajectories=spec.figures["n_trajectories"],
                   progress=bool(verbose) and in_process)
    say("%d jobs (%d fractions x %d seeds x %d augmenters), %d decoders each%s; backend %s, "
        "n_jobs %d", len(jobs), len(spec.train_fractions), len(spec.seeds),
        len(spec.augmenter_names), len(decoders),
        ", fixed and tuned" if spec.tuning is not None else "", spec.backend, spec.n_jobs)

    def report(done: dict, n_done: int, n_jobs: int, left: str) -> None:
        first = next(iter(tests))
        scores = ", ".join(f"{r['decoder']}{'*' if r['mode'] == 'tuned' else ''} "
                           f"{r['r2']:.3f}" for r in done["rows"] if r["test_set"] == first)
        say("[%d/%d] %s: R^2 %s (%.1f s%s)", n_done, n_jobs, done["job"].describe(), scores,
            done["wall_s"], left)

    results, resumed = run_jobs(
        spec, jobs, lambda job: joblib.delayed(run_job)(job, *splits[job.seed],
                                                        augmenters[job.augmenter], decoders,
                                                        **options),
        JobStore(out / "jobs", spec.raw), resume=resume, say=say, report=report)
    rows = pd.DataFrame([row for done in results for row in done["rows"]])
    predictions = {(d["job"].train_fraction, d["job"].seed, d["job"].augmenter, *key): pred
                   for d in results for key, pred in d["predictions"].items()}
    targets = {(seed, name): test.behavior for seed, (_, tests_) in splits.items()
               for name, test in tests_.items()}
    save_predictions(out / "predictions.npz", predictions, targets)
    labelled = rows.assign(augmenter=[_label(r) for r in rows.to_dict(orient="records")])
    baseline = spec.baseline if spec.tuning is None or spec.baseline is None \
        else f"{spec.baseline} (tuned)"
    summary = summarize(labelled, baseline)
    table = markdown_table(summary, baseline)
    comparison = None
    if spec.baseline is not None:
        base = (spec.baseline, "tuned" if spec.tuning else "fixed")
        comparison = compare(rows, predictions, targets, baseline=base,
                             shared_test=spec.split["kind"] != "blocked", random_state=0)
        table = (comparison_markdown(comparison, baseline=base)
                 + "\n\n## Test R^2 per run\n\n" + table)
    artifacts = {d["job"].augmenter: d["artifacts"] for d in results if d["artifacts"]}
    files = make_figures(out, spec.figures, summary, pool, artifacts)
    (out / "summary.md").write_text(f"# {spec.name}\n\n{table}")
    _write_json(out / "summary.json", summary.to_dict(orient="records"))
    wall_s = time.perf_counter() - start
    _write_json(out / "results.json", {
        "name": spec.name, "spec": spec.raw, "rows": rows.to_dict(orient="records"),
        "summary": summary.to_dict(orient="records"),
        "comparison": None if comparison is None else comparison.to_dict(orient="records"),
        "wall_s": wall_s, "machine": machine_info(), "resumed_jobs": resumed,
        "environment": {"backend": spec.backend, "n_jobs": spec.n_jobs,
                        "torch_threads_per_job": spec.torch_threads},
    })
    files = [out / "results.json", out / "predictions.npz", out / "summary.md",
             out / "summary.json"] + files
    say("wrote %s (%.0f s)", ", ".join(str(f) for f in files), wall_s)
    return RunResult(rows=rows, summary=summary, table=table, output=out, files=files,
                     wall_s=wall_s, comparison=comparison, resumed=resumed)


def save_predictions(path: Path, predictions: dict, targets: dict) -> None:
    """Write predictions keyed (fraction, seed, augmenter, decoder, mode, test set) and test
    velocity keyed (seed, test set) to ``path`` (.npz, written atomically), as
    "p|fraction|seed|augmenter|decoder|mode|test set" and "y|seed|test set" arrays; names
    must not contain "|". :func:`load_predictions` reads them back."""
    arrays = {"p|" + "|".join(map(str, key)): value for key, value in predictions.items()}
    arrays.update({"y|" + "|".join(map(str, key)): value.astype(np.float32)
                   for key, value in targets.items()})
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_predictions(path: str | os.PathLike) -> tuple[dict, dict]:
    """(predictions, targets) as :func:`run` wrote them to ``predictions.npz``: predictions
    keyed (fraction, seed, augmenter, decoder, mode, test set), targets (seed, test set)."""
    predictions, targets = {}, {}
    with np.load(path) as data:
        for key in data.files:
            kind, *parts = key.split("|")
            if kind == "p":
                f, seed, aug, dec, mode, test = parts
                predictions[(float(f), int(seed), aug, dec, mode, test)] = data[key]
            else:
                targets[(int(parts[0]), parts[1])] = data[key]
    return predictions, targets
