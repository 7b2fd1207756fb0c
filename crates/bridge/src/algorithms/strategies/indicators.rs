//! Indicators on closed bars.

use mt5::Rate;

// Indicators. Each returns None (or an empty series) when there are too few bars or the result
// is not finite, so callers never see NaN.

pub(super) fn sma(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let m = xs.iter().sum::<f64>() / xs.len() as f64;
    m.is_finite().then_some(m)
}

/// Wilder's ATR over all `bars`: seeded with the mean of the first `n` true ranges, then
/// smoothed as ATR = (ATR × (n − 1) + TR) / n. Needs n + 1 bars.
pub(super) fn wilder_atr(bars: &[Rate], n: usize) -> Option<f64> {
    if n == 0 || bars.len() < n + 1 {
        return None;
    }
    let tr = |pair: &[Rate]| -> f64 {
        let (prev, b) = (&pair[0], &pair[1]);
        // f64::max drops a NaN operand silently; poison the result instead.
        if !(b.high.is_finite() && b.low.is_finite() && prev.close.is_finite()) {
            return f64::NAN;
        }
        (b.high - b.low)
            .max((b.high - prev.close).abs())
            .max((b.low - prev.close).abs())
    };
    let mut trs = bars.windows(2).map(tr);
    let nf = n as f64;
    let mut atr = trs.by_ref().take(n).sum::<f64>() / nf;
    for t in trs {
        atr = (atr * (nf - 1.0) + t) / nf;
    }
    atr.is_finite().then_some(atr)
}

/// Wilder's RSI; element k is the RSI at bar n + k (empty with fewer than n + 1 closes).
/// A window with neither gains nor losses reads 50; with gains only, 100.
pub(super) fn wilder_rsi(closes: &[f64], n: usize) -> Vec<f64> {
    // f64::max would turn a NaN change into 0 rather than refuse it.
    if n == 0 || closes.len() < n + 1 || !closes.iter().all(|c| c.is_finite()) {
        return Vec::new();
    }
    let nf = n as f64;
    let rsi = |gain: f64, loss: f64| -> f64 {
        if loss <= 0.0 {
            if gain <= 0.0 {
                50.0
            } else {
                100.0
            }
        } else {
            100.0 - 100.0 / (1.0 + gain / loss)
        }
    };
    let changes: Vec<f64> = closes.windows(2).map(|w| w[1] - w[0]).collect();
    let (mut gain, mut loss) = changes[..n]
        .iter()
        .fold((0.0, 0.0), |(g, l), d| (g + d.max(0.0), l + (-d).max(0.0)));
    gain /= nf;
    loss /= nf;
    let mut out = Vec::with_capacity(changes.len() - n + 1);
    out.push(rsi(gain, loss));
    for d in &changes[n..] {
        gain = (gain * (nf - 1.0) + d.max(0.0)) / nf;
        loss = (loss * (nf - 1.0) + (-d).max(0.0)) / nf;
        out.push(rsi(gain, loss));
    }
    if out.iter().all(|x| x.is_finite()) {
        out
    } else {
        Vec::new()
    }
}

// ---------------------------------------------------------------------------------------------
// Shared signal plumbing.

/// Every price of every bar is a finite number (a NaN must never reach a comparison).
pub(super) fn finite(bars: &[Rate]) -> bool {
    bars.iter().all(|b| {
        b.open.is_finite() && b.high.is_finite() && b.low.is_finite() && b.close.is_finite()
    })
}

pub(super) fn closes(bars: &[Rate]) -> Vec<f64> {
    bars.iter().map(|b| b.close).collect()
}

/// Bars a Wilder indicator of period `n` should be fed: its minimum plus the warm-up.
pub(super) fn wilder_bars(n: u32, minimum: u64) -> u64 {
    minimum + WILDER_WARMUP * u64::from(n)
}

pub(super) fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Wilder smoothing remembers its seed with weight (1 − 1/n)^k after k more bars; fetching
/// 5 × n extra bars brings that below e^−5 ≈ 0.7 %, so results barely depend on where history starts.
pub(super) const WILDER_WARMUP: u64 = 5;
