"""Seed files and mutations for fuzzing trustgen with hostile input.

Shared by the property tests beside this file and the long-run driver (benchmarks/fuzz.py), so
both throw the same kinds of damage at trustgen. A mutation is ``f(data, rng) -> bytes`` driven
only by ``rng`` (a ``random.Random``): an input is reproduced from its seed file and the rng
seed alone. The damage follows what an uploader can do, and where parsers break: truncation,
bit flips, insertions and deletions, flips aimed inside the C2PA JUMBF boxes, PNG chunk and JPEG
segment edits (CRCs fixed or not), WebP and ISO-BMFF box edits, headers that claim other sizes,
and policies with hostile TOML. ``max_claim`` bounds the pixel count a header may claim below
trustgen's own limit (``media.MAX_PIXELS``): small in the test suite, the limit itself in the
long run, which runs each input in a process under a memory cap.
"""

from __future__ import annotations

import functools
import io
import math
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from trustgen.media import MAX_PIXELS, decodes, formats

Mutator = Callable[[bytes, random.Random], bytes]


@dataclass(frozen=True)
class Seed:
    name: str  # "<family>/<what>", e.g. "raster/png-48", "signed/jpeg-48"
    data: bytes = field(repr=False)

    @property
    def family(self) -> str:
        return self.name.split("/", 1)[0]


# --- seeds ---------------------------------------------------------------------------------------


