"""The search behind TunedPipeline: candidates, synthetic trials per inner fold, scores, refit.

Kept apart from the estimators (``_search.py``) so that the runner of run specs can share
generator fits between its tuned and fixed-setting pipelines.
"""

from __future__ import annotations

import inspect
import logging
import math
import time

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import ParameterGrid
from sklearn.utils import check_random_state

from eag_augment.decoders._base import check_trials
from eag_augment.metrics import velocity_r2
from eag_augment.model_selection._spaces import default_search_space

log = logging.getLogger(__name__)

def _takes_mask(decoder) -> bool:
    return "is_synthetic" in inspect.signature(decoder.fit).parameters


def _seeded(estimator, seed: int, verbose: bool = False):
    """A clone with ``random_state`` = seed where it is unset (so refits are reproducible),
    and progress bars where ``verbose`` and the estimator has them off."""
    est = clone(estimator)
    params = est.get_params(deep=False)
    if params.get("random_state", 0) is None:
        est.set_params(random_state=seed)
    if verbose and params.get("verbose") == 0:
        est.set_params(verbose=1)
    return est


def _takes_unlabelled(estimator) -> bool:
    return "unlabelled" in inspect.signature(estimator.fit).parameters


def _learns_unlabelled(augmenter) -> bool:
    """Whether the augmenter's generator learns from unlabelled spikes."""
    generator = augmenter.get_params(deep=False).get("generator")
    return getattr(type(generator), "supports_unlabelled", False)


def _takes_unlabelled_path(estimator) -> bool:
    return "unlabelled" in inspect.signature(estimator.fit_path).parameters


def _fit_decoders(decoder, settings: list[dict], seed: int, X, y, is_synthetic,
                  unlabelled=None) -> list:
    """One fitted decoder per setting (through ``fit_path`` where the decoder shares work);
    decoders that take unlabelled spikes get them."""
    est = _seeded(decoder, seed)
    extra = {"unlabelled": unlabelled} if unlabelled is not None and _takes_unlabelled(est) \
        else {}
    if hasattr(est, "fit_path") and (not extra or _takes_unlabelled_path(est)):
        return est.fit_path(X, y, settings, is_synthetic=is_synthetic, **extra)
    fitted = []
    for setting in settings:
        one = clone(est).set_params(**setting)
        fitted.append(one.fit(X, y, is_synthetic=is_synthetic, **extra) if _takes_mask(one)
                      else one.fit(X, y, **extra))
    return fitted


# ----------------------------------------------------------------------- candidates
def _decoder_settings(decoder, param_grid, n_iter: int | None, random_state) -> list[dict]:
    """The decoder settings to score: the grid, or ``n_iter`` of them drawn at random."""
    grid = param_grid if param_grid is not None else default_search_space(decoder)
    try:
        settings = list(ParameterGrid(grid))
    except (TypeError, ValueError) as err:
        raise ValueError(f"param_grid must be a dict of lists (or a list of such dicts), "
                         f"as for GridSearchCV: {err}") from err
    valid = decoder.get_params(deep=True)
    for setting in settings:
        unknown = sorted(set(setting) - set(valid))
        if unknown:
            raise ValueError(f"param_grid names {unknown}, which {type(decoder).__name__} "
                             f"does not take; its parameters: {sorted(valid)}")
    if n_iter is not None and n_iter < len(settings):
        rng = check_random_state(random_state)
        keep = np.sort(rng.choice(len(settings), n_iter, replace=False))
        settings = [settings[i] for i in keep]
    return settings


