//! How the bridge reaches its terminal agents, attacked from outside: plain HTTP across a network,
//! a certificate nobody vouched for, a redirect, per-agent tokens, and `sim-agent`'s token flag.
//!
//! Certificates are generated at test time with the `openssl` command line (a private CA and an
//! agent certificate it signed, as docs/real-terminals.md shows); the TLS agent is the sim-agent's
//! router served in-process through tokio-rustls.


use crate::common;

use common::procs::{free_port, start_serve, AGENT_TOKEN as TOKEN};
use secrecy::SecretString;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_mt5-bridge");

/// Test-only TLS material: a CA, and an agent certificate for 127.0.0.1 it signed.
struct TlsFiles {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_tls_files(dir: &Path) -> TlsFiles {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509"];
    ca_args.extend(ec);
    ca_args.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mt5-bridge test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &ca_args);
    std::fs::write(
        dir.join("agent.ext"),
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let mut csr_args = vec!["req", "-new"];
    csr_args.extend(ec);
    csr_args.extend([
        "-keyout",
        "agent.key",
        "-out",
        "agent.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr_args);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "agent.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "1",
            "-days",
            "2",
            "-extfile",
            "agent.ext",
            "-out",
            "agent.pem",
        ],
    );
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join("agent.pem"),
        key: dir.join("agent.key"),
    }
}

/// What an in-process agent saw: requests that reached its router, and TLS handshakes that failed.
#[derive(Default)]
struct Seen {
    requests: AtomicUsize,
    failed_handshakes: AtomicUsize,
}

impl Seen {
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// The sim-agent's router over one simulated terminal, answering to `token`, counting requests.
async fn agent_router(token: &str, seen: Arc<Seen>) -> axum::Router {
    let cfg = common::sim_config();
    let (broker, _feed) = mt5_sim::broker::open_from_config(&cfg).await.unwrap();
    let sim = Arc::new(mt5_sim::terminal::SimTerminal::new(
        "sim-in-process".into(),
        broker,
        mt5_sim::terminal::TerminalOptions::from_config(&cfg),
    ));
    mt5_bridge::agent::server::router(sim, SecretString::from(token), "sim").layer(
        axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let seen = seen.clone();
                async move {
                    seen.requests.fetch_add(1, Ordering::SeqCst);
                    next.run(req).await
                }
            },
        ),
    )
}

