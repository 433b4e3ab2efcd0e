"""No silent wrong answers: numerics, degenerate data, bounds and metric inputs (issue 13).

Each test pins the answer the library gives to one class of bad or extreme
input: the right result, or an error or warning that names the fix. The
table of these answers is ``docs/trust.rst``.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.baselines import ItemKNN
from sklearn_recsys.linear import EASE
from sklearn_recsys.matrix_factorization import BPR, NMF, ExplicitMF, ImplicitALS
from sklearn_recsys.metrics import (
    make_ranking_scorer,
    make_rating_scorer,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from sklearn_recsys.preprocessing import RatingBinarizer
from sklearn_recsys.utils import all_estimators, top_k


def _ratings(n_users=80, n_items=30, density=0.3, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n_users, n_items, density=density, format="csr", random_state=seed)
    X.data = rng.integers(1, 6, X.nnz).astype(np.float64)
    return X


def _binary(n_users=80, n_items=30, density=0.3, seed=0):
    X = _ratings(n_users, n_items, density, seed)
    X.data[:] = 1.0
    return X


# ------------------------------------------------------------------ numerics


def test_itemknn_overflow_raises_instead_of_zero_similarities():
    """Values whose squares overflow made every norm inf, every similarity x / inf = 0 and
    every score 0, silently (audit38); cosine is scale-free below that."""
    X = _ratings()
    with pytest.raises(FloatingPointError, match="overflow float64.*Scale the values"):
        ItemKNN().fit(X * 1e300)
    np.testing.assert_allclose(ItemKNN().fit(X * 1e150).similarity_.toarray(),
                               ItemKNN().fit(X).similarity_.toarray(), rtol=1e-12)


def test_float32_overflow_refits_in_float64():
    X = _ratings()
    X.data[0] = 1e20  # its square is beyond float32 (3.4e38)
    with pytest.warns(RuntimeWarning, match="Refitting in float64"):
        model = ExplicitMF(n_components=4, alpha=0.1, max_iter=3, random_state=0).fit(X)
    assert model.dtype is np.float32  # the parameter is left as the user set it
    assert model.item_factors_.dtype == np.float64
    assert np.isfinite(model.decision_function(X)).all()
    assert np.isfinite(model.predict_ratings(X)).all()


def test_values_beyond_float32_refit_in_float64_and_fold_in_raises_clearly():
    X = _binary()
    X.data[:] = 1e39  # finite in float64, infinite once cast to float32
    with pytest.warns(RuntimeWarning, match="ImplicitALS: the values of X .*outside "
                                            "float32's range.*Refitting in float64"):
        model = ImplicitALS(n_components=4, max_iter=3, random_state=0).fit(X)
    assert np.isfinite(model.decision_function(X)).all()
    model32 = ImplicitALS(n_components=4, max_iter=3, random_state=0).fit(_binary())
    with pytest.raises(FloatingPointError, match=r"non-finite scores for \d+ user.*log1p"):
        model32.decision_function(X)


def test_a_scored_row_beyond_the_models_range_is_refused_by_every_path():
    """Found by an audit helper: NMF(feedback="explicit") read an overflowing row's NaN
    update as 0 (its kernel tested d > 0), so the row scored 0 everywhere (catalogue
    order); the leave-one-out explain (NMF, BPR...) returned NaN contributions; and
    ImplicitALS.explain failed in numpy.linalg (Singular matrix). Each now raises the
    FloatingPointError that recommend raises for the row, naming the fix."""
    X, row = _ratings(40, 10), np.zeros((1, 10))
    row[0, 1], row[0, 4] = 1e39, 5.0  # finite in float64, beyond float32
    explicit = NMF(n_components=3, max_iter=5, random_state=0).fit(X)
    implicit = NMF(n_components=3, max_iter=5, random_state=0, feedback="implicit").fit(X)
    for model in (explicit, implicit):
        with pytest.raises(FloatingPointError, match=r"non-finite scores for 1 user.*log1p"):
            model.recommend(row)
        with pytest.raises(FloatingPointError,
                           match="non-finite scores for the row explained.*Scale the values"):
            model.explain(row, 2)
        with pytest.raises(FloatingPointError, match="the row explained"):
            model.explain_contrast(row, 2, against=[3, 5])
    als = ImplicitALS(n_components=3, max_iter=2, random_state=0, dtype=np.float64).fit(
        _binary(40, 10))
    with pytest.raises(FloatingPointError, match=r"explain: the fold-in .* largest value is "
                                                 r"1e\+39.*scale the values of X down"):
        als.explain(row, 2)
    # rows in range are explained as before
    assert np.isfinite(explicit.explain(X[0], 2)[1]).all()
    assert np.isfinite(als.explain(X[0], 2)[1]).all()


@pytest.mark.parametrize("scale", [1e40, 1e-46])
def test_ratings_beyond_float32_are_not_read_as_one_value(scale):
    """NMF and ConvMF checked the ratings after the cast to float32: distinct ratings of
    1e40 to 5e40 (or 1e-46 to 5e-46) became inf (or 0) and were refused as 'every value of
    X is inf: use an implicit model'; HybridMF's lists at 1e-46 were in item order. (In
    float64, NMF's and ConvMF's penalties outweigh ratings of 1e-46, and they warn.)"""
    from sklearn_recsys import ConvMF, HybridMF

    rng = np.random.RandomState(0)
    X = sp.csr_matrix((rng.rand(40, 25) < 0.25) * rng.randint(1, 6, (40, 25)),
                      dtype=np.float64)
    for model in (NMF(n_components=4, max_iter=5, random_state=0),
                  ConvMF(n_components=4, max_iter=3, alpha_item=10.0, random_state=0),
                  HybridMF(n_components=4, max_iter=3, random_state=0)):
        if isinstance(model, HybridMF) and scale > 1:
            # implicit confidences of 1 + 10 x 5e40: the fold-in's Cholesky pivots are
            # noise even in float64 (a floor of 1e-12 on them gave finite scores 1e37
            # times off the large-confidence limit); refused, naming the fix
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # the float64 refit's notice
                with pytest.raises(FloatingPointError, match="folding in training users.*"
                                                             "scale the values of X down"):
                    model.fit(X * scale)
            continue
        with pytest.warns(RuntimeWarning, match=r"values of X \(from .*\) are outside "
                                                r"float32's range.*Refitting in float64"):
            model.fit(X * scale)
        scores = model.decision_function(X * scale)
        assert np.isfinite(scores).all()
        if scale > 1 or isinstance(model, HybridMF):  # tiny ratings: the penalty wins (it warns)
            assert not np.any(np.ptp(scores, axis=1) == 0)
    # BPR reads which entries are stored, not their values: the same model at any scale
    bpr = BPR(n_components=4, max_iter=2, random_state=0)
    assert_array_equal(bpr.fit(X * scale).decision_function(X),
                       clone(bpr).fit(X).decision_function(X))


def test_fit_whose_fold_in_overflows_refits_in_float64():
    # CG training stays finite in float32 where the fold-in's Cholesky overflows
    X = _binary(300, 100, 0.1)
    X.data *= 1e8
    with pytest.warns(RuntimeWarning, match="folding in training users.*Refitting in float64"):
        model = ImplicitALS(n_components=8, max_iter=3, random_state=0).fit(X)
    assert np.isfinite(model.decision_function(X)).all()


def test_the_fold_in_check_covers_the_users_of_fewest_interactions(monkeypatch):
    """Their systems are the worst conditioned (fewer interactions than factors): with
    equal values the check took 64 users in the sort's tie order, which numpy 2.4 changed
    so that none of the 15 users whose float32 fold-in overflowed was among them."""
    X = _binary(300, 100, 0.1)
    X.data *= 1e8
    checked = []
    model = ImplicitALS(n_components=8, max_iter=1, random_state=0, dtype=np.float64)
    score = model._score_batch

    def spy(rows):
        checked.append(rows)
        return score(rows)

    monkeypatch.setattr(model, "_score_batch", spy)
    model.fit(X)
    counts = np.diff(X.indptr)
    fewest = np.argsort(counts, kind="stable")[:32]
    rows = checked[0]
    assert rows.shape[0] <= 64
    # the checked rows are X's rows of the fewest interactions (and of the largest values)
    assert set(np.diff(rows.indptr).tolist()) >= set(counts[fewest].tolist())
    assert sorted(np.diff(rows.indptr))[:32] == sorted(counts[fewest])


@pytest.mark.parametrize("Model", [ImplicitALS, ExplicitMF])
def test_zero_penalty_is_refused(Model):
    # with alpha=0 a user with fewer interactions than factors has a singular system
    with pytest.raises(InvalidParameterError, match="alpha"):
        Model(alpha=0).fit(_ratings())


def test_explicit_mf_zero_bias_penalty_stays_finite():
    X = _ratings()
    X[3] = 0  # an empty user row and, below, an empty item column
    X[:, 5] = 0
    X.eliminate_zeros()
    model = ExplicitMF(n_components=4, alpha=0.1, alpha_bias=0, max_iter=3,
                       random_state=0).fit(X)
    assert np.isfinite(model.predict_ratings(X)).all()


@pytest.mark.parametrize("lr", [1.0, 5.0])
def test_bpr_divergence_is_an_error_naming_the_learning_rate(lr):
    with pytest.raises(FloatingPointError, match="BPR diverged.*lower learning_rate_init"):
        BPR(n_components=8, learning_rate_init=lr, max_iter=40, random_state=0).fit(
            _binary(300, 100, 0.05))


def test_scores_that_go_non_finite_raise_instead_of_ranking():
    model = EASE(alpha=1.0).fit(_binary())
    model.coef_ = model.coef_.copy()
    model.coef_[:, 2] = np.nan  # as a corrupted or overflowed model would have
    X = _binary()
    with pytest.raises(FloatingPointError, match="non-finite scores"):
        model.recommend(X, k=3)


def test_integer_input_trains_like_float():
    X = _binary(300, 100, 0.05)
    a = BPR(n_components=8, max_iter=5, random_state=0).fit(X).decision_function(X)
    b = BPR(n_components=8, max_iter=5, random_state=0).fit(
        X.astype(np.int32)).decision_function(X.astype(np.int32))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert np.ptp(a) > 0


@pytest.mark.parametrize("dtype, values, total", [
    (np.uint8, [200, 100], 300.0),  # summed in uint8: 44
    (np.int16, [30000, 30000, 10000], 70000.0),  # in int16: 4464
    (np.uint8, [1] * 256, 256.0),  # in uint8: 0, the interaction dropped
    (np.int8, [100, 100], 200.0),  # in int8: -56, a misleading "negative values"
])
def test_repeated_coo_entries_of_small_integers_are_summed_as_floats(dtype, values, total):
    """A COO log of plays in a compact dtype: its repeated entries are summed after the
    conversion to float (SciPy's tocsr sums in the matrix's own dtype, wrapping around)."""
    from sklearn_recsys import MostPopular
    from sklearn_recsys.model_selection import holdout_split

    n = len(values)
    rows = np.r_[np.zeros(n, int), 1]
    cols = np.r_[np.zeros(n, int), 1]
    X = sp.coo_matrix((np.r_[values, 1].astype(dtype), (rows, cols)), shape=(2, 3))
    model = MostPopular().fit(X)
    assert model._item_popularity.tolist() == [0.5, 0.5, 0.0]  # two users, one each
    assert model.n_features_in_ == 3
    from sklearn_recsys.utils._validation import check_interaction_matrix

    assert check_interaction_matrix(X).toarray()[0, 0] == total
    train, test = holdout_split(X, holdout=0.5, min_interactions=1, random_state=0)
    assert (train + test).toarray()[0, 0] == total
    # a presence matrix of booleans stays one: repeated entries are or-ed, as before
    present = sp.coo_matrix((np.ones(n + 1, bool), (rows, cols)), shape=(2, 3))
    assert check_interaction_matrix(present).toarray()[0, 0] == 1.0


@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "csr_array", "coo_matrix"])
def test_a_repeated_true_is_one_interaction_in_every_format(fmt):
    """A presence matrix of booleans built from item lists with a repeat: a compressed
    format was cast to float before its duplicates were summed, so the repeat counted 2
    (EASE's scores moved by 0.38; graded NDCG 0.4632 instead of 0.5); COO gave 1."""
    from sklearn_recsys import EASE
    from sklearn_recsys.metrics import ndcg_at_k
    from sklearn_recsys.utils._validation import check_interaction_matrix

    indices, indptr = np.array([1, 1, 2, 0, 3]), np.array([0, 3, 5])
    data = np.ones(5, bool)
    csr = sp.csr_matrix((data, indices, indptr), shape=(2, 4))
    assert not csr.has_canonical_format
    if fmt == "csc_matrix":  # the same entries stored column-wise, the repeat kept
        X = sp.csc_matrix((data, np.array([1, 0, 0, 0, 1]), np.array([0, 1, 3, 4, 5])),
                          shape=(2, 4))
    elif fmt == "coo_matrix":
        X = sp.coo_matrix((data, (np.repeat([0, 1], [3, 2]), indices)), shape=(2, 4))
    else:
        X = getattr(sp, fmt)(csr)
    assert X.nnz == 5
    expected = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]])
    assert_array_equal(check_interaction_matrix(X).toarray(), expected)
    dense = EASE(alpha=1.0).fit(expected)
    model = EASE(alpha=1.0).fit(X)
    np.testing.assert_allclose(model.decision_function(X), dense.decision_function(expected))
    scores = np.array([[0.9, 0.1, 0.8, 0.2], [0.3, 0.2, 0.1, 0.7]])
    graded = ndcg_at_k(expected, scores, k=4, gain="graded")
    assert ndcg_at_k(X, scores, k=4, gain="graded") == graded


