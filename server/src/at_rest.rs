//! Encryption at rest of every stored image (evidence frames and the photo): AES-256-GCM
//! under a key from the operator's key ring, the key's id stored beside each row so a key
//! can be rotated without a flag day.
//!
//! # Key ring
//! One key per line, `kid:base64` (32 random bytes, standard base64), `#` starts a comment;
//! the **first** key seals new rows, every listed key opens old ones. Rotating is: put a new
//! line on top (`liveness-server admin data-keys new`), restart, run
//! `liveness-server admin data-keys rotate` to re-seal old rows under it, then drop the old
//! line. The ring comes from `--data-key-file` or `LIVENESS_DATA_KEYS`; the server binary
//! will not start without one.
//!
//! Each ciphertext is bound to its place (`session id`, frame index) as associated data, so
//! a row copied onto another session or index does not open.

use std::collections::HashMap;
use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const NONCE_BYTES: usize = 12;
const AAD_DOMAIN: &str = "liveness-evidence-v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyRingError {
    #[error("data key ring line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("the data key ring is empty (make a key with `liveness-server admin data-keys new`)")]
    Empty,
    #[error("data key id {0:?} is listed twice")]
    Duplicate(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenError {
    #[error("stored image sealed with data key {0:?}, which is not in the key ring")]
    UnknownKey(String),
    #[error("stored image does not open (wrong key, or the row was altered or moved)")]
    Corrupt,
}

/// The operator's data keys. `Debug` never shows key material.
#[derive(Clone)]
pub struct KeyRing {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("ids", &ids)
            .finish()
    }
}

/// A fresh key ring line (`kid:base64`), what `admin data-keys new` prints.
pub fn new_key_line() -> Result<String, getrandom::Error> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)?;
    let mut id = [0u8; 6];
    getrandom::fill(&mut id)?;
    Ok(format!("dk_{}:{}", hex::encode(id), STANDARD.encode(key)))
}

impl KeyRing {
    pub fn parse(text: &str) -> Result<Self, KeyRingError> {
        let mut current = None;
        let mut keys = HashMap::new();
        for (n, raw) in text.split(['\n', ',']).enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let bad = |reason: &str| KeyRingError::Malformed {
                line: n + 1,
                reason: reason.to_owned(),
            };
            let (kid, b64) = line
                .split_once(':')
                .ok_or_else(|| bad("expected kid:base64"))?;
            let kid = kid.trim();
            let valid_id = !kid.is_empty()
                && kid.len() <= 64
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !valid_id {
                return Err(bad("a key id is 1..=64 of [A-Za-z0-9_-]"));
            }
            let key = STANDARD
                .decode(b64.trim())
                .map_err(|_| bad("the key is not standard base64"))?;
            if key.len() != 32 {
                return Err(bad("a key is 32 bytes"));
            }
            let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| bad("a key is 32 bytes"))?;
            if keys.insert(kid.to_owned(), cipher).is_some() {
                return Err(KeyRingError::Duplicate(kid.to_owned()));
            }
            current.get_or_insert_with(|| kid.to_owned());
        }
        Ok(Self {
            current: current.ok_or(KeyRingError::Empty)?,
            keys,
        })
    }

    /// A one-key ring that lives as long as the process: for tests and in-process tools
    /// (evaluation, the demo) whose database dies with them. Never for a server whose
    /// database outlives it — its images would no longer open after a restart.
    pub fn ephemeral() -> Self {
        let line = new_key_line().unwrap_or_else(|_| {
            // No OS randomness at all: nothing else in the server would work either, and a
            // fixed key would be worse than failing later on the first token.
            String::new()
        });
        Self::parse(&line).unwrap_or_else(|_| Self {
            current: String::new(),
            keys: HashMap::new(),
        })
    }

    /// The key id new rows are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Seals one image stored at (`session_id`, `idx`): `nonce ‖ ciphertext ‖ tag`, and the
    /// id of the key used.
    pub fn seal(
        &self,
        session_id: &str,
        idx: i64,
        plain: &[u8],
    ) -> Result<(String, Vec<u8>), OpenError> {
        let cipher = self
            .keys
            .get(&self.current)
            .ok_or_else(|| OpenError::UnknownKey(self.current.clone()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|_| OpenError::Corrupt)?;
        let aad = aad(session_id, idx);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Corrupt)?;
        let mut out = Vec::with_capacity(NONCE_BYTES + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok((self.current.clone(), out))
    }

    /// Opens a row sealed by [`seal`](Self::seal) at the same place. `kid = None` is a row
    /// stored before encryption at rest existed: returned as it is (and re-sealed by
    /// `admin data-keys rotate`).
    pub fn open(
        &self,
        session_id: &str,
        idx: i64,
        kid: Option<&str>,
        stored: &[u8],
    ) -> Result<Vec<u8>, OpenError> {
        let Some(kid) = kid else {
            return Ok(stored.to_vec());
        };
        let cipher = self
            .keys
            .get(kid)
            .ok_or_else(|| OpenError::UnknownKey(kid.to_owned()))?;
        if stored.len() < NONCE_BYTES + 16 {
            return Err(OpenError::Corrupt);
        }
        let (nonce, sealed) = stored.split_at(NONCE_BYTES);
        let aad = aad(session_id, idx);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Corrupt)
    }
}

