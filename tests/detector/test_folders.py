from __future__ import annotations

import pytest
from PIL import Image

from detectors.folders import find_items, items_from_dirs
from trustgen.errors import InputError


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(path)


def test_trustgen_layout_with_families_and_groups(tmp_path):
    _img(tmp_path / "0_real" / "photoA__0.png")
    _img(tmp_path / "1_fake" / "ae_tconv" / "photoA__0.png")
    _img(tmp_path / "1_fake" / "sdedit" / "photoB__3.png")
    items = find_items(tmp_path)
    assert [(i.label, i.family, i.group) for i in items] == [
        (0, "real", "photoA"), (1, "ae_tconv", "photoA"), (1, "sdedit", "photoB")]


def test_cnndetection_layout(tmp_path):
    _img(tmp_path / "progan" / "airplane" / "0_real" / "a.png")
    _img(tmp_path / "progan" / "airplane" / "1_fake" / "b.png")
    _img(tmp_path / "stylegan" / "1_fake" / "c.png")
    fams = {(i.label, i.family) for i in find_items(tmp_path)}
    assert fams == {(0, "real"), (1, "progan"), (1, "stylegan")}


def test_genimage_layout_and_split(tmp_path):
    _img(tmp_path / "Midjourney" / "train" / "ai" / "t.png")
    _img(tmp_path / "Midjourney" / "val" / "ai" / "v.png")
    _img(tmp_path / "Midjourney" / "val" / "nature" / "n.jpg")
    items = find_items(tmp_path, split="val")
    assert {(i.path.name, i.label, i.family) for i in items} == {
        ("v.png", 1, "Midjourney"), ("n.jpg", 0, "real")}


def test_empty_or_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no images found"):
        find_items(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        find_items(tmp_path / "missing")
    (tmp_path / "real").mkdir()
    with pytest.raises(InputError, match="contains no images"):
        items_from_dirs(tmp_path / "real", tmp_path)


def test_group_falls_back_to_the_stem_so_real_and_fake_of_one_photo_share_it(tmp_path):
    _img(tmp_path / "real" / "photo1.png")
    _img(tmp_path / "fake" / "blur" / "photo1.jpg")
    _img(tmp_path / "fake" / "photo2.png")
    items = items_from_dirs(tmp_path / "real", tmp_path / "fake")
    assert {(i.path.name, i.family, i.group) for i in items} == {
        ("photo1.png", "real", "photo1"), ("photo1.jpg", "blur", "photo1"),
        ("photo2.png", "fake", "photo2")}


def test_split_filter_applies_to_the_genimage_layout_only(tmp_path):
    # `detector eval` reads with split="val": a 0_real/1_fake folder below `train` must stay
    _img(tmp_path / "train" / "0_real" / "a.png")
    _img(tmp_path / "train" / "1_fake" / "b.png")
    _img(tmp_path / "Midjourney" / "train" / "ai" / "t.png")
    _img(tmp_path / "Midjourney" / "val" / "ai" / "v.png")
    names = {i.path.name for i in find_items(tmp_path, split="val")}
    assert names == {"a.png", "b.png", "v.png"}


def test_few_real_calibration_images_give_a_one_line_warning(monkeypatch):
    from pathlib import Path

    from detectors import train
    from detectors.folders import Item

    class Stub:
        def __init__(self, **params):
            self.target_fpr = 0.01
            self.threshold_ = 0.5

        def fit(self, images, y, summary=None):
            return self

        def calibrate(self, images, y):
            return self

    monkeypatch.setattr(train, "SyntheticImageDetector", Stub)
    monkeypatch.setattr(train, "_load", lambda items: ([None] * len(items),
                                                       [i.label for i in items]))

    def items(n_real):
        return ([Item(Path(f"r{k}.png"), 0, "real", f"r{k}") for k in range(n_real)]
                + [Item(Path("f.png"), 1, "fake", "f")])

    for n_real, warned in ((99, True), (100, False)):
        logs = []
        train.fit_and_calibrate(items(3), items(n_real), log=logs.append)
        warnings = [m for m in logs if m.startswith("warning:")]
        assert len(warnings) == int(warned)
        assert all("\n" not in m and f"only {n_real} real" in m for m in warnings)
