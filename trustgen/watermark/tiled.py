"""trustgen's own scheme: a keyed spread-spectrum tile, repeated, that finds its own scale and shift.

Why this design (classical, CPU-only, a few milliseconds):

* **Canonical resolution.** The mark is a ``TILE`` x ``TILE`` pattern of +-1 chips laid out on a
  working grid whose shorter side is ``WORK`` cells, then upsampled to the image. Any resize of
  the whole image maps the working grid onto itself, so downscaling costs no search, and the
  pattern's frequencies scale with the image (coarse enough to survive JPEG and blur).
* **Self-reference.** The tile repeats, so a crop is only a cyclic shift of the tile plus a zoom
  of the working grid. The detector reads the period off the residual's autocorrelation (peaks
  at multiples of the period), registers the image to that period, folds all tiles onto one
  (summing every repetition: the spread-spectrum gain), and finds the shift by correlating with a
  public pilot pattern that occupies an eighth of the tile. Registration samples each cell
  ``OVERSAMPLE`` times so the shift is found to a fraction of a cell: at one sample per cell a
  crop that lands between cells averages neighbouring chips and loses up to half the signal.
* **Keyed payload.** The other seven eighths carry the convolutionally coded payload
  (``payload.pack_info``), with cell assignment and chip signs drawn from the key: without the
  key the bits cannot be read or written. The pilot is public, so anyone can tell a trustgen mark
  is there, but not what it says or forge one.
* **Limit: small images.** ``WORK`` is 256, so on a 256 px image a cell is one pixel: the mark
  survives crops, noise and gain changes there, but JPEG 50's quantisation and a 50% downscale
  (which averages neighbouring chips) wipe much or all of it, and the crop/downscale/JPEG chain
  with it (benchmarks/results/watermark.md, 256 rows). A coarser grid for short sides under 512
  (cells of 1.5 or 2 px, with that period as an extra registration hypothesis) was tried: on 17
  photos at 256 it raised JPEG 50 to 88-100%, a 50% downscale to 70-90% and the chain to
  65-70%, still short of 99%, while the 2 px chips lost heavily textured photos (grass, gravel)
  even un-attacked and the spent registration cost crop robustness at 512; not adopted.
  Embedding uses dithered rounding, so even one-pixel cells get the full PSNR 40 dB budget.
* **Whitened, locally normalised detection.** The detector subtracts a local prediction of each
  working cell and divides by the local residual energy, so textured regions do not drown flat
  ones, and brightness or contrast changes (a gain) do not matter.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

from . import payload
from .registry import register_scheme

#: Shorter side of the working grid, in cells.
WORK = 256
#: Tile side, in working cells.
TILE = 32
#: Mean squared change per RGB value, rounding and clipping included: PSNR 40.1 dB.
TARGET_MSE = 255.0**2 / 10 ** (40.1 / 10)
#: Periods searched, as multiples of TILE: 1 (resized only) .. 2 (cropped to half a side).
PERIOD_RANGE = (0.97, 2.05)
#: Isotropic periods tried from the autocorrelation, beside "no zoom" and the per-axis best.
CANDIDATES = 3
#: Registrations decoded at most (each one more chance of a false match: the p-value pays).
DECODES = 3
#: Local refinement step of the best period, in working cells.
REFINE = 0.15
#: Share of tile cells given to the public pilot (1/8 measured best: sync holds, payload gains).
PILOT = 0.125
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
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(b"trustgen pilot v1").digest()[:8],
                                               "big"))
    mask = np.zeros(TILE * TILE, dtype=bool)
    mask[rng.permutation(TILE * TILE)[: round(TILE * TILE * PILOT)]] = True
    chips = np.where(rng.integers(0, 2, TILE * TILE) == 1, 1.0, -1.0)
    return mask.reshape(TILE, TILE), (chips * mask).reshape(TILE, TILE)


@lru_cache(maxsize=16)
def _layout(key: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keyed (message cell indices, coded bit of each, chip of each)."""
    mask, _ = _pilot()
    cells = np.flatnonzero(~mask.ravel())
    seed = int.from_bytes(hashlib.sha256(b"trustgen layout v1" + key).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    bit_of = rng.permutation(cells.size) % payload.CODED_BITS
    chips = np.where(rng.integers(0, 2, cells.size) == 1, 1.0, -1.0)
    scramble = rng.integers(0, 2, payload.CODED_BITS)
    return cells, bit_of, chips * np.where(scramble[bit_of] == 1, -1.0, 1.0)


def _work_shape(h: int, w: int) -> tuple[int, int]:
    f = WORK / min(h, w)
    return max(1, round(h * f)), max(1, round(w * f))


def embed(rgb: np.ndarray, content_id: int, key: bytes) -> np.ndarray:
    """Add the keyed tile to the luminance (equally to R, G and B) at PSNR 40.1 dB.

    Worked a band of rows at a time, so no float copy of the whole image is held (they took
    4 GB at 8192 x 8192); only the upsampled tile is, in float32.
    """
    h, w = rgb.shape[:2]
    cells, bit_of, chips = _layout(key)
    coded = np.array(payload.conv_encode(payload.pack_info(key, content_id)), dtype=np.float64)
    tile = _pilot()[1].ravel().copy()
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
    for _ in range(2):  # spend the whole budget: clipping at black and white wastes some
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


def _period_scores(r: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation of the residual along ``axis`` summed over multiples of each period."""
    n = r.shape[axis]
    spec = np.fft.rfft(r, n=2 * n, axis=axis)
    acf = np.fft.irfft((spec * spec.conj()).real.sum(axis=1 - axis), n=2 * n)[:n]
    acf /= np.maximum(n - np.arange(n), 1)
    acf /= acf[0] + 1e-12
    periods = np.arange(PERIOD_RANGE[0] * TILE, PERIOD_RANGE[1] * TILE, 0.02)
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


def _fold(r: np.ndarray, period: int) -> np.ndarray:
    """Sum every repetition of the tile onto one (mean per position); counted per row and column
    (no count or float64 copy of the whole residual: a wide image's is hundreds of MB)."""
    h, w = r.shape
    ph, pw = -(-h // period) * period, -(-w // period) * period
    buf = np.zeros((ph, pw), dtype=r.dtype)
    buf[:h, :w] = r
    s = buf.reshape(ph // period, period, pw // period, period).sum(axis=(0, 2), dtype=np.float64)
    at = np.arange(period)
    count = np.outer(h // period + (at < h % period), w // period + (at < w % period))
    return s / np.maximum(count, 1)


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


def _register(base: np.ndarray, py: float, px: float, k: int) -> tuple[float, np.ndarray]:
    """Resample the whitened residual so the tile period is TILE cells of k samples; fold; sync.

    ``base`` is the residual on the no-zoom working grid (shorter side ``WORK`` cells, any whole
    number of samples per cell); returns (pilot z-score, tile cell values).
    """
    import cv2

    h, w = base.shape
    base_k = min(h, w) / WORK
    if (py, px) == (TILE, TILE) and base_k == k:
        reg = base
    else:
        size = (max(TILE * k, round(w * k / base_k * TILE / px)),
                max(TILE * k, round(h * k / base_k * TILE / py)))
        reg = cv2.resize(base, size, interpolation=cv2.INTER_AREA)
    return _sync(_fold(reg, TILE * k))


def _registrations(rgb: np.ndarray):
    """Candidate registrations onto the tile grid (tile cell values), most likely first, lazily.

    The luminance is resampled to the working grid (``OVERSAMPLE`` samples per cell) and
    whitened once; every registration resamples that residual, not the image. First no zoom
    (the image was at most resized as a whole: the common case, and cheap). Then the strongest
    isotropic periods of the residual's autocorrelation (crops that keep the aspect) and the best
    period per axis (anything else), ranked by pilot match, the best one refined by a small
    local search.
    """
    import cv2

    hw, ww = _work_shape(*rgb.shape[:2])
    k = OVERSAMPLE
    base = _whiten(_work_luma(rgb, ww * k, hw * k), k)
    yield _register(base, float(TILE), float(TILE), k)[1]
    r = cv2.resize(base, (ww, hw), interpolation=cv2.INTER_AREA)
    periods, sy = _period_scores(r, 0)
    sx = _period_scores(r, 1)[1]
    pairs = [(p, p) for p in _peaks(periods, sy + sx, CANDIDATES)]
    pairs += list(zip(_peaks(periods, sy, 1), _peaks(periods, sx, 1)))
    # rank by pilot match at full resolution (at one sample per cell a crop that lands between
    # cells halves the pilot peak and misranks the true period), refine the best finely
    found = sorted(((*_register(base, a, b, k), a, b)
                    for a, b in dict.fromkeys(pairs) if (a, b) != (TILE, TILE)),
                   key=lambda c: (c[0], c[2], c[3]), reverse=True)
    if found:
        z, tile, a, b = found[0]
        yield max((_register(base, a - REFINE, b - REFINE, k), (z, tile),
                   _register(base, a + REFINE, b + REFINE, k)), key=lambda c: c[0])[1]
    for _z, tile, _a, _b in found[1:]:
        yield tile


@register_scheme("trustgen", embed=embed, greyscale=True)
def read(rgb: np.ndarray, keys) -> list[payload.Reading]:
    """Decode under each key from up to DECODES registrations; stop at the first exact match.

    The p-value is multiplied by DECODES whether or not all were tried: each decode is one more
    chance for a false match, and stopping early cannot add chances.
    """
    if min(rgb.shape[:2]) < 64:
        return []
    exact = payload.binomial_tail(0, payload.TAG_BITS)
    best: dict[bytes, payload.Reading] = {}
    registrations = _registrations(rgb)
    for _ in range(DECODES):
        if any(r.p_value <= exact for r in best.values()):
            break  # nothing can be more significant than an exact tag match
        tile = next(registrations, None)
        if tile is None:
            break
        for key in keys:
            reading = _decode(tile, key)
            if key not in best or reading.p_value < best[key].p_value:
                best[key] = reading
    for reading in best.values():
        reading.p_value = min(1.0, reading.p_value * DECODES)
    return [best[k] for k in keys]


def _decode(tile: np.ndarray, key: bytes) -> payload.Reading:
    cells, bit_of, chips = _layout(key)
    soft = np.bincount(bit_of, weights=tile.ravel()[cells] * chips, minlength=payload.CODED_BITS)
    soft /= np.std(soft) + 1e-12
    info = payload.viterbi_decode(soft)
    _version, cid, errors = payload.unpack_info(key, info)
    recoded = np.array(payload.conv_encode(info))
    flips = int(np.count_nonzero((soft < 0) != (recoded == 1)))
    return payload.Reading(payload.binomial_tail(errors, payload.TAG_BITS),
                           payload.format_content_id(cid), flips)
