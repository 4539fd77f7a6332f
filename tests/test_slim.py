"""The slim install: verification with every signal on imports neither torch nor diffusers nor
timm, and the commands that need them say which extra to install, on one line.

The "absent" runs hide the libraries of ``trustgen[generate]`` from a subprocess of this very
environment, as a base install lacks them (benchmarks/slim_install.py builds a real one).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "diffusers", "transformers", "timm", "imwatermark", "safetensors")

#: Runs ``trustgen ARGS...`` in-process, hiding HEAVY when asked, then prints the loaded ones.
RUNNER = """
import json, sys
hide, args = json.loads(sys.argv[1])
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in hide:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Hide())
sys.argv = ["trustgen", *args]
from trustgen.cli import main
try:
    main()
finally:
    heavy = sorted(m for m in %r if m in sys.modules)
    print("LOADED " + json.dumps(heavy), file=sys.stderr)
""" % (HEAVY,)


def _trustgen(args, *, hide=()):
    out = subprocess.run([sys.executable, "-c", RUNNER, json.dumps([list(hide), list(args)])],
                         check=False, capture_output=True, text=True, timeout=120)
    *lines, loaded = out.stderr.strip().splitlines() or ["LOADED []"]
    return out, json.loads(loaded.removeprefix("LOADED ")), lines


@pytest.mark.parametrize("hide", [(), HEAVY], ids=["full-install", "slim-install"])
def test_verify_with_every_signal_loads_no_torch(c2pa_fixtures, hide):
    image = c2pa_fixtures / "files" / "C.jpg"
    out, loaded, _ = _trustgen(["verify", "--json", str(image)], hide=hide)
    assert out.returncode in (0, 1), out.stderr
    verdict = json.loads(out.stdout)
    assert verdict["detector"]["probability"] is not None  # the detector ran
    assert verdict["watermark"]["schemes_checked"] and verdict["c2pa"]["state"] == "valid"
    assert loaded == []


@pytest.mark.parametrize("args", [
    ["generate", "-n", "1", "--steps", "1", "--out", "{tmp}"],
    ["detect", "--checkpoint", "detectors/checkpoints/trustgen-detector.safetensors",
     "{tmp}/x.png"],
], ids=["generate", "detect-torch-checkpoint"])
def test_commands_that_need_torch_say_which_extra(tmp_path, identity, args):
    from PIL import Image

    Image.new("RGB", (64, 64), "grey").save(tmp_path / "x.png")
    out, _, lines = _trustgen([a.format(tmp=tmp_path) for a in args], hide=HEAVY)
    assert out.returncode == 2
    assert len(lines) == 1 and "needs `pip install 'trustgen[generate]'`" in lines[0], lines


def test_rivagan_embed_says_which_extra(tmp_path):
    from PIL import Image

    src = tmp_path / "in.png"
    Image.new("RGB", (300, 300), "grey").save(src)
    out, _, lines = _trustgen(["watermark", "embed", "--scheme", "rivaGan", str(src), "-o",
                               str(tmp_path / "out.png")], hide=HEAVY)
    assert out.returncode == 2 and not (tmp_path / "out.png").exists()
    assert len(lines) == 1 and "trustgen[generate]" in lines[0], lines
