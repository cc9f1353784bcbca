"""The `idcg-app` page (Gradio): drop a photo, get its clip; drop a video, get its photo. Each
result shows the face crop that was used, the translation, its files and the FaceNet distance
between input and translation. The work is `idcg_tf.deploy.app_backend.AppBackend`'s; this
module only lays it out and serves it.
"""

from __future__ import annotations

import os

# Gradio reports usage to its makers unless told not to; a local app has no business calling out.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402 - after the setting above

from idcg_tf.deploy.app_backend import AppBackend, AppResult  # noqa: E402

# Faces are 64 px at paper size (32 in the demo): shown enlarged, pixels kept sharp.
CSS = """
.idcg-face img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
.idcg-strip img { width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; }
"""
FACE = {"interactive": False, "height": 280, "elem_classes": "idcg-face"}
STRIP = {"interactive": False, "height": 200, "elem_classes": "idcg-strip", "type": "filepath"}

ABOUT = (
    "Identity-aware CycleGAN: a face photo becomes a short clip of the same face, a face video "
    "becomes a photo. The face is found and cropped as `idcg-translate` does; FaceNet measures "
    "how far the translation is from the input (0 is the same face, {threshold:g} is the "
    "same-person threshold)."
)


def _clear(result: AppResult, count: int) -> list:
    return [result.verdict(), "", *([None] * count)]


def _photo_outputs(result: AppResult) -> list:
    if result.error is not None:
        return _clear(result, 4)
    files = result.files
    return [
        result.verdict(),
        f"{result.distance:.6f}",
        result.faces,
        files["gif"],
        files["strip"],
        files["mp4"],
    ]


def _video_outputs(result: AppResult) -> list:
    if result.error is not None:
        return _clear(result, 3)
    files = result.files
    return [
        result.verdict(),
        f"{result.distance:.6f}",
        files["image"],
        files["sheet"],
        files["image"],
    ]


def build_page(backend: AppBackend, title: str) -> gr.Blocks:
    """The page: one tab per direction, each with its upload, the one-line result (distance
    or error), the crop and the outputs."""
    model = backend.model
    with gr.Blocks(title=title, delete_cache=(3600, 3600)) as page:
        gr.Markdown(f"## {title}\n\n" + ABOUT.format(threshold=backend.threshold))
        gr.Markdown(
            f"Model `{model.model_dir.name}` on {model.backend}: {model.resolution}x"
            f"{model.resolution} faces, {model.frames}-frame clips."
        )
        with gr.Tab("Photo to clip", id="photo"):
            with gr.Row():
                photo = gr.File(label="Photo (jpg, png, bmp, webp)", elem_id="photo")
                crop = gr.Image(label="Face crop used", elem_id="photo-crop", **FACE)
                gif = gr.Image(label="Clip", type="filepath", elem_id="photo-clip", **FACE)
            status = gr.Markdown(elem_id="photo-status")
            distance = gr.Textbox(
                label="FaceNet distance (input photo, clip frames)", elem_id="photo-distance"
            )
            strip = gr.Image(label="Face crop | clip frames", **STRIP)
            mp4 = gr.File(label="Clip as MP4", elem_id="photo-mp4")
            photo.upload(
                lambda path: _photo_outputs(backend.photo_to_clip(path)),
                inputs=photo,
                outputs=[status, distance, crop, gif, strip, mp4],
            )
        with gr.Tab("Video to photo", id="video"):
            with gr.Row():
                video = gr.File(
                    label="Video (mp4, avi, mov, mkv, webm)",
                    elem_id="video",
                )
                image = gr.Image(label="Photo", type="filepath", elem_id="video-photo", **FACE)
            status_v = gr.Markdown(elem_id="video-status")
            distance_v = gr.Textbox(
                label="FaceNet distance (photo, input clip frames)", elem_id="video-distance"
            )
            sheet = gr.Image(label="Face frames used | photo", **STRIP)
            download = gr.File(label="Photo as PNG", elem_id="video-png")
            video.upload(
                lambda path: _video_outputs(backend.video_to_photo(path)),
                inputs=video,
                outputs=[status_v, distance_v, image, sheet, download],
            )
    return page


def serve(backend: AppBackend, title: str, host: str, port: int | None, allowed: str) -> None:
    """Serves the page until interrupted (Ctrl-C); `allowed` is the folder results are in."""
    page = build_page(backend, title)
    page.queue(default_concurrency_limit=1)  # one translation at a time: they share the CPU
    try:
        page.launch(
            server_name=host,
            server_port=port,
            share=False,
            inbrowser=False,
            quiet=True,
            show_error=True,
            allowed_paths=[allowed],
            footer_links=[],
            # The system's fonts: the default theme fetches its fonts from the web.
            theme=gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"]),
            css=CSS,
            prevent_thread_lock=True,
        )
        print(f"idcg-app: serving on http://{host}:{page.server_port} (Ctrl-C stops)", flush=True)
        page.block_thread()
    finally:
        page.close()
