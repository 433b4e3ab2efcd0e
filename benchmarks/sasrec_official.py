"""Worker of ``bench_sequential.py --parts official-sasrec``: SASRec.pytorch on our split.

Runs in an interpreter with PyTorch (``--torch-python``), never in the benchmark's own
process (TensorFlow and PyTorch crash in one process); it imports nothing of
``sklearn_recsys``. The code is pmixer's SASRec.pytorch (the PyTorch port that Kang &
McAuley's TensorFlow repository points to), its ``python`` folder (``main.py``,
``model.py``, ``utils.py``) given by ``--official``; it is not part of this repository.

``main.py`` runs unmodified, as its README runs it (``runpy``, with its own command line):
its initialisation, its sampler (one random negative per position), its binary
cross-entropy, its Adam and its loop, which evaluates every 20 epochs. Only the two
evaluation functions it imports from ``utils`` are replaced, before it imports them: the
originals rank the held-out item among 100 sampled negatives; ours score **every** item,
for every user, with the model's own ``predict`` (in ``eval`` mode, as ``main.py`` sets it):

- ``val_<epoch>.npy``: from the training sequence, for the validation item;
- ``test_<epoch>.npy``: from the training sequence and the validation item, for the test
  item (our SASRec's protocol: trained without the validation item, scored from the whole
  input).

``--work`` holds ``data/log.txt`` in the code's format (``user item`` per line, ids from 1,
each user's items in order): ``bench_sequential.official_sasrec_split`` writes each user's
input (our leave-last-out split, in our sequence order) followed by the test item, so the
code's own ``data_partition`` holds out the test item and the one before it (our
validation item). Scores are (n_users, n_items) float32 over our columns; an item absent
from every training sequence scores ``-inf``. The benchmark masks the input items and
computes the metrics. The last stdout line is a JSON record: training seconds between
evaluations, the epochs evaluated, the torch version.
"""

import argparse
import contextlib
import io
import json
import os
import runpy
import sys
import time

import numpy as np


class _Quiet(io.TextIOBase):
    """stdout that drops ``main.py``'s line per training step (thousands per run)."""

    def __init__(self, out):
        self.out, self.buffer = out, ""

    def write(self, text):
        self.buffer += text
        *lines, self.buffer = self.buffer.split("\n")
        for line in lines:
            if not line.startswith("loss in epoch"):
                self.out.write(line + "\n")
                self.out.flush()
        return len(text)


def last_items(seqs, maxlen):
    """(len(seqs), maxlen) int array: each sequence's last ``maxlen`` items, left-padded
    with 0, as the code's own evaluation builds its input."""
    out = np.zeros((len(seqs), maxlen), dtype=np.int64)
    for row, s in enumerate(seqs):
        s = s[-maxlen:]
        if len(s):
            out[row, -len(s):] = s
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official", required=True, help="folder with main.py")
    parser.add_argument("--work", required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--n-users", type=int, required=True)
    parser.add_argument("--n-items", type=int, required=True)
    parser.add_argument("--main-args", default="[]",
                        help="JSON list of extra arguments of main.py (e.g. --norm_first)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    official = os.path.abspath(args.official)
    sys.path.insert(0, official)
    os.chdir(args.work)  # main.py reads data/<dataset>.txt and writes its folder here
    import utils

    train, valid, _, usernum, itemnum = utils.data_partition("log")
    assert usernum == args.n_users, (usernum, args.n_users)
    users = range(1, usernum + 1)
    val_seqs = [np.asarray(train[u]) for u in users]
    test_seqs = [np.asarray(train[u] + valid[u]) for u in users]
    trained = np.zeros(args.n_items, dtype=bool)
    for s in val_seqs:
        trained[s - 1] = True
    out = os.path.join(args.work, "scores")
    os.makedirs(out, exist_ok=True)
    record = {"train_seconds": [], "epochs": [], "torch": torch.__version__}
    clock = {"since": time.perf_counter()}

    def scores(model, seqs, maxlen):
        S = np.full((len(seqs), args.n_items), -np.inf, dtype=np.float32)
        items = np.arange(1, itemnum + 1)
        with torch.no_grad():
            for start in range(0, len(seqs), 256):
                block = last_items(seqs[start:start + 256], maxlen)
                user_ids = np.arange(start + 1, start + 1 + len(block))
                S[start:start + len(block), :itemnum] = (
                    model.predict(user_ids, block, items).numpy())
        S[:, ~trained] = -np.inf
        return S

    # main.py calls evaluate, then evaluate_valid, every 20 epochs: the training time is
    # what passed between the end of one evaluation and the start of the next
    def evaluate(model, dataset, margs):
        record["train_seconds"].append(time.perf_counter() - clock["since"])
        epoch = 20 * len(record["train_seconds"])
        record["epochs"].append(epoch)
        np.save(os.path.join(out, f"test_{epoch}.npy"), scores(model, test_seqs, margs.maxlen))
        return float("nan"), float("nan")

    def evaluate_valid(model, dataset, margs):
        epoch = record["epochs"][-1]
        np.save(os.path.join(out, f"val_{epoch}.npy"), scores(model, val_seqs, margs.maxlen))
        print(f"epoch {epoch}: scored, {record['train_seconds'][-1]:.1f} s of training",
              flush=True)
        clock["since"] = time.perf_counter()
        return float("nan"), float("nan")

    utils.evaluate, utils.evaluate_valid = evaluate, evaluate_valid
    torch.manual_seed(0)
    np.random.seed(0)  # the sampler's workers draw their seeds from it
    sys.argv = ["main.py", "--dataset=log", "--train_dir=run", "--device=cpu",
                "--maxlen=200", "--dropout_rate=0.2", f"--num_epochs={args.epochs}",
                *json.loads(args.main_args)]
    real = sys.stdout
    with contextlib.redirect_stdout(_Quiet(real)):
        runpy.run_path(os.path.join(official, "main.py"), run_name="__main__")
    print(json.dumps(record))


if __name__ == "__main__":
    main()
