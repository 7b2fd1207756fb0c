//! Credential encryption: AES-256-GCM envelopes bound to their row.
//!
//! Each password is encrypted under the current key with a fresh random 96-bit nonce. The
//! associated data names the row (`account id | user id | login | server`), so a ciphertext copied
//! to another row does not decrypt. The stored envelope `v1:{key_id}:{base64url(nonce || ct+tag)}`
//! names its key, so old keys can keep decrypting while [`rotate_all`] re-encrypts under the new one.
//! Keys come from configuration, never from the database; key bytes and plaintext buffers are
//! zeroized, and no error or `Debug` output contains a key, a plaintext or a ciphertext.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::store::{AccountStore, StoreError};

/// What a deleted account's `encrypted_password` becomes; it is not an envelope and never decrypts.
pub const TOMBSTONE: &str = "revoked";

const VERSION: &str = "v1";
const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const MAX_KEY_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// A key id is empty, too long, or has characters other than `A-Z a-z 0-9 _ - .`.
    #[error("invalid credential key id: use 1-64 characters from A-Z, a-z, 0-9, '_', '-', '.'")]
    InvalidKeyId,
    /// Key material that is not base64 of exactly 32 bytes (the value itself is not repeated).
    #[error("invalid credential key {key_id:?}: expected base64 of exactly 32 bytes")]
    InvalidKey { key_id: String },
    /// The old-keys list is not `id:base64,id2:base64` or names a key twice.
    #[error("invalid old credential keys: {0}")]
    InvalidKeyList(String),
    /// The envelope names a key this vault does not hold.
    #[error("credential encrypted under unknown key id {0:?}")]
    UnknownKey(String),
    /// The stored value is not an envelope this version understands.
    #[error("malformed credential envelope")]
    Malformed,
    /// The credential of a deleted account.
    #[error("credential was revoked")]
    Revoked,
    /// Authentication failed: the envelope was altered or belongs to another row.
    #[error("credential does not decrypt for this account (tampered or moved)")]
    Tampered,
    /// The decrypted bytes are not UTF-8 (only possible if something else wrote the envelope).
    #[error("decrypted credential is not valid UTF-8")]
    NotUtf8,
    #[error("credential encryption failed")]
    Encrypt,
}

/// A named 256-bit key. The bytes are zeroized on drop and never shown by `Debug`.
pub struct CredentialKey {
    id: String,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialKey")
            .field("id", &self.id)
            .field("key", &"[redacted]")
            .finish()
    }
}

fn valid_key_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_KEY_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

impl CredentialKey {
    /// A key from base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    pub fn from_base64(id: &str, b64: &str) -> Result<Self, VaultError> {
        if !valid_key_id(id) {
            return Err(VaultError::InvalidKeyId);
        }
        let invalid = || VaultError::InvalidKey {
            key_id: id.to_string(),
        };
        let b64 = b64.trim();
        let mut decoded = Zeroizing::new(Vec::with_capacity(KEY_LEN + 3));
        let ok = [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .any(|engine| {
                decoded.clear();
                engine.decode_vec(b64, &mut decoded).is_ok()
            });
        if !ok || decoded.len() != KEY_LEN {
            return Err(invalid());
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        bytes.copy_from_slice(&decoded);
        Ok(Self {
            id: id.to_string(),
            bytes,
        })
    }

    /// A fresh random key from the operating system's generator.
    ///
    /// The id should satisfy the key-id rules (see [`VaultError::InvalidKeyId`]); one that does not
    /// is still accepted here, but `Vault::encrypt` will refuse to use it.
    pub fn generate(id: &str) -> Self {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self {
            id: id.to_string(),
            bytes,
        }
    }

    /// The key as standard padded base64, for writing it to configuration.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.bytes.as_ref()))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.bytes.as_ref()))
    }
}