def _augmentations(augmenter, ratios, guidance_scales) -> list[tuple[float, float | None]]:
    """(ratio, guidance scale) pairs to score, ratio 0 first (it wins ties)."""
    if augmenter is None:
        return [(0.0, None)]
    ratios = np.asarray(ratios, dtype=float).ravel()
    if ratios.size == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios < 0):
        raise ValueError(f"ratios must be finite numbers >= 0, got {ratios.tolist()!r}")
    if getattr(augmenter, "prefit", False):
        raise ValueError("the augmenter's generator is prefit, so it is not refit per inner "
                         "fold and its trials may come from the validation trials: use "
                         "prefit=False")
    scales = [None]
    if guidance_scales is not None:
        scales = np.asarray(guidance_scales, dtype=float).ravel()
        if scales.size == 0 or not np.all(np.isfinite(scales)) or np.any(scales < 0):
            raise ValueError(f"guidance_scales must be finite numbers >= 0, got "
                             f"{scales.tolist()!r}")
        scales = sorted({float(g) for g in scales})
    ratios = sorted({float(r) for r in ratios})
    if ratios[0] != 0:
        log.warning("ratios %s leave out 0: the search cannot choose not to augment", ratios)
    return [(r, None if r == 0 else g) for r in ratios for g in (scales if r > 0 else [None])]


# -------------------------------------------------------------------------- the core
def _synthetic_pools(augmenter, X, y, angles, ratio: float, scales: list, seed: int,
                     unlabelled=None):
    """Synthetic (X, y) per guidance scale, ``ceil(ratio)`` rounds of len(X) trials each, from
    one generator fitted on (X, y) (and ``unlabelled`` spikes, if any); rounds are permuted
    inside, so prefixes stay balanced.

    Returns ({scale: (X_syn, y_syn)}, the fitted augmenter of the first scale).
    """
    n = len(X)
    kwargs = {} if angles is None else {"angles": angles}
    rounds = max(1, math.ceil(ratio))
    pools, first = {}, None
    for scale in scales:
        if first is None:
            aug = clone(augmenter).set_params(ratio=rounds, n_synthetic=None, random_state=seed)
            if scale is not None:
                aug.set_params(guidance_scale=scale)
            first = aug
            if unlabelled is not None and _learns_unlabelled(augmenter):
                kwargs["unlabelled"] = unlabelled
        else:
            # The same fitted generator, sampled with the same seed at another scale.
            aug = clone(first).set_params(generator=first.generator_, prefit=True,
                                          guidance_scale=scale)
        X_aug, y_aug = aug.fit_resample(X, y, **kwargs)
        kwargs.pop("unlabelled", None)     # the later scales sample the fitted generator
        X_syn, y_syn = np.asarray(X_aug)[n:], np.asarray(y_aug)[n:]
        rng = np.random.RandomState(seed)
        order = np.concatenate([start + rng.permutation(min(n, len(X_syn) - start))
                                for start in range(0, len(X_syn), n)])
        pools[scale] = (X_syn[order], y_syn[order])
    return pools, first


def _with_synthetic(X, y, pools, ratio: float, scale):
    """(X, y, is_synthetic) of the real trials plus the first ratio * len(X) synthetic ones."""
    n_syn = int(round(ratio * len(X)))
    if n_syn == 0:
        return X, y, np.zeros(len(X), dtype=bool)
    X_syn, y_syn = pools[scale]
    return (np.concatenate([X, X_syn[:n_syn]]), np.concatenate([y, y_syn[:n_syn]]),
            np.arange(len(X) + n_syn) >= len(X))


def _score_fold(k: int, train, val, X, y, angles, augmenter, augmentations, searches, seed,
                say, unlabelled=None) -> dict[str, np.ndarray]:
    """Validation R^2 (augmentations, settings) of every decoder on one inner fold."""
    start = time.perf_counter()
    X_tr, y_tr = X[train], y[train]
    pools = {}
    if augmentations[-1][0] > 0:
        scales = list(dict.fromkeys(g for r, g in augmentations if r > 0))
        pools, _ = _synthetic_pools(augmenter, X_tr, y_tr,
                                    None if angles is None else angles[train],
                                    augmentations[-1][0], scales, seed + k, unlabelled)
    scores = {name: np.empty((len(augmentations), len(settings)))
              for name, (_, settings) in searches.items()}
    for i, (ratio, scale) in enumerate(augmentations):
        X_fit, y_fit, mask = _with_synthetic(X_tr, y_tr, pools, ratio, scale)
        for name, (decoder, settings) in searches.items():
            for j, est in enumerate(_fit_decoders(decoder, settings, seed, X_fit, y_fit, mask,
                                                  unlabelled)):
                scores[name][i, j] = velocity_r2(y[val], est.predict(X[val]))
    say("fold %d: %d augmentation settings x %s scored in %.1f s", k + 1, len(augmentations),
        " + ".join(f"{len(s)} {type(d).__name__} settings" for d, s in searches.values()),
        time.perf_counter() - start)
    return scores


