"""Loaders of public recommender datasets, from an extracted copy or a verified download.

Each loader looks for the publisher's folder (``ml-100k/``, ``ml-1m/``,
``ml-10M100K/``, ``ml-20m/``, ``ml-25m/``, ``ml-latest-small/``,
``hetrec2011-lastfm-2k/``, ``citeulike-a/``, ``taobao-mbcgcn/``) inside
``data_home``; when it is missing and ``download_if_missing`` is true, the
publisher's archive is downloaded, checked against its checksum and extracted
there (see ``_download.py``). The files are parsed into a CSR matrix plus the
raw ids and item metadata, in the style of ``sklearn.datasets.fetch_*``.

Every file a loader reads is checked before its content is used, because a
damaged copy used to load without a word (a cut ``u.data`` gave 50,000
ratings; a repeated line of ``ratings.csv`` was summed into a rating of 10 on a
0.5-5 scale):

* every line has the expected fields; ids are non-negative integers, ratings
  are on the release's scale and timestamps are not before 1990 (a timestamp
  cut short by a truncation is far smaller);
* a (user, item) pair appears once in an interaction file: a repeat is an
  error, never summed nor silently dropped, since the publishers' files have
  none and the two values could not be merged into a right one;
* every rated item has its metadata line (a title);
* every file has the number of rows of its release (``_EXPECTED_ROWS``);
* a folder extracted by ``fetch_archive`` also holds a manifest of the sizes
  and CRC-32s of the verified archive's files, and each file read must match.

A failed check raises ``ValueError`` naming the file, the line where there is
one, and the fix.
"""

import csv
import io
import os
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.utils import Bunch

__all__ = [
    "get_data_home",
    "fetch_movielens",
    "fetch_lastfm_2k",
    "fetch_citeulike_a",
    "fetch_taobao",
]

from ._download import ARCHIVES, MANIFEST, crc32_of, fetch_archive, read_manifest

_MOVIELENS_FOLDERS = {
    "100k": "ml-100k",
    "1m": "ml-1m",
    "10m": "ml-10M100K",
    "20m": "ml-20m",
    "25m": "ml-25m",
    "latest-small": "ml-latest-small",
}

# Data rows (the non-blank lines after any header) of each file the loaders
# read, per publisher folder: the counts the READMEs of MovieLens and HetRec
# state (u.genre: its 19 genres; movies files: one line per movie), and for
# CiteULike-a, which has no archive, those of the authors' users.dat and of
# the 16,980-article titles.txt. A copy with another count was cut short or
# altered. Private on purpose: the tests that load tiny hand-written copies
# replace it with monkeypatch; no argument of a loader can skip it.
_EXPECTED_ROWS = {
    "ml-100k": {"u.data": 100_000, "u.item": 1_682, "u.genre": 19, "u.user": 943},
    # one line per user with at least one interaction of the behaviour
    "taobao-mbcgcn": {f"{b}/{part}.txt": 15_449 for b in ("view", "cart", "buy")
                      for part in ("train", "test")},
    "ml-1m": {"ratings.dat": 1_000_209, "movies.dat": 3_883},
    "ml-10M100K": {"ratings.dat": 10_000_054, "movies.dat": 10_681, "tags.dat": 95_580},
    "ml-20m": {"ratings.csv": 20_000_263, "movies.csv": 27_278, "tags.csv": 465_564},
    "ml-25m": {"ratings.csv": 25_000_095, "movies.csv": 62_423, "tags.csv": 1_093_360},
    "ml-latest-small": {"ratings.csv": 100_836, "movies.csv": 9_742, "tags.csv": 3_683},
    "hetrec2011-lastfm-2k": {"user_artists.dat": 92_834, "artists.dat": 17_632,
                             "tags.dat": 11_946, "user_taggedartists.dat": 186_479},
    "citeulike-a": {"users.dat": 5_551, "titles.txt": 16_980},
}

# A file cut inside its last line can keep every check above (Last.fm's play count
# 263 cut to 2, a CiteULike or Taobao id cut to a shorter valid one). Files whose
# release ends with a line break are refused without one; for the files of
# releases that end without one (and have no archive whose manifest would tell),
# the release's size in bytes, with Windows line ends counted as one byte (the loaders
# read those copies too). Private, as _EXPECTED_ROWS: the tests of tiny hand-written
# copies empty them.
_ENDS_WITH_NEWLINE = {
    "hetrec2011-lastfm-2k": {"user_artists.dat", "artists.dat", "tags.dat",
                             "user_taggedartists.dat"},
    "citeulike-a": {"titles.txt"},
}
_RELEASE_BYTES = {
    "citeulike-a": {"users.dat": 1_094_785},
    "taobao-mbcgcn": {"buy/train.txt": 531_627, "buy/test.txt": 157_169,
                      "cart/train.txt": 972_161, "cart/test.txt": 157_925,
                      "view/test.txt": 158_313},
}

# ml-latest-small is a rolling release: the counts above are those of the one
# generated on this date (the archive digest pins it too). Another release,
# extracted by hand as the download's checksum error suggests, says so in its
# README.txt and is loaded without the row counts (all other checks apply).
_LATEST_SMALL_RELEASE = "generated on September 26, 2018"