/// Parses `CREDENTIALS_OLD_KEYS`: `"id:base64,id2:base64"` (spaces around items ignored; an empty
/// string is no keys).
pub fn parse_old_keys(s: &str) -> Result<Vec<CredentialKey>, VaultError> {
    let mut keys: Vec<CredentialKey> = Vec::new();
    for (n, item) in s.split(',').map(str::trim).enumerate() {
        if item.is_empty() {
            continue;
        }
        let Some((id, b64)) = item.split_once(':') else {
            return Err(VaultError::InvalidKeyList(format!(
                "item {} is not of the form id:base64",
                n + 1
            )));
        };
        let key = CredentialKey::from_base64(id.trim(), b64)?;
        if keys.iter().any(|k| k.id == key.id) {
            return Err(VaultError::InvalidKeyList(format!(
                "key id {:?} appears twice",
                key.id
            )));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// The row a ciphertext belongs to; it is authenticated as associated data.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub login: &'a str,
    pub server: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        // The ids are fixed-width and a login is digits (the API checks it), so the fields cannot
        // shift across the separators.
        format!(
            "mt5cred:v1|{}|{}|{}|{}",
            self.account_id, self.user_id, self.login, self.server
        )
        .into_bytes()
    }
}

/// Encrypts with the current key; decrypts with the current key or any old one, by key id.
pub struct Vault {
    current: CredentialKey,
    old: HashMap<String, CredentialKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut old: Vec<&str> = self.old.keys().map(String::as_str).collect();
        old.sort_unstable();
        f.debug_struct("Vault")
            .field("current_key_id", &self.current.id)
            .field("old_key_ids", &old)
            .finish()
    }
}

impl Vault {
    /// An old key with the current key's id is ignored: the current key wins.
    pub fn new(current: CredentialKey, old: Vec<CredentialKey>) -> Self {
        let old = old
            .into_iter()
            .filter(|k| k.id != current.id)
            .map(|k| (k.id.clone(), k))
            .collect();
        Self { current, old }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current.id
    }

    /// A 256-bit key for another purpose, derived from the current key with HKDF-SHA256 and
    /// `info` (e.g. `mt5b-session-v1` for session tags), so the credential key itself is used for
    /// nothing but encryption and a database dump gives no way to test password guesses.
    pub fn derive_key(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, self.current.bytes.as_ref());
        // 32 bytes is far below HKDF-SHA256's limit of 255 blocks: expand cannot fail here.
        if hk.expand(info, okm.as_mut()).is_err() {
            unreachable!("HKDF output of 32 bytes is always valid");
        }
        okm
    }

    /// A new envelope for `password`, bound to the row `b`, under the current key.
    pub fn encrypt(&self, password: &SecretString, b: &Binding) -> Result<String, VaultError> {
        if !valid_key_id(&self.current.id) {
            return Err(VaultError::InvalidKeyId);
        }
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = b.aad();
        let sealed = self
            .current
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: password.expose_secret().as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| VaultError::Encrypt)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "{VERSION}:{}:{}",
            self.current.id,
            URL_SAFE_NO_PAD.encode(&blob)
        ))
    }

    /// The password in `envelope`, if it was made for the row `b` under a key this vault holds.
    pub fn decrypt(&self, envelope: &str, b: &Binding) -> Result<SecretString, VaultError> {
        if envelope == TOMBSTONE {
            return Err(VaultError::Revoked);
        }
        let (key_id, payload) = split_envelope(envelope).ok_or(VaultError::Malformed)?;
        let key = if key_id == self.current.id {
            &self.current
        } else {
            self.old
                .get(key_id)
                .ok_or_else(|| VaultError::UnknownKey(key_id.to_string()))?
        };
        let blob = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let aad = b.aad();
        let plain = Zeroizing::new(
            key.cipher()
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad,
                    },
                )
                .map_err(|_| VaultError::Tampered)?,
        );
        let text = std::str::from_utf8(&plain).map_err(|_| VaultError::NotUtf8)?;
        // Copies into an exactly sized allocation owned by the secret; `plain` is zeroized on drop.
        Ok(SecretString::from(text))
    }

    /// The key id an envelope names, without decrypting it (`None` for a tombstone or garbage).
    pub fn key_id_of(envelope: &str) -> Option<&str> {
        split_envelope(envelope).map(|(id, _)| id)
    }
}

