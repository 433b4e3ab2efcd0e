"""TextSequencer: vocabulary rules, padding/truncation, real titles, no TensorFlow needed."""

import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from sklearn_recsys.preprocessing import TextSequencer

DOCS = ["the cat sat", "the dog sat down", "the cat and the dog", "a bird"]


def test_vocabulary_rules():
    # "the" is in 3/4 documents > max_df=0.5: dropped as a stop word
    seq = TextSequencer(max_df=0.5, max_length=4).fit(DOCS)
    assert "the" not in set(seq.vocabulary_)
    assert list(seq.vocabulary_[:3]) == ["cat", "dog", "sat"]  # df 2, then by word
    assert_array_equal(seq.document_frequency_[:3], [2, 2, 2])
    # min_df and max_features
    assert list(TextSequencer(min_df=2, max_df=1.0).fit(DOCS).vocabulary_) == [
        "the", "cat", "dog", "sat"]
    assert len(TextSequencer(max_features=2, max_df=1.0).fit(DOCS).vocabulary_) == 2


def test_sequences_keep_order_pad_and_truncate():
    seq = TextSequencer(max_df=1.0, max_length=3).fit(DOCS)
    index = {w: j + 1 for j, w in enumerate(seq.vocabulary_)}
    out = seq.transform(["dog the cat and sat", "zebra dog", ""])
    assert_array_equal(out[0], [index["dog"], index["the"], index["cat"]])  # truncated
    assert_array_equal(out[1], [index["dog"], 0, 0])  # OOV dropped, padded
    assert_array_equal(out[2], [0, 0, 0])
    assert out.dtype == np.int64


def test_bad_documents():
    with pytest.raises(TypeError, match="iterable of documents"):
        TextSequencer().fit("one string")
    with pytest.raises(TypeError, match="must be a str"):
        TextSequencer().fit(["ok", None])
    with pytest.raises(ValueError, match="at least one document"):
        TextSequencer().fit([])


def test_citeulike_titles(shared_data):
    from sklearn_recsys.datasets import fetch_citeulike_a

    titles = fetch_citeulike_a(data_home=shared_data, download_if_missing=False).item_titles
    seq = TextSequencer(max_features=8000, max_length=30).fit(titles)
    out = seq.transform(titles)
    assert out.shape == (16980, 30) and len(seq.vocabulary_) == 8000
    # only titles made of rare words end up empty (4 of 16,980)
    assert out.max() == 8000 and ((out > 0).sum(axis=1) == 0).sum() == 4
    assert [seq.vocabulary_[i - 1] for i in out[0] if i] == [
        "the", "metabolic", "world", "of", "escherichia", "coli", "is", "not", "small"]


def test_runs_without_tensorflow():
    code = """
import sys
sys.modules["tensorflow"] = None
from sklearn_recsys.preprocessing import TextSequencer
print(TextSequencer(max_df=1.0).fit_transform(["a b c", "bb cc"])[1][:2])
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    assert out.strip() == "[1 2]"


def test_one_shot_iterables_are_read_once():
    # fit then transform of a generator found it exhausted: 0 rows, silently
    expected = TextSequencer(max_df=1.0, max_length=5).fit_transform(DOCS)
    for make in (lambda: (d for d in DOCS), lambda: iter(DOCS), lambda: map(str, DOCS)):
        out = TextSequencer(max_df=1.0, max_length=5).fit_transform(make())
        assert_array_equal(out, expected)
    seq = TextSequencer(max_df=1.0, max_length=5).fit(d for d in DOCS)
    assert_array_equal(seq.transform(d for d in DOCS), expected)
    # a pipeline calls the last step's fit_transform
    from sklearn.pipeline import make_pipeline

    out = make_pipeline(TextSequencer(max_df=1.0, max_length=5)).fit_transform(iter(DOCS))
    assert_array_equal(out, expected)


@pytest.mark.parametrize("docs, kw", [
    (["one document only"], {}),  # every word is in 1/1 > max_df=0.5 of the documents
    (["", "  ", "!"], {"max_df": 1.0}),
    (["the and", "a of the"], {"max_df": 1.0, "stop_words": "english"}),
    (["cat", "dog"], {"max_df": 1.0, "min_df": 2}),
])
def test_empty_vocabulary_is_an_error(docs, kw):
    # every sequence would be padding only: a text model would learn nothing
    with pytest.raises(ValueError, match="No word is left in the vocabulary.*Lower min_df"):
        TextSequencer(**kw).fit(docs)


def test_a_one_column_table_is_its_documents_and_wider_tables_are_refused():
    """Iterating a DataFrame gives its column names: it was sequenced as the one document
    'title' (shape (1, 4) for four texts), a dict as its keys."""
    pd = pytest.importorskip("pandas")
    texts = ["red apple pie", "green apple", "red wine", "blue cheese pie"]
    expected = TextSequencer(max_length=4, max_df=1.0).fit_transform(texts)
    frame = pd.DataFrame({"title": texts}, index=[9, 8, 7, 6])
    sequencer = TextSequencer(max_length=4, max_df=1.0)
    assert_array_equal(sequencer.fit_transform(frame), expected)
    assert_array_equal(sequencer.fit_transform(np.array(texts)[:, None]), expected)
    with pytest.raises(TypeError, match="got a DataFrame of 2 columns: pass the column"):
        TextSequencer().fit(frame.assign(genre=texts))
    with pytest.raises(TypeError, match="iterable of documents"):
        TextSequencer().fit({"a": "red apple", "b": "wine"})
