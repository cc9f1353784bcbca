"""Evaluating trained runs (what `tools/evaluate.py` does): FaceNet scores (Table 1),
verification rate, cycle error, the identity score curve over checkpoints (Fig. 6), sample
sheets (Fig. 4/5) and comparisons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from idcg_tf.config import Config
from idcg_tf.data import reader
from idcg_tf.errors import UserError
from idcg_tf.evaluation import metrics
from idcg_tf.evaluation.curve import identity_curve
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.report import RunResult, plot_curve, table_markdown, write_pictures
from idcg_tf.evaluation.scores import score_checkpoint
from idcg_tf.evaluation.selection import EvalData, Log, eval_data_for
from idcg_tf.identity.scoring import DIRECTIONS, Embed, compiled_embedder
from idcg_tf.reporting import log_to_stderr, run_names
from idcg_tf.runs import checkpoints_dir, load_config
from idcg_tf.translation.task import TranslationTask


def evaluate_run(
    workdir: str | Path,
    step: int | None,
    name: str,
    cfg: Config,
    data: EvalData,
    embed: Embed,
    options: EvalOptions,
    log: Log,
) -> RunResult:
    """Scores one run's checkpoint (and with `options.curve` all its kept checkpoints) on
    `data`."""
    task, step = TranslationTask.from_run(workdir, step, cfg)
    cfg, nets = task.cfg, task.nets
    log(f"{name}: step {step}, {cfg.task.variant}, on {data.dataset} ({data.split} split)")
    results, examples = score_checkpoint(
        nets, embed, cfg, data, options.samples, options, options.sheet_samples
    )
    for direction in DIRECTIONS:
        got = results[direction]["samples"]
        note = "" if got >= options.samples else f" (the split holds only {got})"
        r = results[direction]
        log(
            f"  {direction.replace('_', '-')}: {got} of {options.samples} samples{note}: "
            f"FaceNet score {r['facenet_score']:.4f}, verification rate "
            f"{r['verification_rate']:.3f} at {options.threshold:g}, "
            f"cycle L1 {r['cycle_l1']:.4f}, spread of translations / inputs "
            f"{r['output_spread']:.3f} / {r['input_spread']:.3f}"
        )
    result = RunResult(name, str(workdir), step, cfg, data, results, examples)
    if options.curve:
        result.curve = identity_curve(
            workdir, cfg, data, embed, options, log, known={step: results}
        )
    return result


def evaluate_runs(
    runs: Sequence[tuple[str | Path, int | None]],
    output: str | Path,
    options: EvalOptions = EvalOptions(),
    embedder=None,
    log: Log | None = None,
) -> dict:
    """Evaluates runs ((workdir, step or None for the latest) each) and writes to `output`:
    metrics.json, table.md, the sheets, GIFs and, with `options.curve`, curve.png (and eval/
    scalars in each run's TensorBoard). Returns what metrics.json holds.

    Args:
        embedder: a FaceNetEmbedder; None loads one (`options.facenet_weights`).
    """
    options = options.check()
    log = log or log_to_stderr
    if not runs:
        raise UserError("no run to evaluate: give --workdir or --compare")
    names = run_names([w for w, _ in runs])
    planned = []
    for (workdir, step), name in zip(runs, names):  # mistakes fail before FaceNet loads
        cfg = load_config(workdir)
        if cfg.task.model.generator:
            raise UserError(f"{workdir}: a video generation run; evaluate it with --generation")
        checkpoints_dir(workdir, step)
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
    layout = write_pictures(results, output, options)
    (output / "table.md").write_text(table_markdown(results, options))
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
    log(
        f"wrote {output / 'metrics.json'}, {output / 'table.md'}, "
        + ", ".join(str(output / f) for f in layout)
        + (f", {output / 'curve.png'}" if options.curve else "")
        + f", {output / 'gifs'}/"
    )
    return report
