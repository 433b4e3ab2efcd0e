"""Fitted models under threads, ``fork`` and joblib's backends (see utils/_parallel.py)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from joblib import parallel_backend
from numba import prange
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_recsys.datasets import make_interactions
from sklearn_recsys.matrix_factorization import BPR, NMF, ExplicitMF, ImplicitALS
from sklearn_recsys.utils._parallel import parallel_kernel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code, env=None, timeout=240):
    full_env = {**os.environ, "PYTHONPATH": ROOT, **(env or {})}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=full_env,
                          capture_output=True, text=True, timeout=timeout)


_FIT = """
    import numpy as np
    from sklearn_recsys.datasets import make_interactions
    from sklearn_recsys.matrix_factorization import BPR, NMF, ImplicitALS
    X = make_interactions(600, 120, random_state=0)
    X.data = np.random.default_rng(0).integers(1, 6, X.nnz).astype(float)  # ratings for NMF
    models = [M(random_state=0, max_iter=2).fit(X) for M in (ImplicitALS, BPR, NMF)]
    refs = [m.decision_function(X) for m in models]
"""


def test_fork_pool_after_fit_does_not_hang():
    # GNU OpenMP terminates a forked child that uses it after the parent did,
    # and a Pool restarts the dead workers forever: the child must go serial
    code = _FIT + """
    import multiprocessing as mp
    def score(i):
        return [m.decision_function(X) for m in models]
    if __name__ == "__main__":
        with mp.get_context("fork").Pool(2) as pool:
            outs = pool.map_async(score, range(3)).get(timeout=120)
        for out in outs:
            for got, ref in zip(out, refs):
                np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
        print("ok")
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


@pytest.mark.parametrize("model", ["approximate", "stacking"])
def test_fork_pool_after_foreign_openmp_does_not_hang(model):
    """faiss and scikit-learn's gradient boosting bring their own GNU OpenMP: a forked
    child that used it after the parent did hung for good (audit 58a; joblib's
    multiprocessing backend never returned). In a forked child they run on one thread."""
    if model == "approximate":
        pytest.importorskip("faiss")
    build = {
        "approximate": "ApproximateRecommender(ImplicitALS(n_components=4, max_iter=3, "
                       "random_state=0), n_lists=4)",
        "stacking": "StackingRecommender([('pop', MostPopular()), ('ease', EASE(alpha=10.0))], "
                    "n_candidates=10, random_state=0)",
    }[model]
    code = f"""
    import multiprocessing as mp
    import warnings
    import numpy as np
    from sklearn_recsys import EASE, ImplicitALS, MostPopular, make_interactions
    from sklearn_recsys.ensemble import StackingRecommender
    from sklearn_recsys.neighbors import ApproximateRecommender
    warnings.simplefilter("ignore")
    X = make_interactions(200, 40, density=0.15, random_state=0)
    model = {build}.fit(X)
    ref = model.recommend(X, k=5)[0]  # the parent runs the library's OpenMP
    def child(i):
        refit = {build}.fit(X)  # and the child fits and serves with it
        return (np.array_equal(model.recommend(X, k=5)[0], ref)
                and np.array_equal(refit.recommend(X, k=5)[0], ref))
    if __name__ == "__main__":
        with mp.get_context("fork").Pool(2) as pool:
            print(pool.map_async(child, range(2)).get(timeout=60))
    """
    result = _run(code, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "[True, True]"


@pytest.mark.parametrize("layer", ["workqueue", "omp"])
def test_scoring_from_threads_is_safe_under_threading_layer(layer):
    # numba's workqueue layer aborts the process when two threads enter it
    code = _FIT + """
    import numba
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda i: [m.decision_function(X) for m in models], range(8)))
    for out in outs:
        for got, ref in zip(out, refs):
            np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    print(numba.threading_layer())
    """
    result = _run(code, env={"NUMBA_THREADING_LAYER": layer})
    if result.returncode != 0 and "No threading layer could be loaded" in result.stderr:
        pytest.skip(f"numba's {layer} layer is not available here")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == layer


@parallel_kernel
def _row_sums(A, out):  # compiled twice by parallel_kernel
    for i in prange(A.shape[0]):
        out[i] = A[i].sum()


def test_kernel_builds_agree_and_busy_lock_runs_serial():
    from sklearn_recsys.utils import _parallel

    A = np.random.default_rng(0).random((50, 7))
    a, b = np.empty(50), np.empty(50)
    _row_sums(A, a)  # lock free: the parallel build
    assert _row_sums.parallel.signatures and not _row_sums.serial.signatures
    with _parallel._parallel_lock:  # as if another thread were inside a kernel
        _row_sums(A, b)
    assert _row_sums.serial.signatures
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, A.sum(axis=1))


@parallel_kernel
def _row_maxes(A, out):  # a kernel of its own: the test reads which builds compiled
    for i in prange(A.shape[0]):
        out[i] = A[i].max()


