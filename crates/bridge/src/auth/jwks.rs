//! The project's public keys (JWKS): fetched over TLS, cached, refetched with bounds, and each
//! key allowed only for its own algorithm.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::claims::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use mt5::clock::Clock;
use serde_json::Value;

pub(super) const MAX_JWKS_BYTES: usize = 256 * 1024;

pub(super) const MAX_JWKS_KEYS: usize = 64;

pub(super) const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A token with an unknown `kid` triggers a refetch at most this often, so a flood of random kids
/// cannot turn into a flood of requests to the key endpoint.
pub(super) const UNKNOWN_KID_REFETCH_INTERVAL_MS: i64 = 30_000;

/// After a failed fetch, wait this long before the next attempt.
pub(super) const FAILED_FETCH_BACKOFF_MS: i64 = 5_000;

/// RSA keys shorter than 2048 bits are refused.
pub(super) const MIN_RSA_MODULUS_BYTES: usize = 256;

/// What `JWT_JWKS_URL` must be, as [`parse_jwks_url`] says it.
pub const JWKS_URL_RULE: &str = "JWT_JWKS_URL must be an https:// URL \
     (plain http:// only to a loopback host: 127.0.0.0/8, ::1 or localhost)";

/// Parses `JWT_JWKS_URL`. The key set decides which tokens are genuine, so it is fetched over TLS:
/// whoever can answer a plain-http fetch (anyone on the path) could hand over their own keys and
/// sign tokens for any user. Plain http is allowed only to a loopback host (tests, a local
/// Supabase), where no network lies between the service and the keys.
pub fn parse_jwks_url(raw: &str) -> Result<reqwest::Url, &'static str> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|_| JWKS_URL_RULE)?;
    // The parser lower-cases domains, writes IPv4 in dotted form (`127.1` is `127.0.0.1`) and
    // IPv6 in brackets. "localhost." is the same name as "localhost", fully qualified.
    let host = url.host_str().unwrap_or_default();
    let loopback = match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(std::net::IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(std::net::IpAddr::V6(ip)) => ip.is_loopback(),
        Err(_) => host == "localhost" || host == "localhost.",
    };
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(JWKS_URL_RULE),
    }
}

/// A URL for display: no credentials, query or fragment.
pub(super) fn redact_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut url) => {
            // Both setters only fail for URLs that cannot have credentials; nothing to hide then.
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "[unparsable]".to_owned(),
    }
}

/// One entry of the key set, by kid.
pub(super) enum JwksKey {
    Usable {
        alg: Algorithm,
        key: DecodingKey,
    },
    /// Present but not usable for a user token (another algorithm, curve or use, a weak or
    /// ambiguous key). A token naming it is refused for its algorithm, not as unknown.
    Unsupported,
}

pub(super) struct KeySet {
    pub(super) keys: HashMap<String, Arc<JwksKey>>,
    pub(super) fetched_at_ms: i64,
}

#[derive(Default)]
pub(super) struct FetchState {
    pub(super) last_attempt_ms: Option<i64>,
    pub(super) last_failed: bool,
}

impl FetchState {
    pub(super) fn elapsed_since_attempt(&self, now_ms: i64) -> Option<i64> {
        self.last_attempt_ms.map(|t| now_ms.saturating_sub(t))
    }
}

/// The JWKS endpoint and its cache. Readers take the read lock only to clone an `Arc`; fetches
/// are serialized by `fetch`, so concurrent misses cause one request.
pub(super) struct Jwks {
    pub(super) url: reqwest::Url,
    pub(super) client: reqwest::Client,
    pub(super) ttl_ms: i64,
    pub(super) keys: RwLock<Option<Arc<KeySet>>>,
    pub(super) fetch: tokio::sync::Mutex<FetchState>,
}

