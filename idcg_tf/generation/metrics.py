"""Numbers for video generation (beyond the paper, whose Fig. 3 is qualitative).

For N generated clips against N real test clips:
- Frechet distance between the FaceNet embeddings of generated and of real frames: FID's
  formula on a face-specific feature space, so no Inception weights are needed;
- identity stability: mean FaceNet distance between frames of the same clip (a generated face
  should stay one person; real clips give the reference level);
- motion: mean absolute frame-to-frame difference (pixel range [0, 1]), generated vs real: a
  frozen clip has 0, flicker more than the real clips.

The metrics are pure functions of arrays; `evaluate_generation` / `evaluate_generation_runs`
run them on trained runs and write the side-by-side table (markdown + JSON) and sheet.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from idcg_tf import reporting
from idcg_tf.errors import UserError

SHEET_CLIPS = 4  # clips per run on the comparison sheet


def frechet_distance(emb_a, emb_b) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between Gaussians fitted to two
    sets of feature rows (N_a, D), (N_b, D).

    tr((S_a S_b)^(1/2)) is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix S_a^(1/2) S_b S_a^(1/2) (same spectrum), so rank-deficient covariances
    (fewer samples than dimensions) need no regularisation and no complex sqrtm.

    Reference: Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
    Nash Equilibrium", NIPS 2017 (FID); Dowson & Landau 1982.
    """
    a = np.asarray(emb_a, np.float64)
    b = np.asarray(emb_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"expected (N, D) feature arrays of one D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Frechet distance needs at least 2 samples per set")
    diff = a.mean(axis=0) - b.mean(axis=0)
    cov_a = np.cov(a, rowvar=False)
    cov_b = np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(cov_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = sqrt_a @ cov_b @ sqrt_a
    eig = np.linalg.eigvalsh((inner + inner.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eig, 0, None)).sum()
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    return float(max(value, 0.0))  # rounding can leave -1e-15 for equal sets


def identity_stability(clip_embeddings) -> float:
    """Mean over clips of the mean L2 distance between the embeddings of every pair of frames
    of the clip; (clips, frames, D) -> float. 0 = one identity throughout."""
    e = np.asarray(clip_embeddings, np.float64)
    if e.ndim != 3 or e.shape[1] < 2:
        raise ValueError(f"expected (clips, frames >= 2, D) embeddings, got {e.shape}")
    d = np.linalg.norm(e[:, :, None] - e[:, None, :], axis=-1)
    i, j = np.triu_indices(e.shape[1], k=1)
    return float(d[:, i, j].mean())


def motion(clips) -> float:
    """Mean absolute difference between consecutive frames of clips in [-1, 1], on the [0, 1]
    pixel scale; (clips, frames, h, w, c) -> float."""
    x = np.asarray(clips, np.float32)
    if x.ndim != 5 or x.shape[1] < 2:
        raise ValueError(f"expected (clips, frames >= 2, h, w, c), got {x.shape}")
    return float(np.abs(np.diff(x, axis=1)).mean() / 2.0)


def embed_clips(clips, embedder, frame_step: int = 1) -> np.ndarray:
    """FaceNet embeddings of every `frame_step`-th frame: (clips, frames', 512)."""
    from idcg_tf.visualize import to_uint8

    frames = to_uint8(np.asarray(clips)[:, ::frame_step])
    n, f = frames.shape[:2]
    emb = embedder.embed_numpy(frames.reshape((n * f,) + frames.shape[2:]))
    return emb.reshape(n, f, -1)


def clip_statistics(clips, embedder, frame_step: int = 1) -> dict:
    """What the metrics need from one set of clips: per-clip embeddings, identity stability,
    motion, count."""
    emb = embed_clips(clips, embedder, frame_step)
    return {
        "embeddings": emb,
        "identity_stability": identity_stability(emb),
        "motion": motion(clips),
        "num_clips": int(len(clips)),
    }


def compare_statistics(generated: dict, real: dict) -> dict:
    """The generation metrics of two `clip_statistics` (generated, real) as plain numbers.

    `frechet_facenet_real_halves` is the distance between two halves of the real clips: what
    two samples of the true distribution score at half this sample size, the level below
    which differences are noise."""
    flat = lambda e: e.reshape(-1, e.shape[-1])  # noqa: E731
    half = real["num_clips"] // 2
    floor = (
        frechet_distance(flat(real["embeddings"][:half]), flat(real["embeddings"][half:]))
        if half >= 1
        else None
    )
    return {
        "frechet_facenet": frechet_distance(
            flat(generated["embeddings"]), flat(real["embeddings"])
        ),
        "frechet_facenet_real_halves": floor,
        "identity_stability": {
            "generated": generated["identity_stability"],
            "real": real["identity_stability"],
        },
        "motion": {"generated": generated["motion"], "real": real["motion"]},
        "num_generated": generated["num_clips"],
        "num_real": real["num_clips"],
    }


def real_clips_for(cfg, clips: str | None = None) -> tuple[str, str, str]:
    """(pattern, split, the option naming it) of the real clips a run is compared with: the
    given glob, else task.data.test_clips, else (with a warning from the caller) task.data.train_clips."""
    d = cfg.task.data
    if clips:
        return clips, "given", "--clips"
    if d.test_clips:
        return d.test_clips, "test", "task.data.test_clips"
    if d.train_clips:
        return d.train_clips, "train", "task.data.train_clips"
    raise UserError(
        "task.data.test_clips: the run's config names no clips to compare with; pass --clips"
    )


def read_real_clips(cfg, num: int, seed: int = 0, clips: str | None = None) -> np.ndarray:
    """Up to `num` real clips: the first of a seeded shuffle of `real_clips_for`, unflipped (the
    selection translation runs are evaluated on)."""
    from idcg_tf.evaluation.selection import seeded_samples

    pattern, _, key = real_clips_for(cfg, clips)
    out = list(seeded_samples(pattern, "clips", cfg, num, seed, key, batch_size=num))
    got = len(out[0]) if out else 0
    if got < 2:
        raise UserError(f"{key}: {pattern} holds {got} clip(s); the metrics need 2")
    return out[0]


def real_statistics(
    cfg, num: int, embedder, frame_step: int = 1, seed: int = 0, clips: str | None = None
) -> dict:
    """`clip_statistics` of up to `num` real clips of a run (see `read_real_clips`), plus
    "pattern", "split" and "clips" (kept for the sheets)."""
    _check_counts(num, frame_step, cfg.task.model.frames)
    pattern, split, _ = real_clips_for(cfg, clips)
    real = read_real_clips(cfg, num, seed, clips)
    return {
        **clip_statistics(real, embedder, frame_step),
        "pattern": pattern,
        "split": split,
        "clips": real,
    }


def _check_counts(num: int, frame_step: int, frames: int | None = None) -> None:
    if num < 2:
        raise UserError(f"--samples: the generation metrics need at least 2 clips, got {num}")
    if frame_step < 1:
        raise UserError(f"--frame-step: must be >= 1, got {frame_step}")
    if frames is not None and len(range(0, frames, frame_step)) < 2:
        raise UserError(
            f"--frame-step: {frame_step} leaves fewer than 2 of the {frames} frames to compare"
        )


def evaluate_generator(
    cfg,
    generator,
    step: int,
    real: dict,
    embedder,
    num: int = 64,
    seed: int = 0,
    frame_step: int = 1,
) -> dict:
    """The generation metrics of a generator: `num` clips from noise of `seed` against the
    `real_statistics` of its data; a JSON-ready dict."""
    from idcg_tf.generation import generate_clips

    _check_counts(num, frame_step, cfg.task.model.frames)
    generated = clip_statistics(generate_clips(generator, num, seed), embedder, frame_step)
    return {
        "model": cfg.task.model.generator,
        "step": step,
        "seed": seed,
        "frame_step": frame_step,
        "real_clips": real["pattern"],
        "real_split": real["split"],
        **compare_statistics(generated, real),
    }


def _load_embedder(facenet_weights: str | None):
    from idcg_tf.identity import FaceNetEmbedder

    return FaceNetEmbedder(weights_path=facenet_weights or None, name="facenet")


def evaluate_generation(
    workdir,
    num: int = 64,
    seed: int = 0,
    step: int | None = None,
    frame_step: int = 1,
    clips: str | None = None,
    embedder=None,
    real: dict | None = None,
) -> dict:
    """The generation metrics of one run: `num` clips from noise of `seed` against up to `num`
    real clips (`clips`, else its config's task.data.test_clips, else task.data.train_clips).

    Args:
        workdir: a run trained with `task.model.generator` set.
        step: the checkpoint to evaluate (default the latest).
        frame_step: embed every k-th frame only (FaceNet dominates the cost on a CPU).
        embedder: a `FaceNetEmbedder` (None: one with the run's task.loss.facenet_weights).
        real: `real_statistics` to reuse across runs on one data set.
    """
    from idcg_tf.generation import load_generator

    _check_counts(num, frame_step)
    cfg, generator, at_step = load_generator(workdir, step)
    embedder = embedder or _load_embedder(cfg.task.loss.facenet_weights)
    real = real or real_statistics(cfg, num, embedder, frame_step, seed, clips)
    return {
        "run": str(workdir),
        **evaluate_generator(cfg, generator, at_step, real, embedder, num, seed, frame_step),
    }


def _cell(value, digits=4):
    return "-" if value is None else f"{value:.{digits}g}"


def table_markdown(results: dict) -> str:
    """Side-by-side table of `evaluate_generation` results keyed by run name."""
    head = [
        "run",
        "model",
        "step",
        "clips gen / real",
        "Frechet FaceNet (lower is better)",
        "real vs real",
        "identity drift gen / real",
        "motion gen / real",
    ]
    rows = [
        [
            name,
            r["model"],
            r["step"],
            f"{r['num_generated']} / {r['num_real']}",
            _cell(r["frechet_facenet"]),
            _cell(r["frechet_facenet_real_halves"]),
            " / ".join(_cell(r["identity_stability"][k]) for k in ("generated", "real")),
            " / ".join(_cell(r["motion"][k]) for k in ("generated", "real")),
        ]
        for name, r in results.items()
    ]
    return "\n".join(reporting.markdown_table(head, rows)) + "\n"


def evaluate_generation_runs(
    runs,
    output_dir,
    num: int = 64,
    seed: int = 0,
    frame_step: int = 1,
    clips: str | None = None,
    facenet_weights: str | None = None,
    embedder=None,
    log=None,
) -> dict:
    """Evaluates generation runs ((workdir, step or None for the latest) each) and writes into
    `output_dir`: generation.json (every number), generation.md (the table) and
    generation_sheet.png (Fig. 3: real clips, then each run's first clips, frames 1, 8, 16,
    32). Real statistics are computed once per data set, so runs on one data set are judged
    against the same real clips. Returns the results keyed by run name (the workdir's folder
    name, or its path where names repeat).
    """
    from idcg_tf.data import reader
    from idcg_tf.generation import comparison_sheet, generate_clips, load_generator
    from idcg_tf.runs import checkpoints_dir, load_config
    from idcg_tf.visualize import save_png

    log = log or reporting.log_to_stderr
    runs = [(Path(w), s) for w, s in runs]
    if not runs:
        raise UserError("no run to evaluate: give --workdir or --compare")
    _check_counts(num, frame_step)
    for workdir, step in runs:  # mistakes fail before FaceNet loads
        cfg = load_config(workdir)
        if not cfg.task.model.generator:
            raise UserError(
                f"{workdir}: a translation run (task.model.generator is empty); "
                "evaluate it without --generation"
            )
        checkpoints_dir(workdir, step)
        _check_counts(num, frame_step, cfg.task.model.frames)
        pattern, split, key = real_clips_for(cfg, clips)
        reader.list_shards(pattern, key)
        if split == "train":
            log(
                f"warning: {workdir}: the config has no task.data.test_clips; comparing with the "
                "TRAINING clips; pass --clips for a test split"
            )
    embedder = embedder or _load_embedder(facenet_weights)
    real_cache: dict = {}
    results, sheet_clips = {}, {}
    for name, (workdir, step) in zip(reporting.run_names([w for w, _ in runs]), runs):
        cfg, generator, at_step = load_generator(workdir, step)
        key = (real_clips_for(cfg, clips)[0], cfg.task.model.resolution, cfg.task.model.frames)
        if key not in real_cache:
            real_cache[key] = real = real_statistics(cfg, num, embedder, frame_step, seed, clips)
            sheet_clips[f"real ({real['split']}): {real['pattern']}"] = real["clips"][:SHEET_CLIPS]
        results[name] = {
            "run": str(workdir),
            **evaluate_generator(
                cfg, generator, at_step, real_cache[key], embedder, num, seed, frame_step
            ),
        }
        log(
            f"{name}: step {at_step}, {cfg.task.model.generator}: Frechet FaceNet "
            f"{results[name]['frechet_facenet']:.4g}"
        )
        # The same noise rows as the first evaluated clips.
        sheet_clips[f"{name}: {cfg.task.model.generator}, step {at_step}"] = generate_clips(
            generator, min(num, SHEET_CLIPS), seed
        )
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "generation.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "generation.md").write_text(table_markdown(results))
    save_png(out / "generation_sheet.png", comparison_sheet(sheet_clips))
    log(f"wrote {out / 'generation.json'}, {out / 'generation.md'}, {out / 'generation_sheet.png'}")
    return results
