"""Build the detector's data set: real photos and the same photos through trustgen's generators.

    python -m detectors.data [--out .detector-data] [--install-debian]

Everything is made here, nothing comes from a hub. Real photos are the sample photographs shipped
by scikit-image, scikit-learn and matplotlib, plus (``--install-debian``) photographs from the
Debian packages ``mate-backgrounds``, ``opencv-doc``, ``lomiri-wallpapers-16.04``,
``lomiri-wallpapers-20.04`` and ``plasma-workspace-wallpapers`` (their photographs only, not the
rendered artwork), which this script installs; every file is
listed with its SHA-256 in ``photos.json``. The images stay in the cache folder, never in git.

Why it is built this way (each point closes a shortcut a detector would otherwise learn):
- *aligned*: every fake tile is a real tile passed through a generator, so content is the same;
- *same format*: a real tile and all its fakes are stored with one format and quality, drawn at
  random per tile (PNG, JPEG 95, JPEG 85);
- *native resolution*: large photos are downscaled once, before tiling, and the fakes are made
  from the downscaled tile; no class is resized alone;
- *no edge tell*: generators see 16 pixels of context around each tile and only the inner tile
  is kept, so fakes carry no padding artefacts at their borders;
- *splits by source photo* (train / calib / test; stereo pairs share a group) and the families
  ``ae_pixelshuffle`` and ``vit_patch`` are made for the test split only, so they are never seen
  in training.

Layout: ``tiles/<split>/0_real/<group>__<k>.<ext>`` and ``tiles/<split>/1_fake/<family>/...``, the
``0_real``/``1_fake`` layout that ``trustgen detector eval --data`` and ``train`` read.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path

from .folders import group_bucket
from .generators import FAMILIES, generate, train_generator

HELD_OUT_FAMILIES = ("ae_pixelshuffle", "vit_patch")
SPLITS = ("train", "calib", "test")
TILE = 256
MARGIN = 16  # generators see this much context around a tile, so no fake shows padding edges
MAX_SIDE = 1600  # longer photos are downscaled to this before tiling (both classes alike)
TILES_PER_PHOTO = {"train": 12, "calib": 24, "test": 12}
STORAGE = (("png", None), ("png", None), ("jpeg", 95), ("jpeg", 85))
DEBIAN_PACKAGES = ("mate-backgrounds", "opencv-doc", "lomiri-wallpapers-16.04",
                   "lomiri-wallpapers-20.04", "plasma-workspace-wallpapers")

_OPENCV = "/usr/share/doc/opencv-doc/examples/"
_MATE = "/usr/share/backgrounds/mate/nature/"
_LOMIRI = "/usr/share/backgrounds/"
_PLASMA = "/usr/share/wallpapers/"
#: group name -> photo paths; ``{site}`` is the venv's site-packages. Photos of one scene
#: (stereo pairs, viewpoint pairs) share a group so they never straddle a split.
PHOTO_GROUPS = {
    **{f"skimage-{n}": [f"{{site}}/skimage/data/{n}.png"] for n in (
        "astronaut", "camera", "chelsea", "coffee", "brick", "grass", "gravel", "moon", "coins",
        "ihc")},
    "skimage-rocket": ["{site}/skimage/data/rocket.jpg"],
    "skimage-retina": ["{site}/skimage/data/retina.jpg"],
    "skimage-hubble": ["{site}/skimage/data/hubble_deep_field.jpg"],
    "skimage-motorcycle": ["{site}/skimage/data/motorcycle_left.png",
                           "{site}/skimage/data/motorcycle_right.png"],
    "sklearn-china": ["{site}/sklearn/datasets/images/china.jpg"],
    "sklearn-flower": ["{site}/sklearn/datasets/images/flower.jpg"],
    "matplotlib-grace_hopper": ["{site}/matplotlib/mpl-data/sample_data/grace_hopper.jpg"],
    **{f"mate-{n.lower()}": [f"{_MATE}{n}.jpg"] for n in (
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
        "Storm", "TwoWings", "Wood", "YellowFlower")},
    **{f"opencv-{n}": [f"{_OPENCV}data/{n}.jpg"] for n in (
        "apple", "baboon", "building", "butterfly", "fruits", "home", "messi5", "orange",
        "squirrel_cls", "HappyFish", "stuff", "board")},
    "opencv-aero": [f"{_OPENCV}data/aero1.jpg", f"{_OPENCV}data/aero3.jpg"],
    "opencv-leuven": [f"{_OPENCV}data/leuvenA.jpg", f"{_OPENCV}data/leuvenB.jpg"],
    "opencv-aloe": [f"{_OPENCV}data/aloeL.jpg", f"{_OPENCV}data/aloeR.jpg"],
    "opencv-basketball": [f"{_OPENCV}data/basketball1.png", f"{_OPENCV}data/basketball2.png"],
    "opencv-graf": [f"{_OPENCV}data/graf1.png", f"{_OPENCV}data/graf3.png"],
    "opencv-rubberwhale": [f"{_OPENCV}data/rubberwhale1.png", f"{_OPENCV}data/rubberwhale2.png"],
    "opencv-plant": [f"{_OPENCV}alphamat/input_images/plant.jpg"],
    **{f"opencv-hfs{i}": [f"{_OPENCV}hfs/data/00{i}.jpg"] for i in range(3)},
    **{f"opencv-scenetext{i}": [f"{_OPENCV}text/scenetext0{i}.jpg"] for i in range(1, 7)},
    **{f"lomiri-{n.split('_by_')[0].lower()}": [f"{_LOMIRI}{n}.jpg"] for n in (
        "Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
        "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
        "analogpattern_by_Peter_Nerlich", "free_by_Peter_Nerlich",
        "friends_by_Aitzol_Berasategi", "greentock_by_Peter_Nerlich",
        "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
        "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi",
        "Infinite-Sea_by_Aury88", "Kleiber_by_Lukas_Baubkus")},
    **{f"plasma-{n.lower()}": [f"{_PLASMA}{n}/contents/images/2560x1600.jpg"] for n in (
        "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey", "Kite",
        "OneStandsOut", "Path", "summer_1am")},
}


def split_of(group: str) -> str:
    """A stable split from the group name alone: 60% train, 20% calib, 20% test."""
    h = group_bucket(group, 10)
    return "train" if h < 6 else "calib" if h < 8 else "test"


def _site_packages() -> str:
    import sklearn

    return str(Path(sklearn.__file__).parent.parent)


def install_debian_photos() -> None:
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES],
                   check=True, stdout=subprocess.DEVNULL)


def collect_photos(groups: dict[str, list[str]] | None = None) -> list[dict]:
    """Every available source photo: group, split, size, SHA-256; missing ones are skipped."""
    from PIL import Image

    site = _site_packages()
    found = []
    for group, paths in (PHOTO_GROUPS if groups is None else groups).items():
        for raw in paths:
            path = Path(raw.format(site=site))
            if not path.is_file():
                continue
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                size = img.size
            found.append({"group": group, "split": split_of(group), "path": str(path),
                          "sha256": hashlib.sha256(data).hexdigest(), "size": list(size)})
    return found


def load_photo(path: str):
    """RGB uint8 array, downscaled (antialiased) so its longer side is at most ``MAX_SIDE``."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        scale = MAX_SIDE / max(img.size)
        if scale < 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
        return np.asarray(img)


