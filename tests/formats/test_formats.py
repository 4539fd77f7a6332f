"""Every format c2pa-python reads is verified, and every format it signs is signed.

The acceptance check of the "credentials everywhere" issue: ``trustgen verify --json`` over the
C2PA reference fixtures and over a real sample of every format, signed by c2pa-python directly
and by ``trustgen sign``; each file's C2PA state equals what a direct ``c2pa.Reader`` call says.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from formats import samples  # tests/ is on sys.path
from trustgen.cli import cli
from trustgen.media import formats, lookup

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def reader_state(path: Path, anchors: str, ekus: str) -> str:
    """The C2PA state straight from c2pa-python's Reader, mapped as trustgen.credentials.read
    maps it; the format is the file's own extension, as c2pa accepts it."""
    import c2pa

    context = c2pa.Context.from_dict({
        "trust": {"trust_anchors": anchors, "trust_config": ekus},
        "verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
    })
    try:
        reader = c2pa.Reader(path.suffix.lstrip(".").lower(), io.BytesIO(path.read_bytes()),
                             context=context)
    except c2pa.C2paError.ManifestNotFound:
        return "absent"
    except c2pa.C2paError.RemoteManifest:
        return "remote"
    except c2pa.C2paError as err:
        return "remote" if str(err).startswith("Remote:") else "error"
    with reader:
        report = json.loads(reader.json())
    state = report.get("validation_state")
    failures = (report.get("validation_results") or {}).get("activeManifest", {}).get("failure")
    return {"Trusted": "trusted", "Valid": "valid", "Invalid": "invalid"}.get(
        state, "invalid" if failures else "valid")


