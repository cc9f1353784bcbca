"""How every 2D and 3D (transposed) convolution computes: the one implementation table and
the one choice function, by configuration or, per shape, by measurement.

`task.model.conv_impl` (the layers' `impl`) says which, for both ranks alike:

- "stock": Keras' / TF's own op (oneDNN or Eigen on CPU, cuDNN on GPU).
- "custom": each rank's own form: 3D `idcg_tf.ops.conv3d_taps` (2D convolutions over temporal
  taps), 2D `idcg_tf.ops.conv2d_matmul` (the whole convolution as one matmul), where it applies.
- "auto" (default): per shape, the fastest measured, as cuDNN's autotuner does for GPU
  convolutions. A 3D (transposed) convolution whose strides divide its kernel has a third
  candidate there, the whole convolution as one matmul (`idcg_tf.ops.conv3d_matmul`). Every 3D
  convolution has TF's op with its filter gradients as one 2D filter gradient per temporal
  tap, and one over few input channels (the 3-channel first layers) TF's op with its filter
  gradients taken on the input padded first (`idcg_tf.ops.conv3d_filter_grads`).

For "auto": the first time a shape is met, its forward
pass plus both gradients (input and filter) are timed with every implementation on the device
in use, and the fastest is kept. No implementation wins every layer: with oneDNN off, TF's
Eigen Conv3D beats the 2D-taps form on small deep layers and loses on large ones; in 2D,
oneDNN's kernels win the large maps and one matmul (`idcg_tf.ops.conv2d_matmul`) the 4x4 maps
(per-layer tables, with the CPU they were measured on: docs/performance.md).

Choices are cached on disk under `$IDCG_CACHE/conv_autotune/` (default
`~/.cache/idcg_tf`), one JSON file per (TF version, device or CPU model, CPU count, oneDNN
on/off, ONEDNN_MAX_CPU_ISA), so later runs on the same kind of machine pick the same without
timing. `IDCG_CONV_AUTOTUNE=0` turns timing off (the older name of the switch,
IDCG_CONV3D_AUTOTUNE, is read when the new one is unset); "auto" then takes a fixed rule:
"stock", except 3D layers on a CPU without TF's oneDNN kernels, where "custom" wins.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import threading
import time

import tensorflow as tf

from idcg_tf.architecture import CONV_IMPL_ALIASES, CONV_IMPLS
from idcg_tf.console import tf_warnings_held
from idcg_tf.cpu import cpu_model, onednn_enabled, onednn_isa_limit, tf_kernels
from idcg_tf.fileio import write_atomically
from idcg_tf.ops.conv2d_matmul import conv2d_matmul, conv2d_transpose_matmul
from idcg_tf.ops.conv2d_matmul import supported as matmul_supported
from idcg_tf.ops.conv3d_filter_grads import conv3d_padded, conv3d_tap_filters
from idcg_tf.ops.conv3d_matmul import conv3d_matmul, conv3d_transpose_matmul
from idcg_tf.ops.conv3d_taps import conv3d_taps, conv3d_transpose_taps, same_paddings

_log = logging.getLogger(__name__)

ENV_SWITCH = "IDCG_CONV_AUTOTUNE"
LEGACY_ENV_SWITCH = "IDCG_CONV3D_AUTOTUNE"  # the switch's name before it covered 2D layers
# 2: without the "fast" candidate (removed: it never won, docs/performance.md); 3: the cache
# folder renamed conv_autotune, the 2D and 3D layers' choices in one table; 4: the 2D matmul
# form reads its kernel without a transpose (faster, so its old timings are stale); 5: 3D
# convolutions have the matmul candidate too (entries without its timing are stale); 6: close
# calls are timed again, alternating (a single slow pair of runs had picked a form 1.6x slower
# than stock for a layer; entries chosen without it may be wrong); 7: the forward pass is timed
# too (before, only the two gradients were: the forward's output was pruned as unused); 8: the
# matmul forms take their windows with tf.slice, whose gradient is a pad (faster than a strided
# slice's, so their old timings are stale), and only where their patch matrix is small
# (`MATMUL_MAX_PATCH_VALUES`); 9: 3D transposed convolutions have the matmul candidate too;
# 10: 3D convolutions over few channels have the padded candidate; 11: 3D convolutions have the
# tap_filters candidate (entries without its timing are stale).
CACHE_VERSION = 11
# Candidates within this factor of the fastest after the first timing are timed again, one run
# each per round, alternating, and the fastest single run decides: a pause of the machine that
# slows both runs of one candidate then no longer decides the choice.
CLOSE_CALL = 1.5
CONFIRM_ROUNDS = 3


def _stock_conv(x, w, strides):
    """TF's own convolution of the rank of `strides` (Conv2D or Conv3D), "same" padding."""
    conv = tf.nn.conv3d if len(strides) == 3 else tf.nn.conv2d
    return conv(x, w, [1, *strides, 1], "SAME")


