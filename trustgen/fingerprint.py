"""The perceptual fingerprint of an image's pixels: Meta's PDQ, 256 bits and a quality score.

Why PDQ: it is an open, documented algorithm (Meta's ThreatExchange) built for exactly this
job (finding re-encoded, rescaled, lightly cropped copies of a photo at scale), it has a
maintained C++ implementation with Python bindings on PyPI (``pdqhash``), a 256-bit hash that
multi-index hashing can search in plain SQL, and a quality score that says when a hash is too
weak to rely on (flat or nearly blank images). It is not on the C2PA soft-binding algorithm list,
so its ``alg`` name here is its author's reverse domain.

``MAX_DISTANCE`` is the one threshold for "same picture"; ``benchmarks/durable.py`` measures its
false-match rate on unrelated images (the figure and its 95% bound are in the README).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DependencyError

#: The soft-binding algorithm name of this fingerprint (C2PA ``alg``, reverse-domain form).
ALG = "com.facebook.pdq"
#: Bits in a fingerprint.
BITS = 256
#: Largest Hamming distance at which two fingerprints are taken for the same picture (its
#: false-match rate on unrelated images is measured by benchmarks/durable.py).
MAX_DISTANCE = 31
#: At or beyond this distance PDQ no longer vouches for "same picture": unrelated photos sit
#: near 100-128 bits apart, but so does a 20% crop of the very picture (PDQ is not crop-robust),
#: so a far fingerprint alone never convicts a watermark of being copied: see RESEMBLANCE.
UNRELATED_DISTANCE = 64
#: ``resemblance`` at or above which an image is taken for (a crop, border or mirror of) the
#: reference picture. Measured at 96 px on the benchmark photos: unrelated pairs median 0.26,
#: highest 0.72; crops, borders and re-encodings of textured photos 0.9+, of texture-less ones
#: (a star field) 0.65, and a few degrees of rotation drop below it. Set above every unrelated
#: pair seen: a copied mark passing for provenance is worse than a real copy left unrecovered.
RESEMBLANCE = 0.75
#: ``matched_points`` at or above which an image is taken for a rotated, cropped, rescaled or
#: bordered copy of the reference: unrelated photo pairs of the benchmark reach 49 at most
#: (median 6), copies of textured photos keep 90-450 under the whole attack grid (a star field
#: 25-85, so rotated copies of such pictures stay unconfirmed).
MIN_MATCHED_POINTS = 60
#: PDQ's own advice: a hash with quality under 50 (flat, blank, tiny detail) is not reliable
#: enough to match on; such fingerprints are stored but never used to find a manifest.
MIN_QUALITY = 50
#: Images are hashed at most this many pixels on their long side (PDQ's filters work on 64 x 64
#: anyway; a 24-megapixel photo would otherwise cost a second of luma conversion).
MAX_SIDE = 1024
#: Bands of multi-index hashing (16 bits each). Two hashes less than BANDS bits apart share at
#: least one band exactly (pigeonhole), so exact band lookups find every match up to 15 bits;
#: from 16 to MAX_DISTANCE bits a match is found when one band came through unchanged, which
#: benchmarks/durable.py measures (recall by attack). More, shorter bands would be exhaustive but
#: unselective: 8-bit bands match 1/256 of a large store each.
BANDS = 16


@dataclass(frozen=True)
class Fingerprint:
    """A PDQ hash (32 bytes, big-endian as PDQ's hex form) and its quality (0-100)."""

    hash: bytes
    quality: int

    @property
    def hex(self) -> str:
        return self.hash.hex()

    @property
    def usable(self) -> bool:
        """Strong enough to look a manifest up by (``MIN_QUALITY``)."""
        return self.quality >= MIN_QUALITY

    def distance(self, other: "Fingerprint | bytes") -> int:
        return hamming(self.hash, other.hash if isinstance(other, Fingerprint) else other)


def _pdqhash():
    try:
        import pdqhash
    except ImportError as err:
        raise DependencyError(f"the perceptual fingerprint needs `pip install pdqhash` "
                              f"({err.name or err} is not installed)") from None
    return pdqhash


def _array(image):
    """The upright RGB pixels as uint8, shrunk to ``MAX_SIDE`` (box filter) when larger."""
    from PIL import Image

    from .media import rgb_array, upright

    image = upright(image)
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.BOX)
    return rgb_array(image)


def _pack(bits) -> bytes:
    import numpy as np

    return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


