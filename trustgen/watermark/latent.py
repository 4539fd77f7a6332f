"""The latent watermark: keyed initial latents that carry the content id, read back by inverting
the model.

**Design: Gaussian Shading.** A diffusion sampler turns standard-normal noise into an image, so
a mark in that noise costs no image quality if the noise stays standard normal. Each latent
element is ``|z| * sign``: ``|z|`` from the caller's seeded generator, the sign one coded bit
XOR one ChaCha20 keystream bit (a subkey of the watermark key), so the sign is a uniform bit
independent of ``|z|`` and every element is exactly N(0, 1). The payload is the post-hoc mark's
(``payload.pack_info``: version, 48-bit content id, keyed tag) under the same convolutional
code, each of its 257 varying coded bits spread over about 32 elements at keyed places (the 13
fixed by the version alone are not sent: their sign would be the same in every image of a key,
which a per-element classifier sees; the decoder is told them instead). Detection
(``read_image``): invert the model (``inversion.py``), sum each coded bit's soft values, and run
the same soft Viterbi decoder; the tag is checked as the post-hoc mark's, and the p-value pays
for every key and registration tried.

**Why Gaussian Shading rather than Tree-Ring or PRC.** Tree-Ring is zero-bit and changes the
noise's distribution; Gaussian Shading carries the payload, keeps each element exactly normal,
and decodes with the code trustgen already has. Its known weakness stays: under one key the
elements of a coded bit keep the same sign relation in every image, a second-order pattern (a
logistic regression on the signs of 1,000 draws per class reaches about 0.55 on fresh draws;
on values or sorted magnitudes it stays at chance: ``benchmarks/latent_watermark.py``). A PRC
(pseudorandom code) hides that too, at the cost of belief-propagation decoding; a per-image
nonce selecting the keystream was tried and dropped: it took a fifth of the elements, and the
default model recovers too little of its noise to spare them (``inversion.calibration``).
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

import numpy as np

from ..errors import WatermarkError
from . import payload
from .inversion import can_invert  # noqa: F401  (part of this module's interface)

#: Fewest latent elements per coded bit accepted: below this a mark would not read back.
MIN_SPREAD = 4
#: Soft values are clipped here so that no element dominates a coded bit's sum.
CLIP = 4.0
#: Soft value given to the coded bits the decoder knows (those fixed by the version alone).
KNOWN = 1e6


def _subkey(key: bytes, label: str) -> bytes:
    return hmac.new(key, f"trustgen latent v1/{label}".encode(), hashlib.sha256).digest()


@lru_cache(maxsize=16)
def _keystream(key: bytes, n: int) -> np.ndarray:
    """``n`` ChaCha20 keystream bits (uint8 0/1) under a subkey of ``key``."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    cipher = Cipher(algorithms.ChaCha20(_subkey(key, "signs"), bytes(16)), None)
    stream = cipher.encryptor().update(bytes((n + 7) // 8))
    return np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:n]


@lru_cache(maxsize=1)
def _known() -> tuple[np.ndarray, np.ndarray]:
    """(coded positions that vary with the content id or tag, the version's codeword).

    The code is linear, so a position is fixed by the version alone when no id or tag bit
    reaches it; such positions are not sent (their sign would be the same in every image of a
    key, which a classifier would see) and the decoder is told their value instead."""
    head = payload.VERSION_BITS
    varies = np.zeros(payload.CODED_BITS, dtype=bool)
    for i in range(head, payload.INFO_BITS):
        unit = [0] * payload.INFO_BITS
        unit[i] = 1
        varies |= np.asarray(payload.conv_encode(unit), bool)
    version = payload.int_to_bits(payload.VERSION, head) + [0] * (payload.INFO_BITS - head)
    return np.flatnonzero(varies), np.asarray(payload.conv_encode(version), np.uint8)


@lru_cache(maxsize=16)
def _layout(key: bytes, n: int) -> np.ndarray:
    """The coded position each of ``n`` elements carries: every sent position gets ``n //
    positions`` elements or one more, at keyed places."""
    sent = _known()[0]
    if n < MIN_SPREAD * sent.size:
        raise WatermarkError(f"a latent watermark needs at least {MIN_SPREAD * sent.size} "
                             f"latent elements; these latents have {n}")
    seed = int.from_bytes(_subkey(key, "layout"), "big")
    perm = np.random.default_rng(seed).permutation(n)
    slot = np.empty(n, dtype=np.int64)
    slot[perm] = sent[np.arange(n) % sent.size]
    return slot


def _signs(key: bytes, n: int, content_id: int) -> np.ndarray:
    """The +-1 sign of each element: its coded bit XOR its keystream bit, 0 -> positive."""
    code = np.asarray(payload.conv_encode(payload.pack_info(key, content_id)), np.uint8)
    return 1.0 - 2.0 * (code[_layout(key, n)] ^ _keystream(key, n))


def marked_noise(shape: tuple[int, ...], content_id: str, *, key: bytes,
                 generator: "torch.Generator") -> "torch.Tensor":  # noqa: F821
    """A float32 CPU tensor of ``shape``: ``|z| * sign``, ``z`` standard normal from
    ``generator``, the sign the payload's coded bit (``payload.pack_info``: version, content
    id, keyed tag) XOR a ChaCha20 keystream bit of ``key``.

    Each element is exactly standard normal: its sign is a uniform bit independent of ``|z|``
    (the keystream is pseudorandom and the content id random). A seed gives the same latents
    again.
    """
    import torch

    (key,) = payload.check_keys([key])
    cid = payload.parse_content_id(content_id)
    n = int(np.prod(shape))
    magnitude = torch.randn(tuple(shape), generator=generator, dtype=torch.float32).abs()
    signs = torch.from_numpy(_signs(key, n, cid).astype(np.float32))
    return magnitude * signs.reshape(tuple(shape))


def read_soft(soft: np.ndarray, key: bytes) -> tuple[int, int, int, float]:
    """(version, content id, tag bit errors, bit accuracy) from soft values, one per latent
    element (positive: the noise there is positive; larger: surer; 0: not seen).

    The bit accuracy is the share of seen elements whose sign agrees with the decoded payload
    re-encoded (what Gaussian Shading reports as bit accuracy)."""
    soft = np.asarray(soft, dtype=np.float64).ravel()
    slot = _layout(key, soft.size)
    flip = 1.0 - 2.0 * _keystream(key, soft.size)
    sums = _sums(soft, key)
    info = payload.viterbi_decode(_with_known(sums))
    version, cid, errors = payload.unpack_info(key, info)
    expected = 1.0 - 2.0 * np.asarray(payload.conv_encode(info), float)[slot]
    seen = soft != 0
    agree = (np.sign(soft * flip) == expected) & seen
    return version, cid, errors, float(agree.sum() / seen.sum()) if seen.any() else 0.0


def read(soft, keys) -> list[payload.Reading]:
    """One ``payload.Reading`` per key (raw p-values: the caller multiplies by attempts)."""
    out = []
    for key in payload.check_keys(keys):
        version, cid, errors, _ = read_soft(soft, key)
        p = payload.binomial_tail(errors, payload.TAG_BITS) if version == payload.VERSION else 1.0
        out.append(payload.Reading(p, payload.format_content_id(cid), errors))
    return out


def read_image(rgb: np.ndarray, models, keys, marking_size, max_p_value: float):
    """The best reading of the latent mark in an RGB array: (raw p-value, content id, tag bit
    errors, key, model name, attempts), over ``models`` (folders or loaded pipelines) and
    ``keys``; ``watermark.detect_latent`` judges it.

    Registrations, one inversion each: the whole image at the model's size (what ``generate``
    wrote, enlarged by ``marking_size``, or re-encoded, resized or filtered copies); and, for an
    unconditional model when the image is smaller than the model's image at the marking scale,
    a crop, placed on the latent grid where the keyed layout sums most coherently (which never
    looks at the keyed tag, so the choice costs no attempt). Attempts: keys x registrations x
    models, all counted before any is read; reading stops at the first that passes.
    """
    import os

    from . import inversion

    found = []
    for m in models:
        is_path = isinstance(m, (str, os.PathLike))
        pipe = inversion.load(str(m)) if is_path else m
        if not is_path and not can_invert(pipe):
            raise WatermarkError(f"cannot invert a {type(pipe).__name__} (see latent.can_invert)")
        found.append((str(m) if is_path else type(pipe).__name__,
                      _registrations(pipe, rgb, marking_size)))
    tries = len(keys) * sum(len(regs) for _, regs in found)
    best = None
    for name, registrations in found:
        for make in registrations:
            placements = make()
            for k in keys:
                version, cid, errors = _read_placed(placements, k)
                p = (payload.binomial_tail(errors, payload.TAG_BITS)
                     if version == payload.VERSION else 1.0)
                if best is None or p < best[0]:
                    best = (p, payload.format_content_id(cid), errors, k, name)
            if best[0] * tries <= max_p_value:
                return (*best, tries)
    return (*best, tries)


def _read_placed(placements, key: bytes) -> tuple[int, int, int]:
    """(version, id, tag errors) decoded at the placement whose coded-bit sums are most
    coherent (largest total magnitude: the keyed layout lines up). Choosing by that never
    looks at the keyed tag, so the choice costs no attempt; one decode per key."""
    best, best_fit = None, -1.0
    for soft in placements:
        fit = np.abs(_sums(soft, key)).sum()
        if fit > best_fit:
            best, best_fit = soft, fit
    return read_soft(best, key)[:3]


def _sums(soft: np.ndarray, key: bytes) -> np.ndarray:
    """Each coded bit's sum of its elements' clipped soft values, the keystream taken off."""
    soft = np.asarray(soft, dtype=np.float64).ravel()
    return np.bincount(_layout(key, soft.size),
                       weights=np.clip(soft, -CLIP, CLIP) * (1.0 - 2.0 * _keystream(key, soft.size)),
                       minlength=payload.CODED_BITS)


def _with_known(sums: np.ndarray) -> np.ndarray:
    """The coded bits' sums with the version-only positions set to their known value."""
    sent, version_code = _known()
    out = KNOWN * (1.0 - 2.0 * version_code.astype(np.float64))
    out[sent] = sums[sent]
    return out


def _registrations(pipe, rgb: np.ndarray, marking_size) -> list:
    """Functions, one per registration, each giving the soft-noise placements to try."""
    from . import inversion

    h, w = rgb.shape[:2]
    if inversion.is_text_conditioned(pipe):
        size = _text_model_size(pipe, w, h)
        return [lambda: [inversion.soft_noise(pipe, _resized(rgb, size))]]
    side = inversion.native_side(pipe)
    out = [lambda: [inversion.soft_noise(pipe, _resized(rgb, (side, side)))]]
    f = inversion.scale_factor(pipe)
    # a crop of what generate wrote (enlarged by marking_size), or of the model's own size
    for factor in dict.fromkeys((marking_size(side, side)[0] // side, 1)):
        crop = (round(w / factor), round(h / factor))
        if max(crop) < side and min(crop) >= 4 * f:
            out.append(lambda crop=crop: _crop_placements(pipe, rgb, crop, side))
    return out


def _resized(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    if (rgb.shape[1], rgb.shape[0]) == tuple(size):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.LANCZOS))


def _text_model_size(pipe, w: int, h: int) -> tuple[int, int]:
    """The size a text-to-image model made this image at: ``marking_size`` enlarged it by a
    whole factor; the one that brings it nearest the model's default size is undone, in
    multiples of the autoencoder's factor."""
    from . import inversion

    f, native = inversion.scale_factor(pipe), inversion.native_side(pipe)
    k = min(range(1, 9), key=lambda k: abs(min(w, h) / k - native))
    return max(f, round(w / k / f) * f), max(f, round(h / k / f) * f)


def _crop_placements(pipe, rgb: np.ndarray, crop: tuple[int, int], side: int) -> list:
    """The crop at model scale, edge-padded to the model's size and inverted; its whole latent
    cells placed at every offset on the model's latent grid (zeros elsewhere: not seen)."""
    from . import inversion

    canvas = np.pad(_resized(rgb, crop), ((0, side - crop[1]), (0, side - crop[0]), (0, 0)),
                    mode="edge")
    soft = inversion.soft_noise(pipe, canvas)
    f = inversion.scale_factor(pipe)
    ch, cw = crop[1] // f, crop[0] // f
    grid_h, grid_w = soft.shape[1:]
    out = []
    for dy in range(grid_h - ch + 1):
        for dx in range(grid_w - cw + 1):
            placed = np.zeros_like(soft)
            placed[:, dy:dy + ch, dx:dx + cw] = soft[:, :ch, :cw]
            out.append(placed)
    return out
