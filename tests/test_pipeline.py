"""Recommending through pipelines: scores from preprocessed rows, exclusion from raw rows."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_recsys import EASE, ImplicitALS, ItemKNN, StackingRecommender
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.datasets import fetch_movielens
from sklearn_recsys.metrics import make_ranking_scorer, ndcg_at_k
from sklearn_recsys.model_selection import holdout_split
from sklearn_recsys.pipeline import Pipeline, make_pipeline, recommend
from sklearn_recsys.preprocessing import BM25Weighting, RatingBinarizer, TfidfWeighting
from sklearn_recsys.reranking import CalibratedReranker, XQuADReranker
from sklearn_recsys.utils import all_estimators, top_k
from sklearn_recsys.utils._topk import mask_seen


def _ratings(n_users=120, n_items=40, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n_users, n_items, density=0.25, format="csr", random_state=seed)
    X.data = rng.integers(1, 6, X.nnz).astype(float)
    return X


def _matrix_transformers():
    # every preprocessing step of the package that maps a user-item matrix to one
    names = {name for name, cls in all_estimators()
             if cls.__module__.startswith("sklearn_recsys.preprocessing")}
    steps = {"RatingBinarizer": RatingBinarizer(threshold=4), "BM25Weighting": BM25Weighting(),
             "TfidfWeighting": TfidfWeighting()}
    assert names - {"InteractionEncoder", "TextSequencer"} == set(steps)
    return list(steps.values())


def _by_hand(step, model, X, k, exclude=None):
    X_t = step.fit_transform(X)
    model.fit(X_t)
    scores = model.decision_function(step.transform(X))
    mask_seen(scores, X)  # the raw history, not what survived the step
    if exclude is not None:
        mask_seen(scores, exclude)
    return top_k(scores, k)


@pytest.mark.parametrize("step", _matrix_transformers(), ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("model", [EASE(alpha=5.0), ItemKNN(n_neighbors=10),
                                   ImplicitALS(n_components=4, max_iter=3, random_state=0)],
                         ids=lambda m: type(m).__name__)
def test_pipeline_recommend_equals_the_hand_composed_answer(step, model):
    X = _ratings()
    expected = _by_hand(step, model, X, k=7)
    ours = make_pipeline(step, model).fit(X)
    for got in (ours.recommend(X, k=7), recommend(sk_make_pipeline(step, model).fit(X), X, k=7)):
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


def test_binarized_pipeline_never_returns_a_rated_item():
    X = _ratings()
    idx, _ = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0)).fit(X).recommend(X, 10)
    for u in range(X.shape[0]):
        assert not np.isin(idx[u], X[u].indices).any()
    # the README's old workaround did return rated items: the bug this fixes
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0)).fit(X)
    wrong, _ = pipe[-1].recommend(pipe[:-1].transform(X), 10)
    assert any(np.isin(wrong[u], X[u].indices).any() for u in range(X.shape[0]))


def test_exclude_removes_a_separate_history():
    X = _ratings()
    positives = RatingBinarizer(threshold=4).fit_transform(X)
    model = EASE(alpha=5.0).fit(positives)
    idx, _ = model.recommend(positives, k=10, exclude=X)
    expected = _by_hand(RatingBinarizer(threshold=4), EASE(alpha=5.0), X, 10)[0]
    np.testing.assert_array_equal(idx, expected)
    idx_free, _ = model.recommend(positives, k=10)
    assert not np.array_equal(idx, idx_free)
    with pytest.raises(ValueError, match="exclude has shape"):
        model.recommend(positives, k=3, exclude=X[:5])


def test_pipeline_score_and_grid_search_rank_like_recommend():
    X = _ratings(300, 40)
    pipe = make_pipeline(RatingBinarizer(threshold=3), EASE())
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(pipe, {"ease__alpha": [1.0, 50.0]}, cv=cv)
    search.fit(X)
    assert isinstance(search.best_estimator_, Pipeline)
    best = search.best_estimator_
    X_in, X_out = holdout_split(X, holdout=0.3, random_state=0)
    # by hand: the lists of recommend (raw history excluded) against the held-out part
    expected = ndcg_at_k(X_out, best.recommend(X_in, k=10)[0], k=10)
    assert best.score(X_in, X_out) == pytest.approx(expected)
    assert 0 < expected <= 1


@pytest.mark.parametrize("make", [
    lambda: XQuADReranker(EASE(alpha=1.0), tradeoff=0.9, n_candidates=6),
    lambda: CalibratedReranker(EASE(alpha=1.0), np.arange(40) % 3, tradeoff=0.5,
                               n_candidates=6),
    lambda: StackingRecommender([("ease", EASE(alpha=1.0)), ("knn", ItemKNN())],
                                n_candidates=6, random_state=0),
], ids=["xquad", "calibrated", "stack"])
def test_a_last_step_that_reranks_chooses_among_the_raw_history_left(make):
    """The re-rankers and the stack choose their candidates after removing what cannot be
    returned: in a pipeline that is the raw history, not the binarized one (its low ratings
    would fill the candidates, then be masked, leaving part of each list un-reranked)."""
    X = _ratings(60, 40)
    X_b = RatingBinarizer(threshold=4).fit_transform(X)
    by_hand = make().fit(X_b)
    ours = make_pipeline(RatingBinarizer(threshold=4), make()).fit(X)
    theirs = sk_make_pipeline(RatingBinarizer(threshold=4), make()).fit(X)
    want = by_hand.recommend(X_b, k=6, exclude=X)[0]
    np.testing.assert_array_equal(ours.recommend(X, k=6)[0], want)
    np.testing.assert_array_equal(recommend(theirs, X, k=6)[0], want)
    few = np.arange(15)
    np.testing.assert_array_equal(
        ours.recommend(X, k=6, candidates=few)[0],
        by_hand.recommend(X_b, k=6, exclude=X, candidates=few)[0])
    # the pipeline's scores sort into the same lists, and both pipelines score them
    scores = ours.decision_function(X)
    mask_seen(scores, X)
    np.testing.assert_array_equal(top_k(scores, 6)[0], want)
    X_in, X_out = holdout_split(X, random_state=0)
    X_in_b = RatingBinarizer(threshold=4).fit_transform(X_in)
    expected = ndcg_at_k(X_out, by_hand.recommend(X_in_b, k=6, exclude=X_in)[0], k=6)
    scorer = make_ranking_scorer("ndcg", k=6)
    assert scorer(ours, X_in, X_out) == pytest.approx(expected)
    assert scorer(theirs, X_in, X_out) == pytest.approx(expected)


def test_one_step_pipeline_recommends_like_its_model():
    X = _ratings()
    pipe = make_pipeline(EASE(alpha=5.0)).fit(X)
    np.testing.assert_array_equal(pipe.recommend(X, k=4)[0], pipe[-1].recommend(X, k=4)[0])


def test_pipeline_errors_name_the_problem():
    X = _ratings()
    not_recommender = make_pipeline(RatingBinarizer(), StandardScaler(with_mean=False)).fit(X)
    assert not hasattr(not_recommender, "recommend")
    with pytest.raises(TypeError, match="not a recommender"):
        recommend(not_recommender, X)
    with pytest.raises(ValueError, match="X has 39 items"):
        make_pipeline(RatingBinarizer(), EASE()).fit(X).recommend(X[:, :39])
    assert isinstance(EASE(), RecommenderMixin)  # plain recommenders pass through recommend()
    np.testing.assert_array_equal(recommend(EASE().fit(X), X, k=3)[0],
                                  EASE().fit(X).recommend(X, k=3)[0])


@pytest.mark.slow
def test_movielens_binarized_pipeline_excludes_every_rated_movie(shared_data):
    X = fetch_movielens("100k", data_home=shared_data, download_if_missing=False).X
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=300.0)).fit(X)
    idx, _ = pipe.recommend(X, k=10)
    rated = np.asarray(X[np.repeat(np.arange(X.shape[0]), 10), idx.ravel()]).ravel()
    assert (idx >= 0).all() and not rated.any()  # before: 34% of slots were rated movies


def test_pipeline_recommend_keeps_an_order_key_models_latest_key():
    """A COO row storing a pair twice (times 10 and 25): the model, the scorers and the
    pipeline's decision_function keep the latest (25); the pipeline's recommend summed the
    times (35), reordering the history, and returned other items without a word."""
    from sklearn_recsys import SASRec, make_interactions
    from sklearn_recsys.pipeline import make_pipeline

    T = make_interactions(60, 20, density=0.3, random_state=0).tocsr()
    T.data = np.random.default_rng(0).permutation(T.nnz) + 1.0
    model = SASRec(n_components=8, n_blocks=1, max_len=10, max_iter=2, early_stopping=False,
                   random_state=0).fit(T)
    coo = sp.coo_matrix(([10.0, 20.0, 30.0, 25.0], ([0, 0, 0, 0], [1, 2, 3, 1])), shape=(1, 20))
    latest = sp.csr_matrix(([25.0, 20.0, 30.0], ([0, 0, 0], [1, 2, 3])), shape=(1, 20))
    summed = latest.copy()
    summed.data[0] = 35.0
    expected = model.recommend(latest, k=5)
    assert not np.allclose(model.recommend(summed, k=5)[1], expected[1])
    pipe = make_pipeline(model)
    for got in (pipe.recommend(coo, k=5), recommend(pipe, coo, k=5)):
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


@pytest.mark.parametrize("kind", ["pipeline", "sklearn pipeline", "model",
                                  "sklearn pipeline to a re-ranker"])
def test_a_dataframe_fitted_model_recommends_and_scores_without_a_warning_per_call(kind):
    """Fitted on a DataFrame, a pipeline warned on every recommend(df) and every scorer call
    ("X does not have valid feature names"): the rows go through the steps as CSR. The names
    are checked once; other names are an error, an array without names warns once."""
    import warnings

    pd = pytest.importorskip("pandas")
    X = _ratings(60, 12)
    df = pd.DataFrame(X.toarray(), columns=[f"item{j}" for j in range(12)])
    X_in, y = holdout_split(X, random_state=0)
    df_in = pd.DataFrame(X_in.toarray(), columns=df.columns)
    est = {"pipeline": make_pipeline(RatingBinarizer(threshold=3), EASE(alpha=5.0)),
           "sklearn pipeline": sk_make_pipeline(RatingBinarizer(threshold=3), EASE(alpha=5.0)),
           "model": EASE(alpha=5.0),
           "sklearn pipeline to a re-ranker": sk_make_pipeline(
               RatingBinarizer(threshold=3), XQuADReranker(EASE(alpha=5.0), n_candidates=8))
           }[kind].fit(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the references: arrays without names
        expected = recommend(est, X_in.toarray(), k=4)
        reference = make_ranking_scorer("ndcg", k=4)(est, X_in, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = recommend(est, df_in, k=4)
        value = make_ranking_scorer("ndcg", k=4)(est, df_in, y)
        latest = make_ranking_scorer("ndcg", k=4, split="latest", random_state=0)(est, df)
    np.testing.assert_array_equal(got[0], expected[0])
    assert value == reference and 0 < value <= 1
    assert 0 <= latest <= 1
    with pytest.warns(UserWarning, match="does not have valid feature names") as record:
        make_ranking_scorer("ndcg", k=4)(est, X_in.toarray(), y)
    assert len([w for w in record if "feature names" in str(w.message)]) == 1
    with pytest.raises(ValueError, match="feature names should match"):
        recommend(est, df_in.rename(columns={"item0": "other"}), k=4)


def test_recommend_passes_row_data_to_the_last_step():
    """A pipeline ending in HybridMF took no user_features in recommend (TypeError), and
    without them served three new users of different features one popularity list."""
    from sklearn_recsys import HybridMF

    rng = np.random.RandomState(0)
    X = sp.random(60, 20, density=0.25, random_state=1, format="csr")
    X.data = rng.randint(1, 6, X.nnz).astype(float)
    G = rng.rand(60, 2) * 3
    pipe = make_pipeline(RatingBinarizer(threshold=3), HybridMF(4, random_state=0))
    pipe.fit(X, hybridmf__user_features=G)
    rows = sp.vstack([sp.csr_matrix((3, 20)), X[:4]], format="csr")  # new users, then known
    G_rows = np.vstack([[[0.1, 2.9], [2.9, 0.1], [1.5, 1.5]], G[:4]])
    expected = pipe[-1].recommend(pipe[:-1].transform(rows), k=5, user_features=G_rows,
                                  exclude=rows)
    for got in (pipe.recommend(rows, k=5, user_features=G_rows),
                recommend(pipe, rows, k=5, user_features=G_rows)):
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1])
    assert len({tuple(r) for r in expected[0][:3]}) == 3  # the features tell them apart
    # a batch boundary: each batch gets its own rows of the features
    from sklearn_recsys.pipeline import _pipeline

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_pipeline, "row_batch_size", lambda n: 2)
        np.testing.assert_array_equal(recommend(pipe, rows, k=5, user_features=G_rows)[0],
                                      expected[0])
    with pytest.raises(ValueError, match="user_features has 6 rows but X has 7"):
        pipe.recommend(rows, k=5, user_features=G_rows[:6])
    reranked = make_pipeline(RatingBinarizer(threshold=3), XQuADReranker(EASE(alpha=1.0)))
    with pytest.raises(TypeError, match="XQuADReranker at the end of the pipeline takes no "
                                        "row data"):
        reranked.fit(X).recommend(rows, k=5, user_features=G_rows)


def test_scorers_refuse_a_step_that_drops_item_columns_as_recommend_does():
    """A step dropping items (VarianceThreshold) had the scorers rank the last step's 35
    columns against y's 40 as if they were the same items: NDCG 0.153, not 0.275."""
    from sklearn.feature_selection import VarianceThreshold

    X = _ratings(n_users=150, n_items=40).tolil()
    X[:, :5] = 0  # items without interactions: the selector drops them
    X = X.tocsr()
    X.eliminate_zeros()
    pipe = sk_make_pipeline(VarianceThreshold(), EASE(alpha=10.0)).fit(X)
    assert pipe[-1].n_features_in_ == 35
    X_in, y = holdout_split(X, random_state=0)
    message = "preprocessing maps 40 item columns to 35"
    for scorer in (make_ranking_scorer("ndcg", k=10), make_ranking_scorer("coverage", k=10)):
        with pytest.raises(ValueError, match=message):
            scorer(pipe, X_in, y)
    with pytest.raises(ValueError, match=message):
        make_pipeline(VarianceThreshold(), EASE(alpha=10.0)).fit(X).decision_function(X_in)


