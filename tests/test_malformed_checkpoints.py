"""Crafted, damaged and misplaced checkpoints: read without running code, refused clearly."""

import json
import pickle

import numpy as np
import pytest
import torch

from eag_augment.checkpoint import load_checkpoint, save_checkpoint
from eag_augment.generators import PSTHPoissonGenerator, load_generator


@pytest.fixture(scope="module")
def saved(tiny_reach, tmp_path_factory):
    gen = PSTHPoissonGenerator(condition="angle").fit(tiny_reach)
    return gen.save(tmp_path_factory.mktemp("ckpt") / "psth.pt")


def craft(saved, tmp_path, change):
    payload = torch.load(saved, weights_only=True)
    payload["state"] = {k: dict(v) for k, v in payload["state"].items()}
    config = json.loads(payload["config"])
    change(payload, config)
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


def with_config(edit):
    """A change that edits the JSON config (dict) and stores it back."""
    def change(payload, config):
        edit(config)
        payload["config"] = json.dumps(config)
    return change


@pytest.mark.parametrize("change, match", [
    (lambda p, c: p.update(config="{not json"), "the checkpoint's 'config' is not valid JSON"),
    (lambda p, c: p.update(config="[1, 2]"), "'config' must be a JSON object, got list"),
    (lambda p, c: p.update(config=5), "'config' must be JSON text, got int"),
    (lambda p, c: p.pop("state"), r"the checkpoint lacks the entries \['state'\]"),
    (lambda p, c: p.update(kind=5), "the checkpoint's 'kind' must be a class name, got 5"),
    (lambda p, c: p.update(kind="LatentAutoencoder"), "holds a LatentAutoencoder, which is not "
                                                      "a known generator"),
    (lambda p, c: p.update(kind="Popen"), "holds a Popen, which is not a known generator"),
    (lambda p, c: p.update(version=99), "checkpoint version 99"),
    (lambda p, c: p.update(magic="x"), "not an eag_augment checkpoint"),
    (lambda p, c: p["state"]["fitted"].update(psths_=[1, 2]),
     r"state\['fitted'\]\['psths_'\] holds a value of type 'list', not a tensor"),
    (lambda p, c: p["state"]["common"].update(neuron_ids_=5),
     r"state\['common'\]\['neuron_ids_'\] holds a value of type 'int'"),
    (lambda p, c: p["state"]["fitted"].update(psths_="rm -rf"),
     r"\['psths_'\] holds a value of type 'str'"),
    (lambda p, c: p["state"]["fitted"].update(psths_=torch.full((8, 20, 8), float("nan"))),
     r"state\['fitted'\]\['psths_'\] holds NaN or infinite values"),
    (lambda p, c: p["state"]["fitted"].pop("psths_"), "lacks the entry 'psths_'"),
    (lambda p, c: p["state"]["common"].update(heldout_=torch.zeros(3, dtype=torch.bool)),
     r"heldout_ has dtype bool and shape \(3,\); expected .* shape \(8,\)"),
    (lambda p, c: p["state"]["common"].update(train_angles_=torch.tensor([np.nan])),
     "train_angles_ holds NaN or infinite values"),
    (lambda p, c: p["state"]["common"].update(train_velocity_=torch.zeros(1, 20, 2)),
     r"\['train_velocity_'\] are stored, but a generator with condition='angle' has none"),
    (with_config(lambda c: c["common"].update(sample=1)), r"unknown fitted entries \['sample'\]"),
    (with_config(lambda c: c["common"].update(n_bins_="abc")),
     r"'n_bins_' parameter of the checkpoint's config\['common'\].*'abc'"),
    (with_config(lambda c: c["common"].update(bin_ms_=-5)), r"'bin_ms_' parameter.*-5"),
    (with_config(lambda c: c["common"].update(condition_="speed")), r"'condition_' parameter"),
    (with_config(lambda c: c["common"].pop("n_neurons_")), "lacks the entry 'n_neurons_'"),
    (with_config(lambda c: c["params"].update(smooth_ms="abc")),
     r"'smooth_ms' parameter of PSTHPoissonGenerator.*'abc'"),
    (with_config(lambda c: c["params"].update(shell="ls")), "unexpected keyword argument "
                                                            "'shell'"),
    (with_config(lambda c: c.update(params=[1])), r"config\['params'\] must be a table, got list"),
    (with_config(lambda c: c["params"].update(n_angle_bins={"__estimator__": "Popen",
                                                            "params": {}})),
     "names an unknown estimator 'Popen'"),
])
def test_crafted_checkpoints_are_refused_with_the_entry_named(saved, tmp_path, change, match):
    path = craft(saved, tmp_path, change)
    with pytest.raises(ValueError, match=match):
        load_generator(path)


def test_a_pickled_object_is_never_unpickled(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('code ran')",))

    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"magic": "eag_augment-checkpoint", "state": Boom()}, f, protocol=2)
    with pytest.raises(ValueError, match="not a readable eag_augment checkpoint"):
        load_checkpoint(path)
    torch.save({"magic": "eag_augment-checkpoint", "version": 1, "kind": "x", "config": "{}",
                "state": {"x": np.arange(3)}}, tmp_path / "numpy.pt")
    with pytest.raises(ValueError, match="not a readable eag_augment checkpoint"):
        load_checkpoint(tmp_path / "numpy.pt")


@pytest.mark.parametrize("damage, error, match", [
    (lambda p: p.write_bytes(p.read_bytes()[:100]), ValueError, "corrupt or truncated"),
    (lambda p: p.write_bytes(b""), ValueError, "corrupt or truncated"),
    (lambda p: p.unlink(), FileNotFoundError, "no checkpoint file at"),
])
def test_damaged_or_missing_files(saved, tmp_path, damage, error, match):
    path = tmp_path / "copy.pt"
    path.write_bytes(saved.read_bytes())
    damage(path)
    with pytest.raises(error, match=match):
        load_generator(path)


def test_folders_are_refused_for_reading_and_writing(tiny_reach, tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a checkpoint file"):
        load_generator(tmp_path)
    gen = PSTHPoissonGenerator().fit(tiny_reach)
    with pytest.raises(IsADirectoryError, match="is an existing folder"):
        gen.save(tmp_path)
    with pytest.raises(TypeError, match="path must be a file path .* got int 5"):
        save_checkpoint(5, kind="x", config={}, state={})


def test_load_refuses_a_bad_device_before_reading(saved):
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu' or 'cuda"):
        load_generator(saved, device="tpu")
