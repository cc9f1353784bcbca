"""The configs shipped with the package (package data, so `--config tiny` works after a plain
`pip install`): finding a `--config` argument by path or by name."""

from __future__ import annotations

from pathlib import Path

from idcg_tf.errors import ConfigError

FOLDER = Path(__file__).parent


def names() -> list[str]:
    """Names of the shipped configs (`tiny`, `celeb_model1`, ...)."""
    return sorted(p.stem for p in FOLDER.glob("*.yaml"))


def locate(name_or_path: str | Path) -> Path:
    """The YAML file meant by `--config`: a path when one exists (it wins over a shipped config
    of the same name), else a shipped config by name (`tiny` or `tiny.yaml`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = FOLDER / f"{path.stem}.yaml"
    if path.parent == Path(".") and path.suffix in ("", ".yaml") and shipped.is_file():
        return shipped
    raise ConfigError(
        f"{name_or_path}: config file not found (shipped configs, by name: {', '.join(names())})"
    )
