//! What a verified token says: its claims, checked against this service's audience, issuer and
//! role, and the errors of verification ([`AuthError`]).

use serde_json::Value;
use uuid::Uuid;

/// The only role a user token may carry; `anon` and `service_role` are API keys, not users.
pub(super) const USER_ROLE: &str = "authenticated";

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
    /// Only from [`super::mint_token`]: the inputs cannot make a usable token.
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

/// Checks the claims of a payload whose signature is already verified.
pub(super) fn validate_claims(
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
pub(super) fn numeric_date(value: Option<&Value>) -> Result<Option<i64>, AuthError> {
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
pub(super) fn parse_user_id(s: &str) -> Option<Uuid> {
    if s.len() != 36 {
        return None;
    }
    Uuid::parse_str(s).ok().filter(|u| !u.is_nil())
}
