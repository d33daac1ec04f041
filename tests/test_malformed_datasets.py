"""Malformed input to the simulators and loaders: refused up front, naming the argument."""

import pytest

from eag_augment import TrialSet
from eag_augment.datasets import ReachSimulator, load_lorenz, load_mat, load_nwb, save_nwb
from eag_augment.datasets import make_synthetic_reach


@pytest.fixture(scope="module")
def small():
    return make_synthetic_reach(8, n_neurons=4, n_heldout=1, random_state=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_trials=True), TypeError, r"'n_trials' parameter of make_synthetic_reach.*True"),
    (dict(n_trials=10**12), ValueError, r"make_synthetic_reach\(n_trials=1000000000000, "
                                        r"n_neurons=6\) would need about .* of memory"),
    (dict(test_size=float("nan")), ValueError, r"'test_size' parameter.*nan"),
    (dict(val_size=1.0), ValueError, r"'val_size' parameter.*Got 1.0"),
    (dict(random_state=-1), ValueError, r"'random_state' parameter of make_synthetic_reach.*-1"),
    (dict(curved="yes"), TypeError, r"'curved' parameter.*'yes'"),
    (dict(refractory=1), TypeError, r"'refractory' parameter.*Got 1"),
    (dict(n_neurons=5, n_heldout=5), ValueError, "n_heldout must be smaller than n_neurons=5, "
                                                 "got 5"),
    (dict(return_simulator="no"), TypeError, r"'return_simulator' parameter.*'no'"),
])
def test_make_synthetic_reach_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_synthetic_reach(**{"n_trials": 4, "n_neurons": 6, "n_heldout": 1, **kwargs})


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(lag_ms=float("nan")), ValueError, r"'lag_ms' parameter of ReachSimulator.*nan"),
    (dict(bin_ms=float("inf")), ValueError, r"'bin_ms' parameter of ReachSimulator.*inf"),
    (dict(window_ms=(float("nan"), 450)), ValueError, "window_ms must be an increasing pair"),
    (dict(n_neurons=True), TypeError, r"'n_neurons' parameter of ReachSimulator.*True"),
    (dict(random_state="seed"), TypeError, r"'random_state' parameter of ReachSimulator"),
])
def test_simulator_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        ReachSimulator(**{"n_neurons": 5, "n_heldout": 1, **kwargs})


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_trials=10**11), ValueError, r"ReachSimulator.sample\(n_trials=100000000000\)"),
    (dict(n_trials=2, random_state=-3), ValueError, r"'random_state' parameter of "
                                                    r"ReachSimulator.sample.*-3"),
    (dict(n_trials=2, angle=[0.0, 90.0]), ValueError, "angle must be reach angles in radians, "
                                                      "got a value of 90: degrees"),
])
def test_simulator_sample_refuses(kwargs, error, match):
    with pytest.raises(error, match=match):
        ReachSimulator(n_neurons=5, n_heldout=1).sample(**kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_trials=True), TypeError, r"'n_trials' parameter of load_lorenz.*True"),
    (dict(cache="yes"), TypeError, r"'cache' parameter of load_lorenz.*'yes'"),
    (dict(n_trials=10**9, n_bins=10**4), ValueError, "load_lorenz.* would need about"),
    (dict(verbose="loud"), TypeError, r"'verbose' parameter of load_lorenz"),
])
def test_load_lorenz_refuses_before_integrating(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_lorenz(**{"n_trials": 2, "n_neurons": 3, "n_bins": 4, **kwargs})


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(bin_ms=float("nan")), ValueError, r"'bin_ms' parameter of load_mat.*nan"),
    (dict(window_bins=0), ValueError, r"'window_bins' parameter of load_mat.*Got 0"),
    (dict(stride_bins=True), TypeError, r"'stride_bins' parameter of load_mat.*True"),
    (dict(spikes_key=3), TypeError, r"'spikes_key' parameter of load_mat.*Got 3"),
    (dict(drop_zero_channels="no"), TypeError, r"'drop_zero_channels' parameter.*'no'"),
])
def test_load_mat_refuses_arguments_before_reading(tmp_path, kwargs, error, match):
    # The file does not exist: the arguments are checked first.
    with pytest.raises(error, match=match):
        load_mat(tmp_path / "absent.mat", **kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(bin_ms=float("nan")), ValueError, "bin_ms must be a whole number of milliseconds"),
    (dict(include_heldout="yes"), TypeError, "include_heldout must be True or False, got 'yes'"),
    (dict(align_range_ms=("a", "b")), TypeError, "align_range_ms must be a pair"),
    (dict(split=3), TypeError, "split must be a string or a sequence of strings, got 3"),
])
def test_load_nwb_refuses_arguments_before_reading(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_nwb(tmp_path / "absent.nwb", **kwargs)


def test_save_nwb_keeps_an_existing_file_unless_asked(small, tmp_path):
    path = save_nwb(small, tmp_path / "data.nwb")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="data.nwb' exists already; pass overwrite=True"):
        save_nwb(small[:2], path)
    assert path.read_bytes() == before
    save_nwb(small[:2], path, overwrite=True)
    assert path.read_bytes() != before


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(behavior_unit=5), TypeError, "behavior_unit must be a non-empty string, got 5"),
    (dict(session_description=""), TypeError, "session_description must be a non-empty"),
    (dict(gap_ms=float("nan")), ValueError, "gap_ms must be a whole number of milliseconds"),
    (dict(gap_ms=10**15), ValueError, r"save_nwb\(gap_ms=1000000000000000\) .* would need about"),
    (dict(overwrite="yes"), TypeError, "overwrite must be True or False, got 'yes'"),
])
def test_save_nwb_refuses(small, tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        save_nwb(small, tmp_path / "x.nwb", **kwargs)
    assert not (tmp_path / "x.nwb").exists()


def test_save_nwb_refuses_a_folder_or_a_path_under_a_file(small, tmp_path):
    with pytest.raises(IsADirectoryError, match="is an existing folder"):
        save_nwb(small, tmp_path)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="lies under .*file', which is a file"):
        save_nwb(small, tmp_path / "file" / "x.nwb")


def test_nan_start_time_cannot_reach_save_nwb(small):
    # It used to be accepted by TrialSet and break save_nwb later.
    with pytest.raises(ValueError, match=r"'t_start_ms' parameter of TrialSet.*nan"):
        TrialSet(small.spikes, small.behavior, bin_ms=5, t_start_ms=float("nan"))
