#!/usr/bin/env bash
# Builds the Swift package's binary part on a Mac with Xcode:
#   bash scripts/build-xcframework.sh [--release-url URL]
# 1. the Rust core as static libraries for aarch64-apple-ios (devices), aarch64-apple-ios-sim +
#    x86_64-apple-ios (simulators, merged with lipo) and aarch64/x86_64-apple-darwin (macOS);
# 2. the Swift bindings, C header and modulemap generated in library mode from the same build,
#    the header and modulemap in a LivenessFFI/ subfolder of Headers (so two uniffi libraries in
#    one app do not both put a module.modulemap at the root of their Headers);
# 3. bindings-swift/Frameworks/LivenessFFI.xcframework (xcodebuild -create-xcframework) and the
#    generated Swift in bindings-swift/Sources/LivenessSDK/Generated/;
# 4. a zip of the XCFramework and its SwiftPM checksum; with --release-url, Package.swift is
#    stamped to fetch the zip from URL with that checksum (commit that with the generated Swift
#    in the release tag).
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
for tool in xcodebuild lipo ditto swift; do
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
rm -rf "$out" && mkdir -p "$out/headers/LivenessFFI" "$out/ios-sim" "$out/macos" "$out/generated"

echo "== bindings (library mode, from the macOS build of the same sources)"
cargo run -q --locked -p uniffi-bindgen -- generate \
  --library "$target/aarch64-apple-darwin/release/libliveness_ffi.dylib" \
  --language swift --out-dir "$out/generated"
cp "$out/generated/LivenessFFI.h" "$out/headers/LivenessFFI/"
cp "$out/generated/LivenessFFI.modulemap" "$out/headers/LivenessFFI/module.modulemap"

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

if [ -n "$release_url" ]; then
  sed -i '' -e "s|^let releaseURL = \".*\"|let releaseURL = \"$release_url\"|" \
    -e "s|^let releaseChecksum = \".*\"|let releaseChecksum = \"$checksum\"|" bindings-swift/Package.swift
  echo "Package.swift now fetches $release_url (upload $zip there)"
fi
