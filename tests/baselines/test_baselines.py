"""Most-popular and item-KNN against hand-computed and dense references."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_recsys import ItemKNN, MostPopular, make_interactions
from sklearn_recsys.utils.estimator_checks import recommender_checks


def test_most_popular_counts_users_or_values():
    X = sp.csr_matrix(np.array([[5, 1, 0], [0, 1, 0], [0, 2, 1]], dtype=float))
    np.testing.assert_allclose(MostPopular().fit(X).item_popularity_, [1 / 3, 1, 1 / 3])
    np.testing.assert_allclose(MostPopular(popularity="sum").fit(X).item_popularity_,
                               [5 / 3, 4 / 3, 1 / 3])
    idx, _ = MostPopular(popularity="sum").fit(X).recommend(sp.csr_matrix((1, 3)), k=3)
    np.testing.assert_array_equal(idx, [[0, 1, 2]])


def _dense_knn_scores(X, n_neighbors, shrinkage, neighborhood="scored", normalize=False):
    Xd = X.toarray()
    norms = np.linalg.norm(Xd, axis=0)
    S = (Xd.T @ Xd) / (np.outer(norms, norms) + shrinkage)
    S[~np.isfinite(S)] = 0
    np.fill_diagonal(S, 0)
    W = np.zeros_like(S)
    for i in range(S.shape[1]):
        col = S[:, i]
        keep = np.argsort(-col, kind="stable")[:n_neighbors]
        keep = keep[col[keep] > 0]
        W[keep, i] = col[keep] / (col[keep].sum() if normalize else 1.0)
    if neighborhood == "history":  # row j: history item j's own neighbours (S symmetric)
        W = W.T
    return Xd @ W, W


@pytest.mark.parametrize("neighborhood, normalize", [
    ("scored", False), ("scored", True), ("history", False), ("history", True)])
@pytest.mark.parametrize("n_neighbors, shrinkage", [(5, 0.0), (20, 10.0), (1000, 0.0)])
def test_item_knn_matches_dense_reference(n_neighbors, shrinkage, neighborhood, normalize):
    X = make_interactions(n_users=150, n_items=60, density=0.1, random_state=0)
    X.data = np.random.RandomState(0).randint(1, 4, X.nnz).astype(float)
    model = ItemKNN(n_neighbors=n_neighbors, shrinkage=shrinkage, neighborhood=neighborhood,
                    normalize=normalize).fit(X)
    scores, W = _dense_knn_scores(X, n_neighbors, shrinkage, neighborhood, normalize)
    # equal similarities at the neighbourhood boundary: the lower item index is kept, as
    # by the reference's stable sort
    np.testing.assert_allclose(model.similarity_.toarray(), W, atol=1e-12)
    # a user none of whose items adds to a score gets the popularity fallback
    usable = (X.toarray() @ W.any(axis=1)) > 0
    assert usable.mean() > 0.8
    scores[~usable] = model._item_popularity
    np.testing.assert_allclose(model.decision_function(X), scores, atol=1e-10)


def test_item_knn_neighborhood_and_normalize_by_hand():
    """Four items; item 0 is held by users 0-2, item 1 by users 0-1, item 2 by user 2,
    item 3 by user 3. Cosines: s01 = 2/sqrt(6), s02 = 1/sqrt(3), s12 = 0, item 3 none."""
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 1]],
                               dtype=float))
    s01, s02 = 2 / np.sqrt(6), 1 / np.sqrt(3)
    user = sp.csr_matrix(np.array([[0, 1, 1, 0]], dtype=float))  # history: items 1 and 2
    # one neighbour each: 0 keeps 1 (s01 > s02), 1 keeps 0, 2 keeps 0
    scored = ItemKNN(n_neighbors=1).fit(X)
    # scored item 0 sums its own neighbour (1) only; items 1, 2 sum their neighbour 0,
    # which is not in the history
    np.testing.assert_allclose(scored.decision_function(user), [[s01, 0, 0, 0]])
    history = ItemKNN(n_neighbors=1, neighborhood="history").fit(X)
    # history items 1 and 2 each give item 0 their similarity
    np.testing.assert_allclose(history.decision_function(user), [[s01 + s02, 0, 0, 0]])
    normalized = ItemKNN(n_neighbors=2, neighborhood="history", normalize=True).fit(X)
    # two neighbours: item 0 keeps 1 and 2 (weights s01 and s02, scaled to sum 1);
    # items 1 and 2 keep only 0 (their other cosines are 0): weight 1 each
    W = normalized.similarity_.toarray()
    np.testing.assert_allclose(W[0], [0, s01 / (s01 + s02), s02 / (s01 + s02), 0])
    np.testing.assert_allclose(W[1:3], [[1, 0, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_allclose(normalized.decision_function(user), [[2, 0, 0, 0]])
    # an item's own neighbours with "history" are its row
    idx, sims = normalized.similar_items([0], k=2)
    assert idx.tolist() == [[1, 2]]
    np.testing.assert_allclose(sims, [W[0, [1, 2]]])


def test_item_knn_ties_at_the_cut_keep_the_lower_items():
    """Which of several equally similar items stay neighbours must not depend on the
    machine (``argpartition``'s order of ties differs with the CPU's SIMD kernels)."""
    # items 1..4 each share one user with item 0 and have one user each: cosine 1/sqrt(4)
    X = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [1, 0, 0, 1, 0],
                                [1, 0, 0, 0, 1]], dtype=float))
    S = ItemKNN(n_neighbors=2).fit(X).similarity_.toarray()
    assert np.flatnonzero(S[:, 0]).tolist() == [1, 2]
    np.testing.assert_allclose(S[[1, 2], 0], 0.5)
    # item 1's neighbours: 0 (cosine 0.5), then none (0 similarity is never kept)
    assert np.flatnonzero(S[:, 1]).tolist() == [0]


def test_item_knn_blocks_give_same_result(monkeypatch):
    from sklearn_recsys.baselines import _knn

    X = make_interactions(n_users=100, n_items=40, density=0.1, random_state=3)
    ref = ItemKNN(n_neighbors=7).fit(X).similarity_
    monkeypatch.setattr(_knn, "_BLOCK_ENTRIES", 40 * 3)  # 3 columns per block
    assert (ItemKNN(n_neighbors=7).fit(X).similarity_ != ref).nnz == 0
    monkeypatch.undo()
    # the neighbourhoods' sums are taken per block row: blocks must not split them
    kwargs = dict(n_neighbors=7, neighborhood="history", normalize=True)
    ref = ItemKNN(**kwargs).fit(X).similarity_
    monkeypatch.setattr(_knn, "_BLOCK_ENTRIES", 40 * 3)
    np.testing.assert_array_equal(ItemKNN(**kwargs).fit(X).similarity_.toarray(), ref.toarray())


def test_item_knn_explain():
    X = make_interactions(n_users=100, n_items=30, density=0.15, random_state=4)
    model = ItemKNN(n_neighbors=10).fit(X)
    items, contrib = model.explain(X[5], 3)
    assert contrib.sum() == pytest.approx(model.decision_function(X[5])[0, 3])
    idx, sims = model.similar_items([3], k=2)
    assert 3 not in idx[0] and sims[0, 0] >= sims[0, 1]


def test_most_popular_sums_float32_values_in_float64():
    """SciPy sums a float32 matrix in float32: past 2**24 plays, the 2,000 plays of
    item 0 were lost and item 1 (1,000 fewer) came first."""
    n = 2001
    X = sp.csr_matrix((np.r_[2.0**24, np.ones(n - 1), 2.0**24 + 1000],
                       (np.r_[0, np.arange(1, n), 0], np.r_[0, np.zeros(n - 1, int), 1])),
                      shape=(n, 2), dtype=np.float32)
    model = MostPopular(popularity="sum").fit(X)
    np.testing.assert_allclose(model.item_popularity_ * n, [2.0**24 + 2000, 2.0**24 + 1000])
    assert model.recommend(sp.csr_matrix((1, 2)), k=2)[0].tolist() == [[0, 1]]


def _chain():
    """Five users over six items; with one neighbour each, items 0 and 4 are nobody's."""
    return sp.csr_matrix(np.array([[1, 1, 0, 0, 0, 1], [1, 0, 1, 0, 0, 0], [1, 0, 0, 1, 0, 0],
                                   [1, 0, 0, 0, 1, 0], [0, 0, 1, 1, 1, 0]], dtype=float))


