"""Geometric registration of a repeated tile: its lattice from the autocorrelation, then warps.

A mark made of one tile repeated on a square grid turns, under any affine change of the image
(rotation, mirror, scale, aspect, shear), into the same tile repeated on a skewed lattice, and
the residual's autocorrelation has its peaks exactly on that lattice: its two shortest vectors
are the images of the tile's sides. So the affine map is read off the autocorrelation directly,
with no search over angles or scales; what the lattice cannot tell (which side is which, and
mirroring: the eight symmetries of a square) is left to the pilot, tried on the folded tile,
which is cheap. A perspective change bends the lattice slowly across the image; a part of it
can be registered on its own lattice, ``refine``d from the whole image's.

Pure numpy/OpenCV on float32 arrays; no knowledge of keys or payloads.
"""

from __future__ import annotations

import numpy as np

#: Candidate lattices refined on the autocorrelation's peaks before the final ranking.
REFINED = 4


def autocorrelation(r: np.ndarray, reach: int) -> np.ndarray:
    """Normalised linear autocorrelation of ``r`` for lags in [-reach, reach]^2 (row, column).

    Zero-padding by ``reach`` (not by the whole size) is enough for those lags and keeps the
    transform small. Each lag is divided by its overlap of non-zero samples (a border that a
    rotation or a screenshot added is exactly zero in the residual), so far lags are not shrunk.
    """
    from scipy import fft

    h, w = r.shape
    size = (fft.next_fast_len(h + reach, real=True), fft.next_fast_len(w + reach, real=True))
    lags = np.r_[np.arange(-reach, 0), np.arange(reach + 1)]
    window = []
    for a in (r, (r != 0).astype(np.float32)):
        spec = fft.rfft2(a, s=size, workers=1)
        full = fft.irfft2(spec.real**2 + spec.imag**2, s=size, workers=1)
        window.append(full[np.ix_(lags % size[0], lags % size[1])])
    acf = window[0] / np.maximum(window[1], 0.1 * window[1][reach, reach] + 1e-9)
    return (acf / (acf[reach, reach] + 1e-12)).astype(np.float32)


