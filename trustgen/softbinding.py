"""Soft bindings as C2PA writes them: the ``c2pa.soft-binding`` assertion (C2PA 2.2 §18.10) and
the ``c2pa.watermarked`` action, built and parsed as plain dicts (no c2pa import here).

Two soft bindings name a trustgen image: its watermark (``WATERMARK_ALG``: the 48-bit content id
as the value, the key label and scheme in ``alg_params``) and its perceptual fingerprint
(``fingerprint.ALG``: the 32-byte PDQ hash). Values are base64, as the Soft Binding Resolution
API passes them; each assertion has one block whose empty scope means "the whole image".
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from . import fingerprint as fp
from .errors import InputError

LABEL = "c2pa.soft-binding"
#: trustgen's watermark as a soft-binding algorithm (reverse-domain form; not on the C2PA list).
WATERMARK_ALG = "org.trustgen.watermark.1"
#: trustgen's latent watermark (``watermark.latent``: marked initial latents, read by inverting
#: the model); the value is the same content id, so both marks name one manifest.
LATENT_ALG = "org.trustgen.latent.1"
#: The action that records that a watermark was embedded for a soft binding.
WATERMARKED_ACTION = "c2pa.watermarked"
#: Every algorithm trustgen reads and resolves, by kind (``/services/supportedAlgorithms``).
SUPPORTED = {"watermarks": (WATERMARK_ALG,), "fingerprints": (fp.ALG,)}
_CONTENT_ID_BYTES = 6


@dataclass(frozen=True)
class SoftBinding:
    """One soft-binding value: its algorithm, the base64 value, and the algorithm's parameters."""

    alg: str
    value: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def raw(self) -> bytes:
        return decode_value(self.value)


def encode_value(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_value(value: str) -> bytes:
    """A base64 value back to bytes; anything else is an ``InputError``."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InputError(f"soft-binding value {value!r:.40} is not base64") from None


def watermark_value(content_id: str) -> str:
    """The base64 value of a content id (12 hex digits)."""
    try:
        raw = bytes.fromhex(content_id)
    except (ValueError, TypeError):
        raw = b""
    if len(raw) != _CONTENT_ID_BYTES:
        raise InputError(f"content id {content_id!r} is not 12 hex digits")
    return encode_value(raw)


def content_id(value: str) -> str:
    """The content id (12 hex digits) a watermark value carries."""
    raw = decode_value(value)
    if len(raw) != _CONTENT_ID_BYTES:
        raise InputError(f"a {WATERMARK_ALG} value holds {_CONTENT_ID_BYTES} bytes, not {len(raw)}")
    return raw.hex()


def fingerprint_value(hash_: bytes) -> str:
    if len(hash_) * 8 != fp.BITS:
        raise InputError(f"a {fp.ALG} value holds {fp.BITS // 8} bytes, not {len(hash_)}")
    return encode_value(hash_)


def format_params(params: Mapping[str, str]) -> str:
    """``alg_params`` as C2PA has it (one string): ``key=public;scheme=trustgen``."""
    return ";".join(f"{k}={v}" for k, v in sorted(params.items()))


def parse_params(text: str | None) -> dict[str, str]:
    out = {}
    for part in (text or "").split(";"):
        k, sep, v = part.partition("=")
        if sep and k.strip():
            out[k.strip()] = v.strip()
    return out


def assertion(binding: SoftBinding) -> dict:
    """The ``c2pa.soft-binding`` assertion (label and data) for one value over the whole image."""
    data = {"alg": binding.alg, "blocks": [{"scope": {}, "value": binding.value}], "pad": []}
    if binding.params:
        data["alg_params"] = format_params(binding.params)
    return {"label": LABEL, "data": data}


def watermark_binding(content_id_: str, *, key: str, scheme: str) -> SoftBinding:
    """The watermark soft binding: ``key`` is the key label (``watermark.key_label``)."""
    return SoftBinding(WATERMARK_ALG, watermark_value(content_id_), {"key": key, "scheme": scheme})


def latent_binding(content_id_: str, *, key: str) -> SoftBinding:
    """The latent watermark's soft binding: ``key`` is the key label (``watermark.key_label``).
    Not in ``SUPPORTED``: reading it takes the model and the key, which the resolution API
    does not have."""
    return SoftBinding(LATENT_ALG, watermark_value(content_id_), {"key": key})


def fingerprint_binding(print_: "fp.Fingerprint") -> SoftBinding:
    return SoftBinding(fp.ALG, fingerprint_value(print_.hash), {"quality": str(print_.quality)})


def watermarked_action(software_agent: Mapping | None = None) -> dict:
    """The ``c2pa.watermarked`` action; it sits after ``c2pa.created`` in the actions list."""
    action = {"action": WATERMARKED_ACTION}
    if software_agent:
        action["softwareAgent"] = dict(software_agent)
    return action


def from_assertions(assertions: Iterable[Mapping]) -> tuple[SoftBinding, ...]:
    """Every soft-binding value of a manifest's assertions (c2pa's JSON report), each block one
    value; malformed assertions are skipped (they cannot be looked up)."""
    out = []
    for item in assertions:
        if not isinstance(item, Mapping) or item.get("label") != LABEL:
            continue
        data = item.get("data")
        if not isinstance(data, Mapping) or not isinstance(data.get("alg"), str):
            continue
        params = parse_params(data.get("alg_params") if isinstance(data.get("alg_params"), str) else None)
        for block in data.get("blocks") or ():
            value = block.get("value") if isinstance(block, Mapping) else None
            if isinstance(value, str) and value:
                out.append(SoftBinding(data["alg"], value, params))
    return tuple(out)
