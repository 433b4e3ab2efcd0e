"""MultiTaskDAE: serving formula, learning on a shop, skip initialisation, target-only
validation, the cloze step's loss, partial_fit, reproducibility and pickling, and its
errors."""

import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_recsys import MostPopular, MultiTaskDAE
from sklearn_recsys.metrics import make_ranking_scorer
from sklearn_recsys.model_selection import leave_k_out_split
from sklearn_recsys.utils.estimator_checks import recommender_checks

pytest.importorskip("tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "linear"))
from test_multi_behavior import BEHAVIORS, _shop  # noqa: E402

SMALL = dict(hidden_layer_sizes=(32,), n_components=8, n_experts=3, batch_size=64,
             random_state=0)


@pytest.fixture(scope="module")
def split():
    X = _shop(n_users=500, n_items=40)
    return leave_k_out_split(X, k=1, random_state=0, behaviors=BEHAVIORS)


@pytest.fixture(scope="module")
def fitted(split):
    X_in, _ = split
    return MultiTaskDAE(behaviors=BEHAVIORS, max_iter=40, **SMALL).fit(X_in)


def _dense_forward(model, x):
    """The serving formula written out densely, one user at a time."""
    n, t = model.n_items_, model.target_index_
    out = []
    for row in np.atleast_2d(x):
        blocks = [row[b * n:(b + 1) * n] for b in range(3)]
        h = np.concatenate([blk / (np.linalg.norm(blk) or 1.0) for blk in blocks])
        for W, c in zip(model.shared_coefs_, model.shared_intercepts_):
            h = np.tanh(h @ W + c)
        experts = [np.tanh(h @ model.expert_coefs_[e] + model.expert_intercepts_[e])
                   for e in range(model.n_experts)]
        g = h @ model.gate_coefs_[t] + model.gate_intercepts_[t]
        g = np.exp(g - g.max())
        g /= g.sum()
        z = sum(g[e] * experts[e] for e in range(model.n_experts))
        logits = z @ model.head_coefs_[t] + model.head_intercepts_[t]
        for b in (0, 1):
            logits = logits + (blocks[b] > 0) * model.skip_coefs_[t, b]
        out.append(logits)
    return np.array(out)


def test_serving_is_the_documented_forward_pass(fitted, split):
    X_in, _ = split
    rows = X_in[:25]
    assert_allclose(fitted.decision_function(rows), _dense_forward(fitted, rows.toarray()),
                    rtol=1e-4, atol=1e-4)
    assert fitted.decision_function(rows).shape == (25, 40)
    assert fitted.transform(rows).shape == (25, 8)


def test_set_params_of_skip_after_fit_is_refused_at_scoring(fitted, split):
    """set_params(skip=False) after a fit with skip dropped the trained skip weights at
    scoring (the scores of a model never trained); now refused until set back, and the
    scores follow the fitted skip weights, not the parameter."""
    from sklearn.base import clone

    X_in, _ = split
    rows = X_in[:25]
    expected = fitted.decision_function(rows)
    assert np.abs(fitted.skip_coefs_[fitted.target_index_]).max() > 0.1  # they matter
    changed = clone(fitted)
    changed.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")
                             or k in ("_fitted_params", "_item_popularity", "_trained_items")})
    changed.set_params(skip=False)
    with pytest.raises(ValueError, match="skip True -> False"):
        changed.decision_function(rows)
    with pytest.raises(ValueError, match="parameters changed since fit"):
        changed.transform(rows)
    changed._check_fitted_params = lambda: None  # the guard aside: still the fitted model
    assert_allclose(changed.decision_function(rows), expected, rtol=1e-6)
    assert_allclose(expected, _dense_forward(fitted, rows.toarray()), rtol=1e-4, atol=1e-4)


def test_learns_the_held_out_purchases(fitted, split):
    X_in, y = split
    hit = make_ranking_scorer("hit_rate", k=5)
    popular = MostPopular().fit(X_in[:, 80:])
    ours = hit(fitted, X_in, y)
    assert ours > 0.6 and ours > 2 * hit(popular, X_in[:, 80:], y)
    # the gates are per task: the target's mixture differs from the view head's
    assert not np.allclose(fitted.gate_coefs_[0], fitted.gate_coefs_[2])