def test_a_search_over_a_pipeline_ending_in_a_reranker_is_scored_like_its_best_pipeline():
    """A fitted GridSearchCV over scikit-learn's Pipeline(binarizer, re-ranker) was scored
    through search.decision_function: the re-ranker chose its candidates from the binarized
    history (55 of 100 lists differed from the served ones; nested CV read those)."""
    from sklearn.frozen import FrozenEstimator

    rng = np.random.RandomState(0)
    R = sp.random(300, 40, density=0.35, random_state=0, format="csr")
    R.data = rng.randint(1, 6, R.nnz).astype(float)
    pipe = sk_make_pipeline(RatingBinarizer(threshold=4),
                            XQuADReranker(EASE(alpha=5.0), tradeoff=0.9, n_candidates=10))
    scorer = make_ranking_scorer("ndcg", k=10)
    search = GridSearchCV(pipe, {"xquadreranker__tradeoff": [0.9]}, scoring=scorer,
                          cv=2).fit(R[:200])
    X_in, y = holdout_split(R[200:], random_state=0)
    expected = ndcg_at_k(y, recommend(search.best_estimator_, X_in, k=10)[0], k=10)
    assert scorer(search.best_estimator_, X_in, y) == pytest.approx(expected, abs=1e-12)
    assert scorer(search, X_in, y) == pytest.approx(expected, abs=1e-12)
    assert scorer(FrozenEstimator(search.best_estimator_), X_in, y) == pytest.approx(
        expected, abs=1e-12)
    # the binarized history's lists, which the search was scored on before: another figure
    S = search.decision_function(X_in)
    mask_seen(S, X_in)
    assert abs(ndcg_at_k(y, S, k=10) - expected) > 1e-4


