"""Exporting a trained tiny run: the TF Serving layout and signatures, loading and running
through TF Serving's loader path (saved_model_cli run, a TF1 session), REST payloads as TF
Serving shapes them, ONNX parity, versions."""

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import run_tool
from idcg_tf.deploy import export as export_lib
from idcg_tf.deploy import generator_module, serving
from idcg_tf.deploy import layout as layout_lib
from idcg_tf.errors import UserError
from idcg_tf.visualize import to_uint8

SIGNATURES = layout_lib.SIGNATURES
GENERATORS = {"image_to_video": ("image", "video"), "video_to_image": ("video", "image")}


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


def _inputs(kind, batch, seed=0):
    shape = {"image": (32, 32, 3), "video": (8, 32, 32, 3)}[kind]
    return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


def _load(run, generator, version=1):
    return tf.saved_model.load(str(run.model_dir / generator / str(version)), tags=["serve"])


def test_layout_and_export_json(run):
    d = run.model_dir
    assert sorted(p.name for p in d.iterdir()) == [
        "MODEL_CARD.md",
        "export.json",
        "image_to_video",
        "image_to_video.onnx",
        "video_to_image",
        "video_to_image.onnx",
    ]
    for generator in GENERATORS:
        # Only the version: no temporary folder is left where TF Serving looks.
        assert [p.name for p in (d / generator).iterdir()] == ["1"]
        assert (d / generator / "1" / "saved_model.pb").is_file()
    meta = json.loads((d / "export.json").read_text())
    assert meta == run.record
    assert meta["version"] == 1 and meta["source"]["step"] == 2
    assert meta["source"]["workdir"] == str(Path(run.workdir).resolve())
    assert (meta["resolution"], meta["frames"], meta["channels"]) == (32, 8, 3)
    assert meta["shapes"] == {"image": [-1, 32, 32, 3], "video": [-1, 8, 32, 32, 3]}
    assert meta["value_ranges"] == {"float32": [-1.0, 1.0], "uint8": [0, 255]}
    assert meta["config"]["task"]["model"]["frames"] == 8 and meta["onnx_opset"] == 17
    assert meta["face_crop"]["min_face"] == 16  # prepare_data's default, r / 2
    assert {"tensorflow", "keras", "tf2onnx", "onnx"} <= set(meta["versions"])
    sig = meta["generators"]["video_to_image"]["signatures"]["serve_uint8"]
    assert sig["inputs"] == {
        "video": {"dtype": "uint8", "shape": [-1, 8, 32, 32, 3], "range": [0, 255]}
    }
    # Checksums cover every file written, and match.
    written = {
        p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != "export.json"
    }
    assert set(meta["sha256"]) == written
    for name, digest in meta["sha256"].items():
        assert export_lib.sha256(d / name) == digest, name


def test_warmup_records_run_through_tf_servings_loader_path(run):
    """assets.extra/tf_serving_warmup_requests: PredictionLog records (each signature, batch
    1 and 4) that TF Serving replays when it loads a version; each runs through the TF1
    loader path, as TF Serving's SavedModelBundle runs them."""
    from idcg_tf.deploy.warmup import WARMUP_BATCHES, WARMUP_FILE, read_warmup

    for generator, (inp, out) in GENERATORS.items():
        version = run.model_dir / generator / "1"
        logs = read_warmup(version / WARMUP_FILE)
        want = [(name, b) for name in layout_lib.SIGNATURES for b in WARMUP_BATCHES]
        got = [(log.predict_log.request.model_spec.signature_name, log) for log in logs]
        assert [name for name, _ in got] == [name for name, _ in want]
        with serving.ServingSession(version) as session:
            for (name, batch), (_, log) in zip(want, got):
                x = tf.make_ndarray(log.predict_log.request.inputs[inp])
                assert x.shape[0] == batch
                y = session.run(name, {inp: x})[out]
                assert y.shape[0] == batch and np.isfinite(y.astype(np.float32)).all()


