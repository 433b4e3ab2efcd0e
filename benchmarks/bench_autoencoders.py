"""Mult-VAE, Mult-DAE and CDAE beside recpack's Mult-VAE (PyTorch): quality, epoch time, inference.

Usage::

    pip install -e ".[benchmark,tensorflow]" torch
    python benchmarks/bench_autoencoders.py --data-home ../shared/data [--parts quality,speed]

Part 1 (quality): MovieLens 100K and latest-small (ratings >= 4) and Last.fm 2K (every play;
artists with >= 5 listeners), strong generalization with ``compare_recommenders`` (the
demo's runner). ``MultVAE`` and ``MultDAE`` run with their default parameters (the paper's
600-200-600 / 200 architectures, dropout 0.5, Adam 1e-3, up to 200 epochs, best validation
epoch kept; batch 100 for both, MultDAE's weight decay 0.001), and MultDAE also with the
paper's batch 500 and weight decay 0.01; ``CDAE`` (the paper's 50 hidden units, dropout 0.2,
penalty 0.01, our batch 64 and 100 epochs) is tuned over Adam steps {1e-3, 1e-2}; recpack's
``MultVAE`` (a port of Liang et al.'s code to PyTorch, with its own best-epoch selection on
validation users) is tuned over learning rates {1e-3, 1e-4} on validation users. recpack
folds new users in by a forward pass, like ours.

Part 3 (ratings, ``--parts ratings``): RMSE of I-AutoRec, U-AutoRec (``kind="user"``) and
ExplicitMF with their defaults on MovieLens 100K's u1..u5 base/test splits, and on MovieLens
latest-small with 10% of each user's ratings held out (seed 42); ``--parts ablation`` adds
I-AutoRec without weight averaging and/or without the refit on all training ratings;
``--parts foldin`` times the I-AutoRec fold-in solvers on u1.base (random codes); ``--parts
newusers`` scores 150 ML-100K users left out of ``fit``, folded in from 5, 20 or 50 of their
ratings.

Part 2 (speed): seconds per training epoch on a synthetic matrix (20,000 users x 5,000
items, same architecture, batch 500, 2 threads each), median of ``--repeats``; and the time
to score every user of it with our NumPy path against a TensorFlow call and Keras
``predict`` of the same weights.

Results: ``benchmarks/results/autoencoders_<part>.json`` (one file per part:
``autoencoders_quality``, ``_speed``, ``_ratings``, ``_ablation``, ``_newusers``, ``_foldin``;
``common.write_results``); ``python benchmarks/make_tables.py`` turns them into the docs'
tables. recpack and torch are optional: without them recpack's rows are skipped and the JSON
says so.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from sklearn_recsys import CDAE, EASE, MostPopular, MultDAE, MultVAE, make_interactions
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.datasets import fetch_movielens
from sklearn_recsys.model_selection import compare_recommenders, holdout_split

from common import (SurpriseRatings, benchmark_datasets, in_fresh_process, leaderboard_table,
                    ml100k_fold, ml100k_rmse_folds, peers, positives, show, table,
                    write_results)

METRICS = ("ndcg@100", "recall@20", "recall@50")


class RecpackMultVAE(RecommenderMixin, BaseEstimator):
    """recpack's ``MultVAE`` behind this package's contract.

    ``fit`` holds out 10% of the users (80/20 fold-in/held-out) as recpack's
    validation data, as ours does; scoring is recpack's own ``predict`` (a
    forward pass of the given rows).
    """

    _parameter_constraints = {p: "no_validation" for p in
                              ("learning_rate", "max_epochs", "random_state")}

    def __init__(self, learning_rate=1e-3, max_epochs=200, random_state=0):
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.random_state = random_state

    def _fit(self, X):
        import logging

        from recpack.algorithms import MultVAE as _MultVAE

        logging.getLogger("recpack").setLevel(logging.WARNING)
        # recpack reloads its best epoch with torch.load, which since torch 2.6 refuses
        # pickled modules by default; the checkpoint is the one it just wrote
        os.environ["TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"] = "1"
        rng = np.random.RandomState(self.random_state)
        perm = rng.permutation(X.shape[0])
        n_val = max(1, int(round(0.1 * X.shape[0])))
        val = np.sort(perm[:n_val])
        keep = np.ones(X.shape[0], bool)
        keep[val] = False
        X_train = sp.diags(keep.astype(float)) @ X
        v_in, v_out = holdout_split(X[val], holdout=0.2, min_interactions=2, random_state=0)
        full_in, full_out = sp.lil_matrix(X.shape), sp.lil_matrix(X.shape)
        full_in[val], full_out[val] = v_in, v_out
        self.model_ = _MultVAE(batch_size=500, max_epochs=self.max_epochs,
                               learning_rate=self.learning_rate, seed=self.random_state,
                               stopping_criterion="ndcg", keep_last=False)
        self.model_.fit(sp.csr_matrix(X_train), (full_in.tocsr(), full_out.tocsr()))

    def _score_batch(self, X):
        scores = self.model_.predict(sp.csr_matrix(X))
        return np.asarray(scores.toarray() if sp.issparse(scores) else scores)


def _datasets(data_home):
    datasets = benchmark_datasets(data_home)
    latest = fetch_movielens("latest-small", data_home=data_home, download_if_missing=False)
    return {"MovieLens 100K": datasets["MovieLens 100K"],
            "MovieLens latest-small": positives(latest.X, 4),
            "Last.fm 2K": datasets["Last.fm 2K"]}


def _board(data_home, dataset, side):
    """Leaderboard rows of one side (TensorFlow or PyTorch models) on one dataset."""
    X = _datasets(data_home)[dataset]
    if side == "ours":
        models = {
            "MostPopular": (MostPopular(), {}),
            "EASE": (EASE(), {"alpha": [50.0, 200.0, 500.0]}),
            "MultVAE (defaults)": (MultVAE(random_state=0), {}),
            "MultDAE (defaults)": (MultDAE(random_state=0), {}),
            "MultDAE (paper: batch 500, weight decay 0.01)": (
                MultDAE(batch_size=500, alpha=0.01, random_state=0), {}),
            "CDAE": (CDAE(random_state=0), {"learning_rate_init": [1e-3, 1e-2]}),
        }
    else:
        models = {"recpack MultVAE": (RecpackMultVAE(), {"learning_rate": [1e-3, 1e-4]})}
    return compare_recommenders(models, X, metrics=METRICS, tune_metric="ndcg@100",
                                random_state=0)


def quality(data_home):
    found = peers("recpack", "torch")
    tables = []
    for name, X in _datasets(data_home).items():
        title = f"{name}: {X.shape[0]} users x {X.shape[1]} items, {X.nnz} positives"
        print(f"\n{title}", file=sys.stderr)
        rows = in_fresh_process(_board, data_home, name, "ours")
        if all(found.values()):
            rows += in_fresh_process(_board, data_home, name, "recpack")
        rows.sort(key=lambda r: -r["ndcg@100"])
        id = name.lower().replace(".", "").replace(" ", "_").replace("-", "_")
        tables.append(show(leaderboard_table(id, title, rows, METRICS)))
    write_results("autoencoders_quality", tables, peers=found)


def _synthetic():
    return make_interactions(20_000, 5_000, density=0.01, random_state=0).astype(np.float32)


def _epoch_seconds(side, epochs):
    """Seconds per epoch of one fit, in this (fresh) process, 2 threads, 1 BLAS thread."""
    import logging

    from threadpoolctl import threadpool_limits

    logging.getLogger("recpack").setLevel(logging.WARNING)

    X = _synthetic()
    with threadpool_limits(1, "blas"):
        if side == "ours":
            # 100 validation users, as recpack's below: both evaluate every epoch
            def fit(n):
                # batch 500 as recpack's (the default is 100): the same updates per epoch
                MultVAE(max_iter=n, batch_size=500, n_iter_no_change=10**6,
                        validation_fraction=0.005, random_state=0).fit(X)
        else:
            import torch
            from recpack.algorithms import MultVAE as _MultVAE

            logging.getLogger("recpack").setLevel(logging.WARNING)
            torch.set_num_threads(2)
            val = np.arange(100)
            v_in, v_out = holdout_split(X[val], holdout=0.2, min_interactions=2,
                                        random_state=0)
            full_in, full_out = sp.lil_matrix(X.shape), sp.lil_matrix(X.shape)
            full_in[val], full_out[val] = v_in, v_out
            X_train = X.tolil()
            X_train[val] = 0
            X_train = X_train.tocsr()

            def fit(n):
                _MultVAE(batch_size=500, max_epochs=n, learning_rate=1e-3, seed=0,
                         keep_last=True).fit(X_train, (full_in.tocsr(), full_out.tocsr()))
        fit(1)  # warm-up: imports, tracing
        start = time.perf_counter()
        fit(epochs)
        return (time.perf_counter() - start) / epochs


def speed(repeats, epochs):
    X = _synthetic()
    title = (f"Epoch time: {X.shape[0]} users x {X.shape[1]} items, {X.nnz} non-zeros, "
             f"[items-600-200-600-items], batch 500, {epochs} epochs per fit, each fit in a "
             f"fresh process, median of {repeats}")
    found = peers("recpack", "torch")
    sides = ("ours", "recpack") if all(found.values()) else ("ours",)
    times = {side: [] for side in sides}
    for _ in range(repeats):
        for side in sides:
            times[side].append(in_fresh_process(_epoch_seconds, side, epochs))
    mo = statistics.median(times["ours"])
    mt = statistics.median(times["recpack"]) if "recpack" in times else None
    rows = [["sklearn_recsys MultVAE (TensorFlow)", mo, mo / mt if mt else None]]
    if mt:
        rows.append(["recpack MultVAE (PyTorch)", mt, 1.0])
    tables = [show(table("epoch_time", title,
                         ["implementation", "s/epoch (median)", "ratio ours/recpack"], rows,
                         formats=["text", "seconds", "ratio"]))]
    tables.append(show(in_fresh_process(inference)))
    write_results("autoencoders_speed", tables, peers=found)


def inference():
    import tensorflow as tf

    X = _synthetic()

    model = MultVAE(max_iter=1, early_stopping=False, random_state=0).fit(X)
    x_dense = tf.constant(X.toarray())

    @tf.function
    def forward(x):
        h = tf.math.l2_normalize(x, axis=1)
        h = tf.tanh(h @ model.coefs_[0] + model.intercepts_[0])
        h = (h @ model.coefs_[1] + model.intercepts_[1])[:, :model.n_components]
        h = tf.tanh(h @ model.coefs_[2] + model.intercepts_[2])
        # decision_function's scores: the multinomial's log-probabilities
        return tf.nn.log_softmax(h @ model.coefs_[3] + model.intercepts_[3], axis=1)

    import keras

    inp = keras.Input((X.shape[1],))
    h = keras.layers.UnitNormalization()(inp)
    h = keras.layers.Dense(600, activation="tanh")(h)
    h = keras.layers.Dense(2 * model.n_components)(h)
    h = keras.layers.Lambda(lambda t: t[:, :model.n_components])(h)
    h = keras.layers.Dense(600, activation="tanh")(h)
    out = keras.layers.Dense(X.shape[1])(h)
    out = keras.layers.Lambda(lambda t: keras.ops.log_softmax(t, axis=1))(out)
    kmodel = keras.Model(inp, out)
    kmodel.set_weights([w for pair in zip(model.coefs_, model.intercepts_) for w in pair])
    timings = {}
    for name, fn in (("NumPy decision_function (sparse first layer)",
                      lambda: model.decision_function(X)),
                     ("TensorFlow tf.function call (dense input)",
                      lambda: forward(x_dense).numpy()),
                     ("Keras Model.predict (dense input)",
                      lambda: kmodel.predict(x_dense, batch_size=2000, verbose=0))):
        fn()
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        timings[name] = statistics.median(runs)
    ref = timings["NumPy decision_function (sparse first layer)"]
    # the three paths compute the same scores (log-softmax since 2acf9d1: the check failed)
    expected = model.decision_function(X[:100])
    assert np.allclose(expected, forward(x_dense[:100]).numpy(), atol=1e-3)
    assert np.allclose(expected, kmodel.predict(x_dense[:100], verbose=0), atol=1e-3)
    return table("inference", f"Scoring all {X.shape[0]} users (median of 3)",
                 ["path", "seconds", "ratio to NumPy"],
                 [[name, t, t / ref] for name, t in timings.items()],
                 formats=["text", "seconds", "ratio"])


def _rmse_table(id, title, models, data_home, reference=None):
    """RMSE per fold, mean, median fit seconds and (with ``reference``, a label of ``models``)
    the median over folds of each model's fit time over the reference's in the same fold."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # one BLAS thread, as the issue measures
        results = ml100k_rmse_folds(dict(models), data_home)
    columns = ["model", "u1", "u2", "u3", "u4", "u5", "mean", "fit s (median)"]
    formats = ["text"] + ["metric"] * 6 + ["seconds"]
    if reference is not None:
        columns.append(f"fit / {reference}")
        formats.append("ratio")
    rows = []
    for label, (values, seconds) in results.items():
        row = [label, *values, np.mean(values), statistics.median(seconds)]
        if reference is not None:
            row.append(statistics.median(np.divide(seconds, results[reference][1])))
        rows.append(row)
    return table(id, title, columns, rows, formats=formats)


