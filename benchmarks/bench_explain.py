"""Explanation fidelity: the deletion test, every model's ``explain`` against two baselines.

Usage::

    pip install -e ".[benchmark,tensorflow]"
    python benchmarks/bench_explain.py --data-home ../shared/data [--users 100]

The counterfactual test of the explanation literature (LXR, Gurevitch et al., ACM TORS 2025;
Barkan et al., WWW 2024): an explanation ranks the user's own items by how much each one
brought about a recommendation, so removing the items it ranks first should make that
recommendation fall furthest. On MovieLens latest-small, 20% of the users (seed 0) are left
out of ``fit``; each model recommends to each of ``--users`` of them from their whole row,
and its top-1 item is explained by these methods:

* ``explain``: the model's own ``explain(x_row, item)`` (exact decomposition, integrated
  gradients, the stack's Shapley values over its ranker passed through its bases' exact
  terms, or leave-one-out, as ``docs/contract.rst`` says for each model);
* ``explain_contrast``: the model's ``explain_contrast(x_row, item, against=runners_up)``,
  each item's ``explain`` contribution to the item's score minus the mean of its
  contributions to the scores of the 10 items ranked right after it (among the same
  candidates): why this item rather than its runners-up;
* leave-one-out: the drop of the item's score when one of the user's items is removed and the
  user is scored again (refolded);
* cosine: the cosine between the item's column and each user item's column of the training
  matrix (which items co-occur with it; model-agnostic, the usual baseline);
* random: a random order (seed 0 for each model, whatever ran before it), the floor.

For shares of 5%, 10%, 20%, 30% and 50% of the user's items (rounded up), the items a method
ranks first are removed from the row, the user is scored again, and POS@10 is the share of
users whose explained item is still in their top 10 among the items outside their original
row; lower is better. (The removed items are not candidates: a method that removes the items
most like the recommended one would otherwise push it down by putting them back in
competition with it, not by lowering its score.) The table gives POS@10 for each share,
its mean over the shares (the area under the deletion curve), and the mean reciprocal rank
of the explained item after the deletions (how far it fell, also where it stays in the top
10). A handful of items rarely moves a recommendation that rests on a long history, hence
shares rather than counts. The ranking models see the ratings >= 4 as interactions (users
with >= 5 of them), the rating models (``ExplicitMF``, ``AutoRec``, ``ConvMF``) the raw
ratings of the same users, and recommend the unrated item with the highest predicted rating;
``ConvMF``'s item documents are each movie's title, genres and users' tags, ``HybridMF``'s
item features each movie's genres (one-hot). The sequential models (``SASRec``,
``GRU4Rec``, with its default loss and with BPR-max) read the ratings >= 4 valued by their
times (their order), and a deletion removes items from that sequence; they have no
``explain`` of their own, so their ``explain`` rows are leave-one-out's. ``MultiTaskMF``
(ranking and rating learned together) reads the raw ratings, as the rating models, and
recommends by its ranking head. The multi-behaviour models (``MultiBehaviorEASE``,
``MultiTaskDAE``, ``StackingRecommender`` over two ``MultiBehaviorEASE`` settings) read the
same users' ratings as two behaviours stacked, ``"rated"`` (the ratings below 4) and
``"liked"`` (the ratings >= 4, the target): they recommend a liked item outside both blocks
of the user's row (no method may put back an item the user rated), an explanation ranks the
entries of the stacked row (a rated or a liked item), a deletion removes entries, and the
cosine baseline compares the explained item's column of the liked block with each entry's
column. ``MostPopular`` is left out: its scores do not depend on the user's items, so
nothing explains them.

Results: ``benchmarks/results/explain_fidelity.json``; ``python benchmarks/make_tables.py``
turns it into the docs' table.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import show, table, write_results  # noqa: E402

SHARES = (0.05, 0.1, 0.2, 0.3, 0.5)
K = 10
METHODS = ("explain", "explain_contrast", "leave-one-out", "cosine", "random")
CONTRAST = 10  # explain_contrast compares the item with the ones ranked right after it
# the multi-behaviour models' two blocks: ratings below 4, then ratings >= 4 (the target)
BEHAVIORS = ("rated", "liked")


def _models(documents, genres):
    """name -> (make, input): ``"ranking"`` (ratings >= 4 as 0/1), ``"rating"`` (the raw
    ratings), ``"sequence"`` (the times of the ratings >= 4) or ``"behaviors"`` (the
    ratings below 4 and the ratings >= 4 as two behaviours, stacked); ``documents`` are
    ConvMF's item texts, ``genres`` HybridMF's item features."""
    from sklearn_recsys import (BPR, CDAE, EASE, NMF, AutoRec, ConvMF, ExplicitMF, GRU4Rec,
                                HybridMF, ImplicitALS, ItemKNN, MultiBehaviorEASE,
                                MultiTaskDAE, MultiTaskMF, MultDAE, MultVAE, SASRec,
                                SparseEASE, StackingRecommender)

    two = {"behaviors": BEHAVIORS, "target": "liked"}

    return {
        "EASE": (lambda: EASE(alpha=300.0), "ranking"),
        "SparseEASE": (lambda: SparseEASE(alpha=300.0), "ranking"),
        "ItemKNN": (lambda: ItemKNN(), "ranking"),
        "ImplicitALS": (lambda: ImplicitALS(64, alpha=10.0, confidence_scale=5.0,
                                            random_state=0), "ranking"),
        "HybridMF": (lambda: HybridMF(64, item_features=genres, alpha=10.0,
                                      confidence_scale=5.0, random_state=0), "ranking"),
        "BPR": (lambda: BPR(random_state=0), "ranking"),
        # the settings the committed table ran with, before these models' defaults changed
        # (NMF's start to NNDSVDa, ConvMF's penalties, dropout and item weights)
        "NMF": (lambda: NMF(feedback="implicit", init="random", random_state=0), "ranking"),
        "MultDAE": (lambda: MultDAE(random_state=0), "ranking"),
        "MultVAE": (lambda: MultVAE(random_state=0), "ranking"),
        "CDAE": (lambda: CDAE(random_state=0), "ranking"),
        "ExplicitMF": (lambda: ExplicitMF(random_state=0), "rating"),
        "I-AutoRec": (lambda: AutoRec(random_state=0), "rating"),
        "ConvMF": (lambda: ConvMF(documents=documents, alpha_item=1000.0, dropout=0.2,
                                  item_weighting=None, random_state=0), "rating"),
        "SASRec": (lambda: SASRec(random_state=0), "sequence"),
        "GRU4Rec": (lambda: GRU4Rec(random_state=0), "sequence"),
        # the loss that is ahead on latest-small (docs/benchmarks.rst, sequential table)
        "GRU4Rec, BPR-max": (lambda: GRU4Rec(loss="bpr-max", random_state=0), "sequence"),
        "MultiTaskMF": (lambda: MultiTaskMF(random_state=0), "rating"),
        "MultiBehaviorEASE": (lambda: MultiBehaviorEASE(**two), "behaviors"),
        # MultDAE's batch and weight decay: with the defaults (the paper's batch 500 and
        # weight decay 0.01, one step per epoch on 488 users) it stays at most-popular's
        # accuracy here and its recommendations do not move
        "MultiTaskDAE": (lambda: MultiTaskDAE(**two, batch_size=100, alpha=0.001,
                                              random_state=0), "behaviors"),
        "StackingRecommender": (lambda: StackingRecommender(
            [("mb", MultiBehaviorEASE(**two)),
             ("liked", MultiBehaviorEASE(**two, behavior_weights=(0.0, 1.0)))], **two,
            random_state=0), "behaviors"),
    }


def _data(data_home):
    from sklearn_recsys.datasets import fetch_movielens

    movies = fetch_movielens("latest-small", data_home=data_home, download_if_missing=False)
    # ConvMF's item documents: the title, the genres and the users' tags of each movie
    documents = [" ".join([title, *genres, *tags]) for title, genres, tags in zip(
        movies.item_titles, movies.item_genres, movies.item_tags)]
    # HybridMF's item features: each movie's genres, one-hot
    names = sorted({g for genres in movies.item_genres for g in genres})
    genres = np.array([[g in item for g in names] for item in movies.item_genres],
                      dtype=np.float64)
    R = movies.X.tocsr().astype(np.float64)
    kept = np.asarray((R >= 4).sum(axis=1)).ravel() >= 5
    R = R[kept]
    P = (R >= 4).astype(np.float64)
    P.eliminate_zeros()
    # the sequential models' input: the same interactions, valued by their times
    T = movies.timestamps.tocsr()[kept].multiply(P).tocsr().astype(np.float64)
    # the multi-behaviour models' input: each rating is one event of one behaviour
    low = ((R > 0) - (R >= 4)).astype(np.float64)
    low.eliminate_zeros()
    S = sp.hstack([low, P]).tocsr()
    users = np.random.RandomState(0).permutation(R.shape[0])
    n_test = R.shape[0] // 5
    inputs = {"ranking": P, "rating": R, "sequence": T, "behaviors": S}
    return inputs, np.sort(users[n_test:]), np.sort(users[:n_test]), documents, genres


def _cosine(B, x, column):
    """Cosine between ``column`` and each of the row's columns of CSC ``B`` (the explained
    item's column: of the target block for the multi-behaviour models)."""
    cols = B[:, x.indices]
    dots = np.asarray(cols.T @ B[:, [column]].toarray()).ravel()
    norms = np.sqrt(np.asarray(cols.power(2).sum(axis=0)).ravel() * B[:, [column]].nnz)
    return dots / np.maximum(norms, 1e-12)


