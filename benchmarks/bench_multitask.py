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
  ``MultiTaskMF(solver="als", n_shared_components=0)``, which is exactly the two single-task
  models (biased ALS-WR and implicit ALS with the same settings) side by side. The joint
  model runs with its defaults (``solver="gibbs"``: the Bayesian joint model, sampled, 32
  factors per task), with ``n_components=64`` (the sampler with twice the factors, chosen on
  a validation split of latest-small's training users, at about 3x the fit time: part
  ``selection``, below) and with
  ``solver="als"`` (the penalised joint objective);
* **ranking**: NDCG@100 under the strong-generalization protocol of the other benchmarks
  (users with >= 5 ratings >= 4; 20% test users; their ratings split 80/20 into fold-in and
  held-out parts, seed 0; held-out ratings >= 4 are the relevant items; every item the user
  rated in the fold-in part is excluded) on MovieLens 100K and latest-small, against
  ``ImplicitALS(64, alpha=10)`` (the penalty chosen for MovieLens in the factorization
  benchmark) fed the ratings >= 4 (confidence scale 1, as chosen there) or the raw ratings
  (confidence ``1 + 0.2 r``, the ranking task of ``MultiTaskMF`` alone), and the
  ``n_shared_components=0`` pair. Every model with a seed is fitted with seeds 0, 1 and 2
  (``--seeds``; the split stays seed 0): the table gives the mean NDCG@100 and the range, as
  one fit's NDCG@100 moves by about 1% with the seed on latest-small. The multi-task models
  are fed the raw ratings and are scored twice from the same fit: by the ranking head (the
  default) and by both heads with ``rating_threshold=3.5`` (the probability that the user
  rates the item times the probability that the rating is above 3.5, ``rating_noise`` at its
  default 1.0); their fit seconds are the fit's.

Part ``selection`` (``--parts selection``, not run by default): ``MultiTaskMF``'s
``n_components`` in (16, 32, 64) on a validation split of latest-small's training users (the
ranking part's training users split again, seed 1), by the mean NDCG@100 of both heads over
the seeds; the test users are not read.

Results: ``benchmarks/results/multitask_ratings.json``, ``multitask_ranking.json`` and
``multitask_selection.json``;
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


PAIR = "MultiTaskMF (solver='als'), no shared factors (= single-task pair)"
# the sampler with twice its default factors per task, chosen on a validation split of
# latest-small's training users (NDCG@100 by both heads +0.006 over the default's 32:
# part "selection", multitask_selection.json)
WIDE = "MultiTaskMF (n_components=64)"


def single_task_pair(seed=0):
    from sklearn_recsys import MultiTaskMF

    return MultiTaskMF(solver="als", n_shared_components=0, random_state=seed)


