"""How the package sits in an environment: metadata, entry points, optional dependencies,
logging and progress output, and pickles that move between machines."""

import copy
import importlib.metadata
import logging
import pickle
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

import eag_augment
from eag_augment import _progress
from eag_augment._optional import NLB_TOOLS_INSTALL, import_nlb_tools
from eag_augment._portable import to_device

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


# ------------------------------------------------------------------------- metadata
def test_declared_python_matches_the_code():
    # tomllib and BaseException.add_note are 3.11+.
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    assert sys.version_info >= (3, 11)


def test_every_imported_third_party_package_is_declared():
    deps = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for name in ("numpy", "scipy", "pandas", "scikit-learn", "imbalanced-learn", "torch",
                 "pynwb", "hdmf", "h5py", "joblib", "matplotlib", "tqdm"):
        assert name in deps, name
    # nlb-tools cannot be declared (its pins do not install on 3.11): not an extra either.
    extras = " ".join(" ".join(v) for v in PYPROJECT["project"]["optional-dependencies"].values())
    assert "nlb" not in deps and "nlb" not in extras


def test_license_is_an_spdx_expression():
    # A table ({text = ...}) makes setuptools >= 77 print deprecation warnings on install.
    assert PYPROJECT["project"]["license"] == "MIT"


def test_pip_check_complains_only_about_nlb_tools_pins():
    """The core install is consistent; nlb-tools, installed with --no-deps, is the one
    package whose own metadata pip check rejects (its pandas pin)."""
    out = _run("-m", "pip", "check")
    problems = [line for line in out.stdout.splitlines() if line.strip()
                and not line.startswith("No broken requirements")]
    assert all(line.lower().startswith("nlb-tools") for line in problems), problems


# ------------------------------------------------------------------ entry points
def test_version_from_the_command_and_python_m():
    assert eag_augment.__version__ == importlib.metadata.version("eag_augment")
    out = _run("-m", "eag_augment", "--version")
    assert out.returncode == 0 and out.stdout.strip() == f"eag-augment {eag_augment.__version__}"


def test_python_m_runs_the_command():
    out = _run("-m", "eag_augment", "fit", "--help")
    assert out.returncode == 0 and "langevin" in out.stdout


def test_show_versions_names_the_stack(capsys):
    eag_augment.show_versions()
    text = capsys.readouterr().out
    for name in ("python", "eag_augment", "numpy", "scikit-learn", "imbalanced-learn", "torch",
                 "pynwb", "hdmf", "nlb-tools", "cuda available", "native bf16 on cpu"):
        assert name in text, name
    assert f"eag_augment: {eag_augment.__version__}" in text


# ------------------------------------------------------------- optional nlb_tools
def test_missing_nlb_tools_says_how_to_install_it(monkeypatch, tmp_path):
    for name in ("nlb_tools", "nlb_tools.nwb_interface", "nlb_tools.make_tensors"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="nlb-tools==0.0.4") as info:
        import_nlb_tools("nlb_tools.nwb_interface", "load_nwb")
    assert NLB_TOOLS_INSTALL in str(info.value) and "load_nwb" in str(info.value)

    from eag_augment.datasets import load_nwb

    with pytest.raises(ImportError, match="--no-deps"):
        load_nwb(tmp_path / "x.nwb")


def test_other_import_errors_inside_nlb_tools_are_not_disguised(monkeypatch):
    with pytest.raises(ModuleNotFoundError, match="not_a_module"):
        import_nlb_tools("not_a_module", "load_nwb")


