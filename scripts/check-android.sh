#!/usr/bin/env bash
# `cargo check` of the SDK's crate graph (liveness-ffi and everything under it) for Android
# arm64, on a machine without the NDK. Two dependencies compile C/assembly in their build
# scripts: ring (TLS crypto) and tract-linalg (ARM matrix kernels). Their cc-rs builds look for
# the NDK's aarch64-linux-android-clang; here Debian's clang compiles them with
# --target=aarch64-linux-android24 against Debian's aarch64 libc headers (libc6-dev-arm64-cross).
# Those objects are only compiled, never linked or shipped: a real build uses the NDK
# (scripts/build-aar.sh), whose compiler and sysroot cargo-ndk sets up.
set -euo pipefail
cd "$(dirname "$0")/.."
resource_dir=$(clang -print-resource-dir)
export CC_aarch64_linux_android=clang
export AR_aarch64_linux_android=llvm-ar
export CFLAGS_aarch64_linux_android="--target=aarch64-linux-android24 -nostdlibinc \
  -isystem $resource_dir/include -isystem /usr/aarch64-linux-gnu/include"
cargo check -q --locked --target aarch64-linux-android -p liveness-ffi
echo "liveness-ffi checks for aarch64-linux-android"
