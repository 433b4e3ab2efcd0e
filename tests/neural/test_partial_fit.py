"""partial_fit of the multinomial autoencoders: chunks of users repeat fit's epochs."""

import pickle

import numpy as np
import pytest

from sklearn_recsys import CDAE, MultDAE, MultVAE, make_interactions

pytest.importorskip("tensorflow")


def _model(cls, **params):
    return cls(hidden_layer_sizes=(12,), n_components=6, batch_size=32, shuffle=False,
               early_stopping=False, random_state=0, **params)


@pytest.mark.parametrize("cls, params", [(MultDAE, {}),
                                         (MultVAE, {"total_anneal_steps": 5})])
def test_one_pass_over_chunks_equals_fit_on_their_concatenation(cls, params):
    """Same seed, same batches: weights, Adam's moments, the generator (dropout and the
    VAE's noise) and the annealing count carry over between calls."""
    X = make_interactions(160, 50, density=0.1, random_state=2)
    chunks = [X[:64], X[64:128], X[128:]]  # 2 + 2 + 1 batches of 32
    epochs = 2
    full = _model(cls, max_iter=epochs, **params).fit(X)
    part = _model(cls, **params)
    for _ in range(epochs):
        for chunk in chunks:
            part.partial_fit(chunk)
    for a, b in zip(full.coefs_ + full.intercepts_, part.coefs_ + part.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(part.decision_function(X), full.decision_function(X),
                               rtol=1e-4, atol=1e-5)
    assert part.n_iter_ == epochs * len(chunks) and len(part.loss_curve_) == part.n_iter_
    # a different chunking changes the batches (not a test that cannot fail)
    other = _model(cls, **params)
    for _ in range(epochs):
        for chunk in (X[:48], X[48:]):
            other.partial_fit(chunk)
    assert not np.allclose(other.coefs_[0], full.coefs_[0], atol=1e-6)


def test_partial_fit_state_pickles_and_resumes():
    X = make_interactions(128, 40, density=0.1, random_state=0)
    a = _model(MultDAE).partial_fit(X[:64])
    b = pickle.loads(pickle.dumps(a))
    a.partial_fit(X[64:])
    b.partial_fit(X[64:])
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], rtol=1e-6)


def test_partial_fit_checks_the_items_and_propensities():
    X = make_interactions(64, 40, density=0.1, random_state=0)
    model = _model(MultDAE).partial_fit(X)
    with pytest.raises(ValueError, match="40 features"):
        model.partial_fit(X[:, :30])
    with pytest.raises(ValueError, match="propensity_power"):
        _model(MultDAE, propensity_power=0.5).partial_fit(X)
    with pytest.raises(ValueError, match="long_tail_weight"):
        _model(MultVAE, long_tail_weight=1.0, total_anneal_steps=10).partial_fit(X)
    # the popularity of users without history follows the chunks seen so far
    counts = np.bincount(X.indices, minlength=40)
    np.testing.assert_allclose(model._item_popularity, counts / counts.sum())


@pytest.mark.parametrize("cls, change", [(MultDAE, {"hidden_layer_sizes": (5,)}),
                                         (MultVAE, {"n_components": 4}),
                                         (CDAE, {"n_components": 4})])
def test_partial_fit_refuses_weights_the_parameters_no_longer_build(cls, change):
    """set_params between calls (or after fit) must not continue another network's weights
    (MultDAE trained its two layers as two tanh encoders, without a decoder)."""
    X = make_interactions(64, 40, density=0.1, random_state=0)
    params = dict(n_components=6, batch_size=32, early_stopping=False, random_state=0,
                  max_iter=1)
    if cls is not CDAE:
        params["hidden_layer_sizes"] = ()
    if cls is MultVAE:
        params["total_anneal_steps"] = 5
    for start in ("partial_fit", "fit"):
        model = cls(**params)
        getattr(model, start)(X)
        before = [w.copy() for w in model.coefs_]
        model.set_params(**change)
        with pytest.raises(ValueError, match="the layer sizes changed since they were "
                           "trained. Set them back to continue with partial_fit, or call fit"):
            model.partial_fit(X)
        for a, b in zip(before, model.coefs_):
            np.testing.assert_array_equal(a, b)  # nothing trained
        model.set_params(**{k: params[k] for k in change})
        model.partial_fit(X)  # set back: continues
        model.set_params(**change).fit(X)  # fit starts anew with them


