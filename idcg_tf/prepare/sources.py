"""Source kinds: where the face media comes from and how it is enumerated (reading it:
`idcg_tf.prepare.media`).

A source is given as ``KIND:PATH``. Still images (domain X, ``--images``):

    images  a folder of still images, searched recursively, or one image file; no identity
            is known, so the train/test split goes by file, except that files under a folder
            named ``train`` or ``test`` (below PATH) are in that split.
    celeba  CelebA: PATH holds ``img_align_celeba/`` (also found under ``Img/``, or PATH may be
            that folder itself) and optionally ``identity_CelebA.txt`` (also under ``Anno/``),
            which gives identities, and ``list_eval_partition.txt`` (also under ``Eval/``, or
            the Kaggle copy's ``list_eval_partition.csv``), whose partition 2 is used as the
            test split (0 and 1 go to train). Without the identity file each image is its own
            person (a one-line notice says so).
    pasc    PaSC stills folder (recursive); the identity is the 5-digit subject id that starts
            PaSC names (``04213d1190.jpg`` -> ``04213``).

Videos (domain Y, ``--videos``):

    videos  a folder of video files, searched recursively, or one video file; no identity.
    frames  a folder in which every folder that directly holds image files is one video,
            its frames ordered by the last number in their names; no identity.
    aligned_frames  as frames, every frame already a face crop whose face is its centred
            1 / 2.2 (YouTube Faces' aligned_images_DB geometry): no detection.
    ytf     YouTube Faces: PATH is (or contains) ``frame_images_DB``, laid out as
            ``<person>/<video>/<i>.<frame>.jpg``, or ``aligned_images_DB``
            (``aligned_detect_<i>.<frame>.jpg``); the identity is ``<person>``. The boxes of
            ``<person>.labeled_faces.txt`` are used where a frame has one, and aligned crops
            are used as they are (``idcg_tf.prepare.dataset_faces``); MTCNN runs only where
            the dataset gives no face.
    pasc    PaSC videos folder (recursive, e.g. ``control/`` and ``handheld/``); identities as
            for the stills, so a person's stills and videos fall in the same split.

Still images may be jpg/jpeg, png, bmp or webp in any mode Pillow reads (RGB, RGBA, L, P, CMYK,
16-bit); videos may be mp4, avi, mov, mkv or webm, decoded with OpenCV. Files and folders whose
names start with a dot are not inputs and are ignored. Identities are namespaced by dataset
(``celeba:2880``, ``ytf:Aaron_Eckhart``, ``pasc:04213``) so that two datasets' ids never merge.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator
from pathlib import Path

from idcg_tf.errors import UserError
from idcg_tf.reporting import log_to_stderr

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")

IMAGE_KINDS = {
    "images": "a folder of still images (recursive) or one image file; split by file, or by a "
    "train/ or test/ folder",
    "celeba": "CelebA root (img_align_celeba/ [+ identity_CelebA.txt, list_eval_partition.txt])",
    "celeba_aligned": "as celeba, the face boxes from its list_landmarks_align_celeba "
    "(no detection; --frontal-only still applies)",
    "pasc": "PaSC stills folder; identity = 5-digit subject id at the start of each name",
}
VIDEO_KINDS = {
    "videos": "a folder of video files (recursive) or one video file; split by video",
    "frames": "a folder of frame folders, one folder of ordered frames per video",
    "aligned_frames": "as frames, each frame already a face crop (the face the centred "
    "1/2.2, as YouTube Faces' aligned_images_DB): used without detection",
    "ytf": "YouTube Faces frame_images_DB/<person>/<video>/<n>.jpg (its labeled_faces.txt "
    "boxes used) or aligned_images_DB; identity = person",
    "pasc": "PaSC videos folder; identity = 5-digit subject id at the start of each name",
}
DOMAINS = {"images": IMAGE_KINDS, "videos": VIDEO_KINDS}


class SkipInput(Exception):
    """An input that cannot be used; `reason` is a short category, the message says why."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Source:
    """One ``KIND:PATH`` argument, checked: the kind exists for its domain, the path exists."""

    domain: str  # "images" | "videos"
    kind: str
    path: str  # absolute

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.path}"


@dataclasses.dataclass(frozen=True)
class Item:
    """One input: a still image file, a video file, or a folder of frames."""

    domain: str
    kind: str
    path: str  # absolute
    identity: str = ""  # namespaced person id, "" when unknown
    official_split: str | None = None  # "train" | "test" where the dataset defines one
    stamp: str = ""  # size and mtime, so that a changed file is not served from the cache
    # Where the dataset already located the faces (idcg_tf.prepare.dataset_faces): "" (detect),
    # "labels:<labeled_faces.txt>" (YouTube Faces boxes), "aligned" (pre-aligned crops).
    faces: str = ""

    @property
    def group(self) -> str:
        """The unit the train/test split is drawn over: the person, else the file itself."""
        return f"id:{self.identity}" if self.identity else f"file:{self.path}"

    @property
    def is_frame_folder(self) -> bool:
        return self.kind in ("frames", "ytf")


