"""PoissonEncodingGenerator: a velocity-to-spikes Poisson GLM (the classic encoding model)."""

from __future__ import annotations

import numbers

import numpy as np

from eag_augment._validation import non_negative_real, positive_int
from eag_augment.generators.base import BaseGenerator
from eag_augment.trials import TrialSet

__all__ = ["PoissonEncodingGenerator", "fit_poisson_glm", "velocity_features"]

# Log-rates are clipped here before exp() during fitting: far beyond any firing rate, only
# there to keep a diverging Newton step finite.
_MAX_LOG_RATE = 20.0


def velocity_features(velocity: np.ndarray, lags) -> np.ndarray:
    """Velocity and speed of each bin at the given bin offsets.

    Parameters
    ----------
    velocity : array (trials, bins, dims)
    lags : sequence of int
        Offsets in bins; feature block ``k`` holds the velocity at bin ``t + lags[k]``
        (positive: later, as motor cortex leads the movement), edge bins repeated.

    Returns
    -------
    array (trials, bins, len(lags) * (dims + 1)): per lag the dims velocity channels, then
    the speed.
    """
    velocity = np.asarray(velocity, dtype=np.float64)
    n_bins = velocity.shape[1]
    speed = np.linalg.norm(velocity, axis=2, keepdims=True)
    both = np.concatenate([velocity, speed], axis=2)
    blocks = [both[:, np.clip(np.arange(n_bins) + lag, 0, n_bins - 1)] for lag in lags]
    return np.concatenate(blocks, axis=2)


def _objective(X: np.ndarray, Y: np.ndarray, W: np.ndarray, alpha: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """(per-neuron penalised mean Poisson NLL up to constants (neurons,), log-rates)."""
    eta = np.minimum(X @ W, _MAX_LOG_RATE)
    loss = (np.exp(eta) - Y * eta).mean(axis=0) + 0.5 * alpha * (W[1:] ** 2).sum(axis=0)
    return loss, eta


def fit_poisson_glm(F: np.ndarray, Y: np.ndarray, alpha: float, max_iter: int = 50,
                    tol: float = 1e-8) -> np.ndarray:
    """L2-penalised Poisson regression of every column of Y on F, by damped Newton steps.

    Minimises, per neuron, ``mean(exp(eta) - y eta) + alpha / 2 ||w||^2`` with
    ``eta = b + F w`` (the intercept ``b`` is not penalised), as scikit-learn's
    ``PoissonRegressor`` does; all neurons are solved together.

    Parameters
    ----------
    F : array (samples, features)
        Features (standardise them: ``alpha`` acts on their scale).
    Y : array (samples, neurons)
        Spike counts per bin.
    alpha : float
        Ridge strength (>= 0).
    max_iter : int
        Newton steps at most.
    tol : float
        Stop when no neuron's objective improves by more than ``tol`` (relative).

    Returns
    -------
    array (1 + features, neurons): intercepts in row 0, then the weights.
    """
    n, p = F.shape
    X = np.concatenate([np.ones((n, 1)), np.asarray(F, dtype=np.float64)], axis=1)
    Y = np.asarray(Y, dtype=np.float64)
    W = np.zeros((p + 1, Y.shape[1]))
    W[0] = np.log(np.maximum(Y.mean(axis=0), 1e-6))
    penalty = np.full(p + 1, float(alpha))
    penalty[0] = 0.0
    diag = np.arange(p + 1)
    # Outer products of the feature rows, once: the Hessian of every neuron is then one
    # matrix product, (neurons, samples) @ (samples, (p + 1)^2).
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, -1)
    loss, eta = _objective(X, Y, W, alpha)
    for _ in range(max_iter):
        mu = np.exp(eta)
        grad = X.T @ (mu - Y) / n + penalty[:, None] * W
        hess = (mu.T @ outer).reshape(-1, p + 1, p + 1) / n
        # A neuron that never fires has no finite optimum: the tiny extra curvature keeps
        # its system solvable while its intercept walks down.
        hess[:, diag, diag] += penalty + 1e-8
        step = np.linalg.solve(hess, grad.T[..., None])[..., 0].T
        size = np.ones(Y.shape[1])
        new_W, new_loss, new_eta = W, loss, eta
        # Backtracking per neuron: halve its step until its objective does not increase;
        # a neuron that finds no such step keeps its weights.
        pending = np.ones(Y.shape[1], dtype=bool)
        for _ in range(30):
            trial = W - size * step
            trial_loss, trial_eta = _objective(X, Y, trial, alpha)
            accept = pending & (trial_loss <= loss)
            new_W = np.where(accept, trial, new_W)
            new_loss = np.where(accept, trial_loss, new_loss)
            new_eta = np.where(accept, trial_eta, new_eta)
            pending &= ~accept
            if not pending.any():
                break
            size = np.where(pending, size / 2, size)
        improvement = loss - new_loss
        W, loss, eta = new_W, new_loss, new_eta
        if np.all(improvement <= tol * np.maximum(1.0, np.abs(loss))):
            break
    return W


