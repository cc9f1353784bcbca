"""Typed run configuration: YAML files loaded into frozen dataclasses.

Every key is checked: an unknown key, a wrong type or an impossible value raises `ConfigError`
naming the dotted key. Overrides (`--set train.steps=10`) go through the same checks.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path

import yaml

from idcg_tf import configs
from idcg_tf.architecture import CONV_IMPL_ALIASES, CONV_IMPLS, VIDEO_CRITIC_FORMS, time_strides
from idcg_tf.config_fields import apply_override, build, parse_override, plain
from idcg_tf.errors import ConfigError

TASKS = ("translation", "generation")  # see idcg_tf.experiment
VARIANTS = ("model1", "model2", "model3")
GENERATION_MODELS = ("wgan_one_stream", "videogan_one_stream", "videogan_two_stream")
PIXEL_IDENTITY_FORMS = ("l2", "mse")  # see idcg_tf.losses.pixel_identity_loss
MIXED_PRECISION = ("none", "mixed_float16", "mixed_bfloat16")  # Keras dtype policy names


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture (paper Fig. 2, Sec. 3.1). Widths are per strided layer, input side first."""

    variant: str = "model1"
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

    @property
    def num_strided(self) -> int:
        return len(self.image_encoder_widths)

    @property
    def latent_size(self) -> int:
        return self.resolution // 2**self.num_strided

    @property
    def time_strides(self) -> int:
        return time_strides(self.frames, self.num_strided)

    @property
    def latent_frames(self) -> int:
        return self.frames // 2**self.time_strides


@dataclasses.dataclass(frozen=True)
class LossConfig:
    """Loss weights (paper Sec. 4.1): lambda, gamma, omega."""

    gradient_penalty: float = 10.0  # lambda, Eq. 1
    cycle: float = 1000.0  # gamma, Eq. 5/6
    # Model2, Eq. 7. The paper's one omega for L_id (Sec. 4.1: 100); the authors' related code
    # used 100 for the pixel term too.
    pixel_identity: float = 100.0
    pixel_identity_form: str = "l2"  # "l2": Eq. 7's per-frame L2 norm (as RMS) | "mse"
    facenet_identity: float = 100.0  # omega, Model3, Eq. 8
    facenet_frame_step: int = 1  # embed every k-th generated frame (1 = all, as the paper)
    facenet_weights: str = ""  # optional user weights file for FaceNet


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    learning_rate: float = 1e-4
    beta_1: float = 0.5
    beta_2: float = 0.9
    # Fraction of train.steps after which the rate decays linearly to 0 at the last step
    # (CycleGAN: 0.5); 1.0 keeps it constant, as the paper (Sec. 4.1 names no schedule).
    decay_start: float = 1.0


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


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    steps: int = 50_000  # generator iterations
    batch_size: int = 64  # global, split over the replicas
    n_critic: int = 5
    seed: int = 0
    strategy: str = "mirrored"  # "mirrored" | "multi_worker" | "default"
    log_every: int = 10
    sample_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism
    # The identity score curve (Fig. 6): the FaceNet score of `facenet_score_samples` held-out
    # test samples per direction, every `facenet_score_every` steps and at the end. 64 samples
    # are ~4,200 faces at 64x64/32 frames: minutes on a CPU, seconds on a GPU (FaceNet's cost:
    # docs/evaluation.md); every 1000 steps is 50 points over 50K.
    facenet_score: bool = True
    facenet_score_samples: int = 64
    facenet_score_every: int = 1000
    # GPU speed switches (docs/performance.md): "none" | "mixed_float16" (with loss scaling) |
    # "mixed_bfloat16"; critic scores, the gradient penalty and every loss stay float32.
    mixed_precision: str = "none"
    jit_compile: bool = False  # XLA for the critic / generator steps; slower on our CPU


@dataclasses.dataclass(frozen=True)
class GenerationConfig:
    """Unconditional video generation (`task: generation`; paper Sec. 4.2, Fig. 3): noise in, a
    clip out, trained on data.train_clips only. The clip geometry, decoder and critic widths
    come from `model`; its translator keys (variant, encoders, image decoder) are unused."""

    model: str = ""  # one of GENERATION_MODELS; empty for task translation
    noise_dim: int = 100  # z ~ N(0, I)
    # The code z is projected to: (latent frames, s, s, code_channels); (2, 4, 4, 512) at paper
    # size, the latent shape of iVGAN's code (the paper gives no shape).
    code_channels: int = 512
    mask_sparsity: float = 0.1  # two-stream: weight of the L1 penalty on the mask (VideoGAN)


