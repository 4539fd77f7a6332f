"""Durable credentials benchmark (issue 12): the fingerprint's false matches on unrelated images,
the manifest store's lookup latency and insert rate at growing sizes on SQLite and PostgreSQL
side by side, and recovery of stripped copies under attacks through ``trustgen.recovery``.

    .venv/bin/python benchmarks/durable.py --quick            # minutes: 1,000 queries, 1k/10k records
    nice -n 10 .venv/bin/python benchmarks/durable.py         # 10,000+ queries, 10k/100k/1M records

False matches: the fingerprints of >= 10,000 unrelated images (random crops, rescalings and JPEG
versions of the photos shipped in scikit-image/scikit-learn/matplotlib, and procedural images:
smooth noise, ramps, stripes, checkerboards; benchmarks/watermark.py's ``unmarked``) are looked
up against a "registered" set that shares no source with them (the images of
../shared/datasets/realgen, whole and cropped, and procedural images of another seed), with all
eight dihedral hashes per query, as ``recovery`` does. Reported: pairs within
``fingerprint.MAX_DISTANCE``, the pair and per-query rates with exact (Clopper-Pearson) 95% upper
bounds, and the distance quantiles that justify the threshold. Queries under PDQ's quality floor
are counted but never matched (as in the store).

Store: random 256-bit fingerprints and content ids (records of 512 bytes, not a real manifest's
~14 KB, so a million fit a small disk), bulk-loaded in transactions of 10,000; then the insert
rate of single registrations (one transaction each, as ``trustgen store add``), exact lookups by
watermark value, and fingerprint lookups (one hash 12 bits off a stored one; and the eight
dihedral hashes of a query) at p50/p99. PostgreSQL runs in a throwaway cluster started here
(initdb + pg_ctl, Unix socket, fsync off for both: the figures are of the index, not the disk),
or at ``--pg URL``.

Recovery, through trustgen's own wiring: photos cropped to 512 px, watermarked (trustgen scheme,
the throwaway identity's private key) and signed as AI media the way ``trustgen sign --register``
does (soft bindings for the mark and the fingerprint, ``c2pa.watermarked``, registered in a
SQLite store); with ``--generated`` the embedded default model's outputs instead, made by
``TrustedPipeline`` (which registers each one itself; the model's native size, not 512 px). Each
attack of benchmarks/watermark.py's grid, plus rotation by 3 and 10 degrees, a mirror and a
screenshot-style rescale with a border, is applied to the signed image (which strips its
credentials), and ``Verifier.verify_bytes`` judges the copy under the default policy: recovered
by watermark, by fingerprint, by either (the right manifest each time), and read as
``recovered-ai`` (trusted, AI-generated).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import contextlib  # noqa: E402
import glob  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import add_output_options, destination  # noqa: E402

from trustgen import fingerprint as fp  # noqa: E402
from trustgen import softbinding as sb  # noqa: E402

REALGEN = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "realgen"


# --- statistics ----------------------------------------------------------------------------------

def upper95(k: int, n: int) -> float | None:
    """Exact one-sided 95% upper bound (Clopper-Pearson) on a rate seen k times in n."""
    if n == 0:
        return None
    if k >= n:
        return 1.0
    from scipy.stats import beta

    return float(beta.ppf(0.95, k + 1, n - k))


def quantiles(values, qs=(50, 99)) -> dict:
    arr = np.asarray(values, dtype=float)
    return {f"p{q}": round(float(np.percentile(arr, q)), 3) for q in qs} if len(arr) else {}


# --- false matches -------------------------------------------------------------------------------

def _words(h: bytes) -> np.ndarray:
    return np.frombuffer(h, dtype=">u8").astype(np.uint64)


def registered_images(count_procedural: int, seed: int = 1234):
    """The stand-in registered set: realgen images whole and as two crops, procedural images."""
    from watermark import _procedural

    rng = np.random.default_rng(seed)
    files = sorted(p for p in REALGEN.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for path in files:
        img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        yield img, "realgen"
        for _ in range(2):
            w, h = img.size
            cw, ch = int(w * rng.uniform(0.5, 0.9)), int(h * rng.uniform(0.5, 0.9))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            yield img.crop((x, y, x + cw, y + ch)), "realgen"
    for _ in range(count_procedural):
        h, w = (int(v) for v in rng.integers(256, 700, 2))
        yield _procedural(rng, h, w), "procedural"


def false_matches(n_queries: int, n_registered_procedural: int, log) -> dict:
    from watermark import photos, unmarked

    refs = [(fp.compute(img), kind) for img, kind in registered_images(n_registered_procedural)]
    usable_refs = [r for r, _ in refs if r.usable]
    ref_photo = np.array([kind == "realgen" for r, kind in refs if r.usable])
    ref_words = np.stack([_words(r.hash) for r in usable_refs])
    log(f"false matches: {len(refs)} registered fingerprints ({len(usable_refs)} usable); hashing "
        f"{n_queries} unrelated queries")
    mins_single, mins_any = [], []
    pairs_single = pairs_any = queries_single = queries_any = usable_queries = 0
    photo_queries = photo_pairs_any = 0  # photo-derived queries against the realgen images only
    t0 = time.perf_counter()
    for i, img in enumerate(unmarked(photos(), n_queries, seed=7)):
        prints = fp.dihedral(img)
        if not prints[0].usable:
            continue
        usable_queries += 1
        q = np.stack([_words(p.hash) for p in prints])
        d = np.bitwise_count(q[:, None, :] ^ ref_words[None, :, :]).sum(-1)  # 8 x refs
        single, anyv = d[0], d.min(0)
        mins_single.append(int(single.min()))
        mins_any.append(int(anyv.min()))
        k1, k8 = int((single <= fp.MAX_DISTANCE).sum()), int((anyv <= fp.MAX_DISTANCE).sum())
        pairs_single += k1
        pairs_any += k8
        queries_single += k1 > 0
        queries_any += k8 > 0
        if i % 10 != 9:  # ``unmarked`` makes every tenth image procedural, the rest from photos
            photo_queries += 1
            photo_pairs_any += int((anyv[ref_photo] <= fp.MAX_DISTANCE).sum())
        if (i + 1) % 1000 == 0:
            log(f"  {i + 1} queries, {time.perf_counter() - t0:.0f} s")
    pairs = usable_queries * len(usable_refs)
    return {
        "max_distance": fp.MAX_DISTANCE, "min_quality": fp.MIN_QUALITY,
        "queries": n_queries, "usable_queries": usable_queries,
        "registered": len(refs), "usable_registered": len(usable_refs), "pairs": pairs,
        "one_hash": {"false_pairs": pairs_single, "pair_rate": pairs_single / pairs if pairs else None,
                     "pair_rate_upper95": upper95(pairs_single, pairs),
                     "queries_with_a_false_match": queries_single,
                     "query_rate_upper95": upper95(queries_single, usable_queries)},
        "dihedral": {"false_pairs": pairs_any, "pair_rate": pairs_any / pairs if pairs else None,
                     "pair_rate_upper95": upper95(pairs_any, pairs),
                     "queries_with_a_false_match": queries_any,
                     "query_rate_upper95": upper95(queries_any, usable_queries)},
        "photos_vs_realgen_dihedral": {
            "pairs": photo_queries * int(ref_photo.sum()), "false_pairs": photo_pairs_any,
            "pair_rate_upper95": upper95(photo_pairs_any, photo_queries * int(ref_photo.sum()))},
        "nearest_unrelated_distance": {
            "one_hash": {"min": min(mins_single, default=None), **quantiles(mins_single, (1, 5, 50))},
            "dihedral": {"min": min(mins_any, default=None), **quantiles(mins_any, (1, 5, 50))}},
    }


# --- store scaling -------------------------------------------------------------------------------

@contextlib.contextmanager
def throwaway_postgres():
    """A PostgreSQL cluster in a temporary folder, reachable only by its Unix socket (None when
    the server binaries are missing). As root it runs as the ``postgres`` user."""
    found = shutil.which("initdb")
    bindir = Path(found).resolve().parent if found else None
    if bindir is None:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        bindir = Path(versions[-1]).parent if versions else None
    if bindir is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="trustgen-bench-pg-"))
    prefix = []
    if os.geteuid() == 0:
        import pwd

        pg = pwd.getpwnam("postgres")
        os.chown(folder, pg.pw_uid, pg.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]

    def run(*args):
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=300, check=True)

    data = folder / "data"
    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start", "-o",
            f"-c listen_addresses='' -k {folder} -c fsync=off -c synchronous_commit=off "
            "-c shared_buffers=256MB")
        yield f"postgresql:///postgres?host={folder}&user=postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _random_registration(rng, i: int):
    from trustgen.store import Registration

    h = rng.bytes(32)
    print_ = fp.Fingerprint(h, 90)
    cid = rng.bytes(6).hex()
    return Registration(f"urn:c2pa:bench-{i:08d}", rng.bytes(512), rng.bytes(32).hex(), "bench", None,
                        (sb.watermark_binding(cid, key="public", scheme="trustgen"),
                         sb.fingerprint_binding(print_)), print_)


def _flip(h: bytes, rng, bits: int) -> bytes:
    n = int.from_bytes(h, "big")
    for b in rng.choice(256, bits, replace=False):
        n ^= 1 << int(b)
    return n.to_bytes(32, "big")


def store_scaling(sizes, backends: dict, lookups: int, log) -> list[dict]:
    from trustgen.store import open_store

    rows = []
    for name, url in backends.items():
        rng = np.random.default_rng(5)
        with open_store(url) as store:
            loaded, sample = 0, []
            for size in sizes:
                before, t0 = loaded, time.perf_counter()
                while loaded < size:
                    batch = [_random_registration(rng, loaded + j) for j in range(min(10_000, size - loaded))]
                    store.add_many(batch)
                    sample += batch[:: max(1, len(batch) // 50)]
                    loaded += len(batch)
                bulk_s = time.perf_counter() - t0
                singles = [_random_registration(rng, 10**8 + size * 10 + j) for j in range(lookups // 4)]
                t0 = time.perf_counter()
                for r in singles:
                    store.add(r)
                single_rate = len(singles) / (time.perf_counter() - t0)
                sample += singles
                picks = [sample[int(k)] for k in rng.integers(0, len(sample), lookups)]
                exact, one, eight = [], [], []
                for r in picks:
                    t0 = time.perf_counter()
                    assert r.manifest_id in store.by_binding(sb.WATERMARK_ALG, r.soft_bindings[0].value)
                    exact.append((time.perf_counter() - t0) * 1000)
                    near = _flip(r.fingerprint.hash, rng, 12)
                    t0 = time.perf_counter()
                    found = store.by_fingerprint(near)
                    one.append((time.perf_counter() - t0) * 1000)
                    assert found and found[0].manifest_id == r.manifest_id
                    queries = [near] + [rng.bytes(32) for _ in range(7)]  # a dihedral-sized query
                    t0 = time.perf_counter()
                    store.by_fingerprint(queries)
                    eight.append((time.perf_counter() - t0) * 1000)
                row = {"backend": name, "records": store.stats()["manifests"],
                       "bulk_insert_per_s": round((loaded - before) / bulk_s, 1) if loaded > before else None,
                       "single_insert_per_s": round(single_rate, 1),
                       "exact_lookup_ms": quantiles(exact), "fingerprint_lookup_ms": quantiles(one),
                       "fingerprint_lookup_8_hashes_ms": quantiles(eight)}
                log(f"  {name:10s} {row['records']:>9,d} records: exact p50 {row['exact_lookup_ms']['p50']} ms, "
                    f"fingerprint p50 {row['fingerprint_lookup_ms']['p50']} ms, "
                    f"{row['single_insert_per_s']}/s single inserts")
                rows.append(row)
    return rows


# --- recovery under attacks ----------------------------------------------------------------------

def extra_attacks():
    def screenshot(im):
        small = im.resize((round(im.width * 0.8), round(im.height * 0.8)), Image.BICUBIC)
        return ImageOps.expand(small, border=40, fill=(245, 245, 245))

    return {
        "rotate3": lambda im: im.rotate(3, resample=Image.BICUBIC, expand=False),
        "rotate10": lambda im: im.rotate(10, resample=Image.BICUBIC, expand=False),
        "mirror": lambda im: im.transpose(Image.FLIP_LEFT_RIGHT),
        "screenshot": screenshot,
    }


def recovery_rates(images, attacks: dict, log, workdir: Path, others=(), generated: int = 0,
                   steps: int = 20) -> dict:
    """Sign and register each image (or generate ``generated`` images with ``TrustedPipeline``),
    attack it, and ask ``Verifier.verify_bytes`` for each attacked copy."""
    from trustgen import watermark as wm
    from trustgen.credentials import Identity, TrustConfig
    from trustgen.credentials.sign import sign_image
    from trustgen.generate import TrustedPipeline, soft_bindings
    from trustgen.store import open_store, register
    from trustgen.store.ingest import registration
    from trustgen.verify import Verifier

    identity = Identity.init(workdir / "identity")
    signer, trust, key = identity.signer(), TrustConfig.for_identity(identity), identity.watermark_key
    db = workdir / "recovery.db"
    signed = []
    if generated:
        pipe = TrustedPipeline.from_pretrained(identity=identity, store=db)
        outputs = pipe(num_images=generated, num_inference_steps=steps, seed=2024)
        assert all(o.registered for o in outputs)
        for o in outputs:
            signed.append((o.data, registration(o.data).manifest_id, o.provenance.content_id))
        others = photo_squares(len(outputs), side=outputs[0].image.width, shift=7)
    else:
        with open_store(db) as store:
            for i, img in enumerate(images):
                cid = f"{i:012x}"
                marked = wm.embed(img, cid, key=key)
                bindings, actions = soft_bindings(marked, cid, key=key, scheme=wm.DEFAULT_SCHEME)
                buf = io.BytesIO()
                marked.save(buf, "PNG")
                data = sign_image(buf.getvalue(), "png", signer, source_type="trainedAlgorithmicMedia",
                                  title=f"{cid}.png", soft_bindings=bindings, extra_actions=actions)
                register(data, store=store)
                signed.append((data, registration(data).manifest_id, cid))
    verifier = Verifier("default", trust=trust, watermark_keys=[key], detector=False,
                        identity=identity, stores=[str(db)])
    results = {}
    for name, attack in attacks.items():
        counts = {"watermark": 0, "fingerprint": 0, "either": 0, "trusted": 0, "called_copied": 0, "n": 0}
        for data, manifest_id, _ in signed:
            attacked = attack(Image.open(io.BytesIO(data)).convert("RGB"))
            buf = io.BytesIO()
            attacked.save(buf, "PNG")  # a new file: the credentials did not survive the attack
            verdict = verifier.verify_bytes(buf.getvalue(), f"{name}.png")
            found = verdict.evidence.recovered
            right = found is not None and found.manifest_id == manifest_id
            counts["n"] += 1
            counts["watermark"] += right and found.matched_by in ("watermark", "both")
            counts["fingerprint"] += right and found.matched_by in ("fingerprint", "both")
            counts["either"] += right
            counts["trusted"] += right and verdict.label == "recovered-ai"
            counts["called_copied"] += verdict.label == "copied-mark"
        results[name] = {k: (v / counts["n"] if k != "n" else v) for k, v in counts.items()}
        log(f"  {name:12s} watermark {results[name]['watermark']:.0%}  fingerprint "
            f"{results[name]['fingerprint']:.0%}  either {results[name]['either']:.0%}  "
            f"recovered-ai {results[name]['trusted']:.0%}")
    # the copy attack: each registered image's mark (same id, same key) on an unrelated photo
    copied = {"flagged_copied": 0, "recovered_as_provenance": 0, "mark_not_read": 0, "n": 0}
    for (data, manifest_id, cid), other in zip(signed, others):
        buf = io.BytesIO()
        wm.embed(other, cid, key=key).save(buf, "PNG")
        verdict = verifier.verify_bytes(buf.getvalue(), "copied.png")
        found = verdict.evidence.recovered
        copied["n"] += 1
        copied["flagged_copied"] += verdict.label == "copied-mark"
        copied["recovered_as_provenance"] += found is not None and found.manifest_id == manifest_id
        copied["mark_not_read"] += not verdict.evidence.watermark.detected
    if copied["n"]:
        results["copy_attack"] = copied
        log(f"  copy attack: {copied}")
    return results


def photo_squares(count: int, side: int = 512, shift: int = 0):
    """``count`` photos at ``side`` px (then random crops of them); ``shift`` starts at another
    photo, so image i of a shifted list is never of the same photo as image i of the plain one."""
    from watermark import photos, square

    pics = list(photos().values())
    rng = np.random.default_rng(11 + shift)
    out = []
    for i in range(count):
        arr = pics[(i + shift) % len(pics)]
        if i >= len(pics):  # further images: random crops of the same photos
            h, w = arr.shape[:2]
            s = int(min(h, w) * rng.uniform(0.5, 0.9))
            y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
            arr = arr[y:y + s, x:x + s]
        out.append(square(arr, side))
    return out


# --- report --------------------------------------------------------------------------------------

def markdown(out: dict) -> str:
    """The figures as the README's tables."""
    lines = []
    fm = out.get("false_matches")
    if fm:
        lines += [f"False matches at distance <= {fm['max_distance']} ({fm['usable_queries']:,} usable "
                  f"unrelated queries x {fm['usable_registered']:,} registered fingerprints = {fm['pairs']:,} pairs):",
                  "", "| query | false pairs | pair rate (95% bound) | queries with a false match (95% bound) |",
                  "|---|---|---|---|"]
        for mode in ("one_hash", "dihedral"):
            m = fm[mode]
            lines.append(f"| {mode} | {m['false_pairs']} | {m['pair_rate']:.2g} ({m['pair_rate_upper95']:.2g}) | "
                         f"{m['queries_with_a_false_match']} ({m['query_rate_upper95']:.2g}) |")
        p = fm["photos_vs_realgen_dihedral"]
        lines += ["", f"Photo-derived queries against the realgen images only: {p['false_pairs']} false pairs "
                      f"in {p['pairs']:,} (95% bound {p['pair_rate_upper95']:.2g}).", ""]
    if out.get("store"):
        lines += ["| backend | records | bulk insert/s | single insert/s | exact p50/p99 ms | fingerprint p50/p99 ms "
                  "| 8 hashes p50/p99 ms |", "|---|---|---|---|---|---|---|"]
        for r in out["store"]:
            q = lambda k: f"{r[k]['p50']} / {r[k]['p99']}"  # noqa: E731
            lines.append(f"| {r['backend']} | {r['records']:,} | {r['bulk_insert_per_s']} | {r['single_insert_per_s']} "
                         f"| {q('exact_lookup_ms')} | {q('fingerprint_lookup_ms')} | {q('fingerprint_lookup_8_hashes_ms')} |")
        lines.append("")
    rec = out.get("recovery")
    if rec:
        lines += ["| attack | by watermark | by fingerprint | by either | trusted | called a copied mark |",
                  "|---|---|---|---|---|---|"]
        for name, r in rec.items():
            if name != "copy_attack":
                lines.append(f"| {name} | {r['watermark']:.0%} | {r['fingerprint']:.0%} | {r['either']:.0%} | "
                             f"{r['trusted']:.0%} | {r['called_copied']:.0%} |")
        if "copy_attack" in rec:
            c = rec["copy_attack"]
            lines += ["", f"Copy attack ({c['n']} marks pasted on other photos): {c['flagged_copied']} flagged as "
                          f"copied marks, {c['recovered_as_provenance']} recovered as provenance, "
                          f"{c['mark_not_read']} marks not read."]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few minutes")
    ap.add_argument("--queries", type=int, default=None, help="unrelated images (default 10,000; quick 1,000)")
    ap.add_argument("--sizes", default=None, help="store sizes, comma-separated (default 10000,100000,1000000)")
    ap.add_argument("--recovery-images", type=int, default=None, help="images signed and attacked (default 20; quick 4)")
    ap.add_argument("--generated", type=int, default=0, metavar="N",
                    help="recovery of N images of the embedded default model (TrustedPipeline) "
                         "instead of signed 512 px photos")
    ap.add_argument("--steps", type=int, default=20, help="sampler steps with --generated")
    ap.add_argument("--pg", default=None, help="PostgreSQL URL to use instead of a throwaway cluster")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: false,store,recovery")
    add_output_options(ap, "durable.json")
    args = ap.parse_args(argv)
    queries = args.queries or (1000 if args.quick else 10_000)
    sizes = [int(s) for s in (args.sizes or ("1000,10000" if args.quick else "10000,100000,1000000")).split(",")]
    n_images = args.recovery_images or (4 if args.quick else 20)
    skip = set(filter(None, args.skip.split(",")))
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    out = {"meta": {"quick": args.quick, "python": platform.python_version(), "machine": platform.machine(),
                    "cpus": os.cpu_count(), "load_average": os.getloadavg(),
                    "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    if "false" not in skip:
        out["false_matches"] = false_matches(queries, 300 if args.quick else 600, log)
    if "store" not in skip:
        with tempfile.TemporaryDirectory() as tmp, (contextlib.nullcontext(args.pg) if args.pg
                                                    else throwaway_postgres()) as pg:
            backends = {"sqlite": str(Path(tmp) / "bench.db")}
            if pg:
                backends["postgresql"] = pg
            else:
                log("store: no PostgreSQL server binaries; SQLite only")
            log(f"store: sizes {sizes} on {', '.join(backends)}")
            out["store"] = store_scaling(sizes, backends, 40 if args.quick else 200, log)
    if "recovery" not in skip:
        from watermark import ATTACKS

        with tempfile.TemporaryDirectory() as tmp:
            log(f"recovery: {args.generated or n_images} {'generated ' if args.generated else ''}images")
            images = [] if args.generated else photo_squares(n_images)
            out["recovery"] = recovery_rates(images, {**ATTACKS, **extra_attacks()}, log, Path(tmp),
                                             others=photo_squares(n_images, shift=7),
                                             generated=args.generated, steps=args.steps)
    out["meta"]["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    path = destination(args, "durable.json")
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(markdown(out))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
