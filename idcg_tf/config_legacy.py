"""Reads configs and `--set` keys of the 0.2 layout (sections model, loss, data, train,
generation and a `task` string) as the current one (task / trainer / optimizer), so saved runs
and users' scripts keep working; the caller prints one notice line naming what was moved."""

from __future__ import annotations

from idcg_tf.architecture import CONV_IMPL_ALIASES, time_strides
from idcg_tf.config_fields import apply_override
from idcg_tf.errors import ConfigError

# 0.2 section -> its place now; keys keep their names unless KEYS renames them.
SECTIONS = {
    "model": "task.model",
    "loss": "task.loss",
    "data": "task.data",
    "train": "trainer",
    "generation": "task.model",
}
KEYS = {
    "model.variant": "task.variant",
    "model.conv3d_impl": "task.model.conv_impl",
    "loss.gradient_penalty": "task.loss.gradient_penalty_weight",
    "loss.cycle": "task.loss.cycle_weight",
    "loss.pixel_identity": "task.loss.pixel_identity_weight",
    "loss.facenet_identity": "task.loss.facenet_identity_weight",
    "generation.model": "task.model.generator",
    "generation.mask_sparsity": "task.loss.mask_sparsity_weight",
    "task.model.conv3d_impl": "task.model.conv_impl",  # renamed after 0.2's sections moved
}
# Old values of renamed keys, by new key.
VALUES = {"task.model.conv_impl": CONV_IMPL_ALIASES}


def new_key(dotted: str) -> str | None:
    """The current name of a 0.2-era dotted key (`train.steps` -> `trainer.steps`), or None
    when the key is not an old one."""
    if dotted == "task":
        return "task.type"
    if dotted in KEYS:
        return KEYS[dotted]
    section, _, rest = dotted.partition(".")
    if section in SECTIONS and rest:
        return f"{SECTIONS[section]}.{rest}"
    return None


def new_value(key: str, value):
    return VALUES.get(key, {}).get(value, value) if isinstance(value, str) else value


def upgrade(tree: dict) -> list[tuple[str, str]]:
    """Moves the 0.2-era keys of `tree` (plain data, changed in place) to their current places;
    returns the (old, new) key pairs moved."""
    moved = []
    was_generation = "task" not in tree and bool((tree.get("generation") or {}).get("model"))
    if isinstance(tree.get("task"), str):
        tree["task"] = {"type": tree["task"]}
        moved.append(("task", "task.type"))
    task = tree.get("task")
    if isinstance(task, dict) and isinstance(task.get("model"), dict):
        if "conv3d_impl" in task["model"]:
            value = task["model"].pop("conv3d_impl")
            task["model"].setdefault("conv_impl", new_value("task.model.conv_impl", value))
            moved.append(("task.model.conv3d_impl", "task.model.conv_impl"))
    old_sections = [s for s in SECTIONS if s in tree]
    for section in old_sections:
        node = tree.pop(section)
        if node is None:
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{section}: expected a mapping, got {node!r}")
        for key, value in node.items():
            old = f"{section}.{key}"
            new = new_key(old)
            moved.append((old, new))
            apply_override(tree, new.split("."), new_value(new, value), source="")
    if old_sections and was_generation:
        # From before the `task` key: generation.model chose the task, and the code took its
        # channels from the translator's (image_encoder_widths[-1] / latent frames).
        tree.setdefault("task", {})["type"] = "generation"
        model = tree["task"].setdefault("model", {})
        if "code_channels" not in model:
            widths = model.get("image_encoder_widths") or [128, 256, 512, 1024]
            frames = model.get("frames", 32)
            latent = frames // 2 ** time_strides(frames, len(widths))
            model["code_channels"] = widths[-1] // max(1, latent)
    return moved


def notice(moved: list[tuple[str, str]], where: str = "") -> str:
    """One line: which 0.2-era keys were read as which current ones (a moved section as
    `train.* -> trainer.*`, a renamed key by name)."""
    shown = []
    for old, new in moved:
        section, _, key = old.partition(".")
        if key and section in SECTIONS and new == f"{SECTIONS[section]}.{key}" and old not in KEYS:
            old, new = f"{section}.*", f"{SECTIONS[section]}.*"
        shown.append(f"{old} -> {new}")
    shown = list(dict.fromkeys(shown))
    prefix = f"{where}: " if where else ""
    return (
        f"notice: {prefix}0.2-era config keys read as the current ones ({', '.join(shown)}); "
        "see docs/configuration.md"
    )
