"""Raw ids in and out: recommend, similar_items and explain through the encoder (issue 14)."""

import numpy as np
import pandas as pd
import pytest

from sklearn_recsys import EASE, ImplicitALS
from sklearn_recsys.pipeline import make_pipeline
from sklearn_recsys.preprocessing import InteractionEncoder, RatingBinarizer


@pytest.fixture
def log():
    rng = np.random.default_rng(0)
    users = np.array([f"u{i}" for i in rng.integers(0, 80, 1500)])
    items = np.array([f"m{j}" for j in rng.integers(0, 40, 1500)])
    return pd.DataFrame({"user": users, "movie": items,
                         "stars": rng.integers(1, 6, 1500).astype(float)})


@pytest.fixture
def encoder(log):
    return InteractionEncoder(user_col="user", item_col="movie", value_col="stars",
                              duplicates="last").fit(log)


def test_ids_round_trip_in_one_call(encoder):
    cols = encoder.get_item_indices(["m3", "m10", "m3"])
    assert encoder.inverse_transform(cols).tolist() == ["m3", "m10", "m3"]
    rows = encoder.get_user_indices(["u5", "u0"])
    assert encoder.user_ids_[rows].tolist() == ["u5", "u0"]
    assert encoder.get_item_indices("m7").tolist() == [list(encoder.item_ids_).index("m7")]
    with pytest.raises(ValueError, match="1 item id.*not seen in fit.*'nope'"):
        encoder.get_item_indices(["m1", "nope"])
    with pytest.raises(TypeError, match="fitted on string ids"):
        encoder.get_item_indices([3])


def test_recommend_table_equals_the_index_answer(log, encoder):
    X = encoder.transform(log)
    model = EASE(alpha=10.0).fit(X)
    some = log[log["user"].isin(["u3", "u17", "u42"])]
    table = encoder.recommend(model, some, k=5)
    assert list(table.columns) == ["user", "rank", "movie", "score"]
    rows = encoder.get_user_indices(["u17", "u3", "u42"])
    idx, scores = model.recommend(X[np.sort(rows)], k=5)
    expected_users = encoder.user_ids_[np.sort(rows)]
    assert table["user"].tolist() == np.repeat(expected_users, 5).tolist()
    assert table["movie"].tolist() == encoder.inverse_transform(idx).ravel().tolist()
    np.testing.assert_allclose(table["score"], scores.ravel())
    assert table["rank"].tolist() == [1, 2, 3, 4, 5] * 3


def test_a_new_user_gets_recommendations_from_a_few_raw_items(log, encoder):
    model = EASE(alpha=10.0).fit(encoder.transform(log))
    new = {"user": ["zoe", "zoe", "zoe"], "movie": ["m1", "m2", "m5"], "stars": [5.0, 4.0, 5.0]}
    table = encoder.recommend(model, new, k=4, as_frame=False)
    assert table["user"].tolist() == ["zoe"] * 4
    assert not set(table["movie"]) & {"m1", "m2", "m5"}
    x = encoder.transform(new)[-1:]
    idx, _ = model.recommend(x, k=4)
    assert table["movie"].tolist() == encoder.inverse_transform(idx[0]).tolist()


def test_exclude_log_and_pipeline_and_titles(log, encoder):
    X = encoder.transform(log)
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=10.0)).fit(X)
    liked = log[(log["user"] == "u3") & (log["stars"] >= 4)]
    rated = log[log["user"] == "u3"]
    titles = pd.DataFrame({"title": [f"Movie {j}" for j in range(40)]},
                          index=[f"m{j}" for j in range(40)])
    table = encoder.recommend(pipe, liked, k=10, exclude=rated, item_info=titles)
    assert not set(table["movie"]) & set(rated["movie"])
    assert (table["title"] == "Movie " + table["movie"].str[1:]).all()
    aligned = {"title": [f"Movie {m[1:]}" for m in encoder.item_ids_]}
    table2 = encoder.recommend(pipe, liked, k=10, exclude=rated, item_info=aligned)
    assert table2["title"].tolist() == table["title"].tolist()
    table3 = encoder.recommend(pipe, liked, k=10, exclude=rated, item_info=titles["title"])
    assert table3["title"].tolist() == table["title"].tolist()  # a Series works too
    # exclude reads the (user, item) pairs only: a table without the value column is the
    # same log of pairs (it raised a KeyError telling to rename columns)
    pairs = rated[["user", "movie"]]
    assert encoder.recommend(pipe, liked, k=10, exclude=pairs)["movie"].tolist() == \
        table["movie"].tolist()
    with pytest.raises(ValueError, match="The log is empty"):  # an IndexError with exclude
        encoder.recommend(pipe, liked[:0], k=3, exclude=pairs)
    with pytest.raises(ValueError, match=r"item_info columns \['score'\] would overwrite"):
        encoder.recommend(pipe, liked, k=3, item_info=titles.rename(columns={"title": "score"}))
    with pytest.raises(ValueError, match="item_ids is empty"):
        encoder.similar_items(pipe, [], k=3)


