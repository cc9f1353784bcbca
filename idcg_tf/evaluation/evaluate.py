"""Evaluating trained runs: FaceNet scores (Table 1), verification rate, cycle error, the
identity score curve over checkpoints (Fig. 6), sample sheets (Fig. 4/5) and comparisons.

`evaluate_runs` does what `tools/evaluate.py` does; `facenet_scores` is the piece a training
loop can call on a fixed batch.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf

from idcg_tf.config import Config
from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.evaluation import metrics
from idcg_tf.models import Networks
from idcg_tf.runs import checkpoint_path, list_checkpoints, load_config, load_networks
from idcg_tf.visualize import pick_frames, sample_sheet, save_gif, save_png, to_uint8

DIRECTIONS = ("image_to_video", "video_to_image")
TITLES = {"image_to_video": "Image-to-Video", "video_to_image": "Video-to-Image"}
SCORE_KEYS = tuple(f"facenet_score_{d}" for d in DIRECTIONS)
TENSORBOARD_PREFIX = "eval/"
PAPER_SAMPLES = 1000  # Sec. 4.3: "the generated 1000 samples"
# Shuffle block for picking the evaluated samples: a fixed, seeded selection that mixes shards
# (test shards are often written person by person) and is the same for every run compared.
SELECTION_BUFFER = 1024
# How the generators' BatchNorm normalises at evaluation: "moving" (the averages learnt in
# training, Keras inference mode, as exported models) or "batch" (each batch's own statistics,
# BatchNorm in training mode, as the authors' TF1 code sampled).
BATCHNORM_MODES = ("moving", "batch")

Embed = Callable[[np.ndarray], np.ndarray]
Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `evaluate` measures and draws.

    Args:
        samples: test samples per direction (fewer when the split holds fewer).
        threshold: same-person threshold on the FaceNet L2 distance (verification rate).
        images, clips: TFRecord globs to evaluate on; None takes each run's test split.
        curve: also score every kept checkpoint (Fig. 6) on `curve_samples` samples.
        frames: 1-based frame numbers shown in the sheets (clamped to short clips).
        sheet_samples: rows of the sample sheets (and GIFs per run).
        batch_size: samples translated at once; embed_batch: faces per FaceNet call.
        seed: picks which samples are evaluated.
        facenet_weights: Keras weights for FaceNet; None uses the default conversion.
        batchnorm: "moving" (default) or "batch" (see BATCHNORM_MODES); with "batch" a
            sample's translation depends on the others in its batch of `batch_size`.
    """

    samples: int = PAPER_SAMPLES
    threshold: float = metrics.DEFAULT_THRESHOLD
    images: str | None = None
    clips: str | None = None
    curve: bool = False
    curve_samples: int | None = None
    frames: tuple[int, ...] = (1, 8, 32)
    sheet_samples: int = 8
    batch_size: int = 16
    embed_batch: int = 64
    seed: int = 0
    facenet_weights: str | None = None
    batchnorm: str = "moving"

    @property
    def training(self) -> bool:
        """The `training` flag the generators are called with."""
        return self.batchnorm == "batch"

    def check(self) -> "EvalOptions":
        if self.batchnorm not in BATCHNORM_MODES:
            raise UserError(f"--batchnorm: expected one of {', '.join(BATCHNORM_MODES)}, got "
                            f"{self.batchnorm!r}")
        for key in ("samples", "sheet_samples", "batch_size", "embed_batch"):
            if getattr(self, key) < 1:
                raise UserError(f"--{key.replace('_', '-')}: must be >= 1")
        if self.curve_samples is not None and self.curve_samples < 1:
            raise UserError("--curve-samples: must be >= 1")
        if not 0 < self.threshold < 2 or not math.isfinite(self.threshold):
            # Normalised embeddings are at most 2 apart: other values judge everything alike.
            raise UserError(f"--threshold: must be in (0, 2), got {self.threshold}")
        if not self.frames or any(f < 1 for f in self.frames):
            raise UserError(f"--frames: expected frame numbers >= 1, got {list(self.frames)}")
        if (self.images is None) != (self.clips is None):
            raise UserError("--images and --clips: give both or neither")
        return self


@dataclasses.dataclass(frozen=True)
class EvalData:
    """The split a run is evaluated on."""

    images: str
    clips: str
    split: str  # "test", "train" (fallback) or "given" (--images/--clips)
    dataset: str  # label for the table: the folder holding the image shards

    def option(self, kind: str) -> str:
        """The option or config key an error about `kind` ("images"/"clips") should name."""
        return f"--{kind}" if self.split == "given" else f"data.{self.split}_{kind}"


