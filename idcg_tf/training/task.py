"""What the training loop trains: a task declares its networks, inputs, steps and samples.

The loop (`idcg_tf.training.loop.Trainer`) owns everything else: strategy, optimizers,
checkpoints, resume, logging and hooks. A task's steps are written for one replica; they average
their per-sample losses over the global batch with `Update.mean` and update through
`Update.minimize`, which handles loss scaling under mixed precision.
"""

from __future__ import annotations

import abc
import contextlib
import os

import keras
import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.runs import checkpoints_dir, load_config, restore_newest


@contextlib.contextmanager
def dtype_policy(name: str):
    """Layers created inside compute under Keras policy `name` ("none": float32); their
    variables stay float32. Restores the global policy after, so nothing else changes."""
    if name == "none":
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _float32(value):
    """`value` (a tensor or a structure of them) with float16 / bfloat16 tensors as float32."""
    low = (tf.float16, tf.bfloat16)
    return tf.nest.map_structure(
        lambda t: tf.cast(t, tf.float32) if getattr(t, "dtype", None) in low else t, value
    )


class Float32Outputs:
    """A network whose outputs (of a call or of any of its methods, e.g. a two-stream
    generator's `streams`) come out float32 while it computes under a mixed policy."""

    def __init__(self, net):
        self._net = net

    def __call__(self, *args, **kwargs):
        return _float32(self._net(*args, **kwargs))

    def __getattr__(self, name):
        attr = getattr(self._net, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: _float32(attr(*args, **kwargs))


class Update:
    """One side of the game (critic or generator) as a step sees it.

    Args:
        optimizer: its optimizer; `optimizer.iterations` keys its random draws.
        variables: what it trains.
        global_batch: the batch every loss is averaged over, whatever the replica count.
        seed: the run's seed (trainer.seed).
    """

    def __init__(self, optimizer, variables, global_batch: int, seed: int):
        self.optimizer = optimizer
        self.variables = variables
        self.global_batch = global_batch
        self.seed = seed

    def mean(self, per_sample: tf.Tensor) -> tf.Tensor:
        """This replica's share of the global-batch mean (the replicas' shares are summed)."""
        return tf.nn.compute_average_loss(
            tf.reshape(per_sample, [-1]), global_batch_size=self.global_batch
        )

    def draw(self, sample, stream: int | None = None) -> tf.Tensor:
        """This replica's slice of `sample(key)`, a stateless draw with the global batch as its
        last axis, keyed by (seed, update count[, stream]): the same on resume and for any
        replica count."""
        key = tf.stack(
            [tf.constant(self.seed, tf.int64), tf.cast(self.optimizer.iterations.value, tf.int64)]
        )
        if stream is not None:
            key = tf.random.experimental.stateless_fold_in(key, stream)
        values = sample(key)
        ctx = tf.distribute.get_replica_context()
        batch = self.global_batch // ctx.num_replicas_in_sync
        start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * batch
        return values[..., start : start + batch]

    @property
    def loss_scale(self):
        """The dynamic loss scale under mixed_float16 (no gradient), else 1."""
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            return tf.stop_gradient(tf.cast(self.optimizer.dynamic_scale, tf.float32))
        return 1.0

    def minimize(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        """One optimizer step on `loss` (this replica's share, recorded by `tape`: call it
        inside the tape's block)."""
        scaled = loss
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            scaled = self.optimizer.scale_loss(loss)  # recorded, so before the stop
        with tape.stop_recording():
            grads = tape.gradient(scaled, self.variables)
            self.optimizer.apply_gradients(zip(grads, self.variables))


def checkpoint_variables(model: keras.Model) -> dict:
    """Every variable of a built model keyed by its path inside it, for `tf.train.Checkpoint`.

    tf.train.Checkpoint does not descend into the Python lists in which Keras 3 layers keep
    their sublayers (e.g. `VideoDecoder.convs`), so checkpointing the model object saves
    almost nothing (the optimizer's slots carry the trainable weights of a resumed run along,
    but not BatchNorm statistics, and a generator restored without its optimizer gets none).
    Naming each variable makes the checkpoint complete and `assert_existing_objects_matched`
    meaningful.
    """
    variables = {}
    for v in model.variables:
        key = v.path.split("/", 1)[-1]  # without the model's own name
        if key in variables:
            raise ValueError(f"{model.name}: two variables at {key!r}; name the sublayers")
        variables[key] = v
    return variables


class Task(abc.ABC):
    """A kind of run: its networks, inputs, critic and generator steps, samples, checkpoint.

    Subclasses set `critic_metrics` (the critic step's metric names, averaged over the
    `trainer.n_critic` critic steps of an iteration) and `generator_reads_data` (whether the
    generator step takes a batch of the input pipeline), may set `console_metrics` and
    `STREAMS`, and implement the methods below. The loop derives everything else (how many
    batches an iteration reads, checkpoints, logging) from these.
    """

    name: str = ""  # the config's `task` value
    trained_with: str = ""  # which configs train it, for error messages
    critic_metrics: tuple[str, ...] = ()
    generator_reads_data: bool = True
    # What the console line shows, (metric, label) in order, when present; TensorBoard and
    # metrics.jsonl get every metric whatever this says.
    console_metrics: tuple[tuple[str, str], ...] = (
        ("critic/loss", "critic"),
        ("generator/loss", "gen"),
    )
    # Config sections (or dotted keys) a resumed run must keep: they shape the checkpoint.
    fixed_keys: tuple[str, ...] = ("task.model",)

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.nets = None

    # ------------------------------------------------------------------ precision
    # The one place precision is handled for every task: under `trainer.mixed_precision` the
    # networks are built under that Keras policy (the loop), compute in float16 / bfloat16 with
    # float32 variables, and the steps see them through `float32_networks`, so critic scores,
    # the gradient penalty and every loss term are float32; `Update` scales the loss.
    def float32_networks(self, *nets):
        """`nets` as the steps should call them: with float32 outputs under a mixed policy."""
        if self.cfg.trainer.mixed_precision == "none":
            return nets
        return tuple(Float32Outputs(net) for net in nets)

    def network_inputs(self, *tensors):
        """A batch in the networks' variable dtype (float32 unless `keras.config.floatx()` was
        changed before the networks were built, as the float64 replica test does)."""
        dtype = self.generator_variables[0].dtype
        cast = tuple(tf.cast(t, dtype) for t in tensors)
        return cast if len(cast) > 1 else cast[0]

    @abc.abstractmethod
    def build_networks(self):
        """Creates `self.nets` (called inside the strategy scope and the dtype policy)."""

    def build_losses(self) -> None:
        """Creates frozen networks of the losses (inside the strategy scope, float32)."""

    @property
    @abc.abstractmethod
    def generator_variables(self) -> list:
        """What the generator step trains."""

    @property
    @abc.abstractmethod
    def critic_variables(self) -> list:
        """What the critic step trains."""

    @abc.abstractmethod
    def checkpoint_items(self) -> dict:
        """The task's part of the checkpoint (the loop adds step and optimizers)."""

    @classmethod
    def from_run(
        cls, workdir: str | os.PathLike, step: int | None = None, cfg: Config | None = None
    ) -> tuple[Task, int]:
        """This task of a trained run, its networks restored from checkpoint `step` (default
        the newest intact one; a damaged one is skipped with a warning), and that step. A run
        of another task is a one-line UserError."""
        cfg = cfg or load_config(workdir)
        if cfg.task.type != cls.name:
            raise UserError(
                f"{workdir}: a {cfg.task.type} run (task: {cfg.task.type} in its config.yaml); "
                f"this needs a {cls.name} run, trained with {cls.trained_with}"
            )
        task = cls(cfg)
        return task, task.restore_run(workdir, step)

    def restore_run(self, workdir: str | os.PathLike, step: int | None = None) -> int:
        """Builds the networks and restores them from the run's checkpoint `step` (default the
        newest that restores; a damaged one is skipped with a warning), reading it once; its
        optimizers are left out. Returns the step it was written at."""
        ckpt_dir = checkpoints_dir(workdir, step)
        self.build_networks()
        at = tf.Variable(0, dtype=tf.int64)
        checkpoint = tf.train.Checkpoint(step=at, **self.checkpoint_items())
        restore_newest(
            ckpt_dir,
            lambda path: (
                checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
            ),
            step,
        )
        return int(at.numpy())

    # The record kinds a task reads from task.data.train_<kind>, with the seed offset of each
    # stream; batches of several kinds come zipped in this order.
    STREAMS: tuple = (("images", 0), ("clips", 1))

    @property
    def batches_per_step(self) -> int:
        """Global batches one iteration reads: one per critic step, and one for the generator
        step when it reads data."""
        return self.cfg.trainer.n_critic + int(self.generator_reads_data)

    def datasets(self, strategy, global_batch: int, start_step: int):
        """The distributed input pipeline, positioned after `start_step` iterations."""
        steps = self.batches_per_step
        return reader.training_datasets(
            strategy, self.cfg, global_batch, start_step, steps, self.STREAMS
        )

    @property
    def input_patterns(self) -> tuple[tuple[str, str, str], ...]:
        """(config key, file pattern, record kind) of each training input, for error messages."""
        return tuple(
            (f"task.data.train_{kind}", getattr(self.cfg.task.data, f"train_{kind}"), kind)
            for kind, _ in self.STREAMS
        )

    @abc.abstractmethod
    def critic_step(self, update: Update, batch) -> dict:
        """One critic update on one replica's batch; returns `critic_metrics`."""

    @abc.abstractmethod
    def generator_step(self, update: Update, batch=None) -> dict:
        """One generator update (on one replica's batch when `generator_reads_data`)."""

    @abc.abstractmethod
    def sample_inputs(self, count: int = 4):
        """Fixed inputs for the sample sheets, or None when there are none."""

    @abc.abstractmethod
    def sample_sheet(self, inputs) -> tuple[str, object]:
        """(TensorBoard tag, uint8 sheet) of what the networks make of `inputs` now."""

    @abc.abstractmethod
    def describe(self) -> str:
        """The dry-run report: networks, shapes and losses, built on the CPU."""


def network_table(rows, width: int) -> list[str]:
    """Dry-run lines for (name, network, input shape) rows: parameters, input -> output."""
    lines = [f"{'network':{width}} {'parameters':>12}  input -> output"]
    for name, net, shape in rows:
        out = net.compute_output_shape(shape)
        lines.append(f"{name:{width}} {net.count_params():>12,}  {shape} -> {tuple(out)}")
    return lines
