"""Typed run configuration: YAML files loaded into frozen dataclasses, by owner: `task` (model,
losses, data), `trainer` and `optimizer` (idcg_tf.config_sections holds each with its checks).

Every key is checked: an unknown key, a wrong type or an impossible value raises `ConfigError`
naming the dotted key. Overrides (`--set trainer.steps=10`) go through the same checks. Files and
`--set` keys of the 0.2 layout are read with a one-line notice (idcg_tf.config_legacy).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import typing
from pathlib import Path

import yaml

from idcg_tf import config_legacy, configs
from idcg_tf.config_fields import apply_override, build, parse_override, plain
from idcg_tf.config_sections import (  # noqa: F401  (the names users of `config` import)
    GENERATION_MODELS,
    MIXED_PRECISION,
    PIXEL_IDENTITY_FORMS,
    TASKS,
    VARIANTS,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    TaskConfig,
    TrainerConfig,
    drop_unused,
)
from idcg_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Config:
    task: TaskConfig = TaskConfig()
    trainer: TrainerConfig = TrainerConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    name: str = ""
    description: str = ""

    def to_dict(self) -> dict:
        """Every setting the task type reads (the other type's keys left out)."""
        tree = dataclasses.asdict(self)
        drop_unused(tree, self.task.type)
        return tree

    def to_yaml(self) -> str:
        return yaml.safe_dump(plain(self.to_dict()), sort_keys=False)


def validate(cfg: Config, tree: dict | None = None) -> Config:
    """Each section's own checks; `tree` (the config as written) lets the task refuse keys its
    type would ignore."""
    cfg.task.validate(tree)
    cfg.trainer.validate()
    cfg.optimizer.validate()
    return cfg


_noticed: set = set()


def _notice(moved: list, where: str) -> None:
    line = config_legacy.notice(moved, where)
    if line not in _noticed:
        _noticed.add(line)
        print(line, file=sys.stderr, flush=True)


def from_dict(data: dict, overrides: typing.Sequence[str] = (), where: str = "") -> Config:
    """Builds and validates a Config from plain data and `section.key=value` overrides."""
    tree = json.loads(json.dumps(data or {}))  # deep copy of plain data
    moved = config_legacy.upgrade(tree)
    legacy = bool(moved)  # a 0.2-era file, or a 0.2-era `--set task=...`
    for text in overrides:
        path, value = parse_override(text)
        dotted = ".".join(path)
        new = config_legacy.new_key(dotted)
        if new:
            moved.append((dotted, new))
            legacy = legacy or dotted == "task"
            dotted, value = new, config_legacy.new_value(new, value)
        apply_override(tree, dotted.split("."), value)
    if legacy and isinstance(tree.get("task"), dict):
        # 0.2 kept both tasks' keys in shared sections and each task ignored the other's.
        drop_unused(tree, tree["task"].get("type", "translation"))
    if moved:
        _notice(moved, where)
    return validate(build(Config, tree, ""), tree)


def load(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Loads a YAML config (path or shipped name), applies `section.key=value` overrides and
    validates everything."""
    path = configs.locate(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML ({first})") from None
    try:
        return from_dict(data or {}, overrides, where=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def replace(cfg: Config, **sections) -> Config:
    """A copy with sections or fields replaced, merged into the nested sections:
    replace(cfg, trainer={"steps": 3}, task={"model": {"conv_impl": "stock"}})."""

    def merge(node: dict, values: dict) -> None:
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(node.get(key), dict):
                merge(node[key], value)
            else:
                node[key] = value

    tree = plain(cfg.to_dict())
    merge(tree, plain(sections))
    return validate(build(Config, tree, ""))
