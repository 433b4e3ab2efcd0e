"""Approximate top-k (IVF and HNSW, faiss) against exact top-k on 100,000 and 1,000,000 items.

Usage::

    pip install -e ".[ann,benchmark]"
    python benchmarks/bench_ann.py [--n-items 100000 1000000] [--repeats 3]

Data: ``make_interactions(n_users=20_000, n_items=--n-items, density=50 / n_items)`` (about
50 interactions per user). Models: ``ImplicitALS`` and ``BPR`` with 64 factors (10 and 20
iterations). For ``--eval-users`` users of the training rows, ``recommend(X, k=10)`` of the
fitted model (exact: every item scored, the user's items excluded) against
``ApproximateRecommender`` over the same fitted model (``sklearn.frozen.FrozenEstimator``,
so both serve identical factors), with each index built once per model (the inverted file
with its defaults, about sqrt(n_items) lists; the HNSW graph with 32 links; the space chosen
by ``space="auto"`` at the default search breadth, ``n_probe=16`` / ``ef_search=128``, named
in the table), then searched at
several ``n_probe`` / ``ef_search`` (search parameters: no rebuild). One table per catalogue
size. Both fold each user in the same way; the approximate side replaces scoring every item
and the top-k selection by the index search. Throughput: users per second of the whole
``recommend`` call, median of ``--repeats`` calls, the exact calls then the approximate ones
in one process; the fold-in alone (the model's ``_inner_product_form`` over the same row
batches, median of ``--repeats``) is timed too: the exact call's time over it bounds the
speed-up any index can give. Recall@10: share of the exact top-10 that the approximate list
holds. Index memory: faiss's serialized index.

Results: ``benchmarks/results/ann.json``; ``python benchmarks/make_tables.py`` turns it into
the docs' table.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import show, table, write_results  # noqa: E402

N_PROBE = (4, 8, 16, 32)
EF_SEARCH = (16, 32, 64, 128)


def _timed(fn, repeats):
    seconds, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), out


def run(n_items, n_users, eval_users, repeats):
    import faiss
    from sklearn.frozen import FrozenEstimator

    from sklearn_recsys import BPR, ImplicitALS, make_interactions
    from sklearn_recsys.neighbors import ApproximateRecommender
    from sklearn_recsys.neighbors._approximate import _recall
    from sklearn_recsys.utils._topk import iter_row_batches, row_batch_size

    X = make_interactions(n_users=n_users, n_items=n_items, density=50 / n_items,
                          random_state=0).astype(np.float32)
    X_eval = X[:eval_users]
    print(f"{X.shape[0]} users, {X.shape[1]} items, {X.nnz} interactions", flush=True)
    rows, ceilings = [], []
    for model in [ImplicitALS(n_components=64, max_iter=10, random_state=0),
                  BPR(n_components=64, max_iter=20, random_state=0)]:
        name = type(model).__name__
        start = time.perf_counter()
        model.fit(X)
        print(f"{name}: fitted in {time.perf_counter() - start:.0f} s", flush=True)
        exact_s, (exact, _) = _timed(lambda: model.recommend(X_eval, k=10), repeats)
        step = row_batch_size(n_items)

        def fold_in():
            with model._shared_fold_in():  # as in a scoring call: one Gram per call
                return [model._inner_product_form(X_eval[rows])
                        for rows in iter_row_batches(eval_users, step)]

        fold_s, _ = _timed(fold_in, repeats)
        ceilings.append(f"{name} {fold_s:.3f} s of the exact call's {exact_s:.3f} s, so at "
                        f"most {exact_s / fold_s:.1f}x")
        rows.append([name, "exact", None, eval_users / exact_s, 1.0, 1.0, None, None])
        print(rows[-1], ceilings[-1], flush=True)
        for algorithm, breadth, values in [("ivf", "n_probe", N_PROBE),
                                           ("hnsw", "ef_search", EF_SEARCH)]:
            start = time.perf_counter()
            approx = ApproximateRecommender(FrozenEstimator(model), algorithm=algorithm).fit(X)
            build = time.perf_counter() - start
            size_mb = faiss.serialize_index(approx.index_).nbytes / 2**20
            index = f"IVF {approx.n_lists_} lists" if algorithm == "ivf" else "HNSW"
            for value in values:
                approx.set_params(**{breadth: value})
                approx_s, (found, _) = _timed(lambda: approx.recommend(X_eval, k=10), repeats)
                rows.append([name, f"{index}, {approx.space_}", f"{breadth} {value}",
                             eval_users / approx_s, exact_s / approx_s, _recall(found, exact),
                             build, size_mb])
                print(rows[-1], flush=True)
    return table(
        f"items-{n_items}", f"Approximate against exact top-10 on {n_items:,} items",
        ["model", "top-k", "search breadth", "users/s", "speed-up", "recall@10 of exact",
         "index build seconds", "index MB"], rows,
        formats=["text", "text", "text", "count", "ratio", "metric", "seconds", "mb"],
        notes=[f"make_interactions({n_users}, {n_items}, about 50 interactions per user), 64 "
               f"factors; {eval_users} users' recommend(X, k=10), seen items excluded, median "
               f"of {repeats} calls. Inverted file (IVF): faiss IndexIVFFlat, k-means lists of "
               "the items, n_probe of them scanned per user; HNSW: 32 links per node, "
               "ef_construction 200. Both sides fold the users in: the speed-up is of the whole "
               f"call. Fold-in alone, which no index can shorten: {'; '.join(ceilings)}. Index "
               "build: both spaces and the choice between them (space='auto')."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-items", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--n-users", type=int, default=20_000)
    parser.add_argument("--eval-users", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    write_results("ann", [show(run(n_items, args.n_users, args.eval_users, args.repeats))
                          for n_items in args.n_items])


if __name__ == "__main__":
    main()
