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
cargo build -q --workspace --all-targets --locked
rm -rf "$out" && mkdir -p "$out"
cargo run -q --locked -p uniffi-bindgen -- generate --library "$target/debug/libliveness_ffi.so" \
  --language swift --out-dir "$out" --no-format

echo "-- C header (gcc -fsyntax-only, as C and C++)"
# Clang's nullability qualifiers mean nothing to gcc.
echo '#include "LivenessFFI.h"' | gcc -fsyntax-only -Wall -Werror -D_Nullable= -D_Nonnull= -I "$out" -x c -
echo '#include "LivenessFFI.h"' | g++ -fsyntax-only -Wall -Werror -D_Nullable= -D_Nonnull= -I "$out" -x c++ -
grep -q '^module LivenessFFI' "$out/LivenessFFI.modulemap"

echo "-- what the XCFramework and the Swift package ship (scripts/swift/package.py)"
# The Headers folder as build-xcframework.sh makes it: the modulemap without the
# `use "_Builtin_*"` lines Xcode 26's explicit modules reject (mozilla/uniffi-rs#2917).
python3 scripts/swift/package.py headers "$out" "$out/headers"
if grep -q '_Builtin_' "$out/headers/LivenessFFI/module.modulemap"; then
  echo "the shipped modulemap still has a _Builtin_ line" >&2
  exit 1
fi
grep -q '_Builtin_' "$out/LivenessFFI.modulemap" &&
  echo "(uniffi's own modulemap has them; the shipped one does not)"
# The header compiles through the shipped folder as an app's include path would find it.
echo '#include "LivenessFFI/LivenessFFI.h"' | gcc -fsyntax-only -Wall -Werror -D_Nullable= -D_Nonnull= \
  -I "$out/headers" -x c -
# A release package assembled from these bindings is complete (generated Swift, privacy
# manifest, strings, stamped URL and checksum), and an incomplete one is refused.
python3 scripts/swift/package.py assemble "$out" "$out/release" \
  --release-url https://releases.example/LivenessFFI.xcframework.zip \
  --checksum "$(printf %064d 0 | tr 0 a)"
grep -q '^let releaseURL = "https://releases.example/LivenessFFI.xcframework.zip"$' "$out/release/Package.swift"
rm "$out/release/Sources/LivenessSDK/Generated/LivenessSDK.swift"
if python3 scripts/swift/package.py check "$out/release" 2>/dev/null; then
  echo "a package without its generated Swift passed the check" >&2
  exit 1
fi
python3 -c 'import plistlib, sys; d = plistlib.load(open(sys.argv[1], "rb")); assert d["NSPrivacyTracking"] is False and d["NSPrivacyAccessedAPITypes"]' \
  bindings-swift/Sources/LivenessSDK/PrivacyInfo.xcprivacy
echo "privacy manifest: a valid property list"

echo "-- Swift syntax and the generated API the hand-written Swift uses"
"$VENV/bin/python" scripts/swift/check_swift.py --self-test
mapfile -t sources < <(find bindings-swift sample-ios -name '*.swift' -not -path '*/Generated/*' -not -path '*/.build/*' | sort)
"$VENV/bin/python" scripts/swift/check_swift.py --generated "$out/LivenessSDK.swift" \
  --api bindings-swift/generated-api.txt "${sources[@]}"
