"""One text document per item from a dataset's text fields (titles, genres, tags), for ConvMF."""

from collections.abc import Mapping

import numpy as np

from ..utils._validation import is_missing

__all__ = ["item_documents"]

_FIELDS = ("item_titles", "item_genres", "item_tags")


def item_documents(data, fields=_FIELDS):
    """Join the text fields of a dataset bunch into one document per item.

    Parameters
    ----------
    data : :class:`~sklearn.utils.Bunch`
        A bunch from :func:`fetch_movielens`, :func:`fetch_lastfm_2k` or
        :func:`fetch_citeulike_a`; fields it does not have are skipped.
    fields : sequence of str, default=("item_titles", "item_genres", "item_tags")
        Per-item fields to join, in order. A field is a list with one entry
        per item (column of ``data.X``): a string, or a list of strings
        (genres, tags) joined by spaces; a missing entry (None, NaN of any
        float type, pandas' ``NA``) is no text, a number is its text, bytes
        are decoded as UTF-8, and a mapping raises ``TypeError``. One field
        may be given as a string.

    Returns
    -------
    documents : list of str of length n_items
        Ready for ``ConvMF(documents=...)`` or
        :class:`~sklearn_recsys.preprocessing.TextSequencer`.

    Examples
    --------
    >>> from sklearn.utils import Bunch
    >>> from sklearn_recsys.datasets import item_documents
    >>> data = Bunch(item_titles=["Toy Story (1995)", "Heat (1995)"],
    ...              item_genres=[["Animation", "Comedy"], ["Crime"]],
    ...              item_tags=[["pixar"], []])
    >>> item_documents(data)
    ['Toy Story (1995) Animation Comedy pixar', 'Heat (1995) Crime']
    """
    if isinstance(fields, str):
        fields = (fields,)
    present = [f for f in fields if f in data]
    if not present:
        raise ValueError(
            f"The dataset has none of the text fields {list(fields)}; its keys are "
            f"{sorted(data)}."
        )
    columns = [data[f] for f in present]
    n_items = len(columns[0])
    for name, column in zip(present, columns):
        if len(column) != n_items:
            raise ValueError(
                f"{name} has {len(column)} entries but {present[0]} has {n_items}: every "
                "field must hold one entry per item."
            )
    # the items: data.n_items where the bunch stacks behaviour blocks, else X's columns
    X = data.get("X") if hasattr(data, "get") else None
    n_columns = data.get("n_items", getattr(X, "shape", (0, None))[1]) if X is not None \
        else None
    if n_columns is not None and n_columns != n_items:
        raise ValueError(
            f"{present[0]} has {n_items} entries but data.X has {n_columns} items: the "
            "documents would be given to the wrong items. Give one entry per item.")
    documents = []
    for parts in zip(*columns):
        words = [_text(p) for p in parts]
        documents.append(" ".join(w for w in words if w))
    return documents


def _text(entry):
    """An entry as text: a string, a list of strings joined, or "" where it is missing.

    A number (a year, an id) is its text, as ``str`` writes it.
    """
    if isinstance(entry, str):
        return entry
    if isinstance(entry, (bytes, np.bytes_)):
        # iterated, bytes are numbers ("72 101 97 116" for b"Heat")
        return entry.decode("utf-8", errors="replace")
    if isinstance(entry, Mapping):
        raise TypeError(f"An item's document is a mapping ({entry!r:.60}): give its text, "
                        "or a list of its words or fields.")
    try:
        parts = iter(entry)
    except TypeError:
        return "" if is_missing(entry) else str(entry)
    return " ".join(t for t in (_text(part) for part in parts) if t)
