"""Shared code for the invisible-watermark (``imwatermark``) schemes.

The library imports torch on import, so the base install does not use it: dwtDct and dwtDctSvd
are embedded by a port of its encoders (the same OpenCV and PyWavelets calls in the same order,
so the marks are the library's to the last bit) and read by a vectorised re-implementation of
its readers (the library loops over 4x4 blocks in Python): the same bits, in a few milliseconds,
which matters because ``detect`` runs on every verified file. Tests check both against the
library. Only rivaGan, whose networks ship inside the library, needs it (``trustgen[generate]``).
"""

from __future__ import annotations

import threading

import numpy as np

#: The library's quantisation step for the U channel (its default ``scales``).
STEP = 36.0


_CACHE = threading.local()


def _u_blocks(rgb: np.ndarray) -> np.ndarray:
    """The U-channel haar LL band of a uint8 RGB image, as (n, 16) 4x4 blocks.

    Read in float, as the marks are written (diffusers and ``encode`` pass float images; in
    float OpenCV centres U on 0.5, not 128, and a uint8 read misplaces every quantisation cell).
    The haar step repeats PyWavelets' float32 arithmetic operation for operation, so the bits
    are the library's to the last rounding. Computed a band of whole blocks (8 image rows) at a
    time: the colour conversion is per pixel, so the blocks are the same, without the two float
    copies of the whole image (1.5 GB at 8192 x 8192). Three readers share one image per
    ``detect``, so the last result is kept (per thread, for the very same array object).
    """
    if min(rgb.shape[:2]) < 8:  # no whole block (OpenCV refuses an empty image)
        return np.empty((0, 16), dtype=np.float32)
    cached = getattr(_CACHE, "entry", None)
    if cached is not None and cached[0] is rgb:
        return cached[1]
    h, w = rgb.shape[:2]
    h, w = h // 8 * 8, w // 8 * 8
    rows = max(8, 2**18 // w // 8 * 8)
    blocks = np.empty((h // 8 * (w // 8), 16), dtype=np.float32)
    for y in range(0, h, rows):  # block rows are consecutive runs of blocks
        band = _band_blocks(rgb[y:min(h, y + rows), :w])
        at = y // 8 * (w // 8)
        blocks[at:at + len(band)] = band
    _CACHE.entry = (rgb, blocks)
    return blocks


def _band_blocks(rgb: np.ndarray) -> np.ndarray:
    """``_u_blocks`` of a band whose sides are whole multiples of 8 (whole blocks)."""
    import cv2

    u = cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2YUV)[:, :, 1]
    c = np.float32(np.sqrt(0.5))
    lo = u[0::2] * c + u[1::2] * c
    ll = lo[:, 0::2] * c + lo[:, 1::2] * c
    bh, bw = ll.shape[0] // 4, ll.shape[1] // 4
    return ll.reshape(bh, 4, bw, 4).swapaxes(1, 2).reshape(-1, 16)


#: Blocks scored at a time (bounds the float64 temporaries of a large image).
CHUNK = 2**14


def _scores(blocks: np.ndarray, score) -> np.ndarray:
    return np.concatenate([score(blocks[i:i + CHUNK]) for i in range(0, len(blocks), CHUNK)]
                          or [np.empty(0)])


def _vote(scores: np.ndarray, n_bits: int) -> np.ndarray | None:
    """Bits by majority over the blocks that carry them (block i carries bit i mod n); ``None``
    when there are fewer blocks than bits, as some bits would be read from nothing."""
    if scores.size < n_bits:
        return None
    idx = np.arange(scores.size) % n_bits
    means = np.bincount(idx, weights=scores, minlength=n_bits) / np.bincount(idx, minlength=n_bits)
    return (means * 255 > 127).astype(np.uint8)


def decode_dwtdct(rgb: np.ndarray, n_bits: int) -> np.ndarray | None:
    """Bits as ``WatermarkDecoder('bits', n).decode(float_bgr, 'dwtDct')`` reads them."""

    def score(blocks):
        val = np.abs(blocks[:, 1:]).max(axis=1)  # the largest AC coefficient's magnitude
        return ((val % STEP) > 0.5 * STEP).astype(np.float64)

    return _vote(_scores(_u_blocks(rgb), score), n_bits)


def decode_dwtdctsvd(rgb: np.ndarray, n_bits: int) -> np.ndarray | None:
    """Bits as ``WatermarkDecoder('bits', n).decode(float_bgr, 'dwtDctSvd')`` reads them.

    The largest singular value of a block's orthonormal DCT equals the block's own, so no DCT;
    it is the root of the largest eigenvalue of B^T B (half the cost of a batched SVD).
    """

    def score(blocks):
        b = blocks.reshape(-1, 4, 4).astype(np.float64)
        gram = np.einsum("nji,njk->nik", b, b)
        s0 = np.sqrt(np.maximum(np.linalg.eigvalsh(gram)[:, -1], 0.0))
        return ((s0 % STEP) > 0.5 * STEP).astype(np.float64)

    return _vote(_scores(_u_blocks(rgb), score), n_bits)


def encode(rgb: np.ndarray, bits, method: str) -> np.ndarray:
    """Embed ``bits`` as ``WatermarkEncoder().encode(float_bgr, method)`` does (float input, as
    diffusers' SDXL watermarker passes it)."""
    if method == "rivaGan":
        return _encode_rivagan(rgb, bits)
    import cv2
    import pywt

    bits = np.asarray([int(b) for b in bits])
    yuv = cv2.cvtColor(rgb[:, :, ::-1].astype(np.float32), cv2.COLOR_BGR2YUV)
    h, w = yuv.shape[0] // 4 * 4, yuv.shape[1] // 4 * 4
    ll, (dh, dv, dd) = pywt.dwt2(yuv[:h, :w, 1], "haar")  # U only: the library's scales
    bh, bw = ll.shape[0] // 4, ll.shape[1] // 4
    blocks = ll[:bh * 4, :bw * 4].reshape(bh, 4, bw, 4).swapaxes(1, 2).reshape(-1, 16)
    wm_bits = bits[np.arange(len(blocks)) % bits.size]
    marked = (_embed_max_dct if method == "dwtDct" else _embed_dct_svd)(blocks, wm_bits)
    ll[:bh * 4, :bw * 4] = marked.reshape(bh, bw, 4, 4).swapaxes(1, 2).reshape(bh * 4, bw * 4)
    yuv[:h, :w, 1] = pywt.idwt2((ll, (dv, dh, dd)), "haar")  # sic: the library swaps them
    out = cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)
    return np.clip(np.rint(out[:, :, ::-1]), 0, 255).astype(np.uint8)


def _quantise(value: np.ndarray, wm_bits: np.ndarray) -> np.ndarray:
    """The library's ``(v // scale + 0.25 + 0.5 * bit) * scale``, in its float32 arithmetic."""
    step = np.float32(STEP)
    return ((value // step + np.float32(0.25)) + (wm_bits * 0.5).astype(np.float32)) * step


def _embed_max_dct(blocks: np.ndarray, wm_bits: np.ndarray) -> np.ndarray:
    """dwtDct: the largest AC coefficient's magnitude of each block quantised onto its bit."""
    out = blocks.copy()
    rows = np.arange(len(out))
    pos = np.abs(out[:, 1:]).argmax(axis=1) + 1
    val = out[rows, pos]
    q = _quantise(np.abs(val), wm_bits)
    out[rows, pos] = np.where(val >= 0, q, -q)
    return out


def _embed_dct_svd(blocks: np.ndarray, wm_bits: np.ndarray) -> np.ndarray:
    """dwtDctSvd: the largest singular value of each block's DCT quantised onto its bit (one
    block at a time, with the library's calls, so every rounding is the library's)."""
    import cv2

    out = np.empty_like(blocks)
    for i, (block, bit) in enumerate(zip(blocks.reshape(-1, 4, 4), wm_bits)):
        u, s, v = np.linalg.svd(cv2.dct(block))
        s[0] = _quantise(s[0], bit)
        out[i] = cv2.idct(np.dot(u, np.dot(np.diag(s), v))).reshape(16)
    return out


def _encode_rivagan(rgb: np.ndarray, bits) -> np.ndarray:
    try:
        from imwatermark import WatermarkEncoder
    except ImportError as err:
        from ..errors import missing_extra

        raise missing_extra(err, "the rivaGan watermark scheme") from None
    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", [int(b) for b in bits])
    encoder.loadModel()
    out = encoder.encode(rgb[:, :, ::-1].copy(), "rivaGan")
    return np.clip(np.rint(out[:, :, ::-1]), 0, 255).astype(np.uint8)
