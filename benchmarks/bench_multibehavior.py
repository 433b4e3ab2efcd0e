"""Multi-behaviour recommenders on the Taobao view/cart/buy split of MB-CGCN.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_multibehavior.py --data-home ../shared/data

Protocol of the papers on this split (MB-CGCN, CRGCN, MuLe): each of the 15,449 users'
test purchase is ranked among **all** 11,953 items, the user's training purchases
excluded; HR@10 and NDCG@10. Views and carts (their train and test files) are inputs. The
metrics are the library's scorers (``make_ranking_scorer("hit_rate"/"ndcg", k=10)``) on
the stacked ``X`` (view | cart | buy blocks) with ``y`` the test purchases. Every row is
also reported on the 2,286 test purchases that the user neither viewed nor carted
("unseen"), where ranking the user's own views scores nothing.

Settings are chosen on a validation split of the training data only (one training
purchase held out per user with two or more, seed 0, through
``leave_k_out_split(..., behaviors=..., target="buy")``), then refitted on all training
data and scored on the test purchases once.

Baselines ("floors") written in a few lines of NumPy, so a reader sees the margin: item
scores ``2 x carted + viewed + 0.5 x purchase share``, and per-item conversion rates
(smoothed P(buy | viewed item), P(buy | carted item) from training, applied to the user's
own views and carts). Published figures on this split come from MuLe's table (CIKM 2024).

Transfer split: the models must also work when the purchase never appears in the user's
other behaviours. From all purchases (train and test), one purchase per user that the
user neither viewed nor carted is held out (users with one such purchase; seed 0); views,
carts and the other purchases are the input. Settings are chosen on a validation split of
the same kind drawn from the input purchases.

Models: the floors, EASE on purchases alone, ``MultiBehaviorEASE`` (defaults, and tuned
over ``cross_weight`` x ``behavior_weights`` on the validation split) and ``MultiTaskDAE``
(defaults but ``max_iter``; it stops early on its own validation users' NDCG@100 of the
target). On the transfer split ``MultiTaskDAE`` also runs with ``mask_target=0.5`` (cloze
training of the purchase head; one setting, not tuned: a fit takes about ten minutes here).

Part ``stacking`` (``--parts stacking``): ``StackingRecommender`` over three
``MultiBehaviorEASE`` settings (defaults; a cross-term-first setting; purchases alone as the
cross term's input) with
``--n-candidates`` per base model and ``--n-repeats`` held-out draws for its ranker, on both
splits; on the transfer split once with its default held-out purchases and once with
``split`` holding out purchases of the transfer kind from the input (a new draw per call).
The cross-term-first base is the transfer grid's setting with the best validation HR@10 on
a transfer-kind split (seed 1) of the purchases the stack is fitted on: on the standard
split the training purchases only, never the test purchases.

Part ``transfer-autoencoders``: on the transfer split, ``MultDAE`` on the purchases alone
with its defaults and with the paper's batch 500 and weight decay 0.01 (which are
``MultiTaskDAE``'s defaults), beside EASE on purchases (alpha 50, as chosen above), and
``MultiTaskDAE(mask_target=0.5)`` with ``MultDAE``'s batch and weight decay instead: is
the gap to EASE the multi-task model's or the autoencoder's?

Part ``item-item``: ``MultiTaskDAE`` with an item-item term in its purchase head
(``item_item_alpha``, EASE's closed form on the training purchases, its penalty the one EASE
on purchases chooses on the validation split), beside the same model without it and EASE on
purchases alone, on the standard split (defaults otherwise) and on the transfer split (with
``mask_target=0.5``, as the transfer table's cloze row; that row is not refitted here).

Part ``cross-term``: on the transfer split, ``MultiTaskDAE(mask_target=0.5)`` whose item-item
term reads every behaviour (``item_item_behavior_weights``: the weights the transfer table's
tuned ``MultiBehaviorEASE`` chose, its cross term's closed form) beside the term on purchases
alone and EASE on purchases.

Part ``cross-term-decay``: the weighted-term row of ``cross-term`` with a stronger weight
decay of the deep part (``alpha`` 0.1 and 1; the default 0.01 is that row), since its
validation NDCG@100 falls from the first epoch; the setting with the best validation NDCG@100
(the model's own early-stopping users, read from each fit) is the one a user would keep.

Part ``frontier`` (``--parts frontier``): on the standard split, the stack learns twice, from
its default held-out purchases and from the transfer kind (``split``); the lists of mixtures
of the two rankers' probabilities, from one to the other, show what overall HR@10 each gain
of HR@10 on the unseen purchases costs.

Part ``similarity`` (``--parts similarity``): the two stacks of the frontier with
``similarity_behaviors="all"`` (the co-occurrence cosine of views, carts and purchases, summed
and maximized over the user's items of each behaviour, as ranker features): each stack's
figures with fit time and memory, and their mixtures. Part ``similarity-transfer``: the
stacks of the transfer split's stacking table with the same features.

Part ``room`` (``--parts room``): how many viewed or carted items (not bought) each user
has, and how many of its ten items the similarity table's first stack gives to items never
viewed nor carted, as it is and with its probabilities of those items multiplied by a boost:
the hits each boost gains among the unseen purchases and loses among the others.

Part ``router`` (``--parts router``): a classifier of the users' counts, trained on held-out
training purchases, predicts whether a user's next purchase was never viewed nor carted; the
similarity table's two stacks, refitted, and lists that follow the prediction per user (the
likeliest users get the transfer stack's list; or its probabilities, times the prediction,
for the items never viewed nor carted): can a router reach both targets?

Part ``ranker`` (``--parts ranker``): the stack of the stacking table with other rankers
(gradient-boosted trees with deeper and shallower trees, and all their rounds without early
stopping) on the standard split: is the ranker's capacity what keeps it below the targets?

Part ``fit-time`` (``--parts fit-time``): how ``MultiBehaviorEASE``'s fit scales beside
EASE's on the standard split's training data (float32, as the tables above): both fitted with
the same penalty, in turns, ``--repeats`` times (medians), with the two steps of the cross
term's closed form timed apart (the penalized Gram inverse, as EASE's; the product
``Y^T Z P``) and the product as it was computed before (``(Y^T Z) P``, sparse times dense) for
reference; then the product that scores every user, ``Z W``, by the parallel kernel that
serves the item-item models and by scipy (one core, for reference).

Results: ``benchmarks/results/multibehavior_taobao.json``,
``multibehavior_transfer.json``, ``multibehavior_transfer_autoencoders.json``,
``multibehavior_item_item.json``, ``multibehavior_cross_term.json``,
``multibehavior_cross_term_decay.json``,
``multibehavior_stacking.json``, ``multibehavior_frontier.json``,
``multibehavior_similarity.json``, ``multibehavior_similarity_transfer.json``,
``multibehavior_room.json``, ``multibehavior_router.json`` and
``multibehavior_ranker.json``, ``multibehavior_fit_time.json`` (one per part, so a
part can be rerun alone); ``python benchmarks/make_tables.py`` turns them into the docs'
tables.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import RESULTS_DIR, PeakRSS, show, table, write_results  # noqa: E402

BEHAVIORS = ("view", "cart", "buy")
PUBLISHED = [  # MuLe (CIKM 2024), Table 3, Taobao
    ("MuLe (published)", 0.1918, 0.1103),
    ("MB-CGCN (published)", 0.1233, 0.0677),
    ("CRGCN (published)", 0.0855, 0.0439),
    ("LightGCN, purchases only (published)", 0.0411, 0.0240),
]


def blocks(X, n_items):
    return [X[:, b * n_items:(b + 1) * n_items].tocsr() for b in range(len(BEHAVIORS))]


def stack(view, cart, buy):
    return sp.hstack([view, cart, buy], format="csr").astype(np.float32)


def load(data_home):
    from sklearn_recsys.datasets import fetch_taobao

    data = fetch_taobao(data_home=data_home)
    n = data.n_items
    view, cart, buy = blocks(data.X, n)
    view_t, cart_t, buy_t = blocks(data.X_test, n)
    view, cart = ((view + view_t) > 0).astype(np.float32), ((cart + cart_t) > 0).astype(np.float32)
    return n, view, cart, buy, buy_t


def unseen_users(view, cart, buy_test):
    """The users whose test purchase they neither viewed nor carted ("unseen")."""
    return np.flatnonzero(
        np.asarray((view + cart)[np.arange(view.shape[0]), buy_test.indices]).ravel() == 0)


class _Floor:
    """A NumPy baseline behind the scorer's interface (decision_function on stacked rows)."""

    def __init__(self, name, n_items, fn):
        self.name, self.n_items_, self.fn = name, n_items, fn
        self.target_index_, self.n_features_in_ = 2, 3 * n_items

    def fit(self, X):
        view, cart, buy = blocks(X, self.n_items_)
        share = np.asarray(buy.sum(0)).ravel()
        self.share_ = share / share.sum()
        self.rates_ = [_rate(view, buy), _rate(cart, buy)]
        return self

    def decision_function(self, X):
        view, cart, _ = blocks(X, self.n_items_)
        return self.fn(self, view, cart)


