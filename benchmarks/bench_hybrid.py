"""HybridMF beside LightFM (WARP) with the same side features: warm users and cold items.

Usage::

    pip install -e ".[benchmark]"
    pip install setuptools wheel cython && pip install --no-build-isolation lightfm
    python benchmarks/bench_hybrid.py --data-home ../shared/data

(LightFM 1.17's ``setup.py`` fails with recent setuptools on
``__builtins__.__LIGHTFM_SETUP__``; replacing that line of the sdist's ``setup.py`` with
``import builtins; builtins.__LIGHTFM_SETUP__ = True`` and installing the folder with
``--no-build-isolation`` builds it.)

Data: MovieLens 100K (ratings >= 4; item features: the 19 genres; user features: age in 7
bins, gender, occupation) and Last.fm 2K (every play; artists with >= 5 listeners; item
features: the tags users gave the artist, tags on >= 2 of these artists, binary, from the
tag assignments of every user but the validation and test users of the protocol, whose own
tags on the artists held out from them would say they listened to them; no user
features). Users with >= 5 positives.

Warm protocol (strong generalization, as the other benchmarks): 20% of the users are test
users, 10% of the rest validation users; their interactions are split 80/20 into fold-in
and held-out parts (seed 0); the models train on the remaining users and rank every item
not in a user's fold-in part; NDCG@100 on the held-out part. Settings are chosen on the
validation users, then the test users are scored. ``HybridMF`` and ``ImplicitALS`` fold the
users in from their fold-in rows (and, for HybridMF, their user features). LightFM cannot
fold a user in, so it trains on the training users plus the scored users' fold-in rows (an
advantage), with identity features plus the side features for users and items, as its
documentation recommends.

Cold items: 20% of the items (seed 0) are removed from training; the test users' fold-in
part is their interactions with the other items, their held-out part those with the cold
items, and only cold items are ranked (NDCG@100). Cold items have no identity feature in
LightFM (only their side features), and factors ``W^T f`` in HybridMF.

Results: ``benchmarks/results/hybrid.json`` (``common.write_results``);
``python benchmarks/make_tables.py`` turns it into the docs' tables.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import peers, show, table, write_results  # noqa: E402

K = 100
N_COMPONENTS = 64


# -- data ------------------------------------------------------------------------------


def _one_hot(values):
    values = np.asarray(values)
    cats, codes = np.unique(values, return_inverse=True)
    return sp.csr_matrix((np.ones(len(values)), (np.arange(len(values)), codes)),
                         shape=(len(values), len(cats)))


def _multi_hot(lists, min_count=1):
    vocab = {}
    for tags in lists:
        for t in set(tags):
            vocab[t] = vocab.get(t, 0) + 1
    keep = sorted(t for t, c in vocab.items() if c >= min_count)
    col = {t: j for j, t in enumerate(keep)}
    rows, cols = [], []
    for i, tags in enumerate(lists):
        for t in set(tags):
            if t in col:
                rows.append(i)
                cols.append(col[t])
    return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lists), len(keep)))


def _filtered_positives(X, threshold, min_users_per_item):
    """``common.positives`` with the kept row and column indices (to align the features)."""
    X = X.tocsr().astype(np.float64)
    rows, cols = np.arange(X.shape[0]), np.arange(X.shape[1])
    X.data = (X.data >= threshold if threshold is not None else X.data > 0).astype(np.float64)
    X.eliminate_zeros()
    while True:
        keep_items = np.flatnonzero(X.getnnz(axis=0) >= min_users_per_item)
        X, cols = X[:, keep_items], cols[keep_items]
        keep_users = np.flatnonzero(X.getnnz(axis=1) >= 5)
        X, rows = X[keep_users], rows[keep_users]
        if (X.getnnz(axis=0) >= min_users_per_item).all():
            return X, rows, cols


def datasets(data_home):
    from sklearn_recsys.datasets import fetch_lastfm_2k, fetch_movielens

    ml = fetch_movielens("100k", data_home=data_home, download_if_missing=False)
    X, rows, cols = _filtered_positives(ml.X, 4, 1)
    ages = np.digitize(ml.user_ages, [18, 25, 35, 45, 50, 56])
    users = sp.hstack([_one_hot(ages), _one_hot(ml.user_genders),
                       _one_hot(ml.user_occupations)], format="csr")
    genres = _multi_hot(ml.item_genres)
    out = {"MovieLens 100K": (X, genres[cols], users[rows])}
    fm = fetch_lastfm_2k(data_home=data_home, download_if_missing=False)
    X, rows, cols = _filtered_positives(fm.X, None, 5)
    out["Last.fm 2K"] = (X, _TagFeatures(data_home, np.asarray(fm.user_ids)[rows],
                                         np.asarray(fm.item_ids)[cols]), None)
    return out


class _TagFeatures:
    """Last.fm's artist tags as item features, from the tag assignments of some users only.

    A user who tagged an artist has listened to it: the validation and test users' own
    tags on the artists held out from them would leak into the features (23% of the
    held-out pairs were tagged by their user). ``features(excluded_rows)`` builds the
    multi-hot tags (tags on >= 2 artists) from every other user's assignments, the users
    left out of ``X`` by the filters included (they are never scored).
    """

    def __init__(self, data_home, user_ids, item_ids):
        path = os.path.join(data_home, "hetrec2011-lastfm-2k", "user_taggedartists.dat")
        assigned = np.loadtxt(path, skiprows=1, dtype=np.int64, ndmin=2)
        self.users, self.artists, self.tags = assigned[:, 0], assigned[:, 1], assigned[:, 2]
        self.user_ids, self.item_ids = np.asarray(user_ids), np.asarray(item_ids)

    def features(self, excluded_rows):
        excluded = np.isin(self.users, self.user_ids[excluded_rows])
        column = {int(a): j for j, a in enumerate(self.item_ids)}
        lists = [[] for _ in self.item_ids]
        for artist, tag in zip(self.artists[~excluded], self.tags[~excluded]):
            j = column.get(int(artist))
            if j is not None:
                lists[j].append(int(tag))
        return _multi_hot(lists, min_count=2)


# -- splits ----------------------------------------------------------------------------


def _split_rows(X, rows, rng):
    """Fold-in / held-out 80/20 of the given users' interactions."""
    from sklearn_recsys.model_selection import holdout_split

    X_in, X_out = holdout_split(X[rows], holdout=0.2, min_interactions=5, random_state=rng)
    return X_in, X_out


