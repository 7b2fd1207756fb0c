//! The account endpoints end to end: the real server on port 0, SQLite always, Postgres when
//! TEST_DATABASE_URL is set, each test with its own database and simulated broker.


use crate::common;

use common::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

const SEED_CONNECT: &str = r#"{
  "account_name": "My Demo Account",
  "login": "5042856355",
  "password": "V!QzRxQ7",
  "server": "MetaQuotes-Demo",
  "broker_name": "MetaQuotes",
  "account_type": "demo",
  "set_as_default": true
}"#;

fn seed_connect() -> Value {
    serde_json::from_str(SEED_CONNECT).unwrap()
}

fn error_code(body: &Value) -> &str {
    assert_eq!(body["success"], false, "{body}");
    body["error"]["code"].as_str().unwrap_or("<none>")
}

fn fields_at_fault(body: &Value) -> Vec<String> {
    body["error"]["details"]["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

async fn seed_flow(app: TestApp) -> TestApp {
    let user = Uuid::new_v4();
    let t = app.token(user);

    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, seed_connect())
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["success"], true);
    let id = b["account_id"].as_str().unwrap().to_string();
    Uuid::parse_str(&id).unwrap();
    assert_eq!(
        b["account"],
        json!({"login": 5042856355u64, "server": "MetaQuotes-Demo", "balance": 100000.0, "equity": 100000.0,
               "trade_allowed": true})
    );

    let (s, b) = app.get("/api/v1/accounts", &t).await;
    assert_eq!(s, 200);
    let accounts = b["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    let a = &accounts[0];
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["account_name"], "My Demo Account");
    assert_eq!(a["login"], 5042856355u64);
    assert_eq!(a["server"], "MetaQuotes-Demo");
    assert_eq!(a["broker_name"], "MetaQuotes");
    assert_eq!(a["account_type"], "demo");
    assert_eq!(a["is_active"], true);
    assert_eq!(a["is_default"], true);
    assert_eq!(a["trade_allowed"], true, "as the verifying login reported");
    let created = a["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
    time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).unwrap();
    let mut keys: Vec<&String> = a.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "account_name",
            "account_type",
            "broker_name",
            "created_at",
            "id",
            "is_active",
            "is_default",
            "login",
            "server",
            "trade_allowed"
        ]
    );

    let (s, b) = app
        .post(&format!("/api/v1/accounts/{id}/switch"), &t, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"success": true, "account": {"login": 5042856355u64, "server": "MetaQuotes-Demo", "balance": 100000.0}})
    );

    let (s, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"account": {"id": id, "login": 5042856355u64, "server": "MetaQuotes-Demo", "balance": 100000.0, "equity": 100000.0}})
    );

    let (s, b) = app
        .put(&format!("/api/v1/accounts/{id}"), &t, json!({"account_name": "Updated Name", "risk_limits": {"max_daily_loss": 0.03, "max_risk_per_trade": 0.01}}))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["success"], true);
    assert_eq!(b["account"]["account_name"], "Updated Name");
    assert_eq!(
        b["account"]["risk_limits"],
        json!({"max_daily_loss": 0.03, "max_risk_per_trade": 0.01})
    );
    assert_eq!(
        b["account"]["broker_name"], "MetaQuotes",
        "absent fields unchanged"
    );

    let (s, b) = app.get(&format!("/api/v1/accounts/{id}"), &t).await;
    assert_eq!(s, 200);
    assert_eq!(b["account"]["account_name"], "Updated Name");
    assert_eq!(b["account"]["risk_limits"]["max_daily_loss"], 0.03);
    let rfc = &time::format_description::well_known::Rfc3339;
    let updated =
        time::OffsetDateTime::parse(b["account"]["updated_at"].as_str().unwrap(), rfc).unwrap();
    assert!(
        updated > time::OffsetDateTime::parse(created, rfc).unwrap(),
        "updated_at moves on update"
    );

    let (s, b) = app.delete(&format!("/api/v1/accounts/{id}"), &t).await;
    assert_eq!(s, 200);
    assert_eq!(b, json!({"success": true}));
    for (m, path) in [
        (Method::GET, format!("/api/v1/accounts/{id}")),
        (Method::POST, format!("/api/v1/accounts/{id}/switch")),
        (Method::DELETE, format!("/api/v1/accounts/{id}")),
    ] {
        let (s, b) = app.call(m, &path, Some(&t), None).await;
        assert_eq!((s, error_code(&b)), (404, "account_not_found"), "{path}");
    }
    let (_, b) = app.get("/api/v1/accounts", &t).await;
    assert_eq!(b["accounts"], json!([]));
    let (_, b) = app.get("/api/v1/accounts?include_inactive=true", &t).await;
    assert_eq!(b["accounts"][0]["is_active"], false);
    assert_eq!(b["accounts"][0]["is_default"], false);
    let (s, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!((s, error_code(&b)), (404, "no_account"));

    // Connecting the same login and server again reactivates the row with the new password.
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, seed_connect())
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["account_id"], id.as_str());
    let (_, b) = app.get("/api/v1/accounts", &t).await;
    assert_eq!(b["accounts"][0]["is_active"], true);
    app
}
both_backends!(seed_endpoints_and_bodies, seed_flow);

