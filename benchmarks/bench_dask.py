"""Grid search on a Dask cluster: the same results, and what capping the workers' threads saves.

Usage::

    pip install -e ".[dask,benchmark]"
    python benchmarks/bench_dask.py [--repeats 3]

One ``GridSearchCV`` over ``ImplicitALS`` (64 factors, 10 sweeps; ``alpha`` in 4 values, 3
folds of users: 12 fits) on ``make_interactions(12_000, 4_000, density=0.01)``, run three
ways on this machine:

* the default (loky) backend with ``n_jobs=2`` (two processes; outside Dask nothing caps
  numba, so each fit may use every core);
* joblib's Dask backend on a ``LocalCluster`` of 2 worker processes with one thread each
  (the data scattered once), the estimators' ``n_jobs=None``: inside a worker, numba and
  TensorFlow get the task's share of the cores (``worker_thread_share``);
* the same cluster with ``n_jobs=-1`` on the estimators: every fit asks for all cores, the
  oversubscription the cap avoids.

The table gives the median wall time of ``--repeats`` searches and checks that the three give
identical ``cv_results_`` scores. Results: ``benchmarks/results/dask_search.json``.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import show, table, write_results  # noqa: E402

GRID = {"alpha": [0.1, 1.0, 10.0, 100.0]}


def _search(X, n_jobs_model, backend):
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV, KFold

    from sklearn_recsys import ImplicitALS
    from sklearn_recsys.metrics import get_ranking_scorer

    search = GridSearchCV(
        ImplicitALS(64, max_iter=10, n_jobs=n_jobs_model, random_state=0), GRID,
        scoring=get_ranking_scorer("ndcg@10"), cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=2)
    start = time.perf_counter()
    if backend == "dask":
        with parallel_backend("dask", scatter=[X]):
            search.fit(X)
    else:
        search.fit(X)
    return time.perf_counter() - start, search.cv_results_["mean_test_score"]


def main(argv=None):
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import distributed

    from sklearn_recsys import make_interactions

    X = make_interactions(12_000, 4_000, density=0.01, random_state=0)
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    configs = [("loky backend, 2 processes, n_jobs=None", None, "loky"),
               ("Dask LocalCluster 2x1, n_jobs=None (capped)", None, "dask"),
               ("Dask LocalCluster 2x1, n_jobs=-1 (every core per fit)", -1, "dask")]
    _search(X, None, "dask")  # warm the workers (imports, numba caches)
    times, scores = {c[0]: [] for c in configs}, {}
    for _ in range(args.repeats):
        for label, n_jobs, backend in configs:  # interleaved: noise hits all alike
            seconds, result = _search(X, n_jobs, backend)
            times[label].append(seconds)
            scores[label] = result
            print(label, f"{seconds:.2f} s", file=sys.stderr, flush=True)
    client.close()
    cluster.close()
    reference = scores[configs[0][0]]
    capped = statistics.median(times[configs[1][0]])
    rows = [[label, statistics.median(times[label]), statistics.median(times[label]) / capped,
             "yes" if np.array_equal(scores[label], reference) else "no"]
            for label, _, _ in configs]
    tab = show(table(
        "search", "GridSearchCV of ImplicitALS (12 fits) on one 2-core machine", [
            "backend", "seconds (median)", "time / capped Dask", "same cv_results_"],
        rows, formats=["text", "seconds", "ratio", "text"], notes=[
            f"make_interactions(12_000, 4_000, density=0.01); ImplicitALS(64, max_iter=10); "
            f"alpha in {GRID['alpha']}, 3 folds; median of {args.repeats} interleaved runs."]))
    write_results("dask_search", [tab])


if __name__ == "__main__":
    main()