def _stock_transpose(x, w, strides):
    """TF's own transposed convolution of the rank of `strides`, output = input * strides."""
    rank = len(strides)
    spatial = [n * s for n, s in zip(x.shape[1 : 1 + rank], strides)]
    out = tf.concat([tf.shape(x)[:1], spatial, tf.shape(w)[rank : rank + 1]], axis=0)
    transpose = tf.nn.conv3d_transpose if rank == 3 else tf.nn.conv2d_transpose
    return transpose(x, w, out, [1, *strides, 1], "SAME")


# The implementation table: per kind of layer, "stock" (what Keras' Conv3D / Conv3DTranspose /
# Conv2D / Conv2DTranspose run), its "custom" form (the first after stock) and any further
# candidates "auto" times, under the names the cache records.
CANDIDATES = {
    "conv": {
        "stock": _stock_conv,
        "taps": conv3d_taps,
        "matmul": conv3d_matmul,
        "padded": conv3d_padded,
        "tap_filters": conv3d_tap_filters,
    },
    "transpose": {
        "stock": _stock_transpose,
        "taps": conv3d_transpose_taps,
        "matmul": conv3d_transpose_matmul,
    },
    "conv2d": {"stock": _stock_conv, "matmul": conv2d_matmul},
    "transpose2d": {"stock": _stock_transpose, "matmul": conv2d_transpose_matmul},
}
CUSTOM = {kind: next(k for k in ops if k != "stock") for kind, ops in CANDIDATES.items()}
# The padded form is a candidate for layers of at most this many input channels (fewer than
# the 8 floats of one AVX2 register): the 3-channel first layers, where its filter gradients are
# faster in oneDNN's AVX2 code; on wider layers it was as fast or slower (docs/performance.md).
PADDED_MAX_CHANNELS = 7


def _few_channels(kernel_shape, strides) -> bool:
    return kernel_shape[len(strides)] <= PADDED_MAX_CHANNELS


# Candidates that compute only some kernels / strides, with the test for them.
APPLIES = {
    ("conv", "matmul"): matmul_supported,
    ("transpose", "matmul"): matmul_supported,
    ("conv", "padded"): _few_channels,
}
# The matmul forms multiply a patch matrix of (output positions) x (kernel volume x channels)
# values, which the filter gradient keeps until the backward pass. Above this many values per
# sample (4 MiB in float32) they are not candidates: on the large early layers (the video
# critic's 3-channel first layer, 3 Mi values a sample) the matrix adds a few hundred MiB to
# a training step's peak for a few percent of that layer's time, and on the 3x3x3 stride-1
# layers it is the slower form anyway (docs/performance.md).
MATMUL_MAX_PATCH_VALUES = 1 << 20


def patch_values(kind: str, input_shape, kernel_shape, strides) -> int:
    """Values per sample of the matmul form's patch matrix (for a transposed convolution, of
    its matmul's output, the same matrix of the adjoint convolution)."""
    rank = len(strides)
    spatial, kernel = input_shape[1 : 1 + rank], kernel_shape[:rank]
    if kind.startswith("transpose"):
        positions = math.prod(spatial)
    else:  # the "same" convolution's output positions
        positions = math.prod(same_paddings(spatial, kernel, strides)[0])
    # kernel_shape[rank]: the input channels of a convolution (k..., C, F), the output
    # channels of a transposed one (k..., F, C)
    return positions * math.prod(kernel) * kernel_shape[rank]


def candidates(kind: str, kernel_shape, strides, input_shape=None) -> dict:
    """The implementations of CANDIDATES[kind] that compute this kernel with these strides;
    with `input_shape`, the matmul forms only where their patch matrix is at most
    `MATMUL_MAX_PATCH_VALUES` a sample."""

    def applies(impl) -> bool:
        if not APPLIES.get((kind, impl), lambda k, s: True)(kernel_shape, strides):
            return False
        if impl != "matmul" or input_shape is None:
            return True
        return patch_values(kind, input_shape, kernel_shape, strides) <= MATMUL_MAX_PATCH_VALUES

    return {impl: op for impl, op in CANDIDATES[kind].items() if applies(impl)}


def check_impl(impl: str) -> str:
    """`impl` in today's names ("taps" / "matmul" read as "custom"); ValueError otherwise."""
    impl = CONV_IMPL_ALIASES.get(impl, impl)
    if impl not in CONV_IMPLS:
        raise ValueError(f"impl must be one of {CONV_IMPLS}, got {impl!r}")
    return impl


