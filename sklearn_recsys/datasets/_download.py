"""Download of dataset archives from their publishers, verified by checksum, and extraction.

Each archive is registered with its official address, the folder it extracts
to under the data home, and what it must match: its SHA-256 (pinned for every
archive), its size where a public record states it, and for the frozen
MovieLens releases the MD5 GroupLens publishes beside each archive
(``<archive>.md5``; an archive registered without any pinned digest is checked
against that file at download time).

Where the pinned values come from
---------------------------------
This project's machines cannot reach files.grouplens.org, so no value here was
measured on a download: each is copied from public records of the official
address, read on 2026-12-01 in a stored index of public GitHub repositories.
A record is named (repository:path, commit) only where that index named it:

* ``ml-100k``, ``ml-1m``, ``ml-20m``, ``ml-25m``, ``ml-latest-small``: SHA-256
  and size in bytes from TensorFlow Datasets,
  ``tensorflow/datasets:tensorflow_datasets/url_checksums/movielens.txt``
  (commit 1c076ac); the same SHA-256 values are in
  ``ISG-Siegen/OmniRec:src/omnirec/data_loaders/`` (``movielens_100k.py`` at
  79cb116, ``movielens_small.py`` and ``movielens_large.py`` at e498cce).
  For ``ml-latest-small`` that is the release generated on 2018-09-26.
* ``ml-10m``: TensorFlow Datasets has no record. SHA-256 from OmniRec's
  ``movielens_small.py`` (e498cce). Size 65,566,137 bytes: stated by several
  public files found by a code search (download scripts and data notes, some
  pairing it with this SHA-256 and this MD5) whose repositories the search
  did not name, so none is cited.
* ``hetrec2011-lastfm-2k``: TensorFlow Datasets has no record. SHA-256 from
  OmniRec's ``hetrec_lastfm.py`` (79cb116). No size is pinned: the one record
  found (2,589,075 bytes) could not be attributed. ``sisinflab/DataRec``
  (``datarec/datasets/lastfm/lastfm_2011.py``) records the MD5
  296d61afe4e8632b173fc2dd3be20ce2; it is not pinned either, being a single
  record that cannot be checked against the SHA-256 without the archive (at
  download time the archive is checked against the pinned SHA-256 only).
* MD5 of the frozen MovieLens releases (100K, 1M, 10M, 20M, 25M): the same
  five values are listed as the archives' checksums in
  ``eli-osherovich/papers_with_code:arxiv_1912.09140/movielens_config.py``
  (seen in a search excerpt; the file itself could not be opened), and the
  100K and 10M ones are paired with the SHA-256 above in further unnamed
  records. That GroupLens's ``.md5`` files hold them was not checked here.

A size mismatch is reported as an incomplete download, a digest mismatch as a
corrupt or altered one. Every download's SHA-256 is written next to the
extracted folder (``<folder>/.sha256``), and the size and CRC-32 of each
extracted file, as the verified archive records them, in
``<folder>/.manifest``: the loaders check each file they read against it, so a
file damaged or edited after extraction is reported, not loaded.
"""

import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ARCHIVES", "crc32_of", "fetch_archive", "read_manifest"]

MANIFEST = ".manifest"

_GROUPLENS = "https://files.grouplens.org/datasets"


@dataclass(frozen=True)
class Archive:
    url: str
    folder: str  # folder name under data_home once extracted
    md5: str = None
    sha256: str = None
    size: int = None  # bytes, where a public record states it
    flat: bool = False  # the zip has no top folder: extract into ``folder``
    note: str = ""  # appended to a checksum error


