"""Writes strings.json (language -> key -> text) from the Android string resources, so the
web page shows the same words in the same six languages as the apps (one source of truth)."""

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

# Android's folder suffix -> the BCP 47 language the page matches (`in` is Android's old code
# for Indonesian).
FOLDERS = {"values": "en", "values-fr": "fr", "values-es": "es", "values-de": "de",
           "values-pt": "pt", "values-in": "id"}


def unescape(text: str) -> str:
    # Android resource escapes: \' \" \n \@ \?; the rest is plain text.
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            out.append("\n" if n == "n" else "\t" if n == "t" else n)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out).strip().strip('"')


def main(res: Path, out: Path) -> None:
    strings = {}
    for folder, lang in FOLDERS.items():
        tree = ET.parse(res / folder / "strings.xml")
        strings[lang] = {e.get("name"): unescape("".join(e.itertext()))
                         for e in tree.getroot().iter("string")}
    missing = {lang: sorted(set(strings["en"]) - set(s)) for lang, s in strings.items()}
    missing = {k: v for k, v in missing.items() if v}
    if missing:
        sys.exit(f"strings missing a translation: {missing}")
    out.write_text(json.dumps(strings, ensure_ascii=False, sort_keys=True, indent=1) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
