"""The interface every generator shares: fit(trials) / sample(n, ...) / save / load.

Subclasses implement ``_fit(trials)``, ``_sample_rates(...)`` and, for persistence,
``_get_fitted()`` / ``_set_fitted()``, and declare their hyperparameters in
``_parameter_constraints`` (:mod:`eag_augment._validation`). This base class owns everything
they have in common: input checks, condition handling (angle, velocity or none), Poisson spike
sampling, seeding, fits that succeed whole or change nothing, and checkpoint files.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from eag_augment._arrays import as_finite_array, validate_spikes
from eag_augment._memory import check_memory
from eag_augment._portable import PortableTorchState
from eag_augment._torch import resolve_device, seed_from, torch_generator
from eag_augment._validation import (InvalidParameterError, StrOptions, check_params,
                                     non_negative_int, non_negative_real, positive_int,
                                     positive_real)
from eag_augment.angles import angle_of_reach, check_angles
from eag_augment.checkpoint import load_checkpoint, save_checkpoint
from eag_augment.trials import TrialSet, finite_real

__all__ = ["BaseGenerator", "load_generator", "CONDITIONS"]

CONDITIONS = (None, "angle", "velocity")
_REGISTRY: dict[str, type] = {}
# Peak bytes per sampled (trial, bin, neuron): rates, Poisson draws and spike counts.
_SAMPLE_BYTES_PER_ENTRY = 16


def _is_fitted_attribute(name: str) -> bool:
    """scikit-learn's convention: fitted attributes end in '_', hyperparameters do not."""
    return name.endswith("_") and not name.startswith("__")


def _condition_constraint(supported: tuple) -> list:
    return [StrOptions({c for c in supported if c is not None})] + (
        [None] if None in supported else [])


def _check_float32(values: np.ndarray, name: str) -> None:
    """Refuse values that float32, the precision of the models, would turn into inf."""
    peak = float(np.abs(values).max())
    if peak > float(np.finfo(np.float32).max):
        raise ValueError(f"{name} holds values up to {peak:g}, beyond float32 (the models "
                         "compute in float32); rescale it")


