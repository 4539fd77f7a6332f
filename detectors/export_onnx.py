"""Export a detector checkpoint to ONNX for torch-free verification (``detectors.inference``).

    python -m detectors.export_onnx                     # the shipped checkpoint -> its .onnx
    python -m detectors.export_onnx CKPT.safetensors OUT.onnx

The graph takes the crops as ``Scorer._crops`` cuts them (uint8, N x S x S x 3) and does the
normalisation itself, so the runtime cannot apply the wrong mean and std; it returns the two
logits per crop. The checkpoint's metadata (input size, crop grid, mean and std, calibration,
threshold, training summary) goes into ``metadata_props`` under ``trustgen``, unchanged, with
the SHA-256 of the checkpoint it came from (tests/detector/test_onnx.py checks that the shipped
export matches the shipped checkpoint). Needs torch, timm, onnx and onnxscript
(``trustgen[train]``). The same checkpoint gives the same graph and weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import struct
from pathlib import Path

from trustgen.errors import TrustgenError

from .inference import META_KEY, ONNX
from .model import CHECKPOINT, SyntheticImageDetector

#: metadata_props key of the exported checkpoint's SHA-256.
SOURCE_KEY = "source_sha256"
OPSET = 18


def _metadata(checkpoint: Path) -> dict:
    data = checkpoint.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    return {META_KEY: json.loads(data[8:8 + n])["__metadata__"]["trustgen"],
            SOURCE_KEY: hashlib.sha256(data).hexdigest()}


def export(checkpoint: Path = CHECKPOINT, out: Path = ONNX) -> Path:
    """Write ``out`` from ``checkpoint``; returns ``out``."""
    import onnx
    import torch

    det = SyntheticImageDetector.load(checkpoint)
    s = det.input_size
    mean = torch.tensor(det.preprocessing_["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(det.preprocessing_["std"]).view(1, 3, 1, 1)

    class Crops(torch.nn.Module):
        """uint8 NHWC crops -> logits, the normalisation of ``SyntheticImageDetector._tensor``."""

        def __init__(self):
            super().__init__()
            self.net = det.model_
            self.register_buffer("mean", mean)
            self.register_buffer("std", std)

        def forward(self, crops):
            x = crops.permute(0, 3, 1, 2).float() / 255
            return self.net((x - self.mean) / self.std)

    example = torch.zeros((9, s, s, 3), dtype=torch.uint8)
    program = torch.onnx.export(
        Crops().eval(), (example,), dynamo=True, opset_version=OPSET, optimize=True,
        input_names=["crops"], output_names=["logits"],
        dynamic_shapes={"crops": {0: torch.export.Dim("crops")}}, verbose=False)
    model = program.model_proto
    for node in model.graph.node:  # the exporter's debugging notes (stack traces, call sites)
        del node.metadata_props[:]  # differ with the caller: dropped, so the file is reproducible
        node.doc_string = ""
    for key, value in _metadata(checkpoint).items():
        model.metadata_props.add(key=key, value=value)
    model.producer_name, model.producer_version = "trustgen detectors.export_onnx", ""
    onnx.checker.check_model(model)
    from trustgen.media import atomic_write

    return atomic_write(out, model.SerializeToString(), overwrite=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", nargs="?", type=Path, default=CHECKPOINT)
    ap.add_argument("out", nargs="?", type=Path, default=ONNX)
    args = ap.parse_args(argv)
    try:
        path = export(args.checkpoint, args.out)
    except TrustgenError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
