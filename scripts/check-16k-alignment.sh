#!/usr/bin/env bash
# Checks that native libraries can load on Android devices with 16 KB memory pages (Android 15+
# in 16 KB mode, Pixel 8/9's developer option; Google Play flags apps that fail this): every
# ELF LOAD segment must be aligned to at least 16384 bytes.
#   bash scripts/check-16k-alignment.sh FILE...
# FILE is a .so, or an .aar/.apk/.aab/.zip whose every .so is checked (ours and those of the
# libraries an app pulls in: JNA's libjnidispatch.so was 4-8 KB aligned before JNA 5.16/5.17).
# Exits 1 naming each library below 16 KB, 2 when a file cannot be read.
set -euo pipefail

readelf=""
for candidate in "${READELF:-}" llvm-readelf readelf; do
  if [ -n "$candidate" ] && command -v "$candidate" >/dev/null; then readelf="$candidate"; break; fi
done
[ -n "$readelf" ] || { echo "check-16k: needs readelf (binutils) or llvm-readelf (the NDK's)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "usage: $0 FILE.so|FILE.aar|FILE.apk..." >&2; exit 2; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bad=0 checked=0

check_so() { # path shown-name
  local aligns
  if ! aligns=$("$readelf" -lW "$1" 2>/dev/null | awk '$1 == "LOAD" { print $NF }') || [ -z "$aligns" ]; then
    echo "check-16k: $2 is not an ELF shared library with LOAD segments" >&2
    exit 2
  fi
  local align worst=""
  while read -r align; do
    if ((16#${align#0x} < 16384)); then worst=$align; fi
  done <<<"$aligns"
  checked=$((checked + 1))
  if [ -n "$worst" ]; then
    echo "FAIL: $2 has a LOAD segment aligned to $worst (needs 0x4000, 16 KB)"
    bad=1
  else
    echo "ok: $2"
  fi
}

for f in "$@"; do
  [ -r "$f" ] || { echo "check-16k: cannot read $f" >&2; exit 2; }
  case "$f" in
    *.aar|*.apk|*.aab|*.zip|*.jar)
      d="$tmp/$(basename "$f").d"; mkdir -p "$d"
      unzip -qq -o "$f" '*.so' -d "$d" 2>/dev/null || true
      mapfile -t libs < <(find "$d" -name '*.so' -type f | sort)
      if [ ${#libs[@]} -eq 0 ]; then echo "note: $(basename "$f") holds no .so"; fi
      for so in "${libs[@]}"; do check_so "$so" "$(basename "$f")!/${so#"$d"/}"; done
      ;;
    *) check_so "$f" "$f" ;;
  esac
done
echo "check-16k: $checked librar$([ $checked = 1 ] && echo y || echo ies) checked"
exit $bad
