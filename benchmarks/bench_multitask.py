"""Multi-task on explicit feedback: MultiTaskMF against the single-task models, each on its task.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_multitask.py --data-home ../shared/data

One ``MultiTaskMF`` fit serves both tasks: ranking ("which items will the user rate",
``recommend``) and rating prediction (``predict_ratings``). It is compared with the
single-task models on each task's metric:

* **rating**: RMSE on MovieLens 100K's u1..u5 (``u*.base`` to fit, ``u*.test`` to score),
  against ``ExplicitMF()`` (defaults: Bayesian MF by Gibbs sampling),
  ``ExplicitMF(solver="als")`` (its penalty chosen on an internal split) and
  ``MultiTaskMF(n_shared_components=0)``, which is exactly the two single-task models
  (biased ALS-WR and implicit ALS with the same settings) side by side;
* **ranking**: NDCG@100 under the strong-generalization protocol of the other benchmarks
  (users with >= 5 ratings >= 4; 20% test users; their ratings split 80/20 into fold-in and
  held-out parts, seed 0; held-out ratings >= 4 are the relevant items; every item the user
  rated in the fold-in part is excluded) on MovieLens 100K and latest-small, against
  ``ImplicitALS(64, alpha=10)`` (the penalty chosen for MovieLens in the factorization
  benchmark) fed the ratings >= 4 (confidence scale 1, as chosen there) or the raw ratings
  (confidence ``1 + 0.2 r``, the ranking task of ``MultiTaskMF`` alone), and the
  ``n_shared_components=0`` pair. The multi-task models are fed the raw ratings and are
  scored twice from the same fit: by the ranking head (the default) and by both heads with
  ``rating_threshold=3.5`` (the probability that the user rates the item times the
  probability that the rating is above 3.5, ``rating_noise`` at its default 1.0); their fit
  seconds are the fit's.

Results: ``benchmarks/results/multitask_ratings.json`` and ``multitask_ranking.json``;
``python benchmarks/make_tables.py`` turns them into the docs' tables.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import ml100k_rmse_folds, show, table, write_results  # noqa: E402

RELEVANT = 4  # held-out ratings >= 4 are the relevant items of the ranking task


def single_task_pair():
    from sklearn_recsys import MultiTaskMF

    return MultiTaskMF(n_shared_components=0, random_state=0)


def run_ratings(data_home):
    from sklearn_recsys import ExplicitMF, MultiTaskMF

    makes = {
        "ExplicitMF (defaults)": lambda: ExplicitMF(random_state=0),
        "ExplicitMF (solver='als')": lambda: ExplicitMF(solver="als", random_state=0),
        "MultiTaskMF, no shared factors (= single-task pair)": single_task_pair,
        "MultiTaskMF (defaults)": lambda: MultiTaskMF(random_state=0),
    }
    out = ml100k_rmse_folds(makes, data_home)
    rows = [[label, *rmse, float(np.mean(rmse)), float(np.median(seconds))]
            for label, (rmse, seconds) in out.items()]
    return table("multitask-rmse", "MovieLens 100K u1..u5: RMSE of predict_ratings",
                 ["model", "u1", "u2", "u3", "u4", "u5", "mean", "fit seconds (median)"], rows,
                 formats=["text"] + ["metric"] * 6 + ["seconds"])


def _ratings_of(name, data_home):
    from sklearn_recsys.datasets import fetch_movielens

    R = fetch_movielens(name, data_home=data_home, download_if_missing=False).X
    R = R.tocsr().astype(np.float64)
    return R[np.asarray((R >= 4).sum(axis=1)).ravel() >= 5]


def run_ranking(data_home):
    from sklearn_recsys import ImplicitALS, MultiTaskMF
    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.model_selection import strong_generalization_split
    from sklearn_recsys.pipeline import make_pipeline
    from sklearn_recsys.preprocessing import RatingBinarizer

    ndcg = make_ranking_scorer("ndcg", k=100, relevance_threshold=RELEVANT)

    def als_positives():
        return make_pipeline(RatingBinarizer(threshold=RELEVANT),
                             ImplicitALS(64, alpha=10.0, confidence_scale=1.0, random_state=0))

    makes = {
        "ImplicitALS on ratings >= 4": als_positives,
        "ImplicitALS on the ratings (confidence 1 + 0.2 r)":
            lambda: ImplicitALS(64, alpha=10.0, confidence_scale=0.2, random_state=0),
        "MultiTaskMF, no shared factors (= single-task pair)": single_task_pair,
        "MultiTaskMF (defaults)": lambda: MultiTaskMF(random_state=0),
    }
    rows = []
    for dataset, name in [("MovieLens 100K", "100k"), ("MovieLens latest-small", "latest-small")]:
        X_train, X_in, X_out = strong_generalization_split(_ratings_of(name, data_home),
                                                           random_state=0)
        for label, make in makes.items():
            start = time.perf_counter()
            model = make().fit(X_train)
            seconds = time.perf_counter() - start
            rows.append([dataset, label, ndcg(model, X_in, X_out), seconds])
            print(rows[-1], flush=True)
            if label.startswith("MultiTaskMF"):
                # the same fit scored by both heads: rating_threshold only changes scoring
                model.set_params(rating_threshold=RELEVANT - 0.5)
                rows.append([dataset, f"{label}, rating_threshold={RELEVANT - 0.5} (both heads)",
                             ndcg(model, X_in, X_out), seconds])
                print(rows[-1], flush=True)
    return table("multitask-ndcg",
                 "Ranking, strong generalization: NDCG@100 of the held-out ratings >= 4",
                 ["dataset", "model", "NDCG@100", "fit seconds"], rows,
                 formats=["text", "text", "metric", "seconds"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--parts", default="ratings,ranking")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "ratings" in parts:
        write_results("multitask_ratings", [show(run_ratings(args.data_home))])
    if "ranking" in parts:
        write_results("multitask_ranking", [show(run_ranking(args.data_home))])


if __name__ == "__main__":
    main()
