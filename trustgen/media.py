"""Media formats, safe input and atomic output.

The format table below is the one place a format is described: its name, MIME type, file
extensions and what trustgen can do with it. Every other list (extension lookup, CLI choices,
folder discovery, what c2pa may sign) is derived from it, so adding a format is one
``register_format`` call plus a sample in tests/test_media.py.

Every file trustgen reads goes through ``read_file`` and ``decode_image`` so that a missing path,
a directory, a FIFO, a truncated file or a decompression bomb becomes one ``InputError`` naming
the file, and what one input may cost is bounded by one record, ``Budget`` (see there).
Every file trustgen writes goes through ``atomic_write``: a temporary file in the target folder,
then a rename, so an interrupted run never leaves a half-written image and nothing is overwritten
unless asked.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import hashlib
import io
import os
import stat
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from .errors import InputError, OutputExistsError, one_line

#: Largest image decoded by default, in pixels (8k x 8k; Pillow's own bomb limit is 89 M).
MAX_PIXELS = 64 * 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """What one input may cost; past a limit the file is refused with an ``InputError`` naming
    the limit (an ``error`` verdict in ``verify``), before the expensive work.

    With the defaults every file costs under 1 GB of memory above an idle process, through
    ``Verifier.verify_bytes`` (detector on, under 3 s on two cores) and ``watermark embed``
    (``benchmarks/hostile_inputs.py``: the audit's bombs, huge headers, extreme aspect ratios
    and images at the limits). Within them the work is bounded by design: the detector
    reads a fixed number of crops, the watermark code works a band of rows at a time, and
    trustgen's own reader on its small working grid. Change it with ``set_budget``.
    """

    #: Largest file ``read_file`` reads (videos larger than this cannot be verified).
    max_file_bytes: int = 256 * 1024 * 1024
    #: Largest image decoded, width x height; a format's ``decode_cost`` divides it.
    max_pixels: int = MAX_PIXELS
    #: Longest side over shortest side: a 1 x 60,000,000 PNG is 116 KB, and every
    #: per-row or per-column cost (padding, the watermark's working grid) grows with the ratio.
    #: Banners (8:1) and phone panoramas (up to about 10:1) are well inside.
    max_aspect: int = 50

    def __post_init__(self):
        for name, value in vars(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Budget.{name} must be a positive whole number, not {value!r}")


_BUDGET = Budget()


def budget() -> Budget:
    """The budget every read and decode in this process is held to."""
    return _BUDGET


def set_budget(new: Budget) -> Budget:
    """Hold every later read and decode in this process to ``new``; returns the previous one."""
    global _BUDGET
    old, _BUDGET = _BUDGET, new
    return old


KINDS = ("image", "video", "audio", "document", "archive", "manifest")


@dataclass(frozen=True)
class MediaFormat:
    """One file format and what trustgen can do with it; the flags are tested claims."""

    name: str
    mime: str
    extensions: tuple[str, ...]  # lower case with the dot; the first is what trustgen writes
    kind: str = "image"
    pillow: str | None = None  # Pillow's name for it, where Pillow reads or writes it
    can_decode: bool = False  # decode_image gives pixels (watermark and detector need them)
    can_encode: bool = False  # encode_image writes it (generate, watermark embed)
    can_sign: bool = False  # c2pa embeds manifests in it, so ``trustgen sign`` signs it
    carries_c2pa: bool = False  # c2pa reads manifests in it (verify reads them)
    #: Pillow save() arguments; a "quality" entry is replaced by encode_image's quality.
    encode_options: Mapping[str, Any] = field(default_factory=dict, compare=False)
    encode_mode: str | None = None  # colour mode the encoder needs (JPEG has no alpha)
    #: For a format the sniffing library does not know or mistakes: does ``data`` look like one?
    sniff: Callable[[bytes], bool] | None = field(default=None, compare=False)
    #: ISO BMFF brands that name it (``ftyp``): the major brand decides, unless it is one of
    #: ``_GENERIC_BRANDS``; then the first compatible brand that names a format does.
    brands: tuple[bytes, ...] = ()
    #: A ZIP package: the content type its ``mimetype`` entry (OpenDocument, EPUB) or its
    #: ``[Content_Types].xml`` (OOXML, OpenXPS) gives its main part. A DOCX is a ZIP to every
    #: sniffer, and c2pa needs to be told which package it is.
    package: str | None = None
    #: A module whose import adds Pillow's plugin for it (a PyPI package; without it, the format
    #: is refused by name when pixels are asked for, and its credentials are still read).
    plugin: str | None = None
    #: The format whose bytes it has (a DNG is a TIFF until its tags are read): a file sniffed
    #: as that one and named with this one's extension is this one (``identify``).
    container: str | None = None
    #: Peak memory of Pillow's decoder over that of the decoded image; the pixel limit is
    #: divided by it (measured at 8192 x 8192: 1 for JPEG, PNG, TIFF, BMP; libwebp's animation
    #: decoder, the only one Pillow uses, holds two RGBA canvases and a copy of the frame: 4).
    decode_cost: int = 1
    #: The most pixels one byte of the file can describe, where the coding sets a bound: a
    #: header claiming more is refused before decoding (a JPEG's Huffman coding spends at least
    #: one bit on every 8 x 8 block: 512; arithmetic-coded JPEGs, which are rare, can beat it).
    pixels_per_byte: int | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"{self.name}: kind must be one of {KINDS}")
        if not self.extensions or any(e != e.lower() or not e.startswith(".") for e in self.extensions):
            raise ValueError(f"{self.name}: extensions must be lower case and start with a dot")
        if (self.can_decode or self.can_encode) and not self.pillow:
            raise ValueError(f"{self.name}: decoding and encoding go through Pillow; name its format")
        if self.can_sign and not self.carries_c2pa:
            raise ValueError(f"{self.name}: signing needs a format that c2pa carries")
        object.__setattr__(self, "encode_options", MappingProxyType(dict(self.encode_options)))

    @property
    def extension(self) -> str:
        return self.extensions[0]


_FORMATS: dict[str, MediaFormat] = {}
_LOOKUP: dict[str, MediaFormat] = {}  # name, MIME type and each extension, with and without dot
_EXTENSION_NAMES: dict[str, str] = {}  # ".jpg" -> "jpeg"


def register_format(fmt: MediaFormat) -> MediaFormat:
    """Add ``fmt`` to the table; its name, MIME type and extensions must be new."""
    keys = {fmt.name, fmt.mime, *fmt.extensions, *(e[1:] for e in fmt.extensions)}
    taken = sorted(k for k in keys if k in _LOOKUP and _LOOKUP[k] is not fmt)
    if taken or fmt.name in _FORMATS:
        raise ValueError(f"format {fmt.name!r}: already registered: {', '.join(taken) or fmt.name}")
    _FORMATS[fmt.name] = fmt
    _LOOKUP.update(dict.fromkeys(keys, fmt))
    _EXTENSION_NAMES.update(dict.fromkeys(fmt.extensions, fmt.name))
    return fmt


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<") and b"<svg" in head


def _looks_like_flac(data: bytes) -> bool:
    """Also behind an ID3 tag: c2pa puts its manifest in one, in front of FLAC too."""
    start = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        start = 10 + sum((b & 0x7F) << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
        start += 10 if data[5] & 0x10 else 0  # footer
    return data[start:start + 4] == b"fLaC"


def _looks_like_manifest_store(data: bytes) -> bool:
    """A bare C2PA manifest store (a ``.c2pa`` sidecar): a JUMBF superbox labelled c2pa."""
    return data[4:8] == b"jumb" and data[12:16] == b"jumd" and data[16:20] == b"c2pa"


def _looks_like_jxl(data: bytes) -> bool:
    return data.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"))


#: Brands that say only "ISO BMFF still image" or "ISO BMFF media": a file whose major brand is
#: one of these is named by its first compatible brand that names a format, else by the format
#: that lists the generic brand (HEIF, MP4).
_GENERIC_BRANDS = frozenset({b"mif1", b"msf1", b"miaf", b"isom", b"iso2", b"iso4", b"iso5",
                             b"iso6", b"mp41", b"mp42"})

_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."

# Registration order is the order users see in lists ("trustgen signs jpeg, png, webp, ...").
# ``carries_c2pa`` and ``can_sign`` follow c2pa-python 0.38's Reader and Builder
# ``get_supported_mime_types()`` (tests/test_media.py checks both).
for _fmt in (
    MediaFormat("jpeg", "image/jpeg", (".jpg", ".jpeg"), pillow="JPEG", can_decode=True,
                can_encode=True, can_sign=True, carries_c2pa=True, encode_mode="RGB",
                encode_options={"quality": 95, "subsampling": 0, "optimize": False},
                pixels_per_byte=512),
    MediaFormat("png", "image/png", (".png", ".apng"), pillow="PNG", can_decode=True,
                can_encode=True, can_sign=True, carries_c2pa=True,
                encode_options={"compress_level": 6}),
    MediaFormat("webp", "image/webp", (".webp",), pillow="WEBP", can_decode=True,
                can_encode=True, can_sign=True, carries_c2pa=True,
                encode_options={"quality": 95, "method": 4}, decode_cost=4),
    MediaFormat("gif", "image/gif", (".gif",), pillow="GIF", can_decode=True, can_sign=True,
                carries_c2pa=True),
    MediaFormat("tiff", "image/tiff", (".tif", ".tiff"), pillow="TIFF", can_decode=True,
                can_sign=True, carries_c2pa=True),
    # Pillow decodes AVIF itself (libavif); a Pillow built without it refuses AVIF by name
    MediaFormat("avif", "image/avif", (".avif",), pillow="AVIF", can_decode=True, can_sign=True,
                carries_c2pa=True, decode_cost=2, brands=(b"avif", b"avis")),  # 2.3 at 8192 x 8192
    # HEIC and HEIF decode through pillow-heif's Pillow plugin (libheif)
    MediaFormat("heic", "image/heic", (".heic",), pillow="HEIF", can_decode=True, can_sign=True,
                carries_c2pa=True, decode_cost=2, plugin="pillow_heif.HeifImagePlugin",
                brands=(b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")),
    MediaFormat("heif", "image/heif", (".heif", ".hif"), pillow="HEIF", can_decode=True,
                can_sign=True, carries_c2pa=True, decode_cost=2,
                plugin="pillow_heif.HeifImagePlugin", brands=(b"mif1", b"msf1", b"miaf", b"mif2")),
    # c2pa signs the ISO BMFF container only, not a bare codestream (sign.py says so)
    MediaFormat("jxl", "image/jxl", (".jxl",), can_sign=True, carries_c2pa=True,
                sniff=_looks_like_jxl),
    # camera raw files: TIFF structures whose first image is a preview, so not decoded
    MediaFormat("dng", "image/dng", (".dng",), can_sign=True, carries_c2pa=True, container="tiff"),
    MediaFormat("nef", "image/x-nikon-nef", (".nef",), carries_c2pa=True, container="tiff"),
    MediaFormat("arw", "image/x-sony-arw", (".arw",), carries_c2pa=True, container="tiff"),
    MediaFormat("svg", "image/svg+xml", (".svg",), can_sign=True, carries_c2pa=True,
                sniff=_looks_like_svg),
    MediaFormat("bmp", "image/bmp", (".bmp",), pillow="BMP", can_decode=True),
    MediaFormat("psd", "image/vnd.adobe.photoshop", (".psd",), pillow="PSD", can_decode=True),
    MediaFormat("mp4", "video/mp4", (".mp4", ".m4v"), kind="video", can_sign=True,
                carries_c2pa=True, brands=(b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41",
                                           b"mp42", b"avc1", b"M4V ", b"M4VH", b"M4VP", b"dash",
                                           b"mmp4", b"f4v ")),
    MediaFormat("mov", "video/quicktime", (".mov",), kind="video", can_sign=True,
                carries_c2pa=True, brands=(b"qt  ",)),
    MediaFormat("avi", "video/x-msvideo", (".avi",), kind="video", can_sign=True,
                carries_c2pa=True),
    MediaFormat("m4a", "audio/mp4", (".m4a",), kind="audio", can_sign=True, carries_c2pa=True,
                brands=(b"M4A ", b"M4B ", b"M4P ")),
    MediaFormat("wav", "audio/wav", (".wav",), kind="audio", can_sign=True, carries_c2pa=True),
    MediaFormat("mp3", "audio/mpeg", (".mp3",), kind="audio", can_sign=True, carries_c2pa=True),
    MediaFormat("flac", "audio/flac", (".flac",), kind="audio", can_sign=True,
                carries_c2pa=True, sniff=_looks_like_flac),
    MediaFormat("pdf", "application/pdf", (".pdf",), kind="document", can_sign=True,
                carries_c2pa=True),
    MediaFormat("docx", _OOXML + "wordprocessingml.document", (".docx",), kind="document",
                can_sign=True, carries_c2pa=True,
                package=_OOXML + "wordprocessingml.document.main+xml"),
    MediaFormat("xlsx", _OOXML + "spreadsheetml.sheet", (".xlsx",), kind="document",
                can_sign=True, carries_c2pa=True, package=_OOXML + "spreadsheetml.sheet.main+xml"),
    MediaFormat("pptx", _OOXML + "presentationml.presentation", (".pptx",), kind="document",
                can_sign=True, carries_c2pa=True,
                package=_OOXML + "presentationml.presentation.main+xml"),
    MediaFormat("docm", "application/vnd.ms-word.document.macroenabled.12", (".docm",),
                kind="document", can_sign=True, carries_c2pa=True,
                package="application/vnd.ms-word.document.macroenabled.main+xml"),
    MediaFormat("xlsm", "application/vnd.ms-excel.sheet.macroenabled.12", (".xlsm",),
                kind="document", can_sign=True, carries_c2pa=True,
                package="application/vnd.ms-excel.sheet.macroenabled.main+xml"),
    MediaFormat("pptm", "application/vnd.ms-powerpoint.presentation.macroenabled.12", (".pptm",),
                kind="document", can_sign=True, carries_c2pa=True,
                package="application/vnd.ms-powerpoint.presentation.macroenabled.main+xml"),
    MediaFormat("oxps", "application/oxps", (".oxps",), kind="document", can_sign=True,
                carries_c2pa=True, package="application/vnd.ms-package.xps-fixeddocumentsequence+xml"),
    *(MediaFormat(ext, _ODF + part, ("." + ext,), kind="document", can_sign=True,
                  carries_c2pa=True, package=_ODF + part)
      for ext, part in (("odt", "text"), ("ods", "spreadsheet"), ("odp", "presentation"),
                        ("odg", "graphics"), ("ott", "text-template"),
                        ("ots", "spreadsheet-template"), ("otp", "presentation-template"),
                        ("otg", "graphics-template"))),
    MediaFormat("epub", "application/epub+zip", (".epub",), kind="document", can_sign=True,
                carries_c2pa=True, package="application/epub+zip"),
    # any other ZIP (c2pa keeps its manifest in META-INF/ as in the packages above)
    MediaFormat("zip", "application/x-zip", (".zip",), kind="archive", can_sign=True,
                carries_c2pa=True),
    # a sidecar manifest store: read alone, its hard binding cannot match (verify --detached
    # reads it with its asset); c2pa writes these, trustgen does not sign them as assets
    MediaFormat("c2pa", "application/c2pa", (".c2pa",), kind="manifest", carries_c2pa=True,
                sniff=_looks_like_manifest_store),
):
    register_format(_fmt)
del _fmt


def formats(**where: Any) -> tuple[MediaFormat, ...]:
    """The registered formats whose attributes equal ``where``, e.g. ``formats(can_sign=True)``."""
    return tuple(f for f in _FORMATS.values() if all(getattr(f, k) == v for k, v in where.items()))


def extensions(**where: Any) -> frozenset[str]:
    """Every extension of ``formats(**where)``; ``extensions(can_decode=True)`` finds images."""
    return frozenset(e for f in formats(**where) for e in f.extensions)


def encodable_formats() -> tuple[str, ...]:
    return tuple(f.name for f in formats(can_encode=True))


def signable_formats() -> tuple[str, ...]:
    return tuple(f.name for f in formats(can_sign=True))


def lookup(name: str | None) -> MediaFormat | None:
    """A format by name, extension (``jpg``, ``.tif``) or MIME type; None if unknown."""
    return _LOOKUP.get(name.strip().lower()) if name else None


def get_format(name: str) -> MediaFormat:
    """``lookup`` that raises ``InputError`` for an unknown format."""
    fmt = lookup(name)
    if fmt is None:
        raise InputError(f"unknown format {name!r}")
    return fmt


def writable_format(name: str) -> MediaFormat:
    """The format ``encode_image`` writes for ``name``, or an ``InputError`` naming it."""
    fmt = lookup(name)
    if fmt is None or not fmt.can_encode:
        what = f"{fmt.name} files" if fmt else f"format {name!r}"
        raise InputError(f"cannot write {what}; trustgen writes {', '.join(encodable_formats())}")
    return fmt


def format_for_path(path: str | os.PathLike) -> str | None:
    return _EXTENSION_NAMES.get(Path(path).suffix.lower())


def extension_for(fmt: str) -> str:
    return get_format(fmt).extension


def mime_for(fmt: str) -> str:
    return get_format(fmt).mime


@dataclass(frozen=True)
class MediaFile:
    """A file read once: its bytes, its format (sniffed, else from the extension), and its
    SHA-256, hashed on first use and then kept."""

    path: Path
    data: bytes = field(repr=False)
    format: str | None

    @functools.cached_property
    def sha256(self) -> str:
        return sha256_hex(self.data)


def load(path: str | os.PathLike) -> MediaFile:
    """Read ``path`` once (``InputError`` if it cannot be) and name its format."""
    data = read_file(path)
    return MediaFile(Path(path), data, identify(data, path))


def identify(data: bytes, path: str | os.PathLike | None = None) -> str | None:
    """The format of a file: its bytes decide (``sniff_format``), refined by its extension where
    the bytes are another format's container (a ``.dng`` whose bytes say TIFF is a DNG); the
    extension alone when the bytes say nothing."""
    sniffed = sniff_format(data)
    named = _LOOKUP.get(Path(path).suffix.lower()) if path is not None else None
    if named is not None and (sniffed is None or named.container == sniffed):
        return named.name
    return sniffed


def read_file(path: str | os.PathLike) -> bytes:
    """Read a whole input file, turning every OS failure into one ``InputError``.

    Only regular files are read, and none over ``Budget.max_file_bytes``: a FIFO would block
    forever and ``/dev/zero`` never ends. The file is opened non-blocking (a FIFO opens at once)
    and checked on its descriptor, so it cannot be swapped for something else in between.
    """
    p = Path(path)
    limit = _BUDGET.max_file_bytes
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InputError("no such file", path=p) from None
    except OSError as err:  # a socket cannot be opened; a directory, on some systems
        kind = _not_regular(p.stat().st_mode) if p.exists() else None
        raise InputError(kind or f"cannot read: {err.strerror or err}", path=p) from None
    try:
        st = os.fstat(fd)
        kind = _not_regular(st.st_mode)
        if kind:
            raise InputError(kind, path=p)
        if st.st_size > limit:
            raise InputError(f"file is {_size(st.st_size)}, over the {_size(limit)} limit", path=p)
        with open(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)  # the file may grow while it is read
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path=p) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InputError(f"file is over the {_size(limit)} limit", path=p)
    return data


def _not_regular(mode: int) -> str | None:
    """Why a file of this ``st_mode`` is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")
    return f"is {kind}, not a regular file"


