"""The trustgen payload: convolutional code, keyed tag, p-values."""

import numpy as np

from trustgen.watermark import payload

KEY = b"k" * 32


def test_pack_unpack_roundtrip():
    info = payload.pack_info(KEY, 0xABCDEF012345)
    assert len(info) == payload.INFO_BITS
    assert payload.unpack_info(KEY, info) == (payload.VERSION, 0xABCDEF012345, 0)


def test_other_key_tag_mismatches():
    info = payload.pack_info(KEY, 0xABCDEF012345)
    assert payload.unpack_info(b"x" * 32, info)[2] > 4


def test_viterbi_corrects_noisy_soft_values():
    rng = np.random.default_rng(0)
    ok = 0
    for _ in range(40):
        info = payload.pack_info(KEY, int(rng.integers(0, 2**48)))
        coded = np.array(payload.conv_encode(info))
        soft = (1 - 2 * coded) + rng.normal(0, 0.6, coded.size)
        assert np.count_nonzero((soft < 0) != (coded == 1)) > 0  # errors were there to fix
        ok += payload.viterbi_decode(soft) == info
    assert ok == 40


def test_viterbi_fails_honestly_on_noise():
    """Random soft values decode to some payload whose tag does not verify."""
    rng = np.random.default_rng(1)
    errors = [payload.unpack_info(KEY, payload.viterbi_decode(rng.normal(size=payload.CODED_BITS)))[2]
              for _ in range(50)]
    assert min(errors) > 2 and 10 < np.mean(errors) < 22