def test_similar_items_and_explain_in_raw_ids(log, encoder):
    X = encoder.transform(log)
    model = EASE(alpha=10.0).fit(X)
    sim = encoder.similar_items(model, ["m4", "m9"], k=3)
    idx, scores = model.similar_items(encoder.get_item_indices(["m4", "m9"]), k=3)
    assert sim["similar_movie"].tolist() == encoder.inverse_transform(idx).ravel().tolist()
    assert sim["movie"].tolist() == ["m4"] * 3 + ["m9"] * 3
    one = log[log["user"] == "u3"]
    exp = encoder.explain(model, one, "m7")
    x = encoder.transform(one)[encoder.get_user_indices(["u3"])]
    assert exp["contribution"].sum() == pytest.approx(
        model.decision_function(x)[0, encoder.get_item_indices("m7")[0]])
    assert set(exp["movie"]) == set(one["movie"])
    with pytest.raises(ValueError, match="log of one user"):
        encoder.explain(model, log, "m7")
    als = ImplicitALS(n_components=4, max_iter=3, random_state=0).fit(X)
    assert len(encoder.similar_items(als, ["m4"], k=5)) == 5
    # against: the item's lead over other items, as raw ids or a count of runners-up
    lead = encoder.explain(model, one, "m7", against=["m4", "m9"])
    cols = encoder.get_item_indices(["m7", "m4", "m9"])
    scores = model.decision_function(x)[0, cols]
    assert lead["contribution"].sum() == pytest.approx(scores[0] - scores[1:].mean())
    items, contributions = model.explain_contrast(x, cols[0], against=cols[1:])
    assert lead["movie"].tolist() == encoder.item_ids_[items].tolist()
    np.testing.assert_array_equal(lead["contribution"], contributions)
    top = encoder.recommend(model, one, k=4)["movie"].tolist()
    runners = encoder.explain(model, one, top[0], against=3)
    np.testing.assert_array_equal(runners["contribution"], encoder.explain(
        model, one, top[0], against=top[1:])["contribution"])
    for bad in ("m4", True):
        with pytest.raises(TypeError, match="a list even for one id"):
            encoder.explain(model, one, "m7", against=bad)
    seen = one["movie"].iloc[0]
    with pytest.raises(ValueError, match=f"item '{seen}' is not in the user's recommendation"):
        encoder.explain(model, one, seen, against=3)


def test_explain_against_runners_up_of_a_pipeline_excludes_the_raw_history(log, encoder):
    """Through a pipeline the runners-up are those of the user's own list, which leaves out
    every item of the raw log, also those the binarizer drops."""
    X = encoder.transform(log)
    pipe = make_pipeline(RatingBinarizer(threshold=4), EASE(alpha=10.0)).fit(X)
    users = log.groupby("user")["stars"].agg(lambda r: (r < 4).any() and (r >= 4).any())
    one = log[log["user"] == users[users].index[0]]
    top = encoder.recommend(pipe, one, k=5)["movie"].tolist()
    assert not set(top) & set(one["movie"])
    runners = encoder.explain(pipe, one, top[0], against=4)
    np.testing.assert_array_equal(runners["contribution"], encoder.explain(
        pipe, one, top[0], against=top[1:])["contribution"])
    low = one.loc[one["stars"] < 4, "movie"].iloc[0]
    with pytest.raises(ValueError, match="not in the user's recommendation list"):
        encoder.explain(pipe, one, low, against=3)


