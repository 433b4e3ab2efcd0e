"""ConvMF with and without item text: CiteULike-a (warm, rare and cold items), MovieLens 100K RMSE.

Usage::

    pip install -e ".[benchmark]"
    pip install --no-binary=cornac cornac==3.0.1  # optional peer of part ratings
    python benchmarks/bench_convmf.py --data-home ../shared/data [--parts citeulike,cold,ratings]

cornac is built from source (``--no-binary``) into the Python that has TensorFlow and this
package (its wheels need a newer libstdc++ than ours); without cornac its rows are skipped and
the JSON says so.

Part ``citeulike`` (strong generalization): CiteULike-a libraries as implicit feedback,
article titles as documents; 20% of users held out, 80/20 fold-in split of each (seed 0).
Hyper-parameters (factor count included) are chosen on validation users carved out of the
training users (one split, NDCG@100), then the model is refitted on all training users. The
same MF without text is ``ConvMF(documents=None)``; HybridMF with the titles' TF-IDF as item
features (``HYBRID_GRID``), ImplicitALS and a TF-IDF content model
(each user's profile is the sum of the TF-IDF vectors of their titles; an item's score is
linear in its TF-IDF vector) are references. Besides Recall@20/50 and NDCG@100 over all held-out
items, Recall@50 is reported on the held-out items with at most 5 training interactions
("rare").

Part ``cold``: 20% of the articles are hidden from training entirely (every user's interactions
with them removed). Each user with a hidden article ranks only the hidden articles, from their
training library; the hidden ones they saved are the targets. MF without text scores every cold
item 0 (its prior mean), so its ranking is the ties' order (item index), not chance: a random
ranking is printed beside it as chance.
ConvMF and MF use the setting chosen in part ``citeulike``'s validation (rerun there if needed).

Part ``ratings``: MovieLens 100K u1..u5 (base -> test) RMSE of ConvMF with "title + genres" as
documents against PMF (ConvMF without documents); (alpha_user, alpha_item) of each, and ConvMF's
dropout (0.2, the former default, or 0.8, the rate cornac's code applies: see below) and item
weighting (none, the former default, or the square root of the rating count, cornac's; the two
are our defaults since the grid chose them), are chosen, for
each fold, on 10% of that fold's u{f}.base over the same grid (a choice on u1.base alone would have
seen the test ratings of u2..u5, which u1.base holds), then refitted on the whole u{f}.base.
cornac's ConvMF (``cornac.models.ConvMF``, a TensorFlow 1 graph) is the reference implementation
(``CornacConvMF``), on the same folds and documents, scored by the same RMSE code, at its
defaults, which are the paper's: k=50, ``lambda_u=1``, ``lambda_v=100`` (the same penalties of
the same objective as our ``alpha_user``, ``alpha_item``, and a point of the grid), up to 50
epochs with its own stop on the loss, 5 CNN epochs per epoch (RMSprop), embeddings 200, windows
3/4/5 x 100 filters, dense 200. It is not tuned over the grid: one fit took 48 to 146 s here on
one thread (its stop on the loss ended it after about 10 to 30 epochs of 5 s), so the penalty
grid's 30 fits would add about 40 minutes; our ConvMF at the same penalties is shown beside it,
at the former defaults' dropout and item weighting and at cornac's, so the rows compare the
implementations at one setting as well as cornac's defaults against our tuned model. Three
settings are not cornac's own: ``max_len`` is the longest document (17 words) instead of 300 (cornac
pads every document to ``max_len`` with a learned padding word and pools over it; 300 would cost 18
times as much for documents of 5 words on median), the documents are given as the words our
``TextSequencer`` reads (cornac's default tokenizer would drop the years of the titles), and its CNN
runs in a fresh process with ``TF_ENABLE_ONEDNN_OPTS=0`` (see ``_cornac_rmse``: the same function,
13 times faster here).
Differences that are cornac's: ratings are not centred (its factors carry the mean), an item's
prior and its term of the CNN's loss are weighted by the square root of its rating count (scaled
to a mean of 1; the paper's item weights; ours with ``item_weighting="sqrt_count"``, in the grid),
and an item without training ratings (22 to 34 per
fold, 27 to 36 of each fold's 20,000 test ratings) gets the global mean, where ours predicts it
from its document. Its dropout passes ``dropout_rate=0.2`` to TensorFlow 1's ``nn.dropout``,
whose second argument is ``keep_prob``: 80% of the dense layer is dropped (Kim et al.'s Keras
code passes the same 0.2 to ``Dropout``, whose argument is the rate: 20% dropped), and the
dropout stays on when the CNN gives the items' prior means (each epoch's are a random draw).

Seeds are fixed; timings are wall seconds of one fit (measured on a 2-core machine).

Results: ``benchmarks/results/convmf_<part>.json`` (``convmf_ratings``, ``convmf_citeulike``,
``convmf_cold``; ``common.write_results``); ``python benchmarks/make_tables.py`` turns them into
the docs' tables.
"""

