"""Malformed input to the generators, and fits that fail part-way: nothing half-fitted stays."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from eag_augment.generators import (EAGGenerator, LatentAutoencoder, OracleGenerator,
                                    PoissonEncodingGenerator, PoissonJitterGenerator,
                                    PSTHPoissonGenerator)

TINY_EAG = dict(width=16, depth=1, heads=2, n_buffer=2, head_width=16, head_blocks=1,
                noise_dim=12, epochs=1, batch_size=16, patch_size=2, device="cpu", random_state=0)


def tiny_eag(**kw) -> EAGGenerator:
    ae = LatentAutoencoder(latent_dim=4, channels=8, n_blocks=1, state_dim=8, epochs=1,
                           device="cpu")
    return EAGGenerator(autoencoder=ae, **{**TINY_EAG, **kw})


def fitted_state(gen) -> dict:
    return {k: v for k, v in vars(gen).items() if k.endswith("_")}


@pytest.fixture(scope="module")
def psth(tiny_reach):
    return PSTHPoissonGenerator(condition="angle").fit(tiny_reach)


@pytest.fixture(scope="module")
def jitter(tiny_reach):
    return PoissonJitterGenerator(condition="velocity").fit(tiny_reach)


# ------------------------------------------------------------------ hyperparameters
@pytest.mark.parametrize("gen, error, match", [
    (PSTHPoissonGenerator(n_angle_bins=0), ValueError, r"'n_angle_bins' parameter of "
                                                       r"PSTHPoissonGenerator.*Got 0"),
    (PSTHPoissonGenerator(n_angle_bins="8"), TypeError, r"'n_angle_bins' parameter.*'8'"),
    (PSTHPoissonGenerator(smooth_ms=float("nan")), ValueError, r"'smooth_ms' parameter.*nan"),
    (PSTHPoissonGenerator(smooth_ms="abc"), TypeError, r"'smooth_ms' parameter.*'abc'"),
    (PSTHPoissonGenerator(random_state=-1), ValueError, r"'random_state' parameter.*-1"),
    (PSTHPoissonGenerator(condition="speed"), ValueError, "PSTHPoissonGenerator: condition "
                                                          "must be one of .* got 'speed'"),
    (PSTHPoissonGenerator(condition=["angle"]), TypeError, r"condition must be one of .*\['angle"),
    (PoissonJitterGenerator(max_shift=-1), ValueError, r"'max_shift' parameter of "
                                                       r"PoissonJitterGenerator.*-1"),
    (PoissonJitterGenerator(max_shift=1.5), TypeError, r"'max_shift' parameter.*1.5"),
    (PoissonJitterGenerator(max_shift=20), ValueError, r"max_shift must be an integer in "
                                                       r"\[0, 19\] \(bins\), got 20"),
    (PoissonJitterGenerator(condition="angle"), ValueError, "condition must be one of "
                                                            r"\('velocity', None\), got 'angle'"),
    (PoissonEncodingGenerator(lags="abc"), TypeError, r"'lags' parameter of "
                                                      r"PoissonEncodingGenerator.*'abc'"),
    (PoissonEncodingGenerator(lags=[0.5]), ValueError, r"lags must be a non-empty sequence of "
                                                       r"integers .* \[0.5\]"),
    (PoissonEncodingGenerator(lags=[0, 25]), ValueError, r"lags .* in \(-20, 20\).*25"),
    (PoissonEncodingGenerator(lags=[]), ValueError, r"lags must be a non-empty sequence"),
    (PoissonEncodingGenerator(alpha=-1.0), ValueError, r"'alpha' parameter.*-1.0"),
    (PoissonEncodingGenerator(alpha=float("inf")), ValueError, r"'alpha' parameter.*inf"),
    (PoissonEncodingGenerator(max_iter=0), ValueError, r"'max_iter' parameter.*Got 0"),
    (OracleGenerator(simulator="reach"), TypeError, r"'simulator' parameter of "
                                                    r"OracleGenerator.*'reach'"),
    (OracleGenerator(), ValueError, "OracleGenerator needs simulator="),
])
def test_bad_hyperparameters_are_refused_before_fitting(tiny_reach, gen, error, match):
    with pytest.raises(error, match=match):
        gen.fit(tiny_reach)
    assert not fitted_state(gen)


@pytest.mark.parametrize("trials, match", [
    (lambda t: t.spikes, "trials must be a TrialSet, got ndarray"),
    (lambda t: t._replace(behavior=None, behavior_names=None,
                          conditions=t.conditions[["condition"]]),
     "condition='velocity' needs trials with behavior"),
    (lambda t: t._replace(behavior=t.behavior * 1e39), r"trials.behavior holds values up to "
                                                       r".*e\+41, beyond float32"),
])
def test_bad_trials_are_refused_before_fitting(tiny_reach, trials, match):
    gen = PoissonEncodingGenerator()
    with pytest.raises((TypeError, ValueError), match=match):
        gen.fit(trials(tiny_reach))
    assert not fitted_state(gen)


# ------------------------------------------------------------------------- sample
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_trials=0), ValueError, "n_trials must be a positive integer, got 0"),
    (dict(n_trials=2.0), ValueError, "n_trials must be a positive integer, got 2.0"),
    (dict(n_trials=True), ValueError, "n_trials must be a positive integer, got True"),
    (dict(n_trials=10**10), ValueError, r"sample\(n_trials=10000000000\) would need about "
                                        ".* of memory, more than the .* available"),
    (dict(n_trials=2, guidance_scale="abc"), TypeError, r"'guidance_scale' parameter of "
                                                        r"PSTHPoissonGenerator.sample.*'abc'"),
    (dict(n_trials=2, guidance_scale=float("nan")), ValueError, r"'guidance_scale'.*nan"),
    (dict(n_trials=2, guidance_scale=-1), ValueError, r"'guidance_scale'.*-1"),
    (dict(n_trials=2, angle="abc"), TypeError, "angle must be reach angles in radians "
                                               r"\(numbers\), got dtype <U3"),
    (dict(n_trials=2, angle=270.0), ValueError, "angle must be reach angles in radians, got a "
                                                "value of 270: degrees"),
    (dict(n_trials=2, angle=[0.1, np.nan]), ValueError, "angle must be finite .* got nan"),
    (dict(n_trials=2, angle=[True, False]), TypeError, "angle .* got booleans"),
    (dict(n_trials=2, angle=[0.1, 0.2, 0.3]), ValueError, r"angle must be a scalar or have "
                                                         r"shape \(2,\), got \(3,\)"),
    (dict(n_trials=2, velocity=np.zeros((2, 20, 2))), ValueError, "conditioned on reach angle"),
    (dict(n_trials=2, random_state=-1), ValueError, "random_state must be non-negative, got -1"),
    (dict(n_trials=2, random_state="seed"), TypeError, "random_state must be None, an int"),
    (dict(n_trials=2, batch=4), TypeError, r"PSTHPoissonGenerator.sample\(\) got unexpected "
                                          r"argument\(s\) \['batch'\];.* it takes nothing"),
    (dict(n_trials=2, seed=0), TypeError, r"\['seed'\] \(the seed is random_state=\)"),
])
def test_sample_refuses(psth, kwargs, error, match):
    with pytest.raises(error, match=match):
        psth.sample(**kwargs)


@pytest.mark.parametrize("velocity, error, match", [
    (np.zeros((2, 20, 2), bool), TypeError, "velocity must hold numbers, got booleans"),
    (np.full((2, 20, 2), "a"), TypeError, "velocity must hold numbers, got dtype <U1"),
    (np.full((2, 20, 2), np.nan), ValueError, "velocity contains 80 NaN or infinite values"),
    (np.full((2, 20, 2), 1e39), ValueError, "velocity holds values up to 1e.39, beyond float32"),
    (np.zeros((2, 10, 2)), ValueError, r"velocity must have shape \(2, 20, 2\), got "
                                       r"\(2, 10, 2\)"),
])
def test_velocity_conditions_are_checked(jitter, velocity, error, match):
    with pytest.raises(error, match=match):
        jitter.sample(2, velocity=velocity)


def test_jitter_finds_the_nearest_trial_for_huge_but_finite_velocities(tiny_reach, jitter):
    from eag_augment.generators.jitter import nearest_trials

    stored = tiny_reach.behavior * 1e160  # squares overflow float64 without rescaling
    np.testing.assert_array_equal(nearest_trials(stored[[3, 7]], stored), [3, 7])


def test_unfitted_generators_refuse_sample_and_save(tmp_path):
    gen = PSTHPoissonGenerator()
    with pytest.raises(NotFittedError, match="PSTHPoissonGenerator is not fitted yet"):
        gen.sample(2)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        gen.save(tmp_path / "g.pt")
    assert not (tmp_path / "g.pt").exists()


# ------------------------------------------------------------ fits that fail whole
def _failing_prior(error):
    def fail(self, *args, **kwargs):
        raise error

    return fail


@pytest.mark.parametrize("error", [RuntimeError("stage 2 broke"), KeyboardInterrupt()])
def test_a_refit_failing_in_its_second_stage_keeps_the_previous_fit(tiny_reach, monkeypatch,
                                                                     error):
    gen = tiny_eag(condition="angle").fit(tiny_reach)
    before = fitted_state(gen)
    drawn = gen.sample(4, random_state=3)
    monkeypatch.setattr(EAGGenerator, "_fit_prior", _failing_prior(error))
    with pytest.raises(type(error)):
        gen.fit(tiny_reach[16:])  # other trials; stage 1 succeeds
    after = fitted_state(gen)
    # The same objects: no new autoencoder beside the old prior.
    assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    np.testing.assert_array_equal(gen.sample(4, random_state=3).spikes, drawn.spikes)


def test_a_first_fit_that_fails_leaves_the_generator_unfitted(tiny_reach, monkeypatch,
                                                               tmp_path):
    monkeypatch.setattr(EAGGenerator, "_fit_prior", _failing_prior(RuntimeError("broke")))
    gen = tiny_eag()
    with pytest.raises(RuntimeError, match="broke"):
        gen.fit(tiny_reach)
    assert not fitted_state(gen)  # not even the autoencoder of stage 1
    with pytest.raises(NotFittedError):
        gen.save(tmp_path / "half.pt")
    assert not (tmp_path / "half.pt").exists()


def test_a_fit_with_non_finite_weights_is_discarded(tiny_reach, monkeypatch):
    gen = PSTHPoissonGenerator(condition="angle").fit(tiny_reach)
    before = fitted_state(gen)
    original = PSTHPoissonGenerator._fit

    def diverging(self, trials, rng):
        original(self, trials, rng)
        self.psths_ = np.full_like(self.psths_, np.nan)

    monkeypatch.setattr(PSTHPoissonGenerator, "_fit", diverging)
    with pytest.raises(ValueError, match=r"PSTHPoissonGenerator.fit diverged: its fitted "
                                         r"state\['psths_'\] holds NaN .* previously fitted "
                                         "state is kept unchanged"):
        gen.fit(tiny_reach)
    assert all(fitted_state(gen)[k] is v for k, v in before.items())


def test_a_diverged_second_stage_names_the_weights(tiny_reach, monkeypatch):
    original = EAGGenerator._fit_prior

    def nan_weights(self, *args, **kwargs):
        original(self, *args, **kwargs)
        with torch.no_grad():
            next(self.module_.parameters()).fill_(float("nan"))

    monkeypatch.setattr(EAGGenerator, "_fit_prior", nan_weights)
    gen = tiny_eag(condition=None)
    with pytest.raises(ValueError, match=r"EAGGenerator.fit diverged: its fitted "
                                         r"state\['prior'\]\[.*\] holds NaN"):
        gen.fit(tiny_reach)
    assert not fitted_state(gen)