def run_ratings(data_home):
    from sklearn_recsys import ExplicitMF, MultiTaskMF

    makes = {
        "ExplicitMF (defaults)": lambda: ExplicitMF(random_state=0),
        "ExplicitMF (solver='als')": lambda: ExplicitMF(solver="als", random_state=0),
        PAIR: single_task_pair,
        "MultiTaskMF (solver='als')": lambda: MultiTaskMF(solver="als", random_state=0),
        "MultiTaskMF (defaults)": lambda: MultiTaskMF(random_state=0),
        WIDE: lambda: MultiTaskMF(n_components=64, random_state=0),
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


def run_ranking(data_home, seeds=3):
    from sklearn_recsys import ImplicitALS, MultiTaskMF
    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.model_selection import strong_generalization_split
    from sklearn_recsys.pipeline import make_pipeline
    from sklearn_recsys.preprocessing import RatingBinarizer

    ndcg = make_ranking_scorer("ndcg", k=100, relevance_threshold=RELEVANT)

    def als_positives(seed):
        return make_pipeline(RatingBinarizer(threshold=RELEVANT),
                             ImplicitALS(64, alpha=10.0, confidence_scale=1.0, random_state=seed))

    makes = {
        "ImplicitALS on ratings >= 4": als_positives,
        "ImplicitALS on the ratings (confidence 1 + 0.2 r)":
            lambda seed: ImplicitALS(64, alpha=10.0, confidence_scale=0.2, random_state=seed),
        PAIR: single_task_pair,
        "MultiTaskMF (solver='als')": lambda seed: MultiTaskMF(solver="als", random_state=seed),
        "MultiTaskMF (defaults)": lambda seed: MultiTaskMF(random_state=seed),
        WIDE: lambda seed: MultiTaskMF(n_components=64, random_state=seed),
    }
    both = f", rating_threshold={RELEVANT - 0.5} (both heads)"
    rows = []
    for dataset, name in [("MovieLens 100K", "100k"), ("MovieLens latest-small", "latest-small")]:
        X_train, X_in, X_out = strong_generalization_split(_ratings_of(name, data_home),
                                                           random_state=0)
        for label, make in makes.items():
            scores, seconds = {label: []}, []
            if label.startswith("MultiTaskMF"):
                scores[label + both] = []
            for seed in range(seeds):
                start = time.perf_counter()
                model = make(seed).fit(X_train)
                seconds.append(time.perf_counter() - start)
                scores[label].append(ndcg(model, X_in, X_out))
                if label.startswith("MultiTaskMF"):
                    # the same fit scored by both heads: rating_threshold only changes scoring
                    model.set_params(rating_threshold=RELEVANT - 0.5)
                    scores[label + both].append(ndcg(model, X_in, X_out))
            for row_label, values in scores.items():
                rows.append([dataset, row_label, float(np.mean(values)), float(np.min(values)),
                             float(np.max(values)), float(np.median(seconds))])
                print(rows[-1], values, flush=True)
    return table("multitask-ndcg",
                 "Ranking, strong generalization: NDCG@100 of the held-out ratings >= 4, "
                 f"mean and range over {seeds} model seeds",
                 ["dataset", "model", "NDCG@100", "lowest seed", "highest seed",
                  "fit seconds (median)"], rows,
                 formats=["text", "text", "metric", "metric", "metric", "seconds"])


SELECTION_COMPONENTS = (16, 32, 64)


def run_selection(data_home, seeds=3):
    """Where ``n_components=64`` comes from: the sampler's factors per task chosen on a
    validation split of latest-small's training users (the ranking part's ``X_train``, split
    again the same way with seed 1), by the mean NDCG@100 of both heads over ``seeds`` fits;
    the test users are not read."""
    from sklearn_recsys import MultiTaskMF
    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.model_selection import strong_generalization_split

    ndcg = make_ranking_scorer("ndcg", k=100, relevance_threshold=RELEVANT)
    X_train, _, _ = strong_generalization_split(_ratings_of("latest-small", data_home),
                                                random_state=0)
    X_fit, X_in, X_out = strong_generalization_split(X_train, random_state=1)
    rows = []
    for n_components in SELECTION_COMPONENTS:
        heads, both, seconds = [], [], []
        for seed in range(seeds):
            start = time.perf_counter()
            model = MultiTaskMF(n_components=n_components, random_state=seed).fit(X_fit)
            seconds.append(time.perf_counter() - start)
            heads.append(ndcg(model, X_in, X_out))
            model.set_params(rating_threshold=RELEVANT - 0.5)
            both.append(ndcg(model, X_in, X_out))
        rows.append([n_components, float(np.mean(heads)), float(np.mean(both)),
                     float(np.min(both)), float(np.max(both)), float(np.median(seconds))])
        print(rows[-1], heads, both, flush=True)
    chosen = max(rows, key=lambda row: row[2])[0]
    top = " (the grid's largest)" if chosen == max(SELECTION_COMPONENTS) else ""
    return table("multitask-selection",
                 "MultiTaskMF's factors per task, chosen on latest-small's training users: "
                 f"validation NDCG@100, mean over {seeds} model seeds",
                 ["n_components", "NDCG@100 (ranking head)",
                  f"NDCG@100 (both heads, rating_threshold={RELEVANT - 0.5})",
                  "both heads, lowest seed", "both heads, highest seed",
                  "fit seconds (median)"], rows,
                 formats=["count", "metric", "metric", "metric", "metric", "seconds"],
                 notes=[f"Users: {X_fit.shape[0]} fitted, {X_in.shape[0]} validation users, "
                        "all from the ranking table's training users (strong generalization "
                        "split of them, seed 1: their ratings 80/20 into fold-in and "
                        "held-out parts, held-out ratings >= 4 relevant). Chosen: "
                        f"n_components={chosen}{top}, the best mean NDCG@100 of both heads."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--parts", default="ratings,ranking")
    parser.add_argument("--seeds", type=int, default=3, help="model seeds of the ranking part")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "ratings" in parts:
        write_results("multitask_ratings", [show(run_ratings(args.data_home))])
    if "ranking" in parts:
        write_results("multitask_ranking", [show(run_ranking(args.data_home, args.seeds))])
    if "selection" in parts:
        write_results("multitask_selection",
                      [show(run_selection(args.data_home, args.seeds))])


if __name__ == "__main__":
    main()
