"""Dataset loaders on the real copies in ../shared/data and on tiny hand-written files."""

import numpy as np
import pytest

from sklearn_recsys.datasets import (
    fetch_citeulike_a,
    fetch_lastfm_2k,
    fetch_movielens,
    make_interactions,
)


def test_movielens_100k_counts(shared_data):
    ml = fetch_movielens("100k", data_home=shared_data, download_if_missing=False)
    assert ml.X.shape == (943, 1682) and ml.X.nnz == 100_000
    assert set(np.unique(ml.X.data)) == {1, 2, 3, 4, 5}
    assert (ml.timestamps.indices == ml.X.indices).all() and ml.timestamps.nnz == 100_000
    assert ml.item_titles[0] == "Toy Story (1995)"
    assert ml.item_genres[0] == ["Animation", "Children's", "Comedy"]
    # u.item is latin-1: a title with a non-ASCII character decodes correctly
    assert any("é" in t for t in ml.item_titles)


def test_movielens_latest_small_counts(shared_data):
    ml = fetch_movielens("latest-small", data_home=shared_data, download_if_missing=False)
    assert ml.X.shape == (610, 9724) and ml.X.nnz == 100_836
    assert ml.X.data.min() == 0.5 and ml.X.data.max() == 5.0


def test_lastfm_and_citeulike_counts(shared_data):
    fm = fetch_lastfm_2k(data_home=shared_data, download_if_missing=False)
    assert fm.X.shape == (1892, 17632) and fm.X.nnz == 92_834
    assert fm.X.data.max() == 352_698
    cu = fetch_citeulike_a(data_home=shared_data, download_if_missing=False)
    assert cu.X.shape == (5551, 16980) and cu.X.nnz == 204_986
    assert cu.item_titles[0] == "The metabolic world of Escherichia coli is not small"


def test_small_handwritten_movielens_copy(tmp_path):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_text("1\t10\t5\t881250949\n2\t10\t3\t881250950\n2\t7\t4\t881250951\n")
    (folder / "u.genre").write_text("unknown|0\nAction|1\n\n")
    (folder / "u.item").write_bytes(
        "7|Caf\xe9 (1995)|01-Jan-1995||http://x|0|1\n10|B (1996)|01-Jan-1996||http://y|1|0\n"
        .encode("latin-1")
    )
    ml = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(ml.X.toarray(), [[0, 5], [4, 3]])
    assert ml.item_titles == ["Café (1995)", "B (1996)"]
    assert ml.item_genres == [["Action"], ["unknown"]]
    X = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False, return_X_y=True)
    assert X.nnz == 3


def test_missing_dataset_error(tmp_path):
    with pytest.raises(OSError, match="not found.*data_home"):
        fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)
    with pytest.raises(ValueError, match="Unknown MovieLens variant"):
        fetch_movielens("3m", data_home=tmp_path)


def test_make_interactions_structure_and_scale():
    X, truth = make_interactions(n_users=2000, n_items=300, density=0.05, n_components=5,
                                 noise=0.0, return_truth=True, random_state=0)
    assert X.shape == (2000, 300)
    assert 0.03 < X.nnz / (2000 * 300) < 0.06
    assert set(np.unique(X.data)) == {1.0}
    # long tail: the top 10% of items take a large share of the interactions
    pop = np.sort(X.getnnz(axis=0))[::-1]
    assert pop[:30].sum() > 0.35 * pop.sum()
    # planted structure: with no noise, a user's items come from their topics
    main_topic = truth.user_topics.argmax(axis=1)
    rows = np.repeat(np.arange(2000), X.getnnz(axis=1))
    topic_of = truth.item_topic[X.indices]
    share = np.mean(truth.user_topics[rows, topic_of] > 0.01)
    assert share > 0.99
    P = truth.probabilities(np.arange(5))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert main_topic.shape == (2000,)
    np.testing.assert_array_equal(
        make_interactions(100, 50, random_state=3).toarray(),
        make_interactions(100, 50, random_state=3).toarray(),
    )