def test_side_matrices_sum_their_duplicates_as_interactions_do():
    """HybridMF's features and the rerankers' categories skipped the conversion before the
    sum: a uint8 COO with 200 and 100 on one cell became 44, a repeated True 2."""
    from sklearn_recsys.matrix_factorization._hybrid import check_side_features
    from sklearn_recsys.metrics._beyond_accuracy import _category_matrix

    counts = sp.coo_matrix((np.array([200, 100, 7], np.uint8), ([0, 0, 1], [0, 0, 1])),
                           shape=(2, 2))
    flags = sp.csr_matrix((np.ones(3, bool), np.array([0, 0, 1]), np.array([0, 2, 3])),
                          shape=(2, 2))
    for F, expected in ((counts, [[300.0, 0.0], [0.0, 7.0]]), (flags, [[1.0, 0.0], [0.0, 1.0]])):
        assert_array_equal(check_side_features(F, 2, "item_features", "item").toarray(),
                           expected)
        assert_array_equal(_category_matrix(F).toarray(), expected)


# ------------------------------------------------------------ degenerate data


@pytest.mark.parametrize("make", [
    lambda: ExplicitMF(n_components=4, max_iter=2),
    lambda: NMF(n_components=4, max_iter=2),
])
def test_rating_models_refuse_single_valued_data(make):
    with pytest.raises(ValueError, match="models explicit ratings.*ImplicitALS"):
        make().fit(_binary())


