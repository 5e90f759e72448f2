#!/usr/bin/env bash
# Builds the Android library (AAR) on a machine with the Android SDK + NDK:
#   bash scripts/build-aar.sh [--debug] [--publish]
# Output: bindings-kotlin/build/outputs/aar/liveness-release.aar (and, with --publish, a Maven
# repository in bindings-kotlin/build/maven). It cannot run on the project's CI machine (no
# Android SDK there); it checks its prerequisites first and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

variant=Release profile=release publish=""
for arg in "$@"; do
  case "$arg" in
    --debug) variant=Debug profile=debug ;;
    --publish) publish=1 ;;
    *) echo "usage: $0 [--debug] [--publish]" >&2; exit 2 ;;
  esac
done

missing=()
sdk="${ANDROID_HOME:-${ANDROID_SDK_ROOT:-}}"
[ -n "$sdk" ] && [ -d "$sdk" ] || missing+=("the Android SDK (set ANDROID_HOME)")
ndk="${ANDROID_NDK_HOME:-}"
if [ -z "$ndk" ] && [ -n "$sdk" ]; then
  ndk=$(ls -d "$sdk"/ndk/27.* 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$ndk" ] && [ -d "$ndk" ] || missing+=("the Android NDK r27 (sdkmanager 'ndk;27.2.12479018', or set ANDROID_NDK_HOME)")
command -v cargo-ndk >/dev/null || missing+=("cargo-ndk (cargo install cargo-ndk)")
command -v java >/dev/null || missing+=("a JDK 17")
gradle=""
if [ -x bindings-kotlin/gradlew ]; then gradle="$PWD/bindings-kotlin/gradlew"
elif command -v gradle >/dev/null; then gradle=gradle
else missing+=("Gradle 8.9+ (or run 'gradle wrapper' in bindings-kotlin once)"); fi
command -v unzip >/dev/null || missing+=("unzip")
if ((${#missing[@]})); then
  echo "build-aar: cannot build the AAR here; missing:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi
export ANDROID_NDK_HOME="$ndk"

for t in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android; do
  rustup target list --installed | grep -q "^$t$" || rustup target add "$t"
done

tasks=(":assemble$variant")
[ -n "$publish" ] && tasks+=(":publishReleasePublicationToLocalRepository")
(cd bindings-kotlin && "$gradle" -PcargoProfile="$profile" "${tasks[@]}")

aar="bindings-kotlin/build/outputs/aar/liveness-${profile}.aar"
# Every .so in the AAR must have 16 KB-aligned LOAD segments (Android 15 16 KB devices).
readelf="$ndk/toolchains/llvm/prebuilt/$(uname -s | tr 'A-Z' 'a-z')-x86_64/bin/llvm-readelf"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
unzip -q "$aar" 'jni/*' -d "$tmp"
for so in "$tmp"/jni/*/*.so; do
  while read -r align; do
    if ((16#${align#0x} < 16384)); then
      echo "build-aar: ${so#"$tmp"/} has a LOAD segment aligned to $align, below 16 KB" >&2
      exit 1
    fi
  done < <("$readelf" -lW "$so" | awk '$1 == "LOAD" { print $NF }')
  echo "ok: 16 KB aligned: ${so#"$tmp"/}"
done
echo "AAR: $aar"
