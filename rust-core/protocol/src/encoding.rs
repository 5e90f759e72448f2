//! Byte encodings used on the wire: strict JSON, unpadded base64url, hex SHA-256 digests and
//! the 32-byte session nonce.

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{ProtocolError, Result};

/// Encodes bytes as unpadded base64url (RFC 4648 §5), the only base64 flavour of the protocol.
pub fn b64url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; padding, `+`, `/` and whitespace are rejected.
pub fn b64url_decode(field: &'static str, text: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| ProtocolError::InvalidBase64 { field })
}

/// Decodes unpadded base64url into exactly `N` bytes.
pub fn b64url_decode_array<const N: usize>(field: &'static str, text: &str) -> Result<[u8; N]> {
    let bytes = b64url_decode(field, text)?;
    to_array(field, &bytes)
}

pub(crate) fn to_array<const N: usize>(what: &'static str, bytes: &[u8]) -> Result<[u8; N]> {
    bytes.try_into().map_err(|_| ProtocolError::InvalidLength {
        what,
        expected: N,
        actual: bytes.len(),
    })
}

/// Parses JSON the way every protocol message must be read: bounded in size, with duplicate
/// keys rejected at any depth (serde_json would silently keep the last one, which lets two
/// readers of the same signed bytes disagree), then deserialised into `T`.
pub fn parse_strict_json<T: DeserializeOwned>(
    context: &'static str,
    bytes: &[u8],
    max_len: usize,
) -> Result<T> {
    check_json(context, bytes, max_len)?;
    from_checked_json(context, bytes)
}

/// Deserialises bytes that already passed [`check_json`].
pub(crate) fn from_checked_json<T: DeserializeOwned>(
    context: &'static str,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| ProtocolError::Json {
        context,
        message: e.to_string(),
    })
}

/// The size and duplicate-key checks of [`parse_strict_json`] alone.
pub fn check_json(context: &'static str, bytes: &[u8], max_len: usize) -> Result<()> {
    if bytes.len() > max_len {
        return Err(ProtocolError::TooLarge {
            what: context,
            max: max_len,
            actual: bytes.len(),
        });
    }
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let walked = NoDuplicates(&duplicate)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(key) = duplicate.into_inner() {
        return Err(ProtocolError::DuplicateKey { context, key });
    }
    walked.map_err(|e| ProtocolError::Json {
        context,
        message: e.to_string(),
    })
}

/// Walks a JSON value, failing on the first object that repeats a key (recorded in the cell).
#[derive(Clone, Copy)]
struct NoDuplicates<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for NoDuplicates<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NoDuplicates<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                let message = format!("duplicate key `{key}`");
                *self.0.borrow_mut() = Some(key);
                return Err(de::Error::custom(message));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// A SHA-256 digest, written on the wire as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: impl AsRef<[u8]>) -> Self {
        Self(Sha256::digest(bytes.as_ref()).into())
    }

    /// Parses 64 lowercase hex characters.
    pub fn from_hex(field: &'static str, text: &str) -> Result<Self> {
        let lower = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if text.len() != 64 || !lower {
            return Err(ProtocolError::InvalidDigest { field });
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).map_err(|_| ProtocolError::InvalidDigest { field })?;
        Ok(Self(out))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_hex("sha256", &text).map_err(de::Error::custom)
    }
}

/// The 32-byte random value the server draws per session; it seeds the challenge plan and is
/// echoed in the evidence, so a recording made for one session cannot be replayed to another.
/// On the wire: unpadded base64url.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 32]);

impl Nonce {
    /// A fresh nonce from the operating system's CSPRNG.
    pub fn random() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ProtocolError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    pub fn from_b64url(text: &str) -> Result<Self> {
        b64url_decode_array("nonce", text).map(Self)
    }

    pub fn to_b64url(&self) -> String {
        b64url_encode(self.0)
    }
}

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.to_b64url())
    }
}

impl Serialize for Nonce {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64url())
    }
}

impl<'de> Deserialize<'de> for Nonce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::from_b64url(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Doc {
        a: u32,
        inner: std::collections::HashMap<String, u32>,
    }

    #[test]
    fn duplicate_keys_are_found_at_any_depth() {
        let top = br#"{"a":1,"a":2,"inner":{}}"#;
        let nested = br#"{"a":1,"inner":{"x":1,"x":2}}"#;
        let in_array = br#"[{"k":1},{"k":1,"k":2}]"#;
        for (doc, key) in [(&top[..], "a"), (&nested[..], "x"), (&in_array[..], "k")] {
            let err = check_json("doc", doc, 1024).unwrap_err();
            assert_eq!(
                err,
                ProtocolError::DuplicateKey {
                    context: "doc",
                    key: key.into()
                }
            );
        }
        // The same key in sibling objects is fine.
        let doc: Doc = parse_strict_json("doc", br#"{"a":1,"inner":{"a":1}}"#, 1024).unwrap();
        assert_eq!(doc.inner["a"], 1);
    }

    #[test]
    fn size_limit_trailing_garbage_and_deep_nesting_are_errors() {
        assert!(matches!(
            check_json("doc", b"[1,2,3]", 4),
            Err(ProtocolError::TooLarge { max: 4, .. })
        ));
        assert!(matches!(
            check_json("doc", b"{} {}", 64),
            Err(ProtocolError::Json { .. })
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(
            check_json("doc", deep.as_bytes(), 1 << 20),
            Err(ProtocolError::Json { .. })
        ));
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(b64url_decode("f", "AQID").unwrap(), vec![1, 2, 3]);
        for bad in ["AQID=", "AQ+D", "AQ/D", "AQ ID", "A"] {
            assert_eq!(
                b64url_decode("f", bad),
                Err(ProtocolError::InvalidBase64 { field: "f" }),
                "{bad}"
            );
        }
        assert_eq!(
            b64url_decode_array::<4>("f", "AQID"),
            Err(ProtocolError::InvalidLength {
                what: "f",
                expected: 4,
                actual: 3
            })
        );
    }

    #[test]
    fn digests_are_lowercase_hex_of_exact_length() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256Digest::from_hex("f", &d.to_hex()).unwrap(), d);
        let upper = d.to_hex().to_uppercase();
        for bad in [&upper[..], &d.to_hex()[1..], "zz"] {
            assert!(Sha256Digest::from_hex("f", bad).is_err());
        }
    }
}
