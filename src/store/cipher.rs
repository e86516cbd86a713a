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
//!
//! # The value AEAD, without `StoreCipher`'s copies
//! `StoreCipher::{encrypt,decrypt}_value_data` take and return owned buffers, and postcard
//! decodes `EncryptedValue::ciphertext` (a `Vec<u8>`) one byte at a time: for the small
//! values of the answer store that, not the cipher, was most of a decrypting scan. So
//! [`Crypt`] also holds the value key in its own `XChaCha20Poly1305` (the same crate and
//! version `StoreCipher` uses), seals and opens in place, and reads the envelope as borrowed
//! bytes. Same algorithm, same key, same nonce size, same bytes on disk: `StoreCipher` and
//! [`Crypt`] open each other's values (tested, and checked with a probe value at every open).
//! The key is taken from `StoreCipher` through its public `export_with_key` with a fresh
//! random wrapping key that never leaves this process (see [`value_aead`]).
//!
//! Measured on the dev host: the `poly1305` crate's AVX2 backend spends ~0.5 µs setting up
//! each key and ~1 µs more per value than its portable backend for values under ~1 KB,
//! which is all of ours; the repository's `.cargo/config.toml` therefore builds with
//! `--cfg poly1305_force_soft` (a documented cfg of that crate; same results, see
//! [`POLY1305_PORTABLE`]).

use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use matrix_sdk_store_encryption::StoreCipher;
use rand::RngCore;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::error::StoreError;
use super::records::Persisted;

/// First byte of every value written by schema 2: distinguishes it from schema-1 values,
/// which are JSON and start with `{`.
pub(crate) const ENVELOPE_V2: u8 = 0x02;

/// `EncryptedValue::version` as `StoreCipher` 0.18 writes and accepts it.
const VALUE_VERSION: u8 = 1;
/// Poly1305 tag length, at the end of the ciphertext.
const TAG_LEN: usize = 16;

/// True if this build uses the portable Poly1305 backend (`--cfg poly1305_force_soft`, set
/// in the repository's `.cargo/config.toml`; an explicit `RUSTFLAGS` replaces it). Full
/// scans of small values are about twice as slow without it on the dev host; the results
/// are the same either way.
pub const POLY1305_PORTABLE: bool = cfg!(poly1305_force_soft);

/// `postcard(EncryptedValue)` read and written without copying the ciphertext: the same
/// fields in the same order (a byte slice and a `Vec<u8>` have the same postcard encoding).
#[derive(Serialize, Deserialize)]
struct Envelope<'a> {
    version: u8,
    #[serde(borrow)]
    ciphertext: &'a [u8],
    nonce: [u8; 24],
}

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
    /// Key hashing, and wrapping the data key with the passphrase.
    cipher: StoreCipher,
    /// The value key of `cipher`, for sealing and opening values in place.
    aead: XChaCha20Poly1305,
}

/// Takes the value key out of `cipher` (`StoreCipher` keeps it private): exports the cipher
/// wrapped with a fresh random key, unwraps that export here, and checks the result against
/// a probe value `cipher` itself encrypted. The wrapping key and the unwrapped key bytes
/// are zeroized; the key then lives only in the returned AEAD (zeroized on drop), as it
/// does in `cipher`.
fn value_aead(cipher: &StoreCipher) -> Result<XChaCha20Poly1305, StoreError> {
    // `EncryptedStoreCipher` as `export_with_key` writes it (MessagePack, named fields).
    #[derive(Deserialize)]
    struct Exported {
        #[allow(dead_code)]
        kdf_info: serde::de::IgnoredAny,
        ciphertext_info: Wrapped,
    }
    #[derive(Deserialize)]
    enum Wrapped {
        ChaCha20Poly1305 {
            nonce: [u8; 24],
            ciphertext: Vec<u8>,
        },
    }
    let err =
        |what: &str| StoreError::Crypto(format!("taking the value key from the cipher: {what}"));

    let mut wrap = Zeroizing::new([0u8; 32]);
    rand::thread_rng().fill_bytes(wrap.as_mut());
    let exported = cipher
        .export_with_key(&wrap)
        .map_err(|e| err(&e.to_string()))?;
    let Exported {
        ciphertext_info: Wrapped::ChaCha20Poly1305 { nonce, ciphertext },
        ..
    } = rmp_serde::from_slice(&exported).map_err(|e| err(&e.to_string()))?;
    let keys = Zeroizing::new(
        XChaCha20Poly1305::new(Key::from_slice(wrap.as_ref()))
            .decrypt(XNonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| err("the export does not decrypt"))?,
    );
    // 32 bytes value key, then 32 bytes MAC key seed.
    if keys.len() != 64 {
        return Err(err("unexpected export length"));
    }
    let aead = XChaCha20Poly1305::new(Key::from_slice(&keys[..32]));

    const PROBE: &[u8] = b"pulsebot value key probe";
    let ev = cipher
        .encrypt_value_data(PROBE.to_vec())
        .map_err(|e| err(&e.to_string()))?;
    let raw = postcard::to_allocvec(&(ENVELOPE_V2, &ev)).map_err(|e| err(&e.to_string()))?;
    let mut buf = Vec::new();
    match open_with(&aead, "meta", &raw, &mut buf) {
        Ok(()) if buf == PROBE => Ok(aead),
        _ => Err(err("the probe value does not open")),
    }
}

