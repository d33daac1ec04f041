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
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.base import clone

import eag_augment
from eag_augment.metrics import velocity_r2
from eag_augment.pipelines.data import load_dataset, split_dataset, training_subset
from eag_augment.pipelines.report import figure_trials, make_figures, markdown_table, summarize
from eag_augment.pipelines.spec import RunSpec, load_spec
from eag_augment.trials import TrialSet

__all__ = ["Job", "RunResult", "run", "run_job", "parallel_backend"]

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
    """What :func:`run` produced: per-run rows, the summary, and the files written."""

    rows: pd.DataFrame
    summary: pd.DataFrame
    table: str
    output: Path
    files: list[Path]
    wall_s: float


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


def _seeded(estimator, seed: int, verbose: bool):
    """A clone with ``random_state`` = seed where unset, and progress bars when asked."""
    est = clone(estimator)
    params = est.get_params(deep=False)
    if "random_state" in params and params["random_state"] is None:
        est.set_params(random_state=seed)
    if verbose and params.get("verbose") == 0:
        est.set_params(verbose=1)
    return est


def run_job(job: Job, pool: TrialSet, tests: dict[str, TrialSet], augmenter,
            decoders: dict, *, subset: str = "random", torch_threads: int | None = None,
            figure_decoder: str | None = None, n_trajectories: int = 16,
            progress: bool = False) -> dict:
    """Run one job: returns ``{"job", "rows", "artifacts"}`` (artifacts None unless asked).

    Each row: train_fraction, seed, augmenter, decoder, test_set, r2 (velocity R^2 on the
    test set), n_train_real, n_synthetic, and timings in s: augment_s (generator fit and
    sampling), fit_s (decoder fit), score_s (prediction and R^2).
    """
    try:
        with _torch_threads(torch_threads):
            return _run_job(job, pool, tests, augmenter, decoders, subset, figure_decoder,
                            n_trajectories, progress)
    except Exception as err:
        err.add_note(f"in the job with {job.describe()}")
        raise


