"""The measured Model1/2/3 comparison (paper Table 1 and Fig. 6 at the scale a machine allows):
train the three variants with one recipe and seed, evaluate them together, write the results
page. `tools/compare.py` (`make compare`) runs it. It trains (`idcg_tf.experiment`) and
evaluates (`idcg_tf.evaluation`), so it sits above both."""

from __future__ import annotations

import platform
import shlex
import time
from collections.abc import Sequence
from pathlib import Path

from idcg_tf import config as config_lib
from idcg_tf import experiment
from idcg_tf.config import VARIANTS
from idcg_tf.evaluation.evaluate import evaluate_runs
from idcg_tf.evaluation.options import EvalOptions
from idcg_tf.evaluation.report import TITLES, plot_identity_curves
from idcg_tf.identity.scoring import DIRECTIONS
from idcg_tf.reporting import log_to_stderr
from idcg_tf.runs import read_metrics_log

CURVE_PREFIX = "identity_score/"


def paper_order_holds(scores: dict) -> bool:
    """Whether Model3 < Model2 < Model1 (the paper's Table 1 order) for {variant: score}."""
    return scores["model3"] < scores["model2"] < scores["model1"]


def training_curves(workdirs: dict) -> dict:
    """{variant: [(step, {direction: score})]} from each run's metrics.jsonl (the identity
    score the trainer logs on held-out samples)."""
    curves = {}
    for variant, workdir in workdirs.items():
        curves[variant] = [
            (record["step"], {d: record[CURVE_PREFIX + d] for d in DIRECTIONS})
            for record in read_metrics_log(workdir)
            if CURVE_PREFIX + DIRECTIONS[0] in record
        ]
    return curves


def plot_training_curves(curves: dict, path: str | Path) -> None:
    """`training_curves` as one figure, a line per variant and direction."""
    plot_identity_curves(
        {v.capitalize(): points for v, points in curves.items()}, path, legend_size=7
    )


def results_markdown(
    report: dict,
    commands: Sequence[str],
    wall: dict,
    table: str,
    files: Sequence[str],
    machine: str,
) -> str:
    """docs/results.md: the commands, wall times, the table and files, and whether the paper's
    order holds, per direction, on how many samples."""
    runs = {r["model"].lower(): r for r in report["runs"]}
    lines = [
        "# Results: Model1, Model2 and Model3 measured",
        "",
        "Written by `tools/compare.py`; numbers are what the run gave, not tuned toward "
        "the paper's order.",
        "",
        f"Machine: {machine}.",
        "",
        "## Commands",
        "",
        "```bash",
    ]
    lines += list(commands) + ["```", "", "| run | wall time |", "|---|---|"]
    lines += [f"| {name} | {seconds / 60:.1f} min |" for name, seconds in wall.items()]
    lines += ["", table.strip(), "", "## The paper's order", ""]
    if all(v in runs for v in VARIANTS):
        for d in DIRECTIONS:
            scores = {v: runs[v][d]["facenet_score"] for v in VARIANTS}
            samples = sorted({runs[v][d]["samples"] for v in VARIANTS})
            verdict = "holds" if paper_order_holds(scores) else "does not hold"
            lines.append(
                f"- {TITLES[d]}: Model3 < Model2 < Model1 {verdict} here ("
                + ", ".join(f"{v.capitalize()} {s:.4f}" for v, s in scores.items())
                + f"; {'/'.join(map(str, samples))} test samples per model)."
            )
        lines.append(
            "- One run per model: a gap smaller than the spread between seeds of the same "
            "recipe is not an order."
        )
    else:
        lines.append("- Not all three models were run: no verdict.")
    lines += ["", "## Files", ""] + [f"- `{f}`" for f in files]
    return "\n".join(lines) + "\n"


def compare_variants(
    config_path: str | Path,
    output: str | Path,
    overrides: Sequence[str] = (),
    variants: Sequence[str] = VARIANTS,
    samples: int = 1000,
    results: str | Path | None = None,
    log=None,
) -> dict:
    """Trains each variant of `config_path` (same recipe, same seed; a finished run is resumed,
    i.e. skipped), evaluates them with `evaluate_runs` (as `tools/evaluate.py --compare`),
    plots the training-time identity curves and writes `results` (default output/results.md).
    Returns evaluate_runs' report."""
    log = log or log_to_stderr
    output = Path(output)
    cfgs = {v: config_lib.load(config_path, [*overrides, f"task.variant={v}"]) for v in variants}
    workdirs, wall, commands = {}, {}, []
    sets = " ".join(f"--set {shlex.quote(o)}" for o in overrides)
    for v, cfg in cfgs.items():
        workdirs[v] = output / v
        commands.append(
            f"python tools/train.py --config {config_path} {sets} "
            f"--set task.variant={v} --workdir {workdirs[v]}".replace("  ", " ")
        )
        start = time.perf_counter()
        experiment.train(cfg, workdirs[v])
        wall[f"train {v}"] = time.perf_counter() - start
    eval_dir = output / "eval"
    commands.append(
        f"python tools/evaluate.py --compare {' '.join(map(str, workdirs.values()))} "
        f"--samples {samples} --output {eval_dir}"
    )
    start = time.perf_counter()
    report = evaluate_runs(
        [(w, None) for w in workdirs.values()], eval_dir, EvalOptions(samples=samples), log=log
    )
    wall["evaluate"] = time.perf_counter() - start
    curve = output / "training_curve.png"
    plot_training_curves(training_curves(workdirs), curve)
    files = [str(eval_dir / f) for f in ("metrics.json", "table.md", *report["sheets"])]
    files.append(str(curve) + " (identity score on held-out samples during training, Fig. 6)")
    machine = f"{platform.processor() or platform.machine()}, {platform.system()}"
    text = results_markdown(
        report, commands, wall, (eval_dir / "table.md").read_text(), files, machine
    )
    results = Path(results) if results else output / "results.md"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(text)
    log(f"wrote {results}")
    return report