def fixed_rule(kind: str) -> str:
    """What "auto" means without timing: "stock", except 3D layers on a CPU that runs TF's
    Eigen kernels (no GPU, oneDNN off), whose custom form is far faster there."""
    if kind in ("conv", "transpose") and tf_kernels() == "eigen":
        return CUSTOM[kind]
    return "stock"


def resolve(impl: str, kind: str, input_shape, kernel_shape, strides, dtype, applies=True) -> str:
    """The one choice function: the CANDIDATES name a layer of `kind` computes with, for a
    call on `input_shape`. `applies`: whether the custom form can compute this call (2D
    matmul needs static shapes and "same" padding); "stock" where it cannot."""
    impl = check_impl(impl)
    if not applies or impl == "stock":
        return "stock"
    if impl == "custom":
        return CUSTOM[kind]
    shape = tuple(input_shape)
    if not enabled() or any(d is None for d in shape[1:]):
        return fixed_rule(kind)
    shape = (shape[0] or 1, *shape[1:])  # an unknown batch is timed at 1
    return choose(kind, shape, tuple(kernel_shape), tuple(strides), dtype)


_lock = threading.Lock()
_memory: dict[str, dict] = {}  # shape key -> {"impl", "ms"}, for this process
_loaded_file: str | None = None
_used: dict[str, str] = {}  # shape key -> impl, of the layers traced in this process
timings_run = 0  # shapes timed in this process (the tests read it)


_suspended = 0  # > 0 inside `suspended()`


def enabled() -> bool:
    """False when `IDCG_CONV_AUTOTUNE` (or, unset, its older name) is 0 / false / off / no, or
    inside `suspended()`."""
    if _suspended:
        return False
    value = os.environ.get(ENV_SWITCH, os.environ.get(LEGACY_ENV_SWITCH, "1"))
    return value.strip().lower() not in ("0", "false", "off", "no")


@contextlib.contextmanager
def suspended():
    """No timing inside (layers built here take the fixed rules): for graphs that are only
    inspected, such as the FLOP count's, not run."""
    global _suspended
    _suspended += 1
    try:
        yield
    finally:
        _suspended -= 1


def cache_dir() -> str:
    base = os.environ.get("IDCG_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "idcg_tf"
    )
    return os.path.join(base, "conv_autotune")