def non_finite_entry(state, where: str = "state") -> str | None:
    """Where the first NaN or infinite value of nested dicts of arrays/tensors is, or None."""
    if isinstance(state, dict):
        for key, value in state.items():
            found = non_finite_entry(value, f"{where}[{key!r}]")
            if found is not None:
                return found
        return None
    if isinstance(state, torch.Tensor):
        finite = not state.is_floating_point() or bool(torch.isfinite(state).all())
    elif isinstance(state, np.ndarray):
        finite = state.dtype.kind != "f" or bool(np.isfinite(state).all())
    else:
        return None
    return None if finite else where


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
    """Inverse of :func:`encode_param`: only registered estimator classes are built."""
    if isinstance(value, dict) and "__estimator__" in value:
        klass = _REGISTRY.get(value["__estimator__"])
        if klass is None:
            raise ValueError(f"checkpoint names an unknown estimator {value['__estimator__']!r}")
        params = value.get("params")
        if not isinstance(params, dict):
            raise ValueError(f"the parameters of the nested {klass.__name__} must be a table, "
                             f"got {params!r}")
        estimator = klass(**{k: decode_param(v) for k, v in params.items()})
        if hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()
        return estimator
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
    #: Whether ``fit`` can learn from spike counts without behaviour (``unlabelled=``).
    supports_unlabelled: ClassVar[bool] = False
    #: Keyword arguments :meth:`sample` takes besides n_trials, angle, velocity,
    #: guidance_scale and random_state (e.g. EAG's ``n_steps``).
    sample_options: ClassVar[tuple[str, ...]] = ()
    #: Hyperparameter constraints (see eag_augment._validation); ``condition`` is checked
    #: against ``supported_conditions`` by the base class.
    _parameter_constraints: ClassVar[dict] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(cls)

    # ---------------------------------------------------------------- fitting
    def _validate_params(self) -> None:
        """The declared constraints, and ``condition`` among ``supported_conditions``."""
        super()._validate_params()
        condition = getattr(self, "condition", None)
        if not isinstance(condition, (str, type(None))) or \
                condition not in self.supported_conditions:
            raise InvalidParameterError(
                f"{type(self).__name__}: condition must be one of {self.supported_conditions}, "
                f"got {condition!r}")

    def fit(self, trials: TrialSet, *, unlabelled=None, **fit_params) -> BaseGenerator:
        """Fit on a TrialSet (spikes (trials, bins, neurons), optional behaviour, conditions).

        ``unlabelled``: spike counts (trials, bins, neurons), or a TrialSet, of the same
        neurons without behaviour, e.g. the rest of a session whose velocity was not
        recorded or not calibrated. Neural data is cheap where labels are not: generators
        with ``supports_unlabelled`` learn the spikes' structure from them too (the
        autoencoder of EAG and latent diffusion); the others refuse them.

        Hyperparameters and the trials are checked first. The fit then runs on a fresh,
        unfitted copy of this generator, and its fitted attributes replace this one's only
        when every stage succeeded with finite values: a fit that fails, diverges or is
        interrupted raises and leaves the generator as it was (unfitted, or with its
        previous fit whole), never half-updated.
        """
        self._validate_params()
        if not isinstance(trials, TrialSet):
            raise TypeError(f"trials must be a TrialSet, got {type(trials).__name__}")
        condition = getattr(self, "condition", None)
        if condition == "velocity" and trials.behavior is None:
            raise ValueError("condition='velocity' needs trials with behavior (velocity)")
        if condition == "angle" and "angle" not in trials.conditions and trials.behavior is None:
            raise ValueError("condition='angle' needs an 'angle' condition column or behavior")
        if trials.behavior is not None:
            _check_float32(trials.behavior, "trials.behavior")
        if unlabelled is not None:
            fit_params["unlabelled"] = self._check_unlabelled(unlabelled, trials)
        # Hyperparameters are shared (fit never changes them); no fitted state is.
        work = type(self).__new__(type(self))
        work.__dict__.update({k: v for k, v in vars(self).items()
                              if not _is_fitted_attribute(k)})
        work._fit_whole(trials, condition, **fit_params)
        fitted = {k: v for k, v in vars(work).items() if _is_fitted_attribute(k)}
        unfitted = {k: v for k, v in vars(self).items() if not _is_fitted_attribute(k)}
        # One assignment: the old fitted state is replaced all at once.
        self.__dict__ = {**unfitted, **fitted}
        return self

    def _check_unlabelled(self, unlabelled, trials: TrialSet) -> np.ndarray:
        """Unlabelled spike counts (trials, bins, neurons) that match ``trials``' neurons."""
        name = type(self).__name__
        if not self.supports_unlabelled:
            raise ValueError(f"{name} cannot learn from unlabelled spikes (generators with an "
                             "autoencoder can: EAGGenerator, LatentDiffusionGenerator); drop "
                             "unlabelled=")
        if isinstance(unlabelled, TrialSet):
            if not np.array_equal(unlabelled.neuron_ids, trials.neuron_ids):
                raise ValueError(f"unlabelled has other neurons (neuron_ids) than trials; "
                                 f"the first ids are {unlabelled.neuron_ids[:3].tolist()} and "
                                 f"{trials.neuron_ids[:3].tolist()}")
            unlabelled = unlabelled.spikes
        spikes = validate_spikes(unlabelled, "unlabelled")
        if spikes.shape[1:] != trials.spikes.shape[1:]:
            raise ValueError(f"unlabelled must have (bins, neurons) "
                             f"{trials.spikes.shape[1:]} like trials, got {spikes.shape[1:]}")
        return spikes

    def _fit_whole(self, trials: TrialSet, condition, **fit_params) -> None:
        """Every stage of the fit on this (fresh) instance, then the finite-state check."""
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
        bad = non_finite_entry(self._get_fitted()[1], "fitted state")
        if bad is not None:
            raise ValueError(
                f"{type(self).__name__}.fit diverged: its {bad} holds NaN or infinite values, "
                "so the fit was discarded (a previously fitted state is kept unchanged). Try "
                "a lower learning rate (lr) or stronger gradient clipping, and check the "
                "trials for extreme values")

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
            angle = check_angles(angle, "angle")
            if angle.ndim == 0:
                angle = np.full(n_trials, float(angle))
            if angle.shape != (n_trials,):
                raise ValueError(f"angle must be a scalar or have shape ({n_trials},), "
                                 f"got {angle.shape}")
            return angle, None
        if self.condition_ == "velocity":
            if angle is not None:
                raise ValueError("this generator is conditioned on velocity trajectories: pass "
                                 "velocity= of shape (n_trials, bins, dims), not angle=")
            if velocity is None:
                idx = rng.integers(0, len(self.train_velocity_), n_trials)
                return None, self.train_velocity_[idx]
            velocity = as_finite_array(velocity, "velocity", 3)
            expected = (n_trials, self.n_bins_, self.n_behavior_)
            if velocity.shape != expected:
                raise ValueError(f"velocity must have shape {expected}, got {velocity.shape}")
            _check_float32(velocity, "velocity")
            return None, velocity.astype(np.float32)
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
        **sample_params
            The generator's own sampling options, named in ``sample_options`` (EAG:
            ``n_steps``, ``batch_size``); any other name raises a TypeError.

        Returns
        -------
        TrialSet with spikes, rates (expected counts per bin), the conditioning or generated
        behaviour, and an ``angle`` condition column where one is known.
        """
        self._check_fitted()
        if unknown := sorted(set(sample_params) - set(self.sample_options)):
            raise TypeError(
                f"{type(self).__name__}.sample() got unexpected argument(s) {unknown}"
                + (" (the seed is random_state=)" if "seed" in unknown else "")
                + "; besides n_trials, angle, velocity, guidance_scale and random_state it "
                f"takes {', '.join(self.sample_options) or 'nothing'}")
        if guidance_scale is None:
            guidance_scale = getattr(self, "guidance_scale", 1.0)
        if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) \
                or n_trials < 1:
            raise ValueError(f"n_trials must be a positive integer, got {n_trials!r}")
        check_params({"guidance_scale": [non_negative_real]}, {"guidance_scale": guidance_scale},
                     f"{type(self).__name__}.sample")
        self.check_sample_size(n_trials)
        seed = seed_from(random_state)
        rng = np.random.default_rng(seed)
        angle, velocity = self._resolve_conditions(int(n_trials), angle, velocity, rng)
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            return self._generate(int(n_trials), angle, velocity, float(guidance_scale), seed,
                                  **sample_params)

    def check_sample_size(self, n_trials: int) -> None:
        """Raise ValueError when ``sample(n_trials)`` could not fit in the memory available.

        :meth:`sample` calls it first; call it yourself before building conditions for
        that many trials.
        """
        self._check_fitted()
        check_memory(float(n_trials) * self.n_bins_ * self.n_neurons_ * _SAMPLE_BYTES_PER_ENTRY,
                     f"{type(self).__name__}.sample(n_trials={n_trials})",
                     "draw the trials in several smaller calls")

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
        """Read a generator written by :meth:`save` (any subclass when called on the base).

        The file is read without running code (``torch.load(weights_only=True)``), and
        everything in it is checked before it is used: only registered generator classes
        are built, their parameters must satisfy the class's constraints, only the known
        fitted attributes are set, and arrays must have consistent shapes and finite
        values. A file that fails raises ValueError naming the file and the entry.
        """
        device = resolve_device(device)
        expected = None if cls is BaseGenerator else cls.__name__
        kind, config, state = load_checkpoint(path, expected)
        klass = _REGISTRY.get(kind)
        if klass is None or not issubclass(klass, BaseGenerator):
            raise ValueError(f"{path} holds a {kind}, which is not a known generator")
        try:
            return klass._restore(config, state, device)
        except KeyError as err:
            raise ValueError(f"{path} does not hold a valid {kind}: it lacks the entry {err} "
                             "(damaged, or written by another version?)") from err
        except (TypeError, ValueError, RuntimeError, AttributeError, IndexError) as err:
            raise ValueError(f"{path} does not hold a valid {kind} (damaged, crafted, or "
                             f"written by another version?): {err}") from err

    @classmethod
    def _restore(cls, config: dict, state: dict, device: torch.device) -> BaseGenerator:
        """The generator a checkpoint's (config, state) describe, checked entry by entry."""
        for where, table, keys in (("config", config, ("params", "common", "fitted")),
                                   ("state", state, ("common", "fitted"))):
            for key in keys:
                if not isinstance(table[key], dict):
                    raise ValueError(f"{where}[{key!r}] must be a table, got "
                                     f"{type(table[key]).__name__}")
        obj = cls(**{k: decode_param(v) for k, v in config["params"].items()})
        obj._validate_params()
        common = dict(config["common"])
        strings = common.pop("neuron_ids_str", None)
        unknown = sorted(set(common) - set(cls._COMMON))
        unknown += sorted(set(state["common"]) - set(cls._COMMON_ARRAYS))
        if unknown:
            raise ValueError(f"unknown fitted entries {unknown}")
        check_params({**_COMMON_CONSTRAINTS,
                      "condition_": _condition_constraint(cls.supported_conditions)},
                     common, "the checkpoint's config['common']")
        for key in cls._COMMON:
            setattr(obj, key, common[key])
        arrays = {k: v.numpy() for k, v in state["common"].items()}
        if strings is not None:
            arrays["neuron_ids_"] = np.array(strings, dtype=str)
        _check_common_arrays(arrays, obj)
        for key in cls._COMMON_ARRAYS:
            setattr(obj, key, arrays.get(key))
        bad = non_finite_entry(state["fitted"], "state['fitted']")
        if bad is not None:
            raise ValueError(f"{bad} holds NaN or infinite values")
        obj.device_ = device
        obj._set_fitted(config["fitted"], state["fitted"])
        return obj


