#!/usr/bin/env bash
# The Kotlin bindings on the host JVM, for real: the host-built libliveness_ffi.so, Kotlin
# generated from it by the workspace's uniffi-bindgen, the hand-written layer (everything not
# tied to android.*), and JUnit tests against a liveness-server on loopback.
# Called by scripts/test.sh; assumes scripts/setup.sh has run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/kotlin-host"
work=$(mktemp -d)
TEST_SERVER_PID=""
cleanup() {
  [ -n "$TEST_SERVER_PID" ] && kill "$TEST_SERVER_PID" 2>/dev/null && wait "$TEST_SERVER_PID" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# libliveness_ffi.so, liveness-server and liveness, built for the whole workspace: the same
# feature resolution as scripts/check-swift.sh, so the two scripts share one build (building
# single packages would resolve features per package and rebuild much of the graph each time).
cargo build -q --workspace --all-targets --locked
lib="$target/debug/libliveness_ffi.so"

echo "-- generating Kotlin from $lib"
rm -rf "$out" && mkdir -p "$out/generated" "$out/classes"
cargo run -q --locked -p uniffi-bindgen -- generate --library "$lib" --language kotlin \
  --out-dir "$out/generated" --no-format

kotlin_lib="$KOTLIN_HOME/lib"
cp="$kotlin_lib/kotlinx-coroutines-core-jvm.jar:$JNA_JAR:$JUNIT_JARS:$kotlin_lib/kotlin-test.jar:$kotlin_lib/kotlin-test-junit.jar"
echo "-- compiling generated + hand-written (non-Android) Kotlin and the tests"
# The sample app's setup logic has no Android classes either: it is compiled and tested too.
mapfile -t sources < <(find "$out/generated" bindings-kotlin/src/main/kotlin bindings-kotlin/src/test/kotlin \
  -name '*.kt' -not -path '*/io/openliveness/liveness/android/*' | sort)
sources+=(sample-android/app/src/main/kotlin/io/openliveness/sample/SessionSetup.kt
  sample-android/app/src/test/kotlin/io/openliveness/sample/SessionSetupTest.kt)
"$KOTLIN_HOME/bin/kotlinc" -nowarn -jvm-target 17 -cp "$cp" -d "$out/classes" "${sources[@]}"

echo "-- starting liveness-server on loopback"
start_test_server "$work" kotlin-tests
url=$TEST_SERVER_URL
api_key=$TEST_API_KEY

# (Not -Xcheck:jni: JNA's own dispatch floods it with warnings about JNA's calls.)
echo "-- JUnit on the JVM"
LIVENESS_TEST_SERVER="$url" LIVENESS_TEST_API_KEY="$api_key" LIVENESS_CLI="$target/debug/liveness" \
  LIVENESS_TEST_WORK="$work" LIVENESS_MODELS_DIR="$PWD/models" LIVENESS_BINDINGS_DIR="$PWD/bindings-kotlin" \
  java -Djna.library.path="$target/debug" -Djava.library.path="$target/debug" \
  -cp "$out/classes:$cp:$kotlin_lib/kotlin-stdlib.jar" org.junit.runner.JUnitCore \
  io.openliveness.liveness.SessionTest io.openliveness.liveness.ErrorsTest io.openliveness.liveness.StringsTest \
  io.openliveness.liveness.SealedSeedFileTest \
  io.openliveness.sample.SessionSetupTest ||
  { echo "server log:"; tail -n 50 "$work/server.log"; exit 1; }

# The Android-only sources (android.*, androidx.*, Compose) cannot compile without the Android
# SDK; kotlinc still parses them, so at least their syntax is checked: unresolved Android
# references are expected here, syntax errors are not.
echo "-- syntax of the Android-only Kotlin (library and sample)"
mapfile -t android_sources < <(find bindings-kotlin/src/main/kotlin/io/openliveness/liveness/android \
  sample-android/app/src/main/kotlin -name '*.kt' | sort)
syntax=$("$KOTLIN_HOME/bin/kotlinc" -nowarn -cp "$out/classes:$cp" -d "$work/android-syntax" \
  "${android_sources[@]}" 2>&1 | grep 'syntax error' || true)
if [ -n "$syntax" ]; then
  echo "$syntax"
  exit 1
fi
echo "no syntax errors in ${#android_sources[@]} files"

# The Gradle build scripts likewise: parsed as Kotlin scripts (the Gradle and AGP APIs do not
# resolve here; a syntax error would still fail the first build on a developer's machine).
echo "-- syntax of the Gradle build scripts"
mapfile -t gradle_scripts < <(find bindings-kotlin sample-android -name '*.gradle.kts' -not -path '*/build/*' | sort)
syntax=$("$KOTLIN_HOME/bin/kotlinc" -nowarn -d "$work/gradle-syntax" "${gradle_scripts[@]}" 2>&1 | grep 'syntax error' || true)
if [ -n "$syntax" ]; then
  echo "$syntax"
  exit 1
fi
echo "no syntax errors in ${#gradle_scripts[@]} Gradle scripts"
