"""The ``sklearn-recsys`` command line: the demo, and logs to models to recommendations.

``python -m sklearn_recsys COMMAND`` (or the ``sklearn-recsys`` console
script) runs one of:

* ``demo``: tune several recommenders on validation users and print a
  leaderboard of their scores on held-out users;
* ``models``: list the recommenders ``fit`` can train;
* ``fit``: read a CSV or Parquet interaction log, encode it with
  :class:`~sklearn_recsys.preprocessing.InteractionEncoder`, fit a named
  recommender and save it with joblib, together with the encoder (raw ids
  to rows and columns and back) and the encoded interactions;
* ``recommend``: load what ``fit`` saved and write the top-k items of given
  users as CSV, in the log's own user and item ids.

Results go to stdout or the files named by the options; progress and the
total time go to stderr, so that stdout can be piped.
"""

import argparse
import ast
import csv
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from . import __version__

__all__ = ["demo", "main"]

_DATASETS = ("synthetic", "movielens-100k", "movielens-latest-small", "lastfm-2k")
# Written into every saved model, so that ``recommend`` can refuse a file
# from elsewhere, or from a future layout, with a clear message.
_BUNDLE_FORMAT = "sklearn_recsys.cli.model/1"
_PARQUET_SUFFIXES = (".parquet", ".pq")


class CommandError(Exception):
    """A problem with a command's input, reported as one line without a traceback."""


class _Progress:
    """Progress lines on stderr, each with the time since the command started."""

    def __init__(self):
        self._start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self._start

    def __call__(self, message):
        # sys.stderr is looked up at each call so that redirections made
        # after the start (pytest's capture, contextlib) are followed
        print(f"[{self.elapsed():7.1f} s] {message}", file=sys.stderr, flush=True)

    def total(self):
        print(f"total time: {self.elapsed():.1f} s", file=sys.stderr, flush=True)


# -- demo -------------------------------------------------------------


def _load_demo_data(name, data_home, quick):
    from .datasets import fetch_lastfm_2k, fetch_movielens, make_interactions

    if name == "synthetic":
        size = (1500, 400) if quick else (6000, 1500)
        return make_interactions(*size, density=0.02, n_components=20, random_state=0)
    if name.startswith("movielens"):
        variant = "100k" if name.endswith("100k") else "latest-small"
        X = fetch_movielens(variant, data_home=data_home, download_if_missing=False).X
        X.data = (X.data >= 4).astype(X.dtype)  # ratings >= 4 are positives
        X.eliminate_zeros()
        return X
    X = fetch_lastfm_2k(data_home=data_home, download_if_missing=False).X
    X.data[:] = 1  # every play is a positive
    return X


def _demo_models(quick):
    from .baselines import ItemKNN, MostPopular
    from .linear import EASE
    from .matrix_factorization import BPR, ImplicitALS

    return {
        "MostPopular": (MostPopular(), {}),
        "ItemKNN": (ItemKNN(), {"n_neighbors": [20, 100], "shrinkage": [0.0, 10.0]}),
        "EASE": (EASE(), {"alpha": [10.0, 100.0, 1000.0] if not quick else [10.0, 300.0]}),
        "ImplicitALS": (ImplicitALS(n_components=32, max_iter=10 if not quick else 5,
                                    random_state=0),
                        {"alpha": [1.0, 10.0], "confidence_scale": [1.0, 10.0]}),
        # SGD needs ~100 epochs on small data (20 leave it near popularity)
        "BPR": (BPR(n_components=32, max_iter=100, random_state=0),
                {"learning_rate_init": [0.05]} if quick else {"learning_rate_init": [0.02, 0.05]}),
    }


