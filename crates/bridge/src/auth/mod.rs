//! Verification of Supabase-style access tokens (JWT), and minting of local ones.
//!
//! A token is accepted when its signature checks out under a key the configuration allows and its
//! claims describe a signed-in user of this audience. Two kinds of key are allowed: the shared
//! HS256 secret (Supabase's legacy JWT secret, or the one the embedded mode generates), and the
//! project's ES256/RS256 public keys, fetched from its JWKS endpoint and cached. The header's `alg`
//! only selects a code path: it must equal the algorithm of the key it names, so a public key can
//! never be used as an HMAC secret. Every failure is an [`AuthError`]; the HTTP layer answers all
//! of them with 401.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey};
use mt5::clock::{Clock, SystemClock};
use secrecy::{ExposeSecret, SecretString};

mod claims;
mod jwks;
mod mint;
mod token;

use claims::*;
pub use claims::{Aal, AuthError, Claims};
use jwks::*;
pub use jwks::{parse_jwks_url, JWKS_URL_RULE};
pub use mint::{mint_token, mint_token_with, MintOptions, MIN_SECRET_LEN};
use token::*;

/// The audience GoTrue puts in user tokens (`GOTRUE_JWT_AUD`).
pub const DEFAULT_AUDIENCE: &str = "authenticated";
/// How long fetched signing keys are trusted without asking again (Supabase's own client TTL).
pub const DEFAULT_JWKS_CACHE_TTL: Duration = Duration::from_secs(600);
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_S: u64 = 30;

const MAX_LEEWAY_S: u64 = 300;

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

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use serde_json::{json, Value};
    use std::collections::HashSet;

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