def warm_split(X, seed=0):
    rng = np.random.RandomState(seed)
    perm = rng.permutation(X.shape[0])
    n_test = int(round(0.2 * len(perm)))
    test, rest = np.sort(perm[:n_test]), perm[n_test:]
    n_val = int(round(0.1 * len(rest)))
    val, train = np.sort(rest[:n_val]), np.sort(rest[n_val:])
    return train, (val, *_split_rows(X, val, 1)), (test, *_split_rows(X, test, 2))


def cold_split(X, seed=0):
    rng = np.random.RandomState(seed)
    cold = np.sort(rng.permutation(X.shape[1])[: int(round(0.2 * X.shape[1]))])
    is_cold = np.zeros(X.shape[1], bool)
    is_cold[cold] = True
    train, (val, _, _), (test, _, _) = warm_split(X, seed)
    warm_part = X @ sp.diags((~is_cold).astype(float))
    cold_part = X @ sp.diags(is_cold.astype(float))
    warm_part, cold_part = sp.csr_matrix(warm_part), sp.csr_matrix(cold_part)
    warm_part.eliminate_zeros()
    cold_part.eliminate_zeros()

    def users(rows):
        return rows, warm_part[rows], cold_part[rows]

    return cold, train, warm_part[train], users(val), users(test)


# -- models ----------------------------------------------------------------------------


def _ndcg(scores, X_in, X_out, candidates=None):
    from sklearn_recsys.metrics import ndcg_at_k

    scores = np.array(scores, dtype=np.float64)
    scores[X_in.nonzero()] = -np.inf
    if candidates is not None:
        mask = np.ones(scores.shape[1], bool)
        mask[candidates] = False
        scores[:, mask] = -np.inf
    keep = np.diff(X_out.indptr) > 0
    return float(ndcg_at_k(X_out[keep], scores[keep], k=K))


class Ours:
    """HybridMF / ImplicitALS: fit on training users, fold the scored users in."""

    def __init__(self, name, item_features, user_features):
        self.name, self.F, self.G = name, item_features, user_features

    def validation(self, X_train, train_rows, val, candidates):
        """{setting: validation NDCG@100} over the grid."""
        base = [{"alpha": a, "confidence_scale": c} for a in (1.0, 10.0, 30.0)
                for c in (1.0, 5.0)]
        grid = base if self.name == "ImplicitALS" else [
            dict(p, alpha_features=f) for p in base for f in (1.0, 10.0, 100.0)]
        return {tuple(sorted(p.items())): _ndcg(self.scores(p, X_train, train_rows, *val[:2]),
                                                val[1], val[2], candidates) for p in grid}

    def scores(self, params, X_train, train_rows, rows, X_in):
        from sklearn_recsys import HybridMF, ImplicitALS

        if self.name == "ImplicitALS":
            model = ImplicitALS(N_COMPONENTS, max_iter=15, random_state=0, **params)
            return model.fit(X_train).decision_function(X_in)
        G = self.G
        model = HybridMF(N_COMPONENTS, item_features=self.F, max_iter=15, random_state=0,
                         **params)
        model.fit(X_train, user_features=None if G is None else G[train_rows])
        return model.decision_function(X_in, user_features=None if G is None else G[rows])


