"""The platform-neutral half of the Swift package build, shared by scripts/build-xcframework.sh
(on a Mac) and scripts/check-swift.sh (here, on the Linux-generated bindings). Standard library
only: macOS ships python3 with Xcode's command line tools.

  headers GENERATED OUT     the XCFramework's Headers folder: LivenessFFI/LivenessFFI.h and
                            LivenessFFI/module.modulemap, the modulemap made loadable by Xcode 26
  assemble GENERATED OUT [--release-url URL --checksum SUM] [--xcframework DIR]
                            a complete, self-contained Swift package in OUT: bindings-swift/ with
                            the generated Swift in Sources/LivenessSDK/Generated (git ignores it
                            in this repository, so a tag of this repository alone would lack it)
                            and, for a release, Package.swift fetching the XCFramework zip from
                            URL with its checksum. SwiftPM wants Package.swift at a repository's
                            root: publish OUT as the root of the release repository or tag.
  check OUT                 what a package must hold before it ships (run by assemble too)

Why the modulemap is rewritten: uniffi (0.28-0.32) emits `use "_Builtin_stdbool"` and
`use "_Builtin_stdint"`; with Xcode 26's explicit module builds those private Clang module names
do not resolve, the FFI module fails to build, the generated Swift's `#if canImport(LivenessFFI)`
silently turns false and the build shows hundreds of "cannot find type 'RustBuffer'"
(mozilla/uniffi-rs#2917). The header includes <stdbool.h> and <stdint.h> itself, and `use
"Darwin"` stays, so nothing is lost by dropping the two lines.
"""

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bindings-swift"
MODULE = "LivenessFFI"
BUILTIN_USE = re.compile(r'^\s*use\s+"_Builtin_[A-Za-z0-9_]+"\s*$')


def fail(message):
    print(f"package.py: {message}", file=sys.stderr)
    sys.exit(1)


def loadable_modulemap(text):
    """The modulemap without the `use "_Builtin_*"` lines Xcode 26 rejects."""
    kept = [line for line in text.splitlines() if not BUILTIN_USE.match(line)]
    return "\n".join(kept) + "\n"


def check_modulemap(text, where):
    problems = []
    if not re.search(rf"^\s*(framework\s+)?module\s+{MODULE}\b", text, re.M):
        problems.append(f"{where}: does not declare module {MODULE}")
    for line in text.splitlines():
        if BUILTIN_USE.match(line):
            problems.append(f"{where}: {line.strip()} (Xcode 26 cannot load it: mozilla/uniffi-rs#2917)")
    headers = re.findall(r'header\s+"([^"]+)"', text)
    if not headers:
        problems.append(f"{where}: names no header")
    return problems, headers


def headers(generated, out):
    src_map = generated / f"{MODULE}.modulemap"
    src_header = generated / f"{MODULE}.h"
    for f in (src_map, src_header):
        if not f.is_file():
            fail(f"{f} is missing: run uniffi-bindgen --language swift first")
    folder = out / MODULE
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src_header, folder / f"{MODULE}.h")
    original = src_map.read_text()
    fixed = loadable_modulemap(original)
    (folder / "module.modulemap").write_text(fixed)
    problems, names = check_modulemap(fixed, str(folder / "module.modulemap"))
    problems += [f"{folder}: the modulemap names {n}, which is not beside it" for n in names if not (folder / n).is_file()]
    if problems:
        fail("\n".join(problems))
    dropped = len(original.splitlines()) - len(fixed.splitlines())
    print(f"headers: {folder} (modulemap: {dropped} _Builtin_ line(s) dropped)")


def stamp(package_swift, url, checksum):
    text = package_swift.read_text()
    text, n1 = re.subn(r'^let releaseURL = ".*"$', f'let releaseURL = "{url}"', text, flags=re.M)
    text, n2 = re.subn(r'^let releaseChecksum = ".*"$', f'let releaseChecksum = "{checksum}"', text, flags=re.M)
    if n1 != 1 or n2 != 1:
        fail(f"{package_swift}: cannot find the releaseURL / releaseChecksum lines to stamp")
    package_swift.write_text(text)


