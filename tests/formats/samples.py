"""Small real files of every media format trustgen knows, written by the libraries that make
them in the wild (Pillow, pillow-heif, pillow-jxl-plugin, PyAV, OpenCV, soundfile, the standard
library) or, for the zip-based documents, the smallest package their readers accept.

``make(name)`` returns the bytes of one format's sample; ``SAMPLES`` names every maker. The
libraries are test dependencies (av, soundfile, pillow-jxl-plugin, opencv-python, pillow-heif);
each maker imports its own only when called.
"""

from __future__ import annotations

import io
import tempfile
import wave
import zipfile
from pathlib import Path

import numpy as np

SIZE = (64, 48)


def photo():
    """A small photo-like image: gradients and a little noise (the detector needs texture)."""
    from PIL import Image

    w, h = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    arr = np.stack([xx * 3.5, yy * 5, (xx + yy) * 2], -1) + rng.normal(0, 6, (h, w, 3)) + 20
    return Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _pillow(fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    photo().save(buf, fmt, **options)
    return buf.getvalue()


def _heif(major: bytes | None = None) -> bytes:
    from pillow_heif import HeifImagePlugin  # noqa: F401 - registers the HEIF plugin

    data = _pillow("HEIF", quality=90)
    if major is not None:  # generic HEIF brands instead of HEIC's: same image, image/heif
        size = int.from_bytes(data[:4], "big")
        assert data[4:8] == b"ftyp"
        data = data[:8] + major + data[12:size].replace(b"heic", b"miaf") + data[size:]
    return data


def jxl(container: bool = True) -> bytes:
    """JPEG XL in its ISO BMFF container (what c2pa signs), or as a bare codestream."""
    import pillow_jxl  # noqa: F401 - registers the JXL plugin

    return _pillow("JXL", quality=90, use_container=container)


def _frames(n: int = 6):
    base = np.asarray(photo())
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


def _av(container: str, *, video: str | None = None, audio: str | None = None) -> bytes:
    """A short clip written by FFmpeg through PyAV, as phones and editors write them."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        streams = []  # every stream is added before the first packet is written
        if video:
            vs = out.add_stream(video, rate=12)
            vs.width, vs.height = SIZE
            vs.pix_fmt = "yuv420p"
            streams.append((vs, [av.VideoFrame.from_ndarray(f, format="rgb24") for f in _frames()]))
        if audio:
            rate = 16000
            aus = out.add_stream(audio, rate=rate)
            aus.layout = "mono"
            tone, frames, step = _tone(rate)[None, :], [], 1024
            for at in range(0, tone.shape[1], step):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, at:at + step]),
                                                   format="fltp", layout="mono")
                frame.sample_rate, frame.pts = rate, at
                frames.append(frame)
            streams.append((aus, frames))
        for stream, frames in streams:
            for frame in [*frames, None]:
                out.mux(stream.encode(frame))
    return buf.getvalue()


def _avi() -> bytes:
    """Motion JPEG in AVI, as OpenCV's VideoWriter (and many cameras) write it."""
    import cv2

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "clip.avi")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 12, SIZE)
        assert writer.isOpened(), "OpenCV cannot write MJPG AVI here"
        for frame in _frames():
            writer.write(frame[:, :, ::-1])
        writer.release()
        return Path(path).read_bytes()


def _tone(rate: int = 16000) -> np.ndarray:
    t = np.arange(rate // 4) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _wav() -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((_tone() * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _soundfile(fmt: str) -> bytes:
    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, _tone(), 16000, format=fmt)
    return buf.getvalue()


def _pdf() -> bytes:
    return _pillow("PDF", resolution=72)


SVG = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
       b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="48" viewBox="0 0 64 48">'
       b'<rect width="64" height="48" fill="#3a6"/><circle cx="32" cy="24" r="12" fill="#fff"/>'
       b'</svg>\n')