class LightFMWarp:
    """LightFM (WARP), trained on the training users plus the scored users' fold-in rows."""

    name = "LightFM (WARP)"
    learning_rates = (0.01, 0.05)
    epochs = (5, 10, 20, 30, 60, 100)

    def __init__(self, item_features, user_features, cold_items=None):
        self.F, self.G, self.cold = item_features, user_features, cold_items

    def _features(self, F, n, without_identity=None):
        identity = sp.identity(n, format="csr")
        if without_identity is not None:
            keep = np.ones(n)
            keep[without_identity] = 0
            identity = sp.csr_matrix(sp.diags(keep) @ identity)
        return identity if F is None else sp.hstack([identity, F], format="csr")

    def _train(self, learning_rate, X_train, train_rows, rows, X_in, checkpoints):
        """Scores of the scored rows after each number of epochs in ``checkpoints``."""
        from lightfm import LightFM

        data = sp.vstack([X_train, X_in], format="coo")
        G = None if self.G is None else sp.vstack([self.G[train_rows], self.G[rows]])
        users = self._features(G, data.shape[0])
        items = self._features(self.F, data.shape[1], self.cold)
        model = LightFM(no_components=N_COMPONENTS, loss="warp", learning_rate=learning_rate,
                        random_state=0)
        scored = np.arange(X_train.shape[0], data.shape[0])
        done = 0
        for epochs in checkpoints:
            model.fit_partial(data, user_features=users, item_features=items,
                              epochs=epochs - done, num_threads=2)
            done = epochs
            bu, U = model.get_user_representations(users)
            bi, V = model.get_item_representations(items)
            yield epochs, U[scored] @ V.T + bi[None, :] + bu[scored, None]

    def validation(self, X_train, train_rows, val, candidates):
        # one run per learning rate, scored after each number of epochs
        out = {}
        for lr in self.learning_rates:
            for epochs, s in self._train(lr, X_train, train_rows, *val[:2], self.epochs):
                key = (("epochs", epochs), ("learning_rate", lr))
                out[key] = _ndcg(s, val[1], val[2], candidates)
        return out

    def scores(self, params, X_train, train_rows, rows, X_in):
        return next(iter(self._train(params["learning_rate"], X_train, train_rows, rows, X_in,
                                     [params["epochs"]])))[1]


def run(model, X_train, train_rows, val, test, candidates=None):
    """Choose the setting on the validation users, then score the test users."""
    val_scores = model.validation(X_train, train_rows, val, candidates)
    best = max(val_scores, key=val_scores.get)
    start = time.perf_counter()
    s = model.scores(dict(best), X_train, train_rows, test[0], test[1])
    seconds = time.perf_counter() - start
    return dict(best), val_scores[best], _ndcg(s, test[1], test[2], candidates), seconds


def main(argv=None):
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    args = parser.parse_args(argv)
    found = peers("lightfm")
    tables = []
    for protocol in ("warm", "cold"):
        rows = []
        for name, (X, F, G) in datasets(args.data_home).items():
            if protocol == "warm":
                train, val, test = warm_split(X)
                X_train, cold = X[train], None
            else:
                cold, train, X_train, val, test = cold_split(X)
            if isinstance(F, _TagFeatures):  # from the training users' tags only
                F = F.features(np.concatenate([val[0], test[0]]))
            models = [Ours("HybridMF", F, G)]
            if protocol == "warm":
                models.append(Ours("ImplicitALS", None, None))
            if found["lightfm"]:
                models.append(LightFMWarp(F, G, cold))
            for model in models:
                best, val_ndcg, test_ndcg, seconds = run(model, X_train, train, val, test, cold)
                rows.append([name, model.name, best, val_ndcg, test_ndcg, seconds])
                print(rows[-1], file=sys.stderr, flush=True)
        title = ("Warm users: NDCG@100 of the test users' held-out items" if protocol == "warm"
                 else "Cold items: NDCG@100 among the items left out of training")
        tables.append(show(table(
            protocol, title,
            ["data", "model", "chosen", "validation NDCG@100", "test NDCG@100", "fit+score s"],
            rows, formats=["text", "text", "params", "metric", "metric", "seconds"])))
    write_results("hybrid", tables, peers=found)


if __name__ == "__main__":
    main()
