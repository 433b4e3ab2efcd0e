"""SASRec, GRU4Rec and the reading of rows as sequences: known answers, NumPy = TF, order."""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from hypothesis import given, settings
from hypothesis import strategies as st

from sklearn_recsys import EASE, GRU4Rec, SASRec
from sklearn_recsys.metrics import hit_rate_at_k, make_ranking_scorer, ndcg_at_k
from sklearn_recsys.model_selection import leave_last_out_split
from sklearn_recsys.utils._sequences import row_sequences

tf = pytest.importorskip("tensorflow")


def test_row_sequences_known_answer():
    # user 0: items 3 (t=5), 0 (t=1), 2 (t=9); user 1: ties at t=4 -> larger index later
    X = sp.csr_matrix([[1.0, 0, 9, 5], [4, 4, 0, 2], [0, 0, 0, 0]])
    assert row_sequences(X, 4).tolist() == [[0, 1, 4, 3], [0, 4, 1, 2], [0, 0, 0, 0]]
    # shorter than the history: the most recent items
    assert row_sequences(X, 2).tolist() == [[4, 3], [1, 2], [0, 0]]


def cyclic_sequences(n_users, n_items, rng, min_len=4, max_len=8):
    """Users walk the items in order ``s, s + 1, ...`` (mod ``n_items``), positions as values."""
    rows, cols, vals, nxt = [], [], [], []
    for u in range(n_users):
        start, length = rng.integers(n_items), rng.integers(min_len, max_len + 1)
        items = (start + np.arange(length + 1)) % n_items
        rows += [u] * length
        cols += items[:-1].tolist()
        vals += list(range(1, length + 1))
        nxt.append(items[-1])
    X = sp.csr_matrix((np.array(vals, float), (rows, cols)), shape=(n_users, n_items))
    y = sp.csr_matrix((np.ones(n_users), (np.arange(n_users), nxt)), shape=X.shape)
    return X, y


MODELS = {"SASRec": SASRec, "GRU4Rec": GRU4Rec, "GRU4Rec-bpr-max": GRU4Rec,
          "GRU4Rec-untied": GRU4Rec}
EXTRA = {"GRU4Rec-bpr-max": {"loss": "bpr-max"}, "GRU4Rec-untied": {"tied_embeddings": False}}


@pytest.fixture(scope="module", params=list(MODELS))
def cyclic(request):
    rng = np.random.default_rng(0)
    X, y = cyclic_sequences(300, 20, rng)
    model = MODELS[request.param](
        n_components=16, max_len=10, max_iter=40, batch_size=32, learning_rate_init=1e-2,
        early_stopping=False, dropout=0.1, random_state=0,
        **EXTRA.get(request.param, {})).fit(X)
    return model, X, y


def test_learns_the_order_a_set_model_cannot_see(cyclic):
    model, X, y = cyclic
    X_new, y_new = cyclic_sequences(200, 20, np.random.default_rng(1))
    # the next item follows the most recent one; a set of items (EASE) knows
    # the arc but not its direction
    sas = hit_rate_at_k(y_new, model.decision_function(X_new), k=1)
    binary = (X > 0).astype(float)
    ease = EASE(alpha=1.0).fit(binary)
    set_based = hit_rate_at_k(y_new, np.where(X_new.toarray() > 0, -np.inf,
                                              ease.decision_function((X_new > 0).astype(float))),
                              k=1)
    assert sas > 0.9
    assert set_based < 0.7


def test_reversed_order_changes_the_prediction(cyclic):
    model, _, _ = cyclic
    # items 5, 6, 7, 8 in that order -> 9; the same items ending with 5 -> 6
    forward = sp.csr_matrix(([1.0, 2, 3, 4], ([0] * 4, [5, 6, 7, 8])), shape=(1, 20))
    backward = sp.csr_matrix(([4.0, 3, 2, 1], ([0] * 4, [5, 6, 7, 8])), shape=(1, 20))
    assert model.recommend(forward, k=1, exclude_seen=False)[0][0, 0] == 9
    assert model.recommend(backward, k=1, exclude_seen=False)[0][0, 0] == 6


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_only_the_order_of_the_values_counts(cyclic, seed):
    """Any increasing transform of a row's values (timestamps vs positions) scores the same."""
    model, X, _ = cyclic
    rng = np.random.default_rng(seed)
    rows = rng.choice(X.shape[0], 5, replace=False)
    Xs = X[rows].tocsr()
    T = Xs.copy()
    T.data = np.exp(T.data / 3.0) * 1e6 + rng.integers(0, 2, 1)[0] * 1.7e9
    np.testing.assert_array_equal(model.decision_function(Xs), model.decision_function(T))


