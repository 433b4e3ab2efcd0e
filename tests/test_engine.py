"""The training engine: patience, tol, best-state restore, splits, per-fit state, progress."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator

from sklearn_recsys import (
    BPR,
    NMF,
    AutoRec,
    ConvMF,
    ExplicitMF,
    ImplicitALS,
    make_interactions,
)
from sklearn_recsys._engine import IterativeTrainingMixin
from sklearn_recsys.utils._holdout import split_interactions, split_users


class Scripted(IterativeTrainingMixin, BaseEstimator):
    """A model whose state is the iteration count and whose validation scores are given."""

    def __init__(self, scores=(), max_iter=10, early_stopping=True, validation_holdout=0.5,
                 n_iter_no_change=2, tol=0.0, random_state=0, verbose=0):
        self.scores = scores
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_holdout = validation_holdout
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, X_val=None):
        self._run_training(self._make_context(sp.csr_matrix(X), X_val))
        return self

    def _init_fit(self, ctx):
        self.state_ = 0
        ctx.seen_train = ctx.X_train

    def _iterate(self, ctx):
        self.state_ += 1
        return 1.0 / self.state_

    def _snapshot(self):
        return self.state_

    def _restore(self, snapshot):
        self.state_ = snapshot

    def _validation_score(self, ctx):
        return self.scores[ctx.iteration - 1]


X4 = sp.csr_matrix(np.ones((6, 8)))


def test_patience_stops_and_the_best_iteration_is_restored():
    model = Scripted(scores=[0.1, 0.3, 0.2, 0.25, 0.5, 0.4]).fit(X4)
    # 0.3 at 2, then two iterations without a gain: stop after 4
    assert model.n_iter_ == 4
    assert model.best_iteration_ == 2 and model.state_ == 2
    assert model.validation_scores_ == [0.1, 0.3, 0.2, 0.25]
    assert model.loss_curve_ == [1.0, 0.5, 1 / 3, 0.25]  # recorded with verbose=0


def test_tol_decides_patience_but_any_gain_is_kept():
    # gains of 0.001 are below tol: patience runs out after 3, but 3 is the best
    model = Scripted(scores=[0.5, 0.501, 0.502, 0.1, 0.1], tol=0.01).fit(X4)
    assert model.n_iter_ == 3 and model.best_iteration_ == 3 and model.state_ == 3
    model = Scripted(scores=[0.5, 0.501, 0.502, 0.1, 0.1], tol=0.0).fit(X4)
    assert model.n_iter_ == 5 and model.best_iteration_ == 3


def test_a_tie_with_the_best_score_is_no_gain_for_patience_nor_for_the_best_iteration():
    """A validation score equal to the best so far neither resets patience (``score > best
    + tol``, strict even at ``tol=0``) nor moves the best iteration to the later one: a
    plateau of equal NDCGs, common on small validation sets, stops training. Counting the
    tie as a gain would run on to the later 0.9s and keep one of them."""
    model = Scripted(scores=[0.3, 0.3, 0.3] + [0.9] * 7).fit(X4)
    assert model.n_iter_ == 3
    assert model.best_iteration_ == 1 and model.state_ == 1
    assert model.validation_scores_ == [0.3, 0.3, 0.3]
    # at a positive tol a gain of exactly tol is no gain for patience (0.25 + 0.25 is 0.5
    # exactly), though the best iteration takes it: stop after 3, keep 2
    model = Scripted(scores=[0.25, 0.5, 0.5, 0.9, 0.9, 0.9], tol=0.25).fit(X4)
    assert model.n_iter_ == 3 and model.best_iteration_ == 2 and model.state_ == 2


def test_without_early_stopping_every_iteration_runs_and_best_iteration_is_reset():
    model = Scripted(scores=[0.9, 0.1, 0.1, 0.1]).fit(X4)
    assert model.best_iteration_ == 1
    model.set_params(early_stopping=False, max_iter=4).fit(X4)
    assert model.validation_scores_ is None
    assert model.n_iter_ == model.best_iteration_ == model.state_ == 4


def test_given_validation_matrix_is_monitored_without_stopping():
    X_val = sp.csr_matrix(np.eye(6, 8))
    X_in = sp.csr_matrix(np.ones((6, 8)) - np.eye(6, 8))  # X_val held out of it
    model = Scripted(scores=[0.9, 0.1, 0.1, 0.1], early_stopping=False, max_iter=4)
    model.fit(X_in, X_val=X_val)
    assert model.validation_scores_ == [0.9, 0.1, 0.1, 0.1]
    assert model.state_ == 4 and model.best_iteration_ == 4


def test_interactions_split_trains_without_the_held_out_entries():
    model = Scripted(scores=[0.1] * 10)
    ctx = model._make_context(X4)
    assert ctx.split == "interactions"
    assert ctx.X_train.nnz + ctx.X_val_out.nnz == X4.nnz
    assert ctx.X_train.multiply(ctx.X_val_out).nnz == 0
    assert_array_equal(np.diff(ctx.X_val_out.indptr), 4)  # half of each user's 8


def test_no_validation_data_warns_and_trains_for_max_iter():
    single = sp.csr_matrix(np.eye(6, 8))  # one interaction per user: nothing to hold out
    with pytest.warns(UserWarning, match="holds none out"):
        model = Scripted(scores=[0.0] * 10, max_iter=3).fit(single)
    assert model.validation_scores_ is None and model.n_iter_ == 3


class ScriptedUsers(Scripted):
    """Validates on held-out users, as the autoencoders."""

    _validation_split = "users"

    def __init__(self, scores=(), max_iter=10, early_stopping=True, validation_fraction=0.5,
                 validation_holdout=0.2, n_iter_no_change=2, tol=0.0, random_state=0,
                 verbose=0):
        super().__init__(scores, max_iter, early_stopping, validation_holdout,
                         n_iter_no_change, tol, random_state, verbose)
        self.validation_fraction = validation_fraction


def test_validation_users_with_nothing_to_hold_out_warn_and_every_user_trains():
    # 4 interactions per user: validation_holdout=0.2 holds out int(0.8) = 0 of each
    four = sp.csr_matrix(np.kron(np.eye(10), np.ones((1, 4))))
    with pytest.warns(UserWarning, match=r"validation_holdout=0.2 of each user's "
                      r"interactions \(a user needs at least 5 to hold one out\) holds none "
                      r"out of the 5 validation users"):
        ctx = ScriptedUsers(max_iter=3)._make_context(four)
    assert ctx.split is None and ctx.train_rows is None
    with pytest.warns(UserWarning, match="training without validation for max_iter"):
        model = ScriptedUsers(scores=[0.0] * 10, max_iter=3).fit(four)
    assert model.validation_scores_ is None and model.n_iter_ == 3
    # five interactions: one held out of each validation user
    five = sp.csr_matrix(np.kron(np.eye(10), np.ones((1, 5))))
    ctx = ScriptedUsers()._make_context(five)
    assert ctx.split == "users" and len(ctx.train_rows) == 5 and ctx.X_val_out.nnz == 5


def test_the_split_draws_do_not_shift_the_model_draws():
    # the split has its own generator: a model's first draw is the same with
    # or without validation
    a = Scripted(random_state=3)._make_context(X4, None, validate=True)
    b = Scripted(random_state=3)._make_context(X4, None, validate=False)
    assert a.split == "interactions" and b.split is None
    assert a.rng.randint(1 << 30) == b.rng.randint(1 << 30)


@pytest.mark.parametrize("seed", range(5))
def test_split_helpers_partition(seed):
    X = make_interactions(50, 30, density=0.2, random_state=seed)
    rng = np.random.RandomState(seed)
    keep, out = split_interactions(X, 0.3, 2, rng)
    assert (keep + out - X).nnz == 0 and keep.multiply(out).nnz == 0
    n_u = np.diff(X.indptr)
    assert_array_equal(np.diff(out.indptr), np.where(n_u >= 2, (0.3 * n_u).astype(int), 0))
    train, val = split_users(50, 0.2, rng)
    assert len(val) == 10 and len(np.intersect1d(train, val)) == 0
    assert len(train) + len(val) == 50


ITERATIVE = [
    ImplicitALS(n_components=4, max_iter=3, early_stopping=True, random_state=0),
    BPR(n_components=4, max_iter=3, early_stopping=True, random_state=0),
    ExplicitMF(n_components=4, solver="als", max_iter=3, early_stopping=True, random_state=0),
    NMF(n_components=4, max_iter=3, early_stopping=True, random_state=0),
    ConvMF(n_components=4, max_iter=3, early_stopping=True, random_state=0),
]


@pytest.mark.parametrize("model", ITERATIVE, ids=lambda m: type(m).__name__)
def test_iterative_models_keep_no_scratch_state_and_are_quiet(model, capsys):
    X = make_interactions(80, 40, density=0.15, random_state=0)
    X.data = np.random.default_rng(0).integers(1, 6, X.nnz).astype(float)  # ratings
    model.fit(X)
    params = set(model.get_params())
    # private fitted state: BPR's fold-in seed, the training popularity, the items trained
    leftovers = [n for n in vars(model) if n not in params and not n.endswith("_")
                 and n not in ("_fold_in_seed", "_item_popularity", "_trained_items",
                               "_fitted_params")]
    assert leftovers == []
    assert len(model.loss_curve_) == model.n_iter_
    assert all(np.isfinite(v) for v in model.loss_curve_)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_iteration_ == int(np.argmax(model.validation_scores_)) + 1
    assert capsys.readouterr().err == ""


def test_autorec_validation_scores_are_higher_is_better():
    rng = np.random.default_rng(0)
    X = sp.csr_matrix(rng.integers(1, 6, size=(60, 20)) * (rng.random((60, 20)) < 0.5))
    model = AutoRec(n_components=4, max_iter=20, n_iter_no_change=5, random_state=0).fit(X)
    assert all(s < 0 for s in model.validation_scores_)  # minus RMSE
    assert model.best_iteration_ == int(np.argmax(model.validation_scores_)) + 1


class Diverging(Scripted):
    """Its weights, a list of layers as the networks keep them, turn NaN at iteration 2."""

    def _init_fit(self, ctx):
        super()._init_fit(ctx)
        self.layers_ = [{"W": np.ones((2, 2))}, (np.zeros(2), np.ones(2))]

    def _iterate(self, ctx):
        if ctx.iteration == 2:
            self.layers_[0]["W"][0, 0] = np.nan
        return super()._iterate(ctx)


def test_non_finite_weights_inside_lists_and_dicts_are_caught():
    with pytest.raises(FloatingPointError, match="layers_ hold non-finite values"):
        Diverging(max_iter=3, early_stopping=False).fit(X4)
    # finite nested weights, float lists (loss_curve_) and plain numbers pass
    model = Diverging(max_iter=1, early_stopping=False).fit(X4)
    assert np.isfinite(model.layers_[0]["W"]).all()


@pytest.mark.parametrize("make", [
    lambda **kw: ImplicitALS(n_components=8, alpha=1e-3, confidence_scale=20, random_state=0,
                             **kw),
    lambda **kw: BPR(n_components=8, learning_rate_init=0.1, random_state=0, **kw),
    lambda **kw: NMF(feedback="implicit", n_components=8, random_state=0, **kw),
], ids=["ImplicitALS", "BPR", "NMF"])
def test_early_stopping_keeps_the_best_iterations_state_itself(make):
    """The kept factors are those of best_iteration_, not the last ones: a refit of that
    many iterations without stopping gives the same factors and scores. (The other tests
    checked best_iteration_ only: a model whose restore did nothing passed them; found by
    an audit helper.)"""
    from sklearn_recsys.model_selection import holdout_split

    X = make_interactions(n_users=150, n_items=60, density=0.12, random_state=0)
    X_in, X_val = holdout_split(X, random_state=0)
    stopped = make(max_iter=40, early_stopping=True, n_iter_no_change=2).fit(X_in, X_val=X_val)
    assert stopped.n_iter_ > stopped.best_iteration_  # it ran past the best and went back
    refit = make(max_iter=stopped.best_iteration_, early_stopping=False).fit(X_in, X_val=X_val)
    assert_array_equal(stopped.item_factors_, refit.item_factors_)
    assert refit.validation_scores_[-1] == max(stopped.validation_scores_)


def test_users_split_trains_on_the_larger_part_without_shifting_the_model_draws():
    # validation_fraction=0.2 of 10 users: 8 train, 2 validate (not the other way round)
    ten = sp.csr_matrix(np.kron(np.eye(10), np.ones((1, 5))))
    ctx = ScriptedUsers(validation_fraction=0.2)._make_context(ten)
    assert len(ctx.train_rows) == 8 and ctx.X_val_in.shape[0] == 2
    # the split draws from its own stream: validating leaves the model's draws as they were
    a = ScriptedUsers(random_state=3)._make_context(ten, validate=True)
    b = ScriptedUsers(random_state=3)._make_context(ten, validate=False)
    assert a.split == "users"
    assert a.rng.randint(1 << 30) == b.rng.randint(1 << 30)
