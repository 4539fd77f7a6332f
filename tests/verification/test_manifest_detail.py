"""The ingredient tree at its real depth, `verify --detailed` (the whole manifest, as c2patool
shows it) and reasons that name the real cause, on files trustgen signs here, nested level by
level, and on the C2PA reference fixtures."""

from __future__ import annotations

import io
import json

import jsonschema
import pytest
from click.testing import CliRunner
from credentials.pki import image_bytes  # tests/ is on sys.path

from trustgen.cli import cli
from trustgen.evidence import Verdict, verdict_schema

LEVELS = 4  # L0 (no ingredient) ... L3: three levels of ingredients beneath the active manifest


def tamper(data: bytes) -> bytes:
    """Change pixels after signing (the middle of the last JPEG scan)."""
    start = data.rfind(b"\xff\xda")
    at = start + (len(data) - start) // 2
    return data[:at] + bytes((b + 0x11) % 0xFE for b in data[at:at + 8]) + data[at + 8:]


@pytest.fixture(scope="module")
def nested(identity, tmp_path_factory):
    """L3.jpg <- L2.jpg <- L1.jpg <- L0.jpg, each level signed by trustgen with the one below
    as its ingredient; ``broken.jpg`` holds, two levels down, an ingredient tampered after
    signing; ``untrusted.jpg`` is signed by a signer nobody trusts and holds that tampered file."""
    from trustgen.credentials import Identity
    from trustgen.credentials.sign import IngredientSource, sign_image

    folder = tmp_path_factory.mktemp("nested")
    signer = identity.signer()

    def sign(seed, title, ingredient=None, who=signer, relationship="componentOf"):
        ingredients = [] if ingredient is None else [IngredientSource(*ingredient, relationship)]
        return sign_image(image_bytes("jpeg", seed=seed), "jpeg", who, source_type="digitalCapture",
                          title=title, ingredients=ingredients, thumbnail=False)

    files = {"L0.jpg": sign(0, "L0.jpg")}
    for level in range(1, LEVELS):
        below = f"L{level - 1}.jpg"
        files[f"L{level}.jpg"] = sign(level, f"L{level}.jpg", (files[below], "jpeg", below))
    inner = sign(10, "inner.jpg", (tamper(files["L1.jpg"]), "jpeg", "tampered.jpg"))
    files["broken.jpg"] = sign(11, "broken.jpg", (inner, "jpeg", "inner.jpg"))
    stranger = Identity.init(tmp_path_factory.mktemp("stranger")).signer()
    files["untrusted.jpg"] = sign(12, "untrusted.jpg", (tamper(files["L1.jpg"]), "jpeg", "tampered.jpg"),
                                  who=stranger)
    files["hostile.jpg"] = sign(13, "hostile.jpg", (files["L0.jpg"], "jpeg", "evil\x1b[2J\u202e.jpg"))
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    return paths


def verify(*args):
    result = CliRunner().invoke(cli, ["verify", "--no-detector", *map(str, args)])
    assert "Traceback" not in result.output, result.output
    return result


def records(*args) -> list[dict]:
    return [json.loads(line) for line in verify("--json", *args).stdout.splitlines()]


def tree_depth(nodes, key) -> int:
    return max((1 + tree_depth(n[key], key) for n in nodes), default=0)


def reader_depth(data: bytes) -> int:
    """The depth c2pa's own report gives, followed independently of trustgen: each ingredient's
    ``active_manifest`` -> that manifest's ingredients."""
    import c2pa

    with c2pa.Reader("image/jpeg", io.BytesIO(data)) as reader:
        report = json.loads(reader.json())
    manifests = report["manifests"]

    def depth(label, seen):
        ings = manifests.get(label, {}).get("ingredients") or []
        return max((1 + (depth(i["active_manifest"], seen | {label}) if i.get("active_manifest")
                         and i["active_manifest"] not in seen else 0) for i in ings), default=0)

    return depth(report["active_manifest"], frozenset())


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft202012Validator(verdict_schema())


