"""Training that survives preemption: on SIGTERM (what a preemptible cloud VM, a Kubernetes
eviction or a SLURM time limit sends) the run finishes the iteration in flight plus one,
checkpoints that step and stops with `Preempted` (exit status 75); the same command resumes it
and reaches the same losses as a run that was never stopped.

TensorFlow's `tf.distribute.experimental.PreemptionCheckpointHandler` does the watching and,
across the workers of a MultiWorkerMirroredStrategy cluster, agrees on the step to save at; the
trainer's own checkpoint manager writes the checkpoint (`save_fn`), so preemption checkpoints
are ordinary ones (kept, restored and checked like the periodic ones).
"""

from __future__ import annotations

import contextlib
import signal
import tempfile
import threading

import tensorflow as tf
from tensorflow.python.util import deprecation

from idcg_tf.errors import Preempted


@contextlib.contextmanager
def preemption_checkpoints(strategy, save, describe=lambda path: str(path)):
    """Yields `run(fn)`, which runs one iteration `fn()` under the handler. After SIGTERM the
    iteration after the current one is the last: `save()` writes its checkpoint and `run`
    raises `Preempted`. Outside the main thread (where no signal handler can be installed) it
    yields a plain call. The previous SIGTERM handler is restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda fn: fn()
        return
    previous = signal.getsignal(signal.SIGTERM)
    written = {}

    def exit_fn():
        raise Preempted(describe(written.get("path")))

    config = tf.distribute.experimental.TerminationConfig(
        exit_fn=exit_fn, save_fn=lambda: written.update(path=save())
    )
    resolver = getattr(strategy, "cluster_resolver", None)
    with tempfile.TemporaryDirectory(prefix="idcg-preemption-") as unused:
        # The handler restores from and (without save_fn) writes to a checkpoint of its own:
        # an empty one in a folder nothing is written to, as the trainer checkpoints itself.
        handler = tf.distribute.experimental.PreemptionCheckpointHandler(
            resolver, tf.train.Checkpoint(), checkpoint_dir=unused, termination_config=config
        )

        def run(fn):
            with deprecation.silence():  # the handler reads its own deprecated run counter
                return handler.run(fn)

        try:
            yield run
        finally:
            signal.signal(signal.SIGTERM, previous)
            handler.__del__()  # its own cleanup (watcher threads when multi-worker), now
