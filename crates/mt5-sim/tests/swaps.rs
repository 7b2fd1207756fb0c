//! Swaps on the live simulator's path (the engine advanced second by second whenever an account
//! is touched): charged at server midnight, tripled on the symbol's `swap_rollover3days`, realised
//! by the closing deal. Worked answers from the built-in symbols' swap rates (points) and
//! contract size (100000).
#![allow(clippy::unwrap_used)] // tests: a missing value is a failed test

mod common;

use common::*;
use mt5::AccountMarginMode::RetailHedging;
use mt5::{DealEntry, OrderType, SymbolSwapMode};
use mt5_sim::engine::swap_mode_modelled;

const H: i64 = 3_600_000;

fn swap_of(a: &mut Acct, m: &FixedMarket, ticket: u64) -> f64 {
    a.positions(m)
        .iter()
        .find(|p| p.ticket == ticket)
        .unwrap()
        .swap
}

#[test]
fn live_positions_pay_swaps_at_server_midnight_and_the_closing_deal_realises_them() {
    let m = FixedMarket::new(); // EURUSD 1.09900/1.09910, USDJPY 108.178/108.183
    let mut a = Acct::new(RetailHedging, 10_000.0);
    // T0 is Wednesday 12:00 on the server's clock (UTC+2).
    let e = a.send(&m, &market("EURUSD", OrderType::Buy, 1.0)).order;
    let j = a.send(&m, &market("USDJPY", OrderType::Buy, 1.0)).order;
    a.tick(12 * H - 1_000); // 23:59:59 server: no rollover yet
    assert_eq!((swap_of(&mut a, &m, e), swap_of(&mut a, &m, j)), (0.0, 0.0));
    a.tick(2_000); // Thursday 00:00:01: Wednesday's night counts three days
                   // EURUSD long: −7.2 points × 0.00001 × 100000 × 1 lot = −7.20 USD a day, × 3.
    assert_eq!(swap_of(&mut a, &m, e), -21.60);
    // USDJPY long: 14.5 points × 0.001 × 100000 = 1450 JPY a day, converted at the price the
    // position closes at (bid 108.178): 13.4038 USD; × 3 = 40.21.
    assert_eq!(swap_of(&mut a, &m, j), 40.21);
    // Equity = balance + profit (−10.00 and −500 JPY / 108.178 = −4.62) + swaps.
    let mt = a.metrics(&m);
    assert_eq!(mt.balance, 10_000.0);
    assert_eq!(mt.equity, 10_003.99);
    // A partial close realises the whole accrued swap; the rest starts from zero.
    a.send(&m, &close("EURUSD", OrderType::Sell, 0.4, e));
    let d = a.deals.last().unwrap().clone();
    assert_eq!((d.entry, d.swap, d.profit), (DealEntry::Out, -21.60, -4.00));
    assert_eq!(swap_of(&mut a, &m, e), 0.0);
    assert_eq!(a.metrics(&m).balance, 10_000.0 - 4.00 - 21.60);
    // Thursday night (Friday 00:00): one day; 0.6 lot × −7.20 = −4.32; USDJPY +13.40.
    a.tick(24 * H);
    assert_eq!(swap_of(&mut a, &m, e), -4.32);
    assert_eq!(swap_of(&mut a, &m, j), 53.61);
    a.send(&m, &close("USDJPY", OrderType::Sell, 1.0, j));
    let d = a.deals.last().unwrap();
    assert_eq!((d.swap, d.profit, d.commission), (53.61, -4.62, 0.0));
    assert_eq!(a.metrics(&m).balance, 9_974.40 - 4.62 + 53.61);
}

#[test]
fn modelled_swap_modes_are_listed() {
    for mode in [
        SymbolSwapMode::Disabled,
        SymbolSwapMode::Points,
        SymbolSwapMode::CurrencySymbol,
        SymbolSwapMode::CurrencyMargin,
        SymbolSwapMode::CurrencyDeposit,
    ] {
        assert!(swap_mode_modelled(mode), "{mode:?}");
    }
    for mode in [
        SymbolSwapMode::InterestCurrent,
        SymbolSwapMode::InterestOpen,
        SymbolSwapMode::ReopenCurrent,
        SymbolSwapMode::ReopenBid,
        SymbolSwapMode::Unknown(55),
    ] {
        assert!(!swap_mode_modelled(mode), "{mode:?}");
    }
}