def tiles_of(photo, count: int, rng):
    """Up to ``count`` non-overlapping native-resolution tiles with ``MARGIN`` pixels of context
    on every side, in random order."""
    h, w = photo.shape[:2]
    m = MARGIN
    spots = [(y, x) for y in range(0, h - TILE - 2 * m + 1, TILE)
             for x in range(0, w - TILE - 2 * m + 1, TILE)]
    rng.shuffle(spots)
    return [photo[y:y + TILE + 2 * m, x:x + TILE + 2 * m] for y, x in spots[:count]]


def encode(tile, storage: tuple[str, int | None]) -> bytes:
    from PIL import Image

    fmt, quality = storage
    buf = io.BytesIO()
    if fmt == "png":
        Image.fromarray(tile).save(buf, "PNG")
    else:
        Image.fromarray(tile).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _trained(path: Path, family: str, photos, *, steps: int, seed: int, log):
    """The generator trained earlier into this cache folder, else a new one (trained, saved)."""
    import torch

    from .generators import build_generator

    if path.is_file():
        net = build_generator(family)
        net.load_state_dict(torch.load(path, weights_only=True))
        log(f"{family}: reusing {path}")
        return net.eval()
    net = train_generator(family, photos, steps=steps, seed=seed, log=log)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net


def build(out: Path, *, photos: list[dict], families=FAMILIES, held_out=HELD_OUT_FAMILIES,
          generator_steps: int = 400, tiles_per_photo=TILES_PER_PHOTO, seed: int = 0, log=print):
    """Train the generators on the training photos, then write aligned real/fake tiles."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {p["path"]: load_photo(p["path"]) for p in photos}
    train_arrays = [arrays[p["path"]] for p in photos if p["split"] == "train"]
    nets = {}
    for i, family in enumerate(families):
        steps = generator_steps if family != "vae_kl" else max(1, generator_steps * 2 // 3)
        nets[family] = _trained(out / "generators" / f"{family}-{steps}.pt", family,
                                train_arrays, steps=steps, seed=seed + i, log=log)
    counts: dict[str, int] = {}
    for photo in photos:
        split = photo["split"]
        stem = Path(photo["path"]).stem
        inner = slice(MARGIN, MARGIN + TILE)
        for k, ctx in enumerate(tiles_of(arrays[photo["path"]], tiles_per_photo[split], rng)):
            storage = STORAGE[rng.integers(len(STORAGE))]
            ext = ".png" if storage[0] == "png" else ".jpg"
            name = f"{photo['group']}__{stem}-{k}{ext}"
            items = [("0_real", ctx[inner, inner])] + [
                (f"1_fake/{f}", generate(nets[f], ctx)[inner, inner]) for f in families
                if split == "test" or f not in held_out
            ]
            for folder, img in items:
                dest = out / "tiles" / split / folder / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(encode(img, storage))
                counts[f"{split}/{folder}"] = counts.get(f"{split}/{folder}", 0) + 1
    manifest = {"photos": photos, "families": list(families), "held_out_families": list(held_out),
                "tile": TILE, "margin": MARGIN, "max_side": MAX_SIDE,
                "storage": [list(s) for s in STORAGE],
                "generator_steps": generator_steps, "seed": seed, "counts": counts}
    (out / "photos.json").write_text(json.dumps(manifest, indent=1))
    log(f"wrote {sum(counts.values())} tiles to {out / 'tiles'}: {json.dumps(counts)}")
    return manifest


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(".detector-data"))
    ap.add_argument("--install-debian", action="store_true",
                    help=f"apt-get install {' '.join(DEBIAN_PACKAGES)} first (needs root)")
    ap.add_argument("--generator-steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    if args.install_debian:
        install_debian_photos()
    photos = collect_photos()
    by_split = {s: sorted({p["group"] for p in photos if p["split"] == s}) for s in SPLITS}
    print(f"{len(photos)} photos in {sum(map(len, by_split.values()))} groups: "
          + ", ".join(f"{s} {len(g)}" for s, g in by_split.items()), flush=True)
    build(args.out, photos=photos, generator_steps=args.generator_steps,
          log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    sys.exit(main())
