"""Score image files with a detector: what ``trustgen detect`` runs, usable without the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from trustgen.errors import TrustgenError, file_error
from trustgen.evidence import DetectorEvidence

from .folders import open_image
from .inference import BATCH, CLASS_NAMES, THREADS, load_detector


def score_files(paths: Iterable, checkpoint=None, *, threads: int = THREADS
                ) -> Iterator[tuple[Path, DetectorEvidence | TrustgenError]]:
    """``(path, evidence)`` for each file in order, or ``(path, error)`` for one that cannot be
    read or decoded, whatever its decoder raised, so one bad file never stops the run. Files
    are decoded ``BATCH`` at a time to bound memory. ``checkpoint``: a detector file instead
    of the shipped one (``.onnx`` runs on onnxruntime, ``.safetensors`` needs torch); a bad one
    raises before anything is yielded. ``threads``: onnxruntime's threads per batch."""
    det = load_detector(checkpoint, threads=threads)
    paths = [Path(p) for p in paths]
    for start in range(0, len(paths), BATCH):
        decoded = []
        for path in paths[start:start + BATCH]:
            try:
                decoded.append((path, open_image(path)))
            except Exception as err:  # noqa: BLE001 - see the docstring
                decoded.append((path, file_error(err, path, "decoding")))
        images = [img for _, img in decoded if not isinstance(img, TrustgenError)]
        scores = iter(det.score_regions(images))
        for path, img in decoded:
            if isinstance(img, TrustgenError):
                yield path, img
            else:
                p, region, box = next(scores)
                yield path, DetectorEvidence(p, float(det.threshold_), det.model_id,
                                             region_probability=region, region_box=tuple(box))


def label(evidence: DetectorEvidence) -> str:
    """The class name of the decision: "synthetic" or "real"."""
    return CLASS_NAMES[evidence.synthetic]