def test_skip_initialisation_is_the_conversion_log_ratio():
    view = sp.csr_matrix(np.array([[1, 1], [1, 0], [0, 1], [0, 0]], float))
    buy = sp.csr_matrix(np.array([[1, 0], [0, 0], [0, 0], [1, 1]], float))
    model = MultiTaskDAE(behaviors=("view", "buy"))
    model._set_layout(sp.hstack([view, buy], format="csr"))
    init = model._skip_init(sp.hstack([view, buy], format="csr"))
    # head buy (1) from view (0): item 0 viewed by 2 users, 1 of them bought it
    rate = (1 + 1) / (4 + 2)           # pooled: 1 viewed-and-bought of 4 view pairs
    base = (3 - 1 + 1) / (4 * 2 - 4 + 2)  # buys among the 4 pairs without a view
    r0, r1 = (1 + 5 * rate) / (2 + 5), (0 + 5 * rate) / (2 + 5)
    assert init[1, 0, 0] == pytest.approx(np.log(r0 / base), rel=1e-6)
    assert init[1, 0, 1] == pytest.approx(np.log(r1 / base), rel=1e-6)
    assert_array_equal(init[0, 0], 0) and assert_array_equal(init[1, 1], 0)
    plain = MultiTaskDAE(behaviors=("view", "buy"), skip=False)
    plain._set_layout(sp.hstack([view, buy], format="csr"))
    assert not plain._skip_init(sp.hstack([view, buy], format="csr")).any()


def test_validation_holds_out_target_interactions_only(split):
    X_in, _ = split
    model = MultiTaskDAE(behaviors=BEHAVIORS, max_iter=2, **SMALL)
    model._set_layout(X_in)
    model.n_features_in_ = X_in.shape[1]
    known, held = model._hold_out(X_in, np.random.RandomState(0))
    assert held.shape == (X_in.shape[0], 40) and held.nnz > 0
    assert_array_equal(known[:, :80].toarray(), X_in[:, :80].toarray())
    assert_array_equal((known[:, 80:] + held).toarray(), X_in[:, 80:].toarray())
    model.fit(X_in)
    assert len(model.validation_scores_) == model.n_iter_


def test_same_seed_same_model_and_pickle_round_trip(split):
    X_in, _ = split
    a = MultiTaskDAE(behaviors=BEHAVIORS, max_iter=2, early_stopping=False, **SMALL).fit(X_in)
    b = MultiTaskDAE(behaviors=BEHAVIORS, max_iter=2, early_stopping=False, **SMALL).fit(X_in)
    assert_array_equal(a.decision_function(X_in), b.decision_function(X_in))
    restored = pickle.loads(pickle.dumps(a))
    assert_array_equal(restored.decision_function(X_in[:5]), a.decision_function(X_in[:5]))


@pytest.mark.parametrize("params, match", [
    ({"task_weights": (1.0, 1.0, 0.0)}, "weight 0"),
    ({"task_weights": (1.0, 1.0)}, "3 finite non-negative"),
    ({"target": "like"}, "not one of behaviors"),
    ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes must be a tuple of positive ints"),
])
def test_errors_name_the_fix(split, params, match):
    X_in, _ = split
    with pytest.raises(ValueError, match=match):
        MultiTaskDAE(behaviors=BEHAVIORS, max_iter=1, **{**SMALL, **params}).fit(X_in)


def test_explain_is_leave_one_out_over_the_stacked_row(fitted, split):
    X_in, _ = split
    x = X_in[3]
    cols, contrib = fitted.explain(x, 5)
    assert set(cols) == set(x.indices)
    j = cols[0]
    without = x.copy().tolil()
    without[0, j] = 0
    drop = fitted.decision_function(x)[0, 5] - fitted.decision_function(without.tocsr())[0, 5]
    assert contrib[0] == pytest.approx(drop, rel=1e-5, abs=1e-6)


def _transfer_shop(n_users=600, seed=0):
    """Six-item clusters: a user views four items of theirs, buys two of the viewed and one
    they did not view; that unviewed purchase is held out. Returns ``(X_in, y)``."""
    rng = np.random.default_rng(seed)
    n_items = 36
    view, buy, held = (np.zeros((n_users, n_items)) for _ in range(3))
    for u in range(n_users):
        items = 6 * rng.integers(6) + rng.permutation(6)
        view[u, items[:4]] = 1
        buy[u, items[:2]] = 1
        held[u, items[4]] = 1
    X = sp.hstack([sp.csr_matrix(view), sp.csr_matrix(np.zeros_like(view)), sp.csr_matrix(buy)],
                  format="csr")
    return X, sp.csr_matrix(held)


