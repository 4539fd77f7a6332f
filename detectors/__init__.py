"""trustgen's learned synthetic-image detector (see MODEL_CARD.md for what it has been measured on).

Importing this package is cheap: the exports below load on first use, and torch and timm only
when a model is built or run, so ``trustgen --help`` can list this package's commands.

The dependency runs one way. No module of ``trustgen`` imports this package; trustgen finds it
through entry points declared in pyproject.toml:

- ``trustgen.detectors`` / ``default``: ``inference.load_detector``, which returns the shipped
  fitted detector exported to ONNX (what ``trustgen verify`` runs, on onnxruntime, without
  torch; ``SyntheticImageDetector`` is the torch model it is exported from, for training);
- ``trustgen.commands`` / ``detect`` and ``detector``: the commands in ``detectors.cli``.

This package uses only this surface of trustgen: ``trustgen.errors`` (its exceptions),
``trustgen.media`` (safe decoding, atomic writes), ``trustgen.evidence`` (``DetectorEvidence``
and ``is_synthetic``, the one decision rule that verify, ``predict`` and ``detect`` share),
in ``detectors.cli`` only, the output helpers of ``trustgen.cli._render``, and, for training
data and evaluation only, ``trustgen.watermark.embed`` (the mark as shared history) and
``trustgen.generate.TrustedPipeline`` (trustgen's own generations).
"""

from importlib import import_module

__all__ = ["OnnxDetector", "SyntheticImageDetector", "load_detector", "score_files"]

_HOME = {"OnnxDetector": ".inference", "SyntheticImageDetector": ".model",
         "load_detector": ".inference", "score_files": ".scoring"}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_HOME[name], __name__), name)
