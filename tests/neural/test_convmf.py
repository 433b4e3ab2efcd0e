"""ConvMF: the prior least-squares kernel against dense solves, the NumPy text CNN against a
loop reference, cold and new items ranked from their text, documents that model selection
never slices, rating prediction, reproducibility and serving without TensorFlow."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from sklearn_recsys import ConvMF, make_interactions
from sklearn_recsys.utils._solvers import prior_cg_sweep, prior_ls_sweep
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.neural._text_cnn import forward, init_weights
from sklearn_recsys.preprocessing import RatingBinarizer

SMALL_CNN = dict(embedding_dim=8, window_sizes=(1, 2), n_filters=6, hidden_layer_sizes=(8,),
                 max_df=1.0, batch_size=16)


@pytest.mark.parametrize("explicit", [True, False])
def test_prior_ls_sweep_is_the_dense_solution(explicit):
    rng = np.random.default_rng(0)
    R = sp.random(12, 9, density=0.4, random_state=1, format="csr") * 5
    R.data = np.ceil(R.data)
    Y = rng.normal(size=(9, 3))
    prior = rng.normal(size=(12, 3))
    lam, scale = 2.0, 3.0
    G = lam * np.eye(3) + (0 if explicit else Y.T @ Y)
    X = np.zeros((12, 3))
    prior_ls_sweep(R.indptr, R.indices, R.data, X, Y, G, prior, lam, scale, explicit,
                   np.empty(0))
    for u in range(12):
        idx, r = R[u].indices, R[u].data
        w, t = (np.ones_like(r), r) if explicit else (scale * r, 1 + scale * r)
        A = G + (Y[idx].T * w) @ Y[idx]
        expected = np.linalg.solve(A, Y[idx].T @ t + lam * prior[u])
        assert_allclose(X[u], expected, rtol=1e-10, atol=1e-12)
    empty = np.flatnonzero(np.diff(R.indptr) == 0)
    if explicit and len(empty):  # a row without entries sits at its prior mean
        assert_allclose(X[empty], prior[empty])
    # conjugate gradient reaches the same solution in k steps (k = 3 factors)
    X_cg = np.zeros((12, 3))
    prior_cg_sweep(R.indptr, R.indices, R.data, X_cg, Y, G, prior, lam, scale, explicit, 3,
                   np.empty(0))
    assert_allclose(X_cg, X, rtol=1e-8, atol=1e-10)
    one_step = np.zeros((12, 3))
    prior_cg_sweep(R.indptr, R.indices, R.data, one_step, Y, G, prior, lam, scale, explicit,
                   1, np.empty(0))
    assert not np.allclose(one_step, X)


@pytest.mark.parametrize("explicit", [True, False])
def test_prior_sweeps_weight_each_rows_prior(explicit):
    """Row u's prior precision is lam * w_u: the minimiser of its errors plus
    w_u lam ||x_u - prior[u]||^2, with G holding lam I (Kim et al.'s item weights)."""
    rng = np.random.default_rng(2)
    R = sp.random(12, 9, density=0.4, random_state=3, format="csr") * 5
    R.data = np.ceil(R.data)
    Y = rng.normal(size=(9, 3))
    prior = rng.normal(size=(12, 3))
    weights = rng.uniform(0.2, 3.0, size=12)
    lam, scale = 2.0, 3.0
    G = lam * np.eye(3) + (0 if explicit else Y.T @ Y)
    X = np.zeros((12, 3))
    prior_ls_sweep(R.indptr, R.indices, R.data, X, Y, G, prior, lam, scale, explicit, weights)
    for u in range(12):
        idx, r = R[u].indices, R[u].data
        c, t = (np.ones_like(r), r) if explicit else (scale * r, 1 + scale * r)
        gram = 0 if explicit else Y.T @ Y
        A = gram + weights[u] * lam * np.eye(3) + (Y[idx].T * c) @ Y[idx]
        expected = np.linalg.solve(A, Y[idx].T @ t + weights[u] * lam * prior[u])
        assert_allclose(X[u], expected, rtol=1e-10, atol=1e-12)
    X_cg = np.zeros((12, 3))
    prior_cg_sweep(R.indptr, R.indices, R.data, X_cg, Y, G, prior, lam, scale, explicit, 3,
                   weights)
    assert_allclose(X_cg, X, rtol=1e-8, atol=1e-10)
    # weights of 1 are the unweighted sweep, to the bit
    for sweep, extra in ((prior_ls_sweep, ()), (prior_cg_sweep, (2,))):
        ones, plain = np.zeros((12, 3)), np.zeros((12, 3))
        sweep(R.indptr, R.indices, R.data, ones, Y, G, prior, lam, scale, explicit, *extra,
              np.ones(12))
        sweep(R.indptr, R.indices, R.data, plain, Y, G, prior, lam, scale, explicit, *extra,
              np.empty(0))
        assert_array_equal(ones, plain)


def _loop_cnn(weights, windows, seq):
    """Reference forward pass of one document, window by window."""
    length = max(1, int(np.max(np.flatnonzero(seq), initial=-1)) + 1)
    emb = weights["embedding"][seq]
    pooled = []
    for w in windows:
        K, b = weights[f"conv{w}"], weights[f"conv{w}_bias"]
        starts = range(max(1, length - w + 1))
        pooled.append(np.max([np.maximum(np.einsum("we,wef->f", emb[t:t + w], K) + b, 0)
                              for t in starts], axis=0))
    h = np.tanh(np.concatenate(pooled) @ weights["dense"] + weights["dense_bias"])
    return np.tanh(h @ weights["projection"] + weights["projection_bias"])


def test_numpy_cnn_matches_loop_reference_and_ignores_padding():
    rng = np.random.RandomState(0)
    weights = init_weights(rng, 20, 5, (2, 3), 4, 6, 3)
    for name in weights:  # non-zero biases so that padding would show
        if name.endswith("bias"):
            weights[name] = rng.normal(size=weights[name].shape).astype(np.float32)
    seqs = np.array([[3, 5, 7, 9, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0],
                     [0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7, 19]])
    out = forward(weights, (2, 3), seqs)
    for i, seq in enumerate(seqs):
        assert_allclose(out[i], _loop_cnn(weights, (2, 3), seq), rtol=1e-5, atol=1e-6)
    padded = np.hstack([seqs, np.zeros((4, 30), dtype=int)])
    assert_allclose(forward(weights, (2, 3), padded), out, rtol=1e-6)
    assert_allclose(forward(weights, (2, 3), seqs, batch_size=1), out, rtol=1e-6)
    # sequences narrower than the widest window (3) are padded, not a crash
    assert_allclose(forward(weights, (2, 3), seqs[1:3, :2]), out[1:3], rtol=1e-6)


def test_documents_narrower_than_the_widest_window_fit_and_score():
    """Index sequences of width 2 under windows (3, 4, 5) crashed fit with 'zero-size
    array to reduction operation maximum' (so did texts with max_length=2)."""
    X, docs, _, _ = _two_topics()
    kw = dict(n_components=3, max_iter=1, cnn_epochs=1, feedback="implicit", random_state=0,
              **{**SMALL_CNN, "window_sizes": (3, 4, 5)})
    texts = ConvMF(documents=docs, max_length=2, **kw).fit(X)
    seqs = texts.sequencer_.transform(docs)
    assert seqs.shape[1] == 2
    on_seqs = ConvMF(documents=seqs, **kw).fit(X)
    for model, documents in ((texts, docs[:4]), (on_seqs, seqs[:4])):
        factors = model.document_factors(documents)
        assert factors.shape == (4, 3) and np.isfinite(factors).all()


def _two_topics(n_users=80, n_items=40, seed=0):
    """Users like one of two item topics; documents name the topic."""
    rng = np.random.default_rng(seed)
    topic = np.arange(n_items) % 2
    user_topic = np.arange(n_users) % 2
    like = (user_topic[:, None] == topic[None, :]) & (rng.random((n_users, n_items)) < 0.5)
    words = [["galaxy", "starship", "orbit", "alien"], ["wedding", "romance", "kiss", "love"]]
    docs = [" ".join(rng.choice(words[t], 3)) + f" item{j}" for j, t in enumerate(topic)]
    return sp.csr_matrix(like.astype(float)), docs, topic, user_topic


def _two_topics_with_cold_items():
    """``_two_topics`` with items 30..39 left without interactions (new items)."""
    X, docs, topic, user_topic = _two_topics()
    cold = np.arange(30, 40)
    X = X.tolil()
    X[:, cold] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    return X, docs, topic, user_topic, cold


def test_the_cnn_is_trained_on_cold_items_at_their_own_text(monkeypatch):
    """A new item's factors are its text's: the CNN's target for it is its own output, not
    the solve against the implicit Gram that counts it a negative of every user."""
    from sklearn_recsys.neural import _convmf

    X, docs, _, _, cold = _two_topics_with_cold_items()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", alpha_user=0.1,
                   alpha_item=1.0, max_iter=3, cnn_epochs=2, learning_rate_init=1e-2,
                   random_state=0, **SMALL_CNN)
    targets, train = [], _convmf.CNNTrainer.train

    def spy(self, seqs, factors, rng, sample_weight=None):
        targets.append((factors[cold].copy(), model.document_factors_[cold].copy()))
        return train(self, seqs, factors, rng, sample_weight)

    monkeypatch.setattr(_convmf.CNNTrainer, "train", spy)
    model.fit(X)
    assert len(targets) == 3
    for target, text in targets:
        assert_allclose(target, text)
        assert np.abs(text).mean() > 0.01  # not the shrunk solve's ~0.003


