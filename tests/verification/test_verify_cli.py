"""`trustgen verify` as a user runs it: table, JSON lines, exit codes, batches, reports, resume."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from trustgen.batch import VerdictCache, verify_batch
from trustgen.cli import cli
from trustgen.media import encode_image
from trustgen.verify import Verifier
from trustgen.watermark import DEFAULT_SCHEME


def run(*args):
    return CliRunner().invoke(cli, ["verify", *map(str, args)])


def test_table_for_a_trustgen_image(identity, verify_files):
    result = run(verify_files["trusted-ai"], "--no-detector")
    assert result.exit_code == 0, result.output
    header, rule, row = result.stdout.splitlines()
    assert header.split() == ["file", "C2PA", "watermark", "content", "id", "verdict", "action"]
    assert row.split()[1:] == ["trusted", DEFAULT_SCHEME, "0123456789ab", "trusted-ai", "pass"]


def test_json_lines_follow_the_documented_schema(identity, verify_files):
    result = run(verify_files["trusted-ai"], verify_files["tampered"], "--json", "--no-detector")
    assert result.exit_code == 1  # the tampered file does not pass
    good, bad = map(json.loads, result.stdout.splitlines())
    assert {"path", "verdict", "action", "reasons", "c2pa", "watermark", "detector"} <= set(good)
    assert {"state", "codes", "ingredients", "signer", "digital_source_type"} <= set(good["c2pa"])
    assert {"detected", "scheme", "content_id", "p_value"} <= set(good["watermark"])
    assert good["detector"] is None  # not run: null, not "nothing found"
    assert good["c2pa"]["digital_source_type"].endswith("/trainedAlgorithmicMedia")
    assert (bad["verdict"], bad["c2pa"]["state"]) == ("credentials-invalid", "invalid")
    assert "assertion.dataHash.mismatch" in bad["c2pa"]["codes"]


def test_unrelated_signer_is_valid_never_trusted(identity, verify_files):
    result = run(verify_files["unrelated-signer"], "--json", "--no-detector")
    record = json.loads(result.stdout)
    assert (record["c2pa"]["state"], record["verdict"], result.exit_code) == ("valid", "untrusted-ai", 1)


def test_bad_inputs_get_an_error_line_and_the_rest_is_verified(identity, verify_files):
    result = run(verify_files["not-an-image"], verify_files["truncated"], verify_files["trusted-ai"],
                 "--no-detector", "--json")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("trustgen: error:")]
    assert errors == [
        f"trustgen: error: {verify_files['not-an-image']}: not an image file",
        f"trustgen: error: {verify_files['truncated']}: cannot decode image: image file is truncated",
    ]
    assert "Traceback" not in result.output
    verdicts = [json.loads(line)["verdict"] for line in result.stdout.splitlines()]
    assert verdicts == ["error", "error", "trusted-ai"]


def test_policy_and_usage_errors_exit_2(identity, verify_files, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\npassing_actions = ["ok"]\n\n[detector]\nthreshold = "high"\n')
    result = run(verify_files["plain"], "--policy", bad)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"trustgen: error: {bad}: line 5: field 'detector.threshold': must be a number, not str")
    assert run(verify_files["plain"], "--policy", "nosuch").exit_code == 2
    two = run(verify_files["plain"], verify_files["trusted-ai"], "--detached", verify_files["plain"])
    assert two.exit_code == 2 and "a detached manifest goes with exactly one file" in two.stderr


def test_trust_options_and_detached_manifest(c2pa_fixtures, c2pa_only_policy):
    files, trust = c2pa_fixtures / "files", c2pa_fixtures / "trust"
    anchors = ("--trust-anchors", trust / "test_cert_root_bundle.pem", "--trust-config", trust / "store.cfg",
               "--policy", c2pa_only_policy)
    assert run(files / "C.jpg", "--no-detector", "--policy", c2pa_only_policy).exit_code == 1  # untrusted
    trusted = run(files / "C.jpg", "--no-detector", "--json", *anchors)
    assert (trusted.exit_code, json.loads(trusted.stdout)["c2pa"]["state"]) == (0, "trusted")
    cloud = run(files / "cloud.jpg", "--no-detector", "--json", *anchors,
                "--detached", files / "cloud_manifest.c2pa")
    assert json.loads(cloud.stdout)["c2pa"]["state"] == "valid"


def test_batch_cache_keeps_detached_and_embedded_readings_apart(c2pa_fixtures, c2pa_only_policy, tmp_path):
    files, trust = c2pa_fixtures / "files", c2pa_fixtures / "trust"
    common = (files / "cloud.jpg", "--no-detector", "--json", "--policy", c2pa_only_policy,
              "--trust-anchors", trust / "test_cert_root_bundle.pem", "--trust-config", trust / "store.cfg",
              "--jsonl", tmp_path / "out.jsonl", "--overwrite")
    detached = run(*common, "--detached", files / "cloud_manifest.c2pa")
    assert json.loads(detached.stdout)["c2pa"]["state"] == "valid"
    plain = run(*common)
    assert json.loads(plain.stdout)["c2pa"]["state"] == "remote"
    assert "(0 from cache)" in plain.stderr  # the embedded reading is not the detached one


def _tree(verify_files, root: Path) -> Path:
    """A newsroom inbox: nested folders, a hidden file, a non-image, all read-only."""
    for i, (name, path) in enumerate(sorted(verify_files.items())):
        folder = root / ("inbox" if i % 2 else "inbox/agency")
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / path.name)
    (root / "inbox/.DS_Store.jpg").write_bytes(b"hidden")
    return root / "inbox"


def test_newsroom_batch_writes_reports_and_never_touches_inputs(identity, verify_files, tmp_path):
    inbox = _tree(verify_files, tmp_path)
    before = {p: p.read_bytes() for p in inbox.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    args = (inbox, "--recursive", "--policy", "newsroom", "--trust-anchors", identity.root_path,
            "--no-detector", "--workers", 2,
            "--report", out / "report.html", "--jsonl", out / "out.jsonl", "--csv", out / "out.csv")
    result = run(*args, "--progress")
    assert result.exit_code == 2  # the truncated PNG
    assert "verified 13/13" in result.stderr  # in folders only image files count; hidden ones skipped
    records = [json.loads(line) for line in (out / "out.jsonl").read_text().splitlines()]
    assert len(records) == 13 and {r["policy"] for r in records} == {"newsroom"}
    assert {r["verdict"] for r in records} >= {"trusted-ai", "credentials-invalid", "ai-watermark", "error"}
    verified = {Path(r["path"]).name for r in records if r["action"] == "verified"}
    assert verified == {"trusted-capture.jpg"}
    rows = list(csv.DictReader(open(out / "out.csv")))
    assert [r["path"] for r in rows] == [r["path"] for r in records]
    assert "Verification report" in (out / "report.html").read_text()
    assert {p: p.read_bytes() for p in inbox.rglob("*") if p.is_file()} == before

    again = run(*args)
    assert again.exit_code == 2 and "already exists; pass --overwrite" in again.stderr
    replaced = run(*args, "--overwrite")
    assert "13 files (12 from cache)" in replaced.stderr  # errors are never cached


def _distinct_images(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    folder.mkdir()
    paths = []
    for i in range(n):
        pixels = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        paths.append(folder / f"img{i:03d}.png")
        paths[-1].write_bytes(encode_image(Image.fromarray(pixels), "png"))
    return paths


def test_interrupted_batch_resumes_without_redoing_finished_files(identity, tmp_path):
    paths = _distinct_images(tmp_path / "in", 40)
    out = tmp_path / "out.jsonl"
    cache = Path(f"{out}.cache")
    cmd = [sys.executable, "-c", "from trustgen.cli import main; main()", "verify",
           str(tmp_path / "in"), "--no-detector", "--jsonl", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cache.is_file() and cache.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # a hard stop: no chance to clean up
    assert proc.wait() == -signal.SIGKILL, "the batch finished before it could be interrupted"
    assert not out.exists()
    done = cache.read_text().count("\n")
    assert 3 <= done < len(paths)

    resumed = run(tmp_path / "in", "--no-detector", "--jsonl", out)
    assert resumed.exit_code == 1  # random pixels: no evidence, which never passes by default
    assert f"{len(paths)} files ({done} from cache)" in resumed.stderr
    assert len(out.read_text().splitlines()) == len(paths)


class _CrashingDetector:
    """Fault injection: a detector that crashes on one image size, as a broken decoder would."""

    model_id, threshold_ = "crashes-on-one-size", 0.5

    def __init__(self, size=(300, 300)):
        self.size = size

    def predict_proba(self, images):
        if images[0].size == self.size:
            raise RuntimeError("decoder exploded")
        return np.array([[0.9, 0.1]])


def test_a_crash_on_one_file_becomes_its_error_row(identity, verify_files, tmp_path):
    odd = tmp_path / "odd.png"
    pixels = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    odd.write_bytes(encode_image(Image.fromarray(pixels), "png"))
    verifier = Verifier("default", detector=_CrashingDetector())
    cache = VerdictCache(tmp_path / "c.jsonl", verifier.fingerprint)
    results = list(verify_batch([verify_files["plain"], odd, verify_files["stripped"]], verifier,
                                workers=2, cache=cache))
    verdicts = [v.label for v, _ in results]
    assert verdicts == ["no-evidence", "error", "ai-watermark"]
    assert "verification crashed: RuntimeError: decoder exploded" in results[1][0].evidence.error
    assert len(cache) == 2  # the crash is not cached: the next run tries again


def test_a_crash_in_a_pixel_signal_keeps_the_evidence_already_read(identity, verify_files):
    verifier = Verifier("default", detector=_CrashingDetector(size=(384, 384)))
    verdict = verifier.verify(verify_files["trusted-ai"])
    assert verdict.label == "error"
    assert "verification crashed: RuntimeError: decoder exploded" in verdict.evidence.error
    assert verdict.evidence.c2pa.state == "trusted"
    assert verdict.evidence.watermark.content_id == "0123456789ab"
    assert verdict.evidence.detector is None


def test_moderation_worker_example(identity, verify_files):
    from detectors.model import CHECKPOINT

    if not CHECKPOINT.is_file():
        pytest.skip(f"the shipped detector checkpoint {CHECKPOINT} is not there yet")
    example = Path(__file__).resolve().parents[2] / "examples" / "moderation_worker.py"
    names = ("trusted-ai", "stripped", "tampered", "truncated")
    proc = subprocess.run([sys.executable, str(example), *(str(verify_files[n]) for n in names)],
                          capture_output=True, text=True, timeout=300, env=os.environ)
    assert proc.returncode == 0, proc.stderr[-2000:]
    decisions = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [d["action"] for d in decisions] == ["label-as-AI", "label-as-AI", "review", "block"]
    assert decisions[1]["content_id"] == "0123456789ab"
    assert all(d["latency_ms"] > 0 and d["reasons"] for d in decisions)


def test_an_empty_folder_is_reported_not_dropped(identity, verify_files, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run(tmp_path / "empty", verify_files["trusted-ai"], "--no-detector")
    assert result.exit_code == 2
    assert f"{tmp_path / 'empty'}: folder holds no image files" in result.stderr
    assert "trusted-ai" in result.stdout


def test_table_shows_a_failing_ingredient(identity, verify_files):
    result = run(verify_files["capture-bad-ingredient"], "--no-detector")
    assert "trusted (1 ingredient failed)" in result.stdout


def test_no_output_may_replace_an_input(identity, tmp_path):
    image = _distinct_images(tmp_path / "in", 1)[0]
    before = image.read_bytes()
    link = tmp_path / "link.png"
    os.link(image, link)  # the same file under another name
    for option in ("--report", "--jsonl", "--csv"):
        for out in (image, tmp_path / "in" / ".." / "in" / "img000.png", link):
            result = run(tmp_path / "in", "--no-detector", option, out, "--overwrite")
            assert result.exit_code == 2
            assert result.stderr == f"trustgen: error: {out}: output would overwrite an input; " \
                                    "choose another output path\n"
    named_like_the_cache = tmp_path / "r.jsonl.cache"  # --jsonl X appends to X.cache
    shutil.copy(image, named_like_the_cache)
    result = run(named_like_the_cache, "--no-detector", "--jsonl", tmp_path / "r.jsonl")
    assert result.exit_code == 2 and "would overwrite an input" in result.stderr
    assert named_like_the_cache.read_bytes() == before
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(identity.root_path.read_bytes())
    result = run(image, "--no-detector", "--trust-anchors", anchors, "--csv", anchors, "--overwrite")
    assert result.exit_code == 2 and "would overwrite an input" in result.stderr
    assert image.read_bytes() == before and anchors.read_bytes() == identity.root_path.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "anchors.pem", "img000.png", "in", "link.png", "r.jsonl.cache"]


def _cached_run(tmp_path, n: int = 2):
    """Verify ``n`` files with a resume cache; the arguments for the next run, and the cache."""
    _distinct_images(tmp_path / "in", n)
    args = (tmp_path / "in", "--no-detector", "--jsonl", tmp_path / "out.jsonl", "--overwrite")
    assert run(*args).exit_code == 1
    return args, tmp_path / "out.jsonl.cache"


def test_a_corrupt_resume_cache_costs_one_warning_not_the_run(identity, tmp_path):
    args, cache = _cached_run(tmp_path)
    good = cache.read_bytes()
    cache.write_bytes(b"\xff\xfe not UTF-8\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n"
                      + b'["an", "array"]\n' + good)
    result = run(*args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "2 files (2 from cache)" in result.stderr
    warning = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warning == [f"trustgen: warning: {cache}: skipped 3 unreadable lines"]


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next_verdict(identity, tmp_path):
    args, cache = _cached_run(tmp_path)
    first, second = cache.read_bytes().splitlines(keepends=True)
    cache.write_bytes(first + second[:40])  # killed while writing the second verdict
    result = run(*args)
    assert "2 files (1 from cache)" in result.stderr and "warning" not in result.stderr
    again = run(*args)
    assert "2 files (2 from cache)" in again.stderr and "warning" not in again.stderr


def test_a_full_disk_names_the_file_and_leaves_no_empty_cache(identity, tmp_path):
    """A file-size limit (RLIMIT_FSIZE) makes every write past it fail as a full disk would."""
    _distinct_images(tmp_path / "in", 1)
    limited = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200)); "
               "from trustgen.cli import main; main()")
    out = tmp_path / "out" / "r.jsonl"
    for extra, named in (((), f"{out}.cache"), (("--no-cache",), str(out))):
        proc = subprocess.run([sys.executable, "-c", limited, "verify", str(tmp_path / "in"),
                               "--no-detector", "--jsonl", str(out), *extra],
                              capture_output=True, text=True, timeout=120, env=os.environ)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines()[-1].startswith(f"trustgen: error: {named}: cannot write")
        assert "Traceback" not in proc.stderr
        assert not out.parent.exists() or list(out.parent.iterdir()) == []
