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

/// A JSON number that is a whole number ≥ 0, as JSON Schema's `integer` counts it: `3` and `3.0`
/// alike (clients that write every number as a float send the latter).
pub fn whole_u64(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|x| x.fract() == 0.0 && *x >= 0.0 && *x < 18_446_744_073_709_551_616.0)
            .map(|x| x as u64)
    })
}

/// As [`whole_u64`], for a signed whole number.
pub fn whole_i64(v: &serde_json::Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|x| {
                x.fract() == 0.0
                    && *x >= -9_223_372_036_854_775_808.0
                    && *x < 9_223_372_036_854_775_808.0
            })
            .map(|x| x as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers are read to the nearest double (serde_json's `float_roundtrip`): the fast default
    /// can land a unit off, which turns a value just under a bound into the bound itself.
    #[test]
    fn numbers_are_read_exactly() {
        for (text, below) in [("99.99999999999999", 100.0), ("0.30000000000000004", 0.31)] {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            let x = v.as_f64().unwrap();
            assert!(x < below, "{text} read as {x}");
            assert_eq!(x.to_string(), text, "{text} read as {x}");
        }
    }

    #[test]
    fn whole_numbers_are_whole_whatever_their_notation() {
        use serde_json::json;
        assert_eq!(whole_u64(&json!(187)), Some(187));
        assert_eq!(whole_u64(&json!(187.0)), Some(187));
        assert_eq!(whole_u64(&json!(1.87e2)), Some(187));
        assert_eq!(whole_u64(&json!(187.5)), None);
        assert_eq!(whole_u64(&json!(-1)), None);
        assert_eq!(whole_u64(&json!(-1.0)), None);
        assert_eq!(whole_u64(&json!(1e20)), None);
        assert_eq!(whole_u64(&json!("187")), None);
        assert_eq!(whole_i64(&json!(-274.0)), Some(-274));
        assert_eq!(whole_i64(&json!(274.25)), None);
        assert_eq!(whole_i64(&json!(1e19)), None);
    }

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
