//! Verification of Supabase-style access tokens (JWT), and minting of local ones.
//!
//! A token is accepted when its signature checks out under a key the configuration allows and its
//! claims describe a signed-in user of this audience. Two kinds of key are allowed: the shared
//! HS256 secret (Supabase's legacy JWT secret, or the one the embedded mode generates), and the
//! project's ES256/RS256 public keys, fetched from its JWKS endpoint and cached. The header's `alg`
//! only selects a code path: it must equal the algorithm of the key it names, so a public key can
//! never be used as an HMAC secret. Every failure is an [`AuthError`]; the HTTP layer answers all
//! of them with 401.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use mt5::clock::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use uuid::Uuid;

/// The audience GoTrue puts in user tokens (`GOTRUE_JWT_AUD`).
pub const DEFAULT_AUDIENCE: &str = "authenticated";
/// How long fetched signing keys are trusted without asking again (Supabase's own client TTL).
pub const DEFAULT_JWKS_CACHE_TTL: Duration = Duration::from_secs(600);
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_S: u64 = 30;
/// GoTrue refuses shorter JWT secrets; so do we.
pub const MIN_SECRET_LEN: usize = 32;

/// The only role a user token may carry; `anon` and `service_role` are API keys, not users.
const USER_ROLE: &str = "authenticated";
const MAX_LEEWAY_S: u64 = 300;
/// Far above any real access token, even with large user metadata; bounds the work per request.
const MAX_TOKEN_LEN: usize = 16 * 1024;
const MAX_JWKS_BYTES: usize = 256 * 1024;
const MAX_JWKS_KEYS: usize = 64;
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A token with an unknown `kid` triggers a refetch at most this often, so a flood of random kids
/// cannot turn into a flood of requests to the key endpoint.
const UNKNOWN_KID_REFETCH_INTERVAL_MS: i64 = 30_000;
/// After a failed fetch, wait this long before the next attempt.
const FAILED_FETCH_BACKOFF_MS: i64 = 5_000;
/// RSA keys shorter than 2048 bits are refused.
const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Where tokens come from and what they must say.
#[derive(Clone)]
pub struct AuthConfig {
    /// `JWT_SECRET`: the HS256 secret, used as the raw bytes of the string as Supabase shows it.
    pub hs256_secret: Option<SecretString>,
    /// `JWT_JWKS_URL`: the JWKS endpoint holding the project's ES256/RS256 public keys.
    pub jwks_url: Option<String>,
    /// `JWT_AUDIENCE`: the `aud` a token must carry.
    pub audience: String,
    /// `JWT_ISSUER`: the `iss` a token must carry; not checked when unset, since self-hosted
    /// Supabase does not set one.
    pub issuer: Option<String>,
    pub jwks_cache_ttl: Duration,
    pub leeway_s: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hs256_secret: None,
            jwks_url: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            issuer: None,
            jwks_cache_ttl: DEFAULT_JWKS_CACHE_TTL,
            leeway_s: DEFAULT_LEEWAY_S,
        }
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "hs256_secret",
                &self.hs256_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("jwks_url", &self.jwks_url.as_deref().map(redact_url))
            .field("audience", &self.audience)
            .field("issuer", &self.issuer)
            .field("jwks_cache_ttl", &self.jwks_cache_ttl)
            .field("leeway_s", &self.leeway_s)
            .finish()
    }
}

/// Settings that cannot work, every one of them, each naming what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid authentication settings: {}", .problems.join("; "))]
pub struct AuthConfigError {
    pub problems: Vec<String>,
}

/// Why a token was refused. The message names the reason and never echoes the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token was given")]
    Missing,
    #[error("the token is not a well-formed access token")]
    Malformed,
    #[error("the token has expired or is not valid yet")]
    Expired,
    #[error("the token is meant for another audience")]
    BadAudience,
    #[error("the token comes from an unexpected issuer")]
    BadIssuer,
    #[error("the token's role is not allowed")]
    BadRole,
    #[error("the token's subject is not a user id")]
    BadSubject,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token's signing algorithm is not allowed")]
    AlgorithmNotAllowed,
    #[error("the token's signing key is unknown")]
    UnknownKeyId,
    #[error("the signing keys are unavailable")]
    KeysUnavailable,
    /// Only from [`mint_token`]: the inputs cannot make a usable token.
    #[error("cannot mint a token: {0}")]
    Misconfigured(&'static str),
}