def _run_job(job, pool, tests, augmenter, decoders, subset, figure_decoder, n_trajectories,
             progress) -> dict:
    start = time.perf_counter()
    train = training_subset(pool, job.train_fraction, job.seed, subset)
    aug = _seeded(augmenter, job.seed, progress)
    kwargs = {}
    if "angle" in train.conditions and "angles" in inspect.signature(aug.fit_resample).parameters:
        kwargs["angles"] = train.conditions["angle"].to_numpy(dtype=float)
    t = time.perf_counter()
    X_aug, y_aug = aug.fit_resample(train.spikes, train.behavior, **kwargs)
    augment_s = time.perf_counter() - t
    first_test = next(iter(tests))
    shown = (figure_trials(tests[first_test].angles, n_trajectories) if job.artifacts
             else None)
    rows, predicted = [], None
    for name, proto in decoders.items():
        # Decoders take seconds: the job's log line is progress enough, bars would be noise.
        decoder = _seeded(proto, job.seed, False)
        t = time.perf_counter()
        decoder.fit(X_aug, y_aug)
        fit_s = time.perf_counter() - t
        for test_name, test in tests.items():
            t = time.perf_counter()
            pred = decoder.predict(test.spikes)
            r2 = velocity_r2(test.behavior, pred)
            rows.append({
                "train_fraction": job.train_fraction, "seed": job.seed,
                "augmenter": job.augmenter, "decoder": name, "test_set": test_name, "r2": r2,
                "n_train_real": train.n_trials, "n_synthetic": len(X_aug) - train.n_trials,
                "augment_s": augment_s, "fit_s": fit_s, "score_s": time.perf_counter() - t,
            })
            if shown is not None and name == figure_decoder and test_name == first_test:
                predicted = pred[shown]
    artifacts = None
    if job.artifacts:
        synthetic = getattr(aug, "synthetic_", None)
        if isinstance(synthetic, TrialSet):
            # Arrays carry no time base: plot the synthetic trials on the real trials' clock.
            synthetic = synthetic[:_MAX_PLOTTED_SYNTHETIC]._replace(t_start_ms=train.t_start_ms)
        test = tests[first_test]
        artifacts = {"synthetic": synthetic, "velocity": test.behavior[shown],
                     "angles": test.angles[shown], "predicted": predicted}
    return {"job": job, "rows": rows, "artifacts": artifacts,
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
def _bind_augmenter(spec: RunSpec, name: str, bin_ms: float, simulator):
    """The augmenter prototype with its generator and the data's bin width set."""
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


def run(spec: RunSpec | str | os.PathLike | dict, *, verbose: int = 1) -> RunResult:
    """Run a spec (a :class:`RunSpec`, a TOML path or a dict) and write its outputs.

    Writes into the spec's output folder: ``results.json`` (the spec, one row per run,
    the summary, environment and wall time), ``summary.md`` (Markdown table),
    ``summary.json`` and the figures (``scores.png``, ``rasters.png``, ``statistics.png``,
    ``trajectories.png``; real vs generated figures use the first seed at the smallest
    training fraction). ``verbose``: 0 silent, 1 a log line per stage and per job (logger
    "eag_augment"), plus the generators' and decoders' progress bars when jobs run one at a
    time in this process.
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
    pool, tests = split_dataset(trials, spec.split)
    say("data: %s; training pool %d trials; scored on %s", trials, pool.n_trials,
        ", ".join(f"{v.n_trials} {k} trials" for k, v in tests.items()))
    augmenters = {name: _bind_augmenter(spec, name, pool.bin_ms, simulator)
                  for name in spec.augmenter_names}
    decoders = {name: spec.decoders[name] for name in spec.decoder_names}
    plotted_fraction = min(spec.train_fractions)
    jobs = [Job(f, s, a, artifacts=(f == plotted_fraction and s == spec.seeds[0]))
            for f in spec.train_fractions for s in spec.seeds for a in spec.augmenter_names]
    in_process = spec.n_jobs == 1 and spec.backend in ("loky", "threading")
    options = dict(subset=spec.split["subset"], torch_threads=spec.torch_threads,
                   figure_decoder=spec.figures["decoder"],
                   n_trajectories=spec.figures["n_trajectories"],
                   progress=bool(verbose) and in_process)
    say("%d jobs (%d fractions x %d seeds x %d augmenters), %d decoders each; backend %s, "
        "n_jobs %d", len(jobs), len(spec.train_fractions), len(spec.seeds),
        len(spec.augmenter_names), len(decoders), spec.backend, spec.n_jobs)

    results = []
    with parallel_backend(spec.backend, spec.n_jobs, spec.scheduler) as n_jobs:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for done in parallel(joblib.delayed(run_job)(job, pool, tests, augmenters[job.augmenter],
                                                     decoders, **options) for job in jobs):
            results.append(done)
            scores = ", ".join(f"{r['decoder']} {r['r2']:.3f}" for r in done["rows"]
                               if r["test_set"] == next(iter(tests)))
            say("[%d/%d] %s: R^2 %s (%.1f s)", len(results), len(jobs),
                done["job"].describe(), scores, done["wall_s"])

    order = {(j.train_fraction, j.seed, j.augmenter): i for i, j in enumerate(jobs)}
    results.sort(key=lambda d: order[(d["job"].train_fraction, d["job"].seed,
                                      d["job"].augmenter)])
    rows = pd.DataFrame([row for done in results for row in done["rows"]])
    summary = summarize(rows, spec.baseline)
    table = markdown_table(summary, spec.baseline)
    artifacts = {d["job"].augmenter: d["artifacts"] for d in results if d["artifacts"]}
    files = make_figures(out, spec.figures, summary, pool, artifacts)
    (out / "summary.md").write_text(f"# {spec.name}\n\n{table}")
    _write_json(out / "summary.json", summary.to_dict(orient="records"))
    wall_s = time.perf_counter() - start
    _write_json(out / "results.json", {
        "name": spec.name, "spec": spec.raw, "rows": rows.to_dict(orient="records"),
        "summary": summary.to_dict(orient="records"), "wall_s": wall_s,
        "environment": {"eag_augment": eag_augment.__version__,
                        "python": platform.python_version(), "platform": platform.platform(),
                        "backend": spec.backend, "n_jobs": spec.n_jobs},
    })
    files = [out / "results.json", out / "summary.md", out / "summary.json"] + files
    say("wrote %s (%.0f s)", ", ".join(str(f) for f in files), wall_s)
    return RunResult(rows=rows, summary=summary, table=table, output=out, files=files,
                     wall_s=wall_s)