def _rate(aux, buy, smoothing=5.0):
    both = np.asarray(aux.multiply(buy).sum(0)).ravel()
    shown = np.asarray(aux.sum(0)).ravel()
    return (both + smoothing * both.sum() / shown.sum()) / (shown + smoothing)


def popularity_floor(f, view, cart):
    return (2 * cart + view).toarray() + 0.5 * f.share_


def conversion_floor(f, view, cart):
    return (view.multiply(f.rates_[0]) + cart.multiply(f.rates_[1])).toarray() + 1e-6 * f.share_


def scores(model, X, y, unseen):
    from sklearn_recsys.metrics import make_ranking_scorer

    hr, ndcg = make_ranking_scorer("hit_rate", k=10), make_ranking_scorer("ndcg", k=10)
    return [hr(model, X, y), ndcg(model, X, y), hr(model, X[unseen], y[unseen])]


class _BuysOnly:
    """EASE (or ``model``) on the purchase block alone, behind the stacked interface."""

    def __init__(self, n_items, alpha=None, model=None):
        from sklearn_recsys import EASE

        self.model, self.n_items_ = EASE(alpha=alpha) if model is None else model, n_items
        self.target_index_, self.n_features_in_ = 2, 3 * n_items

    def fit(self, X):
        self.model.fit(blocks(X, self.n_items_)[2])
        return self

    def decision_function(self, X):
        return self.model.decision_function(blocks(X, self.n_items_)[2])


def fitted(make, X):
    start = time.perf_counter()
    with PeakRSS() as mem:
        model = make().fit(X)
    return model, time.perf_counter() - start, mem.growth_mb


def choose(grid, make, X_val, y_val, label):
    """The setting of ``grid`` with the best validation HR@10 (NDCG@10 breaks ties)."""
    from sklearn_recsys.metrics import make_ranking_scorer

    hr, ndcg = make_ranking_scorer("hit_rate", k=10), make_ranking_scorer("ndcg", k=10)
    best = None
    for params in grid:
        model = make(**params).fit(X_val)
        value = (hr(model, X_val, y_val), ndcg(model, X_val, y_val))
        print(f"  {label} {params}: validation HR@10 {value[0]:.4f} NDCG@10 {value[1]:.4f}",
              flush=True)
        if best is None or value > best[0]:
            best = (value, params)
    return best[1]


def mb_grid():
    return [{"cross_weight": c, "behavior_weights": w}
            for w in [(1.0, 1.0, 1.0), (0.2, 0.5, 1.0)] for c in (0.5, 1.0, 2.0)]


def neural(max_iter, **params):
    from sklearn_recsys import MultiTaskDAE

    return MultiTaskDAE(behaviors=BEHAVIORS, target="buy", max_iter=max_iter, random_state=0,
                        **params)


def run_standard(data_home, max_iter):
    from sklearn_recsys import MultiBehaviorEASE
    from sklearn_recsys.model_selection import leave_k_out_split

    n, view, cart, buy, buy_test = load(data_home)
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    X_val, y_val = leave_k_out_split(X, k=1, random_state=0, behaviors=BEHAVIORS, target="buy")
    print(f"{X.shape[0]} users, {n} items; {len(unseen)} test purchases never viewed or carted;"
          f" {y_val.nnz} validation purchases", flush=True)

    def mb(**params):
        return MultiBehaviorEASE(behaviors=BEHAVIORS, target="buy", **params)

    rows = []
    for name, fn in [("floor: 2 x cart + view + 0.5 x purchase share", popularity_floor),
                     ("floor: per-item conversion rates", conversion_floor)]:
        model, seconds, mb_ = fitted(lambda: _Floor(name, n, fn), X)
        rows.append([name, *scores(model, X, buy_test, unseen), seconds, mb_, "-"])
        print(rows[-1], flush=True)
    alpha = choose([{"alpha": a} for a in (50.0, 200.0, 800.0)],
                   lambda alpha: _BuysOnly(n, alpha), X_val, y_val, "EASE (buys)")["alpha"]
    model, seconds, mem = fitted(lambda: _BuysOnly(n, alpha), X)
    rows.append(["EASE, purchases only", *scores(model, X, buy_test, unseen), seconds, mem,
                 {"alpha": alpha}])
    print(rows[-1], flush=True)
    model, seconds, mem = fitted(mb, X)
    rows.append(["MultiBehaviorEASE, defaults", *scores(model, X, buy_test, unseen), seconds,
                 mem, "defaults"])
    print(rows[-1], flush=True)
    best = choose(mb_grid(), mb, X_val, y_val, "MultiBehaviorEASE")
    model, seconds, mem = fitted(lambda: mb(**best), X)
    rows.append(["MultiBehaviorEASE, tuned", *scores(model, X, buy_test, unseen), seconds, mem,
                 best])
    print(rows[-1], flush=True)
    model, seconds, mem = fitted(lambda: neural(max_iter), X)
    rows.append(["MultiTaskDAE, defaults", *scores(model, X, buy_test, unseen), seconds, mem,
                 {"max_iter": max_iter, "best_iteration_": model.best_iteration_}])
    print(rows[-1], flush=True)
    rows += [[name, h, nd, None, None, None, "published"] for name, h, nd in PUBLISHED]
    return table(
        "multibehavior-taobao",
        "Taobao (MB-CGCN split): test purchase among all items, HR@10 and NDCG@10",
        ["model", "HR@10", "NDCG@10", "HR@10 unseen", "fit seconds", "fit memory MB",
         "chosen parameters"], rows,
        formats=["text", "metric", "metric", "metric", "seconds", "mb", "params"],
        notes=["HR@10 unseen: the test purchases the user neither viewed nor carted "
               f"({len(unseen)} users). Published rows: MuLe's Table 3 (CIKM 2024); "
               "they report no unseen figure, fit time or memory."])


def transfer_split(view, cart, buys, rng):
    """One purchase per user that the user neither viewed nor carted, held out."""
    other = buys.copy()
    other.data = np.where(np.asarray((view + cart)[buys.nonzero()]).ravel() > 0, 0.0, 1.0)
    other.eliminate_zeros()
    other = other.tocsr()
    counts = np.diff(other.indptr)
    users = np.flatnonzero(counts)
    offsets = (rng.random(len(users)) * counts[users]).astype(int)
    picked = other.indices[other.indptr[users] + offsets]
    held = sp.csr_matrix((np.ones(len(users), np.float32), (users, picked)), shape=buys.shape)
    rest = (buys - held).tocsr()
    rest.eliminate_zeros()
    return rest, held


def transfer_data(view, cart, buy, buy_test):
    """The transfer split (seed 0) of all purchases: ``(rest, held, X, users)``, the input
    purchases, the one held out per user, the stacked input and the users holding one out."""
    buys = ((buy + buy_test) > 0).astype(np.float32)
    rest, held = transfer_split(view, cart, buys, np.random.default_rng(0))
    return rest, held, stack(view, cart, rest), np.flatnonzero(np.diff(held.indptr))