SELECTIONS = ("best", "one_se")


def _best(mean: np.ndarray, rows: np.ndarray) -> tuple[int, int] | None:
    """(augmentation, setting) of the highest mean among augmentation rows ``rows`` (the first
    on ties, so the smallest ratio), or None when ``rows`` is empty."""
    if rows.size == 0:
        return None
    j = int(np.argmax(mean[rows].ravel()))
    return int(rows[j // mean.shape[1]]), j % mean.shape[1]


def _augmentation_gain(scores: np.ndarray, augmentations) -> tuple[float, float]:
    """Validation gain of the best augmented candidate over the best un-augmented one, paired
    over inner folds: (mean, standard error); NaN unless the search had both kinds.

    ``scores``: validation R^2, (folds, augmentations, settings).
    """
    mean = scores.mean(axis=0)
    ratios = np.array([r for r, _ in augmentations])
    plain, augmented = _best(mean, np.flatnonzero(ratios == 0)), _best(
        mean, np.flatnonzero(ratios > 0))
    if plain is None or augmented is None:
        return math.nan, math.nan
    diff = scores[:, augmented[0], augmented[1]] - scores[:, plain[0], plain[1]]
    se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else math.nan
    return float(diff.mean()), float(se)


def clears_one_se(gain: float, se: float) -> bool:
    """Whether an augmented candidate's paired validation gain over the best un-augmented one
    (mean ``gain``, standard error ``se``) is enough for ``selection="one_se"``: above one
    standard error; a NaN standard error (one fold) is not enough."""
    return bool(gain > se)


def _choose(scores: np.ndarray, augmentations, selection: str) -> tuple[int, int]:
    """(augmentation, setting) chosen from validation R^2 ``scores`` (folds, augmentations,
    settings). "best": the highest mean, ties to the smallest ratio. "one_se": the same,
    unless it augments and its paired gain over the best un-augmented candidate is within
    one standard error of 0; then that un-augmented candidate."""
    mean = scores.mean(axis=0)
    best = _best(mean, np.arange(len(augmentations)))
    if selection == "one_se" and augmentations[best[0]][0] > 0:
        if not clears_one_se(*_augmentation_gain(scores, augmentations)):
            return _best(mean, np.flatnonzero([r == 0 for r, _ in augmentations])) or best
    return best


def _tune(searches: dict, augmenter, augmentations, X, y, angles, splits, seed: int,
          n_jobs, say, refit_generator: bool = False, unlabelled=None,
          selection: str = "best") -> tuple[dict[str, dict], object]:
    """Search every decoder of ``searches`` (name -> (decoder, settings)) on the same folds and
    synthetic trials, then refit each one's chosen candidate (``selection``, see
    :func:`_choose`) on all of X.

    Returns (name -> fitted attributes of a :class:`TunedPipeline`, the augmenter fitted on
    all of X or None). ``refit_generator`` fits that augmenter even when every decoder
    chose ratio 0 (for callers that sample more from it).
    """
    folds = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_score_fold)(k, tr, va, X, y, angles, augmenter, augmentations,
                                    searches, seed, say, unlabelled)
        for k, (tr, va) in enumerate(splits))
    chosen = {}
    for name, (_, settings) in searches.items():
        scores = np.stack([fold[name] for fold in folds])   # (folds, augmentations, settings)
        a, s = _choose(scores, augmentations, selection)
        chosen[name] = (a, s, float(scores[:, a, s].mean()), scores)

    start = time.perf_counter()
    best_augmentations = {augmentations[a] for a, *_ in chosen.values() if augmentations[a][0]}
    pools, fitted_aug = {}, None
    if best_augmentations or (refit_generator and augmenter is not None):
        scales = list(dict.fromkeys(g for _, g in best_augmentations)) or [augmentations[-1][1]]
        pools, fitted_aug = _synthetic_pools(augmenter, X, y, angles, augmentations[-1][0],
                                             scales, seed + len(splits), unlabelled)
    pool_s = time.perf_counter() - start
    results = {}
    for name, (decoder, settings) in searches.items():
        a, s, best_score, scores = chosen[name]
        ratio, scale = augmentations[a]
        t = time.perf_counter()
        X_fit, y_fit, mask = _with_synthetic(X, y, pools, ratio, scale)
        best = _fit_decoders(decoder, [settings[s]], seed, X_fit, y_fit, mask, unlabelled)[0]
        params = {"ratio": ratio}
        if len({g for _, g in augmentations if g is not None}) > 0:
            params["guidance_scale"] = scale
        results[name] = {
            "best_params_": {**params, **settings[s]}, "best_score_": best_score,
            "best_index_": a * len(settings) + s,
            "cv_results_": _results(scores, augmentations, settings),
            "augmentation_gain_": _augmentation_gain(scores, augmentations),
            "best_estimator_": best, "augmenter_": fitted_aug if ratio > 0 else None,
            "n_synthetic_": int(mask.sum()),
            "refit_time_": time.perf_counter() - t + (pool_s if ratio > 0 else 0.0),
        }
        say("%s: chose %s (validation R^2 %.3f)", name, results[name]["best_params_"],
            best_score)
    return results, fitted_aug


