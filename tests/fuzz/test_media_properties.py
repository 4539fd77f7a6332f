"""trustgen.media on hostile bytes: sniffing never raises, decoding raises only InputError."""

from __future__ import annotations

import math

import pytest
from fuzz import mutations
from fuzz.strategies import FUZZ, any_bytes, mutated
from hypothesis import given, settings
from hypothesis import strategies as st

from trustgen.errors import InputError
from trustgen.media import MAX_PIXELS, decode_image, lookup, probe_image, sniff_format


def _check_error(err: InputError) -> None:
    text = str(err)
    assert text.startswith("upload.bin: ") and "\n" not in text, text


def _decode_or_refuse(data: bytes, *, probe: bool = True, decode: bool = True) -> None:
    fmt = sniff_format(data)
    assert fmt is None or lookup(fmt) is not None
    if probe:
        try:
            probe_image(data, path="upload.bin")
        except InputError as err:
            _check_error(err)
    if decode:
        try:
            image = decode_image(data, path="upload.bin")
        except InputError as err:
            _check_error(err)
            return
        assert 0 < image.width * image.height <= MAX_PIXELS


@settings(FUZZ, max_examples=100)
@given(data=any_bytes)
def test_any_bytes_are_sniffed_and_decoded_or_refused_with_an_input_error(data):
    _decode_or_refuse(data)


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_mutated_images_are_decoded_or_refused_with_an_input_error(seeds, data):
    _decode_or_refuse(data.draw(mutated(seeds)))


#: Headers claiming sizes no real file of that size holds: zero, past every field's range,
#: just over the pixel limit, and extreme aspect ratios.
CLAIMS = ((0, 0), (0, 48), (1, 0), (65535, 65535), (1 << 31, 1), (0xFFFFFFFF, 0xFFFFFFFF),
          (math.isqrt(MAX_PIXELS) + 1,) * 2, (1, 1 << 20), (1 << 20, 1), (4096, 4096))
RASTER = {seed.name.split("/")[1]: seed.data for seed in mutations.raster_seeds(sizes=(mutations.SMALL,))}


#: (reader, seed name) for every raster seed and both readers.
READERS = [(reader, name) for reader in ("decode", "probe") for name in RASTER]


SMALL = mutations.SMALL


@pytest.mark.parametrize(("reader", "name"), READERS)
def test_a_header_that_claims_another_size_is_decoded_or_refused(reader, name):
    for claim in CLAIMS:
        _decode_or_refuse(mutations.set_dimensions(RASTER[name], *claim), **{reader: True},
                          **{"probe" if reader == "decode" else "decode": False})


@pytest.mark.parametrize(("reader", "name"), READERS)
def test_a_file_truncated_anywhere_is_decoded_or_refused(reader, name):
    data = RASTER[name]
    for end in range(0, len(data), max(1, len(data) // 64)):
        _decode_or_refuse(data[:end], **{"probe" if reader == "decode" else "decode": False})


@pytest.mark.parametrize(("reader", "name"), READERS)
def test_a_file_with_any_header_byte_flipped_is_decoded_or_refused(reader, name):
    data = RASTER[name]
    for pos in range(min(len(data), 160)):
        for bits in (0x01, 0x80, 0xFF):
            _decode_or_refuse(data[:pos] + bytes([data[pos] ^ bits]) + data[pos + 1:],
                              **{"probe" if reader == "decode" else "decode": False})
