"""HybridMF against a dense reference, known answers for new items and users, routing, errors."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_recsys import HybridMF, ImplicitALS, make_interactions
from sklearn_recsys.matrix_factorization import _hybrid
from sklearn_recsys.metrics import make_ranking_scorer
from sklearn_recsys.model_selection import holdout_split


@pytest.fixture
def small():
    X = make_interactions(50, 30, density=0.15, random_state=0)
    X.data = np.random.default_rng(0).integers(1, 4, size=X.nnz).astype(float)
    X = X.tolil()
    X[:, 3] = 0  # a new item: no interaction in fit
    return sp.csr_matrix(X)


def _features(n, d, seed):
    return np.random.default_rng(seed).integers(0, 2, size=(n, d)).astype(float)


def _dense_hybrid(R, U, V, F, G, alpha, alpha_f, scale, n_iter):
    """Agarwal & Chen's model by exact alternating solves on dense matrices."""
    P, C = (R > 0).astype(float), 1.0 + scale * R
    k = U.shape[1]
    F1 = np.hstack([F, np.ones((len(F), 1))])
    G1 = np.hstack([G, np.ones((len(G), 1))])
    W, D = np.zeros((F1.shape[1], k)), np.zeros((G1.shape[1], k))
    warm_i, warm_u = R.any(axis=0), R.any(axis=1)
    U, V = U.copy(), V.copy()
    for _ in range(n_iter):
        prior = F1 @ W
        for i in range(V.shape[0]):
            A = (U.T * C[:, i]) @ U + alpha * np.eye(k)
            V[i] = np.linalg.solve(A, (U.T * C[:, i]) @ P[:, i] + alpha * prior[i])
        Fw = F1[warm_i]
        W = np.linalg.solve(Fw.T @ Fw + alpha_f * np.eye(Fw.shape[1]), Fw.T @ V[warm_i])
        V[~warm_i] = F1[~warm_i] @ W
        Vz = np.where(warm_i[:, None], V, 0.0)  # new items are not negatives
        prior = G1 @ D
        for u in range(U.shape[0]):
            A = (Vz.T * C[u]) @ Vz + alpha * np.eye(k)
            U[u] = np.linalg.solve(A, (Vz.T * C[u]) @ P[u] + alpha * prior[u])
        Gw = G1[warm_u]
        D = np.linalg.solve(Gw.T @ Gw + alpha_f * np.eye(Gw.shape[1]), Gw.T @ U[warm_u])
        U[~warm_u] = G1[~warm_u] @ D
    return U, V, W, D


def test_matches_dense_reference(small):
    F, G = _features(30, 4, 1), _features(50, 3, 2)
    model = HybridMF(n_components=5, item_features=F, alpha=0.5, alpha_features=2.0,
                     confidence_scale=2.0, max_iter=4, cg_steps=20, dtype=np.float64,
                     random_state=0)
    init = HybridMF(**{**model.get_params(), "max_iter": 1})
    ctx = init._make_context(small)
    ctx.Xt = small.T.tocsr()
    ctx.fit_data = {"user_features": None, "user_feature_names": None}
    init._init_fit(ctx)
    U0, V0 = init.user_factors_.copy(), init.item_factors_.copy()
    model.fit(small, user_features=G)
    U, V, W, D = _dense_hybrid(small.toarray(), U0, V0, F, G, 0.5, 2.0, 2.0, 4)
    assert_allclose(model.item_factors_, V, atol=1e-7)
    assert_allclose(model.user_factors_, U, atol=1e-7)
    assert_allclose(model.item_feature_weights_, W, atol=1e-7)
    assert_allclose(model.user_feature_weights_, D, atol=1e-7)
    assert_array_equal(model.cold_items_, [3])


def test_without_features_is_implicit_als(small):
    params = dict(n_components=5, alpha=0.5, confidence_scale=2.0, max_iter=5,
                  dtype=np.float64, random_state=0)
    X = sp.csr_matrix(small[:, [j for j in range(30) if j != 3]])
    hybrid = HybridMF(**params).fit(X)
    als = ImplicitALS(**params).fit(X)
    assert_allclose(hybrid.item_factors_, als.item_factors_, atol=1e-10)
    assert_allclose(hybrid.decision_function(X), als.decision_function(X), atol=1e-10)


