//! Bars from the brokers' history, per trade server, cached in the store and shared by every user
//! of that server (as `ticks.rs` shares quotes): what a trade server shows of a symbol's history is
//! the same for all its accounts.
//!
//! History is read in chunks of whole calendar months (server time), sized so that a chunk stays
//! well under 100,000 bars (agent replies are capped at 32 MiB, and a page must fit in
//! `TERMINAL_TIMEOUT_MS`): one month of M1, more months for longer timeframes. A chunk records the
//! server time up to which its bars had closed when it was read: a read that needs nothing after
//! that time is served from the cache, so a chunk that ended before it was read is never read
//! again, and the current one only when newer bars are asked for. The cache is keyed by the trade server as the terminal's `account_info().server` reports
//! it (lower-cased, trimmed), the symbol and the timeframe; `BAR_CACHE_MAX_MB` bounds it, least
//! recently used first. A chunk is read from any idle terminal already logged in on that trade
//! server, else on the account's own session (one page at a time).

use crate::error::ApiResult;
use crate::state::AppState;
use crate::store::backtests::CachedChunk;
use crate::store::AccountRow;
use mt5::{Rate, RatesRange, Timeframe};

pub mod latest;
pub use latest::{server_key, Latest, LatestSeries};

/// Bars a history read reserves room for at most before it has read them (about 1 GiB).
const PRESIZE_MAX_BARS: usize = 1 << 24;

/// Bytes a bar takes in a cached chunk: time, OHLC, tick volume, spread, real volume.
pub const BAR_BYTES: usize = 8 + 4 * 8 + 8 + 4 + 8;

/// Months a chunk of `timeframe` spans: as many as keep it near 40,000 bars, 1 to 120.
pub fn chunk_months(timeframe: Timeframe) -> i64 {
    let seconds = timeframe.seconds().unwrap_or(30 * 86_400).max(60);
    (40_000 * seconds / (31 * 86_400)).clamp(1, 120)
}

/// Months since 1970-01 of a server time (seconds).
fn month_index(server_s: i64) -> i64 {
    let date = time::OffsetDateTime::from_unix_timestamp(server_s.clamp(0, 253_402_300_799))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (i64::from(date.year()) - 1970) * 12 + i64::from(u8::from(date.month())) - 1
}

/// The server time (seconds) at which a month index starts.
fn month_start(index: i64) -> i64 {
    let year = 1970 + index.div_euclid(12);
    let month = index.rem_euclid(12) as u8 + 1;
    let month = time::Month::try_from(month).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(year.clamp(1970, 9999) as i32, month, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(0)
}

/// The chunk (its first month's index) holding a server time.
pub fn chunk_of(timeframe: Timeframe, server_s: i64) -> i64 {
    let months = chunk_months(timeframe);
    month_index(server_s).div_euclid(months) * months
}

/// The server times a chunk covers: [start, end).
pub fn chunk_span(timeframe: Timeframe, chunk: i64) -> (i64, i64) {
    (
        month_start(chunk),
        month_start(chunk + chunk_months(timeframe)),
    )
}

pub fn encode(bars: &[Rate]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bars.len() * BAR_BYTES);
    for b in bars {
        out.extend_from_slice(&b.time.to_le_bytes());
        for v in [b.open, b.high, b.low, b.close] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&b.tick_volume.to_le_bytes());
        out.extend_from_slice(&b.spread.to_le_bytes());
        out.extend_from_slice(&b.real_volume.to_le_bytes());
    }
    out
}

/// The bars of a cached chunk; `None` when its length is not a whole number of bars.
pub fn decode(data: &[u8]) -> Option<Vec<Rate>> {
    if !data.len().is_multiple_of(BAR_BYTES) {
        return None;
    }
    let word = |b: &[u8], at: usize| -> [u8; 8] {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[at..at + 8]);
        w
    };
    Some(
        data.chunks_exact(BAR_BYTES)
            .map(|b| {
                let mut spread = [0u8; 4];
                spread.copy_from_slice(&b[48..52]);
                Rate {
                    time: i64::from_le_bytes(word(b, 0)),
                    open: f64::from_le_bytes(word(b, 8)),
                    high: f64::from_le_bytes(word(b, 16)),
                    low: f64::from_le_bytes(word(b, 24)),
                    close: f64::from_le_bytes(word(b, 32)),
                    tick_volume: u64::from_le_bytes(word(b, 40)),
                    spread: i32::from_le_bytes(spread),
                    real_volume: u64::from_le_bytes(word(b, 52)),
                }
            })
            .collect(),
    )
}

/// Where history is read: the account (its row), its trade server's cache key, and the server
/// clock's offset from UTC.
pub struct Source<'a> {
    pub state: &'a AppState,
    pub row: &'a AccountRow,
    pub server: String,
    pub offset_s: i64,
    /// `BAR_CACHE_MAX_MB` in bytes.
    pub cache_max_bytes: u64,
}

/// How many chunks a read came from, and how many of them the terminal served.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadStats {
    pub chunks: u32,
    pub from_terminal: u32,
}