def test_the_sampler_on_huge_ratings_says_what_to_do():
    """ExplicitMF's Gibbs sampler on ratings of about 1e10 failed in SciPy's Cholesky of the
    Wishart draw (numpy.linalg.LinAlgError), where the other models name the fix. (Its
    posterior's own Cholesky may fail first: pivots below their diagonal's rounding are
    NaN, and the training loss names the same fix.)"""
    rng = np.random.RandomState(0)
    X = sp.csr_matrix((rng.rand(40, 25) < 0.25) * rng.randint(1, 6, (40, 25)),
                      dtype=np.float64)
    ExplicitMF(n_components=4, max_iter=3, random_state=0).fit(X * 1e9)  # still fits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the float64 refit's notice
        with pytest.raises(FloatingPointError,
                           match="(hyperprior is singular|training loss is nan).*scale the "
                                 "values of X down"):
            ExplicitMF(n_components=4, max_iter=3, random_state=0).fit(X * 1e10)


def test_factors_below_the_scores_precision_warn():
    """ConvMF without documents (PMF) on ratings without structure: alpha_item=1000 (its
    default until cornac's 100 replaced it) shrank the factors to a score
    spread of about 1e-8 around global_mean_ (3), which float32 rounds away: 96% of the
    users got every item tied (lists in item order), silently."""
    from sklearn_recsys import ConvMF

    rng = np.random.RandomState(0)
    X = sp.csr_matrix((rng.rand(600, 150) < 0.1) * rng.randint(1, 6, (600, 150)),
                      dtype=np.float64)
    with pytest.warns(UserWarning, match=r"equal over every item for 9\d of the first 100 "
                                         r"training users.*float32.*dtype=np.float64"):
        model = ConvMF(n_components=8, alpha_item=1000.0, max_iter=5, random_state=0).fit(X)
    assert np.mean(np.ptp(model.decision_function(X[:100]), axis=1) == 0) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ConvMF(n_components=8, alpha_item=1000.0, max_iter=5, random_state=0,
                       dtype=np.float64).fit(X)
    assert not np.any(np.ptp(model.decision_function(X[:100]), axis=1) == 0)


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_factors_zeroed_by_the_penalty_warn(feedback):
    X = _ratings()
    X.data *= 1e-10  # the absolute penalty outweighs data this small
    with pytest.warns(UserWarning, match="learned all-zero .*scale them up, or lower alpha"):
        NMF(n_components=4, max_iter=5, feedback=feedback, random_state=0).fit(X)


@pytest.mark.parametrize("feedback, scale", [("implicit", 1e19), ("implicit", 1e37),
                                             ("explicit", 1e30), ("explicit", 1e37)])
def test_nmf_on_huge_values_overflows_loudly_not_into_zeros(feedback, scale):
    """Values this large overflow float32 products (the item Gram, a row's denominator).
    An overflow must reach the engine as a non-finite loss, which refits in float64: the
    flush of subnormal updates to 0 first turned NaN into 0 (``NaN >= tiny`` is False),
    so these fits ended with all-zero factors, every item scored alike for every user and
    a warning that blamed the penalty."""
    X = _ratings()
    X.data *= scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the float64 refit's notice
        model = NMF(n_components=4, max_iter=5, feedback=feedback, random_state=0).fit(X)
    scores = model.decision_function(X)
    assert np.isfinite(scores).all()
    assert not np.any(np.ptp(scores, axis=1) == 0)


def test_bias_only_explicit_mf_does_not_warn_about_zero_factors(recwarn):
    ExplicitMF(n_components=4, alpha=np.inf, max_iter=2, random_state=0).fit(_ratings())
    assert not [w for w in recwarn if "all-zero" in str(w.message)]


def test_similar_items_of_zero_factors_is_padding():
    # the bias-only model has no item factors: no neighbour is better than another
    model = ExplicitMF(n_components=4, alpha=np.inf, max_iter=2, random_state=0)
    idx, scores = model.fit(_ratings()).similar_items([3, 5], k=3)
    assert (idx == -1).all() and np.isneginf(scores).all()
    # one item's factors zeroed: it is no one's neighbour, and has none
    model = ImplicitALS(n_components=4, max_iter=3, random_state=0).fit(_binary())
    model.item_factors_[7] = 0.0
    idx, _ = model.similar_items([7, 0], k=29)
    assert (idx[0] == -1).all() and 7 not in idx[1] and (idx[1] >= 0).sum() == 28


