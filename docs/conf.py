"""Sphinx configuration of the sklearn_recsys documentation."""

import sklearn_recsys

project = "sklearn_recsys"
author = "the sklearn_recsys developers"
copyright = "2026, " + author
release = sklearn_recsys.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "sphinx.ext.doctest",
    "numpydoc",
]
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# Document the recommender API inherited from the package's mixins, but not
# scikit-learn's own plumbing (set_output, metadata routing, get_params, ...).
autodoc_default_options = {
    "members": True,
    "inherited-members": "BaseEstimator,TransformerMixin,_SetOutputMixin,"
    "_MetadataRequester,object",
}
# The docs must build offline: links to other projects' docs are written as
# plain text, so intersphinx has nothing to fetch.
intersphinx_mapping = {}
nitpicky = False
exclude_patterns = ["_build"]
html_theme = "alabaster"
templates_path = []
