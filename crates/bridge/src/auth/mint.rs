//! Minting local tokens (the `token` command, tests, benchmarks) with the shared secret.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use uuid::Uuid;

use super::claims::{Aal, AuthError, USER_ROLE};

/// GoTrue refuses shorter JWT secrets; so do we.
pub const MIN_SECRET_LEN: usize = 32;

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
/// the `mt5-bridge token` command. The token verifies with an [`super::Authenticator`] holding `secret`.
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
