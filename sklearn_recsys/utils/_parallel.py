"""Numba kernels that are safe under threads and ``fork``: a parallel and a serial build of each.

Numba's parallel kernels run on a threading layer that is not safe everywhere
the package is used: GNU OpenMP (numba's ``omp`` layer on Linux) terminates
any ``fork``-started child that touches it after the parent did, so a
``multiprocessing`` pool hangs as it restarts dying workers; numba's
``workqueue`` layer (its fallback when neither OpenMP nor TBB loads) aborts
the process when two threads enter it at once. Instead of depending on which
layer a machine ends up with, each kernel is compiled twice from the same
source (``prange`` is plain ``range`` in the serial build) and a call takes
the parallel build only when that is safe:

* at most one thread at a time runs a parallel build (a non-blocking lock:
  a thread that finds it taken runs the serial build instead of waiting, so
  concurrent scoring from threads is safe and still uses every thread);
* in a child started by ``fork`` from a process whose parallel builds ran
  on GNU OpenMP (numba's ``omp`` layer), only serial builds run (the worker
  of a process pool is one of several parallel workers already); the
  ``tbb`` and ``workqueue`` layers are fork-safe and stay parallel;
* a call on one row runs the serial build: each row is one thread's work,
  so a parallel region has nothing to share out, and waking its threads
  costs milliseconds on a loaded machine (audit 59c: a single user's
  ``recommend`` took 7-36 ms on parallel builds, 0.5-2.5 ms on serial ones,
  on 2 cores). From two rows on, a quiet machine gains from the threads
  (EASE's ``recommend`` on 2-8 users: 1.2-1.4x), so the cut stays at one.

Both builds compute every row with the same code, so each row's result is
the same bit for bit (the row solvers sum in an order fixed by the lengths
alone, never by thread count or memory addresses); a reduction across rows
(``implicit_loss``) keeps each row's term and sums them in row order, so
it does not depend on the thread count either (MultiTaskMF's sampler draws
from it: a sum in the threads' order moved its fitted attributes by about
1e-14 between one and two threads).
"""

import functools
from contextlib import contextmanager
import os
import sys
import threading
import types

import numba
from numba import njit

__all__ = ["foreign_openmp", "hosts_a_scheduler", "numba_threads", "parallel_allowed",
           "parallel_kernel", "worker_thread_share"]

# below this many rows a call takes the serial build (see the module's docstring)
SERIAL_BELOW_ROWS = 2

_parallel_lock = threading.Lock()
_state = {"parallel_used": False, "forked_after_parallel": False, "forked": False}


def _after_fork_in_child():
    # the child inherits the parent's flags and a lock held by whichever
    # thread was inside a kernel; that thread does not exist in the child
    global _parallel_lock
    _parallel_lock = threading.Lock()
    _state["forked"] = True
    if _state["parallel_used"] and _layer() == "omp":
        _state["forked_after_parallel"] = True


def _layer():
    """Numba's threading layer in use (it has started once a parallel build ran)."""
    try:
        return numba.threading_layer()
    except ValueError:  # not started
        return None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_allowed():
    """Whether this process may still enter numba's threading layer (False after a fork)."""
    return not _state["forked_after_parallel"]


@contextmanager
def foreign_openmp():
    """Run another library's OpenMP code (faiss, scikit-learn's gradient boosting) fork-safely.

    Those libraries bring their own GNU OpenMP, whose thread pool hangs a
    ``fork``-started child that uses it after the parent did (audit 58a: a
    ``multiprocessing`` pool of an ApproximateRecommender or a
    StackingRecommender never returned). Whether the parent used it is not
    known here, so in any forked child the call runs on one OpenMP thread
    (the child is one of several workers already); elsewhere it is left
    alone.
    """
    if not _state["forked"]:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="openmp"):
        yield


def _serial_copy(func):
    """A twin of ``func`` with its own name, so numba caches its build separately."""
    twin = types.FunctionType(func.__code__, func.__globals__, func.__name__ + "_serial",
                              func.__defaults__, func.__closure__)
    twin.__qualname__ = func.__qualname__ + "_serial"
    twin.__module__ = func.__module__
    twin.__doc__ = func.__doc__
    return twin


def _leading_rows(args):
    """Rows of a kernel whose first argument is a CSR ``indptr`` or a 2-D array."""
    first = args[0]
    return first.shape[0] - 1 if first.ndim == 1 else first.shape[0]


