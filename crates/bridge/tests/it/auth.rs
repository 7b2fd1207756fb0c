//! Token verification end to end: HS256 with the shared secret, ES256 and RS256 through a JWKS
//! endpoint served on a local port (whose keys the tests rotate and whose hits they count),
//! algorithm confusion, refetch rate limiting, outages and `mint_token`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: helpers outside #[test] fns unwrap too"
)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mt5::clock::ManualClock;
use mt5_bridge::auth::{
    mint_token, mint_token_with, Aal, AuthConfig, AuthError, Authenticator, MintOptions,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

const SECRET: &str = "integration-test-secret-with-at-least-32-chars";
const EC_A_PEM: &str = include_str!("../fixtures/ec_p256_a.pem");
const EC_B_PEM: &str = include_str!("../fixtures/ec_p256_b.pem");
const RSA_PEM: &str = include_str!("../fixtures/rsa_2048.pem");
const PUBLIC_JWKS: &str = include_str!("../fixtures/public_jwks.json");
const ISSUER: &str = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";

/// A public JWK from the fixture: "ec_a" (kid ec-a), "ec_b" (kid ec-b) or "rsa" (kid rsa-1).
fn public_jwk(name: &str) -> Value {
    let all: Value = serde_json::from_str(PUBLIC_JWKS).unwrap();
    assert!(all[name].is_object(), "no fixture key {name}");
    all[name].clone()
}

/// A JWKS endpoint whose key set can change and which counts its requests.
struct KeyServer {
    keys: Mutex<Vec<Value>>,
    hits: AtomicUsize,
    failing: AtomicBool,
    /// When set, each request waits for a permit before answering.
    gated: AtomicBool,
    gate: tokio::sync::Semaphore,
}

impl KeyServer {
    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

async fn jwks_handler(State(s): State<Arc<KeyServer>>) -> Result<Json<Value>, StatusCode> {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if s.gated.load(Ordering::SeqCst) {
        s.gate.acquire().await.unwrap().forget();
    }
    if s.failing.load(Ordering::SeqCst) {
        return Err(StatusCode::INTERNAL_SERVER_ERROR);
    }
    let keys = s.keys.lock().unwrap().clone();
    Ok(Json(json!({ "keys": keys })))
}

async fn serve_keys(keys: Vec<Value>) -> (Arc<KeyServer>, String) {
    let state = Arc::new(KeyServer {
        keys: Mutex::new(keys),
        hits: AtomicUsize::new(0),
        failing: AtomicBool::new(false),
        gated: AtomicBool::new(false),
        gate: tokio::sync::Semaphore::new(0),
    });
    let app = Router::new()
        .route("/auth/v1/.well-known/jwks.json", get(jwks_handler))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (
        state,
        format!("http://{addr}/auth/v1/.well-known/jwks.json"),
    )
}

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A clock at the real time, so real `exp` values hold, which the test can then move.
fn clock_at_now() -> ManualClock {
    ManualClock::new(now_s() * 1000)
}

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

/// The claims GoTrue puts in a password sign-in, for a fresh user; `extra` overrides
/// (null removes).
fn claims(extra: Value) -> Value {
    let now = now_s();
    let mut c = json!({
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "aud": "authenticated",
        "email": "trader@example.com",
        "exp": now + 3600,
        "iat": now,
        "iss": ISSUER,
        "phone": "",
        "role": "authenticated",
        "session_id": Uuid::new_v4().to_string(),
        "sub": Uuid::new_v4().to_string(),
        "user_metadata": {},
        "is_anonymous": false,
    });
    if let Value::Object(more) = extra {
        let map = c.as_object_mut().unwrap();
        for (k, v) in more {
            if v.is_null() {
                map.remove(&k);
            } else {
                map.insert(k, v);
            }
        }
    }
    c
}

enum Key<'a> {
    Hmac(&'a [u8]),
    Ec(&'a str),
    Rsa(&'a str),
}

fn sign(alg: Algorithm, kid: Option<&str>, key: Key<'_>, payload: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    let key = match key {
        Key::Hmac(s) => EncodingKey::from_secret(s),
        Key::Ec(pem) => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        Key::Rsa(pem) => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    };
    jsonwebtoken::encode(&header, payload, &key).unwrap()
}

fn hs(payload: &Value) -> String {
    sign(
        Algorithm::HS256,
        None,
        Key::Hmac(SECRET.as_bytes()),
        payload,
    )
}

fn es(kid: &str, payload: &Value) -> String {
    sign(Algorithm::ES256, Some(kid), Key::Ec(EC_A_PEM), payload)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

fn secret_auth() -> Authenticator {
    Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        ..AuthConfig::default()
    })
    .unwrap()
}

fn jwks_auth(url: &str, clock: &ManualClock) -> Authenticator {
    Authenticator::with_clock(
        AuthConfig {
            jwks_url: Some(url.to_owned()),
            ..AuthConfig::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap()
}

#[tokio::test]
async fn hs256_token_verifies_and_reports_its_claims() {
    let auth = secret_auth();
    let c = claims(json!({"is_anonymous": true}));
    let got = auth.verify(&hs(&c)).await.unwrap();
    assert_eq!(got.sub.to_string(), c["sub"].as_str().unwrap());
    assert_eq!(got.role, "authenticated");
    assert_eq!(got.email.as_deref(), Some("trader@example.com"));
    assert_eq!(got.session_id.as_deref(), c["session_id"].as_str());
    assert_eq!(got.aal.as_deref(), Some("aal1"));
    assert!(got.is_anonymous);
    assert_eq!(got.exp, c["exp"].as_i64().unwrap());
    assert_eq!(got.raw, c);

    // A legacy secret may carry a kid; it is still the secret that verifies.
    let with_kid = sign(
        Algorithm::HS256,
        Some("legacy"),
        Key::Hmac(SECRET.as_bytes()),
        &c,
    );
    assert!(auth.verify(&with_kid).await.is_ok());
    let header = format!("Bearer {}", hs(&c));
    assert!(auth.verify_header(Some(&header)).await.is_ok());
    assert_eq!(auth.verify_header(None).await, Err(AuthError::Missing));
}

#[tokio::test]
async fn expiry_is_checked_with_leeway_and_iat_is_not() {
    let auth = secret_auth();
    let now = now_s();
    let expired = claims(json!({"exp": now - 120, "iat": now - 3720}));
    assert_eq!(auth.verify(&hs(&expired)).await, Err(AuthError::Expired));
    // Within the 30 s leeway.
    let just = claims(json!({"exp": now - 5}));
    assert!(auth.verify(&hs(&just)).await.is_ok());
    // An iat in the future is clock skew, not a reason to refuse...
    let future_iat = claims(json!({"iat": now + 600}));
    assert!(auth.verify(&hs(&future_iat)).await.is_ok());
    // ...but it does not rescue a past exp.
    let both = claims(json!({"iat": now + 600, "exp": now - 600}));
    assert_eq!(auth.verify(&hs(&both)).await, Err(AuthError::Expired));
    let no_exp = claims(json!({"exp": null}));
    assert_eq!(auth.verify(&hs(&no_exp)).await, Err(AuthError::Malformed));
}

#[tokio::test]
async fn audience_must_match_as_string_or_in_an_array() {
    let auth = secret_auth();
    let wrong = claims(json!({"aud": "other"}));
    assert_eq!(auth.verify(&hs(&wrong)).await, Err(AuthError::BadAudience));
    let missing = claims(json!({"aud": null}));
    assert_eq!(
        auth.verify(&hs(&missing)).await,
        Err(AuthError::BadAudience)
    );
    let array = claims(json!({"aud": ["other", "authenticated"]}));
    assert!(auth.verify(&hs(&array)).await.is_ok());
    let array_without = claims(json!({"aud": ["other"]}));
    assert_eq!(
        auth.verify(&hs(&array_without)).await,
        Err(AuthError::BadAudience)
    );

    let custom = Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        audience: "bridge".to_owned(),
        ..AuthConfig::default()
    })
    .unwrap();
    assert_eq!(
        custom.verify(&hs(&claims(json!({})))).await,
        Err(AuthError::BadAudience)
    );
    assert!(custom
        .verify(&hs(&claims(json!({"aud": "bridge"}))))
        .await
        .is_ok());
}

#[tokio::test]
async fn issuer_is_checked_only_when_configured() {
    let strict = Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        issuer: Some(ISSUER.to_owned()),
        ..AuthConfig::default()
    })
    .unwrap();
    assert!(strict.verify(&hs(&claims(json!({})))).await.is_ok());
    let other = claims(json!({"iss": "https://zzzzzzzzzzzzzzzzzzzz.supabase.co/auth/v1"}));
    assert_eq!(strict.verify(&hs(&other)).await, Err(AuthError::BadIssuer));
    let none = claims(json!({"iss": null}));
    assert_eq!(strict.verify(&hs(&none)).await, Err(AuthError::BadIssuer));

    let lax = secret_auth();
    assert!(lax.verify(&hs(&other)).await.is_ok());
    assert!(lax.verify(&hs(&none)).await.is_ok());
}

