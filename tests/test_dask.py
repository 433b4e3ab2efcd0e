"""Model selection on a Dask cluster: joblib's Dask backend gives the default backend's results,
and each worker's numba and TensorFlow threads are capped to its share of the machine."""

import numpy as np
import pytest
import scipy.sparse as sp
from joblib import parallel_backend
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold

from sklearn_recsys import EASE, ImplicitALS, MultVAE, make_interactions
from sklearn_recsys.metrics import get_ranking_scorer
from sklearn_recsys.utils._parallel import _usable_cpus, worker_thread_share

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


def _search(estimator, grid, X, dask=False):
    search = GridSearchCV(estimator, grid, scoring=get_ranking_scorer("ndcg@10"),
                          cv=KFold(3, shuffle=True, random_state=0), n_jobs=2 if dask else None)
    if dask:
        with parallel_backend("dask", scatter=[X]):  # the data is sent once
            search.fit(X)
    else:
        search.fit(X)
    return search


@pytest.mark.parametrize("estimator, grid", [
    (EASE(), {"alpha": [10.0, 100.0]}),
    (ImplicitALS(n_components=8, max_iter=3, random_state=0), {"alpha": [0.1, 1.0]}),
    (MultVAE(hidden_layer_sizes=(16,), n_components=8, max_iter=3, batch_size=50,
             early_stopping=False, random_state=0), {"dropout": [0.2, 0.5]}),
], ids=["EASE", "ImplicitALS", "MultVAE"])
def test_grid_search_on_a_cluster_equals_the_default_backend(client, estimator, grid):
    X = make_interactions(300, 80, density=0.08, random_state=0)
    local, remote = _search(estimator, grid, X), _search(estimator, grid, X, dask=True)
    np.testing.assert_array_equal(remote.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_


def _on_each_worker(client, fn):
    """``fn()`` run as a task on every worker (where ``get_worker`` works)."""
    return [client.submit(fn, workers=[address], pure=False).result()
            for address in client.scheduler_info(n_workers=-1)["workers"]]


def _threads_in_a_fit(n_jobs):
    import numba

    from sklearn_recsys.utils._parallel import numba_threads

    with numba_threads(n_jobs):
        return worker_thread_share(), numba.get_num_threads()


def test_worker_threads_are_capped_to_their_share(client):
    import numba

    assert worker_thread_share() is None  # not in a worker
    share = max(1, _usable_cpus() // 2)  # two workers of one thread each on this machine
    limit = numba.config.NUMBA_NUM_THREADS
    assert _on_each_worker(client, lambda: _threads_in_a_fit(None)) == [
        (share, min(share, limit))] * 2
    # an explicit n_jobs still wins
    assert [n for _, n in _on_each_worker(client, lambda: _threads_in_a_fit(-1))] == [limit] * 2


def test_benchmark_results_back_the_docs():
    """docs/scaling.rst: same cv_results_ three ways; uncapped threads are the slowest."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "dask_search.json"
    rows = json.loads(path.read_text())["tables"][0]["rows"]  # backend, s, ratio, same
    assert [row[3] for row in rows] == ["yes"] * 3
    uncapped = next(row for row in rows if "n_jobs=-1" in row[0])
    assert uncapped[1] == max(row[1] for row in rows) and uncapped[2] > 1.1


def test_serving_results_back_the_docs():
    """docs/benchmarks.rst, "Top-10 lists for two million users": bounded memory per process,
    the same lists, ALS faster on the cluster and SparseEASE slightly slower."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "dask_serving.json"
    table = json.loads(path.read_text())["tables"][0]
    assert "2,000,000 users of 50,000 items" in table["title"]
    rows = {(row[0].split("(")[0], "cluster" if "Cluster" in row[1] else "one"): row
            for row in table["rows"]}  # model, where, users/s, s, peak MB, client MB, same
    assert set(rows) == {(m, w) for m in ("ImplicitALS", "SparseEASE") for w in ("one", "cluster")}
    # the same lists, but near-ties of ALS that BLAS rounds differently in another block size
    assert rows["SparseEASE", "cluster"][6] == 1.0 and rows["ImplicitALS", "cluster"][6] > 0.9999
    for row in rows.values():
        assert 1200 < row[4] < 1400  # "no process grew by more than about 1.3 GB"
    speed_up = {m: rows[m, "cluster"][2] / rows[m, "one"][2] for m in ("ImplicitALS", "SparseEASE")}
    assert 1.2 < speed_up["ImplicitALS"] < 1.5  # "about a third faster"
    assert 0.85 < speed_up["SparseEASE"] < 1.0  # "slightly slower"


def test_batch_recommend_equals_recommend_block_by_block(client):
    import dask.array as da

    from sklearn_recsys.dask import batch_recommend

    X = make_interactions(300, 80, density=0.08, random_state=1)
    model = ImplicitALS(n_components=8, max_iter=3, random_state=0).fit(X)
    expected_items, expected_scores = model.recommend(X, k=7)
    items, scores = batch_recommend(model, X, k=7, client=client, rows_per_task=37)
    np.testing.assert_array_equal(items, expected_items)
    # BLAS may sum a block of 37 users in another order than one of 300 (OpenBLAS picks
    # its kernels by shape and CPU): the same scores up to float32 rounding
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    # a dask array chunked by rows: the blocks are computed on the workers
    chunked = da.from_array(X, chunks=(64, 80), asarray=False)
    items, _ = batch_recommend(model, chunked, k=7, client=client)
    np.testing.assert_array_equal(items, expected_items)
    # a fitted search serves its best model (it had no recommend)
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(ImplicitALS(n_components=8, max_iter=3, random_state=0),
                          {"alpha": [1.0]}, cv=2).fit(X)
    items, _ = batch_recommend(search, X, k=7, client=client, rows_per_task=100)
    np.testing.assert_array_equal(items, search.best_estimator_.recommend(X, k=7)[0])
    # raw ids; padding (a user with fewer than k candidates) as None
    ids = np.array([f"item{j}" for j in range(80)])
    X_full = X.tolil()
    X_full[0, :] = 1
    X_full = X_full.tocsr()
    raw, _ = batch_recommend(model, X_full[:5], k=3, item_ids=ids, client=client)
    assert list(raw[0]) == [None] * 3
    np.testing.assert_array_equal(raw[1:].astype(str), ids[model.recommend(X_full[1:5], k=3)[0]])
    with pytest.raises(ValueError, match="rechunk"):
        batch_recommend(model, da.from_array(X, chunks=(64, 40), asarray=False), client=client)
    with pytest.raises(ValueError, match="one raw id per item"):
        batch_recommend(model, X[:5], k=3, item_ids=ids[:10], client=client)
    # more ids than items: another catalogue's ids would label the lists wrongly
    with pytest.raises(ValueError, match=r"one raw id per item the model scores \(80\), got 81"):
        batch_recommend(model, X[:5], k=3, item_ids=np.append(ids, "extra"), client=client)
    items, scores = batch_recommend(model, X[:0], k=300, item_ids=ids, client=client)
    assert items.shape == scores.shape == (0, 80)  # one column per item, as recommend
    with pytest.raises(NotFittedError):
        batch_recommend(ImplicitALS(), X[:0], k=3, client=client)

    class Unreachable:  # a refusal must come before the model is sent anywhere
        def __getattr__(self, name):
            raise AssertionError(f"client.{name} was called")

    alpha = model.alpha
    model.set_params(alpha=alpha + 1.0)
    for rows in (X, X[:0]):  # each task failed on the workers after the model was sent
        with pytest.raises(ValueError, match="changed since fit"):
            batch_recommend(model, rows, k=3, client=Unreachable())
    model.set_params(alpha=alpha)
    # exclude and candidates as recommend takes them (audit59b: batch_recommend had
    # neither), exclude cut with the blocks, both checked before anything is sent
    banned = sp.random(300, 80, density=0.1, format="csr", random_state=2)
    wanted = np.arange(0, 80, 3)
    expected = model.recommend(X, k=7, exclude=banned, candidates=wanted)[0]
    for rows in (X, da.from_array(X, chunks=(64, 80), asarray=False)):
        items, _ = batch_recommend(model, rows, k=7, exclude=banned, candidates=wanted,
                                   client=client, rows_per_task=37)
        np.testing.assert_array_equal(items, expected)
    with pytest.raises(ValueError, match="exclude has shape"):
        batch_recommend(model, X, k=3, exclude=banned[:10], client=Unreachable())
    with pytest.raises(ValueError, match="candidates"):
        batch_recommend(model, X, k=3, candidates=[80], client=Unreachable())
    # a scikit-learn Pipeline (no recommend of its own): the lists of pipeline.recommend
    from sklearn.pipeline import make_pipeline

    from sklearn_recsys.pipeline import recommend
    from sklearn_recsys.preprocessing import RatingBinarizer

    R = X.copy()
    R.data = np.random.default_rng(0).integers(1, 6, R.nnz).astype(float)
    pipe = make_pipeline(RatingBinarizer(threshold=4), ImplicitALS(n_components=4, max_iter=2,
                                                                   random_state=0)).fit(R)
    items, _ = batch_recommend(pipe, R, k=5, client=client, rows_per_task=100)
    np.testing.assert_array_equal(items, recommend(pipe, R, 5)[0])
    # a step replaced after fit by an unfitted one failed on every worker, after scattering
    from sklearn.base import clone

    fitted_step = pipe.steps[0][1]
    pipe.set_params(ratingbinarizer=clone(fitted_step))
    with pytest.raises(NotFittedError, match="RatingBinarizer"):
        batch_recommend(pipe, R, k=5, client=Unreachable())
    pipe.set_params(ratingbinarizer=fitted_step)
    # a COO log of uint8 plays with a repeated pair: summed as floats, as recommend does
    # (256 plays of item 0 summed in uint8 are 0: the user's only item was lost)
    plays = sp.coo_matrix((np.ones(256, np.uint8), (np.zeros(256, int), np.zeros(256, int))),
                          shape=(1, 80))
    np.testing.assert_array_equal(batch_recommend(model, plays, k=5, client=client)[0],
                                  model.recommend(plays, k=5)[0])
    assert 0 not in batch_recommend(model, plays, k=5, client=client)[0]


def _log_encoder_ease(pd, n_users, n_items, density, seed):
    """A log of string ids drawn by make_interactions, its fitted encoder, and an EASE
    fitted on the encoded log."""
    from sklearn_recsys import InteractionEncoder

    X = make_interactions(n_users, n_items, density=density, random_state=seed).tocoo()
    log = pd.DataFrame({"user_id": np.array([f"u{r}" for r in X.row]),
                        "item_id": np.array([f"i{c}" for c in X.col])})
    encoder = InteractionEncoder().fit(log)
    return log, encoder, EASE(alpha=5.0).fit(encoder.transform(log))


def test_batch_recommend_logs_equals_the_encoder_on_the_whole_log(client, tmp_path):
    """Users spread over several partitions are regrouped before scoring: each user's list
    is the one from their whole history, as encoder.recommend gives it in one process."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")

    from sklearn_recsys import InteractionEncoder
    from sklearn_recsys.dask import batch_recommend_logs

    log, encoder, model = _log_encoder_ease(pd, 120, 50, 0.1, 3)
    # rows shuffled, so that every partition holds parts of many users' histories
    shuffled = log.sample(frac=1.0, random_state=0).reset_index(drop=True)
    logs = dd.from_pandas(shuffled, npartitions=4, sort=False)
    assert logs.map_partitions(lambda p: p["user_id"].nunique()).compute().sum() > 120
    lazy = batch_recommend_logs(model, encoder, logs, k=5, client=client)
    result = lazy.compute()
    assert result.dtypes.to_dict() == lazy.dtypes.to_dict()  # the meta tells the truth
    expected = encoder.recommend(model, log, k=5)
    key = ["user_id", "rank"]
    result = result.sort_values(key).reset_index(drop=True)
    expected = expected.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(result[key + ["item_id"]], expected[key + ["item_id"]],
                                  check_dtype=False)
    np.testing.assert_allclose(result["score"], expected["score"], rtol=1e-6)
    assert len(result) == len(expected) > 100 * 5
    assert set(result["user_id"]) == set(log["user_id"])
    # the documented way to keep the lists: string ids had a metadata of placeholder
    # objects, which pyarrow refused (ArrowInvalid; found by an audit helper)
    pytest.importorskip("pyarrow")
    lazy.to_parquet(tmp_path / "lists")
    written = pd.read_parquet(tmp_path / "lists").sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(written[key + ["item_id"]], expected[key + ["item_id"]],
                                  check_dtype=False)
    with pytest.raises(TypeError, match="dask DataFrame"):
        batch_recommend_logs(model, encoder, log, client=client)
    with pytest.raises(ValueError, match="user_col"):
        batch_recommend_logs(model, encoder, logs.rename(columns={"user_id": "who"}),
                             client=client)
    # a value column the encoder reads: refused here, not a KeyError on a worker (found by
    # an audit helper)
    valued = InteractionEncoder(value_col="rating").fit(log.assign(rating=1.0))
    with pytest.raises(ValueError, match=r"logs has no column \['rating'\]: the encoder reads "
                                         "user_col='user_id' and item_col='item_id' and "
                                         "value_col='rating'"):
        batch_recommend_logs(model, valued, logs, client=None)
    with pytest.raises(ValueError, match="changed since fit"):  # before the scatter
        batch_recommend_logs(model.set_params(alpha=1.0), encoder, logs, client=None)
    model.set_params(alpha=5.0)
    encoder.set_params(behavior_col="behavior")  # the fitted encoder has no blocks
    with pytest.raises(ValueError, match="behavior_col is 'behavior'.*fit again"):
        batch_recommend_logs(model, encoder, logs, client=None)


def _second_half_filtered(da, X):
    """Rows 100..199 of the 200-row ``X`` by a boolean filter over 50-row chunks: chunks of
    unknown size, the first two empty."""
    keep = np.zeros(200, bool)
    keep[100:] = True
    return da.from_array(X, chunks=(50, 60), asarray=False)[da.from_array(keep, chunks=50)]


def test_batch_recommend_merges_a_dask_chunks_repeats_and_skips_empty_chunks(client):
    """A Dask array's chunks went to scipy's conversion before validation: a COO chunk of
    uint8 plays stored 256 times summed to 0 (the user's only item lost), an order-key
    model's repeated pair summed its times; a chunk of 0 rows (a boolean filter) crashed
    with 'Found array with 0 sample(s)'."""
    import dask
    import dask.array as da

    from sklearn_recsys import SASRec
    from sklearn_recsys.dask import batch_recommend

    X = make_interactions(200, 60, density=0.08, random_state=1)
    model = EASE(alpha=5.0).fit(X)
    plays = sp.vstack([
        sp.coo_matrix((np.ones(256, np.uint8), (np.zeros(256, int), np.zeros(256, int))),
                      shape=(1, 60)),
        sp.coo_matrix(X[1:4].astype(np.uint8))]).tocoo()
    D = da.from_delayed(dask.delayed(lambda: plays)(), shape=plays.shape, dtype=plays.dtype,
                        meta=sp.coo_matrix((0, 60), dtype=np.uint8))
    items, _ = batch_recommend(model, D, k=5, client=client)
    np.testing.assert_array_equal(items, model.recommend(plays, k=5)[0])
    assert 0 not in items[0]
    # order keys: item 1 at times 10 and 25 is later than item 2 (20), earlier than 3 (30)
    T = make_interactions(60, 20, density=0.3, random_state=0).tocsr()
    T.data = np.random.default_rng(0).permutation(T.nnz) + 1.0
    seq = SASRec(n_components=8, n_blocks=1, max_len=10, max_iter=2, early_stopping=False,
                 random_state=0).fit(T)
    coo = sp.coo_matrix(([10.0, 20.0, 30.0, 25.0], ([0, 0, 0, 0], [1, 2, 3, 1])), shape=(1, 20))
    D = da.from_delayed(dask.delayed(lambda: coo)(), shape=coo.shape, dtype=coo.dtype,
                        meta=sp.coo_matrix((0, 20)))
    latest = sp.csr_matrix(([25.0, 20.0, 30.0], ([0, 0, 0], [1, 2, 3])), shape=(1, 20))
    summed = latest.copy()
    summed.data[0] = 35.0
    _, scores = batch_recommend(seq, D, k=5, client=client)
    np.testing.assert_allclose(scores, seq.recommend(latest, k=5)[1], rtol=1e-6)
    assert not np.allclose(scores, seq.recommend(summed, k=5)[1], rtol=1e-6)
    # a boolean filter leaves chunks of unknown size, the first two empty
    filtered = _second_half_filtered(da, X)
    items, scores = batch_recommend(model, filtered, k=5, client=client)
    np.testing.assert_array_equal(items, model.recommend(X[100:], k=5)[0])
    # per-user arguments cannot be cut to chunks of unknown size: refused with the fix,
    # and served once the sizes are known
    ban = sp.csr_matrix(X[100:].shape)
    ban[:, 0] = 1
    with pytest.raises(ValueError, match=r"unknown number of rows.*so exclude cannot be "
                                         r"aligned.*compute_chunk_sizes\(\)"):
        batch_recommend(model, filtered, k=5, exclude=ban, client=client)
    items, _ = batch_recommend(model, filtered.compute_chunk_sizes(), k=5, exclude=ban,
                               client=client)
    np.testing.assert_array_equal(items, model.recommend(X[100:], k=5, exclude=ban)[0])
    assert 0 not in items
    with pytest.raises(ValueError, match="2-D matrix"):
        batch_recommend(model, da.ones(60, chunks=60), k=2, client=client)
    with pytest.raises(ValueError, match="rows_per_task must be a positive int"):
        batch_recommend(model, X[:3], k=2, rows_per_task=True, client=client)


def test_user_features_reach_every_block_and_partition(client):
    """HybridMF fitted with user features was served without them by both functions (173
    of 400 users' lists differed from recommend(X, user_features=G), without a word)."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    da = pytest.importorskip("dask.array")

    from sklearn_recsys import HybridMF, InteractionEncoder
    from sklearn_recsys.dask import batch_recommend, batch_recommend_logs

    X = make_interactions(90, 40, density=0.1, random_state=2)
    G = np.random.default_rng(0).normal(size=(90, 3))
    model = HybridMF(n_components=4, max_iter=5, random_state=0).fit(X, user_features=G)
    expected = model.recommend(X, k=5, user_features=G)
    assert not np.array_equal(model.recommend(X, k=5)[0], expected[0])  # features matter
    for rows_per_task in (7, 1000):
        items, scores = batch_recommend(model, X, k=5, client=client,
                                        rows_per_task=rows_per_task, user_features=G)
        np.testing.assert_array_equal(items, expected[0])
        np.testing.assert_allclose(scores, expected[1], rtol=1e-5)
    chunked = da.from_array(X.toarray(), chunks=(25, 40))  # chunks of 25, 25, 25, 15 rows
    items, _ = batch_recommend(model, chunked, k=5, client=client, user_features=G)
    np.testing.assert_array_equal(items, expected[0])
    with pytest.raises(ValueError, match="user_features has 89 rows but X has 90"):
        batch_recommend(model, X, client=client, user_features=G[:-1])
    with pytest.raises(ValueError, match=r"so exclude and user_features cannot be aligned"):
        batch_recommend(model, chunked[chunked.sum(axis=1) > 0], client=client,
                        user_features=G, exclude=sp.csr_matrix(X.shape))
    with pytest.raises(TypeError, match="EASE reads no user_features"):
        batch_recommend(EASE(alpha=5.0).fit(X), X, client=client, user_features=G)
    coo = X.tocoo()
    log = pd.DataFrame({"user_id": np.array([f"u{r}" for r in coo.row]),
                        "item_id": np.array([f"i{c}" for c in coo.col])})
    encoder = InteractionEncoder().fit(log)
    M = encoder.transform(log)
    table = pd.DataFrame(G[[int(u[1:]) for u in encoder.user_ids_]], index=encoder.user_ids_)
    fitted = HybridMF(n_components=4, max_iter=5, random_state=0).fit(
        M, user_features=table.to_numpy())
    logs = dd.from_pandas(log.sample(frac=1.0, random_state=0), npartitions=3, sort=False)
    result = batch_recommend_logs(fitted, encoder, logs, k=5, client=client,
                                  user_features=table).compute()
    whole = encoder.recommend(fitted, log, k=5, user_features=table)
    key = ["user_id", "rank"]
    pd.testing.assert_frame_equal(
        result.sort_values(key).reset_index(drop=True)[key + ["item_id"]],
        whole.sort_values(key).reset_index(drop=True)[key + ["item_id"]], check_dtype=False)
    plain = encoder.recommend(fitted, log, k=5)
    assert not plain["item_id"].equals(whole["item_id"])


def test_an_in_process_cluster_leaves_the_callers_tensorflow_threads_alone():
    """Workers that are threads of the caller's interpreter (processes=False): the first
    neural task set TensorFlow's process-wide thread pools to the task's share, which
    capped the caller's own TensorFlow after the cluster closed (audit 58a); the numba
    share stayed cached for the process, for a later cluster of another shape too. In a
    fresh process: TensorFlow's runtime starts once."""
    import subprocess
    import sys
    import textwrap

    pytest.importorskip("tensorflow")
    code = textwrap.dedent("""
        import distributed
        from sklearn_recsys.neural._tf import import_tensorflow
        from sklearn_recsys.utils._parallel import worker_thread_share

        def task():
            import_tensorflow()
            return worker_thread_share()

        shares = []
        for threads in (1, 2):
            with distributed.LocalCluster(n_workers=1, threads_per_worker=threads,
                                          processes=False, dashboard_address=None) as cluster, \\
                    distributed.Client(cluster) as client:
                shares.append(client.submit(task, pure=False).result())
        import tensorflow as tf
        print(shares, tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    share_one, share_two = (max(1, _usable_cpus() // n) for n in (1, 2))
    assert result.stdout.split("\n")[-2] == f"[{share_one}, {share_two}] 0 0"


def test_batch_recommend_options_that_no_test_passed(client):
    """exclude_seen=False, k above the catalogue with empty chunks, rows_per_task=0 and an
    empty X with raw ids (audit 63: each could be dropped without a failing test)."""
    import dask.array as da

    from sklearn_recsys.dask import batch_recommend

    X = make_interactions(200, 60, density=0.08, random_state=1)
    model = EASE(alpha=5.0).fit(X)
    expected = model.recommend(X, k=7, exclude_seen=False)
    assert any(np.isin(expected[0][u], X[u].indices).any() for u in range(200))
    items, scores = batch_recommend(model, X, k=7, exclude_seen=False, client=client,
                                    rows_per_task=64)
    np.testing.assert_array_equal(items, expected[0])
    np.testing.assert_allclose(scores, expected[1], rtol=1e-6)
    # the first two chunks of a filtered array are empty; with k above the 60 items, each
    # chunk's lists are 60 wide, as recommend's (an empty one k wide failed to stack)
    filtered = _second_half_filtered(da, X)
    items, _ = batch_recommend(model, filtered, k=100, client=client)
    np.testing.assert_array_equal(items, model.recommend(X[100:], k=100)[0])
    with pytest.raises(ValueError, match="rows_per_task must be a positive int, got 0"):
        batch_recommend(model, X, rows_per_task=0, client=client)
    # no users: the raw-id result is still an object array, as with users
    ids = np.array([f"item{j}" for j in range(60)], dtype=object)
    items, _ = batch_recommend(model, X[:0], k=3, item_ids=ids, client=client)
    assert items.shape == (0, 3) and items.dtype == object
    assert batch_recommend(model, X[:4], k=3, item_ids=ids, client=client)[0].dtype == object


def test_batch_recommend_logs_options_that_no_test_passed(client):
    """exclude_seen=False, partitions left empty by the shuffle, a fitted search and the rank
    column's dtype (audit 63)."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    from sklearn_recsys.dask import batch_recommend_logs

    log, encoder, model = _log_encoder_ease(pd, 3, 20, 0.3, 4)
    # 3 users in 6 partitions: the shuffle leaves some empty, which give empty tables
    logs = dd.from_pandas(log.sample(frac=1.0, random_state=0), npartitions=6, sort=False)
    assert logs.npartitions == 6
    key = ["user_id", "rank"]
    for exclude_seen in (True, False):
        lazy = batch_recommend_logs(model, encoder, logs, k=5, exclude_seen=exclude_seen,
                                    client=client)
        result = lazy.compute().sort_values(key).reset_index(drop=True)
        expected = encoder.recommend(model, log, k=5, exclude_seen=exclude_seen)
        expected = expected.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(result[key + ["item_id"]], expected[key + ["item_id"]],
                                      check_dtype=False)
        assert result["rank"].dtype == np.int64 and lazy.dtypes["rank"] == np.int64
    seen = set(zip(log["user_id"], log["item_id"]))
    assert any(pair in seen for pair in zip(result["user_id"], result["item_id"]))
    # a model that reads no user_features is refused before anything is sent

    class Unreachable:
        def __getattr__(self, name):
            raise AssertionError(f"client.{name} was called")

    table = pd.DataFrame({"f": [1.0, 2.0, 3.0]}, index=encoder.user_ids_)
    with pytest.raises(TypeError, match="EASE reads no user_features"):
        batch_recommend_logs(model, encoder, logs, client=Unreachable(), user_features=table)
    # a fitted search serves its best model
    search = GridSearchCV(EASE(), {"alpha": [5.0]}, cv=KFold(2)).fit(encoder.transform(log))
    served = batch_recommend_logs(search, encoder, logs, k=5, client=client).compute()
    pd.testing.assert_frame_equal(
        served.sort_values(key).reset_index(drop=True)[key + ["item_id"]],
        encoder.recommend(model, log, k=5).sort_values(key).reset_index(drop=True)[
            key + ["item_id"]], check_dtype=False)
