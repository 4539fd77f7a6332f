"""The training path end to end on a tiny real data set: build, train, calibrate, save, evaluate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from detectors import SyntheticImageDetector
from detectors.folders import find_items
from trustgen.cli import cli

pytestmark = pytest.mark.slow


def test_data_is_aligned_and_format_matched(tiny_data):
    manifest = json.loads((tiny_data / "photos.json").read_text())
    test = tiny_data / "tiles" / "test"
    real = sorted(p.name for p in (test / "0_real").iterdir())
    for family in ("ae_tconv", "ae_nearest", "ae_pixelshuffle"):
        assert sorted(p.name for p in (test / "1_fake" / family).iterdir()) == real
    # the held-out family is never written outside the test split
    assert not (tiny_data / "tiles" / "train" / "1_fake" / "ae_pixelshuffle").exists()
    assert manifest["held_out_families"] == ["ae_pixelshuffle"]
    assert all(len(p["sha256"]) == 64 for p in manifest["photos"])


@pytest.fixture(scope="module")
def trained(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    tiles = tiny_data / "tiles"
    result = CliRunner().invoke(cli, [
        "detector", "train", "--real", str(tiles / "train" / "0_real"),
        "--fake", str(tiles / "train" / "1_fake"), "--out", str(out), "--steps", "3",
        "--batch-size", "8", "--input-size", "64", "--no-pretrained",
        "--calib-fraction", "0.5", "--model-id", "tiny-test"])
    assert result.exit_code == 0, result.output
    return out


def test_train_command_writes_a_loadable_calibrated_checkpoint(trained, tiny_data):
    det = SyntheticImageDetector.load(trained)
    assert det.model_id == "tiny-test"
    assert det.preprocessing_["input_size"] == 64
    assert det.training_summary_["families"] == ["ae_nearest", "ae_tconv"]
    assert det.calibration_["method"].startswith("platt")
    assert 0.0 <= det.threshold_ <= 1.0
    items = find_items(tiny_data / "tiles" / "calib")
    from detectors.folders import open_image

    proba = det.predict_proba([open_image(i.path) for i in items])
    assert proba.shape == (len(items), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_train_refuses_to_overwrite_before_training(trained, tiny_data):
    tiles = tiny_data / "tiles" / "train"
    before = trained.read_bytes()
    result = CliRunner().invoke(cli, ["detector", "train", "--real", str(tiles / "0_real"),
                                      "--fake", str(tiles / "1_fake"), "--out", str(trained)])
    assert result.exit_code == 2
    assert f"trustgen: error: {trained}: already exists" in result.stderr
    assert trained.read_bytes() == before


def test_eval_command_reports_seen_and_held_out(trained, tiny_data, tmp_path):
    result = CliRunner().invoke(cli, [
        "detector", "eval", "--data", str(tiny_data / "tiles" / "test"), "--checkpoint",
        str(trained), "--out", str(tmp_path), "--reps", "20"])
    assert result.exit_code == 0, result.output
    assert "format-only control AUC" in result.output
    report = json.loads((tmp_path / "evaluation.json").read_text())
    assert report["data"]["held_out_families"] == ["ae_pixelshuffle"]
    assert report["per_family"]["ae_pixelshuffle"]["seen_in_training"] is False
    assert set(report["robustness"]) == {"clean", "jpeg90", "jpeg75", "jpeg50",
                                         "downscale0.5", "blur1"}
    for key in ("auc", "ap", "tpr_at_1pct_fpr", "balanced_accuracy", "ece", "ci95"):
        assert key in report["clean"]["seen"]
    assert 0.0 <= report["format_control"]["format_only"]["auc"] <= 1.0
    assert (tmp_path / "roc.png").stat().st_size > 0
    assert (tmp_path / "reliability.png").stat().st_size > 0


def test_threshold_at_fpr_reads_the_stored_calibration_scores(trained):
    det = SyntheticImageDetector.load(trained)
    real = np.asarray(det.calibration_["real_probabilities"])
    assert real.size == det.training_summary_["calibration_images"]["real"]
    assert det.threshold_at_fpr(det.target_fpr) == det.threshold_ == real.max()
    half = det.threshold_at_fpr(0.5)
    assert half in real and np.mean(real > half) <= 0.5
    with pytest.raises(ValueError, match="cannot be resolved"):
        det.threshold_at_fpr(0.2)  # with 2 real images, 0.5 is the finest step
