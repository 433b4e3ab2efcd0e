"""
What will this user watch next? Sequences with SASRec
=====================================================

The sequential models read each user's row as a sequence: the values of ``X`` order the
interactions (timestamps, or positions 1, 2, ...; see the contract), and the model predicts
the next item from the most recent ones. Here viewers of a streaming catalogue watch several
series at once, each series in episode order, their series interleaved in time. Which series
a viewer watches next depends on what they watched last, which a model of the *set* of
watched items cannot see.

From a raw log (string ids, datetimes) the encoder builds the matrix of times;
``leave_last_out_split`` holds out each viewer's latest episode, and
:class:`~sklearn_recsys.SASRec` is compared with :class:`~sklearn_recsys.EASE` on it:
SASRec puts the episode actually watched first far more often (it follows the series just
watched), while EASE, which knows the viewer's series but not the order, lists the next
episode of each of them and so catches the switches in its top 5. Then one viewer's last
episodes go in, and the next-episode predictions come back as raw ids with titles.
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sklearn_recsys import EASE, InteractionEncoder, SASRec
from sklearn_recsys.metrics import hit_rate_at_k
from sklearn_recsys.model_selection import leave_last_out_split

# %%
# A viewing log: 30 series of 8 episodes; each viewer follows three series and binges:
# the next episode of the series just watched four times in five, else another series.
rng = np.random.default_rng(0)
n_series, n_episodes = 30, 8
titles = {f"s{s:02d}e{e}": f"Series {s}, episode {e}"
          for s in range(n_series) for e in range(1, n_episodes + 1)}
rows = []
for viewer in range(800):
    series = rng.choice(n_series, 3, replace=False)
    watched = dict.fromkeys(series, 0)
    time = pd.Timestamp("2026-01-01") + pd.Timedelta(hours=int(rng.integers(0, 1000)))
    s = series[0]
    for _ in range(rng.integers(6, 16)):
        left = [t for t in series if watched[t] < n_episodes]
        if s not in left or rng.random() < 0.2:
            s = rng.choice([t for t in left if t != s] or left)
        watched[s] += 1
        time += pd.Timedelta(minutes=int(rng.integers(30, 600)))
        rows.append((f"viewer{viewer}", f"s{s:02d}e{watched[s]}", time))
log = pd.DataFrame(rows, columns=["user_id", "item_id", "time"])
log.tail()

# %%
# The matrix of times (the order SASRec reads) and the latest episode of each viewer held
# out.
encoder = InteractionEncoder(timestamp_col="time")
encoder.fit(log)
T = encoder.transform_timestamps(log)
T_train, y_test = leave_last_out_split(T, T)

sasrec = SASRec(n_components=32, max_len=20, max_iter=60, random_state=0).fit(T_train)
ease = EASE(alpha=10.0).fit((T_train > 0).astype(float))

scores = {"SASRec": sasrec.decision_function(T_train),
          "EASE": ease.decision_function((T_train > 0).astype(float))}
hits = {}
for name, s in scores.items():
    s = np.where(T_train.toarray() > 0, -np.inf, s)  # never a watched episode
    hits[name] = [hit_rate_at_k(y_test, s, k=k) for k in (1, 3, 5)]
    print(f"{name}: hit rate @1 {hits[name][0]:.3f}, @5 {hits[name][2]:.3f}")

fig, ax = plt.subplots(figsize=(5, 3))
for offset, (name, values) in zip((-0.2, 0.2), hits.items()):
    ax.bar(np.arange(3) + offset, values, width=0.4, label=name)
ax.set_xticks(range(3), ["HR@1", "HR@3", "HR@5"])
ax.set_ylabel("held-out latest episode")
ax.legend()
fig.tight_layout()

# %%
# One viewer: their last episodes in order, then the predicted next ones, in raw ids with
# titles. Only the order of the values counts, so the row of times is the input as it is.
user_ids = encoder.get_user_ids()
row = int(np.flatnonzero(user_ids == "viewer3")[0])
x = T_train[row]
history = encoder.item_ids_[x.indices[np.argsort(x.data)]]
print("last watched:", [titles[i] for i in history[-4:]])
indices, _ = sasrec.recommend(x, k=3)
print("next:", [titles[i] for i in encoder.inverse_transform(indices)[0]])
print("actually watched next:", titles[encoder.item_ids_[y_test[row].indices[0]]])