def ratings(data_home):
    """RMSE and fit time of I-AutoRec, U-AutoRec, ExplicitMF and surprise's SVD++ (defaults)
    on ML-100K u1..u5, and of the AutoRecs and ExplicitMF on latest-small."""
    from sklearn_recsys import AutoRec, ExplicitMF
    from sklearn_recsys.neural._tf import import_tensorflow

    import_tensorflow()  # not part of the first fold's fit time
    # the fit-time ratios are to ExplicitMF's penalised fit (solver="als", its default
    # until the sampler), which the engine issue's AutoRec target was set against
    models = [("I-AutoRec (defaults)", lambda: AutoRec(random_state=0)),
              ("U-AutoRec (kind='user')", lambda: AutoRec(kind="user", random_state=0)),
              ("ExplicitMF (defaults)", lambda: ExplicitMF(random_state=0)),
              ("ExplicitMF (solver='als')", lambda: ExplicitMF(solver="als", random_state=0))]
    if peers("surprise")["surprise"]:
        models.append(("surprise SVD++ (defaults)", lambda: SurpriseRatings("SVDpp")))
    tables = [show(_rmse_table(
        "ml100k_rmse", "RMSE on MovieLens 100K u1..u5 (base -> test)", models, data_home,
        reference="ExplicitMF (solver='als')"))]
    # a second rating scale (half stars) and shape (9,724 items, 610 users)
    from sklearn_recsys.metrics import make_rating_scorer

    X = fetch_movielens("latest-small", data_home=data_home, download_if_missing=False).X
    train, test = holdout_split(X, holdout=0.1, min_interactions=2, random_state=42)
    rmse = make_rating_scorer("rmse")
    rows = []
    for label, model in (("I-AutoRec (defaults)", AutoRec(random_state=0)),
                         ("U-AutoRec (kind='user')", AutoRec(kind="user", random_state=0)),
                         ("ExplicitMF (defaults)", ExplicitMF(random_state=0)),
                         ("ExplicitMF (solver='als')", ExplicitMF(solver="als", random_state=0))):
        start = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - start
        rows.append([label, -rmse(model, train, test), seconds])
    tables.append(show(table(
        "latest_small_rmse", "RMSE on MovieLens latest-small, 10% of each user's ratings "
        "held out (seed 42)", ["model", "RMSE", "fit s"], rows,
        formats=["text", "metric", "seconds"])))
    write_results("autoencoders_ratings", tables)


