"""Quality and speed of the foundation models on real data, beside recpack's and cornac's.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_foundation.py --data-home ../shared/data [--repeats 5]

Part 1 (quality): MovieLens 100K (ratings >= 4 are positives) and Last.fm 2K (every play is
a positive; artists with fewer than 5 listeners dropped, see below), users with >= 5
positives. Strong generalization (Liang et al. 2018): 20% of users held out, 80/20 fold-in
split of each, seed 0. Every model, ours and recpack's, is tuned over the same grid by
GridSearchCV on the training users only (validation users; NDCG@100), refitted on all
training users, and scored on the test users: EASE beside recpack's and cornac's EASE,
ItemKNN beside recpack's cosine ItemKNN (the same neighbour counts; ours tunes its
shrinkage, whose neighbours a score sums (the scored item's or each history item's) and
their normalisation; recpack its two normalisations), and ours again at the setting chosen
for recpack's, where ours has it (the implementations apart from the tuning). The runner is
``sklearn_recsys.model_selection.compare_recommenders``, the same code as the demo.

Part 2 (speed): EASE ``fit`` on MovieLens latest-small (ratings >= 4), ours in float64
and float32 against recpack's, interleaved, ``--repeats`` times; median seconds, the ratio,
and the peak traced memory of one fit.

Results: ``benchmarks/results/foundation_quality.json`` and ``foundation_speed.json``
(``common.write_results``); ``python benchmarks/make_tables.py`` turns them into the docs' tables.
recpack and cornac are optional: without them their rows are skipped and the JSON says so.
"""

import argparse
import logging
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from sklearn_recsys import EASE, ItemKNN, MostPopular
from sklearn_recsys.base import ItemItemMixin, RecommenderMixin
from sklearn_recsys.datasets import fetch_movielens
from sklearn_recsys.model_selection import compare_recommenders

from common import (benchmark_datasets, leaderboard_table, peers, positives, show, table,
                    write_results)

METRICS = ("ndcg@10", "ndcg@100", "recall@20", "recall@50")
EASE_GRID = {"alpha": [20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]}
KNN_GRID = {"n_neighbors": [50, 100, 200], "shrinkage": [0.0, 10.0, 50.0],
            "neighborhood": ["scored", "history"], "normalize": [False, True]}


class RecpackEASE(ItemItemMixin, RecommenderMixin, BaseEstimator):
    """recpack's EASE behind this package's contract, so both are tuned and scored alike.

    ``fit`` runs recpack's own ``EASE.fit``; scoring uses its learned matrix.
    """

    _parameter_constraints = {"alpha": "no_validation"}

    def __init__(self, alpha=500.0):
        self.alpha = alpha

    def _fit(self, X):
        from recpack.algorithms import EASE as _EASE

        # recpack logs every fit at INFO on stdout; this may run in a worker
        logging.getLogger("recpack").setLevel(logging.WARNING)
        model = _EASE(l2=self.alpha)
        model.fit(X)
        self.coef_ = model.similarity_matrix_

    def _item_item(self):
        return self.coef_


class RecpackItemKNN(ItemItemMixin, RecommenderMixin, BaseEstimator):
    """recpack's cosine ``ItemKNN`` behind this package's contract: the peer of ``ItemKNN``.

    ``fit`` runs recpack's own ``ItemKNN.fit``, which keeps the ``n_neighbors`` most similar
    items of each item of a user's history (Deshpande & Karypis 2004; ``ItemKNN`` with
    ``neighborhood="history"``); scoring uses its learned sparse matrix. recpack has no
    shrinkage; its own knobs, ``normalize_X`` (each user's row scaled to sum 1) and
    ``normalize_sim`` (each history item's neighbour weights to sum 1, ``ItemKNN``'s
    ``normalize``), are tuned instead.
    """

    _parameter_constraints = {p: "no_validation" for p in
                              ("n_neighbors", "normalize_X", "normalize_sim")}

    def __init__(self, n_neighbors=200, normalize_X=False, normalize_sim=False):
        self.n_neighbors = n_neighbors
        self.normalize_X = normalize_X
        self.normalize_sim = normalize_sim

    def _fit(self, X):
        from recpack.algorithms import ItemKNN as _ItemKNN

        logging.getLogger("recpack").setLevel(logging.WARNING)
        model = _ItemKNN(K=self.n_neighbors, similarity="cosine",
                         normalize_X=self.normalize_X, normalize_sim=self.normalize_sim)
        model.fit(X)
        self.coef_ = model.similarity_matrix_.tocsr()

    def _item_item(self):
        return self.coef_


