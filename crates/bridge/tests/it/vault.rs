//! The credential vault: envelopes round-trip, are bound to their row, name their key, and rotate.
//!
//! Rotation runs against a SQLite store always and a fresh Postgres database when
//! `TEST_DATABASE_URL` is set.


use crate::skip;

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use crate::postgres_db;
use mt5_bridge::store::{self, AccountStore, NewAccount, UserCtx};
use mt5_bridge::vault::{
    parse_old_keys, rotate_all, Binding, CredentialKey, RotationReport, Vault, VaultError,
    TOMBSTONE,
};
use postgres_db::fresh_postgres_database;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use uuid::Uuid;

const PASSWORD: &str = "V!QzRxQ7-secret";

fn key(id: &str, byte: u8) -> CredentialKey {
    CredentialKey::from_base64(id, &STANDARD.encode([byte; 32])).unwrap()
}

fn binding(account: Uuid, user: Uuid) -> Binding<'static> {
    Binding {
        account_id: account,
        user_id: user,
        login: "5042856355",
        server: "MetaQuotes-Demo",
    }
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

#[test]
fn round_trip() {
    let vault = Vault::new(key("k1", 1), vec![]);
    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let envelope = vault.encrypt(&secret(PASSWORD), &b).unwrap();
    assert!(envelope.starts_with("v1:k1:"), "{envelope}");
    assert!(!envelope.contains(PASSWORD));
    assert_eq!(Vault::key_id_of(&envelope), Some("k1"));
    assert_eq!(
        vault.decrypt(&envelope, &b).unwrap().expose_secret(),
        PASSWORD
    );

    // Unicode and empty passwords survive too.
    for p in ["", "пароль-密码-🔑"] {
        let e = vault.encrypt(&secret(p), &b).unwrap();
        assert_eq!(vault.decrypt(&e, &b).unwrap().expose_secret(), p);
    }
}

#[test]
fn every_encryption_uses_a_fresh_nonce() {
    let vault = Vault::new(key("k1", 1), vec![]);
    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let envelopes: Vec<String> = (0..50)
        .map(|_| vault.encrypt(&secret(PASSWORD), &b).unwrap())
        .collect();
    let mut nonces: Vec<Vec<u8>> = envelopes
        .iter()
        .map(|e| {
            let payload = e.rsplit(':').next().unwrap();
            URL_SAFE_NO_PAD.decode(payload).unwrap()[..12].to_vec()
        })
        .collect();
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 50);
    assert_ne!(envelopes[0], envelopes[1]);
    for e in &envelopes {
        assert_eq!(vault.decrypt(e, &b).unwrap().expose_secret(), PASSWORD);
    }
}

#[test]
fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    let vault = Vault::new(key("k1", 1), vec![]);
    let account = Uuid::new_v4();
    let user = Uuid::new_v4();
    let b = binding(account, user);
    let envelope = vault.encrypt(&secret(PASSWORD), &b).unwrap();

    let others = [
        Binding {
            account_id: Uuid::new_v4(),
            ..b
        },
        Binding {
            user_id: Uuid::new_v4(),
            ..b
        },
        Binding {
            login: "5042856356",
            ..b
        },
        Binding {
            server: "MetaQuotes-Live",
            ..b
        },
        // Swapping the two ids is another row too.
        Binding {
            account_id: user,
            user_id: account,
            ..b
        },
    ];
    for other in &others {
        assert_eq!(
            vault.decrypt(&envelope, other).unwrap_err(),
            VaultError::Tampered,
            "{other:?}"
        );
    }
    assert!(vault.decrypt(&envelope, &b).is_ok());
}

