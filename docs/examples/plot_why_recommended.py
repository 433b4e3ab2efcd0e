"""
Why was this recommended?
=========================

Every recommender has ``explain(x_row, item)``: the user's items and how much each one
contributes to the score of a recommended item, largest first (see the contract). For
:class:`~sklearn_recsys.EASE` the contributions are exact (``x_j * B[j, item]``, summing to
the score); for :class:`~sklearn_recsys.MultVAE` they are integrated gradients of the item's
score, its log-probability (what ranks it against the other items), computed in NumPy on the
served weights, complete up to the score of an empty history.

Here one user of synthetic data (``make_interactions``) gets their top recommendation from
each model, and the bars show which of their items drove it.
"""

import matplotlib.pyplot as plt

from sklearn_recsys import EASE, MultVAE, make_interactions

X = make_interactions(n_users=1000, n_items=300, density=0.05, random_state=0)
user = X[7]
models = {"EASE (exact)": EASE(alpha=50.0).fit(X),
          "MultVAE (integrated gradients)": MultVAE(hidden_layer_sizes=(100,), n_components=32,
                                                    max_iter=30, random_state=0).fit(X)}

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, (name, model) in zip(axes, models.items()):
    item = int(model.recommend(user, k=1)[0][0, 0])
    items, contributions = model.explain(user, item)
    ax.barh([f"item {j}" for j in items[:8]][::-1], contributions[:8][::-1])
    ax.set_title(f"{name}\nrecommends item {item}", fontsize=10)
    ax.set_xlabel("contribution to the score")
    print(f"{name}: item {item}, top reasons {items[:3].tolist()}")
fig.tight_layout()
