"""trustgen's C2PA sign and read vs plain c2pa-python doing the same work, in one run.

    python benchmarks/c2pa_speed.py [--repeats 60] [--out benchmarks/results/c2pa_speed.json]

For a 512x512 PNG and JPEG (a real photograph: scikit-learn's sample "china.jpg", CC BY 2.0),
each repeat times both sides back to back, in alternating order, so machine load hits them alike:
- sign: ``sign_generated`` vs ``c2pa.Builder(...).sign`` with the same manifest, signer
  (made once, as trustgen caches it), settings and thumbnail setting;
- read: ``read_credentials`` vs ``c2pa.Reader`` + ``json()`` under the same trust anchors;
- `trustgen sign` (``sign_image`` of an image without credentials, as digitalCapture) vs
  ``c2pa.Builder(...).sign`` with the same manifest: trustgen's side also checks the input is a
  whole image and looks for existing credentials (to make them the parent ingredient).
Reported: medians (ms), ratio trustgen / plain (target <= 1.2), and the bytes the manifest adds
to the file with trustgen's default settings (target <= 20 KB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from _results import add_output_options, destination  # noqa: E402


def photo_512():
    from PIL import Image
    from sklearn.datasets import load_sample_image

    arr = load_sample_image("china.jpg")  # 427 x 640
    h, w = arr.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return Image.fromarray(arr[top:top + side, left:left + side]).resize((512, 512), Image.LANCZOS)


def provenance():
    from trustgen.evidence import Provenance

    return Provenance(content_id="5f1c0e2a9b7d4c31", model_id="benchmark-model", model_sha256="0" * 64,
                      pipeline="DDIMPipeline", scheduler="DDIMScheduler", steps=50,
                      guidance_scale=None, seed=0, width=512, height=512, prompt_sha256=None)


def plain_definition(prov, mime: str) -> dict:
    """The manifest sign_generated writes, spelled out for plain c2pa-python."""
    from trustgen._version import __version__

    iptc = "http://cv.iptc.org/newscodes/digitalsourcetype/"
    return {
        "claim_generator_info": [{"name": "trustgen", "version": __version__}],
        "title": f"{prov.content_id}.{'jpg' if mime == 'image/jpeg' else 'png'}",
        "format": mime,
        "assertions": [
            {"label": "c2pa.actions.v2", "data": {"actions": [{
                "action": "c2pa.created", "digitalSourceType": iptc + "trainedAlgorithmicMedia",
                "softwareAgent": {"name": "trustgen", "version": __version__,
                                  "org.trustgen.model": prov.model_id}}]}},
            {"label": "org.trustgen.generation", "data": prov.to_dict()},
            {"label": "cawg.training-mining", "data": {"entries": {
                k: {"use": "notAllowed"} for k in ("cawg.ai_generative_training", "cawg.ai_inference",
                                                   "cawg.ai_training", "cawg.data_mining")}}},
        ],
    }


def capture_definition(mime: str) -> dict:
    """The manifest `trustgen sign --source-type digitalCapture` writes, for plain c2pa-python."""
    from trustgen._version import __version__

    return {
        "claim_generator_info": [{"name": "trustgen", "version": __version__}],
        "title": "image", "format": mime,
        "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{
            "action": "c2pa.created",
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
            "softwareAgent": {"name": "trustgen", "version": __version__}}]}}],
    }


def median_ms(samples) -> float:
    return round(statistics.median(samples) * 1000, 3)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=60)
    add_output_options(ap, "c2pa_speed.json")
    args = ap.parse_args(argv)
    args.out = destination(args, "c2pa_speed.json")

    import c2pa

    from trustgen.credentials import Identity
    from trustgen.credentials.read import read_credentials
    from trustgen.credentials.sign import THUMBNAIL_LONG_EDGE, sign_generated, sign_image
    from trustgen.credentials.trust import DEFAULT_EKUS, TrustConfig
    from trustgen.media import encode_image

    home = tempfile.mkdtemp(prefix="trustgen-bench-")
    identity = Identity.init(Path(home) / "identity")
    spec = identity.signer()
    trust = TrustConfig.for_identity(identity)
    plain_signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(
        b"es256", identity.chain_path.read_bytes(), identity.key_path.read_bytes(), None))
    plain_read_ctx = c2pa.Context.from_dict(trust.c2pa_settings())
    image, prov = photo_512(), provenance()

    rows, results = [], []
    for fmt, mime in (("png", "image/png"), ("jpeg", "image/jpeg")):
        data = encode_image(image, fmt)
        for thumbnail in (True, False):
            plain_ctx = c2pa.Context.from_dict({
                "trust": {"trust_config": "\n".join(DEFAULT_EKUS) + "\n"},
                "builder": {"thumbnail": {"enabled": thumbnail, "long_edge": THUMBNAIL_LONG_EDGE,
                                          "format": "jpeg", "quality": "low"}},
                "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
            })
            definition = plain_definition(prov, mime)

            def plain_sign():
                builder = c2pa.Builder(definition, context=plain_ctx)
                out = io.BytesIO()
                builder.sign(plain_signer, mime, io.BytesIO(data), out)
                return out.getvalue()

            def ours_sign():
                return sign_generated(data, fmt, prov, spec, thumbnail=thumbnail)

            capture = capture_definition(mime)

            def plain_sign_capture():
                builder = c2pa.Builder(capture, context=plain_ctx)
                out = io.BytesIO()
                builder.sign(plain_signer, mime, io.BytesIO(data), out)
                return out.getvalue()

            def ours_sign_capture():  # what `trustgen sign` runs: checks, parent lookup, sign
                return sign_image(data, fmt, spec, source_type="digitalCapture", title="image",
                                  thumbnail=thumbnail)

            signed = ours_sign()

            def plain_read():
                with c2pa.Reader(mime, io.BytesIO(signed), context=plain_read_ctx) as reader:
                    return json.loads(reader.json())["validation_state"]

            def ours_read():
                return read_credentials(signed, fmt=fmt, trust=trust).state

            assert plain_read() == "Trusted" and ours_read() == "trusted"
            assert len(plain_sign()) - len(signed) in range(-64, 65)  # same manifest, up to ids
            timings = {k: [] for k in ("plain_sign", "ours_sign", "plain_read", "ours_read",
                                       "plain_sign_capture", "ours_sign_capture")}
            pairs = [(("plain_sign", plain_sign), ("ours_sign", ours_sign)),
                     (("plain_read", plain_read), ("ours_read", ours_read)),
                     (("plain_sign_capture", plain_sign_capture), ("ours_sign_capture", ours_sign_capture))]
            for i in range(args.repeats + 5):
                # alternate who goes first, so neither side always inherits the other's garbage
                for name, fn in [step for pair in pairs for step in (pair if i % 2 else pair[::-1])]:
                    t0 = time.perf_counter()
                    fn()
                    if i >= 5:  # warm-up
                        timings[name].append(time.perf_counter() - t0)
            med = {k: median_ms(v) for k, v in timings.items()}
            record = {
                "format": fmt, "thumbnail": thumbnail, "size": "512x512",
                "input_bytes": len(data), "manifest_bytes_added": len(signed) - len(data),
                **{f"{k}_ms": v for k, v in med.items()},
                "sign_ratio": round(med["ours_sign"] / med["plain_sign"], 3),
                "read_ratio": round(med["ours_read"] / med["plain_read"], 3),
                "sign_capture_ratio": round(med["ours_sign_capture"] / med["plain_sign_capture"], 3),
                "repeats": args.repeats,
            }
            results.append(record)
            rows.append((fmt, "on" if thumbnail else "off", record["plain_sign_ms"], record["ours_sign_ms"],
                         record["sign_ratio"], record["plain_read_ms"], record["ours_read_ms"],
                         record["read_ratio"], record["plain_sign_capture_ms"],
                         record["ours_sign_capture_ms"], record["sign_capture_ratio"],
                         record["manifest_bytes_added"]))

    headers = ("format", "thumb", "c2pa sign ms", "trustgen sign ms", "ratio",
               "c2pa read ms", "trustgen read ms", "ratio",
               "c2pa sign (capture) ms", "`trustgen sign` ms", "ratio", "manifest bytes")
    widths = [max(len(h), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)))

    default = [r for r in results if r["thumbnail"]]
    summary = {
        "max_sign_ratio": max(r["sign_ratio"] for r in results),
        "max_read_ratio": max(r["read_ratio"] for r in results),
        "max_sign_capture_ratio": max(r["sign_capture_ratio"] for r in results),
        "max_manifest_bytes_default": max(r["manifest_bytes_added"] for r in default),
        "targets": {"ratio": 1.2, "manifest_bytes": 20 * 1024},
    }
    summary["meets_targets"] = (max(summary[k] for k in ("max_sign_ratio", "max_read_ratio",
                                                          "max_sign_capture_ratio")) <= 1.2
                                and summary["max_manifest_bytes_default"] <= 20 * 1024)
    print(f"\nworst ratio sign {summary['max_sign_ratio']}, read {summary['max_read_ratio']}, "
          f"trustgen sign {summary['max_sign_capture_ratio']} (target <= 1.2); "
          f"manifest with defaults {summary['max_manifest_bytes_default']} bytes (target <= 20480)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "c2pa_speed", "command": "python benchmarks/c2pa_speed.py",
        "c2pa_python": c2pa.__version__, "c2pa_rs": c2pa.sdk_version(),
        "python": platform.python_version(), "machine": platform.machine(),
        "cpus": os.cpu_count(), "results": results, "summary": summary,
    }, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
