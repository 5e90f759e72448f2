#!/usr/bin/env bash
# Builds the web package: the Rust core for wasm32-unknown-unknown (SIMD128 on, see
# .cargo/config.toml), its wasm-bindgen glue, wasm-opt, the strings of the apps' six languages
# and the fp32 models, into one folder a server (or an integrator's page) serves as is.
#   bash scripts/build-web.sh [OUT]   (default: $CARGO_TARGET_DIR/liveness-web)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="${1:-$target/liveness-web}"

[ -x "$WASM_BINDGEN" ] || { echo "build-web: run scripts/setup.sh first (wasm-bindgen-cli)" >&2; exit 1; }
cargo build -q --locked -p liveness-web --target wasm32-unknown-unknown --profile web
rm -rf "$out" && mkdir -p "$out/models"
wasm="$target/wasm32-unknown-unknown/web/liveness_web.wasm"
if command -v wasm-opt >/dev/null; then
  # Size again (the kernels are SIMD intrinsics either way), BEFORE wasm-bindgen: Debian's
  # binaryen 108 run on wasm-bindgen's output breaks its externref table (the module then
  # fails to start: "WebAssembly.Table.set(): Argument 1 is invalid for table"). The features
  # are the ones rustc enabled for the module.
  mkdir -p "$target/liveness-web-opt"
  [ "$target/liveness-web-opt/liveness_web.wasm" -nt "$wasm" ] || wasm-opt -Os --strip-debug --strip-producers --enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types --enable-multivalue \
    "$wasm" -o "$target/liveness-web-opt/liveness_web.wasm"
  wasm="$target/liveness-web-opt/liveness_web.wasm"
fi
"$WASM_BINDGEN" --target web --no-typescript --out-dir "$out" "$wasm"
# The module must start: instantiate it once in node (the same engine as Chromium's).
node --input-type=module -e '
  const dir = process.argv[1];
  const glue = await import(dir + "/liveness_web.js");
  glue.initSync({ module: (await import("node:fs")).readFileSync(dir + "/liveness_web_bg.wasm") });
' "$out" || { echo "build-web: the built module does not start" >&2; exit 1; }
cp -r models/licenses "$out/models/"
cp bindings-web/src/liveness.js bindings-web/src/liveness.css bindings-web/src/liveness.d.ts \
  bindings-web/src/hosted.js bindings-web/src/hosted.css bindings-web/src/hosted_strings.json \
  bindings-web/package.json "$out/"
python3 bindings-web/tools/strings.py bindings-kotlin/src/main/res "$out/strings.json"
python3 - "$out/models" <<'PY'
import json, pathlib, shutil, sys
out = pathlib.Path(sys.argv[1])
for e in json.load(open("models/manifest.json"))["models"]:
    if e["variant"] == "fp32":
        shutil.copy(pathlib.Path("models") / e["file"], out / e["file"])
PY
code=$(cat "$out"/liveness.js "$out"/liveness_web.js "$out"/liveness_web_bg.wasm | wc -c)
gz=$(cat "$out"/liveness.js "$out"/liveness_web.js | gzip -9 | wc -c)
gzw=$(gzip -9 -c "$out"/liveness_web_bg.wasm | wc -c)
echo "build-web: $out — wasm + JS $((code / 1024)) KiB, $(((gz + gzw) / 1024)) KiB gzip (models apart: $(du -sk "$out/models" | cut -f1) KiB)"