def photo(size: int | tuple[int, int], seed: int = 0) -> Image.Image:
    """A photo-like RGB image: smooth gradients plus noise, so lossy codecs behave as on photos."""
    w, h = (size, size) if isinstance(size, int) else size
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    arr = np.stack([xx, yy, (xx + yy) / 2], -1) * 200 + rng.normal(0, 6, (h, w, 3)) + 20
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def psd_bytes(image: Image.Image) -> bytes:
    """A minimal uncompressed RGB Photoshop file (Pillow reads PSD but cannot write it)."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, h, w, 8, 3)
    planes = np.ascontiguousarray(rgb.transpose(2, 0, 1)).tobytes()
    return header + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + planes


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


#: Side of most seed images: under the 64 px trustgen's watermark reader needs, so that most
#: inputs cost a decode, not a watermark search; the 256 px seeds take the full path.
SMALL = 48


def raster_seeds(sizes: tuple[int, ...] = (SMALL, 256)) -> list[Seed]:
    """One small file per decodable format in trustgen's table and size, plus the variants
    decoders treat differently (modes, EXIF orientation, animation, progressive, 16-bit)."""
    Image.init()
    out = []
    for size in sizes:
        img = photo(size, seed=size)
        for fmt in formats(can_decode=True):
            if not decodes(fmt.name):  # its plugin is not installed here
                continue
            if fmt.pillow == "PSD":
                out.append(Seed(f"raster/psd-{size}", psd_bytes(img)))
            elif fmt.pillow in Image.SAVE:
                out.append(Seed(f"raster/{fmt.name}-{size}", _save(img, fmt.pillow)))
    img = photo(SMALL, seed=1)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate on display
    variants = {
        "png-RGBA": (img.convert("RGBA"), "PNG", {}),
        "png-L": (img.convert("L"), "PNG", {}),
        "png-P": (img.convert("P"), "PNG", {"transparency": 0}),
        "png-I16": (img.convert("L").convert("I;16"), "PNG", {}),
        "png-1": (img.convert("1"), "PNG", {}),
        "png-interlaced": (img, "PNG", {"interlace": 1}),
        "apng": (img, "PNG", {"save_all": True, "append_images": [photo(SMALL, seed=2)]}),
        "jpeg-L": (img.convert("L"), "JPEG", {}),
        "jpeg-CMYK": (img.convert("CMYK"), "JPEG", {}),
        "jpeg-progressive": (img, "JPEG", {"progressive": True}),
        "jpeg-exif-rotated": (img, "JPEG", {"exif": exif}),
        "webp-lossless": (img, "WEBP", {"lossless": True}),
        "webp-animated": (img, "WEBP", {"save_all": True, "append_images": [photo(SMALL, seed=2)]}),
        "gif-animated": (img.convert("P"), "GIF", {"save_all": True,
                                                   "append_images": [photo(SMALL, seed=2).convert("P")]}),
        "tiff-deflate": (img, "TIFF", {"compression": "tiff_adobe_deflate"}),
        "tiff-RGBA": (img.convert("RGBA"), "TIFF", {}),
    }
    for name, (image, pillow, options) in variants.items():
        out.append(Seed(f"raster/{name}", _save(image, pillow, **options)))
    return out


def signed_seeds(identity) -> list[Seed]:
    """Files signed with ``identity`` (trusted under the default policy on this machine): a
    capture in each signable format, and a generated image with trustgen's watermark and a
    manifest naming its content id."""
    from trustgen import watermark
    from trustgen.credentials import sign_generated, sign_image
    from trustgen.evidence import Provenance
    from trustgen.media import encodable_formats, encode_image, signable_formats

    signer = identity.signer()
    out = [Seed(f"signed/{fmt}-{SMALL}", sign_image(encode_image(photo(SMALL, seed=3), fmt), fmt,
                                                    signer, source_type="digitalCapture"))
           for fmt in encodable_formats() if fmt in signable_formats()]
    cid = "0123456789ab"
    marked = watermark.embed(photo(256, seed=4), cid, key=identity.watermark_key)
    prov = Provenance(content_id=cid, model_id="fuzz", model_sha256="0" * 64, pipeline="fuzz",
                      scheduler="none", steps=1, guidance_scale=None, seed=0, width=256,
                      height=256, prompt_sha256=None)
    out.append(Seed("signed/generated-png-256", sign_generated(encode_image(marked, "png"), "png",
                                                               prov, signer)))
    return out


def fixture_seeds(folder: Path, *, max_bytes: int = 200_000) -> list[Seed]:
    """The C2PA conformance files (read only) up to ``max_bytes``, and their manifests moved
    into small images: c2pa parses and checks the same JUMBF and signatures there, and the
    binding fails, at a fraction of the decoding cost."""
    out = []
    small_jpeg, small_png = _save(photo(SMALL, seed=5), "JPEG"), _save(photo(SMALL, seed=5), "PNG")
    for path in sorted(Path(folder).iterdir()):
        data = path.read_bytes()
        if len(data) <= max_bytes:
            out.append(Seed(f"fixture/{path.name}", data))
        if data.startswith(b"\xff\xd8"):
            app11 = b"".join(data[s:e] for s, e, m in jpeg_segments(data) if m == 0xEB)
            if app11:
                out.append(Seed(f"transplant/{path.name}", small_jpeg[:2] + app11 + small_jpeg[2:]))
        elif data.startswith(PNG_SIGNATURE):
            cabx = b"".join(data[s:e] for s, e in png_chunks(data) if data[s + 4:s + 8] == b"caBX")
            if cabx:
                at = png_chunks(small_png)[0][1]  # after IHDR
                out.append(Seed(f"transplant/{path.name}", small_png[:at] + cabx + small_png[at:]))
    return out


def bomb_seeds(limit: int = MAX_PIXELS) -> list[Seed]:
    """Small files that decode to ``limit`` pixels or claim more: the audit's classes (extreme
    aspect ratios, large flat images, headers that claim sizes their data does not hold)."""
    side = math.isqrt(limit)
    out = [
        Seed(f"bomb/png-1x{limit - 1}", png_flat(1, limit - 1)),
        Seed(f"bomb/png-{limit - 1}x1", png_flat(limit - 1, 1)),
        Seed(f"bomb/png-{side}x{side}", png_flat(side, side)),
        Seed(f"bomb/png-rgb-{side}x{side}", png_flat(side, side, colour=True)),
        Seed(f"bomb/png-over-limit-{side + 1}x{side + 1}", png_flat(side + 1, side + 1)),
    ]
    small = photo(16, seed=6)
    claims = {"jpeg": (8000, 8000), "gif": (8000, 8000), "bmp": (8000, 8000),
              "psd": (30000, 2000), "webp": (16383, 4096), "tiff": (side, side),
              "avif": (side, side)}
    for name, (w, h) in claims.items():
        fmt = next(f for f in formats(can_decode=True) if f.name == name)
        data = psd_bytes(small) if name == "psd" else _save(small, fmt.pillow)
        out.append(Seed(f"bomb/{name}-claims-{w}x{h}", set_dimensions(data, w, h)))
    flat = Image.new("L", (side, side))
    out.append(Seed(f"bomb/tiff-deflate-{side}x{side}",
                    _save(flat, "TIFF", compression="tiff_adobe_deflate")))
    webp = (16383, limit // 16383)  # WebP's widest
    out.append(Seed(f"bomb/webp-lossless-{webp[0]}x{webp[1]}",
                    _save(Image.new("RGB", webp), "WEBP", lossless=True, quality=0, method=0)))
    return out


def policy_seeds() -> list[Seed]:
    """The shipped policies' TOML."""
    from importlib.resources import files

    from trustgen.policy import shipped_policies

    return [Seed(f"policy/{name}", (files("trustgen.policies") / f"{name}.toml").read_bytes())
            for name in shipped_policies()]


