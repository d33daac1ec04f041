"""Malformed input to TrialSet: every bad value is refused with an error naming it."""

import json

import numpy as np
import pandas as pd
import pytest

from eag_augment import TrialSet

SPIKES = np.ones((4, 5, 3), dtype=int)
VELOCITY = np.zeros((4, 5, 2))


def make(**changes) -> TrialSet:
    fields = dict(spikes=SPIKES, behavior=VELOCITY, bin_ms=5)
    fields.update(changes)
    return TrialSet(**fields)


def table(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns, index=range(4))


# --------------------------------------------------------------------- constructor
@pytest.mark.parametrize("changes, error, match", [
    (dict(bin_ms=float("nan")), ValueError, r"'bin_ms' parameter of TrialSet.*Got nan"),
    (dict(bin_ms=float("inf")), ValueError, r"'bin_ms' parameter of TrialSet.*Got inf"),
    (dict(bin_ms="5"), TypeError, r"'bin_ms' parameter of TrialSet.*Got '5'"),
    (dict(bin_ms=True), TypeError, r"'bin_ms' parameter of TrialSet.*Got True"),
    (dict(bin_ms=-5), ValueError, r"'bin_ms' parameter of TrialSet.*Got -5"),
    (dict(t_start_ms="abc"), TypeError, r"'t_start_ms' parameter of TrialSet.*Got 'abc'"),
    (dict(t_start_ms=float("nan")), ValueError, r"'t_start_ms' parameter of TrialSet.*Got nan"),
    (dict(t_start_ms=float("-inf")), ValueError, r"'t_start_ms' parameter.*Got -inf"),
    (dict(behavior=VELOCITY > 0), TypeError, "behavior must hold numbers, got booleans"),
    (dict(behavior=VELOCITY.astype(str)), TypeError, "behavior must hold numbers, got dtype <U"),
    (dict(behavior=VELOCITY + 1j), TypeError, "behavior must hold numbers, got dtype complex"),
    (dict(rates=SPIKES > 0), TypeError, "rates must hold numbers, got booleans"),
    (dict(rates=-np.ones((4, 5, 3))), ValueError, "rates must be non-negative; minimum is -1"),
    (dict(spikes=SPIKES * 2.0**40), ValueError, "spikes has counts too large for int32"),
    (dict(neuron_ids=[7, 7, 8]), ValueError, r"neuron_ids must be unique; duplicated: \[7\]"),
    (dict(neuron_ids=["a", "b", "a"]), ValueError, r"neuron_ids must be unique.*\['a'\]"),
    (dict(neuron_ids=[0.5, 1, 2]), TypeError, "neuron_ids must be integers or strings, got "
                                              "dtype float64"),
    (dict(neuron_ids=[np.nan, 1, 2]), TypeError, "neuron_ids must be integers or strings"),
    (dict(neuron_ids=np.array([{}, 1, 2], dtype=object)), TypeError,
     r"neuron_ids must be integers or strings.*\{\}"),
    (dict(neuron_ids=[True, False, True]), TypeError, "neuron_ids .* got dtype bool"),
    (dict(heldout=[0, 1, 0]), ValueError, "heldout must be a boolean array of shape"),
    (dict(behavior_names=["x", "x"]), ValueError, r"behavior_names must be unique.*'x', 'x'"),
    (dict(behavior_names="xy"), TypeError, "behavior_names must be a list .* got 'xy'"),
    (dict(behavior_names=[1, 2]), TypeError, r"behavior_names must be a list.*\[1, 2\]"),
    (dict(behavior_names=["x", ""]), TypeError, "behavior_names must be a list of non-empty"),
])
def test_constructor_refuses(changes, error, match):
    with pytest.raises(error, match=match):
        make(**changes)


