"""Starting and stopping a real ``trustgen serve`` (a uvicorn subprocess on a free loopback
port), and the settings the session's server runs with."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

TIME_LIMIT = 30  # generous: the machine running the tests may be busy
SHORT_TIME_LIMIT = 0.5  # the second server's: an 8000 x 8000 JPEG takes 2.5 s or more
RATE, BURST = 3, 30
MAX_UPLOAD_MB = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def trustgen(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trustgen", *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path
    env: dict
    keys: dict[str, str] = field(default_factory=dict)

    def client(self, key: str | None = "tester", **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()


def start(args: list[str], env: dict, log: Path, *, wait: float = 180) -> Server:
    port = free_port()
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([sys.executable, "-m", "trustgen", "serve", "--port", str(port), *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"trustgen serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return Server(url, proc, log, env)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    pytest.fail(f"trustgen serve was not ready in {wait} s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.wait(10)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def jpeg(side: int = 256, seed: int = 0, quality: int = 90) -> bytes:
    """A smooth random picture as JPEG bytes (no credentials, no watermark)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (max(2, side // 16), max(2, side // 16), 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(small).resize((side, side), Image.BICUBIC).save(buf, "JPEG", quality=quality)
    return buf.getvalue()