def test_scorers_and_decision_function_pass_row_data_to_a_pipelines_last_step():
    """A Pipeline ending in HybridMF recommended with user_features, but its scorers
    raised (routing off) or set every cell of a search to NaN (routing on)."""
    import sklearn

    from sklearn_recsys import HybridMF

    rng = np.random.RandomState(0)
    X = sp.random(120, 30, density=0.3, random_state=0, format="csr")
    X.data[:] = rng.randint(1, 6, X.nnz)
    G = rng.rand(120, 4)
    pipe = make_pipeline(RatingBinarizer(threshold=3),
                         HybridMF(n_components=4, random_state=0, max_iter=5))
    pipe.fit(X[:80], hybridmf__user_features=G[:80])
    X_in, y = holdout_split(X[80:], random_state=0)
    S = pipe[-1].decision_function(pipe[0].transform(X_in), user_features=G[80:])
    np.testing.assert_array_equal(pipe.decision_function(X_in, user_features=G[80:]), S)
    mask_seen(S, X_in)
    expected = ndcg_at_k(y, S, k=5)
    without = pipe[-1].decision_function(pipe[0].transform(X_in))
    mask_seen(without, X_in)
    assert abs(ndcg_at_k(y, without, k=5) - expected) > 1e-6  # the features count
    scorer = make_ranking_scorer("ndcg", k=5)
    assert scorer(pipe, X_in, y, user_features=G[80:]) == pytest.approx(expected, abs=1e-12)
    # the pipeline's own score too: it dropped them, and took a misspelt name (audit57c)
    S10 = pipe.decision_function(X_in, user_features=G[80:])
    mask_seen(S10, X_in)
    assert pipe.score(X_in, y, user_features=G[80:]) == pytest.approx(ndcg_at_k(y, S10, k=10),
                                                                      abs=1e-12)
    assert pipe.score(X_in, y, user_features=G[80:]) != pipe.score(X_in, y)
    with pytest.raises(TypeError, match="user_featrues"):
        pipe.score(X_in, y, user_featrues=G[80:])
    with sklearn.config_context(enable_metadata_routing=True):
        routed = make_ranking_scorer("ndcg", k=5).set_score_request(user_features=True)
        assert routed(pipe, X_in, y, user_features=G[80:]) == pytest.approx(expected,
                                                                            abs=1e-12)