#[tokio::test]
async fn only_the_authenticated_role_is_a_user() {
    let auth = secret_auth();
    for role in ["anon", "service_role", "supabase_admin", ""] {
        let c = claims(json!({ "role": role }));
        assert_eq!(
            auth.verify(&hs(&c)).await,
            Err(AuthError::BadRole),
            "{role}"
        );
    }
    let c = claims(json!({"role": null}));
    assert_eq!(auth.verify(&hs(&c)).await, Err(AuthError::BadRole));
    // The legacy anon API key is itself an HS256 JWT under the same secret: never a user.
    let now = now_s();
    let anon_key = json!({"iss": "supabase", "ref": "abcdefghijklmnopqrst", "role": "anon", "iat": now, "exp": now + 3600});
    assert!(auth.verify(&hs(&anon_key)).await.is_err());
}

#[tokio::test]
async fn subject_must_be_a_uuid() {
    let auth = secret_auth();
    for sub in [json!("user-1"), json!(""), json!(12), json!(null)] {
        let c = claims(json!({ "sub": sub }));
        assert_eq!(
            auth.verify(&hs(&c)).await,
            Err(AuthError::BadSubject),
            "{sub}"
        );
    }
}

#[tokio::test]
async fn a_token_signed_with_another_secret_or_altered_is_refused() {
    let auth = secret_auth();
    let c = claims(json!({}));
    let other = sign(
        Algorithm::HS256,
        None,
        Key::Hmac(b"another-secret-that-is-also-32-bytes-long"),
        &c,
    );
    assert_eq!(auth.verify(&other).await, Err(AuthError::BadSignature));

    // Swap in a payload naming someone else, keeping the original signature.
    let token = hs(&c);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = claims(json!({"sub": Uuid::new_v4().to_string()}));
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
    assert_eq!(auth.verify(&tampered).await, Err(AuthError::BadSignature));
    // A truncated signature.
    let short = format!("{}.{}.{}", parts[0], parts[1], &parts[2][..12]);
    assert_eq!(auth.verify(&short).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let (_server, url) = serve_keys(vec![public_jwk("ec_a"), public_jwk("rsa")]).await;
    let both = Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        jwks_url: Some(url),
        ..AuthConfig::default()
    })
    .unwrap();
    let c = claims(json!({}));
    for alg in ["none", "None", "NONE", "", "HS256 "] {
        let unsigned = format!("{}.{}.", b64(&json!({"alg": alg, "typ": "JWT"})), b64(&c));
        assert_eq!(
            both.verify(&unsigned).await,
            Err(AuthError::AlgorithmNotAllowed),
            "{alg:?}"
        );
        let with_kid = format!("{}.{}.", b64(&json!({"alg": alg, "kid": "ec-a"})), b64(&c));
        assert_eq!(
            both.verify(&with_kid).await,
            Err(AuthError::AlgorithmNotAllowed)
        );
    }
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let t = sign(alg, None, Key::Hmac(SECRET.as_bytes()), &c);
        assert_eq!(both.verify(&t).await, Err(AuthError::AlgorithmNotAllowed));
    }
    for alg in [Algorithm::PS256, Algorithm::RS384, Algorithm::RS512] {
        let t = sign(alg, Some("rsa-1"), Key::Rsa(RSA_PEM), &c);
        assert_eq!(
            both.verify(&t).await,
            Err(AuthError::AlgorithmNotAllowed),
            "{alg:?}"
        );
    }
    let missing_alg = format!("{}.{}.", b64(&json!({"typ": "JWT"})), b64(&c));
    assert_eq!(both.verify(&missing_alg).await, Err(AuthError::Malformed));
}