def device_key() -> dict:
    """What a timing depends on besides the shape: TF version, device, oneDNN on/off."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = (
            f"GPU {details.get('device_name', 'unknown')} cc {details.get('compute_capability')}"
        )
    else:
        device = f"CPU {cpu_model()} x{os.cpu_count()}"
    key = {"tf": tf.__version__, "device": device, "onednn": onednn_enabled()}
    if onednn_isa_limit():  # oneDNN limited to an older ISA: other timings
        key["onednn_max_cpu_isa"] = onednn_isa_limit()
    return key


def cache_path() -> str:
    key = json.dumps(device_key(), sort_keys=True)
    return os.path.join(cache_dir(), hashlib.sha1(key.encode()).hexdigest()[:16] + ".json")


def shape_key(kind: str, input_shape, kernel_shape, strides, dtype) -> str:
    dims = lambda s: "x".join(str(int(d)) for d in s)  # noqa: E731
    return (
        f"{kind} in={dims(input_shape)} k={dims(kernel_shape)} s={dims(strides)} "
        f"{tf.as_dtype(dtype).name}"
    )


def _load() -> None:
    """Reads this device's cache file into memory once. A damaged file (ours, so a crash or a
    full disk) is named, set aside and rebuilt by timing again."""
    global _loaded_file
    path = cache_path()
    if _loaded_file == path:
        return
    _loaded_file = path
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            data = json.load(f)
        if data.get("version") != CACHE_VERSION or data.get("device") != device_key():
            return  # an older cache format or another TF/CPU: not damage; timed again, replaced
        choices = data["choices"]
        for key, entry in choices.items():
            if entry["impl"] not in CANDIDATES[key.split(" ", 1)[0]]:
                raise ValueError(f"unknown implementation {entry['impl']!r}")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        _log.warning("%s: damaged conv autotune cache (%s); timing again", path, exc)
        return
    for key, entry in choices.items():
        _memory.setdefault(key, entry)


def _save() -> None:
    path = cache_path()
    data = {"version": CACHE_VERSION, "device": device_key(), "choices": _memory}
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomically(path, json.dumps(data, indent=1, sort_keys=True))
    except OSError as exc:  # a read-only cache costs a re-timing next run, nothing more
        _log.warning("%s: cannot write the conv autotune cache (%s)", path, exc)


def _time_one(fn, x, w, r, repeats: int, give_up_after: float) -> float:
    """Best seconds of fn(x, w, r) over `repeats` runs after one untimed run (kernel set-up,
    oneDNN primitive creation); a run slower than `give_up_after` (already beaten by far) is
    not repeated."""
    fn(x, w, r).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x, w, r).numpy()
        best = min(best, time.perf_counter() - start)
        if best > give_up_after:
            break
    return best


def measure(kind: str, input_shape, kernel_shape, strides, dtype, repeats: int = 2) -> dict:
    """Seconds of forward + input gradient + filter gradient per implementation."""
    # Each candidate is traced on purpose: TF's "triggered tf.function retracing" warning is
    # held back while timing.
    with tf_warnings_held():
        return _measure(kind, input_shape, kernel_shape, strides, dtype, repeats)


def _timing_step(op, strides):
    """A function of (x, w, r) that runs `op`'s forward pass and both gradients of
    sum(op(x, w) * r). It returns the loss with the gradients' sums: the gradients do not read
    the forward's output, so without the loss the forward pass would be pruned from the graph
    and not timed. Scalars out: the timing is the layer's, not a device-to-host copy's."""

    @tf.function(autograph=False)
    def step(x, w, r):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(op(x, w, strides) * r)
        dx, dw = tape.gradient(loss, [x, w])
        return tf.add_n(
            [tf.cast(t, tf.float32) for t in (loss, tf.reduce_sum(dx), tf.reduce_sum(dw))]
        )

    return step


def _measure(kind, input_shape, kernel_shape, strides, dtype, repeats) -> dict:
    device = "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    seconds, steps = {}, {}
    with tf.device(device):
        g = tf.random.Generator.from_seed(0)
        x = tf.cast(g.normal(input_shape), dtype)
        w = tf.cast(g.normal(kernel_shape) * 0.05, dtype)
        r = None
        for impl, op in candidates(kind, kernel_shape, strides, input_shape).items():
            step = _timing_step(op, strides)
            if r is None:
                r = tf.cast(g.normal(op(x, w, strides).shape), dtype)
            best = min(seconds.values(), default=float("inf"))
            seconds[impl] = _time_one(step, x, w, r, repeats, give_up_after=5 * best)
            steps[impl] = step
        _confirm(seconds, steps, x, w, r)
    return seconds


def _confirm(seconds: dict, steps: dict, x, w, r) -> None:
    """Times the close calls again (`CLOSE_CALL`), alternating, `CONFIRM_ROUNDS` rounds of one
    run each; keeps each candidate's fastest run of all (updates `seconds` in place)."""
    best = min(seconds.values())
    close = [impl for impl, s in seconds.items() if s <= CLOSE_CALL * best]
    if len(close) < 2:
        return
    for _ in range(CONFIRM_ROUNDS):
        for impl in close:
            start = time.perf_counter()
            steps[impl](x, w, r).numpy()
            seconds[impl] = min(seconds[impl], time.perf_counter() - start)


def _measure_in_own_thread(*args) -> dict:
    """`measure` in a fresh thread: called while a model is being traced, inside a gradient
    tape (paused there, so the timing's own tape would record nothing) and maybe a
    distribution strategy's replica context; graphs, tapes and strategies are per thread,
    so the new thread times plain eager ops on the device."""
    out = {}

    def target():
        try:
            out["seconds"] = measure(*args)
        except BaseException as exc:  # handed to the caller below
            out["error"] = exc

    thread = threading.Thread(target=target, name="conv-autotune")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["seconds"]


def choose(kind: str, input_shape, kernel_shape, strides, dtype) -> str:
    """The fastest implementation for this shape on this device: from memory, else from the
    disk cache, else timed now (and then cached)."""
    global timings_run
    key = shape_key(kind, input_shape, kernel_shape, strides, dtype)
    with _lock:
        if key not in _memory:
            _load()
        if key not in _memory:
            seconds = _measure_in_own_thread(kind, input_shape, kernel_shape, strides, dtype)
            timings_run += 1
            impl = min(seconds, key=seconds.get)
            _memory[key] = {"impl": impl, "ms": {k: round(v * 1e3, 3) for k, v in seconds.items()}}
            _log.info("conv autotune: %s -> %s %s", key, impl, _memory[key]["ms"])
            _save()
        _used[key] = _memory[key]["impl"]
        return _used[key]


def choices() -> dict:
    """The choices of the layers traced in this process: shape key -> {"impl", "ms"}."""
    with _lock:
        return {k: dict(_memory[k]) for k in sorted(_used)}


def reset_memory() -> None:
    """Forgets the in-process choices (the disk cache stays): the next `choose` reads the file."""
    global _loaded_file
    with _lock:
        _memory.clear()
        _used.clear()
        _loaded_file = None
