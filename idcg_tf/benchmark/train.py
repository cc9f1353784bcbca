"""`benchmark train`: speed, FLOPs, MFU and memory of the full training iteration."""

from __future__ import annotations

import statistics
import tempfile
import time

import tensorflow as tf

from idcg_tf import allocator, cpu
from idcg_tf import config as config_lib
from idcg_tf.benchmark import flops, timing
from idcg_tf.benchmark.peak import compute_dtype, matmul_peak_flops
from idcg_tf.config import Config
from idcg_tf.errors import UserError
from idcg_tf.ops import conv_autotune

FLOPS_METHOD = (
    "analytic from the forward graphs' conv/matmul shapes (see idcg_tf.benchmark.flops): "
    "F forward, 3F forward+backward, 6F gradient penalty"
)


def synthetic_batches(strategy, cfg: Config, global_batch: int, streams):
    """A distributed dataset repeating one random batch of the task's `streams` (its `STREAMS`:
    (images, clips) for translation, clips alone for generation): measures the model, not the
    input pipeline (see the `data` section for that)."""
    m = cfg.task.model
    shapes = {
        "images": [m.resolution, m.resolution, m.channels],
        "clips": [m.frames, m.resolution, m.resolution, m.channels],
    }

    def dataset_fn(ctx: tf.distribute.InputContext):
        n = ctx.get_per_replica_batch_size(global_batch)
        g = tf.random.Generator.from_seed(cfg.trainer.seed)
        batch = tuple(g.uniform([n, *shapes[kind]], -1.0, 1.0) for kind, _ in streams)
        return tf.data.Dataset.from_tensors(batch if len(batch) > 1 else batch[0]).repeat()

    return strategy.distribute_datasets_from_function(dataset_fn)


def benchmark_train(
    cfg: Config,
    batch: int,
    iterations: int = 3,
    warmup: int = 1,
    peak_flops: float | None = None,
    log=None,
    peer=None,
    profile=None,
) -> dict:
    """Times `iterations` training iterations (after `warmup` untimed ones) at global batch
    `batch` on synthetic data; returns the JSON record of the `train` section. With `peer`
    (a `torch_peer.TorchPeer`), one peer iteration follows each of ours, and the record gets
    a `torch_peer` entry with the per-pair time ratios. With `profile` (a folder), one more
    iteration runs under TF's profiler after the timed ones (`idcg_tf.benchmark.profile`): its
    trace goes there and its summary into the record's `profile`."""
    from idcg_tf.experiment import make_trainer

    if iterations < 1 or warmup < 0:
        raise UserError("--iterations must be >= 1 and --warmup >= 0")
    if profile:
        from idcg_tf.benchmark import profile as profile_lib

        profile = profile_lib.prepare(profile)  # made now, not after minutes of timing
    log = log or (lambda line: None)
    cfg = config_lib.replace(cfg, trainer={"batch_size": batch})
    count = flops.iteration_flops(cfg)
    flops_per_iteration = count["per_sample"] * batch
    dtype = compute_dtype(cfg.trainer.mixed_precision)
    log(f"CPU: {cpu.summary()}")
    allocation = allocator.describe()
    log(f"allocator: {allocation}")
    log(f"model {flops_per_iteration / 1e9:.1f} GFLOP per iteration")

    # Shapes timed by conv autotuning from here on: while building and tracing the iteration.
    timed_before = conv_autotune.timings_run
    # Resident memory at each stage: where a peak comes from (runtime, weights and optimizer
    # slots, the traced graph, what the iterations add).
    stages = {"runtime": timing.rss_bytes()}
    with (
        tempfile.TemporaryDirectory(prefix="idcg-bench-") as workdir,
        make_trainer(cfg, workdir, log=log) as trainer,
    ):
        trainer.setup(synthetic_batches(trainer.strategy, cfg, batch, trainer.task.STREAMS))
        stages["networks_and_optimizer"] = timing.rss_bytes()
        trace_seconds, shapes_timed = _trace(trainer, timed_before, log)
        stages["traced"] = timing.rss_bytes()
        seconds, last, peer_runs, rss_before, rss_after = _time_iterations(
            trainer, warmup, iterations, peer, log
        )
        stages["after_iterations"] = timing.rss_bytes()
        if profile:
            profiled = profile_lib.profile_iteration(trainer, profile, log)
    if peak_flops is None:
        # After the iterations: what this measurement leaves in TensorFlow's pool would
        # otherwise count in the iteration's peak (docs/performance.md, "Memory").
        peak_flops = matmul_peak_flops(dtype=dtype)
    log(f"matmul peak {peak_flops / 1e9:.1f} GFLOP/s")
    median = statistics.median(seconds)
    achieved = flops_per_iteration / median
    record = {
        "section": "train",
        "config": cfg.name,
        "conv_impl": cfg.task.model.conv_impl,
        "conv_autotune": _autotune_record(cfg, shapes_timed),
        "batch": batch,
        "n_critic": cfg.trainer.n_critic,
        "replicas": trainer.strategy.num_replicas_in_sync,
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
        "cpu": cpu.describe(),
        "allocator": allocation,
        "iterations": iterations,
        "warmup": warmup,
        "trace_seconds": trace_seconds,
        "iteration_seconds_all": seconds,
        "iteration_seconds": median,
        "samples_per_second": batch / median,
        "flops_per_iteration": flops_per_iteration,
        "flops_per_sample": count["per_sample"],
        "flops_method": FLOPS_METHOD,
        "forward_flops_per_network": count["per_network_forward"],
        "achieved_flops": achieved,
        "peak_flops": peak_flops,
        "peak_flops_method": f"best {dtype} 2048x2048 matmul, this process",
        "mixed_precision": cfg.trainer.mixed_precision,
        "jit_compile": cfg.trainer.jit_compile,
        "mfu": achieved / peak_flops,
        "peak_rss_bytes": rss_after,
        "peak_rss_delta_bytes": rss_after - rss_before,
        "rss_stages_bytes": stages,
        "library_pages_released_bytes": trainer.library_pages_released,
        "gpu_peak_bytes": timing.gpu_peak_bytes(),
        "finite_losses": all(v == v and abs(v) != float("inf") for v in last.values()),
    }
    if profile:
        record["profile"] = profiled
    if peer is not None:
        record["torch_peer"] = _peer_record(
            peer, peer_runs, seconds, flops_per_iteration, peak_flops, log
        )
        record["peak_rss_ratio_ours_to_torch"] = rss_after / record["torch_peer"]["peak_rss_bytes"]
        log(
            f"peak RSS: ours {rss_after / 2**30:.2f} GiB, PyTorch "
            f"{record['torch_peer']['peak_rss_bytes'] / 2**30:.2f} GiB "
            f"(ratio {record['peak_rss_ratio_ours_to_torch']:.2f})"
        )
    return record