/// Opens a v2 envelope with `aead` into `buf` (replacing its contents). See
/// [`Crypt::open_into`].
fn open_with(
    aead: &XChaCha20Poly1305,
    table: &'static str,
    raw: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { table, reason };
    let body = match raw.split_first() {
        Some((&ENVELOPE_V2, body)) => body,
        Some((b, _)) => return Err(corrupt(format!("unknown envelope version byte {b:#04x}"))),
        None => return Err(corrupt("empty value".into())),
    };
    let env: Envelope<'_> =
        postcard::from_bytes(body).map_err(|e| corrupt(format!("envelope: {e}")))?;
    if env.version != VALUE_VERSION {
        return Err(corrupt(format!(
            "does not decrypt: unsupported value version {}",
            env.version
        )));
    }
    let Some(split) = env.ciphertext.len().checked_sub(TAG_LEN) else {
        return Err(corrupt(
            "does not decrypt: ciphertext shorter than its tag".into(),
        ));
    };
    let (ct, tag) = env.ciphertext.split_at(split);
    reserve_zeroizing(buf, ct.len());
    buf.clear();
    buf.extend_from_slice(ct);
    // The tag is checked before anything is decrypted: on failure `buf` holds ciphertext.
    aead.decrypt_in_place_detached(
        XNonce::from_slice(&env.nonce),
        b"",
        buf,
        Tag::from_slice(tag),
    )
    .map_err(|_| {
        buf.clear();
        corrupt("does not decrypt: authentication failed".into())
    })
}

/// Makes room for `n` bytes in a plaintext buffer without leaving a copy of its old contents
/// in freed memory (a `Vec` that grows moves them and frees the old allocation as it is).
pub(crate) fn reserve_zeroizing(buf: &mut Vec<u8>, n: usize) {
    if buf.capacity() < n {
        // Zeroizes the whole capacity, then clears.
        buf.zeroize();
        *buf = Vec::with_capacity(n.max(2 * buf.capacity()).max(64));
    }
}

impl Crypt {
    fn from_cipher(cipher: StoreCipher) -> Result<Self, StoreError> {
        let aead = value_aead(&cipher)?;
        Ok(Crypt { cipher, aead })
    }

    pub(crate) fn new_random() -> Result<Self, StoreError> {
        Crypt::from_cipher(StoreCipher::new().map_err(|e| StoreError::Crypto(e.to_string()))?)
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
            Ok(cipher) => Crypt::from_cipher(cipher),
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
        // Encrypted in place: from here on `buf` holds ciphertext (or, on error, plaintext
        // that `Zeroizing` clears).
        let mut buf = Zeroizing::new(plain);
        let mut nonce = [0u8; 24];
        // The same source as `StoreCipher`'s nonces: a CSPRNG seeded from the OS.
        rand::thread_rng().fill_bytes(&mut nonce);
        let tag = self
            .aead
            .encrypt_in_place_detached(XNonce::from_slice(&nonce), b"", &mut buf)
            .map_err(|e| StoreError::Crypto(e.to_string()))?;
        buf.extend_from_slice(&tag);
        let env = Envelope {
            version: VALUE_VERSION,
            ciphertext: &buf,
            nonce,
        };
        // The version byte followed by `postcard(EncryptedValue)`; the ciphertext is copied
        // in one piece (postcard writes a `Vec<u8>` field one byte at a time).
        postcard::to_allocvec(&(ENVELOPE_V2, &env)).map_err(|e| StoreError::Crypto(e.to_string()))
    }

    /// Decrypts a v2 envelope into `buf`, replacing its contents, and without copying the
    /// ciphertext first: the one allocation-free way to open values, for full scans that
    /// reuse one buffer. `table` only names the table in the error. `buf` then holds
    /// plaintext: the caller zeroizes it (see [`reserve_zeroizing`] for how it grows).
    pub(crate) fn open_into(
        &self,
        table: &'static str,
        raw: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        open_with(&self.aead, table, raw, buf)
    }

