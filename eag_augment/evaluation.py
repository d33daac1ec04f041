"""NLB-style evaluation of latent models: co-smoothing, velocity decoding, PSTH R^2.

The Neural Latents Benchmark scores a latent-variable model by the rates it infers. The model
reads the held-in neurons of a trial and predicts the rates of all neurons; then

- **co-bps**: bits per spike of the predicted held-out rates on the evaluation trials
  (``nlb_tools.evaluation.bits_per_spike``; the null model is each neuron's mean count);
- **vel R2**: a ridge regression (alpha chosen by 5-fold grid search) from the inferred rates of
  all neurons at bin t to the behaviour at bin t + lag, fitted on the training trials and scored
  on the evaluation trials (``nlb_tools.evaluation.fit_and_eval_decoder``, variance-weighted R^2);
- **psth R2**: the condition-averaged predicted rates of the evaluation trials against PSTHs of
  Gaussian-smoothed spikes of all trials of each condition, R^2 averaged over neurons
  (``nlb_tools.evaluation.eval_psth``).

Every model in the project that infers rates from spikes can be scored: a
:class:`~eag_augment.generators.LatentAutoencoder` fitted with ``encode_heldout=False`` and a
:class:`~eag_augment.generators.LangevinFlowGenerator` (``condition`` "angle" or None). A model
only needs ``fit(trials)`` and ``predict_rates(trials) -> (trials, bins, neurons)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from eag_augment._optional import import_nlb_tools
from eag_augment.trials import TrialSet

__all__ = ["evaluate_latent_model", "evaluate_nwb", "NLB_FUNCTIONS"]

#: The nlb_tools function that computes each score.
NLB_FUNCTIONS = {
    "co-bps": "nlb_tools.evaluation.bits_per_spike",
    "vel R2": "nlb_tools.evaluation.fit_and_eval_decoder",
    "psth R2": "nlb_tools.evaluation.eval_psth",
}


def _check_pair(train: TrialSet, eval_trials: TrialSet) -> None:
    for name, value in (("train", train), ("eval_trials", eval_trials)):
        if not isinstance(value, TrialSet):
            raise TypeError(f"{name} must be a TrialSet, got {type(value).__name__}")
    if train.spikes.shape[1:] != eval_trials.spikes.shape[1:]:
        raise ValueError(f"train and eval_trials must have the same (bins, neurons); got "
                         f"{train.spikes.shape[1:]} and {eval_trials.spikes.shape[1:]}")
    if train.bin_ms != eval_trials.bin_ms:
        raise ValueError(f"train and eval_trials must have the same bin_ms; got {train.bin_ms} "
                         f"and {eval_trials.bin_ms}")
    if not np.array_equal(train.heldout, eval_trials.heldout):
        raise ValueError("train and eval_trials mark different neurons as held out")
    n_out = int(eval_trials.heldout.sum())
    if n_out == 0 or n_out == eval_trials.n_neurons:
        raise ValueError(f"co-smoothing needs some but not all neurons marked held out "
                         f"(TrialSet.heldout); got {n_out} of {eval_trials.n_neurons}")
    if eval_trials.spikes[:, :, eval_trials.heldout].sum() == 0:
        raise ValueError("the held-out neurons of eval_trials fire no spike: bits per spike "
                         "is undefined")


def _check_model(model) -> None:
    for method in ("fit", "predict_rates"):
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must have fit(trials) and predict_rates(trials); "
                            f"{type(model).__name__} has no {method}()")
    if getattr(model, "encode_heldout", False):
        raise ValueError(f"{type(model).__name__} reads the held-out neurons "
                         "(encode_heldout=True): co-smoothing needs encode_heldout=False")
    if getattr(model, "condition", None) == "velocity":
        raise ValueError(f"{type(model).__name__} with condition='velocity' reads the "
                         "behaviour that vel R2 scores: use condition='angle' or None")


def _heldin_only(trials: TrialSet) -> TrialSet:
    """The trials with every held-out count set to 0, so no model can read them."""
    spikes = trials.spikes.copy()
    spikes[:, :, trials.heldout] = 0
    return TrialSet(spikes, trials.behavior, trials.conditions, bin_ms=trials.bin_ms,
                    neuron_ids=trials.neuron_ids, heldout=trials.heldout,
                    behavior_names=trials.behavior_names, t_start_ms=trials.t_start_ms)


def _predict(model, trials: TrialSet, predict_params: dict) -> np.ndarray:
    rates = np.asarray(model.predict_rates(_heldin_only(trials), **predict_params),
                       dtype=np.float64)
    if rates.shape != trials.spikes.shape:
        raise ValueError(f"{type(model).__name__}.predict_rates returned shape {rates.shape}, "
                         f"expected {trials.spikes.shape} (trials, bins, all neurons)")
    if not np.all(np.isfinite(rates)) or np.any(rates < 0):
        raise ValueError(f"{type(model).__name__}.predict_rates returned negative, NaN or "
                         "infinite rates")
    return rates


def _lag_bins(lag_ms: float, bin_ms: float, n_bins: int) -> int:
    lag = float(lag_ms) / bin_ms
    k = int(round(lag))
    if abs(lag - k) > 1e-9 or abs(k) >= n_bins:
        raise ValueError(f"lag_ms must be a whole number of {bin_ms:g} ms bins shorter than "
                         f"the trial, got {lag_ms}")
    return k


def _lagged(rates: np.ndarray, behavior: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(samples, neurons) rates at bin t and (samples, dims) behaviour at bin t + k."""
    n_bins = rates.shape[1]
    r = rates[:, max(0, -k):n_bins - max(0, k)]
    b = behavior[:, max(0, k):n_bins - max(0, -k)]
    return r.reshape(-1, r.shape[2]), b.reshape(-1, b.shape[2])


