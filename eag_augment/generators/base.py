"""The interface every generator shares: fit(trials) / sample(n, ...) / save / load.

Subclasses implement ``_fit(trials)``, ``_sample_rates(...)`` and, for persistence,
``_get_fitted()`` / ``_set_fitted()``. This base class owns everything they have in common:
input checks, condition handling (angle, velocity or none), Poisson spike sampling, seeding,
and checkpoint files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from eag_augment._portable import PortableTorchState
from eag_augment.checkpoint import load_checkpoint, save_checkpoint
from eag_augment._torch import resolve_device, seed_from, torch_generator
from eag_augment.trials import TrialSet, angle_of_reach

__all__ = ["BaseGenerator", "load_generator", "CONDITIONS"]

CONDITIONS = (None, "angle", "velocity")
_REGISTRY: dict[str, type] = {}


def encode_param(value: Any) -> Any:
    """JSON form of a constructor argument (nested estimators by class name and params)."""
    if isinstance(value, BaseEstimator):
        return {"__estimator__": type(value).__name__,
                "params": {k: encode_param(v) for k, v in value.get_params(deep=False).items()}}
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    raise TypeError(f"cannot store parameter value of type {type(value).__name__} in a checkpoint")


def decode_param(value: Any) -> Any:
    if isinstance(value, dict) and "__estimator__" in value:
        klass = _REGISTRY.get(value["__estimator__"])
        if klass is None:
            raise ValueError(f"checkpoint names an unknown estimator {value['__estimator__']!r}")
        return klass(**{k: decode_param(v) for k, v in value["params"].items()})
    return value


def register(klass: type) -> type:
    """Make a class loadable from checkpoints by its name."""
    _REGISTRY[klass.__name__] = klass
    return klass


class BaseGenerator(PortableTorchState, BaseEstimator):
    """Fit a model of trials, then sample synthetic trials from it.

    Subclasses take ``condition`` (None, "angle" or "velocity") among their hyperparameters:
    what :meth:`sample` may be conditioned on.
    """

    #: Conditions a subclass can be fitted with.
    supported_conditions: ClassVar[tuple] = CONDITIONS

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    # ---------------------------------------------------------------- fitting
    def fit(self, trials: TrialSet, **fit_params) -> BaseGenerator:
        """Fit on a TrialSet (spikes (trials, bins, neurons), optional behaviour, conditions)."""
        if not isinstance(trials, TrialSet):
            raise TypeError(f"trials must be a TrialSet, got {type(trials).__name__}")
        condition = getattr(self, "condition", None)
        if condition not in self.supported_conditions:
            raise ValueError(f"condition must be one of {self.supported_conditions}, got {condition!r}")
        if condition == "velocity" and trials.behavior is None:
            raise ValueError("condition='velocity' needs trials with behavior (velocity)")
        if condition == "angle" and "angle" not in trials.conditions and trials.behavior is None:
            raise ValueError("condition='angle' needs an 'angle' condition column or behavior")
        self.condition_ = condition
        self.n_neurons_ = trials.n_neurons
        self.n_bins_ = trials.n_bins
        self.bin_ms_ = trials.bin_ms
        self.t_start_ms_ = trials.t_start_ms
        self.neuron_ids_ = trials.neuron_ids.copy()
        self.heldout_ = trials.heldout.copy()
        self.n_behavior_ = 0 if trials.behavior is None else trials.behavior.shape[2]
        self.behavior_names_ = trials.behavior_names
        # Kept so that a conditional model can be sampled without conditions: it then draws
        # them from the training set.
        self.train_angles_ = np.array(trials.angles) if condition == "angle" else None
        self.train_velocity_ = (trials.behavior.astype(np.float32)
                                if condition == "velocity" else None)
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        seed = seed_from(getattr(self, "random_state", None))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self._fit(trials, np.random.default_rng(seed), **fit_params)
        return self

    def _fit(self, trials: TrialSet, rng: np.random.Generator, **fit_params) -> None:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_neurons_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(trials) "
                                 "or load a checkpoint before sample()")

    # --------------------------------------------------------------- sampling
    def _resolve_conditions(self, n_trials: int, angle, velocity, rng: np.random.Generator):
        """Validated (angle (n,) or None, velocity (n, bins, dims) or None) for sampling."""
        if angle is not None and velocity is not None:
            raise ValueError("pass angle= or velocity=, not both")
        if self.condition_ is None and (angle is not None or velocity is not None):
            given = "angle" if angle is not None else "velocity"
            raise ValueError(f"this {type(self).__name__} was fitted without conditions "
                             f"(condition=None) and cannot take {given}=")
        if self.condition_ == "angle":
            if velocity is not None:
                raise ValueError("this generator is conditioned on reach angle: pass angle= "
                                 "(eag_augment.trials.angle_of_reach(velocity) gives it)")
            if angle is None:
                return rng.choice(self.train_angles_, n_trials), None
            angle = np.asarray(angle, dtype=float)
            if angle.ndim == 0:
                angle = np.full(n_trials, float(angle))
            if angle.shape != (n_trials,):
                raise ValueError(f"angle must be a scalar or have shape ({n_trials},), "
                                 f"got {angle.shape}")
            if not np.all(np.isfinite(angle)):
                raise ValueError("angle contains NaN or infinite values")
            return angle, None
        if self.condition_ == "velocity":
            if angle is not None:
                raise ValueError("this generator is conditioned on velocity trajectories: pass "
                                 "velocity= of shape (n_trials, bins, dims), not angle=")
            if velocity is None:
                idx = rng.integers(0, len(self.train_velocity_), n_trials)
                return None, self.train_velocity_[idx]
            velocity = np.asarray(velocity, dtype=np.float32)
            expected = (n_trials, self.n_bins_, self.n_behavior_)
            if velocity.shape != expected:
                raise ValueError(f"velocity must have shape {expected}, got {velocity.shape}")
            if not np.all(np.isfinite(velocity)):
                raise ValueError("velocity contains NaN or infinite values")
            return None, velocity
        return None, None

    def sample(
        self,
        n_trials: int,
        *,
        angle=None,
        velocity=None,
        guidance_scale: float | None = None,
        random_state=None,
        **sample_params,
    ) -> TrialSet:
        """Draw ``n_trials`` synthetic trials.

        Parameters
        ----------
        n_trials : int
        angle : float or array (n_trials,), optional
            Reach angle in radians (models fitted with condition="angle"); any angle, also
            ones absent from training. Drawn from the training trials when omitted.
        velocity : array (n_trials, bins, dims), optional
            Velocity trajectories in the data's units (condition="velocity"). Drawn from the
            training trials when omitted.
        guidance_scale : float, optional
            Classifier-free guidance strength (1 = plain conditional; >1 sharpens the
            condition); the constructor's value when omitted. Ignored by models without it.
        random_state : int, numpy Generator or None
            Same value, same trials.

        Returns
        -------
        TrialSet with spikes, rates (expected counts per bin), the conditioning or generated
        behaviour, and an ``angle`` condition column where one is known.
        """
        self._check_fitted()
        if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
            raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed)
        angle, velocity = self._resolve_conditions(int(n_trials), angle, velocity, rng)
        if guidance_scale is None:
            guidance_scale = getattr(self, "guidance_scale", 1.0)
        if not np.isfinite(guidance_scale) or guidance_scale < 0:
            raise ValueError(f"guidance_scale must be a finite number >= 0, got {guidance_scale}")
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            return self._generate(int(n_trials), angle, velocity, float(guidance_scale), seed,
                                  **sample_params)

    def _generate(self, n_trials: int, angle: np.ndarray | None, velocity: np.ndarray | None,
                  guidance_scale: float, seed: int, **sample_params) -> TrialSet:
        """Rates from :meth:`_sample_rates`, then Poisson spikes, packed as a TrialSet."""
        gen = torch_generator(seed, self.device_)
        rates, behavior = self._sample_rates(n_trials, angle, velocity, guidance_scale, gen,
                                             **sample_params)
        spikes = poisson(rates, gen)
        if velocity is not None:
            behavior = velocity
        conditions = {}
        if angle is not None:
            conditions["angle"] = angle
        elif behavior is not None and behavior.shape[2] >= 2:
            conditions["angle"] = angle_of_reach(behavior)
        return TrialSet(
            spikes, behavior, pd.DataFrame(conditions, index=pd.RangeIndex(n_trials)),
            bin_ms=self.bin_ms_, neuron_ids=self.neuron_ids_, rates=rates, heldout=self.heldout_,
            behavior_names=self.behavior_names_ if behavior is not None else None,
            t_start_ms=self.t_start_ms_,
        )

    def _sample_rates(self, n_trials: int, angle: np.ndarray | None, velocity: np.ndarray | None,
                      guidance_scale: float, generator: torch.Generator, **sample_params
                      ) -> tuple[np.ndarray, np.ndarray | None]:
        """Rates (n, bins, neurons) and generated behaviour (n, bins, dims) or None."""
        raise NotImplementedError

    # ------------------------------------------------------------ persistence
    _COMMON = ("condition_", "n_neurons_", "n_bins_", "bin_ms_", "t_start_ms_", "n_behavior_",
               "behavior_names_")
    _COMMON_ARRAYS = ("neuron_ids_", "heldout_", "train_angles_", "train_velocity_")

    def _get_fitted(self) -> tuple[dict, dict]:
        """(JSON-able config, nested dict of tensors/arrays) of the subclass's fitted state."""
        return {}, {}

    def _set_fitted(self, config: dict, state: dict) -> None:
        """Rebuild the subclass's fitted state from :meth:`_get_fitted`'s output."""

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted generator to ``path`` (atomic; JSON config + state dicts)."""
        self._check_fitted()
        config, state = self._get_fitted()
        common = {k: encode_param(getattr(self, k)) for k in self._COMMON}
        arrays = {k: getattr(self, k) for k in self._COMMON_ARRAYS if getattr(self, k) is not None}
        if arrays["neuron_ids_"].dtype.kind not in "biuf":
            common["neuron_ids_str"] = [str(x) for x in arrays.pop("neuron_ids_")]
        params = {k: encode_param(v) for k, v in self.get_params(deep=False).items()}
        return save_checkpoint(path, kind=type(self).__name__,
                               config={"params": params, "common": common, "fitted": config},
                               state={"common": arrays, "fitted": state})

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> BaseGenerator:
        """Read a generator written by :meth:`save` (any subclass when called on the base)."""
        expected = None if cls is BaseGenerator else cls.__name__
        kind, config, state = load_checkpoint(path, expected)
        klass = _REGISTRY.get(kind)
        if klass is None or not issubclass(klass, BaseGenerator):
            raise ValueError(f"{path} holds a {kind}, which is not a known generator")
        try:
            params = {k: decode_param(v) for k, v in config["params"].items()}
            obj = klass(**params)
            for k, v in config["common"].items():
                if k != "neuron_ids_str":
                    setattr(obj, k, v)
            for k in cls._COMMON_ARRAYS:
                value = state["common"].get(k)
                setattr(obj, k, None if value is None else value.numpy())
            if "neuron_ids_str" in config["common"]:
                obj.neuron_ids_ = np.array(config["common"]["neuron_ids_str"])
            obj.device_ = resolve_device(device)
            obj._set_fitted(config["fitted"], state["fitted"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise ValueError(f"{path} does not match {kind}'s expected contents "
                             f"(written by another version?): {err}") from err
        return obj


def load_generator(path: str | os.PathLike, device: str = "auto") -> BaseGenerator:
    """Load any generator checkpoint, whatever its class."""
    return BaseGenerator.load(path, device=device)


def poisson(rates: np.ndarray | torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """Poisson spike counts (int32) from rates (expected counts per bin)."""
    r = torch.as_tensor(rates, dtype=torch.float32)
    return torch.poisson(r.to(generator.device), generator=generator).cpu().numpy().astype(np.int32)