def ablation(data_home):
    """I-AutoRec without weight averaging and/or without the refit on all ratings."""
    from sklearn_recsys import AutoRec

    tab = show(_rmse_table("ml100k_rmse", "I-AutoRec ablation, RMSE on MovieLens 100K u1..u5", [
        ("I-AutoRec, ema_momentum=0", lambda: AutoRec(ema_momentum=0.0, random_state=0)),
        ("I-AutoRec, refit=False", lambda: AutoRec(refit=False, random_state=0)),
        ("I-AutoRec, both off", lambda: AutoRec(ema_momentum=0.0, refit=False,
                                                random_state=0)),
    ], data_home))
    write_results("autoencoders_ablation", [tab])


def new_users(data_home):
    """RMSE for users unseen in ``fit``, folded in from n of their ML-100K ratings."""
    from sklearn_recsys import AutoRec, ExplicitMF

    base, test = ml100k_fold(data_home, 1)
    X = (base + test).tocsr()
    rng = np.random.default_rng(0)
    perm = rng.permutation(X.shape[0])
    new, known = np.sort(perm[:150]), np.sort(perm[150:])
    X_fit = X[known]
    models = {"I-AutoRec": AutoRec(random_state=0).fit(X_fit),
              "ExplicitMF": ExplicitMF(random_state=0).fit(X_fit)}
    # an item nobody in fit rated gets the global mean (0 would count as a prediction)
    counts = X_fit.getnnz(axis=0)
    item_means = np.where(counts > 0, np.asarray(X_fit.sum(axis=0)).ravel()
                          / np.maximum(1, counts), X_fit.data.mean())
    rows = []
    for n in (5, 20, 50):
        given, held = sp.lil_matrix((len(new), X.shape[1])), sp.lil_matrix((len(new), X.shape[1]))
        for row, u in enumerate(new):
            cols, vals = X[u].indices, X[u].data
            if len(cols) <= n:
                continue
            pick = rng.permutation(len(cols))
            given[row, cols[pick[:n]]] = vals[pick[:n]]
            held[row, cols[pick[n:]]] = vals[pick[n:]]
        given, held = given.tocsr(), held.tocsr().tocoo()
        rmse = [np.sqrt(np.mean((item_means[held.col] - held.data) ** 2))]
        for model in models.values():
            pred = model.predict_ratings(given)[held.row, held.col]
            rmse.append(np.sqrt(np.mean((pred - held.data) ** 2)))
        rows.append([n, len(np.unique(held.row)), *rmse])
    tab = show(table("rmse", "New users (150 of ML-100K's, not in fit), RMSE on their other "
                     "ratings", ["ratings given", "users", "item means", *models], rows,
                     formats=["count", "count", "metric", "metric", "metric"]))
    write_results("autoencoders_newusers", [tab])