ARCHIVES = {
    "ml-100k": Archive(
        f"{_GROUPLENS}/movielens/ml-100k.zip", "ml-100k",
        md5="0e33842e24a9c977be4e0107933c0723", size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"),
    "ml-1m": Archive(
        f"{_GROUPLENS}/movielens/ml-1m.zip", "ml-1m",
        md5="c4d9eecfca2ab87c1945afe126590906", size=5_917_549,
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"),
    "ml-10m": Archive(
        f"{_GROUPLENS}/movielens/ml-10m.zip", "ml-10M100K",
        md5="ce571fd55effeba0271552578f2648bd", size=65_566_137,
        sha256="813c411ccb6122564edfe752e7f80c4dcc5aa25fa94c93622f6877a7ba252862"),
    "ml-20m": Archive(
        f"{_GROUPLENS}/movielens/ml-20m.zip", "ml-20m",
        md5="cd245b17a1ae2cc31bb14903e1204af3", size=198_702_078,
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3"),
    "ml-25m": Archive(
        f"{_GROUPLENS}/movielens/ml-25m.zip", "ml-25m",
        md5="6b51fb2759a8657d3bfcbfc42b592ada", size=261_978_986,
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa"),
    # a "latest" release can be replaced by GroupLens: pinned to the one of
    # 2018-09-26, whose counts the loader's documentation and tests state
    "ml-latest-small": Archive(
        f"{_GROUPLENS}/movielens/ml-latest-small.zip", "ml-latest-small", size=978_202,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        note=" The pinned digest is that of the release of 2018-09-26; if GroupLens has "
             "published a newer one, extract it by hand into the data home and load it "
             "with download_if_missing=False."),
    "hetrec2011-lastfm-2k": Archive(
        f"{_GROUPLENS}/hetrec2011/hetrec2011-lastfm-2k.zip", "hetrec2011-lastfm-2k",
        sha256="6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
        flat=True),
}


def _digests(path):
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _get(url, dest, verbose):
    """Save ``url`` to ``dest``; any failure of the transfer is an ``OSError``."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while True:
                block = response.read(1 << 20)
                if not block:
                    break
                out.write(block)
                done += len(block)
                if verbose and total:
                    print(f"\rdownloading {url}: {100 * done // total:3d}% of "
                          f"{total / 2**20:.1f} MB", end="", file=sys.stderr, flush=True)
    except http.client.HTTPException as exc:
        # a connection cut mid-body (IncompleteRead) or a malformed response:
        # not OSErrors, but the same failure for the caller
        raise OSError(f"{type(exc).__name__}: {exc}") from exc
    if verbose:
        print(file=sys.stderr)


def _published_md5(archive, verbose):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "md5"
        _get(archive.url + ".md5", path, False)
        text = path.read_text(encoding="ascii", errors="replace").split()
    candidates = [t.lower() for t in text if len(t) == 32]
    if not candidates:
        raise OSError(f"No MD5 digest found at {archive.url}.md5; cannot verify the archive.")
    return candidates[0]


def fetch_archive(name, data_home, *, verbose=True):
    """Download, verify and extract a registered archive into ``data_home``.

    Parameters
    ----------
    name : str
        Key of :data:`ARCHIVES`.
    data_home : pathlib.Path
        Folder that receives the extracted publisher folder.
    verbose : bool, default=True
        Show download progress on stderr.

    Returns
    -------
    folder : pathlib.Path
        The extracted folder.

    Raises
    ------
    OSError
        When the download fails, is shorter or longer than the pinned size,
        or does not match its checksum (the partial files are removed); when
        the archive does not hold the folder it is registered with; or,
        before anything is downloaded, when ``data_home`` already has a
        non-empty folder of that name (an incomplete copy, or files of the
        user's): it is never deleted, the user deletes or moves it.
    """
    archive = ARCHIVES[name]
    data_home = Path(data_home)
    final = data_home / archive.folder
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise OSError(
            f"{final} exists but holds no complete copy of the dataset (its main file is "
            "missing); it is left as it is rather than replaced by the download, since it "
            "may hold files of yours. Delete or move it and call the loader again to "
            "download a verified copy, or complete the copy by hand.")
    data_home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_home) as tmp:
        zpath = Path(tmp) / os.path.basename(archive.url)
        try:
            _get(archive.url, zpath, verbose)
        except OSError as exc:
            raise OSError(
                f"Could not download {archive.url} ({exc}). Download and extract it by hand "
                f"into {data_home / archive.folder}, or pass download_if_missing=False "
                "with data_home pointing at an extracted copy."
            ) from exc
        received = zpath.stat().st_size
        if archive.size is not None and received != archive.size:
            # checked before the digests: a short file is the common case (a
            # dropped connection) and deserves its own message
            raise OSError(f"{archive.url}: received {received:,} bytes where the archive "
                          f"has {archive.size:,}; the download is incomplete or the file "
                          "was replaced. Try again later." + archive.note)
        md5, sha = _digests(zpath)
        if archive.sha256 is not None and sha != archive.sha256:
            raise OSError(f"{archive.url}: SHA-256 {sha} differs from the pinned "
                          f"{archive.sha256}; the download is corrupt or was altered."
                          + archive.note)
        # a pinned SHA-256 that matched suffices; otherwise the publisher's MD5
        expected_md5 = archive.md5
        if expected_md5 is None and archive.sha256 is None:
            expected_md5 = _published_md5(archive, verbose)
        if expected_md5 is not None and md5 != expected_md5:
            raise OSError(f"{archive.url}: MD5 {md5} differs from the publisher's "
                          f"{expected_md5}; the download is corrupt or was altered."
                          + archive.note)
        target = Path(tmp) / "extracted"
        with zipfile.ZipFile(zpath) as zf:
            zf.extractall(target / archive.folder if archive.flat else target)
            if not (target / archive.folder).is_dir():
                found = sorted(p.name for p in target.iterdir())
                raise OSError(f"{archive.url} holds {found} at its top level where the folder "
                              f"{archive.folder!r} is expected: the publisher changed the "
                              "archive. Extract it by hand into "
                              f"{data_home / archive.folder}." + archive.note)
            manifest = _manifest_lines(zf, archive)
        (target / archive.folder / MANIFEST).write_text(manifest)
        (target / archive.folder / ".sha256").write_text(
            f"{sha}  {os.path.basename(archive.url)}\n")
        if final.exists():
            final.rmdir()  # empty: checked above
        shutil.move(str(target / archive.folder), str(final))
    return final


def _manifest_lines(zf, archive):
    """``crc32 size path`` of each file of the extracted folder, from the zip's directory.

    The sizes and CRC-32s come from the archive whose SHA-256 was just
    verified (and ``extractall`` checked each member against its CRC-32), so
    they pin the extracted files to the publisher's without hashing them again.
    """
    prefix = "" if archive.flat else archive.folder + "/"
    lines = []
    for info in zf.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        lines.append(f"{info.CRC:08x} {info.file_size} {info.filename[len(prefix):]}\n")
    return "".join(lines)


def read_manifest(folder):
    """Sizes and CRC-32s of the files of a folder extracted by :func:`fetch_archive`.

    Parameters
    ----------
    folder : pathlib.Path
        An extracted dataset folder.

    Returns
    -------
    manifest : dict
        ``{relative path: (size, crc32)}``; empty when the folder has no
        manifest (a copy extracted by hand, or by an older version).

    Raises
    ------
    ValueError
        When the manifest exists but cannot be read.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    manifest = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            crc, size, name = line.split(" ", 2)
            manifest[name] = (int(size), int(crc, 16))
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: not a 'crc32 size path' entry ({line[:80]!r}); the "
                f"folder is damaged. Delete {Path(folder)} and download it again."
            ) from None
    return manifest


def crc32_of(data):
    """CRC-32 of bytes, as a zip archive records it."""
    return zlib.crc32(data) & 0xFFFFFFFF
