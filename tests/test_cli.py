"""The command line end to end: a log file -> ``fit`` -> a saved model -> ``recommend`` CSV."""

import csv
import importlib.abc
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import sklearn_recsys
from sklearn_recsys import _cli
from sklearn_recsys.__main__ import main

# Two tastes, four items each: every user has three items of one taste, each
# a different one missing, so that the missing one is the certain top-1 of an
# item-item model, and no item of the other taste is ever first.
TASTES = {"fruit": ["apple", "banana", "cherry", "date"],
          "bread": ["bagel", "brioche", "ciabatta", "naan"]}


def _planted_log():
    rows, missing = [], {}
    for t, (taste, items) in enumerate(TASTES.items()):
        for u in range(8):
            user = f"{taste[0]}{u:03d}"  # leading zeros: ids must stay text
            missing[user] = items[u % 4]
            for item in items:
                if item != missing[user]:
                    rows.append((user, item, 3 + (u + t) % 3, 1000 + len(rows)))
    return rows, missing


class _NoPandas(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")


def _without_pandas(monkeypatch):
    """``import pandas`` fails, as where it is not installed (for the rest of the test).

    Not ``sys.modules["pandas"] = None``: scikit-learn (before 1.9) reads a pandas found
    there without importing it, and failed on None where a machine without pandas works
    (audit59a).
    """
    monkeypatch.delitem(sys.modules, "pandas", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPandas(), *sys.meta_path])


def _write_csv(path, header, rows, delimiter=","):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def log_csv(tmp_path):
    rows, missing = _planted_log()
    return _write_csv(tmp_path / "log.csv", ["user", "item", "rating", "ts"], rows), missing


def _fit(capsys, log, model_path, *options):
    status = main(["fit", str(log), "--user-col", "user", "--item-col", "item",
                   "-o", str(model_path), *options])
    out, err = capsys.readouterr()
    assert status == 0, err
    return err


def test_help_version_and_usage_errors(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "models", "fit", "recommend"):
        assert command in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"sklearn_recsys {sklearn_recsys.__version__}\n"
    assert main(["fit", "--help"]) == 0
    assert "--param NAME=VALUE" in capsys.readouterr().out
    assert main([]) == 2  # a command is required
    assert "COMMAND" in capsys.readouterr().err
    assert main(["fit", "log.csv"]) == 2  # --model and --output are required
    assert "--model" in capsys.readouterr().err
    assert main(["recommend", "m.joblib", "--sep", ";;"]) == 2
    assert "one-character delimiter" in capsys.readouterr().err