def transfer_grid():
    """``MultiBehaviorEASE`` settings for purchases never viewed or carted: they are the
    cross term's to find, so large cross weights, and the target behaviour's own weight up
    to plain EASE's."""
    return [{"cross_weight": c, "behavior_weights": w}
            for w in [(1.0, 1.0, 1.0), (0.2, 0.5, 1.0), (0.05, 0.1, 1.0)]
            for c in (8.0, 32.0, 128.0)]


_CROSS_SETTINGS = {}


def cross_setting(view, cart, buys, label):
    """The stack's cross-term base: the transfer grid's setting with the best HR@10 on a
    transfer-kind validation split (seed 1) of ``buys``, the purchases the stack is fitted
    on, and nothing else (one choice per ``label``, remembered for the frontier part)."""
    from sklearn_recsys import MultiBehaviorEASE

    key = (label, buys.shape, buys.nnz)  # the same purchases, not only the same name
    if key not in _CROSS_SETTINGS:
        val_rest, val_held = transfer_split(view, cart, buys, np.random.default_rng(1))
        print(f"{label}: choosing the cross base on {val_held.nnz} validation purchases "
              "never viewed or carted", flush=True)
        _CROSS_SETTINGS[key] = choose(
            transfer_grid(),
            lambda **params: MultiBehaviorEASE(behaviors=BEHAVIORS, target="buy", **params),
            stack(view, cart, val_rest), val_held, f"cross base, {label}")
    return _CROSS_SETTINGS[key]


def run_transfer(data_home, max_iter):
    from sklearn_recsys import MultiBehaviorEASE

    n, view, cart, buy, buy_test = load(data_home)
    rest, held, X, users = transfer_data(view, cart, buy, buy_test)
    val_rest, val_held = transfer_split(view, cart, rest, np.random.default_rng(1))
    X_val = stack(view, cart, val_rest)
    print(f"transfer: {len(users)} users hold out a purchase never viewed or carted; "
          f"{val_held.nnz} validation purchases", flush=True)

    def mb(**params):
        return MultiBehaviorEASE(behaviors=BEHAVIORS, target="buy", **params)

    rows = []
    alpha = choose([{"alpha": a} for a in (50.0, 200.0, 800.0)],
                   lambda alpha: _BuysOnly(n, alpha), X_val, val_held, "EASE (buys)")["alpha"]
    for name, make, params in [
            ("EASE, purchases only", lambda: _BuysOnly(n, alpha), {"alpha": alpha}),
            ("MultiBehaviorEASE, defaults", mb, "defaults")]:
        model, seconds, mem = fitted(make, X)
        rows.append([name, *scores(model, X[users], held[users], np.arange(len(users)))[:2],
                     seconds, mem, params])
        print(rows[-1], flush=True)
    best = choose(transfer_grid(), mb, X_val, val_held, "MultiBehaviorEASE transfer")
    model, seconds, mem = fitted(lambda: mb(**best), X)
    rows.append(["MultiBehaviorEASE, tuned", *scores(model, X[users], held[users],
                                                     np.arange(len(users)))[:2],
                 seconds, mem, best])
    print(rows[-1], flush=True)
    # the defaults learn to copy the user's views into purchases; cloze training
    # (mask_target) hides half the purchases from every behaviour and learns those
    for name, params in [("MultiTaskDAE, defaults", {}),
                         ("MultiTaskDAE, mask_target=0.5", {"mask_target": 0.5})]:
        model, seconds, mem = fitted(lambda: neural(max_iter, **params), X)
        rows.append([name, *scores(model, X[users], held[users], np.arange(len(users)))[:2],
                     seconds, mem, {**params, "max_iter": max_iter,
                                    "best_iteration_": model.best_iteration_}])
        print(rows[-1], flush=True)
    return table(
        "multibehavior-transfer",
        "Taobao transfer split: a held-out purchase the user never viewed or carted",
        ["model", "HR@10", "NDCG@10", "fit seconds", "fit memory MB", "chosen parameters"],
        rows, formats=["text", "metric", "metric", "seconds", "mb", "params"],
        notes=[f"{len(users)} users (those with a purchase they neither viewed nor carted); "
               "all items ranked, the input purchases excluded."])


def run_transfer_autoencoders(data_home, max_iter):
    """Where the neural model's gap on the transfer split comes from: the single-behaviour
    autoencoder on the purchases alone, with its defaults and with the paper's batch 500
    and weight decay 0.01 (MultiTaskDAE's defaults), and MultiTaskDAE's cloze row with
    MultDAE's defaults for the two instead (``max_iter`` epochs at most)."""
    from sklearn_recsys import MultDAE

    n, view, cart, buy, buy_test = load(data_home)
    _, held, X, users = transfer_data(view, cart, buy, buy_test)
    everyone = np.arange(len(users))
    rows = []
    for name, make, params in [
            ("EASE, purchases only", lambda: _BuysOnly(n, 50.0), {"alpha": 50.0}),
            ("MultDAE, purchases only, defaults",
             lambda: _BuysOnly(n, model=MultDAE(random_state=0)), "defaults"),
            ("MultDAE, purchases only, batch 500, weight decay 0.01",
             lambda: _BuysOnly(n, model=MultDAE(batch_size=500, alpha=0.01, random_state=0)),
             {"batch_size": 500, "alpha": 0.01}),
            ("MultiTaskDAE, mask_target=0.5, batch 100, weight decay 0.001",
             lambda: neural(max_iter, mask_target=0.5, batch_size=100, alpha=0.001),
             {"mask_target": 0.5, "batch_size": 100, "alpha": 0.001, "max_iter": max_iter})]:
        model, seconds, mem = fitted(make, X)
        inner = getattr(model, "model", model)
        if hasattr(inner, "best_iteration_"):
            params = {**({} if params == "defaults" else params),
                      "best_iteration_": inner.best_iteration_}
        rows.append([name, *scores(model, X[users], held[users], everyone)[:2], seconds, mem,
                     params])
        print(rows[-1], flush=True)
    return table(
        "multibehavior-transfer-autoencoders",
        "Taobao transfer split: the autoencoders on purchases alone",
        ["model", "HR@10", "NDCG@10", "fit seconds", "fit memory MB", "parameters"],
        rows, formats=["text", "metric", "metric", "seconds", "mb", "params"],
        notes=[f"Same split, protocol and {len(users)} users as the transfer table. EASE's "
               "alpha is the one the transfer table chose on its validation split (50). "
               "The autoencoders keep their best epoch on their own validation users "
               "(NDCG@100 of held-out purchases; MultDAE up to its default 200 epochs, "
               f"MultiTaskDAE up to {max_iter}), seed 0."])


ITEM_ITEM_COLUMNS = ["model", "HR@10", "NDCG@10", "HR@10 unseen", "fit seconds",
                     "fit memory MB", "parameters"]
ITEM_ITEM_FORMATS = ["text", "metric", "metric", "metric", "seconds", "mb", "params"]


def ease_alpha(n, X):
    """EASE on purchases' penalty, chosen on the standard split's validation users."""
    from sklearn_recsys.model_selection import leave_k_out_split

    X_val, y_val = leave_k_out_split(X, k=1, random_state=0, behaviors=BEHAVIORS, target="buy")
    return choose([{"alpha": a} for a in (50.0, 200.0, 800.0)],
                  lambda alpha: _BuysOnly(n, alpha), X_val, y_val, "EASE (buys)")["alpha"]


def item_item_row(name, make, params, X, rows, y, unseen, max_iter, curves):
    """Fitted on ``X``, scored on its ``rows`` against ``y``; a neural row's validation
    NDCG@100 by epoch goes to ``curves`` (for the notes)."""
    model, seconds, mem = fitted(make, X)
    if hasattr(model, "best_iteration_"):
        params = {**params, "max_iter": max_iter, "best_iteration_": model.best_iteration_}
        curves[name] = " ".join(f"{v:.4f}" for v in model.validation_scores_)
    out = [name, *scores(model, X[rows], y, unseen), seconds, mem, params]
    print(out, flush=True)
    return out