#[tokio::test]
async fn hs256_is_refused_when_only_keys_are_configured() {
    let rsa = public_jwk("rsa");
    let mut oct =
        json!({"kty": "oct", "kid": "shared", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)});
    oct["use"] = json!("sig");
    let (_server, url) = serve_keys(vec![public_jwk("ec_a"), rsa.clone(), oct]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    assert_eq!(
        auth.verify(&hs(&c)).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    // An HMAC key published in the set is never used.
    let via_oct = sign(
        Algorithm::HS256,
        Some("shared"),
        Key::Hmac(SECRET.as_bytes()),
        &c,
    );
    assert_eq!(
        auth.verify(&via_oct).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    // The classic confusion: HMAC keyed with the published RSA modulus, naming the RSA kid.
    let n = URL_SAFE_NO_PAD.decode(rsa["n"].as_str().unwrap()).unwrap();
    let confused = sign(Algorithm::HS256, Some("rsa-1"), Key::Hmac(&n), &c);
    assert_eq!(
        auth.verify(&confused).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    // With a secret configured too, such a token goes to the secret and fails there.
    let both = Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        jwks_url: Some(url),
        ..AuthConfig::default()
    })
    .unwrap();
    assert_eq!(both.verify(&confused).await, Err(AuthError::BadSignature));
    assert!(both.verify(&hs(&c)).await.is_ok());
}

#[tokio::test]
async fn es256_and_rs256_verify_through_the_key_set() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a"), public_jwk("rsa")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    let es_token = es("ec-a", &c);
    let rs_token = sign(Algorithm::RS256, Some("rsa-1"), Key::Rsa(RSA_PEM), &c);
    assert_eq!(
        auth.verify(&es_token).await.unwrap().sub.to_string(),
        c["sub"].as_str().unwrap()
    );
    assert_eq!(auth.verify(&rs_token).await.unwrap().raw, c);
    // Both came from one fetch, and the cache serves later requests.
    for _ in 0..5 {
        assert!(auth.verify(&es_token).await.is_ok());
    }
    assert_eq!(server.hits(), 1);
    // Claims are checked on this path too.
    let expired = claims(json!({"exp": now_s() - 600}));
    assert_eq!(
        auth.verify(&es("ec-a", &expired)).await,
        Err(AuthError::Expired)
    );
    let anon = claims(json!({"role": "anon"}));
    assert_eq!(
        auth.verify(&es("ec-a", &anon)).await,
        Err(AuthError::BadRole)
    );
    // Signed by a key that is not the one its kid names.
    let wrong_key = sign(Algorithm::ES256, Some("ec-a"), Key::Ec(EC_B_PEM), &c);
    assert_eq!(auth.verify(&wrong_key).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn the_algorithm_must_match_the_key_it_names() {
    let (_server, url) = serve_keys(vec![public_jwk("ec_a"), public_jwk("rsa")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    let es_with_rsa_kid = es("rsa-1", &c);
    assert_eq!(
        auth.verify(&es_with_rsa_kid).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    let rs_with_ec_kid = sign(Algorithm::RS256, Some("ec-a"), Key::Rsa(RSA_PEM), &c);
    assert_eq!(
        auth.verify(&rs_with_ec_kid).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
    let no_kid = sign(Algorithm::ES256, None, Key::Ec(EC_A_PEM), &c);
    assert_eq!(auth.verify(&no_kid).await, Err(AuthError::UnknownKeyId));
}

#[tokio::test]
async fn a_jwk_labelled_with_another_algorithm_is_not_used() {
    let mut ec = public_jwk("ec_a");
    ec["alg"] = json!("RS256");
    let (_server, url) = serve_keys(vec![ec]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    assert_eq!(
        auth.verify(&es("ec-a", &c)).await,
        Err(AuthError::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_fails() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    assert!(auth.verify(&es("ec-a", &c)).await.is_ok());
    assert_eq!(server.hits(), 1);

    clock.advance_ms(31_000);
    assert_eq!(
        auth.verify(&es("nobody", &c)).await,
        Err(AuthError::UnknownKeyId)
    );
    assert_eq!(server.hits(), 2, "one refetch for the unknown kid");
    assert_eq!(
        auth.verify(&es("nobody", &c)).await,
        Err(AuthError::UnknownKeyId)
    );
    assert_eq!(server.hits(), 2, "no second refetch right away");
    // Known keys keep working from the cache meanwhile.
    assert!(auth.verify(&es("ec-a", &c)).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_key_added_later_is_found_by_the_refetch() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    assert!(auth.verify(&es("ec-a", &c)).await.is_ok());

    // Rotation: the project starts signing with a new key.
    server.keys.lock().unwrap().push(public_jwk("ec_b"));
    let new_token = sign(Algorithm::ES256, Some("ec-b"), Key::Ec(EC_B_PEM), &c);
    // Right after a fetch the refetch is held back...
    assert_eq!(auth.verify(&new_token).await, Err(AuthError::UnknownKeyId));
    assert_eq!(server.hits(), 1);
    // ...and 30 s later the unknown kid fetches the new set.
    clock.advance_ms(30_000);
    assert!(auth.verify(&new_token).await.is_ok());
    assert_eq!(server.hits(), 2);
    assert!(auth.verify(&es("ec-a", &c)).await.is_ok());

    // The old key is revoked: once the cache ages out, its tokens stop working.
    server.keys.lock().unwrap().retain(|k| k["kid"] != "ec-a");
    clock.advance_ms(600_000);
    assert_eq!(
        auth.verify(&es("ec-a", &c)).await,
        Err(AuthError::UnknownKeyId)
    );
    assert_eq!(server.hits(), 3);
    assert!(auth.verify(&new_token).await.is_ok());
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_few_fetches() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let c = claims(json!({}));
    assert!(auth.verify(&es("ec-a", &c)).await.is_ok());
    clock.advance_ms(60_000);

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let auth = auth.clone();
        let token = es(&Uuid::new_v4().to_string(), &c);
        tasks.spawn(async move { auth.verify(&token).await });
    }
    while let Some(res) = tasks.join_next().await {
        assert_eq!(res.unwrap(), Err(AuthError::UnknownKeyId));
    }
    for _ in 0..40 {
        let token = es(&Uuid::new_v4().to_string(), &c);
        assert_eq!(auth.verify(&token).await, Err(AuthError::UnknownKeyId));
    }
    assert_eq!(server.hits(), 2, "80 unknown kids, one refetch");
    clock.advance_ms(30_000);
    assert_eq!(
        auth.verify(&es("again", &c)).await,
        Err(AuthError::UnknownKeyId)
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn an_unreachable_key_endpoint_fails_closed() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let clock = clock_at_now();
    let auth = jwks_auth(
        &format!("http://{addr}/auth/v1/.well-known/jwks.json"),
        &clock,
    );
    let c = claims(json!({}));
    assert_eq!(
        auth.verify(&es("ec-a", &c)).await,
        Err(AuthError::KeysUnavailable)
    );
}

#[tokio::test]
async fn a_failing_key_endpoint_is_retried_with_backoff() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    server.failing.store(true, Ordering::SeqCst);
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let token = es("ec-a", &claims(json!({})));
    for _ in 0..10 {
        assert_eq!(auth.verify(&token).await, Err(AuthError::KeysUnavailable));
    }
    assert_eq!(server.hits(), 1, "failures back off");
    server.failing.store(false, Ordering::SeqCst);
    clock.advance_ms(5_000);
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn stale_keys_serve_through_a_short_outage_only() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let token = es("ec-a", &claims(json!({})));
    assert!(auth.verify(&token).await.is_ok());

    server.failing.store(true, Ordering::SeqCst);
    clock.advance_ms(11 * 60_000);
    assert!(auth.verify(&token).await.is_ok(), "stale keys within grace");
    assert_eq!(server.hits(), 2, "the stale cache was refreshed first");
    clock.advance_ms(10 * 60_000);
    assert_eq!(auth.verify(&token).await, Err(AuthError::KeysUnavailable));
}

#[tokio::test]
async fn known_keys_do_not_wait_for_a_slow_refresh() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = jwks_auth(&url, &clock);
    let token = es("ec-a", &claims(json!({})));
    assert!(auth.verify(&token).await.is_ok());

    server.gated.store(true, Ordering::SeqCst);
    clock.advance_ms(11 * 60_000);
    let refresher = {
        let (auth, token) = (auth.clone(), token.clone());
        tokio::spawn(async move { auth.verify(&token).await })
    };
    while server.hits() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The refresh is stuck at the endpoint; a token under a cached key is still answered.
    let quick = tokio::time::timeout(Duration::from_secs(3), auth.verify(&token)).await;
    assert!(matches!(quick, Ok(Ok(_))), "{quick:?}");
    // An unknown kid waits for the fetch in flight rather than starting another.
    let unknown = {
        let auth = auth.clone();
        let token = es("ec-new", &claims(json!({})));
        tokio::spawn(async move { auth.verify(&token).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!unknown.is_finished());
    server.gate.add_permits(1);
    assert!(refresher.await.unwrap().is_ok());
    assert_eq!(unknown.await.unwrap(), Err(AuthError::UnknownKeyId));
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn the_cache_expires_after_its_ttl() {
    let (server, url) = serve_keys(vec![public_jwk("ec_a")]).await;
    let clock = clock_at_now();
    let auth = Authenticator::with_clock(
        AuthConfig {
            jwks_url: Some(url),
            jwks_cache_ttl: Duration::from_secs(120),
            ..AuthConfig::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    let token = es("ec-a", &claims(json!({})));
    assert!(auth.verify(&token).await.is_ok());
    clock.advance_ms(119_000);
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 1);
    clock.advance_ms(1_000);
    assert!(auth.verify(&token).await.is_ok());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let auth = secret_auth();
    let valid = hs(&claims(json!({})));
    let parts: Vec<&str> = valid.split('.').collect();
    let cases = [
        "garbage".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.{}.{}", parts[0], parts[1], parts[2], parts[2]),
        format!("{}.!!not-base64!!.{}", parts[0], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!("HS256")), parts[1], parts[2]),
        "..".to_owned(),
        format!("{valid} "),
        "a".repeat(20_000),
    ];
    for token in &cases {
        assert_eq!(
            auth.verify(token).await,
            Err(AuthError::Malformed),
            "{token:.40}"
        );
    }
    assert_eq!(auth.verify("").await, Err(AuthError::Missing));
    // A correctly signed payload that is not a claims object.
    let payload_b64 = URL_SAFE_NO_PAD.encode(b"[1,2,3]");
    let header_b64 = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let msg = format!("{header_b64}.{payload_b64}");
    let sig = sign_raw_hs256(SECRET.as_bytes(), msg.as_bytes());
    assert_eq!(
        auth.verify(&format!("{msg}.{sig}")).await,
        Err(AuthError::Malformed)
    );
}

/// An HS256 signature over arbitrary bytes (`encode` only signs JSON objects).
fn sign_raw_hs256(key: &[u8], message: &[u8]) -> String {
    jsonwebtoken::crypto::sign(message, &EncodingKey::from_secret(key), Algorithm::HS256).unwrap()
}

#[tokio::test]
async fn minted_tokens_verify_and_carry_gotrue_claims() {
    let user = Uuid::new_v4();
    let token = mint_token(
        &secret(),
        user,
        Some("me@example.com"),
        Duration::from_secs(900),
        "authenticated",
        Some(ISSUER),
    )
    .unwrap();
    let strict = Authenticator::new(AuthConfig {
        hs256_secret: Some(secret()),
        issuer: Some(ISSUER.to_owned()),
        ..AuthConfig::default()
    })
    .unwrap();
    let c = strict.verify(&token).await.unwrap();
    assert_eq!(c.sub, user);
    assert_eq!(c.email.as_deref(), Some("me@example.com"));
    assert!(!c.is_anonymous);
    let raw = &c.raw;
    let now = now_s();
    let iat = raw["iat"].as_i64().unwrap();
    assert!((now - 5..=now).contains(&iat), "iat {iat} now {now}");
    assert_eq!(raw["exp"].as_i64().unwrap(), iat + 900);
    assert_eq!(raw["aud"], "authenticated");
    assert_eq!(raw["role"], "authenticated");
    assert_eq!(raw["iss"], ISSUER);
    assert_eq!(raw["phone"], "");
    assert_eq!(raw["aal"], "aal1");
    assert_eq!(raw["is_anonymous"], false);
    assert_eq!(
        raw["amr"],
        json!([{"method": "password", "timestamp": iat}])
    );
    assert_eq!(
        raw["app_metadata"],
        json!({"provider": "email", "providers": ["email"]})
    );
    assert_eq!(raw["user_metadata"], json!({}));
    let session = raw["session_id"].as_str().unwrap();
    assert!(Uuid::parse_str(session).is_ok());
    assert_eq!(c.session_id.as_deref(), Some(session));
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));

    // Without email and issuer: "" and no iss, as GoTrue does.
    let plain = mint_token(
        &secret(),
        user,
        None,
        Duration::from_secs(60),
        "authenticated",
        None,
    )
    .unwrap();
    let c = secret_auth().verify(&plain).await.unwrap();
    assert_eq!(c.raw["email"], "");
    assert_eq!(c.email, None);
    assert!(c.raw.get("iss").is_none());
    assert_ne!(
        c.session_id,
        Some(session.to_owned()),
        "a new session id each time"
    );
    assert_eq!(strict.verify(&plain).await, Err(AuthError::BadIssuer));

    let weak = SecretString::from("too-short");
    assert!(matches!(
        mint_token(
            &weak,
            user,
            None,
            Duration::from_secs(60),
            "authenticated",
            None
        ),
        Err(AuthError::Misconfigured(_))
    ));
    assert!(matches!(
        mint_token(&secret(), user, None, Duration::ZERO, "authenticated", None),
        Err(AuthError::Misconfigured(_))
    ));
}

#[tokio::test]
async fn minted_tokens_carry_the_assurance_level_asked_for() {
    let user = Uuid::new_v4();
    let auth = secret_auth();
    let mint = |aal: Option<Aal>| {
        let opts = MintOptions {
            email: Some("me@example.com"),
            aal,
            ..MintOptions::new("authenticated", Duration::from_secs(60))
        };
        mint_token_with(&secret(), user, &opts).unwrap()
    };

    let c = auth.verify(&mint(Some(Aal::Aal2))).await.unwrap();
    assert_eq!(c.aal.as_deref(), Some("aal2"));
    assert!(c.is_aal2());
    let iat = c.raw["iat"].as_i64().unwrap();
    assert_eq!(
        c.raw["amr"],
        json!([{"method": "totp", "timestamp": iat}, {"method": "password", "timestamp": iat}])
    );

    let c = auth.verify(&mint(Some(Aal::Aal1))).await.unwrap();
    assert_eq!(c.aal.as_deref(), Some("aal1"));
    assert!(!c.is_aal2());

    let c = auth.verify(&mint(None)).await.unwrap();
    assert!(c.raw.get("aal").is_none(), "{}", c.raw);
    assert_eq!(c.aal, None);
    assert!(!c.is_aal2());

    // The older function still mints what it did: a password sign-in, aal1.
    let old = mint_token(
        &secret(),
        user,
        None,
        Duration::from_secs(60),
        "authenticated",
        None,
    )
    .unwrap();
    assert_eq!(
        auth.verify(&old).await.unwrap().aal.as_deref(),
        Some("aal1")
    );

    // Only a token that says aal2 is aal2; the claim is not guessed from amr.
    for aal in [json!("AAL2"), json!("aal3"), json!(2), json!(null)] {
        let c = auth
            .verify(&hs(&claims(json!({ "aal": aal }))))
            .await
            .unwrap();
        assert!(!c.is_aal2(), "{aal}");
    }
}

#[test]
fn a_key_set_over_plain_http_is_refused_unless_on_loopback() {
    for url in [
        "http://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json",
        "http://192.168.1.20:54321/auth/v1/.well-known/jwks.json",
        "http://localhost.attacker.example/jwks.json",
    ] {
        let err = Authenticator::new(AuthConfig {
            jwks_url: Some(url.to_owned()),
            ..AuthConfig::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("JWT_JWKS_URL"), "{url}: {err}");
        assert!(err.to_string().contains("https"), "{url}: {err}");
    }
    for url in [
        "https://abcdefghijklmnopqrst.supabase.co/auth/v1/.well-known/jwks.json",
        "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json",
        "http://[::1]:54321/auth/v1/.well-known/jwks.json",
        "http://localhost:54321/auth/v1/.well-known/jwks.json",
    ] {
        assert!(
            Authenticator::new(AuthConfig {
                jwks_url: Some(url.to_owned()),
                ..AuthConfig::default()
            })
            .is_ok(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn errors_never_show_the_token_or_the_secret() {
    let auth = secret_auth();
    let c = claims(json!({"email": "leak@example.com"}));
    let now = now_s();
    let tokens = [
        hs(&claims(json!({"exp": now - 600}))),
        hs(&claims(json!({"aud": "x"}))),
        hs(&claims(json!({"role": "anon"}))),
        hs(&claims(json!({"sub": "x"}))),
        sign(
            Algorithm::HS256,
            None,
            Key::Hmac(b"another-secret-that-is-also-32-bytes-long"),
            &c,
        ),
        sign(Algorithm::HS512, None, Key::Hmac(SECRET.as_bytes()), &c),
        format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&c)),
        "garbage-token-value".to_owned(),
    ];
    for token in &tokens {
        let err = auth.verify(token).await.unwrap_err();
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(token.as_str()), "{text}");
            assert!(!text.contains(SECRET), "{text}");
            assert!(!text.contains("leak@example.com"), "{text}");
            for part in token.split('.').filter(|p| p.len() > 8) {
                assert!(!text.contains(part), "{text}");
            }
        }
    }
    let dbg = format!("{auth:?}");
    assert!(!dbg.contains(SECRET), "{dbg}");
    let short = "short-secret-value";
    let err = Authenticator::new(AuthConfig {
        hs256_secret: Some(SecretString::from(short)),
        ..AuthConfig::default()
    })
    .unwrap_err();
    assert!(!err.to_string().contains(short), "{err}");
    assert!(!format!("{err:?}").contains(short));
}

#[test]
fn at_least_one_key_source_is_required() {
    let err = Authenticator::new(AuthConfig::default()).unwrap_err();
    assert!(err.to_string().contains("JWT_SECRET"), "{err}");
    assert!(err.to_string().contains("JWT_JWKS_URL"), "{err}");
}