@dataclasses.dataclass(frozen=True)
class Config:
    task: str = "translation"  # "translation" (Model1/2/3) | "generation" (Sec. 4.2)
    model: ModelConfig = ModelConfig()
    loss: LossConfig = LossConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    data: DataConfig = DataConfig()
    train: TrainConfig = TrainConfig()
    generation: GenerationConfig = GenerationConfig()
    name: str = ""
    description: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(plain(self.to_dict()), sort_keys=False)


# Settings with a fixed set of values, and numbers with a lower bound only.
_CHOICES = (
    ("task", TASKS),
    ("model.variant", VARIANTS),
    ("model.conv_impl", CONV_IMPLS),
    ("model.video_critic_form", VIDEO_CRITIC_FORMS),
    ("loss.pixel_identity_form", PIXEL_IDENTITY_FORMS),
    ("train.mixed_precision", MIXED_PRECISION),
    ("train.strategy", ("mirrored", "multi_worker", "default")),
    ("data.on_corrupt", ("error", "skip")),
)
_AT_LEAST = (
    ("model.residual_blocks", 0),
    ("model.kernel_size", 2),
    *((f"loss.{key}", 0) for key in ("gradient_penalty", "cycle", "pixel_identity")),
    ("loss.facenet_identity", 0),
    ("loss.facenet_frame_step", 1),
    ("train.steps", 0),
    *((f"train.{key}", 1) for key in ("batch_size", "n_critic", "log_every", "sample_every")),
    *((f"train.{key}", 1) for key in ("checkpoint_every", "keep_checkpoints")),
    *((f"train.{key}", 1) for key in ("facenet_score_samples", "facenet_score_every")),
    *((f"data.{key}", 1) for key in ("shuffle_buffer", "cycle_length")),
    *((f"generation.{key}", 1) for key in ("noise_dim", "code_channels")),
    ("generation.mask_sparsity", 0),
)


def _value(cfg: Config, dotted: str):
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def validate(cfg: Config) -> Config:
    """Cross-field checks; raises ConfigError naming the key."""
    for key, choices in _CHOICES:
        if _value(cfg, key) not in choices:
            raise ConfigError(
                f"{key}: expected one of {', '.join(choices)}, got {_value(cfg, key)!r}"
            )
    for key, least in _AT_LEAST:
        if _value(cfg, key) < least:
            raise ConfigError(f"{key}: must be >= {least}, got {_value(cfg, key)}")
    _validate_widths(cfg.model)
    _validate_geometry(cfg.model)
    _validate_optimizer(cfg.optimizer)
    _validate_task(cfg)
    return cfg


def _validate_widths(m: ModelConfig) -> None:
    """One width per strided layer (decoders: all but the last), all positive."""
    n = m.num_strided
    for key in (
        "image_encoder_widths",
        "video_encoder_widths",
        "image_critic_widths",
        "video_critic_widths",
    ):
        widths = getattr(m, key)
        if len(widths) != n:
            raise ConfigError(
                f"model.{key}: expected {n} widths (one per strided layer, as "
                f"model.image_encoder_widths), got {len(widths)}"
            )
        if any(w <= 0 for w in widths):
            raise ConfigError(f"model.{key}: widths must be positive, got {list(widths)}")
    for key in ("video_decoder_widths", "image_decoder_widths"):
        widths = getattr(m, key)
        if len(widths) != n - 1:
            raise ConfigError(
                f"model.{key}: expected {n - 1} widths (the last layer outputs "
                f"model.channels), got {len(widths)}"
            )
        if any(w <= 0 for w in widths):
            raise ConfigError(f"model.{key}: widths must be positive, got {list(widths)}")