def test_cold_and_new_items_are_ranked_from_their_text():
    X_train, docs, topic, user_topic, cold = _two_topics_with_cold_items()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", alpha_user=0.1,
                   alpha_item=1.0, max_iter=8, cnn_epochs=10, learning_rate_init=1e-2,
                   random_state=0, **SMALL_CNN).fit(X_train)
    assert_array_equal(model.cold_items_, cold)
    assert_allclose(model.item_factors_[cold], model.document_factors_[cold])
    top, _ = model.recommend(X_train, k=1, candidates=cold)
    assert np.mean(topic[top[:, 0]] == user_topic) >= 0.9
    # without documents a cold item carries no signal: every score is 0
    plain = ConvMF(n_components=4, feedback="implicit", alpha_user=0.1, alpha_item=1.0,
                   max_iter=8, random_state=0).fit(X_train)
    assert_allclose(plain.decision_function(X_train)[:, cold], 0.0)
    # items outside the catalogue, from text, get indices n_items + j
    new_docs = ["galaxy orbit alien", "romance kiss wedding"]
    idx, scores = model.recommend(X_train, k=1, candidates=[40, 41], new_items=new_docs)
    assert np.mean(idx[:, 0] - 40 == user_topic) >= 0.9
    same = model.recommend(X_train[:3], k=1, candidates=[40], new_items=[docs[31]])[1]
    expected = model.decision_function(X_train[:3])[:, 31:32]
    assert_allclose(same, expected, rtol=1e-5)