def test_mask_target_learns_purchases_never_viewed():
    X, y = _transfer_shop()
    hit = make_ranking_scorer("hit_rate", k=2)
    params = dict(behaviors=BEHAVIORS, max_iter=60, early_stopping=False, **SMALL)
    plain = MultiTaskDAE(**params).fit(X)
    masked = MultiTaskDAE(mask_target=0.5, **params).fit(X)
    # the two unviewed items of the cluster are the best two guesses; copying the
    # views ranks the two viewed-but-not-bought items first
    assert hit(masked, X, y) > 0.85
    assert hit(plain, X, y) < 0.5


def test_mask_target_validation_hides_the_held_out_items_everywhere(split):
    X_in, _ = split
    model = MultiTaskDAE(behaviors=BEHAVIORS, mask_target=0.3, **SMALL)
    model._set_layout(X_in)
    model.n_features_in_ = X_in.shape[1]
    # a hidden purchase has no view or cart left: the target head's skip weights start at 0
    init = model._skip_init(X_in)
    assert not init[2].any() and init[0, 2].any()
    known, held = model._hold_out(X_in, np.random.RandomState(0))
    assert held.nnz > 0
    hidden = np.tile(held.toarray() != 0, 3)
    # some held-out purchases had been viewed or carted: those entries are gone too
    assert X_in[:, :80].toarray()[hidden[:, :80]].any()
    assert not known.toarray()[hidden].any()
    assert_array_equal(known.toarray()[~hidden], X_in.toarray()[~hidden])
    model.set_params(max_iter=2).fit(X_in)
    assert len(model.validation_scores_) == model.n_iter_ == 2


def test_mask_target_with_one_behaviour_is_a_cloze_mult_dae():
    X = _shop(n_users=300, n_items=40)[:, 80:]
    model = MultiTaskDAE(mask_target=0.5, max_iter=3, **SMALL).fit(X)
    assert len(model.validation_scores_) == 3
    assert model.decision_function(X[:4]).shape == (4, 40)


def _numpy_step_loss(model, x, hide, keep):
    """The documented training loss of one batch, written out with NumPy (``hide``:
    the cloze's hidden purchases, None without it; ``keep``: the dropout mask)."""
    n, n_b, t = model.n_items_, 3, model.target_index_
    blocks = [x[:, b * n:(b + 1) * n] for b in range(n_b)]
    outputs = list(blocks)
    if hide is not None:
        blocks = [xb * (1 - hide) for xb in blocks]
        outputs[t] = outputs[t] * hide
    norms = [np.sqrt(np.maximum((xb ** 2).sum(axis=1, keepdims=True), 1e-12)) for xb in blocks]
    h = np.concatenate([xb / nb for xb, nb in zip(blocks, norms)], axis=1)
    present = np.concatenate([(xb > 0).astype(float) for xb in blocks], axis=1) * keep
    h = h * keep / (1 - model.dropout)
    for W, c in zip(model.shared_coefs_, model.shared_intercepts_):
        h = np.tanh(h @ W + c)
    experts = np.tanh(np.einsum("bh,ehk->bek", h, model.expert_coefs_)
                      + model.expert_intercepts_)
    loss = 0.0
    for task in range(n_b):
        g = h @ model.gate_coefs_[task] + model.gate_intercepts_[task]
        g = np.exp(g - g.max(axis=1, keepdims=True))
        g /= g.sum(axis=1, keepdims=True)
        logits = np.einsum("be,bek->bk", g, experts) @ model.head_coefs_[task]
        logits = logits + model.head_intercepts_[task]
        for b in range(n_b):
            if b != task:
                logits = logits + present[:, b * n:(b + 1) * n] * model.skip_coefs_[task, b]
        if task == t and getattr(model, "item_item_coef_", None) is not None:
            weights = model.item_item_weights_
            z = blocks[t] if weights is None else sum(w * xb for w, xb in zip(weights, blocks))
            logits = logits + np.exp(np.float64(model.item_item_log_scale_)) * (
                z @ model.item_item_coef_)
        logits = logits - logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss += model.task_weights_[task] * -np.mean((log_p * outputs[task]).sum(axis=1))
    squares = [*model.shared_coefs_, model.expert_coefs_, model.gate_coefs_, model.head_coefs_]
    return loss + model.alpha * sum(float((W.astype(np.float64) ** 2).sum()) for W in squares)