# 1990-01-01 UTC. The earliest rating of any release is of 1995; a timestamp
# cut short by a truncation (a prefix of a 9- or 10-digit number) is before 1977.
_EARLIEST_TIMESTAMP = 631_152_000

# GroupLens's files of 100K and HetRec's tags.dat are latin-1; a copy re-encoded
# to UTF-8 (as editors and many repositories do) must not load as mojibake, and
# the originals are not valid UTF-8, so UTF-8 is tried first
_UTF_8_OR_LATIN_1 = ("utf-8", "latin-1")

_WHOLE_STARS = np.arange(1.0, 6.0)
_HALF_STARS = np.arange(1.0, 11.0) / 2


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


def _show(line):
    return repr(line if len(line) <= 60 else line[:57] + "...")


def _fields(n):
    return f"{n} field" + ("" if n == 1 else "s")


def _number(value):
    return f"{value:g}" if np.isfinite(value) else str(value)


class _Copy:
    """The files of one extracted dataset folder, each checked as it is read.

    Parameters
    ----------
    folder : pathlib.Path
        The publisher's folder.
    archive : str, default=None
        Key of the archive that can replace it (``None``: no download exists).
    """

    def __init__(self, folder, archive=None):
        self.folder = folder
        self.archive = archive
        self._manifest = read_manifest(folder)
        self._headers = {}

    # -- errors -------------------------------------------------------------

    def _fix(self):
        if self.archive in ARCHIVES:
            return (f"Delete {self.folder} and call the loader again with "
                    "download_if_missing=True to download a verified copy, or pass "
                    "data_home= a folder holding a complete copy of the publisher's archive.")
        return (f"Replace {self.folder} with a complete copy of the dataset, or pass "
                "data_home= a folder holding one.")

    def error(self, name, problem, line=None):
        """ValueError naming the file (and line), the problem and the fix."""
        where = str(self.folder / name)
        if isinstance(line, int):
            where += f", line {line}"
            if line == self._last_line(name):
                problem += " (the file's last line: the file may have been cut short)"
        elif line is not None:
            where += f", {line}"
        return ValueError(f"{where}: {problem}. The copy is damaged or incomplete. "
                          + self._fix())

    def _lines(self, name):
        # error path only: the text is read again rather than kept in memory
        data = (self.folder / name).read_bytes().replace(b"\r\n", b"\n")
        return data.decode("latin-1").split("\n")

    def _last_line(self, name):
        lines = self._lines(name)
        return max((i + 1 for i, ln in enumerate(lines) if ln.strip()), default=0)

    def line_of_row(self, name, row):
        """1-based line number of the data row ``row`` (blank lines are not rows).

        Only called on a table NumPy parsed, which therefore has no line of
        spaces that NumPy would count and this would not.
        """
        seen = -1
        for i, line in enumerate(self._lines(name)):
            if i < self._headers.get(name, 0) or not line.strip():
                continue
            seen += 1
            if seen == row:
                return i + 1
        return None

    # -- reading ------------------------------------------------------------

    def _bytes(self, name):
        """The file's bytes, checked against the manifest of the verified archive."""
        try:
            data = (self.folder / name).read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"{self.folder / name} is missing: the copy is "
                                    f"incomplete. {self._fix()}") from None
        if self._manifest and name not in self._manifest:
            # a manifest that lost a line would leave that file unchecked
            raise self.error(MANIFEST, f"{name} is not listed, but every file of the "
                             "verified archive is: the manifest was changed after extraction")
        if name in self._manifest:
            size, crc = self._manifest[name]
            found = crc32_of(data)
            if (len(data), found) != (size, crc):
                raise self.error(
                    name, f"{len(data):,} bytes with CRC-32 {found:08x}, but the verified "
                    f"archive this folder was extracted from holds {size:,} bytes with CRC-32 "
                    f"{crc:08x}: the file was changed after extraction")
        return data

    def text(self, name, encoding="ascii"):
        """The file's text with ``\\n`` line ends.

        ``encoding`` may be a tuple: the first that decodes the whole file.
        """
        data = self._bytes(name)
        encodings = (encoding,) if isinstance(encoding, str) else encoding
        for enc in encodings:
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError as exc:
                failure = exc
        else:
            line = data.count(b"\n", 0, failure.start) + 1
            raise self.error(name, f"byte {data[failure.start]:#04x} is not valid "
                             f"{encodings[-1]}", line)
        return text.replace("\r\n", "\n") if "\r" in text else text

    def _header(self, name, lines, header):
        if header is None:
            return 0
        first = lines[0].lstrip("\ufeff").strip() if lines else ""
        if first != header:
            raise self.error(name, f"the header is {_show(first)} where {header!r} is "
                             "expected", 1)
        self._headers[name] = 1
        return 1

    def records(self, name, sep, n_fields, *, encoding="ascii", header=None):
        """``(line number, fields)`` of each non-blank line after the header.

        ``sep="csv"`` reads RFC-4180 CSV; otherwise lines are split on
        ``sep``. ``n_fields`` is the exact count, or ``(minimum, None)`` for
        files whose last text field may hold the separator.
        """
        text = self.text(name, encoding)
        if sep == "csv":
            reader = csv.reader(io.StringIO(text, newline=""))
            if header is not None:
                self._header(name, [",".join(next(reader, []))], header)
            rows = ((reader.line_num, fields) for fields in reader)
        else:
            lines = text.split("\n")
            start = self._header(name, lines, header)
            rows = ((i + 1, lines[i].split(sep)) for i in range(start, len(lines))
                    if lines[i].strip())
        lo, hi = n_fields if isinstance(n_fields, tuple) else (n_fields, n_fields)
        out = []
        for number, fields in rows:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) < lo or (hi is not None and len(fields) > hi):
                what = f"{lo}" if lo == hi else f"at least {lo}"
                shown = ",".join(fields) if sep == "csv" else sep.join(fields)
                raise self.error(name, f"{_fields(len(fields))} where {what} are expected "
                                 f"({_show(shown)})", number)
            out.append((number, fields))
        return out

    def integer(self, name, number, value):
        """A non-negative integer field, or an error naming the line."""
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise self.error(name, f"{value!r} is not a non-negative integer id", number)
        return int(text)

    def table(self, name, n_cols, *, sep=None, header=None):
        """A numeric table, shape (n_rows, n_cols), parsed by NumPy's C reader.

        ``sep=None`` splits on whitespace. When NumPy refuses the text, the
        first offending line is found and named.
        """
        # bytes, not str: NumPy reads them through a decoding wrapper, where a
        # StringIO of a 25M-row file would hold four bytes per character
        data = self._bytes(name)
        if not data.isascii():
            start = int(np.argmax(np.frombuffer(data, np.uint8) >= 0x80))
            raise self.error(name, f"byte {data[start]:#04x} is not valid ascii",
                             data.count(b"\n", 0, start) + 1)
        body = data
        if header is not None:
            first, _, body = data.partition(b"\n")
            self._header(name, [first.decode("ascii")], header)
        delimiter, parsed = sep, body
        if sep is not None and len(sep) > 1:  # NumPy takes one character: "::" -> tab
            delimiter, parsed = "\t", body.replace(sep.encode("ascii"), b"\t")
        try:
            with warnings.catch_warnings():
                # "input contained no data": an empty file is reported below
                warnings.simplefilter("ignore", UserWarning)
                # newline=None: CRLF line ends (as GroupLens ships some files) read as LF
                values = np.loadtxt(io.TextIOWrapper(io.BytesIO(parsed), encoding="ascii",
                                                     newline=None),
                                    delimiter=delimiter, ndmin=2, comments=None,
                                    dtype=np.float64)
        except ValueError:
            values = None
        if values is None or values.shape[1] != n_cols or not len(values):
            text = body.decode("ascii").replace("\r\n", "\n")
            raise self._bad_line(name, text, n_cols, sep, int(header is not None))
        return values

    def _bad_line(self, name, body, n_cols, sep, offset):
        rows = 0
        for i, line in enumerate(body.split("\n")):
            # as NumPy: only empty lines are skipped, and with a separator a
            # line of spaces is a row of empty fields
            if not (line.strip() if sep is None else line):
                continue
            rows += 1
            fields = line.split(sep)
            if len(fields) != n_cols:
                return self.error(name, f"{_fields(len(fields))} where {n_cols} are expected "
                                  f"({_show(line)})", i + 1 + offset)
            for k, field in enumerate(fields):
                try:
                    float(field)
                except ValueError:
                    return self.error(name, f"field {k + 1} ({field!r}) is not a number",
                                      i + 1 + offset)
        if not rows:
            return self.error(name, "the file has no data rows")
        return self.error(name, f"NumPy cannot read it as {n_cols} numeric columns")

    # -- checks -------------------------------------------------------------

    def check_column(self, name, values, col, ok, expected):
        """Raise at the first row whose field ``col`` fails the mask ``ok``."""
        if not ok.all():
            row = int(np.argmin(ok))
            raise self.error(name, f"field {col + 1} is {_number(values[row, col])}, not "
                             f"{expected}", self.line_of_row(name, row))

    def check_ids(self, name, values, cols):
        for col in cols:
            v = values[:, col]
            self.check_column(name, values, col,
                              np.isfinite(v) & (v >= 0) & (v == np.floor(v)) & (v < 2**53),
                              "a non-negative integer id")

    def check_pairs(self, name, users, items, words=("user", "item")):
        """Each (user, item) pair once: a repeat is an error, never summed."""
        users, items = users.astype(np.int64), items.astype(np.int64)
        if not len(users):
            return
        keys = users * (int(items.max()) + 1) + items
        order = np.argsort(keys, kind="stable")
        same = np.flatnonzero(keys[order[1:]] == keys[order[:-1]])
        if same.size:
            second = order[same + 1]
            k = int(np.argmin(second))  # the repeat met first when reading the file
            first, again = int(order[same[k]]), int(second[k])
            a, b = self.line_of_row(name, first), self.line_of_row(name, again)
            raise self.error(
                name, f"{words[0]} {users[first]} and {words[1]} {items[first]} appear on "
                f"both lines; the publisher's file lists each pair once, and the two "
                f"values would be merged into one wrong value", f"lines {a} and {b}")

    def check_rows(self, name, n_rows):
        """The release's number of data rows (``_EXPECTED_ROWS``)."""
        expected = _EXPECTED_ROWS.get(self.folder.name, {}).get(name)
        if self.folder.name == "ml-latest-small":
            readme = self.folder / "README.txt"
            if readme.is_file() and _LATEST_SMALL_RELEASE not in readme.read_text(
                    encoding="utf-8", errors="replace"):
                expected = None  # another release: its counts are not known here
        if expected is not None and n_rows != expected:
            how = "cut short" if n_rows < expected else "altered (rows were added)"
            raise self.error(name, f"{n_rows:,} data row{'' if n_rows == 1 else 's'} where "
                             f"the release has {expected:,}: the file was {how}")
        self._check_end(name)

    def _check_end(self, name):
        """A cut inside the last line: the release's size, or its final line break."""
        size = _RELEASE_BYTES.get(self.folder.name, {}).get(name)
        path = self.folder / name
        if size is not None and path.stat().st_size != size:
            data = path.read_bytes()
            found = len(data) - data.count(b"\r\n")  # "\r\n" as the "\n" it is read as
            if found != size:
                raise self.error(name, f"{found:,} bytes where the release has {size:,}: the "
                                 f"file was {'cut short' if found < size else 'altered'}")
        if name in _ENDS_WITH_NEWLINE.get(self.folder.name, ()):
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell():
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        raise self.error(name, "the file ends inside a line, where the "
                                         "release ends with a line break",
                                         self._last_line(name))

    def check_titles(self, name, items, titles, words=("movie", "u.item"), what="a title"):
        """Every rated item (or rating user) has a metadata line."""
        missing = np.flatnonzero(~np.isin(items, np.fromiter(titles, np.int64, len(titles))))
        if missing.size:
            row = int(missing[0])
            raise self.error(name, f"{words[0]} {int(items[row])} has no line in "
                             f"{words[1]}, so it would load without {what}",
                             self.line_of_row(name, row))