def _size(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def sniff_format(data: bytes) -> str | None:
    """The format from the file's contents, whatever its extension says: a format's own
    ``sniff`` first, then the ISO BMFF brands and ZIP packages the table names, else
    ``filetype``, which tells the other binary formats."""
    import filetype

    own = next((f.name for f in _FORMATS.values() if f.sniff and f.sniff(data)), None)
    if own is not None:
        return own
    if data[4:8] == b"ftyp":
        return _bmff_format(data)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_format(data)
    kind = filetype.guess(data)
    return None if kind is None else _EXTENSION_NAMES.get("." + kind.extension)


def _bmff_format(data: bytes) -> str | None:
    """An ISO BMFF file's format from its ``ftyp`` brands (see ``MediaFormat.brands``)."""
    size = int.from_bytes(data[:4], "big")
    major = data[8:12]
    compatible = [data[i:i + 4] for i in range(16, min(size, 1024) - 3, 4)]
    owner = {b: f.name for f in _FORMATS.values() for b in f.brands}
    if major in owner and major not in _GENERIC_BRANDS:
        return owner[major]
    return next((owner[b] for b in compatible if b in owner and b not in _GENERIC_BRANDS),
                owner.get(major))


#: Largest ``mimetype`` / ``[Content_Types].xml`` entry read to name a ZIP package.
_PACKAGE_ENTRY_LIMIT = 1 << 20


def _zip_format(data: bytes) -> str | None:
    """Which package (``MediaFormat.package``) a ZIP is, else plain ``zip`` (None when it has
    no readable central directory). Reads the directory and at most one small entry, so a ZIP
    bomb costs nothing here."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for entry, exact in (("mimetype", True), ("[Content_Types].xml", False)):
                try:
                    info = archive.getinfo(entry)
                except KeyError:
                    continue
                if info.file_size > _PACKAGE_ENTRY_LIMIT:
                    continue
                text = archive.read(info).strip().lower()
                for fmt in _FORMATS.values():
                    marker = (fmt.package or "").encode()
                    if marker and (text == marker if exact else b'contenttype="' + marker + b'"' in text):
                        return fmt.name
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            RuntimeError, NotImplementedError, zlib.error):
        return None  # damaged or encrypted: the extension names it, and c2pa judges it
    return "zip"


def _pillow_decoders() -> list[str]:
    """Pillow plugins for the table's decodable formats, those this Pillow has (with the
    formats' plugin packages, where installed): no other plugin sees untrusted input (EPS would
    run Ghostscript)."""
    from PIL import Image

    _load_plugins()
    Image.init()
    return [f.pillow for f in formats(can_decode=True) if f.pillow in Image.OPEN]


@functools.cache
def _load_plugins() -> None:
    import importlib

    for module in dict.fromkeys(f.plugin for f in _FORMATS.values() if f.plugin):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def decodes(name: str | None) -> bool:
    """Whether ``decode_image`` gives pixels for format ``name`` here (this Pillow and its
    installed plugins): the pixel signals (watermark, detector) apply only then."""
    fmt = lookup(name)
    return fmt is not None and fmt.can_decode and fmt.pillow in _pillow_decoders()


@contextlib.contextmanager
def _opened(data: bytes, path: str | os.PathLike | None):
    """The image opened lazily, within the budget (``_check_budget``); any decoding failure
    in the body becomes one ``InputError`` naming ``path``."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputError("empty file (0 bytes)", path=path)
    fmt = lookup(sniff_format(data))
    if fmt is not None and fmt.name == "png":
        data = _without_broken_ancillary_chunks(data)
    try:
        with Image.open(io.BytesIO(data), formats=_pillow_decoders()) as img:
            _check_budget(img.width, img.height, len(data), fmt, path)
            yield img
    except InputError:
        raise
    except UnidentifiedImageError:
        if fmt is not None and fmt.pillow in _pillow_decoders():
            what = f"cannot decode image: not a valid {fmt.name} file"
        elif fmt is not None:
            what = f"{fmt.name} is not a decodable raster format here"
        else:
            what = "not an image file"
        raise InputError(what, path=path) from None
    except Image.DecompressionBombError:
        raise InputError(f"image is over the {_BUDGET.max_pixels} pixel limit", path=path) from None
    except (OSError, SyntaxError, ValueError) as err:
        raise InputError(f"cannot decode image: {one_line(err)}", path=path) from None
    except (ArithmeticError, AssertionError, LookupError, RuntimeError, TypeError, struct.error,
            EOFError) as err:
        # Pillow's plugins on hostile bytes (PSD sizes, AVIF planes, TIFF rationals, a PNG
        # without IDAT in verify): still the file's fault, so still one line naming it
        raise InputError(f"cannot decode image: {type(err).__name__}: {one_line(err)}", path=path) from None


