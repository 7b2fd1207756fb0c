//! Simulator settings: the accounts its broker knows, where broker state lives, the price seed,
//! latencies and injected faults.
//!
//! Settings come from `MT5_SIM_*` environment variables and an accounts TOML file. Every bad value is
//! collected and reported at once, each with where it came from (the variable, or the file and
//! line), so one start tells the operator everything to fix. Passwords never appear in any message.

use std::path::{Path, PathBuf};

mod accounts;
use accounts::short;
pub use accounts::{
    default_accounts, load_accounts_file, parse_accounts, AccountSpec, ConfigError, ConfigProblem,
    DEFAULT_LIMIT_ORDERS, DEFAULT_MARGIN_SO_CALL, DEFAULT_MARGIN_SO_SO, SIM_COMPANY,
};

/// Probabilities of injected faults, each in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FaultConfig {
    /// A login is refused as if the server were unreachable.
    pub login_fail: f64,
    /// A call finds the terminal disconnected.
    pub disconnect: f64,
    /// A call times out.
    pub timeout: f64,
    /// An `order_send` reaches the broker and runs, but its answer never arrives (the caller
    /// sees a timeout): the order is in doubt until the history settles it.
    pub order_answer_lost: f64,
    /// An `order_send` never reaches the broker, and the caller sees a timeout all the same.
    pub order_dropped: f64,
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        FaultConfig::default()
    }

    pub fn is_none(&self) -> bool {
        self.login_fail == 0.0
            && self.disconnect == 0.0
            && self.timeout == 0.0
            && self.order_answer_lost == 0.0
            && self.order_dropped == 0.0
    }

    /// Parses `login_fail=0.1,disconnect=0.01,timeout=0.01,order_answer_lost=0,order_dropped=0`; any key may be left out, and an empty
    /// string or `none` means no faults. All problems are reported in one message.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = FaultConfig::none();
        let trimmed = s.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("none") {
            return Ok(out);
        }
        let mut errors = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for part in trimmed.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((key, value)) = part.split_once('=') else {
                errors.push(format!("'{}' is not key=probability", short(part)));
                continue;
            };
            let key = key.trim();
            let slot = match key {
                "login_fail" => &mut out.login_fail,
                "disconnect" => &mut out.disconnect,
                "timeout" => &mut out.timeout,
                "order_answer_lost" => &mut out.order_answer_lost,
                "order_dropped" => &mut out.order_dropped,
                _ => {
                    errors.push(format!(
                        "unknown fault '{}', expected login_fail, disconnect, timeout, \
                         order_answer_lost or order_dropped",
                        short(key)
                    ));
                    continue;
                }
            };
            if seen.contains(&key) {
                errors.push(format!("fault '{key}' given twice"));
                continue;
            }
            seen.push(key);
            match value.trim().parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => *slot = p,
                _ => errors.push(format!(
                    "{key} must be a probability between 0 and 1, got '{}'",
                    short(value.trim())
                )),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Enum values outside MT5's lists that simulated terminals report in their answers (never in the
/// broker's state), so tests can prove that everything above carries them (`MT5_SIM_UNKNOWN_ENUMS`).
/// The integers are in [`crate::unknown`]; docs/simulator.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnknownEnums {
    /// Values the service only shows: reasons of deals, orders and positions; the type of
    /// non-trade (balance) deals; the symbol's calc, swap, execution, GTC, chart and option modes
    /// and its triple-swap day; the account's margin and stop-out modes.
    pub shown: bool,
    /// History orders that were filled report an unknown `state` (their deals tell what happened).
    pub order_state: bool,
    /// Symbols report an unknown `trade_mode`.
    pub trade_mode: bool,
    /// Symbols report `filling_mode` with a bit MT5 does not define and none that it does.
    pub filling_mode: bool,
    /// The account reports an unknown `trade_mode` (neither demo, contest nor real).
    pub account_trade_mode: bool,
}

impl UnknownEnums {
    /// Nothing injected.
    pub fn none() -> Self {
        UnknownEnums::default()
    }

