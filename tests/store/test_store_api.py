"""The Soft Binding Resolution API served by a real uvicorn on a free loopback port, and the
client ``verify`` uses to ask it."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from trustgen import fingerprint as fp
from trustgen import softbinding as sb
from trustgen.recovery import recover
from trustgen.store import StoreError, open_store
from trustgen.store.remote import RemoteResolver


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("api") / "manifests.db"
    with open_store(db) as store:
        key = store.create_key("publisher")
    port = _free_port()
    log = db.parent / "uvicorn.log"
    env = dict(os.environ, TRUSTGEN_TEST_STORE=str(db))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "--app-dir",
                                 str(Path(__file__).parent), "sbr_app:make_app", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"uvicorn exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/services/supportedAlgorithms", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"uvicorn not ready: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    try:
        yield url, key, db
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


@pytest.fixture(scope="module")
def registered(server, signed):
    url, key, _ = server
    with httpx.Client(base_url=url, timeout=60) as client:
        for item in signed.items:
            r = client.post("/manifests", content=item.data, headers={
                "Authorization": f"Bearer {key}", "Content-Type": "image/png"})
            assert r.status_code == 201 and r.json() == {"manifestId": item.manifest_id, "created": True}
    return signed


def _jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=75)
    return buf.getvalue()


def test_supported_algorithms(server):
    body = httpx.get(server[0] + "/services/supportedAlgorithms").json()
    assert body == {"watermarks": [{"alg": "org.trustgen.watermark.1"}],
                    "fingerprints": [{"alg": "com.facebook.pdq"}]}


def test_registering_needs_a_key_reading_does_not(server, registered):
    url, key, _ = server
    item = registered.items[0]
    with httpx.Client(base_url=url, timeout=60) as client:
        assert client.post("/manifests", content=item.data).status_code == 401
        assert client.post("/manifests", content=item.data,
                           headers={"Authorization": "Bearer tgs_wrong"}).status_code == 401
        again = client.post("/manifests", content=item.data, headers={"Authorization": f"Bearer {key}"})
        assert again.status_code == 200 and again.json()["created"] is False
        plain = client.post("/manifests", content=_jpeg(item.image),
                            headers={"Authorization": f"Bearer {key}"})
        assert plain.status_code == 400 and "no content credentials" in plain.json()["detail"]
        manifest = client.get(f"/manifests/{item.manifest_id}")
        assert manifest.status_code == 200 and manifest.headers["content-type"] == "application/c2pa"
        with open_store(server[2]) as store:
            assert manifest.content == store.get(item.manifest_id)
        assert client.get("/manifests/urn:c2pa:unknown").status_code == 404


def test_matches(server, registered):
    url = server[0]
    item = registered.items[1]
    value = sb.watermark_value(item.content_id)
    with httpx.Client(base_url=url, timeout=60) as client:
        r = client.get("/matches/byBinding", params={"alg": sb.WATERMARK_ALG, "value": value})
        assert r.json() == {"matches": [{"manifestId": item.manifest_id}]}
        near = bytearray(item.fingerprint.hash)
        near[0] ^= 0b111
        r = client.post("/matches/byBinding", json={"alg": fp.ALG, "value": base64.b64encode(near).decode()})
        assert r.json() == {"matches": [{"manifestId": item.manifest_id, "similarityScore": 99}]}
        r = client.post("/matches/byContent", content=_jpeg(item.image), headers={"Content-Type": "image/jpeg"})
        assert r.status_code == 200 and r.json()["matches"][0]["manifestId"] == item.manifest_id
        assert client.get("/matches/byBinding", params={"alg": "com.example", "value": value}).status_code == 400
        assert client.get("/matches/byBinding", params={"alg": sb.WATERMARK_ALG, "value": "%%"}).status_code == 400
        assert client.post("/matches/byContent", content=b"not an image").status_code == 415


def test_recovery_through_a_remote_resolver(server, registered):
    item = registered.items[2]
    data = _jpeg(item.image)
    image = Image.open(io.BytesIO(data))
    from trustgen import watermark as wm

    with RemoteResolver(server[0]) as remote:
        found = recover(data, image, wm.detect(image, keys=[item.key]), None, [remote],
                        trust=registered.trust, max_p_value=wm.FALSE_ALARM)
    assert (found.matched_by, found.manifest_id, found.source) == ("both", item.manifest_id, server[0])
    assert found.state == "trusted" and found.pixels_match is False


def test_unreachable_resolver_is_one_line():
    with RemoteResolver(f"http://127.0.0.1:{_free_port()}", timeout=2) as remote:
        with pytest.raises(StoreError) as err:
            remote.by_binding(sb.WATERMARK_ALG, sb.watermark_value("5eed0fc0ffee"))
    assert "did not answer" in str(err.value) and "\n" not in str(err.value)
