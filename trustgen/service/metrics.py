"""Prometheus metrics of the service: requests, latency, verdicts by label, errors.

With several uvicorn workers every process writes its samples to ``PROMETHEUS_MULTIPROC_DIR``
(set by ``trustgen serve`` before any worker starts, since prometheus-client reads it at
import) and ``/metrics`` sums them, whichever worker answers.
"""

from __future__ import annotations

import os
from functools import cache

#: Latency buckets in seconds: the 250 ms service target sits on a bucket boundary.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = self.registry
        self.requests = Counter("trustgen_requests_total", "HTTP requests answered",
                                ("route", "method", "status"), registry=reg)
        self.latency = Histogram("trustgen_request_seconds", "Time to answer a request",
                                 ("route",), buckets=BUCKETS, registry=reg)
        self.verdicts = Counter("trustgen_verdicts_total", "Verdicts returned, by label",
                                ("label",), registry=reg)
        self.errors = Counter("trustgen_errors_total",
                              "Requests refused or failed, by kind (auth, rate, size, media, "
                              "timeout, busy, crash, internal, bad_request)", ("kind",), registry=reg)
        self.restarts = Counter("trustgen_verifier_restarts_total",
                                "Verification processes replaced after a timeout or crash",
                                registry=reg)
        self.in_flight = Gauge("trustgen_verifications_in_flight", "Verifications running",
                               registry=reg, multiprocess_mode="livesum")

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import (
            CONTENT_TYPE_LATEST,
            CollectorRegistry,
            generate_latest,
        )

        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged), CONTENT_TYPE_LATEST


@cache
def metrics() -> Metrics:
    """This process's metrics, made once (a second registration would raise)."""
    return Metrics()
