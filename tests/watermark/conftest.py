import numpy as np
import pytest
from PIL import Image


def _photo(name: str, side: int) -> Image.Image:
    """A scikit-image sample photo, centre-cropped to a square and resized to ``side``."""
    from skimage import data

    arr = getattr(data, name)()
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    h, w = arr.shape[:2]
    s = min(h, w)
    arr = arr[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s, :3]
    return Image.fromarray(arr).resize((side, side), Image.LANCZOS)


@pytest.fixture(scope="session")
def photo():
    return _photo


@pytest.fixture(scope="session")
def astronaut():
    return _photo("astronaut", 512)