def fold_in(data_home, repeats):
    """Seconds to fold in u1.base's users on 500 random codes: primal, dual, grid of 8 penalties."""
    from sklearn_recsys.utils._solvers import (
        explicit_als_sweep, ridge_rows_path, ridge_rows_sweep)

    X, _ = ml100k_fold(data_home, 1)
    rng = np.random.default_rng(0)
    H, offsets = rng.random((X.shape[1], 500)), rng.normal(size=X.shape[1])
    grid = 0.3 * 2.0 ** np.arange(-4, 4)
    query = X  # predictions at every training entry, as many as a validation set has rows

    def primal(reg=0.3):
        U, b = np.zeros((X.shape[0], 500)), np.zeros(X.shape[0])
        explicit_als_sweep(X.indptr, X.indices, X.data, U, H, b, offsets, 0.0, reg, 1e-8, False,
                           False)
        return U

    def dual(reg=0.3):
        U, b = np.zeros((X.shape[0], 500)), np.zeros(X.shape[0])
        ridge_rows_sweep(X.indptr, X.indices, X.data, U, H, b, offsets, reg, True)
        return U

    def path():
        out = np.empty((len(grid), query.nnz))
        ridge_rows_path(X.indptr, X.indices, X.data, H, offsets, grid, True, query.indptr,
                        query.indices, out)

    runs = {"primal k x k rows (explicit_als_sweep)": primal,
            "dual n x n rows (ridge_rows_sweep)": dual,
            "8 penalties, one sweep each": lambda: [dual(g) for g in grid],
            "8 penalties, one Gram per user (ridge_rows_path)": path}
    for fn in runs.values():  # compile
        fn()
    times = {name: [] for name in runs}
    for _ in range(repeats):  # interleaved, so load changes hit every row alike
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    gap = np.abs(primal() - dual()).max()
    tab = show(table("solvers", f"Fold-in of {X.shape[0]} users on 500 codes (median of "
                     f"{repeats})", ["solver", "seconds"],
                     [[name, statistics.median(t)] for name, t in times.items()],
                     formats=["text", "seconds"],
                     notes=[f"Largest difference between primal and dual rows: {gap:.1e}."]))
    write_results("autoencoders_foldin", [tab])


