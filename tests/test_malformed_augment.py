"""Malformed input to SyntheticAugmenter: refused before the generator is fitted."""

import numpy as np
import pytest

from eag_augment import SyntheticAugmenter
from eag_augment.augment import trajectories_at
from eag_augment.generators import PSTHPoissonGenerator


class Spy(PSTHPoissonGenerator):
    """Counts its fits, so a test can tell that nothing was fitted."""

    fits = 0

    def fit(self, trials, **kw):
        type(self).fits += 1
        return super().fit(trials, **kw)


@pytest.fixture
def data(tiny_reach):
    Spy.fits = 0
    return tiny_reach.spikes, tiny_reach.behavior


def refused(data, error, match, X=None, y=None, angles=None, **params):
    X = data[0] if X is None else X
    y = data[1] if y is None else y
    with pytest.raises(error, match=match):
        SyntheticAugmenter(Spy(), **params).fit_resample(X, y, angles=angles)
    assert Spy.fits == 0


@pytest.mark.parametrize("params, error, match", [
    (dict(ratio="2"), TypeError, r"'ratio' parameter of SyntheticAugmenter.*Got '2'"),
    (dict(ratio=True), TypeError, r"'ratio' parameter.*Got True"),
    (dict(ratio=float("inf")), ValueError, r"'ratio' parameter.*Got inf"),
    (dict(n_synthetic=-1), ValueError, r"'n_synthetic' parameter.*Got -1"),
    (dict(guidance_scale="abc"), TypeError, r"'guidance_scale' parameter.*'abc'"),
    (dict(guidance_scale=float("nan")), ValueError, r"'guidance_scale' parameter.*nan"),
    (dict(bin_ms=float("nan")), ValueError, r"'bin_ms' parameter.*nan"),
    (dict(prefit="yes"), TypeError, r"'prefit' parameter.*'yes'"),
    (dict(random_state=-1), ValueError, r"'random_state' parameter.*-1"),
    (dict(random_state="seed"), TypeError, r"'random_state' parameter.*'seed'"),
    (dict(verbose="loud"), TypeError, r"'verbose' parameter.*'loud'"),
    (dict(condition=1), TypeError, r"'condition' parameter.*Got 1"),
    (dict(conditions=5), TypeError, r"'conditions' parameter.*Got 5"),
    (dict(conditions=["a", "b"]), TypeError, "conditions must hold numbers, got dtype <U1"),
    (dict(conditions=[0.0, np.nan]), ValueError, "conditions contains 1 NaN"),
    (dict(conditions=[]), ValueError, r"conditions is empty: shape \(0,\)"),
    (dict(conditions=[True, False]), TypeError, "conditions must hold numbers, got booleans"),
    (dict(condition=None, conditions=[0.1]), ValueError, "explicit conditions need "
                                                         "condition='angle' or 'velocity'"),
    (dict(conditions=[0, 90, 180, 270]), ValueError, "conditions must be reach angles in "
                                                     "radians, got a value of 270: degrees"),
])
def test_bad_parameters(data, params, error, match):
    refused(data, error, match, **params)


def test_a_generator_without_fit_and_sample_is_refused(data):
    with pytest.raises(TypeError, match="'generator' parameter of SyntheticAugmenter must be "
                                        "an object implementing 'fit' and 'sample'"):
        SyntheticAugmenter(generator="EAG").fit_resample(*data)


@pytest.mark.parametrize("params, match", [
    (dict(ratio=1e12), r"SyntheticAugmenter\(ratio=1000000000000.0, n_synthetic=None\) on 48 "
                       r"trials would need about .* of memory, more than the .* available; "
                       "lower ratio or n_synthetic"),
    (dict(n_synthetic=10**12), r"n_synthetic=1000000000000\) on 48 trials would need about"),
    (dict(ratio=1e300), r"ratio=1e\+300.* would need about"),
])
def test_sizes_beyond_memory_are_refused_before_fitting(data, params, match):
    refused(data, ValueError, match, **params)


@pytest.mark.parametrize("change, error, match", [
    (lambda X, y: (X, y > 0), TypeError, "y must hold numbers, got booleans"),
    (lambda X, y: (X, y.astype(str)), TypeError, "y must hold numbers, got dtype <U"),
    (lambda X, y: (X.astype(str), y), TypeError, "X must hold numbers, got dtype <U"),
    (lambda X, y: (X + 1j, y), ValueError, "X: Complex data not supported"),
    (lambda X, y: (X[..., None], y), ValueError, r"X must have 3 dimensions, got shape"),
])
def test_bad_data(data, change, error, match):
    X, y = change(*data)
    refused(data, error, match, X=X, y=y)


@pytest.mark.parametrize("angles, error, match", [
    (np.full(48, 90.0), ValueError, "angles must be reach angles in radians, got a value of "
                                    "90: degrees"),
    (np.zeros(47), ValueError, r"angles must have shape \(48,\) \(one per trial\), got \(47,\)"),
    (np.full(48, np.nan), ValueError, "angles contains 48 NaN"),
    (np.zeros(48, bool), TypeError, "angles must hold numbers, got booleans"),
])
def test_bad_angles(data, angles, error, match):
    refused(data, error, match, angles=angles, condition="angle")


@pytest.mark.parametrize("targets, error, match", [
    ([45.0], ValueError, "targets must be reach angles in radians, got a value of 45"),
    (["a"], TypeError, "targets must hold numbers"),
    ([np.inf], ValueError, "targets contains 1 NaN or infinite"),
])
def test_trajectories_at_refuses(tiny_reach, targets, error, match):
    with pytest.raises(error, match=match):
        trajectories_at(targets, tiny_reach.behavior)
