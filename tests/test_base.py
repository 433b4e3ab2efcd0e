"""The recommender contract: validation messages, recommend, decision_function."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from sklearn_recsys import EASE, ItemKNN, MostPopular
from sklearn_recsys.metrics import ndcg_at_k
from sklearn_recsys.utils import top_k
from sklearn_recsys.utils._topk import _top_k_numpy

MODELS = [EASE(alpha=1.0), ItemKNN(n_neighbors=3), MostPopular()]
X = sp.csr_matrix(np.array(
    [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [0, 1, 1, 1, 0]], float))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_input_errors_name_problem_and_fix(model):
    with pytest.raises(NotFittedError, match="Call 'fit'"):
        model.__class__().recommend(X)
    with pytest.raises(ValueError, match="Negative values in data passed to"):
        model.fit(-X)
    # a negative entry beside a larger one on the same cell: refused in every format (as
    # COO it was summed first, to 2, and accepted where the same CSR was refused)
    coo = sp.coo_matrix(([-1.0, 3.0, 1.0], ([0, 0, 1], [0, 0, 1])), shape=(4, 5))
    for twin in (coo, sp.csr_matrix(([-1.0, 3.0, 1.0], [0, 0, 1], [0, 2, 3, 3, 3]),
                                    shape=(4, 5))):
        with pytest.raises(ValueError, match="Negative values in data passed to"):
            model.fit(twin)
    # the same in exclude (and the metrics' y): -1 beside 1 summed to an absent entry, so
    # the item asked to be excluded was recommended
    model.fit(X)
    exclude = sp.coo_matrix(([-1.0, 1.0], ([0, 0], [2, 2])), shape=(1, 5))
    with pytest.raises(ValueError, match=r"Negative values in data passed to exclude"):
        model.recommend(X[:1], k=3, exclude=exclude)
    bad = X.toarray()
    bad[0, 0] = np.nan
    # a pivot table's unrated cells: our fix (0 is no interaction), not scikit-learn's
    # advice to use a supervised model that takes missing values (audit 58b)
    with pytest.raises(ValueError, match=r"X contains NaN\. In an interaction matrix 0 .*"
                                         r"X\.fillna\(0\)") as info:
        model.fit(bad)
    assert "HistGradientBoosting" not in str(info.value)
    with pytest.raises(ValueError, match=r"y_true contains NaN.*y_true\.fillna\(0\)"):
        ndcg_at_k(bad, np.ones((5, 5)))
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad)
    with pytest.raises(ValueError, match="Expected 2D"):
        model.fit(np.ones(5))
    with pytest.raises(ValueError, match="0 sample"):
        model.fit(sp.csr_matrix((0, 5)))
    model.fit(X)
    with pytest.raises(ValueError, match="X has 4 features.*expecting 5.*same items"):
        model.decision_function(X[:, :4])
    with pytest.raises(ValueError, match="Negative values"):
        model.recommend(-X)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        model.recommend(X, k=0)
    with pytest.raises(ValueError, match=r"column indices in \[0, 5\)"):
        model.recommend(X, candidates=[7])
    with pytest.raises(TypeError, match="integer item"):
        model.recommend(X, candidates=[0.5])


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_any_sparse_format_and_dense_give_same_scores(model):
    model.fit(X)
    ref = model.decision_function(X)
    for fmt in ("csc", "coo", "lil", "dok"):
        np.testing.assert_allclose(model.decision_function(X.asformat(fmt)), ref)
    np.testing.assert_allclose(model.decision_function(X.toarray()), ref)


def test_values_are_kept_not_binarized():
    counts = X.multiply(np.arange(1, 6)).tocsr()
    a = EASE(alpha=1.0).fit(X).coef_
    b = EASE(alpha=1.0).fit(counts).coef_
    assert not np.allclose(a, b)


def test_user_with_no_interactions_and_seen_exclusion():
    model = MostPopular().fit(X)
    idx, scores = model.recommend(sp.csr_matrix((1, 5)), k=5)
    np.testing.assert_array_equal(idx, [[1, 2, 0, 3, 4]])
    idx, scores = model.recommend(X[1], k=5)
    np.testing.assert_array_equal(idx, [[3, 4, -1, -1, -1]])
    assert np.isneginf(scores[0, 2:]).all()
    idx, _ = model.recommend(X[1], k=2, exclude_seen=False)
    np.testing.assert_array_equal(idx, [[1, 2]])


def test_top_k_ties_broken_by_lower_index():
    s = np.array([[1.0, 3.0, 3.0, 3.0, -np.inf, 2.0]])
    idx, val = top_k(s, 2)
    np.testing.assert_array_equal(idx, [[1, 2]])
    idx, val = top_k(s, 7)  # one column per item at most
    np.testing.assert_array_equal(idx, [[1, 2, 3, 5, 0, -1]])
    assert np.isneginf(val[0, 5:]).all()


def _top_k_by_sorting(s, k):
    # the definition: valid scores (not NaN, not -inf) by score desc, then index asc
    idx = np.full((s.shape[0], min(k, s.shape[1])), -1)
    val = np.full(idx.shape, -np.inf)
    for r, row in enumerate(s):
        valid = [j for j in range(len(row)) if row[j] > -np.inf]
        best = sorted(valid, key=lambda j: (-row[j], j))[: idx.shape[1]]
        idx[r, : len(best)] = best
        val[r, : len(best)] = row[best]
    return idx, val


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       order=st.sampled_from(["C", "F", "sliced"]))
def test_top_k_kernel_is_the_sorted_definition(data, dtype, order):
    # small integers give many ties; NaN and -inf are never returned, +inf is
    n_rows = data.draw(st.integers(1, 5))
    n_cols = data.draw(st.integers(1, 25))
    cells = st.sampled_from([-2.0, -1.0, 0.0, -0.0, 1.0, 2.0, np.nan, -np.inf, np.inf])
    s = np.array(data.draw(st.lists(cells, min_size=n_rows * n_cols,
                                    max_size=n_rows * n_cols)), dtype=dtype)
    s = s.reshape(n_rows, n_cols)
    if order == "F":
        s = np.asfortranarray(s)
    elif order == "sliced":  # a non-contiguous view, as a block of a wider matrix
        s = np.hstack([s, s])[:, ::2]
    k = data.draw(st.integers(1, 30))
    idx, val = top_k(s, k)
    ref_idx, ref_val = _top_k_by_sorting(s, k)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val.astype(dtype))
    assert idx.dtype == np.int64 and val.dtype == dtype
    # the NumPy path (other dtypes) agrees with the kernel
    np_idx, np_val = _top_k_numpy(s, min(k, n_cols))
    np.testing.assert_array_equal(np_idx, idx)
    np.testing.assert_array_equal(np_val, val)


def test_top_k_of_integer_scores_pads_in_float64():
    idx, val = top_k(np.array([[3, 1, 3, 2]]), 3)
    np.testing.assert_array_equal(idx, [[0, 2, 3]])
    np.testing.assert_array_equal(val, [[3.0, 3.0, 2.0]])
    assert val.dtype == np.float64


@pytest.mark.parametrize("name", ["EASE", "ItemKNN", "SparseEASE", "ImplicitALS"])
def test_explain_of_a_user_with_only_untrained_items_is_zero_as_documented(name):
    """Such a user counts as without history: decision_function gives the popularity
    fallback, and explain returns the user's items with contributions of exactly 0."""
    import sklearn_recsys
    from sklearn_recsys import make_interactions

    X = make_interactions(120, 30, density=0.2, random_state=0).tocsr().astype(float)
    X[:, 29] = 0
    X.eliminate_zeros()
    params = {"ImplicitALS": {"n_components": 4, "max_iter": 3, "random_state": 0}}
    model = getattr(sklearn_recsys, name)(**params.get(name, {})).fit(X)
    row = sp.csr_matrix(([1.0], ([0], [29])), shape=(1, 30))
    items, contributions = model.explain(row, 0)
    assert items.tolist() == [29]
    assert contributions.tolist() == [0.0]
    counts = np.asarray((X > 0).sum(axis=0)).ravel()
    np.testing.assert_allclose(model.decision_function(row)[0], counts / counts.sum())


