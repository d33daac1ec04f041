"""Run specs: data, not code. Classes outside the trusted packages need a grant, only estimator
classes are accepted, and every value is checked at load time with its place in the spec."""

import sys

import pytest

from eag_augment.pipelines import SpecError, load_spec


def spec(tmp_path, **changes) -> dict:
    base = {
        "name": "bad",
        "output": str(tmp_path / "out"),
        "dataset": {"kind": "synthetic_reach", "n_trials": 40, "n_neurons": 8, "n_heldout": 1},
        "generators": {"psth": {"class": "PSTHPoissonGenerator"}},
        "augmenters": {"none": {"ratio": 0}, "psth": {"generator": "psth", "ratio": 1}},
        "decoders": {"ridge": {"class": "RidgeDecoder"}},
    }
    base.update(changes)
    return base


def refused(tmp_path, match, edit=None, **kwargs):
    raw = spec(tmp_path)
    if edit is not None:
        edit(raw)
    with pytest.raises(SpecError, match=match):
        load_spec(raw, **kwargs)


# ---------------------------------------------------------------- code execution
@pytest.mark.parametrize("name, match", [
    ("os:system", "cannot import module 'os' for class 'os:system': it is not granted"),
    ("subprocess:Popen", "cannot import module 'subprocess' .* --allow-import subprocess"),
    ("builtins:eval", "cannot import module 'builtins'"),
    ("eag_augment.trials:validate_spikes", "'eag_augment.trials:validate_spikes' is not an "
                                           "estimator class .* got function"),
    ("eag_augment.trials:TrialSet", "'eag_augment.trials:TrialSet' is not an estimator class"),
    ("sklearn.utils:Bunch", "is not an estimator class"),
    ("eag_augment.cli:main", "is not an estimator class"),
    ("os.path:join", "cannot import module 'os.path'"),
    ("../evil:Thing", "is not of the form 'package.module:ClassName'"),
    ("eag_augment.generators:EAGGenerator.fit", "is not of the form"),
    ("eag_augment:__version__", "is not an estimator class .* got str"),
])
def test_classes_that_are_not_granted_estimators_are_refused(tmp_path, name, match):
    refused(tmp_path, rf"\[decoders.ridge\].class: .*{match}",
            lambda s: s["decoders"]["ridge"].update({"class": name}))


MODULE = '''
from pathlib import Path
Path(__file__).with_suffix(".imported").write_text("module code ran")
from eag_augment.decoders import RidgeDecoder

class LabDecoder(RidgeDecoder):
    pass
'''


