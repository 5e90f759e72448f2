#!/usr/bin/env bash
# Runs the protocol fuzz targets for a while each (not part of CI; needs a nightly toolchain
# and cargo-fuzz: `rustup toolchain install nightly && cargo install cargo-fuzz`).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 120)
set -euo pipefail
cd "$(dirname "$0")/../rust-core/protocol/fuzz"
seconds="${1:-120}"
for target in manifest signatures plan; do
  mkdir -p "corpus/$target"
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  echo "== fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" "${seeds[@]}" -- -max_total_time="$seconds"
done
