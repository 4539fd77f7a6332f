"""What one ``trustgen serve`` run is configured with, in one record.

The CLI builds it from options; uvicorn's worker processes receive it as JSON in the
``TRUSTGEN_SERVICE_CONFIG`` environment variable, since they import the app by name.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass

from ..errors import ConfigError

ENV = "TRUSTGEN_SERVICE_CONFIG"


@dataclass(frozen=True)
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # uvicorn HTTP worker processes
    policies: tuple[str, ...] = ("default",)  # the allowed list; the first is the default
    trust_anchors: tuple[str, ...] = ()
    trust_config: str | None = None
    detector: bool = True
    open: bool = False  # serve without API keys (loopback only)
    keys_file: str | None = None
    verifiers: int = 1  # verification processes per worker, each with its Verifier
    queue: int = 16  # requests waiting for a verification process, per worker; then 503
    max_upload_bytes: int = 25 * 1024 * 1024  # whole request body
    max_batch_files: int = 32
    time_limit: float = 10.0  # seconds per verification; then 504
    rate: float = 10.0  # requests per second per key (token bucket refill)
    burst: int = 20  # bucket size
    file_memory_mb: int | None = 1536  # data memory one file may add to a verification process
    store: str | None = None  # the manifest store served and looked up (None: the local one)
    log_level: str = "info"

    def __post_init__(self):
        checks = {
            "workers": self.workers >= 1, "verifiers": self.verifiers >= 1, "queue": self.queue >= 0,
            "max_upload_bytes": self.max_upload_bytes >= 1, "max_batch_files": self.max_batch_files >= 1,
            "time_limit": self.time_limit > 0, "rate": self.rate > 0, "burst": self.burst >= 1,
            "policies": bool(self.policies),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(f"service settings out of range: {', '.join(bad)}")
        if self.open and not is_loopback(self.host):
            raise ConfigError(f"--open serves without API keys and is only allowed on a loopback "
                              f"address (127.0.0.1, ::1, localhost), not {self.host}")

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServiceConfig:
        raw = os.environ.get(ENV)
        if not raw:
            return cls(open=True)
        data = json.loads(raw)
        for name in ("policies", "trust_anchors"):
            data[name] = tuple(data[name])
        return cls(**data)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