def _ids_once(copy, name, number, key, seen):
    """Record the line of an id in a metadata file; an id listed twice is an error."""
    if key in seen:
        raise copy.error(name, f"id {key} is listed twice", f"lines {seen[key]} and {number}")
    seen[key] = number


def _tags_by_item(pairs):
    """{item: [tag, ...]} keeping each item's distinct tags in order of first use."""
    tags = {}
    for item, tag in pairs:
        lst = tags.setdefault(item, [])
        if tag not in lst:
            lst.append(tag)
    return tags


def _ratings(copy, name, *, sep, header, scale):
    """users, items, ratings, timestamps of a MovieLens ratings file, checked."""
    raw = copy.table(name, 4, sep=sep, header=header)
    copy.check_ids(name, raw, (0, 1))
    copy.check_column(name, raw, 2, np.isin(raw[:, 2], scale),
                      f"a rating of the release's scale ({_number(scale[0])} to 5)")
    t = raw[:, 3]
    copy.check_column(name, raw, 3, (t >= _EARLIEST_TIMESTAMP) & (t == np.floor(t)),
                      "a Unix time from 1990 on")
    users, items = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
    copy.check_pairs(name, users, items, ("user", "movie"))
    copy.check_rows(name, len(raw))
    return users, items, raw[:, 2], raw[:, 3].astype(np.int64)


