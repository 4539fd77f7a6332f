from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from detectors.evaluate import (bootstrap, degrade, expected_calibration_error, metrics,
                                tpr_at_fpr)


def test_ece_is_small_for_calibrated_and_large_for_overconfident_scores():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    assert expected_calibration_error(y, p) < 0.02
    assert expected_calibration_error(y, np.where(p > 0.5, 1.0, 0.0)) > 0.15


def test_tpr_at_fpr_uses_only_thresholds_within_the_fpr():
    y = np.array([0] * 100 + [1] * 10)
    p = np.r_[np.linspace(0, 0.5, 99), 0.95, np.linspace(0.9, 1.0, 10)]
    # one real photo scores 0.95: beating it costs 1% FPR, which is allowed
    assert tpr_at_fpr(y, p, 0.01) == 1.0
    assert tpr_at_fpr(y, p, 0.0) == pytest.approx(0.5)


def test_metrics_at_threshold_and_bootstrap_interval_brackets_estimate():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(30), 10)
    y = np.tile([0, 1], 150)
    p = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.2, y.size), 0, 1)
    m = metrics(y, p, 0.5)
    expected = (m["tpr_at_threshold"] + 1 - m["fpr_at_threshold"]) / 2
    assert m["balanced_accuracy"] == pytest.approx(expected)
    ci = bootstrap(y, p, groups, 0.5, reps=200)
    assert ci["auc"][0] <= m["auc"] <= ci["auc"][1]
    assert ci["auc"][1] - ci["auc"][0] > 0


def test_degradations_keep_mode_and_change_pixels():
    rng = np.random.default_rng(2)
    img = Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    assert degrade(img, "clean") is img
    assert degrade(img, "downscale0.5").size == (32, 32)
    for cond in ("jpeg50", "blur1"):
        out = degrade(img, cond)
        assert out.size == img.size and out.mode == "RGB"
        assert np.abs(np.asarray(out, int) - np.asarray(img, int)).mean() > 1
