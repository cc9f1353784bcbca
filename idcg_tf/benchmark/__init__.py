"""Library side of `tools/benchmark.py`: one module per section (train, facenet, data, infer,
layers, prepare, litert), plus the FLOP count and the measured matmul peak they share."""

from __future__ import annotations

import contextlib

from idcg_tf.config import Config
from idcg_tf.errors import UserError

SECTIONS = ("train", "facenet", "data", "infer", "layers", "prepare", "litert")


def _peer(python, cfg: Config, batch: int, log, threads: int):
    """The PyTorch peer (`torch_peer.TorchPeer`) run with `python`, as a context manager; with
    no `python`, a context of None (no peer)."""
    if not python:
        return contextlib.nullcontext()
    from idcg_tf.benchmark.torch_peer import TorchPeer

    return TorchPeer(python, cfg, batch, log, threads=threads)


def run_section(
    section: str,
    cfg: Config,
    *,
    batch=None,
    iterations=3,
    warmup=1,
    compare_impls=(),
    batches=50,
    repeats=20,
    rounds=1,
    torch_peer=None,
    torch_threads=2,
    log=None,
    model=None,
    images=None,
    clips=None,
    samples=16,
    profile=None,
) -> dict:
    """Runs one benchmark section; returns {section: record, ...} ready for JSON."""
    if cfg.task.type == "generation":
        # `train` times any task's iteration; the rest measure the translators.
        if section in ("infer", "layers") or torch_peer:
            what = "--torch-peer" if section == "train" else f"benchmark {section}"
            raise UserError(
                f"{what} measures the image/video translators, and config {cfg.name!r} trains "
                "video generation (task.type: generation); `benchmark train` without "
                "--torch-peer times its iteration"
            )
    if section == "train":
        from idcg_tf import config as config_lib
        from idcg_tf.benchmark.train import benchmark_train

        batch = batch or cfg.trainer.batch_size
        # The first run measures the matmul peak after its iterations; the others share it.
        with _peer(torch_peer, cfg, batch, log, torch_threads) as peer:
            out = {
                "train": benchmark_train(
                    cfg, batch, iterations, warmup, None, log, peer=peer, profile=profile
                )
            }
        peak = out["train"]["peak_flops"]
        runs = []
        for impl in compare_impls:
            other = config_lib.replace(cfg, task={"model": {"conv_impl": impl}})
            record = benchmark_train(other, batch, iterations, warmup, peak, log)
            record["seconds_ratio_to_first"] = (
                record["iteration_seconds"] / out["train"]["iteration_seconds"]
            )
            runs.append(record)
        if runs:
            out["train_compare"] = runs
        return out
    if section == "facenet":
        from idcg_tf.benchmark.facenet import benchmark_facenet

        return {"facenet": benchmark_facenet(cfg, batch or 4, repeats, log)}
    if section == "data":
        from idcg_tf.benchmark.data import benchmark_data

        return {"data": benchmark_data(cfg, batch or cfg.trainer.batch_size, batches, log)}
    if section == "prepare":  # needs no config: the miniature fixes its options
        from idcg_tf.benchmark.prepare import benchmark_prepare

        return {"prepare": benchmark_prepare(log)}
    if section == "litert":
        if not (model and images and clips):
            raise UserError("litert: give --model EXPORT --images GLOB --clips GLOB")
        from idcg_tf.benchmark.litert import benchmark_litert

        return {"litert": benchmark_litert(model, images, clips, samples, log)}
    if section in ("infer", "layers") and rounds < 1:
        raise UserError(f"--rounds must be at least 1, got {rounds}")
    if section == "layers":
        from idcg_tf.benchmark.layers import benchmark_layers

        return {"layers": benchmark_layers(cfg, batch or 1, repeats, rounds, log)}
    if section == "infer":
        from idcg_tf.benchmark.infer import benchmark_infer

        with _peer(torch_peer, cfg, 1, log, torch_threads) as peer:
            return {"infer": benchmark_infer(cfg, repeats, log, peer=peer, rounds=rounds)}
    raise UserError(f"unknown benchmark section {section!r} (one of {', '.join(SECTIONS)})")