#[test]
fn any_flipped_byte_is_detected() {
    let vault = Vault::new(key("k1", 1), vec![]);
    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let envelope = vault.encrypt(&secret(PASSWORD), &b).unwrap();
    let payload = envelope.strip_prefix("v1:k1:").unwrap();
    let blob = URL_SAFE_NO_PAD.decode(payload).unwrap();
    // Nonce, ciphertext and tag: every position matters.
    for i in 0..blob.len() {
        let mut bad = blob.clone();
        bad[i] ^= 0x01;
        let altered = format!("v1:k1:{}", URL_SAFE_NO_PAD.encode(&bad));
        assert_eq!(
            vault.decrypt(&altered, &b).unwrap_err(),
            VaultError::Tampered,
            "byte {i}"
        );
    }
    // Truncation and garbage.
    let short = format!("v1:k1:{}", URL_SAFE_NO_PAD.encode(&blob[..20]));
    assert_eq!(
        vault.decrypt(&short, &b).unwrap_err(),
        VaultError::Malformed
    );
    let cut = format!("v1:k1:{}", URL_SAFE_NO_PAD.encode(&blob[..blob.len() - 1]));
    assert_eq!(vault.decrypt(&cut, &b).unwrap_err(), VaultError::Tampered);
    for garbage in [
        "",
        "v1",
        "v1:k1",
        "v1:k1:",
        "v2:k1:AAAA",
        "v1:k1:***",
        PASSWORD,
    ] {
        assert_eq!(
            vault.decrypt(garbage, &b).unwrap_err(),
            VaultError::Malformed,
            "{garbage:?}"
        );
    }
    assert_eq!(
        vault.decrypt(TOMBSTONE, &b).unwrap_err(),
        VaultError::Revoked
    );
}

#[test]
fn unknown_key_ids_and_old_keys() {
    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let v1 = Vault::new(key("k1", 1), vec![]);
    let envelope = v1.encrypt(&secret(PASSWORD), &b).unwrap();

    let v2_only = Vault::new(key("k2", 2), vec![]);
    assert_eq!(
        v2_only.decrypt(&envelope, &b).unwrap_err(),
        VaultError::UnknownKey("k1".into())
    );

    // The old key decrypts what it encrypted; new envelopes use the current key.
    let v2 = Vault::new(key("k2", 2), vec![key("k1", 1)]);
    assert_eq!(v2.current_key_id(), "k2");
    assert_eq!(v2.decrypt(&envelope, &b).unwrap().expose_secret(), PASSWORD);
    let fresh = v2.encrypt(&secret(PASSWORD), &b).unwrap();
    assert_eq!(Vault::key_id_of(&fresh), Some("k2"));
    assert_eq!(
        v1.decrypt(&fresh, &b).unwrap_err(),
        VaultError::UnknownKey("k2".into())
    );

    // An envelope naming a key id whose bytes differ fails authentication, not silently.
    let impostor = Vault::new(key("k1", 9), vec![]);
    assert_eq!(
        impostor.decrypt(&envelope, &b).unwrap_err(),
        VaultError::Tampered
    );
}