def test_cloze_step_loss_counts_only_the_hidden_purchases():
    """One training step's loss against NumPy with the step's own draws: a hidden
    purchase leaves every behaviour of the input and is the target head's only label."""
    tf = pytest.importorskip("tensorflow")
    X, _ = _transfer_shop(n_users=20)
    X = X.toarray().astype(np.float32)
    X[:, 36:72] = X[:, 72:] * 2.0  # carts where the purchases are: hidden from both
    model = MultiTaskDAE(behaviors=BEHAVIORS, mask_target=0.5, task_weights=(0.5, 1.0, 2.0),
                         alpha=0.1, **SMALL)
    model._set_layout_and_weights(sp.csr_matrix(X))
    weights = model._init_weights(np.random.RandomState(1))
    rng = np.random.RandomState(2)
    for name in ("head_intercepts_", "skip_coefs_", "shared_intercepts_"):
        value = weights[name]
        weights[name] = ([rng.normal(size=v.shape).astype(np.float32) for v in value]
                         if isinstance(value, list)
                         else rng.normal(size=value.shape).astype(np.float32))
    for name, value in weights.items():
        setattr(model, name, value)
    seed = np.array([3, 4], np.int32)

    def step_loss():  # a fresh step on fresh variables: the loss before its update
        v = {name: ([tf.Variable(w) for w in value] if isinstance(value, list)
                    else tf.Variable(value)) for name, value in weights.items()}
        return float(model._make_step(tf, v)(tf.constant(X), tf.constant(seed)))

    loss = step_loss()
    n = model.n_items_
    hide = ((tf.random.stateless_uniform((20, n), seed + 1).numpy() < 0.5)
            & (X[:, 2 * n:] > 0)).astype(np.float64)
    keep = (tf.random.stateless_uniform((20, 3 * n), seed).numpy() >= 0.5).astype(np.float64)
    assert 0 < hide.sum() < (X[:, 2 * n:] > 0).sum()
    X64 = X.astype(np.float64)
    assert loss == pytest.approx(_numpy_step_loss(model, X64, hide, keep), rel=1e-5)
    # without the cloze: the target's label is the whole row and nothing is hidden
    model.mask_target = 0.0
    plain = step_loss()
    assert plain == pytest.approx(_numpy_step_loss(model, X64, None, keep), rel=1e-5)
    assert abs(plain - loss) > 1.0


@pytest.mark.parametrize("mask_target", [0.0, 0.5])
def test_partial_fit_over_chunks_repeats_fit(mask_target):
    """With shuffle=False and skip=False, one pass of partial_fit over chunks of users is
    fit's epoch on their concatenation: same batches, same draws (the cloze's too)."""
    X, _ = _transfer_shop(n_users=160)
    params = dict(behaviors=BEHAVIORS, mask_target=mask_target, skip=False, shuffle=False,
                  early_stopping=False, **{**SMALL, "batch_size": 32})
    epochs = 2
    full = MultiTaskDAE(max_iter=epochs, **params).fit(X)
    part = MultiTaskDAE(**params)
    for _ in range(epochs):
        for chunk in (X[:64], X[64:128], X[128:]):
            part.partial_fit(chunk)
    for name in MultiTaskDAE._PARAMS:
        for a, b in zip(np.atleast_1d(getattr(full, name)), np.atleast_1d(getattr(part, name))):
            assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)
    assert part.n_iter_ == epochs * 3


def test_mask_target_partial_fit_keeps_the_learned_skip_weights():
    X, _ = _transfer_shop(n_users=160)
    model = MultiTaskDAE(behaviors=BEHAVIORS, mask_target=0.5, early_stopping=False,
                         **SMALL).partial_fit(X[:80])
    # the first call starts the target head's skip weights at 0 (not the conversion
    # log-ratios the view and cart heads start from) and moves them by Adam's small steps
    assert np.abs(model.skip_coefs_[2]).max() < 0.05
    assert np.abs(model.skip_coefs_[0, 2]).max() > 0.5
    # a later call goes on from the fitted weights rather than starting them again
    model.skip_coefs_ = model.skip_coefs_.copy()
    model.skip_coefs_[2, :2] = 5.0
    model.partial_fit(X[80:])
    assert_allclose(model.skip_coefs_[2, :2], 5.0, atol=0.05)