# --- formats: just enough structure to aim at --------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each whole chunk (length, type, data, CRC) after the signature."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
        if end > len(data):
            break
        out.append((pos, end))
        pos = end
    return out


def png_chunk(kind: bytes, body: bytes, *, crc: int | None = None) -> bytes:
    crc = zlib.crc32(kind + body) if crc is None else crc
    return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")


def png_flat(w: int, h: int, *, colour: bool = False) -> bytes:
    """A ``w`` x ``h`` PNG of zeros, compressed as it streams (a few KB for any size)."""
    channels = 3 if colour else 1
    row = bytes(1 + w * channels)
    z, parts = zlib.compressobj(9), []
    rows_per_block = max(1, (1 << 22) // len(row))
    for start in range(0, h, rows_per_block):
        parts.append(z.compress(row * min(rows_per_block, h - start)))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if colour else 0, 0, 0, 0)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts)) + png_chunk(b"IEND", b"")


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(start, end, marker) of each marker segment up to and including the first SOS."""
    out, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        end = pos + 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if end > len(data):
            break
        out.append((pos, end, marker))
        if marker == 0xDA:
            break
        pos = end
    return out


def riff_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each chunk in a RIFF file (WebP), padding included."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        end = pos + 8 + int.from_bytes(data[pos + 4:pos + 8], "little")
        end += end & 1
        if end > len(data):
            break
        out.append((pos, end))
        pos = end
    return out


_CONTAINERS = {b"meta": 4, b"iprp": 0, b"ipco": 0, b"moov": 0, b"trak": 0, b"mdia": 0,
               b"minf": 0, b"stbl": 0, b"dinf": 0}


def bmff_boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each ISO-BMFF box (AVIF, HEIC), descending into the usual containers."""
    end = len(data) if end is None else end
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8]
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        out.append((pos, pos + size))
        if kind in _CONTAINERS:
            out += bmff_boxes(data, pos + header + _CONTAINERS[kind], pos + size)
        pos += size
    return out


#: Where C2PA data sits: JUMBF box types, manifest labels, and the chunks that carry them.
C2PA_MARKERS = (b"jumb", b"jumd", b"c2pa", b"c2cl", b"c2cs", b"c2ma", b"c2as", b"caBX", b"C2PA",
                b"\xff\xeb")


def c2pa_offsets(data: bytes, *, per_marker: int = 32) -> tuple[int, ...]:
    """Where the C2PA markers occur (the first ``per_marker`` of each)."""
    out = []
    for marker in C2PA_MARKERS:
        pos = data.find(marker)
        for _ in range(per_marker):
            if pos < 0:
                break
            out.append(pos)
            pos = data.find(marker, pos + 1)
    return tuple(out)


#: ``c2pa_offsets`` of the seed files, which every first mutation starts from.
_seed_offsets = functools.lru_cache(maxsize=1024)(c2pa_offsets)


def dimensions_at(data: bytes) -> list[tuple[str, int]]:
    """Header fields holding a width or height: (encoding, offset), the encoding one of
    ``>I`` ``>H`` ``<H`` ``<i`` (plain), ``vp8x`` (24-bit minus one), ``vp8l`` (14-bit
    fields minus one), ``vp8`` (14-bit), ``tiff<``/``tiff>`` (an IFD entry)."""
    out: list[tuple[str, int]] = []
    if data.startswith(PNG_SIGNATURE) and len(data) >= 24:
        out = [(">I", 16), (">I", 20)]
        for s, _ in png_chunks(data):
            if data[s + 4:s + 8] == b"fcTL":
                out += [(">I", s + 12), (">I", s + 16)]
    elif data.startswith(b"\xff\xd8"):
        for s, _, m in jpeg_segments(data):
            if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC):
                out += [(">H", s + 5), (">H", s + 7)]
    elif data.startswith(b"GIF8") and len(data) >= 13:
        out = [("<H", 6), ("<H", 8)]
        img = gif_image_descriptor(data)
        if img is not None:
            out += [("<H", img + 5), ("<H", img + 7)]
    elif data.startswith(b"BM") and len(data) >= 26:
        out = [("<i", 18), ("<i", 22)]
    elif data.startswith(b"8BPS") and len(data) >= 22:
        out = [(">I", 14), (">I", 18)]
    elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        for s, _ in riff_chunks(data):
            kind = data[s:s + 4]
            if kind == b"VP8X":
                out += [("vp8x", s + 12), ("vp8x", s + 15)]
            elif kind == b"VP8L":
                out.append(("vp8l", s + 9))
            elif kind == b"VP8 ":
                out += [("vp8", s + 14), ("vp8", s + 16)]
    elif data[:4] in (b"II*\x00", b"MM\x00*"):
        order = "<" if data[:2] == b"II" else ">"
        ifd = int.from_bytes(data[4:8], "little" if order == "<" else "big")
        if ifd + 2 <= len(data):
            count = int.from_bytes(data[ifd:ifd + 2], "little" if order == "<" else "big")
            for k in range(min(count, 512)):
                entry = ifd + 2 + 12 * k
                tag = int.from_bytes(data[entry:entry + 2], "little" if order == "<" else "big")
                if tag in (256, 257) and entry + 12 <= len(data):
                    out.append((f"tiff{order}", entry))
    else:
        for s, _ in bmff_boxes(data):
            if data[s + 4:s + 8] == b"ispe":
                out += [(">I", s + 12), (">I", s + 16)]
    return [(enc, off) for enc, off in out if off + _FIELD_BYTES.get(enc, 12) <= len(data)]