#[test]
fn keys_parse_from_base64_and_lists() {
    let k = CredentialKey::generate("gen");
    let b64 = k.to_base64();
    let again = CredentialKey::from_base64("gen", b64.expose_secret()).unwrap();
    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let envelope = Vault::new(k, vec![])
        .encrypt(&secret(PASSWORD), &b)
        .unwrap();
    assert_eq!(
        Vault::new(again, vec![])
            .decrypt(&envelope, &b)
            .unwrap()
            .expose_secret(),
        PASSWORD
    );
    // Two generated keys differ.
    assert_ne!(
        CredentialKey::generate("a").to_base64().expose_secret(),
        CredentialKey::generate("a").to_base64().expose_secret()
    );

    // URL-safe and unpadded forms are accepted; wrong lengths are not.
    let raw = [0xfbu8; 32];
    assert!(CredentialKey::from_base64("u", &URL_SAFE_NO_PAD.encode(raw)).is_ok());
    for bad in [
        STANDARD.encode([1u8; 31]),
        STANDARD.encode([1u8; 33]),
        "not base64!".into(),
    ] {
        let err = CredentialKey::from_base64("k", &bad).unwrap_err();
        assert_eq!(err, VaultError::InvalidKey { key_id: "k".into() });
        if !bad.contains('!') {
            assert!(
                !err.to_string().contains(&bad),
                "the key value is not echoed"
            );
        }
    }

    let a = STANDARD.encode([1u8; 32]);
    let c = STANDARD.encode([3u8; 32]);
    let keys = parse_old_keys(&format!("2024a:{a}, 2024c:{c}")).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id()).collect::<Vec<_>>(),
        vec!["2024a", "2024c"]
    );
    assert!(parse_old_keys("").unwrap().is_empty());
    assert!(parse_old_keys(" , ").unwrap().is_empty());
    assert!(matches!(
        parse_old_keys(&a).unwrap_err(),
        VaultError::InvalidKeyList(_)
    ));
    assert!(matches!(
        parse_old_keys(&format!("x:{a},x:{c}")).unwrap_err(),
        VaultError::InvalidKeyList(_)
    ));
    let err = parse_old_keys(&format!("ok:{a},short:{}", STANDARD.encode([1u8; 16]))).unwrap_err();
    assert_eq!(
        err,
        VaultError::InvalidKey {
            key_id: "short".into()
        }
    );
    for e in [
        parse_old_keys(&a).unwrap_err(),
        parse_old_keys(&format!("x:{a},x:{c}")).unwrap_err(),
    ] {
        let shown = e.to_string();
        assert!(!shown.contains(&a) && !shown.contains(&c), "{shown}");
    }
}

