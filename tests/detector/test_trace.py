"""The trace detector's parts: its residual inputs, the data's source-image splits, the shared
processing history, region scores and maps, and the evaluation's pooling."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from detectors.inference import OnnxDetector
from detectors.realdata import REAL_FAMILIES, REALGEN, realgen_sources, views
from trustgen.cli import cli
from trustgen.evidence import DetectorEvidence


@pytest.fixture(scope="module")
def realgen():
    if not (REALGEN / "manifest.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"shared data set not found at {REALGEN}")
        pytest.skip(f"shared data set not found at {REALGEN}")
    return realgen_sources()


def test_neighbouring_pixel_residual_is_zero_on_nearest_upsampled_images():
    torch = pytest.importorskip("torch")
    from detectors.tracenet import TraceNet

    net = TraceNet(8)
    small = torch.rand(2, 3, 16, 16)
    up = small.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    r = net.residuals(up)
    assert r.shape == (2, 24, 16, 16)
    npr = torch.nn.functional.pixel_shuffle(r, 2)[:, :3]
    assert npr.abs().max() == 0  # what nearest upsampling leaves, the residual removes
    assert net.residuals(torch.rand(2, 3, 32, 32))[:, :12].abs().max() > 0.1
    assert net(torch.rand(5, 3, 64, 64)).shape == (5, 2)


def test_grid_tiles_share_their_source_and_every_family_is_there(realgen):
    fams = {s.family for s in realgen if s.label == 1}
    assert fams == set(REAL_FAMILIES)
    groups = {}
    for s in realgen:
        groups.setdefault(s.group, set()).add(s.split)
    assert all(len(splits) == 1 for splits in groups.values())  # a source never straddles
    sd1 = [s for s in realgen if s.family == "sd1"]
    assert len({s.group for s in sd1}) < len(sd1)  # tiles of one grid are one source image
    assert {s.kind for s in realgen if s.label == 0} == {"photo-png", "camera-jpeg"}


def test_views_are_native_crops_the_same_for_both_classes():
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (1200, 1600, 3), np.uint8))
    v = views(big)
    assert len(v) == 5 and all(x.size == (512, 512) for x in v)
    assert np.array_equal(np.asarray(v[1]), np.asarray(big)[:512, :512])  # not resampled
    assert [np.asarray(x).tobytes() for x in views(big)] == [np.asarray(x).tobytes() for x in v]
    small = Image.new("RGB", (300, 700))
    assert views(small) == [small]


def _write(path: Path, array, fmt: str) -> Path:
    Image.fromarray(array).save(path, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return path


@pytest.mark.parametrize("equalise", [True, False])
def test_png_fakes_get_the_real_photos_jpeg_history(tmp_path, equalise):
    from detectors.realdata import Source
    from detectors.traintrace import FLAGS, patch_bank

    rng = np.random.default_rng(1)
    arrays = [rng.integers(0, 256, (300, 300, 3), np.uint8) for _ in range(4)]
    sources = [Source(_write(tmp_path / f"r{i}.jpg", arrays[i], "JPEG"), 0, "real", f"r{i}")
               for i in range(2)]
    sources += [Source(_write(tmp_path / f"f{i}.png", arrays[i + 2], "PNG"), 1, "fam", f"f{i}")
                for i in range(2)]
    none = {"resize": 0.0, "mark": 0.0, "jpeg": 0.0, "noise": 0.0}
    bank = patch_bank(sources, rounds=3, per_round=2, history=none, equalise_jpeg=equalise,
                      log=lambda m: None)
    before = bank["flags"][:, FLAGS.index("jpeg_before")]
    assert before[bank["label"] == 0].all()  # the real photos are JPEGs
    # every real source is a JPEG, so every PNG fake gets one first when equalising
    assert before[bank["label"] == 1].all() == equalise
    assert not bank["flags"][:, 1:].any()
    assert bank["patches"].shape[1:] == (80, 80, 3)


def test_history_marks_with_trustgens_watermark_and_reports_it():
    from detectors.traintrace import FLAGS, _history
    from trustgen import watermark

    img = Image.fromarray(np.random.default_rng(2).integers(60, 200, (320, 320, 3), np.uint8))
    only_mark = {"resize": 0.0, "mark": 1.0, "jpeg": 0.0, "noise": 0.0}
    a, flags = _history(img, np.random.default_rng(0), only_mark)
    assert flags == [False, True, False, False] and FLAGS[2] == "marked"
    assert watermark.detect(Image.fromarray(a)).detected
    small = img.crop((0, 0, 200, 200))  # under the mark's minimum side: left unmarked
    assert _history(small, np.random.default_rng(0), only_mark)[1][1] is False


def test_noise_condition_is_the_same_draw_for_the_same_size():
    from detectors.evaluate import degrade

    img = Image.new("RGB", (128, 96), (120, 120, 120))
    a = np.asarray(degrade(img, "noise3"), dtype=float)
    assert 2.5 < a.std() < 3.5
    assert np.array_equal(a, np.asarray(degrade(img, "noise3"), dtype=float))


def test_pooled_counts_each_family_at_its_own_runs_threshold():
    from detectors.lofo import pooled

    def run(fams, tpr, n, fpr):
        return {"held_out": fams, "per_family": {f: {"tpr_at_threshold": t, "n_synthetic": k,
                                                     "fpr_at_threshold": fpr}
                                                 for f, t, k in zip(fams, tpr, n)}}
    got = pooled({"sd1": run(["sd1"], [0.5], [10], 0.01),
                  "dalle2": run(["dalle2"], [1.0], [30], 0.03),
                  "own": run(["own-marked"], [0.0], [100], 0.5)})  # not a real generator
    assert got == {"real_generator_views": 40, "tpr_at_threshold": 35 / 40,
                   "max_fpr_at_threshold": 0.03}


def test_old_detector_evidence_reads_without_a_region():
    ev = DetectorEvidence.from_dict({"probability": 0.2, "threshold": 0.9, "model": "m"})
    assert ev.region_probability is None and ev.region_box is None
    new = DetectorEvidence(0.2, 0.9, "m", region_probability=0.95, region_box=(64, 0, 64, 64))
    assert DetectorEvidence.from_dict(json.loads(json.dumps(new.to_dict()))) == new


def _pasted(realgen):
    """A real photo with a generated 256 px square pasted into its middle."""
    real = next(s for s in realgen if s.kind == "camera-jpeg")
    fake = next(s for s in realgen if s.family == "sd1")
    photo = Image.open(real.path).convert("RGB")
    photo = photo.crop((0, 0, min(photo.width, 1024), min(photo.height, 768)))
    x, y = (photo.width - 256) // 2, (photo.height - 256) // 2
    photo.paste(Image.open(fake.path).convert("RGB").crop((0, 0, 256, 256)), (x, y))
    return photo, (x, y, 256, 256)


def test_regions_report_the_most_synthetic_crop(realgen):
    det = OnnxDetector.load()
    photo, _ = _pasted(realgen)
    (whole, region, box), = det.score_regions([photo])
    assert 0 <= whole <= region <= 1
    cells = dict(det.score_map(photo))
    assert tuple(box) in det._boxes(*photo.size)
    # the region's probability is its crop's, on the same calibration as the whole image
    probs = det._calibrated(np.diff(det._logits(det._crops(photo, [tuple(box)])), axis=1)[:, 0])
    assert region == pytest.approx(float(probs[0]), abs=1e-6)
    assert max(cells.values()) >= region - 1e-6


def test_detect_map_draws_every_crop_and_json_has_the_region(realgen, tmp_path):
    photo, _ = _pasted(realgen)
    src = tmp_path / "pasted.png"
    photo.save(src)
    out = tmp_path / "map.png"
    result = CliRunner().invoke(cli, ["detect", str(src), "--json", "--map", str(out)])
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert 0 <= line["region_probability"] <= 1 and len(line["region_box"]) == 4
    drawn = Image.open(out)
    assert drawn.size == photo.size and drawn.mode == "RGB"
    assert "crops" in result.stderr and str(out) in result.stderr
    # the map tiles the image: the most synthetic of its crops is named, and lies inside
    det = OnnxDetector.load()
    cells = det.score_map(photo)
    assert len(cells) == int(np.ceil(photo.width / 64)) * int(np.ceil(photo.height / 64))
    covered = np.zeros(photo.size[::-1], bool)
    for (cx, cy, cw, ch), _ in cells:
        covered[cy:cy + ch, cx:cx + cw] = True
    assert covered.all()
    assert not np.array_equal(np.asarray(drawn), np.asarray(photo))


def test_map_takes_one_file(tmp_path):
    a = tmp_path / "a.png"
    Image.new("RGB", (64, 64), "red").save(a)
    result = CliRunner().invoke(cli, ["detect", str(a), str(a), "--map",
                                      str(tmp_path / "m.png")])
    assert result.exit_code == 2
    assert "--map draws one image; 2 files were given" in result.stderr
    assert not (tmp_path / "m.png").exists()


def test_verify_reports_the_most_synthetic_region(tmp_path, realgen):
    from trustgen.verify import Verifier

    photo, _ = _pasted(realgen)
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    src = tmp_path / "pasted.png"
    src.write_bytes(buf.getvalue())
    verdict = Verifier("default").verify(src)
    det = verdict.evidence.detector
    assert det is not None and det.region_box is not None
    whole, region, box = OnnxDetector.load().score_regions([photo])[0]
    assert (det.probability, det.region_probability) == pytest.approx((whole, region))
    assert tuple(det.region_box) == tuple(box)
    record = json.loads(json.dumps(verdict.to_dict()))
    import jsonschema

    from trustgen.evidence import verdict_schema

    schema = verdict_schema()
    detector = {"$defs": schema["$defs"], "$ref": "#/$defs/detector"}
    jsonschema.Draft202012Validator(detector).validate(record["detector"])
    assert record["detector"]["region_box"] == list(box)
