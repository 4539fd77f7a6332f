"""AI edits of photographs, signed the way TrustedPipeline signs an edit (contracts: "Edit
manifests"): the source as the ``parentOf`` ingredient with its own manifest kept, the mask as an
``inputTo`` ingredient "mask.png", then ``c2pa.edited`` with the AI source type, trustgen's
software agent naming the model, and the generated region as a region of interest in
``changes``. Signed with c2pa for real, by the session's development identity.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
INPAINT = IPTC + "compositeWithTrainedAlgorithmicMedia"
WHOLE = IPTC + "trainedAlgorithmicMedia"
MODEL = "tests/tiny-inpaint"


def rectangle(x, y, w, h, unit="pixel") -> dict:
    return {"type": "spatial", "shape": {"type": "rectangle", "unit": unit, "origin": {"x": x, "y": y},
                                         "width": w, "height": h}}


def circle(cx, cy, diameter) -> dict:
    return {"type": "spatial", "shape": {"type": "circle", "unit": "pixel",
                                         "origin": {"x": cx, "y": cy}, "width": diameter}}


def edit_action(regions=(), *, source_type=INPAINT, model=MODEL) -> dict:
    """The ``c2pa.edited`` action of the contract; ``regions`` are regions of interest."""
    from trustgen._version import __version__

    action = {
        "action": "c2pa.edited", "digitalSourceType": source_type,
        "softwareAgent": {"name": "trustgen", "version": __version__, "org.trustgen.model": model},
        "description": f"{'inpainted' if source_type == INPAINT else 'regenerated'} with {model}",
    }
    if regions:
        action["changes"] = [{"region": list(regions), "description": "generated region"}]
    return action


def mask_png(size: tuple[int, int], boxes) -> bytes:
    """A mask: white where the boxes ``(x, y, w, h)`` are, black elsewhere."""
    mask = np.zeros((size[1], size[0]), np.uint8)
    for x, y, w, h in boxes:
        mask[max(y, 0):y + h, max(x, 0):x + w] = 255
    buf = io.BytesIO()
    Image.fromarray(mask).save(buf, "PNG")
    return buf.getvalue()


def painted(photo: Image.Image, boxes, patch: Image.Image | None = None) -> Image.Image:
    """``photo`` with each box replaced by ``patch`` (resized) or a flat magenta: what an
    inpainting model's output looks like to the eye, enough to see the region on a screenshot."""
    out = photo.convert("RGB").copy()
    for x, y, w, h in boxes:
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, out.width), min(y + h, out.height)
        if x1 <= x0 or y1 <= y0:
            continue
        fill = (patch.resize((x1 - x0, y1 - y0)) if patch is not None
                else Image.new("RGB", (x1 - x0, y1 - y0), (200, 40, 160)))
        out.paste(fill, (x0, y0))
    return out


def signed_edit(identity, source: bytes, edited: Image.Image, *, regions=(), boxes=(),
                source_type=INPAINT, title="edited.jpg", source_title="photo.jpg",
                content_id: str | None = None) -> bytes:
    """``edited`` signed as an AI edit of ``source`` (a file's bytes, signed or not). A mask
    ingredient is added for an inpainting (from ``boxes``); ``content_id``: watermark first, as
    TrustedPipeline does."""
    from trustgen.credentials.sign import IngredientSource, sign_image
    from trustgen.media import encode_image, identify
    from trustgen.watermark import embed

    if content_id:
        edited = embed(edited, content_id, key=identity.watermark_key)
    ingredients = []
    if source_type == INPAINT and boxes:
        ingredients.append(IngredientSource(mask_png(edited.size, boxes), "png", "mask.png", "inputTo"))
    return sign_image(
        encode_image(edited, "jpeg"), "jpeg", identity.signer(),
        parent=IngredientSource(source, identify(source), source_title, "parentOf"),
        ingredients=ingredients, extra_actions=[edit_action(regions, source_type=source_type)],
        title=title)
