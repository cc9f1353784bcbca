"""Deployment: export a trained run for TF Serving and ONNX Runtime, answer REST payloads the
way TF Serving does, and translate face images and videos with an exported model.

    export.py     SavedModels in the TF Serving layout + ONNX + export.json (`export_run`)
    serving.py    TF Serving REST request/response bodies (`build_request`, `answer`, ...)
    translate.py  files in, faces cropped, translated, GIF/MP4/PNG out (`translate_paths`)

Nothing here is imported by training; TensorFlow, tf2onnx and onnxruntime load on first use.
"""
