"""Matrix factorization beside the ``implicit`` package: speed, memory and ranking quality.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_mf.py --data-home ../shared/data [--repeats 3] [--threads 2]

Part 1 (speed and memory): ``ImplicitALS`` against implicit's CPU ALS (same factors,
penalty, sweeps, confidence ``1 + c * value``, conjugate gradient with 3 steps, same thread
count), and ``BPR`` against implicit's BPR (same factors, learning rate, penalty, epochs,
threads), on Last.fm 2K (play counts) and on a synthetic matrix the size of MovieLens 20M
(``make_interactions``). Each fit runs in a fresh process (so peak RSS is that fit's own),
interleaved ``--repeats`` times, BLAS limited to one thread for both (implicit's advice); the
table gives the median seconds per sweep/epoch (whole ``fit`` divided by its sweeps, setup
included), the ratio ours / implicit (<= 1 means ours is no slower) and the peak growth of
the resident memory during ``fit`` (sampled every 2 ms).

Part 2 (quality): MovieLens 100K (ratings >= 4) and Last.fm 2K (every play), strong
generalization, tuned on validation users over the same grid for both libraries with
``compare_recommenders`` (the demo's runner). implicit's ALS folds new users in with its own
``recalculate_user``; implicit's BPR cannot fold in, so it is retrained on the training users
plus the scored users' fold-in rows each time it scores (an advantage it gets, ours does not).
The chosen settings are then refitted with five seeds each, for both libraries: one seed's
initial factors move NDCG@100 by a few thousandths. ``NMF(feedback="implicit")`` runs beside
scikit-learn's ``NMF`` (coordinate descent on the same 0/1 matrix, new users through its
``transform``), each over its own penalty grid (scikit-learn scales ``alpha_W`` by the
matrix's shape), both grids with the chosen value inside, both from the NNDSVDa start and
with scikit-learn's budget of 300 sweeps.

Part 3 (ratings): ``ExplicitMF`` (and its bias-only model) and ``NMF`` with their defaults
beside surprise's ``SVD``, ``BaselineOnly`` and ``NMF`` with theirs (``pip install
scikit-surprise``; skipped without it): RMSE on MovieLens 100K's u1..u5 base/test splits,
latest-small (10% of each user's ratings held out, seed 42), and both thinned to 20% of
their training ratings (small, sparse data the defaults were not chosen on).

Results: ``benchmarks/results/mf_<part>.json`` (``mf_speed``, ``mf_quality``, ``mf_ratings``;
``common.write_results``); ``python benchmarks/make_tables.py`` turns them into the docs'
tables. Without ``implicit`` its rows are skipped and the JSON says so.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import ConvergenceWarning

from sklearn_recsys import BPR, EASE, ExplicitMF, ImplicitALS, MostPopular, NMF
from sklearn_recsys import make_interactions
from sklearn_recsys.base import RecommenderMixin
from sklearn_recsys.datasets import fetch_lastfm_2k
from sklearn_recsys.metrics import make_rating_scorer
from sklearn_recsys.model_selection import compare_recommenders

from common import (PeakRSS, benchmark_datasets, in_fresh_process, leaderboard_table,
                    SurpriseRatings, ml100k_fold, peers, show, table,
                    write_results)

METRICS = ("ndcg@100", "recall@20", "recall@50")


# -- implicit behind this package's contract ----------------------------------------------


class ImplicitPkgALS(RecommenderMixin, BaseEstimator):
    """implicit's ``AlternatingLeastSquares``; new users through its ``recalculate_user``."""

    _parameter_constraints = {p: "no_validation" for p in
                              ("n_components", "alpha", "confidence_scale", "max_iter",
                               "n_jobs", "random_state")}

    def __init__(self, n_components=64, alpha=1.0, confidence_scale=10.0, max_iter=15,
                 n_jobs=2, random_state=0):
        self.n_components = n_components
        self.alpha = alpha
        self.confidence_scale = confidence_scale
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _confidence(self, X):
        C = X.astype(np.float32, copy=True)
        C.data = 1.0 + self.confidence_scale * C.data  # implicit's C is the data itself
        return C

    def _fit(self, X):
        from implicit.cpu.als import AlternatingLeastSquares

        self.model_ = AlternatingLeastSquares(
            factors=self.n_components, regularization=self.alpha, alpha=1.0,
            iterations=self.max_iter, num_threads=self.n_jobs, random_state=self.random_state)
        self.model_.fit(self._confidence(X), show_progress=False)

    def _score_batch(self, X):
        U = self.model_.recalculate_user(np.arange(X.shape[0]), self._confidence(X))
        return U @ self.model_.item_factors.T


