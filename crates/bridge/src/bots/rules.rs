//! The closed-bar rule and the bot clock, as pure functions of bar times and the server's time.
//!
//! MT5 stamps bars with their open time on the trade server's clock. A bar is closed when its open
//! time plus its length is at or before the server time (UTC plus the measured offset); the last
//! bar a terminal returns is dropped only when it is still forming by that test, because MT5 opens
//! the next bar only at its first tick (at the boundary, before that tick, the last bar returned is
//! the one that just closed).

use mt5::{Rate, Timeframe};
use time::{Date, Month, OffsetDateTime, Time};

/// An account's wave lease, renewed before each pass: a replica killed mid-wave leaves the
/// account to another after it.
pub const WAVE_LEASE_MS: i64 = 15_000;

/// Timeframes above this length move their boundaries when a broker shifts its offset (DST): their
/// bots skip rather than guess when the offset is stale.
pub const OFFSET_SENSITIVE_ABOVE_S: i64 = 3600;

/// The close (server clock, epoch seconds) of the bar opened at `open`.
pub fn bar_end(open: i64, tf: Timeframe) -> Option<i64> {
    if let Some(len) = tf.seconds() {
        return open.checked_add(len);
    }
    if tf != Timeframe::MN1 {
        return None;
    }
    // A calendar month: the 1st of the next month at midnight.
    let t = OffsetDateTime::from_unix_timestamp(open).ok()?;
    let (y, m) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let d = Date::from_calendar_date(y, m, 1).ok()?;
    Some(d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp())
}

/// Drops the bars still forming at `server_now` (seconds, server clock): the last one returned
/// when it is forming (and any later a clock read before the bars would see).
pub fn closed_only(bars: &mut Vec<Rate>, tf: Timeframe, server_now: i64) {
    while let Some(last) = bars.last() {
        if bar_end(last.time, tf).is_some_and(|end| end <= server_now) {
            break;
        }
        bars.pop();
    }
}

/// When (server clock) the bar forming at `server_now` closes: the next boundary. W1 and MN1
/// bots are looked at every hour instead (their boundaries are calendar ones).
pub fn next_boundary(server_now: i64, tf: Timeframe) -> i64 {
    match tf.seconds() {
        Some(len) if len > 0 && len <= 86_400 => server_now - server_now.rem_euclid(len) + len,
        _ => server_now - server_now.rem_euclid(3600) + 3600,
    }
}

/// The closed bars strictly between the last evaluated bar and the one evaluated now, counted in
/// `bars` (oldest first); `None` when `bars` does not reach back to `last`.
pub fn missed_between(bars: &[Rate], last: i64, now: i64) -> Option<i64> {
    let first = bars.first()?;
    if first.time > last {
        return None;
    }
    Some(
        bars.iter()
            .filter(|b| b.time > last && b.time < now)
            .count() as i64,
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test should panic loudly on the unexpected
mod tests {
    use super::*;

    fn bar(time: i64) -> Rate {
        Rate {
            time,
            ..Default::default()
        }
    }

    #[test]
    fn the_forming_bar_is_dropped_and_a_closed_last_bar_kept() {
        // 10:00, 10:01 and the 10:02 bar forming at 10:02:30.
        let mut bars = vec![bar(36_000), bar(36_060), bar(36_120)];
        closed_only(&mut bars, Timeframe::M1, 36_150);
        assert_eq!(bars.last().unwrap().time, 36_060);
        // At the boundary, before the next bar's first tick: the last bar just closed and counts.
        let mut bars = vec![bar(36_000), bar(36_060)];
        closed_only(&mut bars, Timeframe::M1, 36_120);
        assert_eq!(bars.last().unwrap().time, 36_060);
        // One second earlier it is still forming.
        let mut bars = vec![bar(36_000), bar(36_060)];
        closed_only(&mut bars, Timeframe::M1, 36_119);
        assert_eq!(bars.last().unwrap().time, 36_000);
    }

    #[test]
    fn months_close_on_the_first_of_the_next() {
        // 2024-02-01 00:00 UTC → 2024-03-01 (a leap February).
        assert_eq!(bar_end(1_706_745_600, Timeframe::MN1), Some(1_709_251_200));
        // December rolls into January.
        assert_eq!(bar_end(1_701_388_800, Timeframe::MN1), Some(1_704_067_200));
        assert_eq!(bar_end(0, Timeframe::Unknown(7)), None);
    }

    #[test]
    fn boundaries_and_missed_bars() {
        assert_eq!(next_boundary(36_150, Timeframe::M1), 36_180);
        assert_eq!(next_boundary(36_180, Timeframe::M1), 36_240);
        assert_eq!(next_boundary(36_150, Timeframe::H4), 43_200);
        assert_eq!(next_boundary(36_150, Timeframe::W1), 39_600);
        let bars: Vec<Rate> = (0..10).map(|i| bar(i * 60)).collect();
        assert_eq!(missed_between(&bars, 120, 540), Some(6));
        assert_eq!(missed_between(&bars, 480, 540), Some(0));
        assert_eq!(missed_between(&bars[3..], 120, 540), None);
    }
}