def transfer_item_item_table(name, title, rows, notes):
    """A transfer-split table of the item-item rows (every purchase is unseen there)."""
    return table(name, title, [c for c in ITEM_ITEM_COLUMNS if c != "HR@10 unseen"],
                 [r[:3] + r[4:] for r in rows],
                 formats=[f for i, f in enumerate(ITEM_ITEM_FORMATS) if i != 3], notes=notes)


def run_item_item(data_home, max_iter):
    """MultiTaskDAE with and without the item-item term, on both splits."""
    n, view, cart, buy, buy_test = load(data_home)
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    alpha = ease_alpha(n, X)
    columns, formats = ITEM_ITEM_COLUMNS, ITEM_ITEM_FORMATS
    curves = {}  # the neural rows' validation NDCG@100 by epoch, for the notes

    def row(*args):
        return item_item_row(*args, max_iter, curves)

    everyone = np.arange(X.shape[0])
    standard = [
        row("EASE, purchases only", lambda: _BuysOnly(n, alpha), {"alpha": alpha},
            X, everyone, buy_test, unseen),
        row("MultiTaskDAE, defaults", lambda: neural(max_iter), {}, X, everyone, buy_test,
            unseen),
        row(f"MultiTaskDAE, item_item_alpha={alpha:g}",
            lambda: neural(max_iter, item_item_alpha=alpha), {"item_item_alpha": alpha},
            X, everyone, buy_test, unseen)]
    _, held, X_t, users = transfer_data(view, cart, buy, buy_test)
    every_held = np.arange(len(users))
    t_alpha = transfer_ease_alpha()
    transfer = [
        row("EASE, purchases only", lambda: _BuysOnly(n, t_alpha), {"alpha": t_alpha},
            X_t, users, held[users], every_held),
        row(f"MultiTaskDAE, mask_target=0.5, item_item_alpha={t_alpha:g}",
            lambda: neural(max_iter, mask_target=0.5, item_item_alpha=t_alpha),
            {"mask_target": 0.5, "item_item_alpha": t_alpha}, X_t, users, held[users],
            every_held)]
    return [
        table("multibehavior-item-item",
              "Taobao (MB-CGCN split): MultiTaskDAE with and without its item-item term",
              columns, standard, formats=formats,
              notes=[f"Same protocol as the Taobao table; HR@10 unseen over the {len(unseen)} "
                     "test purchases never viewed nor carted. The item-item term's penalty is "
                     "EASE's, chosen on the validation split (grid 50, 200, 800). MultiTaskDAE "
                     f"keeps its best epoch (up to {max_iter}) on its own validation users, "
                     "seed 0. Fit memory is the process's growth during the fit: the first "
                     "MultiTaskDAE fit of the process also pays for TensorFlow's start.",
                     *[f"Validation NDCG@100 by epoch, {name}: {curve}."
                       for name, curve in curves.items() if "mask_target" not in name]]),
        transfer_item_item_table(
            "multibehavior-item-item-transfer",
            "Taobao transfer split: MultiTaskDAE's cloze row with the item-item term", transfer,
            notes=[f"Same split, protocol and {len(users)} users as the transfer table "
                   "(whose cloze row without the term is not refitted here). The penalty "
                   f"({t_alpha:g}) is the one the transfer table's validation chose for "
                   "EASE.",
                   *[f"Validation NDCG@100 by epoch, {name}: {curve}."
                     for name, curve in curves.items() if "mask_target" in name]])]


def _transfer_choice(row):
    """The parameters the transfer table's ``row`` chose on its own validation split,
    read from ``multibehavior_transfer.json``."""
    with open(os.path.join(RESULTS_DIR, "multibehavior_transfer.json")) as f:
        rows = json.load(f)["tables"][0]["rows"]
    return next(r[-1] for r in rows if r[0] == row)


def tuned_transfer_weights():
    """The behaviour weights the transfer table's tuned MultiBehaviorEASE row chose (its
    grid's validation on the transfer kind)."""
    return tuple(_transfer_choice("MultiBehaviorEASE, tuned")["behavior_weights"])


def transfer_ease_alpha():
    """EASE on purchases' penalty for the transfer split, chosen on that split's validation
    (the standard split's choice, ``ease_alpha``, trains on purchases that the transfer
    split holds out for its test: 5,937 of its 7,072)."""
    return float(_transfer_choice("EASE, purchases only")["alpha"])


def run_cross_term(data_home, max_iter):
    """On the transfer split: MultiTaskDAE's item-item term from every behaviour (the tuned
    MultiBehaviorEASE's weights) beside the term on purchases alone and EASE on purchases."""
    from sklearn_recsys import MultiBehaviorEASE

    n, view, cart, buy, buy_test = load(data_home)
    alpha = transfer_ease_alpha()
    weights = tuned_transfer_weights()
    cross_alpha = MultiBehaviorEASE().alpha  # the tuned row's (its default)
    _, held, X_t, users = transfer_data(view, cart, buy, buy_test)
    every_held = np.arange(len(users))
    curves = {}

    def row(name, make, params):
        return item_item_row(name, make, params, X_t, users, held[users], every_held,
                             max_iter, curves)

    rows = [
        row("EASE, purchases only", lambda: _BuysOnly(n, alpha), {"alpha": alpha}),
        row(f"MultiTaskDAE, mask_target=0.5, item_item_alpha={alpha:g}",
            lambda: neural(max_iter, mask_target=0.5, item_item_alpha=alpha),
            {"mask_target": 0.5, "item_item_alpha": alpha}),
        row(f"MultiTaskDAE, mask_target=0.5, item_item_alpha={cross_alpha:g}, "
            f"item_item_behavior_weights={weights}",
            lambda: neural(max_iter, mask_target=0.5, item_item_alpha=cross_alpha,
                           item_item_behavior_weights=weights),
            {"mask_target": 0.5, "item_item_alpha": cross_alpha,
             "item_item_behavior_weights": list(weights)})]
    return transfer_item_item_table(
        "multibehavior-cross-term",
        "Taobao transfer split: MultiTaskDAE's item-item term from every behaviour", rows,
        notes=[f"Same split, protocol and {len(users)} users as the transfer table. The "
               "weighted term reads view, cart and purchase rows with the weights the "
               "transfer table's tuned MultiBehaviorEASE chose on its validation split "
               f"({weights}, read from multibehavior_transfer.json) and that model's penalty "
               f"({cross_alpha:g}, its default); the purchases-only term's penalty ({alpha:g}) "
               "is the one the transfer table's validation chose for EASE. MultiTaskDAE keeps "
               "its best "
               f"epoch (up to {max_iter}) on its own validation users, seed 0.",
               *[f"Validation NDCG@100 by epoch, {name}: {curve}."
                 for name, curve in curves.items()]])


def run_cross_term_decay(data_home, max_iter, decays=(0.1, 1.0)):
    """The weighted-term row of ``run_cross_term`` with stronger weight decay (``alpha``);
    the default's row is read from ``multibehavior_cross_term.json`` (same split and seed)."""
    from sklearn_recsys import MultiBehaviorEASE, MultiTaskDAE

    n, view, cart, buy, buy_test = load(data_home)
    weights = tuned_transfer_weights()
    cross_alpha = MultiBehaviorEASE().alpha
    _, held, X_t, users = transfer_data(view, cart, buy, buy_test)
    with open(os.path.join(RESULTS_DIR, "multibehavior_cross_term.json")) as f:
        earlier = json.load(f)["tables"][0]
    name = next(r[0] for r in earlier["rows"] if "item_item_behavior_weights" in r[0])
    default = next(r for r in earlier["rows"] if r[0] == name)
    ease = next(r for r in earlier["rows"] if r[0] == "EASE, purchases only")
    curve = next(note for note in earlier["notes"] if name in note)
    default_name = f"{name}, alpha={MultiTaskDAE().alpha:g}"
    curves = {default_name: curve.rstrip(".").split(": ")[-1]}
    # rows read back lack the unseen column that the table drops from fitted rows
    rows = [[*ease[:3], None, *ease[3:]],
            [default_name, *default[1:3], None, *default[3:]]]
    for decay in decays:
        rows.append(item_item_row(
            f"{name}, alpha={decay:g}",
            lambda: neural(max_iter, mask_target=0.5, item_item_alpha=cross_alpha,
                           item_item_behavior_weights=weights, alpha=decay),
            {"mask_target": 0.5, "item_item_alpha": cross_alpha,
             "item_item_behavior_weights": list(weights), "alpha": decay},
            X_t, users, held[users], np.arange(len(users)), max_iter, curves))
        print(f"  validation NDCG@100 by epoch, alpha={decay:g}: {curves[rows[-1][0]]}",
              flush=True)
    best = {label: max(float(v) for v in curve.split()) for label, curve in curves.items()}
    chosen = max(best, key=best.get)
    return transfer_item_item_table(
        "multibehavior-cross-term-decay",
        "Taobao transfer split: MultiTaskDAE's weighted term with stronger weight decay",
        rows,
        notes=["Same split, users and protocol as the cross-term table; its EASE row and its "
               "weighted-term row (alpha 0.01, the default) are read from "
               "multibehavior_cross_term.json, the others fitted here (seed 0).",
               "Best validation NDCG@100 (the model's own early-stopping users): "
               + ", ".join(f"alpha={label.rsplit('alpha=', 1)[1]}: {v:.4f}"
                           for label, v in best.items())
               + f"; chosen: alpha={chosen.rsplit('alpha=', 1)[1]}.",
               *[f"Validation NDCG@100 by epoch, {label}: {curve}."
                 for label, curve in curves.items()]])