@pytest.mark.parametrize("conditions, error, match", [
    (table(angle=[0.1, np.nan, 0.2, 0.3]), ValueError,
     "conditions column 'angle' must be finite reach angles in radians, got nan"),
    (table(angle=["a", "b", "c", "d"]), TypeError,
     "conditions column 'angle' must be reach angles in radians \\(numbers\\)"),
    (table(angle=[True, False, True, False]), TypeError, "'angle' .* got booleans"),
    (table(angle=[0.0, 90.0, 180.0, 270.0]), ValueError,
     "'angle' must be reach angles in radians, got a value of 270: degrees"),
    (table(angle=[0.0, np.inf, 0.0, 0.0]), ValueError, "'angle' must be finite .* got inf"),
    (table(start_ms=[0.0, np.nan, 10.0, 20.0]), ValueError,
     "conditions column 'start_ms' must hold finite numbers"),
    (table(start_ms=["0", "1", "2", "3"]), ValueError, "'start_ms' must hold finite numbers .* "
                                                       "dtype"),
    (table(condition=[1.0, np.nan, 2.0, 2.0]), ValueError,
     r"conditions column 'condition' has a missing value \(trial 1\)"),
    (table(split=["train", None, "test", "train"]), ValueError,
     r"conditions column 'split' has a missing value \(trial 1\)"),
    (pd.DataFrame(np.zeros((4, 2)), columns=["angle", "angle"]), ValueError,
     r"duplicate columns \['angle'\]"),
    (pd.DataFrame({0: np.zeros(4)}), TypeError, "column names must be strings, got 0"),
    (pd.DataFrame({"a": [1, 2, 3]}), ValueError, r"one row per trial \(4\), got 3 rows"),
    ({"angle": [0, 0, 0, 0]}, TypeError, "conditions must be a pandas DataFrame, got dict"),
])
def test_conditions_table_is_validated(conditions, error, match):
    with pytest.raises(error, match=match):
        make(conditions=conditions)


def test_an_angle_column_edited_after_construction_is_checked_when_read():
    trials = make(conditions=table(angle=[0.0, 0.1, 0.2, 0.3]))
    trials.conditions.loc[2, "angle"] = np.nan
    with pytest.raises(ValueError, match="'angle' must be finite .* got nan"):
        trials.angles


# ------------------------------------------------------------------------ methods
@pytest.mark.parametrize("selection, error, match", [
    ([], ValueError, r"select_neurons needs at least one neuron, got an empty selection \[\]"),
    ([0, 0], ValueError, "select_neurons got neuron 0 more than once"),
    ([5], IndexError, "neuron index 5 out of range for 3 neurons"),
    ([-4], IndexError, "neuron index -4 out of range"),
    ([0.5], IndexError, "neuron index must be .* got dtype float64"),
    (["a"], IndexError, "neuron index must be .* got dtype <U1"),
    (np.ones(2, bool), IndexError, r"boolean neuron mask must have shape \(3,\), got \(2,\)"),
    (True, IndexError, "neuron index must be .* got True"),
    (np.zeros(3, bool), ValueError, "at least one neuron"),
])
def test_select_neurons_refuses(selection, error, match):
    with pytest.raises(error, match=match):
        make().select_neurons(selection)


@pytest.mark.parametrize("index, match", [
    (1.5, "trial index must be .* got dtype float64"),
    ("a", "trial index must be .* got dtype <U1"),
    ([9], "trial index 9 out of range for 4 trials"),
    ([[0, 1]], r"trial index must be .* shape \(1, 2\)"),
    (slice(2, 2), "selection holds no trials"),
])
def test_trial_indexing_refuses(index, match):
    with pytest.raises(IndexError, match=match):
        make()[index]


@pytest.mark.parametrize("other, match", [
    (dict(neuron_ids=[2, 1, 0]), r"neuron_ids: \[2, 1, 0\] vs \[0, 1, 2\]"),
    (dict(heldout=np.array([True, False, False])), "heldout"),
    (dict(t_start_ms=-250), "t_start_ms: -250.0 vs 0.0"),
    (dict(bin_ms=10), "bin_ms: 10.0 vs 5.0"),
    (dict(behavior_names=["vx", "vy"]), r"behavior_names: \['vx', 'vy'\] vs \['x', 'y'\]"),
    (dict(conditions=table(angle=np.zeros(4))), r"condition columns: \['angle'\] vs \[\]"),
    (dict(rates=np.ones((4, 5, 3))), "rates present: True vs False"),
    (dict(behavior=None), "behavior dims: None vs 2"),
])
def test_concatenate_refuses_sets_of_another_layout(other, match):
    with pytest.raises(ValueError, match=f"item 1 differs from item 0 in {match}"):
        TrialSet.concatenate([make(), make(**other)])


def test_concatenate_of_one_layout_still_works():
    both = TrialSet.concatenate([make(neuron_ids=[5, 6, 7]), make(neuron_ids=[5, 6, 7])])
    assert both.n_trials == 8 and both.neuron_ids.tolist() == [5, 6, 7]