def test_a_changed_dtype_is_named_in_the_message():
    """The message showed np.float32 (a type with shape and dtype attributes) as
    '<type of shape <attribute ...>>' on both sides (found by an audit helper)."""
    from sklearn_recsys import ImplicitALS

    model = ImplicitALS(n_components=3, max_iter=2, random_state=0).fit(_ratings())
    model.set_params(dtype=np.float64)
    with pytest.raises(ValueError, match=r"changed since fit \(dtype float32 -> float64\)"):
        model.recommend(_ratings())


def test_a_preprocessing_parameter_changed_after_fit_is_refused_until_set_back():
    """set_params(ratingbinarizer__threshold=2) on a fitted Pipeline fed EASE rows it was
    not trained on, silently (the same change inside a re-ranker was refused): 95% of the
    lists changed and none was a refit's."""
    from sklearn.base import clone

    X = _ratings(n_users=150, n_items=40)
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0)).fit(X)
    expected = pipe.recommend(X, k=5)
    scores = pipe.decision_function(X)
    pipe.set_params(ratingbinarizer__threshold=2)
    scorer = make_ranking_scorer("ndcg", k=5)
    message = r"Pipeline's parameters changed since fit \(ratingbinarizer__threshold 4 -> 2\)"
    for call in (lambda: pipe.recommend(X, k=5), lambda: pipe.decision_function(X),
                 lambda: pipe.score(X), lambda: scorer(pipe, X),
                 lambda: recommend(pipe, X, k=5), lambda: pipe.transform(X),
                 lambda: pipe.get_feature_names_out()):
        with pytest.raises(ValueError, match=message):
            call()
    replaced = clone(pipe).fit(X).set_params(
        ratingbinarizer=RatingBinarizer(threshold=2).fit(X))  # another fitted step
    with pytest.raises(ValueError, match="changed since fit"):
        replaced.recommend(X, k=5)
    pipe.set_params(ratingbinarizer__threshold=4)  # set back: the fitted model again
    np.testing.assert_array_equal(pipe.recommend(X, k=5)[0], expected[0])
    np.testing.assert_array_equal(pipe.decision_function(X), scores)
    pipe.set_params(ratingbinarizer__threshold=2).fit(X)  # fitted again: the new value
    refit = make_pipeline(RatingBinarizer(threshold=2), EASE(alpha=5.0)).fit(X)
    np.testing.assert_array_equal(pipe.recommend(X, k=5)[0], refit.recommend(X, k=5)[0])
    # a step's transform-only pipeline, and a fit that raised midway
    als = make_pipeline(BM25Weighting(), ImplicitALS(n_components=3, max_iter=2,
                                                     random_state=0)).fit(X)
    als.set_params(bm25weighting__k1=1.5)
    with pytest.raises(ValueError, match="bm25weighting__k1 100.0 -> 1.5"):
        als.transform(X)
    bad = X.copy()
    bad.data[0] = np.nan
    with pytest.raises(ValueError):
        pipe.fit(bad)
    with pytest.raises(ValueError, match="last fit raised an error"):
        pipe.recommend(X, k=5)


