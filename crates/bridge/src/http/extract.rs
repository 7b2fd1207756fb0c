//! Extractors: the authenticated user, JSON bodies, query strings and path parameters, each
//! refusing with the API's error envelope (never axum's plain-text rejections), and UUID path
//! parameters.

use crate::auth::Claims;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::UserCtx;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde_json::Value;
use uuid::Uuid;

/// The verified user of a request.
pub struct AuthUser {
    pub claims: Claims,
    pub ctx: UserCtx,
}

impl AuthUser {
    pub fn id(&self) -> Uuid {
        self.claims.sub
    }

    /// Anonymous sign-ins may read but not store credentials.
    pub fn require_not_anonymous(&self) -> Result<(), ApiError> {
        if self.claims.is_anonymous {
            Err(ApiError::AnonymousNotAllowed)
        } else {
            Ok(())
        }
    }

    /// Whether this session may store MT5 credentials (connect, a new password): not an
    /// anonymous sign-in, and, when `require_aal2` (JWT_REQUIRE_AAL2), one that passed MFA. A
    /// stolen password-only session then cannot point the bridge at credentials of its choosing.
    pub fn require_may_store_credentials(&self, require_aal2: bool) -> Result<(), ApiError> {
        self.require_not_anonymous()?;
        if require_aal2 && !self.claims.is_aal2() {
            return Err(ApiError::MfaRequired);
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = match header {
            None => {
                return Err(ApiError::Unauthorized(
                    "missing Authorization: Bearer token".into(),
                ))
            }
            Some(h) => match h.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    token.trim()
                }
                _ => {
                    return Err(ApiError::Unauthorized(
                        "Authorization must be `Bearer <jwt>`".into(),
                    ))
                }
            },
        };
        authenticate(state, token).await
    }
}

/// The user a bearer token names, once verified (and known to the store).
pub async fn authenticate(state: &AppState, token: &str) -> Result<AuthUser, ApiError> {
    let claims = state
        .auth
        .verify(token)
        .await
        .map_err(|e| ApiError::Unauthorized(format!("invalid token: {e}")))?;
    let ctx = UserCtx {
        user_id: claims.sub,
        email: claims.email.clone(),
        claims: claims.raw.clone(),
    };
    let known = state
        .known_users
        .lock()
        .map(|set| set.contains(&ctx.user_id))
        .unwrap_or(false);
    if !known {
        state.store.ensure_user(&ctx).await?;
        if let Ok(mut set) = state.known_users.lock() {
            // Bounded: past the cap the set starts over, and users are ensured once more
            // (an idempotent insert) rather than the set growing with every user ever seen.
            if set.len() >= crate::state::KNOWN_USERS_MAX {
                set.clear();
            }
            set.insert(ctx.user_id);
        }
    }
    Ok(AuthUser { claims, ctx })
}

/// A JSON body parsed to a value; its request type reads it field by field (`Request::parse`).
pub struct JsonBody(pub Value);

/// A JSON body that may be absent (an empty body is `None`).
pub struct MaybeJsonBody(pub Option<Value>);

async fn read_json<S: Send + Sync>(req: Request, state: &S) -> Result<Option<Value>, ApiError> {
    let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidJson("cannot read the request body".into())
        }
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    // serde_json's syntax errors name a line and column, never the content.
    serde_json::from_slice::<Value>(&bytes)
        .map(Some)
        .map_err(|e| ApiError::InvalidJson(format!("line {} column {}", e.line(), e.column())))
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state)
            .await?
            .map(JsonBody)
            .ok_or_else(|| ApiError::validation("body", "a JSON object is required"))
    }
}

impl<S: Send + Sync> FromRequest<S> for MaybeJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        read_json(req, state).await.map(MaybeJsonBody)
    }
}

/// Parses a UUID path segment, naming the parameter when it is malformed.
pub fn path_uuid(field: &str, raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::validation(field, "must be a UUID"))
}

/// The name a serde error puts in backticks (`duplicate field `limit``), if any.
fn named_in(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len]).filter(|n| !n.is_empty() && n.len() <= 64)
}

/// A query string, deserialized like axum's `Query`; a query that cannot be read is
/// `422 validation_failed` naming the parameter (or `query`).
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => {
                let message = rejection.body_text();
                let field = named_in(&message).unwrap_or("query").to_string();
                Err(ApiError::validation(
                    field,
                    "cannot be read (each parameter at most once, as text)",
                ))
            }
        }
    }
}

/// Path parameters, deserialized like axum's `Path`; a segment that cannot be read (e.g. not
/// UTF-8 once percent-decoded) is `422 validation_failed` naming the parameter.
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::InvalidUtf8InPathParam { key }
                    | ErrorKind::ParseErrorAtKey { key, .. } => key.clone(),
                    _ => "path".to_string(),
                };
                Err(ApiError::validation(field, "cannot be read"))
            }
            Err(other) => Err(ApiError::Internal(format!(
                "path parameters: {}",
                other.body_text()
            ))),
        }
    }
}