def _two_tastes(n_users=80, n_items=40, seed=0):
    """Users of taste a like the even items, taste b the odd ones; features say which."""
    rng = np.random.default_rng(seed)
    taste = np.arange(n_users) % 2
    liked = (np.arange(n_items)[None, :] % 2) == taste[:, None]
    X = sp.csr_matrix((liked & (rng.random((n_users, n_items)) < 0.4)).astype(float))
    item_features = np.eye(2)[np.arange(n_items) % 2]
    user_features = np.eye(2)[taste]
    return X, item_features, user_features, taste


def test_new_items_are_ranked_by_their_features():
    X, F, _, taste = _two_tastes()
    new = np.arange(30, 40)
    X_fit = X.tolil()
    X_fit[:, new] = 0
    model = HybridMF(n_components=4, item_features=F, random_state=0).fit(sp.csr_matrix(X_fit))
    assert_array_equal(model.cold_items_, new)
    assert_allclose(model.item_factors_[new], model.item_factors_from_features(F[new]),
                    rtol=1e-5)
    idx, _ = model.recommend(X_fit, k=5, candidates=new)
    # every user's 5 best new items are the 5 of their taste
    assert ((idx % 2) == taste[:, None]).all()
    # a new item has neighbours from its features
    neighbours, _ = model.similar_items([new[0]], k=3)
    assert (neighbours % 2 == new[0] % 2).all()
    # from the fitted map: the features are fit's data, and None slims the fitted model
    model.set_params(item_features=None)
    assert_array_equal(model.similar_items([new[0]], k=3)[0], neighbours)
    assert "item_features" not in model._fitted_params  # nor kept alive by the guard


def test_new_users_are_ranked_by_their_features():
    X, _, G, taste = _two_tastes()
    model = HybridMF(n_components=4, random_state=0).fit(X, user_features=G)
    empty = sp.csr_matrix((2, X.shape[1]))
    idx, _ = model.recommend(empty, k=10, user_features=G[:2])
    assert ((idx % 2) == taste[:2, None]).all()
    # without features, the same empty rows get the training popularity
    popular, _ = model.recommend(empty, k=10)
    assert_array_equal(popular[0], popular[1])
    # their factors are the features' prediction D^T g, as a training user without
    # interactions gets in fit (not that prediction shrunk by every item as a negative)
    prior = _hybrid._with_intercept(sp.csr_matrix(G[:2])) @ model.user_feature_weights_
    assert_allclose(model._fold_in(empty, sp.csr_matrix(G[:2])), prior, rtol=1e-5)
    X_fit = X.tolil()
    X_fit[3] = 0
    fitted = HybridMF(n_components=4, random_state=0).fit(sp.csr_matrix(X_fit),
                                                          user_features=G)
    assert_allclose(fitted._fold_in(sp.csr_matrix(X_fit[3]), sp.csr_matrix(G[3:4])),
                    fitted.user_factors_[3:4], rtol=1e-5)
    # a row whose only item is new is a new user too
    wide = HybridMF(n_components=4, random_state=0).fit(
        sp.csr_matrix(sp.hstack([X_fit[:, :39], sp.csr_matrix((80, 1))])), user_features=G)
    assert_array_equal(wide.cold_items_, [39])
    only_new = sp.csr_matrix(([1.0], ([0], [39])), shape=(1, 40))
    g = sp.csr_matrix(G[:1])
    assert_allclose(wide._fold_in(only_new, g),
                    _hybrid._with_intercept(g) @ wide.user_feature_weights_, rtol=1e-5)


