//! The terminal-agent protocol (v3): HTTP/JSON between the bridge and one agent next to one MT5
//! terminal. See docs/agent-protocol.md.
//!
//! - [`server`]: `mt5-bridge sim-agent`, the protocol served over a simulated terminal.
//! - [`client`]: [`client::AgentTerminal`], an [`mt5::Terminal`] that drives an agent.
//! - [`ledger`]: the agent's durable ledger of the orders it was given (`sim-agent`'s).
//! - [`wire`]: the messages both sides share (one type per body, argument list and answer) and
//!   the protocol's JSON Schema made from them; structures travel in [`mt5::wire`] form.

pub mod client;
pub mod clock;
pub mod ledger;
pub mod server;
pub mod wire;

pub use wire::{
    CallBody, ErrorBody, ErrorDetail, Health, WireAccount, WireSession, PROTOCOL_VERSION,
};

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