impl AuthError {
    /// A stable snake_case name of the reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Expired => "expired",
            AuthError::BadAudience => "bad_audience",
            AuthError::BadIssuer => "bad_issuer",
            AuthError::BadRole => "bad_role",
            AuthError::BadSubject => "bad_subject",
            AuthError::BadSignature => "bad_signature",
            AuthError::AlgorithmNotAllowed => "algorithm_not_allowed",
            AuthError::UnknownKeyId => "unknown_key_id",
            AuthError::KeysUnavailable => "keys_unavailable",
            AuthError::Misconfigured(_) => "misconfigured",
        }
    }
}

/// The verified identity a token carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    pub sub: Uuid,
    pub role: String,
    /// `None` when the token has no email or an empty one (GoTrue writes "" for none).
    pub email: Option<String>,
    pub session_id: Option<String>,
    /// Anonymous users also get role `authenticated`; callers decide where they are welcome.
    pub is_anonymous: bool,
    pub aal: Option<String>,
    pub exp: i64,
    /// Every verified claim, as Postgres policies read them from `request.jwt.claims`.
    pub raw: Value,
}

impl Claims {
    /// Whether the session passed multi-factor authentication: `aal` is `aal2`. A token without
    /// `aal` did not.
    pub fn is_aal2(&self) -> bool {
        self.aal.as_deref() == Some(Aal::Aal2.as_str())
    }
}

