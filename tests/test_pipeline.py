"""Run specs and the runner: validation, data handling, outputs, parallel backends."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eag_augment import TrialSet
from eag_augment.pipelines import (SpecError, load_spec, run, split_dataset, summarize,
                                   training_subset)
from eag_augment.pipelines.environment import source_revision

SPECS = Path(__file__).resolve().parent.parent / "pipelines"


def tiny_spec(tmp_path, **changes) -> dict:
    spec = {
        "name": "tiny",
        "output": str(tmp_path / "out"),
        "dataset": {"kind": "synthetic_reach", "n_trials": 80, "n_neurons": 12, "n_heldout": 2,
                    "random_state": 0, "rebin_ms": 20},
        "generators": {"psth": {"class": "PSTHPoissonGenerator"}},
        "augmenters": {"none": {"ratio": 0},
                       "psth": {"generator": "psth", "ratio": 1, "condition": "velocity"}},
        "decoders": {"ridge": {"class": "RidgeDecoder", "alpha": 10.0, "lags": 2},
                     "wiener": {"class": "WienerFilterDecoder", "lags": 2}},
        "sweep": {"train_fraction": [0.5, 1.0], "seeds": 2},
        "figures": {"decoder": "ridge", "n_trajectories": 4},
    }
    for key, value in changes.items():
        spec[key] = value
    return spec


# ----------------------------------------------------------------------- validation
@pytest.mark.parametrize("name", ["demo", "mc_maze", "area2_bump", "unseen_directions"])
def test_shipped_specs_validate(name):
    overrides = ["dataset.path=pyproject.toml"] if name in ("mc_maze", "area2_bump") else []
    spec = load_spec(SPECS / f"{name}.toml", overrides=overrides)
    assert spec.name == name and spec.decoder_names and spec.augmenter_names
    assert spec.baseline == "none"


def test_nwb_specs_ask_for_the_users_file():
    with pytest.raises(SpecError, match=r"--set dataset.path=FILE"):
        load_spec(SPECS / "mc_maze.toml")
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(SPECS / "area2_bump.toml", overrides=["dataset.path=/no/such/file.nwb"])


@pytest.mark.parametrize("edit, match", [
    (lambda s: s.update(n_job=2), "unknown key 'n_job'; did you mean 'n_jobs'"),
    (lambda s: s.update(backend="spark"), "backend must be one of"),
    (lambda s: s.update(scheduler="tcp://x:1"), "only used by the dask and ray"),
    (lambda s: s["dataset"].update(kind="lorentz"), "did you mean 'lorenz'"),
    (lambda s: s["dataset"].update(n_trial=3), "unknown key 'n_trial'"),
    (lambda s: s["generators"]["psth"].update({"class": "PSTHGenerator"}),
     "unknown class 'PSTHGenerator'"),
    (lambda s: s["generators"]["psth"].update(smooth=3), "has no parameter 'smooth'"),
    (lambda s: s["decoders"]["ridge"].update({"class": "nosuchmodule:Thing"}), "cannot import"),
    (lambda s: s["augmenters"]["psth"].update(generator="eag"), "generator 'eag' is not defined"),
    (lambda s: s["augmenters"]["psth"].update(ratios=2), "has no parameter 'ratios'"),
    (lambda s: s["sweep"].update(decoders=["gru"]), "'gru' is not defined"),
    (lambda s: s["sweep"].update(train_fraction=[0.0]), r"must be in \(0, 1\]"),
    (lambda s: s.update(split={"kind": "random", "train": "x"}), "only kind = \"named\""),
    (lambda s: s.pop("decoders"), "decoders"),
    (lambda s: s["figures"].update(decoder="gru"), "not among the swept decoders"),
])
def test_bad_specs_get_clear_errors(tmp_path, edit, match):
    spec = tiny_spec(tmp_path)
    edit(spec)
    with pytest.raises(SpecError, match=match):
        load_spec(spec)


def test_profiles_and_overrides_merge(tmp_path):
    spec = tiny_spec(tmp_path, profiles={"small": {"dataset": {"n_trials": 40}}})
    loaded = load_spec(spec, profile="small", overrides=["sweep.seeds=[3, 4]", "name=x"])
    assert loaded.dataset["n_trials"] == 40 and loaded.dataset["n_neurons"] == 12
    assert loaded.seeds == [3, 4] and loaded.name == "x"
    with pytest.raises(SpecError, match="no profile 'big'"):
        load_spec(spec, profile="big")
    with pytest.raises(SpecError, match="KEY=VALUE"):
        load_spec(spec, overrides=["seeds"])


# ------------------------------------------------------------------------------ data
def _trials(n=40, conditions=4):
    rng = np.random.default_rng(0)
    angle = np.linspace(-np.pi, np.pi, conditions, endpoint=False)[np.arange(n) % conditions]
    vel = np.stack([np.cos(angle), np.sin(angle)], -1)[:, None, :].repeat(5, axis=1)
    table = pd.DataFrame({"angle": angle, "condition": np.arange(n) % conditions,
                          "start_ms": 100.0 * np.arange(n)[::-1],
                          "split": np.where(np.arange(n) < 30, "train", "test")})
    return TrialSet(rng.poisson(1.0, (n, 5, 3)), vel, table, bin_ms=20)


def test_training_subsets_are_seeded_balanced_and_ordered():
    pool = _trials()
    a = training_subset(pool, 0.25, seed=0)
    assert a.n_trials == 10
    counts = a.conditions["condition"].value_counts()
    assert counts.max() - counts.min() <= 1
    assert np.array_equal(a.spikes, training_subset(pool, 0.25, seed=0).spikes)
    assert not np.array_equal(a.spikes, training_subset(pool, 0.25, seed=1).spikes)
    assert training_subset(pool, 1.0, seed=0) is pool
    block = training_subset(pool, 0.25, seed=3, mode="contiguous").conditions["start_ms"]
    assert np.all(np.diff(np.sort(block.to_numpy())) == 100.0)


def test_holdout_directions_leave_training_and_form_their_own_test_set():
    trials = _trials()
    pool, tests = split_dataset(trials, {"kind": "named", "holdout_angles_deg": [90],
                                         "angle_tolerance_deg": 5.0, "test_fraction": 0.2})
    assert not np.isclose(pool.angles, np.pi / 2).any()
    assert set(tests) == {"heldout", "seen"}
    np.testing.assert_allclose(tests["heldout"].angles, np.pi / 2)
    assert not np.isclose(tests["seen"].angles, np.pi / 2).any()
    assert pool.n_trials + tests["heldout"].n_trials + tests["seen"].n_trials == trials.n_trials \
        - np.isclose(trials[:30].angles, np.pi / 2).sum()


def test_summary_pairs_gains_by_seed():
    rows = pd.DataFrame({
        "test_set": "test", "train_fraction": 0.1, "decoder": "ridge",
        "augmenter": ["none", "none", "aug", "aug"], "seed": [0, 1, 0, 1],
        "r2": [0.5, 0.3, 0.6, 0.5], "augment_s": 0.0, "fit_s": 0.0})
    summary = summarize(rows, baseline="none").set_index("augmenter")
    assert summary.loc["aug", "gain_mean"] == pytest.approx(0.15)
    assert summary.loc["aug", "gain_sem"] == pytest.approx(0.05)
    assert summary.loc["none", "r2_sem"] == pytest.approx(0.1)


# --------------------------------------------------------------------------- a run
def test_run_writes_rows_summary_and_figures(tmp_path):
    result = run(load_spec(tiny_spec(tmp_path)), verbose=0)
    out = tmp_path / "out"
    for name in ("results.json", "summary.md", "summary.json", "scores.png", "rasters.png",
                 "statistics.png", "trajectories.png"):
        assert (out / name).is_file(), name
    payload = json.loads((out / "results.json").read_text())
    rows = pd.DataFrame(payload["rows"])
    assert len(rows) == 2 * 2 * 2 * 2  # fractions x seeds x augmenters x decoders
    assert set(rows.columns) >= {"train_fraction", "seed", "augmenter", "decoder", "test_set",
                                 "r2", "n_train_real", "n_synthetic", "augment_s", "fit_s",
                                 "score_s"}
    none, psth = rows[rows.augmenter == "none"], rows[rows.augmenter == "psth"]
    assert (none.n_synthetic == 0).all()
    assert (psth.n_synthetic.to_numpy() == psth.n_train_real.to_numpy()).all()
    assert payload["spec"]["name"] == "tiny" and payload["wall_s"] > 0
    assert "| ridge | 50% |" in result.table
    assert "(+" in result.table or "(-" in result.table  # gains over the 'none' baseline
    assert len(result.summary) == 2 * 2 * 2
    assert "over 2 seeds" in result.table


NO_FIGURES = {"decoder": "ridge", "scores": False, "rasters": False, "statistics": False,
              "trajectories": False}


def test_oracle_gets_the_simulator_and_unseen_directions_run(tmp_path):
    spec = tiny_spec(
        tmp_path,
        split={"kind": "named", "holdout_angles_deg": [90], "angle_tolerance_deg": 10},
        generators={"oracle": {"class": "OracleGenerator"}},
        augmenters={"none": {"ratio": 0},
                    "oracle": {"generator": "oracle", "condition": "angle",
                               "conditions_deg": [90], "ratio": 0.5}},
        sweep={"seeds": [0]}, figures={"decoder": "ridge", "scores": False},
    )
    spec["dataset"].pop("rebin_ms")
    result = run(load_spec(spec), verbose=0)
    assert set(result.rows["test_set"]) == {"heldout", "seen"}
    assert not (tmp_path / "out" / "scores.png").exists()
    oracle = result.rows[result.rows.augmenter == "oracle"]
    assert (oracle.n_synthetic > 0).all()


def test_runs_are_seeded_and_threading_matches_sequential(tmp_path):
    first = run(load_spec(tiny_spec(tmp_path, figures=NO_FIGURES)), verbose=0)
    again = run(load_spec(tiny_spec(tmp_path, figures=NO_FIGURES)), verbose=0)
    np.testing.assert_array_equal(again.rows["r2"], first.rows["r2"])
    threaded = run(load_spec(tiny_spec(tmp_path, backend="threading", n_jobs=2,
                                       figures=NO_FIGURES)), verbose=0)
    np.testing.assert_allclose(threaded.rows["r2"], first.rows["r2"])


def test_dask_backend_on_a_loopback_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    local = run(load_spec(tiny_spec(tmp_path, figures=NO_FIGURES)), verbose=0)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=":0") as cluster:
        spec = tiny_spec(tmp_path, backend="dask", scheduler=cluster.scheduler_address,
                         figures=NO_FIGURES)
        remote = run(load_spec(spec), verbose=0)
    np.testing.assert_allclose(remote.rows["r2"], local.rows["r2"])


# ------------------------------------------------------------------------ resuming
def _counting_jobs(monkeypatch) -> list:
    """Record the jobs the runner actually runs (n_jobs 1 runs them in this process)."""
    from eag_augment.pipelines import runner

    ran, real = [], runner.run_job
    monkeypatch.setattr(runner, "run_job",
                        lambda job, *a, **k: ran.append(job) or real(job, *a, **k))
    return ran


def test_a_resumed_run_reuses_finished_jobs_and_gives_the_same_results(tmp_path, monkeypatch):
    ran = _counting_jobs(monkeypatch)
    spec = tiny_spec(tmp_path, n_jobs=1, figures=NO_FIGURES, sweep={"train_fraction": [0.5],
                                                                    "seeds": 2})
    first = run(load_spec(spec), verbose=0)
    assert len(ran) == 4 and len(list((tmp_path / "out" / "jobs").glob("*.joblib"))) == 4
    again = run(load_spec(spec), verbose=0, resume=True)
    assert len(ran) == 4  # nothing ran again
    pd.testing.assert_frame_equal(again.rows, first.rows)
    resumed = json.loads((tmp_path / "out" / "results.json").read_text())["resumed_jobs"]
    assert len(resumed) == 4 and all(r["cpu"] and r["date"] and r["wall_s"] > 0
                                     for r in resumed)
    # Each saved job names the commit that computed it, not the one resuming it.
    assert {r["commit"] for r in resumed} == {source_revision()}

    # More fractions and augmenters: only the new jobs run.
    spec["sweep"]["train_fraction"] = [0.5, 1.0]
    extended = run(load_spec(spec), verbose=0, resume=True)
    assert [j.train_fraction for j in ran[4:]] == [1.0] * 4
    assert len(extended.rows) == 2 * len(first.rows)

    # The first fold's jobs at the smallest fraction keep figure material: at 100 % alone they
    # run again for it, and then serve the wider sweep as well.
    spec["sweep"]["train_fraction"] = [1.0]
    run(load_spec(spec), verbose=0, resume=True)
    assert {(j.train_fraction, j.seed) for j in ran[8:]} == {(1.0, 0)} and len(ran) == 10
    spec["sweep"]["train_fraction"] = [0.5, 1.0]
    run(load_spec(spec), verbose=0, resume=True)
    assert len(ran) == 10

    # A changed generator reruns its augmenter's jobs, not the baseline's; without resume,
    # everything runs.
    spec["generators"]["psth"]["smooth_ms"] = 30.0
    run(load_spec(spec), verbose=0, resume=True)
    assert {(j.augmenter, j.train_fraction) for j in ran[10:]} == {("psth", 0.5),
                                                                    ("psth", 1.0)}
    assert len(ran) == 14
    run(load_spec(spec), verbose=0)
    assert len(ran) == 22


def test_an_unreadable_saved_job_runs_again(tmp_path, monkeypatch, caplog):
    ran = _counting_jobs(monkeypatch)
    spec = tiny_spec(tmp_path, n_jobs=1, figures=NO_FIGURES,
                     sweep={"train_fraction": [1.0], "seeds": [0]})
    run(load_spec(spec), verbose=0)
    saved = sorted((tmp_path / "out" / "jobs").glob("*.joblib"))
    saved[0].write_bytes(b"half a file")
    again = run(load_spec(spec), verbose=0, resume=True)
    assert len(ran) == 3 and len(again.rows) == 4
    assert "unreadable" in caplog.text


def test_source_revision_names_only_a_checkout_that_tracks_the_folder(tmp_path):
    import subprocess

    assert source_revision(tmp_path) is None  # no checkout
    if subprocess.run(["git", "--version"], capture_output=True).returncode:
        pytest.skip("no git")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("")
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / "b.py").write_text("")
    subprocess.run([*git, "add", "src"], check=True)
    subprocess.run([*git, "commit", "-qm", "a"], check=True)
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert source_revision(tmp_path / "src") == head
    # An installed copy in an untracked folder of someone's repository is not their code.
    assert source_revision(tmp_path / "venv") is None


def test_time_left_prices_each_pending_job_at_its_augmenters_mean_time():
    from types import SimpleNamespace

    from eag_augment.pipelines.runner import left_text, time_left

    def job(augmenter):
        return SimpleNamespace(augmenter=augmenter)

    finished = [{"job": job("eag"), "wall_s": 600.0}, {"job": job("none"), "wall_s": 50.0},
                {"job": job("none"), "wall_s": 70.0}]
    pending = [job("eag"), job("none"), job("jitter")]
    # eag 600, none 60, jitter (not seen yet) the mean of all finished, 240; on two workers.
    assert time_left(finished, pending, 2, lambda j: j.augmenter) == pytest.approx(450.0)
    assert time_left(finished, pending, 1) == pytest.approx(720.0)
    assert left_text(finished, pending, 2, lambda j: j.augmenter) == \
        "; about 7.5 min left (not timed yet: jitter)"
    assert left_text(finished, pending[:2], 2, lambda j: j.augmenter) == "; about 5.5 min left"
    assert left_text(finished, [], 2, lambda j: j.augmenter) == ""
    assert time_left([], pending, 2) is None