def test_the_tree_keeps_its_real_depth_in_json_compact_and_detailed(nested, c2pa_only_policy, validator):
    top = nested[f"L{LEVELS - 1}.jpg"]
    want = reader_depth(top.read_bytes())
    assert want == LEVELS - 1 == 3

    compact, = records(top, "--policy", c2pa_only_policy)
    assert compact["manifest"] is None  # the detail only when asked for
    assert tree_depth(compact["c2pa"]["ingredients"], "ingredients") == want
    titles, node = [], compact["c2pa"]
    while node["ingredients"]:
        (node,) = node["ingredients"]
        titles.append(node["title"])
        assert node["signer"] and node["manifest_label"] and node["codes"] == []
    assert titles == ["L2.jpg", "L1.jpg", "L0.jpg"]

    detailed, = records(top, "--policy", c2pa_only_policy, "--detailed")
    assert tree_depth(detailed["c2pa"]["ingredients"], "ingredients") == want
    detail = detailed["manifest"]
    assert tree_depth(detail["tree"]["children"], "children") == want
    assert detail["tree"]["title"] == "L3.jpg" and detail["tree"]["relationship"] is None
    assert len(detail["manifests"]) == LEVELS and detail["manifests"][0]["label"] == detail["active_manifest"]
    assert detail["validation_state"] == "Trusted"
    for record in (compact, detailed):
        validator.validate(record)
        assert Verdict.from_dict(record).to_dict() == record


def test_the_detailed_view_has_every_assertion_and_the_signer_chain(identity, nested, c2pa_only_policy):
    from trustgen.verify import Verifier

    verdict = Verifier(c2pa_only_policy, detector=False, detailed=True).verify(nested["L1.jpg"])
    detail = verdict.evidence.manifest
    active = detail["manifests"][0]
    (actions,) = [a for a in active["assertions"] if a["label"] == "c2pa.actions.v2"]
    assert actions["data"]["actions"][0]["softwareAgent"]["name"] == "trustgen"
    assert active["claim_generator"].startswith("trustgen/")
    chain = active["signature"]["chain"]
    assert len(chain) >= 2 and "trustgen dev signer" in chain[0]["subject"]
    assert chain[0]["issuer"] == chain[1]["subject"]  # leaf first, then its issuer
    assert all(c["not_before"] < c["not_after"] for c in chain)
    assert active["signature"]["timestamp"] is None  # signed without a time-stamp authority
    (ingredient,) = active["ingredients"]
    assert (ingredient["title"], ingredient["relationship"]) == ("L0.jpg", "componentOf")
    assert ingredient["manifest_label"] == detail["manifests"][1]["label"]
    assert any(e["code"] == "claimSignature.validated" and e["kind"] == "success"
               for e in active["validation_status"])


def test_the_detailed_view_of_reference_files(c2pa_fixtures, fixture_trust, c2pa_only_policy, verify_files):
    from trustgen.verify import Verifier

    verifier = Verifier(c2pa_only_policy, trust=fixture_trust, detector=False, detailed=True)
    files = c2pa_fixtures / "files"
    c = verifier.verify(files / "C.jpg").evidence.manifest["manifests"][0]
    assert {"stds.schema-org.CreativeWork", "c2pa.actions.v2"} <= {a["label"] for a in c["assertions"]}
    stamp = c["signature"]["timestamp"]
    assert stamp["time"].startswith("2024-08-06") and stamp["authority"].startswith("DigiCert")
    assert "timeStamp.validated" in stamp["codes"]
    cawg = verifier.verify(files / "C_with_CAWG_data.jpg").evidence.manifest["manifests"][0]
    (identity_assertion,) = [a for a in cawg["assertions"] if a["label"] == "cawg.identity"]
    assert identity_assertion["data"]["signer_payload"]["sig_type"] == "cawg.x509.cose"
    assert {"cawg.x509.credential.untrusted", "cawg.identity.well-formed"} <= {
        e["code"] for e in cawg["validation_status"]}
    # trustgen's own generation record, in a file trustgen generated
    generated = Verifier(c2pa_only_policy, detector=False, detailed=True).verify(verify_files["trusted-ai"])
    labels = {a["label"]: a["data"] for a in generated.evidence.manifest["manifests"][0]["assertions"]}
    assert labels["org.trustgen.generation"]["content_id"] == "0123456789ab"