def test_a_preprocessing_step_renamed_inserted_or_swapped_after_fit_is_refused():
    """set_params(steps=...) with a step under a new name, an inserted step or a step of the
    same name and parameters fitted on other rows left no recorded key to compare: the
    fitted EASE scored rows its steps had not made, silently (audit helper's repro)."""
    X = _ratings(n_users=150, n_items=40)
    pipe = make_pipeline(BM25Weighting(), EASE(alpha=5.0)).fit(X)
    scores = pipe.decision_function(X)
    bm25, ease = pipe.steps
    for steps in ([("bm25", bm25[1]), ease],  # renamed
                  [("ratingbinarizer", RatingBinarizer(threshold=4).fit(X)), bm25, ease],
                  [("bm25weighting", BM25Weighting().fit(X[:20])), ease],  # refitted other
                  [ease]):  # removed
        pipe.set_params(steps=steps)
        for call in (lambda: pipe.decision_function(X), lambda: pipe.recommend(X, k=5),
                     lambda: pipe.transform(X) if len(steps) > 1 else pipe.score(X)):
            with pytest.raises(ValueError, match="preprocessing steps changed since fit"):
                call()
    pipe.set_params(steps=[bm25, ease])  # the fitted steps again
    np.testing.assert_array_equal(pipe.decision_function(X), scores)
    pickled = pickle.loads(pickle.dumps(pipe))  # the record keeps the objects' identity
    np.testing.assert_array_equal(pickled.decision_function(X), scores)