def test_explain_contrast_of_item_knn_by_hand():
    """ItemKNN's score is the sum of the user's items' cosines with the item: the contrast
    gives each user item its cosine with the item minus its mean cosine with the items
    compared with, summing to the item's lead over their mean score."""
    X5 = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [0, 0, 1, 1, 1],
                                 [0, 1, 1, 1, 0], [1, 0, 0, 1, 1]], float))
    model = ItemKNN(n_neighbors=4).fit(X5)
    D = X5.toarray()
    norms = np.linalg.norm(D, axis=0)
    cosine = (D.T @ D) / np.outer(norms, norms)
    x = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]], float))  # items 0 and 2
    # item 1 against items 3 and 4: cos(0, 1) = 2/sqrt(3*3), cos(2, 1) = 2/sqrt(3*3);
    # cos(0, 3) = 1/3, cos(0, 4) = 1/sqrt(6), cos(2, 3) = 2/3, cos(2, 4) = 1/sqrt(6)
    items, contributions = model.explain_contrast(x, 1, against=[3, 4])
    expected = {j: cosine[j, 1] - (cosine[j, 3] + cosine[j, 4]) / 2 for j in (0, 2)}
    np.testing.assert_allclose(expected[0], 2 / 3 - (1 / 3 + 1 / np.sqrt(6)) / 2)
    assert items.tolist() == sorted(expected, key=lambda j: -expected[j])
    np.testing.assert_allclose(contributions, [expected[j] for j in items])
    scores = model.decision_function(x)[0]
    np.testing.assert_allclose(contributions.sum(), scores[1] - scores[[3, 4]].mean())
    # explain credits both items alike (each has cosine 2/3 with item 1); the contrast
    # tells them apart: item 2 is as close to item 3, item 0 is not
    np.testing.assert_allclose(model.explain(x, 1)[1], [2 / 3, 2 / 3])
    assert items.tolist() == [0, 2]
    # against=k: the k items after item 1 in the user's list (1, then 3 and 4 here)
    assert model.recommend(x, k=3)[0][0].tolist() == [1, 3, 4]
    np.testing.assert_array_equal(model.explain_contrast(x, 1, against=2)[1], contributions)
    # fewer follow it than asked: those that do
    np.testing.assert_array_equal(model.explain_contrast(x, 1, against=10)[1], contributions)
    with pytest.raises(ValueError, match="No item follows item 4"):
        model.explain_contrast(x, 4, against=1)
    with pytest.raises(ValueError, match="in their history"):
        model.explain_contrast(x, 0, against=1)
    with pytest.raises(ValueError, match="against must hold distinct items"):
        model.explain_contrast(x, 1, against=[3, 3])
    # a NumPy integer or 0-d integer array is a count too, not an item index
    for count in (np.int64(2), np.array(2)):
        np.testing.assert_array_equal(model.explain_contrast(x, 1, against=count)[1],
                                      contributions)
    for bad in (True, 2.0, None):
        with pytest.raises(TypeError, match=r"a number of items \(an int\) or an array"):
            model.explain_contrast(x, 1, against=bad)


