"""Files signed for real with soft bindings: photos from scikit-image, watermarked by trustgen,
fingerprinted, signed by c2pa with a ``c2pa.soft-binding`` assertion for each and the
``c2pa.watermarked`` action, under a certificate chain made with ``cryptography``."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from credentials.pki import make_chain  # tests/ is on sys.path

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
PHOTOS = ("astronaut", "coffee", "chelsea")
KEY = b"store tests private watermark key"


@dataclass(frozen=True)
class Signed:
    path: Path
    data: bytes
    image: Image.Image  # the signed pixels
    content_id: str
    key: bytes
    manifest_id: str
    fingerprint: object


@dataclass(frozen=True)
class SignedSet:
    items: tuple[Signed, ...]
    trust: object  # TrustConfig trusting the chain's root
    signer: object
    folder: Path


def photo(name: str, side: int = 512) -> Image.Image:
    import numpy as np
    from skimage import data

    arr = getattr(data, name)()
    arr = np.stack([arr] * 3, -1) if arr.ndim == 2 else arr[:, :, :3]
    h, w = arr.shape[:2]
    s = min(h, w)
    return Image.fromarray(arr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]).resize(
        (side, side), Image.LANCZOS)


def definition(assertions: list[dict], actions: list[dict], title: str = "image.png") -> dict:
    return {
        "claim_generator_info": [{"name": "trustgen-tests", "version": "1"}],
        "title": title, "format": "image/png",
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + "trainedAlgorithmicMedia"}, *actions]}},
            *assertions],
    }


def sign_png(png: bytes, manifest: dict, signer) -> bytes:
    import c2pa

    from trustgen.credentials.trust import DEFAULT_EKUS

    ctx = c2pa.Context.from_dict({
        "trust": {"trust_config": "\n".join(DEFAULT_EKUS) + "\n"},
        "builder": {"thumbnail": {"enabled": True, "long_edge": 256, "format": "jpeg", "quality": "low"}},
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    })
    builder = c2pa.Builder(manifest, context=ctx)
    try:
        out = io.BytesIO()
        builder.sign(signer.c2pa_signer(), "image/png", io.BytesIO(png), out)
    finally:
        builder.close()
    return out.getvalue()


def active_manifest(data: bytes, mime: str = "image/png") -> dict:
    import c2pa

    with c2pa.Reader(mime, io.BytesIO(data)) as reader:
        report = json.loads(reader.json())
    return report["manifests"][report["active_manifest"]] | {"label": report["active_manifest"]}


def make_signed(folder: Path, photos=PHOTOS) -> SignedSet:
    from trustgen import fingerprint as fp
    from trustgen import softbinding as sb
    from trustgen import watermark as wm
    from trustgen.credentials import TrustConfig
    from trustgen.credentials.keys import load_signer

    chain = make_chain(folder / "chain", "es256")
    signer = load_signer(chain.key, chain.chain)
    items = []
    for i, name in enumerate(photos):
        cid = f"5eed0fc0ff{i:02x}"
        marked = wm.embed(photo(name), cid, key=KEY)
        print_ = fp.compute(marked)
        bindings = [sb.watermark_binding(cid, key=wm.key_label(KEY), scheme=wm.DEFAULT_SCHEME),
                    sb.fingerprint_binding(print_)]
        buf = io.BytesIO()
        marked.save(buf, "PNG")
        signed = sign_png(buf.getvalue(), definition([sb.assertion(b) for b in bindings],
                                                     [sb.watermarked_action()]), signer)
        path = folder / f"{name}.png"
        path.write_bytes(signed)
        items.append(Signed(path, signed, marked, cid, KEY, active_manifest(signed)["label"], print_))
    return SignedSet(tuple(items), TrustConfig.from_files([chain.root]), signer, folder)
