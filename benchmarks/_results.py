"""Where a benchmark writes its JSON: a scratch folder, unless ``--save`` asks for the committed
figures in ``benchmarks/results`` (so that running a README command never changes the checkout)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SCRATCH = Path(tempfile.gettempdir()) / "trustgen-benchmarks"


def add_output_options(ap: argparse.ArgumentParser, name: str) -> None:
    """``--out PATH`` and ``--save``; ``name`` is the file (or, for "", the folder) written."""
    shown = name or "the folder"
    ap.add_argument("--out", type=Path, default=None,
                    help=f"write here instead (default: {SCRATCH / name})")
    ap.add_argument("--save", action="store_true",
                    help=f"write benchmarks/results/{shown}: the committed figures the README quotes")


def destination(args: argparse.Namespace, name: str) -> Path:
    if args.out is not None:
        return args.out
    path = (RESULTS if args.save else SCRATCH) / name
    (path if not name else path.parent).mkdir(parents=True, exist_ok=True)
    return path
