"""`benchmark train --profile DIR`: one more iteration under TensorFlow's profiler, and where its
time went, per op kind and per network (forward / backward), read from the trace.

The trace is TensorBoard's (`tensorboard --logdir DIR`, Profile tab, with the
tensorboard-plugin-profile package). The summary reads the trace's XPlane file: each TF op that
ran on the CPU's executor threads, its wall time from start to end. Ops that run at the same time
(TF runs independent ops in parallel, each on its share of the cores) each count their whole
time, so the op seconds add up to about cores x wall time, and the shares are what to compare. On
a GPU this reads the host side only (launches); open the trace in TensorBoard there.
"""

from __future__ import annotations

import collections
import re
import time
from pathlib import Path

import tensorflow as tf

from idcg_tf.errors import UserError

# Call and control-flow ops: their time is that of the ops they run, which are counted.
_WRAPPERS = ("PartitionedCall", "While", "If", "Case")
# "op/name:OpType", one colon: a TF op event (runtime events are "Class::Method").
_OP_EVENT = re.compile(r"^([^:]+):([A-Za-z0-9_]+)$")
# Path prefixes that say where an op was built, not which network it belongs to.
_SCOPE = re.compile(r"^(while/body/_\d+/|while/cond/_\d+/|while/|gradient_tape/)+")
TOP_KINDS = 15


def prepare(logdir: str | Path) -> Path:
    """The trace folder, made now (before minutes of timing): a one-line error where it cannot
    be."""
    logdir = Path(logdir)
    try:
        logdir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--profile {logdir}: cannot make that folder ({error.strerror})") from None
    return logdir


def profile_iteration(trainer, logdir: Path, log) -> dict:
    """Runs one iteration of `trainer` under the profiler, writes the trace under `logdir` (a
    folder `prepare` made), and returns the summary record."""
    before = set(logdir.glob("plugins/profile/*/*.xplane.pb"))
    tf.profiler.experimental.start(str(logdir))
    try:
        start = time.perf_counter()
        trainer.run_iteration()
        seconds = time.perf_counter() - start
    finally:
        tf.profiler.experimental.stop()
    written = sorted(set(logdir.glob("plugins/profile/*/*.xplane.pb")) - before)
    log(f"profiled iteration: {seconds:.2f} s, trace in {logdir}")
    if not written:
        raise UserError(f"--profile {logdir}: TensorFlow's profiler wrote no trace there")
    return {"trace_dir": str(logdir), "iteration_seconds": seconds, **summarize(written[-1])}


def _network(op_name: str) -> tuple[str, str]:
    """(network or scope, "backward" / "forward") of an op from its name."""
    direction = "backward" if "gradient_tape/" in op_name else "forward"
    top = _SCOPE.sub("", op_name).split("/", 1)[0]
    return re.sub(r"(_\d+)+$", "", top), direction


def summarize(xplane_file: str | Path) -> dict:
    """Op seconds per kind (the largest TOP_KINDS) and per network from one XPlane file."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(xplane_file).read_bytes())
    kinds, calls = collections.Counter(), collections.Counter()
    networks = collections.defaultdict(collections.Counter)
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                match = _OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                if match is None or any(w in match.group(2) for w in _WRAPPERS):
                    continue
                seconds = event.duration_ps / 1e12
                kinds[match.group(2)] += seconds
                calls[match.group(2)] += 1
                network, direction = _network(match.group(1))
                networks[network][direction] += seconds
    op_seconds = sum(kinds.values())
    total = op_seconds or 1.0
    # Scopes under 1% of the time (losses, assertions, random draws) as one "other" row.
    rows = sorted(networks.items(), key=lambda kv: -sum(kv[1].values()))
    kept = [(name, split) for name, split in rows if sum(split.values()) >= 0.01 * total]
    other = collections.Counter()
    for name, split in rows[len(kept) :]:
        other.update(split)
    if other:
        kept.append(("other", other))
    return {
        "op_seconds": op_seconds,
        "by_kind": [
            {"kind": k, "seconds": v, "share": v / total, "calls": calls[k]}
            for k, v in kinds.most_common(TOP_KINDS)
        ],
        "by_network": [
            {
                "network": name,
                "forward_seconds": split["forward"],
                "backward_seconds": split["backward"],
                "share": sum(split.values()) / total,
            }
            for name, split in kept
        ],
    }
