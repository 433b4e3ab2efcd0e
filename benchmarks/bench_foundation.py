"""Quality and speed of the foundation models on real data, beside recpack's EASE.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_foundation.py --data-home ../shared/data [--repeats 5]

Part 1 (quality): MovieLens 100K (ratings >= 4 are positives) and Last.fm 2K (every play is
a positive; artists with fewer than 5 listeners dropped, see below), users with >= 5
positives. Strong generalization (Liang et al. 2018): 20% of users held out, 80/20 fold-in
split of each, seed 0. Every model, ours and recpack's, is tuned over the same grid by
GridSearchCV on the training users only (validation users; NDCG@100), refitted on all
training users, and scored on the test users. The runner is
``sklearn_recsys.model_selection.compare_recommenders``, the same code as the demo.

Part 2 (speed): EASE ``fit`` on MovieLens latest-small (ratings >= 4), ours in float64
and float32 against recpack's, interleaved, ``--repeats`` times; median seconds, the ratio,
and the peak traced memory of one fit.
"""

import argparse
import logging
import os
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.base import BaseEstimator

from sklearn_recsys import EASE, ItemKNN, MostPopular
from sklearn_recsys.base import ItemItemMixin, RecommenderMixin
from sklearn_recsys.datasets import fetch_lastfm_2k, fetch_movielens
from sklearn_recsys.model_selection import compare_recommenders, format_leaderboard

METRICS = ("ndcg@10", "ndcg@100", "recall@20", "recall@50")
EASE_GRID = {"alpha": [20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]}


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


def _positives(X, threshold=None, min_users_per_item=1, min_items_per_user=5):
    X = X.tocsr(copy=True)
    X.data = (X.data >= threshold if threshold is not None else X.data > 0).astype(np.float64)
    X.eliminate_zeros()
    while True:  # filter until both conditions hold
        items = np.flatnonzero(X.getnnz(axis=0) >= min_users_per_item)
        X = X[:, items]
        users = np.flatnonzero(X.getnnz(axis=1) >= min_items_per_user)
        X = X[users]
        if (X.getnnz(axis=0) >= min_users_per_item).all():
            return X


def benchmark_datasets(data_home):
    """The implicit-feedback datasets every benchmark uses, as positives (see the docstring)."""
    return {
        "MovieLens 100K": _positives(
            fetch_movielens("100k", data_home=data_home, download_if_missing=False).X, 4),
        "Last.fm 2K": _positives(
            fetch_lastfm_2k(data_home=data_home, download_if_missing=False).X,
            min_users_per_item=5),
    }


def ml100k_fold(data_home, fold):
    """Ratings of MovieLens 100K's ``u{fold}.base`` and ``u{fold}.test`` as (943, 1682) CSR."""
    import scipy.sparse as sp

    def load(name):
        a = np.loadtxt(os.path.join(data_home, "ml-100k", name), dtype=np.int64)
        return sp.csr_matrix((a[:, 2].astype(float), (a[:, 0] - 1, a[:, 1] - 1)),
                             shape=(943, 1682))

    return load(f"u{fold}.base"), load(f"u{fold}.test")


def ml100k_rmse_folds(make, data_home):
    """RMSE on ``u1..u5.test`` of ``make()`` fitted on each ``u*.base``, and fit seconds."""
    from sklearn_recsys.metrics import make_rating_scorer

    rmse = make_rating_scorer("rmse")
    values, seconds = [], []
    for fold in range(1, 6):
        train, test = ml100k_fold(data_home, fold)
        start = time.perf_counter()
        model = make().fit(train)
        seconds.append(time.perf_counter() - start)
        values.append(-rmse(model, train, test))
    return values, seconds


def quality(data_home, n_jobs):
    datasets = benchmark_datasets(data_home)
    models = {
        "MostPopular": (MostPopular(), {}),
        "ItemKNN": (ItemKNN(), {"n_neighbors": [50, 100, 200], "shrinkage": [0.0, 10.0, 50.0]}),
        "EASE": (EASE(), EASE_GRID),
    }
    try:
        import recpack  # noqa: F401

        models["recpack EASE"] = (RecpackEASE(), EASE_GRID)
    except ImportError:
        print("recpack not installed: pip install recpack", file=sys.stderr)
    try:
        import cornac  # noqa: F401

        models["cornac EASE"] = (CornacEASE(), {**EASE_GRID, "posB": [True, False]})
    except ImportError:
        print("cornac not installed: pip install cornac", file=sys.stderr)
    out = []
    for name, X in datasets.items():
        print(f"\n## {name}: {X.shape[0]} users x {X.shape[1]} items, {X.nnz} positives\n")
        rows = compare_recommenders(models, X, metrics=METRICS, tune_metric="ndcg@100",
                                    n_jobs=n_jobs, random_state=0)
        table = format_leaderboard(rows, "markdown")
        print(table)
        out.append((name, X.shape, X.nnz, table))
    return out


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
    X = _positives(fetch_movielens("latest-small", data_home=data_home,
                                   download_if_missing=False).X, 4, min_items_per_user=1)
    X32 = X.astype(np.float32)
    print(f"\n## EASE fit on MovieLens latest-small: {X.shape[0]} users x {X.shape[1]} "
          f"items, {X.nnz} positives, alpha=500, {repeats} interleaved repeats\n")
    contenders = {
        "sklearn_recsys EASE float64": (EASE(alpha=500.0), X),
        "sklearn_recsys EASE float32": (EASE(alpha=500.0), X32),
    }
    try:
        contenders["recpack EASE"] = (RecpackEASE(alpha=500.0), X)
    except ImportError:
        pass
    times = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (model, data) in contenders.items():
            times[name].append(_fit_seconds(model, data))
    peaks = {name: _peak_mb(model, data) for name, (model, data) in contenders.items()}
    ref = statistics.median(times["recpack EASE"]) if "recpack EASE" in times else None
    lines = ["| implementation | median fit s | min s | speed-up vs recpack | peak traced MB |",
             "|---|---|---|---|---|"]
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = f"{ref / med:.2f}x" if ref else "-"
        lines.append(f"| {name} | {med:.2f} | {min(ts):.2f} | {ratio} | {peaks[name]:.0f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    return X.shape, table


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
