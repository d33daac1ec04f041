"""The eag-augment command, end to end on tiny data."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eag_augment import TrialSet
from eag_augment.cli import main
from eag_augment.datasets import load_nwb

TINY_EAG_PARAMS = ["width=16", "depth=1", "heads=2", "n_buffer=2", "head_width=16",
                   "head_blocks=1", "noise_dim=8", "patch_size=2", "autoencoder.latent_dim=4",
                   "autoencoder.channels=8", "autoencoder.n_blocks=1", "autoencoder.state_dim=8"]


@pytest.fixture
def data_file(tiny_reach, tmp_path):
    return tiny_reach.save(tmp_path / "tiny.npz")


def cli(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.mark.parametrize("command", [[], ["run"], ["fit"], ["sample"], ["demo"]])
def test_help_everywhere(command, capsys):
    assert cli(*command, "--help") == 0
    assert "usage: eag-augment" in capsys.readouterr().out


def test_console_script_runs(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "import sys; from eag_augment.cli import main; "
                           "sys.exit(main())", "sample", str(tmp_path / "none.pt"), "-n", "2",
                           "-o", str(tmp_path / "x.npz")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error: no model file" in proc.stderr and "Traceback" not in proc.stderr


def test_fit_then_sample_psth_at_unseen_angles(data_file, tmp_path, capsys):
    model = tmp_path / "psth.pt"
    assert cli("-q", "fit", data_file, "-o", model, "--generator", "psth",
               "--condition", "angle") == 0
    assert model.is_file()
    out = tmp_path / "synthetic.npz"
    assert cli("sample", model, "-n", 6, "--angle", 30, 100, "--seed", 1, "-o", out, "-q") == 0
    trials = TrialSet.load(out)
    assert trials.spikes.shape == (6, 20, 8)
    np.testing.assert_allclose(trials.conditions["angle"], np.radians([30, 100] * 3))
    nwb = tmp_path / "synthetic.nwb"
    assert cli("sample", model, "-n", 4, "-o", nwb, "-q") == 0
    assert load_nwb(nwb).spikes.shape == (4, 20, 8)
    assert str(nwb) in capsys.readouterr().out


def test_fit_then_sample_tiny_eag_with_velocity_conditioning(data_file, tmp_path):
    model = tmp_path / "eag.pt"
    params = [a for p in TINY_EAG_PARAMS for a in ("--param", p)]
    assert cli("fit", data_file, "-o", model, "--epochs", 1, "--device", "cpu", *params,
               "-q") == 0
    out = tmp_path / "eag.npz"
    assert cli("sample", model, "-n", 3, "--angle", 45, "--guidance-scale", 2,
               "--device", "cpu", "-o", out, "-q") == 0
    trials = TrialSet.load(out)
    assert trials.spikes.shape == (3, 20, 8)
    np.testing.assert_allclose(trials.angles, np.radians(45), atol=1e-5)


@pytest.mark.parametrize("argv, message", [
    (["fit", "{tmp}/missing.npz", "-o", "{tmp}/m.pt"], "no data file"),
    (["fit", "{data}", "-o", "{tmp}/m.pt", "--generator", "psth", "--epochs", "3"],
     "not trained by epochs"),
    (["fit", "{data}", "-o", "{tmp}/m.pt", "--param", "widht=3"], "has no parameter 'widht'"),
    (["fit", "{data}", "-o", "{tmp}/m.pt", "--param", "width"], "KEY=VALUE"),
    (["fit", "{tmp}/data.csv", "-o", "{tmp}/m.pt"], "DATA must be"),
    (["sample", "{tmp}/missing.pt", "-n", "2", "-o", "{tmp}/x.npz"], "no model file"),
    (["sample", "{tmp}/missing.pt", "-n", "2", "-o", "{tmp}/x.csv"], "must end in .nwb or .npz"),
    (["sample", "{tmp}/missing.pt", "-n", "0", "-o", "{tmp}/x.npz"], "positive number"),
    (["run", "{tmp}/missing.toml"], "no spec file"),
    (["fit", "{data}", "-o", "{tmp}/m.pt", "--generator", "gan"], "invalid choice"),
    (["sample", "{tmp}/m.pt", "-n", "two", "-o", "{tmp}/x.npz"], "must be a positive number"),
])
def test_bad_input_exits_2_with_a_message(argv, message, data_file, tmp_path, capsys):
    argv = [a.format(tmp=tmp_path, data=data_file) for a in argv]
    assert cli(*argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_sample_rejects_angles_for_an_unconditional_model(data_file, tmp_path, capsys):
    model = tmp_path / "plain.pt"
    assert cli("fit", data_file, "-o", model, "--generator", "psth", "--condition", "none",
               "-q") == 0
    assert cli("sample", model, "-n", 2, "--angle", 10, "-o", tmp_path / "x.npz") == 2
    assert "takes no --angle" in capsys.readouterr().err


def test_run_a_spec_with_overrides(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text("""
name = "cli"
[dataset]
kind = "synthetic_reach"
n_trials = 60
n_neurons = 10
n_heldout = 2
rebin_ms = 20
[decoders.ridge]
class = "RidgeDecoder"
lags = 2
[figures]
rasters = false
statistics = false
trajectories = false
""")
    assert cli("run", spec, "--output", tmp_path / "out", "--set", "sweep.seeds=[0, 1]",
               "--set", "sweep.train_fraction=0.5", "-q") == 0
    rows = json.loads((tmp_path / "out" / "results.json").read_text())["rows"]
    assert sorted(r["seed"] for r in rows) == [0, 1]
    assert "| ridge | 50% |" in capsys.readouterr().out
    # --resume: a stopped run goes on; here every job is already saved, so none runs again.
    assert cli("run", spec, "--output", tmp_path / "out", "--set", "sweep.seeds=[0, 1]",
               "--set", "sweep.train_fraction=0.5", "--resume", "-q") == 0
    resumed = json.loads((tmp_path / "out" / "results.json").read_text())["resumed_jobs"]
    assert sorted(r["job"] for r in resumed) == [f"fraction 0.5, seed {s}, augmenter none"
                                                 for s in (0, 1)]
    assert cli("run", spec, "--set", "sweep.seed=1") == 2
    assert "did you mean 'seeds'" in capsys.readouterr().err


def test_demo_quick_produces_its_table_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli("demo", "--quick", "--output", out, "-q") == 0
    table = capsys.readouterr().out
    for decoder in ("ridge", "wiener", "gru"):
        assert f"| {decoder} |" in table
    assert (out / "summary.md").read_text().count("|") > 10
    results = json.loads((out / "results.json").read_text())
    assert {r["augmenter"] for r in results["rows"]} == {"none", "eag"}
    # Beside the fixed settings, the demo reports the tuned baseline and tuned EAG pipelines.
    assert {r["mode"] for r in results["rows"]} == {"fixed", "tuned"}
    assert "Baseline to beat:" in table and results["machine"]["cpu"]
    for figure in ("rasters.png", "statistics.png", "trajectories.png", "scores.png"):
        assert (out / figure).stat().st_size > 1000
    assert (out / "dataset.nwb").is_file()  # the data went through NWB


def test_fit_langevin_from_the_command_line(data_file, tmp_path):
    model = tmp_path / "lf.pt"
    assert cli("-q", "fit", data_file, "-o", model, "--generator", "langevin", "--epochs", 1,
               "--condition", "angle", "--param", "latent_dim=8", "--param", "d_model=16",
               "--param", "encoder_hidden=16", "--param", "ff_dim=16") == 0
    out = tmp_path / "lf.npz"
    assert cli("sample", model, "-n", 3, "--angle", 45, "-o", out, "-q") == 0
    assert TrialSet.load(out).spikes.shape == (3, 20, 8)