def test_item_knn_similar_items_are_the_items_own_neighbours():
    """similar_items read the item's row: the items that keep it as a neighbour, which
    with few neighbours may be none (only padding) though it has neighbours."""
    model = ItemKNN(n_neighbors=1).fit(_chain())
    S = model.similarity_.toarray()
    for item in range(6):
        idx, sims = model.similar_items([item], k=1)
        assert idx[0, 0] == np.argmax(S[:, item])  # the one neighbour it keeps
        assert sims[0, 0] == S[:, item].max() > 0
    assert not S[0].any() and S[:, 0].any()  # nobody's neighbour, yet has one of its own


def test_item_knn_user_with_only_unused_items_gets_the_popularity_fallback():
    """An item kept by no other item adds to no score: a user with only it got every
    score 0, so catalogue order, not the popularity fallback of a user without history."""
    model = ItemKNN(n_neighbors=1).fit(_chain())
    assert not model.similarity_.toarray()[[0, 4]].any()
    user = sp.csr_matrix(np.eye(1, 6, 4))  # item 4 only
    np.testing.assert_array_equal(model.decision_function(user)[0], model._item_popularity)
    assert model.recommend(user, k=2)[0].tolist() == [[0, 2]]  # the most popular unseen


def test_item_knn_shrunk_similarities_below_float32_raise():
    """With shrinkage, values of 1e-22 to 1e-30 give similarities far below float32's
    range: stored in float32 they were subnormal (lists in catalogue order) or 0 (every
    user on the popularity fallback), without a word (found by an audit helper)."""
    X = _chain().toarray()
    for scale in (1e-22, 1e-30):
        with pytest.raises(FloatingPointError, match=r"below the smallest normal float32.*"
                                                     r"Scale the values of X up.*float64"):
            ItemKNN(shrinkage=10.0).fit((X * scale).astype(np.float32))
    # in float64 the same similarities are normal numbers, and rank as at scale 1
    small = ItemKNN(shrinkage=10.0).fit(X * 1e-30)
    assert small.similarity_.nnz == ItemKNN(shrinkage=10.0).fit(X).similarity_.nnz > 0
    # without shrinkage the cosine does not depend on the scale: float32 fits
    assert ItemKNN().fit((X * 1e-30).astype(np.float32)).similarity_.nnz > 0
    # values of mixed scales give a few tiny similarities among normal ones: items 0 and
    # 1 meet only in a user whose values are 1e-20 (cosine 1e-40), each meets item 2 in
    # a user of ordinary values; a weak neighbour, not a reason to refuse the data
    mixed = np.array([[1e-20, 1e-20, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], np.float32)
    S = ItemKNN().fit(mixed).similarity_.toarray()
    assert S[0, 2] == S[1, 2] == pytest.approx(0.5 ** 0.5) and S[0, 1] < 1e-30


def test_item_knn_underflow_raises_instead_of_zero_similarities():
    X = _chain() * 1e-200
    with pytest.raises(FloatingPointError, match="underflow.*Scale the values of X up"):
        ItemKNN().fit(X)
    # float32 values whose squares underflow float32 are fine: the similarities are
    # computed in float64 (every one was 0 / 0 -> 0 in float32)
    small = ItemKNN().fit((_chain() * 1e-30).astype(np.float32)).similarity_
    np.testing.assert_allclose(small.toarray(), ItemKNN().fit(_chain()).similarity_.toarray(),
                               rtol=1e-6)


def _exact_neighbours(X, n_neighbors):
    """Kept neighbours by exact (rational) cosines of 0/1 data, ties to the lower item."""
    from fractions import Fraction

    D = (X.toarray() > 0).astype(np.int64)
    G, n = D.T @ D, D.shape[1]
    keep = np.zeros((n, n), bool)
    for i in range(n):
        cand = [j for j in range(n) if j != i and G[j, i] > 0]
        cand.sort(key=lambda j: (-Fraction(int(G[j, i]) ** 2, int(G[i, i] * G[j, j])), j))
        keep[cand[:n_neighbors], i] = True
    return keep


@pytest.mark.parametrize("seed", range(4))
def test_item_knn_ties_at_the_cut_go_to_the_lower_item_in_either_dtype(seed):
    """Cosines equal in exact arithmetic (1/sqrt(12), 3/(3 sqrt(12))) differ by an ulp in
    floats: the neighbour kept at the cut was decided by rounding (seed 3, 3 neighbours:
    item 6 kept [4, 14, 22], the tie rule gives [0, 4, 14]), differently in float32 and
    float64 (61 of 1,920 users' top-5 lists differed between the two fits)."""
    X = make_interactions(80, 30, density=0.1, random_state=seed)
    for n_neighbors in (1, 2, 3):
        expected = _exact_neighbours(X, n_neighbors)
        for dtype in (np.float64, np.float32):
            kept = ItemKNN(n_neighbors=n_neighbors).fit(X.astype(dtype)).similarity_
            np.testing.assert_array_equal(kept.toarray() != 0, expected)


def test_most_popular_sum_of_large_float32_values_stays_finite():
    """Summed in float32, 2 x 3e38 overflowed: every user's scores were refused as
    non-finite, blaming the scored users' values. The mean is finite."""
    X = sp.csr_matrix(np.array([[3e38, 1.0], [3e38, 0.0]], dtype=np.float32))
    model = MostPopular(popularity="sum").fit(X)
    np.testing.assert_allclose(model.item_popularity_, [3e38, 0.5], rtol=1e-6)
    assert model.recommend(sp.csr_matrix((1, 2), dtype=np.float32), k=1)[0].tolist() == [[0]]


def test_item_knn_shrinkage_beyond_the_dtype_is_named():
    """shrinkage=1e39 on float32 was reported as 'the values of X overflow'."""
    X = _chain().astype(np.float32)
    with pytest.raises(ValueError, match="shrinkage=1e[+]39 overflows the float32 of X"):
        ItemKNN(shrinkage=1e39).fit(X)
    assert ItemKNN(shrinkage=1e39).fit(X.astype(np.float64)).similarity_.nnz > 0


def test_item_knn_explain_reads_the_values_and_sorts(counts):
    model = ItemKNN(n_neighbors=10).fit(counts)
    row = counts[np.flatnonzero(np.diff(counts.indptr) >= 5)[0]]
    items, contributions = model.explain(row, 3)
    assert np.all(np.diff(contributions) <= 0)
    np.testing.assert_allclose(
        contributions, row.toarray()[0, items] * model.similarity_[items, 3].toarray().ravel())
    assert contributions.sum() == pytest.approx(model.decision_function(row)[0, 3])


_HISTORY_KNN = ItemKNN(n_neighbors=5, neighborhood="history", normalize=True)


@parametrize_with_checks([_HISTORY_KNN])
def test_history_neighbourhoods_pass_sklearns_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", recommender_checks(), ids=lambda c: c.__name__)
def test_history_neighbourhoods_pass_the_recommender_checks(check):
    check("ItemKNN", clone(_HISTORY_KNN))
