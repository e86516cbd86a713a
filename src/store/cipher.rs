//! Encryption at rest: the passphrase, the data key and the value envelope.
//!
//! The data key is a [`StoreCipher`] (XChaCha20-Poly1305 for values, BLAKE3 keyed hashes
//! with one derived key per table for keys). It is generated once, wrapped with the
//! passphrase (PBKDF2-SHA256, 200,000 rounds) and kept in the store's `meta` tree, so the
//! store directory plus the passphrase is all that is needed to read it, and the directory
//! alone reveals nothing but sizes and counts.
//!
//! Values are stored as `[ENVELOPE_V2] ++ postcard(EncryptedValue)` where the plaintext is
//! `postcard(T)`. We do not use `StoreCipher::encrypt_value` (JSON inside JSON, which writes
//! every ciphertext byte as a decimal number: ~3.5× larger and much slower to scan); schema
//! version 1 did, and the v1→v2 migration re-encodes those values.

use hmac::{Hmac, Mac};
use matrix_sdk_store_encryption::{EncryptedValue, StoreCipher};
use serde::{Serialize, de::DeserializeOwned};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::error::StoreError;

/// First byte of every value written by schema 2: distinguishes it from schema-1 values,
/// which are JSON and start with `{`.
pub(crate) const ENVELOPE_V2: u8 = 0x02;

/// The store passphrase. Zeroized on drop, redacted in `Debug`.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; an empty (or all-whitespace) one is [`StoreError::MissingPassphrase`].
    pub fn new(secret: impl Into<String>) -> Result<Self, StoreError> {
        let secret = Zeroizing::new(secret.into());
        if secret.trim().is_empty() {
            return Err(StoreError::MissingPassphrase);
        }
        Ok(Passphrase(secret))
    }

    /// Reads the passphrase from `file` if given, else from the environment variable `env`.
    /// A trailing newline in the file is ignored. Neither set → [`StoreError::MissingPassphrase`].
    pub fn from_file_or_env(file: Option<&std::path::Path>, env: &str) -> Result<Self, StoreError> {
        if let Some(file) = file {
            let mut text = std::fs::read_to_string(file)?;
            let p = Passphrase::new(text.trim_end_matches(['\n', '\r']).to_owned());
            text.zeroize();
            return p;
        }
        match std::env::var(env) {
            Ok(v) => Passphrase::new(v),
            Err(_) => Err(StoreError::MissingPassphrase),
        }
    }

    /// The passphrase itself, for the one place that needs it (re-wrapping the session).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// The unwrapped data key plus the value envelope.
pub(crate) struct Crypt {
    cipher: StoreCipher,
}

impl Crypt {
    pub(crate) fn new_random() -> Result<Self, StoreError> {
        Ok(Crypt {
            cipher: StoreCipher::new().map_err(|e| StoreError::Crypto(e.to_string()))?,
        })
    }

    /// Wraps the data key with the passphrase for storage in `meta`.
    pub(crate) fn export(&self, pass: &Passphrase) -> Result<Vec<u8>, StoreError> {
        // Tests create many stores; the full 200k-round KDF takes seconds in a debug build.
        // The round count is recorded in the export, so import works either way, and
        // production builds can never take the fast path.
        #[cfg(test)]
        let r = self.cipher._insecure_export_fast_for_testing(pass.expose());
        #[cfg(not(test))]
        let r = self.cipher.export(pass.expose());
        r.map_err(|e| StoreError::Crypto(e.to_string()))
    }

    /// Unwraps the data key; any failure of the AEAD means the passphrase is wrong.
    pub(crate) fn import(pass: &Passphrase, wrapped: &[u8]) -> Result<Self, StoreError> {
        match StoreCipher::import(pass.expose(), wrapped) {
            Ok(cipher) => Ok(Crypt { cipher }),
            Err(matrix_sdk_store_encryption::Error::Encryption(_)) => {
                Err(StoreError::WrongPassphrase)
            }
            Err(e) => Err(StoreError::Corrupt {
                table: "meta",
                reason: format!("wrapped key: {e}"),
            }),
        }
    }