def test_explicit_fold_in_and_predicted_ratings():
    X, docs, _, _ = _two_topics()
    R = X.copy()
    R.data = np.where(np.arange(R.nnz) % 3 == 0, 3.0, 5.0)
    model = ConvMF(n_components=3, documents=docs, alpha_user=1.0, alpha_item=5.0, max_iter=3,
                   random_state=0, **SMALL_CNN).fit(R)
    assert model.global_mean_ == pytest.approx(R.data.mean())
    assert_allclose(model.transform(R), model.user_factors_, rtol=1e-4, atol=1e-5)
    pred = model.predict_ratings(R[:5], items=[0, 7])
    raw = model.global_mean_ + model.user_factors_[:5] @ model.item_factors_[[0, 7]].T
    assert_allclose(pred, np.clip(raw, 3, 5), rtol=1e-4, atol=1e-5)
    implicit = ConvMF(n_components=3, feedback="implicit", max_iter=1).fit(R)
    with pytest.raises(ValueError, match="feedback='explicit'"):
        implicit.predict_ratings(R)


def test_same_seed_same_model_and_pickle_serves_without_tensorflow(tmp_path):
    X, docs, _, _ = _two_topics()
    params = dict(n_components=3, documents=docs, feedback="implicit", max_iter=2,
                  random_state=0, **SMALL_CNN)
    a, b = ConvMF(**params).fit(X), ConvMF(**params).fit(X)
    assert_array_equal(a.item_factors_, b.item_factors_)
    for name in a.cnn_weights_:
        assert_array_equal(a.cnn_weights_[name], b.cnn_weights_[name])
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(a))
    np.save(tmp_path / "X.npy", X[:10].toarray())
    expected = a.recommend(X[:10], k=3, new_items=["galaxy love"])[0]
    code = f"""
import sys
sys.modules["tensorflow"] = None
import pickle, numpy as np
model = pickle.loads(open({str(path)!r}, "rb").read())
idx, _ = model.recommend(np.load({str(tmp_path / "X.npy")!r}), k=3, new_items=["galaxy love"])
np.save({str(tmp_path / "idx.npy")!r}, idx)
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    assert_array_equal(np.load(tmp_path / "idx.npy"), expected)


def test_grid_search_in_pipeline_never_slices_documents_square_matrix():
    # n_items == n_users: a fit argument of that length would be split by users
    X, docs, _, _ = _two_topics(n_users=40, n_items=40)
    X.data[:] = np.where(np.arange(X.nnz) % 2, 5.0, 2.0)
    pipe = make_pipeline(RatingBinarizer(threshold=4),
                         ConvMF(n_components=3, documents=docs, feedback="implicit",
                                max_iter=2, random_state=0, **SMALL_CNN))
    search = GridSearchCV(pipe, {"convmf__alpha_item": [1.0, 10.0]},
                          scoring=get_ranking_scorer("ndcg@10"),
                          cv=KFold(2, shuffle=True, random_state=0)).fit(X)
    fitted = search.best_estimator_[-1]
    assert len(fitted.documents) == 40 and fitted.document_factors_.shape == (40, 3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_sequences_and_word_vectors():
    X, docs, _, _ = _two_topics()
    X.data = 1.0 + np.arange(X.nnz) % 5  # ratings: the default feedback is explicit
    vectors = {"galaxy": np.full(8, 0.5), "romance": np.full(8, -0.5)}
    model = ConvMF(n_components=3, documents=docs, word_vectors=vectors, max_iter=1,
                   cnn_epochs=1, learning_rate_init=1e-12, random_state=0,
                   **SMALL_CNN).fit(X)
    vocab = list(model.sequencer_.vocabulary_)
    emb = model.cnn_weights_["embedding"]
    assert_allclose(emb[vocab.index("galaxy") + 1], 0.5, atol=1e-6)
    assert_allclose(emb[vocab.index("romance") + 1], -0.5, atol=1e-6)
    assert_allclose(emb[0], 0.0)
    seqs = model.sequencer_.transform(docs)
    table = np.random.default_rng(0).normal(size=(seqs.max() + 1, 8))
    on_seqs = ConvMF(n_components=3, documents=seqs, word_vectors=table, max_iter=1,
                     random_state=0, **SMALL_CNN).fit(X)
    assert on_seqs.sequencer_ is None
    assert on_seqs.document_factors(seqs[:2]).shape == (2, 3)


def test_bad_documents_and_use_errors():
    X, docs, _, _ = _two_topics()
    X.data = 1.0 + np.arange(X.nnz) % 5  # ratings: the default feedback is explicit
    with pytest.raises(ValueError, match="documents has 39 entries but X has 40 items"):
        ConvMF(documents=docs[:-1], max_iter=1).fit(X)
    with pytest.raises(ValueError, match="embedding_dim=8"):
        ConvMF(documents=docs, word_vectors={"galaxy": np.ones(3)}, max_iter=1,
               **SMALL_CNN).fit(X)
    with pytest.raises(TypeError, match="must be a dict"):
        ConvMF(documents=docs, word_vectors=np.ones((5, 8)), max_iter=1, **SMALL_CNN).fit(X)
    with pytest.raises(TypeError, match="Every document must be a str"):
        ConvMF(documents=[1] * 40, max_iter=1).fit(X)
    # arrays of numbers are sequences: float ones (np.loadtxt) and 1-D ones said
    # 'Every document must be a str; got ndarray'; all padding was accepted
    for seqs, what in ((np.ones((40, 6)), "2-D array of float64"),
                       (np.ones(40, dtype=int), "1-D array of int64")):
        with pytest.raises(ValueError, match=f"word-index sequences.*got a {what}"):
            ConvMF(documents=seqs, max_iter=1, **SMALL_CNN).fit(X)
    with pytest.raises(ValueError, match="hold only padding"):
        ConvMF(documents=np.zeros((40, 6), dtype=int), max_iter=1, **SMALL_CNN).fit(X)
    for sizes in [("a",), (2.5,), ()]:
        with pytest.raises(ValueError, match="window_sizes must be a non-empty tuple"):
            ConvMF(documents=docs, max_iter=1, **{**SMALL_CNN, "window_sizes": sizes}).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a tuple of positive"):
        ConvMF(documents=docs, max_iter=1, **{**SMALL_CNN, "hidden_layer_sizes": (0,)}).fit(X)
    # a repeated width read one kernel twice (the CNN keeps one per width)
    with pytest.raises(ValueError, match=r"must not repeat a width, got \(2, 2\)"):
        ConvMF(documents=docs, max_iter=1, **{**SMALL_CNN, "window_sizes": (2, 2)}).fit(X)
    # left padding (keras' default) was read as words: 40% of a factor in the audit's case
    seqs = np.tile([[0, 0, 3, 5], [2, 4, 1, 0]], (20, 1))
    with pytest.raises(ValueError, match=r"20 sequence\(s\) start with padding.*'post'"):
        ConvMF(documents=seqs, max_iter=1, **SMALL_CNN).fit(X)
    fitted = ConvMF(documents=np.tile([[3, 5, 0, 0], [2, 4, 1, 0]], (20, 1)), n_components=3,
                    max_iter=1, cnn_epochs=1, **SMALL_CNN).fit(X)
    with pytest.raises(ValueError, match="start with padding"):
        fitted.document_factors(np.array([[0, 3, 5]]))
    plain = ConvMF(n_components=3, max_iter=1).fit(X)
    with pytest.raises(ValueError, match="fitted without documents"):
        plain.document_factors(["text"])
    with pytest.raises(ValueError, match="documents=... before fit"):
        plain.recommend(X, new_items=["text"])


def test_verbose_and_early_stopping_keep_the_best_iteration(capsys):
    X, docs, _, _ = _two_topics()
    X.data[:] = np.where(np.arange(X.nnz) % 3, 4.0, 2.0)
    X = sp.csr_matrix(X @ sp.diags((np.arange(40) < 36).astype(float)))
    X.eliminate_zeros()  # items 36..39 are cold
    model = ConvMF(n_components=3, documents=docs, alpha_user=0.3, alpha_item=3.0, max_iter=4,
                   early_stopping=True, n_iter_no_change=4, verbose=1, random_state=0,
                   **SMALL_CNN).fit(X)
    err = capsys.readouterr()
    text = err.out + err.err
    assert "ConvMF" in text and "val_neg_rmse" in text and "4/4" in text
    scores = model.validation_scores_
    assert len(scores) == 4 and all(s < 0 for s in scores)  # minus the validation RMSE
    assert model.best_iteration_ == int(np.argmax(scores)) + 1
    # the kept iteration's items and CNN belong together: cold items equal their CNN output
    assert_array_equal(model.cold_items_, [36, 37, 38, 39])
    assert_allclose(model.item_factors_[model.cold_items_],
                    model.document_factors_[model.cold_items_])


def test_cg_solver_fits_like_the_exact_one():
    X, docs, topic, user_topic = _two_topics()
    exact = ConvMF(n_components=4, feedback="implicit", alpha_user=0.1, alpha_item=1.0,
                   max_iter=10, random_state=0).fit(X)
    cg = ConvMF(n_components=4, feedback="implicit", alpha_user=0.1, alpha_item=1.0,
                max_iter=10, solver="cg", random_state=0).fit(X)
    # 3 CG steps on a 4-factor system, warm-started: the iterates are almost exact
    s_exact, s_cg = exact.decision_function(X), cg.decision_function(X)
    assert np.corrcoef(s_exact.ravel(), s_cg.ravel())[0, 1] > 0.99
    # users still prefer their own topic
    top = cg.recommend(X, k=1)[0][:, 0]
    assert np.mean(topic[top] == user_topic) >= 0.95


def test_similar_items_keeps_cold_items_that_have_text():
    X, docs, topic, _ = _two_topics()
    X = X.tolil()
    X[:, 3] = 0  # item 3: no interaction, but a document
    X = X.tocsr()
    X.eliminate_zeros()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", max_iter=2,
                   cnn_epochs=2, random_state=0, **SMALL_CNN).fit(X)
    idx, _ = model.similar_items([3], k=5)
    assert (idx >= 0).all()  # a cold item with text has neighbours
    model.set_params(documents=None)  # not refitted: the fitted CNN still gives them
    assert_array_equal(model.similar_items([3], k=5)[0], idx)
    plain = ConvMF(n_components=4, feedback="implicit", max_iter=2, random_state=0).fit(X)
    assert (plain.similar_items([3], k=5)[0] == -1).all()  # without text it has none


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_explain_is_the_exact_decomposition_of_the_fold_in(feedback):
    X, _, _, _ = _two_topics()
    if feedback == "explicit":
        X.data = np.where(np.arange(X.nnz) % 3 == 0, 3.0, 5.0)
    X_train = X.tolil()
    X_train[:, 38:] = 0  # new items: left out of the implicit fold-in
    X_train = sp.csr_matrix(X_train)
    model = ConvMF(n_components=4, feedback=feedback, alpha_user=0.5, max_iter=4,
                   dtype=np.float64, random_state=0).fit(X_train)
    offset = model.global_mean_
    for item in (0, 3, 38):
        items, contrib = model.explain(X_train[5], item)
        assert_array_equal(np.sort(items), X_train[5].indices)
        assert np.all(np.diff(contrib) <= 0)
        score = model.decision_function(X_train[5])[0, item]
        assert_allclose(contrib.sum(), score - offset, rtol=1e-7, atol=1e-10)


def test_cnn_gradient_matches_finite_differences():
    from sklearn_recsys.neural._text_cnn import embedded_gradient

    rng = np.random.RandomState(0)
    weights = init_weights(rng, 20, 5, (1, 2, 3), 4, 6, 3)
    for name in ("conv1_bias", "conv2_bias", "conv3_bias", "dense_bias"):
        weights[name] = rng.uniform(0.0, 0.3, weights[name].shape).astype(np.float32)
    emb = rng.normal(0, 0.5, (1, 6, 5))
    emb[0, 4:] = 0.0  # a document of length 4, padded to 6
    direction = rng.normal(size=3)
    score, grad = embedded_gradient(weights, (1, 2, 3), emb, 4, direction)
    h = 1e-6
    numeric = np.zeros_like(emb)
    for p in range(6):
        for d in range(5):
            e = np.zeros_like(emb)
            e[0, p, d] = h
            numeric[0, p, d] = (embedded_gradient(weights, (1, 2, 3), emb + e, 4, direction)[0]
                                - embedded_gradient(weights, (1, 2, 3), emb - e, 4,
                                                    direction)[0])[0] / (2 * h)
    assert_allclose(grad[:, :4], numeric[:, :4], rtol=1e-4, atol=1e-7)
    # the score is the NumPy serving forward pass's
    seq = np.array([3, 7, 1, 9, 0, 0])
    emb2 = weights["embedding"][seq][None].astype(np.float64)
    assert score.shape == (1,)
    assert embedded_gradient(weights, (1, 2, 3), emb2, 4, direction)[0][0] == pytest.approx(
        float((forward(weights, (1, 2, 3), seq[None]) @ direction)[0]), rel=1e-5)


def test_explain_text_names_the_topic_words_and_is_complete():
    X, docs, topic, user_topic = _two_topics()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", alpha_user=0.1,
                   alpha_item=1.0, max_iter=8, cnn_epochs=10, learning_rate_init=1e-2,
                   random_state=0, **SMALL_CNN).fit(X)
    space_user = X[np.flatnonzero(user_topic == 0)[0]]
    document = "galaxy orbit romance kiss"
    words, contrib = model.explain_text(space_user, document)
    assert sorted(words) == ["galaxy", "kiss", "orbit", "romance"]
    assert np.all(np.diff(contrib) <= 0)
    ranks = {w: r for r, w in enumerate(words)}
    assert max(ranks["galaxy"], ranks["orbit"]) < min(ranks["romance"], ranks["kiss"])
    # complete up to the quadrature: the score of the text minus that of an empty one
    user = model.transform(space_user)[0]
    factors = model.document_factors([document, "unknownword"])  # no known word: padding
    gap = float(user @ (factors[0] - factors[1]))
    assert contrib.sum() == pytest.approx(gap, rel=2e-3)  # float32 factors
    with pytest.raises(ValueError, match="one text"):
        model.explain_text(space_user, [document, document])


def test_a_scored_user_reads_items_new_in_fit_from_their_text():
    """The implicit fold-in read an item without training interactions as factors 0 in the
    scored rows too: a user who took new items (recommended from their text) was scored as
    if they had not, and a user of new items only got popularity. Such an item now enters
    the rows that hold it with its whole confidence term (it stays out of the shared Gram)."""
    X_train, docs, topic, user_topic, cold = _two_topics_with_cold_items()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", alpha_user=0.1,
                   alpha_item=1.0, max_iter=8, cnn_epochs=10, learning_rate_init=1e-2,
                   dtype=np.float64, random_state=0, **SMALL_CNN).fit(X_train)
    V, warm = model.item_factors_, ~np.isin(np.arange(40), cold)
    x = sp.csr_matrix(np.isin(np.arange(40), [2, 4, cold[0], cold[2]]).astype(float))
    # the solve of Hu et al. over the warm items' Gram plus the row's own terms
    c = 1.0 + model.confidence_scale
    A = V[warm].T @ V[warm] + model.alpha_user * np.eye(4)
    for j in x.indices:
        A += (c - warm[j]) * np.outer(V[j], V[j])
    u = np.linalg.solve(A, c * V[x.indices].sum(axis=0))
    assert_allclose(model.transform(x)[0], u, rtol=1e-10)
    assert_allclose(model.decision_function(x)[0], V @ u, rtol=1e-10)
    # the row without its new items folds in otherwise
    without_new = x.toarray()
    without_new[:, cold] = 0
    assert not np.allclose(model.transform(without_new)[0], u)
    for item in (6, cold[4]):
        items, contrib = model.explain(x, item)
        assert_allclose(contrib.sum(), V[item] @ u, rtol=1e-9)
        assert np.all(contrib[np.isin(items, cold)] != 0)
    # a user of new items only is ranked from their text: their topic's items first
    only_new = sp.csr_matrix(np.isin(np.arange(40), cold[topic[cold] == 0][:3]).astype(float))
    top = model.recommend(only_new, k=10)[0][0]
    assert np.mean(topic[top] == 0) >= 0.9


def test_implicit_loss_curve_is_the_objective_the_solves_minimise():
    """loss_curve_ counted each new item as a negative of every user, which the solves
    leave out: 632.2 reported against 503.6 minimised in the audit's case."""
    X, docs, _, _, cold = _two_topics_with_cold_items()
    model = ConvMF(n_components=4, documents=docs, feedback="implicit", alpha_user=0.1,
                   alpha_item=1.0, max_iter=3, cnn_epochs=2, learning_rate_init=1e-2,
                   dtype=np.float64, random_state=0, **SMALL_CNN).fit(X)
    U, V = model.user_factors_, model.item_factors_
    warm = ~np.isin(np.arange(40), cold)
    P = X.toarray()
    C = 1.0 + model.confidence_scale * P
    error = np.sum((C * ((P > 0) - U @ V.T) ** 2)[:, warm])
    # the default item weights (a new item's factors are its prior: no deviation)
    w = _sqrt_count_weights(X)
    penalty = (model.alpha_user * np.sum(U ** 2)
               + model.alpha_item * np.sum(w[:, None] * (V - model.document_factors_) ** 2))
    assert_allclose(model.loss_curve_[-1], 0.5 * (error + penalty), rtol=1e-6)


