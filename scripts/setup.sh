#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine that has Rust (rustup).
# Idempotent: a second run checks and returns in a second or two.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_packages=()
command -v python3 >/dev/null || apt_packages+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
# The server's tests run against PostgreSQL too.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
# nokhwa (the SDK's webcam source) generates its V4L2 bindings with libclang.
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || apt_packages+=(libclang-dev)
# The Kotlin bindings' tests: a JDK, JNA and JUnit from Debian, kotlinc from npm.
command -v javac >/dev/null || apt_packages+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/jna.jar ] || apt_packages+=(libjna-java libjna-jni)
[ -f /usr/share/java/junit4.jar ] || apt_packages+=(junit4)
command -v npm >/dev/null || apt_packages+=(npm)
command -v curl >/dev/null || apt_packages+=(curl)
# The Android cross-check: clang for the C/assembly in ring's and tract-linalg's build scripts.
command -v clang >/dev/null || apt_packages+=(clang)
command -v llvm-ar >/dev/null || apt_packages+=(llvm)
[ -d /usr/aarch64-linux-gnu/include ] || apt_packages+=(libc6-dev-arm64-cross)
[ -d /usr/arm-linux-gnueabihf/include ] || apt_packages+=(libc6-dev-armhf-cross)
# The 16 KB page alignment check of Android libraries (scripts/check-16k-alignment.sh).
command -v readelf >/dev/null || apt_packages+=(binutils)
command -v unzip >/dev/null || apt_packages+=(unzip)
# The evaluation: ffmpeg turns the real clips into y4m; the report's chart needs a font.
command -v ffmpeg >/dev/null || apt_packages+=(ffmpeg)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || apt_packages+=(fonts-dejavu-core)
# The web package: a real Chromium for its tests, wasm-opt to shrink the module.
command -v chromium >/dev/null || apt_packages+=(chromium)
command -v wasm-opt >/dev/null || apt_packages+=(binaryen)
if ((${#apt_packages[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  echo "setup: installing ${apt_packages[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${apt_packages[@]}"
fi

for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" ||
    rustup component add "$component"
done

# The Android ARM targets (the SDK's crate graph must compile for them) and the browser.
for t in aarch64-linux-android armv7-linux-androideabi wasm32-unknown-unknown; do
  rustup target list --installed 2>/dev/null | grep -q "^$t$" || rustup target add "$t"
done

install_kotlinc
install_wasm_bindgen
install_playwright_core

# Python tools in a private venv, reinstalled only when the pinned requirements change.
requirements=scripts/interop/requirements.txt
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating the Python venv in $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$requirements"
  echo "$want" >"$VENV/.requirements.sha256"
fi

# moto (an S3-compatible server) for the object-storage tests, in its own venv.
want=$(sha256sum scripts/s3/requirements.txt | cut -d' ' -f1)
if [ ! -x "$S3_VENV/bin/moto_server" ] || [ "$(cat "$S3_VENV/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating the moto venv in $S3_VENV"
  rm -rf "$S3_VENV"
  python3 -m venv "$S3_VENV"
  "$S3_VENV/bin/pip" install -q --disable-pip-version-check -r scripts/s3/requirements.txt
  echo "$want" >"$S3_VENV/.requirements.sha256"
fi

# Real recordings for the evaluation and the test command (evaluation only, in the cache).
bash scripts/fetch-clips.sh
