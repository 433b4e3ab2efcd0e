"""Memory bounds of the serving and scoring paths, read with tracemalloc.

scikit-learn's ``working_memory`` sizes a block of float64 scores; serving and
scoring hold one block while they score the next (audit57b: the previous block
was still referenced, so recommend held two and the scorers three; AUC's
ranking held about eight eighths, miscalibration's category mixes grew with the
number of categories). tracemalloc counts NumPy's allocations exactly, so
these peaks are deterministic (unlike timings, which belong in benchmarks).
"""

import gc
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn

from sklearn_recsys import ImplicitALS, ItemKNN, MostPopular
from sklearn_recsys.metrics import (auc, make_beyond_accuracy_scorer, make_ranking_scorer,
                                    miscalibration_at_k)
from sklearn_recsys.utils._topk import row_batch_size

WORKING_MEMORY = 4  # MiB: a block of 104 users of 5,000 items
N_USERS, N_ITEMS = 1200, 5000
BLOCK = WORKING_MEMORY * 2**20


def _data(seed=0):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(N_USERS), 10)
    # popular items first, as real catalogues: every block has many distinct items
    cols = np.minimum(rng.zipf(1.3, rows.size) - 1, N_ITEMS - 1)
    X = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(N_USERS, N_ITEMS))
    X.data[:] = 1.0
    return X


def _peak(fn):
    """Peak of the allocations made while ``fn`` runs, above those before it.

    ``fn`` runs once untraced first: numba's first compilation of a kernel
    allocates a few MiB that stay (its caches), which is not the data's.
    """
    fn()
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def X():
    return _data()


def test_the_block_is_the_size_working_memory_sets():
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        assert row_batch_size(N_ITEMS) * N_ITEMS * 8 <= BLOCK


@pytest.mark.parametrize("model, blocks", [
    # float32 scores: half a block each (held two, 1.04 blocks)
    (ImplicitALS(16, max_iter=2, random_state=0), 0.75),
    # its block is made dense from the sparse product X_block @ W, held for a
    # moment too (held 2.36 blocks)
    (ItemKNN(), 1.7),
], ids=["ImplicitALS", "ItemKNN"])
def test_recommend_holds_one_block(X, model, blocks):
    model.fit(X)
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: model.recommend(X, k=10))
    assert peak < blocks * BLOCK, peak / BLOCK


@pytest.mark.parametrize("metric", ["ndcg", "auc"])
def test_a_scorer_holds_its_block_and_the_copy_it_masks(X, metric):
    model = MostPopular().fit(X)
    scorer = make_ranking_scorer(metric, k=10)
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: scorer(model, X))
    assert peak < 2.5 * BLOCK, peak / BLOCK  # held 3.02 blocks (ndcg), 6.4 (auc)


def test_auc_holds_nothing_the_size_of_a_block(X):
    """AUC ranked every row of an eighth of a block with rankdata (a float64 copy, masks
    and the sort's arrays: 0.92 blocks), and the metrics' NaN check made a mask of all
    the scores (1.43 blocks here)."""
    rng = np.random.default_rng(1)
    scores = rng.random((N_USERS, N_ITEMS))
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: auc(X, scores))
    assert peak < 0.1 * BLOCK, peak / BLOCK  # held 1.43 blocks


def test_miscalibration_is_bounded_by_its_categories(X):
    """The batch was sized by the items while the category mixes are as wide as the
    categories: with 20,000 tags it held about eight (batch, 20000) arrays."""
    rng = np.random.default_rng(0)
    n_tags = 4 * N_ITEMS
    item, tag = np.repeat(np.arange(N_ITEMS), 3), rng.integers(0, n_tags, 3 * N_ITEMS)
    tags = sp.csr_matrix((np.ones(3 * N_ITEMS), (item, tag)), shape=(N_ITEMS, n_tags))
    lists = np.argsort(rng.random((N_USERS, N_ITEMS)), axis=1)[:, :10]
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: miscalibration_at_k(X, lists, k=10, categories=tags))
        value = miscalibration_at_k(X, lists, k=10, categories=tags)
    assert peak < 2 * BLOCK, peak / BLOCK  # held 16.4 blocks
    # the same value as in one batch
    assert value == pytest.approx(miscalibration_at_k(X, lists, k=10, categories=tags,
                                                      batch_size=N_USERS), rel=1e-12)
    scorer = make_beyond_accuracy_scorer("miscalibration", k=10, categories=tags)
    model = MostPopular().fit(X)
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: scorer(model, X))
    assert peak < 3 * BLOCK, peak / BLOCK  # held 17.5 blocks


def test_similar_items_go_in_blocks_of_query_items(X):
    model = ImplicitALS(16, max_iter=2, random_state=0).fit(X)
    items = np.arange(N_ITEMS)
    expected = model.similar_items(items, k=5)
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: model.similar_items(items, k=5))
        batched = model.similar_items(items, k=5)
    # all items at once: N_ITEMS ** 2 floats, 48 blocks (held 47.7)
    assert peak < 2 * BLOCK, peak / BLOCK  # held 8.1 blocks (now 1.08)
    # the same neighbours: BLAS may round a product of other shapes in the last bit,
    # which can swap near-ties, so the lists agree up to those
    np.testing.assert_allclose(batched[1], expected[1], rtol=1e-5)
    assert np.mean(batched[0] == expected[0]) > 0.99


