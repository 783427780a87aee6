"""scikit-learn's own estimator checks over every public tabnn estimator.

Check-friendly parameters (small models, few epochs, full-batch training) are set in one table,
as LightGBM's tests do; expected failures, if any, carry a written reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tabnn import TabularEncoder

# Parameters that keep the checks fast and deterministic; each estimator's defaults stay
# tuned for real data.
CHECK_PARAMS = {}

EXPECTED_FAILURES = {}


def _instances():
    estimators = [TabularEncoder()]
    for est in estimators:
        est.set_params(**CHECK_PARAMS.get(type(est).__name__, {}))
    return estimators


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