def gif_image_descriptor(data: bytes) -> int | None:
    """Offset of the first image descriptor, past the colour table and any extensions."""
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while pos < len(data) and data[pos] == 0x21:  # extension: label, then sub-blocks
        pos += 2
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    return pos if pos + 9 <= len(data) and data[pos] == 0x2C else None


_FIELD_BYTES = {">I": 4, "<i": 4, ">H": 2, "<H": 2, "vp8x": 3, "vp8l": 4, "vp8": 2}


def _put(data: bytearray, encoding: str, offset: int, value: int) -> None:
    if encoding in (">I", ">H", "<H", "<i"):
        bits = 8 * struct.calcsize(encoding)
        value = max(-(1 << (bits - 1)), min(value, (1 << (bits - 1)) - 1)) if "i" in encoding \
            else value % (1 << bits)
        struct.pack_into(encoding, data, offset, value)
    elif encoding == "vp8x":
        data[offset:offset + 3] = (max(value, 1) - 1 & 0xFFFFFF).to_bytes(3, "little")
    elif encoding == "vp8":
        struct.pack_into("<H", data, offset, value & 0x3FFF)
    elif encoding == "vp8l":  # the width: bits 0-13, minus one (the height follows it)
        word = int.from_bytes(data[offset:offset + 4], "little") & ~0x3FFF
        data[offset:offset + 4] = (word | ((max(value, 1) - 1) & 0x3FFF)).to_bytes(4, "little")
    else:  # a TIFF IFD entry: SHORT or LONG, value in the entry
        order = encoding[-1]
        data[offset + 2:offset + 8] = struct.pack(f"{order}HI", 4, 1)
        struct.pack_into(f"{order}I", data, offset + 8, value & 0xFFFFFFFF)


def set_dimensions(data: bytes, w: int, h: int) -> bytes:
    """``data`` with every width field set to ``w`` and height field to ``h`` (PNG CRCs fixed)."""
    out = bytearray(data)
    fields = dimensions_at(data)
    for k, (enc, off) in enumerate(fields):
        if enc.startswith("tiff"):
            tag = int.from_bytes(data[off:off + 2], "little" if enc == "tiff<" else "big")
            _put(out, enc, off, w if tag == 256 else h)
        elif enc == "vp8l":
            word = int.from_bytes(out[off:off + 4], "little") & ~((1 << 28) - 1)
            word |= ((max(w, 1) - 1) & 0x3FFF) | (((max(h, 1) - 1) & 0x3FFF) << 14)
            out[off:off + 4] = word.to_bytes(4, "little")
        else:
            # JPEG's SOF and PSD's header store the height first; everything else the width
            first_is_w = not data.startswith((b"\xff\xd8", b"8BPS"))
            is_w = (k % 2 == 0) == first_is_w
            _put(out, enc, off, w if is_w else h)
    return fix_png_crcs(bytes(out)) if data.startswith(PNG_SIGNATURE) else bytes(out)


def fix_png_crcs(data: bytes) -> bytes:
    out = bytearray(data)
    for s, e in png_chunks(data):
        out[e - 4:e] = zlib.crc32(data[s + 4:e - 4]).to_bytes(4, "big")
    return bytes(out)