def test_every_file_c2pa_reads_gets_its_c2pa_state(c2pa_fixtures, chain, sample_files,
                                                     signed_files, credentials_policy):
    trust = c2pa_fixtures / "trust"
    paths = sorted((c2pa_fixtures / "files").iterdir()) + list(signed_files.values()) + [
        p for name, p in sample_files.items() if lookup(name).carries_c2pa]
    anchors = (trust / "test_cert_root_bundle.pem").read_text() + "\n" + chain.root.read_text()
    ekus = "\n".join(line for line in (trust / "store.cfg").read_text().splitlines()
                     if line.strip() and not line.startswith("//")) + "\n"
    result = run("verify", "--json", "--no-detector", "--policy", credentials_policy,
                 "--trust-anchors", trust / "test_cert_root_bundle.pem", "--trust-anchors", chain.root,
                 "--trust-config", trust / "store.cfg", *paths)
    assert "Traceback" not in result.output
    records = {r["path"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert len(records) == len(paths)
    got = {Path(p).name: (r["c2pa"]["state"], r["verdict"]) for p, r in records.items()}
    want = {p.name: reader_state(p, anchors, ekus) for p in paths}
    assert {name: state for name, (state, _) in got.items()} == want
    unreadable = {name for name, (_, verdict) in got.items() if verdict == "error"}
    assert unreadable <= {name for name, state in want.items() if state == "error"}
    # what the signed samples must say: c2pa's and trustgen's signatures, trusted, any format
    for key, path in signed_files.items():
        if key != "c2pa:sidecar":
            assert got[path.name] == ("trusted", "trusted-capture"), key
    assert got["sidecar.c2pa"][0] == "invalid"  # a manifest store alone: no asset to hash


def test_unsigned_files_of_every_format_are_no_evidence(sample_files, credentials_policy):
    from trustgen.verify import Verifier

    verifier = Verifier(credentials_policy, detector=False)
    for name, path in sample_files.items():
        verdict = verifier.verify(path)
        codes = [r.code for r in verdict.reasons]
        assert verdict.label == "no-evidence", (name, verdict.reasons)
        assert verdict.evidence.c2pa.state == "absent", name
        if lookup(name).kind == "image" and name not in ("jxl", "svg", "dng", "nef", "arw"):
            assert "watermark.media-type" not in codes, name  # pixels decoded and checked
        else:
            assert verdict.evidence.watermark is None and verdict.evidence.detector is None
            assert {"watermark.media-type", "detector.media-type"} <= set(codes), name
            assert "not applicable to this media type" in verdict.reasons[1].text


def test_a_bmp_without_credentials_is_no_evidence(sample_files):
    from trustgen.verify import Verifier

    verdict = Verifier("default", detector=False).verify(sample_files["bmp"])
    assert (verdict.label, verdict.evidence.c2pa.state) == ("no-evidence", "absent")
    assert verdict.evidence.c2pa.reason == "bmp files cannot carry C2PA credentials"
    assert verdict.evidence.watermark is not None  # a BMP decodes: its pixels are checked


@pytest.mark.parametrize("policy", ["default", "newsroom", "moderation", "strict"])
def test_an_ai_pdf_gets_the_ai_label_under_every_shipped_policy(policy, chain, sample_files,
                                                                 tmp_path_factory):
    from trustgen.credentials.keys import load_signer
    from trustgen.credentials.trust import TrustConfig
    from trustgen.policy import Policy
    from trustgen.verify import Verifier

    path = tmp_path_factory.getbasetemp() / "ai.pdf"
    if not path.exists():
        path.write_bytes(samples.sign_with_c2pa(sample_files["pdf"].read_bytes(), "application/pdf",
                                                load_signer(chain.key, chain.chain),
                                                source_type="trainedAlgorithmicMedia"))
    verdict = Verifier(policy, trust=TrustConfig.from_files([chain.root]), detector=False).verify(path)
    assert verdict.label == "trusted-ai", verdict.reasons
    assert verdict.action == Policy.load(policy).judge.actions["trusted-ai"]


def test_a_folder_run_takes_every_media_type_and_counts_what_it_skipped(sample_files, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    for name in ("pdf", "mp4", "wav", "docx", "heic", "jpeg"):
        (inbox / sample_files[name].name).write_bytes(sample_files[name].read_bytes())
    (inbox / "notes.txt").write_text("minutes\n")
    (inbox / "todo.txt").write_text("call back\n")
    (inbox / "README").write_text("no extension\n")
    (inbox / ".hidden.pdf").write_bytes(sample_files["pdf"].read_bytes())
    (inbox / "sub" / "inner.wav").write_bytes(sample_files["wav"].read_bytes())
    result = run("verify", "--json", "--no-detector", inbox)
    assert result.exit_code == 1, result.output  # no evidence is not a pass under default
    names = sorted(Path(json.loads(line)["path"]).name for line in result.stdout.splitlines())
    assert names == sorted(sample_files[n].name for n in ("pdf", "mp4", "wav", "docx", "heic", "jpeg"))
    assert ("trustgen: skipped 4 files: 3 unsupported type (.txt, no extension), 1 hidden; "
            "1 subfolder (--recursive enters them)") in result.stderr
    deep = run("verify", "--json", "--no-detector", "--recursive", inbox)
    assert len(deep.stdout.splitlines()) == 7
    assert "skipped 4 files" in deep.stderr and "subfolder" not in deep.stderr


@pytest.mark.parametrize("name, why", [
    ("bmp", "cannot embed content credentials into bmp files; trustgen signs jpeg"),
    ("nef", "cannot embed content credentials into nef files"),
    ("bare-jxl", "a bare JPEG XL codestream cannot carry content credentials"),
])
def test_a_format_trustgen_cannot_sign_is_refused_by_name(name, why, sample_files, chain, tmp_path):
    made = {"bare-jxl": (".jxl", lambda: samples.jxl(container=False))}
    suffix, data = made.get(name, (sample_files.get(name, Path()).suffix, None))
    source = tmp_path / f"in{suffix}"
    source.write_bytes(data() if data else sample_files[name].read_bytes())
    result = run("sign", source, "-o", tmp_path / f"out{source.suffix}", "--key", chain.key,
                 "--cert", chain.chain, "--source-type", "digitalCapture")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"trustgen: error: {source}: {why}"), line
    assert not (tmp_path / f"out{source.suffix}").exists()


def test_a_deflated_office_file_is_signed_with_its_entries_stored(sample_files, chain, tmp_path):
    """Word and LibreOffice deflate their entries, which c2pa 0.38 cannot sign: trustgen repacks
    the package stored, same entries in the same order, and signs that."""
    import zipfile

    source = tmp_path / "report.docx"
    source.write_bytes(samples.deflated(sample_files["docx"].read_bytes()))
    before = source.read_bytes()
    out = tmp_path / "signed.docx"
    result = run("sign", source, "-o", out, "--key", chain.key, "--cert", chain.chain,
                 "--source-type", "digitalCapture")
    assert result.exit_code == 0, result.output
    assert source.read_bytes() == before
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(out) as b:
        original = [(i.filename, a.read(i)) for i in a.infolist()]
        signed = [(i.filename, b.read(i)) for i in b.infolist() if i.filename in dict(original)]
    assert signed == original
    verdict = json.loads(run("verify", "--json", "--no-detector", "--trust-anchors", chain.root,
                             out).stdout)
    assert verdict["c2pa"]["state"] == "trusted"


def test_every_signable_format_is_signed_by_trustgen_with_the_same_key(signed_files):
    signable = {f.name for f in formats(can_sign=True)}
    assert {k.split(":")[1] for k in signed_files if k.startswith("trustgen:")} == signable
    assert {"pdf", "mp4", "mov", "m4a", "avi", "wav", "mp3", "flac", "heic", "heif", "avif", "jxl",
            "svg", "docx", "gif", "tiff"} <= signable