def test_dask_ml_incremental_trains_block_by_block():
    """dask_ml's Incremental feeds a row-chunked Dask array to partial_fit block by block:
    in block order, the same model as fit's epoch."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X = make_interactions(160, 50, density=0.1, random_state=2)
    full = _model(MultDAE, max_iter=1).fit(X)
    chunked = da.from_array(X, chunks=(64, 50), asarray=False)
    incremental = wrappers.Incremental(_model(MultDAE), shuffle_blocks=False).fit(chunked)
    np.testing.assert_allclose(incremental.estimator_.coefs_[0], full.coefs_[0],
                               rtol=1e-5, atol=1e-6)
    assert incremental.estimator_.n_iter_ == 3


def test_empty_chunks_are_passed_over():
    """A Dask array filtered by rows has empty blocks, which Incremental hands to
    partial_fit: it raised scikit-learn's 'Found array with 0 sample(s)' (found by an
    audit helper). An empty chunk now changes nothing, and the others train as without
    it; after a fit its columns are still checked."""
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X = make_interactions(160, 50, density=0.1, random_state=2).toarray()
    kept = np.arange(160) >= 64  # the first two blocks of 32 rows: out
    plain = wrappers.Incremental(_model(MultDAE), shuffle_blocks=False).fit(
        da.from_array(X[kept], chunks=(32, 50)))
    chunked = da.from_array(X, chunks=(32, 50))
    filtered = chunked[da.from_array(kept, chunks=32)]  # blocks of unknown size, two empty
    incremental = wrappers.Incremental(_model(MultDAE), shuffle_blocks=False).fit(filtered)
    np.testing.assert_array_equal(incremental.estimator_.coefs_[0], plain.estimator_.coefs_[0])
    model = incremental.estimator_
    before = [w.copy() for w in model.coefs_]
    assert model.partial_fit(X[:0]) is model and model.n_iter_ == plain.estimator_.n_iter_
    for a, b in zip(before, model.coefs_):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="X has 49 columns, but MultDAE was fitted on 50"):
        model.partial_fit(X[:0, :49])


def test_multitask_dae_partial_fit_equals_fit():
    """The multi-behaviour model too: chunks of users (all behaviour blocks of a row stay
    together) repeat fit's epoch; the popularity fallback reads the target block."""
    import scipy.sparse as sp

    from sklearn_recsys import MultiTaskDAE

    views = make_interactions(96, 30, density=0.2, random_state=0)
    buys = make_interactions(96, 30, density=0.05, random_state=1)
    X = sp.hstack([views, buys], format="csr")
    params = dict(behaviors=("view", "buy"), target="buy", hidden_layer_sizes=(8,),
                  n_components=4, n_experts=2, batch_size=32, skip=False, shuffle=False,
                  early_stopping=False, random_state=0)
    full = MultiTaskDAE(max_iter=2, **params).fit(X)
    part = MultiTaskDAE(**params)
    for _ in range(2):
        for chunk in (X[:64], X[64:]):
            part.partial_fit(chunk)
    for name in ("expert_coefs_", "gate_coefs_", "head_coefs_"):
        np.testing.assert_allclose(getattr(part, name), getattr(full, name),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(part.decision_function(X), full.decision_function(X),
                               rtol=1e-4, atol=1e-5)
    counts = np.bincount(buys.indices, minlength=30)
    np.testing.assert_allclose(part._item_popularity, counts / counts.sum())
    # layer sizes changed since the weights were trained: refused, whichever changed
    for change in ({"n_experts": 3}, {"hidden_layer_sizes": (6,)}, {"n_components": 5}):
        with pytest.raises(ValueError, match="the layer sizes changed"):
            MultiTaskDAE(**params).partial_fit(X).set_params(**change).partial_fit(X)


def test_auto_annealing_refused_and_a_failed_first_call_leaves_a_fresh_model():
    X = make_interactions(64, 40, density=0.1, random_state=0)
    with pytest.raises(ValueError, match="total_anneal_steps"):
        _model(MultVAE).partial_fit(X)  # the default "auto"
    model = _model(MultDAE)
    with pytest.raises(ValueError, match="Negative values"):
        model.partial_fit(-X)
    model.partial_fit(X)  # starts afresh, as a new model would
    np.testing.assert_array_equal(model.coefs_[0], _model(MultDAE).partial_fit(X).coefs_[0])


def _cdae(**params):
    return CDAE(n_components=6, batch_size=32, shuffle=False, early_stopping=False,
                random_state=0, **params)


@pytest.fixture
def same_cdae_start(monkeypatch):
    """fit starts CDAE's output biases at all its users' base rates, partial_fit at its first
    chunk's: the same start for both (zeros) isolates the mechanics of a pass."""
    from sklearn_recsys.neural import _cdae as module

    monkeypatch.setattr(module, "_base_rate_logits",
                        lambda X, *propensity: np.zeros(X.shape[1], np.float32))


def test_cdae_partial_fit_starts_the_output_biases_at_the_first_chunks_base_rates():
    X = make_interactions(160, 50, density=0.1, random_state=2)
    model = _cdae(learning_rate_init=1e-12).partial_fit(X[:64], n_users=160)
    share = (np.bincount(X[:64].indices, minlength=50) + 0.5) / 65
    np.testing.assert_allclose(model.intercepts_[1], np.log(share / (1 - share)), rtol=1e-5)
    fitted = _cdae(learning_rate_init=1e-12, max_iter=1).fit(X)
    share = (np.bincount(X.indices, minlength=50) + 0.5) / 161
    np.testing.assert_allclose(fitted.intercepts_[1], np.log(share / (1 - share)), rtol=1e-5)


def test_cdae_chunks_equal_fit_with_the_user_nodes_numbered_by_pass(same_cdae_start):
    """CDAE's per-user input nodes: chunk rows are users start..start+n of the pass, so one
    pass over chunks (n_users given) is fit's epoch, nodes and their Adam moments included."""
    X = make_interactions(160, 50, density=0.1, random_state=2)
    chunks = [X[:64], X[64:128], X[128:]]
    epochs = 2
    full = _cdae(max_iter=epochs).fit(X)
    part = _cdae()
    for _ in range(epochs):
        for chunk in chunks:
            part.partial_fit(chunk, n_users=X.shape[0])
    for a, b in zip(full.coefs_ + full.intercepts_, part.coefs_ + part.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(part.user_nodes_, full.user_nodes_, rtol=1e-5, atol=1e-6)
    assert np.abs(full.user_nodes_[128:]).max() > 1e-3  # the last chunk's nodes did train
    np.testing.assert_allclose(part.decision_function(X), full.decision_function(X),
                               rtol=1e-4, atol=1e-5)
    # nodes numbered by arrival: the same chunks in another order give other users' nodes
    swapped = _cdae()
    for _ in range(epochs):
        for chunk in (chunks[1], chunks[0], chunks[2]):
            swapped.partial_fit(chunk, n_users=X.shape[0])
    assert not np.allclose(swapped.user_nodes_, full.user_nodes_, atol=1e-4)


def test_cdae_partial_fit_refuses_chunks_that_break_the_pass():
    X = make_interactions(96, 40, density=0.1, random_state=0)
    model = _cdae().partial_fit(X[:64], n_users=96)
    with pytest.raises(ValueError, match="runs past its end"):
        model.partial_fit(X[:64])  # 64 + 64 > 96
    with pytest.raises(ValueError, match="differs from the 96 users"):
        model.partial_fit(X[64:], n_users=100)
    model.partial_fit(X[64:])  # the failed calls moved nothing: this ends the pass
    assert model._partial_state["position"] == 0 and model.n_iter_ == 2
    with pytest.raises(ValueError, match="smaller than this chunk"):
        _cdae().partial_fit(X, n_users=10)
    with pytest.raises(ValueError, match="positive int"):
        _cdae().partial_fit(X, n_users=0.5)
    # after fit, the same users only
    fitted = _cdae(max_iter=1).fit(X)
    with pytest.raises(ValueError, match="nodes of 96 users"):
        fitted.partial_fit(X[:32], n_users=200)
    fitted.partial_fit(X[:48]).partial_fit(X[48:])  # n_users: fit's by default
    assert fitted._partial_state["position"] == 0
    with pytest.raises(ValueError, match="propensity_power"):
        _cdae(propensity_power=0.5).partial_fit(X)


def test_dask_ml_incremental_trains_cdae_with_n_users(same_cdae_start):
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X = make_interactions(160, 50, density=0.1, random_state=2)
    full = _cdae(max_iter=1).fit(X)
    chunked = da.from_array(X, chunks=(64, 50), asarray=False)
    incremental = wrappers.Incremental(_cdae(), shuffle_blocks=False).fit(
        chunked, n_users=X.shape[0])
    np.testing.assert_allclose(incremental.estimator_.user_nodes_, full.user_nodes_,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [MultDAE, CDAE])
def test_partial_fit_after_fit_still_reads_the_items_fit_trained(cls):
    """partial_fit reset the trained items to its chunks': the other items fit trained
    were zeroed in every row, and a user of only such items was served as a new one."""
    import scipy.sparse as sp

    X = make_interactions(120, 40, density=0.1, random_state=8)
    chunk = X[:10]
    absent = np.setdiff1d(np.flatnonzero(np.bincount(X.indices, minlength=40)), chunk.indices)
    assert absent.size > 5
    params = dict(n_components=6, batch_size=32, shuffle=False, random_state=0, max_iter=3)
    model = (_model(MultDAE, max_iter=3) if cls is MultDAE else CDAE(**params)).fit(X)
    model.partial_fit(chunk)
    np.testing.assert_array_equal(model._known_items(), np.bincount(X.indices, minlength=40) > 0)
    only_absent = sp.csr_matrix((np.ones(2), ([0, 0], absent[:2])), shape=(1, 40))
    assert not np.allclose(model.decision_function(only_absent),
                           model.decision_function(sp.csr_matrix((1, 40))))
    if cls is MultDAE:  # every item of the row read: the forward pass by hand
        rows = X[10:40]
        h = rows.toarray() / np.linalg.norm(rows.toarray(), axis=1, keepdims=True).clip(1e-12)
        for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_)):
            h = h @ W.astype(np.float64) + b
            if i < len(model.coefs_) - 1:
                h = np.tanh(h)
        h -= h.max(axis=1, keepdims=True)
        expected = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
        np.testing.assert_allclose(model.decision_function(rows), expected, atol=1e-5)
