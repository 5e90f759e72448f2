#!/usr/bin/env bash
# What can be checked of the Swift side without a Swift compiler: the generated bindings and
# C header of the current libliveness_ffi, every hand-written Swift file, and the API the
# hand-written layer calls (scripts/swift/check_swift.py). Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/swift-check"
# libliveness_ffi.so built for the whole workspace, as scripts/test-kotlin.sh builds it (one
# shared build; the crate alone would resolve features differently and rebuild dependencies).
cargo build -q --workspace --locked
rm -rf "$out" && mkdir -p "$out"
cargo run -q --locked -p uniffi-bindgen -- generate --library "$target/debug/libliveness_ffi.so" \
  --language swift --out-dir "$out" --no-format

echo "-- C header (gcc -fsyntax-only, as C and C++)"
# Clang's nullability qualifiers mean nothing to gcc.
echo '#include "LivenessFFI.h"' | gcc -fsyntax-only -Wall -Werror -D_Nullable= -D_Nonnull= -I "$out" -x c -
echo '#include "LivenessFFI.h"' | g++ -fsyntax-only -Wall -Werror -D_Nullable= -D_Nonnull= -I "$out" -x c++ -
grep -q '^module LivenessFFI' "$out/LivenessFFI.modulemap"

echo "-- Swift syntax and the generated API the hand-written Swift uses"
"$VENV/bin/python" scripts/swift/check_swift.py --self-test
mapfile -t sources < <(find bindings-swift sample-ios -name '*.swift' -not -path '*/Generated/*' -not -path '*/.build/*' | sort)
"$VENV/bin/python" scripts/swift/check_swift.py --generated "$out/LivenessSDK.swift" \
  --api bindings-swift/generated-api.txt "${sources[@]}"
