"""Fixtures for the detector tests: a tiny aligned data set built with the real data script."""

from __future__ import annotations


import pytest


@pytest.fixture(scope="session", autouse=True)
def _two_threads():
    import torch

    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Four scikit-image photos (two for training, one each for calibration and test), two seen
    generator families and one held out, each generator trained for a few steps."""
    from detectors.data import build, collect_photos

    groups = {"skimage-astronaut": "train", "skimage-coffee": "train",
              "skimage-chelsea": "calib", "skimage-rocket": "test"}
    photos = [dict(p, split=groups[p["group"]]) for p in collect_photos()
              if p["group"] in groups]
    assert len(photos) == 4
    out = tmp_path_factory.mktemp("detector-data")
    build(out, photos=photos, families=("ae_tconv", "ae_nearest", "ae_pixelshuffle"),
          held_out=("ae_pixelshuffle",), generator_steps=3,
          tiles_per_photo={"train": 3, "calib": 2, "test": 2}, log=lambda m: None)
    return out