def _condition_labels(trials: TrialSet, column: str) -> np.ndarray | None:
    return trials.conditions[column].to_numpy() if column in trials.conditions else None


def evaluate_latent_model(
    model,
    train: TrialSet,
    eval_trials: TrialSet,
    *,
    lag_ms: float = 0.0,
    condition_column: str = "condition",
    psth_kern_ms: float = 70.0,
    grid_search: bool = True,
    **predict_params,
) -> dict:
    """Score a latent model the NLB way: co-bps, velocity R^2 and PSTH R^2.

    The model is fitted on ``train`` unless it is already fitted (it has ``n_neurons_``).
    Rates are then inferred for both sets from their held-in neurons only (held-out counts are
    zeroed before the model sees them).

    Parameters
    ----------
    model : estimator with ``fit(trials)`` and ``predict_rates(trials, **predict_params)``
        returning rates (trials, bins, neurons) of every neuron, expected counts per bin; e.g.
        ``LatentAutoencoder(encode_heldout=False)`` or ``LangevinFlowGenerator(condition=None)``.
    train, eval_trials : TrialSet
        Same neurons, with the held-out ones marked in ``heldout`` (e.g. from
        :func:`eag_augment.datasets.load_nwb`). Behaviour is needed for vel R2, the
        ``condition_column`` for psth R2; a score whose inputs are missing is None.
    lag_ms : float
        Rates at bin t decode the behaviour at t + lag (a whole number of bins; negative for
        behaviour leading the spikes). 0 for TrialSets whose behaviour is already shifted, as
        ``load_nwb`` does with NLB's lags; 100 ms is NLB's MC_Maze lag for unshifted
        data such as :func:`~eag_augment.datasets.make_synthetic_reach`.
    condition_column : str
        Conditions column whose trials are averaged into PSTHs.
    psth_kern_ms : float
        S.d. of the Gaussian kernel smoothing the spikes of the target PSTHs (NLB: 70 ms for
        MC_Maze, 40 Area2_Bump); the kernel is truncated at the window's edges.
    grid_search : bool
        Cross-validated ridge penalty for vel R2 (NLB's default), else alpha = 0.01.
    **predict_params
        Passed to ``model.predict_rates`` (e.g. ``n_samples`` for LangevinFlow).

    Returns
    -------
    dict
        ``co-bps``, ``vel R2``, ``psth R2`` (float or None); ``functions``: the nlb_tools
        function behind each score; ``n_train``, ``n_eval`` trials and ``n_heldout`` neurons.
    """
    nlb = import_nlb_tools("nlb_tools.evaluation", "evaluate_latent_model")
    bits_per_spike, eval_psth = nlb.bits_per_spike, nlb.eval_psth
    fit_and_eval_decoder = nlb.fit_and_eval_decoder

    _check_pair(train, eval_trials)
    _check_model(model)
    k = _lag_bins(lag_ms, train.bin_ms, train.n_bins)
    if not psth_kern_ms >= 0:
        raise ValueError(f"psth_kern_ms must be >= 0, got {psth_kern_ms}")
    if not hasattr(model, "n_neurons_"):
        model.fit(train)
    if model.n_neurons_ != train.n_neurons:
        raise ValueError(f"model was fitted on {model.n_neurons_} neurons, the trials have "
                         f"{train.n_neurons}")
    rates_train = _predict(model, train, predict_params)
    rates_eval = _predict(model, eval_trials, predict_params)
    out = eval_trials.heldout

    # nlb_tools replaces zero rates in place: hand it copies.
    scores: dict = {"co-bps": float(bits_per_spike(
        rates_eval[:, :, out].copy(), eval_trials.spikes[:, :, out].astype(np.float64)))}

    scores["vel R2"] = None
    if train.behavior is not None and eval_trials.behavior is not None:
        x_train, y_train = _lagged(rates_train, train.behavior, k)
        x_eval, y_eval = _lagged(rates_eval, eval_trials.behavior, k)
        scores["vel R2"] = float(fit_and_eval_decoder(x_train, y_train, x_eval, y_eval,
                                                      grid_search=grid_search))

    scores["psth R2"] = None
    labels_train = _condition_labels(train, condition_column)
    labels_eval = _condition_labels(eval_trials, condition_column)
    if labels_train is not None and labels_eval is not None:
        spikes = np.concatenate([train.spikes, eval_trials.spikes]).astype(np.float64)
        if psth_kern_ms > 0:
            spikes = gaussian_filter1d(spikes, psth_kern_ms / train.bin_ms, axis=1,
                                       mode="nearest")
        labels = np.concatenate([labels_train, labels_eval])
        conditions = np.unique(labels)
        psth = np.stack([spikes[labels == c].mean(axis=0) for c in conditions])
        eval_cond_idx = [np.flatnonzero(labels_eval == c) for c in conditions]
        scores["psth R2"] = float(eval_psth(psth, rates_eval, eval_cond_idx))

    scores.update(functions=dict(NLB_FUNCTIONS), n_train=train.n_trials,
                  n_eval=eval_trials.n_trials, n_heldout=int(out.sum()))
    return scores