@pytest.mark.parametrize("Model, params, match", [
    (NMF, {"dtype": np.int32}, "'dtype' parameter"),
    (ImplicitALS, {"dtype": np.float16}, "'dtype' parameter"),
    (BPR, {"dtype": np.complex128}, "'dtype' parameter"),
    (ImplicitALS, {"n_jobs": 0}, "'n_jobs' parameter"),
    (BPR, {"n_jobs": 0}, "'n_jobs' parameter"),
    (ExplicitMF, {"n_jobs": 1.5}, "'n_jobs' parameter"),
])
def test_parameters_that_would_break_the_kernels_are_refused(Model, params, match):
    with pytest.raises(InvalidParameterError, match=match):
        Model(max_iter=1, **params).fit(_ratings())
    for dtype in (np.float32, np.float64, float):  # float is NumPy's float64
        Model(max_iter=1, n_components=4, **{**params, "dtype": dtype, "n_jobs": -2}).fit(
            _ratings())


def test_nmf_implicit_accepts_binary_data():
    model = NMF(n_components=4, max_iter=3, feedback="implicit", random_state=0).fit(_binary())
    assert np.ptp(model.decision_function(_binary())) > 0


def test_binarizer_refuses_data_below_its_threshold():
    with pytest.raises(ValueError, match="No value of X reaches threshold=4.0.*drop RatingBin"):
        RatingBinarizer().fit(_binary())
    assert RatingBinarizer().fit_transform(_ratings()).nnz > 0


def _recommenders():
    from tests.test_common import _TEST_PARAMS

    for name, cls in all_estimators():
        if issubclass(cls, RecommenderMixin):
            yield cls(**_TEST_PARAMS.get(name, {}))


@pytest.mark.parametrize("estimator", list(_recommenders()), ids=lambda e: type(e).__name__)
def test_fit_on_matrix_without_interactions_is_an_error(estimator):
    with pytest.raises(ValueError, match="without any interaction"):
        estimator.fit(sp.csr_matrix((10, 6)))


@pytest.mark.parametrize("Model", [EASE, ItemKNN, ImplicitALS, BPR])
def test_user_without_history_gets_the_most_popular_items(Model):
    X = _binary(200, 40, 0.15, seed=3)
    model = Model(random_state=0) if "random_state" in Model().get_params() else Model()
    model.fit(X)
    counts = np.bincount(X.indices, minlength=X.shape[1])
    expected = np.lexsort((np.arange(X.shape[1]), -counts))[:5]
    idx, _ = model.recommend(sp.csr_matrix((2, X.shape[1])), k=5)
    # BPR's fold-in of an empty row is zero: it ranks by the learnt item biases
    if Model is BPR:
        expected = np.lexsort((np.arange(X.shape[1]), -model.item_bias_))[:5]
    np.testing.assert_array_equal(idx, np.tile(expected, (2, 1)))


@pytest.mark.parametrize("Model", [EASE, ItemKNN, ImplicitALS])
def test_a_user_whose_only_items_had_no_interactions_gets_the_most_popular(Model):
    """Such a row teaches the model nothing (zero factors, no neighbours): its scores tie,
    and it is ranked as a user without history, not in catalogue order."""
    X = _binary(200, 40, 0.15, seed=3).tolil()
    X[:, [7, 8]] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    model = Model().fit(X)
    counts = np.bincount(X.indices, minlength=X.shape[1])
    expected = np.lexsort((np.arange(X.shape[1]), -counts))[:5]
    only_unseen = sp.csr_matrix(([1.0, 1.0], ([0, 0], [7, 8])), shape=(1, 40))
    idx, _ = model.recommend(only_unseen, k=5)
    np.testing.assert_array_equal(idx[0], expected)
    # a known item in the row: the model's own scores
    assert not np.array_equal(model.recommend(only_unseen + X[0], k=5)[0][0], expected)


@pytest.mark.parametrize("Model", [EASE, ItemKNN, ImplicitALS])
def test_similar_items_of_an_item_without_interactions_is_padding(Model):
    X = _binary(100, 20, 0.3).tolil()
    X[:, 7] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    model = Model().fit(X)
    idx, scores = model.similar_items([7, 0], k=5)
    assert (idx[0] == -1).all() and np.isneginf(scores[0]).all()
    assert 7 not in idx[1] and (idx[1] >= 0).all()


# -------------------------------------------------------------- early stopping


def test_validation_matrix_inside_training_matrix_is_an_error():
    X = _binary()
    model = ImplicitALS(n_components=4, max_iter=2, early_stopping=True)
    with pytest.raises(ValueError, match="Every interaction of X_val is also in X"):
        model.fit(X, X_val=X)
    with pytest.raises(ValueError, match="X_val has no interactions"):
        model.fit(X, X_val=sp.csr_matrix(X.shape))
    X_val = X.copy()
    X_val[0, X.indices[X.indptr[0]]] = 0  # all but one interaction shared: warn
    X_val.eliminate_zeros()
    X_val = (X_val + sp.csr_matrix(([1.0], ([0], [np.setdiff1d(np.arange(30), X[0].indices)[0]])),
                                   shape=X.shape)).tocsr()
    with pytest.warns(UserWarning, match="can never count as hits"):
        model.fit(X, X_val=X_val)


def test_best_iteration_follows_each_fit():
    X = _binary(200, 40, 0.2)
    model = ImplicitALS(n_components=4, max_iter=30, early_stopping=True, n_iter_no_change=1,
                        random_state=0).fit(X)
    assert model.best_iteration_ <= model.n_iter_ < 30
    model.set_params(early_stopping=False, max_iter=4).fit(X)
    assert model.best_iteration_ == model.n_iter_ == 4


# ---------------------------------------------------------- bounds and types


def test_huge_k_costs_no_memory():
    model = EASE(alpha=1.0).fit(_binary())
    idx, scores = model.recommend(_binary()[:3], k=10**15)
    assert idx.shape == scores.shape == (3, 30)
    idx, values = top_k(np.arange(6.0).reshape(2, 3), 10**15)
    np.testing.assert_array_equal(idx, [[2, 1, 0], [2, 1, 0]])