/// Verifies access tokens. Cheap to clone; clones share the key cache.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    /// The HS256 secret as a verification key (zeroized on drop).
    hs256: Option<DecodingKey>,
    jwks: Option<Jwks>,
    audience: String,
    issuer: Option<String>,
    leeway_s: i64,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Authenticator")
            .field("hs256_secret", &i.hs256.as_ref().map(|_| "[redacted]"))
            .field(
                "jwks_url",
                &i.jwks.as_ref().map(|j| redact_url(j.url.as_str())),
            )
            .field("audience", &i.audience)
            .field("issuer", &i.issuer)
            .field("leeway_s", &i.leeway_s)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Checks the settings (at least one of the secret and the JWKS URL) and builds the verifier.
    pub fn new(cfg: AuthConfig) -> Result<Self, AuthConfigError> {
        Self::with_clock(cfg, Arc::new(SystemClock))
    }

    /// As [`Authenticator::new`], with the clock that decides expiry and key-cache age.
    pub fn with_clock(cfg: AuthConfig, clock: Arc<dyn Clock>) -> Result<Self, AuthConfigError> {
        let mut problems = Vec::new();
        if cfg.hs256_secret.is_none() && cfg.jwks_url.is_none() {
            problems.push("set JWT_SECRET or JWT_JWKS_URL (or both)".to_owned());
        }
        let hs256 = match &cfg.hs256_secret {
            Some(s) if s.expose_secret().len() < MIN_SECRET_LEN => {
                problems.push(format!(
                    "JWT_SECRET must be at least {MIN_SECRET_LEN} bytes"
                ));
                None
            }
            Some(s) => Some(DecodingKey::from_secret(s.expose_secret().as_bytes())),
            None => None,
        };
        let jwks_url = match cfg.jwks_url.as_deref().map(parse_jwks_url) {
            None => None,
            Some(Ok(url)) => Some(url),
            Some(Err(problem)) => {
                problems.push(problem.to_owned());
                None
            }
        };
        if cfg.audience.trim().is_empty() {
            problems.push("JWT_AUDIENCE must not be empty".to_owned());
        }
        if cfg.issuer.as_deref().is_some_and(|i| i.trim().is_empty()) {
            problems.push("JWT_ISSUER must not be empty when set".to_owned());
        }
        if cfg.leeway_s > MAX_LEEWAY_S {
            problems.push(format!("the JWT leeway must be at most {MAX_LEEWAY_S} s"));
        }
        let jwks = match jwks_url {
            Some(url) => match reqwest::Client::builder()
                .timeout(JWKS_FETCH_TIMEOUT)
                .connect_timeout(JWKS_FETCH_TIMEOUT)
                // The URL is the key source; a redirect would silently move it elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
            {
                Ok(client) => Some(Jwks {
                    url,
                    client,
                    ttl_ms: i64::try_from(cfg.jwks_cache_ttl.as_millis()).unwrap_or(i64::MAX),
                    keys: RwLock::new(None),
                    fetch: tokio::sync::Mutex::new(FetchState::default()),
                }),
                Err(_) => {
                    problems.push("cannot build the HTTP client for JWT_JWKS_URL".to_owned());
                    None
                }
            },
            None => None,
        };
        if !problems.is_empty() {
            return Err(AuthConfigError { problems });
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                hs256,
                jwks,
                audience: cfg.audience,
                issuer: cfg.issuer.map(|i| i.trim_end_matches('/').to_owned()),
                leeway_s: i64::try_from(cfg.leeway_s).unwrap_or(i64::MAX),
                clock,
            }),
        })
    }

    /// Verifies `authorization` as an `Authorization` header value (`Bearer <jwt>`).
    pub async fn verify_header(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        self.verify(bearer_token(authorization)?).await
    }

    /// Verifies a compact JWT and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::Malformed);
        }
        let header = parse_header(token)?;
        let inner = &self.inner;
        let payload = match header.alg.as_str() {
            "HS256" => {
                // The kid of an HS256 token is not looked up: the only HMAC key is the secret.
                let key = inner.hs256.as_ref().ok_or(AuthError::AlgorithmNotAllowed)?;
                check_signature(token, Algorithm::HS256, key)?
            }
            "ES256" | "RS256" => {
                let jwks = inner.jwks.as_ref().ok_or(AuthError::AlgorithmNotAllowed)?;
                let kid = header.kid.as_deref().ok_or(AuthError::UnknownKeyId)?;
                let entry = jwks.key(kid, inner.clock.as_ref()).await?;
                match entry.as_ref() {
                    JwksKey::Usable { alg, key } if alg_name(*alg) == header.alg => {
                        check_signature(token, *alg, key)?
                    }
                    _ => return Err(AuthError::AlgorithmNotAllowed),
                }
            }
            _ => return Err(AuthError::AlgorithmNotAllowed),
        };
        let now_s = inner.clock.now_ms().div_euclid(1000);
        validate_claims(
            payload,
            now_s,
            inner.leeway_s,
            &inner.audience,
            inner.issuer.as_deref(),
        )
    }
}

/// Whether the bearer token of `authorization` is `expected`, compared in constant time (a shared
/// secret such as `METRICS_TOKEN` or an agent's token, not a JWT).
pub fn bearer_is(authorization: Option<&str>, expected: &SecretString) -> bool {
    use subtle::ConstantTimeEq as _;
    bearer_token(authorization)
        .is_ok_and(|given| bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes())))
}

/// The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive. The one
/// parser of that header: the API, `/metrics` and the terminal agent all read it here.
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, AuthError> {
    let value = authorization.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::Missing);
    }
    let (scheme, rest) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    if token.contains(char::is_whitespace) {
        return Err(AuthError::Malformed);
    }
    Ok(token)
}

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

/// Supabase's authenticator assurance level, the token's `aal` claim: `aal1` for a session
/// signed in with one factor (a password, a magic link, OAuth), `aal2` once it passed MFA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aal {
    #[default]
    Aal1,
    Aal2,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
        }
    }
}

impl std::str::FromStr for Aal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aal1" => Ok(Aal::Aal1),
            "aal2" => Ok(Aal::Aal2),
            other => Err(format!("unknown assurance level {other:?} (aal1 or aal2)")),
        }
    }
}

/// What a minted token says besides its user; see [`mint_token_with`].
#[derive(Debug, Clone)]
pub struct MintOptions<'a> {
    /// `email`; GoTrue writes "" when there is none.
    pub email: Option<&'a str>,
    pub ttl: Duration,
    pub audience: &'a str,
    /// `iss`; left out when `None`, as self-hosted Supabase does.
    pub issuer: Option<&'a str>,
    /// `aal`; left out when `None` (GoTrue always writes one; a token without it is treated as
    /// `aal1`). `aal2` also puts a `totp` factor in `amr`, as GoTrue does after MFA.
    pub aal: Option<Aal>,
}

