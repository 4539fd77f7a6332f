"""trustgen's own scheme: a keyed spread-spectrum tile, repeated, that finds its own geometry.

Why this design (classical, CPU-only, tens of milliseconds):

* **Canonical resolution.** The mark is a ``TILE`` x ``TILE`` pattern of +-1 chips laid out on a
  working grid whose shorter side is ``WORK`` cells, then upsampled to the image. Any resize of
  the whole image maps the working grid onto itself, so downscaling costs no search, and the
  pattern's frequencies scale with the image (coarse enough to survive JPEG and blur).
* **Self-reference.** The tile repeats, so a crop is only a cyclic shift of the tile, and any
  affine change of the image (rotation, mirror, scale, aspect, shear) only turns the square grid
  of repeats into a skewed lattice. The detector folds all tiles onto one (summing every
  repetition: the spread-spectrum gain) and finds the shift by correlating with a public pilot
  pattern that occupies an eighth of the tile. Registration samples each cell ``OVERSAMPLE``
  times so the shift is found to a fraction of a cell: at one sample per cell a crop that lands
  between cells averages neighbouring chips and loses up to half the signal.
* **Geometric registration** (``_registrations``, ``sync.py``). Registrations are tried cheapest
  first and ranked by the pilot's match: no change; the 8 symmetries of the square (quarter
  turns, mirrors) on the unchanged grid; the strongest periods along the axes of the residual's
  autocorrelation (crops, aspect changes; these sums still show on grass-like textures); the
  lattices of its 2-D autocorrelation, read directly (its peaks sit on the tile lattice, whose
  two shortest vectors give rotation, scale, aspect and shear at once: no search over angles),
  each under the 8 symmetries; and, when nothing matched clearly, the central 60% on its own
  lattice (a perspective change bends the lattice across the image; its centre is nearly affine).
  The first ``DECODES`` are decoded: the p-value pays for each (below), while choosing them by
  the key-less pilot costs nothing, since it cannot know the key's tag. A template in the DFT
  magnitude with log-polar registration (Fourier-Mellin) was not needed: the repeats are the
  template, and reading the lattice costs one small FFT.
* **Three layers.** The pilot (public) synchronises. ``PUBLIC_CELLS`` cells carry the public
  layer: the issuer id (24 bits of a hash of the key) and a public check, convolutionally coded,
  at a public layout (``public.py``): anyone can tell a trustgen mark is there and which issuer
  it names, with a p-value. The rest carry the keyed payload (``payload.pack_info``: content id
  and tag), with cell assignment and chip signs drawn from the key: without the key the bits
  cannot be read or written. The public layer cost the keyed payload a third of its cells
  (about 1.7 dB).
* **Limit: small images.** ``WORK`` is 256, so on a 256 px image a cell is one pixel: the mark
  survives crops, noise, gain changes, mirrors and aspect changes there, and mostly rotations,
  but JPEG 50's quantisation and a 50% downscale (which averages neighbouring chips) wipe it,
  and the crop/downscale/JPEG chain with it (6%, 0% and 0% in 34 trials, after the public layer
  took its cells; 45%, 0% and 1% before; benchmarks/results/watermark.md, 256 rows). A coarser
  grid for short sides under 512 (cells of 1.5 or 2 px, with that period as an extra
  registration hypothesis) was tried: on 17 photos at 256 it raised JPEG 50 to 88-100%, a 50%
  downscale to 70-90% and the chain to 65-70%, still short of 99%, while the 2 px chips lost
  heavily textured photos (grass, gravel) even un-attacked and the spent registration cost crop
  robustness at 512; not adopted. Marks meant to survive are made at ``MARK_SIDE`` (512 px) or
  more (``watermark.marking_size``). Embedding uses dithered rounding, so even one-pixel cells
  get the full PSNR 40 dB budget.
* **Limit: texture and perspective.** The lattice shows in the autocorrelation only where the
  mark is strong against the photo's own texture: rotated grass and gravel stay unread, tissue
  stains (immunohistochemistry) at some angles (the axis sums still register their crops and
  aspect changes). Moving the corners by 2% is read in about 80% of photos, by 5% in a third:
  only the image's centre is registered on its own lattice, and where even that is bent too far
  the fold is incoherent (fitting a homography through block drifts, and registering the
  quadrants on their own, were tried and gained nothing).
* **Whitened, locally normalised detection.** The detector subtracts a local prediction of each
  working cell and divides by the local residual energy, so textured regions do not drown flat
  ones, and brightness or contrast changes (a gain) do not matter.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from . import payload, sync
from .registry import register_scheme

#: Shorter side of the working grid, in cells.
WORK = 256
#: Tile side, in working cells.
TILE = 32
#: Mean squared change per RGB value, rounding and clipping included: PSNR 40.1 dB.
TARGET_MSE = 255.0**2 / 10 ** (40.1 / 10)
#: Lattice periods accepted, as multiples of TILE: 0.6 (a 45-degree turn with its border, a
#: screenshot) .. 2.1 (cropped to under half a side).
PERIODS = (0.6, 2.1)
#: Autocorrelation lags computed, in cells (the longest period plus a margin).
REACH = 100
#: Isotropic periods tried from the axis sums of the autocorrelation, beside the per-axis best.
CANDIDATES = 3
#: Local refinement step of the best axis period, in working cells.
REFINE = 0.15
#: Lattices tried from the autocorrelation.
LATTICES = 2
#: Pilot z-score above which a registration is taken as found: no perspective search after it.
CLEAR = 7.0
#: Share of each side kept for the central registration (perspective).
CENTRAL = 0.6
#: Registrations decoded at most (each one more chance of a false match: the p-value pays).
DECODES = 4
#: Share of tile cells given to the public pilot (1/8 measured best: sync holds, payload gains).
PILOT = 0.125
#: Tile cells carrying the public layer (issuer id and check); the keyed payload gets the rest.
PUBLIC_CELLS = 288
#: Samples per cell when registering.
OVERSAMPLE = 2
#: Detector whitening: prediction blur and local-energy window (in cells), energy floor.
HP_SIGMA, ENERGY_SIGMA, FLOOR = 0.5, 1.2, 0.01


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _work_luma(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """The luminance resampled to ``width`` x ``height`` (area), never whole at full size.

    Area resampling is separable, so each band of rows is resampled across, and the stacked
    bands (``height`` rows of the image by ``width``) down: the same values as resampling the
    whole luminance, which at 8192 x 8192 would hold 1 GB of float copies.
    """
    import cv2

    h, w = rgb.shape[:2]
    rows = max(1, 2**18 // w)
    across = np.empty((h, width), dtype=np.float32)
    for y in range(0, h, rows):
        band = _luma(rgb[y:y + rows])
        across[y:y + len(band)] = cv2.resize(band, (width, len(band)), interpolation=cv2.INTER_AREA)
    return cv2.resize(across, (width, height), interpolation=cv2.INTER_AREA)


@lru_cache(maxsize=1)
def _pilot() -> tuple[np.ndarray, np.ndarray]:
    """The public pilot: (mask of pilot cells, +-1 chips on them)."""
    rng = np.random.default_rng(_seed(b"trustgen pilot v1"))
    mask = np.zeros(TILE * TILE, dtype=bool)
    mask[rng.permutation(TILE * TILE)[: round(TILE * TILE * PILOT)]] = True
    chips = np.where(rng.integers(0, 2, TILE * TILE) == 1, 1.0, -1.0)
    return mask.reshape(TILE, TILE), (chips * mask).reshape(TILE, TILE)


@lru_cache(maxsize=1)
def _public_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Public (issuer cell indices, coded bit of each, chip of each): anyone can read them."""
    mask, _ = _pilot()
    rng = np.random.default_rng(_seed(b"trustgen public layout v1"))
    cells = np.sort(rng.choice(np.flatnonzero(~mask.ravel()), PUBLIC_CELLS, replace=False))
    bit_of = rng.permutation(cells.size) % payload.PUBLIC_CODED_BITS
    return cells, bit_of, np.where(rng.integers(0, 2, cells.size) == 1, 1.0, -1.0)


