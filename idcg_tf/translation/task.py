"""The IdCycleGAN task (Model1/2/3): WGAN-GP critics and cycle-consistent translators."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from idcg_tf import losses
from idcg_tf.data import reader
from idcg_tf.models import Networks, build_networks
from idcg_tf.training.task import Task, Update, checkpoint_variables, network_table
from idcg_tf.visualize import translation_sheet

CRITIC_METRICS = (
    "critic/loss",
    "critic/wasserstein_image",
    "critic/wasserstein_video",
    "critic/gradient_penalty_image",
    "critic/gradient_penalty_video",
)


def weights_checkpoint(nets: Networks) -> tf.train.Checkpoint:
    """Every variable of the four networks, keyed by network and variable path."""
    return tf.train.Checkpoint(
        **{
            name: checkpoint_variables(getattr(nets, name))
            for name in ("image_to_video", "video_to_image", "image_critic", "video_critic")
        }
    )


class TranslationTask(Task):
    """Image <-> video translation: G_Y, G_X against the critics C_X, C_Y (paper Sec. 3).

    The generator loss is adversarial + cycle (Eq. 6), plus the pixel identity term (Model2,
    Eq. 7) or the FaceNet identity term (Model3, Eq. 8), chosen once from `task.variant`.

    Args:
        cfg: the resolved run configuration (`task.type: translation`).
        identity_loss: Model3's term (images, fake_clips, fake_images, clips) -> (N,); by
            default `losses.facenet_identity_loss` with a frozen FaceNet of the config.
    """

    name = "translation"
    fixed_keys = ("task.variant", "task.model")
    trained_with = "a celeb_*/pasc_*/demo/tiny config"
    critic_metrics = CRITIC_METRICS
    console_metrics = (
        ("critic/loss", "critic"),
        ("generator/loss", "gen"),
        ("generator/cycle", "cycle"),
        ("critic/wasserstein_image", "W_img"),
        ("critic/wasserstein_video", "W_vid"),
        ("generator/pixel_identity", "pixel_identity"),
        ("generator/facenet_identity", "facenet_identity"),
    )

    def __init__(self, cfg, identity_loss=None):
        super().__init__(cfg)
        self.identity_loss = identity_loss
        self.embedder = getattr(identity_loss, "embedder", None)
        lc = cfg.task.loss
        self._identity_term = {
            "model1": None,
            "model2": ("pixel_identity", lc.pixel_identity_weight, self._pixel_identity),
            "model3": ("facenet_identity", lc.facenet_identity_weight, self._facenet_identity),
        }[cfg.task.variant]

    # ------------------------------------------------------------------ networks and inputs
    def build_networks(self):
        self.nets = build_networks(self.cfg.task.model)

    def build_losses(self):
        if self.cfg.task.variant != "model3" or self.identity_loss is not None:
            return
        from idcg_tf.identity import FaceNetEmbedder

        lc = self.cfg.task.loss
        self.embedder = FaceNetEmbedder(weights_path=lc.facenet_weights or None, name="facenet")
        self.identity_loss = functools.partial(
            losses.facenet_identity_loss, self.embedder, frame_step=lc.facenet_frame_step
        )

    @property
    def generator_variables(self):
        return (
            self.nets.image_to_video.trainable_variables
            + self.nets.video_to_image.trainable_variables
        )

    @property
    def critic_variables(self):
        return (
            self.nets.image_critic.trainable_variables + self.nets.video_critic.trainable_variables
        )

    def checkpoint_items(self):
        return {"weights": weights_checkpoint(self.nets)}

    # ------------------------------------------------------------------ the steps
    def _networks(self):
        nets = self.nets
        return self.float32_networks(
            nets.image_to_video, nets.video_to_image, nets.image_critic, nets.video_critic
        )

    def critic_step(self, update: Update, batch) -> dict:
        """One WGAN-GP update of both critics (Eq. 1) on one replica's batch."""
        g_y, g_x, c_x, c_y = self._networks()
        images, clips = self.network_inputs(*batch)
        # eps ~ U[0, 1] per sample, keyed by seed and critic update.
        eps = update.draw(
            lambda key: tf.random.stateless_uniform([2, update.global_batch], seed=key)
        )
        fake_clips = tf.stop_gradient(g_y(images, training=True))
        fake_images = tf.stop_gradient(g_x(clips, training=True))
        with tf.GradientTape() as tape:
            real_x, fake_x = losses.scores_of_both(c_x, images, fake_images)
            real_y, fake_y = losses.scores_of_both(c_y, clips, fake_clips)
            gp_x = losses.gradient_penalty(c_x, images, fake_images, eps[0], update.loss_scale)
            gp_y = losses.gradient_penalty(c_y, clips, fake_clips, eps[1], update.loss_scale)
            per_sample = (
                losses.wasserstein_critic_loss(real_x, fake_x)
                + losses.wasserstein_critic_loss(real_y, fake_y)
                + self.cfg.task.loss.gradient_penalty_weight * (gp_x + gp_y)
            )
            loss = update.mean(per_sample)
            update.minimize(tape, loss)
        return {
            "critic/loss": loss,
            # Wasserstein estimates E[C(real)] - E[C(fake)] of each critic.
            "critic/wasserstein_image": update.mean(real_x - fake_x),
            "critic/wasserstein_video": update.mean(real_y - fake_y),
            "critic/gradient_penalty_image": update.mean(gp_x),
            "critic/gradient_penalty_video": update.mean(gp_y),
        }

    def _pixel_identity(self, images, fake_clips, fake_images, clips):
        form = self.cfg.task.loss.pixel_identity_form
        return losses.pixel_identity_loss(images, fake_clips, form) + losses.pixel_identity_loss(
            fake_images, clips, form
        )

    def _facenet_identity(self, images, fake_clips, fake_images, clips):
        return self.identity_loss(images, fake_clips, fake_images, clips)

    def generator_terms(self, images, clips) -> dict:
        """The per-sample, weighted terms of the translators' loss (Eq. 6-8)."""
        g_y, g_x, c_x, c_y = self._networks()
        fake_clips = g_y(images, training=True)
        fake_images = g_x(clips, training=True)
        rec_images = g_x(fake_clips, training=True)
        rec_clips = g_y(fake_images, training=True)
        terms = {
            "adversarial_video": losses.wasserstein_generator_loss(c_y(fake_clips)),
            "adversarial_image": losses.wasserstein_generator_loss(c_x(fake_images)),
            "cycle": self.cfg.task.loss.cycle_weight
            * (losses.cycle_loss(images, rec_images) + losses.cycle_loss(clips, rec_clips)),
        }
        if self._identity_term:
            name, weight, term = self._identity_term
            terms[name] = weight * term(images, fake_clips, fake_images, clips)
        return terms

    def generator_step(self, update: Update, batch=None) -> dict:
        """One update of both translators on one replica's batch."""
        images, clips = self.network_inputs(*batch)
        with tf.GradientTape() as tape:
            averaged = {k: update.mean(v) for k, v in self.generator_terms(images, clips).items()}
            loss = tf.add_n(list(averaged.values()))
            update.minimize(tape, loss)
        return {**{f"generator/{k}": v for k, v in averaged.items()}, "generator/loss": loss}

    # ------------------------------------------------------------------ samples and report
    def sample_inputs(self, count: int = 4):
        """Fixed images and clips (test split if given, else train), or None without data."""
        d, m = self.cfg.task.data, self.cfg.task.model
        images_pattern = d.test_images or d.train_images
        clips_pattern = d.test_clips or d.train_clips
        if not images_pattern or not clips_pattern:
            return None
        common = dict(
            resolution=m.resolution,
            frames=m.frames,
            batch_size=1,
            shuffle_buffer=1,
            flip=False,
            repeat=True,
            cycle_length=1,
        )
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

    def sample_sheet(self, inputs):
        images, clips = inputs
        fake_clips, rec_images, fake_images, rec_clips = self.translate(images, clips)
        return "samples/image_to_video_to_image", translation_sheet(
            images, fake_clips, rec_images, clips, fake_images, rec_clips
        )

    def describe(self) -> str:
        """Parameter counts and input -> output shapes of the four networks, and the critics'
        layers."""
        m = self.cfg.task.model
        nets = build_networks(m)
        image = (None, m.resolution, m.resolution, m.channels)
        video = (None, m.frames, m.resolution, m.resolution, m.channels)
        rows = [
            ("G_Y image_to_video", nets.image_to_video, image),
            ("G_X video_to_image", nets.video_to_image, video),
            ("C_X image_critic", nets.image_critic, image),
            ("C_Y video_critic", nets.video_critic, video),
        ]
        lines = network_table(rows, 22)
        lines.append(
            f"latent code {m.latent_size}x{m.latent_size}x{m.image_encoder_widths[-1]} "
            f"= {m.latent_frames} frames x "
            f"{m.image_encoder_widths[-1] // m.latent_frames} channels; "
            f"{m.time_strides} of {m.num_strided} 3D layers stride over time"
        )
        for name, net, shape in rows[2:]:
            form = f", form {m.video_critic_form}" if net is nets.video_critic else ""
            lines.append(f"{name} layers{form}:")
            lines += [f"  {line}" for line in net.describe(shape)]
        return "\n".join(lines)