def _defaults_datasets(data_home):
    """The three datasets of the defaults target: ML-100K and latest-small (ratings >= 4) and
    the full Last.fm 2K (every play, all 17,632 artists: no item filter)."""
    from sklearn_recsys.datasets import fetch_lastfm_2k

    def load(name):
        return fetch_movielens(name, data_home=data_home, download_if_missing=False).X

    return {"MovieLens 100K": positives(load("100k"), 4),
            "MovieLens latest-small": positives(load("latest-small"), 4),
            "Last.fm 2K (all artists)": positives(
                fetch_lastfm_2k(data_home=data_home, download_if_missing=False).X)}


def _defaults_split(X):
    """20% test users (80/20 fold-in), items unseen in training dropped from them; seed 0."""
    from sklearn_recsys.model_selection import strong_generalization_split

    train, X_in, X_out = strong_generalization_split(X, test_size=0.2, holdout=0.2,
                                                     random_state=0)
    seen = sp.diags((np.asarray(train.sum(axis=0)).ravel() > 0).astype(float))
    return train, sp.csr_matrix(X_in @ seen), sp.csr_matrix(X_out @ seen)


def _ours_defaults(data_home, name):
    """Rows of our MultVAE with its defaults and with the paper's batch and annealing."""
    from sklearn_recsys.metrics import make_ranking_scorer

    train, X_in, X_out = _defaults_split(_defaults_datasets(data_home)[name])
    ndcg = make_ranking_scorer("ndcg", k=100)
    rows = []
    for label, params in (("MultVAE (defaults)", {}),
                          ("MultVAE (paper: batch 500, 200,000 anneal steps)",
                           {"batch_size": 500, "total_anneal_steps": 200000})):
        start = time.perf_counter()
        model = MultVAE(random_state=0, **params).fit(train)
        rows.append([label, ndcg(model, X_in, X_out), time.perf_counter() - start,
                     {"epochs": model.n_iter_}])
    return rows


