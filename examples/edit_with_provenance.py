"""Inpaint part of a photo and keep its provenance: the edit names the photo it started from.

Run: ``python examples/edit_with_provenance.py MODEL PHOTO MASK OUTPUT.png``

MODEL is a local diffusers inpainting pipeline folder (``StableDiffusionInpaintPipeline`` or
its SDXL version, saved with ``save_pretrained``); PHOTO is the source, ideally one that already
carries content credentials (a camera's, or one signed with ``trustgen sign``), which stay in
the chain; MASK is white where the photo is regenerated. The output is watermarked and signed:
its manifest has the photo as parent ingredient, the mask as an input, and a ``c2pa.edited``
action whose region of interest is the generated rectangle. Verification then reads all that back.
"""

from __future__ import annotations

import sys

from trustgen import TrustedPipeline, TrustgenError, verify


def main(model: str, photo: str, mask: str, output: str) -> int:
    pipe = TrustedPipeline.from_pretrained(model, progress_bar=False)
    (edited,) = pipe("a red door", image=photo, mask_image=mask, strength=1.0,
                     num_inference_steps=2, seed=1)
    edited.save(output)
    prov = edited.provenance
    print(f"{output}: {prov.task} of {photo} (sha256 {prov.source_sha256[:12]}...) "
          f"by {prov.model_id}, region {prov.region}, content id {prov.content_id}")

    verdict = verify(output)
    c2pa = verdict.evidence.c2pa
    print(f"verdict: {verdict.label} (C2PA {c2pa.state}; {c2pa.digital_source_type.rsplit('/', 1)[-1]})")
    for ingredient in c2pa.ingredients:
        print(f"  ingredient {ingredient.title}: {ingredient.relationship}"
              + (f", its own manifest signed by {ingredient.signer}" if ingredient.has_manifest else ""))
    for reason in verdict.reasons:
        print(f"  - {reason.text}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__.split("\n\n")[1])
    try:
        sys.exit(main(*sys.argv[1:]))
    except TrustgenError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