def test_a_model_of_another_catalogue_is_refused(log, encoder):
    X = encoder.transform(log)
    wider = EASE(alpha=10.0).fit(np.hstack([X.toarray(), np.ones((X.shape[0], 1))]))
    for call in (lambda: encoder.recommend(wider, log, k=3),
                 lambda: encoder.similar_items(wider, ["m4"], k=3),
                 lambda: encoder.explain(wider, log[log["user"] == "u3"], "m7")):
        with pytest.raises(ValueError, match="takes 41 columns and scores 41 items, but the "
                                             "encoder has 40 items"):
            call()
    # a single-behaviour model fitted on a behaviour encoder's stacked blocks
    log = log.assign(event=np.where(np.arange(len(log)) % 3, "view", "buy"))
    stacked = InteractionEncoder(user_col="user", item_col="movie", behavior_col="event",
                                 behaviors=("view", "buy")).fit(log)
    with pytest.raises(ValueError, match=r"multi-behaviour model \(behaviors=\('view', "
                                         r"'buy'\)\)"):
        stacked.recommend(EASE(alpha=10.0).fit(stacked.transform(log)), log, k=3)
    # the right sizes but the blocks named in another order than the encoder's
    from sklearn_recsys import MultiBehaviorEASE

    swapped = MultiBehaviorEASE(behaviors=("buy", "view")).fit(stacked.transform(log))
    with pytest.raises(ValueError, match=r"told behaviors=\('buy', 'view'\), but the "
                                         r"encoder's blocks are \('view', 'buy'\)"):
        stacked.recommend(swapped, log, k=3)
    ordered = MultiBehaviorEASE(behaviors=stacked.behaviors_).fit(stacked.transform(log))
    assert len(stacked.recommend(ordered, log, k=3)) > 0
    # other names in the encoder's order (an encoder of integer codes) are the user's call
    coded = InteractionEncoder(user_col="user", item_col="movie", behavior_col="code").fit(
        log.assign(code=np.where(log["event"] == "view", 1, 2)))
    named = MultiBehaviorEASE(behaviors=("view", "buy")).fit(
        coded.transform(log.assign(code=np.where(log["event"] == "view", 1, 2))))
    assert coded.behaviors_ == ("1", "2")
    assert len(coded.recommend(named, log.assign(code=np.where(log["event"] == "view", 1, 2)),
                               k=3)) > 0


def test_item_info_is_checked_against_the_catalogue(log, encoder):
    """Metadata of another catalogue, a positional index or ids of another type would
    label items with other items' data (or with nothing): refused, naming the fix."""
    model = EASE(alpha=10.0).fit(encoder.transform(log))
    one = log[log["user"] == "u3"]
    n = encoder.n_items_
    # lists of equal length (a loader's empty item_tags): one list per row, not a 2-D block
    tags = {"tags": [[] for _ in range(n)], "pair": [[m, m] for m in encoder.item_ids_]}
    table = encoder.recommend(model, one, k=4, item_info=tags, as_frame=False)
    assert table["tags"].shape == (4,) and table["tags"].tolist() == [[]] * 4
    assert [p[0] for p in table["pair"]] == table["movie"].tolist()
    assert encoder.recommend(model, one, k=4, item_info=tags)["pair"].str[1].tolist() == \
        table["movie"].tolist()
    # one entry too many (e.g. every movie of movies.csv, some never rated)
    with pytest.raises(ValueError, match=r"item_info\['title'\] has 41 entries, but the "
                                         r"encoder has 40 item columns"):
        encoder.recommend(model, one, k=4, item_info={"title": ["x"] * (n + 1)})
    # a Series in column order has the index 0..n-1, not the raw ids
    positional = pd.Series([f"Movie {m[1:]}" for m in encoder.item_ids_], name="title")
    with pytest.raises(ValueError, match="default index 0, 1, ..., 39"):
        encoder.recommend(model, one, k=4, item_info=positional)
    with pytest.raises(ValueError, match="default index"):
        encoder.similar_items(model, ["m4"], k=2, item_info=positional.to_frame())
    # an index of ints for string ids: nothing would match
    numbered = pd.DataFrame({"title": positional.values},
                            index=[int(m[1:]) for m in encoder.item_ids_])
    with pytest.raises(ValueError, match="None of the encoder's item ids.*dtype int64"):
        encoder.recommend(model, one, k=4, item_info=numbered)
    # a Series indexed by raw id inside a mapping is joined by id, as a table is (it was
    # read by position: every item got another's title; found by an audit helper), and
    # one in column order (index 0..n-1) is still read as a sequence
    by_id = pd.Series({m: f"title of {m}" for m in encoder.item_ids_[::-1]})
    table = encoder.recommend(model, one, k=6, item_info={"title": by_id})
    assert table["title"].tolist() == [f"title of {m}" for m in table["movie"]]
    table = encoder.recommend(model, one, k=6, item_info={"title": positional})
    assert table["title"].tolist() == [f"Movie {m[1:]}" for m in table["movie"]]
    # repeated ids: which row's metadata? refused, naming them (pandas' InvalidIndexError)
    twice = pd.DataFrame({"title": ["a", "b", "c"]}, index=["m1", "m2", "m1"])
    for info in (twice, {"title": twice["title"]}):
        with pytest.raises(ValueError, match=r"item_info's index repeats item ids \(\['m1'\]"):
            encoder.recommend(model, one, k=4, item_info=info)
    # a table of some items only is fine: the others get NaN
    partial = pd.DataFrame({"title": ["first"]}, index=[encoder.item_ids_[0]])
    table = encoder.recommend(model, one, k=40, item_info=partial)
    assert table.loc[table["movie"] == encoder.item_ids_[0], "title"].tolist() in ([], ["first"])
    assert table["title"].isna().sum() >= len(table) - 1


