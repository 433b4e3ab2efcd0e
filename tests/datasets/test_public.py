"""Dataset loaders on the real copies in ../shared/data and on tiny hand-written files."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_recsys.datasets import (
    fetch_citeulike_a,
    fetch_lastfm_2k,
    fetch_movielens,
    fetch_taobao,
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
    # u.user, in row order: "1|24|M|technician|85711", "2|53|F|other|94043"
    assert ml.user_ids[:2].tolist() == [1, 2]
    assert ml.user_ages[:2].tolist() == [24, 53] and len(ml.user_ages) == 943
    assert ml.user_genders[:2] == ["M", "F"]
    assert ml.user_occupations[:2] == ["technician", "other"]


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


def test_small_handwritten_movielens_copy(tmp_path, release_rows):
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
    assert "user_ages" not in ml  # a copy without u.user has no demographics
    X = fetch_movielens("100k", data_home=tmp_path, download_if_missing=False, return_X_y=True)
    assert X.nnz == 3
    # with u.user, a rating user missing from it is named
    release_rows["ml-100k"] = {"u.user": 1}
    (folder / "u.user").write_text("1|24|M|technician|85711\n")
    with pytest.raises(ValueError, match="user 2 has no line in u.user.*demographics"):
        fetch_movielens("100k", data_home=tmp_path, download_if_missing=False)


def test_data_home_is_the_argument_then_the_environment_then_the_home_folder(
        tmp_path, monkeypatch, release_rows):
    from sklearn_recsys.datasets import get_data_home

    monkeypatch.setenv("SKLEARN_RECSYS_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "given") == tmp_path / "given"  # the argument wins
    assert get_data_home("~/data") == tmp_path / "home" / "data"  # "~" is the user's home
    # a loader without data_home reads the folder the variable names
    _write_ml1m(tmp_path / "env" / "ml-1m")
    assert fetch_movielens("1m", download_if_missing=False).X.nnz == 3
    monkeypatch.delenv("SKLEARN_RECSYS_DATA")
    assert get_data_home() == tmp_path / "home" / "sklearn_recsys_data"


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
    # long tail: the top 10% of items take a large share of the interactions (3x
    # their number; users draw distinct items, which flattens the head a little)
    pop = np.sort(X.getnnz(axis=0))[::-1]
    assert pop[:30].sum() > 0.28 * pop.sum()
    # planted structure: with no noise, a user's items come from their topics
    main_topic = truth.user_topics.argmax(axis=1)
    rows = np.repeat(np.arange(2000), X.getnnz(axis=1))
    topic_of = truth.item_topic[X.indices]
    share = np.mean(truth.user_topics[rows, topic_of] > 0.01)
    assert share > 0.97
    P = truth.probabilities(np.arange(5))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)
    assert main_topic.shape == (2000,)
    np.testing.assert_array_equal(
        make_interactions(100, 50, random_state=3).toarray(),
        make_interactions(100, 50, random_state=3).toarray(),
    )


def _write_ml1m(folder, movies_encoding="latin-1"):
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text(
        "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n")
    (folder / "movies.dat").write_bytes(
        "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
        "1193::Caf\xe9 Society (1975)::Drama\n".encode(movies_encoding))


def test_small_handwritten_movielens_1m_and_10m(tmp_path, release_rows):
    _write_ml1m(tmp_path / "ml-1m")
    ml = fetch_movielens("1m", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(ml.X.toarray(), [[3, 5], [0, 4]])
    np.testing.assert_array_equal(ml.item_ids, [661, 1193])
    assert ml.item_titles == ["James and the Giant Peach (1996)", "Café Society (1975)"]
    assert ml.item_genres[0] == ["Animation", "Children's", "Musical"]
    assert ml.timestamps[1, 1] == 978298413
    # 10M: its own folder name, half stars, UTF-8 titles
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    (folder / "ratings.dat").write_text("5::122::4.5::838985046\n5::185::0.5::838983525\n")
    (folder / "movies.dat").write_text("122::Boomerang (1992)::Comedy|Romance\n"
                                       "185::Net, The (1995)::(no genres listed)\n",
                                       encoding="utf-8")
    ml = fetch_movielens("10m", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(ml.X.toarray(), [[4.5, 0.5]])
    assert ml.item_genres == [["Comedy", "Romance"], []]


@pytest.mark.parametrize("variant, folder", [("20m", "ml-20m"), ("25m", "ml-25m")])
def test_small_handwritten_movielens_csv_releases(tmp_path, variant, folder, release_rows):
    d = tmp_path / folder
    d.mkdir()
    (d / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n"
                                   "1,29,3.5,1112484676\n3,2,4.0,1112484819\n")
    (d / "movies.csv").write_text('movieId,title,genres\n2,Jumanji (1995),Adventure|Fantasy\n'
                                  '29,"City of Lost Children, The (1995)",Drama\n')
    ml = fetch_movielens(variant, data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(ml.X.toarray(), [[3.5, 3.5], [4.0, 0]])
    assert ml.item_titles[1] == "City of Lost Children, The (1995)"


def _zip_folder(src, dest, flat=False):
    import zipfile

    with zipfile.ZipFile(dest, "w") as zf:
        for path in sorted(src.rglob("*")):
            zf.write(path, path.relative_to(src if flat else src.parent))


def test_download_verifies_checksum_and_extracts(tmp_path, monkeypatch, release_rows):
    import hashlib

    from sklearn_recsys.datasets import _download

    _write_ml1m(tmp_path / "src" / "ml-1m")
    zpath = tmp_path / "ml-1m.zip"
    _zip_folder(tmp_path / "src" / "ml-1m", zpath)
    md5 = hashlib.md5(zpath.read_bytes()).hexdigest()
    sha = hashlib.sha256(zpath.read_bytes()).hexdigest()
    home = tmp_path / "home"
    # a wrong checksum: error, nothing left behind
    monkeypatch.setitem(_download.ARCHIVES, "ml-1m",
                        _download.Archive(zpath.as_uri(), "ml-1m", md5="0" * 32))
    with pytest.raises(OSError, match="MD5 .* differs from the publisher's"):
        fetch_movielens("1m", data_home=home)
    assert not (home / "ml-1m").exists() and list(home.iterdir()) == []
    monkeypatch.setitem(_download.ARCHIVES, "ml-1m",
                        _download.Archive(zpath.as_uri(), "ml-1m", md5=md5, sha256="1" * 64))
    with pytest.raises(OSError, match="SHA-256 .* differs from the pinned"):
        fetch_movielens("1m", data_home=home)
    monkeypatch.setitem(_download.ARCHIVES, "ml-1m",
                        _download.Archive(zpath.as_uri(), "ml-1m", md5=md5, sha256=sha))
    ml = fetch_movielens("1m", data_home=home)
    assert ml.X.nnz == 3
    assert (home / "ml-1m" / ".sha256").read_text().startswith(sha)
    # cached: a second call reads the extracted copy without downloading
    monkeypatch.setitem(_download.ARCHIVES, "ml-1m",
                        _download.Archive("file:///nonexistent.zip", "ml-1m", md5=md5))
    assert fetch_movielens("1m", data_home=home).X.nnz == 3


def test_download_of_a_flat_archive_with_published_md5(tmp_path, monkeypatch, release_rows):
    import hashlib

    from sklearn_recsys.datasets import _download

    src = tmp_path / "src"
    src.mkdir()
    (src / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n")
    (src / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\tu\tp\n")
    zpath = tmp_path / "hetrec2011-lastfm-2k.zip"
    _zip_folder(src, zpath, flat=True)
    # no pinned digest: the MD5 file published beside the archive is used
    (tmp_path / "hetrec2011-lastfm-2k.zip.md5").write_text(
        f"MD5 (hetrec2011-lastfm-2k.zip) = {hashlib.md5(zpath.read_bytes()).hexdigest()}\n")
    monkeypatch.setitem(_download.ARCHIVES, "hetrec2011-lastfm-2k",
                        _download.Archive(zpath.as_uri(), "hetrec2011-lastfm-2k", flat=True))
    fm = fetch_lastfm_2k(data_home=tmp_path / "home")
    assert fm.X.toarray().tolist() == [[13883]] and fm.item_titles == ["Duran Duran"]


def test_every_archive_has_a_pinned_sha256_and_frozen_releases_an_md5():
    import re

    from sklearn_recsys.datasets import _download

    assert set(_download.ARCHIVES) >= {"ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m",
                                       "ml-latest-small", "hetrec2011-lastfm-2k"}
    digests = [a.sha256 for a in _download.ARCHIVES.values()]
    assert all(re.fullmatch("[0-9a-f]{64}", d) for d in digests)
    assert len(set(digests)) == len(digests)
    for name in ("ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m"):
        assert re.fullmatch("[0-9a-f]{32}", _download.ARCHIVES[name].md5)


def test_checksum_error_of_a_rolling_release_says_what_to_do(tmp_path, monkeypatch):
    import dataclasses

    from sklearn_recsys.datasets import _download

    src = tmp_path / "src" / "ml-latest-small"
    src.mkdir(parents=True)
    (src / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,0\n")
    zpath = tmp_path / "ml-latest-small.zip"
    _zip_folder(src, zpath)
    archive = dataclasses.replace(_download.ARCHIVES["ml-latest-small"], url=zpath.as_uri())
    monkeypatch.setitem(_download.ARCHIVES, "ml-latest-small", archive)
    with pytest.raises(OSError, match="release of 2018-09-26.*download_if_missing=False"):
        fetch_movielens("latest-small", data_home=tmp_path / "home")
    assert list((tmp_path / "home").iterdir()) == []


@pytest.mark.skipif(not __import__("os").environ.get("SKLEARN_RECSYS_ALLOW_DOWNLOAD"),
                    reason="network download: set SKLEARN_RECSYS_ALLOW_DOWNLOAD=1 to run")
def test_real_download_of_movielens_100k(tmp_path):
    ml = fetch_movielens("100k", data_home=tmp_path)
    assert ml.X.shape == (943, 1682) and ml.X.nnz == 100_000


def test_item_tags_on_real_copies(shared_data):
    ml = fetch_movielens("latest-small", data_home=shared_data, download_if_missing=False)
    # 3,683 tag applications; 3,558 distinct (movie, tag) pairs on 1,554 rated movies
    assert sum(map(len, ml.item_tags)) == 3558
    assert sum(1 for t in ml.item_tags if t) == 1554
    assert ml.item_tags[list(ml.item_ids).index(60756)][:2] == ["funny", "Highly quotable"]
    fm = fetch_lastfm_2k(data_home=shared_data, download_if_missing=False)
    assert sum(map(len, fm.item_tags)) == 108_437
    assert fm.item_titles[0] == "MALICE MIZER" and "visual kei" in fm.item_tags[0]
    assert fetch_movielens("100k", data_home=shared_data,
                           download_if_missing=False).item_tags[0] == []


def test_handwritten_movielens_10m_tags(tmp_path, release_rows):
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    (folder / "ratings.dat").write_text("5::122::4.5::838985046\n")
    (folder / "movies.dat").write_text("122::Boomerang (1992)::Comedy\n")
    (folder / "tags.dat").write_text("15::122::dark hero::1215184630\n"
                                     "20::122::dark hero::1215184631\n"
                                     "20::122::Caf\u00e9::1215184632\n", encoding="utf-8")
    ml = fetch_movielens("10m", data_home=tmp_path, download_if_missing=False)
    assert ml.item_tags == [["dark hero", "Café"]]


def test_titles_and_tags_that_hold_the_separator_are_kept_whole(tmp_path, release_rows):
    # movies.dat and tags.dat are split on "::", HetRec's tags.dat on tabs: a title or a
    # tag holding the separator is everything between the id fields and the last field
    folder = tmp_path / "ml-10M100K"
    folder.mkdir()
    (folder / "ratings.dat").write_text("5::122::4.5::838985046\n")
    (folder / "movies.dat").write_text("122::Part One::The Return (1992)::Comedy\n")
    (folder / "tags.dat").write_text("15::122::sci-fi::classic::1215184630\n")
    ml = fetch_movielens("10m", data_home=tmp_path, download_if_missing=False)
    assert ml.item_titles == ["Part One::The Return (1992)"]
    assert ml.item_genres == [["Comedy"]] and ml.item_tags == [["sci-fi::classic"]]
    folder = tmp_path / "hetrec2011-lastfm-2k"
    folder.mkdir()
    (folder / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n")
    (folder / "artists.dat").write_text("id\tname\turl\tpictureURL\n51\tDuran Duran\tu\tp\n")
    (folder / "tags.dat").write_text("tagID\ttagValue\n1\tnew\twave\n")
    (folder / "user_taggedartists.dat").write_text(
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t1\t1\t4\t2009\n")
    fm = fetch_lastfm_2k(data_home=tmp_path, download_if_missing=False)
    assert fm.item_tags == [["new\twave"]]


def test_item_documents_from_latest_small(shared_data):
    from sklearn_recsys.datasets import item_documents
    from sklearn_recsys.preprocessing import TextSequencer

    ml = fetch_movielens("latest-small", data_home=shared_data, download_if_missing=False)
    docs = item_documents(ml)
    assert len(docs) == ml.X.shape[1]
    j = ml.item_titles.index("Toy Story (1995)")
    assert docs[j] == ("Toy Story (1995) Adventure Animation Children Comedy Fantasy "
                       + " ".join(ml.item_tags[j]))
    assert "pixar" in docs[j]
    titles_only = item_documents(ml, fields=("item_titles",))
    assert titles_only == list(ml.item_titles)
    seqs = TextSequencer(max_length=40).fit_transform(docs)
    assert (seqs[j] > 0).sum() >= 8


def test_item_documents_errors():
    from sklearn.utils import Bunch

    from sklearn_recsys.datasets import item_documents

    with pytest.raises(ValueError, match="none of the text fields"):
        item_documents(Bunch(X=None))
    with pytest.raises(ValueError, match="item_genres has 1 entries but item_titles has 2"):
        item_documents(Bunch(item_titles=["a", "b"], item_genres=[["x"]]))
    # one document per item of X, else the texts would name the wrong items
    with pytest.raises(ValueError, match="item_titles has 2 entries but data.X has 3 items"):
        item_documents(Bunch(X=np.zeros((4, 3)), item_titles=["a", "b"]))
    # missing entries (None, NaN), in a field or in a list, are no text
    docs = item_documents(Bunch(X=np.zeros((4, 3)), item_titles=["a", None, float("nan")],
                                item_genres=[["x", None], [], None]))
    assert docs == ["a x", "", ""]


def test_item_documents_of_a_bunch_of_behaviour_blocks_count_its_items():
    # a bunch whose X stacks behaviour blocks side by side (fetch_taobao's layout) has
    # n_items items, not X.shape[1]: three titles for three items are right
    from sklearn.utils import Bunch

    from sklearn_recsys.datasets import item_documents

    data = Bunch(X=np.zeros((2, 9)), n_items=3, item_titles=["a", "b", "c"])
    assert item_documents(data) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="item_titles has 9 entries but data.X has 3 items"):
        item_documents(Bunch(X=np.zeros((2, 9)), n_items=3, item_titles=list("abcdefghi")))


def test_item_documents_decode_bytes_as_utf_8():
    # bytes are UTF-8 text: "Caf\xc3\xa9" is "Caf\xe9", not latin-1's "Caf\xc3\xa9"
    from sklearn.utils import Bunch

    from sklearn_recsys.datasets import item_documents

    data = Bunch(item_titles=["Caf\xe9".encode("utf-8"), np.bytes_("Am\xe9lie".encode("utf-8"))])
    assert item_documents(data) == ["Caf\xe9", "Am\xe9lie"]


def test_item_documents_reads_every_missing_value_and_numbers():
    """pandas' NA, a float32 NaN and a number used to raise "... is not iterable"."""
    pd = pytest.importorskip("pandas")
    from sklearn.utils import Bunch

    from sklearn_recsys.datasets import item_documents

    data = Bunch(item_titles=["a", pd.NA, np.float32("nan"), 1995, np.nan],
                 item_tags=[["x", pd.NA], None, [], [np.int64(3)], np.array(["y", "z"])])
    assert item_documents(data) == ["a x", "", "", "1995 3", "y z"]
    # one field as a string, not its characters
    assert item_documents(data, fields="item_titles") == ["a", "", "", "1995", ""]
    # bytes were iterated as numbers ("72 101 97 116"), a mapping as its keys
    data = Bunch(item_titles=[b"Heat", np.bytes_("Ran"), [b"a", "b"]])
    assert item_documents(data) == ["Heat", "Ran", "a b"]
    with pytest.raises(TypeError, match="document is a mapping"):
        item_documents(Bunch(item_titles=["a", {"k": 1}]))


