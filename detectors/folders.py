"""Find labelled images in the folder layouts detector data sets use.

- ``0_real/`` and ``1_fake/`` anywhere below the root (trustgen's own data, CNNDetection's
  ``<generator>/[<category>/]0_real``); a subfolder of ``1_fake/`` names the generator family;
- GenImage's ``<generator>/{train,val}/{nature,ai}/``.
Families otherwise come from the first folder below the root. The *group* of an image (its
source photo, for splits and bootstrap intervals) is the file-name part before ``__`` (trustgen's
data names tiles ``<photo>__<k>``), else the file name without its extension, so
``0_real/photo1.png`` and ``1_fake/blur/photo1.jpg`` share a group wherever they lie.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

from trustgen.errors import InputError
from trustgen.media import extensions

IMAGE_SUFFIXES = extensions(can_decode=True)
_REAL = {"0_real", "nature"}
_FAKE = {"1_fake", "ai"}
_GENIMAGE = {"nature", "ai"}


@dataclass(frozen=True)
class Item:
    path: Path
    label: int  # 0 real, 1 synthetic
    family: str  # generator family for fakes, "real" for real images
    group: str  # source photo, for splits and bootstrap


def _group(path: Path) -> str:
    return path.stem.split("__")[0]


def group_bucket(group: str, buckets: int) -> int:
    """A stable bucket in ``range(buckets)`` from a group name alone (CRC-32), for splits."""
    return zlib.crc32(group.encode()) % buckets


def _family(label: int, below: tuple[str, ...], default: str) -> str:
    """"real", else the first folder below the label folder, else ``default``."""
    return "real" if label == 0 else below[0] if below else default


def find_items(root, *, split: str | None = None) -> list[Item]:
    """Every labelled image below ``root``; ``split`` keeps only GenImage's train or val part
    (``nature``/``ai`` folders below a ``train`` or ``val`` folder); other layouts ignore it."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a folder of labelled images", path=root)
    items = []
    for path in sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        parts = path.relative_to(root).parts[:-1]
        label_at = next((i for i, d in enumerate(parts) if d in _REAL | _FAKE), None)
        if label_at is None:
            continue
        above = parts[:label_at]
        if (split and parts[label_at] in _GENIMAGE and split not in above
                and any(d in ("train", "val") for d in above)):
            continue  # GenImage's other split; other layouts keep folders named train or val
        label = 0 if parts[label_at] in _REAL else 1
        family = _family(label, parts[label_at + 1:], parts[0] if label_at else "fake")
        items.append(Item(path, label, family, _group(path)))
    if not items:
        raise InputError("no images found under 0_real/ and 1_fake/ (or GenImage nature/ and ai/)",
                         path=root)
    return items


def items_from_dirs(real_dir, fake_dir) -> list[Item]:
    """Images from a folder of real and one of synthetic images (fake subfolders: families)."""
    items = []
    for folder, label in ((Path(real_dir), 0), (Path(fake_dir), 1)):
        if not folder.is_dir():
            raise InputError("not a folder", path=folder)
        for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
            family = _family(label, path.relative_to(folder).parts[:-1], "fake")
            items.append(Item(path, label, family, _group(path)))
        if not any(i.label == label for i in items):
            raise InputError("contains no images", path=folder)
    return items


def open_image(path: Path):
    """Decode with trustgen's safe decoder (size limits; truncation -> InputError with the file)."""
    from trustgen.media import decode_image, read_file

    return decode_image(read_file(path), path=path, rgb=True)
