#!/usr/bin/env bash
# The newsroom walk-through of the README, end to end, with trustgen commands only.
# Builds an inbox (agency captures, a generated image, a reposted copy, a tampered file, files
# signed elsewhere, a plain photo, a broken file), verifies it under the newsroom policy, and
# renders the HTML report to docs/report.png with headless Chromium.
#
#   bash docs/newsroom_walkthrough.sh            (needs: .venv with trustgen, chromium)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PATH="$repo/.venv/bin:$PATH"
work=$(mktemp -d -t trustgen-newsroom-XXXX)
export TRUSTGEN_HOME=$work/home          # a throwaway identity: the "agency" that signs captures
inbox=$work/inbox
mkdir -p "$inbox/agency" "$inbox/social"

trustgen keys init >/dev/null
python - "$work" <<'EOF'
# Two real photographs (scikit-learn's samples, CC BY 2.0) stand in for camera files.
import sys
from PIL import Image
from sklearn.datasets import load_sample_image
for name in ("china", "flower"):
    Image.fromarray(load_sample_image(name + ".jpg")).save(f"{sys.argv[1]}/{name}.jpg", quality=92)
EOF

# An agency capture, signed; an image "generated" here: watermarked, then signed as AI media.
trustgen sign "$work/china.jpg" -o "$inbox/agency/harbour.jpg" --source-type digitalCapture
trustgen watermark embed "$work/flower.jpg" -o "$work/flower-marked.png" --content-id 5eed0fc0ffee
trustgen sign "$work/flower-marked.png" -o "$inbox/agency/flower-generated.png" \
    --source-type trainedAlgorithmicMedia
python - "$inbox" <<'EOF'
# A reposted copy (re-encoded: credentials stripped, watermark kept), a tampered copy of the
# capture (bytes changed after signing), a plain photo, and a file that is not an image.
import sys
from pathlib import Path
from PIL import Image
inbox = Path(sys.argv[1])
Image.open(inbox / "agency/flower-generated.png").convert("RGB").save(inbox / "social/repost.jpg", quality=90)
data = bytearray((inbox / "agency/harbour.jpg").read_bytes())
mid = data.rfind(b"\xff\xda") + (len(data) - data.rfind(b"\xff\xda")) // 2
data[mid:mid + 8] = bytes(8)
(inbox / "social/harbour-edited.jpg").write_bytes(bytes(data))
Image.open(inbox.parent / "china.jpg").save(inbox / "social/plain-photo.jpg", quality=90)
(inbox / "social/download.jpg").write_text("<html>404 not found</html>\n")
EOF
# Files signed by other C2PA implementations (the reference fixtures), signer not trusted here.
fixtures=$repo/../shared/fixtures/c2pa/files
[ -d "$fixtures" ] && cp "$fixtures/CA.jpg" "$fixtures/ocsp.jpg" "$inbox/social/"

trustgen verify "$inbox" --recursive --policy newsroom \
    --trust-anchors "$TRUSTGEN_HOME/root-ca.pem" --workers 2 \
    --report "$work/report.html" --jsonl "$work/verdicts.jsonl" --csv "$work/verdicts.csv" \
    && status=0 || status=$?
echo "trustgen verify exited with $status (0 all verified, 1 some need review or were rejected, 2 unreadable files)"

chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
    --hide-scrollbars --window-size=1280,1400 --screenshot="$repo/docs/report.png" \
    "file://$work/report.html" 2>/dev/null
echo "report: $work/report.html; screenshot: docs/report.png"
