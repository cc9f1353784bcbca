"""The train/test split of prepare_data's inputs (see `idcg_tf.prepare.pipeline` for the rules)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from idcg_tf.prepare import sources as sources_lib


def unit_hash(seed: int, key: str) -> float:
    """A seeded, stable position in [0, 1) for `key`: the order units are split and mixed in."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def inputs_root(paths: Iterable[str]) -> str:
    """The folder holding every input: keys relative to it make the split and the record order
    the same wherever the data sit (another clone, another mount) and whenever the files were
    written (the cache keys include file times; these must not)."""
    paths = list(paths)
    return os.path.commonpath(paths) if paths else ""


def portable(path: str, root: str) -> str:
    return os.path.relpath(path, root) if root else path


def _group_key(group: str, root: str) -> str:
    kind, _, name = group.partition(":")
    return f"file:{portable(name, root)}" if kind == "file" else group


def assign_splits(
    items: Iterable[sources_lib.Item], test_fraction: float, seed: int, time_split: bool
) -> dict[str, str]:
    """Maps each item's path to "train", "test" or "time" (split in time, videos only)."""
    items = list(items)
    root = inputs_root(i.path for i in items)
    split_of_group: dict[str, str] = {}
    result: dict[str, str] = {}
    official: dict[str, str] = {}
    for item in items:
        if item.official_split is not None:
            # A person with any officially-test image is test, so no person is in both.
            if official.get(item.group) != "test":
                official[item.group] = item.official_split
    for domain in ("images", "videos"):
        groups = sorted(
            {
                i.group
                for i in items
                if i.domain == domain
                and i.group not in official
                and not (time_split and domain == "videos" and not i.identity)
            },
            key=lambda g: (unit_hash(seed, _group_key(g, root)), g),
        )
        n_test = 0
        if test_fraction > 0 and len(groups) >= 2:
            n_test = min(max(1, round(test_fraction * len(groups))), len(groups) - 1)
        for rank, group in enumerate(groups):
            split = "test" if rank < n_test else "train"
            if split_of_group.get(group) != "test":
                split_of_group[group] = split
    split_of_group.update(official)
    for item in items:
        if time_split and item.domain == "videos" and not item.identity:
            result[item.path] = "time"
        else:
            result[item.path] = split_of_group[item.group]
    return result


def time_ranges(
    first: int, last: int, frames: int, test_fraction: float
) -> dict[str, tuple[int, int]]:
    """Inclusive frame ranges of a time-split video: test at the end, a clip-long gap."""
    total = last - first + 1
    n_test = int(round(total * test_fraction))
    if n_test == 0:
        return {"train": (first, last)}
    test_first = last - n_test + 1
    return {"train": (first, test_first - frames - 1), "test": (test_first, last)}
