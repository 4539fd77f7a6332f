#!/usr/bin/env bash
# The newsroom walk-through of the README, end to end.
# Builds an inbox (agency captures, a composite with its ingredients, a generated image, a
# reposted copy, a tampered file, a PDF and files signed elsewhere, a plain photo, a broken
# file), verifies it under the newsroom policy, and renders the HTML report and a screenshot of
# it with headless Chromium.
#
#   bash docs/newsroom_walkthrough.sh [OUT_DIR] [--update-docs]
#
# Everything is written to OUT_DIR (default: a new temporary folder), printed at the end: the
# inbox, report.html, verdicts.jsonl, verdicts.csv and report.png. The checkout is not touched,
# unless --update-docs, which also copies the screenshot to docs/report.png (the README's
# figure). Needs the .venv with trustgen, scikit-learn (sample photos) and chromium; about 30 s.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PATH="$repo/.venv/bin:$PATH"

out="" update_docs=0
for arg in "$@"; do
    case "$arg" in
        --update-docs) update_docs=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "newsroom_walkthrough.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
        *) [ -z "$out" ] || { echo "newsroom_walkthrough.sh: one OUT_DIR only" >&2; exit 2; }
           out=$arg ;;
    esac
done
if [ -z "$out" ]; then
    out=$(mktemp -d -t trustgen-newsroom-XXXX)
elif [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "newsroom_walkthrough.sh: $out is not empty; give a new or empty folder" >&2; exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work                           # intermediate files, not part of the inbox
export TRUSTGEN_HOME=$out/home           # a throwaway identity: the "agency" that signs captures
inbox=$out/inbox
mkdir -p "$work" "$inbox/agency" "$inbox/social" "$inbox/documents"

trustgen keys init >/dev/null
python - "$work" <<'EOF'
# Two real photographs (scikit-learn's samples, CC BY 2.0) stand in for camera files.
import sys
from PIL import Image
from sklearn.datasets import load_sample_image
for name in ("china", "flower"):
    Image.fromarray(load_sample_image(name + ".jpg")).save(f"{sys.argv[1]}/{name}.jpg", quality=92)
EOF

# An agency capture, signed; a front page composed from it (its ingredient tree: the front
# page > a layout > the capture); an image "generated" here: watermarked, then signed as AI media
# (with soft bindings for its mark and fingerprint) and registered in the agency's manifest store,
# so that its stripped repost below is recovered.
trustgen sign "$work/china.jpg" -o "$inbox/agency/harbour.jpg" --source-type digitalCapture
trustgen sign "$work/flower.jpg" -o "$work/layout.jpg" --source-type digitalCapture \
    --ingredient "$inbox/agency/harbour.jpg"
trustgen sign "$work/china.jpg" -o "$inbox/agency/front-page.jpg" --source-type digitalCapture \
    --ingredient "$work/layout.jpg" --action "c2pa.placed:harbour photo on the front page"
trustgen watermark embed "$work/flower.jpg" -o "$work/flower-marked.png" --content-id 5eed0fc0ffee
trustgen sign "$work/flower-marked.png" -o "$inbox/agency/flower-generated.png" \
    --source-type trainedAlgorithmicMedia --register
python - "$inbox" "$work" <<'EOF'
# A reposted copy (re-encoded: credentials stripped, watermark kept; verify recovers its
# credentials from the store: trusted signer, AI-generated, pixels changed), a tampered copy of the
# capture (bytes changed after signing), a plain photo, and a file that is not an image.
import sys
from pathlib import Path
from PIL import Image
inbox, work = Path(sys.argv[1]), Path(sys.argv[2])
Image.open(inbox / "agency/flower-generated.png").convert("RGB").save(inbox / "social/repost.jpg", quality=90)
data = bytearray((inbox / "agency/harbour.jpg").read_bytes())
mid = data.rfind(b"\xff\xda") + (len(data) - data.rfind(b"\xff\xda")) // 2
data[mid:mid + 8] = bytes(8)
(inbox / "social/harbour-edited.jpg").write_bytes(bytes(data))
Image.open(work / "china.jpg").save(inbox / "social/plain-photo.jpg", quality=90)
(inbox / "social/download.jpg").write_text("<html>404 not found</html>\n")
EOF

# A press release as PDF from another C2PA tool (signed here with c2pa-python by a second
# throwaway identity that the desk does not trust), with the page's thumbnail in its manifest:
# the report shows that thumbnail, since trustgen does not render PDFs.
TRUSTGEN_HOME=$work/vendor trustgen keys init >/dev/null
TRUSTGEN_HOME=$work/vendor python - "$inbox/documents/press-release.pdf" <<'EOF'
import io, sys
import c2pa
from PIL import Image, ImageDraw
from trustgen.credentials import Identity

objects = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
           b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>"]
pdf, offsets = bytearray(b"%PDF-1.4\n"), []
for n, body in enumerate(objects, 1):
    offsets.append(len(pdf))
    pdf += b"%d 0 obj" % n + body + b"endobj\n"
xref = len(pdf)
pdf += b"xref\n0 4\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
pdf += b"trailer<</Size 4/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % xref

page = Image.new("RGB", (150, 212), "white")   # what the page looks like, drawn as its thumbnail
draw = ImageDraw.Draw(page)
draw.rectangle((12, 14, 138, 30), fill=(24, 60, 120))
for y in range(44, 200, 10):
    draw.line((12, y, 138 if y % 40 else 90, y), fill=(150, 150, 150), width=3)
thumb = io.BytesIO()
page.save(thumb, "JPEG", quality=85)
definition = {
    "claim_generator_info": [{"name": "another-c2pa-tool", "version": "2.1"}],
    "title": "press-release.pdf", "format": "application/pdf",
    "thumbnail": {"format": "image/jpeg", "identifier": "page.jpg"},
    "assertions": [{"label": "c2pa.actions.v2", "data": {"actions": [{"action": "c2pa.created",
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation"}]}}],
}
with c2pa.Builder(definition) as builder:
    builder.add_resource("page.jpg", io.BytesIO(thumb.getvalue()))
    signed = io.BytesIO()
    builder.sign(Identity.load().signer().c2pa_signer(), "application/pdf", io.BytesIO(bytes(pdf)), signed)
open(sys.argv[1], "wb").write(signed.getvalue())
EOF
# Files signed by other C2PA implementations (the reference fixtures), signer not trusted here.
fixtures=$repo/../shared/fixtures/c2pa/files
if [ -d "$fixtures" ]; then cp "$fixtures/CA.jpg" "$fixtures/ocsp.jpg" "$inbox/social/"; fi

trustgen verify "$inbox" --recursive --policy newsroom \
    --trust-anchors "$TRUSTGEN_HOME/root-ca.pem" --workers 2 \
    --report "$out/report.html" --jsonl "$out/verdicts.jsonl" --csv "$out/verdicts.csv" \
    && status=0 || status=$?
echo "trustgen verify exited with $status (0 all verified, 1 some need review or were rejected, 2 unreadable files)"

profile=$(mktemp -d -t trustgen-chromium-XXXX)
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1280,2400 \
    --screenshot="$out/report.png" "file://$out/report.html" 2>/dev/null
rm -rf "$profile"
if [ "$update_docs" = 1 ]; then
    cp "$out/report.png" "$repo/docs/.report.png.part" && mv "$repo/docs/.report.png.part" "$repo/docs/report.png"
    echo "updated docs/report.png"
fi
echo "report: $out/report.html"
echo "screenshot: $out/report.png"