@pytest.mark.parametrize("n_cols", [2**40, 2**62])
def test_a_repeated_pair_keeps_its_latest_key_on_any_catalogue(n_cols):
    """The (row, col) pair was flattened to row * n_cols + col, which overflows int64 from
    2**63 cells: leave_last_out_split then crashed (audit57b)."""
    from sklearn_recsys.model_selection import leave_last_out_split

    # user 1 saw the last item at times 5 and 9 (a repeated pair), user 2 item 3 at 7
    T = sp.coo_matrix((np.array([5.0, 9.0, 7.0, 1.0, 2.0]),
                       (np.array([1, 1, 2, 2, 1]), np.array([n_cols - 1, n_cols - 1, 3, 4, 0]))),
                      shape=(3, n_cols))
    _, y = leave_last_out_split(T, T)
    y = sp.coo_matrix(y)
    assert y.col.tolist() == [n_cols - 1, 3] and y.data.tolist() == [9.0, 7.0]


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_top_k_refuses_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        top_k(np.ones((1, 3)), k)


@pytest.mark.parametrize("flag", ["no", 0, None, "False"])
def test_exclude_seen_must_be_a_bool(flag):
    model = EASE(alpha=1.0).fit(_binary())
    with pytest.raises(TypeError, match="exclude_seen must be True or False"):
        model.recommend(_binary()[:2], exclude_seen=flag)


def test_explain_takes_one_item():
    X = _binary()
    model = EASE(alpha=1.0).fit(X)
    with pytest.raises(ValueError, match="item must be one item index"):
        model.explain(X[:1], item=[0, 1])
    items, contrib = model.explain(X[:1], item=np.int64(4))
    assert contrib.sum() == pytest.approx(model.decision_function(X[:1])[0, 4])


def test_scorer_options_are_checked():
    with pytest.raises(ValueError, match="gain must be one of"):
        make_ranking_scorer("ndcg", gain="bogus")
    with pytest.raises(TypeError, match="unexpected option 'gain'"):
        make_ranking_scorer("recall", gain="graded")
    make_ranking_scorer("ndcg", gain="graded")


# ------------------------------------------------- parameters at their bounds


def test_hybrid_mf_with_a_huge_alpha_refits_in_float64():
    """HybridMF's float32 factors overflowed at alpha=1e20 (allowed) and reached its ridge
    map's solver, which raised SciPy's "array must not contain infs or NaNs"; the float64
    refit that ImplicitALS gets never ran (audit57a F1)."""
    from sklearn_recsys import HybridMF

    X = _binary(40, 25, 0.2)
    features = np.eye(25)[:, :5]
    params = dict(n_components=4, alpha=1e20, item_features=features, max_iter=3,
                  random_state=0)
    with pytest.warns(RuntimeWarning, match=r"HybridMF diverged: the item factors hold "
                                            r"non-finite values.*lower alpha \(now 1e\+20"):
        model = HybridMF(**params).fit(X)
    reference = HybridMF(**params, dtype=np.float64).fit(X)
    np.testing.assert_array_equal(model.decision_function(X), reference.decision_function(X))


@pytest.mark.parametrize("model, advice, not_said", [
    # gradient-trained: the step size first, and never "increase alpha"
    (lambda: _neural("MultVAE", learning_rate_init=100.0),
     "lower learning_rate_init (now 100) or scale the values of X down", "alpha"),
    # order keys: neither the values' scale nor an alpha it does not have
    (lambda: _neural("SASRec", learning_rate_init=1e6), "lower learning_rate_init (now 1e+06).",
     "values"),
    # an alpha beyond the float type is the cause, said first
    (lambda: _neural("AutoRec", alpha=1e300), "lower alpha (now 1e+300: float32", "increase"),
    (lambda: ImplicitALS(alpha=1e20), "lower alpha (now 1e+20: float32", "increase"),
    (lambda: ImplicitALS(alpha=1e20, dtype=np.float64), "or increase alpha.", "lower"),
    (lambda: BPR(), "lower learning_rate_init (now 0.05).", "values"),
])
def test_divergence_advice_follows_the_model(model, advice, not_said):
    """One fixed sentence ("scale the values of X down ... or increase alpha") was every
    model's advice: wrong for a learning rate that overshoots, for the sequential models
    (no alpha; only the order of X is read) and where alpha itself overflows (audit57a F2)."""
    hint = model()._divergence_hint() + "."
    assert advice in hint and not_said not in hint, hint


def _neural(name, **params):
    pytest.importorskip("tensorflow")
    return dict(all_estimators())[name](**params)


def test_a_diverging_learning_rate_is_named():
    pytest.importorskip("tensorflow")
    from sklearn_recsys import MultVAE

    with pytest.raises(FloatingPointError, match=r"MultVAE diverged.*To fix it, lower "
                                                 r"learning_rate_init \(now 100\)"):
        MultVAE(hidden_layer_sizes=(8,), n_components=4, learning_rate_init=100.0,
                max_iter=3, random_state=0).fit(_binary())


def test_a_rating_threshold_beyond_the_float_type_is_named():
    """MultiTaskMF's log Phi((r - t) / sigma) overflowed float32 for t of 1e20 and the error
    blamed the values of X and alpha (audit57a F2); 1e19 still scores."""
    from sklearn_recsys import MultiTaskMF

    X = _ratings(40, 25, 0.2)
    model = MultiTaskMF(n_components=4, solver="als", max_iter=3, random_state=0).fit(X)
    model.set_params(rating_threshold=1e19)
    assert np.isfinite(model.decision_function(X)).all()
    model.set_params(rating_threshold=1e20)
    with pytest.raises(ValueError, match=r"rating_noise reaches 1e\+20 \(rating_threshold=1e\+20, "
                                         r"training ratings in \[1, 5\].*overflows float32"):
        model.decision_function(X)
    with pytest.raises(ValueError, match="reaches 3e.300.*rating_noise=1e-300"):
        model.set_params(rating_threshold=4.0, rating_noise=1e-300).decision_function(X)


def test_a_popularity_penalty_beyond_the_float_type_is_named():
    """At popularity_penalty=300 EASE's popular columns became 0 (their items tied), at 1000
    the error blamed the values of X and alpha (audit57a)."""
    X = _binary(40, 25, 0.2)
    counts = np.bincount(X.indices, minlength=25)
    with pytest.raises(ValueError, match=rf"popularity_penalty=300 divides the most popular "
                                         rf"item's column by {counts.max() + 1} \*\* 300"):
        EASE(alpha=1.0, popularity_penalty=300.0).fit(X)
    scores = EASE(alpha=1.0, popularity_penalty=20.0).fit(X).coef_
    assert (np.abs(scores).max(axis=0) > 0).sum() == (counts > 0).sum()


