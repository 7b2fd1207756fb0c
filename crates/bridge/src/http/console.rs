//! The trader console (`console/`, built into `console/dist/` and committed): served at
//! `/console/` from files embedded in every build, debug included, so a binary never reads a source
//! folder. `/console/<path>` answers the file when it exists, `index.html` for a path without an
//! extension (a deep link such as `/console/positions` reloads to its screen), and `404` for a
//! missing asset. `/console/config.json` tells the page the Supabase project it may sign in with
//! (no token; not under `/api/v1`, not in the OpenAPI document). Every answer carries the
//! console's Content-Security-Policy, `nosniff` and `no-referrer`; the page needs no CORS (same
//! origin).

use crate::error::ApiError;
use crate::state::{AppState, ConsoleSettings};
use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use rust_embed::RustEmbed;
use std::borrow::Cow;

#[derive(RustEmbed)]
#[folder = "../../console/dist/"]
struct Files;

/// `default-src 'self'` with the Supabase origin (when set) the only other place the page may call.
pub fn content_security_policy(settings: &ConsoleSettings) -> String {
    let connect = match &settings.supabase_url {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; connect-src {connect}; img-src 'self' data:; frame-ancestors 'none'"
    )
}

/// The console's routes, under `/console`.
pub fn routes(settings: &ConsoleSettings) -> Router<AppState> {
    let csp = HeaderValue::from_str(&content_security_policy(settings))
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"));
    let config = serde_json::json!({
        "supabase_url": settings.supabase_url,
        "supabase_publishable_key": settings.supabase_publishable_key,
    });
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }),
        )
        .route("/console/", get(|| async { file("index.html") }))
        .route(
            "/console/config.json",
            get(move || {
                let config = config.clone();
                async move { ([(header::CACHE_CONTROL, "no-store")], Json(config)).into_response() }
            }),
        )
        .route("/console/{*path}", get(asset))
        .layer(axum::middleware::map_response(
            move |mut response: Response| {
                let csp = csp.clone();
                async move {
                    let h = response.headers_mut();
                    h.insert(header::CONTENT_SECURITY_POLICY, csp);
                    h.insert(
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    );
                    h.insert(
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    );
                    response
                }
            },
        ))
}

async fn asset(Path(path): Path<String>) -> Response {
    let last = path.rsplit('/').next().unwrap_or_default();
    if Files::get(&path).is_some() {
        file(&path)
    } else if last.contains('.') {
        ApiError::RouteNotFound.into_response()
    } else {
        file("index.html")
    }
}

fn file(path: &str) -> Response {
    let Some(found) = Files::get(path) else {
        return ApiError::RouteNotFound.into_response();
    };
    // Vite names every asset by its content: it may be kept for good. The page itself is not.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let body: Cow<'static, [u8]> = found.data;
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        body,
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