def test_a_pair_stored_twice_keeps_its_latest_time(cyclic):
    """A COO row built from a log with a repeat scores as the row of each pair's latest time
    (SciPy's conversion would sum the two times into a later, invented one)."""
    model, X, _ = cyclic
    row = X[0].tocoo()
    j = row.col[np.argmin(row.data)]  # the oldest item, seen again later

    def seen_again_at(time):
        return sp.coo_matrix((np.append(row.data, time),
                              (np.append(row.row, 0), np.append(row.col, j))), shape=row.shape)

    latest = X[0].tolil()
    # after all the others: the sum (oldest + latest) would also be the latest here
    late = row.data.max() + 1.0
    latest[0, j] = late
    np.testing.assert_array_equal(model.decision_function(seen_again_at(late)),
                                  model.decision_function(latest.tocsr()))
    # in between: the sum would move the item past the later ones
    mid = np.sort(row.data)[len(row.data) // 2] + 0.5
    latest[0, j] = mid
    np.testing.assert_array_equal(model.decision_function(seen_again_at(mid)),
                                  model.decision_function(latest.tocsr()))
    # the scorers read the rows the same way (they validate X before the model does):
    # every user's oldest item seen again in the middle of their history
    _, _, y = cyclic
    rows = X[:60].tocoo()
    first = np.full(60, np.inf)
    np.minimum.at(first, rows.row, rows.data)
    oldest = rows.data == first[rows.row]
    mids = np.array([np.median(X[u].data) + 0.5 for u in range(60)])
    dup = sp.coo_matrix((np.append(rows.data, mids[rows.row[oldest]]),
                         (np.append(rows.row, rows.row[oldest]),
                          np.append(rows.col, rows.col[oldest]))), shape=rows.shape)
    kept = rows.copy()
    kept.data = np.where(oldest, mids[rows.row], rows.data)
    summed = rows.copy()
    summed.data = np.where(oldest, rows.data + mids[rows.row], rows.data)
    scorer = make_ranking_scorer("ndcg", k=10)
    assert scorer(model, dup, y[:60]) == scorer(model, kept.tocsr(), y[:60])
    assert scorer(model, summed.tocsr(), y[:60]) != scorer(model, kept.tocsr(), y[:60])


def test_history_beyond_max_len_is_ignored(cyclic):
    model, _, _ = cyclic
    recent = sp.csr_matrix(([5.0, 6, 7, 8, 9, 10, 11, 12, 13, 14],
                            ([0] * 10, list(range(10)))), shape=(1, 20))
    older = sp.csr_matrix(([1.0, 2, 3, 4], ([0] * 4, [15, 16, 17, 18])), shape=(1, 20))
    # max_len=10: the four older interactions fall out of the window
    np.testing.assert_array_equal(model.transform(recent), model.transform(recent + older))
    # eight recent ones leave room for two of them: the state changes
    recent8 = sp.csr_matrix(recent.toarray() * (np.arange(20) < 8))
    assert not np.allclose(model.transform(recent8), model.transform(recent8 + older))


def test_numpy_serving_equals_the_tensorflow_forward_pass(cyclic):
    model, X, _ = cyclic
    seqs = row_sequences(X[:50], model.max_len)
    V = model._weights()
    V_tf = tf.nest.map_structure(tf.constant, V)
    h_np = model._forward(np, V, seqs)
    h_tf = model._forward(tf, V_tf, tf.constant(seqs)).numpy()
    np.testing.assert_allclose(h_np, h_tf, rtol=1e-4, atol=1e-5)


def test_left_padding_does_not_change_the_state(cyclic):
    model, X, _ = cyclic
    seqs = row_sequences(X[:20], 8)
    padded = np.hstack([np.zeros((20, 2), np.int32), seqs])
    np.testing.assert_allclose(model._encode_sequences(seqs), model._encode_sequences(padded),
                               rtol=1e-5, atol=1e-6)


def test_a_scorer_without_y_holds_out_each_users_latest(cyclic):
    """``model.score(X)`` and a search without ``y`` split each row themselves: a sequential
    model is judged on the latest items, never asked for one that came before its input's."""
    model, X, _ = cyclic
    X_in, X_out, _ = make_ranking_scorer("ndcg", k=10)._split(model, X, None)
    for u in range(X.shape[0]):
        n = X[u].nnz
        latest = X[u].indices[np.argsort(X[u].data)[n - int(0.2 * n):]] if n >= 5 else []
        assert sorted(X_out[u].indices) == sorted(latest)
        assert X_in[u].nnz + X_out[u].nnz == n
    # the next item follows the latest: the model nearly always ranks it first (a random
    # 20% held out scored this model 0.41)
    assert model.score(X) > 0.9


def test_raw_id_serving_reads_the_times(cyclic):
    """``InteractionEncoder.recommend`` gives a sequential model the log's timestamps, not its
    values (ratings here, in an order of their own)."""
    from sklearn_recsys.preprocessing import InteractionEncoder

    model, X, _ = cyclic
    coo = X.tocoo()
    log = {"user": coo.row, "item": coo.col,
           "rating": np.random.default_rng(7).integers(1, 6, coo.nnz).astype(float),
           "t": coo.data * 60.0 + 1.7e9}
    encoder = InteractionEncoder(user_col="user", item_col="item", value_col="rating",
                                 timestamp_col="t").fit(log)
    assert encoder.n_items_ == X.shape[1]  # raw ids 0..19: the columns of X
    first = {name: column[coo.row < 20] for name, column in log.items()}
    recs = encoder.recommend(model, first, k=3, as_frame=False)
    expected = model.recommend(X[:20], k=3)[0]
    assert_array_equal(recs["item"].reshape(20, 3), expected)
    by_ratings = model.recommend(encoder.transform(first)[:20], k=3)[0]
    assert (by_ratings[:, 0] != expected[:, 0]).sum() >= 5  # what it was served before
    untimed = InteractionEncoder(user_col="user", item_col="item", value_col="rating").fit(log)
    with pytest.raises(ValueError, match="reads the order of each user's items, so it is "
                       "given the log's timestamps: transform_timestamps needs timestamps"):
        untimed.recommend(model, first, k=3)


@pytest.mark.parametrize("shift", [-1.0, -3.0e4])
def test_raw_id_serving_of_times_from_zero_keeps_every_event(cyclic, shift):
    """A log timed by positions 0, 1, 2... (or before the epoch) stored a key of 0 (or
    below), which the model reads as no interaction: the first event left the sequence
    and came back as a recommendation, though exclude_seen (found by an audit helper).
    The times go as their ranks, which keep the order: the lists of the keys as given."""
    from sklearn_recsys.preprocessing import InteractionEncoder

    model, X, _ = cyclic
    coo = X.tocoo()
    log = {"user": coo.row, "item": coo.col, "t": (coo.data + shift) * 60.0}
    assert (log["t"] <= 0).any()
    encoder = InteractionEncoder(user_col="user", item_col="item", timestamp_col="t").fit(log)
    first = {name: column[coo.row < 20] for name, column in log.items()}
    recs = encoder.recommend(model, first, k=X.shape[1], as_frame=False)
    for u in range(20):
        listed = recs["item"][recs["user"] == u]
        assert not np.isin(listed, X[u].indices).any()  # no event of the history comes back
        assert len(listed) == X.shape[1] - X[u].nnz
    top3 = encoder.recommend(model, first, k=3, as_frame=False)["item"].reshape(20, 3)
    assert_array_equal(top3, model.recommend(X[:20], k=3)[0])


@pytest.mark.parametrize("model", [SASRec(n_components=8, n_heads=2),
                                   GRU4Rec(n_components=8, loss="bpr-max")],
                         ids=["SASRec", "GRU4Rec"])
def test_early_stopping_on_the_last_item(model):
    X, _ = cyclic_sequences(200, 15, np.random.default_rng(2))
    model.set_params(max_len=8, max_iter=6, n_iter_no_change=2, learning_rate_init=1e-2,
                     random_state=0).fit(X)
    assert len(model.validation_scores_) == model.n_iter_ <= 6
    assert model.validation_scores_[model.best_iteration_ - 1] == max(model.validation_scores_)
    # validation holds out each user's most recent item
    X_in, X_out = model._hold_out(X[:3], None)
    last = [X[u].indices[np.argmax(X[u].data)] for u in range(3)]
    assert X_out.indices.tolist() == last
    assert X_in.nnz == X[:3].nnz - 3


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_same_seed_same_model_and_leave_last_out_split_composes(cls):
    X, _ = cyclic_sequences(120, 12, np.random.default_rng(3))
    X_train, X_test = leave_last_out_split(X, X)
    kw = dict(n_components=8, max_len=6, max_iter=3, early_stopping=False, random_state=4)
    a, b = cls(**kw).fit(X_train), cls(**kw).fit(X_train)
    np.testing.assert_array_equal(a.decision_function(X_train), b.decision_function(X_train))
    assert X_test.nnz == X.shape[0]
    # the held-out item is each user's latest, and score is NDCG@10 of the masked scores
    latest = [X[u].indices[np.argmax(X[u].data)] for u in range(X.shape[0])]
    assert_array_equal(X_test.tocsr().indices, latest)
    assert X_train.multiply(X_test).nnz == 0 and X_train.nnz + X_test.nnz == X.nnz
    scores = a.decision_function(X_train)
    scores[X_train.nonzero()] = -np.inf
    assert a.score(X_train, X_test) == pytest.approx(ndcg_at_k(X_test, scores, k=10),
                                                     rel=1e-12)


def test_errors_and_warnings():
    X, _ = cyclic_sequences(50, 10, np.random.default_rng(5))
    with pytest.raises(ValueError, match="n_heads=3 must divide n_components=8"):
        SASRec(n_components=8, n_heads=3, max_iter=1).fit(X)
    for cls in (SASRec, GRU4Rec):
        with pytest.warns(UserWarning, match="every value of X is equal"):
            cls(n_components=4, max_iter=1, early_stopping=False).fit((X > 0).astype(float))
        # a stored 0 (a position counted from 0) is no interaction: said
        zero = sp.csr_matrix(X, copy=True)
        zero.data[:3] = 0.0
        with pytest.warns(UserWarning, match="stores 3 zero value"):
            cls(n_components=4, max_iter=1, early_stopping=False).fit(zero)
        # a 0 repeating a pair stored with a later key is not dropped: the pair keeps it
        repeat = sp.coo_matrix(X)
        repeat = sp.coo_matrix((np.append(repeat.data, 0.0), (np.append(repeat.row, 0),
                                np.append(repeat.col, repeat.col[0]))), shape=X.shape)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            cls(n_components=4, max_iter=1, early_stopping=False).fit(repeat)
        # one interaction per user: nothing to validate (or train) on, said and survived
        one = sp.csr_matrix((np.arange(1.0, 11), (np.arange(10), np.arange(10))))
        with pytest.warns(UserWarning, match=r"holding out each user's most recent interaction "
                          r"\(a user needs at least 2\) holds none out"):
            model = cls(n_components=4, max_iter=2).fit(one)
        assert model.validation_scores_ is None and model.n_iter_ == 2


def _output_layer(tied, W, b):
    """The variables that hold output weights ``W`` and biases ``b`` (tied: the input embeddings
    after the padding row; the untied network's input embeddings are not read)."""
    if tied:
        return {"item_embeddings": tf.constant(np.vstack([np.zeros((1, W.shape[1]), W.dtype), W])),
                "output_bias": tf.constant(b)}
    return {"output_embeddings": tf.constant(W), "output_bias": tf.constant(b),
            "item_embeddings": tf.constant(np.full((W.shape[0] + 1, W.shape[1]), 7.0, W.dtype))}


@pytest.mark.parametrize("tied", [True, False])
def test_cross_entropy_loss_by_hand(tied):
    rng = np.random.default_rng(5)
    model = GRU4Rec(tied_embeddings=tied)
    W, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    states, labels = rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 4, 2, 2])
    V = {name: tf.Variable(value) for name, value in _output_layer(tied, W, b).items()}
    with tf.GradientTape() as tape:
        loss = model._next_item_loss(tf, V, tf.constant(states), tf.constant(labels))
    r = states @ W.T + b
    expected = np.log(np.exp(r).sum(axis=1)) - r[np.arange(4), labels]
    assert float(loss) == pytest.approx(expected.mean(), rel=1e-5)
    # the output weights train: d loss / d w_i = mean over rows of (softmax_i - [i = label]) h
    p = np.exp(r) / np.exp(r).sum(axis=1, keepdims=True)
    p[np.arange(4), labels] -= 1
    name = "item_embeddings" if tied else "output_embeddings"
    grad = tf.convert_to_tensor(tape.gradient(loss, V[name])).numpy()
    if tied:
        np.testing.assert_array_equal(grad[0], 0)  # the padding row is no item
        grad = grad[1:]
    np.testing.assert_allclose(grad, p.T @ states / 4, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("tied", [True, False])
def test_bpr_max_loss_by_hand(tied):
    rng = np.random.default_rng(6)
    model = GRU4Rec(loss="bpr-max", score_penalty=0.5, tied_embeddings=tied)
    W, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    states, labels = rng.standard_normal((4, 3)).astype(np.float32), np.array([0, 4, 2, 2])
    V = _output_layer(tied, W, b)
    got = float(model._next_item_loss(tf, V, tf.constant(states), tf.constant(labels)))
    expected = []
    for h, i in zip(states, labels):
        r = W @ h + b
        others = np.delete(np.arange(5), i)
        s = np.exp(r[others]) / np.exp(r[others]).sum()
        expected.append(-np.log(s @ (1 / (1 + np.exp(-(r[i] - r[others])))))
                        + 0.5 * s @ r[others] ** 2)
    assert got == pytest.approx(np.mean(expected), rel=1e-5)


def test_gru4rec_scores_with_the_embeddings_its_parameter_names():
    """Tied: next-item scores are the state times the input embeddings plus the biases (no
    output weights are kept, not even an earlier untied fit's); untied: its output weights."""
    X, _ = cyclic_sequences(60, 12, np.random.default_rng(0))
    model = GRU4Rec(n_components=8, max_len=5, max_iter=2, early_stopping=False,
                    tied_embeddings=False, random_state=0).fit(X)
    np.testing.assert_allclose(
        model.decision_function(X[:5]),
        model.transform(X[:5]) @ model.output_embeddings_.T + model.output_bias_, rtol=1e-5)
    model.set_params(tied_embeddings=True).fit(X)
    assert not hasattr(model, "output_embeddings_")
    assert model.item_embeddings_.shape == (13, 8)
    np.testing.assert_allclose(
        model.decision_function(X[:5]),
        model.transform(X[:5]) @ model.item_embeddings_[1:].T + model.output_bias_, rtol=1e-5)
    with pytest.raises(ValueError, match="tied_embeddings True -> False"):
        model.set_params(tied_embeddings=False).decision_function(X[:5])


def test_pickle_serves_where_tensorflow_cannot_be_imported(cyclic, tmp_path):
    model, X, _ = cyclic
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(model))
    sp.save_npz(tmp_path / "X.npz", X[:20].tocsr())
    expected = model.recommend(X[:20], k=5)[0]
    code = f"""
import sys
sys.modules["tensorflow"] = None  # importing it now raises ImportError
import pickle, numpy as np, scipy.sparse as sp
model = pickle.loads(open({str(path)!r}, "rb").read())
idx, _ = model.recommend(sp.load_npz({str(tmp_path / "X.npz")!r}), k=5)
np.save({str(tmp_path / "idx.npy")!r}, idx)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "idx.npy"), expected)


def empty_history_scores(model):
    """SASRec: popularity (its empty state is untrained); GRU4Rec: its output biases."""
    if isinstance(model, GRU4Rec):
        return model.output_bias_
    return model._item_popularity


def test_users_without_trained_items_get_the_popularity_fallback(cyclic):
    """An empty sequence's state is never read by the loss (SASRec's is the final
    LayerNorm's bias): SASRec ranks such users by training popularity, GRU4Rec by its
    output biases (the scores of its empty state, 0), and explain still reads the
    network."""
    model, X, _ = cyclic
    empty = sp.csr_matrix((1, X.shape[1]))
    expected = empty_history_scores(model)
    np.testing.assert_allclose(model.decision_function(empty)[0], expected, rtol=1e-6)
    assert_array_equal(model.recommend(empty, k=5)[0][0],
                       np.argsort(-expected, kind="stable")[:5])
    # a one-item user: leave-one-out compares with the network's own empty-row score
    one = sp.csr_matrix(([1.0], ([0], [3])), shape=(1, X.shape[1]))
    item = int(model.recommend(one, k=1)[0][0, 0])
    items, contrib = model.explain(one, item)
    own = model._scores_without_fallback(one)[0, item] - \
        model._scores_without_fallback(empty)[0, item]
    assert items.tolist() == [3]
    np.testing.assert_allclose(contrib, [own], rtol=1e-6)


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_a_history_of_never_trained_items_counts_as_empty(cls):
    rng = np.random.default_rng(1)
    X, _ = cyclic_sequences(60, 12, rng)
    X = sp.hstack([X, sp.csr_matrix((60, 2))]).tocsr()  # items 12 and 13: never seen
    model = cls(n_components=8, max_len=6, max_iter=2, early_stopping=False,
                random_state=0).fit(X)
    new = sp.csr_matrix(([1.0, 2.0], ([0, 0], [12, 13])), shape=(1, 14))
    scores = model.decision_function(new)[0]
    np.testing.assert_allclose(scores, empty_history_scores(model), rtol=1e-6)
    np.testing.assert_allclose(scores, model.decision_function(sp.csr_matrix((1, 14)))[0])
    # one trained item in the history: the network scores the user
    mixed = new + sp.csr_matrix(([3.0], ([0], [4])), shape=(1, 14))
    assert not np.allclose(model.decision_function(mixed)[0], scores)


@pytest.mark.parametrize("Model", [SASRec, GRU4Rec])
@pytest.mark.parametrize("early_stopping", [True, False])
def test_items_never_read_as_an_input_are_no_history(Model, early_stopping):
    """An item that is only ever a user's latest interaction (held out by early stopping,
    or the last of a training sequence: a next item, never an input) counted as known,
    so a history of it was scored from an input embedding left at its initial draw."""
    rng = np.random.default_rng(6)
    X, _ = cyclic_sequences(200, 14, rng)
    X = sp.hstack([X, sp.csr_matrix((200, 1))]).tolil()
    for u in range(20):
        X[u, 14] = X[u].toarray().max() + 1
    X = X.tocsr()
    model = Model(n_components=8, max_len=6, max_iter=3, n_iter_no_change=3,
                  early_stopping=early_stopping, random_state=0).fit(X)
    assert model._item_popularity[14] > 0
    assert not model._known_items()[14] and model._known_items()[:14].all()
    only = sp.csr_matrix(([1.0], ([0], [14])), shape=(1, 15))
    np.testing.assert_array_equal(model.decision_function(only),
                                  model.decision_function(sp.csr_matrix((1, 15))))


def test_integer_nanosecond_keys_keep_their_order():
    """int64 nanoseconds near 1.7e18 are 256 apart in float64: events 100 ns apart tied
    and were read in item order, so the scores differed from those of positions."""
    from sklearn_recsys.model_selection import leave_last_out_split
    from sklearn_recsys.utils._sequences import row_sequences

    rng = np.random.default_rng(0)
    X, _ = cyclic_sequences(100, 10, rng)
    model = GRU4Rec(n_components=8, max_len=6, max_iter=2, early_stopping=False,
                    random_state=0).fit(X)
    base = 1_700_000_000_000_000_000
    ns = sp.csr_matrix((np.array([base + 100, base + 50, base], dtype=np.int64),
                        ([0, 0, 0], [2, 7, 5])), shape=(1, 10))
    positions = sp.csr_matrix(([3.0, 2.0, 1.0], ([0, 0, 0], [2, 7, 5])), shape=(1, 10))
    np.testing.assert_array_equal(model.transform(ns), model.transform(positions))
    np.testing.assert_array_equal(model.decision_function(ns),
                                  model.decision_function(positions))
    with pytest.warns(UserWarning, match="X_train and X_test hold their ranks") as caught:
        X_train, X_test = leave_last_out_split(ns, ns)
    assert {w.filename for w in caught} == {__file__}
    assert X_test.indices.tolist() == [2]
    assert row_sequences(X_train, 3).tolist() == [[0, 6, 8]]  # item 5, then item 7
    # a negative key hidden behind a repeat of its pair was dropped without a word
    repeat = sp.coo_matrix(([10.0, 20.0, -5.0], ([0, 0, 0], [1, 2, 1])), shape=(1, 10))
    with pytest.raises(ValueError, match="1 negative or non-finite order key"):
        model.decision_function(repeat)


def test_float32_keys_beyond_its_whole_numbers_are_warned_of():
    """Unix times as a float32 matrix are 64 s apart near 8.8e8: events within a minute tied
    and were ordered by column, silently (audit 58c: another last item for 156 of
    MovieLens 100K's 943 users). The rounding happened before; the warning says so."""
    import warnings

    from sklearn_recsys.utils._sequences import as_order_keys

    rng = np.random.default_rng(0)
    X, _ = cyclic_sequences(100, 10, rng)
    model = GRU4Rec(n_components=8, max_len=6, max_iter=2, early_stopping=False,
                    random_state=0).fit(X)
    times = sp.csr_matrix(([880_000_030.0, 880_000_000.0], ([0, 0], [2, 7])), shape=(1, 10))
    as_float32 = times.astype(np.float32)
    assert as_float32.data[0] == as_float32.data[1]  # 30 s apart: tied in float32
    with pytest.warns(UserWarning, match="float32, which holds whole numbers exactly only "
                                         "up to 16777216.* 64 apart"):
        model.decision_function(as_float32)
    with pytest.warns(UserWarning, match="Pass the timestamps as float64 or integers"):
        as_order_keys(as_float32.toarray())
    from sklearn_recsys.model_selection import leave_last_out_split

    ones = as_float32.copy()
    ones.data[:] = 1
    with pytest.warns(UserWarning, match="order keys come as float32") as caught:
        leave_last_out_split(ones, as_float32)
    assert {w.filename for w in caught} == {__file__}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.decision_function(times)  # float64 keeps them apart
        model.decision_function(sp.csr_matrix(([3.0, 2.0], ([0, 0], [2, 7])), shape=(1, 10),
                                              dtype=np.float32))  # positions fit float32


@pytest.mark.parametrize("Model, params", [
    (SASRec, {"max_len": 6}), (SASRec, {"n_heads": 2}), (GRU4Rec, {"n_components": 4})])
def test_architecture_changed_after_fit_is_refused_when_scoring(Model, params):
    """SASRec read P[-1:] for every position after max_len 5 -> 6 (scores moved by 0.8) and
    split its heads anew after n_heads 1 -> 2; GRU4Rec crashed inside matmul."""
    rng = np.random.default_rng(0)
    X, _ = cyclic_sequences(60, 12, rng)
    model = Model(n_components=8, max_len=5, max_iter=1, early_stopping=False,
                  random_state=0).fit(X)
    before = model.decision_function(X[:3])
    model.set_params(**params)
    with pytest.raises(ValueError, match="parameters changed since fit"):
        model.decision_function(X[:3])
    model.set_params(**{name: getattr(Model(n_components=8, max_len=5), name)
                        for name in params})
    np.testing.assert_array_equal(model.decision_function(X[:3]), before)


def test_sasrec_of_one_dimension_warns():
    """LayerNorm over one feature outputs its bias: every user gets the same scores.
    (Accepted: scikit-learn's common checks fit with n_components=1.)"""
    X, _ = cyclic_sequences(30, 8, np.random.default_rng(0))
    with pytest.warns(UserWarning, match="same scores"):
        model = SASRec(n_components=1, max_iter=1, early_stopping=False).fit(X)
    assert np.ptp(model.decision_function(X), axis=0).max() == 0


@pytest.mark.parametrize("cls", [SASRec, GRU4Rec])
def test_an_item_never_trained_as_an_input_is_left_out_of_the_sequence(cls):
    """It was read with its random initial embedding: as the latest item, the prediction
    was made from noise (1.2 to 1.5 of every top-5 changed when one was appended)."""
    X, _ = cyclic_sequences(120, 12, np.random.default_rng(3))
    X = sp.hstack([X, sp.csr_matrix((120, 1))], format="csr")  # item 12: never in fit
    model = cls(n_components=8, max_len=3, max_iter=5, batch_size=32, early_stopping=False,
                random_state=0).fit(X)
    assert not model._known_items()[12]
    rows = X[:30]
    latest = rows.max(axis=1).toarray().ravel()
    # item 12 appended as each user's latest interaction (rows hold 4 to 8 items: left
    # out before the cut to max_len=3, it takes no trained item's place)
    appended = rows + sp.csr_matrix((latest + 1, (np.arange(30), np.full(30, 12))),
                                    shape=rows.shape)
    np.testing.assert_array_equal(model.decision_function(appended),
                                  model.decision_function(rows))
    items, contributions = model.explain(appended[0], 0)
    assert contributions[list(items).index(12)] == 0


def test_leave_one_out_scores_only_the_entries_the_network_reads(cyclic, monkeypatch):
    """Removing an item older than the max_len most recent leaves the sequence as it is:
    its term is 0 without a forward pass (latest-small's longest history: 2,498 of 2,698
    variants were scored for exact zeros)."""
    model, _, _ = cyclic
    long = sp.csr_matrix((np.arange(1.0, 15.0), ([0] * 14, np.arange(14))), shape=(1, 20))
    assert model._entries_read(long).tolist() == [False] * 4 + [True] * 10
    calls = []
    scores = type(model)._scores_without_fallback
    monkeypatch.setattr(model, "_scores_without_fallback",
                        lambda X: calls.append(X.shape[0]) or scores(model, X))
    items, contributions = model.explain(long, 14)
    assert sum(calls) == 1 + 10  # the row and its 10 variants
    by_item = dict(zip(items.tolist(), contributions))
    assert [by_item[j] for j in range(4)] == [0.0] * 4
    # every entry varied, as for a model that reads all of them: the same terms
    monkeypatch.setattr(model, "_entries_read", lambda x: None)
    all_items, all_contributions = model.explain(long, 14)
    reference = dict(zip(all_items.tolist(), all_contributions))
    np.testing.assert_allclose([by_item[j] for j in range(14)],
                               [reference[j] for j in range(14)], rtol=1e-6, atol=1e-9)
    assert sum(calls) == 11 + 15


def test_early_stopping_scores_users_without_trained_items_as_served():
    """SASRec scores a user whose items never trained (as inputs) with a constant; served,
    such a user gets the popularity fallback, but early stopping read the constant, so its
    NDCG ranked them in catalogue order (0.169 against 0.181 served, found by an audit
    helper). It now gives them the training part's popularity (not the fit's, which
    counts the held-out items)."""
    from sklearn_recsys.base import item_shares, rows_without_known_items
    from sklearn_recsys.utils._holdout import heldout_ndcg

    rng = np.random.RandomState(0)
    n_users, n_items = 60, 40
    T = sp.lil_matrix((n_users, n_items))
    weights = np.r_[np.full(10, 0.06), np.full(30, 0.4 / 30)]
    for u in range(n_users):
        for p, i in enumerate(rng.choice(n_items, 2 if u % 2 else 5, replace=False,
                                         p=weights)):
            T[u, i] = p + 1
    T = T.tocsr()
    model = SASRec(n_components=8, max_len=5, max_iter=1, random_state=0).fit(T)
    X_in, X_out = model._hold_out(T, None)  # each user's latest item: deterministic
    shares = item_shares(np.bincount(X_in.indices, minlength=n_items).astype(float))
    empty = rows_without_known_items(X_in, model._known_items())
    assert empty.size > 0 and np.ptp(model._score_batch(X_in[empty]), axis=1).max() == 0

    def as_validated(rows, X_rows):
        scores = model._score_batch(X_rows)
        scores[rows_without_known_items(X_rows, model._known_items())] = shares
        return scores

    expected = heldout_ndcg(X_in, X_out, as_validated, model._validation_k)
    constant = heldout_ndcg(X_in, X_out, lambda rows, X_rows: model._score_batch(X_rows),
                            model._validation_k)
    assert model.validation_scores_[0] == pytest.approx(expected, rel=1e-6)
    assert abs(expected - constant) > 1e-3  # what the constant gave instead


def test_a_dataframe_of_nanosecond_keys_keeps_its_column_names():
    """Integer keys above 2**53 become their ranks; for a DataFrame that made a bare array,
    so the fit recorded no feature names and a frame with its item columns reversed was
    scored silently, items swapped (found by an audit helper)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    keys = np.zeros((30, 8), dtype=np.int64)
    for u in range(30):
        keys[u, rng.choice(8, 4, replace=False)] = (
            np.int64(1_700_000_000) * 10**9 + rng.permutation(4) * 10**9 + 1)
    columns = [f"item{i}" for i in range(8)]
    frame = pd.DataFrame(keys, columns=columns)
    model = GRU4Rec(n_components=4, max_len=4, max_iter=1, random_state=0,
                    early_stopping=False).fit(frame)
    assert list(model.feature_names_in_) == columns
    with pytest.raises(ValueError, match="feature names should match"):
        model.decision_function(frame[columns[::-1]])
    # the ranks keep each row's order: the same scores as the keys in seconds
    seconds = pd.DataFrame(np.where(keys > 0, keys // 10**9, 0).astype(float), columns=columns)
    np.testing.assert_allclose(model.decision_function(frame),
                               model.decision_function(seconds), rtol=1e-6)
