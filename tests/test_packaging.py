"""The wheel a plain `pip install .` builds: the package, its configs and the console scripts.

`make check-install` installs it into a fresh venv and runs the scripts; this is the quick part.
"""

import configparser
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT
from idcg_tf import configs

SCRIPTS = {
    "idcg-train": "train",
    "idcg-prepare": "prepare_data",
    "idcg-evaluate": "evaluate",
    "idcg-export": "export",
    "idcg-translate": "translate",
    "idcg-generate": "generate",
    "idcg-benchmark": "benchmark",
    "idcg-compare": "compare",
    "idcg-gpu-check": "gpu_check",
    "idcg-app": "app",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The names in the wheel and its entry_points.txt. Built from a copy of what the build
    reads, so that a stale build/ folder cannot hide a missing file."""
    src = tmp_path_factory.mktemp("src")
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "idcg_tf", src / "idcg_tf", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = out.glob("idcg_tf-*.whl")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        parser = configparser.ConfigParser()
        parser.read_string(archive.read(entry_points).decode())
    return names, dict(parser["console_scripts"])


def test_wheel_ships_every_config(wheel):
    names, _ = wheel
    shipped = sorted(
        n.split("/")[-1][:-5]
        for n in names
        if n.startswith("idcg_tf/configs/") and n.endswith(".yaml")
    )
    assert shipped == configs.names() and "tiny" in shipped


def test_wheel_declares_the_console_scripts(wheel):
    names, scripts = wheel
    assert scripts == {name: f"idcg_tf.cli.{module}:cli" for name, module in SCRIPTS.items()}
    for module in SCRIPTS.values():
        assert f"idcg_tf/cli/{module}.py" in names


def test_wheel_holds_the_package_only(wheel):
    names, _ = wheel
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"idcg_tf"}
    assert "idcg_tf/cli.py" not in names  # the tools' shared code is the cli package now
    assert any(
        n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE") for n in names
    )


@pytest.mark.parametrize("tool", sorted(SCRIPTS.values()))
def test_each_tool_entry_point_is_the_package_main(tool):
    # tools/<tool>.py of a clone runs the same main() as the console script.
    text = (ROOT / "tools" / f"{tool}.py").read_text()
    assert f"from idcg_tf.cli.{tool} import cli, main" in text