@pytest.mark.parametrize("call, error, match", [
    (lambda t: t.rebin(float("nan")), ValueError, r"'bin_ms' parameter of TrialSet.rebin.*nan"),
    (lambda t: t.rebin("abc"), TypeError, r"'bin_ms' parameter of TrialSet.rebin.*'abc'"),
    (lambda t: t.rebin(-10), ValueError, r"'bin_ms' parameter of TrialSet.rebin.*-10"),
    (lambda t: t.time_split("abc"), TypeError, r"'test_fraction' parameter.*'abc'"),
    (lambda t: t.time_split(1.5), ValueError, r"'test_fraction' parameter.*1.5"),
    (lambda t: t.split("val"), ValueError, "no 'split' column"),
])
def test_methods_refuse(call, error, match):
    with pytest.raises(error, match=match):
        call(make())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(window=True), TypeError, r"'window' parameter of TrialSet.from_continuous.*True"),
    (dict(window=2.5), TypeError, r"'window' parameter .*2.5"),
    (dict(window=2, stride=0), ValueError, r"'stride' parameter .*Got 0"),
    (dict(window=2, t_start_ms="abc"), TypeError, r"'t_start_ms' parameter .*'abc'"),
    (dict(window=2, bin_ms=float("nan")), ValueError, r"'bin_ms' parameter .*nan"),
    (dict(window=2, behavior=np.ones((10, 2), bool)), TypeError, "behavior .* booleans"),
    (dict(window=2, spikes=np.ones((2, 10, 3))), ValueError,
     r"spikes must have 2 dimensions \(time bins, neurons\)"),
])
def test_from_continuous_refuses(kwargs, error, match):
    args = dict(spikes=np.ones((10, 3), int), bin_ms=5)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        TrialSet.from_continuous(args.pop("spikes"), args.pop("behavior", None), **args)


def test_from_continuous_refuses_windows_beyond_memory():
    spikes = np.broadcast_to(np.zeros((1, 100), dtype=np.int8), (2_000_000, 100))
    with pytest.raises(ValueError, match=r"from_continuous\(window=1000000, stride=1\) would "
                                         "need about .* of memory"):
        TrialSet.from_continuous(spikes, bin_ms=1, window=1_000_000, stride=1)


# --------------------------------------------------------------------- save / load
def test_save_refuses_a_folder_and_objects_it_cannot_write(tmp_path):
    with pytest.raises(IsADirectoryError, match="is an existing folder"):
        make().save(tmp_path)
    (tmp_path / "x.npz").mkdir()
    with pytest.raises(IsADirectoryError, match="x.npz' is an existing folder"):
        make().save(tmp_path / "x.npz")
    odd = make(conditions=table(label=["a", None, "b", "c"]))
    with pytest.raises(TypeError, match="conditions column 'label' holds (None|nan)"):
        odd.save(tmp_path / "odd.npz")
    assert not (tmp_path / "odd.npz").exists()


def _rewrite(path, **entries):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays.update(entries)
    for key in [k for k, v in entries.items() if v is None]:
        del arrays[key]
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage, match", [
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable TrialSet .npz file "
                                                    r"\(truncated"),
    (lambda p: _rewrite(p, meta=np.array("{not json")), "the 'meta' entry is not JSON"),
    (lambda p: _rewrite(p, meta=np.array("[1, 2]")), "'meta' entry must be a JSON object, got "
                                                     "list"),
    (lambda p: _rewrite(p, meta=np.array(json.dumps({"format_version": 1}))),
     "the 'meta' entry lacks 'bin_ms'"),
    (lambda p: _rewrite(p, meta=np.array(json.dumps({
        "format_version": 1, "bin_ms": "5", "t_start_ms": 0, "behavior_names": None,
        "condition_columns": []}))), "meta 'bin_ms' has the wrong type: '5'"),
    (lambda p: _rewrite(p, meta=np.array(json.dumps({"format_version": 9}))),
     "TrialSet format 9, this version reads 1"),
    (lambda p: _rewrite(p, cond_0=None), r"lacks the entries \['cond_0'\]"),
    (lambda p: _rewrite(p, spikes=-np.ones((4, 5, 3))), "holds an invalid TrialSet: spikes must "
                                                        "be non-negative"),
    (lambda p: _rewrite(p, neuron_ids=np.array([1, 1, 2])), "invalid TrialSet: neuron_ids must "
                                                            "be unique"),
])
def test_load_reports_damaged_files(tmp_path, damage, match):
    path = make(conditions=table(angle=np.zeros(4))).save(tmp_path / "t.npz")
    damage(path)
    with pytest.raises((ValueError, TypeError), match=match):
        TrialSet.load(path)


def test_load_refuses_a_folder(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a folder, not a TrialSet .npz file"):
        TrialSet.load(tmp_path)