def _sqrt_count_weights(X):
    """Kim et al.'s item weights: sqrt of the rating count, mean 1 over rated items."""
    counts = np.bincount(X.indices, minlength=X.shape[1])
    root = np.sqrt(counts)
    return root * np.count_nonzero(counts) / root.sum()


def test_sqrt_count_weights_the_item_step_prior_and_the_cnn_loss(monkeypatch):
    """item_weighting="sqrt_count": each rated item's least-squares step pulls it to its
    document's factors with precision alpha_item * w_j, the CNN's loss weighs its term by
    w_j (a new item's by 0), and loss_curve_ is the weighted objective."""
    from sklearn_recsys.neural import _convmf

    X, docs, _, _, cold = _two_topics_with_cold_items()
    R = X.copy()
    R.data = np.random.default_rng(0).integers(1, 6, R.nnz).astype(float)
    model = ConvMF(n_components=3, documents=docs, alpha_user=0.5, alpha_item=4.0,
                   item_weighting="sqrt_count", max_iter=2, cnn_epochs=1, dtype=np.float64,
                   random_state=0, **SMALL_CNN)
    steps, sample_weights = [], []
    item_step, train = ConvMF._item_step, _convmf.CNNTrainer.train

    def spy_step(self, ctx):
        before = (self.user_factors_.copy(), ctx.prior.copy())
        item_step(self, ctx)
        steps.append((*before, self.item_factors_.copy()))

    def spy_train(self, seqs, factors, rng, sample_weight=None):
        sample_weights.append(sample_weight)
        return train(self, seqs, factors, rng, sample_weight)

    monkeypatch.setattr(ConvMF, "_item_step", spy_step)
    monkeypatch.setattr(_convmf.CNNTrainer, "train", spy_train)
    model.fit(R)
    w = _sqrt_count_weights(R)
    assert w[cold].sum() == 0 and w.max() > 1.2 * w[w > 0].min()  # weights that differ
    for weight in sample_weights:
        assert_allclose(weight, w)
    Rt, mu = R.T.tocsr(), model.global_mean_
    for U, prior, V in steps:
        for j in np.setdiff1d(np.arange(40), cold):
            Uj = U[Rt[j].indices]
            A = Uj.T @ Uj + model.alpha_item * w[j] * np.eye(3)
            expected = np.linalg.solve(A, Uj.T @ (Rt[j].data - mu)
                                       + model.alpha_item * w[j] * prior[j])
            assert_allclose(V[j], expected, rtol=1e-8, atol=1e-10)
        assert_allclose(V[cold], prior[cold])
    U, V = model.user_factors_, model.item_factors_
    rows = np.repeat(np.arange(R.shape[0]), np.diff(R.indptr))
    error = np.sum((R.data - mu - np.einsum("ij,ij->i", U[rows], V[R.indices])) ** 2)
    penalty = (model.alpha_user * np.sum(U ** 2) + model.alpha_item
               * np.sum(w[:, None] * (V - model.document_factors_) ** 2))
    assert_allclose(model.loss_curve_[-1], 0.5 * (error + penalty), rtol=1e-6)


