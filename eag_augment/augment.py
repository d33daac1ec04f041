"""SyntheticAugmenter: mix generated trials into a velocity decoder's training set.

The augmenter is a resampler in the imbalanced-learn sense: ``fit_resample(X, y)`` fits a
generator on the training trials it is given and returns them, unchanged and first, followed
by synthetic trials. As a step of :class:`imblearn.pipeline.Pipeline` it runs in ``fit``
only, so under ``cross_val_score`` / ``GridSearchCV`` the generator is refit inside every
training fold and never sees a test trial.

Metadata routing: ``angles`` (one reach angle per trial) reaches ``fit_resample`` inside an
imbalanced-learn Pipeline only under scikit-learn metadata routing; without it the Pipeline
passes ``step__param`` arguments to ``fit`` and never to ``fit_resample``. So::

    sklearn.set_config(enable_metadata_routing=True)
    augment = SyntheticAugmenter(...).set_fit_resample_request(angles=True)
    pipe = Pipeline([("augment", augment), ("decode", RidgeDecoder())])
    pipe.fit(X, y, angles=angles)            # cross_val_score(..., params={"angles": angles})

Decoders request the synthetic-trial mask the same way (``set_fit_request(is_synthetic=True)``)
where something passes it explicitly, e.g. :class:`eag_augment.AugmentedDecoder`.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.base import BaseEstimator, clone
from sklearn.utils import check_random_state

# imblearn.base adds "fit_resample" to scikit-learn's routable methods: it must be imported
# before the class below is defined for set_fit_resample_request(angles=...) to exist.
import imblearn.base  # noqa: F401
from imblearn.utils._tags import InputTags, SamplerTags, Tags

from eag_augment._arrays import as_finite_array, validate_spikes
from eag_augment._memory import check_memory
from eag_augment._validation import (HasMethods, InvalidParameterError, StrOptions,
                                     non_negative_int, non_negative_real, positive_real)
from eag_augment.angles import angle_of_reach, check_angles, rotate_xy, wrap_angle
from eag_augment.provenance import mark_synthetic
from eag_augment.trials import TrialSet

__all__ = ["SyntheticAugmenter", "trajectories_at"]

log = logging.getLogger(__name__)

CONDITIONS = (None, "angle", "velocity")
CONDITION_MODES = ("match", "uniform")
TRAJECTORY_SOURCES = ("nearest", "any")




def _cycle(n_items: int, n_out: int, rng: np.random.RandomState) -> np.ndarray:
    """Indices using each of ``n_items`` items ``n_out // n_items`` times, in order, plus a
    random subset of distinct items for the remainder: (n_out,)."""
    whole, rest = divmod(n_out, n_items)
    extra = np.sort(rng.choice(n_items, rest, replace=False))
    return np.concatenate([np.tile(np.arange(n_items), whole), extra]).astype(np.intp)


def trajectories_at(targets, velocity, angles=None, *, source: str = "nearest",
                    random_state=None) -> np.ndarray:
    """Velocity trajectories that reach towards given angles, made from recorded ones.

    For each target angle a recorded trajectory is taken and its x/y channels are rotated
    onto the target (other channels are kept): with ``source="nearest"`` the one whose
    reach angle is nearest (its shape fits best), with ``source="any"`` one drawn at random
    (every recorded speed profile can be used, so targets far from all recorded angles get
    as much variety as the others).

    Parameters
    ----------
    targets : array (n,)
        Reach angles in radians.
    velocity : array (trials, bins, dims >= 2)
        Recorded velocity trajectories, in the data's units.
    angles : array (trials,), optional
        Reach angle of each recorded trajectory; default
        :func:`~eag_augment.trials.angle_of_reach` (direction of net displacement).
    source : {"nearest", "any"}, default="nearest"
    random_state : int, RandomState or None
        Draws the trajectories of ``source="any"``.

    Returns
    -------
    array (n, bins, dims), float64
    """
    if source not in TRAJECTORY_SOURCES:
        raise ValueError(f"source must be one of {TRAJECTORY_SOURCES}, got {source!r}")
    targets = check_angles(as_finite_array(np.atleast_1d(targets), "targets", 1), "targets")
    velocity = as_finite_array(velocity, "velocity", 3, dtype=float)
    angles = angle_of_reach(velocity) if angles is None else as_finite_array(
        angles, "angles", 1, dtype=float)
    if angles.shape != (len(velocity),):
        raise ValueError(f"angles must have shape ({len(velocity)},), got {angles.shape}")
    gap = wrap_angle(targets[:, None] - angles[None, :])
    if source == "nearest":
        chosen = np.argmin(np.abs(gap), axis=1)
    else:
        chosen = check_random_state(random_state).randint(0, len(velocity), len(targets))
    return rotate_xy(velocity[chosen], gap[np.arange(len(targets)), chosen])


def _uniform_angles(n: int) -> np.ndarray:
    """``n`` angles evenly spaced on the circle from 0 (radians, in [-pi, pi))."""
    return wrap_angle(2 * np.pi * np.arange(n) / n)


class SyntheticAugmenter(BaseEstimator):
    """Append behaviour-conditioned synthetic trials to a decoder's training set.

    Parameters
    ----------
    generator : BaseGenerator, optional
        Any generator with ``fit(TrialSet)`` / ``sample(n, angle=, velocity=,
        guidance_scale=, random_state=)``; ``EAGGenerator()`` when None. Cloned and fitted
        in every ``fit_resample`` (unless ``prefit``).
    ratio : float, default=1.0
        Synthetic trials per real trial (>= 0; 0 returns the real data unchanged).
    n_synthetic : int, optional
        Number of synthetic trials; overrides ``ratio``.
    condition : {"velocity", "angle", None}, default="velocity"
        What generation is conditioned on; set as the cloned generator's ``condition``
        parameter. "velocity": per-bin velocity trajectories, which become the synthetic
        trials' ``y``; "angle": reach angles, with ``y`` the velocity the generator produces
        jointly (``TrialSet.behavior``); None: unconditional joint generation.
    conditions : {"match", "uniform"} or array, default="match"
        Which conditions to generate. "match": the training trials' own velocity
        trajectories (or reach angles), each used ``ratio`` times (a fractional remainder
        goes to a random subset). "uniform": reach angles evenly spaced on the circle,
        starting at 0. An array of angles (n,), in radians, or of velocity trajectories
        (n, bins, dims): explicit conditions, cycled in order to the number of synthetic
        trials; this is how conditions absent from training (unseen reach directions) are
        generated. With ``condition="velocity"``, a target angle gets a training trajectory
        rotated (its x/y channels) onto the target angle (:func:`trajectories_at`): the one
        whose reach angle is nearest, or any (``trajectory_source``).
        Angles of training trials come from ``angles`` in :meth:`fit_resample`, else from
        ``y`` (:func:`eag_augment.trials.angle_of_reach`: direction of net displacement).
    trajectory_source : {"nearest", "any"}, default="nearest"
        Which training trajectory is rotated onto a target angle (condition "velocity" with
        angles as conditions): the nearest in reach angle, or any, drawn at random (more
        variety in the speed profiles at directions far from every training trial).
    guidance_scale : float, optional
        Classifier-free guidance strength for sampling; the generator's own when None.
    bin_ms : float, default=5.0
        Bin width (ms) of the TrialSet handed to the generator. X carries no time base, so
        set it to your data's bin width: generators with settings in ms (e.g.
        ``PSTHPoissonGenerator.smooth_ms``) and the synthetic TrialSet's time axis use it.
        The default is NLB's primary bin width (MC_Maze, Area2_Bump, the synthetic reach).
    prefit : bool, default=False
        Use ``generator`` as it is, already fitted, without cloning or refitting it (like
        ``SelectFromModel(prefit=True)``); ``sklearn.clone`` of the augmenter then shares the
        fitted generator. Caveat: under cross-validation a prefit generator is not refit per
        fold, so if it was fitted on trials that later serve as test trials, the scores leak
        test information. Fit it on data disjoint from every evaluation set.
    random_state : int, RandomState or None
        Seeds the generator's fit (when the generator's own ``random_state`` is None), the
        choice of conditions and the sampling: same value, same output.
    verbose : int, default=0
        0 silent; >= 1 logs a line per stage (logger ``eag_augment.augment``, shown on
        stderr unless the application configures logging) and turns on the generator's own
        progress reports.

    Attributes
    ----------
    generator_ : BaseGenerator or None
        The fitted generator (None when no synthetic trial was asked for and the generator
        is not prefit).
    n_real_ : int
        Real trials given to the last ``fit_resample``.
    n_synthetic_ : int
        Synthetic trials appended.
    is_synthetic_ : bool array (n_real_ + n_synthetic_,)
        Which rows of the returned arrays are synthetic (the last ``n_synthetic_``).
    sample_indices_ : int array (n_real_,)
        imbalanced-learn's name for the real rows: the returned rows
        ``X_aug[:n_real_]`` are ``X[sample_indices_]`` (all of X, in order); every other
        returned row is synthetic.
    synthetic_ : TrialSet or None
        The synthetic trials as the generator returned them (spikes, rates, behaviour,
        ``angle`` condition), for inspection and plots.
    n_neurons_in_ : int
        Neurons (axis 2 of X). ``n_features_in_`` is not set: scikit-learn defines it as
        axis 1, which is time here.

    Notes
    -----
    ``fit_resample`` returns ``(X_aug, y_aug)``: the real trials first, bit-identical and in
    order, then the synthetic ones. ``X_aug`` keeps X's dtype. Both arrays are marked with
    :func:`eag_augment.provenance.mark_synthetic`, so decoders that hold out validation
    trials (GRU early stopping) take them from the real trials only, also when transformers
    sit between the augmenter and the decoder (they pass ``y`` on unchanged). To pass the
    mask explicitly instead, use :class:`eag_augment.AugmentedDecoder`, or
    ``decoder.fit(X_aug, y_aug, is_synthetic=augmenter.is_synthetic_)``. In an
    ``imblearn.pipeline.Pipeline`` the augmenter runs during ``fit`` and is skipped by
    ``predict`` and ``score``.
    """

    _estimator_type = "sampler"
    _parameter_constraints: dict = {
        "generator": [HasMethods(["fit", "sample"]), None],
        "ratio": [non_negative_real],
        "n_synthetic": [non_negative_int, None],
        "condition": [StrOptions({"angle", "velocity"}), None],
        "conditions": [StrOptions(set(CONDITION_MODES)), "array-like"],
        "trajectory_source": [StrOptions(set(TRAJECTORY_SOURCES))],
        "guidance_scale": [non_negative_real, None],
        "bin_ms": [positive_real],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        generator=None,
        ratio: float = 1.0,
        n_synthetic: int | None = None,
        condition: str | None = "velocity",
        conditions="match",
        trajectory_source: str = "nearest",
        guidance_scale: float | None = None,
        bin_ms: float = 5.0,
        prefit: bool = False,
        random_state=None,
        verbose: int = 0,
    ) -> None:
        self.generator = generator
        self.ratio = ratio
        self.n_synthetic = n_synthetic
        self.condition = condition
        self.conditions = conditions
        self.trajectory_source = trajectory_source
        self.guidance_scale = guidance_scale
        self.bin_ms = bin_ms
        self.prefit = prefit
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        # imbalanced-learn's Tags (what its BaseSampler returns): its pipeline and estimator
        # checks read sampler_tags and input_tags.dataframe, which scikit-learn's lack.
        base = super().__sklearn_tags__()
        base.target_tags.required = True
        base.target_tags.single_output = False
        base.target_tags.multi_output = True
        return Tags(
            estimator_type="sampler",
            target_tags=base.target_tags,
            non_deterministic=self.random_state is None,
            input_tags=InputTags(two_d_array=False, three_d_array=True),
            sampler_tags=SamplerTags(sample_indices=True),
        )

    def __sklearn_clone__(self):
        if not self.prefit:
            return super().__sklearn_clone__()
        # A prefit generator is shared, not cloned: a clone of it would be unfitted.
        params = {k: clone(v, safe=False) for k, v in self.get_params(deep=False).items()
                  if k != "generator"}
        return type(self)(generator=self.generator, **params)

    # ------------------------------------------------------------------ checks
    def _log(self, message: str) -> None:
        log.log(logging.INFO if self.verbose else logging.DEBUG, message)

    def _validate_params(self) -> None:
        """The declared constraints, then the combinations that cannot work whatever the data
        (so that run specs report them when loaded)."""
        super()._validate_params()
        if self.condition is None and not (isinstance(self.conditions, str)
                                           and self.conditions == "match"):
            given = (f"conditions={self.conditions!r} needs" if isinstance(self.conditions, str)
                     else "explicit conditions need")
            raise InvalidParameterError(f"{given} condition='angle' or 'velocity'; "
                                        "condition=None generates unconditionally")

    def _check_generator(self, n_bins: int, n_neurons: int, n_dims: int):
        """The generator to use, unfitted (a configured clone) or prefit; errors early."""
        gen = self.generator
        if gen is None:
            if self.prefit:
                raise ValueError("prefit=True needs a fitted generator, got generator=None")
            from eag_augment.generators import EAGGenerator

            gen = EAGGenerator()
        if not (callable(getattr(gen, "fit", None)) and callable(getattr(gen, "sample", None))):
            raise TypeError(f"generator must have fit(trials) and sample(n, ...) methods, got "
                            f"{type(gen).__name__}")
        name = type(gen).__name__
        if self.prefit:
            fitted = getattr(gen, "condition_", "unfitted")
            if fitted == "unfitted":
                raise ValueError(f"prefit=True needs a fitted generator; this {name} is not "
                                 "fitted (call its fit(trials) first, or set prefit=False)")
            if fitted != self.condition:
                raise ValueError(f"the prefit {name} was fitted with condition={fitted!r}, "
                                 f"but the augmenter has condition={self.condition!r}")
            shape = (getattr(gen, "n_bins_", n_bins), getattr(gen, "n_neurons_", n_neurons))
            if shape != (n_bins, n_neurons):
                raise ValueError(f"the prefit {name} makes trials of (bins, neurons) {shape}, "
                                 f"X has {(n_bins, n_neurons)}")
            if self.condition == "velocity" and getattr(gen, "n_behavior_", n_dims) != n_dims:
                raise ValueError(f"the prefit {name} is conditioned on {gen.n_behavior_}-dim "
                                 f"velocity, y has {n_dims} dims")
            return gen
        params = gen.get_params(deep=False) if hasattr(gen, "get_params") else {}
        supported = getattr(gen, "supported_conditions", CONDITIONS)
        if "condition" not in params and self.condition is not None:
            raise ValueError(f"generator {name} has no 'condition' parameter, so it cannot be "
                             f"conditioned on {self.condition!r}: use condition=None")
        if self.condition not in supported:
            raise ValueError(f"generator {name} supports conditions {tuple(supported)}, "
                             f"not {self.condition!r}")
        gen = clone(gen)
        if "condition" in params:
            gen.set_params(condition=self.condition)
        if self.verbose and params.get("verbose") == 0:
            gen.set_params(verbose=1)
        return gen

    def _check_data(self, X, y, angles) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        if y is None:
            # sklearn's wording, which its estimator checks look for.
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y "
                             "is None (y: velocity, (trials, bins, dims))")
        for name, value in (("X", X), ("y", y)):
            if scipy.sparse.issparse(value):
                raise TypeError(f"{name}: sparse input is not supported; pass a dense 3-D array")
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError(f"X: Complex data not supported, got dtype {X.dtype}")
        validate_spikes(X, "X")
        y = np.asarray(y)
        as_finite_array(y, "y", 3)
        if y.shape[:2] != X.shape[:2]:
            raise ValueError(f"y must have shape ({X.shape[0]}, {X.shape[1]}, dims) to match X "
                             f"(trials, bins, neurons) {X.shape}, got {y.shape}")
        if angles is not None:
            angles = check_angles(as_finite_array(angles, "angles", 1), "angles")
            if angles.shape != (X.shape[0],):
                raise ValueError(f"angles must have shape ({X.shape[0]},) (one per trial), "
                                 f"got {angles.shape}")
        return X, y, angles

    def _check_conditions(self, n_bins: int, n_dims: int):
        """``conditions`` as a mode string or a validated array (angles or trajectories)."""
        cond = self.conditions
        if isinstance(cond, str):
            if cond == "uniform" and n_dims < 2:
                raise ValueError(f"conditions='uniform' needs x/y velocity, y has {n_dims} dims")
            return cond
        arr = np.asarray(cond)
        if arr.ndim == 1:
            arr = check_angles(as_finite_array(arr, "conditions", 1), "conditions")
            if n_dims < 2:
                raise ValueError(f"conditions as angles need x/y velocity, y has {n_dims} dims")
            return arr
        if arr.ndim == 3:
            if self.condition != "velocity":
                raise ValueError("conditions of shape (n, bins, dims) are velocity trajectories, "
                                 "which need condition='velocity'; pass angles (n,) for "
                                 "condition='angle'")
            arr = as_finite_array(arr, "conditions", 3, dtype=float)
            if arr.shape[1:] != (n_bins, n_dims):
                raise ValueError(f"conditions as velocity trajectories must have shape "
                                 f"(n, {n_bins}, {n_dims}) like y, got {arr.shape}")
            return arr
        raise ValueError(f"conditions must be 'match', 'uniform', angles (n,) or velocity "
                         f"trajectories (n, bins, dims); got an array of shape {arr.shape}")

    # ------------------------------------------------------------- planning
    def _n_synthetic(self, X: np.ndarray, n_dims: int) -> int:
        """Synthetic trials to draw for X, refused when they could not fit in memory."""
        n_real, n_bins, n_neurons = X.shape
        n = float(self.n_synthetic if self.n_synthetic is not None else self.ratio * n_real)
        # Per synthetic bin: its rows of X_aug and y_aug, and the generator's TrialSet
        # (spikes, rates, behaviour) with the sampling temporaries.
        per_bin = n_neurons * (X.itemsize + 16) + n_dims * 8 * 3
        check_memory(n * n_bins * per_bin,
                     f"{type(self).__name__}(ratio={self.ratio!r}, "
                     f"n_synthetic={self.n_synthetic!r}) on {n_real} trials",
                     "lower ratio or n_synthetic")
        return int(round(n))

    def _plan(self, conditions, y: np.ndarray, train_angles: np.ndarray | None, n: int,
              rng: np.random.RandomState) -> dict:
        """Sampling arguments (angle= or velocity=) for ``n`` synthetic trials."""
        if self.condition is None:
            return {}
        if isinstance(conditions, str) and conditions == "match":
            idx = _cycle(len(y), n, rng)
            if self.condition == "velocity":
                return {"velocity": y[idx].astype(np.float64)}
            return {"angle": train_angles[idx]}
        if isinstance(conditions, str):
            targets = _uniform_angles(n)
        elif conditions.ndim == 3:
            return {"velocity": conditions[_cycle(len(conditions), n, rng)]}
        else:
            targets = conditions[_cycle(len(conditions), n, rng)]
        if self.condition == "angle":
            return {"angle": wrap_angle(targets)}
        return {"velocity": trajectories_at(targets, y, train_angles,
                                            source=self.trajectory_source, random_state=rng)}

    # -------------------------------------------------------------- public API
    def fit(self, X, y, **params) -> SyntheticAugmenter:
        """Fit the generator and draw the synthetic trials (see :meth:`fit_resample`).

        ``params`` (``angles``) are :meth:`fit_resample`'s: not named here, so that under
        metadata routing ``set_fit_resample_request(angles=True)`` is the only request an
        imbalanced-learn Pipeline needs (it routes its ``fit`` metadata to both methods).
        """
        self.fit_resample(X, y, **params)
        return self

    def fit_resample(self, X, y, *, angles=None, unlabelled=None, **params
                     ) -> tuple[np.ndarray, np.ndarray]:
        """Fit the generator on (X, y) and return them with synthetic trials appended.

        Parameters
        ----------
        X : array (trials, bins, neurons)
            Spike counts per bin (non-negative integers, any numeric dtype).
        y : array (trials, bins, dims)
            Velocity per bin, in the data's units.
        angles : array (trials,), optional
            Reach angle of each trial (radians), e.g. the target direction; derived from
            ``y`` when None. Used for angle conditioning and for mapping target angles onto
            training trajectories. In a Pipeline it arrives through metadata routing only
            (``set_fit_resample_request(angles=True)``; see the module's docstring).
        unlabelled : array (trials, bins, neurons), optional
            Spike counts of the same neurons without velocity (e.g. the rest of the training
            period, whose behaviour was not labelled); passed to the generator's ``fit``,
            which learns the spikes' structure from them too (generators with
            ``supports_unlabelled``: EAG, latent diffusion). Never pass test-period spikes.
            In a Pipeline: ``set_fit_resample_request(unlabelled=True)``.
        **params
            The signature of imbalanced-learn's samplers; no other metadata is used, and an
            unknown name is a TypeError rather than silently ignored.

        Returns
        -------
        X_aug : array (trials + n_synthetic_, bins, neurons), X's dtype
            Real trials first, unchanged and in order, then synthetic ones; marked with
            :func:`~eag_augment.provenance.mark_synthetic`.
        y_aug : array (trials + n_synthetic_, bins, dims)
            y's dtype when floating, else float64; the synthetic rows hold the velocity each
            synthetic trial was conditioned on (or generated with); marked like X_aug.
        """
        if params:
            raise TypeError(f"{type(self).__name__}.fit_resample got unexpected metadata "
                            f"{sorted(params)}; it accepts X, y, angles and unlabelled")
        self._validate_params()
        X, y, angles = self._check_data(X, y, angles)
        n_real, n_bins, n_neurons = X.shape
        n_dims = y.shape[2]
        conditions = self._check_conditions(n_bins, n_dims)
        generator = self._check_generator(n_bins, n_neurons, n_dims)
        if unlabelled is not None and self.prefit:
            raise ValueError("unlabelled spikes are for fitting the generator, and this one "
                             "is prefit (it is not refitted): fit it with them beforehand")
        n_syn = self._n_synthetic(X, n_dims)
        match = isinstance(conditions, str) and conditions == "match"
        trajectories = not isinstance(conditions, str) and conditions.ndim == 3
        # Angle conditioning, and mapping target angles onto training trajectories, need the
        # training trials' angles.
        needs_angles = self.condition == "angle" or (
            self.condition == "velocity" and not match and not trajectories)
        if needs_angles and angles is None:
            if n_dims < 2:
                raise ValueError(f"reach angles are derived from x/y velocity, but y has "
                                 f"{n_dims} dims; pass angles=")
            angles = angle_of_reach(y)

        self.n_real_ = n_real
        self.n_neurons_in_ = n_neurons
        self.n_synthetic_ = n_syn
        self.is_synthetic_ = np.arange(n_real + n_syn) >= n_real
        self.sample_indices_ = np.arange(n_real)
        self.synthetic_ = None
        y_dtype = y.dtype if y.dtype.kind == "f" else np.dtype(np.float64)
        if n_syn == 0:
            self.generator_ = generator if self.prefit else None
            self._log("no synthetic trials requested: returning the real trials unchanged")
            return (mark_synthetic(X, self.is_synthetic_),
                    mark_synthetic(y.astype(y_dtype, copy=False), self.is_synthetic_))

        rng = check_random_state(self.random_state)
        fit_seed, plan_seed, sample_seed = (int(s) for s in rng.randint(2**31 - 1, size=3))
        if not self.prefit:
            if "random_state" in generator.get_params(deep=False) \
                    and generator.get_params(deep=False)["random_state"] is None:
                generator.set_params(random_state=fit_seed)
            table = None if angles is None else pd.DataFrame({"angle": angles})
            trials = TrialSet(X, y, table, bin_ms=self.bin_ms)
            extra = {} if unlabelled is None else {"unlabelled": unlabelled}
            self._log(f"fitting {type(generator).__name__} on {n_real} trials"
                      + ("" if unlabelled is None else
                         f" and {len(unlabelled)} unlabelled ones"))
            generator.fit(trials, **extra)
        self.generator_ = generator

        kwargs = self._plan(conditions, y, angles, n_syn, np.random.RandomState(plan_seed))
        self._log(f"sampling {n_syn} synthetic trials")
        synthetic = generator.sample(n_syn, guidance_scale=self.guidance_scale,
                                     random_state=sample_seed, **kwargs)
        self.synthetic_ = synthetic
        X_syn = self._as_dtype(synthetic.spikes, X.dtype, (n_syn, n_bins, n_neurons))
        if "velocity" in kwargs:
            y_syn = kwargs["velocity"]
        elif synthetic.behavior is None:
            raise ValueError(f"{type(generator).__name__} returned no behaviour with its "
                             f"synthetic trials, so they have no y; use condition='velocity' or "
                             "a generator that generates behaviour jointly")
        else:
            y_syn = synthetic.behavior
        if y_syn.shape != (n_syn, n_bins, n_dims):
            raise ValueError(f"{type(generator).__name__} returned behaviour of shape "
                             f"{y_syn.shape}, expected {(n_syn, n_bins, n_dims)}")
        X_aug = np.concatenate([X, X_syn])
        y_aug = np.concatenate([y.astype(y_dtype, copy=False), y_syn.astype(y_dtype)])
        return mark_synthetic(X_aug, self.is_synthetic_), mark_synthetic(y_aug, self.is_synthetic_)

    @staticmethod
    def _as_dtype(spikes: np.ndarray, dtype: np.dtype, expected: tuple) -> np.ndarray:
        if spikes.shape != expected:
            raise ValueError(f"the generator returned spikes of shape {spikes.shape}, "
                             f"expected {expected}")
        limit = 1 if dtype.kind == "b" else np.iinfo(dtype).max if dtype.kind in "iu" else None
        if limit is not None and spikes.max() > limit:
            raise ValueError(f"a synthetic bin holds {spikes.max()} spikes, more than X's dtype "
                             f"{dtype} can hold; pass X as a wider integer or float array")
        return spikes.astype(dtype)