import argparse
import os
import re
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from sklearn_recsys import ConvMF, HybridMF, ImplicitALS
from sklearn_recsys.base import ItemScoresTransformMixin, RecommenderMixin
from sklearn_recsys.datasets import fetch_citeulike_a, fetch_movielens
from sklearn_recsys.metrics import make_rating_scorer, ndcg_at_k, recall_at_k
from sklearn_recsys.model_selection import holdout_split, strong_generalization_split
from sklearn_recsys.utils._topk import mask_seen

from common import in_fresh_process, ml100k_fold, peers, show, table, write_results

# CiteULike-a needs many factors (NDCG@100 of MF rises from 0.22 at 50 to 0.31 at 200),
# so the factor count is part of every factorization's grid; with that many factors the
# least-squares steps use conjugate gradient (solver="cg"), as ImplicitALS does
MF_GRID = [{"n_components": k, "alpha_user": lu, "alpha_item": lv, "confidence_scale": 40.0,
            "solver": "cg"}
           for k in (50, 200, 400) for lu in (0.1, 10.0) for lv in (10.0, 1000.0)]
CONVMF_LAMBDA_V = (10.0, 100.0, 1000.0)
ALS_GRID = [{"n_components": k, "alpha": a, "confidence_scale": 40.0}
            for k in (64, 200, 400) for a in (1.0, 10.0, 100.0)]
# HybridMF with the titles' TF-IDF as item features: the factor count and confidence of the
# other factorizations' choice (400, 40), its own penalties chosen on validation users
HYBRID_GRID = [{"n_components": 400, "confidence_scale": 40.0, "alpha": a, "alpha_features": f}
               for a in (1.0, 10.0) for f in (0.3, 1.0, 3.0)]
# cornac's ConvMF's defaults for lambda_u and lambda_v (also a point of RATING_GRID)
CORNAC_PENALTIES = (1.0, 100.0)
RATING_GRID = [(10.0, 10.0), (1.0, 100.0), (10.0, 100.0), (1.0, 1000.0), (3.0, 300.0)]
# ConvMF's dropout on the dense layer and item weighting: our defaults before 2026-12-07
# (0.2, None) and what cornac's code applies, our defaults since (its dropout_rate=0.2 is
# TensorFlow 1's keep probability: 0.8 dropped, where Kim et al.'s Keras code drops 0.2; its
# item weights, Kim et al.'s, are the square roots of the rating counts)
RATING_DROPOUTS = (0.2, 0.8)
RATING_WEIGHTINGS = (None, "sqrt_count")
CONVMF_ITER = 10


def _weighting(weighting):
    """Short name of an ``item_weighting`` for the table."""
    return {None: "none", "sqrt_count": "sqrt"}[weighting]


