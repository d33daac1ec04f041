"""Finished jobs of a sweep, kept on disk so that an interrupted or extended run resumes.

:func:`eag_augment.pipelines.run` writes each job's result to ``<output>/jobs/<key>.joblib``
as soon as the job finishes, and with ``resume=True`` loads those it finds instead of
running them again. A sweep of many hours therefore survives a stopped machine, and a run
with more training fractions or augmenters than an earlier one reuses the jobs they share.

The key hashes everything that decides a job's numbers: the job itself (training fraction,
outer fold, augmenter; a job saved with figure material also serves one without), the
package version, and the spec without the entries that only choose which jobs run and where
(``name``, ``output``, ``n_jobs``, ``backend``, ``scheduler``, ``profiles``; the sweep's
``train_fraction``, ``seeds``, ``augmenters`` and ``baseline``) and without the other
augmenters' and generators' tables. A changed setting therefore runs again, while a change
to the code within one package version is not seen: run without ``resume`` (or delete the
folder) after changing code that moves results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import joblib

from eag_augment.pipelines.environment import machine_info

__all__ = ["JobStore", "job_key"]

log = logging.getLogger(__name__)

# Entries that choose which jobs run, where, or under what name, not what a job computes.
_NOT_IN_KEY = ("name", "output", "n_jobs", "backend", "scheduler", "profiles", "generators",
               "augmenters")
_SWEEP_CHOICES = ("train_fraction", "seeds", "augmenters", "baseline")


def _identity(job) -> dict:
    """A job's fields but ``artifacts``: a job saved with figure material serves the same job
    without it, so changing the sweep's smallest fraction (the plotted one) reruns nothing."""
    return {k: v for k, v in dataclasses.asdict(job).items() if k != "artifacts"}


def job_key(raw: dict, job, augmenter: str | None) -> str:
    """A hex digest of what decides ``job``'s results under the spec ``raw`` (a RunSpec's
    ``raw`` dict): ``job`` is a dataclass (its fields count, but ``artifacts``),
    ``augmenter`` the name of the spec's augmenter it runs, if any."""
    import eag_augment

    table = raw.get("augmenters", {}).get(augmenter, {})
    generator = table.get("generator")
    parts = {key: value for key, value in raw.items() if key not in _NOT_IN_KEY}
    parts["sweep"] = {key: value for key, value in raw.get("sweep", {}).items()
                      if key not in _SWEEP_CHOICES}
    parts["augmenter"] = table
    parts["generator"] = raw.get("generators", {}).get(generator) \
        if isinstance(generator, str) else generator
    parts["job"] = _identity(job)
    parts["version"] = eag_augment.__version__
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class JobStore:
    """The finished jobs of one run folder: :meth:`save` each as it ends, :meth:`finished`
    splits a sweep's jobs into those saved and those left when resuming.

    ``raw``: the spec (a RunSpec's ``raw``) the jobs belong to; ``augmenter_of``: the name of
    a job's augmenter. Jobs are frozen dataclasses with a ``describe()`` method; a finished
    job is a dict with at least ``"job"`` and ``"wall_s"``.
    """

    def __init__(self, folder: Path, raw: dict,
                 augmenter_of: Callable[[object], str | None] = lambda job: job.augmenter
                 ) -> None:
        self.folder = Path(folder)
        self.raw = raw
        self.augmenter_of = augmenter_of

    def path(self, job) -> Path:
        return self.folder / f"{job_key(self.raw, job, self.augmenter_of(job))}.joblib"

    def finished(self, jobs: list) -> tuple[list[dict], list]:
        """(the saved results among ``jobs``, the jobs left to run), in the order given."""
        saved = {job: record for job in jobs if (record := self.load(job)) is not None}
        return list(saved.values()), [job for job in jobs if job not in saved]

    @staticmethod
    def describe(records: list[dict]) -> list[dict]:
        """What a report says of resumed jobs: job, its own wall time, date, CPU and the
        commit that computed it (None for jobs saved before commits were recorded)."""
        return [{"job": r["job"].describe(), "wall_s": r["wall_s"], "date": r["saved"]["time"],
                 "cpu": r["saved"]["machine"]["cpu"],
                 "commit": r["saved"]["machine"].get("commit")} for r in records]

    def save(self, done: dict) -> None:
        """Write a finished job (``run_job``'s dict) with the machine and time it ran on,
        atomically, so that a stopped run never leaves half a file behind."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(done["job"])
        record = {**done, "saved": {"time": time.strftime("%Y-%m-%d %H:%M:%S"),
                                    "machine": machine_info()}}
        tmp = path.with_name(f".{path.name}.tmp")
        joblib.dump(record, tmp, compress=3)
        os.replace(tmp, path)

    def load(self, job) -> dict | None:
        """The saved result of ``job`` under this spec, or None (never run, or unreadable:
        the job then runs again)."""
        path = self.path(job)
        if not path.is_file():
            return None
        try:
            record = joblib.load(path)
        except Exception as err:  # any unreadable file only costs running the job again
            log.warning("rerunning %s: its saved result %s is unreadable (%s)",
                        job.describe(), path, err)
            return None
        saved = record.get("job")
        if saved is None or _identity(saved) != _identity(job):
            log.warning("rerunning %s: %s holds another job", job.describe(), path)
            return None
        if not hasattr(job, "artifacts"):
            return record
        if job.artifacts and not saved.artifacts:
            return None  # saved without the figure material this run plots
        return {**record, "job": job, "artifacts": record["artifacts"] if job.artifacts else None}

