"""Velocity decoders: scikit-learn regressors on trial tensors.

Every decoder takes spike counts ``X`` of shape (trials, bins, neurons) and velocity ``y``
of shape (trials, bins, dims) in the data's units; ``predict`` returns (trials, bins, dims)
and ``score`` the velocity R^2 (bins of all trials concatenated, variance-weighted over
dims). ``lags`` is the number of bins of spike history, the current bin included, that feed
each prediction; history before a trial's first bin is zero-padded, so every bin gets a
prediction and trials never share history.

- :class:`RidgeDecoder`: L2-regularised linear filter (grid-searchable ``alpha``).
- :class:`WienerFilterDecoder`: the unregularised least-squares linear filter.
- :class:`KalmanFilterDecoder`: velocity state, spike observations (Wu et al. 2003).
- :class:`GRUDecoder`: causal recurrent network in torch, with early stopping on real trials.
- :class:`SklearnDecoder`: any scikit-learn regressor (SVR, gradient boosting, ...) on the
  lagged spike counts, as Neural_Decoding offers them.

They follow scikit-learn's conventions (cloneable, picklable, ``random_state``) and work
under ``GridSearchCV`` / ``cross_val_score``, whose folds are whole trials.

scikit-learn's ``check_estimator``: the decoders declare ``two_d_array=False`` (3-D input),
for which scikit-learn skips its checks. Forced to run them (tests/test_decoders.py), the
decoders pass the checks of parameters, cloning, repr, unfitted use, sparse, complex and
1-D input and a missing y; these fail as expected because they feed 2-D X, or expect the
wording of 2-D errors: check_dict_unchanged, check_dont_overwrite_parameters,
check_dtype_object, check_estimators_dtypes, check_estimators_empty_data_messages,
check_estimators_fit_returns_self, check_estimators_nan_inf,
check_estimators_overwrite_params, check_estimators_pickle,
check_f_contiguous_array_estimator, check_fit2d_1feature, check_fit2d_1sample,
check_fit2d_predict1d, check_fit_check_is_fitted, check_fit_idempotent,
check_fit_score_takes_y, check_methods_sample_order_invariance,
check_methods_subset_invariance, check_n_features_in, check_n_features_in_after_fitting,
check_pipeline_consistency, check_positive_only_tag_during_fit,
check_readonly_memmap_input, check_regressor_data_not_an_array,
check_regressor_multioutput, check_regressors_int, check_regressors_no_decision_function,
check_regressors_train. The test suite checks the same properties on 3-D data.
"""

from eag_augment.decoders.adapter import SklearnDecoder
from eag_augment.decoders.kalman import KalmanFilterDecoder
from eag_augment.decoders.ridge import RidgeDecoder
from eag_augment.decoders.wiener import WienerFilterDecoder

__all__ = ["RidgeDecoder", "WienerFilterDecoder", "GRUDecoder", "KalmanFilterDecoder",
           "SklearnDecoder"]


def __getattr__(name: str):
    # The GRU needs torch, a slow import: load it only when asked for.
    if name == "GRUDecoder":
        from eag_augment.decoders.gru import GRUDecoder

        return GRUDecoder
    raise AttributeError(f"module 'eag_augment.decoders' has no attribute {name!r}")