def test_partial_fit_follows_set_params_of_task_weights_and_refuses_another_layout():
    """set_params between fit and partial_fit: the heads kept training 'buy' with the old
    task weights while get_params said target='view' and other weights."""
    from sklearn.base import clone

    X = _shop(n_users=200, n_items=20)
    model = MultiTaskDAE(behaviors=BEHAVIORS, max_iter=2, early_stopping=False,
                         **SMALL).fit(X)
    same, other = clone(model), clone(model)
    for continued in (same, other):
        continued.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    other.set_params(task_weights=(0.0, 0.0, 1.0))
    same.partial_fit(X)
    other.partial_fit(X)
    assert_array_equal(other.task_weights_, [0.0, 0.0, 1.0])
    assert_array_equal(same.task_weights_, [1.0, 1.0, 1.0])
    # the target head's loss alone is smaller than the sum over three heads
    assert other.loss_curve_[-1] < 0.8 * same.loss_curve_[-1]
    for params in ({"target": "view"}, {"behaviors": ("cart", "view", "buy")}):
        moved = clone(model)
        moved.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
        moved.set_params(**params)
        with pytest.raises(ValueError, match="its heads would score other behaviours"):
            moved.partial_fit(X)


def test_values_whose_squares_overflow_float32_are_checked_per_behaviour():
    """Each behaviour's block is L2-normalised on its own: two blocks whose squares sum to
    2e38 each fit float32 (the first check summed the whole row and refused them); one
    block past 3.4e38 is refused, naming the row."""
    X = _shop(60, 20, seed=0).tolil()
    X[0, 3], X[0, 20 + 4] = 1.4e19, 1.4e19  # 2e38 in each of two blocks
    params = dict(SMALL, behaviors=BEHAVIORS, max_iter=1, early_stopping=False)
    MultiTaskDAE(**params).fit(X.tocsr())
    X[0, 20 + 5] = 1.4e19  # 4e38 in the second block
    with pytest.raises(ValueError, match=r"rows \[0\]\) are too large for training"):
        MultiTaskDAE(**params).fit(X.tocsr())


def _pairs_shop(n_users=400, seed=0):
    """Complementary pairs ``(2k, 2k + 1)`` of 40 items: a user buys both items of two
    pairs and one item of a third, whose partner is held out; views are random. Returns
    ``(X_in, y)``."""
    rng = np.random.default_rng(seed)
    n_items = 40
    buy, held = np.zeros((n_users, n_items)), np.zeros((n_users, n_items))
    for u in range(n_users):
        pairs = 2 * rng.choice(n_items // 2, 3, replace=False)
        buy[u, [pairs[0], pairs[0] + 1, pairs[1], pairs[1] + 1]] = 1
        first = rng.integers(2)
        buy[u, pairs[2] + first] = 1
        held[u, pairs[2] + 1 - first] = 1
    view = (rng.random((n_users, n_items)) < 0.1).astype(float)
    X = sp.hstack([sp.csr_matrix(view), sp.csr_matrix(np.zeros_like(view)),
                   sp.csr_matrix(buy)], format="csr")
    return X, sp.csr_matrix(held)


def test_item_item_term_is_ease_on_all_but_the_held_out_items(monkeypatch):
    """During training ``W`` is EASE's on the target block of every row early stopping
    may read: the training users' and the validation users' inputs, not their held-out
    items (it was the training users' alone: a tenth of the data left out cost the term
    0.002 NDCG@10 on Taobao's transfer split); once the epoch is chosen it is solved again
    on all of ``X``. The scale starts at the likeliest one and is trained from there."""
    from sklearn.utils import check_random_state

    from sklearn_recsys import EASE
    from sklearn_recsys._engine import split_users
    from sklearn_recsys.neural import _multitask

    seen, starts = [], []
    original, likeliest = _multitask.ease_item_item, _multitask.likeliest_log_scale

    def recording(Y, alpha, name="X"):
        seen.append(Y)
        return original(Y, alpha, name)

    def recording_scale(Y, W, Z=None):
        assert Z is None  # the target block alone
        starts.append(likeliest(Y, W))
        return starts[-1]

    monkeypatch.setattr(_multitask, "ease_item_item", recording)
    monkeypatch.setattr(_multitask, "likeliest_log_scale", recording_scale)
    X, _ = _pairs_shop()
    model = MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, max_iter=2,
                         validation_fraction=0.25, **SMALL).fit(X)
    # the engine's split of the users and of the validation users' items (random_state
    # 0), drawn as its fit draws them
    rng = check_random_state(0)
    split_rng = np.random.RandomState(rng.randint(np.iinfo(np.int32).max))
    train_rows, val_rows = split_users(400, 0.25, split_rng)
    X_in, X_out = model._hold_out(X[val_rows], split_rng)
    assert len(train_rows) == 300 and X_out.nnz > 0  # 100 of the 400 users validate
    assert len(seen) == 2
    assert_array_equal(seen[0].toarray(),
                       sp.vstack([X[train_rows], X_in])[:, 80:].toarray())
    assert seen[0].nnz + X_out.nnz == X[:, 80:].nnz  # only the held-out items are out
    assert_array_equal(seen[1].toarray(), X[:, 80:].toarray())  # the final solve
    assert_allclose(model.item_item_coef_, EASE(alpha=5.0).fit(X[:, 80:]).coef_, atol=1e-6)
    assert starts[0] == pytest.approx(likeliest(
        seen[0], EASE(alpha=5.0).fit(seen[0]).coef_.astype(np.float32)), rel=1e-5)
    whole = MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, max_iter=3,
                         early_stopping=False, **SMALL).fit(X)
    assert_allclose(whole.item_item_coef_, EASE(alpha=5.0).fit(X[:, 80:]).coef_, atol=1e-6)
    assert len(seen) == 3  # without a validation split, W is solved once
    assert starts[1] == pytest.approx(likeliest(X[:, 80:].tocsr(), whole.item_item_coef_))
    assert np.exp(starts[1]) > 2.0  # far from the 1 an untrained scale would keep
    # three epochs of Adam at 1e-3 move it by up to about 3 * 7 steps * 1e-3
    assert whole.item_item_log_scale_.shape == ()
    assert 1e-3 < abs(float(whole.item_item_log_scale_) - starts[1]) < 0.05


