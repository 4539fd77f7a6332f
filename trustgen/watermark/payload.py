"""What a watermark carries, and how a detector decides it is there.

**Format (trustgen's scheme, version 2).** 84 information bits: a 4-bit layout version, the
48-bit content id, and a 32-bit tag, HMAC-SHA256(key, version | id) truncated. They are encoded
with the rate-1/3, constraint-length-7 convolutional code (3GPP generators 133/171/165 octal,
zero-terminated: 270 coded bits), scrambled and spread over the image with the key
(``tiled.py``). Beside them, a public layer: the 24-bit issuer id (``issuer_id``, a hash of
the key) and a 24-bit public check of it, coded the same way (162 coded bits) at a public
layout, so a verifier without the key can tell a mark is there and whose it claims to be
(``public.py``). Version 1 (no public layer) is no longer read.

**Why a convolutional code.** The detector does not see bits but correlations: Gaussian-like
soft values with an SNR that falls smoothly as attacks get harsher. Soft-decision Viterbi is the
exact maximum-likelihood decoder for this code, gains about 2 dB over hard-decision algebraic
decoding (BCH, Reed-Solomon) at this block length, costs under a millisecond, and needs no
tables. The tag doubles as the code's error detector: a wrong decoding is caught because its tag
does not match, so no separate CRC is spent.

**Presence test and p-value.** Under "no watermark" (H0) the decoded id is some value and the
decoded tag bits are independent of the key's tag for it (HMAC is a PRF), so they agree in at
least ``n - d`` of ``n`` places with probability ``P(Binom(n, 1/2) <= d)``: that binomial tail
is the p-value, whatever the image. Every extra decode attempt (registration candidates, keys,
schemes) is one more chance of a false match, so the attempts multiply it (Bonferroni); the
default threshold ``FALSE_ALARM = 1e-6`` therefore bounds the false-alarm rate of the whole
search. An exact tag match gives 2**-32 = 2.3e-10 per attempt.

**What the key does and does not give (the copy attack).** The key keeps the payload secret
and stops anyone *computing* a mark for a new id. It does not stop anyone *copying* an existing
mark: trustgen's mark is one tile repeated over the image, so averaging the tiles of a single
marked image (a blur residual folded over the tile period; no key needed) estimates the whole
mark, which can then be added to any other photo at PSNR 40 dB, where ``detect`` reads the
original content id under the original key, or subtracted from the marked image to remove it
(``benchmarks/watermark_limits.py`` measures both). So a keyed watermark says "these pixels came
from, or were copied from, an image marked under this key" -- a lead back to the manifest or the
issuer's records -- and is not an authentication mechanism: authenticity
comes from the signed C2PA credentials, never from the mark alone.

**Image size.** Marks on images with a shorter side under 512 px use one-pixel cells and are
fragile: at 256x256 they come back unattacked and after crops, noise, brightness/contrast
changes, mirrors and aspect changes, and mostly after rotations, but hardly ever after JPEG 50,
a 50% downscale or the crop/downscale/JPEG chain (benchmarks/results/watermark.md, 256 rows;
``tiled.py`` says what was tried). ``watermark.marking_size`` gives the size to enlarge such an
image to before marking it.

**Fixed-capacity schemes** (invisible-watermark's dwtDct and dwtDctSvd) carry no code: the 48
id bits XORed with a keyed mask, then a 32-bit keyed tag of the id (``framed_bits``), tested the
same way.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path

from ..errors import InputError, WatermarkError

#: Bits of content id every scheme carries.
ID_BITS = 48
#: Default false-alarm probability: an unmarked image is called marked at most this often.
FALSE_ALARM = 1e-6
#: The documented public key used when no key is configured. Anyone can read and forge marks
#: made with it; it exists so an unkeyed install still marks its images.
PUBLIC_KEY = b"trustgen public watermark key, v1"
#: Shortest key accepted: 128 bits, so a key cannot be guessed.
MIN_KEY_BYTES = 16


def new_content_id() -> str:
    """A fresh random 48-bit content id as 12 lowercase hex digits."""
    return secrets.token_hex(ID_BITS // 8)


def parse_content_id(content_id: str) -> int:
    """The content id as an integer; exactly 12 hex digits, or a ``WatermarkError``."""
    text = str(content_id).strip().lower()
    if len(text) != ID_BITS // 4 or any(c not in "0123456789abcdef" for c in text):
        raise WatermarkError(
            f"content id {content_id!r} must be {ID_BITS // 4} hex digits ({ID_BITS} bits)"
        )
    return int(text, 16)


def format_content_id(value: int) -> str:
    return f"{value:0{ID_BITS // 4}x}"


def keyed_bits(key: bytes, label: str, n: int) -> list[int]:
    """``n`` pseudo-random bits from the key, separated per use by ``label``."""
    out: list[int] = []
    counter = 0
    while len(out) < n:
        block = hmac.new(key, f"{label}/{counter}".encode(), hashlib.sha256).digest()
        out.extend((byte >> (7 - i)) & 1 for byte in block for i in range(8))
        counter += 1
    return out[:n]


def int_to_bits(value: int, n: int) -> list[int]:
    return [(value >> (n - 1 - i)) & 1 for i in range(n)]


def bits_to_int(bits) -> int:
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return value


def binomial_tail(errors: int, n: int) -> float:
    """P(Binom(n, 1/2) <= errors): the chance that random bits match this well or better."""
    from scipy.special import bdtr  # lazily: scipy.special costs ~150 ms to import

    return float(bdtr(errors, n, 0.5))


def tag_bits(key: bytes, scheme: str, content_id: int, n: int) -> list[int]:
    """The presence tag: keyed and bound to the id, so a mark cannot be forged without the key."""
    return keyed_bits(key, f"tag/{scheme}/{format_content_id(content_id)}", n)


def framed_bits(key: bytes, scheme: str, content_id: int, tag_len: int) -> list[int]:
    """Masked id bits followed by the tag: what a fixed-capacity scheme embeds."""
    mask = keyed_bits(key, f"mask/{scheme}", ID_BITS)
    id_bits = [b ^ m for b, m in zip(int_to_bits(content_id, ID_BITS), mask)]
    return id_bits + tag_bits(key, scheme, content_id, tag_len)


def read_framed(bits, key: bytes, scheme: str, tag_len: int) -> tuple[int, int]:
    """(content id, tag bit errors) read from bits laid out by ``framed_bits``."""
    mask = keyed_bits(key, f"mask/{scheme}", ID_BITS)
    cid = bits_to_int(int(b) ^ m for b, m in zip(bits[:ID_BITS], mask))
    expected = tag_bits(key, scheme, cid, tag_len)
    errors = sum(int(a) != b for a, b in zip(bits[ID_BITS:ID_BITS + tag_len], expected))
    return cid, errors


def framed_readings(bits, keys, scheme: str, tag_len: int) -> list["Reading"]:
    """One ``Reading`` per key of bits laid out by ``framed_bits`` (dwtDct, dwtDctSvd)."""
    out = []
    for key in keys:
        cid, errors = read_framed(bits, key, scheme, tag_len)
        out.append(Reading(binomial_tail(errors, tag_len), format_content_id(cid), errors))
    return out


class Reading:
    """One scheme's reading of an image under one key: the raw p-value and what it decoded."""

    __slots__ = ("p_value", "content_id", "bit_errors")

    def __init__(self, p_value: float, content_id: str | None, bit_errors: int | None):
        self.p_value = p_value
        self.content_id = content_id
        self.bit_errors = bit_errors


