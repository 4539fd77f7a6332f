"""The ONNX export verification runs: the shipped file is the export of the shipped checkpoint,
and onnxruntime scores as torch does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detectors.inference import ONNX, OnnxDetector, load_detector
from detectors.model import CHECKPOINT
from trustgen.errors import InputError
from trustgen.evidence import is_synthetic

REALGEN = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "realgen"


@pytest.fixture(scope="module")
def images():
    """The shared real photos and generator outputs, plus odd modes and a tiny image."""
    from skimage import data

    if not (REALGEN / "manifest.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"shared data set not found at {REALGEN}")
        pytest.skip(f"shared data set not found at {REALGEN}")
    files = sorted(p for p in REALGEN.rglob("*") if p.suffix.lower() in (".png", ".jpg"))
    out = [Image.open(p).convert("RGB") for p in files]
    return out + [Image.fromarray(data.chelsea()).convert("RGBA"), Image.fromarray(data.camera()),
                  Image.fromarray(data.astronaut()[:50, :70])]


def _meta(onnx_path: Path) -> dict:
    import onnxruntime as ort

    return ort.InferenceSession(str(onnx_path)).get_modelmeta().custom_metadata_map


def test_shipped_onnx_is_the_export_of_the_shipped_checkpoint():
    assert ONNX.stat().st_size <= 20 * 1024 * 1024
    props = _meta(ONNX)
    # a retrained checkpoint without a fresh export fails here
    assert props["source_sha256"] == hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest()
    meta = json.loads(props["trustgen"])
    assert {"input_size", "crop_grid", "mean", "std", "crop"} <= set(meta["preprocessing"])
    assert {"scale", "bias", "real_probabilities"} <= set(meta["calibration"])
    det = OnnxDetector.load()
    assert det is OnnxDetector.load()  # cached
    assert (det.threshold_, det.calibration_) == (meta["threshold"], meta["calibration"])


def test_onnx_scores_and_verdicts_match_torch(images):
    pytest.importorskip("torch")
    pytest.importorskip("timm")
    from detectors.model import SyntheticImageDetector

    fast, ref = OnnxDetector.load(), SyntheticImageDetector.load()
    p_onnx, p_torch = fast.predict_proba(images)[:, 1], ref.predict_proba(images)[:, 1]
    np.testing.assert_allclose(p_onnx, p_torch, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(fast.predict(images), ref.predict(images))
    # the shipped threshold flags none of these; one inside the scores' widest middle gap
    # splits them, so identical verdicts on both sides are checked too
    ranked = np.sort(p_torch)[len(p_torch) // 4: 3 * len(p_torch) // 4]
    gap = int(np.argmax(np.diff(ranked)))
    split = float(ranked[gap:gap + 2].mean())
    np.testing.assert_array_equal(is_synthetic(p_onnx, split), is_synthetic(p_torch, split))
    assert 0 < is_synthetic(p_onnx, split).sum() < len(images)
    assert fast.threshold_at_fpr(0.05) == ref.threshold_at_fpr(0.05)


def test_export_is_reproducible(tmp_path):
    """The script rebuilds the committed file byte for byte from the committed checkpoint."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    from detectors.export_onnx import export

    out = export(CHECKPOINT, tmp_path / "again.onnx")
    assert out.read_bytes() == ONNX.read_bytes()


def test_scoring_loads_neither_torch_nor_timm():
    code = ("import sys; from PIL import Image; from detectors.inference import load_detector; "
            "p = load_detector().predict_proba([Image.new('RGB', (96, 80), 'red')]); "
            "print(p.shape, sorted(m for m in ('torch', 'timm', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "(1, 2) []"


@pytest.mark.parametrize("content", [b"", b"not an onnx model", None])
def test_a_bad_onnx_file_is_one_input_error(tmp_path, content):
    path = tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_detector(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
