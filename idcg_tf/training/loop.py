"""The one training loop: WGAN-style alternation of critic and generator updates for any task.

One iteration (after WGAN-GP; the paper names no critic step count) = `n_critic` critic updates,
each on a fresh batch, then one generator update; all of it is a single `tf.function`, each step a
single-replica computation of the task run by `strategy.run`. The loop owns the strategy,
optimizers, checkpoints and resume, the workdir lock, the divergence stop, progress, metrics.jsonl
and TensorBoard; periodic work (sample sheets, the identity score curve) runs through hooks.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.memory import release_library_pages, trim_heap
from idcg_tf.runs import METRICS_LOG, check_unchanged, local_workdir, restore_newest
from idcg_tf.training.adam import FusedAdam
from idcg_tf.training.preemption import preemption_checkpoints
from idcg_tf.training.progress import SpeedWindow, fmt_duration
from idcg_tf.training.schedule import learning_rate
from idcg_tf.training.strategy import is_chief, make_strategy, worker_id
from idcg_tf.training.task import Task, Update, dtype_policy
from idcg_tf.training.workdir_lock import WorkdirLock
from idcg_tf.visualize import save_png


class TrainingDiverged(UserError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""


@dataclasses.dataclass(frozen=True)
class HookContext:
    """What a hook may use of the run: the task (its config and networks), the run directory,
    the TensorBoard writer, the console and the metrics log. Not the trainer itself."""

    task: Task
    workdir: Path
    writer: object  # a tf.summary writer
    log: Callable[[str], None]
    append_record: Callable[[dict], None]  # one line of metrics.jsonl


class Hook(Protocol):
    """Periodic work of the chief: called every `every` steps and at the last step."""

    every: int

    def __call__(self, context: HookContext, step: int) -> None: ...


class SampleSheets:
    """samples/step_*.png and a TensorBoard image of the task's sheet for fixed inputs."""

    def __init__(self, inputs, every: int):
        self.inputs = inputs
        self.every = every

    def __call__(self, context: HookContext, step: int) -> None:
        tag, sheet = context.task.sample_sheet(self.inputs)
        save_png(context.workdir / "samples" / f"step_{step:07d}.png", sheet)
        with context.writer.as_default(step=step):
            tf.summary.image(tag, sheet[np.newaxis])