def test_a_zero_weight_documents_target_does_not_train_the_cnn():
    from sklearn_recsys.neural._tf import import_tensorflow
    from sklearn_recsys.neural._text_cnn import CNNTrainer

    tf = import_tensorflow()
    rng = np.random.RandomState(0)
    seqs = rng.randint(1, 20, size=(10, 4)).astype(np.int32)
    targets = rng.normal(0, 0.3, size=(10, 3)).astype(np.float32)
    moved = targets.copy()
    moved[4] += 5.0  # only document 4's target differs

    def trained(y, sample_weight):
        weights = init_weights(np.random.RandomState(1), 20, 5, (1, 2), 4, 6, 3)
        trainer = CNNTrainer(tf, weights, (1, 2), 0.5, 1e-2, 4, 2, 6)
        trainer.train(seqs, y, np.random.RandomState(2), sample_weight)
        return trainer.weights()

    zero = np.ones(10)
    zero[4] = 0.0
    a, b = trained(targets, zero), trained(moved, zero)
    for name in a:
        assert_array_equal(a[name], b[name])
    c, d = trained(targets, None), trained(moved, None)
    assert not np.allclose(c["projection"], d["projection"])
    # weights of 1 are no weights, to the bit
    e = trained(targets, np.ones(10))
    for name in c:
        assert_array_equal(c[name], e[name])