def _words(doc):
    """The words our ``TextSequencer`` reads in ``doc`` (its lowercasing and token pattern)."""
    return re.findall(r"(?u)\b\w\w+\b", doc.lower())


class CornacConvMF(BaseEstimator):
    """cornac's ConvMF behind ``fit(X)`` and ``predict_ratings`` (what our RMSE scorer calls).

    ``alpha_user`` and ``alpha_item`` are cornac's ``lambda_u`` and ``lambda_v`` (the same
    penalties of the same objective); every other setting is cornac's default (k=50, 50
    epochs with its own stop on the loss, 5 CNN epochs each, RMSprop, embeddings 200, windows
    3/4/5 x 100, dense 200, item weights) except ``max_len``. ``fit`` builds a cornac
    ``Dataset`` from ``X`` and the item text as cornac's ``BaseMethod`` does (on the ids of all
    items, training items first), from the word sequences our ``TextSequencer`` reads (its
    lowercasing and token pattern, so that both models see the same words). cornac's
    fitted ``U`` and ``V`` then predict the fit's own users (the rows of ``X``: cornac has no
    fold-in), as cornac's ``rate`` does: items or users without training ratings get the
    global mean, and every prediction is clipped to the training rating range.
    """

    def __init__(self, documents=None, alpha_user=1.0, alpha_item=100.0, max_len=300,
                 seed=0):
        self.documents = documents
        self.alpha_user = alpha_user
        self.alpha_item = alpha_item
        self.max_len = max_len
        self.seed = seed

    def fit(self, X):
        from cornac.data import Dataset, TextModality
        from cornac.data.text import BaseTokenizer
        from cornac.models import ConvMF as _ConvMF

        X = sp.csr_matrix(X)
        coo = X.tocoo()
        data = Dataset.from_uir(list(zip(coo.row.tolist(), coo.col.tolist(),
                                         coo.data.tolist())), seed=0)
        n_users, n_items = X.shape
        id_map = dict(data.iid_map)
        for j in range(n_items):
            id_map.setdefault(j, len(id_map))
        words = [" ".join(_words(doc)) for doc in self.documents]
        text = TextModality(corpus=words, ids=list(range(n_items)),
                            tokenizer=BaseTokenizer(sep=" ", pre_rules=[]), max_vocab=8000,
                            max_doc_freq=1.0).build(id_map=id_map)
        data.add_modalities(item_text=text)
        model = _ConvMF(lambda_u=self.alpha_user, lambda_v=self.alpha_item,
                        max_len=self.max_len, seed=self.seed).fit(data)
        self.user_index_ = np.array([data.uid_map.get(u, -1) for u in range(n_users)])
        self.item_index_ = np.array([data.iid_map.get(j, -1) for j in range(n_items)])
        self.U_, self.V_ = np.asarray(model.U), np.asarray(model.V)
        self.global_mean_ = float(data.global_mean)
        self.rating_range_ = (float(data.min_rating), float(data.max_rating))
        self.X_fit_ = X
        self.n_features_in_ = n_items
        return self

    def predict_ratings(self, X, items=None):
        X = sp.csr_matrix(X)
        if X.shape != self.X_fit_.shape or (X != self.X_fit_).nnz:
            raise ValueError("cornac's ConvMF predicts the users it was fitted on: pass the "
                             "fit's own X.")
        items = np.arange(X.shape[1]) if items is None else np.asarray(items)
        users, cols = self.user_index_, self.item_index_[items]
        pred = self.U_[np.maximum(users, 0)] @ self.V_[np.maximum(cols, 0)].T
        pred[users < 0] = self.global_mean_
        pred[:, cols < 0] = self.global_mean_
        return np.clip(pred, *self.rating_range_)