impl<'a> MintOptions<'a> {
    /// A password sign-in (`aal1`) to `audience`, lasting `ttl`, without email or issuer.
    pub fn new(audience: &'a str, ttl: Duration) -> Self {
        MintOptions {
            email: None,
            ttl,
            audience,
            issuer: None,
            aal: Some(Aal::Aal1),
        }
    }
}

/// Mints an HS256 access token with the claims GoTrue puts in a password sign-in (`aal1`), for
/// the `mt5-bridge token` command. The token verifies with an [`Authenticator`] holding `secret`.
/// [`mint_token_with`] chooses the assurance level too.
pub fn mint_token(
    secret: &SecretString,
    user: Uuid,
    email: Option<&str>,
    ttl: Duration,
    audience: &str,
    issuer: Option<&str>,
) -> Result<String, AuthError> {
    mint_token_with(
        secret,
        user,
        &MintOptions {
            email,
            issuer,
            ..MintOptions::new(audience, ttl)
        },
    )
}

/// As [`mint_token`], with every choice in `opts`.
pub fn mint_token_with(
    secret: &SecretString,
    user: Uuid,
    opts: &MintOptions<'_>,
) -> Result<String, AuthError> {
    let MintOptions {
        email,
        ttl,
        audience,
        issuer,
        aal,
    } = *opts;
    if secret.expose_secret().len() < MIN_SECRET_LEN {
        return Err(AuthError::Misconfigured(
            "the JWT secret is shorter than 32 bytes",
        ));
    }
    if audience.trim().is_empty() {
        return Err(AuthError::Misconfigured("the audience is empty"));
    }
    let ttl_s =
        i64::try_from(ttl.as_secs())
            .ok()
            .filter(|s| *s > 0)
            .ok_or(AuthError::Misconfigured(
                "the lifetime must be at least one second",
            ))?;
    let iat = time::OffsetDateTime::now_utc().unix_timestamp();
    let exp = iat
        .checked_add(ttl_s)
        .ok_or(AuthError::Misconfigured("the lifetime is too long"))?;
    let mut claims = json!({
        "sub": user.to_string(),
        "role": USER_ROLE,
        "aud": audience,
        "exp": exp,
        "iat": iat,
        "email": email.unwrap_or_default(),
        "phone": "",
        "session_id": Uuid::new_v4().to_string(),
        "is_anonymous": false,
        "amr": [{"method": "password", "timestamp": iat}],
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    });
    if let Some(map) = claims.as_object_mut() {
        if let Some(iss) = issuer {
            map.insert("iss".to_owned(), Value::String(iss.to_owned()));
        }
        if let Some(aal) = aal {
            map.insert("aal".to_owned(), Value::String(aal.as_str().to_owned()));
        }
        if aal == Some(Aal::Aal2) {
            // GoTrue lists the factors newest first: the second one, then the password.
            map.insert(
                "amr".to_owned(),
                json!([{"method": "totp", "timestamp": iat}, {"method": "password", "timestamp": iat}]),
            );
        }
    }
    let key = EncodingKey::from_secret(secret.expose_secret().as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
        .map_err(|_| AuthError::Misconfigured("signing failed"))
}

/// The parts of the JOSE header that choose the key.
#[derive(Debug)]
struct TokenHeader {
    alg: String,
    kid: Option<String>,
}

/// Reads the header without trusting it; `alg` stays a string so "none" and unknown names are
/// refused as algorithms rather than as garbage.
fn parse_header(token: &str) -> Result<TokenHeader, AuthError> {
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    // Garbage is reported as such, not as a signature mismatch.
    if !is_base64url(body) || !is_base64url(sig) {
        return Err(AuthError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(head)
        .map_err(|_| AuthError::Malformed)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let obj = value.as_object().ok_or(AuthError::Malformed)?;
    // No header extension is understood, so a critical one cannot be honoured (RFC 7515 §4.1.11).
    if obj.contains_key("crit") {
        return Err(AuthError::Malformed);
    }
    let alg = match obj.get("alg") {
        Some(Value::String(a)) => a.clone(),
        _ => return Err(AuthError::Malformed),
    };
    let kid = match obj.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(AuthError::Malformed),
    };
    Ok(TokenHeader { alg, kid })
}

/// Whether `part` is unpadded base64url (tokens are at most 16 KiB, so decoding is cheap).
fn is_base64url(part: &str) -> bool {
    URL_SAFE_NO_PAD.decode(part).is_ok()
}

/// Checks only the signature (under exactly `alg`) and returns the payload; claims come next.
fn check_signature(token: &str, alg: Algorithm, key: &DecodingKey) -> Result<Value, AuthError> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Value>(token, key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEddsaKey
            | ErrorKind::InvalidKeyFormat => AuthError::BadSignature,
            ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::MissingAlgorithm => AuthError::AlgorithmNotAllowed,
            _ => AuthError::Malformed,
        })
}

