"""Tune and evaluate several recommenders under one protocol: the leaderboard.

The demo (``python -m sklearn_recsys demo``) and the scripts under
``benchmarks/`` both call :func:`compare_recommenders`, so the figures in the
documentation come from the code users run.
"""

import sys
import time
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.utils import check_random_state

from ..base import RatingPredictionMixin
from ..metrics import get_ranking_scorer
from ..pipeline import Pipeline
from ..preprocessing import RatingBinarizer
from ..utils._behaviors import behavior_layout
from ..utils._holdout import split_latest
from ..utils._scoring_path import scoring_path
from ..utils._sequences import as_order_keys, reads_order_keys
from ._split import strong_generalization_split

__all__ = ["compare_recommenders", "format_leaderboard", "plot_leaderboard"]


def _check_target(name, model, behaviors, target, n_columns):
    """ValueError if a fitted model scores another behaviour than the table holds out."""
    behaviors = list(behaviors)
    index = behaviors.index(target) if target is not None else len(behaviors) - 1
    layout = behavior_layout(model)
    if layout is not None and layout != (n_columns // len(behaviors), index):
        scored = behaviors[layout[1]] if layout[1] < len(behaviors) else layout[1]
        raise ValueError(
            f"Model {name!r} scores the behaviour {scored!r}, but the table holds out "
            f"{behaviors[index]!r} (target={target!r}): it would be judged on another "
            f"behaviour than it ranks. Give it target={behaviors[index]!r} (and the table's "
            "behaviors).")


def compare_recommenders(
    models,
    X,
    *,
    metrics=("ndcg@10", "recall@20", "coverage@10"),
    tune_metric="ndcg@10",
    test_size=0.2,
    holdout=0.2,
    min_interactions=5,
    cv=3,
    n_jobs=None,
    random_state=0,
    verbose=True,
    behaviors=None,
    target=None,
):
    """Tune each model on validation users, then score it on held-out users.

    Protocol (strong generalization, Liang et al. 2018): the users are split
    into training users and test users (``test_size``); each test user's interactions are
    split into fold-in and held-out parts (``holdout``). Hyper-parameters are
    chosen by ``GridSearchCV`` over the training users only (folds of users,
    each validation user split again by the scorer, with the same ``holdout``
    and ``min_interactions``), the best setting is
    refitted on all training users (timed), and the metrics compare its
    ranking of the test users' fold-in rows with their held-out items. With a
    sequential model among ``models`` (its values are order keys), every
    model is scored on each test user's latest ``holdout`` share instead of
    a random one, and every model is tuned so too (one protocol per table),
    so no fold-in part holds what came after the items to predict; the
    models that do not read the order are fitted and scored on each
    interaction's presence (1), not on its key, which they would read as a
    weight; models of ratings (explicit feedback) are refused in such a
    table.

    Parameters
    ----------
    models : dict of str -> (estimator, dict)
        Name -> (unfitted estimator, parameter grid; ``{}`` for none).
    X : {array-like, sparse matrix} of shape (n_users, n_items)
        Interactions.
    metrics : sequence of str, default=("ndcg@10", "recall@20", "coverage@10")
        Ranking scorer names (see :func:`~sklearn_recsys.metrics.get_ranking_scorer`).
    tune_metric : str, default="ndcg@10"
        Scorer name used to choose hyper-parameters.
    test_size, holdout : float, default=0.2
        Shares of users and of each test user's interactions held out.
    min_interactions : int, default=5
        Test users with fewer interactions hold nothing out and are not scored
        by the accuracy metrics; coverage counts every test user's list.
    cv : int, default=3
        Folds of training users in the grid search.
    n_jobs : int, default=None
        Parallel jobs of the grid search.
    random_state : int, RandomState instance or None, default=0
        Seed of the splits: the test users and every search's folds (one
        seed drawn from it, so all models are tuned on the same users).
    verbose : bool, default=True
        Print a progress line per model to stderr: a bar of the models done,
        the elapsed seconds, then the model's scores when it is finished.
    behaviors, target : sequence of str and str, default=None
        For a multi-behaviour ``X`` (one column block per behaviour, see
        :ref:`multi-behavior`): the test users hold out interactions of the
        ``target`` behaviour only, which the models (multi-behaviour models,
        or re-rankers wrapping one, given the same ``behaviors``) are scored
        on; validation inside the grid search does the same, reading the
        layout from each fitted model.

    Returns
    -------
    rows : list of dict
        One dict per model, best first by the first metric: ``model``,
        ``params`` (the chosen ones), one key per metric and ``fit_seconds``
        (the refit on the training users, timed after a first fit in this
        process: the search's, or an untimed one where the search had one
        candidate or ran in other processes, so that first-use costs such as
        compiling numba kernels are not counted).

    Raises
    ------
    ValueError
        If every setting of a model's grid scores NaN on the validation
        users (none can be chosen).
    """
    if not isinstance(random_state, Integral):
        # one seed for the test split and every search's folds: None or a
        # RandomState would give each model other validation users
        random_state = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    # what is fitted is a clone: its protocol is the clone's (a fitted wrapper's own
    # estimator_ may be another model than the template a clone fits)
    models = {name: (clone(est), grid) for name, (est, grid) in models.items()}
    latest = behaviors is None and any(reads_order_keys(est) for est, _ in models.values())
    if latest:
        # the split validates X as interactions, which sums a repeated pair's keys and
        # ties int64 times less than 256 ns apart: the keys' own reading first (a
        # repeated pair keeps its latest key, large integer keys their order)
        X = as_order_keys(X)
    X_train, X_in, X_out = strong_generalization_split(
        X, test_size=test_size, holdout=holdout, min_interactions=min_interactions,
        random_state=random_state, behaviors=behaviors, target=target,
    )
    if latest:
        for name, (estimator, _) in models.items():
            if _reads_ratings(estimator):
                # 0/1 presence would be refused by it, the keys read as ratings
                raise ValueError(
                    f"Model {name!r} ({type(estimator).__name__}) reads the values of X as "
                    "ratings, but with a sequential model in the table they are order keys "
                    "(times or positions), which the other models see as presence (1). "
                    "Compare rating models in a table without sequential models (on the "
                    "ratings), or use their feedback='implicit' where they have one.")
        # one protocol for the whole table: the same test users, their latest held out
        X_in, X_out = split_latest(sp.csr_matrix(X_in + X_out), holdout, min_interactions)
    scorers = {name: get_ranking_scorer(name) for name in metrics}
    rows = []
    started = time.perf_counter()
    for i, (name, (estimator, grid)) in enumerate(models.items(), 1):
        if verbose:
            done = int(20 * (i - 1) / len(models))
            print(f"[{'#' * done}{'-' * (20 - done)}] {i}/{len(models)} "
                  f"{time.perf_counter() - started:5.1f}s {name}: ", end="", file=sys.stderr,
                  flush=True)
        params = {}
        n_candidates = int(np.prod([len(v) for v in grid.values()])) if grid else 1
        if n_candidates > 1:
            # validation users split as the test users are (their latest too, for
            # every model of a table with a sequential one)
            scoring = get_ranking_scorer(tune_metric, holdout=holdout,
                                         min_interactions=min_interactions,
                                         split="latest" if latest else "auto")
            search = GridSearchCV(
                _presence_of_keys(estimator, latest), _step_grid(grid, estimator, latest),
                scoring=scoring, cv=KFold(cv, shuffle=True, random_state=random_state),
                n_jobs=n_jobs, refit=False,
            )
            search.fit(X_train)
            if np.isnan(search.cv_results_["mean_test_score"]).all():
                raise ValueError(
                    f"Every setting of {name!r} scored NaN on the validation users: none "
                    "could be chosen (a validation user needs min_interactions="
                    f"{min_interactions} interactions to hold some out, or every fit "
                    "failed; see the warnings above). Lower min_interactions, or fix the "
                    "failing fits.")
            params = {name.split("__", 1)[1] if _wrapped(estimator, latest) else name: value
                      for name, value in search.best_params_.items()}
        elif grid:
            params = {k: v[0] for k, v in grid.items()}
        model = _presence_of_keys(clone(estimator).set_params(**params), latest)
        if n_candidates <= 1 or effective_n_jobs(n_jobs) != 1:
            # no fit has run in this process yet: the first one would also time
            # first-use costs (compiling numba kernels, tracing TensorFlow
            # functions), which the searched models paid in their search
            clone(model).fit(X_train)
        start = time.perf_counter()
        model.fit(X_train)
        fit_seconds = time.perf_counter() - start
        if behaviors is not None:
            _check_target(name, model, behaviors, target, X.shape[1])
        row = {"model": name, "params": params}
        for metric, scorer in scorers.items():
            row[metric] = scorer(model, X_in, X_out)
        row["fit_seconds"] = fit_seconds
        rows.append(row)
        if verbose:
            shown = ", ".join(f"{m}={row[m]:.4f}" for m in metrics)
            print(f"{n_candidates} candidate(s), {shown}, fit {fit_seconds:.2f}s",
                  file=sys.stderr, flush=True)
    rows.sort(key=lambda r: (np.isnan(r[metrics[0]]), -r[metrics[0]]))  # NaN last
    return rows


def _reads_ratings(estimator):
    """Whether the model ``estimator`` scores through is fitted on ratings (explicit feedback)."""
    return any(isinstance(model, RatingPredictionMixin)
               and getattr(model, "feedback", "explicit") != "implicit"
               for model in scoring_path(estimator))


def _wrapped(estimator, latest):
    return latest and not reads_order_keys(estimator)


def _presence_of_keys(estimator, latest):
    """A clone of ``estimator``, behind a step that keeps only the presence of each order key
    when the table's values are order keys that ``estimator`` would read as weights."""
    if not _wrapped(estimator, latest):
        return clone(estimator)
    return Pipeline([("presence", RatingBinarizer(threshold=0.0)),
                     ("model", clone(estimator))])


def _step_grid(grid, estimator, latest):
    if not _wrapped(estimator, latest):
        return grid
    return {f"model__{name}": values for name, values in grid.items()}


def format_leaderboard(rows, fmt="text"):
    """Render the rows of :func:`compare_recommenders` as a table.

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`compare_recommenders`.
    fmt : {"text", "markdown", "csv"}, default="text"
        Output format. Text and Markdown round the metrics to 4 decimals
        (seconds to 3); CSV, for other programs, keeps every digit.

    Returns
    -------
    table : str
    """
    if not rows:
        return ""
    cols = [c for c in rows[0] if c != "params"] + ["params"]

    def cell(row, col):
        v = row[col]
        if isinstance(v, float):
            if fmt == "csv":
                return repr(v)  # for other programs: every digit, not the display's
            return f"{v:.4f}" if col != "fit_seconds" else f"{v:.3f}"
        if isinstance(v, dict):
            return " ".join(f"{k}={w}" for k, w in v.items()) or "-"
        return str(v)

    table = [[cell(r, c) for c in cols] for r in rows]
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows(table)
        return buf.getvalue()
    widths = [max(len(c), *(len(t[j]) for t in table)) for j, c in enumerate(cols)]
    if fmt == "markdown":
        lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |",
                 "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        lines += ["| " + " | ".join(t.ljust(w) for t, w in zip(r, widths)) + " |" for r in table]
    elif fmt == "text":
        lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)),
                 "  ".join("-" * w for w in widths)]
        lines += ["  ".join(t.ljust(w) for t, w in zip(r, widths)) for r in table]
    else:
        raise ValueError(f"fmt must be 'text', 'markdown' or 'csv', got {fmt!r}.")
    return "\n".join(lines) + "\n"


def plot_leaderboard(rows, metric="ndcg@10", ax=None):
    """Scatter plot of a leaderboard's quality against fit time (matplotlib).

    Parameters
    ----------
    rows : list of dict
        As returned by :func:`compare_recommenders`.
    metric : str, default="ndcg@10"
        Column plotted on the y axis.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plot_leaderboard needs matplotlib: pip install matplotlib") from exc
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    for r in rows:
        ax.scatter(r["fit_seconds"], r[metric])
        ax.annotate(r["model"], (r["fit_seconds"], r[metric]))
    ax.set_xscale("log")
    ax.set_xlabel("fit seconds (log)")
    ax.set_ylabel(f"{metric.upper()} on held-out users")
    ax.figure.tight_layout()
    return ax