def evaluate_nwb(
    model,
    path: str | os.PathLike,
    *,
    train_split: str | Sequence[str] = "train",
    eval_split: str | Sequence[str] = "val",
    dataset: str | None = None,
    bin_ms: int | None = None,
    **kwargs,
) -> dict:
    """:func:`evaluate_latent_model` on an NLB-layout NWB file read with ``load_nwb``.

    NLB's local evaluation: fit on the ``train`` split, score on ``val`` (NLB's ``test``
    trials have no held-out spikes or behaviour). ``dataset`` and ``bin_ms`` go to
    :func:`~eag_augment.datasets.load_nwb`, which applies the dataset's velocity lag; other
    keyword arguments go to :func:`evaluate_latent_model`.
    """
    from eag_augment.datasets.nwb import load_nwb

    trials = load_nwb(path, dataset=dataset, bin_ms=bin_ms)
    if "split" not in trials.conditions:
        raise ValueError(f"{path} has no 'split' column in its trials table")
    split = trials.conditions["split"].astype(str)

    def select(names, arg: str) -> TrialSet:
        names = [names] if isinstance(names, str) else list(names)
        mask = split.isin(names).to_numpy()
        if not mask.any():
            raise ValueError(f"{arg}: no trials with split {names}; splits present: "
                             f"{sorted(split.unique())}")
        return trials[mask]

    return evaluate_latent_model(model, select(train_split, "train_split"),
                                 select(eval_split, "eval_split"), **kwargs)