def test_detailed_table_output_shows_the_tree_escaped(nested, c2pa_only_policy):
    result = verify(nested[f"L{LEVELS - 1}.jpg"], nested["hostile.jpg"], "--policy", c2pa_only_policy,
                    "--detailed")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    indent = {}
    for line in lines:
        for level in range(LEVELS):
            if f"Asset: L{level}.jpg" in line:
                indent[level] = line.index("Asset:")
    assert indent[3] < indent[2] < indent[1] < indent[0]  # one level deeper each time
    assert any(line.lstrip().startswith("└── Asset: L0.jpg (componentOf)") for line in lines)
    assert sum("│ chain: " in line for line in lines) >= LEVELS  # a signer chain for each manifest
    assert any("Assertion: c2pa.actions.v2: c2pa.created (by trustgen; digitalCapture)" in line for line in lines)
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert "evil\\x1b[2J\\u202e.jpg" in result.output


def test_a_failure_deep_in_the_tree_is_named_with_its_path(nested, c2pa_only_policy):
    (record,) = records(nested["broken.jpg"], "--policy", c2pa_only_policy)
    assert record["c2pa"]["state"] == "trusted" and record["verdict"] == "trusted-capture-flagged"
    (inner,) = record["c2pa"]["ingredients"]
    assert inner["codes"] == []
    (tampered,) = inner["ingredients"]
    assert tampered["codes"] == ["assertion.dataHash.mismatch"]
    texts = [r["text"] for r in record["reasons"] if r["code"] == "ingredient.invalid"]
    assert texts == [("Ingredient 'tampered.jpg' (inside 'inner.jpg') fails validation "
                      "(assertion.dataHash.mismatch).")]


def test_an_untrusted_signer_and_a_failing_ingredient_are_both_named(nested, c2pa_only_policy):
    (record,) = records(nested["untrusted.jpg"], "--policy", c2pa_only_policy)
    codes = [r["code"] for r in record["reasons"]]
    assert record["c2pa"]["state"] == "valid"
    assert codes[:2] == ["c2pa.untrusted", "ingredient.invalid"]
    assert "assertion.dataHash.mismatch" in record["reasons"][1]["text"]


def reasons_for(verifier, path):
    verdict = verifier.verify(path)
    return verdict, {r.code: r.text for r in verdict.reasons}


def test_reasons_name_the_real_cause_on_the_reference_files(c2pa_fixtures, fixture_trust, c2pa_only_policy):
    from trustgen.verify import Verifier

    verifier = Verifier(c2pa_only_policy, trust=fixture_trust, detector=False)
    files = c2pa_fixtures / "files"

    verdict, why = reasons_for(verifier, files / "C_with_CAWG_data.jpg")
    assert verdict.evidence.c2pa.state == "valid" and "c2pa.untrusted" not in why  # the signer is trusted
    assert "is trusted" in why["c2pa.unverified-part"]
    assert ("cawg.x509.credential.untrusted in identity assertion 'cawg.identity' (C2PA Signer"
            in why["c2pa.unverified-part"])

    verdict, why = reasons_for(verifier, files / "adobe-20220124-E-clm-CAICAI.jpg")
    text = why["c2pa.invalid"]
    assert ("assertion.hashedURI.mismatch in the active manifest's record of ingredient 'CAI.jpg' "
            "(c2pa.ingredient__1)") in text
    assert "ingredient.manifest.missing in ingredient 'CAI.jpg'" in text
    assert "unreadable" not in text and "signer" not in text

    verdict, why = reasons_for(verifier, files / "CIE-sig-CA.jpg")
    assert verdict.evidence.c2pa.state == "trusted" and "c2pa.trusted" in why
    assert why["ingredient.invalid"] == "Ingredient 'E-sig-CA.jpg' fails validation (claimSignature.mismatch)."

    verdict, why = reasons_for(verifier, files / "E-sig-CA.jpg")
    assert why["c2pa.invalid"].endswith("(claimSignature.mismatch in the active manifest's claim or signature).")
    verdict, why = reasons_for(verifier, files / "XCA.jpg")
    assert "assertion.dataHash.mismatch in assertion 'c2pa.hash.data'" in why["c2pa.invalid"]


