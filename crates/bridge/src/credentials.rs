//! Which credential a terminal session serves, and credentials MT5 has refused.
//!
//! A terminal logged in to a login and server serves a row only when that row's own stored
//! password is the one the session logged in with. The pool therefore knows an account as a
//! [`Session`]: the login and server plus a *session tag*, HMAC-SHA256 over `login|server|password`
//! under a key derived from `CREDENTIALS_KEY` (HKDF-SHA256, info `mt5b-session-v1`). The tag is
//! never stored (a database dump gives no way to test password guesses against it), logged or
//! counted in metrics. A row's tag is computed by decrypting its ciphertext once per process and
//! kept in memory, keyed by the row id and the SHA-256 of its envelope, so a changed ciphertext
//! (a new password, or a row rewritten through the Data API) is looked at afresh. Two rows with
//! the same valid password share one session; a forged, stale or read-only (investor) password
//! gets a session of its own, logged in with its own password, or none.
//!
//! A ciphertext that does not open under its row binding, or a password MT5 refused, makes the
//! row answer `409 account_credentials_invalid` (audited once as `credentials_invalid`). After a
//! refusal no login is tried with that envelope again (remembered by row id and envelope hash,
//! in Redis when configured), so retries cannot lock the owner's broker account; setting the
//! password again through the API writes a new envelope, which is tried.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use mt5::{AccountKey, Session, SessionTag};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{ApiError, ApiResult, CredentialProblem};
use crate::store::audit::AUDIT_CREDENTIALS_INVALID;
use crate::store::{AccountRow, Store, UserCtx};
use crate::unavailable::Unavailable;
use crate::vault::{Binding, Vault, VaultError};

/// HKDF `info` of the session-tag key.
pub const SESSION_TAG_INFO: &[u8] = b"mt5b-session-v1";
/// Rows whose tag (or undecryptability) this process remembers; the oldest go first past it.
const CACHE_MAX: usize = 65_536;

type HmacSha256 = Hmac<Sha256>;

/// SHA-256 of a stored envelope: identifies one ciphertext without holding it.
pub fn envelope_hash(envelope: &str) -> [u8; 32] {
    Sha256::digest(envelope.as_bytes()).into()
}

/// Credentials MT5 refused, by `<row id>:<envelope hash>`: in memory, or in Redis for replicas.
#[async_trait]
pub trait RefusedStore: Send + Sync + 'static {
    async fn get(&self, id: &str) -> Result<Option<CredentialProblem>, Unavailable>;
    async fn put(&self, id: &str, problem: &CredentialProblem) -> Result<(), Unavailable>;
}

/// A bounded FIFO map: the oldest entry leaves when a new one would pass `max`.
struct Bounded<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    max: usize,
}

impl<V> Bounded<V> {
    fn new(max: usize) -> Self {
        Bounded {
            map: HashMap::new(),
            order: VecDeque::new(),
            max,
        }
    }

    fn get(&self, k: &str) -> Option<&V> {
        self.map.get(k)
    }

    fn insert(&mut self, k: String, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
            while self.order.len() > self.max {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
        }
    }
}

/// Refusals kept in this process (bounded).
pub struct MemoryRefused {
    map: Mutex<Bounded<CredentialProblem>>,
}

impl Default for MemoryRefused {
    fn default() -> Self {
        MemoryRefused {
            map: Mutex::new(Bounded::new(CACHE_MAX)),
        }
    }
}

#[async_trait]
impl RefusedStore for MemoryRefused {
    async fn get(&self, id: &str) -> Result<Option<CredentialProblem>, Unavailable> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        Ok(map.get(id).cloned())
    }

    async fn put(&self, id: &str, problem: &CredentialProblem) -> Result<(), Unavailable> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(id.to_string(), problem.clone());
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Cached {
    Tag(SessionTag),
    Undecryptable,
}

/// Session tags, decryption and refusals of stored credentials. See the module documentation.
pub struct Credentials {
    vault: Arc<Vault>,
    mac_key: Zeroizing<[u8; 32]>,
    cache: Mutex<Bounded<Cached>>,
    refused: Arc<dyn RefusedStore>,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").finish_non_exhaustive()
    }
}

