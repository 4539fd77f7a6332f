"""The mutations do what they claim: reproducible from their rng, and aimed where they say
(a fuzzer whose header edits never reach the header finds nothing)."""

from __future__ import annotations

import io
import random

import pytest
from fuzz import mutations
from PIL import Image

from trustgen.media import decodes, formats

FORMATS = sorted(f.name for f in formats(can_decode=True) if decodes(f.name))


def _by_format(seeds, name):
    return next(s for s in seeds if s.name == f"raster/{name}-{mutations.SMALL}")


def test_every_decodable_format_has_a_seed_pillow_reads(seeds):
    for name in FORMATS:
        seed = _by_format(seeds, name)
        with Image.open(io.BytesIO(seed.data)) as img:
            assert img.size == (mutations.SMALL, mutations.SMALL), name


@pytest.mark.parametrize("name", FORMATS)
def test_a_claimed_size_reaches_the_header_pillow_reads(seeds, name):
    if name in ("heic", "heif"):  # HEVC pads 48 px to 64: the size shown is the clean aperture's
        pytest.skip("HEIF shows the clean-aperture (clap) size, which set_dimensions does not edit")
    data = mutations.set_dimensions(_by_format(seeds, name).data, 1000, 3)
    with Image.open(io.BytesIO(data)) as img:
        assert img.size == (1000, 3)


def test_every_mutation_is_reproduced_by_its_rng(seeds):
    policy = mutations.policy_seeds()[0].data
    for k, seed in enumerate(seeds):
        for name in mutations.IMAGE_MUTATORS:
            first = mutations.apply_mutation(name, seed.data, random.Random(k), others=(policy,))
            again = mutations.apply_mutation(name, seed.data, random.Random(k), others=(policy,))
            assert first == again, (seed.name, name)
    for name, mutate in mutations.POLICY_MUTATORS.items():
        assert mutate(policy.decode(), random.Random(1)) == mutate(policy.decode(), random.Random(1))


def test_c2pa_flips_land_inside_the_manifest(signed):
    seed = signed[0]
    offsets = mutations.c2pa_offsets(seed.data)
    assert offsets, "no JUMBF marker found in a signed file"
    first, last = min(offsets) - 16, max(offsets) + 4096
    for k in range(50):
        mutant = mutations.c2pa_flip(seed.data, random.Random(k))
        changed = [i for i, (a, b) in enumerate(zip(seed.data, mutant)) if a != b]
        assert changed and first <= changed[0] and changed[-1] <= last


def test_png_edits_fix_the_crcs_when_they_say_so(seeds):
    seed = _by_format(seeds, "png").data
    damaged = mutations.flip_bits(seed, random.Random(0), start=41, end=len(seed) - 12)
    fixed = mutations.fix_png_crcs(damaged)
    for start, end in mutations.png_chunks(fixed):
        body = fixed[start + 4:end - 4]
        assert int.from_bytes(fixed[end - 4:end], "big") == mutations.zlib.crc32(body)


def test_the_structure_parsers_find_the_chunks_segments_and_boxes(seeds):
    by_name = {s.name: s.data for s in seeds}
    png = by_name[f"raster/png-{mutations.SMALL}"]
    kinds = [png[s + 4:s + 8] for s, _ in mutations.png_chunks(png)]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    assert {m for _, _, m in mutations.jpeg_segments(by_name[f"raster/jpeg-{mutations.SMALL}"])} >= {0xC0, 0xDA}
    webp = by_name["raster/webp-animated"]
    first, _ = mutations.riff_chunks(webp)[0]
    assert webp[first:first + 4] == b"VP8X"
    avif = by_name[f"raster/avif-{mutations.SMALL}"]
    assert b"ispe" in {avif[s + 4:s + 8] for s, _ in mutations.bmff_boxes(avif)}


def test_bombs_are_small_files_that_claim_the_pixel_limit():
    for seed in mutations.bomb_seeds(limit=1 << 22):
        assert len(seed.data) < 64_000, seed.name
        with Image.open(io.BytesIO(seed.data)) as img:
            assert img.width * img.height >= 1 << 20 or max(img.size) >= 1 << 21, seed.name