def test_all_zero_behaviour_weights_are_refused():
    """MultiBehaviorEASE fitted behavior_weights=(0, 0) as cross_weight=0, silently;
    MultiTaskDAE refused the same (audit57a)."""
    from sklearn_recsys import MultiBehaviorEASE

    X = sp.hstack([_binary(40, 25, 0.2), _binary(40, 25, 0.1, seed=1)], format="csr")
    with pytest.raises(ValueError, match=r"behavior_weights=\(0, 0\) are all 0: the cross "
                                         r"term would read nothing"):
        MultiBehaviorEASE(behaviors=("view", "buy"), behavior_weights=(0, 0)).fit(X)
    MultiBehaviorEASE(behaviors=("view", "buy"), behavior_weights=(0, 1)).fit(X)


@pytest.mark.parametrize("name", ["ExplicitMF", "MultiTaskMF"])
def test_a_sampler_that_ends_in_its_burn_in_warns(name):
    """max_iter <= burn_in kept one draw from inside the burn-in, silently (audit57a F3)."""
    estimator = dict(all_estimators())[name]
    X = _ratings(40, 25, 0.2)
    with pytest.warns(UserWarning, match=rf"{name}\(solver='gibbs'\) runs 5 sweeps, no more "
                                         r"than burn_in=20"):
        model = estimator(n_components=2, solver="gibbs", max_iter=5, random_state=0).fit(X)
    assert model.n_samples_kept_ == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = estimator(n_components=2, solver="gibbs", max_iter=5, burn_in=4, thin=1,
                          random_state=0).fit(X)
    assert model.n_samples_kept_ == 1


def test_a_bias_only_fit_chosen_over_the_sampler_does_not_warn_of_its_burn_in():
    """ExplicitMF()'s default may keep its biases over the sampler: the burn-in warning was
    given before that choice, about a draw the model does not use."""
    rng = np.random.default_rng(0)
    user_bias, item_bias = rng.normal(0, 0.5, 500), rng.normal(0, 0.5, 150)
    R = np.clip(np.rint(3.5 + user_bias[:, None] + item_bias + rng.normal(0, 0.8, (500, 150))),
                1, 5)
    X = sp.csr_matrix(R * (rng.random(R.shape) < 0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = ExplicitMF(max_iter=20, random_state=0).fit(X)
    assert model.solver_ == "als" and model.alpha_ == np.inf


def test_bpr_steps_too_small_to_fold_users_in_warn():
    """BPR's collapse check read its training factors, but users are served by SGD fold-in
    steps of learning_rate_init: at 1e-300 every list was catalogue order, silently."""
    X = _binary(40, 25, 0.2)
    with pytest.warns(UserWarning, match="BPR's scores are equal over every item"):
        model = BPR(n_components=4, learning_rate_init=1e-300, max_iter=2,
                    random_state=0).fit(X)
    assert np.mean(np.ptp(model.decision_function(X), axis=1) == 0) > 0.9


# -------------------------------------------------------------------- metrics


def test_ranked_lists_with_a_repeated_item_are_refused():
    y = sp.csr_matrix([[1, 0, 0, 0]])
    for metric in (ndcg_at_k, recall_at_k):
        with pytest.raises(ValueError, match="repeat an item"):
            metric(y, np.array([[0, 0]]), k=2)
    # padding (-1) may repeat
    assert ndcg_at_k(y, np.array([[0, -1, -1]]), k=3) == 1.0


def test_metric_arguments_that_would_be_misread_are_refused():
    y = sp.csr_matrix([[1.0, 0, 0, 1.0]])
    scores = np.array([[0.4, 0.3, 0.2, 0.1]])
    with pytest.raises(TypeError, match="y_score must hold numbers"):
        ndcg_at_k(y, scores.astype(object), k=2)
    with pytest.raises(ValueError, match="relevance_threshold is NaN"):
        ndcg_at_k(y, scores, k=2, relevance_threshold=np.nan)
    # a repeat past the cut-off, in the second batch of one row: the row is named
    with pytest.raises(ValueError, match="row 1 lists item 2"):
        ndcg_at_k(sp.vstack([y, y]), np.array([[0, 1, 2, 3], [1, 0, 2, 2]]), k=2,
                  batch_size=1)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size must be a positive int"):
            recall_at_k(y, scores, k=2, batch_size=bad)
    assert recall_at_k(y, scores, k=2, batch_size=1) == 0.5


def test_cutoff_beyond_the_catalogue_equals_the_catalogue():
    y = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]], dtype=float))
    scores = np.array([[0.1, 0.9, 0.8, 0.2], [0.3, 0.2, 0.1, 0.0]])
    assert ndcg_at_k(y, scores, k=10**12) == pytest.approx(ndcg_at_k(y, scores, k=4))
    assert recall_at_k(y, scores, k=10**12) == 1.0
    # precision divides by k itself: 2 hits of 4 ranked, 1 of 4, over k = 8
    assert precision_at_k(y, scores, k=8) == pytest.approx((2 / 8 + 1 / 8) / 2)


def test_rating_scorer_without_held_out_ratings_warns():
    X = _ratings()
    model = ExplicitMF(n_components=4, alpha=0.1, max_iter=2, random_state=0).fit(X)
    with pytest.warns(UndefinedMetricWarning, match="no user has a held-out rating"):
        assert np.isnan(make_rating_scorer("rmse")(model, X, sp.csr_matrix(X.shape)))