def test_user_features_route_through_grid_search():
    X, F, G, _ = _two_tastes(n_users=90)
    X_in, X_out = holdout_split(X, random_state=0)
    grid = {"alpha": [0.1, 1.0]}
    with sklearn.config_context(enable_metadata_routing=True):
        model = HybridMF(n_components=4, item_features=F, random_state=0)
        model.set_fit_request(user_features=True)
        scorer = make_ranking_scorer("ndcg", k=10).set_score_request(user_features=True)
        search = GridSearchCV(model, grid, scoring=scorer, cv=KFold(3)).fit(
            X_in, X_out, user_features=G)
    # the same folds by hand: features sliced with the rows, for fit and for scoring
    expected = []
    for alpha in grid["alpha"]:
        fold_scores = []
        for train, test in KFold(3).split(X_in):
            m = HybridMF(n_components=4, item_features=F, alpha=alpha, random_state=0)
            m.fit(X_in[train], user_features=G[train])
            fold_scores.append(make_ranking_scorer("ndcg", k=10)(
                m, X_in[test], X_out[test], user_features=G[test]))
        expected.append(np.mean(fold_scores))
    assert_allclose(search.cv_results_["mean_test_score"], expected, rtol=1e-12)
    # and the features change the scores: not a no-op route
    m = HybridMF(n_components=4, item_features=F, random_state=0).fit(X_in, user_features=G)
    assert not np.allclose(m.decision_function(X_in[:5], user_features=G[:5]),
                           m.decision_function(X_in[:5]))


def test_scoring_rows_do_not_depend_on_the_batch():
    X, F, G, _ = _two_tastes()
    model = HybridMF(n_components=4, item_features=F, random_state=0).fit(X, user_features=G)
    batch = model.decision_function(X[:10], user_features=G[:10])
    for u in range(10):
        assert_allclose(model.decision_function(X[u], user_features=G[u:u + 1])[0], batch[u],
                        rtol=1e-5, atol=1e-6)
    assert_allclose(model.transform(X[:10], user_features=G[:10])
                    @ model.item_factors_.T, batch, rtol=1e-5, atol=1e-6)
    again = pickle.loads(pickle.dumps(model))
    assert_array_equal(again.recommend(X[:10], user_features=G[:10])[0],
                       model.recommend(X[:10], user_features=G[:10])[0])


def test_ridge_by_conjugate_gradient_matches_the_exact_one(monkeypatch):
    rng = np.random.default_rng(0)
    F = sp.random(60, 25, density=0.3, random_state=0, format="csr")
    Y = rng.standard_normal((60, 4))
    exact = _hybrid._Ridge(F, 0.5).fit(Y)
    assert_allclose(exact, np.linalg.solve((F.T @ F).toarray() + 0.5 * np.eye(25), F.T @ Y),
                    atol=1e-10)
    dual = _hybrid._Ridge(F.T.tocsr(), 0.5).fit(rng.standard_normal((25, 4)))
    assert dual.shape == (60, 4)
    monkeypatch.setattr(_hybrid, "_EXACT_RIDGE_MAX", 10)
    iterative = _hybrid._Ridge(F, 0.5, cg_steps=60)
    assert iterative.chol is None
    assert_allclose(iterative.fit(Y), exact, atol=1e-8)


@pytest.mark.parametrize("where, features, match", [
    ("fit", np.ones((49, 2)), "user_features has 49 rows but X has 50"),
    ("fit", np.full((50, 2), np.nan), "NaN"),
    ("init", np.ones((29, 2)), "item_features has 29 rows but X has 30"),
])
def test_wrong_features_raise_clear_errors(small, where, features, match):
    if where == "init":
        with pytest.raises(ValueError, match=match):
            HybridMF(n_components=3, item_features=features).fit(small)
    else:
        with pytest.raises(ValueError, match=match):
            HybridMF(n_components=3).fit(small, user_features=features)


def test_scoring_features_must_match_fit(small):
    plain = HybridMF(n_components=3, max_iter=2, random_state=0).fit(small)
    with pytest.raises(ValueError, match="fitted without them"):
        plain.decision_function(small, user_features=np.ones((50, 2)))
    with_features = HybridMF(n_components=3, max_iter=2, random_state=0).fit(
        small, user_features=np.ones((50, 2)))
    with pytest.raises(ValueError, match="has 3 columns but fit had 2"):
        with_features.recommend(small, user_features=np.ones((50, 3)))
    with pytest.raises(ValueError, match="fitted without item_features"):
        plain.item_factors_from_features(np.ones((2, 2)))


