"""
From a shop log with three behaviours to purchase recommendations
=================================================================

A shop logs page views, add-to-cart events and purchases. Purchases are rare, so a model
that learns from them alone knows little about most users; the views and carts say what
each user is considering. :class:`~sklearn_recsys.MultiBehaviorEASE` reads all three and
recommends the **target** behaviour (purchases): its score of an item adds the rate at which
the user's own views or carts of that item turned into purchases for other users, and an
EASE term from everything the user did to what such users bought.

This example builds a synthetic log in raw ids, encodes it with one column block per
behaviour (:class:`~sklearn_recsys.preprocessing.InteractionEncoder` with
``behavior_col``), holds out one purchase per user, and compares HR@10 when the model sees
purchases only, purchases with views, purchases with carts, and all three; then a
:class:`~sklearn_recsys.StackingRecommender` learns to rank the candidates of two settings
of the model. The benchmark on the real Taobao split is in the benchmarks page.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp

from sklearn_recsys import MultiBehaviorEASE, StackingRecommender
from sklearn_recsys.metrics import make_ranking_scorer
from sklearn_recsys.model_selection import leave_k_out_split
from sklearn_recsys.preprocessing import InteractionEncoder

# %%
# A shop log in raw ids
# ---------------------
# Users view items close to their taste, cart some of them and buy some carted or viewed
# items (and, rarely, an item they never viewed).
rng = np.random.default_rng(0)
n_users, n_items = 800, 200
taste = rng.normal(size=(n_users, 4)) @ rng.normal(size=(4, n_items))
appeal = taste + rng.gumbel(size=taste.shape)
viewed = appeal > np.quantile(appeal, 0.93, axis=1, keepdims=True)
carted = viewed & (rng.random(viewed.shape) < 0.3)
bought = ((carted & (rng.random(viewed.shape) < 0.5))
          | (viewed & (rng.random(viewed.shape) < 0.04)))
favourite = taste > np.quantile(taste, 0.99, axis=1, keepdims=True)
bought |= favourite & (rng.random(viewed.shape) < 0.3)

events = []
for name, happened in [("view", viewed), ("cart", carted), ("buy", bought)]:
    users, items = np.nonzero(happened)
    events.append(pd.DataFrame({"user_id": [f"u{u:03d}" for u in users],
                                "item_id": [f"sku-{i:03d}" for i in items], "event": name}))
log = pd.concat(events, ignore_index=True)
print(log.event.value_counts())

# %%
# One column block per behaviour
# ------------------------------
encoder = InteractionEncoder(behavior_col="event", behaviors=("view", "cart", "buy"))
X = encoder.fit_transform(log)
print(X.shape, encoder.behaviors_)

# hold out one purchase per user (the target behaviour only; views and carts stay inputs)
X_in, y = leave_k_out_split(X, k=1, random_state=0, behaviors=encoder.behaviors_, target="buy")
hit_rate = make_ranking_scorer("hit_rate", k=10)

# %%
# HR@10 per behaviour mix
# -----------------------
# The same model, given the purchase block alone or with views and/or carts.
n = encoder.n_items_
block = {name: X_in[:, b * n:(b + 1) * n] for b, name in enumerate(encoder.behaviors_)}
mixes = [("buy",), ("view", "buy"), ("cart", "buy"), ("view", "cart", "buy")]
results = {}
for mix in mixes:
    X_mix = sp.hstack([block[name] for name in mix], format="csr")
    model = MultiBehaviorEASE(behaviors=mix, target="buy", alpha=20.0).fit(X_mix)
    results[" + ".join(mix)] = hit_rate(model, X_mix, y)
    print(f"{' + '.join(mix):>18}: HR@10 {results[' + '.join(mix)]:.3f}")

# %%
# A learned ranker over the candidates of two settings: the default one (the user's own
# views and carts first) and one whose cross term dominates (items never viewed). Its
# classifier is trained on purchases held out of ``X_in`` itself, so ``y`` stays unseen.
behaviors = encoder.behaviors_
stacked = StackingRecommender(
    [("mb", MultiBehaviorEASE(behaviors=behaviors, target="buy", alpha=20.0)),
     ("cross", MultiBehaviorEASE(behaviors=behaviors, target="buy", alpha=20.0,
                                 cross_weight=20.0))],
    n_candidates=20, behaviors=behaviors, target="buy", random_state=0).fit(X_in)
results["all three, stacked"] = hit_rate(stacked, X_in, y)
print(f"{'all three, stacked':>18}: HR@10 {results['all three, stacked']:.3f}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(results), list(results.values()), color="tab:blue")
ax.set_xlabel("HR@10 of the held-out purchase")
ax.set_title("Which behaviours the model reads")
fig.tight_layout()
plt.show()

# %%
# Recommendations and their reasons, in raw ids
# ---------------------------------------------
model = MultiBehaviorEASE(behaviors=encoder.behaviors_, target="buy", alpha=20.0).fit(X)
some_users = log[log.user_id.isin(["u001", "u002"])]
recommendations = encoder.recommend(model, some_users, k=3)
print(recommendations)

# %%
# Each contribution names the behaviour and item of the user's history behind it; they
# sum to the item's score.
top = recommendations.item_id.iloc[0]
print(encoder.explain(model, log[log.user_id == "u001"], top).head())

# %%
# The stack explains its own recommendations too: its ranker's score of the item is shared
# among the paths it reads (each base model's score, the user's own views and carts of the
# item) by Shapley values, and each base's share goes on through that base's exact terms.
u001 = log[log.user_id == "u001"]
top_stacked = encoder.recommend(stacked, u001, k=1).item_id.iloc[0]
print(encoder.explain(stacked, u001, top_stacked).head())