def _check_budget(width: int, height: int, size: int, fmt: MediaFormat | None,
                  path: str | os.PathLike | None) -> None:
    """Refuse, from the header alone, an image whose decoding would exceed the budget, or whose
    data cannot fill the image it claims."""
    shape = f"image is {width}x{height}"
    cost = fmt.decode_cost if fmt else 1
    limit = _BUDGET.max_pixels // cost
    if width * height > limit:
        where = f" for {fmt.name}" if cost > 1 else ""
        raise InputError(f"{shape}, over the {limit} pixel limit{where}", path=path)
    ratio = _BUDGET.max_aspect
    if max(width, height) > ratio * min(width, height):
        raise InputError(f"{shape}: aspect ratio over the 1:{ratio} limit", path=path)
    if fmt and fmt.pixels_per_byte and width * height > size * fmt.pixels_per_byte:
        raise InputError(f"{shape}, more than its {size} bytes can hold (a {fmt.name} byte holds "
                         f"at most {fmt.pixels_per_byte} pixels): a damaged or forged header",
                         path=path)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _without_broken_ancillary_chunks(data: bytes) -> bytes:
    """A PNG without its ancillary chunks (lower-case first letter: caBX, tEXt ...) whose CRC is
    wrong. They hold no pixels, and Pillow refuses the whole file for one, so a damaged C2PA
    manifest would hide the image; damaged critical chunks (IHDR, IDAT) are left to Pillow."""
    if not data.startswith(_PNG_SIGNATURE):
        return data
    view, pos, broken = memoryview(data), len(_PNG_SIGNATURE), []
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        end = pos + 12 + length
        if end > len(data):
            break
        if data[pos + 4] & 0x20:  # ancillary
            (crc,) = struct.unpack_from(">I", data, end - 4)
            if zlib.crc32(view[pos + 4:end - 4]) != crc:
                broken.append((pos, end))
        pos = end
    if not broken:
        return data
    keep, start = [], 0
    for begin, end in broken:
        keep.append(view[start:begin])
        start = end
    keep.append(view[start:])
    return b"".join(keep)