fn split_envelope(envelope: &str) -> Option<(&str, &str)> {
    let rest = envelope.strip_prefix(VERSION)?.strip_prefix(':')?;
    let (key_id, payload) = rest.split_once(':')?;
    (valid_key_id(key_id) && !payload.is_empty()).then_some((key_id, payload))
}

/// What [`rotate_all`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// Re-encrypted under the current key.
    pub rotated: usize,
    /// Already under the current key.
    pub already_current: usize,
    /// Deleted accounts (inactive or tombstoned), left alone.
    pub skipped_deleted: usize,
    /// Could not be decrypted (unknown key, tampered, malformed) or changed while rotating; a later
    /// run picks up the ones that changed.
    pub failed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// Re-encrypts every active credential under the vault's current key. Each row is replaced only if
/// its ciphertext is still the one that was read, so a concurrent password change wins.
pub async fn rotate_all(
    store: &dyn AccountStore,
    vault: &Vault,
) -> Result<RotationReport, RotationError> {
    let mut report = RotationReport::default();
    for row in store.all_credentials().await? {
        if !row.is_active || row.encrypted_password == TOMBSTONE {
            report.skipped_deleted += 1;
            continue;
        }
        if Vault::key_id_of(&row.encrypted_password) == Some(vault.current_key_id()) {
            report.already_current += 1;
            continue;
        }
        let binding = Binding {
            account_id: row.id,
            user_id: row.user_id,
            login: &row.login,
            server: &row.server,
        };
        let password = match vault.decrypt(&row.encrypted_password, &binding) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(account_id = %row.id, error = %e, "credential not rotated");
                report.failed += 1;
                continue;
            }
        };
        let fresh = vault.encrypt(&password, &binding)?;
        if store
            .replace_ciphertext(row.id, &row.encrypted_password, &fresh)
            .await?
        {
            report.rotated += 1;
        } else {
            tracing::warn!(account_id = %row.id, "credential changed during rotation; not replaced");
            report.failed += 1;
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(a: Uuid, u: Uuid) -> Binding<'static> {
        Binding {
            account_id: a,
            user_id: u,
            login: "5042856355",
            server: "MetaQuotes-Demo",
        }
    }

    #[test]
    fn envelope_has_version_key_id_and_nonce_plus_tag() {
        let vault = Vault::new(CredentialKey::generate("k1"), vec![]);
        let b = binding(Uuid::new_v4(), Uuid::new_v4());
        let env = vault.encrypt(&SecretString::from("abc"), &b).unwrap();
        let parts: Vec<&str> = env.splitn(3, ':').collect();
        assert_eq!(parts[0], "v1");
        assert_eq!(parts[1], "k1");
        let blob = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        assert_eq!(blob.len(), NONCE_LEN + 3 + TAG_LEN);
        assert_eq!(Vault::key_id_of(&env), Some("k1"));
        assert_eq!(Vault::key_id_of(TOMBSTONE), None);
        assert_eq!(Vault::key_id_of("v1::abc"), None);
    }

    #[test]
    fn aad_names_the_row() {
        let a = Uuid::nil();
        let u = Uuid::max();
        assert_eq!(
            String::from_utf8(binding(a, u).aad()).unwrap(),
            format!("mt5cred:v1|{a}|{u}|5042856355|MetaQuotes-Demo")
        );
    }

    #[test]
    fn key_ids_are_restricted() {
        let b64 = STANDARD.encode([7u8; 32]);
        assert!(CredentialKey::from_base64("2025-01.a_b", &b64).is_ok());
        for bad in ["", "a:b", "a b", "ключ", &"x".repeat(65)] {
            assert_eq!(
                CredentialKey::from_base64(bad, &b64).unwrap_err(),
                VaultError::InvalidKeyId
            );
        }
        let vault = Vault::new(CredentialKey::generate("bad:id"), vec![]);
        let b = binding(Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            vault.encrypt(&SecretString::from("x"), &b).unwrap_err(),
            VaultError::InvalidKeyId
        );
    }
}
