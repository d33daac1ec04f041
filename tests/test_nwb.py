"""NLB-format NWB reading (through nlb_tools) and TrialSet -> NWB writing."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy import signal

from eag_augment.datasets import load_nwb, resample_dataset, save_nwb
from eag_augment.trials import TrialSet, angle_of_reach

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "mc_maze_trial_748.csv"
COPIES = 6  # copies of the real trial laid end to end: 4 train, 1 val, 1 test
SPLITS = ["train", "train", "train", "train", "val", "test"]
ONSET_ROW = 2208  # 1 ms row of the real trial where hand speed passes 20 % of its peak
HELDOUT_EVERY = 4  # every 4th unit is held out: 45 of 182 as in MC_Maze
# What a DANDI file says about its session (values of this fixture, not of the real monkey).
FIXTURE_SUBJECT = {"subject_id": "fixture-monkey", "species": "Macaca mulatta", "sex": "M",
                   "age": "P10Y", "description": "test fixture subject"}
FIXTURE_METADATA = {"experimenter": ["Doe, Jane"], "institution": "Fixture University",
                    "keywords": ["motor cortex", "reaching"],
                    "experiment_description": "one MC_Maze trial copied six times"}


# ----------------------------------------------------------------- NLB-layout writer
def write_nlb_file(
    path: Path,
    spikes_ms: np.ndarray,
    unit_ids,
    heldout: np.ndarray,
    behavior: dict[str, np.ndarray],
    trials: pd.DataFrame,
    *,
    heldout_obs_end_s: float | None = None,
    seed: int = 0,
    subject: dict | None = None,
    metadata: dict | None = None,
) -> Path:
    """Write an NWB file laid out like the NLB ones from 1 ms spike counts (T, units).

    Spikes sit at random sub-millisecond times inside their 1 ms row, behaviour is sampled at
    the 1 ms timestamps, and held-out units stop being observed at ``heldout_obs_end_s``.
    """
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries
    from pynwb.epoch import TimeIntervals

    rng = np.random.default_rng(seed)
    n_ms = len(spikes_ms)
    from pynwb.file import Subject

    nwbfile = NWBFile(
        session_description="NLB-layout test fixture",
        identifier=path.stem,
        session_start_time=datetime(2020, 1, 1, tzinfo=timezone.utc),
        **(metadata or {}),
    )
    if subject is not None:
        nwbfile.subject = Subject(**subject)
    nwbfile.add_unit_column("heldout", "held-out unit")
    for n, uid in enumerate(unit_ids):
        rows = np.repeat(np.arange(n_ms), spikes_ms[:, n])
        times = np.sort((rows + rng.uniform(0.05, 0.95, rows.size)) / 1000.0)
        end = heldout_obs_end_s if heldout[n] and heldout_obs_end_s else n_ms / 1000.0
        nwbfile.add_unit(spike_times=times, obs_intervals=[[0.0, end]],
                         heldout=bool(heldout[n]), id=int(uid))
    module = nwbfile.create_processing_module("behavior", "behaviour")
    for name, values in behavior.items():
        module.add(TimeSeries(name=name, data=values, unit="mm/s",
                              timestamps=np.arange(n_ms) / 1000.0,
                              comments="columns=[x,y]", description=name))
    nwbfile.trials = TimeIntervals.from_dataframe(trials, name="trials", table_description="t")
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwbfile)
    return path


def bin_rows(values: np.ndarray, first_row: int, n_bins: int, bin_ms: int) -> np.ndarray:
    """Sum ``n_bins`` bins of ``bin_ms`` 1 ms rows from ``first_row``: (n_bins, channels)."""
    block = values[first_row : first_row + n_bins * bin_ms]
    return block.reshape(n_bins, bin_ms, -1).sum(axis=1)


# --------------------------------------------------------------- real MC_Maze fixture
@pytest.fixture(scope="module")
def maze(tmp_path_factory):
    """The real MC_Maze trial copied six times along one clock, written as an NLB file.

    Copy ``i`` has its movement onset ``3 * i + 0.4`` ms later than the real one, so windows
    fall on different places of the 5 ms grid; the 'test' copy has no behaviour and no
    held-out spikes (held-out units are observed only up to its start), as in NLB.
    """
    if not CSV.exists():
        pytest.skip(f"real MC_Maze trial not found at {CSV} (see shared/data/README.md)")
    table = pd.read_csv(CSV)
    unit_cols = [c for c in table.columns if c.startswith("unit_")]
    unit_ids = np.array([int(c.split("_")[1]) for c in unit_cols])
    one = table[unit_cols].to_numpy(dtype=np.int64)
    trial_ms = len(table)
    spikes = np.tile(one, (COPIES, 1))
    heldout = np.arange(len(unit_ids)) % HELDOUT_EVERY == HELDOUT_EVERY - 1
    vel = np.tile(table[["hand_vel_x", "hand_vel_y"]].to_numpy(), (COPIES, 1))
    pos = np.tile(table[["hand_pos_x", "hand_pos_y"]].to_numpy(), (COPIES, 1))
    test_start = (COPIES - 1) * trial_ms
    vel[test_start:] = np.nan
    spikes[test_start:, heldout] = 0
    starts_ms = np.arange(COPIES) * trial_ms
    onset_ms = starts_ms + ONSET_ROW + 3 * np.arange(COPIES) + 0.4
    trials = pd.DataFrame({
        "start_time": starts_ms / 1000.0,
        "stop_time": (starts_ms + trial_ms - 1) / 1000.0,
        "move_onset_time": onset_ms / 1000.0,
        "trial_type": [3, 3, 7, 7, 12, 12],
        "trial_version": [0, 1, 2, 0, 1, 2],
        "maze_id": [5, 5, 9, 9, 11, 11],
        "split": SPLITS,
    })
    path = write_nlb_file(
        tmp_path_factory.mktemp("maze") / "sub-Jenkins_ses-full_desc-train_behavior+ecephys.nwb",
        spikes, unit_ids, heldout, {"hand_vel": vel, "hand_pos": pos}, trials,
        heldout_obs_end_s=test_start / 1000.0, subject=FIXTURE_SUBJECT, metadata=FIXTURE_METADATA,
    )
    return {"path": path, "spikes": spikes, "vel": vel, "unit_ids": unit_ids,
            "heldout": heldout, "onset_ms": onset_ms, "trials": trials}


def expected_first_rows(onset_ms: np.ndarray, offset_ms: float, bin_ms: int) -> np.ndarray:
    """NLB window start: first bin of the recording's grid at or after onset + offset."""
    return (np.ceil((onset_ms + offset_ms) / bin_ms) * bin_ms).astype(int)