class ImplicitPkgBPR(RecommenderMixin, BaseEstimator):
    """implicit's ``BayesianPersonalizedRanking``, retrained with the scored rows (no fold-in)."""

    _parameter_constraints = {p: "no_validation" for p in
                              ("n_components", "alpha", "learning_rate_init", "max_iter", "n_jobs",
                               "random_state")}

    def __init__(self, n_components=64, alpha=0.01, learning_rate_init=0.05, max_iter=100,
                 n_jobs=2, random_state=0):
        self.n_components = n_components
        self.alpha = alpha
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _train(self, X):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(
            factors=self.n_components, learning_rate=self.learning_rate_init,
            regularization=self.alpha, iterations=self.max_iter, num_threads=self.n_jobs,
            random_state=self.random_state)
        model.fit(X.astype(np.float32), show_progress=False)
        return model

    def _fit(self, X):
        self.X_train_ = X
        self._train(X)  # the fit itself is timed like the others

    def _score_batch(self, X):
        model = self._train(sp.vstack([self.X_train_, X]).tocsr())
        U = model.user_factors[self.X_train_.shape[0]:]
        return U @ model.item_factors.T


class SklearnNMF(RecommenderMixin, BaseEstimator):
    """scikit-learn's ``NMF`` (coordinate descent, Frobenius loss) on the 0/1 matrix, the
    reference for ``NMF(feedback="implicit")``; new users through its ``transform`` (their
    factors solved with the item factors fixed, as our fold-in does)."""

    _parameter_constraints = {p: "no_validation" for p in
                              ("n_components", "alpha", "max_iter", "random_state")}

    def __init__(self, n_components=64, alpha=0.0, max_iter=300, random_state=0):
        self.n_components = n_components
        self.alpha = alpha
        self.max_iter = max_iter
        self.random_state = random_state

    def _fit(self, X):
        from sklearn.decomposition import NMF as _NMF

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model_ = _NMF(self.n_components, init="nndsvda", solver="cd",
                               alpha_W=self.alpha, alpha_H="same", max_iter=self.max_iter,
                               random_state=self.random_state).fit(X.astype(np.float64))

    def _score_batch(self, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.model_.transform(X.astype(np.float64)) @ self.model_.components_


# -- part 1: speed and memory --------------------------------------------------------------


def _fit_in_child(kind, path, params):
    from threadpoolctl import threadpool_limits

    X = sp.load_npz(path).tocsr()
    if kind == "ours ALS":
        model = ImplicitALS(**params)
    elif kind == "ours BPR":
        model = BPR(**params)
    elif kind == "implicit ALS":
        model = ImplicitPkgALS(**params)
    else:
        model = ImplicitPkgBPR(**params)
    # implicit asks for single-threaded BLAS (its threads are its own); same for both
    with threadpool_limits(1, "blas"):
        # one short fit outside the timing, for every side: ours compiles its kernels
        # (cached after the first run), implicit imports its modules (a first import
        # inside the timed fit added about 7% to its BPR's Last.fm fit)
        type(model)(**{**params, "max_iter": 1}).fit(X[:200])
        with PeakRSS() as mem:
            start = time.perf_counter()
            model.fit(X)
            seconds = time.perf_counter() - start
    return seconds, mem.growth_mb


def speed(data_home, repeats, threads, sweeps, epochs, k):
    lastfm = fetch_lastfm_2k(data_home=data_home, download_if_missing=False).X.tocsr()
    n_u, n_i = 136_000, 20_000
    # every user's items are distinct: 10M draws are 10M non-zeros, as in earlier runs
    synth = make_interactions(n_u, n_i, density=1e7 / (n_u * n_i), random_state=0)
    datasets = {"Last.fm 2K (play counts)": lastfm, "synthetic ML-20M size": synth}
    als = dict(n_components=k, alpha=1.0, confidence_scale=1.0, max_iter=sweeps, n_jobs=threads)
    bpr = dict(n_components=k, alpha=0.01, learning_rate_init=0.05, max_iter=epochs, n_jobs=threads)
    found = peers("implicit")
    sides = ("ours", "implicit") if found["implicit"] else ("ours",)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, X in datasets.items():
            X = X.astype(np.float32)
            if name.startswith("Last.fm"):
                X.data = np.log1p(X.data)  # raw play counts span 1..350k
            path = os.path.join(tmp, "X.npz")
            sp.save_npz(path, X)
            print(f"\n{name}: {X.shape[0]} x {X.shape[1]}, {X.nnz} non-zeros", file=sys.stderr)
            for label, params, n in (("ALS", als, sweeps), ("BPR", bpr, epochs)):
                res = {who: [] for who in sides}
                for _ in range(repeats):
                    for who in sides:
                        res[who].append(in_fresh_process(_fit_in_child, f"{who} {label}", path,
                                                         params))
                t = {who: statistics.median(r[0] for r in res[who]) / n for who in sides}
                m = {who: statistics.median(r[1] for r in res[who]) for who in sides}
                t_i, m_i = t.get("implicit"), m.get("implicit")
                rows.append([name, label, t["ours"], t_i, t["ours"] / t_i if t_i else None,
                             m["ours"], m_i])
                print(rows[-1], file=sys.stderr)
    title = (f"Seconds per ALS sweep / BPR epoch, {threads} threads, {k} factors, "
             f"median of {repeats}; synthetic: {n_u:,} x {n_i:,}, {synth.nnz:,} non-zeros")
    tab = show(table("speed", title, ["data", "model", "ours s/iter", "implicit s/iter",
                                      "ratio ours/implicit", "ours peak MB", "implicit peak MB"],
                     rows, formats=["text", "text", "seconds", "seconds", "ratio", "mb", "mb"]))
    write_results("mf_speed", [tab], peers=found)
    return tab


# -- part 2: ranking quality ----------------------------------------------------------------


def quality(data_home, threads):
    datasets = benchmark_datasets(data_home)
    als_grid = {"alpha": [0.1, 1.0, 10.0], "confidence_scale": [1.0, 5.0, 20.0]}
    bpr_grid = {"learning_rate_init": [0.01, 0.05], "alpha": [0.001, 0.01]}
    found = peers("implicit")
    models = {
        "MostPopular": (MostPopular(), {}),
        "EASE": (EASE(), {"alpha": [50.0, 200.0, 500.0, 1000.0]}),
        "ImplicitALS": (ImplicitALS(n_components=64, n_jobs=threads, random_state=0), als_grid),
        "implicit ALS": (ImplicitPkgALS(n_components=64, n_jobs=threads), als_grid),
        "BPR": (BPR(n_components=64, n_jobs=threads, random_state=0), bpr_grid),
        "implicit BPR": (ImplicitPkgBPR(n_components=64, n_jobs=threads), bpr_grid),
        "NMF (zeros as data)": (NMF(feedback="implicit", n_components=64, max_iter=300,
                                    n_jobs=threads, random_state=0),
                                {"alpha": [2.0, 4.0, 8.0, 16.0, 32.0]}),
        # alpha_W is scaled by the matrix's shape in scikit-learn (>= 1.2), hence the range
        "scikit-learn NMF": (SklearnNMF(), {"alpha": [1e-3, 3e-3, 1e-2, 3e-2]}),
    }
    if not found["implicit"]:
        del models["implicit ALS"], models["implicit BPR"]
    tables, seed_rows = [], []
    for (name, X), id in zip(datasets.items(), ("movielens_100k", "lastfm_2k")):
        title = f"{name}: {X.shape[0]} users x {X.shape[1]} items, {X.nnz} positives"
        print(f"\n{title}", file=sys.stderr)
        rows = compare_recommenders(models, X, metrics=METRICS, tune_metric="ndcg@100",
                                    n_jobs=1, random_state=0)
        tables.append(show(leaderboard_table(id, title, rows, METRICS)))
        seed_rows += [[name, *row] for row in _seeds(models, rows, X)]
    n_seeds = len(seed_rows[0]) - 5
    tables.append(show(table(
        "seeds", f"Test NDCG@100 of the chosen settings, seeds 0..{n_seeds - 1} of the "
        "initial factors (and sampling)",
        ["data", "model", "chosen parameters", *(f"seed {s}" for s in range(n_seeds)),
         "mean", "std"], seed_rows,
        formats=["text", "text", "params", *["metric"] * (n_seeds + 2)])))
    write_results("mf_quality", tables, peers=found)
    return tables


def _seeds(models, rows, X, n_seeds=5):
    """Test NDCG@100 of the chosen settings over several initial seeds, both libraries.

    One seed's draw of the initial factors moves NDCG@100 by a few thousandths, as
    much as the gaps between the libraries; the mean over seeds is the fairer figure.
    Returns one row per model: name, chosen parameters, one value per seed, mean, std.
    """
    from sklearn_recsys.metrics import get_ranking_scorer
    from sklearn_recsys.model_selection import strong_generalization_split

    X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    scorer = get_ranking_scorer("ndcg@100")
    chosen = {r["model"]: r["params"] for r in rows}
    out = []
    for name in ("ImplicitALS", "implicit ALS", "BPR", "implicit BPR"):
        if name not in models:
            continue
        vals = [scorer(clone(models[name][0]).set_params(**chosen[name], random_state=s)
                       .fit(X_train), X_in, X_out) for s in range(n_seeds)]
        out.append([name, chosen[name], *vals, np.mean(vals), np.std(vals)])
    return out


# -- part 3: rating prediction ------------------------------------------------------------


def _rating_splits(data_home):
    """Name -> (train, test): ML-100K u1..u5, latest-small (10% of each user's ratings
    held out, seed 42), and both thinned to 20% of their training ratings (seed 0): small,
    sparse rating data that nobody tuned the defaults on."""
    from sklearn_recsys.datasets import fetch_movielens
    from sklearn_recsys.model_selection import holdout_split

    splits = {f"u{fold}": ml100k_fold(data_home, fold) for fold in range(1, 6)}
    latest = fetch_movielens("latest-small", data_home=data_home, download_if_missing=False).X
    splits["latest-small"] = holdout_split(latest, holdout=0.1, min_interactions=2,
                                           random_state=42)
    for name in ("u1", "latest-small"):
        train, test = splits[name]
        keep = np.random.RandomState(0).random_sample(train.nnz) < 0.2
        coo = train.tocoo()
        thin = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=train.shape)
        splits[f"{name} 20%"] = (thin, test)
    return splits


