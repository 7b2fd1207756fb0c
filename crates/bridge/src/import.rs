//! `mt5-bridge import-legacy-account`: moves the single-account bridge's configuration
//! (`MT5_LOGIN`, `MT5_PASSWORD`, `MT5_SERVER`) to a user's default account, verifying the login
//! first (by [`accounts::verify_operator_password`]: an operator's command, so no user's guessing
//! limit holds it). Idempotent: an account already connected for that user is left as it is.

use crate::accounts;
use crate::app::{build_terminals, open_store, Overrides};
use crate::config::{ImportArgs, ServeSettings};
use crate::pool::TerminalPool;
use crate::store::UserCtx;
use mt5::AccountKey;
use secrecy::SecretString;
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use uuid::Uuid;

/// What the import did.
#[derive(Debug, PartialEq, Eq)]
pub enum Imported {
    Created(Uuid),
    AlreadyPresent(Uuid),
}

/// Reads `KEY=value` lines (blank lines and `#` comments skipped, surrounding quotes removed).
pub fn parse_env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let l = l.strip_prefix("export ").unwrap_or(l);
            let (k, v) = l.split_once('=')?;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

/// The legacy settings, from the env file when given, else from the environment.
fn legacy_settings(env_file: Option<&Path>) -> Result<(u64, SecretString, String), String> {
    let vars: HashMap<String, String> = match env_file {
        Some(p) => parse_env_file(
            &std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
        ),
        None => ["MT5_LOGIN", "MT5_PASSWORD", "MT5_SERVER"]
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
    };
    let mut missing = Vec::new();
    let login = match vars.get("MT5_LOGIN").map(|s| s.trim().parse::<u64>()) {
        Some(Ok(l)) if l > 0 => Some(l),
        Some(_) => {
            missing.push("MT5_LOGIN must be a positive integer");
            None
        }
        None => {
            missing.push("MT5_LOGIN is not set");
            None
        }
    };
    let password = vars.get("MT5_PASSWORD").filter(|p| !p.is_empty()).cloned();
    if password.is_none() {
        missing.push("MT5_PASSWORD is not set");
    }
    let server = vars
        .get("MT5_SERVER")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if server.is_none() {
        missing.push("MT5_SERVER is not set");
    }
    match (login, password, server) {
        (Some(l), Some(p), Some(s)) => Ok((l, SecretString::from(p), s)),
        _ => Err(missing.join("; ")),
    }
}

pub async fn run(
    args: &ImportArgs,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Imported, String> {
    let user_id =
        Uuid::parse_str(args.user.trim()).map_err(|_| "--user must be a UUID".to_string())?;
    let name = args.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 255 {
        return Err("--name must be 1 to 255 characters".into());
    }
    let (login, password, server) = legacy_settings(args.env_file.as_deref())?;
    let settings = ServeSettings::load(&args.serve, lookup).map_err(|e| e.to_string())?;
    let store = open_store(&settings.base)
        .await
        .map_err(|e| e.to_string())?;
    let user = UserCtx {
        user_id,
        email: None,
        claims: json!({"sub": user_id, "role": "authenticated", "aud": "authenticated"}),
    };
    store.ensure_user(&user).await.map_err(|e| e.to_string())?;
    let login_s = login.to_string();
    if let Some(row) = store
        .find_by_login(&user, &login_s, &server)
        .await
        .map_err(|e| e.to_string())?
    {
        if row.is_active {
            return Ok(Imported::AlreadyPresent(row.id));
        }
    }
    let terminals = build_terminals(
        &settings,
        &mut Overrides::default(),
        None,
        &Default::default(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let pool = TerminalPool::new(terminals, settings.pool.clone());
    // An operator's command: verified by a login, with no user's guessing limits.
    let info = accounts::verify_operator_password(
        &pool,
        &settings.base.vault,
        &AccountKey::new(login, server.clone()),
        &password,
    )
    .await
    .map_err(|e| format!("MT5 refused the login: {e}"))?;
    // A deleted row of this login and server is reactivated rather than duplicated.
    let deleted = store
        .find_by_login(&user, &login_s, &server)
        .await
        .map_err(|e| e.to_string())?
        .map(|r| r.id);
    let row = accounts::store_new(
        store.as_ref(),
        &settings.base.vault,
        &user,
        deleted,
        accounts::NewSettings {
            account_name: name,
            login: login_s,
            server,
            broker_name: None,
            account_type: None,
            risk_limits: None,
            set_as_default: true,
        },
        &password,
        &info,
    )
    .await
    .map_err(|e| e.to_string())?;
    Ok(Imported::Created(row.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files() {
        let vars = parse_env_file("# legacy\nMT5_LOGIN=5042856355\nexport MT5_PASSWORD=\"V!QzRxQ7\"\nMT5_SERVER='MetaQuotes-Demo'\n\nBAD LINE\n");
        assert_eq!(vars["MT5_LOGIN"], "5042856355");
        assert_eq!(vars["MT5_PASSWORD"], "V!QzRxQ7");
        assert_eq!(vars["MT5_SERVER"], "MetaQuotes-Demo");
        assert_eq!(vars.len(), 3);
    }
}
