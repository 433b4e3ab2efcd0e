"""Code shared by the benchmark scripts: datasets, protocols, processes, peers and results.

The scripts run as ``python benchmarks/bench_x.py ...``, so this folder is on ``sys.path``
and ``from common import ...`` needs no path edit.

Results: every table a script prints is also written, as plain values, to
``benchmarks/results/<name>.json`` by :func:`write_results`, with the command line, the UTC
date and the machine. ``benchmarks/make_tables.py`` turns those files into the tables of
``docs/benchmarks.rst``.
"""

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata, util

import numpy as np

from make_tables import format_cell

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, "results")
_STARTED = time.time()
_LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

# import name -> distribution name of the libraries the results record
LIBRARIES = {"numpy": "numpy", "scipy": "scipy", "sklearn": "scikit-learn", "numba": "numba",
             "tensorflow": ("tensorflow", "tensorflow-cpu"), "sklearn_recsys": "sklearn_recsys"}
PEERS = {"recpack": "recpack", "cornac": "cornac", "implicit": "implicit",
         "surprise": "scikit-surprise", "torch": "torch", "lightfm": "lightfm"}


# -- datasets and protocols ----------------------------------------------------------------


def positives(X, threshold=None, min_users_per_item=1, min_items_per_user=5):
    """Binary positives of ``X`` (``>= threshold``, or every non-zero), filtered until every
    item has ``min_users_per_item`` users and every user ``min_items_per_user`` items."""
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
    """The implicit-feedback datasets the ranking benchmarks use, as positives.

    MovieLens 100K: ratings >= 4. Last.fm 2K: every play, artists with fewer than 5
    listeners dropped. Users with at least 5 positives.
    """
    from sklearn_recsys.datasets import fetch_lastfm_2k, fetch_movielens

    return {
        "MovieLens 100K": positives(
            fetch_movielens("100k", data_home=data_home, download_if_missing=False).X, 4),
        "Last.fm 2K": positives(
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


class SurpriseRatings:
    """A surprise algorithm with its defaults behind ``fit(X)`` and ``rmse(test)`` (CSR ratings)."""

    def __init__(self, name):
        self.name = name

    def fit(self, X):
        import pandas as pd
        import surprise

        coo = X.tocoo()
        reader = surprise.Reader(rating_scale=(float(X.data.min()), float(X.data.max())))
        data = surprise.Dataset.load_from_df(
            pd.DataFrame({"u": coo.row, "i": coo.col, "r": coo.data}), reader)
        kwargs = {"verbose": False} if self.name == "BaselineOnly" else {"random_state": 0}
        self.algo_ = getattr(surprise, self.name)(**kwargs).fit(data.build_full_trainset())
        return self

    def rmse(self, test):
        test = test.tocoo()
        pred = np.array([self.algo_.predict(int(u), int(i)).est
                         for u, i in zip(test.row, test.col)])
        return float(np.sqrt(np.mean((pred - test.data) ** 2)))


def ml100k_rmse_folds(makes, data_home):
    """RMSE on ``u1..u5.test`` of each ``make()`` fitted on each ``u*.base``, and fit seconds.

    ``makes`` maps labels to factories of estimators (or :class:`SurpriseRatings`); within a
    fold the models are fitted one after the other, so their times are side by side. Returns
    ``{label: (rmse per fold, seconds per fold)}``.
    """
    from sklearn_recsys.metrics import make_rating_scorer

    rmse = make_rating_scorer("rmse")
    out = {label: ([], []) for label in makes}
    for fold in range(1, 6):
        train, test = ml100k_fold(data_home, fold)
        for label, make in makes.items():
            start = time.perf_counter()
            model = make().fit(train)
            out[label][1].append(time.perf_counter() - start)
            out[label][0].append(model.rmse(test) if hasattr(model, "rmse")
                                 else -rmse(model, train, test))
    return out


# -- processes and memory ------------------------------------------------------------------


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a new (spawned) process: its own imports, threads and peak memory.

    Also keeps TensorFlow and PyTorch apart: they crash when loaded into one process. The
    process is not a daemon (unlike a ``multiprocessing.Pool``'s), so it may start processes
    of its own, such as a Dask ``LocalCluster``'s workers.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


class PeakRSS:
    """Largest resident set size seen while the block runs, sampled every 2 ms."""

    def __enter__(self):
        import threading

        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    @staticmethod
    def _rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _poll(self):
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def growth_mb(self):
        return (self.peak - self.base) / 2**20


# -- peer libraries ------------------------------------------------------------------------


def _version(dist):
    for name in (dist,) if isinstance(dist, str) else dist:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def peers(*names):
    """``{name: version or None}`` of the peer libraries a part compares against.

    A peer is present when it can be found (it is not imported here: TensorFlow and
    PyTorch must not share a process). Each absent one gets a printed note; the part skips
    its rows and passes this dict to :func:`write_results`, which records the absence.
    """
    found = {}
    for name in names:
        found[name] = _version(PEERS.get(name, name)) if util.find_spec(name) else None
        if found[name] is None:
            print(f"note: {name} is not installed; its rows are skipped "
                  f"(pip install {PEERS.get(name, name)})", file=sys.stderr, flush=True)
    return found


# -- tables and results --------------------------------------------------------------------


def _plain(value):
    """JSON-ready value: NumPy scalars to Python numbers, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def table(id, title, columns, rows, formats=None, notes=()):
    """A results table: ``rows`` are lists of plain values, one per column.

    ``formats`` names how ``make_tables`` shows each column: "text", "metric" (4 decimals),
    "seconds" (3 significant digits), "ratio" (2 decimals), "count" (integer, thousands
    separated), "mb" (whole megabytes), "params" (``k=v, ...``); None guesses from the values.
    """
    columns = list(columns)
    rows = [_plain(list(row)) for row in rows]
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"table {id!r}: every row needs {len(columns)} values")
    if formats is not None and len(formats) != len(columns):
        raise ValueError(f"table {id!r}: one format per column")
    return {"id": id, "title": title, "columns": columns,
            "formats": list(formats) if formats is not None else None,
            "rows": rows, "notes": list(notes)}


def leaderboard_table(id, title, rows, metrics, notes=()):
    """The rows of ``compare_recommenders`` as a table: metrics, fit seconds, chosen params."""
    return table(id, title, ["model", *metrics, "fit seconds", "chosen parameters"],
                 [[r["model"], *(r[m] for m in metrics), r["fit_seconds"], r["params"]]
                  for r in rows],
                 formats=["text", *["metric"] * len(metrics), "seconds", "params"], notes=notes)


def show(tab):
    """Print ``tab`` as a Markdown table (with the docs' number formats); return it."""
    formats = tab["formats"] or [None] * len(tab["columns"])
    cells = [[format_cell(v, f) for v, f in zip(row, formats)] for row in tab["rows"]]
    print(f"\n## {tab['title']}\n")
    print("| " + " | ".join(tab["columns"]) + " |")
    print("|" + "---|" * len(tab["columns"]))
    for row in cells:
        print("| " + " | ".join(row) + " |")
    for note in tab["notes"]:
        print(f"\n{note}")
    sys.stdout.flush()
    return tab


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _git():
    """Commit of the ``sklearn_recsys`` that ran, and whether its package folder or the
    benchmark scripts' folder had edits (a script edited after its commit is not the
    commit's, so the provenance line says so)."""
    module = sys.modules.get("sklearn_recsys")
    where = os.path.dirname(module.__file__) if module is not None else HERE

    def git(cwd, *args):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()

    def edited(cwd):
        # untracked too (a new script is not in the commit either); not the results,
        # which the runs themselves write
        return bool(git(cwd, "status", "--porcelain", "--", ".", ":(exclude)results"))

    try:
        commit = git(where, "rev-parse", "HEAD")
        package = bool(git(where, "status", "--porcelain", "--untracked-files=no", "--", "."))
        return {"commit": commit, "package_edited": package, "benchmarks_edited": edited(HERE)}
    except (OSError, subprocess.SubprocessError):
        return None


def machine():
    """What the results were measured on: platform, CPU, Python and library versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    versions = {name: _version(dist) for name, dist in LIBRARIES.items()}
    return {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "python": platform.python_version(),
        "versions": {name: v for name, v in versions.items() if v is not None},
    }


def write_results(name, tables, command=None, peers=None, directory=None):
    """Write ``<directory>/<name>.json``: the tables with their command, date and machine.

    Parameters
    ----------
    name : str
        File name (without ``.json``): one per script and part, e.g. ``"mf_ratings"``.
    tables : list of dict
        Tables made by :func:`table`.
    command : list of str, default=None
        The command line; ``sys.argv`` when None.
    peers : dict, default=None
        As returned by :func:`peers`: present peers with their versions, absent ones.
    directory : str, default=None
        ``benchmarks/results`` when None.

    Returns
    -------
    path : str
    """
    argv = list(sys.argv if command is None else command)
    peers = peers or {}
    result = {
        "name": name,
        "argv": argv,
        "command": "python " + shlex.join(argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "run_seconds": round(time.time() - _STARTED, 1),
        "machine": machine(),
        # 1-minute load averages: other processes sharing the CPU make timings rough
        "load_average": {"start": _LOAD_AT_START,
                         "end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "git": _git(),
        "peers": {k: v for k, v in peers.items() if v is not None},
        "absent_peers": sorted(k for k, v in peers.items() if v is None),
        "tables": list(tables),
    }
    directory = RESULTS_DIR if directory is None else directory
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"{name}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"\nresults written to {path}", file=sys.stderr, flush=True)
    return path
