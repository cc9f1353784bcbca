"""pytest plugin: fails the run when a tf.data iterator is still alive at the end of a test
process. One left to interpreter shutdown can deadlock there (seen on the AVX2 machines), so
whoever opens one closes it.

Under pytest-xdist (`make test` runs two workers) each worker counts its own and hands the
names to the controller, which reports them and fails the run: a worker's own exit status and
output are not the run's.
"""

from __future__ import annotations

import gc
import sys

import pytest

_KEY = "idcg_live_iterators"
_from_workers: list[str] = []


def live_iterators() -> list[str]:
    """Type names of the tf.data iterators alive in this process (none if TF never loaded)."""
    if "tensorflow" not in sys.modules:
        return []
    from tensorflow.python.data.ops import iterator_ops
    from tensorflow.python.distribute import input_lib

    kinds = (iterator_ops.OwnedIterator, input_lib.DistributedIterator)
    return [type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds)]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """xdist controller: a worker finished; keep what it found."""
    _from_workers.extend(getattr(node, "workeroutput", {}).get(_KEY, []))


def pytest_sessionfinish(session, exitstatus):
    live = live_iterators()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller reports
        workeroutput[_KEY] = live
        return
    live += _from_workers
    if live:
        print(f"\nerror: {len(live)} tf.data iterator(s) alive at the end of the session: {live}")
        session.exitstatus = 1