def test_likeliest_log_scale_maximises_the_likelihood():
    from sklearn_recsys.neural._multitask import likeliest_log_scale

    X, _ = _pairs_shop(n_users=200)
    Y = X[:, 80:].tocsr()
    from sklearn_recsys import EASE

    B = EASE(alpha=5.0).fit(Y).coef_.astype(np.float64)
    S = (Y @ B)
    dense_y = Y.toarray()

    def log_likelihood(s):  # by hand, over every user
        a = s * S
        log_p = a - a.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
        return (dense_y * log_p).sum(axis=1).mean()

    found = np.exp(likeliest_log_scale(Y, B))
    grid = np.exp(np.linspace(-3, 8, 2000))
    best = grid[np.argmax([log_likelihood(s) for s in grid])]
    assert found == pytest.approx(best, rel=0.01)
    assert log_likelihood(found) > log_likelihood(2 * found)
    assert log_likelihood(found) > log_likelihood(found / 2)


def _assert_item_item_step_loss(tf, model, X):
    """One cloze training step's loss (item-item term included) equals NumPy's with the
    step's own hiding and dropout draws (seed (3, 4); ``X`` of 60 users, 3 blocks)."""
    dense = X.toarray().astype(np.float32)
    v = {name: ([tf.Variable(w) for w in value] if isinstance(value, list)
                else tf.Variable(value))
         for name, value in ((n, getattr(model, n)) for n in model._PARAMS)}
    seed = np.array([3, 4], np.int32)
    step = model._make_step(tf, v, item_item=tf.constant(model.item_item_coef_))
    loss = float(step(tf.constant(dense), tf.constant(seed)))
    n = model.n_items_
    hide = ((tf.random.stateless_uniform((60, n), seed + 1).numpy() < 0.5)
            & (dense[:, 2 * n:] > 0)).astype(np.float64)
    keep = (tf.random.stateless_uniform((60, 3 * n), seed).numpy() >= 0.5).astype(np.float64)
    assert loss == pytest.approx(
        _numpy_step_loss(model, dense.astype(np.float64), hide, keep), rel=1e-5)


def test_item_item_term_in_serving_and_in_the_step_loss():
    """Scores add ``exp(item_item_log_scale_) * (y_u @ W)`` to the deep logits, and the
    training step's loss reads the same term on the (masked) target rows."""
    tf = pytest.importorskip("tensorflow")
    X, _ = _pairs_shop(n_users=60)
    model = MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, mask_target=0.5,
                         max_iter=2, early_stopping=False, **SMALL).fit(X)
    rows = X[:20]
    wide = np.exp(np.float64(model.item_item_log_scale_)) * (
        rows[:, 80:].toarray() @ model.item_item_coef_)
    assert np.abs(wide).max() > 1.0  # the term matters
    assert_allclose(model.decision_function(rows), _dense_forward(model, rows.toarray()) + wide,
                    rtol=1e-4, atol=1e-4)
    _assert_item_item_step_loss(tf, model, X)


