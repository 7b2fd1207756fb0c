//! The console's files as the binary serves them (the browser tests in `console/test` cover the
//! page itself): the headers on every answer, a deep link answered with the page, a missing asset
//! `404`, and `config.json` naming the Supabase project that the CSP lets the page reach.

use crate::common;

const CSP: &str = "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'";

fn assert_headers(r: &reqwest::Response, csp: &str) {
    let h = r.headers();
    assert_eq!(h["content-security-policy"], csp, "{}", r.url());
    assert_eq!(h["x-content-type-options"], "nosniff", "{}", r.url());
    assert_eq!(h["referrer-policy"], "no-referrer", "{}", r.url());
}

#[tokio::test]
async fn the_console_is_served_with_its_headers_and_deep_links() {
    let app = common::spawn(common::Db::Sqlite).await;
    let get = |path: &str| app.client.get(format!("{}{path}", app.base)).send();

    let index = get("/console/").await.unwrap();
    assert_eq!(index.status(), 200);
    assert_headers(&index, CSP);
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = index.text().await.unwrap();
    assert!(page.contains(r#"<div id="app">"#), "{page}");

    for deep in [
        "/console/positions",
        "/console/journal/",
        "/console/accounts/x",
    ] {
        let r = get(deep).await.unwrap();
        assert_eq!(r.status(), 200, "{deep}");
        assert_headers(&r, CSP);
        assert_eq!(r.text().await.unwrap(), page, "{deep} answers the page");
    }

    // Every asset the page names is served, with its type.
    let script = page
        .split("src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let r = get(script).await.unwrap();
    assert_eq!(r.status(), 200, "{script}");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert_headers(&r, CSP);

    for missing in ["/console/assets/nothing.js", "/console/favicon.ico"] {
        let r = get(missing).await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
        assert_headers(&r, CSP);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }

    let config: serde_json::Value = get("/console/config.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        config,
        serde_json::json!({"supabase_url": null, "supabase_publishable_key": null})
    );
    app.shutdown().await;
}

#[tokio::test]
async fn config_json_names_the_supabase_project_and_the_csp_lets_the_page_reach_it() {
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("SUPABASE_URL", "https://abcd.supabase.co/".into());
        env.insert("SUPABASE_PUBLISHABLE_KEY", "sb_publishable_abc".into());
    })
    .await;
    let r = app
        .client
        .get(format!("{}/console/config.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_headers(
        &r,
        "default-src 'self'; script-src 'self'; connect-src 'self' https://abcd.supabase.co; img-src 'self' data:; frame-ancestors 'none'",
    );
    let config: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        config,
        serde_json::json!({"supabase_url": "https://abcd.supabase.co", "supabase_publishable_key": "sb_publishable_abc"})
    );
    let doc: serde_json::Value = app
        .client
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.keys().any(|p| p.starts_with("/console")));
    app.shutdown().await;
}

#[test]
fn supabase_settings_go_together_and_the_url_is_an_origin() {
    use clap::Parser;
    use mt5_bridge::config::{Cli, Command, ServeSettings};
    let Command::Serve(args) = Cli::try_parse_from(["mt5-bridge", "serve"])
        .unwrap()
        .command
    else {
        unreachable!("serve parses as serve")
    };
    let load = |vars: &[(&str, &str)]| {
        let mut all = vec![
            ("JWT_SECRET", "a-test-secret-of-at-least-32-characters"),
            (
                "CREDENTIALS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            ),
        ];
        all.extend_from_slice(vars);
        ServeSettings::load(&args, &|k| {
            all.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .map(|s| s.console)
        .map_err(|e| e.to_string())
    };
    let ok = load(&[
        ("SUPABASE_URL", "http://127.0.0.1:54321"),
        ("SUPABASE_PUBLISHABLE_KEY", "anon-key"),
    ])
    .unwrap();
    assert_eq!(ok.supabase_url.as_deref(), Some("http://127.0.0.1:54321"));
    assert_eq!(load(&[]).unwrap(), Default::default());
    for (vars, says) in [
        (
            vec![("SUPABASE_URL", "https://abcd.supabase.co")],
            "set together",
        ),
        (vec![("SUPABASE_PUBLISHABLE_KEY", "k")], "set together"),
        (
            vec![
                ("SUPABASE_URL", "http://abcd.example.com"),
                ("SUPABASE_PUBLISHABLE_KEY", "k"),
            ],
            "SUPABASE_URL must be an origin",
        ),
        (
            vec![
                ("SUPABASE_URL", "https://abcd.supabase.co/auth/v1"),
                ("SUPABASE_PUBLISHABLE_KEY", "k"),
            ],
            "SUPABASE_URL must be an origin",
        ),
        (
            vec![
                ("SUPABASE_URL", "https://a.supabase.co; script-src *"),
                ("SUPABASE_PUBLISHABLE_KEY", "k"),
            ],
            "SUPABASE_URL must be an origin",
        ),
        (
            vec![
                ("SUPABASE_URL", "https://abcd.supabase.co"),
                ("SUPABASE_PUBLISHABLE_KEY", "a key"),
            ],
            "SUPABASE_PUBLISHABLE_KEY",
        ),
    ] {
        let err = load(&vars).unwrap_err();
        assert!(err.contains(says), "{vars:?}: {err}");
    }
}