def _leave_one_out(model, x, item):
    """Score drop of ``item`` when each of the row's items is removed."""
    n = x.nnz
    rows = sp.vstack([x] * n).tolil()
    for j, col in enumerate(x.indices):
        rows[j, col] = 0
    rows = rows.tocsr()
    rows.eliminate_zeros()
    full = model.decision_function(x)[0, item]
    return full - model.decision_function(rows)[:, item]


def _orders(model, B, x, item, runners_up, offset, rng):
    """The row's positions (into ``x.indices``) from most to least important, per method.

    ``B`` is the training matrix's 0/1 pattern as CSC (the cosine baseline's columns), in
    which the explained item's column is ``offset + item``; ``runners_up`` are the items
    ranked right after ``item`` (``explain_contrast``'s ``against``).
    """
    position = {col: p for p, col in enumerate(x.indices)}
    items, _ = model.explain(x, item)
    by_explain = np.array([position[i] for i in items])
    items, _ = model.explain_contrast(x, item, against=runners_up)
    by_contrast = np.array([position[i] for i in items])
    by_loo = np.argsort(-_leave_one_out(model, x, item), kind="stable")
    by_cosine = np.argsort(-_cosine(B, x, offset + item), kind="stable")
    return {"explain": by_explain, "explain_contrast": by_contrast, "leave-one-out": by_loo,
            "cosine": by_cosine, "random": rng.permutation(x.nnz)}