def test_sqrt_count_on_items_rated_alike_is_the_unweighted_model():
    rows = np.repeat(np.arange(40), 5)
    cols = (rows + np.tile([0, 3, 7, 12, 20], 40)) % 40
    ratings = 1.0 + (rows * 7 + cols) % 5
    R = sp.csr_matrix((ratings, (rows, cols)), shape=(40, 40))
    assert len(set(np.diff(R.tocsc().indptr))) == 1  # every item rated 5 times
    _, docs, _, _ = _two_topics()
    kw = dict(n_components=3, documents=docs, alpha_item=4.0, max_iter=2, cnn_epochs=1,
              random_state=0, **SMALL_CNN)
    plain = ConvMF(item_weighting=None, **kw).fit(R)
    weighted = ConvMF(item_weighting="sqrt_count", **kw).fit(R)
    assert_allclose(weighted.item_factors_, plain.item_factors_, rtol=1e-5, atol=1e-6)
    assert_allclose(weighted.user_factors_, plain.user_factors_, rtol=1e-5, atol=1e-6)


def test_without_documents_item_weighting_leaves_plain_pmf():
    """PMF's prior means are all 0: no document to weigh, every item's ridge alike."""
    X, _, _, _ = _two_topics()
    R = X.copy()
    R.data = np.random.default_rng(1).integers(1, 6, R.nnz).astype(float)
    R = R[:, :35]  # items of unequal counts (the first 35 columns)
    kw = dict(n_components=3, alpha_item=4.0, max_iter=3, random_state=0)
    weighted = ConvMF(item_weighting="sqrt_count", **kw).fit(R)
    assert_array_equal(weighted.item_factors_, ConvMF(item_weighting=None, **kw).fit(R)
                       .item_factors_)
    assert np.ptp(np.diff(R.tocsc().indptr)) > 3


