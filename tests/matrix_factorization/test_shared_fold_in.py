"""What every fold-in of a scoring call shares (the item Gram) is computed once per call."""

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose

from sklearn_recsys import NMF, HybridMF, ImplicitALS, MultiTaskMF, make_interactions
from sklearn_recsys.utils._validation import check_interactions

# blocks of 50 users on 200 items: six blocks for 300 users
SMALL_BLOCKS = 50 * 200 * 8 / 2**20


def _ratings():
    X = make_interactions(n_users=300, n_items=200, random_state=0)
    X.data = np.random.default_rng(0).integers(1, 6, X.nnz).astype(float)
    return X


def _count(monkeypatch, owner, name):
    calls = []
    original = getattr(owner, name)
    if isinstance(vars(owner).get(name), staticmethod):
        monkeypatch.setattr(owner, name, staticmethod(
            lambda *a: calls.append(1) or original(*a)))
    else:
        monkeypatch.setattr(owner, name, lambda self, *a: calls.append(1) or original(self, *a))
    return calls


@pytest.mark.parametrize("model, computes", [
    (ImplicitALS(n_components=8, random_state=0), "_gram"),
    (HybridMF(n_components=8, max_iter=3, random_state=0), "_gram"),
    (NMF(n_components=8, feedback="implicit", max_iter=3, random_state=0), "_factor_gram"),
    (MultiTaskMF(n_components=8, solver="als", max_iter=3, random_state=0), "_item_blocks"),
    (MultiTaskMF(n_components=8, max_iter=6, burn_in=2, thin=2, random_state=0),
     "_sample_grams"),
], ids=lambda m: type(m).__name__ if not isinstance(m, str) else "")
def test_one_item_gram_per_call_whatever_the_blocks(model, computes, monkeypatch):
    X = _ratings()
    model.fit(X)
    whole = model.decision_function(X)  # one block
    calls = _count(monkeypatch, type(model), computes)
    with sklearn.config_context(working_memory=SMALL_BLOCKS):
        blocks = model.decision_function(X)
        assert len(calls) == 1
        model.recommend(X, k=5)
        model.transform(X)
        assert len(calls) == 3
    assert_allclose(blocks, whole, rtol=1e-5, atol=1e-6)
    assert "_fold_in_memo" not in vars(model)


def test_new_items_copy_and_gram_once_per_call(monkeypatch):
    X = _ratings()
    X = X.tolil()
    X[:, :7] = 0  # seven items no one used: HybridMF zeroes them for users
    X = sp.csr_matrix(X)
    model = HybridMF(n_components=8, max_iter=3, random_state=0).fit(X)
    assert set(range(7)) <= set(model.cold_items_)
    copies = _count(monkeypatch, HybridMF, "_item_factors_for_users")
    grams = _count(monkeypatch, HybridMF, "_gram")
    with sklearn.config_context(working_memory=SMALL_BLOCKS):
        model.decision_function(X)
    assert len(copies) == len(grams) == 1


def test_the_memo_never_outlives_its_call(monkeypatch):
    import sklearn_recsys.base as base

    X = _ratings()
    model = ImplicitALS(n_components=8, random_state=0).fit(X)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with sklearn.config_context(working_memory=SMALL_BLOCKS):
        with monkeypatch.context() as patch:
            patch.setattr(base, "top_k", interrupted)
            with pytest.raises(KeyboardInterrupt):
                model.recommend(X, k=5)
        assert "_fold_in_memo" not in vars(model)
        # factors changed in place between calls: the next call folds in on them
        model.item_factors_ *= 2.0
        V = model.item_factors_.astype(np.float64)
        Xc = check_interactions(model, X[:3], reset=False)
        G = V.T @ V + model.alpha * np.eye(V.shape[1])
        scores = model.decision_function(X[:3])
    for u in range(3):
        row = Xc[u]
        C = 1.0 + model.confidence_scale * row.data
        Vu = V[row.indices]
        A = G + (Vu.T * (C - 1.0)) @ Vu
        expected = np.linalg.solve(A, Vu.T @ C) @ V.T
        assert_allclose(scores[u], expected, rtol=1e-3, atol=1e-4)


def test_approximate_recommend_shares_the_inner_models_memo(monkeypatch):
    pytest.importorskip("faiss")
    from sklearn_recsys.neighbors import ApproximateRecommender

    X = _ratings()
    model = ApproximateRecommender(ImplicitALS(n_components=8, random_state=0)).fit(X)
    grams = _count(monkeypatch, ImplicitALS, "_gram")
    with sklearn.config_context(working_memory=1e-4):  # a few users a block
        model.recommend(X, k=5)
        assert len(grams) == 1
        model.decision_function(X)
        assert len(grams) == 2
    assert "_fold_in_memo" not in vars(model.estimator_)
