"""The custom convolutions equal TF's own: 3D ("taps": 2D convolutions over temporal taps;
"matmul": one matmul; "padded": filter gradients on the input padded first; "tap_filters":
filter gradients as 2D ones per temporal tap) and 2D ("matmul"),
plain and transposed: values, all gradients, and the second derivative the WGAN-GP penalty
takes through the critics; the per-shape autotuner that chooses between them; the sub-pixel
form of transposed convolutions the LiteRT files run."""

import json
import math
import time

import numpy as np
import pytest
import tensorflow as tf

from idcg_tf import cpu
from idcg_tf.layers import ImageConv, ImageConvTranspose, VideoConv, VideoConvTranspose
from idcg_tf.ops import conv3d_taps, conv3d_transpose_taps
from idcg_tf.ops.conv2d_matmul import conv2d_matmul, conv2d_transpose_matmul
from idcg_tf.ops.conv2d_subpixel import conv2d_transpose_subpixel
from idcg_tf.ops.conv3d_filter_grads import conv3d_padded, conv3d_tap_filters
from idcg_tf.ops.conv3d_matmul import conv3d_matmul, conv3d_transpose_matmul
from idcg_tf.ops.litert_trace import litert_trace

TOL = 1e-4  # relative to the largest reference value

# (op, input shape, kernel, strides): the models' shapes (k=4 stride 2 / (1, 2, 2), k=3
# stride 1), plus odd sizes where TF's "same" padding is asymmetric and unequal strides; 3D
# "taps", "matmul", "padded" and "tap_filters", 2D "matmul".
CONVS = [
    (conv3d_taps, (2, 8, 8, 8, 3), 4, (2, 2, 2)),
    (conv3d_taps, (2, 4, 8, 8, 5), 4, (1, 2, 2)),
    (conv3d_taps, (2, 4, 6, 6, 5), 3, (1, 1, 1)),
    (conv3d_taps, (1, 5, 7, 9, 2), 4, (2, 2, 2)),
    (conv3d_taps, (1, 3, 5, 4, 2), (3, 4, 2), (2, 1, 2)),
    (conv3d_matmul, (2, 8, 8, 8, 3), 4, (2, 2, 2)),
    (conv3d_matmul, (2, 4, 8, 8, 5), 4, (1, 2, 2)),
    (conv3d_matmul, (2, 4, 6, 6, 5), 3, (1, 1, 1)),
    (conv3d_matmul, (1, 5, 7, 9, 2), 4, (2, 2, 2)),
    (conv3d_matmul, (1, 6, 5, 4, 2), (4, 3, 2), (2, 1, 2)),
    (conv3d_matmul, (2, 2, 4, 4, 4), 2, (2, 2, 2)),
    (conv3d_padded, (2, 8, 8, 8, 3), 4, (2, 2, 2)),
    (conv3d_padded, (2, 4, 8, 8, 5), 4, (1, 2, 2)),
    (conv3d_padded, (2, 4, 6, 6, 5), 3, (1, 1, 1)),
    (conv3d_padded, (1, 5, 7, 9, 2), 4, (2, 2, 2)),
    (conv3d_padded, (1, 3, 5, 4, 2), (3, 4, 2), (2, 1, 2)),
    (conv3d_tap_filters, (2, 8, 8, 8, 3), 4, (2, 2, 2)),
    (conv3d_tap_filters, (2, 4, 8, 8, 5), 4, (1, 2, 2)),
    (conv3d_tap_filters, (2, 4, 6, 6, 5), 3, (1, 1, 1)),
    (conv3d_tap_filters, (1, 5, 7, 9, 2), 4, (2, 2, 2)),
    (conv3d_tap_filters, (1, 3, 5, 4, 2), (3, 4, 2), (2, 1, 2)),
    (conv3d_tap_filters, (1, 6, 5, 4, 2), (3, 2, 2), (3, 1, 2)),
    (conv2d_matmul, (2, 8, 8, 5), 4, (2, 2)),
    (conv2d_matmul, (2, 4, 4, 6), 3, (1, 1)),
    (conv2d_matmul, (1, 7, 9, 3), 4, (2, 2)),
    (conv2d_matmul, (1, 6, 8, 2), (4, 2), (2, 1)),
]
TRANSPOSED = [
    (conv3d_transpose_taps, (2, 2, 4, 4, 5), 4, (2, 2, 2)),
    (conv3d_transpose_taps, (2, 2, 4, 4, 5), 4, (1, 2, 2)),
    (conv3d_transpose_taps, (1, 3, 3, 5, 2), 3, (2, 2, 1)),
    (conv3d_transpose_matmul, (2, 2, 4, 4, 5), 4, (2, 2, 2)),
    (conv3d_transpose_matmul, (2, 2, 4, 4, 5), 4, (1, 2, 2)),
    (conv3d_transpose_matmul, (1, 3, 3, 3, 4), 3, (1, 1, 1)),
    (conv3d_transpose_matmul, (1, 3, 3, 5, 2), (4, 2, 2), (2, 1, 2)),
    (conv2d_transpose_matmul, (2, 4, 4, 5), 4, (2, 2)),
    (conv2d_transpose_matmul, (1, 3, 5, 4), 3, (1, 1)),
    (conv2d_transpose_matmul, (1, 3, 4, 2), 4, (2, 1)),
]


