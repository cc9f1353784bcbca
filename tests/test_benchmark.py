"""tools/benchmark.py: each section prints its JSON; the FLOP count is the layers' arithmetic."""

import json
import sys

import numpy as np
import pytest

from conftest import ROOT, TINY, TINY_GENERATION, run_tool
from idcg_tf import allocator

TRAIN_KEYS = (
    "iteration_seconds",
    "samples_per_second",
    "flops_per_iteration",
    "achieved_flops",
    "peak_flops",
    "mfu",
    "peak_rss_bytes",
)


def _json(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _benchmark(section: str, options: str, env=None, *more: str) -> dict:
    """`tools/benchmark.py SECTION --config tiny OPTIONS` in a subprocess: its JSON record."""
    args = [section, "--config", str(TINY), *options.split(), *more]
    return _json(run_tool(str(ROOT / "tools" / "benchmark.py"), *args, env=env))[section]


@pytest.mark.slow  # ~15 s; make test-slow (CI) also runs `benchmark train` per the docs
def test_train_section_prints_speed_flops_and_mfu(tmp_path):
    env = {"IDCG_CONV_AUTOTUNE": "1", "IDCG_CACHE": str(tmp_path)}
    options = f"--batch 2 --iterations 1 --warmup 0 --profile {tmp_path / 'profile'}"
    train = _benchmark("train", options + " --set trainer.n_critic=1", env)
    tune = train["conv_autotune"]
    assert tune["enabled"] and tune["shapes_timed"] == len(tune["choices"]) > 0
    assert set(tune["choices"].values()) <= {"stock", "taps", "matmul", "padded", "tap_filters"}
    for key in TRAIN_KEYS:
        assert train[key] > 0, key
    assert train["finite_losses"] and train["batch"] == 2
    # A training tool runs under jemalloc where the system has it (idcg_tf/allocator.py).
    assert train["allocator"].startswith("jemalloc" if allocator.find_jemalloc() else "glibc")
    assert train["achieved_flops"] == pytest.approx(
        train["flops_per_iteration"] / train["iteration_seconds"]
    )
    assert train["mfu"] == pytest.approx(train["achieved_flops"] / train["peak_flops"])
    # --profile: one more iteration traced for TensorBoard, its op time per kind and network.
    profile = train["profile"]
    assert list((tmp_path / "profile").glob("plugins/profile/*/*.xplane.pb"))
    assert profile["iteration_seconds"] > 0 and profile["op_seconds"] > 0
    kinds = profile["by_kind"]
    assert kinds and all(0 < row["share"] <= 1 and row["calls"] > 0 for row in kinds)
    assert [row["seconds"] for row in kinds] == sorted(
        (row["seconds"] for row in kinds), reverse=True
    )
    networks = {row["network"]: row for row in profile["by_network"]}
    for name in ("image_to_video", "video_to_image", "image_critic", "video_critic"):
        assert networks[name]["forward_seconds"] > 0 and networks[name]["backward_seconds"] > 0
    assert sum(row["share"] for row in profile["by_network"]) == pytest.approx(1.0)


def test_flop_count_matches_hand_arithmetic():
    from idcg_tf import config
    from idcg_tf.benchmark import flops
    from idcg_tf.models import VideoCritic

    critic = VideoCritic((4, 8), frames=4, kernel_size=4)
    critic.build((None, 4, 8, 8, 3))
    # 4 frames: both strided layers stride over time. conv0: (2, 4, 4) x 4 outputs x 4^3 taps x
    # 3 in; conv1: (1, 2, 2) x 8 outputs x 4^3 x 4 in; the paper's last convolution (here the
    # third), stride 2 to one channel as the authors' iVGAN critic: (1, 1, 1) x 1 output x 4^3 x
    # 8 in; linear: 1 -> 1. Two FLOPs per multiply-add.
    want = 2 * (2 * 4 * 4 * 4 * 64 * 3 + 1 * 2 * 2 * 8 * 64 * 4 + 1 * 1 * 1 * 1 * 64 * 8 + 1)
    assert flops.forward_flops(critic, (4, 8, 8, 3)) == want

    # Counted in a graph of their own (no weights allocated), the networks give the counts of
    # an eager trace.
    from idcg_tf.models import build_networks

    cfg = config.load(TINY, ["task.model.conv_impl=stock"])
    nets, m = build_networks(cfg.task.model), cfg.task.model
    image = (m.resolution, m.resolution, m.channels)
    video = (m.frames, *image)
    eager = {
        "image_to_video": flops.forward_flops(nets.image_to_video, image),
        "video_to_image": flops.forward_flops(nets.video_to_image, video),
        "image_critic": flops.forward_flops(nets.image_critic, image),
        "video_critic": flops.forward_flops(nets.video_critic, video),
    }
    assert flops.network_flops(cfg) == eager

    f = {"image_to_video": 1, "video_to_image": 2, "image_critic": 10, "video_critic": 20}
    count = flops.iteration_flops(cfg, f)
    n = cfg.trainer.n_critic
    assert count["per_sample"] == n * (3 + 12 * 30) + (6 * 3 + 2 * 30)


def test_generation_config_counts_its_own_networks():
    from idcg_tf import config
    from idcg_tf.benchmark import flops
    from idcg_tf.generation.networks import build_generation_networks

    cfg = config.load(TINY_GENERATION, ["task.model.conv_impl=stock"])
    nets, m = build_generation_networks(cfg), cfg.task.model
    eager = {
        "generator": flops.forward_flops(nets.generator, (m.noise_dim,)),
        "critic": flops.forward_flops(nets.critic, (m.frames, m.resolution, m.resolution, 3)),
    }
    assert flops.network_flops(cfg) == eager and min(eager.values()) > 0

    # One generator and one critic: no reconstruction; the penalty only for the WGAN critic.
    f, n = {"generator": 1, "critic": 10}, cfg.trainer.n_critic
    wgan = config.replace(cfg, task={"model": {"generator": "wgan_one_stream"}})
    assert flops.iteration_flops(wgan, f)["per_sample"] == n * (1 + 12 * 10) + (3 + 2 * 10)
    gan = config.replace(cfg, task={"model": {"generator": "videogan_one_stream"}})
    assert flops.iteration_flops(gan, f)["per_sample"] == n * (1 + 6 * 10) + (3 + 2 * 10)


def test_train_section_times_a_generation_config():  # ~8 s
    args = ["train", "--config", str(TINY_GENERATION), "--batch", "2", "--iterations", "1"]
    gen = _json(run_tool(str(ROOT / "tools" / "benchmark.py"), *args))["train"]
    assert gen["config"] == "tiny_generation"
    assert set(gen["forward_flops_per_network"]) == {"generator", "critic"}
    assert gen["finite_losses"] and gen["iteration_seconds"] > 0 and gen["mfu"] > 0


@pytest.mark.parametrize("args", [["infer"], ["train", "--torch-peer", sys.executable]])
def test_translator_measurements_refuse_a_generation_config(args):
    proc = run_tool(str(ROOT / "tools" / "benchmark.py"), *args, "--config", str(TINY_GENERATION))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "task.type: generation" in proc.stderr.strip().splitlines()[-1]


def test_unknown_section_is_a_usage_error():
    proc = run_tool(str(ROOT / "tools" / "benchmark.py"), "nonsense")
    assert proc.returncode == 2


def test_profile_folder_that_cannot_be_made_is_a_user_error(tmp_path):
    (tmp_path / "file").write_text("")
    proc = run_tool(
        str(ROOT / "tools" / "benchmark.py"), "train", "--profile", str(tmp_path / "file" / "p")
    )
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "cannot make that folder" in proc.stderr


def test_infer_without_a_round_is_a_user_error():
    proc = run_tool(str(ROOT / "tools" / "benchmark.py"), "infer", "--rounds", "0")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "--rounds must be at least 1, got 0" in proc.stderr


@pytest.mark.slow
def test_data_and_infer_sections(synthetic_data):
    clips = f"task.data.train_clips={synthetic_data['train_clips']}"
    data = _benchmark("data", "--batches 5 --batch 2", None, "--set", clips)
    assert data["reader_clips_per_second"] > 0 and data["train_clips_per_second"] > 0
    infer = _benchmark("infer", "--repeats 2 --rounds 2")
    runtimes = {(r["generator"], r["runtime"], r["batch"]) for r in infer["latency"]}
    # eager, tf.function, SavedModel in TF2 and through TF Serving's TF1 loader, ONNX Runtime,
    # three LiteRT files; per generator and batch, each timed in both rounds.
    assert len(runtimes) == len(infer["latency"]) == 2 * 8 * 2
    assert infer["rounds"] == 2
    for r in infer["latency"]:
        assert len(r["round_p50_ms"]) == 2 and r["p50_ms"] == np.median(r["round_p50_ms"])
    tf1 = [r for r in infer["latency"] if r["runtime"] == "tf1_session"]
    assert len(tf1) == 4 and all(r["max_abs_vs_eager"] <= 1e-5 for r in tf1)
    assert all(r["p90_ms"] >= r["p50_ms"] > 0 for r in infer["latency"])
    lite = [r for r in infer["latency"] if r["runtime"].startswith("litert")]
    assert {r["runtime"] for r in lite} == {"litert", "litert_fp16", "litert_int8"}
    assert all(r["size_mib"] > 0 and r["max_abs_vs_eager"] < 0.5 for r in lite)
    for seconds in (infer["export_seconds"][g] for g in ("image_to_video", "video_to_image")):
        assert set(seconds) == {"saved_model", "onnx", "litert"}
        assert all(v > 0 for v in seconds.values())


@pytest.mark.slow
def test_layers_section_times_every_step_in_each_engine():
    """Each step of both translators, converted alone, timed in the TF graph, ONNX Runtime and
    LiteRT float32; the sums are the steps'."""
    from idcg_tf import config
    from idcg_tf.models import build_networks

    layers = _benchmark("layers", "--repeats 2 --rounds 2")
    nets = build_networks(config.load(TINY).task.model)
    assert layers["rounds"] == 2 and layers["batch"] == 1
    for generator in ("image_to_video", "video_to_image"):
        steps = [r for r in layers["steps"] if r["generator"] == generator]
        want = [name for name, _ in getattr(nets, generator).steps()]
        assert [r["step"] for r in steps] == want
        assert steps[0]["input_shape"][0] == 1
        for engine in ("tf_graph", "onnxruntime", "litert"):
            assert all(r[f"{engine}_ms"] > 0 for r in steps)
            total = sum(r[f"{engine}_ms"] for r in steps)
            assert layers["sum_ms"][generator][engine] == pytest.approx(total)


@pytest.mark.slow
def test_facenet_section():
    result = _benchmark("facenet", "--batch 1 --repeats 1")
    assert result["forward_backward_seconds"] >= result["forward_seconds"] * 0.5 > 0


@pytest.mark.slow  # two processes; tests/test_convolutions.py checks the same reuse in one
def test_second_benchmark_run_reuses_the_autotune_choices(tmp_path):
    """With "auto", each 3D and 2D layer shape is timed in the first process only; a second
    process on the same machine reads the cache and picks the same."""
    env = {"IDCG_CONV_AUTOTUNE": "1", "IDCG_CACHE": str(tmp_path)}
    options = "--batch 1 --iterations 1 --warmup 0 --set trainer.n_critic=1"
    options += " --set task.model.residual_blocks=0"
    first = _benchmark("train", options, env)["conv_autotune"]
    second = _benchmark("train", options, env)["conv_autotune"]
    assert first["enabled"] and first["shapes_timed"] == len(first["choices"]) > 0
    assert second["shapes_timed"] == 0
    assert second["choices"] == first["choices"]
    assert set(first["choices"].values()) <= {"stock", "taps", "matmul", "padded", "tap_filters"}
    assert {key.split(" ")[0] for key in first["choices"]} == {
        "conv",
        "transpose",
        "conv2d",
        "transpose2d",
    }


def test_console_table_puts_nested_records_and_each_row_on_their_own_lines():
    from idcg_tf.cli.benchmark import _rows

    record = {
        "section": "infer",
        "mfu": 0.123456,
        "cpu": {"cpu": "x86", "avx512": True},
        "latency": [
            {"runtime": "tf", "p50_ms": 3.14159, "round_p50_ms": [3.1, 3.2]},
            {"runtime": "onnxruntime", "p50_ms": 2.0},
        ],
        "iteration_seconds_all": [1.0, 2.5],
    }
    assert list(_rows(record)) == [
        ("section", "infer"),
        ("mfu", "0.1235"),
        ("cpu.cpu", "x86"),
        ("cpu.avx512", "True"),
        ("latency[0]", "runtime=tf p50_ms=3.142 round_p50_ms=[3.1, 3.2]"),
        ("latency[1]", "runtime=onnxruntime p50_ms=2"),
        ("iteration_seconds_all", "[1, 2.5]"),
    ]