/// A plain-HTTP agent on 127.0.0.1; returns its URL.
async fn http_agent(token: &str, seen: Arc<Seen>) -> String {
    let router = agent_router(token, seen).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// Accepts TCP connections and completes the TLS handshake; failed handshakes are counted.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    seen: Arc<Seen>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            match self.acceptor.accept(tcp).await {
                Ok(tls) => return (tls, addr),
                Err(_) => {
                    self.seen.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A TLS agent on 127.0.0.1 with the certificate of `tls`; returns its URL.
async fn https_agent(tls: &TlsFiles, token: &str, seen: Arc<Seen>) -> String {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(&tls.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(&tls.key).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let router = agent_router(token, seen.clone()).await;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", tcp.local_addr().unwrap());
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        seen,
    };
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

/// `mt5-bridge serve` with `env` on top of valid keys; its exit code and stderr once it stops
/// (it must stop at once: these are configuration errors).
fn serve_fails(dir: &Path, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATA_DIR", dir)
        .env("BIND", format!("127.0.0.1:{}", free_port()))
        .env("JWT_SECRET", common::JWT_SECRET)
        .env(
            "CREDENTIALS_KEY",
            "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with {env:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn connect_body(login: u64) -> Value {
    json!({"account_name": format!("acct {login}"), "login": login.to_string(),
           "password": format!("Sim-{login}!"), "server": "Sim-Demo"})
}

#[test]
fn plain_http_to_another_host_fails_startup_naming_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = serve_fails(
        dir.path(),
        &[
            ("TERMINALS", "sim:1,agent:http://10.1.2.3:9101"),
            ("AGENT_TOKEN", TOKEN),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("http://10.1.2.3:9101"), "{err}");
    assert!(err.contains("AGENT_ALLOW_INSECURE"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_another_host_starts_when_allowed_and_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let serve = start_serve(
        free_port(),
        &[
            ("TERMINALS", "sim:1,agent:http://10.1.2.3:9101".to_string()),
            ("AGENT_TOKEN", TOKEN.to_string()),
            ("AGENT_ALLOW_INSECURE", "true".to_string()),
            ("DATA_DIR", dir.path().display().to_string()),
            ("JWT_SECRET", common::JWT_SECRET.to_string()),
            (
                "CREDENTIALS_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string(),
            ),
        ],
        &log,
    )
    .await;
    drop(serve);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("http://10.1.2.3:9101") && text.contains("clear text"),
        "{text}"
    );
    assert!(!text.contains(TOKEN), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_agent_is_used_only_once_its_ca_is_trusted() {
    use mt5::Terminal;
    use mt5_bridge::agent::client::AgentTerminal;
    let dir = tempfile::tempdir().unwrap();
    let tls = make_tls_files(dir.path());
    let seen = Arc::new(Seen::default());
    let url = https_agent(&tls, TOKEN, seen.clone()).await;

    // The public roots do not vouch for a private CA: no request reaches the agent.
    let agent = AgentTerminal::new(&url, SecretString::from(TOKEN)).unwrap();
    let err = agent.current().await.unwrap_err();
    assert!(
        matches!(&err, mt5::TerminalError::NotSent(m) if m.contains("AGENT_CA_FILE")),
        "{err:?}"
    );
    assert!(err.is_connection(), "{err:?}");
    assert_eq!(seen.requests(), 0);
    // The agent saw the handshake fail (its side may learn of it a moment after the client).
    for _ in 0..100 {
        if seen.failed_handshakes.load(Ordering::SeqCst) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen.failed_handshakes.load(Ordering::SeqCst) >= 1);

    // Nor does the bridge use it: the connect finds no terminal, and no login is sent.
    let terminals = format!("agent:{url}");
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", terminals.clone());
        env.insert("AGENT_TOKEN", TOKEN.to_string());
    })
    .await;
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, connect_body(10001))
        .await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["error"]["code"], "terminal_unavailable", "{b}");
    assert_eq!(seen.requests(), 0, "nothing reached the untrusted agent");
    app.shutdown().await;

    // With its CA in AGENT_CA_FILE it works end to end.
    let ca = tls.ca.display().to_string();
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", terminals.clone());
        env.insert("AGENT_TOKEN", TOKEN.to_string());
        env.insert("AGENT_CA_FILE", ca);
    })
    .await;
    assert_eq!(app.state.pool.size(), 1);
    let t = app.token(Uuid::new_v4());
    app.connect(&t, 10001, "Sim-10001!", "Sim-Demo", "over tls")
        .await;
    let (s, b) = app
        .post(
            "/api/v1/orders",
            &t,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["retcode"], 10009, "{b}");
    let ticket = b["order"].as_u64().unwrap();
    let (s, b) = app.get("/api/v1/positions", &t).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["positions"][0]["ticket"], ticket, "{b}");
    assert!(seen.requests() >= 3, "the calls went to the TLS agent");
    app.shutdown().await;
}

