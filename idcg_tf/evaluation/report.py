"""What an evaluation writes: Table 1 in markdown, the identity score curve (Fig. 6) and the
sample sheets (Fig. 4/5) and GIFs, from each run's `RunResult`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.evaluation import metrics
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.selection import EvalData
from idcg_tf.identity.scoring import DIRECTIONS
from idcg_tf.reporting import markdown_table
from idcg_tf.visualize import (
    image_to_video_sheet,
    pick_frames,
    save_gif,
    save_png,
    to_uint8,
    video_to_image_sheet,
)

TITLES = {"image_to_video": "Image-to-Video", "video_to_image": "Video-to-Image"}


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
        return self.cfg.task.variant.capitalize()  # model1 -> Model1, as the paper

    def to_json(self) -> dict:
        out = {
            "run": self.name,
            "workdir": self.workdir,
            "step": self.step,
            "model": self.model,
            "dataset": self.data.dataset,
            "split": self.data.split,
            "images": self.data.images,
            "clips": self.data.clips,
            **self.results,
        }
        if self.curve:
            out["curve"] = self.curve
        return out


def _row_labels(runs: Sequence[RunResult]) -> list[str]:
    """Models as rows, as the paper; run names where two runs share a model and dataset."""
    keys = [(r.model, r.data.dataset) for r in runs]
    return [r.model for r in runs] if len(set(keys)) == len(keys) else [r.name for r in runs]


def table_markdown(runs: Sequence[RunResult], options: EvalOptions) -> str:
    """Table 1's layout (rows: models; columns: direction x dataset), then a detail table."""
    labels = _row_labels(runs)
    datasets = list(dict.fromkeys(r.data.dataset for r in runs))
    cells = {(label, r.data.dataset): r for label, r in zip(labels, runs)}
    head = ["Model"] + [f"{TITLES[d]} ({ds})" for d in DIRECTIONS for ds in datasets]
    scores = []
    for label in dict.fromkeys(labels):
        values = [
            f"{cells[label, ds].results[d]['facenet_score']:.4f}" if (label, ds) in cells else "-"
            for d in DIRECTIONS
            for ds in datasets
        ]
        scores.append([label, *values])
    lines = [
        "## FaceNet score (Table 1 layout)",
        "",
        "Mean L2 distance between FaceNet embeddings of input and translation (Eq. 8; "
        "lower keeps identity better).",
        "",
        *markdown_table(head, scores),
    ]
    lines += [
        "",
        "## Details",
        "",
        f"Verification rate: share of translations with FaceNet distance <= "
        f"{options.threshold:g} ({metrics.THRESHOLD_SOURCE}). Cycle L1: mean |input - "
        f"reconstruction| in [-1, 1] units. Spread: mean FaceNet distance between the "
        f"translations of different inputs / between those inputs (a translator that "
        f"collapses to one output has spread 0). Generators' BatchNorm: "
        + (
            "moving averages (inference mode)."
            if options.batchnorm == "moving"
            else f"batch statistics of each batch of {options.batch_size} (training mode)."
        ),
        "",
    ]
    head = [
        "Run",
        "Model",
        "Step",
        "Dataset (split)",
        "Samples i2v / v2i",
        "FaceNet i2v / v2i",
        "Verification i2v / v2i",
        "Cycle L1 i2v / v2i",
        "Spread i2v",
        "Spread v2i",
    ]
    details = []
    for r in runs:
        a, b = (r.results[d] for d in DIRECTIONS)
        details.append(
            [
                r.name,
                r.model,
                r.step,
                f"{r.data.dataset} ({r.data.split})",
                f"{a['samples']} / {b['samples']}",
                f"{a['facenet_score']:.4f} / {b['facenet_score']:.4f}",
                f"{a['verification_rate']:.3f} / {b['verification_rate']:.3f}",
                f"{a['cycle_l1']:.4f} / {b['cycle_l1']:.4f}",
                f"{a['output_spread']:.3f} / {a['input_spread']:.3f}",
                f"{b['output_spread']:.3f} / {b['input_spread']:.3f}",
            ]
        )
    return "\n".join(lines + markdown_table(head, details)) + "\n"


def plot_identity_curves(
    curves: dict, path: str | Path, title: str | None = None, legend_size: float | None = None
) -> None:
    """FaceNet score against training step, one line per run and direction; `curves` maps a
    run's label ("" for no label) to its [(step, {direction: score})]."""
    # A bare Figure renders with Agg and leaves pyplot's global backend to the caller.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.subplots()
    for label, points in curves.items():
        for direction, style in zip(DIRECTIONS, ("o-", "s--")):
            ax.plot(
                [s for s, _ in points],
                [p[direction] for _, p in points],
                style,
                label=f"{label}: {TITLES[direction]}" if label else TITLES[direction],
            )
    ax.set_xlabel("training iteration (generator steps)")
    ax.set_ylabel("identity score (FaceNet L2 distance)")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def plot_curve(runs: Sequence[RunResult], path: str | Path) -> None:
    """The identity score curve (Fig. 6) of the runs' checkpoints."""
    curves = {
        run.name if len(runs) > 1 else "": [
            (p["step"], {d: p[f"facenet_score_{d}"] for d in DIRECTIONS}) for p in run.curve
        ]
        for run in runs
    }
    plot_identity_curves(curves, path, title="Identity score over training")


def _per_model(group: Sequence[RunResult], columns) -> list[str]:
    out = []
    for m, run in enumerate(group):
        out += (["(blank)"] if m else []) + columns(run)
    return out


def write_pictures(runs: Sequence[RunResult], output: Path, options: EvalOptions) -> dict:
    """Sheets per dataset (runs on the same data side by side) and a GIF per translated clip;
    returns {file: columns} describing each sheet's layout."""
    groups: dict = {}
    for run in runs:
        key = (
            run.data.images,
            run.data.clips,
            run.cfg.task.model.resolution,
            run.cfg.task.model.frames,
        )
        groups.setdefault(key, []).append(run)
    layout, suffixes = {}, set()
    for group in groups.values():
        suffix = "" if len(groups) == 1 else f"_{group[0].data.dataset}"
        while suffix in suffixes:  # two splits in folders of the same name
            suffix += "_"
        suffixes.add(suffix)
        images = group[0].examples["image_to_video"][0]
        clips = group[0].examples["video_to_image"][0]
        shown = [
            f"frame {k + 1}" for k in pick_frames(group[0].cfg.task.model.frames, options.frames)
        ]
        i2v = f"image_to_video{suffix}.png"
        save_png(
            output / i2v,
            image_to_video_sheet(
                images, [r.examples["image_to_video"][1:] for r in group], options.frames
            ),
        )
        layout[i2v] = ["input image"] + _per_model(
            group, lambda r: [f"{r.name} {s}" for s in shown] + [f"{r.name} reconstruction"]
        )
        v2i = f"video_to_image{suffix}.png"
        save_png(
            output / v2i,
            video_to_image_sheet(
                clips, [r.examples["video_to_image"][1:] for r in group], options.frames
            ),
        )
        layout[v2i] = [f"input {s}" for s in shown] + _per_model(
            group,
            lambda r: [f"{r.name} translation"] + [f"{r.name} reconstruction {s}" for s in shown],
        )
    for run in runs:
        for i, clip in enumerate(run.examples["image_to_video"][1]):
            save_gif(output / "gifs" / run.name / f"image_to_video_{i:03d}.gif", to_uint8(clip))
    return layout