def test_benchmark_results_back_the_docs():
    """docs/benchmarks.rst says HybridMF beats LightFM (warm and cold) and ImplicitALS (warm)."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "hybrid.json"
    tables = {t["id"]: t for t in json.loads(path.read_text())["tables"]}
    assert set(tables) == {"warm", "cold"}
    for table in tables.values():
        test = {(row[0], row[1]): row[4] for row in table["rows"]}
        for data in ("MovieLens 100K", "Last.fm 2K"):
            assert test[data, "HybridMF"] > test[data, "LightFM (WARP)"]
            if table["id"] == "warm":
                assert test[data, "HybridMF"] > test[data, "ImplicitALS"]


def test_explain_is_exact():
    X, F, G, _ = _two_tastes()
    X_fit = X.tolil()
    X_fit[:, 38:] = 0  # two new items
    X_fit = sp.csr_matrix(X_fit)
    model = HybridMF(n_components=4, item_features=F, random_state=0, dtype=np.float64)
    model.fit(X_fit, user_features=G)
    for item in (0, 5, 38, 39):
        items, contrib = model.explain(X_fit[3], item)
        assert_array_equal(np.sort(items), X_fit[3].indices)
        assert np.all(np.diff(contrib) <= 0)
        assert_allclose(contrib.sum(), model.decision_function(X_fit[3])[0, item], rtol=1e-8)


def test_citeulike_results_back_the_docs():
    """docs/benchmarks.rst: HybridMF (title TF-IDF) is the best warm model and beats the TF-IDF
    profile and ConvMF on cold articles (the issue's bar for item features)."""
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"

    def ndcg(name):
        table = json.loads((results / f"{name}.json").read_text())["tables"][0]
        col = table["columns"].index("ndcg@100")
        return {row[0]: row[col] for row in table["rows"]}

    warm, cold = ndcg("convmf_citeulike"), ndcg("convmf_cold")
    hybrid = "HybridMF (title TF-IDF features)"
    assert warm[hybrid] == max(warm.values())
    assert cold[hybrid] > cold["TF-IDF profile (linear content)"] > cold["ConvMF (titles)"]
    assert cold["ConvMF (titles)"] > 5 * cold["Random ranking (chance)"]


def test_loss_curve_is_the_objective(small):
    """The last loss is the docstring's objective at the fitted factors and maps."""
    F, G = _features(30, 4, 1), _features(50, 3, 2)
    model = HybridMF(n_components=5, item_features=F, alpha=0.5, alpha_features=2.0,
                     confidence_scale=2.0, max_iter=3, dtype=np.float64, random_state=0)
    model.fit(small, user_features=G)
    R = small.toarray()
    U, V = model.user_factors_, model.item_factors_
    V_users = np.where(R.any(axis=0)[:, None], V, 0.0)  # new items are not negatives
    data = np.sum((1 + 2.0 * R) * ((R > 0) - U @ V_users.T) ** 2)
    F1, G1 = np.hstack([F, np.ones((30, 1))]), np.hstack([G, np.ones((50, 1))])
    W, D = model.item_feature_weights_, model.user_feature_weights_
    prior = (np.sum((V - F1 @ W) ** 2) + np.sum((U - G1 @ D) ** 2)
             + 2.0 * (np.sum(W ** 2) + np.sum(D ** 2)))
    assert model.loss_curve_[-1] == pytest.approx(data + 0.5 * prior, rel=1e-8)


@pytest.mark.parametrize("Model", [HybridMF, ImplicitALS])
def test_an_item_whose_interactions_were_all_held_out_is_no_history(Model):
    """Early stopping holds out an item's only interaction: the item is cold (zero or
    left out of the fold-in) but had training popularity, so its user tied every item
    (catalogue order) instead of getting the popularity fallback."""
    rng = np.random.default_rng(0)
    D = (rng.random((200, 60)) < 0.08).astype(float)
    D[:, 59] = 0
    D[0, 59] = 1
    D[0, :9] = 1
    X = sp.csr_matrix(D)
    model = Model(n_components=4, max_iter=6, early_stopping=True, validation_holdout=0.3,
                  random_state=3).fit(X)
    assert model._item_popularity[59] > 0 and not model._known_items()[59]
    if Model is HybridMF:
        assert 59 in model.cold_items_
    only = sp.csr_matrix(([1.0], ([0], [59])), shape=(1, 60))
    assert_allclose(model.decision_function(only)[0], model._item_popularity)
    # without a validation split every item with interactions trained
    plain = Model(n_components=4, max_iter=2, early_stopping=False, random_state=3).fit(X)
    assert_array_equal(plain._known_items(), plain._item_popularity > 0)

    # the refit in float64 after a float32 failure records them too (its clone had no
    # popularity, so the record was lost and the user tied every item again)
    class FailsInFloat32(Model):
        def _fit(self, X, X_val=None, **fit_data):
            if np.dtype(self.dtype) == np.float32:
                raise FloatingPointError("simulated float32 overflow.")
            return super()._fit(X, X_val, **fit_data)

    with pytest.warns(RuntimeWarning, match="Refitting in float64"):
        refit = FailsInFloat32(n_components=4, max_iter=6, early_stopping=True,
                               validation_holdout=0.3, random_state=3,
                               dtype=np.float32).fit(X)
    assert refit.item_factors_.dtype == np.float64 and not refit._known_items()[59]
    assert_allclose(refit.decision_function(only)[0], refit._item_popularity)


def test_fit_transform_folds_in_with_the_user_features():
    """scikit-learn's fit_transform passed user_features to fit only: the factors were those
    of transform(X) without features, silently."""
    X = make_interactions(150, 40, density=0.1, random_state=0)
    G = np.random.default_rng(0).normal(size=(150, 5))
    model = HybridMF(n_components=4, max_iter=3, early_stopping=False, random_state=0)
    U = model.fit_transform(X, user_features=G)
    assert_allclose(U, model.transform(X, user_features=G))
    assert not np.allclose(U, model.transform(X))


def test_features_that_overflow_the_factors_are_named():
    """Features of 1e40 overflowed float32: the error blamed X, or inf factors came back."""
    X = make_interactions(60, 25, density=0.15, random_state=0)
    G = np.random.default_rng(1).normal(size=(60, 2))
    F = np.random.default_rng(2).integers(0, 2, (25, 3)).astype(float)
    model = HybridMF(4, item_features=F, max_iter=3, random_state=0).fit(X, user_features=G)
    with pytest.raises(ValueError, match="predicted from user_features overflow float32"):
        model.decision_function(X[:3], user_features=np.full((3, 2), 1e40))
    with pytest.raises(ValueError, match="predicted from item_features overflow float32"):
        model.item_factors_from_features(np.full((1, 3), 1e40))


def test_scorers_take_sparse_user_features():
    """The scorers' row check called len() on the features, which a sparse matrix refuses
    ('sparse array length is ambiguous'); inside GridSearchCV every candidate scored NaN."""
    X = make_interactions(n_users=200, n_items=60, density=0.1, random_state=0)
    G = sp.random(200, 5, density=0.4, format="csr", random_state=0)
    model = HybridMF(8, max_iter=3, random_state=0).fit(X, user_features=G)
    X_in, X_out = holdout_split(X, random_state=0)
    scorer = make_ranking_scorer("ndcg", k=10)
    assert scorer(model, X_in, X_out, user_features=G) == pytest.approx(
        scorer(model, X_in, X_out, user_features=G.toarray()), rel=1e-6)
    with pytest.raises(ValueError, match="user_features has 199 rows but X has 200"):
        scorer(model, X_in, X_out, user_features=G[:199])


def test_scorers_take_user_features_as_a_dataframe_or_lists():
    """The scorer sliced the features with value[rows]: a DataFrame's columns (KeyError; in a
    routed GridSearchCV every candidate scored NaN and the first one won), a list failed."""
    pd = pytest.importorskip("pandas")
    X = make_interactions(n_users=120, n_items=40, density=0.15, random_state=0)
    G = np.random.RandomState(0).rand(120, 3)
    # an index that is not 0..n-1: rows are taken by position, as fit reads them
    frame = pd.DataFrame(G, columns=["age", "income", "tenure"], index=np.arange(120)[::-1])
    model = HybridMF(6, max_iter=3, random_state=0).fit(X, user_features=frame)
    X_in, X_out = holdout_split(X, random_state=0)
    scorer = make_ranking_scorer("ndcg", k=10)
    expected = scorer(model, X_in, X_out, user_features=G)
    assert scorer(model, X_in, X_out, user_features=frame) == pytest.approx(expected, rel=1e-12)
    as_lists = scorer(model, X_in, X_out, user_features=G.tolist())
    assert as_lists == pytest.approx(expected, rel=1e-12)
    # and a search routed the frame: finite scores, as with the array
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            HybridMF(6, max_iter=3, random_state=0).set_fit_request(user_features=True),
            {"alpha": [1.0, 100.0]}, cv=KFold(3),
            scoring=scorer.set_score_request(user_features=True))
        scores = search.fit(X_in, X_out, user_features=frame).cv_results_["mean_test_score"]
        assert np.isfinite(scores).all()
        assert_allclose(scores, search.fit(X_in, X_out, user_features=G)
                        .cv_results_["mean_test_score"], rtol=1e-12)