class TfidfProfile(ItemScoresTransformMixin, RecommenderMixin, BaseEstimator):
    """Linear content model: score of item j for user u is ``(sum_{i in u} t_i) . t_j``.

    ``t_i`` are the l2-normalized TF-IDF vectors of the item documents.
    """

    _parameter_constraints = {"documents": "no_validation"}

    def __init__(self, documents=None):
        self.documents = documents

    def _fit(self, X):
        self.item_vectors_ = normalize(
            TfidfVectorizer(max_df=0.5, sublinear_tf=True).fit_transform(self.documents))

    def _score_batch(self, X):
        T = self.item_vectors_
        return np.asarray(((normalize(X) @ T) @ T.T).todense())


def _evaluate(model, X_in, X_out, rare=None, candidates=None):
    scores = model.decision_function(X_in)
    mask_seen(scores, X_in)
    if candidates is not None:
        keep = np.zeros(scores.shape[1], dtype=bool)
        keep[candidates] = True
        scores[:, ~keep] = -np.inf
    row = {"recall@20": recall_at_k(X_out, scores, k=20),
           "recall@50": recall_at_k(X_out, scores, k=50),
           "ndcg@100": ndcg_at_k(X_out, scores, k=100)}
    if rare is not None:
        rare_out = X_out @ sp.diags(rare.astype(float))
        rare_out.eliminate_zeros()
        row["rare recall@50"] = recall_at_k(rare_out, scores, k=50)
    return row


def _choose(make, grid, X, seed=0):
    """The grid point with the best NDCG@100 on validation users of ``X``."""
    X_fit, X_in, X_out = strong_generalization_split(X, test_size=0.2, holdout=0.2,
                                                     min_interactions=5, random_state=seed)
    best, best_params = -np.inf, None
    for params in grid:
        score = _evaluate(make(**params).fit(X_fit), X_in, X_out)["ndcg@100"]
        print(f"  validation {params}: ndcg@100 {score:.4f}", file=sys.stderr, flush=True)
        if score > best:
            best, best_params = score, params
    return best_params


def _citeulike(data_home):
    data = fetch_citeulike_a(data_home=data_home, download_if_missing=False)
    X = data.X.tocsr().astype(np.float64)
    X.data[:] = 1.0
    return X, list(data.item_titles)


def _table(id, title, rows, columns):
    """Print the rows of ``_evaluate`` (with params and seconds) and return them as a table."""
    return show(table(id, title, ["model", *columns, "chosen", "fit s"],
                      [[name, *(row[c] for c in columns), row.get("params", {}),
                        row.get("seconds", 0.0)] for name, row in rows],
                      formats=["text", *["metric"] * len(columns), "params", "seconds"]))


def title_features(docs):
    """HybridMF's item features: TF-IDF of the titles (words in at least 2 titles)."""
    return TfidfVectorizer(sublinear_tf=True, min_df=2).fit_transform(docs)


def _models(docs, X_train):
    """(name, factory, grid) of part citeulike; ConvMF's grid builds on MF's choice."""
    mf_params = _choose(lambda **p: ConvMF(feedback="implicit", random_state=0, **p),
                        MF_GRID, X_train)
    conv_grid = [{**mf_params, "alpha_item": lv} for lv in CONVMF_LAMBDA_V]
    conv_params = _choose(lambda **p: ConvMF(documents=docs, feedback="implicit",
                                             max_iter=CONVMF_ITER, random_state=0, **p),
                          conv_grid, X_train)
    als_params = _choose(lambda **p: ImplicitALS(random_state=0, **p), ALS_GRID, X_train)
    features = title_features(docs)
    hybrid_params = _choose(lambda **p: HybridMF(item_features=features, random_state=0, **p),
                            HYBRID_GRID, X_train)
    return [
        ("ConvMF (titles)", lambda: ConvMF(documents=docs, feedback="implicit",
                                           max_iter=CONVMF_ITER, random_state=0,
                                           **conv_params), conv_params),
        ("MF without text (ConvMF, documents=None)",
         lambda: ConvMF(feedback="implicit", random_state=0, **mf_params), mf_params),
        ("ImplicitALS", lambda: ImplicitALS(random_state=0, **als_params), als_params),
        ("HybridMF (title TF-IDF features)",
         lambda: HybridMF(item_features=features, random_state=0, **hybrid_params),
         hybrid_params),
        ("TF-IDF profile (linear content)", lambda: TfidfProfile(docs), {}),
    ]