async fn isolation(app: TestApp) -> TestApp {
    let (ua, ub) = (Uuid::new_v4(), Uuid::new_v4());
    let (ta, tb) = (app.token(ua), app.token(ub));
    let a_id = app
        .connect(&ta, 10001, "Sim-10001!", "Sim-Demo", "A's account")
        .await;

    let (_, b) = app.get("/api/v1/accounts", &tb).await;
    assert_eq!(b["accounts"], json!([]));
    let (s, b) = app.get(&format!("/api/v1/accounts/{a_id}"), &tb).await;
    assert_eq!((s, error_code(&b)), (404, "account_not_found"));
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{a_id}"),
            &tb,
            json!({"account_name": "stolen"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (404, "account_not_found"));
    let (s, b) = app
        .post(&format!("/api/v1/accounts/{a_id}/switch"), &tb, json!({}))
        .await;
    assert_eq!((s, error_code(&b)), (404, "account_not_found"));
    let (s, b) = app.delete(&format!("/api/v1/accounts/{a_id}"), &tb).await;
    assert_eq!((s, error_code(&b)), (404, "account_not_found"));
    let (s, b) = app.get("/api/v1/accounts/current", &tb).await;
    assert_eq!((s, error_code(&b)), (404, "no_account"));

    // A's account is untouched.
    let (_, b) = app.get(&format!("/api/v1/accounts/{a_id}"), &ta).await;
    assert_eq!(b["account"]["account_name"], "A's account");
    assert_eq!(b["account"]["is_active"], true);

    // The same MT5 login may be connected by another user: rows are per user.
    let b_id = app
        .connect(&tb, 10001, "Sim-10001!", "Sim-Demo", "B's view")
        .await;
    assert_ne!(a_id, b_id);
    let (_, b) = app.get("/api/v1/accounts", &ta).await;
    assert_eq!(b["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(b["accounts"][0]["id"], a_id.as_str());
    app
}
both_backends!(users_cannot_see_or_touch_each_other, isolation);

async fn defaults_and_current(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    let first = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "first")
        .await;
    let second = app
        .connect(&t, 10002, "Sim-10002!", "Sim-Demo", "second")
        .await;
    let (_, b) = app.get("/api/v1/accounts", &t).await;
    let defaults: Vec<&str> = b["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["is_default"] == true)
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        defaults,
        vec![first.as_str()],
        "the first account becomes the default"
    );

    // Current falls back to the default; connecting does not change it.
    let (_, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!(b["account"]["id"], first.as_str());
    let (s, _) = app
        .post(&format!("/api/v1/accounts/{second}/switch"), &t, json!({}))
        .await;
    assert_eq!(s, 200);
    let third = {
        let (s, b) = app
            .post("/api/v1/accounts/connect", &t, json!({"account_name": "third", "login": 10003, "password": "Sim-10003!", "server": "Sim-Demo", "set_as_default": true}))
            .await;
        assert_eq!(s, 201, "{b}");
        b["account_id"].as_str().unwrap().to_string()
    };
    let (_, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!(
        b["account"]["id"],
        second.as_str(),
        "connect keeps the current account"
    );
    assert_eq!(b["account"]["login"], 10002);

    let (_, b) = app.get(&format!("/api/v1/accounts/{third}"), &t).await;
    assert_eq!(b["account"]["is_default"], true);
    assert_eq!(
        b["account"]["account_type"], "demo",
        "filled from the terminal"
    );
    let (_, b) = app.get(&format!("/api/v1/accounts/{first}"), &t).await;
    assert_eq!(b["account"]["is_default"], false);

    // PUT is_default moves it back; is_default false on the default is refused.
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{first}"),
            &t,
            json!({"is_default": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["account"]["is_default"], true);
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{first}"),
            &t,
            json!({"is_default": false}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"));

    // Deleting the default promotes the oldest remaining active account.
    let (s, _) = app.delete(&format!("/api/v1/accounts/{first}"), &t).await;
    assert_eq!(s, 200);
    let (_, b) = app.get(&format!("/api/v1/accounts/{second}"), &t).await;
    assert_eq!(b["account"]["is_default"], true);
    // Deleting the current account makes current fall back to the default.
    let (s, _) = app.delete(&format!("/api/v1/accounts/{second}"), &t).await;
    assert_eq!(s, 200);
    let (_, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!(b["account"]["id"], third.as_str());
    app
}
both_backends!(default_and_current_account_rules, defaults_and_current);

async fn connect_errors(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    let base = json!({"account_name": "x", "login": 10001, "password": "Sim-10001!", "server": "Sim-Demo"});

    // Wrong password, unknown login, unknown server: MT5 refuses the login.
    for (field, value) in [
        ("password", json!("wrong")),
        ("login", json!(999999)),
        ("server", json!("Nowhere-Demo")),
    ] {
        let mut body = base.clone();
        body[field] = value;
        let (s, b) = app.post("/api/v1/accounts/connect", &t, body).await;
        assert_eq!(
            (s, error_code(&b)),
            (422, "mt5_login_failed"),
            "{field}: {b}"
        );
        assert_eq!(b["error"]["details"]["mt5_error_code"], -6);
        assert_eq!(
            b["error"]["details"]["mt5_error_message"],
            "Terminal: Authorization failed"
        );
    }
    let (_, b) = app.get("/api/v1/accounts", &t).await;
    assert_eq!(
        b["accounts"],
        json!([]),
        "nothing stored after a failed login"
    );

    // A real account labelled demo, and a demo labelled live.
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, json!({"account_name": "x", "login": 20001, "password": "Live-20001!", "server": "Sim-Live", "account_type": "demo"}))
        .await;
    assert_eq!((s, error_code(&b)), (422, "account_type_mismatch"), "{b}");
    assert_eq!(b["error"]["details"]["terminal_account_type"], "live");
    let mut live = base.clone();
    live["account_type"] = json!("live");
    let (s, b) = app.post("/api/v1/accounts/connect", &t, live).await;
    assert_eq!((s, error_code(&b)), (422, "account_type_mismatch"));
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, json!({"account_name": "live", "login": 20001, "password": "Live-20001!", "server": "Sim-Live", "account_type": "live"}))
        .await;
    assert_eq!(s, 201, "{b}");

    // Twice the same login and server.
    let (s, _) = app.post("/api/v1/accounts/connect", &t, base.clone()).await;
    assert_eq!(s, 201);
    let (s, b) = app.post("/api/v1/accounts/connect", &t, base).await;
    assert_eq!((s, error_code(&b)), (409, "account_exists"));
    app
}
both_backends!(connect_refusals, connect_errors);

async fn validation(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &t,
            json!({"account_name": "", "login": "12ab", "password": 5, "server": "x".repeat(300), "account_type": "paper", "set_as_default": "yes", "color": "red"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"), "{b}");
    let mut fields = fields_at_fault(&b);
    fields.sort();
    assert_eq!(
        fields,
        [
            "account_name",
            "account_type",
            "color",
            "login",
            "password",
            "server",
            "set_as_default"
        ]
    );

    let (s, b) = app.post("/api/v1/accounts/connect", &t, json!({})).await;
    assert_eq!(s, 422);
    let mut fields = fields_at_fault(&b);
    fields.sort();
    assert_eq!(fields, ["account_name", "login", "password", "server"]);

    for login in [json!(0), json!(-5), json!(1.5), json!("")] {
        let (s, b) = app
            .post(
                "/api/v1/accounts/connect",
                &t,
                json!({"account_name": "n", "login": login, "password": "p", "server": "s"}),
            )
            .await;
        assert_eq!(s, 422);
        assert_eq!(fields_at_fault(&b), ["login"]);
    }

    let (s, b) = app.get("/api/v1/accounts/not-a-uuid", &t).await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"));
    assert_eq!(fields_at_fault(&b), ["account_id"]);
    let (s, b) = app.post("/api/v1/accounts/123/switch", &t, json!({})).await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"));

    let id = app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "v").await;
    let (s, b) = app
        .put(&format!("/api/v1/accounts/{id}"), &t, json!({"risk_limits": {"max_daily_loss": 2, "max_positions": 0, "bogus": true}, "account_name": null}))
        .await;
    assert_eq!(s, 422, "{b}");
    let mut fields = fields_at_fault(&b);
    fields.sort();
    assert_eq!(
        fields,
        [
            "account_name",
            "risk_limits.bogus",
            "risk_limits.max_daily_loss",
            "risk_limits.max_positions"
        ]
    );
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"risk_limits": {"max_positions": 3, "trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["account"]["risk_limits"],
        json!({"max_positions": 3, "trading_enabled": false})
    );
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"risk_limits": null}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["account"]["risk_limits"], Value::Null);

    let (s, b) = app.get("/api/v1/accounts?include_inactive=maybe", &t).await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"));
    app
}
both_backends!(validation_names_every_field, validation);

async fn password_change(app: TestApp) -> TestApp {
    let t = app.token(Uuid::new_v4());
    let id = app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "pw").await;
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": "not-it"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "mt5_login_failed"));
    // The stored password is unchanged: switching (which may log in again) still works.
    let (s, b) = app
        .post(&format!("/api/v1/accounts/{id}/switch"), &t, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"password": "Sim-10002!", "broker_name": "Sim Broker"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["account"]["broker_name"], "Sim Broker");
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &t,
            json!({"account_type": "live"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "account_type_mismatch"), "{b}");
    app
}
both_backends!(password_change_is_verified, password_change);

async fn audit_trail(app: TestApp) -> TestApp {
    use mt5_bridge::store::UserCtx;
    let user = Uuid::new_v4();
    let t = app.token(user);
    let ctx = UserCtx {
        user_id: user,
        email: None,
        claims: json!({"sub": user.to_string(), "role": "authenticated"}),
    };
    let a = app
        .connect(&t, 10001, "Sim-10001!", "Sim-Demo", "audited")
        .await;
    let wrong = "Not-The-Password-42";
    let (s, b) = app
        .post(
            "/api/v1/accounts/connect",
            &t,
            json!({"account_name": "b", "login": 10002, "password": wrong, "server": "Sim-Demo"}),
        )
        .await;
    assert_eq!((s, error_code(&b)), (422, "mt5_login_failed"));
    let mt5_code = b["error"]["details"]["mt5_error_code"].clone();
    let b_id = app.connect(&t, 10002, "Sim-10002!", "Sim-Demo", "b").await;
    let mut ciphertexts: Vec<String> = app
        .state
        .store
        .list_accounts(&ctx, true)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.encrypted_password)
        .collect();
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{a}"),
            &t,
            json!({"password": "Sim-10001!"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = app
        .post(&format!("/api/v1/accounts/{b_id}/switch"), &t, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    ciphertexts.extend(
        app.state
            .store
            .list_accounts(&ctx, true)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.encrypted_password),
    );
    let (s, _) = app.delete(&format!("/api/v1/accounts/{b_id}"), &t).await;
    assert_eq!(s, 200);

    let mut entries = app.state.store.list_audit(&ctx, 100).await.unwrap();
    entries.reverse();
    let seen: Vec<(&str, Option<String>)> = entries
        .iter()
        .map(|e| (e.event.as_str(), e.account_id.map(|i| i.to_string())))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("account_connected", Some(a.clone())),
            ("connect_failed", None),
            ("account_connected", Some(b_id.clone())),
            ("password_changed", Some(a.clone())),
            ("account_switched", Some(b_id.clone())),
            ("account_deleted", Some(b_id.clone())),
        ]
    );
    assert!(entries.iter().all(|e| e.user_id == Some(user)));
    assert_eq!(
        entries[0].details,
        json!({"login": "10001", "server": "Sim-Demo", "account_name": "audited"})
    );
    assert_eq!(entries[1].details["login"], "10002");
    assert!(mt5_code.is_i64(), "{b}");
    assert_eq!(entries[1].details["mt5_error_code"], mt5_code);
    assert_eq!(entries[4].details, json!({"from": a, "to": b_id}));
    assert_eq!(
        entries[5].details,
        json!({"login": "10002", "server": "Sim-Demo"})
    );

    // The user reads the same log over the API, newest first; another user sees none of it.
    let (s, b) = app.get("/api/v1/audit", &t).await;
    assert_eq!(s, 200, "{b}");
    let events: Vec<&str> = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = seen.iter().map(|(e, _)| *e).collect();
    want.reverse();
    assert_eq!(events, want);
    assert_eq!(b["entries"][0]["details"]["login"], "10002");
    assert!(b["entries"][0]["created_at"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let (s, b) = app.get("/api/v1/audit?limit=2", &t).await;
    assert_eq!((s, b["entries"].as_array().unwrap().len()), (200, 2));
    let stranger = app.token(Uuid::new_v4());
    let (s, b) = app.get("/api/v1/audit", &stranger).await;
    assert_eq!((s, b), (200, json!({"entries": []})));
    for bad in ["0", "501", "ten"] {
        let (s, b) = app.get(&format!("/api/v1/audit?limit={bad}"), &t).await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(b["error"]["details"]["fields"][0]["field"], "limit", "{b}");
    }

    // No secret in any row: not a password, the token, nor a ciphertext.
    assert_eq!(ciphertexts.len(), 4);
    let mut secrets = vec![
        wrong.to_string(),
        "Sim-10001!".into(),
        "Sim-10002!".into(),
        t.clone(),
    ];
    secrets.extend(ciphertexts);
    for e in &entries {
        let text = e.details.to_string();
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{} holds a secret: {text}",
                e.event
            );
        }
    }
    app
}
both_backends!(
    audit_log_records_account_events_without_secrets,
    audit_trail
);

#[tokio::test]
async fn http_level_errors() {
    let app = common::spawn(common::Db::Sqlite).await;
    let t = app.token(Uuid::new_v4());

    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, b), (200, json!({"status": "ok"})));

    let (s, b) = app.call(Method::GET, "/api/v1/nope", Some(&t), None).await;
    assert_eq!((s, error_code(&b)), (404, "not_found"));
    let (s, b) = app
        .call(Method::PATCH, "/api/v1/accounts", Some(&t), None)
        .await;
    assert_eq!((s, error_code(&b)), (405, "method_not_allowed"));

    let big = json!({"account_name": "x".repeat(70 * 1024)});
    let (s, b) = app.post("/api/v1/accounts/connect", &t, big).await;
    assert_eq!((s, error_code(&b)), (413, "payload_too_large"));

    let resp = app
        .client
        .post(format!("{}/api/v1/accounts/connect", app.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{\"login\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let b: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&b), "invalid_json");

    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, json!([1, 2]))
        .await;
    assert_eq!((s, error_code(&b)), (422, "validation_failed"));
    app.shutdown().await;
}

#[tokio::test]
async fn authentication_failures_are_401() {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let app = common::spawn(common::Db::Sqlite).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({"sub": Uuid::new_v4(), "role": "authenticated", "aud": "authenticated", "exp": now + 600, "iat": now, "is_anonymous": false});
        f(&mut c);
        c
    };
    let sign = |c: &Value, secret: &str| {
        encode(
            &Header::default(),
            c,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let s = common::JWT_SECRET;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("malformed", Some("not.a.jwt".into())),
        (
            "expired",
            Some(sign(&claims(&|c| c["exp"] = json!(now - 3600)), s)),
        ),
        (
            "wrong audience",
            Some(sign(&claims(&|c| c["aud"] = json!("anon")), s)),
        ),
        (
            "anon role",
            Some(sign(&claims(&|c| c["role"] = json!("anon")), s)),
        ),
        (
            "service role",
            Some(sign(&claims(&|c| c["role"] = json!("service_role")), s)),
        ),
        (
            "sub not a uuid",
            Some(sign(&claims(&|c| c["sub"] = json!("user-1")), s)),
        ),
        (
            "bad signature",
            Some(sign(
                &claims(&|_| {}),
                "another-secret-another-secret-another-secret",
            )),
        ),
        (
            "alg none",
            Some({
                use base64::Engine;
                let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                format!(
                    "{}.{}.",
                    e.encode(br#"{"alg":"none","typ":"JWT"}"#),
                    e.encode(claims(&|_| {}).to_string())
                )
            }),
        ),
    ];
    for (name, token) in cases {
        let (st, headers, b) = app
            .call_full(Method::GET, "/api/v1/accounts", token.as_deref(), None)
            .await;
        assert_eq!((st, error_code(&b)), (401, "unauthorized"), "{name}");
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "{name}"
        );
    }
    let resp = app
        .client
        .get(format!("{}/api/v1/accounts", app.base))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);

    // Anonymous sign-ins are authenticated but may not store credentials.
    let anon = sign(&claims(&|c| c["is_anonymous"] = json!(true)), s);
    let (st, b) = app.get("/api/v1/accounts", &anon).await;
    assert_eq!(st, 200, "{b}");
    let (st, b) = app
        .post("/api/v1/accounts/connect", &anon, seed_connect())
        .await;
    assert_eq!((st, error_code(&b)), (403, "anonymous_not_allowed"));
    app.shutdown().await;
}

#[tokio::test]
async fn terminal_unavailable_and_timeout() {
    // Every call after the login loses the connection: 503.
    let mut sim = common::sim_config();
    sim.faults = mt5_sim::config::FaultConfig {
        login_fail: 0.0,
        disconnect: 1.0,
        timeout: 0.0,
        ..Default::default()
    };
    let app = common::spawn_with(common::Db::Sqlite, sim, |_| {}).await;
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, seed_connect())
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app.get("/api/v1/accounts/current", &t).await;
    assert_eq!((s, error_code(&b)), (503, "terminal_unavailable"), "{b}");
    app.shutdown().await;

    // A login slower than the deadline: 504.
    let mut sim = common::sim_config();
    sim.login_latency_ms = 3_000;
    let app = common::spawn_with(common::Db::Sqlite, sim, |env| {
        env.insert("TERMINAL_TIMEOUT_MS", "300".into());
    })
    .await;
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, seed_connect())
        .await;
    assert_eq!((s, error_code(&b)), (504, "terminal_timeout"), "{b}");
    app.shutdown().await;
}