@parallel_kernel(rows=lambda args: args[1].shape[0])
def _picked_sums(A, picked, out):
    for p in prange(picked.shape[0]):
        out[p] = A[picked[p]].sum()


def test_one_row_runs_the_serial_build():
    """A parallel region over one row has nothing to share out, and waking numba's
    threads for it made a single user's recommend 4-14x slower on a loaded machine
    (audit 59c): one-row calls take the serial build, with the same floats."""
    A = np.random.default_rng(0).random((50, 7))
    one, many = np.empty(1), np.empty(50)
    _row_maxes(A[:1], one)
    assert _row_maxes.serial.signatures and not _row_maxes.parallel.signatures
    _row_maxes(A, many)
    assert _row_maxes.parallel.signatures
    assert one[0] == many[0] == A[0].max()
    # the rows are what the call's prange shares out, here the picked rows, not A's
    out = np.empty(1)
    _picked_sums(A, np.array([3]), out)
    assert _picked_sums.serial.signatures and not _picked_sums.parallel.signatures
    _picked_sums(A, np.array([3, 4]), np.empty(2))
    assert _picked_sums.parallel.signatures
    assert out[0] == A[3].sum()


def test_kernels_over_chunks_tiles_or_strata_count_those():
    """A CG sweep of 256 rows is one chunk, one thread's work: counted as rows, a fold-in
    or fit of 2 to 256 rows started the parallel build for a single iteration."""
    from sklearn_recsys.linear._multi_behavior import _cross_weights_inplace
    from sklearn_recsys.matrix_factorization._bpr_kernels import bpr_epoch
    from sklearn_recsys.utils._solvers import als_cg_sweep, prior_cg_sweep

    for n_rows, chunks in [(1, 1), (256, 1), (257, 2), (1000, 4)]:
        indptr = np.zeros(n_rows + 1, dtype=np.int32)
        assert als_cg_sweep.rows((indptr,)) == prior_cg_sweep.rows((indptr,)) == chunks
    assert _cross_weights_inplace.rows((np.empty((64, 3)),)) == 1
    assert _cross_weights_inplace.rows((np.empty((65, 3)),)) == 2
    assert bpr_epoch.rows((None,) * 5 + (3,)) == 3  # its n_blocks strata


