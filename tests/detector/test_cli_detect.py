from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors import SyntheticImageDetector, score_files
from trustgen.cli import cli
from trustgen.errors import TrustgenError
from trustgen.evidence import DetectorEvidence


@pytest.fixture
def files(tmp_path):
    from skimage import data

    good = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(good)
    jpg = tmp_path / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(jpg, quality=90)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpg.read_bytes()[:300])
    return good, jpg, broken, tmp_path / "missing.png"


def test_detect_json_lines(files):
    good, jpg, _, _ = files
    before = good.read_bytes()
    result = CliRunner().invoke(cli, ["detect", str(good), str(jpg), "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["path"] for line in lines] == [str(good), str(jpg)]
    for line in lines:
        assert 0.0 <= line["probability"] <= 1.0
        assert line["label"] == ("synthetic" if line["probability"] > line["threshold"] else "real")
        assert line["model"].startswith("trustgen-detector-")
    assert good.read_bytes() == before


def test_detect_continues_past_bad_files_and_exits_2(files):
    good, _, broken, missing = files
    result = CliRunner().invoke(cli, ["detect", str(broken), str(missing), str(good)])
    assert result.exit_code == 2
    assert f"trustgen: error: {broken}:" in result.stderr
    assert f"trustgen: error: {missing}: no such file" in result.stderr
    assert str(good) in result.stdout and "p(synthetic)" in result.stdout


def test_eval_without_data_is_a_one_line_error_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["detector", "eval"])
    assert result.exit_code == 2
    err = result.stderr
    assert err.startswith("trustgen: error: .detector-data: no --data given")
    assert len(err.strip().splitlines()) == 1


def test_score_files_yields_every_file_in_order_and_errors_in_place(files):
    good, jpg, broken, missing = files
    results = list(score_files([broken, good, missing, jpg]))
    assert [path for path, _ in results] == [broken, good, missing, jpg]
    assert [isinstance(r, TrustgenError) for _, r in results] == [True, False, True, False]
    for _, ev in (results[1], results[3]):
        assert isinstance(ev, DetectorEvidence) and 0.0 <= ev.probability <= 1.0
        assert ev.model.startswith("trustgen-detector-")


def test_probability_equal_to_the_threshold_is_real_in_predict_detect_and_evidence(
        files, monkeypatch):
    good = files[0]
    det = SyntheticImageDetector.load()
    t = det.threshold_
    from detectors.inference import Scorer

    monkeypatch.setattr(Scorer, "predict_proba",
                        lambda self, images: np.array([[1.0 - t, t]] * len(images)))
    assert det.predict([Image.open(good)]).tolist() == [0]
    # what detect runs (the ONNX export, whose threshold is the checkpoint's)
    monkeypatch.setattr(Scorer, "score_regions",
                        lambda self, images: [(t, t, (0, 0, 64, 64))] * len(images))
    result = CliRunner().invoke(cli, ["detect", "--json", str(good)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout)
    assert line["label"] == "real" and line["probability"] == pytest.approx(t, abs=1e-6)
    assert DetectorEvidence(t, t, "m").synthetic is False
