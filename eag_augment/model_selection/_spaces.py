"""Default hyperparameter search spaces of the decoders, for tuned pipelines."""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_SEARCH_SPACES", "default_search_space"]

#: Search spaces used when ``param_grid`` is None, per decoder of eag_augment.decoders
#: (by class name, so that looking one up does not import torch for the GRU).
DEFAULT_SEARCH_SPACES: dict[str, dict[str, list]] = {
    # Half-decade steps: M1 at 50 ms bins picks 1e3, the simulated reach 1e1..1e2. The
    # history is searched too: at a fixed 5 bins, ridge on the simulated reach scored
    # 0.65-0.71 where searching lags gave 0.83-0.86, a baseline the augmenters must beat.
    "RidgeDecoder": {"alpha": [float(a) for a in np.logspace(-1, 5, 13)],
                     "lags": [1, 2, 3, 5, 10]},
    # Least squares has no penalty to tune; how much history it reads is what overfits.
    "WienerFilterDecoder": {"lags": [1, 2, 3, 5, 10]},
    "KalmanFilterDecoder": {"sqrt_counts": [False, True], "observation_lag": [0, 1, 2, 4],
                            "ridge": [1e-3, 1e-1]},
    "GRUDecoder": {"hidden_size": [32, 64], "dropout": [0.0, 0.3],
                   "weight_decay": [0.0, 1e-2], "patience": [10, 30]},
}


def default_search_space(decoder) -> dict[str, list]:
    """The hyperparameter grid :func:`tuned_pipeline` searches for ``decoder`` by default.

    ======================  ===============================================================
    RidgeDecoder            alpha in 13 half-decade steps from 0.1 to 1e5 x lags (1, 2, 3,
                            5, 10)
    WienerFilterDecoder     lags in (1, 2, 3, 5, 10)
    KalmanFilterDecoder     sqrt_counts (False, True) x observation_lag (0, 1, 2, 4) x
                            ridge (1e-3, 0.1)
    GRUDecoder              hidden_size (32, 64) x dropout (0, 0.3) x weight_decay (0, 0.01)
                            x patience (10, 30)
    ======================  ===============================================================

    ``FactorDecoder``: its decoder's space, as ``decoder__<name>``. Raises ValueError for
    other decoders: give them a ``param_grid``.
    """
    klass = type(decoder)
    if klass.__name__ == "FactorDecoder" and klass.__module__ == "eag_augment.factors":
        inner = default_search_space(decoder.decoder if decoder.decoder is not None
                                     else decoder._decoder())
        return {f"decoder__{k}": v for k, v in inner.items()}
    space = DEFAULT_SEARCH_SPACES.get(klass.__name__)
    if space is not None and klass.__module__.startswith("eag_augment.decoders"):
        return {k: list(v) for k, v in space.items()}
    raise ValueError(f"no default search space for {type(decoder).__name__}: pass param_grid= "
                     "(a dict of lists, as for GridSearchCV; {} searches nothing)")


