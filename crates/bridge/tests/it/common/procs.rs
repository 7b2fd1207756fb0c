//! Child processes for end-to-end tests: `mt5-bridge sim-agent`, `mt5-bridge serve` and a private
//! `redis-server`, each on a free port and killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The bearer token the test agents answer to.
pub const AGENT_TOKEN: &str = "agent-test-token-0123456789";

/// A child process, killed on drop.
pub struct Proc {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Proc {
    /// Kills it at once (SIGKILL: nothing is completed or flushed, as a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `url` until it answers `want` (with the bearer token when given), or panics after 30 s.
pub async fn wait_status(url: &str, token: Option<&str>, want: u16, what: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut rb = client.get(url).timeout(Duration::from_secs(2));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if matches!(rb.send().await, Ok(resp) if resp.status().as_u16() == want) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not come up at {url}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts a sim-agent on `port` with the broker state in `dir` (shared by every agent given the
/// same `dir`) and waits until it answers. `env` adds MT5_SIM_* settings.
pub async fn start_agent_with(dir: &Path, port: u16, env: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mt5-bridge"));
    cmd.arg("sim-agent")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .env("AGENT_TOKEN", AGENT_TOKEN)
        .env("DATA_DIR", dir.join("data"))
        .env("MT5_SIM_STATE", dir.join("shared-broker.db"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for var in [
        "MT5_SIM_ACCOUNTS",
        "MT5_SIM_FAULTS",
        "MT5_SIM_LOGIN_LATENCY_MS",
        "MT5_SIM_CALL_LATENCY_MS",
        "MT5_SIM_ORDER_LATENCY_MS",
        "MT5_SIM_SERVER_TIME_OFFSET_S",
        "MT5_SIM_SEED",
        "MT5_SIM_UNKNOWN_ENUMS",
        "AGENT_BIND",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let agent = Proc {
        child: cmd.spawn().expect("sim-agent starts"),
        url: format!("http://127.0.0.1:{port}"),
        port,
    };
    wait_status(
        &format!("{}/v1/health", agent.url),
        Some(AGENT_TOKEN),
        200,
        "sim-agent",
    )
    .await;
    agent
}

/// Starts `mt5-bridge serve` on `port` with exactly `env` (plus PATH and HOME), its log in
/// `log`, and waits until `/healthz` answers.
pub async fn start_serve(port: u16, env: &[(&str, String)], log: &Path) -> Proc {
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mt5-bridge"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let p = Proc {
        child: cmd.spawn().expect("serve starts"),
        url: format!("http://127.0.0.1:{port}"),
        port,
    };
    wait_status(&format!("{}/healthz", p.url), None, 200, "serve").await;
    p
}

/// A private `redis-server` (no persistence) on a free port, which a test may stop and start
/// again on the same port.
pub struct RedisServer {
    proc: Option<Proc>,
    pub port: u16,
    dir: PathBuf,
}

impl RedisServer {
    pub async fn start(dir: &Path) -> RedisServer {
        let mut r = RedisServer {
            proc: None,
            port: free_port(),
            dir: dir.to_path_buf(),
        };
        r.restart().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
    }

    /// Starts it (again, empty) on its port and waits until it answers PING.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (Debian package redis-server) must be installed");
        self.proc = Some(Proc {
            child,
            url: self.url(),
            port: self.port,
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if self.ping().await {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
    }

    /// A connection for the test's own reads.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}