def test_an_interaction_encoder_step_is_refused_with_the_way_to_encode_first():
    # it maps events to users: the pipeline fitted on a log, then every later call failed
    # with another message ("got a 2-D array", "X has 3 items"), and a search would split
    # events, not users (audit 58b)
    pd = pytest.importorskip("pandas")
    from sklearn_recsys.preprocessing import InteractionEncoder

    rng = np.random.default_rng(0)
    log = pd.DataFrame({"user_id": np.repeat(np.arange(30), 4),
                        "item_id": rng.integers(0, 12, 120)})
    pipe = make_pipeline(InteractionEncoder(), EASE())
    with pytest.raises(ValueError, match="step 'interactionencoder' is an InteractionEncoder"
                                         ".*X = encoder.fit_transform\\(log\\)"):
        pipe.fit(log)
    with pytest.raises(ValueError, match="is an InteractionEncoder"):
        GridSearchCV(pipe, {"ease__alpha": [1.0, 10.0]}, cv=2, error_score="raise").fit(log)
    with pytest.raises(ValueError, match="step 'pipeline__interactionencoder' is an"):
        make_pipeline(make_pipeline(InteractionEncoder()), EASE()).fit(log)
    # fitted as scikit-learn's pipeline (which cannot refuse it), it is not served
    fitted = sk_make_pipeline(InteractionEncoder(), EASE()).fit(log)
    with pytest.raises(ValueError, match="serve raw ids with encoder.recommend\\(pipe, log\\)"):
        recommend(fitted, log)
    # nor scored: the scorers failed first in the encoder, on the log read as an array
    # ("expects a log of interactions ... got a 2-D array"; noticed at stop 58)
    from sklearn_recsys.metrics import (get_ranking_scorer, make_beyond_accuracy_scorer,
                                        make_rating_scorer)

    for scorer in (get_ranking_scorer("ndcg@10"), make_beyond_accuracy_scorer("arp"),
                   make_rating_scorer("rmse")):
        with pytest.raises(ValueError, match="step 'interactionencoder' is an InteractionEnc"):
            scorer(fitted, log)
    # the way the message gives: encode first, fit on X, serve through the encoder
    encoder = InteractionEncoder()
    X = encoder.fit_transform(log)
    served = encoder.recommend(make_pipeline(EASE()).fit(X), log[log["user_id"] == 3], k=3)
    idx, _ = EASE().fit(X).recommend(X[encoder.get_user_indices([3])], k=3)
    assert served["item_id"].tolist() == encoder.inverse_transform(idx[0]).tolist()


def test_explain_goes_through_the_steps_and_contrasts_with_the_pipelines_own_list():
    """Pipeline had no explain, explain_contrast or similar_items (audit59b), though the
    encoder explains a pipeline."""
    X = _ratings()
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=1.0)).fit(X)
    model, x = pipe[-1], X[3:4]
    x_t = pipe[:-1].transform(x)
    low = np.setdiff1d(x.indices, x_t.indices)  # rated below 4: history, not model input
    assert low.size
    top = int(pipe.recommend(x, k=1)[0][0, 0])
    items, contributions = pipe.explain(x, top)
    np.testing.assert_array_equal(np.sort(items), np.sort(x_t.indices))
    assert contributions.sum() == pytest.approx(pipe.decision_function(x)[0, top])
    # the runners-up are those of the pipeline's list, which never holds a raw-seen item
    ranked = pipe.recommend(x, k=X.shape[1])[0][0]
    others = ranked[1:4]
    assert not np.isin(others, x.indices).any()
    expected = model.explain_contrast(x_t, top, others)
    for got, want in zip(pipe.explain_contrast(x, top, 3), expected):
        np.testing.assert_array_equal(got, want)
    # the last step alone, given the binarized row, would have compared with raw-seen items
    own = model.recommend(x_t, k=X.shape[1])[0][0]
    assert np.isin(own[:4], low).any()
    np.testing.assert_array_equal(pipe.similar_items([0, 5], k=4)[0],
                                  model.similar_items([0, 5], k=4)[0])