    /// Keyed hash of `parts` (length-prefixed, so part boundaries cannot be confused) under
    /// the key derived for `table`. Used for every key that would otherwise contain an
    /// identity: without the data key the hash cannot be recomputed from a list of ids.
    pub(crate) fn hash(&self, table: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut buf = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
        for p in parts {
            buf.extend_from_slice(&(p.len() as u32).to_be_bytes());
            buf.extend_from_slice(p);
        }
        self.cipher.hash_key(table, &buf)
    }

    /// Encrypts a serializable value into the v2 envelope.
    pub(crate) fn seal<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        let plain = postcard::to_allocvec(value).map_err(|e| StoreError::Crypto(e.to_string()))?;
        self.seal_bytes(plain)
    }

    /// Encrypts raw bytes into the v2 envelope (the plaintext buffer is zeroized).
    pub(crate) fn seal_bytes(&self, plain: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let ev = self
            .cipher
            .encrypt_value_data(plain)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        // `(ENVELOPE_V2, ev)` encodes as the version byte followed by `postcard(ev)`: the
        // same bytes as writing both in turn, but postcard pushes onto a `Vec` directly
        // instead of one `io::Write` call per ciphertext byte.
        postcard::to_allocvec(&(ENVELOPE_V2, &ev)).map_err(|e| StoreError::Crypto(e.to_string()))
    }

    /// Decrypts a v2 envelope to raw bytes. `table` only names the table in the error.
    pub(crate) fn open_bytes(
        &self,
        table: &'static str,
        raw: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt { table, reason };
        let body = match raw.split_first() {
            Some((&ENVELOPE_V2, body)) => body,
            Some((b, _)) => return Err(corrupt(format!("unknown envelope version byte {b:#04x}"))),
            None => return Err(corrupt("empty value".into())),
        };
        let ev: EncryptedValue =
            postcard::from_bytes(body).map_err(|e| corrupt(format!("envelope: {e}")))?;
        let plain = self
            .cipher
            .decrypt_value_data(ev)
            .map_err(|e| corrupt(format!("does not decrypt: {e}")))?;
        Ok(Zeroizing::new(plain))
    }

    /// Decrypts and parses a v2 value.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        table: &'static str,
        raw: &[u8],
    ) -> Result<T, StoreError> {
        let plain = self.open_bytes(table, raw)?;
        postcard::from_bytes(&plain).map_err(|e| StoreError::Corrupt {
            table,
            reason: format!("does not parse: {e}"),
        })
    }

    /// Decrypts a schema-1 value (`StoreCipher::encrypt_value`: JSON envelope, JSON plaintext).
    pub(crate) fn open_v1<T: DeserializeOwned>(
        &self,
        table: &'static str,
        raw: &[u8],
    ) -> Result<T, StoreError> {
        self.cipher
            .decrypt_value(raw)
            .map_err(|e| StoreError::Corrupt {
                table,
                reason: format!("schema-1 value: {e}"),
            })
    }

    /// Encrypts a value in the schema-1 format; only the fixture generator writes it.
    #[cfg(test)]
    pub(crate) fn seal_v1<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        self.cipher
            .encrypt_value(value)
            .map_err(|e| StoreError::Crypto(e.to_string()))
    }
}

/// A per-survey pseudonym: HMAC-SHA256 of the Matrix id under the survey's own secret,
/// truncated to 128 bits and hex-encoded. A different survey gives an unrelated pseudonym,
/// and without the secret (inside the encrypted store) it cannot be recomputed.
pub(crate) fn pseudonym(secret: &[u8; 32], user_id: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(user_id.as_bytes());
    let out = mac.finalize().into_bytes();
    hex::encode(&out[..16])
}
