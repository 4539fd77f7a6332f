"""``trustgen generate``: run a model, and write only watermarked, signed images."""

from __future__ import annotations

from pathlib import Path

import click

from ..media import encodable_formats
from ._render import echo, json_line, table


@click.command("generate")
@click.argument("prompt", required=False)
@click.option("--model", "model", type=click.Path(path_type=Path), default=None,
              help="Local diffusers pipeline folder (model_index.json). Default: the embedded model.")
@click.option("-n", "--num-images", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--steps", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="Sampler steps.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None,
              help="Seed of the first image; image i uses seed+i. Default: random, recorded.")
@click.option("--guidance", type=float, default=None, help="Guidance scale (text-to-image models).")
@click.option("--height", type=int, default=None, help="Height (text-to-image models).")
@click.option("--width", type=int, default=None, help="Width (text-to-image models).")
@click.option("--image", "source", type=click.Path(path_type=Path), default=None, metavar="SRC",
              help="Source image to edit (img2img, inpainting, instruction-editing models); its "
                   "content credentials stay in the chain.")
@click.option("--mask", type=click.Path(path_type=Path), default=None, metavar="MASK",
              help="Inpainting mask, the source's size: white where the image is regenerated.")
@click.option("--strength", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="How much of the source an edit regenerates (default: the model's own).")
@click.option("--control-image", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Control image of a ControlNet model (edges, depth, pose).")
@click.option("--device", default=None, metavar="DEVICE",
              help="Torch device to run the model on (cpu, cuda, cuda:1, mps). Default: cpu.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("trustgen-output"),
              show_default=True, help="Output folder.")
@click.option("--format", "fmt", type=click.Choice(encodable_formats()), default="png",
              show_default=True)
@click.option("--tsa-url", default=None, metavar="URL",
              help="RFC 3161 time-stamp authority for every signature (default: [signing] tsa_url "
                   "of the settings file, else none).")
@click.option("--record-prompt", is_flag=True,
              help="Store the prompt itself in the credentials (default: only its SHA-256).")
@click.option("--store", "store_url", default=None, metavar="URL|FILE",
              help="Manifest store to register every image in (default: [store] url of the "
                   "settings file, else manifests.db in $TRUSTGEN_HOME).")
@click.option("--no-register", is_flag=True, help="Do not register the images in a manifest store.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image.")
def generate_command(prompt, model, num_images, steps, seed, guidance, height, width, source,
                     mask, strength, control_image, device, out_dir, fmt, tsa_url, record_prompt,
                     store_url, no_register, overwrite, as_json):
    """Generate images, or edit one (--image, --mask); each is watermarked, signed (C2PA),
    registered in the manifest store, then written atomically. A store that cannot be used is
    a warning: the images are kept."""
    import secrets
    import warnings

    from ..generate import RegistrationWarning, TrustedPipeline
    from ._config import settings
    from ._identity import local_identity
    from ..media import check_writable, extension_for

    seed = secrets.randbits(31) if seed is None else seed
    names = [out_dir / f"image-{seed + i}{extension_for(fmt)}" for i in range(num_images)]
    for path in names:  # refuse before minutes of sampling, not after
        check_writable(path, overwrite=overwrite)
    tsa_url = tsa_url or settings().tsa_url
    # the identity first: an encrypted key asks for its passphrase before minutes of sampling
    identity = local_identity()
    if tsa_url:  # ask the authority once now: one that fails, fails before the model loads
        identity.signer(tsa_url=tsa_url)
    pipe = TrustedPipeline.from_pretrained(model, record_prompt=record_prompt, identity=identity,
                                           tsa_url=tsa_url, register=not no_register,
                                           store=store_url or settings().store_url,
                                           device=device, progress_bar=not as_json)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RegistrationWarning)
        images = pipe(prompt, num_images=num_images, num_inference_steps=steps, seed=seed,
                      guidance_scale=guidance, height=height, width=width, output_format=fmt,
                      image=source, mask_image=mask, strength=strength,
                      control_image=control_image)
    for w in caught:  # the images are signed: write them, and say what was not done
        if issubclass(w.category, RegistrationWarning):
            echo(f"trustgen: warning: {w.message}", err=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    rows = []
    for path, result in zip(names, images):
        result.save(path, overwrite=overwrite)
        prov = result.provenance
        if as_json:
            json_line({"path": str(path), **prov.to_dict(), "registered": result.registered})
        rows.append((path, prov.content_id, prov.seed, f"{prov.width}x{prov.height}", prov.model_id,
                     "yes" if result.registered else "no"))
    if not as_json:
        table(rows, ("file", "content id", "seed", "size", "model", "registered"))
        click.echo()
        stamped = f", time-stamped by {tsa_url}" if tsa_url else ""
        echo(f"{len(rows)} watermarked, signed image(s){stamped} in {out_dir.resolve()}")