# --- byte-level mutations ------------------------------------------------------------------------

_INTERESTING = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def _interesting(rng: random.Random, near: int = 0) -> int:
    """A boundary value, or one next to ``near`` (the field's value), as 32 unsigned bits."""
    return rng.choice(_INTERESTING + (near - 1, near + 1, near * 2, near // 2, rng.getrandbits(32))) % (1 << 32)


def truncate(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    where = rng.random()
    if where < 0.4:  # near the end: the common case of an interrupted upload
        return data[:len(data) - rng.randint(1, max(1, min(len(data) - 1, 64)))]
    return data[:rng.randrange(1, len(data))]


def flip_bits(data: bytes, rng: random.Random, *, start: int = 0, end: int | None = None) -> bytes:
    end = len(data) if end is None else min(end, len(data))
    if end <= start:
        return data
    out = bytearray(data)
    for _ in range(min(64, int(rng.expovariate(0.5)) + 1)):
        pos = rng.randrange(start, end)
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def set_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    pos = rng.randrange(len(out))
    width = rng.choice((1, 2, 4))
    value = _interesting(rng, int.from_bytes(out[pos:pos + width], "big"))
    out[pos:pos + width] = (value % (1 << (8 * width))).to_bytes(width, rng.choice(("big", "little")))
    return bytes(out[:len(data)])


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    pos = rng.randint(0, len(data))
    n = rng.choice((1, 2, 4, 16, 256, 4096))
    blob = rng.randbytes(n) if rng.random() < 0.5 else bytes([rng.randrange(256)]) * n
    return data[:pos] + blob + data[pos:]


def delete_range(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    pos = rng.randrange(len(data))
    return data[:pos] + data[pos + rng.randint(1, min(len(data) - pos, 1024)):]


def duplicate_range(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 2:
        return data
    start = rng.randrange(len(data))
    piece = data[start:start + rng.randint(1, 4096)]
    pos = rng.randint(0, len(data))
    return data[:pos] + piece + data[pos:]


def c2pa_flip(data: bytes, rng: random.Random, *, offsets: tuple[int, ...] | None = None) -> bytes:
    """Damage inside the manifest: bit flips near a JUMBF marker, or a box length rewritten
    (``offsets``: ``c2pa_offsets(data)`` when the caller has it)."""
    offsets = c2pa_offsets(data) if offsets is None else offsets
    if not offsets:
        return flip_bits(data, rng)
    at = rng.choice(offsets)
    if rng.random() < 0.3 and at >= 4:  # the box size in front of its type
        out = bytearray(data)
        size = int.from_bytes(data[at - 4:at], "big")
        out[at - 4:at] = (_interesting(rng, size) % (1 << 32)).to_bytes(4, "big")
        return bytes(out)
    return flip_bits(data, rng, start=max(0, at - 16), end=at + rng.choice((64, 512, 4096)))


# --- structure-aware mutations -------------------------------------------------------------------


def _structured(chunks: list[tuple[int, int]], data: bytes, rng: random.Random,
                length_at: Callable[[int], tuple[int, str]], fix: Callable[[bytes], bytes]) -> bytes:
    """Remove, duplicate, swap, damage or re-size one chunk of ``chunks`` (``fix`` restores
    the checksums afterwards, on half of the edits)."""
    s, e = rng.choice(chunks)
    op = rng.randrange(5)
    if op == 0:
        out = data[:s] + data[e:]
    elif op == 1:
        out = data[:e] + data[s:e] + data[e:]
    elif op == 2:
        s2, e2 = rng.choice(chunks)
        (s, e), (s2, e2) = sorted([(s, e), (s2, e2)])
        out = data if s2 < e else data[:s] + data[s2:e2] + data[e:s2] + data[s:e] + data[e2:]
    elif op == 3:
        out = flip_bits(data, rng, start=s + 8, end=e)
    else:
        off, fmt = length_at(s)
        buf = bytearray(data)
        size = struct.unpack_from(fmt, buf, off)[0]
        struct.pack_into(fmt, buf, off, _interesting(rng, size) % (1 << (8 * struct.calcsize(fmt))))
        out = bytes(buf)
    return fix(out) if rng.random() < 0.5 else out


@functools.cache
def _zeros_compressed(n: int) -> bytes:
    return zlib.compress(bytes(n))


_PNG_INSERTS: tuple[Callable[[random.Random], tuple[bytes, bytes]], ...] = (
    lambda rng: (b"eXIf", rng.randbytes(rng.choice((4, 100, 1000)))),
    lambda rng: (b"eXIf", b"II*\x00" + rng.randbytes(60)),
    lambda rng: (b"iCCP", b"icc\x00\x00" + _zeros_compressed(rng.choice((1000, 1 << 20, 1 << 24)))),
    lambda rng: (b"zTXt", b"k\x00\x00" + _zeros_compressed(1 << rng.choice((10, 20, 24)))),
    lambda rng: (b"tEXt", b"k\x00" + rng.randbytes(rng.choice((10, 100_000)))),
    lambda rng: (b"acTL", struct.pack(">II", rng.choice((0, 1, 2, 1 << 31)), 0)),
    lambda rng: (b"fcTL", struct.pack(">IIIIIHHBB", 0, *(_interesting(rng) for _ in range(4)),
                                      1, 1, 0, 0)),
    lambda rng: (b"tRNS", rng.randbytes(rng.choice((1, 6, 300)))),
    lambda rng: (b"PLTE", rng.randbytes(rng.choice((3, 767, 800)))),
    lambda rng: (b"IDAT", rng.randbytes(rng.choice((1, 100)))),
    lambda rng: (b"caBX", rng.randbytes(200)),
)


def png_edit(data: bytes, rng: random.Random) -> bytes:
    """A chunk removed, duplicated, swapped, damaged or re-sized, or a hostile one inserted."""
    chunks = png_chunks(data)
    if not data.startswith(PNG_SIGNATURE) or not chunks:
        return flip_bits(data, rng)
    if rng.random() < 0.3:
        kind, body = _PNG_INSERTS[rng.randrange(len(_PNG_INSERTS))](rng)
        at = rng.choice([e for _, e in chunks])
        return data[:at] + png_chunk(kind, body) + data[at:]
    return _structured(chunks, data, rng, lambda s: (s, ">I"), fix_png_crcs)


def jpeg_edit(data: bytes, rng: random.Random) -> bytes:
    """A marker segment removed, duplicated, swapped, damaged or re-sized, or a hostile one
    (junk EXIF or ICC, a stray JUMBF segment) inserted."""
    segments = [(s, e) for s, e, _ in jpeg_segments(data)]
    if not data.startswith(b"\xff\xd8") or not segments:
        return flip_bits(data, rng)
    if rng.random() < 0.3:
        body = rng.choice((
            b"Exif\x00\x00" + rng.randbytes(100),
            b"Exif\x00\x00II*\x00" + struct.pack("<I", _interesting(rng)) + rng.randbytes(60),
            b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + struct.pack(">H", 0xFFFF) + rng.randbytes(40),
            b"ICC_PROFILE\x00\x01\x01" + rng.randbytes(200),
            b"JP\x00\x00\x00\x01" + rng.randbytes(100),
        ))
        marker = b"\xff\xe1" if body.startswith(b"Exif") else b"\xff\xe2" if body.startswith(b"ICC") \
            else b"\xff\xeb"
        at = rng.choice([s for s, _ in segments])
        return data[:at] + marker + (len(body) + 2).to_bytes(2, "big") + body + data[at:]
    return _structured(segments, data, rng, lambda s: (s + 2, ">H"), lambda d: d)


def riff_edit(data: bytes, rng: random.Random) -> bytes:
    """A WebP chunk removed, duplicated, swapped, damaged or re-sized (the RIFF size fixed on
    half of them)."""
    chunks = riff_chunks(data)
    if not data.startswith(b"RIFF") or not chunks:
        return flip_bits(data, rng)

    def fix(d: bytes) -> bytes:
        return d[:4] + (len(d) - 8).to_bytes(4, "little") + d[8:]

    return _structured(chunks, data, rng, lambda s: (s + 4, "<I"), fix)


def bmff_edit(data: bytes, rng: random.Random) -> bytes:
    """An ISO-BMFF box (AVIF, HEIC) removed, duplicated, swapped, damaged or re-sized."""
    boxes = bmff_boxes(data)
    if len(boxes) < 2:
        return flip_bits(data, rng)
    return _structured(boxes, data, rng, lambda s: (s, ">I"), lambda d: d)


def claim_size(data: bytes, rng: random.Random, *, max_claim: int = MAX_PIXELS) -> bytes:
    """The header claims another size: zero, extreme aspect ratios, just over trustgen's pixel
    limit, or (up to ``max_claim`` pixels) more than the data holds."""
    fields = dimensions_at(data)
    if not fields:
        return set_bytes(data, rng)
    side = math.isqrt(max_claim)
    w, h = rng.choice((
        (0, rng.randint(1, 64)), (rng.randint(1, 64), 0),
        (1, max_claim), (max_claim, 1), (side, side), (max_claim // 3, 3),
        (rng.randint(1, side), rng.randint(1, side)),
        (65535, 65535), (math.isqrt(MAX_PIXELS) + 1, math.isqrt(MAX_PIXELS) + 1),
        (1 << 31, 1), (0xFFFFFFFF, 0xFFFFFFFF),
    ))
    if rng.random() < 0.3:  # one field only: width and height disagree between headers
        out = bytearray(data)
        _put(out, *rng.choice(fields), w)
        return fix_png_crcs(bytes(out)) if data.startswith(PNG_SIGNATURE) else bytes(out)
    return set_dimensions(data, w, h)


def splice(data: bytes, rng: random.Random, *, others: tuple[bytes, ...] = ()) -> bytes:
    """The head of this file on the tail of another."""
    if not others:
        return duplicate_range(data, rng)
    other = rng.choice(others)
    return data[:rng.randint(0, len(data))] + other[rng.randint(0, len(other)):]


IMAGE_MUTATORS: dict[str, Mutator] = {
    "truncate": truncate, "flip_bits": flip_bits, "set_bytes": set_bytes,
    "insert_bytes": insert_bytes, "delete_range": delete_range,
    "duplicate_range": duplicate_range, "c2pa_flip": c2pa_flip, "png_edit": png_edit,
    "jpeg_edit": jpeg_edit, "riff_edit": riff_edit, "bmff_edit": bmff_edit,
    "claim_size": claim_size, "splice": splice,
}


def apply_mutation(name: str, data: bytes, rng: random.Random, *, max_claim: int = MAX_PIXELS,
                   others: tuple[bytes, ...] = (), offsets: tuple[int, ...] | None = None) -> bytes:
    """``IMAGE_MUTATORS[name]`` with the arguments it takes from the caller."""
    if name == "claim_size":
        return claim_size(data, rng, max_claim=max_claim)
    if name == "splice":
        return splice(data, rng, others=others)
    if name == "c2pa_flip":
        return c2pa_flip(data, rng, offsets=offsets)
    return IMAGE_MUTATORS[name](data, rng)


def mutate_image(data: bytes, rng: random.Random, *, rounds: int = 1, max_claim: int = MAX_PIXELS,
                 others: tuple[bytes, ...] = ()) -> tuple[bytes, list[str]]:
    """``rounds`` mutations of ``data``, chosen by ``rng``, half of them aimed at this file's
    structure; returns the bytes and the mutations' names."""
    names = []
    for round_ in range(rounds):
        offsets = _seed_offsets(data) if round_ == 0 else c2pa_offsets(data)
        aimed = ["c2pa_flip"] * (2 if offsets else 0) + ["claim_size"]
        aimed += (["png_edit"] * 3 if data.startswith(PNG_SIGNATURE) else
                  ["jpeg_edit"] * 3 if data.startswith(b"\xff\xd8") else
                  ["riff_edit"] * 3 if data.startswith(b"RIFF") else
                  ["bmff_edit"] * 3 if data[4:8] == b"ftyp" else [])
        name = rng.choice(aimed) if rng.random() < 0.5 else rng.choice(list(IMAGE_MUTATORS))
        data = apply_mutation(name, data, rng, max_claim=max_claim, others=others, offsets=offsets)
        names.append(name)
    return data, names


# --- TOML policies -------------------------------------------------------------------------------

_VALUES = ('"text"', "1", "-1", "0", "1.5", "true", "false", "[]", "[1, 2]", '["a", 1]', "{}",
           "{ a = 1 }", "1979-05-27T07:32:00Z", "07:32:00", "nan", "inf", "-inf", "-0.0", "1e309",
           "1e-400", "99999999999999999999999", "0x7fffffffffffffff", "-9223372036854775809",
           '""', '"\\u0000"', '"\\uD800"', '"\u202e\u0000"', "'''\nmulti\n'''", '"' + "x" * 100_000 + '"',
           '["/dev/zero"]', '["/dev/null"]', '["."]', '["' + "a" * 5000 + '"]', '["\\u0000"]',
           '["~/nope.pem"]', '["key.bin"]', '["anchors.pem"]', '["policy.toml"]', '["trustgen"]',
           '["sdxl", "rivaGan"]', '["1.2.3"]', '["x"]', '"pass"', '"\U0001F600"')
_KEYS = ("name", "description", "passing_actions", "default_action", "trust.anchors", "trust.ekus",
         "trust.local_identity", "trust.allow_remote", "trust.ocsp", "watermark.enabled",
         "watermark.schemes", "watermark.key_files", "watermark.max_p_value",
         "watermark.local_identity_key", "detector.enabled", "detector.threshold",
         "detector.target_fpr", "actions.error", "actions.trusted-ai", "actions.no-evidence",
         "unknown", "trust.unknown", "actions.unknown-label", '"quoted key"', "\u00e9t\u00e9")


def _text_edit(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True) or [""]
    i = rng.randrange(len(lines))
    op = rng.randrange(6)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(rng.randrange(len(lines) + 1), lines[i])
    elif op == 2:
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
    elif op == 3 and text:
        pos = rng.randrange(len(text))
        char = rng.choice('[]{}="\'\\\n#.,\t \x00\x7f\u2028\ufeff\u00e9\U0001F600')
        return text[:pos] + char + text[pos + 1:]
    elif op == 4:
        return text[:rng.randrange(len(text) + 1)]
    else:
        pos = rng.randrange(len(text) + 1)
        return text[:pos] + "".join(chr(rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x3000),
                                                    rng.randrange(0x10000, 0x10FFFF))))
                                    for _ in range(rng.randint(1, 8))) + text[pos:]
    return "".join(lines)


def _set_value(text: str, rng: random.Random) -> str:
    """A known (or unknown) key set to a value of another type, range or meaning, in its table
    (or in a second copy of the table, or at the top)."""
    key, value = rng.choice(_KEYS), rng.choice(_VALUES)
    table, _, name = key.rpartition(".")
    header = f"[{table}]\n"
    where = rng.random()
    if table and header in text and where < 0.8:
        at = text.index(header) + len(header)
        return text[:at] + f"{name} = {value}\n" + text[at:]
    if table and where < 0.9:
        return text + f"\n{header}{name} = {value}\n"
    return f"{key} = {value}\n" + text


def _nest(text: str, rng: random.Random) -> str:
    """Deep nesting where tomllib recurses: arrays, inline tables, dotted keys, table headers."""
    depth = rng.choice((10, 100, 1000, 5000, 50_000))
    key = rng.choice(_KEYS)
    shape = rng.randrange(4)
    if shape == 0:
        value = "[" * depth + "]" * depth
    elif shape == 1:
        value = "{ a = " * depth + "1" + " }" * depth
    elif shape == 2:
        return text + "\n" + ".".join(["a"] * depth) + " = 1\n"
    else:
        return text + "\n[" + ".".join(["a"] * depth) + "]\n"
    return f"{key} = {value}\n" + text


def _encoding(text: str, rng: random.Random) -> str:
    op = rng.randrange(3)
    if op == 0:
        return "\ufeff" + text
    if op == 1:
        return text.replace("\n", "\r\n")
    return text.replace("\n", "\r")


def _many(text: str, rng: random.Random) -> str:
    """Thousands of entries: unknown labels, a long list of actions, a long list of paths."""
    n = rng.choice((100, 10_000))
    shape = rng.randrange(3)
    if shape == 0:
        return text.replace("[actions]\n", "[actions]\n" + "".join(f'l{k} = "x"\n' for k in range(n)), 1)
    if shape == 1:
        return 'passing_actions = [' + ", ".join(['"pass"'] * n) + "]\n" + text.replace(
            "passing_actions", "# passing_actions", 1)
    return text.replace("[trust]\n", "[trust]\nanchors = [" + ", ".join(['"anchors.pem"'] * (n // 100))
                        + "]\n", 1).replace("anchors = []", "# anchors = []", 1)


POLICY_MUTATORS: dict[str, Callable[[str, random.Random], str]] = {
    "text_edit": _text_edit, "set_value": _set_value, "nest": _nest, "encoding": _encoding,
    "many": _many,
}


def mutate_policy(data: bytes, rng: random.Random, *, rounds: int = 1) -> tuple[bytes, list[str]]:
    """``rounds`` TOML mutations of a policy's bytes; one time in twenty the result is also
    damaged as bytes (invalid UTF-8)."""
    text, names = data.decode("utf-8"), []
    for _ in range(rounds):
        name = rng.choice(list(POLICY_MUTATORS))
        text = POLICY_MUTATORS[name](text, rng)
        names.append(name)
    out = text.encode("utf-8")
    if rng.random() < 0.05:
        out = flip_bits(out, rng)
        names.append("flip_bits")
    return out, names
