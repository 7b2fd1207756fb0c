use mt5::{RatesRange, Timeframe};
use mt5_sim::market::Market;
use mt5_sim::prices::PriceFeed;
use mt5_sim::symbols::builtin_symbols;
use std::time::Instant;

#[test]
fn explore() {
    let feed = PriceFeed::new(42, builtin_symbols(), 7200);
    let now = 1_732_500_000_000i64;
    for s in builtin_symbols() {
        let name = &s.info.name;
        // daily log returns over 10 years
        let mut rets = vec![];
        let mut minp = f64::MAX;
        let mut maxp = f64::MIN;
        let mut prev = feed.quote(name, now).unwrap().bid;
        for d in 1..3650i64 {
            let p = feed.quote(name, now - d * 86_400_000).unwrap().bid;
            rets.push((prev / p).ln());
            prev = p;
            minp = minp.min(p);
            maxp = maxp.max(p);
        }
        let var: f64 = rets.iter().map(|r| r * r).sum::<f64>() / rets.len() as f64;
        // per-second returns over an hour
        let mut r1 = vec![];
        let mut same = 0;
        let mut prev = feed.quote(name, now).unwrap().bid;
        for k in 1..3600i64 {
            let p = feed.quote(name, now + k * 1000).unwrap().bid;
            if p == prev {
                same += 1;
            }
            r1.push((p / prev).ln());
            prev = p;
        }
        let var1: f64 = r1.iter().map(|r| r * r).sum::<f64>() / r1.len() as f64;
        // hourly
        let mut rh = vec![];
        let mut prev = feed.quote(name, now).unwrap().bid;
        for k in 1..5000i64 {
            let p = feed.quote(name, now + k * 3_600_000).unwrap().bid;
            rh.push((p / prev).ln());
            prev = p;
        }
        let varh: f64 = rh.iter().map(|r| r * r).sum::<f64>() / rh.len() as f64;
        println!("{name}: base {} now {} min {minp} max {maxp} vol_d {:.3} vol_h {:.3} vol_s {:.3} same/3600 {same}", s.base_price, feed.quote(name, now).unwrap().bid,
            (var * 365.0).sqrt(), (varh * 365.0 * 24.0).sqrt(), (var1 * 365.0 * 86400.0).sqrt());
    }
    for (tf, n) in [
        (Timeframe::M1, 10_000u32),
        (Timeframe::H4, 10_000),
        (Timeframe::D1, 1000),
        (Timeframe::MN1, 1000),
    ] {
        let t = Instant::now();
        let r = feed
            .rates(
                "EURUSD",
                tf,
                RatesRange::FromPos { start: 0, count: n },
                now,
            )
            .unwrap();
        println!(
            "{tf:?} {} bars in {:?}; last {:?}",
            r.len(),
            t.elapsed(),
            r.last()
        );
    }
}
