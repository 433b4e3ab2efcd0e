"""
Trading accuracy for long-tail exposure
=======================================

A few popular items hold most interactions, so a recommender learns to show them to
everyone and the long tail is never seen. Two mechanisms move the lists towards the tail:
re-ranking a fitted model's candidates (:class:`~sklearn_recsys.reranking.XQuADReranker`)
and correcting the training itself (:class:`~sklearn_recsys.EASE`'s ``popularity_penalty``,
:class:`~sklearn_recsys.ImplicitALS`'s ``propensity_power``). Each has one parameter; here
both are swept for EASE and the curves of NDCG@20 against APLT@20 (the long tail's share of
the lists) are drawn, on synthetic data of ``make_interactions`` (long-tailed popularity,
denser than the demo's).

``benchmarks/bench_tradeoff.py`` draws the same curves for EASE, ImplicitALS and MultVAE on
MovieLens latest-small and Last.fm 2K: its summary table is in the evaluation page, its
curves in the benchmarks page and in the example
:ref:`sphx_glr_auto_examples_plot_tradeoff_curves.py`.
"""

import matplotlib.pyplot as plt
from sklearn.frozen import FrozenEstimator

from sklearn_recsys import EASE, make_interactions
from sklearn_recsys.metrics import aplt_at_k, ndcg_at_k
from sklearn_recsys.model_selection import strong_generalization_split
from sklearn_recsys.reranking import XQuADReranker

X = make_interactions(n_users=1500, n_items=400, density=0.04, random_state=0)
X_train, X_in, X_out = strong_generalization_split(X, random_state=0)
K = 20


def measure(model):
    lists = model.recommend(X_in, k=K)[0]
    return (ndcg_at_k(X_out, lists, k=K),
            aplt_at_k(X_out, lists, item_popularity=X_train, k=K))


ease = EASE(alpha=50.0).fit(X_train)
base = measure(ease)

# re-ranking: the fitted EASE is frozen, each tradeoff only re-orders its 200 best items
rerank = [measure(XQuADReranker(FrozenEstimator(ease), tradeoff=t, n_candidates=200)
                  .fit(X_train)) for t in (0.1, 0.3, 0.5, 0.7, 0.9)]
# in training: EASE's weights into popular items shrink by (count + 1) ** -beta
penalty = [measure(EASE(alpha=50.0, popularity_penalty=b).fit(X_train))
           for b in (0.1, 0.2, 0.3, 0.5, 0.8)]

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(*zip(*[(a, n) for n, a in [base] + rerank]), "o-", label="xQuAD re-ranking")
ax.plot(*zip(*[(a, n) for n, a in [base] + penalty]), "s-", label="EASE popularity_penalty")
ax.plot(base[1], base[0], "k*", markersize=14, label="EASE")
ax.axhline(0.98 * base[0], color="grey", linestyle=":", label="2% below EASE's NDCG")
ax.set_xlabel(f"APLT@{K} (long-tail share of the lists)")
ax.set_ylabel(f"NDCG@{K}")
ax.legend()
fig.tight_layout()
print(f"EASE: NDCG@{K} {base[0]:.3f}, APLT@{K} {base[1]:.3f}")
