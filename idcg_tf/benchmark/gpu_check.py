"""`make gpu-check`: the one-command check of a GPU machine (under 8 minutes on one GPU).

With a GPU: the paper-size training benchmark in float32 and under mixed_float16 (MFU against
that GPU's matmul peak at each policy), a few steps of the real training loop (TFRecords,
checkpoints) with 1 replica, the export of that run and its parity (Keras model vs reloaded
SavedModel vs ONNX Runtime). Without one it says so, skips the benchmark and runs the rest on
the tiny config, quickly. Everything lands in one JSON report.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from idcg_tf import config as config_lib
from idcg_tf import configs

PAPER = configs.FOLDER / "celeb_model1.yaml"  # shipped configs: also in a pip install
TINY = configs.FOLDER / "tiny.yaml"
# Parity bounds (max |difference|, outputs in [-1, 1]): on a GPU TF may run convolutions in
# TF32 (10-bit mantissa) while ONNX Runtime runs float32 on the CPU.
PARITY_TOLERANCE = {"CPU": 1e-4, "GPU": 5e-3}


def device_report() -> dict:
    from idcg_tf import cpu

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "gpu_found": bool(gpus),
        "gpus": [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ],
        **cpu.describe(),
        "tensorflow": tf.__version__,
    }


def _benchmarks(batch: int, log) -> list[dict]:
    from idcg_tf.benchmark.train import benchmark_train

    records = []
    for policy in ("none", "mixed_float16"):
        cfg = config_lib.load(
            PAPER, [f"trainer.mixed_precision={policy}", "trainer.strategy=default"]
        )
        log(f"paper-size benchmark, batch {batch}, mixed_precision={policy}")
        records.append(benchmark_train(cfg, batch, iterations=3, warmup=1, log=log))
    return records


def _train_and_export(cfg_path: Path, steps: int, batch: int, work: Path, log) -> dict:
    from idcg_tf.data.synthetic import write_synthetic
    from idcg_tf.deploy.export import export_run
    from idcg_tf.experiment import make_trainer
    from idcg_tf.translation.task import TranslationTask

    base = config_lib.load(cfg_path)
    m = base.task.model
    data = write_synthetic(
        work / "data",
        resolution=m.resolution,
        frames=m.frames,
        num_images=4 * batch,
        num_clips=2 * batch,
        split="train",
    )
    # "mirrored" over the one device in use: the strategy the design trains under.
    cfg = config_lib.load(
        cfg_path,
        [
            f"task.data.train_images={data['images']}",
            f"task.data.train_clips={data['clips']}",
            f"trainer.steps={steps}",
            f"trainer.batch_size={batch}",
            "trainer.strategy=mirrored",
            f"trainer.checkpoint_every={steps}",
            "trainer.facenet_score=false",
        ],
    )
    start = time.perf_counter()
    with make_trainer(cfg, work / "run", log=log) as trainer:
        metrics = trainer.train(samples=())
    train_seconds = time.perf_counter() - start
    replicas = trainer.strategy.num_replicas_in_sync

    record = export_run(work / "run", "gpu_check", output=work / "exported", log=log)
    nets = TranslationTask.from_run(work / "run")[0].nets
    import onnxruntime as ort

    device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    parity = {}
    rng = np.random.default_rng(0)
    for generator, info in record["generators"].items():
        shape = record["shapes"][info["input"]][1:]
        x = rng.uniform(-1, 1, size=[2, *shape]).astype(np.float32)
        keras_out = getattr(nets, generator)(x, training=False).numpy()
        loaded = tf.saved_model.load(str(work / "exported" / "gpu_check" / info["saved_model"]))
        saved = loaded.signatures["serving_default"](**{info["input"]: tf.constant(x)})
        saved = saved[info["output"]].numpy()
        session = ort.InferenceSession(
            str(work / "exported" / "gpu_check" / info["onnx"]), providers=["CPUExecutionProvider"]
        )
        onnx_out = session.run([info["output"]], {info["input"]: x})[0]
        parity[generator] = {
            "saved_model_vs_keras": float(np.abs(saved - keras_out).max()),
            "onnx_vs_saved_model": float(np.abs(onnx_out - saved).max()),
        }
    tolerance = PARITY_TOLERANCE[device]
    return {
        "config": cfg.name,
        "steps": steps,
        "batch": batch,
        "replicas": replicas,
        "seconds": train_seconds,
        "finite_losses": all(np.isfinite(v) for v in metrics.values()),
        "export_version": record["version"],
        "parity_max_abs": parity,
        "parity_tolerance": tolerance,
        "parity_ok": all(v <= tolerance for p in parity.values() for v in p.values()),
    }


def gpu_check(report_path: str | os.PathLike, log=None) -> dict:
    """Runs the check; writes and returns the report. `ok` is False when a step failed."""
    log = log or (lambda line: None)
    start = time.perf_counter()
    report = {"device": device_report()}
    gpu = report["device"]["gpu_found"]
    if gpu:
        log(f"GPU found: {', '.join(report['device']['gpus'])}")
        report["benchmark"] = _benchmarks(batch=4, log=log)
    else:
        log(
            "no GPU found: the paper-size GPU benchmark is skipped; training, export and "
            "parity run on the CPU with the tiny config"
        )
        report["benchmark"] = "skipped: no GPU found"
    with tempfile.TemporaryDirectory(prefix="idcg-gpu-check-") as tmp:
        report["training"] = _train_and_export(
            PAPER if gpu else TINY, steps=3, batch=4 if gpu else 2, work=Path(tmp), log=log
        )
    t = report["training"]
    report["ok"] = bool(t["finite_losses"] and t["parity_ok"] and t["replicas"] == 1)
    report["seconds"] = time.perf_counter() - start
    Path(report_path).parent.mkdir(parents=True, exist_ok=True)
    Path(report_path).write_text(json.dumps(report, indent=2) + "\n")
    log(
        f"report -> {report_path} ({'ok' if report['ok'] else 'FAILED'}, {report['seconds']:.0f} s)"
    )
    return report