def test_mc_maze_counts_shapes_heldout_and_conditions(maze):
    ts = load_nwb(maze["path"], dataset="mc_maze", split=["train", "val"])
    assert ts.spikes.shape == (5, 140, 182)
    assert ts.bin_ms == 5 and ts.t_start_ms == -250 and ts.behavior.shape == (5, 140, 2)
    assert ts.behavior_names == ["x", "y"]
    np.testing.assert_array_equal(ts.neuron_ids, maze["unit_ids"])
    np.testing.assert_array_equal(ts.heldout, maze["heldout"])
    assert ts.heldout.sum() == 45
    first = expected_first_rows(maze["onset_ms"][:5], -250, 5)
    for i in range(5):
        np.testing.assert_array_equal(ts.spikes[i], bin_rows(maze["spikes"], first[i], 140, 5))
    cond = ts.conditions
    assert list(cond["split"]) == SPLITS[:5]
    assert list(cond["condition"]) == ["3_0", "3_1", "7_2", "7_0", "12_1"]
    np.testing.assert_array_equal(cond["maze_id"], [5, 5, 9, 9, 11])
    np.testing.assert_allclose(cond["move_onset_time"], maze["onset_ms"][:5] / 1000.0)
    np.testing.assert_array_equal(cond["start_ms"], first)
    np.testing.assert_allclose(cond["angle"], angle_of_reach(ts.behavior))
    assert np.all(np.abs(cond["angle"]) <= np.pi)