def _validate_geometry(m: ModelConfig) -> None:
    """Resolution, frames and channels the strided layers can reach."""
    n = m.num_strided
    if n < 2:
        raise ConfigError("model.image_encoder_widths: at least 2 strided layers are needed")
    if m.resolution <= 0 or m.resolution % 2**n:
        raise ConfigError(
            f"model.resolution: {m.resolution} is not divisible by 2^{n} = {2**n} "
            f"(the {n} stride-2 layers); try {max(1, m.resolution // 2**n) * 2**n}"
        )
    if m.frames <= 0:
        raise ConfigError(f"model.frames: must be positive, got {m.frames}")
    if m.frames % 2 and m.frames != 1:
        raise ConfigError(
            f"model.frames: {m.frames} frames cannot be reached by stride-2 3D "
            "convolutions; use an even number (paper: 32)"
        )
    if m.image_encoder_widths[-1] % m.latent_frames:
        raise ConfigError(
            f"model.image_encoder_widths: the last width ({m.image_encoder_widths[-1]}) must be "
            f"divisible by the {m.latent_frames} latent frames the video decoder starts from"
        )
    if m.channels != 3:
        raise ConfigError(
            f"model.channels: only 3 (RGB) is supported (the data reader decodes "
            f"RGB, FaceNet embeds RGB faces), got {m.channels}"
        )


def _validate_optimizer(o) -> None:
    if o.learning_rate <= 0:
        raise ConfigError("optimizer.learning_rate: must be > 0")
    for key in ("beta_1", "beta_2"):
        if not 0 <= getattr(o, key) < 1:
            raise ConfigError(f"optimizer.{key}: must be in [0, 1)")
    if not 0 <= o.decay_start <= 1:
        raise ConfigError(
            f"optimizer.decay_start: must be in [0, 1] (a fraction of "
            f"train.steps; 1 = no decay), got {o.decay_start}"
        )


def _validate_task(cfg: Config) -> None:
    """What the task needs of the generation section and the trainer."""
    g, t = cfg.generation, cfg.train
    if cfg.task == "generation" and g.model not in GENERATION_MODELS:
        raise ConfigError(
            f"generation.model: expected one of {', '.join(GENERATION_MODELS)} "
            f"for task: generation, got {g.model!r}"
        )
    if cfg.task == "translation" and g.model:
        raise ConfigError(f"generation.model: {g.model!r} needs task: generation")
    if cfg.task == "generation" and (t.mixed_precision != "none" or t.jit_compile):
        # The generation task neither casts its networks' outputs nor is tested under XLA.
        raise ConfigError(
            "train.mixed_precision / train.jit_compile: not supported with "
            f"task: generation ({g.model}) yet; use none / false"
        )


# Keys renamed since 0.2, as (section, old key, new key, {old value: new value}): configs and
# `--set` overrides of the old form are read as the new one, with a one-line notice.
RENAMED = (("model", "conv3d_impl", "conv_impl", CONV_IMPL_ALIASES),)
_noticed: set = set()


def _rename_legacy_keys(tree: dict) -> None:
    for section, old, new, values in RENAMED:
        node = tree.get(section)
        if not isinstance(node, dict) or old not in node:
            continue
        value = node.pop(old)
        value = values.get(value, value) if isinstance(value, str) else value
        node.setdefault(new, value)
        if (section, old) not in _noticed:
            _noticed.add((section, old))
            print(
                f"notice: {section}.{old} is now {section}.{new} (read as {new}: {value!r})",
                file=sys.stderr,
                flush=True,
            )


def from_dict(data: dict, overrides: typing.Sequence[str] = ()) -> Config:
    tree = json.loads(json.dumps(data or {}))  # deep copy of plain data
    for text in overrides:
        path, value = parse_override(text)
        apply_override(tree, path, value)
    _rename_legacy_keys(tree)
    # A config from before the `task` key: generation.model chose the task, and the code took
    # its channels from the translator's (model.image_encoder_widths[-1] / latent frames).
    gen = tree.get("generation")
    legacy = "task" not in tree and isinstance(gen, dict) and bool(gen.get("model"))
    if legacy:
        tree["task"] = "generation"
    cfg = build(Config, tree, "")
    if legacy and "code_channels" not in gen and cfg.model.image_encoder_widths:
        m = cfg.model
        cfg = dataclasses.replace(
            cfg,
            generation=dataclasses.replace(
                cfg.generation, code_channels=m.image_encoder_widths[-1] // max(1, m.latent_frames)
            ),
        )
    return validate(cfg)


def load(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Loads a YAML config (path or shipped name), applies `section.key=value` overrides and
    validates everything."""
    path = configs.locate(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    try:
        return from_dict(data or {}, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def replace(cfg: Config, **sections) -> Config:
    """A copy with whole sections or fields replaced, e.g. replace(cfg, train={'steps': 3})."""
    tree = cfg.to_dict()
    for section, values in sections.items():
        if isinstance(values, dict):
            tree[section].update(values)
        else:
            tree[section] = values
    return from_dict(plain(tree))
