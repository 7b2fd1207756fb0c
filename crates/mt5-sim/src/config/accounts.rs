//! The accounts the simulated broker knows: the built-in ones and those of an accounts TOML file,
//! parsed with every problem reported at once (file and line), never quoting a password.

use mt5::{AccountKey, AccountMarginMode, AccountTradeMode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::fmt;
use std::path::Path;
use toml::Spanned;

/// One account of the simulated broker.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub login: u64,
    /// Redacted in `Debug`.
    pub password: SecretString,
    /// MT5's read-only password: a login with it sees the account but may not trade. Redacted.
    pub investor_password: Option<SecretString>,
    pub server: String,
    pub name: String,
    pub balance: f64,
    pub currency: String,
    pub leverage: u32,
    pub margin_mode: AccountMarginMode,
    pub trade_mode: AccountTradeMode,
    pub company: String,
    /// Maximum number of pending orders; 0 = no limit.
    pub limit_orders: u32,
    /// Maximum number of open positions; 0 = no limit.
    pub limit_positions: u32,
    /// Margin call level, percent.
    pub margin_so_call: f64,
    /// Stop-out level, percent.
    pub margin_so_so: f64,
    /// Whether the broker allows trading on this account at all.
    pub trade_allowed: bool,
}

/// Defaults of the optional account keys.
pub const DEFAULT_LIMIT_ORDERS: u32 = 200;
pub const DEFAULT_MARGIN_SO_CALL: f64 = 50.0;
pub const DEFAULT_MARGIN_SO_SO: f64 = 30.0;
/// Company of accounts whose file entry names none, and of the built-in `Sim-*` servers.
pub const SIM_COMPANY: &str = "Sim Broker Ltd.";

impl AccountSpec {
    /// The account's login and server.
    pub fn key(&self) -> AccountKey {
        AccountKey::new(self.login, self.server.clone())
    }

    #[allow(clippy::too_many_arguments)] // reason: mirrors the required keys of the accounts file
    fn with_defaults(
        login: u64,
        password: &str,
        server: &str,
        name: &str,
        balance: f64,
        currency: &str,
        leverage: u32,
        margin_mode: AccountMarginMode,
        trade_mode: AccountTradeMode,
        company: &str,
    ) -> AccountSpec {
        AccountSpec {
            login,
            password: SecretString::from(password),
            investor_password: None,
            server: server.to_string(),
            name: name.to_string(),
            balance,
            currency: currency.to_string(),
            leverage,
            margin_mode,
            trade_mode,
            company: company.to_string(),
            limit_orders: DEFAULT_LIMIT_ORDERS,
            limit_positions: 0,
            margin_so_call: DEFAULT_MARGIN_SO_CALL,
            margin_so_so: DEFAULT_MARGIN_SO_SO,
            trade_allowed: true,
        }
    }
}

/// The built-in accounts: the MetaQuotes-Demo account of the original service, and test accounts on
/// `Sim-Demo` (hedging USD, netting USD, hedging EUR) and `Sim-Live` (a real-mode account).
pub fn default_accounts() -> Vec<AccountSpec> {
    use AccountMarginMode::{RetailHedging, RetailNetting};
    use AccountTradeMode::{Demo, Real};
    vec![
        AccountSpec::with_defaults(
            5042856355,
            "V!QzRxQ7",
            "MetaQuotes-Demo",
            "Demo",
            100_000.0,
            "USD",
            100,
            RetailHedging,
            Demo,
            "MetaQuotes Ltd.",
        ),
        AccountSpec::with_defaults(
            10001,
            "Sim-10001!",
            "Sim-Demo",
            "Sim Hedging USD",
            10_000.0,
            "USD",
            100,
            RetailHedging,
            Demo,
            SIM_COMPANY,
        ),
        AccountSpec::with_defaults(
            10002,
            "Sim-10002!",
            "Sim-Demo",
            "Sim Netting USD",
            10_000.0,
            "USD",
            100,
            RetailNetting,
            Demo,
            SIM_COMPANY,
        ),
        AccountSpec::with_defaults(
            10003,
            "Sim-10003!",
            "Sim-Demo",
            "Sim Hedging EUR",
            10_000.0,
            "EUR",
            30,
            RetailHedging,
            Demo,
            SIM_COMPANY,
        ),
        AccountSpec::with_defaults(
            20001,
            "Live-20001!",
            "Sim-Live",
            "Sim Live USD",
            5_000.0,
            "USD",
            100,
            RetailHedging,
            Real,
            SIM_COMPANY,
        ),
    ]
}