def _trace(trainer, timed_before: int, log) -> tuple[float, int]:
    """Traces the iteration without running a step (so that even --warmup 0 times compiled
    iterations); that includes conv_impl "auto"'s timing of shapes not in its cache yet.
    Returns the seconds it took and the shapes timed."""
    start = time.perf_counter()
    trainer._iteration_fn.get_concrete_function(trainer.iterator)
    seconds = time.perf_counter() - start
    shapes_timed = conv_autotune.timings_run - timed_before
    log(f"traced in {seconds:.1f} s (conv autotune timed {shapes_timed} shapes)")
    return seconds, shapes_timed


def _autotune_record(cfg: Config, shapes_timed: int) -> dict:
    return {
        "enabled": cfg.task.model.conv_impl == "auto" and conv_autotune.enabled(),
        "shapes_timed": shapes_timed,
        "cache": conv_autotune.cache_path(),
        "choices": {k: v["impl"] for k, v in conv_autotune.choices().items()},
    }


def _time_iterations(trainer, warmup: int, iterations: int, peer, log):
    """`warmup` untimed iterations, then `iterations` timed ones, each followed by one of the
    peer's; returns (seconds, last metrics, peer runs, peak RSS before and after)."""
    for i in range(warmup):
        start = time.perf_counter()
        trainer.run_iteration()
        log(f"warmup {i + 1}/{warmup}: {time.perf_counter() - start:.2f} s")
        if peer is not None:
            log(f"PyTorch warmup {i + 1}/{warmup}: {peer.iteration()['seconds']:.2f} s")
    rss_before = timing.max_rss_bytes()
    timing.reset_gpu_peak()
    seconds, last, peer_runs = [], {}, []
    for i in range(iterations):
        start = time.perf_counter()
        last = trainer.run_iteration()
        seconds.append(time.perf_counter() - start)
        log(f"iteration {i + 1}/{iterations}: {seconds[-1]:.2f} s")
        if peer is not None:
            peer_runs.append(peer.iteration())
            log(
                f"PyTorch iteration {i + 1}/{iterations}: {peer_runs[-1]['seconds']:.2f} s "
                f"(ours / PyTorch {seconds[-1] / peer_runs[-1]['seconds']:.2f})"
            )
    return seconds, last, peer_runs, rss_before, timing.max_rss_bytes()


def _peer_record(peer, peer_runs, seconds, flops_per_iteration, peak_flops, log) -> dict:
    """The record's `torch_peer` entry: the peer's times and the per-pair ratios."""
    peer_seconds = [r["seconds"] for r in peer_runs]
    ratios = [ours / theirs for ours, theirs in zip(seconds, peer_seconds)]
    peer_median = statistics.median(peer_seconds)
    entry = {
        **{k: v for k, v in peer.info.items()},
        "method": "iterations alternate with ours, one each; ratio per pair",
        "iteration_seconds_all": peer_seconds,
        "iteration_seconds": peer_median,
        "achieved_flops": flops_per_iteration / peer_median,
        "mfu": flops_per_iteration / peer_median / peak_flops,
        "finite_losses": all(r["finite"] for r in peer_runs),
        "seconds_ratio_ours_to_torch_all": ratios,
        "seconds_ratio_ours_to_torch": statistics.median(ratios),
        # Each process's own peak over its life (build, warmup, timed iterations).
        "peak_rss_bytes": peer_runs[-1]["peak_rss_bytes"],
    }
    log(
        f"ours / PyTorch seconds per iteration: median {statistics.median(ratios):.2f} "
        f"over {len(ratios)} pairs ({', '.join(f'{r:.2f}' for r in ratios)})"
    )
    return entry