def test_explain_contrast_of_a_user_without_history_is_empty_for_every_item():
    """The runners-up were looked up before the empty row returned: the item ranked last
    in the fallback ranking raised "No item follows", every other item got empty arrays."""
    from sklearn_recsys import ExplicitMF, make_interactions

    X = make_interactions(60, 12, density=0.3, random_state=0)
    X.data = 1.0 + np.arange(X.nnz) % 5
    empty = sp.csr_matrix((1, 12))
    explicit = ExplicitMF(n_components=3, max_iter=3, random_state=0)
    for model in (EASE(alpha=1.0).fit(X), explicit.fit(X)):
        last = model.recommend(empty, k=12)[0][0][-1]
        for item in (model.recommend(empty, k=1)[0][0][0], last):
            items, contributions = model.explain_contrast(empty, item)
            assert items.shape == contributions.shape == (0,)
        with pytest.raises(ValueError, match="positive number of items"):
            model.explain_contrast(empty, last, against=0)
        with pytest.raises(ValueError, match="distinct items other than"):
            model.explain_contrast(empty, last, against=[last])


# ------------------------------------------------ scikit-learn conventions (audit57c)


def _binary(n_users, n_items, seed=0):
    X = sp.random(n_users, n_items, density=0.3, format="csr", random_state=seed)
    X.data[:] = 1.0
    return X