def _add_demo_arguments(parser):
    parser.add_argument("--dataset", choices=_DATASETS, default="synthetic",
                        help="data to rank on (default: %(default)s, generated; the others "
                        "read an extracted copy in --data-home)")
    parser.add_argument("--data-home", default=None,
                        help="folder holding ml-100k/, hetrec2011-lastfm-2k/, ...")
    parser.add_argument("--quick", action="store_true", help="smaller data and grids")
    parser.add_argument("--csv", type=Path, help="also write the leaderboard as CSV")
    parser.add_argument("--markdown", type=Path, help="also write it as Markdown")
    parser.add_argument("--plot", type=Path, help="save NDCG@10 against fit time (matplotlib)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="parallel candidates of the grid searches (joblib)")


_DEMO_DESCRIPTION = (
    "Tune several recommenders with GridSearchCV on validation users, score them on "
    "held-out users and print a leaderboard (stdout); progress and the total time go "
    "to stderr."
)


def _run_demo(args):
    from .model_selection import compare_recommenders, format_leaderboard

    for path in (args.csv, args.markdown, args.plot):
        if path is not None:
            _check_output(path)
    progress = _Progress()
    X = _load_demo_data(args.dataset, args.data_home, args.quick)
    print(f"dataset: {args.dataset}, {X.shape[0]} users x {X.shape[1]} items, "
          f"{X.nnz} interactions", file=sys.stderr)
    rows = compare_recommenders(_demo_models(args.quick), X, n_jobs=args.n_jobs)
    print(format_leaderboard(rows))
    if args.csv:
        args.csv.write_text(format_leaderboard(rows, "csv"))
    if args.markdown:
        args.markdown.write_text(format_leaderboard(rows, "markdown"))
    if args.plot:
        try:
            import matplotlib
        except ImportError as exc:
            raise CommandError("--plot needs matplotlib: pip install matplotlib") from exc
        matplotlib.use("Agg")  # files only: no display needed
        from .model_selection import plot_leaderboard

        plot_leaderboard(rows).figure.savefig(args.plot)
    progress.total()
    return rows


def demo(argv=None):
    """Run the demo leaderboard, as ``python -m sklearn_recsys demo``.

    Parameters
    ----------
    argv : list of str or None, default=None
        The demo's options (see ``python -m sklearn_recsys demo --help``);
        None reads ``sys.argv[1:]``.

    Returns
    -------
    rows : list of dict
        The leaderboard, best NDCG@10 first, as returned by
        :func:`~sklearn_recsys.model_selection.compare_recommenders`.
    """
    parser = argparse.ArgumentParser(prog="sklearn-recsys demo", description=_DEMO_DESCRIPTION)
    _add_demo_arguments(parser)
    return _run_demo(parser.parse_args(argv))


# -- models -----------------------------------------------------------


def _recommenders():
    """``{name: class}`` of every public recommender, as ``all_estimators`` finds them."""
    from .base import RecommenderMixin
    from .utils import all_estimators

    return {name: cls for name, cls in all_estimators() if issubclass(cls, RecommenderMixin)}


def _run_models(args):
    models = _recommenders()
    width = max(map(len, models)) + 2
    for name, cls in models.items():
        summary = (cls.__doc__ or "").strip().splitlines()
        print(f"{name:<{width}}{summary[0] if summary else ''}")


# -- reading logs -----------------------------------------------------


def read_log(path, user_col, item_col, value_col=None, timestamp_col=None, *, sep=","):
    """Read the columns of an interaction log file for ``InteractionEncoder``.

    Parameters
    ----------
    path : str or path-like
        A CSV file with a header line (any other suffix than ``.parquet``
        or ``.pq``), or a Parquet file (needs pyarrow).
    user_col, item_col : str
        Columns of the user and item ids. Ids are read as text (``"007"``
        stays ``"007"``), whatever the format, so that the ids given on the
        command line and written to the output are the log's own.
    value_col, timestamp_col : str or None, default=None
        Columns of the values (numbers) and timestamps (numbers, or ISO 8601
        dates and times such as ``2024-05-01 13:45:00``).
    sep : str, default=","
        Field delimiter of a CSV file (``"\\t"`` for tab-separated files).

    Returns
    -------
    log : dict of str to ndarray
        One 1-D array per named column: ids as an object array of str (None
        where missing), values as float64 (NaN where missing), timestamps as
        float64 or datetime64.
    """
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file.")
    wanted = [c for c in (user_col, item_col, value_col, timestamp_col) if c is not None]
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        raw = _read_parquet(path, wanted, text=(user_col, item_col))
    else:
        raw = _read_csv(path, wanted, sep)
    # ids are text (str, and None or NaN where missing, which the encoder
    # reports) from both readers
    log = {user_col: raw[user_col], item_col: raw[item_col]}
    if value_col is not None:
        log[value_col] = _as_numbers(raw[value_col], value_col, path)
    if timestamp_col is not None:
        log[timestamp_col] = _as_times(raw[timestamp_col], timestamp_col, path)
    return log


# lines per pandas chunk when reading a CSV log
_CSV_CHUNK = 1 << 20


def _check_columns(path, available, wanted, sep=","):
    missing = [c for c in wanted if c not in available]
    if not missing:
        return
    available = [str(c) for c in available]
    if not available:
        hint = ("The file is empty: a CSV log needs a header line naming its columns, then "
                "one interaction per line.")
    elif len(available) == 1 and any(d in available[0] for d in "\t;|," if d != sep):
        other = next(d for d in "\t;|," if d != sep and d in available[0])
        flag = "--sep tab" if other == "\t" else f"--sep '{other}'"
        hint = (f"The header is one field, {available[0]!r}: the file's separator looks like "
                f"{other!r}, not {sep!r}; pass {flag}.")
    elif all(_is_number(c) for c in available):
        hint = ("The first line looks like data, not a header: add a header line naming the "
                "columns (e.g. user_id,item_id,rating,timestamp) and name them with --user-col, "
                "--item-col, --value-col and --timestamp-col.")
    else:
        hint = ("Name the columns with fit's --user-col, --item-col, --value-col and "
                "--timestamp-col (a log given to recommend --log has the columns of the "
                "log the model was fitted on).")
    raise CommandError(f"{path}: column(s) {missing} not found; it has {available}. {hint}")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _not_utf8(path, exc):
    return CommandError(
        f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Re-encode it as UTF-8, "
        f"e.g. iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}.")


def _unparsable(path, exc, sep):
    """The CommandError for a pandas parser error or warning on ``path``."""
    text = str(exc).strip()
    if ("Expected" in text and "fields" in text) or "Length of header" in text:
        return CommandError(
            f"{path}: a line has more fields than the header has ({text}). Quote fields "
            f"that hold the separator {sep!r}, or pass the file's separator with --sep.")
    return CommandError(
        f"{path}: not readable as CSV ({text}). Check its quoting (a quote left open runs "
        "to the end of the file) and its separator (--sep).")


def _read_csv(path, wanted, sep):
    """The ``wanted`` columns of a CSV file as text, empty fields as missing.

    A line with more fields than the header is refused by both readers (an
    unquoted separator inside a field would otherwise shift or cut it).
    """
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None:
        # pandas only tokenizes (its C parser is far faster than the csv
        # module); every column stays text so that both readers give the
        # same ids and the same conversions
        try:
            header = pd.read_csv(path, sep=sep, nrows=0).columns
        except pd.errors.EmptyDataError:
            header = []
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
        except pd.errors.ParserError as exc:
            raise _unparsable(path, exc, sep) from exc
        _check_columns(path, header, wanted, sep)
        parts = []
        try:
            with warnings.catch_warnings():
                # all lines longer than the header: pandas would drop the extra fields
                warnings.simplefilter("error", pd.errors.ParserWarning)
                # every column (usecols ignores extra fields), no index column; in
                # chunks, keeping the wanted columns only, so unwanted text
                # columns cost one chunk's memory, not the file's
                for chunk in pd.read_csv(path, sep=sep, dtype=str, index_col=False,
                                         keep_default_na=False, chunksize=_CSV_CHUNK,
                                         na_values={c: [""] for c in wanted}):
                    parts.append({c: chunk[c].to_numpy(dtype=object) for c in wanted})
        except UnicodeDecodeError as exc:
            raise _not_utf8(path, exc) from exc
        except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
            raise _unparsable(path, exc, sep) from exc
        return {c: np.concatenate([part[c] for part in parts]) if parts
                else np.array([], dtype=object) for c in wanted}
    try:
        # utf-8-sig: a byte-order mark is not part of the first column's name
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=sep)
            header = next(reader, [])
            _check_columns(path, header, wanted, sep)
            positions = [header.index(c) for c in wanted]
            columns = [[] for _ in wanted]
            for line, record in enumerate(reader, start=2):
                if not record:  # a blank line
                    continue
                if len(record) != len(header):
                    raise CommandError(f"{path}, line {line}: {len(record)} fields, the "
                                       f"header has {len(header)}.")
                for column, position in zip(columns, positions):
                    column.append(record[position] or None)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from exc
    return {c: np.array(column, dtype=object) for c, column in zip(wanted, columns)}