def test_recommend_joins_user_features_by_raw_user_id(log, encoder):
    from sklearn_recsys import HybridMF

    X = encoder.transform(log)
    rng = np.random.default_rng(1)
    G = rng.normal(size=(X.shape[0], 3))
    model = HybridMF(n_components=4, max_iter=5, random_state=0).fit(X, user_features=G)
    features = pd.DataFrame(G, index=encoder.user_ids_, columns=["a", "b", "c"])
    # fitted with the same table's columns (names kept): the joined rows keep them, so a
    # table with its columns in another order is refused, not read by position
    named = HybridMF(n_components=4, max_iter=5, random_state=0).fit(
        X, user_features=pd.DataFrame(G, columns=["a", "b", "c"]))
    with pytest.raises(ValueError, match="column 0 is 'c', in fit it was 'a'"):
        encoder.recommend(named, log[log["user"] == "u3"], k=5,
                          user_features=features[["c", "b", "a"]])
    some = log[log["user"].isin(["u3", "u17", "u42"])]
    rows = np.sort(encoder.get_user_indices(["u3", "u17", "u42"]))
    # rows joined by id, whatever the table's order (shuffled, with other users)
    table = encoder.recommend(model, some, k=5, user_features=features.sample(frac=1.0,
                                                                              random_state=0))
    idx, scores = model.recommend(X[rows], k=5, user_features=G[rows])
    assert table["movie"].tolist() == encoder.inverse_transform(idx).ravel().tolist()
    np.testing.assert_allclose(table["score"], scores.ravel())
    # the features move the lists: without them the same users get others
    plain = encoder.recommend(model, some, k=5)
    assert plain["movie"].tolist() != table["movie"].tolist()
    # a brand-new user is scored with its own row of features
    new = {"user": ["zoe"], "movie": ["m1"], "stars": [5.0]}
    zoe = pd.DataFrame([[3.0, -3.0, 0.5]], index=["zoe"], columns=["a", "b", "c"])
    got = encoder.recommend(model, new, k=3, user_features=zoe)
    idx, _ = model.recommend(encoder.transform(new)[-1:], k=3, user_features=zoe.to_numpy())
    assert got["movie"].tolist() == encoder.inverse_transform(idx[0]).tolist()
    with pytest.raises(ValueError, match="no row for 1 of the log's 3 user.*'u42'"):
        encoder.recommend(model, some, k=5, user_features=features.drop(index="u42"))
    with pytest.raises(ValueError, match="repeats user ids"):
        encoder.recommend(model, some, k=5,
                          user_features=pd.concat([features, features.iloc[:1]]))
    with pytest.raises(TypeError, match="DataFrame indexed by raw user id"):
        encoder.recommend(model, some, k=5, user_features=G[rows])
    with pytest.raises(TypeError, match="EASE reads no user_features"):
        encoder.recommend(EASE(alpha=10.0).fit(X), some, k=5, user_features=features)


def test_a_fitted_search_is_served_by_its_best_model(log, encoder):
    # the scorers took a fitted search; encoder.recommend and recommend raised
    # AttributeError: 'GridSearchCV' object has no attribute 'recommend' (audit 58b)
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import GridSearchCV

    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.pipeline import make_pipeline, recommend

    X = encoder.transform(log)
    search = GridSearchCV(make_pipeline(EASE()), {"ease__alpha": [1.0, 100.0]}, cv=2,
                          scoring=make_ranking_scorer("ndcg", k=5)).fit(X)
    best = search.best_estimator_
    some = log[log["user"].isin(["u3", "u17"])]
    for served in (search, FrozenEstimator(best)):
        assert encoder.recommend(served, some, k=5).equals(encoder.recommend(best, some, k=5))
        np.testing.assert_array_equal(recommend(served, X[:4], k=5)[0],
                                      recommend(best, X[:4], k=5)[0])
    item = encoder.item_ids_[0]
    assert encoder.similar_items(search, [item], k=3).equals(
        encoder.similar_items(best, [item], k=3))
    one = log[log["user"] == "u3"]
    target = encoder.recommend(best, one, k=1)["movie"].iloc[0]
    assert encoder.explain(search, one, target).equals(encoder.explain(best, one, target))