def _encode(users, items, values):
    """CSR matrix from raw id triples; rows/columns are the sorted unique ids.

    The pairs were checked to be distinct, so nothing is summed.
    """
    user_ids, rows = np.unique(users, return_inverse=True)
    item_ids, cols = np.unique(items, return_inverse=True)
    X = sp.csr_matrix(
        (np.asarray(values, dtype=np.float64), (rows, cols)),
        shape=(len(user_ids), len(item_ids)),
    )
    return X, user_ids, item_ids, rows, cols


def _result(bunch, return_X_y):
    return bunch.X if return_X_y else bunch


def _movielens_100k(copy):
    users, items, ratings, times = _ratings(copy, "u.data", sep=None, header=None,
                                            scale=_WHOLE_STARS)
    genre_lines = copy.records("u.genre", "|", 2, encoding=_UTF_8_OR_LATIN_1)
    copy.check_rows("u.genre", len(genre_lines))
    # u.item's flags are in the order of the genre ids, not of u.genre's lines
    by_id, seen = {}, {}
    for number, (name, gid) in genre_lines:
        gid = copy.integer("u.genre", number, gid)
        _ids_once(copy, "u.genre", number, gid, seen)
        if gid >= len(genre_lines):
            raise copy.error("u.genre", f"genre id {gid} is beyond the file's "
                             f"{len(genre_lines)} genres (ids 0 to {len(genre_lines) - 1})",
                             number)
        by_id[gid] = name
    genre_names = [by_id[g] for g in range(len(genre_lines))]
    titles, genres, seen = {}, {}, {}
    for number, fields in copy.records("u.item", "|", 5 + len(genre_names),
                                       encoding=_UTF_8_OR_LATIN_1):
        mid = copy.integer("u.item", number, fields[0])
        _ids_once(copy, "u.item", number, mid, seen)
        titles[mid] = fields[1]
        flags = fields[5:]
        bad = next((k for k, flag in enumerate(flags) if flag not in ("0", "1")), None)
        if bad is not None:
            raise copy.error("u.item", f"the flag of genre {genre_names[bad]!r} (field "
                             f"{6 + bad}) is {flags[bad]!r}, not 0 or 1", number)
        genres[mid] = [g for g, flag in zip(genre_names, flags) if flag == "1"]
    copy.check_rows("u.item", len(titles))
    copy.check_titles("u.data", items, titles)
    return users, items, ratings, times, titles, genres