/// One bad setting: where it came from and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// A file path or an environment variable name.
    pub origin: String,
    /// 1-based line in the file, when the problem has one.
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}, line {}: {}", self.origin, line, self.message),
            None => write!(f, "{}: {}", self.origin, self.message),
        }
    }
}

/// Every problem found in the simulator's settings. Never contains a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

impl ConfigError {
    fn one(origin: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![ConfigProblem {
                origin: origin.to_string(),
                line,
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid simulator configuration: ")?;
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Reads and parses an accounts file.
pub fn load_accounts_file(path: &Path) -> Result<Vec<AccountSpec>, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one(&origin, None, format!("cannot read the file: {e}")))?;
    parse_accounts(&text, &origin)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    accounts: Vec<Spanned<RawAccount>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    login: Spanned<i64>,
    // A `Value`, not a string: a serde type error would quote the value, and this one is secret.
    password: Spanned<toml::Value>,
    investor_password: Option<Spanned<toml::Value>>,
    server: Spanned<String>,
    name: Spanned<String>,
    balance: Spanned<f64>,
    currency: Spanned<String>,
    leverage: Spanned<i64>,
    margin_mode: Spanned<String>,
    trade_mode: Spanned<String>,
    company: Option<Spanned<String>>,
    limit_orders: Option<Spanned<i64>>,
    limit_positions: Option<Spanned<i64>>,
    margin_so_call: Option<Spanned<f64>>,
    margin_so_so: Option<Spanned<f64>>,
    trade_allowed: Option<bool>,
}

/// Collects problems of one file with their lines.
struct Problems<'a> {
    text: &'a str,
    origin: &'a str,
    list: Vec<ConfigProblem>,
}

impl Problems<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    fn at<T>(&mut self, spanned: &Spanned<T>, message: impl Into<String>) {
        let line = self.line_of(spanned.span().start);
        self.list.push(ConfigProblem {
            origin: self.origin.to_string(),
            line: Some(line),
            message: message.into(),
        });
    }
}

fn parse_margin_mode(s: &str) -> Option<AccountMarginMode> {
    match s.to_ascii_lowercase().as_str() {
        "hedging" | "retail_hedging" => Some(AccountMarginMode::RetailHedging),
        "netting" | "retail_netting" => Some(AccountMarginMode::RetailNetting),
        "exchange" => Some(AccountMarginMode::Exchange),
        _ => None,
    }
}

pub(super) fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn u32_field(p: &mut Problems<'_>, v: &Spanned<i64>, key: &str, min: i64) -> u32 {
    let n = *v.get_ref();
    if n < min || n > i64::from(u32::MAX) {
        p.at(v, format!("{key} must be between {min} and {}", u32::MAX));
        0
    } else {
        n as u32
    }
}