def check(out):
    problems = []
    package_swift = out / "Package.swift"
    if not package_swift.is_file():
        fail(f"{out} has no Package.swift")
    text = package_swift.read_text()
    url_line = re.search(r'^let releaseURL = "(.*)"$', text, re.M)
    checksum_line = re.search(r'^let releaseChecksum = "(.*)"$', text, re.M)
    if not url_line or not checksum_line:
        fail(f"{package_swift}: no releaseURL / releaseChecksum lines")
    url, checksum = url_line.group(1), checksum_line.group(1)
    sources = out / "Sources" / "LivenessSDK"
    generated = sources / "Generated" / "LivenessSDK.swift"
    if not generated.is_file() or generated.stat().st_size == 0:
        problems.append(f"{generated} is missing: the package would not compile")
    elif "canImport(LivenessFFI)" not in generated.read_text():
        problems.append(f"{generated} does not import the LivenessFFI module")
    privacy = sources / "PrivacyInfo.xcprivacy"
    if not privacy.is_file():
        problems.append(f"{privacy} is missing: App Store uploads report ITMS-91053")
    elif '"PrivacyInfo.xcprivacy"' not in text:
        problems.append("Package.swift does not ship PrivacyInfo.xcprivacy as a resource")
    for lang in ("en", "es", "fr", "de", "id", "pt"):
        if not (sources / "Resources" / f"{lang}.lproj" / "Localizable.strings").is_file():
            problems.append(f"the {lang} strings are missing")
    if url:
        if not url.startswith("https://") or not url.endswith(".zip"):
            problems.append(f"releaseURL {url!r} is not an https URL of a .zip")
        if not re.fullmatch(r"[0-9a-f]{64}", checksum):
            problems.append(f"releaseChecksum {checksum!r} is not a SwiftPM checksum (64 hex digits)")
    else:
        xcf = out / "Frameworks" / f"{MODULE}.xcframework"
        if not xcf.is_dir():
            problems.append(f"no releaseURL and no {xcf}: the binary target resolves to nothing")
        else:
            for mm in xcf.glob("*/Headers/**/module.modulemap"):
                problems += check_modulemap(mm.read_text(), str(mm))[0]
    if problems:
        fail("the package is not complete:\n  " + "\n  ".join(problems))
    print(f"package: {out} is complete ({'release ' + url if url else 'local XCFramework'})")


def assemble(generated, out, release_url, checksum, xcframework):
    swift = generated / "LivenessSDK.swift"
    if not swift.is_file():
        fail(f"{swift} is missing: run uniffi-bindgen --language swift first")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in ("Package.swift", "README.md"):
        shutil.copyfile(PACKAGE / name, out / name)
    shutil.copytree(
        PACKAGE / "Sources",
        out / "Sources",
        ignore=shutil.ignore_patterns("Generated", ".DS_Store"),
    )
    (out / "Sources" / "LivenessSDK" / "Generated").mkdir()
    shutil.copyfile(swift, out / "Sources" / "LivenessSDK" / "Generated" / "LivenessSDK.swift")
    if release_url:
        stamp(out / "Package.swift", release_url, checksum or "")
    elif xcframework:
        shutil.copytree(xcframework, out / "Frameworks" / xcframework.name, symlinks=True)
    check(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    h = sub.add_parser("headers")
    h.add_argument("generated", type=Path)
    h.add_argument("out", type=Path)
    a = sub.add_parser("assemble")
    a.add_argument("generated", type=Path)
    a.add_argument("out", type=Path)
    a.add_argument("--release-url")
    a.add_argument("--checksum")
    a.add_argument("--xcframework", type=Path)
    c = sub.add_parser("check")
    c.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.command == "headers":
        headers(args.generated, args.out)
    elif args.command == "assemble":
        if bool(args.release_url) != bool(args.checksum):
            fail("--release-url and --checksum go together")
        assemble(args.generated, args.out, args.release_url, args.checksum, args.xcframework)
    else:
        check(args.out)


if __name__ == "__main__":
    main()
