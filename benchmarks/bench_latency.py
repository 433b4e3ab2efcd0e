"""Latency of the one-user calls a service makes: ``recommend`` for one user, and ``explain``.

Usage::

    python benchmarks/bench_latency.py --data-home ../shared/data [--users 100] [--repeats 5]

First table: ``recommend(x, k=10)`` for one user at a time, ``--users`` users of MovieLens
100K and Last.fm 2K (the ranking benchmarks' positives, ``common.benchmark_datasets``) and of
MovieLens latest-small (ratings >= 4, users with 5 or more: the largest catalogue), with
the numba kernels' serial build, which a one-row call now takes, against their parallel
build, which it took before (``utils/_parallel.py``: a parallel region over one row has
nothing to share out, and waking numba's threads for it costs milliseconds on a loaded
machine). The two alternate ``--repeats`` times in one process; the table gives the median
milliseconds per call and their ratio. Both builds give the same lists (checked on every
run).

Second table: milliseconds per ``explain(x, item)`` call (median over the same users, each
explaining their first recommendation), for each model family's explanation: exact
item-item sums (EASE, ItemKNN), least-squares fold-ins (ImplicitALS; ExplicitMF's sampler,
on MovieLens 100K's ratings), leave-one-out (BPR, NMF), integrated gradients (MultVAE,
MultDAE, CDAE; with TensorFlow installed). The models are fitted with their defaults except
NMF's ``feedback="implicit"`` and the neural ones' epochs (``max_iter=20``): latency, not
accuracy, is measured.

Results: ``benchmarks/results/latency.json``; ``python benchmarks/make_tables.py`` turns
it into the docs' tables.
"""

import argparse
import importlib.util
import statistics
import time

import numba
import numpy as np

from sklearn_recsys import (BPR, EASE, NMF, ExplicitMF, ImplicitALS, ItemKNN)
from sklearn_recsys.utils import _parallel

from common import benchmark_datasets, positives, show, table, write_results


def _models(neural):
    models = {"EASE": EASE(alpha=500.0), "ItemKNN": ItemKNN(),
              "ImplicitALS": ImplicitALS(random_state=0), "BPR": BPR(random_state=0),
              "NMF": NMF(feedback="implicit", random_state=0)}
    if neural:
        from sklearn_recsys import CDAE, MultDAE, MultVAE

        for cls in (MultVAE, MultDAE, CDAE):
            models[cls.__name__] = cls(max_iter=20, random_state=0)
    return models


def _cases(data_home, neural):
    """(dataset, X, {name: fitted model}): the positives for every implicit model, and
    MovieLens 100K's ratings for ExplicitMF."""
    from sklearn_recsys.datasets import fetch_movielens

    datasets = benchmark_datasets(data_home)
    # a larger catalogue, where NumPy's products of the scores run threaded
    datasets["MovieLens latest-small"] = positives(fetch_movielens(
        "latest-small", data_home=data_home, download_if_missing=False).X, 4)
    cases = [(name, X, {m: model.fit(X) for m, model in _models(neural).items()})
             for name, X in datasets.items()]
    ratings = fetch_movielens("100k", data_home=data_home, download_if_missing=False).X
    cases.append(("MovieLens 100K ratings", ratings,
                  {"ExplicitMF": ExplicitMF(random_state=0).fit(ratings)}))
    return cases


_KIND = {"EASE": "exact (item-item)", "ItemKNN": "exact (item-item)",
         "ImplicitALS": "exact (least-squares fold-in)",
         "ExplicitMF": "exact (sampler's fold-in)", "BPR": "leave-one-out",
         "NMF": "leave-one-out", "MultVAE": "integrated gradients",
         "MultDAE": "integrated gradients", "CDAE": "integrated gradients"}


def _one_user_calls(model, rows):
    return [model.recommend(row, k=10) for row in rows]


def _milliseconds(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - start) * 1e3, out


def recommend_rows(cases, n_users, repeats):
    rows = []
    for data, X, models in cases:
        users = [X[u] for u in np.linspace(0, X.shape[0] - 1, n_users).astype(int)]
        for name in ("EASE", "ItemKNN", "ImplicitALS", "BPR", "NMF", "MultVAE"):
            if name not in models:
                continue
            model = models[name]
            times = {"serial": [], "parallel": []}
            outs = {}
            threshold = _parallel.SERIAL_BELOW_ROWS
            for build, below in (("serial", threshold), ("parallel", 1)):
                _parallel.SERIAL_BELOW_ROWS = below
                try:
                    _one_user_calls(model, users[:3])  # compiles (or loads) the build
                finally:
                    _parallel.SERIAL_BELOW_ROWS = threshold
            for _ in range(repeats):
                for build, below in (("serial", threshold), ("parallel", 1)):
                    _parallel.SERIAL_BELOW_ROWS = below
                    try:
                        ms, outs[build] = _milliseconds(_one_user_calls, model, users)
                    finally:
                        _parallel.SERIAL_BELOW_ROWS = threshold
                    times[build].append(ms / len(users))
            same = all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
                       for a, b in zip(outs["serial"], outs["parallel"]))
            if not same:
                raise AssertionError(f"{data}, {name}: the builds' lists differ")
            serial, parallel = (statistics.median(times[b]) for b in ("serial", "parallel"))
            rows.append([data, X.shape[1], name, parallel, serial, parallel / serial])
    return rows


def explain_rows(cases, n_users):
    rows = []
    for data, X, models in cases:
        users = [X[u] for u in np.linspace(0, X.shape[0] - 1, n_users).astype(int)]
        for name, model in models.items():
            items = [int(model.recommend(row, k=1)[0][0, 0]) for row in users]
            model.explain(users[0], items[0])  # compiles what it uses
            times = [_milliseconds(model.explain, row, item)[0]
                     for row, item in zip(users, items)]
            rows.append([data, name, _KIND[name], statistics.median(times), max(times)])
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    neural = importlib.util.find_spec("tensorflow") is not None
    cases = _cases(args.data_home, neural)
    threads = numba.get_num_threads()
    recommend = show(table(
        "recommend", f"recommend(x, k=10) for one user at a time, {args.users} users, "
        f"{args.repeats} interleaved repeats, {threads} numba threads",
        ["dataset", "items", "model", "parallel build ms", "serial build ms", "speed-up"],
        recommend_rows(cases, args.users, args.repeats),
        formats=["text", "count", "text", "seconds", "seconds", "ratio"],
        notes=["parallel build: numba's threads started for the call's one row (what a "
               "one-row call ran before); serial build: what it runs now. Milliseconds per "
               "call, median of the repeats; the same lists."]))
    explain = show(table(
        "explain", f"explain(x, item) for one user and their first recommendation, "
        f"{args.users} users, {threads} numba threads",
        ["dataset", "model", "explanation", "median ms", "max ms"],
        explain_rows(cases, args.users),
        formats=["text", "text", "text", "seconds", "seconds"]))
    write_results("latency", [recommend, explain])
    return recommend, explain


if __name__ == "__main__":
    main()