/// Parses the accounts TOML; `origin` (the file name) starts every error message.
pub fn parse_accounts(text: &str, origin: &str) -> Result<Vec<AccountSpec>, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let mut p = Problems {
            text,
            origin,
            list: Vec::new(),
        };
        // The parser's own Display quotes the offending source line, which may be a password line:
        // only its message and position are used.
        let line = e.span().map(|s| p.line_of(s.start));
        p.list.push(ConfigProblem {
            origin: origin.to_string(),
            line,
            message: e.message().trim().to_string(),
        });
        ConfigError { problems: p.list }
    })?;

    let mut p = Problems {
        text,
        origin,
        list: Vec::new(),
    };
    if raw.accounts.is_empty() {
        p.list.push(ConfigProblem {
            origin: origin.to_string(),
            line: None,
            message: "no [[accounts]] defined".into(),
        });
    }
    let mut out: Vec<AccountSpec> = Vec::with_capacity(raw.accounts.len());
    for entry in &raw.accounts {
        let a = entry.get_ref();
        let before = p.list.len();

        let login = *a.login.get_ref();
        if login <= 0 {
            p.at(&a.login, "login must be a positive integer");
        }
        let password = match a.password.get_ref() {
            toml::Value::String(s) if !s.is_empty() => SecretString::from(s.as_str()),
            toml::Value::String(_) => {
                p.at(&a.password, "password must not be empty");
                SecretString::from("")
            }
            other => {
                p.at(
                    &a.password,
                    format!("password must be a string, not {}", other.type_str()),
                );
                SecretString::from("")
            }
        };
        let investor_password = match a.investor_password.as_ref().map(|v| (v, v.get_ref())) {
            None => None,
            Some((_, toml::Value::String(s))) if !s.is_empty() => {
                if s.as_bytes() == password.expose_secret().as_bytes() {
                    p.at(&a.password, "investor_password must differ from password");
                }
                Some(SecretString::from(s.as_str()))
            }
            Some((v, toml::Value::String(_))) => {
                p.at(v, "investor_password must not be empty");
                None
            }
            Some((v, other)) => {
                p.at(
                    v,
                    format!(
                        "investor_password must be a string, not {}",
                        other.type_str()
                    ),
                );
                None
            }
        };
        let server = a.server.get_ref().trim().to_string();
        if server.is_empty() {
            p.at(&a.server, "server must not be empty");
        }
        let balance = *a.balance.get_ref();
        if !balance.is_finite() || balance < 0.0 {
            p.at(&a.balance, "balance must be a finite number, 0 or more");
        }
        let currency = a.currency.get_ref().trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_alphabetic()) {
            p.at(
                &a.currency,
                format!(
                    "currency must be a 3-letter code such as USD, got '{}'",
                    short(a.currency.get_ref())
                ),
            );
        }
        let leverage = u32_field(&mut p, &a.leverage, "leverage", 1);
        let margin_mode = parse_margin_mode(a.margin_mode.get_ref()).unwrap_or_else(|| {
            p.at(
                &a.margin_mode,
                format!(
                    "unknown margin_mode '{}', expected hedging, netting or exchange",
                    short(a.margin_mode.get_ref())
                ),
            );
            AccountMarginMode::RetailHedging
        });
        let trade_mode = a
            .trade_mode
            .get_ref()
            .parse::<AccountTradeMode>()
            .unwrap_or_else(|_| {
                p.at(
                    &a.trade_mode,
                    format!(
                        "unknown trade_mode '{}', expected demo, contest or real",
                        short(a.trade_mode.get_ref())
                    ),
                );
                AccountTradeMode::Demo
            });
        let limit_orders = match &a.limit_orders {
            Some(v) => u32_field(&mut p, v, "limit_orders", 0),
            None => DEFAULT_LIMIT_ORDERS,
        };
        let limit_positions = match &a.limit_positions {
            Some(v) => u32_field(&mut p, v, "limit_positions", 0),
            None => 0,
        };
        let mut level = |v: &Option<Spanned<f64>>, key: &str, default: f64| match v {
            Some(s) if !s.get_ref().is_finite() || *s.get_ref() < 0.0 => {
                p.at(s, format!("{key} must be a percentage, 0 or more"));
                default
            }
            Some(s) => *s.get_ref(),
            None => default,
        };
        let margin_so_call = level(&a.margin_so_call, "margin_so_call", DEFAULT_MARGIN_SO_CALL);
        let margin_so_so = level(&a.margin_so_so, "margin_so_so", DEFAULT_MARGIN_SO_SO);
        if margin_so_so > margin_so_call {
            let at = a.margin_so_so.as_ref().or(a.margin_so_call.as_ref());
            if let Some(s) = at {
                p.at(s, "margin_so_so must not exceed margin_so_call");
            }
        }
        if out
            .iter()
            .any(|o| o.login as i64 == login && o.server == server)
        {
            p.at(
                &a.login,
                format!("duplicate account {login} on server '{}'", short(&server)),
            );
        }
        if p.list.len() == before {
            out.push(AccountSpec {
                login: login as u64,
                password,
                investor_password,
                server,
                name: a.name.get_ref().clone(),
                balance,
                currency,
                leverage,
                margin_mode,
                trade_mode,
                company: a
                    .company
                    .as_ref()
                    .map(|c| c.get_ref().clone())
                    .unwrap_or_else(|| SIM_COMPANY.to_string()),
                limit_orders,
                limit_positions,
                margin_so_call,
                margin_so_so,
                trade_allowed: a.trade_allowed.unwrap_or(true),
            });
        }
    }
    if p.list.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError { problems: p.list })
    }
}