def stacking_bases(cross):
    """The base models of the stack, three MultiBehaviorEASE settings: the defaults (the user's
    own views and carts by conversion rate), ``cross`` (the setting ``cross_setting`` chose
    for purchases never viewed, cross term first) and purchases alone as the cross term's
    input (EASE on purchases)."""
    from sklearn_recsys import MultiBehaviorEASE

    def mb(**params):
        return MultiBehaviorEASE(behaviors=BEHAVIORS, target="buy", **params)

    return [("mb", mb()),
            ("cross", mb(**cross)),
            ("buys", mb(behavior_weights=(0.0, 0.0, 1.0)))]


def stacked(cross, n_candidates, n_repeats, split=None, ranker=None, similarity=None):
    from sklearn_recsys import StackingRecommender

    return StackingRecommender(stacking_bases(cross), ranker, n_candidates=n_candidates,
                               split=split, n_repeats=n_repeats,
                               similarity_behaviors=similarity, behaviors=BEHAVIORS,
                               target="buy", random_state=0)


def transfer_draws(n_items):
    """A ``split`` for the stack that holds out, per user, an input purchase never viewed nor
    carted (the transfer kind; a new draw per call, one per ``n_repeats``, from seed 1)."""
    draws = np.random.default_rng(1)

    def split(X_in):
        v, c, b = blocks(X_in, n_items)
        b_rest, b_held = transfer_split(v, c, b, draws)
        return stack(v, c, b_rest), b_held

    return split


def run_stacking(data_home, n_candidates, n_repeats):
    """StackingRecommender on both splits (its own held-out purchases train the ranker)."""
    n, view, cart, buy, buy_test = load(data_home)
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    cross = cross_setting(view, cart, buy, "standard")
    model, seconds, mem = fitted(lambda: stacked(cross, n_candidates, n_repeats), X)
    settings = {"n_candidates": n_candidates, "n_repeats": n_repeats, "cross base": cross,
                "candidate_recall_": model.candidate_recall_,
                "ranker iterations": int(model.ranker_.n_iter_)}
    rows = [["StackingRecommender", *scores(model, X, buy_test, unseen), seconds, mem,
             settings]]
    print(rows[-1], flush=True)
    standard = table(
        "multibehavior-stacking",
        "Taobao (MB-CGCN split): StackingRecommender over three MultiBehaviorEASE settings",
        ["model", "HR@10", "NDCG@10", "HR@10 unseen", "fit seconds", "fit memory MB",
         "chosen parameters"], rows,
        formats=["text", "metric", "metric", "metric", "seconds", "mb", "params"],
        notes=["Same protocol and users as the table above. The ranker's training purchases "
               "are held out of the training purchases by the model itself (one per user "
               "with two or more in each of its ``n_repeats`` draws, random_state 0); "
               "``candidate_recall_``: share of them among the "
               f"candidates. HR@10 unseen: the {len(unseen)} test purchases the user neither "
               "viewed nor carted. Cross base: the transfer grid's setting with the best "
               "HR@10 on a transfer-kind validation split of the training purchases (one "
               "purchase never viewed nor carted held out per user, seed 1)."])

    del model
    rows, n_users = transfer_stacks((n, view, cart, buy, buy_test), n_candidates, n_repeats)
    transfer = transfer_table(
        "multibehavior-stacking-transfer", "Taobao transfer split: StackingRecommender", rows,
        [f"Same protocol and {n_users} users as the transfer table above. Default "
         "split: the ranker learns from random held-out purchases (mostly viewed "
         "items); transfer split: from a purchase never viewed nor carted per user, "
         "drawn from the input purchases as the validation split above. Cross base: "
         "chosen as the transfer table's tuned row (same validation split)."])
    return [standard, transfer]


def transfer_stacks(data, n_candidates, n_repeats, similarity=None):
    """The stack on the transfer split, learning from its default held-out purchases and from
    the transfer kind (``split``): the table's rows and the number of test users. ``data``
    is what ``load`` returns."""
    n, view, cart, buy, buy_test = data
    rest, held, X, users = transfer_data(view, cart, buy, buy_test)
    cross = cross_setting(view, cart, rest, "transfer")
    name = "StackingRecommender" + (
        "" if similarity is None else f", similarity_behaviors={similarity!r}")
    extra = {} if similarity is None else {"similarity_behaviors": similarity}
    rows = []
    for label, kwargs in [(f"{name}, default split", {}),
                          (f"{name}, transfer split", {"split": transfer_draws(n)})]:
        model, seconds, mem = fitted(
            lambda: stacked(cross, n_candidates, n_repeats, similarity=similarity, **kwargs), X)
        rows.append([label, *scores(model, X[users], held[users], np.arange(len(users)))[:2],
                     seconds, mem, {"n_candidates": n_candidates, "n_repeats": n_repeats,
                                    **extra, "cross base": cross,
                                    "candidate_recall_": model.candidate_recall_}])
        print(rows[-1], flush=True)
        del model
    return rows, len(users)


def transfer_table(name, title, rows, notes):
    """A table of ``transfer_stacks``' rows."""
    return table(
        name, title,
        ["model", "HR@10", "NDCG@10", "fit seconds", "fit memory MB", "chosen parameters"],
        rows, formats=["text", "metric", "metric", "seconds", "mb", "params"], notes=notes)


FRONTIER_WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)


def stack_scores(data, n_candidates, n_repeats, similarity=None):
    """The standard split's two stacks, learning from their default held-out purchases and
    from the transfer kind (``split``): ``(stacks, scores)``, a stack being ``[HR@10,
    NDCG@10, HR@10 unseen, fit seconds, fit memory MB, recall]`` and its scores the ranker's
    ``decision_function`` of every user. ``data`` is what ``load`` returns."""
    n, view, cart, buy, buy_test = data
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    cross = cross_setting(view, cart, buy, "standard")
    probabilities, stacks = [], []
    for kwargs in ({}, {"split": transfer_draws(n)}):
        model, seconds, mem = fitted(
            lambda: stacked(cross, n_candidates, n_repeats, similarity=similarity, **kwargs), X)
        stacks.append([*scores(model, X, buy_test, unseen), seconds, mem,
                       model.candidate_recall_])
        print(stacks[-1], flush=True)
        # a non-candidate's probability of being the purchase is 0 for the mixture
        p = model.decision_function(X)
        probabilities.append(np.where(np.isfinite(p), p, 0.0))
        del model, p
    return stacks, probabilities


