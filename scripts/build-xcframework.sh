#!/usr/bin/env bash
# Builds the Swift package's binary part on a Mac with Xcode:
#   bash scripts/build-xcframework.sh [--release-url URL]
# 1. the Rust core as static libraries for aarch64-apple-ios (devices), aarch64-apple-ios-sim +
#    x86_64-apple-ios (simulators, merged with lipo) and aarch64/x86_64-apple-darwin (macOS);
# 2. the Swift bindings, C header and modulemap generated in library mode from the same build,
#    the header and modulemap in a LivenessFFI/ subfolder of Headers (so two uniffi libraries in
#    one app do not both put a module.modulemap at the root of their Headers), the modulemap
#    without the `use "_Builtin_*"` lines Xcode 26 cannot load (scripts/swift/package.py);
# 3. bindings-swift/Frameworks/LivenessFFI.xcframework (xcodebuild -create-xcframework) and the
#    generated Swift in bindings-swift/Sources/LivenessSDK/Generated/;
# 4. a zip of the XCFramework and its SwiftPM checksum; with --release-url, a complete release
#    package in target/swift-package (Package.swift fetching the zip from URL with that checksum,
#    the generated Swift included, checked): publish that folder as the root of the release
#    repository or tag, and upload the zip to URL. The repository's own bindings-swift/ is
#    never stamped (git ignores its generated Swift, so a tag of it would not compile).
# It needs macOS and Xcode, which Linux CI machines lack: it stops at once elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

release_url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --release-url) release_url="${2:?--release-url needs a URL}"; shift 2 ;;
    *) echo "usage: $0 [--release-url URL]" >&2; exit 2 ;;
  esac
done

if [ "$(uname -s)" != Darwin ]; then
  echo "build-xcframework: needs macOS with Xcode (this is $(uname -s)); nothing was built." >&2
  exit 1
fi
for tool in xcodebuild lipo ditto swift python3; do
  command -v "$tool" >/dev/null || { echo "build-xcframework: $tool not found: install Xcode and run xcode-select" >&2; exit 1; }
done

ios=aarch64-apple-ios
sims=(aarch64-apple-ios-sim x86_64-apple-ios)
macs=(aarch64-apple-darwin x86_64-apple-darwin)
export IPHONEOS_DEPLOYMENT_TARGET=15.0 MACOSX_DEPLOYMENT_TARGET=12.0
for t in "$ios" "${sims[@]}" "${macs[@]}"; do
  rustup target list --installed | grep -q "^$t$" || rustup target add "$t"
  echo "== cargo build --release --target $t"
  cargo build --locked --release -p liveness-ffi --target "$t"
done

target="${CARGO_TARGET_DIR:-target}"
lib=libliveness_ffi.a
out=target/xcframework
rm -rf "$out" && mkdir -p "$out/headers" "$out/ios-sim" "$out/macos" "$out/generated"

echo "== bindings (library mode, from the macOS build of the same sources)"
cargo run -q --locked -p uniffi-bindgen -- generate \
  --library "$target/aarch64-apple-darwin/release/libliveness_ffi.dylib" \
  --language swift --out-dir "$out/generated"
python3 scripts/swift/package.py headers "$out/generated" "$out/headers"

lipo -create "$target/${sims[0]}/release/$lib" "$target/${sims[1]}/release/$lib" -output "$out/ios-sim/$lib"
lipo -create "$target/${macs[0]}/release/$lib" "$target/${macs[1]}/release/$lib" -output "$out/macos/$lib"

xcframework=bindings-swift/Frameworks/LivenessFFI.xcframework
rm -rf "$xcframework"
xcodebuild -create-xcframework \
  -library "$target/$ios/release/$lib" -headers "$out/headers" \
  -library "$out/ios-sim/$lib" -headers "$out/headers" \
  -library "$out/macos/$lib" -headers "$out/headers" \
  -output "$xcframework"

mkdir -p bindings-swift/Sources/LivenessSDK/Generated
cp "$out/generated/LivenessSDK.swift" bindings-swift/Sources/LivenessSDK/Generated/

zip="$out/LivenessFFI.xcframework.zip"
ditto -c -k --sequesterRsrc --keepParent "$xcframework" "$zip"
checksum=$(swift package compute-checksum "$zip")
echo "XCFramework: $xcframework"
echo "zip: $zip"
echo "checksum: $checksum"

python3 scripts/swift/package.py check bindings-swift
if [ -n "$release_url" ]; then
  python3 scripts/swift/package.py assemble "$out/generated" target/swift-package \
    --release-url "$release_url" --checksum "$checksum"
  echo "release package: target/swift-package (publish it as a repository root; upload $zip to $release_url)"
fi