/// Answers every request with `status` and a Location on `target`.
async fn redirector(status: u16, target: String) -> String {
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let location = format!("{target}{uri}");
        async move {
            (
                axum::http::StatusCode::from_u16(status).unwrap(),
                [(axum::http::header::LOCATION, location)],
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_redirects_is_not_followed() {
    use mt5::{Session, SessionTag, Terminal};
    use mt5_bridge::agent::client::AgentTerminal;
    // The target is a working agent with the same token: following would succeed, and would hand
    // it the token and, for a login, the password.
    let seen = Arc::new(Seen::default());
    let target = http_agent(TOKEN, seen.clone()).await;
    let session = Session::new(
        mt5::AccountKey::new(10001, "Sim-Demo"),
        SessionTag::from_bytes([7; 32]),
    );
    for status in [301, 302, 303, 307, 308] {
        let url = redirector(status, target.clone()).await;
        let agent = AgentTerminal::new(&url, SecretString::from(TOKEN)).unwrap();
        let err = agent.current().await.unwrap_err();
        assert!(
            matches!(&err, mt5::TerminalError::Unavailable(m) if m.contains("redirect")),
            "{status}: {err:?}"
        );
        let err = agent
            .login(
                &session,
                &SecretString::from("Sim-10001!"),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(err.is_connection(), "{status}: {err:?}");
    }
    assert_eq!(seen.requests(), 0, "a redirect was followed");

    // Through the bridge: the connect fails, and the target still saw nothing.
    let url = redirector(307, target.clone()).await;
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", format!("agent:{url}"));
        env.insert("AGENT_TOKEN", TOKEN.to_string());
    })
    .await;
    let t = app.token(Uuid::new_v4());
    let (s, b) = app
        .post("/api/v1/accounts/connect", &t, connect_body(10001))
        .await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(seen.requests(), 0, "a redirect was followed");
    app.shutdown().await;
}

#[test]
fn agent_tokens_with_an_unknown_key_fail_startup_naming_the_key_not_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "per-agent-s3cret-value";
    let tokens =
        format!(r#"{{"https://10.0.0.5:9101": "{secret}", "https://10.0.0.9:9101": "{secret}"}}"#);
    let (code, err) = serve_fails(
        dir.path(),
        &[
            ("TERMINALS", "agent:https://10.0.0.5:9101"),
            ("AGENT_TOKENS", &tokens),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("AGENT_TOKENS") && err.contains("https://10.0.0.9:9101"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "a token leaked: {err}");

    // Malformed JSON is an error too, and quotes nothing of it.
    let broken = format!(r#"{{"https://10.0.0.5:9101": "{secret}"#);
    let (code, err) = serve_fails(
        dir.path(),
        &[
            ("TERMINALS", "agent:https://10.0.0.5:9101"),
            ("AGENT_TOKENS", &broken),
            ("AGENT_TOKEN", TOKEN),
        ],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("AGENT_TOKENS"), "{err}");
    assert!(!err.contains("s3cret"), "a token leaked: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_agent_tokens_reach_their_agents() {
    let (seen_a, seen_b) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let a = http_agent("token-of-agent-a-0123456789", seen_a.clone()).await;
    let b = http_agent("token-of-agent-b-9876543210", seen_b.clone()).await;
    let tokens = json!({
        format!("{a}/"): "token-of-agent-a-0123456789",
        b.clone(): "token-of-agent-b-9876543210",
    })
    .to_string();
    let terminals = format!("agent:{a},agent:{b}");
    let app = common::spawn_with(common::Db::Sqlite, common::sim_config(), |env| {
        env.insert("TERMINALS", terminals);
        env.insert("AGENT_TOKENS", tokens);
    })
    .await;
    let t = app.token(Uuid::new_v4());
    // Two accounts at once: the pool puts them on the two agents.
    let (first, second) = tokio::join!(
        app.post("/api/v1/accounts/connect", &t, connect_body(10001)),
        app.post("/api/v1/accounts/connect", &t, connect_body(10002)),
    );
    assert_eq!(first.0, 201, "{}", first.1);
    assert_eq!(second.0, 201, "{}", second.1);
    let on = app.state.pool.logged_in_accounts();
    assert!(
        on.iter().all(Option::is_some),
        "both agents logged in: {on:?}"
    );
    // Each agent checked its own token on every request, and served them.
    for (agent, token) in [
        (&a, "token-of-agent-a-0123456789"),
        (&b, "token-of-agent-b-9876543210"),
    ] {
        let h: Value = reqwest::Client::new()
            .get(format!("{agent}/v1/health"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(h["login"].is_u64(), "{agent}: {h}");
    }
    assert!(seen_a.requests() > 0 && seen_b.requests() > 0);
    app.shutdown().await;
}

#[test]
fn sim_agent_takes_its_token_from_the_environment_only() {
    let out = Command::new(BIN)
        .args(["sim-agent", "--bind", "127.0.0.1:0", "--token", TOKEN])
        .env_remove("AGENT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .args(["sim-agent", "--bind", "127.0.0.1:0"])
        .env_remove("AGENT_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("set AGENT_TOKEN in the environment"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
