//! The listener against sockets that never speak, trickle, or announce bodies they never send, and
//! WebSocket frames far over the limit before sign-in, against `serve` (and `sim-agent`) run as
//! child processes, under a small open-files limit where the attack needs one.

use crate::common;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

/// `mt5-bridge serve` as a child, with its own data and log, killed on drop.
pub struct Served {
    child: Child,
    pub port: u16,
    pub url: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Starts `serve` with `env` (and, when given, `ulimit -n nofile`), waiting for `/healthz`.
    pub async fn start(env: &[(&str, &str)], nofile: Option<u32>) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let port = common::procs::free_port();
        let log = dir.path().join("serve.log");
        let bin = env!("CARGO_BIN_EXE_mt5-bridge");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = Command::new("sh");
                c.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" serve"))
                    .arg(bin);
                c
            }
            None => {
                let mut c = Command::new(bin);
                c.arg("serve");
                c
            }
        };
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("BIND", format!("127.0.0.1:{port}"))
            .env("DATA_DIR", dir.path().join("data"))
            .env("JWT_SECRET", common::JWT_SECRET)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let served = Served {
            child: cmd.spawn().expect("serve starts"),
            port,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        common::procs::wait_status(&format!("{}/healthz", served.url), None, 200, "serve").await;
        served
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap();
        kb * 1024
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A client without pooled connections: each request opens its own socket, as a new client would.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn connect(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

/// Reads until the server closes the socket (EOF or reset): how long it took from `since`, and
/// what arrived; None when it is still open at `limit`.
async fn closed_by(
    stream: &mut TcpStream,
    since: Instant,
    limit: Duration,
) -> Option<(Duration, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.checked_sub(since.elapsed())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some((since.elapsed(), got)),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_of(reply: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(reply);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn body_of(reply: &[u8]) -> Value {
    let text = String::from_utf8_lossy(reply);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body.trim()).unwrap_or(Value::Null)
}

const HEADER_MS: u64 = 2_000;
const BODY_MS: u64 = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_that_never_finish_are_closed_on_time_and_the_cap_keeps_the_service_up() {
    let served = Served::start(
        &[
            ("HTTP_HEADER_TIMEOUT_MS", "2000"),
            ("HTTP_BODY_TIMEOUT_MS", "3000"),
            // An order that is still at the terminal while the attack runs.
            ("MT5_SIM_ORDER_LATENCY_MS", "3000"),
        ],
        Some(256),
    )
    .await;
    assert!(
        served
            .log_text()
            .contains("connection cap (HTTP_MAX_CONNECTIONS)"),
        "the cap is logged at startup"
    );
    let client = fresh_client();
    let token = common::mint(Uuid::new_v4(), Duration::from_secs(3600));
    let connected = client
        .post(format!("{}/api/v1/accounts/connect", served.url))
        .bearer_auth(&token)
        .json(&json!({"account_name": "Main", "login": "10001", "password": "Sim-10001!", "server": "Sim-Demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(connected.status().as_u16(), 201);

    // Fewer silent sockets than the cap: health answers throughout.
    let mut quiet = Vec::new();
    for _ in 0..100 {
        quiet.push(connect(served.port).await);
    }
    for _ in 0..5 {
        let t = Instant::now();
        let r = client
            .get(format!("{}/healthz", served.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(quiet);

    // An order goes out before the attack and must complete through it.
    let order = {
        let client = client.clone();
        let url = format!("{}/api/v1/orders", served.url);
        let token = token.clone();
        tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(&token)
                .timeout(Duration::from_secs(20))
                .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let attack = Instant::now();
    // The slow ones first, so that they are served (not refused over the cap).
    let mut line = connect(served.port).await;
    line.write_all(b"GET /heal").await.unwrap();
    let mut head = connect(served.port).await;
    head.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut idle = connect(served.port).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 512];
    let n = idle.read(&mut first).await.unwrap();
    assert_eq!(status_of(&first[..n]), Some(200));
    let idle_since = Instant::now();
    let announce = |len: u64| {
        format!(
            "POST /api/v1/orders/check HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{"
        )
    };
    let limit = |ms: u64| Duration::from_millis(ms + 1_000);
    // Each is watched from now on, in parallel with the rest of the attack.
    let watch = |mut s: TcpStream, since: Instant, ms: u64| {
        tokio::spawn(async move { closed_by(&mut s, since, limit(ms)).await.map(|(t, _)| t) })
    };
    let line = watch(line, attack, HEADER_MS);
    let head = watch(head, attack, HEADER_MS);
    let idle = watch(idle, idle_since, HEADER_MS);
    let mut stalled = connect(served.port).await;
    stalled
        .write_all(announce(60_000).as_bytes())
        .await
        .unwrap();
    let stalled_since = Instant::now();
    let mut trickled = connect(served.port).await;
    trickled
        .write_all(announce(1_000).as_bytes())
        .await
        .unwrap();
    let trickled_since = Instant::now();
    let stalled = watch(stalled, stalled_since, BODY_MS);
    let (mut trickle_read, mut trickle_write) = trickled.into_split();
    let trickle_closed = tokio::spawn(async move {
        let mut buf = Vec::new();
        tokio::time::timeout(limit(BODY_MS), trickle_read.read_to_end(&mut buf))
            .await
            .ok()
            .map(|_| trickled_since.elapsed())
    });
    let trickler = tokio::spawn(async move {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if trickle_write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });

    // 300 silent sockets under `ulimit -n 256`: the process keeps its descriptors for itself.
    let mut silent = Vec::new();
    for _ in 0..300 {
        let since = Instant::now();
        silent.push(tokio::spawn({
            let port = served.port;
            async move {
                let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
                closed_by(&mut s, since, Duration::from_millis(HEADER_MS + 1_000)).await
            }
        }));
    }

    // Health answers again within the header timeout + 1 s of the attack's start.
    let mut healthy_at = None;
    while attack.elapsed() < Duration::from_millis(HEADER_MS + 1_000) {
        let ok = client
            .get(format!("{}/healthz", served.url))
            .timeout(Duration::from_millis(500))
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200);
        if ok {
            healthy_at = Some(attack.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        healthy_at.is_some(),
        "/healthz never answered during the attack"
    );

    let mut refused_fast = 0;
    let mut tooks = Vec::new();
    for s in silent {
        let (took, got) = s
            .await
            .unwrap()
            .expect("every silent socket is closed within the header timeout + 1 s");
        tooks.push((took.as_millis(), got.len()));
        if took < Duration::from_secs(1) {
            // Over the cap: told 503 (or closed) at once, its request never read.
            if !got.is_empty() {
                assert_eq!(status_of(&got), Some(503));
                assert_eq!(body_of(&got)["error"]["code"], "too_many_connections");
            }
            refused_fast += 1;
        }
    }
    assert!(
        refused_fast >= 60,
        "sockets over the cap are refused at once, not left waiting: {refused_fast} {tooks:?}"
    );
    let took = line
        .await
        .unwrap()
        .expect("an unfinished request line is closed");
    assert!(took >= Duration::from_millis(HEADER_MS - 200), "{took:?}");
    head.await.unwrap().expect("unfinished headers are closed");
    idle.await.unwrap().expect("an idle keep-alive is closed");
    stalled
        .await
        .unwrap()
        .expect("a body that never comes is closed");
    trickle_closed
        .await
        .unwrap()
        .expect("a trickled body is closed at its one deadline, not kept alive byte by byte");
    trickler.abort();

    let (status, body) = order.await.unwrap();
    assert_eq!(
        status, 200,
        "the order started before the attack completes: {body}"
    );
    assert_eq!(body["retcode"], 10009);

    // A body announced far over the limit is refused before any of it is read.
    let mut huge = connect(served.port).await;
    let since = Instant::now();
    huge.write_all(
        format!(
            "POST /api/v1/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (took, reply) = closed_by(&mut huge, since, Duration::from_secs(2))
        .await
        .expect("answered and closed");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(status_of(&reply), Some(413));
    assert_eq!(body_of(&reply)["error"]["code"], "payload_too_large");

    assert!(
        !served.log_text().contains("Too many open files"),
        "the process ran out of descriptors: {}",
        served.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sim_agent_closes_silent_sockets_too() {
    let dir = tempfile::tempdir().unwrap();
    let agent = common::procs::start_agent_with(dir.path(), common::procs::free_port(), &[]).await;
    let since = Instant::now();
    let mut silent = connect(agent.port).await;
    let (took, _) = closed_by(&mut silent, since, Duration::from_secs(11))
        .await
        .expect("closed within the agent's 10 s header timeout + 1 s");
    assert!(took >= Duration::from_secs(9), "{took:?}");
}

/// Opens a WebSocket by hand (no token) and returns the socket after the `101`, or the status of
/// the refusal and its body.
async fn raw_upgrade(port: u16) -> Result<TcpStream, (u16, Value)> {
    let mut s = connect(port).await;
    s.write_all(
        b"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("an answer to the upgrade")
            .unwrap();
        assert!(n > 0, "closed before answering the upgrade");
        got.extend_from_slice(&buf[..n]);
    }
    match status_of(&got) {
        Some(101) => Ok(s),
        Some(status) => {
            // The body follows the head; read what the length says.
            let text = String::from_utf8_lossy(&got).to_string();
            let length: usize = text
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let have = text.split_once("\r\n\r\n").map_or(0, |(_, b)| b.len());
            let mut rest = vec![0u8; length.saturating_sub(have)];
            let _ = tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut rest)).await;
            got.extend_from_slice(&rest);
            Err((status, body_of(&got)))
        }
        None => panic!("not HTTP: {}", String::from_utf8_lossy(&got)),
    }
}

/// Sends the head of a masked text frame announcing `announced` bytes, then `sent` of them.
async fn send_huge_frame(s: &mut TcpStream, announced: u64, sent: usize) {
    let mut head = vec![0x81u8, 0x80 | 127];
    head.extend_from_slice(&announced.to_be_bytes());
    head.extend_from_slice(&[1, 2, 3, 4]);
    let _ = s.write_all(&head).await;
    let _ = s.write_all(&vec![b'0'; sent]).await;
}

/// The close code in the server's (unmasked) close frame, reading past anything before it.
async fn close_code(s: &mut TcpStream) -> Option<u16> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Frames: [0x8X, len, payload...]; the server sends small ones only.
        let mut i = 0;
        while i + 2 <= got.len() {
            let (op, len) = (got[i] & 0x0f, (got[i + 1] & 0x7f) as usize);
            if i + 2 + len > got.len() {
                break;
            }
            if op == 0x8 && len >= 2 {
                return Some(u16::from_be_bytes([got[i + 2], got[i + 3]]));
            }
            i += 2 + len;
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_frame_before_sign_in_is_closed_with_1009_and_costs_no_memory() {
    let served = Served::start(&[], None).await;
    let mut one = raw_upgrade(served.port).await.unwrap();
    send_huge_frame(&mut one, 16 << 20, 64 * 1024).await;
    assert_eq!(close_code(&mut one).await, Some(1009));

    let before = served.rss();
    let mut conns = Vec::new();
    for _ in 0..20 {
        conns.push(raw_upgrade(served.port).await.unwrap());
    }
    let sends = conns.into_iter().map(|mut s| {
        tokio::spawn(async move {
            send_huge_frame(&mut s, 16 << 20, 64 * 1024).await;
            let code = close_code(&mut s).await;
            (s, code)
        })
    });
    let mut held = Vec::new();
    for t in sends {
        let (s, code) = t.await.unwrap();
        assert_eq!(code, Some(1009));
        held.push(s);
    }
    let grown = served.rss().saturating_sub(before);
    assert!(
        grown < 50 << 20,
        "20 huge frames grew the process by {} MB",
        grown >> 20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_waiting_for_sign_in_are_capped() {
    let served = Served::start(&[("STREAM_MAX_PENDING", "100")], None).await;
    let mut held = Vec::new();
    let mut refused = 0;
    for batch in 0..10 {
        let tries: Vec<_> = (0..100)
            .map(|_| tokio::spawn(raw_upgrade(served.port)))
            .collect();
        for t in tries {
            match t.await.unwrap() {
                Ok(s) => held.push(s),
                Err((status, body)) => {
                    assert_eq!(status, 503, "{body}");
                    assert_eq!(body["error"]["code"], "too_many_connections");
                    refused += 1;
                }
            }
        }
        if batch == 9 {
            let t = Instant::now();
            let r = fresh_client()
                .get(format!("{}/healthz", served.url))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            assert!(
                t.elapsed() < Duration::from_millis(100),
                "/healthz took {:?} under the flood",
                t.elapsed()
            );
        }
    }
    assert_eq!(
        held.len(),
        100,
        "exactly STREAM_MAX_PENDING wait for their sign-in"
    );
    assert_eq!(refused, 900);
    // A place is given back when its connection leaves.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match raw_upgrade(served.port).await {
            Ok(s) => {
                held.push(s);
                break;
            }
            Err(_) => {
                assert!(Instant::now() < deadline, "the place was never given back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A message still arriving in fragments holds its place among the upgrades waiting for sign-in,
/// and must be whole within the 10 s: then the connection is closed (4001) and the place freed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_fragment_holds_its_place_only_for_the_sign_in_window() {
    let served = Served::start(&[("STREAM_MAX_PENDING", "1")], None).await;
    let mut first = raw_upgrade(served.port).await.unwrap();
    let since = Instant::now();
    // A text frame without FIN, masked, one byte of a message that never ends.
    first
        .write_all(&[0x01, 0x81, 9, 9, 9, 9, b'{' ^ 9])
        .await
        .unwrap();
    let (status, body) = raw_upgrade(served.port)
        .await
        .expect_err("the fragment's connection still holds the only place");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("too_many_connections"))
    );
    assert_eq!(
        close_code(&mut first).await.or(Some(0)),
        Some(0),
        "nothing before 10 s"
    );
    let code = {
        let mut code = None;
        while since.elapsed() < Duration::from_secs(12) && code.is_none() {
            code = close_code(&mut first).await;
        }
        code
    };
    assert_eq!(
        code,
        Some(4001),
        "closed as unauthenticated at the end of the window"
    );
    assert!(
        since.elapsed() >= Duration::from_secs(9),
        "{:?}",
        since.elapsed()
    );
    let mut again = None;
    let deadline = Instant::now() + Duration::from_secs(3);
    while again.is_none() && Instant::now() < deadline {
        again = raw_upgrade(served.port).await.ok();
    }
    assert!(again.is_some(), "the place is given back");
}
