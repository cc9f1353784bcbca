"""The sections of a run's configuration, each with the checks it owns (as Model Garden's
ExperimentConfig): `task` (what is learned: model, losses and their weights, data), `trainer`
(how long and how: steps, checkpoints, precision, strategy) and `optimizer`.

Every `validate` raises `ConfigError` naming the dotted key. TensorFlow-free, so a wrong config
is reported before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses

from idcg_tf.architecture import CONV_IMPLS, VIDEO_CRITIC_FORMS, time_strides
from idcg_tf.config_fields import parent
from idcg_tf.errors import ConfigError

TASKS = ("translation", "generation")  # see idcg_tf.experiment
VARIANTS = ("model1", "model2", "model3")
GENERATION_MODELS = ("wgan_one_stream", "videogan_one_stream", "videogan_two_stream")
PIXEL_IDENTITY_FORMS = ("l2", "mse")  # see idcg_tf.losses.pixel_identity_loss
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")  # Keras dtype policy names
STRATEGIES = ("mirrored", "multi_worker", "default")


def _one_of(key: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: expected one of {', '.join(choices)}, got {value!r}")


def _at_least(section, prefix: str, least, *keys: str) -> None:
    for key in keys:
        value = getattr(section, key)
        if value < least:
            raise ConfigError(f"{prefix}.{key}: must be >= {least}, got {value}")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture (paper Fig. 2, Sec. 3.1). Widths are per strided layer, input side first.
    Translation builds the encoders, decoders and both critics; generation (Sec. 4.2) builds
    `generator` from the clip geometry, the video decoder and the video critic widths."""

    resolution: int = 64  # r: frames and images are r x r
    frames: int = 32  # l: frames per clip
    channels: int = 3  # RGB only: the reader decodes RGB, FaceNet embeds RGB faces
    image_encoder_widths: tuple[int, ...] = (128, 256, 512, 1024)
    video_decoder_widths: tuple[int, ...] = (256, 128, 64)  # then `channels`
    video_encoder_widths: tuple[int, ...] = (64, 128, 256, 512)
    image_decoder_widths: tuple[int, ...] = (512, 256, 128)  # then `channels`
    residual_blocks: int = 3  # inserted before the 3rd and the 4th encoder convolution
    image_critic_widths: tuple[int, ...] = (128, 256, 512, 1024)
    video_critic_widths: tuple[int, ...] = (64, 128, 256, 512)  # then a conv to 1 channel
    # "paper": 5 convs + linear (Sec. 3.1); "ivgan": the authors' iVGAN critic; "four_conv":
    # the earlier 4 convs + linear (see docs/fidelity.md)
    video_critic_form: str = "paper"
    kernel_size: int = 4
    # Every 2D and 3D convolution: "auto" (per shape, by measurement) | "stock" | "custom"
    # (3D over temporal taps, 2D as one matmul): see idcg_tf.ops.conv_autotune.
    conv_impl: str = "auto"
    # Generation only: one of GENERATION_MODELS, noise z ~ N(0, I) of `noise_dim`, projected to
    # (latent frames, s, s, code_channels): (2, 4, 4, 512) at paper size, the latent shape of
    # iVGAN's code (the paper gives no shape).
    generator: str = ""
    noise_dim: int = 100
    code_channels: int = 512

    @property
    def num_strided(self) -> int:
        return len(self.video_decoder_widths) + 1

    @property
    def latent_size(self) -> int:
        return self.resolution // 2**self.num_strided

    @property
    def time_strides(self) -> int:
        return time_strides(self.frames, self.num_strided)

    @property
    def latent_frames(self) -> int:
        return self.frames // 2**self.time_strides

    def validate(self, prefix: str, translation: bool) -> None:
        _one_of(f"{prefix}.conv_impl", self.conv_impl, CONV_IMPLS)
        _one_of(f"{prefix}.video_critic_form", self.video_critic_form, VIDEO_CRITIC_FORMS)
        _at_least(self, prefix, 0, "residual_blocks")
        _at_least(self, prefix, 2, "kernel_size")
        _at_least(self, prefix, 1, "noise_dim", "code_channels")
        self._validate_widths(prefix, translation)
        self._validate_geometry(prefix)
        if translation and self.image_encoder_widths[-1] % self.latent_frames:
            raise ConfigError(
                f"{prefix}.image_encoder_widths: the last width ({self.image_encoder_widths[-1]}) "
                f"must be divisible by the {self.latent_frames} latent frames the video decoder "
                "starts from"
            )

    def _validate_widths(self, prefix: str, translation: bool) -> None:
        """One width per strided layer (decoders: all but the last), all positive."""
        n = self.num_strided
        full = ("image_encoder_widths", "video_encoder_widths", "image_critic_widths")
        full = (*full, "video_critic_widths") if translation else ("video_critic_widths",)
        short = ("video_decoder_widths", "image_decoder_widths")
        short = short if translation else short[:1]
        reference = f"{prefix}.video_decoder_widths"
        for key in full + short:
            widths, want = getattr(self, key), n - (key in short)
            if len(widths) != want:
                why = "the last layer outputs channels" if key in short else "one per strided layer"
                raise ConfigError(
                    f"{prefix}.{key}: expected {want} widths ({why}; {reference} has "
                    f"{n - 1}), got {len(widths)}"
                )
            if any(w <= 0 for w in widths):
                raise ConfigError(f"{prefix}.{key}: widths must be positive, got {list(widths)}")

    def _validate_geometry(self, prefix: str) -> None:
        """Resolution, frames and channels the strided layers can reach."""
        n = self.num_strided
        if n < 2:
            raise ConfigError(
                f"{prefix}.video_decoder_widths: at least 2 strided layers are needed"
            )
        if self.resolution <= 0 or self.resolution % 2**n:
            raise ConfigError(
                f"{prefix}.resolution: {self.resolution} is not divisible by 2^{n} = {2**n} "
                f"(the {n} stride-2 layers); try {max(1, self.resolution // 2**n) * 2**n}"
            )
        if self.frames <= 0:
            raise ConfigError(f"{prefix}.frames: must be positive, got {self.frames}")
        if self.frames % 2 and self.frames != 1:
            raise ConfigError(
                f"{prefix}.frames: {self.frames} frames cannot be reached by stride-2 3D "
                "convolutions; use an even number (paper: 32)"
            )
        if self.channels != 3:
            raise ConfigError(
                f"{prefix}.channels: only 3 (RGB) is supported (the data reader decodes "
                f"RGB, FaceNet embeds RGB faces), got {self.channels}"
            )


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """The loss terms' weights (paper Sec. 4.1: lambda, gamma, omega) and settings."""

    gradient_penalty_weight: float = 10.0  # lambda, Eq. 1
    cycle_weight: float = 1000.0  # gamma, Eq. 5/6
    # Model2, Eq. 7: the paper's one omega for L_id (Sec. 4.1: 100), used for the pixel term too
    # (see docs/fidelity.md).
    pixel_identity_weight: float = 100.0
    pixel_identity_form: str = "l2"  # "l2": Eq. 7's per-frame L2 norm (as RMS) | "mse"
    facenet_identity_weight: float = 100.0  # omega, Model3, Eq. 8
    facenet_frame_step: int = 1  # embed every k-th generated frame (1 = all, as the paper)
    facenet_weights: str = ""  # optional user weights file for FaceNet
    mask_sparsity_weight: float = 0.1  # generation, two-stream: L1 on the mask (VideoGAN)

    def validate(self, prefix: str) -> None:
        _one_of(f"{prefix}.pixel_identity_form", self.pixel_identity_form, PIXEL_IDENTITY_FORMS)
        weights = [f.name for f in dataclasses.fields(self) if f.name.endswith("_weight")]
        _at_least(self, prefix, 0, *weights)
        _at_least(self, prefix, 1, "facenet_frame_step")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the TFRecords are (local paths, gs://, or s3:// etc. with the [io] extra)."""

    train_images: str = ""  # glob of image TFRecord shards
    train_clips: str = ""  # glob of clip TFRecord shards
    test_images: str = ""
    test_clips: str = ""
    shuffle_buffer: int = 256
    flip: bool = True  # random horizontal flip (the same for every frame of a clip)
    on_corrupt: str = "error"  # "error" | "skip"
    cycle_length: int = 4  # shards read in parallel

    def validate(self, prefix: str) -> None:
        _one_of(f"{prefix}.on_corrupt", self.on_corrupt, ("error", "skip"))
        _at_least(self, prefix, 1, "shuffle_buffer", "cycle_length")


# The keys only one task type reads, dotted from the config's top; the other type refuses them
# when a config sets them (it would silently ignore them otherwise). The trainer's facenet_score*
# drive a translation-only hook (the identity score curve, Fig. 6).
ONLY_KEYS = {
    "translation": (
        "task.variant",
        "task.model.image_encoder_widths",
        "task.model.video_encoder_widths",
        "task.model.image_decoder_widths",
        "task.model.image_critic_widths",
        "task.model.residual_blocks",
        "task.loss.cycle_weight",
        "task.loss.pixel_identity_weight",
        "task.loss.pixel_identity_form",
        "task.loss.facenet_identity_weight",
        "task.loss.facenet_frame_step",
        "task.data.train_images",
        "task.data.test_images",
        "trainer.facenet_score",
        "trainer.facenet_score_samples",
        "trainer.facenet_score_every",
    ),
    "generation": (
        "task.model.generator",
        "task.model.noise_dim",
        "task.model.code_channels",
        "task.loss.mask_sparsity_weight",
    ),
}


def _other(task_type: str) -> str:
    return next(t for t in TASKS if t != task_type)


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """What is learned: the task type, its networks, losses and data."""

    type: str = "translation"  # "translation" (Model1/2/3, Sec. 3) | "generation" (Sec. 4.2)
    variant: str = "model1"  # translation: the paper's Model1/2/3 (no / pixel / FaceNet identity)
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    data: DataConfig = DataConfig()

    def validate(self, tree: dict | None = None) -> None:
        """Checks the section; `tree` (the config as written, after any --set) lets it refuse
        keys the task type would ignore."""
        _one_of("task.type", self.type, TASKS)
        translation = self.type == "translation"
        if translation:
            _one_of("task.variant", self.variant, VARIANTS)
            if self.model.generator:
                raise ConfigError(
                    f"task.model.generator: {self.model.generator!r} needs task.type generation"
                )
        elif self.model.generator not in GENERATION_MODELS:
            raise ConfigError(
                f"task.model.generator: expected one of {', '.join(GENERATION_MODELS)} for "
                f"task.type generation, got {self.model.generator!r}"
            )
        self.model.validate("task.model", translation)
        self.loss.validate("task.loss")
        self.data.validate("task.data")
        if tree is not None:
            self._refuse_unused(tree)

    def _refuse_unused(self, tree: dict) -> None:
        other = _other(self.type)
        unused = [k for k in ONLY_KEYS[other] if _leaf_in(tree, k)]
        if unused:
            raise ConfigError(
                f"{unused[0]}: not used by task.type {self.type} (only by {other}); remove it"
                + (f" (also: {', '.join(unused[1:])})" if unused[1:] else "")
            )


def drop_unused(tree: dict, task_type: str) -> None:
    """Removes from `tree` (plain data, in place) the keys `task_type` does not read."""
    for key in ONLY_KEYS[_other(task_type)]:
        node, leaf = parent(tree, key)
        if node is not None:
            node.pop(leaf, None)


def _leaf_in(tree: dict, dotted: str) -> bool:
    node, leaf = parent(tree, dotted)
    return node is not None and leaf in node


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """How the task is trained: the loop, checkpoints, precision and the strategy."""

    steps: int = 50_000  # generator iterations
    batch_size: int = 64  # global, split over the replicas
    n_critic: int = 5  # critic updates per generator update
    seed: int = 0
    strategy: str = "mirrored"  # "mirrored" | "multi_worker" | "default"
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism
    # Translation: the identity score curve (Fig. 6), the FaceNet score of
    # `facenet_score_samples` held-out test samples per direction every `facenet_score_every`
    # steps and at the end (FaceNet's cost: docs/evaluation.md).
    facenet_score: bool = True
    facenet_score_samples: int = 64
    facenet_score_every: int = 1000
    # GPU speed switches (docs/performance.md): "none" | "mixed_float16" (with loss scaling) |
    # "mixed_bfloat16"; critic scores, the gradient penalty and every loss stay float32.
    mixed_precision: str = "none"
    jit_compile: bool = False  # XLA for the critic / generator steps

    def validate(self) -> None:
        _one_of("trainer.mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _one_of("trainer.strategy", self.strategy, STRATEGIES)
        _at_least(self, "trainer", 0, "steps")
        _at_least(self, "trainer", 1, "batch_size", "n_critic", "log_every", "sample_every")
        _at_least(self, "trainer", 1, "checkpoint_every", "keep_checkpoints")
        _at_least(self, "trainer", 1, "facenet_score_samples", "facenet_score_every")


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Adam for every network (WGAN-GP's choice; the paper names none)."""

    learning_rate: float = 1e-4
    beta_1: float = 0.5
    beta_2: float = 0.9
    # Fraction of trainer.steps after which the rate decays linearly to 0 at the last step
    # (CycleGAN: 0.5); 1.0 keeps it constant, as the paper (Sec. 4.1 names no schedule).
    decay_start: float = 1.0

    def validate(self) -> None:
        if self.learning_rate <= 0:
            raise ConfigError("optimizer.learning_rate: must be > 0")
        for key in ("beta_1", "beta_2"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"optimizer.{key}: must be in [0, 1)")
        if not 0 <= self.decay_start <= 1:
            raise ConfigError(
                f"optimizer.decay_start: must be in [0, 1] (a fraction of "
                f"trainer.steps; 1 = no decay), got {self.decay_start}"
            )