def compute(image) -> Fingerprint:
    """The fingerprint of a PIL image as viewers show it (EXIF orientation applied)."""
    bits, quality = _pdqhash().compute(_array(image))
    return Fingerprint(_pack(bits), int(quality))


def dihedral(image) -> tuple[Fingerprint, ...]:
    """The fingerprints of the image and of its 7 rotations/mirrors (PDQ computes all 8 in one
    pass), original first: a query by all of them finds a mirrored or rotated copy."""
    hashes, quality = _pdqhash().compute_dihedral(_array(image))
    return tuple(Fingerprint(_pack(bits), int(quality)) for bits in hashes)


def hamming(a: bytes, b: bytes) -> int:
    """Bits that differ between two equally long hashes."""
    if len(a) != len(b):
        raise ValueError(f"fingerprints of different lengths ({len(a)} and {len(b)} bytes)")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


#: Side (pixels) at which ``resemblance`` compares pictures: a manifest's thumbnail is 256 px.
_COMPARE_SIDE = 96
#: Fractions of one picture the other may cover (a crop, a screenshot with a border).
_SCALES = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)


def _grey(image, side: int):
    import numpy as np
    from PIL import Image

    from .media import upright

    image = upright(image).convert("L")
    scale = side / max(image.size)
    size = (max(8, round(image.width * scale)), max(8, round(image.height * scale)))
    return np.asarray(image.resize(size, Image.BOX), dtype=np.float32)


def resemblance(image, reference) -> float:
    """How well ``image`` matches ``reference`` (e.g. a manifest's thumbnail) or a part of it,
    or contains it: the best normalised cross-correlation (-1 to 1) over crops and borders of
    ``_SCALES`` and a mirror. Unlike PDQ it survives a crop, so it tells a cropped copy (high)
    from a watermark copied onto another picture (low); ``RESEMBLANCE`` is the bound."""
    import cv2
    import numpy as np

    ref = _grey(reference, _COMPARE_SIDE)
    img = _grey(image, _COMPARE_SIDE)
    best = -1.0
    for a, b in ((img, ref), (ref, img)):  # a crop of b, or b with a border around it
        for flipped in (a, a[:, ::-1]):
            for s in _SCALES:
                w = round(b.shape[1] * s)
                h = round(w * flipped.shape[0] / flipped.shape[1])
                if h > b.shape[0]:
                    h = round(b.shape[0] * s)
                    w = round(h * flipped.shape[1] / flipped.shape[0])
                if min(w, h) < 8 or w > b.shape[1] or h > b.shape[0]:
                    continue
                template = cv2.resize(np.ascontiguousarray(flipped), (w, h), interpolation=cv2.INTER_AREA)
                if template.std() < 1e-3:
                    continue
                best = max(best, float(cv2.matchTemplate(b, template, cv2.TM_CCOEFF_NORMED).max()))
    return best


def matched_points(image, reference) -> int:
    """Keypoints of ``image`` (or its mirror) that one rotation + scale + shift maps onto
    ``reference``: ORB features, ratio-tested matches, RANSAC. Survives rotation and crops
    where ``resemblance`` does not."""
    import cv2
    import numpy as np

    orb = cv2.ORB_create(nfeatures=1000, fastThreshold=5, edgeThreshold=15, patchSize=15)
    ref = np.ascontiguousarray(_grey(reference, 256).astype(np.uint8))
    kr, dr = orb.detectAndCompute(ref, None)
    if dr is None or len(kr) < 8:
        return 0
    img = _grey(image, 320).astype(np.uint8)
    best = 0
    for view in (img, img[:, ::-1]):
        ki, di = orb.detectAndCompute(np.ascontiguousarray(view), None)
        if di is None or len(ki) < 8:
            continue
        pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(di, dr, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
        if len(good) < 8:
            continue
        src = np.float32([ki[g.queryIdx].pt for g in good])
        dst = np.float32([kr[g.trainIdx].pt for g in good])
        _, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0)
        best = max(best, 0 if mask is None else int(mask.sum()))
    return best


def same_picture(image, reference) -> bool:
    """Whether ``image`` is (an edited copy of) the picture ``reference`` shows, for when PDQ
    cannot say (crops and rotations move it as far as another picture does)."""
    return (resemblance(image, reference) >= RESEMBLANCE
            or matched_points(image, reference) >= MIN_MATCHED_POINTS)


def bands(h: bytes) -> tuple[int, ...]:
    """The ``BANDS`` equal slices of a hash as signed integers (what both databases index)."""
    step = len(h) // BANDS
    return tuple(int.from_bytes(h[i:i + step], "big", signed=True) for i in range(0, len(h), step))
