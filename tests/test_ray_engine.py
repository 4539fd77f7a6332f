"""The Ray engine gives the local engine's verdicts, reports, error lines and resume cache.

Ray starts once for the whole session (``ray.init(num_cpus=2)``), and every run here uses that
session; each run still starts its own actor pool, so the runs are few and the files small.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from trustgen.batch import cache_path, verify_files
from trustgen.cli import cli
from trustgen.engines import RayEngine, VerifierOptions
from trustgen.errors import ConfigError
from trustgen.media import encode_image
from trustgen.verify import Verifier

#: Ray Data's own deprecations, raised inside Ray when it copies its settings.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")

OPTIONS = VerifierOptions("default", detector=False)  # one detector per actor costs seconds


@pytest.fixture(scope="session")
def ray_session():
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("ray is not installed: CI installs trustgen[ray]")
        pytest.skip("ray is not installed (pip install 'trustgen[ray]')")
    import logging

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def _photo(side: int = 256) -> Image.Image:
    from sklearn.datasets import load_sample_image

    arr = load_sample_image("flower.jpg")  # 640 x 427
    square = np.ascontiguousarray(arr[:, 100:527])
    return Image.fromarray(square).resize((side, side), Image.LANCZOS)


@pytest.fixture(scope="module")
def mixed(identity, c2pa_fixtures, tmp_path_factory) -> Path:
    """An inbox: signed and watermarked, signed capture, watermarked only, plain, a truncated
    image, a text file, and a JPEG whose manifest c2pa cannot read (state ``error``)."""
    from trustgen.credentials.sign import sign_image
    from trustgen.watermark import embed

    photo = _photo()
    marked = embed(photo, "0123456789ab", key=identity.watermark_key)
    files = {
        "signed-ai.jpg": sign_image(encode_image(marked, "jpeg"), "jpeg", identity.signer(),
                                    source_type="trainedAlgorithmicMedia", title="ai.jpg"),
        "capture.jpg": sign_image(encode_image(photo, "jpeg"), "jpeg", identity.signer(),
                                  source_type="digitalCapture", title="capture.jpg"),
        "watermarked.png": encode_image(marked, "png"),
        "plain.jpg": encode_image(photo, "jpeg"),
        "truncated.png": encode_image(photo, "png")[:2000],
        "notes.txt": b"not an image\n",
        "unreadable-manifest.jpg": (c2pa_fixtures / "files" / "no_alg.jpg").read_bytes(),
    }
    folder = tmp_path_factory.mktemp("ray") / "inbox"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
        (folder / name).chmod(0o444)
    return folder


def _paths(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


def _dicts(summary) -> list[dict]:
    return [v.to_dict() for v in summary.verdicts]


def test_ray_verdicts_equal_the_local_engine(ray_session, mixed):
    paths = _paths(mixed)
    local = verify_files(paths, OPTIONS)
    on_ray = verify_files(paths, OPTIONS, engine="ray")
    assert _dicts(on_ray) == _dicts(local)  # every field: nothing in a verdict is timing
    by_name = {Path(v.evidence.path).name: v for v in on_ray.verdicts}
    assert by_name["signed-ai.jpg"].label == "trusted-ai"  # the actor found the identity's key
    assert by_name["watermarked.png"].evidence.watermark.detected
    assert by_name["unreadable-manifest.jpg"].evidence.c2pa.state == "error"
    assert [by_name[n].label for n in ("truncated.png", "notes.txt")] == ["error", "error"]
    assert (on_ray.exit_code, on_ray.errors, on_ray.policy) == (2, 2, "default")


def test_ray_reads_and_extends_the_local_resume_cache(ray_session, mixed, tmp_path):
    paths = _paths(mixed)
    out = tmp_path / "out.jsonl"
    first = verify_files(paths[:4], OPTIONS, jsonl=out)  # local, half the files
    cached_first = sum(v.label != "error" for v in first.verdicts)
    lines_before = cache_path(out).read_text().count("\n")
    assert lines_before == cached_first > 0

    resumed = verify_files(paths, OPTIONS, engine="ray", jsonl=out)
    assert resumed.from_cache == cached_first  # skipped in the actors, read from the cache
    assert _dicts(resumed) == _dicts(verify_files(paths, OPTIONS))
    readable = sum(v.label != "error" for v in resumed.verdicts)
    assert cache_path(out).read_text().count("\n") == readable  # the rest appended, once each


def _cli(*args):
    return CliRunner().invoke(cli, ["verify", *map(str, args)])


def test_cli_error_lines_and_reports_match_the_local_engine(ray_session, mixed, tmp_path,
                                                            monkeypatch):
    shutil.copytree(mixed, tmp_path / "inbox")
    monkeypatch.chdir(tmp_path)  # relative paths, as the actors must resolve them
    results = {}
    for engine in ("local", "ray"):
        results[engine] = _cli("inbox/*", "--engine", engine, "--json", "--no-detector",
                               "--no-progress", "--jsonl", f"{engine}.jsonl",
                               "--csv", f"{engine}.csv", "--report", f"{engine}.html")
    local, on_ray = results["local"], results["ray"]
    assert on_ray.exit_code == local.exit_code == 2, on_ray.output
    assert on_ray.stdout == local.stdout
    errors = [line for line in on_ray.stderr.splitlines() if line.startswith("trustgen: error:")]
    assert errors == [line for line in local.stderr.splitlines() if line.startswith("trustgen:")]
    assert errors == [
        "trustgen: error: inbox/notes.txt: not an image file",
        "trustgen: error: inbox/truncated.png: cannot decode image: image file is truncated",
    ]
    assert "Traceback" not in on_ray.output
    assert Path("ray.jsonl").read_text() == Path("local.jsonl").read_text()
    assert Path("ray.csv").read_text() == Path("local.csv").read_text()
    assert Path("ray.html").stat().st_size > 0
    made = {p.name for p in tmp_path.iterdir()}
    assert made == {"inbox", *(f"{e}.{x}" for e in ("local", "ray") for x in
                               ("jsonl", "jsonl.cache", "csv", "html"))}  # nothing of Ray's


def test_a_worker_whose_verifier_differs_stops_the_run(ray_session, mixed):
    driver = Verifier("strict", detector=False)  # the actors build the default policy's
    engine = RayEngine(OPTIONS)
    with pytest.raises(ConfigError, match="a Ray worker cannot verify: its verifier differs"):
        list(engine.run(_paths(mixed), driver, settle=lambda *result: result))


def test_ray_needs_options_not_a_built_verifier(mixed):
    with pytest.raises(ConfigError, match="pass trustgen.engines.VerifierOptions"):
        verify_files(_paths(mixed), Verifier(detector=False), engine="ray")


def test_without_ray_one_line_and_exit_2(mixed, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra sees
    result = _cli(mixed / "plain.jpg", "--engine", "ray", "--no-detector")
    assert (result.exit_code, result.stderr) == (
        2, "trustgen: error: the ray engine needs `pip install 'trustgen[ray]'`\n")


def test_the_local_engine_never_imports_ray(mixed):
    code = ("import sys; from trustgen.cli import cli; "
            f"cli(['verify', '--no-detector', {str(mixed / 'plain.jpg')!r}], standalone_mode=False); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_globs_and_list_files_name_the_same_files(mixed, tmp_path, monkeypatch):
    """A quoted pattern (``**`` at any depth) and ``--from-list`` (one path a line, ``#``
    comments, ``-`` for stdin) give the files the shell would, in the same order."""
    monkeypatch.chdir(mixed.parent)
    listed = tmp_path / "files.txt"
    listed.write_text("# the inbox's images\ninbox/capture.jpg\n\ninbox/plain.jpg\r\n")
    expected = _cli("inbox/capture.jpg", "inbox/plain.jpg", "--json", "--no-detector")
    assert expected.exit_code == 1, expected.output
    for args, stdin in ((["inbox/[cp]*.jpg"], None), (["**/[cp]*.jpg"], None),
                        (["--from-list", listed], None), (["--from-list", "-"], listed.read_text())):
        result = CliRunner().invoke(cli, ["verify", *map(str, args), "--json", "--no-detector"],
                                    input=stdin)
        assert result.stdout == expected.stdout, args
    missing = _cli("inbox/*.gif", "--no-detector")  # matching nothing: reported, not dropped
    assert missing.exit_code == 2 and "inbox/*.gif" in missing.stderr
    assert _cli("--no-detector").exit_code == 2
    assert "cannot read the list of files" in _cli("--from-list", tmp_path / "nope.txt").stderr