def dataset_label(pattern: str) -> str:
    """'data/celeb/images-test-*.tfrecord' -> 'celeb'."""
    first = pattern.split(",")[0].strip().rstrip("/")
    parent = first.rsplit("/", 2)[-2] if first.count("/") else ""
    return parent or first


def eval_data_for(cfg: Config, options: EvalOptions, run: str, log: Log) -> EvalData:
    """The run's test split, the given one, or (with a warning) its training split."""
    if options.images is not None:
        return EvalData(options.images, options.clips, "given", dataset_label(options.images))
    d = cfg.data
    if d.test_images and d.test_clips:
        return EvalData(d.test_images, d.test_clips, "test", dataset_label(d.test_images))
    if d.train_images and d.train_clips:
        log(f"warning: {run}: the config has no data.test_images/data.test_clips; evaluating on "
            "the TRAINING split (scores will be optimistic); pass --images/--clips for a test "
            "split")
        return EvalData(d.train_images, d.train_clips, "train", dataset_label(d.train_images))
    raise UserError(f"{run}: the config names no test or training data; pass --images and "
                    "--clips")


# ---------------------------------------------------------------------- translating and scoring
def compiled_embedder(embedder) -> Embed:
    """The embedder as one traced function: on CPU ~30% faster than eager calls, and traced
    once for any batch and face size (a FaceNet trace takes seconds)."""
    return tf.function(lambda faces: embedder(faces),
                       input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])


def _embed(embed: Embed, faces: np.ndarray, chunk: int) -> np.ndarray:
    out = [np.asarray(embed(tf.constant(faces[i:i + chunk])))
           for i in range(0, len(faces), chunk)]
    return np.concatenate(out).astype(np.float32)


def _image_to_video(nets: Networks, embed: Embed, images: np.ndarray, chunk: int,
                    training: bool = False):
    fake_clips = np.asarray(nets.image_to_video(images, training=training))
    rec_images = np.asarray(nets.video_to_image(fake_clips, training=training))
    n, frames = fake_clips.shape[:2]
    emb = _embed(embed, np.concatenate([images, fake_clips.reshape(-1, *images.shape[1:])]),
                 chunk)
    inputs, outputs = emb[:n], emb[n:].reshape(n, frames, -1)
    distances = metrics.image_to_video_distances(inputs, outputs)
    return (distances, metrics.l1_errors(images, rec_images), fake_clips, rec_images,
            (inputs, outputs))


def _video_to_image(nets: Networks, embed: Embed, clips: np.ndarray, chunk: int,
                    training: bool = False):
    fake_images = np.asarray(nets.video_to_image(clips, training=training))
    rec_clips = np.asarray(nets.image_to_video(fake_images, training=training))
    n, frames = clips.shape[:2]
    emb = _embed(embed, np.concatenate([fake_images, clips.reshape(-1, *clips.shape[2:])]),
                 chunk)
    outputs, inputs = emb[:n], emb[n:].reshape(n, frames, -1)
    distances = metrics.video_to_image_distances(outputs, inputs)
    return (distances, metrics.l1_errors(clips, rec_clips), fake_images, rec_clips,
            (inputs, outputs))


def facenet_scores(nets: Networks, embedder, images, clips, batch_size: int = 16,
                   embed_batch: int = 64, training: bool = False) -> dict:
    """FaceNet scores (Table 1) of the translations of `images` (N, r, r, 3) and `clips`
    (M, l, r, r, 3) in [-1, 1]: {"facenet_score_image_to_video", "facenet_score_video_to_image"}.

    `embedder` is a `FaceNetEmbedder` (or any callable with its contract; wrap it once with
    `compiled_embedder` when calling this repeatedly on a CPU). For logging during training,
    call it on a fixed batch and write the result with `write_tensorboard_scalars`.
    `training=True` normalises with batch statistics (see BATCHNORM_MODES).
    """
    images, clips = np.asarray(images, np.float32), np.asarray(clips, np.float32)
    out = {}
    for key, data, direction in ((SCORE_KEYS[0], images, _image_to_video),
                                 (SCORE_KEYS[1], clips, _video_to_image)):
        distances = [direction(nets, embedder, data[i:i + batch_size], embed_batch,
                               training)[0]
                     for i in range(0, len(data), batch_size)]
        out[key] = metrics.facenet_score(np.concatenate(distances))
    return out


