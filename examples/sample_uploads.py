"""Sample uploads for ``examples/moderation_worker.py``: one file for each kind of answer.

Run: ``python examples/sample_uploads.py OUT_DIR [--overwrite]``, then
``python examples/moderation_worker.py OUT_DIR/*``. The signed and watermarked samples use your
trustgen identity (``trustgen keys init``), so the ``moderation`` policy on this machine trusts
them; without one they are signed by a throwaway identity and read as an unknown signer.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

from trustgen import watermark
from trustgen.credentials import Identity
from trustgen.credentials.sign import sign_image
from trustgen.errors import TrustgenError
from trustgen.media import atomic_write, check_writable


def photo() -> Image.Image:
    """A smooth synthetic scene (no camera file ships with the repository)."""
    return Image.merge("RGB", [Image.radial_gradient("L"), Image.linear_gradient("L"),
                               Image.radial_gradient("L").rotate(90)]).resize((512, 512))


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def samples(identity: Identity) -> dict[str, bytes]:
    signer = identity.signer()
    marked = watermark.embed(photo(), "5eed0fc0ffee", key=identity.watermark_key)
    jpeg = encoded(photo(), "JPEG", quality=90)
    return {
        "plain-photo.jpg": jpeg,
        "signed-capture.jpg": sign_image(jpeg, "jpeg", signer, source_type="digitalCapture",
                                         title="signed-capture.jpg"),
        "ai-generated.png": sign_image(encoded(marked, "PNG"), "png", signer,
                                       source_type="trainedAlgorithmicMedia", title="ai-generated.png"),
        "stripped-repost.jpg": encoded(marked, "JPEG", quality=80),  # credentials gone, mark kept
        "truncated.jpg": jpeg[: len(jpeg) // 3],
    }


def main(out: Path, overwrite: bool = False) -> int:
    identity = Identity.find()
    with tempfile.TemporaryDirectory() as scratch:
        identity = identity or Identity.init(Path(scratch) / "identity")
        out.mkdir(parents=True, exist_ok=True)
        made = samples(identity)
        try:
            for name in made:
                check_writable(out / name, overwrite=overwrite)
        except TrustgenError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for name, data in made.items():
            atomic_write(out / name, data)
            print(out / name)
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--overwrite"]
    if len(args) != 1:
        sys.exit(__doc__)
    sys.exit(main(Path(args[0]), overwrite="--overwrite" in sys.argv[1:]))
