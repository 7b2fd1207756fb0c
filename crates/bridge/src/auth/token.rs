//! The compact JWS form of a token: its header, and its signature checked under one key.

use std::collections::HashSet;

use super::claims::AuthError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// Far above any real access token, even with large user metadata; bounds the work per request.
pub(super) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The parts of the JOSE header that choose the key.
#[derive(Debug)]
pub(super) struct TokenHeader {
    pub(super) alg: String,
    pub(super) kid: Option<String>,
}

/// Reads the header without trusting it; `alg` stays a string so "none" and unknown names are
/// refused as algorithms rather than as garbage.
pub(super) fn parse_header(token: &str) -> Result<TokenHeader, AuthError> {
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
pub(super) fn is_base64url(part: &str) -> bool {
    URL_SAFE_NO_PAD.decode(part).is_ok()
}

/// Checks only the signature (under exactly `alg`) and returns the payload; claims come next.
pub(super) fn check_signature(
    token: &str,
    alg: Algorithm,
    key: &DecodingKey,
) -> Result<Value, AuthError> {
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

pub(super) fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        Algorithm::HS256 => "HS256",
        // Nothing else is ever produced by `classify_jwk`.
        _ => "",
    }
}