def test_mc_maze_velocity_is_lagged_100ms(maze):
    ts = load_nwb(maze["path"], dataset="mc_maze", split="train")
    vel = maze["vel"]
    scale = np.nanmax(np.abs(vel))

    def error(lag_ms: int) -> float:
        first = expected_first_rows(maze["onset_ms"][:4], -250 + lag_ms, 5)
        expected = np.stack([vel[f : f + 700 : 5] for f in first])
        return float(np.abs(ts.behavior - expected).max() / scale)

    # FIR anti-aliasing leaves the smooth hand velocity almost untouched at 5 ms bins.
    assert error(100) < 0.01
    assert error(0) > 0.2
    unlagged = load_nwb(maze["path"], dataset="mc_maze", split="train", lag_ms=0)
    np.testing.assert_array_equal(unlagged.spikes, ts.spikes)
    assert np.abs(unlagged.behavior - ts.behavior).max() / scale > 0.2


def test_matches_nlb_tools_train_tensors(maze):
    from nlb_tools.make_tensors import make_train_input_tensors
    from nlb_tools.nwb_interface import NWBDataset

    ds = NWBDataset(str(maze["path"]))
    resample_dataset(ds, 5)
    nlb = make_train_input_tensors(ds, "mc_maze", "train", include_behavior=True,
                                   save_file=False)
    ts = load_nwb(maze["path"], dataset="mc_maze", split="train")
    np.testing.assert_array_equal(ts.spikes[:, :, ~ts.heldout], nlb["train_spikes_heldin"])
    np.testing.assert_array_equal(ts.spikes[:, :, ts.heldout], nlb["train_spikes_heldout"])
    np.testing.assert_array_equal(ts.behavior, nlb["train_behavior"])


# pytest.warns re-emits the warnings it does not match, past the nlb_tools filters
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_test_trials_without_behaviour_or_heldout(maze):
    with pytest.warns(UserWarning, match=r"dropped 1 of 6 trials without held-out spikes"):
        ts = load_nwb(maze["path"], dataset="mc_maze")
    assert ts.n_trials == 5 and "test" not in set(ts.conditions["split"])
    with pytest.warns(UserWarning) as record:
        test = load_nwb(maze["path"], dataset="mc_maze", split="test")
    messages = " ".join(str(w.message) for w in record)
    assert "held-out neurons left out" in messages and "behaviour left out" in messages
    assert test.behavior is None and test.n_neurons == 137 and not test.heldout.any()
    assert "angle" not in test.conditions and list(test.conditions["condition"]) == ["12_2"]
    heldin = load_nwb(maze["path"], dataset="mc_maze", split="train", include_heldout=False)
    assert heldin.n_neurons == 137 and not heldin.heldout.any()


def test_bin_width_20ms_and_custom_window(maze):
    ts = load_nwb(maze["path"], dataset="mc_maze", split="val", bin_ms=20,
                  align_range_ms=(-100, 300))
    assert ts.spikes.shape == (1, 20, 182) and ts.bin_ms == 20 and ts.t_start_ms == -100
    first = expected_first_rows(maze["onset_ms"][4:5], -100, 20)[0]
    np.testing.assert_array_equal(ts.spikes[0], bin_rows(maze["spikes"], first, 20, 20))


# ------------------------------------ synthetic NLB files: resampling, other datasets
def _small_file(path: Path, trials: pd.DataFrame, *, behavior_name="hand_vel", n_units=6,
                n_ms=4000, unobserved_from_ms: int | None = None, seed=0) -> Path:
    """Random 1 ms spikes (2 held-out units) and a sine/cosine velocity; from
    ``unobserved_from_ms`` on, held-out units are unobserved and the velocity is NaN."""
    rng = np.random.default_rng(seed)
    spikes = (rng.random((n_ms, n_units)) < 0.03).astype(np.int64)
    t = np.arange(n_ms) / 1000.0
    vel = np.stack([np.sin(2 * np.pi * t), np.cos(2 * np.pi * t)], axis=1)
    heldout = np.arange(n_units) >= n_units - 2
    if unobserved_from_ms is not None:
        spikes[unobserved_from_ms:, heldout] = 0
        vel[unobserved_from_ms:] = np.nan
    return write_nlb_file(
        path, spikes, np.arange(n_units) + 1, heldout, {behavior_name: vel}, trials, seed=seed,
        heldout_obs_end_s=None if unobserved_from_ms is None else unobserved_from_ms / 1000.0,
    )