def test_every_reference_file_names_each_failing_code(c2pa_fixtures, fixture_trust, c2pa_only_policy):
    """Across expected.json: every failure code, the active manifest's and the ingredients', is
    in a reason; only a signer problem is blamed on the signer; the states stay as recorded."""
    from trustgen.verify import Verifier

    expected = json.loads((c2pa_fixtures / "expected.json").read_text())
    verifier = Verifier(c2pa_only_policy, trust=fixture_trust, detector=False)
    for name, want in expected.items():
        verdict = verifier.verify(c2pa_fixtures / "files" / name)
        m = verdict.evidence.c2pa
        assert m.state == want["state"], name
        text = " ".join(r.text for r in verdict.reasons)
        for code in (*m.codes, *(c for _, ing in m.walk_ingredients() for c in ing.codes)):
            assert code in text, (name, code)
        blames_signer = any(r.code == "c2pa.untrusted" for r in verdict.reasons)
        signer_problem = any(c.startswith("signingCredential.") for c in m.codes) or m.reason
        assert blames_signer == bool(m.state == "valid" and signer_problem), name
        assert "unreadable manifest" not in text, name


def test_a_looping_or_exploding_store_is_cut_off():
    """A crafted store whose manifests name each other as ingredients, or many ingredients
    pointing at one manifest at every level, gives a finite tree."""
    from trustgen.credentials import read

    def manifest(title, *children, copies=1):
        return {"title": title, "ingredients": [
            {"title": c, "relationship": "componentOf", "active_manifest": c, "label": f"c2pa.ingredient__{i}"}
            for c in children for i in range(copies)]}

    loop = {"active_manifest": "a", "validation_state": "Valid",
            "manifests": {"a": manifest("a", "b"), "b": manifest("b", "a")}}
    ev = read._evidence(loop, True, {}, {})
    (b,) = ev.ingredients
    (a,) = b.ingredients
    assert a.ingredients == ()  # "a" is an ancestor: not followed again
    wide = {f"m{i}": manifest(f"m{i}", f"m{i + 1}", copies=4) for i in range(40)}
    ev = read._evidence({"active_manifest": "m0", "validation_state": "Valid", "manifests": wide},
                        True, {}, {})
    assert sum(1 for _ in ev.walk_ingredients()) <= read.MAX_INGREDIENTS


def test_damaged_signatures_never_change_the_reading_or_escape_the_detail(c2pa_fixtures, fixture_trust):
    """Bytes changed where the certificates and time-stamp tokens sit: the detailed reading has
    the same evidence as the plain one (a damaged name or token is a null field, not an error)."""
    import random

    from trustgen.credentials.read import read_manifest

    rng = random.Random(5)
    sources = [(c2pa_fixtures / "files" / n).read_bytes() for n in ("C.jpg", "ocsp.jpg", "CIE-sig-CA.jpg")]
    for _ in range(80):
        data = bytearray(rng.choice(sources))
        start = bytes(data).find(b"c2pa.signature")
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(start, start + 12_000)] = rng.randrange(256)
        plain, _ = read_manifest(bytes(data), trust=fixture_trust)
        detailed, detail = read_manifest(bytes(data), trust=fixture_trust, detailed=True)
        assert plain == detailed
        json.dumps(detail)