#[test]
fn debug_and_errors_show_no_secrets() {
    let raw = [0x5au8; 32];
    let b64 = STANDARD.encode(raw);
    let k = CredentialKey::from_base64("dbg", &b64).unwrap();
    let k_debug = format!("{k:?}");
    assert!(k_debug.contains("dbg"));
    assert!(!k_debug.contains(&b64));
    assert!(
        !k_debug.contains("90, 90") && !k_debug.contains("5a5a"),
        "{k_debug}"
    );

    let vault = Vault::new(k, vec![key("old", 7)]);
    let v_debug = format!("{vault:?}");
    assert!(v_debug.contains("dbg") && v_debug.contains("old"));
    assert!(
        !v_debug.contains(&b64) && !v_debug.contains("90, 90"),
        "{v_debug}"
    );

    let password = secret(PASSWORD);
    assert!(!format!("{password:?}").contains(PASSWORD));
    let key_b64 = key("x", 3).to_base64();
    assert!(!format!("{key_b64:?}").contains(&STANDARD.encode([3u8; 32])));

    let b = binding(Uuid::new_v4(), Uuid::new_v4());
    let envelope = vault.encrypt(&password, &b).unwrap();
    let payload = envelope.rsplit(':').next().unwrap().to_string();
    let other = binding(Uuid::new_v4(), b.user_id);
    let errors = [
        vault.decrypt(&envelope, &other).unwrap_err(),
        vault.decrypt(&format!("{envelope}x"), &b).unwrap_err(),
        Vault::new(key("z", 4), vec![])
            .decrypt(&envelope, &b)
            .unwrap_err(),
    ];
    for e in errors {
        for shown in [e.to_string(), format!("{e:?}")] {
            assert!(!shown.contains(PASSWORD), "{shown}");
            assert!(!shown.contains(&payload), "{shown}");
            assert!(!shown.contains(&b64), "{shown}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rotation over a real store

fn user_ctx() -> UserCtx {
    let id = Uuid::new_v4();
    UserCtx {
        user_id: id,
        email: None,
        claims: json!({"sub": id.to_string(), "role": "authenticated"}),
    }
}

async fn insert(
    store: &Arc<dyn AccountStore>,
    vault: &Vault,
    user: &UserCtx,
    login: &str,
    password: &str,
) -> Uuid {
    let id = Uuid::new_v4();
    let b = Binding {
        account_id: id,
        user_id: user.user_id,
        login,
        server: "Srv",
    };
    let envelope = vault.encrypt(&secret(password), &b).unwrap();
    store
        .insert_account(
            user,
            NewAccount {
                id,
                account_name: login.into(),
                login: login.into(),
                server: "Srv".into(),
                encrypted_password: envelope,
                broker_name: None,
                account_type: None,
                risk_limits: None,
            },
            false,
        )
        .await
        .unwrap();
    id
}

async fn rotation_scenario(store: Arc<dyn AccountStore>) {
    let old = Vault::new(key("k1", 1), vec![]);
    let alice = user_ctx();
    let bob = user_ctx();
    store.ensure_user(&alice).await.unwrap();
    store.ensure_user(&bob).await.unwrap();
    let a1 = insert(&store, &old, &alice, "101", "alice-one").await;
    let a2 = insert(&store, &old, &alice, "102", "alice-two").await;
    let b1 = insert(&store, &old, &bob, "201", "bob-one").await;
    let gone = insert(&store, &old, &bob, "202", "bob-gone").await;
    assert!(store.soft_delete(&bob, gone, TOMBSTONE).await.unwrap());

    // One row already under the new key, and one whose ciphertext was copied from another row.
    let new_only = Vault::new(key("k2", 2), vec![]);
    let current = insert(&store, &new_only, &bob, "203", "bob-current").await;
    let copied = store.get_account(&alice, a1).await.unwrap().unwrap();
    let forged = insert(&store, &old, &bob, "204", "bob-forged").await;
    let forged_row = store.get_account(&bob, forged).await.unwrap().unwrap();
    assert!(store
        .replace_ciphertext(
            forged,
            &forged_row.encrypted_password,
            &copied.encrypted_password
        )
        .await
        .unwrap());

    let vault = Vault::new(key("k2", 2), vec![key("k1", 1)]);
    let report = rotate_all(store.as_ref(), &vault).await.unwrap();
    assert_eq!(
        report,
        RotationReport {
            rotated: 3,
            already_current: 1,
            skipped_deleted: 1,
            failed: 1,
        }
    );

    // The rotated rows now decrypt with the new key alone, to the same passwords.
    for (user, id, login, password) in [
        (&alice, a1, "101", "alice-one"),
        (&alice, a2, "102", "alice-two"),
        (&bob, b1, "201", "bob-one"),
        (&bob, current, "203", "bob-current"),
    ] {
        let row = store.get_account(user, id).await.unwrap().unwrap();
        assert_eq!(Vault::key_id_of(&row.encrypted_password), Some("k2"));
        let b = Binding {
            account_id: id,
            user_id: user.user_id,
            login,
            server: "Srv",
        };
        assert_eq!(
            new_only
                .decrypt(&row.encrypted_password, &b)
                .unwrap()
                .expose_secret(),
            password
        );
        assert_eq!(
            old.decrypt(&row.encrypted_password, &b).unwrap_err(),
            VaultError::UnknownKey("k2".into())
        );
    }
    // The deleted account keeps its tombstone; the forged row is left as it was.
    let deleted = store
        .find_by_login(&bob, "202", "Srv")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(deleted.encrypted_password, TOMBSTONE);
    let still_forged = store.get_account(&bob, forged).await.unwrap().unwrap();
    assert_eq!(still_forged.encrypted_password, copied.encrypted_password);

    // A second run has nothing left to do but the same failure.
    let again = rotate_all(store.as_ref(), &vault).await.unwrap();
    assert_eq!(
        again,
        RotationReport {
            rotated: 0,
            already_current: 4,
            skipped_deleted: 1,
            failed: 1,
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
    let store = store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    rotation_scenario(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_on_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        skip::postgres_skipped();
        return;
    };
    let db = fresh_postgres_database(&admin)
        .await
        .expect("TEST_DATABASE_URL is set but a test database could not be created");
    let url = db.url.clone();
    let result = tokio::spawn(async move {
        let store = store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        rotation_scenario(store).await;
    })
    .await;
    let _ = db.drop().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}