def test_resample_workaround_where_nlb_resample_breaks(tmp_path):
    from nlb_tools.nwb_interface import NWBDataset

    trials = pd.DataFrame({"start_time": [0.5], "stop_time": [1.5], "move_onset_time": [1.0],
                           "trial_type": [1], "trial_version": [0], "split": ["train"]})
    path = _small_file(tmp_path / "small.nwb", trials, n_ms=4003, unobserved_from_ms=3000)
    ds = NWBDataset(str(path))
    theirs = copy.deepcopy(ds)
    try:
        theirs.resample(5)
    except ValueError as err:  # pandas >= 3: copy-on-write arrays are read-only
        assert "read-only" in str(err)
        assert int(pd.__version__.split(".")[0]) >= 3
        theirs = None
    raw_spikes = ds.data["spikes"].to_numpy(dtype=float)
    raw_vel = ds.data["hand_vel"].to_numpy()
    resample_dataset(ds, 5)
    assert ds.bin_width == 5 and len(ds.data) == 801  # the last, partial bin is kept
    np.testing.assert_array_equal(ds.data.index,
                                  pd.to_timedelta(np.arange(801) * 5, unit="ms"))
    spikes = ds.data["spikes"].to_numpy()
    np.testing.assert_array_equal(spikes[:800], bin_rows(raw_spikes, 0, 800, 5))
    np.testing.assert_array_equal(spikes[800], raw_spikes[4000:].sum(axis=0))
    heldout = ds.data["heldout_spikes"].to_numpy()
    assert not np.isnan(heldout[:600]).any() and np.isnan(heldout[600:]).all()
    # behaviour: NLB's definition, FIR decimation over NaN gaps filled by interpolation
    filled = pd.DataFrame(raw_vel).interpolate(limit_direction="both").to_numpy()
    expected = signal.decimate(filled, 5, axis=0, n=500, ftype="fir")
    expected[np.isnan(raw_vel[::5])] = np.nan
    np.testing.assert_array_equal(ds.data["hand_vel"].to_numpy(), expected)
    assert np.isnan(expected[600:]).all() and not np.isnan(expected[:600]).any()
    if theirs is not None:  # pandas < 3: the two agree
        pd.testing.assert_frame_equal(ds.data, theirs.data, check_dtype=False)
    held = NWBDataset(str(path))
    resample_dataset(held, 5, behavior="hold")
    np.testing.assert_array_equal(held.data["hand_vel"].to_numpy(), raw_vel[::5])
    with pytest.raises(ValueError, match="integer multiple of the dataset's 5 ms, got 7"):
        resample_dataset(held, 7)


