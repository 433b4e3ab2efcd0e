"""The recommender checks catch real contract violations: each broken EASE below breaks one
rule of docs/contract.rst and must fail at least the named check; EASE itself passes all."""

import numpy as np
import pytest

from sklearn_recsys import EASE
from sklearn_recsys.base import _top_k_of_batches
from sklearn_recsys.utils import estimator_checks as checks
from sklearn_recsys.utils._topk import mask_seen, top_k
from sklearn_recsys.utils._validation import check_k


class IgnoresExclude(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        return super().recommend(X, k, exclude_seen=exclude_seen, candidates=candidates)


class MasksTheFirstRowsOfEachBlock(EASE):
    """Each row block masks the history of X's first rows (an off-by-block slice)."""

    def _top_k(self, X, k, exclude_seen, exclude, candidates, **row_data):
        def blocks():
            for rows, _, scores in self._iter_scores(X, **row_data):
                yield rows, X[:rows.stop - rows.start], scores

        return _top_k_of_batches(blocks(), self._n_items(), k, exclude_seen, candidates,
                                 exclude)


class CatalogueOrderLists(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        check_k(k)
        X = self._validate_for_scoring(X)
        fake = np.tile(-np.arange(X.shape[1], dtype=float), (X.shape[0], 1))
        mask_seen(fake, X)
        return top_k(fake, k)


class ScoresOfOtherItems(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        idx, _ = super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                   candidates=candidates)
        best = -np.sort(-self.decision_function(X), axis=1)[:, :idx.shape[1]]
        return idx, np.where(idx >= 0, best, -np.inf)


class NoPopularityFallback(EASE):
    def _popularity_for_empty_rows(self, X_batch, scores):
        return scores


class TiesToTheHigherIndex(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        idx, val = super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                     candidates=candidates)
        for u in range(idx.shape[0]):
            for value in np.unique(val[u][np.isfinite(val[u])]):
                run = np.flatnonzero(val[u] == value)
                idx[u, run] = np.sort(idx[u, run])[::-1]
        return idx, val


class ForgetsCandidatesWhenExcludingSeen(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        return super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                 candidates=None if exclude_seen else candidates)


class ScoresDependOnTheBatch(EASE):
    def _score_batch(self, X):
        return super()._score_batch(X) + 1e-2 * X.shape[0]


class UnseededNoise(EASE):
    def _fit(self, X):
        super()._fit(X)
        self.coef_ = self.coef_ + 1e-3 * np.random.default_rng().random(self.coef_.shape)


class ForgetsItsWeightsInAPickle(EASE):
    def __setstate__(self, state):
        super().__setstate__(state)
        self.coef_ = np.zeros_like(self.coef_)


class NaNForTheLastItem(EASE):
    def decision_function(self, X):
        scores = super().decision_function(X)
        scores[:, -1] = np.nan
        return scores


class PadsWithItemZero(EASE):
    def recommend(self, X, k=10, *, exclude_seen=True, exclude=None, candidates=None):
        idx, val = super().recommend(X, k, exclude_seen=exclude_seen, exclude=exclude,
                                     candidates=candidates)
        return np.where(idx < 0, 0, idx), np.where(idx < 0, 0.0, val)


class ScoresWithChangedParameters(EASE):
    """Scores on after set_params changed a parameter since fit (the guard left out)."""

    def _check_fitted_params(self):
        pass


class ExplainsWithChangedParameters(EASE):
    """Refuses to score, but explains, after set_params changed a parameter since fit."""

    def explain(self, x_row, item):
        fitted, self._fitted_params = self._fitted_params, None  # the guard skipped
        try:
            return super().explain(x_row, item)
        finally:
            self._fitted_params = fitted


class SameScoresForEveryone(EASE):
    """Serves every user the training popularity, whatever their row (found by an audit
    helper: every check passed it)."""

    def _score_batch(self, X):
        return np.tile(self._item_popularity, (X.shape[0], 1))


class FixedListForNewUsers(EASE):
    """Scores exact copies of training rows; any other user gets one fixed list."""

    def fit(self, X, y=None):
        super().fit(X, y)
        self._rows_seen = {tuple(r) for r in self._validate_for_scoring(X).toarray()}
        return self

    def _score_batch(self, X):
        scores = super()._score_batch(X)
        seen = getattr(self, "_rows_seen", None)  # fit's own check scores before it is set
        for u, row in enumerate(X.toarray()):
            if seen is not None and tuple(row) not in seen:
                scores[u] = np.linspace(1.0, 0.0, X.shape[1])
        return scores


class CatalogueOrderWithTieBreaks(EASE):
    """A user without interactions gets items 0, 1, 2, ... by tiny decreasing scores."""

    def _popularity_for_empty_rows(self, X_batch, scores):
        empty = np.flatnonzero(np.diff(X_batch.indptr) == 0)
        scores = np.array(scores)
        scores[empty] = -1e-9 * np.arange(scores.shape[1])
        return scores


class LeastPopularFirst(EASE):
    def _popularity_for_empty_rows(self, X_batch, scores):
        empty = np.flatnonzero(np.diff(X_batch.indptr) == 0)
        scores = np.array(scores)
        scores[empty] = -self._item_popularity
        return scores


class ContrastIsExplain(EASE):
    """Contributions to the item's score, not to its lead over the runners-up."""

    def explain_contrast(self, x_row, item, against=10):
        return self.explain(x_row, item)


class ContrastAcceptsAnyAgainst(EASE):
    """Compares with whatever it is given: the item itself, no item, repeated items."""

    def _contrast_items(self, x, item, against, rank=True):
        if np.ndim(against) == 0:
            return super()._contrast_items(x, item, max(int(against), 1), rank)
        return np.asarray(against, dtype=np.int64)


@pytest.mark.parametrize("broken, check", [
    (SameScoresForEveryone, checks.check_unseen_users),
    (FixedListForNewUsers, checks.check_unseen_users),
    (CatalogueOrderWithTieBreaks, checks.check_empty_user_is_not_catalogue_order),
    (LeastPopularFirst, checks.check_empty_user_is_not_catalogue_order),
    (ScoresDependOnTheBatch, checks.check_batch_equals_rows),
    (ScoresDependOnTheBatch, checks.check_row_independence),
    (UnseededNoise, checks.check_fit_reproducible),
    (ForgetsItsWeightsInAPickle, checks.check_pickle_roundtrip),
    (NaNForTheLastItem, checks.check_unseen_users),
    (PadsWithItemZero, checks.check_recommend_padding),
    (IgnoresExclude, checks.check_never_recommends_seen),
    (MasksTheFirstRowsOfEachBlock, checks.check_never_recommends_seen),
    (CatalogueOrderLists, checks.check_recommend_matches_decision_function),
    (ScoresOfOtherItems, checks.check_recommend_matches_decision_function),
    (NoPopularityFallback, checks.check_empty_user_is_not_catalogue_order),
    (TiesToTheHigherIndex, checks.check_recommend_matches_decision_function),
    (ForgetsCandidatesWhenExcludingSeen, checks.check_never_recommends_seen),
    (ScoresWithChangedParameters, checks.check_parameters_changed_after_fit_are_refused),
    (ExplainsWithChangedParameters, checks.check_parameters_changed_after_fit_are_refused),
    (ContrastIsExplain, checks.check_explain_contrast),
    (ContrastAcceptsAnyAgainst, checks.check_explain_contrast),
])
def test_each_broken_recommender_fails_its_check(broken, check):
    with pytest.raises(AssertionError):
        check(broken.__name__, broken(alpha=1.0))


@pytest.mark.parametrize("check", checks.recommender_checks(), ids=lambda c: c.__name__)
def test_the_unbroken_model_passes(check):
    check("EASE", EASE(alpha=1.0))