impl Jwks {
    pub(super) fn snapshot(&self) -> Option<Arc<KeySet>> {
        // A poisoned lock still holds a consistent Arc: writers only swap it.
        match self.keys.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(super) fn store(&self, set: Arc<KeySet>) {
        match self.keys.write() {
            Ok(mut guard) => *guard = Some(set),
            Err(poisoned) => *poisoned.into_inner() = Some(set),
        }
    }

    pub(super) fn is_fresh(&self, set: &KeySet, now_ms: i64) -> bool {
        now_ms.saturating_sub(set.fetched_at_ms) < self.ttl_ms
    }

    /// Keys past their TTL are still used while the endpoint cannot be reached, up to one more
    /// TTL: the same 20 minutes of staleness Supabase's own two cache levels allow.
    pub(super) fn lookup_stale(
        &self,
        set: Option<&Arc<KeySet>>,
        kid: &str,
        now_ms: i64,
    ) -> Result<Arc<JwksKey>, AuthError> {
        match set {
            Some(set)
                if now_ms.saturating_sub(set.fetched_at_ms) < self.ttl_ms.saturating_mul(2) =>
            {
                set.keys.get(kid).cloned().ok_or(AuthError::UnknownKeyId)
            }
            _ => Err(AuthError::KeysUnavailable),
        }
    }

    pub(super) async fn key(
        &self,
        kid: &str,
        clock: &dyn Clock,
    ) -> Result<Arc<JwksKey>, AuthError> {
        let now = clock.now_ms();
        if let Some(set) = self.snapshot() {
            if self.is_fresh(&set, now) {
                if let Some(k) = set.keys.get(kid) {
                    return Ok(k.clone());
                }
            }
        }

        let mut state = match self.fetch.try_lock() {
            Ok(state) => state,
            Err(_) => {
                // A fetch is in flight: a key already known, even one past its TTL, need not
                // wait up to the fetch timeout for it.
                if let Ok(k) = self.lookup_stale(self.snapshot().as_ref(), kid, clock.now_ms()) {
                    return Ok(k);
                }
                self.fetch.lock().await
            }
        };
        // Another task may have fetched while this one waited.
        let now = clock.now_ms();
        let current = self.snapshot();
        let fresh = current.as_ref().is_some_and(|s| self.is_fresh(s, now));
        if let Some(set) = current.as_ref().filter(|_| fresh) {
            if let Some(k) = set.keys.get(kid) {
                return Ok(k.clone());
            }
            if state
                .elapsed_since_attempt(now)
                .is_some_and(|e| e < UNKNOWN_KID_REFETCH_INTERVAL_MS)
            {
                return Err(AuthError::UnknownKeyId);
            }
        } else if state.last_failed
            && state
                .elapsed_since_attempt(now)
                .is_some_and(|e| e < FAILED_FETCH_BACKOFF_MS)
        {
            return self.lookup_stale(current.as_ref(), kid, now);
        }

        state.last_attempt_ms = Some(now);
        match self.fetch_keys().await {
            Ok(keys) => {
                state.last_failed = false;
                let set = Arc::new(KeySet {
                    keys,
                    fetched_at_ms: clock.now_ms(),
                });
                self.store(set.clone());
                tracing::debug!(keys = set.keys.len(), "fetched the JWT signing keys");
                set.keys.get(kid).cloned().ok_or(AuthError::UnknownKeyId)
            }
            Err(reason) => {
                state.last_failed = true;
                tracing::warn!(%reason, "cannot fetch the JWT signing keys");
                if fresh {
                    Err(AuthError::UnknownKeyId)
                } else {
                    self.lookup_stale(current.as_ref(), kid, clock.now_ms())
                }
            }
        }
    }

    pub(super) async fn fetch_keys(&self) -> Result<HashMap<String, Arc<JwksKey>>, String> {
        let mut resp = self
            .client
            .get(self.url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("status {}", resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("response too large".to_owned());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err("response too large".to_owned());
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body).map_err(str::to_owned)
    }
}

/// Reads a JWK set. Keys without a kid are ignored (tokens must name their key); a kid listed
/// twice is ambiguous and refused.
pub(super) fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<JwksKey>>, &'static str> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "the key set is not JSON")?;
    let list = value
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the key set has no keys array")?;
    let mut keys = HashMap::new();
    for jwk in list.iter().take(MAX_JWKS_KEYS) {
        let Some(kid) = jwk.get("kid").and_then(Value::as_str) else {
            continue;
        };
        let entry = if keys.contains_key(kid) {
            JwksKey::Unsupported
        } else {
            classify_jwk(jwk)
        };
        keys.insert(kid.to_owned(), Arc::new(entry));
    }
    Ok(keys)
}

/// The algorithm a JWK may verify, from its own `kty`/`crv` (and `alg`, when given, which must
/// agree): ES256 for P-256, RS256 for RSA of 2048 bits or more, nothing else. HMAC (`oct`) keys are
/// never taken from a key set.
pub(super) fn classify_jwk(value: &Value) -> JwksKey {
    let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
        return JwksKey::Unsupported;
    };
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return JwksKey::Unsupported;
    }
    if jwk
        .common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return JwksKey::Unsupported;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::RSA(p) if rsa_modulus_bytes(&p.n) >= MIN_RSA_MODULUS_BYTES => {
            Algorithm::RS256
        }
        _ => return JwksKey::Unsupported,
    };
    match (jwk.common.key_algorithm, alg) {
        (None, _) | (Some(KeyAlgorithm::ES256), Algorithm::ES256) => {}
        (Some(KeyAlgorithm::RS256), Algorithm::RS256) => {}
        _ => return JwksKey::Unsupported,
    }
    match DecodingKey::from_jwk(&jwk) {
        Ok(key) => JwksKey::Usable { alg, key },
        Err(_) => JwksKey::Unsupported,
    }
}

/// Significant bytes of a base64url RSA modulus (0 when it does not decode).
pub(super) fn rsa_modulus_bytes(n: &str) -> usize {
    URL_SAFE_NO_PAD
        .decode(n)
        .map(|b| b.iter().skip_while(|x| **x == 0).count())
        .unwrap_or(0)
}
