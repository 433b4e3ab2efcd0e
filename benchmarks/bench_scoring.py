"""Speed and memory of scoring every user by a sparse item-item matrix (ItemKNN), beside scipy.

Usage::

    python benchmarks/bench_scoring.py --data-home ../shared/data [--repeats 7]

``ItemKNN.decision_function`` on every user of MovieLens 100K and Last.fm 2K (the ranking
benchmarks' positives, ``common.benchmark_datasets``), ``n_neighbors`` 100 and 1,000, against
what it computed before: scipy's sparse product ``(X @ similarity_).toarray()``, which runs on
one thread and builds a sparse result (an index and a value per entry) before the dense
scores. Both give the same floats (checked here on every run). The two alternate
``--repeats`` times in one process; the table gives median seconds, the speed-up (scipy's
median over ours), and the peak memory ``tracemalloc`` traces in one call (NumPy and SciPy
allocations). Numba's threads: its default (every core) unless ``NUMBA_NUM_THREADS`` says
otherwise; the JSON records the machine.

Results: ``benchmarks/results/scoring_speed.json``; ``python benchmarks/make_tables.py``
turns it into the docs' table.
"""

import argparse
import statistics
import time
import tracemalloc

import numba
import numpy as np

from sklearn_recsys import ItemKNN

from common import benchmark_datasets, show, table, write_results


def _scipy_scores(model, X):
    return (X @ model.similarity_).toarray()


def _ours(model, X):
    return model.decision_function(X)


def _seconds(fn, model, X):
    start = time.perf_counter()
    fn(model, X)
    return time.perf_counter() - start


def _peak_mb(fn, model, X):
    tracemalloc.start()
    fn(model, X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rows = []
    for name, X in benchmark_datasets(args.data_home).items():
        for n_neighbors in (100, 1000):
            model = ItemKNN(n_neighbors=n_neighbors).fit(X)
            ours, theirs = _ours(model, X), _scipy_scores(model, X)  # compiles the kernel
            if not np.array_equal(ours, theirs):
                raise AssertionError(f"{name}: ItemKNN's scores differ from scipy's product")
            times = {"ours": [], "scipy": []}
            for _ in range(args.repeats):
                times["ours"].append(_seconds(_ours, model, X))
                times["scipy"].append(_seconds(_scipy_scores, model, X))
            ours_s, scipy_s = statistics.median(times["ours"]), statistics.median(times["scipy"])
            rows.append([name, f"{X.shape[0]:,} x {X.shape[1]:,}", n_neighbors,
                         model.similarity_.nnz, scipy_s, ours_s, scipy_s / ours_s,
                         _peak_mb(_scipy_scores, model, X), _peak_mb(_ours, model, X)])
    tab = show(table(
        "item_knn", f"ItemKNN.decision_function on every user, {args.repeats} interleaved "
        f"repeats, {numba.get_num_threads()} numba threads",
        ["dataset", "users x items", "n_neighbors", "similarities", "scipy s", "ours s",
         "speed-up", "scipy peak MB", "ours peak MB"], rows,
        formats=["text", "text", "count", "count", "seconds", "seconds", "ratio", "mb", "mb"],
        notes=["scipy: (X @ similarity_).toarray(), the sparse product then its dense "
               "scores; ours: the parallel kernel that adds each user's neighbours' "
               "similarities into the dense scores (the same floats)."]))
    write_results("scoring_speed", [tab])
    return tab


if __name__ == "__main__":
    main()
