"""Speed and memory of scoring every user by a sparse item-item matrix (ItemKNN), and of AUC.

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

Second table: ``metrics.auc`` on the scores of the test users of a strong-generalization
split (20% of users, 20% of each held out, seed 0; EASE alpha=500, fold-in items scored
-inf) of MovieLens 100K and Last.fm 2K, and on random scores (2,000 users x 10,000 items,
50 held-out items each, 5% scored -inf) where held-out items sit anywhere in the ranking,
against the rank-sum AUC it computed before (scipy's ``rankdata`` of every row, kept here as
``_rank_sum_auc``; the same floats, checked on every run), with ``ndcg_at_k`` (k=100) on the
same scores for scale; interleaved medians and the peak traced memory of one call.

Results: ``benchmarks/results/scoring_speed.json``; ``python benchmarks/make_tables.py``
turns it into the docs' table.
"""

import argparse
import statistics
import time
import tracemalloc

import numba
import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from sklearn_recsys import EASE, ItemKNN
from sklearn_recsys.metrics import auc, ndcg_at_k
from sklearn_recsys.model_selection import strong_generalization_split
from sklearn_recsys.utils._topk import iter_row_batches, row_batch_size

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


def _rank_sum_auc_rows(y_true, scores):
    n_rows = y_true.shape[0]
    n_pos = np.diff(y_true.indptr)
    row = np.repeat(np.arange(n_rows), n_pos)
    s = np.array(scores, dtype=np.float64)
    is_pos = np.zeros(s.shape, dtype=bool)
    is_pos[row, y_true.indices] = True
    s[is_pos & np.isneginf(s)] = -np.finfo(np.float64).max  # held out: still a candidate
    m = np.isneginf(s).sum(axis=1)
    ranks = rankdata(s, axis=1)
    pos_rank_sum = np.bincount(row, weights=ranks[row, y_true.indices], minlength=n_rows)
    n_neg = s.shape[1] - m - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (pos_rank_sum - m * n_pos - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), values, np.nan)


def _rank_sum_auc(y_true, scores):
    """The AUC ``metrics.auc`` computed before: rankdata of every row, in eighths of a block."""
    values = []
    for block in iter_row_batches(y_true.shape[0], row_batch_size(y_true.shape[1])):
        y_b, s_b = y_true[block], scores[block]
        step = max(1, -(-y_b.shape[0] // 8))
        values += [_rank_sum_auc_rows(y_b[rows], s_b[rows])
                   for rows in iter_row_batches(y_b.shape[0], step)]
    return float(np.nanmean(np.concatenate(values)))


def _auc_cases(data_home):
    for name, X in benchmark_datasets(data_home).items():
        X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
        scores = EASE(alpha=500.0).fit(X_train).decision_function(X_in)
        scores[X_in.nonzero()] = -np.inf
        yield f"{name}, EASE", X_out, scores
    rng = np.random.default_rng(0)
    n_users, n_items = 2000, 10000
    scores = rng.standard_normal((n_users, n_items))
    scores[rng.random(scores.shape) < 0.05] = -np.inf
    held = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :50]
    y = sp.csr_matrix((np.ones(held.size), (np.repeat(np.arange(n_users), 50), held.ravel())),
                      shape=(n_users, n_items))
    yield "random scores", y, scores


def auc_table(data_home, repeats):
    contenders = {"before": _rank_sum_auc, "auc": auc, "ndcg@100":
                  lambda y, s: ndcg_at_k(y, s, k=100)}
    rows = []
    for name, y, scores in _auc_cases(data_home):
        if _rank_sum_auc(y, scores) != auc(y, scores):
            raise AssertionError(f"{name}: metrics.auc differs from the rank-sum AUC")
        times = {c: [] for c in contenders}
        for _ in range(repeats):
            for c, fn in contenders.items():
                start = time.perf_counter()
                fn(y, scores)
                times[c].append(time.perf_counter() - start)
        med = {c: statistics.median(ts) for c, ts in times.items()}
        peaks = {}
        for c in ("before", "auc"):
            tracemalloc.start()
            contenders[c](y, scores)
            peaks[c] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        rows.append([name, f"{y.shape[0]:,} x {y.shape[1]:,}", y.nnz, med["before"],
                     med["auc"], med["before"] / med["auc"], med["ndcg@100"],
                     peaks["before"], peaks["auc"]])
    return show(table(
        "auc", f"metrics.auc, {repeats} interleaved repeats, {numba.get_num_threads()} numba "
        "threads", ["scores", "users x items", "held out", "before s", "auc s", "speed-up",
                    "ndcg@100 s", "before peak MB", "auc peak MB"], rows,
        formats=["text", "text", "count", "seconds", "seconds", "ratio", "seconds", "mb",
                 "mb"],
        notes=["before: the rank-sum AUC from scipy's rankdata of every row (what auc "
               "computed before; the same floats); auc: each held-out item's rank from one "
               "pass over its row against the sorted held-out scores, rows in parallel."]))


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
        notes=["scipy: ``(X @ similarity_).toarray()``, the sparse product then its dense "
               "scores; ours: the parallel kernel that adds each user's neighbours' "
               "similarities into the dense scores (the same floats)."]))
    write_results("scoring_speed", [tab, auc_table(args.data_home, args.repeats)])
    return tab


if __name__ == "__main__":
    main()