def heldout_scores(nets: Networks, embed: Embed, cfg: Config, samples: int,
                   log: Log) -> dict:
    """FaceNet score and cycle error of the first `samples` of the run's test split (the same
    selection as `tools/evaluate.py` with its default seed, moving-average BatchNorm), for the
    identity score curve during training: {"image_to_video": summary, "video_to_image": ...}
    as `metrics.summarize` returns. Without a test split, the training split (with a warning)."""
    options = EvalOptions(samples=samples)
    data = eval_data_for(cfg, options, "train.facenet_score", log)
    results, _ = _evaluate_checkpoint(nets, embed, cfg, data, samples, options, 0)
    return results


def write_tensorboard_scalars(writer, step: int, values: dict) -> None:
    """Writes {name: value} as `eval/<name>` scalars at `step` (the tags the curve uses)."""
    with writer.as_default(step=step):
        for name, value in values.items():
            tf.summary.scalar(TENSORBOARD_PREFIX + name, value)
    writer.flush()


# ---------------------------------------------------------------------- the data
def _batches(pattern: str, kind: str, cfg: Config, samples: int, options: EvalOptions,
             key: str) -> Iterable[np.ndarray]:
    """The first `samples` samples of a seeded shuffle of the split, in batches."""
    m = cfg.model
    ds = reader.make_dataset(pattern, kind, m.resolution, m.frames, 1,
                             shuffle_buffer=SELECTION_BUFFER, seed=options.seed, flip=False,
                             repeat=False, on_corrupt=cfg.data.on_corrupt, key=key)
    ds = ds.unbatch().take(samples).batch(options.batch_size)
    iterator = iter(ds)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            return
        except tf.errors.OpError as exc:
            first = (exc.message or type(exc).__name__).strip().splitlines()[0]
            shape = f"{m.resolution}x{m.resolution}" + (f", {m.frames} frames" if kind == "clips"
                                                         else "")
            raise UserError(f"{key}: cannot read {pattern} as {kind} of the run's shape "
                            f"({shape}): {first}") from None
        yield batch.numpy()


def _evaluate_direction(nets, embed, batches, direction, options, keep):
    """Per-sample distances and cycle errors of one direction, the FaceNet embeddings of its
    inputs and translations (per frame for clips), and the first `keep` samples' inputs, translations and
    reconstructions (for the sheets)."""
    fn = _image_to_video if direction == "image_to_video" else _video_to_image
    distances, cycles, kept, emb_in, emb_out = [], [], [[], [], []], [], []
    have = 0
    for batch in batches:
        dist, cyc, fake, rec, (e_in, e_out) = fn(nets, embed, batch, options.embed_batch,
                                                 options.training)
        distances.append(dist)
        cycles.append(cyc)
        emb_in.append(e_in)
        emb_out.append(e_out)
        if have < keep:
            take = keep - have
            for store, values in zip(kept, (batch, fake, rec)):
                store.append(values[:take])
            have += min(take, len(batch))
    if not distances:
        return np.zeros(0), np.zeros(0), None, None
    examples = tuple(np.concatenate(parts) for parts in kept) if have else None
    embeddings = (np.concatenate(emb_in), np.concatenate(emb_out))
    return np.concatenate(distances), np.concatenate(cycles), examples, embeddings


def _evaluate_checkpoint(nets, embed, cfg, data: EvalData, samples: int, options, keep: int):
    results, examples = {}, {}
    for direction, kind, pattern in (("image_to_video", "images", data.images),
                                     ("video_to_image", "clips", data.clips)):
        key = data.option(kind)
        batches = _batches(pattern, kind, cfg, samples, options, key)
        distances, cycles, kept, embeddings = _evaluate_direction(
            nets, embed, batches, direction, options, keep)
        if distances.size == 0:
            raise UserError(f"{key}: {pattern} holds no {kind}")
        results[direction] = metrics.summarize(distances, cycles, options.threshold,
                                               *embeddings)
        examples[direction] = kept
    return results, examples


