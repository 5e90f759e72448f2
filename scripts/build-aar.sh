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
# The build uses exactly the NDK of build.gradle.kts's ndkVersion (Gradle hands it to cargo-ndk).
ndk_version=$(sed -n 's/^ *ndkVersion = "\(.*\)"/\1/p' bindings-kotlin/build.gradle.kts)
ndk="${sdk:+$sdk/ndk/$ndk_version}"
[ -n "$ndk" ] && [ -d "$ndk" ] || missing+=("the Android NDK $ndk_version (sdkmanager 'ndk;$ndk_version')")
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
command -v cargo-ndk >/dev/null || [ -x "$cargo_bin/cargo-ndk" ] || missing+=("cargo-ndk (cargo install cargo-ndk)")
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

for t in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android; do
  rustup target list --installed | grep -q "^$t$" || rustup target add "$t"
done

tasks=(":assemble$variant")
[ -n "$publish" ] && tasks+=(":publishReleasePublicationToLocalRepository")
(cd bindings-kotlin && "$gradle" -PcargoProfile="$profile" "${tasks[@]}")

aar="bindings-kotlin/build/outputs/aar/liveness-${profile}.aar"
# Every .so an app gets from the SDK must have 16 KB-aligned LOAD segments (Android 15+ 16 KB
# devices refuse the rest): ours, and JNA's libjnidispatch.so from the AAR Gradle resolved.
export READELF="$ndk/toolchains/llvm/prebuilt/$(uname -s | tr 'A-Z' 'a-z')-x86_64/bin/llvm-readelf"
jna_version=$(sed -n 's/^val jnaVersion = "\(.*\)"/\1/p' bindings-kotlin/build.gradle.kts)
jna_aar=$(find "${GRADLE_USER_HOME:-$HOME/.gradle}/caches/modules-2/files-2.1/net.java.dev.jna/jna/$jna_version" \
  -name "jna-$jna_version.aar" 2>/dev/null | head -n 1)
[ -n "$jna_aar" ] || { echo "build-aar: jna-$jna_version.aar is not in Gradle's cache: cannot check its .so" >&2; exit 1; }
bash scripts/check-16k-alignment.sh "$aar" "$jna_aar"
echo "AAR: $aar"