def test_python_m_entry_point_runs_main():
    done = subprocess.run([sys.executable, "-m", "sklearn_recsys", "--version"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"sklearn_recsys {sklearn_recsys.__version__}"
    done = subprocess.run([sys.executable, "-m", "sklearn_recsys", "--help"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("usage: python -m sklearn_recsys")


def test_models_lists_every_recommender_and_nothing_else(capsys):
    from sklearn_recsys.base import RecommenderMixin
    from sklearn_recsys.utils import all_estimators

    assert main(["models"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    expected = [n for n, c in all_estimators() if issubclass(c, RecommenderMixin)]
    assert listed == expected
    assert "EASE" in listed and "InteractionEncoder" not in listed


def test_fit_then_recommend_in_raw_ids(tmp_path, capsys, log_csv):
    log, missing = log_csv
    model_path = tmp_path / "knn.joblib"
    err = _fit(capsys, log, model_path, "--model", "ItemKNN",
               "--param", "n_neighbors=3", "--param", "shrinkage=0.5")
    assert "read 48 interactions" in err and "16 users x 8 items" in err
    assert "total time:" in err

    bundle = joblib.load(model_path)
    model, encoder, X = bundle["model"], bundle["encoder"], bundle["interactions"]
    # parameters are Python literals, not strings
    assert model.n_neighbors == 3 and model.shrinkage == 0.5
    assert encoder.user_ids_.tolist() == sorted(missing)  # "b000", not 0
    assert X.shape == (16, 8) and X.nnz == 48
    assert set(X.data) == {1.0}  # no --value-col: every interaction counts 1

    out_path = tmp_path / "recs.csv"
    users = ["f001", "b006", "f002"]
    assert main(["recommend", str(model_path), "--users", *users, "-k", "3",
                 "-o", str(out_path)]) == 0
    err = capsys.readouterr().err
    assert "wrote top-3 items of 3 user(s)" in err and "total time:" in err
    table = _read_csv(out_path)
    assert list(table[0]) == ["user", "rank", "item", "score"]
    assert [r["user"] for r in table] == [u for u in users for _ in range(3)]
    assert [r["rank"] for r in table] == ["1", "2", "3"] * 3
    by_user = {u: [r for r in table if r["user"] == u] for u in users}
    seen = {u: {encoder.item_ids_[j] for j in X[list(encoder.user_ids_).index(u)].indices}
            for u in users}
    for user, recs in by_user.items():
        assert recs[0]["item"] == missing[user]  # the planted answer
        assert not {r["item"] for r in recs} & seen[user]  # never an item already seen
        scores = [float(r["score"]) for r in recs]
        assert scores == sorted(scores, reverse=True)

    # the same lists as the Python API on the saved model
    rows = [list(encoder.user_ids_).index(u) for u in users]
    indices, scores = model.recommend(X[rows], k=3)
    assert [r["item"] for r in table] == encoder.inverse_transform(indices).ravel().tolist()
    assert_allclose([float(r["score"]) for r in table], scores.ravel())


def test_recommend_users_file_unknown_users_and_stdout(tmp_path, capsys, log_csv):
    log, missing = log_csv
    model_path = tmp_path / "pop.joblib"
    _fit(capsys, log, model_path, "--model", "MostPopular")
    users_file = tmp_path / "users.txt"
    users_file.write_text("user\nf003\n\nstranger\n")  # a header, a blank line
    assert main(["recommend", str(model_path), "--users-file", str(users_file),
                 "--users", "b000", "-k", "8"]) == 0
    out, err = capsys.readouterr()
    table = list(csv.DictReader(out.splitlines()))
    assert [r["user"] for r in table][::8] == ["b000", "f003"] + ["stranger"]
    # a user known nowhere has no history: every item is a candidate
    assert sum(r["user"] == "stranger" for r in table) == 8
    # f003 has 3 items: only the 5 others are listed (the list is not padded in the CSV)
    assert sum(r["user"] == "f003" for r in table) == 5
    assert "1 user(s) without interactions in the history" in err and "stranger" in err
    # a named id nowhere in the history (a typo, often) is a warning line, not only progress
    assert "warning: 1 of the 3 user(s) asked for are not in the history (e.g. " \
           "['stranger']" in err
    # a one-column CSV written with quotes and a byte-order mark: the same users (each
    # quoted line and the marked header were users of their own; found by an audit helper)
    quoted = tmp_path / "quoted.csv"
    quoted.write_bytes('\ufeff"user"\r\n"f003"\r\n"stranger"\r\n'.encode("utf-8"))
    assert main(["recommend", str(model_path), "--users-file", str(quoted), "-k", "8"]) == 0
    again = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert again == [r for r in table if r["user"] != "b000"]
    two = tmp_path / "two.csv"
    two.write_text("user,n\nf003,3\n")
    assert main(["recommend", str(model_path), "--users-file", str(two)]) == 1
    assert "one user id per line (a one-column CSV), got 2 fields in 'user,n'" in \
        capsys.readouterr().err


def test_recommend_every_user_by_default_and_include_seen(tmp_path, capsys, log_csv):
    log, missing = log_csv
    model_path = tmp_path / "ease.joblib"
    _fit(capsys, log, model_path, "--model", "EASE", "--param", "alpha=1.0")
    assert main(["recommend", str(model_path), "-k", "1"]) == 0
    table = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {r["user"]: r["item"] for r in table} == missing
    assert main(["recommend", str(model_path), "-k", "8", "--include-seen",
                 "--users", "f000"]) == 0
    table = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert len(table) == 8  # seen items are candidates too


def test_values_timestamps_and_duplicates(tmp_path, capsys):
    # u1 rated "a" twice: 5 at time 20, then (later in the file, earlier in
    # time) 1 at time 10; "last" must keep 5, the latest by time
    rows = [("u1", "a", 5, "2024-01-03"), ("u1", "b", 2, "2024-01-01"),
            ("u1", "a", 1, "2024-01-02"), ("u2", "b", 4, "2024-01-05")]
    log = _write_csv(tmp_path / "log.tsv", ["user", "item", "rating", "when"], rows, "\t")
    model_path = tmp_path / "mf.joblib"
    _fit(capsys, log, model_path, "--sep", "\\t", "--value-col", "rating",
         "--timestamp-col", "when", "--duplicates", "last", "--model", "ImplicitALS",
         "--param", "solver=cg", "--param", "n_components=2", "--param", "random_state=0")
    bundle = joblib.load(model_path)
    assert bundle["model"].solver == "cg"  # text needs no quotes
    assert bundle["model"].n_components == 2 and bundle["model"].random_state == 0
    assert_array_equal(bundle["interactions"].toarray(), [[5.0, 2.0], [0.0, 4.0]])
    # dtype names its type: "float64" was text, which the model's constraint refused
    for text in ("float64", "np.float64", "numpy.float64"):
        _fit(capsys, log, model_path, "--sep", "tab", "--model", "ImplicitALS",
             "--param", f"dtype={text}", "--param", "n_components=2")
        model = joblib.load(model_path)["model"]
        assert model.dtype is np.float64 and model.user_factors_.dtype == np.float64
    _fit(capsys, log, model_path, "--sep", "tab", "--value-col", "rating",
         "--model", "MostPopular")  # default duplicates="sum"
    assert_array_equal(joblib.load(model_path)["interactions"].toarray(),
                       [[6.0, 2.0], [0.0, 4.0]])
    # Unix seconds among dates: NumPy read "1704153600" as a year, after every date, so
    # "last" kept the wrong rating (found by an audit helper); refused, naming the form
    rows[2] = ("u1", "a", 1, "1704153600")
    mixed = _write_csv(tmp_path / "mixed.tsv", ["user", "item", "rating", "when"], rows, "\t")
    assert main(["fit", str(mixed), "--user-col", "user", "--item-col", "item", "--sep", "tab",
                 "--value-col", "rating", "--timestamp-col", "when", "--duplicates", "last",
                 "--model", "MostPopular", "-o", str(model_path)]) == 1
    assert "column 'when' mixes numbers and dates (e.g. ['1704153600'], which NumPy would " \
        "read as years)" in capsys.readouterr().err


def test_a_sequential_model_is_fitted_on_and_served_from_the_times(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    # each user walks three of a..e in time, rating them lower and lower: the ratings
    # would give the reverse order
    rows = [(f"u{u:02d}", "abcde"[u % 3 + t], 5 - t, 1000 + 10 * t)
            for u in range(30) for t in range(3)]
    log = _write_csv(tmp_path / "log.csv", ["user", "item", "rating", "ts"], rows)
    model_path = tmp_path / "sas.joblib"
    params = ["--param", "n_components=8", "--param", "max_iter=2",
              "--param", "early_stopping=False", "--param", "random_state=0"]
    _fit(capsys, log, model_path, "--value-col", "rating", "--timestamp-col", "ts",
         "--model", "SASRec", *params)
    bundle = joblib.load(model_path)
    model, encoder, X = bundle["model"], bundle["encoder"], bundle["interactions"]
    assert set(X.data) == {1000.0, 1010.0, 1020.0}  # the times, not the ratings
    newer = _write_csv(tmp_path / "new.csv", ["user", "item", "rating", "ts"],
                       [("u00", "c", 1, 1000), ("u00", "a", 5, 1010)])
    assert main(["recommend", str(model_path), "--log", str(newer), "--users", "u00",
                 "-k", "2"]) == 0
    table = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    expected = model.recommend(encoder.transform_timestamps(_cli.read_log(
        newer, "user", "item", "rating", "ts")), k=2)[0][0]
    assert [r["item"] for r in table] == encoder.inverse_transform([expected])[0].tolist()
    assert main(["fit", str(log), "--user-col", "user", "--item-col", "item",
                 "--value-col", "rating", "--model", "SASRec", "-o",
                 str(tmp_path / "m.joblib")]) == 1
    assert ("SASRec predicts the next item from the order of each user's items: give the "
            "log's time column with --timestamp-col.") in capsys.readouterr().err


def test_recommend_from_a_newer_log(tmp_path, capsys, log_csv):
    log, missing = log_csv
    model_path = tmp_path / "knn.joblib"
    _fit(capsys, log, model_path, "--model", "ItemKNN")
    # f000 now has every fruit; a new user has two breads
    newer = _write_csv(tmp_path / "new.csv", ["user", "item"],
                       [("f000", "apple"), ("f000", "banana"), ("f000", "cherry"),
                        ("f000", "date"), ("zoe", "bagel"), ("zoe", "naan")])
    assert main(["recommend", str(model_path), "--log", str(newer), "--users", "f000", "zoe",
                 "-k", "2"]) == 0
    table = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    f000 = [r["item"] for r in table if r["user"] == "f000"]
    zoe = [r["item"] for r in table if r["user"] == "zoe"]
    assert not set(f000) & set(TASTES["fruit"])  # all seen in the newer log
    assert set(zoe) == {"brioche", "ciabatta"}  # folded in from her two breads
    # b000 is a fitted user, but the newer log (the history now) has nothing of theirs
    assert main(["recommend", str(model_path), "--log", str(newer), "--users", "b000"]) == 0
    assert "1 user(s) without interactions in the history (e.g. ['b000'])" \
        in capsys.readouterr().err
    # no users named: the newer log's users only (every fitted user was listed, scored
    # without interactions, the items of their fit log recommended back)
    assert main(["recommend", str(model_path), "--log", str(newer), "-k", "2"]) == 0
    out, err = capsys.readouterr()
    assert {r["user"] for r in csv.DictReader(out.splitlines())} == {"f000", "zoe"}
    assert "without interactions" not in err
    # an empty file of users is refused, naming it
    empty = tmp_path / "nobody.txt"
    empty.write_text("user\n")
    assert main(["recommend", str(model_path), "--users-file", str(empty)]) == 1
    assert "nobody.txt: no user ids in the file" in capsys.readouterr().err


def test_warnings_are_one_line_and_zoned_times_are_read_in_utc(tmp_path, capsys):
    """The encoder's warning about unknown items showed scikit-learn's source line, and a
    time with an offset NumPy's warning, on the command line."""
    log = _write_csv(tmp_path / "tz.csv", ["user", "item", "ts"],
                     [("u1", "a", "2024-05-01T13:45:00Z"), ("u1", "b", "2024-05-02"),
                      ("u2", "a", "2024-05-01T12:00:00+02:00"), ("u2", "b", "2024-05-03")])
    model_path = tmp_path / "pop.joblib"
    err = _fit(capsys, log, model_path, "--model", "MostPopular", "--timestamp-col", "ts")
    assert "UserWarning" not in err and "warning: " not in err and ".py:" not in err
    times = _cli._as_times(np.array(["2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"]),
                           "ts", log)
    assert (times == np.datetime64("2024-05-01T10:00:00")).all()  # both in UTC
    newer = _write_csv(tmp_path / "new.csv", ["user", "item", "ts"], [("u1", "zzz", "2024-05-05")])
    assert main(["recommend", str(model_path), "--log", str(newer), "-k", "1"]) == 0
    err = capsys.readouterr().err
    assert "recommend: warning: 1 interaction(s) with item ids not seen in fit" in err
    assert ".py:" not in err


def test_a_closed_stdout_is_not_an_input_error(tmp_path, capsys, log_csv):
    """`recommend ... | head -1` printed 'error: [Errno 32] Broken pipe' as if the input
    were wrong."""
    log, _ = log_csv
    model_path = tmp_path / "pop.joblib"
    _fit(capsys, log, model_path, "--model", "MostPopular")
    run = subprocess.run(
        f"{sys.executable} -m sklearn_recsys recommend {model_path} -k 50 | head -1",
        shell=True, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(sklearn_recsys.__file__).parent.parent)})
    assert run.stdout == "user,rank,item,score\n"
    assert "error" not in run.stderr and "Broken pipe" not in run.stderr


def test_csv_without_pandas_reads_the_same(tmp_path, capsys, log_csv, monkeypatch):
    log, _ = log_csv
    with_pandas = _cli.read_log(log, "user", "item", "rating", "ts")
    _without_pandas(monkeypatch)
    without = _cli.read_log(log, "user", "item", "rating", "ts")
    assert "pandas" not in sys.modules  # the import was tried and failed
    assert with_pandas.keys() == without.keys()
    for column in with_pandas:
        assert_array_equal(with_pandas[column], without[column])
    assert without["user"][0] == "f000" and without["rating"].dtype == np.float64
    _fit(capsys, log, tmp_path / "m.joblib", "--model", "MostPopular")


@pytest.mark.parametrize("pandas", [True, False])
def test_bad_input_is_one_line_and_status_1(tmp_path, capsys, log_csv, monkeypatch, pandas):
    if not pandas:
        _without_pandas(monkeypatch)
    log, _ = log_csv
    out = str(tmp_path / "m.joblib")
    base = ["fit", str(log), "--user-col", "user", "--item-col", "item", "-o", out]
    cases = [
        (base + ["--model", "Nope"], "unknown model 'Nope'; choose one of"),
        (base + ["--model", "EASE", "--param", "lambda=1"], "EASE has no parameter 'lambda'"),
        (base + ["--model", "EASE", "--param", "alpha"], "--param expects NAME=VALUE"),
        (base + ["--model", "EASE", "--param", "alpha=-1"], "'alpha' parameter of EASE"),
        (base + ["--model", "EASE", "--value-col", "stars"], "column(s) ['stars'] not found"),
        (["fit", str(tmp_path / "none.csv"), "--model", "EASE", "-o", out], "no such file"),
        (["recommend", str(log)], "is not a model saved by sklearn-recsys fit"),
        (base[:-1] + [str(tmp_path / "nowhere" / "m.joblib"), "--model", "EASE"],
         "nowhere does not exist"),
    ]
    bad = _write_csv(tmp_path / "bad.csv", ["user", "item", "rating"],
                     [("a", "x", "5"), ("b", "y", "five")])
    cases.append((["fit", str(bad), "--user-col", "user", "--item-col", "item", "--value-col",
                   "rating", "--model", "EASE", "-o", out],
                  "column 'rating' must hold numbers; data row 2 has 'five'"))
    hole = _write_csv(tmp_path / "hole.csv", ["user", "item"], [("a", "x"), ("", "y")])
    cases.append((["fit", str(hole), "--user-col", "user", "--item-col", "item",
                   "--model", "EASE", "-o", out], "missing user id"))
    # a multi-behaviour model on a log of one behaviour: its items would print as
    # others' raw ids (found by an audit helper)
    cases.append((["fit", str(log), "--user-col", "user", "--item-col", "item", "--model",
                   "MultiBehaviorEASE", "--param", "behaviors=('view', 'buy')", "-o", out],
                  "The model takes 8 columns and scores 4 items, but the encoder has 8"))
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        # the error is the last line, after any progress lines, without a traceback
        assert message in err.splitlines()[-1], (argv, err)
        assert "error: " in err.splitlines()[-1] and "Traceback" not in err
    assert not Path(out).exists()


@pytest.mark.parametrize("pandas", [True, False])
def test_malformed_files_are_refused_naming_the_file_and_the_fix(tmp_path, monkeypatch, pandas):
    """Both readers refuse what would otherwise be read wrongly (a line with an unquoted
    separator lost its extra field with pandas: 'Matrix, The' became 'Matrix') or fail
    with a bare parser message."""
    if not pandas:
        _without_pandas(monkeypatch)
    files = {
        "comma.csv": (b"user_id,item_id\n1,Heat\n2,Matrix, The\n", "more fields|3 fields"),
        "all_long.csv": (b"user_id,item_id\n10,20,1\n11,21,1\n", "more fields|3 fields"),
        "empty.csv": (b"", "The file is empty"),
        "latin1.csv": ("user_id,item_id\n1,Amélie\n".encode("latin-1"),
                       "not UTF-8 text.*iconv"),
        "tabs.csv": (b"user_id\titem_id\n1\t2\n", r"looks like '\\t', not ','; pass --sep tab"),
        "semicolons.csv": (b"user_id;item_id\n1;2\n", "pass --sep ';'"),
        "headerless.csv": (b"196,242\n186,302\n", "The first line looks like data"),
    }
    for name, (content, message) in files.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(_cli.CommandError, match=message) as info:
            _cli.read_log(tmp_path / name, "user_id", "item_id")
        assert name in str(info.value)
    # the separator given, the same files read
    assert _cli.read_log(tmp_path / "tabs.csv", "user_id", "item_id", sep="\t")["item_id"] \
        .tolist() == ["2"]
    # a byte-order mark is not part of the first column's name, for either reader
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfuser_id,item_id\n1,2\n")
    assert _cli.read_log(tmp_path / "bom.csv", "user_id", "item_id")["user_id"].tolist() == ["1"]


def test_pandas_reader_errors_and_chunks(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    # a quote left open is no 'more fields' line, and the header read says so too
    (tmp_path / "open.csv").write_text('user_id,item_id\n1,"Heat\n2,Matrix\n')
    (tmp_path / "open_head.csv").write_text('user_id,"item_id\n1,2\n')
    for name in ("open.csv", "open_head.csv"):
        with pytest.raises(_cli.CommandError, match=f"{name}: not readable as CSV.*quoting"):
            _cli.read_log(tmp_path / name, "user_id", "item_id")
    # chunks of 3 lines read as one: unwanted columns dropped chunk by chunk
    rows = "".join(f"{u},{i},extra{u}\n" for u, i in zip(range(10), range(10, 20)))
    (tmp_path / "log.csv").write_text("user_id,item_id,note\n" + rows)
    whole = _cli.read_log(tmp_path / "log.csv", "user_id", "item_id")
    monkeypatch.setattr(_cli, "_CSV_CHUNK", 3)
    chunked = _cli.read_log(tmp_path / "log.csv", "user_id", "item_id")
    assert chunked["item_id"].tolist() == whole["item_id"].tolist() == [str(i) for i in
                                                                        range(10, 20)]
    (tmp_path / "head.csv").write_text("user_id,item_id\n")
    assert _cli.read_log(tmp_path / "head.csv", "user_id", "item_id")["user_id"].size == 0


def test_a_csv_named_parquet_and_a_damaged_parquet_are_refused(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "log.parquet").write_text("user_id,item_id\n1,2\n")
    with pytest.raises(_cli.CommandError,
                       match="log.parquet: not a readable Parquet file.*rename it .csv"):
        _cli.read_log(tmp_path / "log.parquet", "user_id", "item_id")
    pq.write_table(pa.table({"user_id": ["1"], "item_id": ["2"]}), tmp_path / "cut.parquet")
    data = (tmp_path / "cut.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(_cli.CommandError, match="cut.parquet: .*damaged or cut short"):
        _cli.read_log(tmp_path / "cut.parquet", "user_id", "item_id")


def test_parquet_log_gives_the_same_model_as_csv(tmp_path, capsys, log_csv):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    log, missing = log_csv
    rows, _ = _planted_log()
    users, items, ratings, ts = map(list, zip(*rows))
    table = pa.table({"user": users, "item": items, "rating": ratings,
                      "ts": pa.array(np.array(ts, dtype="datetime64[s]"))})
    pq.write_table(table, tmp_path / "log.parquet")
    for path, name in [(tmp_path / "log.parquet", "pq.joblib"), (log, "csv.joblib")]:
        _fit(capsys, path, tmp_path / name, "--value-col", "rating", "--timestamp-col", "ts",
             "--model", "EASE")
    a, b = joblib.load(tmp_path / "pq.joblib"), joblib.load(tmp_path / "csv.joblib")
    assert_array_equal(a["encoder"].user_ids_, b["encoder"].user_ids_)
    assert_array_equal(a["interactions"].toarray(), b["interactions"].toarray())
    # integer ids read as the text a CSV holds, "7" (not "7.0") beside a null
    pq.write_table(pa.table({"user_id": [7, None], "item_id": [70, 71]}), tmp_path / "i.pq")
    log = _cli.read_log(tmp_path / "i.pq", "user_id", "item_id")
    assert log["user_id"].tolist() == ["7", None] and log["item_id"].tolist() == ["70", "71"]


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = tmp_path / "log.parquet"
    path.write_bytes(b"PAR1")  # never opened: the import fails first
    assert main(["fit", str(path), "--model", "EASE", "-o", str(tmp_path / "m")]) == 1
    assert "reading Parquet needs pyarrow, which is not installed: pip install pyarrow" \
        in capsys.readouterr().err


def test_demo_command_prints_leaderboard_and_total_time(capsys, monkeypatch):
    from sklearn_recsys import MostPopular

    # one cheap model: the leaderboard itself is tested in test_demo.py
    monkeypatch.setattr(_cli, "_demo_models", lambda quick: {"MostPopular": (MostPopular(), {})})
    assert main(["demo", "--quick"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].split()[:2] == ["model", "ndcg@10"]
    assert "MostPopular" in out
    assert "total time:" in err.splitlines()[-1]


def test_demo_checks_its_output_folders_before_the_run(tmp_path, capsys, monkeypatch):
    """A missing folder for --csv/--markdown/--plot failed only after the whole run."""
    monkeypatch.setattr(_cli, "_load_demo_data", lambda *a: pytest.fail("the run started"))
    for option in ("--csv", "--markdown", "--plot"):
        assert main(["demo", "--quick", option, str(tmp_path / "no" / "board")]) == 1
        assert "does not exist" in capsys.readouterr().err


def test_iso_times_finer_than_a_microsecond_are_not_cut(tmp_path, capsys):
    """pandas' to_csv of a datetime64[ns] column writes nanoseconds; NumPy's parse to
    microseconds cut them, so distinct times tied and ``--duplicates last`` kept the
    row last in the file (audit helper 138). Now they reach the encoder in nanoseconds,
    which refuses the ties; microsecond fractions are read as before."""
    log = _write_csv(tmp_path / "log.csv", ["user", "item", "rating", "ts"],
                     [("u", "a", 1, "2024-01-01 11:59:59.000000000"),
                      ("u", "c", 2, "2024-01-01 12:00:00.000000001"),
                      ("u", "c", 5, "2024-01-01 12:00:00.000000000")])
    status = main(["fit", str(log), "--user-col", "user", "--item-col", "item",
                   "--value-col", "rating", "--timestamp-col", "ts", "--duplicates", "last",
                   "--model", "MostPopular", "-o", str(tmp_path / "m.joblib")])
    assert status == 1
    assert "finer than a microsecond" in capsys.readouterr().err
    column = np.array(["2024-01-01 12:00:00.000001001", "2024-01-01 12:00:00.000002"],
                      dtype=object)
    times = _cli._as_times(column, "ts", "log.csv")
    assert times.dtype == np.dtype("datetime64[ns]")
    assert (times[1] - times[0]).astype(np.int64) == 999
    exact = _cli._as_times(column[1:], "ts", "log.csv")  # no digit past the microsecond
    assert exact.dtype == np.dtype("datetime64[us]")
    with pytest.raises(_cli.CommandError, match="outside the years 1678 to 2262"):
        _cli._as_times(np.array(["2300-01-01 00:00:00.000000001"], dtype=object), "ts",
                       "log.csv")
    # a missing time stays the encoder's to name, and a number among the dates is named
    # as such (the review: both read "outside the years 1678 to 2262")
    with_nat = _cli._as_times(np.array(["2024-01-01 12:00:00.000000001", "NaT"],
                                       dtype=object), "ts", "log.csv")
    assert with_nat.dtype == np.dtype("datetime64[ns]") and np.isnat(with_nat[1])
    with pytest.raises(_cli.CommandError, match="mixes numbers and dates"):
        _cli._as_times(np.array(["2024-01-01 12:00:00.000000001", "1714567890"],
                                dtype=object), "ts", "log.csv")
    # an offset is read in UTC without a warning, as for microseconds
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoned = _cli._as_times(np.array(["2024-01-01T12:00:00.000000001+02:00"],
                                        dtype=object), "ts", "log.csv")
    assert zoned[0] == np.datetime64("2024-01-01T10:00:00.000000001")


def test_integer_times_are_read_exactly(tmp_path, capsys):
    """Integer times were read as float64: nanoseconds 100 apart tied and ``--duplicates
    last`` kept the row last in the file; now they reach the encoder as int64, which
    refuses times it cannot keep apart, and keeps exact ones."""
    t0 = 1_714_567_890_000_000_000
    log = _write_csv(tmp_path / "log.csv", ["user", "item", "rating", "ts"],
                     [("u", "a", 2, t0 + 100), ("u", "a", 5, t0), ("u", "b", 3, t0 + 50)])
    status = main(["fit", str(log), "--user-col", "user", "--item-col", "item",
                   "--value-col", "rating", "--timestamp-col", "ts", "--duplicates", "last",
                   "--model", "MostPopular", "-o", str(tmp_path / "m.joblib")])
    assert status == 1
    assert "too large for float64" in capsys.readouterr().err
    assert _cli._as_times(np.array(["9007199254740993", " 12"], dtype=object), "ts",
                          "log.csv").tolist() == [2 ** 53 + 1, 12]
    log = _write_csv(tmp_path / "ok.csv", ["user", "item", "rating", "ts"],
                     [("u", "a", 2, t0 + 1024), ("u", "a", 5, t0), ("u", "b", 3, t0 + 512)])
    _fit(capsys, log, tmp_path / "m.joblib", "--value-col", "rating", "--timestamp-col", "ts",
         "--duplicates", "last", "--model", "MostPopular")
    bundle = joblib.load(tmp_path / "m.joblib")
    encoder, X = bundle["encoder"], bundle["interactions"]
    assert X[0, list(encoder.item_ids_).index("a")] == 2.0  # the latest in time
