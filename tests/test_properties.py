"""Property-based checks of the recommender contract over random inputs (hypothesis).

For every public recommender and random interaction matrices (sparse
formats, dtypes, empty rows and columns, tiny and huge values): a fit either
succeeds or refuses the data with a clear ``ValueError``; scores are finite
(or a ``FloatingPointError`` names the fix for values beyond the float
type); recommendations never hold a seen item and pad with -1/-inf; rows are
scored independently of the batch; fits are deterministic for a seed; a
pickled model scores the same.
"""

import importlib.util
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
_REFUSALS = ("models explicit ratings", "without any interaction",
             # values of 1e6 in float32 against alpha=1: EASE's Gram matrix is too
             # ill-conditioned for the dtype, which it names with the fix
             "too ill-conditioned for that type")


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
        # (and the same values' incomplete factorization breaking down, which names alpha)
        assert ("every training user's scores are 0" in str(exc)
                or "broke down in rounding: alpha is too small" in str(exc)), \
            f"unexpected error: {exc}"
        return None


@pytest.mark.parametrize("estimator", list(_recommenders()))
def test_recommender_contract_on_random_inputs(estimator):
    name = type(estimator).__name__
    n_examples = 5 if name in _NEURAL else 25

    @settings(max_examples=n_examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(X=interaction_matrices(), k=st.integers(1, 12), data=st.data())
    def check(X, k, data):
        _check_contract(estimator, X, k, data, name)

    check()


def _check_contract(estimator, X, k, data, name, exact_order=True):
    """The contract of the module docstring for one random ``X``: ``exact_order`` also asks
    ``recommend`` with ``candidates`` and ``exclude`` for the order of ``decision_function``
    (a re-ranker re-ranks the allowed items instead)."""
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
    _check_candidates_and_exclude(model, Xc, k, data, name, exact_order)
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


def _check_candidates_and_exclude(model, Xc, k, data, name, exact_order=True):
    """``recommend`` with random ``candidates`` and ``exclude``: only allowed items, as many
    as are left, in the order of the masked ``decision_function`` (ties by index)."""
    n_users, n_items = Xc.shape
    candidates = np.array(data.draw(st.lists(st.integers(0, n_items - 1), min_size=1,
                                             max_size=n_items, unique=True)))
    seed = data.draw(st.integers(0, 2**32 - 1))
    exclude = sp.random(n_users, n_items, density=0.3, format="csr",
                        random_state=np.random.default_rng(seed))
    idx, val = model.recommend(Xc, k=k, exclude=exclude, candidates=candidates)
    scores = np.asarray(model.decision_function(Xc), dtype=np.float64)
    allowed = np.zeros((n_users, n_items), dtype=bool)
    allowed[:, candidates] = True
    allowed &= (Xc.toarray() == 0) & (exclude.toarray() == 0)
    for u in range(n_users):
        valid = idx[u] >= 0
        assert allowed[u, idx[u, valid]].all(), name
        assert valid.sum() == min(k, n_items, allowed[u].sum()), name
        assert np.isneginf(val[u, ~valid]).all() and not valid[valid.sum():].any(), name
        if Xc[u].nnz == 0 or not exact_order:
            continue  # the popularity fallback ranks users without history
        # the best allowed items by the model's own scores (stable: ties by index)
        order = np.flatnonzero(allowed[u])
        order = order[np.argsort(-scores[u, order], kind="stable")][:valid.sum()]
        np.testing.assert_allclose(scores[u, idx[u, valid]], scores[u, order], rtol=1e-6,
                                   atol=1e-9, err_msg=name)


def _meta_recommenders():
    """Factories of the meta-estimators (not in ``all_estimators``: they need an argument),
    called with the number of items (the calibrated re-ranker's categories describe them)."""
    from sklearn_recsys import EASE, ImplicitALS, ItemKNN, MostPopular
    from sklearn_recsys.ensemble import StackingRecommender
    from sklearn_recsys.neighbors import ApproximateRecommender
    from sklearn_recsys.pipeline import make_pipeline
    from sklearn_recsys.preprocessing import BM25Weighting
    from sklearn_recsys.reranking import CalibratedReranker, XQuADReranker

    yield pytest.param(lambda n: XQuADReranker(EASE(alpha=1.0), tradeoff=0.5, n_candidates=5),
                       id="XQuADReranker")
    yield pytest.param(lambda n: CalibratedReranker(EASE(alpha=1.0), np.arange(n) % 3,
                                                    tradeoff=0.5, n_candidates=5),
                       id="CalibratedReranker")
    yield pytest.param(lambda n: StackingRecommender(
        [("ease", EASE(alpha=1.0)), ("pop", MostPopular())], n_candidates=5, random_state=0),
        id="StackingRecommender")
    yield pytest.param(lambda n: ApproximateRecommender(ImplicitALS(**_TEST_PARAMS["ImplicitALS"])),
                       id="ApproximateRecommender",
                       marks=pytest.mark.skipif(importlib.util.find_spec("faiss") is None,
                                                reason="faiss (the ann extra) not installed"))
    yield pytest.param(lambda n: make_pipeline(BM25Weighting(), ItemKNN(n_neighbors=5)),
                       id="Pipeline")


@pytest.mark.filterwarnings("ignore:StackingRecommender could not train")
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("factory", list(_meta_recommenders()))
def test_meta_recommender_contract_on_random_inputs(factory):
    """The same contract for the meta-estimators around the models."""

    @settings(max_examples=15, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(X=interaction_matrices(), k=st.integers(1, 12), data=st.data())
    def check(X, k, data):
        estimator = factory(X.shape[1])
        name = type(estimator).__name__
        _check_contract(estimator, X, k, data, name,
                        exact_order=name in ("Pipeline", "ApproximateRecommender"))

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