impl Source<'_> {
    /// Bars of `symbol` with open times in [from, to] (server seconds), oldest first, and at
    /// least `warm_up` bars before `from` when the history has them.
    pub async fn history(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        from: i64,
        to: i64,
        warm_up: usize,
        stats: &mut ReadStats,
    ) -> ApiResult<Vec<Rate>> {
        let now_server = time::OffsetDateTime::now_utc().unix_timestamp() + self.offset_s;
        let months = chunk_months(timeframe);
        let first = chunk_of(timeframe, from);
        let last = chunk_of(timeframe, to.min(now_server));
        // Sized once for the span (and the warm-up, inserted in front at the end): a vector that
        // doubles as it grows holds its old and new buffers at once, which for ten years of M1
        // is most of a backtest's peak memory. Pages a gap in the history leaves unused are
        // never touched, so they cost address space, not memory.
        let bar_s = timeframe.seconds().unwrap_or(86_400).max(60);
        let span = usize::try_from((to.min(now_server) - from).max(0) / bar_s).unwrap_or(0);
        let mut bars = Vec::with_capacity(
            span.saturating_add(warm_up)
                .saturating_add(1)
                .min(PRESIZE_MAX_BARS),
        );
        let mut chunk = first;
        while chunk <= last {
            let got = self
                .chunk(symbol, timeframe, chunk, to, now_server, stats)
                .await?;
            bars.extend(got.into_iter().filter(|b| b.time >= from && b.time <= to));
            chunk += months;
        }
        // Warm-up: whole chunks further back until there are enough, or history ends.
        let mut before: Vec<Rate> = Vec::new();
        let mut chunk = first;
        let mut looked = 0;
        while before.len() < warm_up && looked < 240 / months.max(1) + 2 {
            let got = self
                .chunk(symbol, timeframe, chunk, from, now_server, stats)
                .await?;
            let older: Vec<Rate> = got.into_iter().filter(|b| b.time < from).collect();
            if older.is_empty() && chunk != first {
                break;
            }
            before.splice(0..0, older);
            chunk -= months;
            looked += 1;
        }
        let skip = before.len().saturating_sub(warm_up);
        bars.splice(0..0, before.drain(skip..));
        Ok(bars)
    }

    /// A chunk's bars, good at least up to `needed` (server seconds): from the cache when it was
    /// read after the bars up to there had closed.
    async fn chunk(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        chunk: i64,
        needed: i64,
        now_server: i64,
        stats: &mut ReadStats,
    ) -> ApiResult<Vec<Rate>> {
        stats.chunks += 1;
        let tf = mt5::enums::Mt5Enum::code(timeframe).to_string();
        let store = &self.state.store;
        let (start, end) = chunk_span(timeframe, chunk);
        let bar_s = timeframe.seconds().unwrap_or(86_400);
        // Every bar the read may use has closed by then.
        let must_be_final = needed.saturating_add(bar_s).min(end);
        if let Some(cached) = store.cached_bars(&self.server, symbol, &tf, chunk).await? {
            if cached.final_until >= must_be_final {
                if let Some(bars) = decode(&cached.bars) {
                    return Ok(bars);
                }
            }
        }
        let bars = self.read(symbol, timeframe, start, end - 1).await?;
        stats.from_terminal += 1;
        store
            .cache_bars(
                &self.server,
                symbol,
                &tf,
                chunk,
                CachedChunk {
                    bars: encode(&bars),
                    final_until: now_server.min(end),
                },
                self.cache_max_bytes,
            )
            .await?;
        Ok(bars)
    }

    /// One page from a terminal: an idle one on the trade server, else the account's own session.
    async fn read(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        from: i64,
        to: i64,
    ) -> ApiResult<Vec<Rate>> {
        let op = |symbol: String| {
            move |t: std::sync::Arc<dyn mt5::Terminal>,
                  at: mt5::Expected|
                  -> crate::pool::BoxFuture<_> {
                let symbol = symbol.clone();
                Box::pin(async move {
                    match t
                        .copy_rates(&at, &symbol, timeframe, RatesRange::Range { from, to })
                        .await
                    {
                        // A range older than the history the terminal keeps: no bars there.
                        Err(mt5::TerminalError::Mt5 { code, .. })
                            if code == mt5::last_error::FAIL =>
                        {
                            Ok(Vec::new())
                        }
                        other => other,
                    }
                })
            }
        };
        if let crate::pool::Peeked::Ran(Ok(bars)) = self
            .state
            .pool
            .run_on_server_if_idle(&self.row.server, op(symbol.to_string()))
            .await
        {
            return Ok(bars);
        }
        // MT5's "not found" (-4) answers as `symbol_not_found`.
        crate::trading::read(self.state, self.row, op(symbol.to_string())).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_round_trip_through_a_chunk() {
        let bars = vec![
            Rate {
                time: 1_700_000_000,
                open: 1.1,
                high: 1.2,
                low: 1.0,
                close: 1.15,
                tick_volume: 42,
                spread: -3,
                real_volume: u64::MAX,
            };
            3
        ];
        let data = encode(&bars);
        assert_eq!(data.len(), 3 * BAR_BYTES);
        assert_eq!(decode(&data), Some(bars));
        assert_eq!(decode(&data[1..]), None);
    }

    #[test]
    fn chunks_are_whole_months_and_tile_time() {
        assert_eq!(chunk_months(Timeframe::M1), 1);
        assert!(chunk_months(Timeframe::H1) > 12);
        assert_eq!(chunk_months(Timeframe::D1), 120);
        // 2024-02-29 12:00 is in February's chunk, which ends at March 1st.
        let t = 1_709_208_000;
        let c = chunk_of(Timeframe::M1, t);
        let (start, end) = chunk_span(Timeframe::M1, c);
        assert_eq!(start, 1_706_745_600); // 2024-02-01
        assert_eq!(end, 1_709_251_200); // 2024-03-01
        assert_eq!(chunk_of(Timeframe::M1, end), c + 1);
        let c = chunk_of(Timeframe::H1, t);
        let (start, end) = chunk_span(Timeframe::H1, c);
        assert!(start <= t && t < end);
        assert_eq!(
            chunk_of(Timeframe::H1, end),
            c + chunk_months(Timeframe::H1)
        );
    }
}