def _movielens_100k_users(copy, users, user_ids):
    """``user_ages``, ``user_genders``, ``user_occupations`` of 100K's u.user, in row order."""
    info, seen = {}, {}
    for number, fields in copy.records("u.user", "|", 5, encoding=_UTF_8_OR_LATIN_1):
        uid = copy.integer("u.user", number, fields[0])
        _ids_once(copy, "u.user", number, uid, seen)
        age = fields[1].strip()
        if not (age.isdigit() and age.isascii()):
            raise copy.error("u.user", f"the age {fields[1]!r} is not a non-negative integer",
                             number)
        if fields[2] not in ("M", "F"):
            raise copy.error("u.user", f"the gender {fields[2]!r} is not 'M' or 'F'", number)
        info[uid] = (int(age), fields[2], fields[3])
    copy.check_rows("u.user", len(info))
    copy.check_titles("u.data", users, info, ("user", "u.user"), "demographics")
    return {"user_ages": np.array([info[u][0] for u in user_ids], dtype=np.int64),
            "user_genders": [info[u][1] for u in user_ids],
            "user_occupations": [info[u][2] for u in user_ids]}


def _movielens_dat(copy):
    users, items, ratings, times = _ratings(copy, "ratings.dat", sep="::", header=None,
                                            scale=_WHOLE_STARS if copy.folder.name == "ml-1m"
                                            else _HALF_STARS)
    titles, genres, seen = {}, {}, {}
    # MovieLens 1M's movies.dat is latin-1, 10M's UTF-8; a title may hold "::"
    for number, fields in copy.records("movies.dat", "::", (3, None),
                                       encoding=_UTF_8_OR_LATIN_1):
        mid = copy.integer("movies.dat", number, fields[0])
        _ids_once(copy, "movies.dat", number, mid, seen)
        titles[mid] = "::".join(fields[1:-1])
        genres[mid] = [] if fields[-1] == "(no genres listed)" else fields[-1].split("|")
    copy.check_rows("movies.dat", len(titles))
    copy.check_titles("ratings.dat", items, titles, ("movie", "movies.dat"))
    return users, items, ratings, times, titles, genres


def _movielens_csv(copy):
    users, items, ratings, times = _ratings(copy, "ratings.csv", sep=",",
                                            header="userId,movieId,rating,timestamp",
                                            scale=_HALF_STARS)
    titles, genres, seen = {}, {}, {}
    for number, (mid, title, genre) in copy.records("movies.csv", "csv", 3,
                                                    encoding="utf-8",
                                                    header="movieId,title,genres"):
        mid = copy.integer("movies.csv", number, mid)
        _ids_once(copy, "movies.csv", number, mid, seen)
        titles[mid] = title
        genres[mid] = [] if genre == "(no genres listed)" else genre.split("|")
    copy.check_rows("movies.csv", len(titles))
    copy.check_titles("ratings.csv", items, titles, ("movie", "movies.csv"))
    return users, items, ratings, times, titles, genres


