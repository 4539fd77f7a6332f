"""The examples the README tells people to run: they work and leave the checkout alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "examples" / name), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=os.environ)


def test_sample_uploads_feed_the_moderation_worker(identity, tmp_path):
    made = run_example("sample_uploads.py", str(tmp_path))
    assert made.returncode == 0, made.stderr
    uploads = sorted(tmp_path.iterdir())
    assert len(uploads) == 5
    again = run_example("sample_uploads.py", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr

    worker = run_example("moderation_worker.py", *map(str, uploads))
    assert worker.returncode == 0, worker.stderr[-2000:]
    actions = {Path(d["file"]).name: d["action"] for d in map(json.loads, worker.stdout.splitlines())}
    assert actions == {"ai-generated.png": "label-as-AI", "plain-photo.jpg": "allow",
                       "signed-capture.jpg": "allow", "stripped-repost.jpg": "label-as-AI",
                       "truncated.jpg": "block"}


def test_kms_example_writes_outside_the_checkout(identity):
    proc = run_example("kms_signer.py")  # run from the repository root, as the README does
    assert proc.returncode == 0, proc.stderr
    assert "C2PA trusted" in proc.stdout
    assert not (REPO / "kms-signed.png").exists()


def test_edit_example_keeps_the_photo_in_the_chain(identity, tmp_path):
    from tiny_pipelines import mask, photo, save_family

    from trustgen.credentials.sign import sign_image

    model = save_family("inpaint", tmp_path / "tiny-inpaint")
    source = tmp_path / "street.png"
    photo(5).save(source)
    source.write_bytes(sign_image(source.read_bytes(), "png", identity.signer(),
                                  source_type="digitalCapture"))
    mask().save(tmp_path / "mask.png")
    out = tmp_path / "edited.png"
    proc = run_example("edit_with_provenance.py", str(model), str(source), str(tmp_path / "mask.png"),
                       str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file()
    assert "region {'x': 128, 'y': 160, 'width': 192, 'height': 224}" in proc.stdout
    assert "(C2PA trusted; compositeWithTrainedAlgorithmicMedia)" in proc.stdout
    assert "ingredient street.png: parentOf, its own manifest signed by" in proc.stdout
    assert "ingredient mask.png: inputTo" in proc.stdout