/// The cache and refusal key of a row's current envelope.
fn row_key(row: &AccountRow) -> String {
    use std::fmt::Write;
    // On every terminal operation: one buffer, no allocation per byte.
    let h = envelope_hash(&row.encrypted_password);
    let mut s = String::with_capacity(36 + 1 + 32);
    let _ = write!(s, "{}:", row.id);
    for b in &h[..16] {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// HMAC-SHA256 over `login|server|password` under `key`.
fn tag_with(key: &[u8; 32], account: &AccountKey, password: &SecretString) -> SessionTag {
    // `new_from_slice` takes any key length; 32 bytes cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts a 32-byte key"),
    };
    mac.update(account.login.to_string().as_bytes());
    mac.update(b"|");
    mac.update(account.server.as_bytes());
    mac.update(b"|");
    mac.update(password.expose_secret().as_bytes());
    SessionTag::from_bytes(mac.finalize().into_bytes().into())
}

/// The session `password` opens for `account` under the vault's session-tag key, for callers
/// without a [`Credentials`] (the legacy import).
pub fn session_with(vault: &Vault, account: &AccountKey, password: &SecretString) -> Session {
    let key = vault.derive_key(SESSION_TAG_INFO);
    Session::new(account.clone(), tag_with(&key, account, password))
}

/// The login and server a row names; a login that is not a number cannot be an MT5 account.
pub fn account_key(row: &AccountRow) -> ApiResult<AccountKey> {
    let login =
        row.login.trim().parse::<u64>().map_err(|_| {
            ApiError::validation("login", "the stored login is not a positive integer")
        })?;
    Ok(AccountKey::new(login, row.server.clone()))
}

impl Credentials {
    pub fn new(vault: Arc<Vault>, refused: Arc<dyn RefusedStore>, store: Arc<dyn Store>) -> Self {
        Credentials {
            mac_key: vault.derive_key(SESSION_TAG_INFO),
            vault,
            cache: Mutex::new(Bounded::new(CACHE_MAX)),
            refused,
            store,
        }
    }

    /// The tag of a session logged in to `account` with `password`.
    pub fn tag(&self, account: &AccountKey, password: &SecretString) -> SessionTag {
        tag_with(&self.mac_key, account, password)
    }

    /// The session `password` opens for `account` (to verify new credentials).
    pub fn session_for(&self, account: &AccountKey, password: &SecretString) -> Session {
        Session::new(account.clone(), self.tag(account, password))
    }

    /// The row's password: decrypted only to log a terminal in or to compute its session tag.
    pub fn password(&self, row: &AccountRow) -> ApiResult<SecretString> {
        self.vault
            .decrypt(
                &row.encrypted_password,
                &Binding {
                    account_id: row.id,
                    user_id: row.user_id,
                    login: &row.login,
                    server: &row.server,
                },
            )
            .map_err(|e| decrypt_error(row, e))
    }

    /// The session the row's own credential opens. A ciphertext that does not open for the row
    /// is `account_credentials_invalid` (audited the first time this process sees it).
    pub async fn session(&self, row: &AccountRow) -> ApiResult<Session> {
        let account = account_key(row)?;
        let key = row_key(row);
        let cached = self.lock().get(&key).copied();
        let tag = match cached {
            Some(Cached::Tag(tag)) => tag,
            Some(Cached::Undecryptable) => {
                return Err(ApiError::AccountCredentialsInvalid(
                    CredentialProblem::Undecryptable,
                ))
            }
            None => match self.password(row) {
                Ok(pw) => {
                    let tag = self.tag(&account, &pw);
                    self.lock().insert(key, Cached::Tag(tag));
                    tag
                }
                Err(ApiError::AccountCredentialsInvalid(problem)) => {
                    self.lock().insert(key, Cached::Undecryptable);
                    self.audit(row, &problem).await;
                    return Err(ApiError::AccountCredentialsInvalid(problem));
                }
                Err(e) => return Err(e),
            },
        };
        Ok(Session::new(account, tag))
    }

    /// Why the row's current credential cannot serve, if MT5 refused it before.
    pub async fn refusal(&self, row: &AccountRow) -> ApiResult<Option<CredentialProblem>> {
        Ok(self.refused.get(&row_key(row)).await?)
    }

    /// Remembers that MT5 refused the row's current credential, and audits it.
    pub async fn refuse(&self, row: &AccountRow, code: i32, message: String) -> CredentialProblem {
        let problem = CredentialProblem::RefusedByMt5 { code, message };
        if let Err(e) = self.refused.put(&row_key(row), &problem).await {
            // The 409 still answers this request; the next one may try MT5 once more.
            tracing::warn!(account = %row.id, error = %e, "credential refusal not remembered");
        }
        self.audit(row, &problem).await;
        problem
    }

    async fn audit(&self, row: &AccountRow, problem: &CredentialProblem) {
        let ctx = UserCtx::service_for(row.user_id);
        let mut details = json!({ "login": row.login, "server": row.server });
        if let (Some(map), Ok(serde_json::Value::Object(p))) =
            (details.as_object_mut(), serde_json::to_value(problem))
        {
            map.extend(p);
        }
        if let Err(e) = self
            .store
            .record(Some(&ctx), Some(row.id), AUDIT_CREDENTIALS_INVALID, details)
            .await
        {
            tracing::error!(account = %row.id, error = %e, "audit entry not written");
        }
        tracing::warn!(account = %row.id, "stored credential cannot be used");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bounded<Cached>> {
        // A poisoned cache only means a panic elsewhere mid-insert; entries are still valid.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn decrypt_error(row: &AccountRow, e: VaultError) -> ApiError {
    match e {
        VaultError::Tampered
        | VaultError::Malformed
        | VaultError::Revoked
        | VaultError::NotUtf8 => {
            ApiError::AccountCredentialsInvalid(CredentialProblem::Undecryptable)
        }
        // A key the service does not hold is the operator's fault, not the user's.
        other => ApiError::Internal(format!(
            "credential of account {} cannot be decrypted: {other}",
            row.id
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_forgets_the_oldest() {
        let mut b = Bounded::new(2);
        b.insert("a".into(), 1);
        b.insert("b".into(), 2);
        b.insert("a".into(), 3);
        b.insert("c".into(), 4);
        assert_eq!(b.get("a"), None);
        assert_eq!(b.get("b"), Some(&2));
        assert_eq!(b.get("c"), Some(&4));
        assert_eq!(b.map.len(), 2);
    }

    #[test]
    fn envelope_hash_is_sha256() {
        let h = envelope_hash("abc");
        assert_eq!(
            h[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(\"abc\") starts ba7816bf"
        );
    }
}
