"""Next-item prediction on MovieLens: SASRec against the set-based models, leave-last-out.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_sequential.py --data-home ../shared/data

Protocol (Kang & McAuley 2018; Krichene & Rendle 2020 for all-item ranking): the
matrix of MovieLens timestamps (``fetch_movielens(...).timestamps``) is split by
``leave_last_out_split(T, T)``: each user's most recent rating is the test item and the
earlier ones, with their times, are the input. Every model ranks **all** items the
user has not rated in the input (no sampled negatives); HR@10 and NDCG@10 with the
library's scorers, over all users.

Models: ``MostPopular``; ``EASE`` on the 0/1 input with its penalty chosen on a
validation split of the same kind (each user's last training rating, predicted from the
earlier ones); ``MultVAE`` with its defaults on the 0/1 input; ``SASRec`` with its
defaults on the timestamps (it stops on its own validation users' last item). The
set-based models see which items a user rated, SASRec also their order. Fit time, epochs
and seconds per epoch are measured in this process, one model at a time.

Results: ``benchmarks/results/sequential.json``; ``python benchmarks/make_tables.py``
turns it into the docs' table.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import PeakRSS, show, table, write_results  # noqa: E402

DATASETS = {"movielens_100k": "100k", "movielens_latest_small": "latest-small"}


def metrics(model, X, y):
    from sklearn_recsys.metrics import make_ranking_scorer

    return [make_ranking_scorer("hit_rate", k=10)(model, X, y),
            make_ranking_scorer("ndcg", k=10)(model, X, y)]


def binary(X):
    return (X > 0).astype(np.float64)


def run(name, variant, data_home):
    from sklearn_recsys import EASE, SASRec, MostPopular, MultVAE, fetch_movielens
    from sklearn_recsys.model_selection import leave_last_out_split

    T = fetch_movielens(variant, data_home=data_home).timestamps
    X, y = leave_last_out_split(T, T)
    X_val, y_val = leave_last_out_split(X, X)
    print(f"{name}: {X.shape[0]} users, {X.shape[1]} items, {X.nnz} input ratings",
          flush=True)
    alphas = (50.0, 200.0, 500.0)
    val = {a: metrics(EASE(alpha=a).fit(binary(X_val)), binary(X_val), y_val)[1]
           for a in alphas}
    alpha = max(alphas, key=lambda a: (val[a], -a))
    print(f"  EASE validation NDCG@10 {val}", flush=True)
    rows = []
    for label, make, data, params in [
            ("MostPopular", MostPopular, binary(X), "-"),
            ("EASE", lambda: EASE(alpha=alpha), binary(X), {"alpha": alpha}),
            ("MultVAE, defaults", lambda: MultVAE(random_state=0), binary(X), "defaults"),
            ("SASRec, defaults", lambda: SASRec(random_state=0), X, "defaults")]:
        start = time.perf_counter()
        with PeakRSS() as mem:
            model = make().fit(data)
        seconds = time.perf_counter() - start
        epochs = getattr(model, "n_iter_", None)
        rows.append([label, *metrics(model, data, y), seconds, mem.growth_mb,
                     epochs, getattr(model, "best_iteration_", None),
                     seconds / epochs if epochs else None, params])
        print(rows[-1], flush=True)
    return table(
        f"sequential-{name}", f"{name}: next item, leave-last-out, all items ranked",
        ["model", "HR@10", "NDCG@10", "fit seconds", "fit memory MB", "epochs",
         "best epoch", "seconds per epoch", "chosen parameters"], rows,
        formats=["text", "metric", "metric", "seconds", "mb", "count", "count", "seconds",
                 "params"],
        notes=[f"{X.shape[0]} users, {X.shape[1]} items; each user's most recent rating is "
               "the test item. Epochs include the early-stopping patience; the weights of "
               "the best epoch are kept."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args(argv)
    tables = [show(run(name, DATASETS[name], args.data_home))
              for name in args.datasets.split(",")]
    write_results("sequential", tables)


if __name__ == "__main__":
    main()