def lattices(acf: np.ndarray, shortest: float, longest: float, count: int) -> list[np.ndarray]:
    """Up to ``count`` candidate lattices, most likely first: 2x2 arrays whose columns are the two
    shortest lattice vectors (x, y) in samples, with lengths in [shortest, longest].

    On a textured photo a single lattice peak can sit at the noise's level, but the mark repeats
    at every multiple of a lattice vector, so each direction and length is scored over all its
    multiples within reach, and each lattice over all its points: the sum of the
    autocorrelation above its mean level, divided by the root of the number of points (a
    z-score). That sum prefers the true lattice to its multiples (fewer points, as strong) and
    to finer ones (half their points fall between peaks). The autocorrelation is read through a
    5x5 maximum of 2x2 means, so a vector read off a coarse grid still hits its far multiples.
    """
    reach = acf.shape[0] // 2
    # a peak a cell wide reads anywhere from half to full height at whole lags, depending on
    # where it falls between them; the mean of 2x2 lags reads it more evenly
    box = acf + np.roll(acf, 1, axis=0)
    box = (box + np.roll(box, 1, axis=1)) / 4
    near = box.copy()
    for shift in (-2, -1, 1, 2):  # separable 5x5 maximum
        np.maximum(near, np.roll(box, shift, axis=0), out=near)
    rows = near.copy()
    for shift in (-2, -1, 1, 2):
        np.maximum(near, np.roll(rows, shift, axis=1), out=near)
    near -= near.mean()  # what a point between peaks scores: 0

    def score(points: np.ndarray) -> np.ndarray:
        """z-score of ``near`` at points (..., 2, K) (x, y), ignoring points out of reach."""
        q = np.rint(points).astype(int) + reach
        ok = ((q >= 0) & (q < near.shape[0])).all(axis=-2)
        vals = np.where(ok, near[q[..., 1, :].clip(0, near.shape[0] - 1),
                                 q[..., 0, :].clip(0, near.shape[0] - 1)], 0.0)
        return vals.sum(axis=-1) / np.sqrt(np.maximum(ok.sum(axis=-1), 1))

    angles = np.deg2rad(np.arange(0, 180, 0.75))
    lengths = np.geomspace(shortest, longest, 72)
    unit = np.stack([np.cos(angles), np.sin(angles)])                 # 2 x A
    vec = unit[:, :, None] * lengths[None, None, :]                   # 2 x A x L
    # the multiples of each length within reach, and their z-score as a matrix product
    li_, mult = np.nonzero(lengths[:, None] * np.arange(1, 6) <= reach - 1)
    radii = lengths[li_] * (mult + 1)                                  # P
    at = np.rint(unit[:, :, None] * radii).astype(int) + reach        # 2 x A x P
    over = np.zeros((radii.size, lengths.size))
    over[np.arange(radii.size), li_] = 1
    over /= np.sqrt(over.sum(axis=0).clip(1))
    single = near[at[1], at[0]] @ over                                 # A x L
    # local maxima of the vector score (the angle wraps at 180 degrees)
    pad = np.pad(single, ((1, 1), (0, 0)), mode="wrap")
    pad = np.pad(pad, ((0, 0), (1, 1)), constant_values=-np.inf)
    is_max = np.ones(single.shape, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                is_max &= single >= pad[1 + dy:pad.shape[0] - 1 + dy, 1 + dx:pad.shape[1] - 1 + dx]
    ai, li = np.nonzero(is_max)
    vectors: list[np.ndarray] = []
    ranked_peaks = np.argsort(single[ai, li])[::-1][:64]
    for i in ranked_peaks:
        v = vec[:, ai[i], li[i]]
        if all(min(np.hypot(*(v - u)), np.hypot(*(v + u))) > 3 for u in vectors):
            vectors.append(v)
            if len(vectors) == 6:
                break
    # the second side can rank below noise along the first one's line (perspective smears a
    # side's far multiples): give each of the best two its best partner across
    for v in vectors[:2]:
        turn = np.abs((angles[ai[ranked_peaks]] - np.arctan2(v[1], v[0])) % np.pi - np.pi / 2)
        across = ranked_peaks[turn < np.deg2rad(40)]
        if across.size:
            vectors.append(vec[:, ai[across[0]], li[across[0]]])
    def plausible(basis: np.ndarray) -> bool:
        """Sides in range and far from parallel (a near-flat cell is no tile grid)."""
        sides = np.hypot(basis[0], basis[1])
        return bool(sides.min() >= 0.9 * shortest and sides.max() <= 1.1 * longest
                    and abs(_cross(basis[:, 0], basis[:, 1])) >= 0.5 * sides[0] * sides[1])

    bases = []
    for i, v1 in enumerate(vectors):
        for v2 in vectors[i + 1:]:
            if abs(_cross(v1, v2)) < 0.5 * np.hypot(*v1) * np.hypot(*v2):
                continue
            basis = _reduce(v1, v2)
            if not plausible(basis):
                continue
            area = abs(_cross(basis[:, 0], basis[:, 1]))
            if not any(abs(area - a) < 0.05 * area and _same(basis, b) for a, b in bases):
                bases.append((area, basis))
    if not bases:
        return []
    mn = np.array([(m, n) for m in range(-4, 5) for n in range(5) if n > 0 or m > 0],
                  dtype=float).T
    values = score(np.stack([b for _, b in bases]) @ mn)
    # a vector read off the coarse grid can be off by a cell or two, enough for the true
    # lattice's far points to miss and a coarser one to score higher: the best few are refined
    # on the peaks themselves, then scored again
    best = []
    for i in np.argsort(values)[::-1][:REFINED]:
        basis = bases[i][1]
        refined = refine(acf, basis, search=3)
        # far peaks smear under perspective and can pull the fit away: keep only a nudge
        best.append(refined if np.abs(refined - basis).max() < 3.5 and plausible(refined)
                    else basis)
    values = score(np.stack(best) @ mn)
    out: list[np.ndarray] = []
    for i in np.argsort(values)[::-1]:
        if not any(_same(best[i], b) for b in out):
            out.append(best[i])
        if len(out) == count:
            break
    return out


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    return float(u[0] * v[1] - u[1] * v[0])


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Do the bases span the same lattice (an integer change of basis of determinant +-1)?"""
    t = np.linalg.solve(a, b)
    return bool(np.allclose(t, np.rint(t), atol=0.1) and abs(abs(np.linalg.det(t)) - 1) < 0.1)


def _reduce(v1: np.ndarray, v2: np.ndarray) -> np.ndarray:
    """Lagrange-Gauss reduction: the two shortest vectors spanning the same lattice."""
    if np.dot(v1, v1) > np.dot(v2, v2):
        v1, v2 = v2, v1
    for _ in range(16):
        m = round(float(np.dot(v1, v2) / np.dot(v1, v1)))
        if m == 0:
            break
        v2 = v2 - m * v1
        if np.dot(v2, v2) < np.dot(v1, v1):
            v1, v2 = v2, v1
    return np.stack([v1, v2], axis=1)


def refine(acf: np.ndarray, basis: np.ndarray, order: int = 3, search: int = 1) -> np.ndarray:
    """Least-squares basis from the sub-sample peak positions of all lattice points in reach,
    each looked for within ``search`` samples of where ``basis`` puts it (then within 1)."""
    reach = acf.shape[0] // 2
    start = basis
    mn = np.array([(m, n) for m in range(-order, order + 1) for n in range(order + 1)
                   if n > 0 or m > 0], dtype=float).T
    for radius in (search, 1):
        q = basis @ mn
        at = np.rint(q).astype(int) + reach                   # (x, y) of each predicted point
        ok = ((at >= radius + 1) & (at < acf.shape[0] - radius - 1)).all(axis=0)
        if ok.sum() < 2:
            break
        at, used, q = at[:, ok], mn[:, ok], q[:, ok]
        span = np.arange(-radius, radius + 1)
        win = acf[at[1][:, None, None] + span[None, :, None],
                  at[0][:, None, None] + span[None, None, :]]
        flat = win.reshape(len(win), -1).argmax(axis=1)
        py = at[1] + flat // len(span) - radius
        px = at[0] + flat % len(span) - radius

        def frac(a, b, c):
            d = a - 2 * b + c
            return np.where(d < 0, np.clip(0.5 * (a - c) / np.where(d < 0, d, -1), -0.5, 0.5), 0)

        top = acf[py, px]
        fy = py + frac(acf[py - 1, px], top, acf[py + 1, px]) - reach
        fx = px + frac(acf[py, px - 1], top, acf[py, px + 1]) - reach
        close = np.hypot(fx - q[0], fy - q[1]) <= radius + 0.5
        wt = np.maximum(top, 0.0) * close
        gram = (used * wt) @ used.T
        if close.sum() < 2 or abs(np.linalg.det(gram)) < 1e-9:
            break
        basis = (np.stack([fx, fy]) * wt) @ used.T @ np.linalg.inv(gram)
    # noise can pull a fit onto a cell of another size altogether: that is no refinement
    ratio = abs(_cross(basis[:, 0], basis[:, 1])) / abs(_cross(start[:, 0], start[:, 1]))
    return basis if 0.7 < ratio < 1.4 else start


def affine(shape: tuple[int, int], a: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """(2x3 map from output to input samples, output size (w, h)) of the grid whose axes map to
    the columns of ``a`` (input samples per output sample), covering the whole input."""
    h, w = shape
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=float).T
    u = np.linalg.solve(a, corners)
    lo, hi = np.floor(u.min(axis=1)), np.ceil(u.max(axis=1))
    return np.hstack([a, (a @ lo)[:, None]]), (int(hi[0] - lo[0]), int(hi[1] - lo[1]))


def warp(base: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``base`` sampled at ``m @ (x, y, 1)`` for every output sample (x, y); zero outside it."""
    import cv2

    return cv2.warpAffine(base, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderValue=0)


def fold(r: np.ndarray, period: int) -> np.ndarray:
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


def dihedral(tile: np.ndarray):
    """The eight symmetries of a square tile (rotations by 90 degrees, and their mirrors)."""
    for t in (tile, tile.T):
        for r in range(4):
            yield np.rot90(t, r)

