"""BatchNorm (the translators' norm): TF's fused kernel in training mode computes what Keras'
BatchNormalization computes, output, gradients and moving statistics, and is the op that runs
where it is the faster; Keras' own ops run the forward-only passes where oneDNN runs its AVX2
code."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from idcg_tf import cpu
from idcg_tf.layers import BatchNorm, batchnorm


@pytest.fixture
def fused(monkeypatch):
    """The fused kernel chosen whatever this machine's CPU (a CPU without AVX-512 takes Keras'
    ops)."""
    monkeypatch.setattr(batchnorm, "fused_kernel_is_faster", lambda: True)


def _pair(shape, **kwargs):
    """Ours and Keras' layer, built on `shape`, with the same non-trivial weights."""
    ours, keras_bn = BatchNorm(**kwargs), keras.layers.BatchNormalization(**kwargs)
    ours.build(shape)
    keras_bn.build(shape)
    rng = np.random.default_rng(0)
    for a, b in zip(ours.weights, keras_bn.weights):
        value = rng.uniform(0.5, 1.5, a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    return ours, keras_bn


def _train_step(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        weights = tf.reshape(tf.sin(tf.range(tf.size(y), dtype=y.dtype) * 0.1), tf.shape(y))
        loss = tf.reduce_sum(y * weights)
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return y, grads


@pytest.mark.parametrize("shape", [(3, 5, 6, 4), (2, 3, 4, 5, 6)])
def test_fused_training_pass_matches_keras(shape, fused):
    ours, reference = _pair(shape, synchronized=True)
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    y_ours, g_ours = _train_step(ours, x)
    y_ref, g_ref = _train_step(reference, x)
    np.testing.assert_allclose(y_ours, y_ref, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_ours, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    for a, b in zip(ours.non_trainable_weights, reference.non_trainable_weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # moving mean and variance
    assert not np.allclose(ours.moving_variance, 1.0)  # they did move
    np.testing.assert_allclose(ours(x, training=False), reference(x, training=False), atol=1e-5)


def _op_types(layer, training) -> set[str]:
    spec = tf.TensorSpec([2, 4, 4, 4, 3])
    graph = tf.function(lambda x: layer(x, training=training)).get_concrete_function(spec)
    return {op.type for op in graph.graph.get_operations()}


def test_training_pass_runs_the_fused_op_and_inference_does_not(fused):
    layer = BatchNorm(synchronized=True)
    layer.build((2, 4, 4, 4, 3))
    assert "FusedBatchNormV3" in _op_types(layer, True)
    assert "FusedBatchNormV3" not in _op_types(layer, False)  # exports keep Keras' graph


def test_onednn_avx2_code_takes_keras_ops(monkeypatch):
    """Where oneDNN runs its AVX2 code (no AVX-512, or ONEDNN_MAX_CPU_ISA below it), its fused
    kernel is the slower: the training pass is Keras' own."""
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(cpu, "onednn_enabled", lambda: True)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx2", "fma", "avx512f"}))
    for limit, avx512 in ((None, True), ("AVX512_CORE", True), ("AVX2", False), ("avx", False)):
        if limit:
            monkeypatch.setenv(cpu.ONEDNN_ISA_ENV, limit)
        else:
            monkeypatch.delenv(cpu.ONEDNN_ISA_ENV, raising=False)
        assert cpu.onednn_avx512() is avx512 and batchnorm.fused_kernel_is_faster() is avx512
    layer = BatchNorm(synchronized=True)
    layer.build((2, 4, 4, 4, 3))
    assert "FusedBatchNormV3" not in _op_types(layer, True)
    monkeypatch.delenv(cpu.ONEDNN_ISA_ENV)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert not cpu.onednn_avx512() and not batchnorm.fused_kernel_is_faster()
    monkeypatch.setattr(cpu, "onednn_enabled", lambda: False)  # TF's own kernels: fused
    assert batchnorm.fused_kernel_is_faster()


def test_a_recorded_pass_takes_the_fused_op_where_keras_ops_are_the_faster(monkeypatch):
    """Where Keras' ops are the faster forward pass (oneDNN's AVX2 code), a training pass that a
    gradient tape records still runs the fused op and its one gradient op, which keep less
    memory for the backward pass; the same layer's forward-only pass runs Keras' ops."""
    monkeypatch.setattr(batchnorm, "fused_kernel_is_faster", lambda: False)
    layer = BatchNorm(synchronized=True)
    layer.build((2, 4, 4, 4, 3))

    def recorded(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(layer(x, training=True)))
        return tape.gradient(loss, x)

    graph = tf.function(recorded).get_concrete_function(tf.TensorSpec([2, 4, 4, 4, 3])).graph
    types = {op.type for op in graph.get_operations()}
    assert {"FusedBatchNormV3", "FusedBatchNormGradV3"} <= types
    assert "FusedBatchNormV3" not in _op_types(layer, True)


def test_float64_and_other_ranks_take_keras_path():
    layer = BatchNorm(synchronized=True, dtype="float64")
    layer.build((2, 4, 4, 3))
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(
        tf.TensorSpec([2, 4, 4, 3], tf.float64)
    )
    assert "FusedBatchNormV3" not in {op.type for op in graph.graph.get_operations()}
    dense = BatchNorm()
    assert dense(tf.ones([3, 5]), training=True).shape == (3, 5)
