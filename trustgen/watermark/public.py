"""The public layer of trustgen's mark: that a mark is there, and whose, read without any key.

Every trustgen mark carries, beside the keyed payload (content id and tag, unreadable and
unforgeable without the issuer's key), a public layer: the issuer id, 24 bits of a hash of the
issuer's watermark key (``payload.issuer_id``), and a 24-bit public check of it, convolutionally
coded on their own tile cells with a public layout (``tiled.py``). A verifier that holds no key
decodes it after the same geometric registration as the keyed reader and tests the check: under
"no trustgen mark" a decoded check matches its issuer id in ``n - d`` of 24 places with
probability ``P(Binom(24, 1/2) <= d)``, multiplied by the registrations decoded (``tiled.DECODES``),
so an exact match is p = 2.4e-7 and a reading at ``FALSE_ALARM`` (1e-6) is a false alarm at most
that often.

What it does not say: the layout is public, so anyone can write a public layer naming any issuer
id (or copy one); 24 bits can collide between issuers. It is a lead -- "a trustgen watermark,
claiming issuer X" -- to ask that issuer's manifest repository for the rest; only the issuer's key
confirms the content id and its tag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tiled
from .payload import FALSE_ALARM


@dataclass(frozen=True)
class PublicReading:
    """The public layer of one image: ``present`` when ``p_value <= max_p_value``; ``issuer`` (6
    hex digits) is the id it names, reported only when present; ``p_value`` is 1.0 for an image
    too small to read (shorter side under 64 px)."""

    present: bool
    p_value: float
    issuer: str | None


def read(rgb: np.ndarray, max_p_value: float = FALSE_ALARM) -> PublicReading:
    """The public layer of a uint8 RGB array, judged at ``max_p_value``."""
    found = tiled.read_public(rgb)
    if found is None:
        return PublicReading(False, 1.0, None)
    present = found.p_value <= max_p_value
    return PublicReading(present, found.p_value, found.content_id if present else None)
