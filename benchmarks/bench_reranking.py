"""Re-ranking for exposure and calibration: the accuracy trade-off on MovieLens 100K.

Usage::

    python benchmarks/bench_reranking.py --data-home ../shared/data

MovieLens 100K, every rating an interaction, strong generalization
(``strong_generalization_split(X, random_state=0)``: 754 training users; lists for the 189
test users' fold-in parts, judged on their held-out parts), EASE(alpha=300) inside, the 100
best unseen candidates re-ranked. NDCG@10, APLT@10 and long-tail coverage@10 (training
popularity of the 754 users), miscalibration@10 with the MovieLens genres against each
user's fold-in history. ``XQuADReranker`` (smooth and binary) and ``CalibratedReranker`` at
several ``tradeoff`` values; ``tradeoff=0`` is EASE itself.

Results: ``benchmarks/results/reranking.json`` (``common.write_results``);
``python benchmarks/make_tables.py`` turns it into the docs' table. The slow test
``tests/reranking/test_movielens.py`` checks the claims made from it.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import show, table, write_results  # noqa: E402

K = 10
SETTINGS = [("EASE", None, None)] + [
    ("XQuADReranker", "smooth", t) for t in (0.25, 0.5, 0.75, 0.9)] + [
    ("XQuADReranker", "binary", t) for t in (0.5, 0.9)] + [
    ("CalibratedReranker", None, t) for t in (0.1, 0.25, 0.5, 0.9)]


def tradeoff_rows(data_home, settings=SETTINGS):
    """One dict per setting: NDCG, APLT, long-tail coverage and miscalibration at 10."""
    from sklearn_recsys import EASE
    from sklearn_recsys.datasets import fetch_movielens
    from sklearn_recsys.metrics import (
        aplt_at_k,
        long_tail_coverage,
        miscalibration_at_k,
        ndcg_at_k,
    )
    from sklearn_recsys.model_selection import strong_generalization_split
    from sklearn_recsys.reranking import CalibratedReranker, XQuADReranker

    movies = fetch_movielens("100k", data_home=data_home, download_if_missing=False)
    X = movies.X.copy()
    X.data[:] = 1.0  # every rating is an interaction
    X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
    ease = EASE(alpha=300.0)
    rows = []
    for name, kind, tradeoff in settings:
        if name == "EASE":
            model = ease
        elif name == "XQuADReranker":
            model = XQuADReranker(ease, tradeoff=tradeoff, kind=kind, n_candidates=100)
        else:
            model = CalibratedReranker(ease, movies.item_genres, tradeoff=tradeoff,
                                       n_candidates=100)
        model.fit(X_train)
        lists = model.recommend(X_in, k=K)[0]
        rows.append({
            "model": name, "kind": kind, "tradeoff": tradeoff,
            "ndcg": ndcg_at_k(X_out, lists, k=K),
            "aplt": aplt_at_k(X_out, lists, item_popularity=X_train, k=K),
            "ltc": long_tail_coverage(X_out, lists, item_popularity=X_train, k=K),
            # miscalibration compares each list with the history it was made from
            "miscalibration": miscalibration_at_k(X_in, lists, categories=movies.item_genres,
                                                  k=K),
        })
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    args = parser.parse_args(argv)
    rows = tradeoff_rows(args.data_home)
    base = rows[0]["ndcg"]
    tab = show(table(
        "movielens_100k", "Re-ranking EASE on MovieLens 100K: accuracy against exposure and "
        "calibration (k = 10)",
        ["model", "tradeoff", "NDCG@10", "NDCG change", "APLT@10", "long-tail coverage@10",
         "miscalibration@10"],
        [[r["model"] + (f" ({r['kind']})" if r["kind"] else ""),
          0.0 if r["tradeoff"] is None else r["tradeoff"], r["ndcg"],
          f"{100 * (r['ndcg'] / base - 1):+.1f}%", r["aplt"], r["ltc"], r["miscalibration"]]
         for r in rows],
        formats=["text", "ratio", "metric", "text", "metric", "metric", "metric"],
        notes=["Strong generalization, seed 0; EASE(alpha=300) inside, 100 candidates; "
               "tradeoff 0 is EASE itself."]))
    write_results("reranking", [tab])


if __name__ == "__main__":
    main()