def _close(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape
    scale = max(float(np.abs(want).max()), 1e-12)
    assert float(np.abs(got - want).max()) / scale < TOL


def _data(shape, kernel, out_channels, transposed, seed=0):
    rng = np.random.default_rng(seed)
    ksize = (kernel,) * (len(shape) - 2) if isinstance(kernel, int) else kernel
    kshape = (*ksize, out_channels, shape[-1]) if transposed else (*ksize, shape[-1], out_channels)
    return (
        tf.constant(rng.normal(size=shape), tf.float32),
        tf.constant(rng.normal(size=kshape), tf.float32),
    )


def _stock_conv(x, w, strides):
    """TF's Conv2D / Conv3D."""
    conv = tf.nn.conv3d if len(strides) == 3 else tf.nn.conv2d
    return conv(x, w, [1, *strides, 1], "SAME")


def _stock_transpose(x, w, strides):
    """TF's Conv2DBackpropInput / Conv3DBackpropInputV2 as a transposed convolution."""
    rank = len(strides)
    out = [x.shape[0], *(n * s for n, s in zip(x.shape[1 : 1 + rank], strides)), w.shape[rank]]
    transpose = tf.nn.conv3d_transpose if rank == 3 else tf.nn.conv2d_transpose
    return transpose(x, w, out, [1, *strides, 1], "SAME")


def _first_and_second_order(fn, x, w):
    """Value, d/dx and d/dw of sum(y * r), and d/dw of the squared input-gradient norm."""
    r = tf.random.stateless_normal(fn(x, w).shape, seed=[1, 2])
    with tf.GradientTape() as outer:
        outer.watch(w)
        with tf.GradientTape(persistent=True) as inner:
            inner.watch([x, w])
            y = fn(x, w)
            loss = tf.reduce_sum(y * r)
        dx, dw = inner.gradient(loss, [x, w])
        penalty = tf.reduce_sum(tf.square(dx))
    return y, dx, dw, outer.gradient(penalty, w)


@pytest.mark.parametrize(
    "op,shape,kernel,strides,transposed",
    [(*case, False) for case in CONVS] + [(*case, True) for case in TRANSPOSED],
)
def test_custom_convolutions_match_tf_with_gradients(op, shape, kernel, strides, transposed):
    x, w = _data(shape, kernel, 6, transposed=transposed)
    reference = _stock_transpose if transposed else _stock_conv
    want = _first_and_second_order(lambda x, w: reference(x, w, strides), x, w)
    got = _first_and_second_order(lambda x, w: op(x, w, strides), x, w)
    for g, ref in zip(got, want):
        _close(g, ref)


@pytest.mark.parametrize(
    "form, filter_op, per_call",
    [(conv3d_padded, "Conv3DBackpropFilterV2", 1), (conv3d_tap_filters, "Conv2DBackpropFilter", 4)],
)
def test_filter_gradient_forms_carry_the_penalty_through_a_critic(form, filter_op, per_call):
    """The WGAN-GP step through a first layer in a filter-gradient form, a LeakyReLU and a
    second layer: the loss and both kernels' gradients (the penalty's second derivative through
    the first layer's input gradient and through the second layer's upstream gradient) are
    TF's, and every filter gradient of the first layer, the second-order one included, is the
    form's: on the padded input ("VALID"), or one 2D filter gradient per temporal tap."""
    rng = np.random.default_rng(3)
    real, fake = (tf.constant(rng.normal(size=(2, 8, 8, 8, 3)), tf.float32) for _ in "rf")
    w1 = tf.constant(rng.normal(size=(4, 4, 4, 3, 5)) * 0.2, tf.float32)
    w2 = tf.constant(rng.normal(size=(4, 4, 4, 5, 2)) * 0.2, tf.float32)
    eps = tf.constant(rng.uniform(size=(2, 1, 1, 1, 1)), tf.float32)

    def step(first):
        def critic(x):
            h = tf.nn.leaky_relu(first(x, w1, (2, 2, 2)) + 0.1, 0.2)
            return tf.reduce_sum(_stock_conv(h, w2, (2, 2, 2)) ** 2, axis=[1, 2, 3, 4])

        def run(real, fake):
            with tf.GradientTape() as outer:
                outer.watch([w1, w2])
                x_hat = real + eps * (fake - real)
                with tf.GradientTape() as inner:
                    inner.watch(x_hat)
                    scores = critic(x_hat)
                grads = inner.gradient(scores, x_hat)
                penalty = (tf.norm(tf.reshape(grads, [2, -1]), axis=1) - 1.0) ** 2
                loss = tf.reduce_mean(critic(fake) - critic(real) + 10.0 * penalty)
            return [loss, *outer.gradient(loss, [w1, w2])]

        return tf.function(run).get_concrete_function(real, fake)

    want, got = step(_stock_conv), step(form)
    for g, ref in zip(got(real, fake), want(real, fake)):
        _close(g, ref)
    first_layer = [
        o
        for o in got.graph.get_operations()
        if "BackpropFilter" in o.type and o.inputs[0].shape[-1] == 3
    ]
    # real, fake and x_hat through the forward pass, x_hat's input gradient's second order, and
    # the inner tape's kernel gradient, which nothing reads (the graph optimizer prunes it)
    assert len(first_layer) == 5 * per_call
    assert {o.type for o in first_layer} == {filter_op}
    if filter_op == "Conv3DBackpropFilterV2":
        assert {o.get_attr("padding") for o in first_layer} == {b"VALID"}


@pytest.mark.parametrize(
    "shape, kernel, strides",
    [
        ((2, 4, 4, 5), 4, (2, 2)),  # the models' layers
        ((1, 5, 7, 3), 4, (2, 2)),
        ((2, 4, 4, 5), 3, (1, 1)),
        ((1, 3, 5, 2), 4, (1, 1)),
        ((1, 3, 4, 2), 6, (2, 2)),
        ((1, 3, 4, 2), (4, 6), (2, 3)),
    ],
)
def test_subpixel_transposed_form_matches_tf(shape, kernel, strides):
    x, w = _data(shape, kernel, 6, transposed=True)
    _close(conv2d_transpose_subpixel(x, w, strides), _stock_transpose(x, w, strides))


def _traced(fn, x):
    """fn traced once (dynamic batch): its value on x and its graph."""
    concrete = tf.function(fn).get_concrete_function(tf.TensorSpec([None, *x.shape[1:]]))
    return concrete(x), concrete.graph


def _op_types(graph) -> set[str]:
    return {o.type for o in graph.get_operations()}


def test_litert_trace_runs_transposed_convolutions_as_subpixel_convolutions():
    """Inside `litert_trace` the transposed taps form's phases and
    ImageConvTranspose run as 2D convolutions with the same values; outside it, as before."""
    x, w = _data((2, 2, 4, 4, 5), 4, 6, transposed=True)
    want = _stock_transpose(x, w, (2, 2, 2))

    def taps(x):
        return conv3d_transpose_taps(x, w, (2, 2, 2))

    with litert_trace():
        got, graph = _traced(taps, x)
    _close(got, want)
    ops = _op_types(graph)
    assert "Conv2DBackpropInput" not in ops and "Conv2D" in ops and "DepthToSpace" in ops
    assert "Conv2DBackpropInput" in _op_types(_traced(taps, x)[1])

    layer = ImageConvTranspose(6, 4, strides=2, padding="same", impl="stock")
    x2 = x[:, 0]
    want = layer(x2)
    with litert_trace():
        got, graph = _traced(layer, x2)
    _close(got, want)
    ops = _op_types(graph)
    assert "Conv2DBackpropInput" not in ops and "Conv2D" in ops
    assert "Conv2DBackpropInput" in _op_types(_traced(layer, x2)[1])


@pytest.mark.parametrize(
    "shape, kernel, strides",
    [
        ((2, 8, 8, 8, 3), 4, (2, 2, 2)),
        ((1, 5, 7, 9, 2), 4, (2, 2, 2)),
        ((1, 7, 4, 4, 2), 5, (3, 1, 1)),
    ],
)
def test_litert_trace_takes_time_strided_taps_without_strided_slices(shape, kernel, strides):
    """LiteRT's CPU kernels run only unit-stride slices: in the LiteRT trace the taps of a
    time-strided convolution are unit-stride slices of frames folded into pairs."""
    x, w = _data(shape, kernel, 4, transposed=False)
    want = _stock_conv(x, w, strides)
    with litert_trace():
        got, graph = _traced(lambda x: conv3d_taps(x, w, strides), x)
    _close(got, want)
    for op in graph.get_operations():
        if op.type == "StridedSlice":
            assert set(tf.get_static_value(op.inputs[3]).tolist()) == {1}, op.name


@pytest.mark.parametrize(
    "shape, kernel, strides, convolutions",
    [
        ((1, 8, 6, 6, 16), 4, (2, 2, 2), 4),  # the encoders' strided layers
        ((2, 4, 4, 4, 16), 3, (1, 1, 1), 3),  # the residual blocks
        ((1, 1, 4, 4, 16), 3, (1, 1, 1), 1),  # one frame: only the middle tap reads it
        ((1, 5, 5, 4, 16), (3, 2, 3), (2, 1, 2), 3),  # odd sizes, asymmetric padding
        ((1, 8, 6, 6, 3), 4, (2, 2, 2), 1),  # too few channels: the taps stacked
    ],
)
def test_litert_float_trace_runs_one_convolution_per_tap(shape, kernel, strides, convolutions):
    """With `tap_sum` (the float LiteRT files), a 3D convolution over enough channels is one 2D
    convolution per tap that reads real frames, each over those frames only, with the same
    values and unit-stride slices; without it (int8), the stacked taps' one convolution."""
    x, w = _data(shape, kernel, 8, transposed=False)
    want = _stock_conv(x, w, strides)
    with litert_trace(tap_sum=True):
        got, graph = _traced(lambda x: conv3d_taps(x, w, strides), x)
    _close(got, want)
    assert sum(o.type == "Conv2D" for o in graph.get_operations()) == convolutions
    for op in graph.get_operations():
        if op.type == "StridedSlice":
            assert set(tf.get_static_value(op.inputs[3]).tolist()) == {1}, op.name
    with litert_trace():
        got, graph = _traced(lambda x: conv3d_taps(x, w, strides), x)
    _close(got, want)
    assert sum(o.type == "Conv2D" for o in graph.get_operations()) == 1


@pytest.mark.parametrize(
    "op,shape",
    [
        (conv2d_matmul, (1, 4, 4, 64)),
        (conv2d_transpose_matmul, (1, 4, 4, 64)),
        (conv3d_matmul, (1, 4, 4, 4, 64)),
        (conv3d_transpose_matmul, (1, 2, 2, 2, 64)),
    ],
)
def test_matmul_forms_read_the_kernel_without_transposing_it(op, shape):
    """The kernel is the large operand of these small-map layers: a transpose of it would run
    on every call, inference included. Only the patch (or output) matrix is reordered."""
    transposed = op in (conv2d_transpose_matmul, conv3d_transpose_matmul)
    strides = (2,) * (len(shape) - 2)
    x, w = _data(shape, 4, 128, transposed=transposed)
    graph = tf.function(lambda x, w: op(x, w, strides)).get_concrete_function(x, w).graph
    sizes = [
        int(np.prod(o.outputs[0].shape)) for o in graph.get_operations() if o.type == "Transpose"
    ]
    assert sizes and max(sizes) < w.shape.num_elements()


@pytest.mark.parametrize(
    "cls,shape,strides",
    [(VideoConv, (2, 4, 8, 8, 3), (2, 2, 2)), (VideoConvTranspose, (2, 2, 4, 4, 3), (1, 2, 2))],
)
def test_layer_impls_share_weights_and_agree(cls, shape, strides):
    """Same variables under every impl (checkpoints are interchangeable); same outputs and
    gradients, bias included."""
    x = tf.random.stateless_normal(shape, seed=[3, 4])
    stock = cls(4, 4, strides, impl="stock")
    taps = cls(4, 4, strides, impl="custom")
    stock.build(shape)
    taps.build(shape)
    assert [v.path for v in stock.weights] == [
        v.path.replace(taps.name, stock.name) for v in taps.weights
    ]
    for src, dst in zip(stock.weights, taps.weights):
        dst.assign(src + 0.1)  # a non-zero bias too
        src.assign(src + 0.1)
    results = []
    for layer in (stock, taps):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        results.append([y, *tape.gradient(loss, [x, *layer.trainable_weights])])
    for got, want in zip(results[1], results[0]):
        _close(got, want)


def test_taps_layer_config_round_trip_and_no_retracing():
    layer = VideoConv(4, 4, (1, 2, 2), impl="custom", name="c")
    again = VideoConv.from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    layer.build((1, 4, 8, 8, 3))  # variables first: creating them inside would retrace
    fn = tf.function(lambda x: layer(x))
    for seed in range(3):
        fn(tf.random.stateless_normal([1, 4, 8, 8, 3], seed=[seed, 0]))
    assert fn.experimental_get_tracing_count() == 1


def test_auto_without_timing_picks_stock_with_onednn_or_gpu_and_taps_otherwise(monkeypatch):
    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "0")
    shape, kernel = (1, 4, 8, 8, 3), (4, 4, 4, 3, 4)

    def pick(impl, kind="conv"):
        return conv_autotune.resolve(impl, kind, shape, kernel, (2, 2, 2), "float32")

    monkeypatch.setattr(cpu, "onednn_enabled", lambda: True)
    assert pick("auto") == "stock"
    monkeypatch.setattr(cpu, "onednn_enabled", lambda: False)
    has_gpu = bool(tf.config.list_physical_devices("GPU"))
    assert pick("auto") == ("stock" if has_gpu else "taps")
    assert pick("auto", "conv2d") == "stock"  # 2D: stock unless measured
    assert pick("custom") == "taps" and pick("custom", "conv2d") == "matmul"
    assert pick("taps") == "taps"  # the older per-rank names still read
    for unknown in ("cudnn", "fast"):  # "fast" (a patch matmul) was removed: it never won
        with pytest.raises(ValueError):
            pick(unknown)


