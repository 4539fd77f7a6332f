"""The data the trace detector is trained and measured on: real generators, real photographs and
trustgen's own default model, listed by source image and split by source image.

    python -m detectors.realdata [--out .detector-data] [--install-debian] [--own 64]

- fakes from real generators: ``../shared/datasets/realgen`` (read in place, never copied; its
  README names the families); tiles cut from one published grid are one source image;
- real photographs: the shared set's photos and camera JPEGs, plus the library and Debian photos
  of ``detectors.data`` (``--install-debian`` installs the packages); one scene is one group;
- trustgen's own: ``own-unmarked`` (the default model's samples enlarged 2x as ``generate`` does,
  before the mark) and ``own-marked`` (the same pixels with trustgen's watermark: what
  ``trustgen generate`` writes), made here into ``OUT/own/``; a seed's two images are one group.

Both classes go through the same history: ``views`` cuts native-resolution crops the same way
from every image, and the training augmentations (``detectors.traintrace``: resizing, the
watermark, JPEG, noise) are drawn alike for both. Splits come from a hash of the group name
(``SPLIT_SHARES``), so no view of a test image, nor any image of its scene, is trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from .folders import group_bucket

REALGEN = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realgen"
#: The real generator families of the shared set, in its README's order.
REAL_FAMILIES = ("sd1", "sd2", "sd2-768", "kandinsky3", "dalle2")
OWN_FAMILIES = ("own-unmarked", "own-marked")
#: Split of groups by hash, in tenths: train, calibration, test.
SPLIT_SHARES = {"train": 5, "calib": 2, "test": 3}
#: Side of the square views that calibration and evaluation score; larger images give several.
VIEW = 512
MAX_VIEWS = 5


@dataclass(frozen=True)
class Source:
    path: Path
    label: int  # 0 real, 1 synthetic
    family: str  # generator family; "real" for photographs
    group: str  # source image or scene: the unit of splits and bootstrap intervals
    kind: str = ""  # for real photos: where they come from (photo-png, camera-jpeg, debian...)

    @property
    def split(self) -> str:
        b = group_bucket(self.group, 10)
        return ("train" if b < SPLIT_SHARES["train"]
                else "calib" if b < SPLIT_SHARES["train"] + SPLIT_SHARES["calib"] else "test")


def realgen_sources(root: Path = REALGEN) -> list[Source]:
    """The shared set's files, from its manifest; grid tiles share their grid's group."""
    manifest = json.loads((root / "manifest.json").read_text())
    out = []
    for entry in manifest:
        label = 1 if entry["label"] == "fake" else 0
        group = "realgen-" + entry["source"].split("@")[0]
        out.append(Source(root / entry["file"], label, entry["family"] if label else "real",
                          group, "" if label else entry["family"]))
    return out


def photo_sources() -> list[Source]:
    """The library and Debian photographs of ``detectors.data`` that are on this machine."""
    from .data import collect_photos

    return [Source(Path(p["path"]), 0, "real", p["group"], p["group"].split("-")[0])
            for p in collect_photos()]


def own_sources(out: Path) -> list[Source]:
    found = []
    for family in OWN_FAMILIES:
        for path in sorted((out / "own" / family).glob("*.png")):
            found.append(Source(path, 1, family, f"own-{path.stem}"))
    return found


def make_own(out: Path, n: int, *, seed0: int = 7000, steps: int = 25, log=print) -> None:
    """``n`` samples of the default model, enlarged and marked as ``TrustedPipeline.__call__``
    does (same size rule, same filter, the default scheme under the public key)."""
    from PIL.Image import LANCZOS

    from trustgen import watermark
    from trustgen.generate import TrustedPipeline

    pipe = TrustedPipeline.from_pretrained()
    folders = {f: out / "own" / f for f in OWN_FAMILIES}
    for f in folders.values():
        f.mkdir(parents=True, exist_ok=True)
    seeds = [s for s in range(seed0, seed0 + n) if not (folders["own-marked"] / f"{s}.png").exists()]
    for start in range(0, len(seeds), 8):
        chunk = seeds[start:start + 8]
        for s, image in zip(chunk, pipe.sample(seeds=chunk, num_inference_steps=steps)):
            image = image.resize(watermark.marking_size(*image.size), LANCZOS)
            image.save(folders["own-unmarked"] / f"{s}.png")
            watermark.embed(image, f"{s:012x}").save(folders["own-marked"] / f"{s}.png")
        log(f"own generations: {start + len(chunk)}/{len(seeds)}")


def all_sources(out: Path) -> list[Source]:
    return realgen_sources() + photo_sources() + own_sources(out)


def views(image, rng=None) -> list:
    """Native-resolution square crops of ``VIEW`` pixels (the whole image when smaller), up to
    ``MAX_VIEWS`` from a large image, spread over it (deterministic: the same image gives the
    same views). Applied alike to both classes."""
    w, h = image.size
    if w <= VIEW or h <= VIEW:
        return [image]
    nx, ny = min(2, w // VIEW), min(2, h // VIEW)
    xs = [0] if nx == 1 else [0, w - VIEW]
    ys = [0] if ny == 1 else [0, h - VIEW]
    # the corners of a large photo are often sky or blur: take the centre first
    spots = [((w - VIEW) // 2, (h - VIEW) // 2)] + [(x, y) for y in ys for x in xs]
    return [image.crop((x, y, x + VIEW, y + VIEW)) for x, y in spots[:MAX_VIEWS]]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(".detector-data"))
    ap.add_argument("--install-debian", action="store_true")
    ap.add_argument("--own", type=int, default=64, help="default-model generations to make")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.install_debian:
        from .data import install_debian_photos

        install_debian_photos()
    make_own(args.out, args.own, log=lambda m: print(m, flush=True))
    sources = all_sources(args.out)
    counts: dict[str, dict[str, int]] = {}
    for s in sources:
        counts.setdefault(s.family, {}).setdefault(s.split, 0)
        counts[s.family][s.split] += 1
    (args.out / "sources.json").write_text(json.dumps(
        [{"path": str(s.path), "label": s.label, "family": s.family, "group": s.group,
          "kind": s.kind, "split": s.split} for s in sources], indent=1))
    print(json.dumps(counts))


if __name__ == "__main__":
    sys.exit(main())
