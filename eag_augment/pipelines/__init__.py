"""Declarative runs: a TOML spec (dataset, split, generators, augmenters, decoders, sweep)
in, results.json + a summary table + figures out.

>>> from eag_augment.pipelines import load_spec, run
>>> result = run(load_spec("pipelines/demo.toml", profile="quick"))  # doctest: +SKIP
>>> print(result.table)  # doctest: +SKIP

Benchmarks build on the same pieces: :func:`load_spec` accepts a dict, :func:`run_job` runs
one (fraction, seed, augmenter) cell and :func:`run_jobs` runs many (resumable),
:func:`summarize` turns rows into mean +- s.e.m. and
gains over a baseline, :func:`compare` puts every pipeline against the tuned baselines
with bootstrap intervals, :func:`bind_augmenter` gives a spec's augmenter with its generator
ready to fit.
"""

from eag_augment.pipelines.comparison import compare, comparison_markdown
from eag_augment.pipelines.data import fold_split, load_dataset, split_dataset, training_subset
from eag_augment.pipelines.estimators import build_estimator
from eag_augment.pipelines.report import (make_figures, markdown_table, scores_figure,
                                          summarize)
from eag_augment.pipelines.runner import (Job, RunResult, bind_augmenter, load_predictions,
                                          parallel_backend, run, run_job, run_jobs,
                                          save_predictions)
from eag_augment.pipelines.spec import RunSpec, load_spec
from eag_augment.pipelines.spec_checks import SpecError

__all__ = ["Job", "RunResult", "RunSpec", "SpecError", "bind_augmenter", "build_estimator",
           "compare", "comparison_markdown", "fold_split", "load_dataset", "load_predictions",
           "load_spec", "make_figures", "markdown_table", "parallel_backend", "run", "run_job",
           "run_jobs", "save_predictions", "scores_figure", "split_dataset", "summarize", "training_subset"]
