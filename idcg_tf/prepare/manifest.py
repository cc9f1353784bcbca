"""prepare_data's manifest.json: options, versions, detector, record layout, split, counts,
shards, and every skipped input with its reason."""

from __future__ import annotations

import dataclasses
import datetime
from collections import Counter

from idcg_tf.prepare import faces as faces_lib
from idcg_tf.prepare import sources as sources_lib
from idcg_tf.versions import package_versions

MANIFEST = "manifest.json"
SPLITS = ("train", "test")


def source_options(options, sources: list[sources_lib.Source]) -> dict:
    """The options as the manifest and ``--dry-run`` show them: sources as absolute specs."""
    return {
        **dataclasses.asdict(options),
        "images": [s.spec for s in sources if s.domain == "images"],
        "videos": [s.spec for s in sources if s.domain == "videos"],
    }


def _versions() -> dict[str, str]:
    import cv2

    return package_versions(
        ("mtcnn", "tensorflow", "keras", "numpy", "pillow"), opencv=cv2.__version__
    )


def _per_split(
    items: list[sources_lib.Item], splits: dict[str, str], counts: Counter, skipped_paths: set[str]
) -> dict:
    per_split = {}
    for split in SPLITS:
        people = {
            i.identity
            for i in items
            if i.identity and i.path not in skipped_paths and splits[i.path] in (split, "time")
        }
        per_split[split] = {
            "images": counts.get(f"images-{split}", 0),
            "clips": counts.get(f"clips-{split}", 0),
            "identities": len(people),
        }
    shared = {i.identity for i in items if i.identity and splits[i.path] == "train"} & {
        i.identity for i in items if i.identity and splits[i.path] == "test"
    }
    if shared:  # the split rules exclude this; a hit is a bug, not a user error
        raise RuntimeError(f"identities in both splits: {sorted(shared)[:5]}")
    return per_split


def _notes(
    options, items: list[sources_lib.Item], per_split: dict, time_split_videos: list
) -> list:
    notes = []
    if time_split_videos:
        notes.append(
            f"{len(time_split_videos)} video(s) without identity were split in time "
            "(--time-split): their test clips show the same people as their train "
            "clips, separated by a gap of one clip length."
        )
    for domain in ("images", "videos"):
        kind = "images" if domain == "images" else "clips"
        if (
            any(i.domain == domain for i in items)
            and options.test_fraction > 0
            and per_split["test"][kind] == 0
        ):
            notes.append(
                f"no {kind} in the test split: too few files or people to split, or "
                "every test one was skipped (the split is drawn before detection)."
            )
    return notes


def _damage(summaries: list[dict]) -> dict:
    """Damage never passes unsaid: stills kept under --keep-damaged (skipped ones are in
    "skipped"), and every frame of a frame folder that did not decode, or only with errors."""
    return {
        "damaged_kept": sorted(
            (d for s in summaries for d in s.get("damaged_kept", [])), key=lambda d: d["path"]
        ),
        "frame_problems": sorted(
            (
                {"video": v["path"], **p}
                for s in summaries
                for v in s["videos"]
                for p in v.get("frame_problems", [])
            ),
            key=lambda p: (p["video"], p["frame"]),
        ),
    }


def build_manifest(
    options,
    sources: list[sources_lib.Source],
    items: list[sources_lib.Item],
    rejected: list[sources_lib.Rejected],
    splits: dict[str, str],
    summaries: list[dict],
    shards: dict[str, list[str]],
) -> dict:
    """The manifest of a finished run (`options` resolved)."""
    versions = _versions()
    skipped = [dataclasses.asdict(r) for r in rejected]
    for s in summaries:
        skipped += s["skipped"]
    skipped.sort(key=lambda s: (s["domain"], s["path"]))
    counts = Counter()
    for s in summaries:
        counts.update(s["counts"])
    skipped_paths = {s["path"] for s in skipped}
    per_split = _per_split(items, splits, counts, skipped_paths)
    time_split_videos = sorted(i.path for i in items if splits[i.path] == "time")
    used = Counter(i.domain for i in items if i.path not in skipped_paths)
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "options": source_options(options, sources),
        "versions": versions,
        "detector": {
            "name": "MTCNN (P-Net, R-Net, O-Net)",
            "package": f"mtcnn {versions['mtcnn']}",
            "min_confidence": options.min_confidence,
            "min_face": options.min_face,
            "frontal_filter": (
                f"OpenCV {versions['opencv']} {faces_lib.FrontalFilter.CASCADE}"
                if options.frontal_only
                else None
            ),
        },
        "record": {
            "schema": "idcg_tf.data.schema",
            "encoding": "png",
            "dtype": "uint8",
            "images_shape": [options.resolution, options.resolution, 3],
            "clips_shape": [options.frames, options.resolution, options.resolution, 3],
        },
        "split": {
            "unit": "identity, else file",
            "test_fraction": options.test_fraction,
            "seed": options.seed,
            "time_split_videos": time_split_videos,
        },
        "counts": per_split,
        "inputs": {
            domain: {
                "found": sum(1 for i in items if i.domain == domain)
                + sum(1 for r in rejected if r.domain == domain),
                "used": used.get(domain, 0),
            }
            for domain in ("images", "videos")
        },
        "shards": shards,
        "skipped_summary": dict(Counter(s["reason"] for s in skipped).most_common()),
        "skipped": skipped,
        **_damage(summaries),
        "videos": sorted((v for s in summaries for v in s["videos"]), key=lambda v: v["path"]),
        # Still images whose face box the dataset gave (CelebA's landmarks) or MTCNN found.
        "image_face_sources": {
            k: sum(s.get("image_face_sources", {}).get(k, 0) for s in summaries)
            for k in ("dataset", "detector")
        },
        "notes": _notes(options, items, per_split, time_split_videos),
    }