def test_exclude_and_exclude_seen_reach_the_pipelines_lists():
    """recommend's exclude and exclude_seen=False through a pipeline (audit 63: no test
    passed either): the lists of the hand-composed scores, masked by exactly what was asked,
    the raw history and exclude, or exclude alone."""
    X = _ratings(60, 40)
    banned = sp.random(60, 40, density=0.1, format="csr", random_state=3)
    banned.data[:] = 1
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0)).fit(X)
    theirs = sk_make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0)).fit(X)
    scores = pipe[-1].decision_function(pipe[:-1].transform(X))
    for exclude_seen, masks in ((True, [X, banned]), (False, [banned])):
        want = scores.copy()
        for mask in masks:
            mask_seen(want, mask)
        expected = top_k(want, 7)
        for got in (pipe.recommend(X, k=7, exclude=banned, exclude_seen=exclude_seen),
                    recommend(theirs, X, k=7, exclude=banned, exclude_seen=exclude_seen)):
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    # without exclude_seen, rated items come back: the flag is not ignored
    free = pipe.recommend(X, k=7, exclude_seen=False)[0]
    assert any(np.isin(free[u], X[u].indices).any() for u in range(60))
    with pytest.raises(ValueError, match="exclude has shape"):
        pipe.recommend(X, k=3, exclude=banned[:5])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        pipe.recommend(X, k=0)
    # a last step that re-ranks chooses its candidates without the excluded items too
    X_b = RatingBinarizer(threshold=4).fit_transform(X)
    by_hand = XQuADReranker(EASE(alpha=1.0), tradeoff=0.9, n_candidates=6).fit(X_b)
    reranked = make_pipeline(RatingBinarizer(threshold=4),
                             XQuADReranker(EASE(alpha=1.0), tradeoff=0.9, n_candidates=6)).fit(X)
    np.testing.assert_array_equal(reranked.recommend(X, k=6, exclude=banned)[0],
                                  by_hand.recommend(X_b, k=6, exclude=X + banned)[0])


def test_make_pipeline_options_score_refusals_and_rows_as_lists(capsys):
    X = _ratings(60, 40)
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0), verbose=True)
    assert isinstance(pipe, Pipeline) and pipe.verbose is True
    assert [name for name, _ in pipe.steps] == ["ratingbinarizer", "ease"]
    pipe.fit(X)
    assert "(step 2 of 2) Processing ease" in capsys.readouterr().out  # verbose reached it
    cached = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=5.0), memory="cache")
    assert cached.memory == "cache"
    # every user counts once in score's mean: a sample_weight is refused, not ignored
    X_in, y = holdout_split(X, random_state=0)
    with pytest.raises(TypeError, match="does not take sample_weight"):
        pipe.score(X_in, y, sample_weight=np.ones(60))
    # a row given as a list is explained as the same row as a matrix
    x = X[3:4]
    top = int(pipe.recommend(x, k=1)[0][0, 0])
    for got, want in zip(pipe.explain(x.toarray().tolist(), top), pipe.explain(x, top)):
        np.testing.assert_array_equal(got, want)


def test_recommend_serves_a_search_and_ignores_what_cannot_change_the_lists():
    """recommend(search) serves its best pipeline, as the docstring says; user_features=None
    is no row data; and a step's random_state, verbose or n_jobs changed after fit changes
    no score, so it is not refused (audit 63: none was tested)."""
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import QuantileTransformer

    X = _ratings(60, 40)
    search = GridSearchCV(make_pipeline(RatingBinarizer(threshold=4), EASE()),
                          {"ease__alpha": [1.0, 50.0]}, cv=2).fit(X)
    expected = recommend(search.best_estimator_, X, k=5)
    for served in (search, FrozenEstimator(search.best_estimator_)):
        np.testing.assert_array_equal(recommend(served, X, k=5)[0], expected[0])
    pipe = search.best_estimator_
    np.testing.assert_array_equal(pipe.recommend(X, k=5, user_features=None)[0], expected[0])
    quantiles = make_pipeline(QuantileTransformer(n_quantiles=10, random_state=0),
                              EASE(alpha=5.0)).fit(X)
    before = quantiles.recommend(X, k=5)
    quantiles.set_params(quantiletransformer__random_state=1)
    np.testing.assert_array_equal(quantiles.recommend(X, k=5)[0], before[0])


def test_a_multi_behaviour_last_step_excludes_and_chooses_in_its_target_block():
    """A last step that scores the target block of stacked behaviours: exclude and
    candidates are of that block's width, the history excluded is the raw target block
    (audit 63: the pipeline's width of 3 blocks passed every test)."""
    from sklearn_recsys import MultiBehaviorEASE

    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((80, 60)) > 0.8).astype(float))  # 3 blocks of 20 items
    pipe = make_pipeline(BM25Weighting(), MultiBehaviorEASE(behaviors=("view", "cart", "buy"),
                                                            alpha=5.0)).fit(X)
    banned = sp.random(80, 20, density=0.1, format="csr", random_state=1)
    banned.data[:] = 1
    few = np.arange(0, 20, 2)
    scores = pipe[-1].decision_function(pipe[:-1].transform(X))
    assert scores.shape == (80, 20)
    mask_seen(scores, X[:, 40:])  # the raw purchases
    mask_seen(scores, banned)
    scores[:, np.setdiff1d(np.arange(20), few)] = -np.inf
    expected = top_k(scores, 4)
    got = pipe.recommend(X, k=4, exclude=banned, candidates=few)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)


