"""tools/compare.py's pieces: the results page and its verdict, the training-time curves, and
its user errors. (The full comparison trains three runs: `make compare`, not a unit test.)"""

import json

from conftest import ROOT, run_tool
from idcg_tf import comparison as compare

TOOL = str(ROOT / "tools" / "compare.py")


def _report(scores_i2v, scores_v2i, samples=(8, 4)):
    runs = []
    for model, a, b in zip(("Model1", "Model2", "Model3"), scores_i2v, scores_v2i):
        runs.append(
            {
                "model": model,
                "image_to_video": {"facenet_score": a, "samples": samples[0]},
                "video_to_image": {"facenet_score": b, "samples": samples[1]},
            }
        )
    return {"runs": runs}


def test_results_page_says_whether_the_paper_order_holds_per_direction():
    text = compare.results_markdown(
        _report([0.9, 0.8, 0.7], [0.7, 0.8, 0.9]),
        ["python tools/train.py ..."],
        {"train model1": 90.0, "evaluate": 30.0},
        "| Model | ... |",
        ["runs/x/table.md"],
        "x86_64, Linux",
    )
    assert (
        "- Image-to-Video: Model3 < Model2 < Model1 holds here (Model1 0.9000, Model2 "
        "0.8000, Model3 0.7000; 8 test samples per model)."
    ) in text
    assert "- Video-to-Image: Model3 < Model2 < Model1 does not hold here" in text
    assert "4 test samples per model" in text
    assert "| train model1 | 1.5 min |" in text and "python tools/train.py ..." in text
    assert compare.paper_order_holds({"model1": 3, "model2": 2, "model3": 1})
    assert not compare.paper_order_holds({"model1": 3, "model2": 3, "model3": 1})  # a tie


def test_training_curves_read_the_identity_score_records(tmp_path):
    # The records the trainer writes (tests/test_training.py pins their keys).
    (tmp_path / "metrics.jsonl").write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"step": 2, "generator/loss": 1.0},
                {
                    "step": 3,
                    "identity_score/image_to_video": 0.9,
                    "identity_score/video_to_image": 0.8,
                    "identity_score/samples_image_to_video": 3,
                },
                {
                    "step": 4,
                    "identity_score/image_to_video": 0.7,
                    "identity_score/video_to_image": 0.6,
                },
            ]
        )
        + "\n"
    )
    curves = compare.training_curves({"model1": tmp_path, "model2": tmp_path / "none"})
    assert curves["model1"] == [
        (3, {"image_to_video": 0.9, "video_to_image": 0.8}),
        (4, {"image_to_video": 0.7, "video_to_image": 0.6}),
    ]
    assert curves["model2"] == []
    compare.plot_training_curves(curves, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_user_errors_are_one_line_exit_2(tmp_path):
    def compare(override):
        return run_tool(TOOL, "--config", "tiny", "--output", str(tmp_path), "--set", override)

    for key in ("task.variant", "model.variant"):  # the current key and the 0.2 one
        proc = compare(f"{key}=model2")
        assert proc.returncode == 2 and proc.stderr.strip() == (
            f"error: --set {key}: the comparison trains all three variants"
        )
    proc = compare("trainer.stepz=1")
    assert proc.returncode == 2 and "trainer.stepz" in proc.stderr.strip().splitlines()[-1]
    assert not any(tmp_path.iterdir())  # nothing trained