def test_the_loss_across_rows_does_not_follow_the_threads():
    """implicit_loss summed the rows' terms in the threads' order: MultiTaskMF's sampler,
    which draws its noise precision from it, fitted other posteriors (about 1e-14 apart in
    float64) with one thread, two, or the serial build. Each row's term is now kept and the
    terms summed in row order."""
    from sklearn_recsys import MultiTaskMF
    from sklearn_recsys.utils import _parallel
    from sklearn_recsys.utils._solvers import implicit_loss

    rng = np.random.default_rng(0)
    X = make_interactions(3000, 200, density=0.05, random_state=0).astype(np.float64)
    U, V = rng.standard_normal((3000, 8)), rng.standard_normal((200, 8))
    args = (X.indptr, X.indices, X.data, U, V, V.T @ V, 2.0, np.empty(0))
    parallel = implicit_loss(*args)
    with _parallel._parallel_lock:  # the serial build, as under another thread's kernel
        serial = implicit_loss(*args)
    assert parallel == serial
    R = X[:400, :150].tocsr()
    R.data = rng.integers(1, 6, R.nnz).astype(np.float64)
    params = dict(n_components=6, n_shared_components=2, solver="gibbs", max_iter=20,
                  burn_in=5, thin=3, dtype=np.float64, random_state=0)
    one, two = (MultiTaskMF(n_jobs=n, **params).fit(R) for n in (1, 2))
    for name in ("ranking_precision_", "user_prior_precision_", "item_factors_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))


@pytest.mark.parametrize("backend", ["loky", "threading", "multiprocessing"])
def test_grid_search_backends_give_identical_results(backend):
    X = make_interactions(200, 60, density=0.15, random_state=0)
    grid = {"n_components": [4, 8]}
    cv = KFold(3, shuffle=True, random_state=0)
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(ImplicitALS(max_iter=3, random_state=0), grid, cv=cv, n_jobs=n_jobs)
        with parallel_backend(backend):
            search.fit(X)
        results.append(search.cv_results_["mean_test_score"])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    assert np.all(results[0] > 0)


@pytest.mark.parametrize("Model", [ImplicitALS, BPR, NMF, ExplicitMF])
def test_thread_pool_scoring_in_process(Model):
    from concurrent.futures import ThreadPoolExecutor

    X = make_interactions(300, 80, random_state=2)
    X.data = np.random.default_rng(0).integers(1, 6, X.nnz).astype(float)  # rating models too
    model = Model(random_state=0, max_iter=2).fit(X)
    ref = model.decision_function(X)
    with ThreadPoolExecutor(3) as ex:
        outs = list(ex.map(lambda _: model.decision_function(X), range(6)))
    for out in outs:
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_scoring_from_threads_leaves_the_warning_filters_as_they_were():
    """The batches' "no valid feature names" filter was set with catch_warnings, which saves
    and restores the whole process's filters: threads scoring at once left it installed for
    good, hiding scikit-learn's own warning everywhere (audit 58a: 3 runs of 3)."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import LinearRegression

    from sklearn_recsys import EASE
    from sklearn_recsys.metrics import make_ranking_scorer
    from sklearn_recsys.model_selection import holdout_split
    from sklearn_recsys.pipeline import make_pipeline
    from sklearn_recsys.preprocessing import BM25Weighting

    X = make_interactions(400, 60, density=0.2, random_state=0)
    X_in, X_out = holdout_split(X, random_state=0)
    columns = [f"item{j}" for j in range(60)]
    frame = pd.DataFrame(X_in.toarray(), columns=columns)
    pipe = make_pipeline(BM25Weighting(), EASE(alpha=10.0)).fit(frame)
    scorer = make_ranking_scorer("ndcg", k=5)
    starts = range(0, 350, 50)
    expected = {s: (pipe.recommend(frame.iloc[s:s + 50], k=5)[0],
                    scorer(pipe, frame.iloc[s:s + 50], X_out[s:s + 50])) for s in starts}

    def work(i):
        s = starts[i % len(starts)]
        rows = frame.iloc[s:s + 50]
        return (np.array_equal(pipe.recommend(rows, k=5)[0], expected[s][0])
                and scorer(pipe, rows, X_out[s:s + 50]) == expected[s][1])

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        before = list(warnings.filters)
        with ThreadPoolExecutor(4) as ex:
            assert all(ex.map(work, range(200)))
        assert warnings.filters == before
        assert not [w for w in shown if "feature names" in str(w.message)]  # no batch warned
        # scikit-learn's own warning still shows afterwards
        lr = LinearRegression().fit(frame.iloc[:, :3], np.arange(400.0))
        lr.predict(frame.iloc[:5, :3].to_numpy())
    assert [w for w in shown if "does not have valid feature names" in str(w.message)]


def test_n_jobs_bounds_the_threads_of_scoring_too(monkeypatch):
    """n_jobs bounded fit's sweeps only: transform, decision_function, recommend, the
    rating predictions and fit's final fold-in check ran on numba's default (audit 58a)."""
    import numba

    from sklearn_recsys.matrix_factorization import _als, _explicit
    from sklearn_recsys.utils import _solvers

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has one thread here: nothing to bound")
    seen = []

    def spy(kernel):
        def run(*args):
            seen.append(numba.get_num_threads())
            return kernel(*args)
        return run

    for module in (_als, _explicit, _solvers):
        for name in ("als_cholesky_sweep", "explicit_als_sweep"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, spy(getattr(_solvers, name)))
    X = make_interactions(300, 60, random_state=0)
    R = X.copy()
    R.data = np.random.default_rng(0).integers(1, 6, R.nnz).astype(float)
    als = ImplicitALS(n_components=4, max_iter=2, n_jobs=1, random_state=0).fit(X)
    explicit = ExplicitMF(n_components=4, max_iter=2, n_jobs=1, random_state=0).fit(R)
    assert seen and set(seen) == {1}  # the sweeps and the final fold-in check
    for call in (lambda: als.transform(X), lambda: als.decision_function(X),
                 lambda: als.recommend(X, k=5), lambda: explicit.predict_ratings(R[:20])):
        seen.clear()
        call()
        assert seen and set(seen) == {1}
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS  # restored
    # a call that finds another call's memo (two threads scoring one model) is bounded too
    als._fold_in_memo = {}
    try:
        seen.clear()
        als.transform(X)
        assert seen and set(seen) == {1}
    finally:
        del als._fold_in_memo


def test_a_model_pickled_while_another_thread_scores_carries_no_memo():
    """A call under way keeps a memo of the fold-in's Gram on the model; pickled then, the
    copy kept it for good, pinning this fit's item factors through every refit (audit 58a:
    200 snapshots of 200)."""
    import pickle
    import threading

    X = make_interactions(2000, 300, random_state=0)
    model = ImplicitALS(n_components=8, max_iter=2, random_state=0).fit(X)
    stop = threading.Event()

    def score():
        while not stop.is_set():
            model.recommend(X, k=5)

    worker = threading.Thread(target=score)
    worker.start()
    try:
        copies = [pickle.loads(pickle.dumps(model)) for _ in range(50)]
    finally:
        stop.set()
        worker.join()
    assert not any("_fold_in_memo" in vars(copy) for copy in copies)
    # the call under way keeps its memo: only the copy goes without (Python 3.11's
    # object.__getstate__ returns the instance's own dict)
    memo = model._fold_in_memo = {"for_users": 1}
    assert "_fold_in_memo" not in vars(pickle.loads(pickle.dumps(model)))
    assert model._fold_in_memo is memo
    del model._fold_in_memo
    np.testing.assert_array_equal(copies[0].recommend(X[:10], k=5)[0],
                                  model.recommend(X[:10], k=5)[0])