def test_feature_names_are_checked_like_scikit_learns():
    # the same columns in another order would give each feature the others' weights
    pd = pytest.importorskip("pandas")
    X, F, G, _ = _two_tastes()
    G = pd.DataFrame(np.hstack([G, _features(G.shape[0], 1, 3)]), columns=["a", "b", "age"])
    F = pd.DataFrame(F, columns=[f"genre{j}" for j in range(F.shape[1])])
    model = HybridMF(n_components=4, item_features=F, random_state=0).fit(X, user_features=G)
    assert_array_equal(model.user_feature_names_in_, ["a", "b", "age"])
    assert_array_equal(model.item_feature_names_in_, F.columns)
    named = model.decision_function(X[:5], user_features=G[:5])
    # reordered: refused (read by position it would score the first users otherwise)
    swapped = G[["age", "b", "a"]][:5]
    assert not np.allclose(model.decision_function(X[:5], user_features=swapped.to_numpy()),
                           named)
    with pytest.raises(ValueError, match="column 0 is 'age', in fit it was 'a'"):
        model.decision_function(X[:5], user_features=swapped)
    with pytest.raises(ValueError, match="user_features\\[model.user_feature_names_in_\\]"):
        model.recommend(X[:5], user_features=swapped)
    with pytest.raises(ValueError, match="column 0 is 'genre1', in fit it was 'genre0'"):
        model.item_factors_from_features(F[F.columns[::-1]])
    # unnamed: read by position, with a warning
    with pytest.warns(UserWarning, match="user_features has no column names"):
        assert_allclose(model.transform(X[:5], user_features=G[:5].to_numpy()),
                        model.transform(X[:5], user_features=G[:5]))
    with pytest.warns(UserWarning, match="item_features has no column names"):
        model.item_factors_from_features(F.to_numpy())
    # refitted without names: none kept, names given later are read by position
    model.fit(X, user_features=G.to_numpy())
    assert not hasattr(model, "user_feature_names_in_")
    assert hasattr(model, "item_feature_names_in_")
    model.set_params(item_features=F.to_numpy()).fit(X, user_features=G.to_numpy())
    assert not hasattr(model, "item_feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.decision_function(X[:5], user_features=swapped)
    # names of str and int mixed (get_dummies of codes beside named columns) have none
    # to check: fitted as before, not refused with scikit-learn's TypeError for X
    mixed = G.set_axis(["a", 0, 1], axis=1)
    model.fit(X, user_features=mixed)
    assert not hasattr(model, "user_feature_names_in_")


def test_user_features_indexed_by_user_id_are_refused_not_read_by_position():
    # encoder.recommend takes the table indexed by raw user id; the same table given to
    # fit was read by position, in its own order: every user trained on another's
    # features (audit 58b: weights 0.50 apart), silently
    pd = pytest.importorskip("pandas")
    X, F, G, _ = _two_tastes()
    ids = [f"u{i}" for i in range(X.shape[0])]
    table = pd.DataFrame(G, index=ids, columns=["x", "y"])
    model = HybridMF(n_components=4, item_features=F, random_state=0)
    with pytest.raises(ValueError, match="user_features is a pandas DataFrame indexed by"):
        model.fit(X, user_features=table)
    assert not hasattr(model, "user_factors_")
    model.fit(X, user_features=table.reset_index(drop=True))
    with pytest.raises(ValueError, match="reset_index\\(drop=True\\)"):
        model.recommend(X[:3], user_features=table[:3])
    # an integer index is positions, or the rows model selection sliced with the users
    rows = [7, 2, 11]
    sliced = table.reset_index(drop=True).iloc[rows]
    with pytest.warns(UserWarning, match="no column names"):
        by_position = model.decision_function(X[rows], user_features=G[rows])
    assert_allclose(model.decision_function(X[rows], user_features=sliced), by_position)
