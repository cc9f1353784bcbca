"""The IdCycleGAN training loop: WGAN-GP critics and cycle-consistent translators.

One iteration (paper Sec. 3, after WGAN-GP) = `n_critic` critic updates, each on a fresh batch,
then one update of both generators; all of it is a single `tf.function`, each step written as a
single-replica computation run by `strategy.run` with its loss averaged over the global batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from idcg_tf import losses
from idcg_tf.config import Config
from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.models import Networks, build_networks
from idcg_tf.runs import newest_intact_checkpoint, weights_checkpoint
from idcg_tf.training.schedule import learning_rate
from idcg_tf.training.strategy import is_chief, make_strategy, worker_id
from idcg_tf.training.workdir_lock import WorkdirLock
from idcg_tf.visualize import save_png, translation_sheet

# (images, fake_clips, fake_images, clips) -> per-sample loss; see idcg_tf.identity.
IdentityLoss = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


CRITIC_METRICS = ("critic/loss", "critic/wasserstein_image", "critic/wasserstein_video",
                  "critic/gradient_penalty_image", "critic/gradient_penalty_video")


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


class TrainingDiverged(UserError):
    """A loss term became NaN or infinite; the last good checkpoint is kept."""


def _fmt_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Trainer:
    """Builds the networks, optimizers and checkpoints of a run and trains it.

    Args:
        cfg: the resolved run configuration.
        workdir: run directory (config.yaml, checkpoints/, tensorboard/, samples/,
            metrics.jsonl). A workdir holding a checkpoint is resumed from it.
        strategy: a tf.distribute strategy; default from `cfg.train.strategy`.
        identity_loss: the FaceNet identity term for Model3 (built from the config when None).
        log: where progress lines go.
    """

    def __init__(self, cfg: Config, workdir: str | os.PathLike, strategy=None,
                 identity_loss: IdentityLoss | None = None, log=None):
        self.cfg = cfg
        self.workdir = Path(workdir)
        self.log = log or (lambda line: print(line, flush=True))
        t = cfg.train
        if t.deterministic:
            tf.config.experimental.enable_op_determinism()
        keras.utils.set_random_seed(t.seed)
        self.strategy = strategy or make_strategy(t.strategy)
        self.chief = is_chief(self.strategy)
        self.lock = None
        if self.chief:  # workers write nothing of their own into the workdir
            self.lock = WorkdirLock(self.workdir, warn=lambda line: self.log(f"warning: {line}"))
            self.lock.acquire()
        replicas = self.strategy.num_replicas_in_sync
        if t.batch_size % replicas:
            raise UserError(f"train.batch_size: {t.batch_size} is not divisible by the "
                            f"{replicas} replicas")
        self.global_batch = t.batch_size
        self._check_workdir()
        with self.strategy.scope():
            with dtype_policy(t.mixed_precision):
                self.nets = self._build_networks()
            self.generator_optimizer = self._optimizer("generator_adam")
            self.critic_optimizer = self._optimizer("critic_adam", self.cfg.train.n_critic)
            # Built here, inside the scope: building lazily in the replica context fails.
            self.generator_optimizer.build(self.generator_variables)
            self.critic_optimizer.build(self.critic_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                    aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
            if identity_loss is None:
                identity_loss = self._default_identity_loss()
        self.identity_loss = identity_loss
        self._score_embed = None  # FaceNet for the score curve, built at the first sample
        self._iteration_fn = None
        self.iterator = None
        self.checkpoint = None
        self.manager = None

    def _optimizer(self, name: str, updates_per_step: int = 1):
        """Adam (with the config's decay schedule, stepped `updates_per_step` times per
        generator iteration), loss-scaled under mixed_float16."""
        opt = self.cfg.optimizer
        adam = keras.optimizers.Adam(
            learning_rate(opt, self.cfg.train.steps, updates_per_step), beta_1=opt.beta_1,
            beta_2=opt.beta_2, name=name)
        if self.cfg.train.mixed_precision == "mixed_float16":
            # float16's 5 exponent bits underflow small gradients: dynamic loss scaling (steps
            # with non-finite gradients are skipped and the scale halved).
            return keras.optimizers.LossScaleOptimizer(adam, name=f"{name}_scaled")
        return adam

    @staticmethod
    def _scaled(optimizer, loss):
        """The loss to differentiate: scaled by the dynamic loss scale under mixed_float16."""
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            return optimizer.scale_loss(loss)
        return loss

    def _gp_scale(self):
        if isinstance(self.critic_optimizer, keras.optimizers.LossScaleOptimizer):
            return tf.stop_gradient(tf.cast(self.critic_optimizer.dynamic_scale, tf.float32))
        return 1.0

    def _float32_networks(self):
        """G_Y, G_X, C_X, C_Y with float32 outputs: under a mixed policy the networks compute
        in float16 / bfloat16, but critic scores and every loss term are float32."""
        nets = [self.nets.image_to_video, self.nets.video_to_image, self.nets.image_critic,
                self.nets.video_critic]
        if self.cfg.train.mixed_precision == "none":
            return nets
        return [lambda x, _net=net, **kw: tf.cast(_net(x, **kw), tf.float32) for net in nets]

    def _build_networks(self) -> Networks:
        """The networks this trainer trains (built inside the strategy scope)."""
        return build_networks(self.cfg.model)

    def _default_identity_loss(self) -> IdentityLoss | None:
        if self.cfg.model.variant != "model3":
            return None
        from idcg_tf.identity import facenet_identity_loss_from_config

        return facenet_identity_loss_from_config(self.cfg.loss)

    # ------------------------------------------------------------------ variables
    @property
    def current_step(self) -> int:
        """Generator iterations done so far."""
        return int(self.step.numpy())

    @property
    def generator_variables(self):
        return (self.nets.image_to_video.trainable_variables
                + self.nets.video_to_image.trainable_variables)

    @property
    def critic_variables(self):
        return (self.nets.image_critic.trainable_variables
                + self.nets.video_critic.trainable_variables)

    # ------------------------------------------------------------------ the steps
    def _replica_slice(self, values: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
        """This replica's part of a per-global-sample tensor, so that random draws depend on
        the sample, not on how the batch is split over replicas."""
        rid = tf.distribute.get_replica_context().replica_id_in_sync_group
        start = tf.cast(rid, tf.int32) * batch
        return values[..., start:start + batch]

    def _as_network_dtype(self, images: tf.Tensor, clips: tf.Tensor):
        """The batch in the networks' variable dtype (float32 unless `keras.config.floatx()`
        was changed before the networks were built, as the float64 replica test does)."""
        dtype = self.nets.image_to_video.variable_dtype
        return tf.cast(images, dtype), tf.cast(clips, dtype)

    def critic_step(self, images: tf.Tensor, clips: tf.Tensor) -> dict:
        """One WGAN-GP update of both critics (Eq. 1) on one replica's batch."""
        g_y, g_x, c_x, c_y = self._float32_networks()
        gp_weight = self.cfg.loss.gradient_penalty
        images, clips = self._as_network_dtype(images, clips)
        batch = tf.shape(images)[0]
        # eps ~ U[0, 1] per sample, stateless: keyed by seed and critic update, hence the same
        # on resume and for any replica count.
        eps = tf.random.stateless_uniform(
            [2, self.global_batch],
            seed=tf.stack([tf.constant(self.cfg.train.seed, tf.int64),
                           tf.cast(self.critic_optimizer.iterations.value, tf.int64)]))
        eps = self._replica_slice(eps, batch)
        fake_clips = tf.stop_gradient(g_y(images, training=True))
        fake_images = tf.stop_gradient(g_x(clips, training=True))
        with tf.GradientTape() as tape:
            real_x, fake_x = c_x(images), c_x(fake_images)
            real_y, fake_y = c_y(clips), c_y(fake_clips)
            gp_x = losses.gradient_penalty(c_x, images, fake_images, eps[0], self._gp_scale())
            gp_y = losses.gradient_penalty(c_y, clips, fake_clips, eps[1], self._gp_scale())
            per_sample = (losses.wasserstein_critic_loss(real_x, fake_x)
                          + losses.wasserstein_critic_loss(real_y, fake_y)
                          + gp_weight * (gp_x + gp_y))
            loss = tf.nn.compute_average_loss(per_sample, global_batch_size=self.global_batch)
            scaled = self._scaled(self.critic_optimizer, loss)
        grads = tape.gradient(scaled, self.critic_variables)
        self.critic_optimizer.apply_gradients(zip(grads, self.critic_variables))

        def avg(x):
            return tf.nn.compute_average_loss(tf.reshape(x, [-1]),
                                              global_batch_size=self.global_batch)

        return {
            "critic/loss": loss,
            # Wasserstein estimates E[C(real)] - E[C(fake)] of each critic.
            "critic/wasserstein_image": avg(real_x - fake_x),
            "critic/wasserstein_video": avg(real_y - fake_y),
            "critic/gradient_penalty_image": avg(gp_x),
            "critic/gradient_penalty_video": avg(gp_y),
        }

    def generator_step(self, images: tf.Tensor, clips: tf.Tensor) -> dict:
        """One update of both translators: adversarial + cycle (+ identity) terms (Eq. 6-8)."""
        g_y, g_x, c_x, c_y = self._float32_networks()
        lc, variant = self.cfg.loss, self.cfg.model.variant
        images, clips = self._as_network_dtype(images, clips)
        with tf.GradientTape() as tape:
            fake_clips = g_y(images, training=True)
            fake_images = g_x(clips, training=True)
            rec_images = g_x(fake_clips, training=True)
            rec_clips = g_y(fake_images, training=True)
            terms = {
                "adversarial_video": losses.wasserstein_generator_loss(c_y(fake_clips)),
                "adversarial_image": losses.wasserstein_generator_loss(c_x(fake_images)),
                "cycle": lc.cycle * (losses.cycle_loss(images, rec_images)
                                     + losses.cycle_loss(clips, rec_clips)),
            }
            if variant == "model2":
                form = lc.pixel_identity_form
                terms["pixel_identity"] = lc.pixel_identity * (
                    losses.pixel_identity_loss(images, fake_clips, form)
                    + losses.pixel_identity_loss(fake_images, clips, form))
            if variant == "model3":
                terms["facenet_identity"] = lc.facenet_identity * self.identity_loss(
                    images, fake_clips, fake_images, clips)
            return self._update_generators(tape, terms)

    def _update_generators(self, tape: tf.GradientTape, terms: dict) -> dict:
        """Averages per-sample loss terms over the global batch (recorded by `tape`, so call
        it inside the tape's block), updates the generators, returns the terms as metrics."""
        averaged = {k: tf.nn.compute_average_loss(v, global_batch_size=self.global_batch)
                    for k, v in terms.items()}
        loss = tf.add_n(list(averaged.values()))
        scaled = self._scaled(self.generator_optimizer, loss)  # recorded, so before the stop
        with tape.stop_recording():
            grads = tape.gradient(scaled, self.generator_variables)
            self.generator_optimizer.apply_gradients(zip(grads, self.generator_variables))
        metrics = {f"generator/{k}": v for k, v in averaged.items()}
        metrics["generator/loss"] = loss
        return metrics

    def _reduce(self, per_replica: dict) -> dict:
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    def make_iteration_fn(self):
        """A tf.function running one full iteration on a distributed iterator."""
        n_critic = self.cfg.train.n_critic
        critic_step, generator_step = self.critic_step, self.generator_step
        if self.cfg.train.jit_compile:
            # XLA compiles each replica's step; the input pipeline and the loop stay outside
            # (iterator ops cannot be compiled).
            critic_step = tf.function(critic_step, jit_compile=True)
            generator_step = tf.function(generator_step, jit_compile=True)

        @tf.function
        def iteration(iterator):
            dtype = self.nets.image_to_video.variable_dtype
            critic = {k: tf.constant(0.0, dtype) for k in CRITIC_METRICS}
            for _ in tf.range(n_critic):
                images, clips = next(iterator)
                step_metrics = self._reduce(self.strategy.run(critic_step, (images, clips)))
                critic = {k: critic[k] + step_metrics[k] / n_critic for k in critic}
            images, clips = next(iterator)
            gen = self._reduce(self.strategy.run(generator_step, (images, clips)))
            self.step.assign_add(1)
            return {**critic, **gen}

        return iteration

    # ------------------------------------------------------------------ the run
    def _check_workdir(self):
        saved = self.workdir / "config.yaml"
        if saved.is_file():
            import yaml

            old = yaml.safe_load(saved.read_text()) or {}
            new = json.loads(json.dumps(self.cfg.to_dict()))
            for key, value in new["model"].items():
                if old.get("model", {}).get(key) != value:
                    raise UserError(f"{self.workdir}: model.{key} differs from the run's saved "
                                    f"config.yaml ({old.get('model', {}).get(key)!r} vs "
                                    f"{value!r}); use a new --workdir")

    def _checkpoint_dir(self) -> Path:
        if self.chief:
            return self.workdir / "checkpoints"
        # Non-chief workers must take part in saving but their copy is thrown away.
        return self.workdir / f"tmp-{worker_id(self.strategy)}"

    def setup(self, dataset=None):
        """Restores the latest checkpoint (if any), then positions the input pipeline there."""
        items = dict(step=self.step, weights=weights_checkpoint(self.nets),
                     generator_optimizer=self.generator_optimizer,
                     critic_optimizer=self.critic_optimizer)
        self.checkpoint = tf.train.Checkpoint(**items)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, str(self._checkpoint_dir()),
            max_to_keep=self.cfg.train.keep_checkpoints)
        latest = newest_intact_checkpoint(self._checkpoint_dir(),
                                          warn=lambda line: self.log(f"warning: {line}"))
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            self.log(f"resumed from {latest} (step {self.current_step})")
        if dataset is None:
            # The data order is a function of the step (see reader.make_dataset), so the
            # position needs no checkpoint of its own: distributed iterators cannot have one.
            dataset = reader.training_datasets(
                self.strategy, self.cfg.data, self.cfg.model, self.global_batch,
                self.cfg.train.seed, start_step=self.current_step,
                batches_per_step=self.cfg.train.n_critic + 1)
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
        return {k: float(v) for k, v in metrics.items()}

    def _data_error(self, exc: Exception) -> Exception:
        d, m = self.cfg.data, self.cfg.model
        for key, pattern, kind in (("data.train_images", d.train_images, "images"),
                                   ("data.train_clips", d.train_clips, "clips")):
            if pattern:
                bad = reader.find_corrupt_shard(pattern, kind, m.resolution, m.frames)
                if bad:
                    return UserError(f"{key}: corrupt record in {bad} (set data.on_corrupt=skip "
                                     "to skip bad records)")
        return exc

    def train(self, steps: int | None = None, dataset=None, samples=None) -> dict:
        """Trains up to `steps` generator iterations (default cfg.train.steps) and returns the
        last metrics. Saves checkpoints every `checkpoint_every` steps and at the end."""
        t = self.cfg.train
        total = t.steps if steps is None else steps
        if self.iterator is None:
            self.setup(dataset)
        if self.chief:
            self.workdir.mkdir(parents=True, exist_ok=True)
            (self.workdir / "config.yaml").write_text(self.cfg.to_yaml())
        writer = (tf.summary.create_file_writer(str(self.workdir / "tensorboard"))
                  if self.chief else tf.summary.create_noop_writer())
        samples = samples if samples is not None else self._sample_inputs()
        metrics: dict = {}
        start_step = self.current_step
        window_start, window_step = time.perf_counter(), start_step
        steps_per_sec = float("nan")
        first = True
        while self.current_step < total:
            metrics = self.run_iteration()
            step = self.current_step
            bad = [k for k, v in metrics.items() if not math.isfinite(v)]
            if bad:
                raise TrainingDiverged(
                    f"step {step}: loss term {bad[0]} is {metrics[bad[0]]}; training stopped, "
                    f"the last good checkpoint is {self.manager.latest_checkpoint or 'none'}")
            if first:  # the first iteration includes tracing: time from its end
                window_start, window_step, first = time.perf_counter(), step, False
            if step % t.log_every == 0 or step == total:
                now = time.perf_counter()
                if step > window_step:
                    steps_per_sec = (step - window_step) / (now - window_start)
                    window_start, window_step = now, step
                self._log_metrics(writer, step, total, metrics, steps_per_sec)
            if samples and (step % t.sample_every == 0 or step == total):
                self._write_samples(writer, step, samples)
            if t.facenet_score and (step % t.facenet_score_every == 0 or step == total):
                self._log_identity_score(writer, step)
            if step % t.checkpoint_every == 0 or step == total:
                self.save()
        writer.flush()
        if self.lock:
            self.lock.release()
        if self.current_step == start_step and self.chief:
            self.log(f"nothing to do: the run is already at step {start_step} of {total}")
        return metrics

    def _log_metrics(self, writer, step, total, metrics, steps_per_sec):
        eta = (total - step) / steps_per_sec if steps_per_sec > 0 else float("nan")
        if not self.chief:
            return
        with writer.as_default(step=step):
            for k, v in metrics.items():
                tf.summary.scalar(k, v)
            if math.isfinite(steps_per_sec):
                tf.summary.scalar("speed/steps_per_second", steps_per_sec)
        record = {"step": step, **metrics, "steps_per_second": steps_per_sec}
        with open(self.workdir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        short = {"critic/loss": "critic", "generator/loss": "gen", "generator/cycle": "cycle",
                 "critic/wasserstein_image": "W_img", "critic/wasserstein_video": "W_vid"}
        parts = [f"{name} {metrics[k]:.4g}" for k, name in short.items() if k in metrics]
        for k in ("generator/pixel_identity", "generator/facenet_identity"):
            if k in metrics:
                parts.append(f"{k.split('/')[1]} {metrics[k]:.4g}")
        speed = f"{steps_per_sec:.3g} it/s" if math.isfinite(steps_per_sec) else "- it/s"
        self.log(f"step {step}/{total} | " + " | ".join(parts)
                 + f" | {speed} | ETA {_fmt_duration(eta)}")

    def _sample_inputs(self, count: int = 4):
        """A fixed set of inputs (test split if given, else train) for the sample sheets."""
        d, m = self.cfg.data, self.cfg.model
        if not self.chief:
            return None
        images_pattern = d.test_images or d.train_images
        clips_pattern = d.test_clips or d.train_clips
        if not images_pattern or not clips_pattern:
            return None
        common = dict(resolution=m.resolution, frames=m.frames, batch_size=1, shuffle_buffer=1,
                      flip=False, repeat=True, cycle_length=1)
        images = reader.make_dataset(images_pattern, "images", **common)
        clips = reader.make_dataset(clips_pattern, "clips", **common)
        images = np.concatenate([b.numpy() for b in images.take(count)])
        clips = np.concatenate([b.numpy() for b in clips.take(count)])
        return images, clips

    def translate(self, images, clips):
        """Inference-mode translations and reconstructions (numpy in, numpy out)."""
        g_y, g_x = self.nets.image_to_video, self.nets.video_to_image
        fake_clips = g_y(images, training=False)
        fake_images = g_x(clips, training=False)
        rec_images = g_x(fake_clips, training=False)
        rec_clips = g_y(fake_images, training=False)
        return tuple(np.asarray(t) for t in (fake_clips, rec_images, fake_images, rec_clips))

    def _write_samples(self, writer, step, samples):
        images, clips = samples
        fake_clips, rec_images, fake_images, rec_clips = self.translate(images, clips)
        sheet = translation_sheet(images, fake_clips, rec_images, clips, fake_images, rec_clips)
        save_png(self.workdir / "samples" / f"step_{step:07d}.png", sheet)
        with writer.as_default(step=step):
            tf.summary.image("samples/image_to_video_to_image", sheet[np.newaxis])

    def _log_identity_score(self, writer, step):
        """The identity score curve of Fig. 6: the FaceNet score of `facenet_score_samples`
        held-out samples (evaluate.heldout_scores) as TensorBoard scalars identity_score/* and
        a metrics.jsonl record. Not eval/*: `tools/evaluate.py --curve` writes those, on its
        own sample count."""
        if not self.chief:
            return
        embed = self._score_embedder()
        if embed is None:
            return
        from idcg_tf.evaluation import DIRECTIONS, heldout_scores

        start = time.perf_counter()
        try:
            results = heldout_scores(self.nets, embed, self.cfg,
                                     self.cfg.train.facenet_score_samples, self.log)
        except UserError as exc:  # e.g. a run given its data directly: no split to score
            self.log(f"warning: no identity score during training ({exc})")
            self._score_embed = False
            return
        seconds = time.perf_counter() - start
        record = {"step": step}
        for d in DIRECTIONS:
            record[f"identity_score/{d}"] = results[d]["facenet_score"]
            record[f"identity_score/samples_{d}"] = results[d]["samples"]
        record["identity_score/seconds"] = seconds
        with writer.as_default(step=step):
            for d in DIRECTIONS:
                tf.summary.scalar(f"identity_score/{d}", results[d]["facenet_score"])
        writer.flush()
        with open(self.workdir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        self.log(f"step {step} identity score (FaceNet, held-out samples): " + ", ".join(
            f"{d} {results[d]['facenet_score']:.4f} ({results[d]['samples']})"
            for d in DIRECTIONS) + f" in {seconds:.0f} s")

    def _score_embedder(self):
        """FaceNet for the identity score, compiled once: shared with Model3's loss, else
        loaded; None when unavailable (a warning is logged once)."""
        from idcg_tf.evaluation import compiled_embedder

        if self._score_embed is None:
            embedder = getattr(self.identity_loss, "embedder", None)
            if embedder is None:
                from idcg_tf.identity import FaceNetEmbedder

                try:
                    embedder = FaceNetEmbedder(self.cfg.loss.facenet_weights or None)
                except UserError as exc:
                    self.log(f"warning: no FaceNet score during training ({exc})")
                    self._score_embed = False
            if embedder is not None:
                self._score_embed = compiled_embedder(embedder)
        return self._score_embed or None

