"""
Recommending new items from their text with ConvMF
==================================================

An item nobody has interacted with yet has no collaborative signal: a factorization without
side information can only rank it at random. :class:`~sklearn_recsys.ConvMF` learns a text
CNN that maps an item's document to its factors, so such items are ranked from their text.

Here 300 items belong to 6 topics; each user likes items of one or two topics, and each
item's document is a few words from its topic's vocabulary plus common filler words. A fifth
of the items is hidden from training entirely and then ranked for every user.
"""

import numpy as np
import scipy.sparse as sp

from sklearn_recsys import ConvMF
from sklearn_recsys.metrics import recall_at_k

rng = np.random.default_rng(0)
n_users, n_items, n_topics = 600, 300, 6
item_topic = rng.integers(n_topics, size=n_items)
vocab = [[f"topic{t}word{w}" for w in range(12)] for t in range(n_topics)]
filler = ["study", "new", "method", "results", "analysis", "approach"]
documents = [" ".join(rng.choice(vocab[t], 4).tolist() + rng.choice(filler, 3).tolist())
             for t in item_topic]

liked_topics = [rng.choice(n_topics, size=rng.integers(1, 3), replace=False)
                for _ in range(n_users)]
likes = np.array([np.isin(item_topic, topics) for topics in liked_topics])
X = sp.csr_matrix(likes & (rng.random((n_users, n_items)) < 0.15), dtype=np.float64)

cold = np.sort(rng.choice(n_items, size=n_items // 5, replace=False))
keep = np.ones(n_items)
keep[cold] = 0.0
X_train = sp.csr_matrix(X @ sp.diags(keep))
X_train.eliminate_zeros()
X_cold = sp.csr_matrix(X @ sp.diags(1.0 - keep))
X_cold.eliminate_zeros()

# a small CNN for a small catalogue; its dense layer of 32 units keeps more of its units in
# training than the default dropout (0.8, chosen on ratings for a layer of 200) would
small_cnn = dict(embedding_dim=32, n_filters=16, hidden_layer_sizes=(32,), window_sizes=(1, 2),
                 max_df=1.0, cnn_epochs=5, learning_rate_init=1e-2, dropout=0.2)
params = dict(n_components=16, feedback="implicit", alpha_user=0.1, alpha_item=10.0,
              max_iter=8, random_state=0)
with_text = ConvMF(documents=documents, **params, **small_cnn).fit(X_train)
without_text = ConvMF(**params).fit(X_train)
print("items without training interactions:", len(with_text.cold_items_))

# %%
# Rank only the hidden items for each user; their hidden likes are the targets.
for name, model in (("ConvMF with text", with_text), ("MF without text", without_text)):
    scores = model.decision_function(X_train)[:, cold]
    if name == "MF without text":  # every cold score is 0: break the ties at random
        scores = scores + rng.random(scores.shape) * 1e-9
    print(f"{name:17s} recall@10 on cold items = "
          f"{recall_at_k(X_cold[:, cold], scores, k=10):.3f}")

# %%
# Items outside the catalogue are ranked from their text alone: they come back as
# indices ``n_items + j``. Offer each user one new item per topic and check that the
# top one is about a topic the user likes.
new_items = [" ".join(vocab[t][:4]) for t in range(n_topics)]
indices, _ = with_text.recommend(X_train, k=1, candidates=np.arange(n_items, n_items + n_topics),
                                 new_items=new_items)
hits = [indices[u, 0] - n_items in liked_topics[u] for u in range(n_users)]
print(f"top new item is about a liked topic for {np.mean(hits):.1%} of the users")
