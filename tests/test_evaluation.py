"""NLB-style evaluation (co-bps, vel R2, psth R2) on simulator data through save_nwb -> load_nwb."""

import numpy as np
import pytest
import torch

from eag_augment import TrialSet
from eag_augment.datasets import load_nwb, make_synthetic_reach, save_nwb
from eag_augment.evaluation import NLB_FUNCTIONS, _lagged, evaluate_latent_model, evaluate_nwb
from eag_augment.generators import LangevinFlowGenerator, LatentAutoencoder

LAG_MS = 100  # the simulator's activity leads the hand by 100 ms, as NLB's MC_Maze lag
TINY_AE = dict(latent_dim=4, channels=16, n_blocks=1, state_dim=8, epochs=2, device="cpu",
               random_state=0)


class TableModel:
    """Looks its rates up by trial (the target onset is unique per simulated trial)."""

    encode_heldout = False

    def __init__(self, simulated: TrialSet, rates=None):
        self.by_trial = dict(zip(simulated.conditions["target_onset_ms"],
                                 simulated.rates if rates is None else rates))
        self.n_neurons_ = simulated.n_neurons
        self.seen = []

    def fit(self, trials):
        return self

    def predict_rates(self, trials):
        self.seen.append(trials.spikes.copy())
        return np.stack([self.by_trial[t] for t in trials.conditions["target_onset_ms"]])


@pytest.fixture(scope="module")
def simulated() -> TrialSet:
    return make_synthetic_reach(80, n_neurons=24, n_heldout=6, random_state=0)


@pytest.fixture(scope="module")
def nwb_path(simulated, tmp_path_factory):
    return save_nwb(simulated, tmp_path_factory.mktemp("nlb") / "reach.nwb")


@pytest.fixture(scope="module")
def splits(nwb_path):
    trials = load_nwb(nwb_path)
    return trials.split("train"), trials.split("test")


@pytest.fixture(scope="module")
def scores(simulated, splits):
    train, test = splits
    truth = evaluate_latent_model(TableModel(simulated), train, test, lag_ms=LAG_MS)
    flat_rates = np.broadcast_to(train.spikes.mean(axis=(0, 1)), simulated.spikes.shape)
    flat = evaluate_latent_model(TableModel(simulated, flat_rates), train, test, lag_ms=LAG_MS)
    return truth, flat


def test_true_rates_beat_a_flat_model(scores, splits):
    truth, flat = scores
    assert truth["co-bps"] > 0.15 and abs(flat["co-bps"]) < 0.05
    assert truth["vel R2"] > 0.5 and flat["vel R2"] < 0.05
    assert truth["psth R2"] > flat["psth R2"]
    assert truth["functions"] == NLB_FUNCTIONS
    assert (truth["n_train"], truth["n_eval"], truth["n_heldout"]) == (
        splits[0].n_trials, splits[1].n_trials, 6)


def test_scores_equal_nlb_tools_evaluate(simulated, splits):
    """The same numbers as NLB's whole pipeline, nlb_tools.evaluation.evaluate, on dicts."""
    from nlb_tools.evaluation import evaluate
    from scipy.ndimage import gaussian_filter1d

    train, test = splits
    model = TableModel(simulated)
    out = train.heldout
    r_train, r_test = model.predict_rates(train), model.predict_rates(test)
    labels = np.concatenate([train.conditions["condition"], test.conditions["condition"]])
    smooth = gaussian_filter1d(np.concatenate([train.spikes, test.spikes]).astype(float),
                               70 / 5, axis=1, mode="nearest")
    conds = np.unique(labels)
    test_labels = test.conditions["condition"].to_numpy()
    target = {"mc_maze": {
        "eval_spikes_heldout": test.spikes[..., out].astype(float),
        "train_behavior": train.behavior, "eval_behavior": test.behavior,
        "psth": np.stack([smooth[labels == c].mean(0) for c in conds]),
        "eval_cond_idx": np.array([np.flatnonzero(test_labels == c) for c in conds],
                                  dtype=object),
    }}
    user = {"mc_maze": {
        "train_rates_heldin": r_train[..., ~out], "train_rates_heldout": r_train[..., out],
        "eval_rates_heldin": r_test[..., ~out], "eval_rates_heldout": r_test[..., out],
    }}
    nlb = evaluate(target, user)[0]["mc_maze_split"]
    ours = evaluate_latent_model(model, train, test, lag_ms=0)
    for key in ("co-bps", "vel R2", "psth R2"):
        assert ours[key] == pytest.approx(nlb[key], rel=1e-9), key