#[tokio::test]
async fn cors_preflight_allows_configured_origins() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("CORS_ALLOWED_ORIGINS", "https://app.example.com".into());
    })
    .await;
    let pre = app
        .client
        .request(
            Method::OPTIONS,
            format!("{}/api/v1/accounts/connect", app.base),
        )
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(
        pre.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
    let other = app
        .client
        .request(
            Method::OPTIONS,
            format!("{}/api/v1/accounts/connect", app.base),
        )
        .header("origin", "https://evil.example.com")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.shutdown().await;
}

/// Broker audit records of `login` (a terminal logged in with a password) and `login_failed` on
/// one MT5 login: what reached MT5.
async fn logins_at_broker(app: &TestApp, login: u64) -> usize {
    app.broker
        .audit()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.login == login && (r.operation == "login" || r.operation == "login_failed"))
        .count()
}

/// With JWT_REQUIRE_AAL2=true a stolen password-only session (`aal1`, or a token without `aal`)
/// cannot store MT5 credentials: connects and password changes answer `403 mfa_required` before
/// any login reaches MT5 (a wrong password gets the same answer, so no guess is tried), and
/// nothing is written. Everything else works for it; an `aal2` session stores credentials.
async fn mfa_gate(db: common::Db) {
    if db == common::Db::Postgres && common::postgres_url().is_none() {
        common::skip::postgres_skipped();
        return;
    }
    use mt5_bridge::auth::Aal;
    let app = common::spawn_with(db, common::sim_config(), |env| {
        env.insert("JWT_REQUIRE_AAL2", "true".into());
    })
    .await;
    let user = Uuid::new_v4();
    let aal1 = app.token_with_aal(user, Some(Aal::Aal1));
    let no_aal = app.token_with_aal(user, None);
    let aal2 = app.token_with_aal(user, Some(Aal::Aal2));
    let connect = |password: &str| json!({"account_name": "mine", "login": 10001, "password": password, "server": "Sim-Demo"});
    let refused = |s: u16, b: &Value, what: &str| {
        assert_eq!((s, error_code(b)), (403, "mfa_required"), "{what}: {b}");
        assert_eq!(
            b["error"]["message"],
            "multi-factor authentication is required to store MT5 credentials"
        );
        assert_eq!(b["error"]["details"], Value::Null, "{what}: {b}");
    };

    for (name, t) in [("aal1", &aal1), ("no aal", &no_aal)] {
        for password in ["Sim-10001!", "a-guess"] {
            let (s, b) = app
                .post("/api/v1/accounts/connect", t, connect(password))
                .await;
            refused(s, &b, &format!("connect, {name}, {password}"));
        }
    }
    assert_eq!(
        logins_at_broker(&app, 10001).await,
        0,
        "nothing reached MT5"
    );
    let (s, b) = app
        .get("/api/v1/accounts?include_inactive=true", &aal1)
        .await;
    assert_eq!(
        (s, &b["accounts"]),
        (200, &json!([])),
        "nothing stored: {b}"
    );
    let (s, b) = app.get("/api/v1/audit", &aal1).await;
    assert_eq!((s, &b["entries"]), (200, &json!([])), "{b}");

    // A session that passed MFA connects.
    let (s, b) = app
        .post("/api/v1/accounts/connect", &aal2, connect("Sim-10001!"))
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["account_id"].as_str().unwrap().to_string();
    let logins = logins_at_broker(&app, 10001).await;

    // Reads, switches and settings other than the password work without MFA.
    for t in [&aal1, &no_aal] {
        let (s, b) = app.get("/api/v1/accounts", t).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["accounts"][0]["id"], id.as_str());
        let (s, b) = app.get(&format!("/api/v1/accounts/{id}"), t).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = app
            .post(&format!("/api/v1/accounts/{id}/switch"), t, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = app.get("/api/v1/accounts/current", t).await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = app.get("/api/v1/positions", t).await;
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &aal1,
            json!({"account_name": "renamed", "risk_limits": {"max_positions": 2}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["account"]["account_name"], "renamed");

    // A new password needs MFA, right or wrong, alone or with other fields; nothing is changed.
    for (name, t) in [("aal1", &aal1), ("no aal", &no_aal)] {
        for body in [
            json!({"password": "Sim-10001!"}),
            json!({"password": "a-guess"}),
            json!({"password": "Sim-10001!", "account_name": "sneaky"}),
        ] {
            let (s, b) = app.put(&format!("/api/v1/accounts/{id}"), t, body).await;
            refused(s, &b, &format!("password change, {name}"));
        }
    }
    let (_, b) = app.get(&format!("/api/v1/accounts/{id}"), &aal1).await;
    assert_eq!(b["account"]["account_name"], "renamed");
    assert_eq!(
        logins_at_broker(&app, 10001).await,
        logins,
        "no password change reached MT5"
    );
    let (_, b) = app.get("/api/v1/audit", &aal1).await;
    let events: Vec<&str> = b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert!(
        !events
            .iter()
            .any(|e| e.starts_with("password_change") || *e == "connect_failed"),
        "{events:?}"
    );

    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &aal2,
            json!({"password": "Sim-10001!"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_is_required_to_store_credentials_when_configured_sqlite() {
    mfa_gate(common::Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_is_required_to_store_credentials_when_configured_postgres() {
    mfa_gate(common::Db::Postgres).await;
}

/// Without JWT_REQUIRE_AAL2, as before: `aal1` sessions and tokens without `aal` store credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_setting_aal1_stores_credentials() {
    use mt5_bridge::auth::Aal;
    let app = common::spawn(common::Db::Sqlite).await;
    let user = Uuid::new_v4();
    let aal1 = app.token_with_aal(user, Some(Aal::Aal1));
    let no_aal = app.token_with_aal(user, None);
    let id = app
        .connect(&aal1, 10001, "Sim-10001!", "Sim-Demo", "aal1")
        .await;
    let (s, b) = app
        .put(
            &format!("/api/v1/accounts/{id}"),
            &aal1,
            json!({"password": "Sim-10001!"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    app.connect(&no_aal, 10002, "Sim-10002!", "Sim-Demo", "no aal")
        .await;
    app.shutdown().await;
}

/// A query string or path segment that cannot be read is refused in the error envelope
/// (`422 validation_failed` naming the parameter), as JSON, never as axum's plain-text 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_queries_and_paths_answer_in_the_envelope() {
    let app = common::spawn(common::Db::Sqlite).await;
    let t = app.token(Uuid::new_v4());
    for (path, field) in [
        (
            "/api/v1/accounts?include_inactive=true&include_inactive=false",
            "include_inactive",
        ),
        ("/api/v1/audit?limit=1&limit=2", "limit"),
        // Percent-decoded, not UTF-8.
        ("/api/v1/accounts/%FF%FE", "account_id"),
        ("/api/v1/algorithms/runs/%C3%28", "run_id"),
        ("/api/v1/symbols/%FF/tick", "symbol"),
        ("/api/v1/positions/%80/close", "ticket"),
    ] {
        let method = if path.ends_with("/close") {
            Method::POST
        } else {
            Method::GET
        };
        let (s, headers, b) = app.call_full(method, path, Some(&t), None).await;
        let ctype = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert_eq!(s, 422, "{path}: {b}");
        assert!(ctype.starts_with("application/json"), "{path}: {ctype}");
        assert_eq!(b["error"]["code"], "validation_failed", "{path}: {b}");
        assert_eq!(
            b["error"]["details"]["fields"][0]["field"], field,
            "{path}: {b}"
        );
    }
    app.shutdown().await;
}