def _ranks(model, rows, items, history):
    """0-based rank of each row's item among the items not in ``history`` (its full row,
    every behaviour's items for the multi-behaviour models)."""
    scores = np.asarray(model.decision_function(rows), dtype=np.float64)
    scores[history.nonzero()] = -np.inf
    target = scores[np.arange(len(items)), items]
    return (scores > target[:, None]).sum(axis=1)


def run(data_home, n_users, models=None):
    inputs, train_users, test_users, documents, genres = _data(data_home)
    rows_out = []
    for name, (make, kind) in _models(documents, genres).items():
        if models and name not in models:
            continue
        # one seed per model: its random rows do not depend on which models ran before it
        rng = np.random.RandomState(0)
        X = inputs[kind]
        X_train, X_test = X[train_users], X[test_users]
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make().fit(X_train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        chosen = np.arange(min(n_users, X_test.shape[0]))
        # the items of the user's whole row, whatever the behaviour: no candidates
        n_items = inputs["ranking"].shape[1]
        offset = X.shape[1] - n_items  # the target block's first column
        history = sum(X_test[chosen][:, b:b + n_items] for b in range(0, X.shape[1], n_items))
        history = (history != 0).astype(np.float64).tocsr()
        tops = model.recommend(X_test[chosen], k=1 + CONTRAST, exclude=history)
        tops = tops[0] if isinstance(tops, tuple) else tops
        tops, runners_up = tops[:, 0], tops[:, 1:]
        removed = {(method, share): [] for method in METHODS for share in SHARES}
        B = (X_train != 0).astype(np.float64).tocsc()  # once per model, not per user
        for u, item, others in zip(chosen, tops, runners_up):
            x = X_test[u]
            others = others[others >= 0]
            for method, order in _orders(model, B, x, item, others, offset, rng).items():
                for share in SHARES:
                    keep = np.ones(x.nnz, dtype=bool)
                    keep[order[:int(np.ceil(share * x.nnz))]] = False
                    removed[method, share].append(sp.csr_matrix(
                        (x.data[keep], (np.zeros(keep.sum(), dtype=int), x.indices[keep])),
                        shape=x.shape))
        for method in METHODS:
            ranks = [_ranks(model, sp.vstack(removed[method, share]).tocsr(), tops,
                            history) for share in SHARES]
            pos = [float(np.mean(r < K)) for r in ranks]
            rr = float(np.mean([np.mean(1.0 / (1.0 + r)) for r in ranks]))
            rows_out.append([name, method, *pos, float(np.mean(pos)), rr, len(chosen)])
        explain_s = time.perf_counter() - start
        print(f"{name}: fit {fit_s:.1f} s, test {explain_s:.1f} s", file=sys.stderr, flush=True)
        for row in rows_out[-len(METHODS):]:
            print(row, file=sys.stderr, flush=True)
    columns = ["model", "method", *[f"{share:.0%} removed" for share in SHARES], "mean",
               "mean RR", "users"]
    return table(
        "fidelity", f"Deletion test on MovieLens latest-small: POS@{K} after removing the "
        "share of the user's items each method ranks first (lower is better)", columns,
        rows_out, formats=["text", "text"] + ["metric"] * (len(SHARES) + 2) + ["count"], notes=[
            "explain_contrast: each user item's explain contribution to the item's score "
            f"minus the mean of its contributions to the scores of the {CONTRAST} items "
            "ranked right after it (against=those items).",
            "Users left out of fit (20%, seed 0), each explained on their top-1 "
            "recommendation from their whole row; ranking models on ratings >= 4, rating "
            "models (and MultiTaskMF) on the raw ratings, sequential models on the ratings "
            ">= 4 with their times, multi-behaviour models on the ratings below 4 ('rated') "
            "and >= 4 ('liked', the target) as two behaviours. Mean RR: the explained "
            "item's reciprocal rank after "
            "the deletion (1 = still first), averaged over users and shares: how far it "
            "fell, lower is better."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--models", help="semicolon-separated subset (model names hold commas; "
                        "trial runs; writes nothing)")
    args = parser.parse_args(argv)
    if args.models:
        show(run(args.data_home, args.users, args.models.split(";")))
        return
    write_results("explain_fidelity", [show(run(args.data_home, args.users))])


if __name__ == "__main__":
    main()