def citeulike(data_home, models):
    X, docs = _citeulike(data_home)
    X_train, X_in, X_out = strong_generalization_split(X, test_size=0.2, holdout=0.2,
                                                       min_interactions=5, random_state=0)
    rare = X_train.getnnz(axis=0) <= 5
    print(f"\nCiteULike-a: {X.shape[0]} users x {X.shape[1]} articles, {X.nnz} saves; "
          f"{rare.sum()} articles with <= 5 training saves", flush=True)
    rows = []
    for name, make, params in models:
        start = time.perf_counter()
        model = make().fit(X_train)
        row = _evaluate(model, X_in, X_out, rare=rare)
        row.update(params=params, seconds=time.perf_counter() - start)
        rows.append((name, row))
    tab = _table("strong_generalization", "CiteULike-a, strong generalization (test users)",
                 rows, ["recall@20", "recall@50", "ndcg@100", "rare recall@50"])
    write_results("convmf_citeulike", [tab])


def cold(data_home, conv_params, mf_params, hybrid_params):
    X, docs = _citeulike(data_home)
    rng = np.random.default_rng(0)
    cold_items = np.sort(rng.choice(X.shape[1], size=X.shape[1] // 5, replace=False))
    is_cold = np.zeros(X.shape[1], dtype=bool)
    is_cold[cold_items] = True
    X_train = (X @ sp.diags((~is_cold).astype(float))).tocsr()
    X_train.eliminate_zeros()
    X_cold = (X @ sp.diags(is_cold.astype(float))).tocsr()
    X_cold.eliminate_zeros()
    users = np.flatnonzero((X_cold.getnnz(axis=1) > 0) & (X_train.getnnz(axis=1) > 0))
    print(f"\nCold start: {len(cold_items)} hidden articles, {len(users)} users with a hidden "
          f"save, {X_cold.nnz} hidden saves", flush=True)

    class Random(ItemScoresTransformMixin, RecommenderMixin, BaseEstimator):
        _parameter_constraints = {}

        def _fit(self, X):
            pass

        def _score_batch(self, X):
            return np.random.default_rng(0).random(X.shape)

    makers = [
        ("ConvMF (titles)", lambda: ConvMF(documents=docs, feedback="implicit",
                                           max_iter=CONVMF_ITER, random_state=0,
                                           **conv_params), conv_params),
        ("MF without text", lambda: ConvMF(feedback="implicit", random_state=0, **mf_params),
         mf_params),
        ("HybridMF (title TF-IDF features)",
         lambda: HybridMF(item_features=title_features(docs), random_state=0,
                          **hybrid_params), hybrid_params),
        ("TF-IDF profile (linear content)", lambda: TfidfProfile(docs), {}),
        ("Random ranking (chance)", Random, {}),
    ]
    rows = []
    for name, make, params in makers:
        start = time.perf_counter()
        model = make().fit(X_train)
        row = _evaluate(model, X_train[users], X_cold[users], candidates=cold_items)
        row.update(params=params, seconds=time.perf_counter() - start)
        rows.append((name, row))
    tab = _table("cold_items", "CiteULike-a, cold items (ranked among the hidden 20%)", rows,
                 ["recall@20", "recall@50", "ndcg@100"])
    write_results("convmf_cold", [tab])


def ratings(data_home):
    movies = fetch_movielens("100k", data_home=data_home, download_if_missing=False)
    docs = [f"{t} {' '.join(g)}" for t, g in zip(movies.item_titles, movies.item_genres)]
    rmse = make_rating_scorer("rmse")
    rows = []
    # PMF has no CNN (no dropout) and its prior mean is 0 (no document to weigh)
    convmf_grid = [(lu, lv, d, w) for w in RATING_WEIGHTINGS for d in RATING_DROPOUTS
                   for lu, lv in RATING_GRID]
    pmf_grid = [(lu, lv, 0.2, None) for lu, lv in RATING_GRID]
    for label, documents, grid in (("ConvMF (title + genres)", docs, convmf_grid),
                                   ("PMF (no documents)", None, pmf_grid)):
        def make(lu, lv, dropout, weighting, documents=documents):
            return ConvMF(documents=documents, alpha_user=lu, alpha_item=lv, dropout=dropout,
                          item_weighting=weighting, max_df=1.0, random_state=0)
        chosen, values, seconds = [], [], []
        for fold in range(1, 6):
            base, test = ml100k_fold(data_home, fold)
            fit_part, val_part = holdout_split(base, holdout=0.1, random_state=0)
            val = {p: -rmse(make(*p).fit(fit_part), fit_part, val_part) for p in grid}
            print(f"  {label} u{fold} validation RMSE: {val}", file=sys.stderr, flush=True)
            chosen.append(min(val, key=val.get))
            start = time.perf_counter()
            model = make(*chosen[-1]).fit(base)
            seconds.append(time.perf_counter() - start)
            values.append(-rmse(model, base, test))
        show_setting = (lambda c: f"{c[0]:g}, {c[1]:g}, {c[2]:g}, {_weighting(c[3])}") \
            if documents is not None else (lambda c: f"{c[0]:g}, {c[1]:g}")
        settings = ("; ".join(f"u{f} {show_setting(c)}" for f, c in enumerate(chosen, 1))
                    if len(set(chosen)) > 1 else f"{show_setting(chosen[0])} (all)")
        rows.append([label, settings, *values, np.mean(values), np.mean(seconds)])
    notes = ["Each fold's setting chosen on 10% of its own u{f}.base's ratings over the same "
             "grid, then refitted on the whole u{f}.base: (alpha_user, alpha_item, dropout, "
             "item weighting) for ConvMF, dropout in "
             f"{{{', '.join(f'{d:g}' for d in RATING_DROPOUTS)}}}, item weighting none or "
             "sqrt (the square root of the item's rating count); (alpha_user, alpha_item) for "
             "PMF."]
    found = peers("cornac")
    if found["cornac"]:
        max_len = max(max(len(_words(doc)) for doc in docs), 5)  # 5: the widest window
        values, seconds = in_fresh_process(_cornac_rmse, data_home, docs, max_len)
        rows.append(["cornac ConvMF (title + genres), its defaults",
                     f"{CORNAC_PENALTIES[0]:g}, {CORNAC_PENALTIES[1]:g} (cornac's lambda_u, "
                     "lambda_v; not tuned)", *values, np.mean(values), np.mean(seconds)])
        # ours at the former defaults' dropout and weighting, at the dropout cornac applies,
        # and at cornac's whole setting (its dropout and item weights: our defaults)
        for dropout, weighting in ((0.2, None), (0.8, None), (0.8, "sqrt_count")):
            values, seconds = [], []
            for fold in range(1, 6):
                base, test = ml100k_fold(data_home, fold)
                start = time.perf_counter()
                model = ConvMF(documents=docs, alpha_user=CORNAC_PENALTIES[0],
                               alpha_item=CORNAC_PENALTIES[1], dropout=dropout,
                               item_weighting=weighting, max_df=1.0, random_state=0).fit(base)
                seconds.append(time.perf_counter() - start)
                values.append(-rmse(model, base, test))
            rows.append([f"ConvMF (title + genres) at cornac's penalties, dropout {dropout:g}, "
                         f"item weighting {_weighting(weighting)}",
                         f"{CORNAC_PENALTIES[0]:g}, {CORNAC_PENALTIES[1]:g}, {dropout:g}, "
                         f"{_weighting(weighting)} (set)",
                         *values, np.mean(values), np.mean(seconds)])
        notes.append(f"cornac {found['cornac']}'s ConvMF: its defaults (k=50, up to 50 epochs "
                     "with its own stop, 5 CNN epochs each), max_len "
                     f"{max_len} (the longest document; its default 300 pads every document "
                     "to 300 words), the same words; its predictions as its rate() makes them. "
                     "Ours at the same penalties beside it: at the former default dropout (0.2) "
                     "and item weighting (none), at the dropout cornac's code applies (0.8), "
                     "and at its dropout and item weights (sqrt; our defaults).")
    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                                          "NUMBA_NUM_THREADS") if k in os.environ}
    if threads:
        notes.append("Thread settings of the run: "
                     + ", ".join(f"{k}={v}" for k, v in threads.items()) + ".")
    tab = show(table("ml100k_rmse", "RMSE on MovieLens 100K u1..u5 (base -> test)",
                     ["model", "chosen setting per fold", "u1", "u2", "u3",
                      "u4", "u5", "mean", "fit s"], rows,
                     formats=["text", "text"] + ["metric"] * 6 + ["seconds"], notes=notes))
    write_results("convmf_ratings", [tab], peers=found)