def test_model_card_says_what_the_model_is_for_and_carries_the_metrics(run, tmp_path):
    from idcg_tf.deploy.model_card import model_card

    card = (run.model_dir / "MODEL_CARD.md").read_text()
    # A metadata header model hubs read: YAML front matter, then the card.
    assert card.startswith("---\n")
    head, body = card[4:].split("\n---\n", 1)
    meta = yaml.safe_load(head)
    assert meta["library_name"] == "tensorflow" and meta["pipeline_tag"] == "image-to-video"
    assert meta["license"] == "other" and "idcyclegan" in meta["tags"]
    assert meta["datasets"] == ["synthetic-faces"] and meta["metrics"] == []
    assert body.lstrip().startswith("# Model card: tiny, version 1")
    assert "`image_to_video`: one face image [-1, 32, 32, 3] -> a clip of 8 frames" in card
    assert "`video_to_image`" in card and "arXiv:1712.00971" in card
    assert "checkpoint step 2, config `tiny`" in card
    assert "synthetic faces" in card  # the tiny run's data
    assert "without that person's consent" in card and "did not consent" in card
    assert (
        export_lib.sha256(run.model_dir / "MODEL_CARD.md") == run.record["sha256"]["MODEL_CARD.md"]
    )

    # The run's metrics: none, then the trainer's identity score, then tools/evaluate.py's.
    workdir = tmp_path / "run"
    workdir.mkdir()
    assert "Not evaluated" in model_card(run.cfg, workdir, 2, run.record)
    (workdir / "metrics.jsonl").write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {
                    "step": 1,
                    "identity_score/image_to_video": 0.9,
                    "identity_score/video_to_image": 0.8,
                },
                {
                    "step": 2,
                    "identity_score/image_to_video": 0.75,
                    "identity_score/video_to_image": 0.5,
                },
                {
                    "step": 3,
                    "identity_score/image_to_video": 0.1,
                    "identity_score/video_to_image": 0.1,
                },
            ]
        )
    )
    card = model_card(run.cfg, workdir, 2, run.record)
    assert "Not evaluated" not in card
    assert "step 2): image_to_video 0.7500, video_to_image 0.5000" in card
    scores = {
        d: {"samples": 16, "facenet_score": 0.76, "verification_rate": 1.0, "cycle_l1": 0.07}
        for d in GENERATORS
    }
    (workdir / "metrics.json").write_text(
        json.dumps({"runs": [{"step": 2, "dataset": "demo", "split": "test", **scores}]})
    )
    assert "| video_to_image | 16 | 0.7600 | 1.000 | 0.0700 |" in model_card(
        run.cfg, workdir, 2, run.record
    )

    # Research-only data sets are named with their licences.
    data = dataclasses.replace(
        run.cfg.task.data,
        train_images="data/celeb/images-train-*",
        train_clips="data/celeb/clips-train-*",
    )
    celeb = model_card(
        dataclasses.replace(
            run.cfg, name="celeb_model1", task=dataclasses.replace(run.cfg.task, data=data)
        ),
        workdir,
        2,
        run.record,
    )
    assert "CelebA" in celeb and "YouTube Faces" in celeb and "non-commercial" in celeb


def _signature_blocks(text):
    """signature name -> its block of `saved_model_cli show --all` output."""
    parts = re.split(r"signature_def\['([^']+)'\]:", text.split("Concrete Functions")[0])
    return dict(zip(parts[1::2], parts[2::2]))


