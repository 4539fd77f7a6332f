"""Start uvicorn for a ``ServiceConfig``: checks first, then the workers, JSON logs."""

from __future__ import annotations

import os
import shutil
import tempfile

from ..errors import ConfigError
from .app import load_policies
from .config import ENV, ServiceConfig
from .keys import KeyStore, keys_path


def log_config(level: str) -> dict:
    """uvicorn's and the service's loggers, as JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1, "disable_existing_loggers": False,
        "formatters": {"json": {"()": "trustgen.service.app.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {name: {"handlers": ["stderr"], "level": level.upper(), "propagate": False}
                    for name in ("uvicorn", "uvicorn.error", "trustgen.service")},
    }


def check(config: ServiceConfig) -> None:
    """What would make every request fail, refused before the first worker starts."""
    load_policies(config)
    if not config.open:
        store = KeyStore(config.keys_file or keys_path())
        if not store.active():
            raise ConfigError(f"no API keys in {store.path}: add one with 'trustgen serve keys add "
                              "NAME', or serve a desk machine without keys with --open on 127.0.0.1")


def run(config: ServiceConfig) -> None:
    import uvicorn

    check(config)
    os.environ[ENV] = config.to_env()
    metrics_dir = None
    if config.workers > 1:  # each worker writes its samples here; /metrics sums them
        metrics_dir = tempfile.mkdtemp(prefix="trustgen-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run("trustgen.service:create_app", factory=True, host=config.host,
                    port=config.port, workers=config.workers, log_config=log_config(config.log_level),
                    access_log=False, timeout_graceful_shutdown=int(config.time_limit) + 5,
                    server_header=False)
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