def test_item_item_term_finds_what_a_small_code_misses():
    """A one-dimensional code cannot hold twenty pairs; the item-item term does (as EASE
    alone), and the network trained beside it keeps that."""
    from sklearn_recsys import EASE

    X, y = _pairs_shop()
    hit = make_ranking_scorer("hit_rate", k=1)
    params = dict(behaviors=BEHAVIORS, mask_target=0.5, max_iter=5, early_stopping=False,
                  **{**SMALL, "n_components": 1})
    plain = MultiTaskDAE(**params).fit(X)
    wide = MultiTaskDAE(item_item_alpha=5.0, **params).fit(X)
    ease = EASE(alpha=5.0).fit(X[:, 80:])
    assert hit(ease, X[:, 80:], y) > 0.9
    assert hit(wide, X, y) > 0.9
    assert hit(plain, X, y) < 0.3


def _viewed_pairs_shop(n_users=400, seed=0):
    """Complementary pairs ``(2k, 2k + 1)`` of 40 items: a user views one item of each of
    three pairs and buys the partners of the first two, never viewed; the third partner is
    held out. Returns ``(X_in, y)``."""
    rng = np.random.default_rng(seed)
    n_items = 40
    view, buy, held = (np.zeros((n_users, n_items)) for _ in range(3))
    for u in range(n_users):
        seen = 2 * rng.choice(n_items // 2, 3, replace=False) + rng.integers(2, size=3)
        partners = seen + 1 - 2 * (seen % 2)
        view[u, seen] = 1
        buy[u, partners[:2]] = 1
        held[u, partners[2]] = 1
    X = sp.hstack([sp.csr_matrix(view), sp.csr_matrix(np.zeros_like(view)),
                   sp.csr_matrix(buy)], format="csr")
    return X, sp.csr_matrix(held)


def test_item_item_term_reads_the_weighted_behaviours():
    """With ``item_item_behavior_weights`` the term is MultiBehaviorEASE's cross term:
    ``W`` from the weighted rows to the purchases, its scale started at the likeliest,
    added to the deep logits in serving and in the training step."""
    tf = pytest.importorskip("tensorflow")
    from sklearn_recsys import MultiBehaviorEASE
    from sklearn_recsys.neural._multitask import likeliest_log_scale

    X, _ = _viewed_pairs_shop(n_users=60)
    weights = (0.5, 0.0, 1.0)
    params = dict(behaviors=BEHAVIORS, item_item_alpha=5.0, item_item_behavior_weights=weights,
                  mask_target=0.5, early_stopping=False, **SMALL)
    start = MultiTaskDAE(max_iter=1, learning_rate_init=1e-12, **params).fit(X)
    cross = MultiBehaviorEASE(behaviors=BEHAVIORS, alpha=5.0, behavior_weights=weights).fit(X)
    assert_allclose(start.item_item_coef_, cross.coef_, rtol=1e-5, atol=1e-6)
    assert_array_equal(start.item_item_weights_, weights)
    # with early stopping too, once the epoch is chosen: the cross term of all of X
    stopped = MultiTaskDAE(max_iter=2, validation_fraction=0.3, validation_holdout=0.5,
                           **{**params, "early_stopping": True}).fit(X)
    assert stopped.validation_scores_ is not None
    assert_allclose(stopped.item_item_coef_, cross.coef_, rtol=1e-5, atol=1e-6)
    Z = sp.csr_matrix(0.5 * X[:, :40].toarray() + X[:, 80:].toarray())
    assert float(start.item_item_log_scale_) == pytest.approx(
        likeliest_log_scale(X[:, 80:].tocsr(), start.item_item_coef_, Z=Z), abs=1e-5)

    model = MultiTaskDAE(max_iter=2, **params).fit(X)
    rows = X[:20]
    wide = np.exp(np.float64(model.item_item_log_scale_)) * (Z[:20] @ model.item_item_coef_)
    assert np.abs(wide).max() > 1.0
    assert_allclose(model.decision_function(rows), _dense_forward(model, rows.toarray()) + wide,
                    rtol=1e-4, atol=1e-4)
    _assert_item_item_step_loss(tf, model, X)


def test_weighted_item_item_term_finds_purchases_never_viewed():
    """Users buy the partners of the items they view: the term from views finds the held-out
    partner, the term on purchases alone cannot (the purchased pairs are unrelated)."""
    X, y = _viewed_pairs_shop()
    hit = make_ranking_scorer("hit_rate", k=1)
    params = dict(behaviors=BEHAVIORS, item_item_alpha=5.0, mask_target=0.5, max_iter=5,
                  early_stopping=False, **{**SMALL, "n_components": 1})
    views = MultiTaskDAE(item_item_behavior_weights=(1.0, 0.0, 0.0), **params).fit(X)
    purchases = MultiTaskDAE(**params).fit(X)
    assert hit(views, X, y) > 0.9
    assert hit(purchases, X, y) < 0.2


@pytest.mark.parametrize("weights, match", [
    ((0.0, 0.0, 0.0), "are all 0: the item-item term would read nothing"),
    ((1.0, 1.0), "must hold 3 finite non-negative numbers"),
    ((1.0, -1.0, 1.0), "must hold 3 finite non-negative numbers")])
def test_item_item_behavior_weights_errors_name_the_fix(weights, match):
    X, _ = _viewed_pairs_shop(n_users=30)
    with pytest.raises(ValueError, match=match):
        MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, item_item_behavior_weights=weights,
                     max_iter=1, **SMALL).fit(X)


