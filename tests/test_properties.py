"""Property-based checks of the recommender contract over random inputs (hypothesis).

For every public recommender and random interaction matrices (sparse
formats, dtypes, empty rows and columns, tiny and huge values): a fit either
succeeds or refuses the data with a clear ``ValueError``; scores are finite
(or a ``FloatingPointError`` names the fix for values beyond the float
type); recommendations never hold a seen item and pad with -1/-inf; rows are
scored independently of the batch; fits are deterministic for a seed; a
pickled model scores the same.
"""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.utils import all_estimators

from tests.test_common import _TEST_PARAMS

_NEURAL = {"AutoRec", "CDAE", "ConvMF", "MultDAE", "MultVAE", "SASRec",
           "GRU4Rec"}
# messages of the ValueErrors by which a fit may refuse degenerate data
_REFUSALS = ("models explicit ratings", "without any interaction")


@st.composite
def interaction_matrices(draw):
    n_users = draw(st.integers(3, 20))
    n_items = draw(st.integers(2, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < draw(st.floats(0.05, 0.7))
    if draw(st.booleans()):
        mask[rng.integers(n_users)] = False  # a user without history
    kind = draw(st.sampled_from(["binary", "counts", "ratings"]))
    scale = draw(st.sampled_from([1e-6, 1.0, 1e6]))
    values = {"binary": np.ones, "counts": lambda s: rng.integers(1, 50, s),
              "ratings": lambda s: rng.integers(1, 6, s)}[kind]((n_users, n_items))
    dense = np.where(mask, values * scale, 0.0)
    dtypes = [np.float64, np.float32] + ([np.int64, np.int32] if scale == 1.0 else [])
    dtype = draw(st.sampled_from(dtypes))
    fmt = draw(st.sampled_from(["csr", "csc", "coo", "dense"]))
    X = dense.astype(dtype)
    return X if fmt == "dense" else sp.csr_matrix(X).asformat(fmt)


def _recommenders():
    for name, cls in all_estimators():
        if issubclass(cls, RecommenderMixin):
            yield pytest.param(cls(**_TEST_PARAMS.get(name, {})), id=name)


def _fit_or_refuse(estimator, X):
    try:
        return clone(estimator).fit(X)
    except ValueError as exc:
        assert any(r in str(exc) for r in _REFUSALS), f"unexpected refusal: {exc}"
        return None
    except FloatingPointError as exc:
        # values of 1e-6 against alpha=1 in float32: SparseEASE's item-item weights
        # vanish in rounding and every score is 0 (catalogue order), which it refuses
        assert "every training user's scores are 0" in str(exc), f"unexpected error: {exc}"
        return None


@pytest.mark.parametrize("estimator", list(_recommenders()))
def test_recommender_contract_on_random_inputs(estimator):
    name = type(estimator).__name__
    n_examples = 5 if name in _NEURAL else 25

    @settings(max_examples=n_examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(X=interaction_matrices(), k=st.integers(1, 12), data=st.data())
    def check(X, k, data):
        model = _fit_or_refuse(estimator, X)
        if model is None:
            return
        Xc = sp.csr_matrix(X)
        scores = model.decision_function(X)  # its own training users: never an overflow
        assert np.isfinite(scores).all(), name
        # seen items never come back; padding is -1 with -inf
        idx, val = model.recommend(X, k=k)
        width = min(k, Xc.shape[1])
        assert idx.shape == val.shape == (Xc.shape[0], width)
        for u in range(Xc.shape[0]):
            valid = idx[u] >= 0
            assert not np.isin(idx[u, valid], Xc[u].indices).any(), name
            assert np.isneginf(val[u, ~valid]).all()
            assert valid.sum() == min(width, Xc.shape[1] - Xc[u].nnz)
        # a user's scores do not depend on the rest of the batch
        rows = np.array(data.draw(st.lists(st.integers(0, Xc.shape[0] - 1), min_size=1,
                                           max_size=6, unique=True)))
        np.testing.assert_allclose(model.decision_function(Xc[rows]), scores[rows],
                                   rtol=1e-5, atol=1e-6 * np.abs(scores).max(), err_msg=name)
        # same seed, same model; pickling keeps it
        again = clone(estimator).fit(X)
        np.testing.assert_array_equal(again.decision_function(X), scores, err_msg=name)
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(restored.decision_function(X), scores, err_msg=name)

    check()


def _transformers():
    for name, cls in all_estimators():
        if cls.__module__.startswith("sklearn_recsys.preprocessing") and name not in (
                "InteractionEncoder", "TextSequencer"):
            yield pytest.param(cls(**_TEST_PARAMS.get(name, {})), id=name)


@pytest.mark.parametrize("transformer", list(_transformers()))
def test_matrix_transformer_contract_on_random_inputs(transformer):
    """Rows transform independently of the batch, deterministically, finitely, after pickling."""

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(X=interaction_matrices(), data=st.data())
    def check(X, data):
        try:
            fitted = clone(transformer).fit(X)
        except ValueError as exc:
            assert any(r in str(exc) for r in _REFUSALS + ("reaches threshold",)), str(exc)
            return
        Xc = sp.csr_matrix(X)
        out = sp.csr_matrix(fitted.transform(X))
        assert out.shape == Xc.shape and np.isfinite(out.data).all()
        assert (out.data >= 0).all()
        # no interaction appears where the row had none
        support = abs(out) > 0
        assert support.multiply(Xc != 0).nnz == support.nnz
        rows = np.array(data.draw(st.lists(st.integers(0, Xc.shape[0] - 1), min_size=1,
                                           max_size=6, unique=True)))
        part = sp.csr_matrix(fitted.transform(Xc[rows]))
        np.testing.assert_allclose(part.toarray(), out[rows].toarray(), rtol=1e-6)
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(sp.csr_matrix(restored.transform(X)).toarray(),
                                      out.toarray())

    check()