def _movielens_tags(copy):
    if (copy.folder / "tags.csv").is_file():
        rows = copy.records("tags.csv", "csv", 4, encoding="utf-8",
                            header="userId,movieId,tag,timestamp")
        pairs = [(copy.integer("tags.csv", n, f[1]), f[2]) for n, f in rows]
        copy.check_rows("tags.csv", len(pairs))
    elif (copy.folder / "tags.dat").is_file():
        # a tag may hold "::": the tag is everything between the 2nd and the last
        rows = copy.records("tags.dat", "::", (4, None), encoding=_UTF_8_OR_LATIN_1)
        pairs = [(copy.integer("tags.dat", n, f[1]), "::".join(f[2:-1])) for n, f in rows]
        copy.check_rows("tags.dat", len(pairs))
    else:
        return {}
    return _tags_by_item(pairs)


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
        missing, check it against its pinned size and SHA-256 (and, for the
        frozen releases, the MD5 GroupLens publishes) and extract it into
        ``data_home``.
    return_X_y : bool, default=False
        Return only ``X``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, n_items) of ratings), ``timestamps``
        (csr_matrix, same pattern, Unix seconds), ``user_ids`` and
        ``item_ids`` (raw ids of rows and columns: the users and movies
        with at least one rating; a movie of the movies file that nobody
        rated, 18 in latest-small, has no column, nor do its tags),
        ``item_titles``,
        ``item_genres`` (list of lists of genre names), ``item_tags`` (each
        movie's distinct user tags, from ``tags.csv`` / ``tags.dat``; empty
        for 100K and 1M, which have none) and ``DESCR``; for 100K also the
        users' demographics of ``u.user`` in row order: ``user_ages``
        (ndarray of int), ``user_genders`` ("M"/"F") and ``user_occupations``
        (left out, without an error, for a copy that lacks ``u.user``: the
        ratings do not need it).

    Raises
    ------
    OSError
        When the release's folder is missing and cannot be downloaded, or
        lacks a file the loader reads.
    ValueError
        When the extracted copy is damaged: a line with the wrong fields, a
        value off the release's scale, a (user, movie) pair listed twice, a
        rated movie without a title, a file with another number of rows than
        the release (checked for every release except an ``ml-latest-small``
        newer than the one of 2018-09-26), or a file that differs from the
        verified archive it was extracted from. The message names the file,
        the line and the fix.

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
    if variant == "100k":
        read, marker = _movielens_100k, "u.data"
    elif variant in ("1m", "10m"):
        read, marker = _movielens_dat, "ratings.dat"
    else:
        read, marker = _movielens_csv, "ratings.csv"
    copy = _Copy(_folder(data_home, name, download_if_missing, marker, archive), archive)
    users, items, ratings, times, titles, genres = read(copy)
    tags = _movielens_tags(copy)
    X, user_ids, item_ids, rows, cols = _encode(users, items, ratings)
    T = sp.csr_matrix((times.astype(np.float64), (rows, cols)), shape=X.shape)
    demographics = {}
    if variant == "100k" and (copy.folder / "u.user").is_file():
        demographics = _movielens_100k_users(copy, users, user_ids)
    bunch = Bunch(
        X=X,
        timestamps=T,
        user_ids=user_ids,
        item_ids=item_ids,
        item_titles=[titles[i] for i in item_ids],
        item_genres=[genres[i] for i in item_ids],
        item_tags=[tags.get(i, []) for i in item_ids],
        **demographics,
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
        missing, check it against its pinned SHA-256, and extract it into
        ``data_home``.
    return_X_y : bool, default=False
        Return only ``X``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, n_artists) of play counts), ``user_ids``,
        ``item_ids``, ``item_titles`` (artist names), ``item_tags`` (each
        artist's distinct tags assigned by users; ``tags.dat`` is latin-1,
        or UTF-8 in a re-encoded copy; a copy without ``tags.dat`` or
        ``user_taggedartists.dat`` gives every artist ``[]``, without an
        error, as the tags are optional) and ``DESCR``.

    Raises
    ------
    OSError
        When ``hetrec2011-lastfm-2k/`` is missing from ``data_home`` and
        cannot be downloaded, or lacks a file the loader reads.
    ValueError
        When the copy is damaged: a line with the wrong fields, a play count
        that is not a positive integer, a (user, artist) pair listed twice, a
        played artist missing from ``artists.dat``, a file with another number
        of rows than the release, or a file that differs from the verified
        archive. The message names the file, the line and the fix.
    """
    name = "hetrec2011-lastfm-2k"
    copy = _Copy(_folder(data_home, name, download_if_missing, "user_artists.dat", name), name)
    raw = copy.table("user_artists.dat", 3, sep="\t", header="userID\tartistID\tweight")
    copy.check_ids("user_artists.dat", raw, (0, 1))
    w = raw[:, 2]
    copy.check_column("user_artists.dat", raw, 2, (w >= 1) & (w == np.floor(w)),
                      "a play count (a positive integer)")
    users, artists = raw[:, 0].astype(np.int64), raw[:, 1].astype(np.int64)
    copy.check_pairs("user_artists.dat", users, artists, ("user", "artist"))
    copy.check_rows("user_artists.dat", len(raw))
    X, user_ids, item_ids, _, _ = _encode(users, artists, w)
    names, seen = {}, {}
    for number, fields in copy.records("artists.dat", "\t", 4, encoding="utf-8",
                                       header="id\tname\turl\tpictureURL"):
        aid = copy.integer("artists.dat", number, fields[0])
        _ids_once(copy, "artists.dat", number, aid, seen)
        names[aid] = fields[1]
    copy.check_rows("artists.dat", len(names))
    copy.check_titles("user_artists.dat", artists, names, ("artist", "artists.dat"))
    tags = {}
    if (copy.folder / "tags.dat").is_file() and (
            copy.folder / "user_taggedartists.dat").is_file():
        # a tag value may hold a tab: it is everything after the first one
        tag_names, seen = {}, {}
        for number, fields in copy.records("tags.dat", "\t", (2, None),
                                           encoding=_UTF_8_OR_LATIN_1,
                                           header="tagID\ttagValue"):
            tid = copy.integer("tags.dat", number, fields[0])
            _ids_once(copy, "tags.dat", number, tid, seen)
            tag_names[tid] = "\t".join(fields[1:])
        copy.check_rows("tags.dat", len(tag_names))
        assigned = copy.table("user_taggedartists.dat", 6, sep="\t",
                              header="userID\tartistID\ttagID\tday\tmonth\tyear")
        copy.check_ids("user_taggedartists.dat", assigned, range(6))
        copy.check_rows("user_taggedartists.dat", len(assigned))
        copy.check_titles("user_taggedartists.dat", assigned[:, 2].astype(np.int64), tag_names,
                          ("tag", "tags.dat"), "its text")
        tags = _tags_by_item((a, tag_names[t])
                             for a, t in assigned[:, 1:3].astype(np.int64).tolist())
    bunch = Bunch(
        X=X,
        user_ids=user_ids,
        item_ids=item_ids,
        item_titles=[names[i] for i in item_ids],
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

    Raises
    ------
    OSError
        When ``citeulike-a/``, its ``users.dat`` or its ``titles.txt`` is
        missing.
    ValueError
        When the copy is damaged: a blank line in ``users.dat`` (the line
        number is the user id, so it would shift every later user), a line
        whose leading count differs from its number of ids, an article id
        that is not an integer below the number of titles, an article listed
        twice on one line, or a file with another number of lines than the
        dataset (5,551 users, 16,980 titles). The message names the file, the
        line and the fix.
    """
    copy = _Copy(_folder(data_home, "citeulike-a", download_if_missing, "users.dat"))
    titles = copy.text("titles.txt", "utf-8").split("\n")
    if titles and titles[-1] == "":
        titles.pop()  # the final newline
    copy.check_rows("titles.txt", len(titles))
    blank = next((k for k, title in enumerate(titles) if not title.strip()), None)
    if blank is not None:
        raise copy.error("titles.txt", "the title is blank; each line is the title of one "
                         "article (line number - 1 = article id), so a lost title shifts "
                         "every later one", blank + 1)
    n_items = len(titles)
    lines = copy.text("users.dat").split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    users, items = [], []
    for u, line in enumerate(lines):
        fields = line.split()
        if not fields:
            raise copy.error("users.dat", "the line is blank; each line is one user "
                             "(line number - 1 = user id), so every later user would shift",
                             u + 1)
        count, ids = copy.integer("users.dat", u + 1, fields[0]), fields[1:]
        if count != len(ids):
            raise copy.error("users.dat", f"the line starts with the count {count} but lists "
                             f"{len(ids)} article ids", u + 1)
        ids = [copy.integer("users.dat", u + 1, i) for i in ids]
        if ids and max(ids) >= n_items:
            raise copy.error("users.dat", f"article {max(ids)} is beyond the {n_items:,} "
                             "articles of titles.txt", u + 1)
        if len(set(ids)) != len(ids):
            again = next(i for k, i in enumerate(ids) if i in ids[:k])
            raise copy.error("users.dat", f"article {again} is listed twice", u + 1)
        items.extend(ids)
        users.extend([u] * len(ids))
    copy.check_rows("users.dat", len(lines))
    X = sp.csr_matrix(
        (np.ones(len(items)), (np.asarray(users, dtype=np.int64),
                               np.asarray(items, dtype=np.int64))),
        shape=(len(lines), n_items),
    )
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


