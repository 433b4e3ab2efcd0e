"""scikit-learn's estimator checks and the package's recommender checks, for every estimator."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.utils import all_estimators
from sklearn_recsys.utils.estimator_checks import recommender_checks

# Small settings for the unit tests only; defaults stay the documented ones.
_TEST_PARAMS = {
    "EASE": {"alpha": 1.0},
    "MultiBehaviorEASE": {"alpha": 1.0},
    "SparseEASE": {"alpha": 1.0, "density": 0.5},
    # sklearn's checks draw values in [0, 3): the default threshold 4 keeps none
    "RatingBinarizer": {"threshold": 0.5},
    "ItemKNN": {"n_neighbors": 5},
    "ImplicitALS": {"n_components": 4, "max_iter": 3, "random_state": 0},
    "HybridMF": {"n_components": 4, "max_iter": 3, "random_state": 0},
    # the sampler (the default) has its own run of the checks in its tests
    "MultiTaskMF": {"n_components": 4, "n_shared_components": 2, "solver": "als", "max_iter": 3,
                    "random_state": 0},
    "BPR": {"n_components": 4, "max_iter": 5, "random_state": 0},
    "ExplicitMF": {"n_components": 4, "max_iter": 3, "burn_in": 1, "random_state": 0},
    "NMF": {"n_components": 4, "max_iter": 5, "fold_in_iter": 5, "random_state": 0},
    "AutoRec": {"n_components": 4, "max_iter": 2, "batch_size": 16, "early_stopping": False,
                "random_state": 0},
    "CDAE": {"n_components": 4, "max_iter": 2, "batch_size": 16, "fold_in_iter": 5,
             "random_state": 0},
    # the default item penalty (100, for a document prior) leaves 40 users' ratings
    # no say: every factor ~0, every new user the same scores
    "ConvMF": {"n_components": 4, "max_iter": 3, "alpha_item": 10.0, "random_state": 0},
    "MultDAE": {"n_components": 4, "max_iter": 2, "batch_size": 16, "early_stopping": False,
                "random_state": 0},
    "MultiTaskDAE": {"hidden_layer_sizes": (8,), "n_components": 4, "n_experts": 2,
                     "max_iter": 2, "batch_size": 16, "early_stopping": False,
                     "random_state": 0},
    # an int total_anneal_steps: partial_fit refuses "auto" (the checks call it)
    "MultVAE": {"hidden_layer_sizes": (8,), "n_components": 4, "max_iter": 2,
                "batch_size": 16, "early_stopping": False, "total_anneal_steps": 10,
                "random_state": 0},
    "SASRec": {"n_components": 4, "max_len": 5, "max_iter": 2, "batch_size": 16,
               "early_stopping": False, "random_state": 0},
    "GRU4Rec": {"n_components": 4, "max_len": 5, "max_iter": 2, "batch_size": 16,
                "early_stopping": False, "random_state": 0},
}

# Checks expected to fail, with the reason, by estimator name.
_EXPECTED_FAILED = {}


def _instances():
    for name, cls in all_estimators():
        yield cls(**_TEST_PARAMS.get(name, {}))


def _expected_failed_checks(estimator):
    return _EXPECTED_FAILED.get(type(estimator).__name__, {})


def test_all_estimators_found():
    names = [name for name, _ in all_estimators()]
    assert {"EASE", "ItemKNN", "MostPopular", "BM25Weighting", "TfidfWeighting"} <= set(names)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if isinstance(e, RecommenderMixin)],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("check", recommender_checks(), ids=lambda c: c.__name__)
def test_recommender_contract(estimator, check):
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if hasattr(e, "get_feature_names_out")],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("check", ["check_get_feature_names_out_error",
                                   "check_transformer_get_feature_names_out",
                                   "check_transformer_get_feature_names_out_pandas"])
def test_feature_names_out(estimator, check):
    """scikit-learn's feature-name checks, which parametrize_with_checks does not yield
    (names before fit, one per column of transform, pandas input)."""
    from sklearn.utils import estimator_checks

    if check.endswith("_pandas"):
        pytest.importorskip("pandas")
    getattr(estimator_checks, check)(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", list(_instances()), ids=lambda e: type(e).__name__)
def test_param_validation(estimator):
    """scikit-learn's check that every constructor parameter has a constraint and that a
    value of the wrong type or range is refused by every fit method with the parameter's
    name (InvalidParameterError), before the data is read; parametrize_with_checks does not
    yield it (scikit-learn runs it in its own common tests)."""
    from sklearn.utils.estimator_checks import check_param_validation

    check_param_validation(type(estimator).__name__, estimator)
