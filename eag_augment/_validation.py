"""The one way estimators of this package validate their hyperparameters.

Every estimator declares ``_parameter_constraints``, a dict from constructor argument to the
list of constraints it may satisfy (scikit-learn's declarative model), and calls
``self._validate_params()`` (inherited from ``sklearn.base.BaseEstimator``) at the top of
``fit``, before any data is touched or any model is built. A violation raises
:class:`InvalidParameterError` (a subclass of both ``ValueError`` and ``TypeError``) whose
message names the estimator, the parameter, what it must be and the value received, e.g.
``The 'width' parameter of EAGGenerator must be an int in the range [1, inf). Got 'abc'
instead.``

Constraints (re-exported from scikit-learn, so that only this module depends on where they
live): ``Interval(numbers.Integral | numbers.Real, left, right, closed=...)``,
``StrOptions({...})``, ``Options(type, {...})``, ``HasMethods([...])``, a type (instances
of it), ``None`` and the strings ``"boolean"``, ``"random_state"``, ``"array-like"``,
``"verbose"``.
"""

from __future__ import annotations

import numbers

from sklearn.utils._param_validation import HasMethods, InvalidParameterError, Options, StrOptions
from sklearn.utils._param_validation import Interval as _SklearnInterval
from sklearn.utils._param_validation import validate_parameter_constraints

__all__ = ["HasMethods", "Interval", "InvalidParameterError", "Options", "StrOptions",
           "check_params", "positive_int", "non_negative_int", "positive_real",
           "non_negative_real", "unit_interval", "DEVICE"]



class Interval(_SklearnInterval):
    """scikit-learn's numeric interval, except that True and False are not numbers here."""

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)


# The constraints that recur across the package.
positive_int = Interval(numbers.Integral, 1, None, closed="left")
non_negative_int = Interval(numbers.Integral, 0, None, closed="left")
positive_real = Interval(numbers.Real, 0, None, closed="neither")
non_negative_real = Interval(numbers.Real, 0, None, closed="left")
#: [0, 1): probabilities of dropping, fractions held out.
unit_interval = Interval(numbers.Real, 0, 1, closed="left")
#: "auto", "cpu", "cuda" or "cuda:i" (availability is checked when the device is resolved).
DEVICE = [str]


def check_params(constraints: dict[str, list], params: dict, caller: str) -> None:
    """Validate ``params`` (name -> value) against ``constraints`` outside an estimator.

    For functions and specs that take estimator-like settings; estimators call
    ``self._validate_params()`` instead.
    """
    validate_parameter_constraints(constraints, params, caller_name=caller)
