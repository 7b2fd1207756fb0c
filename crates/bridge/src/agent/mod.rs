//! The terminal-agent protocol (v2): HTTP/JSON between the bridge and one agent next to one MT5
//! terminal. See docs/agent-protocol.md.
//!
//! - [`server`]: `mt5-bridge sim-agent`, the protocol served over a simulated terminal.
//! - [`client`]: [`client::AgentTerminal`], an [`mt5::Terminal`] that drives an agent.
//!
//! The message shapes both sides share live here; structures travel in [`mt5::wire`] form.

pub mod client;
pub mod clock;
pub mod server;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version both sides speak.
pub const PROTOCOL_VERSION: &str = "2";

/// An account as the protocol names it (`expected`, `actual`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireAccount {
    pub login: u64,
    pub server: String,
}

impl From<&mt5::AccountKey> for WireAccount {
    fn from(k: &mt5::AccountKey) -> Self {
        WireAccount {
            login: k.login,
            server: k.server.clone(),
        }
    }
}

impl From<WireAccount> for mt5::AccountKey {
    fn from(w: WireAccount) -> Self {
        mt5::AccountKey::new(w.login, w.server)
    }
}

/// The session a call expects (`expected`): the account and the credential's tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireSession {
    pub login: u64,
    pub server: String,
    pub session_tag: mt5::SessionTag,
}

impl From<&mt5::Expected> for WireSession {
    fn from(e: &mt5::Expected) -> Self {
        WireSession {
            login: e.account.login,
            server: e.account.server.clone(),
            session_tag: e.tag,
        }
    }
}

/// Body of `POST /v1/call/<operation>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CallBody {
    pub expected: WireSession,
    /// The call's remaining budget in milliseconds, from when the agent receives it: after it, the
    /// agent starts no MT5 call and answers `504 deadline_exceeded` ("not sent"). Absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    #[serde(default)]
    pub lease: Option<u64>,
    #[serde(default = "empty_object")]
    pub args: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub connected: bool,
    pub login: Option<u64>,
    pub server: Option<String>,
    pub agent: String,
    pub version: String,
    /// The tag of the current session; `None` when logged out or unknown.
    #[serde(default)]
    pub session_tag: Option<mt5::SessionTag>,
    /// The newest lease the agent has seen (fencing), when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<u64>,
    /// `terminal_info()`'s `connected`, `trade_allowed` and `tradeapi_disabled`; `None` when unread.
    #[serde(default)]
    pub terminal_info: Option<mt5::TerminalFlags>,
}

/// The `error` object of every failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub last_error: Option<(i32, String)>,
    #[serde(default)]
    pub actual: Option<WireAccount>,
    /// `invalid_argument` only: MT5's code (-2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mt5_code: Option<i32>,
    /// `invalid_argument` only: the argument MT5 named, else `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Truncates a comment as the agent does before calling MT5: at most [`mt5::COMMENT_MAX`] ASCII
/// characters.
pub fn mt5_comment(comment: &str) -> String {
    comment
        .chars()
        .filter(char::is_ascii)
        .take(mt5::COMMENT_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_cut_to_27_ascii_characters() {
        assert_eq!(mt5_comment("é-short"), "-short");
        assert_eq!(mt5_comment(&"x".repeat(40)).len(), 27);
    }
}
