"""The wheel ships every code package and the embedded weights, not just what an editable
install happens to find in the source tree."""

from __future__ import annotations

from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_code_package_and_weight_folder_is_listed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    code = {
        ".".join(init.parent.relative_to(REPO).parts)
        for top in ("trustgen", "detectors")
        for init in (REPO / top).rglob("__init__.py")
    }
    assert code <= listed, f"packages missing from pyproject.toml: {sorted(code - listed)}"
    weights = {
        ".".join(f.parent.relative_to(REPO).parts)
        for f in (REPO / "trustgen" / "models").rglob("*.safetensors")
    }
    assert weights and weights <= listed
    assert config["package-dir"]["trustgen.policies"] == "policies"
    assert sorted(p.stem for p in (REPO / "policies").glob("*.toml")) == [
        "default", "moderation", "newsroom", "strict"]


def test_package_data_ships_the_schema_templates_and_typing_marker():
    import fnmatch

    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    files = [p.relative_to(REPO) for p in (REPO / "trustgen").rglob("*")
             if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
             and "models" not in p.parts]
    names = {f.as_posix() for f in files}
    assert {"trustgen/py.typed", "trustgen/verdict.schema.json"} <= names
    assert any(n.startswith("trustgen/templates/") for n in names)
    missing = [f for f in files if not any(
        fnmatch.fnmatch(f.name, g) for g in data.get(".".join(f.parent.parts), ()))]
    assert missing == []


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "trustgen", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("trustgen, version")