# What the common part of a checkpoint's config may hold (the fitted attributes of fit()).
_COMMON_CONSTRAINTS = {
    "n_neurons_": [positive_int], "n_bins_": [positive_int], "bin_ms_": [positive_real], "t_start_ms_": [finite_real],
    "n_behavior_": [non_negative_int], "behavior_names_": [list, None],
}


def _check_common_arrays(arrays: dict, obj: BaseGenerator) -> None:
    """Shapes, dtypes and finiteness of a checkpoint's common arrays against its config."""
    n = obj.n_neurons_
    expected = {"neuron_ids_": ((n,), "iuU"), "heldout_": ((n,), "b")}
    if obj.condition_ == "angle":
        expected["train_angles_"] = ((None,), "f")
    if obj.condition_ == "velocity":
        expected["train_velocity_"] = ((None, obj.n_bins_, obj.n_behavior_), "f")
    extra = sorted(set(arrays) - set(expected))
    if extra:
        raise ValueError(f"{extra} are stored, but a generator with condition="
                         f"{obj.condition_!r} has none")
    for key, (shape, kinds) in expected.items():
        if key not in arrays:
            raise ValueError(f"{key} is missing")
        value = arrays[key]
        if value.dtype.kind not in kinds or value.ndim != len(shape) or any(
                want is not None and got != want for got, want in zip(value.shape, shape)):
            raise ValueError(f"{key} has dtype {value.dtype} and shape {value.shape}; expected "
                             f"kind {kinds!r} and shape {shape} (None: any)")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ValueError(f"{key} holds NaN or infinite values")


def load_generator(path: str | os.PathLike, device: str = "auto") -> BaseGenerator:
    """Load any generator checkpoint, whatever its class."""
    return BaseGenerator.load(path, device=device)


def poisson(rates: np.ndarray | torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """Poisson spike counts (int32) from rates (expected counts per bin)."""
    r = torch.as_tensor(rates, dtype=torch.float32)
    return torch.poisson(r.to(generator.device), generator=generator).cpu().numpy().astype(np.int32)