@pytest.mark.parametrize("name", ["EASE", "SparseEASE", "ItemKNN", "MostPopular"])
def test_item_score_transforms_name_their_columns(name):
    """Models whose transform is the item scores had no get_feature_names_out, so no
    set_output: a FeatureUnion or a pandas-output Pipeline holding one failed."""
    import pandas as pd
    from sklearn.pipeline import FeatureUnion

    from sklearn_recsys import ImplicitALS
    from sklearn_recsys.utils import all_estimators

    X = _binary(40, 12)
    model = dict(all_estimators())[name]()
    with pytest.raises(NotFittedError):
        model.get_feature_names_out()
    out = model.set_output(transform="pandas").fit(X).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == [f"{name.lower()}{i}" for i in range(12)]
    np.testing.assert_array_equal(out.to_numpy(), model.decision_function(X))
    union = FeatureUnion([("als", ImplicitALS(3, max_iter=2, random_state=0)),
                          ("scores", dict(all_estimators())[name]())]).fit(X)
    names = union.get_feature_names_out()
    assert len(names) == union.transform(X).shape[1] == 15
    assert names[3] == f"scores__{name.lower()}0"


def test_a_multi_behaviour_models_item_scores_are_its_target_items():
    from sklearn_recsys import MultiBehaviorEASE

    X = sp.hstack([_binary(40, 12), _binary(40, 12, seed=1)], format="csr")
    model = MultiBehaviorEASE(behaviors=("view", "buy")).fit(X)
    assert len(model.get_feature_names_out()) == model.transform(X).shape[1] == 12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factor_models_tag_the_dtype_they_return(dtype):
    """preserves_dtype said float32 whatever the dtype parameter: with float64 a float32
    input came back float64, against the tag (scikit-learn's check failed)."""
    from sklearn.utils.estimator_checks import check_transformer_preserve_dtypes

    from sklearn_recsys import ImplicitALS

    model = ImplicitALS(3, max_iter=2, random_state=0, dtype=dtype)
    assert model.__sklearn_tags__().transformer_tags.preserves_dtype == [np.dtype(dtype).name]
    out = model.fit(_binary(40, 12).astype(np.float32)).transform(_binary(40, 12))
    assert out.dtype == dtype
    check_transformer_preserve_dtypes("ImplicitALS", model)


def test_held_out_and_excluded_items_are_read_by_name_from_a_dataframe():
    """A scorer's y and recommend's exclude as DataFrames were read by position: reversed
    columns moved an NDCG from 0.127 to 0.199, silently (audit57c)."""
    import pandas as pd

    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.model_selection import holdout_split

    X = _binary(60, 12)
    items = [f"i{j}" for j in range(12)]
    model = EASE(alpha=1.0).fit(pd.DataFrame(X.toarray(), columns=items))
    X_in, y = holdout_split(X, random_state=0)
    df_in = pd.DataFrame(X_in.toarray(), columns=items)
    df_y = pd.DataFrame(y.toarray(), columns=items)
    scorer = make_ranking_scorer("ndcg", k=5)
    expected = scorer(model, df_in, df_y)
    assert expected == scorer(model, df_in, y)  # in order: the same as by position
    with pytest.raises(ValueError, match=r"The columns of y are not the items of X in fit.*"
                                         r"column 0 is 'i11', item 0 was 'i0'"):
        scorer(model, df_in, df_y[items[::-1]])
    assert scorer(model, df_in, df_y[items[::-1]][items]) == expected
    exclude = pd.DataFrame(np.eye(60, 12), columns=items)
    np.testing.assert_array_equal(model.recommend(df_in, k=3, exclude=exclude)[0],
                                  model.recommend(df_in, k=3, exclude=np.eye(60, 12))[0])
    with pytest.raises(ValueError, match="The columns of exclude are not the items"):
        model.recommend(df_in, k=3, exclude=exclude[items[::-1]])