# ---------------------------------------------------------------------- one run
@dataclasses.dataclass
class RunResult:
    """A run's numbers (`to_json`) and the sample rows kept for the sheets."""

    name: str
    workdir: str
    step: int
    cfg: Config
    data: EvalData
    results: dict
    examples: dict
    curve: list = dataclasses.field(default_factory=list)

    @property
    def model(self) -> str:
        return self.cfg.model.variant.capitalize()  # model1 -> Model1, as the paper

    def to_json(self) -> dict:
        out = {"run": self.name, "workdir": self.workdir, "step": self.step,
               "model": self.model, "dataset": self.data.dataset, "split": self.data.split,
               "images": self.data.images, "clips": self.data.clips, **self.results}
        if self.curve:
            out["curve"] = self.curve
        return out


def evaluate_run(workdir: str | Path, step: int | None, name: str, cfg: Config,
                 data: EvalData, embed: Embed, options: EvalOptions, log: Log) -> RunResult:
    """Scores one run's checkpoint (and with `options.curve` all its kept checkpoints) on
    `data`."""
    cfg, nets, step = load_networks(workdir, step, cfg)
    log(f"{name}: step {step}, {cfg.model.variant}, on {data.dataset} ({data.split} split)")
    results, examples = _evaluate_checkpoint(nets, embed, cfg, data, options.samples, options,
                                             options.sheet_samples)
    for direction in DIRECTIONS:
        got = results[direction]["samples"]
        note = "" if got >= options.samples else f" (the split holds only {got})"
        r = results[direction]
        log(f"  {direction.replace('_', '-')}: {got} of {options.samples} samples{note}: "
            f"FaceNet score {r['facenet_score']:.4f}, verification rate "
            f"{r['verification_rate']:.3f} at {options.threshold:g}, "
            f"cycle L1 {r['cycle_l1']:.4f}, spread of translations / inputs "
            f"{r['output_spread']:.3f} / {r['input_spread']:.3f}")
    result = RunResult(name, str(workdir), step, cfg, data, results, examples)
    if options.curve:
        result.curve = identity_curve(workdir, cfg, data, embed, options, log,
                                      known={step: results})
    return result


def identity_curve(workdir, cfg: Config, data: EvalData, embed: Embed, options: EvalOptions,
                   log: Log, known: dict | None = None) -> list[dict]:
    """FaceNet scores of every kept checkpoint, oldest first (Fig. 6), also written to the run's
    TensorBoard as eval/facenet_score_* at each step. `known` maps steps already scored on
    the same samples to their results, which are reused."""
    samples = options.curve_samples or options.samples
    known = (known or {}) if samples == options.samples else {}
    writer = tf.summary.create_file_writer(str(Path(workdir) / "tensorboard"))
    curve = []
    for step, _ in list_checkpoints(workdir):
        if step in known:
            results = known[step]
        else:
            _, nets, _ = load_networks(workdir, step, cfg)
            results, _ = _evaluate_checkpoint(nets, embed, cfg, data, samples, options, 0)
        point = {"step": step, **{f"facenet_score_{d}": results[d]["facenet_score"]
                                  for d in DIRECTIONS}}
        write_tensorboard_scalars(writer, step, {k: point[k] for k in SCORE_KEYS})
        log(f"  curve: step {step}: " + ", ".join(
            f"{d.replace('_', '-')} {point['facenet_score_' + d]:.4f}" for d in DIRECTIONS))
        curve.append(point)
    writer.close()
    return curve


# ---------------------------------------------------------------------- pictures and tables
def image_to_video_sheet(images, translations: Sequence[tuple], frames=(1, 8, 32)) -> np.ndarray:
    """Fig. 4 layout, one row per sample: input image, then per model its translated frames
    `frames` and the reconstructed image (a blank cell between models).

    `translations` holds (fake_clips, rec_images) per model; all arrays in [-1, 1]."""
    idx = pick_frames(np.shape(translations[0][0])[1], frames)
    images = to_uint8(images)
    blank = np.full_like(images[0], 255)
    rows = []
    for i in range(len(images)):
        row = [images[i]]
        for m, (fake_clips, rec_images) in enumerate(translations):
            row += [blank] if m else []
            row += [to_uint8(fake_clips[i, k]) for k in idx] + [to_uint8(rec_images[i])]
        rows.append(row)
    return sample_sheet(rows)