def _cornac_rmse(data_home, docs, max_len):
    """RMSE and fit seconds of :class:`CornacConvMF` on u1..u5, at cornac's penalties.

    Run in a fresh process (``in_fresh_process``): cornac's fit switches TensorFlow's eager
    execution off for the whole process, and its CNN needs TensorFlow without oneDNN
    (``TF_ENABLE_ONEDNN_OPTS=0``, read when TensorFlow is imported): with oneDNN, the
    gradient of its convolution over the word embeddings takes 13 times as long here (0.89 s
    against 0.07 s a batch of 128 documents). Both compute the same function.
    """
    warnings.filterwarnings("ignore")
    if "tensorflow" in sys.modules:
        print("warning: TensorFlow was imported before TF_ENABLE_ONEDNN_OPTS=0 could be set; "
              "cornac's ConvMF runs with oneDNN, much slower", file=sys.stderr, flush=True)
    os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import cornac.models  # noqa: F401  (imported here, not inside the first timed fit)
    import tensorflow  # noqa: F401

    rmse = make_rating_scorer("rmse")
    values, seconds = [], []
    for fold in range(1, 6):
        base, test = ml100k_fold(data_home, fold)
        start = time.perf_counter()
        model = CornacConvMF(documents=docs, alpha_user=CORNAC_PENALTIES[0],
                             alpha_item=CORNAC_PENALTIES[1], max_len=max_len).fit(base)
        seconds.append(time.perf_counter() - start)
        values.append(-rmse(model, base, test))
        print(f"  cornac ConvMF u{fold}: RMSE {values[-1]:.4f}, {seconds[-1]:.0f} s",
              file=sys.stderr, flush=True)
    return values, seconds


def main(argv=None):
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--parts", default="citeulike,cold,ratings")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "ratings" in parts:
        ratings(args.data_home)
    if "citeulike" in parts or "cold" in parts:
        X, docs = _citeulike(args.data_home)
        X_train = strong_generalization_split(X, test_size=0.2, holdout=0.2,
                                              min_interactions=5, random_state=0)[0]
        models = _models(docs, X_train)
        chosen = {name: params for name, _, params in models}
        if "citeulike" in parts:
            citeulike(args.data_home, models)
        if "cold" in parts:
            cold(args.data_home, chosen["ConvMF (titles)"],
                 chosen["MF without text (ConvMF, documents=None)"],
                 chosen["HybridMF (title TF-IDF features)"])


if __name__ == "__main__":
    main()
