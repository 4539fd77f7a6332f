"""Safe image input and atomic output.

Every file trustgen reads goes through ``read_file`` and ``decode_image`` so that a missing path,
a directory, a truncated file or a decompression bomb becomes one ``InputError`` naming the file.
Every file trustgen writes goes through ``atomic_write``: a temporary file in the target folder,
then a rename, so an interrupted run never leaves a half-written image and nothing is overwritten
unless asked.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

from .errors import InputError, OutputExistsError

#: Largest image decoded, in pixels (Pillow's own bomb limit is 89 M; 8k x 8k is plenty here).
MAX_PIXELS = 64 * 1024 * 1024

#: Container formats by magic bytes -> (short name, MIME type).
_MAGIC = (
    (b"\xff\xd8\xff", ("jpeg", "image/jpeg")),
    (b"\x89PNG\r\n\x1a\n", ("png", "image/png")),
    (b"GIF87a", ("gif", "image/gif")),
    (b"GIF89a", ("gif", "image/gif")),
    (b"II*\x00", ("tiff", "image/tiff")),
    (b"MM\x00*", ("tiff", "image/tiff")),
    (b"8BPS", ("psd", "image/vnd.adobe.photoshop")),
    (b"BM", ("bmp", "image/bmp")),
)
_EXTENSIONS = {
    "jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif", "tiff": ".tif",
    "avif": ".avif", "heic": ".heic", "svg": ".svg", "bmp": ".bmp", "psd": ".psd",
}
FORMATS_BY_EXTENSION = {
    ".jpg": "jpeg", ".jpeg": "jpeg", ".png": "png", ".webp": "webp", ".gif": "gif",
    ".tif": "tiff", ".tiff": "tiff", ".avif": "avif", ".heic": "heic", ".heif": "heic",
    ".svg": "svg", ".bmp": "bmp", ".psd": "psd",
}
MIME_TYPES = {
    "jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
    "tiff": "image/tiff", "avif": "image/avif", "heic": "image/heic", "svg": "image/svg+xml",
    "bmp": "image/bmp", "psd": "image/vnd.adobe.photoshop",
}


def read_file(path: str | os.PathLike) -> bytes:
    """Read a whole input file, turning every OS failure into one ``InputError``."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, not an image file", path=p)
    try:
        return p.read_bytes()
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path=p) from None


def sniff_format(data: bytes) -> str | None:
    """The container format from the file's first bytes, whatever its extension says."""
    for magic, (name, _mime) in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "avif" if brand in (b"avif", b"avis") else "heic"
    head = data[:512].lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return "svg"
    return None


def format_for_path(path: str | os.PathLike) -> str | None:
    return FORMATS_BY_EXTENSION.get(Path(path).suffix.lower())


def extension_for(fmt: str) -> str:
    return _EXTENSIONS[fmt]


@contextlib.contextmanager
def _opened(data: bytes, path: str | os.PathLike | None):
    """The image opened lazily, under the pixel limit; any decoding failure in the body
    becomes one ``InputError`` naming ``path``."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputError("empty file (0 bytes)", path=path)
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise InputError(
                    f"image is {img.width}x{img.height}, over the {MAX_PIXELS} pixel limit",
                    path=path,
                )
            yield img
    except InputError:
        raise
    except UnidentifiedImageError:
        fmt = sniff_format(data)
        what = f"{fmt} is not a decodable raster format here" if fmt else "not an image file"
        raise InputError(what, path=path) from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(f"cannot decode image: {err}", path=path) from None


def probe_image(data: bytes, *, path: str | os.PathLike | None = None) -> None:
    """Check that an image is whole without a full decode (what signing needs: c2pa hashes the
    bytes, so decoding every pixel would only cost time). Raises ``InputError``."""
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


def decode_image(data: bytes, *, path: str | os.PathLike | None = None):
    """Decode and fully load an image, applying EXIF orientation.

    Loading (not just opening) here means a truncated file fails now, with the file's name,
    instead of deep inside a watermark decoder.
    """
    from PIL import ImageOps

    with _opened(data, path) as img:
        img.load()
        img = ImageOps.exif_transpose(img)
        img.load()
        return img


def encode_image(image, fmt: str, *, quality: int = 95) -> bytes:
    """Encode a PIL image; JPEG/WebP at high quality so the watermark survives the first save."""
    buf = io.BytesIO()
    fmt = fmt.lower()
    if fmt in ("jpeg", "jpg"):
        image.convert("RGB").save(buf, "JPEG", quality=quality, subsampling=0, optimize=False)
    elif fmt == "webp":
        image.save(buf, "WEBP", quality=quality, method=4)
    elif fmt == "png":
        image.save(buf, "PNG", compress_level=6)
    else:
        raise InputError(f"cannot encode format {fmt!r}; use png, jpeg or webp")
    return buf.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_writable(path: str | os.PathLike, *, overwrite: bool) -> Path:
    """Fail early, before expensive work, if writing ``path`` would clobber or cannot succeed."""
    p = Path(path)
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


def atomic_write(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    Without ``overwrite`` the final step is a hard link, which fails if ``path`` appeared in
    the meantime, so a concurrent writer is never clobbered either.
    """
    p = check_writable(path, overwrite=overwrite)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
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
