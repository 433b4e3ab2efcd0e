"""Loaders of public recommender datasets, from an extracted copy or a verified download.

Each loader looks for the publisher's folder (``ml-100k/``, ``ml-1m/``,
``ml-10M100K/``, ``ml-20m/``, ``ml-25m/``, ``ml-latest-small/``,
``hetrec2011-lastfm-2k/``, ``citeulike-a/``) inside ``data_home``; when it
is missing and ``download_if_missing`` is true, the publisher's archive is
downloaded, checked against its checksum and extracted there (see
``_download.py``). The files are parsed into a CSR matrix plus the raw ids and
item metadata, in the style of ``sklearn.datasets.fetch_*``.
"""

import csv
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

__all__ = [
    "get_data_home",
    "fetch_movielens",
    "fetch_lastfm_2k",
    "fetch_citeulike_a",
]

from ._download import ARCHIVES, fetch_archive

_MOVIELENS_FOLDERS = {
    "100k": "ml-100k",
    "1m": "ml-1m",
    "10m": "ml-10M100K",
    "20m": "ml-20m",
    "25m": "ml-25m",
    "latest-small": "ml-latest-small",
}


def get_data_home(data_home=None):
    """Folder holding the datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit folder. ``None`` uses the ``SKLEARN_RECSYS_DATA``
        environment variable, else ``~/sklearn_recsys_data``.

    Returns
    -------
    data_home : pathlib.Path
    """
    if data_home is None:
        data_home = os.environ.get("SKLEARN_RECSYS_DATA", Path.home() / "sklearn_recsys_data")
    return Path(data_home).expanduser()


def _folder(data_home, name, download_if_missing, marker, archive=None):
    folder = get_data_home(data_home) / name
    if (folder / marker).is_file():
        return folder
    if download_if_missing and archive in ARCHIVES:
        folder = fetch_archive(archive, get_data_home(data_home))
        if (folder / marker).is_file():
            return folder
        raise OSError(f"The downloaded archive has no {marker} in {folder}.")
    how = (
        "no download is known for this dataset"
        if download_if_missing
        else "download_if_missing=False"
    )
    raise OSError(
        f"Dataset folder {folder} (with {marker}) not found and {how}. Extract the "
        f"publisher's archive so that {folder / marker} exists, or pass data_home="
        "the folder that contains it."
    )


def _read_numbers(path, n_cols, *, separator=",", header=False):
    """Fast parse of a numeric table (NumPy's C text parser; no pandas needed)."""
    text = Path(path).read_bytes().decode("ascii", errors="strict")
    if header:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    values = np.array(text.replace(separator, " ").split(), dtype=np.float64)
    if values.size % n_cols:
        raise ValueError(f"{path}: expected {n_cols} fields on every line.")
    return values.reshape(-1, n_cols)


def _tags_by_item(pairs):
    """{item: [tag, ...]} keeping each item's distinct tags in order of first use."""
    tags = {}
    for item, tag in pairs:
        lst = tags.setdefault(item, [])
        if tag not in lst:
            lst.append(tag)
    return tags


def _decode(raw):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # MovieLens 1M's movies.dat is latin-1
        return raw.decode("latin-1")


def _encode(users, items, values, shape_hint=None):
    """CSR matrix from raw id triples; rows/columns are the sorted unique ids."""
    user_ids, rows = np.unique(users, return_inverse=True)
    item_ids, cols = np.unique(items, return_inverse=True)
    X = sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), (rows, cols)),
        shape=(len(user_ids), len(item_ids)),
    )
    X.sum_duplicates()
    return X, user_ids, item_ids, rows, cols


def _result(bunch, return_X_y):
    return bunch.X if return_X_y else bunch


