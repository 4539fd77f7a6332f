"""Held-out test families from trustgen's embedded default model (a diffusers LDMPipeline).

    python -m detectors.sdedit [--data .detector-data] [--model trustgen/models/default]

For every real test tile it writes the same tile through the default model: a plain round trip
through its latent autoencoder (``default_vae``) and SDEdit img2img at strengths 0.25, 0.5 and
0.75 (``default_sdedit25`` ...: noise the tile's latents to that fraction of the DDIM schedule
and denoise back; the higher the strength, the more the model repaints). Each fake is stored in
the format and JPEG quality of its real tile. These families are written for the test split
only, so they are never seen in training.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

PAD = 32  # reflected context around a tile, so the fake's kept centre shows no padding edges
STRENGTHS = (0.0, 0.25, 0.5, 0.75)


def family_name(strength: float) -> str:
    return "default_vae" if strength == 0 else f"default_sdedit{round(strength * 100)}"


def storage_of(path: Path) -> tuple[str, int | None]:
    """The format and JPEG quality a tile was stored with (the qualities data.py uses)."""
    from PIL import Image

    from .data import STORAGE

    with Image.open(path) as img:
        if img.format == "PNG":
            return ("png", None)
        tables = img.quantization
    for fmt, q in STORAGE:
        if fmt == "jpeg":
            buf = io.BytesIO()
            Image.new("RGB", (8, 8)).save(buf, "JPEG", quality=q)
            if Image.open(io.BytesIO(buf.getvalue())).quantization == tables:
                return ("jpeg", q)
    raise ValueError(f"{path}: JPEG quality not one of data.STORAGE")


def img2img(pipe, tile, strength: float, *, steps: int = 25, seed: int = 0):
    """SDEdit on one RGB uint8 tile; ``strength`` 0 is the autoencoder round trip alone."""
    import numpy as np
    import torch

    vae, unet, sched = pipe.vqvae, pipe.unet, pipe.scheduler
    a = np.pad(tile, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="reflect")
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1
    scale = vae.config.scaling_factor
    with torch.inference_mode():
        z = vae.encode(x).latent_dist.mode() * scale
        if strength > 0:
            sched.set_timesteps(steps)
            timesteps = sched.timesteps[int(steps * (1 - strength)):]
            noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(seed))
            z = sched.add_noise(z, noise, timesteps[:1])
            for t in timesteps:
                eps = unet(sched.scale_model_input(z, t), t).sample
                z = sched.step(eps, t, z, eta=0.0).prev_sample
        y = vae.decode(z / scale).sample[0]
    out = ((y.permute(1, 2, 0).numpy() + 1) * 127.5 + 0.5).clip(0, 255).astype(np.uint8)
    return out[PAD:PAD + tile.shape[0], PAD:PAD + tile.shape[1]]


def add_families(data: Path, model: Path, *, strengths=STRENGTHS, split: str = "test",
                 log=print) -> dict[str, int]:
    import numpy as np
    from diffusers import DiffusionPipeline
    from PIL import Image

    from .data import encode

    pipe = DiffusionPipeline.from_pretrained(model)
    reals = sorted((data / "tiles" / split / "0_real").iterdir())
    counts = {}
    for k, real in enumerate(reals):
        with Image.open(real) as img:
            tile = np.asarray(img.convert("RGB"))
        storage = storage_of(real)
        for strength in strengths:
            fam = family_name(strength)
            dest = data / "tiles" / split / "1_fake" / fam / real.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(encode(img2img(pipe, tile, strength, seed=k), storage))
            counts[fam] = counts.get(fam, 0) + 1
        if k % 10 == 0:
            log(f"{k + 1}/{len(reals)} tiles")
    manifest_path = data / "photos.json"
    manifest = json.loads(manifest_path.read_text())
    weights = {str(f.relative_to(model)): hashlib.sha256(f.read_bytes()).hexdigest()
               for f in sorted(model.rglob("*.safetensors"))}
    manifest["default_model"] = {"path": str(model), "sha256": weights, "families": sorted(counts),
                                 "strengths": list(strengths), "split": split}
    manifest["held_out_families"] = sorted(set(manifest["held_out_families"]) | set(counts))
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return counts


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(".detector-data"))
    ap.add_argument("--model", type=Path,
                    default=Path(__file__).parents[1] / "trustgen" / "models" / "default")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(add_families(args.data, args.model, log=lambda m: print(m, flush=True)))


if __name__ == "__main__":
    sys.exit(main())