def _read_parquet(path, wanted, text):
    """The ``wanted`` columns of a Parquet file, those in ``text`` as text (None if null)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise CommandError(
            f"{path}: reading Parquet needs pyarrow, which is not installed: pip install "
            "pyarrow (or save the log as CSV)."
        ) from exc
    try:
        names = pq.read_schema(path).names
    except pa.ArrowInvalid as exc:
        with open(path, "rb") as f:
            magic = f.read(4)
        fix = ("the file is damaged or cut short: write it again" if magic == b"PAR1" else
               "a CSV log must not be named .parquet or .pq: rename it .csv")
        raise CommandError(f"{path}: not a readable Parquet file ({exc}); {fix}.") from exc
    _check_columns(path, names, wanted)
    table = pq.read_table(path, columns=wanted)
    raw = {}
    for c in wanted:
        column = table.column(c)
        kind = column.type
        if c in text or not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                             or pa.types.is_timestamp(kind)):
            # Arrow writes integer ids as "7" even beside nulls (NumPy would
            # make them floats, "7.0"); dates, decimals...: as a CSV holds them
            column = column.cast(pa.string())
        # (pyarrow < 13 takes no keyword; every version copies a chunked column)
        raw[c] = column.to_numpy()
    return raw


def _is_integral_text(value):
    """Whether ``value`` is the text of a whole number (an optional sign and digits)."""
    text = str(value).strip()
    return text.lstrip("+-").isdigit() and len(text) < 20


def _is_missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


def _as_numbers(column, name, path):
    try:
        return np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        pass  # find the culprit below, for the message
    out = np.empty(len(column))
    for row, value in enumerate(column):
        if _is_missing(value):
            out[row] = np.nan  # InteractionEncoder reports missing values itself
            continue
        try:
            out[row] = float(value)
        except (TypeError, ValueError):
            raise CommandError(f"{path}: column {name!r} must hold numbers; data row "
                               f"{row + 1} has {value!r}.") from None
    return out


# a fraction of a second with a non-zero digit past the sixth (finer than a microsecond)
_SUB_MICROSECOND = re.compile(r"\.\d{6}\d*[1-9]")


def _parse_dates(column, unit):
    """ISO 8601 text as NumPy datetimes of ``unit``; an offset (Z, +02:00) read in UTC."""
    with warnings.catch_warnings():
        # the offset is applied: the time is read in UTC, as wanted
        warnings.filterwarnings("ignore", message="no explicit representation of "
                                "timezones", category=UserWarning)
        # NumPy 1.x warns of the same parsing as deprecated
        warnings.filterwarnings("ignore", message="parsing timezone aware datetimes",
                                category=DeprecationWarning)
        return column.astype(unit)


def _as_times(column, name, path):
    column = np.asarray(column)
    if column.dtype.kind in "Miu":
        return column  # integers as they are: float64 would round nanoseconds
    if column.dtype.kind in "OU" and len(column) and all(map(_is_integral_text, column)):
        # whole numbers as int64, exactly: the encoder refuses those float64 would round
        # (as float64, nanoseconds since the epoch tie within 256 ns)
        try:
            return np.array([int(str(v).strip()) for v in column], dtype=np.int64)
        except OverflowError:
            pass  # beyond int64: read as floats below
    try:
        return _as_numbers(column, name, path)
    except CommandError:
        pass
    try:
        times = _parse_dates(column, "datetime64[us]")  # fractions of a second order clicks
    except (TypeError, ValueError):
        raise CommandError(f"{path}: column {name!r} must hold numbers or ISO 8601 dates "
                           f"(2024-05-01 or 2024-05-01 13:45:00), e.g. not "
                           f"{column[:3].tolist()}.") from None
    # NumPy reads a number among dates as a year ("1714567890": year 1714567890, which
    # overflows the microseconds to any year), so a column mixing the two is refused
    text = np.char.strip(column.astype(str))
    years = times.astype("datetime64[Y]").astype(np.int64) + 1970
    odd = ~np.isnat(times) & ((years < 1000) | (years > 9999)
                              | np.char.isdigit(np.char.lstrip(text, "+-")))
    if odd.any():
        raise CommandError(f"{path}: column {name!r} mixes numbers and dates (e.g. "
                           f"{column[odd][:3].tolist()}, which NumPy would read as years): give "
                           "every time in one form, numbers (e.g. Unix seconds) or ISO 8601 "
                           "dates.")
    if any(map(_SUB_MICROSECOND.search, map(str, column))):
        # NumPy cut the digits below the microsecond (pandas' to_csv of a datetime64[ns]
        # column writes them): in nanoseconds the encoder keeps such times apart or
        # refuses the ties the microseconds would make (its NaT message stays its own)
        nanos = _parse_dates(column, "datetime64[ns]")
        kept = (nanos.astype("datetime64[us]") == times) | (np.isnat(nanos) & np.isnat(times))
        if not kept.all():
            raise CommandError(
                f"{path}: column {name!r} has times with fractions finer than a microsecond "
                "outside the years 1678 to 2262 that nanoseconds can hold (e.g. "
                f"{column[~kept][:3].tolist()}): round them to the microsecond.")
        times = nanos
    return times


# -- fit --------------------------------------------------------------


# dtype=float32 on the command line: the models take the NumPy type, not its name
_DTYPES = {"float32": np.float32, "float64": np.float64, "float": float}


def _parse_value(text, key=None):
    """A parameter value: a Python literal (``100``, ``0.1``, ``None``, ``(64, 32)``), else text.

    ``dtype`` values name the type (``float32``, ``np.float32``, ``numpy.float64``).
    """
    if key == "dtype":
        name = text.removeprefix("numpy.").removeprefix("np.")
        if name in _DTYPES:
            return _DTYPES[name]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # solver=cg: strings need no quotes


def _make_estimator(name, param_items):
    models = _recommenders()
    cls = models.get(name) or {n.lower(): c for n, c in models.items()}.get(name.lower())
    if cls is None:
        raise CommandError(f"unknown model {name!r}; choose one of {', '.join(models)} "
                           "(sklearn-recsys models describes them).")
    estimator = cls()
    valid = estimator.get_params(deep=False)
    params = {}
    for item in param_items:
        key, equals, text = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise CommandError(f"--param expects NAME=VALUE (e.g. alpha=100), got {item!r}.")
        if key not in valid:
            raise CommandError(f"{cls.__name__} has no parameter {key!r}; its parameters are "
                               f"{', '.join(sorted(valid))}.")
        params[key] = _parse_value(text.strip(), key)
    estimator.set_params(**params)
    # check the values now, before a long read of the log, as fit would
    estimator._validate_params()
    return estimator


def _check_served_catalogue(encoder, model):
    """CommandError if the model's columns are not the encoder's items (a multi-behaviour
    model told behaviours that the log has not: its items would print as others' ids)."""
    from .preprocessing._raw_ids import _check_catalogue

    try:
        _check_catalogue(encoder, model)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _run_fit(args):
    import joblib

    from .preprocessing import InteractionEncoder
    from .preprocessing._raw_ids import model_rows
    from .utils._sequences import reads_order_keys

    progress = _Progress()
    estimator = _make_estimator(args.model, args.param)
    if reads_order_keys(estimator) and args.timestamp_col is None:
        raise CommandError(
            f"{type(estimator).__name__} predicts the next item from the order of each "
            "user's items: give the log's time column with --timestamp-col.")
    _check_output(args.output)
    progress(f"reading {args.log}")
    log = read_log(args.log, args.user_col, args.item_col, args.value_col,
                   args.timestamp_col, sep=args.sep)
    progress(f"read {len(log[args.user_col])} interactions")
    encoder = InteractionEncoder(user_col=args.user_col, item_col=args.item_col,
                                 value_col=args.value_col, timestamp_col=args.timestamp_col,
                                 duplicates=args.duplicates)
    # a sequential model is fitted on (and later serves from) the timestamps
    X = model_rows(encoder.fit(log), estimator, log)
    progress(f"encoded {X.shape[0]} users x {X.shape[1]} items, {X.nnz} (user, item) pairs")
    progress(f"fitting {estimator!r}")
    start = time.perf_counter()
    estimator.fit(X)
    progress(f"fitted in {time.perf_counter() - start:.1f} s")
    _check_served_catalogue(encoder, estimator)
    bundle = {
        "format": _BUNDLE_FORMAT,
        "sklearn_recsys_version": __version__,
        "model": estimator,
        "encoder": encoder,
        # the users' histories: recommend scores and excludes them when no
        # newer log is given
        "interactions": X,
    }
    joblib.dump(bundle, args.output)
    progress(f"saved the model, the encoder and the interactions to {args.output}")
    progress.total()


def _check_output(path):
    # before the work, not after: a typo in a folder name should not cost a fit
    if not path.parent.is_dir():
        raise CommandError(f"{path}: the folder {path.parent} does not exist.")


# -- recommend --------------------------------------------------------


def load_model(path):
    """Load what ``sklearn-recsys fit`` saved, checking that it is one.

    Loading runs pickle: open only files you trust.

    Parameters
    ----------
    path : str or path-like
        The ``--output`` of ``fit``.

    Returns
    -------
    bundle : dict
        ``model`` (the fitted recommender), ``encoder`` (the fitted
        ``InteractionEncoder``: raw ids to rows and columns and back),
        ``interactions`` (the CSR training matrix, rows ``encoder.user_ids_``;
        a sequential model's holds the timestamps it was fitted on),
        ``format`` and ``sklearn_recsys_version``.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise CommandError(f"{path}: no such file.")
    try:
        bundle = joblib.load(path)
    except Exception as exc:  # unpickling other bytes can fail in any way
        raise CommandError(f"{path} is not a model saved by sklearn-recsys fit (joblib "
                           f"could not load it: {type(exc).__name__}: {exc}).") from exc
    if not isinstance(bundle, dict) or bundle.get("format") != _BUNDLE_FORMAT:
        found = bundle.get("format") if isinstance(bundle, dict) else type(bundle).__name__
        raise CommandError(f"{path} is not a model saved by sklearn-recsys fit (format "
                           f"{_BUNDLE_FORMAT!r} expected, found {found!r}).")
    return bundle


def _read_user_ids(args, user_col):
    users = list(args.users or [])
    if args.users_file is not None:
        path = Path(args.users_file)
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        # a one-column CSV: quoted ids are unquoted, a byte-order mark is not an id
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows = [[field.strip() for field in row] for row in csv.reader(file)]
        wide = [row for row in rows if len(row) > 1]
        if wide:
            raise CommandError(f"{path}: one user id per line (a one-column CSV), got "
                               f"{len(wide[0])} fields in {','.join(wide[0])!r}.")
        lines = [row[0] if row else "" for row in rows]
        if lines and lines[0] == user_col:  # a one-column CSV's header
            lines = lines[1:]
        named = [line for line in lines if line]
        if not named:
            raise CommandError(f"{path}: no user ids in the file (one id per line, with an "
                               f"optional {user_col!r} header).")
        users += named
    return users


def _run_recommend(args):
    import scipy.sparse as sp

    from .preprocessing._raw_ids import model_rows

    progress = _Progress()
    if args.output is not None:
        _check_output(args.output)
    bundle = load_model(args.model)
    model, encoder = bundle["model"], bundle["encoder"]
    progress(f"loaded {model!r} from {args.model}")
    _check_served_catalogue(encoder, model)
    if args.log is not None:
        log = read_log(args.log, encoder.user_col, encoder.item_col, encoder.value_col,
                       encoder.timestamp_col, sep=args.sep)
        X, ids = model_rows(encoder, model, log), encoder.get_user_ids(log)
        progress(f"read {len(log[encoder.user_col])} interactions from {args.log}")
    else:
        X, ids = bundle["interactions"], encoder.user_ids_
    ids = np.asarray(ids).astype(str)  # the command line's ids are text
    users = _read_user_ids(args, encoder.user_col)
    if not users and args.users is None and args.users_file is None:
        # no users named: every user of the history (with --log, the log's users only:
        # the fitted users absent from it would be scored without interactions)
        users = ids.tolist()
        if args.log is not None:
            logged = set(np.asarray(log[encoder.user_col]).astype(str).tolist())
            users = [user for user in users if user in logged]
    row_of = {user: row for row, user in enumerate(ids)}
    rows = np.array([row_of.get(user, -1) for user in users], dtype=np.int64)
    unknown = [user for user, row in zip(users, rows) if row < 0]
    if unknown:
        # a named id that is nowhere in the history is more often a typo than a new
        # user: said as a warning, not only as a progress line
        warnings.warn(f"{len(unknown)} of the {len(users)} user(s) asked for are not in "
                      f"the history (e.g. {unknown[:3]}; ids are compared as text, e.g. "
                      "'007' is not '7'): they get the lists of a user without "
                      "interactions.", UserWarning)
    if (rows < 0).any():
        # one empty row at the end stands for every user absent from the history
        X = sp.vstack([X, sp.csr_matrix((1, X.shape[1]), dtype=X.dtype)], format="csr")
        rows[rows < 0] = X.shape[0] - 1
    X = X[rows]
    # absent users, and with --log the fitted users it has no interaction of
    empty = [user for user, n in zip(users, np.diff(X.indptr)) if n == 0]
    if empty:
        progress(f"{len(empty)} user(s) without interactions in the history (e.g. "
                 f"{empty[:3]}) are ranked as such: by training popularity for most models")
    indices, scores = model.recommend(X, k=args.k, exclude_seen=not args.include_seen)
    items = encoder.inverse_transform(indices)
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    try:
        writer = csv.writer(out)
        writer.writerow(["user", "rank", "item", "score"])
        for user, user_items, user_scores, user_indices in zip(users, items, scores, indices):
            for rank, (item, score, index) in enumerate(
                    zip(user_items, user_scores, user_indices), start=1):
                if index >= 0:  # -1 pads lists shorter than k
                    writer.writerow([user, rank, item, float(score)])
    finally:
        if out is not sys.stdout:
            out.close()
    progress(f"wrote top-{args.k} items of {len(users)} user(s) to "
             f"{args.output or 'stdout'}")
    progress.total()


# -- the parser -------------------------------------------------------


def _prog():
    # "python -m sklearn_recsys" runs __main__.py; the console script has its own name
    return "python -m sklearn_recsys" if Path(sys.argv[0]).name == "__main__.py" \
        else "sklearn-recsys"


def _separator(text):
    # a shell passes --sep '\t' as backslash + t: read it as the tab it means
    sep = "\t" if text in ("\\t", "tab") else text
    if len(sep) != 1:
        raise argparse.ArgumentTypeError(f"a one-character delimiter expected, got {text!r}")
    return sep


def _add_log_arguments(parser):
    parser.add_argument("--sep", type=_separator, default=",",
                        help="field delimiter of a CSV log (default: ','; '\\t' or 'tab' "
                        "for tabs)")


def build_parser():
    """The argument parser of the ``sklearn-recsys`` command line.

    Returns
    -------
    parser : argparse.ArgumentParser
        Its ``parse_args`` result has ``run(args)``, the command to run.
    """
    parser = argparse.ArgumentParser(
        prog=_prog(),
        description="Recommender systems as scikit-learn estimators: a demo leaderboard, "
        "and interaction logs (CSV or Parquet) to fitted models to top-k recommendations "
        "in the log's own ids.",
        epilog="Run '%(prog)s COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"sklearn_recsys {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo_parser = commands.add_parser("demo", help="rank several recommenders on a dataset",
                                      description=_DEMO_DESCRIPTION)
    _add_demo_arguments(demo_parser)
    demo_parser.set_defaults(run=_run_demo)

    models_parser = commands.add_parser("models", help="list the recommenders fit can train",
                                        description="List the recommenders fit can train.")
    models_parser.set_defaults(run=_run_models)

    fit_parser = commands.add_parser(
        "fit", help="fit a recommender on an interaction log and save it",
        description="Read an interaction log (CSV with a header line, or Parquet with "
        "pyarrow), encode it with InteractionEncoder, fit a recommender and save the model, "
        "the encoder and the interactions with joblib, for 'recommend'.",
    )
    fit_parser.add_argument("log", type=Path, help="the log: .csv (or any other suffix), "
                            ".parquet or .pq; one line per interaction")
    fit_parser.add_argument("--model", required=True,
                            help="a recommender's name, e.g. EASE, ImplicitALS (see 'models')")
    fit_parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="a parameter of the model, repeatable: alpha=100, "
                            "n_components=64, random_state=0, solver=cg; values are "
                            "Python literals, anything else is text; dtype=float32 "
                            "names the NumPy type")
    fit_parser.add_argument("-o", "--output", type=Path, required=True,
                            help="file to save to (joblib), e.g. model.joblib")
    fit_parser.add_argument("--user-col", default="user_id",
                            help="column of the user ids (default: %(default)s)")
    fit_parser.add_argument("--item-col", default="item_id",
                            help="column of the item ids (default: %(default)s)")
    fit_parser.add_argument("--value-col", default=None,
                            help="column of the values (ratings, counts); without it every "
                            "interaction counts 1")
    fit_parser.add_argument("--timestamp-col", default=None,
                            help="column of the times (numbers or ISO 8601 dates), used by "
                            "--duplicates last and by the sequential models (required)")
    fit_parser.add_argument("--duplicates", choices=("auto", "sum", "last", "max"),
                            default="auto",
                            help="how repeated (user, item) pairs combine (default: "
                            "%(default)s, a sum that warns when --value-col values are "
                            "summed)")
    _add_log_arguments(fit_parser)
    fit_parser.set_defaults(run=_run_fit)

    rec_parser = commands.add_parser(
        "recommend", help="write the top-k items of users as CSV, in raw ids",
        description="Load a model saved by 'fit' and write the top-k items of the given "
        "users as CSV (user,rank,item,score) in the log's own ids. The items a user "
        "interacted with are not recommended (a pair whose values sum to 0 is no "
        "interaction). Users absent from the history are scored as users without "
        "interactions.",
    )
    rec_parser.add_argument("model", type=Path, help="a file saved by 'fit'")
    rec_parser.add_argument("--users", nargs="+", metavar="ID",
                            help="user ids (default: every user of the history: of the fit "
                            "log, or of --log)")
    rec_parser.add_argument("--users-file", type=Path,
                            help="a file of user ids, one per line (a first line equal to "
                            "the user column's name is skipped)")
    rec_parser.add_argument("-k", type=int, default=10,
                            help="items per user (default: %(default)s)")
    rec_parser.add_argument("--log", type=Path, default=None,
                            help="the users' interactions to score and exclude, in the fit "
                            "log's columns (default: the log given to fit); it replaces the "
                            "saved histories, whose items are then neither scored nor "
                            "excluded")
    rec_parser.add_argument("--include-seen", action="store_true",
                            help="allow items the user already interacted with")
    rec_parser.add_argument("-o", "--output", type=Path, default=None,
                            help="CSV file to write (default: stdout)")
    _add_log_arguments(rec_parser)
    rec_parser.set_defaults(run=_run_recommend)
    return parser


def _message(exc):
    # a KeyError's str() is the repr of its argument: show the text itself
    return exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)


def main(argv=None):
    """Run the ``sklearn-recsys`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success (``--help`` and ``--version`` included), 2 for a command
        line argparse rejects, 1 for input the command cannot use (a missing
        file or column, a bad parameter value, ...), reported on stderr
        in one line.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else 1
    try:
        with warnings.catch_warnings():
            # a warning is a message about the input, like the progress lines: one line,
            # not the source line of the library that raised it
            warnings.showwarning = (
                lambda message, category, *_args, **_kw: print(
                    f"{parser.prog} {args.command}: warning: {message}", file=sys.stderr))
            args.run(args)
    except BrokenPipeError:
        # the reader of stdout stopped reading (| head): not an input error. Quiet, as
        # Python's docs advise: stdout to devnull, so the flush at exit cannot raise
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout is not a file
            pass
        return 1
    except (CommandError, ValueError, KeyError, ImportError, OSError) as exc:
        # errors of the input, whose messages say what to fix; anything else
        # is a bug and keeps its traceback
        print(f"{parser.prog} {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 1
    return 0
