"""Deployment: export a trained run for TF Serving and ONNX Runtime, answer REST payloads the
way TF Serving does, and translate face images and videos with an exported model.

    export.py            SavedModels + ONNX (+ LiteRT) + MODEL_CARD.md + export.json
    litert.py            LiteRT conversion (float32, float16, int8) and its runner
    warmup.py            TF Serving warmup records in each version's assets.extra
    layout.py            an export folder's names, versions and export.json (`read_export`)
    generator_module.py  one generator's serving graph and signatures (`GeneratorModule`)
    staging.py           the staged, atomic commit of an export, and its recovery
    model_card.py        MODEL_CARD.md: the model, its data and licences, uses, metrics
    serving.py           TF Serving REST request/response bodies (`build_request`, `answer`, ...)
    exported_model.py    running an export on ONNX Runtime, TensorFlow or LiteRT
    media_inputs.py      the images, videos and frame folders to translate (`find_inputs`)
    translate.py         files in, faces cropped, translated, GIF/MP4/PNG out (`Translator`,
                         `translate_paths`), FaceNet distances on request
    app_backend.py       what idcg-app does with an upload (`AppBackend`), without the page
    web_app.py           the idcg-app page (Gradio; the app extra)

Nothing here is imported by training; tf2onnx, onnxruntime, LiteRT and Gradio load on first use.
"""