def video_to_image_sheet(clips, translations: Sequence[tuple], frames=(1, 8, 32)) -> np.ndarray:
    """Fig. 5 layout, one row per sample: input frames `frames`, then per model the translated
    image and the reconstructed frames (a blank cell between models).

    `translations` holds (fake_images, rec_clips) per model; all arrays in [-1, 1]."""
    idx = pick_frames(np.shape(clips)[1], frames)
    clips = to_uint8(clips)
    blank = np.full_like(clips[0, 0], 255)
    rows = []
    for i in range(len(clips)):
        row = [clips[i, k] for k in idx]
        for m, (fake_images, rec_clips) in enumerate(translations):
            row += [blank] if m else []
            row += [to_uint8(fake_images[i])] + [to_uint8(rec_clips[i, k]) for k in idx]
        rows.append(row)
    return sample_sheet(rows)


def plot_curve(runs: Sequence[RunResult], path: str | Path) -> None:
    """The identity score curve (Fig. 6): FaceNet score against training step, one line per run
    and direction."""
    # A bare Figure renders with Agg and leaves pyplot's global backend to the caller.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    for run in runs:
        steps = [p["step"] for p in run.curve]
        for direction, style in zip(DIRECTIONS, ("o-", "s--")):
            prefix = f"{run.name}: " if len(runs) > 1 else ""
            ax.plot(steps, [p[f"facenet_score_{direction}"] for p in run.curve], style,
                    label=prefix + TITLES[direction])
    ax.set_xlabel("training iteration (generator steps)")
    ax.set_ylabel("identity score (FaceNet L2 distance)")
    ax.set_title("Identity score over training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def _row_labels(runs: Sequence[RunResult]) -> list[str]:
    """Models as rows, as the paper; run names where two runs share a model and dataset."""
    keys = [(r.model, r.data.dataset) for r in runs]
    return [r.model for r in runs] if len(set(keys)) == len(keys) else [r.name for r in runs]


def markdown_table(runs: Sequence[RunResult], options: EvalOptions) -> str:
    """Table 1's layout (rows: models; columns: direction x dataset), then a detail table."""
    labels = _row_labels(runs)
    datasets = list(dict.fromkeys(r.data.dataset for r in runs))
    rows = list(dict.fromkeys(labels))
    cells = {(label, r.data.dataset): r for label, r in zip(labels, runs)}
    head = ["Model"] + [f"{TITLES[d]} ({ds})" for d in DIRECTIONS for ds in datasets]
    lines = ["## FaceNet score (Table 1 layout)", "",
             "Mean L2 distance between FaceNet embeddings of input and translation (Eq. 8; "
             "lower keeps identity better).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label in rows:
        values = []
        for d in DIRECTIONS:
            for ds in datasets:
                r = cells.get((label, ds))
                values.append(f"{r.results[d]['facenet_score']:.4f}" if r else "-")
        lines.append(f"| {label} | " + " | ".join(values) + " |")
    lines += ["", "## Details", "",
              f"Verification rate: share of translations with FaceNet distance <= "
              f"{options.threshold:g} ({metrics.THRESHOLD_SOURCE}). Cycle L1: mean |input - "
              f"reconstruction| in [-1, 1] units. Spread: mean FaceNet distance between the "
              f"translations of different inputs / between those inputs (a translator that "
              f"collapses to one output has spread 0). Generators' BatchNorm: "
              + ("moving averages (inference mode)." if options.batchnorm == "moving" else
                 f"batch statistics of each batch of {options.batch_size} (training mode)."),
              "",
              "| Run | Model | Step | Dataset (split) | Samples i2v / v2i | FaceNet i2v / v2i | "
              "Verification i2v / v2i | Cycle L1 i2v / v2i | Spread i2v | Spread v2i |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        a, b = (r.results[d] for d in DIRECTIONS)
        lines.append(f"| {r.name} | {r.model} | {r.step} | {r.data.dataset} ({r.data.split}) | "
                     f"{a['samples']} / {b['samples']} | "
                     f"{a['facenet_score']:.4f} / {b['facenet_score']:.4f} | "
                     f"{a['verification_rate']:.3f} / {b['verification_rate']:.3f} | "
                     f"{a['cycle_l1']:.4f} / {b['cycle_l1']:.4f} | "
                     f"{a['output_spread']:.3f} / {a['input_spread']:.3f} | "
                     f"{b['output_spread']:.3f} / {b['input_spread']:.3f} |")
    return "\n".join(lines) + "\n"


def _run_names(workdirs: Sequence[str | Path]) -> list[str]:
    names = [Path(w).resolve().name for w in workdirs]
    if len(set(names)) < len(names):
        names = [str(w) for w in workdirs]
    return names


def _write_pictures(runs: Sequence[RunResult], output: Path, options: EvalOptions) -> dict:
    """Sheets per dataset (runs on the same data side by side) and a GIF per translated clip;
    returns {file: columns} describing each sheet's layout."""
    groups: dict = {}
    for run in runs:
        key = (run.data.images, run.data.clips, run.cfg.model.resolution, run.cfg.model.frames)
        groups.setdefault(key, []).append(run)
    layout, suffixes = {}, set()
    for key, group in groups.items():
        suffix = "" if len(groups) == 1 else f"_{group[0].data.dataset}"
        while suffix in suffixes:  # two splits in folders of the same name
            suffix += "_"
        suffixes.add(suffix)
        images = group[0].examples["image_to_video"][0]
        clips = group[0].examples["video_to_image"][0]
        frames = pick_frames(group[0].cfg.model.frames, options.frames)
        shown = [f"frame {k + 1}" for k in frames]
        i2v = f"image_to_video{suffix}.png"
        save_png(output / i2v, image_to_video_sheet(
            images, [r.examples["image_to_video"][1:] for r in group], options.frames))
        layout[i2v] = ["input image"] + _per_model(
            group, lambda r: [f"{r.name} {s}" for s in shown] + [f"{r.name} reconstruction"])
        v2i = f"video_to_image{suffix}.png"
        save_png(output / v2i, video_to_image_sheet(
            clips, [r.examples["video_to_image"][1:] for r in group], options.frames))
        layout[v2i] = [f"input {s}" for s in shown] + _per_model(
            group, lambda r: [f"{r.name} translation"]
            + [f"{r.name} reconstruction {s}" for s in shown])
    for run in runs:
        for i, clip in enumerate(run.examples["image_to_video"][1]):
            save_gif(output / "gifs" / run.name / f"image_to_video_{i:03d}.gif", to_uint8(clip))
    return layout


def _per_model(group, columns) -> list[str]:
    out = []
    for m, run in enumerate(group):
        out += (["(blank)"] if m else []) + columns(run)
    return out


# ---------------------------------------------------------------------- everything
def evaluate_runs(runs: Sequence[tuple[str | Path, int | None]], output: str | Path,
             options: EvalOptions = EvalOptions(), embedder=None, log: Log | None = None) -> dict:
    """Evaluates runs ((workdir, step or None for the latest) each) and writes to `output`:
    metrics.json, table.md, the sheets, GIFs and, with `options.curve`, curve.png (and eval/
    scalars in each run's TensorBoard). Returns what metrics.json holds.

    Args:
        embedder: a FaceNetEmbedder; None loads one (`options.facenet_weights`).
    """
    options = options.check()
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    if not runs:
        raise UserError("no run to evaluate: give --workdir or --compare")
    names = _run_names([w for w, _ in runs])
    planned = []
    for (workdir, step), name in zip(runs, names):  # mistakes fail before FaceNet loads
        cfg = load_config(workdir)
        if cfg.generation.model:
            raise UserError(f"{workdir}: a video generation run; evaluate it with --generation")
        checkpoint_path(workdir, step)
        data = eval_data_for(cfg, options, str(workdir), log)
        for kind, pattern in (("images", data.images), ("clips", data.clips)):
            reader.list_shards(pattern, data.option(kind))
        planned.append((workdir, step, name, cfg, data))
    if embedder is None:
        from idcg_tf.identity import FaceNetEmbedder

        embedder = FaceNetEmbedder(weights_path=options.facenet_weights, name="facenet")
    embed = compiled_embedder(embedder)
    results = [evaluate_run(*plan, embed, options, log) for plan in planned]

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    layout = _write_pictures(results, output, options)
    (output / "table.md").write_text(markdown_table(results, options))
    if options.curve:
        plot_curve(results, output / "curve.png")
    report = {
        "samples_requested": options.samples,
        "threshold": options.threshold,
        "threshold_note": metrics.THRESHOLD_SOURCE,
        "facenet_weights": options.facenet_weights or "default (20180408-102900, converted)",
        "selection": f"first samples of a seeded shuffle (seed {options.seed})",
        "batchnorm": options.batchnorm,
        "sheets": layout,
        "runs": [r.to_json() for r in results],
    }
    if options.curve:
        report["curve_samples"] = options.curve_samples or options.samples
    (output / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {output / 'metrics.json'}, {output / 'table.md'}, "
        + ", ".join(str(output / f) for f in layout)
        + (f", {output / 'curve.png'}" if options.curve else "") + f", {output / 'gifs'}/")
    return report