def test_area2_bump_angle_from_cond_dir_and_detection(tmp_path):
    trials = pd.DataFrame({
        "start_time": [0.2, 1.2, 2.2], "stop_time": [1.0, 2.0, 3.0],
        "move_onset_time": [0.4, 1.4, 2.4], "cond_dir": [0.0, 90.0, 225.0],
        "ctr_hold_bump": [False, True, False], "split": ["train", "val", "train"],
    })
    path = _small_file(tmp_path / "sub-Han_desc-train_behavior+ecephys.nwb", trials)
    ts = load_nwb(path)  # detected as area2_bump: window -100..500 ms, lag -20 ms
    assert ts.spikes.shape == (3, 120, 6) and ts.t_start_ms == -100
    np.testing.assert_allclose(ts.conditions["angle"], [0.0, np.pi / 2, -3 * np.pi / 4])
    assert list(ts.conditions["condition"]) == ["0_0", "90_1", "225_0"]
    lag0 = load_nwb(path, lag_ms=0)
    np.testing.assert_allclose(ts.behavior[:, 4:], lag0.behavior[:, :-4], atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_mc_rtt_chunks_keep_times(tmp_path):
    starts = np.arange(6) * 0.6
    trials = pd.DataFrame({"start_time": starts, "stop_time": starts + 0.6,
                           "split": ["train"] * 4 + ["val"] * 2})
    path = _small_file(tmp_path / "sub-Indy_desc-train_behavior+ecephys.nwb", trials,
                       behavior_name="finger_vel", n_ms=3650)
    # detected as mc_rtt: 600 ms windows, lag 140 ms; the last chunk's lagged velocity runs
    # past the end of the recording
    with pytest.warns(UserWarning, match="dropped 1 of 6 trials without finger_vel"):
        ts = load_nwb(path)
    assert ts.spikes.shape == (5, 120, 6) and ts.behavior_names == ["x", "y"]
    np.testing.assert_array_equal(ts.conditions["start_ms"], np.arange(5) * 600.0)
    train, test = ts.time_split(0.4)
    assert train.conditions["start_ms"].max() + 600 <= test.conditions["start_ms"].min()


def test_detects_scaled_maze_from_file_name(tmp_path):
    trials = pd.DataFrame({"start_time": [0.5], "stop_time": [1.5], "move_onset_time": [1.0],
                           "trial_type": [1], "trial_version": [0], "split": ["train"]})
    path = _small_file(tmp_path / "sub-Jenkins_ses-small_desc-train_behavior+ecephys.nwb",
                       trials)
    small = load_nwb(path)  # lag 120 ms, not MC_Maze's 100 ms
    assert small.spikes.shape == (1, 140, 6)
    np.testing.assert_array_equal(small.behavior,
                                  load_nwb(path, dataset="mc_maze_small").behavior)
    assert not np.allclose(small.behavior, load_nwb(path, dataset="mc_maze").behavior)


# --------------------------------------------------------------------------- save_nwb
def random_trialset(rng, bin_ms: int, *, n_trials=6, n_bins=9, n_neurons=5) -> TrialSet:
    spikes = rng.poisson(1.5, (n_trials, n_bins, n_neurons))
    spikes[0, 0, 0] = 3 * bin_ms + 2  # more spikes than 1 ms slots in the bin
    spikes[1, 2, 3] = 7 * bin_ms
    conditions = pd.DataFrame({
        "angle": rng.uniform(-np.pi, np.pi, n_trials),
        "target": rng.integers(0, 8, n_trials).astype(np.int32),
        "label": pd.array([f"c{i % 3}" for i in range(n_trials)], dtype="str"),
        "split": ["train", "train", "val", "train", "test", "val"][:n_trials],
        "go_time": rng.normal(size=n_trials),  # *_time: nlb_tools would make it a timedelta
        "name": rng.random(n_trials) > 0.5,  # clashes with the NWB table's .name
    })
    return TrialSet(
        spikes,
        rng.normal(0, 50, (n_trials, n_bins, 2)),
        conditions,
        bin_ms=bin_ms,
        neuron_ids=np.array([101, 7, 33, 2, 56]),
        heldout=np.array([False, True, False, True, False]),
        t_start_ms=-5 * bin_ms + 0.5,
    )


def assert_same(a: TrialSet, b: TrialSet) -> None:
    np.testing.assert_array_equal(a.spikes, b.spikes)
    np.testing.assert_array_equal(a.behavior, b.behavior)
    pd.testing.assert_frame_equal(a.conditions, b.conditions)
    np.testing.assert_array_equal(a.neuron_ids, b.neuron_ids)
    assert a.neuron_ids.dtype == b.neuron_ids.dtype
    np.testing.assert_array_equal(a.heldout, b.heldout)
    assert (a.bin_ms, a.t_start_ms, a.behavior_names) == (b.bin_ms, b.t_start_ms, b.behavior_names)


@pytest.mark.parametrize("bin_ms, lag_ms", [(5, 0), (20, 100), (5, -20), (3, 9)])
def test_save_load_round_trip_is_exact(tmp_path, bin_ms, lag_ms):
    ts = random_trialset(np.random.default_rng(100 * bin_ms + abs(lag_ms)), bin_ms)
    path = save_nwb(ts, tmp_path / "synthetic.nwb", lag_ms=lag_ms)
    assert_same(load_nwb(path), ts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic.nwb"]
    val = load_nwb(path, split="val")
    assert_same(val, ts[np.array([2, 5])])


def test_round_trip_minimal_trialset_and_coarser_bins(tmp_path):
    ts = TrialSet(np.random.default_rng(0).poisson(2.0, (3, 8, 2)), bin_ms=10,
                  neuron_ids=np.array(["a", "bb"]))
    back = load_nwb(save_nwb(ts, tmp_path / "min.nwb"))
    assert back.behavior is None
    np.testing.assert_array_equal(back.spikes, ts.spikes)
    assert list(back.neuron_ids) == ["a", "bb"] and back.conditions.shape == (3, 0)
    coarse = load_nwb(tmp_path / "min.nwb", bin_ms=20)
    np.testing.assert_array_equal(coarse.spikes, ts.rebin(20).spikes)
    with pytest.raises(ValueError, match="multiple of 10"):
        load_nwb(tmp_path / "min.nwb", bin_ms=15)


def test_saved_file_has_the_nlb_layout(tmp_path):
    from nlb_tools.nwb_interface import NWBDataset
    from pynwb import NWBHDF5IO

    ts = random_trialset(np.random.default_rng(3), 5)
    path = save_nwb(ts, tmp_path / "layout.nwb", lag_ms=10)
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert f.units["heldout"][:].dtype == bool
        assert list(f.units.id[:]) == [101, 7, 33, 2, 56]
        series = f.processing["behavior"].get("hand_vel")
        assert series.rate == 1000.0 and series.comments == "columns=[x,y]"
        assert {"start_time", "stop_time", "move_onset_time", "split"} <= set(f.trials.colnames)
    ds = NWBDataset(str(path))  # plain nlb_tools, 1 ms bins
    onset_ms = (ds.trial_info["move_onset_time"] / pd.Timedelta(milliseconds=1)).to_numpy()
    first = np.rint(onset_ms + ts.t_start_ms).astype(int)
    assert np.all(first % 5 == 0)
    heldin_ids = ts.neuron_ids[~ts.heldout]
    raw = ds.data["spikes"][heldin_ids].to_numpy()
    for i in range(ts.n_trials):
        np.testing.assert_array_equal(bin_rows(raw, first[i], ts.n_bins, 5),
                                      ts.spikes[i][:, ~ts.heldout])
    vel = ds.data["hand_vel"].to_numpy()
    np.testing.assert_array_equal(vel[first[0] + 10 : first[0] + 10 + 5 * ts.n_bins : 5],
                                  ts.behavior[0])
    # nlb_tools' own tensors at the file's layout (alignment and window) agree
    from nlb_tools.make_tensors import make_train_input_tensors

    window = (ts.t_start_ms, ts.t_start_ms + ts.duration_ms)
    resample_dataset(ds, 5, behavior="hold")
    nlb = make_train_input_tensors(
        ds, "mc_maze", "train", include_behavior=True, save_file=False,
        update_params={"lag": 10, "make_params": {"align_field": "move_onset_time",
                                                 "align_range": window}},
    )
    train = ts.split("train")
    by_id = np.argsort(heldin_ids)  # nlb_tools orders units by id
    np.testing.assert_array_equal(nlb["train_spikes_heldin"],
                                  train.spikes[:, :, ~ts.heldout][:, :, by_id])
    np.testing.assert_array_equal(nlb["train_behavior"], train.behavior)


def test_save_is_atomic(tmp_path, monkeypatch):
    from pynwb import NWBHDF5IO

    ts = random_trialset(np.random.default_rng(4), 5)
    path = save_nwb(ts, tmp_path / "keep.nwb")
    before = path.read_bytes()

    def fail(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(NWBHDF5IO, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        save_nwb(ts[:2], path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.nwb"]


# ------------------------------------------------------------------------------ errors
def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no NWB file"):
        load_nwb(tmp_path / "absent.nwb")
    with pytest.raises(ValueError, match="directory"):
        load_nwb(tmp_path)
    text = tmp_path / "notes.nwb"
    text.write_text("not hdf5")
    with pytest.raises(ValueError, match="not an NWB file"):
        load_nwb(text)
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ValueError, match="not a readable NWB file"):
        load_nwb(plain)
    trials = pd.DataFrame({"start_time": [0.5, 2.0], "stop_time": [1.5, 3.0],
                           "move_onset_time": [1.0, 2.5], "trial_type": [1, 2],
                           "trial_version": [0, 0], "split": ["train", "val"]})
    path = _small_file(tmp_path / "maze.nwb", trials)
    with pytest.raises(ValueError, match="unknown dataset 'mc_mzae'"):
        load_nwb(path, dataset="mc_mzae")
    with pytest.raises(ValueError, match="'dmfc_rsg' is not supported"):
        load_nwb(path, dataset="dmfc_rsg")
    with pytest.raises(ValueError, match="whole number of milliseconds.*2.5"):
        load_nwb(path, bin_ms=2.5)
    with pytest.raises(ValueError, match="positive"):
        load_nwb(path, bin_ms=0)
    with pytest.raises(TypeError, match="bin_ms"):
        load_nwb(path, bin_ms="5")
    with pytest.raises(ValueError, match="lag_ms.*1.5"):
        load_nwb(path, lag_ms=1.5)
    with pytest.raises(ValueError, match="not a multiple of bin_ms 5"):
        load_nwb(path, dataset="mc_maze", align_range_ms=(-250, 452))
    with pytest.raises(ValueError, match="start < end"):
        load_nwb(path, dataset="mc_maze", align_range_ms=(450, -250))
    with pytest.raises(ValueError, match=r"no trials with split \['tset'\]; splits present"):
        load_nwb(path, dataset="mc_maze", split="tset")
    with pytest.raises(TypeError, match="split"):
        load_nwb(path, split=3)


def test_unrecognised_file_asks_for_dataset(tmp_path):
    trials = pd.DataFrame({"start_time": [0.5], "stop_time": [1.5], "go_time": [1.0]})
    path = _small_file(tmp_path / "other.nwb", trials)
    with pytest.raises(ValueError, match="could not recognise the NLB dataset.*pass dataset="):
        load_nwb(path)
    with pytest.raises(ValueError, match="no alignment column 'move_onset_time'"):
        load_nwb(path, dataset="mc_maze")


def test_save_errors(tmp_path):
    rng = np.random.default_rng(5)
    ts = random_trialset(rng, 5)
    with pytest.raises(TypeError, match="TrialSet"):
        save_nwb(ts.spikes, tmp_path / "x.nwb")
    with pytest.raises(ValueError, match="whole number of milliseconds.*2.5"):
        save_nwb(TrialSet(ts.spikes, bin_ms=2.5), tmp_path / "x.nwb")
    with pytest.raises(ValueError, match="multiple of the bin width 5 ms, got 7"):
        save_nwb(ts, tmp_path / "x.nwb", lag_ms=7)
    with pytest.raises(ValueError, match="2048 per 1 ms slot"):
        save_nwb(TrialSet(np.full((1, 2, 1), 2048 * 5 + 1), bin_ms=5), tmp_path / "x.nwb")
    with pytest.raises(ValueError, match="behavior name 'v,x'"):
        save_nwb(ts._replace(behavior_names=["v,x", "y"]), tmp_path / "x.nwb")
    dated = ts._replace(conditions=ts.conditions.assign(when=pd.Timestamp("2020-01-01")))
    with pytest.raises(TypeError, match="condition 'when' has unsupported dtype"):
        save_nwb(dated, tmp_path / "x.nwb")
    holes = ts._replace(conditions=ts.conditions.assign(tag=["a", None, "b", "c", "d", "e"]))
    with pytest.raises(TypeError, match="condition 'tag' must hold"):
        save_nwb(holes, tmp_path / "x.nwb")
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------- DANDI-ready metadata
def dandi_problems(path: Path) -> list[str]:
    """What nwbinspector's DANDI configuration reports at CRITICAL or worse, or as a
    best-practice violation (what blocks or should block an upload)."""
    nwbinspector = pytest.importorskip("nwbinspector")
    from nwbinspector import Importance

    blocking = {Importance.ERROR, Importance.PYNWB_VALIDATION, Importance.CRITICAL,
                Importance.BEST_PRACTICE_VIOLATION}
    messages = nwbinspector.inspect_nwbfile(nwbfile_path=str(path),
                                            config=nwbinspector.load_config("dandi"))
    return [f"{m.importance.name} {m.check_function_name}: {m.message}" for m in messages
            if m.importance in blocking]


def test_real_trials_carry_their_session_into_a_dandi_ready_file(maze, tmp_path):
    from pynwb import NWBHDF5IO

    trials = load_nwb(maze["path"], dataset="mc_maze", split=["train", "val"])
    path = save_nwb(trials[:3], tmp_path / "windows.nwb")
    assert dandi_problems(path) == []
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert f.subject.subject_id == "fixture-monkey" and f.subject.species == "Macaca mulatta"
        assert list(f.experimenter) == ["Doe, Jane"] and f.institution == "Fixture University"
        assert f.session_start_time == datetime(2020, 1, 1, tzinfo=timezone.utc)
        assert f.processing["behavior"].get("hand_vel").unit == "mm/s"
        assert f.units.resolution == 0.005
        assert not f.trials["synthetic"][:].any()
        descriptions = {c: f.trials[c].description for c in f.trials.colnames}
    assert "no description" not in descriptions.values()
    assert "movement onset" in descriptions["move_onset_time"]
    back = load_nwb(path)
    np.testing.assert_array_equal(back.spikes, trials.spikes[:3])
    np.testing.assert_array_equal(back.behavior, trials.behavior[:3])


def test_generated_trials_record_what_made_them(maze, tmp_path):
    import json

    from pynwb import NWBHDF5IO

    from eag_augment import __version__
    from eag_augment.generators import PSTHPoissonGenerator

    train = load_nwb(maze["path"], dataset="mc_maze", split="train")
    gen = PSTHPoissonGenerator(condition="velocity", smooth_ms=20).fit(train)
    fake = gen.sample(4, random_state=7)
    path = save_nwb(fake, tmp_path / "fake.nwb", source=maze["path"], generator=gen,
                    random_state=7, include_rates=True)
    assert dandi_problems(path) == []
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        assert f.trials["synthetic"][:].all() and f.subject.subject_id == "fixture-monkey"
        prov = json.loads(str(f.get_scratch("eag_augment_provenance")))
        assert prov["eag_augment_version"] == __version__ and prov["random_state"] == 7
        assert prov["generator"]["class"].endswith("PSTHPoissonGenerator")
        assert prov["generator"]["params"]["smooth_ms"] == 20 and prov["n_synthetic"] == 4
        assert "4 of 4 trials are synthetic" in f.data_collection
        assert [list(row) for row in f.was_generated_by] == [["eag_augment", __version__]]
        assert "synthetic data" in list(f.keywords)
        rates = f.processing["ecephys"].get("expected_rates")
        assert rates.unit == "Hz" and rates.data.shape == (4 * fake.n_bins, fake.n_neurons)
        np.testing.assert_allclose(rates.data[: fake.n_bins],
                                   fake.rates[0] * 1000 / fake.bin_ms, rtol=1e-6)
    back = load_nwb(path)  # the rates series does not get in the way of loading
    np.testing.assert_array_equal(back.spikes, fake.spikes)


def test_a_mix_of_real_and_synthetic_trials_is_flagged_per_trial(tmp_path):
    from pynwb import NWBHDF5IO

    ts = random_trialset(np.random.default_rng(8), 5)
    mask = np.array([False, False, False, True, True, True])
    subject = {"subject_id": "S1", "species": "Mus musculus", "sex": "F", "age": "P90D"}
    path = save_nwb(ts, tmp_path / "mix.nwb", is_synthetic=mask, subject=subject,
                    behavior_unit="cm/s", experimenter="Doe, Jane", institution="Lab U",
                    keywords=["test"])
    assert dandi_problems(path) == []
    with NWBHDF5IO(str(path), "r") as io:
        f = io.read()
        np.testing.assert_array_equal(f.trials["synthetic"][:], mask)
        assert "3 of 6 trials are synthetic" in f.data_collection
        assert f.processing["behavior"].get("hand_vel").unit == "cm/s"
    with pytest.raises(ValueError, match="is_synthetic must be a boolean array of shape"):
        save_nwb(ts, tmp_path / "bad.nwb", is_synthetic=[1, 0])
    with pytest.raises(ValueError, match="include_rates=True but trials has no rates"):
        save_nwb(ts, tmp_path / "bad.nwb", include_rates=True)


def test_without_a_subject_dandi_would_reject_the_file(tmp_path):
    path = save_nwb(random_trialset(np.random.default_rng(9), 5), tmp_path / "bare.nwb")
    assert any("check_subject_exists" in p for p in dandi_problems(path))
    assert not any("BEST_PRACTICE_VIOLATION" in p for p in dandi_problems(path))


def test_saved_file_gets_the_usual_mode(tmp_path):
    import os

    umask = os.umask(0)
    os.umask(umask)
    path = save_nwb(random_trialset(np.random.default_rng(10), 5), tmp_path / "mode.nwb")
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
