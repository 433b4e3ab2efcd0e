"""Next-item prediction on MovieLens: SASRec and GRU4Rec against set-based models and RecBole.

Usage::

    pip install -e ".[benchmark]"
    python benchmarks/bench_sequential.py --data-home ../shared/data
    # RecBole's SASRec (PyTorch) runs in its own interpreter, given by --recbole-python
    # (recbole 1.2.1 imports with numpy<2, pandas<2.3, scipy<1.14, setuptools<70):
    python benchmarks/bench_sequential.py --parts speed --recbole-python VENV/bin/python

Protocol (Kang & McAuley 2018; Krichene & Rendle 2020 for all-item ranking): the
matrix of MovieLens timestamps (``fetch_movielens(...).timestamps``, its items in a fixed
random order so that ratings in the same second tie-break at random, see ``timestamps``)
is split by ``leave_last_out_split(T, T)``: each user's most recent rating is the test item
and the earlier ones, with their times, are the input. Every model ranks **all** items the
user has not rated in the input (no sampled negatives); HR@10 and NDCG@10 with the
library's scorers, over all users.

Part ``quality``: ``MostPopular``; ``EASE`` on the 0/1 input with its penalty chosen on
a validation split of the same kind (each user's last training rating, predicted from the
earlier ones); ``MultVAE`` with its defaults on the 0/1 input; ``SASRec`` and ``GRU4Rec``
(both losses) with their defaults on the timestamps (they stop on every user's last
training item), and GRU4Rec with untied output weights (``tied_embeddings=False``, the
default before the tie) beside them. The set-based models see which items a user rated,
the sequential ones also their order. Fit time, epochs and seconds per epoch are measured
in this process, one model at a time.

Part ``tied``: GRU4Rec (defaults) with ``tied_embeddings`` True (the default, the reference
code's) and False on both datasets: which setting each fit's own validation NDCG@10 (every
user's last input item) would choose, beside its test figures; ``sequential_tied.json``.

Part ``speed``: seconds per training epoch (validation excluded), median of
``--epochs`` epochs, of our SASRec (defaults, 200 most recent items; and with RecBole's
50) and of RecBole 1.2.1's SASRec (its defaults: 2 layers, 2 heads, 64 hidden units, 50
items, batch 2048, full-softmax cross-entropy) on MovieLens 100K, one after the other in
fresh processes. RecBole reads the same sequences (its timestamps are our order, so its
leave-one-out split is ours).

Part ``recbole``: both SASRecs tuned over the learning rate (``GRID``) on the same
validation item, then scored once on the test item; ``sequential_recbole.json``. RecBole
takes minutes per epoch on two cores, so each of its runs is made on its own first and
kept in ``results/runs/sequential_recbole.json`` (with its date and commit)::

    python benchmarks/bench_sequential.py --parts recbole-run --recbole-python VENV/bin/python \\
        --datasets movielens_100k --learning-rate 0.001 --recbole-state ~/recbole_state

With ``--recbole-state``, a run stopped midway resumes from its last finished epoch when
the same command is given again.

Part ``official``: the official PyTorch GRU4Rec (Hidasi's GRU4Rec_PyTorch_Official, not
on PyPI and not in this repository: give its checkout, the folder holding
``gru4rec_pytorch.py``) on MovieLens 100K's split above, run unmodified in the PyTorch
interpreter given by ``--torch-python`` through ``benchmarks/gru4rec_official.py``; the
part is skipped, with a note, when either is missing::

    python benchmarks/bench_sequential.py --parts official --datasets movielens_100k \\
        --gru4rec-official GRU4Rec_PyTorch_Official --torch-python TORCH_VENV/bin/python

The split is written in the official input format (user = session, items in our sequence
order, ties in time broken as ours). The two configurations (``OFFICIAL_CONFIGS``) come
from a validation grid of 14 runs made once, before this part (8 with the cross-entropy,
6 with BPR-max: the official paramfiles for Rees46, Yoochoose, RetailRocket and
Diginetica, and variants of width, batch size, learning rate and ``n_sample``); for each
loss the run of best NDCG@10 on every user's last input item (the item our GRU4Rec stops
early on) was kept: ``xe_256_lr005`` (cross-entropy: 256 units, batch 128, dropout 0.2 /
0.2, learning rate 0.05, 512 samples, logQ correction) and ``bpr_retail_e10`` (BPR-max:
the RetailRocket paramfile as it is, 10 epochs). The grid is not rerun here, but the
epochs are chosen here as the grid chose them: the official code is fitted without the
validation item for the grid's epochs (6 and 10), scored on the validation item after
each, and the best epoch is kept (5 and 6 in the grid). It is then refitted on the whole
input for that many epochs; both that fit and the validation run's kept epoch (our
GRU4Rec's protocol) score the test item from the whole input. Every score is made by the
official model, the metrics by this library's scorers, as for the quality table:
``sequential_official.json``. Our GRU4Rec's rows on the same split are the quality table's.

Part ``official-sasrec``: pmixer's SASRec.pytorch (the PyTorch port that Kang & McAuley's
TensorFlow repository points to; not on PyPI and not in this repository: give its
``python`` folder) on both datasets' split above, its ``main.py`` run unmodified in the
PyTorch interpreter given by ``--torch-python`` through ``benchmarks/sasrec_official.py``,
which replaces only its sampled-negative evaluation by scores of every item; skipped, with
a note, when either is missing::

    python benchmarks/bench_sequential.py --parts official-sasrec \\
        --sasrec-official SASRec.pytorch/python --torch-python TORCH_VENV/bin/python

Each dataset runs the ML-1M command of SASRec.pytorch's README (200 items, dropout 0.2, its
defaults otherwise) twice side by side, post-norm (the code's default) and pre-norm
(``--norm_first``), for ``--sasrec-epochs`` epochs; every 20 epochs (its evaluation's
schedule) every user is scored for the validation item (every user's last input item) and
for the test item. The table keeps the evaluation of best validation NDCG@10 (the
protocol of our SASRec, trained without the validation item) and shows the run's last:
``sequential_official_sasrec.json``. Our SASRec's rows on the same split are the quality
table's.

Results: ``benchmarks/results/sequential.json``, ``sequential_speed.json`` and the
other parts' files named above;
``python benchmarks/make_tables.py`` turns them into the docs' tables.
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import PeakRSS, show, table, write_results  # noqa: E402

DATASETS = {"movielens_100k": "100k", "movielens_latest_small": "latest-small"}


def timestamps(data_home, variant):
    """MovieLens's timestamps, with the items (columns) in a fixed random order (seed 0).

    Users rate in bursts, many ratings in one second: the split and the sequences break
    ties in time by column index, and MovieLens's item ids follow the catalogue's age and
    popularity, so ties broken by id held out the rarer movie of a burst and listed a
    burst's items in increasing id (an order only the sequential models read: 44% of
    MovieLens 100K's users hold out a tied item). In a random order of the columns those
    tie-breaks are random; the models are blind to the columns' order otherwise.
    """
    from sklearn_recsys import fetch_movielens

    T = fetch_movielens(variant, data_home=data_home).timestamps.tocsc()
    T = T[:, np.random.default_rng(0).permutation(T.shape[1])].tocsr()
    T.sort_indices()
    return T


def metrics(model, X, y, **row_data):
    from sklearn_recsys.metrics import make_ranking_scorer

    return [make_ranking_scorer("hit_rate", k=10)(model, X, y, **row_data),
            make_ranking_scorer("ndcg", k=10)(model, X, y, **row_data)]


def binary(X):
    return (X > 0).astype(np.float64)


def run(name, variant, data_home):
    from sklearn_recsys import EASE, GRU4Rec, MostPopular, MultVAE, SASRec
    from sklearn_recsys.model_selection import leave_last_out_split

    T = timestamps(data_home, variant)
    X, y = leave_last_out_split(T, T)
    X_val, y_val = leave_last_out_split(X, X)
    print(f"{name}: {X.shape[0]} users, {X.shape[1]} items, {X.nnz} input ratings",
          flush=True)
    alphas = (50.0, 200.0, 500.0)
    val = {a: metrics(EASE(alpha=a).fit(binary(X_val)), binary(X_val), y_val)[1]
           for a in alphas}
    alpha = max(alphas, key=lambda a: (val[a], -a))
    print(f"  EASE validation NDCG@10 {val}", flush=True)
    rows = []
    for label, make, data, params in [
            ("MostPopular", MostPopular, binary(X), "-"),
            ("EASE", lambda: EASE(alpha=alpha), binary(X), {"alpha": alpha}),
            ("MultVAE, defaults", lambda: MultVAE(random_state=0), binary(X), "defaults"),
            ("SASRec, defaults", lambda: SASRec(random_state=0), X, "defaults"),
            ("GRU4Rec, defaults", lambda: GRU4Rec(random_state=0), X, "defaults"),
            ("GRU4Rec, BPR-max", lambda: GRU4Rec(loss="bpr-max", random_state=0), X,
             {"loss": "bpr-max"}),
            ("GRU4Rec, untied", lambda: GRU4Rec(tied_embeddings=False, random_state=0), X,
             {"tied_embeddings": False})]:
        start = time.perf_counter()
        with PeakRSS() as mem:
            model = make().fit(data)
        seconds = time.perf_counter() - start
        epochs = getattr(model, "n_iter_", None)
        rows.append([label, *metrics(model, data, y), seconds, mem.growth_mb,
                     epochs, getattr(model, "best_iteration_", None),
                     seconds / epochs if epochs else None, params])
        print(rows[-1], flush=True)
    return table(
        f"sequential-{name}", f"{name}: next item, leave-last-out, all items ranked",
        ["model", "HR@10", "NDCG@10", "fit seconds", "fit memory MB", "epochs",
         "best epoch", "seconds per epoch", "chosen parameters"], rows,
        formats=["text", "metric", "metric", "seconds", "mb", "count", "count", "seconds",
                 "params"],
        notes=[f"{X.shape[0]} users, {X.shape[1]} items; each user's most recent rating is "
               "the test item. Epochs include the early-stopping patience; the weights of "
               "the best epoch are kept."])


def tied_choice(name, variant, data_home):
    """GRU4Rec with tied and untied output weights on one dataset: each fit's best
    validation NDCG@10 (its own early-stopping item, every user's last input item) and its
    test figures; the setting a user would keep is the one of better validation."""
    from sklearn_recsys import GRU4Rec
    from sklearn_recsys.model_selection import leave_last_out_split

    T = timestamps(data_home, variant)
    X, y = leave_last_out_split(T, T)
    rows = []
    for tied in (True, False):
        model = GRU4Rec(tied_embeddings=tied, random_state=0).fit(X)
        rows.append([tied, max(model.validation_scores_), *metrics(model, X, y),
                     model.best_iteration_])
        print(rows[-1], flush=True)
    best = max(rows, key=lambda row: row[1])
    for row in rows:
        row.append("kept" if row is best else "")
    return table(
        f"sequential-tied-{name}", f"{name}: GRU4Rec's tied_embeddings chosen on validation",
        ["tied_embeddings", "validation NDCG@10", "HR@10", "NDCG@10", "best epoch",
         "on validation"], rows,
        formats=["text", "metric", "metric", "metric", "count", "text"],
        notes=[f"{X.shape[0]} users, {X.shape[1]} items; the protocol of the quality table "
               "(GRU4Rec's defaults, random_state 0, but tied_embeddings). Validation "
               "NDCG@10: the best epoch's, on every user's last input item (early stopping's "
               "split). Kept: the setting of better validation NDCG@10."])


def ordered_log(data_home, variant):
    """``(users, items, positions)`` of all ratings, positions 1, 2, ... in our order of each row.

    RecBole's leave-one-out (``LS: valid_and_test``, time order) on this log tests each
    user's last item, our test item, and validates on the one before, our validation item.
    """
    users, items, positions = _ordered(timestamps(data_home, variant))
    return users, items, positions + 1


def _ordered(T):
    """``(users, items, positions)`` of the entries of ``T``, positions 0, 1, ... in our
    order of each row (``row_sequences``': by time, ties by column)."""
    from sklearn_recsys.utils._sequences import row_sequences

    counts = np.diff(T.indptr)
    seqs = row_sequences(T, int(counts.max()))
    users, cols = np.nonzero(seqs)
    positions = cols - (seqs.shape[1] - counts[users])
    return users, seqs[users, cols] - 1, positions


def _ours_epochs(data_home, variant, epochs, max_len):
    from sklearn_recsys import SASRec
    from sklearn_recsys.model_selection import leave_last_out_split

    T = timestamps(data_home, variant)
    X, _ = leave_last_out_split(T, T)
    model = SASRec(max_len=max_len, random_state=0, max_iter=epochs)
    times, iterate = [], model._iterate

    def timed(ctx):
        start = time.perf_counter()
        loss = iterate(ctx)
        times.append(time.perf_counter() - start)
        return loss

    model._iterate = timed
    model.fit(X)
    return times


def _recbole_worker(log_path, epochs, learning_rate=None, state=None):
    """RecBole's SASRec with its defaults on a log (runs in RecBole's interpreter only).

    With ``state`` (a directory), the run can be stopped and resumed: before each epoch the
    previous epoch's full training state (weights, optimiser, early-stopping counter, best
    score) and the epoch times and validation scores so far are saved there, and a new run
    with the same ``state`` continues from them (RecBole's ``resume_checkpoint``; the best
    weights are kept there too). The batch order after a resume is drawn anew.
    """
    import json
    import logging
    import tempfile

    import functools

    import torch
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.sequential_recommender import SASRec
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    work = tempfile.mkdtemp()
    os.chdir(work)  # RecBole writes its logs into the working directory
    os.makedirs(os.path.join(work, "log"))
    with open(log_path) as src, open(os.path.join(work, "log", "log.inter"), "w") as dst:
        dst.write("user_id:token\titem_id:token\ttimestamp:float\n" + src.read())
    state = state or work
    os.makedirs(state, exist_ok=True)
    resume, history = os.path.join(state, "resume.pth"), os.path.join(state, "history.json")
    config = Config(model="SASRec", dataset="log", config_dict={
        "data_path": work, "checkpoint_dir": state, "epochs": epochs, "seed": 0,
        "reproducibility": True, "use_gpu": False, "device": "cpu", "show_progress": False,
        "eval_args": {"split": {"LS": "valid_and_test"}, "order": "TO", "mode": "full",
                      "group_by": "user"},
        "metrics": ["Hit", "NDCG"], "topk": [10], "valid_metric": "NDCG@10",
        # its default loss is the full-softmax cross-entropy, which takes no negatives
        "train_neg_sample_args": None,
        "load_col": {"inter": ["user_id", "item_id", "timestamp"]},
        **({} if learning_rate is None else {"learning_rate": learning_rate})})
    logging.disable(logging.INFO)
    # RecBole reloads its own best checkpoint with torch.load, which since torch 2.6
    # refuses anything but plain tensors unless told otherwise
    torch.load = functools.partial(torch.load, weights_only=False)
    init_seed(config["seed"], config["reproducibility"])
    train, valid, test = data_preparation(config, create_dataset(config))
    model = SASRec(config, train.dataset).to(config["device"])
    trainer = Trainer(config, model)
    times, scores = [], []
    if os.path.exists(resume):
        trainer.resume_checkpoint(resume)
        with open(history) as f:
            times, scores = json.load(f)
        print(f"resumed after epoch {len(times)}", file=sys.stderr, flush=True)
    trainer.saved_model_file = os.path.join(state, "best.pth")
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

    def timed(train_data, epoch_idx, *args, **kwargs):
        if times:  # the previous epoch is fully booked: keep it
            trainer._save_checkpoint(epoch_idx - 1, verbose=False,
                                     saved_model_file=resume + ".part")
            with open(history + ".part", "w") as f:
                json.dump([times, scores], f)
            os.replace(resume + ".part", resume)
            os.replace(history + ".part", history)
        start = time.perf_counter()
        out = train_epoch(train_data, epoch_idx, *args, **kwargs)
        times.append(time.perf_counter() - start)
        return out

    def progress(*args, **kwargs):
        score, result = valid_epoch(*args, **kwargs)
        scores.append(float(score))
        print(f"epoch {len(times)}: {times[-1]:.0f} s, validation NDCG@10 {score:.4f}",
              file=sys.stderr, flush=True)
        return score, result

    trainer._train_epoch, trainer._valid_epoch = timed, progress
    trainer.fit(train, valid, saved=True, show_progress=False)
    result = trainer.evaluate(test, load_best_model=True, show_progress=False)
    print(json.dumps({"times": times, "hit@10": float(result["hit@10"]),
                      "ndcg@10": float(result["ndcg@10"]),
                      "best_valid_ndcg@10": float(trainer.best_valid_score),
                      "validation_ndcg@10": scores}))


def recbole(recbole_python, data_home, variant, epochs, learning_rate=None, state=None):
    """Run :func:`_recbole_worker` in RecBole's interpreter on our leave-last-out input."""
    import json
    import subprocess
    import tempfile

    users, items, positions = ordered_log(data_home, variant)
    with tempfile.NamedTemporaryFile("w", suffix=".inter", delete=False) as f:
        f.writelines(f"{u}\t{i}\t{p}\n" for u, i, p in zip(users, items, positions))
    command = [recbole_python, os.path.abspath(__file__), "--parts", "recbole-worker",
               "--log", f.name, "--epochs", str(epochs)]
    if learning_rate is not None:
        command += ["--learning-rate", str(learning_rate)]
    if state is not None:
        command += ["--recbole-state", state]
    try:
        # its progress goes to our stderr: the runs take hours
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    finally:
        os.unlink(f.name)
    if done.returncode:
        raise RuntimeError("RecBole's run failed (its error is above)")
    return json.loads(done.stdout.strip().splitlines()[-1])


def recbole_version(recbole_python):
    import subprocess

    return subprocess.run([recbole_python, "-c", "import recbole; print(recbole.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def speed(data_home, recbole_python, epochs):
    import statistics

    from common import in_fresh_process

    rows = []
    for label, max_len in [("SASRec (ours, TensorFlow), defaults: 200 items", 200),
                           ("SASRec (ours, TensorFlow), RecBole's length: 50 items", 50)]:
        ours = in_fresh_process(_ours_epochs, data_home, "100k", epochs, max_len)
        rows.append([label, statistics.median(ours), len(ours)])
    found = {"recbole": None}
    if recbole_python:
        theirs = recbole(recbole_python, data_home, "100k", epochs)["times"]
        found["recbole"] = recbole_version(recbole_python)
        rows.append(["SASRec (RecBole, PyTorch), defaults: 50 items", statistics.median(theirs),
                     len(theirs)])
    for row in rows:
        row.append(row[1] / rows[-1][1] if found["recbole"] else None)
    return table(
        "sequential-speed", "SASRec: seconds per training epoch on MovieLens 100K",
        ["implementation", "s/epoch (median)", "epochs timed", "ratio to RecBole"], rows,
        formats=["text", "seconds", "count", "ratio"],
        notes=["Training only (each side's validation excluded), one process at a time. Ours "
               "trains on the leave-last-out input minus each user's validation item, RecBole "
               "on the same interactions (its leave-one-out holds out the same two items), "
               "each with its own defaults otherwise (ours: batch 128 sequences, every "
               "position a target; RecBole: batch 2048 prefixes)."]), found


GRID = (1e-3, 5e-3)  # learning rates both SASRecs are tuned over (RecBole's default first)


def _ours_tuned(data_home, variant):
    from sklearn_recsys import SASRec
    from sklearn_recsys.model_selection import leave_last_out_split

    T = timestamps(data_home, variant)
    X, y = leave_last_out_split(T, T)
    fits = []
    for lr in GRID:
        start = time.perf_counter()
        model = SASRec(learning_rate_init=lr, random_state=0).fit(X)
        seconds = time.perf_counter() - start
        fits.append((max(model.validation_scores_), lr, model, seconds))
    best_val, lr, model, seconds = max(fits, key=lambda f: f[0])
    return [*metrics(model, X, y), lr, best_val, model.n_iter_, seconds / model.n_iter_]


RECBOLE_RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "runs",
                            "sequential_recbole.json")


def _recbole_key(name, lr):
    return f"{name} lr={lr:g}"


def recbole_grid_run(data_home, recbole_python, name, lr, state_home=None):
    """One RecBole run of the grid, kept in ``RECBOLE_RUNS`` (each takes hours on 2 cores).

    With ``state_home``, the run keeps its training state there and resumes from it when
    started again (a stopped run loses at most the epoch in progress).
    """
    import json
    from datetime import datetime, timezone

    from common import _git

    state = None if state_home is None else os.path.join(state_home, _recbole_key(name, lr))
    result = recbole(recbole_python, data_home, DATASETS[name], 300, lr, state)
    runs = {}
    if os.path.exists(RECBOLE_RUNS):
        with open(RECBOLE_RUNS) as f:
            runs = json.load(f)
    runs[_recbole_key(name, lr)] = {
        **result, "recbole": recbole_version(recbole_python),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **_git()}
    os.makedirs(os.path.dirname(RECBOLE_RUNS), exist_ok=True)
    with open(RECBOLE_RUNS, "w") as f:
        json.dump(runs, f, indent=1)
    print(f"{_recbole_key(name, lr)}: HR@10 {result['hit@10']:.4f}, NDCG@10 "
          f"{result['ndcg@10']:.4f}, best validation {result['best_valid_ndcg@10']:.4f}, "
          f"{len(result['times'])} epochs")


def versus_recbole(data_home, datasets):
    """Both SASRecs tuned over ``GRID`` on the same validation item, then tested once.

    RecBole's runs are read from ``RECBOLE_RUNS`` (``--parts recbole-run``); ours run here.
    """
    import json
    import statistics

    from common import in_fresh_process

    with open(RECBOLE_RUNS) as f:
        done = json.load(f)
    missing = [(name, lr) for name in datasets for lr in GRID
               if _recbole_key(name, lr) not in done]
    if missing:
        raise SystemExit("RecBole runs missing; run each with --parts recbole-run: " + "; ".join(
            f"--datasets {name} --learning-rate {lr:g}" for name, lr in missing))
    tables = []
    for name in datasets:
        rows = [["SASRec (ours)", *in_fresh_process(_ours_tuned, data_home, DATASETS[name])]]
        lr, best = max(((lr, done[_recbole_key(name, lr)]) for lr in GRID),
                       key=lambda r: r[1]["best_valid_ndcg@10"])
        rows.append(["SASRec (RecBole 1.2.1)", best["hit@10"], best["ndcg@10"], lr,
                     best["best_valid_ndcg@10"], len(best["times"]),
                     statistics.median(best["times"])])
        tables.append(show(table(
            f"sequential-recbole-{name}",
            f"{name}: SASRec against RecBole's, both tuned over the learning rate",
            ["implementation", "HR@10", "NDCG@10", "learning rate", "validation NDCG@10",
             "epochs", "s/epoch (median)"], rows,
            formats=["text", "metric", "metric", "text", "metric", "count", "seconds"],
            notes=["Learning rate chosen among " + ", ".join(map(str, GRID)) + " by each "
                   "side's NDCG@10 of every user's last training item (the same item for "
                   "both); each side's own early stopping (ours: patience 20, RecBole's: "
                   "10 evaluations, at most 300 epochs); other settings their defaults."])))
    return tables


# The official GRU4Rec's configurations, chosen by a validation grid (see the docstring):
# name -> (loss, epochs of the validation run, GRU4Rec.set_params of the official code)
OFFICIAL_CONFIGS = {
    "xe_256_lr005": ("cross-entropy", 6, {
        "loss": "cross-entropy", "constrained_embedding": True, "embedding": 0,
        "layers": [256], "batch_size": 128, "dropout_p_embed": 0.2, "dropout_p_hidden": 0.2,
        "learning_rate": 0.05, "momentum": 0.0, "n_sample": 512, "sample_alpha": 0.5,
        "logq": 1.0, "elu_param": 0.0, "bpreg": 0.0}),
    # the official paramfiles/retailrocket_bprmax_shared_best.py, its n_epochs aside
    "bpr_retail_e10": ("bpr-max", 10, {
        "loss": "bpr-max", "constrained_embedding": True, "embedding": 0, "layers": [224],
        "batch_size": 80, "dropout_p_embed": 0.5, "dropout_p_hidden": 0.05,
        "learning_rate": 0.05, "momentum": 0.4, "n_sample": 2048, "sample_alpha": 0.4,
        "bpreg": 1.95, "elu_param": 0.5, "logq": 0.0}),
}
OFFICIAL_DATASETS = ("movielens_100k",)  # the grid was run there only


class _Scores:
    """Scores computed elsewhere, behind ``decision_function`` for the library's scorers:
    the scorer slices the row data ``users`` (row indices) as it slices ``X``, and masks
    the input items itself, as for any model."""

    _values_are_order_keys = True  # as GRU4Rec: X holds times

    def __init__(self, scores):
        self.scores = scores

    def decision_function(self, X, users):
        return self.scores[users]


def _torch_python_missing(torch_python, modules):
    """Why ``--torch-python`` cannot serve a reference's worker (None when it can)."""
    import subprocess

    names = " and ".join(modules)
    if not torch_python:
        return f"no --torch-python (an interpreter with {names})"
    done = subprocess.run([torch_python, "-c", "import " + ", ".join(modules)],
                          capture_output=True, text=True)
    if done.returncode:
        return f"{torch_python} cannot import {names}: {done.stderr.strip()[-300:]}"
    return None


def _official_missing(official_dir, torch_python):
    """Why the part ``official`` cannot run (None when it can)."""
    if not official_dir:
        return "no --gru4rec-official (the official GRU4Rec_PyTorch_Official checkout)"
    if not os.path.isfile(os.path.join(official_dir, "gru4rec_pytorch.py")):
        return f"{official_dir} holds no gru4rec_pytorch.py (the official GRU4Rec's code)"
    return _torch_python_missing(torch_python, ("torch", "pandas"))


def official_split(T, work):
    """Write ``leave_last_out_split(T, T)``'s input (``train_full.tsv``) and the input less
    each user's validation item (``train_tr.tsv``) in the official GRU4Rec's format; return
    ``X, y, X_val, y_val``. ``Time`` is the timestamp times 100000 plus the position in our
    sequence, so the official code orders each user's items as our models read them (ties
    in time included) and its sessions by their first real time."""
    from sklearn_recsys.model_selection import leave_last_out_split

    X, y = leave_last_out_split(T, T)
    X_val, y_val = leave_last_out_split(X, X)
    for M, fname in ((X, "train_full.tsv"), (X_val, "train_tr.tsv")):
        users, items, positions = _ordered(M)
        assert positions.max() < 100000
        times = np.asarray(M[users, items]).ravel().astype(np.int64) * 100000 + positions
        # sorted by user, then Time: the official code keeps the file's order
        assert (np.diff(times)[np.diff(users) == 0] > 0).all()
        with open(os.path.join(work, fname), "w") as f:
            f.write("SessionId\tItemId\tTime\n")
            f.writelines(f"{u}\t{i}\t{t}\n" for u, i, t in zip(users, items, times))
    return X, y, X_val, y_val


def _forward(proc, prefix, lines):
    """Copy a worker's stdout to our stderr (its progress), keeping its lines."""
    for line in proc.stdout:
        print(prefix, line.rstrip(), file=sys.stderr, flush=True)
        lines.append(line)


def _official_worker(official_dir, torch_python, work, mode, params, epochs, shape):
    """One run of ``gru4rec_official.py`` in the PyTorch interpreter; its JSON record."""
    import json
    import subprocess

    command = [torch_python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                          "gru4rec_official.py"),
               "--official", official_dir, "--work", work, "--mode", mode,
               "--params", json.dumps(params), "--epochs", str(epochs),
               "--n-users", str(shape[0]), "--n-items", str(shape[1])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    lines = []
    _forward(proc, "  official:", lines)  # the official code's progress, to our stderr
    if proc.wait():
        raise RuntimeError(f"the official GRU4Rec's {mode} run failed (its error is above)")
    record = json.loads(lines[-1])
    if record["nan"]:
        raise RuntimeError(f"the official GRU4Rec's {mode} run stopped on a NaN loss")
    return record


def versus_official(data_home, name, official_dir, torch_python):
    """The official GRU4Rec at ``OFFICIAL_CONFIGS`` on our split, scored by our scorers."""
    import hashlib
    import statistics
    import tempfile

    official_dir = os.path.abspath(official_dir)
    rows, curves, record = [], [], None
    with tempfile.TemporaryDirectory() as work:
        X, y, X_val, y_val = official_split(timestamps(data_home, DATASETS[name]), work)
        users = np.arange(X.shape[0])

        def scored(path, X_in, y_out):
            return metrics(_Scores(np.load(path)), X_in, y_out, users=users)

        for config, (loss, n_epochs, params) in OFFICIAL_CONFIGS.items():
            val = _official_worker(official_dir, torch_python, work, "validate", params,
                                   n_epochs, X.shape)
            curve = [scored(os.path.join(work, "validate", f"val_{e}.npy"), X_val, y_val)[1]
                     for e in range(1, len(val["epoch_seconds"]) + 1)]
            best = int(np.argmax(curve)) + 1  # the first best epoch
            print(f"{config}: validation NDCG@10 by epoch "
                  f"{[round(v, 4) for v in curve]}, kept epoch {best}", flush=True)
            kept = scored(os.path.join(work, "validate", f"test_{best}.npy"), X, y)
            record = _official_worker(official_dir, torch_python, work, "retrain", params,
                                      best, X.shape)
            refit = scored(os.path.join(work, "retrain", "test.npy"), X, y)
            rows.append(["GRU4Rec official, refitted", loss, config, *refit, curve[best - 1],
                         best, best, sum(record["epoch_seconds"]),
                         statistics.median(record["epoch_seconds"])])
            rows.append(["GRU4Rec official, validation fit", loss, config, *kept,
                         curve[best - 1], len(curve), best, sum(val["epoch_seconds"]),
                         statistics.median(val["epoch_seconds"])])
            for row in rows[-2:]:
                print(row, flush=True)
            curves.append(f"{config} " + ", ".join(f"{v:.4f}" for v in curve))
    with open(os.path.join(official_dir, "gru4rec_pytorch.py"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    found = {"torch": record["torch"],
             "GRU4Rec_PyTorch_Official": f"(gru4rec_pytorch.py sha256 {digest})"}
    settings = "; ".join(f"{config}: " + ", ".join(f"{k}={v}" for k, v in params.items())
                         for config, (_, _, params) in OFFICIAL_CONFIGS.items())
    tab = table(
        f"sequential-official-{name}",
        f"{name}: the official GRU4Rec (PyTorch) on our leave-last-out split",
        ["implementation", "loss", "configuration", "HR@10", "NDCG@10", "validation NDCG@10",
         "epochs", "epoch kept", "fit seconds", "seconds per epoch"], rows,
        formats=["text", "text", "text", "metric", "metric", "metric", "count", "count",
                 "seconds", "seconds"],
        notes=[f"{X.shape[0]} users, {X.shape[1]} items; the quality table's split, input "
               "items masked, every item ranked, this library's scorers. The official code "
               "runs unmodified on the CPU (one thread, its compatibility-mode "
               "initialisation, seeds 0). Its configurations were chosen by a grid of 14 "
               "runs on the validation item (every user's last input item); the epoch kept "
               "is the validation run's best. Refitted: fitted on the whole input for that "
               "many epochs. Validation fit: the validation run's model at that epoch "
               "(trained without the validation item, as our GRU4Rec). Both score the test "
               "item from the user's whole input sequence. Seconds: training only.",
               "Settings: " + settings + ".",
               "Validation NDCG@10 by epoch: " + "; ".join(curves) + "."])
    return tab, found


OFFICIAL_SASREC = {  # label -> main.py's extra arguments (its README's ML-1M command aside)
    "post-norm (the code's default)": [],
    "pre-norm (--norm_first)": ["--norm_first"],
}


def official_sasrec_split(T, work):
    """Write ``data/log.txt`` for SASRec.pytorch: each user's input (``leave_last_out_split(T,
    T)``, in our sequence order) then the test item; return ``X, y, X_val, y_val``. The
    code's ``data_partition`` holds out a user's last two items: the test item, and the
    input's last (the item our SASRec stops early on)."""
    from sklearn_recsys.model_selection import leave_last_out_split

    X, y = leave_last_out_split(T, T)
    X_val, y_val = leave_last_out_split(X, X)
    users, items, _ = _ordered(X)
    bounds = np.searchsorted(users, np.arange(X.shape[0] + 1))
    y, y_val = y.tocsr(), y_val.tocsr()
    os.makedirs(os.path.join(work, "data"))
    with open(os.path.join(work, "data", "log.txt"), "w") as f:
        for u in range(X.shape[0]):
            seq = items[bounds[u]:bounds[u + 1]]
            # every user has an input and a test item here (MovieLens: 20 ratings or more)
            assert len(seq) >= 3 and y[u].nnz == 1 and list(y_val[u].indices) == [seq[-1]]
            f.writelines(f"{u + 1} {i + 1}\n" for i in [*seq, y[u].indices[0]])
    return X, y, X_val, y_val


def _official_sasrec_missing(official_dir, torch_python):
    """Why the part ``official-sasrec`` cannot run (None when it can)."""
    if not official_dir:
        return "no --sasrec-official (SASRec.pytorch's python folder)"
    if not all(os.path.isfile(os.path.join(official_dir, f))
               for f in ("main.py", "model.py", "utils.py")):
        return (f"{official_dir} lacks main.py, model.py or utils.py (SASRec.pytorch's "
                "python folder)")
    return _torch_python_missing(torch_python, ("torch",))


def versus_official_sasrec(data_home, name, official_dir, torch_python, epochs):
    """SASRec.pytorch (``OFFICIAL_SASREC``) on our split, scored by our scorers every 20
    epochs; the test figures of the evaluation of best validation NDCG@10."""
    import hashlib
    import json
    import shutil
    import subprocess
    import tempfile
    import threading

    official_dir = os.path.abspath(official_dir)
    worker = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sasrec_official.py")
    rows, curves, record = [], [], None
    with tempfile.TemporaryDirectory() as base:
        split = os.path.join(base, "split")
        X, y, X_val, y_val = official_sasrec_split(timestamps(data_home, DATASETS[name]), split)
        runs = []  # the variants run side by side, one process (one thread) each
        for label, extra in OFFICIAL_SASREC.items():
            # a folder each: main.py writes its own into its working directory
            work = os.path.join(base, str(len(runs)))
            shutil.copytree(os.path.join(split, "data"), os.path.join(work, "data"))
            command = [torch_python, worker, "--official", official_dir, "--work", work,
                       "--epochs", str(epochs), "--n-users", str(X.shape[0]),
                       "--n-items", str(X.shape[1]), "--main-args", json.dumps(extra)]
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            lines = []
            thread = threading.Thread(target=_forward, args=(proc, f"  {label}:", lines))
            thread.start()
            runs.append((label, work, proc, thread, lines))
        users = np.arange(X.shape[0])
        for label, work, proc, thread, lines in runs:
            thread.join()
            if proc.wait():
                raise RuntimeError(f"SASRec.pytorch's run ({label}) failed (its error is above)")
            record = json.loads(lines[-1])

            def scored(kind, epoch, X_in, y_out):
                path = os.path.join(work, "scores", f"{kind}_{epoch}.npy")
                return metrics(_Scores(np.load(path)), X_in, y_out, users=users)

            curve = [scored("val", e, X_val, y_val)[1] for e in record["epochs"]]
            best = int(np.argmax(curve))  # the first best evaluation
            kept = record["epochs"][best]
            last_epoch = record["epochs"][-1]
            seconds = sum(record["train_seconds"])
            rows.append([f"SASRec.pytorch, {label}", *scored("test", kept, X, y), curve[best],
                         kept, last_epoch, seconds, seconds / last_epoch])
            rows.append([f"SASRec.pytorch, {label}, last epoch",
                         *scored("test", last_epoch, X, y), curve[-1], last_epoch,
                         last_epoch, seconds, seconds / last_epoch])
            for row in rows[-2:]:
                print(row, flush=True)
            curves.append(f"{label}: " + ", ".join(f"{v:.4f}" for v in curve))
    digests = []
    for f in ("main.py", "model.py", "utils.py"):
        with open(os.path.join(official_dir, f), "rb") as fh:
            digests.append(f"{f} sha256 {hashlib.sha256(fh.read()).hexdigest()[:12]}")
    found = {"torch": record["torch"], "SASRec.pytorch": "(" + ", ".join(digests) + ")"}
    tab = table(
        f"sequential-official-sasrec-{name}",
        f"{name}: SASRec.pytorch (the reference's PyTorch port) on our leave-last-out split",
        ["implementation", "HR@10", "NDCG@10", "validation NDCG@10", "epoch kept", "epochs",
         "fit seconds", "seconds per epoch"], rows,
        formats=["text", "metric", "metric", "metric", "count", "count", "seconds", "seconds"],
        notes=[f"{X.shape[0]} users, {X.shape[1]} items; the quality table's split, input "
               "items masked, every item ranked, this library's scorers. main.py runs "
               "unmodified on the CPU (one thread, torch and NumPy seeds 0; the two runs side "
               "by side, one process each) with its README's "
               "ML-1M command (200 items, dropout 0.2; its defaults otherwise: 50 units, 2 "
               "blocks, 1 head, batch 128, learning rate 0.001, one sampled negative per "
               f"position, binary cross-entropy), {epochs} epochs, every item scored every "
               "20 epochs (its evaluation's schedule) in place of its 100 sampled "
               "negatives. Trained without the validation item (every user's last input "
               "item); the test item is scored from the whole input (our SASRec's "
               "protocol). Epoch kept: the evaluation of best validation NDCG@10; last "
               "epoch: the run's end. Seconds: training only.",
               "Validation NDCG@10 every 20 epochs: " + "; ".join(curves) + "."])
    return tab, found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default="../shared/data")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--parts", default="quality")
    parser.add_argument("--recbole-python", help="interpreter with recbole 1.2.1 and torch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--recbole-state",
                        help="recbole-run: directory where each run keeps its state and "
                             "resumes from it (default: none; a stopped run starts over)")
    parser.add_argument("--gru4rec-official",
                        help="official: the GRU4Rec_PyTorch_Official checkout (the folder "
                             "with gru4rec_pytorch.py); without it the part is skipped")
    parser.add_argument("--torch-python",
                        help="official: an interpreter with torch and pandas")
    parser.add_argument("--sasrec-official",
                        help="official-sasrec: SASRec.pytorch's python folder (main.py, "
                             "model.py, utils.py); without it the part is skipped")
    parser.add_argument("--sasrec-epochs", type=int, default=600,
                        help="official-sasrec: epochs of each run (a multiple of 20)")
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--learning-rate", type=float,
                        help="recbole-run: this learning rate only (default: all of GRID)")
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    if "recbole-worker" in parts:
        return _recbole_worker(args.log, args.epochs, args.learning_rate, args.recbole_state)
    if "quality" in parts:
        tables = [show(run(name, DATASETS[name], args.data_home))
                  for name in args.datasets.split(",")]
        write_results("sequential", tables)
    if "tied" in parts:
        tables = [show(tied_choice(name, DATASETS[name], args.data_home))
                  for name in args.datasets.split(",")]
        write_results("sequential_tied", tables)
    if "speed" in parts:
        tab, found = speed(args.data_home, args.recbole_python, args.epochs)
        write_results("sequential_speed", [show(tab)], peers=found)
    if "recbole-run" in parts:
        for name in args.datasets.split(","):
            for lr in GRID if args.learning_rate is None else [args.learning_rate]:
                recbole_grid_run(args.data_home, args.recbole_python, name, lr,
                                 args.recbole_state)
    if "official" in parts:
        missing = _official_missing(args.gru4rec_official, args.torch_python)
        names = [n for n in args.datasets.split(",") if n in OFFICIAL_DATASETS]
        for n in args.datasets.split(","):
            if n not in OFFICIAL_DATASETS:
                print(f"note: part 'official' runs on {', '.join(OFFICIAL_DATASETS)} only "
                      f"(its configurations were chosen there); {n} skipped",
                      file=sys.stderr, flush=True)
        if missing:
            print(f"note: part 'official' skipped: {missing}", file=sys.stderr, flush=True)
        elif names:
            tables, found = [], {}
            for n in names:
                tab, found = versus_official(args.data_home, n, args.gru4rec_official,
                                             args.torch_python)
                tables.append(show(tab))
            write_results("sequential_official", tables, peers=found)
    if "official-sasrec" in parts:
        missing = _official_sasrec_missing(args.sasrec_official, args.torch_python)
        if missing:
            print(f"note: part 'official-sasrec' skipped: {missing}", file=sys.stderr,
                  flush=True)
        else:
            tables, found = [], {}
            for n in args.datasets.split(","):
                tab, found = versus_official_sasrec(args.data_home, n, args.sasrec_official,
                                                    args.torch_python, args.sasrec_epochs)
                tables.append(show(tab))
            write_results("sequential_official_sasrec", tables, peers=found)
    if "recbole" in parts:
        tables = versus_recbole(args.data_home, args.datasets.split(","))
        write_results("sequential_recbole", tables,
                      peers={"recbole": recbole_version(args.recbole_python)})


if __name__ == "__main__":
    main()