def test_partial_fit_refuses_the_item_item_term():
    X, _ = _pairs_shop(n_users=50)
    with pytest.raises(ValueError, match="partial_fit cannot train the item-item term"):
        MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, **SMALL).partial_fit(X)
    model = MultiTaskDAE(behaviors=BEHAVIORS, **SMALL).partial_fit(X)
    assert model.item_item_coef_ is None
    assert model.decision_function(X[:3]).shape == (3, 40)
    # a model fitted with the term cannot continue without it either
    fitted = MultiTaskDAE(behaviors=BEHAVIORS, item_item_alpha=5.0, max_iter=1,
                          early_stopping=False, **SMALL).fit(X)
    scale = fitted.item_item_log_scale_.copy()
    fitted.set_params(item_item_alpha=None)
    with pytest.raises(ValueError, match="fitted with an item-item term"):
        fitted.partial_fit(X)
    assert_array_equal(fitted.item_item_log_scale_, scale)


@pytest.mark.parametrize("check", recommender_checks(), ids=lambda c: c.__name__)
def test_item_item_model_keeps_the_recommender_contract(check):
    """The library's recommender checks (one behaviour: the term is EASE on it)."""
    check("MultiTaskDAE", MultiTaskDAE(item_item_alpha=5.0, hidden_layer_sizes=(8,),
                                       n_components=4, n_experts=2, max_iter=2, batch_size=16,
                                       early_stopping=False, random_state=0))


def test_item_item_model_passes_scikit_learns_checks():
    """scikit-learn's estimator checks, but those that call partial_fit (refused)."""
    from sklearn.utils.estimator_checks import check_estimator

    model = MultiTaskDAE(item_item_alpha=5.0, hidden_layer_sizes=(8,), n_components=4,
                         n_experts=2, max_iter=2, batch_size=16, early_stopping=False,
                         random_state=0)
    results = check_estimator(model, on_fail=None)
    failed = {r["check_name"]: str(r["exception"]) for r in results if r["status"] == "failed"}
    # the checks that call partial_fit, refused with the message that names the fix
    assert sorted(failed) == ["check_fit_score_takes_y", "check_n_features_in_after_fitting"]
    assert all("partial_fit cannot train the item-item term" in m for m in failed.values())
    assert sum(r["status"] == "passed" for r in results) > 40


def test_untrained_behaviour_columns_are_not_read_by_the_encoder(split):
    """A (behaviour, item) column without training interactions kept its random input
    weights: one view of a never-viewed item moved every target score (up to 0.49 with
    alpha=0). Only its skip weight (the smoothed conversion prior) may read it."""
    X_in, _ = split
    n = 40
    never_viewed = [37, 38, 39]
    X = X_in.tolil()
    X[:, never_viewed] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    model = MultiTaskDAE(behaviors=BEHAVIORS, max_iter=5, alpha=0.0, **SMALL).fit(X)
    assert not model._input_trained[never_viewed].any()
    rows = X[:30]
    viewed = rows.tolil()
    viewed[:, 38] = 1.0
    moved = model.decision_function(viewed.tocsr()) - model.decision_function(rows)
    expected = np.zeros_like(moved)
    expected[:, 38] = model.skip_coefs_[model.target_index_, 0, 38]
    assert_allclose(moved, expected, atol=1e-6)
    # partial_fit after fit keeps fit's columns (and its chunk's)
    model.partial_fit(X[:50])
    assert_array_equal(model._input_trained, np.bincount(X.indices, minlength=3 * n) > 0)