# ------------------------------------------------------------------------ plots
def test_importing_plots_leaves_the_backend_alone():
    code = ("import matplotlib; matplotlib.use('svg'); import eag_augment.plots; "
            "print(matplotlib.get_backend())")
    out = _run("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "svg"


# ---------------------------------------------------------------- logging, progress
def test_verbose_stage_lines_reach_stderr_without_logging_setup():
    code = ("import numpy as np\n"
            "from eag_augment import SyntheticAugmenter\n"
            "X = np.ones((4, 5, 3), int); y = np.zeros((4, 5, 2))\n"
            "SyntheticAugmenter(ratio=0, verbose=1).fit_resample(X, y)\n"
            "SyntheticAugmenter(ratio=0, verbose=0).fit_resample(X, y)\n")
    out = _run("-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("[eag_augment.augment] no synthetic trials requested") == 1


def test_an_application_logging_setup_takes_over():
    code = ("import logging, sys, numpy as np\n"
            "logging.basicConfig(stream=sys.stdout, format='APP %(name)s %(message)s')\n"
            "from eag_augment import SyntheticAugmenter\n"
            "SyntheticAugmenter(ratio=0, verbose=1).fit_resample(np.ones((4, 5, 3), int),"
            " np.zeros((4, 5, 2)))\n")
    out = _run("-c", code)
    assert "APP eag_augment.augment no synthetic" in out.stdout
    assert "no synthetic" not in out.stderr  # not twice


def test_progress_off_a_terminal_logs_a_few_plain_lines(monkeypatch, caplog):
    monkeypatch.setattr(_progress, "interactive", lambda: False)
    caplog.set_level(logging.INFO, logger="eag_augment")
    bar = _progress.progress(range(1000), desc="fitting", unit="epoch")
    for i in bar:
        bar.set_postfix({"loss": f"{1 / (i + 1):.4f}"})
    lines = [r.getMessage() for r in caplog.records if r.name == "eag_augment.progress"]
    assert len(lines) == 1  # the loop took less than the logging interval
    assert lines[0].startswith("fitting: done, 1000/1000 epoch in ")
    assert "loss=0.0010" in lines[0] and "\r" not in lines[0]


def test_progress_after_a_break_logs_on_close(monkeypatch, caplog):
    monkeypatch.setattr(_progress, "interactive", lambda: False)
    caplog.set_level(logging.INFO, logger="eag_augment")
    bar = _progress.progress(range(100), desc="early stopping")
    for i in bar:
        if i == 9:
            break
    bar.close()
    bar.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "eag_augment.progress"]
    assert lines == [lines[0]] and "9/100" in lines[0]  # as tqdm: the broken pass is not counted


def test_progress_disabled_is_silent(monkeypatch, caplog):
    monkeypatch.setattr(_progress, "interactive", lambda: False)
    caplog.set_level(logging.DEBUG, logger="eag_augment")
    assert list(_progress.progress(range(3), desc="x", disable=True)) == [0, 1, 2]
    assert not caplog.records


def test_gru_progress_in_a_log_is_one_line(tiny_reach, caplog):
    """pytest's stderr is no terminal: a verbose fit logs lines instead of drawing a bar."""
    from eag_augment.decoders import GRUDecoder

    caplog.set_level(logging.INFO, logger="eag_augment")
    GRUDecoder(hidden_size=4, max_epochs=3, verbose=1, random_state=0, device="cpu").fit(
        tiny_reach.spikes, tiny_reach.behavior)
    lines = [r.getMessage() for r in caplog.records if r.name == "eag_augment.progress"]
    assert len(lines) == 1 and lines[0].startswith("GRUDecoder: done, 3/3 epoch")


# ---------------------------------------------------------------- portable pickles
def test_to_device_moves_copies_and_leaves_the_original():
    class Holder:
        pass

    module = torch.nn.Linear(3, 2)
    tensors = {"w": torch.ones(2), "rest": [torch.zeros(1), 3]}
    moved = to_device({"module": module, "tensors": tensors}, torch.device("meta"))
    assert moved["module"] is not module and moved["module"].weight.device.type == "meta"
    assert moved["tensors"]["w"].device.type == "meta"
    assert moved["tensors"]["rest"][0].device.type == "meta" and moved["tensors"]["rest"][1] == 3
    assert module.weight.device.type == "cpu" and tensors["w"].device.type == "cpu"
    assert to_device(tensors, torch.device("cpu")) is tensors  # nothing to move, no copy
    assert to_device(Holder, torch.device("meta")) is Holder


def test_generator_fitted_on_a_gpu_unpickles_on_a_cpu_only_machine(tiny_reach, tiny_autoencoder,
                                                                  monkeypatch):
    """Simulated: this machine has no GPU, so the fitted model says it lives on CUDA."""
    from eag_augment.generators import EAGGenerator

    gen = EAGGenerator(condition="velocity", width=16, depth=1, heads=2, n_buffer=2,
                       head_width=16, head_blocks=1, noise_dim=8, epochs=1, batch_size=16,
                       patch_size=2, device="cpu", random_state=0)
    # A copy: the session-wide fixture must not be left pointing at CUDA for later tests.
    gen.fit(tiny_reach, fitted_autoencoder=copy.deepcopy(tiny_autoencoder))
    expected = gen.sample(3, random_state=1).spikes
    gen.device_ = torch.device("cuda")
    gen.autoencoder_.device_ = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    loaded = pickle.loads(pickle.dumps(gen))
    assert loaded.device_ == torch.device("cpu")
    assert loaded.autoencoder_.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.sample(3, random_state=1).spikes, expected)
    assert gen.device_ == torch.device("cuda")  # pickling did not touch the original
