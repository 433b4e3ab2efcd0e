"""Worker of ``bench_sequential.py --parts official``: the official PyTorch GRU4Rec on our split.

Runs in an interpreter with PyTorch (``--torch-python``), never in the benchmark's own
process (TensorFlow and PyTorch crash in one process); it imports nothing of
``sklearn_recsys``. The official code (Hidasi's GRU4Rec_PyTorch_Official,
``gru4rec_pytorch.py``) is imported, unmodified, from the checkout given by ``--official``;
it is not part of this repository (its license: research and education only).

``--work`` is the folder ``bench_sequential.official_split`` wrote: ``train_full.tsv`` (every
user's input, our leave-last-out split) and ``train_tr.tsv`` (the same minus each user's
last input item, the validation item), in the official format (``SessionId`` = user row,
``ItemId`` = column, ``Time`` ordering each user's items as our sequences do).

Modes (``--mode``):

``validate``
    Fit on ``train_tr.tsv`` for ``--epochs`` epochs. After every epoch (the epoch's training
    generator is wrapped, so training itself is untouched and no random draw is added),
    every user is scored from ``train_tr`` (predicting the validation item) and, with the
    same model, from ``train_full`` (predicting the test item, our GRU4Rec's protocol:
    trained without the validation item, scored from the whole input):
    ``val_<epoch>.npy`` and ``test_<epoch>.npy``.
``retrain``
    Fit on ``train_full.tsv`` for ``--epochs`` epochs; ``test.npy``.

A user is scored by the official model's own steps (``embed``, ``hidden_step``,
``score_items``, as ``GRU4RecModel.forward`` without dropout) over the user's whole
sequence from a zero state, against every item; an item absent from the training file
scores ``-inf``. Scores are (n_users, n_items) float32 over our columns; the benchmark
masks the input items and computes the metrics. The last stdout line is a JSON record:
training seconds per epoch, the torch version, whether training stopped on a NaN.
"""

import argparse
import json
import os
import sys
import time

import numpy as np


def load(path):
    import pandas as pd

    return pd.read_csv(path, sep="\t")


def sequences(df, n_users):
    """Each user's items in file order (the file is sorted by user, then ``Time``)."""
    users = df["SessionId"].to_numpy()
    items = df["ItemId"].to_numpy()
    bounds = np.searchsorted(users, np.arange(n_users + 1))
    return [items[bounds[u]:bounds[u + 1]] for u in range(n_users)]


def all_scores(gru, seqs, n_items):
    """Scores (n_users, n_items) of the fitted official model after each user's sequence."""
    import torch

    model = gru.model
    training = model.training
    model.eval()
    itemmap = gru.data_iterator.itemidmap  # our column -> the model's index
    known = itemmap.index.to_numpy()
    idx = [itemmap.loc[s[np.isin(s, known)]].to_numpy().astype(np.int64) for s in seqs]
    lengths = np.array([len(s) for s in idx])
    padded = np.zeros((len(idx), max(lengths.max(), 1)), dtype=np.int64)
    for u, s in enumerate(idx):
        padded[u, :len(s)] = s
    padded = torch.from_numpy(padded)
    with torch.no_grad():
        H = [torch.zeros((len(idx), size), dtype=torch.float32) for size in gru.layers]
        for t in range(padded.shape[1]):
            active = torch.from_numpy(np.flatnonzero(lengths > t))
            Ha = [h[active] for h in H]
            E, _, _ = model.embed(padded[active, t], Ha, None)
            if not (model.constrained_embedding or model.embedding):
                Ha[0] = E
            model.hidden_step(E, Ha, training=False)
            for h, ha in zip(H, Ha):
                h[active] = ha
        _, O, B = model.embed(padded[:, 0], H, None)  # Y=None: every item's output weights
        R = model.score_items(H[-1], O, B).numpy()
    model.train(training)
    out = np.full((len(idx), n_items), -np.inf, dtype=np.float32)
    out[:, known] = R[:, itemmap.to_numpy()]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="folder with gru4rec_pytorch.py")
    parser.add_argument("--work", required=True)
    parser.add_argument("--mode", choices=("validate", "retrain"), required=True)
    parser.add_argument("--params", required=True, help="JSON of GRU4Rec.set_params")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--n-users", type=int, required=True)
    parser.add_argument("--n-items", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    # one thread: on two shared cores, two OpenMP threads made epochs 5 to 40 times slower
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.abspath(args.official))
    import gru4rec_pytorch as official

    # NumPy >= 2 (NEP 50): float32 array * np.float64 scalar is float64, and the official
    # _reset_weights_to_compatibility_mode then fails to set float32 tensors. Cast its
    # initial weights back to float32, what NumPy 1 returned: same values, same seed.
    init = official.GRU4RecModel._init_numpy_weights
    official.GRU4RecModel._init_numpy_weights = (
        lambda self, shape: init(self, shape).astype(np.float32))

    full = load(os.path.join(args.work, "train_full.tsv"))
    train = full if args.mode == "retrain" else load(os.path.join(args.work, "train_tr.tsv"))
    full_seqs = sequences(full, args.n_users)
    train_seqs = sequences(train, args.n_users)
    out = os.path.join(args.work, args.mode)
    os.makedirs(out, exist_ok=True)

    torch.manual_seed(0)
    np.random.seed(0)
    gru = official.GRU4Rec(device=torch.device("cpu"))
    gru.set_params(**json.loads(args.params), n_epochs=args.epochs)
    epoch_seconds = []
    epoch_call = official.SessionDataIterator.__call__

    def timed_epoch(self, *a, **k):
        start = time.perf_counter()
        yield from epoch_call(self, *a, **k)
        epoch_seconds.append(time.perf_counter() - start)
        if args.mode == "validate":
            n = len(epoch_seconds)
            np.save(os.path.join(out, f"val_{n}.npy"), all_scores(gru, train_seqs, args.n_items))
            np.save(os.path.join(out, f"test_{n}.npy"), all_scores(gru, full_seqs, args.n_items))

    official.SessionDataIterator.__call__ = timed_epoch
    gru.fit(train, sample_cache_max_size=2_000_000)
    if args.mode == "retrain" and not gru.error_during_train:
        np.save(os.path.join(out, "test.npy"), all_scores(gru, full_seqs, args.n_items))
    print(json.dumps({"epoch_seconds": epoch_seconds, "nan": bool(gru.error_during_train),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