# --- trustgen's own payload: version + id + keyed tag, convolutionally coded -----------------

#: Payload layout version carried in every trustgen mark.
VERSION = 2
VERSION_BITS = 4
#: Keyed tag bits: under "no mark" a decoded tag matches with probability 2**-32 per attempt.
TAG_BITS = 32
INFO_BITS = VERSION_BITS + ID_BITS + TAG_BITS
#: Rate-1/3 constraint-length-7 convolutional code (the 3GPP generators 133, 171, 165 octal).
_POLYS = (0o133, 0o171, 0o165)
_MEMORY = 6
CODED_BITS = (INFO_BITS + _MEMORY) * len(_POLYS)


def _parity(x: int) -> int:
    return bin(x).count("1") & 1


@lru_cache(maxsize=1)
def _trellis():
    """out[state, input] -> the 3 coded bits; state = the previous 6 input bits, newest lowest."""
    import numpy as np

    out = np.zeros((64, 2, len(_POLYS)), dtype=np.int8)
    for state in range(64):
        for u in (0, 1):
            reg = (u << _MEMORY) | state  # newest bit in the top position, as the octal taps read
            out[state, u] = [_parity(reg & g) for g in _POLYS]
    return out


def conv_encode(bits) -> list[int]:
    """Zero-terminated encoding of ``bits``: ``(len(bits) + 6) * 3`` coded bits."""
    trellis = _trellis()
    state, out = 0, []
    for u in list(bits) + [0] * _MEMORY:
        out.extend(int(b) for b in trellis[state, u])
        state = ((state << 1) | u) & 63
    return out