class CornacEASE(ItemItemMixin, RecommenderMixin, BaseEstimator):
    """cornac's EASE behind this package's contract (its ``lamb`` is our ``alpha``).

    cornac's ``posB=True`` default (negative weights set to 0) is kept as a
    parameter and tuned like ``alpha``.

    ``fit`` runs cornac's own ``EASE.fit`` on a cornac ``Dataset`` built from ``X``;
    its item order is mapped back to ``X``'s columns for scoring.
    """

    _parameter_constraints = {"alpha": "no_validation", "posB": "no_validation"}

    def __init__(self, alpha=500.0, posB=True):
        self.alpha = alpha
        self.posB = posB

    def _fit(self, X):
        from cornac.data import Dataset
        from cornac.models import EASE as _EASE

        coo = X.tocoo()
        triples = list(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
        data = Dataset.from_uir(triples, seed=0)
        model = _EASE(lamb=self.alpha, posB=self.posB, verbose=False)
        model.fit(data)
        n_items = X.shape[1]
        cols = np.array([data.iid_map.get(j, data.iid_map.get(str(j), -1)) for j in range(n_items)])
        known = cols >= 0
        B = np.zeros((n_items, n_items))
        B[np.ix_(known, known)] = model.B[np.ix_(cols[known], cols[known])]
        self.coef_ = B

    def _item_item(self):
        return self.coef_


def quality(data_home, n_jobs):
    datasets = benchmark_datasets(data_home)
    models = {
        "MostPopular": (MostPopular(), {}),
        "ItemKNN": (ItemKNN(), KNN_GRID),
        "EASE": (EASE(), EASE_GRID),
    }
    found = peers("recpack", "cornac")
    if found["recpack"]:
        models["recpack EASE"] = (RecpackEASE(), EASE_GRID)
        models["recpack ItemKNN"] = (RecpackItemKNN(), {
            "n_neighbors": KNN_GRID["n_neighbors"], "normalize_X": [False, True],
            "normalize_sim": [False, True]})
    if found["cornac"]:
        models["cornac EASE"] = (CornacEASE(), {**EASE_GRID, "posB": [True, False]})
    tables = []
    for (name, X), id in zip(datasets.items(), ("movielens_100k", "lastfm_2k")):
        print(f"\n{name}: {X.shape[0]} users x {X.shape[1]} items", file=sys.stderr)
        rows = compare_recommenders(models, X, metrics=METRICS, tune_metric="ndcg@100",
                                    n_jobs=n_jobs, random_state=0)
        rows += _knn_at_recpacks_setting(rows, X, n_jobs)
        title = f"{name}: {X.shape[0]} users x {X.shape[1]} items, {X.nnz} positives"
        tables.append(show(leaderboard_table(id, title, rows, METRICS)))
    write_results("foundation_quality", tables, peers=found)
    return tables


def _knn_at_recpacks_setting(rows, X, n_jobs):
    """``ItemKNN`` at the setting the grid search chose for recpack's, where ours has it.

    The same model at the same setting separates the implementations from the tuning
    (which of the grid's settings the validation users pick). recpack's ``normalize_X``
    has no ``ItemKNN`` counterpart: no row then.
    """
    chosen = [row["params"] for row in rows if row["model"] == "recpack ItemKNN"]
    if not chosen or chosen[0]["normalize_X"]:
        return []
    params = {"n_neighbors": chosen[0]["n_neighbors"], "neighborhood": "history",
              "normalize": chosen[0]["normalize_sim"], "shrinkage": 0.0}
    rows = compare_recommenders({"ItemKNN at recpack's setting": (ItemKNN(**params), {})}, X,
                                metrics=METRICS, tune_metric="ndcg@100", n_jobs=n_jobs,
                                random_state=0)
    for row in rows:
        row["params"] = params  # set, not chosen: shown in the table
    return rows


def _fit_seconds(model, X):
    start = time.perf_counter()
    model.fit(X)
    return time.perf_counter() - start


def _peak_mb(model, X):
    tracemalloc.start()
    model.fit(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def speed(data_home, repeats):
    X = positives(fetch_movielens("latest-small", data_home=data_home,
                                  download_if_missing=False).X, 4, min_items_per_user=1)
    X32 = X.astype(np.float32)
    title = (f"EASE fit on MovieLens latest-small: {X.shape[0]} users x {X.shape[1]} "
             f"items, {X.nnz} positives, alpha=500, {repeats} interleaved repeats")
    contenders = {
        "sklearn_recsys EASE float64": (EASE(alpha=500.0), X),
        "sklearn_recsys EASE float32": (EASE(alpha=500.0), X32),
    }
    found = peers("recpack")
    if found["recpack"]:
        contenders["recpack EASE"] = (RecpackEASE(alpha=500.0), X)
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (model, data) in contenders.items():
            times[name].append(_fit_seconds(model, data))
    peaks = {name: _peak_mb(model, data) for name, (model, data) in contenders.items()}
    ref = statistics.median(times["recpack EASE"]) if "recpack EASE" in times else None
    rows = [[name, statistics.median(ts), min(ts),
             ref / statistics.median(ts) if ref else None, peaks[name]]
            for name, ts in times.items()]
    tab = show(table("ease_fit", title, ["implementation", "median fit s", "min s",
                                         "speed-up vs recpack", "peak traced MB"], rows,
                     formats=["text", "seconds", "seconds", "ratio", "mb"]))
    write_results("foundation_speed", [tab], peers=found)
    return tab


def main(argv=None):
    # recpack logs every fit on stdout and warns about items without neighbours
    logging.getLogger("recpack").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*missing similar items.*")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_quality:
        quality(args.data_home, args.n_jobs)
    if not args.skip_speed:
        speed(args.data_home, args.repeats)


if __name__ == "__main__":
    main()