fn aad(session_id: &str, idx: i64) -> String {
    format!("{AAD_DOMAIN}|{session_id}|{idx}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(lines: &[&str]) -> KeyRing {
        KeyRing::parse(&lines.join("\n")).unwrap()
    }

    #[test]
    fn seals_with_the_first_key_and_opens_with_any() {
        let a = new_key_line().unwrap();
        let b = new_key_line().unwrap();
        let old = ring(&[&a]);
        let (kid, sealed) = old.seal("ses_1", 3, b"jpeg bytes").unwrap();
        assert_eq!(kid, old.current_id());
        assert_ne!(&sealed[NONCE_BYTES..], b"jpeg bytes");
        let rotated = ring(&[&b, &a]);
        assert_ne!(rotated.current_id(), kid);
        assert_eq!(
            rotated.open("ses_1", 3, Some(&kid), &sealed).unwrap(),
            b"jpeg bytes"
        );
        let without_old = ring(&[&b]);
        assert_eq!(
            without_old.open("ses_1", 3, Some(&kid), &sealed),
            Err(OpenError::UnknownKey(kid.clone()))
        );
    }

    #[test]
    fn a_moved_or_altered_row_does_not_open() {
        let keys = ring(&[&new_key_line().unwrap()]);
        let (kid, mut sealed) = keys.seal("ses_1", 0, b"photo").unwrap();
        assert_eq!(
            keys.open("ses_2", 0, Some(&kid), &sealed),
            Err(OpenError::Corrupt)
        );
        assert_eq!(
            keys.open("ses_1", 1, Some(&kid), &sealed),
            Err(OpenError::Corrupt)
        );
        sealed[NONCE_BYTES] ^= 1;
        assert_eq!(
            keys.open("ses_1", 0, Some(&kid), &sealed),
            Err(OpenError::Corrupt)
        );
        assert_eq!(
            keys.open("ses_1", 0, Some(&kid), &[1, 2, 3]),
            Err(OpenError::Corrupt)
        );
    }

    #[test]
    fn malformed_rings_are_refused_with_their_line() {
        assert!(matches!(
            KeyRing::parse("# nothing\n\n"),
            Err(KeyRingError::Empty)
        ));
        assert!(matches!(
            KeyRing::parse("dk_a:c2hvcnQ="),
            Err(KeyRingError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            KeyRing::parse("\nno-colon"),
            Err(KeyRingError::Malformed { line: 2, .. })
        ));
        let line = new_key_line().unwrap();
        assert!(matches!(
            KeyRing::parse(&format!("{line}\n{line}")),
            Err(KeyRingError::Duplicate(_))
        ));
        assert!(!format!("{:?}", ring(&[&line])).contains(line.split(':').nth(1).unwrap()));
    }
}