def _zip(entries: list[tuple[str, bytes]]) -> bytes:
    """Entries stored uncompressed: c2pa 0.38 signs no other ZIP (``deflated`` makes the kind
    office suites write)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, body in entries:
            z.writestr(name, body)
    return buf.getvalue()


def deflated(data: bytes) -> bytes:
    """The same ZIP package with its entries deflated (a ``mimetype`` entry stays stored)."""
    src, buf = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for info in src.infolist():
            method = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            z.writestr(info.filename, src.read(info), method)
    return buf.getvalue()


_XML = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"

#: OOXML: folder, main part, main part's content type, its root element.
_OOXML = {
    "docx": ("word", "document.xml",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
             b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             b'<w:body><w:p><w:r><w:t>trustgen</w:t></w:r></w:p></w:body></w:document>'),
    "docm": ("word", "document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml",
             b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
             b'<w:body/></w:document>'),
    "xlsx": ("xl", "workbook.xml",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
             b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'),
    "xlsm": ("xl", "workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
             b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'),
    "pptx": ("ppt", "presentation.xml",
             "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
             b'<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'),
    "pptm": ("ppt", "presentation.xml",
             "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
             b'<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>'),
}


def _ooxml(name: str) -> bytes:
    folder, part, content_type, body = _OOXML[name]
    types = (f'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             f'<Default Extension="xml" ContentType="application/xml"/>'
             f'<Override PartName="/{folder}/{part}" ContentType="{content_type}"/></Types>')
    rels = (f'<Relationships xmlns="{_RELS}"><Relationship Id="rId1" Type="{_DOC_REL}" '
            f'Target="{folder}/{part}"/></Relationships>')
    return _zip([("[Content_Types].xml", _XML + types.encode()), ("_rels/.rels", _XML + rels.encode()),
                 (f"{folder}/{part}", _XML + body)])


def _oxps() -> bytes:
    seq = "application/vnd.ms-package.xps-fixeddocumentsequence+xml"
    types = (f'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             f'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             f'<Override PartName="/FixedDocumentSequence.fdseq" ContentType="{seq}"/></Types>')
    rels = (f'<Relationships xmlns="{_RELS}"><Relationship Id="R0" Type="http://schemas.openxps.org/'
            f'oxps/v1.0/fixedrepresentation" Target="/FixedDocumentSequence.fdseq"/></Relationships>')
    fdseq = b'<FixedDocumentSequence xmlns="http://schemas.openxps.org/oxps/v1.0"/>'
    return _zip([("[Content_Types].xml", _XML + types.encode()), ("_rels/.rels", _XML + rels.encode()),
                 ("FixedDocumentSequence.fdseq", _XML + fdseq)])


_ODF = {
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "odg": "application/vnd.oasis.opendocument.graphics",
    "ott": "application/vnd.oasis.opendocument.text-template",
    "ots": "application/vnd.oasis.opendocument.spreadsheet-template",
    "otp": "application/vnd.oasis.opendocument.presentation-template",
    "otg": "application/vnd.oasis.opendocument.graphics-template",
}


def _odf(name: str) -> bytes:
    """OpenDocument: a stored ``mimetype`` entry first, then content and manifest."""
    mime = _ODF[name]
    content = (b'<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               b'office:version="1.3"><office:body/></office:document-content>')
    manifest = (f'<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
                f'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
                f'manifest:media-type="{mime}"/><manifest:file-entry manifest:full-path="content.xml" '
                f'manifest:media-type="text/xml"/></manifest:manifest>').encode()
    return _zip([("mimetype", mime.encode()), ("content.xml", _XML + content),
                 ("META-INF/manifest.xml", _XML + manifest)])


def _epub() -> bytes:
    container = (b'<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
                 b'<rootfiles><rootfile full-path="content.opf" media-type="application/oebps-package+xml"/>'
                 b'</rootfiles></container>')
    opf = (b'<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
           b'<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>'
           b'<dc:title>trustgen</dc:title><dc:language>en</dc:language></metadata><manifest/><spine/></package>')
    return _zip([("mimetype", b"application/epub+zip"), ("META-INF/container.xml", _XML + container),
                 ("content.opf", _XML + opf)])


def _dng() -> bytes:
    return _pillow("TIFF", tiffinfo={50706: b"\x01\x04\x00\x00"})  # DNGVersion 1.4


def sign_with_c2pa(data: bytes, mime: str, signer, *, source_type: str = "digitalCapture",
                   sidecar: bool = False) -> bytes:
    """``data`` signed by c2pa-python's Builder directly (trustgen only turns the key into c2pa's
    ``Signer``): a created action with ``source_type``; with ``sidecar``, the bare manifest
    store instead of the signed file."""
    import c2pa

    definition = {
        "claim_generator_info": [{"name": "trustgen-tests", "version": "1"}],
        "title": "sample", "format": mime,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/" + source_type}]}}],
    }
    ekus = "1.3.6.1.5.5.7.3.4\n1.3.6.1.5.5.7.3.36\n1.3.6.1.4.1.62558.2.1\n"
    context = c2pa.Context.from_dict({"trust": {"trust_config": ekus},
                                      "builder": {"thumbnail": {"enabled": False}}})
    builder, out = c2pa.Builder(definition, context=context), io.BytesIO()
    try:
        if sidecar:
            builder.set_no_embed()
        store = builder.sign(signer.c2pa_signer(), mime, io.BytesIO(data), out)
    finally:
        builder.close()
    return bytes(store) if sidecar else out.getvalue()


def _manifest_store() -> bytes:
    """A sidecar manifest store (``.c2pa``), signed with a throwaway chain."""
    from credentials.pki import make_chain  # tests/ is on sys.path

    from trustgen.credentials.keys import load_signer

    with tempfile.TemporaryDirectory() as tmp:
        chain = make_chain(Path(tmp), "es256")
        signer = load_signer(chain.key, chain.chain)
        return sign_with_c2pa(_pillow("JPEG"), "image/jpeg", signer, sidecar=True)


SAMPLES = {
    "jpeg": lambda: _pillow("JPEG", quality=92),
    "png": lambda: _pillow("PNG"),
    "webp": lambda: _pillow("WEBP", quality=92),
    "gif": lambda: _pillow("GIF"),
    "tiff": lambda: _pillow("TIFF"),
    "avif": lambda: _pillow("AVIF", quality=90),
    "heic": _heif,
    "heif": lambda: _heif(b"mif1"),
    "jxl": jxl,
    "nef": _dng,  # camera raw files are TIFF structures; c2pa reads them as such
    "arw": _dng,
    "dng": _dng,
    "svg": lambda: SVG,
    "bmp": lambda: _pillow("BMP"),
    "mp4": lambda: _av("mp4", video="h264", audio="aac"),
    "mov": lambda: _av("mov", video="h264"),
    "avi": _avi,
    "m4a": lambda: _av("ipod", audio="aac"),
    "wav": _wav,
    "mp3": lambda: _soundfile("MP3"),
    "flac": lambda: _soundfile("FLAC"),
    "pdf": _pdf,
    **{name: (lambda n=name: _ooxml(n)) for name in _OOXML},
    "oxps": _oxps,
    **{name: (lambda n=name: _odf(n)) for name in _ODF},
    "epub": _epub,
    "zip": lambda: _zip([("notes.txt", b"plain text in a zip\n")]),
    "c2pa": _manifest_store,
}


def make(name: str) -> bytes:
    return SAMPLES[name]()