@lru_cache(maxsize=16)
def _layout(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keyed (message cell indices, coded bit of each, chip of each): the cells left over."""
    taken = _pilot()[0].ravel().copy()
    taken[_public_layout()[0]] = True
    cells = np.flatnonzero(~taken)
    rng = np.random.default_rng(_seed(b"trustgen layout v2" + key))
    bit_of = rng.permutation(cells.size) % payload.CODED_BITS
    chips = np.where(rng.integers(0, 2, cells.size) == 1, 1.0, -1.0)
    scramble = rng.integers(0, 2, payload.CODED_BITS)
    return cells, bit_of, chips * np.where(scramble[bit_of] == 1, -1.0, 1.0)


def _seed(label: bytes) -> int:
    return int.from_bytes(hashlib.sha256(label).digest()[:8], "big")


def _work_shape(h: int, w: int) -> tuple[int, int]:
    f = WORK / min(h, w)
    return max(1, round(h * f)), max(1, round(w * f))


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    """Add the keyed tile to the luminance (equally to R, G and B) at PSNR 40.1 dB.

    Worked a band of rows at a time, so no float copy of the whole image is held (they took
    4 GB at 8192 x 8192); only the upsampled tile is, in float32.
    """
    h, w = rgb.shape[:2]
    tile = _pilot()[1].ravel().copy()
    for (cells, bit_of, chips), bits in ((_layout(key), payload.pack_info(key, content_id)),
                                         (_public_layout(),
                                          payload.pack_public(payload.issuer_id(key)))):
        coded = np.array(payload.conv_encode(bits), dtype=np.float64)
        tile[cells] = chips * (1 - 2 * coded[bit_of])
    tile = tile.reshape(TILE, TILE)
    delta = _spread(tile, h, w)
    rows = max(1, 2**18 // w)

    def marked(gain):
        """(first row, band of the image, the band marked in float32), band by band."""
        # dithered rounding: at one pixel per cell (256 px images) plain rounding turns every
        # chip into the same whole number and cannot hit the PSNR budget (42 dB, not 40);
        # dithered, the mean change is the mark's exact amplitude at any size
        dither = np.random.default_rng(0)  # drawn band by band: the same numbers as at once
        for y in range(0, h, rows):
            band = rgb[y:y + rows]
            out = band.astype(np.float32)
            out += gain * delta[y:y + rows, :, None]
            out += dither.random(band.shape[:2], dtype=np.float32)[:, :, None]
            yield y, band, np.clip(np.floor(out, out=out), 0, 255, out=out)

    def squares(a: np.ndarray) -> float:
        return float(np.square(a, dtype=np.float64).sum())

    power = sum(squares(delta[y:y + rows]) for y in range(0, h, rows)) / delta.size
    gain = np.float32(np.sqrt(TARGET_MSE / power))
    # spend the whole budget: clipping at black and white wastes some; one correction lands
    # within 0.02 dB of it (a second cost a third of embed's time for 0.01 dB)
    mse = sum(squares(out - band) for _, band, out in marked(gain)) / rgb.size
    gain *= np.float32(np.sqrt(TARGET_MSE / max(mse, 1e-9)))
    result = np.empty_like(rgb)
    for y, _, out in marked(gain):
        result[y:y + len(out)] = out
    return result


def _spread(tile: np.ndarray, h: int, w: int) -> np.ndarray:
    """The tile repeated over the working grid and upsampled to the image."""
    import cv2

    hw, ww = _work_shape(h, w)
    reps = (-(-hw // TILE), -(-ww // TILE))
    pattern = np.tile(tile, reps)[:hw, :ww].astype(np.float32)
    return cv2.resize(pattern, (w, h), interpolation=cv2.INTER_LANCZOS4)


def _whiten(y: np.ndarray, k: int = 1) -> np.ndarray:
    """Residual after a local prediction, divided by its local RMS (k samples per cell)."""
    import cv2

    r = y - cv2.GaussianBlur(y, (0, 0), HP_SIGMA * k)
    energy = cv2.GaussianBlur(r * r, (0, 0), ENERGY_SIGMA * k)
    return r / np.sqrt(energy + 1e-3 + FLOOR * float(np.mean(energy)))


@lru_cache(maxsize=4)
def _pilot_spectrum(k: int) -> np.ndarray:
    return np.conj(np.fft.rfft2(np.kron(_pilot()[1], np.ones((k, k)))))


def _sync(folded: np.ndarray) -> tuple[float, np.ndarray]:
    """(pilot peak z-score, one value per tile cell in the embedder's alignment).

    ``folded`` has k samples per cell; the pilot's correlation peak, refined to a
    fraction of a sample, says where the cells are; the tile is shifted there (exactly, in the
    Fourier domain: it is periodic) and each cell's samples averaged.
    """
    n = folded.shape[0]
    f = np.fft.rfft2(folded)
    corr = np.fft.irfft2(f * _pilot_spectrum(n // TILE), s=folded.shape)
    dy, dx = np.unravel_index(int(np.argmax(corr)), corr.shape)
    z = (corr[dy, dx] - corr.mean()) / (corr.std() + 1e-12)

    def frac(a, b, c):
        d = a - 2 * b + c
        return 0.0 if d >= 0 else 0.5 * (a - c) / d

    fy = frac(corr[dy - 1, dx], corr[dy, dx], corr[(dy + 1) % n, dx])
    fx = frac(corr[dy, dx - 1], corr[dy, dx], corr[dy, (dx + 1) % n])
    ky = np.fft.fftfreq(n)[:, None]
    kx = np.fft.rfftfreq(n)[None, :]
    aligned = np.fft.irfft2(f * np.exp(2j * np.pi * (ky * (dy + fy) + kx * (dx + fx))), s=(n, n))
    k = n // TILE
    return float(z), aligned.reshape(TILE, k, TILE, k).mean(axis=(1, 3))


def _period_scores(r: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation of the residual along ``axis`` summed over multiples of each period."""
    n = r.shape[axis]
    spec = np.fft.rfft(r, n=2 * n, axis=axis)
    acf = np.fft.irfft((spec * spec.conj()).real.sum(axis=1 - axis), n=2 * n)[:n]
    acf /= np.maximum(n - np.arange(n), 1)
    acf /= acf[0] + 1e-12
    periods = np.arange(PERIODS[0] * TILE, PERIODS[1] * TILE, 0.02)
    score = np.zeros_like(periods)
    for k in range(1, 5):
        lag = k * periods
        ok = lag < n / 2
        score[ok] += np.interp(lag[ok], np.arange(n), acf)
    return periods, score


def _peaks(periods: np.ndarray, score: np.ndarray, count: int) -> list[float]:
    is_peak = np.r_[False, (score[1:-1] > score[:-2]) & (score[1:-1] >= score[2:]), False]
    idx = np.flatnonzero(is_peak)
    return [float(periods[i]) for i in idx[np.argsort(score[idx])[::-1][:count]]]



@lru_cache(maxsize=4)
def _pilot_spectra(k: int) -> np.ndarray:
    """Conjugate spectra of the pilot under the inverse of each ``sync.dihedral`` symmetry:
    correlating a fold with them scores every orientation of it from one transform."""
    pilot = np.kron(_pilot()[1], np.ones((k, k)))
    inverse = [np.rot90(pilot, -r) for r in range(4)] + [np.rot90(pilot, -r).T for r in range(4)]
    return np.conj(np.fft.rfft2(np.stack(inverse)))


def _oriented(reg: np.ndarray, k: int, symmetries: int = 8) -> list[tuple[float, object]]:
    """(pilot z, the tile cells when called) of a registered residual under the square's first
    ``symmetries`` symmetries (rotations by 90 degrees and mirrors, which a lattice cannot tell
    apart). The z-scores come from one transform; a tile is aligned only if it is decoded."""
    folded = sync.fold(reg, TILE * k)
    corr = np.fft.irfft2(np.fft.rfft2(folded)[None] * _pilot_spectra(k)[:symmetries],
                         s=folded.shape)
    flat = corr.reshape(symmetries, -1)
    z = (flat.max(axis=1) - flat.mean(axis=1)) / (flat.std(axis=1) + 1e-12)
    views = list(sync.dihedral(folded))
    return [(float(z[i]), lambda t=views[i]: _sync(np.ascontiguousarray(t))[1])
            for i in range(symmetries)]


def _scaled(base: np.ndarray, py: float, px: float) -> np.ndarray:
    """The residual resized so the tile period (``py`` x ``px`` cells) becomes TILE cells: a
    crop or an aspect change. Area resampling, which averages what a shrink drops."""
    import cv2

    h, w = base.shape
    k = min(h, w) // WORK or 1
    size = (max(TILE * k, round(w * TILE / px)), max(TILE * k, round(h * TILE / py)))
    return cv2.resize(base, size, interpolation=cv2.INTER_AREA)


def _warped(base: np.ndarray, basis: np.ndarray, k: int) -> list[tuple[float, object]]:
    """``_oriented`` of the residual resampled so the lattice ``basis`` (cells) becomes the grid."""
    return _oriented(sync.warp(base, *sync.affine(base.shape, basis / TILE)), k)


def _registrations(rgb: np.ndarray):
    """Candidate registrations onto the tile grid (tile cell values), most likely first, lazily.

    The luminance is resampled to the working grid (``OVERSAMPLE`` samples per cell) and
    whitened once; every registration resamples that residual, not the image. First no change
    (the image was at most resized as a whole: the common case, and cheap). Then every other
    hypothesis, ranked by pilot match at full resolution (at one sample per cell a crop that
    lands between cells halves the pilot peak and misranks the true period):

    * the unchanged grid under the square's other symmetries (mirror, quarter turns);
    * the strongest periods along the axes (crops and aspect changes: on a grass-like texture
      single lattice peaks drown, the axis sums still show), the best refined by a small local
      search;
    * the lattices of the residual's 2-D autocorrelation (``sync.lattices``: rotation, scale,
      crop, aspect, shear), each under the 8 symmetries;
    * when none of these matches the pilot clearly, the central part on its own lattice: a
      perspective change bends the lattice across the image, so no single affine map folds all
      of it coherently, but its centre is nearly affine and still holds enough tiles.
    """
    import cv2

    hw, ww = _work_shape(*rgb.shape[:2])
    k = OVERSAMPLE
    base = _whiten(_work_luma(rgb, ww * k, hw * k), k)
    turned = _oriented(base, k)
    yield turned.pop(0)[1]()
    r = cv2.resize(base, (ww, hw), interpolation=cv2.INTER_AREA)
    periods, sy = _period_scores(r, 0)
    sx = _period_scores(r, 1)[1]
    pairs = [(p, p) for p in _peaks(periods, sy + sx, CANDIDATES)]
    pairs += list(zip(_peaks(periods, sy, 1), _peaks(periods, sx, 1)))
    axis = sorted(((*_oriented(_scaled(base, a, b), k, 1)[0], a, b)
                   for a, b in dict.fromkeys(pairs) if (a, b) != (TILE, TILE)),
                  key=lambda c: (c[0], c[2], c[3]), reverse=True)
    if axis:
        _, _, a, b = axis[0]
        axis[0] = max([axis[0]] + [(*_oriented(_scaled(base, a + d, b + d), k, 1)[0], a, b)
                                   for d in (-REFINE, REFINE)], key=lambda c: c[0])
    grids = sync.lattices(sync.autocorrelation(r, REACH), PERIODS[0] * TILE,
                          PERIODS[1] * TILE, LATTICES)
    for basis in grids:
        if not _is_square(basis):  # the unchanged grid is tried already
            turned += _warped(base, basis, k)
    families = [turned, [c[:2] for c in axis]]
    if grids and max(z for f in families for z, _ in f) < CLEAR:
        h, w = r.shape
        y0, x0 = round(h * (1 - CENTRAL) / 2), round(w * (1 - CENTRAL) / 2)
        acf = sync.autocorrelation(r[y0:h - y0, x0:w - x0], REACH)
        families.append(_warped(base[y0 * k:(h - y0) * k, x0 * k:(w - x0) * k],
                                sync.refine(acf, grids[0], search=3), k))
    # each kind of change gets its best registration decoded before any kind gets a second: on a
    # textured photo dozens of lattice symmetries can outscore a crop's true axis period by chance
    heads = [max(f, key=lambda c: c[0]) for f in families if f]
    rest = [c for f in families for c in f if not any(c is h for h in heads)]
    for _z, tile in sorted(heads, key=lambda c: c[0], reverse=True) + \
            sorted(rest, key=lambda c: c[0], reverse=True):
        yield tile()


def _is_square(basis: np.ndarray) -> bool:
    """Is the lattice the unchanged tile grid (up to the square's symmetries)?"""
    return bool(np.allclose(np.sort(np.abs(basis).ravel()), [0, 0, TILE, TILE], atol=0.02))


def _read(rgb: np.ndarray, keys, public: bool):
    """(best keyed reading per key, best public reading or None) over up to DECODES
    registrations; stops at an exact keyed match (and an exact public one, if asked).

    The p-values are multiplied by DECODES whether or not all were tried: each decode is one more
    chance for a false match, and stopping early cannot add chances.
    """
    if min(rgb.shape[:2]) < 64:
        return [], None
    exact_tag = payload.binomial_tail(0, payload.TAG_BITS)
    best: dict[bytes, payload.Reading] = {}
    found: payload.Reading | None = None
    registrations = _registrations(rgb)
    for _ in range(DECODES):
        if (not keys or any(r.p_value <= exact_tag for r in best.values())) and \
                (not public or (found is not None and found.bit_errors == 0)):
            break  # nothing can be more significant than an exact match
        tile = next(registrations, None)
        if tile is None:
            break
        for key in keys:
            reading = _decode(tile, key)
            if key not in best or reading.p_value < best[key].p_value:
                best[key] = reading
        if public:
            reading = _decode_public(tile)
            if found is None or reading.p_value < found.p_value:
                found = reading
    for reading in [*best.values(), found]:
        if reading is not None:
            reading.p_value = min(1.0, reading.p_value * DECODES)
    return [best[k] for k in keys], found


@register_scheme("trustgen", embed=embed, greyscale=True)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    """Decode under each key from up to DECODES registrations; stop at the first exact match."""
    return _read(rgb, keys, public=False)[0]


def read_both(rgb: np.ndarray, keys) -> tuple[list[payload.Reading], payload.Reading | None]:
    """``read`` and ``read_public`` from one pass over the registrations (the costly part)."""
    return _read(rgb, keys, public=True)


def read_public(rgb: np.ndarray) -> payload.Reading | None:
    """The public layer: a Reading whose ``content_id`` is the issuer id (6 hex digits) and whose
    p-value tests its public check; None for images too small to read."""
    return _read(rgb, (), public=True)[1]


def _soft(tile: np.ndarray, layout, n: int) -> np.ndarray:
    cells, bit_of, chips = layout
    soft = np.bincount(bit_of, weights=tile.ravel()[cells] * chips, minlength=n)
    return soft / (np.std(soft) + 1e-12)


def _decode(tile: np.ndarray, key: bytes) -> payload.Reading:
    soft = _soft(tile, _layout(key), payload.CODED_BITS)
    info = payload.viterbi_decode(soft)
    _version, cid, errors = payload.unpack_info(key, info)
    recoded = np.array(payload.conv_encode(info))
    flips = int(np.count_nonzero((soft < 0) != (recoded == 1)))
    return payload.Reading(payload.binomial_tail(errors, payload.TAG_BITS),
                           payload.format_content_id(cid), flips)


def _decode_public(tile: np.ndarray) -> payload.Reading:
    info = payload.viterbi_decode(_soft(tile, _public_layout(), payload.PUBLIC_CODED_BITS))
    issuer, errors = payload.unpack_public(info)
    return payload.Reading(payload.binomial_tail(errors, payload.CHECK_BITS), issuer, errors)