def _cornac_worker(data_home, name):
    """cornac's VAECF tuned over n_epochs {10, 25, 50, 100} on 10% validation users (80/20),
    refitted on all training users, folded in through its encoder (mean) and decoder. Runs in
    its own interpreter (PyTorch), prints its row as JSON."""
    import json

    import cornac
    import torch
    from cornac.data import Dataset

    from sklearn_recsys.metrics import ndcg_at_k
    from sklearn_recsys.utils import mask_seen

    train, X_in, X_out = _defaults_split(_defaults_datasets(data_home)[name])

    def fit(X, n_epochs):
        coo = X.tocoo()
        data = Dataset.from_uir(list(zip(coo.row.astype(str), coo.col.astype(str),
                                         np.ones(coo.nnz))), seed=0)
        model = cornac.models.VAECF(n_epochs=n_epochs, seed=0, verbose=False).fit(data)
        return model, np.array([int(i) for i in data.item_ids])

    def score(model, cols, X_in, X_out):
        x = torch.tensor((X_in > 0).astype(np.float32).toarray()[:, cols])
        with torch.no_grad():
            scores = np.full(X_in.shape, -np.inf)
            scores[:, cols] = model.vae.decode(model.vae.encode(x)[0]).numpy()
        mask_seen(scores, sp.csr_matrix(X_in))
        return ndcg_at_k(X_out, scores, k=100)

    perm = np.random.RandomState(0).permutation(train.shape[0])
    n_val = int(round(0.1 * train.shape[0]))
    val, rest = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    v_in, v_out = holdout_split(train[val], holdout=0.2, min_interactions=2, random_state=0)
    grid = {n: score(*fit(train[rest], n), v_in, v_out) for n in (10, 25, 50, 100)}
    best = max(grid, key=grid.get)
    start = time.perf_counter()
    model, cols = fit(train, best)
    seconds = time.perf_counter() - start
    print(json.dumps(["cornac VAECF (tuned)", score(model, cols, X_in, X_out), seconds,
                      {"n_epochs": best}]))


def defaults(data_home, torch_python):
    """Our MultVAE's defaults against cornac's tuned VAECF, on data nobody tuned them to."""
    import json
    import subprocess

    found = peers("cornac")
    tables = []
    for name in _defaults_datasets(data_home):
        rows = in_fresh_process(_ours_defaults, data_home, name)
        if found["cornac"]:
            out = subprocess.run(
                [torch_python, os.path.abspath(__file__), "--parts", "cornac-worker",
                 "--dataset", name, "--data-home", data_home],
                capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
        rows.sort(key=lambda r: -r[1])
        id = name.lower().replace(".", "").replace(" ", "_").replace("-", "_")
        id = "".join(c for c in id if c.isalnum() or c == "_")
        tables.append(show(table(
            f"defaults_{id}", f"{name}: NDCG@100 of the default settings", [
                "model", "ndcg@100", "fit seconds", "settings"], rows,
            formats=["text", "metric", "seconds", "params"])))
    write_results("autoencoders_defaults", tables, peers=found)


def main(argv=None):
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--parts", default="quality,speed")
    parser.add_argument("--torch-python", default=sys.executable,
                        help="interpreter with cornac and torch, for the 'defaults' part")
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "cornac-worker" in parts:
        return _cornac_worker(args.data_home, args.dataset)
    if "defaults" in parts:
        defaults(args.data_home, args.torch_python)
    if "speed" in parts:
        speed(args.repeats, args.epochs)
    if "ablation" in parts:
        ablation(args.data_home)
    if "foldin" in parts:
        fold_in(args.data_home, args.repeats)
    if "newusers" in parts:
        new_users(args.data_home)
    if "quality" in parts:
        quality(args.data_home)
    if "ratings" in parts:
        ratings(args.data_home)


if __name__ == "__main__":
    main()
