//! Cursors of `GET /history/deals` and `GET /history/orders`.
//!
//! A history page is a slice of a time window, and the window must not move between pages: if `to`
//! defaulted to "now" on every page, every deal that arrived in between would push the rest of the
//! list along, and a page would repeat or skip what the previous one held. So the first page
//! resolves the window once (`from`, `to`, and the moment it was read, `as_of_ms`), and its cursor
//! carries it to every later page, with the offset reached, the list (deals or orders) and the
//! account it was made for. Deals that arrive after the first page lie after `as_of_ms` and are
//! left out of every page, so no page holds one and none of the window's is pushed along.
//!
//! The form is opaque to clients: base64url without padding of a small JSON record with a version.
//! It is not signed. A user can only read their own accounts' history, so a cursor made by hand
//! gains nothing a query could not ask for; but every value is checked as the query's own inputs
//! are (times within `crate::times`'s input range, a window of at most 366 days, a bounded
//! offset), so a made-up or mangled cursor answers `422 validation_failed` naming `cursor`, never
//! a 500. The API document states the form (alphabet and length, [`PATTERN`], [`MIN_LEN`],
//! [`MAX_LEN`]), so a string of another form is refused as breaking it; a well-formed one the
//! service did not issue is refused naming `cursor` all the same.

use crate::error::ApiError;
use crate::times::{EARLIEST_INPUT_S, END_OF_INPUT_S, MAX_WINDOW_S};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The version written into new cursors; any other is refused.
const VERSION: u8 = 1;
/// The shortest cursor the service can issue: its record with every number of one digit.
pub const MIN_LEN: usize = 148;
/// The longest: the longest list name and every number at its bound (checked by a test).
pub const MAX_LEN: usize = 200;
/// The alphabet of a cursor (base64url without padding), as a JSON Schema pattern for the API
/// document, which states [`MIN_LEN`] and [`MAX_LEN`] beside it.
pub const PATTERN: &str = "^[A-Za-z0-9_-]+$";
/// Beyond this many items into one window a cursor is not one of ours (MT5 keeps far fewer).
pub const MAX_OFFSET: u64 = 100_000_000;

/// Which history list a cursor pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryList {
    Deals,
    Orders,
}

impl HistoryList {
    pub fn route(self) -> &'static str {
        match self {
            HistoryList::Deals => "/api/v1/history/deals",
            HistoryList::Orders => "/api/v1/history/orders",
        }
    }
}

/// Where the next page of one history window starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryCursor {
    pub v: u8,
    pub list: HistoryList,
    /// The account (`mt5_accounts.id`) whose history it pages.
    pub account: Uuid,
    /// The window as the first page resolved it: UTC epoch seconds, both inclusive.
    pub from: i64,
    pub to: i64,
    /// When the first page was read (UTC ms): items after it are in no page.
    pub as_of_ms: i64,
    /// Items of the window before the next page.
    pub offset: u64,
}

/// What the query says about a `cursor` that breaks the documented form.
const FORM: &str = "must be 148 to 200 characters of A-Z, a-z, 0-9, - and _: use the next_cursor \
                    of the previous page, or leave it out to start again";

/// What the query says about a well-formed `cursor` that is not one the service issued.
const NOT_OURS: &str =
    "is not a cursor of this endpoint: use the next_cursor of the previous page, \
                        or leave it out to start again";

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::validation("cursor", message)
}

impl HistoryCursor {
    pub fn new(
        list: HistoryList,
        account: Uuid,
        from: i64,
        to: i64,
        as_of_ms: i64,
        offset: u64,
    ) -> Self {
        HistoryCursor {
            v: VERSION,
            list,
            account,
            from,
            to,
            as_of_ms,
            offset,
        }
    }