def parallel_kernel(func=None, *, rows=_leading_rows, **options):
    """Decorator: compile ``func`` parallel and serial; each call picks a safe build.

    Parameters
    ----------
    func : callable
        A numba-compilable function looping over rows with ``prange``.
    rows : callable, default=rows of the first argument
        ``rows(args)``: how many iterations the call's ``prange`` shares out
        (by default the rows of its first argument, a CSR ``indptr`` or a
        2-D array; a kernel over pairs, chunks, tiles or strata of rows
        counts those); under ``SERIAL_BELOW_ROWS`` the serial build runs.
    **options
        Further :func:`numba.njit` options (e.g. ``fastmath=True``).
        ``cache=True``, ``nogil=True`` and ``error_model="numpy"`` are set:
        a division by zero gives ``inf``/``nan`` (which the models' checks
        of their results report) instead of an exception that numba cannot
        raise from a parallel region.

    Returns
    -------
    kernel : callable
        Calls the parallel build when the call has ``SERIAL_BELOW_ROWS``
        rows or more, no other thread is in a parallel build and the process
        is not a fork of one that was; the serial build otherwise.
        The builds are its ``parallel`` and ``serial`` attributes, the
        count its ``rows``.
    """
    if func is None:
        return functools.partial(parallel_kernel, rows=rows, **options)
    options = {"cache": True, "nogil": True, "error_model": "numpy", **options}
    parallel = njit(parallel=True, **options)(func)
    serial = njit(**options)(_serial_copy(func))

    @functools.wraps(func)
    def kernel(*args):
        if (_state["forked_after_parallel"] or rows(args) < SERIAL_BELOW_ROWS
                or not _parallel_lock.acquire(blocking=False)):
            return serial(*args)
        try:
            _state["parallel_used"] = True
            return parallel(*args)
        finally:
            _parallel_lock.release()

    kernel.parallel, kernel.serial, kernel.rows = parallel, serial, rows
    return kernel


def _usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_thread_share():
    """Threads one task may use inside a Dask worker; None outside one.

    A Dask cluster runs ``nthreads`` tasks at once in each worker process;
    left alone, every task's numba kernels and TensorFlow ops would start one
    thread per core, so the workers of one machine would oversubscribe it by
    their total number of task slots (Dask itself sets ``OMP_NUM_THREADS=1``
    for BLAS in the processes it starts). The share is the machine's usable
    cores divided by the task slots of the workers on it (from the
    scheduler, asked once per process), at least 1.
    """
    distributed = sys.modules.get("distributed")
    if distributed is None:  # never imported: not in a worker
        return None
    try:
        worker = distributed.get_worker()
    except ValueError:
        return None
    # per worker: an in-process cluster of another shape, later, has other workers
    shares = _state.setdefault("worker_shares", {})
    if worker.address not in shares:
        slots = worker.state.nthreads
        try:
            workers = worker.client.scheduler_info(n_workers=-1)["workers"]
            host = worker.address.rsplit(":", 1)[0]
            slots = sum(info["nthreads"] for address, info in workers.items()
                        if address.rsplit(":", 1)[0] == host) or slots
        except Exception:  # an older scheduler API, or none reachable: this worker alone
            pass
        shares[worker.address] = max(1, _usable_cpus() // max(1, slots))
    return shares[worker.address]


def hosts_a_scheduler():
    """Whether a Dask scheduler runs in this process (an in-process cluster, whose
    workers are threads of the caller's interpreter: process-wide settings made from
    a task, TensorFlow's thread pools, would outlive the cluster)."""
    distributed = sys.modules.get("distributed")
    instances = getattr(getattr(distributed, "Scheduler", None), "_instances", ())
    return any(True for _ in instances)


@contextmanager
def numba_threads(n_jobs):
    """Run kernels with ``n_jobs`` numba threads, restoring the caller's setting.

    ``n_jobs=None`` keeps numba's setting, except inside a Dask worker, where
    it is the task's share of the machine (:func:`worker_thread_share`).
    Does nothing where parallel builds may not run (a forked child), since
    asking numba for its thread count starts its threading layer.
    """
    if n_jobs is None:
        n_jobs = worker_thread_share()
    if n_jobs is None or not parallel_allowed():
        yield
        return
    previous = numba.get_num_threads()
    _state["parallel_used"] = True
    limit = numba.config.NUMBA_NUM_THREADS
    n = limit if n_jobs == -1 else (max(1, limit + 1 + n_jobs) if n_jobs < 0 else n_jobs)
    numba.set_num_threads(min(n, limit))
    try:
        yield
    finally:
        numba.set_num_threads(previous)