/// Checks the claims of a payload whose signature is already verified.
fn validate_claims(
    payload: Value,
    now_s: i64,
    leeway_s: i64,
    audience: &str,
    issuer: Option<&str>,
) -> Result<Claims, AuthError> {
    let obj = payload.as_object().ok_or(AuthError::Malformed)?;
    // A token without `exp` would never expire: refused.
    let exp = numeric_date(obj.get("exp"))?.ok_or(AuthError::Malformed)?;
    if exp.saturating_add(leeway_s) < now_s {
        return Err(AuthError::Expired);
    }
    if let Some(nbf) = numeric_date(obj.get("nbf"))? {
        if nbf.saturating_sub(leeway_s) > now_s {
            return Err(AuthError::Expired);
        }
    }
    let aud_ok = match obj.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aud_ok {
        return Err(AuthError::BadAudience);
    }
    if let Some(want) = issuer {
        match obj.get("iss").and_then(Value::as_str) {
            Some(iss) if iss.trim_end_matches('/') == want => {}
            _ => return Err(AuthError::BadIssuer),
        }
    }
    let role = match obj.get("role").and_then(Value::as_str) {
        Some(r) if r == USER_ROLE => r.to_owned(),
        _ => return Err(AuthError::BadRole),
    };
    let sub = obj
        .get("sub")
        .and_then(Value::as_str)
        .and_then(parse_user_id)
        .ok_or(AuthError::BadSubject)?;
    let is_anonymous = match obj.get("is_anonymous") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(AuthError::Malformed),
    };
    let text = |name: &str| {
        obj.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (email, session_id, aal) = (text("email"), text("session_id"), text("aal"));
    Ok(Claims {
        sub,
        role,
        email,
        session_id,
        is_anonymous,
        aal,
        exp,
        raw: payload,
    })
}

/// A NumericDate claim: absent is `None`, anything but a number is malformed.
fn numeric_date(value: Option<&Value>) -> Result<Option<i64>, AuthError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(AuthError::Malformed),
        Some(_) => Err(AuthError::Malformed),
    }
}

/// A user id in its canonical hyphenated form, as GoTrue writes it; the nil UUID is nobody.
fn parse_user_id(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok().filter(|u| !u.is_nil())
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::HS256 => "HS256",
        // Nothing else is ever produced by `classify_jwk`.
        _ => "",
    }
}

