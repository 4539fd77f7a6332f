"""Hostile uploads built in the test: a decompression bomb, a truncated JPEG, a JPEG whose
C2PA APP11 box is malformed."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(side: int = 100_000) -> bytes:
    """A PNG claiming side x side RGB pixels (30 GB decoded) in a few KB: its rows of zeros."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * side) * 64, 9)  # the first rows; a decoder wants more
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def malformed_app11(signed_jpeg: bytes) -> bytes:
    """``signed_jpeg`` with its first C2PA APP11 segment damaged: a nested JUMBF box length far
    past the segment and 32 scrambled bytes in its middle (segment lengths left intact)."""
    start = signed_jpeg.find(b"\xff\xeb")
    assert start > 0, "not a JPEG with an APP11 segment"
    (length,) = struct.unpack(">H", signed_jpeg[start + 2:start + 4])
    out = bytearray(signed_jpeg)
    jumd = signed_jpeg.find(b"jumd", start + 20, start + 2 + length)
    assert jumd > 0
    out[jumd - 4:jumd] = b"\xff\xff\xff\xf0"
    middle = start + length // 2
    for i in range(middle, middle + 32):
        out[i] ^= 0x5A
    return bytes(out)
