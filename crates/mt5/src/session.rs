//! Who a terminal acts for: an account (login and server), the credential a session logged in
//! with, and the session an operation expects. A leaf: the error types and the `Terminal` trait
//! both name these.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An MT5 account as a terminal knows it: login number and trade server name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct AccountKey {
    pub login: u64,
    pub server: String,
}

impl AccountKey {
    pub fn new(login: u64, server: impl Into<String>) -> Self {
        AccountKey {
            login,
            server: server.into(),
        }
    }
}

/// Whether two trade-server names name one server: MT5 finds a server by its name whatever its
/// case and surrounding blanks, and reports its own spelling.
pub fn same_server(a: &str, b: &str) -> bool {
    let fold = |s: &str| {
        s.trim()
            .chars()
            .flat_map(char::to_lowercase)
            .collect::<Vec<_>>()
    };
    fold(a) == fold(b)
}

impl AccountKey {
    /// The same login on the same server, however the server is spelled.
    pub fn same_as(&self, other: &AccountKey) -> bool {
        self.login == other.login && same_server(&self.server, &other.server)
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.login, self.server)
    }
}

/// A keyed tag of the credential a session logged in with: HMAC-SHA256 of `login|server|password`
/// under a key only the bridge holds. Two passwords of one login (the master and the investor
/// password, or an old and a new one) give two tags, so their sessions are never confused.
///
/// The tag is not a secret in the way a password is, but it is never logged, stored or shown:
/// `Debug` and `Display` print no byte of it. On the agent protocol it travels as 64 lower-case
/// hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionTag([u8; 32]);

impl SessionTag {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionTag(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex characters (the agent protocol's form).
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 0xf)] as char);
        }
        s
    }

    /// Parses exactly 64 lower-case hex characters.
    pub fn from_hex(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 64 {
            return None;
        }
        let nibble = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut out = [0u8; 32];
        for (i, pair) in b.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(SessionTag(out))
    }
}

impl fmt::Debug for SessionTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionTag(..)")
    }
}

impl Serialize for SessionTag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SessionTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SessionTag::from_hex(&s).ok_or_else(|| {
            serde::de::Error::custom("session_tag must be 64 lower-case hex characters")
        })
    }
}

/// A terminal session: the account and the credential it was logged in with. This, not the
/// account alone, is what a terminal serves: an operation runs on a session only for a caller
/// whose own credential gives the same tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Session {
    pub account: AccountKey,
    pub tag: SessionTag,
}

impl Session {
    pub fn new(account: AccountKey, tag: SessionTag) -> Self {
        Session { account, tag }
    }
}

impl fmt::Display for Session {
    // The account only: the tag never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.account.fmt(f)
    }
}

/// The session an operation must run on, and the lease it runs under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub account: AccountKey,
    /// The credential's tag: a terminal logged in to `account` with another password refuses.
    pub tag: SessionTag,
    /// Fencing token of the lease that holds the terminal (checked once replicas share terminals).
    pub lease: Option<u64>,
    /// When the operation's budget ends (the pool's deadline): a call is not started after it,
    /// and an agent is told how much of it remains. Local to this process, never sent as is.
    #[serde(skip)]
    pub deadline: Option<std::time::Instant>,
    /// The order's client id, on an `order_send` only: a terminal agent (protocol v3) keys its
    /// ledger by it, so that a repeated send replays its answer and the service can ask later
    /// whether the order ever arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Expected {
    pub fn new(session: Session) -> Self {
        Expected {
            account: session.account,
            tag: session.tag,
            lease: None,
            deadline: None,
            client_id: None,
        }
    }

    /// The same expectation for the order `client_id`.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The same expectation with a deadline.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// What remains of the budget (`None`: no deadline); zero once it has passed.
    pub fn remaining(&self) -> Option<std::time::Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(std::time::Instant::now()))
    }

    /// Whether a terminal on `current` may act for this expectation.
    pub fn matches(&self, current: Option<&Session>) -> bool {
        current.is_some_and(|c| c.account.same_as(&self.account) && c.tag == self.tag)
    }
}