# Slow (40-60 s; make test-slow, which CI runs): the gradient- and second-derivative-equality
# tests above pin the path cheaply; this trains the whole tiny model on it.
@pytest.mark.slow
def test_tiny_model_trains_with_custom_convs(tiny_cfg, tmp_path):
    from idcg_tf.experiment import make_trainer

    cfg = tiny_cfg("task.model.conv_impl=custom", "trainer.steps=2", "trainer.strategy=default")
    metrics = make_trainer(cfg, tmp_path, log=lambda line: None).train(samples=())
    assert metrics and all(math.isfinite(v) for v in metrics.values())


# ---------------------------------------------------------------- autotune ("auto")
from idcg_tf.ops import conv_autotune  # noqa: E402


@pytest.mark.parametrize(
    "kind,shape,strides",
    [
        ("conv", (2, 4, 8, 8, 3), (2, 2, 2)),
        ("transpose", (2, 2, 4, 4, 5), (2, 2, 2)),
        ("conv2d", (2, 8, 8, 3), (2, 2)),
        ("transpose2d", (2, 4, 4, 5), (2, 2)),
    ],
)
def test_every_autotune_candidate_computes_the_same(kind, shape, strides):
    """Whatever "auto" picks, values, both gradients and the penalty's second derivative are
    the same."""
    x, w = _data(shape, 4, 6, transposed=kind.startswith("transpose"))
    reference = _stock_transpose if kind.startswith("transpose") else _stock_conv
    want = _first_and_second_order(lambda x, w: reference(x, w, strides), x, w)
    assert set(conv_autotune.CANDIDATES[kind]) == {
        "conv": {"stock", "taps", "matmul", "padded", "tap_filters"},
        "transpose": {"stock", "taps", "matmul"},
    }.get(kind, {"stock", "matmul"})
    for impl, op in conv_autotune.CANDIDATES[kind].items():
        got = _first_and_second_order(lambda x, w: op(x, w, strides), x, w)
        for g, ref in zip(got, want):
            _close(g, ref)


