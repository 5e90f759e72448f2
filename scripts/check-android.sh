#!/usr/bin/env bash
# `cargo check` of the SDK's crate graph (liveness-ffi and everything under it) for the two
# Android ARM ABIs the AAR ships (arm64-v8a, armeabi-v7a), on a machine without the NDK.
# Dependencies compile C/assembly in their build scripts (ring for TLS crypto, tract-linalg's
# matrix kernels): their cc-rs builds look for the NDK's clang; here Debian's clang compiles
# them with --target=<abi>-linux-android24 against Debian's libc headers for that architecture
# (libc6-dev-arm64-cross, libc6-dev-armhf-cross). Those objects are
# only compiled, never linked or shipped: a real build uses the NDK (scripts/build-aar.sh),
# whose compiler and sysroot cargo-ndk sets up. Then the JNA version and the 16 KB alignment
# check that build-aar.sh runs.
set -euo pipefail
cd "$(dirname "$0")/.."
resource_dir=$(clang -print-resource-dir)
check_target() { # rust target, clang target, libc headers, extra flags
  local var=${1//-/_}
  export "CC_$var=clang" "AR_$var=llvm-ar"
  export "CFLAGS_$var=--target=$2 -nostdlibinc -isystem $resource_dir/include -isystem $3 ${4:-}"
  cargo check -q --locked --target "$1" -p liveness-ffi
  echo "liveness-ffi checks for $1"
}
check_target aarch64-linux-android aarch64-linux-android24 /usr/aarch64-linux-gnu/include
# 32-bit ARM has its own code paths (tract-linalg's armv7 kernels, ring's arm assembly).
# Debian's armhf glibc headers pick their stubs by float ABI; Android's softfp would ask for
# the soft-float stubs Debian does not ship. The define only selects that header (the objects
# are never linked).
check_target armv7-linux-androideabi armv7a-linux-androideabi24 /usr/arm-linux-gnueabihf/include -D__ARM_PCS_VFP=1
# x86_64-linux-android is not checked here: its code paths are x86_64 Linux's, which the host
# build compiles and tests, and a third cold check would cost CI several minutes.

# JNA ships its libjnidispatch.so in every app that uses the SDK: below 5.18.1 it is not 16 KB
# aligned (before 5.16/5.17) or can deadlock in Structure (5.16/5.17, fixed in 5.18.0).
jna=$(sed -n 's/^val jnaVersion = "\(.*\)"/\1/p' bindings-kotlin/build.gradle.kts)
grep -q 'net.java.dev.jna:jna:$jnaVersion@aar' bindings-kotlin/build.gradle.kts ||
  { echo "bindings-kotlin/build.gradle.kts does not take JNA at jnaVersion" >&2; exit 1; }
if [ "$(printf '%s\n5.18.1\n' "$jna" | sort -V | head -n 1)" != 5.18.1 ]; then
  echo "JNA $jna is older than 5.18.1 (16 KB pages, Structure deadlock)" >&2
  exit 1
fi
echo "JNA $jna (>= 5.18.1)"

# The 16 KB alignment check that build-aar.sh runs on the AAR and JNA's AAR, tried here on
# libraries linked both ways (the Android .so themselves need the NDK to link).
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo 'int liveness_probe(void) { return 1; }' >"$tmp/probe.c"
gcc -shared -fPIC -Wl,-z,max-page-size=16384 -o "$tmp/lib16k.so" "$tmp/probe.c"
gcc -shared -fPIC -Wl,-z,max-page-size=4096 -o "$tmp/lib4k.so" "$tmp/probe.c"
aar() { # name, then paths under $tmp/aar to put in it (python's zipfile: no zip package needed)
  local name=$1; shift
  (cd "$tmp/aar" && python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); [z.write(f) for f in sys.argv[2:]]' \
    "../$name" "$@")
}
mkdir -p "$tmp/aar/jni/arm64-v8a" "$tmp/aar/jni/x86_64"
cp "$tmp/lib16k.so" "$tmp/aar/jni/arm64-v8a/libliveness_ffi.so"
cp "$tmp/lib16k.so" "$tmp/aar/jni/x86_64/libliveness_ffi.so"
aar good.aar jni/arm64-v8a/libliveness_ffi.so jni/x86_64/libliveness_ffi.so
cp "$tmp/lib4k.so" "$tmp/aar/jni/arm64-v8a/libjnidispatch.so"
aar mixed.aar jni/arm64-v8a/libliveness_ffi.so jni/arm64-v8a/libjnidispatch.so
bash scripts/check-16k-alignment.sh "$tmp/good.aar" "$tmp/lib16k.so" >/dev/null
status=0
out=$(bash scripts/check-16k-alignment.sh "$tmp/mixed.aar") || status=$?
[ "$status" = 1 ] && grep -q 'FAIL: mixed.aar!/jni/arm64-v8a/libjnidispatch.so' <<<"$out" ||
  { echo "the 16 KB check missed a 4 KB-aligned library (status $status): $out" >&2; exit 1; }
status=0
bash scripts/check-16k-alignment.sh "$tmp/probe.c" 2>/dev/null || status=$?
[ "$status" = 2 ] || { echo "the 16 KB check took a non-ELF file (status $status)" >&2; exit 1; }
echo "16 KB alignment check: refuses a 4 KB-aligned .so inside an AAR, passes 16 KB ones"
