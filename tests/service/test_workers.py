"""Two uvicorn workers without keys: the time limit (504, then the next file is verified),
metrics summed across workers, and the checks ``trustgen serve`` makes before starting."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from click.testing import CliRunner
from service.server import SHORT_TIME_LIMIT, jpeg  # tests/ is on sys.path


def total(text: str, name: str, **labels) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and all(w in line for w in want))


def test_time_limit_then_still_serving(open_server):
    """An 8000 x 8000 JPEG takes longer than the limit: 504, its process is replaced, and the
    next file is verified."""
    huge = jpeg(8000, quality=40)
    with httpx.Client(base_url=open_server.url, timeout=60) as c:
        started = time.monotonic()
        r = c.post("/v1/verify", params={"filename": "huge.jpg"}, content=huge)
        took = time.monotonic() - started
        assert r.status_code == 504, r.text[:300]
        assert f"{SHORT_TIME_LIMIT:g} s limit" in r.json()["error"]["message"]
        assert took < SHORT_TIME_LIMIT + 5
        small = jpeg(64, seed=3)
        codes = [c.post("/v1/verify", content=small).status_code for _ in range(4)]
        assert c.get("/healthz").status_code == 200
    assert codes.count(200) >= 3, codes  # a replaced process may still be loading: 503 at most


def test_open_needs_no_key_and_metrics_sum_over_workers(open_server):
    before = httpx.get(f"{open_server.url}/metrics").text

    def one(i):
        with httpx.Client(base_url=open_server.url, timeout=60) as c:  # a connection each
            return c.get("/v1/policies").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(one, range(24)))
    assert codes == [200] * 24
    route = {"route": "/v1/policies", "method": "GET", "status": "200"}
    seen = {total(httpx.get(f"{open_server.url}/metrics").text, "trustgen_requests_total", **route)
            for _ in range(6)}  # answered by either worker: the same sum
    assert seen == {total(before, "trustgen_requests_total", **route) + 24}


def test_concurrency_limit(open_server):
    """Two workers x (one verification process + a queue of one): of 16 uploads at once, some
    are turned away with 503 and Retry-After rather than queued without bound."""
    photo = jpeg(512, seed=9)

    def one(i):
        with httpx.Client(base_url=open_server.url, timeout=60) as c:
            return c.post("/v1/verify", params={"filename": f"{i}.jpg"}, content=photo)

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(16)))
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 503, 504} and 200 in codes, codes
    busy = [r for r in answers if r.status_code == 503]
    assert busy, codes
    assert busy[0].json()["error"]["code"] in ("busy", "not_ready")
    assert int(busy[0].headers["retry-after"]) >= 1


def trustgen(*args, home):
    """The CLI in this process: the checks come before uvicorn starts, so nothing is served."""
    from trustgen.cli import cli

    return CliRunner().invoke(cli, list(args), env={"TRUSTGEN_HOME": str(home)})


def test_serve_refuses_to_start_without_keys_or_open_outside_loopback(tmp_path):
    no_keys = trustgen("serve", "--no-detector", "--port", "1", home=tmp_path)
    exposed = trustgen("serve", "--open", "--host", "0.0.0.0", "--port", "1", home=tmp_path)
    for done in (no_keys, exposed):
        assert done.exit_code == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert "trustgen serve keys add" in no_keys.stderr
    assert "loopback" in exposed.stderr


def test_keys_commands(tmp_path):
    added = trustgen("serve", "keys", "add", "desk-1", home=tmp_path)
    assert added.exit_code == 0 and re.fullmatch(r"tg_[A-Za-z0-9_-]{43}", added.stdout.strip())
    stored = (tmp_path / "service-keys.json").read_text()
    assert added.stdout.strip() not in stored  # only its hash
    assert (tmp_path / "service-keys.json").stat().st_mode & 0o077 == 0
    again = trustgen("serve", "keys", "add", "desk-1", home=tmp_path)
    assert again.exit_code == 2 and "exists" in again.stderr
    assert trustgen("serve", "keys", "revoke", "desk-1", home=tmp_path).exit_code == 0
    listed = trustgen("serve", "keys", "ls", home=tmp_path).stdout
    assert re.search(r"desk-1\s+\S+Z\s+\S+Z", listed)
    missing = trustgen("serve", "keys", "revoke", "nobody", home=tmp_path)
    assert missing.exit_code == 2 and "nobody" in missing.stderr
    assert trustgen("serve", "keys", "add", "../etc", home=tmp_path).exit_code == 2