class PoissonEncodingGenerator(BaseGenerator):
    """Velocity-to-spikes Poisson GLM: each neuron's log-rate is linear in lagged kinematics.

    ``log rate_n(t) = b_n + w_n . f(t)`` with ``f(t)`` the velocity and speed at bins
    ``t + lag`` for every ``lag`` in ``lags`` (:func:`velocity_features`), standardised with
    training statistics. The weights are fitted per neuron by L2-penalised Poisson
    regression (:func:`fit_poisson_glm`). Generation evaluates the rates for the requested
    velocity and the base class draws Poisson spikes: trials vary only by Poisson noise
    around a velocity-determined mean, with no shared latent variability.

    Parameters
    ----------
    condition : {"velocity"}
        Generation is conditioned on velocity trajectories (trials, bins, dims).
    lags : sequence of int
        Bin offsets of the kinematic features; positive offsets read later velocity (motor
        cortex leads the hand by about 100 ms: at 20 ms bins, lags up to 5 cover it).
    alpha : float
        Ridge strength on the standardised features (the intercept is not penalised).
    max_iter : int
        Newton iterations at most.
    random_state : accepted for interface symmetry (fitting is deterministic).

    Attributes
    ----------
    coef_ : array (len(lags) * (dims + 1), neurons)
        Weights on the standardised features.
    intercept_ : array (neurons,)
        Log expected count per bin at the mean features.
    feature_mean_, feature_std_ : array (features,)
        Standardisation of the features.
    max_log_rate_ : array (neurons,)
        Cap on generated log-rates: the largest fitted training log-rate plus log 2, so that
        velocities far from the training ones cannot produce runaway rates.
    """

    supported_conditions = ("velocity",)
    _parameter_constraints: dict = {"lags": [list, tuple], "alpha": [non_negative_real],
                                    "max_iter": [positive_int], "random_state": ["random_state"]}

    def __init__(self, condition: str | None = "velocity", lags=(0, 1, 2, 3, 4, 5),
                 alpha: float = 1e-3, max_iter: int = 50,
                 random_state: int | None = None) -> None:
        self.condition = condition
        self.lags = lags
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_lags(self, n_bins: int) -> tuple[int, ...]:
        """``lags`` as ints within the trial (the constraints checked their container)."""
        lags = tuple(self.lags)
        if not lags or any(isinstance(lag, bool) or not isinstance(lag, numbers.Integral)
                           or abs(lag) >= n_bins for lag in lags):
            raise ValueError(f"lags must be a non-empty sequence of integers in "
                             f"(-{n_bins}, {n_bins}) (bins), got {self.lags!r}")
        return tuple(int(lag) for lag in lags)

    def _fit(self, trials: TrialSet, rng: np.random.Generator) -> None:
        lags = self._check_lags(trials.n_bins)
        feats = velocity_features(trials.behavior, lags).reshape(
            -1, len(lags) * (trials.behavior.shape[2] + 1))
        self.feature_mean_ = feats.mean(axis=0)
        self.feature_std_ = np.maximum(feats.std(axis=0), 1e-12)
        F = (feats - self.feature_mean_) / self.feature_std_
        Y = trials.spikes.reshape(-1, trials.n_neurons)
        W = fit_poisson_glm(F, Y, float(self.alpha), int(self.max_iter))
        self.intercept_, self.coef_ = W[0], W[1:]
        self.max_log_rate_ = (W[0] + F @ W[1:]).max(axis=0) + np.log(2.0)

    def _sample_rates(self, n_trials, angle, velocity, guidance_scale, generator):
        feats = velocity_features(velocity, tuple(int(lag) for lag in self.lags))
        F = (feats - self.feature_mean_) / self.feature_std_
        log_rate = np.minimum(self.intercept_ + F @ self.coef_, self.max_log_rate_)
        return np.exp(log_rate).astype(np.float32), None

    def _get_fitted(self):
        return {}, {"coef_": self.coef_, "intercept_": self.intercept_,
                    "feature_mean_": self.feature_mean_, "feature_std_": self.feature_std_,
                    "max_log_rate_": self.max_log_rate_}

    def _set_fitted(self, config, state):
        for key in ("coef_", "intercept_", "feature_mean_", "feature_std_", "max_log_rate_"):
            setattr(self, key, state[key].numpy())
