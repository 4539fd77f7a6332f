"""The HTTP API of a real ``trustgen serve``: every endpoint, keys, limits, hostile uploads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import jsonschema
import pytest
from service.hostile import (  # tests/ is on sys.path
    malformed_app11,
    png_bomb,
    truncated,
)
from service.server import BURST, MAX_UPLOAD_MB, jpeg

REPO = Path(__file__).resolve().parents[2]
FUZZ_PNG = REPO / "benchmarks/results/fuzz-findings/verify-00002a6822e8d19e.png"


def metric(text: str, name: str, **labels) -> float:
    """A sample's value in a Prometheus exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if m and ",".join(sorted((m.group(1) or "").split(","))) == want:
            total += float(m.group(2))
    return total


@pytest.fixture(scope="module")
def local(c2pa_fixtures):
    """The library's verdicts under the server's settings, to compare the API with."""
    from trustgen.verify import Verifier

    trust = c2pa_fixtures / "trust"
    return Verifier.from_options("default", trust_anchors=[trust / "test_cert_root_bundle.pem"],
                                 trust_config=trust / "store.cfg", detector=False)


def test_health_ready_and_policies(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready["status"] == "ready"
    assert set(ready["policies"]) == {"default", "strict"}
    assert ready["policies"]["default"]["anchors"] >= 2  # the fixtures' bundle
    assert ready["policies"]["default"]["detector"] is None  # --no-detector
    with server.client() as c:
        listed = c.get("/v1/policies").json()
    assert listed["default"] == "default"
    assert [p["name"] for p in listed["policies"]] == ["default", "strict"]
    assert all(p["description"] for p in listed["policies"])


@pytest.mark.parametrize("name", ["C.jpg", "XCA.jpg", "no_manifest.jpg", "sample1.png"])
def test_verify_matches_the_library(server, local, c2pa_fixtures, name):
    from trustgen.evidence import verdict_schema

    data = (c2pa_fixtures / "files" / name).read_bytes()
    with server.client() as c:
        raw = c.post("/v1/verify", params={"filename": name}, content=data)
        multipart = c.post("/v1/verify", files={"file": (name, data, "application/octet-stream")})
    assert raw.status_code == multipart.status_code == 200, raw.text
    expected = local.verify_bytes(data, name).to_dict()
    for got in (raw.json(), multipart.json()):
        jsonschema.validate(got, verdict_schema())
        assert (got["verdict"], got["action"], got["c2pa"]["state"], got["path"]) == \
            (expected["verdict"], expected["action"], expected["c2pa"]["state"], name)
        assert got["schema_version"] == expected["schema_version"]
    states = json.loads((c2pa_fixtures / "expected.json").read_text())
    assert raw.json()["c2pa"]["state"] == states[name]["state"]


def test_policy_choice(server, c2pa_fixtures):
    data = (c2pa_fixtures / "files" / "C.jpg").read_bytes()
    with server.client() as c:
        strict = c.post("/v1/verify", params={"policy": "strict", "filename": "C.jpg"}, content=data)
        bad = c.post("/v1/verify", params={"policy": "lenient"}, content=data)
    assert strict.json()["policy"] == "strict"
    assert bad.status_code == 400
    assert "default, strict" in bad.json()["error"]["message"]


def test_batch(server, c2pa_fixtures):
    names = ["C.jpg", "XCA.jpg", "no_manifest.jpg"]
    files = [("files", (n, (c2pa_fixtures / "files" / n).read_bytes(), "image/jpeg")) for n in names]
    files.append(("files", ("C.jpg", (c2pa_fixtures / "files" / "C.jpg").read_bytes(), "image/jpeg")))
    with server.client() as c:
        r = c.post("/v1/verify:batch", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [v["path"] for v in body["verdicts"]] == [*names, "C.jpg (2)"]
    assert [v["c2pa"]["state"] for v in body["verdicts"]] == ["trusted", "invalid", "absent", "trusted"]


def test_keys(server):
    data = jpeg()
    with server.client(key=None) as c:
        none = c.post("/v1/verify", content=data)
        wrong = c.post("/v1/verify", content=data, headers={"Authorization": "Bearer tg_nope"})
        basic = c.get("/v1/policies", headers={"Authorization": "Basic dXNlcjpwdw=="})
    with server.client(key="gone") as c:
        revoked = c.get("/v1/policies")
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    assert basic.status_code == 401
    assert wrong.status_code == 403 and revoked.status_code == 403
    assert "revoked" in revoked.json()["error"]["message"]


def test_rate_limit(server):
    """The ``limited`` key, used only here: BURST requests at once, then 429 with Retry-After."""
    with server.client(key="limited") as c:
        codes = [c.get("/v1/policies") for _ in range(BURST + 25)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited, [r.status_code for r in codes]
    assert {r.status_code for r in codes} == {200, 429}
    assert int(limited[0].headers["retry-after"]) >= 1
    with server.client() as c:  # another key is not affected
        assert c.get("/v1/policies").status_code == 200


def test_size_limit(server):
    limit = int(MAX_UPLOAD_MB * 1024 * 1024)
    big = b"\xff\xd8\xff" + b"\0" * limit
    with server.client() as c:
        declared = c.post("/v1/verify", content=big)

        def chunks():  # no Content-Length: refused once the limit is passed
            for i in range(0, len(big), 1 << 20):
                yield big[i:i + (1 << 20)]

        streamed = c.post("/v1/verify", content=chunks())
        multipart = c.post("/v1/verify:batch", files=[("files", ("a.jpg", big, "image/jpeg"))])
        after = c.post("/v1/verify", content=jpeg())
    for r in (declared, streamed, multipart):
        assert r.status_code == 413, r.text
        assert str(limit) in r.json()["error"]["message"]
    assert after.status_code == 200


def test_unsupported_media(server):
    with server.client() as c:
        text = c.post("/v1/verify", params={"filename": "notes.txt"}, content=b"hello, world\n",
                      headers={"Content-Type": "text/plain"})
        part = c.post("/v1/verify:batch", files=[
            ("files", ("ok.jpg", jpeg(), "image/jpeg")),
            ("files", ("doc.xyz", b"\x01\x02\x03 binary", "application/x-thing"))])
        empty = c.post("/v1/verify", content=b"")
    assert text.status_code == 415
    assert "text/plain" in text.json()["error"]["message"]
    assert "image/jpeg" in text.json()["error"]["message"]  # names what is supported
    assert part.status_code == 415 and "application/x-thing" in part.json()["error"]["message"]
    assert empty.status_code == 400


def test_hostile_uploads_get_verdicts(server, c2pa_fixtures):
    signed = (c2pa_fixtures / "files" / "C.jpg").read_bytes()
    cases = {
        "bomb.png": png_bomb(),
        "truncated.jpg": truncated(signed),
        "app11.jpg": malformed_app11(signed),
        "fuzz.png": FUZZ_PNG.read_bytes(),  # c2pa-rs takes 1.8 GB on it without a limit
    }
    with server.client() as c:
        got = {n: c.post("/v1/verify", params={"filename": n}, content=d) for n, d in cases.items()}
        batch = c.post("/v1/verify:batch", files=[("files", (n, d, "")) for n, d in cases.items()])
        assert c.get("/healthz").status_code == 200
        after = c.post("/v1/verify", params={"filename": "C.jpg"}, content=signed)
    for name, r in got.items():
        assert r.status_code == 200, (name, r.text[:300])
    verdicts = {n: r.json() for n, r in got.items()}
    assert verdicts["bomb.png"]["verdict"] == "error"
    assert "pixel limit" in verdicts["bomb.png"]["error"]
    assert verdicts["truncated.jpg"]["verdict"] in ("error", "credentials-invalid")
    assert verdicts["app11.jpg"]["c2pa"]["state"] in ("error", "invalid")
    assert verdicts["fuzz.png"]["c2pa"]["state"] in ("error", "invalid")
    assert [v["verdict"] for v in batch.json()["verdicts"]] == [v["verdict"] for v in verdicts.values()]
    assert after.json()["c2pa"]["state"] == "trusted"


def test_metrics_move(server, c2pa_fixtures):
    with server.client() as c:
        before = httpx.get(f"{server.url}/metrics").text
        c.post("/v1/verify", params={"filename": "C.jpg"},
               content=(c2pa_fixtures / "files" / "C.jpg").read_bytes())
        c.post("/v1/verify", content=b"plain text", headers={"Content-Type": "text/plain"})
    with server.client(key=None) as c:
        c.get("/v1/policies")
    after = httpx.get(f"{server.url}/metrics").text
    assert metric(after, "trustgen_verdicts_total", label="trusted-capture") + \
        metric(after, "trustgen_verdicts_total", label="untrusted-ai") + \
        metric(after, "trustgen_verdicts_total", label="trusted-ai") > \
        metric(before, "trustgen_verdicts_total", label="trusted-capture") + \
        metric(before, "trustgen_verdicts_total", label="untrusted-ai") + \
        metric(before, "trustgen_verdicts_total", label="trusted-ai")
    for kind in ("media", "auth"):
        assert metric(after, "trustgen_errors_total", kind=kind) > metric(before, "trustgen_errors_total", kind=kind)
    key = {"route": "/v1/verify", "method": "POST", "status": "200"}
    assert metric(after, "trustgen_requests_total", **key) == metric(before, "trustgen_requests_total", **key) + 1
    assert metric(after, "trustgen_request_seconds_count", route="/v1/verify") >= 2
    assert "trustgen_request_seconds_bucket" in after


def test_request_ids_and_json_logs(server):
    with server.client() as c:
        given = c.get("/v1/policies", headers={"X-Request-ID": "case-42"})
        hostile = c.get("/v1/policies", headers={"X-Request-ID": "bad id\x7f" + "x" * 100})
        fresh = c.get("/v1/policies")
    assert given.headers["x-request-id"] == "case-42"
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    time.sleep(0.2)
    records = [json.loads(line) for line in server.log_lines() if line.startswith("{")]
    assert len(records) == len([ln for ln in server.log_lines() if ln.strip()]), "a log line is not JSON"
    mine = [r for r in records if r.get("request_id") == "case-42"]
    assert mine and mine[0]["status"] == 200 and mine[0]["key"] == "tester"


def test_no_stack_trace_in_responses(server):
    with server.client() as c:
        bad_multipart = c.post("/v1/verify:batch", content=b"--x\r\ngarbage",
                               headers={"Content-Type": "multipart/form-data; boundary=x"})
        nothing = c.post("/v1/verify:batch", files={"other": ("a.jpg", jpeg(), "image/jpeg")})
    for r in (bad_multipart, nothing):
        assert 400 <= r.status_code < 500, r.text
        assert "Traceback" not in r.text and "File \"" not in r.text
        assert set(r.json()) == {"error", "request_id"}


def test_docs_work_offline(server):
    with server.client(key=None) as c:
        docs = c.get("/docs")
        spec = c.get("/openapi.json").json()
        bundle = c.get("/docs/assets/swagger-ui-bundle.js")
    assert docs.status_code == 200
    assert not re.search(r"""(src|href)=["']https?://""", docs.text), "docs load from a CDN"
    assert "/docs/assets/swagger-ui-bundle.js" in docs.text
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert {"/v1/verify", "/v1/verify:batch", "/v1/policies", "/healthz", "/readyz", "/metrics"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/verify"]["post"]["requestBody"]["content"]
    assert spec["paths"]["/v1/verify"]["post"]["security"] == [{"apiKey": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_a_killed_verification_process_is_an_error_verdict_and_replaced(server):
    """The worst case of a hostile file, a verification process dying mid-file (the kernel's
    OOM killer, a native abort), made real with SIGKILL: the request gets an ``error`` verdict,
    the server keeps answering, and the process is replaced."""
    import os
    import signal
    import threading

    from service.server import children

    def verifiers():
        return [p for p in children(server.proc.pid)
                if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]

    before = verifiers()
    assert len(before) == 2
    answer = {}
    worker = threading.Thread(target=lambda: answer.update(r=server.client().post(
        "/v1/verify", params={"filename": "huge.jpg"}, content=jpeg(8000, quality=40))))
    worker.start()
    time.sleep(1.5)  # uploaded and being verified (2.5 s or more)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    worker.join(60)
    r = answer["r"]
    assert r.status_code == 200, r.text[:300]
    assert r.json()["verdict"] == "error" and "crashed" in r.json()["error"]
    with server.client() as c:
        ok = c.post("/v1/verify", params={"filename": "small.jpg"}, content=jpeg(seed=4))
        metrics = c.get("/metrics").text
    assert ok.status_code == 200 and ok.json()["verdict"] == "no-evidence"
    assert metric(metrics, "trustgen_verifier_restarts_total") >= 1
    assert metric(metrics, "trustgen_errors_total", kind="crash") >= 1
    assert len(verifiers()) == 2 and not set(verifiers()) & set(before)