def two_stacks(data_home, n_candidates, n_repeats, similarity=None):
    """The stack trained on its default held-out purchases and the stack trained with the
    transfer kind (``split``) on the standard split, and the mixtures ``(1 - w) x default +
    w x transfer`` of the two rankers' probabilities: ``(stacks, mixtures, n_unseen)``, a
    stack being ``[HR@10, NDCG@10, HR@10 unseen, fit seconds, fit memory MB, recall]``."""
    from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k

    n, view, cart, buy, buy_test = load(data_home)
    unseen = unseen_users(view, cart, buy_test)
    stacks, probabilities = stack_scores(
        (n, view, cart, buy, buy_test), n_candidates, n_repeats, similarity)
    bought = buy.tocoo()
    rows = []
    for w in FRONTIER_WEIGHTS:
        mixed = (1.0 - w) * probabilities[0] + w * probabilities[1]
        mixed[bought.row, bought.col] = -np.inf  # the protocol: training purchases excluded
        row = [w, hit_rate_at_k(buy_test, mixed, k=10), ndcg_at_k(buy_test, mixed, k=10),
               hit_rate_at_k(buy_test[unseen], mixed[unseen], k=10)]
        if w in (0.0, 1.0):  # the ends are the two stacks: the scorers' figures again
            np.testing.assert_allclose(row[1:], stacks[int(w)][:3], rtol=1e-9)
        rows.append(row)
        print(rows[-1], flush=True)
        del mixed
    return stacks, rows, len(unseen)


def frontier_table(name, title, rows, first, n_candidates, n_repeats, n_unseen, fits):
    return table(
        name, title, ["transfer weight w", "HR@10", "NDCG@10", "HR@10 unseen"], rows,
        formats=["ratio", "metric", "metric", "metric"],
        notes=[f"{first} (same bases, n_candidates={n_candidates}, n_repeats={n_repeats}, "
               "random_state 0), fitted "
               "twice on the training data: w = 0 learns from its default held-out purchases, "
               "w = 1 from a purchase never viewed nor carted per user (``split``, the "
               "transfer kind); the rows in between rank by (1 - w) x the first ranker's "
               "probability + w x the second's (0 outside a stack's candidates). Fit seconds: "
               f"{fits[0]:.0f} and {fits[1]:.0f}. HR@10 unseen: the {n_unseen} test "
               "purchases the user neither viewed nor carted."])


def run_frontier(data_home, n_candidates, n_repeats):
    """Overall against unseen HR@10 on the standard split: the stack trained on its default
    held-out purchases, the stack trained with the transfer kind (``split``), and their
    mixtures ``(1 - w) x default + w x transfer`` of the two rankers' probabilities."""
    stacks, rows, n_unseen = two_stacks(data_home, n_candidates, n_repeats)
    return frontier_table(
        "multibehavior-frontier",
        "Taobao (MB-CGCN split): overall against unseen HR@10, mixtures of two stacks", rows,
        "StackingRecommender as in the stacking table", n_candidates, n_repeats, n_unseen,
        [s[3] for s in stacks])


SIMILARITY = "all"


def run_similarity(data_home, n_candidates, n_repeats):
    """The two stacks of the frontier with the co-occurrence features of every behaviour
    (``similarity_behaviors``): each stack's figures, fit time and memory, and their
    mixtures."""
    stacks, rows, n_unseen = two_stacks(data_home, n_candidates, n_repeats, SIMILARITY)
    labels = ("StackingRecommender, similarity_behaviors='all'",
              "StackingRecommender, similarity_behaviors='all', transfer split")
    settings = {"n_candidates": n_candidates, "n_repeats": n_repeats,
                "similarity_behaviors": SIMILARITY}
    first = table(
        "multibehavior-similarity",
        "Taobao (MB-CGCN split): StackingRecommender with co-occurrence features",
        ["model", "HR@10", "NDCG@10", "HR@10 unseen", "fit seconds", "fit memory MB",
         "chosen parameters"],
        [[label, *figures[:5], {**settings, "candidate_recall_": figures[5]}]
         for label, figures in zip(labels, stacks)],
        formats=["text", "metric", "metric", "metric", "seconds", "mb", "params"],
        notes=["The stacking table's stack (same bases and cross base) with "
               "``similarity_behaviors='all'``: for the view, cart and purchase "
               "co-occurrence cosine each, its sum and maximum over the user's viewed, "
               "carted and bought items are ranker features (18 more). Second row: the "
               "same stack learning from a purchase never viewed nor carted per user "
               f"(``split``, the transfer kind). HR@10 unseen: the {n_unseen} test purchases "
               "the user neither viewed nor carted."])
    mixtures = frontier_table(
        "multibehavior-similarity-frontier",
        "Taobao (MB-CGCN split): mixtures of the two stacks with co-occurrence features",
        rows, "StackingRecommender with similarity_behaviors='all' as in the table above",
        n_candidates, n_repeats, n_unseen, [s[3] for s in stacks])
    return [first, mixtures]


# the factors by which --parts room multiplies the probability of the items a user never
# viewed nor carted (1: the stack as it is)
ROOM_BOOSTS = (1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)


def run_room(data_home, n_candidates, n_repeats):
    """How much room a list of ten leaves for purchases never viewed nor carted: per user, the
    viewed or carted items not bought in training (the candidates of that kind), and the
    similarity table's first stack with its probabilities of the other items multiplied by
    each of ``ROOM_BOOSTS``: its figures and how many of its ten items are of the other kind."""
    from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k
    from sklearn_recsys.utils._topk import top_k

    n, view, cart, buy, buy_test = load(data_home)
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    looked = ((view + cart) > 0).astype(np.float32)
    counts = np.diff((looked - looked.multiply(buy > 0)).indptr)
    users = [[len(counts), len(unseen), float(np.median(counts)), float(np.mean(counts >= 10))]]
    print(users[0], flush=True)
    cross = cross_setting(view, cart, buy, "standard")
    model, seconds, _ = fitted(
        lambda: stacked(cross, n_candidates, n_repeats, similarity=SIMILARITY), X)
    p = model.decision_function(X)
    p = np.where(np.isfinite(p), p, 0.0)  # as the frontier: 0 outside the candidates
    del model
    bought, seen = buy.tocoo(), looked.tocoo()
    kept = p[seen.row, seen.col]
    rows = []
    for boost in ROOM_BOOSTS:
        boosted = p * boost
        boosted[seen.row, seen.col] = kept  # the viewed and carted items as they were
        boosted[bought.row, bought.col] = -np.inf  # the protocol: training purchases excluded
        lists = top_k(boosted, 10)[0]
        other = 1.0 - float(looked[np.arange(len(lists))[:, None], lists].mean())
        rows.append([boost, hit_rate_at_k(buy_test, boosted, k=10),
                     ndcg_at_k(buy_test, boosted, k=10),
                     hit_rate_at_k(buy_test[unseen], boosted[unseen], k=10), 10 * other])
        print(rows[-1], flush=True)
        del boosted, lists
    return [
        table("multibehavior-room-users", "Taobao (MB-CGCN split): viewed or carted candidates",
              ["users", "test purchases never viewed nor carted",
               "median viewed or carted items not bought", "users with >= 10 of them"],
              users, formats=["count", "count", "ratio", "ratio"],
              notes=["Per user, the items viewed or carted (train and test files) and not "
                     "bought in the training purchases: the candidates a list of ten holds "
                     "first for the purchases that were viewed or carted."]),
        table("multibehavior-room", "Taobao (MB-CGCN split): room for the unseen purchases",
              ["boost", "HR@10", "NDCG@10", "HR@10 unseen", "items never viewed nor carted"],
              rows, formats=["ratio", "metric", "metric", "metric", "ratio"],
              notes=["The similarity table's first stack (similarity_behaviors='all', "
                     f"n_candidates={n_candidates}, n_repeats={n_repeats}, random_state 0; "
                     f"fit {seconds:.0f} s), refitted; its ranker's probability of each item "
                     "the user never viewed nor carted multiplied by the boost (1: the stack "
                     "itself). Last column: how many of the ten items of a list are of that "
                     f"kind, mean over the users. HR@10 unseen: the {len(unseen)} test "
                     "purchases the user neither viewed nor carted."])]