    /// What `true` means: the values the service only shows ([`UnknownEnums::shown`]).
    pub fn shown() -> Self {
        UnknownEnums {
            shown: true,
            ..UnknownEnums::none()
        }
    }

    pub fn is_none(&self) -> bool {
        *self == UnknownEnums::none()
    }

    /// Parses `true` / `false` (also `none`, empty), or a comma-separated list of `shown`,
    /// `order_state`, `trade_mode`, `filling_mode`, `account_trade_mode` (`true` = `shown`). Every
    /// problem is reported in one message.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut out = UnknownEnums::none();
        let trimmed = s.trim();
        if trimmed.is_empty()
            || trimmed.eq_ignore_ascii_case("none")
            || trimmed.eq_ignore_ascii_case("false")
        {
            return Ok(out);
        }
        let mut errors = Vec::new();
        for part in trimmed.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let slot = match part.to_ascii_lowercase().as_str() {
                "true" | "shown" => &mut out.shown,
                "order_state" => &mut out.order_state,
                "trade_mode" => &mut out.trade_mode,
                "filling_mode" => &mut out.filling_mode,
                "account_trade_mode" => &mut out.account_trade_mode,
                _ => {
                    errors.push(format!(
                        "unknown group '{}', expected true, false, or a list of shown, \
                         order_state, trade_mode, filling_mode, account_trade_mode",
                        short(part)
                    ));
                    continue;
                }
            };
            *slot = true;
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Where the broker's state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// In this process only; lost when it exits.
    Memory,
    /// A SQLite file, shared by every process that names it and kept across restarts.
    Sqlite(PathBuf),
}

/// All simulator settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub accounts: Vec<AccountSpec>,
    pub state: StateLocation,
    /// Seed of the price feed: the same seed gives the same prices in every process.
    pub seed: u64,
    pub login_latency_ms: u64,
    pub call_latency_ms: u64,
    /// Extra latency of an `order_send` between the terminal and the broker (a slow trade
    /// server): the order runs after it, even if the caller stopped waiting.
    pub order_latency_ms: u64,
    /// Server clock minus UTC, in seconds (MT5 servers commonly run at UTC+2 or UTC+3).
    pub server_time_offset_s: i64,
    pub faults: FaultConfig,
    /// Enum values outside MT5's lists that the terminals report (none by default).
    pub unknown_enums: UnknownEnums,
    /// The terminal's "Max. bars in chart" (MT5_SIM_MAX_BARS): intraday history reaches this many
    /// bars back from the forming one, daily and longer a tenth of it.
    pub max_bars: u32,
}

pub const DEFAULT_SEED: u64 = 42;
/// Server time offsets beyond a day are certainly mistakes.
const MAX_OFFSET_S: i64 = 86_400;

impl SimConfig {
    /// Settings with the defaults: built-in accounts, seed 42, no latency, no offset, no faults.
    pub fn defaults(state: StateLocation) -> Self {
        SimConfig {
            accounts: default_accounts(),
            state,
            seed: DEFAULT_SEED,
            login_latency_ms: 0,
            call_latency_ms: 0,
            order_latency_ms: 0,
            server_time_offset_s: 0,
            faults: FaultConfig::none(),
            unknown_enums: UnknownEnums::none(),
            max_bars: crate::prices::MAX_BARS_INTRADAY,
        }
    }

    /// Reads MT5_SIM_ACCOUNTS (path to the TOML file; absent = [`default_accounts`]), MT5_SIM_STATE
    /// (SQLite path, or `memory`; absent = `default_state`), MT5_SIM_SEED (u64, default 42),
    /// MT5_SIM_LOGIN_LATENCY_MS (default 0), MT5_SIM_CALL_LATENCY_MS (default 0),
    /// MT5_SIM_ORDER_LATENCY_MS (default 0),
    /// MT5_SIM_SERVER_TIME_OFFSET_S (i64, default 0), MT5_SIM_FAULTS (default none),
    /// MT5_SIM_UNKNOWN_ENUMS (default false), MT5_SIM_MAX_BARS (default 10,000, at most 100,000,000).
    /// Every bad value is reported at once.
    pub fn from_env(default_state: StateLocation) -> Result<Self, ConfigError> {
        Self::from_lookup(
            |key| {
                std::env::var_os(key).map(|v| match v.into_string() {
                    Ok(s) => s,
                    // Not valid UTF-8: keep it visible so parsing reports it instead of ignoring it.
                    Err(os) => os.to_string_lossy().into_owned(),
                })
            },
            default_state,
        )
    }

