//! Rules for fields that the HTTP layer and the domain code (the strategies' parameters) both
//! read, so that each rule exists once.

/// The longest symbol name accepted, in characters.
pub const SYMBOL_MAX: usize = 32;

/// What a field holding a symbol must be (the message a refusal gives).
pub const SYMBOL_RULE: &str =
    "must be a symbol name of 1 to 32 characters, without spaces, slashes or control characters";

/// [`is_symbol`] as a JSON Schema pattern, for the API document.
pub const SYMBOL_PATTERN: &str = "^[^\\s/\\u0000-\\u001F\\u007F-\\u009F]{1,32}$";

/// A text field as the API reads it (`Fields::string`): not blank, no control character. As a
/// JSON Schema pattern, for the API document.
pub const TEXT_PATTERN: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// Whether `symbol` is a symbol name the service accepts: 1 to [`SYMBOL_MAX`] characters, none of
/// them whitespace, a control character or `/` (which could not travel in a path).
pub fn is_symbol(symbol: &str) -> bool {
    let n = symbol.chars().count();
    (1..=SYMBOL_MAX).contains(&n)
        && !symbol
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_as_brokers_name_them_pass_and_nothing_else() {
        for ok in [
            "EURUSD",
            "EURUSD.m",
            "#AAPL",
            "US100",
            "XAUUSD_i",
            &"X".repeat(32),
        ] {
            assert!(is_symbol(ok), "{ok}");
        }
        for bad in [
            "",
            " EURUSD",
            "EUR USD",
            "EUR/USD",
            "EUR\u{0}",
            "EUR\tUSD",
            &"X".repeat(33),
        ] {
            assert!(!is_symbol(bad), "{bad:?}");
        }
    }
}