@pytest.fixture
def lab_module(tmp_path, monkeypatch):
    (tmp_path / "lab_models_for_test.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "lab_models_for_test.imported"
    sys.modules.pop("lab_models_for_test", None)


def test_estimators_in_the_wrong_role_are_refused(tmp_path):
    refused(tmp_path, r"\[decoders.ridge\]: Ridge does not take trial tensors .* class = "
                      r"\"SklearnDecoder\", estimator = \{ class = \"sklearn.linear_model.*:Ridge",
            lambda s: s["decoders"]["ridge"].update({"class": "sklearn.linear_model:Ridge"}))
    refused(tmp_path, r"\[generators.psth\]: RidgeDecoder is not a generator",
            lambda s: s["generators"]["psth"].update({"class": "RidgeDecoder"}))
    raw = spec(tmp_path)
    raw["decoders"]["ridge"] = {"class": "SklearnDecoder",
                                "estimator": {"class": "sklearn.linear_model:Ridge"}}
    assert type(load_spec(raw).decoders["ridge"].estimator).__name__ == "Ridge"


def test_a_users_module_is_imported_only_when_granted(tmp_path, lab_module):
    def edit(s):
        s["decoders"]["ridge"]["class"] = "lab_models_for_test:LabDecoder"

    refused(tmp_path, "cannot import module 'lab_models_for_test'", edit)
    refused(tmp_path, "cannot import module 'lab_models_for_test'", edit,
            allow_imports=["lab_models"])  # a prefix of the name is not the module
    assert not lab_module.exists()  # refused without importing it
    raw = spec(tmp_path)
    edit(raw)
    loaded = load_spec(raw, allow_imports=["lab_models_for_test"])
    assert type(loaded.decoders["ridge"]).__name__ == "LabDecoder" and lab_module.exists()


def test_a_spec_cannot_grant_itself_imports(tmp_path):
    refused(tmp_path, "unknown key 'allow_imports'",
            lambda s: s.update(allow_imports=["os"]))


@pytest.mark.parametrize("grant, match", [
    ("os; rm", r"'os; rm' is not a module name"),
    ([3], "3 is not a module name"),
    (5, "allow_imports must be a list of module names, got 5"),
])
def test_bad_grants(tmp_path, grant, match):
    refused(tmp_path, match, allow_imports=grant)


# ------------------------------------------------------- values checked at load time
@pytest.mark.parametrize("edit, match", [
    (lambda s: s["generators"]["psth"].update(smooth_ms="abc"),
     r"\[generators.psth\]: The 'smooth_ms' parameter of PSTHPoissonGenerator .*'abc'"),
    (lambda s: s["generators"]["psth"].update(n_angle_bins=-2),
     r"\[generators.psth\]: The 'n_angle_bins' parameter .*-2"),
    (lambda s: s["generators"]["psth"].update(condition="speed"),
     r"\[generators.psth\]: PSTHPoissonGenerator: condition must be one of .*'speed'"),
    (lambda s: s["decoders"]["ridge"].update(alpha=-1),
     r"\[decoders.ridge\]: The 'alpha' parameter of RidgeDecoder .*-1"),
    (lambda s: s["decoders"]["ridge"].update(lags="3"), r"'lags' parameter .*'3'"),
    (lambda s: s["augmenters"]["psth"].update(ratio=-1),
     r"\[augmenters.psth\]: The 'ratio' parameter of SyntheticAugmenter .*-1"),
    (lambda s: s["augmenters"]["psth"].update(random_state=-5), r"'random_state' parameter.*-5"),
    (lambda s: s["augmenters"]["psth"].update(conditions_deg=[0, float("nan")]),
     r"conditions_deg must be a list of reach angles in degrees, got nan"),
    (lambda s: s["augmenters"]["psth"].update(condition=None, conditions_deg=[10]),
     r"\[augmenters.psth\]: explicit conditions need condition='angle' or 'velocity'"),
    (lambda s: s["augmenters"]["psth"].update(prefit=True), "prefit = true needs a generator "
                                                            "fitted beforehand"),
    (lambda s: s["generators"].update(psth={"class": "PoissonJitterGenerator"})
     or s["augmenters"]["psth"].update(condition="angle"),
     r"generator 'psth' \(PoissonJitterGenerator\) supports conditions \('velocity', None\), "
     "not condition = 'angle'"),
    (lambda s: s.update(split={"kind": "random", "stratify": 3}),
     "stratify must be the name of a condition column, got 3"),
    (lambda s: s.update(split={"kind": "random", "random_state": -1}),
     r"random_state must be in \[0, 2\*\*32\), got -1"),
    (lambda s: s["generators"]["psth"].update({"class": "EAGGenerator", "width": "abc"}),
     r"\[generators.psth\]: The 'width' parameter of EAGGenerator .*'abc'"),
    (lambda s: s["dataset"].update(n_trials=-5),
     r"\[dataset\]: The 'n_trials' parameter of make_synthetic_reach .*-5"),
    (lambda s: s["dataset"].update(n_trials=10**12), r"\[dataset\]: make_synthetic_reach\("
                                                     r"n_trials=1000000000000.*would need about"),
    (lambda s: s["dataset"].update(test_size=0.6, val_size=0.5), "test_size \\+ val_size"),
    (lambda s: s["dataset"].update(n_heldout=8), "n_heldout must be smaller than n_neurons=8"),
    (lambda s: s["dataset"].update(rebin_ms=float("nan")), "rebin_ms must be a positive bin "
                                                          "width in ms, got nan"),
    (lambda s: s["dataset"].update(rebin_ms=-20), "rebin_ms must be a positive"),
    (lambda s: s.update(dataset={"kind": "lorenz", "n_bins": 1}),
     r"'n_bins' parameter of load_lorenz"),
    (lambda s: s.update(dataset={"kind": "lorenz", "cache": "yes"}), r"'cache' parameter"),
    (lambda s: s.update(sweep={"seeds": [0, -1]}), r"seeds must be integers in \[0, 2\*\*32\), "
                                                   "got -1"),
    (lambda s: s.update(split={"kind": "random", "holdout_angles_deg": [float("inf")]}),
     "holdout_angles_deg must be a list of reach directions in degrees, got inf"),
    (lambda s: s.update(split={"kind": "random", "angle_tolerance_deg": -1}),
     r"angle_tolerance_deg must be in \[0, 180\] degrees, got -1"),
    (lambda s: s.update(split={"kind": "random", "test_fraction": float("nan")}),
     "test_fraction must be in"),
    (lambda s: s.update(n_jobs=0), "n_jobs must be a positive integer or -1"),
    (lambda s: s.update(torch_threads=True), "torch_threads must be a positive integer"),
])
def test_values_are_checked_at_load_time(tmp_path, edit, match):
    refused(tmp_path, match, edit)


def test_loader_arguments_of_files_are_checked_at_load_time(tmp_path):
    data = tmp_path / "data.mat"
    data.write_bytes(b"")
    refused(tmp_path, r"'window_bins' parameter of load_mat .*Got 0",
            lambda s: s.update(dataset={"kind": "mat", "path": str(data), "window_bins": 0}))
    nwb = tmp_path / "data.nwb"
    nwb.write_bytes(b"")
    refused(tmp_path, "bin_ms must be a whole number of milliseconds .* 2.5",
            lambda s: s.update(dataset={"kind": "nwb", "path": str(nwb), "bin_ms": 2.5}))
    refused(tmp_path, "include_heldout must be True or False",
            lambda s: s.update(dataset={"kind": "nwb", "path": str(nwb), "include_heldout": 1}))


def test_output_that_is_a_file_and_profiles_that_are_not_tables(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("")
    refused(tmp_path, "output .*taken' is an existing file, not a folder",
            lambda s: s.update(output=str(taken)))
    refused(tmp_path, r"\[profiles.quick\] must be a table, got 3",
            lambda s: s.update(profiles={"quick": 3}), profile="quick")