@dataclasses.dataclass(frozen=True)
class Rejected:
    """A file found in a source that is not an input of its kind (e.g. wrong extension)."""

    path: str
    domain: str
    reason: str
    detail: str


def parse_source(spec: str, domain: str) -> Source:
    """Parses ``KIND:PATH`` for `domain`; a wrong kind or a missing path is a `UserError`."""
    kinds = DOMAINS[domain]
    flag = f"--{domain}"
    kind, sep, path = spec.partition(":")
    if not sep or kind not in kinds:
        raise UserError(f"{flag} {spec!r}: expected KIND:PATH with KIND one of {', '.join(kinds)}")
    if not path:
        raise UserError(f"{flag} {spec!r}: the path is empty")
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise UserError(f"{flag} {spec}: no such file or directory: {path}")
    return Source(domain, kind, str(resolved.resolve()))


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def natural_key(name: str) -> list:
    """Sorts "2.jpg" before "10.jpg", as frame numbers are meant."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _walk_files(root: Path) -> list[Path]:
    """Every non-hidden file under `root` (or `root` itself), in a fixed order."""
    if root.is_file():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(
            Path(folder, f) for f in sorted(files, key=natural_key) if not f.startswith(".")
        )
    return found


def _split_by_extension(
    files: list[Path], domain: str, wanted: tuple[str, ...], what: str
) -> tuple[list[Path], list[Rejected]]:
    keep, rejected = [], []
    for f in files:
        if f.suffix.lower() in wanted:
            keep.append(f)
        else:
            rejected.append(
                Rejected(
                    str(f),
                    domain,
                    "unsupported extension",
                    f"{f.suffix or 'no extension'} is not {what} ({', '.join(wanted)})",
                )
            )
    return keep, rejected


_PASC_NAME = re.compile(r"^(\d{5})d\d+")


def _pasc_identity(path: Path) -> str:
    match = _PASC_NAME.match(path.name)
    return f"pasc:{match.group(1)}" if match else ""


def _folder_split(path: Path, root: Path) -> str | None:
    """ "train"/"test" when a folder between `root` and the file is named so (a split the user
    fixed, e.g. stills split in time as the demo's), else None."""
    try:
        parts = path.relative_to(root).parts[:-1]
    except ValueError:  # root is the file itself
        return None
    named = [p for p in parts if p in ("train", "test")]
    return named[-1] if named else None


def _first_existing(root: Path, candidates: list[str]) -> Path | None:
    for c in candidates:
        if (root / c).exists():
            return root / c
    return None


def _read_table(path: Path) -> dict[str, str]:
    """Reads a CelebA annotation file of ``<file name> <value>`` lines, or the CSV form of the
    Kaggle re-upload (``image_id,partition`` header, comma-separated)."""
    table = {}
    csv = path.suffix.lower() == ".csv"
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.strip().split(",") if csv else line.split()
            if parts in ([], [""]) or (csv and number == 1 and parts[0] == "image_id"):
                continue  # a blank line, or the CSV's header
            if len(parts) != 2:
                form = "<file>,<value>" if csv else "<file> <value>"
                raise UserError(f"{path}:{number}: expected '{form}', got {line.strip()!r}")
            table[parts[0]] = parts[1]
    return table


def _celeba_boxes(root: Path, source: Source) -> dict[str, str]:
    """{file name: "box:x0,y0,x1,y1"} from CelebA's landmarks of its aligned images."""
    from idcg_tf.prepare.dataset_faces import read_celeba_landmarks

    path = _first_existing(
        root,
        [
            "list_landmarks_align_celeba.txt",
            "Anno/list_landmarks_align_celeba.txt",
            "list_landmarks_align_celeba.csv",
        ],
    )
    if path is None:
        raise UserError(
            f"--images {source.spec}: celeba_aligned needs list_landmarks_align_celeba.txt "
            f"(or .csv) in {root} or {root / 'Anno'}"
        )
    return read_celeba_landmarks(path)


def _celeba(source: Source) -> tuple[list[Item], list[Rejected]]:
    root = Path(source.path)
    if root.name == "img_align_celeba":
        images, root = root, root.parent
    else:
        images = _first_existing(root, ["img_align_celeba", "Img/img_align_celeba"])
        if images is None:
            raise UserError(f"--images {source.spec}: no img_align_celeba/ folder in {root}")
    identity_file = _first_existing(root, ["identity_CelebA.txt", "Anno/identity_CelebA.txt"])
    partition_file = _first_existing(
        root, ["list_eval_partition.txt", "Eval/list_eval_partition.txt", "list_eval_partition.csv"]
    )
    if identity_file is None:
        log_to_stderr(
            f"notice: --images {source.spec}: this CelebA copy has no identity_CelebA.txt (the Kaggle "
            "re-upload has none): each image counts as its own person, so one person's images "
            "may land in both splits"
            + ("; the test split is the partition file's partition 2" if partition_file else "")
        )
    identities = _read_table(identity_file) if identity_file else {}
    partition = _read_table(partition_file) if partition_file else {}
    boxes = _celeba_boxes(root, source) if source.kind == "celeba_aligned" else {}
    files, rejected = _split_by_extension(
        _walk_files(images), "images", IMAGE_EXTENSIONS, "an image"
    )
    items = []
    for f in files:
        person = identities.get(f.name, "")
        part = partition.get(f.name)
        official = None if part is None else ("test" if part == "2" else "train")
        items.append(
            Item(
                "images",
                "celeba",
                str(f),
                f"celeba:{person}" if person else "",
                official,
                _stamp(f),
                boxes.get(f.name, ""),
            )
        )
    return items, rejected


def _frame_folders(root: Path) -> Iterator[Path]:
    """Folders under `root` that directly hold at least one image file."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if any(Path(f).suffix.lower() in IMAGE_EXTENSIONS for f in files if not f.startswith(".")):
            yield Path(folder)


def _frames(source: Source) -> tuple[list[Item], list[Rejected]]:
    root = Path(source.path)
    if not root.is_dir():
        raise UserError(f"--videos {source.spec}: a {source.kind} source must be a folder")
    faces = "aligned" if source.kind == "aligned_frames" else ""
    items = [
        Item("videos", "frames", str(f), "", None, _stamp(f), faces) for f in _frame_folders(root)
    ]
    return items, []


def _ytf_root(root: Path) -> Path:
    """The frames folder of a YouTube Faces source: frame_images_DB when the given folder holds
    it, else aligned_images_DB when it holds that, else the folder itself."""
    for name in ("frame_images_DB", "aligned_images_DB"):
        if (root / name).is_dir():
            return root / name
    return root


def _is_aligned(video: Path) -> bool:
    """aligned_images_DB names its files aligned_detect_<video>.<frame>.jpg."""
    return any(f.name.startswith("aligned_detect_") for f in video.iterdir() if f.is_file())


def _ytf(source: Source) -> tuple[list[Item], list[Rejected]]:
    root = Path(source.path)
    if not root.is_dir():
        raise UserError(f"--videos {source.spec}: a ytf source must be a folder")
    root = _ytf_root(root)
    items = []
    for person in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        labels = root / f"{person.name}.labeled_faces.txt"
        for video in sorted(
            (v for v in person.iterdir() if v.is_dir()), key=lambda v: natural_key(v.name)
        ):
            faces = "aligned" if _is_aligned(video) else ""
            if not faces and labels.is_file():
                faces = f"labels:{labels}"
            items.append(
                Item("videos", "ytf", str(video), f"ytf:{person.name}", None, _stamp(video), faces)
            )
    return items, []


def enumerate_source(source: Source) -> tuple[list[Item], list[Rejected]]:
    """Lists the inputs of one source and the files in it that are not inputs.

    A source without a single input of its kind is a `UserError`.
    """
    if source.domain == "images" and source.kind in ("celeba", "celeba_aligned"):
        items, rejected = _celeba(source)
    elif source.domain == "videos" and source.kind in ("frames", "aligned_frames"):
        items, rejected = _frames(source)
    elif source.domain == "videos" and source.kind == "ytf":
        items, rejected = _ytf(source)
    else:
        wanted, what = (
            (IMAGE_EXTENSIONS, "an image")
            if source.domain == "images"
            else (VIDEO_EXTENSIONS, "a video")
        )
        files, rejected = _split_by_extension(
            _walk_files(Path(source.path)), source.domain, wanted, what
        )
        identity = _pasc_identity if source.kind == "pasc" else (lambda _: "")
        fixed = (
            _folder_split
            if source.domain == "images" and source.kind == "images"
            else (lambda *_: None)
        )
        items = [
            Item(
                source.domain,
                source.kind,
                str(f),
                identity(f),
                fixed(f, Path(source.path)),
                _stamp(f),
            )
            for f in files
        ]
    if not items:
        exts = IMAGE_EXTENSIONS if source.domain == "images" else VIDEO_EXTENSIONS
        what = (
            "frame folders"
            if source.kind in ("frames", "aligned_frames", "ytf")
            else f"{source.domain[:-1]} files ({', '.join(exts)})"
        )
        raise UserError(f"--{source.domain} {source.spec}: empty source, no {what} found")
    return items, rejected