def test_the_model_never_sees_held_out_spikes(simulated, splits):
    train, test = splits
    model = TableModel(simulated)
    evaluate_latent_model(model, train, test)
    assert len(model.seen) == 2
    for seen in model.seen:
        assert seen[:, :, train.heldout].sum() == 0 and seen[:, :, ~train.heldout].sum() > 0


def test_missing_behaviour_or_conditions_give_none(simulated, splits):
    train, test = splits
    bare = [TrialSet(t.spikes, conditions=t.conditions[["target_onset_ms"]], bin_ms=t.bin_ms,
                     heldout=t.heldout) for t in (train, test)]
    res = evaluate_latent_model(TableModel(simulated), *bare)
    assert res["vel R2"] is None and res["psth R2"] is None and res["co-bps"] > 0


def test_lag_pairs_rates_with_later_behaviour():
    rates = np.arange(10, dtype=float).reshape(1, 10, 1)
    beh = np.arange(10, dtype=float).reshape(1, 10, 1) * 10
    r, b = _lagged(rates, beh, 3)
    np.testing.assert_array_equal(b[:, 0], 10 * (r[:, 0] + 3))
    r, b = _lagged(rates, beh, -2)
    np.testing.assert_array_equal(b[:, 0], 10 * (r[:, 0] - 2))
    assert len(r) == 8


def test_latent_models_in_cosmoothing_mode(splits, nwb_path):
    train, test = splits
    ae = LatentAutoencoder(encode_heldout=False, **TINY_AE)
    res = evaluate_latent_model(ae, train, test, lag_ms=LAG_MS, grid_search=False)
    assert all(np.isfinite(res[k]) for k in ("co-bps", "vel R2", "psth R2"))
    assert ae.module_.inp.in_features == int((~train.heldout).sum())
    lf = LangevinFlowGenerator(condition=None, latent_dim=4, n_groups=2, encoder_hidden=8,
                               d_model=8, n_heads=2, ff_dim=16, epochs=1, device="cpu",
                               random_state=0)
    res = evaluate_nwb(lf, nwb_path, eval_split="test", lag_ms=LAG_MS, grid_search=False,
                       n_samples=2)
    assert all(np.isfinite(res[k]) for k in ("co-bps", "vel R2", "psth R2"))
    assert res["n_eval"] == test.n_trials


def test_cosmoothing_autoencoder_ignores_held_out_inputs_and_round_trips(splits):
    train, _ = splits
    ae = LatentAutoencoder(encode_heldout=False, **TINY_AE).fit(train)
    spikes = train.spikes.copy()
    spikes[:, :, train.heldout] += 5
    np.testing.assert_allclose(ae.encode(spikes), ae.encode(train))
    rates = ae.predict_rates(train)
    assert rates.shape == train.spikes.shape
    config, state = ae.get_state()
    back = LatentAutoencoder(encode_heldout=False, **TINY_AE)
    back.set_state(config, state, torch.device("cpu"))
    np.testing.assert_array_equal(back.heldout_, train.heldout)
    np.testing.assert_allclose(back.predict_rates(train), rates)
    with pytest.raises(TypeError, match="TrialSet"):
        LatentAutoencoder(encode_heldout=False, **TINY_AE).fit(train.spikes)
    none_out = TrialSet(train.spikes, bin_ms=5)
    with pytest.raises(ValueError, match="held out"):
        LatentAutoencoder(encode_heldout=False, **TINY_AE).fit(none_out)


def test_clear_errors(simulated, splits, nwb_path):
    train, test = splits
    with pytest.raises(ValueError, match="encode_heldout=False"):
        evaluate_latent_model(LatentAutoencoder(), train, test)
    with pytest.raises(ValueError, match="condition='velocity'"):
        evaluate_latent_model(LangevinFlowGenerator(condition="velocity"), train, test)
    with pytest.raises(TypeError, match="predict_rates"):
        evaluate_latent_model(object(), train, test)
    with pytest.raises(TypeError, match="eval_trials"):
        evaluate_latent_model(TableModel(simulated), train, test.spikes)
    no_heldout = TrialSet(test.spikes, conditions=test.conditions, bin_ms=5)
    with pytest.raises(ValueError, match="held out"):
        evaluate_latent_model(TableModel(simulated), train, no_heldout)
    with pytest.raises(ValueError, match="same \\(bins, neurons\\)"):
        evaluate_latent_model(TableModel(simulated), train, test.select_neurons(np.arange(20)))
    with pytest.raises(ValueError, match="lag_ms"):
        evaluate_latent_model(TableModel(simulated), train, test, lag_ms=7)
    with pytest.raises(ValueError, match="eval_split"):
        evaluate_nwb(TableModel(simulated), nwb_path, eval_split="nope")