def _results(scores: np.ndarray, augmentations, settings: list[dict]) -> dict:
    """``cv_results_`` in GridSearchCV's layout from scores (folds, augmentations, settings)."""
    n_folds = scores.shape[0]
    flat = scores.reshape(n_folds, -1)
    mean, std = flat.mean(axis=0), flat.std(axis=0)
    order = np.argsort(-mean, kind="stable")
    rank = np.empty(len(mean), dtype=int)
    rank[order] = np.arange(1, len(mean) + 1)
    guided = any(g is not None for _, g in augmentations)
    params = []
    for ratio, scale in augmentations:
        extra = {"guidance_scale": scale} if guided else {}
        params.extend({"ratio": ratio, **extra, **s} for s in settings)
    results = {"params": params,
               "ratio": np.repeat([r for r, _ in augmentations], len(settings)),
               "mean_test_score": mean, "std_test_score": std, "rank_test_score": rank}
    for k in range(n_folds):
        results[f"split{k}_test_score"] = flat[k]
    return results


def _check_xy(X, y, angles, unlabelled=None):
    X = check_trials(X, "X", "(trials, bins, neurons)")
    y = check_trials(y, "y", "(trials, bins, dims)")
    if y.shape[:2] != X.shape[:2]:
        raise ValueError(f"y must have shape ({X.shape[0]}, {X.shape[1]}, dims) to match X "
                         f"{X.shape}, got {y.shape}")
    if angles is not None:
        angles = np.asarray(angles, dtype=float)
        if angles.shape != (len(X),):
            raise ValueError(f"angles must have shape ({len(X)},), got {angles.shape}")
    if unlabelled is not None:
        unlabelled = check_trials(unlabelled, "unlabelled", "(trials, bins, neurons)")
        if unlabelled.shape[1:] != X.shape[1:]:
            raise ValueError(f"unlabelled must have (bins, neurons) {X.shape[1:]} like X, got "
                             f"{unlabelled.shape[1:]}")
    return X, y, angles, unlabelled


