"""The command line on bad input: one line and status 2, checked before any work; bugs say so
and exit 70; tracebacks only with -v."""

import json
import re

import pytest
import torch

import eag_augment.cli as cli_module
from eag_augment.cli import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USER_ERROR, main


@pytest.fixture(scope="module")
def files(tiny_reach, tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = tiny_reach.save(root / "data.npz")
    (root / "truncated.npz").write_bytes(data.read_bytes()[:300])
    assert main(["-q", "fit", str(data), "-o", str(root / "psth.pt"), "--generator", "psth",
                 "--condition", "angle"]) == 0
    payload = torch.load(root / "psth.pt", weights_only=True)
    payload["config"] = "{not json"
    torch.save(payload, root / "crafted.pt")
    (root / "spec.toml").write_text('[dataset]\nkind = "synthetic_reach"\n'
                                    '[decoders.d]\nclass = "os:system"\n')
    (root / "notoml.toml").write_text("[dataset\n")
    (root / "taken.npz").write_text("")
    (root / "folder.npz").mkdir()
    return root


def run(capsys, files, *argv):
    argv = [str(a).format(root=files) for a in argv]
    status = main(argv)
    return status, capsys.readouterr().err


def one_line_error(capsys, files, *argv) -> str:
    status, err = run(capsys, files, *argv)
    assert status == EXIT_USER_ERROR, err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


FIT = ["fit", "{root}/data.npz", "-o", "{root}/new.pt", "--generator", "psth", "-q"]
SAMPLE = ["sample", "{root}/psth.pt", "-o", "{root}/new.npz", "-q"]


@pytest.mark.parametrize("argv, match", [
    (SAMPLE + ["-n", "0"], "argument -n: must be a positive number .* got '0'"),
    (SAMPLE + ["-n", "1.5"], "argument -n: must be a positive number .* got '1.5'"),
    (SAMPLE + ["-n", "3", "--seed", "-1"], "argument --seed: must be a seed: an integer in "
                                           r"\[0, 2\*\*32\), got '-1'"),
    (SAMPLE + ["-n", "3", "--seed", str(2**32)], "argument --seed: must be a seed"),
    (SAMPLE + ["-n", "3", "--angle", "nan"], "argument --angle: must be a finite angle in "
                                             "degrees, got 'nan'"),
    (SAMPLE + ["-n", "3", "--angle", "inf"], "argument --angle: .* got 'inf'"),
    (SAMPLE + ["-n", "3", "--guidance-scale", "-1"], "argument --guidance-scale: must be a "
                                                     "finite number >= 0, got '-1'"),
    (SAMPLE + ["-n", "3", "--guidance-scale", "abc"], "argument --guidance-scale: .* 'abc'"),
    (FIT + ["--bin-ms", "nan"], "argument --bin-ms: must be a positive number of "
                                "milliseconds, got 'nan'"),
    (FIT + ["--bin-ms", "-5"], "argument --bin-ms: .* got '-5'"),
    (FIT + ["--epochs", "0"], "argument --epochs: must be a positive number"),
    (["run", "{root}/spec.toml", "--n-jobs", "0"], "argument --n-jobs: must be a positive "
                                                   r"integer or -1 \(all cores\), got '0'"),
    (FIT + ["--condition", "speed"], "argument --condition: invalid choice: 'speed'"),
    (["fit", "{root}/data.npz"], "the following arguments are required: -o/--output"),
])
def test_bad_option_values_are_refused_when_parsed(capsys, files, argv, match):
    err = one_line_error(capsys, files, *argv)
    assert err.startswith("eag-augment") and "--help" in err
    assert re.search(match, err), err


@pytest.mark.parametrize("argv, match", [
    # Checked before the (here truncated) data is read:
    (["fit", "{root}/truncated.npz", "-o", "{root}/taken.npz", "--generator", "psth"],
     "-o '.*taken.npz' exists already; pass overwrite=True \\(on the command line "
     "--overwrite\\)"),
    (["fit", "{root}/truncated.npz", "-o", "{root}", "--generator", "psth"],
     "is an existing folder"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--generator", "psth", "--param",
      "smooth_ms=abc"], "--param: The 'smooth_ms' parameter of PSTHPoissonGenerator .*'abc'"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--generator", "psth", "--param",
      "smooth_ms"], "--param 'smooth_ms' must look like KEY=VALUE"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--param", "width=abc"],
     "--param: The 'width' parameter of EAGGenerator .* Got 'abc'"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--param", "autoencoder.lr=-1"],
     "--param: The 'lr' parameter of LatentAutoencoder .* Got -1"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--param", "widht=3"],
     "has no parameter 'widht'"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--device", "tpu"],
     "--device: device must be 'auto', 'cpu' or 'cuda\\[:i\\]', got 'tpu'"),
    (["fit", "{root}/truncated.npz", "-o", "{root}/m.pt", "--generator", "psth", "-q"],
     "truncated.npz is not a readable TrialSet .npz file \\(truncated"),
    (["fit", "{root}/folder.npz", "-o", "{root}/m.pt"], "no data file at"),
    (["fit", "{root}/data.csv", "-o", "{root}/m.pt"], "DATA must be a .nwb, .npz or .mat file"),
    (SAMPLE[:-1] + ["-n", "3", "-o", "{root}/taken.npz"], "taken.npz' exists already"),
    (SAMPLE[:-1] + ["-n", "3", "-o", "{root}/x.csv"], "-o must end in .nwb or .npz"),
    (["sample", "{root}/crafted.pt", "-n", "3", "-o", "{root}/x.npz"],
     "crafted.pt: the checkpoint's 'config' is not valid JSON"),
    (["sample", "{root}/data.npz", "-n", "3", "-o", "{root}/x.npz"],
     "data.npz is not a readable eag_augment checkpoint"),
    (["sample", "{root}/psth.pt", "-n", "10000000000", "-o", "{root}/x.npz"],
     r"sample\(n_trials=10000000000\) would need about .* of memory"),
    (["sample", "{root}/psth.pt", "-n", "3", "-o", "{root}/x.npz", "--device", "cuda:7"],
     "--device: device 'cuda:7' requested but CUDA is not available"),
    (["run", "{root}/spec.toml"], "cannot import module 'os' for class 'os:system'"),
    (["run", "{root}/notoml.toml"], "notoml.toml is not valid TOML"),
    (["run", "{root}/spec.toml", "--allow-import", "os;rm"], "'os;rm' is not a module name"),
])
def test_bad_input_is_one_line_before_any_work(capsys, files, argv, match):
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    err = one_line_error(capsys, files, *argv)
    assert re.search(match, err), err


