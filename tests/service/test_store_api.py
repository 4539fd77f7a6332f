"""``trustgen serve`` serves the Soft Binding Resolution API over its manifest store, and its
verifiers look stripped uploads up in that store, as ``trustgen verify`` does."""

from __future__ import annotations

import io

from click.testing import CliRunner
from PIL import Image

from service.server import jpeg  # tests/ is on sys.path
from trustgen import watermark
from trustgen.cli import cli
from trustgen.store import open_store

CID = "c0ffee5eed00"


def test_resolution_api_is_served_and_verify_recovers(server, service_home, identity, tmp_path):
    marked = tmp_path / "marked.png"
    picture = Image.open(io.BytesIO(jpeg(512, seed=4))).convert("RGB")
    watermark.embed(picture, CID).save(marked)  # under the public key: the server reads it
    signed = tmp_path / "signed.png"
    done = CliRunner().invoke(cli, ["sign", str(marked), "-o", str(signed),
                                    "--source-type", "trainedAlgorithmicMedia"])
    assert done.exit_code == 0, done.output
    with open_store(service_home / "manifests.db") as store:  # the store the server opened
        key = store.create_key("tests")

    with server.client(key=None) as c:
        algs = c.get("/services/supportedAlgorithms")
        assert algs.status_code == 200 and "org.trustgen.watermark.1" in algs.text
        assert c.post("/manifests", content=signed.read_bytes()).status_code == 401
        added = c.post("/manifests", content=signed.read_bytes(),
                       headers={"Authorization": f"Bearer {key}"})
        assert added.status_code == 201, added.text

    repost = io.BytesIO()
    Image.open(signed).convert("RGB").save(repost, "JPEG", quality=90)
    with server.client() as c:
        r = c.post("/v1/verify", params={"filename": "repost.jpg"}, content=repost.getvalue())
    assert r.status_code == 200, r.text
    verdict = r.json()
    rec = verdict["recovered"]
    assert rec["matched_by"] == "both" and rec["pixels_match"] is False, rec
    # signed by the test session's identity, which this server does not trust: never trusted
    assert rec["state"] == "valid" and verdict["verdict"] == "ai-watermark"
    assert "recovery.untrusted" in [x["code"] for x in verdict["reasons"]]


def test_the_store_option_reaches_every_verifier(tmp_path):
    """`trustgen serve --store URL`: the verifiers look stripped files up there, not only locally."""
    from trustgen.service.config import ServiceConfig
    from trustgen.service.pool import build_verifiers

    url = str(tmp_path / "desk.db")
    verifiers = build_verifiers(ServiceConfig(policies=("default", "newsroom"), detector=False,
                                              store=url))
    assert all(url in v.store_urls for v in verifiers.values())
