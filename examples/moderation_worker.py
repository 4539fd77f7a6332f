"""A moderation worker: score each uploaded image under trustgen's ``moderation`` policy.

Copy ``moderate`` into a queue consumer or a web handler. The ``Verifier`` is built once per
process (it loads trust anchors, watermark keys and the detector network) and is shared by all
worker threads; each call then costs only the per-image work (see benchmarks/verify_speed.py
for its latency). The policy answers allow / label-as-AI / review / block, with reasons a
human reviewer can read.

    python examples/moderation_worker.py upload1.jpg upload2.png ...
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trustgen import Verifier

VERIFIER = Verifier(policy="moderation")


def moderate(upload: bytes, filename: str | None = None) -> dict:
    """The decision for one upload, ready to store next to it or send to a review queue."""
    start = time.perf_counter()
    verdict = VERIFIER.verify_bytes(upload, filename=filename)
    watermark = verdict.evidence.watermark
    return {
        "file": filename,
        "action": verdict.action,  # allow | label-as-AI | review | block
        "label": verdict.label,
        "reasons": [reason.to_dict() for reason in verdict.reasons],  # {code, text} each
        "content_id": watermark.content_id if watermark is not None and watermark.detected else None,
        "sha256": verdict.evidence.sha256,
        "latency_ms": round((time.perf_counter() - start) * 1000, 1),
    }


def main(paths: list[str]) -> int:
    def one(path: str) -> dict:
        try:
            return moderate(Path(path).read_bytes(), path)
        except OSError as err:  # an upload that never arrived: say so, keep going
            return {"file": path, "action": None, "error": err.strerror or str(err)}

    with ThreadPoolExecutor(max_workers=2) as pool:
        decisions = list(pool.map(one, paths))
    for decision in decisions:
        print(json.dumps(decision))
    return 2 if any("error" in d for d in decisions) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
