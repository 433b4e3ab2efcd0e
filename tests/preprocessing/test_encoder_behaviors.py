"""InteractionEncoder with a behaviour column: one column block per behaviour, raw ids back."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from sklearn_recsys import MultiBehaviorEASE
from sklearn_recsys.preprocessing import InteractionEncoder

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ("view", "cart", "buy")


@st.composite
def behaviour_logs(draw):
    n = draw(st.integers(1, 30))
    ids = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=n, max_size=n)
    return {"user_id": draw(ids), "item_id": draw(ids),
            "event": draw(st.lists(st.sampled_from(NAMES), min_size=n, max_size=n)),
            "value": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))}


@SETTINGS
@given(behaviour_logs())
def test_each_block_is_the_log_of_its_behaviour(log):
    enc = InteractionEncoder(behavior_col="event", behaviors=NAMES, value_col="value").fit(log)
    X = enc.transform(log)
    n = enc.n_items_
    assert X.shape == (enc.n_users_, 3 * n) and enc.behaviors_ == NAMES
    plain = InteractionEncoder(value_col="value").fit(log)
    for b, name in enumerate(NAMES):
        keep = np.asarray(log["event"]) == name
        sub = {key: np.asarray(values)[keep] for key, values in log.items()}
        expected = plain.transform(sub).toarray() if keep.any() else np.zeros((enc.n_users_, n))
        assert_array_equal(X[:, b * n:(b + 1) * n].toarray(), expected)


def test_behaviours_sorted_by_default_and_refused_when_unknown():
    log = {"user_id": [1, 1, 2], "item_id": [5, 6, 5], "event": ["view", "buy", "view"]}
    enc = InteractionEncoder(behavior_col="event").fit(log)
    assert enc.behaviors_ == ("buy", "view")
    assert_array_equal(enc.transform(log).toarray(), [[0, 1, 1, 0], [0, 0, 1, 0]])
    with pytest.raises(ValueError, match=r"\['like'\] that are not among"):
        enc.transform({"user_id": [1], "item_id": [5], "event": ["like"]})
    with pytest.raises(ValueError, match=r"\['view'\] that are not among"):
        InteractionEncoder(behavior_col="event", behaviors=("buy",)).fit(log)
    with pytest.raises(TypeError, match="named columns"):
        InteractionEncoder(behavior_col="event").fit(([1], [5]))
    with pytest.raises(ValueError, match="behavior_col is None"):
        InteractionEncoder(behaviors=("buy",)).fit(log)


def test_recommend_and_explain_in_raw_ids_with_the_behaviour():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 40, 600), rng.integers(0, 15, 600)
    events = np.where(rng.random(600) < 0.6, "view", np.where(rng.random(600) < 0.5, "cart", "buy"))
    log = pd.DataFrame({"user_id": users, "item_id": [f"sku{i}" for i in items], "event": events})
    enc = InteractionEncoder(behavior_col="event", behaviors=NAMES)
    X = enc.fit_transform(log)
    model = MultiBehaviorEASE(behaviors=NAMES, alpha=2.0).fit(X)
    recs = enc.recommend(model, log, k=3)
    bought = set(zip(log.user_id[log.event == "buy"], log.item_id[log.event == "buy"]))
    assert not any((u, i) in bought for u, i in zip(recs.user_id, recs.item_id))
    one = log[log.user_id == 3]
    table = enc.explain(model, one, "sku4")
    assert set(zip(table.item_id, table.event)) == set(zip(one.item_id, one.event))
    x = enc.transform(one)[3]
    item = enc.get_item_indices(["sku4"])[0]
    assert table.contribution.sum() == pytest.approx(model.decision_function(x)[0, item])


def test_refit_without_behaviours_forgets_them():
    log = {"user_id": [1, 1, 2], "item_id": [5, 6, 5], "event": ["view", "buy", "view"]}
    enc = InteractionEncoder(behavior_col="event").fit(log)
    enc.set_params(behavior_col=None).fit(log)
    assert not hasattr(enc, "behaviors_")
    assert enc.transform(log).shape == (2, 2)


def test_behavior_col_changed_after_fit_is_refused_until_set_back_or_refitted():
    """Set after a fit without behaviours, transform raised AttributeError ('behaviors_');
    unset after a fit with them, it stacked one block where the fit had two."""
    log = {"user_id": [1, 1, 2], "item_id": [5, 6, 5], "event": ["view", "buy", "view"]}
    for fitted_with, changed_to in (("event", None), (None, "event")):
        enc = InteractionEncoder(behavior_col=fitted_with).fit(log)
        expected = enc.transform(log)
        enc.set_params(behavior_col=changed_to)
        with pytest.raises(ValueError, match=f"behavior_col is {changed_to!r}.*fitted "
                           f"{'with' if fitted_with else 'without'} a behaviour column"):
            enc.transform(log)
        enc.set_params(behavior_col=fitted_with)
        assert (enc.transform(log) != expected).nnz == 0
        assert enc.set_params(behavior_col=changed_to).fit(log).transform(log).shape[1] == (
            2 if fitted_with else 4)
