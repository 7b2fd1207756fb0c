//! Small MT5 rules shared by every backend: symbol group masks and volume-step arithmetic.

/// Matches a symbol name against an MT5 `group` filter: comma-separated masks, `*` wildcard,
/// `!` negation, applied left to right (includes first, then excludes). `"*,!*EUR*"` = all but EUR.
pub fn group_matches(group: &str, symbol: &str) -> bool {
    let mut included = false;
    for raw in group.split(',') {
        let mask = raw.trim();
        if mask.is_empty() {
            continue;
        }
        if let Some(neg) = mask.strip_prefix('!') {
            if wildcard(neg, symbol) {
                included = false;
            }
        } else if wildcard(mask, symbol) {
            included = true;
        }
    }
    included
}

fn wildcard(mask: &str, s: &str) -> bool {
    let mask = mask.to_ascii_uppercase();
    let s = s.to_ascii_uppercase();
    let parts: Vec<&str> = mask.split('*').collect();
    if parts.len() == 1 {
        return mask == s;
    }
    let mut rest = s.as_str();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(pos) => rest = &rest[pos + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// Volume in integer units of `step` (rounded to the nearest unit), or `None` when `volume` is not
/// on the step grid within a tolerance of a millionth of a step. Comparing floats directly is how
/// 0.1 + 0.2 lots become "invalid volume".
pub fn volume_units(volume: f64, step: f64) -> Option<i64> {
    if !(volume.is_finite() && step.is_finite() && step > 0.0) {
        return None;
    }
    let units = volume / step;
    let rounded = units.round();
    if (units - rounded).abs() <= 1e-6 {
        Some(rounded as i64)
    } else {
        None
    }
}

/// Rounds a volume down to the step grid (never up), as risk sizing must.
pub fn volume_floor(volume: f64, step: f64) -> f64 {
    if !(volume.is_finite() && step > 0.0) || volume <= 0.0 {
        return 0.0;
    }
    let units = (volume / step + 1e-9).floor();
    normalize(units * step, step_digits(step))
}

/// Decimal places needed to print a step exactly (0.01 → 2, 1.0 → 0).
pub fn step_digits(step: f64) -> u32 {
    let mut d = 0;
    let mut s = step;
    while d < 10 && (s - s.round()).abs() > 1e-9 {
        s *= 10.0;
        d += 1;
    }
    d
}

/// Rounds a price to `digits` decimals, as MT5's NormalizeDouble does.
pub fn normalize(value: f64, digits: u32) -> f64 {
    let f = 10f64.powi(digits as i32);
    (value * f).round() / f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups() {
        assert!(group_matches("*", "EURUSD"));
        assert!(!group_matches("*,!*EUR*", "EURUSD"));
        assert!(group_matches("*,!*EUR*", "GBPUSD"));
        assert!(group_matches("*USD", "EURUSD"));
        assert!(!group_matches("*USD", "USDJPY"));
        assert!(group_matches("USD*", "USDJPY"));
        assert!(group_matches("EURUSD,GBPUSD", "gbpusd"));
        assert!(!group_matches("", "EURUSD"));
    }

    #[test]
    fn volume_steps() {
        assert_eq!(volume_units(0.1 + 0.2, 0.01), Some(30));
        assert_eq!(volume_units(0.015, 0.01), None);
        assert_eq!(volume_units(500.0, 0.01), Some(50000));
        assert_eq!(volume_units(f64::NAN, 0.01), None);
        assert_eq!(volume_floor(0.129, 0.01), 0.12);
        assert_eq!(volume_floor(0.3, 0.1), 0.3);
        assert_eq!(volume_floor(0.009, 0.01), 0.0);
        assert_eq!(step_digits(0.01), 2);
        assert_eq!(step_digits(1.0), 0);
        assert_eq!(normalize(1.234567, 5), 1.23457);
    }
}