    /// Decrypts a v2 envelope to raw bytes. `table` only names the table in the error.
    pub(crate) fn open_bytes(
        &self,
        table: &'static str,
        raw: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut plain = Zeroizing::new(Vec::new());
        self.open_into(table, raw, &mut plain)?;
        Ok(plain)
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

    /// Encrypts a value the store keeps, as its persisted record.
    pub(crate) fn seal_model<T: Persisted>(&self, value: &T) -> Result<Vec<u8>, StoreError> {
        self.seal(&value.to_record())
    }

    /// Decrypts a value the store keeps from its persisted record.
    pub(crate) fn open_model<T: Persisted>(
        &self,
        table: &'static str,
        raw: &[u8],
    ) -> Result<T, StoreError> {
        Ok(T::from_record(self.open(table, raw)?))
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

#[cfg(test)]
mod tests {
    use matrix_sdk_store_encryption::EncryptedValue;

    use super::*;

    fn body(raw: &[u8]) -> EncryptedValue {
        assert_eq!(raw[0], ENVELOPE_V2);
        postcard::from_bytes(&raw[1..]).expect("an EncryptedValue")
    }

    #[test]
    fn store_cipher_and_crypt_open_each_others_values() {
        let c = Crypt::new_random().expect("key");
        for plain in [&b""[..], b"x", "Grüße aus Köln".as_bytes(), &[7u8; 1500]] {
            // Ours, opened by StoreCipher.
            let raw = c.seal_bytes(plain.to_vec()).expect("seal");
            let opened = c
                .cipher
                .decrypt_value_data(body(&raw))
                .expect("StoreCipher opens");
            assert_eq!(opened, plain);
            // StoreCipher's, opened by us.
            let ev = c
                .cipher
                .encrypt_value_data(plain.to_vec())
                .expect("encrypt");
            let raw = postcard::to_allocvec(&(ENVELOPE_V2, &ev)).expect("encode");
            assert_eq!(&c.open_bytes("t", &raw).expect("we open")[..], plain);
        }
    }

    #[test]
    fn envelope_is_byte_for_byte_postcard_of_encrypted_value() {
        let c = Crypt::new_random().expect("key");
        let raw = c.seal_bytes(vec![1u8; 300]).expect("seal");
        let again = postcard::to_allocvec(&(ENVELOPE_V2, &body(&raw))).expect("encode");
        assert_eq!(raw, again);
    }

    #[test]
    fn imported_key_opens_values_of_the_exporting_store() {
        let pass = Passphrase::new("pw").expect("pass");
        let a = Crypt::new_random().expect("key");
        let raw = a.seal_bytes(b"answer".to_vec()).expect("seal");
        let b = Crypt::import(&pass, &a.export(&pass).expect("export")).expect("import");
        assert_eq!(&b.open_bytes("t", &raw).expect("open")[..], b"answer");
        let other = Crypt::new_random().expect("key");
        assert!(matches!(
            other.open_bytes("t", &raw),
            Err(StoreError::Corrupt { table: "t", .. })
        ));
    }

    #[test]
    fn damaged_envelopes_are_corrupt_not_panics() {
        let c = Crypt::new_random().expect("key");
        let raw = c.seal_bytes(b"answer".to_vec()).expect("seal");
        let mut flipped = raw.clone();
        *flipped.last_mut().expect("nonempty") ^= 1;
        let mut wrong_version = raw.clone();
        wrong_version[1] = 2;
        // Version, length 3 (shorter than a tag), 3 bytes, nonce.
        let mut short = vec![ENVELOPE_V2, VALUE_VERSION, 3, 0, 0, 0];
        short.extend_from_slice(&[0; 24]);
        for bad in [
            flipped,
            wrong_version,
            short,
            raw[..raw.len() - 1].to_vec(),
            vec![],
            vec![b'{'],
        ] {
            let mut buf = vec![9u8; 4];
            assert!(matches!(
                c.open_into("t", &bad, &mut buf),
                Err(StoreError::Corrupt { table: "t", .. })
            ));
            assert!(buf.iter().all(|&b| b == 9) || buf.is_empty());
        }
    }

    #[test]
    fn one_buffer_serves_values_of_any_size() {
        let c = Crypt::new_random().expect("key");
        let mut buf = Vec::new();
        for n in [0usize, 700, 3, 5000, 64, 0, 1] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let raw = c.seal_bytes(plain.clone()).expect("seal");
            c.open_into("t", &raw, &mut buf).expect("open");
            assert_eq!(buf, plain);
        }
    }
}