def _timed_surprise(name, train, test):
    start = time.perf_counter()
    model = SurpriseRatings(name).fit(train)
    fitted = time.perf_counter()
    score = model.rmse(test)
    return score, None, fitted - start, time.perf_counter() - fitted


def ratings(data_home):
    found = peers("surprise")
    rmse = make_rating_scorer("rmse")
    splits = _rating_splits(data_home)

    def ours(make):
        def run(tr, te):
            start = time.perf_counter()
            model = make().fit(tr)
            fitted = time.perf_counter()
            score = -rmse(model, tr, te)
            return score, model, fitted - start, time.perf_counter() - fitted

        return run

    models = [("ExplicitMF (defaults)", ours(lambda: ExplicitMF(random_state=0))),
              ("ExplicitMF (solver='gibbs', no check)",
               ours(lambda: ExplicitMF(solver="gibbs", random_state=0))),
              ("ExplicitMF (solver='als')",
               ours(lambda: ExplicitMF(solver="als", random_state=0))),
              ("ExplicitMF biases only", ours(lambda: ExplicitMF(alpha=np.inf, random_state=0))),
              ("NMF (defaults)", ours(lambda: NMF(random_state=0)))]
    if found["surprise"]:
        models += [(f"surprise {name} (defaults)",
                    lambda tr, te, name=name: _timed_surprise(name, tr, te))
                   for name in ("SVD", "BaselineOnly", "NMF")]
    rows = []
    for label, run in models:
        values, fit_s, score_s, notes = {}, [], [], []
        for name, (train, test) in splits.items():
            values[name], model, fit, score = run(train, test)
            fit_s.append(fit)
            score_s.append(score)
            if "defaults" in label and getattr(model, "solver_", "") == "als":
                notes.append(name)  # the default fell back to the biases
        folds = [values[f"u{f}"] for f in range(1, 6)]
        rows.append([label, *folds, float(np.mean(folds)), values["latest-small"],
                     values["u1 20%"], values["latest-small 20%"], float(np.median(fit_s[:5])),
                     float(np.median(score_s[:5])), ", ".join(notes) or "-"])
        print(rows[-1], file=sys.stderr, flush=True)
    columns = ["model", "u1", "u2", "u3", "u4", "u5", "mean", "latest-small", "u1 20%",
               "latest-small 20%", "fit s (median u1..u5)", "score s (median u1..u5)",
               "biases chosen on"]
    tab = show(table("rating_defaults", "RMSE of default settings on rating data", columns,
                     rows, formats=["text"] + ["metric"] * 9 + ["seconds"] * 2 + ["text"],
                     notes=[
                         "ML-100K: u*.base -> u*.test; latest-small: 10% of each user's "
                         "ratings held out (seed 42); '20%': the u1 / latest-small training "
                         "ratings thinned to 20% (seed 0), same test ratings. Score s: "
                         "predicting the test ratings (folding their users in). 'biases chosen "
                         "on': splits where ExplicitMF's default checked the sampler against "
                         "its bias-only model and kept the biases."]))
    write_results("mf_ratings", [tab], peers=found)
    return tab


def main(argv=None):
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sweeps", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--parts", default="speed,quality,ratings")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "ratings" in parts:
        ratings(args.data_home)
    if "speed" in parts:
        speed(args.data_home, args.repeats, args.threads, args.sweeps, args.epochs, args.factors)
    if "quality" in parts:
        quality(args.data_home, args.threads)


if __name__ == "__main__":
    main()