@pytest.mark.parametrize("Model", [BPR, NMF])
def test_leave_one_out_explanations_for_non_linear_fold_ins(Model):
    X = _ratings(150, 40, 0.25)
    params = dict(n_components=4, max_iter=3, random_state=0)
    if Model is NMF:
        params["feedback"] = "implicit"
    model = Model(**params).fit(X)
    row = X[5]
    items, contrib = model.explain(row, 9)
    assert sorted(items) == sorted(row.indices) and np.all(np.diff(contrib) <= 0)
    # by hand for the largest: remove that item, refold, compare
    j = items[0]
    without = row.copy().tolil()
    without[0, j] = 0
    without = sp.csr_matrix(without)
    without.eliminate_zeros()
    expected = model.decision_function(row)[0, 9] - model.decision_function(without)[0, 9]
    assert contrib[0] == pytest.approx(expected, rel=1e-5, abs=1e-6)
    # the refolded rows are scored in working_memory's batches (here 3 rows of 40 items:
    # the whole row and two variants), not all at once: the same contributions
    scored, score = [], model._scores_without_fallback
    model._scores_without_fallback = lambda X: scored.append(X.shape[0]) or score(X)
    with sklearn.config_context(working_memory=3 * 40 * 8 / 2**20):
        items_b, contrib_b = model.explain(row, 9)
    assert scored == [3] * (row.nnz // 2) + ([2] if row.nnz % 2 else [])
    np.testing.assert_array_equal(items_b, items)
    np.testing.assert_array_equal(contrib_b, contrib)


def test_parameters_changed_after_fit_are_refused_until_set_back():
    """Unguarded, ImplicitALS(n_components=4) set to 16 after fit folded users in with a
    compiled kernel reading past its factors (garbage or NaN in transform, or an aborted
    process), and a changed penalty folded them in under another objective."""
    from sklearn.exceptions import NotFittedError

    X = _binary()
    model = ImplicitALS(n_components=4, max_iter=3, random_state=0)
    with pytest.raises(NotFittedError):  # scikit-learn's mixin named 4 columns unfitted
        model.get_feature_names_out()
    model.fit(X)
    scores, factors = model.decision_function(X), model.transform(X)
    for params, said in (({"n_components": 16}, "n_components 4 -> 16"),
                         ({"alpha": 20.0}, "alpha 1.0 -> 20.0")):
        model.set_params(**params)
        for method in (model.decision_function, model.transform,
                       lambda X: model.recommend(X, k=3), lambda X: model.explain(X[1], 0),
                       lambda X: model.similar_items([0]),
                       lambda X: model.get_feature_names_out()):
            with pytest.raises(ValueError, match=f"changed since fit \\({said}\\).*fit again"):
                method(X)
        model.set_params(n_components=4, alpha=1.0)  # an equal value is the fitted one
        np.testing.assert_array_equal(model.decision_function(X), scores)
        np.testing.assert_array_equal(model.transform(X), factors)
    # a new fit takes the new value
    model.set_params(n_components=6).fit(X)
    assert model.transform(X).shape == (X.shape[0], 6)
    assert list(model.get_feature_names_out()) == [f"implicitals{i}" for i in range(6)]


def test_a_parameter_set_back_in_another_container_is_the_fitted_one():
    """Set back as a list for the fit's tuple (or an array for it), a parameter was refused
    as changed; another value in any container still is."""
    from sklearn_recsys.linear import MultiBehaviorEASE

    X = sp.hstack([_binary(seed=1), _binary(seed=2)]).tocsr()
    model = MultiBehaviorEASE(("view", "buy"), "buy", alpha=1.0,
                              behavior_weights=(0.5, 1.0)).fit(X)
    scores = model.decision_function(X)
    for same in ([0.5, 1.0], np.array([0.5, 1.0])):
        np.testing.assert_array_equal(model.set_params(behavior_weights=same)
                                      .decision_function(X), scores)
    for other in ([0.5, 2.0], (0.5,), np.array([[0.5, 1.0]]), [[0.5, 1.0], 1.0]):
        with pytest.raises(ValueError, match="changed since fit \\(behavior_weights"):
            model.set_params(behavior_weights=other).decision_function(X)


@pytest.mark.parametrize("Model", [ImplicitALS, BPR, NMF, "HybridMF", "ConvMF"])
def test_fold_ins_are_sized_by_the_fitted_factors_not_the_parameter(Model):
    """Memory safety must not rest on the guard alone: a parameter assigned without
    set_params (or a model pickled before the guard) made the compiled fold-ins write or
    read past the fitted factors (garbage, NaN, or an aborted process); ConvMF's kernel read
    a Gram matrix of the parameter's size (a smaller one: other fold-ins, no error)."""
    params = {}
    if Model == "HybridMF":
        from sklearn_recsys.matrix_factorization import HybridMF as Model
    elif Model == "ConvMF":
        pytest.importorskip("tensorflow")
        from sklearn_recsys.neural import ConvMF as Model

        params = {"documents": [f"w{j % 5} w{j % 7} w{j % 3}" for j in range(30)]}
    X = _ratings() if Model.__name__ in ("NMF", "ConvMF") else _binary()
    model = Model(n_components=4, max_iter=3, random_state=0, **params).fit(X)
    expected = model.transform(X)
    for past_the_guard in (16, 2):
        model.__dict__["n_components"] = past_the_guard
        np.testing.assert_array_equal(model._fold_in_all(X), expected)


@pytest.mark.parametrize("name", ["MultVAE", "MultDAE"])
def test_autoencoders_score_by_their_fitted_layout_not_the_parameters(name):
    """Without the guard's record (a model pickled before it), MultVAE's transform read
    its code as the first n_components of the encoder's output (other columns, or the
    log-variances beside the means) without an error, and its layers were split by the
    current hidden_layer_sizes."""
    pytest.importorskip("tensorflow")
    from sklearn_recsys import neural

    X = _binary()
    model = getattr(neural, name)(hidden_layer_sizes=(8,), n_components=4, max_iter=2,
                                  batch_size=16, early_stopping=False, random_state=0).fit(X)
    codes, scores = model.transform(X), model.decision_function(X)
    contributions = model.explain(X[1], 0)[1]
    del model._fitted_params  # as a model pickled before the guard
    model.set_params(n_components=2, hidden_layer_sizes=())
    np.testing.assert_array_equal(model.transform(X), codes)
    np.testing.assert_array_equal(model.decision_function(X), scores)
    np.testing.assert_array_equal(model.explain(X[1], 0)[1], contributions)
    assert len(model.get_feature_names_out()) == 4


def test_parameters_settable_after_fit_are_served_and_validated():
    from sklearn_recsys.reranking import XQuADReranker

    X = _binary()
    fitted = XQuADReranker(EASE(alpha=1.0), tradeoff=0.2, n_candidates=20).fit(X)
    fitted.set_params(tradeoff=0.7)  # read only when re-ranking: as a refit would
    refit = XQuADReranker(EASE(alpha=1.0), tradeoff=0.7, n_candidates=20).fit(X)
    for a, b in zip(fitted.recommend(X, k=5), refit.recommend(X, k=5)):
        np.testing.assert_array_equal(a, b)
    fitted.set_params(tradeoff=3.0)  # fit would refuse it; so does scoring
    with pytest.raises(InvalidParameterError, match="tradeoff"):
        fitted.recommend(X, k=5)
    fitted.set_params(tradeoff=0.7, short_head_share=0.5)  # the long tail is fit's
    with pytest.raises(ValueError, match="short_head_share 0.8 -> 0.5"):
        fitted.recommend(X, k=5)


def test_a_wrappers_template_changed_in_place_does_not_change_how_it_is_scored():
    """``set_params(estimator__<step>=...)`` changes a re-ranker's template pipeline in
    place, so the guard sees the same object; the scorers read whether the model takes
    order keys from that template and split another way (NDCG@10 of the same fitted
    model 0.559 -> 0.590 with SASRec). They read the fitted clone now."""
    from sklearn.pipeline import make_pipeline

    from sklearn_recsys.baselines import MostPopular
    from sklearn_recsys.reranking import XQuADReranker
    from sklearn_recsys.utils._sequences import reads_order_keys

    class OrderKeyPopular(MostPopular):
        _values_are_order_keys = True

    X = _binary()
    fitted = XQuADReranker(make_pipeline(EASE(alpha=1.0)), n_candidates=20).fit(X)
    fitted.set_params(estimator__ease=OrderKeyPopular())
    assert not reads_order_keys(fitted)
    assert reads_order_keys(XQuADReranker(make_pipeline(OrderKeyPopular())))  # unfitted
    assert reads_order_keys(XQuADReranker(OrderKeyPopular()).fit(X))
    # a frozen re-ranker: its own fitted model (FrozenEstimator forwards attribute
    # lookups, so the re-ranker's level was skipped)
    from sklearn.frozen import FrozenEstimator

    from sklearn_recsys.utils._scoring_path import scoring_path

    path = [type(m).__name__ for m in scoring_path(FrozenEstimator(fitted))]
    assert path == ["FrozenEstimator", "XQuADReranker", "Pipeline", "EASE"]
    # a fitted search scores through its best estimator, not its template
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(XQuADReranker(EASE(alpha=1.0), n_candidates=20),
                          {"estimator": [OrderKeyPopular()]}, cv=2).fit(X)
    assert not reads_order_keys(search.estimator) and reads_order_keys(search)


def test_the_leaderboard_chooses_its_protocol_from_what_it_fits(monkeypatch):
    """compare_recommenders fits clones: a fitted wrapper whose template was changed
    in place made it choose the protocol of the model fitted before (a random hold-out
    for a model that reads order keys)."""
    from sklearn_recsys.baselines import MostPopular
    from sklearn_recsys.model_selection import _leaderboard
    from sklearn_recsys.reranking import XQuADReranker

    asked, reads = [], _leaderboard.reads_order_keys
    monkeypatch.setattr(_leaderboard, "reads_order_keys",
                        lambda est: asked.append(hasattr(est, "estimator_")) or reads(est))
    X = _binary(n_users=120)
    fitted = XQuADReranker(MostPopular(), n_candidates=20).fit(X)
    _leaderboard.compare_recommenders({"xquad": (fitted, {})}, X, metrics=("ndcg@10",),
                                      cv=2, verbose=False)
    assert asked and not any(asked)


def test_partial_fit_trains_under_the_parameters_set_since():
    X = _binary()
    model = BPR(n_components=4, max_iter=2, random_state=0).fit(X)
    model.set_params(learning_rate_init=0.01)
    with pytest.raises(ValueError, match="learning_rate_init"):
        model.decision_function(X)
    model.partial_fit(X)  # the epoch ran with the new value: the model's own now
    assert np.isfinite(model.decision_function(X)).all()


def test_a_fit_that_raises_leaves_no_model_to_score():
    """A new fit under new parameters that raised once training had started (here on its
    X_val, checked after the training popularity is recorded) left the weights of the
    earlier fit: ImplicitALS's transform then read them as 16 factors (NaN, then an aborted
    process). Scoring is refused until a fit succeeds; a fit refused on its input before
    training leaves the guard comparing the parameters as before."""
    X = _binary()
    model = ImplicitALS(n_components=4, max_iter=3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="Every interaction of X_val is also in X"):
        model.set_params(n_components=16).fit(X, X_val=X)
    for method in (model.transform, model.decision_function):
        with pytest.raises(ValueError, match="last fit raised an error.*Fit it again"):
            method(X)
    assert model.fit(X).transform(X).shape == (X.shape[0], 16)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.set_params(n_components=4).fit(bad)
    with pytest.raises(ValueError, match="n_components 16 -> 4"):
        model.transform(X)
    assert model.set_params(n_components=16).transform(X).shape == (X.shape[0], 16)


def test_a_refused_partial_fit_chunk_leaves_the_model_usable():
    """A streamed chunk refused on its input (NaN) must not cost the model trained so far."""
    X = _binary()
    model = BPR(n_components=4, max_iter=2, random_state=0)
    model.partial_fit(X)
    scores = model.decision_function(X)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.partial_fit(bad)
    np.testing.assert_array_equal(model.decision_function(X), scores)


def test_a_meta_estimators_nested_parameters_changed_after_fit_are_refused():
    """set_params(estimator__alpha=...) changes the template in place: the guard saw the same
    object and the wrapper kept serving the model fitted under the old value while
    get_params() reported the new one (audit39b L1). A pipeline refused the same change."""
    from sklearn_recsys.neighbors import ApproximateRecommender
    from sklearn_recsys.reranking import XQuADReranker

    pytest.importorskip("faiss")
    X = _binary()
    for model in (XQuADReranker(EASE(alpha=1.0), n_candidates=20),
                  ApproximateRecommender(ImplicitALS(8, max_iter=2, random_state=0))):
        model.fit(X)
        expected = model.recommend(X, k=5)[0]
        model.set_params(estimator__alpha=100.0)
        with pytest.raises(ValueError, match=r"estimator__alpha 1\.0 -> 100\.0"):
            model.recommend(X, k=5)
        model.set_params(estimator__alpha=1.0)  # set back: served as fitted
        np.testing.assert_array_equal(model.recommend(X, k=5)[0], expected)
        if "estimator__random_state" in model.get_params():  # no effect on the scores
            model.set_params(estimator__random_state=7)
            np.testing.assert_array_equal(model.recommend(X, k=5)[0], expected)


def _rating_models_with_early_stopping():
    from sklearn_recsys import MultiTaskMF
    kw = dict(n_components=2, max_iter=3, early_stopping=True, validation_holdout=0.5)
    return [ExplicitMF(solver="als", alpha=1.0, **kw), NMF(feedback="explicit", **kw),
            MultiTaskMF(solver="als", **kw)]


@pytest.mark.parametrize("model", _rating_models_with_early_stopping(),
                         ids=lambda m: type(m).__name__)
def test_rating_range_reads_the_validation_hold_out_too(model):
    """The clip range came from the training part under early stopping: where the only 5
    was held out for validation, every prediction was clipped to 4 (seeds 0-15 here hold it
    out for some)."""
    X = _ratings(n_users=40, n_items=12, density=0.5, seed=3)
    X.data = np.minimum(X.data, 4.0)
    X.data[7] = 5.0  # the only 5
    for seed in range(16):
        fitted = clone(model).set_params(random_state=seed).fit(X)
        assert fitted.rating_range_ == (1.0, 5.0), seed
