//! The device key: an Ed25519 key generated once per install and kept by a host-provided
//! store (Keychain, Android Keystore-wrapped storage; a 0600 file on desktop).

use std::path::PathBuf;
use std::sync::Mutex;

use liveness_protocol::DeviceSigningKey;

use crate::error::SdkError;

/// Where the 32-byte key seed lives.
pub trait KeyStore: Send + Sync {
    fn load(&self) -> Result<Option<[u8; 32]>, SdkError>;
    fn store(&self, seed: &[u8; 32]) -> Result<(), SdkError>;
}

/// The device key from `store`, generated and stored on first use.
pub fn device_key(store: &dyn KeyStore) -> Result<DeviceSigningKey, SdkError> {
    if let Some(seed) = store.load()? {
        return Ok(DeviceSigningKey::from_seed(&seed));
    }
    let key = DeviceSigningKey::generate().map_err(|e| SdkError::KeyStore(e.to_string()))?;
    store.store(&key.seed())?;
    Ok(key)
}

/// Keeps the key in memory only (tests, one-off sessions).
#[derive(Debug, Default)]
pub struct MemoryKeyStore(Mutex<Option<[u8; 32]>>);

impl KeyStore for MemoryKeyStore {
    fn load(&self) -> Result<Option<[u8; 32]>, SdkError> {
        Ok(*self
            .0
            .lock()
            .map_err(|_| SdkError::KeyStore("poisoned".into()))?)
    }

    fn store(&self, seed: &[u8; 32]) -> Result<(), SdkError> {
        *self
            .0
            .lock()
            .map_err(|_| SdkError::KeyStore("poisoned".into()))? = Some(*seed);
        Ok(())
    }
}

/// A file readable by its owner only (desktop). Written to a temporary file first and renamed,
/// so a crash never leaves half a key.
#[derive(Debug, Clone)]
pub struct FileKeyStore {
    path: PathBuf,
}

impl FileKeyStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }
}

fn io(e: std::io::Error) -> SdkError {
    SdkError::KeyStore(e.to_string())
}

impl KeyStore for FileKeyStore {
    fn load(&self) -> Result<Option<[u8; 32]>, SdkError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => bytes.try_into().map(Some).map_err(|_| {
                SdkError::KeyStore(format!("{} is not a 32-byte key", self.path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    fn store(&self, seed: &[u8; 32]) -> Result<(), SdkError> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).map_err(io)?;
        file.write_all(seed).map_err(io)?;
        file.sync_all().map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_kept_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileKeyStore::new(dir.path().join("keys/device.key"));
        let first = device_key(&store).unwrap();
        let again = device_key(&store).unwrap();
        assert_eq!(first.public_key(), again.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/device.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("keys/device.key"), b"short").unwrap();
        assert_eq!(device_key(&store).unwrap_err().code(), "key_store");
        let memory = MemoryKeyStore::default();
        assert_eq!(
            device_key(&memory).unwrap().seed(),
            device_key(&memory).unwrap().seed()
        );
    }
}