TAOBAO_BEHAVIORS = ("view", "cart", "buy")


def _behavior_lines(copy, name, single=False):
    """(users, items, {user: line}) of a ``user item item ...`` file, each (user, item) once.

    ``single``: a test file, one held-out item per line.
    """
    users, items, seen = [], [], {}
    lines = [line for line in copy.text(name).split("\n")]
    n_rows = 0
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        n_rows += 1
        user = copy.integer(name, number, fields[0])
        _ids_once(copy, name, number, user, seen)
        ids = [copy.integer(name, number, f) for f in fields[1:]]
        if not ids:
            raise copy.error(name, f"user {user} has no item on the line", number)
        if single and len(ids) > 1:
            raise copy.error(name, f"user {user} has {len(ids)} items on the line where the "
                             "split holds out one per user and behaviour", number)
        if len(set(ids)) != len(ids):
            again = next(i for k, i in enumerate(ids) if i in ids[:k])
            raise copy.error(name, f"item {again} is listed twice for user {user}", number)
        users.extend([user] * len(ids))
        items.extend(ids)
    copy.check_rows(name, n_rows)
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64), seen


def _check_taobao_split(copy, parts, n_users):
    """Every file lists the users 0..n_users-1; no held-out item is also a training one."""
    for (behavior, part), (_, _, lines) in parts.items():
        if len(lines) != n_users:
            missing = min(set(range(n_users)) - set(lines))
            raise copy.error(f"{behavior}/{part}.txt", f"user {missing} has no line, but the "
                             f"split's files list users up to {n_users - 1}: every file of "
                             "the split lists every user, and a user missing from one "
                             "would be an empty row of that behaviour")
    for behavior in TAOBAO_BEHAVIORS:
        train_users, train_items, _ = parts[behavior, "train"]
        test_users, test_items, test_lines = parts[behavior, "test"]
        n_items = 1 + max(int(train_items.max(initial=0)), int(test_items.max(initial=0)))
        leaked = np.isin(test_users * n_items + test_items,
                         train_users * n_items + train_items)
        if leaked.any():
            user, item = int(test_users[leaked][0]), int(test_items[leaked][0])
            raise copy.error(f"{behavior}/test.txt", f"user {user}'s held-out item {item} is "
                             f"also in {behavior}/train.txt: the test interaction would be "
                             "trained on", test_lines[user])