#[test]
fn money_swap_modes_charge_per_lot_in_their_currency() {
    // EURUSD with its swap in money: 5 EUR a lot (base currency) long, 3 USD (deposit) short.
    let m = FixedMarket::new().edit("EURUSD", |s| {
        s.swap_mode = SymbolSwapMode::CurrencySymbol;
        s.swap_long = -5.0;
    });
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let b = a.send(&m, &market("EURUSD", OrderType::Buy, 2.0)).order;
    a.now = T0 + 13 * H; // past Wednesday night: triple
                         // −5 EUR × 2 lots × 3 days = −30 EUR, at the symbol's own bid 1.09900: −32.97 USD.
    assert_eq!(swap_of(&mut a, &m, b), -32.97);
    let m = FixedMarket::new().edit("EURUSD", |s| {
        s.swap_mode = SymbolSwapMode::CurrencyDeposit;
        s.swap_short = 3.0;
    });
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let s = a.send(&m, &market("EURUSD", OrderType::Sell, 0.5)).order;
    a.now = T0 + 13 * H;
    assert_eq!(swap_of(&mut a, &m, s), 4.50);
    // A mode the engine does not model charges nothing.
    let m = FixedMarket::new().edit("EURUSD", |s| s.swap_mode = SymbolSwapMode::ReopenBid);
    let mut a = Acct::new(RetailHedging, 10_000.0);
    let r = a.send(&m, &market("EURUSD", OrderType::Buy, 1.0)).order;
    a.now = T0 + 13 * H;
    assert_eq!(swap_of(&mut a, &m, r), 0.0);
}

#[test]
fn a_reversal_and_a_close_by_realise_the_swap_of_what_they_close() {
    use mt5::AccountMarginMode::RetailNetting;
    use mt5::{TradeAction, TradeRequest};
    let m = FixedMarket::new(); // EURUSD 1.09900/1.09910
    let mut n = Acct::new(RetailNetting, 10_000.0);
    let p = n.send(&m, &market("EURUSD", OrderType::Buy, 1.0)).order;
    n.tick(13 * H); // Wednesday's night: 1 lot × −7.20 × 3
    assert_eq!(swap_of(&mut n, &m, p), -21.60);
    // Selling 2 lots reverses: the INOUT deal realises the long's swap; the short starts at 0.
    n.send(&m, &market("EURUSD", OrderType::Sell, 2.0));
    let d = n.deals.last().unwrap();
    assert_eq!(
        (d.entry, d.swap, d.profit),
        (DealEntry::InOut, -21.60, -10.0)
    );
    assert_eq!(swap_of(&mut n, &m, p), 0.0);
    n.tick(24 * H); // Thursday's night: the short 1 lot earns 2.1 points × 1 = +2.10
    assert_eq!(swap_of(&mut n, &m, p), 2.10);
    assert_eq!(n.metrics(&m).balance, 10_000.0 - 10.0 - 21.60);

    let mut h = Acct::new(RetailHedging, 10_000.0);
    let b = h.send(&m, &market("EURUSD", OrderType::Buy, 1.0)).order;
    let s = h.send(&m, &market("EURUSD", OrderType::Sell, 0.4)).order;
    h.tick(13 * H); // long −21.60, short 0.4 × 2.10 × 3 = +2.52
    assert_eq!(
        (swap_of(&mut h, &m, b), swap_of(&mut h, &m, s)),
        (-21.60, 2.52)
    );
    let by = TradeRequest {
        action: TradeAction::CloseBy,
        position: b,
        position_by: s,
        ..Default::default()
    };
    assert_eq!(h.send(&m, &by).retcode, mt5::retcode::DONE);
    // Two OUT_BY deals of 0.4 lot, each with its own position's swap; the long's 0.6 left
    // starts again from zero.
    let swaps: Vec<(u64, f64)> = h.deals[h.deals.len() - 2..]
        .iter()
        .map(|d| (d.position_id, d.swap))
        .collect();
    assert_eq!(swaps, vec![(b, -21.60), (s, 2.52)]);
    assert_eq!(swap_of(&mut h, &m, b), 0.0);
    // Close-by at the sell's price: the buy −0.40 × 100000 × 0.0001 = −4.00, the sell 0.
    assert_eq!(h.metrics(&m).balance, 10_000.0 - 4.0 - 21.60 + 2.52);
}
