"""Training photographs for trustgen's default model, read from installed packages.

Nothing is downloaded and no image is committed: every photo below ships inside a
package the `train` extra installs, under a licence that allows reuse (CC0, public
domain, or CC BY 2.0 with the attribution kept in SOURCES.md and the model card).
Images whose package states no licence (skimage's moon, coins, motorcycle, ihc,
page) and drawings (horse, logo) are left out on purpose.

    python training/default_model/data.py --sources training/default_model/SOURCES.md
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Source:
    package: str  # import name of the package that ships the file
    path: str  # path inside that package
    licence: str
    credit: str


SOURCES = (
    Source("skimage", "data/astronaut.png", "Public domain (NASA)", "NASA, Eileen Collins"),
    Source("skimage", "data/coffee.png", "CC0", "Rachel Michetti / Pikolo Espresso Bar"),
    Source("skimage", "data/chelsea.png", "CC0", "Stefan van der Walt"),
    Source("skimage", "data/rocket.jpg", "Public domain (SpaceX release)", "SpaceX, DSCOVR launch"),
    Source("skimage", "data/hubble_deep_field.jpg", "Public domain (NASA)", "NASA/ESA Hubble XDF"),
    Source("skimage", "data/retina.jpg", "CC0 1.0", "Mikael Häggström"),
    Source("skimage", "data/camera.png", "CC0", "Lav Varshney"),
    Source("skimage", "data/brick.png", "CC0", "CC0Textures Bricks25"),
    Source("skimage", "data/grass.png", "CC0", "linolafett (DeviantArt Grass-01)"),
    Source("skimage", "data/gravel.png", "CC0", "CC0Textures Gravel04"),
    Source("skimage", "data/clock_motion.png", "Public domain (photographer's dedication)",
           "Stefan van der Walt"),
    Source("sklearn", "datasets/images/china.jpg", "CC BY 2.0",
           "danielbuechele, flickr.com/photos/danielbuechele/6061409035"),
    Source("sklearn", "datasets/images/flower.jpg", "CC BY 2.0",
           "vultilion, flickr.com/photos/vultilion/6056698931"),
    Source("matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
           "Public domain (U.S. Navy photograph)", "U.S. Navy, Grace Hopper"),
)


def source_file(src: Source) -> Path:
    spec = importlib.util.find_spec(src.package)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{src.package} is not installed: pip install -e '.[train]'")
    path = Path(spec.origin).parent / src.path
    if not path.is_file():
        raise SystemExit(f"{path}: missing from the installed {src.package}")
    return path


def load_images() -> list[np.ndarray]:
    """All training photos as float32 RGB arrays in [-1, 1], shape (3, H, W).

    Greyscale photos are repeated to three channels: their textures (brick, gravel,
    grass) are worth more to a tiny model than strict colour consistency.
    """
    out = []
    for src in SOURCES:
        rgb = np.asarray(Image.open(source_file(src)).convert("RGB"), dtype=np.float32)
        out.append(rgb.transpose(2, 0, 1) / 127.5 - 1.0)
    return out


def sources_markdown() -> str:
    rows = [
        "# Training images of the default model",
        "",
        "Written by `python training/default_model/data.py --sources SOURCES.md` from the",
        "installed packages; the images themselves are not in this repository.",
        "",
        "| package | path in package | size | SHA-256 | licence | credit |",
        "|---|---|---|---|---|---|",
    ]
    for src in SOURCES:
        path = source_file(src)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        w, h = Image.open(path).size
        rows.append(f"| {src.package} | `{src.path}` | {w}x{h} | `{digest}` | {src.licence} "
                    f"| {src.credit} |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, help="write the SOURCES.md table here")
    args = parser.parse_args()
    text = sources_markdown()
    if args.sources:
        args.sources.write_text(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
