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