def probe_image(data: bytes, *, path: str | os.PathLike | None = None) -> None:
    """Check that an image is whole, and within the budget, without a full decode (what signing
    needs: c2pa hashes the bytes, so decoding every pixel would only cost time). Raises
    ``InputError``."""
    with _opened(data, path) as img:
        if img.format != "JPEG":
            img.verify()  # chunk structure and CRCs, no pixel decoding
            return
        # entropy-coded data never holds a marker, so an end-of-image marker after the last
        # start-of-scan means the file is whole; else decode at 1/8 scale, which reads every byte
        if data.endswith(b"\xff\xd9"):
            return
        last_scan = data.rfind(b"\xff\xda")  # trailing data after the end marker (rare)
        if last_scan < 0 or data.find(b"\xff\xd9", last_scan) < 0:
            img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
            img.load()


def decode_image(data: bytes, *, path: str | os.PathLike | None = None, rgb: bool = False):
    """Decode and fully load an image, upright (``upright``); with ``rgb``, as RGB.

    Loading (not just opening) here means a truncated file fails now, with the file's name,
    instead of deep inside a watermark decoder; converting here means a palette or mode Pillow
    cannot convert (a transparency table longer than the palette) fails the same way.
    """
    with _opened(data, path) as img:
        img.load()
        img = upright(img)
        if rgb and img.mode != "RGB":  # via RGBA so palette transparency converts without a warning
            img = img.convert("RGBA" if img.mode == "P" else img.mode).convert("RGB")
        return img


