"""The dependency between trustgen and detectors runs one way: trustgen finds the detector and
its commands through entry points and never imports the package."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

TRUSTGEN = Path(__file__).resolve().parents[2] / "trustgen"


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_no_trustgen_module_imports_detectors():
    sources = sorted(TRUSTGEN.rglob("*.py"))
    assert TRUSTGEN / "verify.py" in sources
    offenders = [f"{path.relative_to(TRUSTGEN.parent)}: {name}"
                 for path in sources
                 for name in _imported_modules(ast.parse(path.read_text(), str(path)))
                 if name == "detectors" or name.startswith("detectors.")]
    assert offenders == []


def test_default_detector_entry_point_loads_the_shipped_fitted_detector():
    from detectors import OnnxDetector

    (ep,) = entry_points(group="trustgen.detectors", name="default")
    det = ep.load()()
    assert det is OnnxDetector.load()  # the torch-free export of the shipped checkpoint
    assert det.model_id.startswith("trustgen-detector-") and 0 < det.threshold_ < 1


def test_detect_commands_are_registered_and_help_does_not_load_the_model():
    from detectors.cli import detect_command, detector_command

    eps = {ep.name: ep for ep in entry_points(group="trustgen.commands")}
    assert eps["detect"].load() is detect_command
    assert eps["detector"].load() is detector_command
    code = ("import sys; from trustgen.cli import cli\n"
            "try: cli(['--help'])\n"
            "except SystemExit: pass\n"
            "print('detectors.model' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "detect " in out and "detector " in out
    assert out.strip().endswith("False")