def test_overwrite_replaces_outputs(capsys, files):
    target = files / "again.npz"
    target.write_text("")
    status, _ = run(capsys, files, *SAMPLE[:-1], "-n", "2", "-o", target, "--overwrite", "-q")
    assert status == 0 and target.stat().st_size > 0


def _raise(error):
    def command(args):
        raise error
    return command


@pytest.mark.parametrize("error, status, match", [
    (MemoryError(), EXIT_USER_ERROR, "error: out of memory"),
    (FileExistsError("exists already"), EXIT_USER_ERROR, "error: exists already"),
    (json.JSONDecodeError("Expecting value", "x", 0), EXIT_USER_ERROR, "error: Expecting value"),
    (FloatingPointError("training loss is NaN at step 3"), EXIT_USER_ERROR, "step 3"),
    (KeyboardInterrupt(), EXIT_INTERRUPTED, "interrupted"),
    (KeyError("n_bins_"), EXIT_BUG, "internal error: KeyError: 'n_bins_'. This is a bug in "
                                    "eag-augment, not a problem with your input: please "
                                    "report it at .* with the command line and the output "
                                    "of the same command with -v"),
    (AttributeError("oops"), EXIT_BUG, "internal error: AttributeError: oops. This is a bug"),
])
def test_exit_status_says_whose_problem_it_is(capsys, files, monkeypatch, error, status, match):
    monkeypatch.setattr(cli_module, "cmd_sample", _raise(error))
    code, err = run(capsys, files, *SAMPLE, "-n", "2")
    assert code == status and re.search(match, err), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_tracebacks_only_with_verbose(capsys, files, monkeypatch):
    monkeypatch.setattr(cli_module, "cmd_sample", _raise(KeyError("n_bins_")))
    code, err = run(capsys, files, *SAMPLE[:-1], "-n", "2", "-v")
    assert code == EXIT_BUG and "Traceback" in err and "This is a bug" in err
    assert "output of the same command with -v" not in err  # it was run with -v
