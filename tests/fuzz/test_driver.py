"""The long-run driver (benchmarks/fuzz.py) on a short run: it must still work the day the
million-input run starts, and find what its targets let escape."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "fuzz.py"


def _driver():
    spec = importlib.util.spec_from_file_location("fuzz_driver", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_a_short_run_writes_its_report_and_inputs_are_reproduced_from_seed_and_index(tmp_path):
    out, work, crashers = tmp_path / "report.json", tmp_path / "work", tmp_path / "crashers"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--inputs", "60", "--workers", "1", "--seed", "3",
         "--targets", "verify,policy", "--work", str(work), "--out", str(out),
         "--crashers", str(crashers)],
        capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["totals"]["inputs"] == 60
    assert set(report["targets"]) == {"verify", "policy"}
    for target in report["targets"].values():
        assert target["inputs"] == target["ok"] + target["rejected"] + sum(
            target[k] for k in ("crash", "traceback", "invalid-output", "memory-error", "hang", "died"))
    assert report["estimated_s_for_1m_inputs_from_cpu"] > 0

    driver = _driver()
    corpus = driver.Corpus(work / "corpus")
    targets = {t: driver.TARGETS[t] for t in ("verify", "policy")}
    first = [driver.make_input(corpus, 3, i, targets) for i in range(100)]
    assert first == [driver.make_input(corpus, 3, i, targets) for i in range(100)]
    assert first != [driver.make_input(corpus, 4, i, targets) for i in range(100)]
    for finding in report["findings"]:  # what was saved is what the index regenerates
        for saved in finding["files"]:
            data = (crashers / saved["file"]).read_bytes()
            assert data == driver.make_input(corpus, 3, saved["input"], targets)["data"]