def test_taobao_counts(shared_data):
    data = fetch_taobao(data_home=shared_data, download_if_missing=False)
    n = data.n_items
    assert data.X.shape == (15_449, 3 * 11_953) and data.behaviors == ("view", "cart", "buy")
    # the counts of shared/data/README.md, block by block
    assert [data.X[:, b * n:(b + 1) * n].nnz for b in range(3)] == [858_505, 180_027, 92_180]
    assert (data.X_test.getnnz(axis=1) == 3).all()  # one held-out item per behaviour
    assert data.target == "buy"


def _taobao_copy(root, files):
    for name, text in files.items():
        path = root / "taobao-mbcgcn" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


_TINY_TAOBAO = {"view/train.txt": "0\t0\t1\n1\t2\n", "view/test.txt": "0\t2\n1\t0\n",
                "cart/train.txt": "0\t1\n1\t2\n", "cart/test.txt": "0\t0\n1\t1\n",
                "buy/train.txt": "0\t1\n1\t2\n", "buy/test.txt": "0\t0\n1\t1"}


def test_small_handwritten_taobao_copy(tmp_path, release_rows):
    _taobao_copy(tmp_path, _TINY_TAOBAO)
    data = fetch_taobao(data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(data.X.toarray(), [[1, 1, 0, 0, 1, 0, 0, 1, 0],
                                                     [0, 0, 1, 0, 0, 1, 0, 0, 1]])
    np.testing.assert_array_equal(data.X_test[:, 6:].toarray(), [[1, 0, 0], [0, 1, 0]])
    X, X_test = fetch_taobao(data_home=tmp_path, download_if_missing=False, return_X_y=True)
    assert X.shape == X_test.shape == (2, 9)


def test_taobao_items_are_counted_over_every_file(tmp_path, release_rows):
    # item 3 is only a held-out purchase: it still has a column in every block; and no
    # pair is read as a leak because its key collides with another's (user 0's held-out
    # item 3 and user 1's training item 0 share the key u * 3 + i without the + 1)
    _taobao_copy(tmp_path, {**_TINY_TAOBAO, "buy/train.txt": "0\t1\n1\t0\n",
                            "buy/test.txt": "0\t3\n1\t1\n"})
    data = fetch_taobao(data_home=tmp_path, download_if_missing=False)
    assert data.n_items == 4 and data.X.shape == data.X_test.shape == (2, 12)
    np.testing.assert_array_equal(data.X[:, 8:].toarray(), [[0, 1, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(data.X_test[:, 8:].toarray(), [[0, 0, 0, 1], [0, 1, 0, 0]])
    np.testing.assert_array_equal(data.X[:, :4].toarray(), [[1, 1, 0, 0], [0, 0, 1, 0]])


@pytest.mark.parametrize("name, text, match", [
    ("buy/train.txt", "0\t1\n0\t2\n", r"buy/train.txt, lines 1 and 2: id 0 is listed twice"),
    ("buy/train.txt", "0\t1\t1\n1\t2\n", "line 1: item 1 is listed twice for user 0"),
    ("cart/test.txt", "0\tx\n1\t1\n", "line 1: 'x' is not a non-negative integer id"),
    ("view/test.txt", "0\n1\t0\n", "line 1: user 0 has no item on the line"),
])
def test_damaged_taobao_copy_names_the_line(tmp_path, release_rows, name, text, match):
    _taobao_copy(tmp_path, {**_TINY_TAOBAO, name: text})
    with pytest.raises(ValueError, match=match):
        fetch_taobao(data_home=tmp_path, download_if_missing=False)


def test_taobao_cut_short_and_missing(tmp_path, release_rows):
    _taobao_copy(tmp_path, _TINY_TAOBAO)
    release_rows["taobao-mbcgcn"] = {"buy/train.txt": 3}
    with pytest.raises(ValueError, match="2 data rows where the release has 3"):
        fetch_taobao(data_home=tmp_path, download_if_missing=False)
    (tmp_path / "taobao-mbcgcn" / "cart" / "test.txt").unlink()
    with pytest.raises(OSError, match="missing"):
        fetch_taobao(data_home=tmp_path, download_if_missing=False)
    with pytest.raises(OSError, match="not found"):
        fetch_taobao(data_home=tmp_path / "elsewhere", download_if_missing=False)


def test_taobao_papers_protocol_recipe(shared_data):
    # the docstring's recipe: held-out views and carts join the inputs, 0/1 kept
    data = fetch_taobao(data_home=shared_data, download_if_missing=False)
    n = data.n_items
    X = sp.hstack([data.X[:, :2 * n] + data.X_test[:, :2 * n], data.X[:, 2 * n:]], format="csr")
    assert X.max() == 1 and X.nnz == data.X.nnz + 2 * 15_449
    bought = data.X_test[:, 2 * n:].tocoo()

    def seen_share(M):
        seen = M[:, :n] + M[:, n:2 * n]
        return np.mean(np.asarray(seen[bought.row, bought.col]).ravel() > 0)

    # the shares the docstring quotes: with X alone, 2% of the protocol's signal is missing
    assert round(seen_share(data.X), 3) == 0.832
    assert round(seen_share(X), 3) == 0.852


@pytest.mark.parametrize("name, text, match", [
    ("buy/test.txt", "0\t0\t2\n1\t1", r"buy/test.txt, line 1: user 0 has 2 items on the line "
                                      "where the split holds out one"),
    ("cart/test.txt", "0\t1\n1\t1\n", r"cart/test.txt, line 1: user 0's held-out item 1 is also "
                                      "in cart/train.txt"),
    ("view/train.txt", "0\t0\t1\n2\t2\n", r"view/train.txt: user 1 has no line, but the split's "
                                          "files list users up to 2"),
])
def test_taobao_split_structure_is_checked(tmp_path, release_rows, name, text, match):
    _taobao_copy(tmp_path, {**_TINY_TAOBAO, name: text})
    with pytest.raises(ValueError, match=match):
        fetch_taobao(data_home=tmp_path, download_if_missing=False)