def fetch_taobao(*, data_home=None, download_if_missing=True, return_X_y=False):
    """Load the Taobao multi-behaviour split of MB-CGCN: views, carts and purchases.

    The split of Cheng et al. (2023), used by MB-CGCN, CRGCN and MuLe: the
    same 15,449 users and 11,953 items in three behaviours, with one held-out
    interaction per user and behaviour. ``X`` stacks the behaviours side by
    side, one ``(n_users, n_items)`` block each in the order of
    ``behaviors``, so that a user's behaviours stay in one row and model
    selection tools, which split rows, keep them together.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder containing ``taobao-mbcgcn/`` with ``view/``, ``cart/`` and
        ``buy/``, each holding ``train.txt`` and ``test.txt``.
    download_if_missing : bool, default=True
        No official archive exists (the split lives in the authors'
        repository); the copy must be present either way.
    return_X_y : bool, default=False
        Return ``(X, X_test)`` only.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (csr_matrix (n_users, 3 * n_items), 1 for each training
        interaction; columns ``[b * n_items, (b + 1) * n_items)`` are behaviour
        ``behaviors[b]``), ``X_test`` (same layout: each user's held-out
        interaction of each behaviour), ``behaviors`` (``("view", "cart",
        "buy")``), ``target`` (``"buy"``), ``n_items``, ``user_ids``,
        ``item_ids`` and ``DESCR``. The files are returned as they are; the
        papers on this split evaluate the ``"buy"`` block of ``X_test`` and
        give its view and cart blocks to the model as inputs (Examples):
        trained on ``X`` alone, a model misses 15,449 views and 15,449 carts
        of that protocol, and 2% of the test purchases were viewed or
        carted only in those blocks (83.2% of them are in ``X``'s, 85.2%
        with them), so its figures are not comparable with the published
        ones.

    Raises
    ------
    OSError
        When ``taobao-mbcgcn/`` or one of its six files is missing.
    ValueError
        When the copy is damaged: a field that is not an integer id, a user
        listed on two lines of a file, an item listed twice for one user, a
        line with a user and no item, a test line with more than one item, a
        held-out item that is also in the behaviour's training file, a user
        missing from one file, or a file with another number of lines than
        the split (15,449 users each). The message names the file, the line
        and the fix.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> from sklearn_recsys.datasets import fetch_taobao
    >>> data = fetch_taobao(data_home="../shared/data")  # doctest: +SKIP
    >>> data.X.shape, data.behaviors  # doctest: +SKIP
    ((15449, 35859), ('view', 'cart', 'buy'))

    The papers' protocol: views and carts of both files are inputs, the
    held-out purchases are the test set.

    >>> n = data.n_items  # doctest: +SKIP
    >>> X = sp.hstack([data.X[:, :2 * n] + data.X_test[:, :2 * n],
    ...                data.X[:, 2 * n:]], format="csr")  # doctest: +SKIP
    >>> y_test = data.X_test[:, 2 * n:]  # doctest: +SKIP
    """
    copy = _Copy(_folder(data_home, "taobao-mbcgcn", download_if_missing, "buy/train.txt"))
    parts = {(b, part): _behavior_lines(copy, f"{b}/{part}.txt", single=part == "test")
             for b in TAOBAO_BEHAVIORS for part in ("train", "test")}
    n_users = 1 + max(int(u.max()) for u, _, _ in parts.values() if len(u))
    n_items = 1 + max(int(i.max()) for _, i, _ in parts.values() if len(i))
    _check_taobao_split(copy, parts, n_users)

    def stacked(part):
        blocks = [sp.csr_matrix((np.ones(len(i)), (u, i)), shape=(n_users, n_items))
                  for u, i, _ in (parts[b, part] for b in TAOBAO_BEHAVIORS)]
        return sp.hstack(blocks, format="csr")

    X, X_test = stacked("train"), stacked("test")
    if return_X_y:
        return X, X_test
    n_buys = parts["buy", "train"][0].size
    return Bunch(
        X=X,
        X_test=X_test,
        behaviors=TAOBAO_BEHAVIORS,
        target="buy",
        n_items=n_items,
        user_ids=np.arange(n_users),
        item_ids=np.arange(n_items),
        DESCR=(
            f"Taobao multi-behaviour split of MB-CGCN (Cheng et al. 2023): {n_users} users, "
            f"{n_items} items; views, carts and {n_buys} training purchases, one held-out "
            "interaction per user and behaviour. No license stated; research use only."
        ),
    )
