//! Every code the core can send (guidance, prompts, errors) has a translation in each of the
//! six languages on both platforms, both platforms use the same keys, and every key is
//! reachable: a code key, or a key the bindings' own code names.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LANGUAGES: [&str; 6] = ["en", "es", "fr", "de", "id", "pt"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn code_keys() -> BTreeSet<String> {
    let codes = liveness_ffi::message_codes();
    let mut keys = BTreeSet::new();
    for (kind, list) in [
        ("prompt", codes.prompts),
        ("guidance", codes.guidance),
        ("error", codes.errors),
    ] {
        keys.extend(list.iter().map(|c| format!("liveness_{kind}_{c}")));
    }
    keys
}

/// `"key" = "value";` lines of a Localizable.strings file.
fn ios_strings(lang: &str) -> Vec<(String, String)> {
    let path = repo().join(format!(
        "bindings-swift/Sources/LivenessSDK/Resources/{lang}.lproj/Localizable.strings"
    ));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if !line.starts_with('"') {
            continue;
        }
        let (key, rest) = line[1..].split_once("\" = \"").expect(line);
        let value = rest.strip_suffix("\";").expect(line);
        out.push((key.to_owned(), value.to_owned()));
    }
    out
}

/// `<string name="key">value</string>` entries of an Android strings.xml.
fn android_strings(dir: &str) -> Vec<(String, String)> {
    let path = repo().join(format!("bindings-kotlin/src/main/res/{dir}/strings.xml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split("<string name=\"")
        .skip(1)
        .map(|chunk| {
            let (key, rest) = chunk.split_once('"').expect(chunk);
            let value = rest.split_once('>').expect(chunk).1;
            let value = value.split_once("</string>").expect(chunk).0;
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn sources(dir: &str, ext: &str) -> String {
    fn walk(p: &Path, ext: &str, out: &mut String) {
        for entry in std::fs::read_dir(p).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, ext, out);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&repo().join(dir), ext, &mut out);
    out
}

fn placeholders(s: &str) -> usize {
    s.matches("%1$").count() + s.matches("%2$").count()
}

fn check(
    platform: &str,
    tables: Vec<(&str, Vec<(String, String)>)>,
    used_in_code: &dyn Fn(&str) -> bool,
) {
    let needed = code_keys();
    let english: Vec<(String, String)> = tables[0].1.clone();
    let english_keys: BTreeSet<String> = english.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        english_keys.len(),
        english.len(),
        "{platform}: duplicate keys"
    );
    for (lang, table) in &tables {
        let keys: BTreeSet<String> = table.iter().map(|(k, _)| k.clone()).collect();
        let missing: Vec<_> = needed.difference(&keys).collect();
        assert!(missing.is_empty(), "{platform} {lang} lacks {missing:?}");
        assert_eq!(
            keys, english_keys,
            "{platform} {lang}: other keys than English"
        );
        for ((k, v), (_, en)) in table.iter().zip(&english) {
            assert!(!v.trim().is_empty(), "{platform} {lang} {k} is empty");
            assert_eq!(placeholders(v), placeholders(en), "{platform} {lang} {k}");
        }
        if *lang != "en" {
            let same = table
                .iter()
                .zip(&english)
                .filter(|((_, v), (_, e))| v == e)
                .count();
            assert!(
                same * 4 < table.len(),
                "{platform} {lang} looks untranslated ({same} same as English)"
            );
        }
    }
    for key in english_keys.difference(&needed) {
        assert!(
            used_in_code(key),
            "{platform}: {key} is in the strings but nothing shows it"
        );
    }
}

#[test]
fn ios_localizable_strings_cover_every_code_and_every_key_is_used() {
    let tables = LANGUAGES.iter().map(|l| (*l, ios_strings(l))).collect();
    let swift = sources("bindings-swift/Sources/LivenessSDK", "swift");
    check("iOS", tables, &|key| swift.contains(&format!("\"{key}\"")));
}

#[test]
fn android_strings_cover_every_code_and_every_key_is_used() {
    let dirs = [
        "values",
        "values-es",
        "values-fr",
        "values-de",
        "values-in",
        "values-pt",
    ];
    let tables = LANGUAGES
        .iter()
        .zip(dirs)
        .map(|(l, d)| (*l, android_strings(d)))
        .collect();
    let kotlin = sources("bindings-kotlin/src/main/kotlin", "kt");
    check("Android", tables, &|key| {
        kotlin.contains(&format!("R.string.{key}"))
    });
}

#[test]
fn both_platforms_use_the_same_keys() {
    let ios: BTreeSet<String> = ios_strings("en").into_iter().map(|(k, _)| k).collect();
    let android: BTreeSet<String> = android_strings("values")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(ios, android);
}