def test_per_item_tables_indexed_by_item_id_are_refused():
    """A Series of documents indexed by raw item id was read by position: with an
    encoder's sorted columns, 34 of 36 items were trained on another item's text."""
    import pandas as pd

    from sklearn_recsys import HybridMF

    X, docs, _, _ = _two_topics()
    by_id = pd.Series(docs, index=[f"movie{j}" for j in range(40)])
    model = ConvMF(n_components=4, documents=by_id, feedback="implicit", max_iter=1,
                   cnn_epochs=1, **SMALL_CNN)
    with pytest.raises(ValueError, match=r"documents is a pandas Series whose index is not "
                       r"its row positions.*reindex\(encoder.item_ids_\)"):
        model.fit(X)
    genres = pd.DataFrame(np.eye(40)[:, :3], index=np.arange(40)[::-1])
    with pytest.raises(ValueError, match="item_features is a pandas DataFrame"):
        HybridMF(n_components=4, item_features=genres, max_iter=1).fit(X)
    # in column order (the default index, or its values) they are read as before
    HybridMF(n_components=4, item_features=genres.reset_index(drop=True), max_iter=1).fit(X)
    model.set_params(documents=by_id.reset_index(drop=True)).fit(X)
    assert model.document_factors_.shape == (40, 4)


def test_explain_text_is_complete_on_a_two_word_title():
    """256 midpoint steps missed the score change of 'w35 w2' by 8.6% (documented: a few
    1e-3); the quadrature is now refined until the sum is within 1e-3 of the change."""
    X = make_interactions(n_users=120, n_items=30, density=0.15, random_state=0)
    rng = np.random.RandomState(0)
    vocab = [f"w{i}" for i in range(40)]
    docs = [" ".join(rng.choice(vocab, 12)) for _ in range(30)]
    model = ConvMF(documents=docs, feedback="implicit", n_components=4, max_iter=2,
                   cnn_epochs=1, embedding_dim=8, n_filters=4, window_sizes=(2, 3),
                   hidden_layer_sizes=(8,), max_df=1.0, random_state=0).fit(X)
    user = model.transform(X[0])[0].astype(np.float64)
    factors = model.document_factors(["w35 w2", ""]).astype(np.float64)
    words, contrib = model.explain_text(X[0], "w35 w2")
    assert contrib.sum() == pytest.approx(user @ (factors[0] - factors[1]), rel=5e-3)