    /// As [`SimConfig::from_env`], reading variables through `lookup` (for tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        default_state: StateLocation,
    ) -> Result<Self, ConfigError> {
        let mut cfg = SimConfig::defaults(default_state);
        let mut problems: Vec<ConfigProblem> = Vec::new();
        let mut bad = |var: &str, message: String| {
            problems.push(ConfigProblem {
                origin: var.to_string(),
                line: None,
                message,
            })
        };

        if let Some(path) = lookup("MT5_SIM_ACCOUNTS") {
            if path.trim().is_empty() {
                bad("MT5_SIM_ACCOUNTS", "must be the path of a TOML file".into());
            } else {
                match load_accounts_file(Path::new(path.trim())) {
                    Ok(accounts) => cfg.accounts = accounts,
                    Err(e) => e.problems.into_iter().for_each(|p| {
                        bad(
                            "MT5_SIM_ACCOUNTS",
                            match p.line {
                                Some(l) => format!("{}, line {}: {}", p.origin, l, p.message),
                                None => format!("{}: {}", p.origin, p.message),
                            },
                        )
                    }),
                }
            }
        }
        if let Some(state) = lookup("MT5_SIM_STATE") {
            let state = state.trim();
            if state.is_empty() {
                bad(
                    "MT5_SIM_STATE",
                    "must be the path of a SQLite file, or 'memory'".into(),
                );
            } else if state.eq_ignore_ascii_case("memory") {
                cfg.state = StateLocation::Memory;
            } else {
                cfg.state = StateLocation::Sqlite(PathBuf::from(state));
            }
        }
        if let Some(v) = lookup("MT5_SIM_SEED") {
            match v.trim().parse::<u64>() {
                Ok(n) => cfg.seed = n,
                Err(_) => bad(
                    "MT5_SIM_SEED",
                    format!("expected an unsigned integer, got '{}'", short(&v)),
                ),
            }
        }
        for (var, slot) in [
            ("MT5_SIM_LOGIN_LATENCY_MS", &mut cfg.login_latency_ms),
            ("MT5_SIM_CALL_LATENCY_MS", &mut cfg.call_latency_ms),
            ("MT5_SIM_ORDER_LATENCY_MS", &mut cfg.order_latency_ms),
        ] {
            if let Some(v) = lookup(var) {
                match v.trim().parse::<u64>() {
                    Ok(n) => *slot = n,
                    Err(_) => bad(
                        var,
                        format!(
                            "expected a whole number of milliseconds, got '{}'",
                            short(&v)
                        ),
                    ),
                }
            }
        }
        if let Some(v) = lookup("MT5_SIM_SERVER_TIME_OFFSET_S") {
            match v.trim().parse::<i64>() {
                Ok(n) if n.abs() <= MAX_OFFSET_S => cfg.server_time_offset_s = n,
                _ => bad(
                    "MT5_SIM_SERVER_TIME_OFFSET_S",
                    format!(
                        "expected seconds between -{MAX_OFFSET_S} and {MAX_OFFSET_S} (e.g. 7200 for UTC+2), got '{}'",
                        short(&v)
                    ),
                ),
            }
        }
        if let Some(v) = lookup("MT5_SIM_MAX_BARS") {
            match v.trim().parse::<u32>() {
                Ok(n) if (10..=100_000_000).contains(&n) => cfg.max_bars = n,
                _ => bad(
                    "MT5_SIM_MAX_BARS",
                    format!(
                        "expected a number of bars from 10 to 100000000, got '{}'",
                        short(&v)
                    ),
                ),
            }
        }
        if let Some(v) = lookup("MT5_SIM_FAULTS") {
            match FaultConfig::parse(&v) {
                Ok(f) => cfg.faults = f,
                Err(e) => bad("MT5_SIM_FAULTS", e),
            }
        }
        if let Some(v) = lookup("MT5_SIM_UNKNOWN_ENUMS") {
            match UnknownEnums::parse(&v) {
                Ok(u) => cfg.unknown_enums = u,
                Err(e) => bad("MT5_SIM_UNKNOWN_ENUMS", e),
            }
        }

        if problems.is_empty() {
            Ok(cfg)
        } else {
            Err(ConfigError { problems })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mt5::{AccountKey, AccountMarginMode, AccountTradeMode};
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    const GOOD: &str = r#"
[[accounts]]
login = 5042856355
password = "V!QzRxQ7"
server = "MetaQuotes-Demo"
name = "Demo"
balance = 100000.0
currency = "USD"
leverage = 100
margin_mode = "hedging"   # or "netting"
trade_mode = "demo"

[[accounts]]
login = 7
password = "Pw-seven"
server = "Other"
name = "Netting EUR"
balance = 2500
currency = "eur"
leverage = 30
margin_mode = "netting"
trade_mode = "real"
company = "Acme"
limit_orders = 0
limit_positions = 5
margin_so_call = 100
margin_so_so = 50
trade_allowed = false
"#;

    #[test]
    fn parses_a_good_file() {
        let accts = parse_accounts(GOOD, "accounts.toml").unwrap();
        assert_eq!(accts.len(), 2);
        let a = &accts[0];
        assert_eq!(a.login, 5042856355);
        assert_eq!(a.password.expose_secret(), "V!QzRxQ7");
        assert_eq!(a.server, "MetaQuotes-Demo");
        assert_eq!(a.balance, 100000.0);
        assert_eq!(a.leverage, 100);
        assert_eq!(a.margin_mode, AccountMarginMode::RetailHedging);
        assert_eq!(a.trade_mode, AccountTradeMode::Demo);
        assert_eq!(a.limit_orders, 200);
        assert_eq!(a.limit_positions, 0);
        assert_eq!((a.margin_so_call, a.margin_so_so), (50.0, 30.0));
        assert!(a.trade_allowed);
        assert_eq!(a.company, SIM_COMPANY);
        let b = &accts[1];
        assert_eq!(b.currency, "EUR");
        assert_eq!(b.balance, 2500.0);
        assert_eq!(b.margin_mode, AccountMarginMode::RetailNetting);
        assert_eq!(b.trade_mode, AccountTradeMode::Real);
        assert_eq!(b.company, "Acme");
        assert_eq!((b.limit_orders, b.limit_positions), (0, 5));
        assert_eq!((b.margin_so_call, b.margin_so_so), (100.0, 50.0));
        assert!(!b.trade_allowed);
        assert_eq!(b.key(), AccountKey::new(7, "Other"));
    }

    #[test]
    fn exchange_is_accepted_as_a_margin_mode() {
        let text = GOOD.replacen("\"hedging\"", "\"exchange\"", 1);
        let accts = parse_accounts(&text, "a.toml").unwrap();
        assert_eq!(accts[0].margin_mode, AccountMarginMode::Exchange);
    }

    fn single_problem(text: &str) -> ConfigProblem {
        let err = parse_accounts(text, "conf/accounts.toml").unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        err.problems[0].clone()
    }

    #[test]
    fn syntax_error_names_file_and_line() {
        let text = GOOD.replacen("leverage = 100", "leverage = = 100", 1);
        let p = single_problem(&text);
        assert_eq!(p.origin, "conf/accounts.toml");
        assert_eq!(p.line, Some(9));
        let shown = ConfigError {
            problems: vec![p.clone()],
        }
        .to_string();
        assert!(shown.contains("conf/accounts.toml, line 9"), "{shown}");
    }

    #[test]
    fn unknown_key_is_an_error_with_its_line() {
        let text = GOOD.replacen("name = \"Demo\"", "name = \"Demo\"\nnickname = \"x\"", 1);
        let p = single_problem(&text);
        assert_eq!(p.line, Some(7));
        assert!(p.message.contains("nickname"), "{}", p.message);
    }

    #[test]
    fn wrong_type_and_missing_key_are_errors() {
        let p = single_problem(&GOOD.replacen("leverage = 100", "leverage = \"high\"", 1));
        assert_eq!(p.line, Some(9));
        let p = single_problem(&GOOD.replacen("currency = \"USD\"\n", "", 1));
        assert!(p.message.contains("currency"), "{}", p.message);
        assert!(p.line.is_some());
    }

    #[test]
    fn semantic_errors_are_all_reported_with_lines() {
        let text = GOOD
            .replacen("leverage = 100", "leverage = 0", 1)
            .replacen("balance = 2500", "balance = -1", 1)
            .replacen("margin_mode = \"netting\"", "margin_mode = \"both\"", 1)
            .replacen("trade_mode = \"real\"", "trade_mode = \"paper\"", 1);
        let err = parse_accounts(&text, "a.toml").unwrap_err();
        let lines: Vec<_> = err.problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![Some(9), Some(18), Some(21), Some(22)], "{err}");
        let shown = err.to_string();
        assert!(shown.contains("a.toml, line 9: leverage"), "{shown}");
        assert!(shown.contains("line 18: balance"), "{shown}");
        assert!(shown.contains("unknown margin_mode 'both'"), "{shown}");
        assert!(shown.contains("unknown trade_mode 'paper'"), "{shown}");
    }

    #[test]
    fn duplicate_login_and_server_is_an_error_at_the_second() {
        let text = format!(
            "{GOOD}\n{}",
            &GOOD[..GOOD.find("\n\n[[accounts]]").unwrap()]
        );
        let err = parse_accounts(&text, "a.toml").unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert_eq!(err.problems[0].line, Some(32));
        assert!(err.problems[0].message.contains("duplicate"));
        // Same login on another server is a different account.
        let other = text.replacen("login = 5042856355", "login = 99", 1);
        assert_eq!(parse_accounts(&other, "a.toml").unwrap().len(), 3);
    }

    #[test]
    fn passwords_never_show() {
        let accts = parse_accounts(GOOD, "a.toml").unwrap();
        let dbg = format!("{accts:?}");
        assert!(
            !dbg.contains("V!QzRxQ7") && !dbg.contains("Pw-seven"),
            "{dbg}"
        );
        let cfg = SimConfig::defaults(StateLocation::Memory);
        let dbg = format!("{cfg:?}");
        for a in &cfg.accounts {
            assert!(!dbg.contains(a.password.expose_secret()), "{dbg}");
        }
        // A password of the wrong type, or next to a syntax error, is not quoted in the error.
        let text = GOOD.replacen("\"V!QzRxQ7\"", "918273645", 1);
        let err = parse_accounts(&text, "a.toml").unwrap_err().to_string();
        assert!(err.contains("line 4") && err.contains("password"), "{err}");
        assert!(!err.contains("918273645"), "{err}");
        let text = GOOD.replacen("password = \"V!QzRxQ7\"", "password = \"V!QzRxQ7\" x", 1);
        let err = parse_accounts(&text, "a.toml").unwrap_err().to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(!err.contains("V!QzRxQ7"), "{err}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let err = parse_accounts("# nothing\n", "a.toml").unwrap_err();
        assert!(err.to_string().contains("no [[accounts]]"), "{err}");
    }

    #[test]
    fn default_accounts_contents() {
        let accts = default_accounts();
        let find = |login: u64| accts.iter().find(|a| a.login == login).unwrap();
        let demo = find(5042856355);
        assert_eq!(demo.password.expose_secret(), "V!QzRxQ7");
        assert_eq!(
            (demo.server.as_str(), demo.name.as_str()),
            ("MetaQuotes-Demo", "Demo")
        );
        assert_eq!(
            (demo.balance, demo.currency.as_str(), demo.leverage),
            (100_000.0, "USD", 100)
        );
        assert_eq!(demo.margin_mode, AccountMarginMode::RetailHedging);
        assert_eq!(demo.trade_mode, AccountTradeMode::Demo);
        assert_eq!(demo.company, "MetaQuotes Ltd.");
        let expect = [
            (
                10001,
                "Sim-10001!",
                "Sim-Demo",
                AccountMarginMode::RetailHedging,
                "USD",
                100,
                10_000.0,
                AccountTradeMode::Demo,
            ),
            (
                10002,
                "Sim-10002!",
                "Sim-Demo",
                AccountMarginMode::RetailNetting,
                "USD",
                100,
                10_000.0,
                AccountTradeMode::Demo,
            ),
            (
                10003,
                "Sim-10003!",
                "Sim-Demo",
                AccountMarginMode::RetailHedging,
                "EUR",
                30,
                10_000.0,
                AccountTradeMode::Demo,
            ),
            (
                20001,
                "Live-20001!",
                "Sim-Live",
                AccountMarginMode::RetailHedging,
                "USD",
                100,
                5_000.0,
                AccountTradeMode::Real,
            ),
        ];
        for (login, pw, server, mm, cur, lev, bal, tm) in expect {
            let a = find(login);
            assert_eq!(a.password.expose_secret(), pw);
            assert_eq!(a.server, server);
            assert_eq!(a.margin_mode, mm);
            assert_eq!(a.currency, cur);
            assert_eq!(a.leverage, lev);
            assert_eq!(a.balance, bal);
            assert_eq!(a.trade_mode, tm);
            assert_eq!(a.company, SIM_COMPANY);
            assert_eq!(a.limit_orders, 200);
        }
    }

    #[test]
    fn fault_config_parsing() {
        let f = FaultConfig::parse("login_fail=0.1, disconnect=0.01,timeout=0.02").unwrap();
        assert_eq!((f.login_fail, f.disconnect, f.timeout), (0.1, 0.01, 0.02));
        assert_eq!(FaultConfig::parse("").unwrap(), FaultConfig::none());
        assert_eq!(FaultConfig::parse("none").unwrap(), FaultConfig::none());
        assert!(FaultConfig::none().is_none());
        assert_eq!(FaultConfig::parse("timeout=1").unwrap().timeout, 1.0);
        let err = FaultConfig::parse("login_fail=1.5,crash=0.1,timeout").unwrap_err();
        assert!(err.contains("login_fail must be a probability"), "{err}");
        assert!(err.contains("unknown fault 'crash'"), "{err}");
        assert!(err.contains("'timeout' is not key=probability"), "{err}");
        assert!(FaultConfig::parse("timeout=0.1,timeout=0.2").is_err());
        assert!(FaultConfig::parse("timeout=-0.1").is_err());
        assert!(FaultConfig::parse("timeout=NaN").is_err());
    }

    #[test]
    fn unknown_enums_parsing() {
        for off in ["", " ", "false", "FALSE", "none"] {
            assert!(UnknownEnums::parse(off).unwrap().is_none(), "{off:?}");
        }
        assert_eq!(UnknownEnums::parse("true").unwrap(), UnknownEnums::shown());
        assert_eq!(UnknownEnums::parse("shown").unwrap(), UnknownEnums::shown());
        let u = UnknownEnums::parse("true, order_state,trade_mode,filling_mode,account_trade_mode")
            .unwrap();
        assert!(u.shown && u.order_state && u.trade_mode && u.filling_mode && u.account_trade_mode);
        let only = UnknownEnums::parse("order_state").unwrap();
        assert!(only.order_state && !only.shown);
        let err = UnknownEnums::parse("true,yes,calc_mode").unwrap_err();
        assert!(err.contains("unknown group 'yes'"), "{err}");
        assert!(err.contains("unknown group 'calc_mode'"), "{err}");
    }

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn from_lookup_defaults() {
        let cfg = SimConfig::from_lookup(lookup(&[]), StateLocation::Memory).unwrap();
        assert_eq!(cfg.seed, 42);
        assert_eq!(cfg.state, StateLocation::Memory);
        assert_eq!((cfg.login_latency_ms, cfg.call_latency_ms), (0, 0));
        assert_eq!(cfg.server_time_offset_s, 0);
        assert!(cfg.faults.is_none());
        assert!(cfg.unknown_enums.is_none());
        assert_eq!(cfg.accounts.len(), default_accounts().len());
    }

    #[test]
    fn from_lookup_reads_every_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.toml");
        std::fs::write(&file, GOOD).unwrap();
        let cfg = SimConfig::from_lookup(
            lookup(&[
                ("MT5_SIM_ACCOUNTS", file.to_str().unwrap()),
                ("MT5_SIM_STATE", "/tmp/sim.db"),
                ("MT5_SIM_SEED", "7"),
                ("MT5_SIM_LOGIN_LATENCY_MS", "1500"),
                ("MT5_SIM_CALL_LATENCY_MS", "20"),
                ("MT5_SIM_SERVER_TIME_OFFSET_S", "-3600"),
                ("MT5_SIM_FAULTS", "disconnect=0.5"),
                ("MT5_SIM_UNKNOWN_ENUMS", "true,order_state"),
            ]),
            StateLocation::Memory,
        )
        .unwrap();
        assert_eq!(cfg.accounts.len(), 2);
        assert_eq!(
            cfg.state,
            StateLocation::Sqlite(PathBuf::from("/tmp/sim.db"))
        );
        assert_eq!(cfg.seed, 7);
        assert_eq!((cfg.login_latency_ms, cfg.call_latency_ms), (1500, 20));
        assert_eq!(cfg.server_time_offset_s, -3600);
        assert_eq!(cfg.faults.disconnect, 0.5);
        assert_eq!(
            cfg.unknown_enums,
            UnknownEnums {
                order_state: true,
                ..UnknownEnums::shown()
            }
        );
        let mem = SimConfig::from_lookup(
            lookup(&[("MT5_SIM_STATE", "memory")]),
            StateLocation::Sqlite("x.db".into()),
        )
        .unwrap();
        assert_eq!(mem.state, StateLocation::Memory);
    }

    #[test]
    fn from_lookup_reports_every_bad_value_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, GOOD.replacen("leverage = 100", "leverage = 0", 1)).unwrap();
        let err = SimConfig::from_lookup(
            lookup(&[
                ("MT5_SIM_ACCOUNTS", file.to_str().unwrap()),
                ("MT5_SIM_SEED", "-1"),
                ("MT5_SIM_LOGIN_LATENCY_MS", "fast"),
                ("MT5_SIM_CALL_LATENCY_MS", "10"),
                ("MT5_SIM_SERVER_TIME_OFFSET_S", "999999"),
                ("MT5_SIM_FAULTS", "timeout=2"),
                ("MT5_SIM_UNKNOWN_ENUMS", "yes"),
            ]),
            StateLocation::Memory,
        )
        .unwrap_err();
        let origins: Vec<_> = err.problems.iter().map(|p| p.origin.as_str()).collect();
        assert_eq!(
            origins,
            vec![
                "MT5_SIM_ACCOUNTS",
                "MT5_SIM_SEED",
                "MT5_SIM_LOGIN_LATENCY_MS",
                "MT5_SIM_SERVER_TIME_OFFSET_S",
                "MT5_SIM_FAULTS",
                "MT5_SIM_UNKNOWN_ENUMS"
            ]
        );
        let shown = err.to_string();
        assert!(shown.contains("bad.toml, line 9: leverage"), "{shown}");
        assert!(!shown.contains("V!QzRxQ7"), "{shown}");
        let missing = SimConfig::from_lookup(
            lookup(&[("MT5_SIM_ACCOUNTS", "/nonexistent/accounts.toml")]),
            StateLocation::Memory,
        )
        .unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/accounts.toml"));
    }
}