    pub fn encode(&self) -> String {
        // Serializing a struct of plain fields cannot fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor given to `list` for `account`; `422 validation_failed` naming `cursor` for
    /// anything that is not a cursor of that list and account, or holds values out of bounds.
    pub fn decode(raw: &str, list: HistoryList, account: Uuid) -> Result<Self, ApiError> {
        let form = (MIN_LEN..=MAX_LEN).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !form {
            return Err(bad(FORM));
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad(NOT_OURS))?;
        let c: HistoryCursor = serde_json::from_slice(&bytes).map_err(|_| bad(NOT_OURS))?;
        if c.v != VERSION {
            return Err(bad(NOT_OURS));
        }
        let time_ok = |t: i64| (EARLIEST_INPUT_S..END_OF_INPUT_S).contains(&t);
        let bounded = time_ok(c.from)
            && time_ok(c.to)
            && c.from <= c.to
            && c.to - c.from <= MAX_WINDOW_S
            && (EARLIEST_INPUT_S * 1000..END_OF_INPUT_S * 1000).contains(&c.as_of_ms)
            && c.offset <= MAX_OFFSET;
        if !bounded {
            return Err(bad(NOT_OURS));
        }
        if c.list != list {
            return Err(bad(format!(
                "is a cursor of {}, not of this endpoint",
                c.list.route()
            )));
        }
        if c.account != account {
            return Err(bad(
                "was made for another account than the one this request acts on",
            ));
        }
        Ok(c)
    }

    /// The same window, from `offset`.
    pub fn at(&self, offset: u64) -> Self {
        HistoryCursor {
            offset,
            ..self.clone()
        }
    }

    /// The last second the terminal is asked for: `to`, or the first page's moment if earlier.
    pub fn select_to(&self) -> i64 {
        self.to.min(self.as_of_ms.div_euclid(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: &ApiError) -> String {
        match e {
            ApiError::Validation(f) => f.iter().map(|f| f.field.clone()).collect(),
            other => format!("not a validation error: {other:?}"),
        }
    }

    fn sample(account: Uuid) -> HistoryCursor {
        HistoryCursor::new(
            HistoryList::Deals,
            account,
            1_700_000_000,
            1_700_086_400,
            1_700_086_400_123,
            200,
        )
    }

    #[test]
    fn round_trip_is_opaque_and_url_safe() {
        let a = Uuid::new_v4();
        let c = sample(a);
        let s = c.encode();
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{s}"
        );
        assert_eq!(
            HistoryCursor::decode(&s, HistoryList::Deals, a).ok(),
            Some(c.clone())
        );
        assert_eq!(c.at(7).offset, 7);
        assert_eq!(c.select_to(), 1_700_086_400);
        let early = HistoryCursor {
            as_of_ms: 1_700_000_500_999,
            ..c
        };
        assert_eq!(early.select_to(), 1_700_000_500);
    }

    /// The documented length bounds are those of the shortest and longest cursors the service
    /// can issue, and the parameter in the API document states them with the pattern.
    #[test]
    fn the_documented_form_is_what_is_issued() {
        let a = Uuid::nil();
        let shortest = HistoryCursor::new(HistoryList::Deals, a, 0, 0, 0, 0).encode();
        let last = END_OF_INPUT_S - 1;
        let longest = HistoryCursor::new(
            HistoryList::Orders,
            a,
            last,
            last,
            END_OF_INPUT_S * 1000 - 1,
            MAX_OFFSET,
        )
        .encode();
        assert_eq!((shortest.len(), longest.len()), (MIN_LEN, MAX_LEN));
        for (c, list) in [
            (&shortest, HistoryList::Deals),
            (&longest, HistoryList::Orders),
        ] {
            assert!(HistoryCursor::decode(c, list, a).is_ok(), "{c}");
        }
        let params =
            <crate::http::history::HistoryQuery as utoipa::IntoParams>::into_params(|| None);
        let cursor = params
            .iter()
            .find(|p| p.name == "cursor")
            .and_then(|p| p.schema.clone())
            .map(|s| serde_json::to_value(s).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(cursor["pattern"], PATTERN, "{cursor}");
        assert_eq!(cursor["minLength"], MIN_LEN, "{cursor}");
        assert_eq!(cursor["maxLength"], MAX_LEN, "{cursor}");
    }

    #[test]
    fn anything_else_names_the_cursor() {
        let a = Uuid::new_v4();
        let good = sample(a);
        let enc = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let mut record = serde_json::to_value(&good).unwrap_or_default();
        let with = |k: &str, v: serde_json::Value| {
            let mut r = record.clone();
            r[k] = v;
            enc(r)
        };
        let crafted = [
            with("v", 2.into()),
            with("list", "positions".into()),
            with("from", (-1).into()),
            with("to", 4_102_444_800i64.into()),
            with("to", 1_600_000_000.into()),
            with("from", 1_600_000_000.into()),
            with("as_of_ms", (-5).into()),
            with("as_of_ms", i64::MAX.into()),
            with("offset", (MAX_OFFSET + 1).into()),
            with("offset", (-1).into()),
            with("offset", 1.5.into()),
            with("account", "not-a-uuid".into()),
            with("extra", 1.into()),
        ];
        record
            .as_object_mut()
            .map(|o| o.remove("offset"))
            .unwrap_or_default();
        let missing = enc(record);
        let padded = format!("{}=", good.encode());
        for raw in crafted.iter().chain([
            &missing,
            &padded,
            &"2".to_string(),
            &"100".to_string(),
            &"!!!".to_string(),
            &"".to_string(),
            &"A".repeat(600),
            &URL_SAFE_NO_PAD.encode("garbage"),
            &URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
        ]) {
            let e = HistoryCursor::decode(raw, HistoryList::Deals, a).unwrap_err();
            assert_eq!(field_of(&e), "cursor", "{raw}");
        }
        // A string of another form is refused for its form; a well-formed one the service did
        // not issue, for not being one of its cursors.
        let message = |raw: &str| {
            HistoryCursor::decode(raw, HistoryList::Deals, a)
                .unwrap_err()
                .details()
                .to_string()
        };
        for raw in [
            "2",
            "!!!",
            &"A".repeat(MAX_LEN + 1),
            &"A".repeat(MIN_LEN - 1),
        ] {
            assert!(message(raw).contains(FORM), "{raw}");
        }
        for raw in [&crafted[0], &"A".repeat(MIN_LEN)] {
            assert!(message(raw).contains(NOT_OURS), "{raw}");
        }
        // Another list, another account.
        let e = HistoryCursor::decode(&good.encode(), HistoryList::Orders, a).unwrap_err();
        assert_eq!(field_of(&e), "cursor");
        assert!(
            e.details().to_string().contains("/api/v1/history/deals"),
            "{e:?}"
        );
        let e =
            HistoryCursor::decode(&good.encode(), HistoryList::Deals, Uuid::new_v4()).unwrap_err();
        assert_eq!(field_of(&e), "cursor");
    }
}