def fetch_movielens(variant="100k", *, data_home=None, download_if_missing=True,
                    return_X_y=False):
    """Load a MovieLens ratings dataset (GroupLens).

    Parameters
    ----------
    variant : {"100k", "1m", "10m", "20m", "25m", "latest-small"}, default="100k"
        Which MovieLens release.
    data_home : str or path-like, default=None
        Folder containing (or receiving) the extracted publisher folder:
        ``ml-100k/``, ``ml-1m/``, ``ml-10M100K/``, ``ml-20m/``, ``ml-25m/``
        or ``ml-latest-small/``; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download the archive from files.grouplens.org when the folder is
        missing, check it against the MD5 GroupLens publishes (pinned here
        for the frozen releases) and extract it into ``data_home``.
    return_X_y : bool, default=False
        Return only ``X``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, n_items) of ratings), ``timestamps``
        (csr_matrix, same pattern, Unix seconds), ``user_ids`` and
        ``item_ids`` (raw ids of rows and columns), ``item_titles``,
        ``item_genres`` (list of lists of genre names), ``item_tags`` (each
        movie's distinct user tags, from ``tags.csv`` / ``tags.dat``; empty
        for 100K and 1M, which have none) and ``DESCR``.

    Examples
    --------
    >>> from sklearn_recsys.datasets import fetch_movielens
    >>> ml = fetch_movielens("100k", data_home="../shared/data",
    ...                      download_if_missing=False)  # doctest: +SKIP
    >>> ml.X.shape  # doctest: +SKIP
    (943, 1682)
    """
    if variant not in _MOVIELENS_FOLDERS:
        raise ValueError(
            f"Unknown MovieLens variant {variant!r}; available: {sorted(_MOVIELENS_FOLDERS)}."
        )
    name = _MOVIELENS_FOLDERS[variant]
    archive = "ml-" + variant
    titles, genres = {}, {}
    if variant == "100k":
        folder = _folder(data_home, name, download_if_missing, "u.data", archive)
        raw = np.loadtxt(folder / "u.data", dtype=np.int64, ndmin=2)
        users, items, ratings, times = raw.T
        genre_names = [line.split("|")[0] for line in
                       (folder / "u.genre").read_text(encoding="latin-1").splitlines() if line]
        with open(folder / "u.item", encoding="latin-1") as f:
            for line in f:
                fields = line.rstrip("\n").split("|")
                mid = int(fields[0])
                titles[mid] = fields[1]
                genres[mid] = [g for g, flag in zip(genre_names, fields[5:]) if flag == "1"]
    elif variant in ("1m", "10m"):
        folder = _folder(data_home, name, download_if_missing, "ratings.dat", archive)
        raw = _read_numbers(folder / "ratings.dat", 4, separator="::")
        users, items = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
        ratings, times = raw[:, 2], raw[:, 3].astype(np.int64)
        for line in _decode((folder / "movies.dat").read_bytes()).splitlines():
            if line:
                mid, title, genre = line.split("::")
                titles[int(mid)] = title
                genres[int(mid)] = [] if genre == "(no genres listed)" else genre.split("|")
    else:
        folder = _folder(data_home, name, download_if_missing, "ratings.csv", archive)
        raw = _read_numbers(folder / "ratings.csv", 4, header=True)
        users, items = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
        ratings, times = raw[:, 2], raw[:, 3].astype(np.int64)
        with open(folder / "movies.csv", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                mid = int(row["movieId"])
                titles[mid] = row["title"]
                genres[mid] = ([] if row["genres"] == "(no genres listed)"
                               else row["genres"].split("|"))
    tags = {}
    if (folder / "tags.csv").is_file():
        with open(folder / "tags.csv", encoding="utf-8", newline="") as f:
            tags = _tags_by_item((int(r["movieId"]), r["tag"]) for r in csv.DictReader(f))
    elif (folder / "tags.dat").is_file():
        lines = _decode((folder / "tags.dat").read_bytes()).splitlines()
        tags = _tags_by_item((int(f[1]), f[2]) for f in (ln.split("::") for ln in lines if ln))
    X, user_ids, item_ids, rows, cols = _encode(users, items, ratings)
    T = sp.csr_matrix((times.astype(np.float64), (rows, cols)), shape=X.shape)
    bunch = Bunch(
        X=X,
        timestamps=T,
        user_ids=user_ids,
        item_ids=item_ids,
        item_titles=[titles.get(i, "") for i in item_ids],
        item_genres=[genres.get(i, []) for i in item_ids],
        item_tags=[tags.get(i, []) for i in item_ids],
        DESCR=(
            f"MovieLens {variant} (GroupLens Research): {X.nnz} ratings by "
            f"{X.shape[0]} users on {X.shape[1]} movies. Research use only; "
            "cite Harper & Konstan, ACM TiiS 5(4), 2015."
        ),
    )
    return _result(bunch, return_X_y)


def fetch_lastfm_2k(*, data_home=None, download_if_missing=True, return_X_y=False):
    """Load the HetRec 2011 Last.fm 2K user-artist play counts.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing (or receiving) the extracted ``hetrec2011-lastfm-2k/``.
    download_if_missing : bool, default=True
        Download the archive from files.grouplens.org when the folder is
        missing, check it against the MD5 GroupLens publishes beside it, and
        extract it into ``data_home``.
    return_X_y : bool, default=False
        Return only ``X``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, n_artists) of play counts), ``user_ids``,
        ``item_ids``, ``item_titles`` (artist names), ``item_tags`` (each
        artist's distinct tags assigned by users, ``tags.dat`` is latin-1) and
        ``DESCR``.
    """
    folder = _folder(data_home, "hetrec2011-lastfm-2k", download_if_missing, "user_artists.dat",
                     "hetrec2011-lastfm-2k")
    raw = np.loadtxt(folder / "user_artists.dat", dtype=np.int64, skiprows=1, ndmin=2)
    X, user_ids, item_ids, _, _ = _encode(raw[:, 0], raw[:, 1], raw[:, 2])
    names = {}
    with open(folder / "artists.dat", encoding="utf-8") as f:
        next(f)
        for line in f:
            fields = line.rstrip("\n").split("\t")
            names[int(fields[0])] = fields[1]
    tag_names, tags = {}, {}
    if (folder / "tags.dat").is_file() and (folder / "user_taggedartists.dat").is_file():
        with open(folder / "tags.dat", encoding="latin-1") as f:
            next(f)
            for line in f:
                tid, _, value = line.rstrip("\n").partition("\t")
                tag_names[int(tid)] = value
        assigned = np.loadtxt(folder / "user_taggedartists.dat", dtype=np.int64, skiprows=1,
                              ndmin=2)
        tags = _tags_by_item((int(a), tag_names.get(int(t), "")) for a, t in assigned[:, 1:3])
    bunch = Bunch(
        X=X,
        user_ids=user_ids,
        item_ids=item_ids,
        item_titles=[names.get(i, "") for i in item_ids],
        item_tags=[tags.get(i, []) for i in item_ids],
        DESCR=(
            f"HetRec 2011 Last.fm 2K: {X.nnz} user-artist play counts, {X.shape[0]} "
            f"users, {X.shape[1]} artists. Non-commercial use."
        ),
    )
    return _result(bunch, return_X_y)


def fetch_citeulike_a(*, data_home=None, download_if_missing=True, return_X_y=False):
    """Load CiteULike-a user libraries with article titles.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing the extracted ``citeulike-a/``.
    download_if_missing : bool, default=True
        No official archive exists (the data lives in the authors'
        repositories); the extracted copy must be present either way.
    return_X_y : bool, default=False
        Return only ``X``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, n_articles), 1 for each saved article),
        ``user_ids``, ``item_ids`` (0-based article ids), ``item_titles`` and
        ``DESCR``.
    """
    folder = _folder(data_home, "citeulike-a", download_if_missing, "users.dat")
    users, items = [], []
    with open(folder / "users.dat", encoding="ascii") as f:
        for u, line in enumerate(f):
            ids = line.split()[1:]
            items.extend(int(i) for i in ids)
            users.extend([u] * len(ids))
    titles = (folder / "titles.txt").read_text(encoding="utf-8").splitlines()
    n_items = len(titles)
    X = sp.csr_matrix(
        (np.ones(len(items)), (np.asarray(users), np.asarray(items))),
        shape=(max(users) + 1, n_items),
    )
    X.sum_duplicates()
    bunch = Bunch(
        X=X,
        user_ids=np.arange(X.shape[0]),
        item_ids=np.arange(n_items),
        item_titles=titles,
        DESCR=(
            f"CiteULike-a (Wang & Blei 2011): {X.nnz} user-article pairs, {X.shape[0]} "
            f"users, {X.shape[1]} articles, with titles. No license stated; cite "
            "Wang, Chen & Li, IJCAI 2013."
        ),
    )
    return _result(bunch, return_X_y)
