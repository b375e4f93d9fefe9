//! Sealing credentials at rest: AES-256-GCM with a random nonce per sealing, bound to the
//! record the secret belongs to.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::store::Sealed;
use crate::{Error, Result};

const PREFIX: &str = "aes256gcm:v1:";

/// A 256-bit sealing key. Keep it outside the store (a file, an environment variable,
/// a KMS); whoever has the store but not the key sees only ciphertext.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hexadecimal digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let bytes = decode_hex(text.trim()).ok_or_else(|| {
            Error::InvalidRequest("a sealing key is 64 hexadecimal digits".to_owned())
        })?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| {
            Error::InvalidRequest("a sealing key is 64 hexadecimal digits".to_owned())
        })?;
        Ok(Self(array))
    }

    /// A new random key.
    pub fn generate() -> Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Internal(format!("no randomness for a sealing key: {e}")))?;
        Ok(Self(bytes))
    }

    /// The key as 64 hexadecimal digits (to store it somewhere safe).
    pub fn to_hex(&self) -> String {
        encode_hex(&self.0)
    }
}

impl SealingKey {
    /// The key in the file at `path` (hex), or a new one written there (readable by
    /// this user only) when the file does not exist yet. Back the file up with the
    /// database: the sealed credentials open only with it.
    pub fn load_or_create(path: &std::path::Path) -> Result<Self> {
        let io = |what: &str, e: std::io::Error| {
            Error::InvalidRequest(format!("{what} the sealing key {}: {e}", path.display()))
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(text.trim())
                .map_err(|e| Error::InvalidRequest(format!("sealing key {}: {e}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                let key = Self::generate()?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(|e| io("creating", e))?;
                file.write_all(key.to_hex().as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|e| io("writing", e))?;
                tracing::info!(path = %path.display(), "created a new sealing key; back it up with the database");
                Ok(key)
            }
            Err(error) => Err(io("reading", error)),
        }
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

/// Seals and opens secrets with one key.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(AES-256-GCM)")
    }
}

impl Sealer {
    /// A sealer with `key`.
    pub fn new(key: &SealingKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(key.0)),
        }
    }

    /// The sealer of this process's random key, made at the first call: components
    /// built apart (an engine, a package manager, a notification sender) open each
    /// other's secrets, but no other process can, nor this one after a restart. For
    /// stores that do not outlive the process.
    pub fn ephemeral() -> Result<Self> {
        static EPHEMERAL: std::sync::OnceLock<Sealer> = std::sync::OnceLock::new();
        if let Some(sealer) = EPHEMERAL.get() {
            return Ok(sealer.clone());
        }
        let sealer = Self::new(&SealingKey::generate()?);
        Ok(EPHEMERAL.get_or_init(|| sealer).clone())
    }

    /// `given`, or an ephemeral sealer when `store` does not outlive the process; a
    /// persistent store without a sealer is an error naming `component`, since a
    /// random key would lose every sealed credential at the next start.
    pub fn required(
        given: Option<Self>,
        store: &dyn crate::store::Store,
        component: &str,
    ) -> Result<Self> {
        match given {
            Some(sealer) => Ok(sealer),
            None if !store.is_persistent() => Self::ephemeral(),
            None => Err(Error::InvalidRequest(format!(
                "{component} keeps sealed credentials in a persistent store and needs a sealing key: \
                 give one (SealingKey::from_hex, or a key file) that is kept with the database; \
                 a random key would lose every credential at the next start"
            ))),
        }
    }

    /// The sealing context of a subscription's authentication.
    pub fn subscription_context(tenant: &crate::TenantId, subscription_id: &str) -> String {
        format!("{tenant}/subscription/{subscription_id}")
    }

    /// Seals `secret` for the record `context` names (e.g. `tenant/vim/<id>`): the sealed
    /// value opens only with the same key and the same context.
    pub fn seal(&self, context: &str, secret: &[u8]) -> Result<Sealed> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::Internal(format!("no randomness for a nonce: {e}")))?;
        let ciphertext = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("sealing failed".to_owned()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(Sealed(format!("{PREFIX}{}", encode_hex(&sealed))))
    }

    /// Seals a value as JSON.
    pub fn seal_json<T: serde::Serialize>(&self, context: &str, value: &T) -> Result<Sealed> {
        let plain = serde_json::to_vec(value)
            .map_err(|e| Error::Internal(format!("cannot seal {context}: {e}")))?;
        self.seal(context, &plain)
    }

    /// Opens a value sealed with [`Sealer::seal_json`].
    pub fn open_json<T: serde::de::DeserializeOwned>(
        &self,
        context: &str,
        sealed: &Sealed,
    ) -> Result<T> {
        let plain = self.open(context, sealed)?;
        serde_json::from_slice(&plain).map_err(|e| {
            Error::Internal(format!("the sealed value of {context} is unreadable: {e}"))
        })
    }

    /// Opens a sealed value for `context`. Fails when the key or the context differ or
    /// the value was altered.
    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Vec<u8>> {
        let refused = || {
            Error::Internal(format!(
                "the sealed secret of {context} cannot be opened (wrong key, moved or altered)"
            ))
        };
        let hex = sealed.0.strip_prefix(PREFIX).ok_or_else(refused)?;
        let bytes = decode_hex(hex).ok_or_else(refused)?;
        if bytes.len() < 12 + 16 {
            return Err(refused());
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| refused())?;
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| refused())
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_sealers_of_one_process_share_their_key() {
        let sealed = Sealer::ephemeral()
            .expect("key")
            .seal("t1/vim/a", b"s3cret")
            .expect("seal");
        let opened = Sealer::ephemeral()
            .expect("key")
            .open("t1/vim/a", &sealed)
            .expect("open");
        assert_eq!(opened, b"s3cret");
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let key = SealingKey::generate().expect("key");
        let sealer = Sealer::new(&key);
        let sealed = sealer.seal("t1/vim/a", b"s3cret").expect("seal");
        assert!(!sealed.0.contains("s3cret"));
        assert_ne!(
            sealer.seal("t1/vim/a", b"s3cret").expect("seal"),
            sealed,
            "a fresh nonce each time"
        );
        assert_eq!(sealer.open("t1/vim/a", &sealed).expect("open"), b"s3cret");
        assert!(
            sealer.open("t1/vim/b", &sealed).is_err(),
            "bound to its record"
        );
        let other = Sealer::new(&SealingKey::generate().expect("key"));
        assert!(other.open("t1/vim/a", &sealed).is_err(), "bound to its key");
        let mut altered = sealed.0.clone();
        altered.pop();
        altered.push('0');
        assert!(sealer.open("t1/vim/a", &Sealed(altered)).is_err() || sealed.0.ends_with('0'));
        let restored = SealingKey::from_hex(&key.to_hex()).expect("hex");
        assert_eq!(
            Sealer::new(&restored)
                .open("t1/vim/a", &sealed)
                .expect("open"),
            b"s3cret"
        );
        assert!(SealingKey::from_hex("abc").is_err());
    }
}
