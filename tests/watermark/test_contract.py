"""Every registered scheme against the contract ``embed`` and ``detect`` rely on.

Parametrised over the registry, so a scheme is held to it the moment it is registered.
"""

import numpy as np
import pytest
from PIL import Image

from trustgen import watermark as wm
from trustgen.errors import WatermarkError

KEY = bytes(range(7, 39))
OTHER = b"a different key of 32 bytes long"
CID = "0123456789ab"
WRITERS = [name for name in wm.list_schemes() if wm.get_scheme(name).can_embed]
READERS = [name for name in wm.list_schemes() if not wm.get_scheme(name).can_embed]
KEYED_WRITERS = [name for name in WRITERS if wm.get_scheme(name).keyed]


def _params(names):
    """Schemes as parameters, the slow readers (not read by default: rivaGan's network takes
    0.3-1 s a read) marked ``slow`` so ``-m "not slow"`` leaves them out."""
    return [name if wm.get_scheme(name).read_by_default else pytest.param(name, marks=pytest.mark.slow)
            for name in names]


@pytest.fixture(scope="module")
def image(photo):
    """A photo every writer carries at 256 px (dwtDct loses its payload on about a quarter of
    photos even unattacked: benchmarks/results/watermark.md)."""
    return photo("hubble_deep_field", 256)


@pytest.fixture(scope="module")
def marked(image):
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = wm.embed(image, CID, key=KEY, scheme=name)
        return cache[name]

    return get


def test_the_registry_is_the_one_list_of_schemes():
    assert wm.SCHEMES == wm.list_schemes() and len(set(wm.SCHEMES)) == len(wm.SCHEMES)
    assert wm.DEFAULT_SCHEME in WRITERS
    assert set(wm.DETECT_SCHEMES) == {n for n in wm.SCHEMES if wm.get_scheme(n).read_by_default}
    assert all(wm.get_scheme(name).name == name for name in wm.SCHEMES)
    with pytest.raises(ValueError, match="registered twice"):
        wm.register_scheme(wm.DEFAULT_SCHEME)(lambda rgb, keys: [])
    assert wm.list_schemes() == wm.SCHEMES


@pytest.mark.parametrize("name", _params(WRITERS))
def test_round_trip(image, marked, name):
    spec = wm.get_scheme(name)
    out = marked(name)
    assert out.size == image.size and out.mode == image.mode
    ev = wm.detect(out, key=KEY, schemes=[name])
    assert ev.detected and ev.scheme == name and ev.key == wm.key_label(KEY)
    assert ev.content_id == (CID if spec.carries_id else None)
    assert ev.p_value <= wm.FALSE_ALARM and ev.schemes_checked == (name,)


@pytest.mark.parametrize("name", _params(KEYED_WRITERS))
def test_a_keyed_reader_answers_each_key_in_order(marked, name):
    """Another key does not read the mark: one reading per key, in the order given."""
    spec = wm.get_scheme(name)
    other, right = spec.read(np.asarray(marked(name)), [OTHER, KEY])
    assert other.p_value > wm.FALSE_ALARM and right.p_value <= wm.FALSE_ALARM
    if spec.carries_id:
        assert other.content_id != CID and right.content_id == CID


@pytest.mark.parametrize("name", _params(wm.list_schemes()))
def test_unmarked_image_is_an_honest_miss(image, name):
    """No false alarm, and the best reading still reported for a policy to judge."""
    ev = wm.detect(image, key=KEY, schemes=[name])
    assert not ev.detected and ev.scheme is None and ev.schemes_checked == (name,)
    assert 1e-3 < ev.p_value <= 1 and ev.candidate.scheme == name
    assert (ev.candidate.content_id is not None) == wm.get_scheme(name).carries_id
    assert (ev.candidate.key is not None) == wm.get_scheme(name).keyed


@pytest.mark.parametrize("name", WRITERS)
def test_refused_inputs_raise(image, name):
    with pytest.raises(WatermarkError, match=f"at least {wm.MIN_SIDE}"):
        wm.embed(image.resize((wm.MIN_SIDE - 1, 300)), CID, key=KEY, scheme=name)
    grey = image.convert("L")
    if wm.get_scheme(name).greyscale:
        assert wm.embed(grey, CID, key=KEY, scheme=name).mode == "L"
    else:
        with pytest.raises(WatermarkError, match="colour only"):
            wm.embed(grey, CID, key=KEY, scheme=name)


@pytest.mark.parametrize("name", READERS)
def test_reader_only_scheme_refuses_to_embed(image, name):
    with pytest.raises(WatermarkError, match=f"{name} scheme is a reader only"):
        wm.embed(image, CID, key=KEY, scheme=name)


@pytest.mark.parametrize("size", [(64, 64), (1, 2000), (2000, 1), (300, 200), (0, 0)])
@pytest.mark.parametrize("name", wm.list_schemes())
def test_any_size_reads_or_is_left_out(name, size):
    """An image too small for a scheme is not checked by it; it never raises."""
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (*size[::-1], 3), np.uint8))
    ev = wm.detect(img, schemes=[name])
    assert not ev.detected
    if ev.schemes_checked:
        assert ev.schemes_checked == (name,) and 0 < ev.p_value <= 1
    else:
        assert ev.p_value is None and ev.candidate is None
