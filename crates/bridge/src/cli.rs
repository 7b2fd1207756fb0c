//! The commands behind `main`: serve, migrate, token, rotate-key, sim-agent.

use crate::app::{open_store, Application, Overrides};
use crate::config::{parse_ttl, Command, CommonArgs, ServeSettings, Settings, TokenArgs};
use std::process::ExitCode;

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Log targets never written, whatever `RUST_LOG` asks: tungstenite logs every WebSocket frame
/// and message it reads or writes (at `trace`), and a stream's first message carries the user's
/// token. A filter of its own, not a directive added to `RUST_LOG`'s, so that no more specific
/// directive (`tungstenite::protocol=trace`) can turn them back on.
const NEVER_LOGGED: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// Whether `target` is one of [`NEVER_LOGGED`] or a module inside one.
fn never_logged(target: &str) -> bool {
    NEVER_LOGGED.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Sets up logging: human-readable text by default, JSON lines with LOG_FORMAT=json.
pub fn init_tracing(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let silenced = tracing_subscriber::filter::filter_fn(|m| !never_logged(m.target()));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // A second initialisation (tests) is harmless; ignore it.
    let _ = if json {
        builder.json().finish().with(silenced).try_init()
    } else {
        builder.finish().with(silenced).try_init()
    };
}

fn log_format_is_json(args: &CommonArgs) -> bool {
    args.log_format == "json"
}

pub async fn run(command: Command) -> ExitCode {
    match command {
        Command::Serve(args) => {
            init_tracing(log_format_is_json(&args.common));
            let settings = match ServeSettings::load(&args, &env_lookup) {
                Ok(s) => s,
                Err(e) => return config_failure(e),
            };
            for note in &settings.base.notes {
                tracing::warn!("{note}");
            }
            if settings.metrics_token.is_none() {
                tracing::warn!(
                    "METRICS_TOKEN is not set: GET /metrics answers 401 to every scrape until it is"
                );
            }
            let app = match Application::build(settings, Overrides::default()).await {
                Ok(app) => app,
                Err(e) => {
                    tracing::error!("startup failed: {e}");
                    eprintln!("mt5-bridge: {e}");
                    return ExitCode::from(1);
                }
            };
            tracing::info!(port = app.port(), "mt5-bridge listening");
            match app.run_until_stopped(shutdown_signal()).await {
                Ok(()) => {
                    tracing::info!("stopped");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    tracing::error!("server error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Migrate(args) => {
            init_tracing(log_format_is_json(&args));
            let settings = match Settings::load(&args, &env_lookup) {
                Ok(s) => s,
                Err(e) => return config_failure(e),
            };
            match open_store(&settings).await {
                Ok(_) => {
                    eprintln!("migrations applied");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("mt5-bridge: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Token(args) => token(args),
        Command::SimAgent(args) => sim_agent(args).await,
        Command::ImportLegacyAccount(args) => {
            init_tracing(log_format_is_json(&args.serve.common));
            match crate::import::run(&args, &env_lookup).await {
                Ok(crate::import::Imported::Created(id)) => {
                    println!("imported: account {id} is the user's default account");
                    ExitCode::SUCCESS
                }
                Ok(crate::import::Imported::AlreadyPresent(id)) => {
                    println!("already imported: account {id}; nothing changed");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("mt5-bridge: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::RotateKey(args) => {
            init_tracing(log_format_is_json(&args));
            let settings = match Settings::load(&args, &env_lookup) {
                Ok(s) => s,
                Err(e) => return config_failure(e),
            };
            let store = match open_store(&settings).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("mt5-bridge: {e}");
                    return ExitCode::from(1);
                }
            };
            let vault = settings.vault.clone();
            match crate::vault::rotate_all(store.as_ref(), &vault).await {
                Ok(r) => {
                    // The key id only, never key material; a failed audit write does not fail
                    // the rotation that already happened.
                    let details = serde_json::json!({
                        "key_id": vault.current_key_id(),
                        "rotated": r.rotated,
                        "already_current": r.already_current,
                        "skipped_deleted": r.skipped_deleted,
                        "failed": r.failed,
                    });
                    if let Err(e) = store
                        .record(None, None, crate::store::audit::AUDIT_KEY_ROTATED, details)
                        .await
                    {
                        tracing::error!(error = %e, "audit entry for the key rotation not written");
                    }
                    println!(
                        "key {}: re-encrypted {}, already current {}, deleted skipped {}, failed {}",
                        vault.current_key_id(),
                        r.rotated,
                        r.already_current,
                        r.skipped_deleted,
                        r.failed
                    );
                    if r.failed > 0 {
                        eprintln!("some credentials could not be decrypted: is CREDENTIALS_OLD_KEYS complete?");
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("mt5-bridge: rotation failed: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn token(args: TokenArgs) -> ExitCode {
    let settings = match Settings::load(&args.common, &env_lookup) {
        Ok(s) => s,
        Err(e) => return config_failure(e),
    };
    let user = match uuid::Uuid::parse_str(args.user.trim()) {
        Ok(u) => u,
        Err(_) => {
            eprintln!("mt5-bridge: --user must be a UUID");
            return ExitCode::from(2);
        }
    };
    let ttl = match parse_ttl(&args.ttl) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("mt5-bridge: --ttl: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(secret) = settings.jwt_secret.as_ref() else {
        eprintln!("mt5-bridge: `token` signs with JWT_SECRET; with only JWT_JWKS_URL set, tokens come from Supabase");
        return ExitCode::from(2);
    };
    let aal = match args.aal.parse::<crate::auth::Aal>() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mt5-bridge: --aal: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = crate::auth::MintOptions {
        email: args.email.as_deref(),
        issuer: settings.auth.issuer.as_deref(),
        aal: Some(aal),
        ..crate::auth::MintOptions::new(&settings.auth.audience, ttl)
    };
    match crate::auth::mint_token_with(secret, user, &opts) {
        Ok(t) => {
            println!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mt5-bridge: cannot sign token: {e}");
            ExitCode::from(1)
        }
    }
}

async fn sim_agent(args: crate::config::SimAgentArgs) -> ExitCode {
    init_tracing(args.log_format == "json");
    let Ok(bind) = args.bind.parse::<std::net::SocketAddr>() else {
        eprintln!(
            "mt5-bridge: AGENT_BIND must be an address like 127.0.0.1:9101 (got {:?})",
            args.bind
        );
        return ExitCode::from(2);
    };
    // The environment only: a flag would show the token in process listings.
    let token = match env_lookup("AGENT_TOKEN").map(zeroize::Zeroizing::new) {
        Some(t) if !t.trim().is_empty() => secrecy::SecretString::from(t.trim()),
        _ => {
            eprintln!(
                "mt5-bridge: set AGENT_TOKEN in the environment (the bearer token the bridge sends)"
            );
            return ExitCode::from(2);
        }
    };
    let ledger = crate::agent::server::LedgerOptions {
        path: args.ledger.clone(),
        retention: std::time::Duration::from_secs(args.ledger_retention_s),
    };
    match crate::agent::server::run_sim_agent(
        bind,
        token,
        &args.data_dir,
        ledger,
        shutdown_signal(),
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("sim-agent failed: {e}");
            eprintln!("mt5-bridge: {e}");
            ExitCode::from(1)
        }
    }
}

fn config_failure(e: crate::config::ConfigErrors) -> ExitCode {
    eprint!("mt5-bridge: {e}");
    ExitCode::from(2)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::never_logged;

    #[test]
    fn websocket_libraries_are_never_logged() {
        for t in [
            "tungstenite",
            "tungstenite::protocol",
            "tungstenite::protocol::frame",
            "tokio_tungstenite",
            "tokio_tungstenite::compat",
        ] {
            assert!(never_logged(t), "{t}");
        }
        for t in [
            "mt5_bridge::http::stream",
            "tungstenitex",
            "axum",
            "tower_http",
        ] {
            assert!(!never_logged(t), "{t}");
        }
    }
}