/// A URL for display: no credentials, query or fragment.
fn redact_url(raw: &str) -> String {
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
enum JwksKey {
    Usable {
        alg: Algorithm,
        key: DecodingKey,
    },
    /// Present but not usable for a user token (another algorithm, curve or use, a weak or
    /// ambiguous key). A token naming it is refused for its algorithm, not as unknown.
    Unsupported,
}

struct KeySet {
    keys: HashMap<String, Arc<JwksKey>>,
    fetched_at_ms: i64,
}

#[derive(Default)]
struct FetchState {
    last_attempt_ms: Option<i64>,
    last_failed: bool,
}

impl FetchState {
    fn elapsed_since_attempt(&self, now_ms: i64) -> Option<i64> {
        self.last_attempt_ms.map(|t| now_ms.saturating_sub(t))
    }
}

/// The JWKS endpoint and its cache. Readers take the read lock only to clone an `Arc`; fetches
/// are serialized by `fetch`, so concurrent misses cause one request.
struct Jwks {
    url: reqwest::Url,
    client: reqwest::Client,
    ttl_ms: i64,
    keys: RwLock<Option<Arc<KeySet>>>,
    fetch: tokio::sync::Mutex<FetchState>,
}

impl Jwks {
    fn snapshot(&self) -> Option<Arc<KeySet>> {
        // A poisoned lock still holds a consistent Arc: writers only swap it.
        match self.keys.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, set: Arc<KeySet>) {
        match self.keys.write() {
            Ok(mut guard) => *guard = Some(set),
            Err(poisoned) => *poisoned.into_inner() = Some(set),
        }
    }

    fn is_fresh(&self, set: &KeySet, now_ms: i64) -> bool {
        now_ms.saturating_sub(set.fetched_at_ms) < self.ttl_ms
    }

    /// Keys past their TTL are still used while the endpoint cannot be reached, up to one more
    /// TTL: the same 20 minutes of staleness Supabase's own two cache levels allow.
    fn lookup_stale(
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

    async fn key(&self, kid: &str, clock: &dyn Clock) -> Result<Arc<JwksKey>, AuthError> {
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

    async fn fetch_keys(&self) -> Result<HashMap<String, Arc<JwksKey>>, String> {
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
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, Arc<JwksKey>>, &'static str> {
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
fn classify_jwk(value: &Value) -> JwksKey {
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
fn rsa_modulus_bytes(n: &str) -> usize {
    URL_SAFE_NO_PAD
        .decode(n)
        .map(|b| b.iter().skip_while(|x| **x == 0).count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "unit-test-secret-with-at-least-32-characters";
    const AUD: &str = "authenticated";
    const NOW: i64 = 1_700_000_000;

    fn payload(extra: Value) -> Value {
        let mut base = json!({
            "sub": "2f1c8a52-6a53-4c0e-9d1b-0d8e7f0f4b11",
            "role": "authenticated",
            "aud": AUD,
            "exp": NOW + 3600,
            "iat": NOW,
            "email": "trader@example.com",
            "session_id": "c1d2e3f4-0000-4000-8000-000000000001",
            "is_anonymous": false,
            "aal": "aal1",
        });
        if let (Some(map), Value::Object(more)) = (base.as_object_mut(), extra) {
            for (k, v) in more {
                if v.is_null() {
                    map.remove(&k);
                } else {
                    map.insert(k, v);
                }
            }
        }
        base
    }

    fn check(p: Value, issuer: Option<&str>) -> Result<Claims, AuthError> {
        validate_claims(p, NOW, 30, AUD, issuer)
    }

    #[test]
    fn valid_claims_are_reported() {
        let c = check(payload(json!({})), None).unwrap();
        assert_eq!(c.sub.to_string(), "2f1c8a52-6a53-4c0e-9d1b-0d8e7f0f4b11");
        assert_eq!(c.role, "authenticated");
        assert_eq!(c.email.as_deref(), Some("trader@example.com"));
        assert_eq!(c.aal.as_deref(), Some("aal1"));
        assert_eq!(c.exp, NOW + 3600);
        assert!(!c.is_anonymous);
        assert_eq!(c.raw["iat"], json!(NOW));
    }

    #[test]
    fn exp_honours_the_leeway_to_the_second() {
        assert!(check(payload(json!({"exp": NOW - 30})), None).is_ok());
        assert_eq!(
            check(payload(json!({"exp": NOW - 31})), None),
            Err(AuthError::Expired)
        );
        assert_eq!(
            check(payload(json!({"exp": null})), None),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            check(payload(json!({"exp": "tomorrow"})), None),
            Err(AuthError::Malformed)
        );
        assert!(check(payload(json!({"exp": (NOW + 10) as f64 + 0.5})), None).is_ok());
    }

    #[test]
    fn nbf_in_the_future_fails_but_iat_in_the_future_does_not() {
        assert!(check(payload(json!({"iat": NOW + 600})), None).is_ok());
        assert!(check(payload(json!({"nbf": NOW + 30})), None).is_ok());
        assert_eq!(
            check(payload(json!({"nbf": NOW + 31})), None),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn audience_string_or_array() {
        assert!(check(payload(json!({"aud": ["x", AUD]})), None).is_ok());
        for aud in [
            json!("anon"),
            json!(["x"]),
            json!([]),
            json!(null),
            json!(7),
        ] {
            assert_eq!(
                check(payload(json!({ "aud": aud })), None),
                Err(AuthError::BadAudience),
                "{aud}"
            );
        }
    }

    #[test]
    fn issuer_checked_only_when_configured() {
        let iss = "https://abc.supabase.co/auth/v1";
        assert!(check(payload(json!({"iss": iss})), Some(iss)).is_ok());
        assert!(check(payload(json!({"iss": format!("{iss}/")})), Some(iss)).is_ok());
        assert!(check(payload(json!({"iss": "https://evil"})), None).is_ok());
        assert_eq!(
            check(payload(json!({"iss": "https://evil"})), Some(iss)),
            Err(AuthError::BadIssuer)
        );
        assert_eq!(
            check(payload(json!({})), Some(iss)),
            Err(AuthError::BadIssuer)
        );
    }

    #[test]
    fn role_and_subject() {
        for role in [json!("anon"), json!("service_role"), json!(null), json!(1)] {
            assert_eq!(
                check(payload(json!({ "role": role })), None),
                Err(AuthError::BadRole)
            );
        }
        for sub in [
            json!("not-a-uuid"),
            json!("2f1c8a526a534c0e9d1b0d8e7f0f4b11"),
            json!("00000000-0000-0000-0000-000000000000"),
            json!(42),
            json!(null),
        ] {
            assert_eq!(
                check(payload(json!({ "sub": sub })), None),
                Err(AuthError::BadSubject),
                "{sub}"
            );
        }
    }

    #[test]
    fn anonymous_flag_and_empty_email() {
        let c = check(payload(json!({"is_anonymous": true, "email": ""})), None).unwrap();
        assert!(c.is_anonymous);
        assert_eq!(c.email, None);
        assert_eq!(
            check(payload(json!({"is_anonymous": "yes"})), None),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("bEaReR a.b.c")), Ok("a.b.c"));
        assert_eq!(bearer_token(Some("Bearer   a.b.c  ")), Ok("a.b.c"));
        assert_eq!(
            bearer_token(Some("Basic dXNlcjpwdw==")),
            Err(AuthError::Malformed)
        );
        assert_eq!(bearer_token(Some("Bearer a b")), Err(AuthError::Malformed));
    }

    #[test]
    fn header_parsing() {
        let enc = |v: &str| URL_SAFE_NO_PAD.encode(v);
        let h = parse_header(&format!("{}.e30.sig", enc(r#"{"alg":"ES256","kid":"k1"}"#))).unwrap();
        assert_eq!((h.alg.as_str(), h.kid.as_deref()), ("ES256", Some("k1")));
        assert_eq!(
            parse_header(&format!("{}.e30", enc(r#"{"alg":"HS256"}"#))).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            parse_header(&format!("{}.e30.s.x", enc(r#"{"alg":"HS256"}"#))).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            parse_header(&format!(
                "{}.e30.s",
                enc(r#"{"alg":"HS256","crit":["b64"]}"#)
            ))
            .unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(
            parse_header(&format!("{}.e30.s", enc(r#"{"alg":"HS256","kid":5}"#))).unwrap_err(),
            AuthError::Malformed
        );
        assert_eq!(parse_header("!!!.e30.s").unwrap_err(), AuthError::Malformed);
    }

    #[test]
    fn config_problems_are_all_reported() {
        let err = Authenticator::new(AuthConfig {
            audience: String::new(),
            leeway_s: 3600,
            ..AuthConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        let err = Authenticator::new(AuthConfig {
            hs256_secret: Some(SecretString::from("short")),
            jwks_url: Some("ftp://example.com/keys".to_owned()),
            ..AuthConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(!err.to_string().contains("short"));
    }

    #[test]
    fn jwks_urls_are_https_or_loopback() {
        for ok in [
            "https://abc.supabase.co/auth/v1/.well-known/jwks.json",
            "https://10.0.0.5:8443/keys",
            "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json",
            "http://127.9.8.7/keys",
            "http://127.1/keys",
            "http://[::1]:54321/keys",
            "http://localhost:54321/keys",
            "http://LOCALHOST/keys",
        ] {
            assert!(parse_jwks_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://abc.supabase.co/auth/v1/.well-known/jwks.json",
            "http://10.0.0.5/keys",
            "http://128.0.0.1/keys",
            "http://[::2]/keys",
            "http://localhost.evil.example/keys",
            "http://127.0.0.1.evil.example/keys",
            "http://evil.example/keys#127.0.0.1",
            "http://evil.example@127.0.0.1.nip.io/keys",
            "ftp://127.0.0.1/keys",
            "file:///etc/keys.json",
            "abc.supabase.co/keys",
            "",
        ] {
            assert_eq!(parse_jwks_url(bad), Err(JWKS_URL_RULE), "{bad}");
        }
        let err = Authenticator::new(AuthConfig {
            jwks_url: Some("http://abc.supabase.co/keys".to_owned()),
            ..AuthConfig::default()
        })
        .unwrap_err();
        assert_eq!(err.problems, vec![JWKS_URL_RULE.to_owned()]);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let cfg = AuthConfig {
            hs256_secret: Some(SecretString::from(SECRET)),
            jwks_url: Some(
                "https://user:pw@abc.supabase.co/auth/v1/.well-known/jwks.json?apikey=k".to_owned(),
            ),
            ..AuthConfig::default()
        };
        let cfg_dbg = format!("{cfg:?}");
        let auth = Authenticator::new(cfg).unwrap();
        let auth_dbg = format!("{auth:?}");
        for text in [cfg_dbg, auth_dbg] {
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains("pw@") && !text.contains("apikey"), "{text}");
            assert!(text.contains("abc.supabase.co"), "{text}");
        }
    }

    #[test]
    fn jwk_classification_follows_the_key_not_the_label() {
        let ec = json!({"kty":"EC","crv":"P-256","kid":"e","x":"HMd1NazuxZ33sGC7RVSMPwemoaBT758hMZVmh04EQbY","y":"glO674jBJrSBAuJwNJWuwcWbZentqIFcyNaqjhXEZPY"});
        assert!(matches!(
            classify_jwk(&ec),
            JwksKey::Usable {
                alg: Algorithm::ES256,
                ..
            }
        ));
        let mut labelled_rs = ec.clone();
        labelled_rs["alg"] = json!("RS256");
        assert!(matches!(classify_jwk(&labelled_rs), JwksKey::Unsupported));
        let mut enc = ec.clone();
        enc["use"] = json!("enc");
        assert!(matches!(classify_jwk(&enc), JwksKey::Unsupported));
        let oct = json!({"kty":"oct","kid":"h","alg":"HS256","k":URL_SAFE_NO_PAD.encode(SECRET)});
        assert!(matches!(classify_jwk(&oct), JwksKey::Unsupported));
        let short_rsa =
            json!({"kty":"RSA","kid":"r","n":URL_SAFE_NO_PAD.encode([0xc5u8; 128]),"e":"AQAB"});
        assert!(matches!(classify_jwk(&short_rsa), JwksKey::Unsupported));
        let dup = format!(r#"{{"keys":[{ec},{ec}]}}"#);
        let keys = parse_jwks(dup.as_bytes()).unwrap();
        assert!(matches!(
            keys.get("e").map(|k| k.as_ref()),
            Some(JwksKey::Unsupported)
        ));
    }

    #[test]
    fn error_codes_are_distinct() {
        let all = [
            AuthError::Missing,
            AuthError::Malformed,
            AuthError::Expired,
            AuthError::BadAudience,
            AuthError::BadIssuer,
            AuthError::BadRole,
            AuthError::BadSubject,
            AuthError::BadSignature,
            AuthError::AlgorithmNotAllowed,
            AuthError::UnknownKeyId,
            AuthError::KeysUnavailable,
            AuthError::Misconfigured("x"),
        ];
        let codes: HashSet<_> = all.iter().map(AuthError::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
