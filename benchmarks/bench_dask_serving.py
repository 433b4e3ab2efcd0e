"""Top-10 lists for two million users: a 2-worker Dask cluster against one process.

Usage::

    pip install -e ".[dask,benchmark]"
    python benchmarks/bench_dask_serving.py [--users 2000000] [--fit-users 200000]

Data: ``make_interactions(2_000_000, 50_000, density=0.0004, dtype=np.float32,
random_state=0)``: 50,000 items, about 20 per user (40 million interactions). What is
measured is serving, not fitting: each model is fitted once on the first ``--fit-users``
users, then the top-10 unseen items of **every** user are computed, each configuration in a
fresh process:

* one process: ``model.recommend(X, 10)`` (scored in row batches sized by scikit-learn's
  ``working_memory``; numba and BLAS use both cores);
* ``batch_recommend(model, X, 10)`` on a ``distributed.LocalCluster`` of 2 worker processes
  with one thread each (the model sent to each worker once, ``X`` cut into blocks of
  20,000 rows, only the lists coming back).

Models: ``ImplicitALS`` (64 factors, its other defaults) and ``SparseEASE(alpha=500,
density=0.0005)`` (25 entries per column of ``W``: a user's scores cost the lengths of the
rows of ``W`` met by the entries of ``X W^T``, which grow about with the square of the
density). Dense ``EASE`` is not run: at 50,000 items its item-item matrix is 10 GB
in float32 (its fit needs a 20 GB float64 Gram matrix), and every worker process would hold
a copy, more than this 24 GB machine; ``SparseEASE`` is the library's EASE at this size
(docs: "EASE beyond 30,000 items").

Reported: wall time of the whole pass and users per second; peak memory as the largest
growth of a process's resident set during the pass, above what it held before (the loaded
model and ``X``; for a worker, the model it received): of the one process, of each worker
(the largest of the two, which includes its blocks of ``X``), and of the client; the share
of users whose list equals the one-process list (float32 scores summed in another order
can swap near-ties). A warm-up on 2,000 users runs first in every process (numba's
compiled kernels load from its cache). Results: ``benchmarks/results/dask_serving.json``.
"""

import argparse
import os
import pickle
import sys
import tempfile
import threading
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import PeakRSS, in_fresh_process, show, table, write_results  # noqa: E402

N_ITEMS, DENSITY, K, ROWS_PER_TASK = 50_000, 0.0004, 10, 20_000


def _load(data_path, model_path):
    import scipy.sparse as sp

    with open(model_path, "rb") as f:
        model = pickle.load(f)
    return sp.load_npz(data_path).tocsr(), model


def _one_process(data_path, model_path):
    X, model = _load(data_path, model_path)
    model.recommend(X[:2000], K)  # warm-up
    with PeakRSS() as peak:
        start = time.perf_counter()
        items, _ = model.recommend(X, K)
        seconds = time.perf_counter() - start
    return seconds, peak.growth_mb, items


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _start_watch(dask_worker):
    # a thread in the worker process that keeps the largest resident set seen
    dask_worker._bench_base = dask_worker._bench_peak = _rss()
    stop = threading.Event()

    def poll():
        while not stop.wait(0.005):
            dask_worker._bench_peak = max(dask_worker._bench_peak, _rss())

    threading.Thread(target=poll, daemon=True).start()
    dask_worker._bench_stop = stop


def _stop_watch(dask_worker):
    dask_worker._bench_stop.set()
    return (max(dask_worker._bench_peak, _rss()) - dask_worker._bench_base) / 2**20


def _cluster(data_path, model_path):
    import distributed

    from sklearn_recsys.dask import batch_recommend

    X, model = _load(data_path, model_path)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        batch_recommend(model, X[:2000], K, client=client, rows_per_task=1000)  # warm-up
        client.run(_start_watch)
        with PeakRSS() as peak:
            start = time.perf_counter()
            items, _ = batch_recommend(model, X, K, client=client,
                                       rows_per_task=ROWS_PER_TASK)
            seconds = time.perf_counter() - start
        workers = client.run(_stop_watch)
    return seconds, max(workers.values()), peak.growth_mb, items


def main(argv=None):
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--fit-users", type=int, default=200_000)
    args = parser.parse_args(argv)
    import scipy.sparse as sp

    from sklearn_recsys import ImplicitALS, SparseEASE, make_interactions

    start = time.perf_counter()
    X = make_interactions(args.users, N_ITEMS, density=DENSITY, dtype=np.float32,
                          random_state=0)
    print(f"data: {X.shape}, {X.nnz:,} interactions, {time.perf_counter() - start:.0f} s",
          file=sys.stderr, flush=True)
    models = [("ImplicitALS(64)", ImplicitALS(64, random_state=0)),
              ("SparseEASE(density=0.0005)", SparseEASE(alpha=500.0, density=0.0005))]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data_path = os.path.join(tmp, "X.npz")
        sp.save_npz(data_path, X, compressed=False)
        fit_rows = X[:args.fit_users]
        del X
        for name, model in models:
            start = time.perf_counter()
            model.fit(fit_rows)
            fit_seconds = time.perf_counter() - start
            model_path = os.path.join(tmp, "model.pkl")
            with open(model_path, "wb") as f:
                pickle.dump(model, f)
            model_mb = os.path.getsize(model_path) / 2**20
            print(f"{name}: fitted in {fit_seconds:.0f} s, {model_mb:.0f} MB",
                  file=sys.stderr, flush=True)
            seconds, grown, reference = in_fresh_process(_one_process, data_path, model_path)
            print(f"  one process: {seconds:.0f} s, +{grown:.0f} MB", file=sys.stderr,
                  flush=True)
            rows.append([name, "one process (2 threads)", args.users / seconds, seconds,
                         grown, None, 1.0, model_mb])
            seconds, worker, client, items = in_fresh_process(_cluster, data_path, model_path)
            same = float(np.mean(np.all(items == reference, axis=1)))
            print(f"  cluster: {seconds:.0f} s, worker +{worker:.0f} MB, client "
                  f"+{client:.0f} MB, same lists {same:.4f}", file=sys.stderr, flush=True)
            rows.append([name, "LocalCluster, 2 workers x 1 thread", args.users / seconds,
                         seconds, worker, client, same, model_mb])
            del reference, items
    tab = show(table(
        "serving", f"Top-{K} lists for {args.users:,} users of {N_ITEMS:,} items", [
            "model", "where", "users/s", "seconds", "peak MB per process (worker)",
            "peak MB client", "same lists as one process", "model MB"],
        rows, formats=["text", "text", "count", "seconds", "mb", "mb", "metric", "mb"],
        notes=[
            f"make_interactions({args.users:_}, {N_ITEMS:_}, density={DENSITY}, "
            f"dtype=float32); models fitted on the first {args.fit_users:,} users; each "
            "configuration in a fresh process after a warm-up. Peak MB: largest growth of "
            "the resident set during the pass (a worker's includes its blocks of X; the "
            "client's, the blocks it sends and the lists it gathers)."]))
    write_results("dask_serving", [tab])


if __name__ == "__main__":
    main()
