"""End to end on MovieLens 100K: Pipeline + GridSearchCV + ranking scorers, n_jobs=2."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer

from sklearn_recsys import EASE, ItemKNN, MostPopular
from sklearn_recsys.datasets import fetch_movielens
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.model_selection import strong_generalization_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ml100k(shared_data):
    X = fetch_movielens("100k", data_home=shared_data, download_if_missing=False).X
    return strong_generalization_split(X, random_state=0)


def test_grid_search_pipeline_ease_on_movielens(ml100k):
    X_train, X_in, X_out = ml100k
    scoring = {"ndcg@10": get_ranking_scorer("ndcg@10"),
               "recall@20": get_ranking_scorer("recall@20")}
    search = GridSearchCV(
        make_pipeline(Binarizer(threshold=3.5), EASE()),
        {"ease__alpha": [10.0, 300.0, 3000.0]},
        scoring=scoring,
        refit="ndcg@10",
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=2,
    )
    search.fit(X_train)
    scores = search.cv_results_["mean_test_ndcg@10"]
    assert np.all((scores > 0.1) & (scores < 0.8))
    # the chosen pipeline generalizes to held-out users better than popularity
    positives = Binarizer(threshold=3.5)
    y_test = positives.fit_transform(X_out)
    tuned = scoring["ndcg@10"](search.best_estimator_, X_in, y_test)
    pop = scoring["ndcg@10"](make_pipeline(Binarizer(threshold=3.5), MostPopular()).fit(X_train),
                             X_in, y_test)
    knn = scoring["ndcg@10"](make_pipeline(Binarizer(threshold=3.5), ItemKNN()).fit(X_train),
                             X_in, y_test)
    assert tuned > pop + 0.05
    assert tuned > knn


def test_grid_search_with_held_out_matrix_as_y(ml100k):
    X_train, X_in, X_out = ml100k
    search = GridSearchCV(EASE(), {"alpha": [50.0, 500.0]}, scoring=get_ranking_scorer("ndcg@20"),
                          cv=KFold(2), n_jobs=2)
    search.fit(X_in, X_out)
    assert search.best_params_["alpha"] in (50.0, 500.0)
    assert np.all(search.cv_results_["mean_test_score"] > 0.1)


def _ml100k_fold(folder, fold):
    import scipy.sparse as sp

    def load(name):
        a = np.loadtxt(folder / "ml-100k" / name, dtype=np.int64)
        return sp.csr_matrix((a[:, 2].astype(float), (a[:, 0] - 1, a[:, 1] - 1)),
                             shape=(943, 1682))

    return load(f"u{fold}.base"), load(f"u{fold}.test")


def test_explicit_mf_rmse_on_movielens_u1(shared_data):
    from pathlib import Path

    from sklearn_recsys import ExplicitMF
    from sklearn_recsys.metrics import make_rating_scorer

    train, test = _ml100k_fold(Path(shared_data), 1)
    model = ExplicitMF(random_state=0).fit(train)
    rmse = -make_rating_scorer("rmse")(model, train, test)
    # the engine issue's target; measured 0.905 with the defaults (Gibbs sampler), 0.924
    # with solver="als"
    assert rmse < 0.92
    mean_only = np.sqrt(np.mean((test.data - train.data.mean()) ** 2))
    assert rmse < 0.82 * mean_only


def test_convmf_text_beats_pmf_on_movielens_u1(shared_data):
    from pathlib import Path

    pytest.importorskip("tensorflow")
    from sklearn_recsys import ConvMF
    from sklearn_recsys.datasets import item_documents
    from sklearn_recsys.metrics import make_rating_scorer

    movies = fetch_movielens("100k", data_home=shared_data, download_if_missing=False)
    docs = item_documents(movies, fields=("item_titles", "item_genres"))
    train, test = _ml100k_fold(Path(shared_data), 1)
    rmse = make_rating_scorer("rmse")
    # the defaults: the setting cornac's code applies, and the best of the grid on validation
    # ratings of u1.base (benchmarks/bench_convmf.py)
    conv = ConvMF(documents=docs, max_df=1.0,
                  random_state=0).fit(train)
    pmf = ConvMF(alpha_user=10.0, alpha_item=10.0, random_state=0).fit(train)
    conv_rmse, pmf_rmse = -rmse(conv, train, test), -rmse(pmf, train, test)
    # measured 0.920 and 0.975; cornac's ConvMF (the reference code) 0.933 on this fold
    assert conv_rmse < 0.93
    assert conv_rmse < pmf_rmse - 0.04


def test_autorec_rmse_on_movielens_u1(shared_data):
    from pathlib import Path

    pytest.importorskip("tensorflow")
    from sklearn_recsys import AutoRec, ExplicitMF
    from sklearn_recsys.metrics import make_rating_scorer

    train, test = _ml100k_fold(Path(shared_data), 1)
    rmse = make_rating_scorer("rmse")
    autorec = AutoRec(random_state=0).fit(train)
    mf = ExplicitMF(random_state=0).fit(train)
    autorec_rmse = -rmse(autorec, train, test)
    # the target: I-AutoRec below 0.90 and below ExplicitMF (measured 0.894 and 0.905);
    # the users are scored by the fold-in from their u1.base ratings, like any new user
    assert autorec_rmse < 0.90
    assert autorec_rmse < -rmse(mf, train, test)


def test_multvae_defaults_on_movielens_positives(shared_data):
    # strong generalization of the ratings >= 4, users with >= 5 of them;
    # the paper's batch (500) and annealing (200,000 updates) gave 0.419 here
    from sklearn_recsys import MultVAE
    from sklearn_recsys.metrics import make_ranking_scorer

    X = fetch_movielens("100k", data_home=shared_data, download_if_missing=False).X
    X = (X >= 4).astype(float)
    X = X[np.diff(X.tocsr().indptr) >= 5]
    train, X_in, X_out = strong_generalization_split(X, random_state=0)
    ndcg = make_ranking_scorer("ndcg", k=100)
    vae = ndcg(MultVAE(random_state=0).fit(train), X_in, X_out)
    pop = ndcg(MostPopular().fit(train), X_in, X_out)
    assert vae > 0.42 and vae > pop + 0.1
