"""Model FLOPs of a training iteration (IdCycleGAN, or the video generation task), counted
from the forward graphs of the networks.

Each network's forward pass is traced once (batch 1) and the multiply-adds of its convolution,
transposed-convolution and matmul ops are read off the op shapes (2 FLOPs per multiply-add;
elementwise ops, norms and activations are not counted). The iteration total then follows the
usual convention: a forward pass costs F, forward + backward 3F, and a gradient-penalty pass
(forward, input gradient, and the gradient of that gradient) 6F. The count is made on the
stock layers, so it does not depend on how the 3D convolutions are computed.
"""

from __future__ import annotations

import contextlib
import math

import tensorflow as tf

from idcg_tf import config as config_lib
from idcg_tf.config import Config
from idcg_tf.ops import conv_autotune


def _prod(values) -> int:
    return math.prod(int(v) for v in values)


def op_flops(op: tf.Operation) -> int:
    """2 x multiply-adds of one conv / transposed conv / matmul op with static shapes."""
    kind = op.type
    if kind in ("Conv2D", "Conv3D"):
        kernel = op.inputs[1].shape
        return 2 * _prod(op.outputs[0].shape) * _prod(kernel[:-1])
    if kind in ("Conv2DBackpropInput", "Conv3DBackpropInputV2"):  # a transposed conv's forward
        kernel, grad = op.inputs[1].shape, op.inputs[2].shape
        return 2 * _prod(grad) * _prod(kernel[:-1])
    if kind in ("MatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a = op.inputs[0].shape
        transpose_a = op.get_attr("transpose_a" if kind == "MatMul" else "adj_x")
        k = a[-2] if transpose_a else a[-1]
        return 2 * _prod(op.outputs[0].shape) * int(k)
    return 0


def forward_flops(network, input_shape) -> int:
    """FLOPs of one forward pass of `network` on one sample (training mode). In a graph
    (`tf.Graph().as_default()`, as `network_flops` builds), only the ops this call adds are
    counted; eagerly, the call is traced."""
    if not tf.executing_eagerly():
        graph = tf.compat.v1.get_default_graph()
        before = len(graph.get_operations())
        network(tf.compat.v1.placeholder(tf.float32, (1, *input_shape)), training=True)
        return sum(op_flops(op) for op in graph.get_operations()[before:])
    spec = tf.TensorSpec((1, *input_shape), tf.float32)
    graph = tf.function(lambda x: network(x, training=True)).get_concrete_function(spec).graph
    return sum(op_flops(op) for op in graph.get_operations())


@contextlib.contextmanager
def weightless(build):
    """What `build()` returns, built in a graph of its own, whose variables get no values, with
    nothing timed by conv autotuning: for reading networks' structure (FLOPs, parameter counts)
    without allocating weights. Built eagerly, such copies stayed in the process's memory pool,
    half a GiB each at paper size, and inflated the peak RSS `benchmark train` reports."""
    with tf.Graph().as_default(), conv_autotune.suspended():
        yield build()


def weightless_networks(model_cfg):
    """The four translation networks, `weightless`."""
    from idcg_tf.models import build_networks

    return weightless(lambda: build_networks(model_cfg))


def network_flops(cfg: Config) -> dict:
    """Per-sample forward FLOPs of G_Y, G_X, C_X, C_Y, or of a generation config's generator and
    critic (stock layers, `weightless`)."""
    cfg = config_lib.replace(cfg, task={"model": {"conv_impl": "stock"}})
    m = cfg.task.model
    image = (m.resolution, m.resolution, m.channels)
    video = (m.frames, *image)
    if cfg.task.type == "generation":
        from idcg_tf.generation.networks import build_generation_networks

        with weightless(lambda: build_generation_networks(cfg)) as nets:
            return {
                "generator": forward_flops(nets.generator, (m.noise_dim,)),
                "critic": forward_flops(nets.critic, video),
            }
    with weightless_networks(m) as nets:
        return {
            "image_to_video": forward_flops(nets.image_to_video, image),
            "video_to_image": forward_flops(nets.video_to_image, video),
            "image_critic": forward_flops(nets.image_critic, image),
            "video_critic": forward_flops(nets.video_critic, video),
        }


def iteration_flops(cfg: Config, per_network: dict | None = None) -> dict:
    """Model FLOPs per sample of one iteration (n_critic critic steps + 1 generator step).

    Critic step: both translators forward (no gradient), each critic forward + backward on real
    and on fake inputs, and one gradient-penalty pass each. Generator step: each translator
    forward + backward twice (translation and reconstruction), each critic forward + input
    gradient (2F). The FaceNet identity term of Model3 is not included. A generation config's
    one generator and critic count the same way; its generator step has no reconstruction, and
    the VideoGAN discriminators no penalty pass.
    """
    f = per_network or network_flops(cfg)
    if cfg.task.type == "generation":
        # One generator and one critic; only the WGAN-GP critic has the penalty pass.
        gens, critics = f["generator"], f["critic"]
        penalty = 6 * critics if cfg.task.model.generator == "wgan_one_stream" else 0
        translations = 1
    else:
        gens = f["image_to_video"] + f["video_to_image"]
        critics = f["image_critic"] + f["video_critic"]
        penalty = 6 * critics
        translations = 2  # translation and reconstruction
    critic_step = gens + 2 * 3 * critics + penalty
    generator_step = translations * 3 * gens + 2 * critics
    per_sample = cfg.trainer.n_critic * critic_step + generator_step
    return {
        "per_network_forward": f,
        "critic_step": critic_step,
        "generator_step": generator_step,
        "per_sample": per_sample,
    }