def viterbi_decode(soft) -> list[int]:
    """Maximum-likelihood info bits from soft values (positive means coded bit 0).

    Soft-decision Viterbi over the 64-state trellis: the exact ML decoder for this code, which
    is why a convolutional code rather than an algebraic one (BCH, Reed-Solomon) here: the
    detector's per-bit correlations are Gaussian-like soft values, and soft ML decoding gains
    about 2 dB over hard-decision algebraic decoding at this block length.
    """
    import numpy as np

    signs = 1 - 2 * _trellis().astype(np.float64)          # (64, 2, 3)
    soft = np.asarray(soft, dtype=np.float64).reshape(-1, len(_POLYS))
    steps = soft.shape[0]
    ns = np.arange(64)
    prev = np.stack([ns >> 1, (ns >> 1) | 32])            # (2, 64) predecessor states
    branch = (soft @ signs.reshape(128, -1).T).reshape(steps, 64, 2)[:, prev, ns & 1]
    metric = np.full(64, -1e30)
    metric[0] = 0.0
    choice = np.empty((steps, 64), dtype=bool)
    for t in range(steps):
        cand = metric[prev] + branch[t]                    # (2, 64)
        choice[t] = cand[1] > cand[0]
        metric = np.maximum(cand[0], cand[1])
    state, bits = 0, []
    for t in range(steps - 1, -1, -1):
        bits.append(state & 1)
        state = (state >> 1) | (32 if choice[t, state] else 0)
    return bits[::-1][: steps - _MEMORY]


#: Public layer (readable without the key): the issuer id, a fingerprint of the issuer's key, and
#: a public check of it; under "no mark" a decoded check matches with probability 2**-24 per try.
ISSUER_BITS = 24
CHECK_BITS = 24
PUBLIC_CODED_BITS = (ISSUER_BITS + CHECK_BITS + _MEMORY) * len(_POLYS)


def issuer_id(key: bytes) -> str:
    """The public issuer id of a watermark key: 6 hex digits of a hash of the key.

    It names the key, not the person: anyone can compute it from the key, no one can find the
    key from it, and 24 bits are a lookup hint (two issuers can share one), not an identity.
    """
    return hashlib.sha256(b"trustgen issuer v1" + key).hexdigest()[:ISSUER_BITS // 4]


def pack_public(issuer: str) -> list[int]:
    """issuer id | public check: the bits the public layer encodes."""
    bits = int_to_bits(int(issuer, 16), ISSUER_BITS)
    return bits + _public_check(bits)


def unpack_public(bits) -> tuple[str, int]:
    """(issuer id, check bit errors) of decoded public bits."""
    head = [int(b) for b in bits[:ISSUER_BITS]]
    errors = sum(a != int(b) for a, b in zip(_public_check(head), bits[ISSUER_BITS:]))
    return f"{bits_to_int(head):0{ISSUER_BITS // 4}x}", errors


def _public_check(head) -> list[int]:
    digest = hashlib.sha256(b"trustgen public check v1/" + bytes(head)).digest()
    return int_to_bits(int.from_bytes(digest[:4], "big"), 32)[:CHECK_BITS]


def pack_info(key: bytes, content_id: int) -> list[int]:
    """version | content id | tag(key, version, id), the bits trustgen's scheme encodes."""
    head = int_to_bits(VERSION, VERSION_BITS) + int_to_bits(content_id, ID_BITS)
    return head + _info_tag(key, head)


def unpack_info(key: bytes, bits) -> tuple[int, int, int]:
    """(version, content id, tag bit errors) of decoded info bits."""
    head = [int(b) for b in bits[: VERSION_BITS + ID_BITS]]
    errors = sum(a != int(b) for a, b in zip(_info_tag(key, head), bits[len(head):]))
    return bits_to_int(head[:VERSION_BITS]), bits_to_int(head[VERSION_BITS:]), errors


def _info_tag(key: bytes, head) -> list[int]:
    return keyed_bits(key, "tag/trustgen/" + "".join(map(str, head)), TAG_BITS)


def check_keys(keys) -> tuple[bytes, ...]:
    """``keys`` as bytes, duplicates dropped; ``WatermarkError`` for one that is not a key."""
    if isinstance(keys, (bytes, bytearray, str)):
        raise WatermarkError("watermark keys must be a list of keys, not a single key")
    out = []
    for i, key in enumerate(keys, 1):
        if not isinstance(key, (bytes, bytearray)):
            raise WatermarkError(f"watermark key {i} is a {type(key).__name__}, not bytes")
        if len(key) < MIN_KEY_BYTES:
            raise WatermarkError(
                f"watermark key {i} has {len(key)} bytes; a key needs at least {MIN_KEY_BYTES}")
        out.append(bytes(key))
    return tuple(dict.fromkeys(out))


def read_key_file(path) -> bytes:
    """A watermark key file: hex text, else raw bytes; at least 16 bytes either way."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise InputError(f"cannot read watermark key: {err.strerror or err}", path=path) from None
    text = data.strip()
    try:
        key = bytes.fromhex(text.decode("ascii")) if text else b""
    except (UnicodeDecodeError, ValueError):
        key = data
    if len(key) < MIN_KEY_BYTES:
        raise InputError(f"a watermark key file needs at least {MIN_KEY_BYTES} bytes (raw or hex)",
                         path=path)
    return key