def test_a_pipeline_ending_in_an_index_passes_exclude_seen_and_candidates():
    """The index's own recommend of the transformed rows, told exactly what the caller
    asked (audit 63: exclude_seen=False and candidates could be dropped on that path)."""
    pytest.importorskip("faiss")
    from sklearn_recsys.neighbors import ApproximateRecommender

    X = _ratings(80, 40)
    pipe = make_pipeline(RatingBinarizer(threshold=4),
                         ApproximateRecommender(ImplicitALS(n_components=4, max_iter=3,
                                                            random_state=0))).fit(X)
    final, X_b = pipe[-1], pipe[:-1].transform(X)
    few = np.arange(0, 40, 3)
    for kwargs, expected in [
            ({"exclude_seen": False}, final.recommend(X_b, k=5, exclude_seen=False)),
            ({"candidates": few}, final.recommend(X_b, k=5, exclude_seen=False, exclude=X,
                                                  candidates=few))]:
        got = pipe.recommend(X, k=5, **kwargs)
        np.testing.assert_array_equal(got[0], expected[0])
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-6)
    free = pipe.recommend(X, k=5, exclude_seen=False)[0]
    assert any(np.isin(free[u], X[u].indices).any() for u in range(80))


@pytest.mark.parametrize("factory", [sk_make_pipeline, make_pipeline])
@pytest.mark.parametrize("output", ["default", "pandas"])
def test_steps_that_do_not_take_sparse_rows_are_given_dense_ones(factory, output):
    """Rows to score reach the steps as CSR: a pipeline fitted on dense X with a step
    that refuses sparse input (MinMaxScaler), or with pandas output (a sparse output
    cannot be wrapped), failed in the scorers and recommend ("Sparse data was passed",
    every cell of a search NaN; audit helper 140). They get the rows dense now."""
    from sklearn.preprocessing import MinMaxScaler

    if output == "pandas":
        pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = sp.random(60, 12, density=0.4, random_state=0, format="csr")
    X.data[:] = rng.randint(1, 6, X.nnz)
    X_in, X_out = holdout_split(X, random_state=0)
    pipe = factory(MinMaxScaler(), EASE(alpha=1.0))
    pipe.set_output(transform=output)
    pipe.fit(X.toarray())
    dense_in = X_in.toarray()
    expected = pipe[-1].decision_function(pipe[0].transform(dense_in))
    expected = np.asarray(expected, dtype=np.float64)
    scorer = make_ranking_scorer("ndcg", k=5)
    assert scorer(pipe, dense_in, X_out) == pytest.approx(
        ndcg_at_k(X_out, mask_seen(expected.copy(), X_in), k=5), rel=1e-12)
    indices, _ = recommend(pipe, dense_in, k=3)
    np.testing.assert_array_equal(indices, top_k(mask_seen(expected.copy(), X_in), 3)[0])
    search = GridSearchCV(factory(MinMaxScaler(), EASE()), {"ease__alpha": [1.0, 10.0]},
                          scoring=scorer, cv=KFold(3)).fit(dense_in, X_out)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_step_that_reads_sparse_rows_keeps_them():
    """A transformer without scikit-learn tags (their default says no sparse input) that
    works on CSR rows: given dense ones after the change above, it failed (the review's
    find: 'numpy.ndarray' object has no attribute 'log1p'). It is given CSR rows first."""
    from sklearn.base import BaseEstimator, TransformerMixin

    class LogCounts(TransformerMixin, BaseEstimator):
        def fit(self, X, y=None):
            self.n_features_in_ = X.shape[1]
            return self

        def transform(self, X):
            return X.log1p()  # CSR only

    X = sp.random(40, 10, density=0.4, random_state=0, format="csr")
    X.data[:] = np.random.RandomState(0).randint(1, 6, X.nnz)
    X_in, X_out = holdout_split(X, random_state=0)
    pipe = make_pipeline(LogCounts(), EASE(alpha=1.0)).fit(X)
    expected = mask_seen(pipe[-1].decision_function(X_in.log1p()), X_in)
    np.testing.assert_array_equal(recommend(pipe, X_in, k=3)[0], top_k(expected, 3)[0])
    assert make_ranking_scorer("ndcg", k=5)(pipe, X_in, X_out) == pytest.approx(
        ndcg_at_k(X_out, expected, k=5), rel=1e-12)
