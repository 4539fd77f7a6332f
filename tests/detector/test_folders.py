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
