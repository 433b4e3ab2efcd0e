"""TensorFlow helpers of the neural models: the lazy import, Adam, and step tracing."""

import os

from ..utils._parallel import hosts_a_scheduler, worker_thread_share

__all__ = ["adam", "compile_step", "import_tensorflow"]

# Trace the training step into a graph only when a fit has many steps: tracing
# costs ~0.2 s, more than a few eager steps on small data.
_TRACE_MIN_STEPS = 50


def import_tensorflow():
    """Import and return the ``tensorflow`` module (only ever called inside ``fit``).

    Inside a Dask worker, TensorFlow's thread pools are sized to the task's
    share of the machine (:func:`~sklearn_recsys.utils._parallel.worker_thread_share`).

    Raises
    ------
    ImportError
        When TensorFlow is not installed, naming the extra that installs it.
    """
    # hide TF's CPU-instruction banner unless the user chose a level
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise ImportError(
            "Training the neural models needs TensorFlow, which is not installed: "
            'pip install tensorflow (or, from a checkout of sklearn_recsys, pip install '
            '".[tensorflow]", which picks the smaller tensorflow-cpu where it exists). A '
            "fitted model scores, recommends and pickles without it."
        ) from exc
    share = worker_thread_share()
    if share is not None and not hosts_a_scheduler():
        # in a Dask worker: the task's share of the cores, not one thread per core
        # (settable only before TensorFlow's runtime starts in this process); not in
        # an in-process cluster, where it would cap the caller's TensorFlow for good
        try:
            tf.config.threading.set_intra_op_parallelism_threads(share)
            tf.config.threading.set_inter_op_parallelism_threads(share)
        except RuntimeError:
            pass
    return tf


def adam(tf, variables, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8, state=None):
    """Adam (Kingma & Ba 2015) on ``variables``, as ``apply(grads)``.

    Written out rather than taken from Keras so that the update is plain
    TensorFlow on ``tf.Variable`` objects, traced into the training step,
    with TF1's epsilon (1e-8) as in the reference implementations.
    ``state`` (from a previous ``apply.state()``: NumPy moments and step
    count) resumes an optimizer, as ``partial_fit`` does between calls.
    """
    if state is None:
        m = [tf.Variable(tf.zeros_like(v)) for v in variables]
        v2 = [tf.Variable(tf.zeros_like(v)) for v in variables]
        t = tf.Variable(0.0)
    else:
        m = [tf.Variable(a) for a in state["m"]]
        v2 = [tf.Variable(a) for a in state["v"]]
        t = tf.Variable(float(state["t"]))

    def apply(grads):
        t.assign_add(1.0)
        lr_t = learning_rate * tf.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t)
        for var, g, mi, vi in zip(variables, grads, m, v2):
            if isinstance(g, tf.IndexedSlices):  # gathered rows (CDAE's user nodes)
                g = tf.convert_to_tensor(g)
            mi.assign(beta1 * mi + (1.0 - beta1) * g)
            vi.assign(beta2 * vi + (1.0 - beta2) * tf.square(g))
            var.assign_sub(lr_t * mi / (tf.sqrt(vi) + epsilon))

    apply.state = lambda: {"m": [a.numpy() for a in m], "v": [a.numpy() for a in v2],
                           "t": float(t.numpy())}
    return apply


def compile_step(tf, step, n_steps, input_signature=None):
    """The training step, traced by ``tf.function`` when ``n_steps`` make it pay."""
    if n_steps <= _TRACE_MIN_STEPS:
        return step
    if input_signature is not None:
        return tf.function(step, reduce_retracing=True, input_signature=input_signature)
    return tf.function(step, reduce_retracing=True)