#: EXIF orientation tag.
ORIENTATION = 0x0112


def upright(image):
    """``image`` as viewers show it: its EXIF orientation applied and removed (so applying this
    twice is harmless), else ``image`` itself, not a copy. An EXIF block Pillow cannot parse
    (junk in APP1) leaves the pixels as stored: their orientation is unknown, the pixels are not.
    """
    from PIL import ImageOps

    try:
        turned = image.getexif().get(ORIENTATION, 1) in range(2, 9)
        return ImageOps.exif_transpose(image) if turned else image
    except Exception:  # noqa: BLE001 - Pillow's EXIF parser on hostile bytes raises anything
        return image


def rgb_array(image):
    """``image`` as a uint8 (H, W, 3) array, converted a band of rows at a time: ``np.asarray``
    of a whole image holds two more copies of it while converting (+385 MB at 8192 x 8192)."""
    import numpy as np

    w, h = image.size
    out = np.empty((h, w, 3), dtype=np.uint8)
    rows = max(1, 2**18 // max(w, 1))  # about 256 K pixels a band
    for y in range(0, h, rows):
        band = image.crop((0, y, w, min(h, y + rows)))
        out[y:y + band.height] = np.asarray(band if band.mode == "RGB" else band.convert("RGB"))
    return out


def encode_image(image, fmt: str, *, quality: int = 95) -> bytes:
    """Encode a PIL image as ``fmt`` (``InputError`` if trustgen does not write it); lossy
    formats at high quality so the watermark survives the first save."""
    target = writable_format(fmt)
    options = dict(target.encode_options)
    if "quality" in options:
        options["quality"] = quality
    if target.encode_mode and image.mode != target.encode_mode:
        image = image.convert(target.encode_mode)
    buf = io.BytesIO()
    image.save(buf, target.pillow, **options)
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_writable(path: str | os.PathLike, *, overwrite: bool,
                   inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Fail early, before expensive work, if writing ``path`` would clobber or cannot succeed.

    ``path`` is never one of ``inputs`` (the same file under any name), even with ``overwrite``:
    inputs are only ever read.
    """
    p = Path(path)
    for src in inputs:
        src = Path(src)
        same = p.exists() and src.exists() and os.path.samefile(p, src)
        if same or p.absolute() == src.absolute():
            raise InputError("output would overwrite an input; choose another output path", path=p)
    if p.exists() and not overwrite:
        raise OutputExistsError("already exists; pass --overwrite to replace it", path=p)
    if p.exists() and p.is_dir():
        raise InputError("output path is a directory", path=p)
    folder = p.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"cannot write here: {folder} is not a folder", path=p)
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write here: {folder} is not writable", path=p)
    return p


#: A temporary ``.NAME.XXXXXXXX.part`` beside a target older than this (seconds) was left by a
#: killed write (no write takes an hour), and the next write to that target removes it.
STALE_PART_AGE = 3600


def atomic_write(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Without ``overwrite`` the final step is a hard link, which fails if ``path`` appeared in
    the meantime, so a concurrent writer is never clobbered either. The temporary file is
    removed on any failure, an interrupt included; one that a killed process left behind is
    removed by the next write to the same path once it is ``STALE_PART_AGE`` old.
    """
    p = check_writable(path, overwrite=overwrite)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(p)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    except OSError as err:
        raise InputError(f"cannot write: {err.strerror or err}", path=p) from None
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
        except OSError as err:  # disk full, quota: nothing half-written stays behind
            raise InputError(f"cannot write: {err.strerror or err}", path=p) from None
        if overwrite:
            os.replace(tmp, p)
        else:
            try:
                os.link(tmp, p)
            except FileExistsError:
                raise OutputExistsError(
                    "already exists; pass --overwrite to replace it", path=p
                ) from None
            except OSError:  # filesystems without hard links
                if p.exists():
                    raise OutputExistsError(
                        "already exists; pass --overwrite to replace it", path=p
                    ) from None
                os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def _remove_stale_parts(p: Path) -> None:
    """Remove ``atomic_write``'s temporary files for ``p`` that a killed process left behind
    (``mkstemp`` names: eight characters between the target's name and ``.part``)."""
    now = time.time()
    for stale in p.parent.glob(f".{glob.escape(p.name)}.{'?' * 8}.part"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            st = stale.lstat()
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime > STALE_PART_AGE:
                stale.unlink()