def test_recommend_chooses_among_raw_candidate_ids(log, encoder):
    # candidates were column indices only: raw integer ids (MovieLens' 1..1682 against
    # columns 0..1681) named the next item, silently (audit 58b)
    X = encoder.transform(log)
    model = EASE(alpha=10.0).fit(X)
    some = log[log["user"].isin(["u3", "u17"])]
    stock = list(encoder.item_ids_[::3])
    table = encoder.recommend(model, some, k=4, candidates=stock)
    assert set(table["movie"]) <= set(stock)
    rows = np.sort(encoder.get_user_indices(["u3", "u17"]))
    idx, scores = model.recommend(X[rows], k=4, candidates=encoder.get_item_indices(stock))
    assert table["movie"].tolist() == encoder.inverse_transform(idx).ravel().tolist()
    np.testing.assert_allclose(table["score"], scores.ravel())
    with pytest.raises(ValueError, match="1 item id\\(s\\) were not seen in fit"):
        encoder.recommend(model, some, k=4, candidates=stock + ["no such movie"])


def test_each_user_of_a_mixed_log_gets_their_own_list(log, encoder):
    # new users (in log order "zz" before "aa", neither sorted nor fitted) beside fitted
    # ones: each row of the table must be the list of the user it names
    model = EASE(alpha=10.0).fit(encoder.transform(log))
    mixed = pd.DataFrame({"user": ["zz", "zz", "u7", "aa", "u3", "aa"],
                          "movie": ["m1", "m2", "m9", "m30", "m4", "m31"],
                          "stars": [5.0, 4.0, 3.0, 5.0, 2.0, 4.0]})
    table = encoder.recommend(model, mixed, k=3, as_frame=False)
    assert sorted(set(table["user"])) == ["aa", "u3", "u7", "zz"]
    for user in ("zz", "aa", "u7", "u3"):
        alone = encoder.recommend(model, mixed[mixed["user"] == user], k=3, as_frame=False)
        assert table["movie"][table["user"] == user].tolist() == alone["movie"].tolist()
    # the two new users' histories differ, so swapped rows would show
    assert (table["movie"][table["user"] == "zz"].tolist()
            != table["movie"][table["user"] == "aa"].tolist())


def test_exclude_seen_false_reaches_the_model(log, encoder):
    model = EASE(alpha=10.0).fit(encoder.transform(log))
    one = log[log["user"] == "u3"]
    n_items = len(encoder.item_ids_)
    kept = encoder.recommend(model, one, k=n_items, exclude_seen=False, as_frame=False)
    assert set(one["movie"]) <= set(kept["movie"])
    assert len(kept["movie"]) == n_items
    dropped = encoder.recommend(model, one, k=n_items, as_frame=False)
    assert not set(one["movie"]) & set(dropped["movie"])


def test_explain_against_runners_up_of_a_reranker_are_its_inner_models():
    """encoder.explain(reranker, against=k) took the runners-up from the re-ranked list, where
    reranker.explain_contrast(x, item, k) and docs/contract.rst take the wrapped model's
    (contributions up to 0.028 apart; an audit helper's repro)."""
    from sklearn_recsys import make_interactions
    from sklearn_recsys.reranking import XQuADReranker

    coo = make_interactions(n_users=150, n_items=30, density=0.15, random_state=0).tocoo()
    log = pd.DataFrame({"user_id": coo.row + 1000, "item_id": ["i%02d" % c for c in coo.col]})
    encoder = InteractionEncoder()
    X = encoder.fit_transform(log)
    model = XQuADReranker(EASE(alpha=5.0), tradeoff=0.9, n_candidates=15).fit(X)
    x = X[0]
    reranked = model.recommend(x, k=30)[0][0]
    inner = model.estimator_.recommend(x, k=30)[0][0]
    item = int(reranked[0])
    at = list(inner).index(item)
    assert set(reranked[1:4]) != set(inner[at + 1:at + 4])  # the lists differ here
    table = encoder.explain(model, log[log.user_id == encoder.user_ids_[0]],
                            encoder.item_ids_[item], against=3, as_frame=False)
    columns, contributions = model.explain_contrast(x, item, 3)
    np.testing.assert_array_equal(table["item_id"], encoder.item_ids_[columns])
    np.testing.assert_allclose(table["contribution"], contributions, rtol=1e-12)