def test_a_few_long_string_ids_do_not_pad_every_id():
    """NumPy pads a list of strings to its longest (4 bytes a character): 200,000 events
    with one 1,000-character user id took 2.3 GB and a 763 MiB ``user_ids_`` (audit57b)."""
    from sklearn_recsys.preprocessing import InteractionEncoder

    n = 20_000
    users = [f"u{i % 500}" for i in range(n)]
    users[7] = "x" * 1000
    log = {"user_id": users, "item_id": [i % 300 for i in range(n)]}
    encoder = InteractionEncoder()
    peak = _peak(lambda: InteractionEncoder().fit_transform(log))
    X = encoder.fit_transform(log)
    # padded: n x 1000 characters x 4 bytes, 76 MiB
    assert peak < 8 * 2**20, peak / 2**20
    assert encoder.user_ids_.dtype == object and "x" * 1000 in encoder.user_ids_
    # the other users' rows as without the long id (which takes event 7 from "u7")
    plain = {**log, "user_id": [f"u{i % 500}" for i in range(n)]}
    short = InteractionEncoder()
    X_short = short.fit_transform(plain)
    others = [f"u{j}" for j in range(500) if j != 7]
    assert X.shape == (501, 300)
    np.testing.assert_array_equal(X[encoder.get_user_indices(others)].toarray(),
                                  X_short[short.get_user_indices(others)].toarray())
    # uniform ids keep NumPy's strings (no Python objects for short ids)
    assert short.user_ids_.dtype.kind == "U"


def test_serving_one_user_from_a_log_does_not_index_every_fitted_user():
    """``encoder.recommend`` of one user's log built the rows of every user seen in fit,
    then kept one (an index of 8 bytes a fitted user: 38 ms and 61 MiB a request at 2
    million users, noticed at stop 57)."""
    from sklearn_recsys import EASE
    from sklearn_recsys.preprocessing import InteractionEncoder

    n_users = 400_000
    rng = np.random.default_rng(0)
    log = {"user_id": np.repeat(np.arange(n_users), 2),
           "item_id": rng.integers(0, 50, 2 * n_users)}
    encoder = InteractionEncoder().fit(log)
    model = EASE(alpha=10.0).fit(encoder.transform(log))
    one = {"user_id": np.array([123, 123, 987_654_321]), "item_id": np.array([3, 7, 5])}
    peak = _peak(lambda: encoder.recommend(model, one, k=5))
    assert peak < 2**20, peak / 2**20  # the rows of every user: 6 MiB
    # the same lists as the whole matrix's rows give
    table = encoder.recommend(model, one, k=5)
    rows = encoder.transform(one)[[123, n_users]]
    idx, scores = model.recommend(rows, k=5)
    assert table["item_id"].tolist() == encoder.inverse_transform(idx).ravel().tolist()
    np.testing.assert_allclose(table["score"], scores.ravel())
    assert table["user_id"].tolist() == [123] * 5 + [987_654_321] * 5


def test_ease_similar_items_masks_its_one_copy_of_the_rows(X):
    """similar_items copied the fancy-indexed rows of coef_ (a copy already) before masking
    them: two blocks where one does (721 MB more on all of latest-small's items)."""
    from sklearn_recsys import EASE

    n_items = 1000
    model = EASE(alpha=10.0).fit(X[:, :n_items])
    items = np.arange(n_items)
    expected = model.similar_items(items, k=5)
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: model.similar_items(items, k=5))
        batched = model.similar_items(items, k=5)
    assert peak < 1.3 * BLOCK, peak / BLOCK  # held 2.0 blocks
    np.testing.assert_array_equal(batched[0], expected[0])
    np.testing.assert_array_equal(batched[1], expected[1])


def test_a_stack_holds_one_block_whatever_its_number_of_base_models(X):
    """A stack's block held every base model's scores, a masked copy and its own: sized by
    the catalogue alone, 6 bases took 8.5 times working_memory (audit helper 141). Its
    blocks are now sized by all of them, so the peak stays near one block."""
    from sklearn_recsys import StackingRecommender

    bases = [(f"pop{i}", MostPopular()) for i in range(6)]
    model = StackingRecommender(bases, n_candidates=10, random_state=0).fit(X[:400])
    with sklearn.config_context(working_memory=WORKING_MEMORY):
        peak = _peak(lambda: model.recommend(X, k=10))
        batched = model.recommend(X, k=10)
    assert peak < 2 * BLOCK, peak / BLOCK  # held 8.1 blocks (now 1.08)
    np.testing.assert_array_equal(batched[0], model.recommend(X, k=10)[0])