# the shares of users, likeliest first, whom --parts router sends to the transfer stack's lists
ROUTER_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
# the factors of the transfer stack's probabilities in --parts router's soft rule
ROUTER_WEIGHTS = (0.5, 1.0, 2.0, 3.0, 5.0)
# the false positive rates at which --parts router reads each predictor's true positive rate
ROUTER_FPRS = (0.025, 0.05, 0.1)


def user_counts(view, cart, buys):
    """Per user: purchases, those never viewed nor carted and their share, items viewed,
    carted and either, and those viewed or carted but not bought."""
    looked = ((view + cart) > 0).astype(np.float32).tocsr()
    buys = buys.tocsr()
    n_buys = np.diff(buys.indptr)
    seen = np.asarray(looked.multiply(buys).sum(1)).ravel()
    n_looked = np.diff(looked.indptr)
    return np.c_[n_buys, n_buys - seen, (n_buys - seen) / np.maximum(n_buys, 1),
                 np.diff(view.tocsr().indptr), np.diff(cart.tocsr().indptr), n_looked,
                 n_looked - seen]


def unseen_classifier(view, cart, buy):
    """A classifier of the users' counts (``user_counts``) that predicts whether a user's
    next purchase was never viewed nor carted, trained on one training purchase held out per
    user with two or more (seed 0; the counts without it): the predicted probability of
    every user (counts of all training purchases), the number of training users and their
    share of such purchases."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    buy = buy.tocsr()
    counts = np.diff(buy.indptr)
    users = np.flatnonzero(counts >= 2)
    offsets = (np.random.default_rng(0).random(len(users)) * counts[users]).astype(int)
    picked = buy.indices[buy.indptr[users] + offsets]
    held = sp.csr_matrix((np.ones(len(users), np.float32), (users, picked)), shape=buy.shape)
    rest = (buy - held).tocsr()
    rest.eliminate_zeros()
    label = np.asarray((view + cart)[users, picked]).ravel() == 0
    model = HistGradientBoostingClassifier(random_state=0).fit(
        user_counts(view, cart, rest)[users], label)
    return model.predict_proba(user_counts(view, cart, buy))[:, 1], len(users), label.mean()


def run_router(data_home, n_candidates, n_repeats):
    """Per-user routing between the similarity table's two stacks: how well a user's kind of
    next purchase (never viewed nor carted, or not) is predicted, and the figures of the
    lists that follow the prediction (hard: the likeliest users get the transfer stack's
    lists; soft: the transfer stack's probabilities of the items never viewed nor carted,
    times the predicted probability, beside the default stack's of the others)."""
    from sklearn.metrics import roc_auc_score, roc_curve
    from sklearn_recsys.metrics import hit_rate_at_k, ndcg_at_k

    data = load(data_home)
    n, view, cart, buy, buy_test = data
    unseen = unseen_users(view, cart, buy_test)
    is_unseen = np.zeros(buy.shape[0], dtype=bool)
    is_unseen[unseen] = True
    predicted, n_train, share = unseen_classifier(view, cart, buy)
    stacks, (default, transfer) = stack_scores(data, n_candidates, n_repeats, SIMILARITY)
    looked = ((view + cart) > 0).toarray()
    bought = buy.tocoo()
    default[bought.row, bought.col] = 0.0  # the protocol: training purchases excluded
    mass = np.maximum(default, 0.0)
    own = np.where(looked, 0.0, mass).sum(1) / np.maximum(mass.sum(1), 1e-300)
    del mass

    def rates(name, p):
        fpr, tpr, _ = roc_curve(is_unseen, p)
        row = [name, roc_auc_score(is_unseen, p),
               *(tpr[np.searchsorted(fpr, f, side="right") - 1] for f in ROUTER_FPRS)]
        print(row, flush=True)
        return row

    predictors = [rates("classifier of the users' counts", predicted),
                  rates("default stack's share of mass never viewed nor carted", own)]

    def figures(rule, scores):
        scores[bought.row, bought.col] = -np.inf
        row = [rule, hit_rate_at_k(buy_test, scores, k=10), ndcg_at_k(buy_test, scores, k=10),
               hit_rate_at_k(buy_test[unseen], scores[unseen], k=10)]
        print(row, flush=True)
        return row

    rows = [figures("default stack", default.copy())]
    np.testing.assert_allclose(rows[0][1:], stacks[0][:3], rtol=1e-9)  # the scorers' again
    order = np.argsort(-predicted, kind="stable")
    for q in ROUTER_SHARES:
        routed = np.zeros(len(order), dtype=bool)
        routed[order[:round(q * len(order))]] = True
        rows.append(figures(f"hard: likeliest {q:.0%} to the transfer stack",
                            np.where(routed[:, None], transfer, default)))
    rows.append(figures("hard: the test's own unseen users (reference)",
                        np.where(is_unseen[:, None], transfer, default)))
    weighted = predicted[:, None] * np.maximum(transfer, 0.0)
    for weight in ROUTER_WEIGHTS:
        rows.append(figures(f"soft: weight {weight:g}",
                            np.where(looked, np.maximum(default, 0.0), weight * weighted)))
    return [
        table("multibehavior-router-predictors",
              "Taobao (MB-CGCN split): predicting a test purchase never viewed nor carted",
              ["predictor", "AUC", *(f"TPR at FPR {f:g}" for f in ROUTER_FPRS)], predictors,
              formats=["text", "metric", "metric", "metric", "metric"],
              notes=[f"Over the {buy.shape[0]} users, {len(unseen)} of them positive (their "
                     "test purchase neither viewed nor carted). The classifier "
                     "(HistGradientBoostingClassifier, random_state 0) reads each user's "
                     "counts of purchases, of those never viewed nor carted and their share, "
                     "of viewed, carted, either, and viewed or carted but not bought items; "
                     f"it learns from one training purchase held out per user with two or "
                     f"more ({n_train} users, {share:.1%} of them positive, seed 0). The "
                     "second predictor is the default stack's probability mass on such "
                     "items, as a share of its mass on every item."]),
        table("multibehavior-router", "Taobao (MB-CGCN split): lists routed per user",
              ["rule", "HR@10", "NDCG@10", "HR@10 unseen"], rows,
              formats=["text", "metric", "metric", "metric"],
              notes=["The similarity table's two stacks (similarity_behaviors='all', "
                     f"n_candidates={n_candidates}, n_repeats={n_repeats}, random_state 0; "
                     f"fits {stacks[0][3]:.0f} and {stacks[1][3]:.0f} s), refitted. Hard: the "
                     "users the classifier ranks likeliest to buy an item never viewed nor "
                     "carted get the transfer stack's list, the others the default's; the "
                     "reference row routes by the test purchases themselves. Soft: each "
                     "user's viewed or carted items keep the default stack's probability, the "
                     "others get the transfer stack's times the classifier's probability "
                     "times the weight. HR@10 unseen: the "
                     f"{len(unseen)} test purchases the user neither viewed nor carted."])]


def run_similarity_transfer(data_home, n_candidates, n_repeats):
    """The stacks of the stacking part's transfer table with ``similarity_behaviors``."""
    rows, n_users = transfer_stacks(load(data_home), n_candidates, n_repeats, SIMILARITY)
    return transfer_table(
        "multibehavior-similarity-transfer",
        "Taobao transfer split: StackingRecommender with co-occurrence features", rows,
        [f"The stacks of the transfer split's stacking table ({n_users} users, same "
         "bases, cross base and splits) with ``similarity_behaviors='all'`` (the "
         "co-occurrence features of the similarity table, computed on the input "
         "data, never on the held-out purchases)."])


# changes to the default ranker's settings (StackingRecommender's), each row's ranker seeded
# 0 (the default's seed is drawn by the stack); None: the default itself
RANKER_SETTINGS = (None, {"max_leaf_nodes": 127, "max_iter": 600},
                   {"max_leaf_nodes": 15, "max_iter": 1000},
                   {"early_stopping": False, "max_iter": 600})
# the default ranker's settings the table's note names (those that differ from scikit-learn's)
DEFAULT_RANKER_SHOWN = ("learning_rate", "max_iter", "min_samples_leaf", "l2_regularization")


def run_ranker(data_home, n_candidates, n_repeats):
    """The stack of the stacking table with other gradient-boosted rankers (standard split)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    n, view, cart, buy, buy_test = load(data_home)
    X = stack(view, cart, buy)
    unseen = unseen_users(view, cart, buy_test)
    cross = cross_setting(view, cart, buy, "standard")
    # the stack's own default ranker's settings, not a copy of them
    defaults = stacked(cross, n_candidates, n_repeats)._make_ranker(
        np.random.RandomState(0)).get_params()
    rows = []
    for change in RANKER_SETTINGS:
        ranker = (None if change is None else
                  HistGradientBoostingClassifier(**{**defaults, **change, "random_state": 0}))
        model, seconds, _ = fitted(
            lambda: stacked(cross, n_candidates, n_repeats, ranker=ranker), X)
        rows.append(["default" if change is None else change,
                     *scores(model, X, buy_test, unseen), int(model.ranker_.n_iter_),
                     seconds])
        print(rows[-1], flush=True)
        del model
    return table(
        "multibehavior-ranker",
        "Taobao (MB-CGCN split): the stack with other rankers",
        ["ranker (change to the default)", "HR@10", "NDCG@10", "HR@10 unseen",
         "ranker iterations", "fit seconds"], rows,
        formats=["params", "metric", "metric", "metric", "count", "seconds"],
        notes=["StackingRecommender as in the stacking table (same bases and cross base, "
               f"n_candidates={n_candidates}, n_repeats={n_repeats}, random_state 0), its "
               "ranker replaced by HistGradientBoostingClassifier with the default's settings "
               f"({', '.join(f'{k}={defaults[k]}' for k in DEFAULT_RANKER_SHOWN)}, early "
               f"stopping on {defaults['validation_fraction']:.0%} of the pairs after "
               f"{defaults['n_iter_no_change']} rounds without gain) but the change in "
               "the first column (random_state 0); \"default\" is the stack's own ranker. HR@10 "
               f"unseen: the {len(unseen)} test purchases the user neither viewed nor "
               "carted."])


def run_fit_time(data_home, repeats):
    """Medians of ``repeats`` fits of EASE on purchases and ``MultiBehaviorEASE`` (defaults),
    in turns, with the cross term's two steps and the former product timed apart."""
    from sklearn_recsys import MultiBehaviorEASE
    from sklearn_recsys.linear._ease import penalized_gram_inverse
    from sklearn_recsys.linear._multi_behavior import target_input_product, weighted_blocks
    from sklearn_recsys.utils._sparse_dense import csr_dense_product

    n, view, cart, buy, _ = load(data_home)
    X = stack(view, cart, buy)
    alpha, weights = MultiBehaviorEASE().alpha, (1.0,) * len(BEHAVIORS)  # its defaults
    Z, Y = weighted_blocks(X, n, weights), blocks(X, n)[2]
    times = {key: [] for key in ("ease", "mb", "inverse", "product", "former", "score",
                                 "score_scipy")}  # in the table's order
    memory = {}
    target_input_product(Y[:50], Z[:50], np.eye(n, 8, dtype=X.dtype))  # numba's compile

    def timed(key, fn):
        start = time.perf_counter()
        with PeakRSS() as mem:
            out = fn()
        times[key].append(time.perf_counter() - start)
        memory.setdefault(key, mem.growth_mb)
        return out

    for r in range(repeats):
        timed("ease", lambda: _BuysOnly(n, alpha).fit(X))
        W = timed("mb", lambda: MultiBehaviorEASE(behaviors=BEHAVIORS, target="buy").fit(
            X)).coef_
        scored = timed("score", lambda: csr_dense_product(Z, W))
        if not np.array_equal(scored, timed("score_scipy", lambda: np.asarray(Z @ W))):
            raise AssertionError("the parallel scoring product differs from scipy's")
        W = scored = None
        P = timed("inverse", lambda: penalized_gram_inverse(Z, alpha))
        new = timed("product", lambda: target_input_product(Y, Z, P))
        old = timed("former", lambda: np.asarray((Y.T @ Z).tocsr() @ P))
        if r == 0:
            gap = float(np.abs(new - old).max() / np.abs(old).max())
        P = new = old = None  # free the three (n_items, n_items) arrays before the next fits
        print({key: [round(t, 2) for t in v] for key, v in times.items()}, flush=True)
    med = {key: float(np.median(v)) for key, v in times.items()}
    each = {key: ", ".join(f"{t:.1f}" for t in v) for key, v in times.items()}
    cooc = (Y.T @ Z).nnz
    labels = {"ease": "EASE on purchases, fit",
              "mb": "MultiBehaviorEASE (defaults), fit",
              "inverse": "  penalized Gram inverse (Z^T Z + alpha I)^-1",
              "product": "  product Y^T (Z P), by chunks of users",
              "former": "  former product (Y^T Z) P (reference)",
              "score": "scoring every user, Z W, parallel kernel",
              "score_scipy": "scoring every user, Z W, scipy (reference)"}
    rows = [[label, med[key], med[key] / med["ease"], memory[key], each[key]]
            for key, label in labels.items()]
    return table(
        "multibehavior-fit-time",
        "Taobao (MB-CGCN split): MultiBehaviorEASE's fit beside EASE's",
        ["step", "seconds (median)", "x EASE's fit", "memory MB (first)", "seconds (each)"],
        rows, formats=["text", "seconds", "ratio", "mb", "text"],
        notes=[f"{X.shape[0]} users, {n} items, float32; penalty {alpha:g} for both; "
               f"behavior weights {weights} (the defaults); {repeats} fits of each, in turns. "
               f"nnz: Z {Z.nnz}, Y {Y.nnz}, Y^T Z {cooc}. The two products of the fit differ "
               f"by at most {gap:.1e} of the largest entry (float rounding); the two scoring "
               "products are equal bit for bit (checked at every repeat)."])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--parts", default="standard,transfer,stacking")
    parser.add_argument("--n-candidates", type=int, default=100,
                        help="StackingRecommender: candidates per base model")
    parser.add_argument("--n-repeats", type=int, default=2,
                        help="StackingRecommender: held-out draws its ranker learns from")
    parser.add_argument("--max-iter", type=int, default=30,
                        help="epochs of MultiTaskDAE at most (early stopping picks the best)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="fit-time part: fits of each model (medians)")
    args = parser.parse_args(argv)
    epochs = ("data_home", "max_iter")
    stacks = ("data_home", "n_candidates", "n_repeats")
    # part -> (results file, the function writing its table or tables, its arguments)
    runs = {
        "standard": ("multibehavior_taobao", run_standard, epochs),
        "transfer": ("multibehavior_transfer", run_transfer, epochs),
        "transfer-autoencoders": ("multibehavior_transfer_autoencoders",
                                  run_transfer_autoencoders, epochs),
        "item-item": ("multibehavior_item_item", run_item_item, epochs),
        "cross-term": ("multibehavior_cross_term", run_cross_term, epochs),
        "cross-term-decay": ("multibehavior_cross_term_decay", run_cross_term_decay, epochs),
        "stacking": ("multibehavior_stacking", run_stacking, stacks),
        "frontier": ("multibehavior_frontier", run_frontier, stacks),
        "similarity": ("multibehavior_similarity", run_similarity, stacks),
        "similarity-transfer": ("multibehavior_similarity_transfer", run_similarity_transfer,
                                stacks),
        "room": ("multibehavior_room", run_room, stacks),
        "router": ("multibehavior_router", run_router, stacks),
        "fit-time": ("multibehavior_fit_time", run_fit_time, ("data_home", "repeats")),
        "ranker": ("multibehavior_ranker", run_ranker, stacks),
    }
    parts = args.parts.split(",")
    unknown = [part for part in parts if part not in runs]
    if unknown:
        parser.error(f"unknown parts {unknown}; the parts are {list(runs)}")
    for part in runs:  # in this order, whatever the order asked
        if part in parts:
            name, run, names = runs[part]
            tables = run(*(getattr(args, a) for a in names))
            tables = [tables] if isinstance(tables, dict) else tables
            write_results(name, [show(t) for t in tables])


if __name__ == "__main__":
    main()