def test_saved_model_cli_shows_both_signatures_with_dynamic_batch(run):
    cli = Path(sys.executable).with_name("saved_model_cli")
    shapes = {"image": "(-1, 32, 32, 3)", "video": "(-1, 8, 32, 32, 3)"}
    # Both at once: each spends most of its time importing TensorFlow.
    shows = {
        g: subprocess.Popen(
            [str(cli), "show", "--all", "--dir", str(run.model_dir / g / "1")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for g in GENERATORS
    }
    shown = {g: (*p.communicate(timeout=300), p.returncode) for g, p in shows.items()}
    for generator, (inp, out) in GENERATORS.items():
        stdout, stderr, returncode = shown[generator]
        assert returncode == 0, stderr[-2000:]
        assert "MetaGraphDef with tag-set: 'serve'" in stdout
        blocks = _signature_blocks(stdout)
        assert {"serving_default", "serve_uint8"} <= set(blocks)
        for name, dtype in (("serving_default", "DT_FLOAT"), ("serve_uint8", "DT_UINT8")):
            block = re.sub(r"\s+", " ", blocks[name])
            assert f"inputs['{inp}'] tensor_info: dtype: {dtype} shape: {shapes[inp]}" in block, (
                block
            )
            assert f"outputs['{out}'] tensor_info: dtype: {dtype} shape: {shapes[out]}" in block, (
                block
            )
            assert "Method name is: tensorflow/serving/predict" in block


def test_variables_are_stored_once(run):
    for generator in GENERATORS:
        weights = sum(v.numpy().nbytes for v in getattr(run.nets, generator).variables)
        stored = sum(
            p.stat().st_size for p in (run.model_dir / generator / "1" / "variables").iterdir()
        )
        # Index and alignment add a few percent; a duplicate of every variable adds 100%.
        assert weights <= stored < 1.1 * weights, (generator, weights, stored)


def _expected(net, kind, x):
    """What a signature must answer for `x`: the Keras model in inference mode; for uint8
    pixels, the same scaling and rounding as idcg_tf.visualize."""
    if kind == "serve_uint8":
        return to_uint8(net(x.astype(np.float32) / 127.5 - 1.0, training=False).numpy())
    return net(x, training=False).numpy()


def _check(got, want, kind, what):
    assert got.shape == want.shape and got.dtype == want.dtype, (what, got.shape, want.shape)
    if kind == "serve_uint8":
        np.testing.assert_array_equal(got, want, err_msg=str(what))
    else:
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=str(what))


def _signature_inputs(inp):
    x = _inputs(inp, 3, seed=5)
    return {"serving_default": x, "serve_uint8": to_uint8(x)}


def test_every_signature_runs_through_tf_servings_loader_path(run, tmp_path):
    """saved_model_cli run and a TF1 session restore variables with the SavedModel's saver
    restore op, as TF Serving's SavedModelBundle does; tf.saved_model.load does not."""
    cli = Path(sys.executable).with_name("saved_model_cli")
    procs = {}
    for generator, (inp, out) in GENERATORS.items():
        for name, x in _signature_inputs(inp).items():
            np.save(tmp_path / f"{generator}-{name}.npy", x)
            procs[generator, name] = subprocess.Popen(
                [
                    str(cli),
                    "run",
                    "--dir",
                    str(run.model_dir / generator / "1"),
                    "--tag_set",
                    "serve",
                    "--signature_def",
                    name,
                    "--inputs",
                    f"{inp}={tmp_path / f'{generator}-{name}.npy'}",
                    "--outdir",
                    str(tmp_path / f"{generator}-{name}"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
    for generator, (inp, out) in GENERATORS.items():
        net = getattr(run.nets, generator)
        with serving.ServingSession(run.model_dir / generator / "1") as session:
            assert set(SIGNATURES) <= set(session.signatures)
            for name, x in _signature_inputs(inp).items():
                want = _expected(net, name, x)
                _check(session.run(name, {inp: x})[out], want, name, ("tf1", generator))
                # Dynamic batch through the same graph.
                _check(
                    session.run(name, {inp: x[:1]})[out], want[:1], name, ("tf1 batch 1", generator)
                )
                proc = procs[generator, name]
                log = proc.communicate(timeout=300)[0]
                assert proc.returncode == 0, log[-3000:]
                got = np.load(tmp_path / f"{generator}-{name}" / f"{out}.npy")
                _check(got, want, name, ("saved_model_cli", generator, name))


def test_a_tracked_keras_model_would_not_load_in_tf_serving(tmp_path):
    """Why GeneratorModule tracks variables and not the model: the same tiny model behind a
    tf.Module that holds the Keras model saves, loads in TF2, and fails TF1's loader."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    class HoldsModel(tf.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="x")])
        def serve(self, x):
            return {"y": self.model(x)}

    x = np.ones((2, 4), np.float32)
    held = HoldsModel()
    tf.saved_model.save(held, str(tmp_path / "held"), signatures={"serving_default": held.serve})
    assert tf.saved_model.load(str(tmp_path / "held")).signatures["serving_default"](
        x=tf.constant(x)
    )["y"].shape == (2, 3)
    with pytest.raises(tf.errors.FailedPreconditionError, match="Could not find variable"):
        serving.ServingSession(tmp_path / "held").run("serving_default", {"x": x})

    module = generator_module.GeneratorModule(model, "x", "y", [4])
    generator_module.write_saved_model(module, tmp_path / "tracked")
    with serving.ServingSession(tmp_path / "tracked") as session:
        np.testing.assert_array_equal(
            session.run("serving_default", {"x": x})["y"], model(x).numpy()
        )


def test_export_is_the_trained_inference_graph(run):
    for generator, (inp, out) in GENERATORS.items():
        net = getattr(run.nets, generator)
        trained = [v.numpy() for v in net.variables if v.path.endswith("moving_mean")]
        assert trained and any(np.abs(m).max() > 0 for m in trained), "BatchNorm never updated"
        # The SavedModel holds those BatchNorm statistics, not the initial zeros.
        ckpt = str(run.model_dir / generator / "1" / "variables" / "variables")
        reader = tf.train.load_checkpoint(ckpt)
        stored = [
            reader.get_tensor(name)
            for name, _ in tf.train.list_variables(ckpt)
            if "moving_mean" in name
        ]
        assert len(stored) == len(trained)
        assert sorted(float(np.abs(m).sum()) for m in stored) == pytest.approx(
            sorted(float(np.abs(m).sum()) for m in trained)
        )

        signature = _load(run, generator).signatures["serving_default"]
        x = _inputs(inp, 3)
        got = signature(**{inp: tf.constant(x)})[out].numpy()
        np.testing.assert_allclose(got, net(x, training=False).numpy(), atol=1e-5)
        # Inference mode: a sample's output does not depend on the rest of its batch.
        alone = signature(**{inp: tf.constant(x[:1])})[out].numpy()
        np.testing.assert_allclose(alone[0], got[0], atol=1e-5)


def test_uint8_signature_scales_inside_the_graph(run):
    for generator, (inp, out) in GENERATORS.items():
        loaded = _load(run, generator)
        pixels = np.random.default_rng(1).integers(
            0, 256, (2, *_inputs(inp, 1).shape[1:]), dtype=np.uint8
        )
        got = loaded.signatures["serve_uint8"](**{inp: tf.constant(pixels)})[out].numpy()
        assert got.dtype == np.uint8
        floats = loaded.signatures["serving_default"](
            **{inp: tf.constant(pixels.astype(np.float32) / 127.5 - 1)}
        )[out].numpy()
        diff = np.abs(got.astype(int) - to_uint8(floats).astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.01


@pytest.mark.parametrize("generator", list(GENERATORS))
def test_rest_payloads_round_trip(run, generator):
    """Payloads answered by the SavedModel loaded the way TF Serving loads it."""
    inp, out = GENERATORS[generator]
    loaded = serving.ServingSession(run.model_dir / generator / "1")
    net = getattr(run.nets, generator)
    x = _inputs(inp, 2, seed=2)
    expected = net(x, training=False).numpy()

    # Row format, the single input given bare and by name: {"predictions": [row, row]}.
    for inputs in (x, {inp: x}):
        body = json.dumps(serving.build_request(inputs, "row"))
        assert list(json.loads(body)) == ["instances"]
        response = json.loads(json.dumps(serving.answer(loaded, body)))
        assert list(response) == ["predictions"] and len(response["predictions"]) == 2
        np.testing.assert_allclose(serving.parse_response(response), expected, atol=1e-5)

    # Columnar format: {"outputs": value}.
    body = json.dumps(serving.build_request({inp: x}, "columnar"))
    response = json.loads(json.dumps(serving.answer(loaded, body)))
    assert list(response) == ["outputs"]
    np.testing.assert_allclose(serving.parse_response(response), expected, atol=1e-5)

    # serve_uint8 by name: integer pixels in and out, and a much smaller response.
    pixels = to_uint8(x)
    request = serving.build_request(pixels, "row", signature_name="serve_uint8")
    assert request["signature_name"] == "serve_uint8"
    small = json.dumps(serving.answer(loaded, json.dumps(request)))
    got = serving.parse_response(small, np.uint8)
    np.testing.assert_array_equal(got, _expected(net, "serve_uint8", pixels))
    big = json.dumps(serving.answer(loaded, serving.build_request(pixels / 127.5 - 1, "row")))
    assert len(small) * 3 < len(big)

    with pytest.raises(UserError, match="shape"):
        serving.answer(loaded, serving.build_request(x[:, :4], "row"))
    with pytest.raises(UserError, match="no signature 'nope'"):
        serving.answer(loaded, {"signature_name": "nope", "instances": x.tolist()})
    loaded.close()
    assert serving.predict_url("localhost", "tiny_image_to_video", 3) == (
        "http://localhost:8501/v1/models/tiny_image_to_video/versions/3:predict"
    )


def test_onnx_matches_saved_model(run):
    import onnx
    import onnxruntime as ort

    for generator, (inp, out) in GENERATORS.items():
        path = run.model_dir / f"{generator}.onnx"
        proto = onnx.load(str(path))
        assert [i.name for i in proto.graph.input] == [inp]
        assert [o.name for o in proto.graph.output] == [out]
        for value in (*proto.graph.input, *proto.graph.output):
            assert value.type.tensor_type.shape.dim[0].dim_param == "batch"
        if generator == "video_to_image":  # ONNX_FORMS: 3D convolutions as 2D ones over taps
            kernels = [
                list(a.ints)
                for node in proto.graph.node
                if node.op_type == "Conv"
                for a in node.attribute
                if a.name == "kernel_shape"
            ]
            assert kernels and all(len(k) == 2 for k in kernels), kernels
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        signature = _load(run, generator).signatures["serving_default"]
        for batch in (1, 4):
            x = _inputs(inp, batch, seed=batch)
            onnx_out = session.run([out], {inp: x})[0]
            tf_out = signature(**{inp: tf.constant(x)})[out].numpy()
            assert onnx_out.shape == tf_out.shape
            assert np.abs(onnx_out - tf_out).max() <= 1e-4, (generator, batch)


def test_exports_of_the_custom_forms_serve_and_convert(run, tmp_path, monkeypatch):
    """On a machine where the autotuner picked the matmul, taps, padded and tap_filters forms
    (it keeps its choices for the export's unknown batch), the export carries them: TF
    Serving's loader path and ONNX Runtime answer what the trained networks answer with TF's
    own convolutions."""
    import onnxruntime as ort

    from idcg_tf.ops import conv_autotune

    inputs = {g: _inputs(inp, 3, seed=7) for g, (inp, _) in GENERATORS.items()}
    want = {g: getattr(run.nets, g)(x, training=False).numpy() for g, x in inputs.items()}
    forced, turns = set(), {"conv": [], "transpose": []}

    def choose(kind, input_shape, kernel_shape, strides, dtype):
        forms = conv_autotune.candidates(kind, kernel_shape, strides)
        impl = next((f for f in ("padded", "matmul") if f in forms), conv_autotune.CUSTOM[kind])
        if kind in turns and impl == "matmul":  # the matmul form and another, by turns
            turns[kind].append(input_shape)
            other = "tap_filters" if kind == "conv" else "taps"
            impl = (other, "matmul")[len(turns[kind]) % 2]
        forced.add((kind, impl))
        return impl

    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "1")
    monkeypatch.setattr(conv_autotune, "choose", choose)
    export_lib.export_run(run.workdir, "forms", tmp_path)
    assert forced == {
        ("conv", "padded"),
        ("conv", "matmul"),
        ("conv", "tap_filters"),
        ("transpose", "taps"),
        ("transpose", "matmul"),
        ("conv2d", "matmul"),
        ("transpose2d", "matmul"),
    }
    for generator, (inp, out) in GENERATORS.items():
        x, y = inputs[generator], want[generator]
        with serving.ServingSession(tmp_path / "forms" / generator / "1") as session:
            _check(session.run("serving_default", {inp: x})[out], y, "", ("tf1", generator))
            got = session.run("serving_default", {inp: x[:1]})[out]
            _check(got, y[:1], "", ("tf1 batch 1", generator))
        onnx_model = str(tmp_path / "forms" / f"{generator}.onnx")
        session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
        for batch in (1, 3):
            got = session.run([out], {inp: x[:batch]})[0]
            assert np.abs(got - y[:batch]).max() <= 1e-4, (generator, batch)


def test_export_refuses_bad_requests(run, tmp_path):
    with pytest.raises(UserError, match="opset 19"):
        export_lib.export_run(run.workdir, "x", tmp_path, opset=19)
    with pytest.raises(UserError, match="--name"):
        export_lib.export_run(run.workdir, "a/b", tmp_path)
    with pytest.raises(UserError, match="no checkpoint for step 3"):
        export_lib.export_run(run.workdir, "x", tmp_path, step=3)
    assert not any(tmp_path.iterdir())
    result = run_tool(
        "tools/export.py",
        "--workdir",
        str(tmp_path / "nothing"),
        "--name",
        "x",
        "--output",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "no config.yaml" in result.stderr


def test_second_export_adds_a_version_and_keeps_the_first(run):
    first = {name: digest for name, digest in run.record["sha256"].items() if "/1/" in name}
    result = run_tool(
        "tools/export.py",
        "--workdir",
        str(run.workdir),
        "--step",
        "2",
        "--name",
        "tiny",
        "--output",
        str(run.output),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "version 2" in result.stdout
    for generator in GENERATORS:
        assert sorted(p.name for p in (run.model_dir / generator).iterdir()) == ["1", "2"]
    for name, digest in first.items():
        assert export_lib.sha256(run.model_dir / name) == digest, name
    meta = json.loads((run.model_dir / "export.json").read_text())
    assert meta["version"] == 2
    assert meta["generators"]["image_to_video"]["saved_model"] == "image_to_video/2"
    assert layout_lib.next_version(run.model_dir) == 3


def test_export_without_onnx_removes_the_older_onnx_files(run, tmp_path):
    from idcg_tf.deploy.exported_model import ExportedModel

    shutil.copytree(run.model_dir, tmp_path / "tiny")
    assert ExportedModel(tmp_path / "tiny").backend == "onnx"
    version = layout_lib.next_version(tmp_path / "tiny")
    record = export_lib.export_run(run.workdir, "tiny", tmp_path, onnx=False)
    assert record["version"] == version and record["onnx_opset"] is None
    assert not list((tmp_path / "tiny").glob("*.onnx"))
    assert ExportedModel(tmp_path / "tiny").backend == "tf"
    with pytest.raises(UserError, match="without ONNX"):
        ExportedModel(tmp_path / "tiny", "onnx")


@pytest.fixture(scope="module")
def litert_export(run, tmp_path_factory):
    """The tiny run exported once more with --litert (as the tool runs it)."""
    out = tmp_path_factory.mktemp("litert")
    proc = run_tool(*_export_args(run.workdir, out), "--litert")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "tiny"


def test_litert_variants_are_written_and_match_the_saved_model(run, litert_export):
    from idcg_tf.deploy.exported_model import ExportedModel

    record = json.loads((litert_export / "export.json").read_text())
    reference = ExportedModel(litert_export, "tf")
    rng = np.random.default_rng(0)
    inputs = {
        "image_to_video": rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32),
        "video_to_image": rng.uniform(-1, 1, (3, 8, 32, 32, 3)).astype(np.float32),
    }
    # float32 matches to float rounding; the quantised variants to what they trade away.
    bounds = {"litert": 1e-4, "litert_fp16": 5e-2, "litert_int8": 0.5}
    for backend, bound in bounds.items():
        model = ExportedModel(litert_export, backend)
        for generator, x in inputs.items():
            want = getattr(reference, generator)(x)
            got = getattr(model, generator)(x, batch_size=2)  # batches 2 then 1: resized
            assert got.shape == want.shape
            err = float(np.abs(got - want).max())
            assert err <= bound, (backend, generator, err)
    for generator in GENERATORS:
        names = record["generators"][generator]["litert"]
        assert names == {
            "float32": f"{generator}.tflite",
            "float16": f"{generator}.fp16.tflite",
            "int8": f"{generator}.int8.tflite",
        }
        for name in names.values():
            assert export_lib.sha256(litert_export / name) == record["sha256"][name]
    with pytest.raises(UserError, match="without LiteRT"):
        ExportedModel(run.model_dir, "litert")


@pytest.mark.slow  # ~10 s; make test-slow (CI) also runs the documented litert commands
def test_translate_runs_on_litert(litert_export, tmp_path):
    import skimage.data
    from PIL import Image

    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "astronaut.png")
    proc = run_tool(
        "tools/translate.py",
        "--model",
        str(litert_export),
        "--backend",
        "litert",
        "--input",
        str(tmp_path / "astronaut.png"),
        "--output",
        str(tmp_path / "out"),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "with litert" in proc.stdout and any((tmp_path / "out").iterdir())
    assert "XNNPACK" not in proc.stderr  # the interpreter's start-up note is filtered


def _litert_float32(module, folder):
    """`module`'s generator converted as the export converts it, float32 only: its runner and
    the names of the ops in its flatbuffer."""
    from idcg_tf.deploy import litert

    path = folder / f"{module.name}.tflite"
    path.write_bytes(litert.convert_module(module, folder, variants=("float32",))["float32"])
    runner = litert.LiteRTRunner(path)
    return runner, {op["op_name"] for op in runner.interpreter._get_ops_details()}


@pytest.mark.slow  # ~7 s: both tiny generators converted to LiteRT float32
def test_litert_converts_the_2d_matmul_forms(run, tmp_path, monkeypatch):
    """On a machine where the autotuner picked the one-matmul form for every 2D convolution,
    the LiteRT files carry it (3D layers take LITERT_FORMS, transposed 2D layers the sub-pixel
    form: the image decoder has no other) and answer what Keras answers."""
    from idcg_tf.deploy.generator_module import generator_modules
    from idcg_tf.ops import conv_autotune

    def choose(kind, input_shape, kernel_shape, strides, dtype):
        forms = conv_autotune.candidates(kind, kernel_shape, strides)
        return "matmul" if kind == "conv2d" and "matmul" in forms else "stock"

    monkeypatch.setenv("IDCG_CONV_AUTOTUNE", "1")
    monkeypatch.setattr(conv_autotune, "choose", choose)
    for generator, module in generator_modules(run.cfg, run.nets).items():
        runner, ops = _litert_float32(module, tmp_path)
        if generator == "image_to_video":  # its image encoder's convolutions as matmuls
            assert ops & {"FULLY_CONNECTED", "BATCH_MATMUL"}, ops
        x = _inputs(GENERATORS[generator][0], 2, seed=3)
        want = getattr(run.nets, generator)(x, training=False).numpy()
        assert np.abs(runner(x) - want).max() <= 1e-4, generator


@pytest.mark.slow  # ~25 s: paper-size generators saved and converted; make test-slow (CI)
def test_litert_float32_parity_at_paper_size(tmp_path):
    """Both paper-size generators (64x64, 32 frames), converted as the export converts them
    (with LITERT_FORMS' convolution forms): the LiteRT float32 model matches Keras to 1e-4, and
    the generator's own layers are as they were before."""
    from idcg_tf import config
    from idcg_tf.deploy.generator_module import generator_modules
    from idcg_tf.models import build_networks

    cfg = config.load("celeb_model1")
    nets = build_networks(cfg.task.model)
    rng = np.random.default_rng(1)

    def impls(model):
        return [getattr(layer, "impl", None) for layer in model._flatten_layers()]

    for generator, module in generator_modules(cfg, nets).items():
        before = impls(module.model)
        runner, ops = _litert_float32(module, tmp_path)
        assert impls(module.model) == before
        shape = (2, 64, 64, 3) if generator == "image_to_video" else (2, 32, 64, 64, 3)
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        want = getattr(nets, generator)(x, training=False).numpy()
        err = float(np.abs(runner(x) - want).max())
        assert err <= 1e-4, (generator, err)
        # Every 3D and transposed convolution runs as 2D convolutions and matmuls (XNNPACK's).
        assert not ops & {"CONV_3D", "CONV_3D_TRANSPOSE", "TRANSPOSE_CONV"}, ops


def _export_args(workdir, output, name="tiny") -> list[str]:
    """tools/export.py's command line for a run."""
    return ["tools/export.py", "--workdir", str(workdir), "--name", name, "--output", str(output)]


def _export_until(run, output, trigger):
    """Starts tools/export.py and SIGKILLs it as soon as it prints a line containing
    `trigger`; returns the lines it printed."""
    import os
    import signal

    from conftest import ROOT

    proc = subprocess.Popen(
        [sys.executable, *_export_args(run.workdir, output)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2"),
    )
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if trigger in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(lines)[-3000:]
    return lines


def _whole_versions(model_dir):
    """The versions both generators have; fails when one has a version the other lacks
    (outside a commit record, see export.py) or export.json is not the newest, whole one."""
    versions = {g: layout_lib.existing_versions(model_dir / g) for g in GENERATORS}
    if not (model_dir / layout_lib.PENDING).exists():
        assert versions["image_to_video"] == versions["video_to_image"], versions
    for g in GENERATORS:
        # Only version folders where TF Serving looks (staged ones live in .staging).
        assert all(p.name.isdigit() for p in (model_dir / g).iterdir()), g
    meta = json.loads((model_dir / "export.json").read_text())
    assert meta["version"] == max(versions["image_to_video"])
    for name, digest in meta["sha256"].items():
        assert export_lib.sha256(model_dir / name) == digest, name
    return versions["image_to_video"]


@pytest.mark.slow  # ~32 s: two exports killed at chosen points; make test-slow (CI)
def test_killed_export_leaves_both_generators_or_neither(run, tmp_path):
    shutil.copytree(run.model_dir, tmp_path / "tiny")
    model_dir = tmp_path / "tiny"
    before = _whole_versions(model_dir)
    new = max(before) + 1
    # Killed while staging, then with everything staged but not committed: nothing shows.
    for trigger in ("image_to_video: SavedModel staged", "image_to_video: ONNX"):
        lines = _export_until(run, tmp_path, trigger)
        assert _whole_versions(model_dir) == before, lines
        assert (model_dir / layout_lib.STAGING / "image_to_video" / "saved_model.pb").is_file()
    # A kill between two renames of the commit (microseconds apart, too short to hit with a
    # signal from here) leaves this: a whole staged export, the commit record and one
    # generator in place. Staged in-process from the same step-2 networks.
    export_lib._stage(
        run.cfg,
        run.nets,
        2,
        str(Path(run.workdir).resolve()),
        model_dir,
        "tiny",
        new,
        True,
        generator_module.DEFAULT_OPSET,
        log=lambda line: None,
    )
    (model_dir / layout_lib.PENDING).write_text(json.dumps({"version": new}))
    (model_dir / layout_lib.STAGING / "image_to_video").rename(
        model_dir / "image_to_video" / str(new)
    )
    # The rerun completes that export instead of starting another.
    result = run_tool(*_export_args(run.workdir, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"completed the interrupted export of version {new}" in result.stdout
    assert f"version {new}" in result.stdout.splitlines()[-1]
    assert _whole_versions(model_dir) == [*before, new]
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(
        p.name for p in run.model_dir.iterdir()
    )
    meta = json.loads((model_dir / "export.json").read_text())
    assert meta["source"]["step"] == 2 and meta["generators"]["video_to_image"]["onnx"]