class Trainer:
    """Trains a task's networks in a run directory.

    Args:
        task: what to train (`idcg_tf.experiment.make_task` picks it from a config).
        workdir: run directory (config.yaml, checkpoints/, tensorboard/, samples/,
            metrics.jsonl). A workdir holding a checkpoint is resumed from it.
        strategy: a tf.distribute strategy; default from `cfg.trainer.strategy`.
        log: where progress lines go.
        hooks: periodic work of the chief after each iteration (see `Hook`).
    """

    def __init__(self, task: Task, workdir: str | os.PathLike, strategy=None, log=None, hooks=()):
        self.task = task
        self.cfg = cfg = task.cfg
        self.workdir = local_workdir(workdir)
        self.log = log or (lambda line: print(line, flush=True))
        self.hooks = list(hooks)
        # Pages of TensorFlow's libraries that only its import used (idcg_tf.memory), once
        # per process.
        self.library_pages_released = release_library_pages()
        self._heap_trimmed = False
        t = cfg.trainer
        if t.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(t.seed)
        self.strategy = strategy or make_strategy(t.strategy)
        self.chief = is_chief(self.strategy)
        self.lock = None
        if self.chief:  # workers write nothing of their own into the workdir
            self.lock = WorkdirLock(self.workdir, warn=lambda line: self.log(f"warning: {line}"))
            self.lock.acquire()  # here, so that a second run on a workdir fails before building
        replicas = self.strategy.num_replicas_in_sync
        if t.batch_size % replicas:
            raise UserError(
                f"trainer.batch_size: {t.batch_size} is not divisible by the {replicas} replicas"
            )
        self.global_batch = t.batch_size
        check_unchanged(self.workdir, self.cfg, self.task.fixed_keys)
        with self.strategy.scope():
            with dtype_policy(t.mixed_precision):
                task.build_networks()
            self.generator_optimizer = self._optimizer("generator_adam")
            self.critic_optimizer = self._optimizer("critic_adam", t.n_critic)
            # Built here, inside the scope: building lazily in the replica context fails.
            self.generator_optimizer.build(self.generator_variables)
            self.critic_optimizer.build(self.critic_variables)
            self.step = tf.Variable(
                0,
                dtype=tf.int64,
                trainable=False,
                name="step",
                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
            )
            task.build_losses()
        self.writer = tf.summary.create_noop_writer()
        self._iteration_fn = None
        self.iterator = None
        self.checkpoint = None
        self.manager = None

    # ------------------------------------------------------------------ lifetime
    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Releases what the trainer holds open: the input pipeline's iterator (and so its
        tf.data threads), the TensorBoard writer and the workdir lock. The networks stay usable.

        `train()` calls it when it ends, however it ends; callers of `setup()` and
        `run_iteration()` call it themselves (or use the trainer in a `with` block). An iterator
        left to the garbage collector may be destroyed during interpreter shutdown, where
        tf.data's teardown can deadlock; released here, it is destroyed now. Idempotent."""
        # The iteration function closes over the trainer: dropping it breaks that cycle too.
        self._iteration_fn = None
        self.iterator = None
        writer, self.writer = self.writer, tf.summary.create_noop_writer()
        writer.close()
        if self.lock:
            self.lock.release()

    def _optimizer(self, name: str, updates_per_step: int = 1):
        """Adam (TF's fused update kernel; with the config's decay schedule, stepped
        `updates_per_step` times per generator iteration), loss-scaled under mixed_float16."""
        opt = self.cfg.optimizer
        adam = FusedAdam(
            learning_rate(opt, self.cfg.trainer.steps, updates_per_step),
            beta_1=opt.beta_1,
            beta_2=opt.beta_2,
            name=name,
        )
        if self.cfg.trainer.mixed_precision == "mixed_float16":
            # float16's 5 exponent bits underflow small gradients: dynamic loss scaling (steps
            # with non-finite gradients are skipped and the scale halved).
            return keras.optimizers.LossScaleOptimizer(adam, name=f"{name}_scaled")
        return adam

    @property
    def nets(self):
        return self.task.nets

    @property
    def current_step(self) -> int:
        """Generator iterations done so far."""
        return int(self.step.numpy())

    @property
    def generator_variables(self):
        return self.task.generator_variables

    @property
    def critic_variables(self):
        return self.task.critic_variables

    # ------------------------------------------------------------------ the iteration
    def _run(self, step_fn, args) -> dict:
        per_replica = self.strategy.run(step_fn, args)
        return {
            k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
            for k, v in per_replica.items()
        }

    def make_iteration_fn(self):
        """A tf.function running one full iteration on a distributed iterator."""
        n_critic, seed = self.cfg.trainer.n_critic, self.cfg.trainer.seed
        task = self.task
        critic_step = functools.partial(
            task.critic_step,
            Update(self.critic_optimizer, self.critic_variables, self.global_batch, seed),
        )
        generator_step = functools.partial(
            task.generator_step,
            Update(self.generator_optimizer, self.generator_variables, self.global_batch, seed),
        )
        if self.cfg.trainer.jit_compile:
            # XLA compiles each replica's step; the input pipeline and the loop stay outside
            # (iterator ops cannot be compiled).
            critic_step = tf.function(critic_step, jit_compile=True)
            generator_step = tf.function(generator_step, jit_compile=True)
        dtype = self.generator_variables[0].dtype  # float64 when floatx is (a replica test)

        @tf.function
        def iteration(iterator):
            critic = {k: tf.constant(0.0, dtype) for k in task.critic_metrics}
            for _ in tf.range(n_critic):
                step_metrics = self._run(critic_step, (next(iterator),))
                critic = {k: critic[k] + step_metrics[k] / n_critic for k in critic}
            gen = self._run(generator_step, (next(iterator),) if task.generator_reads_data else ())
            self.step.assign_add(1)
            return {**critic, **gen}

        return iteration

    # ------------------------------------------------------------------ the run
    def _checkpoint_dir(self) -> Path:
        if self.chief:
            return self.workdir / "checkpoints"
        # Non-chief workers must take part in saving but their copy is thrown away.
        return self.workdir / f"tmp-{worker_id(self.strategy)}"

    def setup(self, dataset=None):
        """Restores the latest checkpoint (if any), then positions the input pipeline there."""
        self.checkpoint = tf.train.Checkpoint(
            step=self.step,
            generator_optimizer=self.generator_optimizer,
            critic_optimizer=self.critic_optimizer,
            **self.task.checkpoint_items(),
        )
        self.manager = tf.train.CheckpointManager(
            self.checkpoint,
            str(self._checkpoint_dir()),
            max_to_keep=self.cfg.trainer.keep_checkpoints,
        )
        # The newest checkpoint that restores (a damaged one is skipped, with a warning).
        latest = restore_newest(
            self._checkpoint_dir(),
            lambda path: self.checkpoint.restore(path).assert_existing_objects_matched(),
            warn=lambda line: self.log(f"warning: {line}"),
        )
        if latest:
            self.log(f"resumed from {latest} (step {self.current_step})")
        if dataset is None:
            # The data order is a function of the step (see reader.make_dataset), so the
            # position needs no checkpoint of its own: distributed iterators cannot have one.
            dataset = self.task.datasets(self.strategy, self.global_batch, self.current_step)
        self.iterator = iter(dataset)
        self._iteration_fn = self.make_iteration_fn()

    def save(self) -> str | None:
        path = self.manager.save(checkpoint_number=self.current_step)
        if not self.chief:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
            return None
        return path

    def run_iteration(self) -> dict:
        """Runs one iteration and returns its metrics as floats."""
        try:
            metrics = self._iteration_fn(self.iterator)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as exc:
            raise self._data_error(exc) from None
        if not self._heap_trimmed:  # after the run that built and optimised the graph
            trim_heap()
            self._heap_trimmed = True
        return {k: float(v) for k, v in metrics.items()}

    def _data_error(self, exc: Exception) -> Exception:
        m = self.cfg.task.model
        for key, pattern, kind in self.task.input_patterns:
            if pattern:
                bad = reader.find_corrupt_shard(pattern, kind, m.resolution, m.frames)
                if bad:
                    return UserError(
                        f"{key}: corrupt record in {bad} (set task.data.on_corrupt=skip "
                        "to skip bad records)"
                    )
        return exc

    def append_record(self, record: dict) -> None:
        """One line of metrics.jsonl (chief only)."""
        with open(self.workdir / METRICS_LOG, "a") as f:
            f.write(json.dumps(record) + "\n")

    def train(self, steps: int | None = None, dataset=None, samples=None) -> dict:
        """Trains up to `steps` generator iterations (default cfg.trainer.steps) and returns the
        last metrics. Saves checkpoints every `checkpoint_every` steps and at the end.
        `samples`: inputs for the sample sheets (default: the task's; empty: no sheets)."""
        try:
            return self._train(steps, dataset, samples)
        finally:
            self.close()

    def _train(self, steps, dataset, samples) -> dict:
        t = self.cfg.trainer
        total = t.steps if steps is None else steps
        if self.lock:
            self.lock.acquire()  # a no-op while held; again after a previous train() ended
        if self.iterator is None:
            self.setup(dataset)
        if self.chief:
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "config.yaml").write_text(self.cfg.to_yaml())
            self.writer = tf.summary.create_file_writer(str(self.workdir / "tensorboard"))
        hooks = self.hooks if self.chief else []
        if self.chief and samples is None:
            samples = self.task.sample_inputs()
        if self.chief and samples is not None and len(samples):
            hooks = [SampleSheets(samples, t.sample_every), *hooks]
        metrics: dict = {}
        start_step = self.current_step
        speed = SpeedWindow()
        with preemption_checkpoints(self.strategy, self.save, self._preempted) as run:
            while self.current_step < total:
                metrics = run(self.run_iteration)
                self._after_iteration(metrics, total, hooks, speed)
        if self.current_step == start_step and self.chief:
            self.log(f"nothing to do: the run is already at step {start_step} of {total}")
        return metrics

    def _preempted(self, path) -> str:
        where = f"checkpoint {path}" if path else "a checkpoint"
        return (
            f"preempted (SIGTERM) at step {self.current_step}: wrote {where}; "
            "the same command resumes from it"
        )

    def _after_iteration(self, metrics: dict, total: int, hooks, speed: SpeedWindow) -> None:
        """After one iteration: the divergence check, logging, hooks and the checkpoint."""
        t, step = self.cfg.trainer, self.current_step
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise TrainingDiverged(
                f"step {step}: loss term {bad[0]} is {metrics[bad[0]]}; training stopped, "
                f"the last good checkpoint is {self.manager.latest_checkpoint or 'none'}"
            )
        speed.after(step)
        if step % t.log_every == 0 or step == total:
            self._log_metrics(step, total, metrics, speed.measure(step))
        context = HookContext(self.task, self.workdir, self.writer, self.log, self.append_record)
        for hook in hooks:
            if step % hook.every == 0 or step == total:
                hook(context, step)
        if step % t.checkpoint_every == 0 or step == total:
            self.save()

    def _log_metrics(self, step, total, metrics, steps_per_sec):
        eta = (total - step) / steps_per_sec if steps_per_sec > 0 else float("nan")
        if not self.chief:
            return
        with self.writer.as_default(step=step):
            for k, v in metrics.items():
                tf.summary.scalar(k, v)
            if math.isfinite(steps_per_sec):
                tf.summary.scalar("speed/steps_per_second", steps_per_sec)
        self.append_record({"step": step, **metrics, "steps_per_second": steps_per_sec})
        parts = [
            f"{label} {metrics[k]:.4g}" for k, label in self.task.console_metrics if k in metrics
        ]
        speed = f"{steps_per_sec:.3g} it/s" if math.isfinite(steps_per_sec) else "- it/s"
        self.log(
            f"step {step}/{total} | " + " | ".join(parts) + f" | {speed} | ETA {fmt_duration(eta)}"
        )