@pytest.fixture
def autotune_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "1")
    monkeypatch.setenv("IDCG_CACHE", str(tmp_path))
    conv_autotune.reset_memory()
    yield tmp_path / "conv_autotune"
    conv_autotune.reset_memory()


def _traced_impls(shape=(1, 4, 8, 8, 3)):
    """Builds a conv and a transposed conv with impl="auto" and traces them once; returns the
    implementations they picked."""
    conv = VideoConv(4, 4, (2, 2, 2), impl="auto")
    up = VideoConvTranspose(3, 4, (2, 2, 2), impl="auto")
    conv.build(shape)
    up.build((shape[0], shape[1] // 2, shape[2] // 2, shape[3] // 2, 4))
    tf.function(lambda x: up(conv(x))).get_concrete_function(tf.TensorSpec(shape))
    return (
        conv.implementation(shape),
        up.implementation((shape[0], shape[1] // 2, shape[2] // 2, shape[3] // 2, 4)),
    )


def test_autotune_times_once_then_reuses_the_disk_cache(autotune_cache, monkeypatch):
    before = conv_autotune.timings_run
    picked = _traced_impls()
    assert conv_autotune.timings_run == before + 2  # one conv shape, one transposed
    files = list(autotune_cache.glob("*.json"))
    assert len(files) == 1
    saved = json.loads(files[0].read_text())
    assert saved["device"] == conv_autotune.device_key()
    assert sorted(e["impl"] for e in saved["choices"].values()) == sorted(picked)
    for key, entry in saved["choices"].items():
        # k=4, stride 2: the 3D matmul form applies to both; the per-tap filter gradients to
        # the convolution, and with its 3 input channels the padded form too
        filter_forms = {"padded", "tap_filters"} if key.startswith("conv ") else set()
        assert set(entry["ms"]) == {"stock", "taps", "matmul"} | filter_forms
        assert entry["impl"] == min(entry["ms"], key=entry["ms"].get)

    # A new process (here: memory forgotten) picks the same without timing anything.
    conv_autotune.reset_memory()

    def no_timing(*args, **kwargs):
        raise AssertionError("timed again although the choice is cached")

    monkeypatch.setattr(conv_autotune, "measure", no_timing)
    assert _traced_impls() == picked
    assert conv_autotune.timings_run == before + 2


@pytest.mark.parametrize("kind", ["conv", "conv2d"])
def test_autotune_times_the_forward_pass_too(kind):
    """The gradients of sum(conv(x, w) * r) do not read conv(x, w): unless the timed function
    returns something computed from it, TF prunes the forward convolution and only the
    gradients are timed."""
    strides = (2, 2, 2) if kind == "conv" else (2, 2)
    shape = (1, 4, 8, 8, 3) if kind == "conv" else (1, 8, 8, 3)
    kernel = (4,) * len(strides) + (3, 4)
    out = (1, *(n // 2 for n in shape[1:-1]), 4)
    step = conv_autotune._timing_step(conv_autotune.CANDIDATES[kind]["stock"], strides)
    graph = step.get_concrete_function(
        tf.TensorSpec(shape), tf.TensorSpec(kernel), tf.TensorSpec(out)
    ).graph
    ancestors, todo = set(), [t.op for t in graph.outputs]
    while todo:
        op = todo.pop()
        if op.name not in ancestors:
            ancestors.add(op.name)
            todo.extend(t.op for t in op.inputs)
            todo.extend(op.control_inputs)
    forward = {"conv": "Conv3D", "conv2d": "Conv2D"}[kind]
    types = {graph.get_operation_by_name(name).type for name in ancestors}
    assert forward in types, types


def test_autotune_times_close_calls_again_so_one_slow_pair_of_runs_does_not_decide():
    """The first timing of the truly fastest form was slowed (a pause of the machine): it is
    within CLOSE_CALL of the winner, so both are timed again in turn and it wins; a form far
    behind is not run again."""
    ran = []

    def sleeper(name, seconds):
        class Done:
            def numpy(self):
                return 0.0

        def step(x, w, r):
            ran.append(name)
            time.sleep(seconds)
            return Done()

        return step

    def never(x, w, r):
        raise AssertionError("a form far behind was timed again")

    seconds = {"stock": 0.090, "taps": 0.080, "matmul": 0.500}
    steps = {"stock": sleeper("stock", 0.01), "taps": sleeper("taps", 0.06), "matmul": never}
    conv_autotune._confirm(seconds, steps, None, None, None)
    assert ran == ["stock", "taps"] * conv_autotune.CONFIRM_ROUNDS  # alternating
    assert min(seconds, key=seconds.get) == "stock"
    # Each keeps its fastest run (a loaded machine only lengthens a sleep).
    assert 0.01 <= seconds["stock"] < 0.06 <= seconds["taps"] <= 0.080
    assert seconds["matmul"] == 0.500


def test_damaged_autotune_cache_is_named_and_rebuilt(autotune_cache, caplog):
    _traced_impls()
    (path,) = autotune_cache.glob("*.json")
    path.write_text('{"version": 1, "choi')  # cut short, as by a full disk
    conv_autotune.reset_memory()
    before = conv_autotune.timings_run
    with caplog.at_level("WARNING"):
        _traced_impls()
    assert str(path) in caplog.text and "damaged" in caplog.text
    assert conv_autotune.timings_run == before + 2
    assert len(json.loads(path.read_text())["choices"]) == 2


def test_autotune_switch_off_falls_back_to_the_fixed_rule(autotune_cache, monkeypatch):
    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "0")
    before = conv_autotune.timings_run
    assert _traced_impls() == (
        conv_autotune.fixed_rule("conv"),
        conv_autotune.fixed_rule("transpose"),
    )
    assert conv_autotune.timings_run == before
    assert not autotune_cache.exists()


@pytest.mark.parametrize(
    "cls,shape", [(ImageConv, (2, 8, 8, 3)), (ImageConvTranspose, (2, 4, 4, 3))]
)
def test_2d_layer_impls_share_weights_and_agree(cls, shape):
    layers = {impl: cls(5, 4, strides=2, padding="same", impl=impl) for impl in ("stock", "custom")}
    for layer in layers.values():
        layer.build(shape)
    for v in layers["custom"].weights:  # a stock checkpoint loads into every impl
        v.assign(tf.random.stateless_normal(v.shape, seed=[3, len(v.shape)]))
    for v_stock, v_matmul in zip(layers["stock"].weights, layers["custom"].weights):
        assert v_stock.path.split("/")[-1] == v_matmul.path.split("/")[-1]
        v_stock.assign(v_matmul)
    x = tf.random.stateless_normal(shape, seed=[4, 5])
    _close(layers["custom"](x), layers["stock"](x))
    again = cls.from_config(layers["custom"].get_config())
    assert again.impl == "custom"


def test_2d_autotune_times_each_shape_once_and_switch_off_means_stock(autotune_cache, monkeypatch):
    conv = ImageConv(4, 4, strides=2, padding="same")
    up = ImageConvTranspose(3, 4, strides=2, padding="same")
    conv.build((1, 8, 8, 3))
    up.build((1, 4, 4, 4))
    before = conv_autotune.timings_run
    tf.function(lambda x: up(conv(x))).get_concrete_function(tf.TensorSpec((1, 8, 8, 3)))
    assert conv_autotune.timings_run == before + 2
    (path,) = autotune_cache.glob("*.json")
    choices = json.loads(path.read_text())["choices"]
    assert sorted(k.split(" ")[0] for k in choices) == ["conv2d", "transpose2d"]
    for entry in choices.values():
        assert set(entry["ms"]) == {"stock", "matmul"}
        assert entry["impl"] == min(entry["ms"], key=entry["ms"].get)
    # Traced again (a new process: memory forgotten): the disk cache answers.
    conv_autotune.reset_memory()
    tf.function(lambda x: up(conv(x))).get_concrete_function(tf.TensorSpec((1, 8, 8, 3)))
    assert conv_autotune.timings_run == before + 2
    # Timing off: stock, nothing timed.
    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "0")
    monkeypatch.setattr(conv_autotune, "measure", None)
    conv_autotune.reset_memory()
    tf.function(lambda x: up(conv(x))).get_concrete_function(tf.TensorSpec((2, 8, 8, 3)))
    assert conv_autotune.timings_run == before + 2


def test_3d_matmul_candidate_only_where_the_strides_divide_the_kernel():
    """A k=3 stride-2 (transposed) convolution has no matmul form: the autotuner times the
    others (for a convolution of 8 input channels: stock, taps and the per-tap filter
    gradients)."""
    for kind, others in (
        ("conv", {"stock", "taps", "tap_filters"}),
        ("transpose", {"stock", "taps"}),
    ):
        assert set(conv_autotune.candidates(kind, (4, 4, 4, 8, 8), (2, 2, 2))) == others | {
            "matmul"
        }
        assert set(conv_autotune.candidates(kind, (3, 3, 3, 8, 8), (2, 2, 2))) == others
    timed = conv_autotune.measure("conv", (1, 4, 8, 8, 8), (3, 3, 3, 8, 8), (2, 2, 2), tf.float32)
    assert set(timed) == {"stock", "taps", "tap_filters"}


def test_padded_candidate_only_for_convolutions_over_few_channels():
    """The video networks' 3-channel first layers are offered the padded form, wider layers
    and transposed convolutions are not."""
    first, wide = (4, 4, 4, 3, 64), (4, 4, 4, 8, 64)
    assert "padded" in conv_autotune.candidates("conv", first, (2, 2, 2), (4, 32, 64, 64, 3))
    assert "padded" in conv_autotune.candidates("conv", (3, 3, 3, 7, 8), (1, 1, 1))
    assert "padded" not in conv_autotune.candidates("conv", wide, (2, 2, 2))
    assert "padded" not in conv_autotune.candidates("transpose", (4, 4, 4, 3, 8), (2, 2, 2))
    timed = conv_autotune.measure("conv", (1, 4, 8, 8, 3), (3, 3, 3, 3, 8), (2, 2, 2), tf.float32)
    assert set(timed) == {"stock", "taps", "padded", "tap_filters"}


def test_matmul_candidate_only_where_its_patch_matrix_is_small(monkeypatch):
    """The paper-size video critic's 3-channel first layer (3 Mi patch values a sample) is not
    offered the matmul form, its (4, 8, 8, 256) -> 512 layer (0.5 Mi) is; in 2D the image
    critic's layers all are. The cap is per sample: the batch does not change the answer."""
    first, late = ((4, 4, 4, 3, 64), (2, 2, 2)), ((4, 4, 4, 256, 512), (2, 2, 2))
    for batch in (1, 8):
        assert conv_autotune.patch_values("conv", (batch, 32, 64, 64, 3), *first) == 3 << 20
        assert "matmul" not in conv_autotune.candidates("conv", *first, (batch, 32, 64, 64, 3))
        assert conv_autotune.patch_values("conv", (batch, 4, 8, 8, 256), *late) == 1 << 19
        assert "matmul" in conv_autotune.candidates("conv", *late, (batch, 4, 8, 8, 256))
        for shape, kernel in (
            ((batch, 64, 64, 3), (4, 4, 3, 128)),
            ((batch, 8, 8, 512), (4, 4, 512, 1024)),
        ):
            assert "matmul" in conv_autotune.candidates("conv2d", kernel, (2, 2), shape)
    # A transposed layer's matrix is its matmul's output: input positions x kernel x outputs.
    kernel = (4, 4, 128, 256)
    assert conv_autotune.patch_values("transpose2d", (1, 16, 16, 256), kernel, (2, 2)) == 1 << 19
    # The video decoder's deepest 3D layer is offered it, the next one (2 Mi) is not.
    deep, next_ = ((1, 2, 4, 4, 512), (4, 4, 4, 256, 512)), ((1, 4, 8, 8, 256), (4, 4, 4, 128, 256))
    assert conv_autotune.patch_values("transpose", *deep, (2, 2, 2)) == 1 << 19
    assert "matmul" in conv_autotune.candidates("transpose", deep[1], (2, 2, 2), deep[0])
    assert conv_autotune.patch_values("transpose", *next_, (2, 2, 2)) == 2 << 20
    assert "matmul" not in conv_autotune.candidates("transpose", next_[1], (2, 2, 2), next_[0])
    # What measure() times follows the same rule.
    monkeypatch.setattr(conv_autotune, "MATMUL_MAX_PATCH_VALUES", 100)
    timed = conv_autotune.measure("conv", (1, 4, 8, 8, 8), (4, 4, 4, 8, 8), (2, 2, 2), tf.float32)
    assert set(timed) == {"stock", "taps", "tap_filters"}
